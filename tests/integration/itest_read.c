/*
 * itest_read.c: how a connection producer reads rows.  It copies each
 * CopyData message from libpq's buffer straight into a chunk, offering the
 * room left (the window's target plus PGCM__ROW_SLACK); a row that fills that
 * room exactly may or may not go on, and is checked in its format.  These
 * tests put rows at, just under and just over that room, and at its
 * multiples, in every format, the first row (which carries the binary header)
 * included, and check that every target gets every row exactly once, in one
 * COPY and in segments; that a CSV stream the producer was not told is CSV
 * fails loudly rather than loading a wrong count; and that running out of
 * memory in the middle of a row leaves every connection usable.
 *
 * Clusters: 1 is the source; 2 and 3 are targets.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"
#include "internal.h"

typedef it_world world;

IT_WORLD_FIXTURE(2, 0, 0)

/* With a window target of 1 byte, every row is read into a chunk of its own with this much room. */
#define ROOM ((size_t) 1 + PGCM__ROW_SLACK)

/* Message lengths: under, at and over the room, twice it and one over, and several times it. */
static const size_t lengths[] = {ROOM - 1, ROOM, ROOM + 1, 2 * ROOM, 2 * ROOM + 1, 5 * ROOM + 7};
#define NLENGTHS (sizeof lengths / sizeof lengths[0])

/* make_table: lr (id int, s text) on the source and both targets, empty. */
static void
make_table(world *w)
{
	it_exec(w->src, "DROP TABLE IF EXISTS lr; CREATE TABLE lr (id int, s text)");
	for (int i = 0; i < 2; i++)
		it_exec(w->dst[i], "DROP TABLE IF EXISTS lr; CREATE TABLE lr (id int, s text)");
}

/*
 * expect_stream_length: the premise of a test: the source's COPY in opts is
 * exactly want bytes (the sum of the message lengths meant).
 */
static void
expect_stream_length(world *w, const char *opts, size_t want)
{
	char sql[128];
	size_t len;
	char *out;

	snprintf(sql, sizeof sql, "COPY (SELECT * FROM lr ORDER BY id) TO STDOUT %s", opts);
	out = it_copy_out(w->src, sql, &len);
	free(out);
	assert_int_equal(len, want);
}

/*
 * copy_lr: lr from the source to both targets in opts (producer format
 * kind), one row per chunk; target 2 inside a transaction, so in segments of
 * about one row each (each replays the framing).  Returns the copy's status;
 * on success every target holds the source's rows.
 */
static pgcm_status
copy_lr(world *w, const char *opts, pgcm_format_kind kind, char *producer_error, size_t errlen)
{
	char to[128], from[128];
	pgcm_producer *p;
	pgcm_format fmt;
	pgcm_copy *c;
	pgcm_failure f;
	pgcm_progress total;
	pgcm_status st;

	snprintf(to, sizeof to, "COPY (SELECT * FROM lr ORDER BY id) TO STDOUT %s", opts);
	snprintf(from, sizeof from, "COPY lr FROM STDIN %s", opts);
	p = pgcm_producer_pg(w->src, to);
	pgcm_format_init(&fmt, kind);
	assert_int_equal(pgcm_producer_set_format(p, &fmt), PGCM_OK);
	c = pgcm_copy_new(p);
	assert_int_equal(pgcm_copy_set_window(c, 1, 4), PGCM_OK);
	assert_int_equal(pgcm_copy_set_segment_bytes(c, 1), PGCM_OK);
	it_exec(w->dst[1], "BEGIN");
	for (int i = 0; i < 2; i++)
		assert_int_equal(pgcm_copy_add(c, pgcm_receiver_pg(w->dst[i], from)), PGCM_OK);
	st = pgcm_copy_run(c, &total);
	(void) pgcm_copy_finish(c, &f);
	snprintf(producer_error, errlen, "%s", f.producer_error ? f.producer_error : "");
	if (st == PGCM_OK) {
		char *want = it_table_checksum(w->src, "lr");
		long long rows = it_count(w->src, "lr");

		it_exec(w->dst[1], "COMMIT");
		assert_int_equal(total.rows, rows);
		for (int i = 0; i < 2; i++) {
			char *got = it_table_checksum(w->dst[i], "lr");
			assert_string_equal(got, want);
			assert_int_equal(pgcm_receiver_rows(pgcm_copy_receiver(c, (size_t) i)), rows);
			free(got);
		}
		free(want);
	} else {
		it_exec(w->dst[1], "ROLLBACK");
	}
	pgcm_copy_free(c);
	return st;
}

/*
 * sized_rows: rows whose messages are lengths[] long, each followed by a
 * short one (so that the next message is most likely in libpq's buffer when
 * a long one is read: a piece taken for a whole row would meet it); then copy
 * them.  A message is overhead bytes more than its value s (ids have two
 * digits), the first first_extra more again, a short one short_len;
 * trailer: the bytes after the last message.
 */
static void
sized_rows(world *w, const char *opts, pgcm_format_kind kind, size_t overhead, size_t first_extra,
           size_t short_len, size_t trailer)
{
	size_t sum = trailer;
	char err[256];

	make_table(w);
	for (size_t i = 0; i < NLENGTHS; i++) {
		it_exec(w->src, "INSERT INTO lr VALUES (%zu, repeat('x', %zu)), (%zu, 'y')", 10 + 2 * i,
		        lengths[i] - overhead - (i == 0 ? first_extra : 0), 11 + 2 * i);
		sum += lengths[i] + short_len;
	}
	expect_stream_length(w, opts, sum);
	assert_int_equal(copy_lr(w, opts, kind, err, sizeof err), PGCM_OK);
}

static void
test_text_rows_around_the_room(void **state)
{
	/* "10\t" + s + "\n"; "11\ty\n" */
	sized_rows(*state, "", PGCM_FORMAT_TEXT, 4, 0, 5, 0);
}

static void
test_binary_rows_around_the_room(void **state)
{
	/* field count 2, id's length 4 and value 4, s's length 4; the header (19) before the first */
	sized_rows(*state, "(FORMAT binary)", PGCM_FORMAT_BINARY, 14, 19, 15, 2);
}

static void
test_csv_rows_around_the_room(void **state)
{
	world *w = *state;
	char err[256];

	/* "10," + s + "\n"; "11,y\n" */
	sized_rows(w, "(FORMAT csv)", PGCM_FORMAT_CSV, 4, 0, 5, 0);
	/*
	 * Quoted values ("1,\"" + s + "\"\n") whose piece of ROOM bytes ends
	 * just after a newline inside the quotes (once, and at twice the room),
	 * after a doubled quote, and between the two quotes of one: each is a
	 * piece, not a row.
	 */
	make_table(w);
	it_exec(w->src, "INSERT INTO lr VALUES (1, repeat('x', %zu) || E'\\n' || 'rest')", ROOM - 4);
	it_exec(w->src, "INSERT INTO lr VALUES (2, repeat('x', %zu) || E'\\nrest')", 2 * ROOM - 4);
	it_exec(w->src, "INSERT INTO lr VALUES (3, repeat('x', %zu) || '\"rest')", ROOM - 5);
	it_exec(w->src, "INSERT INTO lr VALUES (4, repeat('x', %zu) || '\"rest')", ROOM - 4);
	/* And a quoted value that ends exactly at the room: a whole row. */
	it_exec(w->src, "INSERT INTO lr VALUES (5, repeat('x', %zu) || E'\\ny')", ROOM - 7);
	expect_stream_length(w, "(FORMAT csv)",
	                     (ROOM + 6) + (2 * ROOM + 6) + (ROOM + 6) + (ROOM + 7) + ROOM);
	assert_int_equal(copy_lr(w, "(FORMAT csv)", PGCM_FORMAT_CSV, err, sizeof err), PGCM_OK);
}

/*
 * A CSV stream whose producer was told text: a piece that ends on a quoted
 * newline looks like a whole text row.  The copy must fail on the count the
 * server gives, and nothing may be loaded.
 */
static void
test_csv_told_text_fails_loudly(void **state)
{
	world *w = *state;
	char err[256];

	make_table(w);
	it_exec(w->src, "INSERT INTO lr VALUES (1, repeat('x', %zu) || E'\\n' || 'rest')", ROOM - 4);
	assert_int_equal(copy_lr(w, "(FORMAT csv)", PGCM_FORMAT_TEXT, err, sizeof err),
	                 PGCM_ERR_PRODUCER);
	assert_non_null(strstr(err, "the server counted 1 rows, 2 arrived"));
	for (int i = 0; i < 2; i++)
		assert_int_equal(it_count(w->dst[i], "lr"), 0);
}

/* Rows of every size up to a few rooms, in a normal window: every byte in place. */
static void
test_rows_of_every_size(void **state)
{
	world *w = *state;
	static const char *const opts[] = {"", "(FORMAT csv)", "(FORMAT binary)"};
	static const pgcm_format_kind kinds[] = {PGCM_FORMAT_TEXT, PGCM_FORMAT_CSV, PGCM_FORMAT_BINARY};

	make_table(w);
	it_exec(w->src, "INSERT INTO lr SELECT g, repeat(chr(65 + g %% 26), (g * 7919) %% (3 * %zu)) "
	                "|| CASE WHEN g %% 3 = 0 THEN E'\\n\"' ELSE '' END "
	                "FROM generate_series(1, 400) g", ROOM);
	for (int k = 0; k < 3; k++) {
		pgcm_copy *c;
		pgcm_producer *p;
		pgcm_format fmt;
		char to[128], from[128];
		char *want = it_table_checksum(w->src, "lr");

		for (int i = 0; i < 2; i++)
			it_exec(w->dst[i], "TRUNCATE lr");
		snprintf(to, sizeof to, "COPY lr TO STDOUT %s", opts[k]);
		snprintf(from, sizeof from, "COPY lr FROM STDIN %s", opts[k]);
		p = pgcm_producer_pg(w->src, to);
		pgcm_format_init(&fmt, kinds[k]);
		assert_int_equal(pgcm_producer_set_format(p, &fmt), PGCM_OK);
		c = pgcm_copy_new(p);
		for (int i = 0; i < 2; i++)
			assert_int_equal(pgcm_copy_add(c, pgcm_receiver_pg(w->dst[i], from)), PGCM_OK);
		assert_int_equal(pgcm_copy_run(c, NULL), PGCM_OK);
		pgcm_copy_free(c);
		for (int i = 0; i < 2; i++) {
			char *got = it_table_checksum(w->dst[i], "lr");
			assert_string_equal(got, want);
			free(got);
		}
		free(want);
	}
}

/*
 * Every allocation of a copy of long rows fails in turn, the chunk growing
 * in the middle of a row among them: each run ends in success or an error,
 * loads all or nothing, and leaves every connection idle and usable (the
 * abort's drain reads the rest of the row that was being read).
 */
static void
test_out_of_memory_mid_row(void **state)
{
	world *w = *state;
	int completed = 0, failed = 0;

	make_table(w);
	it_exec(w->src, "INSERT INTO lr SELECT g, repeat('x', %zu) FROM generate_series(1, 20) g", 5 * ROOM);
	for (long n = 0; n < 400 && !completed; n++) {
		pgcm_copy *c;
		pgcm_status st = PGCM_ERR_NOMEM;

		it_exec(w->dst[0], "TRUNCATE lr");
		pgcm__alloc_fail_after(n);
		c = pgcm_copy_new(pgcm_producer_pg(w->src, "COPY lr TO STDOUT"));
		if (c && pgcm_copy_add(c, pgcm_receiver_pg(w->dst[0], "COPY lr FROM STDIN")) == PGCM_OK)
			st = pgcm_copy_run(c, NULL);
		pgcm_copy_free(c);
		pgcm__alloc_fail_after(-1);
		it_assert_usable(w->src);
		it_assert_usable(w->dst[0]);
		if (st == PGCM_OK) {
			completed = 1;
			assert_int_equal(it_count(w->dst[0], "lr"), 20);
		} else {
			failed++;
			assert_int_equal(it_count(w->dst[0], "lr"), 0);
		}
	}
	assert_true(completed);
	assert_true(failed > 0);
}

IT_GROUP(read)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_text_rows_around_the_room, setup, teardown),
		cmocka_unit_test_setup_teardown(test_binary_rows_around_the_room, setup, teardown),
		cmocka_unit_test_setup_teardown(test_csv_rows_around_the_room, setup, teardown),
		cmocka_unit_test_setup_teardown(test_csv_told_text_fails_loudly, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rows_of_every_size, setup, teardown),
		cmocka_unit_test_setup_teardown(test_out_of_memory_mid_row, setup, teardown),
	};
	return it_add_group("read", tests, NULL, NULL);
}
