#!/usr/bin/env bash
# bench/run.sh: pgcopyman side by side with the other ways to move COPY data.
#
#   bash bench/run.sh [ROWS]        (or: make bench; BENCH_ROWS=N make bench)
#
# Starts a source and two target PostgreSQL 15 clusters (default server
# settings, fsync on; unix sockets in a private temporary directory; as the
# `postgres` user when run as root), fills a mixed-type table t on the source,
# and then times, round-robin (every method's run 1, then every method's run 2,
# ...), with the targets truncated and checkpointed before each run:
#   the floor (server-side COPY t FROM 'file', text and binary), pgcopyman 1->1
#   and 1->2 (text, binary, auto), psql pipes (1->1, and 1->2 with tee),
#   pgcopydb copy table-data, py-postgresql's copyman and a psycopg 3 loop;
#   the bulk load of a replaced table (methods bl_*: BEGIN; TRUNCATE; COPY;
#   COMMIT into ti, t's columns with two secondary indexes, and into t): the
#   server-side floor, pgcopyman --truncate 1->1 and 1->2 (and with
#   --no-defer-indexes), psql pipes; and the export to a .zst file: pgcopyman
#   against psql | zstd.
# Every run is checked: count(*) on each target must equal the source's rows
# (an export: the lines of the decompressed file).
# Writes bench/RESULTS.md and prints the results table.  The clusters are
# stopped and removed on every exit.
#
# Environment:
#   BENCH_ROWS=N       rows in t (default 2000000, about 424 MiB as COPY text, 469 MiB binary)
#   BENCH_RUNS=N       runs per method (default 3)
#   BENCH_METHODS=RE   only the methods whose name matches the extended regex
#                      (the floors always run: the ratios need them; the bulk
#                      load's floors bl_floor_* with any bl_ method)
#   BENCH_COST=0       skip the client's cost per byte and per target (issue 18):
#                      instructions under callgrind (pgcopyman, psql pipes,
#                      pgcopydb) on BENCH_COST_ROWS rows (default 200000), and
#                      build/bench/bench_fanout into 1, 2, 4, 8 receivers
#   BENCH_BASELINE=BIN another pgcopyman binary (say, main's) to run beside this
#                      one: methods pgcm_base_1_binary, pgcm_base_2_binary, and
#                      its instructions per byte
#   BENCH_PROFILE=1    afterwards, profile one pgcopyman 1->1 run (perf record
#                      -g when perf works, else callgrind on 200000 rows)
#   BENCH_PROFILER=perf|callgrind  force one (default: perf if it works)
#   BENCH_PROGRAMS=0   skip the other bench programs ($PGCM_BUILD/bench/bench_*)
#   BENCH_OUT=FILE     where to write the report (default bench/RESULTS.md)
#   BENCH_NOTE=TEXT    a note for the report (e.g. what else ran on the machine)
#   PGCM_BUILD=DIR     the build directory (default build)
#   PGCM_PGBIN=DIR     PostgreSQL server binaries (default /usr/lib/postgresql/15/bin)
#   TMPDIR             where the clusters and the export files go (a few GB)
#
# Each run's client logs and JSON summaries are left in $PGCM_BUILD/bench-logs/.
#
# As root, whatever is missing is installed with apt-get (update once, then
# install).  The Python clients are Debian packages for /usr/bin/python3, so
# that interpreter is called explicitly, whatever `python3` is on PATH.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(dirname "$here")"
rows="${1:-${BENCH_ROWS:-2000000}}"
runs="${BENCH_RUNS:-3}"
only="${BENCH_METHODS:-}"
profile="${BENCH_PROFILE:-0}"
cost="${BENCH_COST:-1}"
cost_rows="${BENCH_COST_ROWS:-200000}"
baseline="${BENCH_BASELINE:-}"
out="${BENCH_OUT:-$here/RESULTS.md}"
build="${PGCM_BUILD:-build}"
case "$build" in /*) ;; *) build="$repo/$build" ;; esac
cli="$build/pgcopyman"
pgbin="${PGCM_PGBIN:-/usr/lib/postgresql/15/bin}"
py=/usr/bin/python3
psql="$pgbin/psql"

load_begin="$(cut -d' ' -f1-3 /proc/loadavg)"   # before this script does anything
script_t0=$EPOCHREALTIME
say() { printf '%s bench: %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { printf 'bench: FAILED: %s\n' "$*" >&2; exit 1; }

[[ "$rows" =~ ^[1-9][0-9]*$ ]] || die "ROWS must be a positive integer, not '$rows'"
[[ "$runs" =~ ^[1-9][0-9]*$ ]] || die "BENCH_RUNS must be a positive integer, not '$runs'"
[[ "$cost_rows" =~ ^[1-9][0-9]*$ ]] || die "BENCH_COST_ROWS must be a positive integer, not '$cost_rows'"
[ "$rows" -lt "$cost_rows" ] && cost_rows="$rows"
[ -x "$cli" ] || die "no $cli: build it first (make bench builds it)"
[ -z "$baseline" ] || [ -x "$baseline" ] || die "BENCH_BASELINE: no executable $baseline"

# ---------------------------------------------------------------- dependencies
# Debian package -> how to tell it is there.
missing=()
[ -x "$pgbin/initdb" ] && [ -x "$pgbin/pg_ctl" ] || missing+=(postgresql postgresql-15)
[ -x "$psql" ] || missing+=(postgresql-client-15)
command -v pgcopydb >/dev/null 2>&1 || missing+=(pgcopydb)
[ -x /usr/bin/time ] || missing+=(time)
command -v zstd >/dev/null 2>&1 || missing+=(zstd)
if [ -x "$py" ]; then
	"$py" -c 'import postgresql.copyman' >/dev/null 2>&1 || missing+=(python3-postgresql)
	"$py" -c 'import psycopg' >/dev/null 2>&1 || missing+=(python3-psycopg)
else
	missing+=(python3 python3-postgresql python3-psycopg)
fi
if [ "$profile" = 1 ]; then
	command -v perf >/dev/null 2>&1 || missing+=(linux-perf)
fi
if [ "$profile" = 1 ] || [ "$cost" != 0 ]; then
	command -v valgrind >/dev/null 2>&1 || missing+=(valgrind)
fi
if [ ${#missing[@]} -gt 0 ]; then
	if [ "$(id -u)" != 0 ]; then
		die "missing: ${missing[*]}; install them with: apt-get install -y ${missing[*]}"
	fi
	say "installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq "${missing[@]}" >/dev/null
fi
[ -x "$pgbin/initdb" ] || die "no PostgreSQL 15 server in $pgbin (set PGCM_PGBIN)"

# ---------------------------------------------------------------- clusters
as_server() {
	if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}
user=postgres
[ "$(id -u)" = 0 ] || user="$(id -un)"

top="$(mktemp -d "${TMPDIR:-/tmp}/pgcm-bench.XXXXXX")"
chmod 755 "$top"
[ "$(id -u)" = 0 ] && chown postgres: "$top"
work="$top/work"          # client-side files: timings, logs
mkdir -p "$work"
started=()
cleanup() {
	local rc=$?
	trap - EXIT INT TERM HUP
	for d in "${started[@]}"; do
		as_server "$pgbin/pg_ctl" -D "$d" -m immediate -w -t 30 stop >/dev/null 2>&1 || true
	done
	rm -rf "$top"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

# start_cluster NAME: initdb + pg_ctl start with default settings except where
# to listen (a unix socket only) and prepared transactions (pgcopyman --jobs
# commits a target's sessions in two phases).  fsync stays on.
start_cluster() {
	local d="$top/$1" sock="$top/$1.sock"
	as_server mkdir -p "$d" "$sock"
	as_server "$pgbin/initdb" -D "$d" -U "$user" -A trust -E UTF8 --locale=C.UTF-8 \
		>"$work/initdb-$1.log" 2>&1 || { cat "$work/initdb-$1.log" >&2; die "initdb $1"; }
	cat >>"$d/postgresql.conf" <<CONF
listen_addresses = ''
unix_socket_directories = '$sock'
port = 5432
max_prepared_transactions = 8
CONF
	started+=("$d")
	as_server "$pgbin/pg_ctl" -D "$d" -l "$top/$1.log" -w -t 60 start >/dev/null \
		|| { cat "$top/$1.log" >&2; die "pg_ctl start $1"; }
}
conninfo() { echo "host=$top/$1.sock port=5432 dbname=postgres user=$user"; }
pguri() { echo "postgresql:///postgres?host=$top/$1.sock&port=5432&user=$user"; }

# Others may rebuild the tree while this runs: measure a private copy of the
# binaries as they were at the start (the CLI links the library statically).
cp "$cli" "$work/pgcopyman"
cli="$work/pgcopyman"
if [ -n "$baseline" ]; then
	cp "$baseline" "$work/pgcopyman-baseline"
	baseline="$work/pgcopyman-baseline"
fi
mkdir -p "$work/bench-bin"
for p in "$build"/bench/bench_*; do [ -x "$p" ] && cp "$p" "$work/bench-bin/"; done

say "clusters in $top"
for c in src t1 t2; do start_cluster "$c"; done
SRC="$(conninfo src)"
T1="$(conninfo t1)"
T2="$(conninfo t2)"
q() { local conn="$1"; shift; "$psql" "$conn" -X -q -v ON_ERROR_STOP=1 "$@"; }

# ---------------------------------------------------------------- data
table_sql='CREATE TABLE t (
    id      bigint PRIMARY KEY,
    ts      timestamptz NOT NULL,
    amount  numeric(14,4),
    label   text,
    tags    text[],
    doc     jsonb,
    flag    boolean,
    uid     uuid
);'
# Deterministic rows; every 10th amount and every 50th doc is NULL, and some
# labels carry a tab, a backslash or non-ASCII text to exercise COPY escapes.
fill_sql="INSERT INTO t
SELECT g,
       timestamptz '2020-01-01 00:00:00+00' + g * interval '1.5 seconds',
       CASE WHEN g % 10 = 0 THEN NULL ELSE (g::bigint * 7919 % 100000000) / 10000.0 END,
       'item ' || g || ' ' || md5(g::text)
           || CASE g % 20 WHEN 0 THEN E'\\ttab' WHEN 1 THEN E' back\\\\slash' WHEN 2 THEN ' été' ELSE '' END,
       ARRAY['tag' || (g % 13), 'group-' || (g % 101), 'k' || (g % 7)],
       CASE WHEN g % 50 = 0 THEN NULL
            ELSE jsonb_build_object('id', g, 'name', 'name ' || (g % 1000),
                                    'score', (g % 977) / 7.0, 'ok', g % 3 = 0) END,
       g % 2 = 0,
       md5('u' || g)::uuid
FROM generate_series(1, $rows) AS g;"

say "filling t with $rows rows on the source"
q "$SRC" -c "$table_sql" -c "$fill_sql" -c "VACUUM (FREEZE, ANALYZE) t" -c "CHECKPOINT" \
	|| die "could not fill the source table"
# ti: the bulk load's table on the targets: t's columns and primary key, and two secondary indexes.
ti_sql="${table_sql/CREATE TABLE t /CREATE TABLE ti }
CREATE INDEX ti_ts ON ti (ts);
CREATE INDEX ti_uid ON ti (uid);"
for c in "$T1" "$T2"; do
	q "$c" -c "$table_sql" -c "$ti_sql" || die "could not create the target tables"
done
src_rows="$(q "$SRC" -Atc "SELECT count(*) FROM t")"
[ "$src_rows" = "$rows" ] || die "source has $src_rows rows, expected $rows"

# The floor's input: the source exported once, by the server, to files the
# target servers can read (they all run as the same user).
export_dir="$top/export"
as_server mkdir -p "$export_dir"
q "$SRC" -c "COPY t TO '$export_dir/t.txt'" -c "COPY t TO '$export_dir/t.bin' (FORMAT binary)"
text_bytes="$(stat -c %s "$export_dir/t.txt")"
binary_bytes="$(stat -c %s "$export_dir/t.bin")"
say "t: $rows rows, $((text_bytes / 1048576)) MiB as COPY text, $((binary_bytes / 1048576)) MiB binary"

# ---------------------------------------------------------------- methods
# Each method is a shell function that runs its clients under T (so that their
# CPU and peak RSS are recorded) and returns non-zero when a client failed.
# T NAME CMD...: run CMD under GNU time; one file per client process.
T() {
	local name="$1"; shift
	/usr/bin/time -f '%U %S %M' -o "$work/run/$name.time" "$@"
}

m_floor_text()   { T psql "$psql" "$T1" -X -q -c "COPY t FROM '$export_dir/t.txt'"; }
m_floor_binary() { T psql "$psql" "$T1" -X -q -c "COPY t FROM '$export_dir/t.bin' (FORMAT binary)"; }

pgcm() {
	T pgcopyman "$cli" copy --from "$SRC" "$@" --table t --json \
		>"$work/run/pgcopyman.json" 2>"$work/run/pgcopyman.log"
}
m_pgcm_1_text()   { pgcm --to "$T1" --format text; }
m_pgcm_1_binary() { pgcm --to "$T1" --format binary; }
m_pgcm_1_auto()   { pgcm --to "$T1"; }
m_pgcm_2_text()   { pgcm --to "$T1" --to "$T2" --format text; }
m_pgcm_2_binary() { pgcm --to "$T1" --to "$T2" --format binary; }
m_pgcm_2_auto()   { pgcm --to "$T1" --to "$T2"; }
m_pgcm_1_jobs2()  { pgcm --to "$T1" --jobs 2; }
pgcm_base() {
	T pgcopyman "$baseline" copy --from "$SRC" "$@" --table t --json \
		>"$work/run/pgcopyman.json" 2>"$work/run/pgcopyman.log"
}
m_pgcm_base_1_binary() { pgcm_base --to "$T1" --format binary; }
m_pgcm_base_2_binary() { pgcm_base --to "$T1" --to "$T2" --format binary; }
# The export to a compressed file (zstd's default level 3 both ways; the file is checked by its lines).
m_pgcm_zst()      { pgcm --to "file:$work/run/t.zst" --format text; }
m_psql_zst() {
	T psql-out "$psql" "$SRC" -X -q -c "COPY t TO STDOUT" | T zstd zstd -q -o "$work/run/t.zst"
}

# psql_pipe OPTS TARGETS...: psql | psql, or psql | tee FIFO | psql with the
# second target's psql reading the FIFO (the same as tee >(psql ...), but a
# child the shell can wait for).
psql_pipe() {
	local opts="$1"
	if [ $# -eq 2 ]; then
		T psql-out "$psql" "$SRC" -X -q -c "COPY t TO STDOUT$opts" \
			| T psql-in1 "$psql" "$2" -X -q -c "COPY t FROM STDIN$opts"
		return
	fi
	local fifo="$work/run/fifo" pid rc=0
	mkfifo "$fifo"
	T psql-in2 "$psql" "$3" -X -q -c "COPY t FROM STDIN$opts" <"$fifo" &
	pid=$!
	T psql-out "$psql" "$SRC" -X -q -c "COPY t TO STDOUT$opts" \
		| T tee tee "$fifo" \
		| T psql-in1 "$psql" "$2" -X -q -c "COPY t FROM STDIN$opts" || rc=$?
	wait "$pid" || rc=$?
	return "$rc"
}
m_psql_1_text()   { psql_pipe "" "$T1"; }
m_psql_1_binary() { psql_pipe " (FORMAT binary)" "$T1"; }
m_psql_2_text()   { psql_pipe "" "$T1" "$T2"; }
m_psql_2_binary() { psql_pipe " (FORMAT binary)" "$T1" "$T2"; }

# pgcopydb copies every table's data (there is only t) with one COPY job; no
# split, no indexes, no schema: table data only.
m_pgcopydb_1() {
	rm -rf "$work/pgcopydb"
	env -u PGCOPYDB_SPLIT_TABLES_LARGER_THAN -u PGCOPYDB_SNAPSHOT -u PGCOPYDB_DROP_IF_EXISTS \
		PGCOPYDB_TABLE_JOBS=1 PGCOPYDB_INDEX_JOBS=1 \
		/usr/bin/time -f '%U %S %M' -o "$work/run/pgcopydb.time" \
		pgcopydb copy table-data --source "$(pguri src)" --target "$(pguri t1)" \
			--dir "$work/pgcopydb" --table-jobs 1 >"$work/run/pgcopydb.log" 2>&1
}

# The bulk load of a replaced table: every method runs BEGIN; TRUNCATE; COPY;
# COMMIT into ti (with secondary indexes) or t (primary key only).
bl_floor() {
	T psql "$psql" "$T1" -X -q -v ON_ERROR_STOP=1 -c "BEGIN" -c "TRUNCATE $1" \
		-c "COPY $1 FROM '$export_dir/t.bin' (FORMAT binary)" -c "COMMIT"
}
m_bl_floor_idx() { bl_floor ti; }
m_bl_floor_pk()  { bl_floor t; }
bl_pgcm() {
	local table="$1"; shift
	T pgcopyman "$cli" copy --from "$SRC" "$@" --table t --target-table "$table" --truncate --json \
		>"$work/run/pgcopyman.json" 2>"$work/run/pgcopyman.log"
}
m_bl_pgcm_1_idx()         { bl_pgcm ti --to "$T1"; }
m_bl_pgcm_2_idx()         { bl_pgcm ti --to "$T1" --to "$T2"; }
m_bl_pgcm_1_pk()          { bl_pgcm t --to "$T1"; }
m_bl_pgcm_2_pk()          { bl_pgcm t --to "$T1" --to "$T2"; }
m_bl_pgcm_1_idx_nodefer() { bl_pgcm ti --to "$T1" --no-defer-indexes; }
# bl_psql_in NAME CONN: a target's psql: the load's transaction, COPY data from stdin.
bl_psql_in() {
	T "$1" "$psql" "$2" -X -q -v ON_ERROR_STOP=1 -c "BEGIN" -c "TRUNCATE ti" \
		-c "COPY ti FROM STDIN (FORMAT binary)" -c "COMMIT"
}
m_bl_psql_1_idx() {
	T psql-out "$psql" "$SRC" -X -q -c "COPY t TO STDOUT (FORMAT binary)" | bl_psql_in psql-in1 "$T1"
}
m_bl_psql_2_idx() {
	local fifo="$work/run/fifo" pid rc=0
	mkfifo "$fifo"
	bl_psql_in psql-in2 "$T2" <"$fifo" &
	pid=$!
	T psql-out "$psql" "$SRC" -X -q -c "COPY t TO STDOUT (FORMAT binary)" \
		| T tee tee "$fifo" | bl_psql_in psql-in1 "$T1" || rc=$?
	wait "$pid" || rc=$?
	return "$rc"
}

pyclient() { T python "$py" "$here/$1" "$SRC" "${@:2}" >"$work/run/python.json" 2>"$work/run/python.log"; }
m_copyman_py_1() { pyclient copyman_py.py "$T1"; }
m_copyman_py_2() { pyclient copyman_py.py "$T1" "$T2"; }
m_psycopg_1()    { pyclient psycopg_copy.py "$T1"; }
m_psycopg_2()    { pyclient psycopg_copy.py "$T1" "$T2"; }

# The methods, in round-robin order: name | targets | tool | format | command
# as the report shows it.
methods_file="$work/methods.tsv"
cat >"$methods_file" <<'EOF'
floor_text	1	floor	text	psql $T1 -c "COPY t FROM '/path/t.txt'"
floor_binary	1	floor	binary	psql $T1 -c "COPY t FROM '/path/t.bin' (FORMAT binary)"
pgcm_1_auto	1	pgcopyman	auto	build/pgcopyman copy --from $SRC --to $T1 --table t --json
pgcm_1_text	1	pgcopyman	text	build/pgcopyman copy --from $SRC --to $T1 --table t --json --format text
pgcm_1_binary	1	pgcopyman	binary	build/pgcopyman copy --from $SRC --to $T1 --table t --json --format binary
pgcm_1_jobs2	1	pgcopyman	jobs2	build/pgcopyman copy --from $SRC --to $T1 --table t --json --jobs 2
pgcm_2_auto	2	pgcopyman	auto	build/pgcopyman copy --from $SRC --to $T1 --to $T2 --table t --json
pgcm_2_text	2	pgcopyman	text	build/pgcopyman copy --from $SRC --to $T1 --to $T2 --table t --json --format text
pgcm_2_binary	2	pgcopyman	binary	build/pgcopyman copy --from $SRC --to $T1 --to $T2 --table t --json --format binary
psql_1_text	1	psql	text	psql $SRC -c "COPY t TO STDOUT" | psql $T1 -c "COPY t FROM STDIN"
psql_1_binary	1	psql	binary	psql $SRC -c "COPY t TO STDOUT (FORMAT binary)" | psql $T1 -c "COPY t FROM STDIN (FORMAT binary)"
psql_2_text	2	psql	text	psql $SRC -c "COPY t TO STDOUT" | tee >(psql $T2 -c "COPY t FROM STDIN") | psql $T1 -c "COPY t FROM STDIN"
psql_2_binary	2	psql	binary	psql $SRC -c "COPY t TO STDOUT (FORMAT binary)" | tee >(psql $T2 -c "COPY t FROM STDIN (FORMAT binary)") | psql $T1 -c "COPY t FROM STDIN (FORMAT binary)"
pgcopydb_1	1	pgcopydb	text	PGCOPYDB_TABLE_JOBS=1 PGCOPYDB_INDEX_JOBS=1 pgcopydb copy table-data --source $SRC_URI --target $T1_URI --dir DIR --table-jobs 1
copyman_py_1	1	py-postgresql copyman	text	/usr/bin/python3 bench/copyman_py.py $SRC $T1
copyman_py_2	2	py-postgresql copyman	text	/usr/bin/python3 bench/copyman_py.py $SRC $T1 $T2
psycopg_1	1	psycopg 3 loop	text	/usr/bin/python3 bench/psycopg_copy.py $SRC $T1
psycopg_2	2	psycopg 3 loop	text	/usr/bin/python3 bench/psycopg_copy.py $SRC $T1 $T2
bl_floor_idx	1	floor	ti	psql $T1 -c BEGIN -c "TRUNCATE ti" -c "COPY ti FROM '/path/t.bin' (FORMAT binary)" -c COMMIT
bl_floor_pk	1	floor	t	psql $T1 -c BEGIN -c "TRUNCATE t" -c "COPY t FROM '/path/t.bin' (FORMAT binary)" -c COMMIT
bl_pgcm_1_idx	1	pgcopyman	ti	build/pgcopyman copy --from $SRC --to $T1 --table t --target-table ti --truncate --json
bl_pgcm_1_idx_nodefer	1	pgcopyman	ti, --no-defer-indexes	build/pgcopyman copy --from $SRC --to $T1 --table t --target-table ti --truncate --json --no-defer-indexes
bl_pgcm_2_idx	2	pgcopyman	ti	build/pgcopyman copy --from $SRC --to $T1 --to $T2 --table t --target-table ti --truncate --json
bl_pgcm_1_pk	1	pgcopyman	t	build/pgcopyman copy --from $SRC --to $T1 --table t --truncate --json
bl_pgcm_2_pk	2	pgcopyman	t	build/pgcopyman copy --from $SRC --to $T1 --to $T2 --table t --truncate --json
bl_psql_1_idx	1	psql	ti	psql $SRC -c "COPY t TO STDOUT (FORMAT binary)" | psql $T1 -c BEGIN -c "TRUNCATE ti" -c "COPY ti FROM STDIN (FORMAT binary)" -c COMMIT
bl_psql_2_idx	2	psql	ti	psql $SRC -c "COPY t TO STDOUT (FORMAT binary)" | tee >(psql $T2 -c BEGIN -c "TRUNCATE ti" -c "COPY ti FROM STDIN (FORMAT binary)" -c COMMIT) | psql $T1 (the same)
pgcm_zst	0	pgcopyman	zst	build/pgcopyman copy --from $SRC --to file:t.zst --table t --json --format text
psql_zst	0	psql + zstd	zst	psql $SRC -c "COPY t TO STDOUT" | zstd -q -o t.zst
EOF
if [ -n "$baseline" ]; then
	cat >>"$methods_file" <<'EOF'
pgcm_base_1_binary	1	pgcopyman (baseline)	binary	$BENCH_BASELINE copy --from $SRC --to $T1 --table t --json --format binary
pgcm_base_2_binary	2	pgcopyman (baseline)	binary	$BENCH_BASELINE copy --from $SRC --to $T1 --to $T2 --table t --json --format binary
EOF
fi
# The floors always run (the ratios need them); the bulk load's floors when a bulk load method does.
bulk_selected=0
if [ -n "$only" ]; then
	while IFS=$'\t' read -r name _; do
		[[ "$name" == bl_* && "$name" =~ $only ]] && bulk_selected=1
	done <"$methods_file"
fi
selected=()
while IFS=$'\t' read -r name _; do
	if [ -z "$only" ] || [[ "$name" == floor_* ]] || [[ "$name" =~ $only ]] \
		|| [[ "$name" == bl_floor_* && "$bulk_selected" == 1 ]]; then
		selected+=("$name")
	fi
done <"$methods_file"

# reset_targets: empty t on both targets and checkpoint, so that no run pays
# for the previous run's dirty pages.
reset_targets() {
	for c in "$T1" "$T2"; do q "$c" -c "TRUNCATE t" -c "TRUNCATE ti" -c "CHECKPOINT"; done
}

# table_of METHOD: the table METHOD loads on the targets.
table_of() { case "$1" in bl_*idx*) echo ti ;; *) echo t ;; esac; }

# bl_phases METHOD RUN: the phases pgcopyman's --json reports for a bulk load
# (the slowest target's): drop, load, rebuild, and each re-created object.
bl_phases() {
	[ -f "$work/run/pgcopyman.json" ] || return 0
	"$py" - "$1" "$2" "$work/run/pgcopyman.json" >>"$extras" <<'PY'
import json, sys
name, run, path = sys.argv[1:4]
with open(path) as f:
    doc = json.load(f)
phases = {}
for t in doc.get("targets", []):
    b = t.get("bulk_load")
    if not b or not b.get("deferred"):
        continue
    for k in ("drop", "load", "rebuild"):
        phases[k] = max(phases.get(k, 0.0), b.get(k + "_seconds", 0.0))
    for o in b.get("deferred", []):
        k = "object " + o["name"]
        phases[k] = max(phases.get(k, 0.0), o["seconds"])
for k, v in phases.items():
    print("%s\t%s\tphase %s\t%.3f" % (name, run, k, v))
PY
}

results="$work/results.tsv"   # method run wall cpu rss_kib ok load1 note
# Each run's client logs and JSON summaries are kept for a look afterwards.
extras="$work/extras.tsv"     # method run key value
: >"$extras"
logs="$build/bench-logs"
rm -rf "$logs"; mkdir -p "$logs"
: >"$results"
failures=0

# run_one METHOD RUN: time one run of METHOD, check every target it loaded.
# servers_cpu: CPU seconds the three clusters used so far: each postmaster's
# own and its reaped children's (backends that ended), plus its live children's.
servers_cpu() {
	local d pids=()
	for d in "${started[@]}"; do pids+=("$(head -n 1 "$d/postmaster.pid")"); done
	# Processes come and go while they are read: cat's complaint is no failure.
	{ cat /proc/[0-9]*/stat 2>/dev/null || true; } | awk -v pids="${pids[*]}" -v hz="$(getconf CLK_TCK)" '
		BEGIN { n = split(pids, p, " "); for (i = 1; i <= n; i++) pm[p[i]] = 1 }
		# After "pid (comm) " (comm may hold spaces): f[2] ppid, f[12] utime, f[13] stime,
		# f[14] cutime, f[15] cstime (fields 4 and 14-17 of proc(5)).
		match($0, /^[0-9]+ \(.*\) /) { split(substr($0, RLENGTH + 1), f, " ")
			if ($1 in pm) t += f[12] + f[13] + f[14] + f[15]
			if (f[2] in pm) t += f[12] + f[13] }
		END { printf "%.2f\n", t / hz }'
}

# machine_busy: CPU seconds the whole machine was busy so far (all processes, every CPU).
machine_busy() {
	awk -v hz="$(getconf CLK_TCK)" '$1 == "cpu" { printf "%.2f\n", ($2 + $3 + $4 + $7 + $8) / hz }' /proc/stat
}

run_one() {
	local name="$1" run="$2" ntargets t0 t1 rc=0 ok=1 note="" n cpu rss wall s0 s1 b0 b1
	ntargets="$(awk -F'\t' -v m="$name" '$1 == m { print $2 }' "$methods_file")"
	reset_targets
	rm -rf "$work/run"; mkdir -p "$work/run"
	s0="$(servers_cpu)"; b0="$(machine_busy)"
	t0=$EPOCHREALTIME
	"m_$name" || rc=$?
	t1=$EPOCHREALTIME
	s1="$(servers_cpu)"; b1="$(machine_busy)"
	printf '%s\t%s\tserver_cpu\t%s\n%s\t%s\tmachine_busy\t%s\n' "$name" "$run" \
		"$(awk -v a="$s0" -v b="$s1" 'BEGIN { printf "%.2f", b - a }')" "$name" "$run" \
		"$(awk -v a="$b0" -v b="$b1" 'BEGIN { printf "%.2f", b - a }')" >>"$extras"
	wall="$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')"
	# GNU time writes "Command exited with non-zero status N" before the numbers.
	read -r cpu rss < <(cat "$work"/run/*.time 2>/dev/null | awk 'NF == 3 && $1 ~ /^[0-9.]+$/ {
		c += $1 + $2; if ($3 > r) r = $3 } END { printf "%.2f %d\n", c, r }')
	if [ "$rc" != 0 ]; then
		ok=0; note="exit status $rc"
		say "FAILED: $name run $run: exit status $rc"
		for f in "$work"/run/*.log "$work"/run/*.json; do
			[ -f "$f" ] && tail -n 20 "$f" >&2
		done
	fi
	local conns=("$T1" "$T2") i
	if [ "$ntargets" = 0 ]; then
		n="$(zstd -qdc "$work/run/t.zst" 2>/dev/null | wc -l)"
		if [ "$n" != "$rows" ]; then
			ok=0; note="${note:+$note; }the file has $n lines, expected $rows"
			say "FAILED: $name run $run: the file has $n lines, expected $rows"
		fi
		printf '%s\t%s\tfile_bytes\t%s\n' "$name" "$run" "$(stat -c %s "$work/run/t.zst" 2>/dev/null || echo 0)" \
			>>"$extras"
	fi
	for ((i = 0; i < ntargets; i++)); do
		n="$(q "${conns[$i]}" -Atc "SELECT count(*) FROM $(table_of "$name")")"
		if [ "$n" != "$rows" ]; then
			ok=0; note="${note:+$note; }target $((i + 1)) has $n rows, expected $rows"
			say "FAILED: $name run $run: target $((i + 1)) has $n rows, expected $rows"
		fi
	done
	[ "$ok" = 1 ] || failures=$((failures + 1))
	if [ -f "$work/run/pgcopydb.log" ]; then
		# pgcopydb also runs VACUUM ANALYZE: keep its own COPY time apart.
		printf '%s\t%s\tpgcopydb_copy\t%s\n' "$name" "$run" \
			"$(awk '/COPY \(cumulative\)/ { print $(NF - 1) }' "$work/run/pgcopydb.log")" >>"$extras"
	fi
	[[ "$name" == bl_pgcm_* ]] && bl_phases "$name" "$run"
	for f in "$work"/run/*.log "$work"/run/*.json; do
		[ -f "$f" ] && cp "$f" "$logs/$name.$run.$(basename "$f")"
	done
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$run" "$wall" "$cpu" "$rss" "$ok" \
		"$(cut -d' ' -f1 /proc/loadavg)" "$note" >>"$results"
	say "$(printf '%-14s run %d: %8.3f s wall, %7.2f s client CPU, %6.1f MiB peak RSS, rows %s' \
		"$name" "$run" "$wall" "$cpu" "$(awk -v k="$rss" 'BEGIN { print k / 1024 }')" \
		"$([ "$ok" = 1 ] && echo ok || echo WRONG)")"
}

# ---------------------------------------------------------------- machine, versions
meta="$work/meta.txt"
{
	echo "rows=$rows"
	echo "runs=$runs"
	echo "text_bytes=$text_bytes"
	echo "binary_bytes=$binary_bytes"
	echo "nproc=$(nproc)"
	echo "kernel=$(uname -srm)"
	echo "server=$(q "$SRC" -Atc 'SELECT version()')"
	echo "server_settings=$(q "$SRC" -Atc "SELECT string_agg(name || '=' || current_setting(name), ', ' ORDER BY name) FROM pg_settings WHERE name IN ('fsync','synchronous_commit','full_page_writes','shared_buffers','max_wal_size','wal_level','checkpoint_timeout')")"
	echo "libpq=$(dpkg-query -W -f '${Package} ${Version}' libpq5 2>/dev/null || echo unknown)"
	echo "pgcopyman=$("$cli" --version 2>&1 | head -n 1), tree $(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo '?') + $(git -C "$repo" status --porcelain 2>/dev/null | wc -l) uncommitted paths, binary built $(date -u -r "$build/pgcopyman" '+%Y-%m-%d %H:%M UTC')"
	[ -z "$baseline" ] || echo "baseline=$("$baseline" --version 2>&1 | head -n 1), $BENCH_BASELINE"
	echo "cost_rows=$cost_rows"
	echo "pgcopydb=$(pgcopydb --version 2>/dev/null | grep -m1 'pgcopydb version' || echo unknown)"
	echo "psql=$("$psql" --version)"
	echo "python=$("$py" --version 2>&1)"
	echo "py_postgresql=$("$py" -c 'import postgresql; print(postgresql.version)') (Debian $(dpkg-query -W -f '${Version}' python3-postgresql 2>/dev/null || echo '?'))"
	echo "psycopg=$("$py" -c 'import psycopg; print(psycopg.__version__, psycopg.pq.__impl__)') (Debian $(dpkg-query -W -f '${Version}' python3-psycopg 2>/dev/null || echo '?'))"
	echo "coreutils_tee=$(tee --version | head -n 1)"
	echo "table_sql=$(echo "$table_sql" | tr '\n' '\r')"
	echo "fill_sql=$(echo "$fill_sql" | tr '\n' '\r')"
	echo "load_start=$load_begin"
	echo "started=$(date -u '+%Y-%m-%d %H:%M UTC')"
	echo "note=${BENCH_NOTE:-}"
} >"$meta"

# ---------------------------------------------------------------- the runs
say "${#selected[@]} methods x $runs runs, round-robin: ${selected[*]}"
# One untimed load first, so that no method's first run pays for cold caches.
say "warm-up: one untimed floor_text run"
reset_targets
q "$T1" -c "COPY t FROM '$export_dir/t.txt'" || die "warm-up load failed"
bench_t0=$EPOCHREALTIME
for ((r = 1; r <= runs; r++)); do
	for name in "${selected[@]}"; do
		run_one "$name" "$r"
	done
done
{
	echo "load_end=$(cut -d' ' -f1-3 /proc/loadavg)"
	echo "bench_seconds=$(awk -v a="$bench_t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.0f", b - a }')"
} >>"$meta"

# ---------------------------------------------------------------- profile
prof="$work/profile.txt"
if [ "$profile" = 1 ]; then
	reset_targets
	profiler="${BENCH_PROFILER:-}"
	if [ -z "$profiler" ]; then
		profiler=callgrind
		perf stat -e instructions true >/dev/null 2>&1 && profiler=perf
	fi
	if [ "$profiler" = perf ]; then
		say "profiling pgcopyman 1->1 (auto) under perf record -g"
		perf record -q -g -o "$work/perf.data" -- \
			"$cli" copy --from "$SRC" --to "$T1" --table t --quiet >/dev/null 2>"$work/perf.log" \
			|| die "pgcopyman under perf failed: $(cat "$work/perf.log")"
		{
			echo "tool: perf record -g (cycles, $rows rows, 1->1, --format auto)"
			echo "command: perf record -g -- pgcopyman copy --from \$SRC --to \$T1 --table t"
			echo
			echo "self time by symbol (perf report --no-children --sort dso,symbol), >= 0.5%:"
			perf report -i "$work/perf.data" --stdio --no-children --sort dso,symbol \
				-g none --percent-limit 0.5 2>/dev/null | grep -v '^#' | grep -v '^$' \
				| sed -e 's/[ -]*$//' | head -n 40
			echo
			echo "self time by library (perf report --sort dso):"
			perf report -i "$work/perf.data" --stdio --no-children --sort dso \
				-g none --percent-limit 0.5 2>/dev/null | grep -v '^#' | grep -v '^$' \
				| sed -e 's/[ -]*$//' | head -n 15
		} >"$prof"
	else
		small=200000
		[ "$rows" -lt "$small" ] && small="$rows"
		say "profiling pgcopyman 1->1 on $small rows under callgrind (perf does not work here, or BENCH_PROFILER=callgrind)"
		valgrind --tool=callgrind --callgrind-out-file="$work/callgrind.out" \
			"$cli" copy --from "$SRC" --to "$T1" --query "SELECT * FROM t ORDER BY id LIMIT $small" \
			--target-table t --quiet >/dev/null 2>"$work/callgrind.log" \
			|| die "pgcopyman under callgrind failed: $(tail -n 20 "$work/callgrind.log")"
		{
			echo "tool: valgrind --tool=callgrind ($small rows, 1->1, --format auto)"
			echo
			echo "command: valgrind --tool=callgrind pgcopyman copy --from \$SRC --to \$T1 --query 'SELECT * FROM t ORDER BY id LIMIT $small' --target-table t"
			echo
			echo "self cost (instructions) by function, callgrind_annotate --inclusive=no:"
			callgrind_annotate --inclusive=no "$work/callgrind.out" 2>/dev/null \
				| sed -n '/PROGRAM TOTALS/,$p' | grep -v '^--' | grep -v '^$' | head -n 32
		} >"$prof"
	fi
fi

# ---------------------------------------------------------------- client cost (issue 18)
. "$here/client_cost.sh"
if [ "$cost" != 0 ]; then
	measure_cost
	echo "load_after_cost=$(cut -d' ' -f1-3 /proc/loadavg)" >>"$meta"
fi

# ---------------------------------------------------------------- other programs
# The micro-benchmarks that `make bench` builds (one result line each).
programs="$work/programs.txt"
: >"$programs"
if [ "${BENCH_PROGRAMS:-1}" != 0 ]; then
	for p in "$work"/bench-bin/bench_*; do
		[ -x "$p" ] || continue
		# bench_fanout needs servers: the client cost section runs it.
		[ "$(basename "$p")" = bench_fanout ] && continue
		say "running $(basename "$p")"
		"$p" >>"$programs" 2>"$work/program.log" \
			|| { echo "$(basename "$p"): FAILED: $(tail -n 3 "$work/program.log")" >>"$programs";
			     failures=$((failures + 1)); }
	done
fi

# ---------------------------------------------------------------- report
echo "script_seconds=$(awk -v a="$script_t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.0f", b - a }')" >>"$meta"
"$py" "$here/report.py" --meta "$meta" --methods "$methods_file" --results "$results" \
	--extras "$extras" --programs "$programs" --profile "$prof" --cost "$cost_file" --out "$out"
say "wrote $out"
if [ "$failures" -gt 0 ]; then
	die "$failures run(s) failed or loaded the wrong number of rows (see above and $out)"
fi
