/*
 * itest_stream.c: no endpoint can hang a copy.  A pipe or callback source
 * that pauses makes the step return at once ("would block" is not
 * "progress"), and the rows already whole reach the receivers before the
 * pause ends, at no CPU cost; every endpoint, the source included, is under
 * the stall timeout: a pipe nobody reads is faulted while the server target
 * loads every row, and a stopped source backend or a silent FIFO ends the
 * copy with nothing committed.
 *
 * Clusters: 1 is the source; 2 and 3 are targets.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "util.h"
#include "pgcopyman.h"

#define ROWS 20000
#define STEP_LIMIT_MS 50.0
#define STALL_MS 1500

typedef it_world world;

IT_WORLD_FIXTURE(2, ROWS, IT_LENIENT)

/* cpu_ms: the CPU time this process used so far. */
static double
cpu_ms(void)
{
	struct rusage ru;

	assert_int_equal(getrusage(RUSAGE_SELF, &ru), 0);
	return (double) (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3
	       + (double) (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3;
}

/* A callback receiver that keeps what it got. */
typedef struct sink {
	char data[256];
	size_t len;
	int calls;
} sink;

static int
sink_write(void *arg, const char *buf, size_t len)
{
	sink *s = arg;

	assert_true(s->len + len < sizeof s->data);
	memcpy(s->data + s->len, buf, len);
	s->len += len;
	s->data[s->len] = '\0';
	s->calls++;
	return 0;
}

/* write_all: the test feeds a pipe itself, from the loop that steps the copy. */
static void
write_all(int fd, const char *s)
{
	assert_int_equal(write(fd, s, strlen(s)), (ssize_t) strlen(s));
}

/*
 * step_quietly: step c from an external poll() loop for ms while its source
 * is quiet; every step must return promptly, and the loop must sleep in
 * poll(), not spin.  Returns when ms passed (the copy must not have ended).
 */
static void
step_quietly(pgcm_copy *c, double ms, const char *what)
{
	double end = it_now_ms() + ms, cpu0 = cpu_ms(), longest = 0;
	int steps = 0, again = 0;

	while (it_now_ms() < end) {
		struct pollfd fds[4];
		size_t n;
		double t0 = it_now_ms();
		pgcm_status st = pgcm_copy_step(c, NULL);
		int t;

		t0 = it_now_ms() - t0;
		if (t0 > longest)
			longest = t0;
		assert_true(st == PGCM_OK || st == PGCM_AGAIN);
		again += st == PGCM_AGAIN;
		steps++;
		n = pgcm_copy_pollfds(c, fds, 4);
		t = pgcm_copy_timeout_ms(c);
		/* Rounded up: the loop must not spin through its last millisecond. */
		if (t < 0 || t > end - it_now_ms())
			t = (int) (end - it_now_ms()) + 1;
		(void) poll(fds, (nfds_t) n, t);
	}
	/* Still quiet: the step says so at once. */
	{
		double t0 = it_now_ms();
		assert_int_equal(pgcm_copy_step(c, NULL), PGCM_AGAIN);
		again++;
		steps++;
		t0 = it_now_ms() - t0;
		if (t0 > longest)
			longest = t0;
	}
	printf("[ QUIET    ] %s: %d steps in %.0f ms, the longest %.2f ms, %.1f ms of CPU\n", what,
	       steps, ms, longest, cpu_ms() - cpu0);
	assert_true(again > 0);
	assert_true(longest < STEP_LIMIT_MS);
	/* Sleeping, not spinning: a few steps (the rows, then PGCM_AGAIN), hardly any CPU. */
	assert_true(steps < 100);
	assert_true(cpu_ms() - cpu0 < ms / 4);
}

static void
test_pipe_pause_returns_at_once(void **state)
{
	int p[2];
	sink s = {0};
	pgcm_format fmt;
	pgcm_copy *c;
	pgcm_progress total;

	(void) state;
	assert_int_equal(pipe(p), 0);
	pgcm_format_init(&fmt, PGCM_FORMAT_TEXT);
	c = pgcm_copy_new(pgcm_producer_fd(p[0], &fmt));
	assert_non_null(c);
	assert_int_equal(pgcm_copy_add(c, pgcm_receiver_fn(sink_write, &s)), PGCM_OK);

	/* The first row, then a pause: the row arrives, the steps return, nothing spins. */
	write_all(p[1], "1\tone\n2\tt");
	step_quietly(c, 400, "a pipe source pauses after a row and a half");
	assert_string_equal(s.data, "1\tone\n");
	/* The second row's end, the end of the data: the rest arrives and the copy completes. */
	write_all(p[1], "wo\n");
	close(p[1]);
	assert_int_equal(pgcm_copy_run(c, &total), PGCM_OK);
	assert_int_equal(total.rows, 2);
	assert_string_equal(s.data, "1\tone\n2\ttwo\n");
	pgcm_copy_free(c);
	close(p[0]);
}

/* A read callback with nothing to give for a while in the middle. */
typedef struct paused_source {
	int part;           /* 0: the first row; 1: nothing yet, until resume_at; 2: the second row; 3: end */
	double resume_at;
	int again;          /* PGCM_READ_AGAIN answers given */
	const sink *seen;   /* what the receiver had when the pause ended */
	char seen_at_resume[256];
} paused_source;

static long
paused_read(void *arg, char *buf, size_t cap)
{
	paused_source *ps = arg;
	const char *piece = NULL;

	assert_true(cap >= 8);
	switch (ps->part) {
	case 0:
		piece = "1\tone\n";
		ps->part = 1;
		break;
	case 1:
		if (it_now_ms() < ps->resume_at) {
			ps->again++;
			return PGCM_READ_AGAIN;
		}
		snprintf(ps->seen_at_resume, sizeof ps->seen_at_resume, "%s", ps->seen->data);
		piece = "2\ttwo\n";
		ps->part = 2;
		break;
	default:
		return 0;
	}
	memcpy(buf, piece, strlen(piece));
	return (long) strlen(piece);
}

static void
test_callback_source_nothing_yet(void **state)
{
	sink s = {0};
	paused_source ps = {.seen = &s};
	pgcm_format fmt;
	pgcm_copy *c;
	pgcm_progress total;
	pgcm_status st;
	double t0;

	(void) state;
	pgcm_format_init(&fmt, PGCM_FORMAT_TEXT);
	c = pgcm_copy_new(pgcm_producer_fn(paused_read, &ps, &fmt));
	assert_non_null(c);
	assert_int_equal(pgcm_copy_add(c, pgcm_receiver_fn(sink_write, &s)), PGCM_OK);
	ps.resume_at = it_now_ms() + 300;
	/* A step with nothing more to read says so at once, and asks to be called again soon. */
	t0 = it_now_ms();
	do
		st = pgcm_copy_step(c, NULL);
	while (st == PGCM_OK);
	assert_int_equal(st, PGCM_AGAIN);
	assert_true(it_now_ms() - t0 < STEP_LIMIT_MS);
	assert_true(pgcm_copy_timeout_ms(c) > 0 && pgcm_copy_timeout_ms(c) <= 10);
	/* run (poll, step) asks the callback again now and then, not in a busy loop. */
	assert_int_equal(pgcm_copy_run(c, &total), PGCM_OK);
	assert_int_equal(total.rows, 2);
	/* The first row reached the receiver before the callback had the second. */
	assert_string_equal(ps.seen_at_resume, "1\tone\n");
	assert_string_equal(s.data, "1\tone\n2\ttwo\n");
	printf("[ QUIET    ] a callback source with nothing for 300 ms was asked %d times\n", ps.again);
	assert_true(ps.again >= 2 && ps.again < 100);
	pgcm_copy_free(c);
}

/* read_some: what fd has within ms (appended to buf), without blocking longer. */
static size_t
read_some(int fd, char *buf, size_t len, size_t cap, int ms)
{
	struct pollfd pfd = {.fd = fd, .events = POLLIN};

	while (len + 1 < cap && poll(&pfd, 1, ms) > 0) {
		ssize_t n = read(fd, buf + len, cap - len - 1);
		if (n <= 0)
			break;
		len += (size_t) n;
		ms = 0;
	}
	buf[len] = '\0';
	return len;
}

static void
test_cli_pause_costs_no_cpu(void **state)
{
	char bin[512], out[256];
	int in[2], outp[2], status;
	size_t len = 0;
	struct rusage ru;
	double cpu, t0;
	pid_t pid;

	(void) state;
	assert_int_equal(pipe(in), 0);
	assert_int_equal(pipe(outp), 0);
	it_build_path("pgcopyman", bin, sizeof bin);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		dup2(in[0], 0);
		dup2(outp[1], 1);
		close(in[1]);
		close(outp[0]);
		alarm(60);
		execl(bin, "pgcopyman", "copy", "--from", "-", "--to", "-", "--format", "text",
		      "--target-table", "t", "--quiet", (char *) NULL);
		_exit(127);
	}
	close(in[0]);
	close(outp[1]);
	write_all(in[1], "1\tone\n");
	/* Row 1 comes out while the input pauses... */
	t0 = it_now_ms();
	len = read_some(outp[0], out, len, sizeof out, 2000);
	assert_string_equal(out, "1\tone\n");
	/* ...and the pause (3 s in all) costs the command no CPU. */
	usleep((useconds_t) ((3000 - (it_now_ms() - t0)) * 1000));
	write_all(in[1], "2\ttwo\n");
	close(in[1]);
	while (read_some(outp[0], out, len, sizeof out, 5000) > len)
		len = strlen(out);
	assert_string_equal(out, "1\tone\n2\ttwo\n");
	assert_int_equal(wait4(pid, &status, 0, &ru), pid);
	close(outp[0]);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	cpu = (double) (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec)
	      + (double) (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
	printf("[ QUIET    ] pgcopyman copy --from - --to -: %.3f s of CPU over a 3 s pause\n", cpu);
	assert_true(cpu < 0.2);
}

/* run_to_end: next until the copy ends; the faults it reported go to *faults. */
static pgcm_status
run_to_end(pgcm_copy *c, pgcm_fault *faults, size_t cap, size_t *nfaults, double *first_fault_ms)
{
	double t0 = it_now_ms();
	pgcm_status st;

	*nfaults = 0;
	while ((st = pgcm_copy_next(c, NULL)) == PGCM_OK || st == PGCM_FAULT) {
		if (st == PGCM_FAULT) {
			size_t n = pgcm_copy_faults(c, faults + *nfaults, cap - *nfaults);
			if (*nfaults == 0 && first_fault_ms)
				*first_fault_ms = it_now_ms() - t0;
			*nfaults += n;
			assert_true(*nfaults <= cap);
		}
	}
	return st;
}

static void
test_unread_pipe_target_is_stalled(void **state)
{
	world *w = *state;
	pgcm_copy *c = pgcm_copy_new(pgcm_producer_pg(w->src, "COPY t TO STDOUT"));
	pgcm_fault faults[4];
	pgcm_failure f;
	size_t nfaults;
	double fault_ms = 0;
	int p[2];

	/* A pipe whose reader never reads: it fills, and nothing moves on it again. */
	assert_int_equal(pipe(p), 0);
	assert_non_null(c);
	pgcm_copy_set_stall_timeout(c, STALL_MS);
	it_exec(w->dst[0], "BEGIN");
	assert_int_equal(pgcm_copy_add(c, pgcm_receiver_fd(p[1])), PGCM_OK);
	assert_int_equal(pgcm_copy_add(c, pgcm_receiver_pg(w->dst[0], "COPY t FROM STDIN")), PGCM_OK);
	assert_int_equal(run_to_end(c, faults, 4, &nfaults, &fault_ms), PGCM_DONE);
	printf("[ STALL    ] a pipe nobody reads was faulted after %.0f ms\n", fault_ms);
	assert_int_equal(nfaults, 1);
	assert_int_equal(faults[0].index, 0);
	assert_int_equal(faults[0].status, PGCM_ERR_TIMEOUT);
	assert_non_null(strstr(faults[0].message, "stall timeout"));
	assert_true(fault_ms >= STALL_MS - 100 && fault_ms < STALL_MS + 5000);
	/* The healthy target lost nothing to the stuck one. */
	assert_int_equal(pgcm_copy_finish(c, &f), PGCM_FAULT);
	assert_int_equal(pgcm_receiver_get_state(pgcm_copy_receiver(c, 1)), PGCM_RECEIVER_DONE);
	pgcm_copy_free(c);
	it_exec(w->dst[0], "COMMIT");
	assert_int_equal(it_count(w->dst[0], "t"), ROWS);
	close(p[0]);
	close(p[1]);
}

/* stalled_source: the copy ended because its source went quiet: nothing committed, all usable. */
static void
check_source_stall(world *w, pgcm_copy *c, pgcm_status st, double ms)
{
	pgcm_failure f;

	printf("[ STALL    ] a quiet source ended the copy after %.0f ms\n", ms);
	assert_int_equal(st, PGCM_ERR_PRODUCER);
	assert_int_equal(pgcm_copy_finish(c, &f), PGCM_ERR_PRODUCER);
	assert_non_null(strstr(f.reason, "stall timeout"));
	assert_non_null(f.producer_error);
	assert_non_null(strstr(f.producer_error, "sent no data"));
	assert_int_equal(pgcm_receiver_get_state(pgcm_copy_receiver(c, 0)), PGCM_RECEIVER_ABORTED);
	pgcm_copy_free(c);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(PQtransactionStatus(w->dst[i]), PQTRANS_INERROR);
		it_exec(w->dst[i], "ROLLBACK");
		it_assert_usable(w->dst[i]);
		assert_int_equal(it_count(w->dst[i], "t"), 0);
	}
}

static pgcm_copy *
copy_to_targets(world *w, pgcm_producer *p)
{
	pgcm_copy *c = pgcm_copy_new(p);

	assert_non_null(c);
	pgcm_copy_set_stall_timeout(c, STALL_MS);
	pgcm_copy_set_drain_timeout(c, 1000);
	for (int i = 0; i < 2; i++) {
		it_exec(w->dst[i], "BEGIN");
		assert_int_equal(pgcm_copy_add(c, pgcm_receiver_pg(w->dst[i], "COPY t FROM STDIN")), PGCM_OK);
	}
	return c;
}

static void
test_stopped_source_backend(void **state)
{
	world *w = *state;
	int pid = it_backend_pid(w->src);
	pgcm_copy *c = copy_to_targets(w, pgcm_producer_pg(w->src, "COPY t TO STDOUT"));
	pgcm_status st;
	double t0;

	assert_int_equal(pgcm_copy_set_window(c, 16 * 1024, 2), PGCM_OK);
	assert_int_equal(pgcm_copy_next(c, NULL), PGCM_OK);
	it_signal_backend(pid, SIGSTOP);
	t0 = it_now_ms();
	while ((st = pgcm_copy_next(c, NULL)) == PGCM_OK)
		;
	t0 = it_now_ms() - t0;
	it_signal_backend(pid, SIGCONT);
	/* The stall timeout, then the drain timeout for the stopped backend at most. */
	assert_true(t0 < STALL_MS + 1000 + 5000);
	check_source_stall(w, c, st, t0);
	/* The stopped source did not settle in time: its connection was given up. */
	PQfinish(w->src);
	w->src = it_connect(1);
	it_assert_usable(w->src);
}

static void
test_silent_fifo_source(void **state)
{
	world *w = *state;
	char fifo[128];
	int rd, wr;
	pgcm_format fmt;
	pgcm_copy *c;
	pgcm_status st;
	double t0;

	/* A FIFO whose writer is there and never writes. */
	snprintf(fifo, sizeof fifo, "%s/silent.fifo", w->dir);
	assert_int_equal(mkfifo(fifo, 0600), 0);
	rd = open(fifo, O_RDONLY | O_NONBLOCK);
	assert_true(rd >= 0);
	wr = open(fifo, O_WRONLY);
	assert_true(wr >= 0);
	pgcm_format_init(&fmt, PGCM_FORMAT_TEXT);
	c = copy_to_targets(w, pgcm_producer_fd(rd, &fmt));
	t0 = it_now_ms();
	while ((st = pgcm_copy_next(c, NULL)) == PGCM_OK)
		;
	t0 = it_now_ms() - t0;
	assert_true(t0 >= STALL_MS - 100 && t0 < STALL_MS + 5000);
	check_source_stall(w, c, st, t0);
	close(rd);
	close(wr);
}

static void
test_cli_stdout_reader_stops(void **state)
{
	world *w = *state;
	char bin[512];
	int outp[2], status;
	pid_t pid;
	char err[4096];
	int errp[2];
	size_t elen = 0;

	/* stdout is a pipe whose reader stopped reading: the other target must still load. */
	assert_int_equal(pipe(outp), 0);
	assert_int_equal(pipe(errp), 0);
	it_build_path("pgcopyman", bin, sizeof bin);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int nul = open("/dev/null", O_RDONLY);
		dup2(nul, 0);
		dup2(outp[1], 1);
		dup2(errp[1], 2);
		close(outp[0]);
		close(errp[0]);
		alarm(60);
		execl(bin, "pgcopyman", "copy", "--from", it_conninfo(1), "--to", "-", "--to",
		      it_conninfo(2), "--table", "t", "--format", "text", "--stall-timeout", "1.5",
		      (char *) NULL);
		_exit(127);
	}
	close(outp[1]);
	close(errp[1]);
	/* Never read outp[0]; keep it open, as a stopped reader does. */
	elen = read_some(errp[0], err, 0, sizeof err, 30000);
	while (read_some(errp[0], err, elen, sizeof err, 30000) > elen)
		elen = strlen(err);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	close(outp[0]);
	close(errp[0]);
	assert_true(WIFEXITED(status));
	if (WEXITSTATUS(status) != 3) {
		print_error("exit %d, expected 3 (partial)\nstderr: %s\n", WEXITSTATUS(status), err);
		fail();
	}
	assert_non_null(strstr(err, "stall timeout"));
	assert_int_equal(it_count(w->dst[0], "t"), ROWS);
}

IT_GROUP(stream)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_pipe_pause_returns_at_once, setup, teardown),
		cmocka_unit_test_setup_teardown(test_callback_source_nothing_yet, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cli_pause_costs_no_cpu, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unread_pipe_target_is_stalled, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stopped_source_backend, setup, teardown),
		cmocka_unit_test_setup_teardown(test_silent_fifo_source, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cli_stdout_reader_stops, setup, teardown),
	};

	return it_add_group("stream", tests, NULL, NULL);
}
