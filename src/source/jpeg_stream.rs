//! Where one JPEG image ends in a stream of them (an MJPEG pipe): a
//! resumable scanner that walks the marker segments by their lengths (so an
//! EXIF thumbnail's own start and end markers, inside its APP1 segment, do
//! not split the image) and the entropy-coded data by its byte stuffing
//! (`FF 00`, restart markers), up to the end-of-image marker.

/// What the scanner found in the bytes given to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scan {
    /// The image is not complete yet: give more bytes (the same ones
    /// first, then what follows).
    Need,
    /// Drop this many bytes before an image start marker.
    Skip(usize),
    /// The first this many bytes are one whole JPEG image.
    Image(usize),
    /// The image broke off after this many bytes (an unexpected byte where
    /// a marker belongs, or a new start marker); drop them.
    Corrupt(usize),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum State {
    #[default]
    Soi,
    Marker,
    Entropy,
}

/// Scans one image at a time; [`JpegScanner::scan`] is called with the
/// unconsumed bytes, which start where the previous result ended.
#[derive(Debug, Default)]
pub struct JpegScanner {
    state: State,
    /// How far into the current bytes the image has been walked.
    pos: usize,
}

impl JpegScanner {
    /// Continues the walk over `data` (the bytes after the last result).
    pub fn scan(&mut self, data: &[u8]) -> Scan {
        let r = self.walk(data);
        if r != Scan::Need {
            *self = Self::default();
        }
        r
    }

    /// Bytes of the image walked so far (0 before its start marker).
    pub fn progress(&self) -> usize {
        if self.state == State::Soi {
            0
        } else {
            self.pos
        }
    }

    fn walk(&mut self, d: &[u8]) -> Scan {
        loop {
            match self.state {
                State::Soi => {
                    return match d.windows(2).position(|w| w == [0xFF, 0xD8]) {
                        Some(0) => {
                            self.state = State::Marker;
                            self.pos = 2;
                            continue;
                        }
                        Some(i) => Scan::Skip(i),
                        // Keep a last 0xFF: it may begin the marker.
                        None if d.len() > 1 => Scan::Skip(d.len() - 1),
                        None if d.first().is_some_and(|&b| b != 0xFF) => Scan::Skip(1),
                        None => Scan::Need,
                    };
                }
                State::Marker => {
                    let p = self.pos;
                    let Some(&b) = d.get(p) else {
                        return Scan::Need;
                    };
                    if b != 0xFF {
                        return Scan::Corrupt(p.max(1));
                    }
                    let Some(&m) = d.get(p + 1) else {
                        return Scan::Need;
                    };
                    match m {
                        0xFF => self.pos += 1, // fill byte
                        0xD9 => return Scan::Image(p + 2),
                        0xD8 => return Scan::Corrupt(p),
                        0x01 | 0xD0..=0xD7 => self.pos += 2,
                        _ => {
                            let (Some(&hi), Some(&lo)) = (d.get(p + 2), d.get(p + 3)) else {
                                return Scan::Need;
                            };
                            let len = usize::from(u16::from_be_bytes([hi, lo]));
                            if len < 2 {
                                return Scan::Corrupt(p + 2);
                            }
                            self.pos = p + 2 + len;
                            if m == 0xDA {
                                self.state = State::Entropy;
                            }
                        }
                    }
                }
                State::Entropy => {
                    let Some(i) = d
                        .get(self.pos..)
                        .and_then(|rest| rest.iter().position(|&b| b == 0xFF))
                    else {
                        self.pos = self.pos.max(d.len());
                        return Scan::Need;
                    };
                    let i = self.pos + i;
                    let Some(&m) = d.get(i + 1) else {
                        self.pos = i;
                        return Scan::Need;
                    };
                    match m {
                        0x00 | 0xD0..=0xD7 => self.pos = i + 2,
                        0xFF => self.pos = i + 1,
                        _ => {
                            self.pos = i;
                            self.state = State::Marker;
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    /// Splits `data` fed in chunks of `chunk` bytes, as a pipe delivers it
    /// (consecutive skips summed).
    fn split(data: &[u8], chunk: usize) -> Vec<Scan> {
        let mut s = JpegScanner::default();
        let (mut start, mut end, mut out) = (0, 0, Vec::new());
        loop {
            match s.scan(&data[start..end]) {
                Scan::Need if end == data.len() => return out,
                Scan::Need => end = (end + chunk).min(data.len()),
                r @ (Scan::Skip(n) | Scan::Image(n) | Scan::Corrupt(n)) => {
                    // Skips that short reads split are one skip.
                    match (out.last_mut(), r) {
                        (Some(Scan::Skip(m)), Scan::Skip(n)) => *m += n,
                        _ => out.push(r),
                    }
                    start += n;
                }
            }
        }
    }

    /// A small real JPEG image (40x24), different for each seed.
    pub(in crate::source) fn real_jpeg(seed: u8) -> Vec<u8> {
        let img = image::RgbImage::from_fn(40, 24, |x, y| {
            image::Rgb([(x * 6) as u8 ^ seed, (y * 10) as u8, seed])
        });
        let mut out = Vec::new();
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 80)
            .encode(img.as_raw(), 40, 24, image::ExtendedColorType::Rgb8)
            .unwrap();
        out
    }

    #[test]
    fn images_split_at_their_end_markers_whatever_the_chunking() {
        let (a, b) = (real_jpeg(1), real_jpeg(200));
        let stream = [&[0x00, 0x12, 0xFF][..], &a, &b].concat();
        for chunk in [1, 7, 4096] {
            assert_eq!(
                split(&stream, chunk),
                vec![Scan::Skip(3), Scan::Image(a.len()), Scan::Image(b.len())],
                "chunk {chunk}"
            );
        }
    }

    #[test]
    fn a_thumbnail_inside_app1_does_not_split_the_image() {
        let (thumb, main) = (real_jpeg(7), real_jpeg(9));
        // SOI, APP1 holding a whole JPEG (its own FFD8 ... FFD9), then the
        // main image's segments after its SOI.
        let len = (thumb.len() + 2) as u16;
        let mut img = vec![0xFF, 0xD8, 0xFF, 0xE1];
        img.extend_from_slice(&len.to_be_bytes());
        img.extend_from_slice(&thumb);
        img.extend_from_slice(&main[2..]);
        assert_eq!(split(&img, 5), vec![Scan::Image(img.len())]);
    }

    #[test]
    fn a_broken_image_is_dropped_and_the_next_one_found() {
        let (a, b) = (real_jpeg(3), real_jpeg(4));
        // The first image cut inside a segment header, then a new SOI.
        let cut = 20;
        let stream = [&a[..cut], &b[..]].concat();
        let r = split(&stream, 3);
        assert_eq!(r.last(), Some(&Scan::Image(b.len())), "{r:?}");
        assert!(r[..r.len() - 1]
            .iter()
            .all(|s| matches!(s, Scan::Corrupt(_) | Scan::Skip(_))));
        // A truncated last image is never reported as an image.
        assert_eq!(split(&a[..a.len() - 1], 64), vec![]);
    }
}
