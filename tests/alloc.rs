//! The steady-state frame path (pre-process → invoke → decode + NMS → map
//! back) makes no heap allocation: a counting global allocator in this test
//! binary counts allocations made by this thread while frames are processed
//! after a warm-up, for every input mapping (identity, int8 table, float32)
//! and the YOLO and MoveNet decoders.
//!
//! Both resize modes must make zero allocations per frame, and so must the
//! whole streaming loop of `run` (capture thread, camera-format conversion,
//! inference, tracking, a queued JSON sink on its own thread, the web
//! preview's sink, server and encoder with nobody watching), counted across
//! all threads while frames flow.

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use edgepose::decode::DecodeParams;
use edgepose::frame::{Frame, FrameResult, PixelFormat, YuvEncoding};
use edgepose::infer::EngineOptions;
use edgepose::model;
use edgepose::pipeline::Pipeline;
use edgepose::preprocess::{InputMap, LetterboxResizer, Preprocess, ResizeMode};
use edgepose::sink::json::JsonLines;
use edgepose::sink::queue::{Full, Queued};
use edgepose::sink::{Sink, SinkError};
use edgepose::source::{ImageSource, Source, SourceError};
use edgepose::stream::{Controls, FrameErrors};
use edgepose::track::{TrackedPersons, Tracker, TrackerParams, MAX_TRACKS};

struct Counting;

/// Counting across every thread (for the streaming loop). Other tests of
/// this binary would be counted too, so every test holds [`SERIAL`].
static ALL_THREADS: AtomicBool = AtomicBool::new(false);
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|p| p.into_inner())
}
static ALL_COUNT: AtomicU64 = AtomicU64::new(0);
/// `EDGEPOSE_ALLOC_TRACE=1`: print where each all-threads allocation came
/// from (set by [`trace_requested`] before counting starts).
static TRACE: AtomicBool = AtomicBool::new(false);

fn trace_requested() {
    TRACE.store(
        std::env::var_os("EDGEPOSE_ALLOC_TRACE").is_some(),
        Ordering::SeqCst,
    );
}

/// Prints the thread and a backtrace of a counted allocation; the
/// allocations made while printing are not counted.
fn trace(size: usize) {
    if !TRACE.load(Ordering::Relaxed) || IN_TRACE.with(Cell::get) {
        return;
    }
    IN_TRACE.with(|t| t.set(true));
    let bt = std::backtrace::Backtrace::force_capture();
    let name = std::thread::current().name().map(str::to_string);
    eprintln!("counted allocation of {size} B on thread {name:?}:\n{bt}");
    IN_TRACE.with(|t| t.set(false));
}

thread_local! {
    static COUNTING: Cell<bool> = const { Cell::new(false) };
    static COUNT: Cell<u64> = const { Cell::new(0) };
    static IN_TRACE: Cell<bool> = const { Cell::new(false) };
}

/// True on the process's main thread, where libtest's harness runs (tests
/// run on threads of their own). The harness allocates there while a test
/// runs, e.g. its "has been running for over 60 seconds" line, which a slow
/// run (ARM code under qemu-user) prints: not the frame path's.
fn on_harness_thread() -> bool {
    // SAFETY: plain system calls without arguments.
    unsafe { libc::gettid() == libc::getpid() }
}

// SAFETY: forwards to the system allocator; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if COUNTING.with(Cell::get) {
            COUNT.with(|c| c.set(c.get() + 1));
        }
        if ALL_THREADS.load(Ordering::Relaxed) && !IN_TRACE.with(Cell::get) && !on_harness_thread()
        {
            ALL_COUNT.fetch_add(1, Ordering::Relaxed);
            trace(layout.size());
        }
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if COUNTING.with(Cell::get) {
            COUNT.with(|c| c.set(c.get() + 1));
        }
        if ALL_THREADS.load(Ordering::Relaxed) && !IN_TRACE.with(Cell::get) && !on_harness_thread()
        {
            ALL_COUNT.fetch_add(1, Ordering::Relaxed);
            trace(new_size);
        }
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn counted(f: impl FnOnce()) -> u64 {
    COUNT.with(|c| c.set(0));
    COUNTING.with(|c| c.set(true));
    f();
    COUNTING.with(|c| c.set(false));
    COUNT.with(Cell::get)
}

/// How many frames a count covers: `native` natively, a quarter (at least
/// 5) as ARM code under qemu-user, where every invoke is emulated (an
/// armhf invoke on the classic runtime takes seconds). A per-frame
/// allocation shows in any count; the native run covers the long ones.
///
/// Call it before counting starts: it reads the environment, which allocates.
fn frames(native: usize) -> usize {
    if common::emulated() {
        (native / 4).max(5)
    } else {
        native
    }
}

/// Allocations of [`frames`]`(20)` steady-state frames through the whole
/// pipeline, and of as many bare letterbox resizes of the same frame.
fn allocations(model_file: &str, resize: ResizeMode, persons: usize) -> (u64, u64) {
    let m = model::resolve(model_file, &common::models_dir(), &[]).unwrap();
    let opts = EngineOptions::cpu(common::primary().lib(), 2);
    let mut p = Pipeline::new(m, &opts, DecodeParams::default(), resize).unwrap();
    let mut src =
        ImageSource::new(&[common::sample("samples/zidane.jpg")], Duration::ZERO).unwrap();
    let frame = src.next_frame().unwrap().unwrap();
    let mut out = FrameResult::default();
    for _ in 0..3 {
        p.process(&frame, &mut out).unwrap();
    }
    let n = frames(20);
    let pipeline = counted(|| {
        for _ in 0..n {
            p.process(&frame, &mut out).unwrap();
        }
    });
    assert_eq!(
        out.persons.len(),
        persons,
        "{model_file}: persons on zidane.jpg"
    );
    let m = p.model();
    let input = &m.interface.inputs[0];
    let [h, w] = m.manifest.input.size;
    let mut pre = LetterboxResizer::new(
        w as u32,
        h as u32,
        m.manifest.input.pad_value,
        InputMap::new(input, m.manifest.input.range),
        resize,
    );
    let mut tensor = vec![0u8; input.byte_len()];
    pre.prepare(&frame, &mut tensor).unwrap();
    let bare = counted(|| {
        for _ in 0..n {
            pre.prepare(&frame, &mut tensor).unwrap();
        }
    });
    (pipeline, bare)
}

#[test]
fn tracking_adds_no_allocation() {
    let _serial = serial();
    let m = model::resolve(
        "yolov8n_320_quant_pc_uf_pose_coco-st.tflite",
        &common::models_dir(),
        &[],
    )
    .unwrap();
    let opts = EngineOptions::cpu(common::primary().lib(), 2);
    let mut p = Pipeline::new(m, &opts, DecodeParams::default(), ResizeMode::Pillow).unwrap();
    let mut src =
        ImageSource::new(&[common::sample("samples/zidane.jpg")], Duration::ZERO).unwrap();
    let frame = src.next_frame().unwrap().unwrap();
    let mut tracker = Box::new(Tracker::new(TrackerParams::default()));
    let mut tracked = TrackedPersons::new();
    let mut out = FrameResult {
        raw: Vec::with_capacity(MAX_TRACKS),
        tracks: Vec::with_capacity(MAX_TRACKS),
        ..FrameResult::default()
    };
    let mut t = 0.0;
    let mut step = |p: &mut Pipeline,
                    out: &mut FrameResult,
                    tracker: &mut Tracker,
                    tracked: &mut TrackedPersons| {
        p.process(&frame, out).unwrap();
        out.timestamp_ms = t;
        t += 33.3;
        edgepose::track::apply_tracking(tracker, out, tracked);
    };
    for _ in 0..5 {
        step(&mut p, &mut out, &mut tracker, &mut tracked);
    }
    let count = frames(20);
    let n = counted(|| {
        for _ in 0..count {
            step(&mut p, &mut out, &mut tracker, &mut tracked);
        }
    });
    println!("tracking on: {n} allocations in {count} frames");
    assert_eq!(out.tracks.len(), 2, "both people tracked");
    assert_eq!(n, 0, "allocations in {count} tracked frames");
}

#[test]
fn steady_state_frames_allocate_nothing() {
    let _serial = serial();
    for (model_file, resize, persons) in [
        (
            "yolov8n_320_quant_pc_uf_pose_coco-st.tflite",
            ResizeMode::Pillow,
            2,
        ),
        ("yolo11n-pose-320-int8.tflite", ResizeMode::Pillow, 2),
        ("yolo11n-pose-320-float32.tflite", ResizeMode::Pillow, 2),
        (
            "movenet-singlepose-lightning-int8-4.tflite",
            ResizeMode::Pillow,
            1,
        ),
        (
            "yolov8n_320_quant_pc_uf_pose_coco-st.tflite",
            ResizeMode::Opencv,
            2,
        ),
        ("yolo11n-pose-320-int8.tflite", ResizeMode::Opencv, 2),
    ] {
        let (n, resize_only) = allocations(model_file, resize, persons);
        println!(
            "{model_file} ({resize:?}): {n} allocations in {} frames, {resize_only} of them the resize's",
            frames(20)
        );
        assert_eq!(n, 0, "{model_file} ({resize:?}): allocations in the frames");
        assert_eq!(resize_only, 0, "{model_file} ({resize:?}): bare letterbox");
    }
}

/// Camera-like frames: one YUYV, NV12 or MJPEG frame repeated; counting
/// across all threads is switched on at frame `from` and off at `to`.
struct Repeat {
    bytes: Vec<u8>,
    format: PixelFormat,
    width: u32,
    height: u32,
    stride: usize,
    seq: u64,
    from: u64,
    to: u64,
}

impl Source for Repeat {
    fn next_frame(&mut self) -> Option<Result<Frame<'_>, SourceError>> {
        if self.seq == self.from {
            ALL_COUNT.store(0, Ordering::SeqCst);
            ALL_THREADS.store(true, Ordering::SeqCst);
        }
        if self.seq == self.to {
            ALL_THREADS.store(false, Ordering::SeqCst);
            return None;
        }
        let seq = self.seq;
        self.seq += 1;
        Some(Ok(Frame {
            pixels: &self.bytes,
            format: self.format,
            stride: self.stride,
            yuv: YuvEncoding::Bt601Limited,
            width: self.width,
            height: self.height,
            seq,
            timestamp: Duration::from_millis(33 * seq),
            origin: "repeat",
        }))
    }
    fn describe(&self) -> String {
        "repeat".into()
    }
}

/// A sink that draws, as `--annotate` does, without writing anything: it
/// gets every frame as full-size RGB (converted on the capture thread from
/// the camera format) and checks its size and that it is a picture.
struct Drawing {
    frames: Arc<AtomicU64>,
}

impl Sink for Drawing {
    fn emit(
        &mut self,
        frame: &Frame<'_>,
        _result: &FrameResult,
        _meta: &edgepose::frame::RecordMeta,
    ) -> Result<(), SinkError> {
        let px = frame.pixels;
        assert_eq!(px.len(), frame.width as usize * frame.height as usize * 3);
        assert_eq!((frame.width, frame.height), (640, 480));
        let (lo, hi) = px
            .iter()
            .fold((255u8, 0u8), |(lo, hi), &v| (lo.min(v), hi.max(v)));
        assert!(hi - lo > 100, "a picture, not a flat buffer: {lo}..{hi}");
        self.frames.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }
    fn flush(&mut self) -> Result<(), SinkError> {
        Ok(())
    }
    fn wants_pixels(&self) -> bool {
        true
    }
}

/// zidane.jpg cropped to 4:3 and scaled to 640x480, as YUYV, NV12 and MJPEG.
fn camera_frames() -> Vec<(PixelFormat, Vec<u8>, usize)> {
    let img = image::open(common::sample("samples/zidane.jpg"))
        .unwrap()
        .crop_imm(160, 0, 960, 720)
        .resize_exact(640, 480, image::imageops::FilterType::Triangle)
        .to_rgb8();
    let (w, h) = (640usize, 480usize);
    let px = |x: usize, y: usize| {
        let p = img.get_pixel(x as u32, y as u32).0;
        (f64::from(p[0]), f64::from(p[1]), f64::from(p[2]))
    };
    let yv = |(r, g, b): (f64, f64, f64)| (16.0 + 0.257 * r + 0.504 * g + 0.098 * b).round() as u8;
    let uv = |(r, g, b): (f64, f64, f64)| {
        (
            (128.0 - 0.148 * r - 0.291 * g + 0.439 * b).round() as u8,
            (128.0 + 0.439 * r - 0.368 * g - 0.071 * b).round() as u8,
        )
    };
    let mut yuyv = Vec::with_capacity(w * h * 2);
    for y in 0..h {
        for x in (0..w).step_by(2) {
            let (u, v) = uv(px(x, y));
            yuyv.extend_from_slice(&[yv(px(x, y)), u, yv(px(x + 1, y)), v]);
        }
    }
    let mut nv12 = Vec::with_capacity(w * h * 3 / 2);
    for y in 0..h {
        for x in 0..w {
            nv12.push(yv(px(x, y)));
        }
    }
    for y in (0..h).step_by(2) {
        for x in (0..w).step_by(2) {
            let (u, v) = uv(px(x, y));
            nv12.extend_from_slice(&[u, v]);
        }
    }
    let mut jpeg = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 90)
        .encode(img.as_raw(), 640, 480, image::ExtendedColorType::Rgb8)
        .unwrap();
    vec![
        (PixelFormat::Yuyv, yuyv, w * 2),
        (PixelFormat::Nv12, nv12, w),
        (PixelFormat::Mjpeg, jpeg, 0),
    ]
}

#[test]
fn streaming_run_allocates_nothing_per_frame_on_any_thread() {
    let _serial = serial();
    let m = model::resolve(
        "yolov8n_320_quant_pc_uf_pose_coco-st.tflite",
        &common::models_dir(),
        &[],
    )
    .unwrap();
    // One runtime thread: the runtime's own worker threads (XNNPACK's pool)
    // would otherwise be counted with ours.
    let opts = EngineOptions::cpu(common::primary().lib(), 1);
    let mut p = Pipeline::new(m, &opts, DecodeParams::default(), ResizeMode::Opencv).unwrap();
    trace_requested();
    assert!(
        !on_harness_thread(),
        "the test must run on a thread of its own: the main thread is not counted"
    );
    // Baseline: the runtime alone on this thread, counted on all threads.
    let img = ImageSource::new(&[common::sample("samples/zidane.jpg")], Duration::ZERO)
        .unwrap()
        .next_frame()
        .map(|f| f.map(|f| (f.pixels.to_vec(), f.width, f.height)))
        .unwrap()
        .unwrap();
    let still = Frame::rgb(&img.0, img.1, img.2, "zidane");
    let mut out = FrameResult::default();
    for _ in 0..3 {
        p.process(&still, &mut out).unwrap();
    }
    let count = frames(20);
    ALL_COUNT.store(0, Ordering::SeqCst);
    ALL_THREADS.store(true, Ordering::SeqCst);
    for _ in 0..count {
        p.process(&still, &mut out).unwrap();
    }
    ALL_THREADS.store(false, Ordering::SeqCst);
    let baseline = ALL_COUNT.load(Ordering::SeqCst);
    println!("runtime alone, all threads: {baseline} allocations in {count} frames");
    assert_eq!(
        baseline, 0,
        "allocations of the bare pipeline on all threads"
    );
    let meta = edgepose::frame::RecordMeta {
        model_id: "m".into(),
        runtime: "litert".into(),
        keypoint_names: p.model().manifest.keypoints.names.clone(),
        skeleton: p.model().manifest.keypoints.skeleton.clone(),
        keypoint_threshold: 0.5,
    };
    let (src_from, src_to) = (frames(10) as u64, (frames(10) + frames(30)) as u64);
    for (format, bytes, stride) in camera_frames() {
        let mut src = Repeat {
            bytes,
            format,
            width: 640,
            height: 480,
            stride,
            seq: 0,
            from: src_from,
            to: src_to,
        };
        let json = JsonLines::new(Box::new(std::io::sink()), "null");
        let drawn = Arc::new(AtomicU64::new(0));
        let mut sinks: Vec<Box<dyn Sink>> = vec![
            Box::new(Queued::new(Box::new(json), 4, Full::Wait, meta.clone())),
            // Wants the pixels: every frame is converted to RGB as well.
            Box::new(Drawing {
                frames: Arc::clone(&drawn),
            }),
        ];
        // The web preview, with nobody watching: it must cost nothing.
        #[cfg(feature = "http")]
        sinks.push(edgepose::sink::open("http:127.0.0.1:0").unwrap());
        let mut tracker = Tracker::new(TrackerParams::default());
        let stop = AtomicBool::new(false);
        let controls = Controls {
            stop: &stop,
            report: None,
            frame_errors: FrameErrors::Log,
        };
        let report = edgepose::stream::run(
            &mut p,
            &mut src,
            &mut sinks,
            &meta,
            Some(&mut tracker),
            &controls,
        )
        .unwrap();
        let n = ALL_COUNT.load(Ordering::SeqCst);
        println!(
            "{format:?}: {} frames ({} dropped), {} persons; {n} allocations on all threads in frames {}..{}",
            report.frames, report.dropped, report.persons, src_from, src_to
        );
        assert_eq!(
            report.frames, src_to,
            "{format:?}: frames (a file-like source loses none)"
        );
        assert!(
            report.persons >= src_to,
            "{format:?}: {} persons",
            report.persons
        );
        assert_eq!(
            drawn.load(Ordering::Relaxed),
            src_to,
            "{format:?}: every frame drawn on as RGB"
        );
        assert_eq!(n, 0, "{format:?}: allocations in the streaming loop");
    }
}

/// The pipe source reads frames without allocating: raw I420 frames
/// (repacked to NV12 in its own buffer) and MJPEG images cut from the
/// stream, fed through named pipes by writer threads that only write
/// from buffers made beforehand.
#[test]
fn pipe_frames_allocate_nothing() {
    use edgepose::source::pipe::PipeSource;
    use edgepose::spec::Spec;
    use std::io::Write;
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let jpeg = std::fs::read(common::sample("samples/zidane.jpg")).unwrap();
    let i420: Vec<u8> = (0..64 * 48 * 3 / 2).map(|i| (i % 253) as u8).collect();
    for (i, (query, frame)) in [
        ("format=I420&width=64&height=48", i420),
        ("format=MJPG", jpeg),
    ]
    .into_iter()
    .enumerate()
    {
        let fifo = dir.path().join(format!("p{i}"));
        let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        // SAFETY: a valid path string.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        let total = frames(40);
        let mut spec = Spec::parse(&format!("raw:{}?{query}", fifo.display())).unwrap();
        let mut src = PipeSource::from_spec(&mut spec, None).unwrap();
        let stream: Vec<u8> = frame.repeat(total);
        let path = fifo.clone();
        let writer = std::thread::spawn(move || {
            let mut f = std::fs::OpenOptions::new().write(true).open(path).unwrap();
            f.write_all(&stream).unwrap();
        });
        let warm = 5;
        for _ in 0..warm {
            assert!(src.next_frame().unwrap().is_ok());
        }
        let n = counted(|| {
            for _ in warm..total {
                let f = src.next_frame().unwrap().unwrap();
                assert_eq!(f.pixels.len(), frame.len());
            }
        });
        writer.join().unwrap();
        println!("pipe {query}: {n} allocations in {} frames", total - warm);
        assert_eq!(n, 0, "pipe {query}: allocations per frame");
        assert_eq!(src.counters().frames, total as u64);
    }
}
