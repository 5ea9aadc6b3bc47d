/*
 * codec_lz4.c: .lz4 files through liblz4's frame API (the lz4 command's
 * format), written with block and content checksums.  The frame API wants
 * room for a whole compressed block in the output: input is given to it in
 * blocks of 64 kB, each only when the output has room for its worst case.
 */
#include <stdlib.h>
#include <lz4frame.h>

#include "codec_int.h"

#define LZ4_STEP ((size_t) 64 * 1024)

typedef struct lz4_writer {
	LZ4F_cctx *cctx;
	LZ4F_preferences_t prefs;
	int begun;
	int ended;
} lz4_writer;

static void *
lz4_dnew(void)
{
	LZ4F_dctx *d = NULL;

	if (LZ4F_isError(LZ4F_createDecompressionContext(&d, LZ4F_VERSION)))
		return NULL;
	return d;
}

static int
lz4_dstep(void *st, const char *in, size_t in_len, size_t *in_pos, char *out, size_t cap,
          size_t *out_pos, int *end, const char **err)
{
	size_t src = in_len - *in_pos, dst = cap - *out_pos;
	size_t hint = LZ4F_decompress(st, out + *out_pos, &dst, in + *in_pos, &src, NULL);

	*in_pos += src;
	*out_pos += dst;
	if (LZ4F_isError(hint)) {
		*err = LZ4F_getErrorName(hint);
		return -1;
	}
	/* 0: the frame is complete (checksums verified); the next frame, if any, starts fresh. */
	if (hint == 0)
		*end = 1;
	return 0;
}

static void
lz4_dfree(void *st)
{
	LZ4F_freeDecompressionContext(st);
}

static void *
lz4_cnew(int level, const char **err)
{
	lz4_writer *w = calloc(1, sizeof *w);

	if (!w) {
		*err = "out of memory";
		return NULL;
	}
	if (LZ4F_isError(LZ4F_createCompressionContext(&w->cctx, LZ4F_VERSION))) {
		*err = "cannot start the lz4 compressor";
		free(w);
		return NULL;
	}
	w->prefs.compressionLevel = level;
	w->prefs.frameInfo.blockSizeID = LZ4F_max64KB;
	w->prefs.frameInfo.contentChecksumFlag = LZ4F_contentChecksumEnabled;
	w->prefs.frameInfo.blockChecksumFlag = LZ4F_blockChecksumEnabled;
	return w;
}

static int
lz4_cstep(void *st, const char *in, size_t in_len, size_t *in_pos, char *out, size_t cap,
          size_t *out_pos, int finish, int *done, const char **err)
{
	lz4_writer *w = st;
	size_t rc;

	if (!w->begun) {
		if (cap - *out_pos < LZ4F_HEADER_SIZE_MAX)
			return 0;
		rc = LZ4F_compressBegin(w->cctx, out + *out_pos, cap - *out_pos, &w->prefs);
		if (LZ4F_isError(rc))
			goto fail;
		*out_pos += rc;
		w->begun = 1;
	}
	while (*in_pos < in_len) {
		size_t n = in_len - *in_pos < LZ4_STEP ? in_len - *in_pos : LZ4_STEP;

		if (cap - *out_pos < LZ4F_compressBound(n, &w->prefs))
			return 0;   /* the caller writes the buffer out and comes back */
		rc = LZ4F_compressUpdate(w->cctx, out + *out_pos, cap - *out_pos, in + *in_pos, n, NULL);
		if (LZ4F_isError(rc))
			goto fail;
		*out_pos += rc;
		*in_pos += n;
	}
	if (finish && !w->ended) {
		if (cap - *out_pos < LZ4F_compressBound(0, &w->prefs))
			return 0;
		rc = LZ4F_compressEnd(w->cctx, out + *out_pos, cap - *out_pos, NULL);
		if (LZ4F_isError(rc))
			goto fail;
		*out_pos += rc;
		w->ended = 1;
	}
	if (finish)
		*done = w->ended;
	return 0;
fail:
	*err = LZ4F_getErrorName(rc);
	return -1;
}

static void
lz4_cfree(void *st)
{
	lz4_writer *w = st;

	if (!w)
		return;
	LZ4F_freeCompressionContext(w->cctx);
	free(w);
}

const codec_ops codec_lz4_ops = {
	.name = "lz4", .level_min = 1, .level_max = 12, .level_default = 1,
	.dnew = lz4_dnew, .dstep = lz4_dstep, .dfree = lz4_dfree,
	.cnew = lz4_cnew, .cstep = lz4_cstep, .cfree = lz4_cfree,
};
