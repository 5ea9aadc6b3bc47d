/*
 * notifier.c: the notifier, an event loop over the caller's connections that
 * yields NOTIFY batches, idle events and failed connections (py-postgresql's
 * NotificationManager).
 */
#include <poll.h>
#include <string.h>

#include "internal.h"

typedef struct watched {
	PGconn *conn;
	int failed;               /* set aside: never read again */
	int reported;             /* its FAILED event was returned */
	char *message;            /* why it failed, until reported */
} watched;

struct pgcm_notifier {
	watched *w;
	struct pollfd *pfds;      /* for pgcm_notifier_next(); same capacity as w */
	size_t n;
	size_t cap;
	size_t cursor;            /* where the next round-robin scan starts */
	pgcm__idle idle;
	pgcm__batch b;
	char *event_msg;          /* the message of the last FAILED event */
	char *errmsg;
};

pgcm_notifier *
pgcm_notifier_new(void)
{
	pgcm_notifier *n = pgcm__calloc(1, sizeof *n);

	if (!n)
		return NULL;
	(void) pgcm__idle_set(&n->idle, -1);
	return n;
}

static watched *
find_watched(const pgcm_notifier *n, const PGconn *conn, size_t *at)
{
	for (size_t i = 0; i < n->n; i++) {
		if (n->w[i].conn == conn) {
			if (at)
				*at = i;
			return &n->w[i];
		}
	}
	return NULL;
}

pgcm_status
pgcm_notifier_add(pgcm_notifier *n, PGconn *conn)
{
	if (!n || !conn)
		return PGCM_ERR_ARG;
	if (find_watched(n, conn, NULL)) {
		pgcm__set_msg(&n->errmsg, "connection is already watched");
		return PGCM_ERR_ARG;
	}
	if (n->n == n->cap) {
		size_t ncap = n->cap ? n->cap * 2 : 4;
		watched *w = pgcm__realloc(n->w, ncap * sizeof *w);
		struct pollfd *p;

		if (!w)
			goto nomem;
		n->w = w;
		p = pgcm__realloc(n->pfds, ncap * sizeof *p);
		if (!p)
			goto nomem;
		n->pfds = p;
		n->cap = ncap;
	}
	memset(&n->w[n->n], 0, sizeof n->w[n->n]);
	n->w[n->n].conn = conn;
	n->n++;
	return PGCM_OK;

nomem:
	pgcm__set_msg(&n->errmsg, "out of memory");
	return PGCM_ERR_NOMEM;
}

pgcm_status
pgcm_notifier_remove(pgcm_notifier *n, PGconn *conn)
{
	size_t at;

	if (!n || !conn)
		return PGCM_ERR_ARG;
	if (!find_watched(n, conn, &at)) {
		pgcm__set_msg(&n->errmsg, "connection is not watched");
		return PGCM_ERR_ARG;
	}
	pgcm__free(n->w[at].message);
	memmove(&n->w[at], &n->w[at + 1], (n->n - at - 1) * sizeof *n->w);
	n->n--;
	if (n->cursor > at)
		n->cursor--;
	if (n->cursor >= n->n)
		n->cursor = 0;
	return PGCM_OK;
}

size_t
pgcm_notifier_count(const pgcm_notifier *n)
{
	return n ? n->n : 0;
}

size_t
pgcm_notifier_live(const pgcm_notifier *n)
{
	size_t live = 0;

	for (size_t i = 0; n && i < n->n; i++)
		live += !n->w[i].failed;
	return live;
}

pgcm_status
pgcm_notifier_set_idle_interval(pgcm_notifier *n, int ms)
{
	if (!n)
		return PGCM_ERR_ARG;
	return pgcm__idle_set(&n->idle, ms);
}

/*
 * check_conn: read what the server sent, so that PQnotifies() sees it.  A
 * connection that cannot be read is set aside with the reason; it is reported
 * once, after whatever notifications libpq still holds for it.
 */
static void
check_conn(watched *e)
{
	const char *why = NULL;

	if (PQstatus(e->conn) == CONNECTION_BAD || PQsocket(e->conn) < 0)
		why = PQerrorMessage(e->conn);
	else if (!PQconsumeInput(e->conn))
		why = PQerrorMessage(e->conn);
	if (!why)
		return;
	e->failed = 1;
	e->message = pgcm__pq_message(why && *why ? why : "connection is not usable");
}

/*
 * pgcm_notifier_step: one scan from the round-robin cursor.  Each connection
 * is first drained of what libpq already holds (notifications parsed while the
 * caller ran its own commands, or a COPY), then read; the first that yields a
 * batch or a failure ends the scan, so one busy connection cannot starve the
 * others.  Idle events are checked only after every connection came up empty:
 * an idle event never hides a waiting notification.  With no live connection
 * left (each failure reported) the iteration is over, whatever the idle mode:
 * idle events about nothing would go on forever.
 */
pgcm_status
pgcm_notifier_step(pgcm_notifier *n, pgcm_notify_event *ev)
{
	size_t live = 0;

	if (!n || !ev)
		return PGCM_ERR_ARG;
	pgcm__event_clear(ev);
	pgcm__batch_release(&n->b);
	pgcm__free(n->event_msg);
	n->event_msg = NULL;

	for (size_t k = 0; k < n->n; k++) {
		size_t i = (n->cursor + k) % n->n;
		watched *e = &n->w[i];
		pgcm_status st;

		if (e->reported)
			continue;
		st = pgcm__batch_drain(&n->b, e->conn, NULL, NULL);
		if (st == PGCM_OK && n->b.count == 0 && !e->failed) {
			check_conn(e);
			st = pgcm__batch_drain(&n->b, e->conn, NULL, NULL);
		}
		if (st != PGCM_OK) {
			pgcm__set_msg(&n->errmsg, "out of memory");
			return st;
		}
		if (n->b.count > 0) {
			n->cursor = (i + 1) % n->n;
			pgcm__idle_reset(&n->idle, pgcm__now_ms());
			ev->kind = PGCM_NOTIFY_BATCH;
			ev->conn = e->conn;
			ev->notifies = n->b.items;
			ev->count = n->b.count;
			return PGCM_OK;
		}
		if (e->failed) {
			e->reported = 1;
			n->event_msg = e->message;
			e->message = NULL;
			n->cursor = (i + 1) % n->n;
			ev->kind = PGCM_NOTIFY_FAILED;
			ev->conn = e->conn;
			ev->message = n->event_msg ? n->event_msg : "connection failed";
			return PGCM_OK;
		}
		live++;
	}

	if (live == 0) {
		pgcm__set_msg(&n->errmsg, "no live connection is left to watch");
		return PGCM_DONE;
	}
	if (pgcm__idle_event(&n->idle, pgcm__now_ms(), ev))
		return PGCM_OK;
	return PGCM_AGAIN;
}

size_t
pgcm_notifier_pollfds(const pgcm_notifier *n, struct pollfd *fds, size_t cap)
{
	size_t k = 0;

	if (!n)
		return 0;
	for (size_t i = 0; i < n->n; i++) {
		int fd;

		if (n->w[i].failed)
			continue;
		fd = PQsocket(n->w[i].conn);
		if (fd < 0)
			continue;
		if (fds && k < cap) {
			fds[k].fd = fd;
			fds[k].events = POLLIN;
			fds[k].revents = 0;
		}
		k++;
	}
	return k;
}

int
pgcm_notifier_timeout_ms(const pgcm_notifier *n)
{
	if (!n)
		return -1;
	/* A failure not yet reported, or the end of the iteration, is due now. */
	for (size_t i = 0; i < n->n; i++)
		if (n->w[i].failed && !n->w[i].reported)
			return 0;
	if (pgcm_notifier_live(n) == 0)
		return 0;
	return pgcm__idle_timeout(&n->idle, pgcm__now_ms());
}

pgcm_status
pgcm_notifier_next(pgcm_notifier *n, pgcm_notify_event *ev)
{
	for (;;) {
		pgcm_status st = pgcm_notifier_step(n, ev);
		size_t nfds;

		if (st != PGCM_AGAIN)
			return st;
		nfds = pgcm_notifier_pollfds(n, n->pfds, n->cap);
		st = pgcm__notify_wait(n->pfds, nfds, pgcm_notifier_timeout_ms(n), &n->errmsg);
		if (st != PGCM_OK)
			return st;
	}
}

const char *
pgcm_notifier_errmsg(const pgcm_notifier *n)
{
	return n && n->errmsg ? n->errmsg : "";
}

void
pgcm_notifier_free(pgcm_notifier *n)
{
	if (!n)
		return;
	for (size_t i = 0; i < n->n; i++)
		pgcm__free(n->w[i].message);
	pgcm__batch_free(&n->b);
	pgcm__free(n->w);
	pgcm__free(n->pfds);
	pgcm__free(n->event_msg);
	pgcm__free(n->errmsg);
	pgcm__free(n);
}

