//! `run` reading live frames from pipes (`src/source/pipe.rs`): a writer
//! process feeds a named pipe with I420 frames of real people, pauses
//! longer than the stall limit, sends a partial frame and closes; a
//! stream of JPEG images with garbage, a broken image and a cut-off end
//! comes on standard input; and pipes whose bytes do not match what was
//! declared. Frames, drops, timeouts, losses, reconnects and partial
//! frames are counted exactly, and every record equals what `infer` finds
//! in the same frame bytes (I420 replayed as the NV12 the test makes
//! itself, JPEG as the same files) within 0.01 px.

mod common;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use common::frames::{distance, i420, i420_to_nv12, jpeg, scenes};
use serde_json::Value;

const MODEL: &str = "yolov8n_320_quant_pc_uf_pose_coco-st.tflite";
const FRAME: usize = 640 * 480 * 3 / 2;

fn edgepose() -> Command {
    let mut c = common::edgepose(common::primary());
    c.args(["--model", MODEL]);
    c
}

/// `infer` on a recording: one record per frame.
fn infer(spec: &str) -> Vec<Value> {
    let o = common::run(edgepose().args(["infer", spec]));
    assert!(o.status.success(), "{o:?}");
    common::json_lines(&o)
}

/// The `edgepose: pipe ...` summary line.
fn pipe_summary(o: &Output) -> String {
    common::own_stderr(o)
        .into_iter()
        .find(|l| l.starts_with("edgepose: pipe "))
        .unwrap_or_else(|| panic!("no pipe summary: {}", String::from_utf8_lossy(&o.stderr)))
}

/// Every record matches the reference of the frame its `seq` names.
fn assert_matches(recs: &[Value], want: &[Value], which: impl Fn(u64) -> usize) {
    for r in recs {
        let seq = r["seq"].as_u64().unwrap();
        let w = &want[which(seq)];
        let d = distance(r, w).unwrap_or_else(|| panic!("frame {seq}: persons {r} vs {w}"));
        assert!(d <= 0.01, "frame {seq}: {d} px from infer: {r} vs {w}");
        assert!(!r["persons"].as_array().unwrap().is_empty(), "{r}");
    }
}

#[test]
fn i420_named_pipe_with_a_stall_and_a_close() {
    let dir = tempfile::tempdir().unwrap();
    let scenes = scenes();
    // Five frames: bus, zidane, bus, zidane, bus.
    let frames: Vec<u8> = (0..5).flat_map(|i| i420(&scenes[i % 2])).collect();
    let frames_path = dir.path().join("frames.i420");
    std::fs::write(&frames_path, &frames).unwrap();
    let nv12: Vec<u8> = frames[..2 * FRAME]
        .chunks(FRAME)
        .flat_map(|f| i420_to_nv12(f, 640, 480))
        .collect();
    let nv12_path = dir.path().join("frames.nv12");
    std::fs::write(&nv12_path, nv12).unwrap();
    let want = infer(&format!(
        "raw:{}?format=NV12&width=640&height=480",
        nv12_path.display()
    ));
    assert_eq!(want.len(), 2);

    let fifo = dir.path().join("cam.fifo");
    let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: a valid path string.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    // The writer: three frames, a 1.5 s pause (the reader stalls: 300 ms
    // timeouts, lost after two), two more frames, 1000 bytes of a sixth,
    // then it closes. Nobody writes again: gone after give_up_s.
    let script = format!(
        r#"exec 3>"{fifo}"
for i in 0 1 2; do dd if="{f}" bs={FRAME} skip=$i count=1 status=none >&3; sleep 0.3; done
sleep 1.5
for i in 3 4; do dd if="{f}" bs={FRAME} skip=$i count=1 status=none >&3; sleep 0.3; done
head -c 1000 "{f}" >&3
exec 3>&-
"#,
        fifo = fifo.display(),
        f = frames_path.display()
    );
    // (timeout: a reader that never opens the pipe must not hang the test)
    let mut writer = Command::new("timeout")
        .args(["60", "bash", "-c", &script])
        .spawn()
        .unwrap();
    let o = common::run(edgepose().args([
        "run",
        "--no-track",
        "--source",
        &format!(
            "raw:{}?format=I420&width=640&height=480&timeout_ms=300&max_timeouts=2&give_up_s=4",
            fifo.display()
        ),
    ]));
    assert!(writer.wait().unwrap().success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(4), "{err}");
    let recs = common::json_lines(&o);
    let summary = pipe_summary(&o);
    println!("{summary}\n{} records", recs.len());
    // 5 frames read; each either became a record or was replaced by a
    // newer one (counted as dropped by the run).
    assert!(
        summary.contains(": 5 frames, ")
            && summary.contains(" 2 losses, 1 reconnects, 1 partial frames"),
        "{summary}"
    );
    let timeouts: u64 = summary
        .split(", ")
        .find_map(|p| p.strip_suffix(" timeouts")?.parse().ok())
        .unwrap();
    assert!(timeouts >= 2, "{summary}");
    assert!(!recs.is_empty() && recs.len() <= 5);
    let seqs: Vec<u64> = recs.iter().map(|r| r["seq"].as_u64().unwrap()).collect();
    assert!(
        seqs.windows(2).all(|w| w[1] > w[0]) && seqs[seqs.len() - 1] <= 4,
        "{seqs:?}"
    );
    let ts: Vec<f64> = recs
        .iter()
        .map(|r| r["timestamp_ms"].as_f64().unwrap())
        .collect();
    assert!(ts.windows(2).all(|w| w[1] > w[0]), "{ts:?}");
    // The pause shows in the arrival times: frames 3 and 4 came > 1.5 s
    // after frame 0.
    if seqs[0] == 0 && seqs[seqs.len() - 1] >= 3 {
        assert!(ts[ts.len() - 1] >= 1500.0, "{ts:?}");
    }
    assert_matches(&recs, &want, |seq| (seq % 2) as usize);
    assert!(err.contains("stream lost (repeated timeouts)"), "{err}");
    assert!(
        err.contains("stream ended inside a frame (1000 bytes of it)"),
        "{err}"
    );
    assert!(
        err.contains("stream lost (the writer closed the pipe)"),
        "{err}"
    );
    let last = common::own_stderr(&o).pop().unwrap();
    assert!(
        last.contains("has been gone for") && last.contains("give_up_s"),
        "{last}"
    );
}

#[test]
fn mjpeg_on_standard_input_with_garbage_a_broken_image_and_a_cut_end() {
    let dir = tempfile::tempdir().unwrap();
    let scenes = scenes();
    let (a, b) = (jpeg(&scenes[0]), jpeg(&scenes[1]));
    let files = dir.path().join("good.mjpg");
    std::fs::write(&files, [a.clone(), b.clone()].concat()).unwrap();
    let want = infer(&format!("raw:{}?format=MJPG", files.display()));
    assert_eq!(want.len(), 2);
    // 3 bytes of garbage, image a, the first 40% of b, image b, half of a.
    let stream = [
        &[0x00, 0x42, 0x17][..],
        &a,
        &b[..b.len() * 2 / 5],
        &b,
        &a[..a.len() / 2],
    ]
    .concat();
    let feed = |spec: &str| -> Output {
        let mut child = edgepose()
            .args(["run", "--no-track", "--source", spec])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        for part in stream.chunks(16 << 10) {
            stdin.write_all(part).unwrap();
        }
        drop(stdin);
        child.wait_with_output().unwrap()
    };
    // eof=end: the end of input ends the run cleanly.
    let o = feed("raw:-?format=MJPG&eof=end");
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(0), "{err}");
    let summary = pipe_summary(&o);
    println!("{summary}");
    assert!(
        summary.contains(": 2 frames, 0 timeouts, 0 losses, 0 reconnects, 1 partial frames, 1 broken JPEG, 0 over max_bytes, 3 bytes outside images"),
        "{summary}"
    );
    let recs = common::json_lines(&o);
    assert!(!recs.is_empty());
    assert_matches(&recs, &want, |seq| seq as usize);
    // By default a closed standard input is a camera lost for good.
    let o = feed("raw:-?format=MJPG");
    assert_eq!(o.status.code(), Some(4));
    let last = common::own_stderr(&o).pop().unwrap();
    assert!(
        last.starts_with("edgepose: error: standard input: the writer closed the stream"),
        "{last}"
    );
    assert!(pipe_summary(&o).contains(": 2 frames, 0 timeouts, 1 losses"));
}

/// Feeds `bytes` on standard input to `run --source SPEC`.
fn run_with_input(spec: &str, bytes: &[u8], dir: &Path) -> Output {
    let input = dir.join("input.bin");
    std::fs::write(&input, bytes).unwrap();
    common::run(
        edgepose()
            .args(["run", "--no-track", "--quiet", "--source", spec])
            .stdin(std::fs::File::open(&input).unwrap()),
    )
}

#[test]
fn pipes_that_do_not_match_their_declaration() {
    let dir = tempfile::tempdir().unwrap();
    // Geometry that no I420 frame can have: one line naming it, exit 1,
    // before anything is read.
    for (spec, needle) in [
        (
            "raw:-?format=I420&width=641&height=480",
            "I420 needs an even width",
        ),
        (
            "raw:-?format=NV12&width=640&height=479",
            "NV12 needs an even height",
        ),
        (
            "raw:-?format=I420&width=640&height=480&stride=600",
            "stride 600 is less than",
        ),
        ("raw:-?format=YUYV&width=640", "need width= and height="),
        (
            "raw:-?format=I420&width=70000&height=2",
            "width=70000: expected a width in pixels, 1 to 16384",
        ),
        ("raw:-?format=MJPG&max_bytes=10", "max_bytes=10"),
        (
            "raw:-?format=H264&width=2&height=2",
            "format=H264: expected one of I420",
        ),
    ] {
        let o = run_with_input(spec, b"", dir.path());
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{spec}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "{spec}: {err}");
        assert!(err.contains(needle), "{spec}: {err}");
    }
    // Frames of another size than declared: 2 frames of 640x480 read as
    // 640x360 are 2 whole frames and a partial one, counted, not emitted.
    let bytes: Vec<u8> = (0..2 * FRAME).map(|i| (i % 251) as u8).collect();
    let o = run_with_input(
        "raw:-?format=I420&width=640&height=360&eof=end",
        &bytes,
        dir.path(),
    );
    assert_eq!(o.status.code(), Some(0), "{o:?}");
    let summary = pipe_summary(&o);
    assert!(
        summary.contains(": 2 frames, ") && summary.contains("1 partial frames"),
        "{summary}"
    );
    // JPEG images over max_bytes: dropped and counted, no frame.
    let big = jpeg(&scenes()[0]);
    let o = run_with_input(
        "raw:-?format=MJPG&max_bytes=4096&eof=end",
        &[big.clone(), big].concat(),
        dir.path(),
    );
    assert_eq!(o.status.code(), Some(0), "{o:?}");
    let summary = pipe_summary(&o);
    assert!(
        summary.contains(": 0 frames, ") && summary.contains(", 2 over max_bytes"),
        "{summary}"
    );
}
