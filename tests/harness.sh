#!/usr/bin/env bash
# tests/harness.sh: start throwaway PostgreSQL 15 clusters, run a command with
# their connection strings in the environment, then stop and delete them.
#
#   tests/harness.sh [-n CLUSTERS] -- COMMAND [ARGS...]
#
# The command sees PGCM_TEST_CONN_1 .. PGCM_TEST_CONN_N (libpq connection
# strings), PGCM_TEST_DATADIR_i (data directories), PGCM_TEST_CLUSTERS and
# PGCM_TEST_PGBIN, and XDG_STATE_HOME pointing into the temporary directory (so
# the commands' default state directory is thrown away too).  Clusters listen
# only on a unix socket in a private temporary directory, with
# max_prepared_transactions = 20.  When run as root the servers run as the `postgres` user.  The
# clusters are stopped and removed on every exit: success, failure, or signal.
set -euo pipefail

nclusters=3
while [ $# -gt 0 ]; do
	case "$1" in
		-n) nclusters="$2"; shift 2 ;;
		--) shift; break ;;
		*) break ;;
	esac
done
[ $# -gt 0 ] || { echo "usage: tests/harness.sh [-n CLUSTERS] -- COMMAND [ARGS...]" >&2; exit 2; }

pgbin="${PGCM_PGBIN:-/usr/lib/postgresql/15/bin}"
if [ ! -x "$pgbin/initdb" ] || [ ! -x "$pgbin/pg_ctl" ]; then
	echo "harness: no PostgreSQL 15 server binaries in $pgbin" >&2
	echo "harness: install them with: apt-get install -y postgresql-15 (or set PGCM_PGBIN)" >&2
	exit 1
fi

as_server() {
	if [ "$(id -u)" = 0 ]; then
		# runuser keeps the environment small and needs no password
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

top="$(mktemp -d "${TMPDIR:-/tmp}/pgcm-harness.XXXXXX")"
chmod 755 "$top"
[ "$(id -u)" = 0 ] && chown postgres: "$top"

started=()
cleanup() {
	local rc=$?
	trap - EXIT INT TERM HUP
	for d in "${started[@]}"; do
		# A test may have stopped (SIGSTOP) a backend: wake everything first.
		if [ -f "$d/postmaster.pid" ]; then
			pid=$(head -n 1 "$d/postmaster.pid")
			pkill -CONT -P "$pid" 2>/dev/null || true
		fi
		as_server "$pgbin/pg_ctl" -D "$d" -m immediate -w -t 30 stop >/dev/null 2>&1 || true
	done
	rm -rf "$top"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

user=postgres
[ "$(id -u)" = 0 ] || user="$(id -un)"

for i in $(seq 1 "$nclusters"); do
	d="$top/data$i"
	sock="$top/sock$i"
	as_server mkdir -p "$d" "$sock"
	as_server "$pgbin/initdb" -D "$d" -U "$user" -A trust -E UTF8 --locale=C.UTF-8 \
		--no-sync >"$top/initdb$i.log" 2>&1 || { cat "$top/initdb$i.log" >&2; exit 1; }
	# Small, test-friendly settings; fsync off for speed (benchmarks use their own clusters).
	# Prepared transactions on: --jobs and --on-fault abort over several targets commit in two phases.
	cat >>"$d/postgresql.conf" <<CONF
listen_addresses = ''
unix_socket_directories = '$sock'
port = 5432
fsync = off
synchronous_commit = off
full_page_writes = off
max_connections = 60
max_prepared_transactions = 20
shared_buffers = 64MB
logging_collector = off
log_min_messages = warning
CONF
	started+=("$d")
	as_server "$pgbin/pg_ctl" -D "$d" -l "$top/server$i.log" -w -t 60 start >/dev/null \
		|| { cat "$top/server$i.log" >&2; exit 1; }
	export "PGCM_TEST_CONN_$i=host=$sock port=5432 dbname=postgres user=$user"
	export "PGCM_TEST_DATADIR_$i=$d"
	export "PGCM_TEST_LOG_$i=$top/server$i.log"
done
export PGCM_TEST_CLUSTERS="$nclusters"
# The commands' two-phase commit records (their default state directory) stay in here.
export XDG_STATE_HOME="$top/state"
export PGCM_TEST_PGBIN="$pgbin"
export PGCM_TEST_AS_SERVER="$( [ "$(id -u)" = 0 ] && echo runuser -u postgres -- || true )"

set +e
"$@"
rc=$?
set -e
exit "$rc"
