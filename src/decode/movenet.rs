//! MoveNet SinglePose output `[1, 1, K, 3]`: per keypoint (y, x, score),
//! normalised to the model input. One person per frame; its score is the
//! mean keypoint score and its box the extent of the keypoints at or above
//! 0.5 (all keypoints when none is).

use super::{
    check_len, shapes, Candidates, DecodeError, DecodeParams, Decoder, Dequant, Detections, Emit,
    Keypoint, Outputs, MAX_KEYPOINTS,
};
use crate::model::{Coords, TensorInfo};

/// Keypoint score that counts towards the box.
const BOX_KEYPOINT_SCORE: f32 = 0.5;

/// Decoder for MoveNet SinglePose.
pub struct MovenetDecoder {
    info: TensorInfo,
    deq: Dequant,
    k: usize,
    input_wh: [f32; 2],
    params: DecodeParams,
    candidates: Candidates,
}

impl MovenetDecoder {
    pub fn new(
        info: &TensorInfo,
        k: usize,
        input_wh: [f32; 2],
        params: DecodeParams,
    ) -> Result<Self, DecodeError> {
        if info.shape.as_slice() != [1, 1, k, 3] || k > MAX_KEYPOINTS {
            return Err(DecodeError::Layout {
                layout: "movenet",
                shapes: shapes(std::slice::from_ref(info)),
                why: format!("expected [1, 1, {k}, 3]"),
            });
        }
        Ok(Self {
            info: info.clone(),
            deq: Dequant::new(info),
            k,
            input_wh,
            params,
            candidates: Candidates::with_capacity(1),
        })
    }
}

impl Decoder for MovenetDecoder {
    fn decode(&mut self, outputs: &dyn Outputs, out: &mut Detections) -> Result<(), DecodeError> {
        let bytes = outputs.output(0);
        check_len(0, &self.info, bytes)?;
        let deq = self.deq;
        // Keypoint j, normalised (x, y, score).
        let kp = |j: usize| {
            let v = |c: usize| deq.get(bytes, j * 3 + c);
            Keypoint {
                x: v(1),
                y: v(0),
                score: v(2),
            }
        };
        self.candidates.clear();
        let score = (0..self.k).map(|j| kp(j).score).sum::<f32>() / self.k as f32;
        if score >= self.params.conf_threshold {
            let strong = (0..self.k).any(|j| kp(j).score >= BOX_KEYPOINT_SCORE);
            let mut bbox = [f32::MAX, f32::MAX, f32::MIN, f32::MIN];
            for k in (0..self.k)
                .map(kp)
                .filter(|k| !strong || k.score >= BOX_KEYPOINT_SCORE)
            {
                bbox = [
                    bbox[0].min(k.x),
                    bbox[1].min(k.y),
                    bbox[2].max(k.x),
                    bbox[3].max(k.y),
                ];
            }
            self.candidates.push(bbox, score, 0, 1.0);
        }
        let emit = Emit {
            centre_size: false,
            coords: Coords::Normalized,
            input_wh: self.input_wh,
            iou_threshold: self.params.iou_threshold,
        };
        self.candidates
            .emit(emit, &self.params, self.k, out, |_, kps| {
                for (j, k) in kps.iter_mut().enumerate() {
                    *k = kp(j);
                }
            });
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ElementType;

    #[test]
    fn yx_order_is_swapped_and_box_uses_strong_keypoints() {
        let info = TensorInfo {
            name: "o".into(),
            shape: vec![1, 1, 17, 3],
            dtype: ElementType::F32,
            quant: None,
        };
        let mut vals = Vec::new();
        for j in 0..17 {
            let s = if j < 2 { 0.9 } else { 0.4 };
            vals.extend_from_slice(&[0.25 + j as f32 * 0.01, 0.5, s]);
        }
        let bytes: Vec<u8> = vals.iter().flat_map(|v| v.to_ne_bytes()).collect();
        let mut d =
            MovenetDecoder::new(&info, 17, [192.0, 192.0], DecodeParams::default()).unwrap();
        let mut out = Detections::default();
        d.decode(&vec![bytes], &mut out).unwrap();
        let p = &out.persons[0];
        assert_eq!(p.keypoints[0].x, 96.0);
        assert_eq!(p.keypoints[0].y, 48.0);
        assert!((p.score - (0.9 * 2.0 + 0.4 * 15.0) / 17.0).abs() < 1e-6);
        assert!((p.bbox[3] - 0.26 * 192.0).abs() < 1e-4, "{:?}", p.bbox);
    }
}
