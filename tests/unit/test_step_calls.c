/*
 * test_step_calls.c: the system calls a step makes, without a server.  A
 * step given no readiness looks at every descriptor with one zero-timeout
 * poll() before any endpoint reads or writes, so a full pipe gets no write
 * that would fail; pgcm_copy_next() after a step that did all it could
 * waits in poll() first, rather than stepping (and looking) once more for
 * nothing.  poll() is interposed here to record its timeouts, and write()
 * to count the library's writes to the pipe (the kernel's count of the
 * process's writes, /proc/self/io, would also count valgrind's own: its
 * scheduler lock writes to a pipe around each blocking system call).
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "pgcopyman.h"

/* ------------------------------------------------------------------------
 * poll(), recorded: the library's calls come here and go on to ppoll().
 * ------------------------------------------------------------------------ */

#define MAX_RECORDED 64
static int recorded_timeouts[MAX_RECORDED];
static int recorded;

int poll(struct pollfd *fds, nfds_t n, int timeout);

int
poll(struct pollfd *fds, nfds_t n, int timeout)
{
	struct timespec ts = {timeout / 1000, (long) (timeout % 1000) * 1000000L};

	if (recorded < MAX_RECORDED)
		recorded_timeouts[recorded] = timeout;
	recorded++;
	return ppoll(fds, n, timeout < 0 ? NULL : &ts, NULL);
}

/* write(), counted when it goes to counted_fd: the library's calls come here. */
static int counted_fd = -1;
static long long counted_writes;

ssize_t write(int fd, const void *buf, size_t n);

ssize_t
write(int fd, const void *buf, size_t n)
{
	if (fd == counted_fd)
		counted_writes++;
	return (ssize_t) syscall(SYS_write, fd, buf, n);
}

/* An endless source of text rows. */
static long
endless_rows(void *arg, char *buf, size_t cap)
{
	size_t n = 0;

	(void) arg;
	while (cap - n >= 8) {
		memcpy(buf + n, "1\tabcd\n", 7);
		n += 7;
	}
	return (long) n;
}

/*
 * A copy into a pipe nobody reads: once the pipe and the window are full,
 * steps given no readiness write nothing (each would fail with EAGAIN).
 * Emptying the pipe lets the next step write again.
 */
static void
test_blind_steps_do_not_write_to_a_full_pipe(void **state)
{
	int p[2];
	pgcm_format fmt;
	pgcm_copy *c;
	pgcm_status st;
	long long before;
	char sink[65536];
	int steps = 0;

	(void) state;
	assert_int_equal(pipe(p), 0);
	pgcm_format_init(&fmt, PGCM_FORMAT_TEXT);
	c = pgcm_copy_new(pgcm_producer_fn(endless_rows, NULL, &fmt));
	assert_non_null(c);
	assert_int_equal(pgcm_copy_add(c, pgcm_receiver_fd(p[1])), PGCM_OK);
	counted_fd = p[1];
	/* The abort at the end gives up the full pipe soon. */
	assert_int_equal(pgcm_copy_set_drain_timeout(c, 100), PGCM_OK);
	while ((st = pgcm_copy_step(c, NULL)) == PGCM_OK)
		assert_true(++steps < 100000);
	assert_int_equal(st, PGCM_AGAIN);
	before = counted_writes;
	for (int i = 0; i < 50; i++)
		assert_int_equal(pgcm_copy_step(c, NULL), PGCM_AGAIN);
	assert_int_equal(counted_writes, before);
	/* The same step writes once there is room. */
	assert_true(read(p[0], sink, sizeof sink) > 0);
	assert_int_equal(pgcm_copy_step(c, NULL), PGCM_OK);
	assert_true(counted_writes > before);
	assert_int_equal(pgcm_copy_abort(c, "test over"), PGCM_ERR_ABORTED);
	pgcm_copy_free(c);
	counted_fd = -1;
	close(p[0]);
	close(p[1]);
}

/*
 * A pipe producer with some rows, then silence: the first next() moves the
 * rows; the second begins by waiting (a poll() with a timeout: the stall
 * timeout here, which then ends the copy), not with a step that would look
 * (a zero-timeout poll()) and find nothing.
 */
static void
test_next_waits_after_a_quiescent_step(void **state)
{
	int p[2];
	pgcm_format fmt;
	pgcm_copy *c;
	pgcm_progress prog;
	pgcm_status st;

	(void) state;
	assert_int_equal(pipe(p), 0);
	assert_int_equal(write(p[1], "1\ta\n2\tb\n3\tc\n", 12), 12);
	pgcm_format_init(&fmt, PGCM_FORMAT_TEXT);
	c = pgcm_copy_new(pgcm_producer_fd(p[0], &fmt));
	assert_non_null(c);
	assert_int_equal(pgcm_copy_add(c, pgcm_receiver_null()), PGCM_OK);
	assert_int_equal(pgcm_copy_set_stall_timeout(c, 200), PGCM_OK);
	assert_int_equal(pgcm_copy_next(c, &prog), PGCM_OK);
	assert_int_equal(prog.rows, 3);
	recorded = 0;
	st = pgcm_copy_next(c, &prog);
	assert_int_equal(st, PGCM_ERR_PRODUCER);
	assert_non_null(strstr(pgcm_copy_errmsg(c), "stall timeout"));
	assert_true(recorded >= 1);
	assert_int_not_equal(recorded_timeouts[0], 0);
	pgcm_copy_free(c);
	close(p[0]);
	close(p[1]);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_blind_steps_do_not_write_to_a_full_pipe),
		cmocka_unit_test(test_next_waits_after_a_quiescent_step),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests_name("step system calls (no server)", tests, NULL, NULL);
}
