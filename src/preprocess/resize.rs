//! The letterbox stage: every frame format goes through the fused
//! converter in [`super::fused`] (OpenCV's `cvtColor` + `INTER_LINEAR`,
//! what Ultralytics' letterbox does), except packed RGB in
//! [`ResizeMode::Pillow`], which goes through the bit-exact Pillow
//! resampler in [`super::pillow`]. MJPEG/JPEG frames are decoded here first
//! (at full size, or at a reduced DCT scale in [`ResizeMode::Draft`]). All
//! buffers are allocated once and reused per frame.

use super::fused::Fused;
use super::jpeg::JpegDecoder;
use super::pillow::PillowResampler;
use super::{InputMap, Letterbox, Preprocess, PreprocessError, ResizeMode};
use crate::frame::{Frame, PixelFormat};

/// Letterboxes RGB frames into a model input.
pub struct LetterboxResizer {
    dst_w: u32,
    dst_h: u32,
    pad: u8,
    map: InputMap,
    scratch: Vec<u8>,
    mode: ResizeMode,
    exact: PillowResampler,
    fused: Fused,
    jpeg: JpegDecoder,
    jpeg_buf: Vec<u8>,
}

impl LetterboxResizer {
    /// A resizer into a `dst_w`×`dst_h` RGB input padded with `pad`.
    pub fn new(dst_w: u32, dst_h: u32, pad: u8, map: InputMap, mode: ResizeMode) -> Self {
        Self {
            dst_w,
            dst_h,
            pad,
            map,
            scratch: vec![pad; dst_w as usize * dst_h as usize * 3],
            mode,
            exact: PillowResampler::default(),
            fused: Fused::new(dst_w, dst_h),
            jpeg: JpegDecoder::default(),
            jpeg_buf: Vec::new(),
        }
    }

    /// Pillow-exact letterbox of packed RGB `pixels` into `dst` (packed
    /// RGB8 of the model size): the padding is filled, the resized image
    /// written into the centre.
    fn letterbox(
        &mut self,
        pixels: &[u8],
        lb: &Letterbox,
        dst: &mut [u8],
    ) -> Result<(), PreprocessError> {
        fill_padding(dst, lb, self.pad);
        let pitch = self.dst_w as usize * 3;
        self.exact.resample(
            pixels,
            lb.src_w as usize,
            lb.src_h as usize,
            lb.new_w as usize,
            lb.new_h as usize,
            dst,
            lb.top as usize * pitch + lb.left as usize * 3,
            pitch,
        );
        Ok(())
    }
}

/// Fills the letterbox borders (outside the resized image) with `pad`.
fn fill_padding(dst: &mut [u8], lb: &Letterbox, pad: u8) {
    let pitch = lb.dst_w as usize * 3;
    let (top, bottom) = (lb.top as usize, (lb.top + lb.new_h) as usize);
    let (left, right) = (lb.left as usize * 3, (lb.left + lb.new_w) as usize * 3);
    for (y, row) in dst.chunks_exact_mut(pitch).enumerate() {
        if y < top || y >= bottom {
            row.fill(pad);
        } else {
            row[..left].fill(pad);
            row[right..].fill(pad);
        }
    }
}

impl Preprocess for LetterboxResizer {
    fn prepare(
        &mut self,
        frame: &Frame<'_>,
        input: &mut [u8],
    ) -> Result<Letterbox, PreprocessError> {
        let expected = self.scratch.len() * self.map.element_size();
        if input.len() != expected {
            return Err(PreprocessError::InputSize {
                expected,
                actual: input.len(),
            });
        }
        if frame.format == PixelFormat::Mjpeg {
            return self.prepare_jpeg(frame, input);
        }
        if frame.width == 0 || frame.height == 0 {
            return Err(PreprocessError::BadFrame {
                width: frame.width,
                height: frame.height,
                len: frame.pixels.len(),
            });
        }
        if !frame.layout_fits() {
            return Err(PreprocessError::BadLayout {
                width: frame.width,
                height: frame.height,
                format: frame.format.fourcc(),
                stride: frame.stride,
                len: frame.pixels.len(),
            });
        }
        let lb = Letterbox::new(frame.width, frame.height, self.dst_w, self.dst_h);
        let packed_rgb =
            frame.format == PixelFormat::Rgb24 && frame.stride == frame.width as usize * 3;
        if !packed_rgb || self.mode != ResizeMode::Pillow {
            // Camera formats, and RGB outside Pillow mode: one fused pass.
            self.fused.letterbox(
                frame.pixels,
                frame.format,
                frame.stride,
                frame.yuv,
                (frame.width, frame.height),
                &lb,
                self.pad,
                &self.map,
                input,
            );
            return Ok(lb);
        }
        self.exact_rgb(frame.pixels, &lb, input)?;
        Ok(lb)
    }
}

impl LetterboxResizer {
    /// Exact (Pillow) letterbox of packed RGB, then the input map.
    fn exact_rgb(
        &mut self,
        pixels: &[u8],
        lb: &Letterbox,
        input: &mut [u8],
    ) -> Result<(), PreprocessError> {
        if let InputMap::Bytes { identity: true, .. } = self.map {
            // The input takes pixels as they are: letterbox straight into it.
            self.letterbox(pixels, lb, input)?;
            return Ok(());
        }
        let mut scratch = std::mem::take(&mut self.scratch);
        let done = self.letterbox(pixels, lb, &mut scratch);
        self.scratch = scratch;
        done?;
        self.map.map_row(&self.scratch, input);
        Ok(())
    }

    /// MJPEG / JPEG frames: decoded ([`super::jpeg`]) into a reused buffer
    /// (in draft mode at the smallest DCT scale, 1/2, 1/4 or 1/8, that still
    /// covers the letterboxed size), then letterboxed from RGB.
    fn prepare_jpeg(
        &mut self,
        frame: &Frame<'_>,
        input: &mut [u8],
    ) -> Result<Letterbox, PreprocessError> {
        let (dst_w, dst_h, draft) = (self.dst_w, self.dst_h, self.mode == ResizeMode::Draft);
        let mut buf = std::mem::take(&mut self.jpeg_buf);
        let decoded = self.jpeg.decode(
            frame,
            |w, h| {
                let lb = Letterbox::new(w, h, dst_w, dst_h);
                draft.then_some((lb.new_w, lb.new_h))
            },
            &mut buf,
        );
        self.jpeg_buf = buf;
        let d = decoded?;
        let lb = Letterbox::new(d.full.0, d.full.1, dst_w, dst_h);
        let (sw, sh) = d.size;
        if self.mode == ResizeMode::Pillow {
            let buf = std::mem::take(&mut self.jpeg_buf);
            let done = self.exact_rgb(&buf[..sw * sh * 3], &lb, input);
            self.jpeg_buf = buf;
            done?;
        } else {
            self.fused.letterbox(
                &self.jpeg_buf[..sw * sh * 3],
                PixelFormat::Rgb24,
                sw * 3,
                frame.yuv,
                (sw as u32, sh as u32),
                &lb,
                self.pad,
                &self.map,
                input,
            );
        }
        Ok(lb)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_whose_stride_overflows_or_that_are_short_are_refused() {
        use crate::frame::YuvEncoding;
        use crate::model::{ElementType, TensorInfo};
        let tensor = TensorInfo {
            name: "in".into(),
            shape: vec![1, 8, 8, 3],
            dtype: ElementType::U8,
            quant: None,
        };
        let map = InputMap::new(&tensor, [0.0, 1.0]);
        let mut pre = LetterboxResizer::new(8, 8, 114, map, ResizeMode::Opencv);
        let pixels = [7u8; 64];
        let mut input = [0u8; 8 * 8 * 3];
        let frame = |format, stride, height| Frame {
            pixels: &pixels,
            format,
            stride,
            yuv: YuvEncoding::Bt601Limited,
            width: 4,
            height,
            seq: 0,
            timestamp: std::time::Duration::ZERO,
            origin: "test",
        };
        // 4 × 4 GREY with stride 4 is 16 bytes: prepared.
        assert!(pre
            .prepare(&frame(PixelFormat::Grey, 4, 4), &mut input)
            .is_ok());
        // stride × height past usize (the raw_frame fuzz target's find):
        // refused, not a panic or a wrapped length.
        for (format, stride, height) in [
            (PixelFormat::Grey, usize::MAX / 2, 3),
            (PixelFormat::Nv12, usize::MAX / 2, 2),
            (PixelFormat::Yuyv, 1 << (usize::BITS - 2), 4),
            // Fits, but longer than the 64 bytes there are.
            (PixelFormat::Grey, 16, 5),
        ] {
            let e = pre.prepare(&frame(format, stride, height), &mut input);
            assert!(
                matches!(e, Err(PreprocessError::BadLayout { stride: s, .. }) if s == stride),
                "{format:?} stride {stride} height {height}: {e:?}"
            );
        }
    }
}
