#!/usr/bin/env bash
# Installs iproute2 (Debian's package: ip and tc) when either is missing:
# the multi-host test (go test -tags interop ./internal/multihost/) builds
# its network namespaces, veth pairs, bridge and tc limits with them. It
# also needs root and a kernel with network namespaces, veth, bridge and
# the tbf qdisc, which no package provides.
set -euo pipefail
if command -v ip >/dev/null && command -v tc >/dev/null; then
	exit 0
fi
echo "installing iproute2 (Debian) for the multi-host test" >&2
sudo=""
[ "$(id -u)" -eq 0 ] || sudo=sudo
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq iproute2 >/dev/null
ip -V >&2
