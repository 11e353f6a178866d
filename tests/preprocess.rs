//! Pre-processing against the reference: in exact mode the model input
//! tensor (decode → letterbox → quantize) is byte-identical to the one the
//! Python reference fed its interpreter, for every shipped model and image;
//! the fast SIMD resize stays within one level of it.

mod common;

use std::time::Duration;

use edgepose::model;
use edgepose::preprocess::{InputMap, LetterboxResizer, Preprocess, ResizeMode};
use edgepose::source::{ImageSource, Source};
use serde_json::Value;

fn fixtures() -> Vec<Value> {
    let dir = common::Flavour::Litert.fixtures();
    let mut paths: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    paths.sort();
    paths
        .iter()
        .map(|p| serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap())
        .collect()
}

#[test]
fn exact_input_tensors_equal_the_reference_bytes() {
    let mut checked = 0;
    for fx in fixtures() {
        let name = fx["model"].as_str().unwrap();
        let m = model::resolve(name, &common::models_dir(), &[]).unwrap();
        let [h, w] = m.manifest.input.size;
        let input = &m.interface.inputs[0];
        let mut pre = LetterboxResizer::new(
            w as u32,
            h as u32,
            m.manifest.input.pad_value,
            InputMap::new(input, m.manifest.input.range),
            ResizeMode::Exact,
        );
        let mut tensor = vec![0u8; input.byte_len()];
        for img in fx["images"].as_array().unwrap() {
            let path = common::data_dir().join(img["file"].as_str().unwrap());
            let mut src = ImageSource::new(&[path], Duration::ZERO).unwrap();
            let frame = src.next_frame().unwrap().unwrap();
            let lb = pre.prepare(&frame, &mut tensor).unwrap();
            let want = &img["letterbox"];
            assert_eq!(
                (lb.new_w, lb.new_h, lb.left, lb.top),
                (
                    want["new_w"].as_u64().unwrap() as u32,
                    want["new_h"].as_u64().unwrap() as u32,
                    want["left"].as_u64().unwrap() as u32,
                    want["top"].as_u64().unwrap() as u32
                ),
                "{name} {}",
                img["file"]
            );
            assert_eq!(
                model::sha256_hex(&tensor),
                img["input_sha256"].as_str().unwrap(),
                "{name} {}: input tensor differs from the reference",
                img["file"]
            );
            checked += 1;
        }
    }
    assert_eq!(checked, 36);
    println!("{checked} input tensors byte-identical to the reference");
}

#[test]
fn fast_resize_fills_the_same_letterbox_as_exact() {
    // Fast (interpolation) and exact (antialiased) differ in filter, not in
    // geometry: same letterbox, identical padding, and the picture itself
    // close on average (a shifted or mirrored image would be far off).
    for size in [320u32, 256, 192] {
        let info = model::TensorInfo {
            name: "in".into(),
            shape: vec![1, size as usize, size as usize, 3],
            dtype: model::ElementType::U8,
            quant: None,
        };
        let map = InputMap::new(&info, [0.0, 255.0]);
        let mut exact = LetterboxResizer::new(size, size, 114, map.clone(), ResizeMode::Exact);
        let mut fast = LetterboxResizer::new(size, size, 114, map, ResizeMode::Fast);
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
            let lb = exact.prepare(&frame, &mut a).unwrap();
            assert_eq!(lb, fast.prepare(&frame, &mut b).unwrap());
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
                "{} at {size}: mean |fast - exact| = {mean:.2} levels",
                frame.origin
            );
            assert!(
                mean < 16.0,
                "{}: fast and exact differ by {mean:.2} levels on average",
                frame.origin
            );
        }
    }
}
