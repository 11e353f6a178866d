#!/usr/bin/env bash
# Web preview test prerequisites (tests/http_browser.rs): Debian's `chromium`,
# run headless by the test (it loads the page `--sink http:...` serves, takes
# screenshots and dumps the DOM), and `fonts-dejavu-core` so the page's text
# renders the same on every machine. Idempotent: installs only what is missing.
set -euo pipefail

log() { printf '[setup-browser] %s\n' "$*" >&2; }

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }

need=()
for p in chromium fonts-dejavu-core; do
    installed "$p" || need+=("$p")
done
[ ${#need[@]} -eq 0 ] && exit 0

log "installing Debian packages: ${need[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
[ -x /usr/bin/chromium ] || { echo "setup-browser: /usr/bin/chromium missing after install" >&2; exit 1; }
log "ready: $(/usr/bin/chromium --version 2>/dev/null | head -n 1)"
