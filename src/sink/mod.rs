//! Sinks: where each frame's persons go. Every sink receives the same
//! per-frame result through [`Sink`]; backends: JSON lines ([`json`]),
//! annotated image files ([`annotate`]), a serial port ([`serial`]; its
//! binary format is the [`edgepose_wire`] crate, its receiving end
//! `edgepose listen`), and, with their cargo features (on by default), an
//! MQTT feed (`mqtt`), a live web preview (`http`) and small displays
//! (`display`, drawing with [`crate::display`]). [`queue`] puts a sink that
//! has no queue of its own behind a bounded one on its own thread. Those
//! features are switched here only, in the module list and in [`open`].

pub mod annotate;
#[cfg(feature = "display")]
pub mod display;
#[cfg(feature = "http")]
pub mod http;
pub mod json;
#[cfg(feature = "mqtt")]
pub mod mqtt;
pub mod queue;
pub mod serial;

use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use crate::frame::{Frame, FrameResult, RecordMeta};
use crate::report::RunReport;

pub use annotate::Annotator;
pub use json::JsonLines;
pub use serial::SerialSink;

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
    #[error("MQTT broker {broker}: {why}")]
    Mqtt { broker: String, why: String },
    #[error(transparent)]
    Spec(#[from] crate::spec::SpecError),
    #[error("sink {name}: its thread panicked; this is a bug, please report it")]
    Thread { name: String },
    #[error("serial {path}: {why}")]
    Serial { path: String, why: String },
    #[error("http {addr}: {why}")]
    Http { addr: String, why: String },
    #[cfg(feature = "display")]
    #[error(transparent)]
    Panel(#[from] crate::display::panel::PanelError),
    #[error("{spec}: unknown sink kind; expected one of: {expected}")]
    UnknownKind {
        spec: String,
        expected: &'static str,
    },
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
    /// A short name for threads and messages.
    fn name(&self) -> String {
        "sink".into()
    }
    /// True for sinks that draw on the frame's pixels (annotated images):
    /// they run on the frame loop's thread, where the pixels are.
    fn wants_pixels(&self) -> bool {
        false
    }
    /// For sinks that draw on the pixels only now and then (the web
    /// preview, while someone watches): a flag the sink sets while it wants
    /// them. The capture thread reads it for each frame and keeps the
    /// frame's RGB pixels only while it is set, so nobody watching costs
    /// nothing.
    fn pixels_on_demand(&self) -> Option<Arc<AtomicBool>> {
        None
    }
    /// True when the sink shows the run's live counters and wants a fresh
    /// [`RunReport`] (the web preview while its statistics are watched);
    /// the frame loop then hands it one through [`Sink::live_report`], at most a
    /// few times a second.
    fn wants_live_report(&self) -> bool {
        false
    }
    /// The run so far (frames, per-stage latencies, drops of every stage
    /// and sink), when [`Sink::wants_live_report`] asked for it.
    fn live_report(&mut self, _report: &RunReport) {}
    /// Results this sink dropped so far because it fell behind (its queue
    /// or slots were full); `None` for sinks that never drop.
    fn dropped(&self) -> Option<u64> {
        None
    }
    /// True for sinks that bound their own backlog and never block the
    /// frame loop (serial, MQTT, displays): `run` puts no [`queue::Queued`]
    /// in front of them, so each sink has exactly one queue.
    fn own_queue(&self) -> bool {
        false
    }
}

/// Sink kinds [`open`] knows.
pub const KINDS: &str = "json, annotate, mqtt, serial, http, ssd1306, st7789, ili9341, fb";

/// Opens the sink a `--sink` specification names (see [`crate::spec`]):
/// `json` (standard output), `json:PATH`, `annotate:DIR`,
/// `mqtt://HOST:PORT` (`mqtt`), `serial:DEVICE?baud=...` ([`serial`]),
/// `http:ADDR:PORT` (`http`), and displays `ssd1306:/dev/i2c-1`,
/// `st7789:/dev/spidev0.0?dc=..`,
/// `ili9341:..`, `fb:/dev/fb0` (see each module). Each backend
/// parses its own options from the spec and rejects unknown ones. A kind
/// whose feature this build left out is an error naming the feature.
pub fn open(spec: &str) -> Result<Box<dyn Sink>, SinkError> {
    let mut spec = crate::spec::Spec::parse(spec)?;
    let sink: Box<dyn Sink> = match spec.kind.as_deref() {
        Some("json") => Box::new(JsonLines::open(&mut spec)?),
        Some("annotate") => Box::new(Annotator::new(std::path::Path::new(&spec.target))?),
        Some("serial") => Box::new(SerialSink::open(&mut spec)?),
        #[cfg(feature = "mqtt")]
        Some("mqtt") => Box::new(mqtt::MqttSink::open(&mut spec)?),
        #[cfg(not(feature = "mqtt"))]
        Some("mqtt") => return Err(spec.not_built("mqtt").into()),
        #[cfg(feature = "http")]
        Some("http") => Box::new(http::HttpSink::open(&mut spec)?),
        #[cfg(not(feature = "http"))]
        Some("http") => return Err(spec.not_built("http").into()),
        #[cfg(feature = "display")]
        Some("ssd1306" | "st7789" | "ili9341" | "fb") => Box::new(display::open(&mut spec)?),
        #[cfg(not(feature = "display"))]
        Some("ssd1306" | "st7789" | "ili9341" | "fb") => {
            return Err(spec.not_built("display").into())
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
