//! The web preview (`--sink http:...`) over a real `edgepose run`, spoken
//! to with a plain HTTP/1.1 client: MJPEG parts are whole JPEGs of the
//! frame size, the records on `/records` are the JSON sink's records of the
//! same run, the token guards every path, clients past the bound get 503,
//! a client that stops reading costs the run nothing and its drops are
//! counted, SIGTERM closes every connection and exits 0, and bad options
//! are one line. The page in a browser: tests/http_browser.rs.

#![cfg(feature = "http")]

mod common;
#[path = "common/preview.rs"]
mod preview;

use std::collections::BTreeMap;
use std::io::Write;
use std::time::{Duration, Instant};

use preview::{next_event, next_part, recording, request, serial, Event, Preview, REC_H, REC_W};

const TOKEN: &str = "s3cret-token_0123456789";

fn jpeg_size(data: &[u8]) -> (u32, u32) {
    assert_eq!(&data[..2], &[0xFF, 0xD8], "JPEG start marker");
    assert_eq!(&data[data.len() - 2..], &[0xFF, 0xD9], "JPEG end marker");
    let img = image::load_from_memory_with_format(data, image::ImageFormat::Jpeg)
        .expect("a decodable JPEG");
    (img.width(), img.height())
}

/// Frames and frames/s from the run summary's first line.
fn summary_fps(stderr: &[String]) -> (u64, f64) {
    let line = stderr
        .iter()
        .find(|l| l.contains(" frames/s, "))
        .unwrap_or_else(|| panic!("no summary in {stderr:?}"));
    let frames = line
        .strip_prefix("edgepose: ")
        .and_then(|r| r.split(' ').next())
        .unwrap()
        .parse()
        .unwrap();
    let fps = line
        .split(", ")
        .find_map(|p| p.strip_suffix(" frames/s"))
        .unwrap()
        .parse()
        .unwrap();
    (frames, fps)
}

#[test]
fn video_and_records_are_the_runs_and_sigterm_closes_every_connection() {
    let _serial = serial();
    let rec = recording(preview::LONG);
    let dir = tempfile::tempdir().unwrap();
    let jsonl = dir.path().join("records.jsonl");
    let sink = format!("json:{}", jsonl.display());
    let p = Preview::start(&rec, "fps=30", &["--sink", &sink], &[]);

    let video = p.get("/stream.mjpg");
    assert_eq!(video.status, 200);
    assert_eq!(
        video.header("content-type"),
        Some("multipart/x-mixed-replace; boundary=edgepose-frame")
    );
    let records = p.get("/records");
    assert_eq!(records.status, 200);
    assert_eq!(records.header("content-type"), Some("text/event-stream"));
    // A third client asks for the video and never reads it.
    let mut stalled = preview::connect(p.port);
    stalled
        .write_all(b"GET /stream.mjpg HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();

    let mut video = video.reader();
    let mut last_seq = None;
    for _ in 0..5 {
        let part = next_part(&mut *video, "edgepose-frame").expect("a video part");
        let h = |k: &str| {
            part.headers
                .iter()
                .find(|(n, _)| n == k)
                .map(|(_, v)| v.clone())
        };
        assert_eq!(h("content-type").as_deref(), Some("image/jpeg"));
        assert_eq!(jpeg_size(&part.body), (REC_W, REC_H));
        let seq: u64 = h("x-frame-seq").unwrap().parse().unwrap();
        assert!(last_seq.is_none_or(|l| seq > l), "frames in order");
        last_seq = Some(seq);
    }

    let mut records = records.reader();
    let mut got: Vec<serde_json::Value> = Vec::new();
    let mut announced = 0u64;
    while got.len() < 30 {
        match next_event(&mut *records).expect("an event") {
            Event::Data(d) => got.push(serde_json::from_str(&d).expect("a JSON record")),
            Event::Comment(c) => {
                if let Some(n) = c.strip_suffix(" records dropped") {
                    announced += n.parse::<u64>().unwrap();
                }
            }
            Event::Other(o) => assert_eq!(o, "retry: 2000"),
        }
    }

    let snap = p.get("/snapshot.jpg");
    assert_eq!(snap.status, 200);
    assert_eq!(snap.header("content-type"), Some("image/jpeg"));
    assert_eq!(jpeg_size(&snap.body()), (REC_W, REC_H));

    let t0 = Instant::now();
    let (status, stderr) = p.stop();
    assert!(
        status.success(),
        "exit after SIGTERM: {status:?} {stderr:?}"
    );
    // Every connection ends: the readers see the end of their streams,
    // the stalled client its buffered frames and then the end.
    while next_part(&mut *video, "edgepose-frame").is_some() {}
    while next_event(&mut *records).is_some() {}
    let mut rest = Vec::new();
    std::io::Read::read_to_end(&mut stalled, &mut rest).expect("the stalled connection ends");
    println!("SIGTERM to every connection closed: {:?}", t0.elapsed());
    assert!(
        stderr
            .iter()
            .any(|l| l.starts_with("edgepose: http 127.0.0.1:")),
        "{stderr:?}"
    );

    // The records are the JSON sink's, byte for byte once parsed; gaps only
    // where the server said it dropped records.
    let by_seq: BTreeMap<u64, serde_json::Value> = std::fs::read_to_string(&jsonl)
        .unwrap()
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            (v["seq"].as_u64().unwrap(), v)
        })
        .collect();
    let mut gaps = 0;
    for pair in got.windows(2) {
        gaps += pair[1]["seq"].as_u64().unwrap() - pair[0]["seq"].as_u64().unwrap() - 1;
    }
    assert_eq!(gaps, announced, "missing records were announced");
    for r in &got {
        let seq = r["seq"].as_u64().unwrap();
        assert_eq!(Some(r), by_seq.get(&seq), "record {seq}");
    }
    // Tracks are confirmed after a few frames; by then both people show.
    let last = got.last().unwrap();
    assert_eq!(last["persons"].as_array().unwrap().len(), 2, "{last}");
}

#[test]
fn the_token_guards_every_path() {
    let _serial = serial();
    let rec = recording(preview::LONG);
    let p = Preview::start(&rec, "", &[], &[("EDGEPOSE_HTTP_TOKEN", TOKEN)]);
    let bearer = format!("Bearer {TOKEN}");
    for (path, ok) in [
        ("/", 200),
        ("/stream.mjpg", 200),
        ("/records", 200),
        ("/stats", 200),
        ("/snapshot.jpg", 200),
        ("/nothing", 404),
    ] {
        let sep = if path.contains('?') { '&' } else { '?' };
        for (what, target, headers) in [
            ("no token", path.to_string(), vec![]),
            (
                "a wrong token",
                format!("{path}{sep}token={TOKEN}x"),
                vec![],
            ),
            ("a short token", format!("{path}{sep}token=s3cret"), vec![]),
            (
                "a wrong bearer",
                path.to_string(),
                vec![("Authorization", "Bearer nope")],
            ),
            (
                "no bearer word",
                path.to_string(),
                vec![("Authorization", TOKEN)],
            ),
        ] {
            let r = request(p.port, "GET", &target, &headers);
            assert_eq!(r.status, 401, "{path} with {what}");
            assert_eq!(
                r.header("www-authenticate"),
                Some("Bearer realm=\"edgepose\"")
            );
            assert!(!String::from_utf8_lossy(&r.body()).contains(TOKEN));
        }
        let r = request(p.port, "GET", &format!("{path}{sep}token={TOKEN}"), &[]);
        assert_eq!(r.status, ok, "{path} with the token in the query");
        let r = request(p.port, "GET", path, &[("Authorization", &bearer)]);
        assert_eq!(r.status, ok, "{path} with the bearer token");
    }
    let r = request(p.port, "POST", "/stats", &[("Authorization", &bearer)]);
    assert_eq!(r.status, 405, "only GET");
    assert_eq!(request(p.port, "POST", "/stats", &[]).status, 401);
    let (status, stderr) = p.stop();
    assert!(status.success(), "{stderr:?}");
    assert!(
        stderr
            .iter()
            .any(|l| l.contains("for clients with the token ($EDGEPOSE_HTTP_TOKEN)")),
        "{stderr:?}"
    );
    assert!(
        !stderr.iter().any(|l| l.contains(TOKEN)),
        "the token is never printed"
    );
}

#[test]
fn clients_past_the_bound_get_503() {
    let _serial = serial();
    let rec = recording(preview::LONG);
    let p = Preview::start(&rec, "clients=2", &[], &[]);
    let video = p.get("/stream.mjpg");
    assert_eq!(video.status, 200);
    let records = p.get("/records");
    assert_eq!(records.status, 200);
    let third = p.get("/stream.mjpg");
    assert_eq!(third.status, 503, "a third streaming client");
    assert_eq!(third.header("retry-after"), Some("5"));
    assert_eq!(p.get("/records").status, 503);
    // Short requests are still answered.
    let s = p.stats();
    assert_eq!(s["preview"]["refused"], 2);
    assert_eq!(s["preview"]["clients"].as_array().unwrap().len(), 2);
    drop(records);
    let deadline = Instant::now() + Duration::from_secs(10);
    while p.stats()["preview"]["clients"].as_array().unwrap().len() != 1 {
        assert!(
            Instant::now() < deadline,
            "the closed client is not released"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(p.get("/records").status, 200, "a freed place is taken");
    drop(video);
    let (status, _) = p.stop();
    assert!(status.success());
}

/// What [`run_with_clients`] measured.
struct Measured {
    frames: u64,
    fps: f64,
    /// CPU time of the whole process per frame, milliseconds.
    cpu_ms: f64,
    /// The last `/stats` seen during the run.
    stats: serde_json::Value,
    stderr: Vec<String>,
}

/// Runs a preview over `rec` with clients asking for `paths`, each reading
/// its answer (`read`) or never reading a byte.
/// One `/stats` answer, or `None` when the request fails.
fn poll_stats(port: u16) -> Option<serde_json::Value> {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    s.write_all(b"GET /stats HTTP/1.1\r\nHost: x\r\n\r\n")
        .ok()?;
    let body = preview::try_head(s).and_then(|r| r.try_body()).ok()?;
    serde_json::from_slice(&body).ok()
}

fn run_with_clients(rec: &std::path::Path, opts: &str, paths: &[&str], read: bool) -> Measured {
    let p = Preview::start(rec, opts, &[], &[]);
    let mut clients = Vec::new();
    for path in paths {
        let mut s = preview::connect(p.port);
        write!(s, "GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
        if read {
            clients.push(std::thread::spawn(move || {
                let mut sink = [0u8; 65536];
                while matches!(std::io::Read::read(&mut s, &mut sink), Ok(n) if n > 0) {}
            }));
        } else {
            // Kept open, never read.
            clients.push(std::thread::spawn(move || {
                std::thread::sleep(Duration::from_secs(30));
                drop(s);
            }));
        }
    }
    let mut last = serde_json::Value::Null;
    // Statistics as long as the run lasts; the last one is kept. A request
    // that fails (the run ending, a busy moment) is tried again until the
    // process has exited (a zombie: it is reaped by wait_cpu below).
    let pid = p.child.id();
    let running = || {
        std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .ok()
            .and_then(|st| st.rsplit(')').next().map(|r| r.trim_start().chars().next()))
            .is_some_and(|state| state != Some('Z'))
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(300);
    while running() && std::time::Instant::now() < deadline {
        if let Some(v) = poll_stats(p.port) {
            // Before the first frame (the model still loading) `run` is null.
            if v["run"].is_object() {
                last = v;
            }
        }
        // Often: an unloaded machine runs the recording in about 2 s.
        std::thread::sleep(Duration::from_millis(50));
    }
    let (status, stderr, cpu) = p.wait_cpu(Duration::from_secs(300));
    assert!(status.success(), "{stderr:?}");
    let (frames, fps) = summary_fps(&stderr);
    Measured {
        frames,
        fps,
        cpu_ms: cpu.as_secs_f64() * 1e3 / frames.max(1) as f64,
        stats: last,
        stderr,
    }
}

/// The median of a stage from the summary's stage table.
fn stage_median(stderr: &[String], stage: &str) -> f64 {
    stderr
        .iter()
        .find_map(|l| {
            let mut w = l.split_whitespace();
            (w.next() == Some(stage)).then(|| w.next().unwrap().parse().unwrap())
        })
        .unwrap_or_else(|| panic!("no {stage} row in {stderr:?}"))
}

#[test]
fn clients_that_stop_reading_cost_the_run_nothing_and_their_drops_are_counted() {
    let _serial = serial();
    let n = if common::emulated() { 60 } else { 1200 };
    let rec = recording(n);
    let alone = run_with_clients(&rec, "fps=30", &[], false);
    assert_eq!(alone.frames, n as u64, "a recording loses no frame");
    let Measured {
        frames,
        fps: stalled,
        stats,
        stderr,
        ..
    } = run_with_clients(&rec, "fps=30", &["/stream.mjpg", "/records"], false);
    assert_eq!(frames, n as u64, "a recording loses no frame");
    let alone = alone.fps;
    let ratio = stalled / alone;
    let (emit, invoke) = (
        stage_median(&stderr, "emit"),
        stage_median(&stderr, "invoke"),
    );
    println!(
        "frames/s without clients {alone:.1}, with two clients that stop reading {stalled:.1}: ratio {ratio:.3}; \
         the sink's time in the frame loop (emit) {emit:.3} ms a frame against invoke {invoke:.3} ms"
    );
    let clients = stats["preview"]["clients"].as_array().unwrap();
    let client = |endpoint: &str| {
        clients
            .iter()
            .find(|c| c["endpoint"] == endpoint)
            .unwrap_or_else(|| panic!("{endpoint} client in {stats}"))
    };
    let (video, records) = (client("/stream.mjpg"), client("/records"));
    println!("clients that stopped reading: {video}, {records}");
    let mut seen = 0;
    for c in [video, records] {
        let dropped = c["dropped"].as_u64().unwrap();
        assert!(dropped > 0, "{c}");
        seen += dropped;
    }
    // The summary's count is final: at least what the last statistics saw.
    let line = stderr
        .iter()
        .find(|l| l.starts_with("edgepose: http "))
        .unwrap();
    let total: u64 = line
        .strip_suffix(" dropped for slow clients")
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{line}"));
    assert!(total >= seen, "{line} after {seen} dropped");
    // The frame loop never waits for a client: the sink takes a sliver of
    // each frame (measured: about 0.02 ms against 6 ms of invoke, both in
    // the same run, so a busy machine slows both alike). A frame loop that
    // waited on a stalled client would spend seconds here. The frame rate
    // itself varies by ±30 % between runs on this shared 2-core machine:
    // it is reported, and only a collapse fails.
    assert!(
        emit < 0.05 * invoke,
        "emit {emit} ms against invoke {invoke} ms"
    );
    assert!(ratio > 0.5, "frames/s ratio {ratio:.3}");
}

/// The numbers of docs/preview.md: frames/s and CPU time per frame of a
/// run with no client, 1 and 4 viewers (each reading what the page reads:
/// the video and the records) and two clients that never read (the video
/// and the records), at the default options; rounds alternate, the
/// median of each is kept.
#[test]
#[ignore = "a measurement for docs/preview.md (cargo test --release --test http -- --ignored --nocapture)"]
fn frame_rate_with_0_1_and_4_viewers() {
    let _serial = serial();
    let rec = recording(1000);
    let page = ["/stream.mjpg", "/records"];
    let cases: [(&str, Vec<&str>, bool); 4] = [
        ("no client", vec![], true),
        ("1 viewer", page.to_vec(), true),
        ("4 viewers", page.repeat(4), true),
        ("2 clients that stop reading", page.to_vec(), false),
    ];
    let mut fps: Vec<Vec<f64>> = vec![Vec::new(); cases.len()];
    let mut cpu: Vec<Vec<f64>> = vec![Vec::new(); cases.len()];
    for _ in 0..5 {
        for (i, (_, paths, read)) in cases.iter().enumerate() {
            let m = run_with_clients(&rec, "", paths, *read);
            assert_eq!(m.frames, 1000);
            if !paths.is_empty() {
                let c = &m.stats["preview"]["clients"];
                assert_eq!(c.as_array().map(Vec::len), Some(paths.len()), "{}", m.stats);
            }
            fps[i].push(m.fps);
            cpu[i].push(m.cpu_ms);
        }
    }
    let median = |v: &[f64]| {
        let mut v = v.to_vec();
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    for (i, (name, ..)) in cases.iter().enumerate() {
        println!(
            "{name}, each round: {:.1?} frames/s, {:.2?} CPU ms a frame",
            fps[i], cpu[i]
        );
    }
    let (f0, c0) = (median(&fps[0]), median(&cpu[0]));
    println!("| clients | frames/s | ratio | CPU ms a frame | ratio |");
    println!("|---|---|---|---|---|");
    for (i, (name, ..)) in cases.iter().enumerate() {
        let (f, c) = (median(&fps[i]), median(&cpu[i]));
        println!(
            "| {name} | {f:.1} | {:.3} | {c:.2} | {:.3} |",
            f / f0,
            c / c0
        );
    }
}

#[test]
fn bad_options_and_a_port_in_use_are_one_line() {
    let _serial = serial();
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = busy.local_addr().unwrap().port();
    let in_use = format!("http:127.0.0.1:{port}");
    for (spec, want) in [
        (in_use.as_str(), "cannot listen: Address already in use"),
        ("http:127.0.0.1:99999", "expected ADDR:PORT"),
        ("http:0.0.0.0:0", "needs a token: give token_file=PATH"),
        (
            "http:127.0.0.1:0?fps=1000",
            "fps=1000: expected video frames per second, 0.2 to 60",
        ),
        (
            "http:127.0.0.1:0?clients=many",
            "clients=many: expected a number of clients",
        ),
        (
            "http:127.0.0.1:0?token=abcdefghijklmnopq",
            "token_file=PATH",
        ),
        (
            "http:127.0.0.1:0?token_file=/nonexistent",
            "token_file=/nonexistent: expected a readable file",
        ),
        (
            "http:127.0.0.1:0?quality=5",
            "quality=5: expected a JPEG quality, 10 to 95",
        ),
    ] {
        let o = common::run(
            common::edgepose(common::Flavour::Litert)
                .args(["run", "--quiet", "--source"])
                .arg(common::sample("samples/zidane.jpg"))
                .args(["--sink", spec])
                .env_remove("EDGEPOSE_HTTP_TOKEN"),
        );
        let lines = common::own_stderr(&o);
        assert_eq!(o.status.code(), Some(1), "{spec}: {lines:?}");
        assert_eq!(lines.len(), 1, "{spec}: {lines:?}");
        assert!(
            lines[0].starts_with("edgepose: error: --sink "),
            "{spec}: {lines:?}"
        );
        assert!(lines[0].contains(want), "{spec}: {lines:?}");
    }
    drop(busy);
}
