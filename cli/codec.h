/*
 * codec.h: compressed files: file:orders.csv.gz, .zst and .lz4 are read and
 * written compressed (zlib's gzip, libzstd, liblz4 frames), chosen by the
 * file name's extension.
 *
 * Both directions stream: a reader decompresses as the copy asks for bytes
 * (a pgcm_read_cb for pgcm_producer_fn), a writer compresses what the copy
 * hands it (a pgcm_write_cb for pgcm_receiver_fn) into a fixed buffer
 * written to the file as it fills.  A regular file never blocks, so the
 * callbacks run in the copy's own event loop.  Memory is the codec's own
 * state (fixed by the level: from a few hundred kB for gzip to about 100 MB
 * for zstd level 19; reading zstd, the frame's window, at most 128 MB) and
 * two 256 kB buffers -- never more with more data.
 *
 * A compressed stream must end with its end mark: a file cut short, or one
 * whose checksum or structure is wrong, is an error naming the file (zstd
 * and lz4 frames are written with content checksums, lz4 blocks with block
 * checksums; gzip always carries a CRC).  Several streams one after the
 * other (`cat a.gz b.gz`) read as one.
 */
#ifndef PGCM_CLI_CODEC_H
#define PGCM_CLI_CODEC_H

#include <stddef.h>

typedef enum codec_kind { CODEC_NONE = 0, CODEC_GZIP, CODEC_ZSTD, CODEC_LZ4 } codec_kind;

/* codec_for_path: the codec a file name asks for by its extension (.gz, .zst, .lz4, any case). */
codec_kind codec_for_path(const char *path);

/* codec_name: "gzip", "zstd", "lz4" ("none" for CODEC_NONE). */
const char *codec_name(codec_kind kind);

/* codec_levels: the compression levels kind takes, and its default. */
void codec_levels(codec_kind kind, int *min, int *max, int *def);

typedef struct codec_reader codec_reader;
typedef struct codec_writer codec_writer;

/*
 * codec_reader_new: decompress what fd (a file; stays the caller's) holds;
 * path names it in messages (copied).  NULL when out of memory.  Free with
 * codec_reader_free().
 *
 * codec_read: a pgcm_read_cb (arg is the reader): up to cap bytes of the
 * decompressed data; 0 at its end; -1 on a read error, corrupt or truncated
 * data (codec_reader_error() says what, naming the file).
 */
codec_reader *codec_reader_new(codec_kind kind, int fd, const char *path);
long codec_read(void *arg, char *buf, size_t cap);
const char *codec_reader_error(const codec_reader *r);  /* "" while none */
void codec_reader_free(codec_reader *r);

/*
 * codec_writer_new: compress into fd (stays the caller's) at level (one of
 * codec_levels()); path names it in messages (copied).  NULL with *err
 * (malloc'd; NULL when out of memory) when the codec cannot start.
 *
 * codec_write: a pgcm_write_cb (arg is the writer): compress len bytes,
 * writing out what the buffer cannot hold.  0, or -1 (codec_writer_error()).
 *
 * codec_writer_finish: end the stream (its end mark and checksum) and write
 * everything out; for file_target_set_finish().  1, or 0 with *err (malloc'd).
 */
codec_writer *codec_writer_new(codec_kind kind, int fd, int level, const char *path, char **err);
int codec_write(void *arg, const char *buf, size_t len);
int codec_writer_finish(void *arg, char **err);
const char *codec_writer_error(const codec_writer *w);  /* "" while none */
void codec_writer_free(codec_writer *w);

#endif
