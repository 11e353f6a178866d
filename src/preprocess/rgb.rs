//! Frames as packed RGB at their own size, for the sinks that draw on the
//! picture (`--annotate`): the letterbox's own colour conversion
//! (`cv2.cvtColor`'s integer BT.601 and the other colorimetries, through the
//! fused converter's row kernels, [`super::fused`]) without the resize, and
//! MJPEG decoded at full size ([`super::jpeg`]). So an annotated YUYV, NV12
//! or MJPEG frame shows the picture the model saw, whatever the source
//! format. Buffers are reused: once the frame size is known nothing is
//! allocated per frame.

use super::fused::Src;
use super::jpeg::JpegDecoder;
use super::kernels::{Kernels, Store};
use super::PreprocessError;
use crate::frame::{Frame, PixelFormat};

/// Converts frames of any format to packed RGB.
pub struct ToRgb {
    kernels: Kernels,
    /// One converted row, planar (3 × width).
    planes: Vec<u8>,
    jpeg: JpegDecoder,
}

impl Default for ToRgb {
    fn default() -> Self {
        Self::new()
    }
}

impl ToRgb {
    /// A converter on the best row kernels this CPU has.
    pub fn new() -> Self {
        Self {
            kernels: Kernels::detect(),
            planes: Vec::new(),
            jpeg: JpegDecoder::default(),
        }
    }

    /// Writes `frame` into `out` as packed RGB, `width × height × 3` bytes
    /// (`out` keeps its capacity), and returns its width and height. The
    /// frame's layout must have been checked ([`super::Preprocess::prepare`]
    /// does: call this after it).
    pub fn convert(
        &mut self,
        frame: &Frame<'_>,
        out: &mut Vec<u8>,
    ) -> Result<(u32, u32), PreprocessError> {
        if frame.format == PixelFormat::Mjpeg {
            let d = self.jpeg.decode(frame, |_, _| None, out)?;
            out.truncate(d.size.0 * d.size.1 * 3);
            return Ok(d.full);
        }
        let (w, h) = (frame.width as usize, frame.height as usize);
        if w == 0 || h == 0 || !frame.layout_fits() {
            return Err(PreprocessError::BadLayout {
                width: frame.width,
                height: frame.height,
                format: frame.format.fourcc(),
                stride: frame.stride,
                len: frame.pixels.len(),
            });
        }
        out.resize(w * h * 3, 0);
        if self.planes.len() < w * 3 {
            self.planes.resize(w * 3, 0);
        }
        let src = Src::new(frame);
        for (y, row) in out.chunks_exact_mut(w * 3).enumerate() {
            let planes = &mut self.planes[..w * 3];
            src.convert(&self.kernels, y, planes);
            let (r, rest) = planes.split_at(w);
            let (g, b) = rest.split_at(w);
            self.kernels.store(r, g, b, &Store::Copy, row);
        }
        Ok((frame.width, frame.height))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::YuvEncoding;
    use crate::preprocess::opencv::Yuv;

    fn frame(px: &[u8], format: PixelFormat, w: u32, h: u32, stride: usize) -> Frame<'_> {
        Frame {
            format,
            stride,
            yuv: YuvEncoding::Bt601Limited,
            ..Frame::rgb(px, w, h, "t")
        }
    }

    #[test]
    fn yuyv_and_nv12_convert_pixel_by_pixel_with_the_letterbox_formula() {
        // 4x2 with distinct Y per pixel and U/V per pair (and per 2x2 in NV12).
        let ys: Vec<u8> = (0..8).map(|i| 20 + 27 * i as u8).collect();
        let (us, vs) = ([60u8, 200], [90u8, 170]);
        let m = Yuv::new(YuvEncoding::Bt601Limited);
        let want: Vec<u8> = (0..8)
            .flat_map(|i| m.rgb(ys[i], us[(i % 4) / 2], vs[(i % 4) / 2]))
            .collect();
        let mut yuyv = Vec::new();
        for row in 0..2 {
            for pair in 0..2 {
                let i = row * 4 + pair * 2;
                yuyv.extend([ys[i], us[pair], ys[i + 1], vs[pair]]);
            }
        }
        let mut nv12 = ys.clone();
        nv12.extend([us[0], vs[0], us[1], vs[1]]);
        let mut c = ToRgb::new();
        let mut out = Vec::new();
        for (px, f, stride) in [(&yuyv, PixelFormat::Yuyv, 8), (&nv12, PixelFormat::Nv12, 4)] {
            assert_eq!(
                c.convert(&frame(px, f, 4, 2, stride), &mut out).unwrap(),
                (4, 2)
            );
            assert_eq!(out, want, "{f:?}");
        }
        // Packed RGB with a padded stride comes out packed.
        let mut rgb = want[..12].to_vec();
        rgb.extend([0, 0, 0]);
        rgb.extend(&want[12..]);
        rgb.extend([0, 0, 0]);
        c.convert(&frame(&rgb, PixelFormat::Rgb24, 4, 2, 15), &mut out)
            .unwrap();
        assert_eq!(out, want);
        let short = frame(&yuyv[..10], PixelFormat::Yuyv, 4, 2, 8);
        assert!(c.convert(&short, &mut out).is_err());
    }

    #[test]
    fn grey_is_copied_to_all_three_channels() {
        let grey = [0, 255, 17, 99];
        let mut out = Vec::new();
        ToRgb::new()
            .convert(&frame(&grey, PixelFormat::Grey, 2, 2, 2), &mut out)
            .unwrap();
        assert_eq!(out, [0, 0, 0, 255, 255, 255, 17, 17, 17, 99, 99, 99]);
    }
}
