//! SSE4.1 row kernels (x86_64). Each does the same integer arithmetic as
//! its scalar twin in [`super::scalar`] on 8 or 16 pixels at a time and
//! returns how many outputs it wrote; the scalar kernel does the rest.
//!
//! Safety: every function requires SSE4.1 (the caller checked it at run
//! time) and reads/writes only inside the slices it is given: loops run
//! while a whole vector of input and output is in bounds.

use std::arch::x86_64::*;

use super::super::opencv::Yuv;

/// Q20 YCbCr → RGB of 8 pixels: luma as i16 lanes, the chroma of their 4
/// pairs as i32 lanes (pixels 2k and 2k + 1 share pair k, as in YUYV and
/// along an NV12 row), into R, G, B i16 lanes: exactly `Yuv::rgb` before
/// the clamp, with the chroma products computed once per pair.
#[inline]
#[target_feature(enable = "sse4.1")]
fn yuv8(y: __m128i, u: __m128i, v: __m128i, m: &Yuv) -> [__m128i; 3] {
    let y = _mm_max_epi16(
        _mm_sub_epi16(y, _mm_set1_epi16(m.y_off as i16)),
        _mm_setzero_si128(),
    );
    let u = _mm_sub_epi32(u, _mm_set1_epi32(128));
    let v = _mm_sub_epi32(v, _mm_set1_epi32(128));
    let round = _mm_set1_epi32(1 << 19);
    let ruv = _mm_add_epi32(_mm_mullo_epi32(v, _mm_set1_epi32(m.cvr)), round);
    let guv = _mm_add_epi32(
        _mm_add_epi32(_mm_mullo_epi32(v, _mm_set1_epi32(m.cvg)), round),
        _mm_mullo_epi32(u, _mm_set1_epi32(m.cug)),
    );
    let buv = _mm_add_epi32(_mm_mullo_epi32(u, _mm_set1_epi32(m.cub)), round);
    let cy = _mm_set1_epi32(m.cy);
    let yy = [
        _mm_mullo_epi32(_mm_cvtepi16_epi32(y), cy),
        _mm_mullo_epi32(_mm_cvtepi16_epi32(_mm_srli_si128::<8>(y)), cy),
    ];
    [ruv, guv, buv].map(|c| {
        // Pairs 0, 1 → pixels 0..3; pairs 2, 3 → pixels 4..7.
        let lo = _mm_srai_epi32::<20>(_mm_add_epi32(yy[0], _mm_unpacklo_epi32(c, c)));
        let hi = _mm_srai_epi32::<20>(_mm_add_epi32(yy[1], _mm_unpackhi_epi32(c, c)));
        // |value| < 2^15: the saturating pack is exact.
        _mm_packs_epi32(lo, hi)
    })
}

/// Stores 16 pixels (two i16×8 halves per colour) as bytes, clamped.
#[inline]
#[target_feature(enable = "sse4.1")]
fn put16(lo: [__m128i; 3], hi: [__m128i; 3], r: &mut [u8], g: &mut [u8], b: &mut [u8], x: usize) {
    for (k, plane) in [r, g, b].into_iter().enumerate() {
        let v = _mm_packus_epi16(lo[k], hi[k]);
        // SAFETY: the callers run x + 16 <= plane.len().
        unsafe { _mm_storeu_si128(plane.as_mut_ptr().add(x).cast(), v) };
    }
}

#[target_feature(enable = "sse4.1")]
pub fn yuyv(src: &[u8], m: &Yuv, r: &mut [u8], g: &mut [u8], b: &mut [u8]) -> usize {
    let ym = _mm_setr_epi8(0, -1, 2, -1, 4, -1, 6, -1, 8, -1, 10, -1, 12, -1, 14, -1);
    let um = _mm_setr_epi8(1, -1, -1, -1, 5, -1, -1, -1, 9, -1, -1, -1, 13, -1, -1, -1);
    let vm = _mm_setr_epi8(3, -1, -1, -1, 7, -1, -1, -1, 11, -1, -1, -1, 15, -1, -1, -1);
    let n = r.len().min(src.len() / 2) / 16 * 16;
    let mut x = 0;
    while x < n {
        let mut halves = [[_mm_setzero_si128(); 3]; 2];
        for (h, out) in halves.iter_mut().enumerate() {
            // SAFETY: 2·(x + 16) <= src.len().
            let v = unsafe { _mm_loadu_si128(src.as_ptr().add(2 * x + 16 * h).cast()) };
            *out = yuv8(
                _mm_shuffle_epi8(v, ym),
                _mm_shuffle_epi8(v, um),
                _mm_shuffle_epi8(v, vm),
                m,
            );
        }
        put16(halves[0], halves[1], r, g, b, x);
        x += 16;
    }
    n
}

#[target_feature(enable = "sse4.1")]
pub fn nv12(y: &[u8], uv: &[u8], m: &Yuv, r: &mut [u8], g: &mut [u8], b: &mut [u8]) -> usize {
    let um = [
        _mm_setr_epi8(0, -1, -1, -1, 2, -1, -1, -1, 4, -1, -1, -1, 6, -1, -1, -1),
        _mm_setr_epi8(
            8, -1, -1, -1, 10, -1, -1, -1, 12, -1, -1, -1, 14, -1, -1, -1,
        ),
    ];
    let vm = [
        _mm_setr_epi8(1, -1, -1, -1, 3, -1, -1, -1, 5, -1, -1, -1, 7, -1, -1, -1),
        _mm_setr_epi8(
            9, -1, -1, -1, 11, -1, -1, -1, 13, -1, -1, -1, 15, -1, -1, -1,
        ),
    ];
    let n = r.len().min(y.len()).min(uv.len()) / 16 * 16;
    let mut x = 0;
    while x < n {
        // SAFETY: x + 16 <= y.len() and uv.len().
        let (yv, c) = unsafe {
            (
                _mm_loadu_si128(y.as_ptr().add(x).cast()),
                _mm_loadu_si128(uv.as_ptr().add(x).cast()),
            )
        };
        let ys = [
            _mm_cvtepu8_epi16(yv),
            _mm_cvtepu8_epi16(_mm_srli_si128::<8>(yv)),
        ];
        let lo = yuv8(
            ys[0],
            _mm_shuffle_epi8(c, um[0]),
            _mm_shuffle_epi8(c, vm[0]),
            m,
        );
        let hi = yuv8(
            ys[1],
            _mm_shuffle_epi8(c, um[1]),
            _mm_shuffle_epi8(c, vm[1]),
            m,
        );
        put16(lo, hi, r, g, b, x);
        x += 16;
    }
    n
}

#[target_feature(enable = "sse4.1")]
pub fn area2(a: &[u8], b: &[u8], out: &mut [u8]) -> usize {
    let n = out.len().min(a.len() / 2).min(b.len() / 2) / 16 * 16;
    let ones = _mm_set1_epi8(1);
    let two = _mm_set1_epi16(2);
    let mut i = 0;
    while i < n {
        let mut h = [_mm_setzero_si128(); 2];
        for (k, s) in h.iter_mut().enumerate() {
            let o = 2 * i + 16 * k;
            // SAFETY: 2·(i + 16) <= a.len() and b.len().
            let (x, y) = unsafe {
                (
                    _mm_loadu_si128(a.as_ptr().add(o).cast()),
                    _mm_loadu_si128(b.as_ptr().add(o).cast()),
                )
            };
            let sum = _mm_add_epi16(_mm_maddubs_epi16(x, ones), _mm_maddubs_epi16(y, ones));
            *s = _mm_srli_epi16::<2>(_mm_add_epi16(sum, two));
        }
        // SAFETY: i + 16 <= out.len().
        unsafe { _mm_storeu_si128(out.as_mut_ptr().add(i).cast(), _mm_packus_epi16(h[0], h[1])) };
        i += 16;
    }
    n
}

#[target_feature(enable = "sse4.1")]
pub fn vresize(s0: &[i32], s1: &[i32], w: [i16; 2], out: &mut [u8]) -> usize {
    let n = out.len().min(s0.len()).min(s1.len()) / 8 * 8;
    let (b0, b1) = (_mm_set1_epi16(w[0]), _mm_set1_epi16(w[1]));
    let two = _mm_set1_epi16(2);
    let mut i = 0;
    while i < n {
        let row = |s: &[i32]| {
            // SAFETY: i + 8 <= s.len(); (S >> 4) <= 32640 packs exactly.
            unsafe {
                let a = _mm_loadu_si128(s.as_ptr().add(i).cast());
                let b = _mm_loadu_si128(s.as_ptr().add(i + 4).cast());
                _mm_packs_epi32(_mm_srai_epi32::<4>(a), _mm_srai_epi32::<4>(b))
            }
        };
        // mulhi: (b·x) >> 16, the floor the scalar shift takes.
        let t = _mm_add_epi16(_mm_mulhi_epi16(row(s0), b0), _mm_mulhi_epi16(row(s1), b1));
        let t = _mm_srai_epi16::<2>(_mm_add_epi16(t, two));
        // SAFETY: i + 8 <= out.len().
        unsafe { _mm_storel_epi64(out.as_mut_ptr().add(i).cast(), _mm_packus_epi16(t, t)) };
        i += 8;
    }
    n
}

/// Byte `i` of output chunk `chunk` (of three 16-byte chunks holding 16
/// RGB pixels) taken from `plane`'s pixel, or zero (`-1`).
const fn mask(chunk: usize, plane: usize) -> [i8; 16] {
    let mut m = [-1i8; 16];
    let mut i = 0;
    while i < 16 {
        let j = chunk * 16 + i;
        if j % 3 == plane {
            m[i] = (j / 3) as i8;
        }
        i += 1;
    }
    m
}

const MASKS: [[[i8; 16]; 3]; 3] = {
    let mut m = [[[0i8; 16]; 3]; 3];
    let mut c = 0;
    while c < 3 {
        let mut p = 0;
        while p < 3 {
            m[c][p] = mask(c, p);
            p += 1;
        }
        c += 1;
    }
    m
};

#[target_feature(enable = "sse4.1")]
pub fn store(r: &[u8], g: &[u8], b: &[u8], xor: u8, out: &mut [u8]) -> usize {
    let n = r.len().min(g.len()).min(b.len()).min(out.len() / 3) / 16 * 16;
    // SAFETY: MASKS holds 9 × 16 bytes.
    let masks: [[__m128i; 3]; 3] =
        MASKS.map(|c| c.map(|m| unsafe { _mm_loadu_si128(m.as_ptr().cast()) }));
    let x = _mm_set1_epi8(xor as i8);
    let mut i = 0;
    while i < n {
        // SAFETY: i + 16 <= each plane's length, 3·(i + 16) <= out.len().
        unsafe {
            let p = [
                _mm_loadu_si128(r.as_ptr().add(i).cast()),
                _mm_loadu_si128(g.as_ptr().add(i).cast()),
                _mm_loadu_si128(b.as_ptr().add(i).cast()),
            ];
            for (c, m) in masks.iter().enumerate() {
                let v = _mm_or_si128(
                    _mm_or_si128(_mm_shuffle_epi8(p[0], m[0]), _mm_shuffle_epi8(p[1], m[1])),
                    _mm_shuffle_epi8(p[2], m[2]),
                );
                _mm_storeu_si128(
                    out.as_mut_ptr().add(3 * i + 16 * c).cast(),
                    _mm_xor_si128(v, x),
                );
            }
        }
        i += 16;
    }
    n
}
