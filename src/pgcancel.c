/*
 * pgcancel.c: a cancel request that does not block the step.
 *
 * libpq 15's PQcancel is synchronous: it connects to the server, sends the
 * key, and waits until the server closes the connection (the postmaster
 * forks a process to read the request, so this takes milliseconds on a quiet
 * machine, far more on a loaded one, and forever if the postmaster is
 * stopped).  The non-blocking PQcancelStart/PQcancelPoll arrived only in
 * libpq 17.  So the request is sent from a short-lived detached thread, and
 * its end is signalled on a pipe the step can poll: the step never waits for
 * it, and an abort counts the source as settled only once the server has
 * taken the request (so it can never hit the caller's next statement).
 *
 * The thread and the producer share one small object; whichever lets go last
 * frees it, so a thread stuck on a stopped server never holds up the caller
 * (pgcm_copy_free() does not wait for it).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>

#include "internal.h"

struct pgcm__cancel {
	PGcancel *cancel;
	int read_fd;          /* the producer's end: readable once the request is done */
	int write_fd;         /* the thread's end */
	atomic_int done;
	atomic_int refs;      /* the producer and the thread */
};

/* release: let go of c; the last one frees it.  Each side closes its own end first. */
static void
release(pgcm__cancel *c)
{
	if (atomic_fetch_sub(&c->refs, 1) != 1)
		return;
	PQfreeCancel(c->cancel);
	pgcm__free(c);
}

/* send_request: the thread: PQcancel, then say so on the pipe. */
static void *
send_request(void *arg)
{
	pgcm__cancel *c = arg;
	char errbuf[256];
	ssize_t n;

	(void) PQcancel(c->cancel, errbuf, sizeof errbuf);
	atomic_store(&c->done, 1);
	do
		n = write(c->write_fd, "x", 1);
	while (n < 0 && errno == EINTR);
	close(c->write_fd);
	release(c);
	return NULL;
}

/* start_thread: a detached thread running send_request(c); 0 on success. */
static int
start_thread(pgcm__cancel *c)
{
	pthread_attr_t attr;
	pthread_t thread;
	int rc;

	if (pthread_attr_init(&attr) != 0)
		return -1;
	rc = pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	if (rc == 0)
		rc = pthread_create(&thread, &attr, send_request, c);
	pthread_attr_destroy(&attr);
	return rc;
}

pgcm__cancel *
pgcm__cancel_start(PGconn *conn)
{
	pgcm__cancel *c = pgcm__calloc(1, sizeof *c);
	int fds[2];

	if (!c)
		return NULL;
	c->cancel = PQgetCancel(conn);
	if (!c->cancel) {
		pgcm__free(c);
		return NULL;
	}
	if (pipe(fds) != 0) {
		PQfreeCancel(c->cancel);
		pgcm__free(c);
		return NULL;
	}
	(void) fcntl(fds[0], F_SETFD, FD_CLOEXEC);
	(void) fcntl(fds[1], F_SETFD, FD_CLOEXEC);
	c->read_fd = fds[0];
	c->write_fd = fds[1];
	atomic_init(&c->done, 0);
	atomic_init(&c->refs, 2);
	/* No thread: send it here, as libpq would, rather than not at all
	 * (send_request closes the write end and drops the thread's reference). */
	if (start_thread(c) != 0)
		send_request(c);
	return c;
}

int
pgcm__cancel_fd(const pgcm__cancel *c)
{
	return c->read_fd;
}

int
pgcm__cancel_done(pgcm__cancel *c)
{
	return atomic_load(&c->done);
}

void
pgcm__cancel_release(pgcm__cancel *c)
{
	if (!c)
		return;
	close(c->read_fd);
	release(c);
}
