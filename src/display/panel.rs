//! Display panels: the [`Panel`] trait every display backend implements
//! (an SSD1306 OLED, an ST7789/ILI9341 TFT, a Linux framebuffer), the
//! [`Painter`] that renders a scene onto one, their errors, and the options
//! every display spec takes ([`CommonOptions`]): `max_fps` (refresh cap,
//! 0 = none) and `status` (`on`/`off`: the status line of fps, persons and
//! inference time; `off` makes the picture depend on the poses only, for
//! comparisons with golden images). The thread that drives a panel is
//! [`super::screen`].

use embedded_graphics::draw_target::DrawTarget;
use embedded_graphics::geometry::OriginDimensions;

use super::palette::PanelColour;
use super::render::{render, RenderOptions, Scene, Skeleton};
use crate::spec::{Spec, SpecError};

/// Errors of display panels.
#[derive(Debug, thiserror::Error)]
pub enum PanelError {
    #[error("{panel}: cannot open {path}: {why}{hint}")]
    Open {
        panel: String,
        path: String,
        why: String,
        /// What to check (permissions, wiring), with a leading separator.
        hint: &'static str,
    },
    #[error("{panel}: {what} failed: {why}{hint}")]
    Bus {
        panel: String,
        what: &'static str,
        why: String,
        hint: &'static str,
    },
    #[error("{panel}: {why}")]
    Config { panel: String, why: String },
    #[error("cannot start the display thread: {0}")]
    Thread(std::io::Error),
    #[error(transparent)]
    Spec(#[from] SpecError),
}

/// A hint for `Open` errors of device files.
pub fn open_hint(e: &std::io::Error, group: &'static str) -> &'static str {
    match (e.kind(), group) {
        (std::io::ErrorKind::PermissionDenied, "i2c") => {
            "; add the user to the i2c group (see the README's Troubleshooting)"
        }
        (std::io::ErrorKind::PermissionDenied, "spi") => {
            "; add the user to the spi and gpio groups (see the README's Troubleshooting)"
        }
        (std::io::ErrorKind::PermissionDenied, "gpio") => {
            "; add the user to the gpio group (see the README's Troubleshooting)"
        }
        (std::io::ErrorKind::PermissionDenied, _) => {
            "; add the user to the video group (see the README's Troubleshooting)"
        }
        (std::io::ErrorKind::NotFound, "i2c") => {
            "; is I2C enabled (dtparam=i2c_arm=on) and the bus number right?"
        }
        (std::io::ErrorKind::NotFound, "spi") => {
            "; is SPI enabled (dtparam=spi=on) and the device name right?"
        }
        (std::io::ErrorKind::NotFound, "gpio") => "; check the chip name (ls /dev/gpiochip*)",
        _ => "",
    }
}

/// A display the sink draws on. It owns its bus; [`Panel::connect`]
/// (re)opens and initialises it.
pub trait Panel: Send + 'static {
    type Colour: PanelColour;
    type Canvas: DrawTarget<Color = Self::Colour> + OriginDimensions;
    /// How the panel is named in messages (its spec).
    fn name(&self) -> &str;
    /// Initialises the controller (reopening the bus if it was lost).
    fn connect(&mut self) -> Result<(), PanelError>;
    /// Whether the panel is connected (the last bus operation worked).
    fn connected(&self) -> bool;
    /// Prepares the drawing surface for a new frame (cleared to the
    /// background); `None` while not connected.
    fn begin(&mut self) -> Option<&mut Self::Canvas>;
    /// Sends what was drawn since [`Panel::begin`] to the glass. On error
    /// the panel counts as disconnected until the next `connect`.
    fn show(&mut self) -> Result<(), PanelError>;
}

/// Renders scenes onto a panel (the synchronous part of [`DisplaySink`];
/// tests drive it directly).
pub struct Painter<P: Panel> {
    pub panel: P,
    pub opts: RenderOptions,
}

impl<P: Panel> Painter<P> {
    pub fn new(panel: P, opts: RenderOptions) -> Self {
        Self { panel, opts }
    }

    /// Draws `scene` and sends it to the glass (the panel must be
    /// connected).
    pub fn draw(&mut self, scene: &Scene, skeleton: &Skeleton) -> Result<(), PanelError> {
        let opts = self.opts;
        let Some(canvas) = self.panel.begin() else {
            return Err(PanelError::Bus {
                panel: self.panel.name().to_string(),
                what: "drawing",
                why: "not connected".into(),
                hint: "",
            });
        };
        // Drawing into RAM buffers cannot fail; a panel whose canvas
        // could would report it from `show`.
        let _ = render(canvas, scene, skeleton, &opts);
        self.panel.show()
    }
}

/// Options every display sink takes.
#[derive(Debug, Clone, Copy)]
pub struct CommonOptions {
    /// Refresh cap in frames per second (0 = none).
    pub max_fps: f32,
    pub render: RenderOptions,
}

impl CommonOptions {
    /// Takes `max_fps` and `status` from `spec`.
    pub fn take(spec: &mut Spec, default_fps: f32) -> Result<Self, PanelError> {
        let max_fps = spec
            .take_in_range(
                "max_fps",
                0.0..=1000.0,
                "a refresh cap in frames per second (0 = none)",
            )?
            .unwrap_or(default_fps);
        let status = spec.take_bool("status")?.unwrap_or(true);
        Ok(Self {
            max_fps,
            render: RenderOptions { status },
        })
    }
}
