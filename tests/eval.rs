//! `edgepose eval` end to end on the real runtime: accuracy of every shipped
//! YOLO model on coco-val-mini (against the numbers measured with
//! pycocotools, and against pycocotools itself run on edgepose's own
//! results file), the int8-vs-float32 agreement of the yolo11n pair, the
//! pass/fail exit codes, the report folder, and a deliberately broken input
//! normalisation being caught by the thresholds.

mod common;

use std::path::Path;
use std::process::Command;

use common::{edgepose, run};
use serde_json::Value;

fn coco() -> (std::path::PathBuf, std::path::PathBuf) {
    let dir = common::data_dir().join("coco-val-mini");
    (dir.join("person_keypoints.json"), dir)
}

fn eval(args: &[&str], extra: &[&Path]) -> (std::process::Output, Option<Value>) {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("report.json");
    let (ann, images) = coco();
    let mut cmd = edgepose(common::primary());
    cmd.args(args)
        .arg("eval")
        .arg("--images")
        .arg(&images)
        .arg("--annotations")
        .arg(&ann);
    for e in extra {
        cmd.arg(e);
    }
    cmd.arg("--json").arg(&json);
    let out = run(&mut cmd);
    let report = std::fs::read_to_string(&json)
        .ok()
        .map(|t| serde_json::from_str(&t).unwrap());
    (out, report)
}

fn ap(report: &Value, who: &str) -> f64 {
    report["result"][who]["stats"][0].as_f64().unwrap()
}

/// pycocotools' 10 stats for a results file, via scripts/cocoeval_ref.py.
fn pycocotools(results: &Path) -> Vec<f64> {
    let py = common::cache().join("venv/bin/python");
    assert!(
        py.exists(),
        "{} missing: run scripts/setup.sh",
        py.display()
    );
    let out = Command::new(py)
        .arg(common::repo().join("scripts/cocoeval_ref.py"))
        .arg(coco().0)
        .arg(results)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text.lines().last().unwrap();
    serde_json::from_str(line).unwrap_or_else(|e| panic!("{line}: {e}"))
}

#[test]
fn every_yolo_model_matches_its_measured_ap_and_pycocotools_on_its_own_results() {
    // The expected AP is pycocotools' on the independent OpenCV reference
    // pipeline's own detections (scripts/reference.py --eval, stored in
    // tests/fixtures/reference-opencv/): edgepose's default pre-processing is
    // OpenCV-exact, so on x86_64 the AP must equal it to 1e-6. That set is
    // x86_64's (ARM's int8 kernels round differently); elsewhere the
    // expectations are this table's, measured by this test (ARM: under
    // qemu-user, where edgepose equals scripts/reference.py run on the
    // same ARM runtime, tests/fixtures/reference-arm64; the int8 model's ops
    // requantize differently there: 0.417 on aarch64), within one
    // keypoint step on 12 persons (about 0.01) plus the Pillow/OpenCV
    // difference of the ARM sets: ±0.035.
    let measured = [
        ("yolov8n_320_quant_pc_uf_pose_coco-st.tflite", 0.412),
        ("yolov8n_256_quant_pc_uf_pose_coco-st.tflite", 0.359),
        ("yolo11n_256_quant_pc_uf_pose_coco-st.tflite", 0.348),
        ("yolo11n-pose-320-float32.tflite", 0.516),
        (
            "yolo11n-pose-320-int8.tflite",
            if cfg!(target_arch = "aarch64") {
                0.417
            } else {
                0.368
            },
        ),
    ];
    let expected = measured.map(|(model, arm)| {
        if cfg!(target_arch = "x86_64") {
            let fixture = common::repo()
                .join("tests/fixtures/reference-opencv")
                .join(model.replace(".tflite", ".json"));
            let r: Value =
                serde_json::from_str(&std::fs::read_to_string(&fixture).unwrap()).unwrap();
            (model, r["eval"]["coco-val-mini"][0].as_f64().unwrap(), 1e-6)
        } else {
            (model, arm, 0.035)
        }
    });
    for (model, want, tolerance) in expected {
        let dir = tempfile::tempdir().unwrap();
        let (out, report) = eval(&["--model", model], &[Path::new("--report"), dir.path()]);
        assert!(
            out.status.success(),
            "{model}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let report = report.unwrap();
        println!("{model}:\n{}", String::from_utf8_lossy(&out.stdout));
        let got = ap(&report, "model");
        assert!(
            (got - want).abs() <= tolerance,
            "{model}: AP {got}, expected {want} ± {tolerance}"
        );
        let ours: Vec<f64> = report["result"]["model"]["stats"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect();
        let theirs = pycocotools(&dir.path().join("results.json"));
        // COCO's keypoint summary is 10 numbers; a short or long list on
        // either side is a failure, not a shorter comparison.
        assert_eq!(ours.len(), 10, "{model}: edgepose's stats: {ours:?}");
        assert_eq!(theirs.len(), 10, "{model}: pycocotools' stats: {theirs:?}");
        for (i, (a, b)) in ours.iter().zip(&theirs).enumerate() {
            assert!(
                (a - b).abs() <= 1e-9,
                "{model} stat {i}: edgepose {a} vs pycocotools {b}"
            );
        }
        println!("{model}: all 10 stats equal pycocotools' on edgepose's results file");
    }
}

#[test]
fn int8_vs_float32_agreement_and_pass_fail_exit_codes() {
    let dir = tempfile::tempdir().unwrap();
    let args = ["--model", "yolo11n-pose-320-int8.tflite", "--threads", "2"];
    let (out, report) = eval(
        &args,
        &[
            Path::new("--reference"),
            Path::new("yolo11n-pose-320-float32.tflite"),
            Path::new("--max-ap-drop"),
            Path::new("0.25"),
            Path::new("--min-agreement-oks"),
            Path::new("0.5"),
            Path::new("--report"),
            dir.path(),
        ],
    );
    let table = String::from_utf8_lossy(&out.stdout);
    println!("{table}");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r = report.unwrap();
    let drop = r["ap_drop"].as_f64().unwrap();
    assert!(
        drop > 0.03 && drop < 0.25,
        "int8 loses AP against float32: {drop}"
    );
    let a = &r["result"]["agreement"];
    assert!(a["matched_persons"].as_u64().unwrap() >= 8, "{a}");
    let oks = a["mean_oks"].as_f64().unwrap();
    assert!(oks > 0.5 && oks < 1.0, "{oks}");
    assert_eq!(a["keypoints"].as_array().unwrap().len(), 17);
    assert!(table.contains("left_wrist") && table.contains("PASS"));
    let mut files: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    for f in [
        "report.json",
        "results.json",
        "reference-results.json",
        "keypoint-errors.svg",
    ] {
        assert!(files.contains(&f.to_string()), "{files:?}");
    }
    assert_eq!(
        files.iter().filter(|f| f.starts_with("worst-")).count(),
        4,
        "{files:?}"
    );
    // The reference's results are loadable by pycocotools and give its AP.
    let theirs = pycocotools(&dir.path().join("reference-results.json"));
    assert!((theirs[0] - ap(&r, "reference")).abs() <= 1e-9);

    // A tighter AP-drop limit fails with exit code 3.
    let (out, report) = eval(
        &args,
        &[
            Path::new("--reference"),
            Path::new("yolo11n-pose-320-float32.tflite"),
            Path::new("--max-ap-drop"),
            Path::new("0.02"),
        ],
    );
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert_eq!(report.unwrap()["passed"], false);
}

#[test]
fn agreement_without_ground_truth_on_the_sample_images() {
    let out = run(edgepose(common::primary())
        .args([
            "--model",
            "yolo11n-pose-320-int8.tflite",
            "eval",
            "--reference",
            "yolo11n-pose-320-float32.tflite",
            "--images",
        ])
        .arg(common::data_dir().join("samples")));
    let table = String::from_utf8_lossy(&out.stdout);
    println!("{table}");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        table.starts_with("2 images, 0 annotated persons"),
        "{table}"
    );
    assert!(
        table.contains("agreement with yolo11n-320-float32"),
        "{table}"
    );
}

#[test]
fn broken_input_normalisation_is_caught_by_the_thresholds() {
    // The int8 model's manifest with the pixel range wrong (0..255 instead
    // of 0..1): every input value saturates, as when a zero point or scale
    // is ignored.
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(common::repo().join("models/yolo11n-pose-320-int8.toml"))
        .unwrap()
        .replace(
            "id = \"yolo11n-320-int8\"",
            "id = \"yolo11n-320-int8-broken\"",
        )
        .replace("range = [0.0, 1.0]", "range = [0.0, 255.0]");
    let manifest = dir.path().join("broken.toml");
    std::fs::write(&manifest, text).unwrap();
    let (out, report) = eval(
        &[
            "--manifest",
            manifest.to_str().unwrap(),
            "--model",
            "yolo11n-320-int8-broken",
        ],
        &[Path::new("--min-ap"), Path::new("0.3")],
    );
    println!("{}", String::from_utf8_lossy(&out.stdout));
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r = report.unwrap();
    assert!(
        ap(&r, "model") < 0.1,
        "broken input still scores {}",
        ap(&r, "model")
    );
    // The same model set up correctly passes the same threshold.
    let (out, _) = eval(
        &["--model", "yolo11n-pose-320-int8.tflite"],
        &[Path::new("--min-ap"), Path::new("0.3")],
    );
    assert_eq!(out.status.code(), Some(0));
}
