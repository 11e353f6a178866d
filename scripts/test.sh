#!/usr/bin/env bash
# The test command: sets everything up (scripts/setup.sh: Debian packages,
# both TFLite runtimes, the reference venv, the models) and runs every check:
# formatting, the documentation's links (scripts/check-links.py), clippy with
# warnings as errors, and the whole test suite on the real runtimes. Run from anywhere; needs network access to the package
# registries the first time.
#
# Models and data: EDGEPOSE_MODEL_MIRROR (default ../shared/models) and
# EDGEPOSE_DATA_DIR (default ../shared/data).
set -euo pipefail
cd "$(dirname "$0")/.."

export EDGEPOSE_MODEL_MIRROR=${EDGEPOSE_MODEL_MIRROR:-$(cd .. && pwd)/shared/models}
export EDGEPOSE_DATA_DIR=${EDGEPOSE_DATA_DIR:-$(cd .. && pwd)/shared/data}

bash scripts/setup.sh

echo "== import cycles between src/ modules"
python3 scripts/check-cycles.py
echo "== cargo fmt --all --check"
cargo fmt --all --check
echo "== links and anchors in README.md and docs/"
python3 scripts/check-links.py
echo "== cargo clippy --all-targets -- -D warnings"
cargo clippy --all-targets -- -D warnings
# The build without the optional backends (what scripts/demo.sh builds).
echo "== cargo clippy --no-default-features --all-targets -- -D warnings"
cargo clippy --no-default-features --all-targets -- -D warnings
# The GStreamer plugin (crates/gst-source, host only): tests/gst.rs and the
# VM's gst: runs load it from beside the edgepose binary.
echo "== GStreamer plugin: clippy and build"
cargo clippy -p edgepose-gst --all-targets -- -D warnings
cargo build -p edgepose-gst
echo "== cargo test"
# --nocapture: the reference tests print what they compared.
cargo test -- --nocapture
echo "== fuzz"
bash scripts/fuzz.sh "${EDGEPOSE_FUZZ_SECONDS:-30}"

# The ARM builds, as ARM code under qemu-user (scripts/qemu-runner.sh),
# then their release builds and Debian packages. EDGEPOSE_TEST_ARM=0 skips
# this part (local runs only).
#
# aarch64 (the Pi 4/5, TI and NXP boards) runs the whole suite. armv7 runs
# its unit tests and the integration tests where a 32-bit build can differ:
# inference against the armhf reference sets, pre-processing bytes, the
# delegate plugin ABI, packaging, notifications, displays and the COCO
# evaluator. Its classic runtime has no XNNPACK, so each emulated invoke
# takes seconds: the rest would add well over half an hour (measured here:
# cli 410 s, board 215 s, alloc over 15 min). EDGEPOSE_TEST_ARMV7=full runs it.
if [ "${EDGEPOSE_TEST_ARM:-1}" = 1 ]; then
    echo "== cargo test --target aarch64-unknown-linux-gnu (qemu-user)"
    t0=$SECONDS
    cargo test --target aarch64-unknown-linux-gnu -- --nocapture
    echo "== aarch64: tests took $((SECONDS - t0)) s"

    echo "== cargo test --target armv7-unknown-linux-gnueabihf (qemu-user)"
    t0=$SECONDS
    if [ "${EDGEPOSE_TEST_ARMV7:-}" = full ]; then
        cargo test --target armv7-unknown-linux-gnueabihf -- --nocapture
    else
        cargo test --target armv7-unknown-linux-gnueabihf --lib \
            --test reference --test preprocess --test delegate \
            --test deploy --test notify --test display --test cocoeval -- --nocapture
    fi
    echo "== armv7: tests took $((SECONDS - t0)) s"

    # The packages' contents are what is checked here, so these release
    # builds use thin LTO (minutes less); the shipped profile (fat LTO, one
    # codegen unit) is what scripts/deploy.sh builds and the sizes in
    # docs/cross-building-and-deployment.md are from. EDGEPOSE_SHIP_PROFILE=1 uses it here too.
    if [ "${EDGEPOSE_SHIP_PROFILE:-0}" != 1 ]; then
        export CARGO_PROFILE_RELEASE_LTO=thin CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16
    fi
    target_dir=${CARGO_TARGET_DIR:-target}
    for target in aarch64-unknown-linux-gnu armv7-unknown-linux-gnueabihf; do
        echo "== release build and Debian package for $target"
        t0=$SECONDS
        cargo build --release --locked --target "$target"
        bin=$target_dir/$target/release/edgepose
        echo "== $target: release binary $(stat -c %s "$bin") bytes, built in $((SECONDS - t0)) s"
        deb=$(cargo deb --no-build --target "$target" --output "$target_dir/debian/" 2>/dev/null | tail -1)
        bash scripts/check-deb.sh "$deb" "$target"
    done
fi
