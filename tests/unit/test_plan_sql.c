/*
 * test_plan_sql.c: the copy plan's text handling without a server: names
 * read as SQL reads them (case folding of ASCII only, quotes, dots, lists,
 * nothing truncated), CSV header fields, growing strings, and every
 * allocation failing in turn.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "plan_int.h"

/* parse: text as names, joined with '|' into out ("" on error, which goes to *err). */
static void
parse(const char *text, char sep, size_t max, char *out, size_t size, const char **err)
{
	pgcm__names n;

	out[0] = '\0';
	*err = pgcm__parse_names(text, sep, max, &n);
	if (*err)
		return;
	for (size_t i = 0; i < n.n; i++)
		snprintf(out + strlen(out), size - strlen(out), "%s%s", i ? "|" : "", n.v[i]);
	pgcm__names_free(&n);
}

static void
test_names_as_sql_reads_them(void **state)
{
	static const struct {
		const char *text;
		char sep;
		const char *want;       /* NULL: an error */
		const char *err;
	} cases[] = {
		{"Orders", '.', "orders", NULL},
		{"Sales.Orders", '.', "sales|orders", NULL},
		{" \"My Schema\" . \"Odd \"\"T\"\"\" ", '.', "My Schema|Odd \"T\"", NULL},
		{"db.s.t", '.', "db|s|t", NULL},
		{"\u00c9T\u00c9", '.', "\u00c9t\u00c9", NULL},          /* only ASCII folds */
		{"a.b.c.d", '.', NULL, "too many dotted parts"},
		{"\"open", '.', NULL, "unterminated quoted identifier"},
		{"\"\"", '.', NULL, "zero-length quoted identifier"},
		{"a..b", '.', NULL, "empty identifier"},
		{"t; DROP TABLE t", '.', NULL, "unexpected character after a name"},
		{"id, LAST_NAME ,\"First Name\"", ',', "id|last_name|First Name", NULL},
		{"a,,b", ',', NULL, "empty identifier"},
		{"a\"b\"", ',', NULL, "unexpected character after a name"},
	};
	char out[256], long_name[200];
	const char *err;
	(void) state;

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		parse(cases[i].text, cases[i].sep, cases[i].sep == '.' ? 3 : 1600, out, sizeof out, &err);
		if (cases[i].want) {
			if (err || strcmp(out, cases[i].want) != 0)
				fail_msg("case %zu (%s): got \"%s\" (%s), want \"%s\"", i, cases[i].text, out,
				         err ? err : "ok", cases[i].want);
		} else if (!err || strcmp(err, cases[i].err) != 0) {
			fail_msg("case %zu (%s): got %s, want the error \"%s\"", i, cases[i].text,
			         err ? err : out, cases[i].err);
		}
	}
	/* A long name is kept whole: the plan checks the 63-byte limit itself. */
	memset(long_name, 'x', 100);
	long_name[100] = '\0';
	parse(long_name, '.', 3, out, sizeof out, &err);
	assert_null(err);
	assert_int_equal(strlen(out), 100);
}

static void
test_csv_header_fields(void **state)
{
	pgcm_format csv, text, esc;
	pgcm__names n;
	(void) state;

	pgcm_format_init(&csv, PGCM_FORMAT_CSV);
	pgcm_format_init(&text, PGCM_FORMAT_TEXT);
	pgcm_format_init(&esc, PGCM_FORMAT_CSV);
	esc.escape = '\\';
	esc.delimiter = ';';
	assert_null(pgcm__csv_fields("id,\"a,b\",\"say \"\"hi\"\"\",\r\n", strlen("id,\"a,b\",\"say \"\"hi\"\"\",\r\n"), &csv, &n));
	assert_int_equal(n.n, 4);
	assert_string_equal(n.v[0], "id");
	assert_string_equal(n.v[1], "a,b");
	assert_string_equal(n.v[2], "say \"hi\"");
	assert_string_equal(n.v[3], "");
	pgcm__names_free(&n);
	assert_null(pgcm__csv_fields("x;\"q\\\"\\\\\";z", strlen("x;\"q\\\"\\\\\";z"), &esc, &n));
	assert_int_equal(n.n, 3);
	assert_string_equal(n.v[1], "q\"\\");
	pgcm__names_free(&n);
	assert_null(pgcm__csv_fields("a\t\"b\"\n", strlen("a\t\"b\"\n"), &text, &n));
	assert_int_equal(n.n, 2);
	assert_string_equal(n.v[1], "\"b\"");
	pgcm__names_free(&n);
	assert_string_equal(pgcm__csv_fields("a,\"open\n", strlen("a,\"open\n"), &csv, &n),
	                    "unterminated quoted field in the header line");
}

static void
test_growing_string(void **state)
{
	pgcm__buf b = {0};
	char *s;
	(void) state;

	for (int i = 0; i < 1000; i++)
		pgcm__buf_addf(&b, "%d,", i);
	s = pgcm__buf_take(&b);
	assert_non_null(s);
	assert_int_equal(strlen(s), 3890);
	assert_null(b.data);
	pgcm__free(s);
	/* An empty string is a string; a failed one is NULL and frees what it held. */
	s = pgcm__buf_take(&b);
	assert_string_equal(s, "");
	pgcm__free(s);
	pgcm__buf_add(&b, "kept");
	pgcm__alloc_fail_after(0);
	pgcm__buf_addf(&b, "%s", "more than the first block holds");
	pgcm__alloc_fail_after(-1);
	assert_true(b.failed);
	assert_null(pgcm__buf_take(&b));
	assert_null(b.data);
}

/* Every allocation of the parsers fails in turn: an error, never a crash or a leak. */
static void
test_out_of_memory(void **state)
{
	pgcm_format csv;
	int completed = 0;
	(void) state;

	pgcm_format_init(&csv, PGCM_FORMAT_CSV);
	for (long n = 0; n < 200 && !completed; n++) {
		pgcm__names a = {0}, b = {0};
		const char *ea, *eb;
		pgcm__alloc_fail_after(n);
		ea = pgcm__parse_names("\"S\", t, u, \"V w\"", ',', 1600, &a);
		eb = pgcm__csv_fields("id,\"a,b\",c\n", strlen("id,\"a,b\",c\n"), &csv, &b);
		pgcm__alloc_fail_after(-1);
		if (ea)
			assert_string_equal(ea, "out of memory");
		if (eb)
			assert_string_equal(eb, "out of memory");
		completed = !ea && !eb;
		if (completed) {
			assert_int_equal(a.n, 4);
			assert_int_equal(b.n, 3);
		}
		pgcm__names_free(&a);
		pgcm__names_free(&b);
	}
	assert_true(completed);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names_as_sql_reads_them),
		cmocka_unit_test(test_csv_header_fields),
		cmocka_unit_test(test_growing_string),
		cmocka_unit_test(test_out_of_memory),
	};

	return cmocka_run_group_tests_name("plan sql", tests, NULL, NULL);
}
