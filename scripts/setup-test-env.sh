#!/usr/bin/env bash
# Installs the Debian peers the test suite talks to (see README "Running the tests").
# Idempotent: does nothing when everything is present. Needs root to install; as another user it
# only reports what is missing and fails, so a test never silently skips a peer.
set -euo pipefail

need=()
command -v socat >/dev/null || need+=(socat)
command -v mbpoll >/dev/null || need+=(mbpoll)
/usr/bin/python3 -c 'import pymodbus' 2>/dev/null || need+=(python3-pymodbus)
# Gammu's SMS PDU codec: the independent check of the gateway modem's PDUs (test/edge/modem).
/usr/bin/python3 -c 'import gammu' 2>/dev/null || need+=(python3-gammu)
command -v gammu >/dev/null || need+=(gammu)
command -v mosquitto >/dev/null || [ -x /usr/sbin/mosquitto ] || need+=(mosquitto)
command -v mosquitto_pub >/dev/null || need+=(mosquitto-clients)
[ -x /usr/lib/postgresql/15/bin/initdb ] || need+=(postgresql-15)
command -v chromium >/dev/null || need+=(chromium)
command -v sqlite3 >/dev/null || need+=(sqlite3)
# Chinese text in the console screenshots (test/artifacts) needs a CJK font.
[ -d /usr/share/fonts/opentype/noto ] && ls /usr/share/fonts/opentype/noto | grep -q CJK || need+=(fonts-noto-cjk)

if [ ${#need[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "setup-test-env: missing Debian packages: ${need[*]} (run as root, or: sudo apt-get install -y ${need[*]})" >&2
  exit 1
fi
echo "setup-test-env: installing ${need[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
# Debian starts a packaged mosquitto/postgresql service where it can; tests start their own on free ports.
systemctl stop mosquitto postgresql 2>/dev/null || true
