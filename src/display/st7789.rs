//! ST7789 and ILI9341 colour TFTs over SPI, with the `mipidsi` crate on
//! `linux-embedded-hal`'s `SpidevDevice` and GPIO character-device pins.
//! Wiring, options (`st7789:/dev/spidev0.0?dc=gpiochip0:25&...`) and
//! troubleshooting are in docs/displays.md.
//!
//! Frames are drawn into a RAM canvas; only the rows that changed since the
//! last frame (drawn now or then) are sent, in runs of whole rows, each
//! SPI write at most 4096 bytes (the spidev default `bufsiz`). The offsets
//! are mirrored by the driver for rotations.

use embedded_graphics::pixelcolor::Rgb565;
use embedded_hal::delay::DelayNs;
use embedded_hal::digital::OutputPin;
use embedded_hal::spi::{Operation, SpiDevice};
use linux_embedded_hal::spidev::SpiModeFlags;
use mipidsi::interface::{Interface, InterfaceKind};
use mipidsi::models::{ILI9341Rgb565, Model, ST7789};
use mipidsi::options::{ColorInversion, ColorOrder, Orientation, Rotation};
use mipidsi::{Builder, Display};

use super::canvas::Canvas;
use super::panel::{open_hint, CommonOptions, Painter, Panel, PanelError};
use super::screen::DisplaySink;
use crate::spec::Spec;

/// Bytes per SPI write (the spidev default `bufsiz`).
pub const SPI_CHUNK: usize = 4096;

/// Errors of [`SpiDc`].
#[derive(Debug)]
pub enum SpiDcError<S, P> {
    Spi(S),
    Dc(P),
}

impl<S: std::fmt::Display, P: std::fmt::Display> std::fmt::Display for SpiDcError<S, P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Spi(e) => write!(f, "SPI write: {e}"),
            Self::Dc(e) => write!(f, "DC line: {e}"),
        }
    }
}

/// A 4-wire SPI interface for `mipidsi` (command bytes with DC low,
/// parameters and pixels with DC high) that owns its pixel buffer, so the
/// panel can be rebuilt after a bus error.
pub struct SpiDc<SPI, DC> {
    spi: SPI,
    dc: DC,
    buf: Vec<u8>,
}

impl<SPI: SpiDevice, DC: OutputPin> SpiDc<SPI, DC> {
    pub fn new(spi: SPI, dc: DC) -> Self {
        Self {
            spi,
            dc,
            buf: vec![0; SPI_CHUNK],
        }
    }

    fn write(&mut self, n: usize) -> Result<(), SpiDcError<SPI::Error, DC::Error>> {
        if n > 0 {
            self.spi.write(&self.buf[..n]).map_err(SpiDcError::Spi)?;
        }
        Ok(())
    }
}

impl<SPI: SpiDevice, DC: OutputPin> Interface for SpiDc<SPI, DC> {
    type Word = u8;
    type Error = SpiDcError<SPI::Error, DC::Error>;
    const KIND: InterfaceKind = InterfaceKind::Serial4Line;

    fn send_command(&mut self, command: u8, args: &[u8]) -> Result<(), Self::Error> {
        self.dc.set_low().map_err(SpiDcError::Dc)?;
        self.spi.write(&[command]).map_err(SpiDcError::Spi)?;
        self.dc.set_high().map_err(SpiDcError::Dc)?;
        if !args.is_empty() {
            self.spi.write(args).map_err(SpiDcError::Spi)?;
        }
        Ok(())
    }

    fn send_pixels<const N: usize>(
        &mut self,
        pixels: impl IntoIterator<Item = [u8; N]>,
    ) -> Result<(), Self::Error> {
        let cap = self.buf.len() / N * N;
        let mut n = 0;
        for p in pixels {
            self.buf[n..n + N].copy_from_slice(&p);
            n += N;
            if n == cap {
                self.write(n)?;
                n = 0;
            }
        }
        self.write(n)
    }

    fn send_repeated_pixel<const N: usize>(
        &mut self,
        pixel: [u8; N],
        count: u32,
    ) -> Result<(), Self::Error> {
        let per = self.buf.len() / N;
        for chunk in self.buf.chunks_exact_mut(N).take(count as usize) {
            chunk.copy_from_slice(&pixel);
        }
        let mut left = count as usize;
        while left > 0 {
            let k = left.min(per);
            self.write(k * N)?;
            left -= k;
        }
        Ok(())
    }
}

/// An output pin that may be absent (writes to it do nothing).
pub struct MaybePin<P>(pub Option<P>);

impl<P: OutputPin> embedded_hal::digital::ErrorType for MaybePin<P> {
    type Error = P::Error;
}

impl<P: OutputPin> OutputPin for MaybePin<P> {
    fn set_low(&mut self) -> Result<(), Self::Error> {
        self.0.as_mut().map_or(Ok(()), |p| p.set_low())
    }
    fn set_high(&mut self) -> Result<(), Self::Error> {
        self.0.as_mut().map_or(Ok(()), |p| p.set_high())
    }
}

/// Which controller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Controller {
    St7789,
    Ili9341,
}

/// Glass geometry and colour handling.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TftConfig {
    /// The glass, unrotated.
    pub width: u16,
    pub height: u16,
    pub offset_x: u16,
    pub offset_y: u16,
    /// 0, 90, 180 or 270.
    pub rotation: u16,
    pub bgr: bool,
    pub invert: bool,
}

impl TftConfig {
    /// The drawing size after rotation.
    pub fn logical_size(&self) -> (u32, u32) {
        let (w, h) = (u32::from(self.width), u32::from(self.height));
        if self.rotation.is_multiple_of(180) {
            (w, h)
        } else {
            (h, w)
        }
    }
}

/// The bus parts of a TFT: SPI device, DC line, reset line (if wired).
pub struct TftBus<SPI, DC, RST> {
    pub spi: SPI,
    pub dc: DC,
    pub reset: Option<RST>,
}

/// Opens the bus (again).
pub type OpenTft<SPI, DC, RST> =
    Box<dyn FnMut() -> Result<TftBus<SPI, DC, RST>, PanelError> + Send>;

/// A mipidsi display on [`SpiDc`].
type Driver<M, SPI, DC, RST> = Display<SpiDc<SPI, DC>, M, MaybePin<RST>>;

/// An ST7789 or ILI9341 on any `embedded-hal` SPI device and pins.
pub struct TftPanel<M, SPI, DC, RST, D>
where
    M: Model<ColorFormat = Rgb565>,
    SPI: SpiDevice,
    DC: OutputPin,
    RST: OutputPin,
{
    name: String,
    model: fn() -> M,
    open: OpenTft<SPI, DC, RST>,
    config: TftConfig,
    delay: D,
    driver: Option<Driver<M, SPI, DC, RST>>,
    canvas: Canvas<Rgb565>,
}

impl<M, SPI, DC, RST, D> TftPanel<M, SPI, DC, RST, D>
where
    M: Model<ColorFormat = Rgb565>,
    SPI: SpiDevice,
    DC: OutputPin,
    RST: OutputPin,
{
    /// A panel of `model` on the bus `open` returns; not yet connected.
    pub fn new(
        name: &str,
        model: fn() -> M,
        open: OpenTft<SPI, DC, RST>,
        config: TftConfig,
        delay: D,
    ) -> Self {
        let (w, h) = config.logical_size();
        Self {
            name: name.to_string(),
            model,
            open,
            config,
            delay,
            driver: None,
            canvas: Canvas::new(w, h),
        }
    }

    fn bus_error(&self, what: &'static str, why: String) -> PanelError {
        PanelError::Bus {
            panel: self.name.clone(),
            what,
            why,
            hint: "",
        }
    }
}

fn mipidsi_rotation(degrees: u16) -> Rotation {
    match degrees {
        90 => Rotation::Deg90,
        180 => Rotation::Deg180,
        270 => Rotation::Deg270,
        _ => Rotation::Deg0,
    }
}

impl<M, SPI, DC, RST, D> Panel for TftPanel<M, SPI, DC, RST, D>
where
    M: Model<ColorFormat = Rgb565> + Send + 'static,
    SPI: SpiDevice + Send + 'static,
    SPI::Error: std::fmt::Display,
    DC: OutputPin + Send + 'static,
    DC::Error: std::fmt::Display,
    RST: OutputPin + Send + 'static,
    RST::Error: std::fmt::Display,
    D: DelayNs + Send + 'static,
{
    type Colour = Rgb565;
    type Canvas = Canvas<Rgb565>;

    fn name(&self) -> &str {
        &self.name
    }

    fn connect(&mut self) -> Result<(), PanelError> {
        self.driver = None;
        let bus = (self.open)()?;
        let has_reset = bus.reset.is_some();
        let mut di = SpiDc::new(bus.spi, bus.dc);
        if !has_reset {
            // mipidsi sends its software reset only without a reset pin
            // type; ours is optional, so send it here.
            di.send_command(0x01, &[])
                .map_err(|e| self.bus_error("software reset", e.to_string()))?;
            self.delay.delay_ms(150);
        }
        let c = self.config;
        let builder = Builder::new((self.model)(), di)
            .reset_pin(MaybePin(bus.reset))
            .display_size(c.width, c.height)
            .display_offset(c.offset_x, c.offset_y)
            .orientation(Orientation::new().rotate(mipidsi_rotation(c.rotation)))
            .color_order(if c.bgr {
                ColorOrder::Bgr
            } else {
                ColorOrder::Rgb
            })
            .invert_colors(if c.invert {
                ColorInversion::Inverted
            } else {
                ColorInversion::Normal
            });
        let d = builder.init(&mut self.delay).map_err(|e| {
            let why = match e {
                mipidsi::InitError::Interface(e) => e.to_string(),
                mipidsi::InitError::ResetPin(e) => format!("reset line: {e}"),
                mipidsi::InitError::InvalidConfiguration(c) => format!("{c:?}"),
            };
            self.bus_error("initialisation", why)
        })?;
        self.driver = Some(d);
        self.canvas.invalidate();
        Ok(())
    }

    fn connected(&self) -> bool {
        self.driver.is_some()
    }

    fn begin(&mut self) -> Option<&mut Canvas<Rgb565>> {
        self.driver.as_ref()?;
        self.canvas.begin_frame();
        Some(&mut self.canvas)
    }

    fn show(&mut self) -> Result<(), PanelError> {
        let Some(d) = self.driver.as_mut() else {
            return Ok(());
        };
        let width = self.canvas.width() as usize;
        let mut result = Ok(());
        for (y0, y1) in self.canvas.dirty_runs() {
            let px = &self.canvas.pixels()[y0 * width..y1 * width];
            if let Err(e) = d.set_pixels(
                0,
                y0 as u16,
                width as u16 - 1,
                y1 as u16 - 1,
                px.iter().copied(),
            ) {
                result = Err(e.to_string());
                break;
            }
        }
        match result {
            Ok(()) => {
                self.canvas.sent();
                Ok(())
            }
            Err(why) => {
                self.driver = None;
                Err(self.bus_error("sending the frame", why))
            }
        }
    }
}

/// `linux-embedded-hal`'s `SpidevDevice`, sending a lone write with one
/// `write(2)` (its `transaction` builds a transfer list on the heap each
/// time; mipidsi only writes).
pub struct LinuxSpi(pub linux_embedded_hal::SpidevDevice);

impl embedded_hal::spi::ErrorType for LinuxSpi {
    type Error = linux_embedded_hal::SPIError;
}

impl SpiDevice for LinuxSpi {
    fn transaction(&mut self, ops: &mut [Operation<'_, u8>]) -> Result<(), Self::Error> {
        use std::io::Write;
        if let [Operation::Write(buf)] = ops {
            return self.0 .0.write_all(buf).map_err(Into::into);
        }
        self.0.transaction(ops)
    }
}

/// What a GPIO line option accepts.
const GPIO_LINE: &str = "a GPIO line as CHIP:LINE (gpiochip0:25) or a line number";

/// A GPIO line: `gpiochip0:25` or `25` (on `gpiochip0`) → chip device, line.
fn gpio_line(v: &str) -> Option<(String, u32)> {
    let (chip, line) = v.rsplit_once(':').unwrap_or(("gpiochip0", v));
    let line = line.parse::<u32>().ok().filter(|_| !chip.is_empty())?;
    let chip = if chip.starts_with('/') {
        chip.to_string()
    } else {
        format!("/dev/{chip}")
    };
    Some((chip, line))
}

/// Rotations in degrees, as the `rotation` option names them.
const ROTATIONS: [(&str, u16); 4] = [("0", 0), ("90", 90), ("180", 180), ("270", 270)];

fn open_line(
    panel: &str,
    chip: &str,
    line: u32,
    consumer: &str,
) -> Result<linux_embedded_hal::CdevPin, PanelError> {
    use linux_embedded_hal::gpio_cdev::{errors::Error, Chip, LineRequestFlags};
    let what = format!("{chip} line {line}");
    let fail = |e: Error| {
        let io = std::io::Error::other(e.to_string());
        let denied = e.to_string().contains("ermission");
        let missing = e.to_string().contains("No such file");
        PanelError::Open {
            panel: panel.to_string(),
            path: what.clone(),
            why: io.to_string(),
            hint: if denied {
                open_hint(&std::io::ErrorKind::PermissionDenied.into(), "gpio")
            } else if missing {
                open_hint(&std::io::ErrorKind::NotFound.into(), "gpio")
            } else {
                "; is the line in use by another program or a kernel driver?"
            },
        }
    };
    let mut c = Chip::new(chip).map_err(fail)?;
    let handle = c
        .get_line(line)
        .and_then(|l| l.request(LineRequestFlags::OUTPUT, 1, consumer))
        .map_err(fail)?;
    linux_embedded_hal::CdevPin::new(handle).map_err(fail)
}

/// Opens `st7789:/dev/spidevB.C?...` or `ili9341:...` (see the module docs).
pub fn open(spec: &mut Spec, controller: Controller) -> Result<DisplaySink, PanelError> {
    let (max_w, max_h) = match controller {
        Controller::St7789 => ST7789::FRAMEBUFFER_SIZE,
        Controller::Ili9341 => ILI9341Rgb565::FRAMEBUFFER_SIZE,
    };
    let (dw, dh) = match controller {
        Controller::St7789 => (240, 240),
        Controller::Ili9341 => (240, 320),
    };
    let dc = spec.take_with("dc", GPIO_LINE, gpio_line)?.ok_or_else(|| {
        spec.error("option dc is required: the data/command GPIO line, e.g. dc=gpiochip0:25")
    })?;
    let reset = spec.take_with("reset", GPIO_LINE, gpio_line)?;
    let backlight = spec.take_with("backlight", GPIO_LINE, gpio_line)?;
    let mut pixels = |key: &'static str, range: std::ops::RangeInclusive<u16>, default: u16| {
        spec.take_in_range(key, range, "a number of pixels")
            .map(|v| v.unwrap_or(default))
    };
    let width = pixels("width", 1..=max_w, dw)?;
    let height = pixels("height", 1..=max_h, dh)?;
    let offset_x = pixels("offset_x", 0..=max_w - 1, 0)?;
    let offset_y = pixels("offset_y", 0..=max_h - 1, 0)?;
    if width + offset_x > max_w {
        return Err(spec
            .invalid(
                "offset_x",
                &offset_x.to_string(),
                &format!("width + offset_x at most {max_w} (the controller's memory)"),
            )
            .into());
    }
    if height + offset_y > max_h {
        return Err(spec
            .invalid(
                "offset_y",
                &offset_y.to_string(),
                &format!("height + offset_y at most {max_h} (the controller's memory)"),
            )
            .into());
    }
    let rotation = spec.take_choice("rotation", &ROTATIONS)?.unwrap_or(0);
    let bgr = spec
        .take_choice("color_order", &[("rgb", false), ("bgr", true)])?
        .unwrap_or(false);
    let invert = spec
        .take_bool("invert")?
        .unwrap_or(controller == Controller::St7789);
    let spi_hz = spec
        .take_in_range("spi_hz", 1..=125_000_000, "an SPI clock in Hz")?
        .unwrap_or(32_000_000);
    let spi_mode = spec
        .take_choice(
            "spi_mode",
            &[
                ("0", SpiModeFlags::SPI_MODE_0),
                ("1", SpiModeFlags::SPI_MODE_1),
                ("2", SpiModeFlags::SPI_MODE_2),
                ("3", SpiModeFlags::SPI_MODE_3),
            ],
        )?
        .unwrap_or(SpiModeFlags::SPI_MODE_0);
    let common = CommonOptions::take(spec, 30.0)?;
    spec.finish()?;
    if spec.target.is_empty() {
        return Err(spec
            .error("no SPI device; expected e.g. st7789:/dev/spidev0.0?dc=gpiochip0:25")
            .into());
    }
    let config = TftConfig {
        width,
        height,
        offset_x,
        offset_y,
        rotation,
        bgr,
        invert,
    };
    let name = spec.text.clone();
    // The backlight is switched on once and held for the sink's life.
    let backlight = match backlight {
        Some((chip, line)) => Some(open_line(&name, &chip, line, "edgepose-backlight")?),
        None => None,
    };
    let path = spec.target.clone();
    let panel_name = name.clone();
    let open: OpenTft<LinuxSpi, linux_embedded_hal::CdevPin, linux_embedded_hal::CdevPin> =
        Box::new(move || {
            let _hold = &backlight;
            let fail = |e: std::io::Error| PanelError::Open {
                panel: panel_name.clone(),
                path: path.clone(),
                hint: open_hint(&e, "spi"),
                why: e.to_string(),
            };
            let mut dev = linux_embedded_hal::SpidevDevice::open(&path)
                .map_err(|e| fail(std::io::Error::new(e.inner().kind(), e.to_string())))?;
            dev.configure(
                &linux_embedded_hal::spidev::SpidevOptions::new()
                    .bits_per_word(8)
                    .max_speed_hz(spi_hz)
                    .mode(spi_mode)
                    .build(),
            )
            .map_err(fail)?;
            let dc = open_line(&panel_name, &dc.0, dc.1, "edgepose-dc")?;
            let reset = match &reset {
                Some((chip, line)) => Some(open_line(&panel_name, chip, *line, "edgepose-reset")?),
                None => None,
            };
            Ok(TftBus {
                spi: LinuxSpi(dev),
                dc,
                reset,
            })
        });
    let delay = linux_embedded_hal::Delay;
    let sink = match controller {
        Controller::St7789 => {
            let mut panel = TftPanel::new(&name, || ST7789, open, config, delay);
            panel.connect()?;
            DisplaySink::start(Painter::new(panel, common.render), common.max_fps)?
        }
        Controller::Ili9341 => {
            let mut panel = TftPanel::new(&name, || ILI9341Rgb565, open, config, delay);
            panel.connect()?;
            DisplaySink::start(Painter::new(panel, common.render), common.max_fps)?
        }
    };
    Ok(sink)
}
