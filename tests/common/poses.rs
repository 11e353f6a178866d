//! The pose fixture of the picture tests (`tests/fixtures/display/poses.json`:
//! real `edgepose infer` poses of bus.jpg, zidane.jpg and a crowd, with
//! track ids) and their golden-image check: goldens change only with
//! `EDGEPOSE_BLESS=1`; a mismatch fails and writes the actual and expected
//! images under `target/tmp/<set>-golden/`.

use std::path::Path;

use edgepose::display::{Scene, Skeleton};
use edgepose::frame::{FrameResult, Keypoint, Person, RecordMeta, StageTimes, TrackMeta};
use image::RgbImage;
use serde::Deserialize;

#[derive(Deserialize)]
pub struct Fixture {
    pub model: String,
    pub keypoint_names: Vec<String>,
    pub skeleton: Vec<[usize; 2]>,
    pub keypoint_threshold: f32,
    pub frames: Vec<FixFrame>,
}

#[derive(Deserialize)]
pub struct FixFrame {
    pub name: String,
    pub width: u32,
    pub height: u32,
    pub fps: f32,
    pub infer_ms: f32,
    pub persons: Vec<FixPerson>,
    #[serde(default)]
    pub track_ids: Vec<u32>,
}

#[derive(Deserialize)]
pub struct FixPerson {
    #[serde(rename = "box")]
    pub bbox: [f32; 4],
    pub score: f32,
    pub keypoints: Vec<[f32; 3]>,
}

pub fn fixture() -> Fixture {
    let p = super::repo().join("tests/fixtures/display/poses.json");
    serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap()
}

impl Fixture {
    pub fn meta(&self) -> RecordMeta {
        RecordMeta {
            model_id: self.model.clone(),
            runtime: "litert".into(),
            keypoint_names: self.keypoint_names.clone(),
            skeleton: self.skeleton.clone(),
            keypoint_threshold: self.keypoint_threshold,
        }
    }

    pub fn skeleton(&self) -> Skeleton {
        Skeleton::new(&self.meta())
    }

    pub fn frame(&self, name: &str) -> &FixFrame {
        self.frames.iter().find(|f| f.name == name).unwrap()
    }
}

pub fn person(p: &FixPerson) -> Person {
    let mut q = Person {
        bbox: p.bbox,
        score: p.score,
        ..Person::default()
    };
    for (k, &[x, y, score]) in q.keypoints.iter_mut().zip(&p.keypoints) {
        *k = Keypoint { x, y, score };
    }
    q
}

impl FixFrame {
    pub fn scene(&self) -> Scene {
        Scene {
            width: self.width,
            height: self.height,
            num_keypoints: 17,
            persons: self.persons.iter().map(person).collect(),
            track_ids: self.track_ids.clone(),
            fps: Some(self.fps),
            infer_ms: Some(self.infer_ms),
        }
    }

    /// The frame as the pipeline hands it to sinks.
    pub fn result(&self, seq: u64) -> FrameResult {
        FrameResult {
            persons: self.persons.iter().map(person).collect(),
            tracks: self
                .track_ids
                .iter()
                .map(|&id| TrackMeta {
                    id,
                    ..TrackMeta::default()
                })
                .collect(),
            tracked: !self.track_ids.is_empty(),
            num_keypoints: 17,
            width: self.width,
            height: self.height,
            seq,
            timestamp_ms: seq as f64 * 100.0,
            times: StageTimes {
                invoke: self.infer_ms as f64,
                ..StageTimes::default()
            },
            ..FrameResult::default()
        }
    }
}

pub const NAMES: [&str; 3] = ["bus", "zidane", "crowd"];

/// Compares `actual` with the golden `tests/fixtures/<set>/<name>.png`
/// (writes it with `EDGEPOSE_BLESS=1`).
pub fn check_golden(set: &str, name: &str, actual: &RgbImage) {
    let path = super::repo()
        .join("tests/fixtures")
        .join(set)
        .join(format!("{name}.png"));
    if std::env::var("EDGEPOSE_BLESS").as_deref() == Ok("1") {
        actual.save(&path).unwrap();
        eprintln!("blessed {}", path.display());
        return;
    }
    let expected = image::open(&path)
        .unwrap_or_else(|e| {
            panic!(
                "golden {} unreadable ({e}); write it with EDGEPOSE_BLESS=1",
                path.display()
            )
        })
        .to_rgb8();
    if expected == *actual {
        return;
    }
    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("{set}-golden"));
    std::fs::create_dir_all(&out).unwrap();
    let a = out.join(format!("{name}.actual.png"));
    actual.save(&a).unwrap();
    expected
        .save(out.join(format!("{name}.expected.png")))
        .unwrap();
    let differ = if expected.dimensions() == actual.dimensions() {
        expected
            .pixels()
            .zip(actual.pixels())
            .filter(|(a, b)| a != b)
            .count()
            .to_string()
    } else {
        format!(
            "size {:?} vs {:?}: all",
            expected.dimensions(),
            actual.dimensions()
        )
    };
    panic!(
        "{name}: {differ} pixels differ from {}; actual written to {}",
        path.display(),
        a.display()
    );
}
