//! Support for the fuzz targets in `fuzz_targets/`: the checks both targets
//! run on every decoded frame of the serial wire format (the `edgepose-wire`
//! crate, re-exported here as [`wire`]).
//!
//! The crate is `#![no_std]` like the receivers the format is written for.
#![no_std]

pub use edgepose_wire as wire;

pub mod check;
