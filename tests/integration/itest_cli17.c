/*
 * itest_cli17.c: the command behaves as psql and pg_dump users expect
 * (issue 17): a usage error points at --help; the first line of a failure is
 * its cause; a name SQL would fold gets a hint to quote it; a --query's
 * trailing ';' is fine; the same target twice is refused up front; a target
 * waiting on another session's lock says which while it waits;
 * --progress=json; a TRUNCATE refused for a foreign key is said once, with
 * the server's DETAIL and HINT; make demo prints no empty heading.
 *
 * Clusters: 1 is the source; 2 and 3 are targets; database "cli17" on each.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "util.h"

#define DB "cli17"
#define ROWS 5000
#define PROGRESS_HEAD "{\"event\": \"progress\", \"elapsed\": "

typedef struct world {
	PGconn *src, *dst[2];
	char *src_ci, *dst_ci[2];
} world;

static int
setup(void **state)
{
	world *w = calloc(1, sizeof *w);

	assert_non_null(w);
	for (int i = 1; i <= 3; i++)
		it_create_database(i, DB);
	w->src = it_connect_db(1, DB);
	w->src_ci = it_conninfo_db(1, DB);
	it_exec(w->src, "CREATE TABLE t (id int PRIMARY KEY, v text); "
	                "INSERT INTO t SELECT g, CASE WHEN g %% 10 = 0 THEN ';' ELSE 'v' || g END "
	                "FROM generate_series(1, %d) g", ROWS);
	for (int i = 0; i < 2; i++) {
		w->dst[i] = it_connect_db(i + 2, DB);
		w->dst_ci[i] = it_conninfo_db(i + 2, DB);
		it_exec(w->dst[i], "CREATE TABLE t (id int PRIMARY KEY, v text)");
	}
	*state = w;
	return 0;
}

static int
teardown(void **state)
{
	world *w = *state;

	if (!w)
		return 0;  /* setup failed before it made the world */

	PQfinish(w->src);
	free(w->src_ci);
	for (int i = 0; i < 2; i++) {
		PQfinish(w->dst[i]);
		free(w->dst_ci[i]);
	}
	free(w);
	return 0;
}

/* first_line: the first line of s (static copy). */
static const char *
first_line(const char *s)
{
	static char line[4096];
	size_t n = strcspn(s, "\n");

	if (n >= sizeof line)
		n = sizeof line - 1;
	memcpy(line, s, n);
	line[n] = '\0';
	return line;
}



/* ------------------------------------------------------------------------ */

/*
 * A usage error, of every subcommand, is the error and where to look
 * ('Try "pgcopyman copy --help" for more information.'), exit 2: not the
 * whole help.
 */
static void
test_usage_error_points_at_help(void **state)
{
	static const struct {
		const char *args[11];
		const char *says;
		const char *try;
	} cases[] = {
		{{"copy", "--from", "x", "--to", "y", "-t", "t", "--bogus"}, "unknown option \"--bogus\"", "copy"},
		{{"copy", "--to", "y", "-t", "t", NULL}, "--from is required", "copy"},
		{{"copy", "--from", "x", "--to", "y", "-t", "t", "--progress=xml"}, "--progress takes plain or json", "copy"},
		{{"copy", "--from", "x", "--to", "y", "--target-table", "t", "--query", "SELECT 1; SELECT 2"},
		 "one statement", "copy"},
		{{"copy", "--from", "x", "--to", "file:/tmp/a.csv", "-t", "t", "--compress", "3"},
		 "--compress applies to a compressed file target", "copy"},
		{{"listen", NULL}, "no CHANNEL", "listen"},
		{{"listen", "--bogus", "x", NULL}, "--bogus", "listen"},
		{{"notify", NULL}, "no CHANNEL", "notify"},
		{{"notify", "-c", NULL}, "needs an argument", "notify"},
		{{"compare", "--from", "x", NULL}, "--to is required", "compare"},
		{{"compare", "--from", "x", "--to", "y", "--bogus", NULL}, "unknown option \"--bogus\"", "compare"},
		{{"recover", "--bogus", NULL}, "unknown option \"--bogus\"", "recover"},
		{{"recover", "--state-dir", "/tmp", "extra", NULL}, "unexpected argument \"extra\"", "recover"},
		{{"frobnicate", NULL}, "unknown command", NULL},
	};
	(void) state;

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		const char *args[12];
		char want[128];
		int n = 0;
		it_run r;

		while (n < 11 && cases[i].args[n])
			args[n] = cases[i].args[n], n++;
		args[n] = NULL;
		r = it_cli_full(NULL, 0, 0, args);
		it_expect_status(&r, 2);
		snprintf(want, sizeof want, "Try \"pgcopyman%s%s --help\" for more information.\n",
		         cases[i].try ? " " : "", cases[i].try ? cases[i].try : "");
		if (!strstr(r.err, cases[i].says) || !strstr(r.err, want) || strstr(r.err, "Usage:")
		    || it_count_text(r.err, "\n") > 3)
			fail_msg("case %zu (%s): want \"%s\" and \"%s\" in at most 3 lines, no usage; stderr:\n%s", i,
			         args[0], cases[i].says, want, r.err);
		it_run_free(&r);
	}
	{
		it_run r = it_cli(NULL);
		it_expect_status(&r, 2);
		assert_non_null(strstr(r.err, "Try \"pgcopyman --help\" for more information."));
		it_run_free(&r);
	}
}

/*
 * A typo in the table name: the first line is the source's problem, naming
 * the source and the name; the targets' consequences are not what comes first.
 */
static void
test_typo_first_line_is_cause(void **state)
{
	world *w = *state;
	it_run r = it_cli("copy", "--from", w->src_ci, "--to", w->dst_ci[0], "--to", w->dst_ci[1],
	                  "--table", "tt");
	const char *line;

	it_expect_status(&r, 1);
	line = first_line(r.err);
	if (strncmp(line, "pgcopyman: source ", 18) != 0 || !strstr(line, "\"tt\" does not exist"))
		fail_msg("the first line should be the source's missing table, is: %s\n(all: %s)", line, r.err);
	assert_null(strstr(r.err, "target 1"));
	it_run_free(&r);

	/* Only the targets lack it: their problems are the cause, and come first. */
	it_exec(w->src, "CREATE TABLE only_here (id int)");
	r = it_cli("copy", "--from", w->src_ci, "--to", w->dst_ci[0], "--table", "only_here");
	it_expect_status(&r, 1);
	line = first_line(r.err);
	if (!strstr(line, "target 1") || !strstr(line, "only_here"))
		fail_msg("the first line should be target 1's missing table, is: %s", line);
	it_run_free(&r);
	it_exec(w->src, "DROP TABLE only_here");
}

/*
 * The source fails mid-copy (its backend terminated while a slow target
 * loads): the first line says the source failed; nothing is committed.
 */
static void
test_source_failure_mid_copy_first(void **state)
{
	world *w = *state;
	const char *args[] = {"copy", "--from", w->src_ci, "--to", w->dst_ci[0], "--to", w->dst_ci[1],
	                      "--table", "big", "--segment-size", "0", NULL};
	PGconn *admin = it_connect_db(1, DB);
	it_proc p;
	it_run r;
	char *pid = NULL;

	/* More than the window and the sockets hold, into a slow target: the source is still sending. */
	it_exec(w->src, "CREATE TABLE big AS SELECT g AS id, repeat('x', 200) AS v FROM generate_series(1, 100000) g");
	for (int i = 0; i < 2; i++)
		it_exec(w->dst[i], "CREATE TABLE big (id int, v text)");
	it_exec(w->dst[0], "CREATE FUNCTION slow() RETURNS trigger LANGUAGE plpgsql AS "
	                   "$$BEGIN PERFORM pg_sleep(0.001); RETURN NEW; END$$; "
	                   "CREATE TRIGGER slow BEFORE INSERT ON big FOR EACH ROW EXECUTE FUNCTION slow()");
	it_cli_spawn(&p, args, -1, 0);
	for (int waited = 0; waited < 20000; waited += 50) {
		pid = it_scalar(admin, "SELECT coalesce(max(pid), 0) FROM pg_stat_activity WHERE "
		                       "application_name = 'pgcopyman' AND query LIKE 'COPY%%TO STDOUT%%'");
		if (atoi(pid) > 0)
			break;
		free(pid);
		pid = NULL;
		poll(NULL, 0, 50);
	}
	assert_non_null(pid);
	poll(NULL, 0, 1000);
	it_terminate(1, atoi(pid));
	free(pid);
	r = it_cli_wait(&p, NULL);
	it_expect_status(&r, 1);
	if (!strstr(first_line(r.err), "source"))
		fail_msg("the first line should say the source failed, is: %s\n(all: %s)", first_line(r.err), r.err);
	assert_int_equal(it_count(w->dst[0], "big"), 0);
	assert_int_equal(it_count(w->dst[1], "big"), 0);
	it_run_free(&r);
	it_exec(w->src, "DROP TABLE big");
	for (int i = 0; i < 2; i++)
		it_exec(w->dst[i], "DROP TABLE big");
	PQfinish(admin);
}

/* "Mixed Case" unquoted: the error says how to quote it, and the quoted name works. */
static void
test_mixed_case_hint(void **state)
{
	world *w = *state;
	it_run r;

	r = it_cli("copy", "--from", w->src_ci, "--to", w->dst_ci[0], "--table", "Mixed Case");
	it_expect_status(&r, 1);
	assert_non_null(strstr(first_line(r.err), "Mixed Case"));
	if (!strstr(r.err, "hint:") || !strstr(r.err, "--table '\"Mixed Case\"'"))
		fail_msg("no hint to quote the name: %s", r.err);
	it_run_free(&r);

	/* The table exists in another case: the hint names it. */
	it_exec(w->src, "CREATE TABLE \"MixedCase\" (id int); INSERT INTO \"MixedCase\" VALUES (1), (2)");
	it_exec(w->dst[0], "CREATE TABLE \"MixedCase\" (id int)");
	r = it_cli("copy", "--from", w->src_ci, "--to", w->dst_ci[0], "--table", "MixedCase");
	it_expect_status(&r, 1);
	if (!strstr(r.err, "there is a table named \"MixedCase\"") || !strstr(r.err, "--table '\"MixedCase\"'"))
		fail_msg("no hint naming \"MixedCase\": %s", r.err);
	it_run_free(&r);
	/* As the hint says. */
	r = it_cli("copy", "--from", w->src_ci, "--to", w->dst_ci[0], "--table", "\"MixedCase\"");
	it_expect_status(&r, 0);
	assert_int_equal(it_count(w->dst[0], "\"MixedCase\""), 2);
	it_run_free(&r);

	/* A target table name: the hint names --target-table. */
	r = it_cli("copy", "--from", w->src_ci, "--to", w->dst_ci[0], "--table", "t", "--target-table",
	           "Other Name");
	it_expect_status(&r, 1);
	if (!strstr(r.err, "--target-table '\"Other Name\"'"))
		fail_msg("no hint for --target-table: %s", r.err);
	it_run_free(&r);
	it_exec(w->src, "DROP TABLE \"MixedCase\"");
	it_exec(w->dst[0], "DROP TABLE \"MixedCase\"");
}

/* --query "...;" works: the ';' and a comment after it go; a ';' in a string stays. */
static void
test_query_trailing_semicolon(void **state)
{
	world *w = *state;
	it_run r = it_cli("copy", "--from", w->src_ci, "--to", w->dst_ci[0], "--target-table", "t",
	                  "--query", "SELECT id, v FROM t WHERE v <> ';' ;  -- all but the semicolons\n");

	it_expect_status(&r, 0);
	assert_int_equal(it_count(w->dst[0], "t"), ROWS - ROWS / 10);
	it_run_free(&r);
	it_exec(w->dst[0], "TRUNCATE t");
}

/*
 * The same target twice, however spelled, is refused before anything moves
 * (it used to wait on its own lock until the stall timeout): a server as a
 * key=value string and as a URI; a file by two paths; stdout twice.
 */
static void
test_duplicate_targets_refused(void **state)
{
	world *w = *state;
	char *host = it_scalar(w->dst[0], "SELECT current_setting('unix_socket_directories')");
	char uri[1024], other[1024], a[256], b[256];
	it_run r;

	/* postgresql://user@%2Fsocket%2Fdir/db: the same server, spelled another way. */
	{
		size_t n = 0;
		n += (size_t) snprintf(uri + n, sizeof uri - n, "postgresql://%s@", PQuser(w->dst[0]));
		for (const char *c = host; *c && n < sizeof uri - 4; c++)
			n += (size_t) (*c == '/' ? snprintf(uri + n, sizeof uri - n, "%%2F")
			                         : snprintf(uri + n, sizeof uri - n, "%c", *c));
		snprintf(uri + n, sizeof uri - n, ":%s/%s?application_name=other", PQport(w->dst[0]), DB);
	}
	r = it_cli("copy", "--from", w->src_ci, "--to", w->dst_ci[0], "--to", w->dst_ci[1], "--to", uri,
	           "--table", "t", "--truncate");
	it_expect_status(&r, 2);
	if (!strstr(r.err, "target 3") || !strstr(r.err, "same table as target 1"))
		fail_msg("not refused as the same table: %s", r.err);
	assert_true(r.seconds < 30);
	assert_int_equal(it_count(w->dst[0], "t"), 0);
	assert_int_equal(it_count(w->dst[1], "t"), 0);
	it_run_free(&r);

	/* Another database on the same server is another target. */
	it_create_database(2, DB "_other");
	{
		PGconn *c = it_connect_db(2, DB "_other");
		char *ci = it_conninfo_db(2, DB "_other");
		it_exec(c, "CREATE TABLE t (id int PRIMARY KEY, v text)");
		snprintf(other, sizeof other, "%s", ci);
		r = it_cli("copy", "--from", w->src_ci, "--to", w->dst_ci[0], "--to", other, "--table", "t");
		it_expect_status(&r, 0);
		assert_int_equal(it_count(c, "t"), ROWS);
		it_run_free(&r);
		free(ci);
		PQfinish(c);
		it_exec(w->dst[0], "TRUNCATE t");
	}

	/* One file by two names. */
	snprintf(a, sizeof a, "file:/tmp/pgcm-dup-%d.csv", (int) getpid());
	snprintf(b, sizeof b, "file:/tmp/../tmp/pgcm-dup-%d.csv", (int) getpid());
	r = it_cli("copy", "--from", w->src_ci, "--to", a, "--to", b, "--table", "t");
	it_expect_status(&r, 2);
	assert_non_null(strstr(r.err, "same file as target 1"));
	assert_int_equal(access(a + 5, F_OK), -1);
	it_run_free(&r);

	/* stdout, as "-" and as /dev/stdout. */
	r = it_cli("copy", "--from", w->src_ci, "--to", "-", "--to", "file:/dev/stdout", "--table", "t");
	it_expect_status(&r, 2);
	assert_non_null(strstr(r.err, "same file as target 1"));
	assert_string_equal(r.out, "");
	it_run_free(&r);
	free(host);
}

/*
 * holder: a session on cluster 2 named "lockholder" holding an ACCESS
 * EXCLUSIVE lock on t in an open transaction.  Returns it (COMMIT to release).
 */
static PGconn *
holder(void)
{
	PGconn *h = it_connect_db(2, DB);

	it_exec(h, "SET application_name = 'lockholder'; BEGIN; LOCK TABLE t IN ACCESS EXCLUSIVE MODE");
	return h;
}

/*
 * A target waiting on another session's lock says so while it waits, with
 * the holder's pid and application_name; once the lock goes the copy
 * completes.  The same for --truncate (the TRUNCATE waits), and in the JSON
 * progress lines.
 */
static void
test_lock_wait_reported(void **state)
{
	world *w = *state;
	const char *modes[][3] = {{"--progress", NULL, NULL}, {"--truncate", NULL, NULL},
	                          {"--progress=json", NULL, NULL}};

	for (size_t m = 0; m < sizeof modes / sizeof modes[0]; m++) {
		PGconn *h = holder();
		const char *args[] = {"copy", "--from", w->src_ci, "--to", w->dst_ci[0], "--table", "t",
		                      modes[m][0], NULL};
		char want[256], *err;
		it_proc p;
		it_run r;

		snprintf(want, sizeof want, "waiting for a lock on public.t (%s) held by pid %d (lockholder, ",
		         m == 1 ? "AccessExclusiveLock" : "RowExclusiveLock", PQbackendPID(h));
		it_cli_spawn(&p, args, -1, 0);
		err = it_wait_file_text(p.err, want, 30000);
		free(err);
		if (m == 2) {
			/* The next progress line shows the target waiting, and on what. */
			err = it_wait_file_text(p.err, "\"state\": \"waiting\", \"rows\": 0, \"waiting_for\": \"waiting for "
			                           "a lock on public.t", 10000);
			free(err);
		}
		it_exec(h, "COMMIT");
		r = it_cli_wait(&p, NULL);
		it_expect_status(&r, 0);
		assert_int_equal(it_count(w->dst[0], "t"), ROWS);
		it_run_free(&r);
		it_exec(w->dst[0], "TRUNCATE t");
		PQfinish(h);
	}
}

/* A stall that was a lock wait: the fault says which lock. */
static void
test_lock_wait_in_stall_fault(void **state)
{
	world *w = *state;
	PGconn *h = holder();
	char want[128];
	it_run r = it_cli("copy", "--from", w->src_ci, "--to", w->dst_ci[0], "--table", "t",
	                  "--stall-timeout", "4", "--json");

	it_expect_status(&r, 1);
	snprintf(want, sizeof want, "it was waiting for a lock on public.t (RowExclusiveLock) held by pid %d",
	         PQbackendPID(h));
	if (!strstr(r.err, want) || !strstr(r.out, want))
		fail_msg("the stall fault does not name the lock (\"%s\"):\nstderr: %s\nstdout: %s", want, r.err, r.out);
	it_run_free(&r);
	it_exec(h, "COMMIT");
	PQfinish(h);
	assert_int_equal(it_count(w->dst[0], "t"), 0);
}

/* is_json_object_line: one line, from '{' to '}', with balanced braces and brackets outside strings. */
static int
is_json_object_line(const char *s, size_t len)
{
	int depth = 0, in_str = 0;

	if (len < 2 || s[0] != '{' || s[len - 1] != '}')
		return 0;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		if (in_str) {
			if (c == '\\')
				i++;
			else if (c == '"')
				in_str = 0;
			continue;
		}
		if (c == '"')
			in_str = 1;
		else if (c == '{' || c == '[')
			depth++;
		else if (c == '}' || c == ']')
			depth--;
		if (depth < 0 || (depth == 0 && i + 1 < len))
			return 0;
	}
	return depth == 0 && !in_str;
}

/*
 * --progress=json: while the copy runs, one JSON object a line on stderr
 * (rows, bytes, rates, percent, each target's state), the last one final with
 * every row and each target done; --progress alone stays plain lines.
 */
static void
test_progress_json(void **state)
{
	world *w = *state;
	it_run r;
	const char *line, *last = NULL;
	int objects = 0;

	/* A target that takes a few seconds. */
	it_exec(w->dst[1], "CREATE FUNCTION slow() RETURNS trigger LANGUAGE plpgsql AS "
	                   "$$BEGIN PERFORM pg_sleep(0.0005); RETURN NEW; END$$; "
	                   "CREATE TRIGGER slow BEFORE INSERT ON t FOR EACH ROW EXECUTE FUNCTION slow()");
	it_exec(w->src, "ANALYZE t");
	r = it_cli("copy", "--from", w->src_ci, "--to", w->dst_ci[0], "--to", w->dst_ci[1], "--table", "t",
	           "--progress=json", "--segment-size", "0");
	it_expect_status(&r, 0);
	for (line = r.err; *line; line += strcspn(line, "\n") + (line[strcspn(line, "\n")] ? 1 : 0)) {
		size_t n = strcspn(line, "\n");
		if (line[0] != '{')
			continue;
		if (!is_json_object_line(line, n))
			fail_msg("not one JSON object: %.*s", (int) n, line);
		if (strncmp(line, PROGRESS_HEAD, strlen(PROGRESS_HEAD)) != 0 || !strstr(line, "\"rows\": ")
		    || !strstr(line, "\"bytes\": ") || !strstr(line, "\"bytes_per_second\": ")
		    || !strstr(line, "\"percent\": ") || !strstr(line, "\"targets\": [{\"target\": 1, \"state\": "))
			fail_msg("a progress line lacks a field: %.*s", (int) n, line);
		objects++;
		last = line;
	}
	if (objects < 2 || !last)
		fail_msg("want a few JSON progress lines, got %d:\n%s", objects, r.err);
	{
		char want[256];
		snprintf(want, sizeof want, "\"rows\": %d, ", ROWS);
		if (!strstr(last, want) || !strstr(last, "\"percent\": 100") || !strstr(last, "\"final\": true")
		    || it_count_text(first_line(last), "\"state\": \"done\"") != 2)
			fail_msg("the last line should be final, with every row and both targets done: %s",
			         first_line(last));
	}
	it_run_free(&r);
	it_exec(w->dst[0], "TRUNCATE t");
	it_exec(w->dst[1], "TRUNCATE t");

	r = it_cli("copy", "--from", w->src_ci, "--to", w->dst_ci[1], "--table", "t", "--progress");
	it_expect_status(&r, 0);
	assert_null(strstr(r.err, "{\""));
	assert_non_null(strstr(r.err, " elapsed "));
	it_run_free(&r);
	it_exec(w->dst[1], "TRUNCATE t; DROP TRIGGER slow ON t; DROP FUNCTION slow()");
}

/*
 * --truncate on a table another table's foreign key references: the
 * server's error is said once, with its DETAIL and HINT; nothing loaded.
 */
static void
test_truncate_foreign_key_said_once(void **state)
{
	world *w = *state;
	it_run r;

	it_exec(w->dst[0], "INSERT INTO t VALUES (1, 'kept'); CREATE TABLE child (id int REFERENCES t (id))");
	r = it_cli("copy", "--from", w->src_ci, "--to", w->dst_ci[0], "--table", "t", "--truncate");
	it_expect_status(&r, 1);
	if (it_count_text(r.err, "cannot truncate a table referenced in a foreign key constraint") != 1
	    || !strstr(r.err, "DETAIL: Table \"child\" references \"t\".") || !strstr(r.err, "HINT: Truncate table"))
		fail_msg("want the error once, with its DETAIL and HINT: %s", r.err);
	if (strstr(r.err, "BEGIN failed") || !strstr(r.err, "SQLSTATE 0A000"))
		fail_msg("want the TRUNCATE named with its SQLSTATE, no BEGIN failure: %s", r.err);
	assert_int_equal(it_count(w->dst[0], "t"), 1);
	it_run_free(&r);
	/* The JSON summary is still printed, with the target's reason. */
	r = it_cli("copy", "--from", w->src_ci, "--to", w->dst_ci[0], "--table", "t", "--truncate", "--json");
	it_expect_status(&r, 1);
	if (!strstr(r.out, "\"status\": \"faulted\"") || !strstr(r.out, "cannot truncate a table referenced"))
		fail_msg("want the JSON summary with the fault: %s", r.out);
	assert_int_equal(it_count(w->dst[0], "t"), 1);
	it_run_free(&r);
	it_exec(w->dst[0], "DROP TABLE child; TRUNCATE t");
}

/* make demo's body: every heading it prints has something under it. */
static void
test_demo_has_no_empty_heading(void **state)
{
	char out_path[] = "/tmp/pgcm-demo-out.XXXXXX", *out;
	int fd = mkstemp(out_path);
	(void) state;

	assert_true(fd >= 0);
	close(fd);
	for (int i = 1; i <= 3; i++) {
		PGconn *c = it_connect(i);
		it_exec(c, "DROP TABLE IF EXISTS demo_rows");
		PQfinish(c);
	}
	if (it_system("PGCM_DEMO_ROWS=2000 bash tests/demo-run.sh >'%s' 2>&1", out_path) != 0) {
		out = it_slurp(out_path);
		fail_msg("tests/demo-run.sh failed:\n%s", out);
	}
	out = it_slurp(out_path);
	for (const char *line = out; *line; line += strcspn(line, "\n") + 1) {
		size_t n = strcspn(line, "\n");
		const char *next = line + n + (line[n] ? 1 : 0);
		if (n > 1 && line[n - 1] == ':' && line[0] != ' ' && (*next == '\n' || *next == '\0'
		                                                      || strncmp(next, "====", 4) == 0))
			fail_msg("demo heading \"%.*s\" has nothing under it:\n%s", (int) n, line, out);
		if (!line[n])
			break;
	}
	assert_null(strstr(out, "Human summary (stderr):"));
	free(out);
	unlink(out_path);
	for (int i = 1; i <= 3; i++) {
		PGconn *c = it_connect(i);
		it_exec(c, "DROP TABLE IF EXISTS demo_rows");
		PQfinish(c);
	}
}

IT_GROUP(cli17)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_usage_error_points_at_help),
		cmocka_unit_test(test_typo_first_line_is_cause),
		cmocka_unit_test(test_source_failure_mid_copy_first),
		cmocka_unit_test(test_mixed_case_hint),
		cmocka_unit_test(test_query_trailing_semicolon),
		cmocka_unit_test(test_duplicate_targets_refused),
		cmocka_unit_test(test_lock_wait_reported),
		cmocka_unit_test(test_lock_wait_in_stall_fault),
		cmocka_unit_test(test_progress_json),
		cmocka_unit_test(test_truncate_foreign_key_said_once),
		cmocka_unit_test(test_demo_has_no_empty_heading),
	};
	return it_add_group("cli17", tests, setup, teardown);
}
