//! Fused letterbox for camera frames and decoded images: colour conversion
//! (YUYV, NV12, GREY, RGB24), OpenCV's `INTER_LINEAR` resize and the
//! model's quantization in one pass over the frame buffer, with no
//! full-frame copy and no allocation per frame.
//!
//! The result is byte for byte `cv2.cvtColor` (to RGB) followed by
//! `cv2.resize(..., INTER_LINEAR)` ([`super::opencv`] says how): each
//! source row the resize reads is converted once into planar R, G, B rows,
//! run through the horizontal pass into Q11 sums (two rows kept, as
//! OpenCV's ring buffer), and the vertical pass writes the output row,
//! which is interleaved and quantized into the tensor. An exact 2:1
//! reduction (640×480 into 320) takes OpenCV's 2×2 average instead. The
//! row kernels are vectorised ([`super::kernels`]).

use super::kernels::{Kernels, Planes, Store};
use super::opencv::{self, Tap, Yuv};
use super::InputMap;
use crate::frame::{Frame, PixelFormat, YuvEncoding};

/// The geometry the tables were built for.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Key {
    format: PixelFormat,
    src_w: u32,
    src_h: u32,
    stride: usize,
    new_w: u32,
    new_h: u32,
}

/// Two cached rows, tagged with the source row they hold.
struct Ring<T> {
    rows: [Vec<T>; 2],
    tag: [Option<u32>; 2],
}

impl<T: Clone + Default> Ring<T> {
    fn new() -> Self {
        Self {
            rows: [Vec::new(), Vec::new()],
            tag: [None, None],
        }
    }

    fn resize(&mut self, n: usize) {
        for r in &mut self.rows {
            r.clear();
            r.resize(n, T::default());
        }
        self.tag = [None, None];
    }

    /// The slot holding `row`, or `None` with the slot to fill (never
    /// `keep`).
    fn find(&self, row: u32, keep: Option<usize>) -> Result<usize, usize> {
        if let Some(i) = self.tag.iter().position(|&t| t == Some(row)) {
            return Ok(i);
        }
        Err(match keep {
            Some(k) => 1 - k,
            None => usize::from(self.tag[0].is_some() && self.tag[1].is_none()),
        })
    }
}

/// One frame's source: its bytes and layout.
pub(super) struct Src<'a> {
    px: &'a [u8],
    format: PixelFormat,
    stride: usize,
    w: usize,
    h: usize,
    yuv: Yuv,
}

impl<'a> Src<'a> {
    /// The source of a whole (checked) frame; also the full-size RGB
    /// conversion of [`super::rgb`].
    pub(super) fn new(frame: &Frame<'a>) -> Self {
        Self {
            px: frame.pixels,
            format: frame.format,
            stride: frame.stride,
            w: frame.width as usize,
            h: frame.height as usize,
            yuv: Yuv::new(frame.yuv),
        }
    }

    /// Converts source row `y` into three planes of `w` bytes in `out`.
    pub(super) fn convert(&self, k: &Kernels, y: usize, out: &mut [u8]) {
        let (r, rest) = out.split_at_mut(self.w);
        let (g, b) = rest.split_at_mut(self.w);
        let p = Planes { r, g, b };
        let row = &self.px[y * self.stride..];
        match self.format {
            PixelFormat::Yuyv => k.yuyv(&row[..self.w.div_ceil(2) * 4], &self.yuv, p),
            PixelFormat::Nv12 => {
                let uv = &self.px[self.stride * (self.h + y / 2)..];
                k.nv12(&row[..self.w], &uv[..self.w.div_ceil(2) * 2], &self.yuv, p)
            }
            PixelFormat::Rgb24 => k.rgb(&row[..self.w * 3], p),
            PixelFormat::Grey | PixelFormat::Mjpeg => k.grey(&row[..self.w], p),
        }
    }
}

/// The fused converter; tables are rebuilt only when the geometry changes.
pub struct Fused {
    key: Option<Key>,
    kernels: Kernels,
    cols: Vec<Tap>,
    rows: Vec<Tap>,
    /// Converted source rows (3 planes of `src_w`).
    conv: Ring<u8>,
    /// Horizontal sums (3 planes of `new_w`).
    sums: Ring<i32>,
    /// One output row, planar.
    out: Vec<u8>,
    pad_row: Vec<u8>,
    store: Option<Store>,
}

impl Fused {
    /// A converter for model inputs at most `dst_w`×`dst_h`, on the best
    /// kernels this CPU has.
    pub fn new(dst_w: u32, dst_h: u32) -> Self {
        Self::with_kernels(dst_w, dst_h, Kernels::detect())
    }

    /// A converter on the given kernels (the scalar ones for reference).
    pub fn with_kernels(dst_w: u32, dst_h: u32, kernels: Kernels) -> Self {
        Self {
            key: None,
            kernels,
            cols: Vec::with_capacity(dst_w as usize),
            rows: Vec::with_capacity(dst_h as usize),
            conv: Ring::new(),
            sums: Ring::new(),
            out: vec![0; dst_w as usize * 3],
            pad_row: Vec::new(),
            store: None,
        }
    }

    fn build(&mut self, key: Key) {
        opencv::taps(key.src_w, key.new_w, true, &mut self.cols);
        opencv::taps(key.src_h, key.new_h, false, &mut self.rows);
        self.conv.resize(key.src_w as usize * 3);
        self.sums.resize(key.new_w as usize * 3);
        self.key = Some(key);
    }

    /// Letterboxes one frame into `input` (the model tensor, `dst_w`×`dst_h`
    /// RGB in `map`'s element type): the resized image at (`left`, `top`)
    /// with size `new_w`×`new_h`, the rest filled with `pad`.
    ///
    /// The caller has checked that `src` holds a whole frame of `format`
    /// with `stride` (see [`PixelFormat::frame_len`]).
    #[allow(clippy::too_many_arguments)]
    pub fn letterbox(
        &mut self,
        src: &[u8],
        format: PixelFormat,
        stride: usize,
        yuv: YuvEncoding,
        (src_w, src_h): (u32, u32),
        lb: &super::Letterbox,
        pad: u8,
        map: &InputMap,
        input: &mut [u8],
    ) {
        let key = Key {
            format,
            src_w,
            src_h,
            stride,
            new_w: lb.new_w,
            new_h: lb.new_h,
        };
        if self.key != Some(key) {
            self.build(key);
        }
        let es = map.element_size();
        let pitch = lb.dst_w as usize * 3 * es;
        if self.pad_row.len() != pitch || self.store.is_none() {
            // Once per model.
            self.pad_row.resize(pitch, 0);
            map.map_row(&vec![pad; lb.dst_w as usize * 3], &mut self.pad_row);
            self.store = Some(Store::new(map));
        }
        let src = Src {
            px: src,
            format,
            stride,
            w: src_w as usize,
            h: src_h as usize,
            yuv: Yuv::new(yuv),
        };
        // A new frame: nothing cached is valid.
        self.conv.tag = [None, None];
        self.sums.tag = [None, None];
        let half = opencv::is_half(src_w, src_h, lb.new_w, lb.new_h);
        let (left, right) = (
            lb.left as usize * 3 * es,
            (lb.left + lb.new_w) as usize * 3 * es,
        );
        let (top, bottom) = (lb.top as usize, (lb.top + lb.new_h) as usize);
        for (y, out) in input.chunks_exact_mut(pitch).enumerate() {
            if y < top || y >= bottom {
                out.copy_from_slice(&self.pad_row);
                continue;
            }
            out[..left].copy_from_slice(&self.pad_row[..left]);
            out[right..].copy_from_slice(&self.pad_row[right..]);
            if half {
                self.area_row(&src, y - top);
            } else {
                self.linear_row(&src, y - top);
            }
            let n = lb.new_w as usize;
            let (r, rest) = self.out[..3 * n].split_at(n);
            let (g, b) = rest.split_at(n);
            if let Some(store) = &self.store {
                self.kernels.store(r, g, b, store, &mut out[left..right]);
            }
        }
    }

    /// Output row `y` of the exact 2:1 reduction.
    fn area_row(&mut self, src: &Src<'_>, y: usize) {
        let [a, b] = &mut self.conv.rows;
        src.convert(&self.kernels, 2 * y, a);
        src.convert(&self.kernels, 2 * y + 1, b);
        let (w, n) = (src.w, src.w / 2);
        for p in 0..3 {
            let o = &mut self.out[p * n..(p + 1) * n];
            self.kernels
                .area2(&a[p * w..(p + 1) * w], &b[p * w..(p + 1) * w], o);
        }
    }

    /// Output row `y` of `INTER_LINEAR`.
    fn linear_row(&mut self, src: &Src<'_>, y: usize) {
        let t = self.rows[y];
        let s0 = self.sums_of(src, t.s0, None);
        let s1 = self.sums_of(src, t.s1, Some(s0));
        let n = self.cols.len() * 3;
        let [a, b] = &self.sums.rows;
        let (a, b) = if s0 == 0 { (a, b) } else { (b, a) };
        let b = if s0 == s1 { a } else { b };
        self.kernels
            .vresize(&a[..n], &b[..n], t.w, &mut self.out[..n]);
    }

    /// The slot of the horizontal sums of source row `row`, computed now
    /// unless cached (never evicting slot `keep`).
    fn sums_of(&mut self, src: &Src<'_>, row: u32, keep: Option<usize>) -> usize {
        let slot = match self.sums.find(row, keep) {
            Ok(i) => return i,
            Err(i) => i,
        };
        let (w, n) = (src.w, self.cols.len());
        if src.format == PixelFormat::Rgb24 {
            // Packed RGB needs no conversion: gather from it directly.
            let line = &src.px[row as usize * src.stride..][..3 * w];
            let sums = &mut self.sums.rows[slot][..3 * n];
            self.kernels.hresize_rgb(line, &self.cols, sums);
            self.sums.tag[slot] = Some(row);
            return slot;
        }
        let conv = &mut self.conv.rows[0];
        src.convert(&self.kernels, row as usize, conv);
        for p in 0..3 {
            self.kernels.hresize(
                &conv[p * w..(p + 1) * w],
                &self.cols,
                &mut self.sums.rows[slot][p * n..(p + 1) * n],
            );
        }
        self.sums.tag[slot] = Some(row);
        slot
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::preprocess::Letterbox;
    use proptest::prelude::*;

    fn frame_bytes(seed: u64, n: usize) -> Vec<u8> {
        let mut x = seed | 1;
        (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x >> 24) as u8
            })
            .collect()
    }

    fn map(kind: u8, seed: u64) -> InputMap {
        let t = frame_bytes(seed, 256);
        match kind % 4 {
            0 => InputMap::Bytes {
                table: std::array::from_fn(|i| i as u8),
                identity: true,
            },
            1 => InputMap::Bytes {
                table: std::array::from_fn(|i| i as u8 ^ 0x80),
                identity: false,
            },
            2 => InputMap::Bytes {
                table: t.try_into().unwrap(),
                identity: false,
            },
            _ => InputMap::Float {
                table: std::array::from_fn(|i| i as f32 / 255.0),
            },
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]

        /// The vectorised converter writes the scalar converter's bytes, on
        /// every format, odd and even sizes, padded strides, both resize
        /// paths (2:1 area and linear, up and down) and every store.
        #[test]
        fn simd_and_scalar_converters_write_the_same_tensor(
            w in 1u32..150, h in 1u32..100, pad in 0usize..9, fmt in 0u8..4,
            dst in 8u32..80, half in any::<bool>(), kind in 0u8..4, seed in any::<u64>(),
        ) {
            let format = [PixelFormat::Yuyv, PixelFormat::Nv12, PixelFormat::Grey, PixelFormat::Rgb24][usize::from(fmt)];
            let (w, h) = if half { (2 * dst, 2 * (h % dst + 1)) } else { (w, h) };
            let stride = format.min_stride(w) + pad;
            let src = frame_bytes(seed, format.frame_len(stride, h).expect("a test frame fits"));
            let lb = Letterbox::new(w, h, dst, dst);
            prop_assert!(!half || opencv::is_half(w, h, lb.new_w, lb.new_h));
            let m = map(kind, seed);
            let n = (dst * dst * 3) as usize * m.element_size();
            let (mut a, mut b) = (vec![0u8; n], vec![1u8; n]);
            let mut simd = Fused::new(dst, dst);
            let mut scalar = Fused::with_kernels(dst, dst, Kernels::scalar());
            for (f, out) in [(&mut simd, &mut a), (&mut scalar, &mut b)] {
                f.letterbox(&src, format, stride, YuvEncoding::Bt601Limited, (w, h), &lb, 114, &m, out);
            }
            prop_assert_eq!(a, b);
        }
    }

    #[test]
    fn ring_keeps_the_row_still_needed() {
        let mut r: Ring<u8> = Ring::new();
        r.resize(4);
        assert_eq!(r.find(5, None), Err(0));
        r.tag[0] = Some(5);
        assert_eq!(r.find(6, Some(0)), Err(1));
        r.tag[1] = Some(6);
        assert_eq!(r.find(6, None), Ok(1));
        // Rows 6 and 7: 6 stays (slot 1), 7 replaces 5.
        assert_eq!(r.find(7, Some(1)), Err(0));
    }
}
