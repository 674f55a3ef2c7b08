#!/bin/sh
# Regenerates the seed inputs of fuzz_capwap_decode in
# tests/fuzz/corpus/capwap_decode/ from the codec itself, written by
# build/capwap_pcapgen --seeds:
#   msg-*.bin          every control message lscd exchanges
#   lsc-*-body.bin     the two LSC bodies (§3.2) alone
#   frag-stream-*.bin  a fragmented certificate message as a stream of
#                      {length 16, packet} records
#   cn-*.txt           an AP certificate CN
# Crash inputs kept as regression inputs (crash-*) are left alone.
#   sh tests/fuzz/seeds_capwap_decode.sh      (CAPWAP_PCAPGEN=path to skip make)
set -eu
cd "$(dirname "$0")/../.."
pcapgen=${CAPWAP_PCAPGEN:-build/capwap_pcapgen}
[ -n "${CAPWAP_PCAPGEN:-}" ] || make --no-print-directory "$pcapgen"
dir=tests/fuzz/corpus/capwap_decode
mkdir -p "$dir"
rm -f "$dir"/msg-*.bin "$dir"/lsc-*-body.bin "$dir"/frag-stream-*.bin "$dir"/cn-*.txt
"$pcapgen" --seeds "$dir"
ls "$dir" | wc -l | sed 's/^/seeds: /'
