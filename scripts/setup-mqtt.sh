#!/usr/bin/env bash
# MQTT sink test prerequisites (tests/mqtt.rs): Debian's `mosquitto` broker
# (with mosquitto_passwd) and `openssl` (the TLS test makes its CA and
# certificates at test time). Idempotent: installs only what is missing.
#
# The tests start their own broker processes with their own config files on
# free loopback ports; the system service is neither needed nor started here
# (a policy-rc.d keeps the package's maintainer scripts from starting it
# when the machine has none in place).
set -euo pipefail

log() { printf '[setup-mqtt] %s\n' "$*" >&2; }

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }

need=()
for p in mosquitto openssl; do
    installed "$p" || need+=("$p")
done
[ ${#need[@]} -eq 0 ] && exit 0

log "installing Debian packages: ${need[*]}"
export DEBIAN_FRONTEND=noninteractive
policy=/usr/sbin/policy-rc.d
own_policy=0
if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy"
    chmod 755 "$policy"
    own_policy=1
fi
cleanup() { if [ "$own_policy" = 1 ]; then rm -f "$policy"; fi; }
trap cleanup EXIT
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
for tool in /usr/sbin/mosquitto /usr/bin/mosquitto_passwd /usr/bin/openssl; do
    [ -x "$tool" ] || { echo "setup-mqtt: $tool missing after install" >&2; exit 1; }
done
log "ready: $(/usr/sbin/mosquitto -h 2>/dev/null | head -n 1)"
