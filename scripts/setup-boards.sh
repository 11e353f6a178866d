#!/usr/bin/env bash
# Setup for the board-profile and delegate tests (called by scripts/setup.sh
# after the classic TFLite runtime is in place). Idempotent.
#
#   - a C compiler (gcc): tests/delegate.rs compiles the test delegate
#     (tests/fixtures/test-delegate/test_delegate.c) into a shared library
#   - the TFLite 2.14 C headers (Debian's libtensorflow-lite-dev, unpacked
#     into .cache/tflite-headers/, never installed): the test delegate is
#     compiled against the exact TfLiteDelegate/TfLiteContext ABI of the
#     classic runtime the tests load it into
#
# The Debian package lists come from the private apt configuration that
# scripts/setup.sh derives from this machine's own /etc/apt sources.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
cache=${EDGEPOSE_CACHE:-$here/.cache}
suite=${EDGEPOSE_TFLITE_SUITE:-forky}
aptdir="$cache/apt-$suite"
headers="$cache/tflite-headers"

log() { printf '[setup-boards] %s\n' "$*" >&2; }

if ! command -v cc >/dev/null 2>&1; then
    log "installing gcc"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends gcc libc6-dev >/dev/null
fi

if [ ! -f "$headers/.complete" ]; then
    [ -f "$aptdir/apt.conf" ] || { echo "setup-boards: $aptdir/apt.conf is missing: run scripts/setup.sh" >&2; exit 1; }
    case "$(uname -m)" in
        aarch64) arch=arm64 ;;
        armv7l | armv6l) arch=armhf ;;
        *) arch=amd64 ;;
    esac
    log "fetching the TFLite C headers (libtensorflow-lite-dev, $suite, $arch)"
    tmp=$(mktemp -d)
    (cd "$tmp" && APT_CONFIG="$aptdir/apt.conf" apt-get download -qq "libtensorflow-lite-dev:$arch")
    rm -rf "$headers.part"
    mkdir -p "$headers.part"
    dpkg-deb -x "$tmp"/libtensorflow-lite-dev_*.deb "$tmp/x"
    cp -r "$tmp/x/usr/include/." "$headers.part/"
    dpkg-deb -f "$tmp"/libtensorflow-lite-dev_*.deb Version >"$headers.part/.version"
    rm -rf "$tmp" "$headers"
    mv "$headers.part" "$headers"
    touch "$headers/.complete"
fi
log "ready: $headers ($(cat "$headers/.version"))"
