//! SSD1306 128×64 monochrome OLED over I2C, with the `ssd1306` crate's
//! buffered graphics mode on `linux-embedded-hal`'s `I2cdev`. Wiring, options
//! (`ssd1306:/dev/i2c-1?address=0x3c&rotation=0&max_fps=10&status=on`) and
//! troubleshooting are in docs/displays.md.
//!
//! The whole 1 KiB frame goes out every refresh (about 25 ms of 400 kHz
//! I2C), so a display that lost power (unplugged and plugged back) shows the
//! picture again after its re-initialisation.

use embedded_hal::i2c::{Error as _, I2c, Operation};
use ssd1306::mode::BufferedGraphicsMode;
use ssd1306::prelude::*;
use ssd1306::{I2CDisplayInterface, Ssd1306};

use super::panel::{open_hint, CommonOptions, Painter, Panel, PanelError};
use super::screen::DisplaySink;
use crate::spec::Spec;

/// Bus errors since the last look (the display-interface layer reports
/// only "bus write error"; this keeps the cause).
#[derive(Debug, Default, Clone)]
pub struct LastError(std::sync::Arc<std::sync::Mutex<Option<String>>>);

impl LastError {
    fn set(&self, e: String) {
        if let Ok(mut g) = self.0.lock() {
            *g = Some(e);
        }
    }
    fn take(&self) -> Option<String> {
        self.0.lock().ok().and_then(|mut g| g.take())
    }
}

/// An I2C bus that records the kind of its last error.
pub struct Recording<I> {
    inner: I,
    last: LastError,
}

impl<I: I2c> embedded_hal::i2c::ErrorType for Recording<I> {
    type Error = I::Error;
}

impl<I: I2c> I2c for Recording<I> {
    fn transaction(&mut self, address: u8, ops: &mut [Operation<'_>]) -> Result<(), Self::Error> {
        self.inner.transaction(address, ops).inspect_err(|e| {
            self.last.set(match e.kind() {
                embedded_hal::i2c::ErrorKind::NoAcknowledge(_) => {
                    format!("no acknowledge at address {address:#04x}")
                }
                k => k.to_string(),
            })
        })
    }
}

type Driver<I> = Ssd1306<
    ssd1306::prelude::I2CInterface<Recording<I>>,
    DisplaySize128x64,
    BufferedGraphicsMode<DisplaySize128x64>,
>;

/// Opens the bus (again).
pub type OpenBus<I> = Box<dyn FnMut() -> Result<I, PanelError> + Send>;

/// An SSD1306 128×64 on any `embedded-hal` I2C bus.
pub struct Ssd1306Panel<I: I2c + Send + 'static> {
    name: String,
    open: OpenBus<I>,
    address: u8,
    rotation: DisplayRotation,
    driver: Option<Driver<I>>,
    last: LastError,
}

/// Rotations by their degrees, as the `rotation` option names them.
const ROTATIONS: [(&str, DisplayRotation); 4] = [
    ("0", DisplayRotation::Rotate0),
    ("90", DisplayRotation::Rotate90),
    ("180", DisplayRotation::Rotate180),
    ("270", DisplayRotation::Rotate270),
];

/// Rotation from degrees.
pub fn rotation(degrees: u32) -> Option<DisplayRotation> {
    let name = degrees.to_string();
    ROTATIONS.iter().find(|(n, _)| *n == name).map(|&(_, r)| r)
}

/// A 7-bit I2C address (`0x3c`, or decimal) outside the reserved ones.
fn i2c_address(v: &str) -> Option<u8> {
    let n = match v.strip_prefix("0x").or_else(|| v.strip_prefix("0X")) {
        Some(hex) => u8::from_str_radix(hex, 16).ok(),
        None => v.parse().ok(),
    };
    n.filter(|a| (0x08..=0x77).contains(a))
}

impl<I: I2c + Send + 'static> Ssd1306Panel<I> {
    /// A panel at `address` on the bus `open` returns; not yet connected.
    pub fn new(name: &str, open: OpenBus<I>, address: u8, rotation: DisplayRotation) -> Self {
        Self {
            name: name.to_string(),
            open,
            address,
            rotation,
            driver: None,
            last: LastError::default(),
        }
    }

    fn bus_error(&self, what: &'static str, e: impl std::fmt::Debug) -> PanelError {
        let why = self.last.take().unwrap_or_else(|| format!("{e:?}"));
        let hint = if why.starts_with("no acknowledge") {
            "; check the wiring and the address (0x3c or 0x3d; i2cdetect shows it)"
        } else {
            ""
        };
        PanelError::Bus {
            panel: self.name.clone(),
            what,
            why,
            hint,
        }
    }
}

impl<I: I2c + Send + 'static> Panel for Ssd1306Panel<I> {
    type Colour = embedded_graphics::pixelcolor::BinaryColor;
    type Canvas = Driver<I>;

    fn name(&self) -> &str {
        &self.name
    }

    fn connect(&mut self) -> Result<(), PanelError> {
        self.driver = None;
        let bus = Recording {
            inner: (self.open)()?,
            last: self.last.clone(),
        };
        let di = I2CDisplayInterface::new_custom_address(bus, self.address);
        let mut d =
            Ssd1306::new(di, DisplaySize128x64, self.rotation).into_buffered_graphics_mode();
        d.init().map_err(|e| self.bus_error("initialisation", e))?;
        self.driver = Some(d);
        Ok(())
    }

    fn connected(&self) -> bool {
        self.driver.is_some()
    }

    fn begin(&mut self) -> Option<&mut Driver<I>> {
        let d = self.driver.as_mut()?;
        d.clear_buffer();
        Some(d)
    }

    fn show(&mut self) -> Result<(), PanelError> {
        let Some(d) = self.driver.as_mut() else {
            return Ok(());
        };
        if let Err(e) = d.flush() {
            self.driver = None;
            return Err(self.bus_error("sending the frame", e));
        }
        Ok(())
    }
}

/// `linux-embedded-hal`'s `I2cdev`, writing with one `write(2)` per
/// message (its own `transaction` builds a message list on the heap each
/// time; the SSD1306 driver only ever writes).
pub struct LinuxI2c {
    dev: linux_embedded_hal::I2cdev,
    address: Option<u8>,
}

impl embedded_hal::i2c::ErrorType for LinuxI2c {
    type Error = linux_embedded_hal::I2CError;
}

impl I2c for LinuxI2c {
    fn transaction(&mut self, address: u8, ops: &mut [Operation<'_>]) -> Result<(), Self::Error> {
        use linux_embedded_hal::i2cdev::core::I2CDevice;
        if let [Operation::Write(buf)] = ops {
            if self.address != Some(address) {
                self.dev.set_slave_address(u16::from(address))?;
                self.address = Some(address);
            }
            return Ok(I2CDevice::write(&mut *self.dev, buf)?);
        }
        self.address = None;
        self.dev.transaction(address, ops)
    }
}

/// Opens `ssd1306:/dev/i2c-N?...` (see the module docs).
pub fn open(spec: &mut Spec) -> Result<DisplaySink, PanelError> {
    let address = spec
        .take_with(
            "address",
            "a 7-bit I2C address such as 0x3c or 0x3d",
            i2c_address,
        )?
        .unwrap_or(0x3c);
    let rot = spec
        .take_choice("rotation", &ROTATIONS)?
        .unwrap_or(DisplayRotation::Rotate0);
    let common = CommonOptions::take(spec, 10.0)?;
    spec.finish()?;
    if spec.target.is_empty() {
        return Err(spec
            .error("no I2C device; expected e.g. ssd1306:/dev/i2c-1")
            .into());
    }
    let path = spec.target.clone();
    let name = spec.text.clone();
    let open_name = name.clone();
    let open_bus: OpenBus<LinuxI2c> = Box::new(move || {
        linux_embedded_hal::I2cdev::new(&path)
            .map(|dev| LinuxI2c { dev, address: None })
            .map_err(|e| {
                let io: std::io::Error = e.into();
                PanelError::Open {
                    panel: open_name.clone(),
                    path: path.clone(),
                    hint: open_hint(&io, "i2c"),
                    why: io.to_string(),
                }
            })
    });
    let mut panel = Ssd1306Panel::new(&name, open_bus, address, rot);
    panel.connect()?;
    DisplaySink::start(Painter::new(panel, common.render), common.max_fps)
}
