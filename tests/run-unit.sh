#!/bin/sh
# Runs every cmocka unit-test binary given; prints one line per binary and
# the failing output in full. Exit status: number of failing binaries (max 1).
set -u
failed=0
for bin in "$@"; do
	out=$("$bin" 2>&1)
	rc=$?
	if [ $rc -eq 0 ]; then
		passed=$(printf '%s\n' "$out" | sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' | tail -n 1)
		printf '  PASS    %s (%s tests)\n' "$bin" "${passed:-?}"
	else
		printf '  FAIL    %s (exit %d)\n%s\n' "$bin" "$rc" "$out"
		failed=1
	fi
done
exit $failed
