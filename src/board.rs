//! Board profiles: what a board needs, as data (`boards/*.toml`, built into
//! the binary, or a profile file given by path).
//!
//! A profile names the board, says how to recognise it from the device tree
//! (`/proc/device-tree/compatible` entries and/or substrings of
//! `/proc/device-tree/model`), and gives defaults: target triple, CPU
//! threads, the TFLite runtime libraries to try in order, the delegate and
//! its string options, the camera (and the platform's camera pipeline) /
//! serial / display endpoint
//! specifications, and the default model. Profile values sit between the
//! config file and the built-in defaults: command line > config file >
//! board profile > defaults. The endpoints are used by `run`
//! ([`crate::config::run`]): the camera when no `--source` is given, the
//! serial port and display only when asked for with `--sink serial` /
//! `--sink display` (a board's UART or I2C bus may be wired to something
//! else). No code branches on a board's name.
//!
//! Selection: `--board NAME|PATH` (or `board = ...` in the config file);
//! otherwise the device tree (root overridable with `EDGEPOSE_DT_ROOT`) is
//! matched against the built-in profiles — the profile matching the most
//! specific `compatible` entry (they are listed most specific first) wins,
//! a `model` substring match counting as most specific — falling back to
//! `generic`.
//!
//! Endpoint strings (`camera`, `serial`, `display`) are only checked for the
//! `KIND:TARGET?key=value` syntax here; the source and sink backends validate
//! their options when they open them.
//!
//! The profiles, how a board is chosen and troubleshooting are in
//! docs/boards-and-delegates.md.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::infer::{DelegateKind, DelegateRequest};
use crate::spec::Spec;

/// Errors in board profiles and their selection.
#[derive(Debug, thiserror::Error)]
pub enum BoardError {
    #[error(
        "unknown board {name:?}: expected one of {known}, or the path of a profile file (.toml)"
    )]
    Unknown { name: String, known: String },
    #[error("board profile {path}: {why}")]
    File { path: String, why: String },
    #[error("board profile {path}: {field}: {why}")]
    Invalid {
        path: String,
        field: String,
        why: String,
    },
}

/// Device-tree match rules of a profile.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct MatchRules {
    /// Exact entries of `/proc/device-tree/compatible`.
    #[serde(default)]
    pub compatible: Vec<String>,
    /// Substrings of `/proc/device-tree/model`.
    #[serde(default)]
    pub model: Vec<String>,
}

/// The delegate a board uses.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum DelegateSpec {
    /// The runtime's CPU path.
    #[default]
    None,
    /// XNNPACK (classic library built with it; LiteRT's CPU accelerator).
    Xnnpack,
    /// An external delegate plugin library with string options.
    External {
        /// Absolute path, or a bare file name for the dynamic loader.
        library: PathBuf,
        #[serde(default)]
        options: BTreeMap<String, String>,
    },
}

impl DelegateSpec {
    /// The engine request for this delegate (not required).
    pub fn request(&self) -> DelegateRequest {
        match self {
            DelegateSpec::None => DelegateRequest::default(),
            DelegateSpec::Xnnpack => DelegateRequest {
                kind: DelegateKind::Xnnpack,
                ..DelegateRequest::default()
            },
            DelegateSpec::External { library, options } => DelegateRequest {
                kind: DelegateKind::External(library.clone()),
                options: options.clone(),
                require: false,
            },
        }
    }
}

/// A board profile as written.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Board {
    /// Short name (`--board NAME`): lower-case letters, digits, `-`.
    pub name: String,
    pub description: String,
    /// How to recognise the board; none for profiles chosen by name only.
    #[serde(rename = "match", default)]
    pub matches: MatchRules,
    /// Rust target triple of the board's userland (none: any).
    pub target: Option<String>,
    /// CPU threads for the runtime.
    pub threads: Option<usize>,
    /// TFLite runtime libraries to try, in order (the first that exists).
    #[serde(default)]
    pub tflite_libs: Vec<PathBuf>,
    #[serde(default)]
    pub delegate: DelegateSpec,
    /// Default camera of `run`: a source specification (`v4l2:/dev/video0?...`).
    pub camera: Option<String>,
    /// The platform's own camera stack as a `gst:` pipeline (libcamerasrc,
    /// a vendor ISP): `run`'s source when no `--source` is given and
    /// GStreamer has every element it names; otherwise `camera` is.
    pub camera_pipeline: Option<String>,
    /// Serial output for `--sink serial`: a sink specification
    /// (`serial:/dev/ttyAMA0?baud=...`).
    pub serial: Option<String>,
    /// Display for `--sink display`: a sink specification (`ssd1306:/dev/i2c-1?...`).
    pub display: Option<String>,
    /// Default model (manifest id, file name in the model directory, or path).
    pub model: Option<String>,
}

/// The profiles built into the binary.
const BUILTIN: &[(&str, &str)] = &[
    ("rpi4", include_str!("../boards/rpi4.toml")),
    ("rpi5", include_str!("../boards/rpi5.toml")),
    ("rpi-zero-2w", include_str!("../boards/rpi-zero-2w.toml")),
    ("ti-am62a", include_str!("../boards/ti-am62a.toml")),
    ("ti-tda4vm", include_str!("../boards/ti-tda4vm.toml")),
    ("nxp-imx8mp", include_str!("../boards/nxp-imx8mp.toml")),
    (
        "coral-dev-board",
        include_str!("../boards/coral-dev-board.toml"),
    ),
    ("coral-usb", include_str!("../boards/coral-usb.toml")),
    ("generic", include_str!("../boards/generic.toml")),
];

/// Name of the fallback profile.
pub const GENERIC: &str = "generic";

fn invalid(path: &str, field: &str, why: impl Into<String>) -> BoardError {
    BoardError::Invalid {
        path: path.to_string(),
        field: field.to_string(),
        why: why.into(),
    }
}

fn is_name(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

fn check_spec(path: &str, field: &str, value: &Option<String>) -> Result<(), BoardError> {
    let Some(v) = value else { return Ok(()) };
    let spec = Spec::parse(v).map_err(|e| invalid(path, field, e.to_string()))?;
    if spec.kind.is_none() {
        return Err(invalid(
            path,
            field,
            format!("{v:?} names no kind: expected KIND:TARGET?key=value"),
        ));
    }
    Ok(())
}

impl Board {
    /// Parses and validates a profile; `path` names it in messages.
    pub fn parse(path: &str, text: &str) -> Result<Self, BoardError> {
        let b: Board = crate::files::parse_toml(text).map_err(|why| BoardError::File {
            path: path.to_string(),
            why,
        })?;
        b.validate(path)?;
        Ok(b)
    }

    /// Reads a profile file.
    pub fn load(path: &Path) -> Result<Self, BoardError> {
        let text =
            crate::files::read_text(path, crate::files::BOARD).map_err(|e| BoardError::File {
                path: path.display().to_string(),
                why: e.to_string(),
            })?;
        Self::parse(&path.display().to_string(), &text)
    }

    fn validate(&self, path: &str) -> Result<(), BoardError> {
        if !is_name(&self.name) {
            return Err(invalid(
                path,
                "name",
                format!("{:?}: expected lower-case letters, digits and -", self.name),
            ));
        }
        if self.description.trim().is_empty() {
            return Err(invalid(path, "description", "must not be empty"));
        }
        for c in self.matches.compatible.iter().chain(&self.matches.model) {
            if c.trim().is_empty() {
                return Err(invalid(path, "match", "empty match string"));
            }
        }
        if let Some(t) = &self.target {
            let parts: Vec<&str> = t.split('-').collect();
            let ok = (3..=4).contains(&parts.len())
                && parts.iter().all(|p| {
                    !p.is_empty() && p.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                });
            if !ok {
                return Err(invalid(
                    path,
                    "target",
                    format!("{t:?}: expected a target triple such as aarch64-unknown-linux-gnu"),
                ));
            }
        }
        if let Some(n) = self.threads {
            if n == 0 || n > 64 {
                return Err(invalid(path, "threads", format!("{n}: expected 1 to 64")));
            }
        }
        for lib in &self.tflite_libs {
            if !lib.is_absolute() {
                return Err(invalid(
                    path,
                    "tflite_libs",
                    format!("{}: expected an absolute path", lib.display()),
                ));
            }
        }
        if let DelegateSpec::External { library, options } = &self.delegate {
            let s = library.to_string_lossy();
            if s.is_empty() || (s.contains('/') && !library.is_absolute()) {
                return Err(invalid(
                    path,
                    "delegate.library",
                    format!("{s:?}: expected an absolute path or a bare library file name"),
                ));
            }
            for (k, v) in options {
                if k.is_empty() || k.contains('\0') || v.contains('\0') {
                    return Err(invalid(
                        path,
                        "delegate.options",
                        format!("{k:?} = {v:?}: expected a non-empty key and no NUL bytes"),
                    ));
                }
            }
        }
        check_spec(path, "camera", &self.camera)?;
        check_spec(path, "camera_pipeline", &self.camera_pipeline)?;
        if let Some(p) = &self.camera_pipeline {
            if !p.starts_with("gst:") {
                return Err(invalid(
                    path,
                    "camera_pipeline",
                    format!("{p:?}: expected a gst:PIPELINE source"),
                ));
            }
        }
        check_spec(path, "serial", &self.serial)?;
        check_spec(path, "display", &self.display)?;
        if self.model.as_deref().is_some_and(|m| m.trim().is_empty()) {
            return Err(invalid(path, "model", "must not be empty"));
        }
        Ok(())
    }
}

/// The built-in profiles, in the order they are listed.
pub fn builtin() -> Result<Vec<Board>, BoardError> {
    BUILTIN
        .iter()
        .map(|(name, text)| Board::parse(&format!("boards/{name}.toml (built in)"), text))
        .collect()
}

/// What the device tree says about the machine.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct DeviceTree {
    /// Where it was read.
    pub root: String,
    /// `compatible` entries, most specific first.
    pub compatible: Vec<String>,
    pub model: Option<String>,
}

/// The device-tree root: `EDGEPOSE_DT_ROOT` or `/proc/device-tree`.
pub fn dt_root() -> PathBuf {
    std::env::var_os("EDGEPOSE_DT_ROOT")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/proc/device-tree"))
}

/// Reads `compatible` (NUL-separated strings) and `model` under `root`;
/// `None` when neither exists.
pub fn read_device_tree(root: &Path) -> Option<DeviceTree> {
    let strings = |name: &str| -> Option<Vec<String>> {
        let bytes = crate::files::read(&root.join(name), crate::files::SYSTEM).ok()?;
        Some(
            bytes
                .split(|b| *b == 0)
                .map(|s| String::from_utf8_lossy(s).trim().to_string())
                .filter(|s| !s.is_empty())
                .collect(),
        )
    };
    let compatible = strings("compatible");
    let model = strings("model").and_then(|v| v.into_iter().next());
    if compatible.is_none() && model.is_none() {
        return None;
    }
    Some(DeviceTree {
        root: root.display().to_string(),
        compatible: compatible.unwrap_or_default(),
        model,
    })
}

/// The best-matching profile for `dt` and why, or `None`.
pub fn detect<'a>(profiles: &'a [Board], dt: &DeviceTree) -> Option<(&'a Board, String)> {
    // (specificity: lower is better, rules matched, reason)
    let mut best: Option<(usize, usize, &Board, String)> = None;
    for b in profiles {
        let mut rank = usize::MAX;
        let mut rules = 0;
        let mut reason = String::new();
        for c in &b.matches.compatible {
            if let Some(i) = dt.compatible.iter().position(|x| x == c) {
                rules += 1;
                if i < rank {
                    rank = i;
                    reason = format!("device tree compatible {c:?} ({}/compatible)", dt.root);
                }
            }
        }
        if let Some(model) = &dt.model {
            if let Some(m) = b.matches.model.iter().find(|m| model.contains(m.as_str())) {
                rules += 1;
                rank = 0;
                reason = format!("device tree model {model:?} contains {m:?}");
            }
        }
        if rules == 0 {
            continue;
        }
        let better = match &best {
            None => true,
            Some((r, n, _, _)) => rank < *r || (rank == *r && rules > *n),
        };
        if better {
            best = Some((rank, rules, b, reason));
        }
    }
    best.map(|(_, _, b, why)| (b, why))
}

/// A chosen profile and how it was chosen.
#[derive(Debug, Clone, PartialEq)]
pub struct SelectedBoard {
    pub board: Board,
    /// Why this profile: `--board`, the config file, the device tree, or
    /// the fallback.
    pub reason: String,
    /// The device tree that was read (detection only).
    pub device_tree: Option<DeviceTree>,
}

/// Looks a profile up by built-in name, or loads it from a path (anything
/// with a `/` or ending in `.toml`).
pub fn by_name_or_path(spec: &str) -> Result<Board, BoardError> {
    if spec.contains('/') || spec.ends_with(".toml") {
        return Board::load(Path::new(spec));
    }
    let all = builtin()?;
    let known = all
        .iter()
        .map(|b| b.name.as_str())
        .collect::<Vec<_>>()
        .join(", ");
    all.iter()
        .find(|b| b.name == spec)
        .cloned()
        .ok_or_else(|| BoardError::Unknown {
            name: spec.to_string(),
            known,
        })
}

/// Selects the board: `cli` (`--board`), else `config` (`board = ...`),
/// else the device tree under `dt_root`, else `generic`.
pub fn select(
    cli: Option<&str>,
    config: Option<&str>,
    dt_root: &Path,
) -> Result<SelectedBoard, BoardError> {
    if let Some(spec) = cli {
        return Ok(SelectedBoard {
            board: by_name_or_path(spec)?,
            reason: format!("chosen with --board {spec}"),
            device_tree: None,
        });
    }
    if let Some(spec) = config {
        return Ok(SelectedBoard {
            board: by_name_or_path(spec)?,
            reason: format!("chosen in the config file (board = {spec:?})"),
            device_tree: None,
        });
    }
    let all = builtin()?;
    let generic = || {
        all.iter()
            .find(|b| b.name == GENERIC)
            .cloned()
            .ok_or_else(|| BoardError::Unknown {
                name: GENERIC.into(),
                known: String::new(),
            })
    };
    let Some(dt) = read_device_tree(dt_root) else {
        return Ok(SelectedBoard {
            board: generic()?,
            reason: format!(
                "no device tree at {} (not a device-tree board): fallback",
                dt_root.display()
            ),
            device_tree: None,
        });
    };
    if let Some((b, why)) = detect(&all, &dt) {
        return Ok(SelectedBoard {
            board: b.clone(),
            reason: format!("detected: {why}"),
            device_tree: Some(dt),
        });
    }
    Ok(SelectedBoard {
        board: generic()?,
        reason: format!(
            "device tree (model {:?}, compatible {:?}) matches no profile: fallback",
            dt.model.as_deref().unwrap_or("?"),
            dt.compatible.join(", ")
        ),
        device_tree: Some(dt),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dt(compatible: &[&str], model: Option<&str>) -> DeviceTree {
        DeviceTree {
            root: "/dt".into(),
            compatible: compatible.iter().map(|s| s.to_string()).collect(),
            model: model.map(str::to_string),
        }
    }

    #[test]
    fn every_builtin_profile_parses_and_is_named_after_its_file() {
        let all = builtin().unwrap();
        assert_eq!(all.len(), BUILTIN.len());
        for (b, (file, _)) in all.iter().zip(BUILTIN) {
            assert_eq!(&b.name, file);
        }
        assert!(all.iter().any(|b| b.name == GENERIC));
    }

    #[test]
    fn unknown_field_is_rejected_with_its_name() {
        let err = Board::parse("x.toml", "name = \"x\"\ndescription = \"d\"\nthread = 4\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("x.toml") && err.contains("thread"), "{err}");
        let err = Board::parse(
            "x.toml",
            "name = \"x\"\ndescription = \"d\"\n[delegate]\nkind = \"external\"\nlibrary = \"/l.so\"\nlibary = 1\n",
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("libary"), "{err}");
    }

    #[test]
    fn delegate_options_must_be_strings() {
        let err = Board::parse(
            "x.toml",
            "name = \"x\"\ndescription = \"d\"\n[delegate]\nkind = \"external\"\nlibrary = \"/l.so\"\n[delegate.options]\ndebug_level = 0\n",
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("string"), "{err}");
    }

    #[test]
    fn values_are_validated() {
        let base = "name = \"x\"\ndescription = \"d\"\n";
        for (extra, field) in [
            ("threads = 0\n", "threads"),
            ("target = \"aarch64\"\n", "target"),
            ("tflite_libs = [\"lib/libLiteRt.so\"]\n", "tflite_libs"),
            ("camera = \"/dev/video0\"\n", "camera"),
            ("serial = \"serial:/dev/ttyS0?baud\"\n", "serial"),
            (
                "[delegate]\nkind = \"external\"\nlibrary = \"lib/x.so\"\n",
                "delegate.library",
            ),
        ] {
            let err = Board::parse("x.toml", &format!("{base}{extra}")).unwrap_err();
            assert!(
                err.to_string()
                    .starts_with(&format!("board profile x.toml: {field}:")),
                "{extra}: {err}"
            );
        }
        let bad_name =
            Board::parse("x.toml", "name = \"Pi 5\"\ndescription = \"d\"\n").unwrap_err();
        assert!(bad_name.to_string().contains("name"), "{bad_name}");
    }

    #[test]
    fn most_specific_compatible_wins() {
        let all = builtin().unwrap();
        let pick =
            |c: &[&str], m: Option<&str>| detect(&all, &dt(c, m)).map(|(b, _)| b.name.clone());
        assert_eq!(
            pick(
                &["raspberrypi,5-model-b", "brcm,bcm2712"],
                Some("Raspberry Pi 5 Model B Rev 1.0")
            ),
            Some("rpi5".into())
        );
        assert_eq!(
            pick(
                &["raspberrypi,4-model-b", "brcm,bcm2711"],
                Some("Raspberry Pi 4 Model B Rev 1.4")
            ),
            Some("rpi4".into())
        );
        assert_eq!(
            pick(&["raspberrypi,model-zero-2-w", "brcm,bcm2837"], None),
            Some("rpi-zero-2w".into())
        );
        assert_eq!(
            pick(&["ti,am62a7-sk", "ti,am62a7"], None),
            Some("ti-am62a".into())
        );
        assert_eq!(
            pick(&["ti,j721e-sk", "ti,j721e"], None),
            Some("ti-tda4vm".into())
        );
        assert_eq!(
            pick(&["fsl,imx8mp-evk", "fsl,imx8mp"], None),
            Some("nxp-imx8mp".into())
        );
        assert_eq!(
            pick(&["fsl,imx8mq-phanbell", "fsl,imx8mq"], None),
            Some("coral-dev-board".into())
        );
        assert_eq!(pick(&["acme,unknown"], Some("Acme Board")), None);
    }
}
