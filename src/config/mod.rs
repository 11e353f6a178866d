//! Configuration in two steps, for every command: first the options as
//! written — the config file ([`FileConfig`], serde, unknown fields
//! rejected) and the command line ([`crate::cli`], clap) — then checked
//! into settings, where every number from outside is range-checked and
//! every error is one line naming the option:
//!
//! - [`Settings`] ([`global`]): the options all commands share, merged as
//!   command line > config file > board profile ([`crate::board`]) >
//!   built-in defaults;
//! - [`RunSettings`] ([`run`]): `run`'s sources, sinks, tracking, queue
//!   length and interval, with the board profile's camera as the default
//!   source;
//! - [`EvalSettings`] ([`eval`]), [`BenchSettings`] ([`bench`]) and
//!   [`CalibSettings`] ([`calib`], `calib-inputs`).
//!
//! `infer` and `probe` take only paths besides the global options (each is
//! checked where it is opened), `models` only the model directory
//! ([`model_dir`]) and `manifest` none.

pub mod bench;
pub mod calib;
pub mod eval;
mod file;
pub mod global;
pub mod run;

use std::fmt::Display;
use std::ops::RangeInclusive;

pub use bench::BenchSettings;
pub use calib::CalibSettings;
pub use eval::EvalSettings;
pub use file::{FileConfig, Overrides};
pub use global::{default_library_candidates, model_dir, Settings, DEFAULT_MODEL_DIR};
pub use run::RunSettings;

use crate::board::BoardError;
use crate::eval::EvalError;

/// Errors in configuration.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("config file {path}: {why}")]
    File { path: String, why: String },
    #[error("{name} = {value}: {expected}")]
    Invalid {
        name: &'static str,
        value: String,
        expected: &'static str,
    },
    #[error("{option} {value}: expected {expected}")]
    BadOption {
        option: &'static str,
        value: String,
        expected: &'static str,
    },
    #[error("tracking parameters: {option} {value}: {why}")]
    Tracking {
        option: &'static str,
        value: String,
        why: &'static str,
    },
    #[error("tracking parameters: {0}")]
    TrackerParams(&'static str),
    #[error("no --source given, and board profile {board} ({reason}) names no camera: pass --source with a camera, a recording or images")]
    NoSource { board: String, reason: String },
    #[error("--sink {word}: board profile {board} ({reason}) names no {word}; give the sink in full, e.g. {example}")]
    NoBoardSink {
        word: &'static str,
        board: String,
        reason: String,
        example: &'static str,
    },
    #[error("no TFLite runtime library found: pass --tflite-lib PATH or set EDGEPOSE_TFLITE_LIB (run scripts/setup.sh to fetch one); looked in {looked}")]
    NoLibrary { looked: String },
    #[error(transparent)]
    Board(#[from] BoardError),
    #[error(transparent)]
    Eval(#[from] EvalError),
}

/// `v` when it is finite and in `range`; else an error naming `option`.
/// Values that become a `Duration` are capped here, so the conversion
/// cannot fail.
pub(crate) fn number(
    option: &'static str,
    v: f64,
    range: RangeInclusive<f64>,
    expected: &'static str,
) -> Result<f64, ConfigError> {
    if v.is_finite() && range.contains(&v) {
        Ok(v)
    } else {
        Err(ConfigError::BadOption {
            option,
            value: show(v),
            expected,
        })
    }
}

/// A number as a user would write it: `1e300` rather than 301 digits.
pub(crate) fn show(v: f64) -> String {
    if v != 0.0 && v.is_finite() && !(1e-6..1e16).contains(&v.abs()) {
        format!("{v:e}")
    } else {
        v.to_string()
    }
}

/// `v` when it is in `range`; else an error naming `option`.
pub(crate) fn count<T: PartialOrd + Display>(
    option: &'static str,
    v: T,
    range: RangeInclusive<T>,
    expected: &'static str,
) -> Result<T, ConfigError> {
    if range.contains(&v) {
        Ok(v)
    } else {
        Err(ConfigError::BadOption {
            option,
            value: v.to_string(),
            expected,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_outside_their_range_or_not_finite_name_the_option() {
        assert_eq!(number("--x", 2.5, 0.0..=3.0, "0 to 3").unwrap(), 2.5);
        for bad in [-0.5, 3.5, f64::NAN, f64::INFINITY] {
            let err = number("--x", bad, 0.0..=3.0, "0 to 3").unwrap_err();
            assert_eq!(err.to_string(), format!("--x {bad}: expected 0 to 3"));
        }
        assert_eq!(
            count("--n", 0usize, 1..=9, "1 to 9")
                .unwrap_err()
                .to_string(),
            "--n 0: expected 1 to 9"
        );
        assert_eq!(show(1e300), "1e300");
        assert_eq!(show(-2.5e-9), "-2.5e-9");
        assert_eq!(
            (show(-1.0), show(0.0), show(33.333)),
            ("-1".into(), "0".into(), "33.333".into())
        );
        assert_eq!(count("--n", 9usize, 1..=9, "1 to 9").unwrap(), 9);
    }
}
