//! The pose renderer for small displays: draws one frame's persons
//! (skeletons, boxes) and a status line (fps, persons, inference ms) onto any
//! [`embedded_graphics`] [`DrawTarget`], monochrome or colour.
//!
//! Keypoints arrive in camera pixels ([`Scene::width`] × [`Scene::height`]);
//! they are scaled into the panel with the aspect ratio kept (letterboxed
//! into the area below the status line). Only keypoints scoring at least the
//! record meta's `keypoint_threshold` are drawn, and a limb only when both of
//! its ends are.
//!
//! * Colour panels: limbs in per-side colours (left blue, right orange,
//!   centre green, as in annotated images), joint dots, 1-pixel boxes in the
//!   track's colour with its id.
//! * Monochrome panels (an SSD1306's 128×64): face edges give way to one
//!   head circle, boxes become corner brackets (so they don't read as
//!   limbs), no joint dots; everything 1 pixel wide.
//!
//! Line widths, dot sizes and the font grow with the panel, so the same
//! scene reads on a 128×64 OLED and on a 1024×768 HDMI screen. The
//! rendering is integer-exact: the same scene on the same size gives the
//! same pixels (the golden images in `tests/fixtures/display/` rely on it).
//!
//! The same renderer draws the annotated images (see [`overlay`]), so a
//! pose looks the same on a panel and in a picture.

use core::fmt::Write as _;

use embedded_graphics::mono_font::ascii::{FONT_10X20, FONT_4X6, FONT_6X10};
use embedded_graphics::mono_font::{MonoFont, MonoTextStyle};
use embedded_graphics::prelude::*;
use embedded_graphics::primitives::{Circle, Line, PrimitiveStyle, Rectangle};
use embedded_graphics::text::{Baseline, Text};

use super::palette::{colour, side_colour, PanelColour, Side, BOX, FRAME, TRACK_COLOURS, WHITE};
use crate::frame::{FrameResult, Person, RecordMeta};

/// The model's keypoint layout, prepared for drawing (built once per run
/// from the record meta).
#[derive(Debug, Clone)]
pub struct Skeleton {
    /// Limbs: keypoint indices and colour.
    pub edges: Vec<(usize, usize, Side)>,
    /// Per keypoint: its side, and whether it is part of the face (nose,
    /// eyes, ears), which monochrome panels draw as one head circle.
    pub sides: Vec<Side>,
    pub face: Vec<bool>,
    /// Index of the nose (the head circle's centre), if the model has one.
    pub nose: Option<usize>,
    /// Indices of the shoulders (the head circle's size), if present.
    pub shoulders: Option<(usize, usize)>,
    /// Keypoints below this score are not drawn.
    pub threshold: f32,
}

impl Skeleton {
    /// From the record meta: names give sides and the face, the meta's
    /// skeleton the limbs.
    pub fn new(meta: &RecordMeta) -> Self {
        let sides: Vec<Side> = meta.keypoint_names.iter().map(|n| Side::of(n)).collect();
        let face = meta
            .keypoint_names
            .iter()
            .map(|n| n.contains("eye") || n.contains("ear") || n == "nose")
            .collect();
        let find = |name: &str| meta.keypoint_names.iter().position(|n| n == name);
        let edges = meta
            .skeleton
            .iter()
            .map(|&[a, b]| {
                let s = match (sides.get(a), sides.get(b)) {
                    (Some(&x), Some(&y)) if x == y => x,
                    _ => Side::Centre,
                };
                (a, b, s)
            })
            .collect();
        Self {
            edges,
            sides,
            face,
            nose: find("nose"),
            shoulders: find("left_shoulder").zip(find("right_shoulder")),
            threshold: meta.keypoint_threshold,
        }
    }
}

/// What one frame shows: the persons in camera pixels and the status
/// values. Its buffers are reused from frame to frame.
#[derive(Debug, Clone, Default)]
pub struct Scene {
    /// Camera frame size (the coordinate space of the persons).
    pub width: u32,
    pub height: u32,
    pub num_keypoints: usize,
    pub persons: Vec<Person>,
    /// Track id of each person (same order); empty without tracking.
    pub track_ids: Vec<u32>,
    /// Frames per second, when known.
    pub fps: Option<f32>,
    /// Inference (model invoke) time in milliseconds, when known.
    pub infer_ms: Option<f32>,
}

impl Scene {
    /// An empty scene with room for `persons` persons.
    pub fn with_capacity(persons: usize) -> Self {
        Self {
            persons: Vec::with_capacity(persons),
            track_ids: Vec::with_capacity(persons),
            ..Self::default()
        }
    }

    /// Copies a frame's result in (no allocation once the buffers have
    /// grown to the largest crowd seen).
    pub fn set(&mut self, r: &FrameResult, fps: Option<f32>) {
        self.width = r.width;
        self.height = r.height;
        self.num_keypoints = r.num_keypoints;
        self.persons.clear();
        self.persons.extend_from_slice(&r.persons);
        self.track_ids.clear();
        if r.tracked {
            self.track_ids.extend(r.tracks.iter().map(|t| t.id));
        }
        self.fps = fps;
        self.infer_ms = Some(r.times.invoke as f32);
    }
}

/// Rendering choices that are not part of the scene.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RenderOptions {
    /// Draw the status line (fps, persons, inference ms) at the top.
    pub status: bool,
}

impl Default for RenderOptions {
    fn default() -> Self {
        Self { status: true }
    }
}

/// Camera → panel mapping: scale and offset of the letterboxed image.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Letterbox {
    pub scale: f32,
    pub x0: f32,
    pub y0: f32,
    /// The camera frame's area on the panel.
    pub area: Rectangle,
}

impl Letterbox {
    /// Fits a `width`×`height` frame into `into`, centred.
    pub fn fit(width: u32, height: u32, into: Rectangle) -> Self {
        let (aw, ah) = (into.size.width as f32, into.size.height as f32);
        let (fw, fh) = (width.max(1) as f32, height.max(1) as f32);
        let scale = (aw / fw).min(ah / fh);
        let (dw, dh) = ((fw * scale).round(), (fh * scale).round());
        let x0 = into.top_left.x as f32 + ((aw - dw) / 2.0).floor();
        let y0 = into.top_left.y as f32 + ((ah - dh) / 2.0).floor();
        Self {
            scale,
            x0,
            y0,
            area: Rectangle::new(
                Point::new(x0 as i32, y0 as i32),
                Size::new(dw.max(1.0) as u32, dh.max(1.0) as u32),
            ),
        }
    }

    /// A camera point on the panel.
    pub fn map(&self, x: f32, y: f32) -> Point {
        Point::new(
            (self.x0 + x * self.scale).round() as i32,
            (self.y0 + y * self.scale).round() as i32,
        )
    }
}

/// Sizes that depend on the panel.
struct Metrics {
    font: &'static MonoFont<'static>,
    /// Limb width.
    stroke: u32,
    /// Joint dot diameter.
    dot: u32,
}

fn metrics(size: Size) -> Metrics {
    let short = size.width.min(size.height);
    let font = if size.width < 200 {
        &FONT_4X6
    } else if size.width < 480 {
        &FONT_6X10
    } else {
        &FONT_10X20
    };
    let stroke = ((short as f32 / 160.0).round() as u32).max(1);
    Metrics {
        font,
        stroke,
        dot: 2 * stroke + 1,
    }
}

/// Height of the status line on a panel of `size` (0 without it).
pub fn status_height(size: Size, opts: &RenderOptions) -> u32 {
    if opts.status {
        metrics(size).font.character_size.height + 1
    } else {
        0
    }
}

/// Writes the status text for `scene` into `out` (the short form for
/// narrow panels).
pub fn status_text(scene: &Scene, short: bool, out: &mut heapless::String<64>) {
    out.clear();
    let n = scene.persons.len();
    // Formatting into a fixed buffer only fails when it is full, which
    // these few numbers cannot make it.
    let _ = match (short, scene.fps) {
        (true, Some(f)) => write!(out, "{f:.1}fps {n}p"),
        (true, None) => write!(out, "--fps {n}p"),
        (false, Some(f)) => write!(out, "{f:.1} fps  {n} persons"),
        (false, None) => write!(out, "-- fps  {n} persons"),
    };
    if let Some(ms) = scene.infer_ms {
        let _ = if short {
            write!(out, " {ms:.0}ms")
        } else {
            write!(out, "  infer {ms:.1} ms")
        };
    }
}

/// Draws `scene` onto `target`, which the caller has cleared to
/// [`PanelColour::BACKGROUND`].
pub fn render<D>(
    target: &mut D,
    scene: &Scene,
    skeleton: &Skeleton,
    opts: &RenderOptions,
) -> Result<(), D::Error>
where
    D: DrawTarget,
    D::Color: PanelColour,
{
    let mono = D::Color::MONO;
    let bounds = target.bounding_box();
    let size = bounds.size;
    let m = metrics(size);
    let bar = status_height(size, opts);
    if opts.status {
        let mut text = heapless::String::<64>::new();
        // The long form needs 34 characters; narrow panels get the short.
        status_text(scene, mono || size.width < 200, &mut text);
        let style = MonoTextStyle::new(m.font, colour::<D::Color>(WHITE));
        Text::with_baseline(&text, Point::new(1, 0), style, Baseline::Top).draw(target)?;
    }
    let area = Rectangle::new(
        bounds.top_left + Point::new(0, bar as i32),
        Size::new(size.width, size.height.saturating_sub(bar)),
    );
    if area.size.height == 0 || scene.width == 0 || scene.height == 0 {
        return Ok(());
    }
    let lb = Letterbox::fit(scene.width, scene.height, area);
    frame_corners(target, lb.area, colour(FRAME))?;
    persons(target, scene, skeleton, &lb, &m)
}

/// Draws `scene`'s persons over a picture of the camera frame itself
/// (`target` is `scene.width` × `scene.height`: an annotated image): the
/// same shapes, colours and sizes as on a panel of that size, without the
/// status line and the frame's corner marks.
pub fn overlay<D>(target: &mut D, scene: &Scene, skeleton: &Skeleton) -> Result<(), D::Error>
where
    D: DrawTarget,
    D::Color: PanelColour,
{
    let bounds = target.bounding_box();
    if scene.width == 0 || scene.height == 0 || bounds.size.height == 0 {
        return Ok(());
    }
    let lb = Letterbox::fit(scene.width, scene.height, bounds);
    persons(target, scene, skeleton, &lb, &metrics(bounds.size))
}

/// Boxes, limbs and joints of every person, mapped through `lb`.
fn persons<D>(
    target: &mut D,
    scene: &Scene,
    skeleton: &Skeleton,
    lb: &Letterbox,
    m: &Metrics,
) -> Result<(), D::Error>
where
    D: DrawTarget,
    D::Color: PanelColour,
{
    let mono = D::Color::MONO;
    let k = scene.num_keypoints.min(skeleton.sides.len());
    let limb = |c: D::Color| PrimitiveStyle::with_stroke(c, m.stroke);
    let one = |c: D::Color| PrimitiveStyle::with_stroke(c, 1);
    for (i, p) in scene.persons.iter().enumerate() {
        // Box: the track's colour (with its id) on colour panels,
        // corner brackets on monochrome ones.
        let tl = lb.map(p.bbox[0], p.bbox[1]);
        let br = lb.map(p.bbox[2], p.bbox[3]);
        let bbox = Rectangle::with_corners(tl, br);
        let track = scene.track_ids.get(i).copied();
        let box_colour: D::Color = match track {
            Some(id) => colour(TRACK_COLOURS[id as usize % TRACK_COLOURS.len()]),
            None => colour(BOX),
        };
        if mono {
            let len = (bbox.size.width.min(bbox.size.height) / 4).max(2);
            corners(target, bbox, len, box_colour)?;
        } else {
            bbox.into_styled(one(box_colour)).draw(target)?;
            if let Some(id) = track {
                let mut label = heapless::String::<12>::new();
                let _ = write!(label, "{id}");
                let style = MonoTextStyle::new(m.font, box_colour);
                Text::with_baseline(&label, tl + Point::new(2, 1), style, Baseline::Top)
                    .draw(target)?;
            }
        }

        let vis = |j: usize| j < k && p.keypoints[j].score >= skeleton.threshold;
        let at = |j: usize| lb.map(p.keypoints[j].x, p.keypoints[j].y);
        for &(a, b, side) in &skeleton.edges {
            if !(vis(a) && vis(b)) {
                continue;
            }
            if mono && skeleton.face[a] && skeleton.face[b] {
                continue;
            }
            Line::new(at(a), at(b))
                .into_styled(limb(side_colour(side)))
                .draw(target)?;
        }
        if mono {
            // One head circle at the nose, sized from the shoulders.
            if let Some(n) = skeleton.nose.filter(|&n| vis(n)) {
                let d = match skeleton.shoulders {
                    Some((l, r)) if vis(l) && vis(r) => {
                        let (pl, pr) = (at(l), at(r));
                        let w = ((pl.x - pr.x).pow(2) + (pl.y - pr.y).pow(2)) as f32;
                        ((w.sqrt() * 0.6).round() as u32).clamp(4, 12)
                    }
                    _ => 5,
                };
                Circle::with_center(at(n), d)
                    .into_styled(one(colour(WHITE)))
                    .draw(target)?;
            }
        } else {
            for j in (0..k).filter(|&j| vis(j)) {
                Circle::with_center(at(j), m.dot)
                    .into_styled(PrimitiveStyle::with_fill(side_colour(skeleton.sides[j])))
                    .draw(target)?;
            }
        }
    }
    Ok(())
}

/// L-shaped marks at the four corners of `r`, `len` pixels long.
fn corners<D: DrawTarget>(
    target: &mut D,
    r: Rectangle,
    len: u32,
    c: D::Color,
) -> Result<(), D::Error> {
    let Some(br) = r.bottom_right() else {
        return Ok(());
    };
    let tl = r.top_left;
    let l = len.min(r.size.width).min(r.size.height).max(1) as i32 - 1;
    let style = PrimitiveStyle::with_stroke(c, 1);
    for (corner, dx, dy) in [
        (tl, 1, 1),
        (Point::new(br.x, tl.y), -1, 1),
        (Point::new(tl.x, br.y), 1, -1),
        (br, -1, -1),
    ] {
        Line::new(corner, corner + Point::new(dx * l, 0))
            .into_styled(style)
            .draw(target)?;
        Line::new(corner, corner + Point::new(0, dy * l))
            .into_styled(style)
            .draw(target)?;
    }
    Ok(())
}

/// Marks the corners of the camera frame on the panel.
fn frame_corners<D: DrawTarget>(target: &mut D, r: Rectangle, c: D::Color) -> Result<(), D::Error> {
    let len = (r.size.width.min(r.size.height) / 16).max(3);
    corners(target, r, len, c)
}
#[cfg(test)]
mod tests {
    use super::*;
    use crate::display::canvas::Canvas;
    use crate::frame::Keypoint;
    use embedded_graphics::pixelcolor::Rgb888;

    fn meta() -> RecordMeta {
        RecordMeta {
            model_id: "m".into(),
            runtime: "r".into(),
            keypoint_names: ["nose", "left_shoulder", "right_shoulder", "left_hip"]
                .map(String::from)
                .to_vec(),
            skeleton: vec![[1, 2], [1, 3], [0, 1]],
            keypoint_threshold: 0.5,
        }
    }

    fn person(kps: &[(f32, f32, f32)]) -> Person {
        let mut p = Person {
            bbox: [10.0, 10.0, 90.0, 190.0],
            score: 0.9,
            ..Person::default()
        };
        for (i, &(x, y, score)) in kps.iter().enumerate() {
            p.keypoints[i] = Keypoint { x, y, score };
        }
        p
    }

    #[test]
    fn letterbox_keeps_aspect_and_centres() {
        // A 4:3 camera frame in a 128×57 area below a 7-row status line.
        let lb = Letterbox::fit(
            640,
            480,
            Rectangle::new(Point::new(0, 7), Size::new(128, 57)),
        );
        assert_eq!(
            lb.area,
            Rectangle::new(Point::new(26, 7), Size::new(76, 57))
        );
        assert_eq!(lb.map(0.0, 0.0), Point::new(26, 7));
        assert_eq!(lb.map(640.0, 480.0), Point::new(102, 64));
        // A portrait frame in a landscape panel is pillarboxed; a wide one
        // in a tall panel letterboxed.
        let lb = Letterbox::fit(
            1280,
            720,
            Rectangle::new(Point::zero(), Size::new(135, 240)),
        );
        assert_eq!(
            lb.area,
            Rectangle::new(Point::new(0, 82), Size::new(135, 76))
        );
    }

    #[test]
    fn skeleton_sides_and_face() {
        let s = Skeleton::new(&meta());
        assert_eq!(
            s.edges,
            vec![
                (1, 2, Side::Centre),
                (1, 3, Side::Left),
                (0, 1, Side::Centre)
            ]
        );
        assert_eq!(s.face, vec![true, false, false, false]);
        assert_eq!((s.nose, s.shoulders), (Some(0), Some((1, 2))));
    }

    #[test]
    fn only_visible_keypoints_and_limbs_are_drawn() {
        let skel = Skeleton::new(&meta());
        let opts = RenderOptions { status: false };
        let mut scene = Scene {
            width: 100,
            height: 200,
            num_keypoints: 4,
            ..Scene::default()
        };
        // Shoulders visible, left hip below threshold: the shoulder line is
        // drawn, the shoulder–hip limb is not.
        scene.persons.push(person(&[
            (50.0, 20.0, 0.1),
            (30.0, 50.0, 0.9),
            (70.0, 50.0, 0.9),
            (30.0, 150.0, 0.49),
        ]));
        let mut c = Canvas::<Rgb888>::new(100, 200);
        render(&mut c, &scene, &skel, &opts).unwrap();
        let at = |x: usize, y: usize| c.pixels()[y * 100 + x];
        let centre: Rgb888 = side_colour(Side::Centre);
        let left: Rgb888 = side_colour(Side::Left);
        assert_eq!(at(50, 50), centre, "shoulder line");
        assert_eq!(at(30, 100), Rgb888::BLACK, "invisible hip: no limb");
        assert_eq!(at(30, 50), left, "left shoulder dot");
        assert_eq!(at(50, 20), Rgb888::BLACK, "invisible nose: no dot");

        // With the hip visible the limb appears.
        scene.persons[0].keypoints[3].score = 0.5;
        let mut c = Canvas::<Rgb888>::new(100, 200);
        render(&mut c, &scene, &skel, &opts).unwrap();
        assert_eq!(c.pixels()[100 * 100 + 30], left);
    }

    #[test]
    fn status_text_forms() {
        let mut scene = Scene::default();
        scene.persons.push(Person::default());
        scene.fps = Some(29.97);
        scene.infer_ms = Some(23.46);
        let mut s = heapless::String::new();
        status_text(&scene, true, &mut s);
        assert_eq!(s.as_str(), "30.0fps 1p 23ms");
        status_text(&scene, false, &mut s);
        assert_eq!(s.as_str(), "30.0 fps  1 persons  infer 23.5 ms");
        scene.fps = None;
        scene.infer_ms = None;
        status_text(&scene, true, &mut s);
        assert_eq!(s.as_str(), "--fps 1p");
    }
}
