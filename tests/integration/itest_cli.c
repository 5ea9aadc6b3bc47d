/*
 * itest_cli.c: `pgcopyman copy` as a user runs it: exit statuses, the JSON
 * summary, faulted targets, --on-fault abort, signals, secrets kept out of
 * every output, quoted names, files, stdin and stdout.
 *
 * Clusters: 1 is the source; 2 and 3 are targets.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "util.h"

#define ROWS 20000
#define SENTINEL IT_SECRET

typedef it_world world;

IT_WORLD_FIXTURE(2, ROWS, 0)

/* slow_down: a trigger that sleeps per row on t, so a copy into conn lasts seconds. */
static void
slow_down(PGconn *conn, const char *sleep_per_row)
{
	it_exec(conn, "CREATE OR REPLACE FUNCTION slow() RETURNS trigger LANGUAGE plpgsql AS "
	              "$$BEGIN PERFORM pg_sleep(%s); RETURN NEW; END$$; "
	              "CREATE TRIGGER slow BEFORE INSERT ON t FOR EACH ROW EXECUTE FUNCTION slow()",
	        sleep_per_row);
}

static void
speed_up(PGconn *conn)
{
	it_exec(conn, "DROP TRIGGER slow ON t; DROP FUNCTION slow()");
}

/* spawn_copy: pgcopyman copy of t to the first target in the background (output discarded). */
static pid_t
spawn_copy(const world *w, const char *jobs)
{
	char bin[512];
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		int fd = open("/dev/null", O_WRONLY);
		dup2(fd, 1);
		dup2(fd, 2);
		execl(it_build_path("pgcopyman", bin, sizeof bin), "pgcopyman", "copy", "--from", w->src_ci,
		      "--to", w->dst_ci[0], "--table", "t", "--jobs", jobs, (char *) NULL);
		_exit(127);
	}
	return pid;
}

static void
no_secret(const it_run *r)
{
	assert_null(strstr(r->out, SENTINEL));
	assert_null(strstr(r->err, SENTINEL));
}

static void
test_copy_two_targets_json(void **state)
{
	world *w = *state;
	it_run r = it_cli("copy", "--from", w->src_ci, "--to", w->dst_ci[0], "--to", w->dst_ci[1],
	                "--table", "t", "--json");
	char *want = it_table_checksum(w->src, "t");

	it_expect_status(&r, 0);
	no_secret(&r);
	assert_non_null(strstr(r.out, "\"rows\": 20000"));
	assert_non_null(strstr(r.out, "\"format\": \"binary\""));
	assert_non_null(strstr(r.out, "\"status\": \"ok\", \"rows\": 20000"));
	assert_non_null(strstr(r.out, "password=********"));
	/* With --json the summary is the JSON alone: nothing on stderr. */
	assert_string_equal(r.err, "");
	for (int i = 0; i < 2; i++) {
		char *got = it_table_checksum(w->dst[i], "t");
		assert_string_equal(got, want);
		free(got);
	}
	free(want);
	it_run_free(&r);

	/* Every format round-trips; --truncate empties the targets first. */
	for (int f = 0; f < 3; f++) {
		const char *fmt[] = {"text", "csv", "binary"};
		r = it_cli("copy", "--from", w->src_ci, "--to", w->dst_ci[0], "--table", "t", "--format",
		            fmt[f], "--truncate", "--quiet");
		it_expect_status(&r, 0);
		assert_string_equal(r.err, "");
		assert_int_equal(it_count(w->dst[0], "t"), ROWS);
		it_run_free(&r);
	}
}

static void
test_usage_errors(void **state)
{
	world *w = *state;
	struct {
		const char *args[10];
		const char *says;
	} cases[] = {
		{{"copy", "--to", "x", "--table", "t", NULL}, "--from is required"},
		{{"copy", "--from", "x", "--table", "t", NULL}, "--to is required"},
		{{"copy", "--from", "x", "--to", "y", NULL}, "--table or --query"},
		{{"copy", "--from", "x", "--to", "y", "--table", "t", "--bogus"}, "unknown option \"--bogus\""},
		{{"copy", "--from", "x", "--to", "y", "-t", "t", "--format"}, "needs a value"},
		{{"copy", "--from", "x", "--to", "y", "-t", "t", "-f", "xml", NULL}, "--format must be"},
		{{"copy", "--from", "x", "--to", "y", "--query", "select 1", NULL}, "--target-table"},
		{{"copy", "--from", "x", "--to", "y", "-t", "t", "--on-fault", "maybe"}, "--on-fault must be"},
	};

	(void) w;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		const char *args[10];
		int n = 0;
		it_run r;
		while (n < 10 && cases[i].args[n])
			args[n] = cases[i].args[n], n++;
		args[n] = NULL;
		r = it_cli_full(NULL, 0, 0, args);
		it_expect_status(&r, 2);
		if (!strstr(r.err, cases[i].says)) {
			print_error("case %zu: stderr lacks \"%s\": %s\n", i, cases[i].says, r.err);
			fail();
		}
		/* The error and where to look, not the whole help (psql, pg_dump). */
		assert_non_null(strstr(r.err, "Try \"pgcopyman copy --help\" for more information."));
		assert_null(strstr(r.err, "Usage: pgcopyman copy"));
		it_run_free(&r);
	}
	{
		it_run r = it_cli("frobnicate");
		it_expect_status(&r, 2);
		assert_non_null(strstr(r.err, "unknown command"));
		it_run_free(&r);
		r = it_cli("copy", "--help");
		it_expect_status(&r, 0);
		assert_non_null(strstr(r.out, "--on-fault"));
		it_run_free(&r);
	}
}

static void
test_missing_table_on_one_target(void **state)
{
	world *w = *state;
	it_run r;

	/*
	 * A missing table is known before any data moves: the plan refuses the
	 * whole copy, naming the target, and no target is loaded.
	 */
	it_exec(w->dst[1], "DROP TABLE t");
	r = it_cli("copy", "--from", w->src_ci, "--to", w->dst_ci[0], "--to", w->dst_ci[1], "--table",
	            "t", "--json");
	it_expect_status(&r, 1);
	no_secret(&r);
	assert_non_null(strstr(r.out, "\"ok\": false"));
	assert_non_null(strstr(r.out, "\"target\": 2, \"table\": \"t\", \"column\": \"\", "
	                              "\"message\": \"target 2: table \\\"t\\\" does not exist"));
	assert_non_null(strstr(r.err, "target 2: table \"t\" does not exist"));
	assert_non_null(strstr(r.err, "nothing was copied"));
	assert_int_equal(it_count(w->dst[0], "t"), 0);
	it_run_free(&r);
	it_create_mixed_table(w->dst[1], "t");
}

static void
test_on_fault_abort_commits_nothing(void **state)
{
	world *w = *state;
	it_run r;

	it_exec(w->dst[1], "ALTER TABLE t ADD CONSTRAINT not_100 CHECK (id <> 100)");
	r = it_cli("copy", "--from", w->src_ci, "--to", w->dst_ci[0], "--to", w->dst_ci[1], "--table",
	            "t", "--on-fault", "abort", "--json");
	it_expect_status(&r, 1);
	assert_non_null(strstr(r.out, "\"aborted\": true"));
	assert_non_null(strstr(r.out, "\"sqlstate\": \"23514\""));
	assert_non_null(strstr(r.out, "row 100"));
	assert_non_null(strstr(r.out, "DETAIL: Failing row contains (100,"));
	assert_int_equal(it_count(w->dst[0], "t"), 0);
	assert_int_equal(it_count(w->dst[1], "t"), 0);
	it_run_free(&r);

	/* The default, continue: the other target commits, exit 3. */
	r = it_cli("copy", "--from", w->src_ci, "--to", w->dst_ci[0], "--to", w->dst_ci[1], "--table", "t");
	it_expect_status(&r, 3);
	assert_non_null(strstr(r.err, "row 100"));
	assert_non_null(strstr(r.err, "1 of 2 targets loaded, 1 faulted"));
	assert_int_equal(it_count(w->dst[0], "t"), ROWS);
	assert_int_equal(it_count(w->dst[1], "t"), 0);
	it_run_free(&r);
	it_exec(w->dst[1], "ALTER TABLE t DROP CONSTRAINT not_100");

	/* Every target faulted: nothing loaded, exit 1. */
	r = it_cli("copy", "--from", w->src_ci, "--to", w->dst_ci[0], "--table", "t");
	it_expect_status(&r, 1);
	assert_non_null(strstr(r.err, "duplicate key"));
	it_run_free(&r);
}

static void
test_signal_aborts_cleanly(void **state)
{
	world *w = *state;
	int sigs[2] = {SIGINT, SIGTERM};

	/* A slow target: every row waits a little, so the signal lands mid-copy. */
	slow_down(w->dst[0], "0.0005");
	for (int i = 0; i < 2; i++) {
		it_run r = it_cli_full(NULL, sigs[i], 1500, (const char *const[]){
			"copy", "--from", w->src_ci, "--to", w->dst_ci[0], "--to", w->dst_ci[1],
			"--table", "t", "--json", NULL});
		char *busy;
		it_expect_status(&r, 1);
		assert_non_null(strstr(r.out, "\"aborted\": true"));
		assert_non_null(strstr(r.out, sigs[i] == SIGINT ? "SIGINT" : "SIGTERM"));
		assert_true(r.seconds < 10);
		assert_int_equal(it_count(w->dst[0], "t"), 0);
		assert_int_equal(it_count(w->dst[1], "t"), 0);
		/*
		 * No backend is left in a COPY on any server.  (A session of the
		 * command may still show "idle in transaction (aborted)" for a moment
		 * after it exited: its COPY ended, its disconnect is on its way.)
		 */
		for (int k = 0; k < 2; k++) {
			busy = it_scalar(w->dst[k], "SELECT count(*) FROM pg_stat_activity "
			                            "WHERE query LIKE 'COPY%%' AND state = 'active' AND pid <> pg_backend_pid()");
			assert_string_equal(busy, "0");
			free(busy);
		}
		busy = it_scalar(w->src, "SELECT count(*) FROM pg_stat_activity "
		                         "WHERE query LIKE 'COPY%%' AND state = 'active' AND pid <> pg_backend_pid()");
		assert_string_equal(busy, "0");
		free(busy);
		it_run_free(&r);
	}
	speed_up(w->dst[0]);
}

static void
test_source_failure(void **state)
{
	world *w = *state;
	/* The query's output column goes by its name: id. */
	it_run r = it_cli("copy", "--from", w->src_ci, "--to", w->dst_ci[0], "--query",
	                "SELECT 1/0 AS id", "--target-table", "t", "--json");

	it_expect_status(&r, 1);
	assert_non_null(strstr(r.out, "\"aborted\": true"));
	assert_non_null(strstr(r.out, "division by zero"));
	assert_non_null(strstr(r.err, "division by zero"));
	it_run_free(&r);
}

static void
test_quoted_names_columns_and_query(void **state)
{
	world *w = *state;
	it_run r;

	it_exec(w->src, "CREATE SCHEMA \"My Schema\"; CREATE TABLE \"My Schema\".\"Odd \"\"Table\"\"\" "
	                "(\"Key\" int, val text, extra text); "
	                "INSERT INTO \"My Schema\".\"Odd \"\"Table\"\"\" SELECT g, 'v' || g, 'x' FROM generate_series(1, 500) g");
	for (int i = 0; i < 2; i++)
		it_exec(w->dst[i], "CREATE SCHEMA \"My Schema\"; CREATE TABLE \"My Schema\".\"Odd \"\"Table\"\"\" "
		                   "(\"Key\" int, val text, extra text DEFAULT 'default')");
	r = it_cli("copy", "--from", w->src_ci, "--to", w->dst_ci[0], "--to", w->dst_ci[1],
	            "--table", "\"My Schema\".\"Odd \"\"Table\"\"\"", "--columns", "\"Key\", VAL", "--format", "csv");
	it_expect_status(&r, 0);
	for (int i = 0; i < 2; i++) {
		char *v = it_scalar(w->dst[i], "SELECT count(*) || '/' || sum(\"Key\") || '/' || min(extra) "
		                               "FROM \"My Schema\".\"Odd \"\"Table\"\"\"");
		assert_string_equal(v, "500/125250/default");
		free(v);
	}
	it_run_free(&r);

	/* A name that is SQL, not a name, is refused before anything runs. */
	r = it_cli("copy", "--from", w->src_ci, "--to", w->dst_ci[0], "--table", "t; DROP TABLE t");
	assert_int_not_equal(r.status, 0);
	assert_int_equal(it_count(w->src, "t"), ROWS);
	it_run_free(&r);

	/* A query source with --target-table and --dry-run. */
	r = it_cli("copy", "--from", w->src_ci, "--to", w->dst_ci[0], "--query",
	            "SELECT \"Key\" FROM \"My Schema\".\"Odd \"\"Table\"\"\"", "--target-table",
	            "\"My Schema\".\"Odd \"\"Table\"\"\"", "--columns", "\"Key\"", "--dry-run");
	it_expect_status(&r, 0);
	assert_non_null(strstr(r.out, "format: binary"));
	assert_non_null(strstr(r.out, "COPY \"My Schema\".\"Odd \"\"Table\"\"\" (\"Key\") FROM STDIN (FORMAT binary)"));
	no_secret(&r);
	it_run_free(&r);
	for (int i = 0; i < 2; i++)
		it_exec(w->dst[i], "DROP SCHEMA \"My Schema\" CASCADE");
	it_exec(w->src, "DROP SCHEMA \"My Schema\" CASCADE");
}

static void
test_secrets_never_shown(void **state)
{
	world *w = *state;
	char uri[512], env[512], *hostdir;
	const char *ci = it_conninfo(2);
	it_run r;

	/* A URI with a password, and PGPASSWORD, on a failing connection. */
	hostdir = strdup(strstr(ci, "host=") + 5);
	*strchr(hostdir, ' ') = '\0';
	snprintf(uri, sizeof uri, "postgresql://postgres:" SENTINEL "@/nosuchdb?host=%s&port=5432", hostdir);
	snprintf(env, sizeof env, "PGPASSWORD=" SENTINEL);
	putenv(env);
	r = it_cli("copy", "--from", w->src_ci, "--to", uri, "--table", "t", "--json");
	it_expect_status(&r, 1);
	no_secret(&r);
	assert_non_null(strstr(r.err, "nosuchdb"));
	assert_non_null(strstr(r.err, "cannot connect"));
	it_run_free(&r);

	/* A successful copy through the URI form of a good target. */
	snprintf(uri, sizeof uri, "postgresql://postgres:" SENTINEL "@/postgres?host=%s&port=5432", hostdir);
	r = it_cli("copy", "--from", w->src_ci, "--to", uri, "--table", "t", "--json");
	it_expect_status(&r, 0);
	no_secret(&r);
	it_run_free(&r);
	unsetenv("PGPASSWORD");
	free(hostdir);
}

static void
test_process_title_hides_password(void **state)
{
	world *w = *state;
	char path[64], cmdline[8192];
	pid_t pid;
	int st;
	FILE *f;
	size_t n;

	slow_down(w->dst[0], "0.001");
	pid = spawn_copy(w, "1");
	usleep(700 * 1000);
	snprintf(path, sizeof path, "/proc/%d/cmdline", (int) pid);
	f = fopen(path, "rb");
	assert_non_null(f);
	n = fread(cmdline, 1, sizeof cmdline - 1, f);
	fclose(f);
	for (size_t i = 0; i < n; i++)
		if (cmdline[i] == '\0')
			cmdline[i] = ' ';
	cmdline[n] = '\0';
	kill(pid, SIGTERM);
	waitpid(pid, &st, 0);
	assert_non_null(strstr(cmdline, "--from"));
	assert_null(strstr(cmdline, SENTINEL));
	assert_non_null(strstr(cmdline, "password=********"));
	speed_up(w->dst[0]);
	it_exec(w->dst[0], "TRUNCATE t");
}

static void
test_application_name_and_timeouts(void **state)
{
	world *w = *state;
	pid_t pid;
	int st;
	char *seen;

	it_exec(w->dst[0], "ALTER DATABASE postgres SET statement_timeout = '50ms'");
	slow_down(w->dst[0], "0.0002");
	pid = spawn_copy(w, "1");
	usleep(1000 * 1000);
	seen = it_scalar(w->dst[0], "SELECT string_agg(DISTINCT application_name, ',') FROM pg_stat_activity "
	                            "WHERE query LIKE 'COPY%%'");
	assert_string_equal(seen, "pgcopyman");
	free(seen);
	waitpid(pid, &st, 0);
	it_exec(w->dst[0], "ALTER DATABASE postgres RESET statement_timeout");
	/* The 50 ms statement_timeout did not cut the multi-second COPY off. */
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
	assert_int_equal(it_count(w->dst[0], "t"), ROWS);
	speed_up(w->dst[0]);
}

/* same_rows: the target's table has exactly the source's rows. */
static void
same_rows(PGconn *src, PGconn *dst, const char *table)
{
	char *want = it_table_checksum(src, table), *got = it_table_checksum(dst, table);

	assert_string_equal(got, want);
	assert_int_equal(it_count(dst, table), it_count(src, table));
	free(want);
	free(got);
}

static void
test_jobs_every_row_once(void **state)
{
	world *w = *state;
	it_run r;

	/* By pages, three streams to two targets. */
	r = it_cli("copy", "--from", w->src_ci, "--to", w->dst_ci[0], "--to", w->dst_ci[1], "--table", "t",
	           "--jobs", "3", "--json");
	it_expect_status(&r, 0);
	assert_non_null(strstr(r.out, "\"jobs\": 3"));
	assert_non_null(strstr(r.out, "\"rows\": 20000"));
	same_rows(w->src, w->dst[0], "t");
	same_rows(w->src, w->dst[1], "t");
	it_run_free(&r);

	/* By an integer key with gaps and NULLs: the NULLs go with the last range. */
	it_exec(w->src, "CREATE TABLE k (n int, s text); INSERT INTO k SELECT CASE WHEN g %% 13 = 0 THEN NULL "
	                "ELSE g * 7 END, 's' || g FROM generate_series(1, 5000) g");
	it_exec(w->dst[0], "CREATE TABLE k (n int, s text)");
	r = it_cli("copy", "--from", w->src_ci, "--to", w->dst_ci[0], "--table", "k", "--jobs", "4",
	           "--split-key", "n", "--format", "text", "--json");
	it_expect_status(&r, 0);
	same_rows(w->src, w->dst[0], "k");
	it_run_free(&r);
	/* Again, with --truncate (the old rows go in the streams' two-phase commit). */
	r = it_cli("copy", "--from", w->src_ci, "--to", w->dst_ci[0], "--table", "k", "--jobs", "2",
	           "--truncate", "--quiet");
	it_expect_status(&r, 0);
	same_rows(w->src, w->dst[0], "k");
	it_run_free(&r);
	/* A split key that is not an integer is refused clearly. */
	r = it_cli("copy", "--from", w->src_ci, "--to", w->dst_ci[0], "--table", "k", "--jobs", "2",
	           "--split-key", "s");
	assert_int_not_equal(r.status, 0);
	assert_non_null(strstr(r.err, "--split-key must name an integer column"));
	it_run_free(&r);
	r = it_cli("copy", "--from", w->src_ci, "--to", "file:/tmp/x", "--table", "k", "--jobs", "2");
	it_expect_status(&r, 2);
	it_run_free(&r);
	it_exec(w->src, "DROP TABLE k");
	it_exec(w->dst[0], "DROP TABLE k");
}

static void
test_jobs_share_one_snapshot(void **state)
{
	world *w = *state;
	PGconn *writer = it_connect(1);
	pid_t pid;
	int st;

	/* Slow targets, and rows added to the source while the streams run. */
	slow_down(w->dst[0], "0.0001");
	pid = spawn_copy(w, "3");
	usleep(700 * 1000);
	it_exec(writer, "INSERT INTO t (id, s) SELECT g, 'late' FROM generate_series(%d, %d) g", ROWS + 1,
	        ROWS + 3000);
	it_exec(writer, "DELETE FROM t WHERE id <= 100");
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
	/* Exactly the table as it was when the copy started. */
	assert_int_equal(it_count(w->dst[0], "t"), ROWS);
	{
		char *late = it_scalar(w->dst[0], "SELECT count(*) FROM t WHERE s = 'late' OR id <= 100");
		assert_string_equal(late, "100");
		free(late);
	}
	speed_up(w->dst[0]);
	PQfinish(writer);
}

static void
test_jobs_fault_in_one_stream(void **state)
{
	world *w = *state;
	it_run r;

	/* The rejected row is near the end of the table: in the last stream. */
	it_exec(w->dst[1], "ALTER TABLE t ADD CONSTRAINT not_19000 CHECK (id <> 19000)");
	r = it_cli("copy", "--from", w->src_ci, "--to", w->dst_ci[0], "--to", w->dst_ci[1], "--table", "t",
	           "--jobs", "3", "--json");
	it_expect_status(&r, 3);
	assert_non_null(strstr(r.out, "\"status\": \"faulted\", \"rows\": 0"));
	assert_non_null(strstr(r.out, "23514"));
	same_rows(w->src, w->dst[0], "t");
	/* Every session of the faulted target rolled back: none of its streams' rows are there. */
	assert_int_equal(it_count(w->dst[1], "t"), 0);
	it_run_free(&r);
	it_exec(w->dst[1], "ALTER TABLE t DROP CONSTRAINT not_19000");
}

static void
test_format_auto(void **state)
{
	world *w = *state;
	char path[64] = "/tmp/pgcm-auto.XXXXXX", target[96];
	int fd = mkstemp(path);
	it_run r;

	/* The same built-in types on servers of one major version: binary, and exact. */
	r = it_cli("copy", "--from", w->src_ci, "--to", w->dst_ci[0], "--table", "t", "--json");
	it_expect_status(&r, 0);
	assert_non_null(strstr(r.out, "\"format\": \"binary\", \"format_reason\": \"every column has the "
	                              "same built-in type and type modifier"));
	same_rows(w->src, w->dst[0], "t");
	it_run_free(&r);
	/* A file among the targets: text, which a file reader expects. */
	close(fd);
	snprintf(target, sizeof target, "file:%s", path);
	r = it_cli("copy", "--from", w->src_ci, "--to", target, "--to", w->dst_ci[1], "--table", "t", "--json");
	it_expect_status(&r, 0);
	assert_non_null(strstr(r.out, "\"format\": \"text\", \"format_reason\": \"target 1 is a file or a stream: text\""));
	same_rows(w->src, w->dst[1], "t");
	it_run_free(&r);
	unlink(path);
}

IT_GROUP(cli)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_copy_two_targets_json, setup, teardown),
		cmocka_unit_test_setup_teardown(test_usage_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_missing_table_on_one_target, setup, teardown),
		cmocka_unit_test_setup_teardown(test_on_fault_abort_commits_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_signal_aborts_cleanly, setup, teardown),
		cmocka_unit_test_setup_teardown(test_source_failure, setup, teardown),
		cmocka_unit_test_setup_teardown(test_quoted_names_columns_and_query, setup, teardown),
		cmocka_unit_test_setup_teardown(test_secrets_never_shown, setup, teardown),
		cmocka_unit_test_setup_teardown(test_process_title_hides_password, setup, teardown),
		cmocka_unit_test_setup_teardown(test_application_name_and_timeouts, setup, teardown),
		cmocka_unit_test_setup_teardown(test_jobs_every_row_once, setup, teardown),
		cmocka_unit_test_setup_teardown(test_jobs_share_one_snapshot, setup, teardown),
		cmocka_unit_test_setup_teardown(test_jobs_fault_in_one_stream, setup, teardown),
		cmocka_unit_test_setup_teardown(test_format_auto, setup, teardown),
	};
	return it_add_group("cli", tests, NULL, NULL);
}
