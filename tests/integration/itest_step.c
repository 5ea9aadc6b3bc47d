/*
 * itest_step.c: pgcm_copy_step() never blocks, faults and aborts included.
 * Each test drives copies from an external poll() loop (the library's
 * descriptors and timeout, pgcm_copy_step_polled) through a real fault or
 * abort, times every step, and fails if one took longer than STEP_LIMIT_MS
 * (a generous bound on a loaded machine; a step that waited for a drain took
 * seconds before).  The longest step is printed.  Afterwards every
 * connection that was not killed is usable and nothing was committed.
 *
 * Clusters: 1 is the source; 2, 3 and 4 are targets.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "util.h"
#include "pgcopyman.h"

#define ROWS 30000
#define STEP_LIMIT_MS 50.0
#define MAX_COPIES 3

typedef it_world world;

IT_WORLD_FIXTURE(3, ROWS, IT_LENIENT)

/* What a loop saw: the longest step and how many steps it took. */
typedef struct loop_stats {
	double max_ms;
	long steps;
	pgcm_status worst_status;   /* what the longest step returned */
} loop_stats;

/*
 * A hook runs after each step of copy j, with what it returned: it injects
 * the fault or the abort of the scenario.
 */
typedef void (*hook_fn)(void *arg, pgcm_copy *const *copies, const pgcm_status *st, int j);

static int
is_over(pgcm_status st)
{
	return st != PGCM_OK && st != PGCM_AGAIN && st != PGCM_FAULT;
}

/*
 * drive: step n copies in one external loop until each has ended: one
 * poll() over all their descriptors, then pgcm_copy_step_polled() on each
 * with its own part of the revents.  Every step is timed.
 */
static void
drive(pgcm_copy *const *copies, pgcm_status *st, int n, hook_fn hook, void *arg, loop_stats *stats)
{
	struct pollfd fds[64];
	size_t at[MAX_COPIES + 1] = {0};
	double give_up = it_now_ms() + 120000;
	int live = n;

	memset(stats, 0, sizeof *stats);
	for (int j = 0; j < n; j++)
		st[j] = PGCM_OK;
	while (live > 0) {
		int timeout = 250;

		live = 0;
		for (int j = 0; j < n; j++) {
			double t0;
			if (is_over(st[j]))
				continue;
			t0 = it_now_ms();
			st[j] = pgcm_copy_step_polled(copies[j], fds + at[j], at[j + 1] - at[j], NULL);
			t0 = it_now_ms() - t0;
			stats->steps++;
			if (t0 > stats->max_ms) {
				stats->max_ms = t0;
				stats->worst_status = st[j];
			}
			if (st[j] == PGCM_ERR_ARG) {
				print_error("step_polled refused its own descriptors: %s\n",
				            pgcm_copy_errmsg(copies[j]));
				fail();
			}
			if (hook)
				hook(arg, copies, st, j);
			if (!is_over(st[j]))
				live++;
		}
		memset(at, 0, sizeof at);
		for (int j = 0; j < n; j++) {
			int t = pgcm_copy_timeout_ms(copies[j]);
			at[j + 1] = at[j];
			if (is_over(st[j]))
				continue;
			at[j + 1] += pgcm_copy_pollfds(copies[j], fds + at[j], 64 - at[j]);
			assert_true(at[j + 1] <= 64);
			if (t >= 0 && t < timeout)
				timeout = t;
		}
		if (live)
			(void) poll(fds, (nfds_t) at[n], timeout);
		if (it_now_ms() > give_up) {
			print_error("the copies did not end within 120 s\n");
			fail();
		}
	}
}

/* check_steps: no step waited; say how long the longest took. */
static void
check_steps(const char *scenario, const loop_stats *s)
{
	printf("[ STEPS    ] %s: %ld steps, the longest %.2f ms (it returned %s)\n", scenario,
	       s->steps, s->max_ms, pgcm_strerror(s->worst_status));
	if (s->max_ms > STEP_LIMIT_MS) {
		print_error("%s: a step took %.1f ms (limit %.0f ms)\n", scenario, s->max_ms,
		            STEP_LIMIT_MS);
		fail();
	}
}

/* new_copy_to: t from src to table on each of dsts[0..n), each inside BEGIN. */
static pgcm_copy *
new_copy_to(PGconn *src, PGconn *const *dsts, int n, const char *table)
{
	pgcm_copy *c = pgcm_copy_new(pgcm_producer_pg(src, "COPY t TO STDOUT"));
	char cmd[64];

	assert_non_null(c);
	assert_int_equal(pgcm_copy_set_window(c, 32 * 1024, 4), PGCM_OK);
	snprintf(cmd, sizeof cmd, "COPY %s FROM STDIN", table);
	for (int i = 0; i < n; i++) {
		it_exec(dsts[i], "BEGIN");
		assert_int_equal(pgcm_copy_add(c, pgcm_receiver_pg(dsts[i], cmd)), PGCM_OK);
	}
	return c;
}

static pgcm_copy *
new_copy(PGconn *src, PGconn *const *dsts, int n)
{
	return new_copy_to(src, dsts, n, "t");
}

/* rolled_back_in: a target's transaction failed or is rolled back; nothing of table is there. */
static void
rolled_back_in(PGconn *conn, const char *table)
{
	if (PQtransactionStatus(conn) != PQTRANS_IDLE)
		it_exec(conn, "ROLLBACK");
	it_assert_usable(conn);
	assert_int_equal(it_count(conn, table), 0);
}

static void
rolled_back(PGconn *conn)
{
	rolled_back_in(conn, "t");
}

/* no_stray_cancel: no cancel request may hit the caller's next statement. */
static void
no_stray_cancel(PGconn *conn)
{
	char *v = it_scalar(conn, "SELECT pg_sleep(0.3)::text || 'done'");

	assert_string_equal(v, "done");
	free(v);
	it_assert_usable(conn);
}

/* A hook that does something once the copy moved at least `after` rows. */
typedef struct trigger {
	uint64_t after;
	int fired;
	void (*action)(struct trigger *t, pgcm_copy *const *copies, int j);
	world *w;
	int cluster;
	int pid;
	pgcm_status abort_status;
} trigger;

static void
when_rows(void *arg, pgcm_copy *const *copies, const pgcm_status *st, int j)
{
	trigger *t = arg;

	(void) st;
	if (!t->fired && pgcm_copy_totals(copies[j]).rows >= t->after) {
		t->fired = 1;
		t->action(t, copies, j);
	}
}

static void
terminate_backend(trigger *t, pgcm_copy *const *copies, int j)
{
	(void) copies;
	(void) j;
	it_terminate(t->cluster, t->pid);
}

static void
test_producer_killed(void **state)
{
	world *w = *state;
	pgcm_copy *c = new_copy(w->src, w->dst, 2);
	trigger t = {.after = 3000, .action = terminate_backend, .cluster = 1};
	pgcm_failure f;
	pgcm_status st;
	loop_stats s;

	t.pid = it_backend_pid(w->src);
	drive(&c, &st, 1, when_rows, &t, &s);
	assert_true(t.fired);
	assert_int_equal(st, PGCM_ERR_PRODUCER);
	check_steps("source backend terminated", &s);
	assert_int_equal(pgcm_copy_finish(c, &f), PGCM_ERR_PRODUCER);
	assert_non_null(f.producer_error);
	pgcm_copy_free(c);
	PQfinish(w->src);
	w->src = it_connect(1);
	rolled_back(w->dst[0]);
	rolled_back(w->dst[1]);
}

static void
test_only_target_killed(void **state)
{
	world *w = *state;
	pgcm_copy *c = new_copy(w->src, w->dst, 1);
	trigger t = {.after = 3000, .action = terminate_backend, .cluster = 2};
	pgcm_failure f;
	pgcm_status st;
	loop_stats s;

	t.pid = it_backend_pid(w->dst[0]);
	/* The abort cancels the source's COPY from inside a step: PQcancel is timed too. */
	drive(&c, &st, 1, when_rows, &t, &s);
	assert_true(t.fired);
	assert_int_equal(st, PGCM_ERR_NO_RECEIVERS);
	check_steps("the only target terminated", &s);
	assert_int_equal(pgcm_copy_finish(c, &f), PGCM_ERR_NO_RECEIVERS);
	assert_int_equal(f.nfaults, 1);
	pgcm_copy_free(c);
	no_stray_cancel(w->src);
	PQfinish(w->dst[0]);
	w->dst[0] = it_connect(2);
	assert_int_equal(it_count(w->dst[0], "t"), 0);
}

static void
abort_start(trigger *t, pgcm_copy *const *copies, int j)
{
	t->abort_status = pgcm_copy_abort_start(copies[j], "the caller stops");
}

static void
test_caller_abort(void **state)
{
	world *w = *state;
	pgcm_copy *c = new_copy(w->src, w->dst, 3);
	trigger t = {.after = 3000, .action = abort_start};
	pgcm_failure f;
	pgcm_status st;
	loop_stats s;

	drive(&c, &st, 1, when_rows, &t, &s);
	assert_true(t.fired);
	assert_int_equal(t.abort_status, PGCM_ERR_ABORTED);
	assert_int_equal(st, PGCM_ERR_ABORTED);
	check_steps("aborted by the caller", &s);
	/* It ended; a second abort says so. */
	assert_int_equal(pgcm_copy_abort_start(c, "again"), PGCM_ERR_STATE);
	assert_int_equal(pgcm_copy_finish(c, &f), PGCM_ERR_ABORTED);
	assert_string_equal(f.reason, "the caller stops");
	for (size_t i = 0; i < 3; i++)
		assert_int_equal(pgcm_receiver_get_state(pgcm_copy_receiver(c, i)), PGCM_RECEIVER_ABORTED);
	pgcm_copy_free(c);
	no_stray_cancel(w->src);
	for (int i = 0; i < 3; i++)
		rolled_back(w->dst[i]);
}

/* postmaster_pid: the pid of cluster i's postmaster (first line of postmaster.pid). */
static int
postmaster_pid(int cluster)
{
	char var[64], path[1024];
	const char *dir;
	char *text;
	int pid;

	snprintf(var, sizeof var, "PGCM_TEST_DATADIR_%d", cluster);
	dir = getenv(var);
	assert_non_null(dir);
	snprintf(path, sizeof path, "%s/postmaster.pid", dir);
	text = it_slurp(path);
	pid = atoi(text);
	free(text);
	assert_true(pid > 0);
	return pid;
}

static void
stop_postmaster_and_abort(trigger *t, pgcm_copy *const *copies, int j)
{
	it_signal_backend(t->pid, SIGSTOP);
	t->abort_status = pgcm_copy_abort_start(copies[j], "abort while the source's postmaster is stopped");
}

/*
 * A cancel request is answered by the source's postmaster.  Stopped, it never
 * answers (libpq 15's PQcancel would wait forever): the steps stay short, and
 * the source is shut down at the drain deadline instead of waiting, since a
 * cancel that arrives later could hit the caller's next statement.
 */
static void
test_abort_when_the_cancel_is_not_answered(void **state)
{
	world *w = *state;
	pgcm_copy *c = new_copy(w->src, w->dst, 2);
	trigger t = {.after = 3000, .action = stop_postmaster_and_abort};
	pgcm_failure f;
	pgcm_status st;
	loop_stats s;
	double t0 = it_now_ms();

	assert_int_equal(pgcm_copy_set_drain_timeout(c, 1500), PGCM_OK);
	t.pid = postmaster_pid(1);
	drive(&c, &st, 1, when_rows, &t, &s);
	it_signal_backend(t.pid, SIGCONT);
	assert_true(t.fired);
	assert_int_equal(t.abort_status, PGCM_ERR_ABORTED);
	assert_int_equal(st, PGCM_ERR_ABORTED);
	check_steps("the source's postmaster does not answer the cancel", &s);
	assert_true(it_now_ms() - t0 < 60000);
	assert_int_equal(pgcm_copy_finish(c, &f), PGCM_ERR_ABORTED);
	pgcm_copy_free(c);
	/* The source was shut down at the deadline; the targets rolled back. */
	assert_int_equal(PQstatus(w->src), CONNECTION_BAD);
	PQfinish(w->src);
	w->src = it_connect(1);
	no_stray_cancel(w->src);
	for (int i = 0; i < 2; i++)
		rolled_back(w->dst[i]);
}

static void
stop_and_abort(trigger *t, pgcm_copy *const *copies, int j)
{
	it_signal_backend(t->pid, SIGSTOP);
	t->abort_status = pgcm_copy_abort_start(copies[j], "abort while a target is stopped");
}

static void
test_abort_with_a_stopped_target(void **state)
{
	world *w = *state;
	pgcm_copy *c = new_copy(w->src, w->dst, 2);
	trigger t = {.after = 3000, .action = stop_and_abort};
	pgcm_status st;
	loop_stats s;
	double t0;

	/* A stopped target never answers its CopyFail: the abort gives it up at the drain deadline. */
	pgcm_copy_set_drain_timeout(c, 1500);
	t.pid = it_backend_pid(w->dst[0]);
	t0 = it_now_ms();
	drive(&c, &st, 1, when_rows, &t, &s);
	t0 = it_now_ms() - t0;
	it_signal_backend(t.pid, SIGCONT);
	assert_true(t.fired);
	assert_int_equal(st, PGCM_ERR_ABORTED);
	check_steps("abort with a SIGSTOPped target", &s);
	/* The loop went on for the drain timeout, in short steps. */
	assert_true(t0 >= 1400);
	pgcm_copy_free(c);
	no_stray_cancel(w->src);
	rolled_back(w->dst[1]);
	/* The stopped one was shut down: reconnect; it committed nothing. */
	if (PQstatus(w->dst[0]) == CONNECTION_OK)
		rolled_back(w->dst[0]);
	PQfinish(w->dst[0]);
	w->dst[0] = it_connect(2);
	assert_int_equal(it_count(w->dst[0], "t"), 0);
}

/* The --on-fault abort of several copies: the first fault anywhere aborts them all. */
typedef struct on_fault {
	int pid;          /* copy 0's first target, terminated after some rows */
	int killed;
	int aborted;
} on_fault;

static void
abort_all_on_fault(void *arg, pgcm_copy *const *copies, const pgcm_status *st, int j)
{
	on_fault *of = arg;

	if (!of->killed && j == 0 && pgcm_copy_totals(copies[0]).rows >= 3000) {
		of->killed = 1;
		it_terminate(2, of->pid);
	}
	if (st[j] == PGCM_FAULT && !of->aborted) {
		of->aborted = 1;
		for (int k = 0; k < MAX_COPIES; k++)
			if (!is_over(st[k]))
				(void) pgcm_copy_abort_start(copies[k], "--on-fault abort");
	}
}

static void
test_on_fault_abort_of_several_copies(void **state)
{
	world *w = *state;
	PGconn *src[MAX_COPIES], *dst[MAX_COPIES][2];
	pgcm_copy *copies[MAX_COPIES];
	pgcm_status st[MAX_COPIES];
	on_fault of = {0};
	loop_stats s;

	/* Each copy loads a table of its own: the same keys in one table would wait on each other. */
	for (int j = 0; j < MAX_COPIES; j++) {
		char table[16];
		snprintf(table, sizeof table, "t%d", j);
		it_create_mixed_table(w->dst[0], table);
		it_create_mixed_table(w->dst[1], table);
		src[j] = it_connect(1);
		dst[j][0] = it_connect(2);
		dst[j][1] = it_connect(3);
		copies[j] = new_copy_to(src[j], dst[j], 2, table);
	}
	of.pid = it_backend_pid(dst[0][0]);
	drive(copies, st, MAX_COPIES, abort_all_on_fault, &of, &s);
	assert_true(of.killed);
	assert_true(of.aborted);
	check_steps("--on-fault abort of three copies", &s);
	for (int j = 0; j < MAX_COPIES; j++) {
		char table[16];
		snprintf(table, sizeof table, "t%d", j);
		assert_int_equal(st[j], PGCM_ERR_ABORTED);
		pgcm_copy_free(copies[j]);
		no_stray_cancel(src[j]);
		PQfinish(src[j]);
		for (int i = 0; i < 2; i++) {
			if (j == 0 && i == 0) {
				assert_int_equal(PQstatus(dst[j][i]), CONNECTION_BAD);
			} else {
				assert_int_not_equal(PQtransactionStatus(dst[j][i]), PQTRANS_ACTIVE);
				rolled_back_in(dst[j][i], table);
			}
			PQfinish(dst[j][i]);
		}
	}
}

static void
test_step_polled_matches_descriptors(void **state)
{
	world *w = *state;
	pgcm_copy *c = new_copy(w->src, w->dst, 2);
	struct pollfd fds[8], rev[8], bogus[2];
	int p[2];
	size_t n;
	pgcm_status st;

	/* Step until the endpoints wait on their sockets (the COPY commands are out). */
	for (int i = 0; i < 100 && pgcm_copy_pollfds(c, fds, 8) < 2; i++) {
		st = pgcm_copy_step(c, NULL);
		assert_true(st == PGCM_OK || st == PGCM_AGAIN);
	}
	n = pgcm_copy_pollfds(c, fds, 8);
	assert_true(n >= 2 && n <= 8);
	(void) poll(fds, (nfds_t) n, 1000);
	/* Any order is fine: the descriptors say which endpoint is meant. */
	for (size_t i = 0; i < n; i++)
		rev[i] = fds[n - 1 - i];
	st = pgcm_copy_step_polled(c, rev, n, NULL);
	assert_true(st == PGCM_OK || st == PGCM_AGAIN);
	/* A descriptor that is none of the copy's is refused, with a message. */
	assert_int_equal(pipe(p), 0);
	n = pgcm_copy_pollfds(c, fds, 8);
	bogus[0] = fds[0];
	bogus[1].fd = p[0];
	bogus[1].events = POLLIN;
	bogus[1].revents = 0;
	assert_int_equal(pgcm_copy_step_polled(c, bogus, 2, NULL), PGCM_ERR_ARG);
	assert_non_null(strstr(pgcm_copy_errmsg(c), "not one of the copy's"));
	/* A negative descriptor is skipped, as poll() skips it. */
	bogus[1].fd = -1;
	st = pgcm_copy_step_polled(c, bogus, 2, NULL);
	assert_true(st == PGCM_OK || st == PGCM_AGAIN);
	close(p[0]);
	close(p[1]);
	assert_int_equal(pgcm_copy_abort(c, "done testing"), PGCM_ERR_ABORTED);
	pgcm_copy_free(c);
	no_stray_cancel(w->src);
	rolled_back(w->dst[0]);
	rolled_back(w->dst[1]);
}

IT_GROUP(step)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_producer_killed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_only_target_killed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_caller_abort, setup, teardown),
		cmocka_unit_test_setup_teardown(test_abort_with_a_stopped_target, setup, teardown),
		cmocka_unit_test_setup_teardown(test_abort_when_the_cancel_is_not_answered, setup, teardown),
		cmocka_unit_test_setup_teardown(test_on_fault_abort_of_several_copies, setup, teardown),
		cmocka_unit_test_setup_teardown(test_step_polled_matches_descriptors, setup, teardown),
	};

	return it_add_group("step", tests, NULL, NULL);
}
