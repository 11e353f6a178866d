//! Frame layouts of the byte streams edgepose reads raw (pipes, recordings,
//! GStreamer buffers): each format's real constraints checked before any
//! pixel is read, and the one repacking a stream format needs before the
//! pre-processing can read it.
//!
//! | format | layout | constraints |
//! |---|---|---|
//! | `I420` (`YU12`, `YUV420`) | Y plane (`stride` × h), U then V planes (`stride/2` × h/2) | even width, height and stride |
//! | `NV12` | Y plane, then interleaved U V at half height, both `stride` wide | even width and height |
//! | `YUYV` | Y0 U Y1 V per pixel pair | even width |
//! | `RGB3`, `GREY` | packed rows `stride` apart | — |
//! | `MJPG` | one JPEG image (variable size, capped) | — |
//!
//! I420 is delivered to the pre-processing as NV12: the same samples with U
//! and V interleaved ([`i420_chroma_to_nv12`]), a copy of the chroma only, so
//! the colour conversion is the NV12 one.
//!
//! All sizes are computed with checked arithmetic and capped at
//! [`MAX_FRAME_BYTES`], so no width, height or stride from outside can
//! overflow an allocation or an index.

use crate::frame::PixelFormat;

/// Largest width or height accepted.
pub const MAX_SIDE: u32 = 16384;
/// Largest frame (or JPEG image) in bytes.
pub const MAX_FRAME_BYTES: usize = 256 << 20;

/// A format as it arrives on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WireFormat {
    I420,
    /// A format the pre-processing reads as it is.
    Native(PixelFormat),
}

impl WireFormat {
    /// The format of a four-character code (`I420`/`YU12`/`YUV420`, or any
    /// [`PixelFormat::from_fourcc`] code).
    pub fn parse(code: &str) -> Option<Self> {
        match code.to_ascii_uppercase().as_str() {
            "I420" | "YU12" | "YUV420" | "IYUV" => Some(WireFormat::I420),
            _ => PixelFormat::from_fourcc(code).map(WireFormat::Native),
        }
    }

    /// The format the pre-processing receives.
    pub fn delivered(self) -> PixelFormat {
        match self {
            WireFormat::I420 => PixelFormat::Nv12,
            WireFormat::Native(f) => f,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            WireFormat::I420 => "I420",
            WireFormat::Native(f) => f.fourcc(),
        }
    }
}

/// A checked raw frame geometry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Geometry {
    pub format: WireFormat,
    pub width: u32,
    pub height: u32,
    /// Bytes per line of the first plane (I420: chroma lines are half).
    pub stride: usize,
    /// Bytes of one frame on the wire.
    pub wire_len: usize,
    /// Bytes of one frame as delivered (I420: the NV12 layout).
    pub frame_len: usize,
}

/// Why a geometry is impossible; the caller names the option.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayoutError(pub String);

fn err(s: impl Into<String>) -> LayoutError {
    LayoutError(s.into())
}

impl Geometry {
    /// Checks `width`×`height` (and `stride`, default the smallest) against
    /// `format`'s constraints. MJPEG has no fixed geometry: use
    /// [`check_jpeg_cap`] instead.
    pub fn new(
        format: WireFormat,
        width: u32,
        height: u32,
        stride: Option<usize>,
    ) -> Result<Self, LayoutError> {
        let name = format.name();
        if format == WireFormat::Native(PixelFormat::Mjpeg) {
            return Err(err("MJPEG frames have no fixed geometry"));
        }
        for (what, v) in [("width", width), ("height", height)] {
            if v == 0 || v > MAX_SIDE {
                return Err(err(format!("{what} {v}: expected 1 to {MAX_SIDE} pixels")));
            }
        }
        // The images' pixel cap: a frame that a sink draws is converted to
        // full-size RGB too (3 bytes a pixel, 120 MB at the cap).
        crate::frame::check_image_size(width.into(), height.into()).map_err(err)?;
        let (even_w, even_h) = match format {
            WireFormat::I420 | WireFormat::Native(PixelFormat::Nv12) => (true, true),
            WireFormat::Native(PixelFormat::Yuyv) => (true, false),
            WireFormat::Native(_) => (false, false),
        };
        if even_w && !width.is_multiple_of(2) {
            return Err(err(format!(
                "{name} needs an even width (chroma is shared by pixel pairs); got {width}"
            )));
        }
        if even_h && !height.is_multiple_of(2) {
            return Err(err(format!(
                "{name} needs an even height (chroma is shared by line pairs); got {height}"
            )));
        }
        let w = width as usize;
        let h = height as usize;
        let min = match format.delivered() {
            PixelFormat::Rgb24 => w * 3,
            PixelFormat::Yuyv => w * 2,
            _ => w,
        };
        let stride = stride.unwrap_or(min);
        if stride < min {
            return Err(err(format!(
                "stride {stride} is less than the {min} bytes a {width}-pixel {name} line needs"
            )));
        }
        if format == WireFormat::I420 && !stride.is_multiple_of(2) {
            return Err(err(format!(
                "I420 needs an even stride (chroma lines are stride/2); got {stride}"
            )));
        }
        let too_big = || {
            err(format!(
                "a {width}x{height} {name} frame with stride {stride} exceeds {} MiB",
                MAX_FRAME_BYTES >> 20
            ))
        };
        let luma = stride.checked_mul(h).ok_or_else(too_big)?;
        let (wire_len, frame_len) = match format {
            // U and V: (stride/2) × (h/2) each, i.e. stride × h/2 together;
            // NV12 holds the same h/2 lines of stride bytes.
            WireFormat::I420 | WireFormat::Native(PixelFormat::Nv12) => {
                let all = luma.checked_add(stride * (h / 2)).ok_or_else(too_big)?;
                (all, all)
            }
            _ => (luma, luma),
        };
        if wire_len > MAX_FRAME_BYTES {
            return Err(too_big());
        }
        Ok(Self {
            format,
            width,
            height,
            stride,
            wire_len,
            frame_len,
        })
    }

    /// Bytes of the first (luma or packed) plane.
    pub fn luma_len(&self) -> usize {
        self.stride * self.height as usize
    }
}

/// Checks an MJPEG size cap (bytes of one JPEG image).
pub fn check_jpeg_cap(cap: usize) -> Result<usize, LayoutError> {
    if (1024..=MAX_FRAME_BYTES).contains(&cap) {
        Ok(cap)
    } else {
        Err(err(format!(
            "{cap} bytes: expected 1024 to {MAX_FRAME_BYTES} bytes per JPEG image"
        )))
    }
}

/// Writes I420 chroma (`u` then `v`, each `stride/2` × `height/2`) into the
/// NV12 chroma plane `uv` (`stride` × `height/2`, U V interleaved). Lines
/// keep their padding positions; only the `width/2` samples of each line
/// are moved.
pub fn i420_chroma_to_nv12(chroma: &[u8], uv: &mut [u8], g: &Geometry) {
    let cs = g.stride / 2;
    let rows = g.height as usize / 2;
    let cw = g.width as usize / 2;
    let (u, v) = chroma.split_at(cs * rows);
    for r in 0..rows {
        let (ur, vr) = (&u[r * cs..r * cs + cw], &v[r * cs..r * cs + cw]);
        let out = &mut uv[r * g.stride..r * g.stride + 2 * cw];
        for ((o, &a), &b) in out.chunks_exact_mut(2).zip(ur).zip(vr) {
            o[0] = a;
            o[1] = b;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_and_constraints() {
        assert_eq!(WireFormat::parse("yu12"), Some(WireFormat::I420));
        assert_eq!(
            WireFormat::parse("NV12"),
            Some(WireFormat::Native(PixelFormat::Nv12))
        );
        let g = Geometry::new(WireFormat::I420, 640, 480, None).unwrap();
        assert_eq!((g.stride, g.wire_len, g.frame_len), (640, 460_800, 460_800));
        let g = Geometry::new(WireFormat::I420, 6, 4, Some(8)).unwrap();
        assert_eq!(g.wire_len, 8 * 4 + 2 * 4 * 2);
        let e = |f, w, h, s| Geometry::new(f, w, h, s).unwrap_err().0;
        assert!(e(WireFormat::I420, 641, 480, None).contains("even width"));
        assert!(e(WireFormat::I420, 640, 481, None).contains("even height"));
        assert!(e(WireFormat::I420, 640, 480, Some(641)).contains("even stride"));
        assert!(e(WireFormat::I420, 640, 480, Some(600)).contains("less than"));
        let yuyv = WireFormat::Native(PixelFormat::Yuyv);
        assert!(e(yuyv, 3, 2, None).contains("even width"));
        assert_eq!(Geometry::new(yuyv, 4, 3, None).unwrap().wire_len, 24);
        assert!(e(yuyv, 0, 2, None).contains("width 0"));
        assert!(e(yuyv, 16386, 2, None).contains("16384"));
        // Sizes that would overflow 32-bit arithmetic are refused, not wrapped.
        let rgb = WireFormat::Native(PixelFormat::Rgb24);
        assert!(e(rgb, 16384, 4, Some(usize::MAX / 2)).contains("exceeds"));
        assert!(e(rgb, 640, 16384, Some(1 << 20)).contains("exceeds 256 MiB"));
        // 40 megapixels at most, as for images.
        assert!(e(rgb, 16384, 16384, None).contains("more than the 40 megapixels"));
        assert!(Geometry::new(rgb, 8000, 5000, None).is_ok());
        assert!(e(rgb, 8000, 5001, None).contains("40.0 megapixels"));
        assert!(check_jpeg_cap(100).is_err() && check_jpeg_cap(1 << 20).is_ok());
    }

    #[test]
    fn i420_chroma_interleaves_into_nv12() {
        // 4x2, stride 6: U and V lines are 3 bytes (2 samples + 1 padding).
        let g = Geometry::new(WireFormat::I420, 4, 2, Some(6)).unwrap();
        let chroma = [1, 2, 99, 3, 4, 99];
        let mut uv = [0u8; 6];
        i420_chroma_to_nv12(&chroma, &mut uv, &g);
        assert_eq!(uv, [1, 3, 2, 4, 0, 0]);
    }
}
