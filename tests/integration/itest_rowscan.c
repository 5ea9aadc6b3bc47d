/*
 * itest_rowscan.c: the row scanner against a real PostgreSQL 15.
 *
 * Two directions.  COPY TO: the server writes tricky data (embedded newlines,
 * CRs, tabs, quotes, delimiters, backslashes, "\.", NULLs, empty strings,
 * non-ASCII, bytea, arrays) in every format; each CopyData message is one row
 * (for binary, the first message is the 19-byte header plus the first tuple
 * and the trailer is a message of its own), so the message boundaries are
 * the truth the scanner's units must equal, whatever the pieces.  COPY FROM:
 * hand-made inputs whose row boundaries are subtle are given to the server,
 * and its verdict (rows loaded, or an error) must equal the scanner's.
 * Tests are picked by name with PGCM_TEST_FILTER.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"
#include "internal.h"

typedef struct stream {
	char *data;
	size_t len, cap;
	size_t *ends;          /* expected unit ends */
	size_t nends, capends;
} stream;

static void
push_end(stream *st, size_t end)
{
	if (st->nends == st->capends) {
		st->capends = st->capends ? 2 * st->capends : 256;
		st->ends = realloc(st->ends, st->capends * sizeof *st->ends);
		assert_non_null(st->ends);
	}
	st->ends[st->nends++] = end;
}

/* copy_out: run sql (COPY ... TO STDOUT) and keep the bytes and the message ends. */
static void
copy_out(PGconn *conn, const char *sql, int binary, stream *st)
{
	PGresult *res = PQexec(conn, sql);
	char *buf;
	int n;

	memset(st, 0, sizeof *st);
	if (PQresultStatus(res) != PGRES_COPY_OUT) {
		print_error("%s: %s", sql, PQerrorMessage(conn));
		fail();
	}
	PQclear(res);
	while ((n = PQgetCopyData(conn, &buf, 0)) > 0) {
		if (st->len + (size_t) n > st->cap) {
			st->cap = (st->len + (size_t) n) * 2;
			st->data = realloc(st->data, st->cap);
			assert_non_null(st->data);
		}
		memcpy(st->data + st->len, buf, (size_t) n);
		if (binary && st->nends == 0) {
			assert_true(n > 19);
			push_end(st, 19);     /* the header, then the first tuple */
		}
		st->len += (size_t) n;
		push_end(st, st->len);
		PQfreemem(buf);
	}
	assert_int_equal(n, -1);
	while ((res = PQgetResult(conn)) != NULL) {
		assert_int_equal(PQresultStatus(res), PGRES_COMMAND_OK);
		PQclear(res);
	}
}

/* scan_check: the scanner's units over st in pieces of `piece` bytes equal the messages. */
static void
scan_check(const pgcm_format *fmt, const stream *st, size_t piece, const char *what)
{
	pgcm__rowscan s;
	size_t at = 0, unit = 0;
	pgcm__scan_kind k;

	pgcm__rowscan_init(&s, fmt);
	while (at < st->len) {
		size_t len = st->len - at < piece ? st->len - at : piece, pos = 0;

		while ((k = pgcm__rowscan_next(&s, st->data + at, len, &pos)) != PGCM__SCAN_MORE) {
			if (k == PGCM__SCAN_ERROR) {
				print_error("%s, pieces of %zu: %s\n", what, piece, s.error);
				fail();
			}
			if (unit >= st->nends || s.offset != st->ends[unit]) {
				print_error("%s, pieces of %zu: unit %zu ends at %llu, the server's at %zu\n",
				            what, piece, unit, (unsigned long long) s.offset,
				            unit < st->nends ? st->ends[unit] : (size_t) 0);
				fail();
			}
			unit++;
		}
		at += len;
	}
	k = pgcm__rowscan_eof(&s);
	if (k != PGCM__SCAN_MORE) {
		print_error("%s, pieces of %zu: eof gave %d (%s)\n", what, piece, (int) k, s.error);
		fail();
	}
	assert_int_equal(unit, st->nends);
}

static void
check_copy_out(PGconn *conn, const char *options, pgcm_format_kind kind, int header,
               char delimiter, char quote, char escape, long long rows)
{
	static const size_t pieces[] = { 1, 2, 3, 7, 64, 1000, 65536, (size_t) -1 };
	char sql[512];
	pgcm_format fmt;
	stream st;

	snprintf(sql, sizeof sql, "COPY rs_data TO STDOUT (%s)", options);
	copy_out(conn, sql, kind == PGCM_FORMAT_BINARY, &st);
	assert_true(st.nends >= (size_t) rows);
	pgcm_format_init(&fmt, kind);
	fmt.header = header;
	if (delimiter)
		fmt.delimiter = delimiter;
	if (quote)
		fmt.quote = quote;
	if (escape)
		fmt.escape = escape;
	for (size_t i = 0; i < sizeof pieces / sizeof pieces[0]; i++)
		scan_check(&fmt, &st, pieces[i], sql);
	/* The row count is the table's. */
	{
		pgcm__rowscan s;
		size_t pos = 0;

		pgcm__rowscan_init(&s, &fmt);
		while (pgcm__rowscan_next(&s, st.data, st.len, &pos) != PGCM__SCAN_MORE)
			;
		assert_int_equal(pgcm__rowscan_eof(&s), PGCM__SCAN_MORE);
		assert_int_equal(s.rows, rows);
	}
	free(st.data);
	free(st.ends);
}

static int
setup(void **state)
{
	PGconn *conn = it_connect(1);

	it_exec(conn,
	        "DROP TABLE IF EXISTS rs_data;"
	        "CREATE TABLE rs_data (id int, t text, b bytea, a text[], n numeric, e text);"
	        "INSERT INTO rs_data VALUES"
	        " (1, E'line1\\nline2', '\\x000d0a5c2e', ARRAY['a,b', 'c\"d', NULL], 1.5, ''),"
	        " (2, E'cr\\rcrlf\\r\\nend', '\\xff', ARRAY[E'x\\ny', '{}'], NULL, NULL),"
	        " (3, E'\\\\.', E'\\\\x5c2e0a', '{}', -0.001, E'\\\\.'),"
	        " (4, E'tab\\there, \"quoted\" ''single''', NULL, NULL, 'NaN', ','),"
	        " (5, E'caf\\u00e9 \\u20ac \\U0001F600', '\\x', ARRAY[E'\\u00e9'], 1e100, '\"'),"
	        " (6, E'\\n', E'\\\\x0a0a', ARRAY['', ' '], 0, E'\\\\'),"
	        " (7, E'\\\\.\\n\\\\.', NULL, ARRAY[E'\\\\.'], NULL, E'a\\\\\\nb'),"
	        " (8, E'\\r', NULL, NULL, NULL, E'\\r\\n'),"
	        " (9, 'N', NULL, ARRAY['NULL', 'null'], NULL, E'\\\\N'),"
	        " (10, E';''\\\\', NULL, NULL, NULL, E'''\\n''');"
	        "INSERT INTO rs_data SELECT g, repeat(E'x\\ny,\"z\"\\t', g %% 7), decode(md5(g::text), 'hex'),"
	        " ARRAY[g::text, NULL, E'q\"\\n'], g / 7.0, CASE WHEN g %% 3 = 0 THEN NULL ELSE E'\\\\' || g END"
	        " FROM generate_series(11, 2000) g;");
	*state = conn;
	return 0;
}

static int
teardown(void **state)
{
	PGconn *conn = *state;

	it_exec(conn, "DROP TABLE IF EXISTS rs_data, rs_in");
	PQfinish(conn);
	return 0;
}

static void
test_copy_out_text(void **state)
{
	check_copy_out(*state, "FORMAT text", PGCM_FORMAT_TEXT, 0, 0, 0, 0, 2000);
	check_copy_out(*state, "FORMAT text, DELIMITER '|', NULL 'nil'", PGCM_FORMAT_TEXT, 0, '|', 0, 0,
	               2000);
	check_copy_out(*state, "FORMAT text, HEADER", PGCM_FORMAT_TEXT, 1, 0, 0, 0, 2000);
}

static void
test_copy_out_csv(void **state)
{
	check_copy_out(*state, "FORMAT csv", PGCM_FORMAT_CSV, 0, 0, 0, 0, 2000);
	check_copy_out(*state, "FORMAT csv, HEADER", PGCM_FORMAT_CSV, 1, 0, 0, 0, 2000);
	check_copy_out(*state, "FORMAT csv, HEADER, DELIMITER ';', QUOTE '''', ESCAPE '\\'",
	               PGCM_FORMAT_CSV, 1, ';', '\'', '\\', 2000);
	check_copy_out(*state, "FORMAT csv, FORCE_QUOTE *", PGCM_FORMAT_CSV, 0, 0, 0, 0, 2000);
}

static void
test_copy_out_binary(void **state)
{
	check_copy_out(*state, "FORMAT binary", PGCM_FORMAT_BINARY, 0, 0, 0, 0, 2000);
}

/*
 * server_verdict: load data with COPY FROM STDIN (options) into a one-column
 * table; the number of rows loaded, or -1 when the server refused the data.
 */
static long long
server_verdict(PGconn *conn, const char *options, const char *data, size_t len, char *err,
               size_t errcap)
{
	char sql[256];
	PGresult *res;
	long long rows = -1;

	it_exec(conn, "DROP TABLE IF EXISTS rs_in; CREATE TABLE rs_in (v text)");
	snprintf(sql, sizeof sql, "COPY rs_in FROM STDIN (%s)", options);
	res = PQexec(conn, sql);
	assert_int_equal(PQresultStatus(res), PGRES_COPY_IN);
	PQclear(res);
	assert_int_equal(PQputCopyData(conn, data, (int) len), 1);
	assert_int_equal(PQputCopyEnd(conn, NULL), 1);
	err[0] = '\0';
	while ((res = PQgetResult(conn)) != NULL) {
		if (PQresultStatus(res) == PGRES_COMMAND_OK)
			rows = atoll(PQcmdTuples(res));
		else
			snprintf(err, errcap, "%s", PQresultErrorMessage(res));
		PQclear(res);
	}
	return rows;
}

/* scanner_verdict: the scanner's rows, or -1 on an error. */
static long long
scanner_verdict(const pgcm_format *fmt, const char *data, size_t len, char *err, size_t errcap)
{
	pgcm__rowscan s;
	size_t pos = 0;
	pgcm__scan_kind k;

	pgcm__rowscan_init(&s, fmt);
	err[0] = '\0';
	while ((k = pgcm__rowscan_next(&s, data, len, &pos)) != PGCM__SCAN_MORE) {
		if (k == PGCM__SCAN_ERROR) {
			snprintf(err, errcap, "%s", s.error);
			return -1;
		}
	}
	if (pgcm__rowscan_eof(&s) == PGCM__SCAN_ERROR) {
		snprintf(err, errcap, "%s", s.error);
		return -1;
	}
	return (long long) s.rows;
}

typedef struct verdict_case {
	const char *data;
	size_t len;
} verdict_case;

#define C(lit) { lit, sizeof(lit) - 1 }

static void
check_verdicts(PGconn *conn, const char *options, pgcm_format_kind kind, int header,
               const verdict_case *cases, size_t n)
{
	pgcm_format fmt;
	int failed = 0;

	pgcm_format_init(&fmt, kind);
	fmt.header = header;
	for (size_t i = 0; i < n; i++) {
		char serr[512], cerr[256];
		long long srv = server_verdict(conn, options, cases[i].data, cases[i].len, serr, sizeof serr);
		long long scn = scanner_verdict(&fmt, cases[i].data, cases[i].len, cerr, sizeof cerr);

		if (srv != scn) {
			print_error("(%s) case %zu: server %lld rows%s%s, scanner %lld rows%s%s\n", options, i,
			            srv, serr[0] ? ": " : "", serr, scn, cerr[0] ? ": " : "", cerr);
			failed = 1;
		}
	}
	if (failed)
		fail();
}

static void
test_copy_in_text(void **state)
{
	static const verdict_case cases[] = {
		C("a\nb\n"), C("a\\\nb\nc\n"), C("a\\\\\nb\n"), C("a\\\rb\n"),
		C("a\r\nb\r\n\\.\r\n"), C("a\rb\r\\.\r"), C("a\rb\r"), C("a\nb"), C("a\nb\\"),
		C("a\nabc\\.\n"), C("\\.\r\n"), C("\\.\r"), C("\\.\n"), C(""), C("\n\n"),
		C("a\r\nb\nc"), C("a\nb\rc\n"), C("a\r\nb\rc\r\n"), C("a\r\nb\r"), C("a\rb\n"),
		C("a\n\\."), C("\\.x\n"), C("a\n\\.\r\n"), C("a\r\n\\.\n"), C("a\r\n\\.\r\r"),
		C("a\r\n\\.x"), C("a\r\n\\.\r"), C("a\r\\.\n"), C("\\\\.\nb\n"), C("h\xc3\xa9\n"),
		C("a\r"), C("x\\\\\\\ny\n"),
	};

	check_verdicts(*state, "FORMAT text", PGCM_FORMAT_TEXT, 0, cases, sizeof cases / sizeof cases[0]);
	check_verdicts(*state, "FORMAT text, HEADER", PGCM_FORMAT_TEXT, 1, cases,
	               sizeof cases / sizeof cases[0]);
}

static void
test_copy_in_csv(void **state)
{
	static const verdict_case cases[] = {
		C("\"b\nc\"\n\"x\"\"y\"\n"), C("\"a,b\"\n"), C("\"\n\n\r\n\"\n"), C("a\\\nb\n"),
		C("a\nb"), C("a\n\"b\n"), C("\"a\"\"\n"), C("\"x\r\ny\"\r\nb\r\n"), C("a\rb\r"),
		C("a\r\nb\rc\r\n"), C("a\nb\r"), C("a\r\nb\n"), C("a\n\\.\n"), C("a\r\n\\.\r\n"),
		C("\\.x\n"), C("x\\.\n"), C("\"\\.\"\n"), C("a\n\\."), C("a\n\\"), C("a\r\n\\.x\r\n"),
		C("a\n\\.\r\n"), C("a\r\n\\.\rx\r\n"), C("a\r\n\\.\r"), C("\\.\n"), C("h\n\\.\n"),
		C("\"h\n1\"\r\n1\r\n"), C(""), C("\"\"\n\n"),
	};

	check_verdicts(*state, "FORMAT csv", PGCM_FORMAT_CSV, 0, cases, sizeof cases / sizeof cases[0]);
	check_verdicts(*state, "FORMAT csv, HEADER", PGCM_FORMAT_CSV, 1, cases,
	               sizeof cases / sizeof cases[0]);
}

#define BIN_HDR "PGCOPY\n\377\r\n\0\0\0\0\0\0\0\0\0"
#define BIN_ROW "\0\1\0\0\0\1x"
#define BIN_NULL "\0\1\377\377\377\377"
#define BIN_END "\377\377"

static void
test_copy_in_binary(void **state)
{
	static const verdict_case cases[] = {
		C(BIN_HDR BIN_END), C(BIN_HDR BIN_ROW BIN_NULL BIN_END), C(BIN_HDR BIN_ROW BIN_ROW),
		C(BIN_HDR), C(BIN_HDR BIN_ROW "\0\1\0\0\0\5ab"), C(BIN_HDR BIN_ROW "\0\1\0\0"),
		C(BIN_HDR BIN_ROW BIN_END "x"), C("PGCOPY\n\377\r\n\0\0\0\0\0\0\0\0\3abc" BIN_ROW BIN_END),
		C("PGCOPY\n\377\r\n\0\0\1\0\0\0\0\0\0" BIN_END), C("PGCOPY\n\377\r\n\0\0\2\0\0\0\0\0\0" BIN_END),
		C("PGCOPY\n\377\r\n\0\0\0\0\1\0\0\0\0" BIN_ROW BIN_END), C("PGCOPY\n\377\r\n"), C(""),
		C(BIN_HDR "\0\1\377\377\377\376" BIN_END), C("PGCOPY\n\377\r\n\0\0\0\0\0\0\0\0\5ab"),
	};

	check_verdicts(*state, "FORMAT binary", PGCM_FORMAT_BINARY, 0, cases,
	               sizeof cases / sizeof cases[0]);
}

IT_GROUP(rowscan)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_copy_out_text, setup, teardown),
		cmocka_unit_test_setup_teardown(test_copy_out_csv, setup, teardown),
		cmocka_unit_test_setup_teardown(test_copy_out_binary, setup, teardown),
		cmocka_unit_test_setup_teardown(test_copy_in_text, setup, teardown),
		cmocka_unit_test_setup_teardown(test_copy_in_csv, setup, teardown),
		cmocka_unit_test_setup_teardown(test_copy_in_binary, setup, teardown),
	};
	return it_add_group("rowscan", tests, NULL, NULL);
}
