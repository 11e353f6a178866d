//! The model contract: what edgepose needs to know about a pose model.
//!
//! Two sources, each saying only what the other cannot:
//! - the `.tflite` file itself ([`tflite_file`]): tensor shapes, element types
//!   and quantization parameters;
//! - a manifest (`models/*.toml`, embedded in the binary, or one given by
//!   the user): file name, sha256, licence, upstream source, the input value
//!   range and letterbox pad value, the output layout and coordinate
//!   convention, keypoint names and skeleton edges.
//!
//! A model is resolved by id or file name against the model directory, its
//! sha256 is verified, and its interface is checked against the manifest.
//! A model file may carry its manifest beside it (`NAME.toml` next to
//! `NAME.tflite`, as the model factory writes them); such manifests in the
//! model directory are listed by `edgepose models` too. The manifest fields
//! and the errors a user may meet are in docs/models-and-accuracy.md.

pub mod heads;
pub mod manifest;

use std::path::{Path, PathBuf};

use edgepose_model_file::FileError;
use serde::Serialize;
use sha2::{Digest, Sha256};

pub use edgepose_model_file::{
    read_interface, ElementType, ModelInterface, Quant, TensorInfo, MAX_MODEL_BYTES,
};
pub use manifest::{Coords, Layout, Manifest};

/// Errors about model files and manifests.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("model file {path} not found: run scripts/models.sh or set EDGEPOSE_MODEL_DIR / --model-dir")]
    NotFound { path: String },
    #[error("cannot read model file {path}: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} is not a usable TFLite model: {why}")]
    NotTflite { path: String, why: String },
    #[error(
        "model file {path}: sha256 mismatch (expected {expected}, got {actual}); re-download it"
    )]
    Checksum {
        path: String,
        expected: String,
        actual: String,
    },
    #[error("manifest {path}: {why}")]
    Manifest { path: String, why: String },
    #[error("model {path} does not match its manifest: {why}")]
    Mismatch { path: String, why: String },
    #[error(
        "unknown model {0:?}: give a .tflite path or one of the ids listed by `edgepose models`"
    )]
    Unknown(String),
}

/// A model file resolved on disk, verified, with its manifest and interface.
#[derive(Debug, Clone)]
pub struct ResolvedModel {
    pub path: PathBuf,
    pub manifest: Manifest,
    pub interface: ModelInterface,
    pub sha256: String,
}

/// Hex sha256 of a byte slice.
pub fn sha256_hex(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

impl From<FileError> for ModelError {
    fn from(e: FileError) -> Self {
        match e {
            FileError::Io { path, source } if source.kind() == std::io::ErrorKind::NotFound => {
                ModelError::NotFound { path }
            }
            FileError::Io { path, source } => ModelError::Read { path, source },
            FileError::NotTflite { path, why } => ModelError::NotTflite { path, why },
        }
    }
}

/// Reads a whole model file with a bounded reader (at most
/// [`MAX_MODEL_BYTES`], and nothing past the first 8 bytes of a file that
/// is not a TFLite model).
pub fn read_model_file(path: &Path) -> Result<Vec<u8>, ModelError> {
    Ok(edgepose_model_file::read_model_file(path)?)
}

/// The manifest beside a model file (`NAME.toml` next to `NAME.tflite`),
/// if there is one; it must name that file.
pub fn sidecar(path: &Path) -> Result<Option<Manifest>, ModelError> {
    let toml = path.with_extension("toml");
    if path.extension().is_none_or(|e| e != "tflite") || !toml.is_file() {
        return Ok(None);
    }
    let m = Manifest::load(&toml)?;
    let file_name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    if m.file != file_name {
        return Err(ModelError::Manifest {
            path: toml.display().to_string(),
            why: format!(
                "it describes {:?}, not the model file {file_name:?} beside it",
                m.file
            ),
        });
    }
    Ok(Some(m))
}

/// The manifests beside model files in `dir` (`NAME.toml` whose `file` is
/// `NAME.tflite`), sorted by file name. Other TOML files are skipped.
pub fn sidecars(dir: &Path) -> Vec<Manifest> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut v: Vec<Manifest> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "toml") && p.is_file())
        .filter_map(|p| Manifest::load(&p).ok().map(|m| (p, m)))
        .filter(|(p, m)| p.with_extension("tflite").file_name() == Some(m.file.as_ref()))
        .map(|(_, m)| m)
        .collect();
    v.sort_by(|a, b| a.file.cmp(&b.file));
    v
}

/// Resolves `spec` (a manifest id, a model file name, or a path to a
/// `.tflite` file) to a verified model.
///
/// A path whose file name matches a manifest given with `--manifest`, then
/// one beside the file ([`sidecar`]), then a built-in one, uses that
/// manifest and is checked against its sha256; a path with no manifest gets
/// one inferred from the model's interface (by output shapes).
pub fn resolve(
    spec: &str,
    model_dir: &Path,
    extra_manifests: &[Manifest],
) -> Result<ResolvedModel, ModelError> {
    let builtin = manifest::builtin()?;
    let beside = sidecars(model_dir);
    let all: Vec<&Manifest> = extra_manifests
        .iter()
        .chain(beside.iter())
        .chain(builtin.iter())
        .collect();
    let spec_path = Path::new(spec);
    let looks_like_path = spec.contains('/') || spec.ends_with(".tflite");
    let by_name = |name: &str| {
        all.iter()
            .find(|m| m.id == name || m.file == name)
            .map(|m| (*m).clone())
    };
    let (path, manifest) = if looks_like_path {
        let file_name = spec_path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        let path = if spec.contains('/') {
            spec_path.to_path_buf()
        } else {
            let local = model_dir.join(spec);
            if local.exists() || !spec_path.exists() {
                local
            } else {
                spec_path.to_path_buf()
            }
        };
        let found = extra_manifests
            .iter()
            .find(|m| m.file == file_name)
            .cloned()
            .map_or_else(|| sidecar(&path), |m| Ok(Some(m)))?;
        (path, found.or_else(|| by_name(file_name)))
    } else {
        let m = by_name(spec).ok_or_else(|| ModelError::Unknown(spec.to_string()))?;
        (model_dir.join(&m.file), Some(m))
    };
    let bytes = read_model_file(&path)?;
    let display = path.display().to_string();
    let sha256 = sha256_hex(&bytes);
    if let Some(expected) = manifest.as_ref().and_then(|m| m.sha256.as_ref()) {
        if !expected.eq_ignore_ascii_case(&sha256) {
            return Err(ModelError::Checksum {
                path: display,
                expected: expected.clone(),
                actual: sha256,
            });
        }
    }
    let interface = read_interface(&display, &bytes)?;
    let manifest = match manifest {
        Some(m) => m,
        None => Manifest::infer(&display, &interface)?,
    };
    manifest.check_interface(&display, &interface)?;
    Ok(ResolvedModel {
        path,
        manifest,
        interface,
        sha256,
    })
}

/// Status of one manifest's file in the model directory (for `edgepose models`).
#[derive(Debug, Clone, Serialize)]
pub struct ModelStatus {
    #[serde(skip)]
    pub manifest: Manifest,
    pub id: String,
    pub file: String,
    pub path: String,
    pub present: bool,
    pub verified: bool,
    pub detail: String,
}

/// Checks every built-in manifest, then every manifest beside a model file
/// in the model directory, against the model directory.
pub fn status_all(model_dir: &Path) -> Result<Vec<ModelStatus>, ModelError> {
    let mut all = manifest::builtin()?;
    let builtin_files: Vec<String> = all.iter().map(|m| m.file.clone()).collect();
    all.extend(
        sidecars(model_dir)
            .into_iter()
            .filter(|m| !builtin_files.contains(&m.file)),
    );
    Ok(all
        .into_iter()
        .map(|m| {
            let path = model_dir.join(&m.file);
            let (present, verified, detail) = match read_model_file(&path) {
                Err(ModelError::NotFound { .. }) => (false, false, "not found".to_string()),
                Err(e) => (path.exists(), false, e.to_string()),
                Ok(bytes) => {
                    let actual = sha256_hex(&bytes);
                    match &m.sha256 {
                        Some(exp) if exp.eq_ignore_ascii_case(&actual) => {
                            (true, true, "sha256 ok".to_string())
                        }
                        Some(exp) => (true, false, format!("sha256 {actual}, expected {exp}")),
                        None => (true, false, "no sha256 in manifest".to_string()),
                    }
                }
            };
            ModelStatus {
                manifest: m.clone(),
                id: m.id.clone(),
                file: m.file.clone(),
                path: path.display().to_string(),
                present,
                verified,
                detail,
            }
        })
        .collect())
}
