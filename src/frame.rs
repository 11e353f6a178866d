//! The per-frame types every stage shares: a source's [`Frame`] (pixels
//! and their format), the decoded [`Person`]s with their [`Keypoint`]s, and
//! the [`FrameResult`] that the pipeline fills and every sink reads, with
//! its [`StageTimes`], [`TrackMeta`] and the run's [`RecordMeta`]. They sit
//! below the stages: this module depends on nothing else in the crate.

use std::time::Duration;

use serde::Serialize;

/// Most keypoints per person a decoder supports.
pub const MAX_KEYPOINTS: usize = 32;

/// Most pixels of an image or JPEG frame edgepose decodes: 40 megapixels
/// (a 7300 × 5500 photo). Decoded to RGB that is 120 MB; more would not fit
/// next to a model on a 1 GB board, and a pose model looks at 640 × 640 at
/// most. Checked from the file's header, before anything is allocated.
pub const MAX_IMAGE_PIXELS: u64 = 40_000_000;

/// What is wrong with an image of `width` × `height` pixels, if anything:
/// none at all, or more than [`MAX_IMAGE_PIXELS`].
pub fn check_image_size(width: u64, height: u64) -> Result<(), String> {
    if width == 0 || height == 0 {
        return Err(format!("{width} × {height} pixels: an empty image"));
    }
    let pixels = width.saturating_mul(height);
    if pixels > MAX_IMAGE_PIXELS {
        return Err(format!(
            "{width} × {height} pixels ({:.1} megapixels) is more than the {} megapixels \
             edgepose decodes; scale it down first",
            pixels as f64 / 1e6,
            MAX_IMAGE_PIXELS / 1_000_000
        ));
    }
    Ok(())
}

/// The error for a JPEG in CMYK or YCCK (print colour spaces, from Adobe
/// tools), which edgepose does not convert.
pub const CMYK_JPEG: &str = "a CMYK JPEG (a print colour space); edgepose reads RGB and \
     greyscale JPEGs: convert it to RGB first (e.g. `convert IN -colorspace sRGB OUT.jpg`)";

/// One keypoint: position (pixels) and confidence.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Keypoint {
    pub x: f32,
    pub y: f32,
    pub score: f32,
}

/// One detected person.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Person {
    /// `[x1, y1, x2, y2]`.
    pub bbox: [f32; 4],
    pub score: f32,
    /// The first `num_keypoints` entries are used.
    pub keypoints: [Keypoint; MAX_KEYPOINTS],
}

impl Default for Person {
    fn default() -> Self {
        Self {
            bbox: [0.0; 4],
            score: 0.0,
            keypoints: [Keypoint::default(); MAX_KEYPOINTS],
        }
    }
}

/// How a frame's bytes encode its pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PixelFormat {
    /// Packed 8-bit R, G, B.
    #[default]
    Rgb24,
    /// Packed 4:2:2 Y0 U Y1 V (V4L2 `YUYV`).
    Yuyv,
    /// Y plane, then an interleaved U V plane at half height (V4L2 `NV12`),
    /// both with the frame's stride.
    Nv12,
    /// 8-bit luma only.
    Grey,
    /// One JPEG image (V4L2 `MJPG`); `stride` is unused.
    Mjpeg,
}

impl PixelFormat {
    /// The V4L2 four-character code.
    pub fn fourcc(self) -> &'static str {
        match self {
            PixelFormat::Rgb24 => "RGB3",
            PixelFormat::Yuyv => "YUYV",
            PixelFormat::Nv12 => "NV12",
            PixelFormat::Grey => "GREY",
            PixelFormat::Mjpeg => "MJPG",
        }
    }

    /// The format of a four-character code (also accepts `MJPEG`, `RGB24`).
    pub fn from_fourcc(code: &str) -> Option<Self> {
        Some(match code.to_ascii_uppercase().as_str() {
            "RGB3" | "RGB24" | "RGB" => PixelFormat::Rgb24,
            "YUYV" | "YUY2" => PixelFormat::Yuyv,
            "NV12" => PixelFormat::Nv12,
            "GREY" | "GRAY" | "Y8" => PixelFormat::Grey,
            "MJPG" | "MJPEG" | "JPEG" => PixelFormat::Mjpeg,
            _ => return None,
        })
    }

    /// Smallest valid stride (bytes per line of the first plane) for `width`
    /// (`usize::MAX` where it does not fit, so no stride is enough).
    pub fn min_stride(self, width: u32) -> usize {
        let w = width as usize;
        match self {
            PixelFormat::Rgb24 => w.saturating_mul(3),
            PixelFormat::Yuyv => w.div_ceil(2).saturating_mul(4),
            // NV12's chroma rows hold whole U/V pairs: an odd width needs
            // one more byte per row.
            PixelFormat::Nv12 => w.div_ceil(2).saturating_mul(2),
            PixelFormat::Grey => w,
            PixelFormat::Mjpeg => 0,
        }
    }

    /// Bytes of a whole frame with `stride` and `height`; `None` where that
    /// does not fit in `usize` (a stride from outside can be anything).
    pub fn frame_len(self, stride: usize, height: u32) -> Option<usize> {
        let h = height as usize;
        match self {
            PixelFormat::Nv12 => stride.checked_mul(h.checked_add(h.div_ceil(2))?),
            PixelFormat::Mjpeg => Some(0),
            _ => stride.checked_mul(h),
        }
    }
}

/// YCbCr → RGB matrix and range of a YUV frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum YuvEncoding {
    /// ITU-R BT.601, limited range (16–235): what webcams and SD video use.
    #[default]
    Bt601Limited,
    /// BT.601 full range (JPEG/JFIF).
    Bt601Full,
    /// ITU-R BT.709 (HD), limited range.
    Bt709Limited,
    /// BT.709 full range.
    Bt709Full,
}

/// One frame, borrowed from the source's reusable (or mapped) buffer.
#[derive(Debug, Clone, Copy)]
pub struct Frame<'a> {
    /// The frame's bytes in `format`; for RGB, rows `stride` bytes apart.
    pub pixels: &'a [u8],
    pub format: PixelFormat,
    /// Bytes per line of the (first) plane, at least the format's minimum.
    pub stride: usize,
    /// For YUV formats: how to turn them into RGB.
    pub yuv: YuvEncoding,
    pub width: u32,
    pub height: u32,
    /// Sequence number from the source (0-based).
    pub seq: u64,
    /// Capture time relative to the source's start.
    pub timestamp: Duration,
    /// Where the frame came from (file path, device).
    pub origin: &'a str,
}

impl<'a> Frame<'a> {
    /// A packed RGB frame (rows without padding).
    pub fn rgb(pixels: &'a [u8], width: u32, height: u32, origin: &'a str) -> Self {
        Self {
            pixels,
            format: PixelFormat::Rgb24,
            stride: width as usize * 3,
            yuv: YuvEncoding::default(),
            width,
            height,
            seq: 0,
            timestamp: Duration::ZERO,
            origin,
        }
    }

    /// Whether `pixels` hold the whole frame its stride and height say
    /// (the stride at least a line), computed without overflow: checked
    /// before any pixel is read, whatever the numbers.
    pub fn layout_fits(&self) -> bool {
        self.stride >= self.format.min_stride(self.width)
            && (self.format.frame_len(self.stride, self.height))
                .is_some_and(|need| self.pixels.len() >= need)
    }
}

/// Per-stage times of one frame, in milliseconds.
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq)]
pub struct StageTimes {
    /// Reading and decoding the image (filled in by the caller).
    pub source: f64,
    pub preprocess: f64,
    pub invoke: f64,
    pub decode: f64,
    /// Pre-process + invoke + decode.
    pub pipeline: f64,
}

/// Track identity of one output person (when tracking is on).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct TrackMeta {
    pub id: u32,
    pub age_frames: u32,
    pub age_ms: f64,
}

/// The result of one frame, in source-image pixels.
#[derive(Debug, Clone, Default)]
pub struct FrameResult {
    /// Persons; with tracking, the confirmed tracks with smoothed keypoints.
    pub persons: Vec<Person>,
    /// With tracking: the raw detection of each person in `persons`.
    pub raw: Vec<Person>,
    /// With tracking: the track of each person in `persons` (same order);
    /// empty without tracking.
    pub tracks: Vec<TrackMeta>,
    /// True when the persons went through the tracker.
    pub tracked: bool,
    pub num_keypoints: usize,
    pub width: u32,
    pub height: u32,
    pub seq: u64,
    pub timestamp_ms: f64,
    pub times: StageTimes,
}

impl FrameResult {
    /// Copies `other` into `self`, reusing `self`'s buffers (no allocation
    /// once they are large enough; the derived `clone_from` reallocates).
    pub fn copy_from(&mut self, other: &FrameResult) {
        self.persons.clear();
        self.persons.extend_from_slice(&other.persons);
        self.raw.clear();
        self.raw.extend_from_slice(&other.raw);
        self.tracks.clear();
        self.tracks.extend_from_slice(&other.tracks);
        self.tracked = other.tracked;
        self.num_keypoints = other.num_keypoints;
        self.width = other.width;
        self.height = other.height;
        self.seq = other.seq;
        self.timestamp_ms = other.timestamp_ms;
        self.times = other.times;
    }
}

/// What travels with a prepared input from the capture side.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct FrameMeta {
    pub seq: u64,
    pub timestamp_ms: f64,
    pub preprocess_ms: f64,
}

/// What every record says about the model and runtime.
#[derive(Debug, Clone)]
pub struct RecordMeta {
    pub model_id: String,
    pub runtime: String,
    pub keypoint_names: Vec<String>,
    pub skeleton: Vec<[usize; 2]>,
    /// Keypoints scoring below this are marked not visible.
    pub keypoint_threshold: f32,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_sizes_are_capped_without_overflow() {
        assert!(check_image_size(8000, 5000).is_ok());
        assert!(check_image_size(1, 40_000_000).is_ok());
        let e = check_image_size(65_000, 65_000).unwrap_err();
        assert_eq!(
            e,
            "65000 × 65000 pixels (4225.0 megapixels) is more than the 40 megapixels edgepose \
             decodes; scale it down first"
        );
        assert!(check_image_size(u64::MAX, u64::MAX).is_err());
        assert!(check_image_size(0, 5).unwrap_err().contains("empty"));
    }

    #[test]
    fn frame_lengths_do_not_overflow() {
        // 640 × 480: NV12 has 480 luma and 240 chroma lines.
        assert_eq!(PixelFormat::Nv12.frame_len(640, 480), Some(640 * 720));
        assert_eq!(PixelFormat::Nv12.frame_len(4, 3), Some(4 * 5));
        assert_eq!(PixelFormat::Yuyv.frame_len(1280, 480), Some(1280 * 480));
        assert_eq!(PixelFormat::Mjpeg.frame_len(usize::MAX, u32::MAX), Some(0));
        // Found by the raw_frame fuzz target: a stride from outside times
        // the height used to overflow (a panic in debug builds, a wrapped
        // length that let short frames through in release builds).
        assert_eq!(PixelFormat::Grey.frame_len(usize::MAX / 2, 3), None);
        assert_eq!(PixelFormat::Nv12.frame_len(usize::MAX / 2, 2), None);
        assert_eq!(PixelFormat::Rgb24.min_stride(5), 15);
        assert_eq!(PixelFormat::Nv12.min_stride(5), 6);
        assert_eq!(PixelFormat::Yuyv.min_stride(5), 12);
    }
}
