#!/usr/bin/env bash
# Fuzzing prerequisites (fuzz/, run by scripts/fuzz.sh): a nightly Rust
# toolchain (minimal profile; cargo-fuzz builds with -Zsanitizer=address)
# and the pinned `cargo-fuzz`, built from its crate with its own lock file.
# libFuzzer itself comes with the `libfuzzer-sys` crate and is compiled by
# the first fuzz build, which needs a C++ compiler (g++).
# Idempotent: installs only what is missing.
set -euo pipefail

cargo_fuzz_version=0.13.2

log() { printf '[setup-fuzz] %s\n' "$*" >&2; }

if ! command -v rustup >/dev/null 2>&1; then
    echo "setup-fuzz: rustup not found; fuzzing needs a nightly toolchain managed by rustup" >&2
    exit 1
fi

if ! rustup run nightly rustc --version >/dev/null 2>&1; then
    log "installing the nightly Rust toolchain (minimal profile)"
    # --no-self-update: installing a toolchain must not replace rustup itself.
    rustup toolchain install --no-self-update nightly --profile minimal
fi

if ! command -v g++ >/dev/null 2>&1; then
    log "installing Debian package: g++"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends g++ >/dev/null
fi

if ! cargo fuzz --version 2>/dev/null | grep -qx "cargo-fuzz $cargo_fuzz_version"; then
    log "installing cargo-fuzz $cargo_fuzz_version"
    # Built with the stable toolchain; it runs `cargo +nightly` itself when asked.
    cargo install --locked --quiet --version "$cargo_fuzz_version" cargo-fuzz
fi
