//! The steady-state frame path (pre-process → invoke → decode + NMS → map
//! back) makes no heap allocation: a counting global allocator in this test
//! binary counts allocations made by this thread while frames are processed
//! after a warm-up, for every input mapping (identity, int8 table, float32)
//! and the YOLO and MoveNet decoders.
//!
//! With the exact resize the count must be zero. `fast_image_resize`
//! recomputes its filter coefficients (about 500 small blocks) on every
//! call and has no API to keep them; with the fast resize the test requires
//! that every allocation of a frame is the resize's own, i.e. the frame
//! costs exactly what the bare resize of the same frame costs.

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::time::Duration;

use edgepose::decode::DecodeParams;
use edgepose::infer::EngineOptions;
use edgepose::model;
use edgepose::pipeline::{FrameResult, Pipeline};
use edgepose::preprocess::{InputMap, LetterboxResizer, Preprocess, ResizeMode};
use edgepose::source::{ImageSource, Source};
use edgepose::track::{TrackedPersons, Tracker, TrackerParams, MAX_TRACKS};

struct Counting;

thread_local! {
    static COUNTING: Cell<bool> = const { Cell::new(false) };
    static COUNT: Cell<u64> = const { Cell::new(0) };
}

// SAFETY: forwards to the system allocator; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if COUNTING.with(Cell::get) {
            COUNT.with(|c| c.set(c.get() + 1));
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

/// Allocations of 20 steady-state frames through the whole pipeline, and
/// of 20 bare letterbox resizes of the same frame.
fn allocations(model_file: &str, resize: ResizeMode, persons: usize) -> (u64, u64) {
    let m = model::resolve(model_file, &common::models_dir(), &[]).unwrap();
    let opts = EngineOptions::cpu(common::litert_lib(), 2);
    let mut p = Pipeline::new(m, &opts, DecodeParams::default(), resize).unwrap();
    let mut src =
        ImageSource::new(&[common::sample("samples/zidane.jpg")], Duration::ZERO).unwrap();
    let frame = src.next_frame().unwrap().unwrap();
    let mut out = FrameResult::default();
    for _ in 0..3 {
        p.process(&frame, &mut out).unwrap();
    }
    let pipeline = counted(|| {
        for _ in 0..20 {
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
        for _ in 0..20 {
            pre.prepare(&frame, &mut tensor).unwrap();
        }
    });
    (pipeline, bare)
}

#[test]
fn tracking_adds_no_allocation() {
    let m = model::resolve(
        "yolov8n_320_quant_pc_uf_pose_coco-st.tflite",
        &common::models_dir(),
        &[],
    )
    .unwrap();
    let opts = EngineOptions::cpu(common::litert_lib(), 2);
    let mut p = Pipeline::new(m, &opts, DecodeParams::default(), ResizeMode::Exact).unwrap();
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
        edgepose::app::apply_tracking(tracker, out, tracked);
    };
    for _ in 0..5 {
        step(&mut p, &mut out, &mut tracker, &mut tracked);
    }
    let n = counted(|| {
        for _ in 0..20 {
            step(&mut p, &mut out, &mut tracker, &mut tracked);
        }
    });
    println!("tracking on: {n} allocations in 20 frames");
    assert_eq!(out.tracks.len(), 2, "both people tracked");
    assert_eq!(n, 0, "allocations in 20 tracked frames");
}

#[test]
fn steady_state_frames_allocate_nothing_beyond_the_fast_resize() {
    for (model_file, resize, persons) in [
        (
            "yolov8n_320_quant_pc_uf_pose_coco-st.tflite",
            ResizeMode::Exact,
            2,
        ),
        ("yolo11n-pose-320-int8.tflite", ResizeMode::Exact, 2),
        ("yolo11n-pose-320-float32.tflite", ResizeMode::Exact, 2),
        (
            "movenet-singlepose-lightning-int8-4.tflite",
            ResizeMode::Exact,
            1,
        ),
        (
            "yolov8n_320_quant_pc_uf_pose_coco-st.tflite",
            ResizeMode::Fast,
            2,
        ),
        ("yolo11n-pose-320-int8.tflite", ResizeMode::Fast, 2),
    ] {
        let (n, resize_only) = allocations(model_file, resize, persons);
        println!(
            "{model_file} ({resize:?}): {n} allocations in 20 frames, {resize_only} of them the resize's"
        );
        match resize {
            ResizeMode::Exact => assert_eq!(n, 0, "{model_file}: allocations in 20 exact frames"),
            ResizeMode::Fast => assert_eq!(
                n, resize_only,
                "{model_file}: allocations beyond the fast resize's own in 20 frames"
            ),
        }
    }
}
