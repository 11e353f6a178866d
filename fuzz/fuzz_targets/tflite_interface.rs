//! `tflite_interface`: arbitrary bytes as a `.tflite` model file, through
//! the interface reader (`edgepose_model_file::read_interface`): as given,
//! and with the TFLite identifier written over bytes 4..8 (so that mutations
//! reach the flatbuffer verifier and the tables behind it rather than stop
//! at the identifier check). It must never panic, and whatever it accepts
//! must be within the caps edgepose allocates by: at most 16 inputs (at
//! least one) and 16 outputs, ranks up to 8, every dimension at least 1,
//! each tensor's size computable without overflow and at most 64 MiB, all
//! of them together at most 128 MiB, quantization scales finite and
//! positive.
#![no_main]

use edgepose_model_file::{
    read_interface, ModelInterface, MAX_IO_BYTES, MAX_IO_TENSORS, MAX_RANK, MAX_TENSOR_BYTES,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(iface) = read_interface("fuzz.tflite", data) {
        check(&iface);
    }
    if data.len() >= 8 {
        let mut patched = data.to_vec();
        patched[4..8].copy_from_slice(b"TFL3");
        if let Ok(iface) = read_interface("fuzz.tflite", &patched) {
            check(&iface);
        }
    }
});

fn check(iface: &ModelInterface) {
    assert!(!iface.inputs.is_empty() && iface.inputs.len() <= MAX_IO_TENSORS);
    assert!(iface.outputs.len() <= MAX_IO_TENSORS);
    let mut total = 0u64;
    for t in iface.inputs.iter().chain(&iface.outputs) {
        assert!(t.shape.len() <= MAX_RANK, "{:?}", t.shape);
        assert!(t.shape.iter().all(|&d| d >= 1), "{:?}", t.shape);
        let bytes = t
            .shape
            .iter()
            .try_fold(t.dtype.size() as u64, |n, &d| n.checked_mul(d as u64))
            .expect("size overflows");
        assert!(bytes <= MAX_TENSOR_BYTES, "{bytes}");
        assert_eq!(bytes, t.byte_len() as u64);
        total += bytes;
        if let Some(q) = t.quant {
            assert!(q.scale.is_finite() && q.scale > 0.0, "{q:?}");
        }
    }
    assert!(total <= MAX_IO_BYTES, "{total}");
}
