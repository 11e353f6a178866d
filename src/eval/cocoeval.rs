//! COCO keypoint evaluation: OKS-based AP and AR exactly as pycocotools'
//! `COCOeval` computes them with `iouType='keypoints'` (pycocotools 2.0.x).
//!
//! The steps, in pycocotools' terms:
//! - **Ground truth.** One category ([`EvalParams::category_id`], person).
//!   A ground truth is *ignored* when it is a crowd or has
//!   `num_keypoints == 0` (an `ignore` field in the file plays no part:
//!   pycocotools overwrites it). Its area is the annotation's `area`.
//! - **Detections.** Area and box come from all the keypoints, whatever
//!   their scores: `(max x − min x)·(max y − min y)`.
//! - **OKS** ([`oks`]) between every detection and ground truth of an image,
//!   with the `v > 0` keypoints of the ground truth, or, when it has none,
//!   the distance to its box grown by one box size on every side.
//! - **Matching**, per image, area range and OKS threshold: detections by
//!   score (stable), at most [`EvalParams::max_dets`]; each takes the best
//!   unmatched ground truth at or above the threshold, preferring the
//!   non-ignored ones; crowds can be matched again. A detection matched to
//!   an ignored ground truth, or unmatched with its area out of the range,
//!   is ignored.
//! - **Accumulation** over images (in id order) per area range: precision
//!   at the 101 recall thresholds (made monotone first) and the final recall,
//!   or −1 where the range has no non-ignored ground truth.
//! - **Summary**: the 10 numbers of [`STAT_NAMES`], each the mean of the
//!   entries that are not −1, or −1 if there is none.
//!
//! Floating point follows numpy's order of operations, and sums are
//! numpy's pairwise sums, so results agree with pycocotools to the last bits
//! save for `exp` (numpy's SIMD `exp` and libm's can differ by one ulp).
//!
//! Quirks of pycocotools reproduced on purpose: a matched ground truth is
//! recorded by its annotation `id`, so a match to an annotation with id 0
//! counts as no match; the summary of a `max_dets` other than 20 is
//! computed here (stock pycocotools' `summarize` finds no `maxDets=20` entry
//! then and prints −1 everywhere; `scripts/cocoeval_ref.py` works around
//! that). Detections on images outside the evaluated set are ignored (where
//! pycocotools' `loadRes` refuses the whole file).
//!
//! The files (annotations, results) are read in [`super::coco_file`].

use std::collections::HashMap;

use serde::{Deserialize, Deserializer, Serialize};

pub use super::coco_file::{
    load_annotations, load_results, parse_annotations, parse_results, CocoCategory, CocoFile,
    CocoImage,
};

/// Keypoints of a COCO person.
pub const NUM_KEYPOINTS: usize = 17;

/// Category id of a COCO person.
pub const PERSON_CATEGORY: u64 = 1;

/// Per-keypoint OKS constants, computed like pycocotools' `np.array([.26,
/// ...]) / 10.0` (so e.g. the nose is 0.026000000000000002).
pub const COCO_SIGMAS: [f64; NUM_KEYPOINTS] = {
    let tenfold = [
        0.26, 0.25, 0.25, 0.35, 0.35, 0.79, 0.79, 0.72, 0.72, 0.62, 0.62, 1.07, 1.07, 0.87, 0.87,
        0.89, 0.89,
    ];
    let mut s = [0.0; NUM_KEYPOINTS];
    let mut i = 0;
    while i < NUM_KEYPOINTS {
        s[i] = tenfold[i] / 10.0;
        i += 1;
    }
    s
};

/// Names of the 10 summary numbers, in [`Stats::values`] order.
pub const STAT_NAMES: [&str; 10] = [
    "AP", "AP50", "AP75", "APm", "APl", "AR", "AR50", "AR75", "ARm", "ARl",
];

/// `np.spacing(1)`.
const EPS: f64 = f64::EPSILON;

/// One ground-truth annotation (a COCO keypoint annotation; unknown fields,
/// e.g. `segmentation`, are ignored when read).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroundTruth {
    pub id: u64,
    pub image_id: u64,
    pub category_id: u64,
    /// `x, y, v` per keypoint.
    pub keypoints: Vec<f64>,
    pub num_keypoints: u32,
    pub area: f64,
    /// `x, y, width, height`.
    pub bbox: [f64; 4],
    /// `0`/`1` or `false`/`true` in the file; absent means not a crowd.
    #[serde(default, deserialize_with = "flag")]
    pub iscrowd: bool,
}

impl GroundTruth {
    /// Left out of the evaluation (pycocotools' `ignore`).
    pub fn ignored(&self) -> bool {
        self.iscrowd || self.num_keypoints == 0
    }
}

/// One detection, as in a COCO results file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Detection {
    pub image_id: u64,
    pub category_id: u64,
    /// `x, y, score` per keypoint.
    pub keypoints: Vec<f64>,
    pub score: f64,
}

impl Detection {
    /// Area of the keypoints' bounding box, as pycocotools' `loadRes`.
    pub fn area(&self) -> f64 {
        let (mut x0, mut x1, mut y0, mut y1) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
        for p in self.keypoints.chunks_exact(3) {
            (x0, x1) = (x0.min(p[0]), x1.max(p[0]));
            (y0, y1) = (y0.min(p[1]), y1.max(p[1]));
        }
        (x1 - x0) * (y1 - y0)
    }
}

/// Evaluation settings; the default is pycocotools' for keypoints.
#[derive(Debug, Clone, PartialEq)]
pub struct EvalParams {
    /// Detections kept per image, best score first (`maxDets`).
    pub max_dets: usize,
    /// The one category evaluated.
    pub category_id: u64,
    /// OKS thresholds (`iouThrs`); AP50/AP75 look up 0.5 and 0.75 exactly.
    pub iou_thrs: Vec<f64>,
    /// Recall thresholds (`recThrs`).
    pub rec_thrs: Vec<f64>,
    /// Area ranges `[min, max]` (inclusive): all, medium, large.
    pub area_rngs: [[f64; 2]; 3],
}

/// `np.linspace(start, stop, num)` (endpoint included), bit for bit.
fn linspace(start: f64, stop: f64, num: usize) -> Vec<f64> {
    let step = (stop - start) / (num - 1) as f64;
    let mut v: Vec<f64> = (0..num).map(|i| i as f64 * step + start).collect();
    v[num - 1] = stop;
    v
}

impl Default for EvalParams {
    fn default() -> Self {
        let count = |start: f64, stop: f64, step: f64| ((stop - start) / step).round() as usize + 1;
        Self {
            max_dets: 20,
            category_id: PERSON_CATEGORY,
            iou_thrs: linspace(0.5, 0.95, count(0.5, 0.95, 0.05)),
            rec_thrs: linspace(0.0, 1.0, count(0.0, 1.0, 0.01)),
            area_rngs: [[0.0, 1e10], [1024.0, 9216.0], [9216.0, 1e10]],
        }
    }
}

/// The 10 summary numbers (−1 where undefined).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Stats {
    /// In [`STAT_NAMES`] order: AP, AP50, AP75, APm, APl, AR, AR50, AR75,
    /// ARm, ARl.
    pub values: [f64; 10],
}

impl Stats {
    /// Names of [`Stats::values`].
    pub fn names() -> [&'static str; 10] {
        STAT_NAMES
    }

    /// The number called `name` (see [`STAT_NAMES`]).
    pub fn get(&self, name: &str) -> Option<f64> {
        STAT_NAMES
            .iter()
            .position(|n| *n == name)
            .map(|i| self.values[i])
    }
}

/// numpy's pairwise summation (`np.sum` of a contiguous float64 array).
fn pairwise_sum(a: &[f64]) -> f64 {
    let n = a.len();
    if n < 8 {
        a.iter().fold(0.0, |s, x| s + x)
    } else if n <= 128 {
        let mut r: [f64; 8] = a[..8].try_into().unwrap_or([0.0; 8]);
        let whole = n - n % 8;
        for block in a[8..whole].chunks_exact(8) {
            for (r, x) in r.iter_mut().zip(block) {
                *r += x;
            }
        }
        let mut res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        for x in &a[whole..] {
            res += x;
        }
        res
    } else {
        let half = n / 2;
        let half = half - half % 8;
        pairwise_sum(&a[..half]) + pairwise_sum(&a[half..])
    }
}

/// `np.mean` of the values that are not −1, or −1 if there is none.
fn mean_defined(v: impl Iterator<Item = f64>) -> f64 {
    let kept: Vec<f64> = v.filter(|&x| x > -1.0).collect();
    if kept.is_empty() {
        -1.0
    } else {
        pairwise_sum(&kept) / kept.len() as f64
    }
}

/// Object keypoint similarity of one detection with one ground truth, as
/// pycocotools' `computeOks` with the COCO sigmas.
///
/// Both keypoint vectors hold `x, y, v|score` triples in COCO order, the
/// same number of them (at most 17; COCO has 17).
pub fn oks(gt: &GroundTruth, dt: &Detection) -> f64 {
    oks_keypoints(gt, &dt.keypoints)
}

fn oks_keypoints(gt: &GroundTruth, dt: &[f64]) -> f64 {
    let g = &gt.keypoints;
    assert!(
        g.len() == dt.len() && g.len().is_multiple_of(3) && g.len() <= 3 * NUM_KEYPOINTS,
        "OKS needs as many keypoint triples in the detection ({}) as in the ground truth ({}), at most {NUM_KEYPOINTS}",
        dt.len() as f64 / 3.0,
        g.len() as f64 / 3.0,
    );
    let visible = g.chunks_exact(3).filter(|p| p[2] > 0.0).count();
    let [bx, by, bw, bh] = gt.bbox;
    let (x0, x1) = (bx - bw, bx + bw * 2.0);
    let (y0, y1) = (by - bh, by + bh * 2.0);
    let mut terms = [0.0; NUM_KEYPOINTS];
    let mut n = 0;
    for ((g, d), sigma) in g.chunks_exact(3).zip(dt.chunks_exact(3)).zip(COCO_SIGMAS) {
        let (dx, dy) = if visible > 0 {
            if g[2] <= 0.0 {
                continue;
            }
            (d[0] - g[0], d[1] - g[1])
        } else {
            (
                (x0 - d[0]).max(0.0) + (d[0] - x1).max(0.0),
                (y0 - d[1]).max(0.0) + (d[1] - y1).max(0.0),
            )
        };
        let var = (sigma * 2.0) * (sigma * 2.0);
        let e = (dx * dx + dy * dy) / var / (gt.area + EPS) / 2.0;
        terms[n] = (-e).exp();
        n += 1;
    }
    pairwise_sum(&terms[..n]) / n as f64
}

/// `np.argsort(-score, kind='mergesort')`: best first, ties in input order
/// (NaN last, as numpy sorts it).
fn by_score_desc(scores: &[f64]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| {
        let (a, b) = (-scores[a], -scores[b]);
        a.partial_cmp(&b)
            .unwrap_or_else(|| a.is_nan().cmp(&b.is_nan()))
    });
    order
}

/// One image's annotations and detections, ready for matching.
struct Image<'a> {
    gts: Vec<&'a GroundTruth>,
    /// Best score first, at most `max_dets`.
    dts: Vec<&'a Detection>,
    dt_area: Vec<f64>,
    /// `[detection][ground truth]`, ground truths in input order.
    oks: Vec<Vec<f64>>,
}

/// One image's matches for one area range (pycocotools' `evaluateImg`).
struct ImageEval {
    scores: Vec<f64>,
    /// `[threshold][detection]`: the matched ground truth's id, 0 for none.
    matched: Vec<Vec<u64>>,
    /// `[threshold][detection]`.
    dt_ignore: Vec<Vec<bool>>,
    gt_ignore: Vec<bool>,
}

fn evaluate_image(img: &Image, rng: [f64; 2], params: &EvalParams) -> Option<ImageEval> {
    if img.gts.is_empty() && img.dts.is_empty() {
        return None;
    }
    let out_of = |a: f64| a < rng[0] || a > rng[1];
    let ignore: Vec<bool> = img
        .gts
        .iter()
        .map(|g| g.ignored() || out_of(g.area))
        .collect();
    // Non-ignored ground truths first, input order otherwise.
    let mut order: Vec<usize> = (0..img.gts.len()).collect();
    order.sort_by_key(|&i| ignore[i]);
    let gt_ignore: Vec<bool> = order.iter().map(|&i| ignore[i]).collect();
    let crowd: Vec<bool> = order.iter().map(|&i| img.gts[i].iscrowd).collect();
    let (t_n, d_n) = (params.iou_thrs.len(), img.dts.len());
    let mut matched = vec![vec![0u64; d_n]; t_n];
    let mut dt_ignore = vec![vec![false; d_n]; t_n];
    for (t, &thr) in params.iou_thrs.iter().enumerate() {
        let mut gt_taken = vec![false; order.len()];
        for d in 0..d_n {
            let mut best = thr.min(1.0 - 1e-10);
            let mut m: Option<usize> = None;
            for (g, &gi) in order.iter().enumerate() {
                if gt_taken[g] && !crowd[g] {
                    continue;
                }
                if m.is_some_and(|m| !gt_ignore[m]) && gt_ignore[g] {
                    break;
                }
                let o = img.oks[d][gi];
                if o < best {
                    continue;
                }
                best = o;
                m = Some(g);
            }
            if let Some(g) = m {
                dt_ignore[t][d] = gt_ignore[g];
                matched[t][d] = img.gts[order[g]].id;
                gt_taken[g] = true;
            }
        }
        for d in 0..d_n {
            if matched[t][d] == 0 && out_of(img.dt_area[d]) {
                dt_ignore[t][d] = true;
            }
        }
    }
    Some(ImageEval {
        scores: img.dts.iter().map(|d| d.score).collect(),
        matched,
        dt_ignore,
        gt_ignore,
    })
}

/// One area range's results over all images.
struct Curves {
    /// `[threshold][recall threshold]`.
    precision: Vec<Vec<f64>>,
    /// `[threshold]`.
    recall: Vec<f64>,
}

/// Precision and recall of one area range over all images (pycocotools'
/// `accumulate`); `None` where pycocotools leaves −1 (no non-ignored ground
/// truth).
fn accumulate(evals: &[ImageEval], params: &EvalParams) -> Option<Curves> {
    let npig = evals
        .iter()
        .flat_map(|e| &e.gt_ignore)
        .filter(|&&i| !i)
        .count();
    if npig == 0 {
        return None;
    }
    let scores: Vec<f64> = evals
        .iter()
        .flat_map(|e| e.scores.iter().copied())
        .collect();
    let order = by_score_desc(&scores);
    let (mut precision, mut recall) = (Vec::new(), Vec::new());
    for t in 0..params.iou_thrs.len() {
        let matched: Vec<u64> = evals
            .iter()
            .flat_map(|e| e.matched[t].iter().copied())
            .collect();
        let ignore: Vec<bool> = evals
            .iter()
            .flat_map(|e| e.dt_ignore[t].iter().copied())
            .collect();
        let (mut tp, mut fp) = (0u64, 0u64);
        let mut rc = Vec::with_capacity(order.len());
        let mut pr = Vec::with_capacity(order.len());
        for &i in &order {
            if !ignore[i] {
                if matched[i] != 0 {
                    tp += 1;
                } else {
                    fp += 1;
                }
            }
            let (tp, fp) = (tp as f64, fp as f64);
            rc.push(tp / npig as f64);
            pr.push(tp / (fp + tp + EPS));
        }
        recall.push(rc.last().copied().unwrap_or(0.0));
        for i in (1..pr.len()).rev() {
            if pr[i] > pr[i - 1] {
                pr[i - 1] = pr[i];
            }
        }
        let mut q = vec![0.0; params.rec_thrs.len()];
        for (q, &r) in q.iter_mut().zip(&params.rec_thrs) {
            // np.searchsorted(rc, r, side='left')
            match pr.get(rc.partition_point(|&x| x < r)) {
                Some(&p) => *q = p,
                None => break,
            }
        }
        precision.push(q);
    }
    Some(Curves { precision, recall })
}

/// COCO keypoint AP/AR of `dets` against `gts` over the images `image_ids`
/// (pycocotools' `evaluate`, `accumulate` and `summarize`).
///
/// Only ground truths and detections of `params.category_id` on those
/// images count; input order breaks score ties, as in pycocotools.
/// Keypoint vectors must hold 17 triples (see [`oks`]).
pub fn evaluate(
    gts: &[GroundTruth],
    image_ids: &[u64],
    dets: &[Detection],
    params: &EvalParams,
) -> Stats {
    let mut ids = image_ids.to_vec();
    ids.sort_unstable();
    ids.dedup();
    let index: HashMap<u64, usize> = ids.iter().enumerate().map(|(i, &id)| (id, i)).collect();
    let mut img_gts: Vec<Vec<&GroundTruth>> = vec![Vec::new(); ids.len()];
    let mut img_dts: Vec<Vec<&Detection>> = vec![Vec::new(); ids.len()];
    for g in gts.iter().filter(|g| g.category_id == params.category_id) {
        if let Some(&i) = index.get(&g.image_id) {
            img_gts[i].push(g);
        }
    }
    for d in dets.iter().filter(|d| d.category_id == params.category_id) {
        if let Some(&i) = index.get(&d.image_id) {
            img_dts[i].push(d);
        }
    }
    let images: Vec<Image> = img_gts
        .into_iter()
        .zip(img_dts)
        .map(|(gts, dts)| {
            let scores: Vec<f64> = dts.iter().map(|d| d.score).collect();
            let dts: Vec<&Detection> = by_score_desc(&scores)
                .into_iter()
                .take(params.max_dets)
                .map(|i| dts[i])
                .collect();
            let oks = dts
                .iter()
                .map(|d| gts.iter().map(|g| oks_keypoints(g, &d.keypoints)).collect())
                .collect();
            Image {
                dt_area: dts.iter().map(|d| d.area()).collect(),
                gts,
                dts,
                oks,
            }
        })
        .collect();

    let per_area: Vec<Option<Curves>> = params
        .area_rngs
        .iter()
        .map(|&rng| {
            let evals: Vec<ImageEval> = images
                .iter()
                .filter_map(|img| evaluate_image(img, rng, params))
                .collect();
            accumulate(&evals, params)
        })
        .collect();

    // summarize: thresholds picked by exact equality, as np.where does.
    let thr = |t: Option<f64>| -> Vec<usize> {
        (0..params.iou_thrs.len())
            .filter(|&i| t.is_none_or(|t| params.iou_thrs[i] == t))
            .collect()
    };
    let ap = |t: Option<f64>, a: usize| -> f64 {
        let ts = thr(t);
        match &per_area[a] {
            None => -1.0,
            Some(c) => mean_defined(ts.iter().flat_map(|&t| c.precision[t].iter().copied())),
        }
    };
    let ar = |t: Option<f64>, a: usize| -> f64 {
        let ts = thr(t);
        match &per_area[a] {
            None => -1.0,
            Some(c) => mean_defined(ts.iter().map(|&t| c.recall[t])),
        }
    };
    Stats {
        values: [
            ap(None, 0),
            ap(Some(0.5), 0),
            ap(Some(0.75), 0),
            ap(None, 1),
            ap(None, 2),
            ar(None, 0),
            ar(Some(0.5), 0),
            ar(Some(0.75), 0),
            ar(None, 1),
            ar(None, 2),
        ],
    }
}

fn flag<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Flag {
        Bool(bool),
        Int(i64),
    }
    Ok(match Flag::deserialize(d)? {
        Flag::Bool(b) => b,
        Flag::Int(i) => i != 0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A ground truth with only `visible` keypoints labelled (v = 2).
    fn gt(points: &[(usize, f64, f64)], area: f64, bbox: [f64; 4]) -> GroundTruth {
        let mut keypoints = vec![0.0; 3 * NUM_KEYPOINTS];
        for &(k, x, y) in points {
            keypoints[3 * k..3 * k + 3].copy_from_slice(&[x, y, 2.0]);
        }
        GroundTruth {
            id: 1,
            image_id: 1,
            category_id: 1,
            keypoints,
            num_keypoints: points.len() as u32,
            area,
            bbox,
            iscrowd: false,
        }
    }

    fn dt(at: impl Fn(usize) -> (f64, f64), score: f64) -> Detection {
        Detection {
            image_id: 1,
            category_id: 1,
            keypoints: (0..NUM_KEYPOINTS)
                .flat_map(|k| {
                    let (x, y) = at(k);
                    [x, y, 0.9]
                })
                .collect(),
            score,
        }
    }

    #[test]
    fn constants_are_numpys_bit_for_bit() {
        // reprs printed by numpy / pycocotools' Params('keypoints').
        assert_eq!(COCO_SIGMAS[0], 0.026000000000000002);
        assert_eq!(COCO_SIGMAS[3], 0.034999999999999996);
        assert_eq!(COCO_SIGMAS[11], 0.10700000000000001);
        assert_eq!(COCO_SIGMAS[16], 0.089);
        let p = EvalParams::default();
        let iou = [
            0.5,
            0.55,
            0.6,
            0.65,
            0.7,
            0.75,
            0.8,
            0.85,
            0.8999999999999999,
            0.95,
        ];
        assert_eq!(p.iou_thrs, iou);
        assert_eq!(p.rec_thrs.len(), 101);
        assert_eq!(p.rec_thrs[29], 0.29);
        assert_eq!(p.rec_thrs[57], 0.5700000000000001);
        assert_eq!(p.rec_thrs[100], 1.0);
        assert_eq!(EPS, 2.220446049250313e-16);
    }

    #[test]
    fn pairwise_sum_is_numpys() {
        let v: Vec<f64> = (0..300).map(|i| 1.0 / (i as f64 + 1.0)).collect();
        // np.sum of these slices, printed with repr.
        assert_eq!(pairwise_sum(&v[..5]), 2.283333333333333);
        assert_eq!(pairwise_sum(&v[..17]), 3.439552522640758);
        assert_eq!(pairwise_sum(&v), 6.282663880299504);
    }

    #[test]
    fn oks_of_a_perfect_detection_is_one() {
        let g = gt(
            &[(0, 10.0, 20.0), (5, 30.0, 40.0)],
            500.0,
            [0.0, 0.0, 50.0, 50.0],
        );
        let d = dt(
            |k| match k {
                0 => (10.0, 20.0),
                5 => (30.0, 40.0),
                _ => (1e4, -1e4), // not labelled: does not count
            },
            0.9,
        );
        assert_eq!(oks(&g, &d), 1.0);
    }

    #[test]
    fn oks_of_one_visible_keypoint_by_hand() {
        // Nose 1 px off in x, area 10 000: e = 1 / (2 * 0.026)^2 / 10 000 / 2.
        let g = gt(&[(0, 100.0, 100.0)], 10_000.0, [50.0, 50.0, 100.0, 100.0]);
        let d = dt(|k| if k == 0 { (101.0, 100.0) } else { (0.0, 0.0) }, 0.5);
        let e: f64 = 1.0 / (0.052f64 * 0.052) / 10_000.0 / 2.0;
        assert!((oks(&g, &d) - (-e).exp()).abs() < 1e-12);
        // exp(-0.01849112426...), computed with Python.
        assert!((oks(&g, &d) - 0.9816787876784583).abs() < 1e-15);
    }

    #[test]
    fn oks_averages_over_the_visible_keypoints_only() {
        // Nose exact, left hip (sigma .107) 3 px off in y, area 400.
        let g = gt(
            &[(0, 5.0, 5.0), (11, 10.0, 30.0)],
            400.0,
            [0.0, 0.0, 20.0, 40.0],
        );
        let d = dt(
            |k| match k {
                0 => (5.0, 5.0),
                11 => (10.0, 33.0),
                _ => (-50.0, -50.0),
            },
            0.5,
        );
        let e = 9.0 / (0.214f64 * 0.214) / 400.0 / 2.0;
        let want = (1.0 + (-e).exp()) / 2.0;
        assert!(
            (oks(&g, &d) - want).abs() < 1e-12,
            "{} vs {want}",
            oks(&g, &d)
        );
    }

    #[test]
    fn oks_without_labelled_keypoints_uses_the_grown_box() {
        // Box x 10..30, y 10..20 grows to x -10..50, y 0..30.
        let g = gt(&[], 200.0, [10.0, 10.0, 20.0, 10.0]);
        let inside = dt(|_| (0.0, 25.0), 0.5);
        assert_eq!(oks(&g, &inside), 1.0);
        // Every keypoint 10 px left of the grown box and 5 px above it.
        let outside = dt(|_| (-20.0, -5.0), 0.5);
        let want = COCO_SIGMAS
            .iter()
            .map(|s| (-(125.0 / (4.0 * s * s) / 200.0 / 2.0)).exp())
            .sum::<f64>()
            / 17.0;
        assert!((oks(&g, &outside) - want).abs() < 1e-12);
        assert!(oks(&g, &outside) < 0.2);
    }

    #[test]
    fn detection_area_uses_every_keypoint() {
        let d = dt(|k| (k as f64, 2.0 * k as f64), 0.1);
        assert_eq!(d.area(), 16.0 * 32.0);
    }

    #[test]
    fn one_perfect_detection() {
        let g = gt(
            &[(0, 10.0, 10.0), (6, 60.0, 90.0)],
            5000.0,
            [0.0, 0.0, 100.0, 100.0],
        );
        let d = dt(
            |k| match k {
                0 => (10.0, 10.0),
                6 => (60.0, 90.0),
                _ => (50.0, 50.0),
            },
            0.8,
        );
        let s = evaluate(&[g], &[1], &[d], &EvalParams::default());
        // Medium person: everything 1, large range -1 (no ground truth).
        // Precision is 1 / (1 + eps), as in pycocotools, hence 0.9999999999999998.
        let want = [1.0, 1.0, 1.0, 1.0, -1.0, 1.0, 1.0, 1.0, 1.0, -1.0];
        for (got, want) in s.values.iter().zip(want) {
            assert!((got - want).abs() < 1e-15, "{:?}", s.values);
        }
        assert_eq!(s.values[0], 0.9999999999999998);
        assert_eq!(s.get("APl"), Some(-1.0));
    }

    #[test]
    fn no_detections_gives_zero_where_there_is_ground_truth() {
        let g = gt(&[(0, 10.0, 10.0)], 20_000.0, [0.0, 0.0, 200.0, 100.0]);
        let s = evaluate(&[g], &[1, 2], &[], &EvalParams::default());
        assert_eq!(
            s.values,
            [0.0, 0.0, 0.0, -1.0, 0.0, 0.0, 0.0, 0.0, -1.0, 0.0]
        );
        let none = evaluate(&[], &[1], &[], &EvalParams::default());
        assert_eq!(none.values, [-1.0; 10]);
    }
}
