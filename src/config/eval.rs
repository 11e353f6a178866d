//! `eval`'s settings: the model's and the reference's global settings with
//! the evaluation's own defaults (low-score detections kept, as COCO does),
//! what to evaluate, and the pass thresholds, each checked.

use std::path::PathBuf;

use super::{count, number, ConfigError, FileConfig, Overrides, Settings};
use crate::cli::EvalArgs;
use crate::eval::{EvalError, EvalOptions, Thresholds};

/// Score threshold of an evaluation unless one is given (COCO keeps
/// low-score detections).
pub const EVAL_CONF_THRESHOLD: f32 = 0.001;
/// Persons per image of an evaluation unless a number is given (COCO's
/// keypoint evaluation looks at 20).
pub const EVAL_MAX_DETECTIONS: usize = 20;
/// Most worst images drawn in a report.
pub const MAX_WORST: usize = 100;

/// Checked settings of `eval`.
#[derive(Debug, Clone)]
pub struct EvalSettings {
    /// The model under test.
    pub model: Settings,
    /// The reference model, on the same runtime and thresholds.
    pub reference: Option<Settings>,
    pub options: EvalOptions,
    pub thresholds: Thresholds,
    /// Report folder.
    pub report: Option<PathBuf>,
    /// JSON report file.
    pub json: Option<PathBuf>,
}

impl EvalSettings {
    /// Checks `args`; the global settings come from `cli` over `file`,
    /// with the evaluation's score threshold and detection count unless
    /// the command line gives them.
    pub fn resolve(
        args: &EvalArgs,
        cli: &Overrides,
        file: &FileConfig,
    ) -> Result<Self, ConfigError> {
        if args.annotations.is_none() && args.reference.is_none() {
            return Err(EvalError::NothingToDo.into());
        }
        let fraction = |option: &'static str, v: Option<f64>| {
            v.map(|v| number(option, v, 0.0..=1.0, "a number from 0 to 1"))
                .transpose()
        };
        let thresholds = Thresholds {
            min_ap: fraction("--min-ap", args.min_ap)?,
            max_ap_drop: fraction("--max-ap-drop", args.max_ap_drop)?,
            min_agreement_oks: fraction("--min-agreement-oks", args.min_agreement_oks)?,
        };
        let agreement_conf = number(
            "--agreement-conf",
            f64::from(args.agreement_conf),
            0.0..=1.0,
            "a number from 0 to 1",
        )? as f32;
        let worst = count("--worst", args.worst, 0..=MAX_WORST, "0 to 100 images")?;
        // The config file's thresholds are the deployment's; an evaluation
        // takes its own unless the command line gives them.
        let mut o = cli.clone();
        o.conf_threshold = o.conf_threshold.or(Some(EVAL_CONF_THRESHOLD));
        o.max_detections = o.max_detections.or(Some(EVAL_MAX_DETECTIONS));
        let model = Settings::resolve(&o, file)?;
        let reference = args.reference.as_ref().map(|r| Settings {
            model: r.clone(),
            ..model.clone()
        });
        let options = EvalOptions {
            annotations: args.annotations.clone(),
            images: args.images.clone(),
            agreement_conf,
            worst,
            max_dets: model.decode.max_detections,
            keypoint_threshold: model.keypoint_threshold,
        };
        Ok(Self {
            model,
            reference,
            options,
            thresholds,
            report: args.report.clone(),
            json: args.json.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(extra: &[&str]) -> EvalArgs {
        use clap::Parser;
        let argv = ["edgepose", "eval", "--images", "imgs"];
        match crate::cli::Cli::try_parse_from(argv.iter().chain(extra).copied())
            .unwrap()
            .command
        {
            crate::cli::Command::Eval(a) => a,
            other => panic!("{other:?}"),
        }
    }

    fn lib() -> Overrides {
        Overrides {
            tflite_lib: Some("/x/libLiteRt.so".into()),
            ..Overrides::default()
        }
    }

    #[test]
    fn evaluation_keeps_low_scores_unless_the_command_line_says_otherwise() {
        let file: FileConfig =
            toml::from_str("conf_threshold = 0.25\nmax_detections = 5\n").unwrap();
        let s = EvalSettings::resolve(&args(&["--annotations", "a.json"]), &lib(), &file).unwrap();
        assert_eq!(s.model.decode.conf_threshold, EVAL_CONF_THRESHOLD);
        assert_eq!(
            (s.model.decode.max_detections, s.options.max_dets),
            (20, 20)
        );
        assert!(s.reference.is_none());
        let cli = Overrides {
            conf_threshold: Some(0.1),
            ..lib()
        };
        let s = EvalSettings::resolve(&args(&["--reference", "ref.tflite"]), &cli, &file).unwrap();
        assert_eq!(s.model.decode.conf_threshold, 0.1);
        let r = s.reference.unwrap();
        assert_eq!((r.model.as_str(), r.decode), ("ref.tflite", s.model.decode));
    }

    #[test]
    fn nothing_to_evaluate_and_bad_thresholds_are_named_before_anything_loads() {
        let err = |extra: &[&str]| {
            EvalSettings::resolve(&args(extra), &lib(), &FileConfig::default())
                .unwrap_err()
                .to_string()
        };
        assert!(err(&[]).starts_with("nothing to evaluate"), "{}", err(&[]));
        let with = |more: &[&'static str]| {
            let mut v = vec!["--annotations", "a.json"];
            v.extend_from_slice(more);
            err(&v)
        };
        assert_eq!(
            with(&["--min-ap", "1.5"]),
            "--min-ap 1.5: expected a number from 0 to 1"
        );
        assert!(with(&["--max-ap-drop", "NaN"]).starts_with("--max-ap-drop NaN"));
        assert!(with(&["--min-agreement-oks=-0.1"]).starts_with("--min-agreement-oks -0.1"));
        assert!(with(&["--agreement-conf", "2"]).starts_with("--agreement-conf 2"));
        assert_eq!(
            with(&["--worst", "101"]),
            "--worst 101: expected 0 to 100 images"
        );
    }
}
