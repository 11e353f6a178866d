//! `listen_stream`: arbitrary bytes as what `edgepose listen` reads, through
//! the same decoding (`cmd::listen::decode_chunks`: encoding detection, the
//! bounded JSON line buffer, the binary deframer, sequence bookkeeping, the
//! end-of-input rules). Input: `[mode, read seed, bytes...]`; mode picks
//! auto/binary/JSON and an optional frame count, the seed how the bytes are
//! cut into reads. Nothing may panic, every byte read must be counted, and
//! every line written must be one JSON object with a `seq` (a JSON record
//! passed through, or a decoded binary frame).
#![no_main]

use edgepose::cli::ListenEncoding;
use edgepose::cmd::listen::decode_chunks;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let [mode, seed, rest @ ..] = data else {
        return;
    };
    let encoding = match mode & 3 {
        0 | 3 => ListenEncoding::Auto,
        1 => ListenEncoding::Binary,
        _ => ListenEncoding::Json,
    };
    let count = (mode & 4 != 0).then_some(u64::from(mode >> 3));
    let mut chunks = Vec::new();
    let (mut at, mut s) = (0, u32::from(*seed) | 1);
    while at < rest.len() {
        s = s.wrapping_mul(1_103_515_245).wrapping_add(12_345);
        let n = if *seed == 0 {
            rest.len()
        } else {
            1 + (s >> 16) as usize % 64
        };
        let end = (at + n).min(rest.len());
        chunks.push(&rest[at..end]);
        at = end;
    }
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let summary = decode_chunks(chunks, encoding, count, &mut out, &mut err)
        .expect("writing to memory cannot fail");
    if count.is_none() {
        assert_eq!(summary.bytes, rest.len() as u64);
    }
    let mut lines = 0;
    for line in out.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        let v: serde_json::Value = serde_json::from_slice(line).expect("a JSON line");
        assert!(v.get("seq").and_then(|s| s.as_u64()).is_some(), "{v}");
        lines += 1;
    }
    assert_eq!(lines, summary.frames);
    if let Some(c) = count {
        assert!(summary.frames <= c.max(0));
    }
});
