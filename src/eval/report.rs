//! Presenting an evaluation: the terminal table, the JSON report, and the
//! report folder (COCO results files loadable by pycocotools, a per-keypoint
//! error chart as SVG, and the worst images with both models' skeletons
//! side by side).

use std::fmt::Write as _;
use std::path::Path;

use image::RgbImage;
use serde::Serialize;

use super::cocoeval::{Detection, STAT_NAMES};
use super::{Check, EvalError, EvalResult};
use crate::frame::{FrameResult, RecordMeta};
use crate::sink::annotate;
use crate::source::{ImageSource, Source};

/// The JSON report.
#[derive(Debug, Serialize)]
pub struct Report<'a> {
    pub result: &'a EvalResult,
    pub ap_drop: Option<f64>,
    pub checks: &'a [Check],
    pub passed: bool,
}

fn stats_row(name: &str, stats: &Option<[f64; 10]>) -> String {
    let mut s = format!("{name:<10}");
    match stats {
        Some(v) => v.iter().for_each(|x| {
            let _ = write!(s, "{x:>7.3}");
        }),
        None => s.push_str("  (no ground truth)"),
    }
    s
}

/// The human-readable table.
pub fn table(r: &EvalResult, checks: &[Check]) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{} images, {} annotated persons; model {} ({}), {} detections",
        r.images, r.annotated_persons, r.model.model, r.model.runtime, r.model.detections
    );
    if r.model.stats.is_some() {
        let mut head = format!("{:<10}", "");
        for n in STAT_NAMES {
            let _ = write!(head, "{n:>7}");
        }
        let _ = writeln!(s, "{head}");
        let _ = writeln!(s, "{}", stats_row("model", &r.model.stats));
        if let Some(rf) = &r.reference {
            let _ = writeln!(s, "{}", stats_row("reference", &rf.stats));
        }
        if let Some(d) = r.ap_drop() {
            let _ = writeln!(s, "AP drop vs reference: {d:.3}");
        }
    }
    if let (Some(a), Some(rf)) = (&r.agreement, &r.reference) {
        let _ = writeln!(
            s,
            "agreement with {}: {} persons matched, {} only in model, {} only in reference; mean OKS {:.3} (matched {:.3})",
            rf.model, a.matched_persons, a.only_in_model, a.only_in_reference, a.mean_oks, a.mean_oks_matched
        );
        let hist: Vec<String> = a.oks_histogram.iter().map(u64::to_string).collect();
        let _ = writeln!(
            s,
            "matched pairs per OKS tenth (0-0.1 ... 0.9-1): {}",
            hist.join(" ")
        );
        let _ = writeln!(
            s,
            "{:<16}{:>8}{:>11}{:>10}{:>8}",
            "keypoint", "samples", "median px", "p95 px", "flips"
        );
        for k in &a.keypoints {
            let _ = writeln!(
                s,
                "{:<16}{:>8}{:>11.2}{:>10.2}{:>7.1}%",
                k.name,
                k.samples,
                k.median_px,
                k.p95_px,
                100.0 * k.flip_rate
            );
        }
    }
    for c in checks {
        let _ = writeln!(
            s,
            "check {}: {} (limit {}) {}",
            c.name,
            c.value.map_or("n/a".to_string(), |v| format!("{v:.3}")),
            c.limit,
            if c.pass { "PASS" } else { "FAIL" }
        );
    }
    s.pop();
    s
}

fn write_file(path: &Path, bytes: &[u8]) -> Result<(), EvalError> {
    let tmp = path.with_extension("part");
    std::fs::write(&tmp, bytes)
        .and_then(|()| std::fs::rename(&tmp, path))
        .map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            EvalError::Report {
                path: path.display().to_string(),
                why: e.to_string(),
            }
        })
}

/// Writes the JSON report.
pub fn write_json(path: &Path, report: &Report<'_>) -> Result<(), EvalError> {
    let text = serde_json::to_vec_pretty(report).map_err(|e| EvalError::Report {
        path: path.display().to_string(),
        why: e.to_string(),
    })?;
    write_file(path, &text)
}

/// A COCO results file (the detections serialise in that format).
fn results_json(dets: &[Detection]) -> Vec<u8> {
    serde_json::to_vec(dets).unwrap_or_default()
}

/// Per-keypoint error chart (median and p95, pixels) as SVG.
fn error_chart(r: &EvalResult) -> Option<String> {
    let a = r.agreement.as_ref()?;
    let (w, row, left) = (720.0, 22.0, 130.0);
    let h = 70.0 + row * a.keypoints.len() as f64;
    let max = a.keypoints.iter().map(|k| k.p95_px).fold(1.0f64, f64::max);
    let scale = (w - left - 80.0) / max;
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" font-family=\"sans-serif\" font-size=\"12\">\n\
         <rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n\
         <text x=\"10\" y=\"20\" font-size=\"14\">Keypoint error, {} vs {} (pixels, matched persons)</text>\n\
         <rect x=\"{left}\" y=\"32\" width=\"12\" height=\"10\" fill=\"#3b78c2\"/><text x=\"{}\" y=\"41\">median</text>\n\
         <rect x=\"{}\" y=\"32\" width=\"12\" height=\"10\" fill=\"#a9c8ee\"/><text x=\"{}\" y=\"41\">p95</text>\n",
        r.model.model,
        r.reference.as_ref().map_or("", |x| x.model.as_str()),
        left + 16.0,
        left + 80.0,
        left + 96.0
    );
    for (i, k) in a.keypoints.iter().enumerate() {
        let y = 55.0 + row * i as f64;
        let _ = writeln!(
            s,
            "<text x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text>\
             <rect x=\"{left}\" y=\"{y}\" width=\"{:.1}\" height=\"{}\" fill=\"#a9c8ee\"/>\
             <rect x=\"{left}\" y=\"{}\" width=\"{:.1}\" height=\"{}\" fill=\"#3b78c2\"/>\
             <text x=\"{:.1}\" y=\"{}\">{:.1} / {:.1}</text>",
            left - 6.0,
            y + 13.0,
            k.name,
            k.p95_px * scale,
            row - 6.0,
            y + 4.0,
            k.median_px * scale,
            row - 14.0,
            left + k.p95_px * scale + 6.0,
            y + 13.0,
            k.median_px,
            k.p95_px
        );
    }
    s.push_str("</svg>\n");
    Some(s)
}

/// Writes the report folder.
pub fn write_dir(
    dir: &Path,
    report: &Report<'_>,
    meta: &RecordMeta,
) -> Result<Vec<String>, EvalError> {
    std::fs::create_dir_all(dir).map_err(|e| EvalError::Report {
        path: dir.display().to_string(),
        why: e.to_string(),
    })?;
    let r = report.result;
    let mut written = Vec::new();
    let mut put = |name: &str, bytes: &[u8]| -> Result<(), EvalError> {
        write_file(&dir.join(name), bytes)?;
        written.push(name.to_string());
        Ok(())
    };
    put("results.json", &results_json(&r.results))?;
    if r.reference.is_some() {
        put(
            "reference-results.json",
            &results_json(&r.reference_results),
        )?;
    }
    let json = serde_json::to_vec_pretty(report).unwrap_or_default();
    put("report.json", &json)?;
    if let Some(svg) = error_chart(r) {
        put("keypoint-errors.svg", svg.as_bytes())?;
    }
    for (i, w) in r.worst.iter().enumerate() {
        let mut src = ImageSource::new(std::slice::from_ref(&w.path), std::time::Duration::ZERO)?;
        let Some(Ok(frame)) = src.next_frame() else {
            continue;
        };
        let Some(base) = RgbImage::from_raw(frame.width, frame.height, frame.pixels.to_vec())
        else {
            continue;
        };
        let mut pair = RgbImage::new(frame.width * 2, frame.height);
        for (side, persons) in [(0, &w.model), (1, &w.reference)] {
            let mut img = base.clone();
            let res = FrameResult {
                persons: persons.clone(),
                num_keypoints: meta.keypoint_names.len(),
                width: frame.width,
                height: frame.height,
                ..FrameResult::default()
            };
            annotate::draw(&mut img, &res, meta);
            image::imageops::replace(&mut pair, &img, i64::from(side * frame.width), 0);
        }
        let mut bytes = Vec::new();
        pair.write_to(
            &mut std::io::Cursor::new(&mut bytes),
            image::ImageFormat::Jpeg,
        )
        .map_err(|e| EvalError::Report {
            path: dir.display().to_string(),
            why: e.to_string(),
        })?;
        let stem = w
            .path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or("image");
        put(&format!("worst-{}-{stem}.jpg", i + 1), &bytes)?;
    }
    Ok(written)
}
