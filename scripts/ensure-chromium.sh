#!/usr/bin/env bash
# Installs Debian's Chromium, which the real-browser test of the WebSocket
# transport drives headless (contrib/browsertest), when it is missing.
set -euo pipefail
[ -x /usr/bin/chromium ] && exit 0
echo "installing chromium (Debian) for the browser test" >&2
sudo=""
[ "$(id -u)" -eq 0 ] || sudo=sudo
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq chromium >/dev/null
/usr/bin/chromium --version >&2
