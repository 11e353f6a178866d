//! A frame's own pixels as packed RGB at full size, for the sinks that draw
//! on them (annotated images, the web preview): packed RGB is copied row by
//! row (dropping any stride padding), YUYV, NV12 and GREY go through the
//! fused converter of [`super::fused`] at scale 1 (its bilinear taps then
//! fall on whole pixels, so it is a plain colour conversion with the
//! frame's YCbCr matrix), MJPEG is decoded by libjpeg-turbo at full scale.
//! Buffers grow to the largest frame once and are reused.

use super::fused::Fused;
use super::resize::jpeg_payload;
use super::{InputMap, Letterbox, PreprocessError};
use crate::frame::{Frame, PixelFormat};

/// Makes packed RGB of any frame format.
#[derive(Default)]
pub struct RgbConverter {
    /// The converter and the frame width it was made for.
    fused: Option<(Fused, u32, u32)>,
    jpeg: Option<turbojpeg::Decompressor>,
}

/// The input map that passes bytes through.
fn identity() -> InputMap {
    let mut table = [0u8; 256];
    for (i, t) in table.iter_mut().enumerate() {
        *t = i as u8;
    }
    InputMap::Bytes {
        table,
        identity: true,
    }
}

impl RgbConverter {
    /// Writes `frame` as packed RGB into `out` (resized to fit) and returns
    /// its width and height.
    pub fn convert(
        &mut self,
        frame: &Frame<'_>,
        out: &mut Vec<u8>,
    ) -> Result<(u32, u32), PreprocessError> {
        let (w, h) = (frame.width, frame.height);
        let bad_layout = || PreprocessError::BadLayout {
            width: w,
            height: h,
            format: frame.format.fourcc(),
            stride: frame.stride,
            len: frame.pixels.len(),
        };
        if frame.format == PixelFormat::Mjpeg {
            return self.jpeg(frame, out);
        }
        if w == 0 || h == 0 {
            return Err(PreprocessError::BadFrame {
                width: w,
                height: h,
                len: frame.pixels.len(),
            });
        }
        if !frame.layout_fits() {
            return Err(bad_layout());
        }
        let row = w as usize * 3;
        out.resize(row * h as usize, 0);
        if frame.format == PixelFormat::Rgb24 {
            for (dst, src) in out
                .chunks_exact_mut(row)
                .zip(frame.pixels.chunks(frame.stride))
            {
                dst.copy_from_slice(&src[..row]);
            }
            return Ok((w, h));
        }
        if !matches!(&self.fused, Some((_, fw, fh)) if (*fw, *fh) == (w, h)) {
            self.fused = Some((Fused::new(w, h), w, h));
        }
        let Some((fused, ..)) = self.fused.as_mut() else {
            return Err(bad_layout());
        };
        fused.letterbox(
            frame.pixels,
            frame.format,
            frame.stride,
            frame.yuv,
            (w, h),
            &Letterbox::new(w, h, w, h),
            0,
            &identity(),
            out,
        );
        Ok((w, h))
    }

    /// A JPEG frame decoded at full size.
    fn jpeg(
        &mut self,
        frame: &Frame<'_>,
        out: &mut Vec<u8>,
    ) -> Result<(u32, u32), PreprocessError> {
        let corrupt = |why: String| PreprocessError::CorruptJpeg {
            seq: frame.seq,
            origin: frame.origin.to_string(),
            why,
        };
        let data = jpeg_payload(frame.pixels).ok_or_else(|| {
            corrupt("no start-of-image/end-of-image markers: truncated frame".into())
        })?;
        if self.jpeg.is_none() {
            self.jpeg = Some(turbojpeg::Decompressor::new().map_err(|e| corrupt(e.to_string()))?);
        }
        let Some(dec) = self.jpeg.as_mut() else {
            return Err(corrupt("no JPEG decompressor".into()));
        };
        let header = dec.read_header(data).map_err(|e| corrupt(e.to_string()))?;
        let (w, h) = (header.width, header.height);
        if w == 0 || h == 0 || w > 16384 || h > 16384 {
            return Err(corrupt(format!("implausible size {w}x{h}")));
        }
        dec.set_scaling_factor(turbojpeg::ScalingFactor::ONE)
            .map_err(|e| corrupt(e.to_string()))?;
        out.resize(w * h * 3, 0);
        dec.decompress(
            data,
            turbojpeg::Image {
                pixels: out.as_mut_slice(),
                width: w,
                pitch: w * 3,
                height: h,
                format: turbojpeg::PixelFormat::RGB,
            },
        )
        .map_err(|e| corrupt(e.to_string()))?;
        Ok((w as u32, h as u32))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::YuvEncoding;

    fn frame(pixels: &[u8], format: PixelFormat, stride: usize, w: u32, h: u32) -> Frame<'_> {
        Frame {
            format,
            stride,
            yuv: YuvEncoding::Bt601Full,
            ..Frame::rgb(pixels, w, h, "test")
        }
    }

    #[test]
    fn strided_rgb_loses_its_padding() {
        // 2x2 RGB rows padded to 8 bytes.
        let px = [1, 2, 3, 4, 5, 6, 0, 0, 7, 8, 9, 10, 11, 12, 0, 0];
        let mut out = Vec::new();
        let size = RgbConverter::default()
            .convert(&frame(&px, PixelFormat::Rgb24, 8, 2, 2), &mut out)
            .unwrap();
        assert_eq!(size, (2, 2));
        assert_eq!(out, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    }

    #[test]
    fn yuyv_and_grey_convert_pixel_for_pixel() {
        // Full-range BT.601: Y=U=V=128 is grey 128; U=V=128 keeps Y as is.
        let yuyv = [128, 128, 60, 128, 200, 128, 10, 128];
        let mut out = Vec::new();
        let mut c = RgbConverter::default();
        c.convert(&frame(&yuyv, PixelFormat::Yuyv, 4, 2, 2), &mut out)
            .unwrap();
        assert_eq!(out, [128, 128, 128, 60, 60, 60, 200, 200, 200, 10, 10, 10]);
        // Pure red in full-range BT.601: Y 76, U 85, V 255.
        let red = [76, 85, 76, 255];
        c.convert(&frame(&red, PixelFormat::Yuyv, 4, 2, 1), &mut out)
            .unwrap();
        for px in out.chunks(3) {
            assert!(px[0] >= 253 && px[1] <= 2 && px[2] <= 2, "{px:?}");
        }
        let grey = [0, 255, 17, 99];
        c.convert(&frame(&grey, PixelFormat::Grey, 2, 2, 2), &mut out)
            .unwrap();
        assert_eq!(out, [0, 0, 0, 255, 255, 255, 17, 17, 17, 99, 99, 99]);
    }

    #[test]
    fn short_frames_are_refused() {
        let mut out = Vec::new();
        let e = RgbConverter::default()
            .convert(&frame(&[0; 7], PixelFormat::Yuyv, 4, 2, 2), &mut out)
            .unwrap_err();
        assert!(matches!(e, PreprocessError::BadLayout { .. }), "{e}");
        let e = RgbConverter::default()
            .convert(
                &frame(&[0xFF, 0xD8, 0], PixelFormat::Mjpeg, 0, 0, 0),
                &mut out,
            )
            .unwrap_err();
        assert!(matches!(e, PreprocessError::CorruptJpeg { .. }), "{e}");
    }
}
