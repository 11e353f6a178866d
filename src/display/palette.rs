//! The one palette of edgepose's pictures (panels and annotated images):
//! per-side limb colours (left blue, right orange, centre green), box
//! colours by track id, and how each kind of panel shows them.

use embedded_graphics::pixelcolor::{BinaryColor, PixelColor, Rgb565, Rgb888};
use embedded_graphics::prelude::*;

/// A colour a panel can show; monochrome panels draw simpler shapes.
pub trait PanelColour: PixelColor + Send + 'static {
    /// One bit per pixel: shapes are chosen to stay legible at 128×64.
    const MONO: bool;
    /// The background.
    const BACKGROUND: Self;
    /// The nearest panel colour to an sRGB triple (monochrome: any
    /// non-black colour is on).
    fn rgb(r: u8, g: u8, b: u8) -> Self;
}

impl PanelColour for BinaryColor {
    const MONO: bool = true;
    const BACKGROUND: Self = BinaryColor::Off;
    fn rgb(r: u8, g: u8, b: u8) -> Self {
        BinaryColor::from(r != 0 || g != 0 || b != 0)
    }
}

impl PanelColour for Rgb565 {
    const MONO: bool = false;
    const BACKGROUND: Self = Rgb565::BLACK;
    fn rgb(r: u8, g: u8, b: u8) -> Self {
        Rgb565::from(Rgb888::new(r, g, b))
    }
}

impl PanelColour for Rgb888 {
    const MONO: bool = false;
    const BACKGROUND: Self = Rgb888::BLACK;
    fn rgb(r: u8, g: u8, b: u8) -> Self {
        Rgb888::new(r, g, b)
    }
}

/// Which side of the body a keypoint or limb is on (its colour).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Left,
    Right,
    Centre,
}

impl Side {
    /// The side of a keypoint by its name (`left_…`, `right_…`, else the
    /// centre).
    pub fn of(name: &str) -> Self {
        if name.starts_with("left") {
            Side::Left
        } else if name.starts_with("right") {
            Side::Right
        } else {
            Side::Centre
        }
    }
}

const LEFT: (u8, u8, u8) = (51, 153, 255);
pub(super) const RIGHT: (u8, u8, u8) = (255, 128, 0);
pub(super) const CENTRE: (u8, u8, u8) = (0, 220, 90);
pub(super) const WHITE: (u8, u8, u8) = (255, 255, 255);
pub(super) const FRAME: (u8, u8, u8) = (90, 90, 90);
pub(super) const BOX: (u8, u8, u8) = (255, 40, 200);
/// Box colours of tracked persons, by track id.
pub(super) const TRACK_COLOURS: [(u8, u8, u8); 6] = [
    (255, 40, 200),
    (255, 215, 0),
    (0, 200, 255),
    (160, 90, 255),
    (255, 90, 60),
    (80, 255, 160),
];

pub(super) fn colour<C: PanelColour>(c: (u8, u8, u8)) -> C {
    C::rgb(c.0, c.1, c.2)
}

pub(super) fn side_colour<C: PanelColour>(side: Side) -> C {
    colour(match side {
        Side::Left => LEFT,
        Side::Right => RIGHT,
        Side::Centre => CENTRE,
    })
}
