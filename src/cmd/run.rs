//! `edgepose run`: a source (camera, recording or images) through the frame
//! loop of [`crate::stream`] into the sinks until the source ends or
//! SIGINT/SIGTERM; tracking on by default; a summary on stderr at the end
//! and on SIGUSR1. Exit code 4 when a source that ran is gone for good (a
//! camera away for longer than `give_up_s`), 1 for any other error.

use std::process::ExitCode;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use anyhow::{Context as _, Result};

use super::Context;
use crate::cli::RunArgs;
use crate::config::RunSettings;
use crate::sink::queue::{one_queue_each, Full};
use crate::sink::{JsonLines, Sink};
use crate::stream::{Controls, FrameErrors, StreamError};
use crate::track::Tracker;

/// Runs `run`.
pub fn command(ctx: &Context, args: &RunArgs) -> Result<ExitCode> {
    let settings = ctx.settings()?;
    let run = RunSettings::resolve(args, &settings)?;
    let mut tracker = run.tracking.map(|p| Box::new(Tracker::new(p)));
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(sig, Arc::clone(&stop))
            .context("cannot install signal handler")?;
    }
    let report_now = Arc::new(AtomicBool::new(false));
    signal_hook::flag::register(signal_hook::consts::SIGUSR1, Arc::clone(&report_now))
        .context("cannot install signal handler")?;
    // A source that is the board's default says so in its errors.
    let from_board = |e: &dyn std::fmt::Display| match &run.source_default {
        Some(why) => format!("{e} (--source: {why})"),
        None => e.to_string(),
    };
    if let Some(why) = &run.source_default {
        log::info!("source: {why}: {}", run.sources[0]);
    }
    let mut source = crate::source::open(&run.sources, run.interval, Some(Arc::clone(&stop)))
        .map_err(|e| anyhow::anyhow!(from_board(&e)))?;
    if run.annotate.is_some() && source.live() {
        anyhow::bail!("--annotate draws on image files; it is not available for a camera source");
    }
    // Outputs are opened only once the model has loaded, and a sink that
    // fails to open takes back what the others created.
    let mut pipeline = super::load(&settings, run.decode, &ctx.manifests)?;
    let mut raw_sinks: Vec<Box<dyn Sink>> = Vec::new();
    if !run.quiet {
        raw_sinks.push(Box::new(JsonLines::stdout()));
    }
    raw_sinks.extend(crate::sink::open_all(&run.sinks, run.annotate.as_deref())?);
    crate::notify::ready();
    log::info!("source: {}", source.describe());
    let meta = pipeline.record_meta(settings.keypoint_threshold);
    let full = if source.live() {
        Full::DropOldest
    } else {
        Full::Wait
    };
    // One bounded queue per sink (serial, MQTT and displays bound their own).
    let mut sinks = one_queue_each(raw_sinks, run.sink_queue, full, &meta);
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
            if let Some(path) = &run.summary_json {
                write_summary(path, &r)
                    .with_context(|| format!("--summary-json {}", path.display()))?;
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(StreamError::Source(e)) if e.is_gone() => {
            // A source lost for good: what it counted up to then.
            if let Some(s) = source.summary() {
                eprintln!("edgepose: {s}");
            }
            eprintln!("edgepose: error: {}", from_board(&e));
            Ok(ExitCode::from(4))
        }
        Err(StreamError::Source(e)) => Err(anyhow::anyhow!(from_board(&e))),
        Err(e) => Err(e.into()),
    }
}

/// Writes the run's summary as JSON: to a temporary name beside `path`,
/// then renamed into place, so a reader never sees half of it.
fn write_summary(path: &std::path::Path, report: &crate::stream::RunReport) -> Result<()> {
    let mut text = serde_json::to_string_pretty(report)?;
    text.push('\n');
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".part");
    let tmp = std::path::PathBuf::from(tmp);
    let written = std::fs::write(&tmp, text).and_then(|()| std::fs::rename(&tmp, path));
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    Ok(written?)
}
