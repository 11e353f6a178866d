//! `edgepose manifest`: the manifest edgepose uses for `--model` (given with
//! `--manifest`, beside the file, built in, or inferred from the model's
//! outputs), printed as TOML — a starting point for a model edgepose does
//! not ship, and what the model factory builds a new model's manifest from.

use std::process::ExitCode;

use anyhow::Result;

use super::Context;
use crate::model;

/// Runs `manifest`.
pub fn command(ctx: &Context) -> Result<ExitCode> {
    let settings = ctx.settings()?;
    let m = model::resolve(&settings.model, &settings.model_dir, &ctx.manifests)?;
    print!("{}", toml::to_string(&m.manifest)?);
    Ok(ExitCode::SUCCESS)
}
