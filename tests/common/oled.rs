//! An SSD1306 emulated at the bus level for the display tests
//! (tests/display.rs): the controller written from its datasheet (control
//! bytes, command set, addressing modes, segment remap / COM scan
//! direction, GDDRAM) on an `embedded-hal` I2C bus that can be unplugged
//! or held at a gate, and the real `ssd1306` driver's panel on it.

use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use edgepose::display::ssd1306::{rotation, Ssd1306Panel};
use embedded_hal::i2c::{ErrorKind, I2c, NoAcknowledgeSource, Operation};

use crate::picture::Picture;

/// An SSD1306 128×64 as its datasheet describes it, seen through the glass
/// of a common module (mounted so that segment remap + reversed COM scan,
/// the driver's `Rotate0`, is upright).
pub struct Oled {
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
    pub unplugged: bool,
    writes: usize,
}

impl Oled {
    pub fn new(address: u8) -> Self {
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
    pub fn power_on(&mut self) {
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

    pub fn command(&mut self, bytes: &[u8]) {
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

    pub fn data(&mut self, bytes: &[u8]) {
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
    pub fn glass(&self) -> Picture {
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

    pub fn check(&self) {
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
pub struct Gate {
    state: Mutex<(bool, usize)>,
    cv: Condvar,
}

impl Gate {
    pub fn close(&self) {
        self.state.lock().unwrap().0 = true;
    }
    pub fn open(&self) {
        self.state.lock().unwrap().0 = false;
        self.cv.notify_all();
    }
    pub fn pass(&self) {
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
    pub fn wait_for_waiter(&self) {
        let mut g = self.state.lock().unwrap();
        while g.1 == 0 {
            g = self.cv.wait_timeout(g, Duration::from_secs(10)).unwrap().0;
        }
    }
}

#[derive(Debug)]
pub struct Nack;

impl embedded_hal::i2c::Error for Nack {
    fn kind(&self) -> ErrorKind {
        ErrorKind::NoAcknowledge(NoAcknowledgeSource::Address)
    }
}

#[derive(Clone)]
pub struct OledBus {
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

pub fn oled_panel(
    degrees: u32,
    address: u8,
) -> (Ssd1306Panel<OledBus>, Arc<Mutex<Oled>>, Arc<Gate>) {
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
