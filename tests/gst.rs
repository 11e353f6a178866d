//! The `gst:` source on the host's GStreamer (`src/source/gst.rs` and the
//! plugin `crates/gst-source`, which `scripts/test.sh` builds with
//! `cargo build -p edgepose-gst` next to the edgepose binary):
//! `videotestsrc` frames with buffer timestamps as record timestamps and
//! EOS ending the run; real people through `jpegdec ! videoconvert` in
//! I420 and YUY2, each record equal to what `infer` finds in the very
//! bytes GStreamer delivered (dumped by `gst-launch-1.0 ... ! filesink`)
//! within 0.01 px; and bad input: a malformed pipeline, caps that cannot
//! be negotiated, no plugin, a library that is not the plugin — one line
//! each, non-zero exit. The v4l2src runs (vivid, v4l2loopback, a writer
//! that stops mid-run) are in `tests/vm_camera.rs`.
//!
//! Under qemu-user (the ARM test runs) the plugin is not built (it is
//! host-only, see docs/cameras.md), so only the bad-input checks that need
//! no plugin run there.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::frames::{distance, i420_to_nv12, scenes};
use serde_json::Value;

const MODEL: &str = "yolov8n_320_quant_pc_uf_pose_coco-st.tflite";

/// The plugin beside the edgepose binary; a failure naming the build step
/// when it is missing. `None` (after saying so) under qemu-user.
fn plugin() -> Option<PathBuf> {
    if common::emulated() {
        println!("SKIPPED under qemu-user: the GStreamer plugin is built for the host only");
        return None;
    }
    let p = Path::new(env!("CARGO_BIN_EXE_edgepose")).with_file_name("libedgepose_gst.so");
    assert!(
        p.exists(),
        "{} missing: run scripts/setup-gst.sh and `cargo build -p edgepose-gst` (scripts/test.sh does both)",
        p.display()
    );
    Some(p)
}

fn edgepose() -> Command {
    let mut c = common::edgepose(common::primary());
    c.args(["--model", MODEL]).env_remove("EDGEPOSE_GST_PLUGIN");
    c
}

fn run(source: &str) -> Output {
    common::run(edgepose().args(["run", "--no-track", "--source", source]))
}

fn gst_summary(o: &Output) -> String {
    common::own_stderr(o)
        .into_iter()
        .find(|l| l.starts_with("edgepose: gst "))
        .unwrap_or_else(|| panic!("no gst summary: {}", String::from_utf8_lossy(&o.stderr)))
}

/// A number before `what` in a summary line ("8 frames").
fn count(summary: &str, what: &str) -> u64 {
    summary
        .split(", ")
        .flat_map(|p| p.split(": "))
        .find_map(|p| p.strip_suffix(what)?.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {what:?} in {summary}"))
}

#[test]
fn videotestsrc_timestamps_and_end_of_stream() {
    if plugin().is_none() {
        return;
    }
    let o = run("gst:videotestsrc is-live=true num-buffers=8 ! video/x-raw,format=NV12,width=320,height=240,framerate=10/1");
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(0), "EOS ends the run cleanly: {err}");
    let summary = gst_summary(&o);
    println!("{summary}");
    let recs = common::json_lines(&o);
    let frames = count(&summary, "frames");
    assert_eq!(
        count(&summary, "buffers reached the appsink"),
        8,
        "{summary}"
    );
    assert_eq!(frames + count(&summary, "of them dropped there"), 8);
    assert!(!recs.is_empty() && recs.len() as u64 <= frames);
    // The buffers' PTS: 100 ms apart from the first, at 10 frames/s.
    let ts: Vec<f64> = recs
        .iter()
        .map(|r| r["timestamp_ms"].as_f64().unwrap())
        .collect();
    assert!(ts.windows(2).all(|w| w[1] > w[0]), "{ts:?}");
    for t in &ts {
        assert!(((t / 100.0).round() * 100.0 - t).abs() < 0.01, "{ts:?}");
    }
    assert!(recs.iter().all(|r| r["width"] == 320 && r["height"] == 240));
}

/// One scene through jpegdec and videoconvert into `caps`, three times.
fn scene_pipeline(jpeg: &Path, caps: &str) -> String {
    format!(
        "filesrc location={} ! jpegdec ! videoconvert ! {caps} ! imagefreeze num-buffers=3 is-live=true ! video/x-raw,framerate=5/1",
        jpeg.display()
    )
}

/// The bytes of one frame of `pipeline` as GStreamer delivers them.
fn dump(pipeline: &str, out: &Path) -> Vec<u8> {
    let st = Command::new("gst-launch-1.0")
        .arg("-q")
        .args(pipeline.split_whitespace())
        .args(["!", "filesink", &format!("location={}", out.display())])
        .status()
        .expect("gst-launch-1.0 (gstreamer1.0-tools, scripts/setup-gst.sh)");
    assert!(st.success(), "gst-launch-1.0 {pipeline}");
    std::fs::read(out).unwrap()
}

#[test]
fn people_through_gstreamer_equal_infer_on_the_same_bytes() {
    if plugin().is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let scene = &scenes()[1];
    let jpeg = dir.path().join("scene.jpg");
    scene.save(&jpeg).unwrap();
    for (caps, fourcc) in [
        ("video/x-raw,format=I420,colorimetry=bt601", "I420"),
        ("video/x-raw,format=YUY2,colorimetry=bt601", "YUYV"),
    ] {
        // Up to the caps: what the appsink receives.
        let upto = format!(
            "filesrc location={} ! jpegdec ! videoconvert ! {caps}",
            jpeg.display()
        );
        let bytes = dump(&upto, &dir.path().join("frame.raw"));
        let (spec_fmt, bytes) = if fourcc == "I420" {
            ("NV12", i420_to_nv12(&bytes, 640, 480))
        } else {
            ("YUYV", bytes)
        };
        let raw = dir.path().join("frame.ref");
        std::fs::write(&raw, bytes).unwrap();
        let o = common::run(edgepose().args([
            "infer",
            &format!(
                "raw:{}?format={spec_fmt}&width=640&height=480",
                raw.display()
            ),
        ]));
        assert!(o.status.success(), "{o:?}");
        let want: Vec<Value> = common::json_lines(&o);
        assert_eq!(want.len(), 1);
        assert!(!want[0]["persons"].as_array().unwrap().is_empty());

        let o = run(&format!("gst:{}", scene_pipeline(&jpeg, caps)));
        assert_eq!(o.status.code(), Some(0), "{o:?}");
        let recs = common::json_lines(&o);
        println!("{fourcc}: {} records; {}", recs.len(), gst_summary(&o));
        assert!(!recs.is_empty());
        for r in &recs {
            let d = distance(r, &want[0]).unwrap_or_else(|| panic!("{fourcc}: {r} vs {}", want[0]));
            assert!(d <= 0.01, "{fourcc}: {d} px: {r} vs {}", want[0]);
        }
    }
}

/// One line on stderr naming `needles`, and exit `code`.
fn assert_one_line(o: &Output, code: i32, needles: &[&str]) {
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(code), "{err}");
    let lines = common::own_stderr(o);
    assert_eq!(lines.len(), 1, "{err}");
    for n in needles {
        assert!(lines[0].contains(n), "{n:?} in {}", lines[0]);
    }
}

#[test]
fn bad_pipelines_and_missing_plugins_are_one_line_errors() {
    // Without the plugin (a board without edgepose-gst): every other
    // source works; gst: says what to install.
    let o = common::run(
        edgepose()
            .args(["run", "--source", "gst:videotestsrc"])
            .env("EDGEPOSE_GST_PLUGIN", "/nonexistent/libedgepose_gst.so"),
    );
    assert_one_line(
        &o,
        1,
        &["libedgepose_gst.so is not installed", "edgepose-gst"],
    );
    if plugin().is_none() {
        return;
    }
    // A library that is not the plugin.
    let libm = format!("/lib/{}-linux-gnu/libm.so.6", std::env::consts::ARCH);
    let o = common::run(
        edgepose()
            .args(["run", "--source", "gst:videotestsrc"])
            .env("EDGEPOSE_GST_PLUGIN", &libm),
    );
    assert_one_line(&o, 1, &["is not an edgepose GStreamer plugin"]);
    let o = run("gst:videotestsrc ! nosuchelement");
    assert_one_line(&o, 1, &["malformed pipeline", "nosuchelement"]);
    let o = run("gst:videotestsrc !");
    assert_one_line(&o, 1, &["ends in `!`"]);
    // Caps that cannot be negotiated: audio, and a video format edgepose
    // does not read with no videoconvert to fix it. A pipeline that can
    // never give a frame is an error of the command (exit 1), not a camera
    // that went away (exit 4, after give_up_s).
    for p in [
        "gst:audiotestsrc",
        "gst:videotestsrc ! video/x-raw,format=BGRx",
    ] {
        let o = run(p);
        assert_one_line(&o, 1, &["not-negotiated", "end it with `! videoconvert`"]);
    }
}
