/*
 * split.c: one table read by several source sessions at once, each a range
 * of it, all under one snapshot: the first session exports its snapshot and
 * the others import it (REPEATABLE READ), so together they read exactly the
 * table as it was at one moment, every row once.
 */
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

/* ranges_by_pages: contiguous ctid page ranges; the last one is open-ended. */
static int
ranges_by_pages(PGconn *conn, const char *qtable, int jobs, char **where, char *errbuf, size_t errlen)
{
	char sql[1024], *lit = PQescapeLiteral(conn, qtable, strlen(qtable));
	PGresult *res;
	long long pages, per;

	if (!lit) {
		snprintf(errbuf, errlen, "%s", PQerrorMessage(conn));
		return 0;
	}
	snprintf(sql, sizeof sql,
	         "SELECT pg_relation_size(%s::regclass) / current_setting('block_size')::bigint", lit);
	PQfreemem(lit);
	if (!(res = run(conn, sql, PGRES_TUPLES_OK, "sizing the table", errbuf, errlen)))
		return 0;
	pages = atoll(PQgetvalue(res, 0, 0));
	PQclear(res);
	per = (pages + jobs - 1) / jobs;
	if (per < 1)
		per = 1;
	for (int j = 0; j < jobs; j++) {
		long long lo = per * j, hi = per * (j + 1);
		char buf[160];
		if (jobs == 1)
			snprintf(buf, sizeof buf, "true");
		else if (j == 0)
			snprintf(buf, sizeof buf, "ctid < '(%lld,0)'::tid", hi);
		else if (j == jobs - 1)
			snprintf(buf, sizeof buf, "ctid >= '(%lld,0)'::tid", lo);
		else
			snprintf(buf, sizeof buf, "ctid >= '(%lld,0)'::tid AND ctid < '(%lld,0)'::tid", lo, hi);
		if (!(where[j] = strdup(buf))) {
			snprintf(errbuf, errlen, "out of memory");
			return 0;
		}
	}
	return 1;
}

/* ranges_by_key: equal spans of an integer key; NULL keys go with the last range. */
static int
ranges_by_key(PGconn *conn, const char *qtable, const char *qkey, int jobs, char **where,
              char *errbuf, size_t errlen)
{
	char sql[1024];
	PGresult *res;
	long long lo, hi, step;

	snprintf(sql, sizeof sql, "SELECT min(%s)::bigint, max(%s)::bigint FROM %s", qkey, qkey, qtable);
	if (!(res = run(conn, sql, PGRES_TUPLES_OK, "--split-key must name an integer column", errbuf, errlen)))
		return 0;
	lo = PQgetisnull(res, 0, 0) ? 0 : atoll(PQgetvalue(res, 0, 0));
	hi = PQgetisnull(res, 0, 1) ? 0 : atoll(PQgetvalue(res, 0, 1));
	PQclear(res);
	step = (hi - lo) / jobs + 1;
	for (int j = 0; j < jobs; j++) {
		char buf[512];
		long long b = lo + step * j, e = lo + step * (j + 1);
		if (jobs == 1)
			snprintf(buf, sizeof buf, "true");
		else if (j == 0)
			snprintf(buf, sizeof buf, "%s < %lld", qkey, e);
		else if (j == jobs - 1)
			snprintf(buf, sizeof buf, "(%s >= %lld OR %s IS NULL)", qkey, b, qkey);
		else
			snprintf(buf, sizeof buf, "%s >= %lld AND %s < %lld", qkey, b, qkey, e);
		if (!(where[j] = strdup(buf))) {
			snprintf(errbuf, errlen, "out of memory");
			return 0;
		}
	}
	return 1;
}

int
cli_split_source(PGconn **conns, int jobs, const char *qtable, const char *qkey, char **where,
                 char *errbuf, size_t errlen)
{
	if (!share_snapshot(conns, jobs, errbuf, errlen))
		return 0;
	if (qkey)
		return ranges_by_key(conns[0], qtable, qkey, jobs, where, errbuf, errlen);
	return ranges_by_pages(conns[0], qtable, jobs, where, errbuf, errlen);
}
