/*
 * copy_abort.c: ending a copy: abort (cancel and drain the producer, fail
 * every live receiver's COPY, leave every connection usable) and finish
 * (settle what is left, build the failure report).
 */
#include <poll.h>
#include <string.h>

#include "copy_int.h"

/* ------------------------------------------------------------------------
 * Abort and finish
 * ------------------------------------------------------------------------ */

/* endpoint_deadline: a drain deadline, never 0 (0 means none). */
static int64_t
drain_deadline(const pgcm_copy *c)
{
	return pgcm__now_ms() + (c->drain_ms > 0 ? c->drain_ms : 1);
}

/*
 * realign: a receiver that took part of a chunk gets the rest of it, so that
 * every stream ends on a row boundary (a pipe or file receiver can stop
 * mid-chunk; a connection receiver always takes whole chunks).
 */
static void
realign(pgcm_copy *c, int64_t deadline)
{
	for (size_t i = 0; i < c->nrx; i++) {
		pgcm_receiver *r = c->rx[i];
		while (r->state == PGCM_RECEIVER_ACTIVE && r->offset > 0 && pgcm__now_ms() < deadline) {
			pgcm__chunk *ch = pgcm__window_get(&c->window, r->next_seq);
			pgcm_status st = r->ops->put(r, ch, &r->offset);
			if (r->offset == ch->len) {
				r->rows_sent += ch->rows;
				r->next_seq++;
				r->offset = 0;
				break;
			}
			if (st == PGCM_AGAIN && r->wait.fd >= 0) {
				struct pollfd pfd = {.fd = r->wait.fd, .events = r->wait.events};
				(void) poll(&pfd, 1, (int) (deadline - pgcm__now_ms()));
			} else if (st != PGCM_OK) {
				break;
			}
		}
	}
}

/*
 * settle_all: drive the producer's abort and every live receiver's fail to
 * the end, waiting in poll() for all of them together.  Each endpoint gives
 * up on its connection at its deadline, so this ends.
 */
static void
settle_all(pgcm_copy *c, const char *reason, int64_t deadline)
{
	pgcm_producer *p = c->producer;
	int producer_settled = c->producer_done || !p->began;

	for (;;) {
		struct pollfd fds[65];
		size_t n = 0;
		int64_t now;

		if (!producer_settled) {
			if (p->ops->abort(p, deadline) == PGCM_OK) {
				producer_settled = 1;
			} else if (p->wait.fd >= 0) {
				fds[n].fd = p->wait.fd;
				fds[n++].events = p->wait.events;
			}
		}
		for (size_t i = 0; i < c->nrx; i++) {
			pgcm_receiver *r = c->rx[i];
			if (r->settled || r->state == PGCM_RECEIVER_IDLE || r->state == PGCM_RECEIVER_DONE)
				continue;
			if (r->ops->fail(r, reason, deadline) == PGCM_OK) {
				r->settled = 1;
			} else if (r->wait.fd >= 0 && n < 65) {
				fds[n].fd = r->wait.fd;
				fds[n++].events = r->wait.events;
			}
		}
		if (producer_settled) {
			size_t open = 0;
			for (size_t i = 0; i < c->nrx; i++)
				if (!c->rx[i]->settled && c->rx[i]->state != PGCM_RECEIVER_IDLE
				    && c->rx[i]->state != PGCM_RECEIVER_DONE)
					open++;
			if (open == 0)
				return;
		}
		now = pgcm__now_ms();
		(void) poll(fds, (nfds_t) n, deadline > now ? (int) (deadline - now) : 0);
	}
}

/*
 * pgcm__copy_abort_now: end the copy early: realign the streams, cancel and
 * drain the producer, fail every live receiver's COPY with the reason, and
 * wait until every connection is idle (or given up as dead at the drain
 * deadline).
 */
void
pgcm__copy_abort_now(pgcm_copy *c, pgcm_status why, const char *reason)
{
	int64_t deadline;

	if (c->state == COPY_FAILED || c->state == COPY_DONE)
		return;
	c->failure = why;
	pgcm__free(c->reason);
	c->reason = pgcm__strdup(reason ? reason : pgcm_strerror(why));
	pgcm__copy_msg(c, why, "copy aborted: %s", reason ? reason : pgcm_strerror(why));
	if (c->state == COPY_NEW) {
		c->state = COPY_FAILED;
		return;
	}
	c->depth++;
	deadline = drain_deadline(c);
	realign(c, deadline);
	for (size_t i = 0; i < c->nrx; i++) {
		pgcm_receiver *r = c->rx[i];
		if (r->state == PGCM_RECEIVER_ACTIVE)
			r->state = PGCM_RECEIVER_ABORTED;
		else if (r->state == PGCM_RECEIVER_FAULTED)
			r->state = PGCM_RECEIVER_DROPPED;
	}
	settle_all(c, c->reason ? c->reason : "aborted", deadline);
	c->depth--;
	c->state = COPY_FAILED;
}

pgcm_status
pgcm_copy_abort(pgcm_copy *c, const char *reason)
{
	if (!c)
		return PGCM_ERR_ARG;
	if (c->state == COPY_DONE || c->state == COPY_FAILED)
		return pgcm__copy_msg(c, PGCM_ERR_STATE, "the copy has already ended");
	if (c->depth > 0) {
		if (!c->abort_pending)
			c->abort_pending = pgcm__strdup(reason ? reason : "aborted by the caller");
		return PGCM_ERR_ABORTED;
	}
	pgcm__copy_abort_now(c, PGCM_ERR_ABORTED, reason ? reason : "aborted by the caller");
	return PGCM_ERR_ABORTED;
}

/* build_report: the failure report's view of every fault. */
static void
build_report(pgcm_copy *c, pgcm_failure *failure)
{
	memset(failure, 0, sizeof *failure);
	failure->status = c->state == COPY_FAILED ? c->failure : PGCM_OK;
	failure->reason = c->reason;
	if (c->producer->error && (c->state == COPY_FAILED || c->producer_failed)) {
		failure->producer_error = c->producer->error;
		failure->producer_sqlstate = c->producer->sqlstate;
	}
	pgcm__free(c->report);
	c->report = c->nfaults ? pgcm__calloc(c->nfaults, sizeof *c->report) : NULL;
	if (c->report) {
		size_t saved = c->cycle_start;
		c->cycle_start = 0;
		failure->nfaults = pgcm_copy_faults(c, c->report, c->nfaults);
		c->cycle_start = saved;
		failure->faults = c->report;
	}
}

pgcm_status
pgcm_copy_finish(pgcm_copy *c, pgcm_failure *failure)
{
	pgcm_failure local;
	size_t dropped = 0;

	if (!failure)
		failure = &local;
	if (!c)
		return PGCM_ERR_ARG;
	if (c->depth > 0)
		return pgcm__copy_msg(c, PGCM_ERR_STATE, "finish cannot run inside a callback of a step");
	if (c->state == COPY_NEW) {
		pgcm__copy_abort_now(c, PGCM_ERR_ABORTED, "copy finished before it started");
	} else if (c->state == COPY_RUNNING) {
		pgcm__copy_abort_now(c, PGCM_ERR_ABORTED, "copy finished before completion");
	} else if (c->state == COPY_DONE) {
		/* Faulted receivers the caller did not reconcile are dropped now. */
		pgcm__copy_drop_faulted(c);
		c->depth++;
		settle_all(c, "receiver dropped after a fault", drain_deadline(c));
		c->depth--;
	}
	for (size_t i = 0; i < c->nrx; i++)
		if (c->rx[i]->state == PGCM_RECEIVER_DROPPED)
			dropped++;
	build_report(c, failure);
	if (c->state == COPY_FAILED)
		return c->failure;
	if (dropped) {
		failure->status = PGCM_FAULT;
		return PGCM_FAULT;
	}
	return PGCM_OK;
}

