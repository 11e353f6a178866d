//! The commands: `infer`, `run`, `eval`, `models`, `bench`, `listen`, `probe`. Errors gain context here
//! (with `anyhow`) and reach `main` as one line.

use std::process::ExitCode;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use serde::Serialize;

use crate::cli::{Cli, Command};
use crate::config::{FileConfig, Settings, DEFAULT_MODEL_DIR};
use crate::frame::{FrameResult, RecordMeta, TrackMeta};
use crate::infer::{DelegateStatus, EngineOptions};
use crate::model::{self, ResolvedModel};
use crate::pipeline::Pipeline;
use crate::sink::{Annotator, JsonLines, Sink};
use crate::source::{ImageSource, Source};
use crate::stats::{Samples, Summary};
use crate::track::{TrackedPersons, Tracker, TrackerParams};

/// Sets up `env_logger` on stderr: warnings by default, more with `-v`.
pub fn init_logging(verbose: u8) {
    let level = match verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    let _ = env_logger::Builder::from_env(env_logger::Env::default().default_filter_or(level))
        .format_target(false)
        .try_init();
}

/// Runs the parsed command line.
pub fn run(cli: Cli) -> Result<ExitCode> {
    let file = match &cli.global.config {
        Some(p) => FileConfig::load(p)?,
        None => FileConfig::default(),
    };
    let overrides = cli.global.overrides();
    let manifests = cli
        .global
        .manifests
        .iter()
        .map(|p| model::Manifest::load(p))
        .collect::<Result<Vec<_>, _>>()?;
    let load = |settings: &Settings| load(settings, &manifests);
    match cli.command {
        Command::Listen(args) => crate::sink::listen::command(&args),
        Command::Models => {
            let dir = overrides
                .model_dir
                .clone()
                .or(file.model_dir.clone())
                .unwrap_or_else(|| DEFAULT_MODEL_DIR.into());
            models(&dir)
        }
        Command::Probe { video_dir, json } => {
            let selected = crate::board::select(
                overrides.board.as_deref(),
                file.board.as_deref(),
                &crate::board::dt_root(),
            )?;
            let settings = Settings::resolve_with_board(&overrides, &file, selected.clone());
            let report =
                crate::probe::probe(&selected, settings.as_ref().map_err(|e| e.to_string()));
            if json {
                let mut v = serde_json::to_value(&report)?;
                v["video"] = video_json(&video_dir);
                println!("{}", serde_json::to_string_pretty(&v)?);
            } else {
                println!("{}", report.human());
                print_video(&video_dir);
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Infer { inputs, annotate } => {
            let settings = Settings::resolve(&overrides, &file)?;
            let mut source = crate::source::open(&inputs, Duration::ZERO, None)?;
            if source.live() {
                anyhow::bail!("infer reads images and recordings; use `edgepose run --source {}` for a camera", inputs.join(" "));
            }
            let sinks = sinks(annotate.as_deref(), true)?;
            let mut pipeline = load(&settings)?;
            let report = drive(&mut pipeline, source.as_mut(), sinks, &settings)?;
            Ok(if report.errors == 0 {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        Command::Run {
            sources,
            annotate,
            sinks: sink_specs,
            interval_ms,
            quiet,
            no_track,
            tracking,
            sink_queue,
        } => {
            let mut settings = Settings::resolve(&overrides, &file)?;
            if !(interval_ms.is_finite() && interval_ms >= 0.0) {
                anyhow::bail!("--interval-ms {interval_ms}: expected a non-negative number");
            }
            if sink_queue == 0 {
                anyhow::bail!("--sink-queue 0: expected at least 1");
            }
            let params = tracker_params(&settings, &tracking);
            params
                .validate()
                .map_err(|why| anyhow::anyhow!("tracking parameters: {why}"))?;
            let mut tracker = (!no_track).then(|| Box::new(Tracker::new(params)));
            if let Some(t) = &tracker {
                // Low-score detections reach the tracker, which only lets
                // them extend tracks that exist.
                settings.decode.conf_threshold = t.params().low_threshold;
            }
            let stop = Arc::new(AtomicBool::new(false));
            for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
                signal_hook::flag::register(sig, Arc::clone(&stop))
                    .context("cannot install signal handler")?;
            }
            let report_now = Arc::new(AtomicBool::new(false));
            signal_hook::flag::register(signal_hook::consts::SIGUSR1, Arc::clone(&report_now))
                .context("cannot install signal handler")?;
            let mut source = crate::source::open(
                &sources,
                Duration::from_secs_f64(interval_ms / 1e3),
                Some(Arc::clone(&stop)),
            )?;
            if annotate.is_some() && source.live() {
                anyhow::bail!(
                    "--annotate draws on image files; it is not available for a camera source"
                );
            }
            let mut raw_sinks = sinks(annotate.as_deref(), !quiet)?;
            for spec in &sink_specs {
                raw_sinks.push(crate::sink::open(spec).with_context(|| format!("--sink {spec}"))?);
            }
            let mut pipeline = load(&settings)?;
            crate::notify::ready();
            log::info!("source: {}", source.describe());
            let meta = meta(&pipeline, &settings);
            let full = if source.live() {
                crate::sink::queue::Full::DropOldest
            } else {
                crate::sink::queue::Full::Wait
            };
            let mut sinks: Vec<Box<dyn Sink>> = raw_sinks
                .into_iter()
                .map(|s| -> Box<dyn Sink> {
                    if s.wants_pixels() {
                        s
                    } else {
                        Box::new(crate::sink::queue::Queued::new(
                            s,
                            sink_queue,
                            full,
                            meta.clone(),
                        ))
                    }
                })
                .collect();
            let controls = crate::stream::Controls {
                stop: &stop,
                report: Some(&report_now),
            };
            let report = crate::stream::run(
                &mut pipeline,
                source.as_mut(),
                &mut sinks,
                &meta,
                tracker.as_deref_mut(),
                &controls,
            );
            match report {
                Ok(r) => {
                    eprintln!("{}", r.human());
                    Ok(ExitCode::SUCCESS)
                }
                Err(crate::stream::StreamError::Source(e)) => {
                    eprintln!("edgepose: error: {e}");
                    Ok(ExitCode::from(4))
                }
                Err(e) => Err(e.into()),
            }
        }
        Command::Eval {
            annotations,
            images,
            reference,
            min_ap,
            max_ap_drop,
            min_agreement_oks,
            report,
            json,
            agreement_conf,
            worst,
        } => {
            // Evaluation keeps low-score detections, as COCO does.
            let mut o = overrides.clone();
            o.conf_threshold = o.conf_threshold.or(Some(0.001));
            o.max_detections = o.max_detections.or(Some(20));
            let settings = Settings::resolve(&o, &file)?;
            let mut pipeline = load(&settings)?;
            let mut reference_pipeline = match &reference {
                Some(r) => Some(load(&Settings {
                    model: r.clone(),
                    ..settings.clone()
                })?),
                None => None,
            };
            let opts = crate::eval::EvalOptions {
                annotations,
                images,
                agreement_conf,
                worst,
                max_dets: settings.decode.max_detections,
                keypoint_threshold: settings.keypoint_threshold,
            };
            let bar = indicatif::ProgressBar::new(0);
            bar.set_style(
                indicatif::ProgressStyle::with_template(
                    "{msg} [{bar:30}] {pos}/{len} images ({eta})",
                )
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
            );
            bar.set_message("evaluating");
            let result = crate::eval::evaluate(
                &mut pipeline,
                reference_pipeline.as_mut(),
                &opts,
                |done, total| {
                    bar.set_length(total as u64);
                    bar.set_position(done as u64);
                },
            )?;
            bar.finish_and_clear();
            let thresholds = crate::eval::Thresholds {
                min_ap,
                max_ap_drop,
                min_agreement_oks,
            };
            let checks = result.checks(&thresholds);
            let passed = checks.iter().all(|c| c.pass);
            println!("{}", crate::eval::report::table(&result, &checks));
            let rep = crate::eval::report::Report {
                result: &result,
                ap_drop: result.ap_drop(),
                checks: &checks,
                passed,
            };
            if let Some(path) = &json {
                crate::eval::report::write_json(path, &rep)?;
            }
            if let Some(dir) = &report {
                let written =
                    crate::eval::report::write_dir(dir, &rep, &meta(&pipeline, &settings))?;
                eprintln!(
                    "edgepose: report in {}: {} (worst-*.jpg: model left, reference right)",
                    dir.display(),
                    written.join(", ")
                );
            }
            Ok(if passed {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(3)
            })
        }
        Command::Manifest => {
            let settings = Settings::resolve(&overrides, &file)?;
            let model = model::resolve(&settings.model, &settings.model_dir, &manifests)?;
            print!("{}", toml::to_string(&model.manifest)?);
            Ok(ExitCode::SUCCESS)
        }
        Command::CalibInputs {
            sources,
            output,
            max_frames,
        } => {
            let settings = Settings::resolve(&overrides, &file)?;
            let model = model::resolve(&settings.model, &settings.model_dir, &manifests)?;
            let summary = crate::calib::write_inputs(
                &model,
                settings.resize,
                || crate::calib::open_source(&sources),
                &sources.join(" "),
                max_frames,
                &output,
            )?;
            println!("{}", serde_json::to_string_pretty(&summary)?);
            Ok(ExitCode::SUCCESS)
        }
        Command::Bench {
            image,
            iterations,
            warmup,
            json,
        } => {
            let settings = Settings::resolve(&overrides, &file)?;
            let mut source = ImageSource::new(std::slice::from_ref(&image), Duration::ZERO)?;
            let mut pipeline = load(&settings)?;
            let r = bench(&mut pipeline, &mut source, iterations.max(1), warmup)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&r)?);
            } else {
                println!("{}", r.human());
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Resolves the model (built-in manifests plus `manifests`) and loads it
/// on the configured runtime.
pub fn load(settings: &Settings, manifests: &[model::Manifest]) -> Result<Pipeline> {
    let model: ResolvedModel = model::resolve(&settings.model, &settings.model_dir, manifests)?;
    let opts = EngineOptions {
        library: settings.tflite_lib.clone(),
        threads: settings.threads,
        delegate: settings.delegate.clone(),
    };
    let p = Pipeline::new(model, &opts, settings.decode, settings.resize)?;
    let info = p.engine().info();
    log::info!(
        "board {} ({})",
        settings.board.board.name,
        settings.board.reason
    );
    log::info!(
        "model {} on {} ({}, {} threads), loaded in {:.1} ms",
        p.model().manifest.id,
        info.library,
        info.flavour.name(),
        settings.threads,
        info.load_ms
    );
    if info.delegate.fell_back() {
        eprintln!("edgepose: warning: delegate {}", info.delegate.summary());
    } else if settings.delegate.kind.is_some() {
        log::info!("delegate {}", info.delegate.summary());
    }
    log::info!("letterbox resize: {:?}", settings.resize);
    Ok(p)
}

fn sinks(annotate: Option<&std::path::Path>, json: bool) -> Result<Vec<Box<dyn Sink>>> {
    let mut v: Vec<Box<dyn Sink>> = Vec::new();
    if json {
        v.push(Box::new(JsonLines::stdout()));
    }
    if let Some(dir) = annotate {
        v.push(Box::new(Annotator::new(dir)?));
    }
    Ok(v)
}

/// Record metadata for a pipeline.
pub fn meta(pipeline: &Pipeline, settings: &Settings) -> RecordMeta {
    let m = &pipeline.model().manifest;
    RecordMeta {
        model_id: m.id.clone(),
        runtime: pipeline.engine().info().flavour.name().to_string(),
        keypoint_names: m.keypoints.names.clone(),
        skeleton: m.keypoints.skeleton.clone(),
        keypoint_threshold: settings.keypoint_threshold,
    }
}

/// Tracker settings for a run: a person of at least the configured score
/// may start a track; the tracker's own low threshold extends tracks;
/// command-line values replace the defaults.
pub fn tracker_params(settings: &Settings, args: &crate::cli::TrackingArgs) -> TrackerParams {
    let d = TrackerParams::default();
    TrackerParams {
        high_threshold: settings.decode.conf_threshold,
        low_threshold: d.low_threshold.min(settings.decode.conf_threshold),
        keypoint_threshold: settings.keypoint_threshold,
        confirm_frames: args.track_confirm_frames.unwrap_or(d.confirm_frames),
        max_coast_frames: args.track_coast_frames.unwrap_or(d.max_coast_frames),
        max_coast_ms: args.track_coast_ms.unwrap_or(d.max_coast_ms),
        filter: crate::track::OneEuroParams {
            min_cutoff: args.smooth_min_cutoff.unwrap_or(d.filter.min_cutoff),
            beta: args.smooth_beta.unwrap_or(d.filter.beta),
            d_cutoff: args.smooth_d_cutoff.unwrap_or(d.filter.d_cutoff),
        },
        ..d
    }
}

/// Runs `result`'s persons through the tracker and replaces them with the
/// confirmed tracks (smoothed), keeping the raw detections beside them.
pub fn apply_tracking(tracker: &mut Tracker, result: &mut FrameResult, out: &mut TrackedPersons) {
    tracker.update(
        result.timestamp_ms / 1e3,
        &result.persons,
        result.num_keypoints,
        out,
    );
    result.persons.clear();
    result.raw.clear();
    result.tracks.clear();
    for t in out.iter() {
        result.persons.push(t.smoothed);
        result.raw.push(t.raw);
        result.tracks.push(TrackMeta {
            id: t.id,
            age_frames: t.age_frames,
            age_ms: t.age_ms,
        });
    }
    result.tracked = true;
}

/// What a pass over a source did.
#[derive(Debug, Default, Serialize)]
pub struct RunReport {
    pub frames: u64,
    pub tracks_started: u64,
    pub tracks_deleted: u64,
    pub errors: u64,
    pub persons: u64,
    pub wall_s: f64,
    /// Model load and interpreter build, delegate preparation included.
    pub load_ms: f64,
    /// The first invoke (graph compile for delegates that compile lazily);
    /// `invoke` holds the later, steady-state ones.
    pub first_invoke_ms: Option<f64>,
    pub delegate: DelegateStatus,
    pub source: Summary,
    pub preprocess: Summary,
    pub invoke: Summary,
    pub decode: Summary,
    pub pipeline: Summary,
}

impl Default for Summary {
    fn default() -> Self {
        Samples::default().summary()
    }
}

impl RunReport {
    /// Multi-line summary for the terminal.
    pub fn human(&self) -> String {
        let fps = if self.wall_s > 0.0 {
            self.frames as f64 / self.wall_s
        } else {
            0.0
        };
        let mut s = format!(
            "edgepose: {} frames, {} errors, {} persons, {:.1} s, {:.1} frames/s, {} tracks started, {} ended\n{:<12}{:>10}{:>10}\n",
            self.frames,
            self.errors,
            self.persons,
            self.wall_s,
            fps,
            self.tracks_started,
            self.tracks_deleted,
            "stage",
            "median ms",
            "p99 ms"
        );
        for (name, v) in [
            ("source", &self.source),
            ("preprocess", &self.preprocess),
            ("invoke", &self.invoke),
            ("decode", &self.decode),
            ("pipeline", &self.pipeline),
        ] {
            s.push_str(&format!(
                "{name:<12}{:>10.3}{:>10.3}\n",
                v.median_ms, v.p99_ms
            ));
        }
        s.push_str(&format!(
            "engine load {:.1} ms, first invoke {}, steady invoke median {:.3} ms\ndelegate: {}",
            self.load_ms,
            self.first_invoke_ms
                .map_or("-".to_string(), |ms| format!("{ms:.1} ms")),
            self.invoke.median_ms,
            self.delegate.summary()
        ));
        s
    }
}

/// Runs every frame of `source` through the pipeline into the sinks.
/// A frame that cannot be read or decoded is reported on stderr, counted,
/// and skipped; a failing sink or runtime is fatal.
pub fn drive(
    pipeline: &mut Pipeline,
    source: &mut dyn Source,
    mut sinks: Vec<Box<dyn Sink>>,
    settings: &Settings,
) -> Result<RunReport> {
    let meta = meta(pipeline, settings);
    let mut result = FrameResult::default();
    let (mut s_src, mut s_pre, mut s_inv, mut s_dec, mut s_pipe) = (
        Samples::default(),
        Samples::default(),
        Samples::default(),
        Samples::default(),
        Samples::default(),
    );
    let mut report = RunReport::default();
    let start = Instant::now();
    loop {
        let t0 = Instant::now();
        let Some(next) = source.next_frame() else {
            break;
        };
        let frame = match next {
            Ok(f) => f,
            Err(e) if e.is_per_frame() => {
                eprintln!("edgepose: error: {e}");
                report.errors += 1;
                continue;
            }
            Err(e) => return Err(e.into()),
        };
        result.times.source = t0.elapsed().as_secs_f64() * 1e3;
        match pipeline.process(&frame, &mut result) {
            Ok(()) => {}
            Err(e) if e.is_per_frame() => {
                eprintln!("edgepose: error: {e}");
                report.errors += 1;
                continue;
            }
            Err(e) => return Err(e).with_context(|| format!("processing {}", frame.origin)),
        }
        for sink in &mut sinks {
            sink.emit(&frame, &result, &meta)?;
        }
        report.frames += 1;
        report.persons += result.persons.len() as u64;
        s_src.push(result.times.source);
        s_pre.push(result.times.preprocess);
        if report.frames == 1 {
            report.first_invoke_ms = Some(result.times.invoke);
        } else {
            s_inv.push(result.times.invoke);
        }
        s_dec.push(result.times.decode);
        s_pipe.push(result.times.pipeline);
    }
    for sink in &mut sinks {
        sink.flush()?;
        if let Some(line) = sink.summary() {
            eprintln!("edgepose: {line}");
        }
    }
    report.wall_s = start.elapsed().as_secs_f64();
    let info = pipeline.engine().info();
    report.load_ms = info.load_ms;
    report.delegate = info.delegate.clone();
    report.source = s_src.summary();
    report.preprocess = s_pre.summary();
    report.invoke = s_inv.summary();
    report.decode = s_dec.summary();
    report.pipeline = s_pipe.summary();
    Ok(report)
}

fn models(dir: &std::path::Path) -> Result<ExitCode> {
    let status = model::status_all(dir)?;
    let manifests = model::manifest::builtin()?;
    println!(
        "{:<24} {:<46} {:<8} {:<9} {:<18} {:<10} licence",
        "id", "file", "present", "verified", "layout", "input"
    );
    let mut bad = false;
    for (s, m) in status.iter().zip(&manifests) {
        bad |= s.present && !s.verified;
        println!(
            "{:<24} {:<46} {:<8} {:<9} {:<18} {:<10} {}",
            s.id,
            s.file,
            if s.present { "yes" } else { "no" },
            if s.verified { "yes" } else { "no" },
            m.output.layout.name(),
            format!("{}x{} {}", m.input.size[1], m.input.size[0], m.input.dtype),
            m.licence
        );
        if s.present && !s.verified {
            eprintln!("edgepose: warning: {}: {}", s.path, s.detail);
        }
    }
    println!("model directory: {}", dir.display());
    Ok(if bad {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// Stage timings from `edgepose bench`.
#[derive(Debug, Serialize)]
pub struct BenchReport {
    pub model: String,
    pub runtime: String,
    pub library: String,
    pub threads: usize,
    pub image: String,
    pub iterations: usize,
    /// Model load and interpreter build, delegate preparation included.
    pub load_ms: f64,
    /// The very first invoke (a delegate's lazy graph compile shows here).
    pub first_invoke_ms: f64,
    pub delegate: DelegateStatus,
    /// Invoke alone, input already in place.
    pub bare_invoke: Summary,
    /// Pre-process (letterbox + quantize) of the decoded image.
    pub preprocess: Summary,
    /// Decode + NMS + mapping back.
    pub decode: Summary,
    /// Pre-process + invoke + decode, from the decoded image.
    pub end_to_end: Summary,
    /// end_to_end median / bare_invoke median.
    pub ratio_median: f64,
}

impl BenchReport {
    pub fn human(&self) -> String {
        let mut s = format!(
            "model {} on {} ({}), {} threads, {} iterations, image {}\n{:<14}{:>10}{:>10}\n",
            self.model,
            self.runtime,
            self.library,
            self.threads,
            self.iterations,
            self.image,
            "stage",
            "median ms",
            "p99 ms"
        );
        for (n, v) in [
            ("bare invoke", &self.bare_invoke),
            ("preprocess", &self.preprocess),
            ("decode+nms", &self.decode),
            ("end-to-end", &self.end_to_end),
        ] {
            s.push_str(&format!("{n:<14}{:>10.3}{:>10.3}\n", v.median_ms, v.p99_ms));
        }
        s.push_str(&format!(
            "end-to-end / bare invoke (median): {:.3}\nengine load {:.1} ms, first invoke {:.1} ms\ndelegate: {}",
            self.ratio_median,
            self.load_ms,
            self.first_invoke_ms,
            self.delegate.summary()
        ));
        s
    }
}

/// Times the pipeline on one image: bare invoke and end-to-end interleaved,
/// so both see the same machine load.
pub fn bench(
    pipeline: &mut Pipeline,
    source: &mut dyn Source,
    iterations: usize,
    warmup: usize,
) -> Result<BenchReport> {
    let frame = source
        .next_frame()
        .context("the bench image list is empty")??;
    let image = frame.origin.to_string();
    let mut result = FrameResult::default();
    let t = Instant::now();
    pipeline.engine_mut().invoke()?;
    let first_invoke_ms = t.elapsed().as_secs_f64() * 1e3;
    for _ in 0..warmup {
        pipeline.process(&frame, &mut result)?;
    }
    let (mut inv, mut pre, mut dec, mut e2e) = (
        Samples::default(),
        Samples::default(),
        Samples::default(),
        Samples::default(),
    );
    for _ in 0..iterations {
        pipeline.process(&frame, &mut result)?;
        pre.push(result.times.preprocess);
        dec.push(result.times.decode);
        e2e.push(result.times.pipeline);
        let t = Instant::now();
        pipeline.engine_mut().invoke()?;
        inv.push(t.elapsed().as_secs_f64() * 1e3);
    }
    let info = pipeline.engine().info();
    let (bare, end) = (inv.summary(), e2e.summary());
    Ok(BenchReport {
        model: pipeline.model().manifest.id.clone(),
        runtime: info.flavour.name().into(),
        library: info.library.clone(),
        threads: info.threads,
        image,
        iterations,
        load_ms: info.load_ms,
        first_invoke_ms,
        delegate: info.delegate.clone(),
        bare_invoke: bare,
        preprocess: pre.summary(),
        decode: dec.summary(),
        end_to_end: end,
        ratio_median: if bare.median_ms > 0.0 {
            end.median_ms / bare.median_ms
        } else {
            0.0
        },
    })
}

/// The video devices and what they offer, as JSON (for `probe --json`).
fn video_json(video_dir: &std::path::Path) -> serde_json::Value {
    crate::source::v4l2::probe(video_dir)
        .iter()
        .map(|d| match d {
            Ok(i) => serde_json::to_value(i).unwrap_or_default(),
            Err(e) => serde_json::json!({ "error": e }),
        })
        .collect()
}

/// The video devices and what they offer, for `probe`.
fn print_video(video_dir: &std::path::Path) {
    let devices = crate::source::v4l2::probe(video_dir);
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
