//! The tracker's place in the frame loop: a frame's decoded persons in,
//! the confirmed tracks (smoothed, with ids and ages) out, written back
//! into the same [`FrameResult`] the sinks receive.

use crate::frame::{FrameResult, TrackMeta};

use super::{TrackedPersons, Tracker};

/// Runs `result`'s persons through the tracker and replaces them with the
/// confirmed tracks (smoothed), keeping the raw detections beside them.
/// `out` is the tracker's scratch list, kept by the caller so that nothing
/// is allocated per frame.
pub fn apply_tracking(tracker: &mut Tracker, result: &mut FrameResult, out: &mut TrackedPersons) {
    tracker.update(
        result.timestamp_ms / 1e3,
        &result.persons,
        result.num_keypoints,
        out,
    );
    result.persons.clear();
    result.raw.clear();
    result.tracks.clear();
    for t in out.iter() {
        result.persons.push(t.smoothed);
        result.raw.push(t.raw);
        result.tracks.push(TrackMeta {
            id: t.id,
            age_frames: t.age_frames,
            age_ms: t.age_ms,
        });
    }
    result.tracked = true;
}
