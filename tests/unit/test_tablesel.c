/*
 * test_tablesel.c: table patterns translated to the regular expressions
 * pg_dump and psql match names with (cli/tablesel.c, compiled in with the
 * growing string it builds them in); no server is needed.  The resolution
 * on a server is tested by tests/integration/itest_compare.c, against
 * pg_dump's own choice.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "../../cli/strbuf.c"
#include "../../cli/tablesel.c"

/* expect: kind, text -> database, schema regex, name regex (NULL: none) and literal. */
static void
expect(enum tablesel_kind kind, const char *text, const char *database, const char *schema_re,
       const char *name_re, int literal)
{
	tablesel_pattern p;
	char *err = NULL;

	if (!tablesel_pattern_parse(kind, text, &p, &err))
		fail_msg("pattern \"%s\" refused: %s", text, err ? err : "(no message)");
	if ((database == NULL) != (p.database == NULL) || (database && strcmp(database, p.database) != 0)
	    || (schema_re == NULL) != (p.schema_re == NULL) || (schema_re && strcmp(schema_re, p.schema_re) != 0)
	    || strcmp(name_re, p.name_re) != 0 || literal != p.literal)
		fail_msg("pattern \"%s\":\n  got  db %s, schema %s, name %s, literal %d\n  want db %s, schema %s, "
		         "name %s, literal %d", text, p.database ? p.database : "-", p.schema_re ? p.schema_re : "-",
		         p.name_re, p.literal, database ? database : "-", schema_re ? schema_re : "-", name_re,
		         literal);
	assert_string_equal(p.text, text);
	assert_int_equal(p.kind, kind);
	tablesel_pattern_clear(&p);
}

/* refused: the pattern is an error whose message holds want. */
static void
refused(enum tablesel_kind kind, const char *text, const char *want)
{
	tablesel_pattern p;
	char *err = NULL;

	if (tablesel_pattern_parse(kind, text, &p, &err))
		fail_msg("pattern \"%s\" accepted, expected an error saying \"%s\"", text, want);
	assert_non_null(err);
	if (!strstr(err, want))
		fail_msg("pattern \"%s\": \"%s\" does not say \"%s\"", text, err, want);
	assert_null(p.text);
	assert_null(p.name_re);
	free(err);
}

/* Names fold to lower case unless quoted; dots split schema and name. */
static void
test_names_and_case(void **state)
{
	(void) state;
	expect(TABLESEL_TABLE, "orders", NULL, NULL, "^(orders)$", 1);
	expect(TABLESEL_TABLE, "Shop.Orders", NULL, "^(shop)$", "^(orders)$", 1);
	expect(TABLESEL_TABLE, "\"Shop\".Orders", NULL, "^(Shop)$", "^(orders)$", 1);
	expect(TABLESEL_TABLE, "sh\"Op\".x", NULL, "^(shOp)$", "^(x)$", 1);
	expect(TABLESEL_TABLE, "\"a\"\"b\"", NULL, NULL, "^(a\"b)$", 1);
	/* Only ASCII folds: a multi-byte letter is matched as written, quoted or not. */
	expect(TABLESEL_TABLE, "\xc3\x9cn\xc3\x8f", NULL, NULL, "^(\xc3\x9cn\xc3\x8f)$", 1);
	expect(TABLESEL_TABLE, "\"\xc3\x9cN\"", NULL, NULL, "^(\xc3\x9cN)$", 1);
	/* Empty parts stay empty: they match no name. */
	expect(TABLESEL_TABLE, ".orders", NULL, "^()$", "^(orders)$", 1);
	expect(TABLESEL_TABLE, "shop.", NULL, "^(shop)$", "^()$", 1);
	expect(TABLESEL_SCHEMA, "Shop", NULL, NULL, "^(shop)$", 1);
	expect(TABLESEL_EXCLUDE_SCHEMA, "\"Mixed Case\"", NULL, NULL, "^(Mixed Case)$", 1);
	expect(TABLESEL_EXCLUDE_TABLE, "s.t", NULL, "^(s)$", "^(t)$", 1);
}

/* * and ? are wildcards outside quotes; regular-expression characters pass through there. */
static void
test_wildcards(void **state)
{
	(void) state;
	expect(TABLESEL_TABLE, "shop.*", NULL, "^(shop)$", "^(.*)$", 0);
	expect(TABLESEL_TABLE, "*.ord?rs", NULL, "^(.*)$", "^(ord.rs)$", 0);
	expect(TABLESEL_TABLE, "t[0-9]", NULL, NULL, "^(t[0-9])$", 0);
	expect(TABLESEL_TABLE, "a|b", NULL, NULL, "^(a|b)$", 0);
	expect(TABLESEL_TABLE, "x+", NULL, NULL, "^(x+)$", 0);
	expect(TABLESEL_SCHEMA, "Sh*", NULL, NULL, "^(sh.*)$", 0);
}

/* Inside quotes every regular-expression character is escaped; $ and [] are literal anywhere. */
static void
test_quoted_specials(void **state)
{
	(void) state;
	expect(TABLESEL_TABLE, "\"a.b\"", NULL, NULL, "^(a\\.b)$", 1);
	expect(TABLESEL_TABLE, "\"Mixed\".\"a.b\"", NULL, "^(Mixed)$", "^(a\\.b)$", 1);
	expect(TABLESEL_TABLE, "\"x*y?\"", NULL, NULL, "^(x\\*y\\?)$", 1);
	expect(TABLESEL_TABLE, "\"(p)|[q]{2}^+\\\"", NULL, NULL, "^(\\(p\\)\\|\\[q\\]\\{2\\}\\^\\+\\\\)$", 1);
	expect(TABLESEL_TABLE, "a$b", NULL, NULL, "^(a\\$b)$", 1);
	expect(TABLESEL_TABLE, "\"a$b\"", NULL, NULL, "^(a\\$b)$", 1);
	expect(TABLESEL_TABLE, "x[]", NULL, NULL, "^(x\\[])$", 1);
	/* A quoted part next to an unquoted one: each character keeps its own rules. */
	expect(TABLESEL_TABLE, "A\"B.c\"*", NULL, NULL, "^(aB\\.c.*)$", 0);
}

/* Three parts: the first is the database, a plain name (folded, quotes removed). */
static void
test_database_part(void **state)
{
	(void) state;
	expect(TABLESEL_TABLE, "POSTGRES.shop.orders", "postgres", "^(shop)$", "^(orders)$", 1);
	expect(TABLESEL_TABLE, "\"My DB\".s.t*", "My DB", "^(s)$", "^(t.*)$", 0);
	expect(TABLESEL_TABLE, "post*.s.t", "post*", "^(s)$", "^(t)$", 0);
	expect(TABLESEL_SCHEMA, "db.Shop", "db", NULL, "^(shop)$", 1);
}

/* Too many dots, and unterminated quotes, are errors naming the pattern. */
static void
test_refused(void **state)
{
	(void) state;
	refused(TABLESEL_TABLE, "a.b.c.d", "too many dotted names): a.b.c.d");
	refused(TABLESEL_EXCLUDE_TABLE, "shop..orders.x", "too many dotted names");
	refused(TABLESEL_SCHEMA, "a.b.c", "too many dotted names): a.b.c");
	refused(TABLESEL_EXCLUDE_SCHEMA, "a.b.c", "too many dotted names");
	refused(TABLESEL_TABLE, "\"open", "unterminated quoted name in pattern \"\"open\"");
	refused(TABLESEL_TABLE, "s.\"a\"\"", "unterminated");
}

/* A selection collects patterns in order; the tables come only from a server. */
static void
test_selection_collects(void **state)
{
	tablesel s;
	char *err = NULL;

	(void) state;
	tablesel_init(&s);
	assert_int_equal(tablesel_add(&s, TABLESEL_TABLE, "shop.*", &err), 1);
	assert_int_equal(tablesel_add(&s, TABLESEL_EXCLUDE_TABLE, "shop.tmp", &err), 1);
	assert_int_equal(tablesel_add(&s, TABLESEL_SCHEMA, "a.b.c", &err), 0);
	assert_non_null(strstr(err, "too many dotted names"));
	free(err);
	assert_int_equal(s.npatterns, 2);
	assert_string_equal(s.patterns[1].name_re, "^(tmp)$");
	assert_int_equal(s.patterns[1].kind, TABLESEL_EXCLUDE_TABLE);
	assert_int_equal(tablesel_units(&s), 0);
	tablesel_free(&s);
	assert_int_equal(s.npatterns, 0);
	assert_null(s.patterns);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names_and_case),
		cmocka_unit_test(test_wildcards),
		cmocka_unit_test(test_quoted_specials),
		cmocka_unit_test(test_database_part),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_selection_collects),
	};

	return cmocka_run_group_tests_name("tablesel", tests, NULL, NULL);
}
