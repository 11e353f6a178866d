//! Pictures of poses: the renderer ([`render`], [`palette`], drawing
//! surfaces in [`canvas`]) that annotated images and small displays share,
//! and, with the `display` feature, the displays themselves: a [`panel::Panel`]
//! trait with the SSD1306 ([`ssd1306`]), ST7789/ILI9341 ([`st7789`]) and
//! Linux framebuffer ([`framebuffer`]) backends, drawn from their own thread
//! ([`screen`]). The sink side (`--sink ssd1306:...`) is
//! [`crate::sink::display`].

pub mod canvas;
pub mod palette;
pub mod render;

#[cfg(feature = "display")]
pub mod framebuffer;
#[cfg(feature = "display")]
pub mod panel;
#[cfg(feature = "display")]
pub mod screen;
#[cfg(feature = "display")]
pub mod ssd1306;
#[cfg(feature = "display")]
pub mod st7789;

pub use canvas::{Canvas, DirtyRows, RgbCanvas};
pub use palette::{PanelColour, Side};
pub use render::{overlay, render, Letterbox, RenderOptions, Scene, Skeleton};
