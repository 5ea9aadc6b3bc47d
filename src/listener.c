/*
 * listener.c: the listener, a connection the library owns, which LISTENs,
 * re-connects with back-off, LISTENs again and reports the gap: its calls and
 * the state machine that yields its events.  The connection itself is
 * handled in listener_conn.c.
 */
#include <poll.h>
#include <string.h>

#include "listener_int.h"

static int
channel_name_ok(const char *name)
{
	size_t len;

	if (!name)
		return 0;
	len = strlen(name);
	return len > 0 && len <= PGCM_CHANNEL_MAX;
}

channel *
pgcm__listener_channel(const pgcm_listener *l, const char *name)
{
	for (size_t i = 0; i < l->nch; i++)
		if (strcmp(l->ch[i].name, name) == 0)
			return &l->ch[i];
	return NULL;
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
	(void) pgcm__idle_set(&l->idle, -1);
	l->backoff_initial = 250;
	l->backoff_max = 30000;
	l->backoff_cur = l->backoff_initial;
	l->ping_interval = 30000;
	l->ping_timeout = 10000;
	l->last_rx = pgcm__now_ms();
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
	c = pgcm__listener_channel(l, name);
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
	c = pgcm__listener_channel(l, name);
	if (c) {
		c->wanted = 0;
		l->sync_refused = 0;
	}
	return PGCM_OK;
}

pgcm_status
pgcm_listener_set_idle_interval(pgcm_listener *l, int ms)
{
	if (!l)
		return PGCM_ERR_ARG;
	return pgcm__idle_set(&l->idle, ms);
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

/* emit_lost: the DISCONNECTED event decided by connection_lost(). */
static void
emit_lost(pgcm_listener *l, pgcm_notify_event *ev, int64_t now)
{
	l->pending_lost = 0;
	l->event_msg = l->lost_msg;
	l->lost_msg = NULL;
	pgcm__idle_reset(&l->idle, now);
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
		enum listener_state before = l->state;
		int moved = 0;   /* PQconnectPoll made progress: go round again */

		switch (l->state) {
		case L_START:
		case L_WAIT:
			if (l->state == L_START || now >= l->deadline)
				st = pgcm__listener_start_connect(l, now);
			if (st == PGCM_OK)
				st = PGCM_AGAIN;
			break;
		case L_CONNECTING:
			st = pgcm__listener_connecting(l, now, &moved);
			break;
		case L_SYNC:
		case L_READY:
			st = pgcm__listener_connected(l, ev, now);
			break;
		}
		if (st == PGCM_AGAIN && !moved && l->state == before)
			break;  /* nothing changed: wait */
	}
	if (st != PGCM_AGAIN)
		return st;
	if (l->b.count > 0) {
		/* held by a connection that just broke */
		pgcm__listener_emit_batch(l, ev, NULL, now);
		return PGCM_OK;
	}
	if (l->pending_lost) {
		emit_lost(l, ev, now);
		return PGCM_OK;
	}
	if (pgcm__idle_event(&l->idle, now, ev))
		return PGCM_OK;
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
	int t;

	if (!l)
		return -1;
	if (l->pending_lost || l->b.count > 0)
		return 0;
	t = pgcm__idle_timeout(&l->idle, now);
	switch (l->state) {
	case L_START:
		return 0;   /* connect now */
	case L_WAIT:
	case L_CONNECTING:
		t = pgcm__min_timeout(t, pgcm__ms_until(l->deadline, now));
		break;
	case L_SYNC:
	case L_READY:
		if (l->cmd != CMD_NONE)
			t = pgcm__min_timeout(t, pgcm__ms_until(l->cmd_deadline, now));
		else if (l->state == L_SYNC || pgcm__listener_needs_sync(l))
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
	pgcm__listener_drop_conn(l);
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

