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
