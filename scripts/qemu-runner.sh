#!/usr/bin/env bash
# Cargo's runner for the ARM targets (.cargo/config.toml): runs an ARM
# binary (a test binary of `cargo test --target ...`, or `cargo run`) under
# qemu-user on this x86_64 machine.
#
#   scripts/qemu-runner.sh aarch64|armv7 BINARY [ARGS...]
#
# Each binary runs on an emulation root (qemu's -L): a directory under
# .cache/qemu/ whose lib/ and usr/ are links to an ARM system (the cross libc
# root /usr/<triple> of Debian's cross toolchain, or the unpacked Debian
# TFLite runtime root) and whose proc/cpuinfo describes the emulated CPU.
# qemu looks every absolute path up in the -L root first, so the ARM program
# finds its loader and libraries there, and its /proc/cpuinfo. qemu 7.2 does
# not emulate /proc/cpuinfo for ARM, and LiteRT's CPU detection (cpuinfo)
# reading the host's x86 one crashes (SIGSEGV at startup).
#
# The CPU is a named board core, never qemu's default `max`: `max` offers
# SME, on which LiteRT 2.3 (XNNPACK) under qemu 7.2 returns wrong detections.
#   EDGEPOSE_QEMU_CPU   aarch64: cortex-a76 (default; Raspberry Pi 5),
#                       cortex-a72 (Pi 4), cortex-a53 (i.MX8M Plus, AM62A);
#                       armv7: cortex-a7 (default), cortex-a15
#
# Roots: aarch64 binaries run on the cross libc root (like a board's own
# glibc; LiteRT needs nothing more). armv7 binaries run on the Debian armhf
# TFLite root: LiteRT has no 32-bit ARM build, and the classic library needs
# glibc >= 2.38 in the process that loads it (the tests load it in-process).
# EDGEPOSE_QEMU_ROOT=classic runs an aarch64 binary on the Debian arm64 root
# instead (for `cargo run` with the classic library); =python and
# =python-classic on the Python roots that scripts/reference-arm.sh uses.
#
# The tests start edgepose children themselves; without binfmt_misc the
# kernel cannot exec an ARM binary, so this script tells them how
# (tests/common/mod.rs):
#   EDGEPOSE_TEST_QEMU               the qemu command and its -cpu
#   EDGEPOSE_TEST_QEMU_ROOT          the root this binary runs on
#   EDGEPOSE_TEST_QEMU_CLASSIC_ROOT  the emulation root of the classic runtime
set -euo pipefail

arch=${1:?usage: qemu-runner.sh aarch64|armv7 BINARY [ARGS...]}
shift
here=$(cd "$(dirname "$0")/.." && pwd)
cache=${EDGEPOSE_CACHE:-$here/.cache}

case $arch in
aarch64)
    qemu=qemu-aarch64 triple=aarch64-linux-gnu debarch=arm64
    cpu=${EDGEPOSE_QEMU_CPU:-cortex-a76}
    ;;
armv7)
    qemu=qemu-arm triple=arm-linux-gnueabihf debarch=armhf
    cpu=${EDGEPOSE_QEMU_CPU:-cortex-a7}
    ;;
*)
    echo "qemu-runner: unknown architecture $arch: expected aarch64 or armv7" >&2
    exit 2
    ;;
esac

# MIDR fields (variant, part, revision) and hwcap names of the cores offered.
case $arch/$cpu in
aarch64/cortex-a53) midr="0x0 0xd03 4" feat="fp asimd evtstrm aes pmull sha1 sha2 crc32 cpuid" ;;
aarch64/cortex-a72) midr="0x0 0xd08 3" feat="fp asimd evtstrm aes pmull sha1 sha2 crc32 cpuid" ;;
aarch64/cortex-a76) midr="0x4 0xd0b 1" feat="fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid asimdrdm lrcpc dcpop asimddp" ;;
armv7/cortex-a7) midr="0x0 0xc07 5" feat="half thumb fastmult vfp edsp neon vfpv3 tls vfpv4 idiva idivt vfpd32 lpae evtstrm" ;;
armv7/cortex-a15) midr="0x2 0xc0f 4" feat="half thumb fastmult vfp edsp neon vfpv3 tls vfpv4 idiva idivt vfpd32 lpae evtstrm" ;;
*)
    echo "qemu-runner: EDGEPOSE_QEMU_CPU=$cpu: expected one of cortex-a76, cortex-a72, cortex-a53 (aarch64) or cortex-a7, cortex-a15 (armv7)" >&2
    exit 2
    ;;
esac
command -v "$qemu" >/dev/null || {
    echo "qemu-runner: $qemu not found: run scripts/setup.sh (installs qemu-user)" >&2
    exit 2
}

# cpuinfo TEXT for this core, one entry per host CPU (the emulated program
# sees the host's CPU count in /sys).
cpuinfo() {
    local n i variant part rev
    read -r variant part rev <<<"$midr"
    n=$(nproc --all)
    for ((i = 0; i < n; i++)); do
        printf 'processor\t: %d\n' "$i"
        [ "$arch" = armv7 ] && printf 'model name\t: ARMv7 Processor rev %d (v7l)\n' "$rev"
        printf 'BogoMIPS\t: 50.00\nFeatures\t: %s\nCPU implementer\t: 0x41\n' "$feat"
        printf 'CPU architecture: %s\n' "$([ "$arch" = armv7 ] && echo 7 || echo 8)"
        printf 'CPU variant\t: %s\nCPU part\t: %s\nCPU revision\t: %s\n\n' "$variant" "$part" "$rev"
    done
}

# make_root DIR USR_TARGET LIB_TARGET [ETC_TARGET]: an emulation root with
# links to an ARM system and this core's proc/cpuinfo. Idempotent; built
# under a temporary name and renamed, so parallel runs never see half a root.
make_root() {
    local dir=$1 usr=$2 lib=$3 etc=${4:-}
    if [ -f "$dir/.complete" ] && [ "$(readlink "$dir/lib")" = "$lib" ]; then
        return 0
    fi
    local tmp
    tmp=$(mktemp -d "$dir.XXXXXX")
    mkdir -p "$tmp/proc"
    [ -n "$usr" ] && ln -s "$usr" "$tmp/usr"
    ln -s "$lib" "$tmp/lib"
    [ -n "$etc" ] && ln -s "$etc" "$tmp/etc"
    cpuinfo >"$tmp/proc/cpuinfo"
    touch "$tmp/.complete"
    rm -rf "$dir"
    mv -T "$tmp" "$dir" 2>/dev/null || rm -rf "$tmp"
}

qroots="$cache/qemu/$cpu"
mkdir -p "$qroots"
classic="$cache/runtimes/tflite-classic/$debarch"
[ -d "$classic/usr" ] || {
    echo "qemu-runner: the Debian $debarch TFLite root $classic is missing: run scripts/setup.sh" >&2
    exit 2
}
make_root "$qroots/classic" "$classic/usr" usr/lib "$classic/etc"
case $arch/${EDGEPOSE_QEMU_ROOT:-default} in
aarch64/default | aarch64/cross)
    [ -d "/usr/$triple/lib" ] || {
        echo "qemu-runner: the cross libc root /usr/$triple is missing: run scripts/setup.sh (installs libc6-dev-arm64-cross)" >&2
        exit 2
    }
    make_root "$qroots/cross" "" "/usr/$triple/lib"
    root="$qroots/cross"
    ;;
aarch64/python)
    py="$cache/runtimes/python-arm64"
    [ -f "$py/.complete" ] || {
        echo "qemu-runner: the arm64 Python root $py is missing: run EDGEPOSE_SETUP_REFERENCE=1 scripts/setup.sh" >&2
        exit 2
    }
    make_root "$qroots/python" "$py/usr" "$py/lib" "$py/etc"
    root="$qroots/python"
    ;;
*/python-classic)
    pc="$cache/runtimes/python-classic-$debarch"
    [ -f "$pc/.complete" ] || {
        echo "qemu-runner: the $debarch Python root $pc is missing: run EDGEPOSE_SETUP_REFERENCE=1 scripts/setup.sh" >&2
        exit 2
    }
    make_root "$qroots/python-classic" "$pc/usr" usr/lib "$pc/etc"
    root="$qroots/python-classic"
    ;;
*/default | */classic) root="$qroots/classic" ;;
*)
    echo "qemu-runner: EDGEPOSE_QEMU_ROOT=$EDGEPOSE_QEMU_ROOT: expected cross, classic, python-classic (aarch64 also python)" >&2
    exit 2
    ;;
esac

export EDGEPOSE_TEST_QEMU="$qemu -cpu $cpu"
export EDGEPOSE_TEST_QEMU_ROOT="$root"
export EDGEPOSE_TEST_QEMU_CLASSIC_ROOT="$qroots/classic"
exec "$qemu" -cpu "$cpu" -L "$root" "$@"
