//! `edgepose bench`: times each stage on one image or recorded frame
//! (median, p99) and end-to-end against bare invoke, interleaved so both
//! see the same load; then the pipelined throughput: the same frame
//! replayed through `run`'s frame loop ([`crate::stream`], pre-processing
//! on the capture thread overlapped with invoke), as a ratio to the
//! invoke-bound rate 1 / bare invoke.

use std::process::ExitCode;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result};
use serde::Serialize;

use super::Context;
use crate::cli::BenchArgs;
use crate::config::BenchSettings;
use crate::frame::{Frame, FrameResult, PixelFormat, YuvEncoding};
use crate::infer::DelegateStatus;
use crate::pipeline::Pipeline;
use crate::source::{Source, SourceError};
use crate::stats::{stage_table, Samples, Summary};
use crate::stream::{Controls, FrameErrors};

/// Runs `bench`.
pub fn command(ctx: &Context, args: &BenchArgs) -> Result<ExitCode> {
    let settings = ctx.settings()?;
    let bench_settings = BenchSettings::resolve(args)?;
    let spec = bench_settings.image.display().to_string();
    let mut source = crate::source::open(&[spec], Duration::ZERO, None)?;
    let mut pipeline = ctx.load(&settings)?;
    let r = bench(
        &mut pipeline,
        source.as_mut(),
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
    /// Frames per second through `run`'s frame loop (pre-processing
    /// overlapped with invoke), the frame replayed `iterations` times.
    pub pipelined_fps: f64,
    /// pipelined_fps / (1 / bare_invoke median): 1.0 when pre-processing
    /// and decoding are completely hidden behind invoke.
    pub pipelined_ratio: f64,
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
            "end-to-end / bare invoke (median): {:.3}\npipelined: {:.1} frames/s = {:.3} × 1 / bare invoke\nengine load {:.1} ms, first invoke {:.1} ms\ndelegate: {}",
            self.ratio_median,
            self.pipelined_fps,
            self.pipelined_ratio,
            self.load_ms,
            self.first_invoke_ms,
            self.delegate.summary()
        ));
        s
    }
}

/// One frame's bytes, kept to be replayed.
struct Recorded {
    pixels: Vec<u8>,
    format: PixelFormat,
    stride: usize,
    yuv: YuvEncoding,
    width: u32,
    height: u32,
    origin: String,
}

/// A source that yields one recorded frame `left` more times, read
/// losslessly as a recording is.
struct Replay {
    frame: Recorded,
    left: usize,
    seq: u64,
}

impl Source for Replay {
    fn next_frame(&mut self) -> Option<Result<Frame<'_>, SourceError>> {
        self.left = self.left.checked_sub(1)?;
        self.seq += 1;
        let f = &self.frame;
        Some(Ok(Frame {
            pixels: &f.pixels,
            format: f.format,
            stride: f.stride,
            yuv: f.yuv,
            width: f.width,
            height: f.height,
            seq: self.seq,
            timestamp: Duration::ZERO,
            origin: &f.origin,
        }))
    }

    fn describe(&self) -> String {
        format!("{} (replayed)", self.frame.origin)
    }
}

/// Times the pipeline on one frame: bare invoke and end-to-end interleaved,
/// so both see the same machine load; then the frame loop's throughput.
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
    let recorded = Recorded {
        pixels: frame.pixels.to_vec(),
        format: frame.format,
        stride: frame.stride,
        yuv: frame.yuv,
        width: frame.width,
        height: frame.height,
        origin: image.clone(),
    };
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
    let (bare, end) = (inv.summary(), e2e.summary());
    let never = AtomicBool::new(false);
    let controls = Controls {
        stop: &never,
        report: None,
        frame_errors: FrameErrors::Log,
    };
    let meta = pipeline.record_meta(0.5);
    let mut replay = Replay {
        frame: recorded,
        left: iterations,
        seq: 0,
    };
    let run = crate::stream::run(pipeline, &mut replay, &mut [], &meta, None, &controls)?;
    let pipelined_fps = if run.wall_s > 0.0 {
        run.frames as f64 / run.wall_s
    } else {
        0.0
    };
    let info = pipeline.engine().info();
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
        pipelined_fps,
        pipelined_ratio: pipelined_fps * bare.median_ms / 1e3,
    })
}
