#!/usr/bin/env bash
# build-tools.sh OUTDIR: compiles the guest tools tests/vm/*.c into static
# x86_64 binaries in OUTDIR (skipping those newer than their source). Used by
# scripts/setup-vm.sh (into .cache/vm/bin) and by the Rust harness (into the
# test target's own folder, so a test never runs a stale tool).
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
out=${1:?usage: build-tools.sh OUTDIR}
mkdir -p "$out"
for src in "$here"/tests/vm/*.c; do
    [ -e "$src" ] || continue
    bin="$out/$(basename "$src" .c)"
    if [ ! -x "$bin" ] || [ "$src" -nt "$bin" ]; then
        # A private temporary name: test binaries may build the same folder at once.
        ${CC:-gcc} -static -O2 -Wall -Wextra -Werror -o "$bin.part.$$" "$src"
        mv -f "$bin.part.$$" "$bin"
    fi
done
