#!/usr/bin/env bash
# Cross-builds edgepose for a board and installs it there as the systemd
# service edgepose, over ssh; or, with --stage, writes the exact install
# layout into a local directory instead (what a test checks).
#
#   scripts/deploy.sh BOARD user@host [options]
#   scripts/deploy.sh BOARD --stage DIR [options]
#
# BOARD: a board profile (boards/BOARD.toml, its `target` triple), or a
# target directly: aarch64 (arm64, aarch64-unknown-linux-gnu), armv7 (armhf,
# armv7-unknown-linux-gnueabihf), x86_64 (x86_64-unknown-linux-gnu).
#
# Options:
#   --model FILE      the model file to install (default: the config's
#                     model, from EDGEPOSE_MODEL_MIRROR or .cache/models)
#   --runtime litert|none
#                     litert (default where one exists: aarch64, x86_64)
#                     installs .cache/runtimes/litert/ARCH/libLiteRt.so as
#                     /usr/lib/edgepose/libLiteRt.so; none leaves the runtime
#                     to the board (set tflite_lib in the config; armv7)
#   --args "ARGS"     EDGEPOSE_ARGS for /etc/default/edgepose (the run
#                     command's source and sinks; default: the shipped file)
#   --binary FILE     install this binary instead of cross-building one
#   --no-start        install and enable, but do not (re)start the service
#   --stage DIR       write the layout into DIR (must be empty or absent)
#
# Installed (the Debian package has the same files, less the model and the
# runtime library):
#   /usr/bin/edgepose                          the binary (release profile)
#   /usr/lib/systemd/system/edgepose.service   dist/edgepose.service
#   /etc/edgepose/edgepose.toml                dist/edgepose.toml (kept if present)
#   /etc/default/edgepose                      dist/edgepose.default or --args
#   /usr/share/edgepose/models/*.toml          the model manifests
#   /usr/share/doc/edgepose/README.md
#   /usr/lib/edgepose/libLiteRt.so             with --runtime litert
#   /var/lib/edgepose/models/MODEL             the model file
#   /usr/lib/edgepose/postinst                 dist/debian/postinst, run on the
#                                              board: user edgepose, groups video
#                                              dialout i2c spi gpio, state dirs
#
# On the board it needs sudo (or root), tar, systemd. Nothing is left half
# installed: the files travel as one tar stream and are unpacked at once.
set -euo pipefail
cd "$(dirname "$0")/.."

die() {
    echo "deploy: $*" >&2
    exit 1
}
usage() { die "usage: scripts/deploy.sh BOARD (user@host | --stage DIR) [--model FILE] [--runtime litert|none] [--args ARGS] [--binary FILE] [--no-start]"; }

[ $# -ge 2 ] || usage
board=$1
shift
host="" stage="" model="" runtime="" args="" binary="" start=1
while [ $# -gt 0 ]; do
    case $1 in
    --stage) stage=${2:?--stage needs a directory}; shift 2 ;;
    --model) model=${2:?--model needs a file}; shift 2 ;;
    --runtime) runtime=${2:?--runtime needs litert or none}; shift 2 ;;
    --args) args=${2?--args needs a value}; shift 2 ;;
    --binary) binary=${2:?--binary needs a file}; shift 2 ;;
    --no-start) start=0; shift ;;
    -*) usage ;;
    *) [ -z "$host" ] || usage; host=$1; shift ;;
    esac
done
[ -n "$host" ] || [ -n "$stage" ] || usage
[ -z "$host" ] || [ -z "$stage" ] || die "give user@host or --stage DIR, not both"

# ---------------------------------------------------------------- the board's target
if [ -f "boards/$board.toml" ]; then
    target=$(sed -n 's/^target *= *"\([^"]*\)".*/\1/p' "boards/$board.toml" | head -1)
    [ -n "$target" ] || die "boards/$board.toml has no target = \"TRIPLE\" line"
else
    case $board in
    aarch64 | arm64 | aarch64-unknown-linux-gnu) target=aarch64-unknown-linux-gnu ;;
    armv7 | armhf | armv7-unknown-linux-gnueabihf) target=armv7-unknown-linux-gnueabihf ;;
    x86_64 | amd64 | x86_64-unknown-linux-gnu) target=x86_64-unknown-linux-gnu ;;
    *) die "unknown board $board: expected a profile in boards/ ($(ls boards/*.toml 2>/dev/null | xargs -n1 basename 2>/dev/null | sed 's/\.toml$//' | tr '\n' ' ')) or aarch64, armv7, x86_64" ;;
    esac
fi
arch=${target%%-*}
case $arch in
aarch64 | x86_64) runtime=${runtime:-litert} ;;
armv7) runtime=${runtime:-none} ;;
*) die "target $target is not one edgepose is built for" ;;
esac
case $runtime in
litert) lib=${EDGEPOSE_CACHE:-.cache}/runtimes/litert/$arch/libLiteRt.so
    [ -f "$lib" ] || die "no LiteRT build for $arch at $lib (run scripts/setup.sh; armv7 has none: --runtime none)" ;;
none) lib="" ;;
*) die "--runtime $runtime: expected litert or none" ;;
esac

# ---------------------------------------------------------------- the binary
if [ -z "$binary" ]; then
    echo "deploy: building edgepose for $target (release)" >&2
    cargo build --release --locked --target "$target" >&2
    binary=${CARGO_TARGET_DIR:-target}/$target/release/edgepose
fi
[ -f "$binary" ] || die "binary $binary not found"

# ---------------------------------------------------------------- the model
if [ -z "$model" ]; then
    name=$(sed -n 's/^model *= *"\([^"]*\)".*/\1/p' dist/edgepose.toml | head -1)
    for d in "${EDGEPOSE_MODEL_MIRROR:-../shared/models}" "${EDGEPOSE_CACHE:-.cache}/models"; do
        [ -f "$d/$name" ] && { model=$d/$name; break; }
    done
    [ -n "$model" ] || die "model $name not found in EDGEPOSE_MODEL_MIRROR or .cache/models (run scripts/setup.sh, or pass --model FILE)"
fi
[ -f "$model" ] || die "model $model not found"

# ---------------------------------------------------------------- the layout
# stage_into DIR: every installed file, with its mode.
stage_into() {
    local d=$1
    install -D -m 0755 "$binary" "$d/usr/bin/edgepose"
    install -D -m 0644 dist/edgepose.service "$d/usr/lib/systemd/system/edgepose.service"
    install -D -m 0644 dist/edgepose.toml "$d/etc/edgepose/edgepose.toml"
    if [ -n "$args" ]; then
        install -d "$d/etc/default"
        printf '# Written by scripts/deploy.sh: arguments of `edgepose run` for the service.\nEDGEPOSE_ARGS="%s"\n' \
            "${args//\"/\\\"}" >"$d/etc/default/edgepose"
        chmod 0644 "$d/etc/default/edgepose"
    else
        install -D -m 0644 dist/edgepose.default "$d/etc/default/edgepose"
    fi
    install -d "$d/usr/share/edgepose/models"
    install -m 0644 models/*.toml "$d/usr/share/edgepose/models/"
    install -D -m 0644 README.md "$d/usr/share/doc/edgepose/README.md"
    install -D -m 0755 dist/debian/postinst "$d/usr/lib/edgepose/postinst"
    [ -z "$lib" ] || install -D -m 0644 "$lib" "$d/usr/lib/edgepose/libLiteRt.so"
    install -D -m 0644 "$model" "$d/var/lib/edgepose/models/$(basename "$model")"
}

if [ -n "$stage" ]; then
    if [ -e "$stage" ] && [ -n "$(ls -A "$stage")" ]; then
        die "--stage $stage is not empty"
    fi
    mkdir -p "$stage"
    stage_into "$stage"
    echo "deploy: staged $target install layout in $stage" >&2
    exit 0
fi

# ---------------------------------------------------------------- install over ssh
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
stage_into "$tmp/root"
# Keep the board's edited config: ship ours under a .dist name when one exists.
echo "deploy: installing on $host" >&2
tar -C "$tmp/root" -cz --owner=0 --group=0 . | ssh "$host" "
    set -e
    sudo=''; [ \"\$(id -u)\" = 0 ] || sudo=sudo
    t=\$(mktemp -d)
    tar -xz -C \"\$t\"
    if [ -e /etc/edgepose/edgepose.toml ]; then
        \$sudo mv \"\$t/etc/edgepose/edgepose.toml\" \"\$t/etc/edgepose/edgepose.toml.dist\"
    fi
    \$sudo cp -a --no-preserve=ownership \"\$t\"/. /
    rm -rf \"\$t\"
    \$sudo /usr/lib/edgepose/postinst configure
    \$sudo chown -R edgepose:edgepose /var/lib/edgepose
    \$sudo systemctl daemon-reload
    \$sudo systemctl enable edgepose.service
    if [ $start = 1 ]; then \$sudo systemctl restart edgepose.service; fi
    systemctl --no-pager status edgepose.service | head -5 || true
"
echo "deploy: done; logs: ssh $host journalctl -u edgepose -f" >&2
