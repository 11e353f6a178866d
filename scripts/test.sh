#!/usr/bin/env bash
# The test command: sets everything up (scripts/setup.sh: Debian packages,
# both TFLite runtimes, the reference venv, the models) and runs every check:
# formatting, clippy with warnings as errors, and the whole test suite on
# the real runtimes. Run from anywhere; needs network access to the package
# registries the first time.
#
# Models and data: EDGEPOSE_MODEL_MIRROR (default ../shared/models) and
# EDGEPOSE_DATA_DIR (default ../shared/data).
set -euo pipefail
cd "$(dirname "$0")/.."

export EDGEPOSE_MODEL_MIRROR=${EDGEPOSE_MODEL_MIRROR:-$(cd .. && pwd)/shared/models}
export EDGEPOSE_DATA_DIR=${EDGEPOSE_DATA_DIR:-$(cd .. && pwd)/shared/data}

bash scripts/setup.sh

echo "== cargo fmt --check"
cargo fmt --check
echo "== cargo clippy --all-targets -- -D warnings"
cargo clippy --all-targets -- -D warnings
echo "== cargo test"
# --nocapture: the reference tests print what they compared.
cargo test -- --nocapture

# The ARM builds: the whole suite again as ARM code under qemu-user
# (scripts/qemu-runner.sh), then the release builds and their Debian
# packages. EDGEPOSE_TEST_ARM=0 skips this part (local runs only).
if [ "${EDGEPOSE_TEST_ARM:-1}" = 1 ]; then
    for target in aarch64-unknown-linux-gnu armv7-unknown-linux-gnueabihf; do
        echo "== cargo test --target $target (qemu-user)"
        t0=$SECONDS
        cargo test --target "$target" -- --nocapture
        echo "== $target: tests took $((SECONDS - t0)) s"
    done
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
