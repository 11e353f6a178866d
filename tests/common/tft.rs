//! An ST7789 / ILI9341 emulated at the bus level for the display tests
//! (tests/display.rs): the controller written from its datasheet (CASET,
//! RASET, RAMWR, MADCTL row/column exchange and mirroring, colour order,
//! COLMOD, inversion, sleep and display on/off, reset) on an
//! `embedded-hal` SPI device with DC and reset lines, behind a glass that
//! shows a window of its frame memory, and the real `mipidsi` driver's
//! panel on it.

use std::sync::{Arc, Mutex};

use edgepose::display::panel::{Painter, Panel};
use edgepose::display::st7789::{TftBus, TftConfig, TftPanel};
use edgepose::display::{RenderOptions, Scene, Skeleton};
use embedded_graphics::pixelcolor::Rgb565;
use embedded_hal::spi::{Operation as SpiOp, SpiDevice};

use crate::picture::{rgb565, Picture};

/// An ST7789 / ILI9341 (240×320 frame memory) behind a glass that shows
/// the window `glass` of it. `bgr_glass`: the glass's colour filters are
/// B,G,R (needs MADCTL's BGR bit); `ips`: the glass needs inversion on.
pub struct Tft {
    ram: Vec<u16>,
    glass: (u32, u32, u32, u32),
    bgr_glass: bool,
    ips: bool,
    dc_high: bool,
    cmd: Option<u8>,
    args: Vec<u8>,
    madctl: u8,
    colmod: u8,
    inverted: bool,
    sleeping: bool,
    on: bool,
    caset: (u32, u32),
    raset: (u32, u32),
    at: (u32, u32),
    half: Option<u8>,
    reset_low: bool,
    pub resets: usize,
    pub pixels_written: usize,
    errors: Vec<String>,
    pub failing: bool,
}

pub const RAM_W: u32 = 240;
pub const RAM_H: u32 = 320;

impl Tft {
    pub fn new(glass: (u32, u32, u32, u32), bgr_glass: bool, ips: bool) -> Self {
        let mut t = Self {
            ram: vec![0; (RAM_W * RAM_H) as usize],
            glass,
            bgr_glass,
            ips,
            dc_high: false,
            cmd: None,
            args: vec![],
            madctl: 0,
            colmod: 0x66,
            inverted: false,
            sleeping: true,
            on: false,
            caset: (0, RAM_W - 1),
            raset: (0, RAM_H - 1),
            at: (0, 0),
            half: None,
            reset_low: false,
            resets: 0,
            pixels_written: 0,
            errors: vec![],
            failing: false,
        };
        t.reset();
        t
    }

    pub fn reset(&mut self) {
        // Frame memory is not cleared by a reset: noise stays visible
        // unless the driver redraws.
        for (i, p) in self.ram.iter_mut().enumerate() {
            *p = (i as u16).wrapping_mul(40503);
        }
        self.madctl = 0;
        self.colmod = 0x66;
        self.inverted = false;
        self.sleeping = true;
        self.on = false;
        self.caset = (0, RAM_W - 1);
        self.raset = (0, RAM_H - 1);
        self.cmd = None;
        self.args.clear();
        self.resets += 1;
    }

    pub fn arg_count(c: u8) -> Option<usize> {
        Some(match c {
            0x01 | 0x10 | 0x11 | 0x13 | 0x20 | 0x21 | 0x28 | 0x29 | 0x2C | 0x38 | 0x39 => 0,
            0x2A | 0x2B => 4,
            0x36 | 0x3A | 0xB4 | 0x35 => 1,
            0x37 => 2,
            0x33 => 6,
            _ => return None,
        })
    }

    pub fn command(&mut self, c: u8) {
        self.finish();
        match Self::arg_count(c) {
            None => self.errors.push(format!("unknown command {c:#04x}")),
            Some(0) => self.execute(c),
            Some(_) => {}
        }
        self.cmd = Some(c);
        self.args.clear();
        self.half = None;
        if c == 0x2C {
            if self.colmod & 0x0F != 0x05 {
                self.errors.push(format!(
                    "RAMWR with COLMOD {:#04x}, not 16 bits",
                    self.colmod
                ));
            }
            if self.sleeping {
                self.errors.push("RAMWR while asleep".into());
            }
            self.at = (self.caset.0, self.raset.0);
        }
    }

    /// Checks the previous command got all its parameters.
    pub fn finish(&mut self) {
        if let Some(c) = self.cmd {
            if let Some(n) = Self::arg_count(c) {
                if n > 0 && self.args.len() != n {
                    self.errors.push(format!(
                        "command {c:#04x} got {} parameters, expects {n}",
                        self.args.len()
                    ));
                }
            }
        }
        if self.half.is_some() {
            self.errors.push("odd number of pixel bytes".into());
        }
    }

    pub fn execute(&mut self, c: u8) {
        let a = &self.args;
        let word = |i: usize| u32::from(a[i]) << 8 | u32::from(a[i + 1]);
        match c {
            0x01 => self.reset(),
            0x10 => self.sleeping = true,
            0x11 => self.sleeping = false,
            0x20 => self.inverted = false,
            0x21 => self.inverted = true,
            0x28 => self.on = false,
            0x29 => self.on = true,
            0x2A => self.caset = (word(0), word(2)),
            0x2B => self.raset = (word(0), word(2)),
            0x36 => self.madctl = a[0],
            0x3A => self.colmod = a[0],
            _ => {}
        }
        for (what, (s, e)) in [("CASET", self.caset), ("RASET", self.raset)] {
            if s > e {
                self.errors.push(format!("{what} start {s} > end {e}"));
            }
        }
    }

    pub fn data(&mut self, bytes: &[u8]) {
        let Some(c) = self.cmd else {
            self.errors.push("data without a command".into());
            return;
        };
        if c != 0x2C {
            self.args.extend_from_slice(bytes);
            if Self::arg_count(c) == Some(self.args.len()) {
                self.execute(c);
            }
            return;
        }
        for &b in bytes {
            let Some(hi) = self.half.take() else {
                self.half = Some(b);
                continue;
            };
            self.pixel(u16::from(hi) << 8 | u16::from(b));
        }
    }

    /// Stores one pixel at the write pointer (MADCTL maps the MCU's
    /// column/row to frame memory) and advances it within the window.
    pub fn pixel(&mut self, v: u16) {
        let (x, y) = self.at;
        let (mv, mx, my) = (
            self.madctl & 0x20 != 0,
            self.madctl & 0x40 != 0,
            self.madctl & 0x80 != 0,
        );
        let (mut c, mut r) = if mv { (y, x) } else { (x, y) };
        if c >= RAM_W || r >= RAM_H {
            self.errors
                .push(format!("pixel outside memory at ({x}, {y})"));
        } else {
            if mx {
                c = RAM_W - 1 - c;
            }
            if my {
                r = RAM_H - 1 - r;
            }
            self.ram[(r * RAM_W + c) as usize] = v;
        }
        self.pixels_written += 1;
        self.at.0 += 1;
        if self.at.0 > self.caset.1 {
            self.at.0 = self.caset.0;
            self.at.1 += 1;
            if self.at.1 > self.raset.1 {
                self.at.1 = self.raset.0;
            }
        }
    }

    pub fn glass(&self) -> Picture {
        let (x0, y0, w, h) = self.glass;
        let swap = (self.madctl & 0x08 != 0) != self.bgr_glass;
        let negate = self.inverted != self.ips;
        Picture::new(w, h, |x, y| {
            if self.sleeping || !self.on {
                return [0; 3];
            }
            let mut v = self.ram[((y0 + y) * RAM_W + x0 + x) as usize];
            if negate {
                v = !v;
            }
            if swap {
                v = (v & 0x07E0) | (v >> 11) | ((v & 31) << 11);
            }
            rgb565(v)
        })
    }

    pub fn check(&self) {
        assert!(self.errors.is_empty(), "TFT saw: {:?}", self.errors);
    }
}

#[derive(Debug)]
pub struct SpiFault;

impl std::fmt::Display for SpiFault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("emulated SPI fault")
    }
}

impl embedded_hal::spi::Error for SpiFault {
    fn kind(&self) -> embedded_hal::spi::ErrorKind {
        embedded_hal::spi::ErrorKind::Other
    }
}

pub struct TftSpi(Arc<Mutex<Tft>>);
pub struct TftDc(Arc<Mutex<Tft>>);
pub struct TftReset(Arc<Mutex<Tft>>);

impl embedded_hal::spi::ErrorType for TftSpi {
    type Error = SpiFault;
}

impl SpiDevice for TftSpi {
    fn transaction(&mut self, ops: &mut [SpiOp<'_, u8>]) -> Result<(), SpiFault> {
        let mut t = self.0.lock().unwrap();
        if t.failing {
            return Err(SpiFault);
        }
        for op in ops {
            match op {
                SpiOp::Write(buf) => {
                    if buf.len() > edgepose::display::st7789::SPI_CHUNK {
                        t.errors
                            .push(format!("{}-byte write exceeds spidev bufsiz", buf.len()));
                    }
                    if t.dc_high {
                        t.data(buf);
                    } else {
                        for &c in buf.iter() {
                            t.command(c);
                        }
                    }
                }
                _ => t.errors.push("non-write SPI operation".into()),
            }
        }
        Ok(())
    }
}

impl embedded_hal::digital::ErrorType for TftDc {
    type Error = std::convert::Infallible;
}

impl embedded_hal::digital::OutputPin for TftDc {
    fn set_low(&mut self) -> Result<(), Self::Error> {
        self.0.lock().unwrap().dc_high = false;
        Ok(())
    }
    fn set_high(&mut self) -> Result<(), Self::Error> {
        self.0.lock().unwrap().dc_high = true;
        Ok(())
    }
}

impl embedded_hal::digital::ErrorType for TftReset {
    type Error = std::convert::Infallible;
}

impl embedded_hal::digital::OutputPin for TftReset {
    fn set_low(&mut self) -> Result<(), Self::Error> {
        self.0.lock().unwrap().reset_low = true;
        Ok(())
    }
    fn set_high(&mut self) -> Result<(), Self::Error> {
        let mut t = self.0.lock().unwrap();
        if t.reset_low {
            t.reset_low = false;
            t.reset();
        }
        Ok(())
    }
}

/// Delays only counted, not slept.
pub struct NoDelay;

impl embedded_hal::delay::DelayNs for NoDelay {
    fn delay_ns(&mut self, _ns: u32) {}
}

pub type EmuTft<M> = TftPanel<M, TftSpi, TftDc, TftReset, NoDelay>;

pub fn tft_panel<M: mipidsi::models::Model<ColorFormat = Rgb565>>(
    model: fn() -> M,
    tft: &Arc<Mutex<Tft>>,
    config: TftConfig,
    with_reset: bool,
) -> EmuTft<M> {
    let t = Arc::clone(tft);
    TftPanel::new(
        "st7789:emulated",
        model,
        Box::new(move || {
            Ok(TftBus {
                spi: TftSpi(Arc::clone(&t)),
                dc: TftDc(Arc::clone(&t)),
                reset: with_reset.then(|| TftReset(Arc::clone(&t))),
            })
        }),
        config,
        NoDelay,
    )
}

pub fn st7789() -> mipidsi::models::ST7789 {
    mipidsi::models::ST7789
}

pub fn ili9341() -> mipidsi::models::ILI9341Rgb565 {
    mipidsi::models::ILI9341Rgb565
}

pub fn config(width: u16, height: u16, offset: (u16, u16), rotation: u16) -> TftConfig {
    TftConfig {
        width,
        height,
        offset_x: offset.0,
        offset_y: offset.1,
        rotation,
        bgr: false,
        invert: true,
    }
}

/// Draws `scene` on a fresh emulated TFT and returns the glass.
pub fn tft_show(
    tft: &Arc<Mutex<Tft>>,
    config: TftConfig,
    scene: &Scene,
    sk: &Skeleton,
    opts: RenderOptions,
) -> Picture {
    let mut p = Painter::new(tft_panel(st7789, tft, config, true), opts);
    p.panel.connect().unwrap();
    p.draw(scene, sk).unwrap();
    let t = tft.lock().unwrap();
    t.check();
    t.glass()
}
