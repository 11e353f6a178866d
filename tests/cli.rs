//! Bad input gets a one-line error naming the thing and what was expected,
//! a non-zero exit, no panic and no partial output; plus the `models`,
//! `run` and `bench` commands on real runtimes.

mod common;

use std::path::Path;
use std::process::{Command, Output, Stdio};

use common::{bare, edgepose, json_lines, own_stderr, run, sample};

/// Asserts a failed run with exactly one error line containing every needle.
fn assert_one_line_error(out: &Output, needles: &[&str]) {
    assert_eq!(
        out.status.code(),
        Some(1),
        "exit {:?}; stderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "panic: {stderr}");
    let lines = own_stderr(out);
    let errors: Vec<&String> = lines
        .iter()
        .filter(|l| l.starts_with("edgepose: error:"))
        .collect();
    assert_eq!(errors.len(), 1, "one error line expected, got {lines:?}");
    for n in needles {
        assert!(
            errors[0].contains(n),
            "{:?} does not mention {n:?}",
            errors[0]
        );
    }
}

/// LiteRT (the classic library on armv7, where LiteRT does not exist).
fn litert() -> Command {
    edgepose(common::primary())
}

#[test]
fn missing_model_file() {
    let out = run(litert()
        .args(["--model", "/nonexistent/pose.tflite", "infer"])
        .arg(sample("samples/bus.jpg")));
    assert_one_line_error(&out, &["/nonexistent/pose.tflite", "not found"]);
    assert!(out.stdout.is_empty());
}

#[test]
fn truncated_model_without_manifest() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = std::fs::read(common::models_dir().join("yolo11n-pose-320-int8.tflite")).unwrap();
    let path = dir.path().join("my-pose.tflite");
    std::fs::write(&path, &bytes[..100_000]).unwrap();
    let out = run(litert()
        .arg("--model")
        .arg(&path)
        .arg("infer")
        .arg(sample("samples/bus.jpg")));
    assert_one_line_error(&out, &["my-pose.tflite", "truncated or corrupt"]);
}

#[test]
fn truncated_model_with_manifest_fails_its_checksum() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = std::fs::read(common::models_dir().join("yolo11n-pose-320-int8.tflite")).unwrap();
    std::fs::write(
        dir.path().join("yolo11n-pose-320-int8.tflite"),
        &bytes[..100_000],
    )
    .unwrap();
    let out = run(litert()
        .arg("--model-dir")
        .arg(dir.path())
        .args(["--model", "yolo11n-320-int8", "infer"])
        .arg(sample("samples/bus.jpg")));
    assert_one_line_error(
        &out,
        &[
            "yolo11n-pose-320-int8.tflite",
            "sha256 mismatch",
            "5e5a97fe",
        ],
    );
}

#[test]
fn not_a_model_at_all() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notes.tflite");
    std::fs::write(&path, "these are my notes, not a model\n").unwrap();
    let out = run(litert()
        .arg("--model")
        .arg(&path)
        .arg("infer")
        .arg(sample("samples/bus.jpg")));
    assert_one_line_error(&out, &["notes.tflite", "TFL3"]);
}

/// A minimal TFLite flatbuffer: one input `[1,H,W,3]` uint8, one output of
/// `out_shape` float32, no operators. Enough for the interface reader.
fn tiny_model(out_shape: &[i32]) -> Vec<u8> {
    use flatbuffers::{FlatBufferBuilder, WIPOffset};
    let mut b = FlatBufferBuilder::new();
    let tensor = |b: &mut FlatBufferBuilder, shape: &[i32], ty: i8, name: &str| {
        let shape = b.create_vector(shape);
        let name = b.create_string(name);
        let t = b.start_table();
        b.push_slot_always(4, shape);
        b.push_slot::<i8>(6, ty, 0);
        b.push_slot_always(10, name);
        b.end_table(t)
    };
    let t_in = tensor(&mut b, &[1, 64, 64, 3], 3, "input");
    let t_out = tensor(&mut b, out_shape, 0, "output");
    let tensors = b.create_vector(&[t_in, t_out]);
    let inputs = b.create_vector(&[0i32]);
    let outputs = b.create_vector(&[1i32]);
    let sg = b.start_table();
    b.push_slot_always(4, tensors);
    b.push_slot_always(6, inputs);
    b.push_slot_always(8, outputs);
    let sg = b.end_table(sg);
    let subgraphs = b.create_vector(&[sg]);
    let m = b.start_table();
    b.push_slot::<u32>(4, 3, 0);
    b.push_slot_always(8, subgraphs);
    let m: WIPOffset<flatbuffers::TableFinishedWIPOffset> = b.end_table(m);
    b.finish(m, Some("TFL3"));
    b.finished_data().to_vec()
}

#[test]
fn model_with_unknown_output_layout() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("classifier.tflite");
    std::fs::write(&path, tiny_model(&[1, 1000])).unwrap();
    let out = run(litert()
        .arg("--model")
        .arg(&path)
        .arg("infer")
        .arg(sample("samples/bus.jpg")));
    assert_one_line_error(
        &out,
        &["classifier.tflite", "[1, 1000]", "match no known layout"],
    );
}

#[test]
fn missing_tflite_library() {
    let out = run(bare()
        .args(["--tflite-lib", "/nonexistent/libLiteRt.so", "--model-dir"])
        .arg(common::models_dir())
        .arg("infer")
        .arg(sample("samples/bus.jpg")));
    assert_one_line_error(
        &out,
        &["/nonexistent/libLiteRt.so", "cannot load TFLite library"],
    );
}

#[test]
fn wrong_tflite_library() {
    // A real shared library that is not TFLite: the C library this test
    // runs on (of this architecture, also under qemu-user).
    let maps = std::fs::read_to_string("/proc/self/maps").unwrap();
    let libc = maps
        .lines()
        .filter_map(|l| l.split_whitespace().nth(5))
        .find(|p| p.ends_with("/libc.so.6") && Path::new(p).exists())
        .expect("libc.so.6 in /proc/self/maps");
    let out = run(bare()
        .args(["--tflite-lib", libc, "--model-dir"])
        .arg(common::models_dir())
        .arg("infer")
        .arg(sample("samples/bus.jpg")));
    assert_one_line_error(&out, &[libc, "not a TFLite runtime library"]);
}

#[test]
fn non_image_and_truncated_images_fail_without_partial_output() {
    let dir = tempfile::tempdir().unwrap();
    let notes = dir.path().join("notes.jpg");
    std::fs::write(&notes, "hello").unwrap();
    let cut = dir.path().join("cut.jpg");
    let bus = std::fs::read(sample("samples/bus.jpg")).unwrap();
    std::fs::write(&cut, &bus[..20_000]).unwrap();
    let ann = dir.path().join("annotated");
    for (bad, why) in [
        (
            &notes,
            "its first bytes (68 65 6c 6c 6f) are neither JPEG's nor PNG's",
        ),
        (&cut, "Premature end of JPEG"),
    ] {
        let out = run(litert().arg("infer").arg(bad).arg("--annotate").arg(&ann));
        assert_one_line_error(
            &out,
            &[&bad.display().to_string(), "not a decodable image", why],
        );
        assert!(out.stdout.is_empty());
    }
    // Nothing written for the failed images, no temporary files left.
    let left: Vec<_> = std::fs::read_dir(&ann).unwrap().collect();
    assert!(left.is_empty(), "annotation dir holds {left:?}");
}

#[test]
fn a_bad_image_among_good_ones_is_reported_and_the_rest_processed() {
    let dir = tempfile::tempdir().unwrap();
    let notes = dir.path().join("b-notes.png");
    std::fs::write(&notes, [0u8; 64]).unwrap();
    std::fs::copy(sample("samples/zidane.jpg"), dir.path().join("a.jpg")).unwrap();
    std::fs::copy(sample("samples/bus.jpg"), dir.path().join("c.jpg")).unwrap();
    let ann = dir.path().join("out");
    let out = run(litert()
        .arg("infer")
        .arg(dir.path())
        .arg("--annotate")
        .arg(&ann));
    assert_one_line_error(&out, &["b-notes.png", "not a decodable image"]);
    let recs = json_lines(&out);
    let sources: Vec<&str> = recs.iter().map(|r| r["source"].as_str().unwrap()).collect();
    assert_eq!(sources.len(), 2);
    assert!(
        sources[0].ends_with("a.jpg") && sources[1].ends_with("c.jpg"),
        "{sources:?}"
    );
    let mut written: Vec<String> = std::fs::read_dir(&ann)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    written.sort();
    assert_eq!(written, ["a.jpg", "c.jpg"]);
}

#[test]
fn empty_directory_and_missing_image() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("readme.txt"), "no images here").unwrap();
    let out = run(litert().arg("infer").arg(dir.path()));
    assert_one_line_error(
        &out,
        &[
            &dir.path().display().to_string(),
            "holds no JPEG or PNG images",
        ],
    );
    let out = run(litert().arg("infer").arg(dir.path().join("gone.jpg")));
    assert_one_line_error(&out, &["gone.jpg", "no such file"]);
}

#[test]
fn bad_config_values_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("edgepose.toml");
    std::fs::write(&cfg, "threads = 2\nconf = 0.3\n").unwrap();
    let out = run(litert()
        .arg("--config")
        .arg(&cfg)
        .arg("infer")
        .arg(sample("samples/bus.jpg")));
    assert_one_line_error(&out, &["edgepose.toml", "unknown field `conf`"]);
    let out = run(litert()
        .args(["--iou", "2", "infer"])
        .arg(sample("samples/bus.jpg")));
    assert_one_line_error(&out, &["iou_threshold = 2", "from 0 to 1"]);
}

#[test]
fn models_lists_presence_and_verification() {
    let out = run(bare()
        .arg("--model-dir")
        .arg(common::models_dir())
        .arg("models"));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = common::stdout(&out);
    let rows: Vec<&str> = text.lines().filter(|l| l.contains(".tflite")).collect();
    assert_eq!(rows.len(), 6, "{text}");
    assert!(
        rows.iter()
            .all(|r| r.split_whitespace().nth(2) == Some("yes")
                && r.split_whitespace().nth(3) == Some("yes")),
        "{text}"
    );
    // A directory with one corrupted and no other files.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path()
            .join("yolov8n_320_quant_pc_uf_pose_coco-st.tflite"),
        b"corrupt",
    )
    .unwrap();
    let out = run(bare().arg("--model-dir").arg(dir.path()).arg("models"));
    assert_eq!(out.status.code(), Some(1));
    let text = common::stdout(&out);
    let row = text
        .lines()
        .find(|l| l.starts_with("yolov8n-320-st"))
        .unwrap();
    let cols: Vec<&str> = row.split_whitespace().collect();
    assert_eq!((cols[2], cols[3]), ("yes", "no"), "{row}");
    let row = text
        .lines()
        .find(|l| l.starts_with("yolo11n-320-int8"))
        .unwrap();
    assert_eq!(row.split_whitespace().nth(2), Some("no"), "{row}");
}

#[test]
fn run_processes_a_directory_and_prints_a_summary() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(litert()
        .args(["run", "--no-track", "--interval-ms", "40", "--source"])
        .arg(common::data_dir().join("samples"))
        .arg("--annotate")
        .arg(dir.path()));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let recs = json_lines(&out);
    assert_eq!(recs.len(), 2);
    assert_eq!(recs[1]["seq"], 1);
    assert_eq!(recs[1]["timestamp_ms"], 40.0);
    // bus.jpg: the three fully visible people.
    assert_eq!(recs[0]["persons"].as_array().unwrap().len(), 3);
    let summary = String::from_utf8_lossy(&out.stderr);
    assert!(
        summary.contains("edgepose: 2 frames, 0 dropped, 0 errors, 5 persons"),
        "{summary}"
    );
    for stage in [
        "capture-to-output",
        "source",
        "preprocess",
        "invoke",
        "decode",
        "emit",
    ] {
        assert!(
            summary.lines().any(|l| l.starts_with(stage)),
            "no {stage} row in {summary}"
        );
    }
    assert!(dir.path().join("bus.jpg").exists() && dir.path().join("zidane.jpg").exists());
}

#[test]
fn run_stops_cleanly_on_sigterm() {
    // 600 frames take tens of seconds; SIGTERM after the first frames must
    // end the run early with exit code 0 and a summary.
    let mut cmd = litert();
    cmd.args(["run", "--quiet"]);
    for _ in 0..300 {
        cmd.arg("--source").arg(common::data_dir().join("samples"));
    }
    let child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1500));
    // SAFETY: sending a signal to our own child process.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{:?}: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let summary = own_stderr(&out).join("\n");
    let frames: u64 = summary
        .split_whitespace()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no frame count in {summary:?}"));
    assert!(frames < 600, "stopped early: {summary}");
    assert!(out.stdout.is_empty(), "--quiet prints no records");
}

#[test]
fn bench_reports_every_stage_and_the_ratio() {
    let out = run(litert()
        .args(["bench", "--iterations", "15", "--warmup", "3", "--json"])
        .arg(sample("samples/bus.jpg")));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r: serde_json::Value = serde_json::from_str(&common::stdout(&out)).unwrap();
    assert_eq!(r["iterations"], 15);
    assert_eq!(r["model"], "yolov8n-320-st");
    for stage in ["bare_invoke", "preprocess", "decode", "end_to_end"] {
        assert_eq!(r[stage]["count"], 15, "{stage}");
        assert!(r[stage]["median_ms"].as_f64().unwrap() > 0.0, "{stage}");
    }
    let ratio = r["ratio_median"].as_f64().unwrap();
    let e2e = r["end_to_end"]["median_ms"].as_f64().unwrap();
    let inv = r["bare_invoke"]["median_ms"].as_f64().unwrap();
    assert!((ratio - e2e / inv).abs() < 1e-9);
    // The pipelined throughput through run's frame loop, as a ratio to
    // the invoke-bound rate.
    let fps = r["pipelined_fps"].as_f64().unwrap();
    assert!(fps > 0.0, "pipelined frames/s");
    let pr = r["pipelined_ratio"].as_f64().unwrap();
    assert!(
        (pr - fps * inv / 1e3).abs() < 1e-9,
        "{pr} vs {fps} × {inv} ms"
    );
}

#[test]
fn invalid_tracking_parameters_are_named() {
    let out = run(litert()
        .args(["run", "--smooth-min-cutoff", "0", "--source"])
        .arg(sample("samples/bus.jpg")));
    assert_one_line_error(&out, &["tracking parameters", "cutoffs must be > 0"]);
    let out = run(litert()
        .args(["run", "--track-confirm-frames", "0", "--source"])
        .arg(sample("samples/bus.jpg")));
    assert_one_line_error(&out, &["tracking parameters", "confirm_frames"]);
}

#[test]
fn bad_command_options_are_named_before_anything_loads() {
    // --interval-ms 1e300 made Duration::from_secs_f64 panic.
    for (args, needles) in [
        (
            &["run", "--interval-ms", "1e300", "--source", "x.jpg"][..],
            &["--interval-ms 1e300: expected 0 to 3600000 milliseconds"][..],
        ),
        (
            &["run", "--sink-queue", "0", "--source", "x.jpg"],
            &["--sink-queue 0: expected 1 to 1000"],
        ),
        (
            &["run", "--sink", "serial", "--source", "x.jpg"],
            &["--sink serial: board profile generic", "names no serial"],
        ),
        (
            &["bench", "--iterations", "0", "x.jpg"],
            &["--iterations 0: expected 1 to 1000000"],
        ),
        (
            &[
                "eval",
                "--images",
                "imgs",
                "--annotations",
                "a.json",
                "--min-ap",
                "2",
            ],
            &["--min-ap 2: expected a number from 0 to 1"],
        ),
        (
            &["eval", "--images", "imgs"],
            &["nothing to evaluate", "--annotations", "--reference"],
        ),
    ] {
        let out = run(litert()
            .env("EDGEPOSE_DT_ROOT", "/nonexistent/device-tree")
            .args(args));
        assert_one_line_error(&out, needles);
        assert!(out.stdout.is_empty(), "{args:?}");
    }
}
