//! OpenCV's arithmetic, reproduced: the tap positions and fixed-point
//! weights of `cv::resize(..., INTER_LINEAR)` on 8-bit images, and the
//! integer YCbCr → RGB formula of `cv::cvtColor` (`COLOR_YUV2RGB_YUYV`,
//! `COLOR_YUV2RGB_NV12`).
//!
//! `INTER_LINEAR` on `CV_8U` (opencv/modules/imgproc/src/resize.cpp, the
//! generic `resizeGeneric_` path; IPP is not used for 8-bit linear): output
//! pixel `d` samples `f = (float)((d + 0.5) · scale − 0.5)` with
//! `scale = 1 / (dst / src)` in double, `s = floor(f)`, weights
//! `saturate_cast<short>((1 − frac) · 2048)` and `saturate_cast<short>(frac ·
//! 2048)` computed in float and rounded half to even. Columns are clamped
//! at both edges (weight 2048 on the edge pixel); rows are not: their taps
//! are clipped to the image but keep their weights. The horizontal pass
//! keeps `p0·a0 + p1·a1` (Q11) in 32 bits; the vertical pass rounds as
//! `((b0·(S0 >> 4)) >> 16) + ((b1·(S1 >> 4)) >> 16) + 2) >> 2`. An exact
//! 2:1 reduction on both axes is `INTER_AREA`'s fast path instead:
//! `(a + b + c + d + 2) >> 2` over each 2×2 block.
//!
//! These facts were checked against `cv2.resize` / `cv2.cvtColor` of
//! opencv-python-headless 4.10.0.84, 4.14.0.94 and 5.1.0.95 (byte-identical
//! on 612 random sizes; `tests/reference.rs` keeps checking the pinned one).

use crate::frame::YuvEncoding;

/// Fixed-point weight of one (OpenCV's `INTER_RESIZE_COEF_SCALE`).
pub const ONE: i16 = 2048;

/// One tap pair along an axis: source indices and their Q11 weights.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Tap {
    pub s0: u32,
    pub s1: u32,
    pub w: [i16; 2],
}

/// `saturate_cast<short>(float)`: round half to even, saturate.
fn to_short(v: f32) -> i16 {
    v.round_ties_even().clamp(-32768.0, 32767.0) as i16
}

/// Taps of `n_dst` outputs over `n_src` inputs. `clamp` is OpenCV's column
/// treatment (edge taps get the whole weight); rows (`clamp == false`) keep
/// their fractional weights with both taps clipped into the image.
pub fn taps(n_src: u32, n_dst: u32, clamp: bool, out: &mut Vec<Tap>) {
    out.clear();
    let scale = 1.0 / (f64::from(n_dst) / f64::from(n_src));
    let last = i64::from(n_src) - 1;
    for d in 0..n_dst {
        let f = ((f64::from(d) + 0.5) * scale - 0.5) as f32;
        let mut s = i64::from(f.floor() as i32);
        let mut frac = f - s as f32;
        if clamp && s < 0 {
            s = 0;
            frac = 0.0;
        }
        if clamp && s >= last {
            s = last;
            frac = 0.0;
        }
        let w = [to_short((1.0 - frac) * 2048.0), to_short(frac * 2048.0)];
        out.push(Tap {
            s0: s.clamp(0, last) as u32,
            s1: (s + 1).clamp(0, last) as u32,
            w,
        });
    }
}

/// True when OpenCV takes `INTER_AREA`'s fast 2×2 path for this resize.
pub fn is_half(src_w: u32, src_h: u32, dst_w: u32, dst_h: u32) -> bool {
    src_w == 2 * dst_w && src_h == 2 * dst_h
}

/// The vertical pass of one value (Q11 horizontal sums in, byte out).
#[inline(always)]
pub fn vlerp(s0: i32, s1: i32, b: [i16; 2]) -> u8 {
    let t = ((i32::from(b[0]) * (s0 >> 4)) >> 16) + ((i32::from(b[1]) * (s1 >> 4)) >> 16);
    ((t + 2) >> 2).clamp(0, 255) as u8
}

/// Integer YCbCr → RGB coefficients in Q20 (OpenCV's `ITUR_BT_601_*`
/// layout): `R = (cy·max(Y − y_off, 0) + cvr·(V − 128) + 2^19) >> 20`, and
/// likewise G with `cug`, `cvg` and B with `cub`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Yuv {
    pub y_off: i32,
    pub cy: i32,
    pub cvr: i32,
    pub cvg: i32,
    pub cug: i32,
    pub cub: i32,
}

impl Yuv {
    /// BT.601 limited range is OpenCV's exact integer conversion; the other
    /// colorimetries use the same form with coefficients from their
    /// definitions (edgepose's own: OpenCV has no conversion for them).
    pub fn new(enc: YuvEncoding) -> Self {
        let (kr, kb, limited) = match enc {
            YuvEncoding::Bt601Limited => {
                return Self {
                    y_off: 16,
                    cy: 1_220_542,
                    cvr: 1_673_527,
                    cvg: -852_492,
                    cug: -409_993,
                    cub: 2_116_026,
                }
            }
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
        let q = |v: f64| (v * f64::from(1 << 20)).round() as i32;
        Self {
            y_off: if limited { 16 } else { 0 },
            cy: q(sy),
            cvr: q(2.0 * (1.0 - kr) * sc),
            cvg: q(-2.0 * kr * (1.0 - kr) / kg * sc),
            cug: q(-2.0 * kb * (1.0 - kb) / kg * sc),
            cub: q(2.0 * (1.0 - kb) * sc),
        }
    }

    /// One pixel.
    #[inline(always)]
    pub fn rgb(&self, y: u8, u: u8, v: u8) -> [u8; 3] {
        let y = (i32::from(y) - self.y_off).max(0) * self.cy;
        let (u, v) = (i32::from(u) - 128, i32::from(v) - 128);
        const R: i32 = 1 << 19;
        let c = |x: i32| (x >> 20).clamp(0, 255) as u8;
        [
            c(y + R + self.cvr * v),
            c(y + R + self.cvg * v + self.cug * u),
            c(y + R + self.cub * u),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn taps_follow_opencv_half_pixel_mapping_and_edges() {
        let mut t = Vec::new();
        // 3:1 downscale: d samples 3d + 1 exactly.
        taps(9, 3, true, &mut t);
        let s: Vec<_> = t.iter().map(|t| (t.s0, t.w)).collect();
        assert_eq!(s, vec![(1, [2048, 0]), (4, [2048, 0]), (7, [2048, 0])]);
        // 1:2 upscale of 4: d=0 → -0.25: columns clamp to pixel 0 with the
        // whole weight, rows keep 0.75/0.25 on the clipped taps (0, 0).
        taps(4, 8, true, &mut t);
        assert_eq!(
            t[0],
            Tap {
                s0: 0,
                s1: 1,
                w: [2048, 0]
            }
        );
        assert_eq!(
            t[1],
            Tap {
                s0: 0,
                s1: 1,
                w: [1536, 512]
            }
        );
        assert_eq!(
            t[7],
            Tap {
                s0: 3,
                s1: 3,
                w: [2048, 0]
            }
        );
        taps(4, 8, false, &mut t);
        assert_eq!(
            t[0],
            Tap {
                s0: 0,
                s1: 0,
                w: [512, 1536]
            }
        );
        assert_eq!(
            t[7],
            Tap {
                s0: 3,
                s1: 3,
                w: [1536, 512]
            }
        );
    }

    #[test]
    fn vertical_rounding_is_opencvs_not_exact() {
        // A constant 100 row (Q11 sums 204800) stays 100 with weights that
        // sum to 2048; the shifted rounding loses to the truncations on 1/2.
        assert_eq!(vlerp(204_800, 204_800, [1024, 1024]), 100);
        assert_eq!(vlerp(255 * 2048, 255 * 2048, [2048, 0]), 255);
        // Q11 sums 1 and 2 (0.0005 and 0.001 of a level) vanish.
        assert_eq!(vlerp(1, 2, [1024, 1024]), 0);
    }

    #[test]
    fn bt601_limited_is_opencvs_integer_formula() {
        let m = Yuv::new(YuvEncoding::Bt601Limited);
        assert_eq!(m.rgb(16, 128, 128), [0, 0, 0]);
        assert_eq!(m.rgb(235, 128, 128), [255, 255, 255]);
        assert_eq!(m.rgb(10, 128, 128), [0, 0, 0]); // Y below 16 clamps
                                                    // 75% red (65, 100, 212): cv2.cvtColor gives (191, 0, 1).
        assert_eq!(m.rgb(65, 100, 212), [191, 0, 1]);
        let f = Yuv::new(YuvEncoding::Bt601Full);
        assert_eq!(f.rgb(77, 128, 128), [77, 77, 77]);
        assert_eq!(f.rgb(255, 255, 255)[0], 255);
        assert_eq!(f.rgb(0, 0, 0)[2], 0);
    }
}
