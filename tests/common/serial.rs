//! Helpers for the serial tests (tests/serial.rs): `edgepose listen` and
//! `edgepose run` with a serial sink on a fresh pty, the numbers of their
//! summaries, and a record `run` printed compared with the frame `listen`
//! decoded from the wire (within the fixed-point steps).

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use edgepose::sink::serial::SerialStats;
use serde_json::Value;

use crate::common;
use crate::common::edgepose;
use crate::common::pty::{pty, reader, serial_ioctls_work};

/// Writes `bytes` into a file in a fresh temporary directory.
pub fn temp_file(dir: &tempfile::TempDir, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.path().join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

/// Runs `edgepose listen ARGS --json-summary`; returns stdout records and
/// the summary.
pub fn listen(args: &[&str], stdin: Option<&[u8]>) -> (Vec<Value>, Value, String) {
    let mut cmd = common::bare();
    cmd.arg("listen").args(args).arg("--json-summary");
    cmd.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    })
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("start edgepose listen");
    let writer = stdin.map(|bytes| {
        let mut si = child.stdin.take().unwrap();
        let bytes = bytes.to_vec();
        std::thread::spawn(move || si.write_all(&bytes).unwrap())
    });
    let out = child.wait_with_output().unwrap();
    if let Some(w) = writer {
        w.join().unwrap();
    }
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "listen failed: {stderr}");
    let records = common::json_lines(&out);
    (records, summary_of(&stderr), stderr)
}

pub fn summary_of(stderr: &str) -> Value {
    let line = stderr
        .lines()
        .rev()
        .find(|l| l.starts_with('{'))
        .unwrap_or_else(|| panic!("no JSON summary in: {stderr}"));
    serde_json::from_str(line).unwrap()
}

/// The numbers of the sink's summary line on `run`'s stderr.
pub fn sink_summary(stderr: &str) -> SerialStats {
    let line = stderr
        .lines()
        .find(|l| l.starts_with("edgepose: serial "))
        .unwrap_or_else(|| panic!("no serial summary in: {stderr}"));
    let num = |what: &str| -> u64 {
        let tail = line.split(&format!(" {what}")).next().unwrap();
        tail.rsplit(' ').next().unwrap().parse().unwrap()
    };
    SerialStats {
        records: num("records"),
        sent: num("sent"),
        dropped: num("dropped"),
        bytes: num("bytes"),
        disconnects: num("disconnects"),
        reconnects: num("reconnects"),
        failed_opens: num("failed opens"),
        discarded_bytes: line
            .split(" bytes untransmitted at exit")
            .next()
            .filter(|t| t.len() < line.len())
            .map_or(0, |t| t.rsplit(' ').next().unwrap().parse().unwrap()),
    }
}

pub fn queued(stderr: &str) -> u64 {
    let line = stderr
        .lines()
        .find(|l| l.starts_with("edgepose: serial "))
        .unwrap();
    let tail = line.split(" queued").next().unwrap();
    tail.rsplit(' ').next().unwrap().parse().unwrap()
}

pub fn close(a: &Value, b: &Value, tol: f64, what: &str) {
    let (x, y) = (a.as_f64().unwrap(), b.as_f64().unwrap());
    assert!((x - y).abs() <= tol, "{what}: {x} vs {y} (tolerance {tol})");
}

pub const COORD_TOL: f64 = 0.125 + 1e-4;
pub const SCORE_TOL: f64 = 0.5 / 255.0 + 1e-6;

/// A record `run` printed against the frame `listen` decoded from the wire.
pub fn assert_same(sent: &Value, got: &Value) {
    let seq = &sent["seq"];
    assert_eq!(&got["seq"], seq);
    close(
        &sent["timestamp_ms"],
        &got["timestamp_ms"],
        0.0005,
        "timestamp",
    );
    assert_eq!(got["width"], sent["width"]);
    assert_eq!(got["height"], sent["height"]);
    assert_eq!(got["tracked"], sent["tracked"]);
    assert_eq!(got["truncated"], false);
    let (sp, gp) = (
        sent["persons"].as_array().unwrap(),
        got["persons"].as_array().unwrap(),
    );
    assert_eq!(gp.len(), sp.len(), "persons in frame {seq}");
    for (s, g) in sp.iter().zip(gp) {
        assert_eq!(g.get("track_id"), s.get("track_id"), "frame {seq}");
        for i in 0..4 {
            close(&s["box"][i], &g["box"][i], COORD_TOL, "box");
        }
        close(&s["score"], &g["score"], SCORE_TOL, "score");
        let (sk, gk) = (
            s["keypoints"].as_array().unwrap(),
            g["keypoints"].as_array().unwrap(),
        );
        assert_eq!(gk.len(), 17);
        assert_eq!(sk.len(), 17);
        for (a, b) in sk.iter().zip(gk) {
            assert_eq!(a["name"], b["name"]);
            close(&a["x"], &b["x"], COORD_TOL, "keypoint x");
            close(&a["y"], &b["y"], COORD_TOL, "keypoint y");
            close(&a["score"], &b["score"], SCORE_TOL, "keypoint score");
        }
    }
}

/// Sources for `run`: repeated images (so tracks confirm) and a folder.
pub fn run_sources(cmd: &mut Command, repeat: usize) {
    for _ in 0..repeat {
        cmd.arg("--source")
            .arg(common::sample("samples/zidane.jpg"));
    }
    for _ in 0..repeat {
        cmd.arg("--source").arg(common::sample("samples/bus.jpg"));
    }
    cmd.arg("--source").arg(common::sample("coco-val-mini"));
}

/// Runs `edgepose run` with a serial sink on a fresh pty; returns what the
/// master received, the run's stdout records and its stderr.
pub fn run_into_pty(sink_opts: &str, extra: &[&str]) -> Option<(Vec<u8>, Vec<Value>, String)> {
    let mut p = pty();
    if !serial_ioctls_work(&p) {
        return None;
    }
    let r = reader(p.master.take().unwrap(), None);
    let mut cmd = edgepose(common::primary());
    cmd.arg("run");
    run_sources(&mut cmd, 4);
    cmd.arg("--sink")
        .arg(format!("serial:{}?{sink_opts}", p.path))
        .args(extra);
    let out = common::run(&mut cmd);
    let bytes = r.finish();
    drop(p);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "run failed: {stderr}");
    Some((bytes, common::json_lines(&out), stderr))
}
