//! Classic TFLite C API backend (`TfLiteInterpreter*`), through
//! `edgefirst-tflite`: what Debian, TI's SDK and self-built libraries
//! provide, and the route for external delegates.
//!
//! Delegates (see [`super::delegate`]) are added to the interpreter options
//! before the interpreter is built, so the runtime hands them the whole
//! graph first; a delegate that cannot be loaded or applied leaves a plain
//! CPU interpreter and the reason in [`EngineInfo::delegate`].
//!
//! The input and output tensors live in the interpreter's arena. Their data
//! pointers are read once after `AllocateTensors` and stay valid because
//! edgepose never resizes a tensor or re-allocates afterwards, so the frame
//! loop touches them without any per-frame allocation.

use std::collections::BTreeMap;
use std::path::Path;

use edgefirst_tflite::{Delegate, DelegateOptions, Interpreter, Library, Model};
use edgefirst_tflite_sys::TfLiteDelegate;

use super::delegate::{self, DelegateKind};
use super::quiet;
use super::status::{enforce, DelegateStatus};
use super::{
    check_shape, model_error, Engine, EngineInfo, EngineOptions, Flavour, InferError, LibraryInfo,
};
use crate::model::ResolvedModel;

struct TensorMem {
    ptr: *mut u8,
    len: usize,
}

/// A model on a classic TFLite interpreter.
///
/// Library ← model ← interpreter borrow each other; they are boxed once and
/// dropped in reverse order by [`Drop`], and no borrow leaves the struct.
pub struct ClassicEngine {
    interpreter: Option<Interpreter<'static>>,
    /// The delegate whose `Prepare` is watched (forgotten on drop).
    watched: Option<*mut TfLiteDelegate>,
    model: *mut Model<'static>,
    lib: *mut Library,
    input: TensorMem,
    outputs: Vec<TensorMem>,
    info: EngineInfo,
    /// The model file, for errors.
    model_path: String,
}

// SAFETY: the interpreter and library are Send; the tensor pointers point
// into the interpreter's arena, owned by this struct.
unsafe impl Send for ClassicEngine {}

impl Drop for ClassicEngine {
    fn drop(&mut self) {
        self.interpreter = None;
        if let Some(d) = self.watched.take() {
            delegate::unwatch(d);
        }
        // SAFETY: both pointers came from Box::into_raw in `open`; each is
        // freed once, after the interpreter that borrows them.
        unsafe {
            if !self.model.is_null() {
                drop(Box::from_raw(self.model));
            }
        }
        // The runtime library itself is never unloaded (see
        // `detect_flavour`): the small `Library` handle is deliberately
        // leaked and the OS reclaims it at exit.
        let _ = self.lib;
    }
}

impl ClassicEngine {
    pub fn open(
        resolved: &ResolvedModel,
        bytes: Vec<u8>,
        opts: &EngineOptions,
    ) -> Result<Self, InferError> {
        let fail = model_error(resolved, opts, Flavour::Classic);
        let lib = Library::from_path(&opts.library).map_err(|e| InferError::LoadLibrary {
            path: opts.library.display().to_string(),
            why: e.to_string(),
        })?;
        let mut engine = ClassicEngine {
            interpreter: None,
            watched: None,
            model: std::ptr::null_mut(),
            lib: Box::into_raw(Box::new(lib)),
            input: TensorMem {
                ptr: std::ptr::null_mut(),
                len: 0,
            },
            outputs: Vec::new(),
            info: EngineInfo::new(resolved, opts, Flavour::Classic),
            model_path: resolved.path.display().to_string(),
        };
        // SAFETY: `lib` lives until Drop, after the model and interpreter.
        let lib_ref: &'static Library = unsafe { &*engine.lib };
        let model = Model::from_bytes(lib_ref, bytes).map_err(|e| fail(e.to_string()))?;
        engine.model = Box::into_raw(Box::new(model));
        // SAFETY: as above for the model.
        let model_ref: &'static Model<'static> = unsafe { &*engine.model };
        let threads = i32::try_from(opts.threads).unwrap_or(i32::MAX);
        let builder = || {
            let b = Interpreter::builder(lib_ref).map_err(|e| fail(e.to_string()))?;
            Ok::<_, InferError>(if threads > 0 {
                b.num_threads(threads)
            } else {
                b
            })
        };
        let req = &opts.delegate;
        let mut status = DelegateStatus::new(req);
        let delegate = match &req.kind {
            DelegateKind::None => None,
            DelegateKind::Npu | DelegateKind::Gpu => {
                status.not_used(format!(
                    "the classic TFLite runtime has no {} accelerator selection: name the \
                     delegate library instead (--delegate /path/to/lib...so) or use a LiteRT library",
                    req.kind
                ));
                None
            }
            DelegateKind::Xnnpack => match Delegate::xnnpack(lib_ref, threads) {
                Ok(d) => Some(d),
                Err(e) => {
                    status.not_used(format!("this TFLite library cannot create it: {e}"));
                    None
                }
            },
            DelegateKind::External(path) => load_external(path, &req.options, &mut status),
        };
        let mut interp = match delegate {
            None => builder()?
                .build(model_ref)
                .map_err(|e| fail(e.to_string()))?,
            Some(d) => {
                let ptr = d.as_ptr();
                // SAFETY: `ptr` is the live delegate `d` owns, not yet used by
                // any interpreter; it is unwatched when the engine drops
                // the interpreter (and with it the delegate) or on failure.
                let watched = unsafe { delegate::watch(ptr) };
                let b = builder()?.delegate(d);
                let (built, chatter) = quiet::capture_stderr(|| b.build(model_ref));
                for line in chatter.lines().filter(|l| !l.trim().is_empty()) {
                    log::debug!("runtime: {line}");
                }
                match built {
                    Ok(i) => {
                        engine.watched = watched.then_some(ptr);
                        record_counts(&mut status, ptr, &chatter);
                        i
                    }
                    Err(e) => {
                        // The builder dropped (destroyed) the delegate.
                        delegate::unwatch(ptr);
                        status.not_used(format!(
                            "applying it to the model failed: {e}{}",
                            runtime_says(&chatter)
                        ));
                        builder()?
                            .build(model_ref)
                            .map_err(|e| fail(e.to_string()))?
                    }
                }
            }
        };
        enforce(req, &status)?;
        if status.active == Some(true) {
            engine.info.accelerator = status
                .name
                .clone()
                .unwrap_or_else(|| status.requested.clone());
        }
        engine.info.delegate = status;
        // The tensors as the runtime allocated them (`build` allocates and
        // checks its status), against the file, before any is used.
        let counts = (interp.input_count(), interp.output_count());
        let (n_in, n_out) = (
            resolved.interface.inputs.len(),
            resolved.interface.outputs.len(),
        );
        if counts != (n_in, n_out) {
            return Err(InferError::Interface {
                model: engine.model_path.clone(),
                what: "input and output counts".into(),
                expected: format!("{n_in} and {n_out}"),
                actual: format!("{} and {}", counts.0, counts.1),
            });
        }
        {
            let mut inputs = interp.inputs_mut().map_err(|e| fail(e.to_string()))?;
            for (i, t) in inputs.iter().enumerate() {
                let shape = t.shape().map_err(|e| fail(e.to_string()))?;
                check_shape(resolved, "input", i, &dims(&shape))?;
            }
            let t = inputs
                .first_mut()
                .ok_or_else(|| fail("the interpreter reports no input tensor".into()))?;
            let bytes = t.as_bytes_mut().map_err(|e| fail(e.to_string()))?;
            check_bytes(resolved, "input", 0, bytes.len())?;
            engine.input = TensorMem {
                ptr: bytes.as_mut_ptr(),
                len: bytes.len(),
            };
        }
        {
            let outputs = interp.outputs().map_err(|e| fail(e.to_string()))?;
            for (i, t) in outputs.iter().enumerate() {
                let shape = t.shape().map_err(|e| fail(e.to_string()))?;
                check_shape(resolved, "output", i, &dims(&shape))?;
                let bytes = t.as_bytes().map_err(|e| fail(e.to_string()))?;
                check_bytes(resolved, "output", i, bytes.len())?;
                engine.outputs.push(TensorMem {
                    ptr: bytes.as_ptr().cast_mut(),
                    len: bytes.len(),
                });
            }
        }
        engine.interpreter = Some(interp);
        Ok(engine)
    }
}

impl Engine for ClassicEngine {
    fn info(&self) -> &EngineInfo {
        &self.info
    }

    fn input_mut(&mut self) -> &mut [u8] {
        // SAFETY: the pointer and length describe the input tensor's arena
        // memory, valid while the interpreter lives (never re-allocated),
        // and `&mut self` gives exclusive access.
        unsafe { std::slice::from_raw_parts_mut(self.input.ptr, self.input.len) }
    }

    fn invoke(&mut self) -> Result<(), InferError> {
        let model = &self.model_path;
        let e = |why: String| InferError::Invoke {
            model: model.clone(),
            why,
        };
        self.interpreter
            .as_mut()
            .ok_or_else(|| e("interpreter not built".into()))?
            .invoke()
            .map_err(|err| e(err.to_string()))
    }

    fn output(&self, index: usize) -> &[u8] {
        match self.outputs.get(index) {
            // SAFETY: as for the input; outputs are only read between invokes.
            Some(t) => unsafe { std::slice::from_raw_parts(t.ptr, t.len) },
            None => &[],
        }
    }

    fn set_load_ms(&mut self, ms: f64) {
        self.info.load_ms = ms;
    }
}

fn dims(shape: &[usize]) -> Vec<i64> {
    shape
        .iter()
        .map(|&d| i64::try_from(d).unwrap_or(i64::MAX))
        .collect()
}

/// The bytes of a tensor whose shape matched must be the file's size too
/// (they differ only if the element type does).
fn check_bytes(
    model: &ResolvedModel,
    what: &str,
    index: usize,
    len: usize,
) -> Result<(), InferError> {
    let info = match what {
        "input" => &model.interface.inputs[index],
        _ => &model.interface.outputs[index],
    };
    if len == info.byte_len() {
        return Ok(());
    }
    Err(InferError::Interface {
        model: model.path.display().to_string(),
        what: format!("{what} {index} ({:?}) byte size", info.name),
        expected: format!("{} bytes ({})", info.byte_len(), info.dtype.name()),
        actual: format!("{len} bytes"),
    })
}

/// The runtime's own words from captured stderr, for an error message.
fn runtime_says(chatter: &str) -> String {
    let lines: Vec<&str> = chatter
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    if lines.is_empty() {
        String::new()
    } else {
        format!(" (runtime: {})", lines.join("; "))
    }
}

/// Loads an external delegate through its plugin entry points.
fn load_external(
    path: &Path,
    options: &BTreeMap<String, String>,
    status: &mut DelegateStatus,
) -> Option<Delegate> {
    let opts = options
        .iter()
        .fold(DelegateOptions::new(), |o, (k, v)| o.option(k, v));
    let (loaded, chatter) = quiet::capture_stderr(|| Delegate::load_with_options(path, &opts));
    for line in chatter.lines().filter(|l| !l.trim().is_empty()) {
        log::debug!("delegate: {line}");
    }
    match loaded {
        Ok(d) => Some(d),
        Err(e) => {
            let probe = delegate::probe_plugin(path);
            status.not_used(if !probe.loads {
                format!(
                    "cannot load delegate library {}: {}",
                    path.display(),
                    probe.error.unwrap_or_else(|| e.to_string())
                )
            } else if !probe.usable() {
                format!(
                    "{} is not a TFLite delegate plugin: it lacks tflite_plugin_create_delegate \
                     or tflite_plugin_destroy_delegate",
                    path.display()
                )
            } else {
                // edgefirst-tflite passes no error handler; ask once more
                // with one for the delegate's own reason.
                let (reported, more) =
                    quiet::capture_stderr(|| delegate::plugin_error_text(path, options));
                let mut said: Vec<String> = reported;
                said.extend(
                    chatter
                        .lines()
                        .chain(more.lines())
                        .map(|l| l.trim().to_string())
                        .filter(|l| !l.is_empty()),
                );
                said.dedup();
                format!(
                    "its tflite_plugin_create_delegate returned no delegate: {}",
                    if said.is_empty() {
                        "it gave no reason (is its accelerator present?)".to_string()
                    } else {
                        said.join("; ")
                    }
                )
            });
            None
        }
    }
}

/// Fills in what the delegate took, from the execution plan (or else the
/// runtime's log line); unknown when neither says.
fn record_counts(status: &mut DelegateStatus, ptr: *mut TfLiteDelegate, chatter: &str) {
    if let Some((c, name)) = delegate::take_census(ptr) {
        status.counted("execution-plan", name, c.taken, c.total, c.partitions);
    } else if let Some((name, n, m, k)) = delegate::parse_replacing(chatter).into_iter().next() {
        status.counted("runtime-log", Some(name), n, m, k);
    } else {
        status.fully_accelerated = None;
        status.unknown(
            "the runtime does not say which nodes it took: its Prepare could not be watched \
             (a delegate on the opaque delegate API) and the runtime logged no \
             \"Replacing N out of M node(s)\" line"
                .into(),
        );
    }
}

/// Version and capabilities of a classic library.
pub fn library_info(path: &Path) -> Result<LibraryInfo, InferError> {
    let lib = Library::from_path(path).map_err(|e| InferError::LoadLibrary {
        path: path.display().to_string(),
        why: e.to_string(),
    })?;
    // SAFETY: TfLiteVersion returns a static NUL-terminated string.
    let version = unsafe {
        let v = lib.as_sys().TfLiteVersion();
        (!v.is_null()).then(|| std::ffi::CStr::from_ptr(v).to_string_lossy().into_owned())
    };
    // SAFETY: presence check only.
    let xnnpack = unsafe {
        lib.as_sys()
            .library()
            .get::<*const ()>(b"TfLiteXNNPackDelegateCreate\0")
    }
    .is_ok();
    // The runtime library is never unloaded (see `detect_flavour`).
    std::mem::forget(lib);
    Ok(LibraryInfo {
        path: path.display().to_string(),
        flavour: Flavour::Classic,
        version,
        accelerators: Vec::new(),
        xnnpack: Some(xnnpack),
    })
}
