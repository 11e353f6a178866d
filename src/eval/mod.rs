//! `edgepose eval`: is the int8 model still accurate, on the board, through
//! exactly the path `run` uses?
//!
//! Every image goes through the same source decoding, pre-processing,
//! inference, decoding and NMS code as `run`; only the thresholds differ
//! (evaluation keeps low-score detections, as COCO does). Two measures:
//! - accuracy against ground truth: COCO keypoint AP/AR exactly as
//!   pycocotools computes it ([`cocoeval`]);
//! - agreement with a reference model of the same network (e.g. float32),
//!   which needs no ground truth ([`agreement`]).
//!
//! Images are streamed: memory stays bounded whatever their number (the
//! detections kept for COCO evaluation are a few hundred bytes per image).

pub mod agreement;
pub mod coco_file;
pub mod cocoeval;
pub mod report;

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Serialize;

use crate::frame::{FrameResult, Person};
use crate::pipeline::{Pipeline, PipelineError};
use crate::source::{ImageSource, Source, SourceError};
use agreement::{Agreement, AgreementSummary};
use cocoeval::{CocoFile, Detection, EvalParams, GroundTruth};

/// Errors of an evaluation.
#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    #[error("annotation file {path}: {why}")]
    Annotations { path: String, why: String },
    #[error("nothing to evaluate: give --annotations FILE (accuracy) and/or --reference MODEL (agreement)")]
    NothingToDo,
    #[error(transparent)]
    Source(#[from] SourceError),
    #[error(transparent)]
    Pipeline(#[from] PipelineError),
    #[error("cannot write report {path}: {why}")]
    Report { path: String, why: String },
}

/// What to evaluate.
#[derive(Debug, Clone)]
pub struct EvalOptions {
    /// COCO keypoint annotation file.
    pub annotations: Option<PathBuf>,
    /// Folder holding the images.
    pub images: PathBuf,
    /// Persons scoring below this are left out of the agreement comparison.
    pub agreement_conf: f32,
    /// Worst images kept for the report pictures.
    pub worst: usize,
    /// Maximum detections per image for COCO evaluation.
    pub max_dets: usize,
    /// Keypoints scoring below this count as not visible.
    pub keypoint_threshold: f32,
}

/// One model's accuracy.
#[derive(Debug, Clone, Serialize)]
pub struct ModelAccuracy {
    pub model: String,
    pub file: String,
    pub runtime: String,
    /// AP, AP50, AP75, APm, APl, AR, AR50, AR75, ARm, ARl (absent without ground truth).
    pub stats: Option<[f64; 10]>,
    pub detections: usize,
}

/// An image where the two models disagree most.
#[derive(Debug, Clone)]
pub struct WorstImage {
    pub path: PathBuf,
    pub mean_oks: f64,
    pub model: Vec<Person>,
    pub reference: Vec<Person>,
}

/// Everything an evaluation found.
#[derive(Debug, Clone, Serialize)]
pub struct EvalResult {
    pub images: usize,
    pub annotated_persons: usize,
    pub model: ModelAccuracy,
    pub reference: Option<ModelAccuracy>,
    pub agreement: Option<AgreementSummary>,
    #[serde(skip)]
    pub worst: Vec<WorstImage>,
    #[serde(skip)]
    pub results: Vec<Detection>,
    #[serde(skip)]
    pub reference_results: Vec<Detection>,
}

fn load_annotations(path: &Path) -> Result<CocoFile, EvalError> {
    cocoeval::load_annotations(path).map_err(|why| EvalError::Annotations {
        path: path.display().to_string(),
        why,
    })
}

/// A person as a COCO keypoint detection of `image_id` (k keypoints).
fn to_detection(image_id: u64, p: &Person, k: usize) -> Detection {
    Detection {
        image_id,
        category_id: cocoeval::PERSON_CATEGORY,
        keypoints: p.keypoints[..k]
            .iter()
            .flat_map(|kp| [f64::from(kp.x), f64::from(kp.y), f64::from(kp.score)])
            .collect(),
        score: f64::from(p.score),
    }
}

fn detections(image_id: u64, r: &FrameResult, out: &mut Vec<Detection>) {
    out.extend(
        r.persons
            .iter()
            .map(|p| to_detection(image_id, p, r.num_keypoints)),
    );
}

fn keep(r: &FrameResult, conf: f32) -> Vec<Person> {
    r.persons
        .iter()
        .filter(|p| p.score >= conf)
        .copied()
        .collect()
}

fn accuracy(p: &Pipeline, stats: Option<[f64; 10]>, detections: usize) -> ModelAccuracy {
    ModelAccuracy {
        model: p.model().manifest.id.clone(),
        file: p.model().path.display().to_string(),
        runtime: p.engine().info().flavour.name().to_string(),
        stats,
        detections,
    }
}

/// Runs the evaluation. `progress` is called after each image with
/// (done, total).
pub fn evaluate(
    model: &mut Pipeline,
    mut reference: Option<&mut Pipeline>,
    opts: &EvalOptions,
    mut progress: impl FnMut(usize, usize),
) -> Result<EvalResult, EvalError> {
    let coco = opts
        .annotations
        .as_deref()
        .map(load_annotations)
        .transpose()?;
    if coco.is_none() && reference.is_none() {
        return Err(EvalError::NothingToDo);
    }
    // Agreement only may run over a recording (`raw:FILE?...`): its frames
    // are numbered in order; no pictures of the worst frames are drawn.
    let recording = coco.is_none() && opts.images.to_str().is_some_and(|s| s.starts_with("raw:"));
    // (image id, path) in id order; without annotations, the folder's images.
    let images: Vec<(u64, PathBuf)> = match &coco {
        Some(c) => {
            let mut v: Vec<(u64, PathBuf)> = c
                .images
                .iter()
                .map(|i| (i.id, opts.images.join(&i.file_name)))
                .collect();
            v.sort_by_key(|(id, _)| *id);
            v
        }
        None if recording => Vec::new(),
        None => crate::source::expand(std::slice::from_ref(&opts.images))?
            .into_iter()
            .enumerate()
            .map(|(i, p)| (i as u64, p))
            .collect(),
    };
    let paths: Vec<PathBuf> = images.iter().map(|(_, p)| p.clone()).collect();
    let mut source: Box<dyn Source> = if recording {
        let spec = opts.images.to_string_lossy().into_owned();
        crate::source::open(&[spec], Duration::ZERO, None)?
    } else {
        Box::new(ImageSource::new(&paths, Duration::ZERO)?)
    };
    let keep_worst = if recording { 0 } else { opts.worst };
    let k = model.model().manifest.keypoints.names.len();
    let mut agreement = reference
        .as_ref()
        .map(|_| Agreement::new(k, opts.keypoint_threshold));
    let (mut results, mut reference_results) = (Vec::new(), Vec::new());
    let (mut a, mut b) = (FrameResult::default(), FrameResult::default());
    let mut worst: Vec<WorstImage> = Vec::new();
    let mut total = images.len();
    let mut index = 0;
    while let Some(frame) = source.next_frame() {
        let frame = frame?;
        let (image_id, path) = match images.get(index) {
            Some((id, p)) => (*id, p.clone()),
            None => (index as u64, PathBuf::from(frame.origin.to_string())),
        };
        index += 1;
        total = total.max(index);
        model.process(&frame, &mut a)?;
        detections(image_id, &a, &mut results);
        if let (Some(r), Some(ag)) = (reference.as_deref_mut(), agreement.as_mut()) {
            r.process(&frame, &mut b)?;
            detections(image_id, &b, &mut reference_results);
            let (pa, pb) = (keep(&a, opts.agreement_conf), keep(&b, opts.agreement_conf));
            let img = ag.add_image(&pa, &pb);
            if keep_worst > 0
                && (worst.len() < keep_worst || img.mean_oks < worst[worst.len() - 1].mean_oks)
            {
                if worst.len() == keep_worst {
                    worst.pop();
                }
                worst.push(WorstImage {
                    path,
                    mean_oks: img.mean_oks,
                    model: pa,
                    reference: pb,
                });
                worst.sort_by(|x, y| x.mean_oks.total_cmp(&y.mean_oks));
            }
        }
        progress(index, total);
    }
    let params = EvalParams {
        max_dets: opts.max_dets,
        ..EvalParams::default()
    };
    let (gts, ids): (Vec<GroundTruth>, Vec<u64>) = match &coco {
        Some(c) => (c.ground_truth(), c.images.iter().map(|i| i.id).collect()),
        None => (Vec::new(), Vec::new()),
    };
    let stats_of = |dets: &[Detection]| {
        coco.as_ref()
            .map(|_| cocoeval::evaluate(&gts, &ids, dets, &params).values)
    };
    let names = model.model().manifest.keypoints.names.clone();
    Ok(EvalResult {
        images: total,
        annotated_persons: gts
            .iter()
            .filter(|g| g.num_keypoints > 0 && !g.iscrowd)
            .count(),
        model: accuracy(model, stats_of(&results), results.len()),
        reference: reference
            .as_deref()
            .map(|r| accuracy(r, stats_of(&reference_results), reference_results.len())),
        agreement: agreement.map(|a| a.summary(&names)),
        worst,
        results,
        reference_results,
    })
}

/// Pass/fail thresholds.
#[derive(Debug, Clone, Copy, Default)]
pub struct Thresholds {
    pub min_ap: Option<f64>,
    pub max_ap_drop: Option<f64>,
    pub min_agreement_oks: Option<f64>,
}

/// One threshold check.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Check {
    pub name: String,
    pub value: Option<f64>,
    pub limit: f64,
    pub pass: bool,
}

impl EvalResult {
    /// AP of the reference minus AP of the model.
    pub fn ap_drop(&self) -> Option<f64> {
        let m = self.model.stats?[0];
        let r = self.reference.as_ref()?.stats?[0];
        Some(r - m)
    }

    /// Applies the thresholds; a check whose value is unavailable fails.
    pub fn checks(&self, t: &Thresholds) -> Vec<Check> {
        let mut v = Vec::new();
        if let Some(limit) = t.min_ap {
            let value = self.model.stats.map(|s| s[0]);
            v.push(Check {
                name: "AP >= min-ap".into(),
                value,
                limit,
                pass: value.is_some_and(|x| x >= limit),
            });
        }
        if let Some(limit) = t.max_ap_drop {
            let value = self.ap_drop();
            v.push(Check {
                name: "AP drop vs reference <= max-ap-drop".into(),
                value,
                limit,
                pass: value.is_some_and(|x| x <= limit),
            });
        }
        if let Some(limit) = t.min_agreement_oks {
            let value = self.agreement.as_ref().map(|a| a.mean_oks);
            v.push(Check {
                name: "agreement OKS >= min-agreement-oks".into(),
                value,
                limit,
                pass: value.is_some_and(|x| x >= limit),
            });
        }
        v
    }
}
