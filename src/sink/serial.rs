//! The serial sink: each frame's persons over a UART or USB-serial adapter,
//! as JSON lines or as compact binary frames ([`super::wire`]). Its options,
//! sizes and troubleshooting are in docs/outputs.md.
//!
//! The sink never stalls the pipeline. Records wait in a queue of `queue`
//! (default 4) preallocated buffers; each [`Sink::emit`] writes for at most
//! `timeout_ms` (default 20 ms) to a non-blocking port and returns, keeping
//! any partly written record to finish next time. A new record is only
//! started once the driver's transmit queue holds no more than one record,
//! so a slow link carries fresh frames, not a backlog; when the queue is
//! full the oldest record that has not started is dropped and counted.
//! If the port disappears (a USB adapter unplugged: EIO, ENXIO, ENODEV or a
//! hang-up on write), the sink closes it and reopens it with backoff
//! (50 ms doubling to 2 s), counting disconnects and reconnects; a port
//! that does not exist yet when the run starts is waited for the same way.
//! After every (re)open it first sends one delimiter (`0x00`, or a newline
//! for JSON) so the receiver never glues a half-sent record to the next.
//! [`Sink::summary`] reports records sent, dropped, still queued,
//! disconnects, reconnects and failed opens.
//!
//! The port is opened exclusively (`TIOCEXCL`, `flock`), in raw mode.

use std::io::Write;
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use serialport::{DataBits, FlowControl, Parity, SerialPort, StopBits, TTYPort};

use super::{json, wire, Sink, SinkError};
use crate::frame::{Frame, FrameResult, RecordMeta};
use crate::spec::Spec;

/// How records are encoded on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// JSON lines, the schema of `edgepose infer`.
    Json,
    /// COBS-framed binary frames ([`wire`]).
    Binary,
}

impl std::str::FromStr for Encoding {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "json" => Ok(Encoding::Json),
            "binary" => Ok(Encoding::Binary),
            _ => Err(format!("{s:?}: expected binary or json")),
        }
    }
}

impl Encoding {
    pub fn name(self) -> &'static str {
        match self {
            Encoding::Json => "json",
            Encoding::Binary => "binary",
        }
    }
}

/// Line settings of a port, shared by the sink and `edgepose listen`.
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

/// What each port option accepts, for messages.
pub const EXPECT_BAUD: &str = "a baud rate from 50 to 12000000 (e.g. 9600, 115200, 921600)";
pub const EXPECT_DATA_BITS: &str = "5, 6, 7 or 8";
pub const EXPECT_PARITY: &str = "none, odd or even";
pub const EXPECT_STOP_BITS: &str = "1 or 2";
pub const EXPECT_FLOW: &str = "none, software or hardware";

/// Parses a baud rate.
pub fn parse_baud(s: &str) -> Result<u32, String> {
    match s.parse::<u32>() {
        Ok(b) if (50..=12_000_000).contains(&b) => Ok(b),
        _ => Err(format!("{s:?}: expected {EXPECT_BAUD}")),
    }
}

/// Parses data bits.
pub fn parse_data_bits(s: &str) -> Result<DataBits, String> {
    match s {
        "5" => Ok(DataBits::Five),
        "6" => Ok(DataBits::Six),
        "7" => Ok(DataBits::Seven),
        "8" => Ok(DataBits::Eight),
        _ => Err(format!("{s:?}: expected {EXPECT_DATA_BITS}")),
    }
}

/// Parses parity.
pub fn parse_parity(s: &str) -> Result<Parity, String> {
    match s {
        "none" => Ok(Parity::None),
        "odd" => Ok(Parity::Odd),
        "even" => Ok(Parity::Even),
        _ => Err(format!("{s:?}: expected {EXPECT_PARITY}")),
    }
}

/// Parses stop bits.
pub fn parse_stop_bits(s: &str) -> Result<StopBits, String> {
    match s {
        "1" => Ok(StopBits::One),
        "2" => Ok(StopBits::Two),
        _ => Err(format!("{s:?}: expected {EXPECT_STOP_BITS}")),
    }
}

/// Parses flow control.
pub fn parse_flow(s: &str) -> Result<FlowControl, String> {
    match s {
        "none" => Ok(FlowControl::None),
        "software" => Ok(FlowControl::Software),
        "hardware" => Ok(FlowControl::Hardware),
        _ => Err(format!("{s:?}: expected {EXPECT_FLOW}")),
    }
}

fn take_with<T>(
    spec: &mut Spec,
    key: &'static str,
    expected: &str,
    parse: fn(&str) -> Result<T, String>,
) -> Result<Option<T>, SinkError> {
    match spec.take(key) {
        None => Ok(None),
        Some(v) => parse(&v)
            .map(Some)
            .map_err(|_| SinkError::Spec(spec.invalid(key, &v, expected))),
    }
}

impl PortOptions {
    /// Takes `baud`, `data_bits`, `parity`, `stop_bits`, `flow` from a spec.
    pub fn from_spec(spec: &mut Spec) -> Result<Self, SinkError> {
        let d = Self::default();
        Ok(Self {
            baud: take_with(spec, "baud", EXPECT_BAUD, parse_baud)?.unwrap_or(d.baud),
            data_bits: take_with(spec, "data_bits", EXPECT_DATA_BITS, parse_data_bits)?
                .unwrap_or(d.data_bits),
            parity: take_with(spec, "parity", EXPECT_PARITY, parse_parity)?.unwrap_or(d.parity),
            stop_bits: take_with(spec, "stop_bits", EXPECT_STOP_BITS, parse_stop_bits)?
                .unwrap_or(d.stop_bits),
            flow: take_with(spec, "flow", EXPECT_FLOW, parse_flow)?.unwrap_or(d.flow),
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

/// A one-line explanation of an open error, with what to do.
pub fn explain_open_error(e: &serialport::Error) -> String {
    let d = &e.description;
    let hint = if matches!(
        e.kind(),
        serialport::ErrorKind::Io(std::io::ErrorKind::PermissionDenied)
    ) {
        ": add your user to the group owning the device (usually dialout) and log in again"
    } else if d.starts_with("Device or resource busy") {
        ": another program holds the port; stop it"
    } else if d.starts_with("Not a typewriter") {
        ": not a serial device (a tty)"
    } else if d.starts_with("Function not implemented") {
        ": the serial ioctls are unavailable (running under qemu-user?)"
    } else {
        ""
    };
    format!("{d}{hint}")
}

const BACKOFF_START: Duration = Duration::from_millis(50);
const BACKOFF_MAX: Duration = Duration::from_secs(2);
/// How long [`Sink::flush`] waits for the queue to drain.
const FLUSH_DEADLINE: Duration = Duration::from_secs(2);

/// Counters of a serial sink.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SerialStats {
    /// Records handed to the sink.
    pub records: u64,
    /// Records written completely.
    pub sent: u64,
    /// Records dropped (queue full, or cut off by a disconnect).
    pub dropped: u64,
    /// Bytes written, delimiters included.
    pub bytes: u64,
    /// Times the open port failed.
    pub disconnects: u64,
    /// Successful opens after a disconnect or a failed first open.
    pub reconnects: u64,
    /// Failed attempts to (re)open.
    pub failed_opens: u64,
}

/// What making room in the [`Queue`] cost.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dropped {
    Nothing,
    Whole,
    /// A record already partly on the wire: the receiver needs a delimiter.
    HalfWritten,
}

/// Fixed ring of reusable record buffers.
struct Queue {
    slots: Vec<Vec<u8>>,
    head: usize,
    len: usize,
    /// Bytes of the head record already written.
    offset: usize,
}

impl Queue {
    fn new(n: usize) -> Self {
        Self {
            slots: (0..n).map(|_| Vec::new()).collect(),
            head: 0,
            len: 0,
            offset: 0,
        }
    }

    fn cap(&self) -> usize {
        self.slots.len()
    }

    fn idx(&self, i: usize) -> usize {
        (self.head + i) % self.cap()
    }

    /// A slot for a new record at the back. When full, the oldest record
    /// not being written is dropped; returns the slot and what was dropped.
    fn push_slot(&mut self) -> (&mut Vec<u8>, Dropped) {
        let mut dropped = Dropped::Nothing;
        if self.len == self.cap() {
            if self.offset == 0 || self.cap() == 1 {
                // Drop the head (not started, or nothing else to drop).
                dropped = if self.offset == 0 {
                    Dropped::Whole
                } else {
                    Dropped::HalfWritten
                };
                self.head = self.idx(1);
                self.offset = 0;
            } else {
                // The head is half-written: keep it, drop the next one by
                // shifting the records behind it forward.
                dropped = Dropped::Whole;
                for i in 1..self.len - 1 {
                    let (a, b) = (self.idx(i), self.idx(i + 1));
                    self.slots.swap(a, b);
                }
            }
            self.len -= 1;
        }
        let i = self.idx(self.len);
        self.len += 1;
        let slot = &mut self.slots[i];
        slot.clear();
        (slot, dropped)
    }

    /// Removes the last pushed record (when it could not be encoded).
    fn pop_back(&mut self) {
        self.len -= 1;
    }

    fn front(&self) -> Option<&[u8]> {
        (self.len > 0).then(|| &self.slots[self.head][self.offset..])
    }

    fn front_len(&self) -> usize {
        self.slots[self.head].len()
    }

    fn pop_front(&mut self) {
        self.head = self.idx(1);
        self.len -= 1;
        self.offset = 0;
    }
}

/// The serial sink (see the module docs).
pub struct SerialSink {
    path: String,
    opts: PortOptions,
    encoding: Encoding,
    timeout: Duration,
    port: Option<TTYPort>,
    queue: Queue,
    payload: Vec<u8>,
    resync: bool,
    ever_opened: bool,
    backoff: Duration,
    next_try: Instant,
    stats: SerialStats,
}

impl SerialSink {
    /// Opens the sink a `serial:PATH?...` spec names.
    pub fn open(spec: &mut Spec) -> Result<Self, SinkError> {
        if spec.target.is_empty() {
            return Err(spec
                .error("serial sink needs a device path, e.g. serial:/dev/ttyUSB0")
                .into());
        }
        let opts = PortOptions::from_spec(spec)?;
        let encoding =
            take_with(spec, "encoding", "binary or json", |s| s.parse())?.unwrap_or(Encoding::Json);
        let timeout_ms = spec
            .take_parse::<u64>("timeout_ms", "milliseconds, 0 to 10000")?
            .unwrap_or(20);
        if timeout_ms > 10_000 {
            return Err(spec
                .invalid(
                    "timeout_ms",
                    &timeout_ms.to_string(),
                    "milliseconds, 0 to 10000",
                )
                .into());
        }
        let queue = spec
            .take_parse::<usize>("queue", "a number of records, 1 to 64")?
            .unwrap_or(4);
        if !(1..=64).contains(&queue) {
            return Err(spec
                .invalid("queue", &queue.to_string(), "a number of records, 1 to 64")
                .into());
        }
        // Reject unknown options before touching the port.
        spec.finish()?;
        let mut sink = Self::new(
            &spec.target,
            opts,
            encoding,
            Duration::from_millis(timeout_ms),
            queue,
        );
        match opts.open(&sink.path, sink.timeout, true) {
            Ok(p) => {
                sink.port = Some(p);
                sink.ever_opened = true;
                sink.resync = true;
            }
            Err(e) if is_absent(&e) => {
                log::warn!(
                    "serial {}: {}; waiting for it to appear",
                    sink.path,
                    e.description
                );
                sink.stats.failed_opens += 1;
                sink.next_try = Instant::now() + sink.backoff;
            }
            Err(e) => {
                return Err(SinkError::Serial {
                    path: sink.path.clone(),
                    why: explain_open_error(&e),
                })
            }
        }
        Ok(sink)
    }

    fn new(
        path: &str,
        opts: PortOptions,
        encoding: Encoding,
        timeout: Duration,
        queue: usize,
    ) -> Self {
        Self {
            path: path.to_string(),
            opts,
            encoding,
            timeout,
            port: None,
            queue: Queue::new(queue),
            payload: vec![0; wire::MAX_PAYLOAD_LEN],
            resync: false,
            ever_opened: false,
            backoff: BACKOFF_START,
            next_try: Instant::now(),
            stats: SerialStats::default(),
        }
    }

    /// The counters so far.
    pub fn stats(&self) -> SerialStats {
        self.stats
    }

    /// Records waiting to be written.
    pub fn queued(&self) -> usize {
        self.queue.len
    }

    fn encode(
        &mut self,
        frame: &Frame<'_>,
        result: &FrameResult,
        meta: &RecordMeta,
    ) -> Result<(), SinkError> {
        self.stats.records += 1;
        let (slot, dropped) = self.queue.push_slot();
        match dropped {
            Dropped::Nothing => {}
            Dropped::Whole => self.stats.dropped += 1,
            Dropped::HalfWritten => {
                self.stats.dropped += 1;
                self.resync = true;
            }
        }
        let res = match self.encoding {
            Encoding::Json => {
                json::write_line(slot, frame.origin, result, meta).map_err(|e| e.to_string())
            }
            Encoding::Binary => encode_binary(&mut self.payload, slot, result),
        };
        res.map_err(|why| {
            self.queue.pop_back();
            SinkError::Serial {
                path: self.path.clone(),
                why: format!("cannot encode frame {}: {why}", result.seq),
            }
        })
    }

    fn try_open(&mut self, now: Instant) {
        if now < self.next_try {
            return;
        }
        match self.opts.open(&self.path, self.timeout, true) {
            Ok(p) => {
                log::warn!("serial {}: connected", self.path);
                self.port = Some(p);
                self.stats.reconnects += 1;
                self.ever_opened = true;
                self.resync = true;
                self.backoff = BACKOFF_START;
            }
            Err(e) => {
                log::debug!("serial {}: reopen failed: {}", self.path, e.description);
                self.stats.failed_opens += 1;
                self.next_try = now + self.backoff;
                self.backoff = (self.backoff * 2).min(BACKOFF_MAX);
            }
        }
    }

    fn lost(&mut self, e: &std::io::Error) {
        log::warn!(
            "serial {}: port lost ({e}); reconnecting with backoff",
            self.path
        );
        self.port = None;
        self.stats.disconnects += 1;
        if self.queue.offset > 0 {
            // The half-written record is gone with the port.
            self.queue.pop_front();
            self.stats.dropped += 1;
        }
        self.backoff = BACKOFF_START;
        self.next_try = Instant::now() + self.backoff;
    }

    /// Writes queued records until the queue is empty, the port is busy or
    /// `deadline` passes.
    fn pump(&mut self, deadline: Instant) {
        loop {
            let now = Instant::now();
            if self.port.is_none() {
                self.try_open(now);
                if self.port.is_none() {
                    return;
                }
            }
            let Some(port) = self.port.as_mut() else {
                return;
            };
            let Some(rec) = self.queue.front() else {
                return;
            };
            let left = deadline.saturating_duration_since(now);
            let starting = self.queue.offset == 0;
            if starting {
                // Keep the driver's queue short: start a record only when
                // what is still waiting there is no more than one record.
                let outq = port.bytes_to_write().unwrap_or(0) as usize;
                if outq > rec.len().max(64) {
                    return;
                }
            }
            let _ = port.set_timeout(left);
            let res = if self.resync {
                let delim: &[u8] = match self.encoding {
                    Encoding::Binary => &[0],
                    Encoding::Json => b"\n",
                };
                port.write(delim).map(|n| {
                    if n == 1 {
                        self.resync = false;
                        self.stats.bytes += 1;
                    }
                    0
                })
            } else {
                port.write(rec)
            };
            match res {
                Ok(n) => {
                    self.stats.bytes += n as u64;
                    self.queue.offset += n;
                    if self.queue.offset >= self.queue.front_len() {
                        self.queue.pop_front();
                        self.stats.sent += 1;
                    }
                }
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock
                    ) =>
                {
                    if Instant::now() >= deadline {
                        return;
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => {
                    self.lost(&e);
                    return;
                }
            }
            if Instant::now() >= deadline {
                return;
            }
        }
    }
}

/// Encodes a frame as a binary wire frame into `out`.
fn encode_binary(payload: &mut [u8], out: &mut Vec<u8>, r: &FrameResult) -> Result<(), String> {
    let k = r.num_keypoints.min(wire::MAX_KEYPOINTS);
    let header = wire::Header {
        seq: r.seq as u32,
        timestamp_us: wire::timestamp_us(r.timestamp_ms),
        width: r.width.min(u16::MAX as u32) as u16,
        height: r.height.min(u16::MAX as u32) as u16,
        tracked: r.tracked,
        num_keypoints: k as u8,
    };
    let mut w = wire::FrameWriter::new(payload, &header).map_err(|e| e.to_string())?;
    for (i, p) in r.persons.iter().enumerate() {
        let track = r.tracks.get(i).filter(|_| r.tracked).map(|t| t.id);
        let kps = p.keypoints[..k].iter().map(|kp| wire::Keypoint {
            x: kp.x,
            y: kp.y,
            score: kp.score,
        });
        match w.push_person(p.bbox, p.score, track, kps) {
            Ok(()) => {}
            Err(wire::EncodeError::Full) => break,
            Err(e) => return Err(e.to_string()),
        }
    }
    let n = w.finish();
    out.resize(wire::max_framed_len(n), 0);
    let m = wire::frame(&payload[..n], out).map_err(|e| e.to_string())?;
    out.truncate(m);
    Ok(())
}

impl Sink for SerialSink {
    fn emit(
        &mut self,
        frame: &Frame<'_>,
        result: &FrameResult,
        meta: &RecordMeta,
    ) -> Result<(), SinkError> {
        // Make room first (and reopen a lost port), then queue and send.
        let deadline = Instant::now() + self.timeout;
        self.pump(deadline);
        self.encode(frame, result, meta)?;
        self.pump(deadline);
        Ok(())
    }

    /// Gives queued records up to 2 s to go out (and the driver up to the
    /// same deadline to transmit them); a lost port gets one more reopen
    /// attempt. What remains is reported as queued.
    fn flush(&mut self) -> Result<(), SinkError> {
        let deadline = Instant::now() + FLUSH_DEADLINE;
        while self.queue.len > 0 && Instant::now() < deadline {
            if self.port.is_none() {
                // One immediate try; do not hold up the exit for a device
                // that is gone.
                self.next_try = Instant::now();
                self.pump(deadline);
                if self.port.is_none() {
                    break;
                }
            }
            self.pump(deadline);
            if self.queue.len > 0 {
                std::thread::sleep(Duration::from_millis(2));
            }
        }
        if let Some(port) = &self.port {
            while port.bytes_to_write().unwrap_or(0) > 0 && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(2));
            }
            if port.bytes_to_write().unwrap_or(0) > 0 {
                // Do not let close() wait for a stalled link.
                let _ = port.clear(serialport::ClearBuffer::Output);
            }
        }
        Ok(())
    }

    fn summary(&self) -> Option<String> {
        let s = &self.stats;
        Some(format!(
            "serial {} ({}, {}): {} records, {} sent, {} dropped, {} queued, {} bytes, {} disconnects, {} reconnects, {} failed opens",
            self.path,
            self.encoding.name(),
            self.opts.describe(),
            s.records,
            s.sent,
            s.dropped,
            self.queue.len,
            s.bytes,
            s.disconnects,
            s.reconnects,
            s.failed_opens
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn open_err(spec: &str) -> String {
        let mut s = Spec::parse(spec).unwrap();
        match SerialSink::open(&mut s).and_then(|_| s.finish().map_err(SinkError::from)) {
            Ok(_) => panic!("{spec} opened"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn bad_options_name_the_option_and_what_was_expected() {
        let cases = [
            ("serial:/dev/x?baud=fast", "baud=fast: expected a baud rate"),
            ("serial:/dev/x?baud=0", "baud=0: expected a baud rate"),
            (
                "serial:/dev/x?encoding=xml",
                "encoding=xml: expected binary or json",
            ),
            (
                "serial:/dev/x?data_bits=9",
                "data_bits=9: expected 5, 6, 7 or 8",
            ),
            (
                "serial:/dev/x?parity=mark",
                "parity=mark: expected none, odd or even",
            ),
            (
                "serial:/dev/x?stop_bits=1.5",
                "stop_bits=1.5: expected 1 or 2",
            ),
            (
                "serial:/dev/x?flow=rts",
                "flow=rts: expected none, software or hardware",
            ),
            (
                "serial:/dev/x?queue=0",
                "queue=0: expected a number of records, 1 to 64",
            ),
            (
                "serial:/dev/x?timeout_ms=-1",
                "timeout_ms=-1: expected milliseconds",
            ),
            ("serial:?baud=9600", "needs a device path"),
        ];
        for (spec, want) in cases {
            let e = open_err(spec);
            assert!(e.contains(want), "{spec}: {e}");
            assert!(!e.contains('\n'), "{spec}: one line: {e}");
        }
    }

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
    fn non_tty_is_a_clear_error() {
        let f = tempfile::NamedTempFile::new().unwrap();
        let e = open_err(&format!("serial:{}", f.path().display()));
        assert!(e.contains("not a serial device"), "{e}");
    }

    #[test]
    fn queue_drops_the_oldest_record_not_being_written() {
        let mut q = Queue::new(3);
        for v in [1u8, 2, 3] {
            let (s, d) = q.push_slot();
            s.push(v);
            s.push(v);
            assert_eq!(d, Dropped::Nothing);
        }
        let (s, d) = q.push_slot();
        s.extend([4, 4]);
        assert_eq!(d, Dropped::Whole, "full queue drops");
        assert_eq!(q.front(), Some(&[2u8, 2][..]), "oldest (1) dropped");
        q.offset = 1; // record 2 half-written
        let (s, d) = q.push_slot();
        s.extend([5, 5]);
        assert_eq!(d, Dropped::Whole);
        assert_eq!(q.front(), Some(&[2u8][..]), "half-written record kept");
        q.pop_front();
        assert_eq!(q.front(), Some(&[4u8, 4][..]), "3 was dropped instead");
        q.pop_front();
        assert_eq!(q.front(), Some(&[5u8, 5][..]));
        q.pop_front();
        assert_eq!(q.front(), None);

        let mut one = Queue::new(1);
        one.push_slot().0.extend([1, 1]);
        one.offset = 1;
        assert_eq!(one.push_slot().1, Dropped::HalfWritten);
        assert_eq!(one.offset, 0);
    }
}
