#!/bin/sh
# Runs each libFuzzer binary for a bounded time over its corpus.
#   run.sh SECONDS build-fuzz/fuzz_x ...
# The corpus of fuzz_x lives in tests/fuzz/corpus/x/ (seeds and every input
# that ever crashed, kept as regression inputs); new coverage found during a
# run goes to build-fuzz/corpus-x/ so the tree stays clean. A crash fails the
# run and leaves the input in build-fuzz/.
set -eu
seconds=$1
shift
status=0
for bin in "$@"; do
	name=$(basename "$bin" | sed 's/^fuzz_//')
	seeds=tests/fuzz/corpus/$name
	work=build-fuzz/corpus-$name
	mkdir -p "$seeds" "$work"
	log=build-fuzz/$name.log
	if "$bin" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
		-artifact_prefix=build-fuzz/"$name"- -print_final_stats=1 \
		"$work" "$seeds" >"$log" 2>&1; then
		execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
		cov=$(grep -o 'cov: [0-9]*' "$log" | tail -n 1)
		printf '  FUZZ    %-28s %8s runs, %s\n' "$name" "${execs:-?}" "${cov:-cov: ?}"
	else
		printf '  FUZZ    %-28s FAILED, see %s\n' "$name" "$log"
		tail -n 40 "$log"
		status=1
	fi
done
exit $status
