//! Pre-processing: turns a decoded RGB frame into the model's input tensor.
//!
//! Letterbox to the model size keeping the aspect ratio (the geometry
//! Ultralytics uses: scale `r = min(H/h, W/w)`, resized size rounded, the
//! padding split with `round(d - 0.1)` on the top/left side), pad with the
//! manifest's pad value, then map every byte through a 256-entry table that
//! applies the value range and the input tensor's own quantization (uint8,
//! int8 or float32) in the same pass. The resize itself is done by the
//! backend in [`resize`]; docs/preprocessing.md says what each mode matches.
//! [`RgbConverter`] makes a frame's own pixels packed RGB at full size, for
//! the sinks that draw on them.

mod fused;
pub mod kernels;
pub mod opencv;
mod pillow;
mod resize;
mod rgb;

pub use fused::Fused;
pub use rgb::RgbConverter;

pub use resize::LetterboxResizer;

/// How the letterbox resize is computed.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Default,
    serde::Deserialize,
    serde::Serialize,
    clap::ValueEnum,
)]
#[serde(rename_all = "lowercase")]
pub enum ResizeMode {
    /// Byte-identical to OpenCV, as Ultralytics pre-processes: `cv2.imdecode`
    /// or `cv2.cvtColor` to RGB, then `cv2.resize(..., INTER_LINEAR)`; what
    /// the models were trained on. Every frame format. (Old name: `fast`.)
    #[default]
    #[value(alias = "fast")]
    #[serde(alias = "fast")]
    Opencv,
    /// Byte-identical to Pillow's antialiased `Image.resize(..., BILINEAR)`
    /// for decoded images (camera formats go the OpenCV way). For scripts
    /// that pre-process with Pillow. (Old name: `exact`.)
    #[value(alias = "exact")]
    #[serde(alias = "exact")]
    Pillow,
    /// OpenCV's resize, but MJPEG frames decoded at the smallest DCT scale
    /// (1/2, 1/4, 1/8) still covering the letterbox: faster on large MJPEG
    /// frames, not byte-identical to OpenCV. Opt-in.
    Draft,
}

use crate::frame::Frame;
use crate::model::{ElementType, Quant, TensorInfo};

/// Errors from pre-processing a frame.
#[derive(Debug, thiserror::Error)]
pub enum PreprocessError {
    #[error("frame {width}x{height} is empty or its buffer is too small ({len} bytes): the source produced a bad frame")]
    BadFrame { width: u32, height: u32, len: usize },
    #[error("input buffer is {actual} bytes, the model input needs {expected}")]
    InputSize { expected: usize, actual: usize },
    #[error("resize failed: {0}")]
    Resize(String),
    #[error("frame {seq} from {origin}: corrupt or truncated JPEG ({why}); skipped")]
    CorruptJpeg {
        seq: u64,
        origin: String,
        why: String,
    },
    #[error("frame {width}x{height} {format}: stride {stride} or length {len} too small for the format; the source produced a bad frame")]
    BadLayout {
        width: u32,
        height: u32,
        format: &'static str,
        stride: usize,
        len: usize,
    },
}

impl PreprocessError {
    /// True when only this frame is lost (a stream goes on with the next).
    pub fn is_per_frame(&self) -> bool {
        matches!(
            self,
            PreprocessError::CorruptJpeg { .. }
                | PreprocessError::BadLayout { .. }
                | PreprocessError::BadFrame { .. }
        )
    }
}

/// Letterbox geometry between a source image and the model input.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Letterbox {
    pub src_w: u32,
    pub src_h: u32,
    pub dst_w: u32,
    pub dst_h: u32,
    /// Scale from source to model pixels.
    pub scale: f64,
    pub new_w: u32,
    pub new_h: u32,
    pub left: u32,
    pub top: u32,
}

impl Letterbox {
    /// Geometry for a `src_w`×`src_h` image into `dst_w`×`dst_h`.
    pub fn new(src_w: u32, src_h: u32, dst_w: u32, dst_h: u32) -> Self {
        let scale = (f64::from(dst_h) / f64::from(src_h)).min(f64::from(dst_w) / f64::from(src_w));
        let new_w = ((f64::from(src_w) * scale).round_ties_even() as u32).clamp(1, dst_w);
        let new_h = ((f64::from(src_h) * scale).round_ties_even() as u32).clamp(1, dst_h);
        let dw = f64::from(dst_w - new_w) / 2.0;
        let dh = f64::from(dst_h - new_h) / 2.0;
        Self {
            src_w,
            src_h,
            dst_w,
            dst_h,
            scale,
            new_w,
            new_h,
            left: (dw - 0.1).round_ties_even().max(0.0) as u32,
            top: (dh - 0.1).round_ties_even().max(0.0) as u32,
        }
    }

    /// Maps a point in model-input pixels back to source pixels, clipped to
    /// the source image.
    pub fn to_source(&self, x: f32, y: f32) -> (f32, f32) {
        let sx = (f64::from(x) - f64::from(self.left)) / self.scale;
        let sy = (f64::from(y) - f64::from(self.top)) / self.scale;
        (
            sx.clamp(0.0, f64::from(self.src_w)) as f32,
            sy.clamp(0.0, f64::from(self.src_h)) as f32,
        )
    }
}

/// Byte-to-input-value table for one model input.
// Built once per pipeline; the size difference between variants is moot.
#[allow(clippy::large_enum_variant)]
#[derive(Clone)]
pub enum InputMap {
    /// One byte per element (uint8 or int8 bit pattern).
    Bytes { table: [u8; 256], identity: bool },
    /// float32 per element.
    Float { table: [f32; 256] },
}

impl InputMap {
    /// Builds the table for `input`, where pixel value 0..255 stands for a
    /// real value in `range` (linear).
    pub fn new(input: &TensorInfo, range: [f32; 2]) -> Self {
        let real = |p: usize| -> f64 {
            f64::from(p as f32 / 255.0) * f64::from(range[1] - range[0]) + f64::from(range[0])
        };
        match input.dtype {
            ElementType::F32 => {
                let mut table = [0f32; 256];
                for (p, t) in table.iter_mut().enumerate() {
                    *t = if range == [0.0, 1.0] {
                        p as f32 / 255.0
                    } else {
                        real(p) as f32
                    };
                }
                InputMap::Float { table }
            }
            dtype => {
                let (lo, hi) = if dtype == ElementType::I8 {
                    (-128.0, 127.0)
                } else {
                    (0.0, 255.0)
                };
                let q = |r: f64| -> f64 {
                    match input.quant {
                        Some(Quant { scale, zero_point }) => {
                            r / f64::from(scale) + f64::from(zero_point)
                        }
                        None => r,
                    }
                };
                let mut table = [0u8; 256];
                for (p, t) in table.iter_mut().enumerate() {
                    let v = q(real(p)).round_ties_even().clamp(lo, hi) as i32;
                    *t = v as u8; // int8 stored as its two's-complement byte
                }
                let identity = table.iter().enumerate().all(|(i, &v)| i == v as usize);
                InputMap::Bytes { table, identity }
            }
        }
    }

    /// Maps packed RGB bytes to input elements (`out` holds
    /// `rgb.len() * element_size()` bytes).
    pub fn map_row(&self, rgb: &[u8], out: &mut [u8]) {
        match self {
            InputMap::Bytes { identity: true, .. } => out.copy_from_slice(rgb),
            InputMap::Bytes { table, .. } => {
                for (o, &p) in out.iter_mut().zip(rgb) {
                    *o = table[usize::from(p)];
                }
            }
            InputMap::Float { table } => {
                for (o, &p) in out.chunks_exact_mut(4).zip(rgb) {
                    o.copy_from_slice(&table[usize::from(p)].to_ne_bytes());
                }
            }
        }
    }

    /// Bytes per element in the input tensor.
    pub fn element_size(&self) -> usize {
        match self {
            InputMap::Bytes { .. } => 1,
            InputMap::Float { .. } => 4,
        }
    }
}

/// The pre-processing stage boundary: fill the model input from a frame.
pub trait Preprocess: Send {
    /// Writes the model input for `frame` into `input` and returns the
    /// letterbox geometry used.
    fn prepare(
        &mut self,
        frame: &Frame<'_>,
        input: &mut [u8],
    ) -> Result<Letterbox, PreprocessError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tensor(dtype: ElementType, quant: Option<Quant>) -> TensorInfo {
        TensorInfo {
            name: "in".into(),
            shape: vec![1, 4, 4, 3],
            dtype,
            quant,
        }
    }

    #[test]
    fn resize_modes_parse_by_name_and_old_name() {
        use clap::ValueEnum;
        #[derive(serde::Deserialize)]
        struct F {
            resize: ResizeMode,
        }
        for (name, mode) in [
            ("opencv", ResizeMode::Opencv),
            ("fast", ResizeMode::Opencv),
            ("pillow", ResizeMode::Pillow),
            ("exact", ResizeMode::Pillow),
            ("draft", ResizeMode::Draft),
        ] {
            assert_eq!(ResizeMode::from_str(name, false), Ok(mode), "{name}");
            let f: F = toml::from_str(&format!("resize = \"{name}\"")).unwrap();
            assert_eq!(f.resize, mode, "{name}");
        }
        assert_eq!(ResizeMode::default(), ResizeMode::Opencv);
        assert!(ResizeMode::from_str("bilinear", false).is_err());
    }

    #[test]
    fn letterbox_matches_ultralytics_geometry() {
        // bus.jpg 810x1080 into 320: r = 320/1080, 240x320, 40 px left.
        let lb = Letterbox::new(810, 1080, 320, 320);
        assert_eq!((lb.new_w, lb.new_h, lb.left, lb.top), (240, 320, 40, 0));
        // zidane.jpg 1280x720: 320x180, top = round(70 - 0.1) = 70.
        let lb = Letterbox::new(1280, 720, 320, 320);
        assert_eq!((lb.new_w, lb.new_h, lb.left, lb.top), (320, 180, 0, 70));
        // odd padding: 3 px total → top 1 (round(1.4)), bottom 2.
        let lb = Letterbox::new(100, 97, 100, 100);
        assert_eq!((lb.new_h, lb.top), (97, 1));
        let (x, y) = lb.to_source(50.0, 1.0);
        assert_eq!((x, y), (50.0, 0.0));
    }

    #[test]
    fn int8_zero_point_minus_128_is_pixel_xor_0x80() {
        let t = tensor(
            ElementType::I8,
            Some(Quant {
                scale: 1.0 / 255.0,
                zero_point: -128,
            }),
        );
        let InputMap::Bytes { table, identity } = InputMap::new(&t, [0.0, 1.0]) else {
            panic!("int8 input must map to bytes");
        };
        assert!(!identity);
        for (p, &q) in table.iter().enumerate() {
            assert_eq!(q, (p as u8) ^ 0x80, "pixel {p}");
        }
    }

    #[test]
    fn uint8_scale_1_over_255_is_identity_and_float_divides() {
        let t = tensor(
            ElementType::U8,
            Some(Quant {
                scale: 1.0 / 255.0,
                zero_point: 0,
            }),
        );
        assert!(matches!(
            InputMap::new(&t, [0.0, 1.0]),
            InputMap::Bytes { identity: true, .. }
        ));
        let InputMap::Float { table } = InputMap::new(&tensor(ElementType::F32, None), [0.0, 1.0])
        else {
            panic!("float input");
        };
        assert_eq!(table[255], 1.0);
        assert_eq!(table[51], 51.0 / 255.0);
    }

    #[test]
    fn quantization_rounds_rather_than_truncates() {
        // scale 0.5/255 doubles the pixel; zp 3; range [0,1]: q = 2p + 3 (clamped).
        let t = tensor(
            ElementType::U8,
            Some(Quant {
                scale: 0.5 / 255.0,
                zero_point: 3,
            }),
        );
        let InputMap::Bytes { table, .. } = InputMap::new(&t, [0.0, 1.0]) else {
            panic!()
        };
        assert_eq!(table[10], 23);
        assert_eq!(table[200], 255);
        // scale 3/255: p/3 rounded: 4/3 → 1, 5/3 → 2 (truncation would give 1).
        let t = tensor(
            ElementType::U8,
            Some(Quant {
                scale: 3.0 / 255.0,
                zero_point: 0,
            }),
        );
        let InputMap::Bytes { table, .. } = InputMap::new(&t, [0.0, 1.0]) else {
            panic!()
        };
        assert_eq!((table[4], table[5]), (1, 2));
    }
}
