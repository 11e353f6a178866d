//! What the tracking tests share: deterministic noise (no `rand`
//! dependency) and a standing person with all 17 keypoints.

use super::TRACK_KEYPOINTS as K;
use crate::frame::{Keypoint, Person};

/// The tests' frame rate.
pub const FPS: f64 = 30.0;
/// COCO's right wrist.
pub const RIGHT_WRIST: usize = 10;

/// Keypoint layout of a standing person, as fractions of its box.
const TEMPLATE: [(f32, f32); K] = [
    (0.50, 0.08),
    (0.45, 0.06),
    (0.55, 0.06),
    (0.40, 0.08),
    (0.60, 0.08),
    (0.30, 0.20),
    (0.70, 0.20),
    (0.20, 0.35),
    (0.80, 0.35),
    (0.15, 0.50),
    (0.85, 0.50),
    (0.38, 0.55),
    (0.62, 0.55),
    (0.38, 0.75),
    (0.62, 0.75),
    (0.38, 0.95),
    (0.62, 0.95),
];

/// A person of box `w` × `h` centred on (`cx`, `cy`), every keypoint at
/// score 0.9.
pub fn person(cx: f32, cy: f32, w: f32, h: f32, score: f32) -> Person {
    let (x1, y1) = (cx - w / 2.0, cy - h / 2.0);
    let mut p = Person {
        bbox: [x1, y1, x1 + w, y1 + h],
        score,
        ..Person::default()
    };
    for (kp, &(u, v)) in p.keypoints.iter_mut().zip(TEMPLATE.iter()) {
        *kp = Keypoint {
            x: x1 + u * w,
            y: y1 + v * h,
            score: 0.9,
        };
    }
    p
}

/// `p` with Gaussian noise of `sigma` px on its box and tracked keypoints.
pub fn noisy(mut p: Person, g: &mut Gauss, sigma: f64) -> Person {
    for c in p.bbox.iter_mut() {
        *c += (sigma * g.next()) as f32;
    }
    for kp in p.keypoints[..K].iter_mut() {
        kp.x += (sigma * g.next()) as f32;
        kp.y += (sigma * g.next()) as f32;
    }
    p
}

/// Standard normal samples: a 64-bit LCG (Knuth's MMIX constants) feeding
/// the Box-Muller transform.
pub struct Gauss {
    state: u64,
    spare: Option<f64>,
}

impl Gauss {
    pub fn new(seed: u64) -> Self {
        Self {
            state: seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1,
            spare: None,
        }
    }

    /// Uniform in (0, 1].
    fn uniform(&mut self) -> f64 {
        self.state = self
            .state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((self.state >> 11) as f64 + 1.0) / (1u64 << 53) as f64
    }

    /// One N(0, 1) sample.
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> f64 {
        if let Some(z) = self.spare.take() {
            return z;
        }
        let (u1, u2) = (self.uniform(), self.uniform());
        let r = (-2.0 * u1.ln()).sqrt();
        let th = 2.0 * std::f64::consts::PI * u2;
        self.spare = Some(r * th.sin());
        r * th.cos()
    }
}

/// Population standard deviation.
pub fn std_dev(v: &[f64]) -> f64 {
    let n = v.len() as f64;
    let mean = v.iter().sum::<f64>() / n;
    (v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n).sqrt()
}
