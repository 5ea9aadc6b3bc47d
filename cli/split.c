/*
 * split.c: one table read by several source sessions at once, each a range
 * of it, all under one snapshot: the first session exports its snapshot and
 * the others import it (REPEATABLE READ), so together they read exactly the
 * table as it was at one moment, every row once.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/*
 * run: one statement that must give status want; otherwise NULL, with the
 * server's message (copied before the result is freed) in errbuf.
 */
static PGresult *
run(PGconn *conn, const char *sql, ExecStatusType want, const char *what, char *errbuf,
    size_t errlen)
{
	PGresult *res = PQexec(conn, sql);
	const char *msg;

	if (PQresultStatus(res) == want)
		return res;
	msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
	snprintf(errbuf, errlen, "%s: %s", what, msg ? msg : PQerrorMessage(conn));
	PQclear(res);
	return NULL;
}

/* share_snapshot: every session in one transaction that sees the same snapshot. */
static int
share_snapshot(PGconn **conns, int jobs, char *errbuf, size_t errlen)
{
	static const char begin[] = "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY";
	PGresult *res;
	char sql[256];

	if (!(res = run(conns[0], begin, PGRES_COMMAND_OK, "starting the source transaction", errbuf, errlen)))
		return 0;
	PQclear(res);
	if (!(res = run(conns[0], "SELECT pg_export_snapshot()", PGRES_TUPLES_OK, "exporting the snapshot",
	                errbuf, errlen)))
		return 0;
	/* The snapshot id is the server's own text (hex digits and dashes). */
	snprintf(sql, sizeof sql, "SET TRANSACTION SNAPSHOT '%s'", PQgetvalue(res, 0, 0));
	PQclear(res);
	for (int j = 1; j < jobs; j++) {
		if (!(res = run(conns[j], begin, PGRES_COMMAND_OK, "starting the source transaction", errbuf,
		                errlen)))
			return 0;
		PQclear(res);
		if (!(res = run(conns[j], sql, PGRES_COMMAND_OK, "importing the snapshot", errbuf, errlen)))
			return 0;
		PQclear(res);
	}
	return 1;
}

/* format: a malloc'd printf (names quoted by libpq can be long: no fixed buffer). */
static char *
format(const char *fmt, ...)
{
	va_list ap;
	int n;
	char *s;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || !(s = malloc((size_t) n + 1)))
		return NULL;
	va_start(ap, fmt);
	vsnprintf(s, (size_t) n + 1, fmt, ap);
	va_end(ap);
	return s;
}

/* run_text: run a malloc'd statement (NULL: out of memory), then free it. */
static PGresult *
run_text(PGconn *conn, char *sql, ExecStatusType want, const char *what, char *errbuf, size_t errlen)
{
	PGresult *res;

	if (!sql) {
		snprintf(errbuf, errlen, "out of memory");
		return NULL;
	}
	res = run(conn, sql, want, what, errbuf, errlen);
	free(sql);
	return res;
}

/*
 * ranges_by_pages: contiguous ctid page ranges; the last one is open-ended.
 * A partitioned table's ranges apply to each partition's own pages, so they
 * are sized by its largest partition.  A view or a foreign table has no pages.
 */
static int
ranges_by_pages(PGconn *conn, const char *qtable, char relkind, int jobs, char **where, char *errbuf,
                size_t errlen)
{
	char *lit = PQescapeLiteral(conn, qtable, strlen(qtable));
	PGresult *res;
	long long pages, per;

	if (relkind != 'r' && relkind != 'p' && relkind != 'm') {
		snprintf(errbuf, errlen, "%s has no pages to split: --jobs needs --split-key for a view or "
		         "a foreign table", qtable);
		PQfreemem(lit);
		return 0;
	}
	if (!lit) {
		snprintf(errbuf, errlen, "%s", PQerrorMessage(conn));
		return 0;
	}
	res = run_text(conn, relkind == 'p'
	               ? format("SELECT coalesce(max(pg_catalog.pg_relation_size(relid)), 0) / "
	                        "current_setting('block_size')::bigint FROM pg_catalog.pg_partition_tree(%s::regclass) "
	                        "WHERE isleaf", lit)
	               : format("SELECT pg_catalog.pg_relation_size(%s::regclass) / "
	                        "current_setting('block_size')::bigint", lit),
	               PGRES_TUPLES_OK, "sizing the table", errbuf, errlen);
	PQfreemem(lit);
	if (!res)
		return 0;
	pages = atoll(PQgetvalue(res, 0, 0));
	PQclear(res);
	per = (pages + jobs - 1) / jobs;
	if (per < 1)
		per = 1;
	for (int j = 0; j < jobs; j++) {
		long long lo = per * j, hi = per * (j + 1);
		if (jobs == 1)
			where[j] = format("true");
		else if (j == 0)
			where[j] = format("ctid < '(%lld,0)'::tid", hi);
		else if (j == jobs - 1)
			where[j] = format("ctid >= '(%lld,0)'::tid", lo);
		else
			where[j] = format("ctid >= '(%lld,0)'::tid AND ctid < '(%lld,0)'::tid", lo, hi);
		if (!where[j]) {
			snprintf(errbuf, errlen, "out of memory");
			return 0;
		}
	}
	return 1;
}

/* ranges_by_key: equal spans of an integer key over the rows the copy reads (qrel: ONLY for a table). */
static int
ranges_by_key(PGconn *conn, const char *qrel, const char *qkey, int jobs, char **where,
              char *errbuf, size_t errlen)
{
	PGresult *res;
	long long lo, hi, step;

	res = run_text(conn, format("SELECT min(%s)::bigint, max(%s)::bigint FROM %s", qkey, qkey, qrel),
	               PGRES_TUPLES_OK, "--split-key must name an integer column", errbuf, errlen);
	if (!res)
		return 0;
	lo = PQgetisnull(res, 0, 0) ? 0 : atoll(PQgetvalue(res, 0, 0));
	hi = PQgetisnull(res, 0, 1) ? 0 : atoll(PQgetvalue(res, 0, 1));
	PQclear(res);
	step = (hi - lo) / jobs + 1;
	for (int j = 0; j < jobs; j++) {
		long long b = lo + step * j, e = lo + step * (j + 1);
		if (jobs == 1)
			where[j] = format("true");
		else if (j == 0)
			where[j] = format("%s < %lld", qkey, e);
		else if (j == jobs - 1)
			where[j] = format("(%s >= %lld OR %s IS NULL)", qkey, b, qkey);
		else
			where[j] = format("%s >= %lld AND %s < %lld", qkey, b, qkey, e);
		if (!where[j]) {
			snprintf(errbuf, errlen, "out of memory");
			return 0;
		}
	}
	return 1;
}

int
cli_split_source(PGconn **conns, int jobs, const char *qtable, const char *qrel, char relkind,
                 const char *qkey, char **where, char *errbuf, size_t errlen)
{
	if (!share_snapshot(conns, jobs, errbuf, errlen))
		return 0;
	if (qkey)
		return ranges_by_key(conns[0], qrel, qkey, jobs, where, errbuf, errlen);
	return ranges_by_pages(conns[0], qtable, relkind, jobs, where, errbuf, errlen);
}
