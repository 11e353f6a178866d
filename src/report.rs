//! What a pass of the frame loop did: counts, per-stage latencies, what
//! each sink dropped and the source's and sinks' own summary lines, as one
//! [`RunReport`] for `run` (printed at exit and on SIGUSR1) and `infer`.
//! The frame loop ([`crate::stream`]) fills it; it lives below the sinks so
//! that a sink can be handed one while the run goes on (the web preview's
//! `/stats`, [`crate::sink::Sink::live_report`]).

use serde::Serialize;

use crate::infer::DelegateStatus;
use crate::stats::{stage_table, Summary};

/// What a run did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RunReport {
    pub frames: u64,
    /// Frames prepared but replaced by a newer one before inference.
    pub dropped: u64,
    /// Frames that could not be read or decoded (skipped).
    pub frame_errors: u64,
    pub persons: u64,
    pub tracks_started: u64,
    pub tracks_deleted: u64,
    pub wall_s: f64,
    pub capture_to_output: Summary,
    pub source: Summary,
    pub preprocess: Summary,
    pub invoke: Summary,
    pub decode: Summary,
    pub emit: Summary,
    /// Model load and interpreter build, delegate preparation included.
    pub load_ms: f64,
    /// The first invoke (a delegate's lazy graph compile shows here);
    /// `invoke` holds the later, steady-state ones.
    pub first_invoke_ms: Option<f64>,
    /// What the delegate did.
    pub delegate: DelegateStatus,
    /// Results each sink dropped because it fell behind, in `--sink` order.
    pub sinks: Vec<SinkDrops>,
    /// Summary lines of the source and sinks.
    pub notes: Vec<String>,
}

/// What one sink dropped ([`crate::sink::Sink::dropped`]).
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct SinkDrops {
    pub name: String,
    pub dropped: u64,
}

impl RunReport {
    /// Multi-line summary for the terminal.
    pub fn human(&self) -> String {
        let fps = if self.wall_s > 0.0 {
            self.frames as f64 / self.wall_s
        } else {
            0.0
        };
        let mut s = format!(
            "edgepose: {} frames, {} dropped, {} errors, {} persons, {:.1} s, {:.1} frames/s, {} tracks started, {} ended\n",
            self.frames,
            self.dropped,
            self.frame_errors,
            self.persons,
            self.wall_s,
            fps,
            self.tracks_started,
            self.tracks_deleted,
        );
        s.push_str(&stage_table(&[
            ("capture-to-output", &self.capture_to_output),
            ("source", &self.source),
            ("preprocess", &self.preprocess),
            ("invoke", &self.invoke),
            ("decode", &self.decode),
            ("emit", &self.emit),
        ]));
        s.push_str(&format!(
            "engine load {:.1} ms, first invoke {}, steady invoke median {:.3} ms\nthroughput / (1 / steady invoke median): {:.3}\ndelegate: {}\n",
            self.load_ms,
            self.first_invoke_ms
                .map_or("-".to_string(), |ms| format!("{ms:.1} ms")),
            self.invoke.median_ms,
            fps * self.invoke.median_ms / 1e3,
            self.delegate.summary()
        ));
        for n in &self.notes {
            s.push_str(&format!("edgepose: {n}\n"));
        }
        s.pop();
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_summary_names_every_count_and_stage() {
        let r = RunReport {
            frames: 30,
            dropped: 2,
            frame_errors: 1,
            persons: 45,
            wall_s: 2.0,
            invoke: Summary {
                median_ms: 50.0,
                ..Summary::default()
            },
            notes: vec!["mqtt: 30 sent".into()],
            ..RunReport::default()
        };
        let text = r.human();
        let first = text.lines().next().unwrap();
        assert_eq!(
            first,
            "edgepose: 30 frames, 2 dropped, 1 errors, 45 persons, 2.0 s, 15.0 frames/s, 0 tracks started, 0 ended"
        );
        for stage in [
            "capture-to-output",
            "source",
            "preprocess",
            "invoke",
            "decode",
            "emit",
        ] {
            assert!(
                text.lines().any(|l| l.starts_with(stage)),
                "{stage}: {text}"
            );
        }
        // 15 frames/s against an invoke-bound 20 frames/s.
        assert!(
            text.contains("throughput / (1 / steady invoke median): 0.750"),
            "{text}"
        );
        assert_eq!(text.lines().last(), Some("edgepose: mqtt: 30 sent"));
    }
}
