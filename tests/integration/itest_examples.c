/*
 * itest_examples.c: every example program under examples/ runs to its end
 * against the harness's clusters and says what it should.  Each example checks
 * itself and exits non-zero when its result is wrong; this program runs each
 * as a child (build/examples/NAME, from PGCM_BUILD), under `timeout`, and
 * asserts the exit status and the lines it prints.
 *
 *   itest_examples [PATTERN]   (cmocka test filter, e.g. "*cycle*")
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util.h"

/* Seconds an example may run before `timeout` stops it (the test's timeout). */
#define EXAMPLE_TIMEOUT "180"
#define MAX_ARGS 8

/* One environment variable to set in the child, or to unset when value is NULL. */
typedef struct env_var {
	const char *name;
	const char *value;
} env_var;

/*
 * run_example: run build/examples/NAME with args (NULL-terminated) and the
 * extra environment env[0..nenv), stdout and stderr captured together into
 * *out (malloc'd).  Returns the exit status, or 128 + the signal.
 */
static int
run_example(const char *name, const char *const *args, const env_var *env, size_t nenv,
            char **out)
{
	char rel[256], path[512];
	const char *argv[MAX_ARGS + 8];
	size_t argc = 0, len = 0, cap = 65536;
	char *buf = malloc(cap);
	int fds[2], status;
	pid_t pid;

	assert_non_null(buf);
	snprintf(rel, sizeof rel, "examples/%s", name);
	it_build_path(rel, path, sizeof path);
	if (access(path, X_OK) != 0) {
		print_error("%s: %s (build it with `make`)\n", path, strerror(errno));
		free(buf);
		fail();
	}
	argv[argc++] = "timeout";
	argv[argc++] = "--kill-after=10";
	argv[argc++] = EXAMPLE_TIMEOUT;
	argv[argc++] = path;
	for (size_t i = 0; args && args[i] && i < MAX_ARGS; i++)
		argv[argc++] = args[i];
	argv[argc] = NULL;

	assert_int_equal(pipe(fds), 0);
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		/* The child: the pipe is its stdout and stderr; then the example. */
		dup2(fds[1], STDOUT_FILENO);
		dup2(fds[1], STDERR_FILENO);
		close(fds[0]);
		close(fds[1]);
		for (size_t i = 0; i < nenv; i++) {
			if (env[i].value)
				setenv(env[i].name, env[i].value, 1);
			else
				unsetenv(env[i].name);
		}
		execvp(argv[0], (char *const *) argv);
		fprintf(stderr, "exec %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	close(fds[1]);
	for (;;) {
		ssize_t n;
		if (len + 1 == cap) {
			char *p = realloc(buf, cap * 2);
			assert_non_null(p);
			buf = p;
			cap *= 2;
		}
		n = read(fds[0], buf + len, cap - len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t) n;
	}
	buf[len] = '\0';
	close(fds[0]);
	while (waitpid(pid, &status, 0) < 0)
		assert_int_equal(errno, EINTR);
	*out = buf;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/*
 * has_line: out has a line equal to want, or, when want ends in "...", a
 * line starting with what comes before the dots.
 */
static int
has_line(const char *out, const char *want)
{
	size_t wlen = strlen(want);
	int prefix = wlen >= 3 && strcmp(want + wlen - 3, "...") == 0;
	const char *line = out;

	if (prefix)
		wlen -= 3;
	while (*line) {
		const char *end = strchr(line, '\n');
		size_t llen = end ? (size_t) (end - line) : strlen(line);
		if (prefix ? (llen >= wlen && strncmp(line, want, wlen) == 0)
		           : (llen == wlen && strncmp(line, want, wlen) == 0))
			return 1;
		if (!end)
			break;
		line = end + 1;
	}
	return 0;
}

/*
 * expect_example: run an example and fail the test, showing everything it
 * printed, unless it exits with status 0 and prints every line in want
 * (NULL-terminated).  Returns the output (malloc'd) for further checks.
 */
static char *
expect_example(const char *name, const char *const *args, const env_var *env, size_t nenv,
               const char *const *want)
{
	char *out = NULL;
	int status = run_example(name, args, env, nenv, &out);
	int ok = status == 0;

	for (size_t i = 0; want[i]; i++) {
		if (!has_line(out, want[i])) {
			print_error("%s: no line \"%s\"\n", name, want[i]);
			ok = 0;
		}
	}
	if (!ok) {
		print_error("%s exited with status %d%s; its output:\n%s\n", name, status,
		            status == 124 ? " (timed out)" : "", out);
		free(out);
		fail();
	}
	return out;
}

static void
test_transfer(void **state)
{
	const char *args[] = {it_conninfo(1), it_conninfo(2), NULL};
	const char *want[] = {
		"transferred 1000000 rows, 6888896 bytes",
		"loading_table: count 1000000, sum 500000500000",
		"transfer: OK",
		NULL
	};

	(void) state;
	free(expect_example("transfer", args, NULL, 0, want));
}

static void
test_cycle_loop(void **state)
{
	const char *args[] = {it_conninfo(1), it_conninfo(2), NULL};
	const char *want[] = {
		"committed",
		"loading_table: 1000000 rows",
		"cycle_loop: OK",
		NULL
	};
	char *out;
	const char *p;
	unsigned long cycles;

	(void) state;
	out = expect_example("cycle_loop", args, NULL, 0, want);
	/*
	 * The cycles' bytes add up to every byte of the copy.  How many cycles
	 * there were depends on the machine's speed (a step may move several
	 * chunks), so only "at least one" is certain.
	 */
	p = strncmp(out, "cycles: ", 8) == 0 ? out : strstr(out, "\ncycles: ");
	if (p && *p == '\n')
		p++;
	cycles = p ? strtoul(p + 8, NULL, 10) : 0;
	if (cycles < 1 || !strstr(p, ", rows: 1000000, bytes: 6888896\n")) {
		print_error("cycle_loop: expected cycles adding up to every byte:\n%s\n", out);
		free(out);
		fail();
	}
	free(out);
}

/* The manual's fault path: the target rejects row 32768; the fault is shown, both roll back. */
static void
test_cycle_loop_fault(void **state)
{
	const char *args[] = {it_conninfo(1), it_conninfo(2), "--reject", NULL};
	const char *want[] = {
		"fault: receiver 1...",
		"copy failed: no receiver is left",
		"rolled back",
		"loading_table: 0 rows",
		"cycle_loop: OK",
		NULL
	};

	(void) state;
	free(expect_example("cycle_loop", args, NULL, 0, want));
}

static void
test_iterator_to_callable(void **state)
{
	const char *want[] = {
		"produced 200000 rows, 5488895 bytes in ...",
		"received 5488895 bytes in ...",
		"iterator_to_callable: OK",
		NULL
	};
	char *out;
	int whole;

	(void) state;
	out = expect_example("iterator_to_callable", NULL, NULL, 0, want);
	/* The receiver must have been given whole rows only. */
	whole = strstr(out, " calls, each call whole rows\n") != NULL;
	free(out);
	assert_true(whole);
}

static void
test_iterator_to_statement(void **state)
{
	const char *args[] = {it_conninfo(2), NULL};
	const char *want[] = {
		"loaded 100000 rows, 2688895 bytes from ...",
		"copied back 100000 rows, 2688895 bytes",
		"round trip: 2688895 bytes identical",
		"iterator_to_statement: OK",
		NULL
	};

	(void) state;
	free(expect_example("iterator_to_statement", args, NULL, 0, want));
}

/*
 * Without a connection string the examples use the PG* environment: the
 * harness's connection string is handed over as PGHOST, PGPORT, PGDATABASE
 * and PGUSER instead.
 */
static void
test_examples_pg_environment(void **state)
{
	static const struct { const char *keyword, *var; } map[] = {
		{"host", "PGHOST"}, {"port", "PGPORT"}, {"dbname", "PGDATABASE"}, {"user", "PGUSER"},
		{"password", "PGPASSWORD"},
	};
	env_var env[16];
	size_t nenv = 0;
	char *err = NULL;
	PQconninfoOption *opts = PQconninfoParse(it_conninfo(2), &err);
	const char *want_stmt[] = {"iterator_to_statement: OK", NULL};
	const char *want_transfer[] = {"transfer: OK", NULL};

	(void) state;
	if (!opts) {
		print_error("cannot parse the connection string: %s\n", err ? err : "out of memory");
		PQfreemem(err);
		fail();
	}
	/* PGSERVICE and the like would override nothing, but keep the child's view clean. */
	env[nenv++] = (env_var) {"PGSERVICE", NULL};
	env[nenv++] = (env_var) {"PGOPTIONS", NULL};
	for (size_t m = 0; m < sizeof map / sizeof map[0]; m++) {
		env[nenv++] = (env_var) {map[m].var, NULL};
		for (PQconninfoOption *o = opts; o->keyword; o++)
			if (strcmp(o->keyword, map[m].keyword) == 0 && o->val)
				env[nenv - 1].value = o->val;
	}
	free(expect_example("iterator_to_statement", NULL, env, nenv, want_stmt));
	free(expect_example("transfer", NULL, env, nenv, want_transfer));
	PQconninfoFree(opts);
}

/* The notification examples, when they are built (they come from another change). */
static void
test_notifier_loop(void **state)
{
	const char *args[] = {it_conninfo(1), NULL};
	const char *want[] = {
		"jobs: one (from pid ...",
		"jobs: two (from pid ...",
		"jobs: three (from pid ...",
		NULL
	};

	(void) state;
	free(expect_example("notifier_loop", args, NULL, 0, want));
}

static void
test_listener(void **state)
{
	const char *args[] = {it_conninfo(1), NULL};
	const char *want[] = {"orders: order 1", "orders: order 2", "orders: order 3", NULL};

	(void) state;
	free(expect_example("listener", args, NULL, 0, want));
}

IT_GROUP(examples)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_transfer),
		cmocka_unit_test(test_cycle_loop),
		cmocka_unit_test(test_cycle_loop_fault),
		cmocka_unit_test(test_iterator_to_callable),
		cmocka_unit_test(test_iterator_to_statement),
		cmocka_unit_test(test_examples_pg_environment),
		cmocka_unit_test(test_notifier_loop),
		cmocka_unit_test(test_listener),
	};
	return it_add_group("examples", tests, NULL, NULL);
}
