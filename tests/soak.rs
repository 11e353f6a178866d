//! Soak and faults: `edgepose run` over a 3000-frame MJPEG recording with
//! faults injected while it runs, and every frame accounted for.
//!
//! The recording holds small frames cut from `zidane.jpg`, with a corrupt
//! frame every 200 (garbage between the JPEG markers, or a frame cut off
//! halfway). `run` (the fastest shipped model, MoveNet Lightning, tracking
//! on) sends each result to standard output, to a serial port (a pty) and
//! to an MQTT broker (mosquitto, QoS 1). Driven by how many records the
//! test has read from standard output, it then:
//! - stops reading the serial port (a stalled receiver: the sink drops),
//! - stops reading standard output for a second (a stalled JSON sink: a
//!   file run waits, nothing is lost),
//! - closes the serial port's master (the port disappears),
//! - stops the broker and starts it again,
//! - brings the serial port back under the same name.
//!
//! Checked from the run's `--summary-json`: frames in = frames processed +
//! dropped + errors, with the counts the recording implies; for every sink
//! delivered + dropped + queued = records; each fault left its mark (drops,
//! one disconnect and one reconnect of each link); what arrived at the pty
//! and at the MQTT subscriber is what the sinks say they delivered; and the
//! process's resident memory (`/proc/PID/status`) stays flat between an
//! early frame and a late one. The numbers are in docs/testing.md.
#![cfg(feature = "mqtt")]

mod common;

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::mqtt::{Broker, Sub};
use common::pty::{decode_capture, pty, reader, serial_ioctls_work, symlink};
use image::imageops;
use serde_json::Value;

/// Frames in the recording.
const FRAMES: usize = 3000;

/// Frames in this run's recording: `FRAMES`, or `EDGEPOSE_SOAK_FRAMES` for
/// a longer soak (docs/testing.md).
fn frames() -> usize {
    match std::env::var("EDGEPOSE_SOAK_FRAMES") {
        Ok(v) => v
            .parse()
            .ok()
            .filter(|n| (1000..=10_000_000).contains(n))
            .unwrap_or_else(|| panic!("EDGEPOSE_SOAK_FRAMES={v}: expected 1000 to 10000000")),
        Err(_) => FRAMES,
    }
}
/// Every this many frames, one is corrupt.
const CORRUPT_EVERY: usize = 200;
/// The fastest shipped model (single person, 192×192 input).
const MODEL: &str = "movenet-singlepose-lightning-int8-4.tflite";
/// Resident memory may grow this much between the early and the late
/// sample: measured 0 to 0.1 MiB (see docs/testing.md); a queue that grows
/// with the frames (3000 records of 1–3 KB) would be several MiB.
const RSS_SLACK_KB: u64 = 2048;

fn is_corrupt(i: usize) -> bool {
    i % CORRUPT_EVERY == CORRUPT_EVERY - 1
}

/// The recording: `n` JPEGs back to back (24 different crops of
/// `zidane.jpg` at 160×90), the corrupt ones garbage between the markers
/// or cut off halfway.
fn recording(path: &Path, n: usize) {
    let src = image::open(common::sample("samples/zidane.jpg"))
        .unwrap()
        .to_rgb8();
    let crops: Vec<Vec<u8>> = (0..24)
        .map(|k| {
            let crop = imageops::crop_imm(&src, 10 * k, 5 * k, 1000, 562).to_image();
            let small = imageops::resize(&crop, 160, 90, imageops::FilterType::Triangle);
            let mut jpeg = Vec::new();
            image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 80)
                .encode(small.as_raw(), 160, 90, image::ExtendedColorType::Rgb8)
                .unwrap();
            jpeg
        })
        .collect();
    let mut data = Vec::new();
    for i in 0..n {
        let jpeg = &crops[i % crops.len()];
        if !is_corrupt(i) {
            data.extend_from_slice(jpeg);
        } else if (i / CORRUPT_EVERY).is_multiple_of(2) {
            data.extend_from_slice(&[0xFF, 0xD8]);
            data.extend_from_slice(b"not a JPEG at all");
            data.extend_from_slice(&[0xFF, 0xD9]);
        } else {
            data.extend_from_slice(&jpeg[..jpeg.len() / 2]);
            data.extend_from_slice(&[0xFF, 0xD9]);
        }
    }
    std::fs::write(path, data).unwrap();
}

/// `VmRSS` of process `pid`, in KiB.
fn rss_kb(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("no VmRSS in {status}"))
}

/// The sink called `name` in the summary.
fn sink<'a>(summary: &'a Value, name: &str) -> &'a Value {
    summary["sinks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == name)
        .unwrap_or_else(|| panic!("no sink {name} in {}", summary["sinks"]))
}

fn n(v: &Value) -> u64 {
    v.as_u64().unwrap_or_else(|| panic!("not a count: {v}"))
}

/// The number before `what` in the summary note that starts with `prefix`
/// (`"... 1 disconnects, ..."`, or `"... reconnects=1 ..."` with `what`
/// ending in `=`).
fn note_count(summary: &Value, prefix: &str, what: &str) -> u64 {
    let note = summary["notes"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .find(|l| l.starts_with(prefix))
        .unwrap_or_else(|| panic!("no {prefix} note in {}", summary["notes"]));
    let word = if let Some(key) = what.strip_suffix('=') {
        note.split(&format!("{key}="))
            .nth(1)
            .map(|t| t.split(' ').next().unwrap())
    } else {
        note.split(&format!(" {what}"))
            .next()
            .and_then(|t| t.rsplit(' ').next())
    };
    word.and_then(|w| w.parse().ok())
        .unwrap_or_else(|| panic!("no {what} in {note}"))
}

#[test]
fn every_frame_is_accounted_for_through_faults_and_memory_stays_flat() {
    let t0 = Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let rec = dir.path().join("cam.mjpg");
    let total = frames();
    recording(&rec, total);
    let corrupt = (0..total).filter(|&i| is_corrupt(i)).count();
    let good = total - corrupt;

    let mut pty1 = pty();
    if !serial_ioctls_work(&pty1) {
        return;
    }
    let link = dir.path().join("ttyUSB0");
    symlink(&pty1.path, &link);
    let r1 = reader(pty1.master.take().unwrap(), None);
    let mut broker = Broker::start("allow_anonymous true");
    let sub = Sub::new(broker.port, "soak-subscriber", true);
    let summary_path = dir.path().join("summary.json");

    let mut cmd = common::edgepose(common::primary());
    cmd.args(["--model", MODEL, "run", "--source"])
        .arg(format!("raw:{}?format=MJPG", rec.display()))
        .arg("--sink")
        .arg(format!(
            "serial:{}?encoding=binary&baud=921600",
            link.display()
        ))
        .arg("--sink")
        .arg(format!(
            "mqtt://127.0.0.1:{}?device_id=cam1&buffer=64&backoff_max=0.2&flush_timeout=30",
            broker.port
        ))
        .arg("--summary-json")
        .arg(&summary_path)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("start edgepose");
    let pid = child.id();
    let mut stderr = child.stderr.take().unwrap();
    let err_thread = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });

    // The faults, at the record counts (of `good`) where they come.
    let at = |share: f64| (good as f64 * share) as usize;
    let (rss_early, stall_serial, stall_stdout, port_gone) = (at(0.1), at(0.2), at(0.33), at(0.4));
    let (broker_down, broker_up, port_back, rss_late) = (at(0.5), at(0.63), at(0.7), at(0.97));
    let lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let (mut seqs, mut rss) = (Vec::new(), (0, 0));
    let (mut r1, mut pty2, mut r2, mut bytes1) = (Some(r1), None, None, Vec::new());
    for line in lines {
        let rec: Value = serde_json::from_str(&line.unwrap()).unwrap();
        seqs.push(rec["seq"].as_u64().unwrap());
        let k = seqs.len();
        if k == rss_early {
            rss.0 = rss_kb(pid);
        } else if k == stall_serial {
            r1.as_ref().unwrap().pause();
        } else if k == stall_stdout {
            std::thread::sleep(Duration::from_secs(1));
        } else if k == port_gone {
            bytes1 = r1.take().unwrap().finish();
        } else if k == broker_down {
            broker.stop();
        } else if k == broker_up {
            broker.resume();
        } else if k == port_back {
            let mut p = pty();
            symlink(&p.path, &link);
            r2 = Some(reader(p.master.take().unwrap(), None));
            pty2 = Some(p);
        } else if k == rss_late {
            rss.1 = rss_kb(pid);
        }
    }
    let status = child.wait().unwrap();
    let stderr = err_thread.join().unwrap();
    let bytes2 = r2.expect("the port came back").finish();
    drop(pty2);
    assert!(status.success(), "{status}: {stderr}");
    let summary: Value = serde_json::from_str(
        &std::fs::read_to_string(&summary_path)
            .unwrap_or_else(|e| panic!("{}: {e}; {stderr}", summary_path.display())),
    )
    .unwrap();

    // Frames: in = processed + dropped + errors, as the recording says.
    let (fin, frames) = (n(&summary["frames_in"]), n(&summary["frames"]));
    let (dropped, errors) = (n(&summary["dropped"]), n(&summary["frame_errors"]));
    println!(
        "frames in {fin}: processed {frames}, dropped {dropped}, errors {errors} ({:.1} s)",
        summary["wall_s"].as_f64().unwrap()
    );
    assert_eq!(fin, total as u64);
    assert_eq!((frames, dropped, errors), (good as u64, 0, corrupt as u64));
    assert_eq!(fin, frames + dropped + errors);
    // Standard output has exactly the good frames, in order.
    let want: Vec<u64> = (0..total as u64)
        .filter(|&i| !is_corrupt(i as usize))
        .collect();
    assert_eq!(seqs, want, "the records on standard output");
    let good_seqs: BTreeSet<u64> = want.iter().copied().collect();

    // Every sink: delivered + dropped + queued = records = frames.
    for s in summary["sinks"].as_array().unwrap() {
        let (d, x, q) = (n(&s["delivered"]), n(&s["dropped"]), n(&s["queued"]));
        println!(
            "sink {}: {} records, {d} delivered, {x} dropped, {q} queued",
            s["name"], s["records"]
        );
        assert_eq!(n(&s["records"]), frames, "{s}");
        assert_eq!(d + x + q, frames, "{s}");
    }
    let json = sink(&summary, "json");
    assert_eq!(
        (n(&json["delivered"]), n(&json["dropped"])),
        (frames, 0),
        "the JSON sink of a file run waits, it never drops"
    );

    // Serial: the stall and the lost port dropped records, one disconnect,
    // one reconnect; what arrived is what was delivered, in order.
    let serial = sink(&summary, "serial");
    assert!(n(&serial["dropped"]) > 0, "{serial}");
    assert_eq!(note_count(&summary, "serial ", "disconnects"), 1);
    assert_eq!(note_count(&summary, "serial ", "reconnects"), 1);
    let mut all = bytes1.clone();
    all.extend_from_slice(&bytes2);
    let (got, bad) = decode_capture(&all);
    let (after, bad2) = decode_capture(&bytes2);
    println!(
        "serial: {} frames arrived before the port vanished, {} after it came back, {bad} damaged",
        got.len() - after.len(),
        after.len()
    );
    assert!(bad <= 1, "at most the record cut off with the port: {bad}");
    assert_eq!(bad2, 0, "after the reconnect every frame is whole");
    assert!(got.windows(2).all(|w| w[0] < w[1]), "in order");
    assert!(got.iter().all(|s| good_seqs.contains(&u64::from(*s))));
    assert!(!after.is_empty(), "frames arrive after the reconnect");
    assert!(
        got.len() as u64 <= n(&serial["delivered"]),
        "{} arrived, {} delivered",
        got.len(),
        serial["delivered"]
    );

    // MQTT: the outage dropped records (the buffer holds 64), one
    // reconnect; the subscriber got every record the broker acknowledged.
    let mqtt = sink(&summary, "mqtt");
    assert!(n(&mqtt["dropped"]) > 0, "{mqtt}");
    assert_eq!(note_count(&summary, "mqtt ", "reconnects="), 1);
    sub.wait("the acknowledged records", |ib| {
        let seen: BTreeSet<u64> = common::mqtt::records(&ib.msgs)
            .iter()
            .map(|r| r["seq"].as_u64().unwrap())
            .collect();
        seen.len() as u64 >= n(&mqtt["delivered"])
    });
    let received: BTreeSet<u64> = sub
        .records()
        .iter()
        .map(|r| r["seq"].as_u64().unwrap())
        .collect();
    println!(
        "mqtt: {} records received by the subscriber",
        received.len()
    );
    assert_eq!(received.len() as u64, n(&mqtt["delivered"]));
    assert!(received.iter().all(|s| good_seqs.contains(s)));

    // Memory: flat from an early frame to a late one.
    println!(
        "resident memory: {} KiB at record {rss_early}, {} KiB at record {rss_late}; test took {:.1} s",
        rss.0,
        rss.1,
        t0.elapsed().as_secs_f64()
    );
    assert!(rss.0 > 0 && rss.1 > 0);
    assert!(
        rss.1 <= rss.0 + RSS_SLACK_KB,
        "resident memory grew from {} to {} KiB",
        rss.0,
        rss.1
    );
}
