//! The framebuffer device: its geometry and pixel format from the
//! `FBIOGET_VSCREENINFO` / `FBIOGET_FSCREENINFO` ioctls ([`query`]) and
//! where each run of rows goes in its memory ([`FbGeometry::span`]).

use std::fs::File;
use std::os::unix::io::AsRawFd;

use super::pixels::{ch, PixelLayout};

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
    pub(super) fn extent(&self) -> u64 {
        let (off, range) = self.span(0, self.height as usize);
        off + range.len() as u64
    }
}

/// Reads the geometry of a framebuffer device; `Ok(None)` when `file` is
/// not one (the ioctl is not supported).
pub(super) fn query(file: &File) -> Result<Option<FbGeometry>, String> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::display::framebuffer::PixelLayout;

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
}
