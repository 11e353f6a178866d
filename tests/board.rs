//! Board profiles end to end: detection from a device tree (a fake root via
//! `EDGEPOSE_DT_ROOT`, laid out as the kernel's `/proc/device-tree`), the
//! choice by `--board` and the config file, profile values reaching the
//! settings under the command line, the profile's camera as `run`'s
//! default source, and clear errors for bad profiles.

mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::{bare, edgepose, own_stderr, run, sample, Flavour};

/// A device-tree root with `compatible` (NUL-separated) and `model`.
fn device_tree(dir: &Path, compatible: &[&str], model: Option<&str>) {
    let mut c = Vec::new();
    for s in compatible {
        c.extend_from_slice(s.as_bytes());
        c.push(0);
    }
    std::fs::write(dir.join("compatible"), c).unwrap();
    if let Some(m) = model {
        std::fs::write(dir.join("model"), format!("{m}\0")).unwrap();
    }
}

fn probe(mut c: Command, dt: &Path) -> serde_json::Value {
    let out = run(c.env("EDGEPOSE_DT_ROOT", dt).args(["probe", "--json"]));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(&common::stdout(&out)).unwrap()
}

/// LiteRT (the classic library on armv7, where LiteRT does not exist).
fn litert() -> Command {
    edgepose(common::primary())
}

#[test]
fn boards_are_detected_from_the_device_tree() {
    // compatible / model as the boards' device trees give them.
    let cases: &[(&[&str], Option<&str>, &str)] = &[
        (
            &["raspberrypi,5-model-b", "brcm,bcm2712"],
            Some("Raspberry Pi 5 Model B Rev 1.0"),
            "rpi5",
        ),
        (
            &["raspberrypi,4-model-b", "brcm,bcm2711"],
            Some("Raspberry Pi 4 Model B Rev 1.5"),
            "rpi4",
        ),
        (&["raspberrypi,400", "brcm,bcm2711"], None, "rpi4"),
        (
            &["raspberrypi,model-zero-2-w", "brcm,bcm2837"],
            Some("Raspberry Pi Zero 2 W Rev 1.0"),
            "rpi-zero-2w",
        ),
        (
            &["ti,am62a7-sk", "ti,am62a7"],
            Some("Texas Instruments AM62A7 SK"),
            "ti-am62a",
        ),
        (
            &["beagle,j721e-beagleboneai64", "ti,j721e"],
            None,
            "ti-tda4vm",
        ),
        (
            &["fsl,imx8mp-evk", "fsl,imx8mp"],
            Some("NXP i.MX8MPlus EVK board"),
            "nxp-imx8mp",
        ),
        (
            &["fsl,imx8mq-phanbell", "fsl,imx8mq"],
            Some("Freescale i.MX8MQ Phanbell"),
            "coral-dev-board",
        ),
        // A board only known by its SoC still gets the SoC's profile.
        (&["acme,custom-carrier", "brcm,bcm2712"], None, "rpi5"),
    ];
    for (compatible, model, want) in cases {
        let dir = tempfile::tempdir().unwrap();
        device_tree(dir.path(), compatible, *model);
        let r = probe(litert(), dir.path());
        assert_eq!(r["board"]["name"], *want, "{compatible:?}");
        let reason = r["board"]["reason"].as_str().unwrap();
        assert!(reason.starts_with("detected: device tree"), "{reason}");
        assert_eq!(
            r["board"]["device_tree"]["compatible"][0], compatible[0],
            "the report shows what was read"
        );
    }
}

#[test]
fn unknown_or_missing_device_tree_falls_back_to_generic() {
    let dir = tempfile::tempdir().unwrap();
    let r = probe(litert(), &dir.path().join("absent"));
    assert_eq!(r["board"]["name"], "generic");
    assert!(r["board"]["reason"]
        .as_str()
        .unwrap()
        .contains("no device tree at"));
    device_tree(dir.path(), &["acme,widget"], Some("Acme Widget"));
    let r = probe(litert(), dir.path());
    assert_eq!(r["board"]["name"], "generic");
    let reason = r["board"]["reason"].as_str().unwrap();
    assert!(
        reason.contains("\"Acme Widget\"") && reason.contains("acme,widget"),
        "{reason}"
    );
}

#[test]
fn command_line_beats_config_file_beats_detection() {
    let dir = tempfile::tempdir().unwrap();
    device_tree(dir.path(), &["raspberrypi,5-model-b", "brcm,bcm2712"], None);
    let config = dir.path().join("edgepose.toml");
    std::fs::write(&config, "board = \"ti-am62a\"\n").unwrap();
    let mut c = litert();
    c.arg("--config").arg(&config);
    let r = probe(c, dir.path());
    assert_eq!(r["board"]["name"], "ti-am62a");
    assert_eq!(
        r["board"]["reason"],
        "chosen in the config file (board = \"ti-am62a\")"
    );
    let mut c = litert();
    c.arg("--config")
        .arg(&config)
        .args(["--board", "rpi-zero-2w"]);
    let r = probe(c, dir.path());
    assert_eq!(r["board"]["name"], "rpi-zero-2w");
    assert_eq!(r["board"]["reason"], "chosen with --board rpi-zero-2w");
    assert_eq!(r["board"]["target"], "armv7-unknown-linux-gnueabihf");
    assert_eq!(r["board"]["serial"], "serial:/dev/serial0?baud=115200");
}

#[test]
fn profile_values_feed_the_settings_under_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let profile = dir.path().join("myboard.toml");
    std::fs::write(
        &profile,
        format!(
            "# a board of our own\nname = \"myboard\"\ndescription = \"test board\"\n\
             threads = 1\nmodel = \"yolov8n_256_quant_pc_uf_pose_coco-st.tflite\"\n\
             tflite_libs = [\"/nonexistent/libtensorflowlite_c.so\", \"{}\"]\n",
            common::primary().lib().display()
        ),
    )
    .unwrap();
    let bench = |extra: &[&str]| -> serde_json::Value {
        let out = run(bare()
            .env("EDGEPOSE_MODEL_DIR", common::models_dir())
            .arg("--board")
            .arg(&profile)
            .args(extra)
            .args(["bench", "--json", "--iterations", "2", "--warmup", "0"])
            .arg(sample("samples/bus.jpg")));
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_str(&common::stdout(&out)).unwrap()
    };
    // No --tflite-lib, --threads or --model: all from the profile.
    let r = bench(&[]);
    assert_eq!(r["threads"], 1);
    assert_eq!(r["model"], "yolov8n-256-st");
    assert_eq!(r["library"], common::primary().lib().display().to_string());
    assert_eq!(r["delegate"]["requested"], "none");
    let r = bench(&[
        "--threads",
        "2",
        "--model",
        "yolov8n_320_quant_pc_uf_pose_coco-st.tflite",
    ]);
    assert_eq!(r["threads"], 2);
    assert_eq!(r["model"], "yolov8n-320-st");
    let r = probe(
        {
            let mut c = bare();
            c.arg("--board").arg(&profile);
            c
        },
        &dir.path().join("no-dt"),
    );
    assert_eq!(r["tflite"]["from"], "board profile");
    let flavour = match common::primary() {
        Flavour::Litert => "litert",
        Flavour::Classic => "classic",
    };
    assert_eq!(r["tflite"]["info"]["flavour"], flavour);
}

#[test]
#[cfg(feature = "v4l2")]
fn run_without_source_uses_the_detected_boards_camera() {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;
    use std::time::Duration;

    // The device tree says TI AM62A: its profile's camera is
    // v4l2:/dev/video-usb-cam0?format=MJPG&width=640&height=480, absent
    // here, so the camera is retried (for give_up_s, 60 s) until SIGTERM.
    let dir = tempfile::tempdir().unwrap();
    device_tree(dir.path(), &["ti,am62a7-sk", "ti,am62a7"], None);
    let mut child = litert()
        .env("EDGEPOSE_DT_ROOT", dir.path())
        .args(["-v", "--delegate", "none", "run", "--quiet"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let stderr = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut lines = Vec::new();
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if line.contains("cannot open") {
                let _ = tx.send(());
            }
            lines.push(line);
        }
        lines
    });
    let retrying = rx.recv_timeout(Duration::from_secs(60)).is_ok();
    // SAFETY: sending a signal to our own child process.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let status = child.wait().unwrap();
    let log = reader.join().unwrap().join("\n");
    assert!(retrying, "the camera was never tried: {log}");
    assert_eq!(status.code(), Some(0), "{log}");
    assert!(
        log.contains("source: the camera of board profile ti-am62a (detected: device tree compatible \"ti,am62a7-sk\"")
            && log.contains("as no --source was given: v4l2:/dev/video-usb-cam0?format=MJPG&width=640&height=480"),
        "{log}"
    );
    assert!(
        log.contains("/dev/video-usb-cam0: cannot open (No such file or directory"),
        "{log}"
    );
    assert!(
        log.contains("edgepose: 0 frames"),
        "the run's summary: {log}"
    );
    // A board whose profile names no camera: a one-line error saying so.
    let out = run(litert()
        .env("EDGEPOSE_DT_ROOT", dir.path().join("absent"))
        .arg("run"));
    assert_one_line_error(
        &out,
        &[
            "no --source given",
            "board profile generic",
            "names no camera",
        ],
    );
}

fn assert_one_line_error(out: &Output, needles: &[&str]) {
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let errors: Vec<String> = own_stderr(out)
        .into_iter()
        .filter(|l| l.starts_with("edgepose: error:"))
        .collect();
    assert_eq!(errors.len(), 1, "{}", String::from_utf8_lossy(&out.stderr));
    for n in needles {
        assert!(errors[0].contains(n), "{:?} lacks {n:?}", errors[0]);
    }
}

#[test]
fn bad_board_choices_get_one_line_errors() {
    let out = run(litert().args(["--board", "rpi6", "probe"]));
    assert_one_line_error(
        &out,
        &["unknown board \"rpi6\"", "rpi5", "generic", "profile file"],
    );
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("bad.toml");
    std::fs::write(
        &p,
        "name = \"bad\"\ndescription = \"d\"\ncamera_spec = \"x\"\n",
    )
    .unwrap();
    let out = run(litert().arg("--board").arg(&p).arg("probe"));
    assert_one_line_error(&out, &["bad.toml", "camera_spec"]);
    std::fs::write(&p, "name = \"bad\"\ndescription = \"d\"\nthreads = 100\n").unwrap();
    let out = run(litert()
        .arg("--board")
        .arg(&p)
        .arg("infer")
        .arg(sample("samples/bus.jpg")));
    assert_one_line_error(&out, &["bad.toml", "threads: 100: expected 1 to 64"]);
    assert!(out.stdout.is_empty());
    let out = run(litert().args(["--board", "/nonexistent/board.toml", "probe"]));
    assert_one_line_error(&out, &["/nonexistent/board.toml", "No such file"]);
}

#[test]
fn every_shipped_profile_names_a_model_with_a_manifest() {
    // The ids of the shipped manifests (models/*.toml), read here.
    let mut ids = Vec::new();
    for e in std::fs::read_dir(common::repo().join("models")).unwrap() {
        let text = std::fs::read_to_string(e.unwrap().path()).unwrap();
        let id = text
            .lines()
            .find_map(|l| l.strip_prefix("id = \""))
            .and_then(|l| l.strip_suffix('"'))
            .unwrap()
            .to_string();
        ids.push(id);
    }
    for e in std::fs::read_dir(common::repo().join("boards")).unwrap() {
        let path = e.unwrap().path();
        if path.extension().and_then(|x| x.to_str()) != Some("toml") {
            continue;
        }
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        // The profile's default model resolves and runs (its delegate, if
        // any, is absent here and reported as such).
        let out = run(litert()
            .args(["--board", &name, "infer"])
            .arg(sample("samples/bus.jpg")));
        assert!(
            out.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let line: serde_json::Value =
            serde_json::from_str(common::stdout(&out).lines().next().unwrap_or_default()).unwrap();
        let model = line["model"].as_str().unwrap();
        assert!(
            ids.iter().any(|i| i == model),
            "{name}: model {model} has no manifest"
        );
    }
}
