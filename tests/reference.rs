//! The real pipeline on both runtime flavours, every shipped model, the
//! sample and COCO mini images, against independent reference results made
//! by `scripts/reference.py` (Python interpreter + numpy + Pillow): same
//! person count, boxes and every keypoint within 1.0 px, scores within
//! 1e-3. The runs use the exact (Pillow-identical) resize, so the int8
//! models see bit-identical inputs.

mod common;

use common::{edgepose, json_lines, run, Flavour};
use serde_json::Value;

const PX: f64 = 1.0;
const SCORE: f64 = 1e-3;

fn f(v: &Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"))
}

fn check_flavour(flavour: Flavour) {
    let mut fixtures: Vec<_> = std::fs::read_dir(flavour.fixtures())
        .expect("fixture directory")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    fixtures.sort();
    assert_eq!(fixtures.len(), 6, "one fixture per shipped model");
    let mut checked_persons = 0;
    let mut checked_keypoints = 0;
    let mut worst: f64 = 0.0;
    for fx in &fixtures {
        let reference: Value = serde_json::from_str(&std::fs::read_to_string(fx).unwrap()).unwrap();
        let model = reference["model"].as_str().unwrap();
        let images = reference["images"].as_array().unwrap();
        let paths: Vec<_> = images
            .iter()
            .map(|i| common::data_dir().join(i["file"].as_str().unwrap()))
            .collect();
        let out = run(edgepose(flavour)
            .args([
                "--model",
                model,
                "--threads",
                "2",
                "--resize",
                "exact",
                "infer",
            ])
            .args(&paths));
        assert!(
            out.status.success(),
            "{model} on {flavour:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let records = json_lines(&out);
        assert_eq!(records.len(), images.len(), "{model}: one record per image");
        for (rec, want) in records.iter().zip(images) {
            let image = want["file"].as_str().unwrap();
            let ctx = format!("{flavour:?} {model} {image}");
            assert_eq!(rec["width"], want["width"], "{ctx}");
            assert_eq!(rec["height"], want["height"], "{ctx}");
            assert_eq!(
                rec["runtime"],
                match flavour {
                    Flavour::Litert => "litert",
                    Flavour::Classic => "classic",
                },
                "{ctx}"
            );
            let got = rec["persons"].as_array().unwrap();
            let exp = want["persons"].as_array().unwrap();
            assert_eq!(got.len(), exp.len(), "{ctx}: person count");
            for (pi, (g, e)) in got.iter().zip(exp).enumerate() {
                assert!(
                    (f(&g["score"]) - f(&e["score"])).abs() < SCORE,
                    "{ctx} person {pi} score {} vs {}",
                    g["score"],
                    e["score"]
                );
                for (a, b) in g["box"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .zip(e["box"].as_array().unwrap())
                {
                    let d = (f(a) - f(b)).abs();
                    worst = worst.max(d);
                    assert!(
                        d <= PX,
                        "{ctx} person {pi} box {} vs {}",
                        g["box"],
                        e["box"]
                    );
                }
                let kps = g["keypoints"].as_array().unwrap();
                let ekps = e["keypoints"].as_array().unwrap();
                assert_eq!(kps.len(), 17, "{ctx}");
                for (k, (gk, ek)) in kps.iter().zip(ekps).enumerate() {
                    let (dx, dy) = (
                        (f(&gk["x"]) - f(&ek[0])).abs(),
                        (f(&gk["y"]) - f(&ek[1])).abs(),
                    );
                    worst = worst.max(dx).max(dy);
                    assert!(
                        dx <= PX && dy <= PX,
                        "{ctx} person {pi} keypoint {k} ({}) at ({}, {}) vs {ek}",
                        gk["name"],
                        gk["x"],
                        gk["y"]
                    );
                    assert!(
                        (f(&gk["score"]) - f(&ek[2])).abs() < SCORE,
                        "{ctx} person {pi} keypoint {k} score"
                    );
                    assert_eq!(
                        gk["visible"].as_bool().unwrap(),
                        f(&ek[2]) >= 0.5,
                        "{ctx} keypoint {k} visibility"
                    );
                    checked_keypoints += 1;
                }
                checked_persons += 1;
            }
        }
    }
    println!(
        "{flavour:?}: {} models, {checked_persons} persons, {checked_keypoints} keypoints match the reference; worst difference {worst:.4} px",
        fixtures.len()
    );
    assert!(
        checked_persons >= 60,
        "the fixtures hold persons to compare"
    );
}

#[test]
fn litert_matches_reference_on_every_model() {
    // LiteRT publishes no 32-bit ARM build: the armv7 runs declare it
    // unavailable (tests/common/skip.rs).
    if !common::litert_available() {
        return;
    }
    check_flavour(Flavour::Litert);
}

#[test]
fn classic_matches_reference_on_every_model() {
    check_flavour(Flavour::Classic);
}
