#!/usr/bin/env bash
# The demo's set-up (scripts/demo.sh): only what the demo needs, into the
# git-ignored folder .cache/ (override with EDGEPOSE_CACHE). Idempotent: a
# second run only checks what is already there.
#
#   - Debian packages for the demo's build (--no-default-features): cmake and
#     nasm (libjpeg-turbo); the default build's libclang-dev (bindgen, for
#     the `v4l2` feature) is scripts/setup.sh's
#   - LiteRT: libLiteRt.so for this machine's architecture, out of the PyPI
#     wheel `ai-edge-litert` (2.3.0)
#   - the default model, resolved from EDGEPOSE_MODEL_MIRROR or upstream,
#     sha256-checked (scripts/models.sh)
#
# scripts/setup.sh (the test set-up) sources this file first, then adds what
# the tests need; it reuses log, fetch_litert, $here, $cache and
# $litert_version from here. Package sources are derived from this machine's
# own apt and pip configuration; no registry host is named here.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cache=${EDGEPOSE_CACHE:-$here/.cache}
litert_version=${EDGEPOSE_LITERT_VERSION:-2.3.0}
mkdir -p "$cache"

log() { printf '[setup] %s\n' "$*" >&2; }

# apt_need PKG...: installs the Debian packages of the list that are missing.
apt_need() {
    local need=() p
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || need+=("$p")
    done
    [ ${#need[@]} -gt 0 ] || return 0
    log "installing Debian packages: ${need[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
}

# ---------------------------------------------------------------- LiteRT (PyPI wheel)
# fetch_litert ARCH PLATFORM_TAG: unpacks libLiteRt.so for one architecture.
fetch_litert() {
    local arch=$1 platform=$2 dest="$cache/runtimes/litert/$1"
    [ -s "$dest/libLiteRt.so" ] && return 0
    log "fetching ai-edge-litert $litert_version ($arch) wheel"
    local tmp
    tmp=$(mktemp -d)
    pip download --quiet --no-deps --only-binary=:all: --python-version 3.11 \
        --platform "$platform" -d "$tmp" "ai-edge-litert==$litert_version"
    mkdir -p "$dest"
    python3 - "$tmp"/*.whl "$dest" <<'PY'
import sys, zipfile, os
whl, dest = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(whl) as z:
    data = z.read("ai_edge_litert/libLiteRt.so")
tmp = os.path.join(dest, "libLiteRt.so.part")
with open(tmp, "wb") as f:
    f.write(data)
os.replace(tmp, os.path.join(dest, "libLiteRt.so"))
PY
    rm -rf "$tmp"
}

apt_need cmake nasm
case $(uname -m) in
    x86_64) fetch_litert x86_64 manylinux_2_27_x86_64 ;;
    aarch64) fetch_litert aarch64 manylinux_2_27_aarch64 ;;
    *) echo "setup: no LiteRT wheel for $(uname -m); the demo needs x86_64 or aarch64" >&2; exit 1 ;;
esac

# The default model (the demo's); scripts/setup.sh resolves every manifest.
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
    "$here/scripts/models.sh" "$here/models/yolov8n_320_quant_pc_uf_pose_coco-st.toml"
    log "ready for the demo: $cache"
fi
