/*
 * transfer.c: the one-call transfer, the first example of the copyman manual:
 *
 *   >>> send_stmt = source.prepare("COPY (SELECT i FROM generate_series(1, 1000000) AS g(i)) TO STDOUT")
 *   >>> destination.execute("CREATE TEMP TABLE loading_table (i int8)")
 *   >>> receive_stmt = destination.prepare("COPY loading_table FROM STDIN")
 *   >>> total_rows, total_bytes = COPY(send_stmt, receive_stmt)
 *
 * Usage: transfer [SOURCE [DESTINATION]]  (libpq connection strings; an
 * absent one means the PG* environment).  Prints what it moved, checks the
 * destination's table, and exits 0 only when every row arrived.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pgcopyman.h"

#define ROWS 1000000ULL
/* Text COPY of 1..1000000, one number and a newline per row. */
#define BYTES 6888896ULL

/* connect_or_report: a connection in CONNECTION_OK, or NULL after saying why. */
static PGconn *
connect_or_report(const char *what, const char *conninfo)
{
	PGconn *conn = PQconnectdb(conninfo);

	if (PQstatus(conn) != CONNECTION_OK) {
		fprintf(stderr, "transfer: cannot connect to the %s: %s", what, PQerrorMessage(conn));
		PQfinish(conn);
		return NULL;
	}
	return conn;
}

/* exec_command: run one statement that returns no rows; 1 on success. */
static int
exec_command(PGconn *conn, const char *sql)
{
	PGresult *res = PQexec(conn, sql);
	int ok = PQresultStatus(res) == PGRES_COMMAND_OK;

	if (!ok)
		fprintf(stderr, "transfer: %s: %s", sql, PQerrorMessage(conn));
	PQclear(res);
	return ok;
}

/*
 * check_table: count and sum the loaded rows on the server itself, so the
 * check does not trust the library's own counters.
 */
static int
check_table(PGconn *conn)
{
	PGresult *res = PQexec(conn, "SELECT count(*), sum(i) FROM loading_table");
	int ok = 0;

	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
		fprintf(stderr, "transfer: counting loading_table: %s", PQerrorMessage(conn));
		goto cleanup;
	}
	printf("loading_table: count %s, sum %s\n", PQgetvalue(res, 0, 0), PQgetvalue(res, 0, 1));
	/* sum(1..n) = n(n+1)/2 proves every value came once, not just the count. */
	ok = strcmp(PQgetvalue(res, 0, 0), "1000000") == 0
	     && strcmp(PQgetvalue(res, 0, 1), "500000500000") == 0;
cleanup:
	PQclear(res);
	return ok;
}

int
main(int argc, char **argv)
{
	const char *src_info = argc > 1 ? argv[1] : "";
	const char *dst_info = argc > 2 ? argv[2] : "";
	PGconn *src = NULL, *dst = NULL;
	uint64_t rows = 0, bytes = 0;
	char errbuf[512];
	pgcm_status st;
	int rc = 1;

	if (!(src = connect_or_report("source", src_info))
	    || !(dst = connect_or_report("destination", dst_info)))
		goto cleanup;
	if (!exec_command(dst, "CREATE TEMP TABLE loading_table (i int8)"))
		goto cleanup;

	st = pgcm_transfer(src, "COPY (SELECT i FROM generate_series(1, 1000000) AS g(i)) TO STDOUT",
	                   &dst, "COPY loading_table FROM STDIN", 1, &rows, &bytes,
	                   errbuf, sizeof errbuf);
	if (st != PGCM_OK) {
		fprintf(stderr, "transfer: %s: %s\n", pgcm_strerror(st), errbuf);
		goto cleanup;
	}
	printf("transferred %" PRIu64 " rows, %" PRIu64 " bytes\n", rows, bytes);
	if (rows != ROWS || bytes != BYTES) {
		fprintf(stderr, "transfer: expected %llu rows and %llu bytes\n", ROWS, BYTES);
		goto cleanup;
	}
	if (!check_table(dst)) {
		fprintf(stderr, "transfer: loading_table does not hold 1..1000000\n");
		goto cleanup;
	}
	printf("transfer: OK\n");
	rc = 0;

cleanup:
	/* These connections are ours: the library never closes a caller's connection. */
	PQfinish(src);
	PQfinish(dst);
	return rc;
}
