//! The serial-port layer shared by the serial sink and `edgepose listen`:
//! line settings ([`PortOptions`], from a spec or the command line), opening
//! a device raw and exclusive (`TIOCEXCL`, `flock`), what an open error
//! means, and a [`Link`]: a port that may vanish (a USB adapter unplugged)
//! and is reopened with backoff (50 ms doubling to 2 s,
//! [`crate::backoff`]), counting disconnects, reconnects and failed opens.

use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use serialport::{DataBits, FlowControl, Parity, StopBits, TTYPort};

use crate::backoff::Backoff;
use crate::spec::{parse_choice, parse_in_range, Spec, SpecError};

/// Line settings of a port.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PortOptions {
    pub baud: u32,
    pub data_bits: DataBits,
    pub parity: Parity,
    pub stop_bits: StopBits,
    pub flow: FlowControl,
}

impl Default for PortOptions {
    fn default() -> Self {
        Self {
            baud: 115_200,
            data_bits: DataBits::Eight,
            parity: Parity::None,
            stop_bits: StopBits::One,
            flow: FlowControl::None,
        }
    }
}

/// Baud rates a port accepts.
const BAUDS: std::ops::RangeInclusive<u32> = 50..=12_000_000;
const BAUD: &str = "a baud rate (e.g. 9600, 115200, 921600)";
const DATA_BITS: [(&str, DataBits); 4] = [
    ("5", DataBits::Five),
    ("6", DataBits::Six),
    ("7", DataBits::Seven),
    ("8", DataBits::Eight),
];
const PARITIES: [(&str, Parity); 3] = [
    ("none", Parity::None),
    ("odd", Parity::Odd),
    ("even", Parity::Even),
];
const STOP_BITS: [(&str, StopBits); 2] = [("1", StopBits::One), ("2", StopBits::Two)];
const FLOWS: [(&str, FlowControl); 3] = [
    ("none", FlowControl::None),
    ("software", FlowControl::Software),
    ("hardware", FlowControl::Hardware),
];

/// `"value": expected ...`, the command line's wording of a spec error.
fn cli<T>(value: &str, r: Result<T, String>) -> Result<T, String> {
    r.map_err(|expected| format!("{value:?}: expected {expected}"))
}

/// Parses a baud rate (`listen --baud`).
pub fn parse_baud(s: &str) -> Result<u32, String> {
    cli(s, parse_in_range(s, &BAUDS, BAUD))
}

/// Parses data bits (`listen --data-bits`).
pub fn parse_data_bits(s: &str) -> Result<DataBits, String> {
    cli(s, parse_choice(s, &DATA_BITS))
}

/// Parses parity (`listen --parity`).
pub fn parse_parity(s: &str) -> Result<Parity, String> {
    cli(s, parse_choice(s, &PARITIES))
}

/// Parses stop bits (`listen --stop-bits`).
pub fn parse_stop_bits(s: &str) -> Result<StopBits, String> {
    cli(s, parse_choice(s, &STOP_BITS))
}

/// Parses flow control (`listen --flow`).
pub fn parse_flow(s: &str) -> Result<FlowControl, String> {
    cli(s, parse_choice(s, &FLOWS))
}

impl PortOptions {
    /// Takes `baud`, `data_bits`, `parity`, `stop_bits`, `flow` from a spec.
    pub fn from_spec(spec: &mut Spec) -> Result<Self, SpecError> {
        let d = Self::default();
        Ok(Self {
            baud: spec.take_in_range("baud", BAUDS, BAUD)?.unwrap_or(d.baud),
            data_bits: spec
                .take_choice("data_bits", &DATA_BITS)?
                .unwrap_or(d.data_bits),
            parity: spec.take_choice("parity", &PARITIES)?.unwrap_or(d.parity),
            stop_bits: spec
                .take_choice("stop_bits", &STOP_BITS)?
                .unwrap_or(d.stop_bits),
            flow: spec.take_choice("flow", &FLOWS)?.unwrap_or(d.flow),
        })
    }

    /// `115200 8N1`-style description.
    pub fn describe(&self) -> String {
        let parity = match self.parity {
            Parity::None => 'N',
            Parity::Odd => 'O',
            Parity::Even => 'E',
        };
        let flow = match self.flow {
            FlowControl::None => "",
            FlowControl::Software => " xon/xoff",
            FlowControl::Hardware => " rts/cts",
        };
        format!(
            "{} {}{}{}{}",
            self.baud,
            u8::from(self.data_bits),
            parity,
            u8::from(self.stop_bits),
            flow
        )
    }

    /// Opens `path` with these settings, raw and exclusive, with `timeout`
    /// for reads and writes. With `nonblocking`, writes return what the
    /// driver accepted instead of waiting for all of it.
    pub fn open(
        &self,
        path: &str,
        timeout: Duration,
        nonblocking: bool,
    ) -> Result<TTYPort, serialport::Error> {
        let port = serialport::new(path, self.baud)
            .data_bits(self.data_bits)
            .parity(self.parity)
            .stop_bits(self.stop_bits)
            .flow_control(self.flow)
            .timeout(timeout)
            .open_native()?;
        if nonblocking {
            let fd = port.as_raw_fd();
            // SAFETY: fcntl on a descriptor this port owns; no memory involved.
            let ok = unsafe {
                let flags = libc::fcntl(fd, libc::F_GETFL);
                flags >= 0 && libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK) == 0
            };
            if !ok {
                return Err(std::io::Error::last_os_error().into());
            }
        }
        Ok(port)
    }
}

/// True when an open error means "the device is not there (yet)", as
/// opposed to a setting or permission problem the user must fix.
pub fn is_absent(e: &serialport::Error) -> bool {
    matches!(
        e.kind(),
        serialport::ErrorKind::Io(std::io::ErrorKind::NotFound)
    ) || ["No such device", "I/O error"]
        .iter()
        .any(|d| e.description.starts_with(d))
}

/// True when the device is not a tty (a plain file or a pipe).
pub fn is_not_a_tty(e: &serialport::Error) -> bool {
    e.description.starts_with("Not a typewriter")
}

/// A one-line explanation of an open error, with what to do.
pub fn explain_open_error(e: &serialport::Error) -> String {
    let d = &e.description;
    let hint = if matches!(
        e.kind(),
        serialport::ErrorKind::Io(std::io::ErrorKind::PermissionDenied)
    ) {
        ": add your user to the group owning the device (usually dialout) and log in again"
    } else if d.starts_with("Device or resource busy")
        || d.starts_with("Unable to acquire exclusive lock")
    {
        ": another program holds the port; stop it"
    } else if is_not_a_tty(e) {
        ": not a serial device (a tty)"
    } else if d.starts_with("Function not implemented") {
        ": the serial ioctls are unavailable (running under qemu-user?)"
    } else {
        ""
    };
    format!("{d}{hint}")
}

/// Reopening a lost port: 50 ms doubling to 2 s.
const BACKOFF: Backoff = Backoff::new(Duration::from_millis(50), Duration::from_secs(2));

/// Counters of a [`Link`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LinkCounts {
    /// Times the open port failed.
    pub disconnects: u64,
    /// Successful opens after a disconnect or a failed open.
    pub reconnects: u64,
    /// Failed attempts to (re)open.
    pub failed_opens: u64,
}

/// A serial device that may come and go: opened with its [`PortOptions`],
/// closed when the caller reports it [`lost`](Link::lost), reopened with
/// backoff.
pub struct Link {
    path: String,
    opts: PortOptions,
    timeout: Duration,
    nonblocking: bool,
    port: Option<TTYPort>,
    backoff: Backoff,
    /// An open was tried before (so the next success is a reconnect).
    tried: bool,
    counts: LinkCounts,
}

impl Link {
    /// A closed link to `path` (see [`PortOptions::open`] for `timeout` and
    /// `nonblocking`); [`Link::connect`] opens it.
    pub fn new(path: &str, opts: PortOptions, timeout: Duration, nonblocking: bool) -> Self {
        Self {
            path: path.to_string(),
            opts,
            timeout,
            nonblocking,
            port: None,
            backoff: BACKOFF,
            tried: false,
            counts: LinkCounts::default(),
        }
    }

    /// Opens the port now. On failure it stays closed, the failure is
    /// counted and the next attempt is due after the backoff; the caller
    /// judges the error ([`is_absent`], [`explain_open_error`]).
    pub fn connect(&mut self) -> Result<(), serialport::Error> {
        let now = Instant::now();
        match self.opts.open(&self.path, self.timeout, self.nonblocking) {
            Ok(p) => {
                if self.tried {
                    self.counts.reconnects += 1;
                }
                self.tried = true;
                self.port = Some(p);
                self.backoff.reset();
                Ok(())
            }
            Err(e) => {
                self.tried = true;
                self.counts.failed_opens += 1;
                self.backoff.failed(now);
                Err(e)
            }
        }
    }

    /// Opens the port if it is closed and an attempt is due; `Ok(true)` when
    /// this call opened it.
    pub fn reconnect_if_due(&mut self, now: Instant) -> Result<bool, serialport::Error> {
        if self.port.is_some() || !self.backoff.due(now) {
            return Ok(false);
        }
        self.connect().map(|()| true)
    }

    /// The open port failed: it is closed and counted; the first reopen is
    /// due after the shortest backoff.
    pub fn lost(&mut self) {
        self.port = None;
        self.counts.disconnects += 1;
        self.backoff.reset();
        self.backoff.failed(Instant::now());
    }

    /// When the next (re)open attempt is due (`None`: at once).
    pub fn retry_at(&self) -> Option<Instant> {
        self.backoff.retry_at()
    }

    /// Makes the next attempt due at once (a last try before shutdown).
    pub fn retry_now(&mut self) {
        self.backoff.retry_now();
    }

    /// Sleeps until the next attempt is due; false when `stop` was set.
    pub fn wait_due(&self, stop: &std::sync::atomic::AtomicBool) -> bool {
        self.backoff.sleep(Some(stop))
    }

    /// The open port.
    pub fn port(&mut self) -> Option<&mut TTYPort> {
        self.port.as_mut()
    }

    pub fn is_open(&self) -> bool {
        self.port.is_some()
    }

    pub fn path(&self) -> &str {
        &self.path
    }

    pub fn options(&self) -> &PortOptions {
        &self.opts
    }

    pub fn counts(&self) -> LinkCounts {
        self.counts
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_parse_and_describe() {
        let mut s = Spec::parse(
            "serial:/dev/x?baud=921600&data_bits=7&parity=even&stop_bits=2&flow=hardware",
        )
        .unwrap();
        let o = PortOptions::from_spec(&mut s).unwrap();
        s.finish().unwrap();
        assert_eq!(o.describe(), "921600 7E2 rts/cts");
        assert_eq!(PortOptions::default().describe(), "115200 8N1");
    }

    #[test]
    fn command_line_values_are_checked_like_spec_options() {
        assert_eq!(parse_baud("9600"), Ok(9600));
        assert_eq!(
            parse_baud("49").unwrap_err(),
            "\"49\": expected a baud rate (e.g. 9600, 115200, 921600), 50 to 12000000"
        );
        assert_eq!(parse_parity("odd"), Ok(Parity::Odd));
        assert_eq!(
            parse_parity("mark").unwrap_err(),
            "\"mark\": expected none, odd or even"
        );
        assert_eq!(
            parse_data_bits("9").unwrap_err(),
            "\"9\": expected 5, 6, 7 or 8"
        );
        assert_eq!(parse_stop_bits("2"), Ok(StopBits::Two));
        assert_eq!(
            parse_flow("rts").unwrap_err(),
            "\"rts\": expected none, software or hardware"
        );
    }

    #[test]
    fn a_missing_device_is_absent_counted_and_retried_after_the_backoff() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ttyUSB9");
        let mut link = Link::new(
            path.to_str().unwrap(),
            PortOptions::default(),
            Duration::from_millis(10),
            true,
        );
        let e = link.connect().unwrap_err();
        assert!(is_absent(&e), "{e}");
        assert!(!link.is_open());
        // Not due again before the backoff.
        assert!(!link.reconnect_if_due(Instant::now()).unwrap());
        assert_eq!(link.counts().failed_opens, 1);
        link.retry_now();
        assert!(link.reconnect_if_due(Instant::now()).is_err());
        assert_eq!(
            link.counts(),
            LinkCounts {
                failed_opens: 2,
                ..LinkCounts::default()
            }
        );
        // A plain file is no tty: a clear error, not "absent".
        std::fs::write(&path, b"").unwrap();
        link.retry_now();
        let e = link.reconnect_if_due(Instant::now()).unwrap_err();
        assert!(!is_absent(&e) && is_not_a_tty(&e), "{e}");
        assert!(explain_open_error(&e).contains("not a serial device"));
    }
}
