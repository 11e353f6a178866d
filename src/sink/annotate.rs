//! Annotated images: the frame with each person's box (in its track's
//! colour, with its id, when tracking is on), skeleton and visible
//! keypoints, drawn by the same renderer and palette as the displays
//! ([`crate::display::overlay`]). Each file is encoded to a temporary name in
//! the target directory and renamed into place, so a failure never leaves a
//! partial image behind.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use image::RgbImage;

use super::{Sink, SinkError};
use crate::display::{overlay, RgbCanvas, Scene, Skeleton};
use crate::frame::{Frame, FrameResult, RecordMeta};

/// Writes annotated copies of frames into a directory.
pub struct Annotator {
    dir: PathBuf,
    /// The directories `new` created (innermost first), until an image is
    /// written: removed again by [`Sink::discard`].
    created: Vec<PathBuf>,
    /// How many frames of this run took each file name, so that two
    /// inputs with the same name (`a/x.jpg`, `b/x.jpg`) do not overwrite
    /// each other: the second becomes `x-2.jpg`.
    taken: HashMap<PathBuf, u32>,
    /// The persons being drawn (reused) and the model's layout (from the
    /// first frame's meta).
    scene: Scene,
    skeleton: Option<Skeleton>,
}

impl Annotator {
    /// Creates `dir` if needed.
    pub fn new(dir: &Path) -> Result<Self, SinkError> {
        let created: Vec<PathBuf> = dir
            .ancestors()
            .take_while(|a| !a.as_os_str().is_empty() && !a.exists())
            .map(Path::to_path_buf)
            .collect();
        std::fs::create_dir_all(dir).map_err(|e| SinkError::AnnotateDir {
            path: dir.display().to_string(),
            why: e.to_string(),
        })?;
        Ok(Self {
            dir: dir.to_path_buf(),
            created,
            taken: HashMap::new(),
            scene: Scene::default(),
            skeleton: None,
        })
    }

    /// Output path for a frame from `origin` (same stem, `.jpg` or `.png`),
    /// made unique within the run: a name already written gets `-2`, `-3`,
    /// ... before its extension.
    fn unique_target(&mut self, origin: &str, seq: u64) -> PathBuf {
        let target = self.target(origin, seq);
        let n = self.taken.entry(target.clone()).or_insert(0);
        *n += 1;
        if *n == 1 {
            return target;
        }
        let stem = target
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or("frame");
        let ext = target.extension().and_then(|e| e.to_str()).unwrap_or("jpg");
        let renamed = self.dir.join(format!("{stem}-{n}.{ext}"));
        self.taken.insert(renamed.clone(), 1);
        log::warn!(
            "annotate: {origin} has the name of an earlier input; written as {}",
            renamed.display()
        );
        renamed
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

/// Draws `result`'s persons over `pixels`, an RGB image of the frame
/// (`result.width` × `result.height`); false when `pixels` does not hold
/// such an image.
pub fn draw(pixels: &mut [u8], result: &FrameResult, meta: &RecordMeta) -> bool {
    let mut scene = Scene::default();
    scene.set(result, None);
    draw_scene(pixels, &scene, &Skeleton::new(meta))
}

/// Draws `scene` over `pixels`, an RGB image of `scene.width` ×
/// `scene.height` (also the web preview's overlay); false when `pixels`
/// does not hold such an image.
pub fn draw_scene(pixels: &mut [u8], scene: &Scene, skeleton: &Skeleton) -> bool {
    match RgbCanvas::new(pixels, scene.width, scene.height) {
        Some(mut canvas) => {
            // Drawing into memory cannot fail.
            let _ = overlay(&mut canvas, scene, skeleton);
            true
        }
        None => false,
    }
}

impl Sink for Annotator {
    fn emit(
        &mut self,
        frame: &Frame<'_>,
        result: &FrameResult,
        meta: &RecordMeta,
    ) -> Result<(), SinkError> {
        self.created.clear();
        let target = self.unique_target(frame.origin, frame.seq);
        let encode_err = |why: String| SinkError::Encode {
            path: target.display().to_string(),
            why,
        };
        let mut pixels = frame.pixels.to_vec();
        let skeleton = self.skeleton.get_or_insert_with(|| Skeleton::new(meta));
        self.scene.set(result, None);
        self.scene.width = frame.width;
        self.scene.height = frame.height;
        if !draw_scene(&mut pixels, &self.scene, skeleton) {
            return Err(encode_err("frame buffer smaller than its size".into()));
        }
        let img = RgbImage::from_raw(frame.width, frame.height, pixels)
            .ok_or_else(|| encode_err("frame buffer smaller than its size".into()))?;
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

    fn discard(&mut self) {
        // Innermost first; a directory that is not empty stays.
        for d in &self.created {
            if std::fs::remove_dir(d).is_err() {
                break;
            }
        }
        self.created.clear();
    }
}
