//! `edgepose bench`: times each stage on one image (median, p99) and
//! end-to-end against bare invoke, interleaved so both see the same load.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result};
use serde::Serialize;

use super::Context;
use crate::cli::BenchArgs;
use crate::config::BenchSettings;
use crate::frame::FrameResult;
use crate::infer::DelegateStatus;
use crate::pipeline::Pipeline;
use crate::source::{ImageSource, Source};
use crate::stats::{stage_table, Samples, Summary};

/// Runs `bench`.
pub fn command(ctx: &Context, args: &BenchArgs) -> Result<ExitCode> {
    let settings = ctx.settings()?;
    let bench_settings = BenchSettings::resolve(args)?;
    let mut source = ImageSource::new(std::slice::from_ref(&bench_settings.image), Duration::ZERO)?;
    let mut pipeline = ctx.load(&settings)?;
    let r = bench(
        &mut pipeline,
        &mut source,
        bench_settings.iterations,
        bench_settings.warmup,
    )?;
    if bench_settings.json {
        println!("{}", serde_json::to_string_pretty(&r)?);
    } else {
        println!("{}", r.human());
    }
    Ok(ExitCode::SUCCESS)
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
    /// Multi-line summary for the terminal.
    pub fn human(&self) -> String {
        let mut s = format!(
            "model {} on {} ({}), {} threads, {} iterations, image {}\n",
            self.model, self.runtime, self.library, self.threads, self.iterations, self.image,
        );
        s.push_str(&stage_table(&[
            ("bare invoke", &self.bare_invoke),
            ("preprocess", &self.preprocess),
            ("decode+nms", &self.decode),
            ("end-to-end", &self.end_to_end),
        ]));
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
