//! Ultralytics anchor-free YOLO-pose output `[1, 5+3K, N]`: for each of N
//! anchors, box centre x, y, width, height, person score, then K × (x, y,
//! visibility score). The export has already applied the sigmoid and the
//! grid/stride decoding; coordinates are normalised to the input size or in
//! input pixels (the manifest says which, or `auto` decides per frame).

use super::{
    check_len, shapes, Candidates, DecodeError, DecodeParams, Decoder, Dequant, Detections, Emit,
    Keypoint, Outputs, MAX_KEYPOINTS,
};
use crate::model::{Coords, TensorInfo};

/// Decoder for `[1, 5+3K, N]` outputs.
pub struct YoloDecoder {
    info: TensorInfo,
    deq: Dequant,
    k: usize,
    n: usize,
    input_wh: [f32; 2],
    coords: Coords,
    params: DecodeParams,
    candidates: Candidates,
}

impl YoloDecoder {
    pub fn new(
        info: &TensorInfo,
        k: usize,
        input_wh: [f32; 2],
        coords: Coords,
        params: DecodeParams,
    ) -> Result<Self, DecodeError> {
        let n = match info.shape.as_slice() {
            [1, c, n] if *c == 5 + 3 * k && k <= MAX_KEYPOINTS => *n,
            _ => {
                return Err(DecodeError::Layout {
                    layout: "yolo-anchor-free",
                    shapes: shapes(std::slice::from_ref(info)),
                    why: format!("expected [1, {}, N]", 5 + 3 * k),
                })
            }
        };
        Ok(Self {
            info: info.clone(),
            deq: Dequant::new(info),
            k,
            n,
            input_wh,
            coords,
            params,
            candidates: Candidates::with_capacity(n),
        })
    }
}

impl Decoder for YoloDecoder {
    fn decode(&mut self, outputs: &dyn Outputs, out: &mut Detections) -> Result<(), DecodeError> {
        let bytes = outputs.output(0);
        check_len(0, &self.info, bytes)?;
        let (deq, n) = (self.deq, self.n);
        let at = |channel: usize, anchor: usize| deq.get(bytes, channel * n + anchor);
        self.candidates.clear();
        for a in 0..n {
            let score = at(4, a);
            if score > self.params.conf_threshold {
                let (cx, cy, w, h) = (at(0, a), at(1, a), at(2, a), at(3, a));
                // Corners after the scaling (`Emit::centre_size`).
                self.candidates
                    .push([cx, cy, w, h], score, a, cx.abs().max(cy.abs()));
            }
        }
        let emit = Emit {
            centre_size: true,
            coords: self.coords,
            input_wh: self.input_wh,
            iou_threshold: self.params.iou_threshold,
        };
        self.candidates
            .emit(emit, &self.params, self.k, out, |a, kps| {
                for (j, kp) in kps.iter_mut().enumerate() {
                    *kp = Keypoint {
                        x: at(5 + 3 * j, a),
                        y: at(6 + 3 * j, a),
                        score: at(7 + 3 * j, a),
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

    /// Builds a [1, 56, n] tensor (channel-major) from per-anchor rows.
    fn tensor(rows: &[[f32; 56]], n: usize) -> Vec<f32> {
        let mut t = vec![0f32; 56 * n];
        for (a, r) in rows.iter().enumerate() {
            for (c, v) in r.iter().enumerate() {
                t[c * n + a] = *v;
            }
        }
        t
    }

    fn row(cx: f32, cy: f32, w: f32, h: f32, s: f32, kx: f32) -> [f32; 56] {
        let mut r = [0f32; 56];
        r[..5].copy_from_slice(&[cx, cy, w, h, s]);
        for j in 0..17 {
            r[5 + 3 * j] = kx + j as f32 * 0.01;
            r[6 + 3 * j] = cy;
            r[7 + 3 * j] = 0.9;
        }
        r
    }

    fn info(dtype: ElementType, quant: Option<Quant>, n: usize) -> TensorInfo {
        TensorInfo {
            name: "out".into(),
            shape: vec![1, 56, n],
            dtype,
            quant,
        }
    }

    #[test]
    fn float_normalized_output_decodes_to_input_pixels_with_nms() {
        let n = 8;
        let t = tensor(
            &[
                row(0.5, 0.5, 0.2, 0.4, 0.9, 0.4),
                row(0.51, 0.5, 0.2, 0.4, 0.8, 0.4), // duplicate of #0
                row(0.1, 0.1, 0.1, 0.1, 0.2, 0.1),  // below threshold
                row(0.8, 0.2, 0.1, 0.2, 0.6, 0.75),
            ],
            n,
        );
        let bytes: Vec<u8> = t.iter().flat_map(|v| v.to_ne_bytes()).collect();
        let mut d = YoloDecoder::new(
            &info(ElementType::F32, None, n),
            17,
            [320.0, 320.0],
            Coords::Auto,
            DecodeParams::default(),
        )
        .unwrap();
        let mut out = Detections::default();
        d.decode(&vec![bytes], &mut out).unwrap();
        assert_eq!(out.persons.len(), 2);
        let p = &out.persons[0];
        assert_eq!(p.score, 0.9);
        let expect = [128.0, 96.0, 192.0, 224.0];
        for (a, b) in p.bbox.iter().zip(expect) {
            assert!((a - b).abs() < 1e-3, "{:?}", p.bbox);
        }
        assert!((p.keypoints[2].x - 0.42 * 320.0).abs() < 1e-3);
        assert!((p.keypoints[16].y - 160.0).abs() < 1e-3);
        assert_eq!(out.persons[1].score, 0.6);
    }

    #[test]
    fn int8_output_with_nonzero_zero_point_is_dequantized() {
        // scale 0.0054356, zp -117 as in yolo11n-pose-320-int8.
        let q = Quant {
            scale: 0.0054356,
            zero_point: -117,
        };
        let quant =
            |v: f32| ((v / q.scale).round() as i32 + q.zero_point).clamp(-128, 127) as i8 as u8;
        let n = 4;
        let t = tensor(&[row(0.5, 0.25, 0.2, 0.3, 0.7, 0.3)], n);
        let bytes: Vec<u8> = t.iter().map(|&v| quant(v)).collect();
        let mut d = YoloDecoder::new(
            &info(ElementType::I8, Some(q), n),
            17,
            [320.0, 320.0],
            Coords::Normalized,
            DecodeParams::default(),
        )
        .unwrap();
        let mut out = Detections::default();
        d.decode(&vec![bytes], &mut out).unwrap();
        assert_eq!(out.persons.len(), 1);
        let p = &out.persons[0];
        // One quantization step is 0.0054 (1.74 px at 320).
        assert!((p.score - 0.7).abs() < 0.003, "{}", p.score);
        assert!((p.bbox[0] - 128.0).abs() < 1.0, "{:?}", p.bbox);
        assert!((p.keypoints[0].x - 96.0).abs() < 1.0);
        assert!((p.keypoints[0].score - 0.9).abs() < 0.003);
        // A zero point ignored would shift every value by 117 steps (0.64).
        assert!(p.keypoints[0].y < 100.0);
    }

    #[test]
    fn pixel_coordinates_are_detected_automatically() {
        let n = 4;
        let t = tensor(&[row(160.0, 100.0, 40.0, 80.0, 0.8, 150.0)], n);
        let bytes: Vec<u8> = t.iter().flat_map(|v| v.to_ne_bytes()).collect();
        let mut d = YoloDecoder::new(
            &info(ElementType::F32, None, n),
            17,
            [320.0, 320.0],
            Coords::Auto,
            DecodeParams::default(),
        )
        .unwrap();
        let mut out = Detections::default();
        d.decode(&vec![bytes], &mut out).unwrap();
        assert_eq!(out.persons[0].bbox, [140.0, 60.0, 180.0, 140.0]);
        assert_eq!(out.persons[0].keypoints[0].x, 150.0);
    }

    #[test]
    fn wrong_output_size_is_an_error_not_a_panic() {
        let mut d = YoloDecoder::new(
            &info(ElementType::F32, None, 4),
            17,
            [320.0, 320.0],
            Coords::Auto,
            DecodeParams::default(),
        )
        .unwrap();
        let err = d
            .decode(&vec![vec![0u8; 10]], &mut Detections::default())
            .unwrap_err();
        assert!(err.to_string().contains("expected 896"), "{err}");
    }
}
