//! `wire_stream`: arbitrary bytes as a serial receiver gets them.
//!
//! Input: `[mode and buffer size, read-pattern seed, stream bytes...]`.
//! In *sealed* mode the stream bytes are instead records `[len: u16 LE,
//! len bytes]`, each sent as a frame whose payload is those bytes plus
//! their correct CRC: random bytes almost never pass the CRC, and this
//! lets the fuzzer reach the checks behind it (magic, version, the length
//! N and K imply) and the frame reader with arbitrary headers.
//! The stream goes through a [`Deframer`] the way `edgepose listen` feeds it
//! (reads of varying size; between reads a "lost port" may `reset()` it, as
//! listen does on a disconnect), with a receive buffer of listen's size or
//! a small one. Alongside, a plain model splits the same bytes at `0x00`
//! and decodes each piece on its own copy; at every delimiter the
//! Deframer's event must be exactly the model's. Every frame is walked
//! completely and re-encoded (see `check`), and at the end the byte
//! accounting must balance: every byte fed was part of a piece that was
//! reported, a delimiter, or still pending or dropped at a reset.
//!
//! The raw stream also goes straight to `FrameView::parse` and, as one
//! piece, to `decode_frame`.
#![no_main]

use edgepose_fuzz::check;
use edgepose_fuzz::wire::{self, decode_frame, Deframer, Event, FrameView, WireError};
use libfuzzer_sys::fuzz_target;

/// `edgepose listen`'s receive buffer (src/cmd/listen.rs).
const LISTEN_BUF: usize = wire::MAX_PAYLOAD_LEN + 256;

fuzz_target!(|data: &[u8]| run(data));

/// What the model expects at a delimiter ending a non-empty piece.
fn expected(piece: &[u8], cap: usize, scratch: &mut Vec<u8>) -> Result<usize, WireError> {
    if piece.len() > cap {
        return Err(WireError::TooLong);
    }
    scratch.clear();
    scratch.extend_from_slice(piece);
    let n = cobs::decode_in_place(scratch).map_err(|_| WireError::Cobs)?;
    scratch.truncate(n);
    FrameView::parse(scratch).map(|_| n)
}

/// Checks one decoded frame against the model's payload bytes.
fn check_frame(f: &FrameView<'_>, payload: &[u8]) {
    check::walk(f);
    assert_eq!(
        payload.len(),
        wire::payload_len(f.num_persons(), f.num_keypoints()),
        "accepted payload length disagrees with N and K"
    );
    assert_eq!(payload[..2], wire::MAGIC);
    assert_eq!(payload[2], wire::VERSION);
    let model = FrameView::parse(payload).expect("the model decoded it");
    check::assert_same_values(f, &model);
    // Round trip: the values encode to the same payload, frame without
    // inner zeros, and decode to the same values.
    let mut again = vec![0u8; payload.len()];
    let n = check::reencode(f, &mut again);
    assert_eq!(n, payload.len());
    check::assert_same_payload(payload, &again);
    let mut framed = vec![0u8; wire::max_framed_len(n)];
    let m = wire::frame(&again, &mut framed).expect("max_framed_len is enough");
    assert_eq!(framed[m - 1], 0, "frame ends with the delimiter");
    assert!(!framed[..m - 1].contains(&0), "COBS left a zero inside");
    let back = decode_frame(&mut framed[..m - 1]).expect("a re-encoded frame decodes");
    check::assert_same_values(f, &back);
    assert!(!back.truncated());
}

/// Sealed mode: records `[len: u16 LE, len bytes]` (the last one cut to
/// what is there), each framed with the CRC of its bytes appended.
fn seal(mut input: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some((&len, rest)) = input.split_first_chunk::<2>() {
        let len = (u16::from_le_bytes(len) as usize).min(rest.len());
        let (body, tail) = rest.split_at(len);
        input = tail;
        let mut payload = body.to_vec();
        payload.extend_from_slice(&wire::CRC32C.checksum(body).to_le_bytes());
        let start = out.len();
        out.resize(start + wire::max_framed_len(payload.len()), 0);
        let n = wire::frame(&payload, &mut out[start..]).expect("sized by max_framed_len");
        out.truncate(start + n);
    }
    out
}

/// Small deterministic generator for the read sizes.
struct Rng(u32);

impl Rng {
    fn next(&mut self) -> u32 {
        // xorshift32; the seed is never 0.
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 17;
        self.0 ^= self.0 << 5;
        self.0
    }
}

#[derive(Default, Debug)]
struct Counts {
    fed: usize,
    delimiters: usize,
    frames: usize,
    errors: usize,
    skipped_pieces: usize,
    /// Bytes of pieces that ended in a delimiter and were reported.
    piece_bytes: usize,
    skipped_bytes: usize,
    /// Bytes pending when a reset dropped them.
    dropped_bytes: usize,
}

fn run(data: &[u8]) {
    let Some((&[mode, read_sel], raw)) = data.split_first_chunk::<2>() else {
        return;
    };
    // Bit 7: listen's buffer, else (bits 0-5) × 4 bytes; bit 6: sealed.
    let cap = if mode & 0x80 != 0 {
        LISTEN_BUF
    } else {
        (mode & 0x3f) as usize * 4
    };
    let sealed;
    let stream = if mode & 0x40 != 0 {
        sealed = seal(raw);
        &sealed[..]
    } else {
        raw
    };
    let mut buf = vec![0u8; cap];
    let mut d = Deframer::new(&mut buf);
    // Read sizes 1..=64 (seed 0: the stream in one read); with the seed's
    // top bit set, one read boundary in four loses the port.
    let mut rng = Rng(u32::from(read_sel) | 0x100);
    let resets = read_sel & 0x80 != 0;

    let mut piece: Vec<u8> = Vec::new();
    let mut scratch: Vec<u8> = Vec::new();
    let mut synced = false;
    let mut c = Counts::default();
    let mut rest = stream;
    while !rest.is_empty() {
        let take = if read_sel == 0 {
            rest.len()
        } else {
            (1 + rng.next() as usize % 64).min(rest.len())
        };
        let (read, tail) = rest.split_at(take);
        rest = tail;
        for &b in read {
            c.fed += 1;
            if b != 0 {
                piece.push(b);
                assert!(d.feed(b).is_none(), "an event without a delimiter");
                assert_eq!(d.pending(), piece.len());
                continue;
            }
            c.delimiters += 1;
            assert_eq!(d.pending(), piece.len());
            let first = !synced;
            synced = true;
            let event = d.feed(0);
            if piece.is_empty() {
                assert!(event.is_none(), "an event for an empty piece: {event:?}");
                assert_eq!(d.pending(), 0);
                continue;
            }
            let want = expected(&piece, cap, &mut scratch);
            match (event, want) {
                (Some(Event::Frame(f)), Ok(n)) => {
                    c.frames += 1;
                    check_frame(&f, &scratch[..n]);
                }
                (Some(Event::Error(e)), Err(w)) if !first => {
                    c.errors += 1;
                    assert_eq!(e, w);
                    assert_eq!(e.is_crc(), matches!(e, WireError::Crc { .. }));
                }
                (Some(Event::Skipped(n)), Err(_)) if first => {
                    c.skipped_pieces += 1;
                    c.skipped_bytes += n;
                    assert_eq!(n, piece.len(), "skipped count");
                }
                (got, want) => {
                    panic!("deframer said {got:?}, model says {want:?} (first piece: {first})")
                }
            }
            assert_eq!(d.pending(), 0);
            c.piece_bytes += piece.len();
            piece.clear();
        }
        if resets && !rest.is_empty() && rng.next().is_multiple_of(4) {
            // The port was lost: what was half-received is gone.
            assert_eq!(d.pending(), piece.len());
            c.dropped_bytes += d.pending();
            d.reset();
            assert_eq!(d.pending(), 0);
            piece.clear();
            synced = false;
        }
    }
    // Accounting: every byte fed is in a reported piece, a delimiter,
    // dropped at a reset, or still pending.
    assert_eq!(d.pending(), piece.len());
    assert_eq!(
        c.piece_bytes + c.delimiters + c.dropped_bytes + d.pending(),
        c.fed,
        "{c:?}"
    );
    assert_eq!(c.fed, stream.len());
    assert!(c.skipped_bytes <= c.piece_bytes);
    assert!(c.frames + c.errors + c.skipped_pieces <= c.delimiters);

    // The same bytes straight into the payload parser and, as one piece,
    // into the piece decoder.
    if let Ok(f) = FrameView::parse(raw) {
        check_frame(&f, raw);
    }
    scratch.clear();
    scratch.extend_from_slice(raw);
    if let Ok(f) = decode_frame(&mut scratch) {
        check::walk(&f);
    }
}
