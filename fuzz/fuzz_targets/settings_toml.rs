//! `settings_toml`: arbitrary text as each TOML file edgepose reads, through
//! the same parse and validation as the command line uses: the first byte
//! picks the config file (`FileConfig`, serde with unknown fields rejected,
//! errors located by `files::parse_toml`), a model manifest
//! (`Manifest::parse`, with its validation) or a board profile
//! (`Board::parse`). It must never panic, every error must be one line
//! that says where (`line L, column C: ...` when the parser knows), and an
//! accepted manifest must hold what the decoders index by.
#![no_main]

use edgepose::board::Board;
use edgepose::config::FileConfig;
use edgepose::model::Manifest;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&which, rest)) = data.split_first() else {
        return;
    };
    let text = String::from_utf8_lossy(rest);
    match which % 3 {
        0 => {
            if let Err(e) = edgepose::files::parse_toml::<FileConfig>(&text) {
                one_line(&e);
            }
        }
        1 => match Manifest::parse("fuzz.toml", &text) {
            Ok(m) => {
                let k = m.keypoints.names.len();
                assert!(k > 0);
                assert!(m.keypoints.skeleton.iter().all(|e| e[0] < k && e[1] < k));
            }
            Err(e) => one_line(&e.to_string()),
        },
        _ => {
            if let Err(e) = Board::parse("fuzz.toml", &text) {
                one_line(&e.to_string());
            }
        }
    }
});

/// An error edgepose prints must be one line (main joins whitespace, but a
/// message should not rely on it).
fn one_line(e: &str) {
    assert!(!e.is_empty());
    assert!(!e.contains('\n'), "{e:?}");
}
