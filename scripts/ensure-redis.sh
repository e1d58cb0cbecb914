#!/usr/bin/env bash
# Installs redis-server (Debian's package) when it is missing: the Redis
# baseline tests (go test -tags interop ./bench/baseline/) start their own
# throwaway server from it on a free 127.0.0.1 port. ZMQKIT_REDIS_SERVER
# names another binary to check instead of /usr/bin/redis-server.
set -euo pipefail
bin=${ZMQKIT_REDIS_SERVER:-/usr/bin/redis-server}
if [ -x "$bin" ]; then
	exit 0
fi
echo "installing redis-server (Debian) for the Redis baseline tests" >&2
sudo=""
[ "$(id -u)" -eq 0 ] || sudo=sudo
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq redis-server >/dev/null
"$bin" --version >&2
