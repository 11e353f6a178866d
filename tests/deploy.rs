//! Packaging and deployment: the exact install layout `scripts/deploy.sh
//! --stage` writes for this build's target, that the staged config and model
//! run, the script's errors, and the systemd unit (`dist/edgepose.service`)
//! checked by `systemd-analyze verify` inside the staged tree: no error and
//! no warning, with a broken copy as the control that the check can fail.

mod common;

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{edgepose, json_lines, repo, run};

const MODEL: &str = "yolov8n_320_quant_pc_uf_pose_coco-st.tflite";

/// The board name deploy.sh takes for this build's target.
fn board() -> &'static str {
    match std::env::consts::ARCH {
        "aarch64" => "aarch64",
        "arm" => "armv7",
        _ => "x86_64",
    }
}

fn deploy(args: &[&str]) -> Output {
    Command::new("bash")
        .arg(repo().join("scripts/deploy.sh"))
        .args(args)
        .env("EDGEPOSE_CACHE", common::cache())
        .output()
        .expect("run scripts/deploy.sh")
}

fn stage(dir: &Path, extra: &[&str]) {
    let bin = env!("CARGO_BIN_EXE_edgepose");
    let model = common::models_dir().join(MODEL);
    let mut args = vec![
        board(),
        "--stage",
        dir.to_str().unwrap(),
        "--binary",
        bin,
        "--model",
        model.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let out = deploy(&args);
    assert!(
        out.status.success(),
        "deploy.sh --stage failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Every file under `dir`: relative path → mode bits.
fn files(dir: &Path) -> BTreeMap<String, u32> {
    fn walk(base: &Path, d: &Path, out: &mut BTreeMap<String, u32>) {
        for e in std::fs::read_dir(d).unwrap() {
            let p = e.unwrap().path();
            let md = std::fs::symlink_metadata(&p).unwrap();
            if md.is_dir() {
                walk(base, &p, out);
            } else {
                let rel = p.strip_prefix(base).unwrap().to_string_lossy().into_owned();
                out.insert(rel, md.permissions().mode() & 0o7777);
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

fn same_bytes(a: &Path, b: &Path) {
    assert!(
        std::fs::read(a).unwrap() == std::fs::read(b).unwrap(),
        "{} differs from {}",
        a.display(),
        b.display()
    );
}

#[test]
fn stage_writes_the_exact_install_layout() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    stage(&root, &[]);
    let got = files(&root);

    let mut want: BTreeMap<String, u32> = [
        ("usr/bin/edgepose", 0o755),
        ("usr/lib/systemd/system/edgepose.service", 0o644),
        ("etc/edgepose/edgepose.toml", 0o644),
        ("etc/default/edgepose", 0o644),
        ("usr/share/doc/edgepose/README.md", 0o644),
        ("usr/lib/edgepose/postinst", 0o755),
    ]
    .into_iter()
    .map(|(p, m)| (p.to_string(), m))
    .collect();
    want.insert(format!("var/lib/edgepose/models/{MODEL}"), 0o644);
    for e in std::fs::read_dir(repo().join("models")).unwrap() {
        let name = e.unwrap().file_name().to_string_lossy().into_owned();
        if name.ends_with(".toml") {
            want.insert(format!("usr/share/edgepose/models/{name}"), 0o644);
        }
    }
    // LiteRT goes along where Google publishes it; armv7 boards bring their
    // own classic library.
    let litert = board() != "armv7";
    if litert {
        want.insert("usr/lib/edgepose/libLiteRt.so".into(), 0o644);
    }
    assert_eq!(got, want);

    same_bytes(
        &root.join("usr/bin/edgepose"),
        Path::new(env!("CARGO_BIN_EXE_edgepose")),
    );
    same_bytes(
        &root.join("usr/lib/systemd/system/edgepose.service"),
        &repo().join("dist/edgepose.service"),
    );
    same_bytes(
        &root.join("etc/edgepose/edgepose.toml"),
        &repo().join("dist/edgepose.toml"),
    );
    same_bytes(
        &root.join("usr/lib/edgepose/postinst"),
        &repo().join("dist/debian/postinst"),
    );
    same_bytes(
        &root.join(format!("var/lib/edgepose/models/{MODEL}")),
        &common::models_dir().join(MODEL),
    );
    if litert {
        same_bytes(
            &root.join("usr/lib/edgepose/libLiteRt.so"),
            &common::litert_lib(),
        );
    }
}

#[test]
fn the_staged_config_and_model_run() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    stage(&root, &[]);
    // The service's config as installed, with the model directory moved to
    // where the stage put it (and this machine's runtime library).
    let out = run(edgepose(common::primary())
        .arg("--config")
        .arg(root.join("etc/edgepose/edgepose.toml"))
        .arg("--model-dir")
        .arg(root.join("var/lib/edgepose/models"))
        .arg("infer")
        .arg(common::sample("samples/bus.jpg")));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let recs = json_lines(&out);
    assert_eq!(recs.len(), 1);
    assert_eq!(recs[0]["model"], "yolov8n-320-st");
    assert_eq!(recs[0]["persons"].as_array().unwrap().len(), 3, "bus.jpg");
}

#[test]
fn stage_writes_the_run_arguments_given() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    stage(
        &root,
        &[
            "--args",
            "--quiet --source /dev/video0 --sink json:/run/a\"b",
        ],
    );
    let text = std::fs::read_to_string(root.join("etc/default/edgepose")).unwrap();
    let line = text
        .lines()
        .find(|l| l.starts_with("EDGEPOSE_ARGS="))
        .unwrap();
    assert_eq!(
        line,
        r#"EDGEPOSE_ARGS="--quiet --source /dev/video0 --sink json:/run/a\"b""#
    );
}

#[test]
fn deploy_refuses_bad_requests_with_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    for (args, needle) in [
        (
            vec!["beaglebone-nano", "--stage", d],
            "unknown board beaglebone-nano",
        ),
        (
            vec!["armv7", "--stage", d, "--runtime", "litert"],
            "no LiteRT build for armv7",
        ),
        (
            vec!["aarch64", "--stage", d, "--runtime", "tpu"],
            "--runtime tpu",
        ),
        (vec!["aarch64"], "usage"),
        (vec!["aarch64", "me@board", "--stage", d], "not both"),
    ] {
        let out = deploy(&args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
        assert!(
            err.lines().count() == 1 && err.contains(needle),
            "{args:?}: {err}"
        );
    }
    // A non-empty stage directory is never written into.
    std::fs::write(dir.path().join("keep"), "x").unwrap();
    let out = deploy(&[
        "x86_64",
        "--stage",
        d,
        "--binary",
        env!("CARGO_BIN_EXE_edgepose"),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not empty"));
    assert_eq!(files(dir.path()).len(), 1);
}

/// `systemd-analyze verify` of the staged unit in the staged tree, with this
/// machine's targets and slices copied in (the unit's dependencies).
fn verify(root: &Path) -> Output {
    let units = root.join("usr/lib/systemd/system");
    for e in std::fs::read_dir("/lib/systemd/system").expect("systemd's units (install systemd)") {
        let p: PathBuf = e.unwrap().path();
        let ext = p.extension().and_then(|e| e.to_str()).unwrap_or("");
        if matches!(ext, "target" | "slice") && p.is_file() {
            std::fs::copy(&p, units.join(p.file_name().unwrap())).unwrap();
        }
    }
    Command::new("systemd-analyze")
        .arg("verify")
        .arg(format!("--root={}", root.display()))
        .arg("/usr/lib/systemd/system/edgepose.service")
        .output()
        .expect("run systemd-analyze (install systemd)")
}

#[test]
fn the_unit_passes_systemd_analyze_verify() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    stage(&root, &[]);
    let out = verify(&root);
    assert!(
        out.status.success() && out.stderr.is_empty(),
        "systemd-analyze verify: {}",
        String::from_utf8_lossy(&out.stderr)
    );

    // What the unit must say.
    let unit = std::fs::read_to_string(repo().join("dist/edgepose.service")).unwrap();
    let keys: Vec<&str> = unit
        .lines()
        .map(str::trim)
        .filter(|l| !l.starts_with('#') && l.contains('='))
        .collect();
    for want in [
        "Type=notify",
        "NotifyAccess=main",
        "Restart=on-failure",
        "User=edgepose",
        "SupplementaryGroups=video dialout i2c spi gpio",
        "StandardError=journal",
        "ExecStart=/usr/bin/edgepose --config /etc/edgepose/edgepose.toml run $EDGEPOSE_ARGS",
    ] {
        assert!(keys.contains(&want), "the unit lacks {want}");
    }
    assert!(
        keys.iter().any(|k| k.starts_with("WatchdogSec=")),
        "the unit lacks WatchdogSec="
    );

    // Control: a broken value is reported, so the check above can fail.
    let broken = root.join("usr/lib/systemd/system/edgepose.service");
    std::fs::write(&broken, unit.replace("WatchdogSec=30s", "WatchdogSec=soon")).unwrap();
    let out = verify(&root);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("Failed to parse sec value, ignoring: soon"),
        "a broken WatchdogSec= went unnoticed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}
