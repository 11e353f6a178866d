//! Decoding: turns the model's raw output tensors into persons with boxes,
//! scores and keypoints, in model-input pixel coordinates.
//!
//! One decoder per output layout (see [`crate::model::Layout`]): Ultralytics
//! anchor-free YOLO-pose ([`yolo`]), the same cut before its decode
//! ([`raw_heads`]), TI's anchor-based YOLO-Pose heads, its NMS-in-graph
//! export, YOLOv7-pose and Ultralytics' NMS-free end-to-end export
//! (YOLO26-pose, the NMS export's columns) ([`ti`]), and MoveNet SinglePose
//! ([`movenet`]). Integer
//! outputs are dequantized with the tensor's own scale and zero point as
//! values are read. Each decoder reads its outputs into [`Candidates`]; the
//! step from candidates to persons (scaling to pixels, class-agnostic
//! greedy NMS from [`nms`], keypoints) is shared in [`candidates`]. All
//! buffers are reused across frames.

pub mod candidates;
pub mod movenet;
pub mod nms;
pub mod raw_heads;
pub mod ti;
pub mod yolo;

pub use candidates::{Candidates, Emit};

use crate::frame::{Keypoint, Person, MAX_KEYPOINTS};
use crate::model::{ElementType, Layout, Manifest, ModelInterface, Quant, TensorInfo};

/// Errors from decoding outputs.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("output {index} has {actual} bytes, expected {expected}: the runtime returned a tensor that does not match the model file")]
    OutputSize {
        index: usize,
        expected: usize,
        actual: usize,
    },
    #[error("layout {layout} cannot decode outputs {shapes}: {why}")]
    Layout {
        layout: &'static str,
        shapes: String,
        why: String,
    },
}

/// Persons found in one frame (reused across frames).
#[derive(Debug, Clone, Default)]
pub struct Detections {
    pub persons: Vec<Person>,
    pub num_keypoints: usize,
}

impl Detections {
    /// Empty detections with room for `max` persons of `k` keypoints.
    pub fn with_capacity(max: usize, k: usize) -> Self {
        Self {
            persons: Vec::with_capacity(max),
            num_keypoints: k,
        }
    }
}

/// Thresholds for decoding.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DecodeParams {
    /// Minimum person score (strictly greater for YOLO candidates).
    pub conf_threshold: f32,
    /// NMS suppresses a box whose IoU with a kept box exceeds this.
    pub iou_threshold: f32,
    /// Most persons kept per frame.
    pub max_detections: usize,
    /// Most candidates entering NMS.
    pub max_candidates: usize,
}

impl Default for DecodeParams {
    fn default() -> Self {
        Self {
            conf_threshold: 0.25,
            iou_threshold: 0.7,
            max_detections: 300,
            max_candidates: 30_000,
        }
    }
}

/// Access to the raw output tensors of the last inference.
pub trait Outputs {
    fn output(&self, index: usize) -> &[u8];
}

impl Outputs for [Vec<u8>] {
    fn output(&self, index: usize) -> &[u8] {
        self.get(index).map_or(&[], |v| v.as_slice())
    }
}

impl Outputs for Vec<Vec<u8>> {
    fn output(&self, index: usize) -> &[u8] {
        self.as_slice().output(index)
    }
}

/// Reads elements of one output tensor as dequantized f32.
#[derive(Debug, Clone, Copy)]
pub struct Dequant {
    dtype: ElementType,
    scale: f32,
    zero_point: f32,
}

impl Dequant {
    pub fn new(info: &TensorInfo) -> Self {
        let Quant { scale, zero_point } = info.quant.unwrap_or(Quant {
            scale: 1.0,
            zero_point: 0,
        });
        Self {
            dtype: info.dtype,
            scale,
            zero_point: zero_point as f32,
        }
    }

    /// Element `i` of `bytes` (caller guarantees bounds via [`check_len`]).
    #[inline]
    pub fn get(&self, bytes: &[u8], i: usize) -> f32 {
        match self.dtype {
            ElementType::F32 => {
                let b = &bytes[i * 4..i * 4 + 4];
                f32::from_ne_bytes([b[0], b[1], b[2], b[3]])
            }
            ElementType::U8 => (f32::from(bytes[i]) - self.zero_point) * self.scale,
            ElementType::I8 => (f32::from(bytes[i] as i8) - self.zero_point) * self.scale,
            ElementType::I16 => {
                let v = i16::from_ne_bytes([bytes[i * 2], bytes[i * 2 + 1]]);
                (f32::from(v) - self.zero_point) * self.scale
            }
            ElementType::I32 => {
                let b = &bytes[i * 4..i * 4 + 4];
                let v = i32::from_ne_bytes([b[0], b[1], b[2], b[3]]);
                (v as f32 - self.zero_point) * self.scale
            }
        }
    }
}

/// Checks that output `index` has the byte length its tensor needs.
pub fn check_len(index: usize, info: &TensorInfo, bytes: &[u8]) -> Result<(), DecodeError> {
    if bytes.len() == info.byte_len() {
        Ok(())
    } else {
        Err(DecodeError::OutputSize {
            index,
            expected: info.byte_len(),
            actual: bytes.len(),
        })
    }
}

/// The decoding stage boundary.
pub trait Decoder: Send {
    /// Decodes the current outputs into `out` (cleared first), in
    /// model-input pixel coordinates.
    fn decode(&mut self, outputs: &dyn Outputs, out: &mut Detections) -> Result<(), DecodeError>;
}

/// The logistic function.
#[inline]
pub fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}

/// Builds the decoder for a model's manifest and interface.
pub fn for_model(
    manifest: &Manifest,
    iface: &ModelInterface,
    params: DecodeParams,
) -> Result<Box<dyn Decoder>, DecodeError> {
    let k = manifest.keypoints.names.len();
    let input = [manifest.input.size[1] as f32, manifest.input.size[0] as f32];
    Ok(match manifest.output.layout {
        Layout::YoloAnchorFree => Box::new(yolo::YoloDecoder::new(
            &iface.outputs[0],
            k,
            input,
            manifest.output.coords,
            params,
        )?),
        Layout::Movenet => Box::new(movenet::MovenetDecoder::new(
            &iface.outputs[0],
            k,
            input,
            params,
        )?),
        Layout::TiNms | Layout::Yolov7Pose | Layout::YoloEndToEnd => {
            Box::new(ti::FlatDecoder::new(
                manifest.output.layout,
                &iface.outputs[0],
                k,
                input,
                manifest.output.coords,
                params,
            )?)
        }
        Layout::YoloRawHeads => Box::new(raw_heads::RawHeadsDecoder::new(
            &iface.outputs,
            k,
            (manifest.input.size[0], manifest.input.size[1]),
            params,
        )?),
        Layout::TiAnchor => Box::new(ti::AnchorDecoder::new(
            &iface.outputs,
            k,
            &manifest.output.strides,
            &manifest.output.anchors,
            params,
        )?),
    })
}

/// Shapes of tensors for error messages.
pub fn shapes(infos: &[TensorInfo]) -> String {
    let parts: Vec<String> = infos.iter().map(|t| format!("{:?}", t.shape)).collect();
    parts.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dequant_int8_with_nonzero_zero_point() {
        let info = TensorInfo {
            name: "o".into(),
            shape: vec![3],
            dtype: ElementType::I8,
            quant: Some(Quant {
                scale: 0.5,
                zero_point: -117,
            }),
        };
        let d = Dequant::new(&info);
        let bytes = [(-117i8) as u8, (-116i8) as u8, 10u8];
        assert_eq!(d.get(&bytes, 0), 0.0);
        assert_eq!(d.get(&bytes, 1), 0.5);
        assert_eq!(d.get(&bytes, 2), 63.5);
    }

    #[test]
    fn dequant_uint8_and_float() {
        let u = TensorInfo {
            name: "o".into(),
            shape: vec![2],
            dtype: ElementType::U8,
            quant: Some(Quant {
                scale: 0.25,
                zero_point: 128,
            }),
        };
        assert_eq!(Dequant::new(&u).get(&[128, 0], 1), -32.0);
        let f = TensorInfo {
            dtype: ElementType::F32,
            quant: None,
            ..u
        };
        let bytes: Vec<u8> = [1.5f32, -2.0]
            .iter()
            .flat_map(|v| v.to_ne_bytes())
            .collect();
        assert_eq!(Dequant::new(&f).get(&bytes, 1), -2.0);
    }
}
