//! The binary wire format of the serial sink: compact, versioned frames for
//! slow links, framed with COBS and checked with CRC-32C, so a receiver can
//! join a stream at any point and drop damaged frames without losing the
//! ones around them.
//!
//! This module is `no_std`-friendly on purpose, so a microcontroller on the
//! other end of the wire can reuse it: it uses only `core`, the `cobs` and
//! `crc` crates (both `no_std`), caller-provided buffers and no allocation.
//! (A unit test checks that the file names nothing from `std` outside its
//! tests.)
//!
//! # Framing
//!
//! On the wire each frame is `COBS(payload) 0x00`: Consistent Overhead Byte
//! Stuffing removes every zero byte from the payload (at most one extra
//! byte per 254), so `0x00` appears only as the frame delimiter. A receiver
//! splits the byte stream at `0x00`, COBS-decodes each piece and checks its
//! CRC; a piece that fails is one lost frame, and the next delimiter
//! starts afresh. Empty pieces (`0x00 0x00`) are ignored: the sender writes
//! one `0x00` whenever it (re)opens the port, so the first frame after a
//! reconnect never merges with a half-sent one. Bytes before the first
//! delimiter a receiver sees may be the tail of a frame it joined in the
//! middle of; if they do not decode they are skipped, not counted as an
//! error ([`Event::Skipped`]).
//!
//! # Payload (version 1)
//!
//! All integers little-endian.
//!
//! | offset | size | field |
//! |---|---|---|
//! | 0 | 2 | magic `"EP"` (`0x45 0x50`) |
//! | 2 | 1 | format version, `1` |
//! | 3 | 1 | flags: bit 0 *tracked* (persons went through the tracker), bit 1 *truncated* (the frame had more persons than were sent); other bits 0, ignored by receivers |
//! | 4 | 4 | frame sequence number, `u32` (the pipeline's `seq` modulo 2³², wraps) |
//! | 8 | 8 | capture timestamp, `u64` microseconds (as the JSON `timestamp_ms` × 1000) |
//! | 16 | 2 | frame width, `u16` pixels |
//! | 18 | 2 | frame height, `u16` pixels |
//! | 20 | 1 | K, keypoints per person (17 for COCO) |
//! | 21 | 1 | N, persons in this frame (at most 255) |
//! | 22 | N × (13 + 5K) | persons, below |
//! | 22 + N(13+5K) | 4 | CRC-32C of every byte before it |
//!
//! Each person:
//!
//! | offset | size | field |
//! |---|---|---|
//! | 0 | 8 | box `x1, y1, x2, y2`: four `i16` coordinates |
//! | 8 | 1 | person score, `u8` score |
//! | 9 | 4 | track id, `u32`; `0xFFFF_FFFF` = none (not tracked) |
//! | 13 | 5 per keypoint | K × (`x: i16`, `y: i16` coordinates, `score: u8`) |
//!
//! A COCO frame is 26 + 98 N bytes before framing (one person: 124, five:
//! 516).
//!
//! ## Fixed point
//!
//! - **Coordinates** are source-image pixels in units of ¼ pixel:
//!   `q = round(v × 4)` as `i16`, so `v = q / 4`, range −8192 … 8191.75 px,
//!   error at most ⅛ px. Values outside the range are clamped to it.
//! - **Scores** (0 … 1) are `q = round(s × 255)` as `u8`, so `s = q / 255`,
//!   error at most 1/510; values outside 0 … 1 are clamped.
//! - **Timestamp**: `round(ms × 1000)` µs; negative values become 0.
//! - **Width/height** above 65535 are clamped.
//!
//! Rounding is half away from zero; NaN becomes 0.
//!
//! ## Check
//!
//! CRC-32C (Castagnoli): polynomial `0x1EDC6F41` (reflected `0x82F63B78`),
//! initial value `0xFFFFFFFF`, input and output reflected, final XOR
//! `0xFFFFFFFF`; check value `0xE3069283` for the ASCII bytes `123456789`
//! (the `crc` crate's `CRC_32_ISCSI`). It covers the header and persons;
//! it is stored little-endian as the last four payload bytes.
//!
//! ## Versioning
//!
//! Every version keeps the magic, the version byte at offset 2 and the
//! trailing CRC-32C, so a receiver always tells "damaged" from "newer
//! version": a frame that passes the CRC with an unknown version is
//! reported as [`WireError::Version`]. Later versions may append fields;
//! the version number changes whenever the layout does.

use crc::{Crc, CRC_32_ISCSI};

/// First two payload bytes.
pub const MAGIC: [u8; 2] = *b"EP";
/// The format version this module writes and reads.
pub const VERSION: u8 = 1;
/// Payload bytes before the first person.
pub const HEADER_LEN: usize = 22;
/// Bytes of a person before its keypoints.
pub const PERSON_FIXED_LEN: usize = 13;
/// Bytes per keypoint.
pub const KEYPOINT_LEN: usize = 5;
/// Bytes of the trailing CRC.
pub const CRC_LEN: usize = 4;
/// Coordinate units per pixel (fixed point: ¼ px).
pub const COORD_SCALE: f32 = 4.0;
/// Score units per 1.0.
pub const SCORE_SCALE: f32 = 255.0;
/// Track id meaning "not tracked".
pub const NO_TRACK: u32 = u32::MAX;
/// Most persons one frame can carry.
pub const MAX_PERSONS: usize = 255;
/// Most keypoints per person this module's users send (the decoder's
/// `MAX_KEYPOINTS`); the format itself allows 255.
pub const MAX_KEYPOINTS: usize = 32;
/// Flag bit: persons went through the tracker.
pub const FLAG_TRACKED: u8 = 1;
/// Flag bit: the frame had more persons than were sent.
pub const FLAG_TRUNCATED: u8 = 2;

/// The frame check: CRC-32C (Castagnoli).
pub const CRC32C: Crc<u32> = Crc::<u32>::new(&CRC_32_ISCSI);

/// Bytes of one person with `keypoints` keypoints.
pub const fn person_len(keypoints: usize) -> usize {
    PERSON_FIXED_LEN + KEYPOINT_LEN * keypoints
}

/// Payload bytes (before COBS) of a frame.
pub const fn payload_len(persons: usize, keypoints: usize) -> usize {
    HEADER_LEN + persons * person_len(keypoints) + CRC_LEN
}

/// Bytes on the wire at most for a payload of `payload` bytes: COBS plus the
/// delimiter.
pub const fn max_framed_len(payload: usize) -> usize {
    cobs::max_encoding_length(payload) + 1
}

/// A payload buffer this large holds any frame of up to [`MAX_PERSONS`]
/// persons with [`MAX_KEYPOINTS`] keypoints.
pub const MAX_PAYLOAD_LEN: usize = payload_len(MAX_PERSONS, MAX_KEYPOINTS);

/// Frame-level fields.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Header {
    pub seq: u32,
    pub timestamp_us: u64,
    pub width: u16,
    pub height: u16,
    pub tracked: bool,
    /// K, keypoints per person.
    pub num_keypoints: u8,
}

/// One keypoint in pixels and score (what is encoded and what is decoded).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Keypoint {
    pub x: f32,
    pub y: f32,
    pub score: f32,
}

/// Errors while encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EncodeError {
    /// The output buffer cannot hold the frame; give one of at least `need` bytes.
    BufferTooSmall { need: usize, have: usize },
    /// The frame is full (255 persons or the buffer's end); the person was
    /// not added and the frame is marked truncated.
    Full,
    /// A person had a different number of keypoints than the header's K.
    KeypointCount { expected: usize, got: usize },
}

impl core::fmt::Display for EncodeError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            EncodeError::BufferTooSmall { need, have } => {
                write!(f, "wire buffer of {have} bytes too small: need {need}")
            }
            EncodeError::Full => f.write_str("frame full: no room for another person"),
            EncodeError::KeypointCount { expected, got } => {
                write!(f, "person has {got} keypoints; the frame says {expected}")
            }
        }
    }
}

/// Why a received piece of the stream is not a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WireError {
    /// The bytes are not valid COBS (damaged or not edgepose data).
    Cobs,
    /// Longer than the receive buffer (a lost delimiter merged frames, or
    /// not edgepose data).
    TooLong,
    /// Fewer bytes than a header and CRC.
    TooShort { len: usize },
    /// The CRC does not match: the frame was damaged on the way.
    Crc { expected: u32, actual: u32 },
    /// CRC correct but not edgepose's magic.
    Magic,
    /// CRC correct but a format version this receiver does not know.
    Version(u8),
    /// CRC correct but the length does not match N persons of K keypoints.
    Length { expected: usize, actual: usize },
}

impl WireError {
    /// True for a CRC mismatch (as opposed to undecodable bytes).
    pub fn is_crc(&self) -> bool {
        matches!(self, WireError::Crc { .. })
    }
}

impl core::fmt::Display for WireError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            WireError::Cobs => f.write_str("not valid COBS"),
            WireError::TooLong => f.write_str("longer than any frame"),
            WireError::TooShort { len } => write!(f, "{len} bytes: shorter than a frame header"),
            WireError::Crc { expected, actual } => write!(
                f,
                "CRC-32C mismatch: frame says {expected:#010x}, bytes give {actual:#010x}"
            ),
            WireError::Magic => f.write_str("not an edgepose frame (bad magic)"),
            WireError::Version(v) => write!(
                f,
                "wire format version {v}; this build reads version {VERSION}: update the receiver"
            ),
            WireError::Length { expected, actual } => {
                write!(f, "{actual} bytes where the header implies {expected}")
            }
        }
    }
}

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

fn put(buf: &mut [u8], at: usize, bytes: &[u8]) {
    buf[at..at + bytes.len()].copy_from_slice(bytes);
}

/// Builds one frame's payload in a caller's buffer: header first, then
/// persons one at a time, then [`FrameWriter::finish`] adds the count,
/// flags and CRC.
#[derive(Debug)]
pub struct FrameWriter<'a> {
    buf: &'a mut [u8],
    len: usize,
    k: usize,
    persons: u8,
    flags: u8,
}

impl<'a> FrameWriter<'a> {
    /// Starts a frame in `buf`, which must hold at least an empty frame.
    pub fn new(buf: &'a mut [u8], header: &Header) -> Result<Self, EncodeError> {
        let need = payload_len(0, 0);
        if buf.len() < need {
            return Err(EncodeError::BufferTooSmall {
                need,
                have: buf.len(),
            });
        }
        put(buf, 0, &MAGIC);
        buf[2] = VERSION;
        buf[3] = 0;
        put(buf, 4, &header.seq.to_le_bytes());
        put(buf, 8, &header.timestamp_us.to_le_bytes());
        put(buf, 16, &header.width.to_le_bytes());
        put(buf, 18, &header.height.to_le_bytes());
        buf[20] = header.num_keypoints;
        buf[21] = 0;
        Ok(Self {
            buf,
            len: HEADER_LEN,
            k: header.num_keypoints as usize,
            persons: 0,
            flags: if header.tracked { FLAG_TRACKED } else { 0 },
        })
    }

    /// Persons added so far.
    pub fn persons(&self) -> usize {
        self.persons as usize
    }

    /// Adds a person: box `[x1, y1, x2, y2]` in pixels, score, track id
    /// (`None` untracked) and exactly K keypoints. [`EncodeError::Full`]
    /// when there is no room left (the frame is then marked truncated).
    pub fn push_person(
        &mut self,
        bbox: [f32; 4],
        score: f32,
        track_id: Option<u32>,
        keypoints: impl IntoIterator<Item = Keypoint>,
    ) -> Result<(), EncodeError> {
        let size = person_len(self.k);
        if self.persons as usize >= MAX_PERSONS || self.len + size + CRC_LEN > self.buf.len() {
            self.flags |= FLAG_TRUNCATED;
            return Err(EncodeError::Full);
        }
        let start = self.len;
        for (i, v) in bbox.iter().enumerate() {
            put(self.buf, start + 2 * i, &quantize_coord(*v).to_le_bytes());
        }
        self.buf[start + 8] = quantize_score(score);
        let id = match track_id {
            Some(id) => id.min(NO_TRACK - 1),
            None => NO_TRACK,
        };
        put(self.buf, start + 9, &id.to_le_bytes());
        let mut at = start + PERSON_FIXED_LEN;
        let mut n = 0;
        for kp in keypoints {
            if n == self.k {
                n += 1;
                break;
            }
            put(self.buf, at, &quantize_coord(kp.x).to_le_bytes());
            put(self.buf, at + 2, &quantize_coord(kp.y).to_le_bytes());
            self.buf[at + 4] = quantize_score(kp.score);
            at += KEYPOINT_LEN;
            n += 1;
        }
        if n != self.k {
            return Err(EncodeError::KeypointCount {
                expected: self.k,
                got: n,
            });
        }
        self.len = at;
        self.persons += 1;
        Ok(())
    }

    /// Completes the payload; returns its length.
    pub fn finish(self) -> usize {
        self.buf[3] = self.flags;
        self.buf[21] = self.persons;
        let crc = CRC32C.checksum(&self.buf[..self.len]);
        put(self.buf, self.len, &crc.to_le_bytes());
        self.len + CRC_LEN
    }
}

/// Frames a payload for the wire: COBS, then the `0x00` delimiter. Returns
/// the bytes written to `out`.
pub fn frame(payload: &[u8], out: &mut [u8]) -> Result<usize, EncodeError> {
    let need = max_framed_len(payload.len());
    if out.len() < need {
        return Err(EncodeError::BufferTooSmall {
            need,
            have: out.len(),
        });
    }
    let n = cobs::encode(payload, out);
    out[n] = 0;
    Ok(n + 1)
}

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
    use proptest::prelude::*;

    fn sample_frame(buf: &mut [u8], persons: usize) -> usize {
        let mut w = FrameWriter::new(
            buf,
            &Header {
                seq: 7,
                timestamp_us: 233_333,
                width: 810,
                height: 1080,
                tracked: true,
                num_keypoints: 17,
            },
        )
        .unwrap();
        for p in 0..persons {
            let kps = (0..17).map(|j| Keypoint {
                x: 10.0 * j as f32 + p as f32,
                y: 5.25 * j as f32,
                score: j as f32 / 16.0,
            });
            w.push_person([1.0, 2.0, 300.5, 400.25], 0.875, Some(p as u32 + 1), kps)
                .unwrap();
        }
        w.finish()
    }

    #[test]
    fn layout_matches_the_documented_table() {
        let mut buf = [0u8; 512];
        let n = sample_frame(&mut buf, 1);
        assert_eq!(n, 124);
        assert_eq!(&buf[..4], &[0x45, 0x50, 1, FLAG_TRACKED]);
        assert_eq!(&buf[4..8], &7u32.to_le_bytes());
        assert_eq!(&buf[8..16], &233_333u64.to_le_bytes());
        assert_eq!(&buf[16..22], &[0x2a, 0x03, 0x38, 0x04, 17, 1]);
        // Box x2 = 300.5 px = 1202 quarter-pixels; score 0.875 → 223.
        assert_eq!(&buf[26..28], &1202i16.to_le_bytes());
        assert_eq!(buf[30], 223);
        assert_eq!(&buf[31..35], &1u32.to_le_bytes());
        // Keypoint 1: x 10 px → 40, y 5.25 px → 21, score 1/16 → 16.
        assert_eq!(&buf[40..45], &[40, 0, 21, 0, 16]);
        let crc = CRC32C.checksum(&buf[..120]);
        assert_eq!(&buf[120..124], &crc.to_le_bytes());
        assert_eq!(CRC32C.checksum(b"123456789"), 0xE306_9283);
    }

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
    /// are the same flaw in `timestamp_us` and past 2²³.
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
    fn writer_limits() {
        let mut small = [0u8; 10];
        assert_eq!(
            FrameWriter::new(&mut small, &Header::default()).unwrap_err(),
            EncodeError::BufferTooSmall { need: 26, have: 10 }
        );
        let mut buf = [0u8; 26 + 98 + 50];
        let h = Header {
            num_keypoints: 17,
            ..Header::default()
        };
        let mut w = FrameWriter::new(&mut buf, &h).unwrap();
        let kps = [Keypoint::default(); 17];
        assert_eq!(
            w.push_person([0.0; 4], 1.0, None, kps[..16].iter().copied()),
            Err(EncodeError::KeypointCount {
                expected: 17,
                got: 16
            })
        );
        assert_eq!(
            w.push_person([0.0; 4], 1.0, None, kps.iter().copied().chain([kps[0]])),
            Err(EncodeError::KeypointCount {
                expected: 17,
                got: 18
            })
        );
        w.push_person([0.0; 4], 1.0, None, kps).unwrap();
        assert_eq!(
            w.push_person([0.0; 4], 1.0, None, kps),
            Err(EncodeError::Full)
        );
        let n = w.finish();
        let f = FrameView::parse(&buf[..n]).unwrap();
        assert_eq!(f.num_persons(), 1);
        assert!(f.truncated() && !f.tracked());
        assert_eq!(f.persons().next().unwrap().track_id(), None);
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

    /// The module must stay usable without `std`.
    #[test]
    fn no_std_outside_tests() {
        let src = include_str!("wire.rs");
        let body = src.split("#[cfg(test)]").next().unwrap();
        for bad in ["std::", "Vec<", "String", "Box<", "vec!", "format!"] {
            assert!(!body.contains(bad), "wire.rs uses {bad} outside its tests");
        }
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
