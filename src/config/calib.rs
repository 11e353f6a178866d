//! `calib-inputs`' settings: the source, the output file and the frame
//! count, checked.

use std::path::PathBuf;

use super::{count, ConfigError};
use crate::cli::CalibInputsArgs;

/// Most calibration frames written (at 640×640 float32, 4.7 MB each).
pub const MAX_FRAMES: usize = 100_000;

/// Checked settings of `calib-inputs`.
#[derive(Debug, Clone, PartialEq)]
pub struct CalibSettings {
    pub sources: Vec<String>,
    /// The `.npy` file to write.
    pub output: PathBuf,
    /// Most frames written, at least 1.
    pub max_frames: usize,
}

impl CalibSettings {
    /// Checks `args`.
    pub fn resolve(args: &CalibInputsArgs) -> Result<Self, ConfigError> {
        if args.output.extension().is_none_or(|e| e != "npy") {
            return Err(ConfigError::BadOption {
                option: "--output",
                value: args.output.display().to_string(),
                expected: "a .npy file name",
            });
        }
        Ok(Self {
            sources: args.sources.clone(),
            output: args.output.clone(),
            max_frames: count(
                "--max-frames",
                args.max_frames,
                1..=MAX_FRAMES,
                "1 to 100000",
            )?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolve(extra: &[&str]) -> Result<CalibSettings, ConfigError> {
        use clap::Parser;
        let argv = ["edgepose", "calib-inputs", "--source", "imgs"];
        match crate::cli::Cli::try_parse_from(argv.iter().chain(extra).copied())
            .unwrap()
            .command
        {
            crate::cli::Command::CalibInputs(a) => CalibSettings::resolve(&a),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn frame_count_and_output_name_are_checked() {
        let s = resolve(&["--output", "c.npy", "--max-frames", "8"]).unwrap();
        assert_eq!((s.max_frames, s.sources.len()), (8, 1));
        assert_eq!(
            resolve(&["--output", "c.npy", "--max-frames", "0"])
                .unwrap_err()
                .to_string(),
            "--max-frames 0: expected 1 to 100000"
        );
        assert_eq!(
            resolve(&["--output", "c.bin"]).unwrap_err().to_string(),
            "--output c.bin: expected a .npy file name"
        );
    }
}
