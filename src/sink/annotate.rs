//! Annotated images: the frame with person boxes (coloured by track id
//! when tracking is on), skeletons (per-limb colours: left side blue, right
//! side orange, centre green) and visible keypoints, drawn with `imageproc` and written next to nothing else: each
//! file is encoded to a temporary name in the target directory and renamed
//! into place, so a failure never leaves a partial image behind.

use std::path::{Path, PathBuf};

use image::{Rgb, RgbImage};
use imageproc::drawing::{
    draw_filled_circle_mut, draw_hollow_rect_mut, draw_line_segment_mut, draw_polygon_mut,
};
use imageproc::point::Point;
use imageproc::rect::Rect;

use super::{Sink, SinkError};
use crate::frame::{Frame, FrameResult, RecordMeta};

const LEFT: Rgb<u8> = Rgb([51, 153, 255]);
const RIGHT: Rgb<u8> = Rgb([255, 128, 0]);
const CENTRE: Rgb<u8> = Rgb([0, 220, 90]);
const BOX: Rgb<u8> = Rgb([255, 40, 200]);
/// Box colours of tracked persons, by track id.
const TRACK_COLOURS: [Rgb<u8>; 6] = [
    Rgb([255, 40, 200]),
    Rgb([255, 215, 0]),
    Rgb([0, 200, 255]),
    Rgb([160, 90, 255]),
    Rgb([255, 90, 60]),
    Rgb([80, 255, 160]),
];

/// Writes annotated copies of frames into a directory.
pub struct Annotator {
    dir: PathBuf,
}

impl Annotator {
    /// Creates `dir` if needed.
    pub fn new(dir: &Path) -> Result<Self, SinkError> {
        std::fs::create_dir_all(dir).map_err(|e| SinkError::AnnotateDir {
            path: dir.display().to_string(),
            why: e.to_string(),
        })?;
        Ok(Self {
            dir: dir.to_path_buf(),
        })
    }

    /// Output path for a frame from `origin` (same stem, `.jpg` or `.png`).
    pub fn target(&self, origin: &str, seq: u64) -> PathBuf {
        let p = Path::new(origin);
        let stem = p
            .file_stem()
            .and_then(|s| s.to_str())
            .map_or_else(|| format!("frame{seq:06}"), str::to_string);
        let png = p
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| e.eq_ignore_ascii_case("png"));
        self.dir
            .join(format!("{stem}.{}", if png { "png" } else { "jpg" }))
    }
}

fn limb_colour(names: &[String], a: usize, b: usize) -> Rgb<u8> {
    let side = |i: usize| names.get(i).map_or("", String::as_str);
    let (sa, sb) = (side(a), side(b));
    if sa.starts_with("left") && sb.starts_with("left") {
        LEFT
    } else if sa.starts_with("right") && sb.starts_with("right") {
        RIGHT
    } else {
        CENTRE
    }
}

fn thick_line(img: &mut RgbImage, a: (f32, f32), b: (f32, f32), width: f32, colour: Rgb<u8>) {
    let (dx, dy) = (b.0 - a.0, b.1 - a.1);
    let len = (dx * dx + dy * dy).sqrt();
    if len < 1.0 || width <= 1.0 {
        draw_line_segment_mut(img, a, b, colour);
        return;
    }
    let (nx, ny) = (-dy / len * width / 2.0, dx / len * width / 2.0);
    let pts = [
        Point::new((a.0 + nx) as i32, (a.1 + ny) as i32),
        Point::new((b.0 + nx) as i32, (b.1 + ny) as i32),
        Point::new((b.0 - nx) as i32, (b.1 - ny) as i32),
        Point::new((a.0 - nx) as i32, (a.1 - ny) as i32),
    ];
    if pts[0] == pts[3] || pts[0] == pts[1] {
        draw_line_segment_mut(img, a, b, colour);
    } else {
        draw_polygon_mut(img, &pts, colour);
    }
}

/// Draws `result` over `img`.
pub fn draw(img: &mut RgbImage, result: &FrameResult, meta: &RecordMeta) {
    let scale = (img.width().max(img.height()) as f32 / 640.0).max(1.0);
    let k = result.num_keypoints;
    for (i, p) in result.persons.iter().enumerate() {
        let colour = match result.tracks.get(i).filter(|_| result.tracked) {
            Some(t) => TRACK_COLOURS[t.id as usize % TRACK_COLOURS.len()],
            None => BOX,
        };
        let [x1, y1, x2, y2] = p.bbox;
        let w = (x2 - x1).max(1.0) as u32;
        let h = (y2 - y1).max(1.0) as u32;
        for t in 0..scale.round() as i32 {
            draw_hollow_rect_mut(
                img,
                Rect::at(x1 as i32 - t, y1 as i32 - t).of_size(w + 2 * t as u32, h + 2 * t as u32),
                colour,
            );
        }
        let vis = |j: usize| j < k && p.keypoints[j].score >= meta.keypoint_threshold;
        for &[a, b] in &meta.skeleton {
            if vis(a) && vis(b) {
                let (pa, pb) = (p.keypoints[a], p.keypoints[b]);
                thick_line(
                    img,
                    (pa.x, pa.y),
                    (pb.x, pb.y),
                    2.0 * scale,
                    limb_colour(&meta.keypoint_names, a, b),
                );
            }
        }
        for j in (0..k).filter(|&j| vis(j)) {
            let kp = p.keypoints[j];
            draw_filled_circle_mut(
                img,
                (kp.x as i32, kp.y as i32),
                (2.5 * scale) as i32,
                Rgb([255, 255, 255]),
            );
            draw_filled_circle_mut(
                img,
                (kp.x as i32, kp.y as i32),
                (1.5 * scale) as i32,
                limb_colour(&meta.keypoint_names, j, j),
            );
        }
    }
}

impl Sink for Annotator {
    fn emit(
        &mut self,
        frame: &Frame<'_>,
        result: &FrameResult,
        meta: &RecordMeta,
    ) -> Result<(), SinkError> {
        let target = self.target(frame.origin, frame.seq);
        let encode_err = |why: String| SinkError::Encode {
            path: target.display().to_string(),
            why,
        };
        let mut img = RgbImage::from_raw(frame.width, frame.height, frame.pixels.to_vec())
            .ok_or_else(|| encode_err("frame buffer smaller than its size".into()))?;
        draw(&mut img, result, meta);
        let ext = target.extension().and_then(|e| e.to_str()).unwrap_or("jpg");
        let tmp = target.with_extension(format!("{ext}.part"));
        let format = if ext == "png" {
            image::ImageFormat::Png
        } else {
            image::ImageFormat::Jpeg
        };
        let written = img
            .save_with_format(&tmp, format)
            .map_err(|e| encode_err(e.to_string()))
            .and_then(|()| {
                std::fs::rename(&tmp, &target).map_err(|e| SinkError::Write {
                    what: target.display().to_string(),
                    source: e,
                })
            });
        if written.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        written
    }

    fn flush(&mut self) -> Result<(), SinkError> {
        Ok(())
    }

    fn name(&self) -> String {
        "annotate".into()
    }

    fn wants_pixels(&self) -> bool {
        true
    }
}
