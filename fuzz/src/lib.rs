//! Support for the fuzz targets in `fuzz_targets/`: the serial sink's wire
//! format module, compiled here straight from the main crate's source
//! (`src/sink/wire.rs`) so the fuzz build needs only that file and its two
//! `no_std` dependencies (`cobs`, `crc`), plus the checks both targets run
//! on every decoded frame.
//!
//! The crate is `#![no_std]` like the receivers the module is written for,
//! so building it is also a check that `wire.rs` needs nothing from `std`.
#![no_std]

#[path = "../../src/sink/wire.rs"]
pub mod wire;

pub mod check;
