# edgepose setup for the ARM boards: cross-compilation, ARM runtimes for the
# tests under qemu-user, and the packaging tools. Sourced by scripts/setup.sh
# (it reuses that script's log, fetch_litert and fetch_classic); run on its
# own it runs the whole setup. Idempotent, like scripts/setup.sh.
#
#   - Debian's cross toolchains for aarch64 and armhf (gcc/g++ with their
#     libc6-dev cross roots under /usr/aarch64-linux-gnu and
#     /usr/arm-linux-gnueabihf: the linkers .cargo/config.toml names, and the
#     C compilers the cc/cmake crates pick for libjpeg-turbo)
#   - qemu-user (qemu-aarch64, qemu-arm): the runners of .cargo/config.toml
#   - systemd (systemd-analyze verifies dist/edgepose.service)
#   - rustup targets aarch64-unknown-linux-gnu and armv7-unknown-linux-gnueabihf
#   - ARM runtimes: Debian's libtensorflow-lite closure for arm64 and armhf
#     (.cache/runtimes/tflite-classic/{arm64,armhf}) and libLiteRt.so out of
#     the aarch64 ai-edge-litert wheel (.cache/runtimes/litert/aarch64);
#     ai-edge-litert publishes no 32-bit ARM wheel, so armv7 tests the
#     classic runtime only
#   - cargo-deb (the Debian packages of the boards)
#
# No libclang sysroot is needed for the cross builds: edgefirst-tflite-sys
# and turbojpeg-sys ship pre-generated bindings, and v4l's v4l2-sys-mit runs
# bindgen with the host's libclang (libclang-dev, scripts/setup.sh).

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
    exec bash "$(dirname "$0")/setup.sh" "$@"
fi

cross_pkgs=()
for p in gcc-aarch64-linux-gnu g++-aarch64-linux-gnu libc6-dev-arm64-cross \
    gcc-arm-linux-gnueabihf g++-arm-linux-gnueabihf libc6-dev-armhf-cross \
    qemu-user systemd; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || cross_pkgs+=("$p")
done
if [ ${#cross_pkgs[@]} -gt 0 ]; then
    log "installing Debian packages for the ARM targets: ${cross_pkgs[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${cross_pkgs[@]}" >/dev/null
fi

if command -v rustup >/dev/null 2>&1; then
    installed_targets=$(rustup target list --installed)
    for t in aarch64-unknown-linux-gnu armv7-unknown-linux-gnueabihf; do
        grep -qx "$t" <<<"$installed_targets" || {
            log "adding the Rust target $t"
            rustup target add "$t" >/dev/null
        }
    done
else
    log "rustup not found: install the Rust targets aarch64-unknown-linux-gnu and armv7-unknown-linux-gnueabihf yourself"
fi

fetch_litert aarch64 manylinux_2_27_aarch64
fetch_classic arm64
fetch_classic armhf

cargo_deb_version=${EDGEPOSE_CARGO_DEB_VERSION:-3.8.0}
if ! cargo deb --version 2>/dev/null | grep -q "$cargo_deb_version"; then
    log "installing cargo-deb $cargo_deb_version"
    cargo install --locked --quiet --version "$cargo_deb_version" cargo-deb
fi

# ---------------------------------------------------------------- ARM reference tools
# Only with EDGEPOSE_SETUP_REFERENCE=1, to regenerate the ARM reference fixtures
# with scripts/reference-arm.sh (tests/fixtures/reference-arm64,
# reference-classic-arm64, reference-classic-armhf); nothing else needs them.

# fetch_root NAME SUITE DEBARCH PKG...: Debian packages and their dependency
# closure for DEBARCH from SUITE (a private apt configuration made from this
# machine's own sources, as for the classic runtime), unpacked into
# .cache/runtimes/NAME. The closure keeps DEBARCH's packages only (a
# "Depends: python3:any" also lists the other architectures' python3).
fetch_root() {
    local name=$1 suite=$2 arch=$3
    shift 3
    local root="$cache/runtimes/$name"
    [ -f "$root/.complete" ] && return 0
    (
        classic_suite=$suite
        aptdir="$cache/apt-$suite"
        [ -f "$aptdir/apt.conf" ] || setup_private_apt
        export APT_CONFIG="$aptdir/apt.conf"
        if [ ! -f "$aptdir/.updated" ]; then
            log "reading the Debian $suite package lists"
            apt-get update -qq
            touch "$aptdir/.updated"
        fi
        local pkgs
        pkgs=$(apt-cache depends --recurse --no-recommends --no-suggests --no-conflicts --no-breaks \
            --no-replaces --no-enhances "${@/%/:$arch}" | grep -v '^ ' | grep -v '^<' |
            awk -F: -v a="$arch" 'NF == 1 || $2 == a {print $1}' | sort -u)
        log "fetching $* ($arch, $suite) and their closure: $(echo $pkgs | wc -w) packages"
        local debs="$cache/debs/$name"
        mkdir -p "$debs"
        (
            cd "$debs"
            local missing=() p
            for p in $pkgs; do
                ls "${p}_"*"_$arch.deb" "${p}_"*"_all.deb" >/dev/null 2>&1 || missing+=("$p:$arch")
            done
            # One apt-get for all (each start reads the package lists); one
            # by one, arch-all packages by bare name, if that fails.
            [ ${#missing[@]} -eq 0 ] || apt-get download -qq "${missing[@]}" 2>/dev/null || for p in "${missing[@]}"; do
                ls "${p%:*}_"*"_$arch.deb" "${p%:*}_"*"_all.deb" >/dev/null 2>&1 || apt-get download -qq "$p" 2>/dev/null || apt-get download -qq "${p%:*}"
            done
        )
        rm -rf "$root.part"
        mkdir -p "$root.part"
        for d in "$debs"/*.deb; do dpkg-deb -x "$d" "$root.part"; done
        # What the packages' postinst would have made with update-alternatives:
        # the BLAS/LAPACK sonames numpy links against.
        local so
        for so in "$root.part"/usr/lib/*/blas/lib*.so.3 "$root.part"/usr/lib/*/lapack/lib*.so.3; do
            [ -e "$so" ] || continue
            [ -e "$(dirname "$(dirname "$so")")/$(basename "$so")" ] ||
                ln -s "$(basename "$(dirname "$so")")/$(basename "$so")" "$(dirname "$(dirname "$so")")/$(basename "$so")"
        done
        rm -rf "$root"
        mv "$root.part" "$root"
        touch "$root/.complete"
    )
}

# site_dir NAME REQUIREMENT...: the aarch64 cp311 wheels of REQUIREMENT (and
# their dependencies) unpacked into .cache/runtimes/python-arm64-site/NAME.
site_dir() {
    local dir="$cache/runtimes/python-arm64-site/$1"
    shift
    [ -f "$dir/.complete" ] && return 0
    log "fetching the aarch64 wheels of $*"
    local tmp w
    tmp=$(mktemp -d)
    pip download --quiet --only-binary=:all: --python-version 3.11 --implementation cp --abi cp311 \
        --platform manylinux_2_34_aarch64 --platform manylinux_2_28_aarch64 --platform manylinux_2_27_aarch64 \
        --platform manylinux_2_17_aarch64 --platform manylinux2014_aarch64 -d "$tmp" "$@"
    rm -rf "$dir"
    mkdir -p "$dir"
    for w in "$tmp"/*.whl; do python3 -m zipfile -e "$w" "$dir"; done
    rm -rf "$tmp"
    touch "$dir/.complete"
}

if [ "${EDGEPOSE_SETUP_REFERENCE:-0}" = 1 ]; then
    # LiteRT: this machine's Debian release's python3.11 (and libstdc++6 for the
    # wheels' C++ extensions) with the aarch64 wheels of the same versions as
    # .cache/venv.
    fetch_root python-arm64 "$(. /etc/os-release && echo "$VERSION_CODENAME")" arm64 python3.11 libstdc++6
    site_dir litert "ai-edge-litert==$litert_version" numpy==2.4.6 pillow==13.0.0
    # Classic: the very library the tests run (Debian's, no Python binding of
    # its own), driven through its C API by Python's ctypes, with Debian's
    # python3, numpy and Pillow from the same suite.
    for a in arm64 armhf; do
        fetch_root "python-classic-$a" "$classic_suite" "$a" python3 python3-numpy python3-pil "$(cat "$cache/runtimes/tflite-classic/$a/.package")"
    done
fi
