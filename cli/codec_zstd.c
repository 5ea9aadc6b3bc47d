/*
 * codec_zstd.c: .zst files through libzstd's streaming API, frames written
 * with a content checksum.
 */
#include <zstd.h>

#include "codec_int.h"

static void *
zst_dnew(void)
{
	return ZSTD_createDStream();
}

static int
zst_dstep(void *st, const char *in, size_t in_len, size_t *in_pos, char *out, size_t cap,
          size_t *out_pos, int *end, const char **err)
{
	ZSTD_inBuffer ib = {in, in_len, *in_pos};
	ZSTD_outBuffer ob = {out, cap, *out_pos};
	size_t rc = ZSTD_decompressStream(st, &ob, &ib);

	*in_pos = ib.pos;
	*out_pos = ob.pos;
	if (ZSTD_isError(rc)) {
		*err = ZSTD_getErrorName(rc);
		return -1;
	}
	/* 0: a frame is decoded and flushed whole; the next one, if any, starts fresh. */
	if (rc == 0)
		*end = 1;
	return 0;
}

static void
zst_dfree(void *st)
{
	ZSTD_freeDStream(st);
}

static void *
zst_cnew(int level, const char **err)
{
	ZSTD_CCtx *c = ZSTD_createCCtx();

	if (!c) {
		*err = "out of memory";
		return NULL;
	}
	if (ZSTD_isError(ZSTD_CCtx_setParameter(c, ZSTD_c_compressionLevel, level))
	    || ZSTD_isError(ZSTD_CCtx_setParameter(c, ZSTD_c_checksumFlag, 1))) {
		*err = "cannot set the zstd compressor's level";
		ZSTD_freeCCtx(c);
		return NULL;
	}
	return c;
}

static int
zst_cstep(void *st, const char *in, size_t in_len, size_t *in_pos, char *out, size_t cap,
          size_t *out_pos, int finish, int *done, const char **err)
{
	ZSTD_inBuffer ib = {in, in_len, *in_pos};
	ZSTD_outBuffer ob = {out, cap, *out_pos};
	size_t rc = ZSTD_compressStream2(st, &ob, &ib, finish ? ZSTD_e_end : ZSTD_e_continue);

	*in_pos = ib.pos;
	*out_pos = ob.pos;
	if (ZSTD_isError(rc)) {
		*err = ZSTD_getErrorName(rc);
		return -1;
	}
	/* With ZSTD_e_end, 0 means the frame is complete and flushed. */
	if (finish && rc == 0)
		*done = 1;
	return 0;
}

static void
zst_cfree(void *st)
{
	ZSTD_freeCCtx(st);
}

const codec_ops codec_zstd_ops = {
	.name = "zstd", .level_min = 1, .level_max = 19, .level_default = 3,
	.dnew = zst_dnew, .dstep = zst_dstep, .dfree = zst_dfree,
	.cnew = zst_cnew, .cstep = zst_cstep, .cfree = zst_cfree,
};
