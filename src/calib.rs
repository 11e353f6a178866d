//! Calibration inputs for the model factory (`scripts/quantize.sh`): the
//! exact model-input tensors edgepose feeds a model, for frames of a source
//! (a folder of images or a `raw:` recording), written as one NumPy `.npy`
//! array `[N, H, W, 3]` of the input's element type. A quantizer calibrated
//! on these sees the same letterboxed bytes the model gets on the board.
//!
//! When the source has more frames than wanted, frames are taken evenly
//! spaced over the whole source (consecutive camera frames are nearly the
//! same picture). Frames that cannot be decoded are skipped and counted.
//! The file is written to a temporary name beside the target and renamed
//! when complete.

use std::io::{Seek, SeekFrom, Write};
use std::path::Path;
use std::time::Duration;

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::model::{ElementType, ResolvedModel};
use crate::preprocess::{InputMap, LetterboxResizer, Preprocess, ResizeMode};
use crate::source::{Source, SourceError};

/// Errors while writing calibration inputs.
#[derive(Debug, thiserror::Error)]
pub enum CalibError {
    #[error(transparent)]
    Source(#[from] SourceError),
    #[error("calibration source {source_spec}: no frame could be read ({skipped} skipped); give a folder of JPEG/PNG images or a raw: recording")]
    NoFrames { source_spec: String, skipped: usize },
    #[error("--max-frames {0}: expected at least 1")]
    MaxFrames(usize),
    #[error("model input {dtype} {shape:?}: expected [1, H, W, 3]")]
    Input {
        dtype: &'static str,
        shape: Vec<usize>,
    },
    #[error("cannot write {path}: {why}")]
    Write { path: String, why: String },
}

/// What [`write_inputs`] wrote.
#[derive(Debug, Clone, Serialize)]
pub struct CalibSummary {
    pub output: String,
    pub source: String,
    /// Readable frames in the source.
    pub frames_in_source: usize,
    /// Frames written.
    pub frames: usize,
    /// Frames that could not be read or pre-processed.
    pub skipped: usize,
    /// `[N, H, W, 3]`.
    pub shape: [usize; 4],
    pub dtype: &'static str,
    /// sha256 of the tensor data (the array's bytes, without the header).
    pub sha256: String,
    /// The source's frame number of each written frame (0-based).
    pub frame_numbers: Vec<usize>,
    /// Where each written frame came from (its file, or the recording).
    pub origins: Vec<String>,
    pub resize: ResizeMode,
}

/// NumPy `descr` of an element type, in this machine's byte order.
fn npy_descr(dtype: ElementType) -> String {
    let order = if cfg!(target_endian = "little") {
        '<'
    } else {
        '>'
    };
    match dtype {
        ElementType::F32 => format!("{order}f4"),
        ElementType::U8 => "|u1".into(),
        ElementType::I8 => "|i1".into(),
        ElementType::I16 => format!("{order}i2"),
        ElementType::I32 => format!("{order}i4"),
    }
}

/// Header length: fixed, so the frame count can be rewritten in place.
const NPY_HEADER: usize = 128;

/// A `.npy` version 1.0 header of exactly [`NPY_HEADER`] bytes.
fn npy_header(descr: &str, shape: [usize; 4]) -> Vec<u8> {
    let dict = format!(
        "{{'descr': '{descr}', 'fortran_order': False, 'shape': ({}, {}, {}, {}), }}",
        shape[0], shape[1], shape[2], shape[3]
    );
    let mut h = b"\x93NUMPY\x01\x00".to_vec();
    let len = NPY_HEADER - 10;
    h.extend_from_slice(&(len as u16).to_le_bytes());
    h.extend_from_slice(dict.as_bytes());
    h.resize(NPY_HEADER - 1, b' ');
    h.push(b'\n');
    h
}

/// Indices `round(i·n/k)`, `i < k`: `k` frames spread over `n` (all when `n ≤ k`).
fn spread(n: usize, k: usize) -> Vec<usize> {
    if n <= k {
        return (0..n).collect();
    }
    (0..k).map(|i| i * n / k + n / (2 * k)).collect()
}

/// Writes the model inputs of up to `max_frames` frames of the source that
/// `open` opens (called twice: once to count frames, once to write) into
/// the `.npy` file `out`.
pub fn write_inputs(
    model: &ResolvedModel,
    resize: ResizeMode,
    mut open: impl FnMut() -> Result<Box<dyn Source>, SourceError>,
    source_spec: &str,
    max_frames: usize,
    out: &Path,
) -> Result<CalibSummary, CalibError> {
    if max_frames == 0 {
        return Err(CalibError::MaxFrames(max_frames));
    }
    let input = &model.interface.inputs[0];
    let (h, w) = match input.shape.as_slice() {
        [1, h, w, 3] => (*h, *w),
        _ => {
            return Err(CalibError::Input {
                dtype: input.dtype.name(),
                shape: input.shape.clone(),
            })
        }
    };
    // Pass 1: which frames are readable.
    let mut readable = Vec::new();
    let mut skipped = 0;
    {
        let mut source = open()?;
        let mut i = 0usize;
        while let Some(next) = source.next_frame() {
            match next {
                Ok(_) => readable.push(i),
                Err(e) if e.is_per_frame() => skipped += 1,
                Err(e) => return Err(e.into()),
            }
            i += 1;
        }
    }
    if readable.is_empty() {
        return Err(CalibError::NoFrames {
            source_spec: source_spec.to_string(),
            skipped,
        });
    }
    let wanted: Vec<usize> = spread(readable.len(), max_frames)
        .into_iter()
        .map(|j| readable[j])
        .collect();
    // Pass 2: pre-process the chosen frames into the file.
    let m = &model.manifest;
    let mut pre = LetterboxResizer::new(
        w as u32,
        h as u32,
        m.input.pad_value,
        InputMap::new(input, m.input.range),
        resize,
    );
    let mut buf = vec![0u8; input.byte_len()];
    let display = out.display().to_string();
    let werr = |e: std::io::Error| CalibError::Write {
        path: display.clone(),
        why: e.to_string(),
    };
    let dir = out
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut tmp = tempfile::Builder::new()
        .prefix(".calib-")
        .suffix(".npy.part")
        .tempfile_in(dir)
        .map_err(werr)?;
    let descr = npy_descr(input.dtype);
    tmp.write_all(&npy_header(&descr, [0, h, w, 3]))
        .map_err(werr)?;
    let mut hash = Sha256::new();
    let (mut origins, mut frame_numbers) = (Vec::new(), Vec::new());
    let mut source = open()?;
    let (mut i, mut next_wanted) = (0usize, 0usize);
    while let Some(next) = source.next_frame() {
        let index = i;
        i += 1;
        if next_wanted >= wanted.len() {
            break;
        }
        if index != wanted[next_wanted] {
            continue;
        }
        next_wanted += 1;
        let frame = match next {
            Ok(f) => f,
            Err(e) if e.is_per_frame() => {
                skipped += 1;
                continue;
            }
            Err(e) => return Err(e.into()),
        };
        match pre.prepare(&frame, &mut buf) {
            Ok(_) => {}
            Err(e) if e.is_per_frame() => {
                skipped += 1;
                continue;
            }
            Err(e) => {
                return Err(CalibError::Write {
                    path: display.clone(),
                    why: e.to_string(),
                })
            }
        }
        hash.update(&buf);
        tmp.write_all(&buf).map_err(werr)?;
        origins.push(frame.origin.to_string());
        frame_numbers.push(index);
    }
    if origins.is_empty() {
        return Err(CalibError::NoFrames {
            source_spec: source_spec.to_string(),
            skipped,
        });
    }
    let shape = [origins.len(), h, w, 3];
    tmp.as_file_mut().seek(SeekFrom::Start(0)).map_err(werr)?;
    tmp.write_all(&npy_header(&descr, shape)).map_err(werr)?;
    tmp.as_file_mut().sync_all().map_err(werr)?;
    tmp.persist(out).map_err(|e| werr(e.error))?;
    Ok(CalibSummary {
        output: display,
        source: source_spec.to_string(),
        frames_in_source: readable.len(),
        frames: origins.len(),
        skipped,
        shape,
        dtype: input.dtype.name(),
        sha256: hash.finalize().iter().map(|b| format!("{b:02x}")).collect(),
        frame_numbers,
        origins,
        resize,
    })
}

/// Opens `specs` as a finite calibration source: images or a recording.
pub fn open_source(specs: &[String]) -> Result<Box<dyn Source>, SourceError> {
    let source = crate::source::open(specs, Duration::ZERO, None)?;
    if source.live() {
        return Err(SourceError::Spec(format!(
            "{}: a camera cannot be a calibration source; record it first (raw:FILE?...)",
            specs.join(" ")
        )));
    }
    Ok(source)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn npy_header_is_128_bytes_and_parsable_shape() {
        let h = npy_header("<f4", [12, 320, 320, 3]);
        assert_eq!(h.len(), NPY_HEADER);
        assert_eq!(&h[..8], b"\x93NUMPY\x01\x00");
        assert_eq!(u16::from_le_bytes([h[8], h[9]]) as usize, NPY_HEADER - 10);
        let text = std::str::from_utf8(&h[10..]).unwrap();
        assert!(text.contains("'shape': (12, 320, 320, 3)"), "{text}");
        assert!(text.ends_with('\n'));
    }

    #[test]
    fn spread_takes_evenly_spaced_frames() {
        assert_eq!(spread(3, 8), vec![0, 1, 2]);
        assert_eq!(spread(10, 5), vec![1, 3, 5, 7, 9]);
        assert_eq!(spread(100, 4), vec![12, 37, 62, 87]);
    }
}
