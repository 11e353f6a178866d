//! Ultralytics anchor-free YOLO-pose cut before its decode (the model
//! factory's `int8-heads` and `float-heads` recipes): per stride `s`, three
//! NHWC outputs `[1, H/s, W/s, c]`, in any order (told apart by their
//! channels, [`crate::model::heads::raw_levels`]):
//! - box: `4·R` logits, side-major (left, top, right, bottom × R bins); each
//!   side's distance is the softmax expectation `Σ i·p_i` (DFL), and with the
//!   cell's anchor point `(x + 0.5, y + 0.5)` the box is
//!   `(anchor − lt, anchor + rb) · s`;
//! - score: class logits; the person score is the sigmoid of the largest;
//! - keypoints: `3K` raw values, per keypoint x, y, visibility:
//!   `(raw·2 + anchor − 0.5) · s` and `sigmoid(raw)`; or the same split in
//!   two outputs, `2K` x, y and `K` visibility logits (so that an int8
//!   output's scale covers only the positions' range).
//!
//! This is the arithmetic the export's own decode tail does, done here in
//! float, so that tail can stay off an integer-only accelerator. Output in
//! model-input pixels.

use super::{
    check_len, shapes, sigmoid, Candidates, DecodeError, DecodeParams, Decoder, Dequant,
    Detections, Emit, Keypoint, Outputs, MAX_KEYPOINTS,
};
use crate::model::heads::{raw_levels, RawLevel};
use crate::model::{Coords, TensorInfo};

/// Most DFL bins per box side.
const MAX_REG: usize = 64;

struct Level {
    geom: RawLevel,
    /// Index of this level's first cell among all cells.
    first: usize,
    /// Box, score, keypoint, visibility outputs (visibility = keypoint
    /// output when not split).
    infos: [TensorInfo; 4],
    deq: [Dequant; 4],
}

const BOX: usize = 0;
const SCORE: usize = 1;
const KPT: usize = 2;
const VIS: usize = 3;

impl Level {
    fn output(&self, role: usize) -> usize {
        match role {
            BOX => self.geom.boxes,
            SCORE => self.geom.scores,
            VIS => self.geom.visibility.unwrap_or(self.geom.keypoints),
            _ => self.geom.keypoints,
        }
    }
}

/// Decoder for raw per-stride heads.
pub struct RawHeadsDecoder {
    levels: Vec<Level>,
    k: usize,
    reg_max: usize,
    input_wh: [f32; 2],
    params: DecodeParams,
    candidates: Candidates,
}

impl RawHeadsDecoder {
    pub fn new(
        outputs: &[TensorInfo],
        k: usize,
        input_hw: (usize, usize),
        params: DecodeParams,
    ) -> Result<Self, DecodeError> {
        let err = |why: String| DecodeError::Layout {
            layout: "yolo-raw-heads",
            shapes: shapes(outputs),
            why,
        };
        if k > MAX_KEYPOINTS {
            return Err(err(format!("{k} keypoints; at most {MAX_KEYPOINTS}")));
        }
        let sh: Vec<&[usize]> = outputs.iter().map(|o| o.shape.as_slice()).collect();
        let geoms = raw_levels(&sh, k, input_hw).map_err(err)?;
        if geoms[0].reg_max > MAX_REG {
            return Err(err(format!(
                "{} DFL bins per side; at most {MAX_REG}",
                geoms[0].reg_max
            )));
        }
        let mut first = 0;
        let levels: Vec<Level> = geoms
            .into_iter()
            .map(|geom| {
                let vis = geom.visibility.unwrap_or(geom.keypoints);
                let infos = [
                    outputs[geom.boxes].clone(),
                    outputs[geom.scores].clone(),
                    outputs[geom.keypoints].clone(),
                    outputs[vis].clone(),
                ];
                let deq = infos.each_ref().map(Dequant::new);
                let l = Level {
                    geom,
                    first,
                    infos,
                    deq,
                };
                first += geom.h * geom.w;
                l
            })
            .collect();
        let reg_max = levels[0].geom.reg_max;
        Ok(Self {
            levels,
            k,
            reg_max,
            input_wh: [input_hw.1 as f32, input_hw.0 as f32],
            params,
            candidates: Candidates::with_capacity(first),
        })
    }
}

/// Softmax expectation `Σ i·softmax(v)_i` of `n` logits read by `v`.
#[inline]
fn dfl(n: usize, v: impl Fn(usize) -> f32) -> f32 {
    let mut buf = [0f32; MAX_REG];
    let mut max = f32::NEG_INFINITY;
    for (i, b) in buf.iter_mut().take(n).enumerate() {
        *b = v(i);
        max = max.max(*b);
    }
    let (mut sum, mut acc) = (0f32, 0f32);
    for (i, b) in buf.iter().take(n).enumerate() {
        let e = (b - max).exp();
        sum += e;
        acc += e * i as f32;
    }
    acc / sum
}

/// The logit of `p`: `sigmoid(x) > p` exactly when `x > logit(p)`.
fn logit(p: f32) -> f32 {
    if p <= 0.0 {
        f32::NEG_INFINITY
    } else if p >= 1.0 {
        f32::INFINITY
    } else {
        (p / (1.0 - p)).ln()
    }
}

impl Decoder for RawHeadsDecoder {
    fn decode(&mut self, outputs: &dyn Outputs, out: &mut Detections) -> Result<(), DecodeError> {
        for l in &self.levels {
            for role in [BOX, SCORE, KPT, VIS] {
                let i = l.output(role);
                check_len(i, &l.infos[role], outputs.output(i))?;
            }
        }
        self.candidates.clear();
        let threshold = logit(self.params.conf_threshold);
        let r = self.reg_max;
        for l in &self.levels {
            let g = &l.geom;
            let (sb, bb) = (outputs.output(g.scores), outputs.output(g.boxes));
            let s = g.stride as f32;
            for cell in 0..g.h * g.w {
                let mut best = f32::NEG_INFINITY;
                for c in 0..g.classes {
                    best = best.max(l.deq[SCORE].get(sb, cell * g.classes + c));
                }
                if best <= threshold {
                    continue;
                }
                let (ax, ay) = anchor(g, cell);
                let side = |j: usize| dfl(r, |i| l.deq[BOX].get(bb, cell * 4 * r + j * r + i));
                let (lt, tp, rt, bt) = (side(0), side(1), side(2), side(3));
                let bbox = [(ax - lt) * s, (ay - tp) * s, (ax + rt) * s, (ay + bt) * s];
                self.candidates
                    .push(bbox, sigmoid(best), l.first + cell, 0.0);
            }
        }
        let emit = Emit {
            centre_size: false,
            coords: Coords::Pixels,
            input_wh: self.input_wh,
            iou_threshold: self.params.iou_threshold,
        };
        let (levels, k) = (&self.levels, self.k);
        self.candidates
            .emit(emit, &self.params, k, out, |index, kps| {
                let Some(l) = levels.iter().rev().find(|l| l.first <= index) else {
                    return;
                };
                let g = &l.geom;
                let cell = index - l.first;
                let (kb, vb) = (outputs.output(g.keypoints), outputs.output(l.output(VIS)));
                let s = g.stride as f32;
                let (ax, ay) = anchor(g, cell);
                // Keypoint j's x, y at cell·per + step·j (+1), its visibility
                // at cell·vper + vstep·j + voff.
                let (per, step, vper, vstep, voff) = match g.visibility {
                    None => (3 * k, 3, 3 * k, 3, 2),
                    Some(_) => (2 * k, 2, k, 1, 0),
                };
                let xy = |i: usize| l.deq[KPT].get(kb, cell * per + i);
                for (j, kp) in kps.iter_mut().enumerate() {
                    *kp = Keypoint {
                        x: (xy(step * j) * 2.0 + ax - 0.5) * s,
                        y: (xy(step * j + 1) * 2.0 + ay - 0.5) * s,
                        score: sigmoid(l.deq[VIS].get(vb, cell * vper + vstep * j + voff)),
                    };
                }
            });
        Ok(())
    }
}

/// The anchor point of `cell` in grid units: its centre.
#[inline]
fn anchor(g: &RawLevel, cell: usize) -> (f32, f32) {
    ((cell % g.w) as f32 + 0.5, (cell / g.w) as f32 + 0.5)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ElementType, Quant};

    const K: usize = 17;
    const R: usize = 16;

    fn inv_sigmoid(p: f32) -> f32 {
        (p / (1.0 - p)).ln()
    }

    /// Raw heads of a 64x64 input (strides 8, 16, 32) as float tensors.
    struct Heads {
        /// Per stride: box, score, keypoint tensors (NHWC, flattened).
        t: Vec<[Vec<f32>; 3]>,
    }

    impl Heads {
        fn new() -> Self {
            let t = [8usize, 16, 32]
                .iter()
                .map(|s| {
                    let n = (64 / s) * (64 / s);
                    [
                        vec![0f32; n * 4 * R],
                        vec![-10f32; n],
                        vec![0f32; n * 3 * K],
                    ]
                })
                .collect();
            Self { t }
        }

        /// Plants a person in cell (gx, gy) of stride level `lv`: the box
        /// sides as one-hot-ish distributions whose expectation is `ltrb`
        /// (in grid units, mixing two adjacent bins), keypoints from pixel
        /// positions through the inverse of the decode formula.
        fn plant(
            &mut self,
            lv: usize,
            gx: usize,
            gy: usize,
            ltrb: [f32; 4],
            score: f32,
            kpts: &[(f32, f32, f32)],
        ) {
            let stride = [8.0f32, 16.0, 32.0][lv];
            let w = 64 / stride as usize;
            let cell = gy * w + gx;
            let [b, s, k] = &mut self.t[lv];
            for (j, d) in ltrb.iter().enumerate() {
                // Two bins i and i+1 with weights (1-f, f): expectation d.
                let (i, f) = (d.floor() as usize, d.fract());
                for bin in 0..R {
                    let p = if bin == i {
                        1.0 - f
                    } else if bin == i + 1 {
                        f
                    } else {
                        1e-12
                    };
                    b[cell * 4 * R + j * R + bin] = p.max(1e-12).ln();
                }
            }
            s[cell] = inv_sigmoid(score);
            for (j, &(x, y, v)) in kpts.iter().enumerate() {
                let base = cell * 3 * K + 3 * j;
                k[base] = (x / stride - gx as f32) / 2.0;
                k[base + 1] = (y / stride - gy as f32) / 2.0;
                k[base + 2] = inv_sigmoid(v);
            }
        }

        fn infos(&self, dtype: ElementType, quant: Option<Quant>) -> Vec<TensorInfo> {
            let mut v = Vec::new();
            for (lv, s) in [8usize, 16, 32].iter().enumerate() {
                let n = 64 / s;
                for (c, role) in [(4 * R, "box"), (1, "score"), (3 * K, "kpt")] {
                    v.push(TensorInfo {
                        name: format!("s{s}_{role}"),
                        shape: vec![1, n, n, c],
                        dtype,
                        quant,
                    });
                }
                let _ = lv;
            }
            v
        }

        fn float_bytes(&self) -> Vec<Vec<u8>> {
            self.t
                .iter()
                .flat_map(|l| l.iter())
                .map(|t| t.iter().flat_map(|v| v.to_ne_bytes()).collect())
                .collect()
        }
    }

    fn kpts(x0: f32, y0: f32) -> Vec<(f32, f32, f32)> {
        (0..K)
            .map(|j| (x0 + j as f32, y0 + 0.5 * j as f32, 0.2 + 0.04 * j as f32))
            .collect()
    }

    fn decoder(infos: &[TensorInfo]) -> RawHeadsDecoder {
        RawHeadsDecoder::new(infos, K, (64, 64), DecodeParams::default()).unwrap()
    }

    #[test]
    fn float_heads_decode_by_the_dfl_and_grid_formulas() {
        let mut h = Heads::new();
        // Stride 16, cell (2, 1): anchor (2.5, 1.5) grid = (40, 24) px;
        // ltrb (1.25, 0.5, 0.75, 2.0) grid units → box (20, 16)-(52, 56).
        h.plant(1, 2, 1, [1.25, 0.5, 0.75, 2.0], 0.9, &kpts(21.0, 17.0));
        // Stride 8, cell (5, 6): anchor (44, 52); ltrb (0.5, 1, 1.5, 0.25)
        // → (40, 44)-(56, 54).
        h.plant(0, 5, 6, [0.5, 1.0, 1.5, 0.25], 0.6, &kpts(41.0, 45.0));
        let mut d = decoder(&h.infos(ElementType::F32, None));
        let mut out = Detections::default();
        d.decode(&h.float_bytes(), &mut out).unwrap();
        assert_eq!(out.persons.len(), 2, "{:?}", out.persons);
        let (a, b) = (&out.persons[0], &out.persons[1]);
        assert!((a.score - 0.9).abs() < 1e-5);
        for (got, want) in a.bbox.iter().zip([20.0, 16.0, 52.0, 56.0]) {
            assert!((got - want).abs() < 1e-3, "{:?}", a.bbox);
        }
        for (got, want) in b.bbox.iter().zip([40.0, 44.0, 56.0, 54.0]) {
            assert!((got - want).abs() < 1e-3, "{:?}", b.bbox);
        }
        for (j, (x, y, v)) in kpts(21.0, 17.0).into_iter().enumerate() {
            let kp = a.keypoints[j];
            assert!(
                (kp.x - x).abs() < 1e-3 && (kp.y - y).abs() < 1e-3,
                "{j}: {kp:?}"
            );
            assert!((kp.score - v).abs() < 1e-5);
        }
        assert!((b.keypoints[16].x - 57.0).abs() < 1e-3);
    }

    #[test]
    fn int8_heads_are_dequantized_per_tensor() {
        let mut h = Heads::new();
        h.plant(2, 1, 0, [0.5, 0.5, 0.5, 1.0], 0.8, &kpts(30.0, 10.0));
        // Quantize each tensor with its own scale and zero point.
        let q = |t: &[f32]| {
            let (lo, hi) = t
                .iter()
                .fold((0f32, 0f32), |(a, b), &v| (a.min(v), b.max(v)));
            let scale = (hi - lo) / 255.0;
            let zp = (-128.0 - lo / scale).round() as i32;
            let bytes: Vec<u8> = t
                .iter()
                .map(|&v| ((v / scale).round() as i32 + zp).clamp(-128, 127) as i8 as u8)
                .collect();
            (
                Quant {
                    scale,
                    zero_point: zp,
                },
                bytes,
            )
        };
        let mut infos = h.infos(ElementType::I8, None);
        let mut bytes = Vec::new();
        for (i, t) in h.t.iter().flat_map(|l| l.iter()).enumerate() {
            let (quant, b) = q(t);
            infos[i].quant = Some(quant);
            bytes.push(b);
        }
        let mut d = decoder(&infos);
        let mut out = Detections::default();
        d.decode(&bytes, &mut out).unwrap();
        assert_eq!(out.persons.len(), 1);
        let p = &out.persons[0];
        // Stride 32, cell (1, 0): anchor (48, 16); box (32, 0)-(64, 48).
        for (got, want) in p.bbox.iter().zip([32.0, 0.0, 64.0, 48.0]) {
            assert!((got - want).abs() < 1.0, "{:?}", p.bbox);
        }
        assert!((p.score - 0.8).abs() < 0.01, "{}", p.score);
        // Keypoint step: range / 255 · 2 · 32 px.
        assert!(
            (p.keypoints[0].x - 30.0).abs() < 1.0,
            "{:?}",
            p.keypoints[0]
        );
        assert!((p.keypoints[16].y - 18.0).abs() < 1.0);
    }

    #[test]
    fn outputs_in_any_order_and_threshold_on_the_logit() {
        let mut h = Heads::new();
        h.plant(0, 0, 0, [0.5; 4], 0.3, &kpts(4.0, 4.0));
        h.plant(0, 7, 7, [0.5; 4], 0.2, &kpts(60.0, 60.0)); // below 0.25
        let mut infos = h.infos(ElementType::F32, None);
        let mut bytes = h.float_bytes();
        infos.reverse();
        bytes.reverse();
        let mut d = decoder(&infos);
        let mut out = Detections::default();
        d.decode(&bytes, &mut out).unwrap();
        assert_eq!(out.persons.len(), 1);
        assert!((out.persons[0].bbox[0] - 0.0).abs() < 1e-3);
        assert!((out.persons[0].keypoints[0].x - 4.0).abs() < 1e-3);
    }

    #[test]
    fn keypoints_split_into_xy_and_visibility_decode_the_same() {
        let mut h = Heads::new();
        h.plant(1, 3, 2, [1.0, 1.5, 0.5, 2.0], 0.7, &kpts(50.0, 30.0));
        let (infos, bytes) = (h.infos(ElementType::F32, None), h.float_bytes());
        let mut joined = Detections::default();
        decoder(&infos).decode(&bytes, &mut joined).unwrap();
        // Split every keypoint output [.., 51] into [.., 34] x, y and [.., 17] visibility.
        let (mut si, mut sb) = (Vec::new(), Vec::new());
        for (i, (info, b)) in infos.iter().zip(&bytes).enumerate() {
            if i % 3 != 2 {
                si.push(info.clone());
                sb.push(b.clone());
                continue;
            }
            let vals: Vec<f32> = b
                .chunks_exact(4)
                .map(|c| f32::from_ne_bytes([c[0], c[1], c[2], c[3]]))
                .collect();
            let pick = |keep: &dyn Fn(usize) -> bool| -> Vec<u8> {
                vals.iter()
                    .enumerate()
                    .filter(|(e, _)| keep(e % (3 * K)))
                    .flat_map(|(_, v)| v.to_ne_bytes())
                    .collect()
            };
            let mut shape = info.shape.clone();
            shape[3] = 2 * K;
            si.push(TensorInfo {
                shape: shape.clone(),
                ..info.clone()
            });
            sb.push(pick(&|c| c % 3 != 2));
            shape[3] = K;
            si.push(TensorInfo {
                shape,
                ..info.clone()
            });
            sb.push(pick(&|c| c % 3 == 2));
        }
        let mut split = Detections::default();
        decoder(&si).decode(&sb, &mut split).unwrap();
        assert_eq!(split.persons.len(), 1);
        assert_eq!(split.persons, joined.persons);
        let kp = split.persons[0].keypoints[5];
        assert!(
            (kp.x - 55.0).abs() < 1e-3 && (kp.y - 32.5).abs() < 1e-3,
            "{kp:?}"
        );
        assert!((kp.score - 0.4).abs() < 1e-5);
    }

    #[test]
    fn wrong_output_size_is_an_error() {
        let h = Heads::new();
        let mut d = decoder(&h.infos(ElementType::F32, None));
        let mut bytes = h.float_bytes();
        bytes[4].pop();
        let err = d.decode(&bytes, &mut Detections::default()).unwrap_err();
        assert!(err.to_string().contains("output 4"), "{err}");
    }
}
