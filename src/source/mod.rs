//! Frame sources: where frames come from. Every source yields [`Frame`]s
//! (RGB, YUYV, NV12, GREY or MJPEG bytes, borrowed from the source's own
//! or mapped buffer) through the same [`Source`] trait, so the rest of the
//! pipeline never knows whether it reads files, a recording or a camera.
//! One `--source` option picks the backend ([`open`]):
//!
//! | spec | backend |
//! |---|---|
//! | `IMAGE`, `DIR` (repeatable) | [`images`]: JPEG/PNG files |
//! | `/dev/videoN`, `v4l2:/dev/videoN?format=MJPG&width=640&height=480&fps=30` | [`v4l2`]: a camera |
//! | `raw:FILE?format=YUYV&width=640&height=480` | [`raw`]: a recorded stream |

pub mod images;
pub mod raw;
pub mod v4l2;

use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

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
}

impl SourceError {
    /// True when the error concerns one frame only, so a stream can skip it.
    pub fn is_per_frame(&self) -> bool {
        matches!(self, SourceError::Read { .. } | SourceError::Decode { .. })
    }
}

/// How a frame's bytes encode its pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PixelFormat {
    /// Packed 8-bit R, G, B.
    #[default]
    Rgb24,
    /// Packed 4:2:2 Y0 U Y1 V (V4L2 `YUYV`).
    Yuyv,
    /// Y plane, then an interleaved U V plane at half height (V4L2 `NV12`),
    /// both with the frame's stride.
    Nv12,
    /// 8-bit luma only.
    Grey,
    /// One JPEG image (V4L2 `MJPG`); `stride` is unused.
    Mjpeg,
}

impl PixelFormat {
    /// The V4L2 four-character code.
    pub fn fourcc(self) -> &'static str {
        match self {
            PixelFormat::Rgb24 => "RGB3",
            PixelFormat::Yuyv => "YUYV",
            PixelFormat::Nv12 => "NV12",
            PixelFormat::Grey => "GREY",
            PixelFormat::Mjpeg => "MJPG",
        }
    }

    /// The format of a four-character code (also accepts `MJPEG`, `RGB24`).
    pub fn from_fourcc(code: &str) -> Option<Self> {
        Some(match code.to_ascii_uppercase().as_str() {
            "RGB3" | "RGB24" | "RGB" => PixelFormat::Rgb24,
            "YUYV" | "YUY2" => PixelFormat::Yuyv,
            "NV12" => PixelFormat::Nv12,
            "GREY" | "GRAY" | "Y8" => PixelFormat::Grey,
            "MJPG" | "MJPEG" | "JPEG" => PixelFormat::Mjpeg,
            _ => return None,
        })
    }

    /// Smallest valid stride (bytes per line of the first plane) for `width`.
    pub fn min_stride(self, width: u32) -> usize {
        let w = width as usize;
        match self {
            PixelFormat::Rgb24 => w * 3,
            PixelFormat::Yuyv => w.div_ceil(2) * 4,
            PixelFormat::Nv12 | PixelFormat::Grey => w,
            PixelFormat::Mjpeg => 0,
        }
    }

    /// Bytes of a whole frame with `stride` and `height`.
    pub fn frame_len(self, stride: usize, height: u32) -> usize {
        let h = height as usize;
        match self {
            PixelFormat::Nv12 => stride * (h + h.div_ceil(2)),
            PixelFormat::Mjpeg => 0,
            _ => stride * h,
        }
    }
}

/// YCbCr → RGB matrix and range of a YUV frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum YuvEncoding {
    /// ITU-R BT.601, limited range (16–235): what webcams and SD video use.
    #[default]
    Bt601Limited,
    /// BT.601 full range (JPEG/JFIF).
    Bt601Full,
    /// ITU-R BT.709 (HD), limited range.
    Bt709Limited,
    /// BT.709 full range.
    Bt709Full,
}

/// One frame, borrowed from the source's reusable (or mapped) buffer.
#[derive(Debug, Clone, Copy)]
pub struct Frame<'a> {
    /// The frame's bytes in `format`; for RGB, rows `stride` bytes apart.
    pub pixels: &'a [u8],
    pub format: PixelFormat,
    /// Bytes per line of the (first) plane, at least the format's minimum.
    pub stride: usize,
    /// For YUV formats: how to turn them into RGB.
    pub yuv: YuvEncoding,
    pub width: u32,
    pub height: u32,
    /// Sequence number from the source (0-based).
    pub seq: u64,
    /// Capture time relative to the source's start.
    pub timestamp: Duration,
    /// Where the frame came from (file path, device).
    pub origin: &'a str,
}

impl<'a> Frame<'a> {
    /// A packed RGB frame (rows without padding).
    pub fn rgb(pixels: &'a [u8], width: u32, height: u32, origin: &'a str) -> Self {
        Self {
            pixels,
            format: PixelFormat::Rgb24,
            stride: width as usize * 3,
            yuv: YuvEncoding::default(),
            width,
            height,
            seq: 0,
            timestamp: Duration::ZERO,
            origin,
        }
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
    let parsed = specs
        .iter()
        .map(|s| crate::spec::Spec::parse(s).map_err(|e| SourceError::Spec(e.to_string())))
        .collect::<Result<Vec<_>, _>>()?;
    let is_stream = |s: &crate::spec::Spec| s.kind.is_some() || s.target.starts_with("/dev/video");
    if let Some(first) = parsed.iter().find(|s| is_stream(s)) {
        if parsed.len() > 1 {
            return Err(SourceError::Mixed {
                spec: first.text.clone(),
                why: "a camera or recording must be the only source".into(),
            });
        }
        let mut spec = first.clone();
        let source: Box<dyn Source> = match spec.kind.as_deref() {
            None | Some("v4l2") => Box::new(v4l2::Camera::new(
                v4l2::CameraConfig::from_spec(&mut spec)?,
                stop,
            )),
            Some("raw") => Box::new(raw::RawSource::from_spec(&mut spec)?),
            Some("file") => Box::new(ImageSource::new(&[PathBuf::from(&spec.target)], interval)?),
            Some(k) => {
                return Err(SourceError::Spec(format!(
                    "--source {}: unknown source kind {k:?}; expected v4l2:, raw:, file: or a path",
                    spec.text
                )))
            }
        };
        spec.finish()
            .map_err(|e| SourceError::Spec(e.to_string()))?;
        return Ok(source);
    }
    let paths: Vec<PathBuf> = specs.iter().map(PathBuf::from).collect();
    Ok(Box::new(ImageSource::new(&paths, interval)?))
}
