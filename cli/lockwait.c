/*
 * lockwait.c: what a target session is waiting for, when it waits on
 * another session's lock, so that a copy that seems stalled says why while
 * it waits ("target 2: waiting for a lock on public.t held by pid 1234
 * (psql, idle in transaction, query started 10:01:02)") instead of being
 * faulted as a stall with no mention of the lock.
 *
 * The waiting session cannot be asked (it is busy waiting): a separate
 * monitoring session to the same server and database is opened on first
 * need (with the same connection string, so the same password) and asks
 * pg_locks, pg_blocking_pids() and pg_stat_activity.  Without the rights to
 * see another user's session, its state and query are "?".
 */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "copy.h"

static const char lock_sql[] =
	"SELECT CASE WHEN w.relation IS NOT NULL THEN 'a lock on ' || coalesce((SELECT pg_catalog.format("
	"                 '%I.%I', n.nspname, c.relname) FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n "
	"                 ON n.oid = c.relnamespace WHERE c.oid = w.relation), 'relation ' || w.relation::text) "
	"            WHEN w.locktype = 'transactionid' THEN 'transaction ' || w.transactionid::text "
	"            ELSE 'a ' || w.locktype || ' lock' END, "
	"       w.mode, b.pid, coalesce(nullif(b.application_name, ''), '?'), coalesce(b.state, '?'), "
	"       coalesce(to_char(b.query_start, 'YYYY-MM-DD HH24:MI:SS'), '?') "
	"FROM pg_catalog.pg_locks w "
	"CROSS JOIN LATERAL pg_catalog.unnest(pg_catalog.pg_blocking_pids(w.pid)) AS h(pid) "
	"LEFT JOIN pg_catalog.pg_stat_activity b ON b.pid = h.pid "
	"WHERE w.pid = $1 AND NOT w.granted ORDER BY h.pid LIMIT 1";

char *
copy_lock_wait(copy_endpoint *e, PGconn *conn)
{
	char pid[16];
	const char *params[1] = {pid};
	PGresult *res;
	char *note = NULL;

	if (!conn || PQstatus(conn) != CONNECTION_OK || e->no_monitor)
		return NULL;
	if (!e->monitor && !(e->monitor = cli_connect_quietly(e->spec))) {
		e->no_monitor = 1;   /* no second try: the copy goes on, the stall rule still applies */
		return NULL;
	}
	snprintf(pid, sizeof pid, "%d", PQbackendPID(conn));
	res = PQexecParams(e->monitor, lock_sql, 1, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1) {
		cli_buf b;

		cli_buf_init(&b);
		cli_buf_addf(&b, "waiting for %s (%s) held by pid %s (%s, %s, query started %s)",
		             PQgetvalue(res, 0, 0), PQgetvalue(res, 0, 1), PQgetvalue(res, 0, 2),
		             PQgetvalue(res, 0, 3), PQgetvalue(res, 0, 4), PQgetvalue(res, 0, 5));
		note = cli_buf_take(&b);
	} else if (PQstatus(e->monitor) != CONNECTION_OK) {
		PQfinish(e->monitor);
		e->monitor = NULL;
		e->no_monitor = 1;
	}
	PQclear(res);
	return note;
}

int
copy_note_lock_wait(copy_endpoint *e, PGconn *conn, int index, cli_progress *prog, int say)
{
	char *note = copy_lock_wait(e, conn);

	if (!note) {
		free(e->lock_note);
		e->lock_note = NULL;
		return 0;
	}
	if (say && (!e->lock_note || strcmp(note, e->lock_note) != 0)) {
		cli_buf b;
		char *line, *safe;

		cli_buf_init(&b);
		if (index >= 0)
			cli_buf_addf(&b, "pgcopyman: target %d (%s): %s", index + 1, e->label, note);
		else
			cli_buf_addf(&b, "pgcopyman: target %s: %s", e->label, note);
		line = cli_buf_take(&b);
		safe = line ? cli_scrub_text(line) : NULL;
		if (safe)
			cli_progress_message(prog, safe);
		free(safe);
		free(line);
	}
	free(e->lock_note);
	e->lock_note = note;
	return 1;
}
