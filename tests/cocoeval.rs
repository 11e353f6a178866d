//! `edgepose::eval::cocoeval` against pycocotools itself: every one of the
//! 10 summary numbers must agree to 1e-9.
//!
//! Each case writes (or takes) a COCO results file, evaluates it with
//! `cocoeval::evaluate` and with `scripts/cocoeval_ref.py` (pycocotools'
//! `COCOeval`, iouType keypoints) in the reference venv, and compares. The
//! venv comes from `EDGEPOSE_CACHE` (default `.cache`) and the real ground
//! truth from `EDGEPOSE_DATA_DIR` (default `../shared/data`). A missing venv
//! or pycocotools fails, asking for `scripts/setup.sh`; nothing is skipped.
//!
//! To check another results file, call [`assert_matches_pycocotools`].

use std::path::{Path, PathBuf};
use std::process::Command;

use edgepose::eval::cocoeval::{
    evaluate, load_annotations, load_results, CocoFile, Detection, EvalParams, COCO_SIGMAS,
    STAT_NAMES,
};

const TOLERANCE: f64 = 1e-9;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn env_path(var: &str, default: &str) -> PathBuf {
    std::env::var_os(var)
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join(default))
}

fn fixtures() -> PathBuf {
    repo().join("tests/fixtures/cocoeval")
}

/// The real ground truth: coco-val-mini's person keypoints.
fn coco_val_mini() -> PathBuf {
    let p =
        env_path("EDGEPOSE_DATA_DIR", "../shared/data").join("coco-val-mini/person_keypoints.json");
    assert!(
        p.exists(),
        "{} missing: run scripts/setup.sh next to ../shared",
        p.display()
    );
    p
}

/// pycocotools' 10 stats for `results` against `gt`, through
/// `scripts/cocoeval_ref.py` (maxDets 20 unless given).
pub fn pycocotools_stats(gt: &Path, results: &Path, max_dets: Option<usize>) -> [f64; 10] {
    let python = env_path("EDGEPOSE_CACHE", ".cache").join("venv/bin/python");
    assert!(
        python.exists(),
        "{} missing: run scripts/setup.sh (it creates the reference venv with pycocotools)",
        python.display()
    );
    let mut cmd = Command::new(&python);
    cmd.arg(repo().join("scripts/cocoeval_ref.py"))
        .arg(gt)
        .arg(results);
    if let Some(m) = max_dets {
        cmd.arg(m.to_string());
    }
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", python.display()));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.code() != Some(2),
        "pycocotools missing from the reference venv: run scripts/setup.sh\n{stderr}"
    );
    assert!(out.status.success(), "cocoeval_ref.py failed:\n{stderr}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout.lines().last().unwrap_or_default();
    let v: Vec<f64> = serde_json::from_str(line).unwrap_or_else(|e| panic!("{line:?}: {e}"));
    v.try_into()
        .unwrap_or_else(|v| panic!("expected 10 stats, got {v:?}"))
}

/// Evaluates `results` against `gt` with edgepose and with pycocotools,
/// prints both, and asserts every stat agrees to 1e-9. Returns the stats.
pub fn assert_matches_pycocotools(
    label: &str,
    gt: &Path,
    results: &Path,
    max_dets: Option<usize>,
) -> [f64; 10] {
    let coco: CocoFile = load_annotations(gt).unwrap();
    let dets = load_results(results).unwrap();
    let params = EvalParams {
        max_dets: max_dets.unwrap_or(20),
        ..EvalParams::default()
    };
    let ours = evaluate(&coco.ground_truth(), &coco.image_ids(), &dets, &params).values;
    let theirs = pycocotools_stats(gt, results, max_dets);
    println!(
        "{label}: {} detections on {} images, {} annotations, maxDets {}",
        dets.len(),
        coco.images.len(),
        coco.annotations.len(),
        params.max_dets
    );
    println!(
        "  {:<5} {:>22} {:>22} {:>9}",
        "stat", "edgepose", "pycocotools", "|diff|"
    );
    let mut bad = Vec::new();
    for ((name, a), b) in STAT_NAMES.iter().zip(ours).zip(theirs) {
        let diff = (a - b).abs();
        println!("  {name:<5} {a:>22} {b:>22} {diff:>9.1e}");
        if diff.is_nan() || diff > TOLERANCE {
            bad.push(*name);
        }
    }
    assert!(
        bad.is_empty(),
        "{label}: {bad:?} differ from pycocotools by more than {TOLERANCE}"
    );
    ours
}

/// A 64-bit linear congruential generator (Knuth's MMIX constants).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.0
    }

    /// Uniform in [0, 1).
    fn uniform(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    fn range(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.uniform()
    }

    /// Standard normal (Box–Muller).
    fn normal(&mut self) -> f64 {
        let u = 1.0 - self.uniform();
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * self.uniform()).cos()
    }
}

/// How to turn the ground truth into a results file.
#[derive(Clone, Copy)]
struct Recipe {
    seed: u64,
    /// Keypoint noise, as a fraction of sqrt(area).
    noise: f64,
    /// Share of persons detected a second time, with more noise.
    duplicates: f64,
    /// Random detections per image, anywhere in it.
    false_positives: usize,
    /// Scores rounded to 1/n, so that many are equal (0: not rounded).
    score_steps: u32,
}

/// Detections made from the ground truth: one per annotation (zero-keypoint
/// ones included, their keypoints spread over the box), keypoints the
/// labelled ones plus Gaussian noise, unlabelled ones anywhere in the box.
fn perturbed(coco: &CocoFile, r: Recipe) -> Vec<Detection> {
    let mut rng = Lcg(r.seed);
    let score = |rng: &mut Lcg| {
        let s = rng.range(0.01, 1.0);
        if r.score_steps == 0 {
            s
        } else {
            (s * f64::from(r.score_steps)).ceil() / f64::from(r.score_steps)
        }
    };
    let person =
        |rng: &mut Lcg, image_id: u64, kps: &[f64], bbox: [f64; 4], scale: f64, score: f64| {
            let keypoints = kps
                .chunks_exact(3)
                .zip(COCO_SIGMAS)
                .flat_map(|(k, sigma)| {
                    let (x, y) = if k[2] > 0.0 {
                        // Noisier where COCO tolerates more.
                        let s = scale * sigma / 0.05;
                        (k[0] + s * rng.normal(), k[1] + s * rng.normal())
                    } else {
                        (
                            bbox[0] + bbox[2] * rng.uniform(),
                            bbox[1] + bbox[3] * rng.uniform(),
                        )
                    };
                    [x, y, rng.uniform()]
                })
                .collect();
            Detection {
                image_id,
                category_id: 1,
                keypoints,
                score,
            }
        };
    let mut dets = Vec::new();
    for g in &coco.annotations {
        let scale = r.noise * g.area.max(1.0).sqrt();
        let s = score(&mut rng);
        dets.push(person(&mut rng, g.image_id, &g.keypoints, g.bbox, scale, s));
        if rng.uniform() < r.duplicates {
            let s = score(&mut rng);
            dets.push(person(
                &mut rng,
                g.image_id,
                &g.keypoints,
                g.bbox,
                2.0 * scale + 1.0,
                s,
            ));
        }
    }
    for img in &coco.images {
        for _ in 0..r.false_positives {
            let (w, h) = (f64::from(img.width), f64::from(img.height));
            let bw = rng.range(5.0, w / 2.0);
            let bh = rng.range(5.0, h / 2.0);
            let bbox = [rng.range(0.0, w - bw), rng.range(0.0, h - bh), bw, bh];
            let s = score(&mut rng);
            dets.push(person(&mut rng, img.id, &[0.0; 51], bbox, 0.0, s));
        }
    }
    // Results files are not grouped by image.
    for i in (1..dets.len()).rev() {
        dets.swap(i, (rng.next() % (i as u64 + 1)) as usize);
    }
    dets
}

fn write_results(dir: &Path, name: &str, dets: &[Detection]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, serde_json::to_vec(dets).unwrap()).unwrap();
    p
}

fn check_recipe(label: &str, r: Recipe, max_dets: Option<usize>) -> [f64; 10] {
    let gt = coco_val_mini();
    let coco = load_annotations(&gt).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let results = write_results(dir.path(), "results.json", &perturbed(&coco, r));
    assert_matches_pycocotools(label, &gt, &results, max_dets)
}

const CLEAN: Recipe = Recipe {
    seed: 1,
    noise: 0.0,
    duplicates: 0.0,
    false_positives: 0,
    score_steps: 0,
};

#[test]
fn real_ground_truth_at_several_noise_levels() {
    let mut aps = Vec::new();
    for (i, noise) in [0.0, 0.01, 0.02, 0.04, 0.08, 0.15, 0.3]
        .into_iter()
        .enumerate()
    {
        let r = Recipe {
            seed: 100 + i as u64,
            noise,
            ..CLEAN
        };
        aps.push(check_recipe(&format!("coco-val-mini, noise {noise}"), r, None)[0]);
    }
    // The sets must span the range, or the comparison proves little.
    assert!(
        aps[0] > 0.85 && aps[aps.len() - 1] < 0.2,
        "AP by noise level: {aps:?}"
    );
}

#[test]
fn real_ground_truth_with_false_positives_duplicates_and_ties() {
    for seed in 0..4 {
        let r = Recipe {
            seed: 200 + seed,
            noise: 0.01 + 0.02 * seed as f64,
            duplicates: 0.5,
            false_positives: 3,
            score_steps: [0, 20, 5, 1][seed as usize],
        };
        let scores = match r.score_steps {
            0 => "unrounded".to_string(),
            n => format!("rounded up to 1/{n}"),
        };
        let label = format!(
            "coco-val-mini, seed {}, noise {:.2}, duplicates 50%, 3 false positives per image, scores {scores}",
            r.seed, r.noise
        );
        check_recipe(&label, r, None);
    }
}

#[test]
fn real_ground_truth_with_more_detections_than_max_dets() {
    let r = Recipe {
        seed: 300,
        noise: 0.03,
        duplicates: 1.0,
        false_positives: 30,
        score_steps: 50,
    };
    check_recipe("coco-val-mini, 30 false positives per image", r, None);
    for max_dets in [1, 3, 10, 100] {
        check_recipe(
            &format!("coco-val-mini, maxDets {max_dets}"),
            r,
            Some(max_dets),
        );
    }
}

#[test]
fn real_ground_truth_without_detections() {
    // pycocotools' loadRes cannot take an empty list; the script then
    // evaluates an empty result set. Every range of coco-val-mini has
    // persons, so everything is 0.
    let dir = tempfile::tempdir().unwrap();
    let results = write_results(dir.path(), "empty.json", &[]);
    let s = assert_matches_pycocotools(
        "coco-val-mini, no detections",
        &coco_val_mini(),
        &results,
        None,
    );
    assert_eq!(s, [0.0; 10]);
}

fn fixture(label: &str, gt: &str, results: &str, max_dets: Option<usize>) -> [f64; 10] {
    let (gt, results) = (fixtures().join(gt), fixtures().join(results));
    assert_matches_pycocotools(label, &gt, &results, max_dets)
}

/// gt-edge.json: a crowd (no keypoints), a crowd with 3 labelled keypoints,
/// a zero-keypoint annotation, one with num_keypoints 5 but no labelled
/// keypoint (OKS from the grown box, not ignored), one with `"ignore": 1`
/// (overwritten by iscrowd 0, so not ignored), a small person (outside the
/// medium and large ranges), a category-2 annotation, two overlapping
/// persons, and image 3 without annotations.
#[test]
fn fixture_edge_cases() {
    // dt-edge.json: duplicates, detections inside the crowd and on the
    // zero-keypoint person (ignored), on image 3 (false positives, one too
    // small for any range but "all"), equal scores, a category-2 detection.
    let s = fixture("edge cases", "gt-edge.json", "dt-edge.json", None);
    assert!(s.iter().all(|&v| v > 0.0 && v <= 1.0), "{s:?}");
    for m in [1, 2, 5] {
        fixture(
            &format!("edge cases, maxDets {m}"),
            "gt-edge.json",
            "dt-edge.json",
            Some(m),
        );
    }
}

#[test]
fn fixture_equal_scores() {
    // dt-edge.json with every score 0.5: order is the file's, within and
    // across images.
    fixture(
        "all scores equal",
        "gt-edge.json",
        "dt-equal-scores.json",
        None,
    );
}

#[test]
fn fixture_no_detections() {
    let s = fixture("no detections", "gt-edge.json", "dt-empty.json", None);
    assert_eq!(s, [0.0; 10]);
    // Only large persons: the medium range is -1, the rest 0.
    let s = fixture(
        "no detections, no medium person",
        "gt-id-zero.json",
        "dt-empty.json",
        None,
    );
    assert_eq!(s, [0.0, 0.0, 0.0, -1.0, 0.0, 0.0, 0.0, 0.0, -1.0, 0.0]);
}

#[test]
fn fixture_detections_of_another_category_only() {
    let s = fixture(
        "category 2 only",
        "gt-edge.json",
        "dt-other-category.json",
        None,
    );
    assert_eq!(s, [0.0; 10]);
}

#[test]
fn fixture_ground_truth_with_id_zero() {
    // pycocotools records a match by the annotation id: a detection matched
    // to the annotation with id 0 counts as a false positive.
    let s = fixture(
        "annotation id 0",
        "gt-id-zero.json",
        "dt-id-zero.json",
        None,
    );
    assert_eq!(s[5], 0.5, "AR: only the id-5 person counts as found");
}
