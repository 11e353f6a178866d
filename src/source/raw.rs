//! Recorded camera streams: a file of raw frames back to back (as
//! `v4l2-ctl --stream-mmap --stream-to=FILE` writes them) or of JPEG images
//! back to back (an MJPEG capture), replayed as frames in the camera's own
//! format. The same bytes a camera delivered go through the same
//! conversion, so a capture can be re-run offline and compared.
//!
//! `raw:PATH?format=YUYV&width=640&height=480[&stride=1280][&fps=30][&yuv=bt601|bt601-full|bt709|bt709-full][&max_bytes=8388608]`
//!
//! Formats as on a pipe ([`super::layout`]: I420 too, replayed as NV12);
//! JPEG images are split by [`super::jpeg_stream`]'s scanner, each at most
//! `max_bytes`. The file is read one frame at a time into a buffer sized
//! once (a frame, or `max_bytes` and a read-ahead for MJPEG), so a
//! recording of any length replays in the memory of one frame; only
//! regular files are recordings (pipes are [`super::pipe`]'s).

use std::fs::File;
use std::io::Read;
use std::time::Duration;

use super::jpeg_stream::{JpegScanner, Scan};
use super::layout::{check_jpeg_cap, i420_chroma_to_nv12, Geometry, WireFormat};
use super::{Source, SourceError};
use crate::frame::{Frame, PixelFormat, YuvEncoding};
use crate::spec::Spec;

/// Read-ahead beyond one JPEG image.
const CHUNK: usize = 64 << 10;

/// How the frames lie in the file.
enum Body {
    /// Frames of `g.wire_len` bytes; `buf` holds the current one, `nv12`
    /// its NV12 repacking for I420.
    Fixed {
        g: Geometry,
        frames: u64,
        buf: Vec<u8>,
        nv12: Vec<u8>,
    },
    /// JPEG images; unconsumed bytes are `buf[start..end]`.
    Jpeg {
        buf: Vec<u8>,
        start: usize,
        end: usize,
        eof: bool,
        scanner: JpegScanner,
        max_bytes: usize,
        /// Bytes outside images, images that broke off or were too large.
        skipped: u64,
        broken: u64,
    },
}

/// Frames replayed from a recording.
pub struct RawSource {
    path: String,
    file: File,
    body: Body,
    format: PixelFormat,
    width: u32,
    height: u32,
    stride: usize,
    yuv: YuvEncoding,
    interval: Duration,
    next: u64,
    /// Set after a read error: the recording ends there.
    failed: bool,
}

impl RawSource {
    /// Opens a recording named by a `raw:` spec.
    pub fn from_spec(spec: &mut Spec) -> Result<Self, SourceError> {
        let wire = spec
            .take_with(
                "format",
                "one of I420, YUYV, NV12, MJPG, RGB3, GREY",
                WireFormat::parse,
            )?
            .ok_or_else(|| {
                SourceError::from(spec.error("give format=I420|YUYV|NV12|MJPG|RGB3|GREY"))
            })?;
        let format = wire.delivered();
        let mut pixels = |key: &'static str, what: &str| spec.take_in_range(key, 1..=16384, what);
        let width = pixels("width", "a width in pixels")?;
        let height = pixels("height", "a height in pixels")?;
        let stride = spec.take_in_range("stride", 1..=1 << 20, "bytes per line")?;
        let fps = spec
            .take_in_range("fps", 0.01..=1000.0, "frames per second")?
            .unwrap_or(30.0);
        let max_bytes = spec
            .take_with("max_bytes", "1024 to 268435456 bytes", |v| {
                v.parse().ok().and_then(|n| check_jpeg_cap(n).ok())
            })?
            .unwrap_or(8 << 20);
        let yuv = super::yuv_option(spec)?;
        let path = spec.target.clone();
        let recording_err = |why: String| SourceError::Recording {
            path: spec.target.clone(),
            why,
        };
        let file = File::open(&path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => SourceError::NotFound { path: path.clone() },
            _ => SourceError::Read {
                path: path.clone(),
                why: e.to_string(),
            },
        })?;
        let meta = file.metadata().map_err(|e| SourceError::Read {
            path: path.clone(),
            why: e.to_string(),
        })?;
        if !meta.is_file() {
            return Err(recording_err(
                "not a regular file; raw: replays recordings from files, and reads live frames \
                 from standard input (raw:-) or a named pipe"
                    .into(),
            ));
        }
        let (width, height, stride, body) = if format == PixelFormat::Mjpeg {
            let body = Body::Jpeg {
                buf: vec![0; max_bytes + CHUNK],
                start: 0,
                end: 0,
                eof: false,
                scanner: JpegScanner::default(),
                max_bytes,
                skipped: 0,
                broken: 0,
            };
            (width.unwrap_or(0), height.unwrap_or(0), 0, body)
        } else {
            let (Some(w), Some(h)) = (width, height) else {
                return Err(SourceError::from(
                    spec.error("raw frames need width= and height="),
                ));
            };
            let g = Geometry::new(wire, w, h, stride)
                .map_err(|e| SourceError::from(spec.error(e.0)))?;
            let len = g.wire_len as u64;
            if meta.len() < len || meta.len() % len != 0 {
                return Err(recording_err(format!(
                    "{} bytes is not a whole number of {w}x{h} {} frames of {len} bytes \
                     (stride {}); check format=, width=, height= and stride=",
                    meta.len(),
                    wire.name(),
                    g.stride
                )));
            }
            let body = Body::Fixed {
                g,
                frames: meta.len() / len,
                buf: vec![0; g.wire_len],
                nv12: vec![
                    0;
                    if wire == WireFormat::I420 {
                        g.frame_len
                    } else {
                        0
                    }
                ],
            };
            (w, h, g.stride, body)
        };
        let mut source = Self {
            path: path.clone(),
            file,
            body,
            format,
            width,
            height,
            stride,
            yuv,
            interval: Duration::from_secs_f64(1.0 / fps),
            next: 0,
            failed: false,
        };
        if let Body::Jpeg { .. } = source.body {
            // A file without a single JPEG start marker is not an MJPEG
            // recording: said now, not as a run of no frames.
            if !source.find_jpeg_start()? {
                return Err(recording_err(
                    "no JPEG start marker found; expected concatenated JPEG images".into(),
                ));
            }
        }
        Ok(source)
    }

    /// Reads more of the file into the JPEG window; false at its end.
    fn fill(&mut self) -> Result<bool, SourceError> {
        let Body::Jpeg {
            buf, start, end, ..
        } = &mut self.body
        else {
            return Ok(false);
        };
        if *end == buf.len() || *start > buf.len() / 2 {
            buf.copy_within(*start..*end, 0);
            *end -= *start;
            *start = 0;
        }
        loop {
            match self.file.read(&mut buf[*end..]) {
                Ok(0) => return Ok(false),
                Ok(n) => {
                    *end += n;
                    return Ok(true);
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => {
                    return Err(SourceError::Read {
                        path: self.path.clone(),
                        why: e.to_string(),
                    })
                }
            }
        }
    }

    /// Skips to the first JPEG start marker; false when there is none.
    fn find_jpeg_start(&mut self) -> Result<bool, SourceError> {
        loop {
            let Body::Jpeg {
                buf,
                start,
                end,
                skipped,
                ..
            } = &mut self.body
            else {
                return Ok(false);
            };
            let d = &buf[*start..*end];
            match d.windows(2).position(|w| w == [0xFF, 0xD8]) {
                Some(i) => {
                    *start += i;
                    *skipped += i as u64;
                    return Ok(true);
                }
                None => {
                    // Keep a last byte: it may begin the marker.
                    let n = d.len().saturating_sub(1);
                    *start += n;
                    *skipped += n as u64;
                }
            }
            if !self.fill()? {
                return Ok(false);
            }
        }
    }

    /// The next whole JPEG image as `buf[a..b]` (an image that breaks off
    /// and a truncated last image are given as they are: the decoder
    /// rejects them, so they are reported and counted).
    fn next_jpeg(&mut self) -> Result<Option<(usize, usize)>, SourceError> {
        loop {
            let Body::Jpeg {
                buf,
                start,
                end,
                eof,
                scanner,
                max_bytes,
                skipped,
                broken,
            } = &mut self.body
            else {
                return Ok(None);
            };
            match scanner.scan(&buf[*start..*end]) {
                Scan::Image(n) => {
                    let a = *start;
                    *start += n;
                    return Ok(Some((a, a + n)));
                }
                Scan::Skip(n) => {
                    *skipped += n as u64;
                    *start += n;
                }
                // An image that breaks off is a frame of its own: the
                // decoder rejects it, so it is reported and counted as a
                // frame error, not lost without a word.
                Scan::Corrupt(n) => {
                    let a = *start;
                    *start += n;
                    return Ok(Some((a, a + n)));
                }
                Scan::Need if *end - *start >= *max_bytes => {
                    *broken += 1;
                    log::warn!(
                        "{}: a JPEG image exceeds max_bytes={}; skipped",
                        self.path,
                        max_bytes
                    );
                    // Resynchronise at the next start marker after it.
                    *start += 2;
                    *scanner = JpegScanner::default();
                }
                Scan::Need if *eof => {
                    let progress = scanner.progress();
                    *scanner = JpegScanner::default();
                    let (a, b) = (*start, *end);
                    *start = b;
                    return Ok((progress > 0).then_some((a, b)));
                }
                Scan::Need => {
                    if !self.fill()? {
                        if let Body::Jpeg { eof, .. } = &mut self.body {
                            *eof = true;
                        }
                    }
                }
            }
        }
    }

    /// Reads the next frame from the file; where it is now.
    fn advance(&mut self) -> Result<Option<Held>, SourceError> {
        let Body::Fixed {
            g,
            frames,
            buf,
            nv12,
        } = &mut self.body
        else {
            return Ok(self.next_jpeg()?.map(|(a, b)| Held::Range(a, b)));
        };
        if self.next >= *frames {
            return Ok(None);
        }
        match self.file.read_exact(buf) {
            Ok(()) => {}
            // Cut short while replaying (the file changed): the end.
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                log::warn!("{}: the recording ended early ({e})", self.path);
                return Ok(None);
            }
            Err(e) => {
                return Err(SourceError::Read {
                    path: self.path.clone(),
                    why: e.to_string(),
                })
            }
        }
        if g.format != WireFormat::I420 {
            return Ok(Some(Held::Range(0, buf.len())));
        }
        let luma = g.luma_len();
        let (y, uv) = nv12.split_at_mut(luma);
        y.copy_from_slice(&buf[..luma]);
        i420_chroma_to_nv12(&buf[luma..], uv, g);
        Ok(Some(Held::Nv12))
    }
}

/// Where the frame [`RawSource::advance`] read is.
enum Held {
    /// `buf[a..b]`.
    Range(usize, usize),
    /// The NV12 repacking of an I420 frame.
    Nv12,
}

impl Source for RawSource {
    fn next_frame(&mut self) -> Option<Result<Frame<'_>, SourceError>> {
        if self.failed {
            return None;
        }
        let held = match self.advance() {
            Ok(Some(h)) => h,
            Ok(None) => return None,
            Err(e) => {
                // A read error ends the recording (said once).
                self.failed = true;
                return Some(Err(e));
            }
        };
        let seq = self.next;
        self.next += 1;
        let pixels = match (&self.body, held) {
            (Body::Fixed { nv12, .. }, Held::Nv12) => &nv12[..],
            (Body::Fixed { buf, .. } | Body::Jpeg { buf, .. }, Held::Range(a, b)) => &buf[a..b],
            (Body::Jpeg { .. }, Held::Nv12) => return None,
        };
        Some(Ok(Frame {
            pixels,
            format: self.format,
            stride: self.stride,
            yuv: self.yuv,
            width: self.width,
            height: self.height,
            seq,
            timestamp: self
                .interval
                .saturating_mul(u32::try_from(seq).unwrap_or(u32::MAX)),
            origin: &self.path,
        }))
    }

    fn describe(&self) -> String {
        match &self.body {
            Body::Fixed { g, frames, .. } => {
                format!("{frames} {} frame(s) from {}", g.format.name(), self.path)
            }
            Body::Jpeg { .. } => format!("MJPG frames from {}", self.path),
        }
    }

    fn summary(&self) -> Option<String> {
        match &self.body {
            Body::Jpeg {
                skipped, broken, ..
            } if *skipped > 0 || *broken > 0 => Some(format!(
                "recording {}: {broken} oversized JPEG images skipped, {skipped} bytes outside \
                 images",
                self.path
            )),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::jpeg_stream::tests::real_jpeg;
    use super::*;

    fn open(path: &std::path::Path, query: &str) -> Result<RawSource, SourceError> {
        RawSource::from_spec(&mut Spec::parse(&format!("raw:{}?{query}", path.display())).unwrap())
    }

    fn all_frames(s: &mut RawSource) -> Vec<Vec<u8>> {
        let mut v = Vec::new();
        while let Some(f) = s.next_frame() {
            v.push(f.unwrap().pixels.to_vec());
        }
        v
    }

    #[test]
    fn jpegs_split_at_their_end_markers_with_a_small_window() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("cap.mjpg");
        let (a, b) = (real_jpeg(1), real_jpeg(2));
        std::fs::write(&p, [&[0u8, 7][..], &a, &b, &a[..a.len() / 2]].concat()).unwrap();
        let mut s = open(&p, "format=MJPG&max_bytes=1024").unwrap();
        assert_eq!(
            all_frames(&mut s),
            [a.clone(), b, a[..a.len() / 2].to_vec()]
        );
        assert_eq!(s.describe(), format!("MJPG frames from {}", p.display()));
        // No start marker at all: refused at open.
        std::fs::write(&p, vec![7u8; 100_000]).unwrap();
        let e = open(&p, "format=MJPG").err().unwrap().to_string();
        assert!(e.contains("no JPEG start marker found"), "{e}");
        // An image that breaks off after its start marker is a frame of
        // its own (rejected by the decoder, so counted), not skipped.
        let broken = [&[0xFF, 0xD8][..], b"junk", &[0xFF, 0xD9]].concat();
        std::fs::write(&p, [&a[..], &broken, &a].concat()).unwrap();
        let mut s = open(&p, "format=MJPG").unwrap();
        let frames = all_frames(&mut s);
        assert_eq!(
            frames.len(),
            3,
            "{:?}",
            frames.iter().map(Vec::len).collect::<Vec<_>>()
        );
        assert_eq!((&frames[0], &frames[2]), (&a, &a));
    }

    #[test]
    fn i420_recordings_replay_as_nv12() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("cap.i420");
        // Two 4x2 frames: Y 0..8, U 8 9, V 10 11 (then +100).
        let f: Vec<u8> = (0..12).chain(100..112).collect();
        std::fs::write(&p, f).unwrap();
        let mut s = open(&p, "format=I420&width=4&height=2").unwrap();
        let f = s.next_frame().unwrap().unwrap();
        assert_eq!(f.format, PixelFormat::Nv12);
        assert_eq!(f.pixels, [0, 1, 2, 3, 4, 5, 6, 7, 8, 10, 9, 11]);
        let f = s.next_frame().unwrap().unwrap();
        assert_eq!(&f.pixels[8..], [108, 110, 109, 111]);
        assert!(s.next_frame().is_none());
    }

    #[test]
    fn raw_frames_must_be_whole_and_come_from_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("cap.yuyv");
        std::fs::write(&p, (0..48).collect::<Vec<u8>>()).unwrap();
        let mut s = open(&p, "format=YUYV&width=4&height=2").unwrap();
        let frames = all_frames(&mut s);
        assert_eq!(frames.len(), 3);
        assert_eq!(frames[2], (32..48).collect::<Vec<u8>>());
        let e = open(&p, "format=YUYV&width=4&height=4").err().unwrap();
        assert!(e.to_string().contains("not a whole number"), "{e}");
        let e = open(&p, "format=YUYV&width=4").err().unwrap();
        assert!(e.to_string().contains("width= and height="), "{e}");
        // Odd-width NV12 reads past its buffer: refused from the geometry.
        let e = open(&p, "format=NV12&width=3&height=2").err().unwrap();
        assert!(e.to_string().contains("NV12 needs an even width"), "{e}");
        // A device is no recording (it would be read forever).
        let e = RawSource::from_spec(
            &mut Spec::parse("raw:/dev/zero?format=YUYV&width=4&height=2").unwrap(),
        )
        .err()
        .unwrap();
        assert!(e.to_string().contains("not a regular file"), "{e}");
    }
}
