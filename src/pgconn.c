/*
 * pgconn.c: libpq helpers shared by the connection producer and receiver
 * (and the listener, the plan's catalog reads): the descriptor to wait on, a look at the socket, giving
 * up on a peer that does not answer, a result's error as one line, and the
 * one loop that reads results until NULL.
 */
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "internal.h"

void
pgcm__wait_conn(pgcm__wait *w, PGconn *conn, short events)
{
	pgcm__wait_on(w, PQstatus(conn) == CONNECTION_BAD ? -1 : PQsocket(conn), events);
}

/* pgcm__pq_readable_now: a zero-timeout poll: has the server sent us something? */
int
pgcm__pq_readable_now(PGconn *conn)
{
	struct pollfd pfd = {.fd = PQsocket(conn), .events = POLLIN};

	return pfd.fd >= 0 && poll(&pfd, 1, 0) > 0 && (pfd.revents & (POLLIN | POLLHUP | POLLERR));
}

/*
 * pgcm__pq_kill: past a drain deadline the peer is not answering; shut the
 * socket down so that libpq sees the connection as broken.  The PGconn stays
 * the caller's to PQfinish.
 */
void
pgcm__pq_kill(PGconn *conn)
{
	int fd = PQsocket(conn);

	if (fd >= 0)
		shutdown(fd, SHUT_RDWR);
	/* Let libpq notice, so PQstatus() says CONNECTION_BAD from now on. */
	(void) PQconsumeInput(conn);
}

/*
 * pgcm__pq_result_error: a failed result's SQLSTATE, and its message as one
 * line: the primary message, then the server's DETAIL and HINT when it gave
 * them.
 */
char *
pgcm__pq_result_error(PGconn *conn, const PGresult *res, char sqlstate[6])
{
	const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	const char *msg = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
	const char *detail = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL) : NULL;
	const char *hint = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_HINT) : NULL;

	snprintf(sqlstate, 6, "%s", state ? state : "");
	if (!msg)
		return pgcm__pq_message(PQerrorMessage(conn));
	if (!detail && !hint)
		return pgcm__pq_message(msg);
	return pgcm__asprintf("%s%s%s%s%s", msg, detail ? " DETAIL: " : "", detail ? detail : "",
	                      hint ? " HINT: " : "", hint ? hint : "");
}

/*
 * pgcm__pq_context_line: the server's "COPY t, line N" context gives the line
 * of its own COPY that failed; 0 when there is none.
 */
uint64_t
pgcm__pq_context_line(const PGresult *res)
{
	const char *ctx = res ? PQresultErrorField(res, PG_DIAG_CONTEXT) : NULL;
	const char *p;

	if (!ctx || !(p = strstr(ctx, ", line ")))
		return 0;
	return strtoull(p + 7, NULL, 10);
}


/*
 * pgcm__pq_results: the one "read results until NULL" loop.  Input is read
 * once; then results are taken while libpq has them whole, so this never
 * blocks: PGCM__PQ_BUSY means the rest has not arrived yet.  Every exit path
 * of a command goes through here, so that a connection is left idle.
 */
pgcm__pq_end
pgcm__pq_results(PGconn *conn, int (*on_result)(void *arg, PGresult *res), void *arg)
{
	if (!PQconsumeInput(conn))
		return PGCM__PQ_BROKEN;
	for (;;) {
		PGresult *res;
		int stop;

		if (PQisBusy(conn))
			return PQstatus(conn) == CONNECTION_BAD ? PGCM__PQ_BROKEN : PGCM__PQ_BUSY;
		res = PQgetResult(conn);
		if (!res)
			return PGCM__PQ_IDLE;
		stop = on_result ? on_result(arg, res) : 0;
		PQclear(res);
		if (stop)
			return PGCM__PQ_STOP;
	}
}

void
pgcm__pq_restore(PGconn *conn, int was_nonblocking)
{
	if (PQstatus(conn) == CONNECTION_OK && !was_nonblocking)
		(void) PQsetnonblocking(conn, 0);
}
