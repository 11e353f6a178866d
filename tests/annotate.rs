//! Annotated images (`--annotate`, `annotate:DIR`): the poses of
//! `tests/fixtures/display/poses.json` drawn over a plain grey frame of each
//! fixture image's size, compared with golden PNGs in
//! `tests/fixtures/annotate/` (`EDGEPOSE_BLESS=1` rewrites them), and
//! checked against the palette the documentation gives: joints in their
//! side's colour, boxes in the track's colour, nothing drawn away from the
//! persons. Also through the sink: a PNG frame written by the `Annotator`
//! is exactly that drawing. And end to end for every source format:
//! `edgepose infer raw:...?format=YUYV|NV12|MJPEG --annotate DIR` draws on
//! the converted picture, the same as for the equivalent RGB frame. Needs no
//! `display` feature.

mod common;

use std::path::Path;

use common::poses::{fixture, FixFrame, NAMES};
use edgepose::frame::{Frame, RecordMeta};
use edgepose::sink::annotate::{draw, Annotator};
use edgepose::sink::Sink;
use image::RgbImage;

/// The background the poses are drawn on.
const GREY: [u8; 3] = [96, 96, 96];
/// Limb and joint colours by side; box colours (untracked, and by track id).
const LEFT: [u8; 3] = [51, 153, 255];
const RIGHT: [u8; 3] = [255, 128, 0];
const CENTRE: [u8; 3] = [0, 220, 90];
const BOX: [u8; 3] = [255, 40, 200];
const TRACK: [[u8; 3]; 6] = [
    [255, 40, 200],
    [255, 215, 0],
    [0, 200, 255],
    [160, 90, 255],
    [255, 90, 60],
    [80, 255, 160],
];

fn annotated(f: &FixFrame, meta: &RecordMeta) -> RgbImage {
    let r = f.result(0);
    let mut px = GREY.repeat((f.width * f.height) as usize);
    assert!(
        draw(&mut px, &r, meta),
        "{}: buffer of the frame's size",
        f.name
    );
    RgbImage::from_raw(f.width, f.height, px).unwrap()
}

fn side(name: &str) -> [u8; 3] {
    if name.starts_with("left") {
        LEFT
    } else if name.starts_with("right") {
        RIGHT
    } else {
        CENTRE
    }
}

#[test]
fn annotated_images_match_the_goldens() {
    let fx = fixture();
    let meta = fx.meta();
    for name in NAMES {
        common::poses::check_golden("annotate", name, &annotated(fx.frame(name), &meta));
    }
}

#[test]
fn joints_and_boxes_have_the_documented_colours() {
    let fx = fixture();
    let meta = fx.meta();
    for name in NAMES {
        let f = fx.frame(name);
        let img = annotated(f, &meta);
        let px = |x: f32, y: f32| img.get_pixel(x.round() as u32, y.round() as u32).0;
        // The last person is drawn last: each visible joint of it that no
        // later joint's dot covers shows its side's colour.
        let last = f.persons.last().unwrap();
        let visible: Vec<(usize, &[f32; 3])> = last
            .keypoints
            .iter()
            .enumerate()
            .filter(|(_, k)| k[2] >= meta.keypoint_threshold)
            .collect();
        assert!(visible.len() >= 5, "{name}: a visible person");
        for (i, (j, k)) in visible.iter().enumerate() {
            let covered = visible[i + 1..]
                .iter()
                .any(|(_, o)| (o[0] - k[0]).hypot(o[1] - k[1]) < 12.0);
            if !covered {
                let want = side(&meta.keypoint_names[*j]);
                assert_eq!(px(k[0], k[1]), want, "{name}: joint {j} at {k:?}");
            }
        }
        // Every box's top left corner in the box colour (by track id when
        // tracked).
        for (i, p) in f.persons.iter().enumerate() {
            let want = match f.track_ids.get(i) {
                Some(&id) => TRACK[id as usize % TRACK.len()],
                None => BOX,
            };
            assert_eq!(px(p.bbox[0], p.bbox[1]), want, "{name}: box {i}");
        }
        // Nothing is drawn outside the persons: their boxes grown to hold
        // their visible joints, widened by a joint dot (and the label).
        let margin = 12.0;
        let extents: Vec<[f32; 4]> = f
            .persons
            .iter()
            .map(|p| {
                let mut e = p.bbox;
                for k in p
                    .keypoints
                    .iter()
                    .filter(|k| k[2] >= meta.keypoint_threshold)
                {
                    e = [
                        e[0].min(k[0]),
                        e[1].min(k[1]),
                        e[2].max(k[0]),
                        e[3].max(k[1]),
                    ];
                }
                e
            })
            .collect();
        let inside = |x: u32, y: u32| {
            let (x, y) = (x as f32, y as f32);
            extents.iter().any(|e| {
                x >= e[0] - margin && x <= e[2] + margin && y >= e[1] - margin && y <= e[3] + margin
            })
        };
        let stray = img
            .enumerate_pixels()
            .filter(|(x, y, p)| p.0 != GREY && !inside(*x, *y))
            .count();
        assert_eq!(stray, 0, "{name}: pixels drawn away from the persons");
        let drawn = img.pixels().filter(|p| p.0 != GREY).count();
        assert!(drawn > 2000, "{name}: only {drawn} pixels drawn");
    }
}

#[test]
fn the_sink_writes_the_drawing() {
    let fx = fixture();
    let meta = fx.meta();
    let f = fx.frame("zidane");
    let dir = tempfile::tempdir().unwrap();
    let mut sink = Annotator::new(&dir.path().join("out")).unwrap();
    let pixels = GREY.repeat((f.width * f.height) as usize);
    let r = f.result(7);
    let frame = Frame {
        seq: 7,
        ..Frame::rgb(&pixels, f.width, f.height, "frames/zidane.png")
    };
    sink.emit(&frame, &r, &meta).unwrap();
    sink.flush().unwrap();
    let written = image::open(dir.path().join("out/zidane.png"))
        .unwrap()
        .to_rgb8();
    assert_eq!(written, annotated(f, &meta));
    assert!(
        pixels.iter().all(|&b| b == GREY[0]),
        "the frame is untouched"
    );
    // A frame whose pixels are fewer than its size says so and writes
    // nothing.
    let short = Frame::rgb(&pixels[..100], f.width, f.height, "frames/cut.png");
    let e = sink.emit(&short, &r, &meta).unwrap_err().to_string();
    assert!(
        e.contains("cut.png") && e.contains("smaller than its size"),
        "{e}"
    );
    assert!(!dir.path().join("out/cut.png").exists());
}

/// BT.601 limited range, in floating point (the test's own conversion, not
/// edgepose's integer one): Y, Cb, Cr of an RGB pixel.
fn ycbcr(p: [u8; 3]) -> [f64; 3] {
    let [r, g, b] = p.map(|v| f64::from(v) / 255.0);
    let y = 0.299 * r + 0.587 * g + 0.114 * b;
    [
        16.0 + 219.0 * y,
        128.0 + 224.0 * (b - y) / 1.772,
        128.0 + 224.0 * (r - y) / 1.402,
    ]
}

/// The inverse of [`ycbcr`], rounded to bytes.
fn float_rgb(y: u8, u: u8, v: u8) -> [u8; 3] {
    let ey = (f64::from(y) - 16.0) / 219.0;
    let (pb, pr) = (
        (f64::from(u) - 128.0) / 224.0,
        (f64::from(v) - 128.0) / 224.0,
    );
    let (r, b) = (ey + 1.402 * pr, ey + 1.772 * pb);
    let g = (ey - 0.299 * r - 0.114 * b) / 0.587;
    [r, g, b].map(|c| (c * 255.0).round().clamp(0.0, 255.0) as u8)
}

/// `cv2.cvtColor`'s YUV → RGB for BT.601 limited range, in its integer
/// form (the constants `ITUR_BT_601_*` of OpenCV's color_yuv code, 20-bit
/// fixed point), which camera frames are converted with; within 1 of
/// [`float_rgb`] (checked in the test).
fn rgb_of(y: u8, u: u8, v: u8) -> [u8; 3] {
    const CY: i64 = 1_220_542;
    const CUB: i64 = 2_116_026;
    const CUG: i64 = -409_993;
    const CVG: i64 = -852_492;
    const CVR: i64 = 1_673_527;
    let f = float_rgb(y, u, v);
    let yy = (i64::from(y) - 16).max(0) * CY;
    let (u, v) = (i64::from(u) - 128, i64::from(v) - 128);
    let half = 1 << 19;
    let c = |x: i64| (x >> 20).clamp(0, 255) as u8;
    let rgb = [
        c(yy + half + CVR * v),
        c(yy + half + CVG * v + CUG * u),
        c(yy + half + CUB * u),
    ];
    assert!(
        rgb.iter().zip(f).all(|(a, b)| a.abs_diff(b) <= 1),
        "YUV {y},{u},{v}: integer {rgb:?} vs float {f:?}"
    );
    rgb
}

fn byte(v: f64) -> u8 {
    v.round().clamp(0.0, 255.0) as u8
}

/// `img` as a YUYV frame (chroma averaged over each pixel pair) and as the
/// RGB frame that YUYV stands for (each pixel from its own Y and its pair's
/// chroma).
fn yuyv(img: &RgbImage) -> (Vec<u8>, Vec<u8>) {
    let (mut frame, mut rgb) = (Vec::new(), Vec::new());
    for row in img.rows() {
        let px: Vec<[u8; 3]> = row.map(|p| p.0).collect();
        for x in (0..px.len()).step_by(2) {
            let (a, b) = (ycbcr(px[x]), ycbcr(px[x + 1]));
            let (y0, y1) = (byte(a[0]), byte(b[0]));
            let (u, v) = (byte((a[1] + b[1]) / 2.0), byte((a[2] + b[2]) / 2.0));
            frame.extend([y0, u, y1, v]);
            rgb.extend(rgb_of(y0, u, v));
            rgb.extend(rgb_of(y1, u, v));
        }
    }
    (frame, rgb)
}

/// `img` as an NV12 frame (chroma averaged over each 2x2 block) and the RGB
/// frame it stands for.
fn nv12(img: &RgbImage) -> (Vec<u8>, Vec<u8>) {
    let (w, h) = (img.width() as usize, img.height() as usize);
    let c: Vec<[f64; 3]> = img.pixels().map(|p| ycbcr(p.0)).collect();
    let mut frame: Vec<u8> = c.iter().map(|p| byte(p[0])).collect();
    let mut uv = vec![[0u8; 2]; (w / 2) * (h / 2)];
    for by in 0..h / 2 {
        for bx in 0..w / 2 {
            let at = |dx: usize, dy: usize| c[(2 * by + dy) * w + 2 * bx + dx];
            let avg = |k: usize| (at(0, 0)[k] + at(1, 0)[k] + at(0, 1)[k] + at(1, 1)[k]) / 4.0;
            uv[by * (w / 2) + bx] = [byte(avg(1)), byte(avg(2))];
        }
    }
    let mut rgb = Vec::with_capacity(w * h * 3);
    for y in 0..h {
        for x in 0..w {
            let [u, v] = uv[(y / 2) * (w / 2) + x / 2];
            rgb.extend(rgb_of(frame[y * w + x], u, v));
        }
    }
    frame.extend(uv.iter().flatten());
    (frame, rgb)
}

/// `edgepose infer INPUT --annotate DIR`: the JSON records and the one
/// picture written.
fn infer_annotated(input: &str, dir: &Path) -> (Vec<serde_json::Value>, RgbImage) {
    let out = common::run(
        common::edgepose(common::primary())
            .args(["infer", input, "--annotate"])
            .arg(dir),
    );
    assert!(
        out.status.success(),
        "{input}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(files.len(), 1, "{input}: one picture: {files:?}");
    (
        common::json_lines(&out),
        image::open(&files[0]).unwrap().to_rgb8(),
    )
}

/// The mean difference of two pictures' values.
fn mean_difference(a: &RgbImage, b: &RgbImage) -> f64 {
    assert_eq!(a.dimensions(), b.dimensions());
    let sum: u64 = a
        .as_raw()
        .iter()
        .zip(b.as_raw())
        .map(|(x, y)| u64::from(x.abs_diff(*y)))
        .sum();
    sum as f64 / a.as_raw().len() as f64
}

/// Person boxes and keypoints of one record, flattened.
fn coordinates(r: &serde_json::Value) -> Vec<f64> {
    let mut v = Vec::new();
    for p in r["persons"].as_array().unwrap() {
        v.extend(
            p["box"]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_f64().unwrap()),
        );
        for k in p["keypoints"].as_array().unwrap() {
            v.push(k["x"].as_f64().unwrap());
            v.push(k["y"].as_f64().unwrap());
        }
    }
    v
}

/// `--annotate` on YUYV, NV12 and MJPEG recordings draws on the frame's
/// picture (converted to RGB), the same picture as for the equivalent RGB
/// frame, with the same persons on it:
/// - MJPEG: the recording holds `zidane.jpg`'s own bytes; the equivalent is
///   `zidane.jpg` as an image file. Both decode through libjpeg-turbo.
/// - YUYV and NV12: made from `zidane.jpg` with the test's own BT.601; the
///   equivalent is a packed RGB recording of what those bytes stand for:
///   each pixel from its own Y and its pair's (block's) chroma, with
///   `cv2.cvtColor`'s integer formula (within 1 of the floating-point
///   inverse, checked per pixel).
///
/// The tolerance is zero: the int8 model's keypoints jump by whole steps
/// for a one-level change of the input (a ±1 RGB equivalent moved a nose
/// by 22 px here), so only the same picture gives the same persons, and
/// then the annotated pictures (both written as JPEG) are the same too. A
/// picture drawn on raw bytes, with swapped chroma or with another matrix
/// differs everywhere.
#[test]
fn annotated_recordings_of_every_format_show_the_rgb_frames_picture() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let jpg = common::sample("samples/zidane.jpg");
    let img = image::open(&jpg).unwrap().to_rgb8();
    let (w, h) = img.dimensions();
    assert!(w % 2 == 0 && h % 2 == 0);

    // MJPEG: the JPEG's own bytes, against the JPEG as an image.
    std::fs::copy(&jpg, d.join("cap.mjpg")).unwrap();
    let (recs, got) = infer_annotated(
        &format!("raw:{}?format=MJPG", d.join("cap.mjpg").display()),
        &d.join("mjpg"),
    );
    let (want_recs, want) = infer_annotated(jpg.to_str().unwrap(), &d.join("image"));
    assert_eq!(
        coordinates(&recs[0]),
        coordinates(&want_recs[0]),
        "MJPEG persons"
    );
    assert!(!coordinates(&recs[0]).is_empty(), "zidane.jpg shows people");
    assert_eq!(got, want, "MJPEG: the picture of the JPEG image");

    for (name, (frame, rgb)) in [("YUYV", yuyv(&img)), ("NV12", nv12(&img))] {
        let raw = d.join(format!("cap.{name}"));
        let eq = d.join(format!("eq-{name}.rgb"));
        std::fs::write(&raw, &frame).unwrap();
        std::fs::write(&eq, &rgb).unwrap();
        let spec =
            |p: &Path, f: &str| format!("raw:{}?format={f}&width={w}&height={h}", p.display());
        let (recs, got) = infer_annotated(&spec(&raw, name), &d.join(name));
        let (want_recs, want) = infer_annotated(&spec(&eq, "RGB3"), &d.join(format!("{name}-rgb")));
        let persons = coordinates(&recs[0]);
        assert!(!persons.is_empty(), "{name}: zidane.jpg shows people");
        assert_eq!(persons, coordinates(&want_recs[0]), "{name}: persons");
        assert_eq!(got, want, "{name}: the picture of the RGB frame");
        // And not the picture of something else: the annotated frame is
        // zidane.jpg, off by the JPEG and the drawing only.
        let mean = mean_difference(&got, &img);
        println!("{name}: annotated picture equals the RGB frame's; mean difference to zidane.jpg {mean:.2}");
        assert!(
            mean < 8.0,
            "{name}: mean difference {mean} to the source image"
        );
    }
}
