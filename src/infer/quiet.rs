//! Keeps the runtime libraries' own stderr chatter (LiteRT logs a dozen
//! INFO/WARNING lines while it loads and unloads) out of the user's
//! terminal: file descriptor 2 is pointed at an anonymous temporary file
//! while the runtime starts or stops, and what it wrote is handed back to
//! be logged. Only engine start-up and tear-down are wrapped, never the
//! frame loop.

use std::io::{Read, Seek, Write};
use std::mem::ManuallyDrop;
use std::os::fd::AsRawFd;

use super::{Engine, EngineInfo, InferError};

/// Runs `f` with stderr redirected; returns its result and what was written.
/// If the redirection cannot be set up, `f` runs with stderr untouched.
pub fn capture_stderr<T>(f: impl FnOnce() -> T) -> (T, String) {
    let _ = std::io::stderr().flush();
    let Ok(mut file) = tempfile::tempfile() else {
        return (f(), String::new());
    };
    // SAFETY: plain descriptor duplication; `saved` is closed below.
    let saved = unsafe { libc::dup(2) };
    if saved < 0 || unsafe { libc::dup2(file.as_raw_fd(), 2) } < 0 {
        if saved >= 0 {
            // SAFETY: `saved` is our own descriptor.
            unsafe { libc::close(saved) };
        }
        return (f(), String::new());
    }
    let out = f();
    let _ = std::io::stderr().flush();
    // SAFETY: restores the original stderr and closes our copy of it.
    unsafe {
        libc::dup2(saved, 2);
        libc::close(saved);
    }
    let mut text = String::new();
    if file.rewind().is_ok() {
        let _ = file.read_to_string(&mut text);
    }
    (out, text)
}

/// An engine whose tear-down chatter is logged at debug level.
pub struct QuietDrop(pub ManuallyDrop<Box<dyn Engine>>);

impl Engine for QuietDrop {
    fn info(&self) -> &EngineInfo {
        self.0.info()
    }
    fn input_mut(&mut self) -> &mut [u8] {
        self.0.input_mut()
    }
    fn invoke(&mut self) -> Result<(), InferError> {
        self.0.invoke()
    }
    fn output(&self, index: usize) -> &[u8] {
        self.0.output(index)
    }
    fn set_load_ms(&mut self, ms: f64) {
        self.0.set_load_ms(ms);
    }
}

impl Drop for QuietDrop {
    fn drop(&mut self) {
        // SAFETY: taken exactly once, here, and never used afterwards.
        let inner = unsafe { ManuallyDrop::take(&mut self.0) };
        let ((), chatter) = capture_stderr(|| drop(inner));
        for line in chatter.lines().filter(|l| !l.trim().is_empty()) {
            log::debug!("runtime: {line}");
        }
    }
}
