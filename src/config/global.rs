//! The global settings every command starts from (runtime library, model,
//! threads, thresholds, resize, board, delegate): the command line over the
//! config file over the board profile over the built-in defaults, checked.
//! Delegate options come from the level that chose the delegate and every
//! level above it, later keys replacing earlier ones.

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::{ConfigError, FileConfig, Overrides};
use crate::board::{self, SelectedBoard};
use crate::decode::DecodeParams;
use crate::infer::{DelegateKind, DelegateRequest};
use crate::model::manifest::DEFAULT_MODEL;
use crate::preprocess::ResizeMode;

/// Validated settings.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    pub tflite_lib: PathBuf,
    pub model: String,
    pub model_dir: PathBuf,
    pub threads: usize,
    pub decode: DecodeParams,
    pub keypoint_threshold: f32,
    /// Letterbox resize.
    pub resize: ResizeMode,
    /// The board profile in use and why.
    pub board: SelectedBoard,
    /// Where the runtime library came from (`--tflite-lib`, the config
    /// file, the board profile, or the built-in candidates).
    pub tflite_lib_from: &'static str,
    /// The delegate to use.
    pub delegate: DelegateRequest,
    /// `run`'s sinks from the config file (used when no `--sink` is given).
    pub sinks: Vec<String>,
}

/// Model directory when none is configured (where `scripts/models.sh` puts them).
pub const DEFAULT_MODEL_DIR: &str = ".cache/models";

/// The model directory: the command line's, the config file's, or
/// [`DEFAULT_MODEL_DIR`].
pub fn model_dir(cli: &Overrides, file: &FileConfig) -> PathBuf {
    cli.model_dir
        .clone()
        .or_else(|| file.model_dir.clone())
        .unwrap_or_else(|| PathBuf::from(DEFAULT_MODEL_DIR))
}

/// Library files tried, in order, when none is configured.
pub fn default_library_candidates() -> Vec<PathBuf> {
    let arch = std::env::consts::ARCH;
    let triple = match arch {
        "aarch64" => "aarch64-linux-gnu",
        "arm" => "arm-linux-gnueabihf",
        _ => "x86_64-linux-gnu",
    };
    let mut v = Vec::new();
    if let Ok(exe) = std::env::current_exe() {
        if let Some(dir) = exe.parent() {
            v.push(dir.join("libLiteRt.so"));
        }
    }
    v.push(PathBuf::from(format!(
        ".cache/runtimes/litert/{arch}/libLiteRt.so"
    )));
    v.push(PathBuf::from("/usr/lib/edgepose/libLiteRt.so"));
    v.push(PathBuf::from(format!(
        "/usr/lib/{triple}/libtensorflowlite_c.so"
    )));
    v.push(PathBuf::from("/usr/lib/libtensorflowlite_c.so"));
    v.push(PathBuf::from(format!(
        "/usr/lib/{triple}/libtensorflow-lite.so.2.14.1"
    )));
    v
}

fn unit_interval(name: &'static str, v: f32) -> Result<f32, ConfigError> {
    if (0.0..=1.0).contains(&v) {
        Ok(v)
    } else {
        Err(ConfigError::Invalid {
            name,
            value: v.to_string(),
            expected: "expected a number from 0 to 1",
        })
    }
}

fn delegate_kind(s: &str) -> Result<DelegateKind, ConfigError> {
    s.parse().map_err(|_| ConfigError::Invalid {
        name: "delegate",
        value: format!("{s:?}"),
        expected: "expected none, xnnpack, npu, gpu or a delegate library path",
    })
}

/// The delegate request: kind from the first level that names one, options
/// from that level and the ones above it.
fn delegate_request(
    cli: &Overrides,
    file: &FileConfig,
    board: &board::Board,
) -> Result<DelegateRequest, ConfigError> {
    let from_board = board.delegate.request();
    let empty = BTreeMap::new();
    let cli_opts = cli.delegate_options.as_ref().unwrap_or(&empty);
    let file_opts = file.delegate_options.as_ref().unwrap_or(&empty);
    let (kind, layers): (DelegateKind, Vec<&BTreeMap<String, String>>) =
        if let Some(d) = &cli.delegate {
            (delegate_kind(d)?, vec![cli_opts])
        } else if let Some(d) = &file.delegate {
            (delegate_kind(d)?, vec![file_opts, cli_opts])
        } else {
            (
                from_board.kind.clone(),
                vec![&from_board.options, file_opts, cli_opts],
            )
        };
    let mut options = BTreeMap::new();
    for layer in layers {
        for (k, v) in layer {
            if k.is_empty() || k.contains('\0') || v.contains('\0') {
                return Err(ConfigError::Invalid {
                    name: "delegate_options",
                    value: format!("{k:?} = {v:?}"),
                    expected: "expected a non-empty key and no NUL bytes",
                });
            }
            options.insert(k.clone(), v.clone());
        }
    }
    Ok(DelegateRequest {
        kind,
        options,
        require: cli
            .require_delegate
            .or(file.require_delegate)
            .unwrap_or(false),
    })
}

impl Settings {
    /// Selects the board (`--board`, the config file's `board`, or the
    /// device tree), then merges `cli` over `file` over the board profile
    /// over defaults and validates the result.
    pub fn resolve(cli: &Overrides, file: &FileConfig) -> Result<Self, ConfigError> {
        let selected = board::select(
            cli.board.as_deref(),
            file.board.as_deref(),
            &board::dt_root(),
        )?;
        Self::resolve_with_board(cli, file, selected)
    }

    /// [`Settings::resolve`] with the board already selected.
    pub fn resolve_with_board(
        cli: &Overrides,
        file: &FileConfig,
        selected: SelectedBoard,
    ) -> Result<Self, ConfigError> {
        let b = &selected.board;
        let delegate = delegate_request(cli, file, b)?;
        let threads = cli
            .threads
            .or(file.threads)
            .or(b.threads)
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get().min(4)));
        if threads == 0 || threads > 64 {
            return Err(ConfigError::Invalid {
                name: "threads",
                value: threads.to_string(),
                expected: "expected 1 to 64",
            });
        }
        let max_detections = cli.max_detections.or(file.max_detections).unwrap_or(300);
        if max_detections == 0 || max_detections > 10_000 {
            return Err(ConfigError::Invalid {
                name: "max_detections",
                value: max_detections.to_string(),
                expected: "expected 1 to 10000",
            });
        }
        let decode = DecodeParams {
            conf_threshold: unit_interval(
                "conf_threshold",
                cli.conf_threshold.or(file.conf_threshold).unwrap_or(0.25),
            )?,
            iou_threshold: unit_interval(
                "iou_threshold",
                cli.iou_threshold.or(file.iou_threshold).unwrap_or(0.7),
            )?,
            max_detections,
            ..DecodeParams::default()
        };
        // The runtime library is looked for once every value given is
        // known to be good.
        let explicit = cli
            .tflite_lib
            .clone()
            .map(|p| (p, "--tflite-lib"))
            .or_else(|| file.tflite_lib.clone().map(|p| (p, "config file")));
        let (tflite_lib, tflite_lib_from) = match explicit {
            Some(p) => p,
            None => {
                let mut candidates: Vec<(PathBuf, &'static str)> = b
                    .tflite_libs
                    .iter()
                    .map(|p| (p.clone(), "board profile"))
                    .collect();
                candidates.extend(
                    default_library_candidates()
                        .into_iter()
                        .map(|p| (p, "built-in candidates")),
                );
                candidates
                    .iter()
                    .find(|(p, _)| p.is_file())
                    .cloned()
                    .ok_or_else(|| ConfigError::NoLibrary {
                        looked: candidates
                            .iter()
                            .map(|(p, _)| p.display().to_string())
                            .collect::<Vec<_>>()
                            .join(", "),
                    })?
            }
        };
        Ok(Settings {
            tflite_lib,
            model: cli
                .model
                .clone()
                .or_else(|| file.model.clone())
                .or_else(|| b.model.clone())
                .unwrap_or_else(|| DEFAULT_MODEL.to_string()),
            model_dir: model_dir(cli, file),
            threads,
            decode,
            keypoint_threshold: unit_interval(
                "keypoint_threshold",
                cli.keypoint_threshold
                    .or(file.keypoint_threshold)
                    .unwrap_or(0.5),
            )?,
            resize: cli.resize.or(file.resize).unwrap_or_default(),
            tflite_lib_from,
            delegate,
            board: selected,
            sinks: file.sinks.clone().unwrap_or_default(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lib() -> Overrides {
        Overrides {
            tflite_lib: Some("/x/libLiteRt.so".into()),
            ..Overrides::default()
        }
    }

    #[test]
    fn command_line_wins_over_file_over_defaults() {
        let file: FileConfig =
            toml::from_str("threads = 3\nconf_threshold = 0.4\nmodel = \"m.tflite\"").unwrap();
        let cli = Overrides {
            threads: Some(1),
            ..lib()
        };
        let s = Settings::resolve(&cli, &file).unwrap();
        assert_eq!(s.threads, 1);
        assert_eq!(s.decode.conf_threshold, 0.4);
        assert_eq!(s.decode.iou_threshold, 0.7);
        assert_eq!(s.model, "m.tflite");
        assert_eq!(s.keypoint_threshold, 0.5);
    }

    #[test]
    fn out_of_range_values_name_the_setting() {
        let cli = Overrides {
            iou_threshold: Some(1.5),
            ..lib()
        };
        let err = Settings::resolve(&cli, &FileConfig::default()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "iou_threshold = 1.5: expected a number from 0 to 1"
        );
        let cli = Overrides {
            threads: Some(0),
            ..lib()
        };
        assert!(Settings::resolve(&cli, &FileConfig::default())
            .unwrap_err()
            .to_string()
            .starts_with("threads = 0"));
    }

    fn board(text: &str) -> SelectedBoard {
        SelectedBoard {
            board: crate::board::Board::parse("test.toml", text).unwrap(),
            reason: "test".into(),
            device_tree: None,
        }
    }

    const NPU_BOARD: &str = "name = \"b\"\ndescription = \"d\"\nthreads = 3\n\
        model = \"board.tflite\"\ntflite_libs = [\"/nonexistent/libtensorflowlite_c.so\"]\n\
        [delegate]\nkind = \"external\"\nlibrary = \"/usr/lib/libnpu.so\"\n\
        [delegate.options]\na = \"board\"\nb = \"board\"\n";

    #[test]
    fn board_values_sit_between_the_config_file_and_the_defaults() {
        let s =
            Settings::resolve_with_board(&lib(), &FileConfig::default(), board(NPU_BOARD)).unwrap();
        assert_eq!(s.threads, 3);
        assert_eq!(s.model, "board.tflite");
        assert_eq!(
            s.delegate.kind,
            DelegateKind::External("/usr/lib/libnpu.so".into())
        );
        assert_eq!(s.delegate.options["a"], "board");
        let file: FileConfig = toml::from_str(
            "threads = 2\nmodel = \"file.tflite\"\n[delegate_options]\nb = \"file\"\n",
        )
        .unwrap();
        let cli = Overrides {
            threads: Some(1),
            delegate_options: Some([("c".to_string(), "cli".to_string())].into()),
            ..lib()
        };
        let s = Settings::resolve_with_board(&cli, &file, board(NPU_BOARD)).unwrap();
        assert_eq!((s.threads, s.model.as_str()), (1, "file.tflite"));
        let opts: Vec<(&str, &str)> = s
            .delegate
            .options
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        assert_eq!(opts, [("a", "board"), ("b", "file"), ("c", "cli")]);
        assert!(!s.delegate.require);
    }

    #[test]
    fn a_delegate_named_above_the_board_drops_the_boards_options() {
        let file: FileConfig = toml::from_str(
            "delegate = \"/opt/other.so\"\nrequire_delegate = true\n[delegate_options]\nx = \"1\"\n",
        )
        .unwrap();
        let s = Settings::resolve_with_board(&lib(), &file, board(NPU_BOARD)).unwrap();
        assert_eq!(
            s.delegate.kind,
            DelegateKind::External("/opt/other.so".into())
        );
        assert_eq!(s.delegate.options.keys().collect::<Vec<_>>(), ["x"]);
        assert!(s.delegate.require);
        let cli = Overrides {
            delegate: Some("none".into()),
            ..lib()
        };
        let s = Settings::resolve_with_board(&cli, &file, board(NPU_BOARD)).unwrap();
        assert_eq!(s.delegate.kind, DelegateKind::None);
        assert!(s.delegate.options.is_empty());
    }

    #[test]
    fn the_boards_libraries_are_tried_before_the_built_in_ones() {
        let dir = tempfile::tempdir().unwrap();
        let present = dir.path().join("libtensorflowlite_c.so");
        std::fs::write(&present, b"").unwrap();
        let text = format!(
            "name = \"b\"\ndescription = \"d\"\ntflite_libs = [\"/nonexistent/a.so\", \"{}\"]\n",
            present.display()
        );
        let s = Settings::resolve_with_board(
            &Overrides::default(),
            &FileConfig::default(),
            board(&text),
        )
        .unwrap();
        assert_eq!(
            (s.tflite_lib.as_path(), s.tflite_lib_from),
            (present.as_path(), "board profile")
        );
        let s = Settings::resolve_with_board(&lib(), &FileConfig::default(), board(&text)).unwrap();
        assert_eq!(s.tflite_lib_from, "--tflite-lib");
    }

    #[test]
    fn a_bad_delegate_value_is_named() {
        let cli = Overrides {
            delegate: Some(" ".into()),
            ..lib()
        };
        let err = Settings::resolve_with_board(&cli, &FileConfig::default(), board(NPU_BOARD))
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("delegate = \" \""), "{err}");
    }
}
