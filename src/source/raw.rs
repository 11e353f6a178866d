//! Recorded camera streams: a file of raw frames back to back (as
//! `v4l2-ctl --stream-mmap --stream-to=FILE` writes them) or of JPEG images
//! back to back (an MJPEG capture), replayed as frames in the camera's own
//! format. The same bytes a camera delivered go through the same
//! conversion, so a capture can be re-run offline and compared.
//!
//! `raw:PATH?format=YUYV&width=640&height=480[&stride=1280][&fps=30][&yuv=bt601|bt601-full|bt709|bt709-full]`

use std::path::PathBuf;
use std::time::Duration;

use super::{Source, SourceError, FOURCCS};
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
}

/// Splits concatenated JPEG images at their start/end markers.
fn split_jpegs(data: &[u8]) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut i = 0;
    while i + 1 < data.len() {
        if data[i] == 0xFF && data[i + 1] == 0xD8 {
            let start = i;
            // The end marker cannot occur inside entropy-coded data (0xFF is
            // stuffed there), so the first one after a start ends the image.
            match data[i + 2..].windows(2).position(|w| w == [0xFF, 0xD9]) {
                Some(p) => {
                    let end = i + 2 + p + 2;
                    out.push((start, end));
                    i = end;
                }
                None => {
                    // A truncated last image: kept, the decoder rejects it.
                    out.push((start, data.len()));
                    break;
                }
            }
        } else {
            i += 1;
        }
    }
    out
}

impl RawSource {
    /// Opens a recording named by a `raw:` spec.
    pub fn from_spec(spec: &mut Spec) -> Result<Self, SourceError> {
        let bad = |e: crate::spec::SpecError| SourceError::Spec(e.to_string());
        let format = spec
            .take_with("format", FOURCCS, PixelFormat::from_fourcc)
            .map_err(bad)?
            .ok_or_else(|| bad(spec.error("give format=YUYV|NV12|MJPG|RGB3|GREY")))?;
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
        let yuv = spec
            .take_choice(
                "yuv",
                &[
                    ("bt601", YuvEncoding::Bt601Limited),
                    ("bt601-full", YuvEncoding::Bt601Full),
                    ("bt709", YuvEncoding::Bt709Limited),
                    ("bt709-full", YuvEncoding::Bt709Full),
                ],
            )
            .map_err(bad)?
            .unwrap_or(YuvEncoding::Bt601Limited);
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
            let stride = stride.unwrap_or_else(|| format.min_stride(w));
            if stride < format.min_stride(w) {
                return Err(bad(spec.invalid(
                    "stride",
                    &stride.to_string(),
                    &format!(
                        "at least {} for {} {w} wide",
                        format.min_stride(w),
                        format.fourcc()
                    ),
                )));
            }
            let len = format.frame_len(stride, h);
            if data.len() < len || data.len() % len != 0 {
                return Err(SourceError::Recording {
                    path: spec.target.clone(),
                    why: format!(
                        "{} bytes is not a whole number of {w}x{h} {} frames of {len} bytes",
                        data.len(),
                        format.fourcc()
                    ),
                });
            }
            let frames = (0..data.len() / len)
                .map(|i| (i * len, (i + 1) * len))
                .collect();
            (w, h, stride, frames)
        };
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
        })
    }
}

impl Source for RawSource {
    fn next_frame(&mut self) -> Option<Result<Frame<'_>, SourceError>> {
        let &(a, b) = self.frames.get(self.next)?;
        let seq = self.next as u64;
        self.next += 1;
        Some(Ok(Frame {
            pixels: &self.data[a..b],
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
            self.format.fourcc(),
            self.path
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jpegs_split_at_markers() {
        let mut d = vec![0, 0xFF, 0xD8, 1, 0xFF, 0xD9];
        d.extend_from_slice(&[0xFF, 0xD8, 2, 3, 0xFF, 0xD9, 0xFF, 0xD8, 9]);
        assert_eq!(split_jpegs(&d), vec![(1, 6), (6, 12), (12, 15)]);
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
