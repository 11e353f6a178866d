//! A `.tflite` model file as untrusted input: read with a bounded reader,
//! and its contract with edgepose (the input and output tensors of the first
//! subgraph: shapes, element types, quantization) read out of the flatbuffer
//! without any runtime library, every size checked against a stated cap
//! before anything is allocated for it.
//!
//! The caps (also stated in docs/robustness.md):
//! - a model file is at most [`MAX_MODEL_BYTES`] (512 MiB); a regular file
//!   that is larger is refused from its length, and anything else (a pipe,
//!   `/dev/zero`) is refused after its first 8 bytes unless they carry the
//!   TFLite identifier, and after [`MAX_MODEL_BYTES`] at the latest;
//! - at most [`MAX_IO_TENSORS`] inputs and as many outputs, each of rank at
//!   most [`MAX_RANK`] with every dimension at least 1 (no dynamic or empty
//!   dimensions: edgepose feeds and reads fixed shapes);
//! - each input or output at most [`MAX_TENSOR_BYTES`] (64 MiB), all of them
//!   together at most [`MAX_IO_BYTES`] (128 MiB).
//!
//! A pose model for a board is a few MB with tensors of a few MB at most
//! (a 1280 × 1280 float32 input is 19 MiB), so the caps refuse only files
//! that are not such a model.

pub mod build;
mod interface;

use std::io::Read;
use std::path::Path;

use serde::Serialize;

pub use interface::{read_interface, ModelInterface};

const MIB: u64 = 1 << 20;

/// Largest model file edgepose reads.
pub const MAX_MODEL_BYTES: u64 = 512 * MIB;
/// Most inputs, and most outputs, a model may have.
pub const MAX_IO_TENSORS: usize = 16;
/// Highest rank of an input or output (LiteRT's own limit).
pub const MAX_RANK: usize = 8;
/// Largest single input or output tensor.
pub const MAX_TENSOR_BYTES: u64 = 64 * MIB;
/// Largest sum of the input and output tensors' sizes.
pub const MAX_IO_BYTES: u64 = 128 * MIB;

/// Errors reading a model file.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    #[error("cannot read model file {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} is not a usable TFLite model: {why}")]
    NotTflite { path: String, why: String },
}

/// Tensor element types edgepose can feed or read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ElementType {
    F32,
    U8,
    I8,
    I16,
    I32,
}

impl ElementType {
    /// Bytes per element.
    pub fn size(self) -> usize {
        match self {
            ElementType::U8 | ElementType::I8 => 1,
            ElementType::I16 => 2,
            ElementType::F32 | ElementType::I32 => 4,
        }
    }

    /// Name as written in manifests and reports.
    pub fn name(self) -> &'static str {
        match self {
            ElementType::F32 => "float32",
            ElementType::U8 => "uint8",
            ElementType::I8 => "int8",
            ElementType::I16 => "int16",
            ElementType::I32 => "int32",
        }
    }
}

/// Affine per-tensor quantization: `real = (q - zero_point) * scale`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Quant {
    pub scale: f32,
    pub zero_point: i32,
}

/// One input or output tensor of a model.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TensorInfo {
    pub name: String,
    pub shape: Vec<usize>,
    pub dtype: ElementType,
    pub quant: Option<Quant>,
}

impl TensorInfo {
    /// Number of elements.
    pub fn len(&self) -> usize {
        self.shape.iter().product()
    }

    /// True when the tensor has no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Size in bytes.
    pub fn byte_len(&self) -> usize {
        self.len() * self.dtype.size()
    }
}

/// `bytes` for people: "448000 bytes", "29.2 GiB".
pub fn human_bytes(bytes: u64) -> String {
    const GIB: u64 = 1 << 30;
    if bytes >= GIB {
        format!("{:.1} GiB", bytes as f64 / GIB as f64)
    } else if bytes >= MIB {
        format!("{:.1} MiB", bytes as f64 / MIB as f64)
    } else {
        format!("{bytes} bytes")
    }
}

/// Reads the model file at `path`, refusing anything that cannot be a
/// TFLite model before reading it: more than [`MAX_MODEL_BYTES`], or first
/// bytes without the TFLite identifier (`TFL3` at byte 4).
pub fn read_model_file(path: &Path) -> Result<Vec<u8>, FileError> {
    let display = path.display().to_string();
    let io = |source: std::io::Error| FileError::Io {
        path: display.clone(),
        source,
    };
    let not_tflite = |why: String| FileError::NotTflite {
        path: display.clone(),
        why,
    };
    let file = std::fs::File::open(path).map_err(io)?;
    let meta = file.metadata().map_err(io)?;
    if meta.is_dir() {
        return Err(not_tflite("it is a directory".into()));
    }
    let too_large = |size: String| {
        not_tflite(format!(
            "it is {size} bytes, more than the {MAX_MODEL_BYTES} bytes ({}) a model file may have",
            human_bytes(MAX_MODEL_BYTES)
        ))
    };
    if meta.is_file() && meta.len() > MAX_MODEL_BYTES {
        return Err(too_large(meta.len().to_string()));
    }
    let mut reader = file.take(MAX_MODEL_BYTES + 1);
    let mut head = [0u8; 8];
    let mut got = 0;
    while got < head.len() {
        match reader.read(&mut head[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(io(e)),
        }
    }
    interface::check_identifier(&head[..got]).map_err(not_tflite)?;
    // A regular file's length bounds the buffer; anything else is read in
    // steps up to the cap.
    let expect = if meta.is_file() { meta.len() } else { MIB };
    let mut bytes = Vec::with_capacity(usize::try_from(expect).unwrap_or(0));
    bytes.extend_from_slice(&head);
    reader.read_to_end(&mut bytes).map_err(io)?;
    if bytes.len() as u64 > MAX_MODEL_BYTES {
        return Err(too_large(format!("more than {MAX_MODEL_BYTES}")));
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dev_zero_is_refused_after_its_first_bytes() {
        let err = read_model_file(Path::new("/dev/zero")).unwrap_err();
        assert!(
            err.to_string().contains(
                "/dev/zero is not a usable TFLite model: expected a TFLite flatbuffer \
                           (identifier TFL3 at byte 4), found 00 00 00 00 there"
            ),
            "{err}"
        );
    }

    #[test]
    fn directories_and_missing_files_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let err = read_model_file(dir.path()).unwrap_err().to_string();
        assert!(err.ends_with("it is a directory"), "{err}");
        let err = read_model_file(&dir.path().join("absent.tflite")).unwrap_err();
        assert!(
            matches!(&err, FileError::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound),
            "{err}"
        );
    }

    #[test]
    fn a_file_over_the_cap_is_refused_from_its_length() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("big.tflite");
        let f = std::fs::File::create(&p).unwrap();
        // Sparse: no disk space, and nothing of it is read.
        f.set_len(MAX_MODEL_BYTES + 1).unwrap();
        let err = read_model_file(&p).unwrap_err().to_string();
        assert!(
            err.ends_with(
                "it is 536870913 bytes, more than the 536870912 bytes (512.0 MiB) a model file \
                 may have"
            ),
            "{err}"
        );
    }

    #[test]
    fn a_short_file_is_named_with_its_length() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("short.tflite");
        std::fs::write(&p, b"TFL").unwrap();
        let err = read_model_file(&p).unwrap_err().to_string();
        assert!(err.ends_with("got only 3 bytes"), "{err}");
    }

    #[test]
    fn sizes_read_for_people() {
        assert_eq!(human_bytes(448_000), "448000 bytes");
        assert_eq!(human_bytes(31_360_000_000), "29.2 GiB");
        assert_eq!(human_bytes(MAX_TENSOR_BYTES), "64.0 MiB");
    }
}
