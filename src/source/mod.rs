//! Frame sources: where images come from. Every source yields [`Frame`]s of
//! packed 8-bit RGB through the same [`Source`] trait, so the rest of the
//! pipeline never knows whether it reads files or (later) a camera.

mod images;

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
}

impl SourceError {
    /// True when the error concerns one frame only, so a stream can skip it.
    pub fn is_per_frame(&self) -> bool {
        matches!(self, SourceError::Read { .. } | SourceError::Decode { .. })
    }
}

/// One decoded frame, borrowed from the source's reusable buffer.
#[derive(Debug, Clone, Copy)]
pub struct Frame<'a> {
    /// Packed RGB8, `width * height * 3` bytes, rows without padding.
    pub pixels: &'a [u8],
    pub width: u32,
    pub height: u32,
    /// Sequence number from the source (0-based).
    pub seq: u64,
    /// Capture time relative to the source's start.
    pub timestamp: Duration,
    /// Where the frame came from (file path, device).
    pub origin: &'a str,
}

/// A source of frames.
pub trait Source: Send {
    /// The next frame, `None` when the source has ended.
    fn next_frame(&mut self) -> Option<Result<Frame<'_>, SourceError>>;
    /// Human-readable description for logs.
    fn describe(&self) -> String;
}
