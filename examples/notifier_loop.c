/*
 * notifier_loop.c: watch connections the application owns with a notifier.
 *
 *   notifier_loop [CONNSTR]      (default: the PG* environment)
 *
 * One connection LISTENs on "jobs"; a second one sends three notifications in
 * one transaction.  The loop prints each, with idle events every 200 ms, and
 * ends once all three came (or after 25 idle events, if they never do).
 */
#include <stdio.h>
#include <stdlib.h>

#include "pgcopyman.h"

static PGconn *
connect_or_die(const char *conninfo)
{
	PGconn *conn = PQconnectdb(conninfo);

	if (PQstatus(conn) != CONNECTION_OK) {
		fprintf(stderr, "notifier_loop: %s", PQerrorMessage(conn));
		PQfinish(conn);
		exit(1);
	}
	return conn;
}

static int
exec_ok(PGconn *conn, const char *sql)
{
	PGresult *res = PQexec(conn, sql);
	int ok = PQresultStatus(res) == PGRES_COMMAND_OK || PQresultStatus(res) == PGRES_TUPLES_OK;

	if (!ok)
		fprintf(stderr, "notifier_loop: %s: %s", sql, PQerrorMessage(conn));
	PQclear(res);
	return ok;
}

int
main(int argc, char **argv)
{
	const char *conninfo = argc > 1 ? argv[1] : "";
	PGconn *listener = connect_or_die(conninfo);
	PGconn *sender = connect_or_die(conninfo);
	pgcm_notifier *n = pgcm_notifier_new();
	int received = 0, idles = 0, rc = 1;

	if (!n || pgcm_notifier_add(n, listener) != PGCM_OK
	    || pgcm_notifier_set_idle_interval(n, 200) != PGCM_OK)
		goto cleanup;
	if (!exec_ok(listener, "LISTEN jobs")
	    || !exec_ok(sender, "BEGIN; NOTIFY jobs, 'one'; NOTIFY jobs, 'two'; "
	                        "NOTIFY jobs, 'three'; COMMIT"))
		goto cleanup;

	while (received < 3 && idles < 25) {
		pgcm_notify_event ev;
		pgcm_status st = pgcm_notifier_next(n, &ev);

		if (st == PGCM_AGAIN)
			continue;               /* a signal interrupted the wait */
		if (st != PGCM_OK) {
			fprintf(stderr, "notifier_loop: %s: %s\n", pgcm_strerror(st),
			        pgcm_notifier_errmsg(n));
			goto cleanup;
		}
		switch (ev.kind) {
		case PGCM_NOTIFY_BATCH:
			for (size_t i = 0; i < ev.count; i++, received++)
				printf("%s: %s (from pid %d)\n", ev.notifies[i].channel,
				       ev.notifies[i].payload, ev.notifies[i].pid);
			break;
		case PGCM_NOTIFY_IDLE:
			idles++;
			printf("idle\n");
			break;
		case PGCM_NOTIFY_FAILED:
			/* Set aside by the notifier; still ours to close. */
			fprintf(stderr, "notifier_loop: connection failed: %s\n", ev.message);
			goto cleanup;
		default:
			break;
		}
	}
	rc = received == 3 ? 0 : 1;

cleanup:
	pgcm_notifier_free(n);
	PQfinish(listener);
	PQfinish(sender);
	return rc;
}
