//! LiteRT 2.x C functions that edgefirst-tflite does not wrap, called on
//! the handles it keeps private: the CPU accelerator's thread count (see the
//! parent module), the tensor layouts of a compiled model (which also makes
//! LiteRT allocate its tensors, reporting a failure instead of writing past
//! a buffer at the first run), and whether GPU/NPU accelerators took the
//! whole model. Symbol types follow LiteRT 2.3's C headers
//! (`litert_compiled_model.h`, `litert_layout.h`, `litert_options.h`,
//! `litert_opaque_options.h`).

use std::ffi::{c_char, c_int, c_void, CString};

use edgefirst_tflite::litert::{CompiledModel, Options};
use edgefirst_tflite::Library;

type RawHandle = *mut c_void;

/// Dimensions of each input and of each output, as allocated.
pub(super) type Shapes = (Vec<Vec<i64>>, Vec<Vec<i64>>);

/// `LiteRtLayout`: rank (7 bits) and has_strides (1 bit) in the first word,
/// then up to 8 dimensions and 8 strides.
#[repr(C)]
struct Layout {
    rank_bits: u32,
    dims: [i32; 8],
    strides: [u32; 8],
}

const _: () = assert!(std::mem::size_of::<Layout>() == 68);

impl Layout {
    const EMPTY: Layout = Layout {
        rank_bits: 0,
        dims: [0; 8],
        strides: [0; 8],
    };

    fn dims(&self) -> Vec<i64> {
        let rank = (self.rank_bits & 0x7f) as usize;
        self.dims[..rank.min(8)]
            .iter()
            .map(|&d| i64::from(d))
            .collect()
    }
}

type InputLayoutFn = unsafe extern "C" fn(RawHandle, usize, usize, *mut Layout) -> c_int;
type OutputLayoutsFn = unsafe extern "C" fn(RawHandle, usize, usize, *mut Layout, bool) -> c_int;
type IsAcceleratedFn = unsafe extern "C" fn(RawHandle, *mut bool) -> c_int;
type RequirementsFn = unsafe extern "C" fn(RawHandle, usize, usize, *mut RawHandle) -> c_int;
type BufferSizeFn = unsafe extern "C" fn(RawHandle, *mut usize) -> c_int;

/// A compiled model's raw handle with the library it came from.
pub(super) struct RawCompiled<'a> {
    dl: &'a libloading::Library,
    ptr: RawHandle,
}

/// `name` from the library, or why not.
///
/// # Safety
/// `T` must be the symbol's function type.
unsafe fn symbol<T: Copy>(dl: &libloading::Library, name: &str) -> Result<T, String> {
    let c = CString::new(name).map_err(|e| e.to_string())?;
    // SAFETY: per the contract.
    unsafe { dl.get::<T>(c.as_bytes_with_nul()) }
        .map(|s| *s)
        .map_err(|e| format!("{name}: {e}"))
}

impl<'a> RawCompiled<'a> {
    /// The raw handle of `compiled`, cross-checked: the size LiteRT reports
    /// through it for output 0's buffer must be the one the safe API reports.
    pub(super) fn new(lib: &'a Library, compiled: &CompiledModel<'_>) -> Result<Self, String> {
        let dl = lib.as_sys().library();
        let ptr = handle_from_debug("CompiledModel", &format!("{compiled:?}"))?;
        let want = compiled
            .output_buffer_requirements(0, 0)
            .map_err(|e| e.to_string())?
            .size();
        // SAFETY: types per litert_compiled_model.h / litert_tensor_buffer_requirements.h.
        let (reqs_fn, size_fn) = unsafe {
            (
                symbol::<RequirementsFn>(dl, "LiteRtGetCompiledModelOutputBufferRequirements")?,
                symbol::<BufferSizeFn>(dl, "LiteRtGetTensorBufferRequirementsBufferSize")?,
            )
        };
        let mut reqs: RawHandle = std::ptr::null_mut();
        let mut got = 0usize;
        // SAFETY: `ptr` was recovered from the live compiled model; the
        // requirements stay owned by it.
        let ok = unsafe { reqs_fn(ptr, 0, 0, &raw mut reqs) } == 0
            && !reqs.is_null()
            && unsafe { size_fn(reqs, &raw mut got) } == 0;
        if !ok || got != want {
            return Err(format!(
                "recovered compiled-model handle failed its cross-check ({got} != {want})"
            ));
        }
        Ok(Self { dl, ptr })
    }

    /// Allocates the model's tensors (LiteRT computes every shape from the
    /// graph) and returns the inputs' and outputs' dimensions as allocated.
    pub(super) fn allocated_shapes(&self, inputs: usize, outputs: usize) -> Result<Shapes, String> {
        // SAFETY: types per litert_compiled_model.h.
        let (input_fn, outputs_fn) = unsafe {
            (
                symbol::<InputLayoutFn>(self.dl, "LiteRtGetCompiledModelInputTensorLayout")?,
                symbol::<OutputLayoutsFn>(self.dl, "LiteRtGetCompiledModelOutputTensorLayouts")?,
            )
        };
        let mut outs: Vec<Layout> = (0..outputs).map(|_| Layout::EMPTY).collect();
        // SAFETY: live handle; `outs` holds `outputs` layouts for LiteRT to fill.
        let status = unsafe { outputs_fn(self.ptr, 0, outputs, outs.as_mut_ptr(), true) };
        if status != 0 {
            return Err(format!(
                "LiteRtGetCompiledModelOutputTensorLayouts (which allocates the tensors) failed with status {status}"
            ));
        }
        let mut ins = Vec::with_capacity(inputs);
        for i in 0..inputs {
            let mut l = Layout::EMPTY;
            // SAFETY: live handle, valid out-parameter.
            let status = unsafe { input_fn(self.ptr, 0, i, &raw mut l) };
            if status != 0 {
                return Err(format!(
                    "LiteRtGetCompiledModelInputTensorLayout({i}) failed with status {status}"
                ));
            }
            ins.push(l.dims());
        }
        Ok((ins, outs.iter().map(Layout::dims).collect()))
    }

    /// `LiteRtCompiledModelIsNonCpuFullyAccelerated`: whether GPU/NPU
    /// accelerators took every operator; `None` when the library lacks it.
    pub(super) fn non_cpu_fully_accelerated(&self) -> Result<Option<bool>, String> {
        // SAFETY: type per litert_compiled_model.h.
        let Ok(f) = (unsafe {
            symbol::<IsAcceleratedFn>(self.dl, "LiteRtCompiledModelIsNonCpuFullyAccelerated")
        }) else {
            return Ok(None);
        };
        let mut full = false;
        // SAFETY: live handle, valid out-parameter.
        match unsafe { f(self.ptr, &raw mut full) } {
            0 => Ok(Some(full)),
            s => Err(format!(
                "LiteRtCompiledModelIsNonCpuFullyAccelerated failed with status {s}"
            )),
        }
    }
}

/// Opaque-options identifier the LiteRT CPU (XNNPACK) accelerator reads.
const CPU_OPTIONS_ID: &str = "xnnpack";

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

/// The raw handle inside a value of an edgefirst-tflite type, read from its
/// `Debug` output (`TYPE { ptr: 0x..., .. }`); each caller cross-checks it
/// against the safe API before using it.
fn handle_from_debug(type_name: &str, dbg: &str) -> Result<RawHandle, String> {
    let rest = dbg
        .strip_prefix(type_name)
        .and_then(|r| r.strip_prefix(" { ptr: 0x"))
        .ok_or_else(|| format!("unexpected Debug format of litert::{type_name}: {dbg:.60}"))?;
    let end = rest
        .find(|c: char| !c.is_ascii_hexdigit())
        .unwrap_or(rest.len());
    let addr = usize::from_str_radix(&rest[..end], 16).map_err(|e| e.to_string())?;
    if addr == 0 {
        return Err(format!("litert::{type_name} holds a null handle"));
    }
    Ok(std::ptr::with_exposed_provenance_mut(addr))
}

/// The raw `LiteRtOptions` handle inside `opts`.
fn raw_options(opts: &Options<'_>) -> Result<RawHandle, String> {
    handle_from_debug("Options", &format!("{opts:?}"))
}

/// Adds the CPU accelerator's thread count to `opts`.
pub(super) fn attach_cpu_threads<'lib>(
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
