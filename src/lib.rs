//! edgepose: int8 YOLO-Pose on ARM edge boards.
//!
//! The pipeline is split by stage, each behind one trait:
//! [`source`] (frames) → [`preprocess`] (letterbox + quantize) → [`infer`]
//! (TFLite runtime loaded at run time) → [`decode`] (layouts, NMS) →
//! [`sink`] (JSON lines, annotated images, serial, MQTT, displays), with
//! [`display`] drawing the pictures. [`model`] holds the model
//! contract, [`frame`] the per-frame types every stage shares, [`pipeline`]
//! ties the stages together for one frame, [`stream`] is the frame loop of
//! `run` and `infer` (its [`report`] what a run did), [`cli`] parses the command line and [`config`] checks
//! it and the config file into each command's settings,
//! and [`cmd`] holds the commands. [`files`] reads files from outside
//! with a cap per kind, [`panic`] turns a bug into one line, and
//! [`features`] lists the optional backends (cargo features) and whether
//! this build has each.

pub mod backoff;
pub mod board;
pub mod calib;
pub mod cli;
pub mod cmd;
pub mod config;
pub mod decode;
pub mod display;
pub mod eval;
pub mod features;
pub mod files;
pub mod frame;
pub mod infer;
pub mod model;
pub mod notify;
pub mod panic;
pub mod pipeline;
pub mod preprocess;
pub mod report;
pub mod sink;
pub mod source;
pub mod spec;
pub mod stats;
pub mod stream;
pub mod track;
