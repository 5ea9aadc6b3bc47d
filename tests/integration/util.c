/*
 * util.c: helpers for the integration tests (see util.h).
 */
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/wait.h>

#include "util.h"
#include "pgcopyman.h"

const char *
it_conninfo(int i)
{
	char name[64];
	const char *v;

	snprintf(name, sizeof name, "PGCM_TEST_CONN_%d", i);
	v = getenv(name);
	if (!v) {
		print_error("%s is not set: run the tests through tests/harness.sh\n", name);
		fail();
	}
	return v;
}

int
it_clusters(void)
{
	const char *v = getenv("PGCM_TEST_CLUSTERS");

	return v ? atoi(v) : 0;
}

static void
quiet_notice(void *arg, const char *message)
{
	(void) arg;
	(void) message;
}

PGconn *
it_connect(int i)
{
	PGconn *conn = PQconnectdb(it_conninfo(i));

	if (PQstatus(conn) != CONNECTION_OK) {
		print_error("connect to cluster %d: %s", i, PQerrorMessage(conn));
		PQfinish(conn);
		fail();
	}
	PQsetNoticeProcessor(conn, quiet_notice, NULL);
	return conn;
}

/* conninfo_with: cluster i's connection string with keyword=value added (malloc'd). */
static char *
conninfo_with(int i, const char *keyword, const char *value)
{
	const char *base = it_conninfo(i);
	size_t n = strlen(base) + strlen(keyword) + strlen(value) + 3;
	char *s = malloc(n);

	assert_non_null(s);
	/* libpq takes the last value of a keyword given twice. */
	snprintf(s, n, "%s %s=%s", base, keyword, value);
	return s;
}

char *
it_conninfo_db(int i, const char *db)
{
	return conninfo_with(i, "dbname", db);
}

char *
it_conninfo_password(int i, const char *password)
{
	return conninfo_with(i, "password", password);
}

PGconn *
it_connect_db(int i, const char *db)
{
	char *ci = it_conninfo_db(i, db);
	PGconn *conn = PQconnectdb(ci);

	free(ci);
	if (PQstatus(conn) != CONNECTION_OK) {
		print_error("connect to cluster %d, database %s: %s", i, db, PQerrorMessage(conn));
		PQfinish(conn);
		fail();
	}
	PQsetNoticeProcessor(conn, quiet_notice, NULL);
	return conn;
}

void
it_create_database(int i, const char *db)
{
	PGconn *admin = it_connect(i);

	it_exec(admin, "DROP DATABASE IF EXISTS %s WITH (FORCE)", db);
	it_exec(admin, "CREATE DATABASE %s", db);
	PQfinish(admin);
}

static char *
format_sql(const char *fmt, va_list ap)
{
	va_list ap2;
	int n;
	char *s;

	va_copy(ap2, ap);
	n = vsnprintf(NULL, 0, fmt, ap2);
	va_end(ap2);
	s = malloc((size_t) n + 1);
	assert_non_null(s);
	vsnprintf(s, (size_t) n + 1, fmt, ap);
	return s;
}

void
it_exec(PGconn *conn, const char *fmt, ...)
{
	va_list ap;
	char *sql;
	PGresult *res;
	ExecStatusType st;

	va_start(ap, fmt);
	sql = format_sql(fmt, ap);
	va_end(ap);
	res = PQexec(conn, sql);
	st = PQresultStatus(res);
	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
		print_error("SQL failed: %.300s\n  %s", sql, PQerrorMessage(conn));
		PQclear(res);
		free(sql);
		fail();
	}
	PQclear(res);
	free(sql);
}

char *
it_scalar(PGconn *conn, const char *fmt, ...)
{
	va_list ap;
	char *sql, *out;
	PGresult *res;

	va_start(ap, fmt);
	sql = format_sql(fmt, ap);
	va_end(ap);
	res = PQexec(conn, sql);
	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) < 1) {
		print_error("query failed: %.300s\n  %s", sql, PQerrorMessage(conn));
		PQclear(res);
		free(sql);
		fail();
	}
	out = strdup(PQgetvalue(res, 0, 0));
	assert_non_null(out);
	PQclear(res);
	free(sql);
	return out;
}

long long
it_count(PGconn *conn, const char *table)
{
	char *v = it_scalar(conn, "SELECT count(*) FROM %s", table);
	long long n = atoll(v);

	free(v);
	return n;
}

char *
it_table_checksum(PGconn *conn, const char *table)
{
	/* Each row as its text form, sorted, hashed: NULLs and every byte count. */
	return it_scalar(conn,
	                 "SELECT coalesce(md5(string_agg(r, E'\\n' ORDER BY r COLLATE \"C\")), 'empty') "
	                 "FROM (SELECT t::text AS r FROM %s t) s", table);
}

void
it_assert_usable(PGconn *conn)
{
	PGresult *res;

	assert_int_equal(PQstatus(conn), CONNECTION_OK);
	res = PQexec(conn, "SELECT 1");
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		print_error("connection not usable: %s", PQerrorMessage(conn));
		PQclear(res);
		fail();
	}
	assert_string_equal(PQgetvalue(res, 0, 0), "1");
	PQclear(res);
	assert_int_equal(PQtransactionStatus(conn), PQTRANS_IDLE);
}

int
it_backend_pid(PGconn *conn)
{
	return PQbackendPID(conn);
}

void
it_terminate(int cluster, int pid)
{
	PGconn *admin = it_connect(cluster);
	char *ok = it_scalar(admin, "SELECT pg_terminate_backend(%d)", pid);

	assert_string_equal(ok, "t");
	free(ok);
	PQfinish(admin);
}

void
it_signal_backend(int pid, int sig)
{
	if (kill(pid, sig) != 0) {
		/* Not allowed as ourselves: the servers run as postgres. */
		const char *as = getenv("PGCM_TEST_AS_SERVER");
		assert_int_equal(it_system("%s kill -%d %d", as ? as : "", sig, pid), 0);
	}
}

int
it_system(const char *fmt, ...)
{
	va_list ap;
	char *cmd;
	int st;

	va_start(ap, fmt);
	cmd = format_sql(fmt, ap);
	va_end(ap);
	st = system(cmd);
	free(cmd);
	if (st == -1)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

double
it_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double) ts.tv_sec * 1e3 + (double) ts.tv_nsec / 1e6;
}

const char *
it_build_path(const char *file, char *buf, size_t size)
{
	const char *b = getenv("PGCM_BUILD");

	snprintf(buf, size, "%s/%s", b ? b : "build", file);
	return buf;
}

void
it_create_mixed_table(PGconn *conn, const char *name)
{
	it_exec(conn, "DROP TABLE IF EXISTS %s; CREATE TABLE %s (id bigint PRIMARY KEY, "
	              "ts timestamptz, n numeric, s text, a text[], j jsonb, b boolean, u uuid, by bytea)",
	        name, name);
}

void
it_fill_mixed(PGconn *conn, const char *name, int rows)
{
	it_exec(conn,
	        "INSERT INTO %s SELECT g, timestamptz '2020-01-01 00:00:00+00' + g * interval '1 minute', "
	        "CASE WHEN g %% 11 = 0 THEN NULL ELSE g * 1.25 END, "
	        "CASE WHEN g %% 7 = 0 THEN NULL ELSE 'row ' || g || "
	        "E'\\ttab\\nnewline\\\\backslash \"q\" ,comma \u00e9\u65e5\u672c' END, "
	        "ARRAY['x', 'y,' || g, NULL], jsonb_build_object('k', g, 's', E'a\\nb'), g %% 2 = 0, "
	        "md5(g::text)::uuid, decode(md5(g::text), 'hex') "
	        "FROM generate_series(1, %d) g", name, rows);
}

int
it_world_setup(void **state, int ndst, int rows, int flags)
{
	it_world *w = calloc(1, sizeof *w);

	assert_non_null(w);
	assert_true(ndst >= 0 && ndst <= 3);
	w->ndst = ndst;
	w->lenient = (flags & IT_LENIENT) != 0;
	w->src = it_connect(1);
	w->src_ci = it_conninfo_password(1, IT_SECRET);
	it_create_mixed_table(w->src, "t");
	if (rows > 0)
		it_fill_mixed(w->src, "t", rows);
	for (int i = 0; i < ndst; i++) {
		w->dst[i] = it_connect(i + 2);
		w->dst_ci[i] = it_conninfo_password(i + 2, IT_SECRET);
		it_create_mixed_table(w->dst[i], "t");
	}
	snprintf(w->dir, sizeof w->dir, "/tmp/pgcm-itest.XXXXXX");
	assert_non_null(mkdtemp(w->dir));
	*state = w;
	return 0;
}

/*
 * close_checked: a connection the test left behind must be usable and idle;
 * a lenient world rolls back what a test left open and closes a dead one.
 */
static void
close_checked(PGconn *conn, int lenient)
{
	if (!conn)
		return;
	if (!lenient || PQstatus(conn) == CONNECTION_OK) {
		if (lenient && PQtransactionStatus(conn) != PQTRANS_IDLE)
			it_exec(conn, "ROLLBACK");
		it_assert_usable(conn);
	}
	PQfinish(conn);
}

int
it_world_teardown(void **state)
{
	it_world *w = *state;

	close_checked(w->src, w->lenient);
	free(w->src_ci);
	for (int i = 0; i < w->ndst; i++) {
		close_checked(w->dst[i], w->lenient);
		free(w->dst_ci[i]);
	}
	it_system("rm -rf '%s'", w->dir);
	free(w);
	return 0;
}

char *
it_slurp(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc((size_t) n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t) n, f), (size_t) n);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

char *
it_wait_file_text(const char *path, const char *text, int ms)
{
	for (int waited = 0;; waited += 50) {
		char *s = it_slurp(path);
		if (strstr(s, text))
			return s;
		if (waited >= ms)
			fail_msg("%s did not say \"%s\" within %d ms; it holds:\n%s", path, text, ms, s);
		free(s);
		poll(NULL, 0, 50);
	}
}

int
it_count_text(const char *s, const char *what)
{
	int n = 0;

	for (const char *p = s; (p = strstr(p, what)); p += strlen(what))
		n++;
	return n;
}

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

void
it_cli_spawn(it_proc *p, const char *const *args, int in_fd, int gated)
{
	char bin[512];
	const char *argv[64];
	int n = 0, gate[2] = {-1, -1}, ofd, efd;

	memset(p, 0, sizeof *p);
	snprintf(p->out, sizeof p->out, "/tmp/pgcm-cli-out.XXXXXX");
	snprintf(p->err, sizeof p->err, "/tmp/pgcm-cli-err.XXXXXX");
	ofd = mkstemp(p->out);
	efd = mkstemp(p->err);
	assert_true(ofd >= 0 && efd >= 0);
	p->t0 = now_s();
	argv[n++] = it_build_path("pgcopyman", bin, sizeof bin);
	for (int i = 0; args[i] && n < 63; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	if (gated)
		assert_int_equal(pipe(gate), 0);
	p->pid = fork();
	assert_true(p->pid >= 0);
	if (p->pid == 0) {
		char go;
		int ifd = in_fd >= 0 ? in_fd : open("/dev/null", O_RDONLY);
		if (gated) {
			close(gate[1]);
			if (read(gate[0], &go, 1) != 1)
				_exit(126);
			close(gate[0]);
		}
		dup2(ifd, 0);
		dup2(ofd, 1);
		dup2(efd, 2);
		alarm(120);
		execv(argv[0], (char *const *) argv);
		_exit(127);
	}
	close(ofd);
	close(efd);
	if (gated)
		close(gate[0]);
	p->gate = gate[1];
}

long
it_inherited_maxrss_kb(void)
{
	struct rusage ru;
	int st;
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		execl("/bin/true", "true", (char *) NULL);
		_exit(127);
	}
	assert_int_equal(wait4(pid, &st, 0, &ru), pid);
	return ru.ru_maxrss;
}

void
it_cli_release(it_proc *p)
{
	if (p->gate < 0)
		return;
	assert_int_equal(write(p->gate, "g", 1), 1);
	close(p->gate);
	p->gate = -1;
	p->t0 = now_s();   /* it runs from now */
}

it_run
it_cli_wait(it_proc *p, long *maxrss_kb)
{
	struct rusage ru;
	it_run r;
	int st;

	it_cli_release(p);
	assert_int_equal(wait4(p->pid, &st, 0, &ru), p->pid);
	if (maxrss_kb)
		*maxrss_kb = ru.ru_maxrss;
	r.seconds = now_s() - p->t0;
	r.status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	r.out = it_slurp(p->out);
	r.err = it_slurp(p->err);
	unlink(p->out);
	unlink(p->err);
	return r;
}

it_run
it_cli_full(const char *in_path, int sig, int signal_after_ms, const char *const *args)
{
	int ifd = open(in_path ? in_path : "/dev/null", O_RDONLY);
	it_proc p;

	assert_true(ifd >= 0);
	it_cli_spawn(&p, args, ifd, 0);
	close(ifd);
	if (sig) {
		usleep((useconds_t) signal_after_ms * 1000);
		kill(p.pid, sig);
	}
	return it_cli_wait(&p, NULL);
}

char *
it_copy_out(PGconn *conn, const char *sql, size_t *len)
{
	PGresult *res = PQexec(conn, sql);
	char *out = NULL, *buf;
	size_t n = 0, cap = 0;
	int got;

	if (PQresultStatus(res) != PGRES_COPY_OUT) {
		print_error("%s: %s", sql, PQerrorMessage(conn));
		PQclear(res);
		fail();
	}
	PQclear(res);
	while ((got = PQgetCopyData(conn, &buf, 0)) > 0) {
		/* Doubling: a realloc per row is quadratic (ASan's realloc always copies). */
		if (n + (size_t) got + 1 > cap) {
			cap = (n + (size_t) got + 1) * 2;
			out = realloc(out, cap);
			assert_non_null(out);
		}
		memcpy(out + n, buf, (size_t) got);
		n += (size_t) got;
		PQfreemem(buf);
	}
	assert_int_equal(got, -1);
	res = PQgetResult(conn);
	assert_int_equal(PQresultStatus(res), PGRES_COMMAND_OK);
	PQclear(res);
	assert_null(PQgetResult(conn));
	*len = n;
	return out ? out : calloc(1, 1);
}

void
it_run_free(it_run *r)
{
	free(r->out);
	free(r->err);
}

void
it_expect_status(const it_run *r, int status)
{
	if (r->status != status) {
		print_error("exit %d, expected %d\nstdout: %.2000s\nstderr: %.2000s\n", r->status, status,
		            r->out, r->err);
		fail();
	}
}

pgcm_plan *
it_plan_new(PGconn *src, PGconn *const *dst, int ndst, const char *table, const char *f)
{
	pgcm_plan *p = pgcm_plan_new();
	pgcm_format fmt;

	assert_non_null(p);
	assert_int_equal(pgcm_plan_set_source_table(p, src, table), PGCM_OK);
	for (int i = 0; i < ndst; i++)
		assert_int_equal(pgcm_plan_add_target(p, dst[i], NULL, NULL), PGCM_OK);
	pgcm_format_init(&fmt, strcmp(f, "csv") == 0 ? PGCM_FORMAT_CSV
	                       : strcmp(f, "binary") == 0 ? PGCM_FORMAT_BINARY : PGCM_FORMAT_TEXT);
	assert_int_equal(pgcm_plan_set_format(p, &fmt, strcmp(f, "auto") == 0), PGCM_OK);
	return p;
}

pgcm_status
it_plan_run(PGconn *src, PGconn *const *dst, int ndst, const pgcm_plan *p, char *err, size_t errlen)
{
	pgcm_format fmt;
	pgcm_producer *prod = pgcm_producer_pg(src, pgcm_plan_source_command(p));
	pgcm_copy *c;
	pgcm_status st;

	assert_int_equal(pgcm_plan_format(p, &fmt), PGCM_OK);
	assert_non_null(prod);
	assert_int_equal(pgcm_producer_set_format(prod, &fmt), PGCM_OK);
	c = pgcm_copy_new(prod);
	assert_non_null(c);
	for (int i = 0; i < ndst; i++) {
		it_exec(dst[i], "BEGIN");
		assert_int_equal(pgcm_copy_add(c, pgcm_receiver_pg(dst[i], pgcm_plan_target_command(p, (size_t) i))),
		                 PGCM_OK);
	}
	st = pgcm_copy_run(c, NULL);
	snprintf(err, errlen, "%s", pgcm_copy_errmsg(c));
	if (st != PGCM_OK) {
		pgcm_failure fl;
		pgcm_copy_finish(c, &fl);
		for (size_t k = 0; k < fl.nfaults; k++)
			snprintf(err, errlen, "%s", fl.faults[k].message);
	}
	pgcm_copy_free(c);
	for (int i = 0; i < ndst; i++)
		it_exec(dst[i], st == PGCM_OK ? "COMMIT" : "ROLLBACK");
	return st;
}

PGconn *
it_connect_pinned(int i, const char *db)
{
	PGconn *conn = it_connect_db(i, db);
	char err[256];

	if (pgcm_session_pin(conn, NULL, err, sizeof err) != PGCM_OK)
		fail_msg("pgcm_session_pin: %s", err);
	return conn;
}

void
it_expect_sql(PGconn *conn, const char *sql, const char *want)
{
	char *got = it_scalar(conn, "%s", sql);

	if (strcmp(got, want) != 0)
		fail_msg("%s:\n got  %s\n want %s", sql, got, want);
	free(got);
}

int
it_trio_setup(void **state, const char *db)
{
	it_trio *t = calloc(1, sizeof *t);

	assert_non_null(t);
	for (int i = 1; i <= 3; i++)
		it_create_database(i, db);
	t->src = it_connect_pinned(1, db);
	t->dst = it_connect_pinned(2, db);
	t->dst2 = it_connect_pinned(3, db);
	*state = t;
	return 0;
}

int
it_trio_teardown(void **state)
{
	it_trio *t = *state;

	it_assert_usable(t->src);
	it_assert_usable(t->dst);
	it_assert_usable(t->dst2);
	PQfinish(t->src);
	PQfinish(t->dst);
	PQfinish(t->dst2);
	free(t);
	return 0;
}
