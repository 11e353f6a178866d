//! The MQTT feed against a real broker: Debian's mosquitto (installed by
//! `scripts/setup-mqtt.sh`), started by each test with its own config file on
//! a free loopback port (persistence on, so a subscriber's session and queued
//! messages survive a broker restart). A rumqttc client in the test
//! subscribes to `edgepose/cam1/#`; `edgepose run` publishes with
//! `--sink mqtt://127.0.0.1:PORT?...`.
//!
//! Timing is made deterministic by the run's own standard output: the test
//! reads the JSON lines through a pipe it can stop reading, so the frame
//! loop blocks on a full pipe at a point the test chooses (checked through
//! `/proc/PID/wchan`); the broker is stopped or started only at such points
//! or once the run reports that it is waiting to deliver its buffer at the
//! end. Every published record is compared with the JSON line of the same
//! frame on stdout, and the counts in the run's summary line are exact.

#![cfg(feature = "mqtt")]

mod common;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use common::mqtt::{
    free_port, must_have, records, wait_until, Broker, Msg, Sub, LONG, MOSQUITTO_PASSWD,
};
use serde_json::Value;

fn seqs(records: &[Value]) -> Vec<u64> {
    records.iter().map(|r| r["seq"].as_u64().unwrap()).collect()
}

/// The retained status a new subscriber gets.
fn retained_status(port: u16) -> Msg {
    let sub = Sub::new(port, "retained-reader", false);
    sub.wait("the retained status", |ib| {
        ib.msgs.iter().any(|m| m.topic == "edgepose/cam1/status")
    });
    let m = sub
        .msgs()
        .into_iter()
        .find(|m| m.topic == "edgepose/cam1/status")
        .unwrap();
    assert!(m.retain, "status not retained: {m:?}");
    m
}

// ------------------------------------------------------------------ edgepose run

#[derive(Default)]
struct Lines {
    out: Vec<String>,
    err: Vec<String>,
    allowed: usize,
    out_done: bool,
}

/// `edgepose run` with its stdout read only as far as the test allows.
struct Run {
    child: Child,
    lines: Arc<(Mutex<Lines>, Condvar)>,
}

/// `n` frames of the same sample image (four people, so tracks confirm and
/// each JSON line is several kB: a few fill the stdout pipe).
fn frame_args(n: usize) -> Vec<String> {
    let img = common::sample("samples/bus.jpg").display().to_string();
    (0..n)
        .flat_map(|_| ["--source".to_string(), img.clone()])
        .collect()
}

impl Run {
    fn start(frames: usize, sink: &str, envs: &[(&str, &str)], allowed: usize) -> Self {
        let mut cmd = common::edgepose(common::primary());
        cmd.arg("run")
            .args(frame_args(frames))
            .arg("--sink")
            .arg(sink)
            .env_remove("EDGEPOSE_MQTT_PASSWORD")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in envs {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("start edgepose");
        let lines = Arc::new((
            Mutex::new(Lines {
                allowed,
                ..Lines::default()
            }),
            Condvar::new(),
        ));
        let (out, err) = (child.stdout.take().unwrap(), child.stderr.take().unwrap());
        let l2 = Arc::clone(&lines);
        std::thread::spawn(move || {
            let mut r = BufReader::new(out);
            loop {
                {
                    let mut g = l2.0.lock().unwrap();
                    while g.out.len() >= g.allowed {
                        g = l2.1.wait(g).unwrap();
                    }
                }
                let mut s = String::new();
                if r.read_line(&mut s).unwrap_or(0) == 0 {
                    break;
                }
                l2.0.lock().unwrap().out.push(s.trim_end().to_string());
                l2.1.notify_all();
            }
            l2.0.lock().unwrap().out_done = true;
            l2.1.notify_all();
        });
        let l3 = Arc::clone(&lines);
        std::thread::spawn(move || {
            for line in BufReader::new(err).lines() {
                let Ok(line) = line else { break };
                l3.0.lock().unwrap().err.push(line);
                l3.1.notify_all();
            }
        });
        Run { child, lines }
    }

    fn allow(&self, n: usize) {
        self.lines.0.lock().unwrap().allowed = n;
        self.lines.1.notify_all();
    }

    fn wait(&self, what: &str, mut cond: impl FnMut(&Lines) -> bool) {
        let end = Instant::now() + LONG;
        let mut g = self.lines.0.lock().unwrap();
        while !cond(&g) {
            let now = Instant::now();
            assert!(
                now < end,
                "timed out waiting for {what}; stderr so far:\n{}",
                g.err.join("\n")
            );
            g = self.lines.1.wait_timeout(g, end - now).unwrap().0;
        }
    }

    fn wait_stderr(&self, needle: &str) {
        self.wait(&format!("{needle:?} on stderr"), |l| {
            l.err.iter().any(|s| s.contains(needle))
        });
    }

    /// Waits until the frame loop is blocked writing to the stdout pipe.
    fn wait_blocked_on_stdout(&self) {
        // The JSON lines are written by the stdout sink's own thread; once
        // it blocks, the frame loop fills that sink's bounded queue and
        // waits too. Wait for a thread in pipe_write, then for the rest of
        // the process to come to rest (every thread sleeping).
        let tasks = format!("/proc/{}/task", self.child.id());
        let states = || -> Vec<(String, String)> {
            std::fs::read_dir(&tasks)
                .map(|d| {
                    d.filter_map(|e| e.ok())
                        .map(|e| {
                            let p = e.path();
                            let wchan =
                                std::fs::read_to_string(p.join("wchan")).unwrap_or_default();
                            let stat = std::fs::read_to_string(p.join("stat")).unwrap_or_default();
                            let state = stat
                                .rsplit_once(") ")
                                .map(|(_, r)| r[..1].to_string())
                                .unwrap_or_default();
                            (wchan, state)
                        })
                        .collect()
                })
                .unwrap_or_default()
        };
        wait_until(LONG, "the run to block on its stdout pipe", || {
            let s = states();
            s.iter().any(|(w, _)| w.contains("pipe_write")) && s.iter().all(|(_, st)| st != "R")
        });
        std::thread::sleep(Duration::from_millis(300));
        wait_until(LONG, "the run to come to rest", || {
            states().iter().all(|(_, st)| st != "R")
        });
    }

    /// Reads everything and waits for the exit.
    fn finish(mut self) -> (ExitStatus, Vec<Value>, Vec<String>) {
        self.allow(usize::MAX);
        self.wait("the end of stdout", |l| l.out_done);
        let end = Instant::now() + LONG;
        let status = loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                break s;
            }
            assert!(Instant::now() < end, "edgepose did not exit");
            std::thread::sleep(Duration::from_millis(20));
        };
        // The stderr reader ends with the pipe.
        std::thread::sleep(Duration::from_millis(100));
        let g = self.lines.0.lock().unwrap();
        let out = g
            .out
            .iter()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad JSON {l}: {e}")))
            .collect();
        (status, out, g.err.clone())
    }
}

impl Drop for Run {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The `edgepose: mqtt ...` summary line as key → count.
fn summary(err: &[String]) -> BTreeMap<String, u64> {
    let line = err
        .iter()
        .find(|l| l.starts_with("edgepose: mqtt "))
        .unwrap_or_else(|| panic!("no mqtt summary line in:\n{}", err.join("\n")));
    line.split_whitespace()
        .filter_map(|w| w.split_once('='))
        .map(|(k, v)| (k.to_string(), v.parse().unwrap()))
        .collect()
}

fn counts(pairs: &[(&str, u64)]) -> BTreeMap<String, u64> {
    pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect()
}

fn sink(port: u16, extra: &str) -> String {
    format!("mqtt://127.0.0.1:{port}?device_id=cam1&backoff_max=0.2&flush_timeout=60{extra}")
}

/// Lines edgepose itself wrote (not the log or the runtime's chatter).
fn own(err: &[String]) -> Vec<&String> {
    err.iter().filter(|l| l.starts_with("edgepose")).collect()
}

fn no_panic(err: &[String]) {
    assert!(
        !err.iter().any(|l| l.contains("panicked")),
        "panic:\n{}",
        err.join("\n")
    );
}

// ------------------------------------------------------------------ tests

/// Every frame is published, in order, equal to its stdout line; the
/// status is online (right model and runtime) while running and a
/// retained `offline`/`shutdown` after a clean exit.
#[test]
fn every_record_arrives_and_status_follows_the_run() {
    const F: usize = 12;
    let broker = Broker::start("allow_anonymous true");
    let sub = Sub::new(broker.port, "watcher", false);
    for qos in [1u8, 0, 2] {
        let interval = 0.1;
        let spec = sink(
            broker.port,
            &format!("&qos={qos}&status_interval={interval}"),
        );
        let t0 = Instant::now();
        let run = Run::start(F, &spec, &[], usize::MAX);
        let (status, out, err) = run.finish();
        let wall = t0.elapsed().as_secs_f64();
        assert!(status.success(), "{}", err.join("\n"));
        no_panic(&err);
        assert_eq!(out.len(), F);
        let mut want = counts(&[
            ("records", F as u64),
            ("published", F as u64),
            ("dropped", 0),
            ("reconnects", 0),
            ("resent", 0),
        ]);
        if qos > 0 {
            want.insert("acknowledged".into(), F as u64);
        }
        assert_eq!(summary(&err), want, "qos {qos}");

        // QoS 0 over loopback: nothing is lost either.
        sub.wait("all records", |ib| records(&ib.msgs).len() == F);
        let recs = sub.records();
        assert_eq!(seqs(&recs), (0..F as u64).collect::<Vec<_>>());
        for (r, o) in recs.iter().zip(&out) {
            assert_eq!(r, o, "published record differs from stdout");
        }
        // Not a feed of empty frames (tracks are confirmed after a frame or two).
        assert!(out
            .iter()
            .any(|o| !o["persons"].as_array().unwrap().is_empty()));

        sub.wait("the offline status", |ib| {
            ib.msgs
                .iter()
                .any(|m| m.topic.ends_with("/status") && m.payload["state"] == "offline")
        });
        let st = sub.statuses();
        let online = &st[0];
        assert_eq!(online["state"], "online", "{st:?}");
        assert_eq!(online["device_id"], "cam1");
        assert_eq!(online["model"], out[0]["model"]);
        assert_eq!(online["runtime"], out[0]["runtime"]);
        assert_eq!(online["topic"], "edgepose/cam1/poses");
        assert!(online["frames"].as_u64().unwrap() >= 1);
        // Renewed at most once per interval (plus the first), with
        // growing frame counts.
        let online: Vec<&Value> = st.iter().filter(|s| s["state"] == "online").collect();
        assert!(
            online.len() as f64 <= 2.0 + wall / interval,
            "{} online statuses in {wall:.2} s",
            online.len()
        );
        let frames: Vec<u64> = online
            .iter()
            .map(|s| s["frames"].as_u64().unwrap())
            .collect();
        assert!(frames.windows(2).all(|w| w[0] < w[1]), "{frames:?}");
        let last = st.last().unwrap();
        assert_eq!(last["state"], "offline");
        assert_eq!(last["reason"], "shutdown");
        assert_eq!(last["frames"], F as u64);
        assert_eq!(last["dropped"], 0);

        let kept = retained_status(broker.port);
        assert_eq!(kept.payload, *last);
        sub.clear();
    }
}

/// Broker down at start: the run goes on, keeps the newest `buffer`
/// records and delivers exactly those once the broker is up; the rest are
/// counted as dropped.
#[test]
fn broker_down_at_start_buffers_the_newest_records() {
    const F: usize = 30;
    const B: usize = 8;
    let mut broker = Broker::start("allow_anonymous true");
    // The subscriber's session is kept by the broker across the outage.
    let sub = Sub::new(broker.port, "watcher", true);
    broker.stop();

    let run = Run::start(
        F,
        &sink(broker.port, &format!("&buffer={B}")),
        &[],
        usize::MAX,
    );
    run.wait_stderr("not reachable");
    run.wait_stderr("waiting up to");
    broker.resume();
    let (status, out, err) = run.finish();
    assert!(status.success(), "{}", err.join("\n"));
    no_panic(&err);
    assert_eq!(
        summary(&err),
        counts(&[
            ("records", F as u64),
            ("published", B as u64),
            ("acknowledged", B as u64),
            ("dropped", (F - B) as u64),
            ("reconnects", 0),
            ("resent", 0),
        ])
    );
    sub.wait("the buffered records", |ib| records(&ib.msgs).len() >= B);
    std::thread::sleep(Duration::from_millis(300));
    let recs = sub.records();
    assert_eq!(seqs(&recs), ((F - B) as u64..F as u64).collect::<Vec<_>>());
    for r in &recs {
        assert_eq!(r, &out[r["seq"].as_u64().unwrap() as usize]);
    }
    let kept = retained_status(broker.port);
    assert_eq!(kept.payload["state"], "offline");
    assert_eq!(kept.payload["dropped"], (F - B) as u64);
}

/// Broker restarted mid-run (stopped while the run is paused, started
/// again when the run is waiting at its end): what was delivered before
/// stays, the newest `buffer` records arrive after the restart, everything
/// in between is counted as dropped, and one reconnect is reported.
#[test]
fn broker_restart_mid_run_keeps_the_accounting() {
    const F: usize = 80;
    const B: usize = 8;
    let mut broker = Broker::start("allow_anonymous true");
    let sub = Sub::new(broker.port, "watcher", true);
    let run = Run::start(F, &sink(broker.port, &format!("&buffer={B}")), &[], 5);
    run.wait("5 stdout lines", |l| l.out.len() == 5);
    run.wait_blocked_on_stdout();
    // Everything emitted before the pause reaches the subscriber.
    let mut last = (usize::MAX, Instant::now());
    wait_until(LONG, "the delivered records to settle", || {
        let n = sub.records().len();
        if n != last.0 {
            last = (n, Instant::now());
        }
        n > 0 && last.1.elapsed() > Duration::from_millis(500)
    });
    let m = sub.records().len();
    assert_eq!(seqs(&sub.records()), (0..m as u64).collect::<Vec<_>>());
    assert!(
        m + B < F,
        "the run got too far before the pause ({m} records)"
    );

    broker.stop();
    run.allow(usize::MAX);
    run.wait_stderr("waiting up to");
    broker.resume();
    let (status, out, err) = run.finish();
    assert!(status.success(), "{}", err.join("\n"));
    no_panic(&err);
    let got = summary(&err);
    assert_eq!(got["records"], F as u64);
    assert_eq!(got["acknowledged"], (m + B) as u64, "{got:?}");
    assert_eq!(got["dropped"], (F - B - m) as u64, "{got:?}");
    assert_eq!(got["reconnects"], 1, "{got:?}");
    assert!(got["published"] >= got["acknowledged"], "{got:?}");

    sub.wait("the buffered records", |ib| {
        records(&ib.msgs).len() >= m + B
    });
    std::thread::sleep(Duration::from_millis(300));
    let recs = sub.records();
    let mut want: Vec<u64> = (0..m as u64).collect();
    want.extend((F - B) as u64..F as u64);
    assert_eq!(seqs(&recs), want);
    for r in &recs {
        assert_eq!(r, &out[r["seq"].as_u64().unwrap() as usize]);
    }
    // The status was renewed on the reconnect.
    let st = sub.statuses();
    assert!(
        st.iter()
            .any(|s| s["state"] == "online" && s["reconnects"] == 1),
        "{st:?}"
    );
}

/// Credentials rejected after a broker restart: logged once, counted,
/// retried; the run still ends normally and what could not be delivered
/// is counted as dropped.
#[test]
fn credentials_rejected_mid_run_are_logged_and_counted() {
    const F: usize = 40;
    let mut broker = Broker::start("allow_anonymous true");
    let sub = Sub::new(broker.port, "watcher", false);
    let spec = format!(
        "mqtt://127.0.0.1:{}?device_id=cam1&backoff_max=0.1&flush_timeout=1&buffer=8",
        broker.port
    );
    let run = Run::start(F, &spec, &[], 3);
    run.wait("3 stdout lines", |l| l.out.len() == 3);
    run.wait_blocked_on_stdout();
    let mut last = (usize::MAX, Instant::now());
    wait_until(LONG, "the delivered records to settle", || {
        let n = sub.records().len();
        if n != last.0 {
            last = (n, Instant::now());
        }
        n > 0 && last.1.elapsed() > Duration::from_millis(500)
    });
    let m = sub.records().len();
    drop(sub);
    broker.stop();
    must_have(MOSQUITTO_PASSWD);
    let pw = broker.path("passwd");
    assert!(Command::new(MOSQUITTO_PASSWD)
        .args(["-b", "-c"])
        .arg(&pw)
        .args(["someone", "else"])
        .status()
        .unwrap()
        .success());
    broker.reconfigure(&format!(
        "allow_anonymous false\npassword_file {}",
        pw.display()
    ));
    broker.resume();
    run.allow(usize::MAX);
    let (status, _, err) = run.finish();
    assert!(status.success(), "{}", err.join("\n"));
    no_panic(&err);
    let refusals = err
        .iter()
        .filter(|l| l.contains("refused the connection: not authorized"))
        .count();
    assert_eq!(refusals, 1, "logged once per outage:\n{}", err.join("\n"));
    let got = summary(&err);
    assert!(got["refused"] >= 1, "{got:?}");
    assert_eq!(got["acknowledged"], m as u64, "{got:?}");
    assert_eq!(got["dropped"], (F - m) as u64, "{got:?}");
    assert_eq!(got["records"], F as u64, "{got:?}");
}

/// A killed process leaves the retained last will: offline, connection lost.
#[test]
fn last_will_marks_a_killed_run_offline() {
    let broker = Broker::start("allow_anonymous true");
    let sub = Sub::new(broker.port, "watcher", false);
    let mut run = Run::start(40, &sink(broker.port, ""), &[], 2);
    run.wait("2 stdout lines", |l| l.out.len() == 2);
    sub.wait("online status and a record", |ib| {
        !records(&ib.msgs).is_empty()
            && ib
                .msgs
                .iter()
                .any(|m| m.topic.ends_with("/status") && m.payload["state"] == "online")
    });
    unsafe { libc::kill(run.child.id() as i32, libc::SIGKILL) };
    let _ = run.child.wait();
    sub.wait("the last will", |ib| {
        ib.msgs
            .iter()
            .any(|m| m.topic.ends_with("/status") && m.payload["state"] == "offline")
    });
    let will = sub.statuses().pop().unwrap();
    assert_eq!(
        will,
        serde_json::json!({"state": "offline", "device_id": "cam1", "reason": "connection lost"})
    );
    assert_eq!(retained_status(broker.port).payload, will);
}

fn passwd_broker() -> Broker {
    must_have(MOSQUITTO_PASSWD);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("passwd");
    let ok = Command::new(MOSQUITTO_PASSWD)
        .args(["-b", "-c"])
        .arg(&file)
        .args(["edge", "s3cret"])
        .status()
        .unwrap();
    assert!(ok.success());
    let b = Broker::start(&format!(
        "allow_anonymous false\npassword_file {}",
        file.display()
    ));
    std::fs::copy(&file, b.path("passwd.keep")).unwrap();
    b
}

/// Wrong credentials fail the run at start with one clear line; the right
/// ones (from a file or the environment) get through.
#[test]
fn credentials_are_checked_at_start() {
    let broker = passwd_broker();
    for (extra, envs) in [
        ("&username=edge", vec![("EDGEPOSE_MQTT_PASSWORD", "wrong")]),
        (
            "&username=nobody",
            vec![("EDGEPOSE_MQTT_PASSWORD", "s3cret")],
        ),
        ("", vec![]),
    ] {
        let run = Run::start(3, &sink(broker.port, extra), &envs, usize::MAX);
        let (status, out, err) = run.finish();
        assert!(!status.success(), "{extra}: run succeeded");
        assert!(out.is_empty(), "{extra}: frames ran: {out:?}");
        no_panic(&err);
        let own = own(&err);
        assert_eq!(own.len(), 1, "{extra}: {err:?}");
        assert!(
            own[0].contains(&format!("MQTT broker 127.0.0.1:{}", broker.port))
                && own[0].contains("refused the connection: not authorized"),
            "{extra}: {}",
            own[0]
        );
    }

    let sub_pw = broker.path("sub-password");
    std::fs::write(&sub_pw, "s3cret\n").unwrap();
    for (extra, envs) in [
        (
            format!("&username=edge&password_file={}", sub_pw.display()),
            vec![],
        ),
        (
            "&username=edge".to_string(),
            vec![("EDGEPOSE_MQTT_PASSWORD", "s3cret")],
        ),
    ] {
        let run = Run::start(3, &sink(broker.port, &extra), &envs, usize::MAX);
        let (status, _, err) = run.finish();
        assert!(status.success(), "{extra}: {}", err.join("\n"));
        assert_eq!(summary(&err)["acknowledged"], 3, "{extra}");
    }
}

/// A password on the command line is refused before anything starts.
#[test]
fn password_on_the_command_line_is_refused() {
    let run = Run::start(
        1,
        "mqtt://127.0.0.1:1?device_id=cam1&username=u&password=x",
        &[],
        usize::MAX,
    );
    let (status, _, err) = run.finish();
    assert!(!status.success());
    no_panic(&err);
    let own = own(&err);
    assert_eq!(own.len(), 1, "{err:?}");
    assert!(own[0].contains("password= is not accepted"), "{}", own[0]);
    assert!(own[0].contains("EDGEPOSE_MQTT_PASSWORD"), "{}", own[0]);
}

/// Makes a CA and a certificate it signs (for `cn`, with SAN
/// IP:127.0.0.1) with openssl.
fn openssl_pair(dir: &Path, name: &str, ca: Option<(&Path, &Path)>) -> (PathBuf, PathBuf) {
    let key = dir.join(format!("{name}.key"));
    let crt = dir.join(format!("{name}.crt"));
    let run = |args: &[&str]| {
        let o = Command::new("openssl")
            .args(args)
            .output()
            .expect("openssl");
        assert!(
            o.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    };
    let (k, c) = (key.to_str().unwrap(), crt.to_str().unwrap());
    match ca {
        None => run(&[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-days",
            "2",
            "-subj",
            &format!("/CN={name}"),
            "-keyout",
            k,
            "-out",
            c,
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ]),
        Some((ca_crt, ca_key)) => {
            let csr = dir.join(format!("{name}.csr"));
            let ext = dir.join(format!("{name}.ext"));
            std::fs::write(
                &ext,
                "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n\
                 keyUsage=digitalSignature\nextendedKeyUsage=serverAuth,clientAuth\n",
            )
            .unwrap();
            run(&[
                "req",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-nodes",
                "-subj",
                &format!("/CN={name}"),
                "-keyout",
                k,
                "-out",
                csr.to_str().unwrap(),
            ]);
            run(&[
                "x509",
                "-req",
                "-in",
                csr.to_str().unwrap(),
                "-CA",
                ca_crt.to_str().unwrap(),
                "-CAkey",
                ca_key.to_str().unwrap(),
                "-CAcreateserial",
                "-days",
                "2",
                "-extfile",
                ext.to_str().unwrap(),
                "-out",
                c,
            ]);
        }
    }
    (crt, key)
}

/// TLS with a CA file and a client certificate (the broker requires one);
/// a CA that did not sign the broker's certificate, or no client
/// certificate, fails at start.
#[test]
fn tls_with_ca_and_client_certificate() {
    let pki = tempfile::tempdir().unwrap();
    let (ca, ca_key) = openssl_pair(pki.path(), "test-ca", None);
    let (server, server_key) = openssl_pair(pki.path(), "broker", Some((&ca, &ca_key)));
    let (client, client_key) = openssl_pair(pki.path(), "cam1", Some((&ca, &ca_key)));
    let (other_ca, _) = openssl_pair(pki.path(), "other-ca", None);
    // A plain listener for the test's subscriber, a TLS one for edgepose.
    let tls_port = free_port();
    let broker = Broker::start(&format!(
        "allow_anonymous true\n\
         listener {tls_port} 127.0.0.1\n\
         cafile {}\ncertfile {}\nkeyfile {}\nrequire_certificate true\n",
        ca.display(),
        server.display(),
        server_key.display()
    ));
    wait_until(Duration::from_secs(10), "the TLS listener", || {
        TcpStream::connect(("127.0.0.1", tls_port)).is_ok()
    });
    let sub = Sub::new(broker.port, "watcher", false);
    let spec = |ca: &Path| {
        format!(
            "mqtt://127.0.0.1:{tls_port}?device_id=cam1&tls=true&ca={}&cert={}&key={}&flush_timeout=60",
            ca.display(),
            client.display(),
            client_key.display()
        )
    };
    let run = Run::start(4, &spec(&ca), &[], usize::MAX);
    let (status, out, err) = run.finish();
    assert!(status.success(), "{}", err.join("\n"));
    assert_eq!(summary(&err)["acknowledged"], 4);
    sub.wait("the records", |ib| records(&ib.msgs).len() == 4);
    assert_eq!(sub.records(), out);

    // A CA that did not sign the broker's certificate; no client certificate.
    let no_client_cert = format!(
        "mqtt://127.0.0.1:{tls_port}?device_id=cam1&tls=true&ca={}",
        ca.display()
    );
    for (spec, why) in [
        (spec(&other_ca), "UnknownIssuer"),
        (no_client_cert, "CertificateRequired"),
    ] {
        let run = Run::start(2, &spec, &[], usize::MAX);
        let (status, out, err) = run.finish();
        assert!(!status.success());
        assert!(out.is_empty());
        no_panic(&err);
        let own = own(&err);
        assert_eq!(own.len(), 1, "{err:?}");
        assert!(
            own[0].contains(&format!("MQTT broker 127.0.0.1:{tls_port}: TLS:"))
                && own[0].contains(why),
            "{}",
            own[0]
        );
    }

    // TLS to the plain-text listener: a failure at start, not a broker to
    // buffer for (it used to be taken as unreachable and exit 0 after the
    // flush timeout).
    let plain = format!(
        "mqtt://127.0.0.1:{}?device_id=cam1&tls=true&ca={}&flush_timeout=60",
        broker.port,
        ca.display()
    );
    let t0 = Instant::now();
    let run = Run::start(2, &plain, &[], usize::MAX);
    let (status, out, err) = run.finish();
    assert!(!status.success(), "{}", err.join("\n"));
    assert!(out.is_empty());
    no_panic(&err);
    let own = own(&err);
    assert_eq!(own.len(), 1, "{err:?}");
    assert!(
        own[0].contains(&format!(
            "MQTT broker 127.0.0.1:{}: TLS handshake failed: the broker closed the connection",
            broker.port
        )) && own[0].contains("is this a plain-text MQTT port?"),
        "{}",
        own[0]
    );
    assert!(t0.elapsed() < Duration::from_secs(30), "{:?}", t0.elapsed());
}
