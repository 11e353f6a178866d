#!/usr/bin/env bash
# Regenerates vendor/edgefirst-tflite-sys from the registry source of
# edgefirst-tflite-sys (the version in Cargo.lock), with one change: the
# bindgen layout assertions, computed for 64-bit targets, are compiled only
# on 64-bit targets (#[cfg(target_pointer_width = "64")]). Everything else
# in the bindings is pointer-width neutral (pointers, fixed-size integers,
# usize for size_t), so the same bindings then build for 32-bit ARM
# (armv7-unknown-linux-gnueabihf); 64-bit builds are unchanged.
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
for f in "$dst"/src/*.rs; do
    sed -i 's/^const _: () = {$/#[cfg(target_pointer_width = "64")]\nconst _: () = {/' "$f"
done
echo "vendored edgefirst-tflite-sys $version from $src into $dst"
