//! Proves the real-kernel test bed (`scripts/vm/`, `tests/common/vm.rs`)
//! gives what the camera, display and serial tests build on: a vivid camera
//! offering YUYV, v4l2loopback nodes that hand a reader exactly the bytes the
//! writer fed (YUYV and MJPEG, including a pause and the recovery after it),
//! a bochs framebuffer whose content a host screendump sees pixel for pixel,
//! a UART line to the host that loses nothing, and the guest script's exit
//! status and time limit.

mod common;

use common::vm::{fnv1a, read_ppm, Vm};
use std::collections::BTreeMap;
use std::time::Duration;

const YUYV_W: u32 = 320;
const YUYV_H: u32 = 240;
const FB_W: u32 = 640;
const FB_H: u32 = 480;

/// `n` YUYV frames of deterministic noise (xorshift), each different.
fn yuyv_frames(n: usize) -> Vec<Vec<u8>> {
    let mut x: u64 = 0x9e3779b97f4a7c15;
    (0..n)
        .map(|_| {
            (0..YUYV_W * YUYV_H * 2)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    (x >> 24) as u8
                })
                .collect()
        })
        .collect()
}

/// Small JPEGs of different colours. Each carries an APP1 segment holding a
/// fake "thumbnail" (FFD8 ... FFD9), so a writer that split at the first
/// FFD9 would cut the frame short.
fn jpeg_frames() -> Vec<Vec<u8>> {
    [[200u8, 30, 30], [30, 200, 30], [30, 30, 200]]
        .iter()
        .map(|rgb| {
            let (w, h) = (160u32, 120u32);
            let pixels: Vec<u8> = (0..w * h)
                .flat_map(|i| [rgb[0], rgb[1].wrapping_add((i % w) as u8), rgb[2]])
                .collect();
            let mut enc = Vec::new();
            image::codecs::jpeg::JpegEncoder::new_with_quality(&mut enc, 85)
                .encode(&pixels, w, h, image::ExtendedColorType::Rgb8)
                .unwrap();
            let app1: &[u8] = b"Exif\0\0\xFF\xD8\xFF\xE0thumb\xFF\xD9";
            let len = (app1.len() + 2) as u16;
            let mut out = vec![0xFF, 0xD8, 0xFF, 0xE1];
            out.extend_from_slice(&len.to_be_bytes());
            out.extend_from_slice(app1);
            out.extend_from_slice(&enc[2..]);
            out
        })
        .collect()
}

/// The framebuffer pattern as the guest writes it (XRGB8888, little endian:
/// B, G, R, X) and as the host must see it (RGB). Every channel varies
/// differently, so swapped channels or a wrong stride show.
fn fb_pattern() -> (Vec<u8>, Vec<u8>) {
    let mut raw = Vec::new();
    let mut rgb = Vec::new();
    for y in 0..FB_H {
        for x in 0..FB_W {
            let r = (x as u8) ^ ((y >> 1) as u8);
            let g = y as u8;
            let b = ((x * 7 + y * 3) >> 2) as u8;
            raw.extend_from_slice(&[b, g, r, 0]);
            rgb.extend_from_slice(&[r, g, b]);
        }
    }
    (raw, rgb)
}

/// Parses "frame I seq=S bytes=B fnv=HEX" lines into (seq, bytes, fnv).
fn frames(lines: &[&str]) -> Vec<(u64, usize, String)> {
    lines
        .iter()
        .filter(|l| l.starts_with("frame "))
        .map(|l| {
            let kv: BTreeMap<&str, &str> = l.split(' ').filter_map(|f| f.split_once('=')).collect();
            (
                kv["seq"].parse().unwrap(),
                kv["bytes"].parse().unwrap(),
                kv["fnv"].to_string(),
            )
        })
        .collect()
}

/// Leaves out a leading frame with sequence 0. v4l2loopback 0.12 resets
/// every buffer's metadata on a reader's VIDIOC_REQBUFS (sequence 0,
/// bytesused = sizeimage) but not its content, so the first frame a new
/// reader dequeues can be an earlier frame with that reset metadata (for
/// MJPEG: the JPEG plus stale bytes up to sizeimage).
fn fresh(mut f: Vec<(u64, usize, String)>) -> Vec<(u64, usize, String)> {
    if f.first().is_some_and(|f| f.0 == 0) {
        f.remove(0);
    }
    f
}

const GUEST: &str = r#"
set -e -o pipefail
S=/dev/ttyS1
# Waits until a loopback node announces CAPTURE (its writer has started).
wait_capture() {
    i=0
    until v4l2-capture info "$1" | grep -q 'capture=1'; do
        i=$((i + 1)); [ $i -lt 200 ] || { echo "no writer on $1"; exit 10; }
        sleep 0.05
    done
}

v4l2-capture info /dev/video0 | sed 's/^/vivid-info /' >$S
v4l2-capture grab /dev/video0 -n 3 -f YUYV -s 640x480 | sed 's/^/vivid-grab /' >$S

v4l2-capture info /dev/video10 | sed 's/^/loop10-idle /' >$S
v4l2-capture info /dev/video11 | sed 's/^/loop11-idle /' >$S

# YUYV: 6 frames, twice, 4 fps.
v4l2-writer -d /dev/video10 -f YUYV -s 320x240 -r 4 -l 2 -w 2 -v frames.yuyv >/tmp/w10.log &
w10=$!
wait_capture /dev/video10
v4l2-capture grab /dev/video10 -n 7 -t 5 | sed 's/^/loop10-grab /' >$S
wait $w10
sed 's/^/loop10-writer /' /tmp/w10.log >$S

# MJPEG: 3 frames, 3 times, 2 fps, 4 s pause after the 3rd frame: the first
# reader times out (2 s) inside the pause, a second one gets the frames after.
v4l2-writer -d /dev/video11 -f MJPG -s 160x120 -r 2 -l 3 -p 3:4 -w 2 -v frames.mjpg >/tmp/w11.log &
w11=$!
wait_capture /dev/video11
(set +e; v4l2-capture grab /dev/video11 -n 20 -t 2; echo "exit $?") | sed 's/^/loop11-grab1 /' >$S
v4l2-capture grab /dev/video11 -n 3 -t 6 | sed 's/^/loop11-grab2 /' >$S
wait $w11
sed 's/^/loop11-writer /' /tmp/w11.log >$S

fb=/sys/class/graphics/fb0
echo "fb-geometry $(cat $fb/virtual_size) $(cat $fb/bits_per_pixel) $(cat $fb/stride)" >$S
cat fb-pattern.raw >/dev/fb0
sleep 1
vm-screendump fbpattern

cat lines.txt >$S
i=0
while [ $i -lt 300 ]; do echo "{\"n\":$i}"; i=$((i + 1)); done >$S
exit 42
"#;

#[test]
fn vm_bed_camera_framebuffer_and_uart() {
    let Some(mut vm) = Vm::new(GUEST) else { return };
    let yuyv = yuyv_frames(6);
    let jpegs = jpeg_frames();
    let (fb_raw, fb_rgb) = fb_pattern();
    let long_line = format!("{{\"long\":\"{}\"}}", "x".repeat(3000));
    let text_lines = [
        r#"{"seq":1,"msg":"quoted \"text\", tab	and unicode: ü ✓"}"#,
        long_line.as_str(),
        r#"{"empty":""}"#,
    ];
    vm.bytes(&yuyv.concat(), "frames.yuyv")
        .bytes(&jpegs.concat(), "frames.mjpg")
        .bytes(&fb_raw, "fb-pattern.raw")
        .bytes(
            format!("{}\n", text_lines.join("\n")).as_bytes(),
            "lines.txt",
        )
        .display(FB_W, FB_H)
        .timeout(Duration::from_secs(150));
    let out = vm.run();
    eprintln!(
        "VM: qemu {:?} (guest ready after {:?} of uptime)",
        out.qemu_time, out.guest_ready
    );
    assert_eq!(
        out.status,
        42,
        "the guest script must reach its end\n{}",
        out.console_tail()
    );

    // vivid: a capture node offering YUYV at 640x480, streaming real frames.
    let info = out.serial_with("vivid-info ");
    assert!(
        info[0].starts_with("driver=vivid ") && info[0].contains("capture=1 output=0 streaming=1"),
        "{info:?}"
    );
    let yuyv_fmt = info
        .iter()
        .find(|l| l.starts_with("format YUYV "))
        .unwrap_or_else(|| panic!("vivid offers no YUYV: {info:?}"));
    assert!(yuyv_fmt.split(' ').any(|s| s == "640x480"), "{yuyv_fmt}");
    assert!(
        info.iter().any(|l| l.starts_with("format NV12 ")),
        "{info:?}"
    );
    let grab = out.serial_with("vivid-grab ");
    assert_eq!(
        grab[0], "streaming YUYV 640x480 bytesperline=1280 sizeimage=614400",
        "{grab:?}"
    );
    let vf = frames(&grab);
    assert_eq!(vf.len(), 3, "{grab:?}");
    assert!(vf.iter().all(|f| f.1 == 614400), "{grab:?}");
    assert!(vf.windows(2).all(|w| w[1].0 > w[0].0), "sequence: {grab:?}");

    // Loopback nodes: named, OUTPUT only until a writer comes (exclusive_caps).
    assert!(
        out.serial_with("loop10-idle ")[0].contains("card=edgepose-loop-0 capture=0 output=1"),
        "{:?}",
        out.serial_with("loop10-idle ")
    );
    assert!(
        out.serial_with("loop11-idle ")[0].contains("card=edgepose-loop-1 capture=0 output=1"),
        "{:?}",
        out.serial_with("loop11-idle ")
    );

    // YUYV through the loopback: every frame read is, byte for byte, the
    // input frame its sequence number says, and none was skipped.
    let want: Vec<String> = yuyv.iter().map(|f| fnv1a(f)).collect();
    let lg = out.serial_with("loop10-grab ");
    assert_eq!(
        lg[0],
        "streaming YUYV 320x240 bytesperline=640 sizeimage=153600"
    );
    let got = fresh(frames(&lg));
    assert!(got.len() >= 6, "{lg:?}");
    for (seq, bytes, fnv) in &got {
        assert_eq!(*bytes, 153600, "{lg:?}");
        assert_eq!(fnv, &want[*seq as usize % 6], "frame seq {seq}: {lg:?}");
    }
    assert!(got.windows(2).all(|w| w[1].0 == w[0].0 + 1), "{lg:?}");
    let wl = out.serial_with("loop10-writer ");
    assert_eq!(wl.last(), Some(&"done frames=12"), "{wl:?}");

    // MJPEG: whole JPEGs (the fake thumbnail's FFD9 did not split them); the
    // reader times out in the writer's pause; a new reader gets what follows.
    let want: Vec<(usize, String)> = jpegs.iter().map(|j| (j.len(), fnv1a(j))).collect();
    let g1 = out.serial_with("loop11-grab1 ");
    assert_eq!(
        g1[0],
        "streaming MJPG 160x120 bytesperline=0 sizeimage=76800"
    );
    assert_eq!(g1.last(), Some(&"exit 3"), "{g1:?}");
    assert!(g1[g1.len() - 2].starts_with("timeout after="), "{g1:?}");
    let f1 = fresh(frames(&g1));
    assert!(!f1.is_empty(), "{g1:?}");
    let f2 = fresh(frames(&out.serial_with("loop11-grab2 ")));
    assert!(f2.len() >= 2, "{:?}", out.serial_with("loop11-grab2 "));
    for (seq, bytes, fnv) in f1.iter().chain(&f2) {
        let (len, h) = &want[*seq as usize % 3];
        assert_eq!((bytes, fnv), (len, h), "MJPEG frame seq {seq}");
    }
    assert!(
        f1.iter().all(|f| f.0 < 3),
        "frames before the pause: {g1:?}"
    );
    assert!(
        f2.iter().all(|f| f.0 >= 3),
        "frames after the pause: {f2:?}"
    );
    assert_eq!(
        out.serial_with("loop11-writer ").last(),
        Some(&"done frames=9")
    );

    // Framebuffer: geometry, and the host's screendump shows the pattern.
    assert_eq!(out.serial_with("fb-geometry "), ["640,480 32 2560"]);
    let dump = &out.screendumps["fbpattern"];
    let (w, h, pixels) = read_ppm(dump);
    assert_eq!((w, h), (FB_W, FB_H));
    if pixels != fb_rgb {
        let first = pixels
            .iter()
            .zip(&fb_rgb)
            .position(|(a, b)| a != b)
            .unwrap();
        let px = first / 3;
        panic!(
            "screendump differs from the pattern first at pixel ({}, {}): got {:?}, want {:?}",
            px as u32 % FB_W,
            px as u32 / FB_W,
            &pixels[px * 3..px * 3 + 3],
            &fb_rgb[px * 3..px * 3 + 3]
        );
    }

    // UART: the text lines intact, then 300 lines in order, none lost.
    let pos = out
        .serial
        .iter()
        .position(|l| l == text_lines[0])
        .unwrap_or_else(|| panic!("first text line missing: {:?}", out.serial));
    assert_eq!(&out.serial[pos..pos + 3], &text_lines[..]);
    let numbered: Vec<String> = (0..300).map(|i| format!("{{\"n\":{i}}}")).collect();
    assert_eq!(&out.serial[pos + 3..], &numbered[..]);
}

#[test]
fn vm_guest_time_limit_is_enforced() {
    let Some(mut vm) = Vm::new("echo started >/dev/ttyS1; sleep 600; echo unreachable >/dev/ttyS1")
    else {
        return;
    };
    vm.timeout(Duration::from_secs(3)).memory_mb(256);
    let out = vm.run();
    assert_eq!(out.status, 124, "{}", out.console_tail());
    assert_eq!(out.serial, ["started"]);
    assert!(
        out.console.contains("guest.sh ran past 3s and was killed"),
        "{}",
        out.console_tail()
    );
}

/// The edgepose binary and the LiteRT library it loads at run time work in
/// the guest through `Vm::binary` (library closure, loader) and give the
/// host's result: XNNPACK runs on the emulated CPU (`-cpu max`: AVX2, FMA).
#[test]
fn vm_runs_edgepose_with_litert() {
    let image = common::sample("samples/zidane.jpg");
    let args = "run --no-track --quiet --source zidane.jpg --model yolov8n_320_quant_pc_uf_pose_coco-st.tflite";
    let script = format!(
        "edgepose {args} --tflite-lib /payload/lib/libLiteRt.so --model-dir /payload/models --sink json:/tmp/out.json\n\
         cat /tmp/out.json >/dev/ttyS1\n"
    );
    let Some(mut vm) = Vm::new(&script) else {
        return;
    };
    let model = common::models_dir().join("yolov8n_320_quant_pc_uf_pose_coco-st.tflite");
    vm.binary(env!("CARGO_BIN_EXE_edgepose"), "bin/edgepose")
        .binary(common::litert_lib(), "lib/libLiteRt.so")
        .file(&model, "models/yolov8n_320_quant_pc_uf_pose_coco-st.tflite")
        .file(&image, "zidane.jpg");
    let out = vm.run();
    assert_eq!(out.status, 0, "{}", out.console_tail());
    assert_eq!(out.serial.len(), 1, "{:?}", out.serial);
    let guest: serde_json::Value = serde_json::from_str(&out.serial[0]).unwrap();

    let host_json = tempfile::NamedTempFile::new().unwrap();
    let mut cmd = common::edgepose(common::Flavour::Litert);
    cmd.args(args.split(' '))
        .arg("--sink")
        .arg(format!("json:{}", host_json.path().display()))
        .current_dir(image.parent().unwrap());
    let o = common::run(&mut cmd);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let host: serde_json::Value =
        serde_json::from_str(std::fs::read_to_string(host_json.path()).unwrap().trim()).unwrap();

    let (gp, hp) = (
        guest["persons"].as_array().unwrap(),
        host["persons"].as_array().unwrap(),
    );
    assert!(
        !hp.is_empty(),
        "the host finds people in zidane.jpg: {host}"
    );
    assert_eq!(gp.len(), hp.len(), "guest {guest}\nhost {host}");
    let close = |a: &serde_json::Value, b: &serde_json::Value| {
        (a.as_f64().unwrap() - b.as_f64().unwrap()).abs() <= 1.0
    };
    for (g, h) in gp.iter().zip(hp) {
        for i in 0..4 {
            assert!(
                close(&g["box"][i], &h["box"][i]),
                "box: guest {g}\nhost {h}"
            );
        }
        let (gks, hks) = (
            g["keypoints"].as_array().unwrap(),
            h["keypoints"].as_array().unwrap(),
        );
        assert_eq!(gks.len(), hks.len(), "keypoints: guest {g}\nhost {h}");
        for (gk, hk) in gks.iter().zip(hks) {
            assert!(
                close(&gk["x"], &hk["x"]) && close(&gk["y"], &hk["y"]),
                "keypoint: guest {gk}\nhost {hk}"
            );
        }
    }
}
