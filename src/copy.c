/*
 * copy.c: the copy manager: construction, settings, faults and
 * reconciliation, accessors, free.  One producer fills chunks of whole rows
 * into the window; every receiver takes the sealed chunks in order.  The
 * step lives in copy_step.c, the waiting calls in copy_loop.c, abort and
 * finish in copy_abort.c.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "copy_int.h"

/* ------------------------------------------------------------------------
 * Messages
 * ------------------------------------------------------------------------ */

pgcm_status
pgcm__copy_msg(pgcm_copy *c, pgcm_status st, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	pgcm__set_msgv(&c->errmsg, fmt, ap);
	va_end(ap);
	return st;
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
	pgcm__producer_attach(p);
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
		return pgcm__copy_msg(c, PGCM_ERR_STATE,
		                      "receivers can be added only before the copy starts");
	}
	if (c->nrx == c->caprx) {
		size_t ncap = c->caprx ? c->caprx * 2 : 4;
		pgcm_receiver **n = pgcm__realloc(c->rx, ncap * sizeof *n);
		if (!n) {
			pgcm_receiver_free(r);
			return pgcm__copy_msg(c, PGCM_ERR_NOMEM, "out of memory");
		}
		c->rx = n;
		c->caprx = ncap;
	}
	pgcm__receiver_attach(r, c->nrx);
	c->rx[c->nrx++] = r;
	return PGCM_OK;
}

pgcm_status
pgcm_copy_set_window(pgcm_copy *c, size_t chunk_bytes, size_t chunks)
{
	if (!c || chunk_bytes == 0 || chunks == 0 || chunk_bytes > ((size_t) 1 << 30))
		return PGCM_ERR_ARG;
	if (c->state != COPY_NEW)
		return pgcm__copy_msg(c, PGCM_ERR_STATE, "the window is set before the copy starts");
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
		return pgcm__copy_msg(c, PGCM_ERR_STATE, "segments are set before the copy starts");
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

/* ------------------------------------------------------------------------
 * Faults
 * ------------------------------------------------------------------------ */

/*
 * record_fault: take r out of the receiver set and record why (why: the
 * manager's message, or NULL for the receiver's own error).  The record keeps
 * its own copy of the message, so a later fault of the same (reconciled)
 * receiver does not change what an earlier report said.
 */
static void
record_fault(pgcm_copy *c, pgcm_receiver *r, pgcm_status st, const char *why)
{
	fault_record *f;

	r->state = PGCM_RECEIVER_FAULTED;
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
	if (why) {
		f->status = st;
		f->message = pgcm__asprintf("%s: %s", r->name ? r->name : "receiver", why);
	} else {
		f->status = r->fault_status != PGCM_OK ? r->fault_status : st;
		f->message = pgcm__asprintf("%s: %s", r->name ? r->name : "receiver",
		                            r->error ? r->error : pgcm_strerror(st));
		memcpy(f->sqlstate, r->sqlstate, sizeof f->sqlstate);
		f->row = r->fault_row;
	}
	f->reconcilable = r->ops->recoverable(r);
}

void
pgcm__copy_fault(pgcm_copy *c, pgcm_receiver *r, pgcm_status st)
{
	record_fault(c, r, st, NULL);
}

void
pgcm__copy_fault_msg(pgcm_copy *c, pgcm_receiver *r, pgcm_status st, const char *fmt, ...)
{
	va_list ap;
	char *why;

	va_start(ap, fmt);
	why = pgcm__vasprintf(fmt, ap);
	va_end(ap);
	record_fault(c, r, st, why ? why : pgcm_strerror(st));
	pgcm__free(why);
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
		return pgcm__copy_msg(c, PGCM_ERR_STATE, "%s is not faulted in the last cycle", r->name);
	if (!r->ops->recoverable(r))
		return pgcm__copy_msg(c, PGCM_ERR_REFUSED,
		                      "%s cannot be reconciled: its connection or COPY is gone (%s)", r->name,
		                      r->error ? r->error : "failed");
	r->state = PGCM_RECEIVER_ACTIVE;
	c->quiescent = 0;
	pgcm__receiver_clear_error(r);
	r->last_progress_ms = pgcm__now_ms();
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
	if (c->state == COPY_RUNNING || c->state == COPY_ABORTING || c->state == COPY_DONE)
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
	pgcm__free(c->producer_stalled);
	pgcm__free(c->errmsg);
	pgcm__free(c->abort_pending);
	pgcm__free(c);
}
