#!/usr/bin/env bash
# Runs every cargo-fuzz target in fuzz/ (every parser of untrusted input:
# the serial wire format, the .tflite interface reader, the TOML files, the
# endpoint specs, listen's decoding, camera frames through the
# pre-processing; see fuzz/README.md) for SECONDS each (default 60) and
# fails if one finds a crash: a panic, a failed assertion, a timeout or
# running out of memory. Needs scripts/setup-fuzz.sh (nightly toolchain +
# cargo-fuzz).
#
#   scripts/fuzz.sh [SECONDS]      e.g. scripts/fuzz.sh 600 for a longer run
#
# Each target starts from a copy of its committed seed corpus
# (fuzz/corpus/TARGET) in fuzz/target/run/, so a run never grows the
# committed corpus; what a run found stays there until the next run. Builds go
# to fuzz/target (git-ignored), whatever CARGO_TARGET_DIR says. A crashing
# input is written to fuzz/artifacts/TARGET/ and its path printed; reproduce
# it with `cargo +nightly fuzz run -s none TARGET PATH`.
#
# Sanitizer: none. The wire crate has no `unsafe`; AddressSanitizer would
# find nothing there that Rust's own bounds and overflow checks (debug
# assertions are on) do not, at about half the speed. The longer runs with
# AddressSanitizer of the targets that reach `unsafe` or C code (the model
# reader, libjpeg-turbo, the SIMD kernels) are in docs/robustness.md.
set -euo pipefail
cd "$(dirname "$0")/.."

secs=${1:-60}
case $secs in
'' | *[!0-9]*)
    echo "fuzz.sh: SECONDS must be a whole number, got '$secs'" >&2
    exit 2
    ;;
esac

if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
    echo "fuzz.sh: cargo-fuzz or the nightly toolchain is missing; run scripts/setup-fuzz.sh" >&2
    exit 1
fi

opts=(--fuzz-dir fuzz --target-dir fuzz/target -s none)
work=fuzz/target/run
mkdir -p "$work"

cargo +nightly fuzz build "${opts[@]}"

failed=()
for target in $(cargo +nightly fuzz list --fuzz-dir fuzz); do
    corpus=$work/corpus/$target
    rm -rf "$corpus"
    mkdir -p "$corpus" "fuzz/artifacts/$target"
    seeds=0
    if [ -d "fuzz/corpus/$target" ]; then
        cp -R "fuzz/corpus/$target/." "$corpus/"
        seeds=$(find "$corpus" -type f | wc -l)
    fi
    log=$work/$target.log
    echo "-- $target: ${secs} s from $seeds seed inputs (log: $log)"
    start=$(date +%s)
    rc=0
    cargo +nightly fuzz run "${opts[@]}" "$target" "$corpus" -- \
        -max_total_time="$secs" -print_final_stats=1 >"$log" 2>&1 || rc=$?
    took=$(($(date +%s) - start))
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
    last=$(grep -E '^#[0-9]+' "$log" | tail -n 1 || true)
    cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
    ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
    files=$(find "$corpus" -type f | wc -l)
    echo "   ${execs:-?} executions (${rate:-?}/s) in ${took} s; coverage ${cov:-?} edges, ${ft:-?} features; corpus $files inputs"
    if [ "$rc" -ne 0 ]; then
        echo "   FAILED (exit $rc):" >&2
        grep -E 'panicked at|ERROR: libFuzzer|deadly signal|SUMMARY' "$log" | head -n 5 | sed 's/^/   /' >&2 || true
        crash=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -n 1)
        if [ -n "$crash" ]; then
            echo "   crashing input: $crash" >&2
            echo "   reproduce: cargo +nightly fuzz run -s none $target $crash" >&2
        else
            tail -n 30 "$log" | sed 's/^/   /' >&2
        fi
        failed+=("$target")
    fi
done

if [ ${#failed[@]} -gt 0 ]; then
    echo "fuzz.sh: crash found by: ${failed[*]}" >&2
    exit 1
fi
echo "fuzz: no crashes"
