//! Minimal TFLite flatbuffers with only the tables the interface reader
//! reads (Model → SubGraph → Tensor → QuantizationParameters): for the unit
//! tests, and for the fuzz target's seed corpus
//! (`cargo run -p edgepose-model-file --example fuzz_seeds -- DIR`).

use flatbuffers::FlatBufferBuilder;

use crate::interface::{
    MODEL_SUBGRAPHS, QUANT_SCALE, QUANT_ZERO_POINT, SUBGRAPH_INPUTS, SUBGRAPH_OUTPUTS,
    SUBGRAPH_TENSORS, TENSOR_NAME, TENSOR_QUANT, TENSOR_SHAPE, TENSOR_TYPE,
};

/// One tensor: shape, TFLite `TensorType` code, per-tensor quantization
/// scale (zero point -128).
pub type Tensor<'a> = (&'a [i32], i8, Option<f32>);

/// A model file with one subgraph holding `tensors` (named `t0`, `t1`, ...),
/// whose inputs and outputs are the tensors at `ins` and `outs`.
pub fn model(tensors: &[Tensor<'_>], ins: &[i32], outs: &[i32]) -> Vec<u8> {
    let mut b = FlatBufferBuilder::new();
    let ts: Vec<_> = tensors
        .iter()
        .enumerate()
        .map(|(i, (shape, code, scale))| {
            let shape = b.create_vector(shape);
            let name = b.create_string(&format!("t{i}"));
            let q = scale.map(|s| {
                let sv = b.create_vector(&[s]);
                let zv = b.create_vector(&[-128i64]);
                let q = b.start_table();
                b.push_slot_always(QUANT_SCALE, sv);
                b.push_slot_always(QUANT_ZERO_POINT, zv);
                b.end_table(q)
            });
            let t = b.start_table();
            b.push_slot_always(TENSOR_SHAPE, shape);
            b.push_slot::<i8>(TENSOR_TYPE, *code, 0);
            b.push_slot_always(TENSOR_NAME, name);
            if let Some(q) = q {
                b.push_slot_always(TENSOR_QUANT, q);
            }
            b.end_table(t)
        })
        .collect();
    let tv = b.create_vector(&ts);
    let iv = b.create_vector(ins);
    let ov = b.create_vector(outs);
    let sg = b.start_table();
    b.push_slot_always(SUBGRAPH_TENSORS, tv);
    b.push_slot_always(SUBGRAPH_INPUTS, iv);
    b.push_slot_always(SUBGRAPH_OUTPUTS, ov);
    let sg = b.end_table(sg);
    let sgs = b.create_vector(&[sg]);
    let m = b.start_table();
    b.push_slot_always(MODEL_SUBGRAPHS, sgs);
    let m = b.end_table(m);
    b.finish(m, Some("TFL3"));
    b.finished_data().to_vec()
}
