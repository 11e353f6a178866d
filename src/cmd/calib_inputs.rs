//! `edgepose calib-inputs`: the model-input tensors of a source's frames,
//! as edgepose's own pre-processing makes them, written to a `.npy` file
//! for a quantizer's calibration (see [`crate::calib`]); prints a JSON
//! summary (frames used, sha256 of the tensors).

use std::process::ExitCode;

use anyhow::Result;

use super::Context;
use crate::cli::CalibInputsArgs;
use crate::config::CalibSettings;
use crate::model;

/// Runs `calib-inputs`.
pub fn command(ctx: &Context, args: &CalibInputsArgs) -> Result<ExitCode> {
    let settings = ctx.settings()?;
    let calib = CalibSettings::resolve(args)?;
    let m = model::resolve(&settings.model, &settings.model_dir, &ctx.manifests)?;
    let summary = crate::calib::write_inputs(
        &m,
        settings.resize,
        || crate::calib::open_source(&calib.sources),
        &calib.sources.join(" "),
        calib.max_frames,
        &calib.output,
    )?;
    println!("{}", serde_json::to_string_pretty(&summary)?);
    Ok(ExitCode::SUCCESS)
}
