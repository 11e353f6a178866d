//! Frames from a GStreamer pipeline (`gst:PIPELINE`): the board's camera
//! stack as its vendor ships it (`libcamerasrc` on a Raspberry Pi, TI's
//! VPAC ISP elements, NXP's), or anything else GStreamer reads.
//!
//! edgepose does not link GStreamer. The pipeline runs in the plugin
//! library `libedgepose_gst.so` (the workspace crate `crates/gst-source`,
//! packaged as `edgepose-gst`), loaded here at run time with `libloading`
//! and spoken to through its small versioned C ABI. A board without
//! GStreamer runs every other source; a `gst:` source there is a one-line
//! error naming the missing library. The plugin is looked for in
//! `$EDGEPOSE_GST_PLUGIN`, beside the edgepose executable, and in
//! `/usr/lib/edgepose/`.
//!
//! The plugin appends edgepose's own `appsink` (caps NV12, I420, YUY2, RGB
//! or GRAY8; `max-buffers=buffers`, `drop=true`, `sync=false`) and copies
//! each buffer into this source's buffer (allocated once per frame size).
//! Buffer timestamps (PTS) become the records' timestamps.
//!
//! `gst:PIPELINE[?buffers=2][&timeout_ms=2000][&max_timeouts=3][&give_up_s=60][&eos=end|lost]`
//!
//! Faults, as for a camera: an error on the bus, or `max_timeouts` pulls in a
//! row without a frame, loses the stream; the pipeline is torn down and
//! rebuilt with backoff until it delivers again or `give_up_s` has passed.
//! End of stream ends the run (`eos=lost`: treated as a loss instead). A
//! pipeline that does not parse, or whose caps cannot be negotiated, fails
//! at once.

use std::ffi::{c_char, c_void, CString};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::layout::{i420_chroma_to_nv12, Geometry, WireFormat, MAX_FRAME_BYTES};
use super::{Source, SourceError};
use crate::backoff::Backoff;
use crate::frame::{Frame, PixelFormat, YuvEncoding};
use crate::spec::Spec;

/// The plugin's file name.
pub const PLUGIN: &str = "libedgepose_gst.so";
/// The C ABI version this edgepose speaks.
const ABI_VERSION: u32 = 1;
const ERR_LEN: usize = 1024;

const PULL_FRAME: i32 = 0;
const PULL_TIMEOUT: i32 = 1;
const PULL_EOS: i32 = 2;
const PULL_SMALL: i32 = -2;
const PULL_FATAL: i32 = -3;

/// The plugin's frame record (`crates/gst-source`, `Frame`).
#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
struct RawFrame {
    format: u32,
    width: u32,
    height: u32,
    matrix: u32,
    full_range: u32,
    _pad: u32,
    len: u64,
    pts_ns: u64,
}

type AbiFn = unsafe extern "C" fn() -> u32;
type VersionFn = unsafe extern "C" fn(*mut c_char, usize) -> i32;
type HasElementFn = unsafe extern "C" fn(*const c_char) -> i32;
type OpenFn = unsafe extern "C" fn(*const c_char, u32, *mut c_char, usize) -> *mut c_void;
type PullFn = unsafe extern "C" fn(
    *mut c_void,
    *mut u8,
    usize,
    *mut RawFrame,
    u32,
    *mut c_char,
    usize,
) -> i32;
type ArrivedFn = unsafe extern "C" fn(*const c_void) -> u64;
type CloseFn = unsafe extern "C" fn(*mut c_void);

/// The loaded plugin.
pub struct Plugin {
    version: VersionFn,
    has_element: HasElementFn,
    open: OpenFn,
    pull: PullFn,
    arrived: ArrivedFn,
    close: CloseFn,
    pub path: PathBuf,
    // Last: the functions above point into it.
    _lib: libloading::Library,
}

fn candidates() -> Vec<PathBuf> {
    let mut v = Vec::new();
    if let Some(p) = std::env::var_os("EDGEPOSE_GST_PLUGIN") {
        v.push(PathBuf::from(p));
        return v;
    }
    if let Some(dir) = std::env::current_exe()
        .ok()
        .and_then(|e| e.parent().map(PathBuf::from))
    {
        v.push(dir.join(PLUGIN));
    }
    v.push(PathBuf::from("/usr/lib/edgepose").join(PLUGIN));
    v
}

/// The dynamic loader's own message (libloading's is "dlopen failed").
fn loader_error(e: &libloading::Error) -> String {
    match std::error::Error::source(e) {
        Some(why) => why.to_string(),
        None => e.to_string(),
    }
}

fn text(buf: &[u8]) -> String {
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..end]).into_owned()
}

/// The plugin, loaded on first use and kept for the life of the process
/// (GStreamer, once initialised inside it, is never unloaded).
pub fn plugin() -> Result<&'static Plugin, String> {
    static PLUGIN: std::sync::OnceLock<Result<Plugin, String>> = std::sync::OnceLock::new();
    PLUGIN
        .get_or_init(Plugin::load)
        .as_ref()
        .map_err(Clone::clone)
}

impl Plugin {
    /// Loads the plugin; the error is one line saying what is missing.
    fn load() -> Result<Self, String> {
        let tried = candidates();
        let Some(path) = tried.iter().find(|p| p.exists()).cloned() else {
            return Err(format!(
                "the GStreamer plugin {PLUGIN} is not installed (looked in {}): install the edgepose-gst package, or set EDGEPOSE_GST_PLUGIN",
                tried.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
            ));
        };
        // SAFETY: loading runs the plugin's initialisers; it is edgepose's
        // own library, found at a fixed place.
        let lib = unsafe { libloading::Library::new(&path) }.map_err(|e| {
            let e = loader_error(&e);
            if e.contains("libgst") {
                format!(
                    "GStreamer is not installed here: {} needs {} (install gstreamer1.0-plugins-base, or use a v4l2: or raw: source)",
                    path.display(),
                    e.split(": ").find(|p| p.starts_with("libgst")).unwrap_or(&e)
                )
            } else {
                format!("cannot load {}: {e}", path.display())
            }
        })?;
        let missing = |e: libloading::Error| {
            format!(
                "{} is not an edgepose GStreamer plugin: {}",
                path.display(),
                loader_error(&e)
            )
        };
        // SAFETY: the symbols have the types of the plugin's C ABI, whose
        // version is checked first.
        unsafe {
            let abi = lib.get::<AbiFn>(b"edgepose_gst_abi\0").map_err(missing)?;
            let v = abi();
            if v != ABI_VERSION {
                return Err(format!(
                    "{} speaks plugin ABI {v}, this edgepose speaks {ABI_VERSION}: install edgepose-gst of the same version",
                    path.display()
                ));
            }
            Ok(Self {
                version: *lib
                    .get::<VersionFn>(b"edgepose_gst_version\0")
                    .map_err(missing)?,
                has_element: *lib
                    .get::<HasElementFn>(b"edgepose_gst_has_element\0")
                    .map_err(missing)?,
                open: *lib.get::<OpenFn>(b"edgepose_gst_open\0").map_err(missing)?,
                pull: *lib.get::<PullFn>(b"edgepose_gst_pull\0").map_err(missing)?,
                arrived: *lib
                    .get::<ArrivedFn>(b"edgepose_gst_arrived\0")
                    .map_err(missing)?,
                close: *lib
                    .get::<CloseFn>(b"edgepose_gst_close\0")
                    .map_err(missing)?,
                path,
                _lib: lib,
            })
        }
    }

    /// "GStreamer 1.22.0", or why GStreamer does not initialise.
    pub fn version(&self) -> Result<String, String> {
        let mut buf = [0u8; 256];
        // SAFETY: buffer and length match.
        let r = unsafe { (self.version)(buf.as_mut_ptr().cast(), buf.len()) };
        if r == 0 {
            Ok(text(&buf))
        } else {
            Err(text(&buf))
        }
    }

    /// Whether GStreamer has an element factory called `name`.
    pub fn has_element(&self, name: &str) -> bool {
        let Ok(c) = CString::new(name) else {
            return false;
        };
        // SAFETY: a NUL-terminated string.
        unsafe { (self.has_element)(c.as_ptr()) == 1 }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Eos {
    End,
    Lost,
}

/// Options of a `gst:` source.
#[derive(Debug, Clone, PartialEq)]
pub struct GstConfig {
    pub pipeline: String,
    pub buffers: u32,
    pub liveness: super::Liveness,
    eos: Eos,
}

impl GstConfig {
    pub fn from_spec(spec: &mut Spec) -> Result<Self, SourceError> {
        let pipeline = spec.target.trim().to_string();
        if pipeline.is_empty() {
            return Err(SourceError::from(spec.error(
                "expected a GStreamer pipeline after gst:, e.g. gst:videotestsrc ! videoconvert",
            )));
        }
        if pipeline.ends_with('!') {
            return Err(SourceError::from(spec.error(
                "the pipeline ends in `!`; edgepose appends its own appsink, so end with the last element",
            )));
        }
        let buffers = spec
            .take_in_range("buffers", 1..=64, "a buffer count")?
            .unwrap_or(2);
        let liveness = super::Liveness::from_spec(spec, Duration::from_secs(2))?;
        let eos = spec
            .take_choice("eos", &[("end", Eos::End), ("lost", Eos::Lost)])?
            .unwrap_or(Eos::End);
        Ok(Self {
            pipeline,
            buffers,
            liveness,
            eos,
        })
    }
}

/// What a `gst:` source counted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct GstCounters {
    pub frames: u64,
    pub timeouts: u64,
    /// Errors posted on the pipeline's bus.
    pub errors: u64,
    pub lost: u64,
    pub reconnects: u64,
    /// Buffers that reached the appsink (taken or dropped there).
    pub arrived: u64,
}

/// A GStreamer pipeline as a frame source.
pub struct GstSource {
    cfg: GstConfig,
    plugin: &'static Plugin,
    pipeline: CString,
    handle: Option<*mut c_void>,
    /// The frame as the plugin wrote it.
    wire: Vec<u8>,
    /// I420 delivered as NV12.
    nv12: Vec<u8>,
    counters: GstCounters,
    stop: Option<Arc<AtomicBool>>,
    lost_since: Option<Instant>,
    backoff: Backoff,
    timeouts_in_row: u32,
    /// Timestamps: PTS of the connection's first frame, the time it maps
    /// to, and the last frame's.
    first_pts: Option<u64>,
    base: Duration,
    last: Option<(Duration, Instant)>,
    err: Vec<u8>,
}

// SAFETY: the handle is only used through `&mut self`, from one thread at a
// time; the plugin's handle has no thread affinity (GStreamer objects are
// thread-safe).
unsafe impl Send for GstSource {}

impl GstSource {
    /// Loads the plugin and checks the spec; the pipeline starts on the
    /// first frame. A pipeline that does not parse fails here.
    pub fn from_spec(spec: &mut Spec, stop: Option<Arc<AtomicBool>>) -> Result<Self, SourceError> {
        let cfg = GstConfig::from_spec(spec)?;
        let plugin =
            plugin().map_err(|e| SourceError::Gst(format!("gst:{}: {e}", cfg.pipeline)))?;
        let pipeline = CString::new(cfg.pipeline.clone())
            .map_err(|_| SourceError::from(spec.error("the pipeline contains a NUL byte")))?;
        let mut s = Self {
            cfg,
            plugin,
            pipeline,
            handle: None,
            wire: Vec::new(),
            nv12: Vec::new(),
            counters: GstCounters::default(),
            stop,
            lost_since: None,
            backoff: Backoff::new(Duration::from_millis(100), Duration::from_secs(5)),
            timeouts_in_row: 0,
            first_pts: None,
            base: Duration::ZERO,
            last: None,
            err: vec![0; ERR_LEN],
        };
        s.open()?;
        Ok(s)
    }

    pub fn counters(&self) -> GstCounters {
        let mut c = self.counters;
        if let Some(h) = self.handle {
            // SAFETY: a live handle.
            c.arrived += unsafe { (self.plugin.arrived)(h) };
        }
        c
    }

    fn fail(&self, why: String) -> SourceError {
        SourceError::Gst(format!("gst:{}: {why}", self.cfg.pipeline))
    }

    /// Builds and starts the pipeline. A parse error is final; a start that
    /// fails (a device missing or busy) is a loss.
    fn open(&mut self) -> Result<(), SourceError> {
        // SAFETY: NUL-terminated pipeline, error buffer of its length.
        let h = unsafe {
            (self.plugin.open)(
                self.pipeline.as_ptr(),
                self.cfg.buffers,
                self.err.as_mut_ptr().cast(),
                self.err.len(),
            )
        };
        if h.is_null() {
            let why = text(&self.err);
            if why.starts_with("malformed pipeline") || why.contains("single element") {
                return Err(self.fail(why));
            }
            self.counters.errors += 1;
            if self.lost_since.is_some() {
                log::info!("gst:{}: still failing: {why}", self.cfg.pipeline);
            }
            return self.lose(&why);
        }
        self.handle = Some(h);
        self.first_pts = None;
        if let Some((ts, at)) = self.last {
            self.base = ts + at.elapsed();
        }
        Ok(())
    }

    fn close(&mut self) {
        if let Some(h) = self.handle.take() {
            // SAFETY: a live handle, not used again.
            unsafe {
                self.counters.arrived += (self.plugin.arrived)(h);
                (self.plugin.close)(h);
            }
        }
        self.timeouts_in_row = 0;
    }

    /// A loss: counted once, the pipeline torn down; fails after give_up.
    fn lose(&mut self, why: &str) -> Result<(), SourceError> {
        self.close();
        let since = *self.lost_since.get_or_insert_with(|| {
            self.counters.lost += 1;
            log::warn!("gst:{}: stream lost ({why}); rebuilding", self.cfg.pipeline);
            Instant::now()
        });
        if since.elapsed() >= self.cfg.liveness.give_up {
            return Err(SourceError::CameraGone {
                path: format!("gst:{}", self.cfg.pipeline),
                secs: since.elapsed().as_secs_f64(),
            });
        }
        Ok(())
    }

    fn stopping(&self) -> bool {
        self.stop
            .as_ref()
            .is_some_and(|s| s.load(Ordering::Relaxed))
    }

    /// Pulls the next frame into `wire`; `Ok(None)` at the end.
    fn pull(&mut self) -> Result<Option<RawFrame>, SourceError> {
        loop {
            if self.stopping() {
                return Ok(None);
            }
            let Some(h) = self.handle else {
                // The first open is at once; after a loss, 0.1 s doubling to 5 s.
                if !self.backoff.sleep(self.stop.as_deref()) {
                    return Ok(None);
                }
                self.backoff.failed(Instant::now());
                self.open()?;
                continue;
            };
            let mut f = RawFrame::default();
            let timeout = u32::try_from(self.cfg.liveness.timeout.as_millis()).unwrap_or(u32::MAX);
            // SAFETY: live handle; buffer, frame and error buffer valid
            // for their lengths.
            let r = unsafe {
                (self.plugin.pull)(
                    h,
                    self.wire.as_mut_ptr(),
                    self.wire.len(),
                    &mut f,
                    timeout,
                    self.err.as_mut_ptr().cast(),
                    self.err.len(),
                )
            };
            match r {
                PULL_FRAME => {
                    self.timeouts_in_row = 0;
                    if self.lost_since.take().is_some() {
                        self.counters.reconnects += 1;
                        log::warn!("gst:{}: frames again", self.cfg.pipeline);
                    }
                    self.backoff.reset();
                    return Ok(Some(f));
                }
                PULL_SMALL => {
                    let need = usize::try_from(f.len).unwrap_or(usize::MAX);
                    if need > MAX_FRAME_BYTES {
                        return Err(self.fail(format!(
                            "a {}x{} frame of {need} bytes exceeds {} MiB",
                            f.width,
                            f.height,
                            MAX_FRAME_BYTES >> 20
                        )));
                    }
                    // Once per frame size.
                    self.wire.resize(need, 0);
                }
                PULL_TIMEOUT => {
                    self.counters.timeouts += 1;
                    self.timeouts_in_row += 1;
                    log::warn!(
                        "gst:{}: no frame within {} ms ({} in a row)",
                        self.cfg.pipeline,
                        self.cfg.liveness.timeout.as_millis(),
                        self.timeouts_in_row
                    );
                    if self.timeouts_in_row >= self.cfg.liveness.max_timeouts {
                        self.lose("repeated timeouts")?;
                    }
                }
                PULL_EOS if self.cfg.eos == Eos::End => {
                    log::info!("gst:{}: end of stream", self.cfg.pipeline);
                    self.close();
                    return Ok(None);
                }
                PULL_EOS => self.lose("end of stream")?,
                PULL_FATAL => return Err(self.fail(text(&self.err))),
                _ => {
                    self.counters.errors += 1;
                    let why = text(&self.err);
                    log::warn!("gst:{}: {why}", self.cfg.pipeline);
                    self.lose(&why)?;
                }
            }
        }
    }

    fn frame(
        &mut self,
    ) -> Result<Option<(PixelFormat, Geometry, YuvEncoding, Duration)>, SourceError> {
        let Some(f) = self.pull()? else {
            return Ok(None);
        };
        let format = match f.format {
            1 => WireFormat::Native(PixelFormat::Nv12),
            2 => WireFormat::I420,
            3 => WireFormat::Native(PixelFormat::Yuyv),
            4 => WireFormat::Native(PixelFormat::Rgb24),
            5 => WireFormat::Native(PixelFormat::Grey),
            n => return Err(self.fail(format!("the plugin delivered unknown format {n}"))),
        };
        let g = Geometry::new(format, f.width, f.height, None)
            .map_err(|e| self.fail(format!("the negotiated frames cannot be read: {}", e.0)))?;
        if g.wire_len as u64 != f.len {
            return Err(self.fail(format!(
                "a {}x{} {} frame of {} bytes; expected {}",
                f.width,
                f.height,
                format.name(),
                f.len,
                g.wire_len
            )));
        }
        if format == WireFormat::I420 {
            if self.nv12.len() != g.frame_len {
                self.nv12.resize(g.frame_len, 0);
            }
            let luma = g.luma_len();
            self.nv12[..luma].copy_from_slice(&self.wire[..luma]);
            i420_chroma_to_nv12(&self.wire[luma..g.wire_len], &mut self.nv12[luma..], &g);
        }
        let yuv = match (f.matrix, f.full_range) {
            (2, 0) => YuvEncoding::Bt709Limited,
            (2, _) => YuvEncoding::Bt709Full,
            (_, 0) => YuvEncoding::Bt601Limited,
            _ => YuvEncoding::Bt601Full,
        };
        let now = Instant::now();
        let ts = if f.pts_ns == u64::MAX {
            // No PTS: the arrival time on the same scale.
            match self.last {
                Some((ts, at)) => ts + at.elapsed(),
                None => Duration::ZERO,
            }
        } else {
            let first = *self.first_pts.get_or_insert(f.pts_ns);
            self.base + Duration::from_nanos(f.pts_ns.saturating_sub(first))
        };
        self.last = Some((ts, now));
        self.counters.frames += 1;
        Ok(Some((format.delivered(), g, yuv, ts)))
    }
}

impl Source for GstSource {
    fn next_frame(&mut self) -> Option<Result<Frame<'_>, SourceError>> {
        let (format, g, yuv, ts) = match self.frame() {
            Ok(Some(v)) => v,
            Ok(None) => return None,
            Err(e) => return Some(Err(e)),
        };
        let pixels = if g.format == WireFormat::I420 {
            &self.nv12[..g.frame_len]
        } else {
            &self.wire[..g.frame_len]
        };
        Some(Ok(Frame {
            pixels,
            format,
            stride: g.stride,
            yuv,
            width: g.width,
            height: g.height,
            seq: self.counters.frames - 1,
            timestamp: ts,
            origin: &self.cfg.pipeline,
        }))
    }

    fn describe(&self) -> String {
        format!(
            "GStreamer pipeline {} (plugin {})",
            self.cfg.pipeline,
            self.plugin.path.display()
        )
    }

    fn live(&self) -> bool {
        true
    }

    fn summary(&self) -> Option<String> {
        let c = self.counters();
        Some(format!(
            "gst {}: {} frames, {} timeouts, {} errors, {} losses, {} reconnects, {} buffers reached the appsink, {} of them dropped there",
            self.cfg.pipeline,
            c.frames,
            c.timeouts,
            c.errors,
            c.lost,
            c.reconnects,
            c.arrived,
            c.arrived.saturating_sub(c.frames)
        ))
    }
}

impl Drop for GstSource {
    fn drop(&mut self) {
        self.close();
    }
}

/// What `edgepose probe` says about GStreamer.
#[derive(Debug, Clone, serde::Serialize)]
pub struct GstProbe {
    /// The plugin's path, when found and loaded.
    pub plugin: Option<String>,
    /// "GStreamer 1.22.0", when it initialises.
    pub version: Option<String>,
    /// Why not, when the plugin or GStreamer is missing.
    pub error: Option<String>,
    /// Each element asked about and whether it is present.
    pub elements: Vec<(String, bool)>,
}

/// Loads the plugin and asks GStreamer for `elements`.
pub fn probe(elements: &[String]) -> GstProbe {
    let plugin = match plugin() {
        Ok(p) => p,
        Err(e) => {
            return GstProbe {
                plugin: None,
                version: None,
                error: Some(e),
                elements: Vec::new(),
            }
        }
    };
    let path = Some(plugin.path.display().to_string());
    match plugin.version() {
        Ok(v) => GstProbe {
            plugin: path,
            version: Some(v),
            error: None,
            elements: elements
                .iter()
                .map(|e| (e.clone(), plugin.has_element(e)))
                .collect(),
        },
        Err(e) => GstProbe {
            plugin: path,
            version: None,
            error: Some(e),
            elements: Vec::new(),
        },
    }
}

/// The elements of `pipeline` that GStreamer lacks (empty: it can run);
/// `Err` when the plugin or GStreamer itself is missing.
pub fn missing_elements(pipeline: &str) -> Result<Vec<String>, String> {
    let plugin = plugin()?;
    plugin.version()?;
    Ok(pipeline_elements(pipeline)
        .into_iter()
        .filter(|e| !plugin.has_element(e))
        .collect())
}

/// The element names of a pipeline description (`a ! b name=x ! c`), for
/// `probe` to check a board's camera pipeline.
pub fn pipeline_elements(pipeline: &str) -> Vec<String> {
    pipeline
        .split('!')
        .filter_map(|part| part.split_whitespace().next())
        .filter(|first| !first.contains('/') && !first.contains('=') && !first.contains(','))
        .map(str::to_string)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_and_errors() {
        let mut s = Spec::parse("gst:videotestsrc num-buffers=5 ! videoconvert?buffers=3&eos=lost")
            .unwrap();
        let c = GstConfig::from_spec(&mut s).unwrap();
        s.finish().unwrap();
        assert_eq!(c.pipeline, "videotestsrc num-buffers=5 ! videoconvert");
        assert_eq!((c.buffers, c.eos), (3, Eos::Lost));
        let e = |t: &str| {
            GstConfig::from_spec(&mut Spec::parse(t).unwrap())
                .unwrap_err()
                .to_string()
        };
        assert!(e("gst:").contains("expected a GStreamer pipeline"));
        assert!(e("gst:videotestsrc !").contains("ends in `!`"));
        assert!(e("gst:videotestsrc?buffers=0").contains("buffers=0"));
        assert!(e("gst:videotestsrc?give_up_s=nan").contains("give_up_s=nan"));
    }

    #[test]
    fn element_names_of_a_pipeline() {
        assert_eq!(
            pipeline_elements(
                "libcamerasrc camera-name=x ! video/x-raw,width=640 ! tiovxisp sensor-name=y ! queue"
            ),
            ["libcamerasrc", "tiovxisp", "queue"]
        );
    }
}
