/*
 * endpoint_stream.c: the stream machinery that file and callback endpoints
 * share: a producer that cuts bytes into whole rows with the row scanner,
 * and a receiver that writes bytes in order and the framing (binary header
 * and trailer, CSV header) once.
 */
#include <poll.h>
#include <string.h>

#include "internal.h"

#define READ_BUFFER (256 * 1024)

/* ------------------------------------------------------------------------
 * The stream producer
 * ------------------------------------------------------------------------ */

/* stream_producer_begin: a stream has nothing to send before its data. */
static pgcm_status
stream_producer_begin(pgcm_producer *p)
{
	(void) p;
	return PGCM_OK;
}

/* set_framing: keep a copy of bytes that start or end every COPY of the stream. */
static pgcm_status
set_framing(char **slot, size_t *slot_len, const char *bytes, size_t n)
{
	char *copy = pgcm__malloc(n);

	if (!copy)
		return PGCM_ERR_NOMEM;
	memcpy(copy, bytes, n);
	pgcm__free(*slot);
	*slot = copy;
	*slot_len = n;
	return PGCM_OK;
}

/* flush_rows: move the complete rows [row_start, end) into the chunk in one copy. */
static pgcm_status
flush_rows(pgcm__scan_producer *sp, pgcm__chunk *c, size_t end, uint64_t rows)
{
	size_t n = end - sp->row_start;
	pgcm_status st;

	if (rows == 0)
		return PGCM_OK;
	st = pgcm__chunk_reserve(c, n);
	if (st != PGCM_OK) {
		pgcm__producer_error(&sp->base, NULL, "out of memory for %zu bytes of rows", n);
		return st;
	}
	memcpy(c->data + c->len, sp->buf + sp->row_start, n);
	c->len += n;
	c->rows += rows;
	sp->base.rows += rows;
	sp->base.bytes += n;
	sp->row_start = end;
	return PGCM_OK;
}

/*
 * make_room: keep the partial unit, drop what was given out, grow for a long
 * row.  The buffer comes with the first read: a producer that never reads
 * (no rows, an aborted copy) holds none.
 */
static pgcm_status
make_room(pgcm__scan_producer *sp)
{
	size_t keep = sp->len - sp->row_start;

	if (!sp->buf) {
		sp->buf = pgcm__malloc(READ_BUFFER);
		if (!sp->buf) {
			pgcm__producer_error(&sp->base, NULL, "out of memory for the read buffer");
			return PGCM_ERR_NOMEM;
		}
		sp->cap = READ_BUFFER;
	}

	if (sp->row_start > 0) {
		memmove(sp->buf, sp->buf + sp->row_start, keep);
		sp->scanned -= sp->row_start;
		sp->len = keep;
		sp->row_start = 0;
	}
	if (sp->len == sp->cap) {
		/* One unit fills the buffer: grow, up to the longest row accepted. */
		size_t ncap = sp->cap * 2;
		char *p;
		if (sp->cap >= sp->base.fmt.max_row + READ_BUFFER) {
			pgcm__producer_error(&sp->base, NULL, "row %llu is longer than %zu bytes",
			                     (unsigned long long) sp->base.rows + 1, sp->base.fmt.max_row);
			return PGCM_ERR_FORMAT;
		}
		p = pgcm__realloc(sp->buf, ncap);
		if (!p) {
			pgcm__producer_error(&sp->base, NULL, "out of memory for a row of %zu bytes", sp->len);
			return PGCM_ERR_NOMEM;
		}
		sp->buf = p;
		sp->cap = ncap;
	}
	return PGCM_OK;
}

/*
 * scan_produce: read bytes, let the scanner find where units end, and
 * hand out only whole rows; a partial row waits in the buffer for its end.
 * Headers and trailers are kept aside as the stream's framing.
 */
static pgcm_status
scan_produce(pgcm_producer *p, pgcm__chunk *c, size_t target)
{
	pgcm__scan_producer *sp = (pgcm__scan_producer *) p;
	pgcm_status st;

	if (sp->finished)
		return PGCM_DONE;
	for (;;) {
		uint64_t rows = 0;
		size_t row_end = sp->row_start;
		long n;

		while (sp->scanned < sp->len) {
			size_t pos = sp->scanned;
			pgcm__scan_kind k = pgcm__rowscan_next(&sp->scan, sp->buf, sp->len, &pos);

			sp->scanned = pos;
			if (k == PGCM__SCAN_MORE)
				break;
			if (k == PGCM__SCAN_ROW) {
				rows++;
				row_end = pos;
				if (c->len + (row_end - sp->row_start) >= target)
					break;
				continue;
			}
			st = flush_rows(sp, c, row_end, rows);
			if (st != PGCM_OK)
				return st;
			rows = 0;
			if (k == PGCM__SCAN_ERROR) {
				pgcm__producer_error(p, NULL, "%s", sp->scan.error);
				return PGCM_ERR_FORMAT;
			}
			if (k == PGCM__SCAN_HEADER) {
				st = set_framing(&p->framing.prologue, &p->framing.prologue_len,
				                 sp->buf + sp->row_start, pos - sp->row_start);
				if (st != PGCM_OK)
					return st;
				p->framing.prologue_is_line = p->fmt.kind == PGCM_FORMAT_CSV;
				p->framing.prologue_known = 1;
			} else { /* PGCM__SCAN_END */
				/* The binary trailer ends every segment; a "\." line is not data. */
				if (p->fmt.kind == PGCM_FORMAT_BINARY) {
					st = set_framing(&p->framing.epilogue, &p->framing.epilogue_len,
					                 sp->buf + sp->row_start, pos - sp->row_start);
					if (st != PGCM_OK)
						return st;
				}
			}
			sp->row_start = pos;
		}
		st = flush_rows(sp, c, row_end, rows);
		if (st != PGCM_OK)
			return st;
		if (c->len >= target)
			return PGCM_OK;
		if (sp->scanned < sp->len)
			continue;
		/* Everything read is scanned: only a partial unit remains. */
		if (sp->eof) {
			pgcm__scan_kind k = pgcm__rowscan_eof(&sp->scan);
			if (k == PGCM__SCAN_ERROR) {
				pgcm__producer_error(p, NULL, "%s", sp->scan.error);
				return PGCM_ERR_FORMAT;
			}
			if (k == PGCM__SCAN_ROW) {
				st = flush_rows(sp, c, sp->len, 1);
				if (st != PGCM_OK)
					return st;
			} else if (k == PGCM__SCAN_HEADER) {
				/* A header line without its newline, and nothing else. */
				st = set_framing(&p->framing.prologue, &p->framing.prologue_len,
				                 sp->buf + sp->row_start, sp->len - sp->row_start);
				if (st != PGCM_OK)
					return st;
				p->framing.prologue_is_line = p->fmt.kind == PGCM_FORMAT_CSV;
			} else if (k == PGCM__SCAN_END && p->fmt.kind == PGCM_FORMAT_BINARY) {
				st = set_framing(&p->framing.epilogue, &p->framing.epilogue_len,
				                 sp->buf + sp->row_start, sp->len - sp->row_start);
				if (st != PGCM_OK)
					return st;
			}
			if (!p->framing.prologue_known && p->fmt.kind == PGCM_FORMAT_BINARY
			    && !p->framing.prologue_len) {
				pgcm__producer_error(p, NULL, "binary COPY data ended before its header");
				return PGCM_ERR_FORMAT;
			}
			p->framing.prologue_known = 1;
			sp->finished = 1;
			return PGCM_DONE;
		}
		st = make_room(sp);
		if (st != PGCM_OK)
			return st;
		n = sp->read(sp, sp->buf + sp->len, sp->cap - sp->len);
		/*
		 * Nothing more now: say so, whatever the chunk holds.  The manager
		 * hands its whole rows on, and the caller's loop may be the one
		 * that feeds this pipe.
		 */
		if (n == -2)
			return PGCM_AGAIN;
		if (n < 0)
			return p->error ? PGCM_ERR_IO : PGCM_ERR_PRODUCER;
		if (n == 0)
			sp->eof = 1;
		else
			p->activity++;
		sp->len += (size_t) n;
		if (n > 0 && c->len > 0 && c->len >= target / 2)
			return PGCM_OK;
	}
}

/* scan_abort: a stream has no peer to settle; the descriptor stays the caller's. */
static pgcm_status
scan_abort(pgcm_producer *p, int64_t deadline_ms)
{
	(void) p;
	(void) deadline_ms;
	return PGCM_OK;
}

static void
scan_producer_destroy(pgcm_producer *p)
{
	pgcm__scan_producer *sp = (pgcm__scan_producer *) p;

	pgcm__free(sp->buf);
}

/* One table for every stream producer: they differ only in their read(). */
static const pgcm__producer_ops scan_producer_ops = {
	.begin = stream_producer_begin,
	.produce = scan_produce,
	.abort = scan_abort,
	.destroy = scan_producer_destroy,
};

pgcm__scan_producer *
pgcm__scan_producer_new(size_t size, const pgcm_format *fmt,
                        long (*read)(pgcm__scan_producer *sp, char *buf, size_t cap))
{
	pgcm__scan_producer *sp = pgcm__calloc(1, size);

	if (!sp)
		return NULL;
	pgcm__producer_init(&sp->base, &scan_producer_ops);
	sp->read = read;
	sp->base.fmt = *fmt;
	if (sp->base.fmt.max_row == 0)
		sp->base.fmt.max_row = (size_t) 1 << 30;
	pgcm__rowscan_init(&sp->scan, &sp->base.fmt);
	return sp;
}

/* ------------------------------------------------------------------------
 * The stream receiver
 * ------------------------------------------------------------------------ */

/* stream_begin: a stream has nothing to send before its data. */
static pgcm_status
stream_begin(pgcm_receiver *r)
{
	(void) r;
	return PGCM_OK;
}

/* write_all: write buf from *done on; PGCM_AGAIN when the descriptor is full. */
static pgcm_status
write_all(pgcm__stream_receiver *sr, const char *buf, size_t len, size_t *done)
{
	while (*done < len) {
		long n = sr->write(sr, buf + *done, len - *done);
		if (n < 0)
			return sr->base.fault_status != PGCM_OK ? sr->base.fault_status : PGCM_ERR_IO;
		if (n == 0)
			return PGCM_AGAIN;
		sr->base.activity++;
		*done += (size_t) n;
	}
	return PGCM_OK;
}

/* write_prologue: the header goes out once, before the first data. */
static pgcm_status
write_prologue(pgcm__stream_receiver *sr)
{
	const pgcm__framing *f = sr->base.framing;
	pgcm_status st;

	if (sr->data_started)
		return PGCM_OK;
	if (f && f->prologue_len) {
		st = write_all(sr, f->prologue, f->prologue_len, &sr->prologue_done);
		if (st != PGCM_OK)
			return st;
	}
	sr->data_started = 1;
	return PGCM_OK;
}

static pgcm_status
stream_put(pgcm_receiver *r, const pgcm__chunk *c, size_t *done)
{
	pgcm__stream_receiver *sr = (pgcm__stream_receiver *) r;
	pgcm_status st = write_prologue(sr);

	if (st != PGCM_OK)
		return st;
	return write_all(sr, c->data, c->len, done);
}

/*
 * stream_pump: a stream takes data whenever asked (its write says when the
 * descriptor is full); after end() the framing's epilogue goes out.
 */
static pgcm_status
stream_pump(pgcm_receiver *r)
{
	pgcm__stream_receiver *sr = (pgcm__stream_receiver *) r;
	const pgcm__framing *f = r->framing;
	pgcm_status st;

	if (sr->broken)
		return r->fault_status != PGCM_OK ? r->fault_status : PGCM_ERR_IO;
	if (!sr->ending)
		return PGCM_OK;
	if (sr->finished)
		return PGCM_DONE;
	st = write_prologue(sr);
	if (st != PGCM_OK)
		return st;
	if (f && f->epilogue_len) {
		st = write_all(sr, f->epilogue, f->epilogue_len, &sr->epilogue_done);
		if (st != PGCM_OK)
			return st;
	}
	sr->finished = 1;
	r->rows_confirmed = r->rows_sent;
	if (sr->close)
		sr->close(sr);
	return PGCM_DONE;
}

static pgcm_status
stream_end(pgcm_receiver *r)
{
	((pgcm__stream_receiver *) r)->ending = 1;
	return PGCM_OK;
}

/* stream_fail: a stream cannot take back what it wrote; the caller owns the descriptor. */
static pgcm_status
stream_fail(pgcm_receiver *r, const char *reason, int64_t deadline_ms)
{
	pgcm__stream_receiver *sr = (pgcm__stream_receiver *) r;

	(void) reason;
	(void) deadline_ms;
	if (sr->close)
		sr->close(sr);
	return PGCM_OK;
}

static int
stream_recoverable(pgcm_receiver *r)
{
	return !((pgcm__stream_receiver *) r)->broken;
}

static void
stream_destroy(pgcm_receiver *r)
{
	pgcm__stream_receiver *sr = (pgcm__stream_receiver *) r;

	if (sr->close)
		sr->close(sr);
}

/* One table for every stream receiver: they differ only in their write() and close(). */
static const pgcm__receiver_ops stream_receiver_ops = {
	.begin = stream_begin,
	.pump = stream_pump,
	.put = stream_put,
	.end = stream_end,
	.fail = stream_fail,
	.recoverable = stream_recoverable,
	.destroy = stream_destroy,
};

pgcm__stream_receiver *
pgcm__stream_receiver_new(size_t size,
                          long (*write)(pgcm__stream_receiver *sr, const char *buf, size_t len),
                          void (*close)(pgcm__stream_receiver *sr))
{
	pgcm__stream_receiver *sr = pgcm__calloc(1, size);

	if (!sr)
		return NULL;
	pgcm__receiver_init(&sr->base, &stream_receiver_ops);
	sr->write = write;
	sr->close = close;
	return sr;
}
