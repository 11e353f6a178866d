//! Shapes of raw per-anchor detection heads, as both the manifest check
//! (does a model's output fit its declared layout?) and the decoders need
//! them.

/// Geometry of one raw head.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeadGeometry {
    pub h: usize,
    pub w: usize,
    /// `[1, A, H, W, C]` when true, `[1, H, W, A·C]` when false.
    pub anchor_major: bool,
}

/// Recognises a head shape for `na` anchors of `per` values each.
pub fn head_geometry(shape: &[usize], na: usize, per: usize) -> Option<HeadGeometry> {
    match *shape {
        [1, a, h, w, c] if a == na && c == per => Some(HeadGeometry {
            h,
            w,
            anchor_major: true,
        }),
        [1, h, w, c] if c == na * per => Some(HeadGeometry {
            h,
            w,
            anchor_major: false,
        }),
        _ => None,
    }
}

/// One stride of an Ultralytics anchor-free pose model cut before its
/// decode: the indices (into the model's outputs) of its three NHWC heads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawLevel {
    pub stride: usize,
    pub h: usize,
    pub w: usize,
    /// `[1, h, w, 4·reg_max]`: the box sides' distributions (DFL).
    pub boxes: usize,
    /// `[1, h, w, classes]`: class logits (the person score).
    pub scores: usize,
    /// `[1, h, w, 3K]`: raw keypoint x, y, visibility; or, with
    /// `visibility`, `[1, h, w, 2K]`: raw x, y only.
    pub keypoints: usize,
    /// `[1, h, w, K]`: the visibility logits, when split from the keypoints.
    pub visibility: Option<usize>,
    pub reg_max: usize,
    pub classes: usize,
}

/// Groups raw head outputs (shapes `[1, h, w, c]`, any order) into strides
/// of an `input_hw` input: per stride, one head of `3k` channels
/// (keypoints) or two of `2k` and `k` channels (keypoint x, y and
/// visibility), one of `4·R` channels with `R ≥ 2` (box distribution) and
/// one with the rest (class logits). Strides come out ascending.
pub fn raw_levels(
    shapes: &[&[usize]],
    k: usize,
    input_hw: (usize, usize),
) -> Result<Vec<RawLevel>, String> {
    let (ih, iw) = input_hw;
    /// (stride, h, w, heads as (output index, channels)).
    type Group = (usize, usize, usize, Vec<(usize, usize)>);
    let mut groups: Vec<Group> = Vec::new();
    for (i, s) in shapes.iter().enumerate() {
        let [1, h, w, c] = **s else {
            return Err(format!("output {i} {s:?} is not an NHWC head [1, h, w, c]"));
        };
        if h == 0
            || w == 0
            || c == 0
            || !ih.is_multiple_of(h)
            || !iw.is_multiple_of(w)
            || ih / h != iw / w
        {
            return Err(format!(
                "output {i} {s:?} is not a feature map of the {ih}x{iw} input at an integer stride"
            ));
        }
        let stride = ih / h;
        match groups.iter_mut().find(|g| g.0 == stride) {
            Some(g) => g.3.push((i, c)),
            None => groups.push((stride, h, w, vec![(i, c)])),
        }
    }
    if groups.is_empty() {
        return Err("no outputs".into());
    }
    groups.sort_by_key(|g| g.0);
    let mut levels = Vec::with_capacity(groups.len());
    for (stride, h, w, heads) in groups {
        let err = || {
            let cs: Vec<usize> = heads.iter().map(|x| x.1).collect();
            format!(
                "stride {stride}: head channels {cs:?}; expected three heads: 4·R box \
                 distribution, class logits and {} keypoint values",
                3 * k
            )
        };
        let with = |c: usize| heads.iter().filter(move |x| x.1 == c);
        let (kp, vis) = match heads.len() {
            3 => match with(3 * k).collect::<Vec<_>>().as_slice() {
                [kp] => (**kp, None),
                _ => return Err(err()),
            },
            4 => match (
                with(2 * k).collect::<Vec<_>>().as_slice(),
                with(k).collect::<Vec<_>>().as_slice(),
            ) {
                ([xy], [v]) => (**xy, Some(**v)),
                _ => return Err(err()),
            },
            _ => return Err(err()),
        };
        let rest: Vec<_> = heads
            .iter()
            .filter(|x| x.0 != kp.0 && Some(x.0) != vis.map(|v| v.0))
            .collect();
        let is_box = |c: usize| c.is_multiple_of(4) && c >= 8;
        let (b, s) = match (is_box(rest[0].1), is_box(rest[1].1)) {
            (true, false) => (rest[0], rest[1]),
            (false, true) => (rest[1], rest[0]),
            // Both fit: the class head is the narrower one.
            (true, true) if rest[0].1 != rest[1].1 => {
                if rest[0].1 > rest[1].1 {
                    (rest[0], rest[1])
                } else {
                    (rest[1], rest[0])
                }
            }
            _ => return Err(err()),
        };
        levels.push(RawLevel {
            stride,
            h,
            w,
            boxes: b.0,
            scores: s.0,
            keypoints: kp.0,
            visibility: vis.map(|v| v.0),
            reg_max: b.1 / 4,
            classes: s.1,
        });
    }
    let first = levels[0];
    if levels
        .iter()
        .any(|l| l.reg_max != first.reg_max || l.classes != first.classes)
    {
        return Err("the strides' heads differ in box or class channels".into());
    }
    Ok(levels)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_levels_group_by_stride_in_any_order() {
        let shapes: Vec<&[usize]> = vec![
            &[1, 10, 10, 51],
            &[1, 40, 40, 1],
            &[1, 40, 40, 64],
            &[1, 10, 10, 64],
            &[1, 20, 20, 51],
            &[1, 20, 20, 1],
            &[1, 40, 40, 51],
            &[1, 20, 20, 64],
            &[1, 10, 10, 1],
        ];
        let l = raw_levels(&shapes, 17, (320, 320)).unwrap();
        assert_eq!(l.len(), 3);
        assert_eq!(
            (l[0].stride, l[0].boxes, l[0].scores, l[0].keypoints),
            (8, 2, 1, 6)
        );
        assert_eq!(
            (l[2].stride, l[2].boxes, l[2].scores, l[2].keypoints),
            (32, 3, 8, 0)
        );
        assert_eq!((l[1].reg_max, l[1].classes), (16, 1));
    }

    #[test]
    fn raw_levels_reject_a_missing_head_or_odd_stride() {
        let two: Vec<&[usize]> = vec![&[1, 40, 40, 64], &[1, 40, 40, 51]];
        let e = raw_levels(&two, 17, (320, 320)).unwrap_err();
        assert!(e.contains("stride 8"), "{e}");
        let odd: Vec<&[usize]> = vec![&[1, 30, 40, 64]];
        assert!(raw_levels(&odd, 17, (320, 320)).is_err());
        let flat: Vec<&[usize]> = vec![&[1, 56, 2100]];
        assert!(raw_levels(&flat, 17, (320, 320)).is_err());
    }

    #[test]
    fn raw_levels_take_keypoints_split_into_xy_and_visibility() {
        let shapes: Vec<&[usize]> = vec![
            &[1, 8, 8, 64],
            &[1, 8, 8, 1],
            &[1, 8, 8, 34],
            &[1, 8, 8, 17],
            &[1, 4, 4, 17],
            &[1, 4, 4, 34],
            &[1, 4, 4, 1],
            &[1, 4, 4, 64],
        ];
        let l = raw_levels(&shapes, 17, (64, 64)).unwrap();
        assert_eq!(l.len(), 2);
        assert_eq!(
            (l[0].boxes, l[0].scores, l[0].keypoints, l[0].visibility),
            (0, 1, 2, Some(3))
        );
        assert_eq!(
            (l[1].stride, l[1].keypoints, l[1].visibility),
            (16, 5, Some(4))
        );
        // A split head without its visibility half is refused.
        let half: Vec<&[usize]> = vec![&[1, 8, 8, 64], &[1, 8, 8, 1], &[1, 8, 8, 34]];
        assert!(raw_levels(&half, 17, (64, 64)).is_err());
    }
}
