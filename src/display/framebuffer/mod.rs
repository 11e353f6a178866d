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

mod device;
mod pixels;

use std::fs::File;
use std::os::unix::fs::FileExt;

use embedded_graphics::pixelcolor::Rgb888;

pub use device::FbGeometry;
pub use pixels::{Channel, FbCanvas, PixelLayout};

use super::panel::{open_hint, CommonOptions, Painter, Panel, PanelError};
use super::screen::DisplaySink;
use crate::spec::Spec;

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
        let geometry = match (device::query(&file).map_err(config)?, plain) {
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
pub fn open(spec: &mut Spec) -> Result<DisplaySink, PanelError> {
    let dims = 1..=16384;
    let what = "a number of pixels (plain files only)";
    let width = spec.take_in_range("width", dims.clone(), what)?;
    let height = spec.take_in_range("height", dims, what)?;
    let format = spec.take_choice("format", &PixelLayout::NAMED)?;
    let common = CommonOptions::take(spec, 30.0)?;
    spec.finish()?;
    if spec.target.is_empty() {
        return Err(spec
            .error("no framebuffer; expected e.g. fb:/dev/fb0")
            .into());
    }
    let plain = match (width, height, format) {
        (None, None, None) => None,
        (w, h, layout) => {
            let required = |v: Option<u32>, key: &str| {
                v.ok_or_else(|| {
                    spec.error(format!(
                        "option {key} is required with width/height/format (a plain file's geometry)"
                    ))
                })
            };
            let (width, height) = (required(w, "width")?, required(h, "height")?);
            let layout = layout.unwrap_or(PixelLayout::XRGB8888);
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
    DisplaySink::start(Painter::new(panel, common.render), common.max_fps)
}
