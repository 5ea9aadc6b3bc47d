/*
 * copy_estimate.c: what the copy will move, for the progress display's
 * percent and ETA.  Only the display uses it, so an estimate is good enough,
 * but every source should have one:
 *
 *   - a table, materialised view or partitioned table with statistics:
 *     pg_class.reltuples;
 *   - one never VACUUMed or ANALYZEd (reltuples -1): its size in pages times
 *     the rows per page of a small sample (TABLESAMPLE SYSTEM of about 256
 *     pages: the planner's own guess for such a table goes by the column
 *     types' widths and is often off by a factor of two or more);
 *   - a view, a foreign table, a query: the planner's row estimate (EXPLAIN);
 *   - a regular file: its size in bytes;
 *   - a pipe or a compressed file (its size is not the data's): unknown (0:
 *     no percent, no ETA).
 *
 * The table's size on disk is not the size of its COPY data, so bytes are
 * estimated only for files.  With --jobs the source session is inside the
 * shared snapshot's transaction: the estimate's queries run under a savepoint
 * there, so that one that fails cannot abort it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "copy.h"

/* Pages a sample reads (about 2 MB with 8 kB pages). */
#define SAMPLE_PAGES 256.0

/*
 * guarded_query: sql (params[0..n)) on conn; its result when it returned
 * exactly one row, else NULL.  Inside a transaction it runs under a
 * savepoint, rolled back when it failed, so that the transaction goes on.
 */
static PGresult *
guarded_query(PGconn *conn, const char *sql, int n, const char *const *params)
{
	int in_xact = PQtransactionStatus(conn) == PQTRANS_INTRANS;
	PGresult *res;
	int ok;

	if (in_xact) {
		res = PQexec(conn, "SAVEPOINT pgcopyman_estimate");
		ok = PQresultStatus(res) == PGRES_COMMAND_OK;
		PQclear(res);
		if (!ok)
			return NULL;
	}
	res = PQexecParams(conn, sql, n, NULL, params, NULL, NULL, 0);
	ok = PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1;
	if (in_xact)
		PQclear(PQexec(conn, ok ? "RELEASE SAVEPOINT pgcopyman_estimate"
		                        : "ROLLBACK TO SAVEPOINT pgcopyman_estimate; "
		                          "RELEASE SAVEPOINT pgcopyman_estimate"));
	if (ok)
		return res;
	PQclear(res);
	return NULL;
}

/* query_row: the first row of sql as doubles (NULL as 0) in out[0..nout); 0 when it failed. */
static int
query_row(PGconn *conn, const char *sql, int n, const char *const *params, double *out, int nout)
{
	PGresult *res = guarded_query(conn, sql, n, params);
	int ok = res && PQnfields(res) >= nout;

	for (int i = 0; ok && i < nout; i++)
		out[i] = PQgetisnull(res, 0, i) ? 0 : strtod(PQgetvalue(res, 0, i), NULL);
	PQclear(res);
	return ok;
}

/* prefixed: prefix followed by s; malloc'd. */
static char *
prefixed(const char *prefix, const char *s)
{
	size_t n = strlen(prefix);
	char *out = malloc(n + strlen(s) + 1);

	if (out) {
		memcpy(out, prefix, n);
		strcpy(out + n, s);
	}
	return out;
}

/*
 * planner_rows: the planner's estimate of the rows of select (a query), from
 * the top plan node of EXPLAIN (FORMAT JSON); 0 when unknown.
 */
static uint64_t
planner_rows(PGconn *conn, const char *select)
{
	char *sql = prefixed("EXPLAIN (FORMAT JSON) ", select);
	PGresult *res = sql ? guarded_query(conn, sql, 0, NULL) : NULL;
	const char *at = res ? strstr(PQgetvalue(res, 0, 0), "\"Plan Rows\":") : NULL;
	double n = at ? strtod(at + strlen("\"Plan Rows\":"), NULL) : 0;

	free(sql);
	PQclear(res);
	return n > 0 ? (uint64_t) n : 0;
}

/*
 * sampled_rows: a table without statistics: its pages (every leaf partition's
 * for a partitioned table) times the rows per page of a TABLESAMPLE SYSTEM
 * sample of about SAMPLE_PAGES pages.  Returns -1 when it cannot tell (the
 * sample found no page).
 */
static double
sampled_rows(PGconn *conn, const char *table, const char *relation)
{
	static const char pages_sql[] =
		"SELECT CASE WHEN c.relkind = 'p'"
		"  THEN (SELECT coalesce(sum(pg_catalog.pg_relation_size(t.relid)), 0)"
		"          FROM pg_catalog.pg_partition_tree(c.oid) t WHERE t.isleaf)"
		"  ELSE pg_catalog.pg_relation_size(c.oid) END"
		"  / pg_catalog.current_setting('block_size')::pg_catalog.int8"
		"  FROM pg_catalog.pg_class c WHERE c.oid = $1::pg_catalog.regclass";
	static const char sample_fmt[] =
		"SELECT count(*), count(DISTINCT (tableoid, (ctid::pg_catalog.text::pg_catalog.point)[0]))"
		"  FROM %s TABLESAMPLE SYSTEM (%.6f)";
	const char *params[1] = {table};
	double pages, got[2], percent;
	size_t n = sizeof sample_fmt + strlen(relation) + 32;
	char *sql;
	int ok;

	if (!query_row(conn, pages_sql, 1, params, &pages, 1))
		return -1;
	if (pages < 1)
		return 0;
	percent = pages <= SAMPLE_PAGES ? 100.0 : 100.0 * SAMPLE_PAGES / pages;
	if (!(sql = malloc(n)))
		return -1;
	snprintf(sql, n, sample_fmt, relation, percent);
	ok = query_row(conn, sql, 0, NULL, got, 2);
	free(sql);
	if (!ok || got[1] < 1)
		return -1;
	return got[0] / got[1] * pages;
}

/* table_rows: the estimate for a source relation (see the file's comment). */
static uint64_t
table_rows(PGconn *conn, const pgcm_plan *plan)
{
	static const char sql[] = "SELECT reltuples FROM pg_catalog.pg_class WHERE oid = $1::pg_catalog.regclass";
	const char *params[1] = {pgcm_plan_source_table(plan)};
	const char *relation = pgcm_plan_source_relation(plan);
	char kind = pgcm_plan_source_relkind(plan);
	double reltuples = -1;
	char *select;
	uint64_t rows;

	if (!query_row(conn, sql, 1, params, &reltuples, 1))
		return 0;
	if (kind == 'r' || kind == 'm' || kind == 'p') {
		if (reltuples < 0 && relation)
			reltuples = sampled_rows(conn, params[0], relation);
		if (reltuples >= 0)
			return (uint64_t) reltuples;
	}
	if (!relation || !(select = prefixed("SELECT 1 FROM ", relation)))
		return 0;
	rows = planner_rows(conn, select);
	free(select);
	return rows;
}

void
copy_estimate(const pgcm_plan *plan, const copy_opts *o, const copy_endpoint *src, uint64_t *rows,
              uint64_t *bytes)
{
	struct stat sb;

	*rows = *bytes = 0;
	if (src->kind == EP_SERVER && pgcm_plan_source_table(plan))
		*rows = table_rows(src->conns[0], plan);
	else if (src->kind == EP_SERVER && o->query) {
		const char *why;
		char *query = cli_query_strip(o->query, &why);   /* as the COPY runs it */
		if (query)
			*rows = planner_rows(src->conns[0], query);
		free(query);
	} else if (src->kind == EP_FILE && !src->reader && fstat(src->fd, &sb) == 0 && S_ISREG(sb.st_mode))
		*bytes = (uint64_t) sb.st_size;
}
