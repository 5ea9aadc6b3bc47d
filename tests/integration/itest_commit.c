/*
 * itest_commit.c: all or nothing, as promised.  `pgcopyman copy` with
 * faults at its end (deferred constraints and triggers failing at commit,
 * backends terminated during PREPARE and COMMIT PREPARED, kill -9 of the
 * command at each moment of its two-phase commit), `pgcopyman recover`
 * after it, --truncate with --jobs, servers without prepared transactions.
 * Every test checks each target's committed rows against the JSON report,
 * and that no prepared transaction is left.
 *
 * Clusters: 1 is the source; 2 and 3 are targets; 4 is restarted without
 * prepared transactions by the test that needs that (harness -n 4).
 */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "util.h"

#define ROWS 20000
#define OLD_ROWS 7
#define SENTINEL "S3cr3tSentinel"
#define SYNC_ON " options=-csynchronous_commit=on"

typedef struct world {
	PGconn *src, *dst[2];
	char *src_ci, *dst_ci[2];
	char state[64];   /* --state-dir for this test */
} world;

/* with_extra: cluster i's connection string with more keywords; malloc'd. */
static char *
with_extra(int i, const char *extra)
{
	size_t n = strlen(it_conninfo(i)) + strlen(extra) + 2;
	char *s = malloc(n);

	assert_non_null(s);
	snprintf(s, n, "%s %s", it_conninfo(i), extra);
	return s;
}

/*
 * drop_prepared: after a failed test, nothing waits for a standby and no
 * prepared transaction is left on conn's database (for the next tests).
 * Returns how many there were.
 */
static int
drop_prepared(PGconn *conn)
{
	PGresult *res;
	int found = 0;

	PQclear(PQexec(conn, "ALTER SYSTEM RESET synchronous_standby_names"));
	PQclear(PQexec(conn, "SELECT pg_reload_conf()"));
	for (int tries = 0; tries < 50; tries++) {
		int left = 0;
		res = PQexec(conn, "SELECT gid FROM pg_prepared_xacts WHERE database = current_database()");
		for (int i = 0; PQresultStatus(res) == PGRES_TUPLES_OK && i < PQntuples(res); i++) {
			char *sql = PQescapeLiteral(conn, PQgetvalue(res, i, 0), strlen(PQgetvalue(res, i, 0)));
			char buf[256];
			snprintf(buf, sizeof buf, "ROLLBACK PREPARED %s", sql ? sql : "''");
			PQfreemem(sql);
			PQclear(PQexec(conn, buf));  /* "busy" while its session finishes: try again */
			left++;
		}
		PQclear(res);
		if (!left)
			break;
		found = found > left ? found : left;
		usleep(100 * 1000);
	}
	return found;
}

static int
setup(void **state)
{
	world *w = calloc(1, sizeof *w);

	assert_non_null(w);
	w->src = it_connect(1);
	w->src_ci = with_extra(1, "password=" SENTINEL);
	it_exec(w->src, "DROP TABLE IF EXISTS u; CREATE TABLE u (id int, s text); "
	                "INSERT INTO u SELECT g, 'row ' || g FROM generate_series(1, %d) g", ROWS);
	for (int i = 0; i < 2; i++) {
		w->dst[i] = it_connect(i + 2);
		w->dst_ci[i] = with_extra(i + 2, "password=" SENTINEL);
		drop_prepared(w->dst[i]);
		it_exec(w->dst[i], "DROP TABLE IF EXISTS u; DROP FUNCTION IF EXISTS refuse_19000() CASCADE; "
		                   "DROP FUNCTION IF EXISTS slow() CASCADE; "
		                   "CREATE TABLE u (id int, s text)");
	}
	snprintf(w->state, sizeof w->state, "/tmp/pgcm-state.XXXXXX");
	assert_non_null(mkdtemp(w->state));
	*state = w;
	return 0;
}

static int
teardown(void **state)
{
	world *w = *state;
	int left = 0;

	it_assert_usable(w->src);
	PQfinish(w->src);
	free(w->src_ci);
	/* Every test leaves no prepared transaction behind (they are cleared anyway, for the next). */
	for (int i = 0; i < 2; i++) {
		left += drop_prepared(w->dst[i]);
		it_assert_usable(w->dst[i]);
		PQfinish(w->dst[i]);
		free(w->dst_ci[i]);
	}
	it_system("rm -rf '%s'", w->state);
	free(w);
	assert_int_equal(left, 0);
	return 0;
}

/* number: the first value sql returns on conn, as a number. */
static long long
number(PGconn *conn, const char *sql)
{
	char *n = it_scalar(conn, "%s", sql);
	long long v = atoll(n);

	free(n);
	return v;
}

static long long
prepared_count(PGconn *conn)
{
	return number(conn, "SELECT count(*) FROM pg_prepared_xacts");
}

/* assert_no_prepared: no prepared transaction at all on conn's server. */
static void
assert_no_prepared(PGconn *conn)
{
	assert_int_equal(prepared_count(conn), 0);
}

/*
 * assert_target: the JSON report's target k (from 1) has status and rows
 * (-1: null), and the table on conn holds count rows.
 */
static void
assert_target(const it_run *r, int k, const char *status, long long rows, PGconn *conn, long long count)
{
	const char *p = r->out, *s;
	char got[32] = "";
	long long n = -2;

	for (int i = 0; i < k && p; i++)
		if ((p = strstr(p, "{\"target\": ")))
			p++;
	if (!p || !(s = strstr(p, "\"status\": \""))) {
		print_error("no target %d in the report: %s\nstderr: %s\n", k, r->out, r->err);
		fail();
	}
	sscanf(s, "\"status\": \"%31[^\"]\", \"rows\": %lld", got, &n);
	if (strncmp(strstr(s, "\"rows\": ") + 8, "null", 4) == 0)
		n = -1;
	if (strcmp(got, status) != 0 || n != rows) {
		print_error("target %d: status %s rows %lld, expected %s %lld\nstdout: %s\nstderr: %s\n", k, got, n,
		            status, rows, r->out, r->err);
		fail();
	}
	assert_int_equal(it_count(conn, "u"), count);
}

/* refuse_at_commit: a deferred constraint trigger on u that raises for row 19000, at commit. */
static void
refuse_at_commit(PGconn *conn)
{
	it_exec(conn, "CREATE FUNCTION refuse_19000() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN "
	              "IF NEW.id = 19000 THEN RAISE EXCEPTION 'row 19000 refused at commit'; END IF; RETURN NULL; "
	              "END$$; CREATE CONSTRAINT TRIGGER refuse_19000 AFTER INSERT ON u DEFERRABLE INITIALLY "
	              "DEFERRED FOR EACH ROW EXECUTE FUNCTION refuse_19000()");
}

/* old_rows: OLD_ROWS rows already in the target's u, for --truncate to keep or replace. */
static void
old_rows(PGconn *conn)
{
	it_exec(conn, "INSERT INTO u SELECT -g, 'old' FROM generate_series(1, %d) g", OLD_ROWS);
}

static long long
old_rows_left(PGconn *conn)
{
	return number(conn, "SELECT count(*) FROM u WHERE s = 'old'");
}

/* records_left: how many run records the state directory holds. */
static int
records_left(const char *dir)
{
	return it_system("test -z \"$(ls '%s' 2>/dev/null | grep '[.]run$')\"", dir) == 0 ? 0 : 1;
}

/* one_record: the path of the one run record in dir (and its run id in id). */
static void
one_record(const char *dir, char *path, size_t size, char id[17])
{
	char cmd[512];
	FILE *p;

	snprintf(cmd, sizeof cmd, "ls '%s' | grep '[.]run$'", dir);
	p = popen(cmd, "r");
	assert_non_null(p);
	assert_non_null(fgets(id, 17, p));
	pclose(p);
	assert_int_equal(strlen(id), 16);
	snprintf(path, size, "%s/%s.run", dir, id);
}

static void
no_secret(const it_run *r)
{
	assert_null(strstr(r->out, SENTINEL));
	assert_null(strstr(r->err, SENTINEL));
}

static void
test_deferred_trigger_with_jobs(void **state)
{
	world *w = *state;
	it_run r;

	/* Row 19000 is in the second stream: the first one's session must not commit alone. */
	refuse_at_commit(w->dst[0]);
	r = it_cli("copy", "--from", w->src_ci, "--to", w->dst_ci[0], "--to", w->dst_ci[1], "--table", "u",
	           "--jobs", "2", "--state-dir", w->state, "--json");
	it_expect_status(&r, 3);
	no_secret(&r);
	assert_target(&r, 1, "faulted", 0, w->dst[0], 0);
	assert_target(&r, 2, "ok", ROWS, w->dst[1], ROWS);
	assert_non_null(strstr(r.out, "row 19000 refused at commit"));
	assert_non_null(strstr(r.out, "\"sqlstate\": \"P0001\""));
	it_run_free(&r);
	assert_no_prepared(w->dst[0]);
	assert_no_prepared(w->dst[1]);
	assert_int_equal(records_left(w->state), 0);

	/* The human summary gives the reason for the target that did not load. */
	it_exec(w->dst[1], "TRUNCATE u");
	r = it_cli("copy", "--from", w->src_ci, "--to", w->dst_ci[0], "--to", w->dst_ci[1], "--table", "u",
	           "--jobs", "2", "--state-dir", w->state);
	it_expect_status(&r, 3);
	assert_non_null(strstr(r.err, "1 of 2 targets loaded, 1 faulted"));
	assert_non_null(strstr(r.err, "faulted: receiver 1 (user="));
	assert_non_null(strstr(r.err, "): a deferred constraint or trigger failed: row 19000 refused at commit"));
	assert_int_equal(it_count(w->dst[0], "u"), 0);
	assert_int_equal(it_count(w->dst[1], "u"), ROWS);
	it_run_free(&r);
	assert_no_prepared(w->dst[0]);
}

static void
test_deferred_unique_on_fault_abort(void **state)
{
	world *w = *state;
	const char *jobs[] = {"1", "2"};

	/* Target 2 already holds id 5000, under a deferred unique constraint: COPY passes, COMMIT would not. */
	it_exec(w->dst[1], "ALTER TABLE u ADD CONSTRAINT u_id UNIQUE (id) DEFERRABLE INITIALLY DEFERRED; "
	                   "INSERT INTO u VALUES (5000, 'already here')");
	for (int k = 0; k < 2; k++) {
		it_run r = it_cli("copy", "--from", w->src_ci, "--to", w->dst_ci[0], "--to", w->dst_ci[1], "--table",
		                  "u", "--on-fault", "abort", "--jobs", jobs[k], "--state-dir", w->state, "--json");
		it_expect_status(&r, 1);
		assert_non_null(strstr(r.out, "\"aborted\": true"));
		assert_non_null(strstr(r.out, "\"sqlstate\": \"23505\""));
		assert_non_null(strstr(r.out, "--on-fault abort: target 2 faulted at the end of its load"));
		assert_target(&r, 1, "aborted", 0, w->dst[0], 0);
		assert_target(&r, 2, "faulted", 0, w->dst[1], 1);
		it_run_free(&r);
		assert_no_prepared(w->dst[0]);
		assert_no_prepared(w->dst[1]);
	}
	assert_int_equal(records_left(w->state), 0);
}

static void
test_deferred_trigger_on_fault_continue(void **state)
{
	world *w = *state;
	it_run r;

	refuse_at_commit(w->dst[1]);
	r = it_cli("copy", "--from", w->src_ci, "--to", w->dst_ci[0], "--to", w->dst_ci[1], "--table", "u",
	           "--json");
	it_expect_status(&r, 3);
	assert_target(&r, 1, "ok", ROWS, w->dst[0], ROWS);
	assert_target(&r, 2, "faulted", 0, w->dst[1], 0);
	assert_null(strstr(r.out, "\"aborted\""));
	it_run_free(&r);
	assert_no_prepared(w->dst[0]);
	assert_no_prepared(w->dst[1]);
}

/*
 * kill -9 at each moment of the end phase of a two-phase run (two targets,
 * two streams, --on-fault abort, --truncate over old rows), then recover:
 * every target ends with the old rows alone or the new rows alone.
 */
static void
test_kill_at_each_moment_then_recover(void **state)
{
	world *w = *state;
	static const struct {
		const char *moment;
		long long prepared;   /* left on the two targets by the kill */
		int committed;        /* what recover must finish */
	} cases[] = {
		{"before-prepare", 0, 0},
		{"between-prepares", 1, 0},
		{"after-decision", 6, 1},   /* per target: two streams and the session deleting old rows */
		{"between-commits", 5, 1},
	};

	for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
		it_run r;
		for (int i = 0; i < 2; i++) {
			it_exec(w->dst[i], "TRUNCATE u");
			old_rows(w->dst[i]);
		}
		setenv("PGCOPYMAN_TEST_KILL_AT", cases[c].moment, 1);
		r = it_cli("copy", "--from", w->src_ci, "--to", w->dst_ci[0], "--to", w->dst_ci[1], "--table", "u",
		           "--jobs", "2", "--on-fault", "abort", "--truncate", "--state-dir", w->state, "--json");
		unsetenv("PGCOPYMAN_TEST_KILL_AT");
		it_expect_status(&r, 128 + SIGKILL);
		assert_string_equal(r.out, "");
		it_run_free(&r);
		if (prepared_count(w->dst[0]) + prepared_count(w->dst[1]) != cases[c].prepared) {
			print_error("%s: %lld + %lld prepared, expected %lld\n", cases[c].moment,
			            prepared_count(w->dst[0]), prepared_count(w->dst[1]), cases[c].prepared);
			fail();
		}
		if (strcmp(cases[c].moment, "between-commits") == 0)
			/* One session of target 1 committed: half a table, until recover. */
			assert_true(it_count(w->dst[0], "u") > 0 && it_count(w->dst[0], "u") < ROWS);
		assert_int_equal(records_left(w->state), 1);

		if (strcmp(cases[c].moment, "after-decision") == 0) {
			/* Given the targets: settles them, keeps the record (other targets may hold more). */
			r = it_cli("recover", "--to", w->dst_ci[0], "--to", w->dst_ci[1], "--state-dir", w->state);
			it_expect_status(&r, 0);
			no_secret(&r);
			assert_non_null(strstr(r.out, "committed pgcopyman:"));
			assert_non_null(strstr(r.out, "recover: 6 committed, 0 rolled back, 0 skipped, 0 left"));
			assert_non_null(strstr(r.out, "its record stays"));
			it_run_free(&r);
			assert_int_equal(records_left(w->state), 1);
		}
		/* From the state directory alone: every target of every record, then the record goes. */
		r = it_cli("recover", "--state-dir", w->state);
		it_expect_status(&r, 0);
		assert_non_null(strstr(r.out, "settled: its record is removed"));
		if (cases[c].prepared && strcmp(cases[c].moment, "after-decision") != 0)
			assert_non_null(strstr(r.out, cases[c].committed ? "committed pgcopyman:" : "rolled back pgcopyman:"));
		it_run_free(&r);
		assert_int_equal(records_left(w->state), 0);
		for (int i = 0; i < 2; i++) {
			assert_no_prepared(w->dst[i]);
			assert_int_equal(it_count(w->dst[i], "u"), cases[c].committed ? ROWS : OLD_ROWS);
			assert_int_equal(old_rows_left(w->dst[i]), cases[c].committed ? 0 : OLD_ROWS);
		}
	}
}

/* wait_for: poll sql on conn until it returns non-NULL, non-empty; returns it (malloc'd). */
static char *
wait_for(PGconn *conn, const char *sql, int seconds)
{
	for (int i = 0; i < seconds * 20; i++) {
		PGresult *res = PQexec(conn, sql);
		if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) > 0 && !PQgetisnull(res, 0, 0)) {
			char *v = strdup(PQgetvalue(res, 0, 0));
			PQclear(res);
			return v;
		}
		PQclear(res);
		usleep(50 * 1000);
	}
	print_error("waited %d s in vain for: %s\n", seconds, sql);
	fail();
	return NULL;
}

static void
test_recover_leaves_live_runs(void **state)
{
	world *w = *state;
	char path[512], id[17], lock[512];
	it_proc bg;
	it_run r;
	int fd;

	/* A crashed run whose lock someone holds (as a live run does) is left alone. */
	setenv("PGCOPYMAN_TEST_KILL_AT", "after-decision", 1);
	r = it_cli("copy", "--from", w->src_ci, "--to", w->dst_ci[0], "--table", "u", "--jobs", "2",
	           "--state-dir", w->state);
	unsetenv("PGCOPYMAN_TEST_KILL_AT");
	it_expect_status(&r, 128 + SIGKILL);
	it_run_free(&r);
	one_record(w->state, path, sizeof path, id);
	snprintf(lock, sizeof lock, "%s/%s.lock", w->state, id);
	fd = open(lock, O_RDWR);
	assert_true(fd >= 0);
	assert_int_equal(flock(fd, LOCK_EX | LOCK_NB), 0);
	r = it_cli("recover", "--state-dir", w->state);
	it_expect_status(&r, 3);
	assert_non_null(strstr(r.out, "skipped run"));
	assert_non_null(strstr(r.out, "still going"));
	it_run_free(&r);
	r = it_cli("recover", "--to", w->dst_ci[0], "--state-dir", w->state);
	it_expect_status(&r, 3);
	assert_non_null(strstr(r.out, "skipped pgcopyman:"));
	it_run_free(&r);
	assert_int_equal(prepared_count(w->dst[0]), 2);
	close(fd);
	r = it_cli("recover", "--state-dir", w->state);
	it_expect_status(&r, 0);
	assert_non_null(strstr(r.out, "recover: 2 committed"));
	it_run_free(&r);
	assert_no_prepared(w->dst[0]);
	assert_int_equal(it_count(w->dst[0], "u"), ROWS);

	/* A copy that is still loading: recover leaves it, and it commits as usual. */
	it_exec(w->dst[0], "TRUNCATE u; CREATE FUNCTION slow() RETURNS trigger LANGUAGE plpgsql AS "
	                   "$$BEGIN PERFORM pg_sleep(0.0004); RETURN NEW; END$$; "
	                   "CREATE TRIGGER slow BEFORE INSERT ON u FOR EACH ROW EXECUTE FUNCTION slow()");
	it_cli_bg(&bg, "copy", "--from", w->src_ci, "--to", w->dst_ci[0], "--table", "u", "--jobs", "2",
	          "--state-dir", w->state, "--json");
	for (int i = 0; i < 200 && !records_left(w->state); i++)
		usleep(20 * 1000);
	r = it_cli("recover", "--state-dir", w->state);
	it_expect_status(&r, 3);
	assert_non_null(strstr(r.out, "still going"));
	it_run_free(&r);
	r = it_cli_wait(&bg, NULL);
	it_expect_status(&r, 0);
	assert_target(&r, 1, "ok", ROWS, w->dst[0], ROWS);
	it_run_free(&r);
	assert_no_prepared(w->dst[0]);
	assert_int_equal(records_left(w->state), 0);
	it_exec(w->dst[0], "DROP TRIGGER slow ON u; DROP FUNCTION slow()");
}

/* hold_syncrep: commits on cluster i that ask for synchronous replication wait for a standby that never comes. */
static void
hold_syncrep(PGconn *conn, int on)
{
	if (on)
		it_exec(conn, "ALTER SYSTEM SET synchronous_standby_names = 'pgcm_no_such_standby'");
	else
		it_exec(conn, "ALTER SYSTEM RESET synchronous_standby_names");
	it_exec(conn, "SELECT pg_reload_conf()");
	usleep(1000 * 1000);  /* the checkpointer takes the new setting on its next wakeup */
}

/*
 * waiter: the pid of a session of conn's cluster waiting for synchronous
 * replication in a statement starting with prefix, other than the one
 * already let through (not_pid: its wait may not be over yet).
 */
static int
waiter(PGconn *conn, const char *prefix, int not_pid)
{
	char sql[512], *pid;
	int v;

	snprintf(sql, sizeof sql, "SELECT pid FROM pg_stat_activity WHERE wait_event = 'SyncRep' "
	                          "AND query LIKE '%s%%' AND pid <> %d ORDER BY pid LIMIT 1", prefix, not_pid);
	pid = wait_for(conn, sql, 60);
	v = atoi(pid);
	free(pid);
	return v;
}

/* let_prepares_through: n PREPAREs waiting for the standby are let through, one after another. */
static void
let_prepares_through(PGconn *conn, int n)
{
	int pid = 0;

	for (int k = 0; k < n; k++) {
		pid = waiter(conn, "PREPARE", pid);
		it_exec(conn, "SELECT pg_cancel_backend(%d)", pid);
	}
}

/*
 * held_copy: over old rows on target 1, whose commits now wait for a
 * standby, start copy --jobs 2 --truncate to it through ci (which asks for
 * synchronous commit).
 */
static void
held_copy(world *w, const char *ci, it_proc *bg)
{
	old_rows(w->dst[0]);
	hold_syncrep(w->dst[0], 1);
	it_cli_bg(bg, "copy", "--from", w->src_ci, "--to", ci, "--table", "u", "--jobs", "2", "--truncate",
	          "--state-dir", w->state, "--json");
}

static void
test_backend_terminated_during_prepare(void **state)
{
	world *w = *state;
	char *ci = with_extra(2, SYNC_ON);
	it_proc bg;
	it_run r;

	held_copy(w, ci, &bg);
	/* The PREPARE is done locally; its client never hears so. */
	it_exec(w->dst[0], "SELECT pg_terminate_backend(%d)", waiter(w->dst[0], "PREPARE", 0));
	hold_syncrep(w->dst[0], 0);
	r = it_cli_wait(&bg, NULL);
	it_expect_status(&r, 1);
	assert_target(&r, 1, "faulted", 0, w->dst[0], OLD_ROWS);
	assert_non_null(strstr(r.out, "PREPARE TRANSACTION failed"));
	assert_int_equal(old_rows_left(w->dst[0]), OLD_ROWS);
	it_run_free(&r);
	/* The run found the transaction prepared after all, and rolled it back itself. */
	assert_no_prepared(w->dst[0]);
	assert_int_equal(records_left(w->state), 0);
	free(ci);
}

static void
test_backend_terminated_during_commit_prepared(void **state)
{
	world *w = *state;
	char *ci = with_extra(2, SYNC_ON);
	it_proc bg;
	it_run r;

	held_copy(w, ci, &bg);
	/*
	 * Let each PREPARE through (a cancelled wait completes it): two streams
	 * and the session deleting the old rows.  Then kill the first COMMIT PREPARED.
	 */
	let_prepares_through(w->dst[0], 3);
	it_exec(w->dst[0], "SELECT pg_terminate_backend(%d)", waiter(w->dst[0], "COMMIT PREPARED", 0));
	hold_syncrep(w->dst[0], 0);
	r = it_cli_wait(&bg, NULL);
	/* Asked over a new session, the server says committed: the report is the truth, not a guess. */
	it_expect_status(&r, 0);
	assert_target(&r, 1, "ok", ROWS, w->dst[0], ROWS);
	assert_int_equal(old_rows_left(w->dst[0]), 0);
	assert_non_null(strstr(r.err, "COMMIT PREPARED failed"));
	it_run_free(&r);
	assert_no_prepared(w->dst[0]);
	assert_int_equal(records_left(w->state), 0);

	/* The same with one session: a plain COMMIT whose connection dies. */
	hold_syncrep(w->dst[0], 1);
	it_cli_bg(&bg, "copy", "--from", w->src_ci, "--to", ci, "--table", "u", "--truncate", "--json");
	it_exec(w->dst[0], "SELECT pg_terminate_backend(%d)", waiter(w->dst[0], "COMMIT", 0));
	hold_syncrep(w->dst[0], 0);
	r = it_cli_wait(&bg, NULL);
	it_expect_status(&r, 0);
	assert_target(&r, 1, "ok", ROWS, w->dst[0], ROWS);
	assert_non_null(strstr(r.err, "COMMIT failed"));
	it_run_free(&r);
	free(ci);
}

/*
 * The connection dies during a commit and the server cannot be reached
 * again: the target's outcome is "unknown", with what to check; recover
 * settles what is left.
 */
static void
test_commit_outcome_unknown(void **state)
{
	world *w = *state;
	char *ci = with_extra(2, SYNC_ON);
	const char *file_spec = "file:/tmp/pgcm-commit-unknown.copy";
	PGconn *other = NULL;
	it_proc bg;
	it_run r;
	int pid;

	/* New sessions to database postgres are refused from another database's session. */
	{
		char *t1 = with_extra(2, "dbname=template1");
		other = PQconnectdb(t1);
		assert_int_equal(PQstatus(other), CONNECTION_OK);
		free(t1);
	}
	for (int jobs = 2; jobs >= 1; jobs--) {
		char njobs[4];
		snprintf(njobs, sizeof njobs, "%d", jobs);
		it_exec(w->dst[0], "TRUNCATE u");
		unlink(file_spec + 5);
		hold_syncrep(w->dst[0], 1);
		/* With one session, a file target under --on-fault abort follows the server's unknown outcome. */
		if (jobs > 1)
			it_cli_bg(&bg, "copy", "--from", w->src_ci, "--to", ci, "--table", "u", "--jobs", njobs,
			          "--state-dir", w->state, "--json");
		else
			it_cli_bg(&bg, "copy", "--from", w->src_ci, "--to", ci, "--to", file_spec, "--table", "u",
			          "--format", "text", "--on-fault", "abort", "--json");
		if (jobs > 1)
			let_prepares_through(w->dst[0], jobs);
		pid = waiter(w->dst[0], "COMMIT", 0);
		it_exec(other, "ALTER DATABASE postgres ALLOW_CONNECTIONS false");
		it_exec(w->dst[0], "SELECT pg_terminate_backend(%d)", pid);
		hold_syncrep(w->dst[0], 0);
		r = it_cli_wait(&bg, NULL);
		it_exec(other, "ALTER DATABASE postgres ALLOW_CONNECTIONS true");
		it_expect_status(&r, 4);
		assert_target(&r, 1, "unknown", -1, w->dst[0], ROWS);  /* it did commit, as it happens */
		assert_non_null(strstr(r.out, "\"rows_if_committed\": 20000"));
		assert_non_null(strstr(r.out, jobs > 1 ? "pgcopyman recover --to '" : "SELECT txid_status("));
		no_secret(&r);
		if (jobs == 1) {
			/* Not at its path, and not lost: kept beside it, all of it, with what to do about it. */
			char *kept, *data;
			const char *check = strstr(r.out, "\"check\": \"its data is in ");
			assert_non_null(strstr(r.out, "\"status\": \"unknown\", \"rows\": null, \"rows_if_committed\": 20000, "
			                              "\"check\": \"its data is in "));
			assert_non_null(check);
			assert_int_equal(access(file_spec + 5, F_OK), -1);
			check += strlen("\"check\": \"its data is in ");
			kept = strndup(check, strcspn(check, ":"));
			assert_non_null(strstr(check, "rename it to /tmp/pgcm-commit-unknown.copy if the server target committed"));
			assert_int_equal(strncmp(kept, "/tmp/.pgcm-commit-unknown.copy.pgcopyman-",
			                         strlen("/tmp/.pgcm-commit-unknown.copy.pgcopyman-")), 0);
			data = it_slurp(kept);
			assert_int_equal(it_count_text(data, "\n"), ROWS);
			free(data);
			assert_int_equal(unlink(kept), 0);
			free(kept);
		}
		it_run_free(&r);
		if (jobs > 1) {
			/* The record stays for recover, which finds nothing left prepared and removes it. */
			assert_int_equal(records_left(w->state), 1);
			r = it_cli("recover", "--state-dir", w->state);
			it_expect_status(&r, 0);
			assert_non_null(strstr(r.out, "settled: its record is removed"));
			it_run_free(&r);
			assert_int_equal(records_left(w->state), 0);
		}
		assert_no_prepared(w->dst[0]);
	}
	PQfinish(other);
	free(ci);
}

static void
test_truncate_with_jobs_keeps_old_rows(void **state)
{
	world *w = *state;
	it_run r;

	old_rows(w->dst[0]);
	/* A rejected row in the second stream: the old rows stay (before, the TRUNCATE had committed). */
	it_exec(w->dst[0], "ALTER TABLE u ADD CONSTRAINT not_15000 CHECK (id <> 15000)");
	r = it_cli("copy", "--from", w->src_ci, "--to", w->dst_ci[0], "--table", "u", "--jobs", "2", "--truncate",
	           "--state-dir", w->state, "--json");
	it_expect_status(&r, 1);
	assert_target(&r, 1, "faulted", 0, w->dst[0], OLD_ROWS);
	assert_non_null(strstr(r.out, "23514"));
	it_run_free(&r);
	/* The same without --jobs: TRUNCATE in the load's one transaction. */
	r = it_cli("copy", "--from", w->src_ci, "--to", w->dst_ci[0], "--table", "u", "--truncate", "--json");
	it_expect_status(&r, 1);
	assert_target(&r, 1, "faulted", 0, w->dst[0], OLD_ROWS);
	it_run_free(&r);
	it_exec(w->dst[0], "ALTER TABLE u DROP CONSTRAINT not_15000");

	/* Ctrl-C in the middle of the load. */
	it_exec(w->dst[0], "CREATE FUNCTION slow() RETURNS trigger LANGUAGE plpgsql AS "
	                   "$$BEGIN PERFORM pg_sleep(0.0005); RETURN NEW; END$$; "
	                   "CREATE TRIGGER slow BEFORE INSERT ON u FOR EACH ROW EXECUTE FUNCTION slow()");
	r = it_cli_full(NULL, SIGINT, 1500, (const char *const[]){"copy", "--from", w->src_ci, "--to",
	                w->dst_ci[0], "--table", "u", "--jobs", "2", "--truncate", "--state-dir", w->state,
	                "--json", NULL});
	it_expect_status(&r, 1);
	assert_non_null(strstr(r.out, "SIGINT"));
	assert_target(&r, 1, "aborted", 0, w->dst[0], OLD_ROWS);
	it_run_free(&r);
	it_exec(w->dst[0], "DROP TRIGGER slow ON u; DROP FUNCTION slow()");

	/* Loaded: the old rows are gone, in the same commit as the new ones came. */
	r = it_cli("copy", "--from", w->src_ci, "--to", w->dst_ci[0], "--table", "u", "--jobs", "2", "--truncate",
	           "--state-dir", w->state, "--json");
	it_expect_status(&r, 0);
	assert_target(&r, 1, "ok", ROWS, w->dst[0], ROWS);
	assert_int_equal(old_rows_left(w->dst[0]), 0);
	it_run_free(&r);

	/* A unique index would make the streams wait on the deleting one: refused before anything moves. */
	it_exec(w->dst[0], "CREATE UNIQUE INDEX u_id ON u (id)");
	r = it_cli("copy", "--from", w->src_ci, "--to", w->dst_ci[0], "--table", "u", "--jobs", "2", "--truncate",
	           "--state-dir", w->state, "--json");
	it_expect_status(&r, 2);
	assert_non_null(strstr(r.err, "unique index \"u_id\""));
	assert_non_null(strstr(r.err, "--jobs 1"));
	assert_string_equal(r.out, "");
	assert_int_equal(it_count(w->dst[0], "u"), ROWS);
	it_run_free(&r);
	assert_no_prepared(w->dst[0]);
	assert_int_equal(records_left(w->state), 0);
}

/* restart: stop and start cluster i (after ALTER SYSTEM of a restart-only setting). */
static void
restart(int i)
{
	char name[64];
	const char *as = getenv("PGCM_TEST_AS_SERVER"), *bin = getenv("PGCM_TEST_PGBIN"), *data, *log;

	snprintf(name, sizeof name, "PGCM_TEST_DATADIR_%d", i);
	data = getenv(name);
	snprintf(name, sizeof name, "PGCM_TEST_LOG_%d", i);
	log = getenv(name);
	assert_non_null(bin);
	assert_non_null(data);
	assert_int_equal(it_system("%s '%s/pg_ctl' -D '%s' -l '%s' -w -t 60 restart >/dev/null", as ? as : "", bin,
	                           data, log ? log : "/dev/null"),
	                 0);
}

static void
test_without_prepared_transactions(void **state)
{
	world *w = *state;
	PGconn *c4;
	char *ci4 = with_extra(4, "password=" SENTINEL);
	it_run r;

	if (it_clusters() < 4) {
		print_error("this test needs a fourth cluster: tests/harness.sh -n 4\n");
		fail();
	}
	c4 = it_connect(4);
	it_exec(c4, "ALTER SYSTEM SET max_prepared_transactions = 0");
	PQfinish(c4);
	restart(4);
	c4 = it_connect(4);
	it_exec(c4, "DROP TABLE IF EXISTS u; CREATE TABLE u (id int, s text)");

	/* --jobs needs prepared transactions: refused before anything moves, saying what to do. */
	r = it_cli("copy", "--from", w->src_ci, "--to", ci4, "--table", "u", "--jobs", "2", "--state-dir", w->state,
	           "--json");
	it_expect_status(&r, 2);
	no_secret(&r);
	assert_non_null(strstr(r.err, "max_prepared_transactions = 0"));
	assert_non_null(strstr(r.err, "--jobs 1"));
	assert_non_null(strstr(r.err, "Nothing was loaded"));
	assert_string_equal(r.out, "");
	assert_int_equal(it_count(c4, "u"), 0);
	it_run_free(&r);
	/* So is a selection of many tables spread over two sessions (README, "Many tables in one run"). */
	it_exec(w->src, "CREATE TABLE u2 (id int); INSERT INTO u2 VALUES (1)");
	it_exec(c4, "DROP TABLE IF EXISTS u2; CREATE TABLE u2 (id int)");
	r = it_cli("copy", "--from", w->src_ci, "--to", ci4, "-t", "u", "-t", "u2", "--jobs", "2", "--state-dir",
	           w->state, "--json");
	it_expect_status(&r, 2);
	no_secret(&r);
	assert_non_null(strstr(r.err, "max_prepared_transactions = 0"));
	assert_int_equal(it_count(c4, "u"), 0);
	assert_int_equal(it_count(c4, "u2"), 0);
	it_run_free(&r);
	assert_int_equal(records_left(w->state), 0);
	it_exec(w->src, "DROP TABLE u2");
	it_exec(c4, "DROP TABLE u2");
	/* A dry run shows the plan, then refuses the same way; it writes no record. */
	r = it_cli("copy", "--from", w->src_ci, "--to", ci4, "--table", "u", "--jobs", "2", "--state-dir", w->state,
	           "--dry-run");
	it_expect_status(&r, 2);
	no_secret(&r);
	assert_non_null(strstr(r.out, "plan: table "));
	assert_non_null(strstr(r.err, "max_prepared_transactions = 0"));
	it_run_free(&r);
	assert_int_equal(records_left(w->state), 0);
	/* Where prepared transactions are on, the dry run passes, and still writes no record. */
	r = it_cli("copy", "--from", w->src_ci, "--to", w->dst_ci[0], "--table", "u", "--jobs", "2", "--state-dir",
	           w->state, "--dry-run");
	it_expect_status(&r, 0);
	it_run_free(&r);
	assert_int_equal(records_left(w->state), 0);
	/* So does --on-fault abort over several server targets. */
	r = it_cli("copy", "--from", w->src_ci, "--to", w->dst_ci[0], "--to", ci4, "--table", "u", "--on-fault",
	           "abort", "--state-dir", w->state, "--json");
	it_expect_status(&r, 2);
	assert_non_null(strstr(r.err, "--on-fault continue"));
	assert_int_equal(it_count(c4, "u"), 0);
	assert_int_equal(it_count(w->dst[0], "u"), 0);
	it_run_free(&r);
	assert_int_equal(records_left(w->state), 0);

	/* One session per target needs no two-phase commit: loaded, and the report says so. */
	r = it_cli("copy", "--from", w->src_ci, "--to", w->dst_ci[0], "--to", ci4, "--table", "u", "--json");
	it_expect_status(&r, 0);
	assert_target(&r, 1, "ok", ROWS, w->dst[0], ROWS);
	assert_target(&r, 2, "ok", ROWS, c4, ROWS);
	it_run_free(&r);
	/* --on-fault abort with one server target and a file: the file follows the server's commit. */
	refuse_at_commit(c4);
	r = it_cli("copy", "--from", w->src_ci, "--to", ci4, "--to", "file:/tmp/pgcm-commit-file.copy", "--table",
	           "u", "--on-fault", "abort", "--json");
	it_expect_status(&r, 1);
	assert_target(&r, 1, "faulted", 0, c4, ROWS);
	assert_non_null(strstr(r.out, "\"status\": \"aborted\""));
	assert_int_equal(access("/tmp/pgcm-commit-file.copy", F_OK), -1);
	it_run_free(&r);
	assert_no_prepared(c4);

	it_exec(c4, "DROP TABLE u; DROP FUNCTION refuse_19000()");
	it_exec(c4, "ALTER SYSTEM RESET max_prepared_transactions");
	PQfinish(c4);
	restart(4);
	free(ci4);
}

static void
test_recover_by_hand_cases(void **state)
{
	world *w = *state;
	char path[512];
	FILE *f;
	it_run r;

	r = it_cli("recover", "--help");
	it_expect_status(&r, 0);
	assert_non_null(strstr(r.out, "--state-dir"));
	it_run_free(&r);
	r = it_cli("recover", "--bogus");
	it_expect_status(&r, 2);
	assert_non_null(strstr(r.err, "unknown option"));
	it_run_free(&r);
	r = it_cli("recover", "--state-dir", w->state);
	it_expect_status(&r, 0);
	assert_non_null(strstr(r.out, "recover: 0 committed, 0 rolled back, 0 skipped, 0 left"));
	it_run_free(&r);

	/* A prepared transaction of a run this state directory has no record of is left alone. */
	it_exec(w->dst[0], "BEGIN; INSERT INTO u VALUES (1, 'x'); PREPARE TRANSACTION 'pgcopyman:0123456789abcdef:t1:s1'");
	it_exec(w->dst[0], "BEGIN; INSERT INTO u VALUES (2, 'y'); PREPARE TRANSACTION 'not ours'");
	r = it_cli("recover", "--to", w->dst_ci[0], "--state-dir", w->state);
	it_expect_status(&r, 1);
	no_secret(&r);
	assert_non_null(strstr(r.out, "left pgcopyman:0123456789abcdef:t1:s1"));
	assert_non_null(strstr(r.out, "no record of run 0123456789abcdef"));
	assert_non_null(strstr(r.out, "ROLLBACK PREPARED 'pgcopyman:0123456789abcdef:t1:s1'"));
	assert_null(strstr(r.out, "not ours"));
	it_run_free(&r);
	assert_int_equal(prepared_count(w->dst[0]), 2);

	/* A record that is not whole is not acted on. */
	snprintf(path, sizeof path, "%s/0123456789abcdef.run", w->state);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("pgcopyman-run 1\nrun 0123456789abcdef\ncommit pgcopyman:0123456789abcdef:t1:s1\n", f);
	fclose(f);
	r = it_cli("recover", "--to", w->dst_ci[0], "--state-dir", w->state);
	it_expect_status(&r, 1);
	assert_non_null(strstr(r.out, "is not a complete pgcopyman run record"));
	it_run_free(&r);
	assert_int_equal(prepared_count(w->dst[0]), 2);
	/* A whole one that does not list it: presumed abort. */
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("pgcopyman-run 1\nrun 0123456789abcdef\npid 1\nend\n", f);
	fclose(f);
	r = it_cli("recover", "--to", w->dst_ci[0], "--state-dir", w->state, "--dry-run");
	it_expect_status(&r, 0);
	assert_non_null(strstr(r.out, "would be rolled back pgcopyman:0123456789abcdef:t1:s1"));
	it_run_free(&r);
	assert_int_equal(prepared_count(w->dst[0]), 2);
	r = it_cli("recover", "--to", w->dst_ci[0], "--state-dir", w->state);
	it_expect_status(&r, 0);
	assert_non_null(strstr(r.out, "rolled back pgcopyman:0123456789abcdef:t1:s1"));
	it_run_free(&r);
	assert_int_equal(prepared_count(w->dst[0]), 1);
	it_exec(w->dst[0], "ROLLBACK PREPARED 'not ours'");
	assert_int_equal(it_count(w->dst[0], "u"), 0);
	unlink(path);

	/* One in another database is named, with the way to reach it. */
	it_exec(w->dst[0], "DROP DATABASE IF EXISTS other");
	it_exec(w->dst[0], "CREATE DATABASE other");
	{
		char *ci = with_extra(2, "dbname=other");
		PGconn *o = PQconnectdb(ci);
		assert_int_equal(PQstatus(o), CONNECTION_OK);
		it_exec(o, "BEGIN; CREATE TABLE v (i int); PREPARE TRANSACTION 'pgcopyman:fedcba9876543210:t1:s1'");
		r = it_cli("recover", "--to", w->dst_ci[0], "--state-dir", w->state);
		it_expect_status(&r, 1);
		assert_non_null(strstr(r.out, "in database \"other\""));
		it_run_free(&r);
		it_exec(o, "ROLLBACK PREPARED 'pgcopyman:fedcba9876543210:t1:s1'");
		PQfinish(o);
		free(ci);
	}
	it_exec(w->dst[0], "DROP DATABASE other");
}

static void
test_copy_warns_about_leftovers(void **state)
{
	world *w = *state;
	it_run r;

	it_exec(w->dst[0], "BEGIN; INSERT INTO u VALUES (1, 'x'); PREPARE TRANSACTION 'pgcopyman:0123456789abcdef:t1:s2'");
	r = it_cli("copy", "--from", w->src_ci, "--to", w->dst_ci[0], "--table", "u", "--json");
	it_expect_status(&r, 0);
	no_secret(&r);
	assert_non_null(strstr(r.err, "WARNING: target 1 ("));
	assert_non_null(strstr(r.err, "holds 1 prepared transaction of an earlier pgcopyman run"));
	assert_non_null(strstr(r.err, "pgcopyman:0123456789abcdef:t1:s2"));
	assert_non_null(strstr(r.err, "pgcopyman recover --to 'user="));
	assert_target(&r, 1, "ok", ROWS, w->dst[0], ROWS);
	it_run_free(&r);
	it_exec(w->dst[0], "ROLLBACK PREPARED 'pgcopyman:0123456789abcdef:t1:s2'");
}

/*
 * uri_in_dbname: cluster i as a URI with the sentinel password, given as the
 * dbname of a connection string (libpq alone would take the URI for a
 * database name; the command expands it); malloc'd.
 */
static char *
uri_in_dbname(int i)
{
	PQconninfoOption *opts = PQconninfoParse(it_conninfo(i), NULL);
	const char *host = "", *port = "5432", *db = "postgres";
	char *s = malloc(1024);

	assert_non_null(opts);
	assert_non_null(s);
	for (PQconninfoOption *o = opts; o->keyword; o++) {
		if (o->val && strcmp(o->keyword, "host") == 0)
			host = o->val;
		if (o->val && strcmp(o->keyword, "port") == 0)
			port = o->val;
		if (o->val && strcmp(o->keyword, "dbname") == 0)
			db = o->val;
	}
	snprintf(s, 1024, "dbname=postgresql://postgres:" SENTINEL "@/%s?host=%s&port=%s", db, host, port);
	PQconninfoFree(opts);
	return s;
}

/* record_line: the line of record text starting with prefix ("\ntarget 2 "), malloc'd, without its newline. */
static char *
record_line(const char *text, const char *prefix)
{
	const char *line = strstr(text, prefix), *eol;

	assert_non_null(line);
	line++;
	eol = strchr(line, '\n');
	assert_non_null(eol);
	return strndup(line, (size_t) (eol - line));
}

/*
 * The state directory keeps no password: not one given as password=, nor
 * one inside a URI given as dbname= (expanded, then left out); the labels
 * show them masked.  recover then connects with what the record keeps.
 */
static void
test_default_state_dir_keeps_no_secret(void **state)
{
	world *w = *state;
	const char *xdg = getenv("XDG_STATE_HOME");
	char dir[512], path[512], id[17], *text, *line, *dburi = uri_in_dbname(3);
	struct stat st;
	it_run r;

	assert_non_null(xdg);
	snprintf(dir, sizeof dir, "%s/pgcopyman", xdg);
	setenv("PGCOPYMAN_TEST_KILL_AT", "after-decision", 1);
	r = it_cli("copy", "--from", w->src_ci, "--to", w->dst_ci[0], "--to", dburi, "--table", "u", "--jobs", "2");
	unsetenv("PGCOPYMAN_TEST_KILL_AT");
	it_expect_status(&r, 128 + SIGKILL);
	it_run_free(&r);
	one_record(dir, path, sizeof path, id);
	/* The connection strings without the password; the labels with it masked. */
	text = it_slurp(path);
	assert_null(strstr(text, SENTINEL));
	for (int t = 1; t <= 2; t++) {
		char prefix[16];
		snprintf(prefix, sizeof prefix, "\ntarget %d ", t);
		line = record_line(text, prefix);
		assert_null(strstr(line, "password"));
		assert_null(strstr(line, "postgresql://"));
		assert_non_null(strstr(line, "dbname=postgres"));
		free(line);
	}
	assert_non_null(strstr(text, "\nlabel 1 user=postgres password=********"));
	line = record_line(text, "\nlabel 2 ");
	assert_non_null(strstr(line, "password=********"));
	assert_null(strstr(line, "postgresql://"));
	free(line);
	assert_non_null(strstr(text, "\ncommit pgcopyman:"));
	free(text);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(stat(dir, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);
	r = it_cli("recover");
	it_expect_status(&r, 0);
	assert_non_null(strstr(r.out, "recover: 4 committed, 0 rolled back, 0 skipped, 0 left"));
	it_run_free(&r);
	assert_int_equal(records_left(dir), 0);
	assert_no_prepared(w->dst[0]);
	assert_no_prepared(w->dst[1]);
	assert_int_equal(it_count(w->dst[0], "u"), ROWS);
	assert_int_equal(it_count(w->dst[1], "u"), ROWS);
	free(dburi);
}

/* complete: what bash completion offers for words (the last one being completed). */
static char *
complete(const char *words)
{
	char cmd[1024], *out = calloc(1, 4096);
	FILE *p;
	size_t n;

	assert_non_null(out);
	snprintf(cmd, sizeof cmd,
	         "bash --norc --noprofile -c 'source contrib/pgcopyman.bash || exit 9; COMP_WORDS=(%s); "
	         "COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); _pgcopyman pgcopyman; printf \"%%s\\n\" \"${COMPREPLY[@]}\"'",
	         words);
	p = popen(cmd, "r");
	assert_non_null(p);
	n = fread(out, 1, 4095, p);
	out[n] = '\0';
	assert_int_equal(pclose(p), 0);
	return out;
}

static void
test_help_and_completion(void **state)
{
	char *out;
	it_run r;

	(void) state;
	r = it_cli("--help");
	it_expect_status(&r, 0);
	assert_non_null(strstr(r.out, "pgcopyman recover"));
	it_run_free(&r);
	r = it_cli("copy", "--help");
	it_expect_status(&r, 0);
	assert_non_null(strstr(r.out, "--state-dir DIR"));
	assert_non_null(strstr(r.out, "4 the outcome on some target is unknown"));
	/* Every option the help names, the completion offers. */
	out = complete("pgcopyman copy --");
	for (const char *p = strstr(r.out, "--"); p; p = strstr(p + 2, "--")) {
		char opt[64];
		size_t n = 2 + strspn(p + 2, "abcdefghijklmnopqrstuvwxyz-");
		if (n < 4 || n >= sizeof opt || p[-1] != ' ')
			continue;
		snprintf(opt, sizeof opt, "\n%.*s\n", (int) n, p);
		if (!strstr(out, opt) && strncmp(out, opt + 1, n + 1) != 0) {
			print_error("copy --help names %s, the completion does not offer it:\n%s", opt + 1, out);
			fail();
		}
	}
	free(out);
	it_run_free(&r);
	out = complete("pgcopyman re");
	assert_string_equal(out, "recover\n");
	free(out);
	out = complete("pgcopyman copy --state");
	assert_string_equal(out, "--state-dir\n");
	free(out);
	out = complete("pgcopyman recover --");
	assert_string_equal(out, "--to\n--state-dir\n--dry-run\n--password\n--no-password\n--help\n");
	free(out);
	out = complete("pgcopyman recover --to post");
	assert_string_equal(out, "postgresql://\n");
	free(out);
}

IT_GROUP(commit)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_deferred_trigger_with_jobs, setup, teardown),
		cmocka_unit_test_setup_teardown(test_deferred_unique_on_fault_abort, setup, teardown),
		cmocka_unit_test_setup_teardown(test_deferred_trigger_on_fault_continue, setup, teardown),
		cmocka_unit_test_setup_teardown(test_kill_at_each_moment_then_recover, setup, teardown),
		cmocka_unit_test_setup_teardown(test_recover_leaves_live_runs, setup, teardown),
		cmocka_unit_test_setup_teardown(test_backend_terminated_during_prepare, setup, teardown),
		cmocka_unit_test_setup_teardown(test_backend_terminated_during_commit_prepared, setup, teardown),
		cmocka_unit_test_setup_teardown(test_commit_outcome_unknown, setup, teardown),
		cmocka_unit_test_setup_teardown(test_truncate_with_jobs_keeps_old_rows, setup, teardown),
		cmocka_unit_test_setup_teardown(test_without_prepared_transactions, setup, teardown),
		cmocka_unit_test_setup_teardown(test_recover_by_hand_cases, setup, teardown),
		cmocka_unit_test_setup_teardown(test_copy_warns_about_leftovers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_default_state_dir_keeps_no_secret, setup, teardown),
		cmocka_unit_test(test_help_and_completion),
	};
	return it_add_group("commit", tests, NULL, NULL);
}
