//! Frame sources: where frames come from. Every source yields [`Frame`]s
//! (RGB, YUYV, NV12, GREY or MJPEG bytes, borrowed from the source's own
//! or mapped buffer) through the same [`Source`] trait, so the rest of the
//! pipeline never knows whether it reads files, a recording or a camera.
//! One `--source` option picks the backend ([`open`]):
//!
//! | spec | backend |
//! |---|---|
//! | `IMAGE`, `DIR` (repeatable) | [`images`]: JPEG/PNG files |
//! | `/dev/videoN`, `v4l2:/dev/videoN?format=MJPG&width=640&height=480&fps=30` | `v4l2`: a camera (cargo feature `v4l2`, on by default) |
//! | `raw:FILE?format=YUYV&width=640&height=480` | [`raw`]: a recorded stream |
//! | `raw:-?format=I420&width=640&height=480`, `raw:FIFO?...` | [`pipe`]: live frames from standard input or a named pipe |
//! | `gst:PIPELINE` | [`gst`]: a GStreamer pipeline, through the run-time loaded plugin |
//!
//! The `v4l2` feature is switched here only: in the module list, in [`open`]
//! and in [`video_devices`].

pub mod gst;
pub mod images;
mod jpeg_stream;
pub mod layout;
pub mod pipe;
pub mod raw;
#[cfg(feature = "v4l2")]
pub mod v4l2;

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

use crate::frame::{Frame, YuvEncoding};

pub use images::{expand, ImageSource};

/// Errors from a source.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("{path}: no such file or directory")]
    NotFound { path: String },
    #[error("{path}: directory holds no JPEG or PNG images")]
    EmptyDir { path: String },
    #[error("cannot read {path}: {why}")]
    Read { path: String, why: String },
    #[error("{path}: not a decodable image (expected JPEG or PNG): {why}")]
    Decode { path: String, why: String },
    #[error("recording {path}: {why}")]
    Recording { path: String, why: String },
    /// A `--source` spec that does not parse or whose options are wrong.
    #[error("{0}")]
    Spec(String),
    #[error("camera {path}: {why}")]
    Camera { path: String, why: String },
    #[error("camera {path} is unavailable: {why}")]
    CameraLost { path: String, why: String },
    #[error(
        "camera {path} has been gone for {secs:.1} s; giving up (raise give_up_s= to wait longer)"
    )]
    CameraGone { path: String, secs: f64 },
    #[error("--source {spec}: {why}")]
    Mixed { spec: String, why: String },
    #[error("{path}: the writer closed the stream, and standard input cannot be reopened; giving up (eof=end makes the end of the stream the end of the run)")]
    StreamClosed { path: String },
    #[error("{0}")]
    Gst(String),
}

impl From<crate::spec::SpecError> for SourceError {
    fn from(e: crate::spec::SpecError) -> Self {
        SourceError::Spec(e.to_string())
    }
}

/// The `yuv=` option of raw frames: how their YCbCr turns into RGB
/// (default BT.601 limited range).
pub(crate) fn yuv_option(spec: &mut crate::spec::Spec) -> Result<YuvEncoding, SourceError> {
    spec.take_choice(
        "yuv",
        &[
            ("bt601", YuvEncoding::Bt601Limited),
            ("bt601-full", YuvEncoding::Bt601Full),
            ("bt709", YuvEncoding::Bt709Limited),
            ("bt709-full", YuvEncoding::Bt709Full),
        ],
    )
    .map(|v| v.unwrap_or(YuvEncoding::Bt601Limited))
    .map_err(SourceError::from)
}

/// How a live source (camera, pipe, GStreamer pipeline) notices that its
/// frames stopped and when it gives up: the options `timeout_ms=`,
/// `max_timeouts=` and `give_up_s=`, with one range and wording for every
/// backend.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Liveness {
    /// Longest wait for one frame.
    pub timeout: Duration,
    /// Timeouts in a row after which the source counts as lost.
    pub max_timeouts: u32,
    /// How long the source may stay lost before it fails (exit code 4).
    pub give_up: Duration,
}

impl Liveness {
    /// The options from `spec`; `timeout` is the backend's default wait.
    pub(crate) fn from_spec(
        spec: &mut crate::spec::Spec,
        timeout: Duration,
    ) -> Result<Self, SourceError> {
        Ok(Self {
            timeout: spec
                .take_millis("timeout_ms", 1..=600_000)?
                .unwrap_or(timeout),
            max_timeouts: spec
                .take_in_range("max_timeouts", 1..=1000, "a count")?
                .unwrap_or(3),
            // Up to a year: a service may wait that long for its camera.
            give_up: spec
                .take_seconds("give_up_s", 0.0..=86_400.0 * 365.0)?
                .unwrap_or(Duration::from_secs(60)),
        })
    }
}

impl SourceError {
    /// True when a source that was running is gone for good (a camera or
    /// a pipe away for longer than `give_up_s`, standard input closed):
    /// `run` exits with code 4, so a service manager restarts it. Every other error is a setup error
    /// (exit 1).
    pub fn is_gone(&self) -> bool {
        matches!(
            self,
            SourceError::CameraGone { .. } | SourceError::StreamClosed { .. }
        )
    }

    /// True when the error concerns one frame only, so a stream can skip it.
    pub fn is_per_frame(&self) -> bool {
        matches!(self, SourceError::Read { .. } | SourceError::Decode { .. })
    }
}

/// A source of frames.
pub trait Source: Send {
    /// The next frame, `None` when the source has ended.
    fn next_frame(&mut self) -> Option<Result<Frame<'_>, SourceError>>;
    /// Human-readable description for logs.
    fn describe(&self) -> String;
    /// True for live sources (cameras): frames keep coming whether or not
    /// they are consumed, so a busy pipeline takes the newest and drops the
    /// rest. Files and recordings are read losslessly.
    fn live(&self) -> bool {
        false
    }
    /// One line for the end-of-run summary.
    fn summary(&self) -> Option<String> {
        None
    }
}

/// Opens the source `specs` name: one camera or recording, or any number
/// of image files and directories. `interval` spaces image timestamps;
/// `stop` interrupts a camera's reconnect waits.
pub fn open(
    specs: &[String],
    interval: Duration,
    stop: Option<Arc<AtomicBool>>,
) -> Result<Box<dyn Source>, SourceError> {
    // A name that exists on disk is that file, even when it reads like a
    // spec (`what?.jpg`, a directory called `frames`).
    let parsed = specs
        .iter()
        .map(|s| {
            if std::path::Path::new(s).exists() {
                Ok(crate::spec::Spec::path(s))
            } else {
                crate::spec::Spec::parse(s).map_err(SourceError::from)
            }
        })
        .collect::<Result<Vec<_>, _>>()?;
    // A bare word (`frames`) that is no file is a missing path, not a kind.
    let is_stream = |s: &crate::spec::Spec| {
        (s.kind.is_some() && s.text.contains(':')) || s.target.starts_with("/dev/video")
    };
    if let Some(first) = parsed.iter().find(|s| is_stream(s)) {
        if parsed.len() > 1 {
            return Err(SourceError::Mixed {
                spec: first.text.clone(),
                why: "a camera or recording must be the only source".into(),
            });
        }
        let mut spec = first.clone();
        let source: Box<dyn Source> = match spec.kind.as_deref() {
            #[cfg(feature = "v4l2")]
            None | Some("v4l2") => Box::new(v4l2::Camera::new(
                v4l2::CameraConfig::from_spec(&mut spec)?,
                stop,
            )),
            #[cfg(not(feature = "v4l2"))]
            None | Some("v4l2") => {
                return Err(SourceError::Spec(
                    spec.not_built("v4l2").to_string(),
                ))
            }
            Some("raw") if pipe::is_stream(&spec.target) => {
                Box::new(pipe::PipeSource::from_spec(&mut spec, stop)?)
            }
            Some("raw") => Box::new(raw::RawSource::from_spec(&mut spec)?),
            Some("gst") => Box::new(gst::GstSource::from_spec(&mut spec, stop)?),
            Some("file") => Box::new(ImageSource::new(&[PathBuf::from(&spec.target)], interval)?),
            Some(k) => {
                return Err(SourceError::Spec(format!(
                    "--source {}: unknown source kind {k:?}; expected v4l2:, raw:, gst:, file: or a path",
                    spec.text
                )))
            }
        };
        spec.finish().map_err(SourceError::from)?;
        return Ok(source);
    }
    let paths: Vec<PathBuf> = specs.iter().map(PathBuf::from).collect();
    Ok(Box::new(ImageSource::new(&paths, interval)?))
}

/// One video device as `edgepose probe` shows it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct DeviceInfo {
    pub path: String,
    pub driver: String,
    pub card: String,
    pub bus: String,
    pub capture: bool,
    pub formats: Vec<FormatInfo>,
}

/// One format a video device offers.
#[derive(Debug, Clone, serde::Serialize)]
pub struct FormatInfo {
    pub fourcc: String,
    pub description: String,
    /// Whether edgepose reads this format.
    pub supported: bool,
    /// `WxH` (discrete) or `WxH-WxH step` (stepwise), each with its rates.
    pub sizes: Vec<String>,
}

/// The `/dev/video*` devices in `dir` with driver, card, formats, sizes
/// and rates (for `probe`); `Err` with the reason when this build has no
/// V4L2 backend.
#[cfg(feature = "v4l2")]
pub fn video_devices(dir: &Path) -> Result<Vec<Result<DeviceInfo, String>>, String> {
    Ok(v4l2::probe(dir))
}

/// This build has no V4L2 backend: the reason, for `probe`.
#[cfg(not(feature = "v4l2"))]
pub fn video_devices(dir: &Path) -> Result<Vec<Result<DeviceInfo, String>>, String> {
    Err(format!(
        "{}: not listed: this edgepose was built without the `v4l2` feature",
        dir.display()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::Spec;

    fn liveness(text: &str) -> Result<Liveness, String> {
        let mut spec = Spec::parse(text).map_err(|e| e.to_string())?;
        Liveness::from_spec(&mut spec, Duration::from_millis(1500)).map_err(|e| e.to_string())
    }

    #[test]
    fn liveness_options_have_one_range_in_every_backend() {
        let defaults = Liveness {
            timeout: Duration::from_millis(1500),
            max_timeouts: 3,
            give_up: Duration::from_secs(60),
        };
        assert_eq!(liveness("raw:-").unwrap(), defaults);
        let given = Liveness {
            timeout: Duration::from_millis(250),
            max_timeouts: 7,
            give_up: Duration::from_secs(2 * 86_400),
        };
        let query = "timeout_ms=250&max_timeouts=7&give_up_s=172800";
        assert_eq!(liveness(&format!("raw:-?{query}")).unwrap(), given);
        for bad in [
            "timeout_ms=0",
            "timeout_ms=600001",
            "max_timeouts=0",
            "max_timeouts=1001",
            "give_up_s=-1",
            "give_up_s=31536001",
            "give_up_s=nan",
        ] {
            let e = liveness(&format!("raw:-?{bad}")).unwrap_err();
            assert!(e.contains(bad), "{bad}: {e}");
        }
        // Each live backend reads them through Liveness (a day and more was
        // refused by the pipe and GStreamer sources before).
        let mut spec = Spec::parse(&format!("gst:videotestsrc?{query}")).unwrap();
        assert_eq!(
            gst::GstConfig::from_spec(&mut spec).unwrap().liveness,
            given
        );
        let mut spec = Spec::parse(&format!("raw:-?format=GREY&width=8&height=8&{query}")).unwrap();
        assert_eq!(
            pipe::PipeConfig::from_spec(&mut spec).unwrap().liveness,
            given
        );
        #[cfg(feature = "v4l2")]
        {
            let mut spec = Spec::parse(&format!("v4l2:/dev/video0?{query}")).unwrap();
            let camera = v4l2::CameraConfig::from_spec(&mut spec).unwrap();
            assert_eq!(camera.liveness, given);
        }
    }
}
