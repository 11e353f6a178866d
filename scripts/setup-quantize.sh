#!/usr/bin/env bash
# The model factory's Python venv (scripts/quantize.sh): Google's AI Edge
# Quantizer (PyPI litert-quantizer) and the runtime it ships with, every
# package pinned, into $EDGEPOSE_CACHE/venv-quantize. Idempotent. Packages come from this machine's
# own pip configuration; no registry host is named here.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
cache=${EDGEPOSE_CACHE:-$here/.cache}
venv="$cache/venv-quantize"
# Every package pinned (the quantizer, the runtime it calibrates with, and
# their dependencies) in scripts/quantize/requirements.txt.
requirements="$here/scripts/quantize/requirements.txt"

log() { printf '[setup-quantize] %s\n' "$*" >&2; }

# True when every pinned package is installed at its pinned version.
check() {
    "$venv/bin/python" - "$requirements" <<'PY' 2>/dev/null
import importlib.metadata as md, sys
for line in open(sys.argv[1]):
    line = line.split("#")[0].strip()
    if line:
        name, version = line.split("==")
        assert md.version(name) == version, name
import litert_quantizer  # noqa: F401
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
"$venv/bin/pip" install --quiet --requirement "$requirements"
check || { echo "setup-quantize: the venv at $venv does not import litert_quantizer" >&2; exit 1; }
log "ready: $venv"
