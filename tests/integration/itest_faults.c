/*
 * itest_faults.c: faults, reconciliation and aborts with real faults:
 * terminated backends, closed sockets, rejected rows, stopped backends,
 * failing callbacks.  After every scenario each surviving connection answers
 * SELECT 1, and every target holds all the rows or none.
 *
 * Clusters: 1 is the source; 2 and 3 are targets.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "util.h"
#include "pgcopyman.h"

#define ROWS 30000

typedef it_world world;

/* The tests kill connections and leave transactions open: the teardown copes. */
IT_WORLD_FIXTURE(2, ROWS, IT_LENIENT)

/* new_copy: t from the source to t on the first n targets, each inside BEGIN. */
static pgcm_copy *
new_copy(world *w, int n, int in_transaction)
{
	pgcm_copy *c = pgcm_copy_new(pgcm_producer_pg(w->src, "COPY t TO STDOUT"));

	assert_non_null(c);
	assert_int_equal(pgcm_copy_set_window(c, 32 * 1024, 4), PGCM_OK);
	for (int i = 0; i < n; i++) {
		if (in_transaction)
			it_exec(w->dst[i], "BEGIN");
		assert_int_equal(pgcm_copy_add(c, pgcm_receiver_pg(w->dst[i], "COPY t FROM STDIN")), PGCM_OK);
	}
	return c;
}

/*
 * after_abort: the caller's transactions are in a state they can roll back;
 * then nothing is there, and the connections answer.
 */
static void
after_abort(world *w, int n)
{
	it_assert_usable(w->src);
	for (int i = 0; i < n; i++) {
		if (PQstatus(w->dst[i]) != CONNECTION_OK)
			continue;
		assert_int_not_equal(PQtransactionStatus(w->dst[i]), PQTRANS_ACTIVE);
		if (PQtransactionStatus(w->dst[i]) != PQTRANS_IDLE)
			it_exec(w->dst[i], "ROLLBACK");
		it_assert_usable(w->dst[i]);
		assert_int_equal(it_count(w->dst[i], "t"), 0);
	}
}

static void
test_leave_after_first_cycle(void **state)
{
	world *w = *state;
	pgcm_copy *c = new_copy(w, 2, 1);
	pgcm_failure f;
	pgcm_progress p;

	assert_int_equal(pgcm_copy_next(c, &p), PGCM_OK);
	assert_true(p.rows > 0);
	assert_int_equal(pgcm_copy_finish(c, &f), PGCM_ERR_ABORTED);
	assert_string_equal(f.reason, "copy finished before completion");
	assert_null(f.producer_error);
	assert_int_equal(pgcm_receiver_get_state(pgcm_copy_receiver(c, 0)), PGCM_RECEIVER_ABORTED);
	/* The failed COPY left each caller's transaction failed, not busy. */
	assert_int_equal(PQtransactionStatus(w->dst[0]), PQTRANS_INERROR);
	pgcm_copy_free(c);
	after_abort(w, 2);
}

static void
test_caller_error_in_the_middle(void **state)
{
	world *w = *state;
	pgcm_copy *c = new_copy(w, 2, 1);
	pgcm_failure f;

	for (int i = 0; i < 3; i++)
		assert_int_equal(pgcm_copy_next(c, NULL), PGCM_OK);
	assert_int_equal(pgcm_copy_abort(c, "the caller raised an error"), PGCM_ERR_ABORTED);
	assert_int_equal(pgcm_copy_abort(c, "twice"), PGCM_ERR_STATE);
	assert_int_equal(pgcm_copy_next(c, NULL), PGCM_ERR_ABORTED);
	assert_int_equal(pgcm_copy_finish(c, &f), PGCM_ERR_ABORTED);
	assert_string_equal(f.reason, "the caller raised an error");
	pgcm_copy_free(c);
	after_abort(w, 2);
}

static void
test_abort_before_first_cycle(void **state)
{
	world *w = *state;
	pgcm_copy *c = new_copy(w, 2, 1);
	pgcm_failure f;

	/* Never started: nothing was sent anywhere. */
	assert_int_equal(pgcm_copy_finish(c, &f), PGCM_ERR_ABORTED);
	assert_string_equal(f.reason, "copy finished before it started");
	pgcm_copy_free(c);
	assert_int_equal(PQtransactionStatus(w->dst[0]), PQTRANS_INTRANS);
	it_exec(w->dst[0], "ROLLBACK");
	it_exec(w->dst[1], "ROLLBACK");

	/* Started, every COPY in flight, then aborted before any cycle. */
	c = new_copy(w, 2, 1);
	assert_int_equal(pgcm_copy_start(c), PGCM_OK);
	assert_int_equal(pgcm_copy_abort(c, "changed my mind"), PGCM_ERR_ABORTED);
	assert_int_equal(pgcm_copy_finish(c, &f), PGCM_ERR_ABORTED);
	assert_string_equal(f.reason, "changed my mind");
	pgcm_copy_free(c);
	after_abort(w, 2);
}

static void
test_one_target_socket_closed(void **state)
{
	world *w = *state;
	pgcm_copy *c = new_copy(w, 2, 0);
	pgcm_fault faults[2];
	pgcm_failure f;
	pgcm_status st;
	char *want, *got;
	int cycles = 0, faulted = 0;

	while ((st = pgcm_copy_next(c, NULL)) == PGCM_OK || st == PGCM_FAULT) {
		if (st == PGCM_FAULT) {
			assert_int_equal(pgcm_copy_faults(c, faults, 2), 1);
			assert_int_equal(faults[0].index, 0);
			assert_int_equal(faults[0].status, PGCM_ERR_CONNECTION);
			assert_int_equal(faults[0].reconcilable, 0);
			assert_int_equal(pgcm_copy_reconcile(c, faults[0].receiver), PGCM_ERR_REFUSED);
			assert_non_null(strstr(pgcm_copy_errmsg(c), "cannot be reconciled"));
			faulted++;
		}
		if (++cycles == 2)
			shutdown(PQsocket(w->dst[0]), SHUT_RDWR);
	}
	assert_int_equal(st, PGCM_DONE);
	assert_int_equal(faulted, 1);
	assert_int_equal(pgcm_copy_finish(c, &f), PGCM_FAULT);
	assert_int_equal(f.nfaults, 1);
	assert_int_equal(pgcm_receiver_get_state(pgcm_copy_receiver(c, 1)), PGCM_RECEIVER_DONE);
	pgcm_copy_free(c);
	/* The other target completed exactly; the closed one is reported dead. */
	want = it_table_checksum(w->src, "t");
	got = it_table_checksum(w->dst[1], "t");
	assert_string_equal(got, want);
	free(want);
	free(got);
	assert_int_equal(PQstatus(w->dst[0]), CONNECTION_BAD);
	PQfinish(w->dst[0]);
	w->dst[0] = it_connect(2);
	assert_int_equal(it_count(w->dst[0], "t"), 0);
}

static void
test_only_target_lost(void **state)
{
	world *w = *state;
	pgcm_copy *c = new_copy(w, 1, 0);
	pgcm_failure f;
	pgcm_status st;
	int cycles = 0;

	while ((st = pgcm_copy_next(c, NULL)) == PGCM_OK)
		if (++cycles == 2)
			it_terminate(2, it_backend_pid(w->dst[0]));
	assert_int_equal(st, PGCM_FAULT);
	assert_int_equal(pgcm_copy_next(c, NULL), PGCM_ERR_NO_RECEIVERS);
	assert_int_equal(pgcm_copy_finish(c, &f), PGCM_ERR_NO_RECEIVERS);
	assert_string_equal(f.reason, "no receiver is left");
	assert_int_equal(f.nfaults, 1);
	assert_non_null(strstr(f.faults[0].message, "receiver 1"));
	pgcm_copy_free(c);
	it_assert_usable(w->src);
	PQfinish(w->dst[0]);
	w->dst[0] = it_connect(2);
	assert_int_equal(it_count(w->dst[0], "t"), 0);
}

/* A callback receiver whose writes fail on demand; it keeps what it took. */
typedef struct flaky {
	char *data;
	size_t len;
	size_t cap;
	int calls;
	int fail_on;    /* fail the call with this number (1-based), once */
} flaky;

static int
flaky_write(void *arg, const char *buf, size_t len)
{
	flaky *f = arg;

	if (++f->calls == f->fail_on)
		return -1;
	if (f->len + len > f->cap) {
		f->cap = (f->len + len) * 2;
		f->data = realloc(f->data, f->cap);
		assert_non_null(f->data);
	}
	memcpy(f->data + f->len, buf, len);
	f->len += len;
	return 0;
}

static void
test_reconciled_after_write_failure(void **state)
{
	world *w = *state;
	flaky sink = {.fail_on = 3}, ref = {0};
	pgcm_copy *c = pgcm_copy_new(pgcm_producer_pg(w->src, "COPY t TO STDOUT"));
	pgcm_fault fault;
	pgcm_status st;
	int reconciled = 0;

	pgcm_copy_set_window(c, 16 * 1024, 4);
	pgcm_copy_add(c, pgcm_receiver_fn(flaky_write, &sink));
	pgcm_copy_add(c, pgcm_receiver_fn(flaky_write, &ref));
	while ((st = pgcm_copy_next(c, NULL)) == PGCM_OK || st == PGCM_FAULT) {
		if (st == PGCM_FAULT) {
			assert_int_equal(pgcm_copy_faults(c, &fault, 1), 1);
			assert_int_equal(fault.status, PGCM_ERR_CALLBACK);
			assert_int_equal(fault.reconcilable, 1);
			assert_int_equal(pgcm_receiver_get_state(fault.receiver), PGCM_RECEIVER_FAULTED);
			assert_int_equal(pgcm_copy_reconcile(c, fault.receiver), PGCM_OK);
			assert_int_equal(pgcm_copy_reconcile(c, fault.receiver), PGCM_ERR_STATE);
			reconciled++;
		}
	}
	assert_int_equal(st, PGCM_DONE);
	assert_int_equal(reconciled, 1);
	assert_int_equal(pgcm_copy_finish(c, NULL), PGCM_OK);
	/* Every row exactly once: the same bytes as a receiver that never failed. */
	assert_int_equal(sink.len, ref.len);
	assert_memory_equal(sink.data, ref.data, ref.len);
	assert_int_equal(pgcm_receiver_rows(pgcm_copy_receiver(c, 0)), ROWS);
	pgcm_copy_free(c);
	free(sink.data);
	free(ref.data);
}

static void
test_target_dropped_without_reconcile(void **state)
{
	world *w = *state;
	flaky sink = {.fail_on = 2};
	pgcm_copy *c = pgcm_copy_new(pgcm_producer_pg(w->src, "COPY t TO STDOUT"));
	pgcm_failure f;
	pgcm_status st;
	int faults = 0;

	pgcm_copy_set_window(c, 16 * 1024, 4);
	pgcm_copy_add(c, pgcm_receiver_fn(flaky_write, &sink));
	pgcm_copy_add(c, pgcm_receiver_pg(w->dst[0], "COPY t FROM STDIN"));
	while ((st = pgcm_copy_next(c, NULL)) == PGCM_OK || st == PGCM_FAULT)
		faults += st == PGCM_FAULT;
	assert_int_equal(st, PGCM_DONE);
	assert_int_equal(faults, 1);
	assert_int_equal(pgcm_receiver_get_state(pgcm_copy_receiver(c, 0)), PGCM_RECEIVER_DROPPED);
	assert_int_equal(pgcm_copy_finish(c, &f), PGCM_FAULT);
	assert_int_equal(f.nfaults, 1);
	assert_non_null(strstr(f.faults[0].message, "write callback failed"));
	pgcm_copy_free(c);
	assert_int_equal(it_count(w->dst[0], "t"), ROWS);
	free(sink.data);
}

static void
test_source_terminated(void **state)
{
	world *w = *state;
	pgcm_copy *c = new_copy(w, 2, 1);
	pgcm_failure f;
	pgcm_status st;
	int cycles = 0;

	assert_int_equal(pgcm_producer_set_label(NULL, "x"), PGCM_ERR_ARG);
	while ((st = pgcm_copy_next(c, NULL)) == PGCM_OK)
		if (++cycles == 2)
			it_terminate(1, it_backend_pid(w->src));
	assert_int_equal(st, PGCM_ERR_PRODUCER);
	assert_int_equal(pgcm_copy_finish(c, &f), PGCM_ERR_PRODUCER);
	assert_non_null(f.producer_error);
	assert_non_null(strstr(f.reason, "producer failed"));
	assert_int_equal(pgcm_receiver_get_state(pgcm_copy_receiver(c, 0)), PGCM_RECEIVER_ABORTED);
	pgcm_copy_free(c);
	assert_int_equal(PQstatus(w->src), CONNECTION_BAD);
	PQfinish(w->src);
	w->src = it_connect(1);
	after_abort(w, 2);
}

static void
test_row_rejected_by_one_target(void **state)
{
	world *w = *state;
	pgcm_copy *c;
	pgcm_fault fault;
	pgcm_failure f;
	pgcm_status st;
	int faults = 0;

	it_exec(w->dst[0], "ALTER TABLE t ADD CONSTRAINT not_5000 CHECK (id <> 5000)");
	c = new_copy(w, 2, 1);
	while ((st = pgcm_copy_next(c, NULL)) == PGCM_OK || st == PGCM_FAULT) {
		if (st != PGCM_FAULT)
			continue;
		faults++;
		assert_int_equal(pgcm_copy_faults(c, &fault, 1), 1);
		assert_int_equal(fault.index, 0);
		assert_int_equal(fault.status, PGCM_ERR_SERVER);
		assert_string_equal(fault.sqlstate, "23514");
		assert_int_equal(fault.row, 5000);
		assert_non_null(strstr(fault.message, "row 5000"));
		assert_non_null(strstr(fault.message, "not_5000"));
		/* The server's DETAIL comes along: the failing row. */
		assert_non_null(strstr(fault.message, "DETAIL: Failing row contains (5000,"));
	}
	assert_int_equal(st, PGCM_DONE);
	assert_int_equal(faults, 1);
	assert_int_equal(pgcm_copy_finish(c, &f), PGCM_FAULT);
	pgcm_copy_free(c);
	it_exec(w->dst[1], "COMMIT");
	assert_int_equal(it_count(w->dst[1], "t"), ROWS);
	it_exec(w->dst[0], "ROLLBACK");
	assert_int_equal(it_count(w->dst[0], "t"), 0);
	it_exec(w->dst[0], "ALTER TABLE t DROP CONSTRAINT not_5000");
}

static void
test_stalled_target(void **state)
{
	world *w = *state;
	pgcm_copy *c = new_copy(w, 2, 1);
	int pid = it_backend_pid(w->dst[0]);
	pgcm_fault fault;
	pgcm_status st;
	int faults = 0, cycles = 0;

	pgcm_copy_set_stall_timeout(c, 1500);
	pgcm_copy_set_drain_timeout(c, 1000);
	while ((st = pgcm_copy_next(c, NULL)) == PGCM_OK || st == PGCM_FAULT) {
		if (++cycles == 1)
			it_signal_backend(pid, SIGSTOP);
		if (st == PGCM_FAULT) {
			faults++;
			assert_int_equal(pgcm_copy_faults(c, &fault, 1), 1);
			assert_int_equal(fault.index, 0);
			assert_int_equal(fault.status, PGCM_ERR_TIMEOUT);
			assert_non_null(strstr(fault.message, "stall timeout"));
		}
	}
	assert_int_equal(st, PGCM_DONE);
	assert_int_equal(faults, 1);
	assert_int_equal(pgcm_copy_finish(c, NULL), PGCM_FAULT);
	pgcm_copy_free(c);
	it_signal_backend(pid, SIGCONT);
	it_exec(w->dst[1], "COMMIT");
	assert_int_equal(it_count(w->dst[1], "t"), ROWS);
	/* The stalled one did not settle in time: its connection was shut down, never half-loaded. */
	if (PQstatus(w->dst[0]) == CONNECTION_OK) {
		it_exec(w->dst[0], "ROLLBACK");
	} else {
		PQfinish(w->dst[0]);
		w->dst[0] = it_connect(2);
	}
	assert_int_equal(it_count(w->dst[0], "t"), 0);
}

static void
test_cancel_during_10mb_row(void **state)
{
	world *w = *state;
	pgcm_copy *c;
	pgcm_progress p;
	char *v;

	it_exec(w->src, "TRUNCATE t; INSERT INTO t (id, s) SELECT g, repeat(md5(g::text), 10 * 1024 * 1024 / 32) "
	                "FROM generate_series(1, 6) g");
	c = new_copy(w, 1, 1);
	pgcm_copy_set_window(c, 1024, 1);
	assert_int_equal(pgcm_copy_next(c, &p), PGCM_OK);
	assert_int_equal(p.rows, 1);
	assert_int_equal(pgcm_copy_abort(c, "cancel mid-row"), PGCM_ERR_ABORTED);
	pgcm_copy_free(c);
	/* No cancel may hit the caller's next statement. */
	v = it_scalar(w->src, "SELECT pg_sleep(0.3)::text || 'done'");
	assert_string_equal(v, "done");
	free(v);
	after_abort(w, 1);
}

/* abort_at: abort after a given point; every target has all rows or none. */
static void
abort_at(world *w, int in_transaction, int point)
{
	pgcm_copy *c = new_copy(w, 2, in_transaction);
	pgcm_status st = PGCM_OK;

	if (point == 0) {
		assert_int_equal(pgcm_copy_start(c), PGCM_OK);
	} else if (point == 1) {
		for (int i = 0; i < 4; i++)
			assert_int_equal(pgcm_copy_next(c, NULL), PGCM_OK);
	} else {
		/* Until the last row was produced, but before the targets ended. */
		while (pgcm_copy_totals(c).rows < ROWS && (st = pgcm_copy_next(c, NULL)) == PGCM_OK)
			;
		assert_int_equal(pgcm_copy_totals(c).rows, ROWS);
	}
	if (st != PGCM_DONE) {
		pgcm_status a = pgcm_copy_abort(c, "abort test");
		/* After the last row the copy may already have completed: nothing left to abort. */
		if (!(point == 2 && a == PGCM_ERR_STATE))
			assert_int_equal(a, PGCM_ERR_ABORTED);
	}
	pgcm_copy_free(c);
	for (int i = 0; i < 2; i++) {
		long long n;
		if (PQtransactionStatus(w->dst[i]) != PQTRANS_IDLE)
			it_exec(w->dst[i], "ROLLBACK");
		it_assert_usable(w->dst[i]);
		n = it_count(w->dst[i], "t");
		assert_true(n == 0 || n == ROWS);
		if (in_transaction || point < 2)
			assert_int_equal(n, 0);
		it_exec(w->dst[i], "TRUNCATE t");
	}
	it_assert_usable(w->src);
}

static void
test_aborts_at_start_middle_and_last_row(void **state)
{
	world *w = *state;

	for (int tx = 0; tx < 2; tx++)
		for (int point = 0; point < 3; point++)
			abort_at(w, tx, point);
}

static void
test_caller_transactions_can_roll_back(void **state)
{
	world *w = *state;
	pgcm_copy *c;

	it_exec(w->src, "BEGIN ISOLATION LEVEL REPEATABLE READ");
	c = new_copy(w, 2, 1);
	assert_int_equal(pgcm_copy_next(c, NULL), PGCM_OK);
	assert_int_equal(pgcm_copy_abort(c, "stop"), PGCM_ERR_ABORTED);
	pgcm_copy_free(c);
	/* The source's COPY was cancelled inside the caller's transaction. */
	assert_int_equal(PQtransactionStatus(w->src), PQTRANS_INERROR);
	it_exec(w->src, "ROLLBACK");
	after_abort(w, 2);
}

static void
test_rejected_row_noticed_early(void **state)
{
	world *w = *state;
	pgcm_copy *c;
	pgcm_fault fault;
	pgcm_status st;
	uint64_t produced_at_fault = 0, total;

	it_exec(w->src, "INSERT INTO t (id, s) SELECT g, repeat('x', 200) FROM generate_series(%d, %d) g",
	        ROWS + 1, ROWS + 200000);
	total = (uint64_t) ROWS + 200000;
	it_exec(w->dst[0], "ALTER TABLE t ADD CONSTRAINT not_10 CHECK (id <> 10)");
	c = new_copy(w, 1, 1);
	pgcm_copy_set_window(c, 256 * 1024, 8);
	/* The COPY ends every 4 MiB at the latest, so the error is read by then. */
	pgcm_copy_set_segment_bytes(c, 4 << 20);
	while ((st = pgcm_copy_next(c, NULL)) == PGCM_OK)
		;
	assert_int_equal(st, PGCM_FAULT);
	produced_at_fault = pgcm_copy_totals(c).rows;
	assert_int_equal(pgcm_copy_faults(c, &fault, 1), 1);
	assert_int_equal(fault.row, 10);
	assert_true(produced_at_fault < total / 5);
	assert_int_equal(pgcm_copy_abort(c, "--on-fault abort"), PGCM_ERR_ABORTED);
	pgcm_copy_free(c);
	it_exec(w->dst[0], "ROLLBACK; ALTER TABLE t DROP CONSTRAINT not_10");
	after_abort(w, 1);
}

/* A callback that aborts the copy from inside a step. */
typedef struct aborter {
	pgcm_copy *copy;
	int calls;
	pgcm_status abort_status;
	pgcm_status step_status;
} aborter;

static int
aborting_write(void *arg, const char *buf, size_t len)
{
	aborter *a = arg;

	(void) buf;
	(void) len;
	if (++a->calls == 2) {
		a->abort_status = pgcm_copy_abort(a->copy, "aborted from a callback");
		/* Inside a step no other step or finish may run. */
		a->step_status = pgcm_copy_step(a->copy, NULL);
	}
	return 0;
}

static void
test_abort_from_callback_is_deferred(void **state)
{
	world *w = *state;
	aborter a = {0};
	pgcm_copy *c = pgcm_copy_new(pgcm_producer_pg(w->src, "COPY t TO STDOUT"));
	pgcm_failure f;
	pgcm_status st;

	a.copy = c;
	pgcm_copy_set_window(c, 16 * 1024, 2);
	pgcm_copy_add(c, pgcm_receiver_fn(aborting_write, &a));
	it_exec(w->dst[0], "BEGIN");
	pgcm_copy_add(c, pgcm_receiver_pg(w->dst[0], "COPY t FROM STDIN"));
	while ((st = pgcm_copy_next(c, NULL)) == PGCM_OK)
		;
	assert_int_equal(a.abort_status, PGCM_ERR_ABORTED);
	assert_int_equal(a.step_status, PGCM_ERR_STATE);
	assert_int_equal(st, PGCM_ERR_ABORTED);
	assert_int_equal(a.calls, 2);
	assert_int_equal(pgcm_copy_finish(c, &f), PGCM_ERR_ABORTED);
	assert_string_equal(f.reason, "aborted from a callback");
	pgcm_copy_free(c);
	after_abort(w, 1);
}

IT_GROUP(faults)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_leave_after_first_cycle, setup, teardown),
		cmocka_unit_test_setup_teardown(test_caller_error_in_the_middle, setup, teardown),
		cmocka_unit_test_setup_teardown(test_abort_before_first_cycle, setup, teardown),
		cmocka_unit_test_setup_teardown(test_one_target_socket_closed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_only_target_lost, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reconciled_after_write_failure, setup, teardown),
		cmocka_unit_test_setup_teardown(test_target_dropped_without_reconcile, setup, teardown),
		cmocka_unit_test_setup_teardown(test_source_terminated, setup, teardown),
		cmocka_unit_test_setup_teardown(test_row_rejected_by_one_target, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stalled_target, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cancel_during_10mb_row, setup, teardown),
		cmocka_unit_test_setup_teardown(test_aborts_at_start_middle_and_last_row, setup, teardown),
		cmocka_unit_test_setup_teardown(test_caller_transactions_can_roll_back, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rejected_row_noticed_early, setup, teardown),
		cmocka_unit_test_setup_teardown(test_abort_from_callback_is_deferred, setup, teardown),
	};
	return it_add_group("faults", tests, NULL, NULL);
}
