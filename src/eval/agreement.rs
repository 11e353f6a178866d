//! Agreement between a model and a reference model of the same network
//! (int8 vs float32), which needs no ground truth: persons are matched
//! greedily by OKS (COCO sigmas, the reference person's box area as scale,
//! the reference's visible keypoints as the ground truth), then per
//! keypoint type the pixel error and visibility flips are collected.
//!
//! Memory is bounded: errors are kept in fixed-size reservoirs per keypoint
//! type, however many images are evaluated.

use serde::Serialize;

use super::cocoeval::{oks, Detection, GroundTruth, PERSON_CATEGORY};
use crate::frame::Person;

/// Most pixel-error samples kept per keypoint type.
const MAX_SAMPLES: usize = 50_000;
/// Matched pairs below this OKS count as different persons.
pub const MATCH_OKS: f64 = 0.1;

/// Running agreement statistics.
#[derive(Debug, Clone)]
pub struct Agreement {
    k: usize,
    keypoint_threshold: f32,
    errors: Vec<Vec<f32>>,
    seen: Vec<u64>,
    flips: Vec<u64>,
    compared: Vec<u64>,
    oks_sum: f64,
    oks_histogram: [u64; 10],
    matched: u64,
    only_model: u64,
    only_reference: u64,
}

/// Per keypoint type.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct KeypointAgreement {
    pub name: String,
    /// Pairs where the reference keypoint is visible.
    pub samples: u64,
    pub median_px: f64,
    pub p95_px: f64,
    /// Share of matched pairs whose visibility differs.
    pub flip_rate: f64,
}

/// Summary of a model against its reference.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct AgreementSummary {
    pub matched_persons: u64,
    pub only_in_model: u64,
    pub only_in_reference: u64,
    /// Mean OKS over matched pairs.
    pub mean_oks_matched: f64,
    /// Mean OKS over every person of either model, unmatched ones counting 0.
    pub mean_oks: f64,
    /// Matched pairs per OKS bin [0, 0.1), [0.1, 0.2), … [0.9, 1.0].
    pub oks_histogram: [u64; 10],
    pub keypoints: Vec<KeypointAgreement>,
}

fn as_gt(p: &Person, k: usize, thr: f32) -> GroundTruth {
    let mut keypoints = Vec::with_capacity(3 * k);
    let mut n = 0;
    for kp in &p.keypoints[..k] {
        let v = if kp.score >= thr { 2.0 } else { 0.0 };
        n += u32::from(v > 0.0);
        keypoints.extend_from_slice(&[f64::from(kp.x), f64::from(kp.y), v]);
    }
    let [x1, y1, x2, y2] = p.bbox.map(f64::from);
    GroundTruth {
        id: 0,
        image_id: 0,
        category_id: PERSON_CATEGORY,
        keypoints,
        num_keypoints: n,
        area: (x2 - x1).max(0.0) * (y2 - y1).max(0.0),
        bbox: [x1, y1, x2 - x1, y2 - y1],
        iscrowd: false,
    }
}

/// Nearest-rank percentile of an unsorted sample.
fn percentile(v: &mut [f32], q: f64) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(f32::total_cmp);
    let i = ((q * v.len() as f64).ceil() as usize).clamp(1, v.len()) - 1;
    f64::from(v[i])
}

/// Result of comparing one image.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ImageAgreement {
    /// Mean OKS over the image's persons (unmatched count 0); 1 when both
    /// models found nobody.
    pub mean_oks: f64,
    pub matched: usize,
    pub unmatched: usize,
}

impl Agreement {
    pub fn new(k: usize, keypoint_threshold: f32) -> Self {
        Self {
            k,
            keypoint_threshold,
            errors: vec![Vec::new(); k],
            seen: vec![0; k],
            flips: vec![0; k],
            compared: vec![0; k],
            oks_sum: 0.0,
            oks_histogram: [0; 10],
            matched: 0,
            only_model: 0,
            only_reference: 0,
        }
    }

    /// Compares the persons of one image (both already filtered by the
    /// run-time score threshold).
    pub fn add_image(&mut self, model: &[Person], reference: &[Person]) -> ImageAgreement {
        let k = self.k;
        let gts: Vec<GroundTruth> = reference
            .iter()
            .map(|p| as_gt(p, k, self.keypoint_threshold))
            .collect();
        let dts: Vec<Detection> = model.iter().map(|p| super::to_detection(0, p, k)).collect();
        let mut pairs: Vec<(f64, usize, usize)> = Vec::new();
        for (i, d) in dts.iter().enumerate() {
            for (j, g) in gts.iter().enumerate() {
                let o = oks(g, d);
                if o >= MATCH_OKS {
                    pairs.push((o, i, j));
                }
            }
        }
        pairs.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)).then(a.2.cmp(&b.2)));
        let (mut used_m, mut used_r) = (vec![false; model.len()], vec![false; reference.len()]);
        let mut img = ImageAgreement::default();
        let mut oks_total = 0.0;
        for (o, i, j) in pairs {
            if used_m[i] || used_r[j] {
                continue;
            }
            used_m[i] = true;
            used_r[j] = true;
            img.matched += 1;
            oks_total += o;
            self.matched += 1;
            self.oks_sum += o;
            self.oks_histogram[((o * 10.0) as usize).min(9)] += 1;
            for t in 0..k {
                let (a, b) = (model[i].keypoints[t], reference[j].keypoints[t]);
                let (va, vb) = (
                    a.score >= self.keypoint_threshold,
                    b.score >= self.keypoint_threshold,
                );
                self.compared[t] += 1;
                self.flips[t] += u64::from(va != vb);
                if vb {
                    let e = ((a.x - b.x).powi(2) + (a.y - b.y).powi(2)).sqrt();
                    let n = self.seen[t];
                    self.seen[t] += 1;
                    let errs = &mut self.errors[t];
                    if errs.len() < MAX_SAMPLES {
                        errs.push(e);
                    } else {
                        // Deterministic reservoir: overwrite in rotation.
                        errs[(n as usize) % MAX_SAMPLES] = e;
                    }
                }
            }
        }
        let only_m = used_m.iter().filter(|u| !**u).count();
        let only_r = used_r.iter().filter(|u| !**u).count();
        self.only_model += only_m as u64;
        self.only_reference += only_r as u64;
        img.unmatched = only_m + only_r;
        let persons = img.matched + img.unmatched;
        img.mean_oks = if persons == 0 {
            1.0
        } else {
            oks_total / persons as f64
        };
        img
    }

    /// Summary so far; `names` labels the keypoint types.
    pub fn summary(&self, names: &[String]) -> AgreementSummary {
        let persons = self.matched + self.only_model + self.only_reference;
        AgreementSummary {
            matched_persons: self.matched,
            only_in_model: self.only_model,
            only_in_reference: self.only_reference,
            mean_oks_matched: if self.matched == 0 {
                0.0
            } else {
                self.oks_sum / self.matched as f64
            },
            mean_oks: if persons == 0 {
                1.0
            } else {
                self.oks_sum / persons as f64
            },
            oks_histogram: self.oks_histogram,
            keypoints: (0..self.k)
                .map(|t| {
                    let mut v = self.errors[t].clone();
                    KeypointAgreement {
                        name: names.get(t).cloned().unwrap_or_else(|| format!("kp{t}")),
                        samples: self.seen[t],
                        median_px: percentile(&mut v, 0.5),
                        p95_px: percentile(&mut v, 0.95),
                        flip_rate: if self.compared[t] == 0 {
                            0.0
                        } else {
                            self.flips[t] as f64 / self.compared[t] as f64
                        },
                    }
                })
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::Keypoint;

    fn person(x0: f32, shift: f32, low: usize) -> Person {
        let mut p = Person {
            bbox: [x0, 0.0, x0 + 100.0, 200.0],
            score: 0.9,
            ..Person::default()
        };
        for (j, kp) in p.keypoints.iter_mut().take(17).enumerate() {
            *kp = Keypoint {
                x: x0 + 5.0 * j as f32 + shift,
                y: 10.0 * j as f32,
                score: if j == low { 0.2 } else { 0.9 },
            };
        }
        p
    }

    #[test]
    fn identical_persons_agree_fully_and_shifts_are_measured() {
        let names: Vec<String> = (0..17).map(|i| format!("k{i}")).collect();
        let mut a = Agreement::new(17, 0.5);
        let img = a.add_image(&[person(0.0, 0.0, 99)], &[person(0.0, 0.0, 99)]);
        assert_eq!(img.matched, 1);
        assert!((img.mean_oks - 1.0).abs() < 1e-12);
        // 3 px shift everywhere, one keypoint's visibility flips, one person extra.
        let img = a.add_image(
            &[person(0.0, 3.0, 4), person(500.0, 0.0, 99)],
            &[person(0.0, 0.0, 99)],
        );
        assert_eq!((img.matched, img.unmatched), (1, 1));
        let s = a.summary(&names);
        assert_eq!(s.matched_persons, 2);
        assert_eq!(s.only_in_model, 1);
        assert_eq!(s.only_in_reference, 0);
        let k0 = &s.keypoints[0];
        assert_eq!(k0.samples, 2);
        assert!((k0.p95_px - 3.0).abs() < 1e-6, "{k0:?}");
        assert!((s.keypoints[4].flip_rate - 0.5).abs() < 1e-12);
        assert_eq!(s.keypoints[5].flip_rate, 0.0);
        assert!(s.mean_oks < s.mean_oks_matched);
        assert_eq!(
            s.oks_histogram[9], 2,
            "3 px on a 100×200 person keeps OKS above 0.9: {:?}",
            s.oks_histogram
        );
        assert_eq!(s.oks_histogram.iter().sum::<u64>(), 2);
    }
}
