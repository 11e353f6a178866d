//! The GStreamer side of edgepose's `gst:` source, as a shared library that
//! edgepose loads at run time (`src/source/gst.rs`), so the edgepose binary
//! itself never links GStreamer and runs on boards without it.
//!
//! A user's pipeline gets edgepose's own appsink appended
//! (`PIPELINE ! appsink caps=video/x-raw,format={NV12,I420,YUY2,RGB,GRAY8}
//! max-buffers=N drop=true sync=false`). Each pull copies one buffer into
//! the caller's memory in a tight layout (rows without padding, planes back
//! to back) with its format, size, colorimetry and timestamp.
//!
//! # The C ABI (version [`ABI_VERSION`])
//! All functions are `extern "C"`, never unwind (panics become errors) and
//! write error text, NUL-terminated and truncated, into a caller buffer.
//! - `edgepose_gst_abi() -> u32`
//! - `edgepose_gst_version(buf, len)`: "GStreamer 1.22.0"; 0, or -1 when
//!   GStreamer cannot initialise (text in `buf`)
//! - `edgepose_gst_has_element(name) -> i32`: 1 when a factory of that
//!   name exists, 0 when not, -1 when GStreamer cannot initialise
//! - `edgepose_gst_open(pipeline, max_buffers, err, err_len) -> handle`:
//!   null on error
//! - `edgepose_gst_pull(handle, buf, cap, frame, timeout_ms, err, err_len) -> i32`:
//!   [`PULL_FRAME`], [`PULL_TIMEOUT`], [`PULL_EOS`], [`PULL_ERROR`] (a
//!   runtime fault: the caller may rebuild the pipeline), [`PULL_FATAL`]
//!   (the pipeline cannot work: caps not negotiated), [`PULL_SMALL`]
//!   (`frame.len` says how many bytes are needed; the same frame comes
//!   with the next pull)
//! - `edgepose_gst_arrived(handle) -> u64`: buffers that reached the appsink
//! - `edgepose_gst_close(handle)`

use std::ffi::{c_char, CStr};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_app as gst_app;
use gstreamer_video as gst_video;
use gstreamer_video::prelude::*;

pub const ABI_VERSION: u32 = 1;

pub const PULL_FRAME: i32 = 0;
pub const PULL_TIMEOUT: i32 = 1;
pub const PULL_EOS: i32 = 2;
pub const PULL_ERROR: i32 = -1;
pub const PULL_FATAL: i32 = -3;
pub const PULL_SMALL: i32 = -2;

pub const FORMAT_NV12: u32 = 1;
pub const FORMAT_I420: u32 = 2;
pub const FORMAT_YUY2: u32 = 3;
pub const FORMAT_RGB: u32 = 4;
pub const FORMAT_GRAY8: u32 = 5;

pub const MATRIX_UNKNOWN: u32 = 0;
pub const MATRIX_BT601: u32 = 1;
pub const MATRIX_BT709: u32 = 2;

/// What one pull wrote (or, for [`PULL_SMALL`], would write).
#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
pub struct Frame {
    pub format: u32,
    pub width: u32,
    pub height: u32,
    /// `MATRIX_*`.
    pub matrix: u32,
    /// 1 for full-range YCbCr.
    pub full_range: u32,
    pub _pad: u32,
    /// Bytes written (tight layout).
    pub len: u64,
    /// Presentation timestamp in nanoseconds; `u64::MAX` when the buffer
    /// has none.
    pub pts_ns: u64,
}

/// The appsink's caps: the formats edgepose's converter reads.
const CAPS: &str = "video/x-raw,format=(string){NV12,I420,YUY2,RGB,GRAY8}";
const SINK: &str = "edgepose_appsink";

/// An open pipeline.
pub struct Handle {
    pipeline: gst::Element,
    sink: gst_app::AppSink,
    bus: gst::Bus,
    arrived: Arc<AtomicU64>,
    /// A sample that did not fit the caller's buffer, for the next pull.
    pending: std::sync::Mutex<Option<gst::Sample>>,
}

impl Drop for Handle {
    fn drop(&mut self) {
        let _ = self.pipeline.set_state(gst::State::Null);
    }
}

fn write_err(err: *mut c_char, len: usize, msg: &str) {
    if err.is_null() || len == 0 {
        return;
    }
    // One line: the caller prints it as is.
    let line = msg.replace('\n', "; ");
    let bytes = line.as_bytes();
    let mut n = bytes.len().min(len - 1);
    while n > 0 && !line.is_char_boundary(n) {
        n -= 1;
    }
    // SAFETY: the caller gave `len` writable bytes at `err`.
    unsafe {
        std::ptr::copy_nonoverlapping(bytes.as_ptr(), err.cast::<u8>(), n);
        *err.add(n) = 0;
    }
}

fn guard<T>(fallback: T, f: impl FnOnce() -> T) -> T {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or(fallback)
}

fn init() -> Result<(), String> {
    gst::init().map_err(|e| format!("GStreamer does not initialise: {e}"))
}

/// The ABI version this library implements.
#[no_mangle]
pub extern "C" fn edgepose_gst_abi() -> u32 {
    ABI_VERSION
}

/// # Safety
/// `buf` must hold `len` writable bytes.
#[no_mangle]
pub unsafe extern "C" fn edgepose_gst_version(buf: *mut c_char, len: usize) -> i32 {
    guard(PULL_ERROR, || match init() {
        Ok(()) => {
            write_err(buf, len, gst::version_string().as_str());
            0
        }
        Err(e) => {
            write_err(buf, len, &e);
            -1
        }
    })
}

/// # Safety
/// `name` must be a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn edgepose_gst_has_element(name: *const c_char) -> i32 {
    guard(-1, || {
        if init().is_err() || name.is_null() {
            return -1;
        }
        // SAFETY: checked non-null; NUL-terminated by contract.
        let name = unsafe { CStr::from_ptr(name) }.to_string_lossy();
        i32::from(gst::ElementFactory::find(&name).is_some())
    })
}

fn open(pipeline: &str, max_buffers: u32) -> Result<Handle, String> {
    init()?;
    let text = format!(
        "{pipeline} ! appsink name={SINK} max-buffers={} drop=true sync=false emit-signals=false",
        max_buffers.clamp(1, 64)
    );
    let element = gst::parse::launch(&text).map_err(|e| format!("malformed pipeline: {e}"))?;
    let bin = element.clone().dynamic_cast::<gst::Bin>().map_err(|_| {
        "the pipeline is a single element; expected SOURCE ! ... elements".to_string()
    })?;
    let sink = bin
        .by_name(SINK)
        .and_then(|e| e.dynamic_cast::<gst_app::AppSink>().ok())
        .ok_or_else(|| "the appsink could not be attached to the pipeline".to_string())?;
    sink.set_caps(Some(&CAPS.parse::<gst::Caps>().map_err(|e| e.to_string())?));
    let arrived = Arc::new(AtomicU64::new(0));
    if let Some(pad) = sink.static_pad("sink") {
        let a = Arc::clone(&arrived);
        pad.add_probe(gst::PadProbeType::BUFFER, move |_, _| {
            a.fetch_add(1, Ordering::Relaxed);
            gst::PadProbeReturn::Ok
        });
    }
    let bus = element
        .bus()
        .ok_or_else(|| "the pipeline has no bus".to_string())?;
    let handle = Handle {
        pipeline: element,
        sink,
        bus,
        arrived,
        pending: std::sync::Mutex::new(None),
    };
    if handle.pipeline.set_state(gst::State::Playing).is_err() {
        // The reason is on the bus.
        let why = handle
            .bus
            .timed_pop_filtered(
                gst::ClockTime::from_mseconds(200),
                &[gst::MessageType::Error],
            )
            .map(|m| describe(&m))
            .unwrap_or_else(|| "the pipeline refused to start".to_string());
        return Err(why);
    }
    Ok(handle)
}

/// One line for a bus error: element, message, and the debug detail.
fn describe(msg: &gst::Message) -> String {
    match msg.view() {
        gst::MessageView::Error(e) => {
            let who = msg
                .src()
                .map(|s| s.path_string().to_string())
                .unwrap_or_else(|| "pipeline".into());
            let who = who.rsplit('/').next().unwrap_or(&who).to_string();
            let debug = e.debug().map(|d| d.to_string()).unwrap_or_default();
            let detail = debug.lines().last().unwrap_or("").trim().to_string();
            if detail.is_empty() {
                format!("{who}: {}", e.error())
            } else {
                format!("{who}: {} ({detail})", e.error())
            }
        }
        _ => "unexpected message".into(),
    }
}

fn negotiation_failed(msg: &gst::Message) -> bool {
    match msg.view() {
        gst::MessageView::Error(e) => {
            e.error().matches(gst::CoreError::Negotiation)
                || e.error().matches(gst::StreamError::Format)
                || e.debug().is_some_and(|d| d.contains("not-negotiated"))
        }
        _ => false,
    }
}

/// Copies the frame of `sample` into `out` in the tight layout.
fn copy_out(sample: &gst::Sample, out: &mut [u8], frame: &mut Frame) -> Result<i32, String> {
    let caps = sample.caps().ok_or("a buffer without caps")?;
    let info = gst_video::VideoInfo::from_caps(caps).map_err(|e| format!("caps {caps}: {e}"))?;
    let buffer = sample.buffer().ok_or("a sample without a buffer")?;
    let vf = gst_video::VideoFrameRef::from_buffer_ref_readable(buffer, &info)
        .map_err(|_| "a buffer that cannot be mapped".to_string())?;
    let (w, h) = (info.width() as usize, info.height() as usize);
    let format = match info.format() {
        gst_video::VideoFormat::Nv12 => FORMAT_NV12,
        gst_video::VideoFormat::I420 => FORMAT_I420,
        gst_video::VideoFormat::Yuy2 => FORMAT_YUY2,
        gst_video::VideoFormat::Rgb => FORMAT_RGB,
        gst_video::VideoFormat::Gray8 => FORMAT_GRAY8,
        f => {
            return Err(format!(
                "format {f:?} was negotiated, which edgepose cannot read"
            ))
        }
    };
    // (plane, bytes per row, rows) of the tight layout.
    let (cw, ch) = (w.div_ceil(2), h.div_ceil(2));
    let planes: Vec<(u32, usize, usize)> = match format {
        FORMAT_NV12 => vec![(0, w, h), (1, 2 * cw, ch)],
        FORMAT_I420 => vec![(0, w, h), (1, cw, ch), (2, cw, ch)],
        FORMAT_YUY2 => vec![(0, 4 * cw, h)],
        FORMAT_RGB => vec![(0, 3 * w, h)],
        _ => vec![(0, w, h)],
    };
    let need: usize = planes.iter().map(|&(_, row, rows)| row * rows).sum();
    let colorimetry = info.colorimetry();
    *frame = Frame {
        format,
        width: w as u32,
        height: h as u32,
        matrix: match colorimetry.matrix() {
            gst_video::VideoColorMatrix::Bt709 => MATRIX_BT709,
            gst_video::VideoColorMatrix::Bt601 => MATRIX_BT601,
            _ => MATRIX_UNKNOWN,
        },
        full_range: u32::from(colorimetry.range() == gst_video::VideoColorRange::Range0_255),
        _pad: 0,
        len: need as u64,
        pts_ns: buffer.pts().map_or(u64::MAX, |t| t.nseconds()),
    };
    if out.len() < need {
        return Ok(PULL_SMALL);
    }
    let mut at = 0;
    for (plane, row, rows) in planes {
        let data = vf
            .plane_data(plane)
            .map_err(|e| format!("plane {plane}: {e}"))?;
        let stride = usize::try_from(vf.plane_stride()[plane as usize])
            .map_err(|_| "a negative stride".to_string())?;
        for r in 0..rows {
            let src = data
                .get(r * stride..r * stride + row)
                .ok_or("a buffer smaller than its caps say")?;
            out[at..at + row].copy_from_slice(src);
            at += row;
        }
    }
    Ok(PULL_FRAME)
}

fn pull(
    h: &Handle,
    out: &mut [u8],
    frame: &mut Frame,
    timeout_ms: u32,
) -> Result<i32, (i32, String)> {
    // A fault on the bus ends the pipeline, whatever is still queued. (The
    // end of stream is the appsink's: it comes after the queued buffers.)
    // Other messages are dropped, so the bus queue stays bounded.
    while let Some(msg) = h.bus.pop() {
        if !matches!(msg.view(), gst::MessageView::Error(_)) {
            continue;
        }
        let code = if negotiation_failed(&msg) {
            PULL_FATAL
        } else {
            PULL_ERROR
        };
        let mut why = describe(&msg);
        if code == PULL_FATAL {
            why.push_str(
                ": the pipeline's output cannot be NV12, I420, YUY2, RGB or GRAY8; end it with `! videoconvert`",
            );
        }
        return Err((code, why));
    }
    let mut pending = h.pending.lock().unwrap_or_else(|p| p.into_inner());
    let sample = match pending.take() {
        Some(s) => s,
        None => match h
            .sink
            .try_pull_sample(gst::ClockTime::from_mseconds(u64::from(timeout_ms)))
        {
            Some(s) => s,
            None if h.sink.is_eos() => return Ok(PULL_EOS),
            None => return Ok(PULL_TIMEOUT),
        },
    };
    let code = copy_out(&sample, out, frame).map_err(|e| (PULL_ERROR, e))?;
    if code == PULL_SMALL {
        *pending = Some(sample);
    }
    Ok(code)
}

/// # Safety
/// `pipeline` must be NUL-terminated; `err` must hold `err_len` bytes.
#[no_mangle]
pub unsafe extern "C" fn edgepose_gst_open(
    pipeline: *const c_char,
    max_buffers: u32,
    err: *mut c_char,
    err_len: usize,
) -> *mut Handle {
    guard(std::ptr::null_mut(), || {
        if pipeline.is_null() {
            write_err(err, err_len, "no pipeline");
            return std::ptr::null_mut();
        }
        // SAFETY: non-null and NUL-terminated by contract.
        let text = unsafe { CStr::from_ptr(pipeline) }.to_string_lossy();
        match open(&text, max_buffers) {
            Ok(h) => Box::into_raw(Box::new(h)),
            Err(e) => {
                write_err(err, err_len, &e);
                std::ptr::null_mut()
            }
        }
    })
}

/// # Safety
/// `handle` from `edgepose_gst_open`; `buf` holds `cap` writable bytes;
/// `frame` is writable; `err` holds `err_len` bytes.
#[no_mangle]
pub unsafe extern "C" fn edgepose_gst_pull(
    handle: *mut Handle,
    buf: *mut u8,
    cap: usize,
    frame: *mut Frame,
    timeout_ms: u32,
    err: *mut c_char,
    err_len: usize,
) -> i32 {
    guard(PULL_ERROR, || {
        if handle.is_null() || frame.is_null() || (buf.is_null() && cap > 0) {
            write_err(err, err_len, "null argument");
            return PULL_FATAL;
        }
        // SAFETY: valid pointers by contract, checked non-null above.
        let (h, frame) = unsafe { (&*handle, &mut *frame) };
        let out: &mut [u8] = if cap == 0 {
            &mut []
        } else {
            // SAFETY: `buf` holds `cap` writable bytes by contract.
            unsafe { std::slice::from_raw_parts_mut(buf, cap) }
        };
        match pull(h, out, frame, timeout_ms) {
            Ok(code) => code,
            Err((code, why)) => {
                write_err(err, err_len, &why);
                code
            }
        }
    })
}

/// # Safety
/// `handle` from `edgepose_gst_open`, or null.
#[no_mangle]
pub unsafe extern "C" fn edgepose_gst_arrived(handle: *const Handle) -> u64 {
    if handle.is_null() {
        return 0;
    }
    // SAFETY: valid by contract.
    unsafe { &*handle }.arrived.load(Ordering::Relaxed)
}

/// # Safety
/// `handle` from `edgepose_gst_open` (or null), not used afterwards.
#[no_mangle]
pub unsafe extern "C" fn edgepose_gst_close(handle: *mut Handle) {
    if handle.is_null() {
        return;
    }
    guard((), || {
        // SAFETY: created by Box::into_raw in edgepose_gst_open.
        drop(unsafe { Box::from_raw(handle) });
    });
}
