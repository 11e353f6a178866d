//! Inference: runs a TFLite model on a TFLite runtime library loaded at run
//! time, so one binary uses whatever library a board ships.
//!
//! Two runtime flavours, told apart by the symbols the library exports:
//! - **LiteRT** (`libLiteRt.so`, e.g. from the `ai-edge-litert` wheel):
//!   Google's `CompiledModel` API with its CPU accelerator (XNNPACK).
//! - **Classic** TFLite C API (`libtensorflowlite_c.so`, Debian's
//!   `libtensorflow-lite.so.2.14.1`, vendor SDKs): the interpreter API, and
//!   the only route for external NPU delegates.
//!
//! Each backend lives in its own file; the runtime crate's types never leave
//! it. The rest of edgepose sees only [`Engine`]: a byte buffer to fill with
//! the model input, `invoke`, and byte views of the outputs, described by the
//! [`TensorInfo`]s read from the model file. Choosing a library, and what its
//! load errors mean: docs/configuration.md.

mod classic;
pub mod delegate;
mod litert;
mod quiet;
pub mod status;

use std::path::{Path, PathBuf};

use serde::Serialize;

pub use delegate::{DelegateKind, DelegateRequest};
pub use status::DelegateStatus;

use crate::model::{sha256_hex, ResolvedModel, TensorInfo};

/// Runtime flavour of a TFLite library.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Flavour {
    /// LiteRT `CompiledModel` API.
    Litert,
    /// Classic TFLite C interpreter API.
    Classic,
}

impl Flavour {
    pub fn name(self) -> &'static str {
        match self {
            Flavour::Litert => "litert",
            Flavour::Classic => "classic",
        }
    }
}

/// Errors from loading a runtime or running a model.
#[derive(Debug, thiserror::Error)]
pub enum InferError {
    #[error("no TFLite library given: pass --tflite-lib PATH, set EDGEPOSE_TFLITE_LIB, or set tflite_lib in the config")]
    NoLibrary,
    #[error("cannot load TFLite library {path}: {why}")]
    LoadLibrary { path: String, why: String },
    #[error("{path} is not a TFLite runtime library: it exports neither LiteRt* (LiteRT) nor TfLite* (classic C API) symbols{detail}")]
    NotTfliteLibrary { path: String, detail: String },
    #[error("TFLite library {path} ({flavour}) cannot run model {model}: {why}")]
    Model {
        path: String,
        flavour: &'static str,
        model: String,
        why: String,
    },
    #[error("model {model}: the runtime allocates {what} as {actual}, the model file declares {expected}")]
    Interface {
        model: String,
        what: String,
        expected: String,
        actual: String,
    },
    #[error("model {model}: the runtime failed to run it: {why}")]
    Invoke { model: String, why: String },
    #[error("delegate {delegate} is required (--require-delegate) but {why}")]
    DelegateRequired { delegate: String, why: String },
}

/// Runtime options.
#[derive(Debug, Clone)]
pub struct EngineOptions {
    /// Path of the TFLite runtime library.
    pub library: PathBuf,
    /// CPU threads for the runtime (0: runtime default).
    pub threads: usize,
    /// Delegate or accelerator to use, and whether it is required.
    pub delegate: DelegateRequest,
}

impl EngineOptions {
    /// The runtime's CPU path, no delegate.
    pub fn cpu(library: PathBuf, threads: usize) -> Self {
        Self {
            library,
            threads,
            delegate: DelegateRequest::default(),
        }
    }
}

/// What an engine is running on (for records and reports).
#[derive(Debug, Clone, Serialize)]
pub struct EngineInfo {
    pub flavour: Flavour,
    pub library: String,
    pub threads: usize,
    /// Accelerator or delegate doing the work (e.g. "cpu", "xnnpack").
    pub accelerator: String,
    /// What the requested delegate did.
    pub delegate: DelegateStatus,
    /// Milliseconds to load the model and build the interpreter, delegate
    /// preparation (graph partitioning, often the NPU graph compile) included.
    pub load_ms: f64,
    pub inputs: Vec<TensorInfo>,
    pub outputs: Vec<TensorInfo>,
}

/// A model loaded on a runtime, ready to invoke.
pub trait Engine: Send {
    /// Flavour, library, tensors.
    fn info(&self) -> &EngineInfo;
    /// The input tensor's bytes, to be filled before [`Engine::invoke`].
    fn input_mut(&mut self) -> &mut [u8];
    /// Runs the model on the current input.
    fn invoke(&mut self) -> Result<(), InferError>;
    /// Output tensor `index`'s bytes after the last invoke.
    fn output(&self, index: usize) -> &[u8];
    /// Records how long loading took (set by [`open`]).
    fn set_load_ms(&mut self, _ms: f64) {}
}

/// Symbols that identify each flavour.
const LITERT_SYMBOL: &[u8] = b"LiteRtCreateEnvironment\0";
const CLASSIC_SYMBOLS: &[&[u8]] = &[
    b"TfLiteModelCreate\0",
    b"TfLiteInterpreterCreate\0",
    b"TfLiteInterpreterInvoke\0",
];

/// Detects the flavour of the library at `path` from its exported symbols,
/// without handing it to the runtime crate (which panics on a library that
/// lacks the classic symbols).
pub fn detect_flavour(path: &Path) -> Result<Flavour, InferError> {
    let display = path.display().to_string();
    if !path.exists() {
        return Err(InferError::LoadLibrary {
            path: display,
            why: "no such file".into(),
        });
    }
    // SAFETY: loading a shared library runs its initialisers; this is the
    // library the user asked us to run the model with.
    let lib = unsafe { libloading::Library::new(path) }.map_err(|e| InferError::LoadLibrary {
        path: display.clone(),
        why: delegate::error_chain(&e),
    })?;
    // SAFETY: only the presence of the symbols is checked; none is called.
    let has = |sym: &[u8]| unsafe { lib.get::<*const ()>(sym) }.is_ok();
    let flavour = flavour_from_symbols(&display, has);
    // Never unload a runtime library: some register plain `atexit`
    // handlers, which would then point into unmapped code when the process
    // exits (a crash seen with libLiteRt.so). The runtime loads it again
    // right after this; the extra reference is harmless.
    std::mem::forget(lib);
    flavour
}

fn flavour_from_symbols(display: &str, has: impl Fn(&[u8]) -> bool) -> Result<Flavour, InferError> {
    let display = display.to_string();
    if has(LITERT_SYMBOL) {
        return Ok(Flavour::Litert);
    }
    let missing: Vec<&str> = CLASSIC_SYMBOLS
        .iter()
        .filter(|s| !has(s))
        .map(|s| std::str::from_utf8(&s[..s.len() - 1]).unwrap_or("?"))
        .collect();
    if missing.is_empty() {
        Ok(Flavour::Classic)
    } else if missing.len() < CLASSIC_SYMBOLS.len() {
        Err(InferError::NotTfliteLibrary {
            path: display,
            detail: format!(" (it lacks {})", missing.join(", ")),
        })
    } else {
        Err(InferError::NotTfliteLibrary {
            path: display,
            detail: String::new(),
        })
    }
}

/// Loads `model` on the library in `opts`.
pub fn open(model: &ResolvedModel, opts: &EngineOptions) -> Result<Box<dyn Engine>, InferError> {
    let flavour = detect_flavour(&opts.library)?;
    let fail = model_error(model, opts, flavour);
    // Read again (bounded) for the runtime, which keeps its own copy: it
    // must be the file that was verified.
    let bytes = crate::model::read_model_file(&model.path).map_err(|e| fail(e.to_string()))?;
    let sha256 = sha256_hex(&bytes);
    if sha256 != model.sha256 {
        return Err(fail(format!(
            "the file changed since it was verified (sha256 {sha256}, was {})",
            model.sha256
        )));
    }
    // Runtimes print their start-up chatter to stderr; it goes to the log
    // (debug level, or warnings when loading fails) instead.
    let started = std::time::Instant::now();
    let (engine, chatter) = quiet::capture_stderr(|| -> Result<Box<dyn Engine>, InferError> {
        Ok(match flavour {
            Flavour::Litert => Box::new(litert::LitertEngine::open(model, bytes, opts)?),
            Flavour::Classic => Box::new(classic::ClassicEngine::open(model, bytes, opts)?),
        })
    });
    for line in chatter.lines().filter(|l| !l.trim().is_empty()) {
        log::debug!("runtime: {line}");
    }
    let mut engine = engine.map_err(|e| with_runtime_errors(e, &chatter))?;
    engine.set_load_ms(started.elapsed().as_secs_f64() * 1e3);
    Ok(Box::new(quiet::QuietDrop(std::mem::ManuallyDrop::new(
        engine,
    ))))
}

/// A runtime library's flavour and version (for `edgepose probe`).
#[derive(Debug, Clone, Serialize)]
pub struct LibraryInfo {
    pub path: String,
    pub flavour: Flavour,
    /// `TfLiteVersion()` of a classic library; LiteRT exports no version.
    pub version: Option<String>,
    /// LiteRT: the registered accelerators (name [hardware]).
    pub accelerators: Vec<String>,
    /// Classic: whether the built-in XNNPACK delegate is exported.
    pub xnnpack: Option<bool>,
}

/// Loads the library at `path` and reports what it is.
pub fn library_info(path: &Path) -> Result<LibraryInfo, InferError> {
    let flavour = detect_flavour(path)?;
    let (info, chatter) = quiet::capture_stderr(|| match flavour {
        Flavour::Classic => classic::library_info(path),
        Flavour::Litert => litert::library_info(path),
    });
    for line in chatter.lines().filter(|l| !l.trim().is_empty()) {
        log::debug!("runtime: {line}");
    }
    info
}

impl EngineInfo {
    /// Description of `model` on the library in `opts`, CPU only.
    fn new(model: &ResolvedModel, opts: &EngineOptions, flavour: Flavour) -> Self {
        Self {
            flavour,
            library: opts.library.display().to_string(),
            threads: opts.threads,
            accelerator: "cpu".into(),
            delegate: DelegateStatus::new(&opts.delegate),
            load_ms: 0.0,
            inputs: model.interface.inputs.clone(),
            outputs: model.interface.outputs.clone(),
        }
    }
}

/// A failure to load a model, with the runtime's own error lines (from its
/// captured stderr) added to the reason.
fn with_runtime_errors(e: InferError, chatter: &str) -> InferError {
    let said: Vec<&str> = chatter
        .lines()
        .filter_map(|l| l.trim().strip_prefix("ERROR: "))
        .filter(|l| !l.contains("Failed to allocate tensors"))
        .collect();
    match e {
        InferError::Model {
            path,
            flavour,
            model,
            why,
        } if !said.is_empty() => InferError::Model {
            path,
            flavour,
            model,
            why: format!("{why} (runtime: {})", said.join("; ")),
        },
        e => e,
    }
}

/// Wraps a runtime's failure to load or compile `model`.
fn model_error<'a>(
    model: &'a ResolvedModel,
    opts: &'a EngineOptions,
    flavour: Flavour,
) -> impl Fn(String) -> InferError + 'a {
    move |why| InferError::Model {
        path: opts.library.display().to_string(),
        flavour: flavour.name(),
        model: model.path.display().to_string(),
        why,
    }
}

/// Checks the shape the runtime allocated for input or output `index`
/// against the shape the model file declares (whose size the rest of
/// edgepose relies on).
fn check_shape(
    model: &ResolvedModel,
    what: &str,
    index: usize,
    allocated: &[i64],
) -> Result<(), InferError> {
    let info = match what {
        "input" => &model.interface.inputs[index],
        _ => &model.interface.outputs[index],
    };
    let same = allocated.len() == info.shape.len()
        && allocated
            .iter()
            .zip(&info.shape)
            .all(|(&a, &d)| u64::try_from(a).ok() == u64::try_from(d).ok());
    if same {
        return Ok(());
    }
    let dims: Vec<String> = allocated.iter().map(i64::to_string).collect();
    Err(InferError::Interface {
        model: model.path.display().to_string(),
        what: format!("{what} {index} ({:?})", info.name),
        expected: format!(
            "{:?} {} ({} bytes); the file's declared shapes do not match its graph",
            info.shape,
            info.dtype.name(),
            info.byte_len()
        ),
        actual: format!("[{}]", dims.join(", ")),
    })
}
