/*
 * listener.c: the listener, a connection the library owns, which LISTENs,
 * re-connects with back-off, LISTENs again and reports the gap.
 */
#include <poll.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"

enum listener_state {
	L_START = 0,     /* never connected, or the first connection failed: connect now */
	L_WAIT,          /* back-off before the next re-connection attempt */
	L_CONNECTING,    /* PQconnectPoll in progress */
	L_SYNC,          /* connected; the LISTENs of a new connection are in flight */
	L_READY          /* connected and LISTENing */
};

enum listener_cmd { CMD_NONE = 0, CMD_SYNC, CMD_PING };

typedef struct channel {
	char *name;
	int wanted;       /* the caller asked for it */
	int active;       /* the server LISTENs on the current connection */
	int sent;         /* part of the command in flight */
} channel;

struct pgcm_listener {
	char *conninfo;
	channel *ch;
	size_t nch;
	size_t capch;

	PGconn *conn;
	int state;                /* enum listener_state */
	PostgresPollingStatusType polling;  /* L_CONNECTING: what PQconnectPoll waits for */
	int cmd;                  /* enum listener_cmd in flight */
	int cmd_failed;           /* the command in flight got an error result */
	int want_write;           /* PQflush() had more to send */
	int sync_refused;         /* the server refused a LISTEN: do not retry it by itself */
	int ever_ready;           /* the first connection completed its LISTENs */
	int outage;               /* DISCONNECTED was reported, RECONNECTED not yet */
	int pending_lost;         /* report DISCONNECTED on the next call */
	unsigned long reconnects;

	int idle_ms;
	int backoff_initial;
	int backoff_max;
	int backoff_cur;          /* the wait after the next failed attempt */
	int ping_interval;
	int ping_timeout;

	int64_t deadline;         /* L_WAIT: next attempt; L_CONNECTING: give up */
	int64_t cmd_deadline;     /* the command in flight must be answered by then */
	int64_t last_rx;          /* last time the server answered or sent something */
	int64_t last_event;       /* the idle clock */

	pgcm__batch b;
	char *lost_msg;           /* why the connection broke (DISCONNECTED's message) */
	char *fatal;              /* the server's FATAL notice on this connection, if any */
	char *event_msg;          /* the message handed out with the last event */
	char *errmsg;
	struct pollfd pfd;        /* for pgcm_listener_next() */
};

static int
channel_name_ok(const char *name)
{
	size_t len;

	if (!name)
		return 0;
	len = strlen(name);
	return len > 0 && len <= PGCM_CHANNEL_MAX;
}

static channel *
find_channel(const pgcm_listener *l, const char *name)
{
	for (size_t i = 0; i < l->nch; i++)
		if (strcmp(l->ch[i].name, name) == 0)
			return &l->ch[i];
	return NULL;
}

/* keep_channel: deliver a notification only for a channel the caller still wants. */
static int
keep_channel(const void *arg, const char *name)
{
	const channel *c = find_channel(arg, name);

	return c && c->wanted;
}

pgcm_listener *
pgcm_listener_new(const char *conninfo, const char *const *channels, size_t n)
{
	pgcm_listener *l;

	if (!conninfo || (n > 0 && !channels))
		return NULL;
	for (size_t i = 0; i < n; i++)
		if (!channel_name_ok(channels[i]))
			return NULL;
	l = pgcm__calloc(1, sizeof *l);
	if (!l)
		return NULL;
	l->idle_ms = -1;
	l->backoff_initial = 250;
	l->backoff_max = 30000;
	l->backoff_cur = l->backoff_initial;
	l->ping_interval = 30000;
	l->ping_timeout = 10000;
	l->last_event = l->last_rx = pgcm__now_ms();
	l->pfd.fd = -1;
	l->conninfo = pgcm__strdup(conninfo);
	if (!l->conninfo)
		goto fail;
	for (size_t i = 0; i < n; i++)
		if (pgcm_listener_listen(l, channels[i]) != PGCM_OK)
			goto fail;
	return l;

fail:
	pgcm_listener_free(l);
	return NULL;
}

pgcm_status
pgcm_listener_listen(pgcm_listener *l, const char *name)
{
	channel *c;

	if (!l || !channel_name_ok(name))
		return PGCM_ERR_ARG;
	c = find_channel(l, name);
	if (!c) {
		if (l->nch == l->capch) {
			size_t ncap = l->capch ? l->capch * 2 : 4;
			channel *nc = pgcm__realloc(l->ch, ncap * sizeof *nc);

			if (!nc)
				goto nomem;
			l->ch = nc;
			l->capch = ncap;
		}
		c = &l->ch[l->nch];
		memset(c, 0, sizeof *c);
		c->name = pgcm__strdup(name);
		if (!c->name)
			goto nomem;
		l->nch++;
	}
	c->wanted = 1;
	l->sync_refused = 0;
	return PGCM_OK;

nomem:
	pgcm__set_msg(&l->errmsg, "out of memory");
	return PGCM_ERR_NOMEM;
}

pgcm_status
pgcm_listener_unlisten(pgcm_listener *l, const char *name)
{
	channel *c;

	if (!l || !channel_name_ok(name))
		return PGCM_ERR_ARG;
	c = find_channel(l, name);
	if (c) {
		c->wanted = 0;
		l->sync_refused = 0;
	}
	return PGCM_OK;
}

pgcm_status
pgcm_listener_set_idle_interval(pgcm_listener *l, int ms)
{
	if (!l || ms < -1)
		return PGCM_ERR_ARG;
	l->idle_ms = ms;
	l->last_event = pgcm__now_ms();
	return PGCM_OK;
}

pgcm_status
pgcm_listener_set_backoff(pgcm_listener *l, int initial_ms, int max_ms)
{
	if (!l || initial_ms < 1 || max_ms < initial_ms)
		return PGCM_ERR_ARG;
	l->backoff_initial = initial_ms;
	l->backoff_max = max_ms;
	l->backoff_cur = initial_ms;
	return PGCM_OK;
}

pgcm_status
pgcm_listener_set_ping(pgcm_listener *l, int interval_ms, int timeout_ms)
{
	if (!l || interval_ms < 0 || timeout_ms < 1)
		return PGCM_ERR_ARG;
	l->ping_interval = interval_ms;
	l->ping_timeout = timeout_ms;
	return PGCM_OK;
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

/* drop_conn: close the listener's own connection; nothing is LISTENed any more. */
static void
drop_conn(pgcm_listener *l)
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
 * attempt_failed: a connection attempt (connect or the LISTENs after it)
 * failed.  The very first connection is not retried behind the caller's back:
 * a wrong connection string should be an error, not an endless loop.  Later
 * ones wait for the back-off, which doubles up to its cap.
 */
static pgcm_status
attempt_failed(pgcm_listener *l, const char *why, int64_t now)
{
	char *msg = pgcm__pq_message(why);

	drop_conn(l);
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
		return attempt_failed(l, why, now);
	if (l->conn && pgcm__batch_drain(&l->b, l->conn, keep_channel, l) != PGCM_OK)
		pgcm__batch_release(&l->b);
	pgcm__free(l->lost_msg);
	l->lost_msg = first_line(l->fatal ? l->fatal : why);
	pgcm__set_msg(&l->errmsg, "connection lost: %s", l->lost_msg ? l->lost_msg : "?");
	drop_conn(l);
	l->state = L_WAIT;
	l->deadline = now;
	l->backoff_cur = l->backoff_initial;
	l->outage = 1;
	l->pending_lost = 1;
	return PGCM_AGAIN;
}

/*
 * start_connect: begin a connection attempt without blocking.  Our defaults
 * (keepalives, so that a silent network partition is noticed) come before the
 * caller's connection string, which libpq expands in place of dbname: a
 * keyword the caller sets there wins.
 */
static pgcm_status
start_connect(pgcm_listener *l, int64_t now)
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
		return attempt_failed(l, PQerrorMessage(l->conn), now);
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

static int
needs_sync(const pgcm_listener *l)
{
	if (l->sync_refused)
		return 0;
	for (size_t i = 0; i < l->nch; i++)
		if (l->ch[i].wanted != l->ch[i].active)
			return 1;
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
	while (!PQisBusy(l->conn)) {
		PGresult *res = PQgetResult(l->conn);
		ExecStatusType st;

		if (!res)
			return 1;
		st = PQresultStatus(res);
		if (st != PGRES_COMMAND_OK && st != PGRES_EMPTY_QUERY && st != PGRES_TUPLES_OK) {
			char *msg = pgcm__pq_message(PQresultErrorMessage(res));

			l->cmd_failed = 1;
			pgcm__set_msg(&l->errmsg, "%s", msg ? msg : "out of memory");
			pgcm__free(msg);
		}
		PQclear(res);
		if (PQstatus(l->conn) == CONNECTION_BAD)
			return -1;
	}
	return PQstatus(l->conn) == CONNECTION_BAD ? -1 : 0;
}

static void
emit_batch(pgcm_listener *l, pgcm_notify_event *ev, PGconn *conn, int64_t now)
{
	l->last_event = now;
	ev->kind = PGCM_NOTIFY_BATCH;
	ev->conn = conn;
	ev->notifies = l->b.items;
	ev->count = l->b.count;
}

/*
 * connected_step: everything that happens on a live connection: flush, read,
 * collect results, notifications, then start the next command (the LISTENs of
 * a new connection, a channel change, or a ping when quiet).  Returns PGCM_OK
 * with an event, PGCM_AGAIN, or an error of the first connection.
 */
static pgcm_status
connected_step(pgcm_listener *l, pgcm_notify_event *ev, int64_t now)
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
				return attempt_failed(l, l->errmsg, now) == PGCM_ERR_CONNECTION
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
		emit_batch(l, ev, l->conn, now);
		return PGCM_OK;
	}

	if (l->state == L_SYNC && l->cmd == CMD_NONE) {
		l->state = L_READY;
		l->backoff_cur = l->backoff_initial;
		if (l->ever_ready) {
			l->reconnects++;
			l->outage = 0;
			l->last_event = now;
			ev->kind = PGCM_NOTIFY_RECONNECTED;
			ev->conn = l->conn;
			return PGCM_OK;
		}
		l->ever_ready = 1;
	}
	if (l->state == L_READY && l->cmd == CMD_NONE) {
		pgcm_status st = PGCM_OK;

		if (needs_sync(l))
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

/* emit_lost: the DISCONNECTED event decided by connection_lost(). */
static void
emit_lost(pgcm_listener *l, pgcm_notify_event *ev, int64_t now)
{
	l->pending_lost = 0;
	l->event_msg = l->lost_msg;
	l->lost_msg = NULL;
	l->last_event = now;
	ev->kind = PGCM_NOTIFY_DISCONNECTED;
	ev->message = l->event_msg ? l->event_msg : "connection lost";
}

/*
 * pgcm_listener_step: run the state machine until it yields an event or must
 * wait.  When the connection breaks, the notifications libpq still held come
 * first, then DISCONNECTED (at the start of the next call, before anything
 * the new connection brings); idle events come last, so that they never hide
 * anything real.
 */
pgcm_status
pgcm_listener_step(pgcm_listener *l, pgcm_notify_event *ev)
{
	pgcm_status st = PGCM_AGAIN;
	int64_t now;

	if (!l || !ev)
		return PGCM_ERR_ARG;
	pgcm__event_clear(ev);
	pgcm__batch_release(&l->b);
	pgcm__free(l->event_msg);
	l->event_msg = NULL;
	now = pgcm__now_ms();
	if (l->pending_lost) {
		emit_lost(l, ev, now);
		return PGCM_OK;
	}

	/* A few rounds: connecting, then sending the LISTENs, can happen in one call. */
	for (int round = 0; round < 8 && st == PGCM_AGAIN && !l->pending_lost; round++) {
		int state = l->state;

		switch (l->state) {
		case L_START:
		case L_WAIT:
			if (l->state == L_START || now >= l->deadline)
				st = start_connect(l, now);
			if (st == PGCM_OK)
				st = PGCM_AGAIN;
			break;
		case L_CONNECTING:
			if (now >= l->deadline) {
				st = attempt_failed(l, "timed out while connecting", now);
				break;
			}
			if (!sock_ready(PQsocket(l->conn), l->polling == PGRES_POLLING_READING
			                                   ? POLLIN : POLLOUT)) {
				state = -1;  /* wait for the socket */
				break;
			}
			state = -2;      /* PQconnectPoll made progress: go round again */
			l->polling = PQconnectPoll(l->conn);
			if (l->polling == PGRES_POLLING_FAILED)
				st = attempt_failed(l, PQerrorMessage(l->conn), now);
			else if (l->polling == PGRES_POLLING_OK) {
				if (PQsetnonblocking(l->conn, 1) != 0) {
					st = attempt_failed(l, PQerrorMessage(l->conn), now);
					break;
				}
				l->state = L_SYNC;
				l->last_rx = now;
				st = send_sync(l, now);
				if (st == PGCM_ERR_CONNECTION)
					st = attempt_failed(l, PQerrorMessage(l->conn), now);
				else if (st == PGCM_OK)
					st = PGCM_AGAIN;
			}
			break;
		case L_SYNC:
		case L_READY:
			st = connected_step(l, ev, now);
			break;
		}
		if (st == PGCM_AGAIN && (state == -1 || l->state == state))
			break;  /* nothing changed: wait */
	}
	if (st != PGCM_AGAIN)
		return st;
	if (l->b.count > 0) {
		/* held by a connection that just broke */
		emit_batch(l, ev, NULL, now);
		return PGCM_OK;
	}
	if (l->pending_lost) {
		emit_lost(l, ev, now);
		return PGCM_OK;
	}
	if (l->idle_ms == 0) {
		ev->kind = PGCM_NOTIFY_POLL_END;
		return PGCM_OK;
	}
	if (l->idle_ms > 0 && now - l->last_event >= l->idle_ms) {
		l->last_event = now;
		ev->kind = PGCM_NOTIFY_IDLE;
		return PGCM_OK;
	}
	return PGCM_AGAIN;
}

size_t
pgcm_listener_pollfds(const pgcm_listener *l, struct pollfd *fds, size_t cap)
{
	short events;
	int fd;

	if (!l || !l->conn || l->pending_lost)
		return 0;
	fd = PQsocket(l->conn);
	if (fd < 0)
		return 0;
	if (l->state == L_CONNECTING)
		events = l->polling == PGRES_POLLING_READING ? POLLIN : POLLOUT;
	else
		events = (short) (POLLIN | (l->want_write ? POLLOUT : 0));
	if (fds && cap > 0) {
		fds[0].fd = fd;
		fds[0].events = events;
		fds[0].revents = 0;
	}
	return 1;
}

int
pgcm_listener_timeout_ms(const pgcm_listener *l)
{
	int64_t now = pgcm__now_ms();
	int t = -1;

	if (!l)
		return -1;
	if (l->idle_ms == 0 || l->pending_lost || l->b.count > 0 || l->state == L_START)
		return 0;
	if (l->idle_ms > 0)
		t = pgcm__ms_until(l->last_event + l->idle_ms, now);
	switch (l->state) {
	case L_WAIT:
	case L_CONNECTING:
		t = pgcm__min_timeout(t, pgcm__ms_until(l->deadline, now));
		break;
	case L_SYNC:
	case L_READY:
		if (l->cmd != CMD_NONE)
			t = pgcm__min_timeout(t, pgcm__ms_until(l->cmd_deadline, now));
		else if (l->state == L_SYNC || needs_sync(l))
			t = 0;
		else if (l->ping_interval > 0)
			t = pgcm__min_timeout(t, pgcm__ms_until(l->last_rx + l->ping_interval, now));
		break;
	}
	return t;
}

pgcm_status
pgcm_listener_next(pgcm_listener *l, pgcm_notify_event *ev)
{
	for (;;) {
		pgcm_status st = pgcm_listener_step(l, ev);
		size_t nfds;

		if (st != PGCM_AGAIN)
			return st;
		nfds = pgcm_listener_pollfds(l, &l->pfd, 1);
		st = pgcm__notify_wait(&l->pfd, nfds, pgcm_listener_timeout_ms(l), &l->errmsg);
		if (st != PGCM_OK)
			return st;
	}
}

int
pgcm_listener_ready(const pgcm_listener *l)
{
	if (!l || l->state != L_READY || l->cmd == CMD_SYNC || l->pending_lost)
		return 0;
	for (size_t i = 0; i < l->nch; i++)
		if (l->ch[i].wanted != l->ch[i].active)
			return 0;
	return 1;
}

PGconn *
pgcm_listener_conn(const pgcm_listener *l)
{
	if (!l || l->state == L_CONNECTING || l->state == L_WAIT)
		return NULL;
	return l->conn;
}

unsigned long
pgcm_listener_reconnects(const pgcm_listener *l)
{
	return l ? l->reconnects : 0;
}

const char *
pgcm_listener_errmsg(const pgcm_listener *l)
{
	return l && l->errmsg ? l->errmsg : "";
}

void
pgcm_listener_free(pgcm_listener *l)
{
	if (!l)
		return;
	drop_conn(l);
	for (size_t i = 0; i < l->nch; i++)
		pgcm__free(l->ch[i].name);
	pgcm__free(l->ch);
	pgcm__batch_free(&l->b);
	pgcm__free(l->conninfo);
	pgcm__free(l->lost_msg);
	pgcm__free(l->event_msg);
	pgcm__free(l->errmsg);
	pgcm__free(l);
}

