//! Letterbox backend on `fast_image_resize` (SIMD bilinear interpolation,
//! the 2×2-tap algorithm of OpenCV's `INTER_LINEAR` that Ultralytics'
//! letterbox uses), or, in [`ResizeMode::Exact`], on the bit-exact Pillow
//! resampler in [`super::pillow`]. All buffers are allocated once for the model size and
//! reused per frame.

use fast_image_resize as fr;

use super::pillow::PillowResampler;
use super::{InputMap, Letterbox, Preprocess, PreprocessError, ResizeMode};
use crate::source::Frame;

/// Letterboxes RGB frames into a model input.
pub struct LetterboxResizer {
    dst_w: u32,
    dst_h: u32,
    pad: u8,
    map: InputMap,
    scratch: Vec<u8>,
    resizer: fr::Resizer,
    options: fr::ResizeOptions,
    mode: ResizeMode,
    exact: PillowResampler,
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
            resizer: fr::Resizer::new(),
            options: fr::ResizeOptions::new()
                .resize_alg(fr::ResizeAlg::Interpolation(fr::FilterType::Bilinear)),
            mode,
            exact: PillowResampler::default(),
        }
    }

    /// Letterboxes `frame` into `dst` (packed RGB8 of the model size): the
    /// padding is filled, the resized image written into the centre.
    fn letterbox(
        &mut self,
        frame: &Frame<'_>,
        lb: &Letterbox,
        dst: &mut [u8],
    ) -> Result<(), PreprocessError> {
        fill_padding(dst, lb, self.pad);
        if self.mode == ResizeMode::Exact {
            let pitch = self.dst_w as usize * 3;
            self.exact.resample(
                frame.pixels,
                frame.width as usize,
                frame.height as usize,
                lb.new_w as usize,
                lb.new_h as usize,
                dst,
                lb.top as usize * pitch + lb.left as usize * 3,
                pitch,
            );
            return Ok(());
        }
        let err = |e: &dyn std::fmt::Display| PreprocessError::Resize(e.to_string());
        let src =
            fr::images::ImageRef::new(frame.width, frame.height, frame.pixels, fr::PixelType::U8x3)
                .map_err(|e| err(&e))?;
        let mut dst =
            fr::images::Image::from_slice_u8(self.dst_w, self.dst_h, dst, fr::PixelType::U8x3)
                .map_err(|e| err(&e))?;
        let mut crop =
            fr::images::CroppedImageMut::new(&mut dst, lb.left, lb.top, lb.new_w, lb.new_h)
                .map_err(|e| err(&e))?;
        self.resizer
            .resize(&src, &mut crop, &self.options)
            .map_err(|e| err(&e))
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
        let need = frame.width as usize * frame.height as usize * 3;
        if frame.width == 0 || frame.height == 0 || frame.pixels.len() < need {
            return Err(PreprocessError::BadFrame {
                width: frame.width,
                height: frame.height,
                len: frame.pixels.len(),
            });
        }
        let expected = self.scratch.len() * self.map.element_size();
        if input.len() != expected {
            return Err(PreprocessError::InputSize {
                expected,
                actual: input.len(),
            });
        }
        let lb = Letterbox::new(frame.width, frame.height, self.dst_w, self.dst_h);
        if let InputMap::Bytes { identity: true, .. } = self.map {
            // The input takes pixels as they are: letterbox straight into it.
            self.letterbox(frame, &lb, input)?;
            return Ok(lb);
        }
        let mut scratch = std::mem::take(&mut self.scratch);
        let done = self.letterbox(frame, &lb, &mut scratch);
        self.scratch = scratch;
        done?;
        match &self.map {
            InputMap::Bytes { identity: true, .. } => {}
            InputMap::Bytes { table, .. } => {
                for (o, &p) in input.iter_mut().zip(&self.scratch) {
                    *o = table[usize::from(p)];
                }
            }
            InputMap::Float { table } => {
                for (o, &p) in input.chunks_exact_mut(4).zip(&self.scratch) {
                    o.copy_from_slice(&table[usize::from(p)].to_ne_bytes());
                }
            }
        }
        Ok(lb)
    }
}
