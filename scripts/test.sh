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

# Declared skips (tests/common/skip.rs): a test that lacks a part of the
# test bed fails and names the set-up step, unless the run lists that part
# in EDGEPOSE_TEST_UNAVAILABLE ("part=reason;..."); then it appends a line
# to this log. The log is printed last, whatever the outcome ("none" on a
# full machine). The host run declares nothing: whatever the caller set is
# kept (a machine that truly lacks a part says so there).
skip_log=${CARGO_TARGET_DIR:-target}/declared-skips.log
case $skip_log in /*) ;; *) skip_log=$(pwd)/$skip_log ;; esac
mkdir -p "$(dirname "$skip_log")"
: >"$skip_log"
export EDGEPOSE_TEST_SKIP_LOG=$skip_log
# The ARM runs' subsets: each test file a target does not run, listed
# apart from the skips (nothing is missing; EDGEPOSE_TEST_ARM=full runs them).
subset_log=${skip_log%.log}-arm-subset.log
: >"$subset_log"
print_skips() {
    local n
    if [ -s "$subset_log" ]; then
        echo "== test files not run as ARM code (run on the host; EDGEPOSE_TEST_ARM=full runs them): $(grep -c . "$subset_log")"
        sed 's/^/  /' "$subset_log"
    fi
    n=$(grep -c . "$skip_log" 2>/dev/null || true)
    if [ "${n:-0}" -eq 0 ]; then
        echo "== declared skips: none"
    else
        echo "== declared skips: $n"
        sed 's/^/  /' "$skip_log"
    fi
}
trap print_skips EXIT
host_unavailable=${EDGEPOSE_TEST_UNAVAILABLE:-}

# Disk: the builds of three targets and the fuzz workspace. With
# EDGEPOSE_LEAN_DISK=1 (.ci/run sets it) no incremental caches are kept, and
# the fuzz builds and each ARM target's test build are removed once they have
# run (nothing later uses them); locally they stay for the next run. Each
# part prints what the build directories hold then, and the space left.
lean_disk=${EDGEPOSE_LEAN_DISK:-0}
[ "$lean_disk" != 1 ] || export CARGO_INCREMENTAL=0
target_dir=${CARGO_TARGET_DIR:-target}
disk_note() {
    local sizes
    sizes=$(du -sh "$target_dir" fuzz/target 2>/dev/null | awk '{printf "%s%s %s", (NR > 1 ? ", " : ""), $2, $1}') || true
    echo "== disk after $1: ${sizes:-nothing built}; $(df -h --output=avail . | tail -1 | tr -d ' ') free"
}
disk_note "set-up"
[ -z "$host_unavailable" ] || echo "== declared unavailable by the caller: $host_unavailable"

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
# 12 s per target: with the eight targets about 2 minutes in all
# (docs/robustness.md#fuzz-targets has the longer runs).
bash scripts/fuzz.sh "${EDGEPOSE_FUZZ_SECONDS:-12}"
disk_note "the host suite and fuzzing"
# The fuzz builds; run/ keeps the logs and what the run found.
[ "$lean_disk" != 1 ] || find fuzz/target -mindepth 1 -maxdepth 1 ! -name run -exec rm -rf {} +

# The ARM builds, as ARM code under qemu-user (scripts/qemu-runner.sh),
# then their release builds and Debian packages. EDGEPOSE_TEST_ARM=0 skips
# this part (local runs only).
#
# Both ARM targets run their unit tests and the integration tests where an
# ARM build can differ: inference against the ARM reference sets (both
# runtimes on aarch64), pre-processing bytes (the NEON kernels), the
# delegate plugin ABI, packaging, notifications, displays and the COCO
# evaluator; aarch64 (the Pi 4/5, TI and NXP boards) adds the annotated
# pictures, the model-file checks and raw pipes. The other test files run
# the same target-independent code as the host run and, emulated, cost more
# than CI's hour allows (measured here on aarch64: alloc 313 s, eval 301 s,
# mqtt 156 s; on armv7, with no XNNPACK, cli 410 s, board 215 s, alloc over
# 15 min); the preview's timing tests measure qemu, not edgepose. Each run
# lists them at the end as not run. EDGEPOSE_TEST_ARM=full runs the whole
# suite on both targets.
#
# What qemu-user cannot host is declared for these runs, as measured here:
# - vm: the VM guest (tests/common/vm.rs) is an x86_64 Debian; the ARM
#   edgepose these runs build cannot run in it (the host run covers it);
# - termios2: qemu-user 7.2 (Debian 1:7.2+dfsg-7+deb12u18) answers the
#   serial ioctl TCGETS2 on a pty with ENOSYS (TCGETS works); a static
#   aarch64 and armhf probe gave "Function not implemented" for both;
# - litert (armv7 only): ai-edge-litert 2.3.0 has wheels for x86_64 and
#   aarch64 but none for 32-bit ARM (pip download --platform linux_armv7l,
#   manylinux2014_armv7l, manylinux_2_31_armv7l: "No matching distribution");
# - opencv-sets: tests/fixtures/reference-opencv* were made on x86_64, whose
#   int8 kernels round differently from ARM's, and their 86 images (1548
#   input tensors, 12 eval runs) are too slow for qemu-user; the ARM runs
#   check the Pillow sets made on ARM instead.
# Each test still probes first: a part that works is used, declared or not.
arm_subset() {
    local target=$1
    shift
    if [ "${EDGEPOSE_TEST_ARM:-1}" = full ]; then
        cargo test --target "$target" -- --nocapture
        disk_note "the $target tests"
        return
    fi
    local args=(--lib) t name
    for t in "$@"; do args+=(--test "$t"); done
    cargo test --target "$target" "${args[@]}" -- --nocapture
    disk_note "the $target tests"
    [ "$lean_disk" != 1 ] || rm -rf "$target_dir/$target/debug"
    for t in tests/*.rs; do
        name=$(basename "$t" .rs)
        case " $* " in *" $name "*) continue ;; esac
        echo "$target: $t" >>"$subset_log"
    done
}
arm_common="reference preprocess delegate deploy notify display cocoeval"
if [ "${EDGEPOSE_TEST_ARM:-1}" != 0 ]; then
    qemu_version=$(qemu-aarch64 --version | head -1 | sed "s/^qemu-aarch64 /qemu-user /")
    arm_vm="vm=the VM guest is x86_64 and these tests run as ARM code under qemu-user"
    arm_termios2="termios2=$qemu_version answers TCGETS2 on a pty with ENOSYS"
    arm_opencv="opencv-sets=made on x86_64, whose int8 kernels round differently from ARM's, and 86 images are too slow under qemu-user"
    echo "== cargo test --target aarch64-unknown-linux-gnu (qemu-user)"
    t0=$SECONDS
    export EDGEPOSE_TEST_UNAVAILABLE="${host_unavailable:+$host_unavailable;}$arm_vm;$arm_termios2;$arm_opencv"
    echo "== declared unavailable: $EDGEPOSE_TEST_UNAVAILABLE"
    # shellcheck disable=SC2086
    arm_subset aarch64-unknown-linux-gnu $arm_common annotate model_input pipe
    echo "== aarch64: tests took $((SECONDS - t0)) s"

    echo "== cargo test --target armv7-unknown-linux-gnueabihf (qemu-user)"
    t0=$SECONDS
    EDGEPOSE_TEST_UNAVAILABLE+=";litert=ai-edge-litert 2.3.0 publishes no 32-bit ARM build"
    echo "== declared unavailable: $EDGEPOSE_TEST_UNAVAILABLE"
    # shellcheck disable=SC2086
    arm_subset armv7-unknown-linux-gnueabihf $arm_common
    echo "== armv7: tests took $((SECONDS - t0)) s"
    export EDGEPOSE_TEST_UNAVAILABLE=$host_unavailable

    # The packages' contents are what is checked here, so these release
    # builds use thin LTO (minutes less); the shipped profile (fat LTO, one
    # codegen unit) is what scripts/deploy.sh builds and the sizes in
    # docs/cross-building-and-deployment.md are from. EDGEPOSE_SHIP_PROFILE=1 uses it here too.
    if [ "${EDGEPOSE_SHIP_PROFILE:-0}" != 1 ]; then
        export CARGO_PROFILE_RELEASE_LTO=thin CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16
    fi
    for target in aarch64-unknown-linux-gnu armv7-unknown-linux-gnueabihf; do
        echo "== release build and Debian package for $target"
        t0=$SECONDS
        cargo build --release --locked --target "$target"
        bin=$target_dir/$target/release/edgepose
        echo "== $target: release binary $(stat -c %s "$bin") bytes, built in $((SECONDS - t0)) s"
        deb=$(cargo deb --no-build --target "$target" --output "$target_dir/debian/" 2>/dev/null | tail -1)
        bash scripts/check-deb.sh "$deb" "$target"
    done
    disk_note "the release builds"
fi
