/*
 * copy_loop.c: waiting for a copy: its descriptors and timeout for a
 * caller's own loop, the step after a poll() (pgcm_copy_step_polled), and
 * the blocking next and run built on poll() and the step.
 */
#include <errno.h>
#include <poll.h>

#include "copy_int.h"

/* ------------------------------------------------------------------------
 * Waiting: descriptors, timeout, next, run
 * ------------------------------------------------------------------------ */

/* producer_waits: the producer is waiting on I/O and may be read now. */
static int
producer_waits(const pgcm_copy *c)
{
	const pgcm_producer *p = c->producer;

	if (c->producer_done || c->producer_failed || p->wait.fd < 0)
		return 0;
	/* With the window full the source must not be read: TCP pushes back. */
	return c->window.head - c->window.tail < c->window.nslots - 1;
}

/* receiver_waits: the receiver is waiting on its descriptor. */
static int
receiver_waits(const pgcm_receiver *r)
{
	if (r->wait.fd < 0)
		return 0;
	if (r->state == PGCM_RECEIVER_ACTIVE)
		return 1;
	return r->state == PGCM_RECEIVER_DROPPED && !r->settled;
}

size_t
pgcm_copy_pollfds(const pgcm_copy *c, struct pollfd *fds, size_t cap)
{
	size_t n = 0;

	if (!c || c->state != COPY_RUNNING)
		return 0;
	if (producer_waits(c)) {
		if (n < cap) {
			fds[n].fd = c->producer->wait.fd;
			fds[n].events = c->producer->wait.events;
			fds[n].revents = 0;
		}
		n++;
	}
	for (size_t i = 0; i < c->nrx; i++) {
		const pgcm_receiver *r = c->rx[i];
		if (!receiver_waits(r))
			continue;
		if (n < cap) {
			fds[n].fd = r->wait.fd;
			fds[n].events = r->wait.events;
			fds[n].revents = 0;
		}
		n++;
	}
	return n;
}

int
pgcm_copy_timeout_ms(const pgcm_copy *c)
{
	int64_t now, deadline = 0;

	if (!c || c->state != COPY_RUNNING)
		return -1;
	now = pgcm__now_ms();
	for (size_t i = 0; i < c->nrx; i++) {
		const pgcm_receiver *r = c->rx[i];
		int64_t d = 0;
		if (r->state == PGCM_RECEIVER_ACTIVE) {
			if (r->ready && r->next_seq < c->window.head)
				return 0;
			if (c->stall_ms > 0 && pgcm__copy_pending_work(c, r))
				d = r->last_progress_ms + c->stall_ms;
		} else if (r->state == PGCM_RECEIVER_DROPPED && !r->settled) {
			d = r->drain_deadline_ms;
		}
		if (d && (!deadline || d < deadline))
			deadline = d;
	}
	if (!deadline)
		return -1;
	if (deadline <= now)
		return 0;
	return deadline - now > 60000 ? 60000 : (int) (deadline - now);
}

/*
 * pgcm__copy_note_revents: hand each endpoint what poll() said of its
 * descriptor, in the order pgcm_copy_pollfds() listed them.
 */
void
pgcm__copy_note_revents(pgcm_copy *c, const struct pollfd *fds, size_t n)
{
	size_t k = 0;

	if (producer_waits(c)) {
		pgcm__polled_forget(&c->producer->polled);
		if (k < n)
			pgcm__polled_note(&c->producer->polled, fds[k].revents);
		k++;
	}
	for (size_t i = 0; i < c->nrx; i++) {
		pgcm_receiver *r = c->rx[i];
		if (!receiver_waits(r))
			continue;
		pgcm__polled_forget(&r->polled);
		if (k < n)
			pgcm__polled_note(&r->polled, fds[k].revents);
		k++;
	}
}

/* wait_copy: poll the copy's descriptors once; 0, or -1 when interrupted by a signal. */
static int
wait_copy(pgcm_copy *c)
{
	struct pollfd fds[64], *pfds = fds;
	size_t n = pgcm_copy_pollfds(c, fds, 64);
	int rc;

	if (n > 64) {
		pfds = pgcm__calloc(n, sizeof *pfds);
		if (!pfds) {
			pfds = fds;
			n = 64;
		} else {
			n = pgcm_copy_pollfds(c, pfds, n);
		}
	}
	rc = poll(pfds, (nfds_t) n, pgcm_copy_timeout_ms(c));
	if (rc >= 0)
		pgcm__copy_note_revents(c, pfds, n);
	if (pfds != fds)
		pgcm__free(pfds);
	return rc < 0 && errno == EINTR ? -1 : 0;
}

pgcm_status
pgcm_copy_next(pgcm_copy *c, pgcm_progress *progress)
{
	pgcm_progress local, step;

	if (!progress)
		progress = &local;
	progress->rows = progress->bytes = 0;
	if (!c)
		return PGCM_ERR_ARG;
	for (;;) {
		pgcm_status st = pgcm_copy_step(c, &step);
		progress->rows += step.rows;
		progress->bytes += step.bytes;
		if (st == PGCM_AGAIN) {
			if (progress->rows || progress->bytes)
				return PGCM_OK;
			/* A signal ends the wait, so the caller can look at its flags. */
			if (wait_copy(c) < 0)
				return PGCM_OK;
			continue;
		}
		if (st == PGCM_OK) {
			if (progress->rows || progress->bytes)
				return PGCM_OK;
			continue;
		}
		/* The last rows come as a cycle of their own; PGCM_DONE follows with none. */
		if (st == PGCM_DONE && (progress->rows || progress->bytes))
			return PGCM_OK;
		return st;
	}
}

pgcm_status
pgcm_copy_run(pgcm_copy *c, pgcm_progress *total)
{
	pgcm_status st;

	if (!c)
		return PGCM_ERR_ARG;
	do
		st = pgcm_copy_next(c, NULL);
	while (st == PGCM_OK || st == PGCM_FAULT);
	st = pgcm_copy_finish(c, NULL);
	if (total)
		*total = pgcm_copy_totals(c);
	return st;
}

pgcm_status
pgcm_copy_step_polled(pgcm_copy *c, const struct pollfd *fds, size_t n, pgcm_progress *progress)
{
	if (!c || (n && !fds))
		return PGCM_ERR_ARG;
	if (c->state == COPY_RUNNING && c->depth == 0 && n == pgcm_copy_pollfds(c, NULL, 0))
		pgcm__copy_note_revents(c, fds, n);
	return pgcm_copy_step(c, progress);
}

