//! `bench`'s settings: the image and the iteration counts, checked.

use std::path::PathBuf;

use super::{count, ConfigError};
use crate::cli::BenchArgs;

/// Most timed or warm-up iterations.
pub const MAX_ITERATIONS: usize = 1_000_000;

/// Checked settings of `bench`.
#[derive(Debug, Clone, PartialEq)]
pub struct BenchSettings {
    pub image: PathBuf,
    /// Timed iterations, at least 1.
    pub iterations: usize,
    /// Untimed warm-up iterations.
    pub warmup: usize,
    /// Print JSON.
    pub json: bool,
}

impl BenchSettings {
    /// Checks `args`.
    pub fn resolve(args: &BenchArgs) -> Result<Self, ConfigError> {
        Ok(Self {
            image: args.image.clone(),
            iterations: count(
                "--iterations",
                args.iterations,
                1..=MAX_ITERATIONS,
                "1 to 1000000",
            )?,
            warmup: count("--warmup", args.warmup, 0..=MAX_ITERATIONS, "0 to 1000000")?,
            json: args.json,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolve(extra: &[&str]) -> Result<BenchSettings, ConfigError> {
        use clap::Parser;
        let argv = ["edgepose", "bench", "bus.jpg"];
        match crate::cli::Cli::try_parse_from(argv.iter().chain(extra).copied())
            .unwrap()
            .command
        {
            crate::cli::Command::Bench(a) => BenchSettings::resolve(&a),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn iteration_counts_are_checked() {
        let s = resolve(&["--iterations", "7", "--warmup", "0"]).unwrap();
        assert_eq!((s.iterations, s.warmup), (7, 0));
        assert_eq!(
            resolve(&["--iterations", "0"]).unwrap_err().to_string(),
            "--iterations 0: expected 1 to 1000000"
        );
        assert!(resolve(&["--warmup", "1000001"])
            .unwrap_err()
            .to_string()
            .starts_with("--warmup 1000001:"));
    }
}
