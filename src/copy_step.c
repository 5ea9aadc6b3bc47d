/*
 * copy_step.c: the step: start, then fill the window from the producer and
 * hand each receiver the chunks it has not taken, without blocking.  Faults
 * take a receiver out of the set; it may be reconciled before the next step,
 * or it is dropped and its COPY failed.
 */
#include <stdio.h>
#include <string.h>

#include "copy_int.h"


/* ------------------------------------------------------------------------
 * Start
 * ------------------------------------------------------------------------ */

pgcm_status
pgcm_copy_start(pgcm_copy *c)
{
	pgcm_status st;
	int64_t now = pgcm__now_ms();

	if (!c)
		return PGCM_ERR_ARG;
	if (c->state != COPY_NEW)
		return pgcm__copy_msg(c, PGCM_ERR_STATE, "the copy has already started");
	if (c->nrx == 0)
		return pgcm__copy_msg(c, PGCM_ERR_ARG, "the copy has no receivers");
	st = pgcm__window_init(&c->window, c->chunk_bytes, c->chunks);
	if (st != PGCM_OK)
		return pgcm__copy_msg(c, st, "cannot allocate the chunk window");
	for (size_t i = 0; i < c->nrx; i++) {
		if (pgcm__receiver_name(c->rx[i]) != PGCM_OK)
			return pgcm__copy_msg(c, PGCM_ERR_NOMEM, "out of memory");
	}
	c->state = COPY_RUNNING;
	st = pgcm__producer_begin(c->producer);
	if (st != PGCM_OK)
		c->producer_failed = st;
	else
		c->producer_started = 1;
	c->producer_progress_ms = now;
	/* Every COPY goes out at once; the loop then waits for them to start. */
	for (size_t i = 0; i < c->nrx; i++) {
		pgcm_receiver *r = c->rx[i];
		r->framing = &c->producer->framing;
		r->segment_bytes = c->segment_bytes;
		r->state = PGCM_RECEIVER_ACTIVE;
		r->last_progress_ms = now;
		st = r->ops->begin(r);
		if (st != PGCM_OK)
			pgcm__copy_fault(c, r, st);
	}
	return PGCM_OK;
}

/* ------------------------------------------------------------------------
 * The step
 * ------------------------------------------------------------------------ */

/* min_next_seq: the oldest chunk a receiver that counts still needs. */
static uint64_t
min_next_seq(const pgcm_copy *c)
{
	uint64_t m = c->window.head;

	for (size_t i = 0; i < c->nrx; i++) {
		const pgcm_receiver *r = c->rx[i];
		if ((r->state == PGCM_RECEIVER_ACTIVE || r->state == PGCM_RECEIVER_FAULTED)
		    && r->next_seq < m)
			m = r->next_seq;
	}
	return m;
}

/* receiver_idle: a live receiver has taken every sealed chunk: it could use more rows now. */
static int
receiver_idle(const pgcm_copy *c)
{
	for (size_t i = 0; i < c->nrx; i++) {
		const pgcm_receiver *r = c->rx[i];
		if (r->state == PGCM_RECEIVER_ACTIVE && r->next_seq == c->window.head)
			return 1;
	}
	return 0;
}

/* seal: the open chunk goes to the receivers. */
static void
seal(pgcm_copy *c, pgcm__chunk *ch, pgcm_progress *progress)
{
	ch->first_row = c->rows + 1;
	c->rows += ch->rows;
	c->bytes += ch->len;
	progress->rows += ch->rows;
	progress->bytes += ch->len;
	pgcm__window_seal(&c->window);
}

/*
 * run_producer: fill the window.  A chunk is sealed when full, when the data
 * ends, or when the producer would block while a receiver has nothing to
 * do: whole rows never wait for a chunk to fill (or for more input) while a
 * receiver could take them; while every receiver is busy they gather into
 * larger chunks.  The producer's progress (anything its source sent) keeps
 * its stall clock going; with the window full it is not asked, which is not
 * a stall either.  Returns 1 if anything happened.
 */
static int
run_producer(pgcm_copy *c, pgcm_progress *progress, int64_t now)
{
	pgcm_producer *p = c->producer;
	int did = 0;

	while (!c->producer_done && !c->producer_failed) {
		pgcm__chunk *ch = pgcm__window_open(&c->window);
		uint64_t activity = p->activity;
		size_t before;
		pgcm_status st;

		if (!ch) {
			c->producer_progress_ms = now;
			break;
		}
		before = ch->len;
		st = p->ops->produce(p, ch, c->window.target);
		c->producer_blocked = st == PGCM_AGAIN;
		if (ch->len != before || p->activity != activity || st != PGCM_AGAIN)
			c->producer_progress_ms = now;
		if (ch->len != before)
			did = 1;
		if (ch->len > 0
		    && (ch->len >= c->window.target || st == PGCM_DONE
		        || (st == PGCM_AGAIN && receiver_idle(c)))) {
			seal(c, ch, progress);
			did = 1;
		}
		if (st == PGCM_DONE) {
			c->producer_done = 1;
			did = 1;
		} else if (st == PGCM_AGAIN) {
			break;
		} else if (st != PGCM_OK) {
			c->producer_failed = st;
			did = 1;
		}
	}
	return did;
}

/*
 * service: move one receiver along: pump it, hand it the chunks it has not
 * taken, end it once the producer is done.  Its progress (what it took, and
 * anything its peer did: r->activity) keeps its stall clock going; being
 * ready again proves nothing (a full pipe is "ready" to be tried).  Returns 1
 * if anything happened.
 */
static int
service(pgcm_copy *c, pgcm_receiver *r, int64_t now)
{
	int did = 0;

	for (int round = 0; round < STEP_ROUNDS && r->state == PGCM_RECEIVER_ACTIVE; round++) {
		pgcm_status st;
		uint64_t activity = r->activity;

		/* A callback asked for an abort or a free: hand out nothing more. */
		if (c->abort_pending || c->free_pending)
			return did;

		st = r->ops->pump(r);
		r->ready = st == PGCM_OK;
		if (r->activity != activity) {
			did = 1;
			r->last_progress_ms = now;
		}
		if (st == PGCM_DONE) {
			if (r->rows_confirmed != c->rows) {
				pgcm__copy_fault_msg(c, r, PGCM_ERR_ROWCOUNT,
				                     "its server confirmed %llu rows, %llu were produced",
				                     (unsigned long long) r->rows_confirmed,
				                     (unsigned long long) c->rows);
			} else {
				r->state = PGCM_RECEIVER_DONE;
				r->settled = 1;
			}
			return 1;
		}
		if (st != PGCM_OK && st != PGCM_AGAIN) {
			pgcm__copy_fault(c, r, st);
			return 1;
		}
		if (!r->ready)
			break;
		if (r->next_seq < c->window.head) {
			pgcm__chunk *ch = pgcm__window_get(&c->window, r->next_seq);
			size_t before = r->offset;
			st = r->ops->put(r, ch, &r->offset);
			if (st == PGCM_AGAIN)
				r->ready = 0;
			if (r->offset != before) {
				did = 1;
				r->last_progress_ms = now;
			}
			if (r->offset == ch->len) {
				r->rows_sent += ch->rows;
				r->next_seq++;
				r->offset = 0;
			}
			if (st != PGCM_OK && st != PGCM_AGAIN) {
				pgcm__copy_fault(c, r, st);
				return 1;
			}
			continue;
		}
		if (c->producer_done && !r->ended) {
			r->ended = 1;
			st = r->ops->end(r);
			did = 1;
			r->last_progress_ms = now;
			if (st != PGCM_OK) {
				pgcm__copy_fault(c, r, st);
				return 1;
			}
			continue;
		}
		/* Nothing to send: waiting for the producer is not a stall. */
		r->last_progress_ms = now;
		break;
	}
	return did;
}

/* pgcm__copy_pending_work: the receiver owes us something (data to take, an end to finish). */
int
pgcm__copy_pending_work(const pgcm_copy *c, const pgcm_receiver *r)
{
	return r->next_seq < c->window.head || r->ended || !r->ready;
}

/* pgcm__copy_producer_asked: the producer is running and the window has room for its rows. */
int
pgcm__copy_producer_asked(const pgcm_copy *c)
{
	return c->producer_started && !c->producer_done && !c->producer_failed
	       && c->window.head - c->window.tail < c->window.nslots - 1;
}

/*
 * check_stalls: one rule for every endpoint: no progress for the stall
 * timeout while it owes us something is a fault.  A receiver is taken out
 * (the others go on); a producer that sent nothing while the window had room
 * fails, which ends the copy.
 */
static int
check_stalls(pgcm_copy *c, int64_t now)
{
	int did = 0;

	if (c->stall_ms <= 0)
		return 0;
	if (pgcm__copy_producer_asked(c) && now - c->producer_progress_ms >= c->stall_ms) {
		pgcm__free(c->producer_stalled);
		c->producer_stalled = pgcm__asprintf("sent no data for %d ms (stall timeout)", c->stall_ms);
		c->producer_failed = PGCM_ERR_TIMEOUT;
		did = 1;
	}
	for (size_t i = 0; i < c->nrx; i++) {
		pgcm_receiver *r = c->rx[i];
		if (r->state != PGCM_RECEIVER_ACTIVE || !pgcm__copy_pending_work(c, r))
			continue;
		if (now - r->last_progress_ms >= c->stall_ms) {
			pgcm__copy_fault_msg(c, r, PGCM_ERR_TIMEOUT,
			                     "accepted no data for %d ms (stall timeout)", c->stall_ms);
			did = 1;
		}
	}
	return did;
}

/* pgcm__copy_drop_faulted: faults not reconciled before this step are final. */
void
pgcm__copy_drop_faulted(pgcm_copy *c)
{
	for (size_t i = 0; i < c->nrx; i++)
		if (c->rx[i]->state == PGCM_RECEIVER_FAULTED)
			c->rx[i]->state = PGCM_RECEIVER_DROPPED;
}

void
pgcm__copy_forget_polled(pgcm_copy *c)
{
	pgcm__polled_forget(&c->producer->polled);
	for (size_t i = 0; i < c->nrx; i++)
		pgcm__polled_forget(&c->rx[i]->polled);
}

/*
 * abort_in_step: an abort the step itself decided (the producer failed, no
 * receiver is left, a callback asked): it begins now and gets its first
 * turn, so a copy whose connections settle at once ends in this step.
 */
static pgcm_status aborting_step(pgcm_copy *c);

static pgcm_status
abort_in_step(pgcm_copy *c, pgcm_status why, const char *reason)
{
	pgcm__copy_abort_begin(c, why, reason);
	return c->state == COPY_ABORTING ? aborting_step(c) : c->failure;
}

/* outcome: what the step says, once its work is done. */
static pgcm_status
outcome(pgcm_copy *c, int did, size_t faults_before)
{
	size_t live = 0, done = 0;

	if (c->producer_failed) {
		pgcm_producer *p = c->producer;
		const char *what = c->producer_stalled ? c->producer_stalled
		                   : p->error ? p->error : pgcm_strerror(c->producer_failed);
		char *why = pgcm__asprintf("%s failed: %s", pgcm__producer_name(p), what);
		pgcm_status st = abort_in_step(c, PGCM_ERR_PRODUCER, why ? why : "the producer failed");
		pgcm__free(why);
		return st;
	}
	if (c->nfaults > faults_before)
		return PGCM_FAULT;
	for (size_t i = 0; i < c->nrx; i++) {
		if (c->rx[i]->state == PGCM_RECEIVER_ACTIVE)
			live++;
		else if (c->rx[i]->state == PGCM_RECEIVER_DONE)
			done++;
	}
	if (live == 0 && done == 0)
		return abort_in_step(c, PGCM_ERR_NO_RECEIVERS, "no receiver is left");
	if (live == 0 && c->producer_done) {
		c->state = COPY_DONE;
		return PGCM_DONE;
	}
	return did ? PGCM_OK : PGCM_AGAIN;
}

/*
 * freed_by_callback: a callback of this step asked for the copy to be freed:
 * it is, now that the step has unwound.  Returns 1 when c is gone.
 */
static int
freed_by_callback(pgcm_copy *c)
{
	if (!c->free_pending)
		return 0;
	c->free_pending = 0;
	pgcm_copy_free(c);
	return 1;
}

/*
 * aborting_step: a step of an abort in progress: one non-blocking turn.
 * Returns PGCM_AGAIN until every connection settled, then the failure.
 */
static pgcm_status
aborting_step(pgcm_copy *c)
{
	int settled;

	c->cycle_start = c->nfaults;
	c->depth++;
	settled = pgcm__copy_abort_drive(c);
	pgcm__copy_forget_polled(c);
	c->depth--;
	if (freed_by_callback(c))
		return PGCM_ERR_ABORTED;
	if (!settled)
		return PGCM_AGAIN;
	c->state = COPY_FAILED;
	return c->failure;
}

pgcm_status
pgcm_copy_step(pgcm_copy *c, pgcm_progress *progress)
{
	pgcm_progress local;
	pgcm_status st;
	size_t faults_before = 0;
	int did = 0, quiet = 0;
	int64_t now;

	if (!progress)
		progress = &local;
	progress->rows = progress->bytes = 0;
	if (!c)
		return PGCM_ERR_ARG;
	if (c->depth > 0)
		return pgcm__copy_msg(c, PGCM_ERR_STATE, "a step cannot run inside a callback of a step");
	switch (c->state) {
	case COPY_NEW:
		st = pgcm_copy_start(c);
		if (st != PGCM_OK)
			return st;
		faults_before = 0;
		break;
	case COPY_RUNNING:
		pgcm__copy_drop_faulted(c);
		faults_before = c->nfaults;
		break;
	case COPY_ABORTING:
		return aborting_step(c);
	case COPY_DONE:
		return PGCM_DONE;
	case COPY_FAILED:
		return c->failure;
	}
	c->cycle_start = faults_before;
	c->depth++;
	c->quiescent = 0;
	pgcm__copy_look(c);
	now = pgcm__now_ms();
	for (int round = 0; round < STEP_ROUNDS; round++) {
		int any;

		/* First: a receiver dropped since the last round no longer holds chunks. */
		pgcm__window_release(&c->window, min_next_seq(c));
		any = run_producer(c, progress, now);
		for (size_t i = 0; i < c->nrx; i++)
			if (c->rx[i]->state == PGCM_RECEIVER_ACTIVE)
				any |= service(c, c->rx[i], now);
		did |= any;
		quiet = !any;
		if (!any || c->producer_failed || c->abort_pending || c->free_pending)
			break;
		/* A cycle moves about one window: fine-grained progress, no 16 MiB gulps. */
		if (progress->bytes >= c->window.target * (c->window.nslots - 1))
			break;
	}
	if (check_stalls(c, now)) {
		did = 1;
		quiet = 0;
	}
	pgcm__copy_settle_dropped(c, now);
	pgcm__copy_forget_polled(c);
	c->depth--;
	if (freed_by_callback(c))
		return PGCM_ERR_ABORTED;
	if (c->abort_pending) {
		char *why = c->abort_pending;
		c->abort_pending = NULL;
		st = abort_in_step(c, PGCM_ERR_ABORTED, why);
		pgcm__free(why);
		return st;
	}
	st = outcome(c, did, faults_before);
	/*
	 * Everything waits on its descriptor (or a deadline) and nothing changed
	 * after the last round: pgcm_copy_next() may poll before the next step.
	 */
	c->quiescent = quiet && st == PGCM_OK && c->state == COPY_RUNNING;
	return st;
}
