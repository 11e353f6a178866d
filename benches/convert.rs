//! Benchmark of the fused camera-frame conversion: YUYV, NV12 and MJPEG
//! frames of 640x480 and 1280x720 letterboxed into a 320x320 int8 model
//! input (OpenCV's colour conversion + INTER_LINEAR resize + quantization in
//! one pass; MJPEG decoded by libjpeg-turbo first, at full size, and at
//! reduced DCT scale in `draft` mode), and RGB for comparison; the YUYV and
//! NV12 rows also on the scalar kernels, for the SIMD speed-up. Median and
//! p99 over many runs; nothing is asserted.
//!
//! `cargo bench --bench convert` (release profile). The frames are a real
//! photo (`$EDGEPOSE_DATA_DIR/samples/zidane.jpg`), so JPEG sizes are real.

use std::time::{Duration, Instant};

use edgepose::frame::{Frame, PixelFormat, YuvEncoding};
use edgepose::model::{ElementType, Quant, TensorInfo};
use edgepose::preprocess::kernels::Kernels;
use edgepose::preprocess::{Fused, InputMap, Letterbox, LetterboxResizer, Preprocess, ResizeMode};

fn frames(w: u32, h: u32) -> Vec<(PixelFormat, Vec<u8>, usize)> {
    let data = std::env::var("EDGEPOSE_DATA_DIR").unwrap_or_else(|_| "../shared/data".into());
    let img = image::open(format!("{data}/samples/zidane.jpg"))
        .expect("zidane.jpg (set EDGEPOSE_DATA_DIR)")
        .resize_exact(w, h, image::imageops::FilterType::Triangle)
        .to_rgb8();
    let (wu, hu) = (w as usize, h as usize);
    let px = |x: usize, y: usize| {
        let p = img.get_pixel(x as u32, y as u32).0;
        (f64::from(p[0]), f64::from(p[1]), f64::from(p[2]))
    };
    let luma = |(r, g, b): (f64, f64, f64)| (16.0 + 0.257 * r + 0.504 * g + 0.098 * b) as u8;
    let chroma = |(r, g, b): (f64, f64, f64)| {
        (
            (128.0 - 0.148 * r - 0.291 * g + 0.439 * b) as u8,
            (128.0 + 0.439 * r - 0.368 * g - 0.071 * b) as u8,
        )
    };
    let mut yuyv = Vec::new();
    let mut nv12 = Vec::new();
    for y in 0..hu {
        for x in (0..wu).step_by(2) {
            let (u, v) = chroma(px(x, y));
            yuyv.extend_from_slice(&[luma(px(x, y)), u, luma(px(x + 1, y)), v]);
        }
    }
    for y in 0..hu {
        for x in 0..wu {
            nv12.push(luma(px(x, y)));
        }
    }
    for y in (0..hu).step_by(2) {
        for x in (0..wu).step_by(2) {
            let (u, v) = chroma(px(x, y));
            nv12.extend_from_slice(&[u, v]);
        }
    }
    let mut jpeg = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 85)
        .encode(img.as_raw(), w, h, image::ExtendedColorType::Rgb8)
        .unwrap();
    vec![
        (PixelFormat::Yuyv, yuyv, wu * 2),
        (PixelFormat::Nv12, nv12, wu),
        (PixelFormat::Mjpeg, jpeg, 0),
        (PixelFormat::Rgb24, img.into_raw(), wu * 3),
    ]
}

fn main() {
    let input = TensorInfo {
        name: "images".into(),
        shape: vec![1, 320, 320, 3],
        dtype: ElementType::I8,
        quant: Some(Quant {
            scale: 1.0 / 255.0,
            zero_point: -128,
        }),
    };
    let mut tensor = vec![0u8; 320 * 320 * 3];
    println!("row kernels: {:?}", Kernels::detect().isa());
    println!(
        "{:<8}{:<11}{:<9}{:>11}{:>11}{:>8}",
        "format", "frame", "mode", "median ms", "p99 ms", "runs"
    );
    let map = InputMap::new(&input, [0.0, 1.0]);
    for (w, h) in [(640, 480), (1280, 720)] {
        for (format, bytes, stride) in frames(w, h) {
            let frame = Frame {
                pixels: &bytes,
                format,
                stride,
                yuv: YuvEncoding::Bt601Limited,
                width: w,
                height: h,
                seq: 0,
                timestamp: Duration::ZERO,
                origin: "bench",
            };
            let modes: &[ResizeMode] = if format == PixelFormat::Mjpeg {
                &[ResizeMode::Opencv, ResizeMode::Draft]
            } else {
                &[ResizeMode::Opencv]
            };
            for &mode in modes {
                let mut pre = LetterboxResizer::new(320, 320, 114, map.clone(), mode);
                let t = time(|| {
                    pre.prepare(&frame, &mut tensor).unwrap();
                });
                row(format, w, h, &format!("{mode:?}").to_lowercase(), &t);
            }
            if matches!(format, PixelFormat::Yuyv | PixelFormat::Nv12) {
                let lb = Letterbox::new(w, h, 320, 320);
                let mut f = Fused::with_kernels(320, 320, Kernels::scalar());
                let t = time(|| {
                    f.letterbox(
                        &bytes,
                        format,
                        stride,
                        frame.yuv,
                        (w, h),
                        &lb,
                        114,
                        &map,
                        &mut tensor,
                    );
                });
                row(format, w, h, "scalar", &t);
            }
        }
    }
}

/// Sorted milliseconds of 1000 runs after 50 warm-up runs.
fn time(mut f: impl FnMut()) -> Vec<f64> {
    for _ in 0..50 {
        f();
    }
    let mut t: Vec<f64> = (0..1000)
        .map(|_| {
            let s = Instant::now();
            f();
            s.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    t.sort_by(f64::total_cmp);
    t
}

fn row(format: PixelFormat, w: u32, h: u32, mode: &str, t: &[f64]) {
    println!(
        "{:<8}{:<11}{:<9}{:>11.3}{:>11.3}{:>8}",
        format.fourcc(),
        format!("{w}x{h}"),
        mode,
        t[t.len() / 2],
        t[t.len() * 99 / 100],
        t.len()
    );
}
