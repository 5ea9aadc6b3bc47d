/*
 * bulkload.c: the two hooks of the copy command's transaction flow for the
 * work around a server target's COPY (see bulkload.h): after the TRUNCATE,
 * defer a replaced table's index work; at the end of the load, re-create it
 * (rebuild.c), check it, and move the owned sequences forward.
 *
 * Only a load in one transaction on one session can defer: with --jobs the
 * streams load over several sessions, and an index dropped in one of them
 * would lock the others out of the table (and the TRUNCATE commits first).
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "bulkload.h"

/* The default maintenance_work_mem of the rebuild: the server's when larger. */
#define DEFAULT_WORK_MEM "512MB"

double
bulkload_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

/* keep_error: msg (NULL: out of memory) and sqlstate as e's error, for its caller to report. */
static void
keep_error(copy_endpoint *e, const char *msg, const char *sqlstate)
{
	free(e->error);
	e->error = strdup(msg ? msg : "out of memory");
	snprintf(e->sqlstate, sizeof e->sqlstate, "%s", sqlstate ? sqlstate : "");
}

void
bulkload_fault(copy_endpoint *e, const char *msg, const char *sqlstate, cli_progress *prog)
{
	size_t n = strlen(msg) + strlen(e->label) + 64;
	char *line = malloc(n);

	keep_error(e, msg, sqlstate);
	e->status = "faulted";
	e->reported = 1;
	if (line) {
		snprintf(line, n, "pgcopyman: target faulted: %s: %s%s%s%s", e->label, msg,
		         e->sqlstate[0] ? " (SQLSTATE " : "", e->sqlstate, e->sqlstate[0] ? ")" : "");
		cli_progress_message(prog, line);
	} else {
		cli_progress_message(prog, "pgcopyman: target faulted (out of memory)");
	}
	free(line);
}

/* bulk_of: e's record, made on first use; NULL when out of memory. */
static bulkload *
bulk_of(copy_endpoint *e)
{
	if (!e->bulk)
		e->bulk = calloc(1, sizeof *e->bulk);
	return e->bulk;
}

/* target_name: the target table's name, quoted on e's first session; malloc'd, NULL with *err. */
static char *
target_name(copy_endpoint *e, const copy_opts *o, const char **err)
{
	return cli_quote_name(e->conns[0], o->target_table ? o->target_table : o->table, err);
}

/*
 * add_freeze: e's COPY command gets FREEZE.  The plan writes every target
 * command as "COPY t (cols) FROM STDIN (options)": FREEZE joins the options.
 * Returns 0 when the command is not of that form (or out of memory).
 */
static int
add_freeze(copy_endpoint *e)
{
	size_t n = e->command ? strlen(e->command) : 0;
	char *cmd;

	if (n == 0 || e->command[n - 1] != ')' || !strstr(e->command, " FROM STDIN ("))
		return 0;
	if (!(cmd = malloc(n + sizeof ", FREEZE")))
		return 0;
	memcpy(cmd, e->command, n - 1);
	memcpy(cmd + n - 1, ", FREEZE)", sizeof ", FREEZE)");
	free(e->command);
	e->command = cmd;
	return 1;
}

/* not_deferred: record why the index work is not deferred (a copy of why); 0 when out of memory. */
static int
not_deferred(bulkload *b, const char *why)
{
	free(b->not_deferred);
	return (b->not_deferred = strdup(why)) != NULL;
}

/*
 * set_work_mem: the rebuild's maintenance_work_mem, for the rest of the
 * transaction (set_config local), set before any data moves so that a value
 * the server refuses stops the load at once: --maintenance-work-mem exactly,
 * else 512MB unless the server's own setting is larger.  Index builds split
 * it among their parallel workers (max_parallel_maintenance_workers, the
 * server's).  Returns 1, or 0 with the error kept on e.
 */
static int
set_work_mem(copy_endpoint *e, const copy_opts *o)
{
	static const char sql[] =
		"SELECT pg_catalog.set_config('maintenance_work_mem', CASE WHEN $2::pg_catalog.bool"
		" OR pg_catalog.pg_size_bytes(pg_catalog.current_setting('maintenance_work_mem'))"
		"  < pg_catalog.pg_size_bytes($1) THEN $1"
		" ELSE pg_catalog.current_setting('maintenance_work_mem') END, true)";
	const char *params[2] = {o->maintenance_work_mem ? o->maintenance_work_mem : DEFAULT_WORK_MEM,
	                         o->maintenance_work_mem ? "true" : "false"};
	PGresult *res = PQexecParams(e->conns[0], sql, 2, NULL, params, NULL, NULL, 0);
	int ok = PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1;

	if (ok && !(e->bulk->work_mem = strdup(PQgetvalue(res, 0, 0)))) {
		keep_error(e, NULL, NULL);
		ok = 0;
	} else if (!ok) {
		const char *msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
		char *what = cli_strdup_printf("setting maintenance_work_mem to %s: %s", params[0],
		                               msg ? msg : PQerrorMessage(e->conns[0]));
		keep_error(e, what, PQresultErrorField(res, PG_DIAG_SQLSTATE));
		free(what);
	}
	PQclear(res);
	return ok;
}

int
bulkload_after_truncate(copy_endpoint *e, const copy_opts *o)
{
	bulkload *b = bulk_of(e);
	const char *qerr = NULL, *why = NULL;
	char err[1024], *qname = NULL;
	double t0 = bulkload_seconds();
	int ok = 0;

	if (!b)
		goto oom;
	b->replaced = 1;
	why = o->no_defer_indexes ? "--no-defer-indexes"
	      : o->jobs > 1 ? "--jobs: the streams load over several sessions" : NULL;
	if (why) {
		if (!not_deferred(b, why))
			goto oom;
		return 1;
	}
	if (!(qname = target_name(e, o, &qerr))) {
		char *what = cli_strdup_printf("bad table name: %s", qerr ? qerr : "out of memory");
		keep_error(e, what, NULL);
		free(what);
		return 0;
	}
	if (!defer_inspect(e->conns[0], qname, o->defer_foreign_keys, &b->def, err, sizeof err)
	    || !defer_drop(e->conns[0], b->def, err, sizeof err)) {
		keep_error(e, err, NULL);
		goto done;
	}
	if (b->def->reason && !not_deferred(b, b->def->reason))
		goto oom;
	if (b->def->nobjects && !set_work_mem(e, o))
		goto done;
	b->freeze = b->def->freeze && add_freeze(e);
	b->t_dropped = bulkload_seconds();
	b->drop_seconds = b->t_dropped - t0;
	ok = 1;
	goto done;
oom:
	keep_error(e, NULL, NULL);
done:
	free(qname);
	return ok;
}

/*
 * copied_columns: the plan's column names (borrowed from the plan), in a
 * malloc'd array of *n; NULL with *n 0 when there are none or out of memory.
 */
static const char **
copied_columns(const pgcm_plan *plan, size_t *n)
{
	size_t count = pgcm_plan_column_count(plan);
	const char **cols = count ? calloc(count, sizeof *cols) : NULL;

	*n = 0;
	for (size_t i = 0; cols && i < count; i++) {
		pgcm_plan_column_info info;
		if (pgcm_plan_column(plan, i, 0, &info) == PGCM_OK)
			cols[(*n)++] = info.name;
	}
	return cols;
}

/* lock_wait_ms: how long a sequence's lock is waited for: --stall-timeout (0: without limit). */
static int
lock_wait_ms(const copy_opts *o)
{
	double ms = o->stall_timeout * 1000.0;

	return ms >= (double) INT_MAX ? INT_MAX : ms > 0 && ms < 1 ? 1 : (int) ms;
}

/*
 * sync_sequences: move e's owned sequences forward to the source's, in its
 * load's transaction (sequences.c: transactional, so they move only if it
 * commits).  A query that failed on the target failed its transaction: the
 * target is faulted.  One that failed on the source only leaves a warning.
 */
static int
sync_sequences(copy_endpoint *e, const copy_opts *o, const copy_endpoint *src, const pgcm_plan *plan,
               cli_progress *prog)
{
	bulkload *b = bulk_of(e);
	const char *qerr = NULL, **cols;
	char err[1024], *qname;
	size_t ncols;
	int ok;

	if (!b || !(qname = target_name(e, o, &qerr))) {
		bulkload_fault(e, qerr ? qerr : "out of memory", NULL, prog);
		return 0;
	}
	cols = copied_columns(plan, &ncols);
	ok = (cols || !pgcm_plan_column_count(plan))
	     && seq_sync_owned(src->conns[0], pgcm_plan_source_table(plan), e->conns[0], qname, cols, ncols,
	                       lock_wait_ms(o), &b->seqs, &b->nseqs, err, sizeof err);
	if (!cols && pgcm_plan_column_count(plan))
		snprintf(err, sizeof err, "out of memory");
	free(cols);
	free(qname);
	b->seq_checked = ok;
	if (ok)
		return 1;
	if (PQtransactionStatus(e->conns[0]) == PQTRANS_INERROR || PQstatus(e->conns[0]) != CONNECTION_OK) {
		bulkload_fault(e, err, NULL, prog);
		return 0;
	}
	free(b->seq_warning);
	b->seq_warning = strdup(err);
	return 1;
}

/* is_loaded: e is a server target whose every stream completed. */
static int
is_loaded(const copy_endpoint *e, const copy_opts *o, int aborted)
{
	return !aborted && e->kind == EP_SERVER && !e->reported
	       && copy_target_state(e, o->jobs) == PGCM_RECEIVER_DONE;
}

/* rebuild_all: re-create, then check, what every loaded target deferred; 0 when one failed. */
static int
rebuild_all(copy_endpoint *dst, const copy_opts *o, int aborted, cli_progress *prog)
{
	copy_endpoint *targets[MAX_TARGETS];
	int failed[MAX_TARGETS] = {0}, n = 0, ok = 1;
	double t0 = bulkload_seconds();

	for (int i = 0; i < o->nto; i++) {
		bulkload *b = dst[i].bulk;
		if (!b || !b->def || !b->def->nobjects || !is_loaded(&dst[i], o, aborted))
			continue;
		b->load_seconds = t0 - b->t_dropped;
		targets[n++] = &dst[i];
	}
	if (n == 0)
		return ok;
	bulkload_rebuild(targets, n, failed, prog);
	for (int k = 0; k < n; k++) {
		copy_endpoint *e = targets[k];
		char err[2048];

		e->bulk->rebuild_seconds = bulkload_seconds() - t0;
		if (failed[k]) {
			ok = 0;
			continue;
		}
		if (!defer_verify(e->conns[0], e->bulk->def, err, sizeof err)) {
			bulkload_fault(e, err, NULL, prog);
			ok = 0;
			continue;
		}
		e->bulk->rebuilt = 1;
	}
	return ok;
}

int
bulkload_finish(copy_endpoint *dst, const copy_opts *o, const copy_endpoint *src, const pgcm_plan *plan,
                int aborted, cli_progress *prog)
{
	int ok = rebuild_all(dst, o, aborted, prog);
	double t = bulkload_seconds();

	for (int i = 0; i < o->nto; i++) {
		bulkload *b = dst[i].bulk;
		if (b && b->def && !b->load_seconds && b->t_dropped > 0)
			b->load_seconds = t - b->t_dropped;
	}
	/*
	 * The sequences move inside each target's transaction, after its rebuild
	 * (a target that faulted there is not loaded any more); under --on-fault
	 * abort a failure rolls every target back, so none is tried then.
	 */
	if (o->no_sequences || src->kind != EP_SERVER || !pgcm_plan_source_table(plan) || (!ok && o->on_fault_abort))
		return ok;
	for (int i = 0; i < o->nto && (ok || !o->on_fault_abort); i++)
		if (is_loaded(&dst[i], o, aborted) && !sync_sequences(&dst[i], o, src, plan, prog))
			ok = 0;
	return ok;
}

void
bulkload_free(copy_endpoint *e)
{
	bulkload *b = e->bulk;

	if (!b)
		return;
	defer_free(b->def);
	free(b->not_deferred);
	free(b->work_mem);
	seq_results_free(b->seqs, b->nseqs);
	free(b->seq_warning);
	free(b);
	e->bulk = NULL;
}
