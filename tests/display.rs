//! Display sinks against bus-level panel emulators.
//!
//! The real drivers (`ssd1306`, `mipidsi`) talk to emulated controllers
//! written here from the datasheets: an SSD1306 on an `embedded-hal` I2C
//! bus (control bytes, command set, addressing modes, segment remap / COM
//! scan direction, GDDRAM) and an ST7789/ILI9341 on an `embedded-hal` SPI
//! device with DC and reset lines (CASET, RASET, RAMWR, MADCTL row/column
//! exchange and mirroring, colour order, COLMOD, inversion, sleep and
//! display on/off, reset). What the emulated glass shows is compared with
//! golden PNGs in `tests/fixtures/display/` rendered from real
//! `edgepose infer` poses (`poses.json`).
//!
//! Goldens change only with `EDGEPOSE_BLESS=1`; a mismatch fails and writes
//! the actual and expected images under `target/tmp/display-golden/`.

#![cfg(feature = "display")]

mod common;

use common::poses::{fixture, person, FixPerson, NAMES};

use std::path::Path;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use edgepose::display::framebuffer::{FbCanvas, FbGeometry, FbPanel, PixelLayout};
use edgepose::display::panel::{Painter, Panel};
use edgepose::display::screen::DisplaySink;
use edgepose::display::ssd1306::{rotation, Ssd1306Panel};
use edgepose::display::st7789::{TftBus, TftConfig, TftPanel};
use edgepose::display::{render, Canvas, RenderOptions, Scene, Skeleton};
use edgepose::frame::{Frame, FrameResult, RecordMeta};
use edgepose::sink::Sink;
use embedded_graphics::pixelcolor::{BinaryColor, Rgb565, Rgb888, RgbColor};
use embedded_graphics::prelude::*;
use embedded_hal::i2c::{ErrorKind, I2c, NoAcknowledgeSource, Operation};
use embedded_hal::spi::{Operation as SpiOp, SpiDevice};
use image::RgbImage;

fn emit(sink: &mut dyn Sink, r: &FrameResult, meta: &RecordMeta) {
    let frame = Frame {
        seq: r.seq,
        timestamp: Duration::from_secs_f64(r.timestamp_ms / 1e3),
        ..Frame::rgb(&[], r.width, r.height, "fixture")
    };
    sink.emit(&frame, r, meta).unwrap();
}

// ----------------------------------------------------------------- images

/// An RGB picture.
#[derive(Clone, PartialEq)]
struct Picture {
    w: u32,
    h: u32,
    px: Vec<[u8; 3]>,
}

impl std::fmt::Debug for Picture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let lit = self.px.iter().filter(|p| **p != [0, 0, 0]).count();
        write!(f, "Picture {}x{} ({lit} lit)", self.w, self.h)
    }
}

impl Picture {
    fn new(w: u32, h: u32, f: impl Fn(u32, u32) -> [u8; 3]) -> Self {
        let mut px = Vec::with_capacity((w * h) as usize);
        for y in 0..h {
            for x in 0..w {
                px.push(f(x, y));
            }
        }
        Self { w, h, px }
    }
    fn at(&self, x: u32, y: u32) -> [u8; 3] {
        self.px[(y * self.w + x) as usize]
    }
    /// Turned 90° clockwise.
    fn cw(&self) -> Self {
        Self::new(self.h, self.w, |x, y| self.at(y, self.h - 1 - x))
    }
    fn ccw(&self) -> Self {
        Self::new(self.h, self.w, |x, y| self.at(self.w - 1 - y, x))
    }
    fn half_turn(&self) -> Self {
        Self::new(self.w, self.h, |x, y| {
            self.at(self.w - 1 - x, self.h - 1 - y)
        })
    }
    fn map(&self, f: impl Fn([u8; 3]) -> [u8; 3]) -> Self {
        Self {
            w: self.w,
            h: self.h,
            px: self.px.iter().map(|&p| f(p)).collect(),
        }
    }
    fn lit(&self) -> usize {
        self.px.iter().filter(|p| **p != [0, 0, 0]).count()
    }
    fn to_image(&self) -> RgbImage {
        RgbImage::from_raw(self.w, self.h, self.px.concat()).unwrap()
    }
}

/// A 16-bit pixel as the glass shows it (channels widened by bit
/// replication, as a panel's DACs do).
fn rgb565(v: u16) -> [u8; 3] {
    let (r, g, b) = ((v >> 11) & 31, (v >> 5) & 63, v & 31);
    [
        ((r << 3) | (r >> 2)) as u8,
        ((g << 2) | (g >> 4)) as u8,
        ((b << 3) | (b >> 2)) as u8,
    ]
}

fn raw565(c: Rgb565) -> u16 {
    (u16::from(c.r()) << 11) | (u16::from(c.g()) << 5) | u16::from(c.b())
}

/// The renderer's output on a plain RAM canvas: what a panel should show.
fn reference_mono(scene: &Scene, sk: &Skeleton, w: u32, h: u32, opts: RenderOptions) -> Picture {
    let mut c = Canvas::<BinaryColor>::new(w, h);
    render(&mut c, scene, sk, &opts).unwrap();
    Picture::new(w, h, |x, y| {
        if c.pixels()[(y * w + x) as usize].is_on() {
            [255; 3]
        } else {
            [0; 3]
        }
    })
}

fn reference_565(scene: &Scene, sk: &Skeleton, w: u32, h: u32, opts: RenderOptions) -> Picture {
    let mut c = Canvas::<Rgb565>::new(w, h);
    render(&mut c, scene, sk, &opts).unwrap();
    Picture::new(w, h, |x, y| {
        rgb565(raw565(c.pixels()[(y * w + x) as usize]))
    })
}

/// Compares `actual` with the golden `tests/fixtures/display/<name>.png`.
fn check_golden(name: &str, actual: &Picture) {
    common::poses::check_golden("display", name, &actual.to_image());
}

// ------------------------------------------------------ SSD1306 emulator

/// An SSD1306 128×64 as its datasheet describes it, seen through the glass
/// of a common module (mounted so that segment remap + reversed COM scan,
/// the driver's `Rotate0`, is upright).
struct Oled {
    address: u8,
    /// GDDRAM: 8 pages × 128 columns, bit n of a byte = row page*8+n.
    ram: [[u8; 128]; 8],
    mode: u8,
    col: (u8, u8),
    page: (u8, u8),
    /// Write pointer.
    at: (u8, u8),
    seg_remap: bool,
    com_reverse: bool,
    on: bool,
    charge_pump: bool,
    invert: bool,
    all_on: bool,
    mux: u8,
    offset: u8,
    start_line: u8,
    com_pins: u8,
    errors: Vec<String>,
    /// No power: every transfer is not acknowledged.
    unplugged: bool,
    writes: usize,
}

impl Oled {
    fn new(address: u8) -> Self {
        let mut o = Self {
            address,
            ram: [[0; 128]; 8],
            mode: 2,
            col: (0, 127),
            page: (0, 7),
            at: (0, 0),
            seg_remap: false,
            com_reverse: false,
            on: false,
            charge_pump: false,
            invert: false,
            all_on: false,
            mux: 63,
            offset: 0,
            start_line: 0,
            com_pins: 0x12,
            errors: vec![],
            unplugged: false,
            writes: 0,
        };
        o.power_on();
        o
    }

    /// Power-on state: registers reset, RAM holds noise.
    fn power_on(&mut self) {
        for (p, page) in self.ram.iter_mut().enumerate() {
            for (c, b) in page.iter_mut().enumerate() {
                *b = (c as u8).wrapping_mul(37) ^ (p as u8).wrapping_mul(91);
            }
        }
        self.mode = 2;
        self.col = (0, 127);
        self.page = (0, 7);
        self.at = (0, 0);
        self.seg_remap = false;
        self.com_reverse = false;
        self.on = false;
        self.charge_pump = false;
        self.invert = false;
        self.all_on = false;
    }

    fn command(&mut self, bytes: &[u8]) {
        let mut i = 0;
        while i < bytes.len() {
            let c = bytes[i];
            let n = match c {
                0x81 | 0x20 | 0xA8 | 0xD3 | 0xDA | 0xD5 | 0xD9 | 0xDB | 0x8D | 0xAD => 1,
                0x21 | 0x22 | 0xA3 => 2,
                0x26 | 0x27 => 6,
                0x29 | 0x2A => 5,
                _ => 0,
            };
            let Some(args) = bytes.get(i + 1..i + 1 + n) else {
                self.errors
                    .push(format!("command {c:#04x} lacks arguments"));
                return;
            };
            match c {
                0x81 | 0xD5 | 0xD9 | 0xDB | 0xAD | 0xA3 | 0x26 | 0x27 | 0x29 | 0x2A | 0x2E
                | 0xE3 => {}
                0x2F => self.errors.push("scrolling enabled".into()),
                0x00..=0x0F => self.at.0 = (self.at.0 & 0xF0) | c,
                0x10..=0x1F => self.at.0 = (self.at.0 & 0x0F) | ((c & 0x0F) << 4),
                0xB0..=0xB7 => self.at.1 = c & 7,
                0x40..=0x7F => self.start_line = c & 0x3F,
                0x20 => {
                    self.mode = args[0] & 3;
                    if self.mode == 3 {
                        self.errors.push("invalid addressing mode 3".into());
                    }
                }
                0x21 => {
                    self.col = (args[0] & 127, args[1] & 127);
                    self.at.0 = self.col.0;
                }
                0x22 => {
                    self.page = (args[0] & 7, args[1] & 7);
                    self.at.1 = self.page.0;
                }
                0xA0 | 0xA1 => self.seg_remap = c == 0xA1,
                0xC0 | 0xC8 => self.com_reverse = c == 0xC8,
                0xA4 | 0xA5 => self.all_on = c == 0xA5,
                0xA6 | 0xA7 => self.invert = c == 0xA7,
                0xAE | 0xAF => self.on = c == 0xAF,
                0xA8 => self.mux = args[0] & 63,
                0xD3 => self.offset = args[0] & 63,
                0xDA => self.com_pins = args[0],
                0x8D => self.charge_pump = args[0] & 0x04 != 0,
                _ => self.errors.push(format!("unknown command {c:#04x}")),
            }
            i += 1 + n;
        }
    }

    fn data(&mut self, bytes: &[u8]) {
        for &b in bytes {
            let (c, p) = self.at;
            self.ram[p as usize][c as usize] = b;
            match self.mode {
                0 => {
                    if c >= self.col.1 {
                        self.at.0 = self.col.0;
                        self.at.1 = if p >= self.page.1 { self.page.0 } else { p + 1 };
                    } else {
                        self.at.0 = c + 1;
                    }
                }
                1 => {
                    if p >= self.page.1 {
                        self.at.1 = self.page.0;
                        self.at.0 = if c >= self.col.1 { self.col.0 } else { c + 1 };
                    } else {
                        self.at.1 = p + 1;
                    }
                }
                _ => self.at.0 = if c >= 127 { 0 } else { c + 1 },
            }
        }
    }

    /// What the glass shows.
    fn glass(&self) -> Picture {
        Picture::new(128, 64, |vx, vy| {
            let (s, p) = (127 - vx, 63 - vy);
            let col = if self.seg_remap { 127 - s } else { s };
            let com = if self.com_reverse { 63 - p } else { p };
            let row = (com + u32::from(self.offset) + u32::from(self.start_line)) % 64;
            let mut lit = self.ram[(row / 8) as usize][col as usize] >> (row % 8) & 1 == 1;
            if self.all_on {
                lit = true;
            }
            if self.invert {
                lit = !lit;
            }
            if !(self.on && self.charge_pump) || com > u32::from(self.mux) {
                lit = false;
            }
            if lit {
                [255; 3]
            } else {
                [0; 3]
            }
        })
    }

    fn check(&self) {
        assert!(self.errors.is_empty(), "SSD1306 saw: {:?}", self.errors);
        assert_eq!(
            self.com_pins, 0x12,
            "COM pins: alternative configuration for 64 rows"
        );
        assert_eq!(self.mux, 63);
    }
}

/// A gate the bus can be held at (to show the pipeline does not wait).
#[derive(Default)]
struct Gate {
    state: Mutex<(bool, usize)>,
    cv: Condvar,
}

impl Gate {
    fn close(&self) {
        self.state.lock().unwrap().0 = true;
    }
    fn open(&self) {
        self.state.lock().unwrap().0 = false;
        self.cv.notify_all();
    }
    fn pass(&self) {
        let mut g = self.state.lock().unwrap();
        if g.0 {
            g.1 += 1;
            self.cv.notify_all();
            while g.0 {
                g = self.cv.wait(g).unwrap();
            }
            g.1 -= 1;
        }
    }
    fn wait_for_waiter(&self) {
        let mut g = self.state.lock().unwrap();
        while g.1 == 0 {
            g = self.cv.wait_timeout(g, Duration::from_secs(10)).unwrap().0;
        }
    }
}

#[derive(Debug)]
struct Nack;

impl embedded_hal::i2c::Error for Nack {
    fn kind(&self) -> ErrorKind {
        ErrorKind::NoAcknowledge(NoAcknowledgeSource::Address)
    }
}

#[derive(Clone)]
struct OledBus {
    oled: Arc<Mutex<Oled>>,
    gate: Arc<Gate>,
}

impl embedded_hal::i2c::ErrorType for OledBus {
    type Error = Nack;
}

impl I2c for OledBus {
    fn transaction(&mut self, address: u8, ops: &mut [Operation<'_>]) -> Result<(), Nack> {
        self.gate.pass();
        let mut o = self.oled.lock().unwrap();
        if o.unplugged || address != o.address {
            return Err(Nack);
        }
        for op in ops {
            let Operation::Write(buf) = op else {
                o.errors.push("read from a write-only controller".into());
                continue;
            };
            o.writes += 1;
            match buf.split_first() {
                Some((0x00, cmds)) => o.command(cmds),
                Some((0x40, data)) => o.data(data),
                Some((c, _)) => o.errors.push(format!("control byte {c:#04x}")),
                None => o.errors.push("empty write".into()),
            }
        }
        Ok(())
    }
}

fn oled_panel(degrees: u32, address: u8) -> (Ssd1306Panel<OledBus>, Arc<Mutex<Oled>>, Arc<Gate>) {
    let oled = Arc::new(Mutex::new(Oled::new(0x3c)));
    let gate = Arc::new(Gate::default());
    let bus = OledBus {
        oled: Arc::clone(&oled),
        gate: Arc::clone(&gate),
    };
    let panel = Ssd1306Panel::new(
        "ssd1306:emulated",
        Box::new(move || Ok(bus.clone())),
        address,
        rotation(degrees).unwrap(),
    );
    (panel, oled, gate)
}

const STATUS: RenderOptions = RenderOptions { status: true };

// --------------------------------------------------- ST7789 emulator

/// An ST7789 / ILI9341 (240×320 frame memory) behind a glass that shows
/// the window `glass` of it. `bgr_glass`: the glass's colour filters are
/// B,G,R (needs MADCTL's BGR bit); `ips`: the glass needs inversion on.
struct Tft {
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
    resets: usize,
    pixels_written: usize,
    errors: Vec<String>,
    failing: bool,
}

const RAM_W: u32 = 240;
const RAM_H: u32 = 320;

impl Tft {
    fn new(glass: (u32, u32, u32, u32), bgr_glass: bool, ips: bool) -> Self {
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

    fn reset(&mut self) {
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

    fn arg_count(c: u8) -> Option<usize> {
        Some(match c {
            0x01 | 0x10 | 0x11 | 0x13 | 0x20 | 0x21 | 0x28 | 0x29 | 0x2C | 0x38 | 0x39 => 0,
            0x2A | 0x2B => 4,
            0x36 | 0x3A | 0xB4 | 0x35 => 1,
            0x37 => 2,
            0x33 => 6,
            _ => return None,
        })
    }

    fn command(&mut self, c: u8) {
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
    fn finish(&mut self) {
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

    fn execute(&mut self, c: u8) {
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

    fn data(&mut self, bytes: &[u8]) {
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
    fn pixel(&mut self, v: u16) {
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

    fn glass(&self) -> Picture {
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

    fn check(&self) {
        assert!(self.errors.is_empty(), "TFT saw: {:?}", self.errors);
    }
}

#[derive(Debug)]
struct SpiFault;

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

struct TftSpi(Arc<Mutex<Tft>>);
struct TftDc(Arc<Mutex<Tft>>);
struct TftReset(Arc<Mutex<Tft>>);

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
struct NoDelay;

impl embedded_hal::delay::DelayNs for NoDelay {
    fn delay_ns(&mut self, _ns: u32) {}
}

type EmuTft<M> = TftPanel<M, TftSpi, TftDc, TftReset, NoDelay>;

fn tft_panel<M: mipidsi::models::Model<ColorFormat = Rgb565>>(
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

fn st7789() -> mipidsi::models::ST7789 {
    mipidsi::models::ST7789
}

fn ili9341() -> mipidsi::models::ILI9341Rgb565 {
    mipidsi::models::ILI9341Rgb565
}

fn config(width: u16, height: u16, offset: (u16, u16), rotation: u16) -> TftConfig {
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
fn tft_show(
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

// ------------------------------------------------------------- SSD1306

#[test]
fn ssd1306_shows_the_golden_poses() {
    let fx = fixture();
    let sk = fx.skeleton();
    for name in NAMES {
        let scene = fx.frame(name).scene();
        let (panel, oled, _) = oled_panel(0, 0x3c);
        let mut p = Painter::new(panel, STATUS);
        p.panel.connect().unwrap();
        p.draw(&scene, &sk).unwrap();
        let o = oled.lock().unwrap();
        o.check();
        let glass = o.glass();
        // The driver carried the rendered picture to the glass unchanged...
        assert_eq!(
            glass,
            reference_mono(&scene, &sk, 128, 64, STATUS),
            "{name}"
        );
        assert!(glass.lit() > 200, "{name}: {glass:?}");
        // ...and the picture is the blessed one.
        check_golden(&format!("ssd1306-{name}"), &glass);
    }
}

#[test]
fn ssd1306_rotations_turn_the_picture() {
    let fx = fixture();
    let sk = fx.skeleton();
    let scene = fx.frame("bus").scene();
    let show = |deg: u32| {
        let (panel, oled, _) = oled_panel(deg, 0x3c);
        let mut p = Painter::new(panel, STATUS);
        p.panel.connect().unwrap();
        p.draw(&scene, &sk).unwrap();
        let o = oled.lock().unwrap();
        o.check();
        o.glass()
    };
    let upright = show(0);
    assert_eq!(show(180), upright.half_turn());
    // 90/270: the picture is drawn 64 wide and 128 tall, then turned.
    let tall = reference_mono(&scene, &sk, 64, 128, STATUS);
    assert_ne!(tall.lit(), 0);
    assert_eq!(show(90), tall.cw());
    assert_eq!(show(270), tall.ccw());
}

#[test]
fn ssd1306_wrong_address_is_named() {
    let (mut panel, _, _) = oled_panel(0, 0x3d);
    let e = panel.connect().unwrap_err().to_string();
    assert!(e.contains("no acknowledge at address 0x3d"), "{e}");
    assert!(e.contains("0x3c or 0x3d"), "{e}");
    assert!(!panel.connected());
}

/// Polls until `f` holds (at most 10 s).
fn eventually(what: &str, mut f: impl FnMut() -> bool) {
    let t = Instant::now();
    while !f() {
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn ssd1306_unplugged_is_counted_and_recovers() {
    let fx = fixture();
    let meta = fx.meta();
    let (mut panel, oled, _) = oled_panel(0, 0x3c);
    panel.connect().unwrap();
    let mut sink = DisplaySink::start(Painter::new(panel, STATUS), 0.0).unwrap();
    emit(&mut sink, &fx.frame("bus").result(0), &meta);
    sink.flush().unwrap();
    assert_eq!(sink.stats().drawn, 1);

    // Unplugged: the display loses power; frames fail and are counted.
    {
        let mut o = oled.lock().unwrap();
        o.unplugged = true;
        o.power_on();
    }
    emit(&mut sink, &fx.frame("crowd").result(1), &meta);
    sink.flush().unwrap();
    let s = sink.stats();
    assert_eq!((s.drawn, s.errors), (1, 1), "{s:?}");

    // Plugged back: a later frame re-initialises it and is drawn.
    oled.lock().unwrap().unplugged = false;
    let mut seq = 2;
    let zidane = fx.frame("zidane");
    eventually("the display to come back", || {
        emit(&mut sink, &zidane.result(seq), &meta);
        seq += 1;
        sink.flush().unwrap();
        sink.stats().drawn == 2
    });
    let s = sink.stats();
    assert_eq!(s.reconnects, 1, "{s:?}");
    assert_eq!(
        s.drawn + s.skipped,
        seq,
        "every frame drawn or skipped: {s:?}"
    );
    let o = oled.lock().unwrap();
    o.check();
    // The sink's own status line (its fps from the timestamps) differs
    // from the fixture's, so compare without it being the golden's: the
    // picture below the status line must match a fresh render.
    let mut scene = zidane.scene();
    scene.fps = Some(10.0);
    let glass = o.glass();
    let reference = reference_mono(&scene, &fx.skeleton(), 128, 64, STATUS);
    assert_eq!(glass, reference);
    let summary = sink.summary().unwrap();
    assert!(
        summary.contains(&format!(
            "2 frames drawn, {} skipped, 1 bus errors, 1 reconnects",
            s.skipped
        )),
        "{summary}"
    );
    assert!(
        summary.contains(
            "(last: ssd1306:emulated: sending the frame failed: no acknowledge at address 0x3c"
        ),
        "{summary}"
    );
}

#[test]
fn emit_never_waits_for_the_bus() {
    let fx = fixture();
    let meta = fx.meta();
    let (mut panel, oled, gate) = oled_panel(0, 0x3c);
    panel.connect().unwrap();
    gate.close();
    let sink = DisplaySink::start(Painter::new(panel, STATUS), 0.0).unwrap();
    // The mailbox is its one queue: `run` puts none in front of it.
    assert!(sink.own_queue());
    let sink = Arc::new(Mutex::new(sink));
    // Frame 0 goes to the bus, which hangs; frames 1..=9 must still be
    // accepted at once (emits run on a thread so a hang fails, not blocks).
    let (tx, rx) = std::sync::mpsc::channel();
    let s = Arc::clone(&sink);
    let frames: Vec<FrameResult> = (0..10)
        .map(|i| fx.frame(NAMES[i % 3]).result(i as u64))
        .collect();
    let first = frames[0].clone();
    let rest = frames[1..].to_vec();
    let meta2 = meta.clone();
    let g = Arc::clone(&gate);
    std::thread::spawn(move || {
        emit(&mut *s.lock().unwrap(), &first, &meta2);
        g.wait_for_waiter();
        for f in &rest {
            emit(&mut *s.lock().unwrap(), f, &meta2);
        }
        tx.send(()).unwrap();
    });
    rx.recv_timeout(Duration::from_secs(10))
        .expect("emit blocked while the bus hung");
    {
        let s = sink.lock().unwrap().stats();
        assert_eq!((s.drawn, s.skipped), (0, 8), "{s:?}");
    }
    gate.open();
    let mut sink = sink.lock().unwrap();
    sink.flush().unwrap();
    let s = sink.stats();
    assert_eq!((s.drawn, s.skipped, s.errors), (2, 8, 0), "{s:?}");
    // The newest frame is on the glass.
    let o = oled.lock().unwrap();
    let last = frames[9].clone();
    assert_eq!(last.width, fx.frame("bus").width);
    let mut scene = fx.frame("bus").scene();
    scene.fps = Some(10.0);
    assert_eq!(
        o.glass(),
        reference_mono(&scene, &fx.skeleton(), 128, 64, STATUS)
    );
}

#[test]
fn refresh_rate_is_capped() {
    let fx = fixture();
    let meta = fx.meta();
    let (mut panel, oled, _) = oled_panel(0, 0x3c);
    panel.connect().unwrap();
    let mut sink = DisplaySink::start(Painter::new(panel, STATUS), 5.0).unwrap();
    // 20 frames, 10 ms apart: an uncapped display would draw about all
    // of them.
    let t = Instant::now();
    for i in 0..20u64 {
        emit(&mut sink, &fx.frame(NAMES[i as usize % 3]).result(i), &meta);
        std::thread::sleep(Duration::from_millis(10));
    }
    sink.flush().unwrap();
    let elapsed = t.elapsed().as_secs_f64();
    let s = sink.stats();
    assert_eq!(s.drawn + s.skipped, 20, "{s:?}");
    // At 5 fps: at most one frame per 200 ms (the first at once), plus
    // the newest one that flush pushes out.
    assert!(
        s.drawn as f64 <= 2.0 + (elapsed * 5.0).floor(),
        "{s:?} in {elapsed} s"
    );
    assert!(s.drawn >= 1, "{s:?}");
    // The newest frame (19 % 3 → zidane) is on the glass.
    let mut scene = fx.frame(NAMES[19 % 3]).scene();
    scene.fps = Some(10.0);
    assert_eq!(
        oled.lock().unwrap().glass(),
        reference_mono(&scene, &fx.skeleton(), 128, 64, STATUS)
    );
}

// --------------------------------------------------------------- ST7789

fn tft240() -> Arc<Mutex<Tft>> {
    Arc::new(Mutex::new(Tft::new((0, 0, 240, 240), false, true)))
}

#[test]
fn st7789_shows_the_golden_poses() {
    let fx = fixture();
    let sk = fx.skeleton();
    for name in NAMES {
        let scene = fx.frame(name).scene();
        let tft = tft240();
        let glass = tft_show(&tft, config(240, 240, (0, 0), 0), &scene, &sk, STATUS);
        assert_eq!(
            glass,
            reference_565(&scene, &sk, 240, 240, STATUS),
            "{name}"
        );
        assert!(glass.lit() > 1000, "{name}: {glass:?}");
        check_golden(&format!("st7789-240x240-{name}"), &glass);
    }
}

#[test]
fn st7789_rotations_turn_the_picture() {
    let fx = fixture();
    let sk = fx.skeleton();
    let scene = fx.frame("zidane").scene();
    let show = |deg| {
        tft_show(
            &tft240(),
            config(240, 240, (0, 0), deg),
            &scene,
            &sk,
            STATUS,
        )
    };
    let upright = show(0);
    // A square panel draws the same picture in every rotation; the
    // controller turns it (MADCTL MV/MX/MY, and the driver moves the
    // window into the glass's part of the 240×320 memory for 180/270).
    assert_eq!(show(90), upright.cw());
    assert_eq!(show(180), upright.half_turn());
    assert_eq!(show(270), upright.ccw());
}

#[test]
fn st7789_offsets_place_a_small_glass() {
    // A 1.14" 135×240 module: its glass starts at column 52, row 40.
    let fx = fixture();
    let sk = fx.skeleton();
    let scene = fx.frame("crowd").scene();
    let glass_window = (52, 40, 135, 240);
    for deg in [0, 90, 180, 270] {
        let tft = Arc::new(Mutex::new(Tft::new(glass_window, false, true)));
        let glass = tft_show(&tft, config(135, 240, (52, 40), deg), &scene, &sk, STATUS);
        let expected = match deg {
            0 => reference_565(&scene, &sk, 135, 240, STATUS),
            90 => reference_565(&scene, &sk, 240, 135, STATUS).cw(),
            180 => reference_565(&scene, &sk, 135, 240, STATUS).half_turn(),
            _ => reference_565(&scene, &sk, 240, 135, STATUS).ccw(),
        };
        assert_eq!(glass, expected, "rotation {deg}");
        if deg == 90 {
            check_golden("st7789-135x240-r90-crowd", &glass);
        }
    }
    // Without the offsets the picture misses the glass.
    let tft = Arc::new(Mutex::new(Tft::new(glass_window, false, true)));
    let glass = tft_show(&tft, config(135, 240, (0, 0), 0), &scene, &sk, STATUS);
    assert_ne!(glass, reference_565(&scene, &sk, 135, 240, STATUS));
}

#[test]
fn st7789_colour_order_and_inversion() {
    let fx = fixture();
    let sk = fx.skeleton();
    let scene = fx.frame("zidane").scene();
    let golden = tft_show(&tft240(), config(240, 240, (0, 0), 0), &scene, &sk, STATUS);
    assert!(golden.px.iter().any(|p| p[0] != p[2]), "has colour");

    // A BGR glass: right with color_order=bgr, red and blue swapped without.
    let bgr_glass = || Arc::new(Mutex::new(Tft::new((0, 0, 240, 240), true, true)));
    let bgr = TftConfig {
        bgr: true,
        ..config(240, 240, (0, 0), 0)
    };
    assert_eq!(tft_show(&bgr_glass(), bgr, &scene, &sk, STATUS), golden);
    assert_eq!(
        tft_show(
            &bgr_glass(),
            config(240, 240, (0, 0), 0),
            &scene,
            &sk,
            STATUS
        ),
        golden.map(|[r, g, b]| [b, g, r])
    );
    // An IPS glass with inversion off shows the negative.
    let plain = TftConfig {
        invert: false,
        ..config(240, 240, (0, 0), 0)
    };
    assert_eq!(
        tft_show(&tft240(), plain, &scene, &sk, STATUS),
        golden.map(|p| p.map(|c| 255 - c))
    );
}

#[test]
fn st7789_sends_only_changed_rows_and_keeps_up() {
    let fx = fixture();
    let sk = fx.skeleton();
    let tft = tft240();
    let mut p = Painter::new(
        tft_panel(st7789, &tft, config(240, 240, (0, 0), 0), true),
        STATUS,
    );
    p.panel.connect().unwrap();
    let mut empty = fx.frame("crowd").scene();
    empty.persons.clear();
    let sequence = [
        fx.frame("crowd").scene(),
        fx.frame("zidane").scene(),
        fx.frame("zidane").scene(),
        empty,
        fx.frame("bus").scene(),
    ];
    for (i, scene) in sequence.iter().enumerate() {
        tft.lock().unwrap().pixels_written = 0;
        p.draw(scene, &sk).unwrap();
        let t = tft.lock().unwrap();
        t.check();
        assert_eq!(
            t.glass(),
            reference_565(scene, &sk, 240, 240, STATUS),
            "frame {i}"
        );
        if i == 0 {
            // The first frame after connecting covers the memory's noise.
            assert_eq!(t.pixels_written, 240 * 240);
        }
        if i == 2 {
            // Zidane again: only the status line and the letterboxed
            // camera area's rows (16:9 in 240×229) go out.
            assert!(t.pixels_written < 240 * 160, "{}", t.pixels_written);
            assert_eq!(t.pixels_written % 240, 0, "whole rows");
        }
    }
}

#[test]
fn st7789_bus_fault_reconnects_with_a_full_frame() {
    let fx = fixture();
    let sk = fx.skeleton();
    let tft = tft240();
    let mut p = Painter::new(
        tft_panel(st7789, &tft, config(240, 240, (0, 0), 0), true),
        STATUS,
    );
    p.panel.connect().unwrap();
    p.draw(&fx.frame("crowd").scene(), &sk).unwrap();
    tft.lock().unwrap().failing = true;
    let e = p
        .draw(&fx.frame("bus").scene(), &sk)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("sending the frame failed: SPI write: emulated SPI fault"),
        "{e}"
    );
    assert!(!p.panel.connected());
    // The controller was power-cycled meanwhile: noise in memory.
    {
        let mut t = tft.lock().unwrap();
        t.failing = false;
        t.reset();
    }
    p.panel.connect().unwrap();
    let scene = fx.frame("zidane").scene();
    p.draw(&scene, &sk).unwrap();
    let t = tft.lock().unwrap();
    t.check();
    assert_eq!(t.glass(), reference_565(&scene, &sk, 240, 240, STATUS));
}

#[test]
fn st7789_without_reset_line_uses_software_reset() {
    let fx = fixture();
    let sk = fx.skeleton();
    let tft = tft240();
    let scene = fx.frame("bus").scene();
    let mut p = Painter::new(
        tft_panel(st7789, &tft, config(240, 240, (0, 0), 0), false),
        STATUS,
    );
    let before = tft.lock().unwrap().resets;
    p.panel.connect().unwrap();
    p.draw(&scene, &sk).unwrap();
    let t = tft.lock().unwrap();
    t.check();
    assert_eq!(t.resets, before + 1, "one SWRESET");
    assert_eq!(t.glass(), reference_565(&scene, &sk, 240, 240, STATUS));
}

#[test]
fn ili9341_landscape() {
    // A 240×320 ILI9341 with a BGR glass, turned to 320×240.
    let fx = fixture();
    let sk = fx.skeleton();
    let scene = fx.frame("zidane").scene();
    let tft = Arc::new(Mutex::new(Tft::new((0, 0, 240, 320), true, false)));
    let cfg = TftConfig {
        bgr: true,
        invert: false,
        ..config(240, 320, (0, 0), 90)
    };
    let mut p = Painter::new(tft_panel(ili9341, &tft, cfg, true), STATUS);
    p.panel.connect().unwrap();
    p.draw(&scene, &sk).unwrap();
    let t = tft.lock().unwrap();
    t.check();
    assert_eq!(t.glass(), reference_565(&scene, &sk, 320, 240, STATUS).cw());
}

// ---------------------------------------------------------- framebuffer

#[test]
fn framebuffer_pixel_packing() {
    let c = Rgb888::new(0x12, 0x34, 0x56);
    let cases: [(PixelLayout, &[u8]); 4] = [
        (PixelLayout::XRGB8888, &[0x56, 0x34, 0x12, 0x00]),
        (PixelLayout::XBGR8888, &[0x12, 0x34, 0x56, 0x00]),
        // r=0x12>>3=2, g=0x34>>2=13, b=0x56>>3=10.
        (
            PixelLayout::RGB565,
            &((2u16 << 11) | (13 << 5) | 10).to_le_bytes(),
        ),
        (
            PixelLayout::BGR565,
            &((10u16 << 11) | (13 << 5) | 2).to_le_bytes(),
        ),
    ];
    for (layout, bytes) in cases {
        let b = layout.bytes;
        // 3×2 pixels in rows padded to 4 pixels (+ 1 byte), as drivers do.
        let stride = 4 * b + 1;
        let mut fb = FbCanvas::new(3, 2, stride, layout);
        assert_eq!(fb.stride(), stride);
        Pixel(Point::new(2, 1), c).draw(&mut fb).unwrap();
        Pixel(Point::new(0, 0), Rgb888::WHITE)
            .draw(&mut fb)
            .unwrap();
        Pixel(Point::new(3, 0), Rgb888::WHITE)
            .draw(&mut fb)
            .unwrap(); // off-screen
        let raw = fb.bytes();
        assert_eq!(raw.len(), 2 * stride);
        let at = stride + 2 * b;
        assert_eq!(&raw[at..at + b], bytes, "{layout:?}");
        let white = layout.pack(Rgb888::WHITE).to_le_bytes();
        assert_eq!(&raw[..b], &white[..b], "{layout:?}");
        // Nothing else touched, padding included.
        let touched = raw
            .iter()
            .enumerate()
            .filter(|(_, &v)| v != 0)
            .map(|(i, _)| i);
        for i in touched {
            assert!(
                i < b || (at..at + b).contains(&i),
                "{layout:?}: byte {i} written"
            );
        }
        // Reading back.
        let expect = if b == 4 {
            c
        } else {
            layout.unpack(layout.pack(c))
        };
        assert_eq!(fb.pixel(2, 1), expect, "{layout:?}");
        // A filled rectangle packs the same words.
        fb.fill_solid(
            &embedded_graphics::primitives::Rectangle::new(Point::new(0, 1), Size::new(3, 1)),
            c,
        )
        .unwrap();
        for x in 0..3 {
            let i = stride + x * b;
            assert_eq!(&fb.bytes()[i..i + b], bytes, "{layout:?} fill x={x}");
        }
    }
}

fn fb_geometry(w: u32, h: u32, layout: PixelLayout) -> FbGeometry {
    FbGeometry {
        width: w,
        height: h,
        layout,
        line_length: w as usize * layout.bytes,
        origin: 0,
    }
}

fn read_raw(path: &Path, w: u32, h: u32, layout: PixelLayout) -> Picture {
    let raw = std::fs::read(path).unwrap();
    assert_eq!(raw.len(), (w * h) as usize * layout.bytes);
    let b = layout.bytes;
    Picture::new(w, h, |x, y| {
        let i = ((y * w + x) as usize) * b;
        let mut word = [0u8; 4];
        word[..b].copy_from_slice(&raw[i..i + b]);
        let c = layout.unpack(u32::from_le_bytes(word));
        [c.r(), c.g(), c.b()]
    })
}

#[test]
fn framebuffer_shows_the_golden_poses() {
    let fx = fixture();
    let sk = fx.skeleton();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("fb.raw");
    let path_s = path.to_str().unwrap();
    let g = fb_geometry(1024, 768, PixelLayout::XRGB8888);
    let mut p = Painter::new(FbPanel::open("fb:test", path_s, Some(g)).unwrap(), STATUS);
    p.panel.connect().unwrap();
    for name in NAMES {
        let scene = fx.frame(name).scene();
        p.draw(&scene, &sk).unwrap();
        // What reached the file is what was drawn.
        let file = read_raw(&path, 1024, 768, PixelLayout::XRGB8888);
        let canvas = p.panel.canvas().to_rgb();
        assert_eq!(file.px.concat(), canvas, "{name}");
        check_golden(&format!("fb-1024x768-{name}"), &file);
    }
}

#[test]
fn framebuffer_16bpp_file_matches_the_32bpp_picture() {
    let fx = fixture();
    let sk = fx.skeleton();
    let scene = fx.frame("crowd").scene();
    let dir = tempfile::tempdir().unwrap();
    let mut pictures = vec![];
    for layout in [
        PixelLayout::XRGB8888,
        PixelLayout::RGB565,
        PixelLayout::BGR565,
    ] {
        let path = dir.path().join(format!("fb{}.raw", layout.bytes));
        let g = fb_geometry(640, 480, layout);
        let mut p = Painter::new(
            FbPanel::open("fb:test", path.to_str().unwrap(), Some(g)).unwrap(),
            STATUS,
        );
        p.panel.connect().unwrap();
        p.draw(&scene, &sk).unwrap();
        pictures.push(read_raw(&path, 640, 480, layout));
    }
    // 16 bpp is the 32 bpp picture with each channel cut to 5/6/5 bits.
    let cut = |[r, g, b]: [u8; 3]| {
        let c = PixelLayout::RGB565.unpack(PixelLayout::RGB565.pack(Rgb888::new(r, g, b)));
        [c.r(), c.g(), c.b()]
    };
    assert_eq!(pictures[1], pictures[0].map(cut));
    assert_eq!(pictures[2], pictures[1]);
    assert!(pictures[0].lit() > 5000);
}

// -------------------------------------------------------- through specs

fn open_err(spec: &str) -> String {
    match edgepose::sink::open(spec) {
        Ok(_) => panic!("{spec} opened"),
        Err(e) => {
            let s = e.to_string();
            assert!(!s.contains('\n'), "one line: {s}");
            s
        }
    }
}

#[test]
fn bad_display_options_are_named() {
    let cases: &[(&str, &[&str])] = &[
        (
            "ssd1306:/dev/i2c-1?address=0x99",
            &["address=0x99", "7-bit I2C address"],
        ),
        (
            "ssd1306:/dev/i2c-1?rotation=45",
            &["rotation=45", "0, 90, 180 or 270"],
        ),
        (
            "ssd1306:/dev/i2c-1?max_fps=-1",
            &["max_fps=-1", "0 to 1000"],
        ),
        (
            "ssd1306:/dev/i2c-1?status=maybe",
            &["status=maybe", "on or off"],
        ),
        (
            "ssd1306:/dev/i2c-1?contrast=9",
            &["unknown option \"contrast\"", "address, rotation"],
        ),
        (
            "ssd1306:/nonexistent/i2c-7",
            &[
                "cannot open /nonexistent/i2c-7",
                "No such file",
                "dtparam=i2c_arm=on",
            ],
        ),
        ("st7789:/dev/spidev0.0", &["option dc is required"]),
        (
            "st7789:/dev/spidev0.0?dc=gpiochip0:x",
            &["dc=gpiochip0:x", "CHIP:LINE"],
        ),
        (
            "st7789:/dev/spidev0.0?dc=25&width=300",
            &["width=300", "1 to 240"],
        ),
        (
            "st7789:/dev/spidev0.0?dc=25&width=135&offset_x=120",
            &["offset_x=120", "at most 240"],
        ),
        (
            "st7789:/dev/spidev0.0?dc=25&color_order=grb",
            &["color_order=grb", "rgb or bgr"],
        ),
        ("st7789:/dev/spidev0.0?dc=25&spi_mode=4", &["spi_mode=4"]),
        (
            "st7789:/dev/spidev0.0?dc=25&rotation=100",
            &["rotation=100"],
        ),
        (
            "ili9341:/dev/spidev0.0?dc=25&height=321",
            &["height=321", "1 to 320"],
        ),
        (
            "st7789:/nonexistent/spidev9.9?dc=25",
            &["cannot open /nonexistent/spidev9.9", "dtparam=spi=on"],
        ),
        (
            "fb:/dev/null",
            &[
                "/dev/null is not a framebuffer device",
                "width, height and format",
            ],
        ),
        ("fb:/tmp/x.raw?width=640", &["option height is required"]),
        (
            "fb:/tmp/x.raw?width=640&height=480&format=rgb888",
            &["format=rgb888", "xrgb8888"],
        ),
        ("fb", &["no framebuffer"]),
    ];
    for (spec, needles) in cases {
        let e = open_err(spec);
        for n in *needles {
            assert!(e.contains(n), "{spec}: {e:?} lacks {n:?}");
        }
    }
}

#[test]
fn fb_sink_through_the_command_line() {
    // The whole path: edgepose run → fb sink on a plain file. The picture
    // must be the renderer's for the poses the run printed.
    let dir = tempfile::tempdir().unwrap();
    let raw = dir.path().join("screen.raw");
    let spec = format!(
        "fb:{}?width=640&height=480&format=xrgb8888&status=off",
        raw.display()
    );
    let out = common::run(
        common::edgepose(common::primary())
            .args(["run", "--no-track", "--sink", &spec, "--source"])
            .arg(common::sample("samples/zidane.jpg")),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("{spec}: 1 frames drawn, 0 skipped, 0 bus errors")),
        "{stderr}"
    );
    let lines = common::json_lines(&out);
    assert_eq!(lines.len(), 1);
    let r = &lines[0];
    let fx = fixture();
    let scene = Scene {
        width: r["width"].as_u64().unwrap() as u32,
        height: r["height"].as_u64().unwrap() as u32,
        num_keypoints: 17,
        persons: r["persons"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| {
                let f = |v: &serde_json::Value| v.as_f64().unwrap() as f32;
                let b = p["box"].as_array().unwrap();
                person(&FixPerson {
                    bbox: [f(&b[0]), f(&b[1]), f(&b[2]), f(&b[3])],
                    score: f(&p["score"]),
                    keypoints: p["keypoints"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|k| [f(&k["x"]), f(&k["y"]), f(&k["score"])])
                        .collect(),
                })
            })
            .collect(),
        ..Scene::default()
    };
    assert_eq!(scene.persons.len(), 2);
    let mut fb = FbCanvas::new(640, 480, 640 * 4, PixelLayout::XRGB8888);
    let opts = RenderOptions { status: false };
    render(&mut fb, &scene, &fx.skeleton(), &opts).unwrap();
    let expected = Picture::new(640, 480, |x, y| {
        let c = fb.pixel(x, y);
        [c.r(), c.g(), c.b()]
    });
    assert_eq!(read_raw(&raw, 640, 480, PixelLayout::XRGB8888), expected);
}
