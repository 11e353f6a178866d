//! `edgepose probe`: what edgepose finds on this machine — the board profile
//! (detected or chosen, and why), the TFLite runtime library (flavour,
//! version, accelerators), whether the delegates the profile and the
//! settings name can be loaded (library opens, plugin entry points present;
//! no delegate is created, so no accelerator is touched), GStreamer (the
//! `gst:` plugin, its version, and whether `libcamerasrc`, `v4l2src` and
//! the elements of the board's camera pipeline are there), the optional
//! backends this build has (cargo features), and the video devices with
//! what they offer.
//!
//! What it prints, and what to do when a board or delegate is not found:
//! docs/boards-and-delegates.md.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Result;
use serde::Serialize;

use super::Context;
use crate::board::{DelegateSpec, DeviceTree, SelectedBoard};
use crate::cli::ProbeArgs;
use crate::config::Settings;
use crate::infer::{self, delegate, DelegateKind, Flavour, LibraryInfo};
use crate::source::gst::{self, GstProbe};

/// Runs `probe`. A configuration that does not resolve (no runtime library,
/// say) is part of the report, not an error.
pub fn command(ctx: &Context, args: &ProbeArgs) -> Result<ExitCode> {
    let selected = crate::board::select(
        ctx.overrides.board.as_deref(),
        ctx.file.board.as_deref(),
        &crate::board::dt_root(),
    )?;
    let settings = Settings::resolve_with_board(&ctx.overrides, &ctx.file, selected.clone());
    let report = probe(&selected, settings.as_ref().map_err(|e| e.to_string()));
    if args.json {
        let mut v = serde_json::to_value(&report)?;
        v["video"] = video_json(&args.video_dir);
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        println!("{}", report.human());
        print_video(&args.video_dir);
    }
    Ok(ExitCode::SUCCESS)
}

/// The board part of the report.
#[derive(Debug, Clone, Serialize)]
pub struct BoardReport {
    pub name: String,
    pub description: String,
    pub reason: String,
    pub device_tree: Option<DeviceTree>,
    pub target: Option<String>,
    pub threads: Option<usize>,
    pub camera: Option<String>,
    pub camera_pipeline: Option<String>,
    pub serial: Option<String>,
    pub display: Option<String>,
    pub model: Option<String>,
}

/// The runtime library part of the report.
#[derive(Debug, Clone, Serialize)]
pub struct LibraryReport {
    pub path: Option<String>,
    /// Where the path came from.
    pub from: Option<String>,
    pub info: Option<LibraryInfo>,
    /// Why the library could not be found or loaded.
    pub error: Option<String>,
}

/// One delegate and whether it can be used.
#[derive(Debug, Clone, Serialize)]
pub struct DelegateReport {
    /// `board profile` or `settings` (command line / config file).
    pub from: &'static str,
    pub delegate: String,
    pub usable: bool,
    pub detail: String,
}

/// Everything `probe` prints.
#[derive(Debug, Clone, Serialize)]
pub struct ProbeReport {
    pub board: BoardReport,
    pub tflite: LibraryReport,
    pub delegates: Vec<DelegateReport>,
    pub gstreamer: GstProbe,
    /// The optional backends (cargo features) and whether this build has each.
    pub backends: Vec<crate::features::Backend>,
}

fn check_delegate(
    kind: &DelegateKind,
    from: &'static str,
    lib: Option<&LibraryInfo>,
) -> DelegateReport {
    let (usable, detail) = match kind {
        DelegateKind::None => (true, "no delegate: the runtime's CPU kernels".to_string()),
        DelegateKind::External(path) => {
            let p = delegate::probe_plugin(path);
            let flavour_note = match lib.map(|l| l.flavour) {
                Some(Flavour::Litert) => {
                    "; but the TFLite library is LiteRT, which loads no plugin delegates"
                }
                _ => "",
            };
            if p.usable() {
                (
                    lib.map(|l| l.flavour) != Some(Flavour::Litert),
                    format!(
                        "loads; tflite_plugin_create_delegate and tflite_plugin_destroy_delegate present{flavour_note}"
                    ),
                )
            } else if p.loads {
                (
                    false,
                    "loads, but lacks the TFLite plugin entry points".to_string(),
                )
            } else {
                (
                    false,
                    format!(
                        "does not load: {}",
                        p.error.unwrap_or_else(|| "unknown error".into())
                    ),
                )
            }
        }
        DelegateKind::Xnnpack => match lib {
            Some(l) if l.flavour == Flavour::Litert => {
                (true, "LiteRT's CPU accelerator is XNNPACK".to_string())
            }
            Some(l) if l.xnnpack == Some(true) => (
                true,
                "the classic library exports TfLiteXNNPackDelegateCreate".to_string(),
            ),
            Some(_) => (
                false,
                "the classic library was built without the XNNPACK delegate".to_string(),
            ),
            None => (false, "no TFLite library to ask".to_string()),
        },
        DelegateKind::Npu | DelegateKind::Gpu => {
            let want = if *kind == DelegateKind::Npu {
                "NPU"
            } else {
                "GPU"
            };
            match lib {
                Some(l) if l.flavour == Flavour::Litert => {
                    let found = l.accelerators.iter().find(|a| a.contains(want));
                    match found {
                        Some(a) => (true, format!("registered: {a}")),
                        None => (
                            false,
                            format!(
                                "no {want} accelerator registered (registered: {})",
                                l.accelerators.join(", ")
                            ),
                        ),
                    }
                }
                Some(_) => (
                    false,
                    "the classic runtime has no accelerator selection: name a delegate library"
                        .to_string(),
                ),
                None => (false, "no TFLite library to ask".to_string()),
            }
        }
    };
    DelegateReport {
        from,
        delegate: kind.to_string(),
        usable,
        detail,
    }
}

/// Builds the report. `settings` is the resolved configuration, or the
/// error that stopped it (e.g. no runtime library found).
pub fn probe(selected: &SelectedBoard, settings: Result<&Settings, String>) -> ProbeReport {
    let b = &selected.board;
    let board = BoardReport {
        name: b.name.clone(),
        description: b.description.clone(),
        reason: selected.reason.clone(),
        device_tree: selected.device_tree.clone(),
        target: b.target.clone(),
        threads: b.threads,
        camera: b.camera.clone(),
        camera_pipeline: b.camera_pipeline.clone(),
        serial: b.serial.clone(),
        display: b.display.clone(),
        model: b.model.clone(),
    };
    let tflite = match &settings {
        Ok(s) => {
            let info = infer::library_info(&s.tflite_lib);
            LibraryReport {
                path: Some(s.tflite_lib.display().to_string()),
                from: Some(s.tflite_lib_from.to_string()),
                error: info.as_ref().err().map(|e| e.to_string()),
                info: info.ok(),
            }
        }
        Err(e) => LibraryReport {
            path: None,
            from: None,
            info: None,
            error: Some(e.clone()),
        },
    };
    let lib = tflite.info.as_ref();
    let mut delegates = Vec::new();
    let profile_kind = b.delegate.request().kind;
    if b.delegate != DelegateSpec::None {
        delegates.push(check_delegate(&profile_kind, "board profile", lib));
    }
    if let Ok(s) = settings {
        if s.delegate.kind != profile_kind || delegates.is_empty() {
            delegates.push(check_delegate(&s.delegate.kind, "settings", lib));
        }
    }
    // The elements every camera route needs, then the board's own.
    let mut elements: Vec<String> = ["appsink", "videoconvert", "libcamerasrc", "v4l2src"]
        .map(String::from)
        .to_vec();
    if let Some(p) = &b.camera_pipeline {
        for e in gst::pipeline_elements(p.strip_prefix("gst:").unwrap_or(p)) {
            if !elements.contains(&e) {
                elements.push(e);
            }
        }
    }
    ProbeReport {
        board,
        tflite,
        delegates,
        gstreamer: gst::probe(&elements),
        backends: crate::features::BACKENDS.to_vec(),
    }
}

impl ProbeReport {
    /// The report for people.
    pub fn human(&self) -> String {
        let b = &self.board;
        let mut s = format!(
            "board: {} ({})\n  why: {}\n",
            b.name, b.description, b.reason
        );
        if let Some(dt) = &b.device_tree {
            s.push_str(&format!(
                "  device tree ({}): model {:?}, compatible {}\n",
                dt.root,
                dt.model.as_deref().unwrap_or("?"),
                dt.compatible.join(", ")
            ));
        }
        let opt = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
        s.push_str(&format!(
            "  target {}, threads {}, model {}\n  camera {}\n  camera pipeline {}\n  serial {}\n  display {}\n",
            opt(&b.target),
            b.threads.map_or("-".into(), |t| t.to_string()),
            opt(&b.model),
            opt(&b.camera),
            opt(&b.camera_pipeline),
            opt(&b.serial),
            opt(&b.display)
        ));
        let t = &self.tflite;
        match (&t.path, &t.info) {
            (Some(p), Some(i)) => {
                s.push_str(&format!(
                    "tflite: {p} (from {})\n  flavour {}, version {}\n",
                    t.from.as_deref().unwrap_or("?"),
                    i.flavour.name(),
                    i.version.as_deref().unwrap_or("not exported")
                ));
                if !i.accelerators.is_empty() {
                    s.push_str(&format!("  accelerators: {}\n", i.accelerators.join(", ")));
                }
                if let Some(x) = i.xnnpack {
                    s.push_str(&format!(
                        "  built-in XNNPACK delegate: {}\n",
                        if x { "yes" } else { "no" }
                    ));
                }
            }
            _ => s.push_str(&format!(
                "tflite: {} NOT usable: {}\n",
                t.path.as_deref().unwrap_or("(none)"),
                t.error.as_deref().unwrap_or("?")
            )),
        }
        s.push_str("delegates:\n");
        for d in &self.delegates {
            s.push_str(&format!(
                "  {} ({}): {} — {}\n",
                d.delegate,
                d.from,
                if d.usable { "usable" } else { "NOT usable" },
                d.detail
            ));
        }
        let g = &self.gstreamer;
        match (&g.version, &g.error) {
            (Some(v), _) => {
                s.push_str(&format!(
                    "gstreamer: {v} (plugin {})\n",
                    g.plugin.as_deref().unwrap_or("?")
                ));
                for (e, present) in &g.elements {
                    s.push_str(&format!(
                        "  {e}: {}\n",
                        if *present { "present" } else { "missing" }
                    ));
                }
            }
            (None, e) => s.push_str(&format!(
                "gstreamer: NOT usable: {} (gst: sources fail; every other source works)\n",
                e.as_deref().unwrap_or("?")
            )),
        }
        s.push_str("backends (cargo features):\n");
        for b in &self.backends {
            s.push_str(&format!(
                "  {}: {} — {}\n",
                b.feature,
                if b.built { "built" } else { "NOT built" },
                b.what
            ));
        }
        s.pop();
        s
    }
}

/// The video devices and what they offer, as JSON (for `probe --json`).
/// Without the `v4l2` feature: one entry saying so.
fn video_json(video_dir: &Path) -> serde_json::Value {
    match crate::source::video_devices(video_dir) {
        Ok(devices) => devices
            .iter()
            .map(|d| match d {
                Ok(i) => serde_json::to_value(i).unwrap_or_default(),
                Err(e) => serde_json::json!({ "error": e }),
            })
            .collect(),
        Err(e) => serde_json::json!([{ "error": e }]),
    }
}

/// The video devices and what they offer, for `probe`.
fn print_video(video_dir: &Path) {
    let devices = match crate::source::video_devices(video_dir) {
        Ok(devices) => devices,
        Err(e) => return println!("video devices: {e}"),
    };
    if devices.is_empty() {
        println!("video devices: none in {}", video_dir.display());
    }
    for d in &devices {
        match d {
            Err(e) => println!("{e}"),
            Ok(i) => {
                println!(
                    "{}: {} ({}, {}){}",
                    i.path,
                    i.card,
                    i.driver,
                    i.bus,
                    if i.capture {
                        ""
                    } else {
                        " - not a capture node"
                    }
                );
                for f in &i.formats {
                    println!(
                        "  {} {}{}",
                        f.fourcc,
                        f.description,
                        if f.supported {
                            ""
                        } else {
                            " (edgepose cannot read it)"
                        }
                    );
                    for s in &f.sizes {
                        println!("    {s}");
                    }
                }
            }
        }
    }
}
