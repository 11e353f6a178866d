//! Pre-processing against independent references, byte for byte:
//! - the default (OpenCV) mode: the model input tensor equals the one
//!   `scripts/reference.py --resize opencv` made with cv2 (`cv2.imdecode`,
//!   Ultralytics' letterbox with `cv2.resize` INTER_LINEAR), for every
//!   shipped model and every image of the OpenCV set (samples, coco-val-mini,
//!   coco-train-mini); and for YUYV and NV12 frames made from those images,
//!   the tensor equals `cv2.cvtColor` + the same letterbox; such frames also
//!   give the reference's persons;
//! - the Pillow mode: the tensor equals the Pillow reference's.
//!
//! The fixtures were made on x86_64; the ARM builds keep the Pillow sets
//! (tests/reference.rs) and prove their kernels in the unit tests.

mod common;

use std::time::Duration;

use common::PersonView;
use edgepose::frame::{Frame, FrameResult, PixelFormat, YuvEncoding};
use edgepose::infer::EngineOptions;
use edgepose::model;
use edgepose::pipeline::Pipeline;
use edgepose::preprocess::{InputMap, LetterboxResizer, Preprocess, ResizeMode};
use edgepose::source::{ImageSource, Source};
use serde_json::Value;

fn fixtures(dir: &str) -> Vec<Value> {
    let dir = common::repo().join(dir);
    let mut paths: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    paths.sort();
    paths
        .iter()
        .map(|p| serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap())
        .collect()
}

fn resizer(fx: &Value, mode: ResizeMode) -> (LetterboxResizer, Vec<u8>) {
    let name = fx["model"].as_str().unwrap();
    let m = model::resolve(name, &common::models_dir(), &[]).unwrap();
    let [h, w] = m.manifest.input.size;
    let input = &m.interface.inputs[0];
    let pre = LetterboxResizer::new(
        w as u32,
        h as u32,
        m.manifest.input.pad_value,
        InputMap::new(input, m.manifest.input.range),
        mode,
    );
    (pre, vec![0u8; input.byte_len()])
}

fn assert_letterbox(ctx: &str, lb: &edgepose::preprocess::Letterbox, want: &Value) {
    let u = |k: &str| want[k].as_u64().unwrap() as u32;
    assert_eq!(
        (lb.new_w, lb.new_h, lb.left, lb.top),
        (u("new_w"), u("new_h"), u("left"), u("top")),
        "{ctx}: letterbox"
    );
}

/// YUYV and NV12 frames (bytes, width, height) made from packed RGB as
/// `scripts/reference.py` makes them: cropped to even sizes, integer
/// BT.601 limited range, chroma of the even pixel / top-left of 2×2.
fn camera_frames(rgb: &[u8], w: usize, h: usize) -> [(PixelFormat, Vec<u8>, usize, usize); 2] {
    let (cw, ch) = (w / 2 * 2, h / 2 * 2);
    let px = |x: usize, y: usize| {
        let p = &rgb[(y * w + x) * 3..];
        (i32::from(p[0]), i32::from(p[1]), i32::from(p[2]))
    };
    let luma = |(r, g, b)| (((66 * r + 129 * g + 25 * b + 128) >> 8) + 16) as u8;
    let cb = |(r, g, b)| (((-38 * r - 74 * g + 112 * b + 128) >> 8) + 128) as u8;
    let cr = |(r, g, b)| (((112 * r - 94 * g - 18 * b + 128) >> 8) + 128) as u8;
    let mut yuyv = Vec::with_capacity(cw * ch * 2);
    for y in 0..ch {
        for x in (0..cw).step_by(2) {
            let p = px(x, y);
            yuyv.extend_from_slice(&[luma(p), cb(p), luma(px(x + 1, y)), cr(p)]);
        }
    }
    let mut nv12: Vec<u8> = (0..ch)
        .flat_map(|y| (0..cw).map(move |x| (x, y)))
        .map(|(x, y)| luma(px(x, y)))
        .collect();
    for y in (0..ch).step_by(2) {
        for x in (0..cw).step_by(2) {
            nv12.extend_from_slice(&[cb(px(x, y)), cr(px(x, y))]);
        }
    }
    [
        (PixelFormat::Yuyv, yuyv, cw, ch),
        (PixelFormat::Nv12, nv12, cw, ch),
    ]
}

fn frame(bytes: &[u8], format: PixelFormat, w: usize, h: usize) -> Frame<'_> {
    Frame {
        pixels: bytes,
        format,
        stride: format.min_stride(w as u32),
        yuv: YuvEncoding::Bt601Limited,
        width: w as u32,
        height: h as u32,
        seq: 0,
        timestamp: Duration::ZERO,
        origin: "test",
    }
}

fn fourcc(f: PixelFormat) -> &'static str {
    if f == PixelFormat::Yuyv {
        "yuyv"
    } else {
        "nv12"
    }
}

#[test]
fn opencv_input_tensors_equal_cv2_for_images_and_camera_frames() {
    // Made on x86_64: the ARM runs declare the sets unavailable
    // (tests/common/skip.rs; scripts/test.sh says why).
    if !common::opencv_sets_available() {
        return;
    }
    let fxs = fixtures("tests/fixtures/reference-opencv");
    assert_eq!(fxs.len(), 6, "one fixture per shipped model");
    let mut pres: Vec<_> = fxs
        .iter()
        .map(|f| resizer(f, ResizeMode::default()))
        .collect();
    let files: Vec<String> = fxs[0]["images"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["file"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        files.len(),
        86,
        "samples, coco-val-mini and coco-train-mini"
    );
    let mut checked = 0;
    for (i, file) in files.iter().enumerate() {
        let mut src = ImageSource::new(&[common::data_dir().join(file)], Duration::ZERO).unwrap();
        let img = src.next_frame().unwrap().unwrap();
        let (w, h) = (img.width as usize, img.height as usize);
        let cams = camera_frames(img.pixels, w, h);
        for (fx, (pre, tensor)) in fxs.iter().zip(&mut pres) {
            let want = &fx["images"][i];
            let ctx = format!("{} {file}", fx["model"].as_str().unwrap());
            assert_eq!(want["file"].as_str(), Some(file.as_str()));
            let lb = pre.prepare(&img, tensor).unwrap();
            assert_letterbox(&ctx, &lb, &want["letterbox"]);
            assert_eq!(
                model::sha256_hex(tensor),
                want["input_sha256"].as_str().unwrap(),
                "{ctx}: input tensor differs from OpenCV's"
            );
            for (format, bytes, cw, ch) in &cams {
                let cam = &want["camera"][fourcc(*format)];
                assert_eq!(cam["width"].as_u64(), Some(*cw as u64), "{ctx}");
                pre.prepare(&frame(bytes, *format, *cw, *ch), tensor)
                    .unwrap();
                assert_eq!(
                    model::sha256_hex(tensor),
                    cam["input_sha256"].as_str().unwrap(),
                    "{ctx} {format:?}: input tensor differs from cv2.cvtColor + letterbox"
                );
            }
            checked += 3;
        }
    }
    assert_eq!(checked, 6 * 86 * 3);
    println!("{checked} input tensors (RGB, YUYV, NV12) byte-identical to OpenCV's");
}

#[test]
fn camera_frames_give_the_opencv_references_persons() {
    // Made on x86_64: the ARM runs declare the sets unavailable
    // (tests/common/skip.rs; scripts/test.sh says why).
    if !common::opencv_sets_available() {
        return;
    }
    let mut persons = 0;
    let mut worst: f64 = 0.0;
    for fx in fixtures("tests/fixtures/reference-opencv") {
        let name = fx["model"].as_str().unwrap();
        let m = model::resolve(name, &common::models_dir(), &[]).unwrap();
        let opts = EngineOptions::cpu(common::Flavour::Litert.lib(), 2);
        let mut p = Pipeline::new(m, &opts, Default::default(), ResizeMode::default()).unwrap();
        let mut out = FrameResult::default();
        for want in fx["images"].as_array().unwrap() {
            let Some(_) = want["camera"]["yuyv"]["persons"].as_array() else {
                continue; // persons only for the small set
            };
            let file = want["file"].as_str().unwrap();
            let mut src =
                ImageSource::new(&[common::data_dir().join(file)], Duration::ZERO).unwrap();
            let img = src.next_frame().unwrap().unwrap();
            for (format, bytes, cw, ch) in
                camera_frames(img.pixels, img.width as usize, img.height as usize)
            {
                p.process(&frame(&bytes, format, cw, ch), &mut out).unwrap();
                let exp = want["camera"][fourcc(format)]["persons"]
                    .as_array()
                    .unwrap();
                let ctx = format!("{name} {file} {format:?}");
                assert_eq!(out.persons.len(), exp.len(), "{ctx}: person count");
                for (k, (g, e)) in out.persons.iter().zip(exp).enumerate() {
                    let view = PersonView {
                        bbox: g.bbox.map(f64::from),
                        score: f64::from(g.score),
                        keypoints: g.keypoints[..out.num_keypoints]
                            .iter()
                            .map(|k| [f64::from(k.x), f64::from(k.y), f64::from(k.score)])
                            .collect(),
                    };
                    let d = common::assert_same_person(
                        &format!("{ctx} person {k}"),
                        &view,
                        e,
                        0.01,
                        2e-4,
                    );
                    worst = worst.max(d);
                    persons += 1;
                }
            }
        }
    }
    println!(
        "{persons} persons from YUYV/NV12 frames equal the OpenCV reference's; worst {worst:.4} px"
    );
    assert!(persons >= 100, "the fixtures hold persons to compare");
}

/// I420 frames as a camera or `rpicam-vid --codec yuv420` writes them (the
/// NV12 frames' samples with U and V in planes of their own), read by the
/// `raw:` source: the tensor equals the OpenCV reference of the NV12 frame,
/// which is `cv2.cvtColor(COLOR_YUV2RGB_I420)` of the I420 frame too: OpenCV
/// converts both layouts with the same per-pixel arithmetic (checked with
/// OpenCV 4.10 on random frames: 0 differing bytes, docs/cameras.md).
#[test]
fn i420_frames_equal_cv2_color_yuv2rgb_i420() {
    if !common::opencv_sets_available() {
        return;
    }
    let fx = &fixtures("tests/fixtures/reference-opencv")[0];
    let (mut pre, mut tensor) = resizer(fx, ResizeMode::default());
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("frame.i420");
    let mut checked = 0;
    for want in fx["images"].as_array().unwrap() {
        let file = want["file"].as_str().unwrap();
        let mut src = ImageSource::new(&[common::data_dir().join(file)], Duration::ZERO).unwrap();
        let img = src.next_frame().unwrap().unwrap();
        let [_, (_, nv12, cw, ch)] =
            camera_frames(img.pixels, img.width as usize, img.height as usize);
        let (y, uv) = nv12.split_at(cw * ch);
        let i420: Vec<u8> = y
            .iter()
            .chain(uv.iter().step_by(2))
            .chain(uv.iter().skip(1).step_by(2))
            .copied()
            .collect();
        std::fs::write(&path, &i420).unwrap();
        let spec = format!("raw:{}?format=I420&width={cw}&height={ch}", path.display());
        let mut raw = edgepose::source::open(&[spec], Duration::ZERO, None).unwrap();
        let frame = raw.next_frame().unwrap().unwrap();
        pre.prepare(&frame, &mut tensor).unwrap();
        assert_eq!(
            model::sha256_hex(&tensor),
            want["camera"]["nv12"]["input_sha256"].as_str().unwrap(),
            "{file}: I420 input tensor differs from cv2.cvtColor(COLOR_YUV2RGB_I420) + letterbox"
        );
        checked += 1;
    }
    assert_eq!(checked, 86);
    println!("{checked} I420 input tensors byte-identical to OpenCV's");
}

#[test]
fn pillow_input_tensors_equal_the_pillow_reference_bytes() {
    let mut checked = 0;
    let dir = common::Flavour::Litert.fixtures();
    for fx in fixtures(&dir.display().to_string()) {
        let (mut pre, mut tensor) = resizer(&fx, ResizeMode::Pillow);
        for img in fx["images"].as_array().unwrap() {
            let path = common::data_dir().join(img["file"].as_str().unwrap());
            let mut src = ImageSource::new(&[path], Duration::ZERO).unwrap();
            let frame = src.next_frame().unwrap().unwrap();
            let lb = pre.prepare(&frame, &mut tensor).unwrap();
            let ctx = format!("{} {}", fx["model"], img["file"]);
            assert_letterbox(&ctx, &lb, &img["letterbox"]);
            assert_eq!(
                model::sha256_hex(&tensor),
                img["input_sha256"].as_str().unwrap(),
                "{ctx}: input tensor differs from the Pillow reference"
            );
            checked += 1;
        }
    }
    assert_eq!(checked, 36);
    println!("{checked} input tensors byte-identical to the Pillow reference");
}

#[test]
fn opencv_and_pillow_fill_the_same_letterbox() {
    // Different filters, same geometry: identical padding, the picture
    // close (a shifted or mirrored image would be far off).
    for size in [320u32, 256, 192] {
        let info = model::TensorInfo {
            name: "in".into(),
            shape: vec![1, size as usize, size as usize, 3],
            dtype: model::ElementType::U8,
            quant: None,
        };
        let map = InputMap::new(&info, [0.0, 255.0]);
        let mut pil = LetterboxResizer::new(size, size, 114, map.clone(), ResizeMode::Pillow);
        let mut cv = LetterboxResizer::new(size, size, 114, map, ResizeMode::Opencv);
        let (mut a, mut b) = (vec![0u8; info.byte_len()], vec![0u8; info.byte_len()]);
        let mut src = ImageSource::new(
            &[
                common::data_dir().join("samples"),
                common::data_dir().join("coco-val-mini"),
            ],
            Duration::ZERO,
        )
        .unwrap();
        while let Some(frame) = src.next_frame() {
            let frame = frame.unwrap();
            let lb = pil.prepare(&frame, &mut a).unwrap();
            assert_eq!(lb, cv.prepare(&frame, &mut b).unwrap());
            let pitch = size as usize * 3;
            let mut inside = (0u64, 0u64);
            for (i, (x, y)) in a.iter().zip(&b).enumerate() {
                let (row, col) = (i / pitch, i % pitch / 3);
                let padding = row < lb.top as usize
                    || row >= (lb.top + lb.new_h) as usize
                    || col < lb.left as usize
                    || col >= (lb.left + lb.new_w) as usize;
                if padding {
                    assert_eq!((*x, *y), (114, 114), "padding at row {row} col {col}");
                } else {
                    inside.0 += u64::from(x.abs_diff(*y));
                    inside.1 += 1;
                }
            }
            let mean = inside.0 as f64 / inside.1 as f64;
            println!(
                "{} at {size}: mean |opencv - pillow| = {mean:.2} levels",
                frame.origin
            );
            assert!(
                mean < 16.0,
                "{}: {mean:.2} levels apart on average",
                frame.origin
            );
        }
    }
}
