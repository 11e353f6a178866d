//! Peak memory of an edgepose child: its own `ru_maxrss` from `wait4`, so
//! other tests' children running at the same time do not count. For the
//! bad-input tests (tests/model_input.rs, tests/bad_input.rs), whose numbers
//! docs/robustness.md holds.

use std::io::Read;
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, ExitStatus, Output, Stdio};

/// Runs `cmd` and returns its output and peak RSS in KiB. Like
/// [`super::run`], exit code 70 (a panic) fails the test.
pub fn run_measured(cmd: &mut Command) -> (Output, u64) {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start edgepose");
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let mut so = child.stdout.take().unwrap();
    let mut se = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        se.read_to_end(&mut err).unwrap();
        err
    });
    so.read_to_end(&mut out).unwrap();
    let err = reader.join().unwrap();
    let mut status = 0;
    // SAFETY: an all-zero rusage is a valid value to be overwritten.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: waits for our own child, once; `child` is not waited for again.
    let pid = unsafe { libc::wait4(child.id() as i32, &mut status, 0, &mut usage) };
    assert_eq!(pid, child.id() as i32, "wait4");
    drop(child);
    let output = Output {
        status: ExitStatus::from_raw(status),
        stdout: out,
        stderr: err,
    };
    assert_ne!(
        output.status.code(),
        Some(70),
        "edgepose panicked: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    (output, usage.ru_maxrss as u64)
}
