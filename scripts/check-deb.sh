#!/usr/bin/env bash
# Checks a Debian package made by `cargo deb` (scripts/test.sh runs this):
# its architecture, its conffiles, and that it holds exactly the files of
# the install layout scripts/deploy.sh --stage makes, less what only the
# deploy script installs (the model file, the LiteRT library, postinst,
# which the package runs as its maintainer script) and plus the copyright
# file cargo-deb adds, with the same modes and the same binary; and that
# neither the package nor the binary needs GStreamer.
#
#   scripts/check-deb.sh PACKAGE.deb TARGET
set -euo pipefail
cd "$(dirname "$0")/.."
deb=${1:?usage: check-deb.sh PACKAGE.deb TARGET}
target=${2:?usage: check-deb.sh PACKAGE.deb TARGET}
fail() {
    echo "check-deb: $deb: $*" >&2
    exit 1
}
[ -f "$deb" ] || fail "not found"
case $target in
aarch64-*) debarch=arm64 ;;
armv7-*) debarch=armhf ;;
x86_64-*) debarch=amd64 ;;
*) fail "unknown target $target" ;;
esac

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
dpkg-deb -c "$deb" >"$tmp/listing"
dpkg-deb -x "$deb" "$tmp/deb"
dpkg-deb -e "$deb" "$tmp/control"

[ "$(dpkg-deb -f "$deb" Architecture)" = "$debarch" ] || fail "architecture $(dpkg-deb -f "$deb" Architecture), expected $debarch"
grep -qx /etc/edgepose/edgepose.toml "$tmp/control/conffiles" || fail "/etc/edgepose/edgepose.toml is not a conffile"
grep -qx /etc/default/edgepose "$tmp/control/conffiles" || fail "/etc/default/edgepose is not a conffile"
grep -q 'groupadd --system' "$tmp/control/postinst" || fail "postinst does not create the groups"

# Files with their modes: the package's, and the staged layout's.
awk '$1 !~ /^d/ {p=$6; sub(/^\.\//, "", p); print p, $1}' "$tmp/listing" | sort >"$tmp/got"
bash scripts/deploy.sh "${target%%-*}" --stage "$tmp/stage" --runtime none \
    --binary "$tmp/deb/usr/bin/edgepose" 2>/dev/null
(cd "$tmp/stage" && find . -type f -printf '%P %M\n') |
    grep -v -e '^var/lib/edgepose/models/' -e '^usr/lib/edgepose/postinst ' | sort >"$tmp/want"
echo "usr/share/doc/edgepose/copyright -rw-r--r--" >>"$tmp/want"
sort -o "$tmp/want" "$tmp/want"
diff -u "$tmp/want" "$tmp/got" || fail "contents differ from the deploy layout (- layout, + package)"

# The packaged binary is the release build for the target.
cmp -s "$tmp/deb/usr/bin/edgepose" "${CARGO_TARGET_DIR:-target}/$target/release/edgepose" ||
    fail "usr/bin/edgepose is not ${CARGO_TARGET_DIR:-target}/$target/release/edgepose"
# It installs and runs without GStreamer: the gst: source is a plugin of its
# own package (edgepose-gst), loaded at run time; nothing here needs it.
if dpkg-deb -f "$deb" Depends | grep -qi gstreamer; then
    fail "depends on GStreamer: $(dpkg-deb -f "$deb" Depends)"
fi
if LC_ALL=C readelf -d "$tmp/deb/usr/bin/edgepose" | grep -q 'NEEDED.*libgst'; then
    fail "usr/bin/edgepose links GStreamer"
fi

echo "check-deb: $(basename "$deb"): $debarch, $(wc -l <"$tmp/got") files as the deploy layout, conffiles and postinst in place"
