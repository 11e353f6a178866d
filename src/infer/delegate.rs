//! Delegates: what does the work besides the runtime's own CPU kernels, and
//! an honest account of what actually happened.
//!
//! - **External delegates** (NPU vendors: TI TIDL `libtidl_tfl_delegate.so`,
//!   NXP VX `libvx_delegate.so`, Coral `libedgetpu.so.1`, Mesa Teflon) are
//!   shared libraries exporting the TFLite plugin entry points
//!   `tflite_plugin_create_delegate(keys, values, n, error_handler)` and
//!   `tflite_plugin_destroy_delegate`. They run on the classic TFLite C
//!   library only; options are string key/value pairs (board profile,
//!   config file, `--delegate-option key=value`).
//! - **XNNPACK** on the CPU: the classic library's built-in delegate, when the
//!   library was built with it (Debian's 2.14 build is not). On LiteRT the
//!   CPU accelerator *is* XNNPACK.
//! - **LiteRT accelerators** (`npu`, `gpu`): LiteRT's own accelerator
//!   selection, with the CPU as fallback.
//!
//! What happened is read back rather than assumed: after the interpreter is
//! built, the execution plan tells how many of the model's nodes the delegate
//! replaced and into how many partitions (a delegate's `Prepare` is watched,
//! see [`watch`]); where that is not possible, the runtime's own
//! "Replacing N out of M node(s) with delegate (NAME)" log line is used;
//! with neither (a delegate on the opaque delegate API, whose `Prepare`
//! cannot be watched, on a runtime that does not log that line) whether it
//! is in use is *unknown* (see [`super::status`]). A delegate that fails to
//! load, fails to prepare, takes no node, or whose use is unknown is
//! reported with a warning — or, with `--require-delegate`, is an error
//! carrying the delegate's own message.
//!
//! Using delegates, and what their errors mean, is in
//! docs/boards-and-delegates.md.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::ffi::{c_char, CStr, CString};
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Mutex;

use edgefirst_tflite_sys::{
    TfLiteBuiltinOperator_kTfLiteBuiltinDelegate, TfLiteContext, TfLiteDelegate, TfLiteIntArray,
    TfLiteNode, TfLiteRegistration, TfLiteStatus,
};
use serde::Serialize;

/// Which delegate or accelerator to use.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum DelegateKind {
    /// The runtime's own CPU path.
    #[default]
    None,
    /// XNNPACK on the CPU.
    Xnnpack,
    /// LiteRT's NPU accelerator.
    Npu,
    /// LiteRT's GPU accelerator.
    Gpu,
    /// An external delegate library (path, or a bare file name that the
    /// dynamic loader looks up).
    External(PathBuf),
}

impl DelegateKind {
    /// True for anything but [`DelegateKind::None`].
    pub fn is_some(&self) -> bool {
        *self != DelegateKind::None
    }
}

impl fmt::Display for DelegateKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DelegateKind::None => f.write_str("none"),
            DelegateKind::Xnnpack => f.write_str("xnnpack"),
            DelegateKind::Npu => f.write_str("npu"),
            DelegateKind::Gpu => f.write_str("gpu"),
            DelegateKind::External(p) => write!(f, "{}", p.display()),
        }
    }
}

impl FromStr for DelegateKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s.trim() {
            "" => {
                return Err(
                    "empty delegate: expected none, xnnpack, npu, gpu or a library path".into(),
                )
            }
            "none" | "cpu" => DelegateKind::None,
            "xnnpack" => DelegateKind::Xnnpack,
            "npu" => DelegateKind::Npu,
            "gpu" => DelegateKind::Gpu,
            other if other.contains('\0') => {
                return Err("delegate library path contains a NUL byte".into())
            }
            other => DelegateKind::External(PathBuf::from(other)),
        })
    }
}

/// Parses one `key=value` delegate option.
pub fn parse_option(s: &str) -> Result<(String, String), String> {
    let (k, v) = s
        .split_once('=')
        .ok_or_else(|| format!("delegate option {s:?}: expected key=value"))?;
    let k = k.trim();
    if k.is_empty() {
        return Err(format!("delegate option {s:?}: empty key"));
    }
    if k.contains('\0') || v.contains('\0') {
        return Err(format!("delegate option {s:?}: contains a NUL byte"));
    }
    Ok((k.to_string(), v.to_string()))
}

/// The delegate asked for, with its options.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DelegateRequest {
    pub kind: DelegateKind,
    /// String options handed to an external delegate, in order.
    pub options: BTreeMap<String, String>,
    /// Fail instead of falling back to the CPU.
    pub require: bool,
}

// ---------------------------------------------------------------- plan census

/// Nodes a delegate replaced, read from the execution plan around its
/// `Prepare`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Census {
    pub total: usize,
    pub taken: usize,
    pub partitions: usize,
}

struct Watch {
    delegate: usize,
    original: unsafe extern "C" fn(*mut TfLiteContext, *mut TfLiteDelegate) -> TfLiteStatus,
    census: Option<(Census, Option<String>)>,
}

/// Watched delegates (a handful per process: one per engine opened).
static WATCHES: Mutex<Vec<Watch>> = Mutex::new(Vec::new());

fn watches() -> std::sync::MutexGuard<'static, Vec<Watch>> {
    WATCHES.lock().unwrap_or_else(|e| e.into_inner())
}

/// Starts watching `delegate`'s `Prepare` so that [`take_census`] can tell
/// what it replaced. The delegate's `Prepare` pointer is swapped for a
/// trampoline that calls the original and reads the execution plan before
/// and after (through the `TfLiteContext` functions every delegate uses).
/// Returns false for delegates built on the opaque-delegate API (no
/// classic `Prepare`), whose counts then come from the runtime log.
///
/// # Safety
/// `delegate` must point to a live `TfLiteDelegate` that is not yet in use
/// by an interpreter; [`unwatch`] must be called before it is destroyed if
/// its memory may be reused for another watched delegate.
pub(super) unsafe fn watch(delegate: *mut TfLiteDelegate) -> bool {
    if delegate.is_null() {
        return false;
    }
    // SAFETY: live delegate, per the contract.
    let Some(original) = (unsafe { (*delegate).Prepare }) else {
        return false;
    };
    let mut w = watches();
    w.retain(|x| x.delegate != delegate as usize);
    w.push(Watch {
        delegate: delegate as usize,
        original,
        census: None,
    });
    drop(w);
    // SAFETY: a plain field write on the live delegate before any
    // interpreter reads it.
    unsafe { (*delegate).Prepare = Some(watched_prepare) };
    true
}

/// The census of `delegate`'s last `Prepare`, with its kernel name.
pub(super) fn take_census(delegate: *mut TfLiteDelegate) -> Option<(Census, Option<String>)> {
    watches()
        .iter_mut()
        .find(|x| x.delegate == delegate as usize)
        .and_then(|x| x.census.take())
}

/// Forgets `delegate` (after it was destroyed).
pub(super) fn unwatch(delegate: *mut TfLiteDelegate) {
    watches().retain(|x| x.delegate != delegate as usize);
}

/// The execution plan's node indices (copied: the runtime owns the array).
///
/// # Safety
/// Only inside a delegate's `Prepare`, where `context` is live.
unsafe fn plan(context: *mut TfLiteContext) -> Option<Vec<i32>> {
    // SAFETY: per the contract.
    let get = unsafe { (*context).GetExecutionPlan }?;
    let mut arr: *mut TfLiteIntArray = std::ptr::null_mut();
    // SAFETY: valid out-pointer; the array stays valid until the next call.
    if unsafe { get(context, &raw mut arr) } != 0 || arr.is_null() {
        return None;
    }
    // SAFETY: a TfLiteIntArray is `int size; int data[size]`.
    let size = usize::try_from(unsafe { (*arr).size }).ok()?;
    let data = unsafe { (*arr).data.as_ptr() };
    Some(unsafe { std::slice::from_raw_parts(data, size) }.to_vec())
}

unsafe extern "C" fn watched_prepare(
    context: *mut TfLiteContext,
    delegate: *mut TfLiteDelegate,
) -> TfLiteStatus {
    let original = watches()
        .iter()
        .find(|x| x.delegate == delegate as usize)
        .map(|x| x.original);
    let Some(original) = original else {
        // Not ours any more: nothing sane to forward to.
        return 1; // kTfLiteError
    };
    // SAFETY: the runtime calls Prepare with a live context.
    let before = unsafe { plan(context) };
    // SAFETY: forwarding the runtime's own call to the delegate's Prepare.
    let status = unsafe { original(context, delegate) };
    let after = unsafe { plan(context) };
    if let (Some(before), Some(after)) = (before, after) {
        let mut partitions = 0;
        let mut name = None;
        for &idx in &after {
            let mut node: *mut TfLiteNode = std::ptr::null_mut();
            let mut reg: *mut TfLiteRegistration = std::ptr::null_mut();
            // SAFETY: inside Prepare the context's GetNodeAndRegistration is
            // callable; node indices come from the plan.
            let ok = unsafe { (*context).GetNodeAndRegistration }
                .is_some_and(|f| unsafe { f(context, idx, &raw mut node, &raw mut reg) == 0 });
            if !ok || node.is_null() || reg.is_null() {
                continue;
            }
            // SAFETY: live node and registration of the runtime.
            let (code, owner, custom) =
                unsafe { ((*reg).builtin_code, (*node).delegate, (*reg).custom_name) };
            if code == TfLiteBuiltinOperator_kTfLiteBuiltinDelegate as i32 && owner == delegate {
                partitions += 1;
                if name.is_none() && !custom.is_null() {
                    // SAFETY: NUL-terminated name owned by the delegate.
                    name = Some(
                        unsafe { CStr::from_ptr(custom) }
                            .to_string_lossy()
                            .into_owned(),
                    );
                }
            }
        }
        let taken = before
            .len()
            .saturating_sub(after.len() - partitions.min(after.len()));
        let census = Census {
            total: before.len(),
            taken,
            partitions,
        };
        if let Some(w) = watches()
            .iter_mut()
            .find(|x| x.delegate == delegate as usize)
        {
            w.census = Some((census, name));
        }
    }
    status
}

/// Counts from the runtime's "Replacing N out of M node(s) with delegate
/// (NAME) node, yielding K partitions" lines: (name, N, M, K).
pub fn parse_replacing(chatter: &str) -> Vec<(String, usize, usize, usize)> {
    let mut out = Vec::new();
    for line in chatter.lines() {
        let Some(rest) = line.split("Replacing ").nth(1) else {
            continue;
        };
        let mut words = rest.split_whitespace();
        let n = words.next().and_then(|w| w.parse().ok());
        let m = rest
            .split(" out of ")
            .nth(1)
            .and_then(|r| r.split_whitespace().next())
            .and_then(|w| w.parse().ok());
        let name = rest
            .split("with delegate (")
            .nth(1)
            .and_then(|r| r.split(") node").next())
            .map(str::to_string);
        let k = rest
            .split("yielding ")
            .nth(1)
            .and_then(|r| r.split_whitespace().next())
            .and_then(|w| w.parse().ok());
        if let (Some(n), Some(m), Some(name), Some(k)) = (n, m, name, k) {
            out.push((name, n, m, k));
        }
    }
    out
}

// ---------------------------------------------------------------- plugins

type CreateFn = unsafe extern "C" fn(
    *const *const c_char,
    *const *const c_char,
    usize,
    Option<unsafe extern "C" fn(*const c_char)>,
) -> *mut TfLiteDelegate;
type DestroyFn = unsafe extern "C" fn(*mut TfLiteDelegate);

const CREATE: &[u8] = b"tflite_plugin_create_delegate\0";
const DESTROY: &[u8] = b"tflite_plugin_destroy_delegate\0";

thread_local! {
    static REPORTED: RefCell<Vec<String>> = const { RefCell::new(Vec::new()) };
}

unsafe extern "C" fn collect_error(msg: *const c_char) {
    if msg.is_null() {
        return;
    }
    // SAFETY: the plugin passes a NUL-terminated message.
    let text = unsafe { CStr::from_ptr(msg) }
        .to_string_lossy()
        .trim()
        .to_string();
    REPORTED.with(|r| r.borrow_mut().push(text));
}

/// An error with its sources (libloading keeps the loader's own message,
/// e.g. "libfoo.so: cannot open shared object file", in the source).
pub(crate) fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(inner) = src {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        src = inner.source();
    }
    s
}

fn open_plugin(path: &Path) -> Result<libloading::Library, String> {
    // SAFETY: loading the delegate library the user configured runs its
    // initialisers, as any TFLite application loading it would.
    unsafe { libloading::Library::new(path) }.map_err(|e| error_chain(&e))
}

/// What a delegate library says when asked to create a delegate with
/// `options` through the plugin entry point, with an error handler — used
/// after `edgefirst-tflite` (which passes no handler) got no delegate, to
/// give the user the delegate's own reason. A delegate created here (it
/// succeeded this time) is destroyed at once.
pub(super) fn plugin_error_text(path: &Path, options: &BTreeMap<String, String>) -> Vec<String> {
    let Ok(lib) = open_plugin(path) else {
        return Vec::new();
    };
    // SAFETY: symbol types follow TFLite's external delegate plugin ABI
    // (tensorflow/lite/delegates/external).
    let fns = unsafe {
        (
            lib.get::<CreateFn>(CREATE).map(|s| *s),
            lib.get::<DestroyFn>(DESTROY).map(|s| *s),
        )
    };
    let (Ok(create), Ok(destroy)) = fns else {
        std::mem::forget(lib);
        return Vec::new();
    };
    let pairs: Vec<(CString, CString)> = options
        .iter()
        .filter_map(|(k, v)| {
            Some((
                CString::new(k.as_str()).ok()?,
                CString::new(v.as_str()).ok()?,
            ))
        })
        .collect();
    let keys: Vec<*const c_char> = pairs.iter().map(|(k, _)| k.as_ptr()).collect();
    let values: Vec<*const c_char> = pairs.iter().map(|(_, v)| v.as_ptr()).collect();
    REPORTED.with(|r| r.borrow_mut().clear());
    // SAFETY: valid C string arrays of `keys.len()` entries, alive for the call.
    let d = unsafe {
        create(
            keys.as_ptr(),
            values.as_ptr(),
            keys.len(),
            Some(collect_error),
        )
    };
    if !d.is_null() {
        // SAFETY: created just above by the same library.
        unsafe { destroy(d) };
    }
    // Delegate libraries are never unloaded (their threads and atexit
    // handlers may outlive a dlclose).
    std::mem::forget(lib);
    REPORTED.with(|r| std::mem::take(&mut *r.borrow_mut()))
}

/// Whether a delegate library can be loaded and has the plugin entry points.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct PluginProbe {
    pub library: String,
    /// `dlopen` succeeded.
    pub loads: bool,
    pub has_create: bool,
    pub has_destroy: bool,
    /// The loader's error, when it does not load.
    pub error: Option<String>,
}

impl PluginProbe {
    pub fn usable(&self) -> bool {
        self.loads && self.has_create && self.has_destroy
    }
}

/// Loads `path` and looks for the plugin entry points, creating nothing.
pub fn probe_plugin(path: &Path) -> PluginProbe {
    let library = path.display().to_string();
    match open_plugin(path) {
        Ok(lib) => {
            // SAFETY: only presence is checked; nothing is called.
            let has = |s: &[u8]| unsafe { lib.get::<*const ()>(s) }.is_ok();
            let p = PluginProbe {
                library,
                loads: true,
                has_create: has(CREATE),
                has_destroy: has(DESTROY),
                error: None,
            };
            std::mem::forget(lib);
            p
        }
        Err(e) => PluginProbe {
            library,
            loads: false,
            has_create: false,
            has_destroy: false,
            error: Some(e),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_parse_and_print() {
        assert_eq!("none".parse::<DelegateKind>().unwrap(), DelegateKind::None);
        assert_eq!(
            "xnnpack".parse::<DelegateKind>().unwrap(),
            DelegateKind::Xnnpack
        );
        assert_eq!("npu".parse::<DelegateKind>().unwrap(), DelegateKind::Npu);
        assert_eq!(
            "/usr/lib/libvx_delegate.so"
                .parse::<DelegateKind>()
                .unwrap(),
            DelegateKind::External("/usr/lib/libvx_delegate.so".into())
        );
        assert_eq!(
            "libedgetpu.so.1"
                .parse::<DelegateKind>()
                .unwrap()
                .to_string(),
            "libedgetpu.so.1"
        );
        assert!("".parse::<DelegateKind>().is_err());
    }

    #[test]
    fn options_need_key_and_equals() {
        assert_eq!(
            parse_option("artifacts_folder=/opt/a=b").unwrap(),
            ("artifacts_folder".into(), "/opt/a=b".into())
        );
        assert_eq!(parse_option("debug_level=").unwrap().1, "");
        assert!(parse_option("noequals").unwrap_err().contains("key=value"));
        assert!(parse_option("=x").unwrap_err().contains("empty key"));
    }

    #[test]
    fn replacing_lines_are_parsed() {
        let chatter = "INFO: Created TensorFlow Lite XNNPACK delegate for CPU.\n\
            INFO: Replacing 11 out of 296 node(s) with delegate (EdgeposeTestDelegate) node, yielding 11 partitions for the whole graph.\n\
            Replacing 5 node(s) with delegate (OldFormat) node, yielding 1 partitions.\n\
            INFO: Replacing 280 out of 285 node(s) with delegate (TfLiteXNNPackDelegate) node, yielding 3 partitions for the whole graph.";
        assert_eq!(
            parse_replacing(chatter),
            vec![
                ("EdgeposeTestDelegate".into(), 11, 296, 11),
                ("TfLiteXNNPackDelegate".into(), 280, 285, 3)
            ]
        );
    }
}
