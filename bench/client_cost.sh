# bench/client_cost.sh: the client's cost per byte and per target (issue 18).
# Sourced by bench/run.sh after the timed runs: it uses run.sh's clusters,
# helpers (q, conninfo, say, die) and variables.  Defines measure_cost, which
# appends one measurement a line to $cost_file:
#
#   bytes    FORMAT  BYTES                      COPY size of the cost table
#   ir       NAME    DB   INSTRUCTIONS  OK      one client run under callgrind
#   fan_ir   KIND    N    INSTRUCTIONS  BYTES  OK   bench_fanout's copy under callgrind
#   fan_cpu  KIND    N    RUN  CPU_S  WALL_S  BYTES  OK   bench_fanout timed, table t
#
# NAME: pgcm_binary, pgcm_text, base_binary (BENCH_BASELINE), psql_binary,
# psql_text (both processes of the pipe), pgcopydb_text (every process it
# starts).  DB: cost (BENCH_COST_ROWS rows) or cost0 (none): the difference is
# what the rows cost, without starting up, connecting and reading catalogs.
#
# Instructions are user space only: callgrind sees no kernel work (the socket
# and pipe copies, poll), which the timed CPU includes.  glibc's memcpy is told
# to use vector instructions at every size (x86_rep_movsb_threshold) under
# callgrind, which counts each byte a `rep movsb` moves as an instruction: a
# large copy would look about 30 times dearer than the same copy made with
# vector registers, which the hardware runs at about the same speed.

cost_file="$work/cost.tsv"
: >"$cost_file"
cg_env=(env -u PGCOPYDB_SPLIT_TABLES_LARGER_THAN -u PGCOPYDB_SNAPSHOT -u PGCOPYDB_DROP_IF_EXISTS
	PGCOPYDB_TABLE_JOBS=1 PGCOPYDB_INDEX_JOBS=1
	GLIBC_TUNABLES=glibc.cpu.x86_rep_movsb_threshold=4611686018427387904)

conninfo_db() { echo "host=$top/$1.sock port=5432 dbname=$2 user=$user"; }
pguri_db() { echo "postgresql:///$2?host=$top/$1.sock&port=5432&user=$user"; }

# cg TAG CMD...: CMD under callgrind, its children too, one file per process.
cg() {
	local tag="$1"
	shift
	"${cg_env[@]}" valgrind -q --tool=callgrind --trace-children=yes \
		--callgrind-out-file="$work/cg/$tag.%p" "$@"
}
# cg_total TAG: the instructions of every process a cg TAG run made.
cg_total() {
	cat "$work/cg/$1".* 2>/dev/null | sed -n 's/^summary: //p' | awk '{ s += $1 } END { printf "%d", s }'
}

# cost_setup: databases cost (the first $cost_rows rows of t) and cost0 (t
# empty) on the source, t and an unlogged sink (no index: many receivers may
# load it at once) on the targets; a sink in each target's postgres database
# too, for the timed fan-out.
cost_setup() {
	local c db
	q "$SRC" -c "COPY (SELECT * FROM t WHERE id <= $cost_rows) TO '$export_dir/cost.bin' (FORMAT binary)"
	for db in cost cost0; do
		for c in src t1 t2; do
			q "$(conninfo "$c")" -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
			q "$(conninfo_db "$c" "$db")" -c "$table_sql"
			[ "$c" = src ] || q "$(conninfo_db "$c" "$db")" -c "CREATE UNLOGGED TABLE sink (LIKE t)"
		done
	done
	q "$(conninfo_db src cost)" -c "COPY t FROM '$export_dir/cost.bin' (FORMAT binary)" \
		-c "VACUUM (FREEZE, ANALYZE) t" \
		-c "COPY t TO '$export_dir/cost.txt'" -c "COPY t TO '$export_dir/cost.bin' (FORMAT binary)"
	printf 'bytes\ttext\t%s\nbytes\tbinary\t%s\n' "$(stat -c %s "$export_dir/cost.txt")" \
		"$(stat -c %s "$export_dir/cost.bin")" >>"$cost_file"
	for c in "$T1" "$T2"; do q "$c" -c "DROP TABLE IF EXISTS sink" -c "CREATE UNLOGGED TABLE sink (LIKE t)"; done
}

# cost_client NAME DB: one 1->1 client run under callgrind, from the source's
# database DB to target 1's, checked: the target must then hold DB's rows.
cost_client() {
	local name="$1" db="$2" tag="$1.$2" s d want n ok=1 rc=0
	s="$(conninfo_db src "$db")"
	d="$(conninfo_db t1 "$db")"
	q "$d" -c "TRUNCATE t"
	case "$name" in
	pgcm_binary) cg "$tag" "$cli" copy --from "$s" --to "$d" --table t --format binary --quiet || rc=$? ;;
	pgcm_text)   cg "$tag" "$cli" copy --from "$s" --to "$d" --table t --format text --quiet || rc=$? ;;
	base_binary) cg "$tag" "$baseline" copy --from "$s" --to "$d" --table t --format binary --quiet || rc=$? ;;
	psql_binary)
		cg "$tag" "$psql" "$s" -X -q -c "COPY t TO STDOUT (FORMAT binary)" \
			| cg "$tag" "$psql" "$d" -X -q -c "COPY t FROM STDIN (FORMAT binary)" || rc=$? ;;
	psql_text)
		cg "$tag" "$psql" "$s" -X -q -c "COPY t TO STDOUT" \
			| cg "$tag" "$psql" "$d" -X -q -c "COPY t FROM STDIN" || rc=$? ;;
	pgcopydb_text)
		rm -rf "$work/pgcopydb"
		cg "$tag" pgcopydb copy table-data --source "$(pguri_db src "$db")" \
			--target "$(pguri_db t1 "$db")" --dir "$work/pgcopydb" --table-jobs 1 || rc=$? ;;
	esac
	want=0
	[ "$db" = cost ] && want="$cost_rows"
	n="$(q "$d" -Atc "SELECT count(*) FROM t")"
	if [ "$rc" != 0 ] || [ "$n" != "$want" ]; then
		ok=0
		failures=$((failures + 1))
		say "FAILED: cost $name ($db): exit status $rc, target has $n rows, expected $want"
	fi
	printf 'ir\t%s\t%s\t%s\t%s\n' "$name" "$db" "$(cg_total "$tag")" "$ok" >>"$cost_file"
}

# fanout DB KIND N [PREFIX...]: bench_fanout (run by PREFIX, say valgrind) from table t of DB into N
# receivers of KIND (connection receivers alternate between the targets'
# sinks); prints its one line, or FAILED.
fanout() {
	local db="$1" kind="$2" n="$3"
	shift 3
	"$@" "$work/bench-bin/bench_fanout" "$(conninfo_db src "$db")" "COPY t TO STDOUT (FORMAT binary)" \
		"$n" "$kind" "COPY sink FROM STDIN (FORMAT binary)" \
		"$(conninfo_db t1 "$db")" "$(conninfo_db t2 "$db")" 2>>"$work/fanout.log" || echo FAILED
}

# fanout_field LINE WHAT: a number from bench_fanout's line ("bytes", "CPU", "wall").
fanout_field() {
	case "$2" in
	bytes) sed -n 's/.*: \([0-9]*\) bytes.*/\1/p' <<<"$1" ;;
	CPU)   sed -n 's/.*CPU \([0-9.]*\) s.*/\1/p' <<<"$1" ;;
	wall)  sed -n 's/.*wall \([0-9.]*\) s.*/\1/p' <<<"$1" ;;
	esac
}

measure_cost() {
	local name db kind n r line ok tag
	mkdir -p "$work/cg"
	say "client cost: callgrind on $cost_rows rows (databases cost and cost0)"
	cost_setup
	local names=(pgcm_binary pgcm_text psql_binary psql_text pgcopydb_text)
	[ -n "$baseline" ] && names+=(base_binary)
	for name in "${names[@]}"; do
		for db in cost cost0; do
			cost_client "$name" "$db"
		done
		say "client cost: $name done"
	done
	if [ ! -x "$work/bench-bin/bench_fanout" ]; then
		say "no bench_fanout: the fan-out is not measured (make bench builds it)"
		return
	fi
	for kind in null devnull pg; do
		for n in 1 2 4 8; do
			tag="fanout.$kind.$n"
			line="$(fanout cost "$kind" "$n" "${cg_env[@]}" valgrind -q --tool=callgrind \
				--toggle-collect=pgcm_copy_run --callgrind-out-file="$work/cg/$tag.%p")"
			ok=1
			[[ "$line" == *FAILED* ]] && { ok=0; failures=$((failures + 1)); say "FAILED: $tag: $line"; }
			printf 'fan_ir\t%s\t%s\t%s\t%s\t%s\n' "$kind" "$n" "$(cg_total "$tag")" \
				"$(fanout_field "$line" bytes)" "$ok" >>"$cost_file"
		done
	done
	say "client cost: fan-out timed, $rows rows, $runs run(s) each"
	for ((r = 1; r <= runs; r++)); do
		for kind in null devnull pg; do
			for n in 1 2 4 8; do
				line="$(fanout postgres "$kind" "$n")"
				ok=1
				[[ "$line" == *FAILED* ]] && { ok=0; failures=$((failures + 1)); say "FAILED: fan-out $kind $n: $line"; }
				printf 'fan_cpu\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$kind" "$n" "$r" \
					"$(fanout_field "$line" CPU)" "$(fanout_field "$line" wall)" \
					"$(fanout_field "$line" bytes)" "$ok" >>"$cost_file"
				say "fan-out $kind x$n run $r: $line"
			done
		done
	done
}
