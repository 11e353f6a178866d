//! Model manifests: one TOML file per model in `models/`, embedded into the
//! binary at build time, with unknown fields rejected. A manifest only says
//! what the `.tflite` file cannot: provenance (file, sha256, licence,
//! source), how pixels map to input values, the output layout, and the
//! keypoint names and skeleton.

use serde::{Deserialize, Serialize};

use super::{ElementType, ModelError, ModelInterface};

/// COCO-17 keypoint names in model order.
pub const COCO17_NAMES: [&str; 17] = [
    "nose",
    "left_eye",
    "right_eye",
    "left_ear",
    "right_ear",
    "left_shoulder",
    "right_shoulder",
    "left_elbow",
    "right_elbow",
    "left_wrist",
    "right_wrist",
    "left_hip",
    "right_hip",
    "left_knee",
    "right_knee",
    "left_ankle",
    "right_ankle",
];

/// COCO-17 skeleton edges (0-based keypoint indices).
pub const COCO17_SKELETON: [[usize; 2]; 19] = [
    [15, 13],
    [13, 11],
    [16, 14],
    [14, 12],
    [11, 12],
    [5, 11],
    [6, 12],
    [5, 6],
    [5, 7],
    [6, 8],
    [7, 9],
    [8, 10],
    [1, 2],
    [0, 1],
    [0, 2],
    [1, 3],
    [2, 4],
    [3, 5],
    [4, 6],
];

/// Output tensor layouts the decoders understand.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Layout {
    /// Ultralytics anchor-free head `[1, 5+3K, N]`.
    YoloAnchorFree,
    /// TI edgeai-yolov5 yolo-pose raw heads, anchor based, one output per stride.
    TiAnchor,
    /// TI yolo-pose export with NMS in the graph: `[N, 57]` (x1,y1,x2,y2,score,class,kpts).
    TiNms,
    /// YOLOv7-pose `[1, N, 57]` (cx,cy,w,h,obj,cls,kpts), already decoded.
    Yolov7Pose,
    /// MoveNet SinglePose `[1,1,K,3]` (y, x, score), normalised.
    Movenet,
    /// Ultralytics anchor-free pose cut before its decode (model factory
    /// `int8-heads`): per stride, NHWC box-distribution, class and keypoint heads.
    YoloRawHeads,
    /// Ultralytics NMS-free end-to-end export (YOLO26-pose): `[1, N, 6+3K]`
    /// rows x1,y1,x2,y2,score,class,kpts, one per person.
    YoloEndToEnd,
}

impl Layout {
    pub fn name(self) -> &'static str {
        match self {
            Layout::YoloAnchorFree => "yolo-anchor-free",
            Layout::TiAnchor => "ti-anchor",
            Layout::TiNms => "ti-nms",
            Layout::Yolov7Pose => "yolov7-pose",
            Layout::Movenet => "movenet",
            Layout::YoloRawHeads => "yolo-raw-heads",
            Layout::YoloEndToEnd => "yolo-end-to-end",
        }
    }
}

/// How box and keypoint coordinates are expressed in the output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Coords {
    /// Decide from the values (normalised if no centre exceeds 2.0).
    #[default]
    Auto,
    /// 0..1 of the model input size.
    Normalized,
    /// Pixels of the model input.
    Pixels,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct InputSpec {
    /// Expected input `[height, width]`; checked against the model.
    pub size: [usize; 2],
    /// Expected input element type (`uint8`, `int8`, `float32`); checked.
    pub dtype: String,
    /// Real value range that pixel 0..255 maps to before quantization.
    #[serde(default = "default_range")]
    pub range: [f32; 2],
    /// Letterbox padding value (pixel units).
    #[serde(default = "default_pad")]
    pub pad_value: u8,
}

fn default_range() -> [f32; 2] {
    [0.0, 1.0]
}
fn default_pad() -> u8 {
    114
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct OutputSpec {
    pub layout: Layout,
    #[serde(default)]
    pub coords: Coords,
    /// Anchor-based layouts: strides of the heads, in output order.
    #[serde(default)]
    pub strides: Vec<f32>,
    /// Anchor-based layouts: per head, (w, h) pairs in input pixels.
    #[serde(default)]
    pub anchors: Vec<Vec<[f32; 2]>>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct KeypointSpec {
    pub names: Vec<String>,
    pub skeleton: Vec<[usize; 2]>,
}

impl KeypointSpec {
    pub fn coco17() -> Self {
        Self {
            names: COCO17_NAMES.iter().map(|s| s.to_string()).collect(),
            skeleton: COCO17_SKELETON.to_vec(),
        }
    }
}

/// Where a model made by the model factory (`scripts/quantize.sh`) came
/// from: enough to reproduce it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Provenance {
    /// File name of the float model it was made from.
    pub source_model: String,
    pub source_sha256: String,
    /// Factory recipe (`int8`, `int8-heads`, `int8-float-decode`, `dynamic`, `float-heads`).
    pub recipe: String,
    /// The calibration set, when the recipe needs one.
    #[serde(default)]
    pub calibration: Option<CalibrationRecord>,
    /// Tool name → version (quantizer, runtime, edgepose).
    #[serde(default)]
    pub tools: std::collections::BTreeMap<String, String>,
    /// The factory command line.
    #[serde(default)]
    pub command: String,
}

/// The frames a model was calibrated on.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct CalibrationRecord {
    /// The source as given (folder or `raw:` recording).
    pub source: String,
    /// Frames used (evenly spaced over the source) of those readable.
    pub frames: usize,
    pub frames_in_source: usize,
    /// sha256 of the calibration tensors (edgepose's letterboxed inputs).
    pub sha256: String,
}

/// One model manifest.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub id: String,
    pub file: String,
    pub sha256: Option<String>,
    pub licence: String,
    /// Upstream download address of the file.
    pub source: String,
    #[serde(default)]
    pub description: String,
    pub input: InputSpec,
    pub output: OutputSpec,
    pub keypoints: KeypointSpec,
    /// Set by the model factory on the models it writes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provenance: Option<Provenance>,
}

/// The manifests shipped in `models/`, embedded at build time.
const BUILTIN: &[(&str, &str)] = &[
    (
        "yolov8n_320_quant_pc_uf_pose_coco-st.toml",
        include_str!("../../models/yolov8n_320_quant_pc_uf_pose_coco-st.toml"),
    ),
    (
        "yolov8n_256_quant_pc_uf_pose_coco-st.toml",
        include_str!("../../models/yolov8n_256_quant_pc_uf_pose_coco-st.toml"),
    ),
    (
        "yolo11n_256_quant_pc_uf_pose_coco-st.toml",
        include_str!("../../models/yolo11n_256_quant_pc_uf_pose_coco-st.toml"),
    ),
    (
        "yolo11n-pose-320-float32.toml",
        include_str!("../../models/yolo11n-pose-320-float32.toml"),
    ),
    (
        "yolo11n-pose-320-int8.toml",
        include_str!("../../models/yolo11n-pose-320-int8.toml"),
    ),
    (
        "movenet-singlepose-lightning-int8-4.toml",
        include_str!("../../models/movenet-singlepose-lightning-int8-4.toml"),
    ),
];

/// Largest manifest file read (a manifest is a few hundred bytes).
pub const MAX_MANIFEST_BYTES: u64 = crate::files::MANIFEST.cap;

/// Id of the default model.
pub const DEFAULT_MODEL: &str = "yolov8n_320_quant_pc_uf_pose_coco-st.tflite";

/// Parses the built-in manifests.
pub fn builtin() -> Result<Vec<Manifest>, ModelError> {
    BUILTIN
        .iter()
        .map(|(name, text)| Manifest::parse(name, text))
        .collect()
}

impl Manifest {
    /// Parses and validates a manifest; `path` names it in errors.
    pub fn parse(path: &str, text: &str) -> Result<Self, ModelError> {
        let m: Manifest = crate::files::parse_toml(text).map_err(|why| ModelError::Manifest {
            path: path.to_string(),
            why,
        })?;
        m.validate(path)?;
        Ok(m)
    }

    /// Reads and parses a manifest file.
    pub fn load(path: &std::path::Path) -> Result<Self, ModelError> {
        let text = crate::files::read_text(path, crate::files::MANIFEST).map_err(|e| {
            ModelError::Manifest {
                path: path.display().to_string(),
                why: e.to_string(),
            }
        })?;
        Self::parse(&path.display().to_string(), &text)
    }

    fn validate(&self, path: &str) -> Result<(), ModelError> {
        let bad = |why: String| {
            Err(ModelError::Manifest {
                path: path.to_string(),
                why,
            })
        };
        let k = self.keypoints.names.len();
        if k == 0 {
            return bad("keypoints.names is empty".into());
        }
        if let Some(e) = self
            .keypoints
            .skeleton
            .iter()
            .find(|e| e[0] >= k || e[1] >= k)
        {
            return bad(format!("skeleton edge {e:?} refers past the {k} keypoints"));
        }
        if let Some(s) = &self.sha256 {
            if s.len() != 64 || !s.chars().all(|c| c.is_ascii_hexdigit()) {
                return bad(format!("sha256 must be 64 hex digits, got {s:?}"));
            }
        }
        if self.input.range[1] <= self.input.range[0] {
            return bad(format!(
                "input.range {:?} must be increasing",
                self.input.range
            ));
        }
        if self.output.layout == Layout::TiAnchor
            && (self.output.strides.is_empty()
                || self.output.anchors.len() != self.output.strides.len())
        {
            return bad(
                "layout ti-anchor needs output.strides and one output.anchors list per stride"
                    .into(),
            );
        }
        Ok(())
    }

    /// Builds a manifest for a model file that has none, from its interface.
    pub fn infer(path: &str, iface: &ModelInterface) -> Result<Self, ModelError> {
        let input = iface.inputs.first().ok_or_else(|| ModelError::NotTflite {
            path: path.to_string(),
            why: "it has no input tensor".into(),
        })?;
        let layout =
            guess_layout(iface, input_hw(&input.shape)).ok_or_else(|| ModelError::Mismatch {
                path: path.to_string(),
                why: format!(
                "its outputs {} match no known layout (yolo-anchor-free [1,5+3K,N], ti-nms [N,57], \
                 yolov7-pose [1,N,57], yolo-end-to-end [1,300,57], yolo-raw-heads [1,H/s,W/s,C] \
                 per stride, ti-anchor heads, movenet [1,1,K,3]); write a manifest for it",
                describe_shapes(iface)
            ),
            })?;
        let (h, w) = input_hw(&input.shape).unwrap_or((0, 0));
        let file = std::path::Path::new(path)
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or(path)
            .to_string();
        let movenet = layout == Layout::Movenet;
        Ok(Manifest {
            id: file.trim_end_matches(".tflite").to_string(),
            file,
            sha256: None,
            licence: "unknown".into(),
            source: "local file".into(),
            description: "manifest inferred from the model's interface".into(),
            input: InputSpec {
                size: [h, w],
                dtype: input.dtype.name().into(),
                range: if movenet { [0.0, 255.0] } else { [0.0, 1.0] },
                pad_value: if movenet { 0 } else { 114 },
            },
            output: OutputSpec {
                layout,
                coords: Coords::Auto,
                strides: vec![],
                anchors: vec![],
            },
            keypoints: KeypointSpec::coco17(),
            provenance: None,
        })
    }

    /// Checks that the model's interface is what this manifest expects.
    pub fn check_interface(&self, path: &str, iface: &ModelInterface) -> Result<(), ModelError> {
        let bad = |why: String| {
            Err(ModelError::Mismatch {
                path: path.to_string(),
                why,
            })
        };
        let [input] = iface.inputs.as_slice() else {
            return bad(format!(
                "expected one input tensor, found {}",
                iface.inputs.len()
            ));
        };
        match input_hw(&input.shape) {
            Some((h, w)) if [h, w] == self.input.size => {}
            _ => {
                return bad(format!(
                    "expected input [1,{},{},3], the model has {:?}",
                    self.input.size[0], self.input.size[1], input.shape
                ))
            }
        }
        if input.dtype.name() != self.input.dtype {
            return bad(format!(
                "expected {} input, the model has {}",
                self.input.dtype,
                input.dtype.name()
            ));
        }
        if !matches!(
            input.dtype,
            ElementType::F32 | ElementType::U8 | ElementType::I8
        ) {
            return bad(format!(
                "input type {} is not supported",
                input.dtype.name()
            ));
        }
        let k = self.keypoints.names.len();
        let ok = match self.output.layout {
            Layout::YoloAnchorFree => {
                iface.outputs.len() == 1
                    && matches!(iface.outputs[0].shape.as_slice(), [1, c, _] if *c == 5 + 3 * k)
            }
            Layout::Movenet => {
                iface.outputs.len() == 1 && iface.outputs[0].shape.as_slice() == [1, 1, k, 3]
            }
            Layout::TiNms => {
                iface.outputs.len() == 1
                    && matches!(iface.outputs[0].shape.as_slice(), [_, c] if *c == 6 + 3 * k)
            }
            Layout::Yolov7Pose | Layout::YoloEndToEnd => {
                iface.outputs.len() == 1
                    && matches!(iface.outputs[0].shape.as_slice(), [1, _, c] if *c == 6 + 3 * k)
            }
            Layout::YoloRawHeads => {
                let shapes: Vec<&[usize]> =
                    iface.outputs.iter().map(|o| o.shape.as_slice()).collect();
                let hw = (self.input.size[0], self.input.size[1]);
                if let Err(why) = super::heads::raw_levels(&shapes, k, hw) {
                    return bad(format!(
                        "outputs {} do not fit layout yolo-raw-heads: {why}",
                        describe_shapes(iface)
                    ));
                }
                true
            }
            Layout::TiAnchor => {
                iface.outputs.len() == self.output.strides.len()
                    && iface
                        .outputs
                        .iter()
                        .zip(&self.output.anchors)
                        .all(|(o, a)| {
                            super::heads::head_geometry(&o.shape, a.len(), 6 + 3 * k).is_some()
                        })
            }
        };
        if !ok {
            return bad(format!(
                "outputs {} do not fit layout {} with {k} keypoints",
                describe_shapes(iface),
                self.output.layout.name()
            ));
        }
        Ok(())
    }
}

/// `(height, width)` of an NHWC image input with 3 channels.
pub fn input_hw(shape: &[usize]) -> Option<(usize, usize)> {
    match shape {
        [1, h, w, 3] if *h > 0 && *w > 0 => Some((*h, *w)),
        _ => None,
    }
}

fn describe_shapes(iface: &ModelInterface) -> String {
    let parts: Vec<String> = iface
        .outputs
        .iter()
        .map(|o| format!("{:?}", o.shape))
        .collect();
    parts.join(", ")
}

/// Layout guess for COCO-17 models without a manifest. `[1, N, 57]` is
/// YOLOv7-pose when N is its anchor count for the input (3 anchors per cell
/// at strides 8, 16, 32), else an end-to-end export (N = its max_det).
fn guess_layout(iface: &ModelInterface, hw: Option<(usize, usize)>) -> Option<Layout> {
    let shapes: Vec<&[usize]> = iface.outputs.iter().map(|o| o.shape.as_slice()).collect();
    let yolov7_rows = hw.map(|(h, w)| {
        [8, 16, 32]
            .iter()
            .map(|s| 3 * h.div_ceil(*s) * w.div_ceil(*s))
            .sum::<usize>()
    });
    match shapes.as_slice() {
        [[1, 56, n]] if *n > 56 => Some(Layout::YoloAnchorFree),
        [[1, 1, 17, 3]] => Some(Layout::Movenet),
        [[_, 57]] => Some(Layout::TiNms),
        [[1, n, 57]] if Some(*n) == yolov7_rows => Some(Layout::Yolov7Pose),
        [[1, _, 57]] => Some(Layout::YoloEndToEnd),
        _ => hw
            .filter(|hw| super::heads::raw_levels(&shapes, 17, *hw).is_ok())
            .map(|_| Layout::YoloRawHeads),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_manifests_parse_and_default_exists() {
        let all = builtin().unwrap();
        assert_eq!(all.len(), 6);
        assert!(all.iter().any(|m| m.file == DEFAULT_MODEL));
        for m in &all {
            assert_eq!(m.keypoints.names.len(), 17, "{}", m.id);
        }
    }

    #[test]
    fn an_oversized_manifest_file_is_refused_before_it_is_parsed() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("big.toml");
        std::fs::write(&p, vec![b'#'; MAX_MANIFEST_BYTES as usize + 1]).unwrap();
        let err = Manifest::load(&p).unwrap_err().to_string();
        assert!(
            err.contains("it is 65537 bytes, more than the 64 KiB a manifest may have"),
            "{err}"
        );
    }

    #[test]
    fn unknown_manifest_field_is_rejected_with_its_name() {
        let text = include_str!("../../models/yolov8n_320_quant_pc_uf_pose_coco-st.toml")
            .replace("[output]", "[output]\nbogus_field = 1");
        let err = Manifest::parse("m.toml", &text).unwrap_err().to_string();
        assert!(err.contains("bogus_field"), "{err}");
    }

    #[test]
    fn skeleton_edge_out_of_range_is_rejected() {
        let mut m = builtin().unwrap().remove(0);
        m.keypoints.skeleton.push([3, 17]);
        let text = toml::to_string(&m).unwrap();
        let err = Manifest::parse("m.toml", &text).unwrap_err().to_string();
        assert!(err.contains("[3, 17]"), "{err}");
    }
}
