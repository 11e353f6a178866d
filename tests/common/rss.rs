//! Peak memory of an edgepose child, for the bad-input tests
//! (tests/model_input.rs, tests/bad_input.rs), whose numbers
//! docs/robustness.md holds.
//!
//! The child's own `ru_maxrss` from `wait4` is not enough when the child is
//! started straight from the test process: at `exec` Linux records the high
//! water mark of the memory the new program replaces, and a child spawned
//! from a test binary replaces the test binary's (shared with it during
//! `vfork`, or copied by `fork`), so every child would report at least the
//! test process's own peak (hundreds of MB once other tests have run in
//! it). So the child is started through a small Python process that forks
//! and execs it and reports its `ru_maxrss`: what is inherited then is only
//! that Python process's few MB.

use std::io::Read;
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, ExitStatus, Output, Stdio};

/// Forks, execs argv[2:], waits, writes the child's ru_maxrss (KiB) to the
/// file argv[1] and exits as the child did.
const REAPER: &str = "import os, sys
pid = os.fork()
if pid == 0:
    try:
        os.execvp(sys.argv[2], sys.argv[2:])
    finally:
        os._exit(127)
_, status, ru = os.wait4(pid, 0)
open(sys.argv[1], 'w').write(str(ru.ru_maxrss))
code = os.waitstatus_to_exitcode(status)
os._exit(code if code >= 0 else 128 - code)
";

/// Runs `cmd` and returns its output and peak RSS in KiB. Like
/// [`super::run`], exit code 70 (a panic) fails the test.
pub fn run_measured(cmd: &mut Command) -> (Output, u64) {
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("maxrss");
    let mut wrapped = Command::new("python3");
    wrapped
        .arg("-c")
        .arg(REAPER)
        .arg(&report)
        .arg(cmd.get_program())
        .args(cmd.get_args());
    for (k, v) in cmd.get_envs() {
        match v {
            Some(v) => wrapped.env(k, v),
            None => wrapped.env_remove(k),
        };
    }
    if let Some(d) = cmd.get_current_dir() {
        wrapped.current_dir(d);
    }
    let mut child = wrapped
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start python3 (it starts edgepose and measures its memory)");
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let mut so = child.stdout.take().unwrap();
    let mut se = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        se.read_to_end(&mut err).unwrap();
        err
    });
    so.read_to_end(&mut out).unwrap();
    let err = reader.join().unwrap();
    let status = child.wait().unwrap();
    let rss = std::fs::read_to_string(&report)
        .unwrap_or_else(|e| {
            panic!(
                "no peak RSS from the python3 reaper ({e}): {}",
                String::from_utf8_lossy(&err)
            )
        })
        .trim()
        .parse()
        .unwrap();
    let output = Output {
        status: ExitStatus::from_raw(status.into_raw()),
        stdout: out,
        stderr: err,
    };
    assert_ne!(
        output.status.code(),
        Some(70),
        "edgepose panicked: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    (output, rss)
}
