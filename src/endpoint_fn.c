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

/*
 * fn_read: the callback's answer.  PGCM_READ_AGAIN (nothing yet) has no
 * descriptor to wait on: the copy tries again soon (pgcm_copy_timeout_ms).
 */
static long
fn_read(pgcm__scan_producer *sp, char *buf, size_t cap)
{
	fn_producer *fp = (fn_producer *) sp;
	long n = fp->read_cb(fp->arg, buf, cap);

	if (n == PGCM_READ_AGAIN) {
		pgcm__wait_on(&sp->base.wait, -1, 0);
		return -2;
	}
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

/* The null producer: a stream that ends at once. */
static long
null_read(pgcm__scan_producer *sp, char *buf, size_t cap)
{
	(void) sp;
	(void) buf;
	(void) cap;
	return 0;
}

pgcm_producer *
pgcm_producer_null(void)
{
	pgcm_format fmt;
	pgcm__scan_producer *sp;

	pgcm_format_init(&fmt, PGCM_FORMAT_TEXT);
	sp = pgcm__scan_producer_new(sizeof *sp, &fmt, null_read);
	return sp ? &sp->base : NULL;
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
		pgcm__receiver_error(&sr->base, PGCM_ERR_CALLBACK, NULL, 0,
		                     "the write callback failed (returned %d)", rc);
		return -1;
	}
	return (long) len;
}

pgcm_receiver *
pgcm_receiver_fn(pgcm_write_cb write_cb, void *arg)
{
	fn_receiver *fr;

	if (!write_cb)
		return NULL;
	fr = (fn_receiver *) pgcm__stream_receiver_new(sizeof *fr, fn_write, NULL);
	if (!fr)
		return NULL;
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
	pgcm__stream_receiver *sr = pgcm__stream_receiver_new(sizeof *sr, null_write, NULL);

	return sr ? &sr->base : NULL;
}
