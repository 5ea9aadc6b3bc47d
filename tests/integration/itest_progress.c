/*
 * itest_progress.c: `pgcopyman copy`'s progress display, end to end.  On a
 * real pseudo-terminal (util-linux `script`) a live line is redrawn in place
 * with the rate, the percent done and the targets' states, and cleared before
 * the summary; a fault is printed on a line of its own over it.  With stderr a
 * file, stderr holds the summary alone; with --progress, plain lines every
 * few seconds and then the summary; with --quiet, nothing.
 *
 * The copies are made slow on purpose: each target table has a BEFORE INSERT
 * row trigger that sleeps 0.1 s on every 100th row, so N rows take N ms (and
 * little more) whatever the machine.  Source: cluster 1; targets: clusters 2
 * and 3.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util.h"

/* The current test's temporary directory, removed by teardown. */
static char test_tmp[256];

static int
teardown_tmp(void **state)
{
	(void) state;
	if (test_tmp[0] && it_system("rm -rf '%s'", test_tmp) != 0)
		return -1;
	test_tmp[0] = '\0';
	return 0;
}

static const char *
new_tmp(void)
{
	snprintf(test_tmp, sizeof test_tmp, "/tmp/pgcm-progress.XXXXXX");
	assert_non_null(mkdtemp(test_tmp));
	return test_tmp;
}

/*
 * setup_tables: table name with rows rows of about 4 kB on cluster 1
 * (analyzed, so that pg_class.reltuples gives an estimate), and an empty one
 * with the slow trigger on clusters 2 and 3.  fail_at > 0: cluster 3's table
 * rejects row fail_at (a CHECK constraint), so that target faults mid-copy.
 */
static void
setup_tables(const char *name, int rows, int fail_at)
{
	PGconn *src = it_connect(1);

	it_exec(src, "DROP TABLE IF EXISTS %s; CREATE TABLE %s (i integer, pad text); "
	             "INSERT INTO %s SELECT g, repeat(md5(g::text), 128) FROM generate_series(1, %d) g; "
	             "ANALYZE %s",
	        name, name, name, rows, name);
	PQfinish(src);
	for (int c = 2; c <= 3; c++) {
		PGconn *dst = it_connect(c);

		it_exec(dst, "CREATE OR REPLACE FUNCTION prog_slow() RETURNS trigger LANGUAGE plpgsql AS "
		             "$$BEGIN IF NEW.i %% 100 = 0 THEN PERFORM pg_sleep(0.1); END IF; RETURN NEW; END$$");
		if (c == 3 && fail_at > 0)
			it_exec(dst, "DROP TABLE IF EXISTS %s; CREATE TABLE %s "
			             "(i integer CONSTRAINT %s_i_check CHECK (i <> %d), pad text)",
			        name, name, name, fail_at);
		else
			it_exec(dst, "DROP TABLE IF EXISTS %s; CREATE TABLE %s (i integer, pad text)", name, name);
		it_exec(dst, "CREATE TRIGGER %s_slow BEFORE INSERT ON %s FOR EACH ROW "
		             "EXECUTE FUNCTION prog_slow()", name, name);
		PQfinish(dst);
	}
}

/* copy_command: the shell command line of `pgcopyman copy` of table name, 1 -> 2, 3, plus extra. */
static void
copy_command(char *buf, size_t size, const char *name, const char *extra)
{
	char bin[512];

	it_build_path("pgcopyman", bin, sizeof bin);
	assert_int_equal(access(bin, X_OK), 0);
	snprintf(buf, size, "'%s' copy --from '%s' --to '%s' --to '%s' --table %s %s", bin,
	         it_conninfo(1), it_conninfo(2), it_conninfo(3), name, extra);
}

/* read_file: a whole file into buf (NUL-terminated); fails the test if it does not fit. */
static void
read_file(const char *path, char *buf, size_t size)
{
	FILE *f = fopen(path, "rb");
	size_t n;

	assert_non_null(f);
	n = fread(buf, 1, size - 1, f);
	assert_true(n < size - 1);
	buf[n] = '\0';
	fclose(f);
}

/*
 * run_in_pty: run cmd on a pseudo-terminal 200 columns wide (stdin, stdout and
 * stderr all on it), everything it wrote into out; returns its exit status.
 */
static int
run_in_pty(const char *cmd, char *out, size_t size)
{
	char line[8192];
	FILE *p;
	size_t len = 0, n;
	int st;

	/* script -e: its status is the command's; -f: flush at once; -q: no banners. */
	snprintf(line, sizeof line,
	         "timeout 120 script -qfec \"stty cols 200 2>/dev/null; exec %s\" /dev/null </dev/null",
	         cmd);
	p = popen(line, "r");
	assert_non_null(p);
	while ((n = fread(out + len, 1, size - 1 - len, p)) > 0)
		len += n;
	assert_true(len < size - 1);
	out[len] = '\0';
	st = pclose(p);
	assert_true(st != -1);
	return WEXITSTATUS(st);
}

/* run_to_files: run cmd with stdout and stderr into files under dir; returns its exit status. */
static int
run_to_files(const char *cmd, const char *dir, char *out, size_t outsize, char *err, size_t errsize)
{
	char path[512];
	int rc = it_system("timeout 120 %s </dev/null >'%s/stdout' 2>'%s/stderr'", cmd, dir, dir);

	snprintf(path, sizeof path, "%s/stdout", dir);
	read_file(path, out, outsize);
	snprintf(path, sizeof path, "%s/stderr", dir);
	read_file(path, err, errsize);
	return rc;
}

/* count: occurrences of needle in hay. */
static int
count(const char *hay, const char *needle)
{
	int n = 0;

	for (const char *s = strstr(hay, needle); s; s = strstr(s + 1, needle))
		n++;
	return n;
}

static void
assert_has(const char *hay, const char *needle)
{
	if (!strstr(hay, needle))
		fail_msg("\"%s\" not found in:\n%s", needle, hay);
}

static void
assert_lacks(const char *hay, const char *needle)
{
	if (strstr(hay, needle))
		fail_msg("\"%s\" unexpected in:\n%s", needle, hay);
}

/* check_summary_only: err is exactly one line: the summary of a copy of rows rows, all loaded. */
static void
check_summary_only(const char *err, int rows)
{
	char want[128];

	snprintf(want, sizeof want, "pgcopyman: %d rows, ", rows);
	if (strncmp(err, want, strlen(want)) != 0)
		fail_msg("stderr should be the summary alone, starting \"%s\", but is:\n%s", want, err);
	assert_has(err, "2 of 2 targets loaded\n");
	assert_int_equal(count(err, "\n"), 1);
	assert_lacks(err, "\r");
	assert_lacks(err, "\033");
}

static void
check_loaded(const char *name, int rows)
{
	for (int c = 2; c <= 3; c++) {
		PGconn *dst = it_connect(c);

		assert_int_equal(it_count(dst, name), rows);
		PQfinish(dst);
	}
}

/* ------------------------------------------------------------------------ */

/*
 * On a terminal: a live line, redrawn in place a few times a second, with
 * MB/s, rows/s, a percent and the targets; cleared ("\r" + clear to end of
 * line) before the summary, which starts at column 0.
 */
static void
test_live_line_on_tty(void **state)
{
	static char out[1 << 20];
	char cmd[4096];
	const char *sum;
	char *live;
	int rc;
	(void) state;

	setup_tables("prog_tty", 3000, 0);
	copy_command(cmd, sizeof cmd, "prog_tty", "");
	rc = run_in_pty(cmd, out, sizeof out);
	if (rc != 0)
		fail_msg("pgcopyman copy on a terminal exited %d:\n%s", rc, out);
	check_loaded("prog_tty", 3000);
	sum = strstr(out, "pgcopyman: 3000 rows, ");
	if (!sum)
		fail_msg("no summary in:\n%s", out);
	assert_has(sum, "2 of 2 targets loaded");
	/* The live line(s), before the summary. */
	live = strndup(out, (size_t) (sum - out));
	assert_non_null(live);
	assert_has(live, "MB/s");
	assert_has(live, "rows/s");
	assert_has(live, "%");
	assert_has(live, "targets: 2 running, 0 faulted, 0 done");
	assert_has(live, "\033[K");
	/* Redrawn in place, several times in ~3 s (at most ~4 a second). */
	if (count(live, "\r  ") < 4)
		fail_msg("the live line was drawn %d times in a 3 s copy:\n%s", count(live, "\r  "), out);
	if (count(live, "\r  ") > 4 * 60)
		fail_msg("the live line was drawn %d times: too often:\n%s", count(live, "\r  "), out);
	free(live);
	/* Cleared before the summary, which starts at column 0. */
	assert_true(sum - out >= 4);
	if (strncmp(sum - 4, "\r\033[K", 4) != 0)
		fail_msg("the live line was not cleared before the summary:\n%s", out);
	/* Everything before the summary is one (redrawn) line. */
	for (const char *s = out; s < sum; s++)
		if (*s == '\n')
			fail_msg("a newline before the summary: progress lines scroll:\n%s", out);
}

/* A fault on a terminal: its message on a line of its own, then the live line shows it. */
static void
test_fault_on_tty(void **state)
{
	static char out[1 << 20];
	char cmd[4096];
	const char *msg;
	size_t at;
	int rc;
	(void) state;

	setup_tables("prog_fault", 3000, 1000);
	/* Small segments: the rejected row is noticed within a few hundred rows. */
	copy_command(cmd, sizeof cmd, "prog_fault", "--segment-size 1");
	rc = run_in_pty(cmd, out, sizeof out);
	if (rc != 3)
		fail_msg("pgcopyman copy with one faulting target exited %d, not 3:\n%s", rc, out);
	msg = strstr(out, "pgcopyman: target faulted: ");
	if (!msg)
		fail_msg("no fault message in:\n%s", out);
	/* At column 0: after the live line was cleared, or at the start of a line. */
	at = (size_t) (msg - out);
	if (!(at == 0 || out[at - 1] == '\n' || (at >= 4 && strncmp(out + at - 4, "\r\033[K", 4) == 0)))
		fail_msg("the fault message is not on a line of its own:\n%s", out);
	assert_has(msg, "prog_fault_i_check");
	/* Later live lines count the faulted target. */
	assert_has(msg, "targets: 1 running, 1 faulted, 0 done");
	assert_has(out, "1 of 2 targets loaded, 1 faulted");
}

/* stderr a file: no progress at all, only the one-line summary. */
static void
test_file_gets_summary_only(void **state)
{
	static char out[1 << 16], err[1 << 16];
	char cmd[4096];
	const char *dir = new_tmp();
	int rc;
	(void) state;

	setup_tables("prog_file", 2000, 0);
	copy_command(cmd, sizeof cmd, "prog_file", "");
	rc = run_to_files(cmd, dir, out, sizeof out, err, sizeof err);
	if (rc != 0)
		fail_msg("pgcopyman copy exited %d:\n%s", rc, err);
	assert_string_equal(out, "");
	check_summary_only(err, 2000);
	check_loaded("prog_file", 2000);
}

/* --progress with stderr a file: a plain line every few seconds, then the summary. */
static void
test_plain_progress_lines(void **state)
{
	static char out[1 << 16], err[1 << 16];
	char cmd[4096];
	const char *dir = new_tmp();
	const char *line, *sum;
	int rc, lines = 0;
	(void) state;

	/* At least 7 s: at least one plain line (every 5 s). */
	setup_tables("prog_plain", 7000, 0);
	copy_command(cmd, sizeof cmd, "prog_plain", "--progress");
	rc = run_to_files(cmd, dir, out, sizeof out, err, sizeof err);
	if (rc != 0)
		fail_msg("pgcopyman copy --progress exited %d:\n%s", rc, err);
	assert_string_equal(out, "");
	assert_lacks(err, "\r");
	assert_lacks(err, "\033");
	sum = strstr(err, "pgcopyman: 7000 rows, ");
	if (!sum)
		fail_msg("no summary in:\n%s", err);
	assert_has(sum, "2 of 2 targets loaded\n");
	assert_int_equal(count(sum, "\n"), 1);
	/* Every line before the summary is a whole progress line. */
	for (line = err; line < sum; lines++) {
		const char *nl = strchr(line, '\n');
		char one[1024];

		assert_non_null(nl);
		assert_true((size_t) (nl - line) < sizeof one);
		memcpy(one, line, (size_t) (nl - line));
		one[nl - line] = '\0';
		assert_has(one, "pgcopyman: ");
		assert_has(one, "MB/s");
		assert_has(one, "%");
		assert_has(one, "targets: ");
		line = nl + 1;
	}
	if (lines < 1)
		fail_msg("no plain progress line in a 7 s copy:\n%s", err);
	/* Every 5 s: not many more lines than the copy took seconds / 5. */
	if (lines > 30)
		fail_msg("%d progress lines: too many:\n%s", lines, err);
	check_loaded("prog_plain", 7000);
}

/* --quiet: nothing at all on success, on a file or on a terminal. */
static void
test_quiet(void **state)
{
	static char out[1 << 16], err[1 << 16];
	char cmd[4096];
	const char *dir = new_tmp();
	int rc;
	(void) state;

	setup_tables("prog_quiet", 1000, 0);
	copy_command(cmd, sizeof cmd, "prog_quiet", "--quiet");
	rc = run_to_files(cmd, dir, out, sizeof out, err, sizeof err);
	if (rc != 0)
		fail_msg("pgcopyman copy --quiet exited %d:\n%s", rc, err);
	assert_string_equal(out, "");
	assert_string_equal(err, "");
	check_loaded("prog_quiet", 1000);

	setup_tables("prog_quiet", 1000, 0);
	rc = run_in_pty(cmd, out, sizeof out);
	if (rc != 0)
		fail_msg("pgcopyman copy --quiet on a terminal exited %d:\n%s", rc, out);
	assert_string_equal(out, "");
	check_loaded("prog_quiet", 1000);
}

IT_GROUP(progress)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_live_line_on_tty),
		cmocka_unit_test(test_fault_on_tty),
		cmocka_unit_test_teardown(test_file_gets_summary_only, teardown_tmp),
		cmocka_unit_test_teardown(test_plain_progress_lines, teardown_tmp),
		cmocka_unit_test_teardown(test_quiet, teardown_tmp),
	};

	return it_add_group("progress", tests, NULL, NULL);
}
