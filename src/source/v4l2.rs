//! Live camera frames through Video4Linux2 (the `v4l` crate): a USB UVC
//! webcam, the Raspberry Pi camera through its V4L2 node, a TI board's
//! capture node.
//!
//! Memory-mapped streaming: the driver fills `buffers` mapped buffers
//! (it may grant another count), and each frame is handed to the pipeline
//! straight from its mapped buffer, with the driver's sequence number and
//! capture timestamp. Every dequeue has a timeout.
//!
//! # Format negotiation
//! The requested format and size are asked for with a fresh `Format`; what
//! the driver actually set (fourcc, width, height, bytes per line,
//! colorimetry) is read back and used, since drivers silently substitute.
//! A requested format the device does not offer falls back, with a
//! warning, to the best one it does (YUYV, NV12, MJPG, RGB3, GREY in that
//! order); a device offering none of them is an error that lists what it
//! offers.
//!
//! # Faults
//! A frame that fails to arrive within the timeout is counted; after
//! `max_timeouts` in a row, or on any device error (ENODEV when unplugged,
//! EIO), the device is closed and reopened with backoff (0.1 s doubling to
//! 5 s, [`crate::backoff`]). Frames resume when the device returns. When it has been gone for
//! `give_up_s` seconds the source fails, so the program exits non-zero and
//! a service manager can restart it.
//!
//! Choosing a camera, the source options and troubleshooting are in
//! docs/cameras.md.

use std::io;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use v4l::buffer::Type;
use v4l::io::traits::CaptureStream;
use v4l::video::Capture;
use v4l::{Device, FourCC};

use super::{DeviceInfo, FormatInfo, Source, SourceError};
use crate::backoff::Backoff;
use crate::frame::{Frame, PixelFormat, YuvEncoding};
use crate::spec::Spec;

/// What the `format=` option accepts.
const FOURCCS: &str = "one of YUYV, NV12, MJPG, RGB3, GREY";

/// Formats edgepose reads, best first.
const PREFERENCE: [PixelFormat; 5] = [
    PixelFormat::Yuyv,
    PixelFormat::Nv12,
    PixelFormat::Mjpeg,
    PixelFormat::Rgb24,
    PixelFormat::Grey,
];

/// Camera options (the `v4l2:` source spec).
#[derive(Debug, Clone, PartialEq)]
pub struct CameraConfig {
    pub device: PathBuf,
    pub format: Option<PixelFormat>,
    pub width: u32,
    pub height: u32,
    pub fps: Option<u32>,
    /// Mapped buffers to ask for.
    pub buffers: u32,
    /// When a silent device counts as lost, and when the source gives up.
    pub liveness: super::Liveness,
}

impl CameraConfig {
    /// Options from a spec: `/dev/video0` or
    /// `v4l2:/dev/video0?format=MJPG&width=640&height=480&fps=30&buffers=4&timeout_ms=2000&max_timeouts=3&give_up_s=60`.
    pub fn from_spec(spec: &mut Spec) -> Result<Self, SourceError> {
        let format = spec.take_with("format", FOURCCS, PixelFormat::from_fourcc)?;
        let mut count = |key: &'static str, range, default: u32, what: &str| {
            spec.take_in_range(key, range, what)
                .map(|v| v.unwrap_or(default))
        };
        let width = count("width", 1..=16384, 640, "a width in pixels")?;
        let height = count("height", 1..=16384, 480, "a height in pixels")?;
        let buffers = count("buffers", 2..=32, 4, "a buffer count")?;
        let fps = spec.take_in_range("fps", 1..=1000, "frames per second")?;
        let liveness = super::Liveness::from_spec(spec, Duration::from_secs(2))?;
        if spec.target.is_empty() {
            return Err(SourceError::from(
                spec.error("expected a device path such as /dev/video0"),
            ));
        }
        Ok(Self {
            device: PathBuf::from(&spec.target),
            format,
            width,
            height,
            fps,
            buffers,
            liveness,
        })
    }
}

/// What the driver actually set.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Negotiated {
    pub format: PixelFormat,
    pub width: u32,
    pub height: u32,
    pub stride: usize,
    pub yuv: YuvEncoding,
    pub fps: Option<f64>,
}

/// Counters of a camera source.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize)]
pub struct CameraCounters {
    pub frames: u64,
    pub timeouts: u64,
    /// Device errors and timeout runs that closed the device.
    pub lost: u64,
    pub reconnects: u64,
    /// Gaps in the driver's sequence numbers (frames the driver dropped).
    pub driver_dropped: u64,
    /// Frames whose payload was shorter than the format needs.
    pub short_frames: u64,
}

struct Open {
    // Field order matters: the stream (unmapping) goes before the device.
    stream: Option<v4l::io::mmap::Stream<'static>>,
    _dev: Device,
}

/// A V4L2 capture device as a frame source.
pub struct Camera {
    cfg: CameraConfig,
    open: Option<Open>,
    negotiated: Option<Negotiated>,
    counters: CameraCounters,
    origin: String,
    stop: Option<Arc<AtomicBool>>,
    lost_since: Option<Instant>,
    /// Reopening a lost camera: 0.1 s doubling to 5 s.
    backoff: Backoff,
    timeouts_in_row: u32,
    first_ts: Option<Duration>,
    last_driver_seq: Option<u32>,
    /// Added to the driver's sequence after a reconnect, so `seq` keeps rising.
    seq_base: u64,
    last_seq: Option<u64>,
}

fn fourcc_of(f: PixelFormat) -> FourCC {
    let mut code = [0u8; 4];
    code.copy_from_slice(f.fourcc().as_bytes());
    FourCC::new(&code)
}

fn format_of(code: FourCC) -> Option<PixelFormat> {
    PixelFormat::from_fourcc(std::str::from_utf8(&code.repr).ok()?)
}

/// The YCbCr encoding V4L2's colorimetry fields imply.
fn yuv_of(fmt: &v4l::Format) -> YuvEncoding {
    use v4l::format::{Colorspace, Quantization};
    let hd = matches!(fmt.colorspace, Colorspace::Rec709);
    let full = match fmt.quantization {
        Quantization::FullRange => true,
        Quantization::LimitedRange => false,
        // V4L2's default: full range only for the JPEG colorspace.
        _ => matches!(fmt.colorspace, Colorspace::JPEG),
    };
    match (hd, full) {
        (false, false) => YuvEncoding::Bt601Limited,
        (false, true) => YuvEncoding::Bt601Full,
        (true, false) => YuvEncoding::Bt709Limited,
        (true, true) => YuvEncoding::Bt709Full,
    }
}

/// Is this error the device going away (as opposed to a setup problem)?
fn is_loss(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::ENODEV)
            | Some(libc::EIO)
            | Some(libc::ENXIO)
            | Some(libc::ENOENT)
            | Some(libc::EPIPE)
            | Some(libc::EBUSY)
    ) || e.kind() == io::ErrorKind::TimedOut
}

impl Camera {
    /// A camera source; the device is opened on the first frame (and
    /// reopened after a loss). `stop` interrupts waits for a lost device.
    pub fn new(cfg: CameraConfig, stop: Option<Arc<AtomicBool>>) -> Self {
        let origin = cfg.device.display().to_string();
        Self {
            cfg,
            open: None,
            negotiated: None,
            counters: CameraCounters::default(),
            origin,
            stop,
            lost_since: None,
            backoff: Backoff::new(Duration::from_millis(100), Duration::from_secs(5)),
            timeouts_in_row: 0,
            first_ts: None,
            last_driver_seq: None,
            seq_base: 0,
            last_seq: None,
        }
    }

    /// Opens the device now (rather than on the first frame), so setup
    /// errors surface before the model loads.
    pub fn open_now(&mut self) -> Result<Negotiated, SourceError> {
        self.open()?;
        self.negotiated.ok_or_else(|| SourceError::Camera {
            path: self.origin.clone(),
            why: "no format negotiated".into(),
        })
    }

    /// What the driver set, once open.
    pub fn negotiated(&self) -> Option<Negotiated> {
        self.negotiated
    }

    pub fn counters(&self) -> CameraCounters {
        self.counters
    }

    fn err(&self, why: impl std::fmt::Display) -> SourceError {
        SourceError::Camera {
            path: self.origin.clone(),
            why: why.to_string(),
        }
    }

    /// Opens, negotiates and starts streaming. Setup errors (not a capture
    /// device, no usable format) are `SourceError::Camera`; a device that is
    /// missing or busy is `Lost` (retried).
    fn open(&mut self) -> Result<(), SourceError> {
        let path = self.cfg.device.clone();
        let lost = |e: io::Error| SourceError::CameraLost {
            path: path.display().to_string(),
            why: e.to_string(),
        };
        let dev = Device::with_path(&self.cfg.device).map_err(|e| {
            if e.raw_os_error() == Some(libc::EACCES) {
                self.err("permission denied: add the user to the `video` group")
            } else {
                lost(e)
            }
        })?;
        let caps = dev.query_caps().map_err(|e| {
            if e.raw_os_error() == Some(libc::ENOTTY) {
                self.err(
                    "not a video capture device (it does not answer V4L2's capability query); \
                     `edgepose probe` lists the capture nodes",
                )
            } else {
                self.err(e)
            }
        })?;
        use v4l::capability::Flags;
        if !caps.capabilities.contains(Flags::VIDEO_CAPTURE) {
            return Err(self.err(format!(
                "not a video capture device ({} / {}); `edgepose probe` lists the capture nodes",
                caps.driver, caps.card
            )));
        }
        if !caps.capabilities.contains(Flags::STREAMING) {
            return Err(self.err("the driver does not support streaming I/O"));
        }
        let offered: Vec<FourCC> = dev
            .enum_formats()
            .map_err(|e| self.err(e))?
            .into_iter()
            .map(|d| d.fourcc)
            .collect();
        let usable = |f: PixelFormat| offered.contains(&fourcc_of(f));
        let want = match self.cfg.format {
            Some(f) if usable(f) => f,
            requested => {
                let best = PREFERENCE.into_iter().find(|&f| usable(f)).ok_or_else(|| {
                    self.err(format!(
                        "offers no format edgepose reads (it offers {}); expected one of YUYV, NV12, MJPG, RGB3, GREY",
                        offered.iter().map(|c| c.to_string()).collect::<Vec<_>>().join(", ")
                    ))
                })?;
                if let Some(r) = requested {
                    log::warn!(
                        "{}: does not offer {}; using {} (it offers {})",
                        self.origin,
                        r.fourcc(),
                        best.fourcc(),
                        offered
                            .iter()
                            .map(|c| c.to_string())
                            .collect::<Vec<_>>()
                            .join(", ")
                    );
                }
                best
            }
        };
        // A fresh Format: editing the current one would keep a stale stride.
        dev.set_format(&v4l::Format::new(
            self.cfg.width,
            self.cfg.height,
            fourcc_of(want),
        ))
        .map_err(|e| self.err(format!("setting the format: {e}")))?;
        let set = dev.format().map_err(|e| self.err(e))?;
        let format = format_of(set.fourcc).ok_or_else(|| {
            self.err(format!(
                "driver set format {} instead of {}; edgepose cannot read it",
                set.fourcc,
                want.fourcc()
            ))
        })?;
        if format != want || set.width != self.cfg.width || set.height != self.cfg.height {
            log::warn!(
                "{}: asked for {} {}x{}, the driver set {} {}x{}",
                self.origin,
                want.fourcc(),
                self.cfg.width,
                self.cfg.height,
                format.fourcc(),
                set.width,
                set.height
            );
        }
        let stride = (set.stride as usize).max(format.min_stride(set.width));
        let mut fps = None;
        if let Some(want_fps) = self.cfg.fps {
            match dev.set_params(&v4l::video::capture::Parameters::with_fps(want_fps)) {
                Ok(p) if p.interval.numerator > 0 => {
                    fps = Some(f64::from(p.interval.denominator) / f64::from(p.interval.numerator))
                }
                Ok(_) => {}
                Err(e) => log::warn!("{}: cannot set {want_fps} fps: {e}", self.origin),
            }
        }
        let mut stream =
            v4l::io::mmap::Stream::with_buffers(&dev, Type::VideoCapture, self.cfg.buffers)
                .map_err(|e| self.err(format!("mapping {} buffers: {e}", self.cfg.buffers)))?;
        stream.set_timeout(self.cfg.liveness.timeout);
        let negotiated = Negotiated {
            format,
            width: set.width,
            height: set.height,
            stride,
            yuv: yuv_of(&set),
            fps,
        };
        if self.negotiated != Some(negotiated) {
            log::info!(
                "{}: {} ({}), {} {}x{}, stride {}, {:?}{}",
                self.origin,
                caps.card,
                caps.driver,
                format.fourcc(),
                set.width,
                set.height,
                stride,
                negotiated.yuv,
                fps.map(|f| format!(", {f:.1} fps")).unwrap_or_default()
            );
        }
        self.negotiated = Some(negotiated);
        self.open = Some(Open {
            stream: Some(stream),
            _dev: dev,
        });
        Ok(())
    }

    /// Closes the device after a loss. The `v4l` crate panics in its
    /// destructors on unexpected ioctl errors; a vanished device must not
    /// take the program down, so such a panic is caught and logged
    /// ([`crate::panic::catch`]).
    fn close(&mut self) {
        if let Some(mut open) = self.open.take() {
            let stream = open.stream.take();
            let r = crate::panic::catch(move || drop(stream));
            if r.is_err() {
                log::warn!("{}: error while releasing the buffers", self.origin);
            }
        }
        self.timeouts_in_row = 0;
        self.last_driver_seq = None;
        self.first_ts = None;
        if let Some(s) = self.last_seq {
            self.seq_base = s + 1;
        }
    }

    fn stopping(&self) -> bool {
        self.stop
            .as_ref()
            .is_some_and(|s| s.load(Ordering::Relaxed))
    }

    fn mark_lost(&mut self, why: &str) {
        self.counters.lost += 1;
        if self.lost_since.is_none() {
            self.lost_since = Some(Instant::now());
            log::warn!("{}: camera lost ({why}); retrying", self.origin);
        }
        self.close();
    }

    /// Waits for the next filled buffer; returns its location in the mapped
    /// buffer and its metadata. `Ok(None)` when stopping.
    fn wait_frame(&mut self) -> Result<Option<(*const u8, usize, u32, Duration)>, SourceError> {
        loop {
            if self.stopping() {
                return Ok(None);
            }
            // Waiting for a frame, timing out or reopening the device is
            // the capture side at work: the watchdog stays fed while the
            // frame loop is idle (src/notify.rs).
            crate::notify::capture_alive();
            if self.open.is_none() {
                if let Some(since) = self.lost_since {
                    if since.elapsed() >= self.cfg.liveness.give_up {
                        return Err(SourceError::CameraGone {
                            path: self.origin.clone(),
                            secs: since.elapsed().as_secs_f64(),
                        });
                    }
                }
                match self.open() {
                    Ok(()) => {
                        if self.lost_since.take().is_some() {
                            self.counters.reconnects += 1;
                            log::warn!("{}: camera back", self.origin);
                        }
                        self.backoff.reset();
                    }
                    Err(SourceError::CameraLost { why, .. }) => {
                        if self.lost_since.is_none() {
                            self.lost_since = Some(Instant::now());
                            log::warn!("{}: cannot open ({why}); retrying", self.origin);
                        }
                        self.backoff.failed(Instant::now());
                        self.backoff
                            .sleep_with(self.stop.as_deref(), crate::notify::capture_alive);
                        continue;
                    }
                    Err(e) => return Err(e),
                }
            }
            let Some(stream) = self.open.as_mut().and_then(|o| o.stream.as_mut()) else {
                continue;
            };
            match CaptureStream::next(stream) {
                Ok((buf, meta)) => {
                    self.timeouts_in_row = 0;
                    let used = (meta.bytesused as usize).min(buf.len());
                    let ts = Duration::from_secs(meta.timestamp.sec.max(0) as u64)
                        + Duration::from_micros(meta.timestamp.usec.max(0) as u64);
                    return Ok(Some((buf.as_ptr(), used, meta.sequence, ts)));
                }
                Err(e) if e.kind() == io::ErrorKind::TimedOut => {
                    self.counters.timeouts += 1;
                    self.timeouts_in_row += 1;
                    log::warn!(
                        "{}: no frame within {} ms ({} in a row)",
                        self.origin,
                        self.cfg.liveness.timeout.as_millis(),
                        self.timeouts_in_row
                    );
                    if self.timeouts_in_row >= self.cfg.liveness.max_timeouts {
                        self.mark_lost("repeated timeouts");
                    }
                }
                Err(e) if is_loss(&e) || e.raw_os_error().is_some() => {
                    self.mark_lost(&e.to_string());
                }
                Err(e) => return Err(self.err(e)),
            }
        }
    }
}

impl Source for Camera {
    fn next_frame(&mut self) -> Option<Result<Frame<'_>, SourceError>> {
        let (ptr, used, driver_seq, ts) = match self.wait_frame() {
            Ok(Some(f)) => f,
            Ok(None) => return None,
            Err(e) => return Some(Err(e)),
        };
        let Some(n) = self.negotiated else {
            return Some(Err(self.err("no format negotiated")));
        };
        if let Some(prev) = self.last_driver_seq {
            let gap = driver_seq.wrapping_sub(prev).wrapping_sub(1);
            if gap > 0 && gap < u32::MAX / 2 {
                self.counters.driver_dropped += u64::from(gap);
            }
        }
        self.last_driver_seq = Some(driver_seq);
        let first = *self.first_ts.get_or_insert(ts);
        let seq = self.seq_base + u64::from(driver_seq);
        self.last_seq = Some(seq);
        self.counters.frames += 1;
        // The negotiated geometry fits (the driver's u32s); an overflow
        // would be a short frame, and pre-processing refuses it.
        let need = n.format.frame_len(n.stride, n.height).unwrap_or(usize::MAX);
        if used < need {
            self.counters.short_frames += 1;
        }
        // SAFETY: `ptr`/`used` describe the mapped buffer the stream handed
        // out in `wait_frame`; it stays mapped and untouched by the driver
        // until the next dequeue, which needs `&mut self` and therefore
        // cannot happen while the returned frame borrows `self`.
        let pixels = unsafe { std::slice::from_raw_parts(ptr, used) };
        Some(Ok(Frame {
            pixels,
            format: n.format,
            stride: n.stride,
            yuv: n.yuv,
            width: n.width,
            height: n.height,
            seq,
            timestamp: ts.saturating_sub(first),
            origin: &self.origin,
        }))
    }

    fn describe(&self) -> String {
        match self.negotiated {
            Some(n) => format!(
                "camera {} ({} {}x{})",
                self.origin,
                n.format.fourcc(),
                n.width,
                n.height
            ),
            None => format!("camera {}", self.origin),
        }
    }

    fn live(&self) -> bool {
        true
    }

    fn summary(&self) -> Option<String> {
        let c = self.counters;
        Some(format!(
            "camera {}: {} frames, {} timeouts, {} losses, {} reconnects, {} dropped by the driver, {} short frames",
            self.origin, c.frames, c.timeouts, c.lost, c.reconnects, c.driver_dropped, c.short_frames
        ))
    }
}

impl Drop for Camera {
    fn drop(&mut self) {
        self.close();
    }
}

/// Lists `/dev/video*` with driver, card, formats, sizes and rates.
pub fn probe(dir: &std::path::Path) -> Vec<Result<DeviceInfo, String>> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.path())
                .filter(|p| {
                    p.file_name()
                        .and_then(|n| n.to_str())
                        .is_some_and(|n| n.starts_with("video"))
                })
                .collect()
        })
        .unwrap_or_default();
    paths.sort_by_key(|p| {
        let n = p.to_string_lossy();
        let digits: String = n.chars().rev().take_while(|c| c.is_ascii_digit()).collect();
        (digits.len(), n.to_string())
    });
    paths.iter().map(|p| probe_one(p)).collect()
}

fn probe_one(path: &std::path::Path) -> Result<DeviceInfo, String> {
    let name = path.display().to_string();
    let dev = Device::with_path(path).map_err(|e| format!("{name}: {e}"))?;
    let caps = dev.query_caps().map_err(|e| format!("{name}: {e}"))?;
    let capture = caps
        .capabilities
        .contains(v4l::capability::Flags::VIDEO_CAPTURE);
    let mut formats = Vec::new();
    if capture {
        for d in dev.enum_formats().unwrap_or_default() {
            let mut sizes = Vec::new();
            for fs in dev.enum_framesizes(d.fourcc).unwrap_or_default() {
                for size in fs.size.to_discrete() {
                    let rates: Vec<String> = dev
                        .enum_frameintervals(d.fourcc, size.width, size.height)
                        .unwrap_or_default()
                        .into_iter()
                        .filter_map(|i| match i.interval {
                            v4l::frameinterval::FrameIntervalEnum::Discrete(f)
                                if f.numerator > 0 =>
                            {
                                Some(format!(
                                    "{:.4}",
                                    f64::from(f.denominator) / f64::from(f.numerator)
                                ))
                            }
                            v4l::frameinterval::FrameIntervalEnum::Stepwise(s) => {
                                Some(format!("{}-{} s", s.min, s.max))
                            }
                            _ => None,
                        })
                        .map(|r| r.trim_end_matches('0').trim_end_matches('.').to_string())
                        .collect();
                    sizes.push(if rates.is_empty() {
                        format!("{}x{}", size.width, size.height)
                    } else {
                        format!("{}x{} @ {} fps", size.width, size.height, rates.join("/"))
                    });
                    if sizes.len() >= 32 {
                        break;
                    }
                }
            }
            formats.push(FormatInfo {
                fourcc: d.fourcc.to_string(),
                description: d.description.clone(),
                supported: format_of(d.fourcc).is_some(),
                sizes,
            });
        }
    }
    Ok(DeviceInfo {
        path: name,
        driver: caps.driver.clone(),
        card: caps.card.clone(),
        bus: caps.bus.clone(),
        capture,
        formats,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_defaults_and_errors() {
        let c = CameraConfig::from_spec(&mut Spec::parse("/dev/video3").unwrap()).unwrap();
        assert_eq!(c.device, PathBuf::from("/dev/video3"));
        assert_eq!(
            (c.format, c.width, c.height, c.buffers),
            (None, 640, 480, 4)
        );
        let mut s =
            Spec::parse("v4l2:/dev/video0?format=mjpeg&width=1280&height=720&fps=30").unwrap();
        let c = CameraConfig::from_spec(&mut s).unwrap();
        s.finish().unwrap();
        assert_eq!(c.format, Some(PixelFormat::Mjpeg));
        assert_eq!((c.width, c.height, c.fps), (1280, 720, Some(30)));
        let e = CameraConfig::from_spec(&mut Spec::parse("v4l2:/dev/video0?format=H264").unwrap())
            .unwrap_err();
        assert!(
            e.to_string().contains("format=H264: expected one of YUYV"),
            "{e}"
        );
        let e = CameraConfig::from_spec(&mut Spec::parse("v4l2:/dev/video0?width=0").unwrap())
            .unwrap_err();
        assert!(e.to_string().contains("width=0"), "{e}");
        let e = CameraConfig::from_spec(&mut Spec::parse("v4l2:/dev/video0?buffers=1").unwrap())
            .unwrap_err();
        assert!(e.to_string().contains("buffers=1"), "{e}");
    }

    #[test]
    fn missing_device_is_retried_then_gone() {
        let mut s = Spec::parse("v4l2:/nonexistent/video9?give_up_s=0.3").unwrap();
        let cfg = CameraConfig::from_spec(&mut s).unwrap();
        let mut cam = Camera::new(cfg, None);
        let t = Instant::now();
        match cam.next_frame() {
            Some(Err(SourceError::CameraGone { path, .. })) => {
                assert_eq!(path, "/nonexistent/video9")
            }
            other => panic!(
                "expected CameraGone, got {:?}",
                other.map(|r| r.map(|_| ()))
            ),
        }
        assert!(t.elapsed() >= Duration::from_millis(300));
    }

    #[test]
    fn a_regular_file_is_not_a_capture_device() {
        let f = tempfile::NamedTempFile::new().unwrap();
        let mut s = Spec::parse(&format!("v4l2:{}", f.path().display())).unwrap();
        let mut cam = Camera::new(CameraConfig::from_spec(&mut s).unwrap(), None);
        let e = cam.open_now().unwrap_err();
        assert!(matches!(e, SourceError::Camera { .. }), "{e}");
    }
}
