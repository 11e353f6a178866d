//! systemd notifications from `edgepose run` (src/notify.rs), received on a
//! real `NOTIFY_SOCKET` unix datagram socket as systemd would: `READY=1`
//! once the model is loaded and before any frame, `WATCHDOG=1` from the
//! frame loop at most every half `WATCHDOG_USEC`, nothing for a watchdog
//! meant for another process (`WATCHDOG_PID`), and no `READY=1` from a run
//! that fails to start.

mod common;

use std::os::unix::net::UnixDatagram;
use std::process::{Output, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::{edgepose, sample};

const FRAMES: usize = 4;

/// Runs `edgepose run` over `FRAMES` images with `NOTIFY_SOCKET` pointing at
/// a fresh socket and `env` set; returns its output and every datagram.
fn run_notified(env: &[(&str, &str)], model: Option<&str>) -> (Output, Vec<String>) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notify.sock");
    let sock = UnixDatagram::bind(&path).unwrap();
    sock.set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    // Read while the child runs: a datagram queue holds only a few messages
    // and a full one would block the sender.
    let done = Arc::new(AtomicBool::new(false));
    let reader = {
        let done = Arc::clone(&done);
        std::thread::spawn(move || {
            let mut got = Vec::new();
            let mut buf = [0u8; 512];
            loop {
                match sock.recv(&mut buf) {
                    Ok(n) => got.push(String::from_utf8_lossy(&buf[..n]).into_owned()),
                    Err(_) if done.load(Ordering::SeqCst) => break,
                    Err(_) => {}
                }
            }
            got
        })
    };
    let mut cmd = edgepose(common::primary());
    if let Some(m) = model {
        cmd.args(["--model", m]);
    }
    cmd.args(["run", "--quiet", "--no-track"]);
    for i in 0..FRAMES {
        let name = if i % 2 == 0 { "bus.jpg" } else { "zidane.jpg" };
        cmd.arg("--source").arg(sample(&format!("samples/{name}")));
    }
    cmd.env("NOTIFY_SOCKET", &path)
        .env_remove("WATCHDOG_USEC")
        .env_remove("WATCHDOG_PID")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd
        .spawn()
        .expect("start edgepose")
        .wait_with_output()
        .unwrap();
    done.store(true, Ordering::SeqCst);
    let got = reader.join().unwrap();
    (out, got)
}

fn ok(out: &Output) {
    assert!(
        out.status.success(),
        "edgepose run failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn ready_once_then_a_watchdog_ping_per_frame_when_the_period_is_tiny() {
    // 2 µs: half of it has always passed by the next frame.
    let (out, got) = run_notified(&[("WATCHDOG_USEC", "2")], None);
    ok(&out);
    let mut want = vec!["READY=1\n".to_string()];
    want.extend(std::iter::repeat_n("WATCHDOG=1\n".to_string(), FRAMES));
    assert_eq!(got, want);
}

#[test]
fn watchdog_pings_are_rate_limited_to_half_the_period() {
    // One hour: the first frame pings, the next ones are well inside the
    // half period.
    let (out, got) = run_notified(&[("WATCHDOG_USEC", "3600000000")], None);
    ok(&out);
    assert_eq!(got, ["READY=1\n", "WATCHDOG=1\n"]);
}

#[test]
fn no_watchdog_pings_without_a_watchdog_for_this_process() {
    let (out, got) = run_notified(&[], None);
    ok(&out);
    assert_eq!(got, ["READY=1\n"], "no WATCHDOG_USEC");
    // systemd's watchdog for another process (pid 1 is never edgepose here).
    let (out, got) = run_notified(&[("WATCHDOG_USEC", "2"), ("WATCHDOG_PID", "1")], None);
    ok(&out);
    assert_eq!(got, ["READY=1\n"], "WATCHDOG_PID of another process");
}

#[test]
fn no_ready_when_the_model_cannot_be_loaded() {
    let (out, got) = run_notified(&[("WATCHDOG_USEC", "2")], Some("/nonexistent/pose.tflite"));
    assert_eq!(out.status.code(), Some(1));
    assert!(got.is_empty(), "{got:?}");
}
