/*
 * copy_compress.c: compressed file: endpoints (codec.h): the codec a file
 * name asks for, --compress checked against it before anything connects,
 * and the reader or writer put between the copy and the file.  A compressed
 * target keeps the file-target guarantees: it is written unseen and put in
 * place on success only (file_target.c), its stream's end mark written just
 * before.
 */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "copy.h"

int
copy_compress_check(const copy_opts *o, const copy_endpoint *dst)
{
	int any = 0;

	for (int i = 0; i < o->nto; i++) {
		int min, max, def;

		if (dst[i].codec == CODEC_NONE)
			continue;
		any = 1;
		codec_levels(dst[i].codec, &min, &max, &def);
		if (o->compress && (o->compress_level < min || o->compress_level > max)) {
			cli_error("--compress %d is out of range for target %d (%s): %s takes levels %d to %d "
			          "(default %d)", o->compress_level, i + 1, dst[i].spec, codec_name(dst[i].codec), min,
			          max, def);
			return 0;
		}
	}
	if (o->compress && !any) {
		cli_error("--compress applies to a compressed file target (file:NAME.gz, .zst or .lz4)");
		return 0;
	}
	return 1;
}

int
copy_compress_source(copy_endpoint *src)
{
	if (src->codec == CODEC_NONE)
		return 1;
	if (!(src->reader = codec_reader_new(src->codec, src->fd, src->spec + 5))) {
		cli_error("out of memory");
		return 0;
	}
	return 1;
}

int
copy_compress_target(copy_endpoint *e, const copy_opts *o)
{
	int min, max, level;
	char *err = NULL;

	if (e->codec == CODEC_NONE)
		return 1;
	codec_levels(e->codec, &min, &max, &level);
	if (o->compress)
		level = o->compress_level;
	if (!(e->writer = codec_writer_new(e->codec, e->fd, level, e->path, &err))) {
		cli_error("target %s: %s", e->label, err ? err : "out of memory");
		free(err);
		return 0;
	}
	file_target_set_finish(e->file, codec_writer_finish, e->writer);
	return 1;
}
