#!/bin/sh
# Installs the Debian packages lscd builds, tests and demos with.
# Idempotent and silent when everything is already present.
set -eu

packages="build-essential pkg-config libssl-dev libevent-dev libcurl4-openssl-dev
libjansson-dev libsqlite3-dev libcmocka-dev python3-pytest scep tshark clang
libclang-rt-14-dev iproute2 openssl curl procps valgrind gdb"

missing=""
for pkg in $packages; do
	if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
		missing="$missing $pkg"
	fi
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "install-deps: missing packages:$missing (run as root to install them)" >&2
	exit 1
fi
echo "install-deps: installing$missing" >&2
export DEBIAN_FRONTEND=noninteractive
# tshark asks whether non-root users may capture; answer it before apt does.
echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections
apt-get update -qq >/dev/null
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null
