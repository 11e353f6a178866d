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
use crate::report::{Records, RunReport};

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
    /// A sink that could not be opened, named as the user gave it.
    /// (Its message holds the inner error's: no `source` of its own.)
    #[error("{}", named(option, spec, inner))]
    Open {
        option: &'static str,
        spec: String,
        inner: Box<SinkError>,
    },
}

/// `OPTION SPEC: why`, without naming the sink twice when `why` starts
/// with the spec or with the sink's own name for itself (`serial DEVICE`).
fn named(option: &str, spec: &str, inner: &SinkError) -> String {
    let why = inner.to_string();
    let own = crate::spec::Spec::parse(spec)
        .ok()
        .and_then(|s| Some(format!("{} {}", s.kind?, s.target)));
    let why = [Some(spec.to_string()), own]
        .into_iter()
        .flatten()
        .find_map(|name| why.strip_prefix(name.as_str())?.strip_prefix(": "))
        .unwrap_or(&why);
    format!("{option} {spec}: {why}")
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
    /// For sinks that account for every record they were handed: how many,
    /// how many were delivered and how many still wait (with
    /// [`Sink::dropped`], every record is in exactly one of these).
    fn records(&self) -> Option<Records> {
        None
    }
    /// True for sinks that bound their own backlog and never block the
    /// frame loop (serial, MQTT, displays): `run` puts no [`queue::Queued`]
    /// in front of them, so each sink has exactly one queue.
    fn own_queue(&self) -> bool {
        false
    }
    /// Called instead of any emit when the run does not start after all
    /// (another sink, opened later, failed): removes what opening created
    /// (an empty output file, an empty directory), so nothing is left
    /// behind.
    fn discard(&mut self) {}
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
        // These take no options: any given is refused before a file or a
        // directory is created.
        Some("json") => {
            spec.finish()?;
            Box::new(JsonLines::open(&mut spec)?)
        }
        Some("annotate") => {
            spec.finish()?;
            Box::new(Annotator::new(std::path::Path::new(&spec.target))?)
        }
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

/// True when the sink `spec` names writes files (a JSON lines file, a
/// directory of annotated images), so it is opened after the others.
fn creates_files(spec: &str) -> bool {
    crate::spec::Spec::parse(spec).is_ok_and(|s| match s.kind.as_deref() {
        Some("json") => !s.target.is_empty() && s.target != "-",
        Some("annotate") => true,
        _ => false,
    })
}

/// Opens the `--sink` sinks `specs` name and, with `annotate`, the
/// `--annotate` directory, in the order given. Devices and brokers are
/// opened first, files and directories last; when one fails, what the
/// others created is removed again ([`Sink::discard`]), so a run that does
/// not start leaves nothing behind. The error names the sink as given.
pub fn open_all(
    specs: &[String],
    annotate: Option<&std::path::Path>,
) -> Result<Vec<Box<dyn Sink>>, SinkError> {
    let mut order: Vec<usize> = (0..specs.len()).collect();
    order.sort_by_key(|&i| creates_files(&specs[i]));
    let mut opened: Vec<(usize, Box<dyn Sink>)> = Vec::with_capacity(specs.len() + 1);
    let mut result = Ok(());
    for i in order {
        match open(&specs[i]) {
            Ok(s) => opened.push((i, s)),
            Err(e) => {
                result = Err(SinkError::Open {
                    option: "--sink",
                    spec: specs[i].clone(),
                    inner: Box::new(e),
                });
                break;
            }
        }
    }
    if let (Ok(()), Some(dir)) = (&result, annotate) {
        match Annotator::new(dir) {
            Ok(a) => opened.push((specs.len(), Box::new(a))),
            Err(e) => result = Err(e),
        }
    }
    if let Err(e) = result {
        for (_, s) in opened.iter_mut() {
            s.discard();
        }
        return Err(e);
    }
    opened.sort_by_key(|(i, _)| *i);
    Ok(opened.into_iter().map(|(_, s)| s).collect())
}
