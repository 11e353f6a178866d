//! Multi-person tracker: association and the tracks' life cycle. One
//! track's state, prediction, similarity and smoothing are in `one_track.rs`.
//!
//! # One frame ([`Tracker::update`])
//!
//! 1. **Detections.** Persons with a score at or above
//!    [`low_threshold`](TrackerParams::low_threshold) are taken, at most
//!    [`MAX_DETECTIONS`] of them (the highest scores), in order of
//!    decreasing score.
//! 2. **Prediction.** Every track is predicted to the frame's timestamp at
//!    constant velocity: box corners and each keypoint move by their
//!    velocity × `dt`, where `dt` is the time since that box or keypoint was
//!    last seen (so dropped frames and irregular intervals are handled by
//!    the capture timestamps, not by counting frames). Velocities are
//!    exponential averages ([`velocity_weight`](TrackerParams::velocity_weight))
//!    of the finite differences between matches; a keypoint with no history
//!    moves with the box centre.
//! 3. **Similarity** between a prediction and a detection:
//!    `w·OKS + (1−w)·IoU` ([`oks_weight`](TrackerParams::oks_weight)).
//!    OKS is COCO's, `mean exp(−d²/(2·s·(2σ)²))` over the keypoints visible
//!    in both (the track's keypoint seen within the keypoint gap, the
//!    detection's at or above [`keypoint_threshold`](TrackerParams::keypoint_threshold)),
//!    with `s` the predicted box area; with no such keypoint the
//!    similarity is the IoU. Pairs below
//!    [`min_similarity`](TrackerParams::min_similarity) are never matched.
//! 4. **Matching, two passes (ByteTrack).** First the high-score detections
//!    against all tracks; then the low-score detections against the
//!    remaining confirmed and coasting tracks (not tentative ones: a track
//!    must be confirmed by high-score detections only).
//! 5. **Life cycle.** A matched track takes the detection, updates its
//!    velocities and filters, and counts a hit; after
//!    [`confirm_frames`](TrackerParams::confirm_frames) hits it is
//!    confirmed, and a coasting track that is matched is confirmed again.
//!    An unmatched tentative track is deleted; an unmatched confirmed track
//!    coasts, and is deleted once unmatched for more than
//!    [`max_coast_frames`](TrackerParams::max_coast_frames) frames or more
//!    than [`max_coast_ms`](TrackerParams::max_coast_ms) since its last
//!    match. Then each unmatched high-score detection starts a tentative
//!    track, while a slot is free. Ids are `u32` from 1, increasing, never
//!    reused.
//! 6. **Output**, in increasing id order: every confirmed track matched
//!    this frame, and coasting tracks with their prediction if
//!    [`output_coasting`](TrackerParams::output_coasting) is set.
//!
//! # Greedy assignment
//!
//! Matching takes the pairs above the gate in order of decreasing
//! similarity and accepts a pair when neither side is taken yet. With a few
//! persons per frame and a gate, the similarity matrix nearly always has one
//! clear best partner per row and column (a track's own detection scores
//! ~0.8–1.0, any other at most a few tenths), and then greedy gives exactly
//! the optimal (Hungarian) assignment. It can differ when one track's best
//! detection is also the best of a second track whose own second choice is
//! much worse, e.g. two same-sized people fully overlapping at the moment
//! they cross: greedy gives the contested detection to the higher
//! similarity, Hungarian maximises the sum. In that case the velocity
//! prediction is what separates the two, and it is the same for both
//! solvers. Greedy costs O(p log p) for p gated pairs (≤ 32×32), needs only
//! fixed stack arrays, and its result is easy to reason about; Hungarian is
//! O(n³) with work matrices.
//!
//! # Memory
//!
//! Tracks live in a `heapless::Vec<_, MAX_TRACKS>` inside the tracker and
//! are removed with `retain`; per-frame work uses fixed-size stack arrays
//! (predictions, a 32×32 similarity matrix, ≤ 1024 candidate pairs sorted
//! with the in-place `sort_unstable_by`), and the output is the caller's
//! [`TrackedPersons`]. Nothing is allocated on the heap after
//! [`Tracker::new`] — `new` itself allocates nothing either.

use super::one_track::{passes, similarity, Track, K};
use super::{
    FrameStats, TrackState, TrackedPerson, TrackedPersons, TrackerCounters, TrackerParams,
    MAX_DETECTIONS, MAX_TRACKS,
};
use crate::frame::{Person, MAX_KEYPOINTS};

/// Multi-person tracker; see the module docs.
#[derive(Debug, Clone)]
pub struct Tracker {
    params: TrackerParams,
    tracks: heapless::Vec<Track, MAX_TRACKS>,
    next_id: u32,
    frame: u64,
    counters: TrackerCounters,
}

impl Tracker {
    /// An empty tracker. `params` should pass [`TrackerParams::validate`].
    pub fn new(params: TrackerParams) -> Self {
        Self {
            params,
            tracks: heapless::Vec::new(),
            next_id: 1,
            frame: 0,
            counters: TrackerCounters::default(),
        }
    }

    /// The parameters.
    pub fn params(&self) -> &TrackerParams {
        &self.params
    }

    /// Totals since `new` or the last `reset`.
    pub fn counters(&self) -> TrackerCounters {
        self.counters
    }

    /// Tracks alive now (any state).
    pub fn num_tracks(&self) -> usize {
        self.tracks.len()
    }

    /// Drops all tracks and zeroes the counters. Ids keep increasing, so an
    /// id is never reused by this tracker.
    pub fn reset(&mut self) {
        self.tracks.clear();
        self.frame = 0;
        self.counters = TrackerCounters::default();
    }

    /// The box of track `id` predicted at constant velocity to
    /// `timestamp_s`, if the track exists.
    pub fn predict_bbox(&self, id: u32, timestamp_s: f64) -> Option<[f32; 4]> {
        let t = self.tracks.iter().find(|t| t.id == id)?;
        Some(t.predict(timestamp_s, self.frame, 0, &self.params).bbox)
    }

    /// Processes one frame: `persons` (image pixels; the first
    /// `num_keypoints` keypoints of each are used, at most
    /// [`MAX_KEYPOINTS`], of which the first [`TRACK_KEYPOINTS`] are
    /// tracked) taken at capture time `timestamp_s` (seconds). `out` is
    /// cleared and filled with this frame's tracked persons.
    ///
    /// Timestamps should increase; a timestamp not after the previous one
    /// is handled as `dt = 0` (no motion, filters unchanged).
    pub fn update(
        &mut self,
        timestamp_s: f64,
        persons: &[Person],
        num_keypoints: usize,
        out: &mut TrackedPersons,
    ) -> FrameStats {
        let t = timestamp_s;
        let p = self.params;
        let n = num_keypoints.min(MAX_KEYPOINTS);
        let nk = n.min(K);
        self.frame += 1;
        let frame = self.frame;
        out.clear();
        let mut stats = FrameStats::default();

        // 1. Detections: indices of the best MAX_DETECTIONS at or above low.
        let mut dets: heapless::Vec<u16, MAX_DETECTIONS> = heapless::Vec::new();
        for (i, person) in persons.iter().enumerate() {
            if !passes(person.score, p.low_threshold) {
                continue;
            }
            if dets.push(i as u16).is_err() {
                stats.dropped_detections += 1;
                let (worst, worst_score) = dets
                    .iter()
                    .enumerate()
                    .map(|(k, &d)| (k, persons[d as usize].score))
                    .fold((0, f32::INFINITY), |a, b| if b.1 < a.1 { b } else { a });
                if person.score > worst_score {
                    dets[worst] = i as u16;
                }
            }
        }
        dets.sort_unstable_by(|&a, &b| {
            persons[b as usize]
                .score
                .total_cmp(&persons[a as usize].score)
                .then(a.cmp(&b))
        });
        let is_high = |d: usize| persons[dets[d] as usize].score >= p.high_threshold;

        // 2-3. Predictions and similarities.
        let mut sim = [[0.0f32; MAX_DETECTIONS]; MAX_TRACKS];
        for (ti, track) in self.tracks.iter_mut().enumerate() {
            track.matched_now = false;
            let pred = track.predict(t, frame, nk, &p);
            for (di, &d) in dets.iter().enumerate() {
                sim[ti][di] = similarity(&pred, &persons[d as usize], nk, &p);
            }
        }

        // 4. Two greedy passes.
        let mut det_track = [None::<u8>; MAX_DETECTIONS];
        let mut track_taken = [false; MAX_TRACKS];
        let mut pairs: heapless::Vec<(f32, u8, u8), { MAX_TRACKS * MAX_DETECTIONS }> =
            heapless::Vec::new();
        for high_pass in [true, false] {
            pairs.clear();
            for (ti, track) in self.tracks.iter().enumerate() {
                if track_taken[ti] || (!high_pass && track.state == TrackState::Tentative) {
                    continue;
                }
                for (di, &similarity) in sim[ti][..dets.len()].iter().enumerate() {
                    if is_high(di) == high_pass && similarity >= p.min_similarity {
                        // Cannot overflow: at most MAX_TRACKS × MAX_DETECTIONS pairs.
                        let _ = pairs.push((similarity, ti as u8, di as u8));
                    }
                }
            }
            pairs.sort_unstable_by(|a, b| b.0.total_cmp(&a.0).then((a.1, a.2).cmp(&(b.1, b.2))));
            for &(_, ti, di) in pairs.iter() {
                if !track_taken[ti as usize] && det_track[di as usize].is_none() {
                    track_taken[ti as usize] = true;
                    det_track[di as usize] = Some(ti);
                    stats.matched += 1;
                    stats.matched_low += u32::from(!high_pass);
                }
            }
        }

        // 5. Update matched tracks, age and delete unmatched ones.
        for (di, &d) in dets.iter().enumerate() {
            if let Some(ti) = det_track[di] {
                self.tracks[ti as usize].apply(t, frame, &persons[d as usize], n, &p);
            }
        }
        let mut deleted = 0u32;
        let mut coasting = 0u32;
        self.tracks.retain_mut(|track| {
            if track.matched_now {
                return true;
            }
            if track.state == TrackState::Tentative {
                deleted += 1;
                return false;
            }
            track.misses += 1;
            track.state = TrackState::Coasting;
            let stale_ms = (t - track.last_t) * 1000.0;
            if track.misses > p.max_coast_frames || stale_ms > p.max_coast_ms {
                deleted += 1;
                return false;
            }
            coasting += 1;
            true
        });
        stats.deleted = deleted;
        stats.coasting = coasting;
        for (di, &d) in dets.iter().enumerate() {
            if det_track[di].is_some() || !is_high(di) {
                continue;
            }
            if self.tracks.is_full() {
                stats.dropped_detections += 1;
                continue;
            }
            let track = Track::start(self.next_id, t, frame, &persons[d as usize], n, &p);
            self.next_id = self.next_id.wrapping_add(1).max(1);
            let _ = self.tracks.push(track);
            stats.started += 1;
        }

        // 6. Output (tracks are in increasing id order: appended with
        // increasing ids, removed with an order-keeping retain).
        for track in self.tracks.iter() {
            let tracked = match track.state {
                TrackState::Confirmed if track.matched_now => TrackedPerson {
                    id: track.id,
                    age_frames: 0,
                    age_ms: 0.0,
                    state: TrackState::Confirmed,
                    raw: track.raw,
                    smoothed: track.smoothed,
                },
                TrackState::Coasting if p.output_coasting => {
                    let (raw, smoothed) = track.predicted_persons(t, frame, n, &p);
                    TrackedPerson {
                        id: track.id,
                        age_frames: 0,
                        age_ms: 0.0,
                        state: TrackState::Coasting,
                        raw,
                        smoothed,
                    }
                }
                _ => continue,
            };
            let _ = out.push(TrackedPerson {
                age_frames: (frame - track.first_frame + 1).min(u32::MAX as u64) as u32,
                age_ms: (t - track.first_t).max(0.0) * 1000.0,
                ..tracked
            });
        }

        self.counters.frames += 1;
        self.counters.tracks_started += u64::from(stats.started);
        self.counters.tracks_deleted += u64::from(stats.deleted);
        self.counters.dropped_detections += u64::from(stats.dropped_detections);
        stats
    }
}

#[cfg(test)]
mod tests {
    use super::super::one_track::iou;
    use super::*;
    use crate::track::test_support::{noisy, person, Gauss, FPS};

    /// The id of the output whose raw detection is `det`.
    fn id_of(out: &TrackedPersons, det: &Person) -> Option<u32> {
        out.iter()
            .find(|tp| tp.raw.bbox == det.bbox)
            .map(|tp| tp.id)
    }

    /// A still person seen at 30 fps for `before` frames, missed for `gap`
    /// frames, then seen again: (id before, id after).
    fn occlusion(fps: f64, before: usize, gap: usize) -> (u32, u32) {
        let mut tr = Tracker::new(TrackerParams::default());
        let mut out = TrackedPersons::new();
        let det = person(200.0, 200.0, 80.0, 200.0, 0.9);
        for i in 0..before {
            tr.update(i as f64 / fps, &[det], K, &mut out);
        }
        let first = out[0].id;
        for i in before..before + gap {
            tr.update(i as f64 / fps, &[], K, &mut out);
        }
        tr.update((before + gap) as f64 / fps, &[det], K, &mut out);
        tr.update((before + gap + 1) as f64 / fps, &[det], K, &mut out);
        tr.update((before + gap + 2) as f64 / fps, &[det], K, &mut out);
        (first, out[0].id)
    }

    #[test]
    fn default_params_are_valid() {
        assert_eq!(TrackerParams::default().validate(), Ok(()));
        let bad = TrackerParams {
            low_threshold: 0.6,
            ..TrackerParams::default()
        };
        assert!(bad.validate().is_err());
    }

    #[test]
    fn confirmation_after_three_frames_and_age() {
        let mut tr = Tracker::new(TrackerParams::default());
        let mut out = TrackedPersons::new();
        let det = person(100.0, 100.0, 50.0, 120.0, 0.9);
        for i in 0..2 {
            let s = tr.update(i as f64 / FPS, &[det], K, &mut out);
            assert!(out.is_empty());
            assert_eq!(s.started, u32::from(i == 0));
        }
        tr.update(2.0 / FPS, &[det], K, &mut out);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].id, 1);
        assert_eq!(out[0].state, TrackState::Confirmed);
        assert_eq!(out[0].age_frames, 3);
        assert!((out[0].age_ms - 2000.0 / FPS).abs() < 1e-9);
        assert_eq!(out[0].raw, det);
        // A still, noise-free person: smoothed equals raw.
        assert_eq!(out[0].smoothed, det);
    }

    #[test]
    fn crossing_persons_keep_their_ids() {
        for occlude_b in [false, true] {
            let mut g = Gauss::new(11);
            let mut tr = Tracker::new(TrackerParams::default());
            let mut out = TrackedPersons::new();
            let (mut id_a, mut id_b) = (None, None);
            let mut max_iou = 0.0f32;
            for i in 0..90 {
                let f = i as f32 / 89.0;
                let a = noisy(
                    person(100.0 + 400.0 * f, 240.0, 80.0, 200.0, 0.9),
                    &mut g,
                    2.0,
                );
                let b = noisy(
                    person(500.0 - 400.0 * f, 255.0, 90.0, 210.0, 0.85),
                    &mut g,
                    2.0,
                );
                max_iou = max_iou.max(iou(&a.bbox, &b.bbox));
                // B walks behind A around the crossing (frames 40..50).
                let hidden = occlude_b && (40..50).contains(&i);
                let dets: &[Person] = if hidden { &[a] } else { &[b, a] };
                tr.update(i as f64 / FPS, dets, K, &mut out);
                if i < 2 {
                    assert!(out.is_empty());
                    continue;
                }
                let got_a = id_of(&out, &a).expect("A tracked");
                assert_eq!(*id_a.get_or_insert(got_a), got_a, "A's id at frame {i}");
                if !hidden {
                    let got_b = id_of(&out, &b).expect("B tracked");
                    assert_eq!(*id_b.get_or_insert(got_b), got_b, "B's id at frame {i}");
                }
            }
            assert!(max_iou > 0.7, "boxes overlap at the crossing: {max_iou}");
            assert_ne!(id_a, id_b);
            assert_eq!(tr.counters().tracks_started, 2);
            assert_eq!(tr.counters().tracks_deleted, 0);
        }
    }

    #[test]
    fn occlusion_up_to_max_coast_frames_keeps_the_id() {
        // 30 fps: max_coast_frames (15) binds before 700 ms.
        let (before, after) = occlusion(30.0, 5, 15);
        assert_eq!(before, after);
        let (before, after) = occlusion(30.0, 5, 10);
        assert_eq!(before, after);
        let (before, after) = occlusion(30.0, 5, 16);
        assert!(after > before);
        // 15 fps: 700 ms binds first (10 frames = 667 ms, 11 = 733 ms).
        let (before, after) = occlusion(15.0, 5, 10);
        assert_eq!(before, after);
        let (before, after) = occlusion(15.0, 5, 11);
        assert!(after > before);
    }

    #[test]
    fn one_missed_detection_coasts_and_does_not_end_the_track() {
        for output_coasting in [false, true] {
            let params = TrackerParams {
                output_coasting,
                ..TrackerParams::default()
            };
            let mut tr = Tracker::new(params);
            let mut out = TrackedPersons::new();
            // Moving right at 150 px/s.
            let at = |i: usize| person(100.0 + 5.0 * i as f32, 200.0, 80.0, 200.0, 0.9);
            for i in 0..5 {
                tr.update(i as f64 / FPS, &[at(i)], K, &mut out);
            }
            let id = out[0].id;
            let s = tr.update(5.0 / FPS, &[], K, &mut out);
            assert_eq!(s.coasting, 1);
            if output_coasting {
                assert_eq!(out.len(), 1);
                assert_eq!(out[0].state, TrackState::Coasting);
                // The raw box is the constant-velocity prediction.
                for c in 0..4 {
                    assert!((out[0].raw.bbox[c] - at(5).bbox[c]).abs() < 0.01);
                }
            } else {
                assert!(out.is_empty());
            }
            tr.update(6.0 / FPS, &[at(6)], K, &mut out);
            assert_eq!(out.len(), 1);
            assert_eq!(out[0].id, id);
            assert_eq!(out[0].state, TrackState::Confirmed);
            assert_eq!(out[0].age_frames, 7);
        }
    }

    #[test]
    fn low_score_detections_extend_but_never_start_tracks() {
        let mut tr = Tracker::new(TrackerParams::default());
        let mut out = TrackedPersons::new();
        let low = person(300.0, 200.0, 80.0, 200.0, 0.3);
        for i in 0..20 {
            tr.update(i as f64 / FPS, &[low], K, &mut out);
            assert!(out.is_empty());
        }
        assert_eq!(tr.num_tracks(), 0);
        assert_eq!(tr.counters().tracks_started, 0);

        // A high-score track, then the person's score drops (occlusion):
        // the track follows it; a low-score stranger starts nothing.
        let high = person(100.0, 200.0, 80.0, 200.0, 0.9);
        for i in 20..25 {
            tr.update(i as f64 / FPS, &[high], K, &mut out);
        }
        let id = out[0].id;
        let dropped = Person { score: 0.3, ..high };
        for i in 25..45 {
            let s = tr.update(i as f64 / FPS, &[dropped, low], K, &mut out);
            assert_eq!((s.matched, s.matched_low, s.started), (1, 1, 0));
            assert_eq!(out.len(), 1);
            assert_eq!(out[0].id, id);
        }
        assert_eq!(tr.num_tracks(), 1);

        // A tentative track is not kept alive by a low-score detection.
        let other = person(500.0, 200.0, 80.0, 200.0, 0.9);
        tr.update(45.0 / FPS, &[high, other], K, &mut out);
        assert_eq!(tr.num_tracks(), 2);
        let s = tr.update(
            46.0 / FPS,
            &[
                high,
                Person {
                    score: 0.3,
                    ..other
                },
            ],
            K,
            &mut out,
        );
        assert_eq!(s.deleted, 1);
        assert_eq!(tr.num_tracks(), 1);
    }

    #[test]
    fn ids_are_never_reused() {
        let mut tr = Tracker::new(TrackerParams::default());
        let mut out = TrackedPersons::new();
        let mut ids = Vec::new();
        let mut t = 0.0;
        for cycle in 0..6 {
            if cycle == 3 {
                tr.reset();
            }
            let det = person(200.0, 200.0, 80.0, 200.0, 0.9);
            for _ in 0..5 {
                tr.update(t, &[det], K, &mut out);
                t += 1.0 / FPS;
            }
            ids.push(out[0].id);
            for _ in 0..20 {
                tr.update(t, &[], K, &mut out);
                t += 1.0 / FPS;
            }
            assert_eq!(tr.num_tracks(), 0);
        }
        assert!(ids.windows(2).all(|w| w[1] > w[0]), "{ids:?}");
        assert_eq!(ids, [1, 2, 3, 4, 5, 6]);
    }

    #[test]
    fn fixed_capacity_and_no_growth_over_100_frames() {
        let mut g = Gauss::new(9);
        let mut tr = Tracker::new(TrackerParams::default());
        let mut out = TrackedPersons::new();
        let size = std::mem::size_of::<Tracker>();
        eprintln!("size_of::<Tracker>() = {size} bytes");
        // 40 persons in a grid: more than MAX_TRACKS.
        let crowd: Vec<Person> = (0..40)
            .map(|k| {
                let score = 0.6 + 0.005 * k as f32;
                person(
                    60.0 + 100.0 * (k % 8) as f32,
                    150.0 + 250.0 * (k / 8) as f32,
                    60.0,
                    200.0,
                    score,
                )
            })
            .collect();
        let mut frame_dets = Vec::with_capacity(crowd.len());
        let mut started_at_10 = 0;
        for i in 0..100 {
            frame_dets.clear();
            frame_dets.extend(crowd.iter().map(|p| noisy(*p, &mut g, 2.0)));
            let s = tr.update(i as f64 / FPS, &frame_dets, K, &mut out);
            assert!(tr.num_tracks() <= MAX_TRACKS);
            assert!(out.len() <= MAX_TRACKS);
            assert_eq!(s.dropped_detections, 8, "frame {i}");
            if i == 10 {
                started_at_10 = tr.counters().tracks_started;
            }
            if i >= 2 {
                assert_eq!(out.len(), MAX_TRACKS);
                // The 32 highest scores are the ones tracked.
                assert!(out.iter().all(|tp| tp.raw.score >= 0.6 + 0.005 * 7.5));
            }
        }
        assert_eq!(started_at_10, MAX_TRACKS as u64);
        assert_eq!(tr.counters().tracks_started, MAX_TRACKS as u64);
        assert_eq!(tr.counters().tracks_deleted, 0);
        assert_eq!(tr.counters().frames, 100);
        assert_eq!(out.capacity(), MAX_TRACKS);
        assert_eq!(std::mem::size_of::<Tracker>(), size);
    }
}
