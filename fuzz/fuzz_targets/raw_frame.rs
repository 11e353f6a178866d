//! `raw_frame`: arbitrary bytes as one raw camera frame (I420, NV12, YUYV,
//! RGB3, GREY) through the pre-processing `run` uses. Input: `[format,
//! width-1, height-1, stride extra, model size, input type, yuv, checked,
//! pixels...]`. With `checked` odd, the geometry goes through what the
//! recording and pipe sources check (`source::layout::Geometry`, I420
//! repacked as NV12) and the frame must then be prepared; otherwise the
//! frame goes to `LetterboxResizer::prepare` as it is, with any stride and
//! length, and must be refused or prepared, never read past. Every frame
//! prepared on this CPU's SIMD kernels must give the scalar reference
//! kernels' bytes.
#![no_main]

use edgepose::frame::{Frame, PixelFormat, YuvEncoding};
use edgepose::model::{ElementType, Quant, TensorInfo};
use edgepose::preprocess::kernels::Kernels;
use edgepose::preprocess::{Fused, InputMap, Letterbox, LetterboxResizer, Preprocess, ResizeMode};
use edgepose::source::layout::{i420_chroma_to_nv12, Geometry, WireFormat};
use libfuzzer_sys::fuzz_target;

const FORMATS: [WireFormat; 5] = [
    WireFormat::I420,
    WireFormat::Native(PixelFormat::Nv12),
    WireFormat::Native(PixelFormat::Yuyv),
    WireFormat::Native(PixelFormat::Rgb24),
    WireFormat::Native(PixelFormat::Grey),
];

const YUV: [YuvEncoding; 4] = [
    YuvEncoding::Bt601Limited,
    YuvEncoding::Bt601Full,
    YuvEncoding::Bt709Limited,
    YuvEncoding::Bt709Full,
];

fuzz_target!(|data: &[u8]| {
    let [f, w, h, extra, size, ty, yuv, checked, rest @ ..] = data else {
        return;
    };
    let wire = FORMATS[usize::from(*f) % FORMATS.len()];
    let (w, h) = (u32::from(*w) + 1, u32::from(*h) + 1);
    let yuv = YUV[usize::from(*yuv) % YUV.len()];
    let (dst_w, dst_h) = (8 + u32::from(size & 15) * 4, 8 + u32::from(size >> 4) * 4);
    let (dtype, quant) = match ty % 3 {
        0 => (ElementType::U8, None),
        1 => (
            ElementType::I8,
            Some(Quant {
                scale: 1.0 / 255.0,
                zero_point: -128,
            }),
        ),
        _ => (ElementType::F32, None),
    };
    let tensor = TensorInfo {
        name: "in".into(),
        shape: vec![1, dst_h as usize, dst_w as usize, 3],
        dtype,
        quant,
    };
    let map = InputMap::new(&tensor, [0.0, 1.0]);
    let fill = |len: usize| -> Vec<u8> {
        if rest.is_empty() {
            vec![0; len]
        } else {
            rest.iter().copied().cycle().take(len).collect()
        }
    };
    let (format, stride, pixels, must_prepare) = if checked & 1 == 1 {
        let Ok(g0) = Geometry::new(wire, w, h, None) else {
            return;
        };
        let stride = g0.stride + usize::from(*extra) * if wire == WireFormat::I420 { 2 } else { 1 };
        let Ok(g) = Geometry::new(wire, w, h, Some(stride)) else {
            return;
        };
        let mut px = fill(g.wire_len);
        if wire == WireFormat::I420 {
            let mut nv12 = vec![0; g.frame_len];
            let luma = g.luma_len();
            nv12[..luma].copy_from_slice(&px[..luma]);
            i420_chroma_to_nv12(&px[luma..], &mut nv12[luma..], &g);
            px = nv12;
        }
        (wire.delivered(), g.stride, px, true)
    } else {
        // Any stride (up to usize::MAX) and any length, straight to the
        // pre-processing.
        let format = wire.delivered();
        let stride = usize::from(*extra).wrapping_shl(u32::from(*size) % usize::BITS)
            | usize::from(*size & 7);
        (format, stride, rest.to_vec(), false)
    };
    let frame = Frame {
        pixels: &pixels,
        format,
        stride,
        yuv,
        width: w,
        height: h,
        seq: 0,
        timestamp: std::time::Duration::ZERO,
        origin: "fuzz",
    };
    let len = (dst_w * dst_h * 3) as usize * map.element_size();
    let mut input = vec![0u8; len];
    let mut pre = LetterboxResizer::new(dst_w, dst_h, 114, map.clone(), ResizeMode::Opencv);
    let lb = match pre.prepare(&frame, &mut input) {
        Ok(lb) => lb,
        Err(e) => {
            assert!(!must_prepare, "a checked geometry was refused: {e}");
            return;
        }
    };
    assert!(lb.new_w >= 1 && lb.left + lb.new_w <= dst_w, "{lb:?}");
    assert!(lb.new_h >= 1 && lb.top + lb.new_h <= dst_h, "{lb:?}");
    // The scalar reference kernels give the same bytes.
    let mut scalar = Fused::with_kernels(dst_w, dst_h, Kernels::scalar());
    let mut reference = vec![0u8; len];
    let lb2 = Letterbox::new(w, h, dst_w, dst_h);
    scalar.letterbox(
        &pixels,
        format,
        stride,
        yuv,
        (w, h),
        &lb2,
        114,
        &map,
        &mut reference,
    );
    assert!(input == reference, "SIMD and scalar kernels differ");
});
