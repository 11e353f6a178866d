//! Writes the seed corpus of the `tflite_interface` fuzz target: small
//! model files shaped like the interfaces edgepose meets (YOLO anchor-free,
//! MoveNet, TI's three anchor heads, int8 and float32, quantized or not),
//! and a few that the reader must refuse.
//!
//! `cargo run -p edgepose-model-file --example fuzz_seeds -- fuzz/corpus/tflite_interface`

use edgepose_model_file::build::model;

fn main() {
    let dir = std::env::args()
        .nth(1)
        .expect("usage: fuzz_seeds DIR (e.g. fuzz/corpus/tflite_interface)");
    std::fs::create_dir_all(&dir).expect("create the corpus directory");
    let (f32_, u8_, i8_) = (0i8, 3i8, 9i8);
    let q = Some(1.0f32 / 255.0);
    let seeds: Vec<(&str, Vec<u8>)> = vec![
        (
            "yolo-anchor-free-uint8-in-float-out",
            model(
                &[(&[1, 320, 320, 3], u8_, q), (&[1, 56, 2100], f32_, None)],
                &[0],
                &[1],
            ),
        ),
        (
            "yolo-anchor-free-int8",
            model(
                &[
                    (&[1, 256, 256, 3], i8_, q),
                    (&[1, 56, 1344], i8_, Some(0.0193)),
                ],
                &[0],
                &[1],
            ),
        ),
        (
            "movenet",
            model(
                &[(&[1, 192, 192, 3], u8_, None), (&[1, 1, 17, 3], f32_, None)],
                &[0],
                &[1],
            ),
        ),
        (
            "ti-anchor-heads",
            model(
                &[
                    (&[1, 640, 640, 3], u8_, None),
                    (&[1, 3, 80, 80, 57], f32_, None),
                    (&[1, 3, 40, 40, 57], f32_, None),
                    (&[1, 3, 20, 20, 57], f32_, None),
                    (&[1, 64, 160, 160], i8_, Some(0.05)),
                ],
                &[0],
                &[1, 2, 3],
            ),
        ),
        (
            "ti-nms",
            model(
                &[(&[1, 640, 640, 3], f32_, None), (&[300, 57], f32_, None)],
                &[0],
                &[1],
            ),
        ),
        (
            "impossible-input",
            model(
                &[(&[1, 0, 320, 3], u8_, q), (&[1, 56, 2100], f32_, None)],
                &[0],
                &[1],
            ),
        ),
        (
            "huge-output",
            model(
                &[
                    (&[1, 320, 320, 3], u8_, q),
                    (&[1, 56, 140_000_000], f32_, None),
                ],
                &[0],
                &[1],
            ),
        ),
        (
            "index-out-of-range",
            model(&[(&[1, 320, 320, 3], u8_, q)], &[0], &[7]),
        ),
    ];
    for (name, bytes) in seeds {
        let p = std::path::Path::new(&dir).join(name);
        std::fs::write(&p, bytes).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        println!("{}", p.display());
    }
}
