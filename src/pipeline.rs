//! The pose pipeline for one frame: pre-process → invoke → decode + NMS →
//! map back to source coordinates. Owns the engine, the pre-processor and
//! the decoder; every buffer is allocated at construction and reused.

use std::time::Instant;

use crate::decode::{self, DecodeError, DecodeParams, Decoder, Detections, Outputs};
use crate::frame::{Frame, FrameMeta, FrameResult, RecordMeta, StageTimes};
use crate::infer::{self, Engine, EngineOptions, InferError};
use crate::model::{ModelError, ResolvedModel};
use crate::preprocess::{
    InputMap, Letterbox, LetterboxResizer, Preprocess, PreprocessError, ResizeMode,
};
use crate::source::SourceError;

/// Errors of the pipeline, by stage.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error(transparent)]
    Model(#[from] ModelError),
    #[error(transparent)]
    Infer(#[from] InferError),
    #[error(transparent)]
    Decode(#[from] DecodeError),
    #[error(transparent)]
    Preprocess(#[from] PreprocessError),
    #[error(transparent)]
    Source(#[from] SourceError),
}

impl PipelineError {
    /// True when only the current frame is lost.
    pub fn is_per_frame(&self) -> bool {
        match self {
            PipelineError::Preprocess(e) => e.is_per_frame(),
            PipelineError::Source(e) => e.is_per_frame(),
            _ => false,
        }
    }
}

struct EngineOutputs<'a>(&'a dyn Engine);

impl Outputs for EngineOutputs<'_> {
    fn output(&self, index: usize) -> &[u8] {
        self.0.output(index)
    }
}

/// A loaded model with its pre- and post-processing.
pub struct Pipeline {
    engine: Box<dyn Engine>,
    pre: LetterboxResizer,
    decoder: Box<dyn Decoder>,
    raw: Detections,
    model: ResolvedModel,
    pre_config: (u32, u32, u8, InputMap, ResizeMode),
}

fn ms(since: Instant) -> f64 {
    since.elapsed().as_secs_f64() * 1e3
}

impl Pipeline {
    /// Loads `model` on the runtime in `opts`.
    pub fn new(
        model: ResolvedModel,
        opts: &EngineOptions,
        params: DecodeParams,
        resize: ResizeMode,
    ) -> Result<Self, PipelineError> {
        let decoder = decode::for_model(&model.manifest, &model.interface, params)?;
        let engine = infer::open(&model, opts)?;
        let input = &model.interface.inputs[0];
        let [h, w] = model.manifest.input.size;
        let pre_config = (
            w as u32,
            h as u32,
            model.manifest.input.pad_value,
            InputMap::new(input, model.manifest.input.range),
            resize,
        );
        let (pw, ph, pad, map, mode) = pre_config.clone();
        let pre = LetterboxResizer::new(pw, ph, pad, map, mode);
        let k = model.manifest.keypoints.names.len();
        Ok(Self {
            engine,
            pre,
            decoder,
            raw: Detections::with_capacity(params.max_detections, k),
            model,
            pre_config,
        })
    }

    /// The model this pipeline runs.
    pub fn model(&self) -> &ResolvedModel {
        &self.model
    }

    /// What every record of this pipeline's frames carries: the model, the
    /// runtime, the keypoint names and skeleton, and the visibility
    /// threshold of keypoints.
    pub fn record_meta(&self, keypoint_threshold: f32) -> RecordMeta {
        let m = &self.model.manifest;
        RecordMeta {
            model_id: m.id.clone(),
            runtime: self.engine.info().flavour.name().to_string(),
            keypoint_names: m.keypoints.names.clone(),
            skeleton: m.keypoints.skeleton.clone(),
            keypoint_threshold,
        }
    }

    /// The engine (runtime) this pipeline runs on.
    pub fn engine(&self) -> &dyn Engine {
        self.engine.as_ref()
    }

    /// Mutable engine access, for benchmarks of bare invoke.
    pub fn engine_mut(&mut self) -> &mut dyn Engine {
        self.engine.as_mut()
    }

    /// A pre-processor producing this pipeline's input, for a capture
    /// thread that prepares frames while this one runs the model.
    pub fn preparer(&self) -> LetterboxResizer {
        let (w, h, pad, map, mode) = self.pre_config.clone();
        LetterboxResizer::new(w, h, pad, map, mode)
    }

    /// Bytes of the model input.
    pub fn input_len(&mut self) -> usize {
        self.engine.input_mut().len()
    }

    /// Runs one frame into `out` (its person buffer is reused).
    pub fn process(
        &mut self,
        frame: &Frame<'_>,
        out: &mut FrameResult,
    ) -> Result<(), PipelineError> {
        let t0 = Instant::now();
        let lb = self.pre.prepare(frame, self.engine.input_mut())?;
        let preprocess = ms(t0);
        let meta = FrameMeta {
            seq: frame.seq,
            timestamp_ms: frame.timestamp.as_secs_f64() * 1e3,
            preprocess_ms: preprocess,
        };
        self.finish(&lb, &meta, out)
    }

    /// Runs a model input that a [`Pipeline::preparer`] made.
    pub fn process_input(
        &mut self,
        input: &[u8],
        lb: &Letterbox,
        meta: &FrameMeta,
        out: &mut FrameResult,
    ) -> Result<(), PipelineError> {
        let dst = self.engine.input_mut();
        if dst.len() != input.len() {
            return Err(PipelineError::Preprocess(PreprocessError::InputSize {
                expected: dst.len(),
                actual: input.len(),
            }));
        }
        dst.copy_from_slice(input);
        self.finish(lb, meta, out)
    }

    /// Invoke, decode, and map back to source pixels.
    fn finish(
        &mut self,
        lb: &Letterbox,
        meta: &FrameMeta,
        out: &mut FrameResult,
    ) -> Result<(), PipelineError> {
        let t1 = Instant::now();
        self.engine.invoke()?;
        let invoke = ms(t1);
        let t2 = Instant::now();
        self.decoder
            .decode(&EngineOutputs(self.engine.as_ref()), &mut self.raw)?;
        out.persons.clear();
        out.num_keypoints = self.raw.num_keypoints;
        for p in &self.raw.persons {
            let mut q = *p;
            let (x1, y1) = lb.to_source(p.bbox[0], p.bbox[1]);
            let (x2, y2) = lb.to_source(p.bbox[2], p.bbox[3]);
            q.bbox = [x1, y1, x2, y2];
            for kp in q.keypoints.iter_mut().take(self.raw.num_keypoints) {
                (kp.x, kp.y) = lb.to_source(kp.x, kp.y);
            }
            out.persons.push(q);
        }
        let decode = ms(t2);
        out.width = lb.src_w;
        out.height = lb.src_h;
        out.seq = meta.seq;
        out.timestamp_ms = meta.timestamp_ms;
        out.times = StageTimes {
            source: out.times.source,
            preprocess: meta.preprocess_ms,
            invoke,
            decode,
            pipeline: meta.preprocess_ms + invoke + decode,
        };
        Ok(())
    }
}
