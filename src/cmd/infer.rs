//! `edgepose infer`: images or one recording through the frame loop of
//! [`crate::stream`], one JSON line per frame on stdout, annotated images on
//! request. A frame that cannot be read is reported on stderr, counted and
//! skipped; the exit code is 1 when there was one.

use std::process::ExitCode;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use anyhow::Result;

use super::Context;
use crate::cli::InferArgs;
use crate::sink::{JsonLines, Sink};
use crate::stream::{Controls, FrameErrors};

/// Runs `infer`.
pub fn command(ctx: &Context, args: &InferArgs) -> Result<ExitCode> {
    let settings = ctx.settings()?;
    let mut source = crate::source::open(&args.inputs, Duration::ZERO, None)?;
    if source.live() {
        anyhow::bail!(
            "infer reads images and recordings; use `edgepose run --source {}` for a camera",
            args.inputs.join(" ")
        );
    }
    // Outputs are created only once the model has loaded.
    let mut pipeline = ctx.load(&settings)?;
    let mut sinks: Vec<Box<dyn Sink>> = vec![Box::new(JsonLines::stdout())];
    sinks.extend(crate::sink::open_all(&[], args.annotate.as_deref())?);
    let meta = pipeline.record_meta(settings.keypoint_threshold);
    let never = AtomicBool::new(false);
    let controls = Controls {
        stop: &never,
        report: None,
        frame_errors: FrameErrors::Print,
    };
    let report = crate::stream::run(
        &mut pipeline,
        source.as_mut(),
        &mut sinks,
        &meta,
        None,
        &controls,
    )?;
    for note in &report.notes {
        eprintln!("edgepose: {note}");
    }
    Ok(if report.frame_errors == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
