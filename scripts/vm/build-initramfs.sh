#!/usr/bin/env bash
# build-initramfs.sh [-m MODULE]... [-r ROOT_OVERLAY]... PAYLOAD_DIR OUT
#
# Assembles the test VM's initramfs (scripts/vm/README.md):
#   /init                 scripts/vm/init
#   /bin/busybox          static busybox (applet links are made at boot)
#   /usr/bin/vm-screendump
#   /lib/modules/<ver>/   MODULE (default: vivid v4l2loopback bochs) and
#                         everything they depend on (modprobe --show-depends
#                         over the unpacked kernel), decompressed, with a
#                         modules.dep from depmod, so busybox modprobe works
#   /payload/             a copy of PAYLOAD_DIR (its guest.sh is what runs)
#   /...                  each ROOT_OVERLAY copied onto / (e.g. the library
#                         closure from closure.sh, so dynamic binaries run)
# OUT ending in .gz is a gzip-compressed cpio (newc), otherwise plain cpio.
# Needs scripts/setup-vm.sh to have run (EDGEPOSE_CACHE/vm).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
vm=${EDGEPOSE_CACHE:-$repo/.cache}/vm

usage() { echo "usage: build-initramfs.sh [-m MODULE]... [-r ROOT_OVERLAY]... PAYLOAD_DIR OUT" >&2; exit 2; }
modules=()
overlays=()
while getopts "m:r:" opt; do
    case $opt in
        m) modules+=("$OPTARG") ;;
        r) overlays+=("$OPTARG") ;;
        *) usage ;;
    esac
done
shift $((OPTIND - 1))
[ $# -eq 2 ] || usage
payload=$1
out=$2
[ ${#modules[@]} -gt 0 ] || modules=(vivid v4l2loopback bochs)
[ -d "$payload" ] || { echo "build-initramfs: payload $payload is not a directory" >&2; exit 1; }
for f in "$vm/root/.complete" "$vm/busybox" "$vm/kernel.version"; do
    [ -e "$f" ] || { echo "build-initramfs: $f missing: run scripts/setup-vm.sh first" >&2; exit 1; }
done
kver=$(cat "$vm/kernel.version")
kroot="$vm/root"

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage"/{bin,sbin,usr/bin,usr/sbin,dev,proc,sys,tmp,run,root,payload,etc}
install -m 0755 "$vm/busybox" "$stage/bin/busybox"
install -m 0755 "$here/init" "$stage/init"
install -m 0755 "$here/vm-screendump" "$stage/usr/bin/vm-screendump"

# Kernel modules and their dependencies.
mdir="$stage/lib/modules/$kver"
mkdir -p "$mdir"
for m in "${modules[@]}"; do
    deps=$(modprobe -d "$kroot" -S "$kver" --show-depends "$m") ||
        { echo "build-initramfs: module $m not found in kernel $kver" >&2; exit 1; }
    while read -r kind path _; do
        [ "$kind" = insmod ] || continue # "builtin NAME" needs nothing
        rel=${path#"$kroot"/lib/modules/"$kver"/}
        dest="$mdir/$rel"
        case "$dest" in
            *.ko.xz) dest=${dest%.xz} ;;
            *.ko.zst) dest=${dest%.zst} ;;
            *.ko.gz) dest=${dest%.gz} ;;
        esac
        [ -e "$dest" ] && continue
        mkdir -p "$(dirname "$dest")"
        case "$path" in
            *.xz) xz -dc "$path" >"$dest" ;;
            *.zst) zstd -qdc "$path" >"$dest" ;;
            *.gz) gzip -dc "$path" >"$dest" ;;
            *) cp "$path" "$dest" ;;
        esac
    done <<<"$deps"
done
for f in modules.order modules.builtin modules.builtin.modinfo; do
    [ -e "$kroot/lib/modules/$kver/$f" ] && cp "$kroot/lib/modules/$kver/$f" "$mdir/"
done
depmod -b "$stage" "$kver"

cp -a "$payload/." "$stage/payload/"
for o in "${overlays[@]}"; do
    [ -d "$o" ] || { echo "build-initramfs: root overlay $o is not a directory" >&2; exit 1; }
    cp -a "$o/." "$stage/"
done

mkdir -p "$(dirname "$out")"
case "$out" in
    *.gz) (cd "$stage" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet | gzip -1) >"$out.part" ;;
    *) (cd "$stage" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) >"$out.part" ;;
esac
mv "$out.part" "$out"
