//! NEON row kernels (aarch64, where Advanced SIMD is always present). Each
//! does the same integer arithmetic as its scalar twin in
//! [`super::scalar`] on 16 pixels at a time and returns how many outputs it
//! wrote; the scalar kernel does the rest. Loads and stores stay inside the
//! slices given: loops run while a whole vector is in bounds.

use std::arch::aarch64::*;

use super::super::opencv::Yuv;

/// Q20 YCbCr → RGB of 8 pixels (i16 lanes) to clamped bytes.
#[inline(always)]
fn yuv8(y: int16x8_t, u: int16x8_t, v: int16x8_t, m: &Yuv) -> [uint8x8_t; 3] {
    // SAFETY: NEON is part of the aarch64 baseline.
    unsafe {
        let y = vmaxq_s16(vsubq_s16(y, vdupq_n_s16(m.y_off as i16)), vdupq_n_s16(0));
        let u = vsubq_s16(u, vdupq_n_s16(128));
        let v = vsubq_s16(v, vdupq_n_s16(128));
        let half = |y: int16x4_t, u: int16x4_t, v: int16x4_t| {
            let (y, u, v) = (vmovl_s16(y), vmovl_s16(u), vmovl_s16(v));
            let yy = vaddq_s32(vmulq_n_s32(y, m.cy), vdupq_n_s32(1 << 19));
            [
                vshrq_n_s32::<20>(vmlaq_n_s32(yy, v, m.cvr)),
                vshrq_n_s32::<20>(vmlaq_n_s32(vmlaq_n_s32(yy, v, m.cvg), u, m.cug)),
                vshrq_n_s32::<20>(vmlaq_n_s32(yy, u, m.cub)),
            ]
        };
        let lo = half(vget_low_s16(y), vget_low_s16(u), vget_low_s16(v));
        let hi = half(vget_high_s16(y), vget_high_s16(u), vget_high_s16(v));
        // |value| < 2^15: the narrowing is exact, then clamp to bytes.
        [0, 1, 2].map(|k| vqmovun_s16(vcombine_s16(vmovn_s32(lo[k]), vmovn_s32(hi[k]))))
    }
}

fn put16(e: [uint8x8_t; 3], o: [uint8x8_t; 3], r: &mut [u8], g: &mut [u8], b: &mut [u8], x: usize) {
    for (k, plane) in [r, g, b].into_iter().enumerate() {
        assert!(x + 16 <= plane.len());
        // SAFETY: bounds checked above; even/odd pixels interleaved back.
        unsafe {
            let v = vcombine_u8(vzip1_u8(e[k], o[k]), vzip2_u8(e[k], o[k]));
            vst1q_u8(plane.as_mut_ptr().add(x), v);
        }
    }
}

fn s16(v: uint8x8_t) -> int16x8_t {
    // SAFETY: NEON baseline.
    unsafe { vreinterpretq_s16_u16(vmovl_u8(v)) }
}

pub fn yuyv(src: &[u8], m: &Yuv, r: &mut [u8], g: &mut [u8], b: &mut [u8]) -> usize {
    let n = r.len().min(src.len() / 2) / 16 * 16;
    let mut x = 0;
    while x < n {
        // SAFETY: 2·(x + 16) <= src.len(): 8 groups Y0 U Y1 V.
        let q = unsafe { vld4_u8(src.as_ptr().add(2 * x)) };
        let (u, v) = (s16(q.1), s16(q.3));
        let e = yuv8(s16(q.0), u, v, m);
        let o = yuv8(s16(q.2), u, v, m);
        put16(e, o, r, g, b, x);
        x += 16;
    }
    n
}

pub fn nv12(y: &[u8], uv: &[u8], m: &Yuv, r: &mut [u8], g: &mut [u8], b: &mut [u8]) -> usize {
    let n = r.len().min(y.len()).min(uv.len()) / 16 * 16;
    let mut x = 0;
    while x < n {
        // SAFETY: x + 16 <= y.len() and uv.len(); even and odd luma share
        // the chroma pair.
        let (ye, u, v) = unsafe {
            let yq = vld2_u8(y.as_ptr().add(x));
            let c = vld2_u8(uv.as_ptr().add(x));
            ((yq.0, yq.1), s16(c.0), s16(c.1))
        };
        let e = yuv8(s16(ye.0), u, v, m);
        let o = yuv8(s16(ye.1), u, v, m);
        put16(e, o, r, g, b, x);
        x += 16;
    }
    n
}

pub fn area2(a: &[u8], b: &[u8], out: &mut [u8]) -> usize {
    let n = out.len().min(a.len() / 2).min(b.len() / 2) / 16 * 16;
    let mut i = 0;
    while i < n {
        // SAFETY: 2·(i + 16) <= a.len(), b.len(); i + 16 <= out.len().
        unsafe {
            let mut h = [vdup_n_u8(0); 2];
            for (k, s) in h.iter_mut().enumerate() {
                let o = 2 * i + 16 * k;
                let sum = vpadalq_u8(
                    vpaddlq_u8(vld1q_u8(a.as_ptr().add(o))),
                    vld1q_u8(b.as_ptr().add(o)),
                );
                *s = vrshrn_n_u16::<2>(sum); // (sum + 2) >> 2
            }
            vst1q_u8(out.as_mut_ptr().add(i), vcombine_u8(h[0], h[1]));
        }
        i += 16;
    }
    n
}

pub fn vresize(s0: &[i32], s1: &[i32], w: [i16; 2], out: &mut [u8]) -> usize {
    let n = out.len().min(s0.len()).min(s1.len()) / 8 * 8;
    let mut i = 0;
    while i < n {
        // SAFETY: i + 8 <= each slice's length.
        unsafe {
            let term = |s: &[i32], b: i16, k: usize| {
                let x = vmovn_s32(vshrq_n_s32::<4>(vld1q_s32(s.as_ptr().add(i + k))));
                vshrq_n_s32::<16>(vmull_n_s16(x, b)) // floor((b·x) / 2^16)
            };
            let t = [0, 4].map(|k| {
                let sum = vaddq_s32(term(s0, w[0], k), term(s1, w[1], k));
                vshrq_n_s32::<2>(vaddq_s32(sum, vdupq_n_s32(2)))
            });
            let q = vcombine_s16(vmovn_s32(t[0]), vmovn_s32(t[1]));
            vst1_u8(out.as_mut_ptr().add(i), vqmovun_s16(q));
        }
        i += 8;
    }
    n
}

pub fn store(r: &[u8], g: &[u8], b: &[u8], xor: u8, out: &mut [u8]) -> usize {
    let n = r.len().min(g.len()).min(b.len()).min(out.len() / 3) / 16 * 16;
    let mut i = 0;
    while i < n {
        // SAFETY: i + 16 <= each plane's length, 3·(i + 16) <= out.len().
        unsafe {
            let x = vdupq_n_u8(xor);
            let v = uint8x16x3_t(
                veorq_u8(vld1q_u8(r.as_ptr().add(i)), x),
                veorq_u8(vld1q_u8(g.as_ptr().add(i)), x),
                veorq_u8(vld1q_u8(b.as_ptr().add(i)), x),
            );
            vst3q_u8(out.as_mut_ptr().add(3 * i), v);
        }
        i += 16;
    }
    n
}
