//! `edgepose run` against real V4L2 devices in a VM running Debian's kernel
//! (`tests/common/vm.rs`): vivid's test-pattern camera in YUYV and NV12
//! (and a format it cannot do: MJPEG falls back, with a warning), and
//! v4l2loopback cameras fed with real people as YUYV and as MJPEG (with a
//! corrupt frame in the stream and a writer that pauses long enough for the
//! camera to be declared lost and reopened). The guest sends its JSON lines
//! over a UART to the host, which checks frame counts, sequence
//! continuity, the negotiated format, and that every loopback frame gives
//! the same persons and keypoints (within 1 px) as `edgepose infer` gives
//! on the very same bytes replayed on the host.

#![cfg(feature = "v4l2")]

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::frames::{distance, jpeg, scenes, yuyv};
use common::vm::Vm;
use serde_json::Value;

const MODEL: &str = "yolov8n_320_quant_pc_uf_pose_coco-st.tflite";

/// Serial lines between `@NAME` and the next marker.
fn section<'a>(serial: &'a [String], name: &str) -> Vec<&'a str> {
    let start = serial
        .iter()
        .position(|l| l == &format!("@{name}"))
        .unwrap_or_else(|| panic!("no @{name} marker in {serial:?}"));
    serial[start + 1..]
        .iter()
        .take_while(|l| !l.starts_with('@'))
        .map(String::as_str)
        .collect()
}

fn status(serial: &[String], name: &str) -> String {
    let start = serial
        .iter()
        .position(|l| l == &format!("@{name}"))
        .unwrap();
    serial[start..]
        .iter()
        .find(|l| l.starts_with("@status "))
        .cloned()
        .unwrap_or_default()
}

fn records(lines: &[&str]) -> Vec<Value> {
    lines
        .iter()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

/// Host-side `edgepose infer` on a recording: one record per frame.
fn host_infer(spec: &str) -> (Vec<Value>, String) {
    let mut cmd = common::edgepose(common::Flavour::Litert);
    cmd.args(["--model", MODEL, "infer", spec]);
    let o = common::run(&mut cmd);
    let recs = common::stdout(&o)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    (recs, String::from_utf8_lossy(&o.stderr).into_owned())
}

const GUEST: &str = r#"
S=/dev/ttyS1
EP="edgepose --tflite-lib /payload/lib/libLiteRt.so --model-dir /payload/models --model yolov8n_320_quant_pc_uf_pose_coco-st.tflite"
run() { # NAME SECONDS SOURCE
  echo "@$1" >$S
  timeout -s INT $2 $EP -v run --no-track --quiet --source "$3" --sink json:$S 2>$1.err
  echo "@status $?" >$S
  echo "== $1"; cat $1.err
}
echo "@probe" >$S
$EP probe >probe.txt 2>&1; echo "@status $?" >$S
echo "== probe"; cat probe.txt
run vivid-yuyv 20 "v4l2:/dev/video0?format=YUYV&width=640&height=480"
run vivid-nv12 15 "v4l2:/dev/video0?format=NV12&width=640&height=480"
run vivid-mjpg 10 "v4l2:/dev/video0?format=MJPG&width=640&height=480"
v4l2-writer -d /dev/video10 -f YUYV -s 640x480 -r 4 -l 20 -p 5:4 -w 60 frames.yuyv >writer10.txt 2>&1 &
sleep 1
run loop-yuyv 40 "v4l2:/dev/video10?timeout_ms=800&max_timeouts=2"
v4l2-writer -d /dev/video11 -f MJPG -s 640x480 -r 4 -l 20 -w 60 frames.mjpg >writer11.txt 2>&1 &
sleep 1
run loop-mjpg 30 "v4l2:/dev/video11"
cat writer10.txt writer11.txt
# gst: sources (the plugin beside edgepose, GStreamer's plugins in /payload/gst).
export GST_PLUGIN_SYSTEM_PATH_1_0=/payload/gst GST_REGISTRY_1_0=/tmp/gst-registry.bin GST_REGISTRY_FORK=no
# First as a board without GStreamer: its core library moved away.
mkdir -p /tmp/nogst
for f in /lib/x86_64-linux-gnu/libgstreamer-1.0.so.0 /usr/lib/x86_64-linux-gnu/libgstreamer-1.0.so.0; do [ -e $f ] && mv $f /tmp/nogst/ && echo $f >>/tmp/nogst/list; done
echo "@nogst" >$S
$EP run --source "gst:v4l2src device=/dev/video0" 2>nogst.err; echo "@status $?" >$S
echo "== nogst"; cat nogst.err
$EP probe >nogst-probe.txt 2>&1; echo "== nogst-probe"; grep gstreamer nogst-probe.txt
run nogst-v4l2 6 "v4l2:/dev/video0?format=YUYV&width=640&height=480"
for f in $(cat /tmp/nogst/list); do mv /tmp/nogst/$(basename $f) $f; done
run gst-vivid 12 "gst:v4l2src device=/dev/video0 ! video/x-raw,format=NV12,width=640,height=480"
run gst-eos 20 "gst:v4l2src device=/dev/video0 num-buffers=6 ! video/x-raw,format=YUY2,width=640,height=480?buffers=6"
# A loopback node whose writer comes 3 s late (v4l2src fails: no capture
# device yet) and pauses 4 s after its 6th frame (the pipeline stalls):
# both counted, the pipeline rebuilt, frames again.
( sleep 3; v4l2-writer -d /dev/video12 -f YUYV -s 640x480 -r 4 -l 8 -p 6:4 -w 30 frames.yuyv >writer12.txt 2>&1 ) &
run gst-loop 22 "gst:v4l2src device=/dev/video12 ! video/x-raw,format=YUY2?timeout_ms=800&max_timeouts=2&give_up_s=20"
cat writer12.txt
echo "@end" >$S
"#;

#[test]
fn camera_runs_against_real_v4l2_devices() {
    let Some(mut vm) = Vm::new(GUEST) else { return };
    let scenes = scenes();
    // Three frames per cycle (bus, bus, zidane), so a reader that keeps
    // only every n-th frame still sees both scenes.
    let yuyv_frames: Vec<u8> = [&scenes[0], &scenes[0], &scenes[1]]
        .into_iter()
        .flat_map(yuyv)
        .collect();
    let jpegs: Vec<Vec<u8>> = scenes.iter().map(jpeg).collect();
    // A corrupt frame between the two good ones: the first 40% of a JPEG
    // with an end marker stuck on.
    let mut corrupt = jpegs[1][..jpegs[1].len() * 2 / 5].to_vec();
    corrupt.extend_from_slice(&[0xFF, 0xD9]);
    let mjpeg: Vec<u8> = [jpegs[0].clone(), corrupt, jpegs[1].clone()].concat();
    let dir = tempfile::tempdir().unwrap();
    let (yuyv_path, mjpg_path) = (
        dir.path().join("frames.yuyv"),
        dir.path().join("frames.mjpg"),
    );
    std::fs::write(&yuyv_path, &yuyv_frames).unwrap();
    std::fs::write(&mjpg_path, &mjpeg).unwrap();
    vm.binary(env!("CARGO_BIN_EXE_edgepose"), "bin/edgepose")
        .binary(common::litert_lib(), "lib/libLiteRt.so")
        .file(common::models_dir().join(MODEL), &format!("models/{MODEL}"))
        .file(&yuyv_path, "frames.yuyv")
        .file(&mjpg_path, "frames.mjpg")
        .binary(common::gst_plugin(), "bin/libedgepose_gst.so");
    for p in ["coreelements", "app", "video4linux2", "videoconvertscale"] {
        vm.binary(common::gst_element_plugin(p), &format!("gst/libgst{p}.so"));
    }
    vm.memory_mb(1536).timeout(Duration::from_secs(330));
    let out = vm.run();
    eprintln!("VM: qemu {:?}", out.qemu_time);
    assert_eq!(out.status, 0, "{}", out.console_tail());
    let serial = &out.serial;
    let console = &out.console;

    // probe: vivid and both loopback nodes, with their formats.
    assert_eq!(status(serial, "probe"), "@status 0");
    let probe = &console[console.find("== probe").unwrap()..];
    assert!(
        probe.contains("/dev/video0: vivid")
            && probe.contains("  YUYV ")
            && probe.contains("  NV12 "),
        "{probe}"
    );
    assert!(probe.contains("640x480"), "{probe}");

    // vivid: frames in YUYV and NV12 at 640x480, rising sequence numbers,
    // the negotiated format in the log; SIGINT ends the run with status 0.
    for (name, fourcc) in [("vivid-yuyv", "YUYV"), ("vivid-nv12", "NV12")] {
        let recs = records(&section(serial, name));
        assert_eq!(status(serial, name), "@status 0", "{name}");
        println!("{name}: {} records", recs.len());
        assert!(recs.len() >= 3, "{name}: {} records", recs.len());
        assert!(recs
            .iter()
            .all(|r| r["width"] == 640 && r["height"] == 480 && r["source"] == "/dev/video0"));
        let seqs: Vec<u64> = recs.iter().map(|r| r["seq"].as_u64().unwrap()).collect();
        assert!(seqs.windows(2).all(|w| w[1] > w[0]), "{name}: {seqs:?}");
        let ts: Vec<f64> = recs
            .iter()
            .map(|r| r["timestamp_ms"].as_f64().unwrap())
            .collect();
        assert!(ts.windows(2).all(|w| w[1] > w[0]), "{name}: {ts:?}");
        let log = &console[console.find(&format!("== {name}")).unwrap()..];
        assert!(log.contains(&format!("{fourcc} 640x480")), "{name}: {log}");
        assert!(
            log.contains("edgepose: ") && log.contains(" frames, "),
            "{name}: {log}"
        );
    }
    // A format vivid does not offer: a warning, then the best it does.
    let mjpg_log = &console[console.find("== vivid-mjpg").unwrap()..];
    assert!(
        mjpg_log.contains("does not offer MJPG; using YUYV"),
        "{mjpg_log}"
    );
    assert_eq!(status(serial, "vivid-mjpg"), "@status 0");
    assert!(!section(serial, "vivid-mjpg").is_empty());

    // Loopback frames: each record is one of the two scenes, with exactly
    // the persons `infer` finds in the same bytes on the host.
    let (want_yuyv, _) = host_infer(&format!(
        "raw:{}?format=YUYV&width=640&height=480",
        yuyv_path.display()
    ));
    let (want_mjpg, mjpg_err) = host_infer(&format!("raw:{}?format=MJPG", mjpg_path.display()));
    assert_eq!(want_yuyv.len(), 3);
    assert!(want_yuyv
        .iter()
        .all(|r| !r["persons"].as_array().unwrap().is_empty()));
    assert_eq!(
        want_mjpg.len(),
        2,
        "the corrupt frame is skipped: {mjpg_err}"
    );
    let want_yuyv = want_yuyv[1..].to_vec(); // the two distinct scenes
    assert!(mjpg_err.contains("corrupt or truncated JPEG"), "{mjpg_err}");
    for (name, want) in [("loop-yuyv", &want_yuyv), ("loop-mjpg", &want_mjpg)] {
        let recs = records(&section(serial, name));
        assert_eq!(status(serial, name), "@status 0", "{name}");
        let mut seen = BTreeMap::new();
        let mut worst: f64 = 0.0;
        for r in &recs {
            let (i, d) = want
                .iter()
                .enumerate()
                .filter_map(|(i, w)| distance(r, w).map(|d| (i, d)))
                .min_by(|a, b| a.1.total_cmp(&b.1))
                .unwrap_or_else(|| panic!("{name}: record matches no scene: {r}"));
            assert!(d <= 1.0, "{name}: {d:.2} px from scene {i}: {r}");
            worst = worst.max(d);
            *seen.entry(i).or_insert(0) += 1;
        }
        println!(
            "{name}: {} records, per scene {seen:?}, worst {worst:.3} px",
            recs.len()
        );
        assert_eq!(seen.len(), 2, "{name}: both scenes seen: {seen:?}");
        let seqs: Vec<u64> = recs.iter().map(|r| r["seq"].as_u64().unwrap()).collect();
        assert!(seqs.windows(2).all(|w| w[1] > w[0]), "{name}: {seqs:?}");
    }
    // The YUYV writer paused 4 s after its 5th frame: the camera timed out,
    // was declared lost, reopened, and frames resumed.
    let log = &console[console.find("== loop-yuyv").unwrap()..];
    assert!(log.contains("no frame within 800 ms"), "{log}");
    assert!(log.contains("camera lost (repeated timeouts)"), "{log}");
    assert!(log.contains("camera back"), "{log}");
    let summary = log
        .lines()
        .find(|l| l.contains("camera /dev/video10:"))
        .unwrap();
    assert!(!summary.contains(" 0 reconnects"), "{summary}");
    let recs = records(&section(serial, "loop-yuyv"));
    let after_pause = recs
        .iter()
        .filter(|r| r["seq"].as_u64().unwrap() >= 6)
        .count();
    assert!(after_pause >= 2, "frames after the pause: {recs:?}");
    // The corrupt MJPEG frame: reported and skipped, the run went on.
    let log = &console[console.find("== loop-mjpg").unwrap()..];
    assert!(log.contains("corrupt or truncated JPEG"), "{log}");
    let summary = log
        .lines()
        .find(|l| l.contains(" frames, ") && l.starts_with("edgepose: "))
        .unwrap();
    assert!(!summary.contains(" 0 errors"), "{summary}");

    // gst: on a board without GStreamer: one line naming the library;
    // probe says so; a V4L2 source still runs.
    assert_eq!(status(serial, "nogst"), "@status 1");
    let nogst =
        &console[console.find("== nogst").unwrap()..console.find("== nogst-probe").unwrap()];
    let lines: Vec<&str> = nogst
        .lines()
        .filter(|l| l.starts_with("edgepose"))
        .collect();
    assert_eq!(lines.len(), 1, "{nogst}");
    assert!(
        lines[0].contains("GStreamer is not installed here")
            && lines[0].contains("libgstreamer-1.0.so.0"),
        "{nogst}"
    );
    let probe = &console[console.find("== nogst-probe").unwrap()..];
    assert!(probe.contains("gstreamer: NOT usable"), "{probe}");
    assert_eq!(status(serial, "nogst-v4l2"), "@status 0");
    assert!(!section(serial, "nogst-v4l2").is_empty());

    // gst:v4l2src on vivid: frames with rising (buffer) timestamps.
    for name in ["gst-vivid", "gst-eos"] {
        let recs = records(&section(serial, name));
        println!("{name}: {} records", recs.len());
        assert!(recs.len() >= 2, "{name}: {} records", recs.len());
        assert!(recs.iter().all(|r| r["width"] == 640 && r["height"] == 480));
        let ts: Vec<f64> = recs
            .iter()
            .map(|r| r["timestamp_ms"].as_f64().unwrap())
            .collect();
        assert!(ts.windows(2).all(|w| w[1] > w[0]), "{name}: {ts:?}");
    }
    assert_eq!(status(serial, "gst-vivid"), "@status 0");
    // num-buffers=6: EOS ends the run by itself (before the 20 s limit).
    assert_eq!(status(serial, "gst-eos"), "@status 0");
    let log = &console[console.find("== gst-eos").unwrap()..];
    assert!(log.contains("end of stream"), "{log}");
    assert!(
        log.contains("6 buffers reached the appsink, 0 of them dropped there"),
        "{log}"
    );

    // The loopback writer stopped mid-run: the loss is counted, the
    // pipeline rebuilt, and frames came again; every record is one of the
    // scenes, as `infer` finds it in the same bytes, within 0.01 px.
    let log = &console[console.find("== gst-loop").unwrap()..];
    let summary = log
        .lines()
        .find(|l| l.contains("edgepose: gst v4l2src"))
        .unwrap_or_else(|| panic!("{log}"));
    println!("{summary}");
    assert!(
        log.contains("stream lost") && log.contains("frames again"),
        "{log}"
    );
    assert!(
        !summary.contains(" 0 losses") && !summary.contains(" 0 reconnects"),
        "{summary}"
    );
    let recs = records(&section(serial, "gst-loop"));
    let ts: Vec<f64> = recs
        .iter()
        .map(|r| r["timestamp_ms"].as_f64().unwrap())
        .collect();
    assert!(ts.windows(2).all(|w| w[1] > w[0]), "gst-loop: {ts:?}");
    let mut worst: f64 = 0.0;
    for r in &recs {
        let d = want_yuyv
            .iter()
            .filter_map(|w| distance(r, w))
            .fold(f64::INFINITY, f64::min);
        assert!(d <= 0.01, "gst-loop: {d} px from the nearest scene: {r}");
        worst = worst.max(d);
    }
    println!("gst-loop: {} records, worst {worst:.4} px", recs.len());
    assert!(recs.len() >= 2, "gst-loop: {} records", recs.len());
}
