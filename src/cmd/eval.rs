//! `edgepose eval`: COCO keypoint AP against ground truth and/or agreement
//! with a reference model ([`crate::eval`]), a table on stdout, optional JSON
//! and report folder; exit code 3 when a threshold fails.

use std::process::ExitCode;

use anyhow::Result;

use super::Context;
use crate::cli::EvalArgs;
use crate::config::Settings;
use crate::eval::report::{self, Report};
use crate::eval::{EvalOptions, Thresholds};

/// Runs `eval`.
pub fn command(ctx: &Context, args: &EvalArgs) -> Result<ExitCode> {
    // Evaluation keeps low-score detections, as COCO does.
    let mut o = ctx.overrides.clone();
    o.conf_threshold = o.conf_threshold.or(Some(0.001));
    o.max_detections = o.max_detections.or(Some(20));
    let settings = Settings::resolve(&o, &ctx.file)?;
    let mut pipeline = ctx.load(&settings)?;
    let mut reference_pipeline = match &args.reference {
        Some(r) => Some(ctx.load(&Settings {
            model: r.clone(),
            ..settings.clone()
        })?),
        None => None,
    };
    let opts = EvalOptions {
        annotations: args.annotations.clone(),
        images: args.images.clone(),
        agreement_conf: args.agreement_conf,
        worst: args.worst,
        max_dets: settings.decode.max_detections,
        keypoint_threshold: settings.keypoint_threshold,
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
        &opts,
        |done, total| {
            bar.set_length(total as u64);
            bar.set_position(done as u64);
        },
    )?;
    bar.finish_and_clear();
    let thresholds = Thresholds {
        min_ap: args.min_ap,
        max_ap_drop: args.max_ap_drop,
        min_agreement_oks: args.min_agreement_oks,
    };
    let checks = result.checks(&thresholds);
    let passed = checks.iter().all(|c| c.pass);
    println!("{}", report::table(&result, &checks));
    let rep = Report {
        result: &result,
        ap_drop: result.ap_drop(),
        checks: &checks,
        passed,
    };
    if let Some(path) = &args.json {
        report::write_json(path, &rep)?;
    }
    if let Some(dir) = &args.report {
        let meta = pipeline.record_meta(settings.keypoint_threshold);
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
