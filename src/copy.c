/*
 * copy.c: the copy manager.  One producer fills chunks of whole rows into
 * the window; every receiver takes the sealed chunks in order.  A step does
 * what can be done without blocking; next, run and abort are built from
 * steps and poll().  Faults take a receiver out of the set; it may be
 * reconciled before the next step, or it is dropped and its COPY failed.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define DEFAULT_CHUNK_BYTES (64 * 1024)
#define DEFAULT_CHUNKS 16
#define DEFAULT_SEGMENT_BYTES ((uint64_t) 16 << 20)
#define DEFAULT_STALL_MS 60000
#define DEFAULT_DRAIN_MS 10000
/* A step gives up the CPU after this many rounds, so a caller's loop stays responsive. */
#define STEP_ROUNDS 64

enum copy_state {
	COPY_NEW = 0,
	COPY_RUNNING,
	COPY_DONE,       /* completed; finish() settles the dropped receivers */
	COPY_FAILED      /* aborted */
};

typedef struct fault_record {
	pgcm_receiver *receiver;
	pgcm_status status;
	char *message;
	char sqlstate[6];
	uint64_t row;
	int reconcilable;
} fault_record;

struct pgcm_copy {
	pgcm_producer *producer;
	pgcm_receiver **rx;
	size_t nrx;
	size_t caprx;
	pgcm__window window;
	size_t chunk_bytes;
	size_t chunks;
	uint64_t segment_bytes;
	int stall_ms;
	int drain_ms;
	int state;                 /* enum copy_state */
	int producer_done;
	pgcm_status producer_failed;
	uint64_t rows;
	uint64_t bytes;
	uint64_t steps;            /* steps taken; a fault belongs to one */
	fault_record *faults;      /* every fault of the copy */
	size_t nfaults;
	size_t capfaults;
	size_t cycle_start;        /* faults[cycle_start..] are the last step's */
	pgcm_fault *report;        /* the failure report's view of faults */
	pgcm_status failure;
	char *reason;
	char *errmsg;
	int depth;                 /* > 0 inside a step: callbacks may be running */
	int free_pending;
	char *abort_pending;
};

/* ------------------------------------------------------------------------
 * Messages
 * ------------------------------------------------------------------------ */

void
pgcm__producer_error(pgcm_producer *p, const char *sqlstate, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	pgcm__set_msgv(&p->error, fmt, ap);
	va_end(ap);
	if (sqlstate && sqlstate != p->sqlstate)
		snprintf(p->sqlstate, sizeof p->sqlstate, "%s", sqlstate);
}

void
pgcm__receiver_error(pgcm_receiver *r, pgcm_status st, const char *sqlstate, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	pgcm__set_msgv(&r->error, fmt, ap);
	va_end(ap);
	r->fault_status = st;
	snprintf(r->sqlstate, sizeof r->sqlstate, "%s", sqlstate ? sqlstate : "");
}

/* copy_msg: the copy's own message, for the caller. */
static pgcm_status
copy_msg(pgcm_copy *c, pgcm_status st, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static pgcm_status
copy_msg(pgcm_copy *c, pgcm_status st, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	pgcm__set_msgv(&c->errmsg, fmt, ap);
	va_end(ap);
	return st;
}

static const char *
producer_name(const pgcm_producer *p)
{
	return p->label ? p->label : "producer";
}

/* ------------------------------------------------------------------------
 * Construction
 * ------------------------------------------------------------------------ */

pgcm_copy *
pgcm_copy_new(pgcm_producer *p)
{
	pgcm_copy *c;

	if (!p)
		return NULL;
	if (p->in_copy)
		return NULL;
	c = pgcm__calloc(1, sizeof *c);
	if (!c) {
		pgcm_producer_free(p);
		return NULL;
	}
	p->in_copy = 1;
	c->producer = p;
	c->chunk_bytes = DEFAULT_CHUNK_BYTES;
	c->chunks = DEFAULT_CHUNKS;
	c->segment_bytes = DEFAULT_SEGMENT_BYTES;
	c->stall_ms = DEFAULT_STALL_MS;
	c->drain_ms = DEFAULT_DRAIN_MS;
	return c;
}

pgcm_status
pgcm_copy_add(pgcm_copy *c, pgcm_receiver *r)
{
	if (!c || !r) {
		pgcm_receiver_free(r);
		return PGCM_ERR_ARG;
	}
	if (c->state != COPY_NEW || r->in_copy) {
		if (!r->in_copy)
			pgcm_receiver_free(r);
		return copy_msg(c, PGCM_ERR_STATE, "receivers can be added only before the copy starts");
	}
	if (c->nrx == c->caprx) {
		size_t ncap = c->caprx ? c->caprx * 2 : 4;
		pgcm_receiver **n = pgcm__realloc(c->rx, ncap * sizeof *n);
		if (!n) {
			pgcm_receiver_free(r);
			return copy_msg(c, PGCM_ERR_NOMEM, "out of memory");
		}
		c->rx = n;
		c->caprx = ncap;
	}
	r->in_copy = 1;
	r->index = c->nrx;
	c->rx[c->nrx++] = r;
	return PGCM_OK;
}

pgcm_status
pgcm_copy_set_window(pgcm_copy *c, size_t chunk_bytes, size_t chunks)
{
	if (!c || chunk_bytes == 0 || chunks == 0 || chunk_bytes > ((size_t) 1 << 30))
		return PGCM_ERR_ARG;
	if (c->state != COPY_NEW)
		return copy_msg(c, PGCM_ERR_STATE, "the window is set before the copy starts");
	c->chunk_bytes = chunk_bytes;
	c->chunks = chunks;
	return PGCM_OK;
}

pgcm_status
pgcm_copy_set_segment_bytes(pgcm_copy *c, uint64_t bytes)
{
	if (!c)
		return PGCM_ERR_ARG;
	if (c->state != COPY_NEW)
		return copy_msg(c, PGCM_ERR_STATE, "segments are set before the copy starts");
	c->segment_bytes = bytes;
	return PGCM_OK;
}

pgcm_status
pgcm_copy_set_stall_timeout(pgcm_copy *c, int ms)
{
	if (!c || ms < 0)
		return PGCM_ERR_ARG;
	c->stall_ms = ms;
	return PGCM_OK;
}

pgcm_status
pgcm_copy_set_drain_timeout(pgcm_copy *c, int ms)
{
	if (!c || ms < 0)
		return PGCM_ERR_ARG;
	c->drain_ms = ms;
	return PGCM_OK;
}

/* set_label: labels are copied; the copy builds each receiver's name from it. */
static pgcm_status
set_label(char **slot, const char *label)
{
	char *s = label ? pgcm__strdup(label) : NULL;

	if (label && !s)
		return PGCM_ERR_NOMEM;
	pgcm__free(*slot);
	*slot = s;
	return PGCM_OK;
}

pgcm_status
pgcm_producer_set_label(pgcm_producer *p, const char *label)
{
	return p ? set_label(&p->label, label) : PGCM_ERR_ARG;
}

pgcm_status
pgcm_receiver_set_label(pgcm_receiver *r, const char *label)
{
	if (!r)
		return PGCM_ERR_ARG;
	pgcm__free(r->name);
	r->name = NULL;
	return set_label(&r->label, label);
}

const char *
pgcm_receiver_label(const pgcm_receiver *r)
{
	if (!r)
		return "";
	if (r->name)
		return r->name;
	return r->label ? r->label : "receiver";
}

pgcm_receiver_state
pgcm_receiver_get_state(const pgcm_receiver *r)
{
	return r ? r->state : PGCM_RECEIVER_IDLE;
}

uint64_t
pgcm_receiver_rows(const pgcm_receiver *r)
{
	return r ? r->rows_confirmed : 0;
}

pgcm_status
pgcm_producer_set_format(pgcm_producer *p, const pgcm_format *fmt)
{
	if (!p || !fmt)
		return PGCM_ERR_ARG;
	if (p->phase != PGCM__P_IDLE)
		return PGCM_ERR_STATE;
	p->fmt = *fmt;
	p->fmt_set = 1;
	return PGCM_OK;
}

void
pgcm_producer_free(pgcm_producer *p)
{
	if (!p)
		return;
	p->ops->destroy(p);
	pgcm__free(p->framing.prologue);
	pgcm__free(p->framing.epilogue);
	pgcm__free(p->label);
	pgcm__free(p->error);
	pgcm__free(p);
}

void
pgcm_receiver_free(pgcm_receiver *r)
{
	if (!r)
		return;
	r->ops->destroy(r);
	pgcm__free(r->label);
	pgcm__free(r->name);
	pgcm__free(r->error);
	pgcm__free(r);
}

/* ------------------------------------------------------------------------
 * Faults
 * ------------------------------------------------------------------------ */

/*
 * fault: take r out of the receiver set and record why.  The record keeps
 * its own copy of the message, so a later fault of the same (reconciled)
 * receiver does not change what an earlier report said.
 */
static void
fault(pgcm_copy *c, pgcm_receiver *r, pgcm_status st)
{
	fault_record *f;

	r->state = PGCM_RECEIVER_FAULTED;
	r->ready = 0;
	if (c->nfaults == c->capfaults) {
		size_t ncap = c->capfaults ? c->capfaults * 2 : 4;
		fault_record *n = pgcm__realloc(c->faults, ncap * sizeof *n);
		if (!n)
			return; /* the receiver is still out; only the record is lost */
		c->faults = n;
		c->capfaults = ncap;
	}
	f = &c->faults[c->nfaults++];
	memset(f, 0, sizeof *f);
	f->receiver = r;
	f->status = r->fault_status != PGCM_OK ? r->fault_status : st;
	f->message = pgcm__asprintf("%s: %s", r->name ? r->name : "receiver",
	                            r->error ? r->error : pgcm_strerror(st));
	memcpy(f->sqlstate, r->sqlstate, sizeof f->sqlstate);
	f->row = r->fault_row;
	f->reconcilable = r->ops->recoverable(r);
}

size_t
pgcm_copy_faults(const pgcm_copy *c, pgcm_fault *out, size_t cap)
{
	size_t n;

	if (!c)
		return 0;
	n = c->nfaults - c->cycle_start;
	for (size_t i = 0; i < n && i < cap; i++) {
		const fault_record *f = &c->faults[c->cycle_start + i];
		out[i].receiver = f->receiver;
		out[i].index = f->receiver->index;
		out[i].status = f->status;
		out[i].message = f->message ? f->message : pgcm_strerror(f->status);
		out[i].sqlstate = f->sqlstate;
		out[i].row = f->row;
		out[i].reconcilable = f->reconcilable;
	}
	return n;
}

pgcm_status
pgcm_copy_reconcile(pgcm_copy *c, pgcm_receiver *r)
{
	if (!c || !r || r->index >= c->nrx || c->rx[r->index] != r)
		return PGCM_ERR_ARG;
	if (c->state != COPY_RUNNING || r->state != PGCM_RECEIVER_FAULTED)
		return copy_msg(c, PGCM_ERR_STATE, "%s is not faulted in the last cycle", r->name);
	if (!r->ops->recoverable(r))
		return copy_msg(c, PGCM_ERR_REFUSED,
		                "%s cannot be reconciled: its connection or COPY is gone (%s)", r->name,
		                r->error ? r->error : "failed");
	r->state = PGCM_RECEIVER_ACTIVE;
	r->fault_status = PGCM_OK;
	r->fault_row = 0;
	r->last_progress_ms = pgcm__now_ms();
	return PGCM_OK;
}

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
		return copy_msg(c, PGCM_ERR_STATE, "the copy has already started");
	if (c->nrx == 0)
		return copy_msg(c, PGCM_ERR_ARG, "the copy has no receivers");
	st = pgcm__window_init(&c->window, c->chunk_bytes, c->chunks);
	if (st != PGCM_OK)
		return copy_msg(c, st, "cannot allocate the chunk window");
	for (size_t i = 0; i < c->nrx; i++) {
		pgcm_receiver *r = c->rx[i];
		pgcm__free(r->name);
		r->name = r->label ? pgcm__asprintf("receiver %zu (%s)", i + 1, r->label)
		                   : pgcm__asprintf("receiver %zu", i + 1);
		if (!r->name)
			return copy_msg(c, PGCM_ERR_NOMEM, "out of memory");
	}
	c->state = COPY_RUNNING;
	c->producer->phase = PGCM__P_RUNNING;
	st = c->producer->ops->begin(c->producer);
	if (st != PGCM_OK) {
		c->producer_failed = st;
		c->producer->phase = PGCM__P_FAILED;
	}
	/* Every COPY goes out at once; the loop then waits for them to start. */
	for (size_t i = 0; i < c->nrx; i++) {
		pgcm_receiver *r = c->rx[i];
		r->framing = &c->producer->framing;
		r->segment_bytes = c->segment_bytes;
		r->state = PGCM_RECEIVER_ACTIVE;
		r->last_progress_ms = now;
		st = r->ops->begin(r);
		if (st != PGCM_OK)
			fault(c, r, st);
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

/* receivers_caught_up: no live receiver has a sealed chunk waiting. */
static int
receivers_caught_up(const pgcm_copy *c)
{
	for (size_t i = 0; i < c->nrx; i++) {
		const pgcm_receiver *r = c->rx[i];
		if (r->state == PGCM_RECEIVER_ACTIVE && r->next_seq < c->window.head)
			return 0;
	}
	return 1;
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
 * ends, or when the producer must wait while every receiver is idle: then
 * receivers never wait for a chunk to fill.  Returns 1 if anything happened.
 */
static int
run_producer(pgcm_copy *c, pgcm_progress *progress)
{
	pgcm_producer *p = c->producer;
	int did = 0;

	while (!c->producer_done && !c->producer_failed) {
		pgcm__chunk *ch = pgcm__window_open(&c->window);
		size_t before;
		pgcm_status st;

		if (!ch)
			break;
		before = ch->len;
		st = p->ops->produce(p, ch, c->window.target);
		if (ch->len != before)
			did = 1;
		if (ch->len > 0
		    && (ch->len >= c->window.target || st == PGCM_DONE
		        || (st == PGCM_AGAIN && receivers_caught_up(c)))) {
			seal(c, ch, progress);
			did = 1;
		}
		if (st == PGCM_DONE) {
			c->producer_done = 1;
			p->phase = PGCM__P_DONE;
			did = 1;
		} else if (st == PGCM_AGAIN) {
			break;
		} else if (st != PGCM_OK) {
			c->producer_failed = st;
			p->phase = PGCM__P_FAILED;
			did = 1;
		}
	}
	return did;
}

/*
 * service: move one receiver along: pump it, hand it the chunks it has not
 * taken, end it once the producer is done.  Returns 1 if anything happened.
 */
static int
service(pgcm_copy *c, pgcm_receiver *r, int64_t now)
{
	int did = 0;

	for (int round = 0; round < STEP_ROUNDS && r->state == PGCM_RECEIVER_ACTIVE; round++) {
		pgcm_status st;
		int was_ready = r->ready;

		/* A callback asked for an abort or a free: hand out nothing more. */
		if (c->abort_pending || c->free_pending)
			return did;

		st = r->ops->pump(r);
		if (st == PGCM_DONE) {
			if (r->rows_confirmed != c->rows) {
				pgcm__receiver_error(r, PGCM_ERR_ROWCOUNT, NULL,
				                     "its server confirmed %llu rows, %llu were produced",
				                     (unsigned long long) r->rows_confirmed,
				                     (unsigned long long) c->rows);
				fault(c, r, PGCM_ERR_ROWCOUNT);
			} else {
				r->state = PGCM_RECEIVER_DONE;
				r->settled = 1;
			}
			return 1;
		}
		if (st != PGCM_OK && st != PGCM_AGAIN) {
			fault(c, r, st);
			return 1;
		}
		if (r->ready && !was_ready) {
			did = 1;
			r->last_progress_ms = now;
		}
		if (!r->ready)
			break;
		if (r->next_seq < c->window.head) {
			pgcm__chunk *ch = pgcm__window_get(&c->window, r->next_seq);
			size_t before = r->offset;
			st = r->ops->put(r, ch, &r->offset);
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
				fault(c, r, st);
				return 1;
			}
			continue;
		}
		if (c->producer_done && !r->ended) {
			st = r->ops->end(r);
			did = 1;
			r->last_progress_ms = now;
			if (st != PGCM_OK) {
				fault(c, r, st);
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

/* has_pending_work: the receiver owes us something (data to take, an end to finish). */
static int
has_pending_work(const pgcm_copy *c, const pgcm_receiver *r)
{
	return r->next_seq < c->window.head || r->ended || !r->ready;
}

/* check_stalls: a receiver that took nothing for the stall timeout is faulted. */
static int
check_stalls(pgcm_copy *c, int64_t now)
{
	int did = 0;

	if (c->stall_ms <= 0)
		return 0;
	for (size_t i = 0; i < c->nrx; i++) {
		pgcm_receiver *r = c->rx[i];
		if (r->state != PGCM_RECEIVER_ACTIVE || !has_pending_work(c, r))
			continue;
		if (now - r->last_progress_ms >= c->stall_ms) {
			pgcm__receiver_error(r, PGCM_ERR_TIMEOUT, NULL,
			                     "accepted no data for %d ms (stall timeout)", c->stall_ms);
			fault(c, r, PGCM_ERR_TIMEOUT);
			did = 1;
		}
	}
	return did;
}

/*
 * settle_dropped: a dropped receiver's COPY is failed without blocking the
 * others; its fail() is driven step by step until the connection is idle.
 */
static void
settle_dropped(pgcm_copy *c, int64_t now)
{
	for (size_t i = 0; i < c->nrx; i++) {
		pgcm_receiver *r = c->rx[i];
		if (r->state != PGCM_RECEIVER_DROPPED || r->settled)
			continue;
		if (!r->wait.deadline_ms)
			r->wait.deadline_ms = now + c->drain_ms;
		if (r->ops->fail(r, "receiver dropped after a fault", r->wait.deadline_ms) == PGCM_OK)
			r->settled = 1;
	}
}

/* drop_faulted: faults not reconciled before this step are final. */
static void
drop_faulted(pgcm_copy *c)
{
	for (size_t i = 0; i < c->nrx; i++)
		if (c->rx[i]->state == PGCM_RECEIVER_FAULTED) {
			c->rx[i]->state = PGCM_RECEIVER_DROPPED;
			c->rx[i]->wait.deadline_ms = 0;
		}
}

/* forget_revents: after a step, readiness is stale. */
static void
forget_revents(pgcm_copy *c)
{
	c->producer->wait.known = 0;
	for (size_t i = 0; i < c->nrx; i++)
		c->rx[i]->wait.known = 0;
}

static void do_abort(pgcm_copy *c, pgcm_status why, const char *reason);

/* outcome: what the step says, once its work is done. */
static pgcm_status
outcome(pgcm_copy *c, int did, size_t faults_before)
{
	size_t live = 0, done = 0;

	if (c->producer_failed) {
		pgcm_producer *p = c->producer;
		char *why = pgcm__asprintf("%s failed: %s", producer_name(p),
		                           p->error ? p->error : pgcm_strerror(c->producer_failed));
		do_abort(c, PGCM_ERR_PRODUCER, why ? why : "the producer failed");
		pgcm__free(why);
		return c->failure;
	}
	if (c->nfaults > faults_before)
		return PGCM_FAULT;
	for (size_t i = 0; i < c->nrx; i++) {
		if (c->rx[i]->state == PGCM_RECEIVER_ACTIVE)
			live++;
		else if (c->rx[i]->state == PGCM_RECEIVER_DONE)
			done++;
	}
	if (live == 0 && done == 0) {
		do_abort(c, PGCM_ERR_NO_RECEIVERS, "no receiver is left");
		return c->failure;
	}
	if (live == 0 && c->producer_done) {
		c->state = COPY_DONE;
		return PGCM_DONE;
	}
	return did ? PGCM_OK : PGCM_AGAIN;
}

pgcm_status
pgcm_copy_step(pgcm_copy *c, pgcm_progress *progress)
{
	pgcm_progress local;
	pgcm_status st;
	size_t faults_before;
	int did = 0;
	int64_t now;

	if (!progress)
		progress = &local;
	progress->rows = progress->bytes = 0;
	if (!c)
		return PGCM_ERR_ARG;
	if (c->depth > 0)
		return copy_msg(c, PGCM_ERR_STATE, "a step cannot run inside a callback of a step");
	if (c->state == COPY_NEW) {
		st = pgcm_copy_start(c);
		if (st != PGCM_OK)
			return st;
		faults_before = 0;
	} else {
		if (c->state == COPY_DONE)
			return PGCM_DONE;
		if (c->state == COPY_FAILED)
			return c->failure;
		drop_faulted(c);
		faults_before = c->nfaults;
	}
	c->cycle_start = faults_before;
	c->steps++;
	c->depth++;
	now = pgcm__now_ms();
	for (int round = 0; round < STEP_ROUNDS; round++) {
		int any;

		/* First: a receiver dropped since the last round no longer holds chunks. */
		pgcm__window_release(&c->window, min_next_seq(c));
		any = run_producer(c, progress);
		for (size_t i = 0; i < c->nrx; i++)
			if (c->rx[i]->state == PGCM_RECEIVER_ACTIVE)
				any |= service(c, c->rx[i], now);
		did |= any;
		if (!any || c->producer_failed || c->abort_pending || c->free_pending)
			break;
		/* A cycle moves about one window: fine-grained progress, no 16 MiB gulps. */
		if (progress->bytes >= c->window.target * (c->window.nslots - 1))
			break;
	}
	did |= check_stalls(c, now);
	settle_dropped(c, now);
	forget_revents(c);
	c->depth--;
	if (c->free_pending) {
		c->free_pending = 0;
		pgcm_copy_free(c);
		return PGCM_ERR_ABORTED;
	}
	if (c->abort_pending) {
		char *why = c->abort_pending;
		c->abort_pending = NULL;
		do_abort(c, PGCM_ERR_ABORTED, why);
		pgcm__free(why);
		return c->failure;
	}
	return outcome(c, did, faults_before);
}

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
			if (c->stall_ms > 0 && has_pending_work(c, r))
				d = r->last_progress_ms + c->stall_ms;
		} else if (r->state == PGCM_RECEIVER_DROPPED && !r->settled) {
			d = r->wait.deadline_ms;
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
 * note_revents: hand each endpoint what poll() said of its descriptor, in
 * the order pgcm_copy_pollfds() listed them.
 */
static void
note_revents(pgcm_copy *c, const struct pollfd *fds, size_t n)
{
	size_t k = 0;

	if (producer_waits(c)) {
		c->producer->wait.known = k < n;
		c->producer->wait.revents = k < n ? fds[k].revents : 0;
		k++;
	}
	for (size_t i = 0; i < c->nrx; i++) {
		pgcm_receiver *r = c->rx[i];
		if (!receiver_waits(r))
			continue;
		r->wait.known = k < n;
		r->wait.revents = k < n ? fds[k].revents : 0;
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
		note_revents(c, pfds, n);
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
	int producer_settled = p->phase == PGCM__P_DONE || p->phase == PGCM__P_IDLE;

	for (;;) {
		struct pollfd fds[65];
		size_t n = 0;
		int64_t now;

		if (!producer_settled) {
			if (p->ops->abort(p, deadline) == PGCM_OK) {
				producer_settled = 1;
				p->phase = PGCM__P_ABORTED;
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
 * do_abort: end the copy early: realign the streams, cancel and drain the
 * producer, fail every live receiver's COPY with the reason, and wait until
 * every connection is idle (or given up as dead at the drain deadline).
 */
static void
do_abort(pgcm_copy *c, pgcm_status why, const char *reason)
{
	int64_t deadline;

	if (c->state == COPY_FAILED || c->state == COPY_DONE)
		return;
	c->failure = why;
	pgcm__free(c->reason);
	c->reason = pgcm__strdup(reason ? reason : pgcm_strerror(why));
	copy_msg(c, why, "copy aborted: %s", reason ? reason : pgcm_strerror(why));
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
		return copy_msg(c, PGCM_ERR_STATE, "the copy has already ended");
	if (c->depth > 0) {
		if (!c->abort_pending)
			c->abort_pending = pgcm__strdup(reason ? reason : "aborted by the caller");
		return PGCM_ERR_ABORTED;
	}
	do_abort(c, PGCM_ERR_ABORTED, reason ? reason : "aborted by the caller");
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
		return copy_msg(c, PGCM_ERR_STATE, "finish cannot run inside a callback of a step");
	if (c->state == COPY_NEW) {
		do_abort(c, PGCM_ERR_ABORTED, "copy finished before it started");
	} else if (c->state == COPY_RUNNING) {
		do_abort(c, PGCM_ERR_ABORTED, "copy finished before completion");
	} else if (c->state == COPY_DONE) {
		/* Faulted receivers the caller did not reconcile are dropped now. */
		drop_faulted(c);
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

const char *
pgcm_copy_errmsg(const pgcm_copy *c)
{
	return c && c->errmsg ? c->errmsg : "";
}

pgcm_progress
pgcm_copy_totals(const pgcm_copy *c)
{
	pgcm_progress t = {0, 0};

	if (c) {
		t.rows = c->rows;
		t.bytes = c->bytes;
	}
	return t;
}

size_t
pgcm_copy_receiver_count(const pgcm_copy *c)
{
	return c ? c->nrx : 0;
}

pgcm_receiver *
pgcm_copy_receiver(const pgcm_copy *c, size_t i)
{
	return c && i < c->nrx ? c->rx[i] : NULL;
}

void
pgcm_copy_free(pgcm_copy *c)
{
	if (!c)
		return;
	if (c->depth > 0) {
		c->free_pending = 1;
		return;
	}
	if (c->state == COPY_RUNNING)
		(void) pgcm_copy_finish(c, NULL);
	else if (c->state == COPY_DONE)
		(void) pgcm_copy_finish(c, NULL);
	for (size_t i = 0; i < c->nrx; i++)
		pgcm_receiver_free(c->rx[i]);
	pgcm__free(c->rx);
	pgcm_producer_free(c->producer);
	pgcm__window_free(&c->window);
	for (size_t i = 0; i < c->nfaults; i++)
		pgcm__free(c->faults[i].message);
	pgcm__free(c->faults);
	pgcm__free(c->report);
	pgcm__free(c->reason);
	pgcm__free(c->errmsg);
	pgcm__free(c->abort_pending);
	pgcm__free(c);
}

/* ------------------------------------------------------------------------
 * One call
 * ------------------------------------------------------------------------ */

pgcm_status
pgcm_transfer(PGconn *src, const char *copy_to, PGconn *const *dsts, const char *copy_from,
              size_t n, uint64_t *rows, uint64_t *bytes, char *errbuf, size_t errbuf_size)
{
	pgcm_copy *c;
	pgcm_status st;
	pgcm_progress total = {0, 0};
	pgcm_failure failure;

	if (errbuf && errbuf_size)
		errbuf[0] = '\0';
	if (!src || !copy_to || !dsts || !copy_from || n == 0)
		return PGCM_ERR_ARG;
	c = pgcm_copy_new(pgcm_producer_pg(src, copy_to));
	if (!c)
		return PGCM_ERR_NOMEM;
	for (size_t i = 0; i < n; i++) {
		st = pgcm_copy_add(c, pgcm_receiver_pg(dsts[i], copy_from));
		if (st != PGCM_OK) {
			pgcm_copy_free(c);
			return st;
		}
	}
	do
		st = pgcm_copy_next(c, NULL);
	while (st == PGCM_OK);
	/* Here any fault fails the whole transfer: it promises every target or an error. */
	if (st == PGCM_FAULT)
		(void) pgcm_copy_abort(c, "a target failed");
	st = pgcm_copy_finish(c, &failure);
	total = pgcm_copy_totals(c);
	if (st != PGCM_OK && errbuf && errbuf_size) {
		const char *msg = failure.nfaults ? failure.faults[0].message
		                  : failure.producer_error ? failure.producer_error
		                  : pgcm_copy_errmsg(c);
		snprintf(errbuf, errbuf_size, "%s", msg);
	}
	pgcm_copy_free(c);
	if (rows)
		*rows = total.rows;
	if (bytes)
		*bytes = total.bytes;
	return st;
}

pgcm_status
pgcm_copy_step_polled(pgcm_copy *c, const struct pollfd *fds, size_t n, pgcm_progress *progress)
{
	if (!c || (n && !fds))
		return PGCM_ERR_ARG;
	if (c->state == COPY_RUNNING && c->depth == 0 && n == pgcm_copy_pollfds(c, NULL, 0))
		note_revents(c, fds, n);
	return pgcm_copy_step(c, progress);
}
