//! The first step for the global options: the config file as written
//! (serde, unknown fields rejected), and the command line's global options
//! in the same shape ([`Overrides`]), to be merged over it.
//!
//! The file's fields, the precedence and an example are in
//! docs/configuration.md.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::ConfigError;
use crate::cli::Global;
use crate::preprocess::ResizeMode;

/// The config file as written.
#[derive(Debug, Default, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub tflite_lib: Option<PathBuf>,
    pub model: Option<String>,
    pub model_dir: Option<PathBuf>,
    pub threads: Option<usize>,
    pub conf_threshold: Option<f32>,
    pub iou_threshold: Option<f32>,
    pub keypoint_threshold: Option<f32>,
    pub max_detections: Option<usize>,
    pub resize: Option<ResizeMode>,
    /// Board profile: a built-in name or a profile file path.
    pub board: Option<String>,
    /// Delegate: none, xnnpack, npu, gpu, or a delegate library.
    pub delegate: Option<String>,
    /// String options for the delegate.
    pub delegate_options: Option<BTreeMap<String, String>>,
    /// Fail rather than run on the CPU when the delegate is not in use.
    pub require_delegate: Option<bool>,
    /// `run`'s sinks (`--sink` specs) when the command line gives none.
    pub sinks: Option<Vec<String>>,
}

impl FileConfig {
    /// Reads and parses a config file.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let error = |why: String| ConfigError::File {
            path: path.display().to_string(),
            why,
        };
        let text = crate::files::read_text(path, crate::files::CONFIG)
            .map_err(|e| error(e.to_string()))?;
        crate::files::parse_toml(&text).map_err(error)
    }
}

/// Values given on the command line (or through its environment
/// variables): the same optional fields as the file, applied over it.
pub type Overrides = FileConfig;

impl From<&Global> for Overrides {
    fn from(g: &Global) -> Self {
        Overrides {
            tflite_lib: g.tflite_lib.clone(),
            model: g.model.clone(),
            model_dir: g.model_dir.clone(),
            threads: g.threads,
            conf_threshold: g.conf_threshold,
            iou_threshold: g.iou_threshold,
            keypoint_threshold: g.keypoint_threshold,
            max_detections: g.max_detections,
            resize: g.resize,
            board: g.board.clone(),
            delegate: g.delegate.clone(),
            delegate_options: (!g.delegate_options.is_empty())
                .then(|| g.delegate_options.iter().cloned().collect()),
            require_delegate: g.require_delegate.then_some(true),
            // `--sink` is `run`'s own option (RunSettings).
            sinks: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_config_field_is_rejected() {
        let err = crate::files::parse_toml::<FileConfig>("treads = 2").unwrap_err();
        assert!(err.contains("unknown field `treads`"), "{err}");
    }

    #[test]
    fn sinks_are_a_list_of_specs() {
        let c: FileConfig =
            toml::from_str("sinks = [\"http:0.0.0.0:8080?token_file=/etc/t\", \"json:/tmp/x\"]")
                .unwrap();
        assert_eq!(
            c.sinks.as_deref(),
            Some(
                &[
                    "http:0.0.0.0:8080?token_file=/etc/t".to_string(),
                    "json:/tmp/x".into()
                ][..]
            )
        );
        assert!(toml::from_str::<FileConfig>("sinks = \"json\"").is_err());
    }
}
