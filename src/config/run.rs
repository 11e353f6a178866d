//! `run`'s settings: its options as parsed ([`RunArgs`]) checked against
//! the global [`Settings`], with the board profile's endpoints as defaults:
//! no `--source` uses the profile's `camera`, and `--sink serial` /
//! `--sink display` (the bare words) its `serial` / `display`.

use std::path::PathBuf;
use std::time::Duration;

use super::{count, number, show, ConfigError, Settings};
use crate::board::Board;
use crate::cli::{RunArgs, TrackingArgs};
use crate::decode::DecodeParams;
use crate::track::TrackerParams;

/// Longest `--interval-ms` (an hour).
pub const MAX_INTERVAL_MS: f64 = 3_600_000.0;
/// Longest `--sink-queue`.
pub const MAX_SINK_QUEUE: usize = 1000;

/// Checked settings of `run`.
#[derive(Debug, Clone, PartialEq)]
pub struct RunSettings {
    /// Where frames come from: `--source`, or the board profile's camera.
    pub sources: Vec<String>,
    /// Why `sources` is the board profile's camera; `None` for `--source`.
    pub source_default: Option<String>,
    /// Sink specifications (`--sink`, else the config file's `sinks`), the
    /// board words replaced by the profile's.
    pub sinks: Vec<String>,
    /// Directory for annotated images.
    pub annotate: Option<PathBuf>,
    /// No JSON lines on standard output.
    pub quiet: bool,
    /// Timestamp spacing of image frames.
    pub interval: Duration,
    /// Results each sink may have waiting.
    pub sink_queue: usize,
    /// The tracker's parameters; `None` with `--no-track`.
    pub tracking: Option<TrackerParams>,
    /// What the decoder keeps in this run: the global thresholds, with the
    /// score threshold lowered to the tracker's low threshold when
    /// tracking (low-score detections may extend tracks that exist).
    pub decode: DecodeParams,
}

impl RunSettings {
    /// Checks `args` and fills what they leave open from `global` and its
    /// board profile.
    pub fn resolve(args: &RunArgs, global: &Settings) -> Result<Self, ConfigError> {
        let interval_ms = number(
            "--interval-ms",
            args.interval_ms,
            0.0..=MAX_INTERVAL_MS,
            "0 to 3600000 milliseconds",
        )?;
        let sink_queue = count(
            "--sink-queue",
            args.sink_queue,
            1..=MAX_SINK_QUEUE,
            "1 to 1000 results",
        )?;
        let tracking = if args.no_track {
            None
        } else {
            Some(tracker_params(global, &args.tracking)?)
        };
        let decode = DecodeParams {
            conf_threshold: tracking
                .as_ref()
                .map_or(global.decode.conf_threshold, |t| t.low_threshold),
            ..global.decode
        };
        let board = &global.board;
        let (sources, source_default) = if args.sources.is_empty() {
            let (camera, which) =
                board_camera(&board.board).ok_or_else(|| ConfigError::NoSource {
                    board: board.board.name.clone(),
                    reason: board.reason.clone(),
                })?;
            let why = format!(
                "the {which} of board profile {} ({}), as no --source was given",
                board.board.name, board.reason
            );
            (vec![camera], Some(why))
        } else {
            (args.sources.clone(), None)
        };
        let given = if args.sinks.is_empty() {
            &global.sinks
        } else {
            &args.sinks
        };
        let sinks = given
            .iter()
            .map(|s| board_sink(s, &board.board, &board.reason))
            .collect::<Result<_, _>>()?;
        Ok(Self {
            sources,
            source_default,
            sinks,
            annotate: args.annotate.clone(),
            quiet: args.quiet,
            interval: Duration::from_secs_f64(interval_ms / 1e3),
            sink_queue,
            tracking,
            decode,
        })
    }
}

/// The profile's camera for `run`: its `camera_pipeline` when GStreamer
/// has every element the pipeline names, else its `camera`; with what it
/// is called in messages.
fn board_camera(board: &Board) -> Option<(String, &'static str)> {
    if let Some(p) = &board.camera_pipeline {
        let missing = crate::source::gst::missing_elements(p.strip_prefix("gst:").unwrap_or(p));
        match (missing, &board.camera) {
            (Ok(m), _) if m.is_empty() => return Some((p.clone(), "camera pipeline")),
            (_, None) => return Some((p.clone(), "camera pipeline")),
            (Ok(m), Some(_)) => log::info!(
                "board {}: camera pipeline not used, GStreamer lacks {}",
                board.name,
                m.join(", ")
            ),
            (Err(e), Some(_)) => log::info!("board {}: camera pipeline not used: {e}", board.name),
        }
    }
    board.camera.clone().map(|c| (c, "camera"))
}

/// `spec`, or for the bare words `serial` and `display` the board
/// profile's serial port or display.
fn board_sink(spec: &str, board: &Board, reason: &str) -> Result<String, ConfigError> {
    let (value, example) = match spec {
        "serial" => (&board.serial, "serial:/dev/ttyUSB0?baud=115200"),
        "display" => (&board.display, "ssd1306:/dev/i2c-1?address=0x3c"),
        _ => return Ok(spec.to_string()),
    };
    value.clone().ok_or_else(|| ConfigError::NoBoardSink {
        word: if spec == "serial" {
            "serial"
        } else {
            "display"
        },
        board: board.name.clone(),
        reason: reason.to_string(),
        example,
    })
}

/// The tracker's parameters: [`TrackerParams::for_detections`] at the
/// global thresholds, with each tracking option that is given checked and
/// put in.
fn tracker_params(global: &Settings, args: &TrackingArgs) -> Result<TrackerParams, ConfigError> {
    let mut p =
        TrackerParams::for_detections(global.decode.conf_threshold, global.keypoint_threshold);
    let bad = |option: &'static str, value: String, why: &'static str| ConfigError::Tracking {
        option,
        value,
        why,
    };
    let cutoff = |option: &'static str, v: f64| {
        if v.is_finite() && v > 0.0 {
            Ok(v)
        } else {
            Err(bad(
                option,
                show(v),
                "filter cutoffs must be > 0 and finite",
            ))
        }
    };
    if let Some(v) = args.smooth_min_cutoff {
        p.filter.min_cutoff = cutoff("--smooth-min-cutoff", v)?;
    }
    if let Some(v) = args.smooth_d_cutoff {
        p.filter.d_cutoff = cutoff("--smooth-d-cutoff", v)?;
    }
    if let Some(v) = args.smooth_beta {
        if !(v.is_finite() && v >= 0.0) {
            return Err(bad(
                "--smooth-beta",
                show(v),
                "beta must be >= 0 and finite",
            ));
        }
        p.filter.beta = v;
    }
    if let Some(v) = args.track_confirm_frames {
        if !(1..=1000).contains(&v) {
            return Err(bad(
                "--track-confirm-frames",
                v.to_string(),
                "confirm_frames must be 1 to 1000",
            ));
        }
        p.confirm_frames = v;
    }
    if let Some(v) = args.track_coast_frames {
        if v > 100_000 {
            return Err(bad(
                "--track-coast-frames",
                v.to_string(),
                "max_coast_frames must be 0 to 100000",
            ));
        }
        p.max_coast_frames = v;
    }
    if let Some(v) = args.track_coast_ms {
        if !(v.is_finite() && (0.0..=MAX_INTERVAL_MS).contains(&v)) {
            return Err(bad(
                "--track-coast-ms",
                show(v),
                "max_coast_ms must be 0 to 3600000",
            ));
        }
        p.max_coast_ms = v;
    }
    // The options above keep every parameter in range; this is the
    // tracker's own check of the whole set.
    p.validate().map_err(ConfigError::TrackerParams)?;
    Ok(p)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::board::SelectedBoard;
    use crate::config::{FileConfig, Overrides};

    fn global(board: &str) -> Settings {
        let selected = SelectedBoard {
            board: Board::parse("test.toml", board).unwrap(),
            reason: "chosen with --board test.toml".into(),
            device_tree: None,
        };
        let cli = Overrides {
            tflite_lib: Some("/x/libLiteRt.so".into()),
            conf_threshold: Some(0.4),
            ..Overrides::default()
        };
        Settings::resolve_with_board(&cli, &FileConfig::default(), selected).unwrap()
    }

    const PI: &str = "name = \"pi\"\ndescription = \"d\"\n\
        camera = \"v4l2:/dev/video3?format=YUYV\"\n\
        serial = \"serial:/dev/ttyAMA0?baud=115200\"\n\
        display = \"ssd1306:/dev/i2c-1?address=0x3c\"\n";
    const BARE: &str = "name = \"bare\"\ndescription = \"d\"\n";

    fn args(extra: &[&str]) -> RunArgs {
        use clap::Parser;
        let cli = crate::cli::Cli::try_parse_from(["edgepose", "run"].iter().chain(extra).copied())
            .unwrap();
        match cli.command {
            crate::cli::Command::Run(a) => a,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn no_source_takes_the_boards_camera_and_says_why() {
        let r = RunSettings::resolve(&args(&[]), &global(PI)).unwrap();
        assert_eq!(r.sources, ["v4l2:/dev/video3?format=YUYV"]);
        let why = r.source_default.unwrap();
        assert!(
            why.contains("board profile pi (chosen with --board test.toml)"),
            "{why}"
        );
        let r = RunSettings::resolve(&args(&["--source", "a.jpg", "--source", "b"]), &global(PI))
            .unwrap();
        assert_eq!(
            (r.sources.as_slice(), r.source_default),
            (&["a.jpg".to_string(), "b".to_string()][..], None)
        );
        let err = RunSettings::resolve(&args(&[]), &global(BARE))
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("no --source given, and board profile bare (chosen with --board test.toml) names no camera"),
            "{err}"
        );
    }

    #[test]
    fn the_config_files_sinks_apply_when_no_sink_is_given() {
        let mut g = global(PI);
        g.sinks = vec!["http:0.0.0.0:8080?open=on".into(), "serial".into()];
        let r = RunSettings::resolve(&args(&["--source", "x"]), &g).unwrap();
        assert_eq!(
            r.sinks,
            [
                "http:0.0.0.0:8080?open=on",
                "serial:/dev/ttyAMA0?baud=115200"
            ]
        );
        let r = RunSettings::resolve(&args(&["--source", "x", "--sink", "json"]), &g).unwrap();
        assert_eq!(
            r.sinks,
            ["json"],
            "the command line replaces the file's list"
        );
    }

    #[test]
    fn the_bare_words_serial_and_display_are_the_boards_endpoints() {
        let r = RunSettings::resolve(
            &args(&[
                "--sink",
                "serial",
                "--sink",
                "json:out.jsonl",
                "--sink",
                "display",
            ]),
            &global(PI),
        )
        .unwrap();
        assert_eq!(
            r.sinks,
            [
                "serial:/dev/ttyAMA0?baud=115200",
                "json:out.jsonl",
                "ssd1306:/dev/i2c-1?address=0x3c"
            ]
        );
        let err = RunSettings::resolve(
            &args(&["--sink", "display", "--source", "x"]),
            &global(BARE),
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.starts_with("--sink display: board profile bare"),
            "{err}"
        );
        assert!(err.contains("names no display"), "{err}");
    }

    #[test]
    fn tracking_lowers_the_decoders_threshold_without_touching_the_global_settings() {
        let g = global(PI);
        let r = RunSettings::resolve(&args(&["--source", "x"]), &g).unwrap();
        let t = r.tracking.unwrap();
        // --conf 0.4 starts tracks; the default low threshold 0.2 extends them.
        assert_eq!((t.high_threshold, t.low_threshold), (0.4, 0.2));
        assert_eq!(r.decode.conf_threshold, 0.2);
        assert_eq!(g.decode.conf_threshold, 0.4);
        assert_eq!(r.decode.iou_threshold, g.decode.iou_threshold);
        let r = RunSettings::resolve(&args(&["--source", "x", "--no-track"]), &g).unwrap();
        assert_eq!((r.tracking, r.decode), (None, g.decode));
        let r = RunSettings::resolve(
            &args(&[
                "--source",
                "x",
                "--smooth-beta",
                "0.5",
                "--track-confirm-frames",
                "2",
                "--track-coast-ms",
                "0",
            ]),
            &g,
        )
        .unwrap();
        let t = r.tracking.unwrap();
        assert_eq!(
            (t.filter.beta, t.confirm_frames, t.max_coast_ms),
            (0.5, 2, 0.0)
        );
        assert_eq!(
            t.max_coast_frames,
            TrackerParams::default().max_coast_frames
        );
    }

    #[test]
    fn out_of_range_options_get_one_line_errors_naming_them() {
        let g = global(PI);
        let err = |extra: &[&str]| {
            RunSettings::resolve(&args(extra), &g)
                .unwrap_err()
                .to_string()
        };
        // Each of these would make Duration::from_secs_f64 panic or stall.
        assert_eq!(
            err(&["--interval-ms", "1e300"]),
            "--interval-ms 1e300: expected 0 to 3600000 milliseconds"
        );
        assert_eq!(
            err(&["--interval-ms=-1"]),
            "--interval-ms -1: expected 0 to 3600000 milliseconds"
        );
        assert!(err(&["--interval-ms", "NaN"]).starts_with("--interval-ms NaN: expected"));
        assert_eq!(
            err(&["--sink-queue", "0"]),
            "--sink-queue 0: expected 1 to 1000 results"
        );
        assert_eq!(
            err(&["--smooth-min-cutoff", "0"]),
            "tracking parameters: --smooth-min-cutoff 0: filter cutoffs must be > 0 and finite"
        );
        assert!(err(&["--smooth-d-cutoff", "inf"])
            .starts_with("tracking parameters: --smooth-d-cutoff inf:"));
        assert!(err(&["--smooth-beta=-1"]).contains("beta must be >= 0"));
        assert!(err(&["--track-confirm-frames", "0"]).contains("confirm_frames must be 1 to 1000"));
        assert!(err(&["--track-coast-frames", "100001"])
            .starts_with("tracking parameters: --track-coast-frames 100001:"));
        assert!(err(&["--track-coast-ms", "1e10"]).contains("max_coast_ms must be 0 to 3600000"));
        let r = RunSettings::resolve(&args(&["--interval-ms", "3600000"]), &g).unwrap();
        assert_eq!(r.interval, Duration::from_secs(3600));
    }
}
