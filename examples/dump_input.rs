//! Writes the decoded RGB and the letterboxed model input of an image as raw
//! files, for comparing pre-processing with the Python reference.
//! Usage: cargo run --example dump_input -- IMAGE SIZE PAD OUT_PREFIX
use edgepose::model::{ElementType, TensorInfo};
use edgepose::preprocess::{InputMap, LetterboxResizer, Preprocess, ResizeMode};
use edgepose::source::{ImageSource, Source};

fn main() {
    let a: Vec<String> = std::env::args().collect();
    let size: u32 = a[2].parse().unwrap();
    let pad: u8 = a[3].parse().unwrap();
    let mut src = ImageSource::new(&[a[1].clone().into()], std::time::Duration::ZERO).unwrap();
    let frame = src.next_frame().unwrap().unwrap();
    std::fs::write(format!("{}.rgb", a[4]), frame.pixels).unwrap();
    let info = TensorInfo {
        name: "in".into(),
        shape: vec![1, size as usize, size as usize, 3],
        dtype: ElementType::U8,
        quant: None,
    };
    let mut pre = LetterboxResizer::new(
        size,
        size,
        pad,
        InputMap::new(&info, [0.0, 255.0]),
        if a.len() > 5 {
            ResizeMode::Exact
        } else {
            ResizeMode::Fast
        },
    );
    let mut input = vec![0u8; (size * size * 3) as usize];
    let lb = pre.prepare(&frame, &mut input).unwrap();
    std::fs::write(format!("{}.lb", a[4]), &input).unwrap();
    eprintln!("{}x{} {:?}", frame.width, frame.height, lb);
}
