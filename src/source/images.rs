//! Still-image source: JPEG/PNG files, or every such file in a directory
//! (sorted by name), decoded into one reusable RGB buffer. JPEG goes
//! through libjpeg-turbo (`turbojpeg`, default accurate IDCT and fancy
//! upsampling: the same pixels Pillow and OpenCV decode), everything else
//! through the `image` crate. EXIF orientation is not applied.
//!
//! Files are untrusted: each is read with the image file cap
//! ([`crate::files::IMAGE`]) and its size in pixels is checked from its
//! header against [`MAX_IMAGE_PIXELS`] before any pixel buffer is
//! allocated, so a decompression bomb is refused at its header.

use std::path::{Path, PathBuf};
use std::time::Duration;

use image::ImageDecoder;

use super::{Source, SourceError};
use crate::frame::{check_image_size, Frame, CMYK_JPEG, MAX_IMAGE_PIXELS};

/// The most the PNG decoder may allocate at once: a 40-megapixel image in
/// 16-bit RGBA (8 bytes a pixel), and a little more.
const MAX_DECODE_BYTES: u64 = MAX_IMAGE_PIXELS * 8 + (16 << 20);

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
        crate::files::read_checked(path, crate::files::IMAGE, &mut self.file, image_head).map_err(
            |e| match e {
                crate::files::ReadError::Content(why) => SourceError::Decode {
                    path: display.clone(),
                    why,
                },
                e => SourceError::Read {
                    path: display.clone(),
                    why: e.to_string(),
                },
            },
        )?;
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
        let mut reader = image::ImageReader::new(std::io::Cursor::new(&self.file))
            .with_guessed_format()
            .map_err(|e| SourceError::Read {
                path: display.clone(),
                why: e.to_string(),
            })?;
        if reader.format().is_none() {
            let head: Vec<String> = self
                .file
                .iter()
                .take(4)
                .map(|b| format!("{b:02x}"))
                .collect();
            return Err(SourceError::Decode {
                path: display,
                why: format!(
                    "unrecognised file contents (first bytes {})",
                    head.join(" ")
                ),
            });
        }
        let mut limits = image::Limits::default();
        limits.max_alloc = Some(MAX_DECODE_BYTES);
        reader.limits(limits);
        let decoder = reader.into_decoder().map_err(decode_err)?;
        let (w, h) = decoder.dimensions();
        check_image_size(w.into(), h.into()).map_err(|why| SourceError::Decode {
            path: display.clone(),
            why,
        })?;
        if decoder.color_type() == image::ColorType::Rgb8 {
            let n = usize::try_from(decoder.total_bytes()).unwrap_or(usize::MAX);
            buf.resize(n, 0);
            decoder.read_image(buf).map_err(decode_err)?;
        } else {
            // Converted in a second buffer, which then becomes the frame's
            // (no third copy at this size).
            let rgb = image::DynamicImage::from_decoder(decoder)
                .map_err(decode_err)?
                .into_rgb8();
            *buf = rgb.into_raw();
        }
        Ok((w, h))
    }
}

/// Refuses a file whose first bytes are neither JPEG's nor PNG's.
fn image_head(head: &[u8]) -> Result<(), String> {
    const PNG: &[u8] = b"\x89PNG\r\n\x1a\n";
    if head.starts_with(&[0xFF, 0xD8, 0xFF]) || head.starts_with(PNG) {
        return Ok(());
    }
    let shown: Vec<String> = head.iter().take(8).map(|b| format!("{b:02x}")).collect();
    Err(if shown.is_empty() {
        "the file is empty".to_string()
    } else {
        format!(
            "its first bytes ({}) are neither JPEG's nor PNG's",
            shown.join(" ")
        )
    })
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
    check_image_size(w as u64, h as u64)?;
    if matches!(
        header.colorspace,
        turbojpeg::Colorspace::CMYK | turbojpeg::Colorspace::YCCK
    ) {
        return Err(CMYK_JPEG.into());
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
        let timestamp = self
            .interval
            .saturating_mul(u32::try_from(seq).unwrap_or(u32::MAX));
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
