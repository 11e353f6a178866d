//! Fused letterbox for camera frames: colour conversion (YUYV, NV12, GREY,
//! RGB24), bilinear resize and quantization to the model input in one pass,
//! straight from the (mapped) frame buffer, with no full-frame copy and no
//! allocation per frame.
//!
//! The resize is the 2×2-tap bilinear interpolation of OpenCV's
//! `INTER_LINEAR` (the one Ultralytics' letterbox uses): output pixel `d`
//! samples source position `(d + 0.5) · src/dst − 0.5`, clamped at the
//! edges, with 11-bit fixed-point weights. For YUV sources Y, U and V are
//! interpolated separately (chroma of a 4:2:2 / 4:2:0 pair is repeated for
//! both of its pixels) and converted to RGB afterwards: the conversion is
//! affine, so this equals converting first and interpolating after, up to
//! rounding. The YCbCr matrix (BT.601 / BT.709, limited or full range) comes
//! from the frame.
//!
//! Why hand-written: the SIMD crates convert whole frames (a full-frame copy)
//! or resize one pixel type; none fuses YUV sampling, resize and the
//! model's quantization table. Per output pixel this is a few integer
//! multiply-adds, and the tables that drive it are computed once per
//! geometry into buffers sized for the model input.

use super::InputMap;
use crate::frame::{PixelFormat, YuvEncoding};

/// Fixed-point bits of the interpolation weights (as OpenCV).
const WBITS: u32 = 11;
const WONE: i32 = 1 << WBITS;
/// Fixed-point bits of the YCbCr → RGB coefficients.
const CBITS: u32 = 12;

/// Byte offsets of the two taps along one axis and the weight of the second.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct Tap {
    /// Luma / RGB offset of the first and second tap.
    a: u32,
    b: u32,
    /// Chroma offset (U; V follows at `+ chroma_step`) of each tap.
    ca: u32,
    cb: u32,
    /// Weight of the second tap, 0..=2048.
    w: i32,
}

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

/// Integer YCbCr → RGB coefficients (Q12) and luma offset.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Matrix {
    y_off: i32,
    cy: i32,
    rv: i32,
    gu: i32,
    gv: i32,
    bu: i32,
}

impl Matrix {
    fn new(enc: YuvEncoding) -> Self {
        let (kr, kb, limited) = match enc {
            YuvEncoding::Bt601Limited => (0.299, 0.114, true),
            YuvEncoding::Bt601Full => (0.299, 0.114, false),
            YuvEncoding::Bt709Limited => (0.2126, 0.0722, true),
            YuvEncoding::Bt709Full => (0.2126, 0.0722, false),
        };
        let kg = 1.0 - kr - kb;
        let (sy, sc) = if limited {
            (255.0 / 219.0, 255.0 / 224.0)
        } else {
            (1.0, 1.0)
        };
        let q = |v: f64| (v * f64::from(1 << CBITS)).round() as i32;
        Self {
            y_off: if limited { 16 } else { 0 },
            cy: q(sy),
            rv: q(2.0 * (1.0 - kr) * sc),
            gu: q(-2.0 * kb * (1.0 - kb) / kg * sc),
            gv: q(-2.0 * kr * (1.0 - kr) / kg * sc),
            bu: q(2.0 * (1.0 - kb) * sc),
        }
    }

    /// Converts Q8 Y, U, V to RGB bytes.
    #[inline(always)]
    fn rgb(&self, y: i32, u: i32, v: i32) -> [u8; 3] {
        // Q8 × Q12 = Q20.
        let y = self.cy * (y - (self.y_off << 8));
        let (u, v) = (u - (128 << 8), v - (128 << 8));
        const R: i32 = 1 << 19;
        let c = |x: i32| ((x + R) >> 20).clamp(0, 255) as u8;
        [
            c(y + self.rv * v),
            c(y + self.gu * u + self.gv * v),
            c(y + self.bu * u),
        ]
    }
}

/// Taps for `n_dst` outputs sampling `n_src` inputs (OpenCV's mapping).
fn taps(n_src: u32, n_dst: u32, out: &mut Vec<(u32, u32, i32)>) {
    out.clear();
    let scale = f64::from(n_src) / f64::from(n_dst);
    for d in 0..n_dst {
        let f = (f64::from(d) + 0.5) * scale - 0.5;
        let mut s = f.floor();
        let mut frac = f - s;
        if s < 0.0 {
            s = 0.0;
            frac = 0.0;
        }
        let mut s = s as u32;
        if s >= n_src - 1 {
            s = n_src - 1;
            frac = 0.0;
        }
        let w = (frac * f64::from(WONE)).round() as i32;
        let s1 = (s + 1).min(n_src - 1);
        out.push((s, s1, w));
    }
}

/// The fused converter; tables are rebuilt only when the geometry changes.
pub struct Fused {
    key: Option<Key>,
    cols: Vec<Tap>,
    rows: Vec<Tap>,
    scratch: Vec<(u32, u32, i32)>,
    row_rgb: Vec<u8>,
    pad_row: Vec<u8>,
}

impl Fused {
    /// A converter for model inputs at most `dst_w`×`dst_h`.
    pub fn new(dst_w: u32, dst_h: u32) -> Self {
        Self {
            key: None,
            cols: Vec::with_capacity(dst_w as usize),
            rows: Vec::with_capacity(dst_h as usize),
            scratch: Vec::with_capacity(dst_w.max(dst_h) as usize),
            row_rgb: vec![0; dst_w as usize * 3],
            pad_row: Vec::new(),
        }
    }

    fn build(&mut self, key: Key) {
        let (f, stride) = (key.format, key.stride as u32);
        taps(key.src_w, key.new_w, &mut self.scratch);
        self.cols.clear();
        for &(s0, s1, w) in &self.scratch {
            let (a, b, ca, cb) = match f {
                PixelFormat::Yuyv => (2 * s0, 2 * s1, (s0 / 2) * 4 + 1, (s1 / 2) * 4 + 1),
                PixelFormat::Nv12 => (s0, s1, (s0 / 2) * 2, (s1 / 2) * 2),
                PixelFormat::Rgb24 => (3 * s0, 3 * s1, 0, 0),
                PixelFormat::Grey | PixelFormat::Mjpeg => (s0, s1, 0, 0),
            };
            self.cols.push(Tap { a, b, ca, cb, w });
        }
        taps(key.src_h, key.new_h, &mut self.scratch);
        self.rows.clear();
        let plane = stride * key.src_h;
        for &(s0, s1, w) in &self.scratch {
            let (ca, cb) = match f {
                PixelFormat::Nv12 => (plane + (s0 / 2) * stride, plane + (s1 / 2) * stride),
                _ => (s0 * stride, s1 * stride),
            };
            self.rows.push(Tap {
                a: s0 * stride,
                b: s1 * stride,
                ca,
                cb,
                w,
            });
        }
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
        if self.pad_row.len() != pitch {
            // Once per model size.
            self.pad_row.resize(pitch, 0);
            map.map_row(&vec![pad; lb.dst_w as usize * 3], &mut self.pad_row);
        }
        let m = Matrix::new(yuv);
        let (left, right) = (
            lb.left as usize * 3 * es,
            (lb.left + lb.new_w) as usize * 3 * es,
        );
        let (top, bottom) = (lb.top as usize, (lb.top + lb.new_h) as usize);
        let n = lb.new_w as usize * 3;
        for (y, out) in input.chunks_exact_mut(pitch).enumerate() {
            if y < top || y >= bottom {
                out.copy_from_slice(&self.pad_row);
                continue;
            }
            out[..left].copy_from_slice(&self.pad_row[..left]);
            out[right..].copy_from_slice(&self.pad_row[right..]);
            let row = self.rows[y - top];
            let rgb = &mut self.row_rgb[..n];
            match format {
                PixelFormat::Yuyv => yuv_row(src, row, &self.cols, 2, &m, rgb),
                PixelFormat::Nv12 => yuv_row(src, row, &self.cols, 1, &m, rgb),
                PixelFormat::Rgb24 => rgb_row(src, row, &self.cols, rgb),
                PixelFormat::Grey | PixelFormat::Mjpeg => grey_row(src, row, &self.cols, rgb),
            }
            map.map_row(rgb, &mut out[left..right]);
        }
    }
}

/// Bilinear sample at `o0`/`o1` of rows `r0`/`r1`, Q22.
#[inline(always)]
fn lerp(r0: &[u8], r1: &[u8], o0: usize, o1: usize, wx: i32, wy: i32) -> i32 {
    let top = i32::from(r0[o0]) * (WONE - wx) + i32::from(r0[o1]) * wx;
    let bot = i32::from(r1[o0]) * (WONE - wx) + i32::from(r1[o1]) * wx;
    top * (WONE - wy) + bot * wy
}

/// Q22 → Q8 with rounding.
#[inline(always)]
fn q8(v: i32) -> i32 {
    (v + (1 << 13)) >> 14
}

/// Q22 → byte with rounding.
#[inline(always)]
fn byte(v: i32) -> u8 {
    ((v + (1 << 21)) >> 22) as u8
}

/// One output row from a YUV frame; `vstep` is the U→V byte distance.
fn yuv_row(src: &[u8], row: Tap, cols: &[Tap], vstep: usize, m: &Matrix, out: &mut [u8]) {
    let (l0, l1) = (&src[row.a as usize..], &src[row.b as usize..]);
    let (c0, c1) = (&src[row.ca as usize..], &src[row.cb as usize..]);
    for (c, px) in cols.iter().zip(out.chunks_exact_mut(3)) {
        let y = q8(lerp(l0, l1, c.a as usize, c.b as usize, c.w, row.w));
        let (ua, ub) = (c.ca as usize, c.cb as usize);
        let u = q8(lerp(c0, c1, ua, ub, c.w, row.w));
        let v = q8(lerp(c0, c1, ua + vstep, ub + vstep, c.w, row.w));
        px.copy_from_slice(&m.rgb(y, u, v));
    }
}

fn rgb_row(src: &[u8], row: Tap, cols: &[Tap], out: &mut [u8]) {
    let (r0, r1) = (&src[row.a as usize..], &src[row.b as usize..]);
    for (c, px) in cols.iter().zip(out.chunks_exact_mut(3)) {
        let (a, b) = (c.a as usize, c.b as usize);
        for (k, o) in px.iter_mut().enumerate() {
            *o = byte(lerp(r0, r1, a + k, b + k, c.w, row.w));
        }
    }
}

fn grey_row(src: &[u8], row: Tap, cols: &[Tap], out: &mut [u8]) {
    let (r0, r1) = (&src[row.a as usize..], &src[row.b as usize..]);
    for (c, px) in cols.iter().zip(out.chunks_exact_mut(3)) {
        px.fill(byte(lerp(r0, r1, c.a as usize, c.b as usize, c.w, row.w)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn taps_follow_opencv_half_pixel_mapping() {
        let mut t = Vec::new();
        // 2:1 downscale: output d samples 2d + 0.5 → taps 2d, 2d+1 at 1/2.
        taps(8, 4, &mut t);
        assert_eq!(
            t,
            vec![(0, 1, 1024), (2, 3, 1024), (4, 5, 1024), (6, 7, 1024)]
        );
        // 1:2 upscale: d=0 → -0.25 clamps to pixel 0; the last clamps to 3.
        taps(4, 8, &mut t);
        assert_eq!(t[0], (0, 1, 0));
        assert_eq!(t[1], (0, 1, 512)); // 0.25
        assert_eq!(t[7], (3, 3, 0));
    }

    #[test]
    fn matrix_maps_reference_colours() {
        // BT.601 limited: black 16, white 235, neutral chroma.
        let m = Matrix::new(YuvEncoding::Bt601Limited);
        assert_eq!(m.rgb(16 << 8, 128 << 8, 128 << 8), [0, 0, 0]);
        assert_eq!(m.rgb(235 << 8, 128 << 8, 128 << 8), [255, 255, 255]);
        // Colour bars: 100% red is Y 81, U 90, V 240; 75% red is Y 65,
        // U 100, V 212 → about (191, 0, 0).
        let [r, g, b] = m.rgb(81 << 8, 90 << 8, 240 << 8);
        assert!(r >= 254 && g <= 1 && b <= 1, "{r} {g} {b}");
        let [r, g, b] = m.rgb(65 << 8, 100 << 8, 212 << 8);
        assert!((190..=192).contains(&r) && g <= 1 && b <= 1, "{r} {g} {b}");
        // Full range: Y passes through.
        let m = Matrix::new(YuvEncoding::Bt601Full);
        assert_eq!(m.rgb(77 << 8, 128 << 8, 128 << 8), [77, 77, 77]);
        // Extremes must clamp, not wrap.
        assert_eq!(m.rgb(255 << 8, 255 << 8, 255 << 8)[0], 255);
        assert_eq!(m.rgb(0, 0, 0)[2], 0);
    }
}
