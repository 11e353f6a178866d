#!/usr/bin/env bash
# The main job: sets everything up, builds edgepose (release) and runs the
# default model on the sample images with the LiteRT runtime, printing one
# JSON line per image and writing annotated images to out/annotated/.
#
# Models and data: EDGEPOSE_MODEL_MIRROR (default ../shared/models) and
# EDGEPOSE_DATA_DIR (default ../shared/data).
set -euo pipefail
cd "$(dirname "$0")/.."

export EDGEPOSE_MODEL_MIRROR=${EDGEPOSE_MODEL_MIRROR:-$(cd .. && pwd)/shared/models}
data=${EDGEPOSE_DATA_DIR:-$(cd .. && pwd)/shared/data}

bash scripts/setup.sh >&2
cargo build --release --quiet
./target/release/edgepose \
    --tflite-lib ".cache/runtimes/litert/$(uname -m)/libLiteRt.so" \
    --model-dir .cache/models \
    infer "$data/samples" --annotate out/annotated
echo "annotated images: out/annotated/" >&2
