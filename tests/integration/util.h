/*
 * util.h: what the integration tests share: the runner's registration
 * (runner.c), the fixture of the copy tests, connections to the harness's
 * clusters, SQL that must succeed, checksums, fault injection, the CLI.
 * Each helper fails the current cmocka test with a message that names the
 * SQL and the server's error.
 */
#ifndef PGCM_TEST_UTIL_H
#define PGCM_TEST_UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <setjmp.h>
#include <cmocka.h>

#include <libpq-fe.h>
#include "pgcopyman.h"

/* ------------------------------------------------------------------------
 * Groups: every itest_*.c file is linked into one runner, build/tests/itest
 * ------------------------------------------------------------------------ */

/*
 * IT_GROUP(name) { ... return it_add_group("name", tests, setup, teardown); }
 * declares a group of tests (in place of a main()); the runner finds it by
 * itself.  The block builds its CMUnitTest array as before and hands it to
 * it_add_group(), with the group's own setup and teardown (may be NULL).
 * Each test then runs in a child process of its own, under a time limit.
 */
typedef int (*it_group_fn)(void);
void it_register_group(it_group_fn fn);
int it__add_group(const char *name, const struct CMUnitTest *tests, size_t n,
                  CMFixtureFunction setup, CMFixtureFunction teardown);
#define it_add_group(name, tests, setup, teardown) \
	it__add_group(name, tests, sizeof(tests) / sizeof((tests)[0]), setup, teardown)
#define IT_GROUP(name) \
	static int it_group_##name(void); \
	static void it_register_##name(void) __attribute__((constructor)); \
	static void it_register_##name(void) { it_register_group(it_group_##name); } \
	static int it_group_##name(void)

/* ------------------------------------------------------------------------
 * The copy tests' fixture: a source, targets, the mixed table, a directory
 * ------------------------------------------------------------------------ */

/* A password the servers ignore (trust), which must never be shown. */
#define IT_SECRET "S3cr3tSentinel"

typedef struct it_world {
	PGconn *src;            /* cluster 1: table t, filled with the rows asked for */
	PGconn *dst[3];         /* clusters 2 .. ndst + 1: table t, empty */
	int ndst;
	char *src_ci;           /* their connection strings with password=IT_SECRET */
	char *dst_ci[3];
	char dir[64];           /* a private temporary directory, removed by the teardown */
	int lenient;            /* IT_LENIENT was given */
} it_world;

/*
 * IT_LENIENT: the tests may leave a connection dead (it is closed) or inside
 * a transaction (it is rolled back); otherwise the teardown fails a test that
 * leaves a connection unusable or not idle.
 */
#define IT_LENIENT 1

/* it_world_setup: connect, (re)create t everywhere, fill the source's; *state gets the world. */
int it_world_setup(void **state, int ndst, int rows, int flags);
/* it_world_teardown: check and close every connection, remove the directory, free. */
int it_world_teardown(void **state);
/*
 * IT_WORLD_FIXTURE(ndst, rows, flags): the static setup and teardown of a
 * file whose tests all use the same world.
 */
#define IT_WORLD_FIXTURE(ndst, rows, flags) \
	static int setup(void **state) { return it_world_setup(state, ndst, rows, flags); } \
	static int teardown(void **state) { return it_world_teardown(state); }

/* ------------------------------------------------------------------------
 * The plan tests' fixture: three pinned sessions to a database of their own
 * ------------------------------------------------------------------------ */

/* Three pinned sessions to a fresh database on clusters 1 (the source), 2 and 3 (targets). */
typedef struct it_trio {
	PGconn *src, *dst, *dst2;
} it_trio;
/*
 * it_trio_setup / it_trio_teardown: a group's setup and teardown (the runner
 * runs them around each test, in its child): (re)create db on each cluster
 * and connect; check that each session is usable and idle, close.
 */
int it_trio_setup(void **state, const char *db);
int it_trio_teardown(void **state);
/*
 * it_plan_new: a plan of table from src to every dst[0..ndst), in format f:
 * "auto", "text", "csv" or "binary" (not built yet).
 */
pgcm_plan *it_plan_new(PGconn *src, PGconn *const *dst, int ndst, const char *table, const char *f);
/*
 * it_plan_run: the built plan's copy, each target in its own transaction,
 * committed only when the copy succeeded.  err gets the failure.
 */
pgcm_status it_plan_run(PGconn *src, PGconn *const *dst, int ndst, const pgcm_plan *p, char *err,
                        size_t errlen);

/* ------------------------------------------------------------------------
 * Connections, SQL, the servers' processes
 * ------------------------------------------------------------------------ */

/* The connection string of cluster i (1-based), from PGCM_TEST_CONN_i. */
const char *it_conninfo(int i);
/* How many clusters the harness started. */
int it_clusters(void);
/* Connect to cluster i; fails the test on error.  Notices are kept quiet. */
PGconn *it_connect(int i);
/* The connection string of cluster i, database db (malloc'd), and a connection to it. */
char *it_conninfo_db(int i, const char *db);
PGconn *it_connect_db(int i, const char *db);
/* The connection string of cluster i with a password (malloc'd; the servers trust, and ignore it). */
char *it_conninfo_password(int i, const char *password);
/* A connection to database db of cluster i, pinned with pgcm_session_pin() as the command pins its own. */
PGconn *it_connect_pinned(int i, const char *db);
/* (Re)create database db on cluster i (dropping it first). */
void it_create_database(int i, const char *db);
/* Fails the test unless sql's first value on conn is want (as text). */
void it_expect_sql(PGconn *conn, const char *sql, const char *want);
/* Run sql (one or more statements); fails the test unless it succeeds. */
void it_exec(PGconn *conn, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The first column of the first row of sql, malloc'd ("" for NULL). */
char *it_scalar(PGconn *conn, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* count(*) of table. */
long long it_count(PGconn *conn, const char *table);
/* md5 over every row of table, ordered by all columns: equal iff same rows. */
char *it_table_checksum(PGconn *conn, const char *table);
/* Fails the test unless conn answers SELECT 1 and is idle (not in a transaction). */
void it_assert_usable(PGconn *conn);
/* The backend pid of conn. */
int it_backend_pid(PGconn *conn);
/* pg_terminate_backend(pid) from a fresh connection to cluster i. */
void it_terminate(int cluster, int pid);
/* Send sig (SIGSTOP, SIGCONT, SIGKILL) to backend pid (as the servers' user). */
void it_signal_backend(int pid, int sig);
/* Run a shell command; returns its exit status. */
int it_system(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/*
 * (Re)create table name with the awkward columns the copy tests use: bigint
 * key, timestamptz, numeric, text, text[], jsonb, boolean, uuid, bytea.
 */
void it_create_mixed_table(PGconn *conn, const char *name);
/* Add rows 1..rows to it: NULLs, tabs, newlines, backslashes, quotes, commas, non-ASCII. */
void it_fill_mixed(PGconn *conn, const char *name, int rows);
/* Milliseconds on a monotonic clock, with their fraction. */
double it_now_ms(void);
/* Path of the build directory's file (PGCM_BUILD, default "build"). */
const char *it_build_path(const char *file, char *buf, size_t size);

/* A finished run of the pgcopyman command. */
typedef struct it_run {
	int status;        /* exit status, or 128 + signal */
	char *out;         /* stdout, whole */
	char *err;         /* stderr, whole */
	double seconds;
} it_run;

/*
 * it_cli_full: run build/pgcopyman with args (NULL-terminated), stdin from
 * in_path (or /dev/null), stdout and stderr captured; if sig, send it after
 * signal_after_ms.  Every run is bounded by a 120 s alarm.
 */
it_run it_cli_full(const char *in_path, int sig, int signal_after_ms, const char *const *args);
#define it_cli(...) it_cli_full(NULL, 0, 0, (const char *const[]){__VA_ARGS__, NULL})
void it_run_free(it_run *r);

/* Fails the test, showing both outputs, unless the run exited with status. */
void it_expect_status(const it_run *r, int status);
/* A whole file, malloc'd and NUL-terminated. */
char *it_slurp(const char *path);
/* it_wait_file_text: path's contents (malloc'd) once they hold text; fails the test after ms. */
char *it_wait_file_text(const char *path, const char *text, int ms);
/* it_count_text: how many times what occurs in s (not overlapping). */
int it_count_text(const char *s, const char *what);
/* What the server's COPY ... TO STDOUT statement sql writes, whole (malloc'd; its length in *len). */
char *it_copy_out(PGconn *conn, const char *sql, size_t *len);

/* A run of the command in the background (it_cli_spawn), its output going to files. */
typedef struct it_proc {
	pid_t pid;
	int gate;          /* write end: a byte lets the child exec (it_cli_release); -1: none */
	char out[40], err[40];
	double t0;         /* when it started (it_run.seconds) */
} it_proc;
/*
 * it_cli_spawn: start build/pgcopyman with args (NULL-terminated) in the
 * background, stdin from in_fd (-1: /dev/null), stdout and stderr to files.
 * gated: the child waits for it_cli_release() before it execs, so that the
 * caller knows its pid first.  Bounded by a 120 s alarm.
 */
void it_cli_spawn(it_proc *p, const char *const *args, int in_fd, int gated);
/*
 * it_inherited_maxrss_kb: what a child of this process reports as its peak
 * RSS before it does anything: Linux carries the forked copy of this (large,
 * under ASan) process's memory into ru_maxrss across execve, so a command's
 * own peak shows only above it.
 */
long it_inherited_maxrss_kb(void);
/* it_cli_bg: it_cli_spawn into *p with these args, stdin /dev/null, not gated. */
#define it_cli_bg(p, ...) it_cli_spawn((p), (const char *const[]){__VA_ARGS__, NULL}, -1, 0)
/* it_cli_release: let a gated child exec. */
void it_cli_release(it_proc *p);
/* it_cli_wait: wait for the run (releasing it if gated); its status and output; *maxrss_kb if not NULL. */
it_run it_cli_wait(it_proc *p, long *maxrss_kb);

#endif
