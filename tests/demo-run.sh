#!/usr/bin/env bash
# tests/demo-run.sh: the body of `make demo`, run by tests/harness.sh -n 3
# (cluster 1 is the source, clusters 2 and 3 the targets).  Fills a sample
# table with a million rows of mixed types on the source, copies it to both
# targets with one `pgcopyman copy`, and proves the three tables equal.
set -euo pipefail
cd "$(dirname "$0")/.."

: "${PGCM_TEST_CONN_1:?run me through tests/harness.sh -n 3}" "${PGCM_TEST_CONN_3:?need 3 clusters}"
src="$PGCM_TEST_CONN_1"
dst1="$PGCM_TEST_CONN_2"
dst2="$PGCM_TEST_CONN_3"
rows="${PGCM_DEMO_ROWS:-1000000}"
psql="$PGCM_TEST_PGBIN/psql"
[ -x "$psql" ] || psql=psql

section() { printf '\n==== %s\n' "$*"; }
work="$(mktemp -d "${TMPDIR:-/tmp}/pgcm-demo.XXXXXX")"
trap 'rm -rf "$work"' EXIT
q() { "$psql" -X -q -v ON_ERROR_STOP=1 -d "$1" "${@:2}"; }
clock() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(clock)" 'BEGIN { printf "%.1f s", b - a }'; }

echo "source:   $src"
echo "target 1: $dst1"
echo "target 2: $dst2"

section "Creating demo_rows on the source and both targets"
schema="CREATE TABLE demo_rows (
	id      bigint PRIMARY KEY,
	created timestamptz NOT NULL,
	amount  numeric(16,4),
	note    text,
	tags    text[],
	doc     jsonb,
	flag    boolean,
	uid     uuid,
	blob    bytea
);"
echo "$schema"
for c in "$src" "$dst1" "$dst2"; do
	q "$c" -c "$schema"
done

section "Filling the source with $rows rows"
t=$(clock)
# Text with tabs, newlines, carriage returns, backslashes, quotes and
# non-ASCII; NULLs in every nullable column; arrays with NULL elements and
# quoting; nested JSON; binary bytes including 0x00.
q "$src" <<SQL
INSERT INTO demo_rows
SELECT g,
       timestamptz '2024-01-01 00:00:00+00' + g * interval '1.5 seconds',
       CASE WHEN g % 97 = 0 THEN NULL ELSE ((g * 7919) % 2000003 - 1000000) / 13.0 END,
       CASE g % 8
            WHEN 0 THEN 'plain row ' || g
            WHEN 1 THEN E'tab\there\tand there'
            WHEN 2 THEN E'line one\nline two\r\nline three'
            WHEN 3 THEN E'back\\\\slash \\\\N \\\\. end'
            WHEN 4 THEN 'grüße, 日本語, ελληνικά, 🐘 #' || g
            WHEN 5 THEN NULL
            WHEN 6 THEN ''
            ELSE repeat('long text ', 1 + (g % 20)::int) || '"quoted", ''single'''
       END,
       CASE WHEN g % 11 = 0 THEN NULL
            ELSE ARRAY['t' || g % 7, 'with space', 'with "quote"', E'with\ttab', NULL, 'ü'] END,
       jsonb_build_object('id', g, 'even', g % 2 = 0, 'name', 'n' || g,
                          'nested', jsonb_build_array(g, 'é', E'x\ny', NULL, 1.5)),
       CASE g % 3 WHEN 0 THEN true WHEN 1 THEN false END,
       md5(g::text)::uuid,
       CASE WHEN g % 13 = 0 THEN NULL ELSE decode(md5(g::text), 'hex') || '\x000aff5c09'::bytea END
FROM generate_series(1::bigint, $rows) AS g;
ANALYZE demo_rows;
SQL
echo "filled in $(since "$t"); a few of the rows:"
q "$src" -P null='(null)' -c "SELECT id, created, amount, note, tags, flag, uid, blob FROM demo_rows WHERE id BETWEEN 1 AND 6 ORDER BY id"
q "$src" -At -c "SELECT 'source table size: ' || pg_size_pretty(pg_total_relation_size('demo_rows'))"

section "Copying the source to both targets with pgcopyman"
cmd=(build/pgcopyman copy --from "$src" --to "$dst1" --to "$dst2" --table demo_rows --json)
printf '$'; printf ' %q' "${cmd[@]}"; echo
t=$(clock)
json="$("${cmd[@]}" 2>"$work/summary")" || {
	rc=$?
	cat "$work/summary" >&2
	rm -f "$work/summary"
	echo "$json"
	echo "demo: pgcopyman copy failed with exit status $rc" >&2
	exit 1
}
echo "copied in $(since "$t")"
echo
echo "JSON summary (stdout of --json):"
echo "$json"
echo
# With --json the summary is the JSON above: stderr has something only when
# the command had something to say (a warning, a fault).
if [ -s "$work/summary" ]; then
	echo "Messages (stderr):"
	cat "$work/summary"
else
	echo "(nothing on stderr: with --json the summary is the JSON object above)"
fi
rm -f "$work/summary"

section "Row counts and ordered checksums"
# md5 over the md5 of every row's text form, in id order: equal iff the same
# rows with the same values, in every column.
check="SELECT count(*) || ' ' || md5(string_agg(md5(t::text), '' ORDER BY id)) FROM demo_rows t"
# The three servers compute theirs at the same time.
t=$(clock)
q "$src" -At -c "$check" >"$work/source" & p1=$!
q "$dst1" -At -c "$check" >"$work/target1" & p2=$!
q "$dst2" -At -c "$check" >"$work/target2" & p3=$!
wait "$p1"; wait "$p2"; wait "$p3"
printf '%-10s %10s  %s\n' "side" "rows" "checksum"
declare -A sums
for side in source target1 target2; do
	read -r n sum <"$work/$side"
	printf '%-10s %10s  %s\n' "$side" "$n" "$sum"
	sums[$side]="$n $sum"
done
echo "(computed in $(since "$t"))"
if [ "${sums[source]}" != "${sums[target1]}" ] || [ "${sums[source]}" != "${sums[target2]}" ]; then
	echo "demo: the targets differ from the source" >&2
	exit 1
fi
if [ "${sums[source]%% *}" != "$rows" ]; then
	echo "demo: expected $rows rows, got ${sums[source]%% *}" >&2
	exit 1
fi
echo "all three sides hold the same $rows rows"

section "The same tricky rows, read back from target 2"
q "$dst2" -P null='(null)' -c "SELECT id, note, tags, doc->'nested' AS nested, encode(blob, 'hex') AS blob FROM demo_rows WHERE id BETWEEN 1 AND 6 ORDER BY id"

section "Stopping the servers"
