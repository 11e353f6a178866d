#!/usr/bin/env bash
# closure.sh ELF... DEST: copies the shared-library closure of each ELF file
# (executables or shared libraries, as ldd resolves it on this machine,
# dynamic loader included) into DEST under the same absolute paths, e.g.
# DEST/lib/x86_64-linux-gnu/libc.so.6 and DEST/lib64/ld-linux-x86-64.so.2.
# DEST is meant as a root overlay for build-initramfs.sh (-r DEST), so the
# binaries run unchanged in the guest. The ELF files themselves are not
# copied. A library ldd cannot find is an error naming it. Statically linked
# files need nothing and are accepted.
set -euo pipefail
[ $# -ge 2 ] || { echo "usage: closure.sh ELF... DEST" >&2; exit 2; }
dest=${!#}
mkdir -p "$dest"
for elf in "${@:1:$#-1}"; do
    [ -f "$elf" ] || { echo "closure.sh: $elf: no such file" >&2; exit 1; }
    out=$(LC_ALL=C ldd "$elf" 2>&1) || {
        case "$out" in *"not a dynamic executable"* | *"statically linked"*) continue ;; esac
        echo "closure.sh: ldd $elf: $out" >&2
        exit 1
    }
    if grep -q 'not found' <<<"$out"; then
        echo "closure.sh: $elf needs libraries this machine lacks: $(grep 'not found' <<<"$out" | awk '{print $1}' | tr '\n' ' ')" >&2
        exit 1
    fi
    # "name => /path (addr)" and "/path/ld-linux... (addr)"; linux-vdso has no path.
    awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\// {print $1}' <<<"$out" | while read -r lib; do
        [ -e "$dest$lib" ] && continue
        mkdir -p "$dest$(dirname "$lib")"
        cp -L "$lib" "$dest$lib"
    done
done
