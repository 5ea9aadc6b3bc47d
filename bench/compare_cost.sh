#!/usr/bin/env bash
# bench/compare_cost.sh: what `pgcopyman compare` costs next to the copy it checks.
#
#   bash bench/compare_cost.sh [ROWS] [RUNS]      (defaults 1000000 and 3; `make` first)
#
# Starts a source and two targets with tests/harness.sh (its settings: fsync
# off, which flatters the copy, not the read-only comparison), fills table t
# of bench/run.sh (bigint primary key, timestamptz, numeric, text, text[],
# jsonb, boolean, uuid), then times, round-robin, RUNS times each:
#   copy 1->1    pgcopyman copy --truncate to one target
#   compare 1->1 pgcopyman compare of t, which is the same
#   copy 1->2, compare 1->2   the same with two targets
#   locate 1->1  compare when one row near the end differs (the range search)
# and prints the median seconds of each, and the ratios.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(dirname "$here")"
rows="${1:-1000000}"
runs="${2:-3}"
build="${PGCM_BUILD:-build}"
case "$build" in /*) ;; *) build="$repo/$build" ;; esac
[[ "$rows" =~ ^[1-9][0-9]*$ && "$runs" =~ ^[1-9][0-9]*$ ]] || { echo "usage: $0 [ROWS] [RUNS]" >&2; exit 2; }
[ -x "$build/pgcopyman" ] || { echo "compare_cost: no $build/pgcopyman: run make first" >&2; exit 1; }

if [ -z "${PGCM_TEST_CONN_3:-}" ]; then
	# Re-run inside the harness, which starts the clusters and removes them on every exit.
	exec "$repo/tests/harness.sh" -n 3 -- bash "$0" "$rows" "$runs"
fi

cli="$build/pgcopyman"
psql="${PGCM_TEST_PGBIN:-/usr/lib/postgresql/15/bin}/psql"
S="$PGCM_TEST_CONN_1"; T1="$PGCM_TEST_CONN_2"; T2="$PGCM_TEST_CONN_3"
q() { local c="$1"; shift; "$psql" "$c" -X -q -v ON_ERROR_STOP=1 "$@"; }

table_sql='CREATE TABLE t (id bigint PRIMARY KEY, ts timestamptz NOT NULL, amount numeric(14,4), label text,
    tags text[], doc jsonb, flag boolean, uid uuid);'
fill_sql="INSERT INTO t SELECT g, timestamptz '2020-01-01 00:00:00+00' + g * interval '1.5 seconds',
    CASE WHEN g % 10 = 0 THEN NULL ELSE (g::bigint * 7919 % 100000000) / 10000.0 END,
    'item ' || g || ' ' || md5(g::text) || CASE g % 20 WHEN 0 THEN E'\\ttab' WHEN 2 THEN ' été' ELSE '' END,
    ARRAY['tag' || (g % 13), 'group-' || (g % 101), 'k' || (g % 7)],
    CASE WHEN g % 50 = 0 THEN NULL ELSE jsonb_build_object('id', g, 'name', 'name ' || (g % 1000),
        'score', (g % 977) / 7.0, 'ok', g % 3 = 0) END,
    g % 2 = 0, md5('u' || g)::uuid FROM generate_series(1, $rows) AS g;"
echo "compare_cost: filling t with $rows rows" >&2
q "$S" -c "$table_sql" -c "$fill_sql" -c "VACUUM (FREEZE, ANALYZE) t"
for c in "$T1" "$T2"; do q "$c" -c "$table_sql"; done

declare -A times
timed() {   # timed NAME WANT_STATUS COMMAND...
	local name=$1 want=$2 t0 rc=0
	shift 2
	t0=$EPOCHREALTIME
	"$@" >/dev/null 2>"$TMPDIR/compare_cost.err" || rc=$?
	[ "$rc" = "$want" ] || { echo "compare_cost: $name exited $rc, not $want:" >&2; cat "$TMPDIR/compare_cost.err" >&2; exit 1; }
	times[$name]+="$(echo "$EPOCHREALTIME - $t0" | bc -l) "
}
TMPDIR="${TMPDIR:-/tmp}"
changed=$((rows - 1000))
for ((run = 1; run <= runs; run++)); do
	echo "compare_cost: run $run of $runs" >&2
	timed "copy 1->1" 0 "$cli" copy --from "$S" --to "$T1" --table t --truncate --quiet
	timed "compare 1->1" 0 "$cli" compare --from "$S" --to "$T1" -t t --quiet
	q "$T1" -c "UPDATE t SET flag = NOT flag WHERE id = $changed"
	timed "locate 1->1" 1 "$cli" compare --from "$S" --to "$T1" -t t --quiet
	q "$T1" -c "UPDATE t SET flag = NOT flag WHERE id = $changed"
	timed "copy 1->2" 0 "$cli" copy --from "$S" --to "$T1" --to "$T2" --table t --truncate --quiet
	timed "compare 1->2" 0 "$cli" compare --from "$S" --to "$T1" --to "$T2" -t t --quiet
done

median() { tr ' ' '\n' | grep . | sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
printf '%s rows, %s runs, load average %s\n' "$rows" "$runs" "$(cut -d' ' -f1-3 /proc/loadavg)"
for name in "copy 1->1" "compare 1->1" "locate 1->1" "copy 1->2" "compare 1->2"; do
	printf '%-14s median %6.2f s   (runs: %s)\n' "$name" "$(echo "${times[$name]}" | median)" "${times[$name]}"
done
c11=$(echo "${times[copy 1->1]}" | median); m11=$(echo "${times[compare 1->1]}" | median)
c12=$(echo "${times[copy 1->2]}" | median); m12=$(echo "${times[compare 1->2]}" | median)
l11=$(echo "${times[locate 1->1]}" | median)
printf 'compare / copy: 1->1 %.2f, 1->2 %.2f; locating one changed row / copy 1->1: %.2f\n' \
	"$(echo "$m11 / $c11" | bc -l)" "$(echo "$m12 / $c12" | bc -l)" "$(echo "$l11 / $c11" | bc -l)"
