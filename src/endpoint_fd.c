/*
 * endpoint_fd.c: producers and receivers on file descriptors: files, pipes,
 * stdin and stdout.  Reads happen only when poll() says the descriptor is
 * readable, so a pipe never blocks the loop.  A pipe or terminal receiver is
 * put into non-blocking mode for the copy (restored afterwards), since a
 * blocking write of a whole chunk to a full pipe would stall every other
 * endpoint; a regular file is written directly.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

typedef struct fd_producer {
	pgcm__scan_producer scan;
	int fd;
} fd_producer;

/*
 * fd_read: read what is there now; -2 (wait for POLLIN) when nothing is.
 * What the copy's poll() said decides when it looked; otherwise a
 * zero-timeout poll() does, so that a quiet pipe never blocks the step.
 */
static long
fd_read(pgcm__scan_producer *sp, char *buf, size_t cap)
{
	fd_producer *fp = (fd_producer *) sp;
	struct pollfd pfd = {.fd = fp->fd, .events = POLLIN};
	ssize_t n;

	if (pgcm__polled_known(&sp->base.polled) ? !pgcm__polled_take(&sp->base.polled, POLLIN)
	                                         : poll(&pfd, 1, 0) == 0) {
		pgcm__wait_on(&sp->base.wait, fp->fd, POLLIN);
		return -2;
	}
	do
		n = read(fp->fd, buf, cap);
	while (n < 0 && errno == EINTR);
	if (n < 0) {
		if (errno == EAGAIN || errno == EWOULDBLOCK) {
			pgcm__wait_on(&sp->base.wait, fp->fd, POLLIN);
			return -2;
		}
		pgcm__producer_error(&sp->base, NULL, "read at byte %llu: %s",
		                     (unsigned long long) sp->scan.offset + (sp->len - sp->scanned),
		                     strerror(errno));
		return -1;
	}
	return (long) n;
}

pgcm_producer *
pgcm_producer_fd(int fd, const pgcm_format *fmt)
{
	fd_producer *fp;

	if (fd < 0 || !fmt)
		return NULL;
	fp = (fd_producer *) pgcm__scan_producer_new(sizeof *fp, fmt, fd_read);
	if (!fp)
		return NULL;
	fp->fd = fd;
	return &fp->scan.base;
}

typedef struct fd_receiver {
	pgcm__stream_receiver stream;
	int fd;
	int flags_saved;         /* -1: flags untouched */
} fd_receiver;

/* fd_prepare: a pipe or terminal goes non-blocking for the copy. */
static void
fd_prepare(fd_receiver *fr)
{
	struct stat stbuf;
	int fl;

	if (fr->flags_saved != -1 || fstat(fr->fd, &stbuf) != 0 || S_ISREG(stbuf.st_mode))
		return;
	fl = fcntl(fr->fd, F_GETFL);
	if (fl < 0 || (fl & O_NONBLOCK))
		return;
	if (fcntl(fr->fd, F_SETFL, fl | O_NONBLOCK) == 0)
		fr->flags_saved = fl;
}

static void
fd_close(pgcm__stream_receiver *sr)
{
	fd_receiver *fr = (fd_receiver *) sr;

	if (fr->flags_saved != -1) {
		(void) fcntl(fr->fd, F_SETFL, fr->flags_saved);
		fr->flags_saved = -1;
	}
}

static long
fd_write(pgcm__stream_receiver *sr, const char *buf, size_t len)
{
	fd_receiver *fr = (fd_receiver *) sr;
	ssize_t n;

	/* The copy's poll() said the pipe is still full: no write to fail. */
	if (!pgcm__polled_take(&sr->base.polled, POLLOUT)) {
		pgcm__wait_on(&sr->base.wait, fr->fd, POLLOUT);
		return 0;
	}
	fd_prepare(fr);
	do
		n = write(fr->fd, buf, len);
	while (n < 0 && errno == EINTR);
	if (n >= 0)
		return (long) n;
	if (errno == EAGAIN || errno == EWOULDBLOCK) {
		pgcm__wait_on(&sr->base.wait, fr->fd, POLLOUT);
		return 0;
	}
	/* A closed pipe or a bad descriptor will not get better; a full disk may. */
	sr->broken = errno == EPIPE || errno == EBADF;
	pgcm__receiver_error(&sr->base, PGCM_ERR_IO, NULL, 0, "write: %s", strerror(errno));
	return -1;
}

pgcm_receiver *
pgcm_receiver_fd(int fd)
{
	fd_receiver *fr;

	if (fd < 0)
		return NULL;
	fr = (fd_receiver *) pgcm__stream_receiver_new(sizeof *fr, fd_write, fd_close);
	if (!fr)
		return NULL;
	fr->fd = fd;
	fr->flags_saved = -1;
	return &fr->stream.base;
}
