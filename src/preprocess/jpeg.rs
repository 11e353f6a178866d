//! MJPEG / JPEG frames decoded by libjpeg-turbo (its default accurate IDCT
//! and fancy upsampling, as `cv2.imdecode` and the image source decode)
//! into a reused packed-RGB buffer, at full size or at the smallest DCT
//! scale (1/2, 1/4, 1/8) that still covers a given size. The letterbox
//! ([`super::resize`]) and the full-size RGB frames for drawing
//! ([`super::rgb`]) decode through here; `turbojpeg` stays in this file.

use super::PreprocessError;
use crate::frame::Frame;

/// A reusable JPEG decoder.
#[derive(Default)]
pub(super) struct JpegDecoder {
    dec: Option<turbojpeg::Decompressor>,
}

/// What [`JpegDecoder::decode`] made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Decoded {
    /// The image's own size.
    pub(super) full: (u32, u32),
    /// The decoded size (the full one, or a DCT scale of it).
    pub(super) size: (usize, usize),
}

impl JpegDecoder {
    /// Decodes `frame` (an MJPEG frame or a JPEG file) into `out` as packed
    /// RGB (grown to fit, never shrunk: no allocation once it holds the
    /// largest frame). `cover` gets the image's size and may ask for the
    /// smallest DCT scale that still covers a size; `None` decodes at full
    /// size. A frame that does not decode is [`PreprocessError::CorruptJpeg`].
    pub(super) fn decode(
        &mut self,
        frame: &Frame<'_>,
        cover: impl FnOnce(u32, u32) -> Option<(u32, u32)>,
        out: &mut Vec<u8>,
    ) -> Result<Decoded, PreprocessError> {
        let corrupt = |why: String| PreprocessError::CorruptJpeg {
            seq: frame.seq,
            origin: frame.origin.to_string(),
            why,
        };
        let data = jpeg_payload(frame.pixels).ok_or_else(|| {
            corrupt("no start-of-image/end-of-image markers: truncated frame".into())
        })?;
        if self.dec.is_none() {
            self.dec = Some(turbojpeg::Decompressor::new().map_err(|e| corrupt(e.to_string()))?);
        }
        let Some(dec) = self.dec.as_mut() else {
            return Err(corrupt("no JPEG decompressor".into()));
        };
        let header = dec.read_header(data).map_err(|e| corrupt(e.to_string()))?;
        let (w, h) = (header.width, header.height);
        crate::frame::check_image_size(w as u64, h as u64).map_err(corrupt)?;
        if matches!(
            header.colorspace,
            turbojpeg::Colorspace::CMYK | turbojpeg::Colorspace::YCCK
        ) {
            return Err(corrupt(crate::frame::CMYK_JPEG.into()));
        }
        let mut factor = turbojpeg::ScalingFactor::ONE;
        if let Some((cw, ch)) = cover(w as u32, h as u32) {
            for f in [
                turbojpeg::ScalingFactor::ONE_EIGHTH,
                turbojpeg::ScalingFactor::ONE_QUARTER,
                turbojpeg::ScalingFactor::ONE_HALF,
            ] {
                if f.scale(w) >= cw as usize && f.scale(h) >= ch as usize {
                    factor = f;
                    break;
                }
            }
        }
        dec.set_scaling_factor(factor)
            .map_err(|e| corrupt(e.to_string()))?;
        let (sw, sh) = (factor.scale(w), factor.scale(h));
        if out.len() < sw * sh * 3 {
            out.resize(sw * sh * 3, 0);
        }
        dec.decompress(
            data,
            turbojpeg::Image {
                pixels: &mut out[..sw * sh * 3],
                width: sw,
                pitch: sw * 3,
                height: sh,
                format: turbojpeg::PixelFormat::RGB,
            },
        )
        .map_err(|e| corrupt(e.to_string()))?;
        Ok(Decoded {
            full: (w as u32, h as u32),
            size: (sw, sh),
        })
    }
}

/// The JPEG inside a capture buffer: from the start-of-image marker to the
/// last end-of-image marker (drivers pad buffers and report `bytesused`
/// loosely); `None` when either marker is missing (a truncated frame).
pub fn jpeg_payload(buf: &[u8]) -> Option<&[u8]> {
    if buf.len() < 4 || buf[0] != 0xFF || buf[1] != 0xD8 {
        return None;
    }
    let end = buf.windows(2).rposition(|w| w == [0xFF, 0xD9])?;
    Some(&buf[..end + 2])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jpeg_payload_trims_padding_and_rejects_truncation() {
        let mut b = vec![0xFF, 0xD8, 1, 2, 3, 0xFF, 0xD9];
        assert_eq!(jpeg_payload(&b).map(<[u8]>::len), Some(7));
        b.extend_from_slice(&[0, 0, 0, 0]);
        assert_eq!(jpeg_payload(&b).map(<[u8]>::len), Some(7));
        assert_eq!(jpeg_payload(&b[..5]), None);
        assert_eq!(jpeg_payload(&[0xFF, 0xD9, 0xFF, 0xD9]), None);
    }
}
