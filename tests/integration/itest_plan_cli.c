/*
 * itest_plan_cli.c: the copy plan through `pgcopyman copy`: the type matrix
 * with --format auto, text and binary; --dry-run (text and JSON) naming
 * every mismatch and exiting 1; columns in another order, missing, extra,
 * generated (with and without --jobs) and identity columns; an inheritance
 * parent and a partitioned table with and without --jobs, a partitioned
 * target, a view; quoted, mixed-case, unicode and 64-byte names; CSV headers
 * from a file, a redirected stdin and a pipe.
 *
 * The servers' own defaults are hostile to text data: the source database
 * says DateStyle 'SQL, DMY', IntervalStyle sql_standard, extra_float_digits
 * -3 and TimeZone UTC; the target's German, iso_8601 and America/New_York.
 * The command pins its sessions, so every value still arrives exactly.
 *
 * Clusters: 1 is the source; 2 and 3 are targets.  Database "plancli".
 */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util.h"
#include "pgcopyman.h"
#include "plan_cases.h"

#define DB "plancli"

typedef struct world {
	PGconn *src, *dst, *dst2;
	char *src_ci, *dst_ci, *dst2_ci;
	char dir[64];
} world;

static int
setup(void **state)
{
	world *w = calloc(1, sizeof *w);
	PGconn *admin;

	assert_non_null(w);
	for (int i = 1; i <= 3; i++)
		it_create_database(i, DB);
	admin = it_connect(1);
	it_exec(admin, "ALTER DATABASE " DB " SET DateStyle = 'SQL, DMY'; "
	               "ALTER DATABASE " DB " SET IntervalStyle = 'sql_standard'; "
	               "ALTER DATABASE " DB " SET extra_float_digits = -3; "
	               "ALTER DATABASE " DB " SET TimeZone = 'UTC'");
	PQfinish(admin);
	for (int i = 2; i <= 3; i++) {
		admin = it_connect(i);
		it_exec(admin, "ALTER DATABASE " DB " SET DateStyle = 'German'; "
		               "ALTER DATABASE " DB " SET IntervalStyle = 'iso_8601'; "
		               "ALTER DATABASE " DB " SET TimeZone = 'America/New_York'");
		PQfinish(admin);
	}
	w->src = it_connect_pinned(1, DB);
	plan_case_locale(w->src);
	w->dst = it_connect_pinned(2, DB);
	w->dst2 = it_connect_pinned(3, DB);
	w->src_ci = it_conninfo_db(1, DB);
	w->dst_ci = it_conninfo_db(2, DB);
	w->dst2_ci = it_conninfo_db(3, DB);
	it_exec(w->src, "%s; %s", plan_types_sql, plan_src_types_sql);
	it_exec(w->dst, "%s; %s", plan_types_sql, plan_dst_types_sql);
	snprintf(w->dir, sizeof w->dir, "/tmp/pgcm-plancli.XXXXXX");
	assert_non_null(mkdtemp(w->dir));
	*state = w;
	return 0;
}

static int
teardown(void **state)
{
	world *w = *state;

	it_assert_usable(w->src);
	it_assert_usable(w->dst);
	PQfinish(w->src);
	PQfinish(w->dst);
	PQfinish(w->dst2);
	free(w->src_ci);
	free(w->dst_ci);
	free(w->dst2_ci);
	it_system("rm -rf %s", w->dir);
	free(w);
	return 0;
}

/* copy_cli: pgcopyman copy from the source to the first target, plus up to 8 more arguments. */
#define copy_cli(w, ...) \
	it_cli("copy", "--from", (w)->src_ci, "--to", (w)->dst_ci, __VA_ARGS__)

/* says: stderr (or stdout) says every one of a and b. */
static void
says(const it_run *r, const char *a, const char *b)
{
	if ((strstr(r->err, a) || strstr(r->out, a)) && (!b || strstr(r->err, b) || strstr(r->out, b)))
		return;
	fail_msg("the command does not say \"%s\"%s%s\nstdout: %.3000s\nstderr: %.3000s", a, b ? " and " : "",
	         b ? b : "", r->out, r->err);
}

/* cli_case: matrix case i through the command in format f. */
static void
cli_case(world *w, size_t i, const char *f, int reference_ran, const char *ref_err)
{
	const mcase *c = &plan_cases[i];
	enum expect want = strcmp(f, "binary") == 0 && !c->binary && c->expect != REFUSED ? REFUSED : c->expect;
	char table[32], where[64];
	it_run r;

	snprintf(table, sizeof table, "m%zu", i);
	it_exec(w->dst, "TRUNCATE m%zu", i);
	r = copy_cli(w, "--table", table, "--format", f, "--json", "--quiet");
	if (want == REFUSED) {
		it_expect_status(&r, 1);
		snprintf(where, sizeof where, "table public.m%zu", i);
		says(&r, where, strcmp(f, "binary") == 0 && c->expect != REFUSED ? "binary COPY needs the same type"
		                                                                 : c->says);
		if (c->expect == REFUSED)
			says(&r, "column v: ", "target 1");
		says(&r, "\"ok\": false", "nothing was copied");
	} else if (want == FAILS) {
		it_expect_status(&r, 1);
		/* The target rejects the value, or the source's cast does: either way nothing is stored. */
		says(&r, c->says, "\"aborted\": true");
		if (reference_ran)
			fail_msg("case %zu: INSERT ... SELECT runs, the copy fails", i);
	} else {
		long bad;
		it_expect_status(&r, 0);
		if (!reference_ran)
			fail_msg("case %zu: the command copies what INSERT ... SELECT refuses: %s", i, ref_err);
		if ((bad = plan_case_diff(w->dst, i)) != 0)
			fail_msg("case %zu (%s -> %s, %s): %ld rows differ from INSERT ... SELECT\n%s", i,
			         c->src_type, c->dst_type, f, bad, r.out);
		if (strcmp(f, "auto") == 0 && (strstr(r.out, "\"format\": \"binary\"") != NULL) != c->binary)
			fail_msg("case %zu: auto chose the wrong format: %s", i, r.out);
	}
	if (want != EXACT)
		assert_int_equal(it_count(w->dst, table), 0);
	it_run_free(&r);
}

/* Every case of the matrix, with --format auto, text and binary. */
static void
test_type_matrix_cli(void **state)
{
	world *w = *state;
	static const char *const formats[] = {"auto", "text", "binary"};
	PGconn *admin = it_connect(2);

	for (size_t i = 0; i < NCASES; i++) {
		char ref_err[1024] = "";
		int ran;
		if (plan_cases[i].dst_setting)
			it_exec(admin, "ALTER DATABASE " DB " SET %s", plan_cases[i].dst_setting);
		ran = plan_case_prepare(w->src, w->dst, i, ref_err, sizeof ref_err);
		for (size_t f = 0; f < sizeof formats / sizeof formats[0]; f++)
			cli_case(w, i, formats[f], ran, ref_err);
		if (plan_cases[i].dst_setting)
			it_exec(admin, "ALTER DATABASE " DB " RESET %.*s",
			        (int) strcspn(plan_cases[i].dst_setting, " ="), plan_cases[i].dst_setting);
	}
	PQfinish(admin);
}

/* --dry-run shows the whole plan, and with any mismatch exits 1 naming each one. */
static void
test_dry_run_names_every_mismatch(void **state)
{
	world *w = *state;
	it_run r;

	it_exec(w->src, "CREATE TABLE dr (id int, amount numeric, d date, note text, gone text)");
	it_exec(w->dst, "CREATE TABLE dr (note text, id int, amount float8, d int)");
	it_exec(w->dst2, "CREATE TABLE dr (id int, amount numeric, d date, note text, gone text, "
	                 "extra text DEFAULT 'x')");
	r = it_cli("copy", "--from", w->src_ci, "--to", w->dst_ci, "--to", w->dst2_ci, "--table", "dr",
	           "--dry-run");
	it_expect_status(&r, 1);
	says(&r, "table public.dr, column d: date on the source, integer on target 1", "no cast converts them");
	says(&r, "table public.dr, column gone: target 1 (public.dr) has no such column", NULL);
	says(&r, "table public.dr, column amount: target 2 (numeric: same type) and target 1 (double "
	         "precision: cast on the source", "one stream serves both");
	says(&r, "amount: numeric -> target 1 double precision", "target 2 numeric (same type)");
	says(&r, "column extra of target 2 is not copied: it gets its default", NULL);
	says(&r, "nothing was copied: the plan found 3 problems", NULL);
	it_run_free(&r);
	assert_int_equal(it_count(w->dst2, "dr"), 0);

	r = it_cli("copy", "--from", w->src_ci, "--to", w->dst_ci, "--to", w->dst2_ci, "--table", "dr",
	           "--dry-run", "--json");
	it_expect_status(&r, 1);
	says(&r, "{\"dry_run\": true, \"ok\": false, \"table\": \"public.dr\"", NULL);
	says(&r, "{\"target\": 1, \"table\": \"public.dr\", \"column\": \"d\", \"message\": \"table public.dr, "
	         "column d: date on the source, integer on target 1", NULL);
	says(&r, "{\"name\": \"amount\", \"source_type\": \"numeric\", \"source_expr\": \"CAST(\\\"amount\\\" AS "
	         "\\\"pg_catalog\\\".\\\"float8\\\")\", \"targets\": [{\"type\": \"double precision\", "
	         "\"conversion\": \"cast\"", NULL);
	it_run_free(&r);

	/* Once it would succeed: exit 0, the same statements the copy runs. */
	r = it_cli("copy", "--from", w->src_ci, "--to", w->dst2_ci, "--table", "dr", "--dry-run");
	it_expect_status(&r, 0);
	says(&r, "format: binary (every column has the same built-in type", NULL);
	says(&r, "COPY \"public\".\"dr\" (\"id\", \"amount\", \"d\", \"note\", \"gone\") FROM STDIN (FORMAT binary)", NULL);
	it_run_free(&r);
	/* A run that the plan refuses prints the problems and copies nothing. */
	r = it_cli("copy", "--from", w->src_ci, "--to", w->dst_ci, "--to", w->dst2_ci, "--table", "dr");
	it_expect_status(&r, 1);
	says(&r, "pgcopyman: table public.dr, column d: date on the source, integer on target 1", NULL);
	it_run_free(&r);
}

static void
test_columns_cli(void **state)
{
	world *w = *state;
	it_run r;

	/* Another order, a column the target lacks (left out with --columns), one it adds, an identity. */
	it_exec(w->src, "CREATE TABLE people (id int, last_name text, first_name text, note text); "
	                "INSERT INTO people VALUES (1, 'Lovelace', 'Ada', 'x'), (2, 'Hopper', 'Grace', 'y')");
	it_exec(w->dst, "CREATE TABLE people (id int GENERATED ALWAYS AS IDENTITY, first_name text, "
	                "last_name text, since date DEFAULT '2000-01-01')");
	r = copy_cli(w, "--table", "people");
	it_expect_status(&r, 1);
	says(&r, "column note: target 1 (public.people) has no such column", "--columns");
	it_run_free(&r);
	r = copy_cli(w, "--table", "people", "--columns", "id,last_name,first_name", "--json");
	it_expect_status(&r, 0);
	it_run_free(&r);
	it_expect_sql(w->dst, "SELECT string_agg(id || first_name || last_name || since, ',' ORDER BY id) FROM people",
	             "1AdaLovelace2000-01-01,2GraceHopper2000-01-01");

	/* A generated column, without and with --jobs (which reads with SELECT: never SELECT *). */
	it_exec(w->src, "CREATE TABLE gen (id int, a int, b int GENERATED ALWAYS AS (a * 2) STORED); "
	                "INSERT INTO gen (id, a) SELECT g, g FROM generate_series(1, 3000) g");
	it_exec(w->dst, "CREATE TABLE gen (id int, a int, b int GENERATED ALWAYS AS (a * 2) STORED)");
	for (int jobs = 1; jobs <= 3; jobs += 2) {
		char n[4];
		snprintf(n, sizeof n, "%d", jobs);
		it_exec(w->dst, "TRUNCATE gen");
		r = copy_cli(w, "--table", "gen", "--jobs", n, "--json");
		it_expect_status(&r, 0);
		says(&r, "\"rows\": 3000", NULL);
		it_run_free(&r);
		it_expect_sql(w->dst, "SELECT count(*) || ':' || sum(b) FROM gen", "3000:9003000");
	}
}

static void
test_relations_cli(void **state)
{
	world *w = *state;
	it_run r;

	/* An inheritance parent: its own 1000 rows, not its children's, with and without --jobs. */
	it_exec(w->src, "CREATE TABLE parent (id int, s text); CREATE TABLE kid () INHERITS (parent); "
	                "INSERT INTO parent SELECT g, 'p' FROM generate_series(1, 1000) g; "
	                "INSERT INTO kid SELECT g, 'k' FROM generate_series(1, 2000) g");
	it_exec(w->dst, "CREATE TABLE parent (id int, s text)");
	for (int k = 0; k < 3; k++) {
		static const char *const extra[][2] = {{"--jobs", "1"}, {"--jobs", "3"}, {"--split-key", "id"}};
		it_exec(w->dst, "TRUNCATE parent");
		r = k < 2 ? copy_cli(w, "--table", "parent", extra[k][0], extra[k][1], "--json")
		          : copy_cli(w, "--table", "parent", "--jobs", "2", "--split-key", "id", "--json");
		it_expect_status(&r, 0);
		says(&r, "\"rows\": 1000,", NULL);
		it_run_free(&r);
		it_expect_sql(w->dst, "SELECT count(*) || string_agg(DISTINCT s, '') FROM parent", "1000p");
	}

	/* A partitioned table as the source (with --jobs too) and as the target. */
	it_exec(w->src, "CREATE TABLE ptab (id int, s text) PARTITION BY HASH (id); "
	                "CREATE TABLE ptab0 PARTITION OF ptab FOR VALUES WITH (MODULUS 2, REMAINDER 0); "
	                "CREATE TABLE ptab1 PARTITION OF ptab FOR VALUES WITH (MODULUS 2, REMAINDER 1); "
	                "INSERT INTO ptab SELECT g, 's' || g FROM generate_series(1, 5000) g");
	it_exec(w->dst, "CREATE TABLE ptab (id int, s text) PARTITION BY RANGE (id); "
	                "CREATE TABLE ptab_lo PARTITION OF ptab FOR VALUES FROM (MINVALUE) TO (2500); "
	                "CREATE TABLE ptab_hi PARTITION OF ptab FOR VALUES FROM (2500) TO (MAXVALUE)");
	for (int jobs = 1; jobs <= 4; jobs += 3) {
		char n[4];
		snprintf(n, sizeof n, "%d", jobs);
		it_exec(w->dst, "TRUNCATE ptab");
		r = copy_cli(w, "--table", "ptab", "--jobs", n);
		it_expect_status(&r, 0);
		it_run_free(&r);
		it_expect_sql(w->dst, "SELECT count(*) || ':' || sum(id) FROM ptab", "5000:12502500");
		it_expect_sql(w->dst, "SELECT count(*) FROM ptab_lo", "2499");
	}

	/* A view as the source; --jobs on a view needs a split key (it has no pages). */
	it_exec(w->src, "CREATE VIEW pv AS SELECT id, upper(s) AS s FROM ptab WHERE id <= 100");
	it_exec(w->dst, "CREATE TABLE pv (id int, s text)");
	r = copy_cli(w, "--table", "pv", "--json");
	it_expect_status(&r, 0);
	says(&r, "\"rows\": 100,", NULL);
	it_run_free(&r);
	r = copy_cli(w, "--table", "pv", "--jobs", "2");
	it_expect_status(&r, 1);
	says(&r, "has no pages to split: --jobs needs --split-key", NULL);
	it_run_free(&r);
	it_expect_sql(w->dst, "SELECT count(*) || min(s) FROM pv", "100S1");
}

static void
test_names_cli(void **state)
{
	world *w = *state;
	char name64[80];
	it_run r;

	it_exec(w->src, "CREATE SCHEMA \"S\u00e9ries\"; CREATE TABLE \"S\u00e9ries\".\"Mixed Case\" "
	                "(\"ID\" int, \u00e9t\u00e9 text); INSERT INTO \"S\u00e9ries\".\"Mixed Case\" VALUES (1, 'x')");
	it_exec(w->dst, "CREATE SCHEMA \"S\u00e9ries\"; CREATE TABLE \"S\u00e9ries\".\"Mixed Case\" "
	                "(\u00e9t\u00e9 text, \"ID\" int)");
	r = copy_cli(w, "--table", "\"S\u00e9ries\".\"Mixed Case\"", "--columns", "\"ID\", \u00c9T\u00c9", "--json");
	/* Only ASCII folds: \u00c9T\u00c9 unquoted is \u00c9t\u00c9, not \u00e9t\u00e9, as the server reads it. */
	it_expect_status(&r, 1);
	says(&r, "source table S\u00e9ries.Mixed Case has no column \u00c9t\u00c9", NULL);
	it_run_free(&r);
	r = copy_cli(w, "--table", "\"S\u00e9ries\".\"Mixed Case\"", "--columns", "\"ID\", \u00e9T\u00e9");
	it_expect_status(&r, 0);
	it_run_free(&r);
	it_expect_sql(w->dst, "SELECT \"ID\" || \u00e9t\u00e9 FROM \"S\u00e9ries\".\"Mixed Case\"", "1x");

	/* 64 bytes: refused, where the server would have used the 63-byte table silently. */
	memset(name64, 'q', 64);
	name64[64] = '\0';
	it_exec(w->src, "CREATE TABLE %.63s (i int); INSERT INTO %.63s VALUES (1)", name64, name64);
	it_exec(w->dst, "CREATE TABLE %.63s (i int)", name64);
	r = copy_cli(w, "--table", name64, "--dry-run");
	it_expect_status(&r, 1);
	says(&r, "is 64 bytes long: the server would silently use its first 63 bytes", NULL);
	it_run_free(&r);
	r = copy_cli(w, "--table", name64);
	it_expect_status(&r, 1);
	it_run_free(&r);
	assert_int_equal(it_count(w->dst, "qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqq"), 0);
}

static void
write_text(const char *path, const char *s)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	assert_int_equal(fputs(s, f) >= 0, 1);
	fclose(f);
}

/* from_pipe: the command with stdin a pipe (a FIFO a child writes data into). */
static it_run
from_pipe(world *w, const char *data, const char *const *args)
{
	char fifo[128];
	pid_t writer;
	int st;
	it_run r;

	snprintf(fifo, sizeof fifo, "%s/pipe", w->dir);
	unlink(fifo);
	assert_int_equal(mkfifo(fifo, 0600), 0);
	writer = fork();
	assert_true(writer >= 0);
	if (writer == 0) {
		int fd = open(fifo, O_WRONLY);
		ssize_t n = fd < 0 ? -1 : write(fd, data, strlen(data));
		_exit(n == (ssize_t) strlen(data) ? 0 : 1);
	}
	r = it_cli_full(fifo, 0, 0, args);
	kill(writer, SIGKILL);
	waitpid(writer, &st, 0);
	return r;
}

static void
test_csv_header_cli(void **state)
{
	world *w = *state;
	char path[128], from[160];
	const char *swapped = "id,first_name,last_name\n1,Ada,Lovelace\n";
	it_run r;

	it_exec(w->dst, "CREATE TABLE h (id int, last_name text, first_name text)");
	snprintf(path, sizeof path, "%s/h.csv", w->dir);
	snprintf(from, sizeof from, "file:%s", path);
	write_text(path, swapped);
	/* A file whose header names the columns in another order: refused before anything moves. */
	r = it_cli("copy", "--from", from, "--to", w->dst_ci, "--table", "h", "--format", "csv", "--header");
	it_expect_status(&r, 1);
	says(&r, "the CSV header does not match the columns: field 2 is \"first_name\" where column 2 is "
	         "last_name", "--columns id,first_name,last_name");
	it_run_free(&r);
	/* stdin redirected from the file: the same check. */
	r = it_cli_full(path, 0, 0, (const char *const[]){"copy", "--from", "-", "--to", w->dst_ci, "--table",
	                "h", "--format", "csv", "--header", "--dry-run", NULL});
	it_expect_status(&r, 1);
	says(&r, "field 2 is \"first_name\"", NULL);
	it_run_free(&r);
	/* A pipe: the target compares it (HEADER MATCH) as the first line arrives; nothing is stored. */
	r = from_pipe(w, swapped, (const char *const[]){"copy", "--from", "-", "--to", w->dst_ci, "--table",
	              "h", "--format", "csv", "--header", NULL});
	it_expect_status(&r, 1);
	says(&r, "column name mismatch in header line field 2: got \"first_name\", expected \"last_name\"", NULL);
	it_run_free(&r);
	/* A pipe with --dry-run: the header is read and checked, nothing is loaded. */
	r = from_pipe(w, swapped, (const char *const[]){"copy", "--from", "-", "--to", w->dst_ci, "--table",
	              "h", "--format", "csv", "--header", "--dry-run", NULL});
	it_expect_status(&r, 1);
	says(&r, "field 2 is \"first_name\"", NULL);
	it_run_free(&r);
	assert_int_equal(it_count(w->dst, "h"), 0);
	/* Loaded by its header with --columns; from a pipe with a matching header too. */
	r = it_cli("copy", "--from", from, "--to", w->dst_ci, "--table", "h", "--format", "csv", "--header",
	           "--columns", "id,first_name,last_name");
	it_expect_status(&r, 0);
	it_run_free(&r);
	r = from_pipe(w, "id,last_name,first_name\n2,Hopper,Grace\n", (const char *const[]){"copy", "--from",
	              "-", "--to", w->dst_ci, "--table", "h", "--format", "csv", "--header", NULL});
	it_expect_status(&r, 0);
	it_run_free(&r);
	it_expect_sql(w->dst, "SELECT string_agg(first_name || ' ' || last_name, ',' ORDER BY id) FROM h",
	             "Ada Lovelace,Grace Hopper");
	/* --header-match off skips the header unread, deliberately: here the names land swapped. */
	r = it_cli("copy", "--from", from, "--to", w->dst_ci, "--table", "h", "--format", "csv", "--header",
	           "--header-match", "off", "--truncate");
	it_expect_status(&r, 0);
	it_run_free(&r);
	it_expect_sql(w->dst, "SELECT last_name FROM h", "Ada");
	r = it_cli("copy", "--from", from, "--to", w->dst_ci, "--table", "h", "--header-match", "maybe");
	it_expect_status(&r, 2);
	it_run_free(&r);
}

/*
 * The databases' defaults differ (DateStyle 'SQL, DMY' vs German,
 * IntervalStyle sql_standard vs iso_8601, extra_float_digits -3): the
 * pinned sessions still carry every value exactly, in text and CSV.
 */
static void
test_session_settings_cli(void **state)
{
	world *w = *state;
	static const char *const formats[] = {"text", "csv"};
	const char *table = "CREATE TABLE st (d date, ts timestamp, i interval, f float8, r real, m money)";
	char *want, *got;

	it_exec(w->src, "%s; INSERT INTO st VALUES ('2020-02-01', '2020-02-01 13:14:15.5', "
	                "'-1 day +02:03:04.5', 0.1 + 0.2, 1.1, 12.34), "
	                "('0044-03-15 BC', 'infinity', '1 year 2 mons -3 days', 1e-320, 'NaN', -0.01)", table);
	it_exec(w->dst, "%s", table);
	want = it_table_checksum(w->src, "st");
	for (size_t f = 0; f < 2; f++) {
		it_run r = copy_cli(w, "--table", "st", "--format", formats[f], "--truncate");
		it_expect_status(&r, 0);
		it_run_free(&r);
		got = it_table_checksum(w->dst, "st");
		assert_string_equal(got, want);
		free(got);
	}
	free(want);
	/* The same table read with the source database's own settings shows why: 01/02/2020. */
	{
		PGconn *raw = it_connect_db(1, DB);
		char *d = it_scalar(raw, "SELECT d FROM st ORDER BY d DESC LIMIT 1");
		assert_string_equal(d, "01/02/2020");
		free(d);
		PQfinish(raw);
	}
}

IT_GROUP(plan_cli)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_type_matrix_cli),
		cmocka_unit_test(test_dry_run_names_every_mismatch),
		cmocka_unit_test(test_columns_cli),
		cmocka_unit_test(test_relations_cli),
		cmocka_unit_test(test_names_cli),
		cmocka_unit_test(test_csv_header_cli),
		cmocka_unit_test(test_session_settings_cli),
	};
	return it_add_group("plan_cli", tests, setup, teardown);
}
