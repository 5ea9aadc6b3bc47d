/*
 * itest_notify.c: the notifier and the listener against real servers
 * (tests/harness.sh -n 2).  Every wait is bounded: events are awaited with a
 * deadline through the non-blocking step and the poll descriptors.
 */
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util.h"
#include "pgcopyman.h"

/* ------------------------------------------------------------------------
 * Helpers
 * ------------------------------------------------------------------------ */

static int
second_cluster(void)
{
	return it_clusters() >= 2 ? 2 : 1;
}

/*
 * notifier_within: the notifier's next event, waiting at most ms.  Fails the
 * test when none comes in time (so no test can hang).
 */
static void
notifier_within(pgcm_notifier *n, pgcm_notify_event *ev, int ms)
{
	double deadline = it_now_ms() + ms;

	for (;;) {
		struct pollfd fds[16];
		size_t nfds;
		int t;
		pgcm_status st = pgcm_notifier_step(n, ev);

		if (st == PGCM_OK)
			return;
		if (st != PGCM_AGAIN) {
			print_error("notifier step: %s: %s\n", pgcm_strerror(st), pgcm_notifier_errmsg(n));
			fail();
		}
		if (it_now_ms() >= deadline) {
			print_error("no notifier event within %d ms\n", ms);
			fail();
		}
		nfds = pgcm_notifier_pollfds(n, fds, 16);
		assert_true(nfds <= 16);
		t = pgcm_notifier_timeout_ms(n);
		if (t < 0 || t > deadline - it_now_ms())
			t = (int) (deadline - it_now_ms());
		poll(fds, nfds, t < 0 ? 0 : t);
	}
}

/* listener_within: the listener's next event, waiting at most ms. */
static void
listener_within(pgcm_listener *l, pgcm_notify_event *ev, int ms)
{
	double deadline = it_now_ms() + ms;

	for (;;) {
		struct pollfd fd;
		size_t nfds;
		int t;
		pgcm_status st = pgcm_listener_step(l, ev);

		if (st == PGCM_OK)
			return;
		if (st != PGCM_AGAIN) {
			print_error("listener step: %s: %s\n", pgcm_strerror(st), pgcm_listener_errmsg(l));
			fail();
		}
		if (it_now_ms() >= deadline) {
			print_error("no listener event within %d ms (%s)\n", ms, pgcm_listener_errmsg(l));
			fail();
		}
		nfds = pgcm_listener_pollfds(l, &fd, 1);
		t = pgcm_listener_timeout_ms(l);
		if (t < 0 || t > deadline - it_now_ms())
			t = (int) (deadline - it_now_ms());
		poll(&fd, nfds, t < 0 ? 0 : t);
	}
}

/* listener_until_ready: step the listener until the server has every LISTEN. */
static void
listener_until_ready(pgcm_listener *l, int ms)
{
	double deadline = it_now_ms() + ms;

	while (!pgcm_listener_ready(l)) {
		pgcm_notify_event ev;
		struct pollfd fd;
		size_t nfds;
		pgcm_status st = pgcm_listener_step(l, &ev);

		if (st != PGCM_OK && st != PGCM_AGAIN) {
			print_error("listener step: %s: %s\n", pgcm_strerror(st), pgcm_listener_errmsg(l));
			fail();
		}
		/* Only idle events may be skipped while getting ready. */
		if (st == PGCM_OK)
			assert_int_equal(ev.kind, PGCM_NOTIFY_IDLE);
		if (it_now_ms() >= deadline) {
			print_error("listener not ready within %d ms (%s)\n", ms, pgcm_listener_errmsg(l));
			fail();
		}
		if (st == PGCM_AGAIN) {
			int t = pgcm_listener_timeout_ms(l);
			nfds = pgcm_listener_pollfds(l, &fd, 1);
			poll(&fd, nfds, t < 0 || t > 100 ? 100 : t);
		}
	}
}

/* A connection on cluster i that LISTENs on channel (quoted by the server's rules). */
static PGconn *
listening_conn(int cluster, const char *channel)
{
	PGconn *c = it_connect(cluster);
	char *q = PQescapeIdentifier(c, channel, strlen(channel));

	assert_non_null(q);
	it_exec(c, "LISTEN %s", q);
	PQfreemem(q);
	return c;
}

static void
send_notify(PGconn *c, const char *channel, const char *payload)
{
	const char *params[2] = {channel, payload};
	PGresult *res = PQexecParams(c, "SELECT pg_notify($1, $2)", 2, NULL, params, NULL, NULL, 0);

	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		print_error("pg_notify: %s", PQerrorMessage(c));
		PQclear(res);
		fail();
	}
	PQclear(res);
}

/* ------------------------------------------------------------------------
 * Notifier tests
 * ------------------------------------------------------------------------ */

/* NOTIFY inside a transaction arrives only after COMMIT, never after ROLLBACK. */
static void
test_transactional(void **state)
{
	PGconn *a = listening_conn(1, "tx");
	PGconn *b = it_connect(1);
	pgcm_notifier *n = pgcm_notifier_new();
	pgcm_notify_event ev;
	(void) state;

	assert_non_null(n);
	assert_int_equal(pgcm_notifier_add(n, a), PGCM_OK);
	assert_int_equal(pgcm_notifier_set_idle_interval(n, 300), PGCM_OK);

	it_exec(b, "BEGIN; NOTIFY tx, 'committed'");
	/* Uncommitted: only an idle event comes. */
	notifier_within(n, &ev, 2000);
	assert_int_equal(ev.kind, PGCM_NOTIFY_IDLE);
	it_exec(b, "COMMIT");
	notifier_within(n, &ev, 5000);
	assert_int_equal(ev.kind, PGCM_NOTIFY_BATCH);
	assert_ptr_equal(ev.conn, a);
	assert_int_equal(ev.count, 1);
	assert_string_equal(ev.notifies[0].channel, "tx");
	assert_string_equal(ev.notifies[0].payload, "committed");
	assert_int_equal(ev.notifies[0].pid, PQbackendPID(b));

	/* Rolled back: never comes.  A later committed one proves the queue moved past it. */
	it_exec(b, "BEGIN; NOTIFY tx, 'rolled back'; ROLLBACK");
	it_exec(b, "NOTIFY tx, 'after'");
	notifier_within(n, &ev, 5000);
	assert_int_equal(ev.kind, PGCM_NOTIFY_BATCH);
	assert_int_equal(ev.count, 1);
	assert_string_equal(ev.notifies[0].payload, "after");
	notifier_within(n, &ev, 2000);
	assert_int_equal(ev.kind, PGCM_NOTIFY_IDLE);

	pgcm_notifier_free(n);
	it_assert_usable(a);
	PQfinish(a);
	PQfinish(b);
}

/* Several channels on several connections (two servers); add and remove between calls. */
static void
test_several_connections(void **state)
{
	int c2 = second_cluster();
	PGconn *l1 = listening_conn(1, "alpha");
	PGconn *l2 = listening_conn(1, "beta");
	PGconn *l3 = listening_conn(c2, "gamma");
	PGconn *s1 = it_connect(1), *s2 = it_connect(c2);
	pgcm_notifier *n = pgcm_notifier_new();
	pgcm_notify_event ev;
	int seen[3] = {0, 0, 0};
	(void) state;

	it_exec(l2, "LISTEN \"Beta Two\"");
	assert_int_equal(pgcm_notifier_add(n, l1), PGCM_OK);
	assert_int_equal(pgcm_notifier_add(n, l2), PGCM_OK);
	assert_int_equal(pgcm_notifier_add(n, l3), PGCM_OK);
	assert_int_equal(pgcm_notifier_add(n, l3), PGCM_ERR_ARG);
	assert_int_equal(pgcm_notifier_count(n), 3);
	assert_int_equal(pgcm_notifier_set_idle_interval(n, 5000), PGCM_OK);

	send_notify(s1, "alpha", "a1");
	send_notify(s1, "beta", "b1");
	send_notify(s1, "Beta Two", "b2");
	send_notify(s2, "gamma", "g1");
	while (seen[0] < 1 || seen[1] < 2 || seen[2] < 1) {
		notifier_within(n, &ev, 5000);
		assert_int_equal(ev.kind, PGCM_NOTIFY_BATCH);
		for (size_t i = 0; i < ev.count; i++) {
			const pgcm_notification *x = &ev.notifies[i];
			if (strcmp(x->channel, "alpha") == 0) {
				assert_ptr_equal(ev.conn, l1);
				assert_string_equal(x->payload, "a1");
				seen[0]++;
			} else if (strcmp(x->channel, "gamma") == 0) {
				assert_ptr_equal(ev.conn, l3);
				assert_string_equal(x->payload, "g1");
				seen[2]++;
			} else {
				assert_ptr_equal(ev.conn, l2);
				assert_string_equal(x->payload, strcmp(x->channel, "beta") == 0 ? "b1" : "b2");
				seen[1]++;
			}
		}
	}
	assert_int_equal(seen[0], 1);
	assert_int_equal(seen[1], 2);
	assert_int_equal(seen[2], 1);

	/* Removed: its notifications stay queued on it, the others still come. */
	assert_int_equal(pgcm_notifier_remove(n, l1), PGCM_OK);
	assert_int_equal(pgcm_notifier_remove(n, l1), PGCM_ERR_ARG);
	send_notify(s1, "alpha", "a2");
	send_notify(s2, "gamma", "g2");
	notifier_within(n, &ev, 5000);
	assert_int_equal(ev.kind, PGCM_NOTIFY_BATCH);
	assert_ptr_equal(ev.conn, l3);
	assert_string_equal(ev.notifies[0].payload, "g2");
	/* Added back: the one sent meanwhile is delivered. */
	assert_int_equal(pgcm_notifier_add(n, l1), PGCM_OK);
	notifier_within(n, &ev, 5000);
	assert_int_equal(ev.kind, PGCM_NOTIFY_BATCH);
	assert_ptr_equal(ev.conn, l1);
	assert_string_equal(ev.notifies[0].payload, "a2");

	pgcm_notifier_free(n);
	PQfinish(l1);
	PQfinish(l2);
	PQfinish(l3);
	PQfinish(s1);
	PQfinish(s2);
}

/* 100,000 notifications sent in one transaction all arrive, in order, none twice. */
static void
test_hundred_thousand(void **state)
{
	enum { N = 100000 };
	PGconn *a = listening_conn(1, "bulk");
	PGconn *b = it_connect(1);
	pgcm_notifier *n = pgcm_notifier_new();
	pgcm_notify_event ev;
	long expect = 1;
	size_t batches = 0;
	(void) state;

	assert_int_equal(pgcm_notifier_add(n, a), PGCM_OK);
	it_exec(b, "BEGIN; SELECT pg_notify('bulk', i::text) FROM generate_series(1, %d) i; COMMIT", N);
	while (expect <= N) {
		notifier_within(n, &ev, 10000);
		assert_int_equal(ev.kind, PGCM_NOTIFY_BATCH);
		batches++;
		for (size_t i = 0; i < ev.count; i++) {
			long got = atol(ev.notifies[i].payload);
			if (got != expect) {
				print_error("notification %ld: got payload %ld\n", expect, got);
				fail();
			}
			assert_string_equal(ev.notifies[i].channel, "bulk");
			expect++;
		}
	}
	assert_int_equal(expect, N + 1);
	/* Nothing more: poll mode says so at once. */
	assert_int_equal(pgcm_notifier_set_idle_interval(n, 0), PGCM_OK);
	assert_int_equal(pgcm_notifier_next(n, &ev), PGCM_OK);
	assert_int_equal(ev.kind, PGCM_NOTIFY_POLL_END);
	assert_true(batches >= 1);

	pgcm_notifier_free(n);
	PQfinish(a);
	PQfinish(b);
}

/* A payload of exactly 7999 bytes arrives intact; 8000 is refused by the server. */
static void
test_largest_payload(void **state)
{
	PGconn *a = listening_conn(1, "big");
	PGconn *b = it_connect(1);
	pgcm_notifier *n = pgcm_notifier_new();
	pgcm_notify_event ev;
	char *payload = malloc(PGCM_PAYLOAD_MAX + 2);
	const char *params[2];
	PGresult *res;
	(void) state;

	assert_non_null(payload);
	for (int i = 0; i < PGCM_PAYLOAD_MAX; i++)
		payload[i] = (char) ('!' + (i * 7) % 90);
	payload[PGCM_PAYLOAD_MAX] = '\0';
	assert_int_equal(strlen(payload), 7999);
	assert_int_equal(pgcm_notifier_add(n, a), PGCM_OK);
	send_notify(b, "big", payload);
	notifier_within(n, &ev, 5000);
	assert_int_equal(ev.kind, PGCM_NOTIFY_BATCH);
	assert_int_equal(ev.count, 1);
	assert_int_equal(strlen(ev.notifies[0].payload), 7999);
	assert_memory_equal(ev.notifies[0].payload, payload, 7999);

	/* The limit the CLI checks before the server does. */
	payload[PGCM_PAYLOAD_MAX] = 'x';
	payload[PGCM_PAYLOAD_MAX + 1] = '\0';
	params[0] = "big";
	params[1] = payload;
	res = PQexecParams(b, "SELECT pg_notify($1, $2)", 2, NULL, params, NULL, NULL, 0);
	assert_int_equal(PQresultStatus(res), PGRES_FATAL_ERROR);
	assert_string_equal(PQresultErrorField(res, PG_DIAG_SQLSTATE), "22023");
	PQclear(res);

	free(payload);
	pgcm_notifier_free(n);
	PQfinish(a);
	PQfinish(b);
}

/* Idle events come at the interval while quiet, none while busy, never over a waiting one. */
static void
test_idle_events(void **state)
{
	PGconn *a = listening_conn(1, "idle");
	PGconn *b = it_connect(1);
	pgcm_notifier *n = pgcm_notifier_new();
	pgcm_notify_event ev;
	double t0, t;
	(void) state;

	assert_int_equal(pgcm_notifier_add(n, a), PGCM_OK);
	assert_int_equal(pgcm_notifier_set_idle_interval(n, -2), PGCM_ERR_ARG);
	assert_int_equal(pgcm_notifier_set_idle_interval(n, 200), PGCM_OK);

	/* Quiet: three idle events, each about 200 ms after the one before. */
	t0 = it_now_ms();
	for (int i = 0; i < 3; i++) {
		assert_int_equal(pgcm_notifier_next(n, &ev), PGCM_OK);
		assert_int_equal(ev.kind, PGCM_NOTIFY_IDLE);
		t = it_now_ms();
		assert_true(t - t0 >= 190);
		assert_true(t - t0 < 1000);
		t0 = t;
	}

	/* Busy: a notification every 100 ms for 1.5 s: only batches. */
	for (int i = 0; i < 15; i++) {
		char p[16];

		poll(NULL, 0, 100);
		snprintf(p, sizeof p, "%d", i);
		send_notify(b, "idle", p);
		notifier_within(n, &ev, 5000);
		assert_int_equal(ev.kind, PGCM_NOTIFY_BATCH);
		assert_string_equal(ev.notifies[0].payload, p);
	}

	/* A notification waiting past the interval wins over the idle event. */
	send_notify(b, "idle", "waiting");
	poll(NULL, 0, 500);
	assert_int_equal(pgcm_notifier_next(n, &ev), PGCM_OK);
	assert_int_equal(ev.kind, PGCM_NOTIFY_BATCH);
	assert_string_equal(ev.notifies[0].payload, "waiting");
	t0 = it_now_ms();
	assert_int_equal(pgcm_notifier_next(n, &ev), PGCM_OK);
	assert_int_equal(ev.kind, PGCM_NOTIFY_IDLE);
	assert_true(it_now_ms() - t0 >= 190);

	pgcm_notifier_free(n);
	PQfinish(a);
	PQfinish(b);
}

/* Poll mode: what is pending, then POLL_END at once; never waits. */
static void
test_poll_mode(void **state)
{
	PGconn *a = listening_conn(1, "poll");
	PGconn *b = it_connect(1);
	pgcm_notifier *n = pgcm_notifier_new();
	pgcm_notify_event ev;
	double t0, deadline;
	int got = 0;
	(void) state;

	assert_int_equal(pgcm_notifier_add(n, a), PGCM_OK);
	assert_int_equal(pgcm_notifier_set_idle_interval(n, 0), PGCM_OK);
	assert_int_equal(pgcm_notifier_timeout_ms(n), 0);
	t0 = it_now_ms();
	assert_int_equal(pgcm_notifier_next(n, &ev), PGCM_OK);
	assert_int_equal(ev.kind, PGCM_NOTIFY_POLL_END);
	assert_true(it_now_ms() - t0 < 100);

	it_exec(b, "NOTIFY poll, '1'; NOTIFY poll, '2'; NOTIFY poll, '3'");
	/* Delivery is asynchronous: poll until all three came (bounded). */
	deadline = it_now_ms() + 5000;
	while (got < 3) {
		assert_true(it_now_ms() < deadline);
		t0 = it_now_ms();
		assert_int_equal(pgcm_notifier_next(n, &ev), PGCM_OK);
		assert_true(it_now_ms() - t0 < 100);
		if (ev.kind == PGCM_NOTIFY_POLL_END) {
			poll(NULL, 0, 20);
			continue;
		}
		assert_int_equal(ev.kind, PGCM_NOTIFY_BATCH);
		for (size_t i = 0; i < ev.count; i++) {
			char want[16];
			snprintf(want, sizeof want, "%d", ++got);
			assert_string_equal(ev.notifies[i].payload, want);
		}
	}
	assert_int_equal(got, 3);
	assert_int_equal(pgcm_notifier_next(n, &ev), PGCM_OK);
	assert_int_equal(ev.kind, PGCM_NOTIFY_POLL_END);

	pgcm_notifier_free(n);
	PQfinish(a);
	PQfinish(b);
}

/* A watched connection whose backend is terminated is reported once; the others go on. */
static void
test_failed_connection(void **state)
{
	int c2 = second_cluster();
	PGconn *dead = listening_conn(1, "f1");
	PGconn *ok1 = listening_conn(1, "f2");
	PGconn *ok2 = listening_conn(c2, "f3");
	PGconn *s1 = it_connect(1), *s2 = it_connect(c2);
	pgcm_notifier *n = pgcm_notifier_new();
	pgcm_notify_event ev;
	int failed = 0, got2 = 0, got3 = 0;
	(void) state;

	assert_int_equal(pgcm_notifier_add(n, dead), PGCM_OK);
	assert_int_equal(pgcm_notifier_add(n, ok1), PGCM_OK);
	assert_int_equal(pgcm_notifier_add(n, ok2), PGCM_OK);
	assert_int_equal(pgcm_notifier_set_idle_interval(n, 300), PGCM_OK);

	it_terminate(1, PQbackendPID(dead));
	notifier_within(n, &ev, 5000);
	while (ev.kind == PGCM_NOTIFY_IDLE)
		notifier_within(n, &ev, 5000);
	assert_int_equal(ev.kind, PGCM_NOTIFY_FAILED);
	assert_ptr_equal(ev.conn, dead);
	assert_non_null(ev.message);
	assert_true(strlen(ev.message) > 0);
	failed = 1;

	send_notify(s1, "f2", "two");
	send_notify(s2, "f3", "three");
	while (!got2 || !got3) {
		notifier_within(n, &ev, 5000);
		if (ev.kind == PGCM_NOTIFY_IDLE)
			continue;
		if (ev.kind == PGCM_NOTIFY_FAILED)
			failed++;
		assert_int_equal(ev.kind, PGCM_NOTIFY_BATCH);
		if (ev.conn == ok1) {
			assert_string_equal(ev.notifies[0].payload, "two");
			got2 = 1;
		} else {
			assert_ptr_equal(ev.conn, ok2);
			assert_string_equal(ev.notifies[0].payload, "three");
			got3 = 1;
		}
	}
	/* Quiet now: idle events only; the failed connection is never reported again. */
	for (int i = 0; i < 3; i++) {
		notifier_within(n, &ev, 2000);
		assert_int_equal(ev.kind, PGCM_NOTIFY_IDLE);
	}
	assert_int_equal(failed, 1);
	assert_int_equal(pgcm_notifier_count(n), 3);
	assert_int_equal(pgcm_notifier_live(n), 2);
	/* Still the caller's: the notifier did not close it. */
	assert_int_equal(PQstatus(dead), CONNECTION_BAD);
	assert_int_equal(pgcm_notifier_remove(n, dead), PGCM_OK);

	/*
	 * The last live connection fails: its notifications, then FAILED, then the
	 * end of the iteration, although idle events are on (they stop).
	 */
	{
		PGconn *last = listening_conn(c2, "f4");
		int batches = 0;

		pgcm_notifier_free(n);
		n = pgcm_notifier_new();
		assert_int_equal(pgcm_notifier_add(n, dead), PGCM_OK);
		assert_int_equal(pgcm_notifier_add(n, last), PGCM_OK);
		assert_int_equal(pgcm_notifier_set_idle_interval(n, 100), PGCM_OK);
		send_notify(s2, "f4", "before the end");
		for (;;) {
			notifier_within(n, &ev, 5000);
			if (ev.kind == PGCM_NOTIFY_BATCH)
				batches++;
			if (ev.kind == PGCM_NOTIFY_FAILED && ev.conn == dead)
				break;
		}
		it_terminate(c2, PQbackendPID(last));
		for (;;) {
			notifier_within(n, &ev, 5000);
			if (ev.kind == PGCM_NOTIFY_BATCH)
				batches++;
			if (ev.kind == PGCM_NOTIFY_FAILED) {
				assert_ptr_equal(ev.conn, last);
				break;
			}
			assert_true(ev.kind == PGCM_NOTIFY_IDLE || ev.kind == PGCM_NOTIFY_BATCH);
		}
		assert_int_equal(batches, 1);
		assert_int_equal(pgcm_notifier_live(n), 0);
		assert_int_equal(pgcm_notifier_timeout_ms(n), 0);
		assert_int_equal(pgcm_notifier_step(n, &ev), PGCM_DONE);
		assert_int_equal(pgcm_notifier_next(n, &ev), PGCM_DONE);
		assert_true(strlen(pgcm_notifier_errmsg(n)) > 0);
		/* A live connection added: the iteration goes on. */
		assert_int_equal(pgcm_notifier_add(n, ok1), PGCM_OK);
		assert_int_equal(pgcm_notifier_live(n), 1);
		notifier_within(n, &ev, 2000);
		assert_int_equal(ev.kind, PGCM_NOTIFY_IDLE);
		assert_int_equal(pgcm_notifier_remove(n, ok1), PGCM_OK);
		PQfinish(last);
	}

	pgcm_notifier_free(n);
	PQfinish(dead);
	it_assert_usable(ok1);
	it_assert_usable(ok2);
	PQfinish(ok1);
	PQfinish(ok2);
	PQfinish(s1);
	PQfinish(s2);
}

/* A notification sent while the listening connection runs a COPY is not lost. */
static void
test_notify_during_copy(void **state)
{
	PGconn *a = listening_conn(1, "copying");
	PGconn *b = it_connect(1);
	pgcm_notifier *n = pgcm_notifier_new();
	pgcm_notify_event ev;
	PGresult *res;
	char *buf;
	int rows = 0, r;
	(void) state;

	it_exec(a, "CREATE TEMP TABLE t (i int)");
	assert_int_equal(pgcm_notifier_add(n, a), PGCM_OK);
	assert_int_equal(pgcm_notifier_set_idle_interval(n, 300), PGCM_OK);

	/* COPY FROM STDIN: the notification is committed while a is in the COPY. */
	res = PQexec(a, "COPY t FROM STDIN");
	assert_int_equal(PQresultStatus(res), PGRES_COPY_IN);
	PQclear(res);
	send_notify(b, "copying", "during copy in");
	assert_int_equal(PQputCopyData(a, "1\n2\n3\n", 6), 1);
	assert_int_equal(PQputCopyEnd(a, NULL), 1);
	res = PQgetResult(a);
	assert_int_equal(PQresultStatus(res), PGRES_COMMAND_OK);
	PQclear(res);
	assert_null(PQgetResult(a));

	/* COPY TO STDOUT, read fully; notified after it started. */
	res = PQexec(a, "COPY (SELECT i FROM generate_series(1, 50000) i) TO STDOUT");
	assert_int_equal(PQresultStatus(res), PGRES_COPY_OUT);
	PQclear(res);
	send_notify(b, "copying", "during copy out");
	while ((r = PQgetCopyData(a, &buf, 0)) > 0) {
		rows++;
		PQfreemem(buf);
	}
	assert_int_equal(r, -1);
	assert_int_equal(rows, 50000);
	res = PQgetResult(a);
	assert_int_equal(PQresultStatus(res), PGRES_COMMAND_OK);
	PQclear(res);
	assert_null(PQgetResult(a));

	{
		int in = 0, out = 0;
		while (!in || !out) {
			notifier_within(n, &ev, 5000);
			assert_int_equal(ev.kind, PGCM_NOTIFY_BATCH);
			for (size_t i = 0; i < ev.count; i++) {
				if (strcmp(ev.notifies[i].payload, "during copy in") == 0)
					in++;
				else if (strcmp(ev.notifies[i].payload, "during copy out") == 0)
					out++;
				else
					fail_msg("unexpected payload %s", ev.notifies[i].payload);
			}
		}
		assert_int_equal(in, 1);
		assert_int_equal(out, 1);
	}
	notifier_within(n, &ev, 2000);
	assert_int_equal(ev.kind, PGCM_NOTIFY_IDLE);

	pgcm_notifier_free(n);
	PQfinish(a);
	PQfinish(b);
}

/* ------------------------------------------------------------------------
 * Listener tests
 * ------------------------------------------------------------------------ */

/* expect_notification: skip idle events; the next must be one notification. */
static void
expect_one(pgcm_listener *l, const char *channel, const char *payload)
{
	pgcm_notify_event ev;

	do
		listener_within(l, &ev, 5000);
	while (ev.kind == PGCM_NOTIFY_IDLE);
	if (ev.kind != PGCM_NOTIFY_BATCH)
		fail_msg("expected a notification on %s, got event %d", channel, (int) ev.kind);
	assert_int_equal(ev.count, 1);
	assert_string_equal(ev.notifies[0].channel, channel);
	assert_string_equal(ev.notifies[0].payload, payload);
}

/* expect_reconnect: DISCONNECTED (with a reason), then RECONNECTED, idle events aside. */
static void
expect_reconnect(pgcm_listener *l, int ms, const char *why)
{
	pgcm_notify_event ev;

	do
		listener_within(l, &ev, ms);
	while (ev.kind == PGCM_NOTIFY_IDLE);
	assert_int_equal(ev.kind, PGCM_NOTIFY_DISCONNECTED);
	assert_non_null(ev.message);
	if (!strstr(ev.message, why))
		fail_msg("DISCONNECTED says \"%s\", expected \"%s\"", ev.message, why);
	do
		listener_within(l, &ev, ms);
	while (ev.kind == PGCM_NOTIFY_IDLE);
	assert_int_equal(ev.kind, PGCM_NOTIFY_RECONNECTED);
	assert_true(pgcm_listener_ready(l));
}

/* Channel names are quoted with libpq's escaping: any name of up to 63 bytes works. */
static void
test_listener_channels(void **state)
{
	const char *chans[] = {"plain", "We\"ird Chan;nel", "UPPER"};
	pgcm_listener *l = pgcm_listener_new(it_conninfo(1), chans, 3);
	PGconn *b = it_connect(1);
	char longest[PGCM_CHANNEL_MAX + 2];
	(void) state;

	assert_non_null(l);
	listener_until_ready(l, 5000);
	assert_non_null(pgcm_listener_conn(l));
	send_notify(b, "plain", "1");
	expect_one(l, "plain", "1");
	send_notify(b, "We\"ird Chan;nel", "2");
	expect_one(l, "We\"ird Chan;nel", "2");
	send_notify(b, "UPPER", "3");
	expect_one(l, "UPPER", "3");

	/* Added and removed while running. */
	memset(longest, 'x', PGCM_CHANNEL_MAX);
	longest[PGCM_CHANNEL_MAX] = '\0';
	assert_int_equal(pgcm_listener_listen(l, longest), PGCM_OK);
	assert_int_equal(pgcm_listener_unlisten(l, "plain"), PGCM_OK);
	assert_false(pgcm_listener_ready(l));
	listener_until_ready(l, 5000);
	send_notify(b, "plain", "gone");
	send_notify(b, longest, "4");
	expect_one(l, longest, "4");
	assert_int_equal(pgcm_listener_listen(l, "plain"), PGCM_OK);
	listener_until_ready(l, 5000);
	send_notify(b, "plain", "back");
	expect_one(l, "plain", "back");

	/* Names the server would truncate are refused. */
	longest[PGCM_CHANNEL_MAX] = 'x';
	longest[PGCM_CHANNEL_MAX + 1] = '\0';
	assert_int_equal(pgcm_listener_listen(l, longest), PGCM_ERR_ARG);
	assert_int_equal(pgcm_listener_listen(l, ""), PGCM_ERR_ARG);
	assert_int_equal(pgcm_listener_reconnects(l), 0);

	pgcm_listener_free(l);
	PQfinish(b);
}

/* The listener's first connection failing is an error, not an endless retry. */
static void
test_listener_bad_conninfo(void **state)
{
	const char *chans[] = {"x"};
	pgcm_listener *l = pgcm_listener_new("host=/nonexistent/dir port=1", chans, 1);
	pgcm_notify_event ev;
	(void) state;

	assert_non_null(l);
	assert_int_equal(pgcm_listener_next(l, &ev), PGCM_ERR_CONNECTION);
	assert_non_null(strstr(pgcm_listener_errmsg(l), "cannot connect"));
	assert_null(pgcm_listener_conn(l));
	pgcm_listener_free(l);

	l = pgcm_listener_new("not a valid = = string", chans, 1);
	assert_non_null(l);
	assert_int_equal(pgcm_listener_next(l, &ev), PGCM_ERR_CONNECTION);
	pgcm_listener_free(l);
}

/* A silently dead connection (backend stopped) is found by the ping and replaced. */
static void
test_listener_silent_death(void **state)
{
	const char *chans[] = {"silent"};
	pgcm_listener *l = pgcm_listener_new(it_conninfo(1), chans, 1);
	PGconn *b = it_connect(1);
	int pid;
	double t0;
	(void) state;

	assert_int_equal(pgcm_listener_set_ping(l, 300, 500), PGCM_OK);
	assert_int_equal(pgcm_listener_set_backoff(l, 50, 500), PGCM_OK);
	listener_until_ready(l, 5000);
	pid = PQbackendPID(pgcm_listener_conn(l));
	assert_true(pid > 0);
	it_signal_backend(pid, SIGSTOP);
	t0 = it_now_ms();
	expect_reconnect(l, 5000, "did not answer within 500 ms");
	it_signal_backend(pid, SIGCONT);
	/* Noticed within ping interval + ping timeout (plus slack). */
	assert_true(it_now_ms() - t0 < 3000);
	assert_int_not_equal(PQbackendPID(pgcm_listener_conn(l)), pid);
	assert_int_equal(pgcm_listener_reconnects(l), 1);
	send_notify(b, "silent", "alive");
	expect_one(l, "silent", "alive");

	pgcm_listener_free(l);
	PQfinish(b);
}

/*
 * The listener's backend terminated, then the server restarted: each time
 * DISCONNECTED, RECONNECTED, and later notifications arrive.  Runs last: it
 * restarts cluster 1.
 */
static void
test_listener_reconnect(void **state)
{
	const char *chans[] = {"rc"};
	pgcm_listener *l = pgcm_listener_new(it_conninfo(1), chans, 1);
	PGconn *b = it_connect(1);
	const char *as = getenv("PGCM_TEST_AS_SERVER");
	const char *bin = getenv("PGCM_TEST_PGBIN");
	const char *dir = getenv("PGCM_TEST_DATADIR_1");
	const char *log = getenv("PGCM_TEST_LOG_1");
	pgcm_notify_event ev;
	int pid;
	(void) state;

	assert_non_null(l);
	assert_int_equal(pgcm_listener_set_backoff(l, 50, 400), PGCM_OK);
	assert_int_equal(pgcm_listener_set_idle_interval(l, 200), PGCM_OK);
	listener_until_ready(l, 5000);
	send_notify(b, "rc", "before");
	expect_one(l, "rc", "before");

	pid = PQbackendPID(pgcm_listener_conn(l));
	it_terminate(1, pid);
	expect_reconnect(l, 5000, "terminating connection due to administrator command");
	assert_int_not_equal(PQbackendPID(pgcm_listener_conn(l)), pid);
	send_notify(b, "rc", "after terminate");
	expect_one(l, "rc", "after terminate");

	/* Server restart: the listener keeps trying with back-off until it is back. */
	assert_non_null(bin);
	assert_non_null(dir);
	assert_int_equal(it_system("%s %s/pg_ctl -D %s -l %s -m fast -w -t 60 restart >/dev/null",
	                           as ? as : "", bin, dir, log ? log : "/dev/null"), 0);
	expect_reconnect(l, 15000, "terminating connection");
	assert_int_equal(pgcm_listener_reconnects(l), 2);
	PQfinish(b);
	b = it_connect(1);
	send_notify(b, "rc", "after restart");
	expect_one(l, "rc", "after restart");
	/* Quiet again: idle events. */
	listener_within(l, &ev, 2000);
	assert_int_equal(ev.kind, PGCM_NOTIFY_IDLE);

	pgcm_listener_free(l);
	PQfinish(b);
}

IT_GROUP(notify)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_transactional),
		cmocka_unit_test(test_several_connections),
		cmocka_unit_test(test_hundred_thousand),
		cmocka_unit_test(test_largest_payload),
		cmocka_unit_test(test_idle_events),
		cmocka_unit_test(test_poll_mode),
		cmocka_unit_test(test_failed_connection),
		cmocka_unit_test(test_notify_during_copy),
		cmocka_unit_test(test_listener_channels),
		cmocka_unit_test(test_listener_bad_conninfo),
		cmocka_unit_test(test_listener_silent_death),
		cmocka_unit_test(test_listener_reconnect),
	};

	return it_add_group("notify", tests, NULL, NULL);
}
