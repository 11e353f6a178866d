//! systemd notifications from `edgepose run` (src/notify.rs), received on a
//! real `NOTIFY_SOCKET` unix datagram socket as systemd would: `READY=1`
//! once the model is loaded and before any frame, `WATCHDOG=1` from the
//! frame loop at most every half `WATCHDOG_USEC`, nothing for a watchdog
//! meant for another process (`WATCHDOG_PID`), and no `READY=1` from a run
//! that fails to start. The watchdog and a lost camera agree: pings go on
//! (never a full period apart) while the camera is retried for `give_up_s`,
//! then the run exits 4; a hung invoke (the test delegate's kernel that
//! never returns) stops them while the process lives on.

mod common;

use std::os::unix::net::UnixDatagram;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use common::{edgepose, sample, test_delegate, Flavour};

const FRAMES: usize = 4;

/// A `NOTIFY_SOCKET` as systemd has it: a datagram socket, read while the
/// child runs (a datagram queue holds only a few messages and a full one
/// would block the sender); every message with its arrival time.
struct Socket {
    _dir: tempfile::TempDir,
    path: PathBuf,
    got: Arc<Mutex<Vec<(Instant, String)>>>,
    done: Arc<AtomicBool>,
    reader: JoinHandle<()>,
}

impl Socket {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notify.sock");
        let sock = UnixDatagram::bind(&path).unwrap();
        sock.set_read_timeout(Some(Duration::from_millis(20)))
            .unwrap();
        let got = Arc::new(Mutex::new(Vec::new()));
        let done = Arc::new(AtomicBool::new(false));
        let reader = {
            let (got, done) = (Arc::clone(&got), Arc::clone(&done));
            std::thread::spawn(move || {
                let mut buf = [0u8; 512];
                loop {
                    match sock.recv(&mut buf) {
                        Ok(n) => got.lock().unwrap().push((
                            Instant::now(),
                            String::from_utf8_lossy(&buf[..n]).into_owned(),
                        )),
                        Err(_) if done.load(Ordering::SeqCst) => break,
                        Err(_) => {}
                    }
                }
            })
        };
        Self {
            _dir: dir,
            path,
            got,
            done,
            reader,
        }
    }

    /// `cmd` notifying this socket, with `env` and no inherited watchdog.
    fn attach(&self, cmd: &mut Command, env: &[(&str, &str)]) {
        cmd.env("NOTIFY_SOCKET", &self.path)
            .env_remove("WATCHDOG_USEC")
            .env_remove("WATCHDOG_PID")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in env {
            cmd.env(k, v);
        }
    }

    fn count(&self, msg: &str) -> usize {
        self.got
            .lock()
            .unwrap()
            .iter()
            .filter(|(_, m)| m == msg)
            .count()
    }

    /// Every message so far, with its arrival time.
    fn finish(self) -> Vec<(Instant, String)> {
        self.done.store(true, Ordering::SeqCst);
        self.reader.join().unwrap();
        std::mem::take(&mut *self.got.lock().unwrap())
    }
}

/// Runs `edgepose run` over `FRAMES` images with `NOTIFY_SOCKET` pointing at
/// a fresh socket and `env` set; returns its output and every datagram.
fn run_notified(env: &[(&str, &str)], model: Option<&str>) -> (Output, Vec<String>) {
    let socket = Socket::new();
    let mut cmd = edgepose(common::primary());
    if let Some(m) = model {
        cmd.args(["--model", m]);
    }
    cmd.args(["run", "--quiet", "--no-track"]);
    for i in 0..FRAMES {
        let name = if i % 2 == 0 { "bus.jpg" } else { "zidane.jpg" };
        cmd.arg("--source").arg(sample(&format!("samples/{name}")));
    }
    socket.attach(&mut cmd, env);
    let out = cmd
        .spawn()
        .expect("start edgepose")
        .wait_with_output()
        .unwrap();
    let got = socket.finish().into_iter().map(|(_, m)| m).collect();
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

/// The unit's watchdog against the documented reconnect: a camera that is
/// gone is retried for `give_up_s` (here 6 s) with the watchdog at 2 s, and
/// systemd must not kill the service meanwhile: READY=1, then pings never a
/// full period apart until the run gives up with exit code 4. The camera is
/// a V4L2 path with no device behind it, so every open fails as for an
/// unplugged camera (the same retry loop: lost, reopen with backoff).
#[test]
fn the_watchdog_is_fed_while_a_lost_camera_is_retried_until_give_up() {
    const PERIOD: Duration = Duration::from_secs(2);
    let dir = tempfile::tempdir().unwrap();
    let camera = dir.path().join("video0");
    let socket = Socket::new();
    let mut cmd = edgepose(common::primary());
    cmd.args(["run", "--quiet", "--source"])
        .arg(format!("v4l2:{}?give_up_s=6", camera.display()));
    socket.attach(&mut cmd, &[("WATCHDOG_USEC", "2000000")]);
    let out = cmd
        .spawn()
        .expect("start edgepose")
        .wait_with_output()
        .unwrap();
    let exited = Instant::now();
    let got = socket.finish();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(4), "{stderr}");
    assert!(stderr.contains("has been gone for"), "{stderr}");
    let names: Vec<&str> = got.iter().map(|(_, m)| m.as_str()).collect();
    assert_eq!(names.first(), Some(&"READY=1\n"), "{names:?}");
    assert!(names[1..].iter().all(|m| *m == "WATCHDOG=1\n"), "{names:?}");
    // 6 s of retries at one ping per second (half the period): about 6.
    let pings = names.len() - 1;
    assert!(pings >= 4, "{names:?}");
    let times: Vec<Instant> = got.iter().map(|(t, _)| *t).collect();
    let gaps: Vec<Duration> = times.windows(2).map(|w| w[1] - w[0]).collect();
    println!(
        "pings while the camera was retried: {pings}, gaps {:?}, last ping {:?} before the exit",
        gaps,
        exited - times[times.len() - 1]
    );
    for (i, g) in gaps.iter().enumerate() {
        assert!(
            *g < PERIOD,
            "gap {i} of {g:?} between notifications: systemd would have killed the service ({gaps:?})"
        );
    }
}

/// A frame loop that hangs stops the pings while the process is still
/// alive: the test delegate's kernel never returns after the first two
/// frames (`hang_after`), so after their two pings nothing comes, however
/// long the process lives on, and systemd would restart it.
#[test]
fn a_hung_invoke_stops_the_watchdog_pings() {
    let dir = tempfile::tempdir().unwrap();
    let delegate = |options: &[String]| {
        let mut c = edgepose(Flavour::Classic);
        c.arg("--delegate").arg(test_delegate());
        for o in options {
            c.arg("--delegate-option").arg(o);
        }
        c.args(["run", "--quiet", "--no-track"]);
        c
    };
    // Kernel runs per frame, from the delegate's own record of one frame.
    let record = dir.path().join("record.txt");
    let out = common::run(
        delegate(&[format!("record={}", record.display())])
            .arg("--source")
            .arg(sample("samples/bus.jpg")),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(&record).unwrap();
    let per_frame: u64 = text
        .lines()
        .find_map(|l| l.strip_prefix("invokes "))
        .unwrap_or_else(|| panic!("no invokes line in {text}"))
        .parse()
        .unwrap();
    assert!(per_frame > 0, "{text}");

    let socket = Socket::new();
    let mut cmd = delegate(&[format!("hang_after={}", 2 * per_frame)]);
    for i in 0..6 {
        let name = if i % 2 == 0 { "bus.jpg" } else { "zidane.jpg" };
        cmd.arg("--source").arg(sample(&format!("samples/{name}")));
    }
    // 2 µs: every processed frame pings.
    socket.attach(&mut cmd, &[("WATCHDOG_USEC", "2")]);
    cmd.stdout(Stdio::null()).stderr(Stdio::null());
    let mut child = cmd.spawn().expect("start edgepose");
    let deadline = Instant::now() + Duration::from_secs(120);
    while socket.count("WATCHDOG=1\n") < 2 {
        assert!(
            child.try_wait().unwrap().is_none(),
            "the run ended before its invoke hung"
        );
        assert!(Instant::now() < deadline, "no two frames within 120 s");
        std::thread::sleep(Duration::from_millis(20));
    }
    // Many periods later the process is alive, hung in the third invoke.
    std::thread::sleep(Duration::from_secs(2));
    let alive = child.try_wait().unwrap().is_none();
    child.kill().unwrap();
    child.wait().unwrap();
    let got: Vec<String> = socket.finish().into_iter().map(|(_, m)| m).collect();
    assert!(alive, "the hung run must still be running");
    assert_eq!(got, ["READY=1\n", "WATCHDOG=1\n", "WATCHDOG=1\n"]);
}
