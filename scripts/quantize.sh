#!/usr/bin/env bash
# The edgepose model factory: a float TFLite YOLO-pose model in, an int8
# variant out (with its manifest beside it), verified through edgepose.
#
#   bash scripts/quantize.sh --model FLOAT.tflite --recipe RECIPE \
#       --calibration SOURCE [--output OUT.tflite] \
#       [--eval-annotations FILE [--eval-images DIR]] [--max-ap-drop X]
#
# Recipes: int8, int8-heads, int8-float-decode, dynamic, float-heads
# (docs/model-factory.md). Needs the venv scripts/setup-quantize.sh makes and
# an edgepose binary (EDGEPOSE_BIN, PATH, or this checkout's target/).
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
cache=${EDGEPOSE_CACHE:-$here/.cache}
py="$cache/venv-quantize/bin/python"
if [ ! -x "$py" ]; then
    echo "quantize: error: no model-factory venv at $cache/venv-quantize: run scripts/setup-quantize.sh" >&2
    exit 1
fi
# The runtime edgepose verifies with: the set-up's LiteRT unless one is chosen.
if [ -z "${EDGEPOSE_TFLITE_LIB:-}" ]; then
    lib="$cache/runtimes/litert/$(uname -m)/libLiteRt.so"
    [ -f "$lib" ] && export EDGEPOSE_TFLITE_LIB="$lib"
fi
exec "$py" "$here/scripts/quantize/factory.py" "$@"
