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
fn fast_resize_is_within_one_level_of_exact() {
    let mut worst = 0u8;
    let mut differing = 0usize;
    let mut total = 0usize;
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
            assert_eq!(
                exact.prepare(&frame, &mut a).unwrap(),
                fast.prepare(&frame, &mut b).unwrap()
            );
            for (x, y) in a.iter().zip(&b) {
                let d = x.abs_diff(*y);
                worst = worst.max(d);
                differing += usize::from(d > 0);
            }
            total += a.len();
        }
    }
    println!(
        "fast vs exact: worst difference {worst} level(s), {:.1}% of values differ",
        100.0 * differing as f64 / total as f64
    );
    assert!(worst <= 1, "fast resize differs by {worst} levels");
}
