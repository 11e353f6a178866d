//! `edgepose eval`: COCO keypoint AP against ground truth and/or agreement
//! with a reference model ([`crate::eval`]), a table on stdout, optional JSON
//! and report folder; exit code 3 when a threshold fails.

use std::process::ExitCode;

use anyhow::Result;

use super::Context;
use crate::cli::EvalArgs;
use crate::config::EvalSettings;
use crate::eval::report::{self, Report};

/// Runs `eval`.
pub fn command(ctx: &Context, args: &EvalArgs) -> Result<ExitCode> {
    let settings = EvalSettings::resolve(args, &ctx.overrides, &ctx.file)?;
    let mut pipeline = ctx.load(&settings.model)?;
    let mut reference_pipeline = match &settings.reference {
        Some(r) => Some(ctx.load(r)?),
        None => None,
    };
    let bar = indicatif::ProgressBar::new(0);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{msg} [{bar:30}] {pos}/{len} images ({eta})")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    bar.set_message("evaluating");
    let result = crate::eval::evaluate(
        &mut pipeline,
        reference_pipeline.as_mut(),
        &settings.options,
        |done, total| {
            bar.set_length(total as u64);
            bar.set_position(done as u64);
        },
    )?;
    bar.finish_and_clear();
    let checks = result.checks(&settings.thresholds);
    let passed = checks.iter().all(|c| c.pass);
    println!("{}", report::table(&result, &checks));
    let rep = Report {
        result: &result,
        ap_drop: result.ap_drop(),
        checks: &checks,
        passed,
    };
    if let Some(path) = &settings.json {
        report::write_json(path, &rep)?;
    }
    if let Some(dir) = &settings.report {
        let meta = pipeline.record_meta(settings.model.keypoint_threshold);
        let written = report::write_dir(dir, &rep, &meta)?;
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
