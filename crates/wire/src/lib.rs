//! edgepose's serial wire format: compact, versioned frames for
//! slow links, framed with COBS and checked with CRC-32C, so a receiver can
//! join a stream at any point and drop damaged frames without losing the
//! ones around them.
//!
//! This crate is `no_std` on purpose, so a microcontroller on the other end
//! of the wire can reuse it: it uses only `core`, the `cobs` and `crc`
//! crates (both `no_std`), caller-provided buffers and no allocation. The
//! edgepose serial sink writes with it, `edgepose listen` reads with it, and
//! the fuzz targets (`fuzz/`) check it.
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
#![cfg_attr(not(test), no_std)]

mod decode;
mod encode;
mod fixed;

pub use decode::{decode_frame, Deframer, Event, FrameView, PersonView};
pub use encode::{frame, FrameWriter};
pub use fixed::{dequantize_coord, dequantize_score, quantize_coord, quantize_score, timestamp_us};

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

#[cfg(test)]
mod test_support {
    use super::*;

    /// A COCO frame of `persons` persons with known values.
    pub fn sample_frame(buf: &mut [u8], persons: usize) -> usize {
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
}

#[cfg(test)]
mod tests {
    /// The crate must stay usable without `std` (the `no_std` attribute
    /// checks that for the build; this keeps `alloc` out as well).
    #[test]
    fn no_std_outside_tests() {
        for (name, src) in [
            ("lib.rs", include_str!("lib.rs")),
            ("fixed.rs", include_str!("fixed.rs")),
            ("encode.rs", include_str!("encode.rs")),
            ("decode.rs", include_str!("decode.rs")),
        ] {
            let body = src.split("#[cfg(test)]").next().unwrap();
            for bad in [
                "std::", "Vec<", "String", "Box<", "vec!", "format!", "alloc::",
            ] {
                assert!(!body.contains(bad), "{name} uses {bad} outside its tests");
            }
        }
    }
}
