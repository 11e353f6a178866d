#!/usr/bin/env bash
# The main job: sets up what the demo needs (scripts/setup-demo.sh: the build's
# Debian packages, LiteRT, the default model), builds edgepose with the `demo` profile
# (release without LTO: a shorter first build; what ships is the release
# profile) and without the optional backends (--no-default-features: no
# V4L2, MQTT, web preview or displays; the demo reads image files and writes
# JSON lines and annotated images, which every build has), and runs the
# default model on the sample images with the LiteRT runtime, printing one
# JSON line per image and writing annotated images to out/annotated/.
#
# Models and data: EDGEPOSE_MODEL_MIRROR (default ../shared/models) and
# EDGEPOSE_DATA_DIR (default ../shared/data).
set -euo pipefail
cd "$(dirname "$0")/.."

export EDGEPOSE_MODEL_MIRROR=${EDGEPOSE_MODEL_MIRROR:-$(cd .. && pwd)/shared/models}
data=${EDGEPOSE_DATA_DIR:-$(cd .. && pwd)/shared/data}
cache=${EDGEPOSE_CACHE:-.cache}

bash scripts/setup-demo.sh >&2
cargo build --profile demo --no-default-features -p edgepose --bin edgepose --quiet
"${CARGO_TARGET_DIR:-target}/demo/edgepose" \
    --tflite-lib "$cache/runtimes/litert/$(uname -m)/libLiteRt.so" \
    --model-dir "${EDGEPOSE_MODEL_DIR:-.cache/models}" \
    infer "$data/samples" --annotate out/annotated
echo "annotated images: out/annotated/" >&2
