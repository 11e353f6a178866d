//! `edgepose models`: the built-in model manifests and those beside model
//! files in the model directory (the model factory's), and whether each
//! file is present there and matches its checksum; exit code 1 when a
//! present file does not.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Result;

use super::Context;
use crate::model;

/// Runs `models`.
pub fn command(ctx: &Context) -> Result<ExitCode> {
    list(&crate::config::model_dir(&ctx.overrides, &ctx.file))
}

fn list(dir: &Path) -> Result<ExitCode> {
    let status = model::status_all(dir)?;
    println!(
        "{:<24} {:<46} {:<8} {:<9} {:<18} {:<10} licence",
        "id", "file", "present", "verified", "layout", "input"
    );
    let mut bad = false;
    for s in &status {
        let m = &s.manifest;
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
