/*
 * itest_notify_cli.c: `pgcopyman listen` and `pgcopyman notify`, run as child
 * processes against the harness's servers.  Every read from a child has a
 * deadline; every child is killed and reaped at the end of its test.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "util.h"

static long long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

typedef struct child {
	pid_t pid;
	int out;                 /* the child's stdout */
	int err;                 /* the child's stderr */
	char buf[65536];         /* stdout read so far, not yet returned as lines */
	size_t len;
} child;

/*
 * spawn: run the CLI with argv (argv[0] is ignored) and env (NULL-terminated
 * "NAME=value" entries added to ours, may be NULL), stdout and stderr piped.
 */
static void
spawn(child *c, char *const *argv, char *const *env)
{
	int out[2], err[2];
	char bin[512];

	it_build_path("pgcopyman", bin, sizeof bin);
	assert_int_equal(access(bin, X_OK), 0);
	assert_int_equal(pipe(out), 0);
	assert_int_equal(pipe(err), 0);
	memset(c, 0, sizeof *c);
	c->pid = fork();
	assert_true(c->pid >= 0);
	if (c->pid == 0) {
		dup2(out[1], 1);
		dup2(err[1], 2);
		close(out[0]);
		close(out[1]);
		close(err[0]);
		close(err[1]);
		for (; env && *env; env++)
			putenv(*env);
		execv(bin, argv);
		_exit(127);
	}
	close(out[1]);
	close(err[1]);
	c->out = out[0];
	c->err = err[0];
	fcntl(c->err, F_SETFL, O_NONBLOCK);
}

/* read_line: the child's next stdout line (without newline) into line, within ms. */
static void
read_line(child *c, char *line, size_t size, int ms)
{
	long long deadline = now_ms() + ms;

	for (;;) {
		char *nl = memchr(c->buf, '\n', c->len);
		struct pollfd p = {.fd = c->out, .events = POLLIN, .revents = 0};
		long long left;
		ssize_t n;

		if (nl) {
			size_t k = (size_t) (nl - c->buf);
			assert_true(k < size);
			memcpy(line, c->buf, k);
			line[k] = '\0';
			memmove(c->buf, nl + 1, c->len - k - 1);
			c->len -= k + 1;
			return;
		}
		left = deadline - now_ms();
		if (left <= 0)
			fail_msg("no line from the child within %d ms (have \"%.*s\")", ms, (int) c->len, c->buf);
		if (poll(&p, 1, (int) left) <= 0)
			continue;
		assert_true(c->len < sizeof c->buf);
		n = read(c->out, c->buf + c->len, sizeof c->buf - c->len);
		if (n <= 0)
			fail_msg("the child closed its output (have \"%.*s\")", (int) c->len, c->buf);
		c->len += (size_t) n;
	}
}

/* read_all: what is left on fd until EOF, within ms, into buf (NUL-terminated). */
static void
read_all(int fd, char *buf, size_t size, int ms)
{
	long long deadline = now_ms() + ms;
	size_t len = 0;

	fcntl(fd, F_SETFL, O_NONBLOCK);
	for (;;) {
		struct pollfd p = {.fd = fd, .events = POLLIN, .revents = 0};
		ssize_t n;

		if (now_ms() >= deadline)
			fail_msg("the child's output did not end within %d ms", ms);
		poll(&p, 1, 100);
		n = read(fd, buf + len, size - 1 - len);
		if (n == 0)
			break;
		if (n < 0 && errno != EAGAIN)
			break;
		if (n > 0)
			len += (size_t) n;
		assert_true(len < size - 1);
	}
	buf[len] = '\0';
}

/* reap: wait for the child's exit within ms; returns its exit status (128+sig if killed). */
static int
reap(child *c, int ms)
{
	long long deadline = now_ms() + ms;
	int st;

	for (;;) {
		pid_t r = waitpid(c->pid, &st, WNOHANG);

		if (r == c->pid)
			break;
		if (now_ms() >= deadline) {
			kill(c->pid, SIGKILL);
			waitpid(c->pid, &st, 0);
			close(c->out);
			close(c->err);
			fail_msg("the child did not exit within %d ms", ms);
		}
		poll(NULL, 0, 10);
	}
	close(c->out);
	close(c->err);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* run: run the CLI to its end (within 10 s); stdout and stderr into the buffers. */
static int
run(char *const *argv, char *out, size_t outsize, char *err, size_t errsize)
{
	child c;

	spawn(&c, argv, NULL);
	read_all(c.out, out, outsize, 10000);
	read_all(c.err, err, errsize, 10000);
	return reap(&c, 10000);
}

/* wait_listening: until a pgcopyman backend on cluster 1 sits idle after its LISTENs. */
static void
wait_listening(PGconn *admin, int ms)
{
	long long deadline = now_ms() + ms;

	for (;;) {
		/* After a few quiet seconds the listener's last query is its ping (""). */
		char *n = it_scalar(admin, "SELECT count(*) FROM pg_stat_activity "
		                           "WHERE application_name = 'pgcopyman' AND state = 'idle' "
		                           "AND (query LIKE 'LISTEN%%' OR query = '')");
		int k = atoi(n);

		free(n);
		if (k > 0)
			return;
		if (now_ms() >= deadline)
			fail_msg("pgcopyman listen did not LISTEN within %d ms", ms);
		poll(NULL, 0, 20);
	}
}

static void
notify_ok(const char *channel, const char *payload)
{
	char *argv[] = {"pgcopyman", "notify", "--conn", (char *) it_conninfo(1),
	                (char *) channel, (char *) payload, NULL};
	static char out[4096], err[4096];

	if (run(argv, out, sizeof out, err, sizeof err) != 0)
		fail_msg("pgcopyman notify failed: %s", err);
}

/* ------------------------------------------------------------------------ */

/* Usage errors exit 2 and name the problem; --help exits 0 on stdout; limits are checked first. */
static void
test_cli_usage(void **state)
{
	static char out[65536], err[65536];
	char chan64[65], payload[8001];
	(void) state;

	{
		char *argv[] = {"pgcopyman", "listen", "--help", NULL};
		assert_int_equal(run(argv, out, sizeof out, err, sizeof err), 0);
		assert_non_null(strstr(out, "pgcopyman listen [--conn CONNSTR]"));
	}
	{
		char *argv[] = {"pgcopyman", "notify", "--help", NULL};
		assert_int_equal(run(argv, out, sizeof out, err, sizeof err), 0);
		assert_non_null(strstr(out, "pgcopyman notify [--conn CONNSTR] CHANNEL [PAYLOAD]"));
	}
	{
		char *argv[] = {"pgcopyman", "listen", NULL};
		assert_int_equal(run(argv, out, sizeof out, err, sizeof err), 2);
		assert_non_null(strstr(err, "no CHANNEL"));
		assert_non_null(strstr(err, "Try \"pgcopyman listen --help\" for more information."));
		assert_null(strstr(err, "Usage:"));
	}
	{
		char *argv[] = {"pgcopyman", "listen", "--bogus", "x", NULL};
		assert_int_equal(run(argv, out, sizeof out, err, sizeof err), 2);
		assert_non_null(strstr(err, "--bogus"));
	}
	{
		char *argv[] = {"pgcopyman", "listen", "--idle", "-1", "x", NULL};
		assert_int_equal(run(argv, out, sizeof out, err, sizeof err), 2);
		assert_non_null(strstr(err, "--idle"));
	}
	{
		char *argv[] = {"pgcopyman", "notify", NULL};
		assert_int_equal(run(argv, out, sizeof out, err, sizeof err), 2);
		assert_non_null(strstr(err, "no CHANNEL"));
	}
	memset(chan64, 'c', 64);
	chan64[64] = '\0';
	{
		char *argv[] = {"pgcopyman", "notify", "--conn", (char *) it_conninfo(1), chan64, "x", NULL};
		assert_int_equal(run(argv, out, sizeof out, err, sizeof err), 2);
		assert_non_null(strstr(err, "64 bytes"));
	}
	memset(payload, 'p', 8000);
	payload[8000] = '\0';
	{
		char *argv[] = {"pgcopyman", "notify", "--conn", (char *) it_conninfo(1), "ch", payload, NULL};
		assert_int_equal(run(argv, out, sizeof out, err, sizeof err), 2);
		assert_non_null(strstr(err, "8000 bytes"));
	}
	{
		char *argv[] = {"pgcopyman", "notify", "--conn", "host=/nonexistent password=hunter2",
		                "ch", NULL};
		assert_int_equal(run(argv, out, sizeof out, err, sizeof err), 1);
		assert_non_null(strstr(err, "cannot connect"));
		assert_null(strstr(err, "hunter2"));
	}
	{
		char *argv[] = {"pgcopyman", "listen", "--conn", "host=/nonexistent password=hunter2",
		                "ch", NULL};
		assert_int_equal(run(argv, out, sizeof out, err, sizeof err), 1);
		assert_non_null(strstr(err, "cannot listen"));
		assert_null(strstr(err, "hunter2"));
	}
}

/* listen --json: notifications, idle and reconnected events, one flushed line each; SIGTERM → 0. */
static void
test_cli_listen_json(void **state)
{
	char *argv[] = {"pgcopyman", "listen", "--json", "--idle", "0.3", "--conn",
	                (char *) it_conninfo(1), "plain", "odd \"name\"", NULL};
	PGconn *admin = it_connect(1);
	child c;
	char line[16384], want[16384], big[8000];
	int saw_idle = 0;
	(void) state;

	spawn(&c, argv, NULL);
	wait_listening(admin, 5000);

	notify_ok("plain", "quote \" and\nnewline");
	do
		read_line(&c, line, sizeof line, 5000);
	while (strcmp(line, "{\"event\": \"idle\"}") == 0 && ++saw_idle);
	assert_non_null(strstr(line, "{\"channel\": \"plain\", \"payload\": \"quote \\\" and\\nnewline\", \"pid\": "));

	memset(big, 'b', 7999);
	big[7999] = '\0';
	notify_ok("odd \"name\"", big);
	do
		read_line(&c, line, sizeof line, 5000);
	while (strcmp(line, "{\"event\": \"idle\"}") == 0 && ++saw_idle);
	snprintf(want, sizeof want, "{\"channel\": \"odd \\\"name\\\"\", \"payload\": \"%s\", \"pid\": ", big);
	assert_memory_equal(line, want, strlen(want));

	/* Quiet: idle events. */
	read_line(&c, line, sizeof line, 2000);
	assert_string_equal(line, "{\"event\": \"idle\"}");

	/* Its backend terminated: reconnected, then notifications again. */
	{
		char *pid = it_scalar(admin, "SELECT pid FROM pg_stat_activity "
		                             "WHERE application_name = 'pgcopyman' "
		                             "AND (query LIKE 'LISTEN%%' OR query = '')");
		it_terminate(1, atoi(pid));
		free(pid);
	}
	do
		read_line(&c, line, sizeof line, 5000);
	while (strcmp(line, "{\"event\": \"idle\"}") == 0);
	/* The event says how long the connection was down. */
	assert_memory_equal(line, "{\"event\": \"reconnected\", \"gap_seconds\": ",
	                    strlen("{\"event\": \"reconnected\", \"gap_seconds\": "));
	wait_listening(admin, 5000);
	notify_ok("plain", "after");
	do
		read_line(&c, line, sizeof line, 5000);
	while (strcmp(line, "{\"event\": \"idle\"}") == 0);
	assert_non_null(strstr(line, "\"payload\": \"after\""));

	kill(c.pid, SIGTERM);
	{
		char err[4096];
		read_all(c.err, err, sizeof err, 5000);
		assert_non_null(strstr(err, "connection lost"));
	}
	assert_int_equal(reap(&c, 5000), 0);
	PQfinish(admin);
}

/* listen in text mode, connection from the PG* environment; SIGINT → 0. */
static void
test_cli_listen_text_env(void **state)
{
	PQconninfoOption *opts = PQconninfoParse(it_conninfo(1), NULL);
	static char envs[4][600];
	char *env[5] = {NULL};
	int k = 0;
	char *argv[] = {"pgcopyman", "listen", "text", NULL};
	PGconn *admin = it_connect(1), *b = it_connect(1);
	PGresult *res;
	child c;
	char line[1024], want[1024];
	(void) state;

	assert_non_null(opts);
	for (PQconninfoOption *o = opts; o->keyword; o++) {
		const char *var = strcmp(o->keyword, "host") == 0 ? "PGHOST"
		                : strcmp(o->keyword, "port") == 0 ? "PGPORT"
		                : strcmp(o->keyword, "dbname") == 0 ? "PGDATABASE"
		                : strcmp(o->keyword, "user") == 0 ? "PGUSER" : NULL;
		if (var && o->val && k < 4) {
			snprintf(envs[k], sizeof envs[k], "%s=%s", var, o->val);
			env[k] = envs[k];
			k++;
		}
	}
	PQconninfoFree(opts);

	spawn(&c, argv, env);
	wait_listening(admin, 5000);
	{
		const char *params[2] = {"text", "tab\there\\back"};
		res = PQexecParams(b, "SELECT pg_notify($1, $2)", 2, NULL, params, NULL, NULL, 0);
		assert_int_equal(PQresultStatus(res), PGRES_TUPLES_OK);
		PQclear(res);
	}
	read_line(&c, line, sizeof line, 5000);
	snprintf(want, sizeof want, "text\t%d\ttab\\there\\\\back", PQbackendPID(b));
	assert_string_equal(line, want);

	kill(c.pid, SIGINT);
	assert_int_equal(reap(&c, 5000), 0);
	PQfinish(admin);
	PQfinish(b);
}

IT_GROUP(notify_cli)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cli_usage),
		cmocka_unit_test(test_cli_listen_json),
		cmocka_unit_test(test_cli_listen_text_env),
	};
	return it_add_group("notify_cli", tests, NULL, NULL);
}
