//! The model's interface out of the flatbuffer: the input and output tensors
//! of the first subgraph with their shapes, element types and quantization,
//! each shape checked (rank, dimensions, sizes against the crate's caps)
//! before it becomes a [`TensorInfo`].
//!
//! Only the handful of TFLite schema tables needed are declared here (Model →
//! SubGraph → Tensor → QuantizationParameters, field ids as in TFLite's
//! `schema.fbs`); every access goes through the `flatbuffers` verifier first.

use flatbuffers::{
    Follow, ForwardsUOffset, InvalidFlatbuffer, Table, Vector, Verifiable, Verifier,
    VerifierOptions,
};

use crate::{
    human_bytes, ElementType, FileError, Quant, TensorInfo, MAX_IO_BYTES, MAX_IO_TENSORS, MAX_RANK,
    MAX_TENSOR_BYTES,
};

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
pub(crate) const MODEL_SUBGRAPHS: u16 = 8;
pub(crate) const SUBGRAPH_TENSORS: u16 = 4;
pub(crate) const SUBGRAPH_INPUTS: u16 = 6;
pub(crate) const SUBGRAPH_OUTPUTS: u16 = 8;
pub(crate) const TENSOR_SHAPE: u16 = 4;
pub(crate) const TENSOR_TYPE: u16 = 6;
pub(crate) const TENSOR_NAME: u16 = 10;
pub(crate) const TENSOR_QUANT: u16 = 12;
pub(crate) const QUANT_SCALE: u16 = 8;
pub(crate) const QUANT_ZERO_POINT: u16 = 10;

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

/// Checks the TFLite file identifier (`TFL3` at byte 4) in the first bytes.
pub(crate) fn check_identifier(head: &[u8]) -> Result<(), String> {
    let expected = "expected a TFLite flatbuffer (identifier TFL3 at byte 4)";
    match head.get(4..8) {
        None => Err(format!("{expected}, got only {} bytes", head.len())),
        Some(id) if id != b"TFL3" => Err(format!(
            "{expected}, found {} there",
            id.iter()
                .map(|b| format!("{b:02x}"))
                .collect::<Vec<_>>()
                .join(" ")
        )),
        Some(_) => Ok(()),
    }
}

/// Parses the interface of the model in `bytes`; `name` is used in errors.
pub fn read_interface(name: &str, bytes: &[u8]) -> Result<ModelInterface, FileError> {
    let bad = |why: String| FileError::NotTflite {
        path: name.to_string(),
        why,
    };
    check_identifier(bytes).map_err(bad)?;
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
    let collect = |slot: u16, what: &str| -> Result<Vec<TensorInfo>, FileError> {
        let idx = unsafe { sg.tab.get::<ForwardsUOffset<Vector<i32>>>(slot, None) }
            .ok_or_else(|| bad(format!("its subgraph lists no {what}s")))?;
        if idx.len() > MAX_IO_TENSORS {
            return Err(bad(format!(
                "it has {} {what}s, more than the {MAX_IO_TENSORS} edgepose accepts",
                idx.len()
            )));
        }
        idx.iter()
            .enumerate()
            .map(|(n, i)| {
                let t = usize::try_from(i)
                    .ok()
                    .filter(|&i| i < tensors.len())
                    .map(|i| tensors.get(i))
                    .ok_or_else(|| bad(format!("{what} {n}: tensor index {i} is out of range")))?;
                tensor_info(t).map_err(|why| bad(format!("{what} {n} {why}")))
            })
            .collect()
    };
    let iface = ModelInterface {
        inputs: collect(SUBGRAPH_INPUTS, "input")?,
        outputs: collect(SUBGRAPH_OUTPUTS, "output")?,
    };
    if iface.inputs.is_empty() {
        return Err(bad("it has no input tensor".into()));
    }
    // Each tensor is at most MAX_TENSOR_BYTES and there are at most
    // 2 * MAX_IO_TENSORS of them: the sum cannot overflow.
    let total: u64 = iface
        .inputs
        .iter()
        .chain(&iface.outputs)
        .map(|t| t.byte_len() as u64)
        .sum();
    if total > MAX_IO_BYTES {
        return Err(bad(format!(
            "its inputs and outputs take {} together, more than the {} edgepose allows",
            human_bytes(total),
            human_bytes(MAX_IO_BYTES)
        )));
    }
    Ok(iface)
}

/// A tensor's description, its shape checked; the error continues "input
/// 0 ...".
fn tensor_info(t: FbTensor<'_>) -> Result<TensorInfo, String> {
    let name = unsafe { t.tab.get::<ForwardsUOffset<&str>>(TENSOR_NAME, None) }
        .unwrap_or("")
        .to_string();
    let raw: Vec<i32> = unsafe {
        t.tab
            .get::<ForwardsUOffset<Vector<i32>>>(TENSOR_SHAPE, None)
    }
    .map(|v| v.iter().take(MAX_RANK + 1).collect())
    .unwrap_or_default();
    let label = format!("({name:?})");
    let code = unsafe { t.tab.get::<i8>(TENSOR_TYPE, Some(0)) }.unwrap_or(0);
    let dtype = element_type(code)
        .ok_or_else(|| format!("{label} has unsupported element type code {code}"))?;
    let shape = check_shape(&raw, dtype).map_err(|why| format!("{label} {why}"))?;
    let quant =
        unsafe { t.tab.get::<ForwardsUOffset<FbQuant>>(TENSOR_QUANT, None) }.and_then(|q| {
            let scale = unsafe { q.tab.get::<ForwardsUOffset<Vector<f32>>>(QUANT_SCALE, None) }?;
            let zp = unsafe {
                q.tab
                    .get::<ForwardsUOffset<Vector<i64>>>(QUANT_ZERO_POINT, None)
            };
            // Per-tensor quantization only for inputs/outputs (one scale).
            let s = (scale.len() == 1).then(|| scale.get(0))?;
            (s.is_finite() && s > 0.0).then(|| Quant {
                scale: s,
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

/// The shape as sizes, or why it is impossible: a rank above [`MAX_RANK`],
/// a dimension below 1 (dynamic or empty), or a size above
/// [`MAX_TENSOR_BYTES`].
fn check_shape(raw: &[i32], dtype: ElementType) -> Result<Vec<usize>, String> {
    let shown = || {
        let dims: Vec<String> = raw.iter().map(i32::to_string).collect();
        format!("[{}]", dims.join(", "))
    };
    if raw.len() > MAX_RANK {
        return Err(format!(
            "has rank {}+, more than {MAX_RANK}",
            raw.len().min(MAX_RANK + 1)
        ));
    }
    if let Some((i, d)) = raw.iter().enumerate().find(|(_, &d)| d < 1) {
        return Err(format!(
            "has an impossible shape {}: dimension {i} is {d}; every dimension must be at least 1 \
             (edgepose feeds and reads fixed shapes)",
            shown()
        ));
    }
    let elements = raw
        .iter()
        .try_fold(1u64, |n, &d| n.checked_mul(d as u64))
        .unwrap_or(u64::MAX);
    let bytes = elements.saturating_mul(dtype.size() as u64);
    if bytes > MAX_TENSOR_BYTES {
        return Err(format!(
            "declares shape {} {} ({}), more than the {} edgepose allows for one tensor",
            shown(),
            dtype.name(),
            if bytes == u64::MAX {
                "more bytes than a u64 holds".to_string()
            } else {
                human_bytes(bytes)
            },
            human_bytes(MAX_TENSOR_BYTES)
        ));
    }
    // Each dimension is at most MAX_TENSOR_BYTES, so it fits a usize.
    Ok(raw.iter().map(|&d| d as usize).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::build::model;

    fn err(bytes: &[u8]) -> String {
        read_interface("m.tflite", bytes).unwrap_err().to_string()
    }

    #[test]
    fn reads_shapes_types_and_quantization() {
        let bytes = model(
            &[
                (&[1, 320, 320, 3], 3, Some(1.0 / 255.0)),
                (&[1, 56, 2100], 0, None),
            ],
            &[0],
            &[1],
        );
        let i = read_interface("m.tflite", &bytes).unwrap();
        assert_eq!(i.inputs[0].shape, [1, 320, 320, 3]);
        assert_eq!(i.inputs[0].dtype, ElementType::U8);
        assert_eq!(i.inputs[0].name, "t0");
        let q = i.inputs[0].quant.unwrap();
        assert_eq!((q.scale, q.zero_point), (1.0 / 255.0, -128));
        assert_eq!(i.outputs[0].byte_len(), 56 * 2100 * 4);
        assert_eq!(i.outputs[0].quant, None);
    }

    #[test]
    fn rejects_non_tflite_bytes_with_reason() {
        assert!(err(b"hello world, not a model").contains("TFL3"));
    }

    #[test]
    fn rejects_truncated_flatbuffer() {
        let mut bytes = vec![0u8; 64];
        bytes[0] = 200; // root offset far past the end
        bytes[4..8].copy_from_slice(b"TFL3");
        assert!(err(&bytes).contains("truncated or corrupt"));
    }

    #[test]
    fn impossible_shapes_are_named_as_such() {
        for (shape, dim) in [
            (&[1, 0, 320, 3][..], "dimension 1 is 0"),
            (&[1, 320, -1, 3][..], "dimension 2 is -1"),
        ] {
            let bytes = model(&[(shape, 3, None), (&[1, 56, 2100], 0, None)], &[0], &[1]);
            let e = err(&bytes);
            assert!(
                e.starts_with("m.tflite is not a usable TFLite model: input 0 (\"t0\") has an impossible shape")
                    && e.contains(dim),
                "{e}"
            );
        }
        let bytes = model(&[(&[1; 9], 0, None)], &[0], &[0]);
        assert!(err(&bytes).contains("input 0 (\"t0\") has rank 9+, more than 8"));
    }

    #[test]
    fn huge_shapes_are_refused_before_any_allocation() {
        // 56 x 140 million float32: 29.2 GiB.
        let bytes = model(
            &[
                (&[1, 320, 320, 3], 3, None),
                (&[1, 56, 140_000_000], 0, None),
            ],
            &[0],
            &[1],
        );
        let e = err(&bytes);
        assert!(
            e.contains(
                "output 0 (\"t1\") declares shape [1, 56, 140000000] float32 (29.2 GiB), more than \
                 the 64.0 MiB edgepose allows for one tensor"
            ),
            "{e}"
        );
        // A product that overflows u64.
        let bytes = model(&[(&[i32::MAX; 8], 0, None)], &[0], &[0]);
        assert!(err(&bytes).contains("more bytes than a u64 holds"));
        // Each under the cap, together over it: 3 x 48 MiB.
        let t: &[i32] = &[48 << 20];
        let bytes = model(&[(t, 3, None), (t, 3, None), (t, 3, None)], &[0], &[1, 2]);
        assert!(err(&bytes).contains("take 144.0 MiB together, more than the 128.0 MiB"));
    }

    #[test]
    fn tensor_lists_are_bounded_and_indices_checked() {
        let outs = vec![1; MAX_IO_TENSORS + 1];
        let bytes = model(&[(&[1], 0, None), (&[1], 0, None)], &[0], &outs);
        assert!(err(&bytes).contains("it has 17 outputs, more than the 16"));
        let bytes = model(&[(&[1], 0, None)], &[0], &[5]);
        assert!(err(&bytes).contains("output 0: tensor index 5 is out of range"));
        let bytes = model(&[(&[1], 0, None)], &[], &[0]);
        assert!(err(&bytes).contains("it has no input tensor"));
        let bytes = model(&[(&[1], 4, None)], &[0], &[0]);
        assert!(err(&bytes).contains("unsupported element type code 4"));
    }

    #[test]
    fn bad_quantization_is_dropped_not_used() {
        for s in [0.0, -1.0, f32::NAN, f32::INFINITY] {
            let bytes = model(&[(&[1, 8], 9, Some(s))], &[0], &[0]);
            let i = read_interface("m.tflite", &bytes).unwrap();
            assert_eq!(i.inputs[0].quant, None, "scale {s}");
        }
    }
}
