//! TI YOLO-Pose family (the ReLU "ti_lite" models of TI's edgeai-yolov5
//! `yolo-pose` branch), YOLOv7-pose, and the rows of Ultralytics' NMS-free
//! end-to-end export (YOLO26-pose), which have TI's NMS export's columns.
//!
//! - [`AnchorDecoder`]: the raw heads, one output per stride, 3 anchors per
//!   cell, `6 + 3K` values per anchor (box 4, objectness, class, K × (x, y,
//!   conf)). As in YOLOv5: `xy = (σ(t)·2 − 0.5 + grid)·stride`,
//!   `wh = (σ(t)·2)²·anchor`, score = σ(obj)·σ(cls); keypoints
//!   `(raw·2 − 0.5 + grid)·stride` (no sigmoid), conf = σ(raw). Heads may be
//!   `[1, A, H, W, 6+3K]` or NHWC `[1, H, W, A·(6+3K)]`.
//! - [`FlatDecoder`] for already-decoded rows: TI's export with NMS in the
//!   graph, `[N, 6+3K]`, and Ultralytics' end-to-end export, `[1, N, 6+3K]`
//!   (N = its `max_det`, 300 by default, padding rows scoring 0) = x1, y1,
//!   x2, y2, score, class, keypoints (one row per person: no NMS, best
//!   first, at most `max_detections`); and YOLOv7-pose `[1, N, 6+3K]` = cx,
//!   cy, w, h, obj, cls, keypoints (score = obj·cls, then NMS).

use super::{
    check_len, shapes, sigmoid, Candidates, DecodeError, DecodeParams, Decoder, Dequant,
    Detections, Emit, Keypoint, Outputs, MAX_KEYPOINTS,
};
use crate::model::heads::{head_geometry, HeadGeometry};
use crate::model::{Coords, Layout, TensorInfo};

struct Head {
    info: TensorInfo,
    deq: Dequant,
    geom: HeadGeometry,
    stride: f32,
    anchors: Vec<[f32; 2]>,
}

impl Head {
    #[inline]
    fn base(&self, a: usize, y: usize, x: usize, per: usize) -> usize {
        let na = self.anchors.len();
        if self.geom.anchor_major {
            ((a * self.geom.h + y) * self.geom.w + x) * per
        } else {
            ((y * self.geom.w + x) * na + a) * per
        }
    }
}

/// Decoder for TI's raw anchor-based heads.
pub struct AnchorDecoder {
    heads: Vec<Head>,
    k: usize,
    params: DecodeParams,
    candidates: Candidates,
}

/// A candidate's index packs its head (the top 8 bits) and the element
/// offset in that head's output (the rest: 56 bits on 64-bit targets, 24 on
/// 32-bit ARM).
const ANCHOR_INDEX_BITS: usize = usize::BITS as usize - 8;

impl AnchorDecoder {
    pub fn new(
        outputs: &[TensorInfo],
        k: usize,
        strides: &[f32],
        anchors: &[Vec<[f32; 2]>],
        params: DecodeParams,
    ) -> Result<Self, DecodeError> {
        let per = 6 + 3 * k;
        let err = |why: String| DecodeError::Layout {
            layout: "ti-anchor",
            shapes: shapes(outputs),
            why,
        };
        if k > MAX_KEYPOINTS || outputs.len() != strides.len() || anchors.len() != strides.len() {
            return Err(err(format!(
                "{} outputs for {} strides and {} anchor sets",
                outputs.len(),
                strides.len(),
                anchors.len()
            )));
        }
        let mut heads = Vec::new();
        let mut total = 0;
        for ((info, &stride), a) in outputs.iter().zip(strides).zip(anchors) {
            let geom = head_geometry(&info.shape, a.len(), per).ok_or_else(|| {
                err(format!(
                    "head {:?} is neither [1,{},H,W,{per}] nor [1,H,W,{}]",
                    info.shape,
                    a.len(),
                    a.len() * per
                ))
            })?;
            total += geom.h * geom.w * a.len();
            if heads.len() >= 1 << (usize::BITS as usize - ANCHOR_INDEX_BITS)
                || geom.h * geom.w * a.len() * per >= 1 << ANCHOR_INDEX_BITS
            {
                return Err(err(format!("head {:?} is too large", info.shape)));
            }
            heads.push(Head {
                info: info.clone(),
                deq: Dequant::new(info),
                geom,
                stride,
                anchors: a.clone(),
            });
        }
        Ok(Self {
            heads,
            k,
            params,
            candidates: Candidates::with_capacity(total),
        })
    }
}

impl Decoder for AnchorDecoder {
    fn decode(&mut self, outputs: &dyn Outputs, out: &mut Detections) -> Result<(), DecodeError> {
        let per = 6 + 3 * self.k;
        self.candidates.clear();
        for (hi, head) in self.heads.iter().enumerate() {
            let bytes = outputs.output(hi);
            check_len(hi, &head.info, bytes)?;
            for a in 0..head.anchors.len() {
                for y in 0..head.geom.h {
                    for x in 0..head.geom.w {
                        let b = head.base(a, y, x, per);
                        let v = |c: usize| head.deq.get(bytes, b + c);
                        let score = sigmoid(v(4)) * sigmoid(v(5));
                        if score <= self.params.conf_threshold {
                            continue;
                        }
                        let cx = (sigmoid(v(0)) * 2.0 - 0.5 + x as f32) * head.stride;
                        let cy = (sigmoid(v(1)) * 2.0 - 0.5 + y as f32) * head.stride;
                        let w = (sigmoid(v(2)) * 2.0).powi(2) * head.anchors[a][0];
                        let h = (sigmoid(v(3)) * 2.0).powi(2) * head.anchors[a][1];
                        self.candidates.push(
                            [cx - w / 2.0, cy - h / 2.0, cx + w / 2.0, cy + h / 2.0],
                            score,
                            (hi << ANCHOR_INDEX_BITS) | b,
                            cx.abs().max(cy.abs()),
                        );
                    }
                }
            }
        }
        let emit = Emit {
            centre_size: false,
            coords: Coords::Pixels,
            input_wh: [1.0, 1.0],
            iou_threshold: self.params.iou_threshold,
        };
        let heads = &self.heads;
        self.candidates
            .emit(emit, &self.params, self.k, out, |index, kps| {
                let hi = index >> ANCHOR_INDEX_BITS;
                let head = &heads[hi];
                let b = index & ((1 << ANCHOR_INDEX_BITS) - 1);
                let bytes = outputs.output(hi);
                let cell = b / per;
                let (x, y) = if head.geom.anchor_major {
                    (cell % head.geom.w, (cell / head.geom.w) % head.geom.h)
                } else {
                    let pos = cell / head.anchors.len();
                    (pos % head.geom.w, pos / head.geom.w)
                };
                for (j, kp) in kps.iter_mut().enumerate() {
                    let v = |o: usize| head.deq.get(bytes, b + 6 + 3 * j + o);
                    *kp = Keypoint {
                        x: (v(0) * 2.0 - 0.5 + x as f32) * head.stride,
                        y: (v(1) * 2.0 - 0.5 + y as f32) * head.stride,
                        score: sigmoid(v(2)),
                    };
                }
            });
        Ok(())
    }
}

/// Decoder for decoded rows: TI NMS-in-graph `[N, 6+3K]`, Ultralytics
/// end-to-end `[1, N, 6+3K]` or YOLOv7-pose `[1, N, 6+3K]`.
pub struct FlatDecoder {
    layout: Layout,
    info: TensorInfo,
    deq: Dequant,
    k: usize,
    rows: usize,
    input_wh: [f32; 2],
    coords: Coords,
    params: DecodeParams,
    candidates: Candidates,
}

impl FlatDecoder {
    pub fn new(
        layout: Layout,
        info: &TensorInfo,
        k: usize,
        input_wh: [f32; 2],
        coords: Coords,
        params: DecodeParams,
    ) -> Result<Self, DecodeError> {
        let per = 6 + 3 * k;
        let rows = match (layout, info.shape.as_slice()) {
            (Layout::TiNms, [n, c]) if *c == per => *n,
            (Layout::Yolov7Pose | Layout::YoloEndToEnd, [1, n, c]) if *c == per => *n,
            _ => {
                return Err(DecodeError::Layout {
                    layout: layout.name(),
                    shapes: shapes(std::slice::from_ref(info)),
                    why: format!("expected rows of {per} values"),
                })
            }
        };
        Ok(Self {
            layout,
            info: info.clone(),
            deq: Dequant::new(info),
            k: k.min(MAX_KEYPOINTS),
            rows,
            input_wh,
            coords,
            params,
            candidates: Candidates::with_capacity(rows),
        })
    }
}

impl Decoder for FlatDecoder {
    fn decode(&mut self, outputs: &dyn Outputs, out: &mut Detections) -> Result<(), DecodeError> {
        let bytes = outputs.output(0);
        check_len(0, &self.info, bytes)?;
        let per = 6 + 3 * self.k;
        self.candidates.clear();
        let deq = self.deq;
        let v = |r: usize, c: usize| deq.get(bytes, r * per + c);
        // Rows that are already one per person (NMS in the graph or none
        // needed) are kept best first, ties in row order, with no suppression.
        let one_per_person = matches!(self.layout, Layout::TiNms | Layout::YoloEndToEnd);
        for r in 0..self.rows {
            let (bbox, score) = match self.layout {
                Layout::TiNms | Layout::YoloEndToEnd => {
                    ([v(r, 0), v(r, 1), v(r, 2), v(r, 3)], v(r, 4))
                }
                _ => {
                    let (cx, cy, w, h) = (v(r, 0), v(r, 1), v(r, 2), v(r, 3));
                    (
                        [cx - w / 2.0, cy - h / 2.0, cx + w / 2.0, cy + h / 2.0],
                        v(r, 4) * v(r, 5),
                    )
                }
            };
            if score > self.params.conf_threshold {
                let extent = bbox[0].abs().max(bbox[1].abs());
                self.candidates.push(bbox, score, r, extent);
            }
        }
        let emit = Emit {
            centre_size: false,
            coords: self.coords,
            input_wh: self.input_wh,
            iou_threshold: if one_per_person {
                f32::INFINITY
            } else {
                self.params.iou_threshold
            },
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

    fn logit(p: f32) -> f32 {
        (p / (1.0 - p)).ln()
    }

    const ANCHORS: [[[f32; 2]; 3]; 3] = [
        [[19.0, 27.0], [44.0, 40.0], [38.0, 94.0]],
        [[96.0, 68.0], [86.0, 152.0], [180.0, 137.0]],
        [[140.0, 301.0], [303.0, 264.0], [238.0, 542.0]],
    ];

    struct Planted {
        head: usize,
        anchor: usize,
        gx: usize,
        gy: usize,
        cx: f32,
        cy: f32,
        w: f32,
        h: f32,
        score: f32,
        kpts: Vec<(f32, f32, f32)>,
    }

    /// Writes one anchor's raw values from the decoding formulas, inverted.
    fn plant(t: &mut [f32], geom: HeadGeometry, na: usize, stride: f32, p: &Planted) {
        let per = 57;
        let b = if geom.anchor_major {
            ((p.anchor * geom.h + p.gy) * geom.w + p.gx) * per
        } else {
            ((p.gy * geom.w + p.gx) * na + p.anchor) * per
        };
        let a = ANCHORS[p.head][p.anchor];
        t[b] = logit((p.cx / stride - p.gx as f32 + 0.5) / 2.0);
        t[b + 1] = logit((p.cy / stride - p.gy as f32 + 0.5) / 2.0);
        t[b + 2] = logit((p.w / a[0]).sqrt() / 2.0);
        t[b + 3] = logit((p.h / a[1]).sqrt() / 2.0);
        t[b + 4] = logit(p.score.sqrt());
        t[b + 5] = logit(p.score.sqrt());
        for (j, &(x, y, c)) in p.kpts.iter().enumerate() {
            t[b + 6 + 3 * j] = (x / stride - p.gx as f32 + 0.5) / 2.0;
            t[b + 7 + 3 * j] = (y / stride - p.gy as f32 + 0.5) / 2.0;
            t[b + 8 + 3 * j] = logit(c);
        }
    }

    fn heads(anchor_major: bool, quant: Option<Quant>) -> (Vec<TensorInfo>, Vec<Vec<f32>>) {
        let sizes = [(40, 40), (20, 20), (10, 10)];
        let mut infos = Vec::new();
        let mut data = Vec::new();
        for (i, &(h, w)) in sizes.iter().enumerate() {
            let shape = if anchor_major {
                vec![1, 3, h, w, 57]
            } else {
                vec![1, h, w, 171]
            };
            infos.push(TensorInfo {
                name: format!("head{i}"),
                shape,
                dtype: if quant.is_some() {
                    ElementType::I8
                } else {
                    ElementType::F32
                },
                quant,
            });
            data.push(vec![-8.0f32; h * w * 171]); // all scores ≈ 0
        }
        (infos, data)
    }

    fn run(anchor_major: bool, quant: Option<Quant>) {
        let (infos, mut data) = heads(anchor_major, quant);
        let kpts: Vec<(f32, f32, f32)> = (0..17)
            .map(|j| {
                (
                    100.0 + j as f32 * 3.0,
                    150.0 + j as f32 * 2.0,
                    if j % 2 == 0 { 0.9 } else { 0.2 },
                )
            })
            .collect();
        let people = [
            Planted {
                head: 1,
                anchor: 1,
                gx: 6,
                gy: 11,
                cx: 110.0,
                cy: 180.0,
                w: 80.0,
                h: 160.0,
                score: 0.81,
                kpts: kpts.clone(),
            },
            Planted {
                head: 0,
                anchor: 2,
                gx: 30,
                gy: 12,
                cx: 243.0,
                cy: 99.0,
                w: 36.0,
                h: 90.0,
                score: 0.64,
                kpts: kpts.clone(),
            },
        ];
        let strides = [8.0, 16.0, 32.0];
        for p in &people {
            let geom = head_geometry(&infos[p.head].shape, 3, 57).unwrap();
            plant(&mut data[p.head], geom, 3, strides[p.head], p);
        }
        let bytes: Vec<Vec<u8>> = data
            .iter()
            .map(|t| match quant {
                None => t.iter().flat_map(|v| v.to_ne_bytes()).collect(),
                Some(q) => t
                    .iter()
                    .map(|&v| {
                        ((v / q.scale).round() as i32 + q.zero_point).clamp(-128, 127) as i8 as u8
                    })
                    .collect(),
            })
            .collect();
        let anchors: Vec<Vec<[f32; 2]>> = ANCHORS.iter().map(|a| a.to_vec()).collect();
        let mut d =
            AnchorDecoder::new(&infos, 17, &strides, &anchors, DecodeParams::default()).unwrap();
        let mut out = Detections::default();
        d.decode(&bytes, &mut out).unwrap();
        assert_eq!(
            out.persons.len(),
            2,
            "{:?}",
            out.persons.iter().map(|p| p.score).collect::<Vec<_>>()
        );
        // Quantization of the raw values (step 1/8: up to 4 px per step at stride 16) costs accuracy.
        let tol = if quant.is_some() { 2.5 } else { 1e-2 };
        for (got, want) in out.persons.iter().zip(&people) {
            assert!(
                (got.score - want.score).abs() < if quant.is_some() { 0.03 } else { 1e-4 },
                "{} vs {}",
                got.score,
                want.score
            );
            let bb = [
                want.cx - want.w / 2.0,
                want.cy - want.h / 2.0,
                want.cx + want.w / 2.0,
                want.cy + want.h / 2.0,
            ];
            for (g, w) in got.bbox.iter().zip(bb) {
                assert!((g - w).abs() < tol * 2.0, "box {:?} vs {bb:?}", got.bbox);
            }
            for (g, w) in got.keypoints.iter().zip(&want.kpts) {
                assert!(
                    (g.x - w.0).abs() < tol && (g.y - w.1).abs() < tol,
                    "kpt {g:?} vs {w:?}"
                );
                assert!((g.score - w.2).abs() < 0.03);
            }
        }
    }

    #[test]
    fn raw_heads_anchor_major_float() {
        run(true, None);
    }

    #[test]
    fn raw_heads_nhwc_float() {
        run(false, None);
    }

    #[test]
    fn raw_heads_int8_nonzero_zero_point() {
        run(
            true,
            Some(Quant {
                scale: 1.0 / 8.0,
                zero_point: 3,
            }),
        );
    }

    fn flat_rows(rows: &[[f32; 57]]) -> Vec<u8> {
        rows.iter()
            .flatten()
            .flat_map(|v| v.to_ne_bytes())
            .collect()
    }

    fn kp_row(head: [f32; 6]) -> [f32; 57] {
        let mut r = [0f32; 57];
        r[..6].copy_from_slice(&head);
        for j in 0..17 {
            r[6 + 3 * j] = 200.0 + j as f32;
            r[7 + 3 * j] = 50.0 + j as f32;
            r[8 + 3 * j] = 0.7;
        }
        r
    }

    #[test]
    fn ti_nms_rows_are_kept_without_further_nms() {
        let rows = [
            kp_row([10.0, 20.0, 110.0, 220.0, 0.9, 0.0]),
            kp_row([12.0, 20.0, 112.0, 220.0, 0.8, 0.0]), // overlaps #0 but NMS already ran
            kp_row([0.0, 0.0, 0.0, 0.0, 0.0, 0.0]),       // padding row
        ];
        let info = TensorInfo {
            name: "o".into(),
            shape: vec![3, 57],
            dtype: ElementType::F32,
            quant: None,
        };
        let mut d = FlatDecoder::new(
            Layout::TiNms,
            &info,
            17,
            [640.0, 640.0],
            Coords::Pixels,
            DecodeParams::default(),
        )
        .unwrap();
        let mut out = Detections::default();
        d.decode(&vec![flat_rows(&rows)], &mut out).unwrap();
        assert_eq!(out.persons.len(), 2);
        assert_eq!(out.persons[0].bbox, [10.0, 20.0, 110.0, 220.0]);
        assert_eq!(
            out.persons[1].keypoints[16],
            Keypoint {
                x: 216.0,
                y: 66.0,
                score: 0.7
            }
        );
    }

    #[test]
    fn yolov7_rows_multiply_obj_and_cls_and_run_nms() {
        let rows = [
            kp_row([100.0, 100.0, 50.0, 100.0, 0.9, 0.9]),
            kp_row([101.0, 100.0, 50.0, 100.0, 0.9, 0.8]), // duplicate
            kp_row([300.0, 300.0, 50.0, 100.0, 0.5, 0.4]), // 0.2 < 0.25
        ];
        let info = TensorInfo {
            name: "o".into(),
            shape: vec![1, 3, 57],
            dtype: ElementType::F32,
            quant: None,
        };
        let mut d = FlatDecoder::new(
            Layout::Yolov7Pose,
            &info,
            17,
            [640.0, 640.0],
            Coords::Auto,
            DecodeParams::default(),
        )
        .unwrap();
        let mut out = Detections::default();
        d.decode(&vec![flat_rows(&rows)], &mut out).unwrap();
        assert_eq!(out.persons.len(), 1);
        assert!((out.persons[0].score - 0.81).abs() < 1e-6);
        assert_eq!(out.persons[0].bbox, [75.0, 50.0, 125.0, 150.0]);
    }

    /// YOLO26 end-to-end rows: x1, y1, x2, y2, score, class, 17 × (x, y, v).
    const PER: usize = 57;

    /// A `[1, 300, 57]` tensor with `rows` written at the top, zeros after
    /// (as the export pads).
    fn e2e_tensor(rows: &[[f32; PER]]) -> Vec<f32> {
        let mut t = vec![0f32; 300 * PER];
        for (r, row) in rows.iter().enumerate() {
            t[r * PER..(r + 1) * PER].copy_from_slice(row);
        }
        t
    }

    fn e2e_row(b: [f32; 4], score: f32, kx: f32) -> [f32; PER] {
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

    fn e2e_info(dtype: ElementType, quant: Option<Quant>) -> TensorInfo {
        TensorInfo {
            name: "output0".into(),
            shape: vec![1, 300, PER],
            dtype,
            quant,
        }
    }

    fn e2e_bytes(t: &[f32]) -> Vec<Vec<u8>> {
        vec![t.iter().flat_map(|v| v.to_ne_bytes()).collect()]
    }

    #[test]
    fn overlapping_persons_are_all_kept_without_nms() {
        // Two heavily overlapping boxes (IoU ≈ 0.9): NMS at 0.7 would drop
        // one; the end-to-end output is already one row per person.
        let t = e2e_tensor(&[
            e2e_row([0.2, 0.2, 0.6, 0.8], 0.9, 0.3),
            e2e_row([0.21, 0.2, 0.6, 0.8], 0.85, 0.31),
            e2e_row([0.7, 0.1, 0.9, 0.5], 0.1, 0.8), // below 0.25
        ]);
        let mut d = FlatDecoder::new(
            Layout::YoloEndToEnd,
            &e2e_info(ElementType::F32, None),
            17,
            [320.0, 320.0],
            Coords::Auto,
            DecodeParams::default(),
        )
        .unwrap();
        let mut out = Detections::default();
        d.decode(&e2e_bytes(&t), &mut out).unwrap();
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
        let t = e2e_tensor(&[
            e2e_row([10.0, 10.0, 50.0, 90.0], 0.4, 20.0),
            e2e_row([100.0, 10.0, 150.0, 90.0], 0.95, 120.0),
            e2e_row([200.0, 10.0, 250.0, 90.0], 0.6, 220.0),
        ]);
        let params = DecodeParams {
            max_detections: 2,
            ..DecodeParams::default()
        };
        let mut d = FlatDecoder::new(
            Layout::YoloEndToEnd,
            &e2e_info(ElementType::F32, None),
            17,
            [320.0, 320.0],
            Coords::Auto,
            params,
        )
        .unwrap();
        let mut out = Detections::default();
        d.decode(&e2e_bytes(&t), &mut out).unwrap();
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
        let t = e2e_tensor(&[e2e_row([0.25, 0.25, 0.5, 0.75], 0.8, 0.3)]);
        let b: Vec<u8> = t
            .iter()
            .map(|&v| ((v / q.scale).round() as i32 + q.zero_point).clamp(-128, 127) as i8 as u8)
            .collect();
        let mut d = FlatDecoder::new(
            Layout::YoloEndToEnd,
            &e2e_info(ElementType::I8, Some(q)),
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
            ..e2e_info(ElementType::F32, None)
        };
        let e = FlatDecoder::new(
            Layout::YoloEndToEnd,
            &i,
            17,
            [320.0, 320.0],
            Coords::Auto,
            DecodeParams::default(),
        );
        assert!(e.is_err());
    }
}
