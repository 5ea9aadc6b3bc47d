/*
 * itest_plan.c: the copy plan's type matrix, through the library.  Each
 * case is a source type, a target type and values; the target's expected
 * rows are what INSERT INTO t SELECT ... stores on the target server itself,
 * from a copy of the source table placed there.  Every case, in every
 * format (auto, text, csv, binary), ends in exactly those rows, or in a
 * refusal before any row moves that names the table, the column and the
 * target -- or, for values the target rejects (too long, out of range), in
 * the same error INSERT ... SELECT gives, with nothing stored.
 *
 * The sessions are pinned (pgcm_session_pin) and the two servers disagree
 * on TimeZone: the source runs in UTC, the target in America/New_York.
 *
 * Clusters: 1 is the source; 2 and 3 are targets.  Database "plantest".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"
#include "pgcopyman.h"

#define DB "plantest"

enum expect { EXACT, REFUSED, FAILS };

typedef struct mcase {
	const char *src_type;
	const char *dst_type;
	const char *values[8];    /* the values of column v, SQL literals; NULL-terminated */
	enum expect expect;
	const char *says;         /* REFUSED: in the problem; FAILS: in the error */
	int binary;               /* identical types: binary is exact and auto picks it */
	int stricter;             /* REFUSED although INSERT ... SELECT would run (settings differ) */
	const char *dst_session;  /* SQL run on the target session for this case, reset after */
} mcase;

#define V(...) {__VA_ARGS__, NULL}

static const mcase cases[] = {
	/* The pairs the issue found stored wrong. */
	{"numeric", "float8", V("'0.00'", "'1.5'", "'-3.25'", "'1e-5'", "'12345678901234567890.123'", "NULL"), EXACT, 0, 0, 0, 0},
	{"int8", "money", V("100", "-5", "0", "NULL"), EXACT, 0, 0, 0, 0},
	{"int4", "float4", V("1", "16777217", "-2", "NULL"), EXACT, 0, 0, 0, 0},
	{"date", "int4", V("'2020-01-01'"), REFUSED, "no cast converts them", 0, 0, 0},
	{"bool", "text", V("true", "false", "NULL"), EXACT, 0, 0, 0, 0},
	{"timestamp", "timestamptz", V("'2020-01-01 12:00'", "'2020-07-01 12:00'", "'2020-03-08 02:30'", "'infinity'"), EXACT, 0, 0, 0, 0},
	/* Time zones: the target's, as its own cast would use. */
	{"timestamptz", "timestamp", V("'2020-01-01 03:00+00'", "'2020-07-01 12:00+02'", "NULL"), EXACT, 0, 0, 0, 0},
	{"timestamptz", "date", V("'2020-01-01 03:00+00'", "'2020-01-01 05:00+00'"), EXACT, 0, 0, 0, 0},
	{"timestamptz", "time", V("'2020-01-01 03:00:01+00'"), EXACT, 0, 0, 0, 0},
	{"timestamptz", "timestamptz", V("'2020-01-01 03:00+00'", "'1900-01-01 00:00+00'", "'-infinity'"), EXACT, 0, 1, 0, 0},
	{"date", "timestamptz", V("'2020-01-01'", "'2020-07-01'"), EXACT, 0, 0, 0, 0},
	{"time", "timetz", V("'12:00'"), REFUSED, "depends on TimeZone", 0, 1, 0},
	{"timestamptz", "text", V("'2020-01-01 03:00+00'"), REFUSED, "depends on TimeZone", 0, 1, 0},
	/* Casts INSERT ... SELECT applies. */
	{"numeric", "int4", V("1.5", "2.5", "-1.5", "0.49"), EXACT, 0, 0, 0, 0},
	{"int4", "int8", V("1", "-2147483648", "NULL"), EXACT, 0, 0, 0, 0},
	{"int8", "int4", V("3000000000"), FAILS, "out of range", 0, 0, 0},
	{"float8", "numeric", V("0.1", "1e300", "'NaN'", "'Infinity'", "0.30000000000000004"), EXACT, 0, 0, 0, 0},
	{"numeric", "text", V("1.50", "-0.000", "NULL"), EXACT, 0, 0, 0, 0},
	{"int4", "text", V("42", "NULL"), EXACT, 0, 0, 0, 0},
	{"char(5)", "text", V("'ab'", "'abcde'", "NULL"), EXACT, 0, 0, 0, 0},
	{"json", "jsonb", V("'{\"b\": 1, \"a\": [1, 2.50]}'", "'null'", "NULL"), EXACT, 0, 0, 0, 0},
	{"jsonb", "json", V("'{\"b\": 1, \"a\": [1, 2.50]}'"), EXACT, 0, 0, 0, 0},
	{"bytea", "text", V("'\\x0001ff'", "''"), EXACT, 0, 0, 0, 0},
	{"int4[]", "int8[]", V("'{1,2,NULL}'", "'{}'"), EXACT, 0, 0, 0, 0},
	/* No assignment cast: INSERT ... SELECT refuses too. */
	{"text", "int4", V("'12'"), REFUSED, "only an explicit cast", 0, 0, 0},
	{"text[]", "int4[]", V("'{1}'"), REFUSED, "only an explicit cast", 0, 0, 0},
	{"int4", "bit(8)", V("5"), REFUSED, "only an explicit cast", 0, 0, 0},
	{"bool", "int4", V("true"), REFUSED, "only an explicit cast", 0, 0, 0},
	{"text", "mood", V("'ok'"), REFUSED, "only an explicit cast", 0, 0, 0},
	{"mood", "feeling", V("'ok'"), REFUSED, "no cast converts them", 0, 0, 0},
	/* One type, another typmod: the target's input applies it, as the assignment does. */
	{"varchar(10)", "varchar(3)", V("'ab'", "'abc  '", "NULL"), EXACT, 0, 0, 0, 0},
	{"varchar(10)", "varchar(3)", V("'abcd'"), FAILS, "too long", 0, 0, 0},
	{"text", "varchar(3)", V("'abcdef'"), FAILS, "too long", 0, 0, 0},
	{"timestamp(6)", "timestamp(0)", V("'2020-01-01 12:00:00.5'", "'2020-01-01 12:00:00.49'"), EXACT, 0, 0, 0, 0},
	{"numeric(10,3)", "numeric(10,1)", V("1.25", "1.35", "-1.25"), EXACT, 0, 0, 0, 0},
	/* Domains, enums, composites, arrays of custom types: by name, through text. */
	{"posint", "int4", V("1", "7", "NULL"), EXACT, 0, 0, 0, 0},
	{"int4", "posint", V("1", "5"), EXACT, 0, 0, 0, 0},
	{"int4", "posint", V("-1"), FAILS, "posint", 0, 0, 0},
	{"short5", "varchar(3)", V("'ab'"), EXACT, 0, 0, 0, 0},
	{"mood", "mood", V("'sad'", "'ok'", "'happy'", "NULL"), EXACT, 0, 0, 0, 0},
	{"mood[]", "mood[]", V("'{sad,happy}'", "'{}'", "NULL"), EXACT, 0, 0, 0, 0},
	{"mood", "text", V("'happy'"), EXACT, 0, 0, 0, 0},
	{"mood2", "mood2", V("'sad'"), REFUSED, "lacks the source's labels 'ecstatic'", 0, 1, 0},
	{"pt", "pt", V("'(1,a)'", "'(,)'", "NULL"), EXACT, 0, 0, 0, 0},
	{"pt2", "pt2", V("'(1,2)'"), REFUSED, "composite type public.pt2 differs", 0, 1, 0},
	/* Same built-in types: exact in every format, binary included. */
	{"money", "money", V("'12.34'", "'-0.01'", "NULL"), EXACT, 0, 1, 0, 0},
	{"money", "money", V("'12.34'"), REFUSED, "lc_monetary", 0, 1, "SET lc_monetary = 'de_DE.utf8'"},
	{"interval", "interval", V("'-1 day +02:03:04'", "'1 year 2 mons -3 days -00:00:01.5'", "NULL"), EXACT, 0, 1, 0, 0},
	{"bytea", "bytea", V("'\\x00ff5c0a'", "''", "NULL"), EXACT, 0, 1, 0, 0},
	{"jsonb", "jsonb", V("'{\"k\": [1, \"x\\ny\"]}'", "NULL"), EXACT, 0, 1, 0, 0},
	{"float8", "float8", V("0.1", "1e-320", "'NaN'", "'-Infinity'", "0.30000000000000004"), EXACT, 0, 1, 0, 0},
	{"float4", "float4", V("0.1", "3.4028235e38", "1e-45"), EXACT, 0, 1, 0, 0},
	{"int4range", "int4range", V("'[1,5)'", "'empty'", "NULL"), EXACT, 0, 1, 0, 0},
	{"uuid", "uuid", V("'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'"), EXACT, 0, 1, 0, 0},
	{"date", "date", V("'2020-02-29'", "'0044-03-15 BC'", "'infinity'"), EXACT, 0, 1, 0, 0},
	{"text", "text", V("E'tab\\there'", "'caf\u00e9'", "''"), EXACT, 0, 1, 0, 0},
	/* reg* values are object ids: copied as qualified names. */
	{"regclass", "regclass", V("'public.m_anchor'", "'pg_class'", "NULL"), EXACT, 0, 0, 0, 0},
	{"regtype", "regtype", V("'integer'", "'mood[]'", "'varchar'"), EXACT, 0, 0, 0, 0},
	{"regclass", "text", V("'pg_class'"), REFUSED, "reg* values name objects", 0, 1, 0},
};
#define NCASES (sizeof cases / sizeof cases[0])

/* The custom types, on both servers (mood2 and pt2 differ on the target). */
static const char types_sql[] =
	"CREATE DOMAIN posint AS int CHECK (VALUE > 0); CREATE DOMAIN short5 AS varchar(5); "
	"CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy'); CREATE TYPE feeling AS ENUM ('sad', 'ok'); "
	"CREATE TYPE pt AS (x int, y text); CREATE TABLE m_anchor (i int)";
static const char src_types_sql[] =
	"CREATE TYPE mood2 AS ENUM ('sad', 'ecstatic'); CREATE TYPE pt2 AS (x int, y text)";
static const char dst_types_sql[] =
	"CREATE TYPE mood2 AS ENUM ('sad'); CREATE TYPE pt2 AS (x int, y int)";

typedef struct world {
	PGconn *src, *dst, *dst2;
} world;

/* pin: a pinned session in a given TimeZone, as a C caller would set it up. */
static void
pin(PGconn *conn, const char *tz)
{
	char err[256];

	if (pgcm_session_pin(conn, NULL, err, sizeof err) != PGCM_OK)
		fail_msg("pgcm_session_pin: %s", err);
	it_exec(conn, "SET TimeZone = '%s'", tz);
}

static int
setup(void **state)
{
	world *w = calloc(1, sizeof *w);

	assert_non_null(w);
	for (int i = 1; i <= 3; i++)
		it_create_database(i, DB);
	w->src = it_connect_db(1, DB);
	w->dst = it_connect_db(2, DB);
	w->dst2 = it_connect_db(3, DB);
	pin(w->src, "UTC");
	pin(w->dst, "America/New_York");
	pin(w->dst2, "America/New_York");
	it_exec(w->src, "%s; %s", types_sql, src_types_sql);
	it_exec(w->dst, "%s; %s", types_sql, dst_types_sql);
	it_exec(w->dst2, "%s; %s", types_sql, dst_types_sql);
	*state = w;
	return 0;
}

static int
teardown(void **state)
{
	world *w = *state;

	it_assert_usable(w->src);
	it_assert_usable(w->dst);
	PQfinish(w->src);
	PQfinish(w->dst);
	PQfinish(w->dst2);
	free(w);
	return 0;
}

/* try_exec: run sql; 1 if it succeeded, else 0 with the error in err. */
static int
try_exec(PGconn *conn, const char *sql, char *err, size_t errlen)
{
	PGresult *res = PQexec(conn, sql);
	int ok = PQresultStatus(res) == PGRES_COMMAND_OK || PQresultStatus(res) == PGRES_TUPLES_OK;

	if (!ok)
		snprintf(err, errlen, "%s", PQerrorMessage(conn));
	PQclear(res);
	return ok;
}

/*
 * prepare_case: table m<i> (id, v) on both servers with their types, the
 * values on the source; on the target, m<i>_ref holds the same values in the
 * source's type and m<i>_exp what INSERT ... SELECT stores from it.  Returns
 * whether that INSERT ... SELECT ran.
 */
static int
prepare_case(world *w, size_t i, char *err, size_t errlen)
{
	const mcase *c = &cases[i];
	char *sql;
	int ok;
	size_t n = 0;
	char rows[2048] = "";

	for (n = 0; c->values[n]; n++)
		snprintf(rows + strlen(rows), sizeof rows - strlen(rows), "%s(%zu, CAST(%s AS %s))",
		         n ? ", " : "", n + 1, c->values[n], c->src_type);
	it_exec(w->src, "DROP TABLE IF EXISTS m%zu; CREATE TABLE m%zu (id int, v %s); "
	                "INSERT INTO m%zu VALUES %s", i, i, c->src_type, i, rows);
	it_exec(w->dst, "DROP TABLE IF EXISTS m%zu, m%zu_exp, m%zu_ref; CREATE TABLE m%zu (id int, v %s); "
	                "CREATE TABLE m%zu_exp (id int, v %s); CREATE TABLE m%zu_ref (id int, v %s); "
	                "INSERT INTO m%zu_ref VALUES %s", i, i, i, i, c->dst_type, i, c->dst_type, i,
	        c->src_type, i, rows);
	n = strlen(rows) + 128;
	sql = malloc(n);
	assert_non_null(sql);
	snprintf(sql, n, "INSERT INTO m%zu_exp SELECT * FROM m%zu_ref", i, i);
	it_exec(w->dst, "BEGIN");
	ok = try_exec(w->dst, sql, err, errlen);
	it_exec(w->dst, ok ? "COMMIT" : "ROLLBACK");
	free(sql);
	return ok;
}

/* diff_rows: rows of m<i> that differ from m<i>_exp (compared as the target's text of each value). */
static long
diff_rows(PGconn *dst, size_t i)
{
	char *n = it_scalar(dst, "SELECT count(*) FROM m%zu d FULL JOIN m%zu_exp e USING (id) "
	                         "WHERE d.v::text IS DISTINCT FROM e.v::text OR d.id IS NULL OR e.id IS NULL",
	                    i, i);
	long v = atol(n);

	free(n);
	return v;
}

/* names_it: a refusal names the table, the column and the target, in one line. */
static void
names_it(const pgcm_plan_finding *f, size_t i)
{
	char table[32];

	snprintf(table, sizeof table, "public.m%zu", i);
	if (!strstr(f->message, table) || !strstr(f->message, "column v") || !strstr(f->message, "target 1")
	    || strchr(f->message, '\n') || f->target != 0 || strcmp(f->column, "v") != 0)
		fail_msg("case %zu: the problem does not name table, column and target: %s", i, f->message);
}

/* one_case: case i in format f: exact rows, a refusal before any row, or INSERT ... SELECT's error. */
static void
one_case(world *w, size_t i, const char *f, int reference_ran, const char *ref_err)
{
	const mcase *c = &cases[i];
	int binary_asked = strcmp(f, "binary") == 0;
	enum expect want = binary_asked && !c->binary && c->expect != REFUSED ? REFUSED : c->expect;
	char table[16], err[1024];
	pgcm_plan *p;
	pgcm_status st;

	snprintf(table, sizeof table, "m%zu", i);
	it_exec(w->dst, "TRUNCATE m%zu", i);
	p = it_plan_new(w->src, &w->dst, 1, table, f);
	st = pgcm_plan_build(p);
	if (want == REFUSED) {
		const char *says = binary_asked && c->expect != REFUSED ? "binary COPY needs the same type" : c->says;
		if (st != PGCM_ERR_PLAN)
			fail_msg("case %zu (%s -> %s, %s): planned, expected a refusal saying \"%s\"", i,
			         c->src_type, c->dst_type, f, says);
		if (!strstr(pgcm_plan_problem(p, 0)->message, says))
			fail_msg("case %zu (%s): the problem does not say \"%s\": %s", i, f, says,
			         pgcm_plan_problem(p, 0)->message);
		if (c->expect == REFUSED)
			names_it(pgcm_plan_problem(p, 0), i);
		assert_null(pgcm_plan_source_command(p));
		assert_null(pgcm_plan_target_command(p, 0));
		pgcm_plan_free(p);
		return;
	}
	if (st != PGCM_OK)
		fail_msg("case %zu (%s -> %s, %s): refused: %s", i, c->src_type, c->dst_type, f,
		         pgcm_plan_errmsg(p));
	if (strcmp(f, "auto") == 0) {
		pgcm_format fmt;
		assert_int_equal(pgcm_plan_format(p, &fmt), PGCM_OK);
		if ((fmt.kind == PGCM_FORMAT_BINARY) != c->binary)
			fail_msg("case %zu: auto chose %s: %s", i, fmt.kind == PGCM_FORMAT_BINARY ? "binary" : "text",
			         pgcm_plan_format_reason(p));
		if (!c->binary && !strstr(pgcm_plan_format_reason(p), "column v"))
			fail_msg("case %zu: the reason does not name the column: %s", i, pgcm_plan_format_reason(p));
	}
	st = it_plan_run(w->src, &w->dst, 1, p, err, sizeof err);
	if (want == FAILS) {
		if (st == PGCM_OK || !strstr(err, c->says) || reference_ran || !strstr(ref_err, c->says))
			fail_msg("case %zu (%s): expected the error INSERT ... SELECT gives (\"%s\"): copy %s: %s; "
			         "reference: %s", i, f, c->says, pgcm_strerror(st), err, ref_err);
		assert_int_equal(it_count(w->dst, table), 0);
	} else {
		long bad;
		if (st != PGCM_OK)
			fail_msg("case %zu (%s -> %s, %s): the copy failed: %s", i, c->src_type, c->dst_type, f, err);
		if (!reference_ran)
			fail_msg("case %zu: the plan copies what INSERT ... SELECT refuses: %s", i, ref_err);
		if ((bad = diff_rows(w->dst, i)) != 0)
			fail_msg("case %zu (%s -> %s, %s): %ld rows differ from INSERT ... SELECT", i,
			         c->src_type, c->dst_type, f, bad);
	}
	pgcm_plan_free(p);
}

/* Every case, in every format. */
static void
test_type_matrix(void **state)
{
	world *w = *state;
	static const char *const formats[] = {"auto", "text", "csv", "binary"};

	for (size_t i = 0; i < NCASES; i++) {
		char ref_err[1024] = "";
		int ran;
		if (cases[i].dst_session)
			it_exec(w->dst, "%s", cases[i].dst_session);
		ran = prepare_case(w, i, ref_err, sizeof ref_err);
		/* A refusal for a missing cast is what INSERT ... SELECT does too. */
		if (cases[i].expect == REFUSED && !cases[i].stricter && ran)
			fail_msg("case %zu (%s -> %s): INSERT ... SELECT runs, but the plan is expected to refuse",
			         i, cases[i].src_type, cases[i].dst_type);
		for (size_t f = 0; f < sizeof formats / sizeof formats[0]; f++)
			one_case(w, i, formats[f], ran, ref_err);
		if (cases[i].dst_session)
			it_exec(w->dst, "RESET lc_monetary");
	}
	print_message("%zu type pairs, 4 formats each\n", NCASES);
}

/*
 * Two targets in one stream: when their TimeZones agree the shared
 * conversion serves both; when they disagree the plan refuses, naming the
 * target and both zones, before any row moves.
 */
static void
test_targets_share_one_conversion(void **state)
{
	world *w = *state;
	PGconn *both[2] = {w->dst, w->dst2};
	char err[512];
	pgcm_plan *p;
	size_t i = 6;  /* timestamptz -> timestamp */
	char table[16];

	assert_string_equal(cases[i].dst_type, "timestamp");
	snprintf(table, sizeof table, "m%zu", i);
	prepare_case(w, i, err, sizeof err);
	it_exec(w->dst2, "DROP TABLE IF EXISTS m%zu; CREATE TABLE m%zu (id int, v timestamp)", i, i);
	p = it_plan_new(w->src, both, 2, table, "auto");
	assert_int_equal(pgcm_plan_build(p), PGCM_OK);
	assert_int_equal(it_plan_run(w->src, both, 2, p, err, sizeof err), PGCM_OK);
	pgcm_plan_free(p);
	assert_int_equal(diff_rows(w->dst, i), 0);
	{
		char *a = it_table_checksum(w->dst, table), *b = it_table_checksum(w->dst2, table);
		assert_string_equal(a, b);
		free(a);
		free(b);
	}

	it_exec(w->dst2, "TRUNCATE m%zu; SET TimeZone = 'Asia/Tokyo'", i);
	it_exec(w->dst, "TRUNCATE m%zu", i);
	p = it_plan_new(w->src, both, 2, table, "auto");
	assert_int_equal(pgcm_plan_build(p), PGCM_ERR_PLAN);
	assert_int_equal(pgcm_plan_problem_count(p), 1);
	assert_int_equal(pgcm_plan_problem(p, 0)->target, 1);
	if (!strstr(pgcm_plan_problem(p, 0)->message, "Asia/Tokyo")
	    || !strstr(pgcm_plan_problem(p, 0)->message, "America/New_York")
	    || !strstr(pgcm_plan_problem(p, 0)->message, "target 2"))
		fail_msg("%s", pgcm_plan_problem(p, 0)->message);
	pgcm_plan_free(p);
	assert_int_equal(it_count(w->dst2, table), 0);
	it_exec(w->dst2, "SET TimeZone = 'America/New_York'");

	/* One target wants float8, the other numeric: two conversions of one column. */
	it_exec(w->dst2, "DROP TABLE IF EXISTS m0; CREATE TABLE m0 (id int, v numeric)");
	prepare_case(w, 0, err, sizeof err);
	p = it_plan_new(w->src, both, 2, "m0", "text");
	assert_int_equal(pgcm_plan_build(p), PGCM_ERR_PLAN);
	if (!strstr(pgcm_plan_problem(p, 0)->message, "one stream serves both"))
		fail_msg("%s", pgcm_plan_problem(p, 0)->message);
	pgcm_plan_free(p);
}

/*
 * A caller's unpinned session whose settings change what text means is a
 * problem the plan names, not a silent difference; pinning it clears it.
 */
static void
test_unpinned_sessions_are_problems(void **state)
{
	world *w = *state;
	PGconn *raw = it_connect_db(1, DB);
	pgcm_plan *p;
	char err[256];

	it_exec(w->src, "DROP TABLE IF EXISTS s1; CREATE TABLE s1 (d date, i interval, f float8, n int)");
	it_exec(w->dst, "DROP TABLE IF EXISTS s1; CREATE TABLE s1 (d date, i interval, f float8, n int)");
	it_exec(raw, "SET DateStyle = 'SQL, DMY'; SET IntervalStyle = sql_standard; "
	             "SET extra_float_digits = -2; SET client_encoding = LATIN1");
	p = it_plan_new(raw, &w->dst, 1, "s1", "text");
	assert_int_equal(pgcm_plan_build(p), PGCM_ERR_PLAN);
	{
		static const char *const says[] = {"DateStyle is 'SQL, DMY'", "IntervalStyle is 'sql_standard'",
		                                   "extra_float_digits is -2", "client_encoding is UTF8"};
		for (size_t k = 0; k < 4; k++) {
			int seen = 0;
			for (size_t j = 0; j < pgcm_plan_problem_count(p); j++)
				seen |= strstr(pgcm_plan_problem(p, j)->message, says[k]) != NULL;
			if (!seen)
				fail_msg("no problem says \"%s\" (%s)", says[k], pgcm_plan_errmsg(p));
		}
	}
	pgcm_plan_free(p);
	/* Only the columns that depend on a setting matter: an int column is fine in any style. */
	p = pgcm_plan_new();
	assert_int_equal(pgcm_plan_set_source_table(p, raw, "s1"), PGCM_OK);
	assert_int_equal(pgcm_plan_add_target(p, w->dst, NULL, NULL), PGCM_OK);
	assert_int_equal(pgcm_plan_set_columns(p, "n"), PGCM_OK);
	assert_int_equal(pgcm_plan_build(p), PGCM_ERR_PLAN);
	assert_int_equal(pgcm_plan_problem_count(p), 1);
	assert_non_null(strstr(pgcm_plan_problem(p, 0)->message, "client_encoding"));
	pgcm_plan_free(p);
	assert_int_equal(pgcm_session_pin(raw, NULL, err, sizeof err), PGCM_OK);
	p = it_plan_new(raw, &w->dst, 1, "s1", "text");
	assert_int_equal(pgcm_plan_build(p), PGCM_OK);
	pgcm_plan_free(p);
	/* Pinning keeps the session's day/month order: only the style changes. */
	{
		char *ds = it_scalar(raw, "SHOW DateStyle");
		assert_string_equal(ds, "ISO, DMY");
		free(ds);
	}
	assert_int_equal(pgcm_session_pin(NULL, NULL, NULL, 0), PGCM_ERR_ARG);
	assert_int_equal(pgcm_session_pin(raw, "NO_SUCH_ENCODING", err, sizeof err), PGCM_ERR_SERVER);
	assert_non_null(strstr(err, "NO_SUCH_ENCODING"));
	PQfinish(raw);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_type_matrix),
		cmocka_unit_test(test_targets_share_one_conversion),
		cmocka_unit_test(test_unpinned_sessions_are_problems),
	};

	if (getenv("PGCM_TEST_FILTER"))
		cmocka_set_test_filter(getenv("PGCM_TEST_FILTER"));
	return cmocka_run_group_tests_name("plan", tests, setup, teardown);
}
