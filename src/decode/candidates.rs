//! The candidate → person loop every decoder shares: a layout's decoder
//! reads its outputs into [`Candidates`] (box, score and where the rest of
//! the values are), and [`Candidates::emit`] turns them into persons —
//! boxes scaled to model-input pixels, NMS, then one [`Person`] per
//! survivor whose keypoints the decoder fills from its outputs and which
//! are scaled like the boxes. A new output layout only writes the reading.

use super::nms::{nms, Candidate};
use super::{DecodeParams, Detections, Keypoint, Person};
use crate::model::Coords;

/// Candidates of one frame (the buffer is reused across frames).
#[derive(Debug, Clone, Default)]
pub struct Candidates {
    list: Vec<Candidate>,
    /// Largest coordinate magnitude seen, for [`Coords::Auto`].
    extent: f32,
}

/// How [`Candidates::emit`] treats the candidates' coordinates and overlaps.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Emit {
    /// Coordinates as the layout writes them. With [`Coords::Auto`] they
    /// are taken as normalised when no candidate's extent exceeds 2.0.
    pub coords: Coords,
    /// Model input width and height (what normalised coordinates scale to).
    pub input_wh: [f32; 2],
    /// NMS suppresses a box whose IoU with a kept box exceeds this
    /// (`f32::INFINITY`: NMS already ran in the graph, keep every box).
    pub iou_threshold: f32,
    /// The boxes were pushed as `[cx, cy, w, h]`: they become corners after
    /// the scaling to pixels, `cx·s − (w·s)/2` in f32, as Ultralytics does
    /// (its results are compared with such boxes to 1e-6 in AP).
    pub centre_size: bool,
}

impl Candidates {
    /// Room for `n` candidates.
    pub fn with_capacity(n: usize) -> Self {
        Self {
            list: Vec::with_capacity(n),
            extent: 0.0,
        }
    }

    /// Forgets the last frame's candidates.
    pub fn clear(&mut self) {
        self.list.clear();
        self.extent = 0.0;
    }

    /// Adds a candidate: box `[x1, y1, x2, y2]` and score as the layout
    /// writes them, `index` for the decoder to find the rest of its values,
    /// and `extent`, the largest coordinate magnitude the layout wrote for
    /// it (decides [`Coords::Auto`]).
    #[inline]
    pub fn push(&mut self, bbox: [f32; 4], score: f32, index: usize, extent: f32) {
        self.extent = self.extent.max(extent);
        self.list.push(Candidate { bbox, score, index });
    }

    /// The candidates as they are now.
    pub fn as_slice(&self) -> &[Candidate] {
        &self.list
    }

    /// Scales the boxes to model-input pixels; returns the (x, y) scale.
    fn scale_to_pixels(&mut self, coords: Coords, input_wh: [f32; 2]) -> (f32, f32) {
        let normalized = match coords {
            Coords::Normalized => true,
            Coords::Pixels => false,
            Coords::Auto => self.extent <= 2.0,
        };
        let (sx, sy) = if normalized {
            (input_wh[0], input_wh[1])
        } else {
            (1.0, 1.0)
        };
        for c in &mut self.list {
            c.bbox = [
                c.bbox[0] * sx,
                c.bbox[1] * sy,
                c.bbox[2] * sx,
                c.bbox[3] * sy,
            ];
        }
        (sx, sy)
    }

    /// Writes the persons into `out` (cleared first, `k` keypoints each):
    /// boxes scaled to pixels first (so IoU is computed in pixels either
    /// way), NMS per `emit` and `params` (most candidates in, most persons
    /// out), then for each survivor, in descending score order, its
    /// keypoints from `fill(index, keypoints)` in the layout's coordinates,
    /// scaled like its box.
    pub fn emit(
        &mut self,
        emit: Emit,
        params: &DecodeParams,
        k: usize,
        out: &mut Detections,
        mut fill: impl FnMut(usize, &mut [Keypoint]),
    ) {
        out.persons.clear();
        out.num_keypoints = k;
        let (sx, sy) = self.scale_to_pixels(emit.coords, emit.input_wh);
        if emit.centre_size {
            for c in &mut self.list {
                let [cx, cy, w, h] = c.bbox;
                c.bbox = [cx - w / 2.0, cy - h / 2.0, cx + w / 2.0, cy + h / 2.0];
            }
        }
        nms(
            &mut self.list,
            emit.iou_threshold,
            params.max_candidates,
            params.max_detections,
        );
        for c in &self.list {
            let mut p = Person {
                bbox: c.bbox,
                score: c.score,
                ..Person::default()
            };
            let kps = &mut p.keypoints[..k];
            fill(c.index, kps);
            for kp in kps {
                kp.x *= sx;
                kp.y *= sy;
            }
            out.persons.push(p);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn emit(coords: Coords, iou_threshold: f32) -> Emit {
        Emit {
            centre_size: false,
            coords,
            input_wh: [320.0, 240.0],
            iou_threshold,
        }
    }

    /// Keypoint j of candidate i at (10·i + j, 1), score 0.5.
    fn fill(i: usize, kps: &mut [Keypoint]) {
        for (j, kp) in kps.iter_mut().enumerate() {
            *kp = Keypoint {
                x: (10 * i + j) as f32,
                y: 1.0,
                score: 0.5,
            };
        }
    }

    #[test]
    fn normalised_candidates_are_scaled_suppressed_and_filled_in_score_order() {
        let mut c = Candidates::with_capacity(4);
        c.push([0.125, 0.125, 0.375, 0.625], 0.6, 7, 0.625);
        c.push([0.5, 0.5, 0.75, 1.0], 0.9, 3, 1.0);
        // IoU 0.78 with #7: suppressed at 0.7.
        c.push([0.15625, 0.125, 0.40625, 0.625], 0.5, 8, 0.625);
        let mut out = Detections::default();
        c.emit(
            emit(Coords::Auto, 0.7),
            &DecodeParams::default(),
            2,
            &mut out,
            fill,
        );
        assert_eq!(out.num_keypoints, 2);
        let got: Vec<(f32, [f32; 4])> = out.persons.iter().map(|p| (p.score, p.bbox)).collect();
        assert_eq!(
            got,
            [
                (0.9, [160.0, 120.0, 240.0, 240.0]),
                (0.6, [40.0, 30.0, 120.0, 150.0])
            ]
        );
        // Keypoints of candidate 3 (the first person), scaled like its box.
        assert_eq!(
            out.persons[0].keypoints[1],
            Keypoint {
                x: 31.0 * 320.0,
                y: 240.0,
                score: 0.5
            }
        );
        assert_eq!(out.persons[1].keypoints[0].x, 70.0 * 320.0);
        // Keypoints beyond k stay empty.
        assert_eq!(out.persons[0].keypoints[2], Keypoint::default());
    }

    #[test]
    fn pixel_extent_keeps_coordinates_and_infinite_iou_keeps_overlaps() {
        let mut c = Candidates::with_capacity(2);
        c.push([10.0, 10.0, 30.0, 50.0], 0.6, 0, 30.0);
        c.push([10.0, 10.0, 30.0, 50.0], 0.7, 1, 30.0);
        let mut out = Detections::default();
        c.emit(
            emit(Coords::Auto, f32::INFINITY),
            &DecodeParams::default(),
            1,
            &mut out,
            fill,
        );
        assert_eq!(out.persons.len(), 2);
        assert_eq!(out.persons[0].bbox, [10.0, 10.0, 30.0, 50.0]);
        assert_eq!(out.persons[0].keypoints[0].x, 10.0);
        // The extent is per frame: cleared, normalised values scale again.
        c.clear();
        c.push([0.0, 0.0, 0.5, 0.5], 0.9, 0, 0.5);
        c.emit(
            emit(Coords::Auto, 0.7),
            &DecodeParams::default(),
            1,
            &mut out,
            fill,
        );
        assert_eq!(out.persons[0].bbox, [0.0, 0.0, 160.0, 120.0]);
    }

    #[test]
    fn most_persons_caps_the_output() {
        let mut c = Candidates::with_capacity(3);
        for (i, score) in [0.5, 0.625, 0.75].into_iter().enumerate() {
            let x = i as f32 * 100.0;
            c.push([x, 0.0, x + 50.0, 50.0], score, i, x + 50.0);
        }
        let params = DecodeParams {
            max_detections: 2,
            ..DecodeParams::default()
        };
        let mut out = Detections::default();
        c.emit(emit(Coords::Pixels, 0.7), &params, 0, &mut out, fill);
        let scores: Vec<f32> = out.persons.iter().map(|p| p.score).collect();
        assert_eq!(scores, [0.75, 0.625]);
    }
}
