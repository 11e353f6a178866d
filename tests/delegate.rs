//! External delegates through the TFLite plugin entry points, for real: a
//! small delegate (tests/fixtures/test-delegate/test_delegate.c, compiled
//! here against Debian's TFLite 2.14 headers) is loaded into edgepose on the
//! classic runtime. It claims RESHAPE nodes and runs them itself (a byte
//! copy), records the options it got, and can be told to fail at creation
//! or in Prepare, to take no node, or every node. The tests check what
//! reaches the delegate, what edgepose reports (node counts from the
//! execution plan, first-invoke time), that results do not change, the CPU
//! fallback with a warning, and `--require-delegate`'s exit code and message.
//!
//! The same delegate built as `libLiteRtGpuAccelerator.so` is a LiteRT GPU
//! accelerator (LiteRT loads it by that name from the library path): with
//! it, what LiteRT says about the accelerators of a compiled model is
//! checked against what the accelerator itself recorded it took.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use common::{edgepose, json_lines, own_stderr, run, sample, Flavour};

/// A C compiler for the architecture the tests run on: the test binary may
/// be a cross build running under qemu-user, whose edgepose can only load
/// a delegate of its own architecture. `EDGEPOSE_TEST_CC` overrides.
fn c_compiler() -> String {
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

/// The test delegate, compiled once per test binary.
fn test_delegate() -> &'static Path {
    static LIB: OnceLock<PathBuf> = OnceLock::new();
    LIB.get_or_init(|| {
        let headers = common::cache().join("tflite-headers");
        assert!(
            headers.join("tensorflow/lite/core/c/common.h").exists(),
            "TFLite headers not found at {}: run scripts/setup.sh first",
            headers.display()
        );
        let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("libedgepose_test_delegate.so");
        let src = common::repo().join("tests/fixtures/test-delegate/test_delegate.c");
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

fn classic() -> Command {
    edgepose(Flavour::Classic)
}

/// `classic()` with the test delegate and `options`.
fn with_delegate(options: &[&str]) -> Command {
    let mut c = classic();
    c.arg("--delegate").arg(test_delegate());
    for o in options {
        c.arg("--delegate-option").arg(o);
    }
    c
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn assert_ok(o: &Output) {
    assert!(o.status.success(), "exit {:?}: {}", o.status, stderr(o));
}

/// The delegate's record file, as lines.
fn record(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .lines()
        .map(str::to_string)
        .collect()
}

/// Persons of each image (timings dropped), for comparing runs.
fn persons(o: &Output) -> Vec<serde_json::Value> {
    json_lines(o)
        .into_iter()
        .map(|r| r["persons"].clone())
        .collect()
}

fn infer_two(mut c: impl std::borrow::BorrowMut<Command>) -> Output {
    run(c
        .borrow_mut()
        .arg("infer")
        .arg(sample("samples/bus.jpg"))
        .arg(sample("samples/zidane.jpg")))
}

/// The one warning line about the delegate.
fn delegate_warning(o: &Output) -> String {
    let w: Vec<String> = own_stderr(o)
        .into_iter()
        .filter(|l| l.starts_with("edgepose: warning: delegate"))
        .collect();
    assert_eq!(w.len(), 1, "one delegate warning expected: {}", stderr(o));
    w[0].clone()
}

fn assert_required_error(o: &Output, needles: &[&str]) {
    assert_eq!(o.status.code(), Some(1), "{}", stderr(o));
    assert!(o.stdout.is_empty(), "nothing half-written");
    let errors: Vec<String> = own_stderr(o)
        .into_iter()
        .filter(|l| l.starts_with("edgepose: error:"))
        .collect();
    assert_eq!(errors.len(), 1, "{}", stderr(o));
    assert!(
        errors[0].contains("is required (--require-delegate)"),
        "{}",
        errors[0]
    );
    for n in needles {
        assert!(errors[0].contains(n), "{:?} lacks {n:?}", errors[0]);
    }
}

#[test]
fn options_reach_the_delegate_and_its_nodes_are_counted_from_the_plan() {
    let dir = tempfile::tempdir().unwrap();
    let rec = dir.path().join("record.txt");
    let out = run(with_delegate(&[
        &format!("record={}", rec.display()),
        "artifacts_folder=/opt/artifacts=x",
        "debug_level=2",
    ])
    .args(["bench", "--json", "--iterations", "3", "--warmup", "1"])
    .arg(sample("samples/bus.jpg")));
    assert_ok(&out);
    let r: serde_json::Value = serde_json::from_str(&common::stdout(&out)).unwrap();
    let d = &r["delegate"];
    assert_eq!(d["active"], true, "{d}");
    assert_eq!(d["name"], "EdgeposeTestDelegate");
    assert_eq!(d["counted_from"], "execution-plan");
    assert_eq!(d["options"]["artifacts_folder"], "/opt/artifacts=x");
    let lines = record(&rec);
    // Options arrive as given, keys in order, values untouched.
    assert_eq!(
        lines[..3],
        [
            "option artifacts_folder=/opt/artifacts=x".to_string(),
            "option debug_level=2".into(),
            format!("option record={}", rec.display()),
        ]
    );
    // What the delegate says it claimed is what edgepose reports.
    let (nodes, total, parts) = (
        d["nodes"].as_u64().unwrap(),
        d["total_nodes"].as_u64().unwrap(),
        d["partitions"].as_u64().unwrap(),
    );
    assert_eq!(lines[3], format!("claimed {nodes} of {total}"));
    // yolov8n-320: 296 nodes, 11 int8 RESHAPEs with unchanged quantization.
    assert_eq!((nodes, total), (11, 296));
    assert!(parts >= 1 && parts <= nodes, "{parts} partitions");
    // The delegate's kernel ran every partition on every invoke: the first
    // invoke, 1 warm-up, 3 iterations of (pipeline + bare invoke), and the
    // pipelined run's 3 frames.
    assert_eq!(lines[4], format!("invokes {}", parts * (1 + 1 + 3 * 2 + 3)));
    assert_eq!(lines.len(), 5);
    assert!(r["first_invoke_ms"].as_f64().unwrap() > 0.0);
    assert!(r["load_ms"].as_f64().unwrap() > 0.0);
}

#[test]
fn nodes_the_delegate_runs_give_the_cpu_results() {
    let cpu = infer_two(classic());
    assert_ok(&cpu);
    let delegated = infer_two(with_delegate(&[]));
    assert_ok(&delegated);
    let p = persons(&cpu);
    assert_eq!(p.len(), 2);
    assert!(!p[0].as_array().unwrap().is_empty());
    assert_eq!(persons(&delegated), p);
}

#[test]
fn run_summary_shows_the_delegate_and_the_first_invoke() {
    let out = run(with_delegate(&["claim=3"])
        .args(["run", "--quiet", "--no-track", "--source"])
        .arg(sample("samples/bus.jpg"))
        .arg("--source")
        .arg(sample("samples/zidane.jpg")));
    assert_ok(&out);
    let err = stderr(&out);
    let line = err
        .lines()
        .find(|l| l.starts_with("delegate: "))
        .unwrap_or_else(|| panic!("no delegate line: {err}"));
    assert!(
        line.contains("(EdgeposeTestDelegate) took 3 of 296 nodes")
            && line.contains("293 node(s) on the CPU"),
        "{line}"
    );
    let timing = err
        .lines()
        .find(|l| l.starts_with("engine load "))
        .unwrap_or_else(|| panic!("no timing line: {err}"));
    assert!(
        timing.contains("first invoke ") && timing.contains(" ms"),
        "{timing}"
    );
    assert!(!err.contains("warning"), "{err}");
}

#[test]
fn a_delegate_that_takes_no_node_falls_back_loudly() {
    let cpu = infer_two(classic());
    // claim=none: ReplaceNodeSubsetsWithDelegateKernels with no node;
    // claim=skip: never called.
    for claim in ["claim=none", "claim=skip"] {
        let out = infer_two(with_delegate(&[claim]));
        assert_ok(&out);
        let w = delegate_warning(&out);
        assert!(
            w.contains("NOT in use, running on the CPU")
                && w.contains("took no node of the model (all 296 stay on the CPU)"),
            "{claim}: {w}"
        );
        assert_eq!(persons(&out), persons(&cpu), "{claim}");
        let out = infer_two(with_delegate(&[claim]).arg("--require-delegate"));
        assert_required_error(&out, &["took no node"]);
    }
}

#[test]
fn creation_failure_carries_the_delegates_own_words() {
    let out = infer_two(with_delegate(&["fail=create"]));
    assert_ok(&out);
    let w = delegate_warning(&out);
    assert!(
        w.contains(
            "returned no delegate: EdgeposeTestDelegate: no accelerator found (fail=create)"
        ),
        "{w}"
    );
    assert_eq!(persons(&out).len(), 2, "ran on the CPU");
    let out = infer_two(with_delegate(&["fail=create"]).arg("--require-delegate"));
    assert_required_error(
        &out,
        &["EdgeposeTestDelegate: no accelerator found (fail=create)"],
    );
    // A delegate that only prints its reason (as Mesa's Teflon does).
    let out = infer_two(with_delegate(&["fail=stderr"]).arg("--require-delegate"));
    assert_required_error(
        &out,
        &["returned no delegate: EdgeposeTestDelegate: Couldn't open kernel device"],
    );
    // A delegate rejecting an option it does not know.
    let out = infer_two(with_delegate(&["fail=option", "bogus_key=1"]).arg("--require-delegate"));
    assert_required_error(&out, &["unknown option 'bogus_key'"]);
}

#[test]
fn prepare_failure_restores_the_cpu_interpreter() {
    let cpu = infer_two(classic());
    let out = infer_two(with_delegate(&["fail=prepare"]));
    assert_ok(&out);
    let w = delegate_warning(&out);
    assert!(
        w.contains("applying it to the model failed")
            && w.contains("EdgeposeTestDelegate: Prepare failed as asked"),
        "{w}"
    );
    assert_eq!(persons(&out), persons(&cpu));
    let out = infer_two(with_delegate(&["fail=prepare"]).arg("--require-delegate"));
    assert_required_error(&out, &["Prepare failed as asked"]);
}

#[test]
fn libraries_that_are_no_delegate_are_named() {
    let out =
        infer_two(classic().args(["--require-delegate", "--delegate", "/nonexistent/libnpu.so"]));
    assert_required_error(
        &out,
        &["/nonexistent/libnpu.so", "cannot open shared object file"],
    );
    // A real shared library without the plugin entry points: the runtime.
    let out = infer_two(
        classic()
            .arg("--require-delegate")
            .arg("--delegate")
            .arg(common::classic_lib()),
    );
    assert_required_error(&out, &["is not a TFLite delegate plugin"]);
    // Without --require-delegate: a warning, and the CPU does the work.
    let out = infer_two(classic().args(["--delegate", "/nonexistent/libnpu.so"]));
    assert_ok(&out);
    assert!(delegate_warning(&out).contains("cannot open shared object file"));
    assert_eq!(persons(&out).len(), 2);
}

#[test]
fn xnnpack_and_accelerators_on_runtimes_without_them() {
    // Debian's classic 2.14 library is built without XNNPACK.
    let out = infer_two(classic().args(["--delegate", "xnnpack"]));
    assert_ok(&out);
    assert!(
        delegate_warning(&out).contains("XNNPACK delegate symbols not found"),
        "{}",
        stderr(&out)
    );
    if cfg!(target_arch = "arm") {
        println!("no LiteRT on armv7 (no 32-bit ARM build is published): LiteRT part not run");
        return;
    }
    // LiteRT loads no plugin delegates and has only its CPU accelerator here.
    let litert = || edgepose(Flavour::Litert);
    let mut c = litert();
    c.arg("--delegate").arg(test_delegate());
    let out = infer_two(c);
    assert_ok(&out);
    assert!(delegate_warning(&out).contains("loads no TFLite plugin delegates"));
    let out = infer_two({
        let mut c = litert();
        c.args(["--delegate", "npu", "--require-delegate"]);
        c
    });
    assert_required_error(
        &out,
        &["no npu accelerator registered (registered: CpuAccelerator [CPU]"],
    );
    // On LiteRT, xnnpack is the CPU accelerator itself. LiteRT says some of
    // the model's operators stay on its plain CPU kernels (the reference
    // tools' LiteRT says the same: CompiledModel.is_fully_accelerated() is
    // False for every shipped model) and nothing about how many XNNPACK
    // took: in use unknown, so not good enough for --require-delegate.
    let out = infer_two({
        let mut c = litert();
        c.args(["--delegate", "xnnpack"]);
        c
    });
    assert_ok(&out);
    let w = delegate_warning(&out);
    assert!(
        w.contains("xnnpack (CpuAccelerator (XNNPACK)) in use UNKNOWN")
            && w.contains("LiteRtCompiledModelIsFullyAccelerated: false"),
        "{w}"
    );
    let out = infer_two({
        let mut c = litert();
        c.args(["--delegate", "xnnpack", "--require-delegate"]);
        c
    });
    assert_required_error(&out, &["whether it is in use is unknown"]);
}

/// `bench --json` on bus.jpg with `c`: the delegate status it reports.
fn bench_status(mut c: Command) -> serde_json::Value {
    let out = run(c
        .args(["bench", "--json", "--iterations", "1", "--warmup", "0"])
        .arg(sample("samples/bus.jpg")));
    assert_ok(&out);
    let r: serde_json::Value = serde_json::from_str(&common::stdout(&out)).unwrap();
    r["delegate"].clone()
}

/// The summary `run` prints for bus.jpg and zidane.jpg: its delegate line,
/// and whether it warned.
fn run_summary(mut c: Command) -> (String, bool) {
    let out = run(c
        .args(["run", "--quiet", "--no-track", "--source"])
        .arg(sample("samples/bus.jpg"))
        .arg("--source")
        .arg(sample("samples/zidane.jpg")));
    assert_ok(&out);
    let err = stderr(&out);
    let line = err
        .lines()
        .find(|l| l.starts_with("delegate: "))
        .unwrap_or_else(|| panic!("no delegate line: {err}"))
        .to_string();
    (line, err.contains("edgepose: warning: delegate"))
}

#[test]
fn classic_delegate_taking_every_node_is_reported_fully_accelerated() {
    let dir = tempfile::tempdir().unwrap();
    let rec = dir.path().join("rec.txt");
    let d = bench_status(with_delegate(&[
        "claim=graph",
        &format!("record={}", rec.display()),
    ]));
    // What the delegate itself says it claimed.
    assert_eq!(record(&rec)[2], "claimed 296 of 296");
    assert_eq!(
        (
            &d["active"],
            &d["fully_accelerated"],
            &d["nodes"],
            &d["total_nodes"]
        ),
        (&true.into(), &true.into(), &296.into(), &296.into()),
        "{d}"
    );
    assert_eq!(d["partitions"], 1);
    let (line, warned) = run_summary(with_delegate(&["claim=graph"]));
    assert!(
        line.contains("(EdgeposeTestDelegate) took 296 of 296 nodes in 1 partition(s); 0 node(s) on the CPU [execution-plan]"),
        "{line}"
    );
    assert!(!warned);
    let out = infer_two(with_delegate(&["claim=graph"]).arg("--require-delegate"));
    assert_ok(&out);
}

#[test]
fn classic_delegate_taking_some_nodes_is_partial_and_enough_for_require() {
    let d = bench_status(with_delegate(&["claim=3"]));
    assert_eq!(
        (&d["active"], &d["fully_accelerated"], &d["nodes"]),
        (&true.into(), &false.into(), &3.into()),
        "{d}"
    );
    let out = infer_two(with_delegate(&["claim=3"]).arg("--require-delegate"));
    assert_ok(&out);
}

#[test]
fn classic_delegate_whose_node_counts_cannot_be_read_is_unknown() {
    // An opaque-API delegate: edgepose cannot watch its Prepare, and
    // Debian's 2.14 runtime logs no "Replacing ..." line. The delegate
    // took nothing here, but nothing in the runtime says so either way.
    let dir = tempfile::tempdir().unwrap();
    let rec = dir.path().join("rec.txt");
    let opts = ["api=opaque", "claim=skip"];
    let d = bench_status(with_delegate(&[
        opts[0],
        opts[1],
        &format!("record={}", rec.display()),
    ]));
    assert!(record(&rec).contains(&"claimed 0 of 296".to_string()));
    assert_eq!(
        (&d["active"], &d["fully_accelerated"], &d["nodes"]),
        (
            &"unknown".into(),
            &"unknown".into(),
            &serde_json::Value::Null
        ),
        "{d}"
    );
    let (line, warned) = run_summary(with_delegate(&opts));
    assert!(
        line.contains("in use UNKNOWN: the runtime does not say which nodes it took"),
        "{line}"
    );
    assert!(warned);
    let out = infer_two(with_delegate(&opts).arg("--require-delegate"));
    assert_required_error(
        &out,
        &["whether it is in use is unknown", "could not be watched"],
    );
}

/// The test delegate built as LiteRT's GPU accelerator plugin, in a
/// directory of its own (LiteRT looks it up by name on the library path).
#[cfg(not(target_arch = "arm"))]
fn test_accelerator_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let headers = common::cache().join("tflite-headers");
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("litert-accelerator");
        std::fs::create_dir_all(&dir).unwrap();
        let src = common::repo().join("tests/fixtures/test-delegate/test_delegate.c");
        let status = Command::new(c_compiler())
            .args(["-shared", "-fPIC", "-O1", "-Wall", "-Werror"])
            .arg("-DEDGEPOSE_LITERT_ACCELERATOR")
            .arg("-I")
            .arg(&headers)
            .arg(&src)
            .arg("-o")
            .arg(dir.join("libLiteRtGpuAccelerator.so"))
            .arg("-ldl")
            .status()
            .expect("run cc (scripts/setup.sh installs gcc)");
        assert!(
            status.success(),
            "compiling {} as an accelerator failed",
            src.display()
        );
        dir
    })
}

/// LiteRT with the test accelerator registered and `--delegate gpu`; its
/// options ("key=value;...") go through the environment.
#[cfg(not(target_arch = "arm"))]
fn litert_gpu(options: &str) -> Command {
    let mut c = common::edgepose_with_libs(Flavour::Litert, &[test_accelerator_dir().into()]);
    c.env("EDGEPOSE_TEST_ACCELERATOR", options)
        .args(["--delegate", "gpu"]);
    c
}

#[cfg(not(target_arch = "arm"))]
#[test]
fn litert_accelerator_registered_but_taking_no_operator_is_not_claimed() {
    // Registered: probe lists it.
    let mut c = litert_gpu("claim=none");
    let out = run(c.args(["probe", "--json"]));
    assert_ok(&out);
    let r: serde_json::Value = serde_json::from_str(&common::stdout(&out)).unwrap();
    let accs = r["tflite"]["info"]["accelerators"].to_string();
    assert!(accs.contains("EdgeposeTestDelegateGpu [GPU]"), "{accs}");
    let cpu = infer_two(edgepose(Flavour::Litert));
    // claim=none: the accelerator applied, and took nothing; claim=3: it
    // took three nodes. LiteRT answers both with "not the whole model" and
    // nothing more: both unknown, neither enough for --require-delegate.
    for (claim, took) in [
        ("claim=none", "claimed 0 of 296"),
        ("claim=3", "claimed 3 of 296"),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let rec = dir.path().join("rec.txt");
        let opts = format!("{claim};record={}", rec.display());
        let d = bench_status(litert_gpu(&opts));
        assert!(record(&rec).contains(&took.to_string()), "{claim}");
        assert_eq!(
            (&d["active"], &d["fully_accelerated"], &d["counted_from"]),
            (
                &"unknown".into(),
                &false.into(),
                &"LiteRtCompiledModelIsNonCpuFullyAccelerated".into()
            ),
            "{claim}: {d}"
        );
        let (line, warned) = run_summary(litert_gpu(claim));
        assert!(
            line.contains("gpu (EdgeposeTestDelegateGpu) in use UNKNOWN")
                && line.contains("LiteRtCompiledModelIsNonCpuFullyAccelerated: false"),
            "{claim}: {line}"
        );
        assert!(warned, "{claim}");
        let out = infer_two(litert_gpu(claim));
        assert_ok(&out);
        assert_eq!(persons(&out), persons(&cpu), "{claim}");
        let out = infer_two({
            let mut c = litert_gpu(claim);
            c.arg("--require-delegate");
            c
        });
        assert_required_error(&out, &["whether it is in use is unknown"]);
    }
}

#[cfg(not(target_arch = "arm"))]
#[test]
fn litert_accelerator_taking_the_whole_model_is_fully_accelerated() {
    let dir = tempfile::tempdir().unwrap();
    let rec = dir.path().join("rec.txt");
    let d = bench_status(litert_gpu(&format!("claim=graph;record={}", rec.display())));
    assert!(record(&rec).contains(&"claimed 296 of 296".to_string()));
    assert_eq!(
        (&d["active"], &d["fully_accelerated"], &d["name"]),
        (
            &true.into(),
            &true.into(),
            &"EdgeposeTestDelegateGpu".into()
        ),
        "{d}"
    );
    let (line, warned) = run_summary(litert_gpu("claim=graph"));
    assert_eq!(
        line,
        "delegate: gpu (EdgeposeTestDelegateGpu) runs the whole model \
         [LiteRtCompiledModelIsNonCpuFullyAccelerated]"
    );
    assert!(!warned);
    let out = infer_two({
        let mut c = litert_gpu("claim=graph");
        c.arg("--require-delegate");
        c
    });
    assert_ok(&out);
    // Its kernel writes zeros: no person, and nothing from the CPU.
    assert!(persons(&out)
        .iter()
        .all(|p| p.as_array().unwrap().is_empty()));
}

/// A board profile file using the test delegate.
fn profile(dir: &Path, extra_options: &str) -> PathBuf {
    let p = dir.join("testboard.toml");
    std::fs::write(
        &p,
        format!(
            "name = \"testboard\"\ndescription = \"a board whose NPU is the test delegate\"\n\
             [delegate]\nkind = \"external\"\nlibrary = \"{}\"\n[delegate.options]\n{extra_options}\n",
            test_delegate().display()
        ),
    )
    .unwrap();
    p
}

#[test]
fn board_profile_delegate_options_under_command_line_ones() {
    let dir = tempfile::tempdir().unwrap();
    let rec = dir.path().join("rec.txt");
    let board = profile(
        dir.path(),
        &format!(
            "record = \"{}\"\nclaim = \"2\"\ncore_number = \"1\"",
            rec.display()
        ),
    );
    let out = run(classic()
        .arg("--board")
        .arg(&board)
        .args(["--delegate-option", "claim=5", "infer"])
        .arg(sample("samples/bus.jpg")));
    assert_ok(&out);
    let lines = record(&rec);
    assert_eq!(
        lines[..4],
        [
            "option claim=5".to_string(),
            "option core_number=1".into(),
            format!("option record={}", rec.display()),
            "claimed 5 of 296".into(),
        ]
    );
    // Naming another delegate on the command line drops the profile's options.
    std::fs::remove_file(&rec).unwrap();
    let out = run(classic()
        .arg("--board")
        .arg(&board)
        .arg("--delegate")
        .arg(test_delegate())
        .arg("infer")
        .arg(sample("samples/bus.jpg")));
    assert_ok(&out);
    assert!(
        !rec.exists(),
        "profile options must not reach a delegate named on the command line"
    );
}

#[test]
fn probe_reports_library_and_delegates() {
    let dir = tempfile::tempdir().unwrap();
    let board = profile(dir.path(), "");
    let out = run(classic()
        .arg("--board")
        .arg(&board)
        .args(["probe", "--json"]));
    assert_ok(&out);
    let r: serde_json::Value = serde_json::from_str(&common::stdout(&out)).unwrap();
    assert_eq!(r["board"]["name"], "testboard");
    assert!(r["board"]["reason"].as_str().unwrap().contains("--board"));
    assert_eq!(r["tflite"]["info"]["flavour"], "classic");
    assert_eq!(r["tflite"]["info"]["version"], "2.14.1");
    assert_eq!(r["tflite"]["info"]["xnnpack"], false);
    assert_eq!(r["tflite"]["from"], "--tflite-lib");
    let d = &r["delegates"][0];
    assert_eq!(d["from"], "board profile");
    assert_eq!(d["usable"], true, "{d}");
    assert!(d["detail"]
        .as_str()
        .unwrap()
        .contains("tflite_plugin_create_delegate"));
    // A shipped profile whose vendor delegate is not on this machine.
    let out = run(classic().args(["--board", "nxp-imx8mp", "probe"]));
    assert_ok(&out);
    let text = common::stdout(&out);
    assert!(
        text.contains("/usr/lib/libvx_delegate.so (board profile): NOT usable — does not load")
            && text.contains("cannot open shared object file"),
        "{text}"
    );
    assert!(text.contains("flavour classic, version 2.14.1"), "{text}");
}

/// Mesa's Teflon delegate (Debian's mesa-teflon-delegate, built for arm64
/// only, so this test exists in the aarch64 test run): a real third-party
/// NPU delegate. Without an NPU (a build machine, qemu) it must fail in its
/// own words, and the model run on the CPU.
#[cfg(target_arch = "aarch64")]
#[test]
fn teflon_without_an_npu_fails_clearly() {
    let root = common::cache().join("runtimes/teflon/arm64");
    let teflon = root.join("usr/lib/teflon/libteflon.so");
    assert!(
        teflon.exists(),
        "{} not found: run scripts/setup.sh",
        teflon.display()
    );
    let deps = vec![root.join("usr/lib/aarch64-linux-gnu")];
    let cmd = || {
        let mut c = common::edgepose_with_libs(Flavour::Classic, &deps);
        c.arg("--delegate").arg(&teflon);
        c
    };
    let out = infer_two({
        let mut c = cmd();
        c.arg("--require-delegate");
        c
    });
    assert_required_error(
        &out,
        &[
            "libteflon.so",
            "returned no delegate",
            "Couldn't open kernel device",
        ],
    );
    let out = infer_two(cmd());
    assert_ok(&out);
    assert!(delegate_warning(&out).contains("Couldn't open kernel device"));
    assert_eq!(persons(&out), persons(&infer_two(classic())));
}
