/*
 * itest_copy.c: the copy manager against real servers: exact data in every
 * format, one target and several, edge sizes, queries, targets that refuse,
 * notices, notifications, segments, the window bound, and connections left
 * usable after every run.
 *
 * Clusters: 1 is the source; 2, 3 and 4 are targets.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <poll.h>

#include "util.h"
#include "pgcopyman.h"

#define ROWS 20000

typedef it_world world;

/* The source's t is empty: each test fills it. */
IT_WORLD_FIXTURE(3, 0, 0)

/*
 * copy_cycles: run a copy cycle by cycle; check that the cycles add up to the
 * totals, and return the final status.
 */
static pgcm_status
copy_cycles(pgcm_copy *c, pgcm_progress *total, int *cycles)
{
	pgcm_progress sum = {0, 0}, p;
	pgcm_status st;
	int n = 0;

	while ((st = pgcm_copy_next(c, &p)) == PGCM_OK || st == PGCM_FAULT) {
		sum.rows += p.rows;
		sum.bytes += p.bytes;
		n++;
	}
	*total = pgcm_copy_totals(c);
	if (st == PGCM_DONE) {
		assert_int_equal(sum.rows, total->rows);
		assert_int_equal(sum.bytes, total->bytes);
	}
	if (cycles)
		*cycles = n;
	return st;
}

/* copy_to_targets: source table t to t on the first n targets in format opts. */
static void
copy_to_targets(world *w, int n, const char *opts)
{
	char to[256], from[256];
	pgcm_copy *c;
	pgcm_progress total;
	char *want;
	int cycles;

	snprintf(to, sizeof to, "COPY t TO STDOUT %s", opts);
	snprintf(from, sizeof from, "COPY t FROM STDIN %s", opts);
	c = pgcm_copy_new(pgcm_producer_pg(w->src, to));
	assert_non_null(c);
	for (int i = 0; i < n; i++) {
		it_exec(w->dst[i], "TRUNCATE t");
		assert_int_equal(pgcm_copy_add(c, pgcm_receiver_pg(w->dst[i], from)), PGCM_OK);
	}
	{
		pgcm_status st = copy_cycles(c, &total, &cycles);
		if (st != PGCM_DONE) {
			pgcm_failure f;
			pgcm_copy_finish(c, &f);
			print_error("copy failed: %s (%s)\n", pgcm_strerror(st), pgcm_copy_errmsg(c));
			for (size_t i = 0; i < f.nfaults; i++)
				print_error("  fault: %s\n", f.faults[i].message);
		}
		assert_int_equal(st, PGCM_DONE);
	}
	assert_int_equal(pgcm_copy_finish(c, NULL), PGCM_OK);
	assert_int_equal(total.rows, it_count(w->src, "t"));
	assert_true(total.rows == 0 || cycles >= 1);
	want = it_table_checksum(w->src, "t");
	for (int i = 0; i < n; i++) {
		char *got = it_table_checksum(w->dst[i], "t");
		assert_string_equal(got, want);
		assert_int_equal(pgcm_receiver_rows(pgcm_copy_receiver(c, (size_t) i)), total.rows);
		free(got);
	}
	free(want);
	pgcm_copy_free(c);
}

static void
test_one_to_one_text(void **state)
{
	world *w = *state;

	it_fill_mixed(w->src, "t", ROWS);
	copy_to_targets(w, 1, "");
}

static void
test_one_to_three_text(void **state)
{
	world *w = *state;

	it_fill_mixed(w->src, "t", ROWS);
	copy_to_targets(w, 3, "(FORMAT text)");
}

static void
test_one_to_three_csv(void **state)
{
	world *w = *state;

	it_fill_mixed(w->src, "t", ROWS);
	copy_to_targets(w, 3, "(FORMAT csv)");
}

static void
test_one_to_three_binary(void **state)
{
	world *w = *state;

	it_fill_mixed(w->src, "t", ROWS);
	copy_to_targets(w, 3, "(FORMAT binary)");
}

static void
test_empty_source(void **state)
{
	world *w = *state;

	copy_to_targets(w, 3, "(FORMAT binary)");
	copy_to_targets(w, 2, "(FORMAT text)");
	assert_int_equal(it_count(w->dst[0], "t"), 0);
}

static void
test_single_row(void **state)
{
	world *w = *state;

	it_fill_mixed(w->src, "t", 1);
	copy_to_targets(w, 2, "(FORMAT csv)");
	assert_int_equal(it_count(w->dst[1], "t"), 1);
}

static void
test_rows_of_10mb(void **state)
{
	world *w = *state;

	it_exec(w->src, "INSERT INTO t (id, s, by) SELECT g, repeat(md5(g::text), 10 * 1024 * 1024 / 32), "
	                "decode(repeat('ab', 1024 * 1024), 'hex') FROM generate_series(1, 5) g");
	it_fill_mixed(w->src, "t", 0);
	it_exec(w->src, "INSERT INTO t (id, s) SELECT g, 'small' FROM generate_series(6, 1000) g");
	copy_to_targets(w, 2, "(FORMAT text)");
	copy_to_targets(w, 2, "(FORMAT binary)");
}

static void
test_csv_header_in_segments(void **state)
{
	world *w = *state;
	pgcm_copy *c;
	pgcm_format fmt;
	pgcm_progress total;
	char *want, *got;

	it_fill_mixed(w->src, "t", ROWS);
	/* Inside a transaction the receiver ends and restarts its COPY every 64 KiB. */
	it_exec(w->dst[0], "BEGIN");
	pgcm_format_init(&fmt, PGCM_FORMAT_CSV);
	fmt.header = 1;
	assert_int_equal(pgcm_producer_set_format(NULL, &fmt), PGCM_ERR_ARG);
	{
		pgcm_producer *p = pgcm_producer_pg(w->src, "COPY t TO STDOUT (FORMAT csv, HEADER true)");
		assert_int_equal(pgcm_producer_set_format(p, &fmt), PGCM_OK);
		c = pgcm_copy_new(p);
	}
	assert_int_equal(pgcm_copy_set_segment_bytes(c, 64 * 1024), PGCM_OK);
	assert_int_equal(pgcm_copy_set_window(c, 16 * 1024, 4), PGCM_OK);
	assert_int_equal(pgcm_copy_add(c, pgcm_receiver_pg(w->dst[0],
	                 "COPY t FROM STDIN (FORMAT csv, HEADER true)")), PGCM_OK);
	assert_int_equal(copy_cycles(c, &total, NULL), PGCM_DONE);
	assert_int_equal(pgcm_copy_finish(c, NULL), PGCM_OK);
	pgcm_copy_free(c);
	it_exec(w->dst[0], "COMMIT");
	want = it_table_checksum(w->src, "t");
	got = it_table_checksum(w->dst[0], "t");
	assert_string_equal(got, want);
	assert_int_equal(total.rows, ROWS);
	free(want);
	free(got);
}

static void
test_binary_in_segments(void **state)
{
	world *w = *state;
	pgcm_copy *c;
	pgcm_progress total;
	char *want;

	it_fill_mixed(w->src, "t", ROWS);
	for (int i = 0; i < 2; i++)
		it_exec(w->dst[i], "BEGIN");
	c = pgcm_copy_new(pgcm_producer_pg(w->src, "COPY t TO STDOUT (FORMAT binary)"));
	assert_int_equal(pgcm_copy_set_segment_bytes(c, 100 * 1000), PGCM_OK);
	assert_int_equal(pgcm_copy_set_window(c, 32 * 1024, 3), PGCM_OK);
	for (int i = 0; i < 2; i++)
		assert_int_equal(pgcm_copy_add(c, pgcm_receiver_pg(w->dst[i], "COPY t FROM STDIN (FORMAT binary)")),
		                 PGCM_OK);
	assert_int_equal(copy_cycles(c, &total, NULL), PGCM_DONE);
	assert_int_equal(pgcm_copy_finish(c, NULL), PGCM_OK);
	pgcm_copy_free(c);
	want = it_table_checksum(w->src, "t");
	for (int i = 0; i < 2; i++) {
		char *got;
		it_exec(w->dst[i], "COMMIT");
		got = it_table_checksum(w->dst[i], "t");
		assert_string_equal(got, want);
		free(got);
	}
	free(want);
}

static void
test_source_query(void **state)
{
	world *w = *state;
	pgcm_copy *c;
	pgcm_progress total;

	it_exec(w->dst[0], "DROP TABLE IF EXISTS q; CREATE TABLE q (i int, sq text)");
	it_exec(w->dst[1], "DROP TABLE IF EXISTS q; CREATE TABLE q (i int, sq text)");
	c = pgcm_copy_new(pgcm_producer_pg(w->src,
	                  "COPY (SELECT g, g * g || E'\\t!' FROM generate_series(1, 12345) g) TO STDOUT"));
	assert_int_equal(pgcm_copy_add(c, pgcm_receiver_pg(w->dst[0], "COPY q FROM STDIN")), PGCM_OK);
	assert_int_equal(pgcm_copy_add(c, pgcm_receiver_pg(w->dst[1], "COPY q FROM STDIN")), PGCM_OK);
	assert_int_equal(pgcm_copy_run(c, &total), PGCM_OK);
	pgcm_copy_free(c);
	assert_int_equal(total.rows, 12345);
	for (int i = 0; i < 2; i++) {
		char *sum = it_scalar(w->dst[i], "SELECT sum(i)::text || '/' || count(*) FROM q "
		                                 "WHERE sq = (i * i)::text || E'\\t!'");
		assert_string_equal(sum, "76205685/12345");
		free(sum);
	}
}

static void
test_transfer_one_call(void **state)
{
	world *w = *state;
	uint64_t rows = 0, bytes = 0;
	char err[256];
	PGconn *dsts[2] = {w->dst[0], w->dst[1]};

	it_exec(w->dst[0], "DROP TABLE IF EXISTS loading_table; CREATE TABLE loading_table (i int8)");
	it_exec(w->dst[1], "DROP TABLE IF EXISTS loading_table; CREATE TABLE loading_table (i int8)");
	assert_int_equal(pgcm_transfer(w->src, "COPY (SELECT i FROM generate_series(1, 100000) AS g(i)) TO STDOUT",
	                               dsts, "COPY loading_table FROM STDIN", 2, &rows, &bytes, err, sizeof err),
	                 PGCM_OK);
	assert_int_equal(rows, 100000);
	assert_true(bytes > 100000);
	assert_int_equal(it_count(w->dst[0], "loading_table"), 100000);
	assert_int_equal(it_count(w->dst[1], "loading_table"), 100000);
	/* A target that refuses makes the one call fail with the target's error. */
	it_exec(w->dst[1], "DROP TABLE loading_table");
	assert_int_not_equal(pgcm_transfer(w->src, "COPY (SELECT 1) TO STDOUT", dsts,
	                                   "COPY loading_table FROM STDIN", 2, &rows, &bytes, err, sizeof err),
	                     PGCM_OK);
	assert_non_null(strstr(err, "receiver 2"));
	assert_non_null(strstr(err, "loading_table"));
}

static void
test_target_refuses_at_start(void **state)
{
	world *w = *state;
	pgcm_copy *c;
	pgcm_fault f[3];
	pgcm_status st;
	pgcm_failure failure;

	it_fill_mixed(w->src, "t", 1000);
	it_exec(w->dst[1], "DROP TABLE t");
	c = pgcm_copy_new(pgcm_producer_pg(w->src, "COPY t TO STDOUT"));
	for (int i = 0; i < 3; i++) {
		pgcm_receiver *r = pgcm_receiver_pg(w->dst[i], "COPY t FROM STDIN");
		char label[32];
		snprintf(label, sizeof label, "target-%d", i + 1);
		assert_int_equal(pgcm_receiver_set_label(r, label), PGCM_OK);
		assert_int_equal(pgcm_copy_add(c, r), PGCM_OK);
	}
	/* Rows may move before the refusal arrives; the fault comes in an early cycle. */
	while ((st = pgcm_copy_next(c, NULL)) == PGCM_OK)
		;
	assert_int_equal(st, PGCM_FAULT);
	assert_int_equal(pgcm_copy_faults(c, f, 3), 1);
	assert_int_equal(f[0].index, 1);
	assert_string_equal(f[0].sqlstate, "42P01");
	assert_non_null(strstr(f[0].message, "receiver 2 (target-2)"));
	assert_non_null(strstr(f[0].message, "\"t\" does not exist"));
	assert_int_equal(f[0].reconcilable, 0);
	assert_int_equal(pgcm_copy_reconcile(c, f[0].receiver), PGCM_ERR_REFUSED);
	while ((st = pgcm_copy_next(c, NULL)) == PGCM_OK)
		;
	assert_int_equal(st, PGCM_DONE);
	assert_int_equal(pgcm_copy_finish(c, &failure), PGCM_FAULT);
	assert_int_equal(failure.nfaults, 1);
	assert_int_equal(pgcm_receiver_get_state(pgcm_copy_receiver(c, 1)), PGCM_RECEIVER_DROPPED);
	assert_int_equal(it_count(w->dst[0], "t"), 1000);
	assert_int_equal(it_count(w->dst[2], "t"), 1000);
	pgcm_copy_free(c);
	it_create_mixed_table(w->dst[1], "t");
}

static void
test_notices_do_not_stall(void **state)
{
	world *w = *state;
	pgcm_copy *c;
	pgcm_progress total;

	/* A trigger that raises a notice for every row: the target talks back all through the COPY. */
	it_exec(w->dst[0], "CREATE OR REPLACE FUNCTION noisy() RETURNS trigger LANGUAGE plpgsql AS "
	                   "$$BEGIN RAISE NOTICE 'row %% with a long notice text %%', NEW.id, repeat('x', 200); "
	                   "RETURN NEW; END$$; "
	                   "CREATE TRIGGER noisy BEFORE INSERT ON t FOR EACH ROW EXECUTE FUNCTION noisy()");
	it_fill_mixed(w->src, "t", ROWS);
	it_exec(w->dst[0], "BEGIN");
	c = pgcm_copy_new(pgcm_producer_pg(w->src, "COPY t TO STDOUT"));
	pgcm_copy_set_segment_bytes(c, 512 * 1024);
	pgcm_copy_add(c, pgcm_receiver_pg(w->dst[0], "COPY t FROM STDIN"));
	pgcm_copy_add(c, pgcm_receiver_pg(w->dst[1], "COPY t FROM STDIN"));
	assert_int_equal(copy_cycles(c, &total, NULL), PGCM_DONE);
	assert_int_equal(pgcm_copy_finish(c, NULL), PGCM_OK);
	pgcm_copy_free(c);
	it_exec(w->dst[0], "COMMIT");
	assert_int_equal(it_count(w->dst[0], "t"), ROWS);
	assert_int_equal(it_count(w->dst[1], "t"), ROWS);
	it_exec(w->dst[0], "DROP TRIGGER noisy ON t");
}

/* wait_notify: the first notification queued on conn, waiting up to 5 s. */
static PGnotify *
wait_notify(PGconn *conn)
{
	for (int i = 0; i < 50; i++) {
		PGnotify *n;
		struct pollfd pfd = {.fd = PQsocket(conn), .events = POLLIN};
		assert_int_equal(PQconsumeInput(conn), 1);
		if ((n = PQnotifies(conn)))
			return n;
		(void) poll(&pfd, 1, 100);
	}
	return NULL;
}

static void
test_notifications_survive_the_copy(void **state)
{
	world *w = *state;
	pgcm_copy *c;
	pgcm_status st;
	PGconn *other = it_connect(1), *other_dst = it_connect(2);
	PGnotify *n;
	int cycles = 0;

	it_fill_mixed(w->src, "t", ROWS);
	it_exec(w->src, "LISTEN copy_events");
	it_exec(w->dst[0], "LISTEN copy_events");
	c = pgcm_copy_new(pgcm_producer_pg(w->src, "COPY t TO STDOUT"));
	pgcm_copy_set_window(c, 8192, 2);
	pgcm_copy_add(c, pgcm_receiver_pg(w->dst[0], "COPY t FROM STDIN"));
	while ((st = pgcm_copy_next(c, NULL)) == PGCM_OK) {
		if (++cycles == 2) {
			it_exec(other, "NOTIFY copy_events, 'to the source'");
			it_exec(other_dst, "NOTIFY copy_events, 'to the target'");
		}
	}
	assert_int_equal(st, PGCM_DONE);
	assert_true(cycles > 2);
	assert_int_equal(pgcm_copy_finish(c, NULL), PGCM_OK);
	pgcm_copy_free(c);
	n = wait_notify(w->src);
	assert_non_null(n);
	assert_string_equal(n->relname, "copy_events");
	assert_string_equal(n->extra, "to the source");
	PQfreemem(n);
	n = wait_notify(w->dst[0]);
	assert_non_null(n);
	assert_string_equal(n->extra, "to the target");
	PQfreemem(n);
	it_exec(w->src, "UNLISTEN *");
	it_exec(w->dst[0], "UNLISTEN *");
	PQfinish(other);
	PQfinish(other_dst);
}

/* A slow callback receiver: the producer must wait for it, not fill memory. */
typedef struct slow_sink {
	pgcm_copy *copy;
	uint64_t bytes;
	uint64_t max_ahead;
	int calls;
} slow_sink;

static int
slow_write(void *arg, const char *buf, size_t len)
{
	slow_sink *s = arg;
	pgcm_progress t = pgcm_copy_totals(s->copy);
	uint64_t ahead;

	(void) buf;
	s->bytes += len;
	ahead = t.bytes - s->bytes;
	if (ahead > s->max_ahead)
		s->max_ahead = ahead;
	if (++s->calls % 16 == 0)
		usleep(2000);
	return 0;
}

static void
test_window_bounds_memory(void **state)
{
	world *w = *state;
	slow_sink sink = {0};
	pgcm_copy *c;
	pgcm_progress total;

	c = pgcm_copy_new(pgcm_producer_pg(w->src,
	                  "COPY (SELECT g, repeat('x', 100) FROM generate_series(1, 200000) g) TO STDOUT"));
	sink.copy = c;
	assert_int_equal(pgcm_copy_set_window(c, 16 * 1024, 4), PGCM_OK);
	pgcm_copy_add(c, pgcm_receiver_fn(slow_write, &sink));
	pgcm_copy_add(c, pgcm_receiver_null());
	assert_int_equal(pgcm_copy_run(c, &total), PGCM_OK);
	pgcm_copy_free(c);
	assert_int_equal(sink.bytes, total.bytes);
	/* Never more than the window (4 chunks of 16 KiB, each at most one row over) ahead. */
	assert_true(sink.max_ahead <= 4 * (16 * 1024 + 200));
	assert_true(total.bytes > 100 * sink.max_ahead / 10);
}

static void
test_bad_arguments(void **state)
{
	world *w = *state;
	pgcm_copy *c;

	assert_null(pgcm_copy_new(NULL));
	assert_null(pgcm_producer_pg(NULL, "COPY t TO STDOUT"));
	assert_null(pgcm_receiver_pg(w->dst[0], NULL));
	c = pgcm_copy_new(pgcm_producer_pg(w->src, "COPY t TO STDOUT"));
	assert_int_equal(pgcm_copy_start(c), PGCM_ERR_ARG);  /* no receivers */
	assert_non_null(strstr(pgcm_copy_errmsg(c), "no receivers"));
	assert_int_equal(pgcm_copy_add(c, NULL), PGCM_ERR_ARG);
	pgcm_copy_free(c);
	/* A producer command that is not COPY TO STDOUT is the producer's failure, reported. */
	c = pgcm_copy_new(pgcm_producer_pg(w->src, "SELECT 1"));
	pgcm_copy_add(c, pgcm_receiver_pg(w->dst[0], "COPY t FROM STDIN"));
	assert_int_equal(pgcm_copy_run(c, NULL), PGCM_ERR_PRODUCER);
	{
		pgcm_failure f;
		assert_int_equal(pgcm_copy_finish(c, &f), PGCM_ERR_PRODUCER);
		assert_non_null(f.producer_error);
		assert_non_null(strstr(f.producer_error, "not a COPY"));
	}
	pgcm_copy_free(c);
	assert_string_equal(pgcm_strerror(PGCM_ERR_REFUSED),
	                    "refused: the receiver's connection or COPY is gone");
}

IT_GROUP(copy)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_one_to_one_text, setup, teardown),
		cmocka_unit_test_setup_teardown(test_one_to_three_text, setup, teardown),
		cmocka_unit_test_setup_teardown(test_one_to_three_csv, setup, teardown),
		cmocka_unit_test_setup_teardown(test_one_to_three_binary, setup, teardown),
		cmocka_unit_test_setup_teardown(test_empty_source, setup, teardown),
		cmocka_unit_test_setup_teardown(test_single_row, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rows_of_10mb, setup, teardown),
		cmocka_unit_test_setup_teardown(test_csv_header_in_segments, setup, teardown),
		cmocka_unit_test_setup_teardown(test_binary_in_segments, setup, teardown),
		cmocka_unit_test_setup_teardown(test_source_query, setup, teardown),
		cmocka_unit_test_setup_teardown(test_transfer_one_call, setup, teardown),
		cmocka_unit_test_setup_teardown(test_target_refuses_at_start, setup, teardown),
		cmocka_unit_test_setup_teardown(test_notices_do_not_stall, setup, teardown),
		cmocka_unit_test_setup_teardown(test_notifications_survive_the_copy, setup, teardown),
		cmocka_unit_test_setup_teardown(test_window_bounds_memory, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_arguments, setup, teardown),
	};
	return it_add_group("copy", tests, NULL, NULL);
}
