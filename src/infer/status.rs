//! What a delegate or accelerator did, as the runtime tells it: whether it
//! runs part of the model, whether it runs all of it, and where the answer
//! comes from. A runtime that cannot say leaves the answer *unknown*, which
//! is reported as such and never counts as in use (`--require-delegate`
//! fails on it).
//!
//! Where the answers come from, per runtime:
//! - classic TFLite: the execution plan around the delegate's `Prepare`
//!   (node and partition counts, see [`super::delegate::watch`]), or the
//!   runtime's own "Replacing N out of M node(s)" log line; a delegate whose
//!   `Prepare` cannot be watched (one built on the opaque delegate API) on a
//!   runtime that does not log that line leaves both unknown;
//! - LiteRT 2.x: `LiteRtCompiledModelIsNonCpuFullyAccelerated` (GPU/NPU:
//!   did they take every operator) and `LiteRtCompiledModelIsFullyAccelerated`
//!   (XNNPACK, LiteRT's CPU accelerator: is any operator left to the plain
//!   CPU kernels). A "no" from either says nothing about whether the
//!   accelerator took *some* operators, so it leaves "in use" unknown.

use std::collections::BTreeMap;

use serde::{Serialize, Serializer};

use super::{DelegateRequest, InferError};

/// What the delegate did, for logs, summaries and JSON reports.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct DelegateStatus {
    /// What was asked for (`none`, `xnnpack`, `npu`, `gpu`, or the library).
    pub requested: String,
    /// Options handed to it.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub options: BTreeMap<String, String>,
    /// Whether the delegate runs part of the model, as the runtime says;
    /// `None` (JSON `"unknown"`) when the runtime cannot say.
    #[serde(serialize_with = "yes_no_unknown")]
    pub active: Option<bool>,
    /// The delegate's kernel name in the execution plan (e.g.
    /// `TfLiteXNNPackDelegate`, `Teflon Delegate`), or the accelerator name.
    pub name: Option<String>,
    /// Model nodes the delegate replaced.
    pub nodes: Option<usize>,
    /// Nodes in the execution plan before delegation.
    pub total_nodes: Option<usize>,
    /// Delegate partitions (each one node in the final plan).
    pub partitions: Option<usize>,
    /// Where the answer comes from: `execution-plan`, `runtime-log`, or the
    /// LiteRT function asked.
    pub counted_from: Option<&'static str>,
    /// Whether the delegate runs the whole model (no node left to the CPU
    /// kernels); `None` (JSON `"unknown"`) when the runtime cannot say.
    #[serde(serialize_with = "yes_no_unknown")]
    pub fully_accelerated: Option<bool>,
    /// Why the delegate is not in use, or why it is not known to be.
    pub error: Option<String>,
}

/// `true`, `false`, or `"unknown"`.
fn yes_no_unknown<S: Serializer>(v: &Option<bool>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(b) => s.serialize_bool(*b),
        None => s.serialize_str("unknown"),
    }
}

impl DelegateStatus {
    /// The status before anything was tried: not in use.
    pub fn new(req: &DelegateRequest) -> Self {
        Self {
            requested: req.kind.to_string(),
            options: req.options.clone(),
            active: Some(false),
            fully_accelerated: Some(false),
            ..Self::default()
        }
    }

    /// Not in use, because of `why`.
    pub fn not_used(&mut self, why: String) {
        self.active = Some(false);
        self.fully_accelerated = Some(false);
        self.error = Some(why);
    }

    /// Applied, but the runtime cannot say whether it took any node.
    pub fn unknown(&mut self, why: String) {
        self.active = None;
        self.error = Some(why);
    }

    /// Sets the counts, and from them whether the delegate is in use and
    /// runs the whole model.
    pub fn counted(
        &mut self,
        from: &'static str,
        name: Option<String>,
        nodes: usize,
        total: usize,
        partitions: usize,
    ) {
        self.counted_from = Some(from);
        self.name = name;
        self.nodes = Some(nodes);
        self.total_nodes = Some(total);
        self.partitions = Some(partitions);
        if nodes == 0 {
            self.not_used(format!(
                "it took no node of the model (all {total} stay on the CPU)"
            ));
        } else {
            self.active = Some(true);
            self.fully_accelerated = Some(nodes >= total);
            self.error = None;
        }
    }

    /// True when a delegate was asked for and is not known to be in use.
    pub fn fell_back(&self) -> bool {
        self.requested != "none" && self.active != Some(true)
    }

    /// Nodes left to the CPU, when known.
    pub fn cpu_nodes(&self) -> Option<usize> {
        Some(self.total_nodes?.saturating_sub(self.nodes?))
    }

    /// One line for people.
    pub fn summary(&self) -> String {
        if self.requested == "none" {
            return "none (CPU)".into();
        }
        let who = match &self.name {
            Some(n) => format!("{} ({n})", self.requested),
            None => self.requested.clone(),
        };
        let why = self.error.as_deref().unwrap_or("");
        let from = self.counted_from.unwrap_or("?");
        match self.active {
            Some(false) => format!("{} NOT in use, running on the CPU: {why}", self.requested),
            None => format!(
                "{who} in use UNKNOWN: {why}; the model runs, but what runs where is not known"
            ),
            Some(true) => match (self.nodes, self.total_nodes) {
                (Some(n), Some(m)) => format!(
                    "{who} took {n} of {m} nodes in {} partition(s); {} node(s) on the CPU [{from}]",
                    self.partitions.unwrap_or(0),
                    m.saturating_sub(n),
                ),
                _ => format!("{who} runs the whole model [{from}]"),
            },
        }
    }
}

/// With `--require-delegate`: an error unless the runtime says the delegate
/// runs part of the model (unknown is not enough).
pub fn enforce(req: &DelegateRequest, status: &DelegateStatus) -> Result<(), InferError> {
    if !req.require || !req.kind.is_some() || status.active == Some(true) {
        return Ok(());
    }
    Err(InferError::DelegateRequired {
        delegate: status.requested.clone(),
        why: match (status.active, &status.error) {
            (None, Some(e)) => format!("whether it is in use is unknown: {e}"),
            (None, None) => "whether it is in use is unknown".into(),
            (_, Some(e)) => e.clone(),
            (_, None) => "it is not in use".into(),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::infer::DelegateKind;

    fn status() -> DelegateStatus {
        DelegateStatus {
            requested: "libx.so".into(),
            ..DelegateStatus::default()
        }
    }

    fn required() -> DelegateRequest {
        DelegateRequest {
            kind: DelegateKind::External("libx.so".into()),
            require: true,
            ..DelegateRequest::default()
        }
    }

    #[test]
    fn counts_decide_use_and_whole_model() {
        let mut s = status();
        s.counted("execution-plan", Some("X".into()), 11, 296, 11);
        assert_eq!((s.active, s.fully_accelerated), (Some(true), Some(false)));
        assert_eq!(
            s.summary(),
            "libx.so (X) took 11 of 296 nodes in 11 partition(s); 285 node(s) on the CPU [execution-plan]"
        );
        assert!(!s.fell_back());
        assert!(enforce(&required(), &s).is_ok());
        s.counted("execution-plan", Some("X".into()), 296, 296, 1);
        assert_eq!(s.fully_accelerated, Some(true));
        s.counted("execution-plan", Some("X".into()), 0, 296, 0);
        assert_eq!((s.active, s.fully_accelerated), (Some(false), Some(false)));
        assert!(s.fell_back());
        assert!(s.summary().contains("NOT in use"), "{}", s.summary());
        let e = enforce(&required(), &s).unwrap_err().to_string();
        assert!(e.contains("took no node"), "{e}");
    }

    #[test]
    fn unknown_is_reported_and_never_counts_as_in_use() {
        let mut s = status();
        s.name = Some("X".into());
        s.unknown("the runtime does not say".into());
        assert!(s.fell_back());
        assert!(s.summary().contains("in use UNKNOWN"), "{}", s.summary());
        let e = enforce(&required(), &s).unwrap_err().to_string();
        assert!(
            e.contains("is required (--require-delegate) but whether it is in use is unknown"),
            "{e}"
        );
        let json = serde_json::to_value(&s).unwrap();
        assert_eq!(json["active"], "unknown");
        assert_eq!(json["fully_accelerated"], "unknown");
        s.counted("execution-plan", None, 3, 296, 1);
        let json = serde_json::to_value(&s).unwrap();
        assert_eq!(
            (&json["active"], &json["fully_accelerated"]),
            (&true.into(), &false.into())
        );
    }
}
