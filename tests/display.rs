//! Display sinks against bus-level panel emulators.
//!
//! The real drivers (`ssd1306`, `mipidsi`) talk to emulated controllers
//! written from the datasheets: an SSD1306 on an `embedded-hal` I2C bus
//! (control bytes, command set, addressing modes, segment remap / COM scan
//! direction, GDDRAM; tests/common/oled.rs) and an ST7789/ILI9341 on an
//! `embedded-hal` SPI device with DC and reset lines (CASET, RASET, RAMWR,
//! MADCTL row/column exchange and mirroring, colour order, COLMOD,
//! inversion, sleep and display on/off, reset; tests/common/tft.rs). What
//! the emulated glass shows is compared with golden PNGs in
//! `tests/fixtures/display/` (tests/common/picture.rs) rendered from real
//! `edgepose infer` poses (`poses.json`).
//!
//! Goldens change only with `EDGEPOSE_BLESS=1`; a mismatch fails and writes
//! the actual and expected images under `target/tmp/display-golden/`.

#![cfg(feature = "display")]

mod common;
#[path = "common/oled.rs"]
mod oled;
#[path = "common/picture.rs"]
mod picture;
#[path = "common/tft.rs"]
mod tft;

use common::poses::{fixture, person, FixPerson, NAMES};
use oled::oled_panel;
use picture::{check_golden, fb_geometry, read_raw, reference_565, reference_mono, Picture};
use tft::{config, ili9341, st7789, tft_panel, tft_show, Tft};

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use edgepose::display::framebuffer::{FbCanvas, FbPanel, PixelLayout};
use edgepose::display::panel::{Painter, Panel};
use edgepose::display::screen::DisplaySink;
use edgepose::display::st7789::TftConfig;
use edgepose::display::{render, RenderOptions, Scene};
use edgepose::frame::{Frame, FrameResult, RecordMeta};
use edgepose::sink::Sink;
use embedded_graphics::pixelcolor::{Rgb888, RgbColor};
use embedded_graphics::prelude::*;

fn emit(sink: &mut dyn Sink, r: &FrameResult, meta: &RecordMeta) {
    let frame = Frame {
        seq: r.seq,
        timestamp: Duration::from_secs_f64(r.timestamp_ms / 1e3),
        ..Frame::rgb(&[], r.width, r.height, "fixture")
    };
    sink.emit(&frame, r, meta).unwrap();
}

const STATUS: RenderOptions = RenderOptions { status: true };

// ------------------------------------------------------------- SSD1306

#[test]
fn ssd1306_shows_the_golden_poses() {
    let fx = fixture();
    let sk = fx.skeleton();
    for name in NAMES {
        let scene = fx.frame(name).scene();
        let (panel, oled, _) = oled_panel(0, 0x3c);
        let mut p = Painter::new(panel, STATUS);
        p.panel.connect().unwrap();
        p.draw(&scene, &sk).unwrap();
        let o = oled.lock().unwrap();
        o.check();
        let glass = o.glass();
        // The driver carried the rendered picture to the glass unchanged...
        assert_eq!(
            glass,
            reference_mono(&scene, &sk, 128, 64, STATUS),
            "{name}"
        );
        assert!(glass.lit() > 200, "{name}: {glass:?}");
        // ...and the picture is the blessed one.
        check_golden(&format!("ssd1306-{name}"), &glass);
    }
}

#[test]
fn ssd1306_rotations_turn_the_picture() {
    let fx = fixture();
    let sk = fx.skeleton();
    let scene = fx.frame("bus").scene();
    let show = |deg: u32| {
        let (panel, oled, _) = oled_panel(deg, 0x3c);
        let mut p = Painter::new(panel, STATUS);
        p.panel.connect().unwrap();
        p.draw(&scene, &sk).unwrap();
        let o = oled.lock().unwrap();
        o.check();
        o.glass()
    };
    let upright = show(0);
    assert_eq!(show(180), upright.half_turn());
    // 90/270: the picture is drawn 64 wide and 128 tall, then turned.
    let tall = reference_mono(&scene, &sk, 64, 128, STATUS);
    assert_ne!(tall.lit(), 0);
    assert_eq!(show(90), tall.cw());
    assert_eq!(show(270), tall.ccw());
}

#[test]
fn ssd1306_wrong_address_is_named() {
    let (mut panel, _, _) = oled_panel(0, 0x3d);
    let e = panel.connect().unwrap_err().to_string();
    assert!(e.contains("no acknowledge at address 0x3d"), "{e}");
    assert!(e.contains("0x3c or 0x3d"), "{e}");
    assert!(!panel.connected());
}

/// Polls until `f` holds (at most 10 s).
fn eventually(what: &str, mut f: impl FnMut() -> bool) {
    let t = Instant::now();
    while !f() {
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn ssd1306_unplugged_is_counted_and_recovers() {
    let fx = fixture();
    let meta = fx.meta();
    let (mut panel, oled, _) = oled_panel(0, 0x3c);
    panel.connect().unwrap();
    let mut sink = DisplaySink::start(Painter::new(panel, STATUS), 0.0).unwrap();
    emit(&mut sink, &fx.frame("bus").result(0), &meta);
    sink.flush().unwrap();
    assert_eq!(sink.stats().drawn, 1);

    // Unplugged: the display loses power; frames fail and are counted.
    {
        let mut o = oled.lock().unwrap();
        o.unplugged = true;
        o.power_on();
    }
    emit(&mut sink, &fx.frame("crowd").result(1), &meta);
    sink.flush().unwrap();
    let s = sink.stats();
    assert_eq!((s.drawn, s.errors), (1, 1), "{s:?}");

    // Plugged back: a later frame re-initialises it and is drawn.
    oled.lock().unwrap().unplugged = false;
    let mut seq = 2;
    let zidane = fx.frame("zidane");
    eventually("the display to come back", || {
        emit(&mut sink, &zidane.result(seq), &meta);
        seq += 1;
        sink.flush().unwrap();
        sink.stats().drawn == 2
    });
    let s = sink.stats();
    assert_eq!(s.reconnects, 1, "{s:?}");
    assert_eq!(
        s.drawn + s.skipped,
        seq,
        "every frame drawn or skipped: {s:?}"
    );
    let o = oled.lock().unwrap();
    o.check();
    // The sink's own status line (its fps from the timestamps) differs
    // from the fixture's, so compare without it being the golden's: the
    // picture below the status line must match a fresh render.
    let mut scene = zidane.scene();
    scene.fps = Some(10.0);
    let glass = o.glass();
    let reference = reference_mono(&scene, &fx.skeleton(), 128, 64, STATUS);
    assert_eq!(glass, reference);
    let summary = sink.summary().unwrap();
    assert!(
        summary.contains(&format!(
            "2 frames drawn, {} skipped, 1 bus errors, 1 reconnects",
            s.skipped
        )),
        "{summary}"
    );
    assert!(
        summary.contains(
            "(last: ssd1306:emulated: sending the frame failed: no acknowledge at address 0x3c"
        ),
        "{summary}"
    );
}

#[test]
fn emit_never_waits_for_the_bus() {
    let fx = fixture();
    let meta = fx.meta();
    let (mut panel, oled, gate) = oled_panel(0, 0x3c);
    panel.connect().unwrap();
    gate.close();
    let sink = DisplaySink::start(Painter::new(panel, STATUS), 0.0).unwrap();
    // The mailbox is its one queue: `run` puts none in front of it.
    assert!(sink.own_queue());
    let sink = Arc::new(Mutex::new(sink));
    // Frame 0 goes to the bus, which hangs; frames 1..=9 must still be
    // accepted at once (emits run on a thread so a hang fails, not blocks).
    let (tx, rx) = std::sync::mpsc::channel();
    let s = Arc::clone(&sink);
    let frames: Vec<FrameResult> = (0..10)
        .map(|i| fx.frame(NAMES[i % 3]).result(i as u64))
        .collect();
    let first = frames[0].clone();
    let rest = frames[1..].to_vec();
    let meta2 = meta.clone();
    let g = Arc::clone(&gate);
    std::thread::spawn(move || {
        emit(&mut *s.lock().unwrap(), &first, &meta2);
        g.wait_for_waiter();
        for f in &rest {
            emit(&mut *s.lock().unwrap(), f, &meta2);
        }
        tx.send(()).unwrap();
    });
    rx.recv_timeout(Duration::from_secs(10))
        .expect("emit blocked while the bus hung");
    {
        let s = sink.lock().unwrap().stats();
        assert_eq!((s.drawn, s.skipped), (0, 8), "{s:?}");
    }
    gate.open();
    let mut sink = sink.lock().unwrap();
    sink.flush().unwrap();
    let s = sink.stats();
    assert_eq!((s.drawn, s.skipped, s.errors), (2, 8, 0), "{s:?}");
    // The newest frame is on the glass.
    let o = oled.lock().unwrap();
    let last = frames[9].clone();
    assert_eq!(last.width, fx.frame("bus").width);
    let mut scene = fx.frame("bus").scene();
    scene.fps = Some(10.0);
    assert_eq!(
        o.glass(),
        reference_mono(&scene, &fx.skeleton(), 128, 64, STATUS)
    );
}

#[test]
fn refresh_rate_is_capped() {
    let fx = fixture();
    let meta = fx.meta();
    let (mut panel, oled, _) = oled_panel(0, 0x3c);
    panel.connect().unwrap();
    let mut sink = DisplaySink::start(Painter::new(panel, STATUS), 5.0).unwrap();
    // 20 frames, 10 ms apart: an uncapped display would draw about all
    // of them.
    let t = Instant::now();
    for i in 0..20u64 {
        emit(&mut sink, &fx.frame(NAMES[i as usize % 3]).result(i), &meta);
        std::thread::sleep(Duration::from_millis(10));
    }
    sink.flush().unwrap();
    let elapsed = t.elapsed().as_secs_f64();
    let s = sink.stats();
    assert_eq!(s.drawn + s.skipped, 20, "{s:?}");
    // At 5 fps: at most one frame per 200 ms (the first at once), plus
    // the newest one that flush pushes out.
    assert!(
        s.drawn as f64 <= 2.0 + (elapsed * 5.0).floor(),
        "{s:?} in {elapsed} s"
    );
    assert!(s.drawn >= 1, "{s:?}");
    // The newest frame (19 % 3 → zidane) is on the glass.
    let mut scene = fx.frame(NAMES[19 % 3]).scene();
    scene.fps = Some(10.0);
    assert_eq!(
        oled.lock().unwrap().glass(),
        reference_mono(&scene, &fx.skeleton(), 128, 64, STATUS)
    );
}

// --------------------------------------------------------------- ST7789

fn tft240() -> Arc<Mutex<Tft>> {
    Arc::new(Mutex::new(Tft::new((0, 0, 240, 240), false, true)))
}

#[test]
fn st7789_shows_the_golden_poses() {
    let fx = fixture();
    let sk = fx.skeleton();
    for name in NAMES {
        let scene = fx.frame(name).scene();
        let tft = tft240();
        let glass = tft_show(&tft, config(240, 240, (0, 0), 0), &scene, &sk, STATUS);
        assert_eq!(
            glass,
            reference_565(&scene, &sk, 240, 240, STATUS),
            "{name}"
        );
        assert!(glass.lit() > 1000, "{name}: {glass:?}");
        check_golden(&format!("st7789-240x240-{name}"), &glass);
    }
}

#[test]
fn st7789_rotations_turn_the_picture() {
    let fx = fixture();
    let sk = fx.skeleton();
    let scene = fx.frame("zidane").scene();
    let show = |deg| {
        tft_show(
            &tft240(),
            config(240, 240, (0, 0), deg),
            &scene,
            &sk,
            STATUS,
        )
    };
    let upright = show(0);
    // A square panel draws the same picture in every rotation; the
    // controller turns it (MADCTL MV/MX/MY, and the driver moves the
    // window into the glass's part of the 240×320 memory for 180/270).
    assert_eq!(show(90), upright.cw());
    assert_eq!(show(180), upright.half_turn());
    assert_eq!(show(270), upright.ccw());
}

#[test]
fn st7789_offsets_place_a_small_glass() {
    // A 1.14" 135×240 module: its glass starts at column 52, row 40.
    let fx = fixture();
    let sk = fx.skeleton();
    let scene = fx.frame("crowd").scene();
    let glass_window = (52, 40, 135, 240);
    for deg in [0, 90, 180, 270] {
        let tft = Arc::new(Mutex::new(Tft::new(glass_window, false, true)));
        let glass = tft_show(&tft, config(135, 240, (52, 40), deg), &scene, &sk, STATUS);
        let expected = match deg {
            0 => reference_565(&scene, &sk, 135, 240, STATUS),
            90 => reference_565(&scene, &sk, 240, 135, STATUS).cw(),
            180 => reference_565(&scene, &sk, 135, 240, STATUS).half_turn(),
            _ => reference_565(&scene, &sk, 240, 135, STATUS).ccw(),
        };
        assert_eq!(glass, expected, "rotation {deg}");
        if deg == 90 {
            check_golden("st7789-135x240-r90-crowd", &glass);
        }
    }
    // Without the offsets the picture misses the glass.
    let tft = Arc::new(Mutex::new(Tft::new(glass_window, false, true)));
    let glass = tft_show(&tft, config(135, 240, (0, 0), 0), &scene, &sk, STATUS);
    assert_ne!(glass, reference_565(&scene, &sk, 135, 240, STATUS));
}

#[test]
fn st7789_colour_order_and_inversion() {
    let fx = fixture();
    let sk = fx.skeleton();
    let scene = fx.frame("zidane").scene();
    let golden = tft_show(&tft240(), config(240, 240, (0, 0), 0), &scene, &sk, STATUS);
    assert!(golden.px.iter().any(|p| p[0] != p[2]), "has colour");

    // A BGR glass: right with color_order=bgr, red and blue swapped without.
    let bgr_glass = || Arc::new(Mutex::new(Tft::new((0, 0, 240, 240), true, true)));
    let bgr = TftConfig {
        bgr: true,
        ..config(240, 240, (0, 0), 0)
    };
    assert_eq!(tft_show(&bgr_glass(), bgr, &scene, &sk, STATUS), golden);
    assert_eq!(
        tft_show(
            &bgr_glass(),
            config(240, 240, (0, 0), 0),
            &scene,
            &sk,
            STATUS
        ),
        golden.map(|[r, g, b]| [b, g, r])
    );
    // An IPS glass with inversion off shows the negative.
    let plain = TftConfig {
        invert: false,
        ..config(240, 240, (0, 0), 0)
    };
    assert_eq!(
        tft_show(&tft240(), plain, &scene, &sk, STATUS),
        golden.map(|p| p.map(|c| 255 - c))
    );
}

#[test]
fn st7789_sends_only_changed_rows_and_keeps_up() {
    let fx = fixture();
    let sk = fx.skeleton();
    let tft = tft240();
    let mut p = Painter::new(
        tft_panel(st7789, &tft, config(240, 240, (0, 0), 0), true),
        STATUS,
    );
    p.panel.connect().unwrap();
    let mut empty = fx.frame("crowd").scene();
    empty.persons.clear();
    let sequence = [
        fx.frame("crowd").scene(),
        fx.frame("zidane").scene(),
        fx.frame("zidane").scene(),
        empty,
        fx.frame("bus").scene(),
    ];
    for (i, scene) in sequence.iter().enumerate() {
        tft.lock().unwrap().pixels_written = 0;
        p.draw(scene, &sk).unwrap();
        let t = tft.lock().unwrap();
        t.check();
        assert_eq!(
            t.glass(),
            reference_565(scene, &sk, 240, 240, STATUS),
            "frame {i}"
        );
        if i == 0 {
            // The first frame after connecting covers the memory's noise.
            assert_eq!(t.pixels_written, 240 * 240);
        }
        if i == 2 {
            // Zidane again: only the status line and the letterboxed
            // camera area's rows (16:9 in 240×229) go out.
            assert!(t.pixels_written < 240 * 160, "{}", t.pixels_written);
            assert_eq!(t.pixels_written % 240, 0, "whole rows");
        }
    }
}

#[test]
fn st7789_bus_fault_reconnects_with_a_full_frame() {
    let fx = fixture();
    let sk = fx.skeleton();
    let tft = tft240();
    let mut p = Painter::new(
        tft_panel(st7789, &tft, config(240, 240, (0, 0), 0), true),
        STATUS,
    );
    p.panel.connect().unwrap();
    p.draw(&fx.frame("crowd").scene(), &sk).unwrap();
    tft.lock().unwrap().failing = true;
    let e = p
        .draw(&fx.frame("bus").scene(), &sk)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("sending the frame failed: SPI write: emulated SPI fault"),
        "{e}"
    );
    assert!(!p.panel.connected());
    // The controller was power-cycled meanwhile: noise in memory.
    {
        let mut t = tft.lock().unwrap();
        t.failing = false;
        t.reset();
    }
    p.panel.connect().unwrap();
    let scene = fx.frame("zidane").scene();
    p.draw(&scene, &sk).unwrap();
    let t = tft.lock().unwrap();
    t.check();
    assert_eq!(t.glass(), reference_565(&scene, &sk, 240, 240, STATUS));
}

#[test]
fn st7789_without_reset_line_uses_software_reset() {
    let fx = fixture();
    let sk = fx.skeleton();
    let tft = tft240();
    let scene = fx.frame("bus").scene();
    let mut p = Painter::new(
        tft_panel(st7789, &tft, config(240, 240, (0, 0), 0), false),
        STATUS,
    );
    let before = tft.lock().unwrap().resets;
    p.panel.connect().unwrap();
    p.draw(&scene, &sk).unwrap();
    let t = tft.lock().unwrap();
    t.check();
    assert_eq!(t.resets, before + 1, "one SWRESET");
    assert_eq!(t.glass(), reference_565(&scene, &sk, 240, 240, STATUS));
}

#[test]
fn ili9341_landscape() {
    // A 240×320 ILI9341 with a BGR glass, turned to 320×240.
    let fx = fixture();
    let sk = fx.skeleton();
    let scene = fx.frame("zidane").scene();
    let tft = Arc::new(Mutex::new(Tft::new((0, 0, 240, 320), true, false)));
    let cfg = TftConfig {
        bgr: true,
        invert: false,
        ..config(240, 320, (0, 0), 90)
    };
    let mut p = Painter::new(tft_panel(ili9341, &tft, cfg, true), STATUS);
    p.panel.connect().unwrap();
    p.draw(&scene, &sk).unwrap();
    let t = tft.lock().unwrap();
    t.check();
    assert_eq!(t.glass(), reference_565(&scene, &sk, 320, 240, STATUS).cw());
}

// ---------------------------------------------------------- framebuffer

#[test]
fn framebuffer_pixel_packing() {
    let c = Rgb888::new(0x12, 0x34, 0x56);
    let cases: [(PixelLayout, &[u8]); 4] = [
        (PixelLayout::XRGB8888, &[0x56, 0x34, 0x12, 0x00]),
        (PixelLayout::XBGR8888, &[0x12, 0x34, 0x56, 0x00]),
        // r=0x12>>3=2, g=0x34>>2=13, b=0x56>>3=10.
        (
            PixelLayout::RGB565,
            &((2u16 << 11) | (13 << 5) | 10).to_le_bytes(),
        ),
        (
            PixelLayout::BGR565,
            &((10u16 << 11) | (13 << 5) | 2).to_le_bytes(),
        ),
    ];
    for (layout, bytes) in cases {
        let b = layout.bytes;
        // 3×2 pixels in rows padded to 4 pixels (+ 1 byte), as drivers do.
        let stride = 4 * b + 1;
        let mut fb = FbCanvas::new(3, 2, stride, layout);
        assert_eq!(fb.stride(), stride);
        Pixel(Point::new(2, 1), c).draw(&mut fb).unwrap();
        Pixel(Point::new(0, 0), Rgb888::WHITE)
            .draw(&mut fb)
            .unwrap();
        Pixel(Point::new(3, 0), Rgb888::WHITE)
            .draw(&mut fb)
            .unwrap(); // off-screen
        let raw = fb.bytes();
        assert_eq!(raw.len(), 2 * stride);
        let at = stride + 2 * b;
        assert_eq!(&raw[at..at + b], bytes, "{layout:?}");
        let white = layout.pack(Rgb888::WHITE).to_le_bytes();
        assert_eq!(&raw[..b], &white[..b], "{layout:?}");
        // Nothing else touched, padding included.
        let touched = raw
            .iter()
            .enumerate()
            .filter(|(_, &v)| v != 0)
            .map(|(i, _)| i);
        for i in touched {
            assert!(
                i < b || (at..at + b).contains(&i),
                "{layout:?}: byte {i} written"
            );
        }
        // Reading back.
        let expect = if b == 4 {
            c
        } else {
            layout.unpack(layout.pack(c))
        };
        assert_eq!(fb.pixel(2, 1), expect, "{layout:?}");
        // A filled rectangle packs the same words.
        fb.fill_solid(
            &embedded_graphics::primitives::Rectangle::new(Point::new(0, 1), Size::new(3, 1)),
            c,
        )
        .unwrap();
        for x in 0..3 {
            let i = stride + x * b;
            assert_eq!(&fb.bytes()[i..i + b], bytes, "{layout:?} fill x={x}");
        }
    }
}

#[test]
fn framebuffer_shows_the_golden_poses() {
    let fx = fixture();
    let sk = fx.skeleton();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("fb.raw");
    let path_s = path.to_str().unwrap();
    let g = fb_geometry(1024, 768, PixelLayout::XRGB8888);
    let mut p = Painter::new(FbPanel::open("fb:test", path_s, Some(g)).unwrap(), STATUS);
    p.panel.connect().unwrap();
    for name in NAMES {
        let scene = fx.frame(name).scene();
        p.draw(&scene, &sk).unwrap();
        // What reached the file is what was drawn.
        let file = read_raw(&path, 1024, 768, PixelLayout::XRGB8888);
        let canvas = p.panel.canvas().to_rgb();
        assert_eq!(file.px.concat(), canvas, "{name}");
        check_golden(&format!("fb-1024x768-{name}"), &file);
    }
}

#[test]
fn framebuffer_16bpp_file_matches_the_32bpp_picture() {
    let fx = fixture();
    let sk = fx.skeleton();
    let scene = fx.frame("crowd").scene();
    let dir = tempfile::tempdir().unwrap();
    let mut pictures = vec![];
    for layout in [
        PixelLayout::XRGB8888,
        PixelLayout::RGB565,
        PixelLayout::BGR565,
    ] {
        let path = dir.path().join(format!("fb{}.raw", layout.bytes));
        let g = fb_geometry(640, 480, layout);
        let mut p = Painter::new(
            FbPanel::open("fb:test", path.to_str().unwrap(), Some(g)).unwrap(),
            STATUS,
        );
        p.panel.connect().unwrap();
        p.draw(&scene, &sk).unwrap();
        pictures.push(read_raw(&path, 640, 480, layout));
    }
    // 16 bpp is the 32 bpp picture with each channel cut to 5/6/5 bits.
    let cut = |[r, g, b]: [u8; 3]| {
        let c = PixelLayout::RGB565.unpack(PixelLayout::RGB565.pack(Rgb888::new(r, g, b)));
        [c.r(), c.g(), c.b()]
    };
    assert_eq!(pictures[1], pictures[0].map(cut));
    assert_eq!(pictures[2], pictures[1]);
    assert!(pictures[0].lit() > 5000);
}

// -------------------------------------------------------- through specs

fn open_err(spec: &str) -> String {
    match edgepose::sink::open(spec) {
        Ok(_) => panic!("{spec} opened"),
        Err(e) => {
            let s = e.to_string();
            assert!(!s.contains('\n'), "one line: {s}");
            s
        }
    }
}

#[test]
fn bad_display_options_are_named() {
    let cases: &[(&str, &[&str])] = &[
        (
            "ssd1306:/dev/i2c-1?address=0x99",
            &["address=0x99", "7-bit I2C address"],
        ),
        (
            "ssd1306:/dev/i2c-1?rotation=45",
            &["rotation=45", "0, 90, 180 or 270"],
        ),
        (
            "ssd1306:/dev/i2c-1?max_fps=-1",
            &["max_fps=-1", "0 to 1000"],
        ),
        (
            "ssd1306:/dev/i2c-1?status=maybe",
            &["status=maybe", "on or off"],
        ),
        (
            "ssd1306:/dev/i2c-1?contrast=9",
            &["unknown option \"contrast\"", "address, rotation"],
        ),
        (
            "ssd1306:/nonexistent/i2c-7",
            &[
                "cannot open /nonexistent/i2c-7",
                "No such file",
                "dtparam=i2c_arm=on",
            ],
        ),
        ("st7789:/dev/spidev0.0", &["option dc is required"]),
        (
            "st7789:/dev/spidev0.0?dc=gpiochip0:x",
            &["dc=gpiochip0:x", "CHIP:LINE"],
        ),
        (
            "st7789:/dev/spidev0.0?dc=25&width=300",
            &["width=300", "1 to 240"],
        ),
        (
            "st7789:/dev/spidev0.0?dc=25&width=135&offset_x=120",
            &["offset_x=120", "at most 240"],
        ),
        (
            "st7789:/dev/spidev0.0?dc=25&color_order=grb",
            &["color_order=grb", "rgb or bgr"],
        ),
        ("st7789:/dev/spidev0.0?dc=25&spi_mode=4", &["spi_mode=4"]),
        (
            "st7789:/dev/spidev0.0?dc=25&rotation=100",
            &["rotation=100"],
        ),
        (
            "ili9341:/dev/spidev0.0?dc=25&height=321",
            &["height=321", "1 to 320"],
        ),
        (
            "st7789:/nonexistent/spidev9.9?dc=25",
            &["cannot open /nonexistent/spidev9.9", "dtparam=spi=on"],
        ),
        (
            "fb:/dev/null",
            &[
                "/dev/null is not a framebuffer device",
                "width, height and format",
            ],
        ),
        ("fb:/tmp/x.raw?width=640", &["option height is required"]),
        (
            "fb:/tmp/x.raw?width=640&height=480&format=rgb888",
            &["format=rgb888", "xrgb8888"],
        ),
        ("fb", &["no framebuffer"]),
    ];
    for (spec, needles) in cases {
        let e = open_err(spec);
        for n in *needles {
            assert!(e.contains(n), "{spec}: {e:?} lacks {n:?}");
        }
    }
}

#[test]
fn fb_sink_through_the_command_line() {
    // The whole path: edgepose run → fb sink on a plain file. The picture
    // must be the renderer's for the poses the run printed.
    let dir = tempfile::tempdir().unwrap();
    let raw = dir.path().join("screen.raw");
    let spec = format!(
        "fb:{}?width=640&height=480&format=xrgb8888&status=off",
        raw.display()
    );
    let out = common::run(
        common::edgepose(common::primary())
            .args(["run", "--no-track", "--sink", &spec, "--source"])
            .arg(common::sample("samples/zidane.jpg")),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("{spec}: 1 frames drawn, 0 skipped, 0 bus errors")),
        "{stderr}"
    );
    let lines = common::json_lines(&out);
    assert_eq!(lines.len(), 1);
    let r = &lines[0];
    let fx = fixture();
    let scene = Scene {
        width: r["width"].as_u64().unwrap() as u32,
        height: r["height"].as_u64().unwrap() as u32,
        num_keypoints: 17,
        persons: r["persons"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| {
                let f = |v: &serde_json::Value| v.as_f64().unwrap() as f32;
                let b = p["box"].as_array().unwrap();
                person(&FixPerson {
                    bbox: [f(&b[0]), f(&b[1]), f(&b[2]), f(&b[3])],
                    score: f(&p["score"]),
                    keypoints: p["keypoints"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|k| [f(&k["x"]), f(&k["y"]), f(&k["score"])])
                        .collect(),
                })
            })
            .collect(),
        ..Scene::default()
    };
    assert_eq!(scene.persons.len(), 2);
    let mut fb = FbCanvas::new(640, 480, 640 * 4, PixelLayout::XRGB8888);
    let opts = RenderOptions { status: false };
    render(&mut fb, &scene, &fx.skeleton(), &opts).unwrap();
    let expected = Picture::new(640, 480, |x, y| {
        let c = fb.pixel(x, y);
        [c.r(), c.g(), c.b()]
    });
    assert_eq!(read_raw(&raw, 640, 480, PixelLayout::XRGB8888), expected);
}
