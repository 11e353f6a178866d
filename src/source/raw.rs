//! Recorded camera streams: a file of raw frames back to back (as
//! `v4l2-ctl --stream-mmap --stream-to=FILE` writes them) or of JPEG images
//! back to back (an MJPEG capture), replayed as frames in the camera's own
//! format. The same bytes a camera delivered go through the same
//! conversion, so a capture can be re-run offline and compared.
//!
//! `raw:PATH?format=YUYV&width=640&height=480[&stride=1280][&fps=30][&yuv=bt601|bt601-full|bt709|bt709-full]`
//!
//! Formats as on a pipe ([`super::layout`]: I420 too, replayed as NV12);
//! JPEG images are split by [`super::jpeg_stream`]'s scanner.

use std::path::PathBuf;
use std::time::Duration;

use super::jpeg_stream::{JpegScanner, Scan};
use super::layout::{i420_chroma_to_nv12, Geometry, WireFormat};
use super::{Source, SourceError};
use crate::frame::{Frame, PixelFormat, YuvEncoding};
use crate::spec::Spec;

/// Frames replayed from a recording.
pub struct RawSource {
    path: String,
    data: Vec<u8>,
    /// Byte range of each frame in `data`.
    frames: Vec<(usize, usize)>,
    format: PixelFormat,
    width: u32,
    height: u32,
    stride: usize,
    yuv: YuvEncoding,
    interval: Duration,
    next: usize,
    /// I420 recordings: the geometry, and the frame repacked as NV12.
    i420: Option<Geometry>,
    nv12: Vec<u8>,
}

/// Splits concatenated JPEG images with the stream scanner; bytes outside
/// images are skipped, a truncated last image is kept (the decoder rejects
/// it, so it is reported).
fn split_jpegs(data: &[u8]) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut scanner = JpegScanner::default();
    let mut at = 0;
    while at < data.len() {
        match scanner.scan(&data[at..]) {
            Scan::Image(n) => {
                out.push((at, at + n));
                at += n;
            }
            Scan::Skip(n) | Scan::Corrupt(n) => at += n,
            Scan::Need => {
                if scanner.progress() > 0 {
                    out.push((at, data.len()));
                }
                break;
            }
        }
    }
    out
}

impl RawSource {
    /// Opens a recording named by a `raw:` spec.
    pub fn from_spec(spec: &mut Spec) -> Result<Self, SourceError> {
        let bad = |e: crate::spec::SpecError| SourceError::Spec(e.to_string());
        let wire = spec
            .take_with(
                "format",
                "one of I420, YUYV, NV12, MJPG, RGB3, GREY",
                WireFormat::parse,
            )
            .map_err(bad)?
            .ok_or_else(|| bad(spec.error("give format=I420|YUYV|NV12|MJPG|RGB3|GREY")))?;
        let format = wire.delivered();
        let mut pixels =
            |key: &'static str, what: &str| spec.take_in_range(key, 1..=16384, what).map_err(bad);
        let width = pixels("width", "a width in pixels")?;
        let height = pixels("height", "a height in pixels")?;
        let stride = spec
            .take_in_range("stride", 1..=1 << 20, "bytes per line")
            .map_err(bad)?;
        let fps = spec
            .take_in_range("fps", 0.01..=1000.0, "frames per second")
            .map_err(bad)?
            .unwrap_or(30.0);
        let yuv = super::yuv_option(spec)?;
        let path = PathBuf::from(&spec.target);
        let data = std::fs::read(&path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => SourceError::NotFound {
                path: spec.target.clone(),
            },
            _ => SourceError::Read {
                path: spec.target.clone(),
                why: e.to_string(),
            },
        })?;
        let (width, height, stride, frames) = if format == PixelFormat::Mjpeg {
            let frames = split_jpegs(&data);
            if frames.is_empty() {
                return Err(SourceError::Recording {
                    path: spec.target.clone(),
                    why: "no JPEG start marker found; expected concatenated JPEG images".into(),
                });
            }
            (width.unwrap_or(0), height.unwrap_or(0), 0, frames)
        } else {
            let (Some(w), Some(h)) = (width, height) else {
                return Err(bad(spec.error("raw frames need width= and height=")));
            };
            let g = Geometry::new(wire, w, h, stride).map_err(|e| bad(spec.error(e.0)))?;
            let len = g.wire_len;
            if data.len() < len || data.len() % len != 0 {
                return Err(SourceError::Recording {
                    path: spec.target.clone(),
                    why: format!(
                        "{} bytes is not a whole number of {w}x{h} {} frames of {len} bytes",
                        data.len(),
                        wire.name()
                    ),
                });
            }
            let frames = (0..data.len() / len)
                .map(|i| (i * len, (i + 1) * len))
                .collect();
            (w, h, g.stride, frames)
        };
        let i420 = (wire == WireFormat::I420)
            .then(|| Geometry::new(wire, width, height, Some(stride)).ok())
            .flatten();
        Ok(Self {
            path: spec.target.clone(),
            data,
            frames,
            format,
            width,
            height,
            stride,
            yuv,
            interval: Duration::from_secs_f64(1.0 / fps),
            next: 0,
            nv12: vec![0; i420.map_or(0, |g| g.frame_len)],
            i420,
        })
    }
}

impl Source for RawSource {
    fn next_frame(&mut self) -> Option<Result<Frame<'_>, SourceError>> {
        let &(a, b) = self.frames.get(self.next)?;
        let seq = self.next as u64;
        self.next += 1;
        let pixels = match self.i420 {
            Some(g) => {
                let luma = g.luma_len();
                let (y, uv) = self.nv12.split_at_mut(luma);
                y.copy_from_slice(&self.data[a..a + luma]);
                i420_chroma_to_nv12(&self.data[a + luma..b], uv, &g);
                &self.nv12[..]
            }
            None => &self.data[a..b],
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
        format!(
            "{} {} frame(s) from {}",
            self.frames.len(),
            if self.i420.is_some() {
                "I420"
            } else {
                self.format.fourcc()
            },
            self.path
        )
    }
}

#[cfg(test)]
mod tests {
    use super::super::jpeg_stream::tests::real_jpeg;
    use super::*;

    #[test]
    fn jpegs_split_at_their_end_markers() {
        let (a, b) = (real_jpeg(1), real_jpeg(2));
        let d = [&[0u8, 7][..], &a, &b, &a[..a.len() / 2]].concat();
        let (x, y) = (2 + a.len(), 2 + a.len() + b.len());
        assert_eq!(split_jpegs(&d), vec![(2, x), (x, y), (y, d.len())]);
    }

    #[test]
    fn i420_recordings_replay_as_nv12() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("cap.i420");
        // Two 4x2 frames: Y 0..8, U 8 9, V 10 11 (then +100).
        let f: Vec<u8> = (0..12).chain(100..112).collect();
        std::fs::write(&p, f).unwrap();
        let mut spec =
            Spec::parse(&format!("raw:{}?format=I420&width=4&height=2", p.display())).unwrap();
        let mut s = RawSource::from_spec(&mut spec).unwrap();
        let f = s.next_frame().unwrap().unwrap();
        assert_eq!(f.format, PixelFormat::Nv12);
        assert_eq!(f.pixels, [0, 1, 2, 3, 4, 5, 6, 7, 8, 10, 9, 11]);
        let f = s.next_frame().unwrap().unwrap();
        assert_eq!(&f.pixels[8..], [108, 110, 109, 111]);
        assert!(s.next_frame().is_none());
    }

    #[test]
    fn raw_frames_must_be_whole() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("cap.yuyv");
        std::fs::write(&p, vec![128u8; 4 * 2 * 2 * 3]).unwrap();
        let spec = |q: &str| Spec::parse(&format!("raw:{}?{q}", p.display())).unwrap();
        let mut s = RawSource::from_spec(&mut spec("format=YUYV&width=4&height=2")).unwrap();
        let f = s.next_frame().unwrap().unwrap();
        assert_eq!((f.pixels.len(), f.stride, f.seq), (16, 8, 0));
        assert_eq!(s.frames.len(), 3);
        let e = RawSource::from_spec(&mut spec("format=YUYV&width=4&height=4"))
            .err()
            .unwrap();
        assert!(e.to_string().contains("not a whole number"), "{e}");
        let e = RawSource::from_spec(&mut spec("format=YUYV&width=4"))
            .err()
            .unwrap();
        assert!(e.to_string().contains("width= and height="), "{e}");
    }
}
