//! The web preview's page in a real browser: Debian's `chromium`, headless
//! (scripts/setup-browser.sh installs it), driven over the DevTools
//! protocol. `edgepose run` over a recording serves the page; the test
//! waits until the statistics panel shows the model and a frame rate,
//! takes screenshots, compares the video area with `/snapshot.jpg` and
//! checks that it changes from one screenshot to the next. The screenshots
//! are kept in target/http-browser/ (docs/preview-page.png is one of them).

#![cfg(feature = "http")]

mod common;
#[path = "common/preview.rs"]
mod preview;

use std::io::{BufRead, BufReader};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use image::RgbImage;
use preview::{recording, serial, Preview, REC_H, REC_W};
use serde_json::{json, Value};
use tungstenite::{Message, WebSocket};

const CHROMIUM: &str = "/usr/bin/chromium";

/// Headless chromium with its DevTools endpoint; killed on drop.
struct Browser {
    child: Child,
    _profile: tempfile::TempDir,
    ws: WebSocket<TcpStream>,
    next_id: u64,
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Browser {
    fn start() -> Self {
        assert!(
            std::path::Path::new(CHROMIUM).exists(),
            "{CHROMIUM} not found: run scripts/setup-browser.sh (part of scripts/setup.sh)"
        );
        let profile = tempfile::tempdir().unwrap();
        let mut child = Command::new(CHROMIUM)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--hide-scrollbars",
                "--no-first-run",
                "--disable-extensions",
                "--window-size=1280,860",
                "--force-device-scale-factor=1",
                "--remote-debugging-port=0",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg("about:blank")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start chromium");
        // "DevTools listening on ws://127.0.0.1:PORT/devtools/browser/ID"
        let (tx, rx) = std::sync::mpsc::channel();
        let err = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(err).lines().map_while(Result::ok) {
                if let Some(url) = line.strip_prefix("DevTools listening on ") {
                    let _ = tx.send(url.to_string());
                }
            }
        });
        let url = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("chromium's DevTools address");
        let port: u16 = url
            .strip_prefix("ws://127.0.0.1:")
            .and_then(|r| r.split('/').next())
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("DevTools address {url}"));
        // The page target's socket.
        let list: Value =
            serde_json::from_slice(&preview::request(port, "GET", "/json/list", &[]).body())
                .unwrap();
        let page = list
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["type"] == "page")
            .expect("a page target");
        let ws_url = page["webSocketDebuggerUrl"].as_str().unwrap();
        let stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        let (ws, _) = tungstenite::client(ws_url, stream).expect("DevTools socket");
        Self {
            child,
            _profile: profile,
            ws,
            next_id: 0,
        }
    }

    /// Sends a DevTools command and returns its result.
    fn call(&mut self, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        let msg = json!({"id": id, "method": method, "params": params});
        self.ws.send(Message::text(msg.to_string())).unwrap();
        loop {
            let m = self.ws.read().expect("DevTools answer");
            let Message::Text(t) = m else { continue };
            let v: Value = serde_json::from_str(&t).unwrap();
            if v["id"] == id {
                assert!(v["error"].is_null(), "{method}: {v}");
                return v["result"].clone();
            }
        }
    }

    /// Evaluates `expr` in the page.
    fn eval(&mut self, expr: &str) -> Value {
        let r = self.call(
            "Runtime.evaluate",
            json!({"expression": expr, "returnByValue": true}),
        );
        r["result"]["value"].clone()
    }

    fn screenshot(&mut self) -> RgbImage {
        let r = self.call("Page.captureScreenshot", json!({"format": "png"}));
        let png = base64::engine::general_purpose::STANDARD
            .decode(r["data"].as_str().unwrap())
            .unwrap();
        image::load_from_memory(&png).unwrap().to_rgb8()
    }
}

/// Share of the pixels of `a` (at `(x, y)` in it) and `b` whose channels
/// all differ by at most `tol`.
fn alike(a: &RgbImage, (x, y): (u32, u32), b: &RgbImage, tol: u8) -> f64 {
    let mut same = 0u64;
    for (bx, by, pb) in b.enumerate_pixels() {
        let pa = a.get_pixel(x + bx, y + by);
        if pa.0.iter().zip(pb.0).all(|(&p, q)| p.abs_diff(q) <= tol) {
            same += 1;
        }
    }
    same as f64 / (b.width() * b.height()) as f64
}

#[test]
fn the_page_shows_the_video_and_the_statistics_in_headless_chromium() {
    let _serial = serial();
    let rec = recording(preview::LONG);
    let p = Preview::start(&rec, "fps=15", &[], &[]);
    let mut b = Browser::start();
    b.call("Page.enable", json!({}));
    b.call(
        "Emulation.setDeviceMetricsOverride",
        json!({"width": 1280, "height": 860, "deviceScaleFactor": 1, "mobile": false}),
    );
    b.call(
        "Page.navigate",
        json!({"url": format!("http://127.0.0.1:{}/", p.port)}),
    );

    // Wait for the statistics panel: the model's name and a frame rate.
    let deadline = Instant::now() + Duration::from_secs(60);
    let shown = loop {
        let v = b.eval(
            "JSON.stringify({model: document.getElementById('model').textContent, \
             fps: document.getElementById('fps').textContent, \
             persons: document.querySelectorAll('#persons tbody tr').length, \
             stages: document.querySelectorAll('#stages tbody tr').length, \
             video: document.getElementById('video').naturalWidth})",
        );
        let v: Value = serde_json::from_str(v.as_str().unwrap_or("{}")).unwrap_or_default();
        let fps: f64 = v["fps"]
            .as_str()
            .and_then(|f| f.split_whitespace().next()?.parse().ok())
            .unwrap_or(0.0);
        if v["model"] == "yolov8n-320-st" && fps > 0.0 && v["video"] == REC_W && v["persons"] == 2 {
            break v;
        }
        assert!(
            Instant::now() < deadline,
            "the page never showed its numbers: {v}"
        );
        std::thread::sleep(Duration::from_millis(250));
    };
    println!("the page shows: {shown}");
    assert_eq!(shown["stages"], 6, "six stages in the latency table");

    let rect = b.eval(
        "(() => { const r = document.getElementById('video').getBoundingClientRect(); \
         return [r.x, r.y, r.width, r.height]; })()",
    );
    let r: Vec<u32> = rect
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap() as u32)
        .collect();
    assert_eq!((r[2], r[3]), (REC_W, REC_H), "the video at its own size");
    let at = (r[0], r[1]);

    let out = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("http-browser");
    std::fs::create_dir_all(&out).unwrap();
    let first = b.screenshot();
    let snap = image::load_from_memory(&p.get("/snapshot.jpg").body())
        .unwrap()
        .to_rgb8();
    first.save(out.join("page-1.png")).unwrap();
    snap.save(out.join("snapshot.png")).unwrap();
    // The video area shows the snapshot's frame, up to the marker that
    // moved in between and two JPEG encodings; shifted by 24 px the same
    // comparison fails, so it does tell pictures apart.
    let same = alike(&first, at, &snap, 48);
    let shifted = alike(
        &first,
        (at.0 + 24, at.1),
        &image::imageops::crop_imm(&snap, 0, 0, REC_W - 24, REC_H).to_image(),
        48,
    );
    println!(
        "video area like /snapshot.jpg: {same:.3} of the pixels (shifted by 24 px: {shifted:.3})"
    );
    assert!(same > 0.9, "video area against /snapshot.jpg: {same:.3}");
    assert!(
        shifted < 0.7,
        "the comparison must tell pictures apart: {shifted:.3}"
    );

    // The video moves: a later screenshot's video area differs (the marker
    // moved). The marker comes round every 48 frames, so a few tries.
    let video =
        |img: &RgbImage| image::imageops::crop_imm(img, at.0, at.1, REC_W, REC_H).to_image();
    let v1 = video(&first);
    let mut changed = None;
    for i in 0..5 {
        std::thread::sleep(Duration::from_millis(1000));
        let later = b.screenshot();
        let same = alike(&later, at, &v1, 32);
        if same < 0.995 {
            later.save(out.join("page-2.png")).unwrap();
            changed = Some((i, same));
            break;
        }
    }
    let (tries, same) = changed.expect("the video area never changed");
    println!(
        "a later screenshot differs in {:.2} % of the video area (try {})",
        (1.0 - same) * 100.0,
        tries + 1
    );
    println!("screenshots in {}", out.display());
    drop(b);
    let (status, stderr) = p.stop();
    assert!(status.success(), "{stderr:?}");
}
