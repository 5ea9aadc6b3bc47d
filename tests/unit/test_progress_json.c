/*
 * test_progress_json.c: --progress=json (cli/progress.c) with a fake clock:
 * one JSON object a line, once a second, with the totals, the rates, percent
 * and ETA only when the total is known, every target's state, rows and lock
 * wait (escaped); messages as JSON objects; the last line final.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "../../cli/progress.c"

static double fake_now;

static double
fake_clock(void)
{
	return fake_now;
}

static int
lines_in(const char *s)
{
	int n = 0;

	for (; *s; s++)
		n += *s == '\n';
	return n;
}

static void
expect_has(const char *hay, const char *needle)
{
	if (!strstr(hay, needle))
		fail_msg("\"%s\" not found in:\n%s", needle, hay);
}

static void
test_json_lines(void **state)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	cli_progress *p;
	(void) state;

	assert_non_null(f);
	fake_now = 100;
	p = cli_progress_new_for_test(f, PROGRESS_JSON, 0, 1000000, 2, 0, 0, fake_clock);
	assert_non_null(p);
	fake_now = 100.5;
	cli_progress_update(p, 10, 100000, 2, 0, 0);
	fflush(f);
	assert_int_equal(len, 0);   /* not a second yet */
	fake_now = 101.0;
	cli_progress_target(p, 1, "waiting", 0, "waiting for a lock on \"s\".t\\x");
	cli_progress_update(p, 20, 250000, 2, 0, 0);
	fflush(f);
	assert_int_equal(lines_in(buf), 1);
	expect_has(buf, "{\"event\": \"progress\", \"elapsed\": 1.0, \"rows\": 20, \"bytes\": 250000, ");
	expect_has(buf, "\"bytes_per_second\": 250000");
	expect_has(buf, "\"percent\": 25, \"eta_seconds\": 3");
	expect_has(buf, "\"targets\": [{\"target\": 1, \"state\": \"running\", \"rows\": 0}, "
	                "{\"target\": 2, \"state\": \"waiting\", \"rows\": 0, "
	                "\"waiting_for\": \"waiting for a lock on \\\"s\\\".t\\\\x\"}]}\n");
	fake_now = 101.5;
	cli_progress_update(p, 30, 300000, 2, 0, 0);
	fflush(f);
	assert_int_equal(lines_in(buf), 1);

	cli_progress_message(p, "pgcopyman: target faulted: \"x\"\n");
	fflush(f);
	expect_has(buf, "{\"event\": \"message\", \"text\": \"pgcopyman: target faulted: \\\"x\\\"\"}\n");

	fake_now = 103;
	cli_progress_target(p, 0, "done", 7, NULL);
	cli_progress_target(p, 1, "done", 7, NULL);
	cli_progress_update(p, 40, 1000000, 0, 0, 2);
	cli_progress_finish(p);
	fflush(f);
	expect_has(buf, "\"percent\": 100, \"eta_seconds\": 0, \"targets\": [{\"target\": 1, \"state\": \"done\", "
	                "\"rows\": 7}, {\"target\": 2, \"state\": \"done\", \"rows\": 7}], \"final\": true}\n");
	cli_progress_free(p);
	fclose(f);
	free(buf);
}

/* Without a known total: no percent, no ETA. */
static void
test_json_unknown_total(void **state)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	cli_progress *p;
	(void) state;

	assert_non_null(f);
	fake_now = 0;
	p = cli_progress_new_for_test(f, PROGRESS_JSON, 0, 0, 1, 1, 80, fake_clock);
	fake_now = 2;
	cli_progress_update(p, 5, 50, 1, 0, 0);
	cli_progress_finish(p);
	fflush(f);
	assert_int_equal(lines_in(buf), 2);
	assert_null(strstr(buf, "percent"));
	assert_null(strstr(buf, "eta_seconds"));
	assert_null(strstr(buf, "\r"));   /* a terminal gets JSON too: no live line */
	cli_progress_free(p);
	fclose(f);
	free(buf);
}

/* A phase (the index rebuild of a bulk load) in JSON: when it begins, each second, and when it ends. */
static void
test_json_phase(void **state)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	cli_progress *p;
	char *last;
	(void) state;

	assert_non_null(f);
	fake_now = 10;
	p = cli_progress_new_for_test(f, PROGRESS_JSON, 100, 0, 1, 0, 0, fake_clock);
	assert_non_null(p);
	fake_now = 10.2;
	cli_progress_phase(p, "building index \"t_u\", 1 of 2");
	fflush(f);
	assert_int_equal(lines_in(buf), 1);
	expect_has(buf, "\"phase\": \"building index \\\"t_u\\\", 1 of 2\", \"phase_seconds\": 0.0, ");
	fake_now = 10.7;
	cli_progress_phase(p, "building index \"t_u\", 1 of 2");
	fflush(f);
	assert_int_equal(lines_in(buf), 1);   /* not a second yet */
	fake_now = 11.3;
	cli_progress_phase(p, "building index \"t_u\", 1 of 2");
	fflush(f);
	assert_int_equal(lines_in(buf), 2);
	expect_has(buf, "\"phase_seconds\": 1.1, ");
	fake_now = 11.4;
	cli_progress_phase(p, NULL);
	fflush(f);
	assert_int_equal(lines_in(buf), 3);
	last = buf + len - 1;
	while (last > buf && last[-1] != '\n')
		last--;
	assert_null(strstr(last, "phase"));
	cli_progress_free(p);
	fclose(f);
	free(buf);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_json_lines),
		cmocka_unit_test(test_json_unknown_total),
		cmocka_unit_test(test_json_phase),
	};

	return cmocka_run_group_tests_name("progress_json", tests, NULL, NULL);
}
