/*
 * plan_cases.c: the type matrix of the copy plan tests (plan_cases.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plan_cases.h"

#define V(...) {__VA_ARGS__, NULL}

const mcase plan_cases[] = {
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
	{"money", "money", V("'12.34'"), REFUSED, "lc_monetary", 0, 1, "lc_monetary = 'de_DE.utf8'"},
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
const size_t plan_ncases = sizeof plan_cases / sizeof plan_cases[0];

/* The custom types, on both servers (mood2 and pt2 differ on the target). */
const char plan_types_sql[] =
	"CREATE DOMAIN posint AS int CHECK (VALUE > 0); CREATE DOMAIN short5 AS varchar(5); "
	"CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy'); CREATE TYPE feeling AS ENUM ('sad', 'ok'); "
	"CREATE TYPE pt AS (x int, y text); CREATE TABLE m_anchor (i int)";
const char plan_src_types_sql[] =
	"CREATE TYPE mood2 AS ENUM ('sad', 'ecstatic'); CREATE TYPE pt2 AS (x int, y text)";
const char plan_dst_types_sql[] =
	"CREATE TYPE mood2 AS ENUM ('sad'); CREATE TYPE pt2 AS (x int, y int)";

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
 * plan_case_prepare: table m<i> (id, v) on both servers with their types, the
 * values on the source; on the target, m<i>_ref holds the same values in the
 * source's type and m<i>_exp what INSERT ... SELECT stores from it.  Returns
 * whether that INSERT ... SELECT ran.
 */
int
plan_case_prepare(PGconn *src, PGconn *dst, size_t i, char *err, size_t errlen)
{
	const mcase *c = &plan_cases[i];
	char *sql;
	int ok;
	size_t n = 0;
	char rows[2048] = "";

	for (n = 0; c->values[n]; n++)
		snprintf(rows + strlen(rows), sizeof rows - strlen(rows), "%s(%zu, CAST(%s AS %s))",
		         n ? ", " : "", n + 1, c->values[n], c->src_type);
	it_exec(src, "DROP TABLE IF EXISTS m%zu; CREATE TABLE m%zu (id int, v %s); "
	                "INSERT INTO m%zu VALUES %s", i, i, c->src_type, i, rows);
	it_exec(dst, "DROP TABLE IF EXISTS m%zu, m%zu_exp, m%zu_ref; CREATE TABLE m%zu (id int, v %s); "
	                "CREATE TABLE m%zu_exp (id int, v %s); CREATE TABLE m%zu_ref (id int, v %s); "
	                "INSERT INTO m%zu_ref VALUES %s", i, i, i, i, c->dst_type, i, c->dst_type, i,
	        c->src_type, i, rows);
	n = strlen(rows) + 128;
	sql = malloc(n);
	assert_non_null(sql);
	snprintf(sql, n, "INSERT INTO m%zu_exp SELECT * FROM m%zu_ref", i, i);
	it_exec(dst, "BEGIN");
	ok = try_exec(dst, sql, err, errlen);
	it_exec(dst, ok ? "COMMIT" : "ROLLBACK");
	free(sql);
	return ok;
}

/* plan_case_diff: rows of m<i> that differ from m<i>_exp (compared as the target's text of each value). */
long
plan_case_diff(PGconn *dst, size_t i)
{
	char *n = it_scalar(dst, "SELECT count(*) FROM m%zu d FULL JOIN m%zu_exp e USING (id) "
	                         "WHERE d.v::text IS DISTINCT FROM e.v::text OR d.id IS NULL OR e.id IS NULL",
	                    i, i);
	long v = atol(n);

	free(n);
	return v;
}

/*
 * plan_case_locale: the lc_monetary case needs a second locale on the
 * servers' machine: fail, saying how to make it, when it is missing.
 */
void
plan_case_locale(PGconn *conn)
{
	PGresult *res = PQexec(conn, "SELECT set_config('lc_monetary', 'de_DE.utf8', true)");
	int ok = PQresultStatus(res) == PGRES_TUPLES_OK;

	PQclear(res);
	if (!ok)
		fail_msg("the money case needs the de_DE.UTF-8 locale: localedef -i de_DE -f UTF-8 de_DE.UTF-8 "
		         "(Debian: the locales package; .ci/run makes it)");
}
