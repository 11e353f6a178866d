//! Parts of the test bed a machine may lack, and the one way to run without
//! one.
//!
//! A test that needs such a part asks [`available`] with a probe. When the
//! probe finds the part, the test runs. When it does not, the test fails
//! with the probe's reason and the set-up step that provides the part —
//! unless the run declared that part unavailable in one environment
//! variable:
//!
//! ```text
//! EDGEPOSE_TEST_UNAVAILABLE="vm=the VM guest is x86_64;termios2=qemu-user 7.2: TCGETS2 gives ENOSYS"
//! ```
//!
//! Then the test records its skip (one line appended to the file
//! `EDGEPOSE_TEST_SKIP_LOG` names, default `target/declared-skips.log`),
//! says so on stderr and returns. `scripts/test.sh` prints every recorded
//! skip as the last lines of its output ("none" on a full machine).
//!
//! A declaration never hides a part that works: the probe runs first, and
//! the test runs whenever it succeeds. An unknown part name or a
//! declaration without a reason fails every test that asks.

use std::io::Write;
use std::path::PathBuf;

/// The variable that declares parts unavailable.
pub const UNAVAILABLE: &str = "EDGEPOSE_TEST_UNAVAILABLE";
/// The file skips are appended to.
pub const SKIP_LOG: &str = "EDGEPOSE_TEST_SKIP_LOG";

/// A part of the test bed that a machine may lack.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    /// The QEMU system VM of `scripts/vm/` (an x86_64 guest with real
    /// kernel drivers).
    Vm,
    /// The serial port ioctls (`TCGETS2`/`TCSETS2`) on a pseudo-terminal.
    Termios2,
    /// The LiteRT runtime library for this architecture.
    Litert,
    /// OpenCV reference sets (`tests/fixtures/reference-opencv*`) made on
    /// this architecture.
    OpencvSets,
}

const PARTS: [Part; 4] = [Part::Vm, Part::Termios2, Part::Litert, Part::OpencvSets];

impl Part {
    /// The name used in [`UNAVAILABLE`].
    pub fn name(self) -> &'static str {
        match self {
            Part::Vm => "vm",
            Part::Termios2 => "termios2",
            Part::Litert => "litert",
            Part::OpencvSets => "opencv-sets",
        }
    }

    /// What provides the part.
    pub fn setup(self) -> &'static str {
        match self {
            Part::Vm => {
                "run scripts/setup.sh (scripts/setup-vm.sh installs QEMU and builds the VM bed)"
            }
            Part::Termios2 => {
                "run the tests natively on Linux (the kernel's pty driver implements TCGETS2)"
            }
            Part::Litert => {
                "run scripts/setup.sh (scripts/setup-demo.sh unpacks libLiteRt.so for this architecture)"
            }
            Part::OpencvSets => {
                "make the sets on this architecture (scripts/reference.py --resize opencv, see tests/fixtures/reference-opencv/README.md)"
            }
        }
    }
}

/// The parts the run declared unavailable, with their reasons. Panics on a
/// malformed declaration, so a typo cannot turn into a failure of its own
/// kind elsewhere.
pub fn declared() -> Vec<(Part, String)> {
    let Ok(text) = std::env::var(UNAVAILABLE) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for item in text.split(';').map(str::trim).filter(|s| !s.is_empty()) {
        let (name, reason) = item.split_once('=').unwrap_or((item, ""));
        let part = PARTS
            .into_iter()
            .find(|p| p.name() == name.trim())
            .unwrap_or_else(|| {
                let known: Vec<&str> = PARTS.iter().map(|p| p.name()).collect();
                panic!(
                    "{UNAVAILABLE}: unknown part {name:?}; known: {}",
                    known.join(", ")
                )
            });
        assert!(
            !reason.trim().is_empty(),
            "{UNAVAILABLE}: {name} declared unavailable without a reason; write {name}=WHY"
        );
        out.push((part, reason.trim().to_string()));
    }
    out
}

/// The file skips are recorded in.
pub fn log_path() -> PathBuf {
    std::env::var_os(SKIP_LOG)
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            // CARGO_TARGET_TMPDIR is <target dir>/tmp for every target.
            PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
                .parent()
                .map(|t| t.join("declared-skips.log"))
                .unwrap_or_else(|| PathBuf::from("declared-skips.log"))
        })
}

/// The running test's name: libtest runs each test on a thread named
/// after it.
fn test_name() -> String {
    let thread = std::thread::current();
    format!(
        "{}::{}",
        env!("CARGO_CRATE_NAME"),
        thread.name().unwrap_or("?")
    )
}

/// Whether the test may use `part`: runs `probe`; `Ok` lets the test run.
/// When the probe fails and the run declared the part unavailable, records
/// the skip and returns false (the test then returns). Otherwise the test
/// fails, naming the probe's reason and the set-up step.
pub fn available(part: Part, probe: impl FnOnce() -> Result<(), String>) -> bool {
    let why = match probe() {
        Ok(()) => return true,
        Err(why) => why,
    };
    let test = test_name();
    let Some((_, reason)) = declared().into_iter().find(|(p, _)| *p == part) else {
        panic!(
            "{test}: needs {} but {why}: {}; or, where the part cannot exist, declare it: {UNAVAILABLE}=\"{}=REASON\"",
            part.name(),
            part.setup(),
            part.name()
        );
    };
    let line = format!(
        "{} {test}: {} declared unavailable ({reason}); probe: {why}\n",
        std::env::consts::ARCH,
        part.name()
    );
    eprintln!("SKIPPED {}", line.trim_end());
    let path = log_path();
    if let Some(dir) = path.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    // One short write with O_APPEND: lines of tests running in parallel
    // (threads or processes) do not interleave.
    let written = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .and_then(|mut f| f.write_all(line.as_bytes()));
    if let Err(e) = written {
        panic!(
            "{test}: cannot record the declared skip in {}: {e}",
            path.display()
        );
    }
    false
}
