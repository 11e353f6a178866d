//! `wire_roundtrip`: frames built from structured arbitrary input.
//!
//! The input decides a header, a buffer size (usually exactly the frame's
//! size, sometimes anything), and persons with arbitrary `f32` values
//! (NaN, infinities, huge, and values a hair either side of a rounding
//! boundary), some with the wrong number of keypoints. Every
//! [`FrameWriter`] call must give exactly the documented result (too small
//! a buffer, full, wrong keypoint count, or accepted), and the finished
//! frame, framed and decoded again, must carry exactly the quantized
//! values: each coordinate `round(v × 4) / 4` (half away from zero,
//! clamped, NaN → 0) and each score `round(s × 255) / 255`, computed here
//! independently in `f64`; so is `timestamp_us`.
#![no_main]

use edgepose_fuzz::check;
use edgepose_fuzz::wire::{
    self, decode_frame, Deframer, EncodeError, Event, FrameWriter, Header, Keypoint, NO_TRACK,
};
use libfuzzer_sys::arbitrary::{Result, Unstructured};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = run(&mut Unstructured::new(data));
});

/// An `f32` that is often interesting for a fixed-point encoder: raw bits,
/// a few specials, or a step boundary (`(i + ½) / scale`) moved by a few ulps.
fn value(u: &mut Unstructured<'_>, scale: f32) -> Result<f32> {
    Ok(match u.int_in_range(0u8..=3)? {
        0 => f32::from_bits(u.arbitrary()?),
        1 => *u.choose(&[
            0.0,
            -0.0,
            f32::NAN,
            f32::INFINITY,
            f32::NEG_INFINITY,
            f32::MAX,
            f32::MIN,
            f32::MIN_POSITIVE,
            8191.75,
            -8192.0,
            1.0,
        ])?,
        _ => {
            let i: i16 = u.arbitrary()?;
            let ulps: i8 = u.int_in_range(-4..=4)?;
            let half = (i as f32 + 0.5) / scale;
            let bits = half.to_bits() as i64 + ulps as i64;
            f32::from_bits(bits.clamp(0, u32::MAX as i64) as u32)
        }
    })
}

/// The reference quantizer: `round(v × scale)` half away from zero in
/// `f64` (exact for every `f32` times 4 or 255), clamped; NaN → 0.
fn reference(v: f32, scale: f64, lo: f64, hi: f64) -> f64 {
    if v.is_nan() {
        return 0.0;
    }
    (v as f64 * scale).round().clamp(lo, hi)
}

fn ref_coord(v: f32) -> f32 {
    (reference(v, 4.0, -32768.0, 32767.0) / 4.0) as f32
}

fn ref_score(s: f32) -> f32 {
    (reference(s, 255.0, 0.0, 255.0) / 255.0) as f32
}

/// A header timestamp: any `u64`, or [`wire::timestamp_us`] of a
/// millisecond value, checked against `round(ms × 1000)` in `f64`.
fn timestamp(u: &mut Unstructured<'_>) -> Result<u64> {
    let ms = match u.int_in_range(0u8..=3)? {
        0 => return u.arbitrary(),
        1 => f64::from_bits(u.arbitrary()?),
        _ => {
            // A microsecond boundary moved by a few ulps.
            let i: u32 = u.arbitrary()?;
            let ulps: i8 = u.int_in_range(-4..=4)?;
            let half = (i as f64 + 0.5) / 1000.0;
            f64::from_bits((half.to_bits() as i64 + ulps as i64) as u64)
        }
    };
    let us = wire::timestamp_us(ms);
    let product = ms * 1000.0;
    let want = if product.is_nan() || product < 0.0 {
        0
    } else {
        product.round() as u64
    };
    assert_eq!(us, want, "timestamp_us({ms:e})");
    Ok(us)
}

struct Sent {
    bbox: [f32; 4],
    score: f32,
    track: Option<u32>,
    kps: Vec<Keypoint>,
}

fn run(u: &mut Unstructured<'_>) -> Result<()> {
    let header = Header {
        seq: u.arbitrary()?,
        timestamp_us: timestamp(u)?,
        width: u.arbitrary()?,
        height: u.arbitrary()?,
        tracked: u.arbitrary()?,
        num_keypoints: if u.arbitrary()? { 17 } else { u.arbitrary()? },
    };
    let k = header.num_keypoints as usize;
    let planned = u.int_in_range(0..=wire::MAX_PERSONS + 2)?;
    let exact = wire::payload_len(planned.min(wire::MAX_PERSONS), k);
    let cap = if u.ratio(3, 4)? {
        exact
    } else {
        u.int_in_range(0..=exact + 64)?
    };
    let mut buf = vec![0u8; cap];
    let mut w = match FrameWriter::new(&mut buf, &header) {
        Ok(w) => w,
        Err(e) => {
            assert!(cap < wire::payload_len(0, 0));
            assert_eq!(
                e,
                EncodeError::BufferTooSmall {
                    need: wire::payload_len(0, 0),
                    have: cap
                }
            );
            return Ok(());
        }
    };
    assert!(cap >= wire::payload_len(0, 0));
    let mut sent: Vec<Sent> = Vec::new();
    let mut truncated = false;
    for _ in 0..planned {
        let bbox = [
            value(u, 4.0)?,
            value(u, 4.0)?,
            value(u, 4.0)?,
            value(u, 4.0)?,
        ];
        let score = value(u, 255.0)?;
        let track: Option<u32> = u.arbitrary()?;
        // Usually K keypoints; sometimes one fewer or one more.
        let count = match u.int_in_range(0u8..=15)? {
            0 => k.saturating_sub(1),
            1 => k + 1,
            _ => k,
        };
        let mut kps = Vec::with_capacity(count);
        for _ in 0..count {
            kps.push(Keypoint {
                x: value(u, 4.0)?,
                y: value(u, 4.0)?,
                score: value(u, 255.0)?,
            });
        }
        let full = sent.len() >= wire::MAX_PERSONS || wire::payload_len(sent.len() + 1, k) > cap;
        let want = if full {
            Err(EncodeError::Full)
        } else if count != k {
            Err(EncodeError::KeypointCount {
                expected: k,
                got: count,
            })
        } else {
            Ok(())
        };
        let got = w.push_person(bbox, score, track, kps.iter().copied());
        assert_eq!(
            got,
            want,
            "push_person with {} persons in {cap} bytes",
            sent.len()
        );
        truncated |= full;
        if got.is_ok() {
            sent.push(Sent {
                bbox,
                score,
                track,
                kps,
            });
        }
        assert_eq!(w.persons(), sent.len());
    }
    let n = w.finish();
    assert_eq!(n, wire::payload_len(sent.len(), k));
    let payload = &buf[..n];

    // Framing: too small an output buffer is refused, enough is framed.
    let need = wire::max_framed_len(n);
    let short = u.int_in_range(0..=need)?;
    let mut out = vec![0u8; need];
    if short < need {
        assert_eq!(
            wire::frame(payload, &mut out[..short]),
            Err(EncodeError::BufferTooSmall { need, have: short })
        );
    }
    let m = wire::frame(payload, &mut out).expect("max_framed_len is enough");
    assert!(!out[..m - 1].contains(&0) && out[m - 1] == 0);

    // Through a Deframer after a delimiter, as a receiver gets it.
    let mut rx = vec![0u8; wire::MAX_PAYLOAD_LEN + 256];
    let mut d = Deframer::new(&mut rx);
    assert!(d.feed(0).is_none());
    let mut frames = 0;
    for &b in &out[..m] {
        match d.feed(b) {
            None => {}
            Some(Event::Frame(f)) => {
                frames += 1;
                check::walk(&f);
                assert_eq!(check::header_of(&f), header);
                assert_eq!(f.truncated(), truncated);
                assert_eq!(f.num_persons(), sent.len());
                for (p, s) in f.persons().zip(&sent) {
                    let want = s.bbox.map(ref_coord);
                    assert_eq!(p.bbox(), want, "bbox of {:?}", s.bbox);
                    assert_eq!(p.score(), ref_score(s.score), "score {}", s.score);
                    assert_eq!(p.track_id(), s.track.map(|t| t.min(NO_TRACK - 1)));
                    for (kp, sk) in p.keypoints().zip(&s.kps) {
                        let want = Keypoint {
                            x: ref_coord(sk.x),
                            y: ref_coord(sk.y),
                            score: ref_score(sk.score),
                        };
                        assert_eq!(kp, want, "keypoint {sk:?}");
                        assert_eq!(check::quantized(*sk), want);
                    }
                }
                // Re-encoding the decoded values reproduces the payload.
                let mut again = vec![0u8; n];
                assert_eq!(check::reencode(&f, &mut again), n);
                check::assert_same_payload(payload, &again);
            }
            Some(e) => panic!("a well-formed frame gave {e:?}"),
        }
    }
    assert_eq!(frames, 1);

    // decode_frame on the piece directly agrees.
    let f = decode_frame(&mut out[..m - 1]).expect("decodes");
    assert_eq!(f.num_persons(), sent.len());
    Ok(())
}
