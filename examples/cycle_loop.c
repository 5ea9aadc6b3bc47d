/*
 * cycle_loop.c: the copy manager driven cycle by cycle, the second example of
 * the copyman manual:
 *
 *   >>> producer = copyman.StatementProducer(send_stmt)
 *   >>> receiver = copyman.StatementReceiver(receive_stmt)
 *   >>> with source.xact(), destination.xact():
 *   ...     with copyman.CopyManager(producer, receiver) as copy:
 *   ...         for num_messages, num_bytes in copy:
 *   ...             update_rate(num_bytes)
 *
 * plus the manual's fault handling: a fault is printed, the copy goes on with
 * the receivers that are left, and the transactions are committed only if the
 * copy completed.
 *
 * Usage: cycle_loop [SOURCE [DESTINATION [--reject]]]  (libpq connection
 * strings; an absent one means the PG* environment).  With --reject the
 * destination's column is int2, so the server rejects row 32768: the example
 * then expects a fault and a rolled-back destination.  Exits 0 when the
 * outcome is the expected one.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pgcopyman.h"

#define ROWS 1000000ULL

/* The progress state update_rate() keeps between cycles. */
static struct {
	double start, last_print;
	uint64_t bytes;
	unsigned long cycles;
} rate;

static double
now_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

/*
 * update_rate: the manual's progress hook, called once per cycle with the
 * bytes that cycle moved.  It prints at most a few lines a second, because a
 * cycle is a chunk (a few hundred KiB) and a line per cycle would flood.
 */
static void
update_rate(uint64_t bytes)
{
	double now = now_seconds();

	rate.bytes += bytes;
	rate.cycles++;
	if (now - rate.last_print >= 0.25) {
		printf("progress: %" PRIu64 " bytes, %.1f MB/s\n", rate.bytes,
		       now > rate.start ? (double) rate.bytes / (now - rate.start) / 1e6 : 0.0);
		fflush(stdout);
		rate.last_print = now;
	}
}

static PGconn *
connect_or_report(const char *what, const char *conninfo)
{
	PGconn *conn = PQconnectdb(conninfo);

	if (PQstatus(conn) != CONNECTION_OK) {
		fprintf(stderr, "cycle_loop: cannot connect to the %s: %s", what, PQerrorMessage(conn));
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
		fprintf(stderr, "cycle_loop: %s: %s", sql, PQerrorMessage(conn));
	PQclear(res);
	return ok;
}

/* count_rows: count(*) of loading_table, or -1 on error. */
static long long
count_rows(PGconn *conn)
{
	PGresult *res = PQexec(conn, "SELECT count(*) FROM loading_table");
	long long n = -1;

	if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1)
		n = atoll(PQgetvalue(res, 0, 0));
	else
		fprintf(stderr, "cycle_loop: counting loading_table: %s", PQerrorMessage(conn));
	PQclear(res);
	return n;
}

/* print_faults: the faults of the last cycle (the manual's Fault.faults). */
static size_t
print_faults(const pgcm_copy *c)
{
	pgcm_fault faults[8];
	size_t n = pgcm_copy_faults(c, faults, 8);

	for (size_t i = 0; i < n && i < 8; i++)
		printf("fault: %s (row %" PRIu64 ", SQLSTATE %s)\n", faults[i].message, faults[i].row,
		       faults[i].sqlstate[0] ? faults[i].sqlstate : "none");
	return n;
}

int
main(int argc, char **argv)
{
	const char *src_info = argc > 1 ? argv[1] : "";
	const char *dst_info = argc > 2 ? argv[2] : "";
	int reject = argc > 3 && strcmp(argv[3], "--reject") == 0;
	PGconn *src = NULL, *dst = NULL;
	pgcm_copy *c = NULL;
	pgcm_progress progress, totals;
	pgcm_failure failure;
	pgcm_status st;
	size_t nfaults = 0;
	long long loaded;
	int rc = 1, in_xact = 0, completed;

	if (!(src = connect_or_report("source", src_info))
	    || !(dst = connect_or_report("destination", dst_info)))
		goto cleanup;
	if (!exec_command(dst, reject ? "CREATE TEMP TABLE loading_table (i int2)"
	                              : "CREATE TEMP TABLE loading_table (i int8)"))
		goto cleanup;

	/* with source.xact(), destination.xact(): the transactions are ours, not the library's. */
	if (!exec_command(src, "BEGIN") || !exec_command(dst, "BEGIN"))
		goto cleanup;
	in_xact = 1;

	c = pgcm_copy_new(pgcm_producer_pg(src, "COPY (SELECT i FROM generate_series(1, 1000000) AS g(i)) TO STDOUT"));
	if (!c) {
		fprintf(stderr, "cycle_loop: out of memory\n");
		goto cleanup;
	}
	if (pgcm_copy_add(c, pgcm_receiver_pg(dst, "COPY loading_table FROM STDIN")) != PGCM_OK) {
		fprintf(stderr, "cycle_loop: adding the receiver: %s\n", pgcm_copy_errmsg(c));
		goto cleanup;
	}

	/*
	 * for num_messages, num_bytes in copy: each pgcm_copy_next() is one
	 * cycle.  A fault takes its receiver out and the loop goes on with the
	 * others (the manual's `while copy.receivers`); with none left the copy
	 * ends with a failure status.
	 */
	rate.start = rate.last_print = now_seconds();
	for (;;) {
		st = pgcm_copy_next(c, &progress);
		/* Whatever a cycle returns, its progress counts: the last one may also end the copy. */
		if (progress.rows || progress.bytes)
			update_rate(progress.bytes);
		if (st == PGCM_FAULT)
			nfaults += print_faults(c);
		else if (st != PGCM_OK)
			break;
	}

	/* __exit__: finish completes the copy, or aborts it and reports why. */
	st = pgcm_copy_finish(c, &failure);
	completed = st == PGCM_OK;
	totals = pgcm_copy_totals(c);
	printf("cycles: %lu, rows: %" PRIu64 ", bytes: %" PRIu64 "\n", rate.cycles, totals.rows,
	       rate.bytes);
	if (!completed) {
		printf("copy failed: %s\n", failure.reason ? failure.reason : pgcm_strerror(failure.status));
		for (size_t i = 0; i < failure.nfaults; i++)
			printf("  %s\n", failure.faults[i].message);
		if (failure.producer_error)
			printf("  producer: %s\n", failure.producer_error);
	}
	pgcm_copy_free(c);
	c = NULL;

	/* Commit both only if the copy completed; otherwise roll both back. */
	if (!exec_command(src, completed ? "COMMIT" : "ROLLBACK")
	    || !exec_command(dst, completed ? "COMMIT" : "ROLLBACK"))
		goto cleanup;
	in_xact = 0;
	printf("%s\n", completed ? "committed" : "rolled back");

	loaded = count_rows(dst);
	printf("loading_table: %lld rows\n", loaded);
	if (reject) {
		/* The server rejects 32768 for int2: a fault, a failed copy, nothing kept. */
		if (completed || nfaults + failure.nfaults == 0 || loaded != 0) {
			fprintf(stderr, "cycle_loop: expected a rejected row and an empty table\n");
			goto cleanup;
		}
	} else if (!completed || loaded != (long long) ROWS || totals.rows != ROWS
	           || rate.bytes != totals.bytes) {
		/* The cycles' bytes must add up to the copy's total: none is lost or counted twice. */
		fprintf(stderr, "cycle_loop: expected %llu rows and cycles adding up to the total\n", ROWS);
		goto cleanup;
	}
	printf("cycle_loop: OK\n");
	rc = 0;

cleanup:
	pgcm_copy_free(c);
	if (in_xact) {
		/* An early exit leaves nothing half-committed. */
		PQclear(PQexec(src, "ROLLBACK"));
		PQclear(PQexec(dst, "ROLLBACK"));
	}
	PQfinish(src);
	PQfinish(dst);
	return rc;
}
