#!/usr/bin/env bash
# Regenerates vendor/edgefirst-tflite-sys from the registry source of
# edgefirst-tflite-sys (the version in Cargo.lock), with two changes:
#
#   - the bindgen layout assertions, computed for 64-bit targets, are
#     compiled only on 64-bit targets (#[cfg(target_pointer_width = "64")]).
#     Everything else in the bindings is pointer-width neutral (pointers,
#     fixed-size integers, usize for size_t), so the same bindings then build
#     for 32-bit ARM (armv7-unknown-linux-gnueabihf); 64-bit builds are
#     unchanged.
#   - the build script's dependencies (ureq with rustls and ring, flate2,
#     tar, zip) are optional, pulled in by the crate's `vendored` feature
#     only: its build script uses them for nothing else, and edgepose never
#     enables that feature (it loads the runtime at run time), so they need
#     not be compiled (about 40 s of build CPU time).
#
# Run after changing the edgefirst-tflite version; needs `cargo fetch` to
# have downloaded the crate (it is in the local registry cache).
set -euo pipefail
cd "$(dirname "$0")/.."
version=$(awk '/^name = "edgefirst-tflite-sys"/ {getline; gsub(/[^0-9.]/, ""); print; exit}' Cargo.lock)
src=$(cargo metadata --format-version 1 --filter-platform x86_64-unknown-linux-gnu 2>/dev/null |
    python3 -c 'import json,sys; m=json.load(sys.stdin); print(next(p["manifest_path"] for p in m["packages"] if p["name"]=="edgefirst-tflite-sys"))')
src=$(dirname "$src")
case $src in */vendor/*) echo "vendor-tflite-sys: Cargo.toml's [patch] points at the vendored copy; remove it first" >&2; exit 1 ;; esac
dst=vendor/edgefirst-tflite-sys
rm -rf "$dst"
mkdir -p "$dst/src"
cp "$src/Cargo.toml" "$src/README.md" "$src/build.rs" "$dst/"
cp "$src"/src/*.rs "$dst/src/"
python3 - "$dst/Cargo.toml" <<'PY'
import re, sys
p = sys.argv[1]
s = open(p).read()
deps = re.findall(r"^\[build-dependencies\.([A-Za-z0-9_-]+)\]$", s, re.M)
for d in deps:
    s = s.replace(f"[build-dependencies.{d}]\n", f"[build-dependencies.{d}]\noptional = true\n")
s, n = re.subn(r"^vendored = \[\]$", "vendored = [" + ", ".join(f'"dep:{d}"' for d in deps) + "]", s, flags=re.M)
assert deps and n == 1, "edgefirst-tflite-sys: the build dependencies or the vendored feature changed; look again"
open(p, "w").write(s)
PY
for f in "$dst"/src/*.rs; do
    sed -i 's/^const _: () = {$/#[cfg(target_pointer_width = "64")]\nconst _: () = {/' "$f"
done
echo "vendored edgefirst-tflite-sys $version from $src into $dst"
