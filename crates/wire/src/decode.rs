//! The receiving side: [`FrameView`] checks a payload and reads it in
//! place, [`Deframer`] splits a byte stream into frames at the delimiters.

use crate::fixed::{dequantize_coord, dequantize_score};
use crate::{
    payload_len, person_len, Keypoint, WireError, CRC32C, CRC_LEN, FLAG_TRACKED, FLAG_TRUNCATED,
    HEADER_LEN, KEYPOINT_LEN, MAGIC, NO_TRACK, PERSON_FIXED_LEN, VERSION,
};

fn le16(b: &[u8], at: usize) -> [u8; 2] {
    [b[at], b[at + 1]]
}

fn le32(b: &[u8], at: usize) -> [u8; 4] {
    [b[at], b[at + 1], b[at + 2], b[at + 3]]
}

/// A checked payload, read in place.
#[derive(Debug, Clone, Copy)]
pub struct FrameView<'a> {
    /// Header and persons, without the CRC.
    bytes: &'a [u8],
}

impl<'a> FrameView<'a> {
    /// Checks a COBS-decoded payload (length, CRC, magic, version, size).
    pub fn parse(payload: &'a [u8]) -> Result<Self, WireError> {
        let len = payload.len();
        if len < HEADER_LEN + CRC_LEN {
            return Err(WireError::TooShort { len });
        }
        let body = &payload[..len - CRC_LEN];
        let expected = u32::from_le_bytes(le32(payload, len - CRC_LEN));
        let actual = CRC32C.checksum(body);
        if expected != actual {
            return Err(WireError::Crc { expected, actual });
        }
        if body[..2] != MAGIC {
            return Err(WireError::Magic);
        }
        if body[2] != VERSION {
            return Err(WireError::Version(body[2]));
        }
        let want = payload_len(body[21] as usize, body[20] as usize);
        if want != len {
            return Err(WireError::Length {
                expected: want,
                actual: len,
            });
        }
        Ok(Self { bytes: body })
    }

    pub fn seq(&self) -> u32 {
        u32::from_le_bytes(le32(self.bytes, 4))
    }

    pub fn timestamp_us(&self) -> u64 {
        let b = self.bytes;
        u64::from_le_bytes([b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]])
    }

    pub fn width(&self) -> u16 {
        u16::from_le_bytes(le16(self.bytes, 16))
    }

    pub fn height(&self) -> u16 {
        u16::from_le_bytes(le16(self.bytes, 18))
    }

    pub fn flags(&self) -> u8 {
        self.bytes[3]
    }

    pub fn tracked(&self) -> bool {
        self.flags() & FLAG_TRACKED != 0
    }

    pub fn truncated(&self) -> bool {
        self.flags() & FLAG_TRUNCATED != 0
    }

    /// K, keypoints per person.
    pub fn num_keypoints(&self) -> usize {
        self.bytes[20] as usize
    }

    /// N, persons in the frame.
    pub fn num_persons(&self) -> usize {
        self.bytes[21] as usize
    }

    /// The persons in order.
    pub fn persons(&self) -> impl ExactSizeIterator<Item = PersonView<'a>> + 'a {
        let k = self.num_keypoints();
        let size = person_len(k);
        let bytes = self.bytes;
        (0..self.num_persons()).map(move |i| {
            let at = HEADER_LEN + i * size;
            PersonView {
                bytes: &bytes[at..at + size],
                k,
            }
        })
    }
}

/// One person of a [`FrameView`].
#[derive(Debug, Clone, Copy)]
pub struct PersonView<'a> {
    bytes: &'a [u8],
    k: usize,
}

impl<'a> PersonView<'a> {
    /// `[x1, y1, x2, y2]` in pixels.
    pub fn bbox(&self) -> [f32; 4] {
        let c = |i: usize| dequantize_coord(i16::from_le_bytes(le16(self.bytes, 2 * i)));
        [c(0), c(1), c(2), c(3)]
    }

    pub fn score(&self) -> f32 {
        dequantize_score(self.bytes[8])
    }

    /// The track id; `None` when not tracked.
    pub fn track_id(&self) -> Option<u32> {
        match u32::from_le_bytes(le32(self.bytes, 9)) {
            NO_TRACK => None,
            id => Some(id),
        }
    }

    /// The K keypoints in order.
    pub fn keypoints(&self) -> impl ExactSizeIterator<Item = Keypoint> + 'a {
        let bytes = self.bytes;
        (0..self.k).map(move |j| {
            let at = PERSON_FIXED_LEN + j * KEYPOINT_LEN;
            Keypoint {
                x: dequantize_coord(i16::from_le_bytes(le16(bytes, at))),
                y: dequantize_coord(i16::from_le_bytes(le16(bytes, at + 2))),
                score: dequantize_score(bytes[at + 4]),
            }
        })
    }
}

/// Decodes one delimited piece (without its `0x00`) in place and checks it.
pub fn decode_frame(piece: &mut [u8]) -> Result<FrameView<'_>, WireError> {
    let n = cobs::decode_in_place(piece).map_err(|_| WireError::Cobs)?;
    FrameView::parse(&piece[..n])
}

/// What [`Deframer::feed`] found at a delimiter.
#[derive(Debug)]
pub enum Event<'a> {
    /// A good frame.
    Frame(FrameView<'a>),
    /// A damaged or foreign piece: one frame (at most) lost.
    Error(WireError),
    /// The bytes before the first delimiter did not decode: the receiver
    /// joined mid-frame. Not an error.
    Skipped(usize),
}

/// Splits a byte stream into frames at `0x00` delimiters, in a caller's
/// buffer (which bounds the longest frame: see [`MAX_PAYLOAD_LEN`] and
/// [`max_framed_len`]).
#[derive(Debug)]
pub struct Deframer<'a> {
    buf: &'a mut [u8],
    len: usize,
    /// Bytes of the current piece, including any beyond the buffer.
    seen: usize,
    synced: bool,
}

impl<'a> Deframer<'a> {
    pub fn new(buf: &'a mut [u8]) -> Self {
        Self {
            buf,
            len: 0,
            seen: 0,
            synced: false,
        }
    }

    /// Forgets any partial piece and waits for the next delimiter, as at the
    /// start (after a reconnect).
    pub fn reset(&mut self) {
        self.len = 0;
        self.seen = 0;
        self.synced = false;
    }

    /// Bytes received since the last delimiter (an incomplete frame at the
    /// end of a stream).
    pub fn pending(&self) -> usize {
        self.seen
    }

    /// Takes one byte; at a delimiter that ends a non-empty piece, says what
    /// the piece was.
    pub fn feed(&mut self, byte: u8) -> Option<Event<'_>> {
        if byte != 0 {
            if self.len < self.buf.len() {
                self.buf[self.len] = byte;
                self.len += 1;
            }
            self.seen = self.seen.saturating_add(1);
            return None;
        }
        let (len, seen) = (self.len, self.seen);
        let first = !self.synced;
        self.synced = true;
        self.len = 0;
        self.seen = 0;
        if seen == 0 {
            return None;
        }
        let result = if seen > len {
            Err(WireError::TooLong)
        } else {
            decode_frame(&mut self.buf[..len])
        };
        Some(match result {
            Ok(f) => Event::Frame(f),
            Err(_) if first => Event::Skipped(seen),
            Err(e) => Event::Error(e),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::sample_frame;
    use crate::{frame, max_framed_len, FrameWriter, Header, MAX_PAYLOAD_LEN};
    use proptest::prelude::*;

    #[test]
    fn framed_round_trip_and_errors() {
        let mut payload = [0u8; 1024];
        let n = sample_frame(&mut payload, 3);
        let mut wire = [0u8; 1100];
        let m = frame(&payload[..n], &mut wire).unwrap();
        assert_eq!(wire[m - 1], 0);
        assert!(!wire[..m - 1].contains(&0), "COBS leaves no zero inside");
        let mut piece = wire[..m - 1].to_vec();
        let f = decode_frame(&mut piece).unwrap();
        assert_eq!((f.seq(), f.width(), f.height()), (7, 810, 1080));
        assert!(f.tracked() && !f.truncated());
        let ids: Vec<_> = f.persons().map(|p| p.track_id()).collect();
        assert_eq!(ids, [Some(1), Some(2), Some(3)]);
        let p = f.persons().nth(2).unwrap();
        assert_eq!(p.bbox(), [1.0, 2.0, 300.5, 400.25]);
        let kp: Vec<_> = p.keypoints().collect();
        assert_eq!(
            kp[16],
            Keypoint {
                x: 162.0,
                y: 84.0,
                score: 1.0
            }
        );

        // A flipped payload byte is a CRC error.
        let mut bad = payload[..n].to_vec();
        bad[60] ^= 0x10;
        assert!(matches!(FrameView::parse(&bad), Err(WireError::Crc { .. })));
        // A newer version with a good CRC says so.
        let mut v2 = payload[..n].to_vec();
        v2[2] = 2;
        let crc = CRC32C.checksum(&v2[..n - 4]);
        v2[n - 4..].copy_from_slice(&crc.to_le_bytes());
        assert_eq!(FrameView::parse(&v2).unwrap_err(), WireError::Version(2));
        assert_eq!(
            FrameView::parse(&payload[..10]).unwrap_err(),
            WireError::TooShort { len: 10 }
        );
    }

    #[test]
    fn deframer_joins_mid_stream_and_isolates_damage() {
        let mut stream = Vec::new();
        let mut payload = [0u8; 1024];
        let mut wire = [0u8; 1100];
        for seq in 0..4u8 {
            let n = sample_frame(&mut payload, seq as usize);
            payload[4] = seq;
            // Re-seal after changing the sequence number.
            let crc = CRC32C.checksum(&payload[..n - 4]);
            payload[n - 4..n].copy_from_slice(&crc.to_le_bytes());
            let m = frame(&payload[..n], &mut wire).unwrap();
            stream.extend_from_slice(&wire[..m]);
        }
        // Join in the middle of frame 0, and damage frame 2.
        let start = 10;
        let f2 = {
            let mut ends = stream.iter().enumerate().filter(|(_, b)| **b == 0);
            ends.nth(1).unwrap().0 + 40
        };
        // Flip one bit, never making a delimiter.
        stream[f2] = match stream[f2] {
            1 => 3,
            v => v ^ 1,
        };
        let mut buf = vec![0u8; 2048];
        let mut d = Deframer::new(&mut buf);
        let mut got = Vec::new();
        for &b in &stream[start..] {
            match d.feed(b) {
                Some(Event::Frame(f)) => got.push(format!("frame {}", f.seq())),
                Some(Event::Error(_)) => got.push("error".to_string()),
                Some(Event::Skipped(n)) => got.push(format!("skipped {n}")),
                None => {}
            }
        }
        let frame0_len = stream.iter().position(|b| *b == 0).unwrap() + 1;
        assert_eq!(
            got,
            [
                format!("skipped {}", frame0_len - 1 - start),
                "frame 1".into(),
                "error".into(),
                "frame 3".into()
            ]
        );
        assert_eq!(d.pending(), 0);
    }

    #[test]
    fn deframer_reports_oversized_pieces() {
        let mut buf = [0u8; 8];
        let mut d = Deframer::new(&mut buf);
        assert!(d.feed(0).is_none());
        for _ in 0..20 {
            assert!(d.feed(7).is_none());
        }
        assert_eq!(d.pending(), 20);
        assert!(matches!(d.feed(0), Some(Event::Error(WireError::TooLong))));
        assert!(d.feed(0).is_none(), "empty pieces are ignored");
    }

    #[derive(Debug, Clone)]
    struct ArbPerson {
        bbox: [f32; 4],
        score: f32,
        track: Option<u32>,
        kps: Vec<(f32, f32, f32)>,
    }

    fn arb_person(k: usize) -> impl Strategy<Value = ArbPerson> {
        let coord = -9000.0f32..9000.0;
        (
            [coord.clone(), coord.clone(), coord.clone(), coord.clone()],
            -0.5f32..1.5,
            proptest::option::of(any::<u32>()),
            proptest::collection::vec((coord.clone(), coord, 0.0f32..1.0), k),
        )
            .prop_map(|(bbox, score, track, kps)| ArbPerson {
                bbox,
                score,
                track,
                kps,
            })
    }

    fn arb_frame() -> impl Strategy<Value = (Header, Vec<ArbPerson>)> {
        (0usize..=20).prop_flat_map(|k| {
            (
                (
                    any::<u32>(),
                    any::<u64>(),
                    any::<u16>(),
                    any::<u16>(),
                    any::<bool>(),
                ),
                proptest::collection::vec(arb_person(k), 0..12),
            )
                .prop_map(move |((seq, ts, w, h, tracked), persons)| {
                    (
                        Header {
                            seq,
                            timestamp_us: ts,
                            width: w,
                            height: h,
                            tracked,
                            num_keypoints: k as u8,
                        },
                        persons,
                    )
                })
        })
    }

    fn close(a: f32, b: f32, tol: f32) -> bool {
        (a - b).abs() <= tol
    }

    fn clamp_coord(v: f32) -> f32 {
        v.clamp(-8192.0, 8191.75)
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600),
                                       bufsize in 1usize..300) {
            let mut buf = vec![0u8; bufsize];
            let mut d = Deframer::new(&mut buf);
            for &b in &bytes {
                if let Some(Event::Frame(f)) = d.feed(b) {
                    // Reading every field of a "valid" frame must not panic either.
                    for p in f.persons() {
                        let _ = (p.bbox(), p.score(), p.track_id());
                        for kp in p.keypoints() { let _ = kp; }
                    }
                }
            }
            let mut piece = bytes.clone();
            let _ = decode_frame(&mut piece);
            let _ = FrameView::parse(&bytes);
        }

        #[test]
        fn encode_decode_round_trips((header, persons) in arb_frame()) {
            let k = header.num_keypoints as usize;
            let mut payload = vec![0u8; payload_len(persons.len(), k)];
            let mut w = FrameWriter::new(&mut payload, &header).unwrap();
            for p in &persons {
                w.push_person(p.bbox, p.score, p.track,
                    p.kps.iter().map(|&(x, y, score)| Keypoint { x, y, score })).unwrap();
            }
            let n = w.finish();
            prop_assert_eq!(n, payload.len());
            let mut wire = vec![0u8; max_framed_len(n)];
            let m = frame(&payload[..n], &mut wire).unwrap();
            // Through the stream decoder, after some leading noise.
            let mut stream = vec![0x13, 0x37, 0x00];
            stream.extend_from_slice(&wire[..m]);
            let mut buf = vec![0u8; MAX_PAYLOAD_LEN + 64];
            let mut d = Deframer::new(&mut buf);
            let mut frames = 0;
            for &b in &stream {
                match d.feed(b) {
                    Some(Event::Frame(f)) => {
                        frames += 1;
                        prop_assert_eq!(f.seq(), header.seq);
                        prop_assert_eq!(f.timestamp_us(), header.timestamp_us);
                        prop_assert_eq!((f.width(), f.height()), (header.width, header.height));
                        prop_assert_eq!(f.tracked(), header.tracked);
                        prop_assert!(!f.truncated());
                        prop_assert_eq!(f.num_keypoints(), k);
                        prop_assert_eq!(f.num_persons(), persons.len());
                        for (got, want) in f.persons().zip(&persons) {
                            for (a, b) in got.bbox().iter().zip(want.bbox) {
                                prop_assert!(close(*a, clamp_coord(b), 0.125), "{} vs {}", a, b);
                            }
                            prop_assert!(close(got.score(), want.score.clamp(0.0, 1.0), 0.5 / 255.0 + 1e-6));
                            let want_id = want.track.map(|t| t.min(NO_TRACK - 1));
                            prop_assert_eq!(got.track_id(), want_id);
                            prop_assert_eq!(got.keypoints().len(), k);
                            for (kp, &(x, y, s)) in got.keypoints().zip(&want.kps) {
                                prop_assert!(close(kp.x, clamp_coord(x), 0.125));
                                prop_assert!(close(kp.y, clamp_coord(y), 0.125));
                                prop_assert!(close(kp.score, s, 0.5 / 255.0 + 1e-6));
                            }
                        }
                    }
                    Some(Event::Error(e)) => prop_assert!(false, "error {}", e),
                    Some(Event::Skipped(n)) => prop_assert_eq!(n, 2),
                    None => {}
                }
            }
            prop_assert_eq!(frames, 1);
        }
    }
}
