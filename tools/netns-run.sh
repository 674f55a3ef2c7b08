#!/bin/sh
# Runs a command inside a private network namespace that has only loopback up,
# so that nothing a test, demo or benchmark starts (micromdm's scepserver binds
# every interface) can reach or be reached from any real network.
# Already inside one (LSCD_NETNS=1): run the command as it is.
set -eu
if [ "${LSCD_NETNS:-0}" = 1 ]; then
	exec "$@"
fi
if ! unshare -n true 2>/dev/null; then
	echo "netns-run: cannot create a network namespace (needs root or CAP_SYS_ADMIN)" >&2
	exit 1
fi
export LSCD_NETNS=1
exec unshare -n sh -c 'ip link set lo up && exec "$@"' netns-run "$@"
