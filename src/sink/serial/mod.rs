//! The serial sink: each frame's persons over a UART or USB-serial adapter,
//! as JSON lines or as compact binary frames ([`edgepose_wire`]). Its options,
//! sizes and troubleshooting are in docs/outputs.md.
//!
//! The sink never stalls the pipeline: [`Sink::emit`] only encodes the
//! record into a ring of `queue` (default 4) reusable buffers and returns;
//! the sink's own thread ([`writer`]) is the only user of the port. It
//! writes each record to the non-blocking port, waiting at most `timeout_ms`
//! (default 20 ms) at a time before it looks at the ring again. A new record
//! is only started once the driver's transmit queue holds no more than one
//! record, so a slow link carries fresh frames, not a backlog; when the ring
//! is full the oldest waiting record is dropped and counted (the newest
//! always gets in; the one on the wire is finished).
//! If the port disappears (a USB adapter unplugged: EIO, ENXIO, ENODEV or a
//! hang-up on write), the writer closes it and reopens it with backoff
//! (50 ms doubling to 2 s), counting disconnects and reconnects. A port
//! that does not exist when the run starts is an error (a mistyped or
//! unplugged device would otherwise swallow every record), unless
//! `wait=true` asks to wait for it the same way (an adapter plugged in
//! later). After every (re)open it first sends one delimiter (`0x00`, or a
//! newline for JSON) so the receiver never glues a half-sent record to the
//! next. [`Sink::summary`] reports records sent, dropped, still queued,
//! disconnects, reconnects and failed opens; every record is in exactly one
//! of sent, dropped and queued, and after [`Sink::flush`] (the end of a
//! run) every record is sent or dropped.
//!
//! The port is opened exclusively (`TIOCEXCL`, `flock`), in raw mode.

use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use edgepose_wire as wire;

use super::{json, Sink, SinkError};
use crate::frame::{Frame, FrameResult, RecordMeta};
use crate::report::Records;
use crate::spec::Spec;

pub mod port;
mod ring;
mod writer;

pub use port::{
    explain_open_error, is_absent, parse_baud, parse_data_bits, parse_flow, parse_parity,
    parse_stop_bits, Link, PortOptions,
};
use ring::Queue;
use writer::{Shared, Writer};

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
    shared: Arc<Shared>,
    writer: Option<JoinHandle<()>>,
    path: String,
    opts: PortOptions,
    encoding: Encoding,
    payload: Vec<u8>,
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
        let path = spec.target.clone();
        let mut link = Link::new(&path, opts, timeout, true);
        let resync = match link.connect() {
            Ok(()) => true,
            Err(e) if is_absent(&e) && wait => {
                log::warn!(
                    "serial {path}: {}; waiting for it to appear (wait=true)",
                    e.description
                );
                false
            }
            Err(e) if is_absent(&e) => {
                return Err(SinkError::Serial {
                    path,
                    why: format!(
                        "no such device ({}): is the adapter plugged in? wait=true waits \
                         for it to appear",
                        e.description
                    ),
                })
            }
            Err(e) => {
                return Err(SinkError::Serial {
                    path,
                    why: explain_open_error(&e),
                })
            }
        };
        let shared = Arc::new(Shared::new(Queue::new(queue)));
        let w = Writer::new(Arc::clone(&shared), link, encoding, timeout, resync);
        let writer = std::thread::Builder::new()
            .name("serial".into())
            .spawn(move || w.run())
            .map_err(|e| SinkError::Serial {
                path: path.clone(),
                why: format!("cannot start the writer thread: {e}"),
            })?;
        Ok(Self {
            shared,
            writer: Some(writer),
            path,
            opts,
            encoding,
            payload: vec![0; wire::MAX_PAYLOAD_LEN],
        })
    }

    /// The counters so far.
    pub fn stats(&self) -> SerialStats {
        self.shared.lock().stats
    }

    /// Records not yet sent nor dropped: waiting in the ring, or on the
    /// wire.
    pub fn queued(&self) -> usize {
        let st = self.shared.lock();
        st.queue.len + usize::from(st.in_flight)
    }
}

impl Drop for SerialSink {
    fn drop(&mut self) {
        self.shared.stop();
        if let Some(w) = self.writer.take() {
            let _ = w.join();
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
    /// Encodes the record into the ring (dropping the oldest waiting one
    /// when it is full) and wakes the writer; never touches the port.
    fn emit(
        &mut self,
        frame: &Frame<'_>,
        result: &FrameResult,
        meta: &RecordMeta,
    ) -> Result<(), SinkError> {
        let mut guard = self.shared.lock();
        let st = &mut *guard;
        let (slot, dropped) = st.queue.push_slot();
        let res = match self.encoding {
            Encoding::Json => {
                json::write_line(slot, frame.origin, result, meta).map_err(|e| e.to_string())
            }
            Encoding::Binary => encode_binary(&mut self.payload, slot, result),
        };
        st.stats.records += 1;
        if dropped {
            st.stats.dropped += 1;
        }
        if let Err(why) = res {
            st.queue.pop_back();
            st.stats.records -= 1;
            return Err(SinkError::Serial {
                path: self.path.clone(),
                why: format!("cannot encode frame {}: {why}", result.seq),
            });
        }
        drop(guard);
        self.shared.notify();
        Ok(())
    }

    /// Gives queued records up to 2 s to go out (and the driver up to the
    /// same deadline to transmit them); a lost port gets one more reopen
    /// attempt. What remains then is counted as dropped (by the writer),
    /// and bytes the driver still held are reported. The writer goes on:
    /// records emitted after a flush are sent as before.
    fn flush(&mut self) -> Result<(), SinkError> {
        if self.shared.flush(Instant::now() + FLUSH_DEADLINE) {
            Ok(())
        } else {
            Err(SinkError::Thread {
                name: format!("serial {}", self.path),
            })
        }
    }

    fn name(&self) -> String {
        "serial".into()
    }

    /// The record ring (`queue=`) is the sink's queue, emptied by its own
    /// thread.
    fn own_queue(&self) -> bool {
        true
    }

    fn dropped(&self) -> Option<u64> {
        Some(self.stats().dropped)
    }

    fn records(&self) -> Option<Records> {
        let s = self.stats();
        Some(Records {
            records: s.records,
            delivered: s.sent,
            queued: self.queued() as u64,
        })
    }

    fn summary(&self) -> Option<String> {
        let s = self.stats();
        let discarded = match s.discarded_bytes {
            0 => String::new(),
            n => format!(", {n} bytes untransmitted at exit"),
        };
        Some(format!(
            "serial {} ({}, {}): {} records, {} sent, {} dropped, {} queued, {} bytes, {} disconnects, {} reconnects, {} failed opens{discarded}",
            self.path,
            self.encoding.name(),
            self.opts.describe(),
            s.records,
            s.sent,
            s.dropped,
            self.queued(),
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
