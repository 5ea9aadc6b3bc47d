/*
 * itest_plan_tables.c: the copy plan's relations and columns, through the
 * library: columns matched by name in another order, missing and extra
 * columns, generated and identity columns, an inheritance parent, a
 * partitioned table as source and as target, a view, a query, quoted,
 * mixed-case and unicode names, a 64-byte name, the CSV header check, and a
 * source whose row-level security would hide rows.
 *
 * Clusters: 1 is the source; 2 and 3 are targets.  Database "plantab".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"
#include "pgcopyman.h"
#include "internal.h"

#define DB "plantab"

typedef it_trio world;

static int
setup(void **state)
{
	return it_trio_setup(state, DB);
}

/* both: the same SQL on the source and the first target. */
static void
both(world *w, const char *sql)
{
	it_exec(w->src, "%s", sql);
	it_exec(w->dst, "%s", sql);
}

/* has_finding: some problem (or note) mentions every one of the strings. */
static int
has_finding(const pgcm_plan *p, int notes, const char *a, const char *b)
{
	size_t n = notes ? pgcm_plan_note_count(p) : pgcm_plan_problem_count(p);

	for (size_t i = 0; i < n; i++) {
		const char *m = (notes ? pgcm_plan_note(p, i) : pgcm_plan_problem(p, i))->message;
		if (strstr(m, a) && (!b || strstr(m, b)))
			return 1;
	}
	return 0;
}

/* expect_problem: the build refuses, with a problem that says a (and b). */
static void
expect_problem(pgcm_plan *p, const char *a, const char *b)
{
	assert_int_equal(pgcm_plan_build(p), PGCM_ERR_PLAN);
	if (!has_finding(p, 0, a, b))
		fail_msg("no problem says \"%s\"%s%s: %s", a, b ? " and " : "", b ? b : "", pgcm_plan_errmsg(p));
	assert_null(pgcm_plan_source_command(p));
}

/* copy_ok: build and run the plan; fails the test unless every target committed. */
static void
copy_ok(world *w, pgcm_plan *p, PGconn *const *dst, int ndst)
{
	char err[512];

	if (pgcm_plan_build(p) != PGCM_OK)
		fail_msg("plan refused: %s", pgcm_plan_errmsg(p));
	if (it_plan_run(w->src, dst, ndst, p, err, sizeof err) != PGCM_OK)
		fail_msg("copy failed: %s (source: %s)", err, pgcm_plan_source_command(p));
}

static void
test_columns_by_name(void **state)
{
	world *w = *state;
	pgcm_plan *p;

	it_exec(w->src, "CREATE TABLE people (id int, last_name text, first_name text, note text); "
	                "INSERT INTO people VALUES (1, 'Lovelace', 'Ada', 'n1'), (2, 'Hopper', 'Grace', NULL)");
	/* Another order, one column fewer, one more (with a default), one NOT NULL without a default. */
	it_exec(w->dst, "CREATE TABLE people (first_name text, id int, last_name text, "
	                "added text DEFAULT 'dflt')");
	p = it_plan_new(w->src, &w->dst, 1, "people", "auto");
	expect_problem(p, "column note: target 1 (public.people) has no such column", "--columns");
	pgcm_plan_free(p);

	p = it_plan_new(w->src, &w->dst, 1, "people", "auto");
	assert_int_equal(pgcm_plan_set_columns(p, "id, LAST_NAME, \"first_name\""), PGCM_OK);
	copy_ok(w, p, &w->dst, 1);
	assert_string_equal(pgcm_plan_target_command(p, 0),
	                    "COPY \"public\".\"people\" (\"id\", \"last_name\", \"first_name\") FROM STDIN (FORMAT binary)");
	assert_true(has_finding(p, 1, "column added of target 1 is not copied: it gets its default", NULL));
	pgcm_plan_free(p);
	it_expect_sql(w->dst, "SELECT string_agg(id || ':' || first_name || ' ' || last_name || ' ' || added, ',' "
	                    "ORDER BY id) FROM people", "1:Ada Lovelace dflt,2:Grace Hopper dflt");

	/* A column list naming a column the source lacks; listed twice; a NOT NULL target column left out. */
	it_exec(w->dst, "ALTER TABLE people ADD COLUMN must int NOT NULL DEFAULT 0; "
	                "ALTER TABLE people ALTER COLUMN must DROP DEFAULT");
	p = it_plan_new(w->src, &w->dst, 1, "people", "auto");
	assert_int_equal(pgcm_plan_set_columns(p, "id, nosuch, id"), PGCM_OK);
	assert_int_equal(pgcm_plan_build(p), PGCM_ERR_PLAN);
	assert_true(has_finding(p, 0, "source table public.people has no column nosuch", NULL));
	assert_true(has_finding(p, 0, "column id: listed twice", NULL));
	assert_true(has_finding(p, 0, "column must: NOT NULL without a default on target 1", NULL));
	pgcm_plan_free(p);
	/* A malformed list. */
	p = it_plan_new(w->src, &w->dst, 1, "people", "auto");
	assert_int_equal(pgcm_plan_set_columns(p, "id, \"open"), PGCM_OK);
	expect_problem(p, "unterminated quoted identifier", NULL);
	pgcm_plan_free(p);

	/* Dropped columns do not exist, on either side. */
	it_exec(w->src, "CREATE TABLE dropped (a int, gone int, b text); ALTER TABLE dropped DROP COLUMN gone; "
	                "INSERT INTO dropped VALUES (1, 'x')");
	it_exec(w->dst, "CREATE TABLE dropped (old int, b text, a int); ALTER TABLE dropped DROP COLUMN old");
	p = it_plan_new(w->src, &w->dst, 1, "dropped", "auto");
	copy_ok(w, p, &w->dst, 1);
	assert_string_equal(pgcm_plan_source_command(p), "COPY \"public\".\"dropped\" (\"a\", \"b\") TO STDOUT "
	                    "(FORMAT binary)");
	pgcm_plan_free(p);
	it_expect_sql(w->dst, "SELECT a || b FROM dropped", "1x");
}

static void
test_generated_and_identity_columns(void **state)
{
	world *w = *state;
	PGconn *two[2] = {w->dst, w->dst2};
	pgcm_plan *p;
	char err[256], *range;

	/* total: plain on the source, generated on the targets; twice: generated on the source only. */
	it_exec(w->src, "CREATE TABLE g (id int, a int, total int, twice int GENERATED ALWAYS AS (a * 2) STORED); "
	                "INSERT INTO g (id, a, total) VALUES (1, 10, 999), (2, 20, NULL)");
	it_exec(w->dst, "CREATE TABLE g (id int GENERATED ALWAYS AS IDENTITY, a int, "
	                "total int GENERATED ALWAYS AS (a + 1) STORED, twice int)");
	it_exec(w->dst2, "CREATE TABLE g (id int GENERATED ALWAYS AS IDENTITY, a int, "
	                 "total int GENERATED ALWAYS AS (a + 1) STORED, twice int)");
	p = it_plan_new(w->src, two, 2, "g", "auto");
	copy_ok(w, p, two, 2);
	/* The source's generated column is read with SELECT; COPY's column list would refuse it. */
	assert_non_null(strstr(pgcm_plan_source_command(p), "COPY (SELECT \"id\", \"a\", \"twice\" FROM ONLY \"public\".\"g\")"));
	assert_true(has_finding(p, 1, "column total is generated on target 1: computed there", NULL));
	assert_true(has_finding(p, 1, "column twice is generated on the source: its values are copied", NULL));
	assert_true(has_finding(p, 1, "column id is an identity column on target 2", NULL));
	/* A range of the table, as --jobs reads it: the same columns, ONLY, the condition. */
	range = pgcm_plan_source_command_range(p, "id >= 2");
	assert_non_null(range);
	assert_non_null(strstr(range, "FROM ONLY \"public\".\"g\" WHERE (id >= 2)) TO STDOUT"));
	it_exec(w->dst2, "TRUNCATE g");
	{
		pgcm_producer *prod = pgcm_producer_pg(w->src, range);
		pgcm_copy *c = pgcm_copy_new(prod);
		assert_int_equal(pgcm_copy_add(c, pgcm_receiver_pg(w->dst2, pgcm_plan_target_command(p, 1))), PGCM_OK);
		assert_int_equal(pgcm_copy_run(c, NULL), PGCM_OK);
		pgcm_copy_free(c);
	}
	pgcm_free(range);
	pgcm_plan_free(p);
	/* Identity values are the source's (GENERATED ALWAYS included); generated ones the target's. */
	it_expect_sql(w->dst, "SELECT string_agg(id || ':' || a || ':' || total || ':' || twice, ',' ORDER BY id) FROM g",
	            "1:10:11:20,2:20:21:40");
	it_expect_sql(w->dst2, "SELECT string_agg(id || ':' || total, ',') FROM g", "2:21");

	/* Generated on one target but not the other: one stream cannot serve both. */
	it_exec(w->dst2, "DROP TABLE g; CREATE TABLE g (id int, a int, total int, twice int)");
	p = it_plan_new(w->src, two, 2, "g", "auto");
	expect_problem(p, "column total: generated on target 1 but not on target 2", NULL);
	pgcm_plan_free(p);
	/* A column list naming a column the target generates. */
	p = it_plan_new(w->src, &w->dst, 1, "g", "auto");
	assert_int_equal(pgcm_plan_set_columns(p, "a, total"), PGCM_OK);
	expect_problem(p, "column total: generated on target 1, which computes it", NULL);
	pgcm_plan_free(p);
	(void) err;
}

static void
test_inheritance_partitions_views(void **state)
{
	world *w = *state;
	pgcm_plan *p;
	char *range;

	/* An inheritance parent: its own rows only, as COPY parent TO does. */
	both(w, "CREATE TABLE parent (id int, s text); CREATE TABLE child (extra int) INHERITS (parent)");
	it_exec(w->src, "INSERT INTO parent SELECT g, 'p' FROM generate_series(1, 10) g; "
	                "INSERT INTO child SELECT g, 'c', 1 FROM generate_series(11, 40) g");
	p = it_plan_new(w->src, &w->dst, 1, "parent", "text");
	copy_ok(w, p, &w->dst, 1);
	assert_true(has_finding(p, 1, "has inheritance children: only its own rows are copied (ONLY)", NULL));
	range = pgcm_plan_source_command_range(p, "true");
	assert_non_null(strstr(range, "FROM ONLY \"public\".\"parent\""));
	assert_int_equal(pgcm_plan_source_relkind(p), 'r');
	assert_string_equal(pgcm_plan_source_relation(p), "ONLY \"public\".\"parent\"");
	pgcm_free(range);
	pgcm_plan_free(p);
	assert_int_equal(it_count(w->dst, "ONLY parent"), 10);

	/* A partitioned table as the source (every partition) and as the target (rows routed). */
	both(w, "CREATE TABLE part (id int, s text) PARTITION BY RANGE (id); "
	        "CREATE TABLE part_lo PARTITION OF part FOR VALUES FROM (0) TO (50); "
	        "CREATE TABLE part_hi PARTITION OF part FOR VALUES FROM (50) TO (1000)");
	it_exec(w->src, "INSERT INTO part SELECT g, 's' || g FROM generate_series(1, 100) g");
	p = it_plan_new(w->src, &w->dst, 1, "part", "auto");
	copy_ok(w, p, &w->dst, 1);
	assert_non_null(strstr(pgcm_plan_source_command(p), "COPY (SELECT \"id\", \"s\" FROM \"public\".\"part\")"));
	assert_int_equal(pgcm_plan_source_relkind(p), 'p');
	pgcm_plan_free(p);
	assert_int_equal(it_count(w->dst, "part_lo"), 49);
	assert_int_equal(it_count(w->dst, "part_hi"), 51);

	/* A view as the source. */
	it_exec(w->src, "CREATE VIEW v_part AS SELECT id, upper(s) AS s FROM part WHERE id <= 5");
	it_exec(w->dst, "CREATE TABLE v_part (s text, id int)");
	p = it_plan_new(w->src, &w->dst, 1, "v_part", "auto");
	copy_ok(w, p, &w->dst, 1);
	assert_true(has_finding(p, 1, "is a view: it is read with COPY (SELECT ...)", NULL));
	pgcm_plan_free(p);
	it_expect_sql(w->dst, "SELECT string_agg(s, ',' ORDER BY id) FROM v_part", "S1,S2,S3,S4,S5");

	/* A view or a sequence cannot be a target; a sequence is not a source. */
	it_exec(w->dst, "CREATE VIEW vv AS SELECT 1 AS id; CREATE SEQUENCE sq");
	it_exec(w->src, "CREATE TABLE vv (id int); CREATE SEQUENCE sq");
	p = it_plan_new(w->src, &w->dst, 1, "vv", "auto");
	expect_problem(p, "target 1: public.vv is a view: COPY loads only tables", NULL);
	pgcm_plan_free(p);
	p = it_plan_new(w->src, &w->dst, 1, "sq", "auto");
	expect_problem(p, "source: public.sq is a sequence, not a table or view", NULL);
	pgcm_plan_free(p);
}

static void
test_names(void **state)
{
	world *w = *state;
	pgcm_plan *p;
	char name63[64], name64[80];

	/* Quoted mixed case, unicode quoted and unquoted (only ASCII folds), as SQL reads them. */
	both(w, "CREATE SCHEMA \"Mixed Case\"; CREATE TABLE \"Mixed Case\".\"T\u00ebst \"\"T\"\"\" "
	        "(\"Gr\u00f6\u00dfe\" int, t\u00ebxt text)");
	it_exec(w->src, "INSERT INTO \"Mixed Case\".\"T\u00ebst \"\"T\"\"\" VALUES (1, 'a'), (2, 'b')");
	p = it_plan_new(w->src, &w->dst, 1, "\"Mixed Case\".\"T\u00ebst \"\"T\"\"\"", "auto");
	assert_int_equal(pgcm_plan_set_columns(p, "T\u00ebxt, \"Gr\u00f6\u00dfe\""), PGCM_OK);
	copy_ok(w, p, &w->dst, 1);
	assert_string_equal(pgcm_plan_target_command(p, 0),
	                    "COPY \"Mixed Case\".\"T\u00ebst \"\"T\"\"\" (\"t\u00ebxt\", \"Gr\u00f6\u00dfe\") "
	                    "FROM STDIN (FORMAT binary)");
	assert_string_equal(pgcm_plan_source_name(p), "Mixed Case.T\u00ebst \"T\"");
	pgcm_plan_free(p);
	it_expect_sql(w->dst, "SELECT string_agg(\"Gr\u00f6\u00dfe\" || t\u00ebxt, ',') FROM \"Mixed Case\".\"T\u00ebst \"\"T\"\"\"",
	            "1a,2b");

	/* An unqualified name is resolved with each session's search_path, then written qualified. */
	it_exec(w->src, "CREATE TABLE sp (i int); INSERT INTO sp VALUES (7)");
	it_exec(w->dst, "CREATE SCHEMA other; CREATE TABLE other.sp (i int); CREATE TABLE public.sp (i int); "
	                "SET search_path = other, public");
	p = it_plan_new(w->src, &w->dst, 1, "sp", "auto");
	copy_ok(w, p, &w->dst, 1);
	assert_non_null(strstr(pgcm_plan_target_command(p, 0), "COPY \"other\".\"sp\""));
	pgcm_plan_free(p);
	it_exec(w->dst, "RESET search_path");
	assert_int_equal(it_count(w->dst, "other.sp"), 1);
	assert_int_equal(it_count(w->dst, "public.sp"), 0);

	/* 63 bytes is the limit; 64 would be truncated by the server onto the 63-byte table. */
	memset(name63, 'n', 63);
	name63[63] = '\0';
	snprintf(name64, sizeof name64, "%sx", name63);
	both(w, "CREATE TABLE nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn (i int)");
	it_exec(w->src, "INSERT INTO %s VALUES (1)", name63);
	p = it_plan_new(w->src, &w->dst, 1, name64, "auto");
	expect_problem(p, "is 64 bytes long: the server would silently use its first 63 bytes", NULL);
	pgcm_plan_free(p);
	assert_int_equal(it_count(w->dst, name63), 0);
	p = it_plan_new(w->src, &w->dst, 1, name63, "auto");
	copy_ok(w, p, &w->dst, 1);
	pgcm_plan_free(p);
	assert_int_equal(it_count(w->dst, name63), 1);

	/* A temporary table, by its schema's alias, as the server reads pg_temp.t. */
	it_exec(w->src, "CREATE TEMP TABLE tmp_sp AS SELECT 5 AS i");
	it_exec(w->dst, "CREATE TEMP TABLE tmp_sp (i int)");
	p = it_plan_new(w->src, &w->dst, 1, "pg_temp.tmp_sp", "auto");
	copy_ok(w, p, &w->dst, 1);
	pgcm_plan_free(p);
	it_expect_sql(w->dst, "SELECT i FROM pg_temp.tmp_sp", "5");

	/* A missing table, another database, bad syntax: each named. */
	p = it_plan_new(w->src, &w->dst, 1, "sp", "auto");
	it_exec(w->dst, "DROP TABLE public.sp");
	expect_problem(p, "target 1: table \"sp\" does not exist in the session's search_path", NULL);
	pgcm_plan_free(p);
	/* Missing on the source: the problem names the source (a regression: its name was garbage). */
	p = it_plan_new(w->src, &w->dst, 1, "no_such_sp", "auto");
	expect_problem(p, "source: table \"no_such_sp\" does not exist in the session's search_path", NULL);
	pgcm_plan_free(p);
	p = it_plan_new(w->src, &w->dst, 1, "elsewhere.public.sp", "auto");
	expect_problem(p, "names database \"elsewhere\"", NULL);
	pgcm_plan_free(p);
	p = it_plan_new(w->src, &w->dst, 1, DB ".\"Mixed Case\".\"T\u00ebst \"\"T\"\"\"", "auto");
	assert_int_equal(pgcm_plan_build(p), PGCM_OK);
	pgcm_plan_free(p);
	p = it_plan_new(w->src, &w->dst, 1, "sp; DROP TABLE sp", "auto");
	expect_problem(p, "unexpected character", NULL);
	pgcm_plan_free(p);
	assert_int_equal(it_count(w->src, "sp"), 1);
}

static void
test_query_source(void **state)
{
	world *w = *state;
	pgcm_plan *p;
	char err[512];

	it_exec(w->src, "CREATE TABLE q (id int, s text, n numeric); "
	                "INSERT INTO q SELECT g, 's' || g, g + 0.5 FROM generate_series(1, 5) g");
	it_exec(w->dst, "CREATE TABLE q (n int, s text, id int)");
	/* By the query's output names, converted as needed (numeric to int4: the assignment cast). */
	p = pgcm_plan_new();
	assert_int_equal(pgcm_plan_set_source_query(p, w->src, "SELECT upper(s) AS s, id, n FROM q WHERE id < 4"),
	                 PGCM_OK);
	assert_int_equal(pgcm_plan_add_target(p, w->dst, "q", NULL), PGCM_OK);
	copy_ok(w, p, &w->dst, 1);
	assert_non_null(strstr(pgcm_plan_source_command(p), "FROM (SELECT upper(s) AS s, id, n FROM q WHERE id < 4) AS pgcm_query"));
	assert_null(pgcm_plan_source_relation(p));
	assert_null(pgcm_plan_source_command_range(p, "true"));
	pgcm_plan_free(p);
	it_expect_sql(w->dst, "SELECT string_agg(id || s || n, ',' ORDER BY id) FROM q", "1S12,2S23,3S34");

	/* Two output columns of one name; a query the server cannot prepare; no target table. */
	p = pgcm_plan_new();
	assert_int_equal(pgcm_plan_set_source_query(p, w->src, "SELECT 1 AS id, 2 AS id"), PGCM_OK);
	assert_int_equal(pgcm_plan_add_target(p, w->dst, "q", NULL), PGCM_OK);
	expect_problem(p, "2 output columns named id", NULL);
	pgcm_plan_free(p);
	p = pgcm_plan_new();
	assert_int_equal(pgcm_plan_set_source_query(p, w->src, "SELEC 1"), PGCM_OK);
	assert_int_equal(pgcm_plan_add_target(p, w->dst, "q", NULL), PGCM_OK);
	expect_problem(p, "the query cannot be prepared: syntax error", NULL);
	pgcm_plan_free(p);
	p = pgcm_plan_new();
	assert_int_equal(pgcm_plan_set_source_query(p, w->src, "SELECT 1 AS id"), PGCM_OK);
	assert_int_equal(pgcm_plan_add_target(p, w->dst, NULL, NULL), PGCM_OK);
	expect_problem(p, "no table named", NULL);
	pgcm_plan_free(p);
	/* The plan describes a query without running it: its error comes when the copy runs. */
	it_exec(w->dst, "TRUNCATE q");
	p = pgcm_plan_new();
	assert_int_equal(pgcm_plan_set_source_query(p, w->src, "SELECT 1/0 AS id"), PGCM_OK);
	assert_int_equal(pgcm_plan_add_target(p, w->dst, "q", NULL), PGCM_OK);
	assert_int_equal(pgcm_plan_build(p), PGCM_OK);
	assert_string_equal(pgcm_plan_source_command(p), "COPY (SELECT 1/0 AS id) TO STDOUT (FORMAT binary)");
	assert_int_not_equal(it_plan_run(w->src, &w->dst, 1, p, err, sizeof err), PGCM_OK);
	pgcm_plan_free(p);
	assert_int_equal(it_count(w->dst, "q"), 0);
}

/* A callback producer over a string: the stream source of the header tests. */
typedef struct text_source {
	const char *s;
	size_t at;
} text_source;

static long
text_read(void *arg, char *buf, size_t cap)
{
	text_source *t = arg;
	size_t n = strlen(t->s + t->at);

	if (n > cap)
		n = cap;
	memcpy(buf, t->s + t->at, n);
	t->at += n;
	return (long) n;
}

/* stream_plan: CSV with a header, from a stream into people on the first target. */
static pgcm_plan *
stream_plan(world *w, const char *header, int match_on_targets)
{
	pgcm_plan *p = pgcm_plan_new();
	pgcm_format fmt;

	pgcm_format_init(&fmt, PGCM_FORMAT_CSV);
	fmt.header = 1;
	assert_int_equal(pgcm_plan_set_source_stream(p), PGCM_OK);
	assert_int_equal(pgcm_plan_add_target(p, w->dst, "people", NULL), PGCM_OK);
	assert_int_equal(pgcm_plan_set_format(p, &fmt, 0), PGCM_OK);
	if (header)
		assert_int_equal(pgcm_plan_set_header_line(p, header, strlen(header)), PGCM_OK);
	assert_int_equal(pgcm_plan_set_header_match_on_targets(p, match_on_targets), PGCM_OK);
	return p;
}

static void
test_stream_endpoints_and_header(void **state)
{
	world *w = *state;
	pgcm_plan *p;
	pgcm_format fmt;
	size_t idx = 99;

	it_exec(w->dst, "DROP TABLE IF EXISTS people; CREATE TABLE people (id int, last_name text, first_name text)");
	/* A header naming the columns in another order: refused, with the column list that loads it. */
	p = stream_plan(w, "id,first_name,last_name\r\n", 0);
	expect_problem(p, "field 2 is \"first_name\" where column 2 is last_name",
	               "--columns id,first_name,last_name");
	pgcm_plan_free(p);
	p = stream_plan(w, "id,last_name\n", 0);
	expect_problem(p, "the CSV header has 2 fields, the column list 3", NULL);
	pgcm_plan_free(p);
	p = stream_plan(w, "id,\"last_name\",first_name\n", 0);
	assert_int_equal(pgcm_plan_build(p), PGCM_OK);
	assert_string_equal(pgcm_plan_target_command(p, 0), "COPY \"public\".\"people\" (\"id\", \"last_name\", "
	                    "\"first_name\") FROM STDIN (FORMAT csv, HEADER true)");
	assert_null(pgcm_plan_source_command(p));
	pgcm_plan_free(p);

	/* HEADER MATCH on the target: the server compares it as the data arrives. */
	p = stream_plan(w, NULL, 1);
	assert_int_equal(pgcm_plan_build(p), PGCM_OK);
	assert_non_null(strstr(pgcm_plan_target_command(p, 0), "HEADER MATCH"));
	{
		text_source src = {"id,first_name,last_name\n1,Ada,Lovelace\n", 0};
		pgcm_copy *c;
		assert_int_equal(pgcm_plan_format(p, &fmt), PGCM_OK);
		c = pgcm_copy_new(pgcm_producer_fn(text_read, &src, &fmt));
		assert_int_equal(pgcm_copy_add(c, pgcm_receiver_pg(w->dst, pgcm_plan_target_command(p, 0))), PGCM_OK);
		assert_int_not_equal(pgcm_copy_run(c, NULL), PGCM_OK);
		{
			pgcm_failure f;
			pgcm_copy_finish(c, &f);
			assert_true(f.nfaults == 1 && strstr(f.faults[0].message, "column name mismatch in header line"));
		}
		pgcm_copy_free(c);
	}
	pgcm_plan_free(p);
	assert_int_equal(it_count(w->dst, "people"), 0);

	/* A stream target among server targets: auto is text, and says why. */
	it_exec(w->src, "DROP TABLE IF EXISTS people; CREATE TABLE people (id int, last_name text, first_name text)");
	p = it_plan_new(w->src, &w->dst, 1, "people", "auto");
	assert_int_equal(pgcm_plan_add_target_stream(p, &idx), PGCM_OK);
	assert_int_equal(idx, 1);
	assert_int_equal(pgcm_plan_build(p), PGCM_OK);
	assert_int_equal(pgcm_plan_format(p, &fmt), PGCM_OK);
	assert_int_equal(fmt.kind, PGCM_FORMAT_TEXT);
	assert_string_equal(pgcm_plan_format_reason(p), "target 2 is a file or a stream: text");
	assert_null(pgcm_plan_target_command(p, 1));
	assert_int_equal(pgcm_plan_target_count(p), 2);
	pgcm_plan_free(p);
}

static void
test_api_contract(void **state)
{
	world *w = *state;
	pgcm_plan *p = pgcm_plan_new();
	pgcm_format fmt;
	pgcm_plan_column_info col;

	both(w, "CREATE TABLE api (id int, last_name text, first_name text)");
	pgcm_format_init(&fmt, PGCM_FORMAT_BINARY);
	assert_int_equal(pgcm_plan_set_format(p, &fmt, 1), PGCM_ERR_ARG);
	assert_int_equal(pgcm_plan_build(p), PGCM_ERR_ARG);
	assert_int_equal(pgcm_plan_set_source_table(p, NULL, "t"), PGCM_ERR_ARG);
	assert_int_equal(pgcm_plan_add_target(p, w->dst, "", NULL), PGCM_ERR_ARG);
	assert_int_equal(pgcm_plan_format(p, &fmt), PGCM_ERR_STATE);
	assert_int_equal(pgcm_plan_column(p, 0, 0, &col), PGCM_ERR_ARG);
	assert_int_equal(pgcm_plan_set_source_table(p, w->src, "api"), PGCM_OK);
	assert_int_equal(pgcm_plan_add_target(p, w->dst, NULL, NULL), PGCM_OK);
	assert_int_equal(pgcm_plan_build(p), PGCM_OK);
	assert_int_equal(pgcm_plan_build(p), PGCM_ERR_STATE);
	assert_int_equal(pgcm_plan_set_columns(p, "id"), PGCM_ERR_STATE);
	assert_int_equal(pgcm_plan_column_count(p), 3);
	assert_int_equal(pgcm_plan_column(p, 1, 0, &col), PGCM_OK);
	assert_string_equal(col.name, "last_name");
	assert_string_equal(col.source_type, "text");
	assert_string_equal(col.target_type, "text");
	assert_int_equal(col.conversion, PGCM_CONV_SAME);
	assert_int_equal(pgcm_plan_column(p, 3, 0, &col), PGCM_ERR_ARG);
	assert_null(pgcm_plan_problem(p, 0));
	assert_non_null(strstr(pgcm_plan_errmsg(p), "built already"));
	pgcm_plan_free(p);
	pgcm_plan_free(NULL);
	pgcm_free(NULL);
}

/*
 * A pinned source session reads with row_security off: a table whose
 * policies would hide rows from the reader is an error, never a silent
 * partial copy (an unpinned session copies the visible rows only).
 */
static void
test_row_security(void **state)
{
	world *w = *state;
	PGconn *reader;
	pgcm_plan *p;
	char err[512], *ci;

	it_exec(w->src, "DROP ROLE IF EXISTS plan_reader; CREATE ROLE plan_reader LOGIN; "
	                "CREATE TABLE secret (id int, owner text); "
	                "INSERT INTO secret VALUES (1, 'plan_reader'), (2, 'someone'), (3, 'someone'); "
	                "ALTER TABLE secret ENABLE ROW LEVEL SECURITY; "
	                "CREATE POLICY mine ON secret USING (owner = current_user); "
	                "GRANT SELECT ON secret TO plan_reader");
	it_exec(w->dst, "CREATE TABLE secret (id int, owner text)");
	ci = it_conninfo_db(1, DB);
	{
		size_t n = strlen(ci) + 32;
		char *as = malloc(n);
		assert_non_null(as);
		snprintf(as, n, "%s user=plan_reader", ci);
		reader = PQconnectdb(as);
		free(as);
	}
	assert_int_equal(PQstatus(reader), CONNECTION_OK);
	assert_int_equal(pgcm_session_pin(reader, NULL, err, sizeof err), PGCM_OK);
	p = it_plan_new(reader, &w->dst, 1, "secret", "auto");
	assert_int_equal(pgcm_plan_build(p), PGCM_OK);
	assert_int_not_equal(it_plan_run(reader, &w->dst, 1, p, err, sizeof err), PGCM_OK);
	assert_int_equal(it_count(w->dst, "secret"), 0);
	/* What the pin prevents: with row security on, one row of three would be copied. */
	it_exec(reader, "SET row_security = on");
	assert_int_equal(it_plan_run(reader, &w->dst, 1, p, err, sizeof err), PGCM_OK);
	assert_int_equal(it_count(w->dst, "secret"), 1);
	pgcm_plan_free(p);
	PQfinish(reader);
	free(ci);
	it_exec(w->src, "DROP TABLE secret; DROP ROLE plan_reader");
}

/* The plans the out-of-memory sweep builds: a table, a query, a stream with a header. */
static pgcm_status
oom_plan(world *w, int kind, pgcm_plan **out)
{
	pgcm_plan *p = pgcm_plan_new();
	pgcm_format fmt;
	pgcm_status st;

	if (!(*out = p))
		return PGCM_ERR_NOMEM;
	pgcm_format_init(&fmt, PGCM_FORMAT_CSV);
	fmt.header = 1;
	if (kind == 0)
		st = pgcm_plan_set_source_table(p, w->src, "oom");
	else if (kind == 1)
		st = pgcm_plan_set_source_query(p, w->src, "SELECT n, id, \"Odd\" FROM oom");
	else
		st = pgcm_plan_set_source_stream(p);
	if (st == PGCM_OK)
		st = pgcm_plan_add_target(p, w->dst, kind ? "oom" : NULL, NULL);
	if (st == PGCM_OK && kind == 2)
		st = pgcm_plan_set_format(p, &fmt, 0);
	if (st == PGCM_OK && kind == 2)
		st = pgcm_plan_set_header_line(p, "n,id,Odd\n", 9);
	if (st == PGCM_OK && kind == 1)
		st = pgcm_plan_set_columns(p, "id, \"Odd\"");
	return st == PGCM_OK ? pgcm_plan_build(p) : st;
}

/*
 * Every allocation of a build fails in turn: the build says out of memory
 * (never a wrong problem, never a plan decided on half the facts), frees
 * everything, and the connections stay usable.
 */
static void
test_out_of_memory(void **state)
{
	world *w = *state;
	static const char types[] = "CREATE TYPE omood AS ENUM ('a', 'b'); CREATE TYPE opt AS (x int, y text); "
	                            "CREATE DOMAIN oposint AS int CHECK (VALUE > 0)";
	/* The table and the query plan cleanly; the stream's header lacks columns: a problem. */
	static const pgcm_status want[] = {PGCM_OK, PGCM_OK, PGCM_ERR_PLAN};

	both(w, types);
	it_exec(w->src, "CREATE TABLE oom (id int, m omood, p opt, d oposint, n numeric, ts timestamptz, "
	                "g int GENERATED ALWAYS AS (id * 2) STORED, r regclass, \"Odd\" text)");
	it_exec(w->dst, "CREATE TABLE oom (n float8, id int GENERATED ALWAYS AS IDENTITY, m omood, p opt, "
	                "d int, ts timestamp, g int GENERATED ALWAYS AS (id + 1) STORED, r regclass, "
	                "\"Odd\" varchar(5), extra text DEFAULT 'x')");
	for (int kind = 0; kind < 3; kind++) {
		pgcm_status st = PGCM_ERR_NOMEM;
		long n, nomem = 0;
		for (n = 0; st == PGCM_ERR_NOMEM && n < 100000; n++) {
			pgcm_plan *p;
			pgcm__alloc_fail_after(n);
			st = oom_plan(w, kind, &p);
			pgcm__alloc_fail_after(-1);
			if (st != want[kind] && st != PGCM_ERR_NOMEM)
				fail_msg("plan %d, allocation %ld failing gave %s: %s", kind, n, pgcm_strerror(st),
				         pgcm_plan_errmsg(p));
			if (st == PGCM_OK && kind == 0)
				assert_non_null(strstr(pgcm_plan_source_command(p), "AT TIME ZONE"));
			nomem += st == PGCM_ERR_NOMEM;
			pgcm_plan_free(p);
		}
		assert_int_equal(st, want[kind]);
		print_message("plan %d: a build of %ld allocations, each failed in turn\n", kind, nomem);
	}
	it_assert_usable(w->src);
	it_assert_usable(w->dst);
}

IT_GROUP(plan_tables)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_columns_by_name),
		cmocka_unit_test(test_generated_and_identity_columns),
		cmocka_unit_test(test_inheritance_partitions_views),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_query_source),
		cmocka_unit_test(test_stream_endpoints_and_header),
		cmocka_unit_test(test_api_contract),
		cmocka_unit_test(test_row_security),
		cmocka_unit_test(test_out_of_memory),
	};
	return it_add_group("plan_tables", tests, setup, it_trio_teardown);
}
