/*
 * endpoint_fn.c: callback and null endpoints, built on the stream machinery
 * of endpoint_stream.c.
 */
#include <string.h>

#include "internal.h"

/* The callback producer. */
typedef struct fn_producer {
	pgcm__scan_producer scan;
	pgcm_read_cb read_cb;
	void *arg;
} fn_producer;

static long
fn_read(pgcm__scan_producer *sp, char *buf, size_t cap)
{
	fn_producer *fp = (fn_producer *) sp;
	long n = fp->read_cb(fp->arg, buf, cap);

	if (n < 0 || (size_t) n > cap) {
		pgcm__producer_error(&sp->base, NULL, "the read callback failed (returned %ld)", n);
		return -1;
	}
	return n;
}


pgcm_producer *
pgcm_producer_fn(pgcm_read_cb read_cb, void *arg, const pgcm_format *fmt)
{
	fn_producer *fp;

	if (!read_cb || !fmt)
		return NULL;
	fp = (fn_producer *) pgcm__scan_producer_new(sizeof *fp, fmt, fn_read);
	if (!fp)
		return NULL;
	fp->read_cb = read_cb;
	fp->arg = arg;
	return &fp->scan.base;
}

/* The null producer: no rows, at once. */
static pgcm_status
null_produce(pgcm_producer *p, pgcm__chunk *c, size_t target)
{
	(void) c;
	(void) target;
	p->framing.prologue_known = 1;
	return PGCM_DONE;
}

static void
null_producer_destroy(pgcm_producer *p)
{
	(void) p;
}

static const pgcm__producer_ops null_producer_ops = {
	.begin = pgcm__stream_producer_begin,
	.produce = null_produce,
	.abort = pgcm__scan_abort,
	.destroy = null_producer_destroy,
};

pgcm_producer *
pgcm_producer_null(void)
{
	pgcm_producer *p = pgcm__calloc(1, sizeof *p);

	if (!p)
		return NULL;
	p->ops = &null_producer_ops;
	p->wait.fd = -1;
	pgcm_format_init(&p->fmt, PGCM_FORMAT_TEXT);
	return p;
}

/* The callback receiver: all or nothing per call. */
typedef struct fn_receiver {
	pgcm__stream_receiver stream;
	pgcm_write_cb write_cb;
	void *arg;
} fn_receiver;

static long
fn_write(pgcm__stream_receiver *sr, const char *buf, size_t len)
{
	fn_receiver *fr = (fn_receiver *) sr;
	int rc = fr->write_cb(fr->arg, buf, len);

	if (rc != 0) {
		pgcm__receiver_error(&sr->base, PGCM_ERR_CALLBACK, NULL,
		                     "the write callback failed (returned %d)", rc);
		return -1;
	}
	return (long) len;
}

static const pgcm__receiver_ops fn_receiver_ops = {
	.begin = pgcm__stream_begin,
	.pump = pgcm__stream_pump,
	.put = pgcm__stream_put,
	.end = pgcm__stream_end,
	.fail = pgcm__stream_fail,
	.recoverable = pgcm__stream_recoverable,
	.destroy = pgcm__stream_destroy,
};

pgcm_receiver *
pgcm_receiver_fn(pgcm_write_cb write_cb, void *arg)
{
	fn_receiver *fr;

	if (!write_cb)
		return NULL;
	fr = pgcm__calloc(1, sizeof *fr);
	if (!fr)
		return NULL;
	pgcm__stream_receiver_init(&fr->stream, &fn_receiver_ops);
	fr->stream.write = fn_write;
	fr->write_cb = write_cb;
	fr->arg = arg;
	return &fr->stream.base;
}

/* The null receiver: takes everything. */
static long
null_write(pgcm__stream_receiver *sr, const char *buf, size_t len)
{
	(void) sr;
	(void) buf;
	return (long) len;
}

pgcm_receiver *
pgcm_receiver_null(void)
{
	pgcm__stream_receiver *sr = pgcm__calloc(1, sizeof *sr);

	if (!sr)
		return NULL;
	pgcm__stream_receiver_init(sr, &fn_receiver_ops);
	sr->write = null_write;
	return &sr->base;
}
