//! Hostile and broken input, as a new user or an attacker would give it:
//! each must end in one line naming the thing and what was expected, a
//! non-zero exit, nothing on stdout and nothing half-written, within a
//! small memory bound (peak RSS of the child measured with `wait4`, printed
//! with `--nocapture`; docs/robustness.md holds the table). Also the panic
//! hook: what is left of a bug is one line and exit code 70.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::rss::run_measured;
use common::{bare, edgepose, sample};

/// Peak RSS allowed when the input is refused before any model loads, in
/// KiB (the binary alone is ~10 MiB; qemu-user adds its own).
fn small_rss_kib() -> u64 {
    if common::emulated() {
        256 * 1024
    } else {
        32 * 1024
    }
}

/// Peak RSS allowed with a model loaded (LiteRT and the 320 model take
/// about 40 MiB) and the input refused from its header.
fn model_rss_kib() -> u64 {
    if common::emulated() {
        512 * 1024
    } else {
        128 * 1024
    }
}

/// Runs `cmd`, asserts exit 1, nothing on stdout and exactly one
/// `edgepose: error:` line holding every needle; prints the line and the
/// peak RSS, and returns them.
fn refused(what: &str, cmd: &mut Command, needles: &[&str]) -> (String, u64) {
    let (out, rss) = run_measured(cmd);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(1), "{what}: {err}");
    assert!(
        out.stdout.is_empty(),
        "{what}: stdout: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    let errors: Vec<String> = common::own_stderr(&out)
        .into_iter()
        .filter(|l| l.starts_with("edgepose: error:"))
        .collect();
    assert_eq!(errors.len(), 1, "{what}: {err}");
    for n in needles {
        assert!(errors[0].contains(n), "{what}: {:?} lacks {n:?}", errors[0]);
    }
    println!("{what}: {} [exit 1, peak RSS {rss} KiB]", errors[0]);
    (errors[0].clone(), rss)
}

fn infer(input: &Path) -> Command {
    let mut c = edgepose(common::primary());
    c.arg("infer").arg(input);
    c
}

#[test]
fn a_panic_is_one_line_and_exit_70_on_any_thread() {
    for (where_, needle) in [
        ("main", "test panic on the main thread second line"),
        ("thread", "test panic on another thread"),
    ] {
        // Not through common::run, which fails on exit 70 by design.
        let out = bare()
            .env("EDGEPOSE_TEST_PANIC", where_)
            .env_remove("RUST_BACKTRACE")
            .env_remove("EDGEPOSE_BACKTRACE")
            .arg("models")
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(70), "{where_}: {err}");
        let lines: Vec<&str> = err.lines().collect();
        assert_eq!(lines.len(), 1, "{where_}: one line: {err}");
        assert!(
            lines[0].starts_with("edgepose: internal error, a bug in edgepose")
                && lines[0].contains(needle)
                && lines[0].contains("src/main.rs:")
                && lines[0].contains("EDGEPOSE_BACKTRACE=1"),
            "{err}"
        );
    }
    // Developers get the full message and a backtrace as well.
    let out = bare()
        .env("EDGEPOSE_TEST_PANIC", "main")
        .env("EDGEPOSE_BACKTRACE", "1")
        .env_remove("RUST_BACKTRACE")
        .arg("models")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(70), "{err}");
    assert!(err.starts_with("panicked at src/main.rs"), "{err}");
    assert!(err.contains("stack backtrace"), "{err}");
    assert!(err
        .lines()
        .last()
        .unwrap()
        .starts_with("edgepose: internal error"));
}

#[test]
fn config_errors_say_where() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("edgepose.toml");
    let cases = [
        (
            "# board\nthreads = \"four\"\n",
            "line 2, column 11: field threads: invalid type: string \"four\", expected usize",
        ),
        (
            "threads = 1\nthreads = 2\n",
            "line 2, column 1: duplicate key",
        ),
        (
            "treads = 2\n",
            "line 1, column 1: unknown field `treads`, expected one of",
        ),
    ];
    for (text, needle) in cases {
        std::fs::write(&f, text).unwrap();
        let prefix = format!("config file {}: ", f.display());
        refused(
            "config",
            bare().arg("--config").arg(&f).arg("models"),
            &[&prefix, needle],
        );
    }
}

#[test]
fn endless_and_directory_files_are_refused_within_their_cap() {
    let dir = tempfile::tempdir().unwrap();
    for (option, file, needle) in [
        (
            "--config",
            "/dev/zero",
            "config file /dev/zero: it goes on past the 1 MiB a config file may have",
        ),
        (
            "--manifest",
            "/dev/zero",
            "manifest /dev/zero: it goes on past the 64 KiB a manifest may have",
        ),
        (
            "--board",
            "/dev/zero",
            "board profile /dev/zero: it goes on past the 1 MiB a board profile may have",
        ),
    ] {
        // infer: the board profile is read when the settings are made.
        let (_, rss) = refused(
            &format!("{option} {file}"),
            bare().arg(option).arg(file).args(["infer", "x.jpg"]),
            &[needle],
        );
        assert!(rss < small_rss_kib(), "{option} {file}: {rss} KiB");
    }
    let d = dir.path().display().to_string();
    refused(
        "--config DIR",
        bare().arg("--config").arg(dir.path()).arg("models"),
        &[&format!(
            "config file {d}: it is a directory, not a config file"
        )],
    );
}

/// CRC-32 (ISO-HDLC) of `data`, as PNG chunks carry it.
fn crc32(data: &[u8]) -> u32 {
    let mut c = !0u32;
    for &b in data {
        c ^= u32::from(b);
        for _ in 0..8 {
            c = if c & 1 != 0 {
                (c >> 1) ^ 0xEDB8_8320
            } else {
                c >> 1
            };
        }
    }
    !c
}

/// A valid 8 × 8 PNG whose header (IHDR, CRC corrected) then says `w` ×
/// `h`: what a decoder sees before it reads a single pixel.
fn png_claiming(path: &Path, w: u32, h: u32) {
    png_1bit(path, 8, 8);
    let mut b = std::fs::read(path).unwrap();
    // signature (8), length (4), "IHDR" (4), width, height, ...; CRC after
    // the 13 data bytes.
    b[16..20].copy_from_slice(&w.to_be_bytes());
    b[20..24].copy_from_slice(&h.to_be_bytes());
    let crc = crc32(&b[12..29]);
    b[29..33].copy_from_slice(&crc.to_be_bytes());
    std::fs::write(path, b).unwrap();
}

/// A PNG of `w` × `h` 1-bit grey pixels, all black.
fn png_1bit(path: &Path, w: u32, h: u32) {
    let mut bytes = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut bytes, w, h);
        enc.set_color(png::ColorType::Grayscale);
        enc.set_depth(png::BitDepth::One);
        enc.set_compression(png::Compression::Fast);
        let mut writer = enc.write_header().unwrap();
        let mut stream = writer.stream_writer().unwrap();
        let row = vec![0u8; w.div_ceil(8) as usize];
        for _ in 0..h {
            std::io::Write::write_all(&mut stream, &row).unwrap();
        }
        stream.finish().unwrap();
        writer.finish().unwrap();
    }
    std::fs::write(path, bytes).unwrap();
}

/// `bus.jpg` with its frame header (SOF0) saying `w` × `h`.
fn jpeg_claiming(path: &Path, w: u16, h: u16) {
    let mut b = std::fs::read(sample("samples/bus.jpg")).unwrap();
    let sof = b
        .windows(2)
        .position(|m| m == [0xFF, 0xC0] || m == [0xFF, 0xC2])
        .expect("a SOF marker");
    // marker, length (2), precision (1), height (2), width (2)
    b[sof + 5..sof + 7].copy_from_slice(&h.to_be_bytes());
    b[sof + 7..sof + 9].copy_from_slice(&w.to_be_bytes());
    std::fs::write(path, b).unwrap();
}

#[test]
fn images_are_capped_from_their_header() {
    let dir = tempfile::tempdir().unwrap();
    let p = |n: &str| dir.path().join(n);
    // A valid PNG of 20000 x 20000 1-bit pixels: 50 KB on disk, 1.2 GB
    // as RGB. Used to be decoded (2.4-2.8 GB resident).
    png_1bit(&p("bomb.png"), 20_000, 20_000);
    // Headers only: 100000 px per side (used to abort allocating 30 GB)
    // and a JPEG saying 65000 x 65000 (used to reach 12.4 GB).
    png_claiming(&p("huge.png"), 100_000, 100_000);
    jpeg_claiming(&p("huge.jpg"), 65_000, 65_000);
    for (name, size) in [
        ("bomb.png", "20000 × 20000 pixels (400.0 megapixels)"),
        ("huge.png", "100000 × 100000 pixels (10000.0 megapixels)"),
        ("huge.jpg", "65000 × 65000 pixels (4225.0 megapixels)"),
    ] {
        let file = p(name);
        let (_, rss) = refused(
            name,
            &mut infer(&file),
            &[
                &file.display().to_string(),
                size,
                "is more than the 40 megapixels edgepose decodes",
            ],
        );
        assert!(rss < model_rss_kib(), "{name}: {rss} KiB");
    }
    // /dev/zero as an image: refused after its first 16 bytes.
    let (_, rss) = refused(
        "/dev/zero image",
        &mut infer(Path::new("/dev/zero")),
        &["/dev/zero: not a decodable image (expected JPEG or PNG): its first bytes (00 00"],
    );
    assert!(rss < model_rss_kib(), "/dev/zero: {rss} KiB");
}

#[test]
fn a_cmyk_jpeg_is_named_as_such() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("print.jpg");
    let pixels = vec![40u8; 16 * 8 * 4];
    let image = turbojpeg::Image {
        pixels: pixels.as_slice(),
        width: 16,
        pitch: 16 * 4,
        height: 8,
        format: turbojpeg::PixelFormat::CMYK,
    };
    let jpeg = turbojpeg::compress(image, 90, turbojpeg::Subsamp::None).unwrap();
    std::fs::write(&f, &*jpeg).unwrap();
    refused(
        "CMYK JPEG",
        &mut infer(&f),
        &[
            &f.display().to_string(),
            "a CMYK JPEG (a print colour space); edgepose reads RGB and greyscale JPEGs",
        ],
    );
}

#[test]
fn nan_and_infinite_thresholds_are_refused_at_parse() {
    for (args, needle) in [
        // infer: the global thresholds are checked when the settings are
        // made (models makes none); before any runtime library is looked for.
        (
            vec!["--conf", "NaN", "infer", "x.jpg"],
            "conf_threshold = NaN: expected a number from 0 to 1",
        ),
        (
            vec!["--iou", "inf", "infer", "x.jpg"],
            "iou_threshold = inf: expected a number from 0 to 1",
        ),
        (
            vec![
                "eval",
                "--annotations",
                "x.json",
                "--images",
                "d",
                "--min-ap",
                "NaN",
            ],
            "--min-ap NaN: expected a number from 0 to 1",
        ),
        (
            vec![
                "eval",
                "--annotations",
                "x.json",
                "--images",
                "d",
                "--max-ap-drop=-inf",
            ],
            "--max-ap-drop -inf: expected a number from 0 to 1",
        ),
    ] {
        refused(&args.join(" "), bare().args(&args), &[needle]);
    }
}

/// A COCO file of images `ids` with one person annotation on each of
/// `annotated`.
fn coco(dir: &Path, ids: &[u64], annotated: &[u64]) -> PathBuf {
    let images: Vec<String> = ids
        .iter()
        .map(|i| format!(r#"{{"id": {i}, "file_name": "bus.jpg", "width": 810, "height": 1080}}"#))
        .collect();
    let kps = vec![0; 51];
    let anns: Vec<String> = annotated
        .iter()
        .enumerate()
        .map(|(n, i)| {
            format!(
                r#"{{"id": {}, "image_id": {i}, "category_id": 1, "keypoints": {kps:?},
                    "num_keypoints": 0, "area": 100, "bbox": [0, 0, 10, 10]}}"#,
                n + 1
            )
        })
        .collect();
    let p = dir.join("ann.json");
    std::fs::write(
        &p,
        format!(
            r#"{{"images": [{}], "annotations": [{}]}}"#,
            images.join(","),
            anns.join(",")
        ),
    )
    .unwrap();
    p
}

#[test]
fn inconsistent_annotation_files_are_refused_before_any_image() {
    let dir = tempfile::tempdir().unwrap();
    let images = sample("samples");
    for (ids, annotated, needle) in [
        (
            vec![1, 2],
            vec![1, 7, 8],
            "2 of the 3 annotations are on an image id that is not among the 2 images \
             (first: annotation 2 on image id 7)",
        ),
        (
            vec![1, 1],
            vec![1],
            "1 of the 2 images repeat an image id already listed (first: id 1)",
        ),
    ] {
        let f = coco(dir.path(), &ids, &annotated);
        refused(
            needle,
            edgepose(common::primary())
                .arg("eval")
                .arg("--annotations")
                .arg(&f)
                .arg("--images")
                .arg(&images),
            &[&format!("annotation file {}", f.display()), needle],
        );
    }
}

/// Lists what `dir` holds, sorted.
fn listing(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn nothing_is_created_when_the_run_does_not_start() {
    let dir = tempfile::tempdir().unwrap();
    let out_json = dir.path().join("out.jsonl");
    let ann = dir.path().join("ann/nested");
    let images = sample("samples/bus.jpg");
    let spec = format!("json:{}?pretty=1", out_json.display());
    // A rejected sink spec, with a good file sink and --annotate beside it.
    let (line, _) = refused(
        "rejected sink spec",
        edgepose(common::primary())
            .arg("run")
            .arg("--source")
            .arg(&images)
            .arg("--sink")
            .arg(format!("json:{}", dir.path().join("good.jsonl").display()))
            .arg("--sink")
            .arg(&spec)
            .arg("--annotate")
            .arg(&ann),
        &[&format!("--sink {spec}: unknown option \"pretty\"")],
    );
    assert_eq!(line.matches(&spec).count(), 1, "named once: {line}");
    // A serial device that does not exist, after a file sink.
    let (line, _) = refused(
        "missing serial device",
        edgepose(common::primary())
            .arg("run")
            .arg("--source")
            .arg(&images)
            .arg("--sink")
            .arg(format!("json:{}", out_json.display()))
            .arg("--sink")
            .arg("serial:/dev/does-not-exist")
            .arg("--annotate")
            .arg(&ann),
        &[
            "--sink serial:/dev/does-not-exist: no such device",
            "wait=true waits for it to appear",
        ],
    );
    assert_eq!(line.matches("/dev/does-not-exist").count(), 1, "{line}");
    // A model that does not load.
    refused(
        "bad model",
        edgepose(common::primary())
            .arg("--model")
            .arg("/dev/zero")
            .arg("infer")
            .arg(&images)
            .arg("--annotate")
            .arg(&ann),
        &["/dev/zero is not a usable TFLite model"],
    );
    assert!(listing(dir.path()).is_empty(), "{:?}", listing(dir.path()));
}

#[test]
fn inputs_with_the_same_name_are_annotated_apart() {
    let dir = tempfile::tempdir().unwrap();
    for (sub, img) in [("a", "bus.jpg"), ("b", "zidane.jpg")] {
        std::fs::create_dir(dir.path().join(sub)).unwrap();
        std::fs::copy(
            sample(&format!("samples/{img}")),
            dir.path().join(sub).join("x.jpg"),
        )
        .unwrap();
    }
    let ann = dir.path().join("ann");
    let (out, rss) = run_measured(
        edgepose(common::primary())
            .arg("infer")
            .arg(dir.path().join("a/x.jpg"))
            .arg(dir.path().join("b/x.jpg"))
            .arg("--annotate")
            .arg(&ann),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    println!("same-name inputs annotated: peak RSS {rss} KiB");
    assert_eq!(listing(&ann), ["x-2.jpg", "x.jpg"]);
    // Each is its own picture: bus.jpg is 810 x 1080, zidane.jpg 1280 x 720.
    let size = |n: &str| image::image_dimensions(ann.join(n)).unwrap();
    assert_eq!((size("x.jpg"), size("x-2.jpg")), ((810, 1080), (1280, 720)));
}

#[test]
fn sources_named_like_specs_and_devices_that_are_no_camera() {
    let dir = tempfile::tempdir().unwrap();
    // An existing file whose name reads like a spec is that file.
    let odd = dir.path().join("what?.jpg");
    std::fs::copy(sample("samples/bus.jpg"), &odd).unwrap();
    let (out, rss) = run_measured(&mut infer(&odd));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    println!("what?.jpg: peak RSS {rss} KiB");
    let recs = common::json_lines(&out);
    assert_eq!(recs[0]["source"], odd.display().to_string());
    // A device that is not a camera: a setup error (exit 1), not a lost
    // camera (exit 4).
    refused(
        "v4l2:/dev/null",
        edgepose(common::primary()).args(["run", "--source", "v4l2:/dev/null"]),
        &["camera /dev/null: not a video capture device"],
    );
    // A bare word that is no file is a missing path.
    refused(
        "missing bare word",
        edgepose(common::primary())
            .current_dir(dir.path())
            .args(["run", "--source", "frames"]),
        &["frames: no such file or directory"],
    );
}

#[test]
fn records_a_sink_never_delivered_are_counted_as_dropped() {
    // wait=true: the device may appear later, so the run starts; it never
    // does, and the record that waited for it is counted, not lost.
    let (out, rss) = run_measured(
        edgepose(common::primary())
            .args(["run", "--quiet", "--source"])
            .arg(sample("samples/bus.jpg"))
            .args(["--sink", "serial:/dev/does-not-exist?wait=true"]),
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    println!("serial wait=true, never there: peak RSS {rss} KiB");
    let line = err
        .lines()
        .find(|l| l.starts_with("edgepose: serial /dev/does-not-exist"))
        .unwrap_or_else(|| panic!("no serial summary: {err}"));
    assert!(
        line.contains("1 records, 0 sent, 1 dropped, 0 queued"),
        "{line}"
    );
}

#[test]
fn listen_says_what_it_skipped_and_why() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("stream.jsonl");
    // A 50 MB first line, two records, a 2 MB line, one more record.
    let mut bytes = vec![b'x'; 50 << 20];
    bytes.extend_from_slice(b"\n{\"seq\":1}\n{\"seq\":2}\n");
    bytes.extend(std::iter::repeat_n(b'{', 2 << 20));
    bytes.extend_from_slice(b"\n{\"seq\":3}\n");
    std::fs::write(&f, &bytes).unwrap();
    let (out, rss) = run_measured(bare().arg("listen").arg(&f));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert_eq!(common::stdout(&out).lines().count(), 3, "{err}");
    assert!(
        err.contains(
            "edgepose listen: skipped at start: a line of 52428800 bytes, longer than the 1 MiB \
             a JSON record may have"
        ),
        "{err}"
    );
    assert!(
        err.contains(
            "edgepose listen: frame after seq 2 dropped: a line of 2097152 bytes, longer than \
             the 1 MiB a JSON record may have"
        ),
        "{err}"
    );
    assert!(
        err.contains("3 frames (json), 0 CRC errors, 1 undecodable")
            && err.contains("52428800 bytes skipped at start"),
        "{err}"
    );
    println!("listen, 50 MB line: peak RSS {rss} KiB");
    assert!(rss < small_rss_kib(), "{rss} KiB");
}

#[test]
fn recordings_are_checked_before_a_pixel_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("nine.raw");
    std::fs::write(&f, [128u8; 9]).unwrap();
    let spec = |q: &str| format!("raw:{}?{q}", f.display());
    for (args, needle) in [
        // Odd-width NV12 used to read past the 9 bytes (a panic, then a
        // hang: the capture thread died and the frame loop waited on it).
        (
            vec!["infer".to_string(), spec("format=NV12&width=3&height=2")],
            "NV12 needs an even width (chroma is shared by pixel pairs); got 3",
        ),
        (
            vec![
                "run".into(),
                "--source".into(),
                spec("format=YUYV&width=640&height=480&fps=1e-300"),
            ],
            "fps=1e-300: expected frames per second, 0.01 to 1000",
        ),
        // 16384 lines of 1 MiB: more than a frame may be.
        (
            vec![
                "infer".into(),
                spec("format=YUYV&width=640&height=16384&stride=1048576"),
            ],
            "a 640x16384 YUYV frame with stride 1048576 exceeds 256 MiB",
        ),
        // More pixels than an image may have (its RGB copy alone: 768 MiB).
        (
            vec!["infer".into(), spec("format=GREY&width=16384&height=16384")],
            "16384 × 16384 pixels (268.4 megapixels) is more than the 40 megapixels",
        ),
        (
            vec!["infer".into(), spec("format=GREY&width=4&height=4")],
            "recording ",
        ),
        (
            vec![
                "infer".into(),
                "raw:/dev/zero?format=YUYV&width=640&height=480".into(),
            ],
            "recording /dev/zero: not a regular file",
        ),
        (
            vec![
                "run".into(),
                "--interval-ms".into(),
                "1e300".into(),
                "--source".into(),
                dir.path().display().to_string(),
            ],
            "--interval-ms 1e300: expected 0 to 3600000 milliseconds",
        ),
    ] {
        let (line, rss) = refused(&args[1], edgepose(common::primary()).args(&args), &[needle]);
        assert!(rss < model_rss_kib(), "{line}: {rss} KiB");
    }
    let (line, _) = refused(
        "wrong length",
        edgepose(common::primary())
            .arg("infer")
            .arg(spec("format=GREY&width=4&height=4")),
        &["9 bytes is not a whole number of 4x4 GREY frames of 16 bytes"],
    );
    assert!(!line.contains("not a decodable image"), "{line}");
}

#[test]
fn a_long_recording_is_read_a_frame_at_a_time() {
    // 1 GiB of 640x480 YUYV frames (a sparse file: no disk used). It used
    // to be read whole into memory before the first frame.
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("long.yuyv");
    let frame = 640 * 480 * 2;
    std::fs::File::create(&f)
        .unwrap()
        .set_len(1748 * frame)
        .unwrap();
    let (out, rss) = run_measured(
        edgepose(common::primary())
            .arg("bench")
            .arg(format!(
                "raw:{}?format=YUYV&width=640&height=480",
                f.display()
            ))
            .args(["--iterations", "1", "--warmup", "0"]),
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    println!("bench on a 1 GiB recording: peak RSS {rss} KiB");
    assert!(rss < model_rss_kib(), "{rss} KiB");
}
