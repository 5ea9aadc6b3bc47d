/*
 * codec_int.h: what each compression library provides to codec.c: one
 * table of operations per codec (codec_zlib.c, codec_zstd.c, codec_lz4.c).
 * The steps work on caller buffers with positions, as zlib's and zstd's
 * streaming calls do; codec.c owns the buffers and the file.
 */
#ifndef PGCM_CLI_CODEC_INT_H
#define PGCM_CLI_CODEC_INT_H

#include <stddef.h>

typedef struct codec_ops {
	const char *name;
	int level_min, level_max, level_default;

	/* A decompressor, or NULL when out of memory. */
	void *(*dnew)(void);
	/*
	 * dstep: decompress from in[*in_pos..in_len) into out[*out_pos..cap),
	 * advancing both positions.  *end is set to 1 when a whole stream (a gzip
	 * member, a frame) ended with this step.  Returns 0, or -1 with *err
	 * (static) on corrupt data or out of memory.
	 */
	int (*dstep)(void *st, const char *in, size_t in_len, size_t *in_pos, char *out, size_t cap,
	             size_t *out_pos, int *end, const char **err);
	void (*dfree)(void *st);

	/* A compressor at level, or NULL with *err (static). */
	void *(*cnew)(int level, const char **err);
	/*
	 * cstep: compress in[*in_pos..in_len) into out[*out_pos..cap); with
	 * finish, also end the stream: *done is set to 1 once everything, the end
	 * mark included, is in out.  Stops when the input is taken (and, with
	 * finish, done) or out is full.  Returns 0, or -1 with *err (static).
	 */
	int (*cstep)(void *st, const char *in, size_t in_len, size_t *in_pos, char *out, size_t cap,
	             size_t *out_pos, int finish, int *done, const char **err);
	void (*cfree)(void *st);
} codec_ops;

extern const codec_ops codec_zlib_ops;
extern const codec_ops codec_zstd_ops;
extern const codec_ops codec_lz4_ops;

/* Buffers: the size of the compressed side's buffer, in and out. */
#define CODEC_BUF_SIZE (256 * 1024)

#endif
