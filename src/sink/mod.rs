//! Sinks: where each frame's persons go. Every sink receives the same
//! per-frame result through [`Sink`]; backends: JSON lines ([`json`]) and
//! annotated image files ([`annotate`]); with the `display` feature, small
//! displays ([`panel`]: [`ssd1306`], [`st7789`], [`framebuffer`]).

pub mod annotate;
#[cfg(feature = "display")]
pub mod display;
#[cfg(feature = "display")]
pub mod framebuffer;
pub mod json;
#[cfg(feature = "display")]
pub mod panel;
#[cfg(feature = "display")]
pub mod ssd1306;
#[cfg(feature = "display")]
pub mod st7789;

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
    #[error(transparent)]
    Spec(#[from] crate::spec::SpecError),
    #[cfg(feature = "display")]
    #[error(transparent)]
    Panel(#[from] panel::PanelError),
    #[error("{spec}: this edgepose was built without the `display` feature; rebuild with it for display sinks")]
    NoDisplay { spec: String },
    #[error("{spec}: unknown sink kind; expected one of: {expected}")]
    UnknownKind {
        spec: String,
        expected: &'static str,
    },
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
    /// One line for the end-of-run summary (records sent, dropped, retried
    /// ...); `None` when the sink has nothing to report.
    fn summary(&self) -> Option<String> {
        None
    }
}

/// Sink kinds [`open`] knows.
pub const KINDS: &str = "json, annotate, ssd1306, st7789, ili9341, fb";

/// Opens the sink a `--sink` specification names (see [`crate::spec`]):
/// `json` (standard output), `json:PATH`, `annotate:DIR`, and displays
/// `ssd1306:/dev/i2c-1`, `st7789:/dev/spidev0.0?dc=..`, `ili9341:..`,
/// `fb:/dev/fb0` (see each module). Each backend
/// parses its own options from the spec and rejects unknown ones.
pub fn open(spec: &str) -> Result<Box<dyn Sink>, SinkError> {
    let mut spec = crate::spec::Spec::parse(spec)?;
    let sink: Box<dyn Sink> = match spec.kind.as_deref() {
        Some("json") => Box::new(JsonLines::open(&mut spec)?),
        Some("annotate") => Box::new(Annotator::new(std::path::Path::new(&spec.target))?),
        #[cfg(feature = "display")]
        Some("ssd1306") => Box::new(ssd1306::open(&mut spec)?),
        #[cfg(feature = "display")]
        Some("st7789") => Box::new(st7789::open(&mut spec, st7789::Controller::St7789)?),
        #[cfg(feature = "display")]
        Some("ili9341") => Box::new(st7789::open(&mut spec, st7789::Controller::Ili9341)?),
        #[cfg(feature = "display")]
        Some("fb") => Box::new(framebuffer::open(&mut spec)?),
        #[cfg(not(feature = "display"))]
        Some("ssd1306" | "st7789" | "ili9341" | "fb") => {
            return Err(SinkError::NoDisplay {
                spec: spec.text.clone(),
            })
        }
        _ => {
            return Err(SinkError::UnknownKind {
                spec: spec.text.clone(),
                expected: KINDS,
            })
        }
    };
    spec.finish()?;
    Ok(sink)
}
