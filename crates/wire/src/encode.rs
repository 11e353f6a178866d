//! The sending side: [`FrameWriter`] builds a payload in a caller's
//! buffer, [`frame`] COBS-encodes it and adds the delimiter.

use crate::fixed::{quantize_coord, quantize_score};
use crate::{
    max_framed_len, payload_len, person_len, EncodeError, Header, Keypoint, CRC32C, CRC_LEN,
    FLAG_TRACKED, FLAG_TRUNCATED, HEADER_LEN, KEYPOINT_LEN, MAGIC, MAX_PERSONS, NO_TRACK,
    PERSON_FIXED_LEN, VERSION,
};

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::sample_frame;
    use crate::FrameView;

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
}
