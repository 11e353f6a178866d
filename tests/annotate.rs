//! Annotated images (`--annotate`, `annotate:DIR`): the poses of
//! `tests/fixtures/display/poses.json` drawn over a plain grey frame of each
//! fixture image's size, compared with golden PNGs in
//! `tests/fixtures/annotate/` (`EDGEPOSE_BLESS=1` rewrites them), and
//! checked against the palette the documentation gives: joints in their
//! side's colour, boxes in the track's colour, nothing drawn away from the
//! persons. Also through the sink: a PNG frame written by the `Annotator`
//! is exactly that drawing. Needs no `display` feature.

mod common;

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
