/*
 * copy_loop.c: waiting for a copy: its descriptors and timeout for a
 * caller's own loop, the step after a poll() (pgcm_copy_step_polled), and
 * the blocking next and run built on poll() and the step.
 */
#include <errno.h>
#include <poll.h>

#include "copy_int.h"

/* producer_waits: the producer is waiting on its descriptor. */
static int
producer_waits(const pgcm_copy *c)
{
	const pgcm_producer *p = c->producer;

	if (p->wait.fd < 0)
		return 0;
	if (c->state == COPY_ABORTING)
		return !c->producer_settled;
	if (c->state != COPY_RUNNING || c->producer_done || c->producer_failed)
		return 0;
	/* With the window full the source must not be read: TCP pushes back. */
	return c->window.head - c->window.tail < c->window.nslots - 1;
}

/* receiver_waits: the receiver is waiting on its descriptor. */
static int
receiver_waits(const pgcm_copy *c, const pgcm_receiver *r)
{
	if (r->wait.fd < 0)
		return 0;
	if (r->state == PGCM_RECEIVER_ACTIVE)
		return c->state == COPY_RUNNING;
	return pgcm__copy_receiver_open(r);
}

/* add_fd: one entry of pgcm_copy_pollfds(), counted even past cap. */
static void
add_fd(struct pollfd *fds, size_t cap, size_t *n, const pgcm__wait *w)
{
	if (*n < cap) {
		fds[*n].fd = w->fd;
		fds[*n].events = w->events;
		fds[*n].revents = 0;
	}
	(*n)++;
}

size_t
pgcm_copy_pollfds(const pgcm_copy *c, struct pollfd *fds, size_t cap)
{
	size_t n = 0;

	if (!c || c->state == COPY_NEW || c->state == COPY_FAILED)
		return 0;
	if (producer_waits(c))
		add_fd(fds, cap, &n, &c->producer->wait);
	for (size_t i = 0; i < c->nrx; i++)
		if (receiver_waits(c, c->rx[i]))
			add_fd(fds, cap, &n, &c->rx[i]->wait);
	return n;
}

/* earlier: the sooner of two deadlines, 0 meaning none. */
static int64_t
earlier(int64_t a, int64_t b)
{
	return !a || (b && b < a) ? b : a;
}

int
pgcm_copy_timeout_ms(const pgcm_copy *c)
{
	int64_t now, deadline = 0;

	if (!c || c->state == COPY_NEW || c->state == COPY_FAILED)
		return -1;
	if (c->state == COPY_ABORTING)
		deadline = c->abort_deadline_ms;
	now = pgcm__now_ms();
	if (c->state == COPY_RUNNING && pgcm__copy_producer_asked(c)) {
		/* A producer without a descriptor (a callback) that had nothing is asked again soon. */
		if (c->producer_blocked && c->producer->wait.fd < 0)
			deadline = now + RETRY_MS;
		if (c->stall_ms > 0)
			deadline = earlier(deadline, c->producer_progress_ms + c->stall_ms);
	}
	for (size_t i = 0; i < c->nrx; i++) {
		const pgcm_receiver *r = c->rx[i];
		if (c->state == COPY_RUNNING && r->state == PGCM_RECEIVER_ACTIVE) {
			if (r->ready && r->next_seq < c->window.head)
				return 0;
			if (c->stall_ms > 0 && pgcm__copy_pending_work(c, r))
				deadline = earlier(deadline, r->last_progress_ms + c->stall_ms);
		} else if (r->state == PGCM_RECEIVER_DROPPED && !r->settled) {
			deadline = earlier(deadline, r->drain_deadline_ms);
		}
	}
	if (!deadline)
		return -1;
	if (deadline <= now)
		return 0;
	return deadline - now > 60000 ? 60000 : (int) (deadline - now);
}

/*
 * note_polled: hand each endpoint what poll() said of its descriptor,
 * matched by descriptor (an endpoint absent from fds learns nothing, and
 * makes its system calls).  A descriptor that is none of the copy's
 * endpoints' is the caller's mistake: PGCM_ERR_ARG, and nothing is noted.
 */
static pgcm_status
note_polled(pgcm_copy *c, const struct pollfd *fds, size_t n)
{
	pgcm__copy_forget_polled(c);
	for (size_t k = 0; k < n; k++) {
		int found = 0;

		if (fds[k].fd < 0)
			continue;   /* poll() ignores it too */
		if (c->producer->wait.fd == fds[k].fd) {
			pgcm__polled_note(&c->producer->polled, fds[k].revents);
			found = 1;
		}
		for (size_t i = 0; i < c->nrx; i++) {
			if (c->rx[i]->wait.fd == fds[k].fd) {
				pgcm__polled_note(&c->rx[i]->polled, fds[k].revents);
				found = 1;
			}
		}
		if (!found) {
			pgcm__copy_forget_polled(c);
			return pgcm__copy_msg(c, PGCM_ERR_ARG,
			                      "descriptor %d (entry %zu) is not one of the copy's", fds[k].fd,
			                      k);
		}
	}
	return PGCM_OK;
}

/* poll_copy: one poll() over the copy's descriptors, for at most timeout ms, noted. */
static int
poll_copy(pgcm_copy *c, int timeout)
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
	rc = poll(pfds, (nfds_t) n, timeout);
	if (rc >= 0)
		(void) note_polled(c, pfds, n);
	if (pfds != fds)
		pgcm__free(pfds);
	return rc < 0 && errno == EINTR ? -1 : 0;
}

int
pgcm__copy_wait(pgcm_copy *c)
{
	return poll_copy(c, pgcm_copy_timeout_ms(c));
}

/* readiness_known: poll() looked at some endpoint's descriptor before this step. */
static int
readiness_known(const pgcm_copy *c)
{
	if (pgcm__polled_known(&c->producer->polled))
		return 1;
	for (size_t i = 0; i < c->nrx; i++)
		if (pgcm__polled_known(&c->rx[i]->polled))
			return 1;
	return 0;
}

/*
 * pgcm__copy_look: a step nobody polled for (the blocking calls' first, a
 * caller's loop that calls step without handing readiness) looks at every
 * descriptor at once with a zero-timeout poll(), so that each endpoint skips
 * the reads and writes the kernel would refuse (a recv or send that fails
 * with EAGAIN, and a poll of its own, per endpoint): once the client's own
 * work per byte was small, those were a good part of its CPU.
 */
void
pgcm__copy_look(pgcm_copy *c)
{
	if (!readiness_known(c))
		(void) poll_copy(c, 0);
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
	/*
	 * The last step did all it could: a step now would only find nothing
	 * ready and return PGCM_AGAIN.  Wait for something first.
	 */
	if (c->state == COPY_RUNNING && c->quiescent && c->depth == 0 && pgcm__copy_wait(c) < 0)
		return PGCM_OK;
	for (;;) {
		pgcm_status st = pgcm_copy_step(c, &step);
		progress->rows += step.rows;
		progress->bytes += step.bytes;
		/* Once an abort began, the cycle ends with it: only its status matters. */
		if ((st == PGCM_AGAIN || st == PGCM_OK) && c->state == COPY_ABORTING) {
			if (st == PGCM_AGAIN && pgcm__copy_wait(c) < 0)
				return PGCM_OK;
			continue;
		}
		if (st == PGCM_AGAIN) {
			if (progress->rows || progress->bytes)
				return PGCM_OK;
			/* A signal ends the wait, so the caller can look at its flags. */
			if (pgcm__copy_wait(c) < 0)
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
	pgcm_status st;

	if (progress)
		progress->rows = progress->bytes = 0;
	if (!c || (n && !fds))
		return PGCM_ERR_ARG;
	if (c->depth > 0)
		return pgcm__copy_msg(c, PGCM_ERR_STATE, "a step cannot run inside a callback of a step");
	st = note_polled(c, fds, n);
	if (st != PGCM_OK)
		return st;
	return pgcm_copy_step(c, progress);
}
