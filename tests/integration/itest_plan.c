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
#include "plan_cases.h"

#define DB "plantest"

typedef it_trio world;

/* setup: pinned sessions, as a C caller would set them up; the servers disagree on TimeZone. */
static int
setup(void **state)
{
	world *w;

	it_trio_setup(state, DB);
	w = *state;
	it_exec(w->src, "SET TimeZone = 'UTC'");
	plan_case_locale(w->src);
	it_exec(w->dst, "SET TimeZone = 'America/New_York'");
	it_exec(w->dst2, "SET TimeZone = 'America/New_York'");
	it_exec(w->src, "%s; %s", plan_types_sql, plan_src_types_sql);
	it_exec(w->dst, "%s; %s", plan_types_sql, plan_dst_types_sql);
	it_exec(w->dst2, "%s; %s", plan_types_sql, plan_dst_types_sql);
	return 0;
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
	const mcase *c = &plan_cases[i];
	int binary_asked = strcmp(f, "binary") == 0;
	enum expect want = binary_asked && !c->binary && c->expect != REFUSED ? REFUSED : c->expect;
	char table[32], err[1024];
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
		if ((bad = plan_case_diff(w->dst, i)) != 0)
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
		if (plan_cases[i].dst_setting)
			it_exec(w->dst, "SET %s", plan_cases[i].dst_setting);
		ran = plan_case_prepare(w->src, w->dst, i, ref_err, sizeof ref_err);
		/* A refusal for a missing cast is what INSERT ... SELECT does too. */
		if (plan_cases[i].expect == REFUSED && !plan_cases[i].stricter && ran)
			fail_msg("case %zu (%s -> %s): INSERT ... SELECT runs, but the plan is expected to refuse",
			         i, plan_cases[i].src_type, plan_cases[i].dst_type);
		for (size_t f = 0; f < sizeof formats / sizeof formats[0]; f++)
			one_case(w, i, formats[f], ran, ref_err);
		if (plan_cases[i].dst_setting)
			it_exec(w->dst, "RESET %.*s", (int) strcspn(plan_cases[i].dst_setting, " ="), plan_cases[i].dst_setting);
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
	char table[32];

	assert_string_equal(plan_cases[i].dst_type, "timestamp");
	snprintf(table, sizeof table, "m%zu", i);
	plan_case_prepare(w->src, w->dst, i, err, sizeof err);
	it_exec(w->dst2, "DROP TABLE IF EXISTS m%zu; CREATE TABLE m%zu (id int, v timestamp)", i, i);
	p = it_plan_new(w->src, both, 2, table, "auto");
	assert_int_equal(pgcm_plan_build(p), PGCM_OK);
	assert_int_equal(it_plan_run(w->src, both, 2, p, err, sizeof err), PGCM_OK);
	pgcm_plan_free(p);
	assert_int_equal(plan_case_diff(w->dst, i), 0);
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
	plan_case_prepare(w->src, w->dst, 0, err, sizeof err);
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

IT_GROUP(plan)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_type_matrix),
		cmocka_unit_test(test_targets_share_one_conversion),
		cmocka_unit_test(test_unpinned_sessions_are_problems),
	};
	return it_add_group("plan", tests, setup, it_trio_teardown);
}
