//! LiteRT backend: Google's `CompiledModel` API (`libLiteRt.so`), through
//! `edgefirst-tflite`'s `litert` module. The CPU accelerator (XNNPACK) is
//! selected, plus the NPU or GPU accelerator when `--delegate npu|gpu` asks
//! for it and the library has one registered (LiteRT falls back to the CPU
//! per operator); LiteRT loads no TFLite plugin delegates, so a delegate
//! library leaves the model on the CPU with the reason in
//! [`EngineInfo::delegate`]. Input and output live in runtime-managed tensor
//! buffers that are created once and reused for every frame.
//!
//! Thread count: LiteRT 2.3 exports no CPU-options setter. The CPU
//! accelerator reads its options from an *opaque options* entry with the
//! identifier `"xnnpack"` whose payload is a NUL-terminated TOML string
//! (`num_threads = N`), parsed with `strlen` when the model is compiled
//! (LiteRT's `litert/runtime/litert_cpu_options.*` and
//! `accelerators/xnnpack/xnnpack_accelerator.cc`). edgefirst-tflite keeps
//! the raw `LiteRtOptions` handle private, so [`attach_cpu_threads`]
//! recovers it from the `Debug` output of `Options` (crate pinned to the
//! version whose format this reads) and cross-checks it by reading the
//! accelerator set through it before using it. The XNNPACK `flags` are left
//! at their default (int8 support on); `num_threads <= 1` means no pool.

use std::ffi::{c_char, c_int, c_void, CString};

use edgefirst_tflite::litert::TensorBuffer;
use edgefirst_tflite::litert::{CompiledModel, Environment, HwAccelerators, Model, Options};
use edgefirst_tflite::Library;

use super::delegate::{DelegateKind, DelegateStatus};
use super::{
    check_size, model_error, Engine, EngineInfo, EngineOptions, Flavour, InferError, LibraryInfo,
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
                // LiteRT's CPU accelerator is XNNPACK.
                status.active = true;
                status.name = Some("CpuAccelerator (XNNPACK)".into());
                status.fully_accelerated = Some(true);
                None
            }
            DelegateKind::Npu => Some(HwAccelerators::NPU),
            DelegateKind::Gpu => Some(HwAccelerators::GPU),
            DelegateKind::External(path) => {
                status.error = Some(format!(
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
                    status.error = Some(format!(
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
        if req.require && req.kind.is_some() && status.error.is_some() {
            return Err(InferError::DelegateRequired {
                delegate: status.requested.clone(),
                why: status.error.clone().unwrap_or_default(),
            });
        }
        let options = Options::new(lib_ref)
            .and_then(|o| o.hardware_accelerators(accelerators))
            .map_err(|e| fail(e.to_string()))?;
        let options = if opts.threads > 1 {
            attach_cpu_threads(lib_ref, options, opts.threads)
                .map_err(|e| fail(format!("cannot set the CPU thread count: {e}")))?
        } else {
            options
        };
        let compiled =
            CompiledModel::create(env_ref, model_ref, &options).map_err(|e| fail(e.to_string()))?;
        if accelerators != HwAccelerators::CPU {
            status.active = true;
            status.fully_accelerated = compiled.is_fully_accelerated().ok();
            engine.info.accelerator = status.name.clone().unwrap_or_default();
        }
        engine.info.delegate = status;
        let n_in = resolved.interface.inputs.len();
        let n_out = resolved.interface.outputs.len();
        for i in 0..n_in {
            let b = compiled
                .create_input_buffer(0, i)
                .map_err(|e| fail(e.to_string()))?;
            check_size(resolved, "input", &resolved.interface.inputs[i], b.size())?;
            engine.inputs.push(b);
        }
        for i in 0..n_out {
            let b = compiled
                .create_output_buffer(0, i)
                .map_err(|e| fail(e.to_string()))?;
            check_size(resolved, "output", &resolved.interface.outputs[i], b.size())?;
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

impl Engine for LitertEngine {
    fn info(&self) -> &EngineInfo {
        &self.info
    }

    fn input_mut(&mut self) -> &mut [u8] {
        &mut self.input_staging
    }

    fn invoke(&mut self) -> Result<(), InferError> {
        let compiled = self
            .compiled
            .as_mut()
            .ok_or_else(|| InferError::Invoke("model not compiled".into()))?;
        let e = |e: edgefirst_tflite::Error| InferError::Invoke(e.to_string());
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

/// Opaque-options identifier the LiteRT CPU (XNNPACK) accelerator reads.
const CPU_OPTIONS_ID: &str = "xnnpack";

type RawHandle = *mut c_void;
type CreateOpaqueFn = unsafe extern "C" fn(
    *const c_char,
    *mut c_void,
    Option<unsafe extern "C" fn(*mut c_void)>,
    *mut RawHandle,
) -> c_int;
type AddOpaqueFn = unsafe extern "C" fn(RawHandle, RawHandle) -> c_int;
type DestroyOpaqueFn = unsafe extern "C" fn(RawHandle);

unsafe extern "C" fn free_payload(p: *mut c_void) {
    if !p.is_null() {
        // SAFETY: the payload was made by CString::into_raw below and the
        // runtime calls this destructor once.
        drop(unsafe { CString::from_raw(p.cast::<c_char>()) });
    }
}

/// The raw `LiteRtOptions` handle inside `opts`, read from its `Debug`
/// output (`Options { ptr: 0x..., .. }`).
fn raw_options(opts: &Options<'_>) -> Result<RawHandle, String> {
    let dbg = format!("{opts:?}");
    let rest = dbg
        .strip_prefix("Options { ptr: 0x")
        .ok_or_else(|| format!("unexpected Debug format of litert::Options: {dbg:.60}"))?;
    let end = rest
        .find(|c: char| !c.is_ascii_hexdigit())
        .unwrap_or(rest.len());
    let addr = usize::from_str_radix(&rest[..end], 16).map_err(|e| e.to_string())?;
    if addr == 0 {
        return Err("litert::Options holds a null handle".into());
    }
    Ok(std::ptr::with_exposed_provenance_mut(addr))
}

/// Adds the CPU accelerator's thread count to `opts`.
fn attach_cpu_threads<'lib>(
    lib: &'lib Library,
    opts: Options<'lib>,
    threads: usize,
) -> Result<Options<'lib>, String> {
    let raw = raw_options(&opts)?;
    let fns = lib.litert().ok_or("the library has no LiteRT API")?;
    // Cross-check the recovered handle against the safe API before use.
    let mut via_raw = 0;
    // SAFETY: `raw` is only dereferenced by the runtime, which validates
    // nothing here; a wrong pointer is caught by the comparison below only
    // if it points at readable memory, which the parse above makes likely.
    let status = unsafe { (fns.get_options_hardware_accelerators)(raw.cast(), &raw mut via_raw) };
    let want = opts
        .hardware_accelerator_set()
        .map_err(|e| e.to_string())?
        .bits();
    if status != 0 || via_raw != want {
        return Err(format!(
            "recovered options handle failed its cross-check (status {status}, {via_raw} != {want})"
        ));
    }
    let dl = lib.as_sys().library();
    // SAFETY: symbol types follow LiteRT 2.x's C headers (litert_options.h,
    // litert_opaque_options.h).
    let (create, add, destroy) = unsafe {
        (
            *dl.get::<CreateOpaqueFn>(b"LiteRtCreateOpaqueOptions\0")
                .map_err(|e| e.to_string())?,
            *dl.get::<AddOpaqueFn>(b"LiteRtAddOpaqueOptions\0")
                .map_err(|e| e.to_string())?,
            *dl.get::<DestroyOpaqueFn>(b"LiteRtDestroyOpaqueOptions\0")
                .map_err(|e| e.to_string())?,
        )
    };
    let id = CString::new(CPU_OPTIONS_ID).map_err(|e| e.to_string())?;
    let payload = CString::new(format!("num_threads = {threads}\n"))
        .map_err(|e| e.to_string())?
        .into_raw();
    let mut opaque: RawHandle = std::ptr::null_mut();
    // SAFETY: valid C strings and destructor; the runtime copies the
    // identifier and owns the payload from here on.
    let status = unsafe {
        create(
            id.as_ptr(),
            payload.cast(),
            Some(free_payload),
            &raw mut opaque,
        )
    };
    if status != 0 || opaque.is_null() {
        // SAFETY: ownership did not pass to the runtime.
        unsafe { free_payload(payload.cast()) };
        return Err(format!(
            "LiteRtCreateOpaqueOptions failed with status {status}"
        ));
    }
    // SAFETY: `raw` is the live options handle owned by `opts`; on success
    // the options own the opaque entry.
    let status = unsafe { add(raw, opaque) };
    if status != 0 {
        // SAFETY: still ours after a failed add.
        unsafe { destroy(opaque) };
        return Err(format!(
            "LiteRtAddOpaqueOptions failed with status {status}"
        ));
    }
    Ok(opts)
}
