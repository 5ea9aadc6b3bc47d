/*
 * notify_event.c: what the notifier and the listener share: batches of
 * notifications taken from libpq and handed out until the next call, the
 * event, the idle clock, the wait of the blocking next calls, and timeout
 * arithmetic.
 */
#include <errno.h>
#include <poll.h>
#include <string.h>

#include "internal.h"


void
pgcm__batch_release(pgcm__batch *b)
{
	for (size_t i = 0; i < b->count; i++)
		PQfreemem(b->held[i]);
	b->count = 0;
}

void
pgcm__batch_free(pgcm__batch *b)
{
	pgcm__batch_release(b);
	pgcm__free(b->held);
	pgcm__free(b->items);
	b->held = NULL;
	b->items = NULL;
	b->cap = 0;
}

/* batch_reserve: room for one more; PGCM_ERR_NOMEM leaves the batch as it was. */
static pgcm_status
batch_reserve(pgcm__batch *b)
{
	size_t ncap;
	PGnotify **h;
	pgcm_notification *it;

	if (b->count < b->cap)
		return PGCM_OK;
	ncap = b->cap ? b->cap * 2 : 64;
	h = pgcm__realloc(b->held, ncap * sizeof *h);
	if (!h)
		return PGCM_ERR_NOMEM;
	b->held = h;
	it = pgcm__realloc(b->items, ncap * sizeof *it);
	if (!it)
		return PGCM_ERR_NOMEM;
	b->items = it;
	b->cap = ncap;
	return PGCM_OK;
}


/*
 * pgcm__batch_drain: take every notification libpq has parsed on conn.  Room is
 * made before each PQnotifies() call, so that running out of memory never
 * loses one: the rest stay queued in libpq for the next call.  keep (may be
 * NULL) filters by channel: the listener drops channels it no longer wants.
 */
pgcm_status
pgcm__batch_drain(pgcm__batch *b, PGconn *conn, pgcm__keep_fn keep, const void *arg)
{
	for (;;) {
		PGnotify *nf;

		if (batch_reserve(b) != PGCM_OK)
			return b->count ? PGCM_OK : PGCM_ERR_NOMEM;
		nf = PQnotifies(conn);
		if (!nf)
			return PGCM_OK;
		if (keep && !keep(arg, nf->relname)) {
			PQfreemem(nf);
			continue;
		}
		b->held[b->count] = nf;
		b->items[b->count].channel = nf->relname;
		b->items[b->count].payload = nf->extra ? nf->extra : "";
		b->items[b->count].pid = nf->be_pid;
		b->count++;
	}
}

void
pgcm__event_clear(pgcm_notify_event *ev)
{
	memset(ev, 0, sizeof *ev);
	ev->kind = PGCM_NOTIFY_NONE;
}

/* pgcm__notify_wait: one poll() for the blocking next calls; PGCM_AGAIN on a signal. */
pgcm_status
pgcm__notify_wait(struct pollfd *fds, size_t nfds, int timeout, char **errmsg)
{
	if (poll(fds, (nfds_t) nfds, timeout) < 0) {
		if (errno == EINTR)
			return PGCM_AGAIN;
		pgcm__set_msg(errmsg, "poll: %s", strerror(errno));
		return PGCM_ERR_IO;
	}
	return PGCM_OK;
}

/* pgcm__ms_until: milliseconds from now to deadline, at least 0, within int. */
int
pgcm__ms_until(int64_t deadline, int64_t now)
{
	int64_t d = deadline - now;

	if (d < 0)
		return 0;
	return d > 0x7fffffff ? 0x7fffffff : (int) d;
}

int
pgcm__min_timeout(int a, int b)
{
	if (a < 0)
		return b;
	if (b < 0)
		return a;
	return a < b ? a : b;
}

pgcm_status
pgcm__idle_set(pgcm__idle *id, int ms)
{
	if (ms < -1)
		return PGCM_ERR_ARG;
	id->ms = ms;
	id->last = pgcm__now_ms();
	return PGCM_OK;
}

void
pgcm__idle_reset(pgcm__idle *id, int64_t now)
{
	id->last = now;
}

/*
 * pgcm__idle_event: the idle rule, written once for both objects: idle
 * events come only after everything real came up empty, so they never hide
 * a notification that is waiting.
 */
int
pgcm__idle_event(pgcm__idle *id, int64_t now, pgcm_notify_event *ev)
{
	if (id->ms == 0) {
		ev->kind = PGCM_NOTIFY_POLL_END;
		return 1;
	}
	if (id->ms > 0 && now - id->last >= id->ms) {
		id->last = now;
		ev->kind = PGCM_NOTIFY_IDLE;
		return 1;
	}
	return 0;
}

int
pgcm__idle_timeout(const pgcm__idle *id, int64_t now)
{
	if (id->ms < 0)
		return -1;
	if (id->ms == 0)
		return 0;
	return pgcm__ms_until(id->last + id->ms, now);
}
