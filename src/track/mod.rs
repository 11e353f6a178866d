//! Tracking: the temporal layer between [`crate::decode`] and the sinks.
//!
//! Per frame, [`Tracker::update`] takes the decoded persons (image pixels)
//! and the frame's capture timestamp, associates them with the tracks of
//! earlier frames, and writes for each confirmed track a [`TrackedPerson`]:
//! a stable id, the raw detection and a smoothed copy whose keypoints (and
//! box) went through [One-Euro filters](one_euro).
//!
//! Everything has a fixed capacity ([`MAX_TRACKS`] tracks,
//! [`MAX_DETECTIONS`] detections per frame, `heapless` vectors and arrays
//! inside the [`Tracker`]); an update allocates nothing on the heap. The
//! tracker is 113 KB (`size_of`, x86-64); put it in a `Box` once if the stack is small.
//!
//! How a frame is processed, the life cycle of a track and the reasoning
//! behind the defaults are in the docs of [`tracker`]; one track's prediction
//! and smoothing in `one_track.rs`; the filter and its measured jitter
//! reduction and lag in [`one_euro`].

mod apply;
pub mod one_euro;
mod one_track;
pub mod tracker;

#[cfg(test)]
mod test_support;

pub use apply::apply_tracking;
pub use one_euro::{OneEuroFilter, OneEuroParams};
pub use tracker::Tracker;

use crate::frame::Person;

/// Most tracks alive at once (tentative, confirmed and coasting).
pub const MAX_TRACKS: usize = 32;

/// Most detections considered per frame: those with the highest scores at
/// or above [`TrackerParams::low_threshold`]; the rest are counted in
/// [`FrameStats::dropped_detections`].
pub const MAX_DETECTIONS: usize = 32;

/// Keypoints used for association and smoothing (COCO's 17). Keypoints at
/// higher indices are copied unsmoothed.
pub const TRACK_KEYPOINTS: usize = 17;

/// COCO keypoint sigmas (nose, eyes, ears, shoulders, elbows, wrists, hips,
/// knees, ankles), as in `pycocotools`.
pub const COCO_SIGMAS: [f32; TRACK_KEYPOINTS] = [
    0.026, 0.025, 0.025, 0.035, 0.035, 0.079, 0.079, 0.072, 0.072, 0.062, 0.062, 0.107, 0.107,
    0.087, 0.087, 0.089, 0.089,
];

/// Life-cycle state of a track.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TrackState {
    /// Seen in fewer than [`TrackerParams::confirm_frames`] frames; not
    /// output; deleted the first frame it is not matched.
    Tentative,
    /// Matched this frame (or in its last frame) and confirmed.
    Confirmed,
    /// Confirmed, but not matched in the last `n` frames; predicted at
    /// constant velocity until matched again or deleted.
    Coasting,
}

/// Tracker settings. All thresholds compare with `>=`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TrackerParams {
    /// Detections with a person score at or above this are matched first
    /// and may start tracks. Default 0.5.
    pub high_threshold: f32,
    /// Detections with `low_threshold <= score < high_threshold` may only
    /// extend confirmed or coasting tracks, in a second pass (the ByteTrack
    /// idea: a partly occluded person's score drops, and the track should
    /// follow it without low scores ever creating false tracks). Below it a
    /// detection is ignored. Default 0.2; note the decoder's own
    /// `conf_threshold` (default 0.25) cuts before this.
    pub low_threshold: f32,
    /// A keypoint counts as visible at or above this score: only visible
    /// keypoints enter OKS and update filters. Default 0.5 (as
    /// `--kpt-threshold`).
    pub keypoint_threshold: f32,
    /// Weight `w` of OKS in `similarity = w·OKS + (1−w)·IoU`. When the
    /// prediction and the detection share no visible keypoint the
    /// similarity is the IoU alone. Default 0.5.
    pub oks_weight: f32,
    /// Gate: a pair with a lower similarity is never matched. Default 0.3:
    /// the same person one frame later scores about 0.8–1.0, a neighbour
    /// whose box overlaps by IoU 0.3 about 0.15 (OKS ≈ 0).
    pub min_similarity: f32,
    /// Frames a track must be matched in to be confirmed (and output).
    /// Default 3 (100 ms at 30 fps): a single false detection never shows.
    pub confirm_frames: u32,
    /// A confirmed track unmatched for more consecutive frames than this is
    /// deleted. Default 15 (0.5 s at 30 fps).
    pub max_coast_frames: u32,
    /// A confirmed track whose last match is older than this (ms, by the
    /// capture timestamps) is deleted. Default 700: binds instead of
    /// `max_coast_frames` below ~21 fps, so a slow camera does not keep
    /// ghosts for seconds.
    pub max_coast_ms: f64,
    /// A keypoint not updated for longer than this (s) restarts its filter
    /// (and velocity) from its next position. Default 0.3.
    pub keypoint_gap_s: f64,
    /// A keypoint not updated for more frames than this restarts likewise.
    /// Default 5.
    pub keypoint_gap_frames: u32,
    /// Weight of the newest measurement in the exponential average of the
    /// box and keypoint velocities used for prediction. Default 0.5.
    pub velocity_weight: f32,
    /// One-Euro parameters for keypoint and box coordinates (pixels).
    pub filter: OneEuroParams,
    /// Also output coasting tracks (with their predicted pose). Default
    /// false.
    pub output_coasting: bool,
    /// Per-keypoint OKS sigmas. Default [`COCO_SIGMAS`].
    pub sigmas: [f32; TRACK_KEYPOINTS],
}

impl Default for TrackerParams {
    fn default() -> Self {
        Self {
            high_threshold: 0.5,
            low_threshold: 0.2,
            keypoint_threshold: 0.5,
            oks_weight: 0.5,
            min_similarity: 0.3,
            confirm_frames: 3,
            max_coast_frames: 15,
            max_coast_ms: 700.0,
            keypoint_gap_s: 0.3,
            keypoint_gap_frames: 5,
            velocity_weight: 0.5,
            filter: OneEuroParams::default(),
            output_coasting: false,
            sigmas: COCO_SIGMAS,
        }
    }
}

impl TrackerParams {
    /// The defaults for detections decoded at `conf_threshold` with
    /// keypoints visible from `keypoint_threshold`: a person of at least
    /// the configured score may start a track, and the default
    /// [`low_threshold`](Self::low_threshold) (or the configured score,
    /// when lower) extends tracks. The decoder then has to keep persons
    /// down to `low_threshold`, not `conf_threshold`.
    pub fn for_detections(conf_threshold: f32, keypoint_threshold: f32) -> Self {
        let d = Self::default();
        Self {
            high_threshold: conf_threshold,
            low_threshold: d.low_threshold.min(conf_threshold),
            keypoint_threshold,
            ..d
        }
    }

    /// Checks the ranges: thresholds finite, `low <= high`, weights in
    /// [0, 1], `confirm_frames >= 1`, durations and filter cutoffs > 0.
    pub fn validate(&self) -> Result<(), &'static str> {
        let finite = [
            self.high_threshold,
            self.low_threshold,
            self.keypoint_threshold,
            self.min_similarity,
        ];
        if finite.iter().any(|v| !v.is_finite()) {
            return Err("tracker thresholds must be finite");
        }
        if self.low_threshold > self.high_threshold {
            return Err("tracker low_threshold must not exceed high_threshold");
        }
        if !(0.0..=1.0).contains(&self.oks_weight) || !(0.0..=1.0).contains(&self.velocity_weight) {
            return Err("tracker oks_weight and velocity_weight must be in [0, 1]");
        }
        if self.confirm_frames == 0 {
            return Err("tracker confirm_frames must be at least 1");
        }
        if !(self.max_coast_ms >= 0.0 && self.keypoint_gap_s >= 0.0) {
            return Err("tracker max_coast_ms and keypoint_gap_s must be >= 0");
        }
        let f = &self.filter;
        if !(f.min_cutoff > 0.0 && f.d_cutoff > 0.0 && f.beta >= 0.0) {
            return Err("filter cutoffs must be > 0 and beta >= 0");
        }
        if self.sigmas.iter().any(|s| !s.is_finite() || *s <= 0.0) {
            return Err("OKS sigmas must be > 0");
        }
        Ok(())
    }
}

/// One tracked person in one frame's output.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TrackedPerson {
    /// Track id: starts at 1, increases, never reused by a [`Tracker`]
    /// (not even across [`Tracker::reset`]).
    pub id: u32,
    /// Frames since the track started, counting both ends (1 on its first
    /// frame).
    pub age_frames: u32,
    /// Milliseconds since the track's first frame, by capture timestamps.
    pub age_ms: f64,
    /// [`TrackState::Confirmed`], or [`TrackState::Coasting`] when
    /// [`TrackerParams::output_coasting`] is on.
    pub state: TrackState,
    /// The matched detection as decoded; for a coasting track its
    /// constant-velocity prediction from the last match.
    pub raw: Person,
    /// `raw` with One-Euro filtered keypoint positions (visible keypoints of
    /// the first [`TRACK_KEYPOINTS`]) and a One-Euro filtered box. Person
    /// and keypoint scores, and invisible or extra keypoints, are `raw`'s.
    pub smoothed: Person,
}

/// Fixed-capacity output of one [`Tracker::update`].
pub type TrackedPersons = heapless::Vec<TrackedPerson, MAX_TRACKS>;

/// What one [`Tracker::update`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FrameStats {
    /// Detections matched to tracks (both passes).
    pub matched: u32,
    /// Of those, low-score detections (second pass).
    pub matched_low: u32,
    /// Tracks started.
    pub started: u32,
    /// Tracks deleted.
    pub deleted: u32,
    /// Confirmed tracks not matched this frame (coasting).
    pub coasting: u32,
    /// Detections at or above the low threshold left out: beyond
    /// [`MAX_DETECTIONS`], or high-score ones with no free track slot.
    pub dropped_detections: u32,
}

/// Totals since [`Tracker::new`] or [`Tracker::reset`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TrackerCounters {
    pub frames: u64,
    pub tracks_started: u64,
    pub tracks_deleted: u64,
    pub dropped_detections: u64,
}
