//! The framebuffer display sink on a real kernel framebuffer: Debian's
//! kernel in the test VM (`tests/common/vm.rs`) with QEMU's bochs-display
//! and the `bochs` DRM driver, whose fbdev emulation gives `/dev/fb0`.
//!
//! In one boot the guest fills the screen with grey, then runs `edgepose
//! run --sink fb:/dev/fb0?status=off` twice: on `bus.jpg` (the first frame
//! on a freshly opened screen: every row written) and on `bus.jpg` then
//! `zidane.jpg` (the second frame writes only the rows that changed), and
//! asks the host for a QEMU screendump after each run. The host runs the
//! same binary with the same arguments, the framebuffer sink on a plain
//! file of the same geometry (`fb:FILE?width=800&height=600&format=xrgb8888`),
//! and checks that
//! * the kernel's framebuffer geometry (sysfs) is what edgepose logged it
//!   opened (size, pixel format, line length, offset);
//! * the guest found exactly the persons the host found (the guest's
//!   emulated CPU runs other XNNPACK kernels; for the int8 model they agree
//!   exactly, which the pixel comparison below relies on);
//! * every pixel of each screendump equals the host's file (so a wrong
//!   stride, channel order or offset, a row not written or not flushed by
//!   the kernel, or a leftover of the grey or of the previous frame fails);
//! * after the two-frame run the host's file equals a one-frame run on
//!   `zidane.jpg` (the changed-rows update leaves nothing of `bus.jpg`);
//! * the host's pictures equal the golden PNGs
//!   `tests/fixtures/display/fb-800x600-vm-{bus,zidane}.png` (written with
//!   `EDGEPOSE_BLESS=1`; a mismatch, or any failed comparison, leaves the
//!   pictures under the test target's tmp folder, `vm-framebuffer/`).

#![cfg(feature = "display")]

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::vm::{read_ppm, Vm};
use serde_json::Value;

const MODEL: &str = "yolov8n_320_quant_pc_uf_pose_coco-st.tflite";
const W: u32 = 800;
const H: u32 = 600;
/// The runs: a name (of the screendump after it) and the photos it shows,
/// in order.
const RUNS: [(&str, &[&str]); 2] = [("bus", &["bus"]), ("bus-zidane", &["bus", "zidane"])];
/// The grey the guest fills the screen with first (each byte 0x7f).
const GREY: [u8; 3] = [0x7f, 0x7f, 0x7f];

fn sources(images: &[&str]) -> Vec<String> {
    images
        .iter()
        .flat_map(|i| ["--source".to_string(), format!("{i}.jpg")])
        .collect()
}

fn guest_script() -> String {
    let bytes = W * H * 4;
    let mut s = format!(
        r#"
S=/dev/ttyS1
fb=/sys/class/graphics/fb0
echo "fb-sysfs $(cat $fb/name) $(cat $fb/virtual_size) $(cat $fb/bits_per_pixel) $(cat $fb/stride)" >$S
# Grey everywhere, in one write (a write that lies within one line and
# ends at its end may never reach the screen: see src/display/framebuffer/mod.rs).
head -c {bytes} /dev/zero | tr '\000' '\177' >/tmp/grey
dd if=/tmp/grey of=/dev/fb0 bs={bytes} count=1 2>/dev/null || exit 2
# The fbdev emulation copies its shadow buffer to the device from a
# worker: give it a moment before each screendump.
sleep 1
vm-screendump grey || exit 3
run() {{
    name=$1
    shift
    edgepose --tflite-lib /payload/lib/libLiteRt.so --model-dir /payload/models -v \
        run --no-track --quiet --model {MODEL} "$@" \
        --sink 'fb:/dev/fb0?status=off' --sink json:/tmp/$name.json 2>/tmp/$name.log
    echo "$name-status $?" >$S
    sed "s/^/$name-log /" /tmp/$name.log >$S
    sed "s/^/$name-json /" /tmp/$name.json >$S
    sleep 1
    vm-screendump $name || exit 3
}}
"#
    );
    for (name, images) in RUNS {
        s += &format!("run {name} {}\n", sources(images).join(" "));
    }
    s
}

/// XRGB8888 bytes (B, G, R, X per pixel, rows of `W * 4`) as RGB.
fn xrgb_to_rgb(raw: &[u8]) -> Vec<u8> {
    assert_eq!(raw.len(), (W * H * 4) as usize, "raw framebuffer size");
    raw.chunks_exact(4)
        .flat_map(|p| [p[2], p[1], p[0]])
        .collect()
}

fn save_png(path: &Path, rgb: &[u8]) {
    image::RgbImage::from_raw(W, H, rgb.to_vec())
        .unwrap()
        .save(path)
        .unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
}

fn out_dir() -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR")).join("vm-framebuffer");
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Where two RGB pictures first differ, and how many pixels do.
fn differ(a: &[u8], b: &[u8]) -> Option<String> {
    assert_eq!(a.len(), b.len());
    let bad: Vec<usize> = a
        .chunks_exact(3)
        .zip(b.chunks_exact(3))
        .enumerate()
        .filter(|(_, (p, q))| p != q)
        .map(|(i, _)| i)
        .collect();
    let &first = bad.first()?;
    Some(format!(
        "{} pixels differ, the first at ({}, {}): {:?} vs {:?}",
        bad.len(),
        first as u32 % W,
        first as u32 / W,
        &a[first * 3..first * 3 + 3],
        &b[first * 3..first * 3 + 3]
    ))
}

/// Compares `rgb` with the golden PNG `name` (writes it with
/// `EDGEPOSE_BLESS=1`).
fn check_golden(name: &str, rgb: &[u8]) {
    let path = common::repo().join(format!("tests/fixtures/display/{name}.png"));
    if std::env::var("EDGEPOSE_BLESS").as_deref() == Ok("1") {
        save_png(&path, rgb);
        eprintln!("blessed {}", path.display());
        return;
    }
    let golden = image::open(&path)
        .unwrap_or_else(|e| {
            panic!(
                "golden {} unreadable ({e}); write it with EDGEPOSE_BLESS=1",
                path.display()
            )
        })
        .to_rgb8();
    assert_eq!(golden.dimensions(), (W, H), "{}", path.display());
    if let Some(d) = differ(rgb, golden.as_raw()) {
        let actual = out_dir().join(format!("{name}.actual.png"));
        save_png(&actual, rgb);
        panic!(
            "{name}: the rendering differs from the golden {}: {d}; actual picture in {}",
            path.display(),
            actual.display()
        );
    }
}

/// The persons of a JSON record: box and keypoints (x, y, score).
fn persons(record: &Value) -> Vec<Vec<f64>> {
    record["persons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            let mut v: Vec<f64> = p["box"]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_f64().unwrap())
                .collect();
            for k in p["keypoints"].as_array().unwrap() {
                for f in ["x", "y", "score"] {
                    v.push(k[f].as_f64().unwrap());
                }
            }
            v
        })
        .collect()
}

/// The host's run on `images`: the picture the file backend received
/// (RGB) and the records.
fn host_run(images: &[&str], dir: &Path, name: &str) -> (Vec<u8>, Vec<Value>) {
    let raw = dir.join(format!("{name}.raw"));
    let json = dir.join(format!("{name}.json"));
    let spec = format!(
        "fb:{}?width={W}&height={H}&format=xrgb8888&status=off",
        raw.display()
    );
    let mut cmd = common::edgepose(common::Flavour::Litert);
    cmd.args(["-v", "run", "--no-track", "--quiet", "--model", MODEL])
        .args(sources(images))
        .args(["--sink", &spec])
        .arg("--sink")
        .arg(format!("json:{}", json.display()))
        .current_dir(common::sample("samples/bus.jpg").parent().unwrap());
    let o = common::run(&mut cmd);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "host run {name}: {stderr}");
    let mode = format!(
        "{spec}: {W}x{H}, 32 bpp xrgb8888, {} bytes per line, visible area at byte 0 (plain file)",
        W * 4
    );
    assert!(
        stderr.lines().any(|l| l.ends_with(&mode)),
        "{mode}\n{stderr}"
    );
    let drawn = format!("{spec}: {} frames drawn, 0 skipped", images.len());
    assert!(stderr.contains(&drawn), "{drawn}\n{stderr}");
    let records = std::fs::read_to_string(&json)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    (xrgb_to_rgb(&std::fs::read(&raw).unwrap()), records)
}

/// Fails with where `actual` and `expected` differ, after saving both.
fn assert_same_picture(what: &str, name: &str, actual: &[u8], expected: &[u8]) {
    if let Some(d) = differ(actual, expected) {
        let dir = out_dir();
        save_png(&dir.join(format!("{name}.actual.png")), actual);
        save_png(&dir.join(format!("{name}.expected.png")), expected);
        panic!(
            "{what}: {d} (pictures {name}.actual.png, {name}.expected.png in {})",
            dir.display()
        );
    }
}

#[test]
fn vm_framebuffer_shows_what_the_renderer_draws() {
    let Some(mut vm) = Vm::new(&guest_script()) else {
        return;
    };
    vm.binary(env!("CARGO_BIN_EXE_edgepose"), "bin/edgepose")
        .binary(common::litert_lib(), "lib/libLiteRt.so")
        .file(common::models_dir().join(MODEL), &format!("models/{MODEL}"))
        .display(W, H)
        .memory_mb(1536)
        .timeout(Duration::from_secs(240));
    for name in ["bus", "zidane"] {
        vm.file(
            common::sample(&format!("samples/{name}.jpg")),
            &format!("{name}.jpg"),
        );
    }
    let out = vm.run();
    eprintln!(
        "VM: qemu {:?} (guest ready after {:?} of uptime)",
        out.qemu_time, out.guest_ready
    );
    assert_eq!(out.status, 0, "{}", out.console_tail());

    // The kernel's framebuffer: bochs, 800x600, 32 bpp, no row padding.
    assert_eq!(
        out.serial_with("fb-sysfs "),
        [format!("bochs-drmdrmfb {W},{H} 32 {}", W * 4)],
        "{}",
        out.console_tail()
    );

    // The grey reached the screen, so the pictures below overwrite a
    // screen that is not black to begin with.
    let (w, h, grey) = read_ppm(&out.screendumps["grey"]);
    assert_eq!((w, h), (W, H));
    assert_same_picture(
        "the grey fill",
        "grey",
        &grey,
        &GREY.repeat((W * H) as usize),
    );

    let host_dir = tempfile::tempdir().unwrap();
    let mut host_pictures = vec![];
    for (name, images) in RUNS {
        let log = out.serial_with(&format!("{name}-log ")).join("\n");
        assert_eq!(
            out.serial_with(&format!("{name}-status ")),
            ["0"],
            "guest run {name}: {log}"
        );
        // edgepose opened the framebuffer with the kernel's geometry and
        // drew every frame.
        let mode = format!(
            "fb:/dev/fb0?status=off: {W}x{H}, 32 bpp xrgb8888, {} bytes per line, visible area at byte 0",
            W * 4
        );
        assert!(log.lines().any(|l| l.ends_with(&mode)), "{mode}\n{log}");
        let drawn = format!(
            "fb:/dev/fb0?status=off: {} frames drawn, 0 skipped, 0 bus errors",
            images.len()
        );
        assert!(log.contains(&drawn), "{drawn}\n{log}");

        let (host_rgb, host_records) = host_run(images, host_dir.path(), name);
        let guest_records: Vec<Value> = out
            .serial_with(&format!("{name}-json "))
            .iter()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(guest_records.len(), images.len(), "{name}");
        for (g, h) in guest_records.iter().zip(&host_records) {
            assert!(!persons(h).is_empty(), "{name}: {h}");
            assert_eq!(
                persons(g),
                persons(h),
                "{name}: the guest found other poses than the host (so the pictures differ too)\nguest {g}\nhost {h}"
            );
        }

        let (w, h, dump) = read_ppm(&out.screendumps[name]);
        assert_eq!((w, h), (W, H), "{name} screendump size");
        assert_same_picture(
            &format!("{name}: the screendump differs from the host's rendering"),
            name,
            &dump,
            &host_rgb,
        );
        host_pictures.push(host_rgb);
    }

    // The second frame of the two-frame run replaced the first entirely.
    let (zidane, _) = host_run(&["zidane"], host_dir.path(), "zidane");
    assert_same_picture(
        "bus.jpg then zidane.jpg differs from zidane.jpg alone",
        "zidane",
        &host_pictures[1],
        &zidane,
    );
    check_golden(&format!("fb-{W}x{H}-vm-bus"), &host_pictures[0]);
    check_golden(&format!("fb-{W}x{H}-vm-zidane"), &zidane);
}
