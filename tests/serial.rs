//! The serial sink and `edgepose listen` over real pseudo-terminals.
//!
//! A pty pair stands in for a USB-serial link: the sink (or `listen`)
//! opens the slave end by its path and configures it like a UART (a pty
//! accepts termios settings, baud included, but does not throttle), and the
//! test reads or writes the master end. Checks:
//! - `edgepose run --sink serial:...` at 9600, 115200 and 921600 baud,
//!   binary and JSON: what arrives decodes to the records `run` printed
//!   (within the fixed-point steps), every record, in order;
//! - damaged streams (flipped bytes, a frame cut short, garbage between
//!   frames, frames missing, a mid-frame start and a cut-off end): exactly
//!   the damaged frames are lost and `listen` counts each kind exactly;
//! - a port that vanishes mid-run or appears late: retried, counted, the
//!   run exits 0; an unread (stalled) port: the oldest records are dropped
//!   and counted, nothing half-written reaches the receiver;
//! - `listen` on a live pty stops on SIGINT with its summary.
//!
//! Under qemu-user the serial ioctls (`TCGETS2`) return ENOSYS; the ARM
//! runs declare `termios2` unavailable, and these tests record a skip there
//! (tests/common/skip.rs). Anywhere else that is a failure.

mod common;
#[path = "common/serial.rs"]
mod serial;

use std::io::{BufRead, BufReader, Write};
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::edgepose;
use common::pty::{decode_capture, pty, reader, serial_ioctls_work, symlink, Pty};
use edgepose::frame::{Frame, FrameResult, Keypoint, Person, RecordMeta, TrackMeta, MAX_KEYPOINTS};
use edgepose::sink::serial::SerialSink;
use edgepose::sink::Sink;
use edgepose::spec::Spec;
use edgepose_wire as wire;
use serde_json::Value;
use serial::{
    assert_same, listen, queued, run_into_pty, run_sources, sink_summary, summary_of, temp_file,
};

// ------------------------------------------------------- end to end: run

#[test]
fn binary_frames_equal_the_run_records_at_several_baud_rates() {
    for (baud, extra) in [
        (9600, &[][..]),
        (115_200, &["--no-track"][..]),
        (921_600, &[][..]),
    ] {
        let Some((bytes, sent, stderr)) =
            run_into_pty(&format!("baud={baud}&encoding=binary"), extra)
        else {
            return;
        };
        assert_eq!(sent.len(), 12, "4 + 4 repeated images and 4 in the folder");
        let persons: usize = sent
            .iter()
            .map(|r| r["persons"].as_array().unwrap().len())
            .sum();
        assert!(persons >= 10, "the images show people: {persons}");
        let s = sink_summary(&stderr);
        assert!(
            stderr.contains(&format!("(binary, {baud} 8N1)")),
            "{stderr}"
        );
        assert_eq!((s.records, s.sent, s.dropped), (12, 12, 0), "{stderr}");
        assert_eq!(s.bytes, bytes.len() as u64, "every byte written arrived");
        assert_eq!(bytes[0], 0, "a delimiter first, for a clean start");

        let dir = tempfile::tempdir().unwrap();
        let f = temp_file(&dir, "stream.bin", &bytes);
        let (got, summary, _) = listen(&[f.to_str().unwrap()], None);
        assert_eq!(summary["encoding"], "binary", "detected");
        for k in [
            "crc_errors",
            "undecodable",
            "gaps",
            "missing",
            "skipped_bytes",
        ] {
            assert_eq!(summary[k], 0, "{k}: {summary}");
        }
        assert_eq!(summary["frames"], 12);
        assert_eq!(got.len(), sent.len());
        for (s, g) in sent.iter().zip(&got) {
            assert_same(s, g);
        }
        let tracked = got.iter().any(|r| {
            r["persons"]
                .as_array()
                .unwrap()
                .iter()
                .any(|p| p.get("track_id").is_some())
        });
        assert_eq!(tracked, extra.is_empty(), "track ids iff tracking");
    }
}

#[test]
fn json_encoding_sends_exactly_the_records_run_prints() {
    let Some((bytes, sent, stderr)) = run_into_pty("baud=115200&encoding=json", &[]) else {
        return;
    };
    let s = sink_summary(&stderr);
    assert_eq!((s.records, s.sent, s.dropped), (12, 12, 0), "{stderr}");
    // A newline first (resync), then the very lines of standard output.
    let text = String::from_utf8(bytes.clone()).unwrap();
    let lines: Vec<&str> = text.strip_prefix('\n').unwrap().lines().collect();
    assert_eq!(lines.len(), sent.len());
    for (line, rec) in lines.iter().zip(&sent) {
        assert_eq!(&serde_json::from_str::<Value>(line).unwrap(), rec);
    }
    // listen detects JSON and passes the records through unchanged.
    let dir = tempfile::tempdir().unwrap();
    let f = temp_file(&dir, "stream.jsonl", &bytes);
    let (got, summary, _) = listen(&[f.to_str().unwrap()], None);
    assert_eq!(summary["encoding"], "json");
    assert_eq!(summary["frames"], 12);
    assert_eq!(summary["undecodable"], 0);
    assert_eq!(got, sent);
}

#[test]
fn run_survives_the_port_vanishing_mid_run() {
    let mut p = pty();
    if !serial_ioctls_work(&p) {
        return;
    }
    // The master closes once three frames (after the leading delimiter) are in.
    let r = reader(p.master.take().unwrap(), Some(4));
    let mut cmd = edgepose(common::primary());
    cmd.arg("run").arg("--quiet");
    run_sources(&mut cmd, 30);
    cmd.arg("--sink")
        .arg(format!("serial:{}?encoding=binary", p.path));
    let out = common::run(&mut cmd);
    let bytes = r.finish();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "run must survive: {stderr}");
    let s = sink_summary(&stderr);
    assert_eq!(s.records, 64, "{stderr}");
    assert_eq!(s.disconnects, 1, "{stderr}");
    assert!(s.failed_opens >= 1, "reopens were tried: {stderr}");
    // At the end every record is sent or dropped: none left uncounted.
    assert_eq!(queued(&stderr), 0, "{stderr}");
    assert_eq!(s.sent + s.dropped, s.records, "{stderr}");
    assert!(s.sent >= 3 && s.dropped >= 1, "{stderr}");
    assert!(stderr.contains("port lost"), "{stderr}");

    // What arrived before the port vanished is intact.
    let dir = tempfile::tempdir().unwrap();
    let f = temp_file(&dir, "part.bin", &bytes);
    let (got, summary, _) = listen(&[f.to_str().unwrap(), "--encoding", "binary"], None);
    assert_eq!(summary["crc_errors"], 0);
    assert_eq!(summary["undecodable"], 0);
    assert!(got.len() >= 3);
    let seqs: Vec<u64> = got.iter().map(|r| r["seq"].as_u64().unwrap()).collect();
    assert_eq!(seqs, (0..seqs.len() as u64).collect::<Vec<_>>());
}

#[test]
fn bad_serial_options_are_one_line_errors() {
    for (spec, needle) in [
        (
            "serial:/dev/null?parity=mark",
            "parity=mark: expected none, odd or even",
        ),
        (
            "serial:/dev/null?baud=1e6",
            "baud=1e6: expected a baud rate",
        ),
        (
            "serial:/dev/null?encodng=binary",
            "unknown option \"encodng\"",
        ),
        ("serial:/dev/null", "not a serial device"),
    ] {
        let mut cmd = edgepose(common::primary());
        cmd.args(["run", "--sink", spec, "--source"])
            .arg(common::sample("samples/bus.jpg"));
        let out = common::run(&mut cmd);
        assert!(!out.status.success(), "{spec}");
        assert!(out.stdout.is_empty(), "{spec}: nothing half-written");
        let own = common::own_stderr(&out);
        assert_eq!(own.len(), 1, "{spec}: {own:?}");
        assert!(own[0].contains(needle), "{spec}: {}", own[0]);
    }
    let out = common::run(common::bare().args(["listen", "/nonexistent/port"]));
    assert!(!out.status.success());
    let own = common::own_stderr(&out);
    assert!(
        own.len() == 1 && own[0].contains("/nonexistent/port: No such file"),
        "{own:?}"
    );
    let out = common::run(common::bare().args(["listen", "-", "--parity", "mark"]));
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("expected none, odd or even"));
}

// --------------------------------------------------- damaged streams

/// A deterministic person for frame `seq`, number `i`.
fn person(seq: u64, i: usize) -> Person {
    let mut p = Person {
        bbox: [
            10.0 + i as f32 * 50.0,
            20.0 + seq as f32,
            200.0 + i as f32 * 50.0,
            400.5,
        ],
        score: 0.5 + 0.04 * i as f32,
        keypoints: [Keypoint::default(); MAX_KEYPOINTS],
    };
    for (j, k) in p.keypoints.iter_mut().take(17).enumerate() {
        *k = Keypoint {
            x: 12.3 + 7.7 * j as f32 + i as f32,
            y: 30.1 + 11.1 * j as f32 + seq as f32 * 0.25,
            score: (j as f32 * 0.061) % 1.0,
        };
    }
    p
}

fn result(seq: u64, persons: usize, tracked: bool) -> FrameResult {
    FrameResult {
        persons: (0..persons).map(|i| person(seq, i)).collect(),
        tracks: if tracked {
            (0..persons)
                .map(|i| TrackMeta {
                    id: 100 + i as u32,
                    age_frames: seq as u32,
                    age_ms: 0.0,
                })
                .collect()
        } else {
            Vec::new()
        },
        tracked,
        num_keypoints: 17,
        width: 640,
        height: 480,
        seq,
        timestamp_ms: seq as f64 * 33.333,
        ..FrameResult::default()
    }
}

/// The COBS-framed binary frame of `r` (with its delimiter).
fn encoded(r: &FrameResult) -> Vec<u8> {
    let mut payload = vec![0u8; wire::MAX_PAYLOAD_LEN];
    let mut w = wire::FrameWriter::new(
        &mut payload,
        &wire::Header {
            seq: r.seq as u32,
            timestamp_us: wire::timestamp_us(r.timestamp_ms),
            width: r.width as u16,
            height: r.height as u16,
            tracked: r.tracked,
            num_keypoints: 17,
        },
    )
    .unwrap();
    for (i, p) in r.persons.iter().enumerate() {
        let id = r.tracks.get(i).map(|t| t.id);
        let kps = p.keypoints[..17].iter().map(|k| wire::Keypoint {
            x: k.x,
            y: k.y,
            score: k.score,
        });
        w.push_person(p.bbox, p.score, id, kps).unwrap();
    }
    let n = w.finish();
    let mut out = vec![0u8; wire::max_framed_len(n)];
    let m = wire::frame(&payload[..n], &mut out).unwrap();
    out.truncate(m);
    out
}

/// Whether a damaged piece (without delimiter) still is valid COBS, by the
/// `cobs` crate itself: then its loss shows as a CRC error, else as
/// undecodable.
fn still_cobs(piece: &[u8]) -> bool {
    let mut out = vec![0u8; piece.len() + 8];
    cobs::decode(piece, &mut out).is_ok()
}

#[test]
fn damaged_binary_stream_loses_exactly_the_damaged_frames() {
    const N: u64 = 40;
    let frames: Vec<Vec<u8>> = (0..N)
        .map(|s| encoded(&result(s, (s % 4) as usize, s % 2 == 0)))
        .collect();
    let (mut crc, mut undecodable) = (0u64, 0u64);
    let mut stream = Vec::new();
    for (s, f) in frames.iter().enumerate() {
        let s = s as u64;
        let mut f = f.clone();
        match s {
            // Join mid-frame: the receiver starts 5 bytes into frame 0.
            0 => f.drain(..5).for_each(drop),
            // A flipped bit inside the payload, then re-framed: CRC error.
            5 | 17 => {
                let mut piece = f[..f.len() - 1].to_vec();
                let mut payload = vec![0u8; piece.len()];
                let n = cobs::decode(&piece, &mut payload).unwrap().frame_size();
                payload[n / 2] ^= 0x04;
                piece = vec![0u8; wire::max_framed_len(n)];
                let m = wire::frame(&payload[..n], &mut piece).unwrap();
                f = piece[..m].to_vec();
                crc += 1;
            }
            // Cut short: the sender lost its tail; a delimiter follows.
            9 => {
                let keep = f.len() / 2;
                f.truncate(keep);
                if still_cobs(&f) {
                    crc += 1
                } else {
                    undecodable += 1
                }
                f.push(0);
            }
            // A byte changed on the wire (never into a delimiter).
            25 => {
                let at = f.len() / 3;
                f[at] = if f[at] == 0xff { 0xfe } else { f[at] ^ 0x81 };
                if f[at] == 0 {
                    f[at] = 0x7f;
                }
                if still_cobs(&f[..f.len() - 1]) {
                    crc += 1
                } else {
                    undecodable += 1
                }
            }
            // Never sent (dropped by the sender): a gap, no error.
            30 | 31 => continue,
            _ => {}
        }
        stream.extend_from_slice(&f);
        if s == 12 {
            // Line noise between frames: one undecodable piece, no frame lost.
            stream.extend_from_slice(b"hello noise\x00");
            undecodable += 1;
        }
    }
    // The input ends in the middle of another frame.
    let tail = encoded(&result(N, 2, false));
    stream.extend_from_slice(&tail[..tail.len() / 2]);

    assert_eq!(crc + undecodable, 5);
    let lost = [0u64, 5, 9, 17, 25, 30, 31];
    let dir = tempfile::tempdir().unwrap();
    let f = temp_file(&dir, "damaged.bin", &stream);
    for args in [
        vec![f.to_str().unwrap().to_string()],
        vec!["-".into(), "--encoding".into(), "binary".into()],
    ] {
        let stdin = (args[0] == "-").then_some(&stream[..]);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let (got, s, stderr) = listen(&args, stdin);
        assert_eq!(s["frames"], N - lost.len() as u64, "{stderr}");
        assert_eq!(s["crc_errors"], crc, "{stderr}");
        assert_eq!(s["undecodable"], undecodable, "{stderr}");
        // Frame 0 was joined mid-way (skipped, not an error); then gaps at
        // 5, 9, 17, 25 and 30-31.
        assert_eq!(s["gaps"], 5, "{stderr}");
        assert_eq!(s["missing"], 6, "{stderr}");
        assert_eq!(s["seq_restarts"], 0);
        assert_eq!(s["skipped_bytes"], frames[0].len() as u64 - 5 - 1);
        assert_eq!(s["incomplete_bytes"], (tail.len() / 2) as u64);
        let seqs: Vec<u64> = got.iter().map(|r| r["seq"].as_u64().unwrap()).collect();
        let want: Vec<u64> = (0..N).filter(|s| !lost.contains(s)).collect();
        assert_eq!(seqs, want);
        // The surviving frames carry exactly what was encoded.
        for g in &got {
            let seq = g["seq"].as_u64().unwrap();
            let r = result(seq, (seq % 4) as usize, seq % 2 == 0);
            let sent = serde_json::json!({
                "seq": seq,
                "timestamp_ms": r.timestamp_ms,
                "width": 640, "height": 480, "tracked": r.tracked,
                "persons": r.persons.iter().enumerate().map(|(i, p)| {
                    let mut v = serde_json::json!({
                        "box": p.bbox, "score": p.score,
                        "keypoints": p.keypoints[..17].iter().enumerate().map(|(j, k)| serde_json::json!({
                            "name": edgepose::model::manifest::COCO17_NAMES[j],
                            "x": k.x, "y": k.y, "score": k.score})).collect::<Vec<_>>(),
                    });
                    if r.tracked {
                        v["track_id"] = (100 + i).into();
                    }
                    v
                }).collect::<Vec<_>>(),
            });
            assert_same(&sent, g);
        }
        // Each loss is reported on stderr, by kind.
        let lines = |needle: &str| stderr.lines().filter(|l| l.contains(needle)).count();
        assert_eq!(lines("CRC-32C mismatch"), crc as usize, "{stderr}");
        assert_eq!(lines("gap: seq"), 5, "{stderr}");
        assert!(
            stderr.contains("gap: seq 32 follows 29: 2 frames missing"),
            "{stderr}"
        );
    }
}

#[test]
fn damaged_json_stream_loses_exactly_the_damaged_lines() {
    let meta = meta();
    let mut stream = Vec::new();
    let mut buf = Vec::new();
    for s in 0..20u64 {
        edgepose::sink::json::write_line(&mut buf, "synthetic", &result(s, 2, true), &meta)
            .unwrap();
        match s {
            // A byte changed on the wire so the line no longer parses.
            3 => {
                let at = buf.iter().position(|b| *b == b':').unwrap();
                buf[at] = b';';
            }
            // Cut short.
            7 => {
                buf.truncate(buf.len() / 2);
                buf.push(b'\n');
            }
            // Lost.
            15 => continue,
            _ => {}
        }
        stream.extend_from_slice(&buf);
        if s == 10 {
            stream.extend_from_slice(b"garbage \x01\x02 between lines\n");
        }
    }
    let (got, s, stderr) = listen(&["-"], Some(&stream));
    assert_eq!(s["encoding"], "json", "detected");
    assert_eq!(s["frames"], 17, "{stderr}");
    assert_eq!(s["undecodable"], 3, "{stderr}");
    assert_eq!(s["crc_errors"], 0);
    assert_eq!(s["gaps"], 3);
    assert_eq!(s["missing"], 3);
    let seqs: Vec<u64> = got.iter().map(|r| r["seq"].as_u64().unwrap()).collect();
    assert_eq!(
        seqs,
        (0..20)
            .filter(|s| ![3, 7, 15].contains(s))
            .collect::<Vec<u64>>()
    );
    assert_eq!(got[0]["persons"][1]["track_id"], 101);
}

// ------------------------------------------- the sink, through the library

fn meta() -> RecordMeta {
    RecordMeta {
        model_id: "synthetic".into(),
        runtime: "none".into(),
        keypoint_names: edgepose::model::manifest::COCO17_NAMES
            .iter()
            .map(|s| s.to_string())
            .collect(),
        skeleton: Vec::new(),
        keypoint_threshold: 0.5,
    }
}

fn frame() -> Frame<'static> {
    Frame {
        seq: 0,
        timestamp: Duration::ZERO,
        ..Frame::rgb(&[], 640, 480, "synthetic")
    }
}

fn sink(spec: &str) -> SerialSink {
    SerialSink::open(&mut Spec::parse(spec).unwrap()).unwrap()
}

/// Waits (up to 10 s) until the sink's writer thread has got to where
/// `done` says: the sink writes on its own thread, so what a write did
/// shows in the counters a moment after `emit` returned.
fn settle(s: &SerialSink, what: &str, done: impl Fn(&SerialSink) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !done(s) {
        assert!(
            Instant::now() < deadline,
            "the serial writer never got to: {what}; {:?}, {} queued",
            s.stats(),
            s.queued()
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn sink_reconnects_when_the_port_comes_back() {
    let p1 = pty();
    if !serial_ioctls_work(&p1) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("ttyUSB0");
    symlink(&p1.path, &link);
    let mut s = sink(&format!(
        "serial:{}?encoding=binary&baud=921600",
        link.display()
    ));
    let (meta, frame) = (meta(), frame());
    let Pty { master, slave, .. } = p1;
    let r1 = reader(master.unwrap(), None);
    for seq in 0..5 {
        s.emit(&frame, &result(seq, 2, true), &meta).unwrap();
        // Paced like frames: each record leaves before the next comes.
        settle(&s, "the record sent", |s| s.queued() == 0);
    }
    s.flush().unwrap();
    std::thread::sleep(Duration::from_millis(50));
    let first = r1.finish(); // closes the master: the adapter is unplugged
    drop(slave);
    assert_eq!(decode_capture(&first), ((0..5).collect(), 0));

    // Unplugged: the next write fails, the sink counts it and queues.
    for seq in 5..10 {
        s.emit(&frame, &result(seq, 2, true), &meta).unwrap();
    }
    settle(&s, "the failed write", |s| s.stats().disconnects > 0);
    let st = s.stats();
    assert_eq!(st.disconnects, 1);
    assert_eq!(st.sent, 5);

    // Plugged back in (under the same name).
    let mut p2 = pty();
    symlink(&p2.path, &link);
    let r2 = reader(p2.master.take().unwrap(), None);
    // flush() tries to reopen at once (the writer may also have got there
    // on its backoff) and sends what was queued while unplugged.
    s.flush().unwrap();
    assert_eq!(s.stats().reconnects, 1, "{:?}", s.stats());
    for seq in 10..15 {
        s.emit(&frame, &result(seq, 2, true), &meta).unwrap();
        std::thread::sleep(Duration::from_millis(100));
    }
    s.flush().unwrap();
    std::thread::sleep(Duration::from_millis(50));
    let second = r2.finish();
    let st = s.stats();
    assert_eq!(st.reconnects, 1, "{st:?}");
    assert_eq!(st.records, 15);
    assert_eq!(st.sent + st.dropped + s.queued() as u64, 15, "{st:?}");
    assert_eq!(s.queued(), 0);
    assert_eq!(second[0], 0, "a delimiter first after reconnecting");
    let (seqs, bad) = decode_capture(&second);
    assert_eq!(bad, 0);
    assert_eq!(seqs.len() as u64, st.sent - 5, "{st:?}");
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");
    assert_eq!(&seqs[seqs.len() - 5..], &[10, 11, 12, 13, 14]);
    let line = s.summary().unwrap();
    assert!(line.contains("1 disconnects, 1 reconnects"), "{line}");
}

#[test]
fn sink_waits_for_a_port_that_appears_later() {
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("ttyACM0");
    let mut s = sink(&format!(
        "serial:{}?encoding=binary&queue=2&wait=true",
        link.display()
    ));
    // Its record ring is its one queue: `run` puts none in front of it.
    assert!(s.own_queue());
    let (meta, frame) = (meta(), frame());
    for seq in 0..4 {
        s.emit(&frame, &result(seq, 1, false), &meta).unwrap();
    }
    let st = s.stats();
    assert_eq!((st.sent, st.dropped, s.queued()), (0, 2, 2), "{st:?}");
    assert!(st.failed_opens >= 1);

    let mut p = pty();
    if !serial_ioctls_work(&p) {
        return;
    }
    symlink(&p.path, &link);
    let r = reader(p.master.take().unwrap(), None);
    // The writer reopens on its backoff and sends the two waiting records.
    settle(&s, "the reopen and the waiting records", |s| {
        s.stats().reconnects == 1 && s.queued() == 0
    });
    for seq in 4..6 {
        s.emit(&frame, &result(seq, 1, false), &meta).unwrap();
    }
    s.flush().unwrap();
    std::thread::sleep(Duration::from_millis(50));
    let bytes = r.finish();
    let st = s.stats();
    assert_eq!(st.reconnects, 1);
    assert_eq!((st.sent, st.dropped), (4, 2), "{st:?}");
    assert_eq!(decode_capture(&bytes), (vec![2, 3, 4, 5], 0));
}

#[test]
fn a_port_another_program_holds_is_a_one_line_error() {
    let p = pty();
    if !serial_ioctls_work(&p) {
        return;
    }
    let spec = format!("serial:{}", p.path);
    let _first = sink(&spec);
    // A second opener (another edgepose, minicom) finds the port locked:
    // the exclusive flock holds even for root, who passes TIOCEXCL.
    let e = SerialSink::open(&mut Spec::parse(&spec).unwrap())
        .err()
        .expect("the second open of a held port fails")
        .to_string();
    assert!(e.contains(&p.path), "{e}");
    assert!(e.contains("another program holds the port"), "{e}");
    assert!(!e.contains('\n'), "{e}");
}

#[test]
fn a_stalled_port_drops_the_oldest_records_and_never_blocks() {
    let mut p = pty();
    if !serial_ioctls_work(&p) {
        return;
    }
    // Large JSON records (10 persons, ~15 KB) into a port nobody reads.
    let mut s = sink(&format!(
        "serial:{}?encoding=json&timeout_ms=1&queue=3",
        p.path
    ));
    let (meta, frame) = (meta(), frame());
    const N: u64 = 120;
    s.emit(&frame, &result(0, 10, true), &meta).unwrap();
    // Record 0 on the wire (after the one-byte delimiter) before the rest
    // come: the writer has its own thread, so this is the test's timing.
    settle(&s, "record 0 under way", |s| s.stats().bytes > 1);
    for seq in 1..N {
        s.emit(&frame, &result(seq, 10, true), &meta).unwrap();
    }
    let st = s.stats();
    assert!(st.dropped > 0, "{st:?}");
    assert_eq!(st.sent + st.dropped + s.queued() as u64, N, "{st:?}");
    assert_eq!(st.disconnects, 0);

    // The receiver wakes up: the rest drains, and every line is whole.
    let r = reader(p.master.take().unwrap(), None);
    s.flush().unwrap();
    std::thread::sleep(Duration::from_millis(100));
    let bytes = r.finish();
    let st = s.stats();
    assert_eq!(s.queued(), 0);
    assert_eq!(st.sent + st.dropped, N);
    let text = String::from_utf8(bytes).unwrap();
    let seqs: Vec<u64> = text
        .lines()
        .filter(|l| !l.is_empty())
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap_or_else(|e| panic!("torn line: {e}"))["seq"]
                .as_u64()
                .unwrap()
        })
        .collect();
    assert_eq!(seqs.len() as u64, st.sent);
    assert!(seqs.windows(2).all(|w| w[0] < w[1]));
    assert_eq!(
        *seqs.last().unwrap(),
        N - 1,
        "the newest record got through"
    );
    assert_eq!(seqs[0], 0, "the first record was under way, not dropped");
}

// ------------------------------------------------- listen on a live pty

#[test]
fn listen_reads_a_live_port_and_stops_on_sigint() {
    let mut p = pty();
    if !serial_ioctls_work(&p) {
        return;
    }
    let mut child = common::bare()
        .args(["listen", &p.path, "--baud", "921600", "--json-summary"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut err = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    err.read_line(&mut line).unwrap();
    assert!(line.contains("reading"), "banner: {line}");
    assert!(line.contains("921600 8N1"), "banner: {line}");

    // Write 10 frames into the master, one damaged, in small pieces.
    let mut stream = vec![0u8];
    for seq in 0..10u64 {
        let mut f = encoded(&result(seq, 3, true));
        if seq == 6 {
            let n = f.len();
            f[n / 2] = if f[n / 2] == 0x55 { 0x56 } else { 0x55 };
        }
        stream.extend_from_slice(&f);
    }
    let mut master = std::fs::File::from(p.master.take().unwrap());
    for piece in stream.chunks(37) {
        master.write_all(piece).unwrap();
        std::thread::sleep(Duration::from_millis(1));
    }
    let out = BufReader::new(child.stdout.take().unwrap());
    let mut seqs = Vec::new();
    for l in out.lines() {
        let v: Value = serde_json::from_str(&l.unwrap()).unwrap();
        seqs.push(v["seq"].as_u64().unwrap());
        if seqs.len() == 9 {
            break;
        }
    }
    assert_eq!(seqs, [0, 1, 2, 3, 4, 5, 7, 8, 9]);
    // SAFETY: signalling our own child.
    unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGINT) };
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(Instant::now() < deadline, "listen did not stop on SIGINT");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success());
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut err, &mut rest).unwrap();
    let s = summary_of(&rest);
    assert_eq!(s["frames"], 9);
    assert_eq!(
        s["crc_errors"].as_u64().unwrap() + s["undecodable"].as_u64().unwrap(),
        1
    );
    assert_eq!(
        (s["gaps"].as_u64(), s["missing"].as_u64()),
        (Some(1), Some(1))
    );
    assert_eq!(s["bytes"], stream.len());
    drop(master);
}
