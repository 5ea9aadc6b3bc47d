/*
 * pgconn.c: libpq helpers shared by the connection producer and receiver:
 * the descriptor to wait on, a look at the socket, giving up on a peer that
 * does not answer, and a result's error as one line.
 */
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "internal.h"

void
pgcm__wait_conn(pgcm__wait *w, PGconn *conn, short events)
{
	w->fd = PQstatus(conn) == CONNECTION_BAD ? -1 : PQsocket(conn);
	w->events = events;
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

