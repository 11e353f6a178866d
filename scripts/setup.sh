#!/usr/bin/env bash
# edgepose setup: obtains everything the build, the tests and the demo need, into
# the git-ignored folder .cache/ (override with EDGEPOSE_CACHE). Idempotent: a
# second run only checks what is already there. The demo needs only a part of
# it: scripts/setup-demo.sh, which this script runs first.
#
#   - what the demo needs (scripts/setup-demo.sh): cmake, nasm, LiteRT
#     (libLiteRt.so out of the PyPI wheel `ai-edge-litert` 2.3.0)
#   - Debian packages for the default build and the tests: libclang-dev (the
#     `v4l2` feature's v4l2-sys-mit runs bindgen), python3-venv; mosquitto
#     and openssl (scripts/setup-mqtt.sh); chromium, run headless by the web
#     preview's browser test (scripts/setup-browser.sh)
#   - classic TFLite C API: Debian's libtensorflow-lite2.14.1 and its dependency
#     closure from the `forky` suite, unpacked into a private root with its own
#     glibc loader (the library needs glibc >= 2.38)
#   - the ARM cross toolchains, qemu-user, the ARM runtimes and cargo-deb
#     (scripts/setup-cross.sh); the test delegate's headers and Teflon
#     (scripts/setup-boards.sh); the nightly toolchain and cargo-fuzz
#     (scripts/setup-fuzz.sh); the VM test bed (scripts/setup-vm.sh)
#   - a Python venv with the reference-check tools (ai-edge-litert, numpy, pillow,
#     opencv-python-headless pinned: the OpenCV reference pre-processing)
#   - the model factory's venv (AI Edge Quantizer; scripts/setup-quantize.sh)
#   - every model file, resolved from EDGEPOSE_MODEL_MIRROR or upstream, sha256-checked
#
# Package sources are derived from this machine's own apt and pip configuration;
# no registry host is named here.
set -euo pipefail

# The demo's part: defines here, cache, litert_version, log, apt_need and
# fetch_litert, installs the build's Debian packages and fetches this
# machine's LiteRT.
. "$(dirname "$0")/setup-demo.sh"

classic_pkg_dev=libtensorflow-lite-dev
classic_suite=${EDGEPOSE_TFLITE_SUITE:-forky}

apt_need libclang-dev python3-venv

"$here/scripts/setup-mqtt.sh"   # mosquitto broker for tests/mqtt.rs
"$here/scripts/setup-gst.sh"    # GStreamer (dev files, plugins, tools) for the gst: source
"$here/scripts/setup-browser.sh"  # headless chromium for tests/http_browser.rs

# Rust components the checks use.
if command -v rustup >/dev/null 2>&1; then
    rustup component add clippy rustfmt >/dev/null 2>&1 || log "rustup could not add clippy/rustfmt"
fi

# ---------------------------------------------------------------- classic TFLite (Debian)
# A private apt configuration whose sources are this machine's own Debian
# sources with the suite replaced, so the system's apt state is never touched.
aptdir="$cache/apt-$classic_suite"
setup_private_apt() {
    mkdir -p "$aptdir/lists/partial" "$aptdir/cache/archives/partial" "$aptdir/sources.d" "$aptdir/prefs.d"
    touch "$aptdir/status"
    local out="$aptdir/sources.d/$classic_suite.sources"
    : >"$out.tmp"
    if [ -f /etc/apt/sources.list.d/debian.sources ] || ls /etc/apt/sources.list.d/*.sources >/dev/null 2>&1; then
        # deb822: keep the main archive stanzas (not -security), set the suite.
        for f in /etc/apt/sources.list.d/*.sources; do
            awk -v suite="$classic_suite" 'BEGIN{RS="";ORS="\n\n"}
                /Types:[^\n]*deb/ && !/-security/ {
                    gsub(/Suites:[^\n]*/, "Suites: " suite); print }' "$f" >>"$out.tmp"
        done
    fi
    if [ ! -s "$out.tmp" ] && [ -f /etc/apt/sources.list ]; then
        # one-line format: first plain "deb" line that is not a security archive.
        awk -v suite="$classic_suite" '$1=="deb" && $0 !~ /-security/ {
                uri=""; for (i=2;i<=NF;i++) if ($i ~ /:\/\//) {uri=$i; break}
                if (uri!="") { printf "Types: deb\nURIs: %s\nSuites: %s\nComponents: main\n\n", uri, suite; exit } }' \
            /etc/apt/sources.list >>"$out.tmp"
    fi
    [ -s "$out.tmp" ] || { echo "setup: no Debian source found in /etc/apt to derive the $classic_suite suite from" >&2; exit 1; }
    mv "$out.tmp" "$out"
    cat >"$aptdir/apt.conf" <<EOF
Dir::State "$aptdir";
Dir::State::Lists "$aptdir/lists";
Dir::State::status "$aptdir/status";
Dir::Cache "$aptdir/cache";
Dir::Etc::SourceList "/dev/null";
Dir::Etc::SourceParts "$aptdir/sources.d";
Dir::Etc::Preferences "/dev/null";
Dir::Etc::PreferencesParts "$aptdir/prefs.d";
APT::Architectures { "amd64"; "arm64"; "armhf"; };
APT::Sandbox::User "root";
EOF
}

# fetch_classic DEBARCH: the library and its dependency closure, unpacked into a root.
fetch_classic() {
    local arch=$1 root="$cache/runtimes/tflite-classic/$1"
    [ -f "$root/.complete" ] && return 0
    [ -f "$aptdir/apt.conf" ] || setup_private_apt
    export APT_CONFIG="$aptdir/apt.conf"
    if [ ! -f "$aptdir/.updated" ]; then
        log "reading the Debian $classic_suite package lists"
        apt-get update -qq
        touch "$aptdir/.updated"
    fi
    # The runtime package's name carries its version: resolve it from the -dev package.
    local lib_pkg
    lib_pkg=$(apt-cache depends "$classic_pkg_dev:$arch" | awk '/Depends: libtensorflow-lite[0-9]/ {print $2; exit}')
    lib_pkg=${lib_pkg%%:*}
    [ -n "$lib_pkg" ] || { echo "setup: could not resolve the libtensorflow-lite runtime package from $classic_pkg_dev" >&2; exit 1; }
    local pkgs
    pkgs=$(apt-cache depends --recurse --no-recommends --no-suggests --no-conflicts --no-breaks \
        --no-replaces --no-enhances "$lib_pkg:$arch" | grep -v '^ ' | grep -v '^<' | sed "s/:$arch\$//" | sort -u)
    log "fetching $lib_pkg ($arch) and its closure: $(echo $pkgs | wc -w) packages"
    local debs="$cache/debs/$arch"
    mkdir -p "$debs"
    (cd "$debs" && for p in $pkgs; do
        ls "${p}_"*"_$arch.deb" "${p}_"*"_all.deb" >/dev/null 2>&1 || apt-get download -qq "$p:$arch" 2>/dev/null || apt-get download -qq "$p"
    done)
    rm -rf "$root.part"
    mkdir -p "$root.part"
    for d in "$debs"/*.deb; do dpkg-deb -x "$d" "$root.part"; done
    echo "$lib_pkg" >"$root.part/.package"
    rm -rf "$root"
    mv "$root.part" "$root"
    touch "$root/.complete"
    unset APT_CONFIG
}
fetch_classic amd64
. "$here/scripts/setup-cross.sh"  # ARM cross toolchains, qemu-user, ARM runtimes, cargo-deb
bash "$here/scripts/setup-boards.sh"   # test-delegate compiler and TFLite headers
bash "$here/scripts/setup-fuzz.sh"     # nightly toolchain + cargo-fuzz for scripts/fuzz.sh

# ---------------------------------------------------------------- Python reference tools
# OpenCV pinned: scripts/reference.py's letterbox is cv2.resize INTER_LINEAR and
# cv2.cvtColor, which edgepose's default pre-processing matches byte for byte.
# 4.10.0.84 runs with numpy 1.x (the classic venv) and 2.x alike; 4.14.0.94 and
# 5.1.0.95 give the same bytes (docs/preprocessing.md).
opencv_pin="opencv-python-headless==4.10.0.84"
venv="$cache/venv"
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c 'import ai_edge_litert, numpy, PIL, pycocotools' 2>/dev/null; then
    log "creating the reference-check venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet "ai-edge-litert==$litert_version" numpy pillow pycocotools
fi
if ! "$venv/bin/python" -c 'import cv2; assert cv2.__version__ == "4.10.0"' 2>/dev/null; then
    log "installing $opencv_pin into the reference-check venv"
    "$venv/bin/pip" install --quiet "$opencv_pin"
fi

# The classic flavour's reference runs TFLite 2.14 (tflite-runtime, needs numpy < 2):
# only needed to regenerate tests/fixtures/reference-classic.
venv214="$cache/venv-tflite214"
if [ "${EDGEPOSE_SETUP_REFERENCE:-0}" = 1 ] && { [ ! -x "$venv214/bin/python" ] || ! "$venv214/bin/python" -c 'import tflite_runtime, numpy, PIL' 2>/dev/null; }; then
    log "creating the classic-reference venv"
    python3 -m venv "$venv214"
    "$venv214/bin/pip" install --quiet "tflite-runtime==2.14.0" "numpy<2" pillow "$opencv_pin" pycocotools
fi
if [ "${EDGEPOSE_SETUP_REFERENCE:-0}" = 1 ] && ! "$venv214/bin/python" -c 'import cv2, pycocotools' 2>/dev/null; then
    "$venv214/bin/pip" install --quiet "$opencv_pin" pycocotools
fi

bash "$here/scripts/setup-quantize.sh"  # the model factory's venv (scripts/quantize.sh)

bash "$here/scripts/setup-vm.sh" # VM test bed: QEMU, Debian kernel, modules (scripts/vm/README.md)

# ---------------------------------------------------------------- models
# A model that cannot be had (no mirror, no download address) is reported by
# models.sh; the tests and the demo then fail naming it.
"$here/scripts/models.sh" || log "some model files are missing (listed above)"

log "ready: $cache"
