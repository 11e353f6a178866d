//! The frame loop of `run` and `infer`: a capture thread reads the source
//! and pre-processes each frame straight from its buffer into one of three
//! pre-allocated model inputs; the calling thread runs the model, tracking
//! and the sinks.
//!
//! The two threads meet at a one-frame mailbox. For a live source (a
//! camera) only the newest frame matters: a frame prepared while inference
//! is busy replaces the waiting one, which is counted as dropped. For files
//! and recordings the capture thread waits instead, so nothing is lost.
//! A frame that cannot be read or pre-processed is reported (see
//! [`FrameErrors`]), counted and skipped; any other fault ends the loop.
//!
//! Per-stage latencies (capture-to-output, source, pre-process, invoke,
//! decode, emit) are kept as bounded samples and summed up in a
//! [`RunReport`], also on request while running (SIGUSR1 in `run`), and
//! handed to the sinks that show it live ([`Sink::wants_live_report`]: the web
//! preview), over the newest [`LIVE_WINDOW`] frames. A stop flag
//! (SIGINT/SIGTERM in `run`) stops the capture; the frame in flight is
//! finished, the sinks are flushed.
//!
//! The capture thread keeps each frame's pixels as packed RGB (converted
//! from camera formats by [`ToRgb`]) for the sinks that draw on
//! them: always for [`Sink::wants_pixels`], and while the flag of
//! [`Sink::pixels_on_demand`] is set for the others.

pub use crate::report::RunReport;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Instant;

use crate::frame::{Frame, FrameMeta, FrameResult, PixelFormat, RecordMeta};
use crate::pipeline::{Pipeline, PipelineError};
use crate::preprocess::{Letterbox, LetterboxResizer, Preprocess, ToRgb};
use crate::report::SinkCounts;
use crate::sink::{Sink, SinkError};
use crate::source::{Source, SourceError};
use crate::stats::Samples;
use crate::track::{apply_tracking, TrackedPersons, Tracker, MAX_TRACKS};

/// Frames the live report's latencies cover (the newest).
pub const LIVE_WINDOW: usize = 600;

/// Errors that end a stream.
#[derive(Debug, thiserror::Error)]
pub enum StreamError {
    #[error(transparent)]
    Source(#[from] SourceError),
    #[error("processing {origin}: {source}")]
    Pipeline {
        origin: String,
        #[source]
        source: PipelineError,
    },
    #[error(transparent)]
    Sink(#[from] SinkError),
    #[error("the capture thread panicked; this is a bug, please report it")]
    CaptureThread,
}

/// One prepared frame.
struct Slot {
    input: Vec<u8>,
    lb: Letterbox,
    meta: FrameMeta,
    origin: String,
    /// Packed RGB pixels, kept only when a sink draws on them.
    pixels: Vec<u8>,
    width: u32,
    height: u32,
    arrived: Option<Instant>,
    source_ms: f64,
}

struct Mailbox {
    /// Slot ready for inference.
    ready: Option<usize>,
    free: Vec<usize>,
    done: bool,
    error: Option<SourceError>,
}

struct Shared {
    mailbox: Mutex<Mailbox>,
    cv: Condvar,
    slots: Vec<Mutex<Slot>>,
    /// Frames the source gave, read or not.
    frames_in: AtomicU64,
    dropped: AtomicU64,
    frame_errors: AtomicU64,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Latency samples of each stage.
#[derive(Default)]
struct Stages {
    c2o: Samples,
    source: Samples,
    pre: Samples,
    invoke: Samples,
    decode: Samples,
    emit: Samples,
    /// Sorting room for the live report.
    scratch: Vec<f64>,
}

impl Stages {
    fn fill(&self, r: &mut RunReport) {
        r.capture_to_output = self.c2o.summary();
        r.source = self.source.summary();
        r.preprocess = self.pre.summary();
        r.invoke = self.invoke.summary();
        r.decode = self.decode.summary();
        r.emit = self.emit.summary();
    }

    /// The newest [`LIVE_WINDOW`] frames of each stage.
    fn fill_recent(&mut self, r: &mut RunReport) {
        let s = &mut self.scratch;
        r.capture_to_output = self.c2o.recent(LIVE_WINDOW, s);
        r.source = self.source.recent(LIVE_WINDOW, s);
        r.preprocess = self.pre.recent(LIVE_WINDOW, s);
        r.invoke = self.invoke.recent(LIVE_WINDOW, s);
        r.decode = self.decode.recent(LIVE_WINDOW, s);
        r.emit = self.emit.recent(LIVE_WINDOW, s);
    }
}

/// Which sinks want the frames' pixels: some always, some now and then.
struct PixelWants {
    always: bool,
    on_demand: Vec<Arc<AtomicBool>>,
}

impl PixelWants {
    fn of(sinks: &[Box<dyn Sink>]) -> Self {
        Self {
            always: sinks.iter().any(|s| s.wants_pixels()),
            on_demand: sinks.iter().filter_map(|s| s.pixels_on_demand()).collect(),
        }
    }

    fn now(&self) -> bool {
        self.always || self.on_demand.iter().any(|f| f.load(Ordering::Relaxed))
    }
}

/// What each sink has dropped (and delivered) so far.
fn sink_counts(sinks: &[Box<dyn Sink>]) -> Vec<SinkCounts> {
    sinks
        .iter()
        .filter_map(|s| {
            s.dropped().map(|dropped| SinkCounts {
                name: s.name(),
                dropped,
                records: s.records(),
            })
        })
        .collect()
}

/// How a frame that cannot be read or pre-processed is reported (it is
/// counted and skipped either way).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FrameErrors {
    /// A warning in the log (`run`: a camera may deliver many).
    #[default]
    Log,
    /// An `edgepose: error:` line on stderr (`infer`: each bad image is an
    /// error the user must see).
    Print,
}

impl FrameErrors {
    fn report(self, what: std::fmt::Arguments<'_>) {
        match self {
            FrameErrors::Log => log::warn!("{what}"),
            FrameErrors::Print => eprintln!("edgepose: error: {what}"),
        }
    }
}

/// Flags that steer a running stream.
pub struct Controls<'a> {
    /// Set by SIGINT/SIGTERM: stop capturing, finish, flush.
    pub stop: &'a AtomicBool,
    /// Set by SIGUSR1: print the statistics so far (and cleared).
    pub report: Option<&'a AtomicBool>,
    /// How skipped frames are reported.
    pub frame_errors: FrameErrors,
}

/// A frame that cannot be read, pre-processed or converted: reported,
/// counted and skipped (its slot `idx` given back). The capture side is
/// alive all the same (src/notify.rs).
fn skip_frame(shared: &Shared, errors: FrameErrors, idx: usize, what: std::fmt::Arguments<'_>) {
    errors.report(what);
    shared.frame_errors.fetch_add(1, Ordering::Relaxed);
    crate::notify::capture_alive();
    lock(&shared.mailbox).free.push(idx);
}

/// Capture-thread side: read, prepare, post.
fn capture(
    source: &mut dyn Source,
    pre: &mut LetterboxResizer,
    shared: &Shared,
    stop: &AtomicBool,
    pixels: &PixelWants,
    errors: FrameErrors,
) {
    let _done = DoneOnDrop(shared);
    let mut to_rgb = ToRgb::new();
    let live = source.live();
    loop {
        if stop.load(Ordering::Relaxed) {
            break;
        }
        // A free slot; for finite sources also wait until the mailbox is
        // empty, so no frame is replaced.
        let idx = {
            let mut mb = lock(&shared.mailbox);
            loop {
                if mb.done {
                    return;
                }
                if (live || mb.ready.is_none()) && !mb.free.is_empty() {
                    break mb.free.pop();
                }
                mb = shared.cv.wait(mb).unwrap_or_else(|p| p.into_inner());
            }
        };
        let Some(idx) = idx else { break };
        let t0 = Instant::now();
        let next = source.next_frame();
        let arrived = Instant::now();
        let give_back = |shared: &Shared| {
            lock(&shared.mailbox).free.push(idx);
        };
        let frame = match next {
            None => {
                give_back(shared);
                break;
            }
            Some(Ok(f)) => {
                shared.frames_in.fetch_add(1, Ordering::Relaxed);
                f
            }
            Some(Err(e)) if e.is_per_frame() => {
                shared.frames_in.fetch_add(1, Ordering::Relaxed);
                skip_frame(shared, errors, idx, format_args!("{e}"));
                continue;
            }
            Some(Err(e)) => {
                give_back(shared);
                lock(&shared.mailbox).error = Some(e);
                break;
            }
        };
        let source_ms = (arrived - t0).as_secs_f64() * 1e3;
        let mut slot = lock(&shared.slots[idx]);
        let t1 = Instant::now();
        let lb = match pre.prepare(&frame, &mut slot.input) {
            Ok(lb) => lb,
            Err(e) => {
                drop(slot);
                let what = format_args!("{}: frame {}: {e}", frame.origin, frame.seq);
                skip_frame(shared, errors, idx, what);
                continue;
            }
        };
        slot.meta = FrameMeta {
            seq: frame.seq,
            timestamp_ms: frame.timestamp.as_secs_f64() * 1e3,
            preprocess_ms: t1.elapsed().as_secs_f64() * 1e3,
        };
        slot.lb = lb;
        slot.origin.clear();
        slot.origin.push_str(frame.origin);
        slot.width = lb.src_w;
        slot.height = lb.src_h;
        slot.arrived = Some(arrived);
        slot.source_ms = source_ms;
        slot.pixels.clear();
        if pixels.now() {
            // The sinks that draw get the picture as RGB, whatever the
            // source format (reused buffer: no allocation once warm).
            if frame.format == PixelFormat::Rgb24 && frame.stride == frame.width as usize * 3 {
                slot.pixels.extend_from_slice(frame.pixels);
            } else {
                let Slot { pixels, .. } = &mut *slot;
                match to_rgb.convert(&frame, pixels) {
                    Ok((w, h)) => (slot.width, slot.height) = (w, h),
                    Err(e) => {
                        drop(slot);
                        let what = format_args!("{}: frame {}: {e}", frame.origin, frame.seq);
                        skip_frame(shared, errors, idx, what);
                        continue;
                    }
                }
            }
        }
        drop(slot);
        let mut mb = lock(&shared.mailbox);
        if let Some(old) = mb.ready.replace(idx) {
            mb.free.push(old);
            shared.dropped.fetch_add(1, Ordering::Relaxed);
        }
        shared.cv.notify_all();
    }
}

/// Marks the capture as done when dropped: at its end, and also when the
/// capture thread panics, so the frame loop never waits for a thread that
/// is gone (it then reports [`StreamError::CaptureThread`]).
struct DoneOnDrop<'a>(&'a Shared);

impl Drop for DoneOnDrop<'_> {
    fn drop(&mut self) {
        let mut mb = lock(&self.0.mailbox);
        mb.done = true;
        self.0.cv.notify_all();
    }
}

/// Runs `source` through the pipeline into `sinks` until the source ends or
/// `controls.stop` is set.
pub fn run(
    pipeline: &mut Pipeline,
    source: &mut dyn Source,
    sinks: &mut [Box<dyn Sink>],
    meta: &RecordMeta,
    mut tracker: Option<&mut Tracker>,
    controls: &Controls<'_>,
) -> Result<RunReport, StreamError> {
    let input_len = pipeline.input_len();
    let pixels = PixelWants::of(sinks);
    let shared = Shared {
        mailbox: Mutex::new(Mailbox {
            ready: None,
            free: vec![0, 1, 2],
            done: false,
            error: None,
        }),
        cv: Condvar::new(),
        slots: (0..3)
            .map(|_| {
                Mutex::new(Slot {
                    input: vec![0; input_len],
                    lb: Letterbox::new(1, 1, 1, 1),
                    meta: FrameMeta::default(),
                    origin: String::with_capacity(256),
                    pixels: Vec::new(),
                    width: 0,
                    height: 0,
                    arrived: None,
                    source_ms: 0.0,
                })
            })
            .collect(),
        frames_in: AtomicU64::new(0),
        dropped: AtomicU64::new(0),
        frame_errors: AtomicU64::new(0),
    };
    let mut pre = pipeline.preparer();
    let mut result = FrameResult {
        persons: Vec::with_capacity(64),
        raw: Vec::with_capacity(MAX_TRACKS),
        tracks: Vec::with_capacity(MAX_TRACKS),
        ..FrameResult::default()
    };
    let mut tracked = TrackedPersons::new();
    let mut stages = Stages::default();
    let mut report = RunReport::default();
    let start = Instant::now();
    let outcome: Result<(), StreamError> = std::thread::scope(|scope| {
        let cap = std::thread::Builder::new()
            .name("capture".into())
            .spawn_scoped(scope, || {
                capture(
                    source,
                    &mut pre,
                    &shared,
                    controls.stop,
                    &pixels,
                    controls.frame_errors,
                )
            })
            .map_err(|_| StreamError::CaptureThread)?;
        let r = infer_loop(
            pipeline,
            sinks,
            meta,
            &mut tracker,
            controls,
            &shared,
            &mut result,
            &mut tracked,
            &mut stages,
            &mut report,
            start,
        );
        // Whatever happened, let the capture thread finish.
        {
            let mut mb = lock(&shared.mailbox);
            mb.done = true;
            shared.cv.notify_all();
        }
        cap.join().map_err(|_| StreamError::CaptureThread)?;
        r
    });
    let mut flushed: Result<(), StreamError> = Ok(());
    for sink in sinks.iter_mut() {
        if let Err(e) = sink.flush() {
            flushed = flushed.and(Err(e.into()));
        }
    }
    outcome?;
    if let Some(e) = lock(&shared.mailbox).error.take() {
        return Err(e.into());
    }
    flushed?;
    report.frames_in = shared.frames_in.load(Ordering::Relaxed);
    report.dropped = shared.dropped.load(Ordering::Relaxed);
    report.frame_errors = shared.frame_errors.load(Ordering::Relaxed);
    report.wall_s = start.elapsed().as_secs_f64();
    if let Some(t) = tracker {
        let c = t.counters();
        report.tracks_started = c.tracks_started;
        report.tracks_deleted = c.tracks_deleted;
    }
    stages.fill(&mut report);
    let info = pipeline.engine().info();
    report.load_ms = info.load_ms;
    report.delegate = info.delegate.clone();
    report.sinks = sink_counts(sinks);
    report.notes.extend(source.summary());
    report
        .notes
        .extend(sinks.iter().filter_map(|s| s.summary()));
    Ok(report)
}

#[allow(clippy::too_many_arguments)]
fn infer_loop(
    pipeline: &mut Pipeline,
    sinks: &mut [Box<dyn Sink>],
    meta: &RecordMeta,
    tracker: &mut Option<&mut Tracker>,
    controls: &Controls<'_>,
    shared: &Shared,
    result: &mut FrameResult,
    tracked: &mut TrackedPersons,
    stages: &mut Stages,
    report: &mut RunReport,
    start: Instant,
) -> Result<(), StreamError> {
    // The counts so far, for SIGUSR1 and the sinks that show them live.
    let so_far = |report: &RunReport| RunReport {
        frames_in: shared.frames_in.load(Ordering::Relaxed),
        frames: report.frames,
        persons: report.persons,
        dropped: shared.dropped.load(Ordering::Relaxed),
        frame_errors: shared.frame_errors.load(Ordering::Relaxed),
        wall_s: start.elapsed().as_secs_f64(),
        first_invoke_ms: report.first_invoke_ms,
        ..RunReport::default()
    };
    loop {
        if let Some(flag) = controls.report {
            if flag.swap(false, Ordering::Relaxed) {
                let mut r = so_far(report);
                stages.fill(&mut r);
                eprintln!("{}", r.human());
            }
        }
        let idx = {
            let mut mb = lock(&shared.mailbox);
            loop {
                if let Some(i) = mb.ready.take() {
                    shared.cv.notify_all();
                    break Some(i);
                }
                if mb.done {
                    break None;
                }
                // Wake now and then to answer SIGUSR1 while idle, and to
                // keep systemd's watchdog fed while the capture side shows
                // life (a camera being reopened) though no frame comes.
                let (guard, waited) = shared
                    .cv
                    .wait_timeout(mb, std::time::Duration::from_millis(200))
                    .unwrap_or_else(|p| p.into_inner());
                mb = guard;
                if waited.timed_out() {
                    crate::notify::watchdog_idle();
                }
                if controls.report.is_some_and(|f| f.load(Ordering::Relaxed)) {
                    break None;
                }
            }
        };
        let Some(idx) = idx else {
            if controls.report.is_some_and(|f| f.load(Ordering::Relaxed)) {
                continue;
            }
            return Ok(());
        };
        let slot = lock(&shared.slots[idx]);
        result.times.source = slot.source_ms;
        let processed = pipeline.process_input(&slot.input, &slot.lb, &slot.meta, result);
        if let Err(source) = processed {
            let origin = slot.origin.clone();
            drop(slot);
            lock(&shared.mailbox).free.push(idx);
            return Err(StreamError::Pipeline { origin, source });
        }
        if let Some(t) = tracker.as_deref_mut() {
            apply_tracking(t, result, tracked);
        }
        let t_emit = Instant::now();
        let frame = Frame {
            seq: slot.meta.seq,
            timestamp: std::time::Duration::from_secs_f64(slot.meta.timestamp_ms.max(0.0) / 1e3),
            ..Frame::rgb(&slot.pixels, slot.width, slot.height, &slot.origin)
        };
        for sink in sinks.iter_mut() {
            sink.emit(&frame, result, meta)?;
        }
        crate::notify::watchdog();
        let now = Instant::now();
        stages.emit.push((now - t_emit).as_secs_f64() * 1e3);
        if let Some(a) = slot.arrived {
            stages.c2o.push((now - a).as_secs_f64() * 1e3);
        }
        drop(slot);
        {
            let mut mb = lock(&shared.mailbox);
            mb.free.push(idx);
            shared.cv.notify_all();
        }
        stages.source.push(result.times.source);
        stages.pre.push(result.times.preprocess);
        if report.frames == 0 {
            report.first_invoke_ms = Some(result.times.invoke);
        } else {
            stages.invoke.push(result.times.invoke);
        }
        stages.decode.push(result.times.decode);
        report.frames += 1;
        report.persons += result.persons.len() as u64;
        if sinks.iter().any(|s| s.wants_live_report()) {
            let mut r = so_far(report);
            stages.fill_recent(&mut r);
            if let Some(t) = tracker.as_deref() {
                let c = t.counters();
                r.tracks_started = c.tracks_started;
                r.tracks_deleted = c.tracks_deleted;
            }
            let info = pipeline.engine().info();
            r.load_ms = info.load_ms;
            r.delegate = info.delegate.clone();
            r.sinks = sink_counts(sinks);
            for sink in sinks.iter_mut().filter(|s| s.wants_live_report()) {
                sink.live_report(&r);
            }
        }
    }
}
