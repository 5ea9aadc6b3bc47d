/*
 * test_notify.c: the notifier and listener without a server: argument
 * checks, broken connections, and every allocation failing in turn.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>

#include "internal.h"

/* A connection that failed at once: no server is needed. */
static PGconn *
broken_conn(void)
{
	PGconn *c = PQconnectdb("host=/nonexistent/pgcm port=1 connect_timeout=1");

	assert_non_null(c);
	assert_int_equal(PQstatus(c), CONNECTION_BAD);
	return c;
}

static void
test_notifier_args(void **state)
{
	pgcm_notifier *n = pgcm_notifier_new();
	pgcm_notify_event ev;
	struct pollfd fds[2];
	(void) state;

	assert_non_null(n);
	assert_int_equal(pgcm_notifier_add(NULL, NULL), PGCM_ERR_ARG);
	assert_int_equal(pgcm_notifier_add(n, NULL), PGCM_ERR_ARG);
	assert_int_equal(pgcm_notifier_remove(n, NULL), PGCM_ERR_ARG);
	assert_int_equal(pgcm_notifier_set_idle_interval(n, -2), PGCM_ERR_ARG);
	assert_int_equal(pgcm_notifier_step(n, NULL), PGCM_ERR_ARG);
	assert_int_equal(pgcm_notifier_step(NULL, &ev), PGCM_ERR_ARG);
	assert_string_equal(pgcm_notifier_errmsg(n), "");
	assert_int_equal(pgcm_notifier_count(n), 0);
	assert_int_equal(pgcm_notifier_live(n), 0);
	assert_int_equal(pgcm_notifier_live(NULL), 0);
	assert_int_equal(pgcm_notifier_pollfds(n, fds, 2), 0);
	/* Nothing to watch: the end of the iteration is due at once. */
	assert_int_equal(pgcm_notifier_timeout_ms(n), 0);

	/* No connection: the iteration is over, in every idle mode (no idle events about nothing). */
	for (int ms = -1; ms <= 10; ms += 11) {
		assert_int_equal(pgcm_notifier_set_idle_interval(n, ms), PGCM_OK);
		assert_int_equal(pgcm_notifier_next(n, &ev), PGCM_DONE);
		assert_int_equal(ev.kind, PGCM_NOTIFY_NONE);
		assert_int_equal(pgcm_notifier_step(n, &ev), PGCM_DONE);
		assert_true(strlen(pgcm_notifier_errmsg(n)) > 0);
	}
	assert_int_equal(pgcm_notifier_set_idle_interval(n, 0), PGCM_OK);
	assert_int_equal(pgcm_notifier_next(n, &ev), PGCM_DONE);
	pgcm_notifier_free(n);
	pgcm_notifier_free(NULL);
}

/* A broken connection is reported once, never polled, and stays the caller's. */
static void
test_notifier_broken(void **state)
{
	PGconn *c = broken_conn();
	pgcm_notifier *n = pgcm_notifier_new();
	pgcm_notify_event ev;
	struct pollfd fds[2];
	(void) state;

	assert_int_equal(pgcm_notifier_add(n, c), PGCM_OK);
	assert_int_equal(pgcm_notifier_add(n, c), PGCM_ERR_ARG);
	assert_int_equal(pgcm_notifier_step(n, &ev), PGCM_OK);
	assert_int_equal(ev.kind, PGCM_NOTIFY_FAILED);
	assert_ptr_equal(ev.conn, c);
	assert_non_null(strstr(ev.message, "nonexistent"));
	assert_int_equal(pgcm_notifier_pollfds(n, fds, 2), 0);
	/* Its only connection failed: the iteration is over, idle events or not. */
	assert_int_equal(pgcm_notifier_set_idle_interval(n, 10), PGCM_OK);
	assert_int_equal(pgcm_notifier_timeout_ms(n), 0);
	assert_int_equal(pgcm_notifier_step(n, &ev), PGCM_DONE);
	assert_int_equal(pgcm_notifier_next(n, &ev), PGCM_DONE);
	assert_int_equal(pgcm_notifier_count(n), 1);
	assert_int_equal(pgcm_notifier_live(n), 0);
	assert_int_equal(pgcm_notifier_remove(n, c), PGCM_OK);
	assert_int_equal(pgcm_notifier_count(n), 0);
	pgcm_notifier_free(n);
	assert_int_equal(PQstatus(c), CONNECTION_BAD);
	PQfinish(c);
}

/* Every allocation failing in turn: NULL or PGCM_ERR_NOMEM, never a crash or a leak. */
static void
test_notifier_oom(void **state)
{
	PGconn *c1 = broken_conn(), *c2 = broken_conn();
	int completed = 0;
	(void) state;

	for (long k = 0; k < 40 && !completed; k++) {
		pgcm_notifier *n;
		pgcm_notify_event ev;
		int failed = 0;

		pgcm__alloc_fail_after(k);
		n = pgcm_notifier_new();
		if (!n)
			continue;
		if (pgcm_notifier_add(n, c1) != PGCM_OK || pgcm_notifier_add(n, c2) != PGCM_OK) {
			pgcm_notifier_free(n);
			continue;
		}
		for (int i = 0; i < 3; i++) {
			pgcm_status st = pgcm_notifier_step(n, &ev);
			if (st == PGCM_OK && ev.kind == PGCM_NOTIFY_FAILED)
				failed++;
			else
				assert_true(st == PGCM_ERR_NOMEM || st == PGCM_DONE);
		}
		pgcm__alloc_fail_after(-1);
		completed = failed == 2;
		pgcm_notifier_free(n);
	}
	pgcm__alloc_fail_after(-1);
	assert_true(completed);
	PQfinish(c1);
	PQfinish(c2);
}

static void
test_listener_args(void **state)
{
	const char *ok[] = {"a", "b"};
	const char *empty[] = {""};
	char longname[PGCM_CHANNEL_MAX + 2];
	const char *toolong[] = {longname};
	pgcm_listener *l;
	pgcm_notify_event ev;
	(void) state;

	memset(longname, 'n', PGCM_CHANNEL_MAX + 1);
	longname[PGCM_CHANNEL_MAX + 1] = '\0';
	assert_null(pgcm_listener_new(NULL, ok, 2));
	assert_null(pgcm_listener_new("", NULL, 2));
	assert_null(pgcm_listener_new("", empty, 1));
	assert_null(pgcm_listener_new("", toolong, 1));
	longname[PGCM_CHANNEL_MAX] = '\0';
	l = pgcm_listener_new("", toolong, 1);
	assert_non_null(l);
	assert_int_equal(pgcm_listener_set_backoff(l, 0, 10), PGCM_ERR_ARG);
	assert_int_equal(pgcm_listener_set_backoff(l, 100, 10), PGCM_ERR_ARG);
	assert_int_equal(pgcm_listener_set_backoff(l, 10, 10), PGCM_OK);
	assert_int_equal(pgcm_listener_set_ping(l, -1, 10), PGCM_ERR_ARG);
	assert_int_equal(pgcm_listener_set_ping(l, 0, 0), PGCM_ERR_ARG);
	assert_int_equal(pgcm_listener_set_ping(l, 0, 10), PGCM_OK);
	assert_int_equal(pgcm_listener_set_idle_interval(l, -2), PGCM_ERR_ARG);
	assert_int_equal(pgcm_listener_listen(l, NULL), PGCM_ERR_ARG);
	assert_int_equal(pgcm_listener_listen(l, ""), PGCM_ERR_ARG);
	assert_int_equal(pgcm_listener_unlisten(l, "never listened"), PGCM_OK);
	assert_int_equal(pgcm_listener_step(l, NULL), PGCM_ERR_ARG);
	assert_false(pgcm_listener_ready(l));
	assert_null(pgcm_listener_conn(l));
	assert_int_equal(pgcm_listener_reconnects(l), 0);
	assert_int_equal(pgcm_listener_timeout_ms(l), 0);
	assert_string_equal(pgcm_listener_errmsg(l), "");
	pgcm_listener_free(l);
	pgcm_listener_free(NULL);

	/* No channels is fine (add them later). */
	l = pgcm_listener_new("host=/nonexistent/pgcm port=1", NULL, 0);
	assert_non_null(l);
	assert_int_equal(pgcm_listener_next(l, &ev), PGCM_ERR_CONNECTION);
	assert_non_null(strstr(pgcm_listener_errmsg(l), "cannot connect"));
	/* Calling again tries again. */
	assert_int_equal(pgcm_listener_next(l, &ev), PGCM_ERR_CONNECTION);
	pgcm_listener_free(l);
}

static void
test_listener_oom(void **state)
{
	const char *chans[] = {"one", "two", "three", "four", "five"};
	int completed = 0;
	(void) state;

	for (long k = 0; k < 60 && !completed; k++) {
		pgcm_listener *l;
		pgcm_notify_event ev;
		pgcm_status st;

		pgcm__alloc_fail_after(k);
		l = pgcm_listener_new("host=/nonexistent/pgcm port=1", chans, 5);
		if (!l)
			continue;
		if (pgcm_listener_listen(l, "six") != PGCM_OK
		    || pgcm_listener_unlisten(l, "one") != PGCM_OK) {
			pgcm_listener_free(l);
			continue;
		}
		st = pgcm_listener_step(l, &ev);
		assert_true(st == PGCM_ERR_CONNECTION || st == PGCM_ERR_NOMEM);
		pgcm__alloc_fail_after(-1);
		completed = st == PGCM_ERR_CONNECTION && strlen(pgcm_listener_errmsg(l)) > 0;
		pgcm_listener_free(l);
	}
	pgcm__alloc_fail_after(-1);
	assert_true(completed);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_notifier_args),
		cmocka_unit_test(test_notifier_broken),
		cmocka_unit_test(test_notifier_oom),
		cmocka_unit_test(test_listener_args),
		cmocka_unit_test(test_listener_oom),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
