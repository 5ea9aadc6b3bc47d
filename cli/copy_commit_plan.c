/*
 * copy_commit_plan.c: what the targets' commit will need, settled before
 * any data moves.  Sessions that must agree (the streams of a target under
 * --jobs; every server target under --on-fault abort) commit in two phases,
 * which needs prepared transactions on those servers and a run record in
 * the state directory; where either is missing the copy is refused here,
 * with what to do, rather than committing part of what it promised.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "copy.h"
#include "twophase.h"

/*
 * warn_leftovers: a target holding prepared transactions of an earlier run
 * (crashed, or still finishing) is said loudly: they keep their locks, so
 * this load may wait on them, and their rows are neither in nor out.
 */
static void
warn_leftovers(copy_endpoint *e, int index, const copy_opts *o)
{
	prepared_xact *x = NULL;
	size_t n = 0;
	sql_error err = {0};
	char *cmd;

	if (!twophase_list(e->conns[0], GID_PREFIX, &x, &n, &err)) {
		cli_error("target %d (%s): cannot list prepared transactions: %s", index, e->label, err.message);
		sql_error_clear(&err);
		return;
	}
	if (n > 0) {
		cmd = twophase_recover_command(e->spec, o->state_dir);
		cli_error("WARNING: target %d (%s) holds %zu prepared transaction%s of an earlier pgcopyman run "
		          "(the oldest, %s, prepared at %s in database %s). They keep their locks (this load may "
		          "wait on them) and their rows are neither committed nor rolled back. Settle them with:\n"
		          "    %s",
		          index, e->label, n, n == 1 ? "" : "s", x[0].gid, x[0].prepared, x[0].database,
		          cmd ? cmd : "pgcopyman recover");
		free(cmd);
	}
	twophase_list_free(x, n);
}

/* check_prepared_enabled: the server can prepare a transaction for each of the target's sessions. */
static int
check_prepared_enabled(copy_endpoint *e, int index, const copy_opts *o, int servers)
{
	sql_error err = {0};
	int max = 0, need = o->jobs + (o->truncate && o->jobs > 1);  /* and the session deleting old rows */

	if (!twophase_max_prepared(e->conns[0], &max, &err)) {
		cli_error("target %d (%s): cannot read max_prepared_transactions: %s", index, e->label, err.message);
		sql_error_clear(&err);
		return 0;
	}
	if (max >= need)
		return 1;
	if (o->jobs > 1)
		cli_error("target %d (%s): --jobs %d commits the target's %d sessions together, with prepared "
		          "transactions (two-phase commit), and this server has max_prepared_transactions = %d. "
		          "Set max_prepared_transactions to at least %d in its postgresql.conf and restart it, or run "
		          "with --jobs 1. Nothing was loaded.",
		          index, e->label, o->jobs, need, max, need);
	else
		cli_error("target %d (%s): --on-fault abort over %d server targets commits them together, with "
		          "prepared transactions (two-phase commit), and this server has max_prepared_transactions "
		          "= 0. Set max_prepared_transactions to at least 1 in its postgresql.conf and restart it, or "
		          "use --on-fault continue (each target all or nothing on its own), or load one target per "
		          "run. Nothing was loaded.",
		          index, e->label, servers);
	return 0;
}

/*
 * check_delete_safe: with --jobs, --truncate deletes the old rows in a
 * session of its own, committed with the streams' sessions (copy_commit.c).
 * A unique or exclusion index (on the table or on one of its partitions or
 * children) would make a stream's insert of a key that an old row holds
 * wait for the deleting session to end, which it only does after every
 * stream has finished: a wait the server cannot see as a deadlock.  Refused
 * here, before any data moves.
 */
static int
check_delete_safe(copy_endpoint *e, int index, const copy_opts *o)
{
	const char *table = o->target_table ? o->target_table : o->table, *qerr = NULL;
	char *qname = cli_quote_name(e->conns[0], table, &qerr);
	const char *params[1] = {qname};
	PGresult *res;
	int ok;

	if (!qname) {
		cli_error("bad table name: %s", qerr ? qerr : "out of memory");
		return 0;
	}
	res = PQexecParams(e->conns[0],
	                   "WITH RECURSIVE tree(oid) AS (SELECT $1::regclass::oid UNION "
	                   "SELECT i.inhrelid FROM pg_inherits i JOIN tree ON i.inhparent = tree.oid) "
	                   "SELECT c.relname::text FROM pg_index x JOIN tree ON x.indrelid = tree.oid "
	                   "JOIN pg_class c ON c.oid = x.indexrelid WHERE x.indisunique OR x.indisexclusion "
	                   "ORDER BY 1 LIMIT 1",
	                   1, NULL, params, NULL, NULL, 0);
	ok = PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 0;
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		cli_error("target %d (%s): cannot read the indexes of %s: %s", index, e->label, qname,
		          PQresultErrorMessage(res));
	else if (!ok)
		cli_error("target %d (%s): --truncate with --jobs %d deletes the old rows of %s in a session of its "
		          "own, so that they go only when the new rows commit; its unique index \"%s\" would make "
		          "the streams wait for that session to end, which it cannot before they finish. Use "
		          "--truncate with --jobs 1 (TRUNCATE and the load in one transaction). Nothing was loaded.",
		          index, e->label, o->jobs, qname, PQgetvalue(res, 0, 0));
	PQclear(res);
	free(qname);
	return ok;
}

/* utc_now: the time now as ISO 8601 UTC. */
static void
utc_now(char *buf, size_t n)
{
	time_t t = time(NULL);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/*
 * start_record: lock the run and write its first record (its targets, no
 * decision), durably, before any data moves: a state directory that cannot
 * be written refuses the run here, and every prepared transaction the run
 * ever makes has a record that `pgcopyman recover` can judge it by.
 */
static int
start_record(copy_commit *cc, copy_endpoint *dst, const copy_opts *o)
{
	char *err = NULL, now[32];
	int ok;

	cc->state_dir = o->state_dir ? strdup(o->state_dir) : statedir_default();
	if (!cc->state_dir) {
		cli_error("no state directory for the commit records: set HOME or XDG_STATE_HOME, or give --state-dir");
		return 0;
	}
	ok = statedir_ensure(cc->state_dir, &err) && run_new_id(cc->record.run_id, &err);
	if (ok && (cc->lock_fd = run_lock(cc->state_dir, cc->record.run_id, &err)) < 0) {
		if (!err)
			err = strdup("the run's lock file is held by another process");
		ok = 0;
	}
	utc_now(now, sizeof now);
	cc->record.pid = (long) getpid();
	ok = ok && (cc->record.started = strdup(now))
	     && (cc->record.table = strdup(o->target_table ? o->target_table : o->table));
	/* Each target as recover will connect to it: expanded, every password left out. */
	for (int i = 0; ok && i < o->nto; i++) {
		char *conninfo;
		if (dst[i].kind != EP_SERVER)
			continue;
		conninfo = cli_conninfo_without_secrets(dst[i].spec, &err);
		ok = conninfo && run_record_add_target(&cc->record, i + 1, conninfo, dst[i].label);
		free(conninfo);
	}
	ok = ok && run_record_write(cc->state_dir, &cc->record, &err) == 1;
	if (!ok)
		cli_error("cannot keep the run's commit record in %s: %s", cc->state_dir, err ? err : "out of memory");
	free(err);
	return ok;
}

int
copy_commit_prepare(copy_commit *cc, copy_endpoint *dst, const copy_opts *o)
{
	int servers = 0;

	memset(cc, 0, sizeof *cc);
	cc->lock_fd = -1;
	for (int i = 0; i < o->nto; i++)
		servers += dst[i].kind == EP_SERVER;
	cc->two_phase = servers > 0 && (o->jobs > 1 || (o->on_fault_abort && servers > 1));
	for (int i = 0; i < o->nto; i++) {
		if (dst[i].kind != EP_SERVER)
			continue;
		warn_leftovers(&dst[i], i + 1, o);
		if (cc->two_phase && !check_prepared_enabled(&dst[i], i + 1, o, servers))
			return EXIT_USAGE;
		if (o->truncate && o->jobs > 1 && !check_delete_safe(&dst[i], i + 1, o))
			return EXIT_USAGE;
	}
	if (cc->two_phase && !o->dry_run && !start_record(cc, dst, o))
		return EXIT_FAILED;
	return 0;
}

void
copy_commit_free(copy_commit *cc)
{
	char *err = NULL;

	if (cc->lock_fd >= 0 && cc->unsettled == 0 && !run_record_remove(cc->state_dir, cc->record.run_id, &err))
		cli_error("WARNING: %s", err);
	if (cc->lock_fd >= 0)
		close(cc->lock_fd);
	free(err);
	free(cc->state_dir);
	free(cc->abort_reason);
	run_record_clear(&cc->record);
	memset(cc, 0, sizeof *cc);
	cc->lock_fd = -1;
}
