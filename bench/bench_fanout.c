/*
 * bench_fanout.c: what the client pays per byte and per target.  One real
 * source server runs a COPY ... TO STDOUT into N receivers of one kind, through
 * pgcm_copy_run(), and the program prints one line:
 *
 *   fanout KIND N: B bytes, R rows; wall W s, CPU C s (user U, sys S); X ns CPU per byte
 *
 *   bench_fanout SOURCE COPY_TO N KIND [COPY_FROM TARGET...]
 *
 * KIND is null (pgcm_receiver_null: the client's own cost, nothing written),
 * devnull (pgcm_receiver_fd on /dev/null: one write(2) per chunk, which the
 * kernel discards), or pg (N connections, the i-th to the (i mod number of
 * targets)-th TARGET, each inside BEGIN, running COPY_FROM; rolled back at the
 * end, so the targets keep nothing).  CPU is
 * getrusage() around pgcm_copy_run() only, so connecting does not count; run
 * it under `valgrind --tool=callgrind --toggle-collect=pgcm_copy_run` for the
 * instructions of the copy alone, which a loaded machine does not disturb.
 * Exit status 0 when every receiver got every row.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "pgcopyman.h"

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

static void
cpu_s(double *user, double *sys)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	*user = (double) ru.ru_utime.tv_sec + (double) ru.ru_utime.tv_usec / 1e6;
	*sys = (double) ru.ru_stime.tv_sec + (double) ru.ru_stime.tv_usec / 1e6;
}

static PGconn *
connect_or_die(const char *conninfo)
{
	PGconn *conn = PQconnectdb(conninfo);

	if (PQstatus(conn) != CONNECTION_OK) {
		fprintf(stderr, "bench_fanout: cannot connect: %s", PQerrorMessage(conn));
		exit(1);
	}
	return conn;
}

static void
exec_or_die(PGconn *conn, const char *sql)
{
	PGresult *res = PQexec(conn, sql);

	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		fprintf(stderr, "bench_fanout: %s: %s", sql, PQerrorMessage(conn));
		exit(1);
	}
	PQclear(res);
}

int
main(int argc, char **argv)
{
	PGconn *src, **dst;
	pgcm_copy *c;
	pgcm_progress total;
	pgcm_failure failure;
	pgcm_status st;
	double t0, t1, u0, s0, u1, s1, cpu;
	int n, ok = 1, *fds;
	const char *kind;

	if (argc < 5 || (strcmp(argv[4], "pg") == 0 && argc < 7)) {
		fprintf(stderr, "usage: bench_fanout SOURCE COPY_TO N null|devnull|pg [COPY_FROM TARGET...]\n");
		return 2;
	}
	n = atoi(argv[3]);
	kind = argv[4];
	if (n < 1 || n > 64) {
		fprintf(stderr, "bench_fanout: N must be 1..64\n");
		return 2;
	}
	dst = calloc((size_t) n, sizeof *dst);
	fds = calloc((size_t) n, sizeof *fds);
	if (!dst || !fds)
		return 1;
	src = connect_or_die(argv[1]);
	c = pgcm_copy_new(pgcm_producer_pg(src, argv[2]));
	if (!c)
		return 1;
	for (int i = 0; i < n; i++) {
		pgcm_receiver *r;

		if (strcmp(kind, "null") == 0) {
			r = pgcm_receiver_null();
		} else if (strcmp(kind, "devnull") == 0) {
			fds[i] = open("/dev/null", O_WRONLY);
			if (fds[i] < 0) {
				perror("bench_fanout: /dev/null");
				return 1;
			}
			r = pgcm_receiver_fd(fds[i]);
		} else if (strcmp(kind, "pg") == 0) {
			dst[i] = connect_or_die(argv[6 + i % (argc - 6)]);
			exec_or_die(dst[i], "BEGIN");
			r = pgcm_receiver_pg(dst[i], argv[5]);
		} else {
			fprintf(stderr, "bench_fanout: unknown receiver kind '%s'\n", kind);
			return 2;
		}
		if (pgcm_copy_add(c, r) != PGCM_OK) {
			fprintf(stderr, "bench_fanout: %s\n", pgcm_copy_errmsg(c));
			return 1;
		}
	}
	cpu_s(&u0, &s0);
	t0 = now_s();
	st = pgcm_copy_run(c, &total);
	t1 = now_s();
	cpu_s(&u1, &s1);
	if (st != PGCM_OK) {
		(void) pgcm_copy_finish(c, &failure);
		fprintf(stderr, "bench_fanout: copy failed: %s: %s\n", pgcm_strerror(st),
		        pgcm_copy_errmsg(c));
		for (size_t i = 0; i < failure.nfaults; i++)
			fprintf(stderr, "  %s\n", failure.faults[i].message);
		ok = 0;
	}
	for (int i = 0; i < n; i++) {
		if (pgcm_receiver_rows(pgcm_copy_receiver(c, (size_t) i)) != total.rows)
			ok = 0;
	}
	cpu = (u1 - u0) + (s1 - s0);
	printf("fanout %s %d: %llu bytes, %llu rows; wall %.3f s, CPU %.3f s (user %.3f, sys %.3f);"
	       " %.3f ns CPU per byte%s\n",
	       kind, n, (unsigned long long) total.bytes, (unsigned long long) total.rows, t1 - t0,
	       cpu, u1 - u0, s1 - s0, total.bytes ? cpu * 1e9 / (double) total.bytes : 0.0,
	       ok ? "" : " (FAILED)");
	pgcm_copy_free(c);
	for (int i = 0; i < n; i++) {
		if (dst[i]) {
			exec_or_die(dst[i], "ROLLBACK");
			PQfinish(dst[i]);
		}
		if (fds[i] > 0)
			close(fds[i]);
	}
	PQfinish(src);
	free(dst);
	free(fds);
	return ok ? 0 : 1;
}
