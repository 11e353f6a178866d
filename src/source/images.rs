//! Still-image source: JPEG/PNG files, or every such file in a directory
//! (sorted by name), decoded into one reusable RGB buffer. JPEG goes
//! through libjpeg-turbo (`turbojpeg`, default accurate IDCT and fancy
//! upsampling: the same pixels Pillow and OpenCV decode), everything else
//! through the `image` crate. EXIF orientation is not applied.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Duration;

use image::ImageDecoder;

use super::{Source, SourceError};
use crate::frame::Frame;

const EXTENSIONS: &[&str] = &["jpg", "jpeg", "png"];

/// Frames from image files.
pub struct ImageSource {
    files: Vec<PathBuf>,
    next: usize,
    interval: Duration,
    buf: Vec<u8>,
    file: Vec<u8>,
    jpeg: Option<turbojpeg::Decompressor>,
    origin: String,
}

fn is_image(p: &Path) -> bool {
    p.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| EXTENSIONS.iter().any(|x| e.eq_ignore_ascii_case(x)))
}

/// Expands files and directories into the list of image files.
pub fn expand(inputs: &[PathBuf]) -> Result<Vec<PathBuf>, SourceError> {
    let mut files = Vec::new();
    for input in inputs {
        let display = input.display().to_string();
        let meta = std::fs::metadata(input).map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                SourceError::NotFound {
                    path: display.clone(),
                }
            } else {
                SourceError::Read {
                    path: display.clone(),
                    why: e.to_string(),
                }
            }
        })?;
        if meta.is_dir() {
            let mut found: Vec<PathBuf> = std::fs::read_dir(input)
                .map_err(|e| SourceError::Read {
                    path: display.clone(),
                    why: e.to_string(),
                })?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.is_file() && is_image(p))
                .collect();
            if found.is_empty() {
                return Err(SourceError::EmptyDir { path: display });
            }
            found.sort();
            files.extend(found);
        } else {
            files.push(input.clone());
        }
    }
    Ok(files)
}

impl ImageSource {
    /// A source over `inputs` (files and directories). `interval` is the
    /// time between consecutive frames' timestamps.
    pub fn new(inputs: &[PathBuf], interval: Duration) -> Result<Self, SourceError> {
        Ok(Self {
            files: expand(inputs)?,
            next: 0,
            interval,
            buf: Vec::new(),
            file: Vec::new(),
            jpeg: None,
            origin: String::new(),
        })
    }

    /// Number of image files.
    pub fn len(&self) -> usize {
        self.files.len()
    }

    /// True when there are no files.
    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    fn decode(&mut self, index: usize) -> Result<(u32, u32), SourceError> {
        let path = &self.files[index];
        let display = path.display().to_string();
        let read_err = |e: std::io::Error| SourceError::Read {
            path: display.clone(),
            why: e.to_string(),
        };
        self.file.clear();
        std::fs::File::open(path)
            .and_then(|mut f| f.read_to_end(&mut self.file))
            .map_err(read_err)?;
        if self.file.starts_with(&[0xFF, 0xD8, 0xFF]) {
            return decode_jpeg(&self.file, &mut self.jpeg, &mut self.buf).map_err(|why| {
                SourceError::Decode {
                    path: display.clone(),
                    why,
                }
            });
        }
        let buf = &mut self.buf;
        let decode_err = |e: image::ImageError| SourceError::Decode {
            path: display.clone(),
            why: e.to_string(),
        };
        let reader = image::ImageReader::new(std::io::Cursor::new(&self.file))
            .with_guessed_format()
            .map_err(|e| SourceError::Read {
                path: display.clone(),
                why: e.to_string(),
            })?;
        if reader.format().is_none() {
            return Err(SourceError::Decode {
                path: display,
                why: "unrecognised file contents".into(),
            });
        }
        let decoder = reader.into_decoder().map_err(decode_err)?;
        let (w, h) = decoder.dimensions();
        if decoder.color_type() == image::ColorType::Rgb8 {
            let n = usize::try_from(decoder.total_bytes()).unwrap_or(usize::MAX);
            buf.resize(n, 0);
            decoder.read_image(buf).map_err(decode_err)?;
        } else {
            let rgb = image::DynamicImage::from_decoder(decoder)
                .map_err(decode_err)?
                .into_rgb8();
            buf.clear();
            buf.extend_from_slice(rgb.as_raw());
        }
        Ok((w, h))
    }
}

/// Decodes a JPEG into packed RGB in `buf` (reused), creating the
/// decompressor on first use.
fn decode_jpeg(
    data: &[u8],
    dec: &mut Option<turbojpeg::Decompressor>,
    buf: &mut Vec<u8>,
) -> Result<(u32, u32), String> {
    if dec.is_none() {
        *dec = Some(turbojpeg::Decompressor::new().map_err(|e| e.to_string())?);
    }
    let Some(d) = dec.as_mut() else {
        return Err("no JPEG decompressor".into());
    };
    let header = d.read_header(data).map_err(|e| e.to_string())?;
    let (w, h) = (header.width, header.height);
    if w == 0 || h == 0 {
        return Err("zero-sized image".into());
    }
    buf.resize(w * h * 3, 0);
    d.decompress(
        data,
        turbojpeg::Image {
            pixels: buf.as_mut_slice(),
            width: w,
            pitch: w * 3,
            height: h,
            format: turbojpeg::PixelFormat::RGB,
        },
    )
    .map_err(|e| e.to_string())?;
    let dim = |v: usize| u32::try_from(v).map_err(|_| format!("image dimension {v} too large"));
    Ok((dim(w)?, dim(h)?))
}

impl Source for ImageSource {
    fn next_frame(&mut self) -> Option<Result<Frame<'_>, SourceError>> {
        let index = self.next;
        let path = self.files.get(index)?;
        let seq = index as u64;
        self.next += 1;
        self.origin.clear();
        self.origin.push_str(&path.display().to_string());
        let timestamp = self.interval * u32::try_from(seq).unwrap_or(u32::MAX);
        Some(self.decode(index).map(|(width, height)| Frame {
            seq,
            timestamp,
            ..Frame::rgb(&self.buf, width, height, &self.origin)
        }))
    }

    fn describe(&self) -> String {
        format!("{} image file(s)", self.files.len())
    }
}
