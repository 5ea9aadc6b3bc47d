/*
 * listener_conn.c: the listener's own connection: connecting without
 * blocking, back-off after a failure, the LISTEN and UNLISTEN commands,
 * pings while quiet, and what a live connection brings.
 */
#include <poll.h>
#include <stdio.h>
#include <string.h>

#include "listener_int.h"

/* keep_channel: deliver a notification only for a channel the caller still wants. */
static int
keep_channel(const void *arg, const char *name)
{
	const channel *c = pgcm__listener_channel(arg, name);

	return c && c->wanted;
}

/*
 * keep_fatal: the library never prints, so its own connection's notices are
 * not shown; but the server's last words before it closes the connection
 * ("FATAL: terminating connection due to administrator command") arrive as
 * one, and are the best reason to give for DISCONNECTED.
 */
static void
keep_fatal(void *arg, const char *message)
{
	pgcm_listener *l = arg;

	if (strncmp(message, "FATAL:", 6) == 0)
		pgcm__set_msg(&l->fatal, "%s", message);
}

/* first_line: a message cut to its first line (libpq adds hints on later lines). */
static char *
first_line(const char *msg)
{
	char *s = pgcm__pq_message(msg);
	char *nl = s ? strchr(s, '\n') : NULL;

	if (nl)
		*nl = '\0';
	return s;
}

/* pgcm__listener_drop_conn: close the listener's own connection; nothing is LISTENed any more. */
void
pgcm__listener_drop_conn(pgcm_listener *l)
{
	if (l->conn)
		PQfinish(l->conn);
	l->conn = NULL;
	pgcm__free(l->fatal);
	l->fatal = NULL;
	l->cmd = CMD_NONE;
	l->cmd_failed = 0;
	l->want_write = 0;
	for (size_t i = 0; i < l->nch; i++)
		l->ch[i].active = l->ch[i].sent = 0;
}

/*
 * pgcm__listener_attempt_failed: a connection attempt (connect or the LISTENs after it)
 * failed.  The very first connection is not retried behind the caller's back:
 * a wrong connection string should be an error, not an endless loop.  Later
 * ones wait for the back-off, which doubles up to its cap.
 */
pgcm_status
pgcm__listener_attempt_failed(pgcm_listener *l, const char *why, int64_t now)
{
	char *msg = pgcm__pq_message(why);

	pgcm__listener_drop_conn(l);
	if (!l->ever_ready) {
		l->state = L_START;
		pgcm__set_msg(&l->errmsg, "cannot connect: %s", msg ? msg : "out of memory");
		pgcm__free(msg);
		return PGCM_ERR_CONNECTION;
	}
	pgcm__set_msg(&l->errmsg, "re-connection attempt failed: %s", msg ? msg : "out of memory");
	pgcm__free(msg);
	l->state = L_WAIT;
	l->deadline = now + l->backoff_cur;
	l->backoff_cur = l->backoff_cur > l->backoff_max / 2 ? l->backoff_max : l->backoff_cur * 2;
	return PGCM_AGAIN;
}

/*
 * connection_lost: the established connection broke.  Notifications libpq
 * already holds are taken first (they were sent before the break and are
 * delivered before DISCONNECTED).  The first re-connection attempt is
 * immediate: after a terminated backend the server is usually fine.
 */
static pgcm_status
connection_lost(pgcm_listener *l, const char *why, int64_t now)
{
	if (l->state != L_READY)
		return pgcm__listener_attempt_failed(l, why, now);
	if (l->conn && pgcm__batch_drain(&l->b, l->conn, keep_channel, l) != PGCM_OK)
		pgcm__batch_release(&l->b);
	pgcm__free(l->lost_msg);
	l->lost_msg = first_line(l->fatal ? l->fatal : why);
	pgcm__set_msg(&l->errmsg, "connection lost: %s", l->lost_msg ? l->lost_msg : "?");
	pgcm__listener_drop_conn(l);
	l->state = L_WAIT;
	l->deadline = now;
	l->backoff_cur = l->backoff_initial;
	l->pending_lost = 1;
	return PGCM_AGAIN;
}

/*
 * pgcm__listener_start_connect: begin a connection attempt without blocking.  Our defaults
 * (keepalives, so that a silent network partition is noticed) come before the
 * caller's connection string, which libpq expands in place of dbname: a
 * keyword the caller sets there wins.
 */
pgcm_status
pgcm__listener_start_connect(pgcm_listener *l, int64_t now)
{
	const char *keys[] = {"keepalives", "keepalives_idle", "keepalives_interval",
	                      "keepalives_count", "tcp_user_timeout",
	                      "fallback_application_name", "dbname", NULL};
	const char *vals[] = {"1", "10", "5", "3", "30000", "pgcopyman", l->conninfo, NULL};

	l->conn = PQconnectStartParams(keys, vals, 1);
	if (!l->conn) {
		pgcm__set_msg(&l->errmsg, "out of memory");
		return PGCM_ERR_NOMEM;
	}
	if (PQstatus(l->conn) == CONNECTION_BAD)
		return pgcm__listener_attempt_failed(l, PQerrorMessage(l->conn), now);
	PQsetNoticeProcessor(l->conn, keep_fatal, l);
	l->state = L_CONNECTING;
	l->polling = PGRES_POLLING_WRITING;
	l->deadline = now + l->ping_timeout;
	return PGCM_OK;
}

/* sock_ready: whether fd is ready for events now (PQconnectPoll must only be called then). */
static int
sock_ready(int fd, short events)
{
	struct pollfd p = {.fd = fd, .events = events, .revents = 0};

	return poll(&p, 1, 0) > 0;
}

/*
 * send_sync: send one command with a LISTEN for every wanted channel the
 * server does not have and an UNLISTEN for every one the caller dropped.
 * Names are quoted with the connection's own PQescapeIdentifier.  Returns
 * PGCM_OK (sent or nothing to send), PGCM_ERR_NOMEM, or PGCM_ERR_CONNECTION
 * when the connection broke (the message says why).
 */
static pgcm_status
send_sync(pgcm_listener *l, int64_t now)
{
	char *sql = NULL;
	size_t len = 0, cap = 0;
	pgcm_status st = PGCM_OK;

	for (size_t i = 0; i < l->nch; i++) {
		channel *c = &l->ch[i];
		char *q;
		size_t need;
		const char *verb;

		if (c->wanted == c->active)
			continue;
		verb = c->wanted ? "LISTEN " : "UNLISTEN ";
		q = PQescapeIdentifier(l->conn, c->name, strlen(c->name));
		if (!q) {
			pgcm__set_msg(&l->errmsg, "cannot quote channel \"%s\": %s", c->name,
			              PQerrorMessage(l->conn));
			st = PGCM_ERR_NOMEM;
			goto cleanup;
		}
		need = len + strlen(verb) + strlen(q) + 3;
		if (need > cap) {
			size_t ncap = need * 2;
			char *ns = pgcm__realloc(sql, ncap);

			if (!ns) {
				PQfreemem(q);
				pgcm__set_msg(&l->errmsg, "out of memory");
				st = PGCM_ERR_NOMEM;
				goto cleanup;
			}
			sql = ns;
			cap = ncap;
		}
		len += (size_t) sprintf(sql + len, "%s%s; ", verb, q);
		PQfreemem(q);
		c->sent = 1;
	}
	if (len == 0)
		goto cleanup;
	if (!PQsendQuery(l->conn, sql)) {
		st = PGCM_ERR_CONNECTION;
		goto cleanup;
	}
	l->cmd = CMD_SYNC;
	l->cmd_failed = 0;
	l->cmd_deadline = now + l->ping_timeout;
	l->want_write = 1;

cleanup:
	if (st != PGCM_OK)
		for (size_t i = 0; i < l->nch; i++)
			l->ch[i].sent = 0;
	pgcm__free(sql);
	return st;
}

/* sync_done: the server answered the LISTENs and UNLISTENs; forget channels dropped for good. */
static void
sync_done(pgcm_listener *l)
{
	size_t k = 0;

	for (size_t i = 0; i < l->nch; i++) {
		channel *c = &l->ch[i];

		if (c->sent) {
			if (l->cmd_failed)
				l->sync_refused = 1;
			else
				c->active = c->wanted;
			c->sent = 0;
		}
		if (!c->wanted && !c->active) {
			pgcm__free(c->name);
			continue;
		}
		l->ch[k++] = *c;
	}
	l->nch = k;
}

int
pgcm__listener_needs_sync(const pgcm_listener *l)
{
	if (l->sync_refused)
		return 0;
	for (size_t i = 0; i < l->nch; i++)
		if (l->ch[i].wanted != l->ch[i].active)
			return 1;
	return 0;
}

/* on_result: an error result marks the command failed (a refused LISTEN). */
static int
on_result(void *arg, PGresult *res)
{
	pgcm_listener *l = arg;
	ExecStatusType st = PQresultStatus(res);

	if (st != PGRES_COMMAND_OK && st != PGRES_EMPTY_QUERY && st != PGRES_TUPLES_OK) {
		char *msg = pgcm__pq_message(PQresultErrorMessage(res));

		l->cmd_failed = 1;
		pgcm__set_msg(&l->errmsg, "%s", msg ? msg : "out of memory");
		pgcm__free(msg);
	}
	return 0;
}

/*
 * read_results: read the answers to the command in flight without blocking.
 * Returns 1 when the command completed, 0 when it is still running, -1 when
 * the connection broke.  An error result marks the command failed; the
 * connection may still be fine (a refused LISTEN).
 */
static int
read_results(pgcm_listener *l)
{
	switch (pgcm__pq_results(l->conn, on_result, l)) {
	case PGCM__PQ_IDLE:
		return PQstatus(l->conn) == CONNECTION_BAD ? -1 : 1;
	case PGCM__PQ_BUSY:
	case PGCM__PQ_STOP:
		return 0;
	case PGCM__PQ_BROKEN:
		break;
	}
	return -1;
}

void
pgcm__listener_emit_batch(pgcm_listener *l, pgcm_notify_event *ev, PGconn *conn, int64_t now)
{
	pgcm__idle_reset(&l->idle, now);
	ev->kind = PGCM_NOTIFY_BATCH;
	ev->conn = conn;
	ev->notifies = l->b.items;
	ev->count = l->b.count;
}

/*
 * pgcm__listener_connected: everything that happens on a live connection: flush, read,
 * collect results, notifications, then start the next command (the LISTENs of
 * a new connection, a channel change, or a ping when quiet).  Returns PGCM_OK
 * with an event, PGCM_AGAIN, or an error of the first connection.
 */
pgcm_status
pgcm__listener_connected(pgcm_listener *l, pgcm_notify_event *ev, int64_t now)
{
	int r;

	if (l->want_write) {
		r = PQflush(l->conn);
		if (r < 0)
			return connection_lost(l, PQerrorMessage(l->conn), now);
		l->want_write = r == 1;
	}
	if (!PQconsumeInput(l->conn) || PQstatus(l->conn) == CONNECTION_BAD)
		return connection_lost(l, PQerrorMessage(l->conn), now);

	if (l->cmd != CMD_NONE) {
		r = read_results(l);
		if (r < 0)
			return connection_lost(l, PQerrorMessage(l->conn), now);
		if (r == 1) {
			int failed = l->cmd_failed;

			l->last_rx = now;
			if (l->cmd == CMD_SYNC)
				sync_done(l);
			l->cmd = CMD_NONE;
			l->cmd_failed = 0;
			if (failed && l->state == L_SYNC)
				return pgcm__listener_attempt_failed(l, l->errmsg, now) == PGCM_ERR_CONNECTION
				       ? PGCM_ERR_SERVER : PGCM_AGAIN;
			if (failed)
				return PGCM_ERR_SERVER;
		} else if (now >= l->cmd_deadline) {
			char why[96];

			snprintf(why, sizeof why, "the server did not answer within %d ms",
			         l->ping_timeout);
			return connection_lost(l, why, now);
		}
	}

	if (pgcm__batch_drain(&l->b, l->conn, keep_channel, l) != PGCM_OK) {
		pgcm__set_msg(&l->errmsg, "out of memory");
		return PGCM_ERR_NOMEM;
	}
	if (l->b.count > 0) {
		l->last_rx = now;
		pgcm__listener_emit_batch(l, ev, l->conn, now);
		return PGCM_OK;
	}

	if (l->state == L_SYNC && l->cmd == CMD_NONE) {
		l->state = L_READY;
		l->backoff_cur = l->backoff_initial;
		if (l->ever_ready) {
			l->reconnects++;
			pgcm__idle_reset(&l->idle, now);
			ev->kind = PGCM_NOTIFY_RECONNECTED;
			ev->conn = l->conn;
			return PGCM_OK;
		}
		l->ever_ready = 1;
	}
	if (l->state == L_READY && l->cmd == CMD_NONE) {
		pgcm_status st = PGCM_OK;

		if (pgcm__listener_needs_sync(l))
			st = send_sync(l, now);
		else if (l->ping_interval > 0 && now - l->last_rx >= l->ping_interval) {
			if (PQsendQuery(l->conn, "")) {
				l->cmd = CMD_PING;
				l->cmd_deadline = now + l->ping_timeout;
				l->want_write = 1;
			} else
				st = PGCM_ERR_CONNECTION;
		}
		if (st == PGCM_ERR_CONNECTION)
			return connection_lost(l, PQerrorMessage(l->conn), now);
		if (st != PGCM_OK)
			return st;
		if (l->want_write) {
			r = PQflush(l->conn);
			if (r < 0)
				return connection_lost(l, PQerrorMessage(l->conn), now);
			l->want_write = r == 1;
		}
	}
	return PGCM_AGAIN;
}

/*
 * pgcm__listener_connecting: drive PQconnectPoll when the socket is ready
 * for it (*moved: it was called, so go round again); once connected, send
 * the LISTENs of the new connection.
 */
pgcm_status
pgcm__listener_connecting(pgcm_listener *l, int64_t now, int *moved)
{
	pgcm_status st = PGCM_AGAIN;

	*moved = 0;
	if (now >= l->deadline)
		return pgcm__listener_attempt_failed(l, "timed out while connecting", now);
	if (!sock_ready(PQsocket(l->conn), l->polling == PGRES_POLLING_READING ? POLLIN : POLLOUT))
		return PGCM_AGAIN;   /* wait for the socket */
	*moved = 1;
	l->polling = PQconnectPoll(l->conn);
	if (l->polling == PGRES_POLLING_FAILED)
		return pgcm__listener_attempt_failed(l, PQerrorMessage(l->conn), now);
	if (l->polling != PGRES_POLLING_OK)
		return PGCM_AGAIN;
	if (PQsetnonblocking(l->conn, 1) != 0)
		return pgcm__listener_attempt_failed(l, PQerrorMessage(l->conn), now);
	l->state = L_SYNC;
	l->last_rx = now;
	st = send_sync(l, now);
	if (st == PGCM_ERR_CONNECTION)
		return pgcm__listener_attempt_failed(l, PQerrorMessage(l->conn), now);
	return st == PGCM_OK ? PGCM_AGAIN : st;
}
