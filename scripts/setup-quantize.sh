#!/usr/bin/env bash
# The model factory's Python venv (scripts/quantize.sh): Google's AI Edge
# Quantizer, pinned, with the flatbuffer schema it ships, into
# $EDGEPOSE_CACHE/venv-quantize. Idempotent. Packages come from this machine's
# own pip configuration; no registry host is named here.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
cache=${EDGEPOSE_CACHE:-$here/.cache}
venv="$cache/venv-quantize"
# Pins: the quantizer and the runtime it calibrates with (it requires exactly
# this ai-edge-litert), numpy for the calibration tensors.
pins=("litert-quantizer==0.11.0" "ai-edge-litert==2.3.0")

log() { printf '[setup-quantize] %s\n' "$*" >&2; }

check() {
    "$venv/bin/python" - <<'PY' 2>/dev/null
import importlib.metadata as md
assert md.version("litert-quantizer") == "0.11.0"
assert md.version("ai-edge-litert") == "2.3.0"
import litert_quantizer, numpy  # noqa: F401
PY
}

if [ -x "$venv/bin/python" ] && check; then
    exit 0
fi
log "creating the model-factory venv $venv"
# Built in place (a venv's scripts carry its path); a half-built one fails
# the check above and is rebuilt on the next run.
rm -rf "$venv"
python3 -m venv "$venv"
"$venv/bin/pip" install --quiet "${pins[@]}"
check || { echo "setup-quantize: the venv at $venv does not import litert_quantizer" >&2; exit 1; }
log "ready: $venv"
