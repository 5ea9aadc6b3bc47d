/*
 * copy_many.c: `pgcopyman copy` over many tables in one run (a selection
 * of -t patterns, -n, -T, -N; copy_tables.h).
 *
 * One point in time: the source is read in one REPEATABLE READ transaction,
 * which resolves the selection and plans every table; with --jobs every
 * other source session imports its snapshot, so every target receives the
 * same instant of every table.
 *
 * All or nothing per target: each target loads every table in one
 * transaction (with --jobs, one per lane, copy_lanes.c), in the order its
 * foreign keys allow (copy_tables.c), each table one pass of the source to
 * every target still loading.  A target that faults on a table loads no
 * further table and is rolled back; the others go on (--on-fault continue)
 * or the whole copy aborts (--on-fault abort).  The owned sequences of every
 * table move in the same transaction (sequences.h), and the end phase is
 * the one of a single table (copy_commit.c: constraints checked, then
 * COMMIT, or two-phase commit where sessions or targets must agree).
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "copy.h"
#include "copy_many.h"
#include "compare.h"
#include "bulkload.h"

/*
 * connect_all: every server, --jobs sessions each; the source's reads begun
 * (REPEATABLE READ, READ ONLY), the first exporting its snapshot and the
 * others importing it.  1, or 0 (printed).
 */
static int
connect_all(many_run *r)
{
	char *err = NULL, *snapshot = NULL;
	int ok;

	copy_classify(&r->src, r->o->from);
	for (int i = 0; i < r->o->nto; i++)
		copy_classify(&r->dst[i], r->o->to[i]);
	if (!copy_open_source(&r->src, r->o))
		return 0;
	for (int i = 0; i < r->o->nto; i++)
		if (!copy_open_target(&r->dst[i], r->o))
			return 0;
	/* Every source session reads under the first one's snapshot (exported, imported). */
	ok = compare_begin_source(r->src.conns[0], NULL, r->o->jobs > 1 ? &snapshot : NULL, &err);
	for (int j = 1; ok && j < r->o->jobs; j++)
		ok = compare_begin_source(r->src.conns[j], snapshot, NULL, &err);
	if (!ok)
		cli_error("source %s: cannot begin its read: %s", r->src.label, err ? err : "out of memory");
	free(err);
	free(snapshot);
	return ok;
}

/*
 * spread: --jobs: the tables spread over lanes by their estimated sizes
 * (copy_tables_lanes); the sessions no lane needs are closed.  The commit
 * sees the lanes as its jobs: with more than one, a target's sessions
 * commit together, in two phases.
 */
static void
spread(many_run *r)
{
	for (size_t k = 0; k < r->ct.n; k++) {
		uint64_t rows = 0, bytes = 0;
		copy_opts one = *r->o;
		one.table = r->ct.t[k].sel->qualified;
		one.jobs = 1;
		copy_estimate(r->ct.t[k].plan, &one, &r->src, &rows, &bytes);
		r->ct.t[k].estimate = bytes ? bytes : rows;
	}
	r->nlanes = r->o->jobs > 1 ? copy_tables_lanes(&r->ct, r->o->jobs) : 1;
	for (int j = r->nlanes; j < MAX_JOBS; j++) {
		for (int i = -1; i < r->o->nto; i++) {
			copy_endpoint *e = i < 0 ? &r->src : &r->dst[i];
			if (e->conns[j])
				PQfinish(e->conns[j]);
			e->conns[j] = NULL;
		}
	}
	r->common.jobs = r->nlanes;
	r->common.truncate = 0;  /* each lane empties its own tables: no session of its own to delete rows */
}

/* tables_label: the tables as the commit record names them: "s.t and 11 more tables" (malloc'd). */
static char *
tables_label(const copy_tables *ct)
{
	if (ct->n == 1)
		return strdup(ct->t[0].sel->qualified);
	return cli_strdup_printf("%s and %zu more table%s", ct->t[0].sel->qualified, ct->n - 1, ct->n == 2 ? "" : "s");
}

/*
 * begin_target: on each of target i's lane sessions: BEGIN, the cycles'
 * constraints deferred, and with --truncate the lane's tables emptied, in
 * one statement (tables that reference each other are in one lane, and are
 * emptied together; ONLY: an inheritance parent's children are tables of
 * their own).  1, or 0 (printed).
 */
static int
begin_target(many_run *r, int i)
{
	copy_endpoint *e = &r->dst[i];
	const char *what = "BEGIN";
	int ok = 1;

	for (int j = 0; ok && j < r->nlanes; j++) {
		cli_buf b;
		char *sql;
		int any = 0;

		what = "BEGIN";
		ok = copy_exec_on(e, e->conns[j], "BEGIN");
		if (ok && r->ct.deferred[i]) {
			what = "deferring the foreign keys of a cycle";
			ok = copy_exec_on(e, e->conns[j], r->ct.deferred[i]);
		}
		if (!ok || !r->o->truncate)
			continue;
		cli_buf_init(&b);
		cli_buf_add(&b, "TRUNCATE ");
		for (size_t t = 0; t < r->ct.n; t++)
			if (r->ct.t[t].lane == j)
				cli_buf_addf(&b, "%s%s%s", any++ ? ", " : "", r->ct.t[t].sel->relkind == 'p' ? "" : "ONLY ",
				             r->ct.t[t].sel->qualified);
		sql = cli_buf_take(&b);
		what = "TRUNCATE";
		ok = sql && copy_exec_on(e, e->conns[j], sql);
		free(sql);
	}
	if (!ok)
		cli_error("target %d (%s): %s failed: %s", i + 1, e->label, what, e->error ? e->error : "out of memory");
	return ok;
}

/*
 * plan_column_names: the plan's copied columns (borrowed names) in a
 * malloc'd array of *n; NULL with *n 0 when none or out of memory.
 */
static const char **
plan_column_names(const pgcm_plan *plan, size_t *n)
{
	size_t count = pgcm_plan_column_count(plan);
	const char **cols = count ? calloc(count, sizeof *cols) : NULL;
	pgcm_plan_column_info info;

	*n = 0;
	for (size_t i = 0; cols && i < count; i++)
		if (pgcm_plan_column(plan, i, 0, &info) == PGCM_OK)
			cols[(*n)++] = info.name;
	return cols;
}

/*
 * move_sequences: on every target still loading, each table's owned
 * sequences moved forward to the source's, in its transaction (they move
 * only if it commits).  A failure on the target fails the target.
 */
static void
move_sequences(many_run *r)
{
	for (int i = 0; i < r->o->nto; i++) {
		copy_endpoint *e = &r->dst[i];
		for (size_t k = 0; r->in[i] && k < r->ct.n; k++) {
			copy_table *t = &r->ct.t[k];
			table_outcome *at = &t->at[i];
			size_t ncols;
			const char **cols = plan_column_names(t->plan, &ncols);
			char err[1024];
			int ok = (cols || !pgcm_plan_column_count(t->plan))
			         && seq_sync_owned(r->src.conns[0], pgcm_plan_source_table(t->plan), e->conns[t->lane],
			                           pgcm_plan_source_table(t->plan), cols, ncols,
			                           r->o->stall_timeout > 0 ? (int) (r->o->stall_timeout * 1000) : 0,
			                           &at->seqs, &at->nseqs, err, sizeof err);
			if (!cols && pgcm_plan_column_count(t->plan))
				snprintf(err, sizeof err, "out of memory");
			free(cols);
			if (ok)
				continue;
			if (PQtransactionStatus(e->conns[t->lane]) == PQTRANS_INERROR
			    || PQstatus(e->conns[t->lane]) != CONNECTION_OK) {
				char *msg = cli_strdup_printf("moving the sequences of %s: %s", t->sel->qualified, err);
				bulkload_fault(e, msg ? msg : err, NULL, r->prog);
				free(msg);
				r->in[i] = 0;
			} else {
				free(at->seq_warning);
				at->seq_warning = strdup(err);
			}
		}
	}
}

/*
 * settle: the end phase of copy_commit.c over every target (a target's
 * receivers are its lanes' last tables', or the one it faulted on; each
 * session's rows those of all its tables), so that a target's rows are what
 * it committed; then each table's status on it follows the target's outcome.
 */
static void
settle(many_run *r)
{
	const char *reason = r->aborted ? (r->failure.reason ? r->failure.reason : "aborted") : NULL;
	uint64_t lane_rows[MAX_TARGETS][MAX_JOBS];

	/* Each session's rows are those of all its lane's tables, for the commit's count of what it committed. */
	memset(lane_rows, 0, sizeof lane_rows);
	for (int i = 0; i < r->o->nto; i++) {
		for (size_t k = 0; k < r->ct.n; k++)
			if (r->ct.t[k].at[i].status && strcmp(r->ct.t[k].at[i].status, "loaded") == 0)
				lane_rows[i][r->ct.t[k].lane] += r->ct.t[k].at[i].rows;
		r->dst[i].session_rows = lane_rows[i];
	}
	copy_settle_targets(&r->commit, r->dst, &r->common, r->aborted, reason);
	for (int i = 0; i < r->o->nto; i++)
		r->dst[i].session_rows = NULL;
	if (!r->aborted && r->commit.abort_reason) {
		r->aborted = 1;
		r->failure.reason = r->commit.abort_reason;
		r->failure.producer_error = NULL;
	}
	for (int i = 0; i < r->o->nto; i++) {
		copy_endpoint *e = &r->dst[i];
		int ok = strcmp(e->status, "ok") == 0, unknown = strcmp(e->status, "unknown") == 0;
		int partial = strcmp(e->status, "partial") == 0;

		for (size_t k = 0; k < r->ct.n; k++) {
			table_outcome *at = &r->ct.t[k].at[i];
			if (ok || unknown) {
				at->status = ok ? "ok" : "unknown";
			} else if (partial) {
				/* Some sessions committed, others were rolled back by someone else: which, the report cannot tell. */
				at->status = "unknown";
			} else if (r->faulted_at[i] == (long) k) {
				at->status = "faulted";
				at->rows = 0;
			} else {
				at->status = at->status ? "rolled back" : r->aborted ? "aborted" : "not loaded";
				at->rows = 0;
			}
		}
	}
}

/* verify: --verify: every table compared on every target that loaded, under the copy's snapshot. */
static int
verify(many_run *r)
{
	PGconn *conns[MAX_TARGETS];
	size_t which[MAX_TARGETS];
	compare_result *results = calloc((size_t) r->o->nto, sizeof *results);
	int n = 0, bad = 0;
	char *err = NULL;

	if (!results) {
		cli_error("out of memory");
		return r->o->nto;
	}
	for (int i = 0; i < r->o->nto; i++) {
		copy_endpoint *e = &r->dst[i];
		if (strcmp(e->status, "ok") != 0) {
			e->verify = "skipped";
			e->verify_message = strdup("the target did not load");
		} else if (!compare_begin_target(e->conns[0], &err)) {
			e->verify = "error";
			e->verify_message = err ? err : strdup("out of memory");
			err = NULL;
			bad++;
		} else {
			which[n] = (size_t) i;
			conns[n++] = e->conns[0];
			e->verify = "same";
		}
	}
	for (size_t k = 0; n > 0 && k < r->ct.n; k++) {
		copy_table *t = &r->ct.t[k];
		compare_request req = {.schema = t->sel->schema, .name = t->sel->name, .display = t->sel->qualified,
		                       .qualified = pgcm_plan_source_table(t->plan), .numbers = which,
		                       .stop = &cli_interrupted};

		(void) compare_table(r->src.conns[0], conns, (size_t) n, &req, results, NULL);
		for (int m = 0; m < n; m++) {
			copy_endpoint *e = &r->dst[which[m]];
			table_outcome *at = &t->at[which[m]];
			at->verify = compare_status_name(results[m].status);
			at->verify_message = strdup(results[m].message ? results[m].message : "");
			/* The target's verdict: its first table that is not the same. */
			if (results[m].status != COMPARE_SAME && strcmp(e->verify, "same") == 0) {
				e->verify = compare_status_name(results[m].status);
				e->verify_message = cli_strdup_printf("%s: %s", t->sel->qualified,
				                                      results[m].message ? results[m].message : "");
				bad++;
			}
			compare_result_clear(&results[m]);
		}
	}
	for (int m = 0; m < n; m++) {
		copy_endpoint *e = &r->dst[which[m]];
		if (strcmp(e->verify, "same") == 0)
			e->verify_message = cli_strdup_printf("%zu tables the same", r->ct.n);
		compare_end(e->conns[0]);
	}
	free(results);
	return bad;
}

/*
 * prepare: connect, select, order, plan: everything that can refuse the
 * run refuses it here, before any data moves; --dry-run shows the plans.
 * Returns -1 to go on, or the exit status.
 */
static int
prepare(many_run *r)
{
	long problems;
	int rc;

	if (!connect_all(r) || !copy_tables_select(&r->ct, &r->o->sel, r->src.conns[0], r->o->nto))
		return EXIT_FAILED;
	if (!copy_tables_order(&r->ct, r->dst, r->o->nto))
		return EXIT_FAILED;
	if ((problems = copy_tables_plan(&r->ct, r->o, &r->src, r->dst)) < 0)
		return EXIT_FAILED;
	spread(r);
	if (!(r->label = tables_label(&r->ct))) {
		cli_error("out of memory");
		return EXIT_FAILED;
	}
	r->common.table = r->label;
	if (r->o->dry_run || (problems && r->o->json))
		copy_many_print_plans(&r->ct, r->o, &r->src, r->dst);
	if (problems) {
		copy_many_print_problems(&r->ct, !r->o->dry_run);
		return EXIT_FAILED;
	}
	/* The same database twice: every table would be loaded twice (one table's names tell). */
	if (!copy_refuse_duplicate_servers(r->dst, r->o->nto, r->ct.t[0].plan))
		return cli_usage_hint("copy");
	rc = copy_commit_prepare(&r->commit, r->dst, &r->common);
	if (rc || r->o->dry_run)
		return rc;
	return -1;
}

/* load: every target's transaction begun, then every table loaded in order, then the sequences. */
static void
load(many_run *r)
{
	uint64_t est_rows = 0, est_bytes = 0;
	enum cli_progress_mode mode = r->o->quiet ? PROGRESS_QUIET : r->o->progress == 2 ? PROGRESS_JSON
	                              : r->o->progress ? PROGRESS_PLAIN : PROGRESS_AUTO;

	for (size_t k = 0; k < r->ct.n; k++)
		est_bytes += r->ct.t[k].estimate;
	r->prog = cli_progress_new(stderr, mode, est_rows, est_bytes, r->o->nto);
	for (int i = 0; i < r->o->nto; i++) {
		r->faulted_at[i] = -1;
		r->in[i] = 1;
	}
	copy_lanes_run(r);
	cli_progress_tables(r->prog, r->ct.n, r->ct.n, NULL);
	if (!r->aborted && !r->o->no_sequences)
		move_sequences(r);
	if (!r->aborted && r->o->on_fault_abort) {
		for (int i = 0; i < r->o->nto && !r->aborted; i++)
			if (r->dst[i].reported) {
				snprintf(r->why, sizeof r->why, "--on-fault abort: target %d faulted", i + 1);
				r->failure.reason = r->why;
				r->failure.producer_error = NULL;
				r->aborted = 1;
			}
	}
	cli_progress_finish(r->prog);
}

int
copy_many(copy_opts *o)
{
	many_run *r = calloc(1, sizeof *r);
	double t0 = bulkload_seconds();
	int rc, loaded = 0, unknown = 0, unverified = 0;

	if (!r) {
		cli_error("out of memory");
		return EXIT_FAILED;
	}
	r->o = o;
	r->common = *o;
	r->commit.lock_fd = -1;
	cli_catch_signals();
	if ((rc = prepare(r)) >= 0)
		goto cleanup;
	rc = EXIT_FAILED;
	if (!(r->copies = calloc(r->ct.n, sizeof *r->copies))) {
		cli_error("out of memory");
		goto cleanup;
	}
	for (int i = 0; i < o->nto; i++)
		if (!begin_target(r, i))
			goto cleanup;
	load(r);
	settle(r);
	for (int i = 0; i < o->nto; i++) {
		loaded += strcmp(r->dst[i].status, "ok") == 0;
		unknown += strcmp(r->dst[i].status, "unknown") == 0;
	}
	if (o->verify && !r->aborted && (unverified = verify(r)) > 0)
		cli_error("--verify: %d target%s not the same as the source", unverified, unverified == 1 ? " is" : "s are");
	if (r->aborted) {
		const char *reason = r->failure.reason ? r->failure.reason : "aborted";
		const char *perr = r->failure.producer_error;
		int show = perr && !strstr(reason, perr);
		cli_error("copy aborted: %s%s%s", reason, show ? ": " : "", show ? perr : "");
	}
	if (o->json)
		copy_many_print_json(&r->ct, &r->common, bulkload_seconds() - t0, r->dst, r->aborted, r->failure.reason,
		                     r->failure.producer_error);
	if (!o->quiet && !o->json)
		copy_many_print_summary(&r->ct, &r->common, bulkload_seconds() - t0, r->dst);
	rc = unknown ? EXIT_UNKNOWN : loaded == o->nto ? EXIT_LOADED : loaded > 0 ? EXIT_PARTIAL : EXIT_FAILED;
	if (rc == EXIT_LOADED && unverified > 0)
		rc = EXIT_VERIFY;

cleanup:
	/* The failure's strings live in the copies: freed after the report. */
	for (size_t k = 0; r->copies && k < r->ct.n; k++)
		pgcm_copy_free(r->copies[k]);
	free(r->copies);
	cli_progress_free(r->prog);
	copy_tables_free(&r->ct);
	copy_endpoint_close(&r->src);
	for (int i = 0; i < o->nto; i++)
		copy_endpoint_close(&r->dst[i]);
	copy_commit_free(&r->commit);
	free(r->label);
	free(r);
	return rc;
}
