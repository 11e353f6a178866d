//! Shared helpers for the integration tests: where the runtimes, models and
//! data are, and how to start the edgepose binary on each runtime flavour.
//!
//! Paths come from the environment that `scripts/test.sh` sets (and fall
//! back to the layout `scripts/setup.sh` creates): `EDGEPOSE_CACHE`
//! (`.cache`), `EDGEPOSE_MODEL_MIRROR` (`../shared/models`),
//! `EDGEPOSE_DATA_DIR` (`../shared/data`). A missing runtime is a test
//! failure that says to run the setup, never a silent skip.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

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

/// The LiteRT library for this machine's architecture.
pub fn litert_lib() -> PathBuf {
    must_exist(
        cache().join(format!(
            "runtimes/litert/{}/libLiteRt.so",
            std::env::consts::ARCH
        )),
        "LiteRT library",
    )
}

fn debian_arch() -> (&'static str, &'static str, &'static str) {
    match std::env::consts::ARCH {
        "aarch64" => ("arm64", "aarch64-linux-gnu", "lib/ld-linux-aarch64.so.1"),
        "arm" => ("armhf", "arm-linux-gnueabihf", "lib/ld-linux-armhf.so.3"),
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

/// The classic TFLite C library.
pub fn classic_lib() -> PathBuf {
    let (_, triple, _) = debian_arch();
    must_exist(
        classic_root().join(format!("usr/lib/{triple}/libtensorflow-lite.so.2.14.1")),
        "classic TFLite library",
    )
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

    /// The fixture directory with this flavour's reference results.
    pub fn fixtures(self) -> PathBuf {
        repo().join(match self {
            Flavour::Litert => "tests/fixtures/reference",
            Flavour::Classic => "tests/fixtures/reference-classic",
        })
    }
}

/// A command that runs the edgepose binary on `flavour`'s library.
///
/// The classic library needs a newer glibc than the build machine has, so
/// the binary is started through the loader of the root it was unpacked
/// into, with that root's library directories first.
pub fn edgepose(flavour: Flavour) -> Command {
    edgepose_with_libs(flavour, &[])
}

/// [`edgepose`] with more library directories for the classic root's
/// loader (e.g. a delegate's own dependencies).
pub fn edgepose_with_libs(flavour: Flavour, extra: &[PathBuf]) -> Command {
    let bin = env!("CARGO_BIN_EXE_edgepose");
    let mut cmd = match flavour {
        Flavour::Litert => Command::new(bin),
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
    let mut c = Command::new(env!("CARGO_BIN_EXE_edgepose"));
    c.env_remove("EDGEPOSE_CONFIG")
        .env_remove("EDGEPOSE_TFLITE_LIB")
        .env_remove("EDGEPOSE_MODEL")
        .env_remove("EDGEPOSE_MODEL_DIR")
        .env_remove("EDGEPOSE_BOARD")
        .env_remove("EDGEPOSE_DELEGATE");
    c
}

pub fn run(cmd: &mut Command) -> Output {
    cmd.output().expect("start edgepose")
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

pub fn sample(name: &str) -> PathBuf {
    data_dir().join(name)
}

pub fn file_name(p: &Path) -> String {
    p.file_name().unwrap().to_string_lossy().into_owned()
}
pub mod vm;
