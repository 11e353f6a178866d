//! Shared helpers for the integration tests: where the runtimes, models and
//! data are, and how to start the edgepose binary on each runtime flavour.
//!
//! Paths come from the environment that `scripts/test.sh` sets (and fall
//! back to the layout `scripts/setup.sh` creates): `EDGEPOSE_CACHE`
//! (`.cache`), `EDGEPOSE_MODEL_MIRROR` (`../shared/models`),
//! `EDGEPOSE_DATA_DIR` (`../shared/data`). A missing runtime is a test
//! failure that says to run the setup, never a silent skip; the parts a
//! machine may truly lack (the VM, the serial ioctls under qemu-user,
//! LiteRT on armv7) go through [`skip`].
//!
//! **ARM builds under qemu-user.** `cargo test --target aarch64-unknown-linux-gnu`
//! (or `armv7-unknown-linux-gnueabihf`) runs each test binary through
//! `scripts/qemu-runner.sh`, which sets `EDGEPOSE_TEST_QEMU` (the qemu
//! command), `EDGEPOSE_TEST_QEMU_ROOT` (the root the test runs on) and
//! `EDGEPOSE_TEST_QEMU_CLASSIC_ROOT`. Without binfmt_misc the kernel cannot
//! exec an ARM binary, so every edgepose child is then started through that
//! qemu, on the root of its runtime. LiteRT publishes no 32-bit ARM build:
//! on armv7 the tests that need a runtime but no particular one use
//! [`primary`] (the classic library there).

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn env_path(var: &str, default: &str) -> PathBuf {
    std::env::var_os(var)
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join(default))
}

pub fn cache() -> PathBuf {
    env_path("EDGEPOSE_CACHE", ".cache")
}

pub fn models_dir() -> PathBuf {
    env_path("EDGEPOSE_MODEL_MIRROR", "../shared/models")
}

pub fn data_dir() -> PathBuf {
    env_path("EDGEPOSE_DATA_DIR", "../shared/data")
}

fn must_exist(p: PathBuf, what: &str) -> PathBuf {
    assert!(
        p.exists(),
        "{what} not found at {}: run scripts/setup.sh first",
        p.display()
    );
    p
}

fn litert_path() -> PathBuf {
    cache().join(format!(
        "runtimes/litert/{}/libLiteRt.so",
        std::env::consts::ARCH
    ))
}

/// The LiteRT library for this machine's architecture.
pub fn litert_lib() -> PathBuf {
    must_exist(litert_path(), "LiteRT library")
}

/// Whether a test that needs LiteRT itself (not just some runtime, see
/// [`primary`]) can run: see [`skip`]. LiteRT publishes no 32-bit ARM
/// build, so the armv7 runs declare it unavailable.
pub fn litert_available() -> bool {
    skip::available(skip::Part::Litert, || {
        let p = litert_path();
        if p.exists() {
            Ok(())
        } else {
            Err(format!("there is no LiteRT library at {}", p.display()))
        }
    })
}

fn debian_arch() -> (&'static str, &'static str, &'static str) {
    match std::env::consts::ARCH {
        "aarch64" => (
            "arm64",
            "aarch64-linux-gnu",
            "usr/lib/ld-linux-aarch64.so.1",
        ),
        "arm" => (
            "armhf",
            "arm-linux-gnueabihf",
            "usr/lib/ld-linux-armhf.so.3",
        ),
        _ => (
            "amd64",
            "x86_64-linux-gnu",
            "usr/lib64/ld-linux-x86-64.so.2",
        ),
    }
}

/// Root of the unpacked classic TFLite closure.
pub fn classic_root() -> PathBuf {
    must_exist(
        cache()
            .join("runtimes/tflite-classic")
            .join(debian_arch().0),
        "classic TFLite root",
    )
}

/// Whether the OpenCV reference sets (`tests/fixtures/reference-opencv*`)
/// hold for this architecture: they were made on x86_64, whose int8 kernels
/// round differently from ARM's (see [`skip`]; the ARM runs declare them
/// unavailable).
pub fn opencv_sets_available() -> bool {
    skip::available(skip::Part::OpencvSets, || {
        if std::env::consts::ARCH == "x86_64" {
            Ok(())
        } else {
            Err(format!(
                "the OpenCV reference sets were made on x86_64, not {}",
                std::env::consts::ARCH
            ))
        }
    })
}

/// The classic TFLite C library.
pub fn classic_lib() -> PathBuf {
    let (_, triple, _) = debian_arch();
    must_exist(
        classic_root().join(format!("usr/lib/{triple}/libtensorflow-lite.so.2.14.1")),
        "classic TFLite library",
    )
}

/// The runtime for tests that need one but no particular one: LiteRT where
/// Google publishes it (x86_64, aarch64), else (armv7) the classic library.
pub fn primary() -> Flavour {
    if cfg!(target_arch = "arm") {
        Flavour::Classic
    } else {
        Flavour::Litert
    }
}

/// How ARM children are started when the tests run under qemu-user (see the
/// module docs); `None` when they run natively.
pub struct Emulation {
    /// The qemu command with its options (`qemu-aarch64 -cpu cortex-a76`).
    pub qemu: Vec<String>,
    /// The root the test process runs on (LiteRT children and `bare`).
    pub root: PathBuf,
    /// The emulation root of the classic runtime.
    pub classic_root: PathBuf,
}

pub fn emulation() -> Option<Emulation> {
    let qemu = std::env::var("EDGEPOSE_TEST_QEMU").ok()?;
    let var = |name: &str| {
        PathBuf::from(
            std::env::var_os(name)
                .unwrap_or_else(|| panic!("EDGEPOSE_TEST_QEMU is set but {name} is not")),
        )
    };
    Some(Emulation {
        qemu: qemu.split_whitespace().map(str::to_string).collect(),
        root: var("EDGEPOSE_TEST_QEMU_ROOT"),
        classic_root: var("EDGEPOSE_TEST_QEMU_CLASSIC_ROOT"),
    })
}

/// True when the tests run as ARM code under qemu-user.
pub fn emulated() -> bool {
    std::env::var_os("EDGEPOSE_TEST_QEMU").is_some()
}

/// `program` as a command: directly, or through qemu-user on `root`.
fn exec(program: &Path, root: impl FnOnce(&Emulation) -> &Path) -> Command {
    exec_with_libs(program, root, &[])
}

/// [`exec`] with more library directories for the ARM program's loader
/// under qemu-user (the guest's `LD_LIBRARY_PATH`, set with qemu's `-E` so
/// that qemu itself, an x86_64 program, does not see it).
fn exec_with_libs(
    program: &Path,
    root: impl FnOnce(&Emulation) -> &Path,
    libs: &[PathBuf],
) -> Command {
    match emulation() {
        None => Command::new(program),
        Some(e) => {
            let mut c = Command::new(&e.qemu[0]);
            c.args(&e.qemu[1..]).arg("-L").arg(root(&e));
            if !libs.is_empty() {
                let joined: Vec<String> = libs.iter().map(|p| p.display().to_string()).collect();
                c.arg("-E")
                    .arg(format!("LD_LIBRARY_PATH={}", joined.join(":")));
            }
            c.arg(program);
            c
        }
    }
}

/// Runtime flavours the tests run on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavour {
    Litert,
    Classic,
}

impl Flavour {
    pub fn lib(self) -> PathBuf {
        match self {
            Flavour::Litert => litert_lib(),
            Flavour::Classic => classic_lib(),
        }
    }

    /// The fixture directory with this flavour's reference results on this
    /// architecture: int8 kernels round differently on ARM, so the ARM builds
    /// compare with the same reference run on ARM (scripts/reference-arm.sh).
    pub fn fixtures(self) -> PathBuf {
        repo().join(match (self, std::env::consts::ARCH) {
            (Flavour::Litert, "aarch64") => "tests/fixtures/reference-arm64",
            (Flavour::Litert, _) => "tests/fixtures/reference",
            (Flavour::Classic, "aarch64") => "tests/fixtures/reference-classic-arm64",
            (Flavour::Classic, "arm") => "tests/fixtures/reference-classic-armhf",
            (Flavour::Classic, _) => "tests/fixtures/reference-classic",
        })
    }
}

/// A command that runs the edgepose binary on `flavour`'s library.
///
/// The classic library needs a newer glibc than the build machine has, so
/// the binary is started through the loader of the root it was unpacked
/// into, with that root's library directories first. Under qemu-user the
/// classic root's emulation root does that (its loader and libraries are
/// the ones the ARM program finds).
pub fn edgepose(flavour: Flavour) -> Command {
    edgepose_with_libs(flavour, &[])
}

/// [`edgepose`] with more library directories for the loader: the classic
/// root's (e.g. a delegate's own dependencies), or `LD_LIBRARY_PATH` for
/// LiteRT (e.g. an accelerator library LiteRT looks up by name).
pub fn edgepose_with_libs(flavour: Flavour, extra: &[PathBuf]) -> Command {
    let bin = env!("CARGO_BIN_EXE_edgepose");
    let mut cmd = match flavour {
        Flavour::Litert if emulated() => exec_with_libs(Path::new(bin), |e| &e.root, extra),
        Flavour::Litert => {
            let mut c = Command::new(bin);
            if !extra.is_empty() {
                c.env("LD_LIBRARY_PATH", std::env::join_paths(extra).unwrap());
            }
            c
        }
        Flavour::Classic if emulated() => {
            exec_with_libs(Path::new(bin), |e| &e.classic_root, extra)
        }
        Flavour::Classic => {
            let root = classic_root();
            let (_, triple, loader) = debian_arch();
            let mut c = Command::new(must_exist(root.join(loader), "classic root's loader"));
            let libs = [
                root.join(format!("usr/lib/{triple}")),
                root.join(format!("lib/{triple}")),
            ];
            let joined: Vec<String> = libs
                .iter()
                .chain(extra)
                .map(|p| p.display().to_string())
                .collect();
            c.arg("--library-path").arg(joined.join(":")).arg(bin);
            c
        }
    };
    cmd.arg("--tflite-lib")
        .arg(flavour.lib())
        .env("EDGEPOSE_MODEL_DIR", models_dir())
        .env_remove("EDGEPOSE_CONFIG")
        .env_remove("EDGEPOSE_MODEL")
        .env_remove("EDGEPOSE_THREADS")
        .env_remove("EDGEPOSE_BOARD")
        .env_remove("EDGEPOSE_DELEGATE")
        .env_remove("RUST_LOG");
    cmd
}

/// The binary without runtime options (for error tests).
pub fn bare() -> Command {
    let mut c = exec(Path::new(env!("CARGO_BIN_EXE_edgepose")), |e| &e.root);
    c.env_remove("EDGEPOSE_CONFIG")
        .env_remove("EDGEPOSE_TFLITE_LIB")
        .env_remove("EDGEPOSE_MODEL")
        .env_remove("EDGEPOSE_MODEL_DIR")
        .env_remove("EDGEPOSE_BOARD")
        .env_remove("EDGEPOSE_DELEGATE");
    c
}

/// Runs `cmd` to its end. Exit code 70 is edgepose's panic hook (a bug,
/// see src/panic.rs): it fails the test whatever the test expected, so a
/// test that expects a failure cannot pass on a panic.
pub fn run(cmd: &mut Command) -> Output {
    let o = cmd.output().expect("start edgepose");
    assert_ne!(
        o.status.code(),
        Some(70),
        "edgepose panicked: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    o
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Lines edgepose itself wrote to stderr (runtime libraries also log there).
pub fn own_stderr(o: &Output) -> Vec<String> {
    String::from_utf8_lossy(&o.stderr)
        .lines()
        .filter(|l| l.starts_with("edgepose"))
        .map(str::to_string)
        .collect()
}

/// JSON lines of stdout.
pub fn json_lines(o: &Output) -> Vec<serde_json::Value> {
    stdout(o)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad JSON line {l}: {e}")))
        .collect()
}

/// The GStreamer plugin beside the edgepose binary (`cargo build -p
/// edgepose-gst`, which scripts/test.sh runs).
pub fn gst_plugin() -> PathBuf {
    let p = Path::new(env!("CARGO_BIN_EXE_edgepose")).with_file_name("libedgepose_gst.so");
    must_exist(
        p,
        "GStreamer plugin (cargo build -p edgepose-gst after scripts/setup-gst.sh)",
    )
}

/// One of GStreamer's own plugins on this machine (`coreelements`, `app`, ...).
pub fn gst_element_plugin(name: &str) -> PathBuf {
    let (_, triple, _) = debian_arch();
    must_exist(
        PathBuf::from(format!("/usr/lib/{triple}/gstreamer-1.0/libgst{name}.so")),
        "GStreamer plugin (scripts/setup-gst.sh)",
    )
}

pub fn sample(name: &str) -> PathBuf {
    data_dir().join(name)
}

pub fn file_name(p: &Path) -> String {
    p.file_name().unwrap().to_string_lossy().into_owned()
}

/// A C compiler for the architecture the tests run on: the test binary may
/// be a cross build running under qemu-user, whose edgepose can only load
/// a delegate of its own architecture. `EDGEPOSE_TEST_CC` overrides.
pub fn c_compiler() -> String {
    if let Ok(cc) = std::env::var("EDGEPOSE_TEST_CC") {
        return cc;
    }
    let cross = match std::env::consts::ARCH {
        "aarch64" => Some("aarch64-linux-gnu-gcc"),
        "arm" => Some("arm-linux-gnueabihf-gcc"),
        _ => None,
    };
    let native = |name: &str| {
        Command::new(name)
            .arg("-dumpmachine")
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
    };
    // `cc` when it targets this architecture (a native machine), else the
    // Debian cross compiler.
    match native("cc") {
        Some(m) if m.starts_with(std::env::consts::ARCH) => "cc".into(),
        _ => cross.unwrap_or("cc").into(),
    }
}

/// The test delegate (tests/fixtures/test-delegate/test_delegate.c: a
/// plugin delegate at the TFLite 2.14 ABI), compiled once per test binary.
pub fn test_delegate() -> &'static Path {
    static LIB: OnceLock<PathBuf> = OnceLock::new();
    LIB.get_or_init(|| {
        let headers = cache().join("tflite-headers");
        assert!(
            headers.join("tensorflow/lite/core/c/common.h").exists(),
            "TFLite headers not found at {}: run scripts/setup.sh first",
            headers.display()
        );
        let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("libedgepose_test_delegate.so");
        let src = repo().join("tests/fixtures/test-delegate/test_delegate.c");
        let status = Command::new(c_compiler())
            .args(["-shared", "-fPIC", "-O1", "-Wall", "-Werror", "-I"])
            .arg(&headers)
            .arg(&src)
            .arg("-o")
            .arg(&out)
            .status()
            .expect("run cc (scripts/setup.sh installs gcc)");
        assert!(status.success(), "compiling {} failed", src.display());
        out
    })
}

pub mod frames;
#[cfg(feature = "mqtt")]
pub mod mqtt;
pub mod poses;
pub mod pty;
pub mod rss;
pub mod skip;
pub mod vm;

/// A detected person in the layout of the reference fixtures: box, score,
/// and (x, y, score) per keypoint.
pub struct PersonView {
    pub bbox: [f64; 4],
    pub score: f64,
    pub keypoints: Vec<[f64; 3]>,
}

impl PersonView {
    /// From one person of edgepose's JSON output.
    pub fn from_json(p: &serde_json::Value) -> Self {
        let f = |v: &serde_json::Value| v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"));
        let b: Vec<f64> = p["box"].as_array().unwrap().iter().map(f).collect();
        Self {
            bbox: [b[0], b[1], b[2], b[3]],
            score: f(&p["score"]),
            keypoints: p["keypoints"]
                .as_array()
                .unwrap()
                .iter()
                .map(|k| [f(&k["x"]), f(&k["y"]), f(&k["score"])])
                .collect(),
        }
    }
}

/// Asserts that `got` is the reference fixture's person `want` (`box`,
/// `score`, `keypoints` as [x, y, score]): every coordinate within `px`,
/// scores within `score`. Returns the largest coordinate difference.
pub fn assert_same_person(
    ctx: &str,
    got: &PersonView,
    want: &serde_json::Value,
    px: f64,
    score: f64,
) -> f64 {
    let f = |v: &serde_json::Value| v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"));
    assert!(
        (got.score - f(&want["score"])).abs() < score,
        "{ctx}: score {} vs {}",
        got.score,
        want["score"]
    );
    let mut worst: f64 = 0.0;
    for (a, b) in got.bbox.iter().zip(want["box"].as_array().unwrap()) {
        let d = (a - f(b)).abs();
        worst = worst.max(d);
        assert!(d <= px, "{ctx}: box {:?} vs {}", got.bbox, want["box"]);
    }
    let ekps = want["keypoints"].as_array().unwrap();
    assert_eq!(got.keypoints.len(), ekps.len(), "{ctx}: keypoint count");
    for (k, (g, e)) in got.keypoints.iter().zip(ekps).enumerate() {
        let (dx, dy) = ((g[0] - f(&e[0])).abs(), (g[1] - f(&e[1])).abs());
        worst = worst.max(dx).max(dy);
        assert!(
            dx <= px && dy <= px,
            "{ctx}: keypoint {k} at ({}, {}) vs {e}",
            g[0],
            g[1]
        );
        assert!((g[2] - f(&e[2])).abs() < score, "{ctx}: keypoint {k} score");
    }
    worst
}
