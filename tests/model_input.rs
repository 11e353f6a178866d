//! Model files as hostile input, on the real runtimes: shipped models edited
//! at run time (in a temporary directory) so that their declared shapes lie,
//! are impossible or are huge, `/dev/zero` as the model, and a file over the
//! size cap. Each must end in one line naming the model and what is wrong,
//! exit code 1, nothing on stdout, within a small memory bound (the peak RSS
//! of each is measured with `wait4` and printed; docs/robustness.md holds
//! the numbers).

mod common;

use std::path::{Path, PathBuf};

use common::rss::run_measured;
use common::{edgepose, own_stderr, sample, Flavour};

/// Peak RSS allowed for a model refused before any runtime touches it, in
/// KiB: the binary alone is ~10 MiB; under qemu-user the emulator's own
/// memory is counted too.
fn small_rss_kib() -> u64 {
    if common::emulated() {
        256 * 1024
    } else {
        64 * 1024
    }
}

/// The shipped model the crafted files are made from.
fn shipped() -> PathBuf {
    common::models_dir().join("yolov8n_320_quant_pc_uf_pose_coco-st.tflite")
}

fn u32_at(b: &[u8], at: usize) -> usize {
    u32::from_le_bytes(b[at..at + 4].try_into().unwrap()) as usize
}

/// The position of field `slot` of the flatbuffer table at `table`.
fn field(b: &[u8], table: usize, slot: usize) -> usize {
    let vtable = table - i32::from_le_bytes(b[table..table + 4].try_into().unwrap()) as usize;
    let off = u16::from_le_bytes(b[vtable + slot..vtable + slot + 2].try_into().unwrap()) as usize;
    assert!(off != 0, "field {slot} absent");
    table + off
}

/// A vector field's element start and length.
fn vector(b: &[u8], at: usize) -> (usize, usize) {
    let v = at + u32_at(b, at);
    (v + 4, u32_at(b, v))
}

/// Writes a copy of the shipped model whose first input's (or output's)
/// declared shape is `dims`, edited in the flatbuffer by hand (TFLite
/// schema: Model.subgraphs = field 2, SubGraph.tensors/inputs/outputs =
/// 0/1/2, Tensor.shape = 0), into `dir/name`.
fn crafted(dir: &Path, name: &str, which: &str, dims: &[i32]) -> PathBuf {
    let mut b = std::fs::read(shipped())
        .unwrap_or_else(|e| panic!("{}: {e}: run scripts/setup.sh", shipped().display()));
    let model = u32_at(&b, 0);
    let (subgraphs, _) = vector(&b, field(&b, model, 8));
    let sg = subgraphs + u32_at(&b, subgraphs);
    let (tensors, _) = vector(&b, field(&b, sg, 4));
    let (io, _) = vector(&b, field(&b, sg, if which == "input" { 6 } else { 8 }));
    let t = tensors + 4 * u32_at(&b, io);
    let t = t + u32_at(&b, t);
    let (shape, rank) = vector(&b, field(&b, t, 4));
    assert_eq!(rank, dims.len(), "the edit keeps the rank");
    for (i, d) in dims.iter().enumerate() {
        b[shape + 4 * i..shape + 4 * i + 4].copy_from_slice(&d.to_le_bytes());
    }
    let p = dir.join(name);
    std::fs::write(&p, b).unwrap();
    p
}

/// `infer bus.jpg` with `model` on `flavour`: asserts one error line with
/// every needle, exit 1, nothing on stdout; returns the line and the peak
/// RSS.
fn refused(flavour: Flavour, model: &Path, needles: &[&str]) -> (String, u64) {
    let (out, rss) = run_measured(
        edgepose(flavour)
            .arg("--model")
            .arg(model)
            .arg("infer")
            .arg(sample("samples/bus.jpg")),
    );
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(1), "{flavour:?}: {err}");
    assert!(out.stdout.is_empty(), "nothing on stdout: {err}");
    let errors: Vec<String> = own_stderr(&out)
        .into_iter()
        .filter(|l| l.starts_with("edgepose: error:"))
        .collect();
    assert_eq!(errors.len(), 1, "{err}");
    for n in needles {
        assert!(
            errors[0].contains(n),
            "{flavour:?}: {:?} lacks {n:?}",
            errors[0]
        );
    }
    assert!(
        !errors[0].contains("bus.jpg"),
        "blames the image: {}",
        errors[0]
    );
    println!(
        "{flavour:?} {}: {} [peak RSS {} KiB]",
        model.display(),
        errors[0],
        rss
    );
    (errors[0].clone(), rss)
}

fn flavours() -> Vec<Flavour> {
    if cfg!(target_arch = "arm") {
        vec![Flavour::Classic] // no LiteRT for 32-bit ARM
    } else {
        vec![Flavour::Litert, Flavour::Classic]
    }
}

#[test]
fn declared_output_shape_that_the_graph_does_not_make_is_refused_before_any_run() {
    // The graph makes 2100 anchors; the file declares 2000. LiteRT used to
    // write 2100 anchors into a buffer sized for 2000 at the first run.
    let dir = tempfile::tempdir().unwrap();
    let m = crafted(dir.path(), "lying-output.tflite", "output", &[1, 56, 2000]);
    for f in flavours() {
        refused(
            f,
            &m,
            &[
                &format!("model {}", m.display()),
                "the runtime allocates output 0 (\"PartitionedCall:0\") as [1, 56, 2100], the \
                 model file declares [1, 56, 2000] float32 (448000 bytes)",
            ],
        );
    }
}

#[test]
fn declared_input_size_that_the_graph_cannot_take_is_blamed_on_the_model() {
    // Declares a 256 x 256 input on a graph built for 320 x 320: the
    // runtime cannot allocate the graph's tensors. Reported when the model
    // loads, naming it and the runtime's reason, not as a failed frame.
    let dir = tempfile::tempdir().unwrap();
    let m = crafted(dir.path(), "lying-input.tflite", "input", &[1, 256, 256, 3]);
    for f in flavours() {
        let (line, _) = refused(f, &m, &[&format!("cannot run model {}", m.display())]);
        let why = match f {
            Flavour::Litert => "LiteRT cannot allocate the model's tensors",
            Flavour::Classic => "TfLiteInterpreterAllocateTensors",
        };
        assert!(line.contains(why) && line.contains("(runtime: "), "{line}");
    }
    // A manifest that disagrees with the (honest) model: against the model.
    let manifest = dir.path().join("mine.toml");
    let text = std::fs::read_to_string(
        common::repo().join("models/yolov8n_320_quant_pc_uf_pose_coco-st.toml"),
    )
    .unwrap()
    .replace("id = \"yolov8n-320-st\"", "id = \"mine\"")
    .replace(
        "file = \"yolov8n_320_quant_pc_uf_pose_coco-st.tflite\"",
        "file = \"mine.tflite\"",
    )
    .replace("size = [320, 320]", "size = [256, 256]");
    std::fs::write(&manifest, text.replace("sha256 = ", "# sha256 = ")).unwrap();
    let copy = dir.path().join("mine.tflite");
    std::fs::copy(shipped(), &copy).unwrap();
    let (out, _) = run_measured(
        edgepose(common::primary())
            .arg("--manifest")
            .arg(&manifest)
            .arg("--model")
            .arg(&copy)
            .arg("infer")
            .arg(sample("samples/bus.jpg")),
    );
    assert_eq!(out.status.code(), Some(1));
    let err = own_stderr(&out).join("\n");
    assert!(
        err.contains(&format!(
            "model {} does not match its manifest: expected input [1,256,256,3], the model has \
             [1, 320, 320, 3]",
            copy.display()
        )),
        "{err}"
    );
}

#[test]
fn impossible_and_huge_shapes_are_refused_from_the_file_alone() {
    let dir = tempfile::tempdir().unwrap();
    let m = crafted(dir.path(), "zero-input.tflite", "input", &[1, 0, 320, 3]);
    let (line, rss) = refused(
        common::primary(),
        &m,
        &[
            "input 0 (\"serving_default_images:0\") has an impossible shape [1, 0, 320, 3]: \
           dimension 1 is 0",
        ],
    );
    assert!(!line.contains("manifest"), "{line}");
    assert!(rss < small_rss_kib(), "{rss} KiB");
    // 56 x 140 million float32 = 29.2 GiB: used to abort with "memory
    // allocation of 31360000000 bytes failed".
    let m = crafted(
        dir.path(),
        "huge-output.tflite",
        "output",
        &[1, 56, 140_000_000],
    );
    let (_, rss) = refused(
        common::primary(),
        &m,
        &[
            "output 0 (\"PartitionedCall:0\") declares shape [1, 56, 140000000] float32 \
           (29.2 GiB), more than the 64.0 MiB edgepose allows for one tensor",
        ],
    );
    assert!(rss < small_rss_kib(), "{rss} KiB");
}

#[test]
fn endless_and_oversized_model_files_are_refused_without_reading_them() {
    // /dev/zero: refused after its first 8 bytes (it used to be read to
    // about 2.1 GB).
    let (_, rss) = refused(
        common::primary(),
        Path::new("/dev/zero"),
        &[
            "/dev/zero is not a usable TFLite model: expected a TFLite flatbuffer (identifier \
           TFL3 at byte 4), found 00 00 00 00 there",
        ],
    );
    assert!(rss < small_rss_kib(), "{rss} KiB");
    // A (sparse) file over the 512 MiB cap with a TFLite header: refused
    // from its length.
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("oversized.tflite");
    let mut head = std::fs::read(shipped()).unwrap();
    head.truncate(4096);
    std::fs::write(&p, &head).unwrap();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&p)
        .unwrap()
        .set_len(513 << 20)
        .unwrap();
    let (_, rss) = refused(
        common::primary(),
        &p,
        &["it is 537919488 bytes, more than the 536870912 bytes (512.0 MiB) a model file may have"],
    );
    assert!(rss < small_rss_kib(), "{rss} KiB");
}
