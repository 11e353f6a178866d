//! Pixels in a framebuffer's own format: [`PixelLayout`] (bytes per pixel
//! and channel bitfields, as the driver reports them) and [`FbCanvas`], the
//! back buffer the renderer draws into in that format.

use embedded_graphics::pixelcolor::{Rgb888, RgbColor};
use embedded_graphics::prelude::*;
use embedded_graphics::primitives::Rectangle;

use crate::display::canvas::{each_inside, fill_rows, DirtyRows};

/// Where one colour channel sits in a pixel word.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Channel {
    pub offset: u32,
    pub length: u32,
}

/// A true-colour pixel format: bytes per pixel and channel bitfields
/// (little-endian words, as the framebuffer stores them on ARM and x86).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PixelLayout {
    pub bytes: usize,
    pub red: Channel,
    pub green: Channel,
    pub blue: Channel,
}

pub(super) const fn ch(offset: u32, length: u32) -> Channel {
    Channel { offset, length }
}

impl PixelLayout {
    /// 32-bit, bytes B G R X (DRM's XRGB8888).
    pub const XRGB8888: Self = Self {
        bytes: 4,
        red: ch(16, 8),
        green: ch(8, 8),
        blue: ch(0, 8),
    };
    /// 32-bit, bytes R G B X.
    pub const XBGR8888: Self = Self {
        bytes: 4,
        red: ch(0, 8),
        green: ch(8, 8),
        blue: ch(16, 8),
    };
    pub const RGB565: Self = Self {
        bytes: 2,
        red: ch(11, 5),
        green: ch(5, 6),
        blue: ch(0, 5),
    };
    pub const BGR565: Self = Self {
        bytes: 2,
        red: ch(0, 5),
        green: ch(5, 6),
        blue: ch(11, 5),
    };

    /// A format by name (`xrgb8888`, `xbgr8888`, `rgb565`, `bgr565`).
    pub fn by_name(name: &str) -> Option<Self> {
        Self::NAMED
            .iter()
            .find(|(n, _)| *n == name)
            .map(|&(_, l)| l)
    }

    /// The formats with a name (the `format` option of plain files).
    pub const NAMED: [(&'static str, Self); 4] = [
        ("xrgb8888", Self::XRGB8888),
        ("xbgr8888", Self::XBGR8888),
        ("rgb565", Self::RGB565),
        ("bgr565", Self::BGR565),
    ];

    /// Checks bits per pixel and channels (16 or 32 bpp, channels of 1–8
    /// bits inside the word).
    pub fn new(bpp: u32, red: Channel, green: Channel, blue: Channel) -> Result<Self, String> {
        if bpp != 16 && bpp != 32 {
            return Err(format!("{bpp} bits per pixel; expected 16 or 32"));
        }
        for (name, c) in [("red", red), ("green", green), ("blue", blue)] {
            if c.length == 0 || c.length > 8 || c.offset + c.length > bpp {
                return Err(format!(
                    "{name} channel at bit {} length {}: not a true-colour format",
                    c.offset, c.length
                ));
            }
        }
        Ok(Self {
            bytes: bpp as usize / 8,
            red,
            green,
            blue,
        })
    }

    /// The pixel word for `c` (each channel truncated to its width).
    pub fn pack(&self, c: Rgb888) -> u32 {
        let put = |v: u8, ch: Channel| (u32::from(v) >> (8 - ch.length)) << ch.offset;
        put(c.r(), self.red) | put(c.g(), self.green) | put(c.b(), self.blue)
    }

    /// The colour of a pixel word (channels widened by bit replication).
    pub fn unpack(&self, v: u32) -> Rgb888 {
        let get = |ch: Channel| {
            let x = (v >> ch.offset) & ((1 << ch.length) - 1);
            let mut out = x << (8 - ch.length);
            let mut filled = ch.length;
            while filled < 8 {
                out |= out >> filled;
                filled *= 2;
            }
            out as u8
        };
        Rgb888::new(get(self.red), get(self.green), get(self.blue))
    }

    /// The format's name (`xrgb8888`, ...) when it is one of the named ones.
    pub fn name(&self) -> Option<&'static str> {
        Self::NAMED.iter().find(|(_, l)| l == self).map(|&(n, _)| n)
    }

    fn write(&self, dst: &mut [u8], word: u32) {
        dst.copy_from_slice(&word.to_le_bytes()[..self.bytes]);
    }

    fn read(&self, src: &[u8]) -> u32 {
        let mut w = [0u8; 4];
        w[..self.bytes].copy_from_slice(src);
        u32::from_le_bytes(w)
    }
}

/// Sets pixels `x0..x1` of row `y` to `word`.
fn fill(
    bytes: &mut [u8],
    stride: usize,
    layout: PixelLayout,
    y: usize,
    x0: usize,
    x1: usize,
    word: u32,
) {
    let b = layout.bytes;
    let row = &mut bytes[y * stride..(y + 1) * stride];
    let le = word.to_le_bytes();
    if le[..b].iter().all(|&v| v == le[0]) {
        // A word of one repeated byte (black) is a plain memset.
        row[x0 * b..x1 * b].fill(le[0]);
        return;
    }
    for px in row[x0 * b..x1 * b].chunks_exact_mut(b) {
        layout.write(px, word);
    }
}

impl std::fmt::Display for PixelLayout {
    /// `32 bpp xrgb8888`, or the bitfields of an unnamed format
    /// (`32 bpp r0:8 g8:8 b24:8`: offset:length).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} bpp ", self.bytes * 8)?;
        match self.name() {
            Some(n) => f.write_str(n),
            None => write!(
                f,
                "r{}:{} g{}:{} b{}:{}",
                self.red.offset,
                self.red.length,
                self.green.offset,
                self.green.length,
                self.blue.offset,
                self.blue.length
            ),
        }
    }
}

/// A back buffer in a framebuffer's pixel format (rows of `stride` bytes).
#[derive(Debug, Clone)]
pub struct FbCanvas {
    width: u32,
    height: u32,
    stride: usize,
    layout: PixelLayout,
    bytes: Vec<u8>,
    background: u32,
    rows: DirtyRows,
}

impl FbCanvas {
    /// A black `width`×`height` buffer with rows of `stride` bytes (at
    /// least `width` pixels).
    pub fn new(width: u32, height: u32, stride: usize, layout: PixelLayout) -> Self {
        let stride = stride.max(width as usize * layout.bytes);
        Self {
            width,
            height,
            stride,
            layout,
            bytes: vec![0; stride * height as usize],
            background: layout.pack(Rgb888::BLACK),
            rows: DirtyRows::new(height as usize),
        }
    }

    pub fn layout(&self) -> PixelLayout {
        self.layout
    }

    pub fn stride(&self) -> usize {
        self.stride
    }

    /// The raw bytes, `stride` per row.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    fn fill_row(&mut self, y: usize, x0: usize, x1: usize, word: u32) {
        fill(&mut self.bytes, self.stride, self.layout, y, x0, x1, word);
    }

    /// Starts a frame: clears the rows the last frame drew.
    pub fn begin_frame(&mut self) {
        let (w, stride, layout, bg) = (
            self.width as usize,
            self.stride,
            self.layout,
            self.background,
        );
        let clear = self.rows.begin();
        for (y, _) in clear.iter().enumerate().filter(|(_, &c)| c) {
            fill(&mut self.bytes, stride, layout, y, 0, w, bg);
        }
    }

    /// Clears all and marks every row for writing.
    pub fn invalidate(&mut self) {
        let bg = self.background;
        for y in 0..self.height as usize {
            self.fill_row(y, 0, self.width as usize, bg);
        }
        self.rows.all();
    }

    /// Runs of rows `[start, end)` to write.
    pub fn dirty_runs(&self) -> impl Iterator<Item = (usize, usize)> + '_ {
        self.rows.runs()
    }

    /// The dirty rows were written.
    pub fn sent(&mut self) {
        self.rows.sent();
    }

    /// The colour at (`x`, `y`).
    pub fn pixel(&self, x: u32, y: u32) -> Rgb888 {
        let b = self.layout.bytes;
        let i = y as usize * self.stride + x as usize * b;
        self.layout.unpack(self.layout.read(&self.bytes[i..i + b]))
    }

    /// The picture as RGB bytes (for comparisons and PNGs).
    pub fn to_rgb(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.width as usize * self.height as usize * 3);
        for y in 0..self.height {
            for x in 0..self.width {
                let c = self.pixel(x, y);
                out.extend_from_slice(&[c.r(), c.g(), c.b()]);
            }
        }
        out
    }
}

impl OriginDimensions for FbCanvas {
    fn size(&self) -> Size {
        Size::new(self.width, self.height)
    }
}

impl DrawTarget for FbCanvas {
    type Color = Rgb888;
    type Error = core::convert::Infallible;

    fn draw_iter<I>(&mut self, pixels: I) -> Result<(), Self::Error>
    where
        I: IntoIterator<Item = Pixel<Rgb888>>,
    {
        let (layout, stride, b) = (self.layout, self.stride, self.layout.bytes);
        let size = self.size();
        let (bytes, rows) = (&mut self.bytes, &mut self.rows);
        each_inside(size, pixels, |x, y, c| {
            let i = y * stride + x * b;
            layout.write(&mut bytes[i..i + b], layout.pack(c));
            rows.mark(y);
        });
        Ok(())
    }

    fn fill_solid(&mut self, area: &Rectangle, color: Rgb888) -> Result<(), Self::Error> {
        let (layout, stride) = (self.layout, self.stride);
        let word = layout.pack(color);
        let size = self.size();
        let (bytes, rows) = (&mut self.bytes, &mut self.rows);
        fill_rows(size, area, rows, |y, x0, x1| {
            fill(bytes, stride, layout, y, x0, x1, word)
        });
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layouts_from_bitfields() {
        let l = PixelLayout::new(32, ch(16, 8), ch(8, 8), ch(0, 8)).unwrap();
        assert_eq!(l, PixelLayout::XRGB8888);
        assert!(PixelLayout::new(24, ch(16, 8), ch(8, 8), ch(0, 8))
            .unwrap_err()
            .contains("expected 16 or 32"));
        assert!(PixelLayout::new(16, ch(11, 5), ch(5, 6), ch(12, 5))
            .unwrap_err()
            .contains("blue channel"));
    }

    #[test]
    fn layouts_are_named_in_logs() {
        assert_eq!(PixelLayout::XRGB8888.to_string(), "32 bpp xrgb8888");
        assert_eq!(PixelLayout::BGR565.to_string(), "16 bpp bgr565");
        let odd = PixelLayout::new(32, ch(24, 8), ch(16, 8), ch(8, 8)).unwrap();
        assert_eq!(odd.name(), None);
        assert_eq!(odd.to_string(), "32 bpp r24:8 g16:8 b8:8");
    }

    /// emulation derives from a write of `len` bytes at `off`
    /// (`drm_fb_helper_memory_range_to_clip`): whole lines, narrowed to the
    #[test]
    fn unpack_widens_by_replication() {
        let l = PixelLayout::RGB565;
        assert_eq!(l.unpack(0xffff), Rgb888::WHITE);
        assert_eq!(l.unpack(0), Rgb888::BLACK);
        // 5-bit 0b10000 → 0b10000100; 6-bit 0b100000 → 0b10000010.
        assert_eq!(
            l.unpack((0b10000 << 11) | (0b10_0000 << 5) | 0b10000),
            Rgb888::new(0x84, 0x82, 0x84)
        );
    }
}
