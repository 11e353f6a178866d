//! Ultralytics' NMS-free end-to-end pose export (YOLO26-pose, also YOLOv10-
//! style `end2end` exports): `[1, N, 6+3K]` rows (N = the export's
//! `max_det`, 300 by default) of x1, y1, x2, y2, score, class, then K × (x,
//! y, visibility), already decoded and already one row per person: no NMS.
//! Rows below the score threshold (the padding rows score 0) are dropped;
//! the rest are kept best first, at most `max_detections`. Coordinates are
//! normalised to the input size or in input pixels (the manifest says
//! which, or `auto` decides per frame).

use super::{
    check_len, shapes, Candidates, DecodeError, DecodeParams, Decoder, Dequant, Detections, Emit,
    Keypoint, Outputs, MAX_KEYPOINTS,
};
use crate::model::{Coords, TensorInfo};

/// Decoder for `[1, N, 6+3K]` end-to-end rows.
pub struct EndToEndDecoder {
    info: TensorInfo,
    deq: Dequant,
    k: usize,
    rows: usize,
    input_wh: [f32; 2],
    coords: Coords,
    params: DecodeParams,
    candidates: Candidates,
}

impl EndToEndDecoder {
    pub fn new(
        info: &TensorInfo,
        k: usize,
        input_wh: [f32; 2],
        coords: Coords,
        params: DecodeParams,
    ) -> Result<Self, DecodeError> {
        let per = 6 + 3 * k;
        let rows = match info.shape.as_slice() {
            [1, n, c] if *c == per && k <= MAX_KEYPOINTS => *n,
            _ => {
                return Err(DecodeError::Layout {
                    layout: "yolo-end-to-end",
                    shapes: shapes(std::slice::from_ref(info)),
                    why: format!("expected [1, N, {per}]"),
                })
            }
        };
        Ok(Self {
            info: info.clone(),
            deq: Dequant::new(info),
            k,
            rows,
            input_wh,
            coords,
            params,
            candidates: Candidates::with_capacity(rows),
        })
    }
}

impl Decoder for EndToEndDecoder {
    fn decode(&mut self, outputs: &dyn Outputs, out: &mut Detections) -> Result<(), DecodeError> {
        let bytes = outputs.output(0);
        check_len(0, &self.info, bytes)?;
        let (deq, per) = (self.deq, 6 + 3 * self.k);
        let v = |r: usize, c: usize| deq.get(bytes, r * per + c);
        self.candidates.clear();
        for r in 0..self.rows {
            let score = v(r, 4);
            if score > self.params.conf_threshold {
                let bbox = [v(r, 0), v(r, 1), v(r, 2), v(r, 3)];
                let extent = bbox.iter().fold(0f32, |m, c| m.max(c.abs()));
                self.candidates.push(bbox, score, r, extent);
            }
        }
        // Already one row per person: ranked (ties in row order) and capped,
        // with no suppression.
        let emit = Emit {
            coords: self.coords,
            input_wh: self.input_wh,
            iou_threshold: f32::INFINITY,
        };
        self.candidates
            .emit(emit, &self.params, self.k, out, |r, kps| {
                for (j, kp) in kps.iter_mut().enumerate() {
                    *kp = Keypoint {
                        x: v(r, 6 + 3 * j),
                        y: v(r, 7 + 3 * j),
                        score: v(r, 8 + 3 * j),
                    };
                }
            });
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ElementType, Quant};

    const PER: usize = 57;

    /// A `[1, 300, 57]` tensor with `rows` written at the top, zeros after
    /// (as the export pads).
    fn tensor(rows: &[[f32; PER]]) -> Vec<f32> {
        let mut t = vec![0f32; 300 * PER];
        for (r, row) in rows.iter().enumerate() {
            t[r * PER..(r + 1) * PER].copy_from_slice(row);
        }
        t
    }

    fn row(b: [f32; 4], score: f32, kx: f32) -> [f32; PER] {
        let mut r = [0f32; PER];
        r[..4].copy_from_slice(&b);
        r[4] = score;
        r[5] = 0.0; // class: person
        for j in 0..17 {
            r[6 + 3 * j] = kx + 0.01 * j as f32;
            r[7 + 3 * j] = b[1] + 0.02;
            r[8 + 3 * j] = 0.5 + 0.01 * j as f32;
        }
        r
    }

    fn info(dtype: ElementType, quant: Option<Quant>) -> TensorInfo {
        TensorInfo {
            name: "output0".into(),
            shape: vec![1, 300, PER],
            dtype,
            quant,
        }
    }

    fn bytes(t: &[f32]) -> Vec<Vec<u8>> {
        vec![t.iter().flat_map(|v| v.to_ne_bytes()).collect()]
    }

    #[test]
    fn overlapping_persons_are_all_kept_without_nms() {
        // Two heavily overlapping boxes (IoU ≈ 0.9): NMS at 0.7 would drop
        // one; the end-to-end output is already one row per person.
        let t = tensor(&[
            row([0.2, 0.2, 0.6, 0.8], 0.9, 0.3),
            row([0.21, 0.2, 0.6, 0.8], 0.85, 0.31),
            row([0.7, 0.1, 0.9, 0.5], 0.1, 0.8), // below 0.25
        ]);
        let mut d = EndToEndDecoder::new(
            &info(ElementType::F32, None),
            17,
            [320.0, 320.0],
            Coords::Auto,
            DecodeParams::default(),
        )
        .unwrap();
        let mut out = Detections::default();
        d.decode(&bytes(&t), &mut out).unwrap();
        assert_eq!(out.persons.len(), 2);
        let p = &out.persons[0];
        for (got, want) in p.bbox.iter().zip([64.0, 64.0, 192.0, 256.0]) {
            assert!((got - want).abs() < 1e-3, "{:?}", p.bbox);
        }
        assert!((p.keypoints[16].x - (0.3 + 0.16) * 320.0).abs() < 1e-3);
        assert!((p.keypoints[0].y - 0.22 * 320.0).abs() < 1e-3);
        assert!((p.keypoints[10].score - 0.6).abs() < 1e-6);
        assert_eq!(out.persons[1].score, 0.85);
    }

    #[test]
    fn rows_are_ranked_and_capped_at_max_detections() {
        let t = tensor(&[
            row([10.0, 10.0, 50.0, 90.0], 0.4, 20.0),
            row([100.0, 10.0, 150.0, 90.0], 0.95, 120.0),
            row([200.0, 10.0, 250.0, 90.0], 0.6, 220.0),
        ]);
        let params = DecodeParams {
            max_detections: 2,
            ..DecodeParams::default()
        };
        let mut d = EndToEndDecoder::new(
            &info(ElementType::F32, None),
            17,
            [320.0, 320.0],
            Coords::Auto,
            params,
        )
        .unwrap();
        let mut out = Detections::default();
        d.decode(&bytes(&t), &mut out).unwrap();
        let scores: Vec<f32> = out.persons.iter().map(|p| p.score).collect();
        assert_eq!(scores, vec![0.95, 0.6]);
        // Pixel coordinates (values above 2) stay as they are.
        assert_eq!(out.persons[0].bbox, [100.0, 10.0, 150.0, 90.0]);
        assert_eq!(out.persons[0].keypoints[0].x, 120.0);
    }

    #[test]
    fn int8_rows_are_dequantized() {
        let q = Quant {
            scale: 1.0 / 255.0,
            zero_point: -128,
        };
        let t = tensor(&[row([0.25, 0.25, 0.5, 0.75], 0.8, 0.3)]);
        let b: Vec<u8> = t
            .iter()
            .map(|&v| ((v / q.scale).round() as i32 + q.zero_point).clamp(-128, 127) as i8 as u8)
            .collect();
        let mut d = EndToEndDecoder::new(
            &info(ElementType::I8, Some(q)),
            17,
            [320.0, 320.0],
            Coords::Normalized,
            DecodeParams::default(),
        )
        .unwrap();
        let mut out = Detections::default();
        d.decode(&vec![b], &mut out).unwrap();
        assert_eq!(out.persons.len(), 1);
        let p = &out.persons[0];
        assert!((p.bbox[3] - 240.0).abs() < 1.3, "{:?}", p.bbox);
        assert!((p.score - 0.8).abs() < 0.003);
    }

    #[test]
    fn a_yolov8_style_output_is_refused() {
        let i = TensorInfo {
            shape: vec![1, 56, 2100],
            ..info(ElementType::F32, None)
        };
        let e = EndToEndDecoder::new(
            &i,
            17,
            [320.0, 320.0],
            Coords::Auto,
            DecodeParams::default(),
        );
        assert!(e.is_err());
    }
}
