/*
 * test_copy.c: the copy manager without a server: the chunk window, a copy
 * between callbacks, faults and reconcile on callback receivers, external
 * loop integration, and every allocation failing in turn.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "internal.h"

static void
test_window_ring(void **state)
{
	pgcm__window w;
	pgcm__chunk *c;

	(void) state;
	assert_int_equal(pgcm__window_init(&w, 100, 2), PGCM_OK);
	c = pgcm__window_open(&w);
	assert_non_null(c);
	assert_int_equal(pgcm__chunk_append_row(c, "a\n", 2), PGCM_OK);
	pgcm__window_seal(&w);
	assert_non_null(pgcm__window_open(&w));
	pgcm__window_seal(&w);
	/* Two chunks in flight: the window is full until the oldest is released. */
	assert_null(pgcm__window_open(&w));
	assert_int_equal(pgcm__window_get(&w, 0)->len, 2);
	pgcm__window_release(&w, 1);
	assert_non_null(pgcm__window_open(&w));
	/* An outsized row grows a slot; releasing it gives the memory back. */
	c = pgcm__window_open(&w);
	assert_int_equal(pgcm__chunk_reserve(c, 100000), PGCM_OK);
	assert_true(c->cap >= 100000);
	pgcm__window_seal(&w);
	pgcm__window_release(&w, w.head);
	assert_int_equal(w.slots[2 % w.nslots].cap, 0);
	pgcm__window_free(&w);
	assert_int_equal(pgcm__window_init(&w, 0, 2), PGCM_ERR_ARG);
}

/* A source of n text rows, handed out in pieces of 7 bytes. */
typedef struct rows_source {
	int n;
	int next;
	char pending[64];
	size_t pending_len;
	size_t pending_pos;
} rows_source;

static long
rows_read(void *arg, char *buf, size_t cap)
{
	rows_source *s = arg;
	size_t n;

	if (s->pending_pos == s->pending_len) {
		if (s->next == s->n)
			return 0;
		s->next++;
		s->pending_len = (size_t) snprintf(s->pending, sizeof s->pending, "%d\trow %d\n", s->next, s->next);
		s->pending_pos = 0;
	}
	n = s->pending_len - s->pending_pos;
	if (n > 7)
		n = 7;
	if (n > cap)
		n = cap;
	memcpy(buf, s->pending + s->pending_pos, n);
	s->pending_pos += n;
	return (long) n;
}

typedef struct counter {
	size_t bytes;
	int calls;
	int fail_on;
	int lines;
} counter;

static int
count_write(void *arg, const char *buf, size_t len)
{
	counter *c = arg;

	if (++c->calls == c->fail_on)
		return 1;
	c->bytes += len;
	for (size_t i = 0; i < len; i++)
		c->lines += buf[i] == '\n';
	/* Receivers see only whole rows. */
	assert_int_equal(buf[len - 1], '\n');
	return 0;
}

static pgcm_copy *
callback_copy(rows_source *src, counter *a, counter *b)
{
	pgcm_format fmt;
	pgcm_copy *c;

	pgcm_format_init(&fmt, PGCM_FORMAT_TEXT);
	c = pgcm_copy_new(pgcm_producer_fn(rows_read, src, &fmt));
	if (!c)
		return NULL;
	if (pgcm_copy_set_window(c, 512, 3) != PGCM_OK || pgcm_copy_add(c, pgcm_receiver_fn(count_write, a)) != PGCM_OK
	    || pgcm_copy_add(c, pgcm_receiver_fn(count_write, b)) != PGCM_OK
	    || pgcm_copy_add(c, pgcm_receiver_null()) != PGCM_OK) {
		pgcm_copy_free(c);
		return NULL;
	}
	return c;
}

static void
test_callbacks_end_to_end(void **state)
{
	rows_source src = {.n = 5000};
	counter a = {0}, b = {0};
	pgcm_copy *c = callback_copy(&src, &a, &b);
	pgcm_progress total;

	(void) state;
	assert_non_null(c);
	assert_int_equal(pgcm_copy_run(c, &total), PGCM_OK);
	assert_int_equal(total.rows, 5000);
	assert_int_equal(a.lines, 5000);
	assert_int_equal(b.bytes, total.bytes);
	assert_int_equal(pgcm_receiver_rows(pgcm_copy_receiver(c, 2)), 5000);
	assert_int_equal(pgcm_receiver_get_state(pgcm_copy_receiver(c, 0)), PGCM_RECEIVER_DONE);
	pgcm_copy_free(c);
}

static void
test_external_loop(void **state)
{
	rows_source src = {.n = 2000};
	counter a = {0}, b = {0};
	pgcm_copy *c = callback_copy(&src, &a, &b);
	pgcm_progress p, sum = {0, 0};
	pgcm_status st;
	int steps = 0;

	(void) state;
	/* Callback endpoints never wait on a descriptor: every step makes progress. */
	while ((st = pgcm_copy_step(c, &p)) == PGCM_OK || st == PGCM_AGAIN) {
		struct pollfd fds[4];
		sum.rows += p.rows;
		sum.bytes += p.bytes;
		assert_true(pgcm_copy_pollfds(c, fds, 4) <= 4);
		assert_true(++steps < 100000);
	}
	/* The step that completes the copy reports its progress too. */
	assert_int_equal(st, PGCM_DONE);
	sum.rows += p.rows;
	sum.bytes += p.bytes;
	assert_int_equal(sum.rows, 2000);
	assert_int_equal(sum.bytes, pgcm_copy_totals(c).bytes);
	assert_int_equal(pgcm_copy_timeout_ms(c), -1);
	assert_int_equal(pgcm_copy_step(c, &p), PGCM_DONE);
	assert_int_equal(pgcm_copy_finish(c, NULL), PGCM_OK);
	assert_int_equal(pgcm_copy_add(c, pgcm_receiver_null()), PGCM_ERR_STATE);
	pgcm_copy_free(c);
}

static void
test_reconcile_and_drop(void **state)
{
	rows_source src = {.n = 3000};
	counter a = {.fail_on = 2}, b = {.fail_on = 4};
	pgcm_copy *c = callback_copy(&src, &a, &b);
	pgcm_fault f[3];
	pgcm_failure failure;
	pgcm_status st;

	(void) state;
	while ((st = pgcm_copy_next(c, NULL)) == PGCM_OK || st == PGCM_FAULT) {
		if (st != PGCM_FAULT)
			continue;
		size_t n = pgcm_copy_faults(c, f, 3);
		assert_true(n >= 1 && n <= 2);
		/* a is put back; b is left out and dropped. */
		for (size_t i = 0; i < n; i++) {
			assert_int_equal(f[i].status, PGCM_ERR_CALLBACK);
			if (f[i].index == 0)
				assert_int_equal(pgcm_copy_reconcile(c, f[i].receiver), PGCM_OK);
		}
	}
	assert_int_equal(st, PGCM_DONE);
	assert_int_equal(a.lines, 3000);
	assert_true(b.lines < 3000);
	assert_int_equal(pgcm_copy_finish(c, &failure), PGCM_FAULT);
	assert_int_equal(failure.nfaults, 2);
	assert_int_equal(pgcm_receiver_get_state(pgcm_copy_receiver(c, 1)), PGCM_RECEIVER_DROPPED);
	assert_int_equal(pgcm_copy_reconcile(c, pgcm_copy_receiver(c, 1)), PGCM_ERR_STATE);
	pgcm_copy_free(c);
}

static void
test_every_receiver_faulted(void **state)
{
	rows_source src = {.n = 3000};
	counter a = {.fail_on = 1}, b = {.fail_on = 1};
	pgcm_format fmt;
	pgcm_copy *c;
	pgcm_failure failure;

	(void) state;
	pgcm_format_init(&fmt, PGCM_FORMAT_TEXT);
	c = pgcm_copy_new(pgcm_producer_fn(rows_read, &src, &fmt));
	pgcm_copy_add(c, pgcm_receiver_fn(count_write, &a));
	pgcm_copy_add(c, pgcm_receiver_fn(count_write, &b));
	assert_int_equal(pgcm_copy_next(c, NULL), PGCM_FAULT);
	assert_int_equal(pgcm_copy_next(c, NULL), PGCM_ERR_NO_RECEIVERS);
	assert_int_equal(pgcm_copy_finish(c, &failure), PGCM_ERR_NO_RECEIVERS);
	assert_string_equal(failure.reason, "no receiver is left");
	assert_int_equal(failure.nfaults, 2);
	pgcm_copy_free(c);
}

/* failing_read: a producer that fails: the copy aborts and says the producer failed. */
static long
failing_read(void *arg, char *buf, size_t cap)
{
	int *calls = arg;

	(void) cap;
	if (++*calls > 3)
		return -1;
	memcpy(buf, "1\n", 2);
	return 2;
}

static void
test_producer_failure(void **state)
{
	int calls = 0;
	pgcm_format fmt;
	pgcm_copy *c;
	pgcm_failure failure;

	(void) state;
	pgcm_format_init(&fmt, PGCM_FORMAT_TEXT);
	c = pgcm_copy_new(pgcm_producer_fn(failing_read, &calls, &fmt));
	pgcm_producer_set_label(NULL, "x");
	pgcm_copy_add(c, pgcm_receiver_null());
	assert_int_equal(pgcm_copy_run(c, NULL), PGCM_ERR_PRODUCER);
	assert_int_equal(pgcm_copy_finish(c, &failure), PGCM_ERR_PRODUCER);
	assert_non_null(failure.producer_error);
	assert_non_null(strstr(failure.producer_error, "read callback failed"));
	pgcm_copy_free(c);
}

/*
 * test_out_of_memory: every allocation of a whole copy fails in turn; each
 * run must end with an error or success, never a crash or a leak (the
 * sanitizer and valgrind runs check the leaks).
 */
static void
test_out_of_memory(void **state)
{
	int completed = 0;

	(void) state;
	for (long n = 0; n < 400 && !completed; n++) {
		rows_source src = {.n = 300};
		counter a = {0}, b = {0};
		pgcm_copy *c;
		pgcm_status st = PGCM_ERR_NOMEM;

		pgcm__alloc_fail_after(n);
		c = callback_copy(&src, &a, &b);
		if (c) {
			st = pgcm_copy_run(c, NULL);
			pgcm_copy_free(c);
		}
		pgcm__alloc_fail_after(-1);
		if (st == PGCM_OK) {
			assert_int_equal(a.lines, 300);
			completed = 1;
		}
	}
	assert_true(completed);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_window_ring),
		cmocka_unit_test(test_callbacks_end_to_end),
		cmocka_unit_test(test_external_loop),
		cmocka_unit_test(test_reconcile_and_drop),
		cmocka_unit_test(test_every_receiver_faulted),
		cmocka_unit_test(test_producer_failure),
		cmocka_unit_test(test_out_of_memory),
	};

	return cmocka_run_group_tests_name("copy (no server)", tests, NULL, NULL);
}
