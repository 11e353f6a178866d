//! The scalar row kernels: the reference the SIMD kernels are tested
//! against, and the fallback on CPUs without them. Each works on planar
//! rows (one plane per colour); see [`super`] for the contract of each.

use super::super::opencv::{vlerp, Tap, Yuv};
use super::Store;

pub fn yuyv(src: &[u8], m: &Yuv, r: &mut [u8], g: &mut [u8], b: &mut [u8], from: usize) {
    for x in from..r.len() {
        let p = (x / 2) * 4;
        let [pr, pg, pb] = m.rgb(src[p + (x & 1) * 2], src[p + 1], src[p + 3]);
        (r[x], g[x], b[x]) = (pr, pg, pb);
    }
}

pub fn nv12(y: &[u8], uv: &[u8], m: &Yuv, r: &mut [u8], g: &mut [u8], b: &mut [u8], from: usize) {
    for x in from..r.len() {
        let c = (x / 2) * 2;
        let [pr, pg, pb] = m.rgb(y[x], uv[c], uv[c + 1]);
        (r[x], g[x], b[x]) = (pr, pg, pb);
    }
}

pub fn rgb(src: &[u8], r: &mut [u8], g: &mut [u8], b: &mut [u8]) {
    for (x, p) in src.chunks_exact(3).take(r.len()).enumerate() {
        (r[x], g[x], b[x]) = (p[0], p[1], p[2]);
    }
}

pub fn area2(a: &[u8], b: &[u8], out: &mut [u8], from: usize) {
    for (i, o) in out.iter_mut().enumerate().skip(from) {
        let s = u16::from(a[2 * i]) + u16::from(a[2 * i + 1]);
        let s = s + u16::from(b[2 * i]) + u16::from(b[2 * i + 1]);
        *o = ((s + 2) >> 2) as u8;
    }
}

pub fn hresize(row: &[u8], cols: &[Tap], out: &mut [i32]) {
    for (o, t) in out.iter_mut().zip(cols) {
        *o = i32::from(row[t.s0 as usize]) * i32::from(t.w[0])
            + i32::from(row[t.s1 as usize]) * i32::from(t.w[1]);
    }
}

pub fn hresize_rgb(row: &[u8], cols: &[Tap], out: &mut [i32]) {
    let n = cols.len();
    let (r, rest) = out.split_at_mut(n);
    let (g, b) = rest.split_at_mut(n);
    for (i, t) in cols.iter().enumerate() {
        let (p0, p1) = (3 * t.s0 as usize, 3 * t.s1 as usize);
        let (w0, w1) = (i32::from(t.w[0]), i32::from(t.w[1]));
        let tap = |k: usize| i32::from(row[p0 + k]) * w0 + i32::from(row[p1 + k]) * w1;
        (r[i], g[i], b[i]) = (tap(0), tap(1), tap(2));
    }
}

pub fn vresize(s0: &[i32], s1: &[i32], w: [i16; 2], out: &mut [u8], from: usize) {
    for i in from..out.len() {
        out[i] = vlerp(s0[i], s1[i], w);
    }
}

pub fn store(r: &[u8], g: &[u8], b: &[u8], map: &Store, out: &mut [u8], from: usize) {
    match map {
        Store::Copy | Store::Xor80 => {
            let x = if matches!(map, Store::Xor80) { 0x80 } else { 0 };
            for i in from..r.len() {
                out[3 * i] = r[i] ^ x;
                out[3 * i + 1] = g[i] ^ x;
                out[3 * i + 2] = b[i] ^ x;
            }
        }
        Store::Table(t) => {
            for i in from..r.len() {
                out[3 * i] = t[usize::from(r[i])];
                out[3 * i + 1] = t[usize::from(g[i])];
                out[3 * i + 2] = t[usize::from(b[i])];
            }
        }
        Store::Float(t) => {
            for i in from..r.len() {
                for (k, p) in [r[i], g[i], b[i]].into_iter().enumerate() {
                    let o = 12 * i + 4 * k;
                    out[o..o + 4].copy_from_slice(&t[usize::from(p)].to_ne_bytes());
                }
            }
        }
    }
}
