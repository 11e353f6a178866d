//! JSON lines: one object per frame (schema 1), written through a reusable
//! buffer. The schema, with the fields tracking adds, is in docs/outputs.md.

use std::io::Write;

use serde::ser::{SerializeMap, SerializeSeq};
use serde::{Serialize, Serializer};

use super::{Sink, SinkError};
use crate::frame::{Frame, FrameResult, Person, RecordMeta, StageTimes, TrackMeta};

/// Schema version of the records.
pub const SCHEMA_VERSION: u32 = 1;

/// Writes JSON lines to any writer.
pub struct JsonLines {
    out: Box<dyn Write + Send>,
    what: String,
    buf: Vec<u8>,
    /// The file this sink created (it did not exist before), until a
    /// record is written: removed again by [`Sink::discard`].
    created: Option<std::path::PathBuf>,
}

impl JsonLines {
    /// JSON lines to `out`; `what` names it in errors.
    pub fn new(out: Box<dyn Write + Send>, what: &str) -> Self {
        Self {
            out,
            what: what.to_string(),
            buf: Vec::with_capacity(16 * 1024),
            created: None,
        }
    }

    /// JSON lines on standard output.
    pub fn stdout() -> Self {
        Self::new(Box::new(std::io::stdout()), "standard output")
    }

    /// `json` (standard output) or `json:PATH` (a file, created or truncated).
    pub fn open(spec: &mut crate::spec::Spec) -> Result<Self, SinkError> {
        if spec.target.is_empty() || spec.target == "-" {
            return Ok(Self::stdout());
        }
        let path = std::path::PathBuf::from(&spec.target);
        let existed = path.exists();
        let f = std::fs::File::create(&path).map_err(|e| SinkError::Write {
            what: spec.target.clone(),
            source: e,
        })?;
        let mut sink = Self::new(Box::new(std::io::BufWriter::new(f)), &spec.target);
        sink.created = (!existed).then_some(path);
        Ok(sink)
    }
}

/// Serialises one record and its newline into `buf` (cleared first): the
/// line `edgepose infer` prints, for sinks that send records elsewhere.
pub fn write_line(
    buf: &mut Vec<u8>,
    source: &str,
    result: &FrameResult,
    meta: &RecordMeta,
) -> Result<(), serde_json::Error> {
    buf.clear();
    serde_json::to_writer(
        &mut *buf,
        &Record {
            source,
            result,
            meta,
        },
    )?;
    buf.push(b'\n');
    Ok(())
}

/// A borrowed view of one record, serialised without copying.
pub struct Record<'a> {
    pub source: &'a str,
    pub result: &'a FrameResult,
    pub meta: &'a RecordMeta,
}

impl Serialize for Record<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let r = self.result;
        let mut m = s.serialize_map(Some(12))?;
        m.serialize_entry("schema", &SCHEMA_VERSION)?;
        m.serialize_entry("source", self.source)?;
        m.serialize_entry("seq", &r.seq)?;
        m.serialize_entry("timestamp_ms", &r.timestamp_ms)?;
        m.serialize_entry("width", &r.width)?;
        m.serialize_entry("height", &r.height)?;
        m.serialize_entry("model", &self.meta.model_id)?;
        m.serialize_entry("runtime", &self.meta.runtime)?;
        m.serialize_entry("tracked", &r.tracked)?;
        m.serialize_entry(
            "persons",
            &Persons {
                result: r,
                meta: self.meta,
            },
        )?;
        m.serialize_entry("timings_ms", &Times(&r.times))?;
        m.end()
    }
}

struct Persons<'a> {
    result: &'a FrameResult,
    meta: &'a RecordMeta,
}

impl Serialize for Persons<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let r = self.result;
        let mut seq = s.serialize_seq(Some(r.persons.len()))?;
        for (i, p) in r.persons.iter().enumerate() {
            seq.serialize_element(&PersonView {
                p,
                raw: r.raw.get(i).filter(|_| r.tracked),
                track: r.tracks.get(i).filter(|_| r.tracked),
                k: r.num_keypoints,
                meta: self.meta,
            })?;
        }
        seq.end()
    }
}

struct PersonView<'a> {
    p: &'a Person,
    raw: Option<&'a Person>,
    track: Option<&'a TrackMeta>,
    k: usize,
    meta: &'a RecordMeta,
}

impl Serialize for PersonView<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(6))?;
        if let Some(t) = self.track {
            m.serialize_entry("track_id", &t.id)?;
            m.serialize_entry("track_age_frames", &t.age_frames)?;
            m.serialize_entry("track_age_ms", &((t.age_ms * 10.0).round() / 10.0))?;
        }
        m.serialize_entry("box", &self.p.bbox)?;
        m.serialize_entry("score", &self.p.score)?;
        m.serialize_entry("keypoints", &Keypoints(self))?;
        m.end()
    }
}

struct Keypoints<'a>(&'a PersonView<'a>);

impl Serialize for Keypoints<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let v = self.0;
        let mut seq = s.serialize_seq(Some(v.k))?;
        for (j, kp) in v.p.keypoints.iter().take(v.k).enumerate() {
            seq.serialize_element(&KeypointView {
                name: v.meta.keypoint_names.get(j).map_or("", String::as_str),
                x: kp.x,
                y: kp.y,
                score: kp.score,
                visible: kp.score >= v.meta.keypoint_threshold,
                raw_x: v.raw.map(|r| r.keypoints[j].x),
                raw_y: v.raw.map(|r| r.keypoints[j].y),
            })?;
        }
        seq.end()
    }
}

#[derive(Serialize)]
struct KeypointView<'a> {
    name: &'a str,
    x: f32,
    y: f32,
    score: f32,
    visible: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    raw_x: Option<f32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    raw_y: Option<f32>,
}

struct Times<'a>(&'a StageTimes);

impl Serialize for Times<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let round = |v: f64| (v * 1000.0).round() / 1000.0;
        let t = self.0;
        let mut m = s.serialize_map(Some(5))?;
        m.serialize_entry("source", &round(t.source))?;
        m.serialize_entry("preprocess", &round(t.preprocess))?;
        m.serialize_entry("invoke", &round(t.invoke))?;
        m.serialize_entry("decode", &round(t.decode))?;
        m.serialize_entry("pipeline", &round(t.pipeline))?;
        m.end()
    }
}

impl Sink for JsonLines {
    fn emit(
        &mut self,
        frame: &Frame<'_>,
        result: &FrameResult,
        meta: &RecordMeta,
    ) -> Result<(), SinkError> {
        self.created = None;
        write_line(&mut self.buf, frame.origin, result, meta).map_err(|e| SinkError::Write {
            what: self.what.clone(),
            source: std::io::Error::other(e),
        })?;
        self.out.write_all(&self.buf).map_err(|e| SinkError::Write {
            what: self.what.clone(),
            source: e,
        })
    }

    fn name(&self) -> String {
        "json".into()
    }

    fn flush(&mut self) -> Result<(), SinkError> {
        self.out.flush().map_err(|e| SinkError::Write {
            what: self.what.clone(),
            source: e,
        })
    }

    fn discard(&mut self) {
        if let Some(p) = self.created.take() {
            let _ = std::fs::remove_file(p);
        }
    }
}
