/*
 * itest_tty.c: the command on a terminal, driven through a pseudo-terminal
 * (forkpty) as a person at a keyboard would: the password prompt against a
 * server with scram-sha-256 authentication -- once per server, reused by
 * every session of it (--jobs), echo off, never in the output or the process
 * title; -W and -w as in psql; no terminal: a hint instead of a hang; `copy
 * --from -` on a terminal says how to end the data; `listen` says what it
 * listens on.
 *
 * Cluster 1 is the source (trust); cluster 2 gets a role with a password and
 * a pg_hba.conf line asking it for scram-sha-256 (removed again at the end);
 * cluster 3 is a trust target.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util.h"

#define DB "tty17"
#define ROLE "pgcm_pw"
#define PASSWORD "Pw-Sentinel-17x"
#define PROMPT "Password for user " ROLE ": "
#define HBA_LINE "local all " ROLE " scram-sha-256\n"

typedef struct world {
	char *hba_path;
	char *hba_saved;          /* pg_hba.conf as it was */
	char *src_ci;             /* cluster 1, trust */
	char *pw_ci[2];           /* cluster 2 as the role, databases DB and DB "b" */
	char *trust_ci;           /* cluster 3, trust */
	char csv[64];             /* a small CSV file */
} world;

/* ------------------------------------------------------------------------
 * A pseudo-terminal session
 * ------------------------------------------------------------------------ */

typedef struct tty {
	pid_t pid;
	int master;
	char log[1 << 16];        /* everything the terminal showed */
	size_t len, seen;
	int eof;
} tty;

static void
tty_spawn(tty *t, const char *const *args)
{
	char bin[512];
	const char *argv[64];
	int n = 0;

	memset(t, 0, sizeof *t);
	argv[n++] = it_build_path("pgcopyman", bin, sizeof bin);
	for (int i = 0; args[i] && n < 63; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	t->pid = forkpty(&t->master, NULL, NULL, NULL);
	assert_true(t->pid >= 0);
	if (t->pid == 0) {
		alarm(120);
		execv(argv[0], (char *const *) argv);
		_exit(127);
	}
}

/* tty_read: what the terminal shows within ms (0: what is there now). */
static void
tty_read(tty *t, int ms)
{
	struct pollfd p = {.fd = t->master, .events = POLLIN, .revents = 0};

	if (t->eof || poll(&p, 1, ms) <= 0)
		return;
	{
		ssize_t n = read(t->master, t->log + t->len, sizeof t->log - 1 - t->len);
		if (n <= 0) {
			t->eof = 1;   /* EIO: every process on the terminal is gone */
			return;
		}
		t->len += (size_t) n;
		t->log[t->len] = '\0';
	}
}

/* tty_expect: until the terminal shows text after what was expected before; fails after ms. */
static void
tty_expect(tty *t, const char *text, int ms)
{
	for (int waited = 0;; waited += 50) {
		char *at = strstr(t->log + t->seen, text);
		if (at) {
			t->seen = (size_t) (at - t->log) + strlen(text);
			return;
		}
		if (waited >= ms || t->eof)
			fail_msg("the terminal did not show \"%s\" within %d ms; it shows:\n%s", text, ms, t->log);
		tty_read(t, 50);
	}
}

static void
tty_send(tty *t, const char *s)
{
	assert_int_equal(write(t->master, s, strlen(s)), (ssize_t) strlen(s));
}

/* tty_wait: the exit status, reading the terminal to its end (at most ms). */
static int
tty_wait(tty *t, int ms)
{
	int st;

	for (int waited = 0; !t->eof && waited < ms; waited += 50)
		tty_read(t, 50);
	assert_int_equal(waitpid(t->pid, &st, 0), t->pid);
	close(t->master);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}


/* no_secret_anywhere: the password is not on the terminal, nor in /proc/PID/{cmdline,environ} of pid. */
static void
no_secret_anywhere(const tty *t, pid_t pid)
{
	static const char *const files[] = {"cmdline", "environ"};

	if (strstr(t->log, PASSWORD))
		fail_msg("the password shows on the terminal:\n%s", t->log);
	for (int i = 0; pid > 0 && i < 2; i++) {
		char path[64], buf[65536];
		int fd;
		ssize_t n;
		snprintf(path, sizeof path, "/proc/%d/%s", (int) pid, files[i]);
		fd = open(path, O_RDONLY);
		if (fd < 0)
			continue;
		n = read(fd, buf, sizeof buf - 1);
		close(fd);
		for (ssize_t k = 0; k < n; k++)
			if (buf[k] == '\0')
				buf[k] = ' ';
		buf[n > 0 ? n : 0] = '\0';
		if (strstr(buf, PASSWORD))
			fail_msg("the password is in %s", path);
	}
}

/* ------------------------------------------------------------------------ */

static char *
with(const char *conninfo, const char *extra)
{
	size_t n = strlen(conninfo) + strlen(extra) + 2;
	char *s = malloc(n);

	assert_non_null(s);
	snprintf(s, n, "%s %s", conninfo, extra);
	return s;
}

static int
setup(void **state)
{
	world *w = calloc(1, sizeof *w);
	PGconn *admin;
	FILE *f;
	char *base;

	assert_non_null(w);
	it_create_database(1, DB);
	it_create_database(2, DB);
	it_create_database(2, DB "b");
	it_create_database(3, DB);
	{
		PGconn *c = it_connect_db(1, DB);
		it_exec(c, "CREATE TABLE t (id int PRIMARY KEY, v text); "
		           "INSERT INTO t SELECT g, 'v' || g FROM generate_series(1, 3000) g");
		PQfinish(c);
	}
	admin = it_connect(2);
	it_exec(admin, "DROP ROLE IF EXISTS " ROLE "; SET password_encryption = 'scram-sha-256'; "
	               "CREATE ROLE " ROLE " LOGIN PASSWORD '" PASSWORD "'");
	PQfinish(admin);
	for (int d = 0; d < 2; d++) {
		PGconn *c = it_connect_db(2, d ? DB "b" : DB);
		it_exec(c, "CREATE TABLE t (id int PRIMARY KEY, v text); GRANT SELECT, INSERT, TRUNCATE ON t TO " ROLE);
		PQfinish(c);
	}
	{
		PGconn *c = it_connect_db(3, DB);
		it_exec(c, "CREATE TABLE t (id int PRIMARY KEY, v text)");
		PQfinish(c);
	}

	/* scram-sha-256 for the role only: every other test's connection stays trust. */
	assert_non_null(getenv("PGCM_TEST_DATADIR_2"));
	w->hba_path = malloc(strlen(getenv("PGCM_TEST_DATADIR_2")) + 16);
	assert_non_null(w->hba_path);
	sprintf(w->hba_path, "%s/pg_hba.conf", getenv("PGCM_TEST_DATADIR_2"));
	w->hba_saved = it_slurp(w->hba_path);
	f = fopen(w->hba_path, "w");
	assert_non_null(f);
	fputs(HBA_LINE, f);
	fputs(w->hba_saved, f);
	assert_int_equal(fclose(f), 0);
	admin = it_connect(2);
	it_exec(admin, "SELECT pg_reload_conf()");
	PQfinish(admin);
	poll(NULL, 0, 300);

	w->src_ci = it_conninfo_db(1, DB);
	base = it_conninfo_db(2, DB);
	w->pw_ci[0] = with(base, "user=" ROLE);
	free(base);
	base = it_conninfo_db(2, DB "b");
	w->pw_ci[1] = with(base, "user=" ROLE);
	free(base);
	w->trust_ci = it_conninfo_db(3, DB);
	snprintf(w->csv, sizeof w->csv, "/tmp/pgcm-tty-%d.csv", (int) getpid());
	f = fopen(w->csv, "w");
	assert_non_null(f);
	fputs("1,one\n2,two\n3,three\n", f);
	assert_int_equal(fclose(f), 0);
	*state = w;
	return 0;
}

static int
teardown(void **state)
{
	world *w = *state;
	FILE *f = fopen(w->hba_path, "w");
	PGconn *admin;

	assert_non_null(f);
	fputs(w->hba_saved, f);
	assert_int_equal(fclose(f), 0);
	admin = it_connect(2);
	it_exec(admin, "SELECT pg_reload_conf()");
	PQfinish(admin);
	for (int d = 0; d < 2; d++) {
		PGconn *c = it_connect_db(2, d ? DB "b" : DB);
		it_exec(c, "DROP TABLE t");
		PQfinish(c);
	}
	admin = it_connect(2);
	it_exec(admin, "DROP ROLE " ROLE);
	PQfinish(admin);
	unlink(w->csv);
	free(w->hba_path);
	free(w->hba_saved);
	free(w->src_ci);
	free(w->pw_ci[0]);
	free(w->pw_ci[1]);
	free(w->trust_ci);
	free(w);
	return 0;
}

/* empty_targets: empty the targets again, for a test's second run. */
static void
empty_targets(void)
{
	for (int c = 2; c <= 3; c++) {
		PGconn *x = it_connect_db(c, DB);
		it_exec(x, "TRUNCATE t");
		PQfinish(x);
	}
	{
		PGconn *x = it_connect_db(2, DB "b");
		it_exec(x, "TRUNCATE t");
		PQfinish(x);
	}
}

static long long
rows_in(int cluster, const char *db)
{
	PGconn *c = it_connect_db(cluster, db);
	long long n = it_count(c, "t");

	PQfinish(c);
	return n;
}

/*
 * Two targets on one server as the role, in two databases, each loaded over
 * two sessions (--jobs 2): one prompt per database (host, port, user,
 * database), answered once for all its sessions; the password is never
 * shown, and never in the process title or environment.
 */
static void
test_prompt_once_per_server(void **state)
{
	world *w = *state;
	const char *args[] = {"copy", "--from", w->src_ci, "--to", w->pw_ci[0], "--to", w->pw_ci[1],
	                      "--table", "t", "--jobs", "2", NULL};
	tty t;

	tty_spawn(&t, args);
	tty_expect(&t, PROMPT, 30000);
	no_secret_anywhere(&t, t.pid);
	tty_send(&t, PASSWORD "\n");
	tty_expect(&t, PROMPT, 30000);
	tty_send(&t, PASSWORD "\n");
	assert_int_equal(tty_wait(&t, 60000), 0);
	no_secret_anywhere(&t, 0);
	if (it_count_text(t.log, PROMPT) != 2)
		fail_msg("want one prompt per database, got %d:\n%s", it_count_text(t.log, PROMPT), t.log);
	assert_int_equal(rows_in(2, DB), 3000);
	assert_int_equal(rows_in(2, DB "b"), 3000);
}

/* A wrong password: the server's refusal, one prompt, nothing loaded. */
static void
test_wrong_password(void **state)
{
	world *w = *state;
	const char *args[] = {"copy", "--from", w->src_ci, "--to", w->pw_ci[0], "--table", "t", NULL};
	tty t;

	tty_spawn(&t, args);
	tty_expect(&t, PROMPT, 30000);
	tty_send(&t, "not-the-password\n");
	assert_int_equal(tty_wait(&t, 30000), 1);
	if (!strstr(t.log, "password authentication failed for user \"" ROLE "\"") || it_count_text(t.log, PROMPT) != 1
	    || strstr(t.log, "not-the-password"))
		fail_msg("want the server's refusal after one prompt, the answer unseen:\n%s", t.log);
	assert_int_equal(rows_in(2, DB), 0);
}

/* -W asks before connecting, even where the server would not ask (trust). */
static void
test_password_flag_asks_first(void **state)
{
	world *w = *state;
	char from[96];
	const char *args[] = {"copy", "-W", "--from", from, "--to", w->trust_ci, "--table", "t", "--format", "csv",
	                      NULL};
	tty t;

	snprintf(from, sizeof from, "file:%s", w->csv);
	tty_spawn(&t, args);
	tty_expect(&t, "Password for user ", 30000);
	tty_send(&t, "anything\n");
	assert_int_equal(tty_wait(&t, 30000), 0);
	assert_int_equal(it_count_text(t.log, "Password for user "), 1);
	assert_int_equal(rows_in(3, DB), 3);

	/* Without -W a trust server gets no question. */
	empty_targets();
	args[1] = "--quiet";
	tty_spawn(&t, args);
	assert_int_equal(tty_wait(&t, 30000), 0);
	assert_null(strstr(t.log, "Password"));
	assert_int_equal(rows_in(3, DB), 3);
}

/* -w never asks, even on a terminal: the server's error and what to do instead. */
static void
test_no_password_flag_never_asks(void **state)
{
	world *w = *state;
	const char *args[] = {"copy", "-w", "--from", w->src_ci, "--to", w->pw_ci[0], "--table", "t", NULL};
	tty t;

	tty_spawn(&t, args);
	assert_int_equal(tty_wait(&t, 30000), 1);
	if (strstr(t.log, "Password for user") || !strstr(t.log, "no password supplied")
	    || !strstr(t.log, "-w (--no-password)"))
		fail_msg("want no prompt and the reason:\n%s", t.log);
}

/*
 * No terminal at all (a new session, stdin /dev/null): no prompt, no hang,
 * the server's error and where a password can be given.
 */
static void
test_no_terminal_says_what_to_do(void **state)
{
	world *w = *state;
	char cmd[2048], out[] = "/tmp/pgcm-tty-err.XXXXXX", bin[512];
	int fd = mkstemp(out), rc;
	char *err;

	assert_true(fd >= 0);
	close(fd);
	snprintf(cmd, sizeof cmd, "setsid -w '%s' copy --from '%s' --to '%s' --table t </dev/null >/dev/null 2>'%s'",
	         it_build_path("pgcopyman", bin, sizeof bin), w->src_ci, w->pw_ci[0], out);
	rc = it_system("timeout 60 %s", cmd);
	err = it_slurp(out);
	unlink(out);
	if (rc != 1 || !strstr(err, "no password supplied") || !strstr(err, "no terminal to ask")
	    || !strstr(err, "PGPASSWORD"))
		fail_msg("want exit 1 and what to do, got %d:\n%s", rc, err);
	free(err);

	/* listen the same. */
	snprintf(cmd, sizeof cmd, "setsid -w '%s' listen --conn '%s' news </dev/null >/dev/null 2>'%s'",
	         it_build_path("pgcopyman", bin, sizeof bin), w->pw_ci[0], out);
	rc = it_system("timeout 60 %s", cmd);
	err = it_slurp(out);
	unlink(out);
	if (rc != 1 || !strstr(err, "cannot listen") || !strstr(err, "PGPASSWORD"))
		fail_msg("listen: want exit 1 and what to do, got %d:\n%s", rc, err);
	free(err);
}

/* `copy --from -` on a terminal says how to end the data; typed rows and Ctrl-D load them. */
static void
test_from_terminal_says_how_to_end(void **state)
{
	world *w = *state;
	const char *args[] = {"copy", "--from", "-", "--to", w->trust_ci, "--table", "t", "--format", "csv", NULL};
	tty t;

	tty_spawn(&t, args);
	tty_expect(&t, "reading COPY data from the terminal; end with Ctrl-D", 30000);
	tty_send(&t, "1,typed\n2,rows\n");
	tty_send(&t, "\004");
	assert_int_equal(tty_wait(&t, 30000), 0);
	assert_int_equal(rows_in(3, DB), 2);

	/* Not a terminal: nothing said. */
	empty_targets();
	{
		it_run r = it_cli_full(w->csv, 0, 0, args);
		it_expect_status(&r, 0);
		assert_null(strstr(r.err, "from the terminal"));
		it_run_free(&r);
	}
}

/*
 * listen on a terminal, as the role: the prompt (the listener's own
 * connection gets the password), then "listening on ... (Ctrl-C to stop)"
 * once the LISTEN is in place, a notification, and Ctrl-C ends it (0).
 */
static void
test_listen_on_terminal(void **state)
{
	world *w = *state;
	const char *args[] = {"listen", "--conn", w->pw_ci[0], "news", NULL};
	PGconn *sender = it_connect_db(2, DB);
	tty t;

	tty_spawn(&t, args);
	tty_expect(&t, PROMPT, 30000);
	tty_send(&t, PASSWORD "\n");
	tty_expect(&t, "listening on news (Ctrl-C to stop)", 30000);
	it_exec(sender, "NOTIFY news, 'hello'");
	tty_expect(&t, "\thello", 30000);
	tty_send(&t, "\003");
	assert_int_equal(tty_wait(&t, 30000), 0);
	no_secret_anywhere(&t, 0);
	assert_int_equal(it_count_text(t.log, PROMPT), 1);
	PQfinish(sender);

	/* stderr not a terminal: no "listening on". */
	{
		const char *a2[] = {"listen", "--conn", w->trust_ci, "news", NULL};
		it_run r = it_cli_full(NULL, SIGTERM, 1500, a2);
		it_expect_status(&r, 0);
		assert_null(strstr(r.err, "listening on"));
		it_run_free(&r);
	}
}

IT_GROUP(tty)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_prompt_once_per_server),
		cmocka_unit_test(test_wrong_password),
		cmocka_unit_test(test_password_flag_asks_first),
		cmocka_unit_test(test_no_password_flag_never_asks),
		cmocka_unit_test(test_no_terminal_says_what_to_do),
		cmocka_unit_test(test_from_terminal_says_how_to_end),
		cmocka_unit_test(test_listen_on_terminal),
	};
	return it_add_group("tty", tests, setup, teardown);
}
