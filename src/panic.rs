//! What a panic does in the edgepose binary. A panic is a bug in edgepose,
//! never the answer to bad input (that is a one-line error and exit 1), but
//! if one is left it must still end as the rest do: one line on stderr and a
//! distinct exit code ([`EXIT_CODE`], 70, `EX_SOFTWARE`), from whatever
//! thread it happens on. The process ends right there, so a thread that dies
//! cannot leave the others waiting for it.
//!
//! `EDGEPOSE_BACKTRACE=1` (or `RUST_BACKTRACE` set to anything but `0`)
//! prints the full panic message and a backtrace before that line, for
//! developers. The hook is installed by `main` only: unit tests keep Rust's
//! own panics, and the integration tests treat exit 70 as a failure
//! (`tests/common`).
//!
//! [`catch`] is for the few places that expect a library to panic and
//! recover from it (the `v4l` crate's destructors on a vanished camera):
//! such a panic is logged and unwinds to the caller instead of ending the
//! process.

use std::any::Any;
use std::cell::Cell;
use std::panic::PanicHookInfo;

/// Exit code of a process that panicked (`EX_SOFTWARE` of sysexits.h).
pub const EXIT_CODE: i32 = 70;

thread_local! {
    /// Depth of [`catch`] calls on this thread.
    static CATCHING: Cell<u32> = const { Cell::new(0) };
}

/// Installs the hook: one line and exit code [`EXIT_CODE`] for any panic
/// outside [`catch`].
pub fn install() {
    let verbose = wants_backtrace(
        std::env::var("EDGEPOSE_BACKTRACE").ok().as_deref(),
        std::env::var("RUST_BACKTRACE").ok().as_deref(),
    );
    std::panic::set_hook(Box::new(move |info| {
        if CATCHING.with(Cell::get) > 0 {
            log::warn!("caught: {}", describe(info));
            return;
        }
        if verbose {
            let trace = std::backtrace::Backtrace::force_capture();
            eprintln!("{info}\nstack backtrace:\n{trace}");
        }
        eprintln!("{}", line(info, verbose));
        std::process::exit(EXIT_CODE);
    }));
}

/// Runs `f`, turning a panic inside it into `Err` (logged as a warning, not
/// the end of the process).
pub fn catch<R>(f: impl FnOnce() -> R) -> Result<R, Box<dyn Any + Send>> {
    CATCHING.with(|c| c.set(c.get() + 1));
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
    CATCHING.with(|c| c.set(c.get() - 1));
    r
}

/// True when a developer asked for Rust's full panic output.
fn wants_backtrace(edgepose: Option<&str>, rust: Option<&str>) -> bool {
    let on = |v: Option<&str>| v.is_some_and(|v| !v.is_empty() && v != "0");
    on(edgepose) || on(rust)
}

/// The panic's message and where it happened, on one line.
fn describe(info: &PanicHookInfo<'_>) -> String {
    let payload = info.payload();
    let msg = payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("(no message)");
    let msg = msg.split_whitespace().collect::<Vec<_>>().join(" ");
    let thread = std::thread::current();
    let thread = thread.name().unwrap_or("unnamed");
    match info.location() {
        Some(l) => format!("{msg} (at {}:{}, thread {thread})", l.file(), l.line()),
        None => format!("{msg} (thread {thread})"),
    }
}

fn line(info: &PanicHookInfo<'_>, verbose: bool) -> String {
    let hint = if verbose {
        ""
    } else {
        "; EDGEPOSE_BACKTRACE=1 shows the backtrace"
    };
    format!(
        "edgepose: internal error, a bug in edgepose (please report it): {}{hint}",
        describe(info)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backtrace_switches() {
        assert!(!wants_backtrace(None, None));
        assert!(!wants_backtrace(Some("0"), Some("0")));
        assert!(!wants_backtrace(Some(""), None));
        assert!(wants_backtrace(Some("1"), None));
        assert!(wants_backtrace(None, Some("full")));
    }

    #[test]
    fn catch_returns_the_panic() {
        let r = catch(|| -> u8 { panic!("boom") });
        assert!(r.is_err());
        assert_eq!(catch(|| 7).unwrap(), 7);
        assert_eq!(CATCHING.with(Cell::get), 0);
    }
}
