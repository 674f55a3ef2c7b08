#!/bin/sh
# demo.sh — lscd end to end on loopback: a real SCEP CA (micromdm's
# scepserver, fresh CA), lscd provisioning every AP, and a fleet of
# simulated APs. Shows "provisioned N of M" while the fleet gets its LSCs,
# then the controller's view of it. Exit 0 only if every AP is on an LSC.
#
# Run by `make demo` inside a private network namespace (tools/netns-run.sh).
# Everything it makes is under build/demo/ (made fresh each run); everything
# it starts is stopped on exit, Ctrl-C or SIGTERM.
#
# Environment: DEMO_APS (12), DEMO_TIMEOUT seconds (180), DEMO_SCEP_PORT
# (18080), DEMO_CAPWAP_PORT (15246), DEMO_METRICS_PORT (19246).
set -eu

cd "$(dirname "$0")/.."
ROOT=$(pwd)
BUILD=${LSCD_BUILD:-$ROOT/build}
DEMO=$ROOT/build/demo
APS=${DEMO_APS:-12}
TIMEOUT=${DEMO_TIMEOUT:-180}
SCEP_PORT=${DEMO_SCEP_PORT:-18080}
CAPWAP_PORT=${DEMO_CAPWAP_PORT:-15246}
METRICS_PORT=${DEMO_METRICS_PORT:-19246}
SOCK=$DEMO/lscd.sock
LSCCTL="$BUILD/lscctl -s $SOCK"

pids=""
cleanup() {
	status=$?
	trap - EXIT INT TERM
	# Only what this script started, newest first, by process id.
	for pid in $pids; do
		kill "$pid" 2>/dev/null || true
	done
	for pid in $pids; do
		wait "$pid" 2>/dev/null || true
	done
	exit "$status"
}
trap cleanup EXIT
trap 'echo; echo "demo: interrupted"; exit 130' INT
trap 'exit 143' TERM

say() { printf '\n== %s\n' "$*"; }
die() { printf 'demo: %s\n' "$*" >&2; exit 1; }

for tool in scepserver openssl curl; do
	command -v "$tool" >/dev/null 2>&1 || die "$tool is missing: run 'make deps' (sh tools/install-deps.sh)"
done
for bin in lscd lscctl apsim; do
	[ -x "$BUILD/$bin" ] || die "$BUILD/$bin is not built: run 'make'"
done

rm -rf "$DEMO"
mkdir -p "$DEMO/state"

say "a fresh CA: micromdm scepserver on 127.0.0.1:$SCEP_PORT"
scepserver ca -init -depot "$DEMO/depot" -keySize 2048 >"$DEMO/scepserver-init.log" 2>&1 ||
	die "scepserver ca -init failed: see $DEMO/scepserver-init.log"
# One core: micromdm's lock-free file depot races under concurrent requests.
taskset -c 0 scepserver -depot "$DEMO/depot" -port "$SCEP_PORT" -allowrenew 0 >"$DEMO/scepserver.log" 2>&1 &
pids="$! $pids"
i=0
until curl -fsS "http://127.0.0.1:$SCEP_PORT/scep?operation=GetCACaps" >/dev/null 2>&1; do
	i=$((i + 1))
	[ $i -lt 150 ] || die "scepserver did not start: see $DEMO/scepserver.log"
	sleep 0.1
done
PIN=$(openssl x509 -in "$DEMO/depot/ca.pem" -noout -fingerprint -sha256 | sed 's/.*=//')
echo "CA certificate SHA-256: $PIN"

say "the manufacturing PKI (signs the simulated APs' MICs)"
sh tools/testpki.sh "$DEMO/pki"
cat "$DEMO/pki/mfg-ca.pem" "$DEMO/depot/ca.pem" >"$DEMO/ap-trust.pem"
echo "$DEMO/pki"

say "lscd: management and LSC trustpoints at that CA, LSC provisioning for all APs"
cat >"$DEMO/lscd.json" <<EOF
{
  "listen": ["127.0.0.1:$CAPWAP_PORT"],
  "state_dir": "$DEMO/state",
  "control_socket": "$SOCK",
  "log_level": "info",
  "wireless_management_trustpoint": "WLC-TP",
  "mic_ca_bundle": "$DEMO/pki/mfg-ca.pem",
  "trustpoints": {
    "WLC-TP": {
      "enrollment_url": "http://127.0.0.1:$SCEP_PORT/scep",
      "subject": "C=US,O=lscd demo,CN=lscd-wlc",
      "ca_fingerprint_sha256": "$PIN"
    },
    "AP-LSC": {
      "enrollment_url": "http://127.0.0.1:$SCEP_PORT/scep",
      "subject": "C=US,O=lscd demo,CN=lscd-ap-lsc",
      "key_type": "rsa",
      "key_size": 2048,
      "ca_fingerprint_sha256": "$PIN",
      "max_concurrent": 4
    }
  },
  "lsc_provision": {
    "mode": "all",
    "trustpoint": "AP-LSC",
    "join_attempts": 3,
    "key_type": "rsa",
    "key_size": 2048,
    "subject": {
      "country": "US",
      "state": "California",
      "city": "San Jose",
      "organization": "Example Corp",
      "department": "Wireless",
      "email": "wifi-admin@example.org"
    }
  },
  "capwap": {"echo_interval_s": 5},
  "metrics": {"listen": "127.0.0.1:$METRICS_PORT"}
}
EOF
chmod 640 "$DEMO/lscd.json"
"$BUILD/lscd" -n -f "$DEMO/lscd.json"
"$BUILD/lscd" -d -f "$DEMO/lscd.json" >"$DEMO/lscd.log" 2>&1 &
LSCD_PID=$!
pids="$LSCD_PID $pids"
i=0
until grep -q "listening for CAPWAP control" "$DEMO/lscd.log" 2>/dev/null; do
	kill -0 "$LSCD_PID" 2>/dev/null || { tail -n 20 "$DEMO/lscd.log" >&2; die "lscd exited"; }
	i=$((i + 1))
	[ $i -lt 600 ] || { tail -n 20 "$DEMO/lscd.log" >&2; die "lscd did not enroll its management trustpoint"; }
	sleep 0.1
done
echo "lscd is up (log: $DEMO/lscd.log); its management certificate came from the CA:"
$LSCCTL show wireless management trustpoint

say "$APS simulated APs join on their MICs and are provisioned"
"$BUILD/apsim" --ac "127.0.0.1:$CAPWAP_PORT" \
	--mfg-ca-cert "$DEMO/pki/mfg-ca.pem" --mfg-ca-key "$DEMO/pki/mfg-ca.key" \
	--ac-trust "$DEMO/ap-trust.pem" -n "$APS" --keypool "$ROOT/build/keypool.pem" \
	--status-file "$DEMO/apsim-status.json" --progress 0 --reboot 500 --retry 500 \
	--duration $((TIMEOUT + 60)) >"$DEMO/apsim.log" 2>&1 &
APSIM_PID=$!
pids="$APSIM_PID $pids"

# lscd's own view, over the control socket: APs in Run on an LSC.
on_lsc() {
	$LSCCTL show ap summary --json 2>/dev/null | grep -c '"cert_type": "LSC"' || true
}
last=-1
start=$(date +%s)
while :; do
	n=$(on_lsc)
	if [ "$n" != "$last" ]; then
		if [ -t 1 ]; then
			printf '\rprovisioned %s of %s ' "$n" "$APS"
		else
			printf 'provisioned %s of %s\n' "$n" "$APS"
		fi
		last=$n
	fi
	[ "$n" -ge "$APS" ] && break
	kill -0 "$APSIM_PID" 2>/dev/null || { echo; tail -n 20 "$DEMO/apsim.log" >&2; die "apsim exited"; }
	if [ $(($(date +%s) - start)) -ge "$TIMEOUT" ]; then
		echo
		echo "demo: only $n of $APS APs on an LSC after $TIMEOUT s; see $DEMO/lscd.log" >&2
		break
	fi
	sleep 0.5
done
[ -t 1 ] && echo

say "metrics (http://127.0.0.1:$METRICS_PORT/metrics)"
curl -fsS "http://127.0.0.1:$METRICS_PORT/metrics" |
	grep -E '^lscd_(aps\{state="Run"|enrollments_total|ca_latency_seconds_(sum|count))' || true

say "lscctl show ap lsc-provision summary"
$LSCCTL show ap lsc-provision summary
say "lscctl show ap summary"
$LSCCTL show ap summary

n=$(on_lsc)
if [ "$n" -ge "$APS" ]; then
	printf '\ndemo: all %s APs are on LSCs issued by the CA in %s\n' "$APS" "$DEMO/depot"
	exit 0
fi
printf '\ndemo: FAILED: %s of %s APs on LSCs\n' "$n" "$APS" >&2
exit 1
