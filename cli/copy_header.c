/*
 * copy_header.c: the CSV header line of a file or stdin source, read ahead
 * so the plan can compare it with the column list before any data moves.
 *
 * A regular file (also stdin redirected from one) is read from where it
 * stands and put back there: the copy then reads the header again, as the
 * first line of its stream.  A pipe cannot be put back: the caller reads it
 * only for --dry-run (which copies nothing), and otherwise lets the targets
 * compare the header themselves (HEADER MATCH, PostgreSQL 15).  A compressed
 * file's header is read by a decompressor of its own.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "copy.h"

#define HEADER_MAX (1 << 20)

int
copy_fd_rewindable(int fd)
{
	struct stat st;

	return fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && lseek(fd, 0, SEEK_CUR) >= 0;
}

/*
 * record_end: the length of the first CSV record in buf[0..len) with its
 * line end, or 0 when it has not ended yet.  A line end inside quotes is
 * data; inside quotes the escape character takes the next one as it is.
 */
static size_t
record_end(const char *buf, size_t len, char quote, char escape)
{
	int quoted = 0;

	for (size_t i = 0; i < len; i++) {
		char c = buf[i];
		if (quoted && c == escape && escape != quote && i + 1 < len) {
			i++;
			continue;
		}
		if (c == quote)
			quoted = !quoted;
		else if (c == '\n' && !quoted)
			return i + 1;
	}
	return 0;
}

/*
 * copy_read_header: the first CSV record of fd into *line (malloc'd, *len
 * bytes).  A rewindable fd is read in blocks and put back; otherwise one
 * byte at a time, so that nothing past the header is consumed.  Returns 1,
 * or 0 with the reason printed.
 */
int
copy_read_header(int fd, char quote, char escape, char **line, size_t *len)
{
	int rewind_ok = copy_fd_rewindable(fd);
	off_t start = rewind_ok ? lseek(fd, 0, SEEK_CUR) : 0;
	size_t cap = 4096, have = 0, end = 0;
	char *buf = malloc(cap);

	if (!buf) {
		cli_error("out of memory");
		return 0;
	}
	while (!end) {
		ssize_t n;
		if (have == cap) {
			char *b = cap >= HEADER_MAX ? NULL : realloc(buf, cap * 2);
			if (!b) {
				cli_error("the CSV header line is longer than %d bytes", HEADER_MAX);
				free(buf);
				return 0;
			}
			buf = b;
			cap *= 2;
		}
		n = read(fd, buf + have, rewind_ok ? cap - have : 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			cli_error("reading the CSV header: %s", strerror(errno));
			free(buf);
			return 0;
		}
		if (n == 0) {
			end = have;  /* a header without a line end, or no data at all */
			break;
		}
		have += (size_t) n;
		end = record_end(buf, have, quote, escape);
	}
	if (rewind_ok && lseek(fd, start, SEEK_SET) != start) {
		cli_error("cannot read the source again after its header: %s", strerror(errno));
		free(buf);
		return 0;
	}
	*line = buf;
	*len = end;
	return 1;
}

/*
 * copy_read_header_codec: the first CSV record of compressed file path,
 * decompressed by a reader of its own (the copy's reader then starts from
 * the top, header included, as after a rewind).  Returns 1, or 0 with the
 * reason printed.
 */
int
copy_read_header_codec(codec_kind kind, const char *path, char quote, char escape, char **line,
                       size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	codec_reader *r = fd >= 0 ? codec_reader_new(kind, fd, path) : NULL;
	size_t cap = 4096, have = 0, end = 0;
	char *buf = r ? malloc(cap) : NULL;
	int ok = 0;

	if (fd < 0) {
		cli_error("cannot read \"%s\": %s", path, strerror(errno));
		return 0;
	}
	while (buf && !end) {
		long n;
		if (have == cap) {
			char *b = cap >= HEADER_MAX ? NULL : realloc(buf, cap * 2);
			if (!b) {
				cli_error("the CSV header line is longer than %d bytes", HEADER_MAX);
				goto cleanup;
			}
			buf = b;
			cap *= 2;
		}
		n = codec_read(r, buf + have, cap - have);
		if (n < 0) {
			cli_error("reading the CSV header: %s", codec_reader_error(r));
			goto cleanup;
		}
		if (n == 0) {
			end = have;
			break;
		}
		have += (size_t) n;
		end = record_end(buf, have, quote, escape);
	}
	if (!buf) {
		cli_error("out of memory");
		goto cleanup;
	}
	*line = buf;
	*len = end;
	buf = NULL;
	ok = 1;
cleanup:
	free(buf);
	codec_reader_free(r);
	close(fd);
	return ok;
}
