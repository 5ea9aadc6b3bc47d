/*
 * runner.c: the one integration test program, build/tests/itest.
 *
 *   build/tests/itest [--list] [PATTERN...]
 *
 * Every tests/integration/itest_*.c file declares its groups with IT_GROUP
 * (util.h), which registers them before main() runs; the runner collects
 * their tests, keeps those a pattern names, and runs each in a child process
 * of its own.  A child has a time limit (PGCM_TEST_TIMEOUT seconds, default
 * 300): a test stuck in a libpq call or a poll() is killed with its process
 * group and fails with its name, and the next test runs.  The children print
 * cmocka's usual lines, one group of one test each, so `[  PASSED  ] 1
 * test(s).` adds up over the run as it did over the old programs; a child
 * that dies without its summary (timeout, signal, sanitizer) gets a
 * `[  FAILED  ]` block from the runner.
 *
 * A PATTERN (shell wildcards) with a slash matches "group/test"; without one
 * it matches the group or the test name.  PGCM_TEST_FILTER, when set, is one
 * more pattern.  No pattern: every test.
 */
#include <errno.h>
#include <fnmatch.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "util.h"

#define DEFAULT_TIMEOUT_S 300
/* A child's exit status when cmocka reported the failure itself. */
#define CHILD_FAILED 99

typedef struct group {
	const char *name;
	struct CMUnitTest *tests;
	size_t n;
	CMFixtureFunction setup;
	CMFixtureFunction teardown;
} group;

/* The registry: filled by the constructors of the test files, then by collect(). */
static it_group_fn *group_fns;
static size_t ngroup_fns;
static group *groups;
static size_t ngroups;

void
it_register_group(it_group_fn fn)
{
	it_group_fn *n = realloc(group_fns, (ngroup_fns + 1) * sizeof *n);

	if (!n) {
		perror("itest: register");
		exit(2);
	}
	group_fns = n;
	group_fns[ngroup_fns++] = fn;
}

int
it__add_group(const char *name, const struct CMUnitTest *tests, size_t n, CMFixtureFunction setup,
              CMFixtureFunction teardown)
{
	group *ng = realloc(groups, (ngroups + 1) * sizeof *ng);
	group *g;

	if (!ng) {
		perror("itest: add group");
		exit(2);
	}
	groups = ng;
	g = &groups[ngroups++];
	g->name = name;
	g->n = n;
	g->setup = setup;
	g->teardown = teardown;
	g->tests = malloc((n ? n : 1) * sizeof *g->tests);
	if (!g->tests) {
		perror("itest: add group");
		exit(2);
	}
	memcpy(g->tests, tests, n * sizeof *tests);
	return 0;
}

/* selected: a test is run when no pattern is given or one of them names it. */
static int
selected(const char *gname, const char *tname, char **patterns, int npatterns)
{
	char full[512];

	if (npatterns == 0)
		return 1;
	snprintf(full, sizeof full, "%s/%s", gname, tname);
	for (int i = 0; i < npatterns; i++) {
		const char *p = patterns[i];
		if (strchr(p, '/') ? fnmatch(p, full, 0) == 0
		                   : fnmatch(p, gname, 0) == 0 || fnmatch(p, tname, 0) == 0)
			return 1;
	}
	return 0;
}

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

/*
 * wait_child: wait for pid at most timeout_s seconds.  SIGCHLD is blocked in
 * the runner, so sigtimedwait() wakes as soon as the child ends.  Returns 1
 * with its status, or 0 when it was killed (with its process group) for
 * running too long.
 */
static int
wait_child(pid_t pid, double timeout_s, int *status)
{
	double deadline = now_s() + timeout_s;
	sigset_t chld;

	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	for (;;) {
		double left = deadline - now_s();
		struct timespec ts;
		pid_t r = waitpid(pid, status, WNOHANG);

		if (r == pid)
			return 1;
		if (r < 0 && errno != EINTR) {
			perror("itest: waitpid");
			exit(2);
		}
		if (left <= 0) {
			kill(-pid, SIGKILL);
			kill(pid, SIGKILL);
			while (waitpid(pid, status, 0) < 0 && errno == EINTR)
				;
			return 0;
		}
		if (left > 1)
			left = 1;   /* also look again now and then: a signal may have been taken */
		ts.tv_sec = (time_t) left;
		ts.tv_nsec = (long) ((left - (double) ts.tv_sec) * 1e9);
		(void) sigtimedwait(&chld, NULL, &ts);
	}
}

/*
 * run_one_test: test i of group g in a child of its own, in a process group of
 * its own so that a timeout also ends the commands it started.  Returns 1
 * when it passed.
 */
static int
run_one_test(const group *g, size_t i, int timeout_s, const sigset_t *saved_mask)
{
	char why[128];
	int status = 0;
	pid_t pid;

	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid < 0) {
		perror("itest: fork");
		exit(2);
	}
	if (pid == 0) {
		int failed;
		setpgid(0, 0);
		sigprocmask(SIG_SETMASK, saved_mask, NULL);
		failed = _cmocka_run_group_tests(g->name, &g->tests[i], 1, g->setup, g->teardown);
		exit(failed ? CHILD_FAILED : 0);
	}
	setpgid(pid, pid);
	if (!wait_child(pid, timeout_s, &status))
		snprintf(why, sizeof why, "timed out after %d s (PGCM_TEST_TIMEOUT)", timeout_s);
	else if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 1;
	else if (WIFEXITED(status) && WEXITSTATUS(status) == CHILD_FAILED)
		return 0;   /* cmocka said so, with the reason */
	else if (WIFEXITED(status))
		snprintf(why, sizeof why, "exited with status %d", WEXITSTATUS(status));
	else
		snprintf(why, sizeof why, "killed by signal %d", WTERMSIG(status));
	/* The child could not say it: say it in cmocka's words, so the counts add up. */
	printf("[  FAILED  ] 1 test(s), listed below:\n[  FAILED  ] %s/%s: %s\n", g->name,
	       g->tests[i].name, why);
	return 0;
}

int
main(int argc, char **argv)
{
	char **patterns = calloc((size_t) argc + 1, sizeof *patterns);
	const char *env_timeout = getenv("PGCM_TEST_TIMEOUT");
	int npatterns = 0, list = 0, timeout_s = DEFAULT_TIMEOUT_S;
	size_t run = 0, passed = 0;
	char **failed_names;
	size_t nfailed = 0, total = 0;
	sigset_t chld, saved;

	if (!patterns)
		return 2;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--list") == 0)
			list = 1;
		else if (strcmp(argv[i], "--help") == 0) {
			printf("usage: %s [--list] [PATTERN...]\n"
			       "  PATTERN: group/test with shell wildcards, or a group or test name\n"
			       "  environment: PGCM_TEST_FILTER (one more pattern), PGCM_TEST_TIMEOUT "
			       "(seconds per test, default %d)\n", argv[0], DEFAULT_TIMEOUT_S);
			return 0;
		} else
			patterns[npatterns++] = argv[i];
	}
	if (getenv("PGCM_TEST_FILTER") && *getenv("PGCM_TEST_FILTER"))
		patterns[npatterns++] = getenv("PGCM_TEST_FILTER");
	if (env_timeout && atoi(env_timeout) > 0)
		timeout_s = atoi(env_timeout);

	for (size_t i = 0; i < ngroup_fns; i++)
		(void) group_fns[i]();
	for (size_t g = 0; g < ngroups; g++)
		total += groups[g].n;
	failed_names = calloc(total + 1, sizeof *failed_names);
	if (!failed_names)
		return 2;

	/* A test's child that dies must not take the runner (or the test) with it. */
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	sigprocmask(SIG_BLOCK, &chld, &saved);
	for (size_t g = 0; g < ngroups; g++) {
		for (size_t i = 0; i < groups[g].n; i++) {
			const char *tname = groups[g].tests[i].name;
			if (!selected(groups[g].name, tname, patterns, npatterns))
				continue;
			if (list) {
				printf("%s/%s\n", groups[g].name, tname);
				continue;
			}
			run++;
			if (run_one_test(&groups[g], i, timeout_s, &saved)) {
				passed++;
			} else {
				size_t n = strlen(groups[g].name) + strlen(tname) + 2;
				failed_names[nfailed] = malloc(n);
				if (failed_names[nfailed])
					snprintf(failed_names[nfailed++], n, "%s/%s", groups[g].name, tname);
			}
		}
	}
	if (list)
		return 0;
	if (run == 0) {
		fprintf(stderr, "itest: no test matches the pattern(s) given\n");
		return 2;
	}
	printf("== itest: %zu test(s) run, %zu passed, %zu failed\n", run, passed, run - passed);
	for (size_t i = 0; i < nfailed; i++)
		printf("== itest: FAILED %s\n", failed_names[i]);
	for (size_t i = 0; i < nfailed; i++)
		free(failed_names[i]);
	free(failed_names);
	for (size_t g = 0; g < ngroups; g++)
		free(groups[g].tests);
	free(groups);
	free(group_fns);
	free(patterns);
	return passed == run ? 0 : 1;
}
