//! Command-line interface (clap): the first step for the command line, as
//! the config file's is [`crate::config::FileConfig`]. Global options may
//! also come from an environment variable; [`crate::config`] merges them
//! over the config file and checks every command's options into settings.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "edgepose",
    version,
    about = "Int8 YOLO-Pose on edge boards: images or camera in, TFLite, keypoints out"
)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args)]
pub struct Global {
    /// Config file (TOML).
    #[arg(long, global = true, env = "EDGEPOSE_CONFIG")]
    pub config: Option<PathBuf>,
    /// TFLite runtime library: libLiteRt.so (LiteRT) or a classic TFLite C library.
    #[arg(long, global = true, env = "EDGEPOSE_TFLITE_LIB")]
    pub tflite_lib: Option<PathBuf>,
    /// Model: a manifest id, a file name in the model directory, or a .tflite path.
    #[arg(long, global = true, env = "EDGEPOSE_MODEL")]
    pub model: Option<String>,
    /// Directory holding the model files.
    #[arg(long, global = true, env = "EDGEPOSE_MODEL_DIR")]
    pub model_dir: Option<PathBuf>,
    /// CPU threads for the runtime.
    #[arg(long, global = true, env = "EDGEPOSE_THREADS")]
    pub threads: Option<usize>,
    /// Minimum person score.
    #[arg(long = "conf", global = true)]
    pub conf_threshold: Option<f32>,
    /// NMS IoU threshold.
    #[arg(long = "iou", global = true)]
    pub iou_threshold: Option<f32>,
    /// Keypoints scoring below this are marked not visible.
    #[arg(long = "kpt-threshold", global = true)]
    pub keypoint_threshold: Option<f32>,
    /// Most persons per frame.
    #[arg(long = "max-det", global = true)]
    pub max_detections: Option<usize>,
    /// Letterbox resize: opencv (byte-identical to Ultralytics' OpenCV
    /// pre-processing; default), pillow (byte-identical to Pillow's
    /// antialiased BILINEAR) or draft (MJPEG decoded at reduced DCT scale;
    /// faster, not exact). `fast` and `exact` are the old names.
    #[arg(long, global = true, value_enum)]
    pub resize: Option<crate::preprocess::ResizeMode>,
    /// Board profile: a name from boards/ (rpi4, rpi5, ti-am62a, ...) or a
    /// profile file; default: detected from /proc/device-tree, else generic.
    #[arg(long, global = true, env = "EDGEPOSE_BOARD")]
    pub board: Option<String>,
    /// Delegate: none, xnnpack, npu or gpu (LiteRT accelerators), or the
    /// path of an external delegate library (classic TFLite runtime).
    #[arg(long, global = true, env = "EDGEPOSE_DELEGATE")]
    pub delegate: Option<String>,
    /// Delegate option key=value, repeatable (over the board profile's).
    #[arg(long = "delegate-option", global = true, value_name = "KEY=VALUE",
          value_parser = crate::infer::delegate::parse_option)]
    pub delegate_options: Vec<(String, String)>,
    /// Exit with the delegate's error instead of running on the CPU when the
    /// delegate fails to load or takes no node.
    #[arg(long, global = true)]
    pub require_delegate: bool,
    /// Extra model manifest (TOML) for a model edgepose does not ship; repeatable.
    #[arg(long = "manifest", global = true)]
    pub manifests: Vec<PathBuf>,
    /// More log output (-v info, -vv debug); RUST_LOG also works.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the model on images and print one JSON line per image.
    Infer(InferArgs),
    /// Run the pipeline continuously over a source until it ends or SIGINT/SIGTERM.
    Run(RunArgs),
    /// List model manifests and whether each file is present and verified.
    Models,
    /// Report the board (detected or chosen, and why), the TFLite library
    /// (flavour, version), which delegates can be loaded, and the video
    /// devices with their driver, card, formats, frame sizes and rates.
    Probe(ProbeArgs),
    /// Check accuracy: COCO keypoint AP against ground truth and/or agreement
    /// with a reference model, through the same path as `run`. Exit code 0
    /// when every threshold passes, 3 when one fails.
    Eval(EvalArgs),
    /// Receive what a serial sink sends (a serial device, file, FIFO or `-`),
    /// decode it, print one JSON line per frame, and report damaged frames
    /// and sequence gaps on stderr with a summary at the end.
    Listen(ListenArgs),
    /// Print the manifest edgepose uses for --model (given with --manifest,
    /// beside the file, built in, or inferred from the model's outputs) as
    /// TOML: a starting point for a model edgepose does not ship.
    Manifest,
    /// Write the model-input tensors edgepose feeds the model (letterboxed,
    /// mapped to the input's type) for frames of a source into one NumPy
    /// `.npy` file `[N, H, W, 3]`: calibration data for a quantizer
    /// (scripts/quantize.sh). Prints a JSON summary (frames, sha256).
    CalibInputs(CalibInputsArgs),
    /// Time each stage (median, p99) and end-to-end against bare invoke.
    Bench(BenchArgs),
}

/// Arguments of `infer`.
#[derive(Debug, Args, Clone)]
pub struct InferArgs {
    /// Image files or directories of JPEG/PNG images, or one recording
    /// (`raw:FILE?format=YUYV&width=640&height=480`).
    #[arg(required = true)]
    pub inputs: Vec<String>,
    /// Write annotated images (boxes, skeletons) into this directory.
    #[arg(long)]
    pub annotate: Option<PathBuf>,
}

/// Arguments of `run`.
#[derive(Debug, Args, Clone)]
pub struct RunArgs {
    /// Source: a camera (`/dev/video0`,
    /// `v4l2:/dev/video0?format=MJPG&width=640&height=480&fps=30`), a
    /// recording (`raw:FILE?format=YUYV&width=640&height=480`), or image
    /// files and directories (repeatable). Default: the board profile's
    /// camera.
    #[arg(long = "source")]
    pub sources: Vec<String>,
    /// Write annotated images into this directory.
    #[arg(long)]
    pub annotate: Option<PathBuf>,
    /// Where results go besides standard output, repeatable:
    /// `json:PATH`, `annotate:DIR`, ... (see the README's sink list);
    /// `serial` and `display` alone: the board profile's.
    #[arg(long = "sink")]
    pub sinks: Vec<String>,
    /// Timestamp spacing of image frames, in milliseconds.
    #[arg(long, default_value_t = 33.333)]
    pub interval_ms: f64,
    /// Do not print per-frame JSON lines, only the summary.
    #[arg(long)]
    pub quiet: bool,
    /// Turn off tracking and smoothing (on by default): output every
    /// detection of each frame as it is.
    #[arg(long)]
    pub no_track: bool,
    #[command(flatten)]
    pub tracking: TrackingArgs,
    /// Results each JSON-lines sink may have waiting (serial, MQTT and
    /// displays have their own queue: queue=, buffer=, one frame); beyond
    /// that a camera run drops the oldest (counted), a file run waits.
    #[arg(long, default_value_t = 4)]
    pub sink_queue: usize,
}

/// Arguments of `probe`.
#[derive(Debug, Args, Clone)]
pub struct ProbeArgs {
    /// Where the video device nodes are.
    #[arg(long, default_value = "/dev")]
    pub video_dir: PathBuf,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `eval`.
#[derive(Debug, Args, Clone)]
pub struct EvalArgs {
    /// COCO-format keypoint annotation file (omit for agreement only).
    #[arg(long)]
    pub annotations: Option<PathBuf>,
    /// Folder with the images (the annotation file's `file_name`s); for
    /// agreement only, also a recording (`raw:FILE?format=...`).
    #[arg(long)]
    pub images: PathBuf,
    /// Reference model of the same network (e.g. the float32 export).
    #[arg(long)]
    pub reference: Option<String>,
    /// Fail unless AP (OKS .50:.95, all areas) is at least this.
    #[arg(long)]
    pub min_ap: Option<f64>,
    /// Fail if the reference's AP exceeds the model's by more than this.
    #[arg(long)]
    pub max_ap_drop: Option<f64>,
    /// Fail unless the mean OKS between the two models' persons is at least this.
    #[arg(long)]
    pub min_agreement_oks: Option<f64>,
    /// Write a report folder: COCO results files, report.json, error chart, worst images.
    #[arg(long)]
    pub report: Option<PathBuf>,
    /// Write the JSON report to this file.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Persons below this score are left out of the agreement comparison.
    #[arg(long, default_value_t = 0.25)]
    pub agreement_conf: f32,
    /// Number of worst-agreeing images drawn in the report.
    #[arg(long, default_value_t = 4)]
    pub worst: usize,
}

/// Arguments of `calib-inputs`.
#[derive(Debug, Args, Clone)]
pub struct CalibInputsArgs {
    /// A folder of JPEG/PNG images, image files, or one recording
    /// (`raw:FILE?format=YUYV&width=640&height=480`).
    #[arg(long = "source", required = true)]
    pub sources: Vec<String>,
    /// The `.npy` file to write.
    #[arg(long)]
    pub output: PathBuf,
    /// Most frames written, evenly spaced over the source.
    #[arg(long, default_value_t = 100)]
    pub max_frames: usize,
}

/// Arguments of `bench`.
#[derive(Debug, Args, Clone)]
pub struct BenchArgs {
    /// Image to run on, or a recording whose first frame is used
    /// (`raw:FILE?format=YUYV&width=640&height=480`).
    pub image: PathBuf,
    /// Timed iterations.
    #[arg(long, default_value_t = 200)]
    pub iterations: usize,
    /// Untimed warm-up iterations.
    #[arg(long, default_value_t = 20)]
    pub warmup: usize,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Tracker and smoothing parameters of `run` (defaults in `src/track/`).
#[derive(Debug, Args, Clone, Default)]
pub struct TrackingArgs {
    /// One-Euro minimum cutoff, Hz (lower: smoother when still).
    #[arg(long)]
    pub smooth_min_cutoff: Option<f64>,
    /// One-Euro speed coefficient, 1/(px/s) (higher: less lag when moving).
    #[arg(long)]
    pub smooth_beta: Option<f64>,
    /// One-Euro derivative cutoff, Hz.
    #[arg(long)]
    pub smooth_d_cutoff: Option<f64>,
    /// Frames a new track must be seen in before it is output.
    #[arg(long)]
    pub track_confirm_frames: Option<u32>,
    /// Frames a track may go unmatched before it ends.
    #[arg(long)]
    pub track_coast_frames: Option<u32>,
    /// Milliseconds a track may go unmatched before it ends.
    #[arg(long)]
    pub track_coast_ms: Option<f64>,
}

/// Which decoder `listen` uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListenEncoding {
    /// Decide from the first bytes.
    Auto,
    Binary,
    Json,
}

impl std::str::FromStr for ListenEncoding {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "auto" => Ok(Self::Auto),
            "binary" => Ok(Self::Binary),
            "json" => Ok(Self::Json),
            _ => Err(format!("{s:?}: expected auto, binary or json")),
        }
    }
}

/// Arguments of `listen` (src/cmd/listen.rs).
#[derive(Debug, Args, Clone)]
pub struct ListenArgs {
    /// Serial device (/dev/ttyUSB0), a file or FIFO, or `-` for standard input.
    pub port: String,
    /// Baud rate (serial devices only).
    #[arg(long, default_value = "115200", value_parser = crate::sink::serial::parse_baud)]
    pub baud: u32,
    /// Data bits: 5, 6, 7 or 8.
    #[arg(long, default_value = "8", value_parser = crate::sink::serial::parse_data_bits)]
    pub data_bits: serialport::DataBits,
    /// Parity: none, odd or even.
    #[arg(long, default_value = "none", value_parser = crate::sink::serial::parse_parity)]
    pub parity: serialport::Parity,
    /// Stop bits: 1 or 2.
    #[arg(long, default_value = "1", value_parser = crate::sink::serial::parse_stop_bits)]
    pub stop_bits: serialport::StopBits,
    /// Flow control: none, software or hardware.
    #[arg(long, default_value = "none", value_parser = crate::sink::serial::parse_flow)]
    pub flow: serialport::FlowControl,
    /// What the sender sends: binary, json, or auto (detect).
    #[arg(long, default_value = "auto")]
    pub encoding: ListenEncoding,
    /// Stop after this many good frames.
    #[arg(long)]
    pub count: Option<u64>,
    /// Print the end summary as one JSON object instead of a sentence.
    #[arg(long)]
    pub json_summary: bool,
}
