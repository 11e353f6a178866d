//! Files from outside, read with a stated cap per kind of file, so that no
//! file (a huge one, `/dev/zero`, a FIFO nobody closes) makes edgepose read
//! or allocate more than the cap before refusing it; and TOML parse errors
//! that say where (line, column, field). The caps are listed in
//! docs/robustness.md; images and recordings have their own (pixel and
//! frame caps, in their sources), the model file its own (the
//! `edgepose-model-file` crate).

use std::io::Read;
use std::path::Path;

use serde::de::DeserializeOwned;

/// Bytes [`read_checked`] shows its check before reading on.
pub const HEAD_LEN: usize = 16;

const KIB: u64 = 1 << 10;
const MIB: u64 = 1 << 20;

/// A kind of file and the most bytes edgepose reads of one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Kind {
    /// What it is called in messages ("config file").
    pub what: &'static str,
    /// Largest accepted size in bytes.
    pub cap: u64,
}

/// A config file (a few KB).
pub const CONFIG: Kind = Kind {
    what: "config file",
    cap: MIB,
};
/// A model manifest (a few hundred bytes of TOML).
pub const MANIFEST: Kind = Kind {
    what: "manifest",
    cap: 64 * KIB,
};
/// A board profile (a few KB).
pub const BOARD: Kind = Kind {
    what: "board profile",
    cap: MIB,
};
/// A PEM file (CA bundle, client certificate, key) or a password file; a
/// system CA bundle is about 200 KB.
pub const SECRET: Kind = Kind {
    what: "certificate, key or password file",
    cap: 4 * MIB,
};
/// A COCO annotation or results file (`person_keypoints_val2017.json` is
/// 10 MB).
pub const COCO: Kind = Kind {
    what: "COCO JSON file",
    cap: 256 * MIB,
};
/// One JPEG or PNG image file (a 40-megapixel JPEG is about 20 MB).
pub const IMAGE: Kind = Kind {
    what: "image file",
    cap: 64 * MIB,
};
/// A short identification file of the running system (device tree).
pub const SYSTEM: Kind = Kind {
    what: "system file",
    cap: 64 * KIB,
};

/// Why a file could not be read (the caller names the file).
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("No such file or directory")]
    NotFound,
    #[error("it is a directory, not a {0}")]
    Directory(&'static str),
    #[error("{0}")]
    Io(std::io::Error),
    #[error("{}", too_large(what, *.size, *.cap))]
    TooLarge {
        what: &'static str,
        /// The size, or `None` when only "more than the cap" is known.
        size: Option<u64>,
        cap: u64,
    },
    #[error("it is not UTF-8 text (invalid byte at offset {0})")]
    NotText(usize),
    /// The first bytes show it is not that kind of file.
    #[error("{0}")]
    Content(String),
}

/// A cap for people: "16 bytes", "64 KiB", "1 MiB".
pub fn size_text(bytes: u64) -> String {
    match bytes {
        b if b >= MIB && b % MIB == 0 => format!("{} MiB", b / MIB),
        b if b >= KIB && b % KIB == 0 => format!("{} KiB", b / KIB),
        b => format!("{b} bytes"),
    }
}

fn too_large(what: &str, size: Option<u64>, cap: u64) -> String {
    match size {
        Some(size) => format!(
            "it is {size} bytes, more than the {} a {what} may have",
            size_text(cap)
        ),
        None => format!(
            "it goes on past the {} a {what} may have (read that far and stopped)",
            size_text(cap)
        ),
    }
}

impl ReadError {
    fn io(e: std::io::Error) -> Self {
        match e.kind() {
            std::io::ErrorKind::NotFound => ReadError::NotFound,
            _ => ReadError::Io(e),
        }
    }
}

/// Reads the file at `path` into `buf` (cleared first, its capacity kept),
/// refusing more than `kind.cap` bytes: a regular file from its length,
/// anything else (a pipe, a device) after `kind.cap + 1` bytes.
pub fn read_into(path: &Path, kind: Kind, buf: &mut Vec<u8>) -> Result<(), ReadError> {
    read_checked(path, kind, buf, |_| Ok(()))
}

/// [`read_into`], refusing the file after its first [`HEAD_LEN`] bytes (or
/// fewer, if that is all there is) when `head` says they cannot start this
/// kind of file: `/dev/zero` given as an image is refused without reading
/// it up to the cap.
pub fn read_checked(
    path: &Path,
    kind: Kind,
    buf: &mut Vec<u8>,
    head: impl FnOnce(&[u8]) -> Result<(), String>,
) -> Result<(), ReadError> {
    buf.clear();
    let file = std::fs::File::open(path).map_err(ReadError::io)?;
    let meta = file.metadata().map_err(ReadError::io)?;
    if meta.is_dir() {
        return Err(ReadError::Directory(kind.what));
    }
    let too_large = |size| ReadError::TooLarge {
        what: kind.what,
        size,
        cap: kind.cap,
    };
    if meta.is_file() && meta.len() > kind.cap {
        return Err(too_large(Some(meta.len())));
    }
    if meta.is_file() {
        buf.reserve(usize::try_from(meta.len()).unwrap_or(0));
    }
    let mut reader = file.take(kind.cap + 1);
    (&mut reader)
        .take(HEAD_LEN as u64)
        .read_to_end(buf)
        .map_err(ReadError::io)?;
    head(buf).map_err(ReadError::Content)?;
    reader.read_to_end(buf).map_err(ReadError::io)?;
    if buf.len() as u64 > kind.cap {
        buf.clear();
        return Err(too_large(None));
    }
    Ok(())
}

/// Reads the file at `path` (see [`read_into`]).
pub fn read(path: &Path, kind: Kind) -> Result<Vec<u8>, ReadError> {
    let mut buf = Vec::new();
    read_into(path, kind, &mut buf)?;
    Ok(buf)
}

/// Reads the file at `path` as UTF-8 text (see [`read_into`]).
pub fn read_text(path: &Path, kind: Kind) -> Result<String, ReadError> {
    String::from_utf8(read(path, kind)?)
        .map_err(|e| ReadError::NotText(e.utf8_error().valid_up_to()))
}

/// Parses TOML `text` into `T`. The error says where: `line L, column C:
/// field F: what` (the field as a dotted path when the parser knows it).
pub fn parse_toml<T: DeserializeOwned>(text: &str) -> Result<T, String> {
    toml::from_str(text).map_err(|e| toml_error(text, e))
}

fn toml_error(text: &str, mut e: toml::de::Error) -> String {
    let one_line = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut out = String::new();
    if let Some(span) = e.span() {
        let (line, col) = line_column(text, span.start);
        out.push_str(&format!("line {line}, column {col}: "));
    }
    // The parser keeps the keys it was in, but shows them only in its
    // Display without the input ("...\nin `a.b`").
    e.set_input(None);
    let shown = e.to_string();
    if let Some(keys) = shown
        .lines()
        .rev()
        .find_map(|l| l.strip_prefix("in `").and_then(|k| k.strip_suffix('`')))
    {
        out.push_str(&format!("field {keys}: "));
    }
    out.push_str(&one_line(e.message()));
    out
}

/// 1-based line and column (in characters) of byte `at` of `text`.
fn line_column(text: &str, at: usize) -> (usize, usize) {
    let at = at.min(text.len());
    let before = text.get(..at).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, before[start..].chars().count() + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Conf {
        threads: Option<usize>,
        keypoints: Option<Kp>,
    }

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Kp {
        names: Vec<String>,
    }

    #[test]
    fn toml_errors_say_line_column_and_field() {
        let e = parse_toml::<Conf>("# c\nthreads = \"four\"\n").unwrap_err();
        assert_eq!(
            e,
            "line 2, column 11: field threads: invalid type: string \"four\", expected usize"
        );
        let e = parse_toml::<Conf>("threads = 1\nthreads = 2\n").unwrap_err();
        assert!(
            e.starts_with("line 2, column 1: ") && e.contains("duplicate key"),
            "{e}"
        );
        let e = parse_toml::<Conf>("[keypoints]\nnames = [\"a\", 3]\n").unwrap_err();
        assert!(
            e.starts_with("line 2, column 15: field keypoints.names: invalid type: integer"),
            "{e}"
        );
        let e = parse_toml::<Conf>("treads = 2").unwrap_err();
        assert!(
            e.starts_with("line 1, column 1: ") && e.contains("unknown field `treads`"),
            "{e}"
        );
        let e = parse_toml::<Conf>("threads = ").unwrap_err();
        assert!(e.starts_with("line 1, column 11: "), "{e}");
    }

    #[test]
    fn reads_are_capped() {
        let tiny = Kind {
            what: "test file",
            cap: 16,
        };
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        std::fs::write(&p, [b'x'; 16]).unwrap();
        assert_eq!(read(&p, tiny).unwrap().len(), 16);
        std::fs::write(&p, [b'x'; 17]).unwrap();
        let e = read(&p, tiny).unwrap_err().to_string();
        assert_eq!(
            e,
            "it is 17 bytes, more than the 16 bytes a test file may have"
        );
        // A device that never ends: refused after cap + 1 bytes.
        let e = read(Path::new("/dev/zero"), CONFIG)
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "it goes on past the 1 MiB a config file may have (read that far and stopped)"
        );
        let e = read(dir.path(), tiny).unwrap_err().to_string();
        assert_eq!(e, "it is a directory, not a test file");
        let e = read(&dir.path().join("nope"), tiny)
            .unwrap_err()
            .to_string();
        assert_eq!(e, "No such file or directory");
        let e = read_checked(Path::new("/dev/zero"), IMAGE, &mut Vec::new(), |b| {
            Err(format!("starts with {}", b.len()))
        });
        assert_eq!(e.unwrap_err().to_string(), "starts with 16");
        std::fs::write(&p, [b'a', 0xff]).unwrap();
        let e = read_text(&p, tiny).unwrap_err().to_string();
        assert_eq!(e, "it is not UTF-8 text (invalid byte at offset 1)");
    }
}
