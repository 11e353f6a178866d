//! Reads the model contract straight out of a `.tflite` file: the input and
//! output tensors of the first subgraph with their shapes, element types and
//! quantization. This is independent of the runtime that later executes the
//! model, so a truncated file or a model with an unexpected interface is
//! rejected before any runtime library is touched, and both runtime flavours
//! see the same description.
//!
//! Only the handful of TFLite schema tables needed are declared here (Model →
//! SubGraph → Tensor → QuantizationParameters, field ids as in TFLite's
//! `schema.fbs`); every access goes through the `flatbuffers` verifier first.

use flatbuffers::{
    Follow, ForwardsUOffset, InvalidFlatbuffer, Table, Vector, Verifiable, Verifier,
    VerifierOptions,
};

use super::{ElementType, ModelError, Quant, TensorInfo};

/// Input and output tensors of a model's first subgraph.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelInterface {
    pub inputs: Vec<TensorInfo>,
    pub outputs: Vec<TensorInfo>,
}

macro_rules! fb_table {
    ($name:ident) => {
        #[derive(Clone, Copy)]
        struct $name<'a> {
            tab: Table<'a>,
        }
        impl<'a> Follow<'a> for $name<'a> {
            type Inner = $name<'a>;
            unsafe fn follow(buf: &'a [u8], loc: usize) -> Self::Inner {
                // SAFETY: forwarded from the caller, which only follows
                // offsets inside a buffer that passed the verifier.
                Self {
                    tab: unsafe { Table::new(buf, loc) },
                }
            }
        }
    };
}

fb_table!(FbModel);
fb_table!(FbSubGraph);
fb_table!(FbTensor);
fb_table!(FbQuant);

// Field slots: 4 + 2 * field id in schema.fbs.
const MODEL_SUBGRAPHS: u16 = 8;
const SUBGRAPH_TENSORS: u16 = 4;
const SUBGRAPH_INPUTS: u16 = 6;
const SUBGRAPH_OUTPUTS: u16 = 8;
const TENSOR_SHAPE: u16 = 4;
const TENSOR_TYPE: u16 = 6;
const TENSOR_NAME: u16 = 10;
const TENSOR_QUANT: u16 = 12;
const QUANT_SCALE: u16 = 8;
const QUANT_ZERO_POINT: u16 = 10;

type Tables<'a, T> = ForwardsUOffset<Vector<'a, ForwardsUOffset<T>>>;

impl Verifiable for FbModel<'_> {
    fn run_verifier(v: &mut Verifier, pos: usize) -> Result<(), InvalidFlatbuffer> {
        v.visit_table(pos)?
            .visit_field::<Tables<FbSubGraph>>("subgraphs", MODEL_SUBGRAPHS, false)?
            .finish();
        Ok(())
    }
}

impl Verifiable for FbSubGraph<'_> {
    fn run_verifier(v: &mut Verifier, pos: usize) -> Result<(), InvalidFlatbuffer> {
        v.visit_table(pos)?
            .visit_field::<Tables<FbTensor>>("tensors", SUBGRAPH_TENSORS, false)?
            .visit_field::<ForwardsUOffset<Vector<i32>>>("inputs", SUBGRAPH_INPUTS, false)?
            .visit_field::<ForwardsUOffset<Vector<i32>>>("outputs", SUBGRAPH_OUTPUTS, false)?
            .finish();
        Ok(())
    }
}

impl Verifiable for FbTensor<'_> {
    fn run_verifier(v: &mut Verifier, pos: usize) -> Result<(), InvalidFlatbuffer> {
        v.visit_table(pos)?
            .visit_field::<ForwardsUOffset<Vector<i32>>>("shape", TENSOR_SHAPE, false)?
            .visit_field::<i8>("type", TENSOR_TYPE, false)?
            .visit_field::<ForwardsUOffset<&str>>("name", TENSOR_NAME, false)?
            .visit_field::<ForwardsUOffset<FbQuant>>("quantization", TENSOR_QUANT, false)?
            .finish();
        Ok(())
    }
}

impl Verifiable for FbQuant<'_> {
    fn run_verifier(v: &mut Verifier, pos: usize) -> Result<(), InvalidFlatbuffer> {
        v.visit_table(pos)?
            .visit_field::<ForwardsUOffset<Vector<f32>>>("scale", QUANT_SCALE, false)?
            .visit_field::<ForwardsUOffset<Vector<i64>>>("zero_point", QUANT_ZERO_POINT, false)?
            .finish();
        Ok(())
    }
}

/// TFLite `TensorType` enum values.
fn element_type(code: i8) -> Option<ElementType> {
    Some(match code {
        0 => ElementType::F32,
        2 => ElementType::I32,
        3 => ElementType::U8,
        7 => ElementType::I16,
        9 => ElementType::I8,
        _ => return None,
    })
}

/// Parses the interface of the model in `bytes`; `name` is used in errors.
pub fn read_interface(name: &str, bytes: &[u8]) -> Result<ModelInterface, ModelError> {
    let bad = |why: String| ModelError::NotTflite {
        path: name.to_string(),
        why,
    };
    if bytes.len() < 8 || &bytes[4..8] != b"TFL3" {
        return Err(bad(format!(
            "expected a TFLite flatbuffer (identifier TFL3 at byte 4), got {} bytes without it",
            bytes.len()
        )));
    }
    let opts = VerifierOptions {
        max_tables: 10_000_000,
        ..VerifierOptions::default()
    };
    let model = flatbuffers::root_with_opts::<FbModel>(&opts, bytes).map_err(|e| {
        let detail = e
            .to_string()
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        bad(format!("the file is truncated or corrupt ({detail})"))
    })?;
    // SAFETY (all `tab.get` calls below): the buffer passed the verifier for
    // exactly these tables and field types.
    let subgraphs = unsafe { model.tab.get::<Tables<FbSubGraph>>(MODEL_SUBGRAPHS, None) }
        .ok_or_else(|| bad("it has no subgraphs".into()))?;
    if subgraphs.is_empty() {
        return Err(bad("it has no subgraphs".into()));
    }
    let sg = subgraphs.get(0);
    let tensors = unsafe { sg.tab.get::<Tables<FbTensor>>(SUBGRAPH_TENSORS, None) }
        .ok_or_else(|| bad("its subgraph has no tensors".into()))?;
    let collect = |slot: u16, what: &str| -> Result<Vec<TensorInfo>, ModelError> {
        let idx = unsafe { sg.tab.get::<ForwardsUOffset<Vector<i32>>>(slot, None) }
            .ok_or_else(|| bad(format!("its subgraph lists no {what}")))?;
        idx.iter()
            .map(|i| {
                let t = usize::try_from(i)
                    .ok()
                    .filter(|&i| i < tensors.len())
                    .map(|i| tensors.get(i))
                    .ok_or_else(|| bad(format!("{what} tensor index {i} is out of range")))?;
                tensor_info(t).map_err(|why| bad(format!("{what} tensor {i}: {why}")))
            })
            .collect()
    };
    Ok(ModelInterface {
        inputs: collect(SUBGRAPH_INPUTS, "input")?,
        outputs: collect(SUBGRAPH_OUTPUTS, "output")?,
    })
}

fn tensor_info(t: FbTensor<'_>) -> Result<TensorInfo, String> {
    let shape: Vec<usize> = unsafe {
        t.tab
            .get::<ForwardsUOffset<Vector<i32>>>(TENSOR_SHAPE, None)
    }
    .map(|v| v.iter().map(|d| usize::try_from(d).unwrap_or(0)).collect())
    .unwrap_or_default();
    let code = unsafe { t.tab.get::<i8>(TENSOR_TYPE, Some(0)) }.unwrap_or(0);
    let dtype =
        element_type(code).ok_or_else(|| format!("unsupported element type code {code}"))?;
    let name = unsafe { t.tab.get::<ForwardsUOffset<&str>>(TENSOR_NAME, None) }
        .unwrap_or("")
        .to_string();
    let quant =
        unsafe { t.tab.get::<ForwardsUOffset<FbQuant>>(TENSOR_QUANT, None) }.and_then(|q| {
            let scale = unsafe { q.tab.get::<ForwardsUOffset<Vector<f32>>>(QUANT_SCALE, None) }?;
            let zp = unsafe {
                q.tab
                    .get::<ForwardsUOffset<Vector<i64>>>(QUANT_ZERO_POINT, None)
            };
            // Per-tensor quantization only for inputs/outputs (one scale).
            (scale.len() == 1 && scale.get(0) > 0.0).then(|| Quant {
                scale: scale.get(0),
                zero_point: zp
                    .filter(|z| !z.is_empty())
                    .map_or(0, |z| i32::try_from(z.get(0)).unwrap_or(0)),
            })
        });
    Ok(TensorInfo {
        name,
        shape,
        dtype,
        quant,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_non_tflite_bytes_with_reason() {
        let err = read_interface("x.tflite", b"hello world, not a model").unwrap_err();
        assert!(err.to_string().contains("TFL3"), "{err}");
    }

    #[test]
    fn rejects_truncated_flatbuffer() {
        let mut bytes = vec![0u8; 64];
        bytes[0] = 200; // root offset far past the end
        bytes[4..8].copy_from_slice(b"TFL3");
        let err = read_interface("x.tflite", &bytes).unwrap_err();
        assert!(err.to_string().contains("truncated or corrupt"), "{err}");
    }
}
