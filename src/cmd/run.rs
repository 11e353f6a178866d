//! `edgepose run`: a source (camera, recording or images) through the frame
//! loop of [`crate::stream`] into the sinks until the source ends or
//! SIGINT/SIGTERM; tracking on by default; a summary on stderr at the end
//! and on SIGUSR1. Exit code 4 when the source fails for good.

use std::process::ExitCode;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, Result};

use super::Context;
use crate::cli::{RunArgs, TrackingArgs};
use crate::config::Settings;
use crate::sink::queue::{one_queue_each, Full};
use crate::sink::{Annotator, JsonLines, Sink};
use crate::stream::{Controls, FrameErrors, StreamError};
use crate::track::{Tracker, TrackerParams};

/// Runs `run`.
pub fn command(ctx: &Context, args: &RunArgs) -> Result<ExitCode> {
    let mut settings = ctx.settings()?;
    if !(args.interval_ms.is_finite() && args.interval_ms >= 0.0) {
        anyhow::bail!(
            "--interval-ms {}: expected a non-negative number",
            args.interval_ms
        );
    }
    if args.sink_queue == 0 {
        anyhow::bail!("--sink-queue 0: expected at least 1");
    }
    let params = tracker_params(&settings, &args.tracking);
    params
        .validate()
        .map_err(|why| anyhow::anyhow!("tracking parameters: {why}"))?;
    let mut tracker = (!args.no_track).then(|| Box::new(Tracker::new(params)));
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
        &args.sources,
        Duration::from_secs_f64(args.interval_ms / 1e3),
        Some(Arc::clone(&stop)),
    )?;
    if args.annotate.is_some() && source.live() {
        anyhow::bail!("--annotate draws on image files; it is not available for a camera source");
    }
    let mut raw_sinks: Vec<Box<dyn Sink>> = Vec::new();
    if !args.quiet {
        raw_sinks.push(Box::new(JsonLines::stdout()));
    }
    if let Some(dir) = &args.annotate {
        raw_sinks.push(Box::new(Annotator::new(dir)?));
    }
    for spec in &args.sinks {
        raw_sinks.push(crate::sink::open(spec).with_context(|| format!("--sink {spec}"))?);
    }
    let mut pipeline = ctx.load(&settings)?;
    crate::notify::ready();
    log::info!("source: {}", source.describe());
    let meta = pipeline.record_meta(settings.keypoint_threshold);
    let full = if source.live() {
        Full::DropOldest
    } else {
        Full::Wait
    };
    // One bounded queue per sink (serial, MQTT and displays bound their own).
    let mut sinks = one_queue_each(raw_sinks, args.sink_queue, full, &meta);
    let controls = Controls {
        stop: &stop,
        report: Some(&report_now),
        frame_errors: FrameErrors::Log,
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
        Err(StreamError::Source(e)) => {
            eprintln!("edgepose: error: {e}");
            Ok(ExitCode::from(4))
        }
        Err(e) => Err(e.into()),
    }
}

/// Tracker settings for a run: a person of at least the configured score
/// may start a track; the tracker's own low threshold extends tracks;
/// command-line values replace the defaults.
pub fn tracker_params(settings: &Settings, args: &TrackingArgs) -> TrackerParams {
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
