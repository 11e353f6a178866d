//! `mjpeg_frame`: arbitrary bytes as one MJPEG frame (from a camera, a
//! recording or a pipe) through the pre-processing `run` uses
//! (`LetterboxResizer::prepare`: libjpeg-turbo's header, the pixel cap, the
//! decode into the reused buffer, the fused converter's letterbox into a
//! 64 × 48 uint8 input), in each resize mode the first byte picks. Nothing
//! may panic, a frame over the pixel cap must be refused from its header,
//! and an accepted frame's letterbox must fit the input.
#![no_main]

use edgepose::frame::{Frame, PixelFormat, YuvEncoding, MAX_IMAGE_PIXELS};
use edgepose::model::{ElementType, TensorInfo};
use edgepose::preprocess::{InputMap, LetterboxResizer, Preprocess, ResizeMode};
use libfuzzer_sys::fuzz_target;

const W: u32 = 64;
const H: u32 = 48;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, jpeg)) = data.split_first() else {
        return;
    };
    let mode = match mode % 3 {
        0 => ResizeMode::Opencv,
        1 => ResizeMode::Pillow,
        _ => ResizeMode::Draft,
    };
    let tensor = TensorInfo {
        name: "in".into(),
        shape: vec![1, H as usize, W as usize, 3],
        dtype: ElementType::U8,
        quant: None,
    };
    let mut pre = LetterboxResizer::new(W, H, 114, InputMap::new(&tensor, [0.0, 1.0]), mode);
    let frame = Frame {
        pixels: jpeg,
        format: PixelFormat::Mjpeg,
        stride: 0,
        yuv: YuvEncoding::Bt601Limited,
        width: 0,
        height: 0,
        seq: 0,
        timestamp: std::time::Duration::ZERO,
        origin: "fuzz",
    };
    let mut input = vec![0u8; (W * H * 3) as usize];
    if let Ok(lb) = pre.prepare(&frame, &mut input) {
        assert!(u64::from(lb.src_w) * u64::from(lb.src_h) <= MAX_IMAGE_PIXELS);
        assert!(lb.new_w >= 1 && lb.new_w + lb.left <= W, "{lb:?}");
        assert!(lb.new_h >= 1 && lb.new_h + lb.top <= H, "{lb:?}");
    }
});
