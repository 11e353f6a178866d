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
echo "== fuzz"
bash scripts/fuzz.sh "${EDGEPOSE_FUZZ_SECONDS:-60}"
