//! Class-agnostic greedy non-maximum suppression, as torchvision's `nms`
//! computes it (areas without the +1 pixel convention), over candidates in
//! descending score order with ties kept in anchor order.

/// A candidate before NMS: box `[x1,y1,x2,y2]`, score and an index the
/// decoder uses to find the rest of its values.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Candidate {
    pub bbox: [f32; 4],
    pub score: f32,
    pub index: usize,
}

/// Intersection over union of two `[x1,y1,x2,y2]` boxes.
pub fn iou(a: &[f32; 4], b: &[f32; 4]) -> f32 {
    let iw = (a[2].min(b[2]) - a[0].max(b[0])).max(0.0);
    let ih = (a[3].min(b[3]) - a[1].max(b[1])).max(0.0);
    let inter = iw * ih;
    let area_a = (a[2] - a[0]).max(0.0) * (a[3] - a[1]).max(0.0);
    let area_b = (b[2] - b[0]).max(0.0) * (b[3] - b[1]).max(0.0);
    let union = area_a + area_b - inter;
    if union <= 0.0 {
        0.0
    } else {
        inter / union
    }
}

/// Sorts `candidates` by descending score (ties by ascending index, so the
/// order is deterministic without a stable sort's scratch allocation),
/// truncates to `max_candidates`, and keeps in place the survivors of NMS
/// at `iou_threshold`, at most `max_keep` of them.
pub fn nms(
    candidates: &mut Vec<Candidate>,
    iou_threshold: f32,
    max_candidates: usize,
    max_keep: usize,
) {
    candidates.sort_unstable_by(|a, b| {
        b.score
            .total_cmp(&a.score)
            .then_with(|| a.index.cmp(&b.index))
    });
    candidates.truncate(max_candidates);
    let mut kept = 0;
    for i in 0..candidates.len() {
        if kept == max_keep {
            break;
        }
        let c = candidates[i];
        if candidates[..kept]
            .iter()
            .all(|k| iou(&k.bbox, &c.bbox) <= iou_threshold)
        {
            candidates[kept] = c;
            kept += 1;
        }
    }
    candidates.truncate(kept);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(bbox: [f32; 4], score: f32, index: usize) -> Candidate {
        Candidate { bbox, score, index }
    }

    #[test]
    fn iou_of_known_boxes() {
        assert_eq!(iou(&[0.0, 0.0, 10.0, 10.0], &[0.0, 0.0, 10.0, 10.0]), 1.0);
        assert_eq!(iou(&[0.0, 0.0, 10.0, 10.0], &[10.0, 0.0, 20.0, 10.0]), 0.0);
        // half overlap: inter 50, union 150
        assert!((iou(&[0.0, 0.0, 10.0, 10.0], &[5.0, 0.0, 15.0, 10.0]) - 1.0 / 3.0).abs() < 1e-6);
    }

    #[test]
    fn suppresses_above_threshold_keeps_at_threshold_and_orders_by_score() {
        let mut v = vec![
            c([0.0, 0.0, 10.0, 10.0], 0.5, 0),
            c([1.0, 0.0, 11.0, 10.0], 0.9, 1), // IoU with #0 = 90/110 = 0.818
            c([50.0, 50.0, 60.0, 60.0], 0.7, 2),
            c([5.0, 0.0, 15.0, 10.0], 0.6, 3), // IoU with #1 = 60/140 = 0.43
        ];
        nms(&mut v, 0.7, 100, 100);
        let idx: Vec<usize> = v.iter().map(|c| c.index).collect();
        assert_eq!(idx, vec![1, 2, 3]);
    }

    #[test]
    fn equal_scores_keep_lower_index_first() {
        let mut v = vec![
            c([0.0, 0.0, 10.0, 10.0], 0.8, 7),
            c([0.5, 0.0, 10.5, 10.0], 0.8, 3),
        ];
        nms(&mut v, 0.7, 100, 100);
        assert_eq!(v.len(), 1);
        assert_eq!(v[0].index, 3);
    }

    #[test]
    fn max_keep_limits_results() {
        let mut v: Vec<Candidate> = (0..10)
            .map(|i| c([i as f32 * 20.0, 0.0, i as f32 * 20.0 + 10.0, 10.0], 0.5, i))
            .collect();
        nms(&mut v, 0.7, 100, 4);
        assert_eq!(v.len(), 4);
    }
}
