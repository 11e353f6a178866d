//! Live raw frames from a pipe: standard input (`raw:-?...`) or a named
//! pipe (`raw:/run/cam.fifo?...`), as `rpicam-vid --codec yuv420 -o -`,
//! `ffmpeg -f rawvideo -` or `gst-launch-1.0 ... ! fdsink` write them:
//! I420, NV12, YUYV, RGB3 or GREY frames back to back (fixed size, checked
//! by [`super::layout`] before anything is read), or MJPEG (JPEG images
//! back to back, split by [`super::jpeg_stream`], each at most `max_bytes`).
//!
//! A pipe is a camera to `run`: frames keep coming, the newest wins. A
//! writer that sends nothing for `timeout_ms` is counted (a timeout); after
//! `max_timeouts` in a row the stream is lost. A writer that closes the
//! pipe loses the stream too (a partial frame at that point is counted and
//! dropped, never emitted); a named pipe is reopened for the next writer,
//! standard input cannot be. Once lost for `give_up_s` the source fails, as
//! a camera does. With `eof=end` the end of the stream ends the run
//! instead (a finite feed).
//!
//! `raw:-?format=I420&width=640&height=480[&stride=][&fps=][&yuv=bt601|bt601-full|bt709|bt709-full]`
//! `[&max_bytes=8388608][&timeout_ms=2000][&max_timeouts=3][&give_up_s=60][&eof=lost|end]`
//!
//! Timestamps are the arrival time of each frame's last byte, from the
//! first frame on; a pipe carries none of its own.

use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::jpeg_stream::{JpegScanner, Scan};
use super::layout::{check_jpeg_cap, i420_chroma_to_nv12, Geometry, WireFormat};
use super::{Source, SourceError};
use crate::frame::{Frame, PixelFormat, YuvEncoding};
use crate::spec::Spec;

/// Room for reading ahead beyond one JPEG image.
const CHUNK: usize = 64 << 10;
/// Longest single wait, so a stop request is seen quickly.
const POLL_SLICE: Duration = Duration::from_millis(100);

/// Whether a `raw:` target is a stream rather than a recording: `-`
/// (standard input) or a named pipe.
pub fn is_stream(target: &str) -> bool {
    target == "-"
        || std::fs::metadata(target)
            .map(|m| m.file_type().is_fifo())
            .unwrap_or(false)
}

/// What a pipe source counted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct PipeCounters {
    pub frames: u64,
    pub timeouts: u64,
    /// Times the stream was lost (stalled past `max_timeouts`, or closed).
    pub lost: u64,
    /// Times frames came back after a loss.
    pub reconnects: u64,
    /// Incomplete frames at the end of a writer's stream (dropped).
    pub partial: u64,
    /// MJPEG: images that broke off, and images over `max_bytes` (dropped).
    pub corrupt: u64,
    pub oversize: u64,
    /// MJPEG: bytes outside any image.
    pub skipped_bytes: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Eof {
    Lost,
    End,
}

/// Options of a pipe source.
#[derive(Debug, Clone, PartialEq)]
pub struct PipeConfig {
    /// `None`: standard input.
    pub path: Option<PathBuf>,
    /// `None` for MJPEG.
    pub geometry: Option<Geometry>,
    pub format: WireFormat,
    /// MJPEG: the width and height given, if any (the JPEG header rules).
    pub size: (u32, u32),
    pub yuv: YuvEncoding,
    pub max_bytes: usize,
    pub liveness: super::Liveness,
    eof: Eof,
}

impl PipeConfig {
    /// Options from a `raw:-?...` or `raw:FIFO?...` spec.
    pub fn from_spec(spec: &mut Spec) -> Result<Self, SourceError> {
        let format = spec
            .take_with(
                "format",
                "one of I420, NV12, YUYV, MJPG, RGB3, GREY",
                WireFormat::parse,
            )?
            .ok_or_else(|| {
                SourceError::from(spec.error("give format=I420|NV12|YUYV|MJPG|RGB3|GREY"))
            })?;
        let mut pixels = |key: &'static str, what: &str| {
            spec.take_in_range(key, 1..=super::layout::MAX_SIDE, what)
        };
        let width = pixels("width", "a width in pixels")?;
        let height = pixels("height", "a height in pixels")?;
        let stride = spec.take_in_range("stride", 1..=1 << 20, "bytes per line")?;
        // The writer paces the frames; fps only sets the default stall
        // timeout (three frame intervals, at least 2 s).
        let fps: f64 = spec
            .take_in_range("fps", 0.01..=1000.0, "frames per second")?
            .unwrap_or(30.0);
        let liveness =
            super::Liveness::from_spec(spec, Duration::from_secs_f64((3.0 / fps).max(2.0)))?;
        let max_bytes = spec
            .take_in_range("max_bytes", 1024..=super::layout::MAX_FRAME_BYTES, "bytes")?
            .unwrap_or(8 << 20);
        let yuv = super::yuv_option(spec)?;
        let eof = spec
            .take_choice("eof", &[("lost", Eof::Lost), ("end", Eof::End)])?
            .unwrap_or(Eof::Lost);
        let geometry = if format == WireFormat::Native(PixelFormat::Mjpeg) {
            check_jpeg_cap(max_bytes).map_err(|e| SourceError::from(spec.error(e.0)))?;
            None
        } else {
            let (Some(w), Some(h)) = (width, height) else {
                return Err(SourceError::from(spec.error(format!(
                    "{} frames on a pipe need width= and height=",
                    format.name()
                ))));
            };
            Some(
                Geometry::new(format, w, h, stride)
                    .map_err(|e| SourceError::from(spec.error(e.0)))?,
            )
        };
        Ok(Self {
            path: (spec.target != "-").then(|| PathBuf::from(&spec.target)),
            geometry,
            format,
            size: (width.unwrap_or(0), height.unwrap_or(0)),
            yuv,
            max_bytes,
            liveness,
            eof,
        })
    }
}

/// What one wait for bytes gave.
enum Got {
    Bytes(usize),
    Timeout,
    Eof,
    Stopped,
}

/// A frame source reading a pipe.
pub struct PipeSource {
    cfg: PipeConfig,
    origin: String,
    /// The open named pipe (`None` for standard input, or while reopening).
    fifo: Option<File>,
    /// Delivered frame (raw formats) or the JPEG stream buffer.
    buf: Vec<u8>,
    /// I420: the wire's U and V planes.
    chroma: Vec<u8>,
    /// Raw formats: wire bytes of the current frame read so far.
    filled: usize,
    /// MJPEG: unconsumed bytes are `buf[start..end]`.
    start: usize,
    end: usize,
    scanner: JpegScanner,
    counters: PipeCounters,
    stop: Option<Arc<AtomicBool>>,
    timeouts_in_row: u32,
    lost_since: Option<Instant>,
    closed: bool,
    first: Option<Instant>,
}

impl PipeSource {
    /// Opens the pipe of `spec` (a named pipe is opened without waiting for
    /// a writer).
    pub fn from_spec(spec: &mut Spec, stop: Option<Arc<AtomicBool>>) -> Result<Self, SourceError> {
        let cfg = PipeConfig::from_spec(spec)?;
        let mut s = Self::new(cfg, stop);
        if s.cfg.path.is_some() {
            s.reopen()?;
        }
        Ok(s)
    }

    /// A source for `cfg`; buffers are sized here, once.
    pub fn new(cfg: PipeConfig, stop: Option<Arc<AtomicBool>>) -> Self {
        let origin = match &cfg.path {
            Some(p) => p.display().to_string(),
            None => "standard input".to_string(),
        };
        let (buf, chroma) = match cfg.geometry {
            Some(g) => (
                vec![0; g.frame_len],
                vec![
                    0;
                    if g.format == WireFormat::I420 {
                        g.wire_len - g.luma_len()
                    } else {
                        0
                    }
                ],
            ),
            None => (vec![0; cfg.max_bytes + CHUNK], Vec::new()),
        };
        Self {
            cfg,
            origin,
            fifo: None,
            buf,
            chroma,
            filled: 0,
            start: 0,
            end: 0,
            scanner: JpegScanner::default(),
            counters: PipeCounters::default(),
            stop,
            timeouts_in_row: 0,
            lost_since: None,
            closed: false,
            first: None,
        }
    }

    pub fn counters(&self) -> PipeCounters {
        self.counters
    }

    fn reopen(&mut self) -> Result<(), SourceError> {
        let Some(path) = &self.cfg.path else {
            return Ok(());
        };
        // Non-blocking: opening a pipe's read end would otherwise wait for
        // a writer; poll() then waits for one with a timeout.
        let f = File::options()
            .read(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(path)
            .map_err(|e| SourceError::Read {
                path: self.origin.clone(),
                why: e.to_string(),
            })?;
        self.fifo = Some(f);
        Ok(())
    }

    /// Counts a loss (once per loss) and fails when it has lasted too long.
    fn lost(&mut self, why: &str) -> Result<(), SourceError> {
        let since = *self.lost_since.get_or_insert_with(|| {
            self.counters.lost += 1;
            log::warn!("{}: stream lost ({why}); waiting", self.origin);
            Instant::now()
        });
        if since.elapsed() >= self.cfg.liveness.give_up {
            return Err(SourceError::CameraGone {
                path: self.origin.clone(),
                secs: since.elapsed().as_secs_f64(),
            });
        }
        Ok(())
    }

    /// Handles the end of a writer's stream; `Ok(true)` ends the source.
    fn end_of_stream(&mut self, partial: usize) -> Result<bool, SourceError> {
        if partial > 0 {
            self.counters.partial += 1;
            log::warn!(
                "{}: the stream ended inside a frame ({partial} bytes of it); dropped",
                self.origin
            );
        }
        self.filled = 0;
        self.start = 0;
        self.end = 0;
        self.scanner = JpegScanner::default();
        if self.cfg.eof == Eof::End {
            return Ok(true);
        }
        if self.cfg.path.is_none() {
            self.counters.lost += 1;
            self.closed = true;
            return Err(SourceError::StreamClosed {
                path: self.origin.clone(),
            });
        }
        self.lost("the writer closed the pipe")?;
        self.fifo = None;
        self.reopen()?;
        Ok(false)
    }

    /// One wait: bytes read, or a timeout / end handled. `Ok(None)`: the
    /// source has ended (stopped, or `eof=end`).
    fn pump(
        &mut self,
        into: std::ops::Range<usize>,
        chroma: bool,
    ) -> Result<Option<usize>, SourceError> {
        let fd = self.fifo.as_ref().map_or(0, |f| f.as_raw_fd());
        let dest = if chroma {
            &mut self.chroma[into]
        } else {
            &mut self.buf[into]
        };
        let got = wait_read(fd, self.cfg.liveness.timeout, self.stop.as_deref(), dest);
        let partial = if self.cfg.geometry.is_some() {
            self.filled
        } else {
            self.end - self.start
        };
        match got {
            Ok(Got::Bytes(n)) => {
                self.timeouts_in_row = 0;
                Ok(Some(n))
            }
            Ok(Got::Stopped) => Ok(None),
            Ok(Got::Timeout) => {
                self.counters.timeouts += 1;
                self.timeouts_in_row += 1;
                log::warn!(
                    "{}: no data within {} ms ({} in a row)",
                    self.origin,
                    self.cfg.liveness.timeout.as_millis(),
                    self.timeouts_in_row
                );
                if self.timeouts_in_row >= self.cfg.liveness.max_timeouts
                    || self.lost_since.is_some()
                {
                    self.lost("repeated timeouts")?;
                }
                Ok(Some(0))
            }
            Ok(Got::Eof) => {
                if self.end_of_stream(partial)? {
                    Ok(None)
                } else {
                    Ok(Some(0))
                }
            }
            Err(e) => {
                if self.cfg.path.is_none() {
                    return Err(SourceError::Read {
                        path: self.origin.clone(),
                        why: e.to_string(),
                    });
                }
                self.lost(&e.to_string())?;
                self.fifo = None;
                self.reopen()?;
                Ok(Some(0))
            }
        }
    }

    /// Reads one whole raw frame into `buf` (and `chroma`); false at the end.
    fn read_raw(&mut self, g: Geometry) -> Result<bool, SourceError> {
        let luma = if g.format == WireFormat::I420 {
            g.luma_len()
        } else {
            g.wire_len
        };
        while self.filled < g.wire_len {
            let (range, chroma) = if self.filled < luma {
                (self.filled..luma, false)
            } else {
                (self.filled - luma..g.wire_len - luma, true)
            };
            match self.pump(range, chroma)? {
                None => return Ok(false),
                Some(n) => self.filled += n,
            }
        }
        self.filled = 0;
        if g.format == WireFormat::I420 {
            let (_, uv) = self.buf.split_at_mut(luma);
            i420_chroma_to_nv12(&self.chroma, uv, &g);
        }
        Ok(true)
    }

    /// Finds the next whole JPEG image; its bytes are `buf[a..b]`.
    fn read_jpeg(&mut self) -> Result<Option<(usize, usize)>, SourceError> {
        loop {
            match self.scanner.scan(&self.buf[self.start..self.end]) {
                Scan::Image(n) => {
                    let a = self.start;
                    self.start += n;
                    return Ok(Some((a, a + n)));
                }
                Scan::Skip(n) => {
                    self.counters.skipped_bytes += n as u64;
                    self.start += n;
                }
                Scan::Corrupt(n) => {
                    self.counters.corrupt += 1;
                    log::warn!(
                        "{}: a JPEG image broke off after {n} bytes; dropped",
                        self.origin
                    );
                    self.start += n;
                }
                Scan::Need => {
                    let have = self.end - self.start;
                    if have >= self.cfg.max_bytes || self.scanner.progress() > self.cfg.max_bytes {
                        self.counters.oversize += 1;
                        log::warn!(
                            "{}: a JPEG image exceeds max_bytes={}; dropped",
                            self.origin,
                            self.cfg.max_bytes
                        );
                        // Resynchronise at the next start marker after it.
                        self.start += 2.min(have);
                        self.scanner = JpegScanner::default();
                        continue;
                    }
                    if self.end == self.buf.len() || self.start > self.buf.len() / 2 {
                        self.buf.copy_within(self.start..self.end, 0);
                        self.end -= self.start;
                        self.start = 0;
                    }
                    let room = self.end..self.buf.len();
                    match self.pump(room, false)? {
                        None => return Ok(None),
                        Some(n) => self.end += n,
                    }
                }
            }
        }
    }

    fn next(&mut self) -> Result<Option<(usize, usize)>, SourceError> {
        if self.closed {
            return Ok(None);
        }
        let r = match self.cfg.geometry {
            Some(g) => self.read_raw(g)?.then_some((0, g.frame_len)),
            None => self.read_jpeg()?,
        };
        if r.is_some() {
            self.counters.frames += 1;
            if self.lost_since.take().is_some() {
                self.counters.reconnects += 1;
                log::warn!("{}: frames again", self.origin);
            }
        }
        Ok(r)
    }
}

impl Source for PipeSource {
    fn next_frame(&mut self) -> Option<Result<Frame<'_>, SourceError>> {
        let (a, b) = match self.next() {
            Ok(Some(r)) => r,
            Ok(None) => return None,
            Err(e) => return Some(Err(e)),
        };
        let now = Instant::now();
        let first = *self.first.get_or_insert(now);
        let (format, stride, width, height) = match self.cfg.geometry {
            Some(g) => (g.format.delivered(), g.stride, g.width, g.height),
            None => (PixelFormat::Mjpeg, 0, self.cfg.size.0, self.cfg.size.1),
        };
        Some(Ok(Frame {
            pixels: &self.buf[a..b],
            format,
            stride,
            yuv: self.cfg.yuv,
            width,
            height,
            seq: self.counters.frames - 1,
            timestamp: now - first,
            origin: &self.origin,
        }))
    }

    fn describe(&self) -> String {
        match self.cfg.geometry {
            Some(g) => format!(
                "{} {}x{} frames (stride {}) from {}",
                g.format.name(),
                g.width,
                g.height,
                g.stride,
                self.origin
            ),
            None => format!("MJPEG images from {}", self.origin),
        }
    }

    fn live(&self) -> bool {
        true
    }

    fn summary(&self) -> Option<String> {
        let c = self.counters;
        let mut s = format!(
            "pipe {}: {} frames, {} timeouts, {} losses, {} reconnects, {} partial frames",
            self.origin, c.frames, c.timeouts, c.lost, c.reconnects, c.partial
        );
        if self.cfg.geometry.is_none() {
            s.push_str(&format!(
                ", {} broken JPEG, {} over max_bytes, {} bytes outside images",
                c.corrupt, c.oversize, c.skipped_bytes
            ));
        }
        Some(s)
    }
}

/// Waits up to `timeout` for bytes on `fd` and reads them into `dest`.
fn wait_read(
    fd: RawFd,
    timeout: Duration,
    stop: Option<&AtomicBool>,
    dest: &mut [u8],
) -> Result<Got, io::Error> {
    let deadline = Instant::now() + timeout;
    loop {
        if stop.is_some_and(|s| s.load(Ordering::Relaxed)) {
            return Ok(Got::Stopped);
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Ok(Got::Timeout);
        }
        let mut p = libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        };
        let ms = left.min(POLL_SLICE).as_millis().max(1) as libc::c_int;
        // SAFETY: one valid pollfd.
        let r = unsafe { libc::poll(&mut p, 1, ms) };
        if r < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        if r == 0 {
            continue;
        }
        // SAFETY: `dest` is a valid writable buffer of its length.
        let n = unsafe { libc::read(fd, dest.as_mut_ptr().cast(), dest.len()) };
        if n > 0 {
            return Ok(Got::Bytes(n as usize));
        }
        if n == 0 {
            return Ok(Got::Eof);
        }
        let e = io::Error::last_os_error();
        if !matches!(
            e.kind(),
            io::ErrorKind::Interrupted | io::ErrorKind::WouldBlock
        ) {
            return Err(e);
        }
    }
}
