//! Sinks: where each frame's persons go. Every sink receives the same
//! per-frame result through [`Sink`]; backends: JSON lines ([`json`]) and
//! annotated image files ([`annotate`]).

pub mod annotate;
pub mod json;

use crate::pipeline::FrameResult;
use crate::source::Frame;

pub use annotate::Annotator;
pub use json::JsonLines;

/// Errors from sinks.
#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    #[error("cannot write {what}: {source}")]
    Write {
        what: String,
        #[source]
        source: std::io::Error,
    },
    #[error("annotation directory {path}: {why}")]
    AnnotateDir { path: String, why: String },
    #[error("cannot encode annotated image {path}: {why}")]
    Encode { path: String, why: String },
}

/// What every record says about the model and runtime.
#[derive(Debug, Clone)]
pub struct RecordMeta {
    pub model_id: String,
    pub runtime: String,
    pub keypoint_names: Vec<String>,
    pub skeleton: Vec<[usize; 2]>,
    /// Keypoints scoring below this are marked not visible.
    pub keypoint_threshold: f32,
}

/// A consumer of per-frame results.
pub trait Sink: Send {
    fn emit(
        &mut self,
        frame: &Frame<'_>,
        result: &FrameResult,
        meta: &RecordMeta,
    ) -> Result<(), SinkError>;
    fn flush(&mut self) -> Result<(), SinkError>;
}
