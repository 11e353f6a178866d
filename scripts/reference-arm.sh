#!/usr/bin/env bash
# Regenerates the ARM reference fixtures: scripts/reference.py, the same
# independent Python reference as tests/fixtures/reference*, run as ARM code
# under qemu-user (scripts/qemu-runner.sh, with its default emulated CPUs or
# EDGEPOSE_QEMU_CPU) on the ARM builds of the runtimes the tests run:
#
#   tests/fixtures/reference-arm64          ai-edge-litert 2.3.0 aarch64 wheel
#                                           (python3.11, numpy, Pillow wheels)
#   tests/fixtures/reference-classic-arm64  Debian's libtensorflow-lite arm64,
#   tests/fixtures/reference-classic-armhf  ... armhf, through its C API
#                                           (ctypes; Debian's python3, numpy, Pillow)
#
# int8 kernels round differently on ARM than on x86_64 (see
# tests/fixtures/reference/README.md), so the ARM builds of edgepose are
# checked against these. Needs `EDGEPOSE_SETUP_REFERENCE=1 scripts/setup.sh`
# (the ARM Python roots). Only run it when you mean to change the fixtures.
set -euo pipefail
cd "$(dirname "$0")/.."
cache=${EDGEPOSE_CACHE:-.cache}
models=${EDGEPOSE_MODEL_MIRROR:-../shared/models}
data=${EDGEPOSE_DATA_DIR:-../shared/data}
rt=$(cd "$cache/runtimes" && pwd)
for d in python-arm64 python-classic-arm64 python-classic-armhf; do
    [ -f "$rt/$d/.complete" ] || { echo "reference-arm: $rt/$d missing: run EDGEPOSE_SETUP_REFERENCE=1 scripts/setup.sh" >&2; exit 1; }
done

site=.cache/runtimes/python-arm64-site/litert
EDGEPOSE_QEMU_ROOT=python PYTHONPATH=$rt/python-arm64-site/litert \
    EDGEPOSE_REFERENCE_LAUNCHER="EDGEPOSE_QEMU_ROOT=python PYTHONPATH=$site scripts/qemu-runner.sh aarch64 .cache/runtimes/python-arm64/usr/bin/python3.11" \
    scripts/qemu-runner.sh aarch64 "$rt/python-arm64/usr/bin/python3.11" scripts/reference.py \
    --models-dir "$models" --data-dir "$data" --out tests/fixtures/reference-arm64

for pair in aarch64:arm64:aarch64-linux-gnu armv7:armhf:arm-linux-gnueabihf; do
    IFS=: read -r arch debarch gnu <<<"$pair"
    root=python-classic-$debarch
    lib=usr/lib/$gnu/libtensorflow-lite.so.2.14.1
    # The library in the Python root is the one the tests run.
    cmp "$rt/$root/$lib" "$rt/tflite-classic/$debarch/$lib"
    EDGEPOSE_QEMU_ROOT=python-classic EDGEPOSE_REFERENCE_CAPI_NAME=/$lib \
        EDGEPOSE_REFERENCE_LAUNCHER="EDGEPOSE_QEMU_ROOT=python-classic scripts/qemu-runner.sh $arch /usr/bin/python3" \
        scripts/qemu-runner.sh "$arch" "$rt/$root/usr/bin/python3" scripts/reference.py \
        --capi "/$lib" --models-dir "$models" --data-dir "$data" --out "tests/fixtures/reference-classic-$debarch"
done
