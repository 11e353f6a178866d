//! Linux framebuffer (`/dev/fb0`: HDMI and DSI screens, QEMU's
//! bochs-display) as a display sink. Usage, off-target rendering and
//! troubleshooting are in docs/displays.md.
//!
//! Geometry, pixel format and line length come from the
//! `FBIOGET_VSCREENINFO` / `FBIOGET_FSCREENINFO` ioctls; 16 and 32 bits
//! per pixel in any channel order the driver reports (its bitfields) are
//! drawn. Frames are drawn into a back buffer in the device's own pixel
//! format and line length ([`FbCanvas`]), and each run of rows that changed
//! is written to the device with one `pwrite` at the visible area's offset
//! (the padding between rows, which is off-screen, goes with it). A run of
//! a single row is widened to two rows: with the generic fbdev emulation
//! of DRM drivers (bochs here), a write that lies within one line and ends
//! at its end marks no damage on Linux 6.1: it reaches the screen only if
//! other damage happens to be pending (seen with Debian's 6.1 kernel in the
//! VM; `tests/vm_framebuffer.rs` compares screendumps with the renderer's
//! picture).
//!
//! A target that is not a framebuffer (a plain file) takes its geometry from
//! `width`, `height` and `format` and receives the same bytes a device would.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::os::unix::io::AsRawFd;

use embedded_graphics::pixelcolor::{Rgb888, RgbColor};
use embedded_graphics::prelude::*;
use embedded_graphics::primitives::Rectangle;

use super::display::DirtyRows;
use super::panel::{open_hint, CommonOptions, DisplaySink, Painter, Panel, PanelError};
use super::SinkError;
use crate::spec::Spec;

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

const fn ch(offset: u32, length: u32) -> Channel {
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
        Some(match name {
            "xrgb8888" => Self::XRGB8888,
            "xbgr8888" => Self::XBGR8888,
            "rgb565" => Self::RGB565,
            "bgr565" => Self::BGR565,
            _ => return None,
        })
    }

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
        ["xrgb8888", "xbgr8888", "rgb565", "bgr565"]
            .into_iter()
            .find(|n| Self::by_name(n) == Some(*self))
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
        let (w, h) = (self.width as i32, self.height as i32);
        let b = self.layout.bytes;
        for Pixel(p, c) in pixels {
            if p.x >= 0 && p.y >= 0 && p.x < w && p.y < h {
                let i = p.y as usize * self.stride + p.x as usize * b;
                let word = self.layout.pack(c);
                self.layout.write(&mut self.bytes[i..i + b], word);
                self.rows.mark(p.y as usize);
            }
        }
        Ok(())
    }

    fn fill_solid(&mut self, area: &Rectangle, color: Rgb888) -> Result<(), Self::Error> {
        let r = area.intersection(&self.bounding_box());
        let Some(br) = r.bottom_right() else {
            return Ok(());
        };
        let word = self.layout.pack(color);
        for y in r.top_left.y as usize..=br.y as usize {
            self.fill_row(y, r.top_left.x as usize, br.x as usize + 1, word);
        }
        self.rows
            .mark_range(r.top_left.y as usize, br.y as usize + 1);
        Ok(())
    }
}

#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
struct FbBitfield {
    offset: u32,
    length: u32,
    msb_right: u32,
}

/// `struct fb_var_screeninfo` (linux/fb.h).
#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
struct FbVarScreeninfo {
    xres: u32,
    yres: u32,
    xres_virtual: u32,
    yres_virtual: u32,
    xoffset: u32,
    yoffset: u32,
    bits_per_pixel: u32,
    grayscale: u32,
    red: FbBitfield,
    green: FbBitfield,
    blue: FbBitfield,
    transp: FbBitfield,
    nonstd: u32,
    activate: u32,
    height: u32,
    width: u32,
    accel_flags: u32,
    pixclock: u32,
    left_margin: u32,
    right_margin: u32,
    upper_margin: u32,
    lower_margin: u32,
    hsync_len: u32,
    vsync_len: u32,
    sync: u32,
    vmode: u32,
    rotate: u32,
    colorspace: u32,
    reserved: [u32; 4],
}

/// `struct fb_fix_screeninfo` (linux/fb.h).
#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
struct FbFixScreeninfo {
    id: [u8; 16],
    smem_start: libc::c_ulong,
    smem_len: u32,
    type_: u32,
    type_aux: u32,
    visual: u32,
    xpanstep: u16,
    ypanstep: u16,
    ywrapstep: u16,
    line_length: u32,
    mmio_start: libc::c_ulong,
    mmio_len: u32,
    accel: u32,
    capabilities: u16,
    reserved: [u16; 2],
}

const FBIOGET_VSCREENINFO: u32 = 0x4600;
const FBIOGET_FSCREENINFO: u32 = 0x4602;
const FB_VISUAL_TRUECOLOR: u32 = 2;
const FB_VISUAL_DIRECTCOLOR: u32 = 4;

/// Where and how the picture goes in the device (or file).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FbGeometry {
    pub width: u32,
    pub height: u32,
    pub layout: PixelLayout,
    /// Bytes per line in the device.
    pub line_length: usize,
    /// Byte offset of the visible area's first pixel.
    pub origin: u64,
}

impl FbGeometry {
    /// Where the rows `[y0, y1)` go: the device offset and the range of
    /// the back buffer (rows `line_length` apart) to write there, from the
    /// first row's first pixel to the last row's last. A single row is
    /// widened to two (the next, or the previous at the bottom), so the
    /// write spans two lines (see the module docs).
    pub fn span(&self, y0: usize, y1: usize) -> (u64, std::ops::Range<usize>) {
        let (mut y0, mut y1) = (y0, y1);
        if y1 <= y0 {
            let start = y0 * self.line_length;
            return (self.origin + start as u64, start..start);
        }
        if y1 == y0 + 1 {
            if y1 < self.height as usize {
                y1 += 1;
            } else {
                y0 = y0.saturating_sub(1);
            }
        }
        let start = y0 * self.line_length;
        let end = (y1 - 1) * self.line_length + self.width as usize * self.layout.bytes;
        (self.origin + start as u64, start..end)
    }

    /// Bytes from the device's start to the end of the visible area.
    fn extent(&self) -> u64 {
        let (off, range) = self.span(0, self.height as usize);
        off + range.len() as u64
    }
}

/// Reads the geometry of a framebuffer device; `Ok(None)` when `file` is
/// not one (the ioctl is not supported).
fn query(file: &File) -> Result<Option<FbGeometry>, String> {
    let fd = file.as_raw_fd();
    let mut var = FbVarScreeninfo::default();
    let mut fix = FbFixScreeninfo::default();
    // SAFETY: the structs match the kernel's layout and outlive the calls.
    let rv = unsafe {
        libc::ioctl(
            fd,
            FBIOGET_VSCREENINFO as _,
            &mut var as *mut FbVarScreeninfo,
        )
    };
    if rv != 0 {
        let e = std::io::Error::last_os_error();
        return match e.raw_os_error() {
            Some(libc::ENOTTY) | Some(libc::EINVAL) => Ok(None),
            _ => Err(format!("FBIOGET_VSCREENINFO: {e}")),
        };
    }
    // SAFETY: as above.
    let rv = unsafe {
        libc::ioctl(
            fd,
            FBIOGET_FSCREENINFO as _,
            &mut fix as *mut FbFixScreeninfo,
        )
    };
    if rv != 0 {
        return Err(format!(
            "FBIOGET_FSCREENINFO: {}",
            std::io::Error::last_os_error()
        ));
    }
    if fix.visual != FB_VISUAL_TRUECOLOR && fix.visual != FB_VISUAL_DIRECTCOLOR {
        return Err(format!(
            "visual type {} is not true colour (set a 16 or 32 bpp mode)",
            fix.visual
        ));
    }
    let c = |b: FbBitfield| ch(b.offset, b.length);
    let layout = PixelLayout::new(var.bits_per_pixel, c(var.red), c(var.green), c(var.blue))?;
    let line_length = if fix.line_length > 0 {
        fix.line_length as usize
    } else {
        var.xres_virtual as usize * layout.bytes
    };
    let g = FbGeometry {
        width: var.xres,
        height: var.yres,
        layout,
        line_length,
        origin: var.yoffset as u64 * line_length as u64 + var.xoffset as u64 * layout.bytes as u64,
    };
    if line_length < g.width as usize * layout.bytes {
        return Err(format!(
            "line length {line_length} bytes is shorter than {} pixels of {} bytes",
            g.width, layout.bytes
        ));
    }
    if fix.smem_len > 0 && g.extent() > u64::from(fix.smem_len) {
        return Err(format!(
            "the visible {}x{} area at offset {}+{} ends past the framebuffer's {} bytes of memory",
            g.width, g.height, var.xoffset, var.yoffset, fix.smem_len
        ));
    }
    Ok(Some(g))
}

/// A framebuffer device or raw image file.
pub struct FbPanel {
    name: String,
    path: String,
    /// Geometry for a plain file (from the options); `None` for a device.
    plain: Option<FbGeometry>,
    geometry: FbGeometry,
    file: Option<File>,
    canvas: FbCanvas,
}

impl FbPanel {
    /// Opens `path`: a framebuffer device, or (with `plain`) a file that
    /// takes raw pixels of that geometry.
    pub fn open(name: &str, path: &str, plain: Option<FbGeometry>) -> Result<Self, PanelError> {
        let (file, geometry) = Self::open_file(name, path, plain)?;
        Ok(Self {
            name: name.to_string(),
            path: path.to_string(),
            plain,
            geometry,
            file: Some(file),
            canvas: FbCanvas::new(
                geometry.width,
                geometry.height,
                geometry.line_length,
                geometry.layout,
            ),
        })
    }

    fn open_file(
        name: &str,
        path: &str,
        plain: Option<FbGeometry>,
    ) -> Result<(File, FbGeometry), PanelError> {
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(plain.is_some())
            .truncate(false)
            .open(path)
            .map_err(|e| PanelError::Open {
                panel: name.to_string(),
                path: path.to_string(),
                hint: open_hint(&e, "video"),
                why: e.to_string(),
            })?;
        let config = |why: String| PanelError::Config {
            panel: name.to_string(),
            why,
        };
        let geometry = match (query(&file).map_err(config)?, plain) {
            (Some(g), None) => g,
            (Some(g), Some(_)) => {
                return Err(config(format!(
                    "{path} is a framebuffer device ({}x{}); width, height and format are only for plain files",
                    g.width, g.height
                )))
            }
            (None, Some(g)) => g,
            (None, None) => {
                return Err(config(format!(
                    "{path} is not a framebuffer device; for a plain file give width, height and format"
                )))
            }
        };
        if geometry.width == 0 || geometry.height == 0 {
            return Err(config(format!("{path} reports a 0x0 screen")));
        }
        Ok((file, geometry))
    }

    /// The back buffer (what was last drawn).
    pub fn canvas(&self) -> &FbCanvas {
        &self.canvas
    }

    fn write_rows(&self, file: &File, y0: usize, y1: usize) -> std::io::Result<()> {
        let (offset, range) = self.geometry.span(y0, y1);
        file.write_all_at(&self.canvas.bytes()[range], offset)
    }
}

impl Panel for FbPanel {
    type Colour = Rgb888;
    type Canvas = FbCanvas;

    fn name(&self) -> &str {
        &self.name
    }

    fn connect(&mut self) -> Result<(), PanelError> {
        self.file = None;
        let (file, geometry) = Self::open_file(&self.name, &self.path, self.plain)?;
        if geometry != self.geometry {
            log::info!(
                "{}: screen is now {}x{}",
                self.name,
                geometry.width,
                geometry.height
            );
            self.canvas = FbCanvas::new(
                geometry.width,
                geometry.height,
                geometry.line_length,
                geometry.layout,
            );
            self.geometry = geometry;
        }
        self.canvas.invalidate();
        self.file = Some(file);
        Ok(())
    }

    fn connected(&self) -> bool {
        self.file.is_some()
    }

    fn begin(&mut self) -> Option<&mut FbCanvas> {
        self.file.as_ref()?;
        self.canvas.begin_frame();
        Some(&mut self.canvas)
    }

    fn show(&mut self) -> Result<(), PanelError> {
        let Some(file) = self.file.take() else {
            return Ok(());
        };
        let mut result = Ok(());
        for (y0, y1) in self.canvas.dirty_runs() {
            if let Err(e) = self.write_rows(&file, y0, y1) {
                result = Err(e);
                break;
            }
        }
        match result {
            Ok(()) => {
                self.canvas.sent();
                self.file = Some(file);
                Ok(())
            }
            Err(e) => Err(PanelError::Bus {
                panel: self.name.clone(),
                what: "writing the frame",
                why: e.to_string(),
                hint: "",
            }),
        }
    }
}

/// Opens `fb:PATH?...` (see the module docs).
pub fn open(spec: &mut Spec) -> Result<DisplaySink, SinkError> {
    let width = spec.take_parse::<u32>("width", "a width in pixels (plain files only)")?;
    let height = spec.take_parse::<u32>("height", "a height in pixels (plain files only)")?;
    let format = spec.take("format");
    let common = CommonOptions::take(spec, 30.0)?;
    spec.finish()?;
    if spec.target.is_empty() {
        return Err(spec
            .error("no framebuffer; expected e.g. fb:/dev/fb0")
            .into());
    }
    let plain = match (width, height, format) {
        (None, None, None) => None,
        (w, h, f) => {
            let layout = match f.as_deref() {
                None => PixelLayout::XRGB8888,
                Some(name) => PixelLayout::by_name(name).ok_or_else(|| {
                    spec.invalid("format", name, "xrgb8888, xbgr8888, rgb565 or bgr565")
                })?,
            };
            let dim = |v: Option<u32>, key: &'static str| match v {
                Some(v) if (1..=16384).contains(&v) => Ok(v),
                Some(v) => Err(spec.invalid(key, &v.to_string(), "1 to 16384 pixels")),
                None => Err(spec.error(format!(
                    "option {key} is required with width/height/format (a plain file's geometry)"
                ))),
            };
            let (width, height) = (dim(w, "width")?, dim(h, "height")?);
            Some(FbGeometry {
                width,
                height,
                layout,
                line_length: width as usize * layout.bytes,
                origin: 0,
            })
        }
    };
    let name = spec.text.clone();
    let mut panel = FbPanel::open(&name, &spec.target, plain)?;
    let g = panel.geometry;
    log::info!(
        "{name}: {}x{}, {}, {} bytes per line, visible area at byte {}{}",
        g.width,
        g.height,
        g.layout,
        g.line_length,
        g.origin,
        if plain.is_some() { " (plain file)" } else { "" }
    );
    panel.connect()?;
    Ok(DisplaySink::start(
        Painter::new(panel, common.render),
        common.max_fps,
    )?)
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

    /// The damage rectangle (x1, y1, x2, y2) Linux 6.1's DRM fbdev
    /// emulation derives from a write of `len` bytes at `off`
    /// (`drm_fb_helper_memory_range_to_clip`): whole lines, narrowed to the
    /// written columns when the write lies within one line, where a write
    /// that ends at the line's end gives x2 = 0 (an empty rectangle).
    fn kernel_damage(off: u64, len: usize, ll: u64, xres: u64, bpp: u64) -> (u64, u64, u64, u64) {
        let end = off + len as u64;
        let (y1, y2) = (off / ll, end.div_ceil(ll));
        if y2 - y1 == 1 {
            let x1 = (off % ll) * 8 / bpp;
            let x2 = ((end % ll) * 8).div_ceil(bpp);
            (x1, y1, x2, y2)
        } else {
            (0, y1, xres, y2)
        }
    }

    #[test]
    fn every_row_write_marks_its_row_damaged() {
        let g = |w: u32, h: u32, layout: PixelLayout, ll: usize, xoff: u64, yoff: u64| {
            let geometry = FbGeometry {
                width: w,
                height: h,
                layout,
                line_length: ll,
                origin: yoff * ll as u64 + xoff * layout.bytes as u64,
            };
            (geometry, xoff, yoff)
        };
        let cases = [
            g(800, 600, PixelLayout::XRGB8888, 3200, 0, 0),
            g(800, 600, PixelLayout::RGB565, 1600, 0, 600),
            // Rows padded to 64 bytes.
            g(100, 50, PixelLayout::XRGB8888, 448, 0, 0),
            // Panned to the right edge of a wider virtual screen.
            g(100, 50, PixelLayout::XRGB8888, 480, 20, 7),
        ];
        for (geometry, xoff, yoff) in cases {
            let ll = geometry.line_length as u64;
            let xres_virtual = ll / geometry.layout.bytes as u64;
            let bpp = geometry.layout.bytes as u64 * 8;
            let h = geometry.height as usize;
            let runs = (0..h)
                .map(|y| (y, y + 1))
                .chain([(0, h), (3, 5), (h - 2, h)]);
            for (y0, y1) in runs {
                let (off, range) = geometry.span(y0, y1);
                assert_eq!(range.start as u64 + geometry.origin, off);
                assert!(range.end <= geometry.line_length * h);
                let (x1, d1, x2, d2) = kernel_damage(off, range.len(), ll, xres_virtual, bpp);
                assert!(
                    x1 <= xoff
                        && x2 >= xoff + u64::from(geometry.width)
                        && d1 <= yoff + y0 as u64
                        && d2 >= yoff + y1 as u64,
                    "{geometry:?} rows {y0}..{y1}: damage ({x1},{d1})-({x2},{d2})"
                );
            }
        }
        // No rows, no bytes (a 0x0 screen is refused with its own error).
        let empty = FbGeometry {
            width: 0,
            height: 0,
            layout: PixelLayout::XRGB8888,
            line_length: 0,
            origin: 0,
        };
        assert_eq!(empty.extent(), 0);
        // The quirk itself: one whole unpadded line gives no damage.
        assert_eq!(kernel_damage(3200 * 5, 3200, 3200, 800, 32), (0, 5, 0, 6));
    }

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
