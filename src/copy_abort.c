/*
 * copy_abort.c: ending a copy early, and finishing it.
 *
 * An abort is a state (COPY_ABORTING), not a wait: pgcm__copy_abort_begin()
 * only marks the copy, and each later step drives it a little further, as
 * curl parks a closing connection in its shutdown queue: a stream cut
 * mid-chunk gets the rest of that chunk (so it ends on a row boundary), the
 * producer's COPY is cancelled and drained as its data arrives, every live
 * receiver's COPY is failed and its results read, and past the drain
 * deadline a connection that does not answer is given up.  Only the calls
 * documented as blocking (abort, finish, free, next, run) wait for it, in
 * poll() over the same descriptors a caller's loop would use.
 */
#include <poll.h>
#include <string.h>

#include "copy_int.h"

/* drain_deadline: when an abort gives connections up; never 0 (0 means none). */
static int64_t
drain_deadline(const pgcm_copy *c, int64_t now)
{
	return now + (c->drain_ms > 0 ? c->drain_ms : 1);
}

void
pgcm__copy_abort_begin(pgcm_copy *c, pgcm_status why, const char *reason)
{
	if (c->state != COPY_NEW && c->state != COPY_RUNNING)
		return;
	c->failure = why;
	pgcm__free(c->reason);
	c->reason = pgcm__strdup(reason ? reason : pgcm_strerror(why));
	pgcm__copy_msg(c, why, "copy aborted: %s", reason ? reason : pgcm_strerror(why));
	if (c->state == COPY_NEW) {
		/* Nothing was sent anywhere. */
		c->state = COPY_FAILED;
		return;
	}
	for (size_t i = 0; i < c->nrx; i++) {
		pgcm_receiver *r = c->rx[i];
		if (r->state == PGCM_RECEIVER_ACTIVE) {
			r->state = PGCM_RECEIVER_ABORTED;
			r->realigned = r->offset == 0;
		} else if (r->state == PGCM_RECEIVER_FAULTED) {
			r->state = PGCM_RECEIVER_DROPPED;
		}
	}
	c->producer_settled = !c->producer_started || c->producer_done;
	c->abort_deadline_ms = drain_deadline(c, pgcm__now_ms());
	c->state = COPY_ABORTING;
}

/*
 * realign: an aborted receiver that took part of a chunk gets the rest of
 * it, so that every stream ends on a row boundary (a pipe or file receiver
 * can stop mid-chunk; a connection receiver always takes whole chunks).
 * Returns 0 when done (or given up: an error, the deadline), 1 to wait for
 * its descriptor.
 */
static int
realign(pgcm_copy *c, pgcm_receiver *r, int64_t now)
{
	while (!r->realigned) {
		pgcm__chunk *ch = pgcm__window_get(&c->window, r->next_seq);
		pgcm_status st;

		if (now >= c->abort_deadline_ms)
			break;
		st = r->ops->put(r, ch, &r->offset);
		if (r->offset == ch->len) {
			r->rows_sent += ch->rows;
			r->next_seq++;
			r->offset = 0;
			break;
		}
		if (st == PGCM_AGAIN && r->wait.fd >= 0)
			return 1;
		if (st != PGCM_OK)
			break;
	}
	r->realigned = 1;
	return 0;
}

int
pgcm__copy_receiver_open(const pgcm_receiver *r)
{
	return !r->settled && r->state != PGCM_RECEIVER_IDLE && r->state != PGCM_RECEIVER_DONE
	       && r->state != PGCM_RECEIVER_ACTIVE && r->state != PGCM_RECEIVER_FAULTED;
}

/*
 * pgcm__copy_abort_drive: give the producer's abort and every open
 * receiver's realign and fail one non-blocking turn each.  Each gives up its
 * connection at the drain deadline, so the abort ends.
 */
int
pgcm__copy_abort_drive(pgcm_copy *c)
{
	pgcm_producer *p = c->producer;
	const char *reason = c->reason ? c->reason : "aborted";
	int64_t now = pgcm__now_ms();
	int open = 0;

	if (!c->producer_settled) {
		if (p->ops->abort(p, c->abort_deadline_ms) == PGCM_OK)
			c->producer_settled = 1;
		else
			open++;
	}
	for (size_t i = 0; i < c->nrx; i++) {
		pgcm_receiver *r = c->rx[i];

		if (!pgcm__copy_receiver_open(r))
			continue;
		if (r->state == PGCM_RECEIVER_ABORTED && realign(c, r, now)) {
			open++;
			continue;
		}
		if (r->ops->fail(r, reason, c->abort_deadline_ms) == PGCM_OK)
			r->settled = 1;
		else
			open++;
	}
	return open == 0;
}

/*
 * pgcm__copy_settle_dropped: a dropped receiver's COPY is failed without
 * blocking the others; its fail() is driven step by step until the
 * connection is idle, or given up at its own drain deadline.
 */
void
pgcm__copy_settle_dropped(pgcm_copy *c, int64_t now)
{
	for (size_t i = 0; i < c->nrx; i++) {
		pgcm_receiver *r = c->rx[i];
		if (r->state != PGCM_RECEIVER_DROPPED || r->settled)
			continue;
		if (!r->drain_deadline_ms)
			r->drain_deadline_ms = drain_deadline(c, now);
		if (r->ops->fail(r, "receiver dropped after a fault", r->drain_deadline_ms) == PGCM_OK)
			r->settled = 1;
	}
}

/* dropped_open: a dropped receiver is still settling. */
static int
dropped_open(const pgcm_copy *c)
{
	for (size_t i = 0; i < c->nrx; i++)
		if (c->rx[i]->state == PGCM_RECEIVER_DROPPED && !c->rx[i]->settled)
			return 1;
	return 0;
}

/*
 * settle_blocking: the blocking calls' wait: drive the abort (or, for a
 * completed copy, the dropped receivers) and poll() the descriptors until
 * everything settled.  The deadlines bound it.
 */
static void
settle_blocking(pgcm_copy *c)
{
	c->depth++;
	for (;;) {
		if (c->state == COPY_ABORTING) {
			if (pgcm__copy_abort_drive(c)) {
				c->state = COPY_FAILED;
				break;
			}
		} else {
			pgcm__copy_settle_dropped(c, pgcm__now_ms());
			if (!dropped_open(c))
				break;
		}
		pgcm__copy_forget_polled(c);
		(void) pgcm__copy_wait(c);
	}
	pgcm__copy_forget_polled(c);
	c->depth--;
}

/* abort_request: abort and abort_start share their checks. */
static pgcm_status
abort_request(pgcm_copy *c, const char *reason, int wait)
{
	if (!c)
		return PGCM_ERR_ARG;
	if (c->state == COPY_DONE || c->state == COPY_FAILED)
		return pgcm__copy_msg(c, PGCM_ERR_STATE, "the copy has already ended");
	if (c->depth > 0) {
		/* Inside a callback: the step that runs it aborts when it unwinds. */
		if (!c->abort_pending)
			c->abort_pending = pgcm__strdup(reason ? reason : "aborted by the caller");
		return PGCM_ERR_ABORTED;
	}
	if (c->state == COPY_ABORTING) {
		if (wait)
			settle_blocking(c);
		return pgcm__copy_msg(c, PGCM_ERR_STATE, "the copy is already ending");
	}
	pgcm__copy_abort_begin(c, PGCM_ERR_ABORTED, reason ? reason : "aborted by the caller");
	if (wait && c->state == COPY_ABORTING)
		settle_blocking(c);
	return PGCM_ERR_ABORTED;
}

pgcm_status
pgcm_copy_abort(pgcm_copy *c, const char *reason)
{
	return abort_request(c, reason, 1);
}

pgcm_status
pgcm_copy_abort_start(pgcm_copy *c, const char *reason)
{
	return abort_request(c, reason, 0);
}

/* build_report: the failure report's view of every fault. */
static void
build_report(pgcm_copy *c, pgcm_failure *failure)
{
	memset(failure, 0, sizeof *failure);
	failure->status = c->state == COPY_FAILED ? c->failure : PGCM_OK;
	failure->reason = c->reason;
	if (c->producer_stalled) {
		failure->producer_error = c->producer_stalled;
		failure->producer_sqlstate = "";
	} else if (c->producer->error && (c->state == COPY_FAILED || c->producer_failed)) {
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
	if (c->state == COPY_NEW)
		pgcm__copy_abort_begin(c, PGCM_ERR_ABORTED, "copy finished before it started");
	else if (c->state == COPY_RUNNING)
		pgcm__copy_abort_begin(c, PGCM_ERR_ABORTED, "copy finished before completion");
	else if (c->state == COPY_DONE)
		/* Faulted receivers the caller did not reconcile are dropped now. */
		pgcm__copy_drop_faulted(c);
	if (c->state == COPY_ABORTING || c->state == COPY_DONE)
		settle_blocking(c);
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
