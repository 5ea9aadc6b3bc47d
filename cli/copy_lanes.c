/*
 * copy_lanes.c: the load of a run of many tables.  Each lane is one source
 * session (all under one snapshot) and one session of each target; it
 * copies its tables one after the other, each table one pass of the source
 * to every target; the lanes run at once, stepped in one poll() loop
 * through the library's external-loop API (as copy_run.c steps the streams
 * of one table, which cannot start new copies as tables end).
 *
 * Receiver i of every copy is target i: a target that faulted gets a
 * receiver that drops the data, so messages and the --on-fault abort name
 * the right target.  A target's receivers in dst[].receivers[lane] are
 * those of the lane's last table while it is still in, and stay at the one
 * that faulted after it is out, for the end phase (copy_commit.c) to judge.
 */
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "copy_many.h"
#include "bulkload.h"

/* One lane's state in the loop. */
typedef struct lane {
	pgcm_copy *copy;          /* its table now, or NULL */
	size_t table;             /* that table */
	size_t next;              /* where to look for its next table in the load order */
	pgcm_status st;
	double t0;
} lane;

/*
 * stop_point: a test hook: when PGCOPYMAN_TEST_STOP_AFTER_TABLE is n, the
 * command stops itself (SIGSTOP) once n tables are loaded, so that a test
 * can change the source at that moment and let it go on (SIGCONT).
 */
static void
stop_point(size_t done)
{
	const char *at = getenv("PGCOPYMAN_TEST_STOP_AFTER_TABLE");

	if (at && strtoul(at, NULL, 10) == done)
		raise(SIGSTOP);
}

/* is_over: the copy completed or was aborted; it needs no more steps. */
static int
is_over(pgcm_status st)
{
	return st != PGCM_OK && st != PGCM_AGAIN && st != PGCM_FAULT;
}

/* table_stream: table k's copy on lane j's sessions (the source's and each target's). */
static pgcm_copy *
table_stream(many_run *r, const copy_table *t, int j)
{
	pgcm_producer *producer = pgcm_producer_pg(r->src.conns[j], pgcm_plan_source_command(t->plan));
	pgcm_format fmt;
	pgcm_copy *copy;

	pgcm_plan_format(t->plan, &fmt);
	if (producer) {
		pgcm_producer_set_format(producer, &fmt);
		pgcm_producer_set_label(producer, "source");
	}
	if (!(copy = pgcm_copy_new(producer)))
		return NULL;
	pgcm_copy_set_stall_timeout(copy, (int) (r->o->stall_timeout * 1000));
	/* A self-reference is checked at the end of the COPY statement: one statement, never segments. */
	pgcm_copy_set_segment_bytes(copy, t->self_reference ? 0 : (uint64_t) r->o->segment_mb << 20);
	for (int i = 0; i < r->o->nto; i++) {
		copy_endpoint *e = &r->dst[i];
		pgcm_receiver *rc = r->in[i] ? pgcm_receiver_pg(e->conns[j], pgcm_plan_target_command(t->plan, (size_t) i))
		                             : pgcm_receiver_null();
		if (rc)
			pgcm_receiver_set_label(rc, e->label);
		if (r->in[i])
			e->receivers[j] = rc;
		if (pgcm_copy_add(copy, rc) != PGCM_OK) {
			pgcm_copy_free(copy);
			return NULL;
		}
	}
	return copy;
}

/* target_out: target i loads nothing more: it faulted on table k. */
static void
target_out(many_run *r, int i, size_t k)
{
	if (!r->in[i])
		return;
	r->in[i] = 0;
	r->faulted_at[i] = (long) k;
	r->ct.t[k].at[i].status = "faulted";
}

/* faults_seen: the faults a step reported, shown at once; their targets are out. */
static void
faults_seen(many_run *r, const lane *l)
{
	pgcm_fault faults[MAX_TARGETS];
	size_t nf = pgcm_copy_faults(l->copy, faults, MAX_TARGETS);

	for (size_t f = 0; f < nf && f < MAX_TARGETS; f++) {
		copy_record_fault(r->dst, r->o->nto, &faults[f], r->prog);
		target_out(r, (int) faults[f].index, l->table);
	}
}

/*
 * finish_table: lane l's table is over: its faults recorded, what the
 * source sent, and on each target still in, its rows.  0 when the copy as
 * a whole failed (its failure kept, if it is the first).
 */
static int
finish_table(many_run *r, lane *l)
{
	copy_table *t = &r->ct.t[l->table];
	pgcm_failure failure;
	pgcm_status st = pgcm_copy_finish(l->copy, &failure);
	pgcm_progress done = pgcm_copy_totals(l->copy);

	for (size_t f = 0; f < failure.nfaults; f++) {
		copy_record_fault(r->dst, r->o->nto, &failure.faults[f], r->prog);
		target_out(r, (int) failure.faults[f].index, l->table);
	}
	t->rows = done.rows;
	t->bytes = done.bytes;
	t->seconds = bulkload_seconds() - l->t0;
	for (int i = 0; i < r->o->nto && (st == PGCM_OK || st == PGCM_FAULT); i++) {
		pgcm_receiver *rc = pgcm_copy_receiver(l->copy, (size_t) i);
		if (!r->in[i])
			continue;
		if (pgcm_receiver_get_state(rc) == PGCM_RECEIVER_DONE && !r->dst[i].reported) {
			t->at[i].status = "loaded";
			t->at[i].rows = pgcm_receiver_rows(rc);
			t->streamed = 1;
		} else {
			target_out(r, i, l->table);
		}
	}
	if (st == PGCM_OK || st == PGCM_FAULT)
		return 1;
	if (!r->failure.reason) {
		r->failure = failure;
		if (!r->failure.reason)
			r->failure.reason = "aborted";
	}
	return 0;
}

/* abort_lanes: every lane's running copy aborted, for reason; the loop settles them. */
static void
abort_lanes(many_run *r, lane *lanes, const char *reason)
{
	if (r->aborted)
		return;
	r->aborted = 1;
	snprintf(r->why, sizeof r->why, "%s", reason);
	r->failure.reason = r->why;
	for (int j = 0; j < r->nlanes; j++)
		if (lanes[j].copy && !is_over(lanes[j].st))
			(void) pgcm_copy_abort_start(lanes[j].copy, r->why);
}

/* abort_on_fault: --on-fault abort, once a target is out: every lane aborted, naming it. */
static void
abort_on_fault(many_run *r, lane *lanes)
{
	char reason[64];

	for (int i = 0; r->o->on_fault_abort && !r->aborted && i < r->o->nto; i++)
		if (!r->in[i]) {
			snprintf(reason, sizeof reason, "--on-fault abort: target %d faulted", i + 1);
			abort_lanes(r, lanes, reason);
		}
}

/*
 * start_next: lane j's next table, if any and if the copy goes on and some
 * target still loads.  Returns 1 when one started.
 */
static int
start_next(many_run *r, lane *lanes, int j, size_t done)
{
	lane *l = &lanes[j];
	int any = 0;
	cli_buf b;
	char *now;

	for (int i = 0; i < r->o->nto; i++)
		any |= r->in[i];
	while (l->next < r->ct.n && r->ct.t[l->next].lane != j)
		l->next++;
	if (r->aborted || !any || l->next >= r->ct.n)
		return 0;
	l->table = l->next++;
	l->t0 = bulkload_seconds();
	l->st = PGCM_OK;
	if (!(l->copy = r->copies[l->table] = table_stream(r, &r->ct.t[l->table], j))) {
		abort_lanes(r, lanes, "out of memory");
		return 0;
	}
	/* The progress line: tables done of the total, and the ones being copied. */
	cli_buf_init(&b);
	for (int k = 0; k < r->nlanes; k++)
		if (lanes[k].copy && (k == j || !is_over(lanes[k].st)))
			cli_buf_addf(&b, "%s%s", b.len ? ", " : "", r->ct.t[lanes[k].table].sel->qualified);
	now = cli_buf_take(&b);
	cli_progress_tables(r->prog, done, r->ct.n, now);
	free(now);
	return 1;
}

/*
 * show_progress: the rows and bytes of every table so far, how many targets
 * still load, and each target's state and rows (its tables loaded, and
 * those being loaded).
 */
static void
show_progress(many_run *r)
{
	uint64_t rows = 0, bytes = 0;
	int running = 0;

	for (size_t k = 0; k < r->ct.n; k++) {
		if (!r->copies[k])
			continue;
		rows += pgcm_copy_totals(r->copies[k]).rows;
		bytes += pgcm_copy_totals(r->copies[k]).bytes;
	}
	for (int i = 0; i < r->o->nto; i++) {
		uint64_t loaded = 0;
		for (size_t k = 0; r->in[i] && k < r->ct.n; k++) {
			const table_outcome *at = &r->ct.t[k].at[i];
			if (at->status)
				loaded += at->rows;
			else if (r->copies[k])
				loaded += pgcm_receiver_rows(pgcm_copy_receiver(r->copies[k], (size_t) i));
		}
		running += r->in[i];
		cli_progress_target(r->prog, i, r->in[i] ? "running" : "faulted", loaded, NULL);
	}
	cli_progress_update(r->prog, rows, bytes, running, r->o->nto - running, 0);
}

void
copy_lanes_run(many_run *r)
{
	lane lanes[MAX_JOBS];
	struct pollfd fds[MAX_JOBS * (MAX_TARGETS + 1)];
	size_t at[MAX_JOBS + 1] = {0}, done = 0;

	memset(lanes, 0, sizeof lanes);
	for (;;) {
		int live = 0, waiting = 1, timeout = 250;

		for (int j = 0; j < r->nlanes; j++) {
			lane *l = &lanes[j];
			if (!l->copy && start_next(r, lanes, j, done))
				memset(at, 0, sizeof at);  /* a new copy: no poll() results for it yet */
			if (!l->copy)
				continue;
			l->st = pgcm_copy_step_polled(l->copy, fds + at[j], at[j + 1] - at[j], NULL);
			if (l->st == PGCM_FAULT) {
				faults_seen(r, l);
				abort_on_fault(r, lanes);
			}
			if (is_over(l->st)) {
				if (!finish_table(r, l))
					abort_lanes(r, lanes, r->failure.reason);
				abort_on_fault(r, lanes);
				done++;
				l->copy = NULL;
				waiting = 0;
				stop_point(done);
				continue;
			}
			live++;
			if (l->st != PGCM_AGAIN)
				waiting = 0;
		}
		show_progress(r);
		if (cli_interrupted && !r->aborted)
			abort_lanes(r, lanes, cli_interrupted == SIGINT ? "interrupted by SIGINT" : "interrupted by SIGTERM");
		if (!live && !waiting)
			continue;  /* a lane ended: start its next table at once */
		if (!live)
			break;
		memset(at, 0, sizeof at);
		if (!waiting)
			continue;
		for (int j = 0; j < r->nlanes; j++) {
			int t = lanes[j].copy ? pgcm_copy_timeout_ms(lanes[j].copy) : -1;
			at[j + 1] = at[j];
			if (!lanes[j].copy)
				continue;
			at[j + 1] += pgcm_copy_pollfds(lanes[j].copy, fds + at[j], sizeof fds / sizeof fds[0] - at[j]);
			if (t >= 0 && t < timeout)
				timeout = t;
		}
		if (poll(fds, (nfds_t) at[r->nlanes], timeout) < 0)
			memset(at, 0, sizeof at);
	}
}
