#!/usr/bin/env bash
# Runs the integration test runner inside the environment tests/harness.sh
# made:  tests/run-integration.sh build/tests/itest [PATTERN...]
# The runner runs each test in a child of its own under a time limit
# (PGCM_TEST_TIMEOUT seconds per test); the whole run has a limit too
# (PGCM_ITEST_TOTAL_TIMEOUT, default 5400 s), so that nothing hangs a CI job.
set -u
runner="$1"
shift
echo "== $runner $*"
exec timeout --signal=TERM --kill-after=30 "${PGCM_ITEST_TOTAL_TIMEOUT:-5400}" "$runner" "$@"
