/*
 * codec.c: compressed files read and written as streams (see codec.h): the
 * file side of each direction -- buffers, reads and writes, and what a cut
 * or corrupt file is called -- over one codec's operations (codec_int.h).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "codec.h"
#include "codec_int.h"
#include "strbuf.h"

static const struct {
	const char *ext;
	codec_kind kind;
} extensions[] = {{".gz", CODEC_GZIP}, {".zst", CODEC_ZSTD}, {".lz4", CODEC_LZ4}};

static const codec_ops *
ops_of(codec_kind kind)
{
	switch (kind) {
	case CODEC_GZIP: return &codec_zlib_ops;
	case CODEC_ZSTD: return &codec_zstd_ops;
	case CODEC_LZ4: return &codec_lz4_ops;
	default: return NULL;
	}
}

codec_kind
codec_for_path(const char *path)
{
	size_t n = path ? strlen(path) : 0;

	for (size_t i = 0; i < sizeof extensions / sizeof extensions[0]; i++) {
		size_t e = strlen(extensions[i].ext);
		if (n > e && strcasecmp(path + n - e, extensions[i].ext) == 0)
			return extensions[i].kind;
	}
	return CODEC_NONE;
}

const char *
codec_name(codec_kind kind)
{
	return ops_of(kind) ? ops_of(kind)->name : "none";
}

void
codec_levels(codec_kind kind, int *min, int *max, int *def)
{
	const codec_ops *ops = ops_of(kind);

	*min = ops ? ops->level_min : 0;
	*max = ops ? ops->level_max : 0;
	*def = ops ? ops->level_default : 0;
}

/* ------------------------------------------------------------------------
 * Reading
 * ------------------------------------------------------------------------ */

struct codec_reader {
	const codec_ops *ops;
	void *st;
	int fd;
	char *path;
	char *in;                 /* CODEC_BUF_SIZE bytes of the file */
	size_t in_len, in_pos;
	uint64_t in_total;        /* bytes of the file read so far */
	int eof;
	int ended;                /* the last stream ended where the input now stands */
	char *error;
};

codec_reader *
codec_reader_new(codec_kind kind, int fd, const char *path)
{
	codec_reader *r = calloc(1, sizeof *r);

	if (!r)
		return NULL;
	r->ops = ops_of(kind);
	r->fd = fd;
	r->path = strdup(path);
	r->in = malloc(CODEC_BUF_SIZE);
	r->st = r->ops ? r->ops->dnew() : NULL;
	if (!r->path || !r->in || !r->st) {
		codec_reader_free(r);
		return NULL;
	}
	return r;
}

/* reader_fail: remember why (naming the file and where it stands); -1 for the read callback. */
static long reader_fail(codec_reader *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static long
reader_fail(codec_reader *r, const char *fmt, ...)
{
	cli_buf b;
	va_list ap;

	if (r->error)
		return -1;
	cli_buf_init(&b);
	cli_buf_addf(&b, "file %s: ", r->path);
	va_start(ap, fmt);
	cli_buf_vaddf(&b, fmt, ap);
	va_end(ap);
	cli_buf_addf(&b, " (%s file, at byte %llu of it); nothing of it is loaded", r->ops->name,
	             (unsigned long long) r->in_total);
	r->error = cli_buf_take(&b);
	return -1;
}

long
codec_read(void *arg, char *buf, size_t cap)
{
	codec_reader *r = arg;
	size_t produced = 0;

	if (r->error)
		return -1;
	while (produced == 0 && cap > 0) {
		size_t before;
		int end = 0;
		const char *why = NULL;

		if (r->in_pos == r->in_len && !r->eof) {
			ssize_t n = read(r->fd, r->in, CODEC_BUF_SIZE);
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0)
				return reader_fail(r, "read: %s", strerror(errno));
			r->in_len = (size_t) n;
			r->in_pos = 0;
			r->in_total += (uint64_t) n;
			r->eof = n == 0;
		}
		/* A stream that ended with the file is the only good end. */
		if (r->in_pos == r->in_len && r->eof && r->ended)
			return 0;
		before = r->in_pos;
		/* At the end of the file the codec is still asked once: it may hold output back. */
		if (r->ops->dstep(r->st, r->in, r->in_len, &r->in_pos, buf, cap, &produced, &end, &why) < 0)
			return reader_fail(r, "corrupt: %s", why ? why : "invalid data");
		if (end)
			r->ended = 1;
		else if (r->in_pos > before)
			r->ended = 0;   /* the next stream has begun */
		if (produced || end || r->in_pos > before)
			continue;
		if (r->in_pos == r->in_len && r->eof)
			return reader_fail(r, r->in_total ? "truncated: the compressed data ends before its end mark"
			                                  : "empty: not even a compressed stream's header");
		return reader_fail(r, "corrupt: the decompressor makes no progress");
	}
	return (long) produced;
}

const char *
codec_reader_error(const codec_reader *r)
{
	return r && r->error ? r->error : "";
}

void
codec_reader_free(codec_reader *r)
{
	if (!r)
		return;
	if (r->st)
		r->ops->dfree(r->st);
	free(r->in);
	free(r->path);
	free(r->error);
	free(r);
}

/* ------------------------------------------------------------------------
 * Writing
 * ------------------------------------------------------------------------ */

struct codec_writer {
	const codec_ops *ops;
	void *st;
	int fd;
	char *path;
	char *out;                /* CODEC_BUF_SIZE bytes of compressed data not written yet */
	size_t out_len;
	int finished;
	char *error;
};

/* writer_fail: remember why, naming the file; -1. */
static int
writer_fail(codec_writer *w, const char *what, const char *why)
{
	if (!w->error) {
		cli_buf b;
		cli_buf_init(&b);
		cli_buf_addf(&b, "file %s: %s: %s", w->path, what, why);
		w->error = cli_buf_take(&b);
	}
	return -1;
}

codec_writer *
codec_writer_new(codec_kind kind, int fd, int level, const char *path, char **err)
{
	codec_writer *w = calloc(1, sizeof *w);
	const char *why = "out of memory";

	*err = NULL;
	if (!w)
		return NULL;
	w->ops = ops_of(kind);
	w->fd = fd;
	w->path = strdup(path);
	w->out = malloc(CODEC_BUF_SIZE);
	if (w->ops && w->path && w->out)
		w->st = w->ops->cnew(level, &why);
	if (!w->st) {
		if (strcmp(why, "out of memory") != 0) {
			cli_buf b;
			cli_buf_init(&b);
			cli_buf_addf(&b, "%s: %s", path, why);
			*err = cli_buf_take(&b);
		}
		codec_writer_free(w);
		return NULL;
	}
	return w;
}

/* flush_out: write the buffer to the file, all of it. */
static int
flush_out(codec_writer *w)
{
	size_t at = 0;

	while (at < w->out_len) {
		ssize_t n = write(w->fd, w->out + at, w->out_len - at);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return writer_fail(w, "write", strerror(errno));
		at += (size_t) n;
	}
	w->out_len = 0;
	return 0;
}

/* pump: compress buf (with finish: and end the stream), writing out the buffer each time it fills. */
static int
pump(codec_writer *w, const char *buf, size_t len, int finish)
{
	size_t pos = 0;
	int done = 0;

	if (w->error)
		return -1;
	while (pos < len || (finish && !done)) {
		const char *why = NULL;
		size_t was = pos, had = w->out_len;

		if (w->out_len == CODEC_BUF_SIZE && flush_out(w) < 0)
			return -1;
		if (w->ops->cstep(w->st, buf, len, &pos, w->out, CODEC_BUF_SIZE, &w->out_len, finish, &done, &why) < 0)
			return writer_fail(w, "compressing", why ? why : "error");
		/* No room was the only reason for no progress: make room (none to make: a codec error). */
		if (pos == was && w->out_len == had && !done) {
			if (w->out_len == 0)
				return writer_fail(w, "compressing", "the compressor makes no progress");
			if (flush_out(w) < 0)
				return -1;
		}
	}
	return 0;
}

int
codec_write(void *arg, const char *buf, size_t len)
{
	codec_writer *w = arg;

	return pump(w, buf, len, 0) < 0 ? -1 : 0;
}

int
codec_writer_finish(void *arg, char **err)
{
	codec_writer *w = arg;

	*err = NULL;
	if (!w->finished && (pump(w, "", 0, 1) < 0 || flush_out(w) < 0)) {
		*err = strdup(codec_writer_error(w));
		return 0;
	}
	w->finished = 1;
	return 1;
}

const char *
codec_writer_error(const codec_writer *w)
{
	return w && w->error ? w->error : "";
}

void
codec_writer_free(codec_writer *w)
{
	if (!w)
		return;
	if (w->st)
		w->ops->cfree(w->st);
	free(w->out);
	free(w->path);
	free(w->error);
	free(w);
}
