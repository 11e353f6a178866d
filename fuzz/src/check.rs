//! Checks of a decoded frame that hold for every frame the decoder accepts,
//! whatever bytes it came from: every field reads without panicking, the
//! counts agree with what the iterators yield, every value is one the
//! fixed-point format can represent, and re-encoding the values with
//! [`FrameWriter`] gives back the same payload.

use crate::wire::{
    self, FrameView, FrameWriter, Header, Keypoint, FLAG_TRACKED, FLAG_TRUNCATED, NO_TRACK,
};

/// A coordinate the format can carry: a multiple of ¼ px in the `i16`
/// range, which quantizes back to itself.
pub fn assert_coord(v: f32) {
    assert!(v.is_finite(), "decoded coordinate {v} is not finite");
    assert!(
        (-8192.0..=8191.75).contains(&v),
        "coordinate {v} out of range"
    );
    let q = wire::quantize_coord(v);
    assert_eq!(
        wire::dequantize_coord(q),
        v,
        "coordinate {v} is not a ¼ px step"
    );
}

/// A score the format can carry: `q / 255` in 0 … 1, which quantizes back
/// to itself.
pub fn assert_score(s: f32) {
    assert!((0.0..=1.0).contains(&s), "decoded score {s} outside 0 … 1");
    let q = wire::quantize_score(s);
    assert_eq!(
        wire::dequantize_score(q),
        s,
        "score {s} is not a 1/255 step"
    );
}

/// The header a frame's fields describe.
pub fn header_of(f: &FrameView<'_>) -> Header {
    Header {
        seq: f.seq(),
        timestamp_us: f.timestamp_us(),
        width: f.width(),
        height: f.height(),
        tracked: f.tracked(),
        num_keypoints: u8::try_from(f.num_keypoints()).expect("K comes from one byte"),
    }
}

/// Reads every field of every person and keypoint and checks the counts
/// and value ranges; returns the number of keypoints read.
pub fn walk(f: &FrameView<'_>) -> usize {
    let k = f.num_keypoints();
    let n = f.num_persons();
    assert!(n <= wire::MAX_PERSONS && k <= 255);
    assert_eq!(f.tracked(), f.flags() & FLAG_TRACKED != 0);
    assert_eq!(f.truncated(), f.flags() & FLAG_TRUNCATED != 0);
    let persons = f.persons();
    assert_eq!(persons.len(), n, "persons() length differs from N");
    let (mut seen, mut keypoints) = (0, 0);
    for p in persons {
        for v in p.bbox() {
            assert_coord(v);
        }
        assert_score(p.score());
        assert_ne!(
            p.track_id(),
            Some(NO_TRACK),
            "the no-track value came back as an id"
        );
        let kps = p.keypoints();
        assert_eq!(kps.len(), k, "keypoints() length differs from K");
        let mut m = 0;
        for kp in kps {
            assert_coord(kp.x);
            assert_coord(kp.y);
            assert_score(kp.score);
            m += 1;
        }
        assert_eq!(m, k, "keypoints() yielded a different count than it said");
        keypoints += m;
        seen += 1;
    }
    assert_eq!(seen, n, "persons() yielded a different count than it said");
    keypoints
}

/// Encodes a decoded frame's values again into `buf`; returns the payload
/// length. Every person must fit: `buf` holds the original payload's size.
pub fn reencode(f: &FrameView<'_>, buf: &mut [u8]) -> usize {
    let mut w = FrameWriter::new(buf, &header_of(f)).expect("buffer holds a header");
    for p in f.persons() {
        w.push_person(p.bbox(), p.score(), p.track_id(), p.keypoints())
            .expect("a decoded person re-encodes into the same space");
    }
    assert_eq!(w.persons(), f.num_persons());
    w.finish()
}

/// Two views carry the same values (all but the truncated flag, which a
/// re-encoding does not reproduce, and flag bits receivers ignore).
pub fn assert_same_values(a: &FrameView<'_>, b: &FrameView<'_>) {
    assert_eq!(header_of(a), header_of(b));
    assert_eq!(a.num_persons(), b.num_persons());
    for (p, q) in a.persons().zip(b.persons()) {
        assert_eq!(p.bbox(), q.bbox());
        assert_eq!(p.score(), q.score());
        assert_eq!(p.track_id(), q.track_id());
        assert!(p.keypoints().eq(q.keypoints()));
    }
}

/// `again` (a re-encoding of `payload`'s values) is `payload` byte for byte
/// except the flags byte (only the tracked bit is reproduced) and the CRC
/// that covers it.
pub fn assert_same_payload(payload: &[u8], again: &[u8]) {
    assert_eq!(payload.len(), again.len(), "re-encoded payload length");
    let body = payload.len() - wire::CRC_LEN;
    assert_eq!(payload[..3], again[..3]);
    assert_eq!(again[3], payload[3] & FLAG_TRACKED, "re-encoded flags");
    assert_eq!(payload[4..body], again[4..body], "re-encoded fields differ");
}

/// The keypoint a decoder reads for `kp` once it has been through the format.
pub fn quantized(kp: Keypoint) -> Keypoint {
    Keypoint {
        x: wire::dequantize_coord(wire::quantize_coord(kp.x)),
        y: wire::dequantize_coord(wire::quantize_coord(kp.y)),
        score: wire::dequantize_score(wire::quantize_score(kp.score)),
    }
}
