//! LiteRT backend: Google's `CompiledModel` API (`libLiteRt.so`), through
//! `edgefirst-tflite`'s `litert` module. The CPU accelerator (XNNPACK) is
//! selected, plus the NPU or GPU accelerator when `--delegate npu|gpu` asks
//! for it and the library has one registered (LiteRT falls back to the CPU
//! per operator); LiteRT loads no TFLite plugin delegates, so a delegate
//! library leaves the model on the CPU with the reason in
//! [`EngineInfo::delegate`]. What the accelerators took is asked of the
//! compiled model (see [`super::status`]). Input and output live in
//! runtime-managed tensor buffers that are created once and reused for every
//! frame, after LiteRT has allocated the model's tensors and every input and
//! output shape it computed from the graph was checked against the shape the
//! file declares (a file whose declared shapes lie would otherwise make
//! LiteRT write past the buffers at the first run).
//!
//! Thread count: LiteRT 2.3 exports no CPU-options setter. The CPU
//! accelerator reads its options from an *opaque options* entry with the
//! identifier `"xnnpack"` whose payload is a NUL-terminated TOML string
//! (`num_threads = N`), parsed with `strlen` when the model is compiled
//! (LiteRT's `litert/runtime/litert_cpu_options.*` and
//! `accelerators/xnnpack/xnnpack_accelerator.cc`). edgefirst-tflite keeps
//! the raw `LiteRtOptions` handle private, so [`raw::attach_cpu_threads`]
//! recovers it from the `Debug` output of `Options` (crate pinned to the
//! version whose format this reads) and cross-checks it by reading the
//! accelerator set through it before using it. The XNNPACK `flags` are left
//! at their default (int8 support on); `num_threads <= 1` means no pool.

mod raw;

use edgefirst_tflite::litert::TensorBuffer;
use edgefirst_tflite::litert::{CompiledModel, Environment, HwAccelerators, Model, Options};
use edgefirst_tflite::Library;

use super::delegate::DelegateKind;
use super::status::{enforce, DelegateStatus};
use super::{
    check_shape, model_error, Engine, EngineInfo, EngineOptions, Flavour, InferError, LibraryInfo,
};
use crate::model::ResolvedModel;

/// A model compiled on LiteRT.
///
/// The runtime objects borrow each other (library ← environment ← model ←
/// compiled model ← buffers). They are heap-allocated once, referenced
/// through raw pointers whose lifetimes are erased, and dropped in reverse
/// order by [`Drop`]; nothing borrowed ever leaves this struct.
pub struct LitertEngine {
    inputs: Vec<TensorBuffer<'static>>,
    outputs: Vec<TensorBuffer<'static>>,
    compiled: Option<CompiledModel<'static>>,
    model: *mut Model<'static>,
    env: *mut Environment<'static>,
    lib: *mut Library,
    input_staging: Vec<u8>,
    output_staging: Vec<Vec<u8>>,
    info: EngineInfo,
    /// The model file, for errors.
    model_path: String,
}

// SAFETY: every runtime handle here is Send (asserted by edgefirst-tflite);
// the raw pointers are owned exclusively by this struct.
unsafe impl Send for LitertEngine {}

impl Drop for LitertEngine {
    fn drop(&mut self) {
        self.inputs.clear();
        self.outputs.clear();
        self.compiled = None;
        // SAFETY: each pointer came from Box::into_raw in `open` and is
        // dropped exactly once, after everything that borrows it.
        unsafe {
            if !self.model.is_null() {
                drop(Box::from_raw(self.model));
            }
            if !self.env.is_null() {
                drop(Box::from_raw(self.env));
            }
        }
        // The runtime library itself is never unloaded (see
        // `detect_flavour`): the small `Library` handle is deliberately
        // leaked and the OS reclaims it at exit.
        let _ = self.lib;
    }
}

impl LitertEngine {
    pub fn open(
        resolved: &ResolvedModel,
        bytes: Vec<u8>,
        opts: &EngineOptions,
    ) -> Result<Self, InferError> {
        let fail = model_error(resolved, opts, Flavour::Litert);
        let lib = Library::from_path(&opts.library).map_err(|e| InferError::LoadLibrary {
            path: opts.library.display().to_string(),
            why: e.to_string(),
        })?;
        let lib: *mut Library = Box::into_raw(Box::new(lib));
        let mut engine = LitertEngine {
            inputs: Vec::new(),
            outputs: Vec::new(),
            compiled: None,
            model: std::ptr::null_mut(),
            env: std::ptr::null_mut(),
            lib,
            input_staging: Vec::new(),
            output_staging: Vec::new(),
            info: EngineInfo::new(resolved, opts, Flavour::Litert),
            model_path: resolved.path.display().to_string(),
        };
        // Until `env` and `model` are set, Drop must not free them: keep
        // them valid by constructing in order and only then storing.
        // SAFETY: `lib` stays alive until Drop, after all dependents.
        let lib_ref: &'static Library = unsafe { &*lib };
        let env = Environment::new(lib_ref).map_err(|e| fail(e.to_string()))?;
        engine.env = Box::into_raw(Box::new(env));
        // SAFETY: as above for `env`.
        let env_ref: &'static Environment<'static> = unsafe { &*engine.env };
        let model = Model::from_buffer(env_ref, bytes).map_err(|e| fail(e.to_string()))?;
        engine.model = Box::into_raw(Box::new(model));
        // SAFETY: as above for `model`.
        let model_ref: &'static Model<'static> = unsafe { &*engine.model };
        let req = &opts.delegate;
        let mut status = DelegateStatus::new(req);
        let wanted = match &req.kind {
            DelegateKind::None => None,
            DelegateKind::Xnnpack => {
                // LiteRT's CPU accelerator is XNNPACK; what it took is asked
                // once the model is compiled.
                status.name = Some("CpuAccelerator (XNNPACK)".into());
                None
            }
            DelegateKind::Npu => Some(HwAccelerators::NPU),
            DelegateKind::Gpu => Some(HwAccelerators::GPU),
            DelegateKind::External(path) => {
                status.not_used(format!(
                    "LiteRT ({}) loads no TFLite plugin delegates such as {}: use a classic \
                     TFLite C library (--tflite-lib) for it, or --delegate npu|gpu for LiteRT's \
                     own accelerators",
                    opts.library.display(),
                    path.display()
                ));
                None
            }
        };
        let mut accelerators = HwAccelerators::CPU;
        if let Some(hw) = wanted {
            let registered =
                edgefirst_tflite::litert::accelerators(env_ref).map_err(|e| fail(e.to_string()))?;
            match registered.iter().find(|a| a.hardware.contains(hw)) {
                Some(a) => {
                    accelerators = hw.union(HwAccelerators::CPU);
                    status.name = Some(a.name.clone());
                }
                None => {
                    let names: Vec<String> = registered.iter().map(|a| a.to_string()).collect();
                    status.not_used(format!(
                        "this LiteRT library has no {} accelerator registered (registered: {}); \
                         its vendor plugin library must sit beside it",
                        req.kind,
                        if names.is_empty() {
                            "none".into()
                        } else {
                            names.join(", ")
                        }
                    ));
                }
            }
        }
        if status.error.is_some() {
            // Not in use whatever happens next: fail before compiling.
            enforce(req, &status)?;
        }
        let options = Options::new(lib_ref)
            .and_then(|o| o.hardware_accelerators(accelerators))
            .map_err(|e| fail(e.to_string()))?;
        let options = if opts.threads > 1 {
            raw::attach_cpu_threads(lib_ref, options, opts.threads)
                .map_err(|e| fail(format!("cannot set the CPU thread count: {e}")))?
        } else {
            options
        };
        let compiled =
            CompiledModel::create(env_ref, model_ref, &options).map_err(|e| fail(e.to_string()))?;
        let raw = raw::RawCompiled::new(lib_ref, &compiled).map_err(&fail)?;
        // The model's tensors as LiteRT allocates them, against the file.
        let (n_in, n_out) = (
            resolved.interface.inputs.len(),
            resolved.interface.outputs.len(),
        );
        let counts = (
            model_ref.num_inputs(0).map_err(|e| fail(e.to_string()))?,
            model_ref.num_outputs(0).map_err(|e| fail(e.to_string()))?,
        );
        if counts != (n_in, n_out) {
            return Err(InferError::Interface {
                model: engine.model_path.clone(),
                what: "input and output counts".into(),
                expected: format!("{n_in} and {n_out}"),
                actual: format!("{} and {}", counts.0, counts.1),
            });
        }
        let (in_shapes, out_shapes) = raw
            .allocated_shapes(n_in, n_out)
            .map_err(|e| fail(format!("LiteRT cannot allocate the model's tensors: {e}")))?;
        for (i, shape) in in_shapes.iter().enumerate() {
            check_shape(resolved, "input", i, shape)?;
        }
        for (i, shape) in out_shapes.iter().enumerate() {
            check_shape(resolved, "output", i, shape)?;
        }
        match (&req.kind, status.error.is_some()) {
            (DelegateKind::Xnnpack, _) => cpu_accounting(&compiled, &mut status),
            (DelegateKind::Npu | DelegateKind::Gpu, false) => {
                accelerator_accounting(&raw, &mut status)
            }
            _ => {}
        }
        enforce(req, &status)?;
        if status.active == Some(true) {
            engine.info.accelerator = status.name.clone().unwrap_or_default();
        }
        engine.info.delegate = status;
        for i in 0..n_in {
            let b = compiled
                .create_input_buffer(0, i)
                .map_err(|e| fail(e.to_string()))?;
            check_buffer(resolved, "input", i, b.size())?;
            engine.inputs.push(b);
        }
        for i in 0..n_out {
            let b = compiled
                .create_output_buffer(0, i)
                .map_err(|e| fail(e.to_string()))?;
            check_buffer(resolved, "output", i, b.size())?;
            engine.outputs.push(b);
        }
        engine.compiled = Some(compiled);
        engine.input_staging = vec![0; resolved.interface.inputs[0].byte_len()];
        engine.output_staging = resolved
            .interface
            .outputs
            .iter()
            .map(|o| vec![0; o.byte_len()])
            .collect();
        Ok(engine)
    }
}

/// A LiteRT buffer must hold at least the tensor the file declares (and
/// LiteRT computed: checked before).
fn check_buffer(
    model: &ResolvedModel,
    what: &str,
    index: usize,
    size: usize,
) -> Result<(), InferError> {
    let info = match what {
        "input" => &model.interface.inputs[index],
        _ => &model.interface.outputs[index],
    };
    if size >= info.byte_len() {
        return Ok(());
    }
    Err(InferError::Interface {
        model: model.path.display().to_string(),
        what: format!("{what} {index} ({:?}) buffer size", info.name),
        expected: format!("{} bytes", info.byte_len()),
        actual: format!("{size} bytes"),
    })
}

/// `--delegate xnnpack`: LiteRT's CPU accelerator, asked whether any
/// operator is left to the plain CPU kernels.
fn cpu_accounting(compiled: &CompiledModel<'_>, status: &mut DelegateStatus) {
    const ASKED: &str = "LiteRtCompiledModelIsFullyAccelerated";
    status.counted_from = Some(ASKED);
    match compiled.is_fully_accelerated() {
        Ok(true) => {
            status.active = Some(true);
            status.fully_accelerated = Some(true);
        }
        Ok(false) => {
            status.fully_accelerated = Some(false);
            status.unknown(format!(
                "LiteRT says some operators run on its plain CPU kernels ({ASKED}: false) and \
                 cannot say whether XNNPACK took any"
            ));
        }
        Err(e) => {
            status.fully_accelerated = None;
            status.unknown(format!("{ASKED} failed: {e}"));
        }
    }
}

/// `--delegate npu|gpu` with that accelerator registered: asked whether it
/// took every operator.
fn accelerator_accounting(raw: &raw::RawCompiled<'_>, status: &mut DelegateStatus) {
    const ASKED: &str = "LiteRtCompiledModelIsNonCpuFullyAccelerated";
    status.counted_from = Some(ASKED);
    match raw.non_cpu_fully_accelerated() {
        Ok(Some(true)) => {
            status.active = Some(true);
            status.fully_accelerated = Some(true);
        }
        Ok(Some(false)) => {
            status.fully_accelerated = Some(false);
            status.unknown(format!(
                "LiteRT says the accelerator does not run the whole model ({ASKED}: false) and \
                 cannot say whether it took any operator"
            ));
        }
        Ok(None) => {
            status.fully_accelerated = None;
            status.counted_from = None;
            status.unknown(format!(
                "this LiteRT library does not export {ASKED}, so it cannot say what the \
                 accelerator took"
            ));
        }
        Err(e) => {
            status.fully_accelerated = None;
            status.unknown(e);
        }
    }
}

impl Engine for LitertEngine {
    fn info(&self) -> &EngineInfo {
        &self.info
    }

    fn input_mut(&mut self) -> &mut [u8] {
        &mut self.input_staging
    }

    fn invoke(&mut self) -> Result<(), InferError> {
        let model = &self.model_path;
        let e = |e: edgefirst_tflite::Error| InferError::Invoke {
            model: model.clone(),
            why: e.to_string(),
        };
        let compiled = self.compiled.as_mut().ok_or_else(|| InferError::Invoke {
            model: model.clone(),
            why: "model not compiled".into(),
        })?;
        self.inputs[0].write_bytes(&self.input_staging).map_err(e)?;
        compiled
            .run_default(&mut self.inputs, &mut self.outputs)
            .map_err(e)?;
        for (buf, staging) in self.outputs.iter_mut().zip(&mut self.output_staging) {
            buf.read_bytes_into(staging).map_err(e)?;
        }
        Ok(())
    }

    fn output(&self, index: usize) -> &[u8] {
        self.output_staging.get(index).map_or(&[], |v| v.as_slice())
    }

    fn set_load_ms(&mut self, ms: f64) {
        self.info.load_ms = ms;
    }
}

/// The accelerators a LiteRT library registers.
pub fn library_info(path: &std::path::Path) -> Result<LibraryInfo, InferError> {
    let fail = |why: String| InferError::LoadLibrary {
        path: path.display().to_string(),
        why,
    };
    let lib = Library::from_path(path).map_err(|e| fail(e.to_string()))?;
    let accelerators = {
        let env = Environment::new(&lib).map_err(|e| fail(e.to_string()))?;
        edgefirst_tflite::litert::accelerators(&env)
            .map_err(|e| fail(e.to_string()))?
            .iter()
            .map(|a| a.to_string())
            .collect()
    };
    // The runtime library is never unloaded (see `detect_flavour`).
    std::mem::forget(lib);
    Ok(LibraryInfo {
        path: path.display().to_string(),
        flavour: Flavour::Litert,
        version: None,
        accelerators,
        xnnpack: None,
    })
}
