#!/usr/bin/env bash
# Runs every integration test program given as an argument, inside the
# environment tests/harness.sh made.  Each program is a cmocka runner; a
# failure of one does not hide the results of the others, but fails the run.
set -u
rc=0
for t in "$@"; do
	echo "== $t"
	if ! timeout --signal=TERM --kill-after=30 900 "$t"; then
		echo "FAILED: $t" >&2
		rc=1
	fi
done
exit "$rc"
