//! Row kernels of the fused converter, on planar rows (one plane per
//! colour), each in a scalar version ([`scalar`], the reference and the
//! fallback) and vectorised ones: SSE4.1 on x86_64 (runtime-detected) and
//! NEON on aarch64 (always present there). 32-bit ARM runs the scalar
//! kernels: stable Rust has no NEON intrinsics for it. Every SIMD kernel
//! gives the scalar kernel's bytes (property tests below); SIMD kernels do
//! the bulk and return how far they got, the scalar one finishes the row.
//!
//! - `yuyv` / `nv12`: one source row to R, G, B planes with OpenCV's
//!   integer BT.601 formula ([`super::opencv::Yuv`]);
//! - `area2`: one output row of the exact 2:1 reduction from two plane rows;
//! - `vresize`: the vertical pass of `INTER_LINEAR` over Q11 row sums;
//! - `store`: planes interleaved into RGB and quantized into the tensor.
//!
//! The horizontal pass (`hresize`) gathers two taps per output and stays
//! scalar everywhere.

#[cfg(target_arch = "aarch64")]
mod neon;
mod scalar;
#[cfg(target_arch = "x86_64")]
mod x86;

use super::opencv::{Tap, Yuv};
use super::InputMap;

/// How row bytes become tensor elements.
// Built once per pipeline; the size difference between variants is moot.
#[allow(clippy::large_enum_variant)]
#[derive(Clone)]
pub enum Store {
    /// uint8 input taking pixels as they are.
    Copy,
    /// int8 input with scale 1/255 and zero point −128: `p ^ 0x80`.
    Xor80,
    /// Any other one-byte quantization.
    Table([u8; 256]),
    /// float32 input.
    Float([f32; 256]),
}

impl Store {
    pub fn new(map: &InputMap) -> Self {
        match map {
            InputMap::Bytes { identity: true, .. } => Store::Copy,
            InputMap::Bytes { table, .. } => {
                if table
                    .iter()
                    .enumerate()
                    .all(|(i, &v)| v == (i as u8) ^ 0x80)
                {
                    Store::Xor80
                } else {
                    Store::Table(*table)
                }
            }
            InputMap::Float { table } => Store::Float(*table),
        }
    }
}

/// The instruction set the kernels run on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Isa {
    Scalar,
    /// x86_64 with SSE4.1 (runtime-detected).
    Sse41,
    /// aarch64 Advanced SIMD.
    Neon,
}

/// Kernels bound to one instruction set.
#[derive(Debug, Clone, Copy)]
pub struct Kernels {
    isa: Isa,
}

/// Three planes of one row.
pub struct Planes<'a> {
    pub r: &'a mut [u8],
    pub g: &'a mut [u8],
    pub b: &'a mut [u8],
}

impl Kernels {
    /// The best instruction set this CPU has.
    pub fn detect() -> Self {
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("sse4.1") {
            return Self { isa: Isa::Sse41 };
        }
        #[cfg(target_arch = "aarch64")]
        return Self { isa: Isa::Neon };
        #[allow(unreachable_code)]
        Self::scalar()
    }

    /// The scalar reference kernels.
    pub fn scalar() -> Self {
        Self { isa: Isa::Scalar }
    }

    pub fn isa(&self) -> Isa {
        self.isa
    }

    /// YUYV row (`src` holds `ceil(w/2)·4` bytes) to planes of width `w`.
    pub fn yuyv(&self, src: &[u8], m: &Yuv, p: Planes<'_>) {
        let from = match self.isa {
            #[cfg(target_arch = "x86_64")]
            // SAFETY: Sse41 is only chosen when the CPU has SSE4.1.
            Isa::Sse41 => unsafe { x86::yuyv(src, m, p.r, p.g, p.b) },
            #[cfg(target_arch = "aarch64")]
            Isa::Neon => neon::yuyv(src, m, p.r, p.g, p.b),
            _ => 0,
        };
        scalar::yuyv(src, m, p.r, p.g, p.b, from);
    }

    /// NV12 row: luma `y` (`w` bytes) and its chroma row `uv`.
    pub fn nv12(&self, y: &[u8], uv: &[u8], m: &Yuv, p: Planes<'_>) {
        let from = match self.isa {
            #[cfg(target_arch = "x86_64")]
            // SAFETY: as in `yuyv`.
            Isa::Sse41 => unsafe { x86::nv12(y, uv, m, p.r, p.g, p.b) },
            #[cfg(target_arch = "aarch64")]
            Isa::Neon => neon::nv12(y, uv, m, p.r, p.g, p.b),
            _ => 0,
        };
        scalar::nv12(y, uv, m, p.r, p.g, p.b, from);
    }

    /// Packed RGB row to planes.
    pub fn rgb(&self, src: &[u8], p: Planes<'_>) {
        scalar::rgb(src, p.r, p.g, p.b);
    }

    /// Grey row: the same bytes in all three planes (OpenCV's GRAY2RGB).
    pub fn grey(&self, src: &[u8], p: Planes<'_>) {
        let n = p.r.len();
        p.r.copy_from_slice(&src[..n]);
        p.g.copy_from_slice(&src[..n]);
        p.b.copy_from_slice(&src[..n]);
    }

    /// `out[i] = (a[2i] + a[2i+1] + b[2i] + b[2i+1] + 2) >> 2`.
    pub fn area2(&self, a: &[u8], b: &[u8], out: &mut [u8]) {
        let from = match self.isa {
            #[cfg(target_arch = "x86_64")]
            // SAFETY: as in `yuyv`.
            Isa::Sse41 => unsafe { x86::area2(a, b, out) },
            #[cfg(target_arch = "aarch64")]
            Isa::Neon => neon::area2(a, b, out),
            _ => 0,
        };
        scalar::area2(a, b, out, from);
    }

    /// Horizontal pass: Q11 sums of the two taps of each output.
    pub fn hresize(&self, row: &[u8], cols: &[Tap], out: &mut [i32]) {
        scalar::hresize(row, cols, out);
    }

    /// Horizontal pass straight from a packed RGB row into three planes of
    /// sums (`out` holds `3 · cols.len()`).
    pub fn hresize_rgb(&self, row: &[u8], cols: &[Tap], out: &mut [i32]) {
        scalar::hresize_rgb(row, cols, out);
    }

    /// Vertical pass over two rows of Q11 sums with weights `w`.
    pub fn vresize(&self, s0: &[i32], s1: &[i32], w: [i16; 2], out: &mut [u8]) {
        let from = match self.isa {
            #[cfg(target_arch = "x86_64")]
            // SAFETY: as in `yuyv`.
            Isa::Sse41 => unsafe { x86::vresize(s0, s1, w, out) },
            #[cfg(target_arch = "aarch64")]
            Isa::Neon => neon::vresize(s0, s1, w, out),
            _ => 0,
        };
        scalar::vresize(s0, s1, w, out, from);
    }

    /// Interleaves planes `r`, `g`, `b` into `out` through `map`.
    pub fn store(&self, r: &[u8], g: &[u8], b: &[u8], map: &Store, out: &mut [u8]) {
        let from = match (self.isa, map) {
            #[cfg(target_arch = "x86_64")]
            // SAFETY: as in `yuyv`.
            (Isa::Sse41, Store::Copy) => unsafe { x86::store(r, g, b, 0, out) },
            #[cfg(target_arch = "x86_64")]
            // SAFETY: as in `yuyv`.
            (Isa::Sse41, Store::Xor80) => unsafe { x86::store(r, g, b, 0x80, out) },
            #[cfg(target_arch = "aarch64")]
            (Isa::Neon, Store::Copy) => neon::store(r, g, b, 0, out),
            #[cfg(target_arch = "aarch64")]
            (Isa::Neon, Store::Xor80) => neon::store(r, g, b, 0x80, out),
            _ => 0,
        };
        scalar::store(r, g, b, map, out, from);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::YuvEncoding;
    use proptest::prelude::*;

    fn planes(buf: &mut [u8], w: usize) -> Planes<'_> {
        let (r, rest) = buf.split_at_mut(w);
        let (g, b) = rest.split_at_mut(w);
        Planes { r, g, b }
    }

    fn enc(i: u8) -> YuvEncoding {
        [
            YuvEncoding::Bt601Limited,
            YuvEncoding::Bt601Full,
            YuvEncoding::Bt709Limited,
            YuvEncoding::Bt709Full,
        ][usize::from(i % 4)]
    }

    #[test]
    fn the_vector_kernels_are_the_ones_this_cpu_runs() {
        let isa = Kernels::detect().isa();
        if cfg!(target_arch = "aarch64") {
            assert_eq!(isa, Isa::Neon);
        }
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("sse4.1") {
            assert_eq!(isa, Isa::Sse41);
        }
        println!("row kernels: {isa:?}");
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]

        #[test]
        fn yuv_rows_equal_scalar(w in 1usize..200, e in 0u8..4, bytes in prop::collection::vec(any::<u8>(), 1200)) {
            let (k, s) = (Kernels::detect(), Kernels::scalar());
            let m = crate::preprocess::opencv::Yuv::new(enc(e));
            let src = &bytes[..w.div_ceil(2) * 4];
            let (mut a, mut b) = (vec![0u8; 3 * w], vec![1u8; 3 * w]);
            k.yuyv(src, &m, planes(&mut a, w));
            s.yuyv(src, &m, planes(&mut b, w));
            prop_assert_eq!(&a, &b);
            let (y, uv) = bytes.split_at(w);
            k.nv12(y, &uv[..w.div_ceil(2) * 2], &m, planes(&mut a, w));
            s.nv12(y, &uv[..w.div_ceil(2) * 2], &m, planes(&mut b, w));
            prop_assert_eq!(&a, &b);
        }

        #[test]
        fn area_vertical_and_store_equal_scalar(
            n in 1usize..300,
            b0 in 0i16..=2048,
            bytes in prop::collection::vec(any::<u8>(), 1200),
            sums in prop::collection::vec(0i32..=255 * 2048, 600),
            table in prop::collection::vec(any::<u8>(), 256),
        ) {
            let (k, s) = (Kernels::detect(), Kernels::scalar());
            let (mut x, mut y) = (vec![0u8; n], vec![1u8; n]);
            let (a, b) = bytes.split_at(600);
            k.area2(&a[..2 * n], &b[..2 * n], &mut x);
            s.area2(&a[..2 * n], &b[..2 * n], &mut y);
            prop_assert_eq!(&x, &y);
            let (s0, s1) = sums.split_at(300);
            let w = [b0, 2048 - b0];
            k.vresize(&s0[..n], &s1[..n], w, &mut x);
            s.vresize(&s0[..n], &s1[..n], w, &mut y);
            prop_assert_eq!(&x, &y);
            let t: [u8; 256] = table.try_into().unwrap();
            for map in [Store::Copy, Store::Xor80, Store::Table(t)] {
                let (mut o1, mut o2) = (vec![0u8; 3 * n], vec![1u8; 3 * n]);
                k.store(&a[..n], &a[n..2 * n], &b[..n], &map, &mut o1);
                s.store(&a[..n], &a[n..2 * n], &b[..n], &map, &mut o2);
                prop_assert_eq!(&o1, &o2);
            }
        }
    }
}
