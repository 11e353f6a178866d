//! Fixed-point conversions of the payload's values (see the crate docs'
//! *Fixed point*): exact rounding half away from zero without `std`.

use crate::{COORD_SCALE, SCORE_SCALE};

/// Rounds half away from zero without `std` (NaN → 0; `as` saturates).
///
/// Not `(v ± 0.5) as i32`: that addition itself rounds, taking the largest
/// `f32` below ½ up to 1 (so 0.12499999 px became ¼ px) and, from 2²³ up,
/// odd integers to the next even one. The fraction left after truncation
/// is exact below 2²³, and every `f32` from there up is an integer.
fn round_i32(v: f32) -> i32 {
    const INTEGRAL: f32 = 8_388_608.0; // 2^23
    let t = v as i32;
    if !(-INTEGRAL..INTEGRAL).contains(&v) {
        return t; // integral already, saturated, or NaN (→ 0)
    }
    let frac = v - t as f32;
    if frac >= 0.5 {
        t + 1
    } else if frac <= -0.5 {
        t - 1
    } else {
        t
    }
}

/// [`round_i32`] for non-negative `f64` into `u64` (negative and NaN → 0,
/// saturating); every `f64` from 2⁵² up is an integer.
fn round_u64(v: f64) -> u64 {
    const INTEGRAL: f64 = 4_503_599_627_370_496.0; // 2^52
    if v.is_nan() || v < 0.0 {
        return 0;
    }
    let t = v as u64;
    if v < INTEGRAL && v - t as f64 >= 0.5 {
        t + 1
    } else {
        t
    }
}

/// Pixels → ¼-pixel units, clamped to `i16`.
pub fn quantize_coord(v: f32) -> i16 {
    round_i32(v * COORD_SCALE).clamp(i16::MIN as i32, i16::MAX as i32) as i16
}

/// ¼-pixel units → pixels.
pub fn dequantize_coord(q: i16) -> f32 {
    q as f32 / COORD_SCALE
}

/// Score in 0 … 1 → `u8` (clamped).
pub fn quantize_score(s: f32) -> u8 {
    let s = if s > 1.0 {
        1.0
    } else if s >= 0.0 {
        s
    } else {
        0.0
    };
    // The product in f64, where it is exact: in f32 it can itself round up
    // to a half step (0.96274507 × 255 = 245.4999930 became 245.5 → 246).
    round_u64(s as f64 * SCORE_SCALE as f64) as u8
}

/// `u8` → score in 0 … 1.
pub fn dequantize_score(q: u8) -> f32 {
    q as f32 / SCORE_SCALE
}

/// Milliseconds → whole microseconds (negative and NaN → 0, saturating).
pub fn timestamp_us(ms: f64) -> u64 {
    round_u64(ms * 1000.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_point_rounds_and_clamps() {
        assert_eq!(quantize_coord(0.125), 1); // half away from zero
        assert_eq!(quantize_coord(-0.125), -1);
        assert_eq!(quantize_coord(0.12), 0);
        assert_eq!(quantize_coord(8191.75), 32767);
        assert_eq!(quantize_coord(9000.0), 32767);
        assert_eq!(quantize_coord(-9000.0), -32768);
        assert_eq!(quantize_coord(f32::NAN), 0);
        assert_eq!(quantize_coord(f32::INFINITY), 32767);
        assert_eq!(quantize_score(1.5), 255);
        assert_eq!(quantize_score(-0.1), 0);
        assert_eq!(quantize_score(f32::NAN), 0);
        assert_eq!(quantize_score(0.5), 128);
        assert_eq!(timestamp_us(33.3334), 33_333);
        assert_eq!(timestamp_us(-5.0), 0);
        assert_eq!(timestamp_us(f64::NAN), 0);
    }

    /// Rounding by adding ½ first was off by one for the largest value
    /// below ½ (a coordinate of -0.12499999 px became -¼ px) and for odd
    /// integers past the mantissa, and a score's product with 255 in `f32`
    /// could round up to a half step before it was rounded. The `wire_roundtrip`
    /// fuzz target (fuzz/) found the coordinate and score cases; the others

    #[test]
    fn rounding_is_exact_at_the_edges() {
        let below_half = f32::from_bits(0.5f32.to_bits() - 1); // 0.49999997
        assert_eq!(round_i32(below_half), 0);
        assert_eq!(round_i32(-below_half), 0);
        assert_eq!(quantize_coord(-0.12499999), 0);
        assert_eq!(quantize_coord(0.12499999), 0);
        assert_eq!(quantize_coord(0.125), 1);
        assert_eq!(round_i32(2.5), 3);
        assert_eq!(round_i32(-2.5), -3);
        assert_eq!(round_i32(8_388_607.5), 8_388_608);
        assert_eq!(round_i32(8_388_609.0), 8_388_609);
        assert_eq!(round_i32(-8_388_609.0), -8_388_609);
        assert_eq!(round_i32(3.0e9), i32::MAX);
        assert_eq!(round_i32(f32::NEG_INFINITY), i32::MIN);
        assert_eq!(round_i32(f32::NAN), 0);
        let below_half = f64::from_bits(0.5f64.to_bits() - 1);
        assert_eq!(round_u64(below_half), 0);
        assert_eq!(round_u64(0.5), 1);
        assert_eq!(round_u64(4_503_599_627_370_497.0), 4_503_599_627_370_497);
        assert_eq!(round_u64(4_503_599_627_370_495.5), 4_503_599_627_370_496);
        assert_eq!(round_u64(1e30), u64::MAX);
        assert_eq!(round_u64(-0.4), 0);
        assert_eq!(round_u64(f64::NAN), 0);
        // 0.96274507 × 255 = 245.49999297 exactly; rounded to f32 first it
        // was 245.5. One ulp more is 245.50000817.
        let s = f32::from_bits(0x3F76_7676);
        assert_eq!(quantize_score(s), 245);
        assert_eq!(quantize_score(f32::from_bits(s.to_bits() + 1)), 246);
        assert_eq!(quantize_score(0.5 / 255.0), 1);
    }
}
