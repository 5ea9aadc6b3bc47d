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

/* set_error: *err = "what: message" (malloc'd; NULL when out of memory). */
static void
set_error(char **err, const char *what, const char *msg)
{
	cli_buf b;

	cli_buf_init(&b);
	cli_buf_addf(&b, "%s: %s", what, msg);
	free(*err);
	*err = cli_buf_take(&b);
}

/*
 * run: one statement that must give status want; otherwise NULL, with the
 * server's message (copied before the result is freed) in *err.
 */
static PGresult *
run(PGconn *conn, const char *sql, ExecStatusType want, const char *what, char **err)
{
	PGresult *res;
	const char *msg;

	if (!sql) {
		set_error(err, what, "out of memory");
		return NULL;
	}
	res = PQexec(conn, sql);
	if (PQresultStatus(res) == want)
		return res;
	msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
	set_error(err, what, msg ? msg : PQerrorMessage(conn));
	PQclear(res);
	return NULL;
}

/* share_snapshot: every session in one transaction that sees the same snapshot. */
static int
share_snapshot(PGconn **conns, int jobs, char **err)
{
	static const char begin[] = "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY";
	PGresult *res;
	char *lit, *sql;
	cli_buf b;

	if (!(res = run(conns[0], begin, PGRES_COMMAND_OK, "starting the source transaction", err)))
		return 0;
	PQclear(res);
	if (!(res = run(conns[0], "SELECT pg_export_snapshot()", PGRES_TUPLES_OK, "exporting the snapshot", err)))
		return 0;
	lit = PQescapeLiteral(conns[0], PQgetvalue(res, 0, 0), strlen(PQgetvalue(res, 0, 0)));
	PQclear(res);
	if (!lit) {
		set_error(err, "exporting the snapshot", PQerrorMessage(conns[0]));
		return 0;
	}
	cli_buf_init(&b);
	cli_buf_addf(&b, "SET TRANSACTION SNAPSHOT %s", lit);
	PQfreemem(lit);
	sql = cli_buf_take(&b);
	for (int j = 1; j < jobs; j++) {
		if (!(res = run(conns[j], begin, PGRES_COMMAND_OK, "starting the source transaction", err)))
			goto fail;
		PQclear(res);
		if (!(res = run(conns[j], sql, PGRES_COMMAND_OK, "importing the snapshot", err)))
			goto fail;
		PQclear(res);
	}
	free(sql);
	return 1;
fail:
	free(sql);
	return 0;
}

/* add_range: where[j] = the condition built in b; 0 when out of memory. */
static int
add_range(char **where, int j, cli_buf *b, char **err)
{
	if (!(where[j] = cli_buf_take(b))) {
		set_error(err, "splitting the table", "out of memory");
		return 0;
	}
	return 1;
}

/*
 * ranges_by_pages: contiguous ctid page ranges; the last one is open-ended.
 * A partitioned table's ranges apply to each partition's own pages, so they
 * are sized by its largest partition.  A view or a foreign table has no pages.
 */
static int
ranges_by_pages(PGconn *conn, const char *qtable, char relkind, int jobs, char **where, char **err)
{
	char *lit, *sql;
	PGresult *res;
	long long pages, per;
	cli_buf b;

	if (relkind != 'r' && relkind != 'p' && relkind != 'm') {
		cli_buf_init(&b);
		cli_buf_addf(&b, "%s has no pages to split: --jobs needs --split-key for a view or "
		             "a foreign table", qtable);
		free(*err);
		*err = cli_buf_take(&b);
		return 0;
	}
	if (!(lit = PQescapeLiteral(conn, qtable, strlen(qtable)))) {
		set_error(err, "sizing the table", PQerrorMessage(conn));
		return 0;
	}
	cli_buf_init(&b);
	if (relkind == 'p')
		cli_buf_addf(&b, "SELECT coalesce(max(pg_catalog.pg_relation_size(relid)), 0) / "
		             "current_setting('block_size')::bigint FROM pg_catalog.pg_partition_tree(%s::regclass) "
		             "WHERE isleaf", lit);
	else
		cli_buf_addf(&b, "SELECT pg_catalog.pg_relation_size(%s::regclass) / "
		             "current_setting('block_size')::bigint", lit);
	PQfreemem(lit);
	sql = cli_buf_take(&b);
	res = run(conn, sql, PGRES_TUPLES_OK, "sizing the table", err);
	free(sql);
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
			cli_buf_add(&b, "true");
		else if (j == 0)
			cli_buf_addf(&b, "ctid < '(%lld,0)'::tid", hi);
		else if (j == jobs - 1)
			cli_buf_addf(&b, "ctid >= '(%lld,0)'::tid", lo);
		else
			cli_buf_addf(&b, "ctid >= '(%lld,0)'::tid AND ctid < '(%lld,0)'::tid", lo, hi);
		if (!add_range(where, j, &b, err))
			return 0;
	}
	return 1;
}

/*
 * ranges_by_key: equal spans of an integer key over the rows the copy reads
 * (qrel: ONLY for a table); NULL keys go with the last range.
 */
static int
ranges_by_key(PGconn *conn, const char *qrel, const char *qkey, int jobs, char **where, char **err)
{
	PGresult *res;
	long long lo, hi, step;
	char *sql;
	cli_buf b;

	cli_buf_init(&b);
	cli_buf_addf(&b, "SELECT min(%s)::bigint, max(%s)::bigint FROM %s", qkey, qkey, qrel);
	sql = cli_buf_take(&b);
	res = run(conn, sql, PGRES_TUPLES_OK, "--split-key must name an integer column", err);
	free(sql);
	if (!res)
		return 0;
	lo = PQgetisnull(res, 0, 0) ? 0 : atoll(PQgetvalue(res, 0, 0));
	hi = PQgetisnull(res, 0, 1) ? 0 : atoll(PQgetvalue(res, 0, 1));
	PQclear(res);
	step = (hi - lo) / jobs + 1;
	for (int j = 0; j < jobs; j++) {
		long long from = lo + step * j, to = lo + step * (j + 1);
		if (jobs == 1)
			cli_buf_add(&b, "true");
		else if (j == 0)
			cli_buf_addf(&b, "%s < %lld", qkey, to);
		else if (j == jobs - 1)
			cli_buf_addf(&b, "(%s >= %lld OR %s IS NULL)", qkey, from, qkey);
		else
			cli_buf_addf(&b, "%s >= %lld AND %s < %lld", qkey, from, qkey, to);
		if (!add_range(where, j, &b, err))
			return 0;
	}
	return 1;
}

int
cli_split_source(PGconn **conns, int jobs, const char *qtable, const char *qrel, char relkind,
                 const char *qkey, char **where, char **err)
{
	*err = NULL;
	if (!share_snapshot(conns, jobs, err))
		return 0;
	if (qkey)
		return ranges_by_key(conns[0], qrel, qkey, jobs, where, err);
	return ranges_by_pages(conns[0], qtable, relkind, jobs, where, err);
}
