//! The commands, one file each: [`infer`], [`run`], [`eval`], [`bench`],
//! [`models`], [`manifest`], [`calib_inputs`], [`probe`], [`listen`]. Each
//! turns its arguments into settings, opens what it needs and reports; the
//! work itself lives in the stages below.
//! Errors gain context here (with `anyhow`) and reach `main` as one line.

pub mod bench;
pub mod calib_inputs;
pub mod eval;
pub mod infer;
pub mod listen;
pub mod manifest;
pub mod models;
pub mod probe;
pub mod run;

use std::process::ExitCode;

use anyhow::Result;

use crate::cli::{Cli, Command, Global};
use crate::config::{FileConfig, Overrides, Settings};
use crate::decode::DecodeParams;
use crate::infer::EngineOptions;
use crate::model::{self, Manifest};
use crate::pipeline::Pipeline;

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

/// What every command starts from: the config file as written, the global
/// options over it, and the extra model manifests.
pub struct Context {
    pub file: FileConfig,
    pub overrides: Overrides,
    pub manifests: Vec<Manifest>,
}

impl Context {
    /// Reads the config file and the manifests the global options name.
    pub fn new(global: &Global) -> Result<Self> {
        let file = match &global.config {
            Some(p) => FileConfig::load(p)?,
            None => FileConfig::default(),
        };
        let manifests = global
            .manifests
            .iter()
            .map(|p| Manifest::load(p))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            file,
            overrides: Overrides::from(global),
            manifests,
        })
    }

    /// The validated global settings.
    pub fn settings(&self) -> Result<Settings> {
        Ok(Settings::resolve(&self.overrides, &self.file)?)
    }

    /// Resolves the model of `settings` and loads it (see [`load`]).
    pub fn load(&self, settings: &Settings) -> Result<Pipeline> {
        load(settings, settings.decode, &self.manifests)
    }
}

/// Runs the parsed command line.
pub fn run(cli: Cli) -> Result<ExitCode> {
    let ctx = Context::new(&cli.global)?;
    match cli.command {
        Command::Infer(args) => infer::command(&ctx, &args),
        Command::Run(args) => run::command(&ctx, &args),
        Command::Eval(args) => eval::command(&ctx, &args),
        Command::Bench(args) => bench::command(&ctx, &args),
        Command::Models => models::command(&ctx),
        Command::Manifest => manifest::command(&ctx),
        Command::CalibInputs(args) => calib_inputs::command(&ctx, &args),
        Command::Probe(args) => probe::command(&ctx, &args),
        Command::Listen(args) => listen::command(&args),
    }
}

/// Resolves the model (built-in manifests plus `manifests`) and loads it
/// on the configured runtime, decoding with `decode` (a command may keep
/// more than the global thresholds do).
pub fn load(settings: &Settings, decode: DecodeParams, manifests: &[Manifest]) -> Result<Pipeline> {
    let model = model::resolve(&settings.model, &settings.model_dir, manifests)?;
    let opts = EngineOptions {
        library: settings.tflite_lib.clone(),
        threads: settings.threads,
        delegate: settings.delegate.clone(),
    };
    let p = Pipeline::new(model, &opts, decode, settings.resize)?;
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
