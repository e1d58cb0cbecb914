#!/usr/bin/env bash
# Installs the libzmq peer used by the interop tests (Debian's python3-zmq,
# and libzmq3-dev and gcc for the cgo baseline) when it is missing.
set -euo pipefail
py=${ZMQKIT_PYTHON:-/usr/bin/python3}
need=()
"$py" -c 'import zmq' 2>/dev/null || need+=(python3-zmq)
[ -e /usr/include/zmq.h ] || need+=(libzmq3-dev)
command -v gcc >/dev/null || need+=(gcc) # cgo, for the libzmq baseline
[ ${#need[@]} -eq 0 ] && exit 0
echo "installing ${need[*]} (Debian) for the libzmq interop tests" >&2
sudo=""
[ "$(id -u)" -eq 0 ] || sudo=sudo
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq "${need[@]}" >/dev/null
"$py" -c 'import zmq; print("libzmq", zmq.zmq_version(), "pyzmq", zmq.__version__)' >&2
