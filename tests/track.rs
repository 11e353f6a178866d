//! Tracking end to end: a short sequence built from `zidane.jpg` by moving
//! and zooming a camera window over it (so both people move and grow)
//! goes through `edgepose run` (tracking on by default); the ids must stay
//! stable and the smoothed keypoints follow the raw ones with less jitter.
//! The test also draws the raw vs smoothed trajectory of one keypoint
//! (`docs/tracking-plot.png` when `EDGEPOSE_UPDATE_DOCS=1`).

mod common;

use std::collections::BTreeSet;

use common::{edgepose, json_lines, run};
use image::{imageops, Rgb, RgbImage};
use imageproc::drawing::draw_line_segment_mut;
use serde_json::Value;

const FRAMES: usize = 24;

fn make_frames(dir: &std::path::Path) {
    let src = image::open(common::sample("samples/zidane.jpg"))
        .unwrap()
        .to_rgb8();
    for i in 0..FRAMES {
        let w = 1040 - 6 * i as u32; // zoom in
        let h = w * 9 / 16;
        let x = 60 + 7 * i as u32; // pan right
        let y = 30 + 2 * i as u32;
        let crop = imageops::crop_imm(&src, x, y, w, h).to_image();
        let frame = imageops::resize(&crop, 960, 540, imageops::FilterType::Triangle);
        frame.save(dir.join(format!("frame{i:03}.jpg"))).unwrap();
    }
}

fn kp(p: &Value, name: &str, field: &str) -> f64 {
    p["keypoints"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["name"] == name)
        .unwrap()[field]
        .as_f64()
        .unwrap()
}

/// Least-squares quadratic through `v` (index as x), evaluated at each index.
fn quadratic_fit(v: &[f64]) -> Vec<f64> {
    let n = v.len();
    let (mut a, mut b) = ([[0.0f64; 3]; 3], [0.0f64; 3]);
    for (i, y) in v.iter().enumerate() {
        let p = [1.0, i as f64, (i * i) as f64];
        for r in 0..3 {
            for c in 0..3 {
                a[r][c] += p[r] * p[c];
            }
            b[r] += p[r] * y;
        }
    }
    // Gaussian elimination on the 3x3 normal equations.
    for col in 0..3 {
        for row in col + 1..3 {
            let f = a[row][col] / a[col][col];
            let pivot = a[col];
            for (x, p) in a[row].iter_mut().zip(pivot).skip(col) {
                *x -= f * p;
            }
            b[row] -= f * b[col];
        }
    }
    let mut x = [0.0f64; 3];
    for r in (0..3).rev() {
        x[r] = (b[r] - (r + 1..3).map(|k| a[r][k] * x[k]).sum::<f64>()) / a[r][r];
    }
    (0..n)
        .map(|i| x[0] + x[1] * i as f64 + x[2] * (i * i) as f64)
        .collect()
}

fn rms(a: &[f64], b: &[f64]) -> f64 {
    (a.iter().zip(b).map(|(x, y)| (x - y).powi(2)).sum::<f64>() / a.len() as f64).sqrt()
}

fn roughness(v: &[f64]) -> f64 {
    v.windows(3)
        .map(|w| (w[2] - 2.0 * w[1] + w[0]).abs())
        .sum::<f64>()
        / (v.len() - 2) as f64
}

#[test]
fn ids_are_stable_and_smoothing_follows_the_motion() {
    let dir = tempfile::tempdir().unwrap();
    make_frames(dir.path());
    let out = run(edgepose(common::primary())
        .args(["run", "--interval-ms", "33.333", "--source"])
        .arg(dir.path()));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let recs = json_lines(&out);
    assert_eq!(recs.len(), FRAMES);
    assert!(recs.iter().all(|r| r["tracked"] == true));
    // Tentative for the first two frames, confirmed from the third on.
    assert!(recs[0]["persons"].as_array().unwrap().is_empty());
    let mut ids = BTreeSet::new();
    for (i, r) in recs.iter().enumerate().skip(2) {
        let persons = r["persons"].as_array().unwrap();
        assert_eq!(persons.len(), 2, "frame {i}: {persons:?}");
        for p in persons {
            ids.insert(p["track_id"].as_u64().unwrap());
            assert_eq!(
                p["track_age_frames"].as_u64().unwrap(),
                i as u64 + 1,
                "frame {i}"
            );
        }
    }
    assert_eq!(
        ids.len(),
        2,
        "two people, two ids for the whole sequence: {ids:?}"
    );
    // Per track: the smoothed shoulder follows the raw one closely, and is smoother.
    let summary = String::from_utf8_lossy(&out.stderr);
    assert!(summary.contains("2 tracks started, 0 ended"), "{summary}");
    let mut plot = None;
    for id in &ids {
        let (mut raw, mut smooth) = (Vec::new(), Vec::new());
        for r in recs.iter().skip(2) {
            let p = r["persons"]
                .as_array()
                .unwrap()
                .iter()
                .find(|p| p["track_id"] == *id)
                .unwrap();
            raw.push(kp(p, "left_shoulder", "raw_x"));
            smooth.push(kp(p, "left_shoulder", "x"));
        }
        // The camera moves smoothly, so the true path is close to a smooth
        // curve: a quadratic fitted to the raw detections stands for it.
        let truth = quadratic_fit(&raw);
        let (er, es) = (rms(&raw, &truth), rms(&smooth, &truth));
        let (rr, rs) = (roughness(&raw), roughness(&smooth));
        println!(
            "track {id}: left_shoulder x, RMS distance to the smooth path raw {er:.2} px, smoothed {es:.2} px; roughness raw {rr:.2}, smoothed {rs:.2} px/frame²"
        );
        assert!(
            es < er,
            "track {id}: smoothing does not bring the keypoint closer to the path"
        );
        assert!(
            rs < rr / 2.0,
            "track {id}: smoothed ({rs:.2}) not markedly smoother than raw ({rr:.2})"
        );
        plot.get_or_insert((raw, smooth));
    }
    let (raw, smooth) = plot.unwrap();
    let img = draw_plot(&raw, &smooth);
    img.save(std::env::temp_dir().join("edgepose-tracking-plot.png"))
        .unwrap();
    if std::env::var_os("EDGEPOSE_UPDATE_DOCS").is_some() {
        img.save(common::repo().join("docs/tracking-plot.png"))
            .unwrap();
    }
}

/// Raw (grey dots and thin line) vs smoothed (blue) x over frames.
fn draw_plot(raw: &[f64], smooth: &[f64]) -> RgbImage {
    let (w, h, m) = (640u32, 320u32, 30.0f32);
    let mut img = RgbImage::from_pixel(w, h, Rgb([255, 255, 255]));
    let lo = raw.iter().chain(smooth).cloned().fold(f64::MAX, f64::min) - 5.0;
    let hi = raw.iter().chain(smooth).cloned().fold(f64::MIN, f64::max) + 5.0;
    let px = |i: usize| m + i as f32 * (w as f32 - 2.0 * m) / (raw.len() - 1) as f32;
    let py = |v: f64| h as f32 - m - ((v - lo) / (hi - lo)) as f32 * (h as f32 - 2.0 * m);
    let axis = Rgb([0, 0, 0]);
    draw_line_segment_mut(
        &mut img,
        (m, h as f32 - m),
        (w as f32 - m, h as f32 - m),
        axis,
    );
    draw_line_segment_mut(&mut img, (m, m), (m, h as f32 - m), axis);
    for (series, colour) in [(raw, Rgb([160, 160, 160])), (smooth, Rgb([40, 90, 200]))] {
        for i in 1..series.len() {
            for d in [-0.5f32, 0.0, 0.5] {
                draw_line_segment_mut(
                    &mut img,
                    (px(i - 1), py(series[i - 1]) + d),
                    (px(i), py(series[i]) + d),
                    colour,
                );
            }
        }
    }
    for (i, v) in raw.iter().enumerate() {
        imageproc::drawing::draw_filled_circle_mut(
            &mut img,
            (px(i) as i32, py(*v) as i32),
            3,
            Rgb([120, 120, 120]),
        );
    }
    img
}
