/*
 * test_sqltext.c: --query's end made fit for COPY (...) TO STDOUT
 * (cli/sqltext.c): a trailing ';', white space and comments go; a ';' or
 * "--" inside strings, quoted names, dollar quotes and comments stays; a
 * second statement is refused.  No server needed.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "../../cli/sqltext.c"

static void
expect_strip(const char *query, const char *want)
{
	const char *err = NULL;
	char *got = cli_query_strip(query, &err);

	if (!got) {
		print_error("strip of \"%s\": error \"%s\", want \"%s\"\n", query, err ? err : "?", want);
		fail();
	}
	if (strcmp(got, want) != 0) {
		print_error("strip of \"%s\":\n  got  \"%s\"\n  want \"%s\"\n", query, got, want);
		fail();
	}
	free(got);
}

static void
expect_refused(const char *query, const char *why)
{
	const char *err = NULL;
	char *got = cli_query_strip(query, &err);

	if (got) {
		print_error("strip of \"%s\" should be refused, got \"%s\"\n", query, got);
		fail();
	}
	assert_non_null(err);
	if (!strstr(err, why)) {
		print_error("strip of \"%s\": error \"%s\" lacks \"%s\"\n", query, err, why);
		fail();
	}
}

static void
test_trailing_semicolon_and_comments_go(void **state)
{
	(void) state;
	expect_strip("SELECT 1", "SELECT 1");
	expect_strip("SELECT 1;", "SELECT 1");
	expect_strip("SELECT 1 ;  \n\t", "SELECT 1");
	expect_strip("SELECT 1;;", "SELECT 1");
	expect_strip("SELECT 1; -- the end", "SELECT 1");
	expect_strip("SELECT 1 -- no semicolon, a comment", "SELECT 1");
	expect_strip("SELECT 1; /* block /* nested */ comment */ ", "SELECT 1");
	expect_strip("SELECT a, b FROM t WHERE a > 1\n;\n", "SELECT a, b FROM t WHERE a > 1");
	expect_strip("  SELECT 1  ", "  SELECT 1");
}

static void
test_quoted_text_stays(void **state)
{
	(void) state;
	expect_strip("SELECT ';'", "SELECT ';'");
	expect_strip("SELECT ';';", "SELECT ';'");
	expect_strip("SELECT 'it''s; -- not a comment';", "SELECT 'it''s; -- not a comment'");
	expect_strip("SELECT 1 AS \";\";", "SELECT 1 AS \";\"");
	expect_strip("SELECT 1 AS \"a\"\"; b\";", "SELECT 1 AS \"a\"\"; b\"");
	expect_strip("SELECT $$a; b -- c$$;", "SELECT $$a; b -- c$$");
	expect_strip("SELECT $fn$ $$; $fn$ ;", "SELECT $fn$ $$; $fn$");
	expect_strip("SELECT E'a\\'; b';", "SELECT E'a\\'; b'");
	/* Standard strings: a backslash is a character, the quote after it closes. */
	expect_strip("SELECT 'a\\';", "SELECT 'a\\'");
	expect_strip("SELECT x FROM t WHERE y = $1;", "SELECT x FROM t WHERE y = $1");
	expect_strip("SELECT /* ; */ 1;", "SELECT /* ; */ 1");
	expect_strip("SELECT 1 -- ;\n + 2;", "SELECT 1 -- ;\n + 2");
	expect_strip("SELECT 5-3;", "SELECT 5-3");
	expect_strip("SELECT 'x'::text;", "SELECT 'x'::text");
}

static void
test_unterminated_text_goes_to_the_server_whole(void **state)
{
	(void) state;
	/* The server says what is wrong with it; nothing is cut. */
	expect_strip("SELECT 'open;", "SELECT 'open;");
	expect_strip("SELECT 1 /* open;", "SELECT 1 /* open;");
	expect_strip("SELECT $$open;", "SELECT $$open;");
}

static void
test_second_statement_and_empty_refused(void **state)
{
	(void) state;
	expect_refused("SELECT 1; SELECT 2", "one statement");
	expect_refused("SELECT 1; DROP TABLE t;", "one statement");
	expect_refused("", "empty");
	expect_refused(" ; -- nothing", "empty");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_trailing_semicolon_and_comments_go),
		cmocka_unit_test(test_quoted_text_stays),
		cmocka_unit_test(test_unterminated_text_goes_to_the_server_whole),
		cmocka_unit_test(test_second_statement_and_empty_refused),
	};

	return cmocka_run_group_tests_name("sqltext", tests, NULL, NULL);
}
