/*
 * listener.c: a listener owns its connection: it LISTENs, re-connects when
 * the connection breaks, and says when notifications may have been missed.
 *
 *   listener [CONNSTR]      (default: the PG* environment)
 *
 * Once the listener is ready, a second connection sends three notifications
 * with pg_notify(); the program prints them and ends (or gives up after 5 s).
 */
#include <stdio.h>

#include "pgcopyman.h"

static int
send_three(const char *conninfo)
{
	PGconn *conn = PQconnectdb(conninfo);
	int ok = PQstatus(conn) == CONNECTION_OK;

	for (int i = 1; ok && i <= 3; i++) {
		char payload[32];
		const char *params[2] = {"orders", payload};
		PGresult *res;

		snprintf(payload, sizeof payload, "order %d", i);
		res = PQexecParams(conn, "SELECT pg_notify($1, $2)", 2, NULL, params, NULL, NULL, 0);
		ok = PQresultStatus(res) == PGRES_TUPLES_OK;
		PQclear(res);
	}
	if (!ok)
		fprintf(stderr, "listener: sending: %s", PQerrorMessage(conn));
	PQfinish(conn);
	return ok;
}

int
main(int argc, char **argv)
{
	const char *conninfo = argc > 1 ? argv[1] : "";
	const char *channels[] = {"orders"};
	pgcm_listener *l = pgcm_listener_new(conninfo, channels, 1);
	int received = 0, sent = 0, idles = 0, rc = 1;

	if (!l) {
		fprintf(stderr, "listener: out of memory\n");
		return 1;
	}
	pgcm_listener_set_idle_interval(l, 100);
	pgcm_listener_set_backoff(l, 100, 5000);

	while (received < 3 && idles < 50) {
		pgcm_notify_event ev;
		pgcm_status st = pgcm_listener_next(l, &ev);

		if (st == PGCM_AGAIN)
			continue;
		if (st != PGCM_OK) {
			fprintf(stderr, "listener: %s: %s\n", pgcm_strerror(st), pgcm_listener_errmsg(l));
			goto cleanup;
		}
		switch (ev.kind) {
		case PGCM_NOTIFY_BATCH:
			for (size_t i = 0; i < ev.count; i++, received++)
				printf("%s: %s\n", ev.notifies[i].channel, ev.notifies[i].payload);
			break;
		case PGCM_NOTIFY_IDLE:
			idles++;
			break;
		case PGCM_NOTIFY_DISCONNECTED:
			fprintf(stderr, "listener: connection lost (%s); re-connecting\n", ev.message);
			break;
		case PGCM_NOTIFY_RECONNECTED:
			/* Anything sent meanwhile is gone: re-read the state here. */
			fprintf(stderr, "listener: re-connected; resynchronising\n");
			break;
		default:
			break;
		}
		/* Send only once the server LISTENs, or they would be missed. */
		if (!sent && pgcm_listener_ready(l)) {
			if (!send_three(conninfo))
				goto cleanup;
			sent = 1;
		}
	}
	rc = received == 3 ? 0 : 1;

cleanup:
	pgcm_listener_free(l);
	return rc;
}
