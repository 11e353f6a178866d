//! Hostile and broken input, as a new user or an attacker would give it:
//! each must end in one line naming the thing and what was expected, a
//! non-zero exit, nothing half-written, and stay within a small memory
//! bound (peak RSS measured with `wait4`, printed with `--nocapture`;
//! docs/robustness.md holds the table). Also the panic hook: what is left
//! of a bug is one line and exit code 70.

mod common;

use std::process::Output;

use common::bare;
use common::rss::run_measured;

/// The `edgepose:` lines of stderr.
fn own_lines(out: &Output) -> Vec<String> {
    common::own_stderr(out)
}

#[test]
fn a_panic_is_one_line_and_exit_70_on_any_thread() {
    for (where_, needle) in [
        ("main", "test panic on the main thread second line"),
        ("thread", "test panic on another thread"),
    ] {
        // Not through common::run, which fails on exit 70 by design.
        let out = bare()
            .env("EDGEPOSE_TEST_PANIC", where_)
            .env_remove("RUST_BACKTRACE")
            .env_remove("EDGEPOSE_BACKTRACE")
            .arg("models")
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(70), "{where_}: {err}");
        let lines: Vec<&str> = err.lines().collect();
        assert_eq!(lines.len(), 1, "{where_}: one line: {err}");
        assert!(
            lines[0].starts_with("edgepose: internal error, a bug in edgepose")
                && lines[0].contains(needle)
                && lines[0].contains("src/main.rs:")
                && lines[0].contains("EDGEPOSE_BACKTRACE=1"),
            "{err}"
        );
        assert!(!err.contains("stack backtrace"), "{err}");
    }
    // Developers get Rust's own message and backtrace as well.
    let out = bare()
        .env("EDGEPOSE_TEST_PANIC", "main")
        .env("EDGEPOSE_BACKTRACE", "1")
        .env_remove("RUST_BACKTRACE")
        .arg("models")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(70), "{err}");
    assert!(err.starts_with("panicked at src/main.rs"), "{err}");
    assert!(err.contains("stack backtrace"), "{err}");
    assert!(err
        .lines()
        .last()
        .unwrap()
        .starts_with("edgepose: internal error"));
    let _ = (own_lines, run_measured);
}
