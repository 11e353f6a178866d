//! The serial sink: each frame's persons over a UART or USB-serial adapter,
//! as JSON lines or as compact binary frames ([`edgepose_wire`]). Its options,
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
//! (50 ms doubling to 2 s), counting disconnects and reconnects. A port
//! that does not exist when the run starts is an error (a mistyped or
//! unplugged device would otherwise swallow every record), unless
//! `wait=true` asks to wait for it the same way (an adapter plugged in
//! later). After every (re)open it first sends one delimiter (`0x00`, or a
//! newline for JSON) so the receiver never glues a half-sent record to the
//! next. [`Sink::summary`] reports records sent, dropped, still queued,
//! disconnects, reconnects and failed opens; at the end of a run every
//! record is either sent or dropped (what the flush could not send counts
//! as dropped).
//!
//! The port is opened exclusively (`TIOCEXCL`, `flock`), in raw mode.

use std::io::Write;
use std::time::{Duration, Instant};

use serialport::SerialPort;

use edgepose_wire as wire;

use super::{json, Sink, SinkError};
use crate::frame::{Frame, FrameResult, RecordMeta};
use crate::spec::Spec;

pub mod port;
mod ring;

pub use port::{
    explain_open_error, is_absent, parse_baud, parse_data_bits, parse_flow, parse_parity,
    parse_stop_bits, Link, PortOptions,
};
use ring::{Dropped, Queue};

/// How records are encoded on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// JSON lines, the schema of `edgepose infer`.
    Json,
    /// COBS-framed binary frames ([`wire`]).
    Binary,
}

impl Encoding {
    pub fn name(self) -> &'static str {
        match self {
            Encoding::Json => "json",
            Encoding::Binary => "binary",
        }
    }
}

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
    /// Bytes of sent records the driver had not transmitted when the run
    /// ended (discarded so that the exit does not wait for the link).
    pub discarded_bytes: u64,
}

/// The serial sink (see the module docs).
pub struct SerialSink {
    link: Link,
    encoding: Encoding,
    timeout: Duration,
    queue: Queue,
    payload: Vec<u8>,
    resync: bool,
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
        let encoding = spec
            .take_choice(
                "encoding",
                &[("binary", Encoding::Binary), ("json", Encoding::Json)],
            )?
            .unwrap_or(Encoding::Json);
        let timeout = spec
            .take_millis("timeout_ms", 0..=10_000)?
            .unwrap_or(Duration::from_millis(20));
        let queue = spec
            .take_in_range("queue", 1..=64, "a number of records")?
            .unwrap_or(4);
        let wait = spec.take_bool("wait")?.unwrap_or(false);
        // Reject unknown options before touching the port.
        spec.finish()?;
        let mut sink = Self {
            link: Link::new(&spec.target, opts, timeout, true),
            encoding,
            timeout,
            queue: Queue::new(queue),
            payload: vec![0; wire::MAX_PAYLOAD_LEN],
            resync: false,
            stats: SerialStats::default(),
        };
        match sink.link.connect() {
            Ok(()) => sink.resync = true,
            Err(e) if is_absent(&e) && wait => log::warn!(
                "serial {}: {}; waiting for it to appear (wait=true)",
                spec.target,
                e.description
            ),
            Err(e) if is_absent(&e) => {
                return Err(SinkError::Serial {
                    path: spec.target.clone(),
                    why: format!(
                        "no such device ({}): is the adapter plugged in? wait=true waits \
                         for it to appear",
                        e.description
                    ),
                })
            }
            Err(e) => {
                return Err(SinkError::Serial {
                    path: spec.target.clone(),
                    why: explain_open_error(&e),
                })
            }
        }
        Ok(sink)
    }

    /// The counters so far.
    pub fn stats(&self) -> SerialStats {
        let link = self.link.counts();
        SerialStats {
            disconnects: link.disconnects,
            reconnects: link.reconnects,
            failed_opens: link.failed_opens,
            ..self.stats
        }
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
                path: self.link.path().to_string(),
                why: format!("cannot encode frame {}: {why}", result.seq),
            }
        })
    }

    fn try_open(&mut self, now: Instant) {
        match self.link.reconnect_if_due(now) {
            Ok(false) => {}
            Ok(true) => {
                log::warn!("serial {}: connected", self.link.path());
                self.resync = true;
            }
            Err(e) => log::debug!(
                "serial {}: reopen failed: {}",
                self.link.path(),
                e.description
            ),
        }
    }

    fn lost(&mut self, e: &std::io::Error) {
        log::warn!(
            "serial {}: port lost ({e}); reconnecting with backoff",
            self.link.path()
        );
        self.link.lost();
        if self.queue.offset > 0 {
            // The half-written record is gone with the port.
            self.queue.pop_front();
            self.stats.dropped += 1;
        }
    }

    /// Writes queued records until the queue is empty, the port is busy or
    /// `deadline` passes.
    fn pump(&mut self, deadline: Instant) {
        loop {
            let now = Instant::now();
            if !self.link.is_open() {
                self.try_open(now);
            }
            let Some(port) = self.link.port() else {
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
    /// attempt. What remains then is counted as dropped, and bytes the
    /// driver still held are reported.
    fn flush(&mut self) -> Result<(), SinkError> {
        let deadline = Instant::now() + FLUSH_DEADLINE;
        while self.queue.len > 0 && Instant::now() < deadline {
            if !self.link.is_open() {
                // One immediate try; do not hold up the exit for a device
                // that is gone.
                self.link.retry_now();
                self.pump(deadline);
                if !self.link.is_open() {
                    break;
                }
            }
            self.pump(deadline);
            if self.queue.len > 0 {
                std::thread::sleep(Duration::from_millis(2));
            }
        }
        if let Some(port) = self.link.port() {
            while port.bytes_to_write().unwrap_or(0) > 0 && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(2));
            }
            let left = port.bytes_to_write().unwrap_or(0);
            if left > 0 {
                // Do not let close() wait for a stalled link.
                let _ = port.clear(serialport::ClearBuffer::Output);
                self.stats.discarded_bytes += u64::from(left);
            }
        }
        // Never sent: dropped, so records = sent + dropped at the end.
        while self.queue.len > 0 {
            self.queue.pop_front();
            self.stats.dropped += 1;
        }
        Ok(())
    }

    fn name(&self) -> String {
        "serial".into()
    }

    /// The record ring (`queue=`) is the sink's queue; emit writes for at
    /// most `timeout_ms`.
    fn own_queue(&self) -> bool {
        true
    }

    fn dropped(&self) -> Option<u64> {
        Some(self.stats().dropped)
    }

    fn summary(&self) -> Option<String> {
        let s = self.stats();
        let discarded = match s.discarded_bytes {
            0 => String::new(),
            n => format!(", {n} bytes untransmitted at exit"),
        };
        Some(format!(
            "serial {} ({}, {}): {} records, {} sent, {} dropped, {} queued, {} bytes, {} disconnects, {} reconnects, {} failed opens{discarded}",
            self.link.path(),
            self.encoding.name(),
            self.link.options().describe(),
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
    fn non_tty_is_a_clear_error() {
        let f = tempfile::NamedTempFile::new().unwrap();
        let e = open_err(&format!("serial:{}", f.path().display()));
        assert!(e.contains("not a serial device"), "{e}");
    }
}
