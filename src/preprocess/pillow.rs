//! Exact resampling: the bilinear convolution resample that Pillow's
//! `Image.resize(..., BILINEAR)` computes, reproduced bit for bit (the
//! filter support scaled by the reduction factor, weights normalised per
//! output pixel, converted to 22-bit fixed point, horizontal pass first with
//! rounding to 8 bits, then the vertical pass).
//!
//! Why hand-written: int8 pose models turn a one-level difference in a few
//! input pixels into keypoint jumps of several pixels, so checking edgepose
//! against an independent reference to 1 px needs inputs identical to the
//! reference's. `fast_image_resize` implements the same filter with
//! different fixed-point rounding (about 10% of pixels differ by one
//! level). This path is scalar and slower; it is selected with
//! `--resize exact`.

/// Fixed-point precision of the weights (Pillow's `PRECISION_BITS`).
const PRECISION_BITS: u32 = 32 - 8 - 2;

/// Weights of one axis.
#[derive(Debug, Clone, Default)]
struct Axis {
    in_size: usize,
    out_size: usize,
    ksize: usize,
    /// Per output index: first input index and tap count.
    bounds: Vec<(usize, usize)>,
    /// `out_size * ksize` fixed-point weights.
    weights: Vec<i32>,
}

fn bilinear(x: f64) -> f64 {
    let x = x.abs();
    if x < 1.0 {
        1.0 - x
    } else {
        0.0
    }
}

impl Axis {
    fn new(in_size: usize, out_size: usize) -> Self {
        let scale = in_size as f64 / out_size as f64;
        let filterscale = scale.max(1.0);
        let support = filterscale; // bilinear support 1.0
        let ksize = support.ceil() as usize * 2 + 1;
        let mut bounds = Vec::with_capacity(out_size);
        let mut weights = vec![0i32; out_size * ksize];
        let mut w = vec![0f64; ksize];
        for xx in 0..out_size {
            let center = (xx as f64 + 0.5) * scale;
            let ss = 1.0 / filterscale;
            // C's (int) cast truncates toward zero.
            let xmin = ((center - support + 0.5) as i64).max(0) as usize;
            let xmax = ((center + support + 0.5) as i64).min(in_size as i64) as usize;
            let n = xmax.saturating_sub(xmin).min(ksize);
            let mut total = 0.0;
            for (x, wx) in w.iter_mut().enumerate().take(n) {
                *wx = bilinear((x as f64 + xmin as f64 - center + 0.5) * ss);
                total += *wx;
            }
            let k = &mut weights[xx * ksize..(xx + 1) * ksize];
            for x in 0..n {
                let v = if total != 0.0 { w[x] / total } else { w[x] };
                let f = v * f64::from(1u32 << PRECISION_BITS);
                k[x] = if v < 0.0 {
                    (f - 0.5) as i32
                } else {
                    (f + 0.5) as i32
                };
            }
            bounds.push((xmin, n));
        }
        Self {
            in_size,
            out_size,
            ksize,
            bounds,
            weights,
        }
    }
}

#[inline]
fn clip8(v: i32) -> u8 {
    (v >> PRECISION_BITS).clamp(0, 255) as u8
}

/// Pillow-exact RGB8 resampler with cached weights and scratch buffer.
#[derive(Debug, Default)]
pub struct PillowResampler {
    horiz: Axis,
    vert: Axis,
    temp: Vec<u8>,
}

impl PillowResampler {
    /// Resamples packed RGB8 `src` (`sw`×`sh`) to `dw`×`dh`, writing rows of
    /// `dw * 3` bytes into `dst` starting at byte `dst_offset` with a row
    /// pitch of `dst_pitch` bytes.
    #[allow(clippy::too_many_arguments)]
    pub fn resample(
        &mut self,
        src: &[u8],
        sw: usize,
        sh: usize,
        dw: usize,
        dh: usize,
        dst: &mut [u8],
        dst_offset: usize,
        dst_pitch: usize,
    ) {
        if self.horiz.in_size != sw || self.horiz.out_size != dw {
            self.horiz = Axis::new(sw, dw);
        }
        if self.vert.in_size != sh || self.vert.out_size != dh {
            self.vert = Axis::new(sh, dh);
        }
        let need_h = sw != dw;
        let need_v = sh != dh;
        // Rows of the source the vertical pass reads.
        let (first, last) = if need_v {
            let (a, _) = self.vert.bounds[0];
            let (b, n) = self.vert.bounds[dh - 1];
            (a, b + n)
        } else {
            (0, sh)
        };
        let row_out = dw * 3;
        let (hsrc, hrows_offset): (&[u8], usize) = if need_h {
            let rows = last - first;
            self.temp.resize(rows * row_out, 0);
            let ax = &self.horiz;
            for (r, out_row) in self.temp.chunks_exact_mut(row_out).enumerate() {
                let in_row = &src[(first + r) * sw * 3..(first + r + 1) * sw * 3];
                for (xx, px) in out_row.chunks_exact_mut(3).enumerate() {
                    let (xmin, n) = ax.bounds[xx];
                    let k = &ax.weights[xx * ax.ksize..xx * ax.ksize + n];
                    let taps = &in_row[xmin * 3..(xmin + n) * 3];
                    let mut s = [1i32 << (PRECISION_BITS - 1); 3];
                    for (w, p) in k.iter().zip(taps.chunks_exact(3)) {
                        s[0] += i32::from(p[0]) * w;
                        s[1] += i32::from(p[1]) * w;
                        s[2] += i32::from(p[2]) * w;
                    }
                    px[0] = clip8(s[0]);
                    px[1] = clip8(s[1]);
                    px[2] = clip8(s[2]);
                }
            }
            (&self.temp, first)
        } else {
            (src, 0)
        };
        for yy in 0..dh {
            let out = &mut dst[dst_offset + yy * dst_pitch..dst_offset + yy * dst_pitch + row_out];
            if !need_v {
                let r = yy - hrows_offset;
                out.copy_from_slice(&hsrc[r * row_out..(r + 1) * row_out]);
                continue;
            }
            let ax = &self.vert;
            let (ymin, n) = ax.bounds[yy];
            let k = &ax.weights[yy * ax.ksize..yy * ax.ksize + n];
            for (x, o) in out.iter_mut().enumerate() {
                let mut s = 1i32 << (PRECISION_BITS - 1);
                for (j, w) in k.iter().enumerate() {
                    s += i32::from(hsrc[(ymin + j - hrows_offset) * row_out + x]) * w;
                }
                *o = clip8(s);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weights_sum_to_one_in_fixed_point() {
        let ax = Axis::new(1080, 320);
        for xx in 0..320 {
            let (_, n) = ax.bounds[xx];
            let s: i32 = ax.weights[xx * ax.ksize..xx * ax.ksize + n].iter().sum();
            assert!((s - (1 << PRECISION_BITS)).abs() <= 4, "{xx}: {s}");
        }
    }

    #[test]
    fn constant_image_stays_constant_and_upscale_interpolates() {
        let src = vec![77u8; 50 * 40 * 3];
        let mut dst = vec![0u8; 20 * 13 * 3];
        PillowResampler::default().resample(&src, 50, 40, 20, 13, &mut dst, 0, 60);
        assert!(dst.iter().all(|&v| v == 77));
        // 2 px → 4 px horizontally: Pillow gives [0, 64, 191, 255] for a 0/255 edge.
        let src = [0u8, 0, 0, 255, 255, 255];
        let mut dst = vec![0u8; 12];
        PillowResampler::default().resample(&src, 2, 1, 4, 1, &mut dst, 0, 12);
        assert_eq!([dst[0], dst[3], dst[6], dst[9]], [0, 64, 191, 255]);
    }
}
