//! `edgepose listen`: the receiving end of the serial sink. Reads a serial
//! device, a file, a FIFO or standard input; decodes binary frames
//! ([`edgepose_wire`]) or JSON lines (told, or detected from the first bytes);
//! prints one JSON line per frame on standard output; and reports damaged
//! frames (CRC errors, undecodable pieces) and gaps in the sequence numbers
//! on standard error, with exact counts in a summary at the end.
//!
//! Files and standard input end at end of file. A serial device that goes
//! away (unplugged) is waited for and reopened with backoff, counted as a
//! disconnect; SIGINT or SIGTERM stops at any time, after the summary. The
//! output format and troubleshooting are in docs/outputs.md.

use std::io::{Read, Write};
use std::os::fd::{AsFd, AsRawFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde::Serialize;

use crate::cli::{ListenArgs, ListenEncoding};
use crate::model::manifest::COCO17_NAMES;
use crate::sink::serial::port::{explain_open_error, is_absent, is_not_a_tty, Link, PortOptions};
use edgepose_wire::{self as wire, Deframer, Event, FrameView};

/// What `listen` reads and how.
#[derive(Debug, Clone)]
pub struct ListenOptions {
    /// Device, file, FIFO, or `-` for standard input.
    pub port: String,
    pub opts: PortOptions,
    pub encoding: ListenEncoding,
    /// Stop after this many good frames.
    pub count: Option<u64>,
}

/// Errors of `listen`.
#[derive(Debug, thiserror::Error)]
pub enum ListenError {
    #[error("{path}: {why}")]
    Open { path: String, why: String },
    #[error("reading {path}: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("writing standard output: {0}")]
    Write(#[source] std::io::Error),
}

/// Exact counts of one `listen` session.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ListenSummary {
    /// `binary`, `json`, or `none` when nothing was decided.
    pub encoding: &'static str,
    pub bytes: u64,
    /// Good frames (or records) printed.
    pub frames: u64,
    /// Binary frames whose CRC-32C did not match.
    pub crc_errors: u64,
    /// Pieces that were not frames: bad COBS, too short or long, bad
    /// magic/version/length, or JSON lines that did not parse.
    pub undecodable: u64,
    /// Places where the sequence number jumped forward.
    pub gaps: u64,
    /// Frames missing in those gaps.
    pub missing: u64,
    /// Places where the sequence number went back (a sender restarted).
    pub seq_restarts: u64,
    /// Bytes before the first delimiter that did not decode (joined mid-frame).
    pub skipped_bytes: u64,
    /// Bytes of an incomplete frame at the end of the input.
    pub incomplete_bytes: u64,
    /// Times a serial device went away.
    pub disconnects: u64,
}

impl ListenSummary {
    /// One line for standard error.
    pub fn human(&self) -> String {
        format!(
            "listen: {} frames ({}), {} CRC errors, {} undecodable, {} gaps ({} frames missing), {} sequence restarts, {} bytes skipped at start, {} bytes incomplete at end, {} disconnects, {} bytes",
            self.frames,
            self.encoding,
            self.crc_errors,
            self.undecodable,
            self.gaps,
            self.missing,
            self.seq_restarts,
            self.skipped_bytes,
            self.incomplete_bytes,
            self.disconnects,
            self.bytes
        )
    }
}

/// Where bytes come from.
enum Input {
    Port(Link),
    File(std::fs::File),
}

const POLL: Duration = Duration::from_millis(100);

enum Got {
    Data(usize),
    Nothing,
    Eof,
    Lost(std::io::Error),
}

impl Input {
    fn open(path: &str, opts: &PortOptions) -> Result<Self, ListenError> {
        let err = |why: String| ListenError::Open {
            path: path.to_string(),
            why,
        };
        if path == "-" {
            let fd = std::io::stdin()
                .as_fd()
                .try_clone_to_owned()
                .map_err(|e| err(e.to_string()))?;
            return Ok(Input::File(std::fs::File::from(fd)));
        }
        let meta = std::fs::metadata(path).map_err(|e| err(e.to_string()))?;
        use std::os::unix::fs::FileTypeExt;
        if meta.file_type().is_char_device() {
            let mut link = Link::new(path, *opts, POLL, false);
            match link.connect() {
                Ok(()) => return Ok(Input::Port(link)),
                Err(e) if is_not_a_tty(&e) => {}
                Err(e) => return Err(err(explain_open_error(&e))),
            }
        }
        std::fs::File::open(path)
            .map(Input::File)
            .map_err(|e| err(e.to_string()))
    }

    fn read(&mut self, buf: &mut [u8]) -> Got {
        match self {
            Input::Port(link) => match link.port().map(|p| p.read(buf)) {
                None => Got::Lost(std::io::ErrorKind::NotConnected.into()),
                Some(Ok(0)) => Got::Nothing,
                Some(Ok(n)) => Got::Data(n),
                Some(Err(e))
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::TimedOut
                            | std::io::ErrorKind::WouldBlock
                            | std::io::ErrorKind::Interrupted
                    ) =>
                {
                    Got::Nothing
                }
                Some(Err(e)) => Got::Lost(e),
            },
            Input::File(f) => {
                let mut pfd = libc::pollfd {
                    fd: f.as_raw_fd(),
                    events: libc::POLLIN,
                    revents: 0,
                };
                // SAFETY: one valid pollfd for the duration of the call.
                let r = unsafe { libc::poll(&mut pfd, 1, POLL.as_millis() as libc::c_int) };
                if r == 0 {
                    return Got::Nothing;
                }
                match f.read(buf) {
                    Ok(0) => Got::Eof,
                    Ok(n) => Got::Data(n),
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => Got::Nothing,
                    Err(e) => Got::Lost(e),
                }
            }
        }
    }
}

/// Sequence-number bookkeeping.
#[derive(Default)]
struct SeqTrack {
    last: Option<u64>,
}

impl SeqTrack {
    /// Notes `seq` (`modulo` is 2³² for binary frames, 2⁶⁴ for JSON);
    /// returns frames missing before it, or `None` for a restart.
    fn note(&mut self, seq: u64, wrap32: bool) -> Option<u64> {
        let prev = self.last.replace(seq);
        let Some(prev) = prev else {
            return Some(0);
        };
        let diff = if wrap32 {
            (seq as u32).wrapping_sub(prev as u32) as u64
        } else {
            seq.wrapping_sub(prev)
        };
        let half = if wrap32 { 1u64 << 31 } else { 1u64 << 63 };
        if diff == 0 || diff >= half {
            None
        } else {
            Some(diff - 1)
        }
    }
}

/// The state of one session.
struct Session<'a> {
    s: ListenSummary,
    seq: SeqTrack,
    out: &'a mut dyn Write,
    err: &'a mut dyn Write,
    line: Vec<u8>,
    count: Option<u64>,
}

impl<'a> Session<'a> {
    fn new(out: &'a mut dyn Write, err: &'a mut dyn Write, count: Option<u64>) -> Self {
        Session {
            s: ListenSummary {
                encoding: "none",
                ..ListenSummary::default()
            },
            seq: SeqTrack::default(),
            out,
            err,
            line: Vec::with_capacity(16 * 1024),
            count,
        }
    }

    fn done(&self) -> bool {
        self.count.is_some_and(|c| self.s.frames >= c)
    }

    fn report(&mut self, what: std::fmt::Arguments<'_>) {
        let _ = writeln!(self.err, "edgepose listen: {what}");
    }

    fn after(&self) -> String {
        match self.seq.last {
            Some(s) => format!("after seq {s}"),
            None => "before the first frame".to_string(),
        }
    }

    fn seen_seq(&mut self, seq: u64, wrap32: bool) {
        let prev = self.seq.last;
        match self.seq.note(seq, wrap32) {
            Some(0) => {}
            Some(n) => {
                self.s.gaps += 1;
                self.s.missing += n;
                self.report(format_args!(
                    "gap: seq {} follows {}: {n} frames missing",
                    seq,
                    prev.unwrap_or(0)
                ));
            }
            None => {
                self.s.seq_restarts += 1;
                self.report(format_args!(
                    "sequence restarted: seq {seq} follows {}",
                    prev.unwrap_or(0)
                ));
            }
        }
    }

    fn bad(&mut self, crc: bool, why: &dyn std::fmt::Display) {
        if crc {
            self.s.crc_errors += 1;
        } else {
            self.s.undecodable += 1;
        }
        let after = self.after();
        self.report(format_args!("frame {after} dropped: {why}"));
    }

    fn frame(&mut self, f: &FrameView<'_>) -> Result<(), ListenError> {
        self.s.frames += 1;
        self.seen_seq(f.seq() as u64, true);
        self.line.clear();
        serde_json::to_writer(&mut self.line, &FrameJson(f))
            .map_err(|e| ListenError::Write(std::io::Error::other(e)))?;
        self.line.push(b'\n');
        self.out.write_all(&self.line).map_err(ListenError::Write)
    }

    fn json_line(&mut self, line: &[u8], first: bool) -> Result<(), ListenError> {
        let text = line.strip_suffix(b"\r").unwrap_or(line);
        if text.is_empty() {
            return Ok(());
        }
        let seq = serde_json::from_slice::<serde_json::Value>(text)
            .ok()
            .and_then(|v| v.get("seq").and_then(serde_json::Value::as_u64));
        match seq {
            Some(seq) => {
                self.s.frames += 1;
                self.seen_seq(seq, false);
                self.out.write_all(text).map_err(ListenError::Write)?;
                self.out.write_all(b"\n").map_err(ListenError::Write)
            }
            None if first => {
                self.s.skipped_bytes += line.len() as u64;
                Ok(())
            }
            None => {
                self.bad(false, &"not a JSON record with a seq");
                Ok(())
            }
        }
    }
}

struct FrameJson<'a, 'b>(&'a FrameView<'b>);

impl Serialize for FrameJson<'_, '_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::{SerializeMap, SerializeSeq};
        let f = self.0;
        let mut m = s.serialize_map(Some(7))?;
        m.serialize_entry("seq", &f.seq())?;
        m.serialize_entry("timestamp_ms", &(f.timestamp_us() as f64 / 1000.0))?;
        m.serialize_entry("width", &f.width())?;
        m.serialize_entry("height", &f.height())?;
        m.serialize_entry("tracked", &f.tracked())?;
        m.serialize_entry("truncated", &f.truncated())?;
        struct Persons<'a, 'b>(&'a FrameView<'b>);
        impl Serialize for Persons<'_, '_> {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                let mut seq = s.serialize_seq(Some(self.0.num_persons()))?;
                for p in self.0.persons() {
                    seq.serialize_element(&PersonJson(p))?;
                }
                seq.end()
            }
        }
        m.serialize_entry("persons", &Persons(f))?;
        m.end()
    }
}

struct PersonJson<'a>(wire::PersonView<'a>);

#[derive(Serialize)]
struct KeypointJson {
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<&'static str>,
    x: f32,
    y: f32,
    score: f32,
}

impl Serialize for PersonJson<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::{SerializeMap, SerializeSeq};
        let p = &self.0;
        let mut m = s.serialize_map(None)?;
        if let Some(id) = p.track_id() {
            m.serialize_entry("track_id", &id)?;
        }
        m.serialize_entry("box", &p.bbox())?;
        m.serialize_entry("score", &p.score())?;
        struct Kps<'a>(wire::PersonView<'a>);
        impl Serialize for Kps<'_> {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                let kps = self.0.keypoints();
                let coco = kps.len() == COCO17_NAMES.len();
                let mut seq = s.serialize_seq(Some(kps.len()))?;
                for (j, k) in kps.enumerate() {
                    seq.serialize_element(&KeypointJson {
                        name: coco.then(|| COCO17_NAMES[j]),
                        x: k.x,
                        y: k.y,
                        score: k.score,
                    })?;
                }
                seq.end()
            }
        }
        m.serialize_entry("keypoints", &Kps(self.0))?;
        m.end()
    }
}

/// Longest JSON line accepted.
const MAX_LINE: usize = 1 << 20;
/// Receive buffer for binary frames: any frame edgepose sends.
const FRAME_BUF: usize = wire::MAX_PAYLOAD_LEN + 256;

/// Guesses the encoding from the first bytes; `None` while undecided.
fn detect(bytes: &[u8]) -> Option<ListenEncoding> {
    // Only the encoding is decided here, so the first line counts even if
    // it might be the tail of one.
    let mut line_start = Some(0);
    for (i, &b) in bytes.iter().enumerate() {
        match b {
            0 => return Some(ListenEncoding::Binary),
            b'\n' => {
                if let Some(s) = line_start {
                    if bytes.get(s) == Some(&b'{') && i > s {
                        return Some(ListenEncoding::Json);
                    }
                }
                line_start = Some(i + 1);
            }
            b'\t' | b'\r' => {}
            0x01..=0x1f | 0x7f => return Some(ListenEncoding::Binary),
            _ => {}
        }
    }
    if bytes.len() > 4096 {
        // Long text with no complete record line: call it JSON and let
        // the line checks report it.
        return Some(ListenEncoding::Json);
    }
    None
}

/// The `listen` command: decodes to standard output until the input ends
/// or SIGINT/SIGTERM, then prints the summary on standard error.
pub fn command(a: &ListenArgs) -> anyhow::Result<std::process::ExitCode> {
    let stop = std::sync::Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(sig, std::sync::Arc::clone(&stop))?;
    }
    let o = ListenOptions {
        port: a.port.clone(),
        opts: PortOptions {
            baud: a.baud,
            data_bits: a.data_bits,
            parity: a.parity,
            stop_bits: a.stop_bits,
            flow: a.flow,
        },
        encoding: a.encoding,
        count: a.count,
    };
    let mut out = std::io::stdout().lock();
    let mut err = std::io::stderr();
    let s = run(&o, &stop, &mut out, &mut err)?;
    if a.json_summary {
        eprintln!("{}", serde_json::to_string(&s)?);
    } else {
        eprintln!("edgepose {}", s.human());
    }
    Ok(std::process::ExitCode::SUCCESS)
}

/// Which decoder is running.
enum Mode {
    /// Bytes held until [`detect`] decides.
    Undecided(Vec<u8>),
    Binary,
    Json {
        line: Vec<u8>,
        synced: bool,
        /// Bytes of the current line beyond [`MAX_LINE`] (not kept).
        overlong: u64,
    },
}

impl Mode {
    fn for_encoding(e: ListenEncoding) -> Self {
        match e {
            ListenEncoding::Auto => Mode::Undecided(Vec::new()),
            ListenEncoding::Binary => Mode::Binary,
            ListenEncoding::Json => json_mode(),
        }
    }
}

fn json_mode() -> Mode {
    Mode::Json {
        line: Vec::with_capacity(16 * 1024),
        synced: false,
        overlong: 0,
    }
}

/// A line longer than [`MAX_LINE`] has ended (`total` bytes): said on
/// stderr with its length, and counted as skipped (the first line, where
/// `listen` may have joined mid-record) or as undecodable.
fn overlong_line(sess: &mut Session<'_>, total: u64, first: bool) {
    let why = format!(
        "a line of {total} bytes, longer than the {} MiB a JSON record may have",
        MAX_LINE >> 20
    );
    if first {
        sess.s.skipped_bytes += total;
        sess.report(format_args!("skipped at start: {why}"));
    } else {
        sess.bad(false, &why);
    }
}

/// End of input: settles an undecided stream and counts an incomplete tail.
fn finish(
    mode: &mut Mode,
    deframer: &mut Deframer<'_>,
    sess: &mut Session<'_>,
) -> Result<(), ListenError> {
    // End of input: settle an undecided stream, count an incomplete tail.
    if let Mode::Undecided(bytes) = mode {
        let bytes = std::mem::take(bytes);
        if !bytes.is_empty() {
            let text = bytes.iter().all(|&b| b >= 0x20 || b"\t\r\n".contains(&b));
            *mode = if text { json_mode() } else { Mode::Binary };
            feed(mode, deframer, &bytes, sess)?;
        }
    }
    match mode {
        Mode::Binary => sess.s.incomplete_bytes += deframer.pending() as u64,
        Mode::Json {
            line,
            synced,
            overlong,
        } if *overlong > 0 && !sess.done() => {
            let total = line.len() as u64 + *overlong;
            overlong_line(sess, total, !*synced);
        }
        Mode::Json { line, synced, .. } if !line.is_empty() && !sess.done() => {
            // A last line without its newline: take it if it is whole.
            let l = std::mem::take(line);
            let first = !*synced;
            let before = (sess.s.frames, sess.s.undecodable, sess.s.skipped_bytes);
            sess.json_line(&l, first)?;
            if sess.s.frames == before.0 {
                // Cut off, not damaged.
                sess.s.undecodable = before.1;
                sess.s.skipped_bytes = before.2;
                sess.s.incomplete_bytes += l.len() as u64;
            }
        }
        _ => {}
    }
    if sess.s.incomplete_bytes > 0 {
        let n = sess.s.incomplete_bytes;
        sess.report(format_args!(
            "input ended inside a frame: {n} bytes incomplete"
        ));
    }
    Ok(())
}

/// Decodes `chunks` as `listen` decodes what it reads (`encoding` given or
/// detected, at most `count` frames), records to `out`, reports to `err`:
/// all of `listen` but the port. For the fuzz target (`fuzz/`).
pub fn decode_chunks<'c>(
    chunks: impl IntoIterator<Item = &'c [u8]>,
    encoding: ListenEncoding,
    count: Option<u64>,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<ListenSummary, ListenError> {
    let mut frame_buf = vec![0u8; FRAME_BUF];
    let mut deframer = Deframer::new(&mut frame_buf);
    let mut sess = Session::new(out, err, count);
    let mut mode = Mode::for_encoding(encoding);
    for chunk in chunks {
        if sess.done() {
            break;
        }
        sess.s.bytes += chunk.len() as u64;
        feed(&mut mode, &mut deframer, chunk, &mut sess)?;
    }
    finish(&mut mode, &mut deframer, &mut sess)?;
    Ok(sess.s)
}

/// Runs `listen` until end of input, `count` frames, or `stop`.
pub fn run(
    o: &ListenOptions,
    stop: &AtomicBool,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<ListenSummary, ListenError> {
    let mut input = Input::open(&o.port, &o.opts)?;
    let mut frame_buf = vec![0u8; FRAME_BUF];
    let mut deframer = Deframer::new(&mut frame_buf);
    let mut sess = Session::new(out, err, o.count);
    let what = match &input {
        Input::Port(_) => format!("serial {}", o.opts.describe()),
        Input::File(_) if o.port == "-" => "standard input".to_string(),
        Input::File(_) => "file".to_string(),
    };
    let enc = match o.encoding {
        ListenEncoding::Auto => "auto",
        ListenEncoding::Binary => "binary",
        ListenEncoding::Json => "json",
    };
    sess.report(format_args!("reading {} ({what}, encoding {enc})", o.port));
    let mut mode = Mode::for_encoding(o.encoding);
    let mut chunk = vec![0u8; 4096];
    while !stop.load(Ordering::Relaxed) && !sess.done() {
        let n = match input.read(&mut chunk) {
            Got::Data(n) => n,
            Got::Nothing => continue,
            Got::Eof => break,
            Got::Lost(e) if matches!(input, Input::Port(_)) => {
                sess.s.disconnects += 1;
                sess.report(format_args!(
                    "{}: port lost ({e}); waiting for it to come back",
                    o.port
                ));
                // Whatever was half-received is gone; start unsynced.
                match &mut mode {
                    Mode::Binary => {
                        sess.s.incomplete_bytes += deframer.pending() as u64;
                        deframer.reset();
                    }
                    Mode::Json { line, synced, .. } => {
                        sess.s.incomplete_bytes += line.len() as u64;
                        line.clear();
                        *synced = false;
                    }
                    Mode::Undecided(_) => {}
                }
                let Input::Port(link) = &mut input else {
                    break;
                };
                if !reopen(link, stop)? {
                    break;
                }
                sess.report(format_args!("{}: reconnected", o.port));
                continue;
            }
            Got::Lost(e) => {
                return Err(ListenError::Read {
                    path: o.port.clone(),
                    source: e,
                })
            }
        };
        sess.s.bytes += n as u64;
        feed(&mut mode, &mut deframer, &chunk[..n], &mut sess)?;
    }
    finish(&mut mode, &mut deframer, &mut sess)?;
    let _ = sess.out.flush();
    Ok(sess.s)
}

/// Waits for a lost serial device to come back (reopening with the
/// link's backoff); false when stopped first.
fn reopen(link: &mut Link, stop: &AtomicBool) -> Result<bool, ListenError> {
    link.lost();
    while link.wait_due(stop) {
        match link.connect() {
            Ok(()) => return Ok(true),
            Err(e) if is_absent(&e) => {}
            Err(e) => {
                return Err(ListenError::Open {
                    path: link.path().to_string(),
                    why: explain_open_error(&e),
                })
            }
        }
    }
    Ok(false)
}

fn feed(
    mode: &mut Mode,
    deframer: &mut Deframer<'_>,
    data: &[u8],
    sess: &mut Session<'_>,
) -> Result<(), ListenError> {
    if let Mode::Undecided(pending) = mode {
        pending.extend_from_slice(data);
        let Some(enc) = detect(pending) else {
            return Ok(());
        };
        let bytes = std::mem::take(pending);
        *mode = if enc == ListenEncoding::Json {
            json_mode()
        } else {
            Mode::Binary
        };
        return feed(mode, deframer, &bytes, sess);
    }
    match mode {
        Mode::Undecided(_) => {}
        Mode::Binary => {
            sess.s.encoding = "binary";
            for &b in data {
                if sess.done() {
                    break;
                }
                match deframer.feed(b) {
                    None => {}
                    Some(Event::Frame(f)) => sess.frame(&f)?,
                    Some(Event::Error(e)) => sess.bad(e.is_crc(), &e),
                    Some(Event::Skipped(n)) => sess.s.skipped_bytes += n as u64,
                }
            }
        }
        Mode::Json {
            line,
            synced,
            overlong,
        } => {
            sess.s.encoding = "json";
            for &b in data {
                if sess.done() {
                    break;
                }
                if b != b'\n' {
                    if line.len() < MAX_LINE {
                        line.push(b);
                    } else {
                        *overlong += 1;
                    }
                    continue;
                }
                let first = !*synced;
                *synced = true;
                if *overlong > 0 {
                    let total = line.len() as u64 + std::mem::take(overlong);
                    line.clear();
                    overlong_line(sess, total, first);
                    continue;
                }
                sess.json_line(line, first)?;
                line.clear();
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_encodings() {
        assert_eq!(detect(b"\x00\x05EP"), Some(ListenEncoding::Binary));
        assert_eq!(detect(b"\x05EP\x01"), Some(ListenEncoding::Binary));
        assert_eq!(detect(b"{\"seq\":1"), None);
        assert_eq!(detect(b"{\"seq\":1}\n"), Some(ListenEncoding::Json));
        assert_eq!(detect(b"tail of a line\n"), None, "partial first line");
        assert_eq!(detect(b"tail\n{\"seq\":2}\n"), Some(ListenEncoding::Json));
    }

    #[test]
    fn sequence_gaps_wrap_and_restarts() {
        let mut t = SeqTrack::default();
        assert_eq!(t.note(u32::MAX as u64 - 1, true), Some(0));
        assert_eq!(t.note(u32::MAX as u64, true), Some(0));
        assert_eq!(t.note(2, true), Some(2), "wrapped past 0 and 1");
        assert_eq!(t.note(2, true), None, "repeat");
        assert_eq!(t.note(0, true), None, "went back");
        let mut j = SeqTrack::default();
        j.note(10, false);
        assert_eq!(j.note(15, false), Some(4));
    }
}
