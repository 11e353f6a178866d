//! Letterbox backend on `fast_image_resize` (SIMD convolution resize; its
//! bilinear filter is the same antialiased filter as Pillow's `BILINEAR`),
//! or, in [`ResizeMode::Exact`], on the bit-exact Pillow resampler in
//! [`super::pillow`]. All buffers are allocated once for the model size and
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
                .resize_alg(fr::ResizeAlg::Convolution(fr::FilterType::Bilinear)),
            mode,
            exact: PillowResampler::default(),
        }
    }

    /// The letterboxed 8-bit RGB image of the last frame (before the input
    /// mapping), `dst_w * dst_h * 3` bytes.
    pub fn letterboxed(&self) -> &[u8] {
        &self.scratch
    }

    fn letterbox(&mut self, frame: &Frame<'_>, lb: &Letterbox) -> Result<(), PreprocessError> {
        self.scratch.fill(self.pad);
        if self.mode == ResizeMode::Exact {
            let pitch = self.dst_w as usize * 3;
            self.exact.resample(
                frame.pixels,
                frame.width as usize,
                frame.height as usize,
                lb.new_w as usize,
                lb.new_h as usize,
                &mut self.scratch,
                lb.top as usize * pitch + lb.left as usize * 3,
                pitch,
            );
            return Ok(());
        }
        let src =
            fr::images::ImageRef::new(frame.width, frame.height, frame.pixels, fr::PixelType::U8x3)
                .map_err(|e| PreprocessError::Resize(e.to_string()))?;
        let mut dst = fr::images::Image::from_slice_u8(
            self.dst_w,
            self.dst_h,
            &mut self.scratch,
            fr::PixelType::U8x3,
        )
        .map_err(|e| PreprocessError::Resize(e.to_string()))?;
        let mut crop =
            fr::images::CroppedImageMut::new(&mut dst, lb.left, lb.top, lb.new_w, lb.new_h)
                .map_err(|e| PreprocessError::Resize(e.to_string()))?;
        self.resizer
            .resize(&src, &mut crop, &self.options)
            .map_err(|e| PreprocessError::Resize(e.to_string()))
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
        self.letterbox(frame, &lb)?;
        match &self.map {
            InputMap::Bytes { identity: true, .. } => input.copy_from_slice(&self.scratch),
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
