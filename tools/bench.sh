#!/bin/sh
# bench.sh — lscd's benchmarks (issue 7), the entry point of `make bench`.
#
# Prints five figures, each as a ratio against a baseline measured in the
# same run (fleet provisioning, join capacity, memory per session, Echo
# latency under load, cost growth); see BENCHMARKS.md. Never fails on a
# figure: exits non-zero only if something could not be measured.
#
#   make bench                     full run, 3 runs per figure (~20 min)
#   BENCH_QUICK=1 make bench       small N, one run each (a smoke check)
#   BENCH_ONLY=2,3 make bench      some figures only (5 needs 1 and 3)
#
# Everything runs on loopback inside a private network namespace
# (tools/netns-run.sh wraps this script; run it that way by hand too:
# sh tools/netns-run.sh sh tools/bench.sh). Results: build/bench/run-*/.
set -eu
cd "$(dirname "$0")/.."
if [ "${LSCD_NETNS:-0}" != 1 ]; then
	exec sh tools/netns-run.sh sh tools/bench.sh "$@"
fi
for exe in build/lscd build/apsim build/pki_driver; do
	if [ ! -x "$exe" ]; then
		echo "bench: $exe is not built: run make first" >&2
		exit 1
	fi
done
for tool in scepserver openssl taskset; do
	if ! command -v "$tool" >/dev/null 2>&1; then
		echo "bench: $tool is missing (sh tools/install-deps.sh)" >&2
		exit 1
	fi
done
# The DTLS floor of figure 2 (tools/bench/dtls_floor.c) is built here, with
# the project's flags, against the libraries make built.
mkdir -p build/bench
if [ ! -x build/bench/dtls_floor ] || [ tools/bench/dtls_floor.c -nt build/bench/dtls_floor ] ||
   [ build/libcapwap.a -nt build/bench/dtls_floor ]; then
	# shellcheck disable=SC2046
	cc -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Wformat=2 -Wshadow -Wpointer-arith \
		-Wstrict-prototypes -O2 -g -I. $(pkg-config --cflags openssl) \
		-o build/bench/dtls_floor tools/bench/dtls_floor.c build/libpki.a build/libcapwap.a \
		$(pkg-config --libs openssl libevent libcurl jansson sqlite3) -lm ||
		echo "bench: cannot build build/bench/dtls_floor: figure 2 goes without its DTLS floor" >&2
fi
# apsim holds one UDP socket per AP: 5000 APs need more than the usual 1024.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
# The whole run is bounded: the script bounds every step, this bounds the rest.
exec timeout --kill-after=30 "${BENCH_TIMEOUT_S:-2700}" /usr/bin/python3 tools/bench/bench.py "$@"
