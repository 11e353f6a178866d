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
#   - Mesa's Teflon delegate (mesa-teflon-delegate, arm64 only in Debian) and
#     its dependency closure, unpacked into .cache/runtimes/teflon/arm64: a
#     real third-party NPU delegate for the aarch64 test run (under qemu or on
#     an arm64 machine), where it finds no NPU and must fail clearly
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

teflon="$cache/runtimes/teflon/arm64"
if [ ! -f "$teflon/.complete" ]; then
    [ -f "$aptdir/apt.conf" ] || { echo "setup-boards: $aptdir/apt.conf is missing: run scripts/setup.sh" >&2; exit 1; }
    log "fetching Mesa's Teflon delegate (mesa-teflon-delegate, $suite, arm64) and its closure"
    export APT_CONFIG="$aptdir/apt.conf"
    pkgs=$(apt-cache depends --recurse --no-recommends --no-suggests --no-conflicts --no-breaks \
        --no-replaces --no-enhances mesa-teflon-delegate:arm64 | grep -v '^ ' | grep -v '^<' | sed 's/:arm64$//' | sort -u)
    tmp=$(mktemp -d)
    (cd "$tmp" && for p in $pkgs; do
        apt-get download -qq "$p:arm64" 2>/dev/null || apt-get download -qq "$p"
    done)
    rm -rf "$teflon.part"
    mkdir -p "$teflon.part"
    for d in "$tmp"/*.deb; do dpkg-deb -x "$d" "$teflon.part"; done
    dpkg-deb -f "$tmp"/mesa-teflon-delegate_*.deb Version >"$teflon.part/.version"
    rm -rf "$tmp" "$teflon"
    mv "$teflon.part" "$teflon"
    touch "$teflon/.complete"
    unset APT_CONFIG
fi
log "ready: $teflon/usr/lib/teflon/libteflon.so ($(cat "$teflon/.version"))"
