//! Camera frames made from the sample images for the source tests: two
//! scenes with people, cropped to 4:3 and scaled to 640x480, in the byte
//! layouts cameras and pipes deliver (YUYV, I420, NV12, JPEG), and the
//! comparison of records' persons.

use serde_json::Value;

/// bus.jpg and zidane.jpg cropped to 4:3 and scaled to 640x480.
pub fn scenes() -> Vec<image::RgbImage> {
    [
        ("samples/bus.jpg", (0, 135, 810, 607)),
        ("samples/zidane.jpg", (160, 0, 960, 720)),
    ]
    .iter()
    .map(|(name, (x, y, w, h))| {
        image::open(super::sample(name))
            .unwrap()
            .crop_imm(*x, *y, *w, *h)
            .resize_exact(640, 480, image::imageops::FilterType::Triangle)
            .to_rgb8()
    })
    .collect()
}

fn rgb(img: &image::RgbImage, x: u32, y: u32) -> (f64, f64, f64) {
    let p = img.get_pixel(x, y).0;
    (f64::from(p[0]), f64::from(p[1]), f64::from(p[2]))
}

/// BT.601 limited-range Y, U, V of one RGB pixel.
fn yuv((r, g, b): (f64, f64, f64)) -> (f64, f64, f64) {
    (
        16.0 + 0.257 * r + 0.504 * g + 0.098 * b,
        128.0 - 0.148 * r - 0.291 * g + 0.439 * b,
        128.0 + 0.439 * r - 0.368 * g - 0.071 * b,
    )
}

fn byte(v: f64) -> u8 {
    v.round().clamp(0.0, 255.0) as u8
}

/// BT.601 limited-range YUYV, chroma of each pixel pair from its first pixel.
pub fn yuyv(img: &image::RgbImage) -> Vec<u8> {
    let mut out = Vec::new();
    for y in 0..img.height() {
        for x in (0..img.width()).step_by(2) {
            let (y0, u, v) = yuv(rgb(img, x, y));
            let (y1, _, _) = yuv(rgb(img, x + 1, y));
            out.extend_from_slice(&[byte(y0), byte(u), byte(y1), byte(v)]);
        }
    }
    out
}

/// BT.601 limited-range I420 (no padding), chroma the mean of each 2x2 block.
pub fn i420(img: &image::RgbImage) -> Vec<u8> {
    let (w, h) = (img.width(), img.height());
    let mut out: Vec<u8> = (0..h)
        .flat_map(|y| (0..w).map(move |x| (x, y)))
        .map(|(x, y)| byte(yuv(rgb(img, x, y)).0))
        .collect();
    let (mut us, mut vs) = (Vec::new(), Vec::new());
    for y in (0..h).step_by(2) {
        for x in (0..w).step_by(2) {
            let (mut u, mut v) = (0.0, 0.0);
            for (dx, dy) in [(0, 0), (1, 0), (0, 1), (1, 1)] {
                let (_, a, b) = yuv(rgb(img, x + dx, y + dy));
                u += a / 4.0;
                v += b / 4.0;
            }
            us.push(byte(u));
            vs.push(byte(v));
        }
    }
    out.extend(us);
    out.extend(vs);
    out
}

/// The same samples as NV12: the U and V planes interleaved.
pub fn i420_to_nv12(frame: &[u8], w: usize, h: usize) -> Vec<u8> {
    let (y, chroma) = frame.split_at(w * h);
    let (u, v) = chroma.split_at(w * h / 4);
    let mut out = y.to_vec();
    for (a, b) in u.iter().zip(v) {
        out.extend_from_slice(&[*a, *b]);
    }
    out
}

pub fn jpeg(img: &image::RgbImage) -> Vec<u8> {
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 90)
        .encode(
            img.as_raw(),
            img.width(),
            img.height(),
            image::ExtendedColorType::Rgb8,
        )
        .unwrap();
    out
}

/// Persons of a record as (box, keypoint x/y) numbers.
pub fn persons(r: &Value) -> Vec<Vec<f64>> {
    r["persons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            let mut v: Vec<f64> = p["box"]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_f64().unwrap())
                .collect();
            for k in p["keypoints"].as_array().unwrap() {
                v.push(k["x"].as_f64().unwrap());
                v.push(k["y"].as_f64().unwrap());
            }
            v
        })
        .collect()
}

/// Largest coordinate difference between two records' persons, or None
/// when the person counts differ.
pub fn distance(a: &Value, b: &Value) -> Option<f64> {
    let (pa, pb) = (persons(a), persons(b));
    if pa.len() != pb.len() {
        return None;
    }
    Some(
        pa.iter()
            .zip(&pb)
            .flat_map(|(x, y)| x.iter().zip(y).map(|(u, v)| (u - v).abs()))
            .fold(0.0, f64::max),
    )
}
