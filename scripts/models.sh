#!/usr/bin/env bash
# Resolves the model files named by the manifests in models/*.toml into the
# model directory (EDGEPOSE_MODEL_DIR, default .cache/models), always
# verifying their sha256:
#   1. from a local mirror directory, EDGEPOSE_MODEL_MIRROR (CI: ../shared/models),
#      linked rather than copied;
#   2. otherwise downloaded from the manifest's `source` address.
# A model whose source is not a download address (a local conversion) is
# reported with how to produce it. Exits non-zero if a manifest's file is
# missing or fails its checksum.
# Usage: scripts/models.sh [MANIFEST.toml ...]
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
dir=${EDGEPOSE_MODEL_DIR:-$here/.cache/models}
mirror=${EDGEPOSE_MODEL_MIRROR:-}
mkdir -p "$dir"

field() { sed -n "s/^$1 = \"\(.*\)\"$/\1/p" "$2" | head -n1; }
sha() { sha256sum "$1" | cut -d' ' -f1; }

manifests=("$@")
[ ${#manifests[@]} -gt 0 ] || manifests=("$here"/models/*.toml)
failed=0
for m in "${manifests[@]}"; do
    file=$(field file "$m"); want=$(field sha256 "$m"); src=$(field source "$m")
    dest="$dir/$file"
    if [ -e "$dest" ] && [ "$(sha "$dest")" = "$want" ]; then
        echo "ok        $file"; continue
    fi
    rm -f "$dest"
    if [ -n "$mirror" ] && [ -f "$mirror/$file" ]; then
        ln -s "$(cd "$mirror" && pwd)/$file" "$dest"
        how="mirror"
    elif [[ "$src" == https://* ]]; then
        curl -fsSL --retry 3 -o "$dest.part" "$src" && mv "$dest.part" "$dest" || rm -f "$dest.part"
        how="download"
    else
        how="none (source: $src)"
    fi
    if [ -e "$dest" ] && [ "$(sha "$dest")" = "$want" ]; then
        echo "ok        $file  ($how)"
    else
        [ -e "$dest" ] && echo "BAD SHA   $file  ($how): got $(sha "$dest"), want $want" || echo "MISSING   $file  ($how)"
        rm -f "$dest"
        failed=1
    fi
done
exit $failed
