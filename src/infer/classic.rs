//! Classic TFLite C API backend (`TfLiteInterpreter*`), through
//! `edgefirst-tflite`: what Debian, TI's SDK and self-built libraries
//! provide, and the route for external delegates.
//!
//! The input and output tensors live in the interpreter's arena. Their data
//! pointers are read once after `AllocateTensors` and stay valid because
//! edgepose never resizes a tensor or re-allocates afterwards, so the frame
//! loop touches them without any per-frame allocation.

use edgefirst_tflite::{Interpreter, Library, Model};

use super::{check_size, model_error, Engine, EngineInfo, EngineOptions, Flavour, InferError};
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
    model: *mut Model<'static>,
    lib: *mut Library,
    input: TensorMem,
    outputs: Vec<TensorMem>,
    info: EngineInfo,
}

// SAFETY: the interpreter and library are Send; the tensor pointers point
// into the interpreter's arena, owned by this struct.
unsafe impl Send for ClassicEngine {}

impl Drop for ClassicEngine {
    fn drop(&mut self) {
        self.interpreter = None;
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
            model: std::ptr::null_mut(),
            lib: Box::into_raw(Box::new(lib)),
            input: TensorMem {
                ptr: std::ptr::null_mut(),
                len: 0,
            },
            outputs: Vec::new(),
            info: EngineInfo::new(resolved, opts, Flavour::Classic),
        };
        // SAFETY: `lib` lives until Drop, after the model and interpreter.
        let lib_ref: &'static Library = unsafe { &*engine.lib };
        let model = Model::from_bytes(lib_ref, bytes).map_err(|e| fail(e.to_string()))?;
        engine.model = Box::into_raw(Box::new(model));
        // SAFETY: as above for the model.
        let model_ref: &'static Model<'static> = unsafe { &*engine.model };
        let mut builder = Interpreter::builder(lib_ref).map_err(|e| fail(e.to_string()))?;
        if opts.threads > 0 {
            builder = builder.num_threads(i32::try_from(opts.threads).unwrap_or(i32::MAX));
        }
        let mut interp = builder.build(model_ref).map_err(|e| fail(e.to_string()))?;
        {
            let mut inputs = interp.inputs_mut().map_err(|e| fail(e.to_string()))?;
            let t = inputs
                .first_mut()
                .ok_or_else(|| fail("the interpreter reports no input tensor".into()))?;
            let bytes = t.as_bytes_mut().map_err(|e| fail(e.to_string()))?;
            check_size(
                resolved,
                "input",
                &resolved.interface.inputs[0],
                bytes.len(),
            )?;
            engine.input = TensorMem {
                ptr: bytes.as_mut_ptr(),
                len: bytes.len(),
            };
        }
        {
            let outputs = interp.outputs().map_err(|e| fail(e.to_string()))?;
            if outputs.len() != resolved.interface.outputs.len() {
                return Err(InferError::Interface {
                    model: resolved.path.display().to_string(),
                    what: "output count".into(),
                    expected: resolved.interface.outputs.len().to_string(),
                    actual: outputs.len().to_string(),
                });
            }
            for (t, info) in outputs.iter().zip(&resolved.interface.outputs) {
                let bytes = t.as_bytes().map_err(|e| fail(e.to_string()))?;
                check_size(resolved, "output", info, bytes.len())?;
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
        self.interpreter
            .as_mut()
            .ok_or_else(|| InferError::Invoke("interpreter not built".into()))?
            .invoke()
            .map_err(|e| InferError::Invoke(e.to_string()))
    }

    fn output(&self, index: usize) -> &[u8] {
        match self.outputs.get(index) {
            // SAFETY: as for the input; outputs are only read between invokes.
            Some(t) => unsafe { std::slice::from_raw_parts(t.ptr, t.len) },
            None => &[],
        }
    }
}
