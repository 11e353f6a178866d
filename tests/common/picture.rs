//! Pictures for the display tests (tests/display.rs): an RGB picture with
//! the turns a panel's rotation makes, RGB565 as a panel's glass shows it,
//! the renderer's output on a plain RAM canvas (what a panel should show),
//! the comparison with the golden PNGs in `tests/fixtures/display/`, and
//! framebuffer files read back as pictures.

use std::path::Path;

use edgepose::display::framebuffer::{FbGeometry, PixelLayout};
use edgepose::display::{render, Canvas, RenderOptions, Scene, Skeleton};
use embedded_graphics::pixelcolor::{BinaryColor, Rgb565, RgbColor};
use image::RgbImage;

/// An RGB picture.
#[derive(Clone, PartialEq)]
pub struct Picture {
    w: u32,
    h: u32,
    pub px: Vec<[u8; 3]>,
}

impl std::fmt::Debug for Picture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let lit = self.px.iter().filter(|p| **p != [0, 0, 0]).count();
        write!(f, "Picture {}x{} ({lit} lit)", self.w, self.h)
    }
}

impl Picture {
    pub fn new(w: u32, h: u32, f: impl Fn(u32, u32) -> [u8; 3]) -> Self {
        let mut px = Vec::with_capacity((w * h) as usize);
        for y in 0..h {
            for x in 0..w {
                px.push(f(x, y));
            }
        }
        Self { w, h, px }
    }
    pub fn at(&self, x: u32, y: u32) -> [u8; 3] {
        self.px[(y * self.w + x) as usize]
    }
    /// Turned 90° clockwise.
    pub fn cw(&self) -> Self {
        Self::new(self.h, self.w, |x, y| self.at(y, self.h - 1 - x))
    }
    pub fn ccw(&self) -> Self {
        Self::new(self.h, self.w, |x, y| self.at(self.w - 1 - y, x))
    }
    pub fn half_turn(&self) -> Self {
        Self::new(self.w, self.h, |x, y| {
            self.at(self.w - 1 - x, self.h - 1 - y)
        })
    }
    pub fn map(&self, f: impl Fn([u8; 3]) -> [u8; 3]) -> Self {
        Self {
            w: self.w,
            h: self.h,
            px: self.px.iter().map(|&p| f(p)).collect(),
        }
    }
    pub fn lit(&self) -> usize {
        self.px.iter().filter(|p| **p != [0, 0, 0]).count()
    }
    pub fn to_image(&self) -> RgbImage {
        RgbImage::from_raw(self.w, self.h, self.px.concat()).unwrap()
    }
}

/// A 16-bit pixel as the glass shows it (channels widened by bit
/// replication, as a panel's DACs do).
pub fn rgb565(v: u16) -> [u8; 3] {
    let (r, g, b) = ((v >> 11) & 31, (v >> 5) & 63, v & 31);
    [
        ((r << 3) | (r >> 2)) as u8,
        ((g << 2) | (g >> 4)) as u8,
        ((b << 3) | (b >> 2)) as u8,
    ]
}

pub fn raw565(c: Rgb565) -> u16 {
    (u16::from(c.r()) << 11) | (u16::from(c.g()) << 5) | u16::from(c.b())
}

/// The renderer's output on a plain RAM canvas: what a panel should show.
pub fn reference_mono(
    scene: &Scene,
    sk: &Skeleton,
    w: u32,
    h: u32,
    opts: RenderOptions,
) -> Picture {
    let mut c = Canvas::<BinaryColor>::new(w, h);
    render(&mut c, scene, sk, &opts).unwrap();
    Picture::new(w, h, |x, y| {
        if c.pixels()[(y * w + x) as usize].is_on() {
            [255; 3]
        } else {
            [0; 3]
        }
    })
}

pub fn reference_565(scene: &Scene, sk: &Skeleton, w: u32, h: u32, opts: RenderOptions) -> Picture {
    let mut c = Canvas::<Rgb565>::new(w, h);
    render(&mut c, scene, sk, &opts).unwrap();
    Picture::new(w, h, |x, y| {
        rgb565(raw565(c.pixels()[(y * w + x) as usize]))
    })
}

/// Compares `actual` with the golden `tests/fixtures/display/<name>.png`.
pub fn check_golden(name: &str, actual: &Picture) {
    crate::common::poses::check_golden("display", name, &actual.to_image());
}

pub fn fb_geometry(w: u32, h: u32, layout: PixelLayout) -> FbGeometry {
    FbGeometry {
        width: w,
        height: h,
        layout,
        line_length: w as usize * layout.bytes,
        origin: 0,
    }
}

pub fn read_raw(path: &Path, w: u32, h: u32, layout: PixelLayout) -> Picture {
    let raw = std::fs::read(path).unwrap();
    assert_eq!(raw.len(), (w * h) as usize * layout.bytes);
    let b = layout.bytes;
    Picture::new(w, h, |x, y| {
        let i = ((y * w + x) as usize) * b;
        let mut word = [0u8; 4];
        word[..b].copy_from_slice(&raw[i..i + b]);
        let c = layout.unpack(u32::from_le_bytes(word));
        [c.r(), c.g(), c.b()]
    })
}
