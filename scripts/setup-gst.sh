#!/usr/bin/env bash
# GStreamer for the `gst:` source (crates/gst-source) and its tests, from this
# machine's own apt sources (called by scripts/setup.sh; idempotent):
#   libgstreamer1.0-dev, libgstreamer-plugins-base1.0-dev  build the plugin crate
#   gstreamer1.0-plugins-base   appsink, videoconvert, videotestsrc, jpegdec caps
#   gstreamer1.0-plugins-good   v4l2src, jpegdec (the VM tests' pipelines)
#   gstreamer1.0-tools          gst-inspect-1.0 / gst-launch-1.0 (by hand)
#   gstreamer1.0-libcamera, libcamera-tools   libcamerasrc and `cam` (vimc in the VM)
# No registry host is named here: apt uses the machine's configuration.
set -euo pipefail
log() { printf '[setup-gst] %s\n' "$*" >&2; }
pkgs=(libgstreamer1.0-dev libgstreamer-plugins-base1.0-dev gstreamer1.0-plugins-base
      gstreamer1.0-plugins-good gstreamer1.0-tools gstreamer1.0-libcamera libcamera-tools pkg-config)
need=()
for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
    log "installing Debian packages: ${need[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
