/*
 * codec_zlib.c: gzip files through zlib (deflate/inflate with the gzip
 * wrapper: a CRC-32 and the length at the end of each member).
 */
#define ZLIB_CONST
#include <stdlib.h>
#include <zlib.h>

#include "codec_int.h"

/* Avail counts are 32-bit in zlib: a step takes at most this much. */
#define STEP_MAX ((size_t) 1 << 30)

static uInt
clamp(size_t n)
{
	return (uInt) (n < STEP_MAX ? n : STEP_MAX);
}

/* zmsg: zlib's message, or a word for the code. */
static const char *
zmsg(const z_stream *z, int rc)
{
	if (z->msg)
		return z->msg;
	return rc == Z_MEM_ERROR ? "out of memory" : rc == Z_DATA_ERROR ? "invalid data" : "zlib error";
}

/*
 * gz_step: one inflate or deflate call (fn) over the caller's buffers and
 * positions; flush: its flush argument.  Returns zlib's code.
 */
static int
gz_step(z_stream *z, int (*fn)(z_streamp, int), int flush, const char *in, size_t in_len, size_t *in_pos,
        char *out, size_t cap, size_t *out_pos)
{
	int rc;

	z->next_in = (const Bytef *) in + *in_pos;
	z->avail_in = clamp(in_len - *in_pos);
	z->next_out = (Bytef *) out + *out_pos;
	z->avail_out = clamp(cap - *out_pos);
	/* Z_FINISH only once every byte is given: it ends the stream. */
	if (flush == Z_FINISH && *in_pos + z->avail_in != in_len)
		flush = Z_NO_FLUSH;
	rc = fn(z, flush);
	*in_pos = (size_t) ((const char *) z->next_in - in);
	*out_pos = (size_t) ((char *) z->next_out - out);
	return rc;
}

/* gz_result: 0 for a step that went on (or ended the stream: *end), -1 with *err. */
static int
gz_result(z_stream *z, int rc, int *end, const char **err)
{
	if (rc == Z_STREAM_END)
		*end = 1;
	if (rc == Z_STREAM_END || rc == Z_OK || rc == Z_BUF_ERROR)
		return 0;
	*err = zmsg(z, rc);
	return -1;
}

static void *
gz_dnew(void)
{
	z_stream *z = calloc(1, sizeof *z);

	/* 15 + 16: a gzip wrapper, the largest window. */
	if (z && inflateInit2(z, 15 + 16) != Z_OK) {
		free(z);
		return NULL;
	}
	return z;
}

static int
gz_dstep(void *st, const char *in, size_t in_len, size_t *in_pos, char *out, size_t cap,
         size_t *out_pos, int *end, const char **err)
{
	z_stream *z = st;
	int rc = gz_step(z, inflate, Z_NO_FLUSH, in, in_len, in_pos, out, cap, out_pos);

	/* Another member may follow (`cat a.gz b.gz`). */
	if (rc == Z_STREAM_END && inflateReset(z) != Z_OK) {
		*err = "cannot reset the decompressor";
		return -1;
	}
	return gz_result(z, rc, end, err);
}

static void
gz_dfree(void *st)
{
	if (st)
		inflateEnd(st);
	free(st);
}

static void *
gz_cnew(int level, const char **err)
{
	z_stream *z = calloc(1, sizeof *z);

	if (!z) {
		*err = "out of memory";
		return NULL;
	}
	if (deflateInit2(z, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
		*err = "cannot start the gzip compressor";
		free(z);
		return NULL;
	}
	return z;
}

static int
gz_cstep(void *st, const char *in, size_t in_len, size_t *in_pos, char *out, size_t cap,
         size_t *out_pos, int finish, int *done, const char **err)
{
	z_stream *z = st;
	int rc = gz_step(z, deflate, finish ? Z_FINISH : Z_NO_FLUSH, in, in_len, in_pos, out, cap, out_pos);

	return gz_result(z, rc, done, err);
}

static void
gz_cfree(void *st)
{
	if (st)
		deflateEnd(st);
	free(st);
}

const codec_ops codec_zlib_ops = {
	.name = "gzip", .level_min = 1, .level_max = 9, .level_default = 6,
	.dnew = gz_dnew, .dstep = gz_dstep, .dfree = gz_dfree,
	.cnew = gz_cnew, .cstep = gz_cstep, .cfree = gz_cfree,
};
