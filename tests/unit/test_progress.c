/*
 * test_progress.c: the copy command's progress display (cli/progress.c),
 * written to a memory stream with a fake clock: the plain lines' cadence and
 * text, the live line's redraw rate, escapes and width, messages over the live
 * line, percent, ETA and the smoothed rate, the phase after the copy.  progress.c is a CLI module, so it
 * is compiled into this test directly.
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

/* capture: a memory stream and how much of it the test has looked at. */
typedef struct capture {
	FILE *f;
	char *buf;
	size_t len;
	size_t seen;
	char last[4096];
} capture;

static void
capture_open(capture *c)
{
	memset(c, 0, sizeof *c);
	c->f = open_memstream(&c->buf, &c->len);
	assert_non_null(c->f);
}

/* capture_take: what was written since the last call (a copy in c->last). */
static const char *
capture_take(capture *c)
{
	size_t n;

	fflush(c->f);
	n = c->len - c->seen;
	assert_true(n < sizeof c->last);
	memcpy(c->last, c->buf + c->seen, n);
	c->last[n] = '\0';
	c->seen = c->len;
	return c->last;
}

/* last_line: the last live line drawn in s (from its last "\r"). */
static const char *
last_line(const char *s)
{
	const char *r = strrchr(s, '\r');

	return r ? r : s;
}

static void
capture_close(capture *c)
{
	fclose(c->f);
	free(c->buf);
}

static void
assert_has(const char *hay, const char *needle)
{
	if (!strstr(hay, needle))
		fail_msg("\"%s\" not found in \"%s\"", needle, hay);
}

static void
assert_lacks(const char *hay, const char *needle)
{
	if (strstr(hay, needle))
		fail_msg("\"%s\" unexpected in \"%s\"", needle, hay);
}

/* ------------------------------------------------------------------------ */

static void
test_formatting_helpers(void **state)
{
	char b[64];
	(void) state;

	fmt_count(b, sizeof b, 0);
	assert_string_equal(b, "0");
	fmt_count(b, sizeof b, 999);
	assert_string_equal(b, "999");
	fmt_count(b, sizeof b, 1000);
	assert_string_equal(b, "1.0k");
	fmt_count(b, sizeof b, 41234);
	assert_string_equal(b, "41.2k");
	fmt_count(b, sizeof b, 412345);
	assert_string_equal(b, "412k");
	fmt_count(b, sizeof b, 1234567);
	assert_string_equal(b, "1.2M");
	fmt_count(b, sizeof b, 999999);
	assert_string_equal(b, "1.0M");
	fmt_count(b, sizeof b, 3e12);
	assert_string_equal(b, "3.0T");

	fmt_bytes(b, sizeof b, 0);
	assert_string_equal(b, "0 B");
	fmt_bytes(b, sizeof b, 999);
	assert_string_equal(b, "999 B");
	fmt_bytes(b, sizeof b, 12345);
	assert_string_equal(b, "12.3 kB");
	fmt_bytes(b, sizeof b, 234.5e6);
	assert_string_equal(b, "234.5 MB");
	fmt_bytes(b, sizeof b, 999.99e6);
	assert_string_equal(b, "1.0 GB");
	fmt_bytes(b, sizeof b, 5e15);
	assert_string_equal(b, "5.0 PB");

	fmt_duration(b, sizeof b, 4);
	assert_string_equal(b, "0:04");
	fmt_duration(b, sizeof b, 59.6);
	assert_string_equal(b, "1:00");
	fmt_duration(b, sizeof b, 754);
	assert_string_equal(b, "12:34");
	fmt_duration(b, sizeof b, 3600 * 2 + 61);
	assert_string_equal(b, "2:01:01");
}

/* Plain mode: nothing before 5 s, then one whole line every 5 s, no escapes. */
static void
test_plain_lines(void **state)
{
	capture c;
	cli_progress *p;
	const char *s;
	(void) state;

	capture_open(&c);
	fake_now = 100;
	p = cli_progress_new_for_test(c.f, PROGRESS_PLAIN, 0, 1000000000, 2, 0, 0, fake_clock);
	assert_non_null(p);
	for (int i = 1; i < 50; i++) {
		fake_now = 100 + i * 0.1;
		cli_progress_update(p, (uint64_t) i * 20000, (uint64_t) i * 2000000, 2, 0, 0);
	}
	assert_string_equal(capture_take(&c), "");
	fake_now = 105;
	cli_progress_update(p, 1000000, 100000000, 2, 0, 0);
	s = capture_take(&c);
	assert_string_equal(s, "pgcopyman: 0:05 elapsed  1.0M rows  100.0 MB  20.0 MB/s  200k rows/s  "
	                       "10%  ETA 0:45  targets: 2 running, 0 faulted, 0 done\n");
	/* Not again until 5 s later. */
	fake_now = 109.9;
	cli_progress_update(p, 1900000, 190000000, 2, 0, 0);
	assert_string_equal(capture_take(&c), "");
	fake_now = 110;
	cli_progress_update(p, 2000000, 200000000, 1, 1, 0);
	s = capture_take(&c);
	assert_has(s, "pgcopyman: 0:10 elapsed  2.0M rows  200.0 MB  ");
	assert_has(s, "20%");
	assert_has(s, "targets: 1 running, 1 faulted, 0 done\n");
	assert_lacks(s, "\r");
	assert_lacks(s, "\033");
	cli_progress_finish(p);
	assert_string_equal(capture_take(&c), "");
	/* After finish: nothing more. */
	fake_now = 200;
	cli_progress_update(p, 3000000, 300000000, 0, 1, 1);
	assert_string_equal(capture_take(&c), "");
	cli_progress_free(p);
	assert_string_equal(capture_take(&c), "");
	capture_close(&c);
}

/* Auto mode off a terminal, and quiet mode anywhere: silent. Messages still print. */
static void
test_silent_modes(void **state)
{
	capture c;
	cli_progress *p;
	(void) state;

	for (int mode = 0; mode < 2; mode++) {
		capture_open(&c);
		fake_now = 0;
		p = mode == 0 ? cli_progress_new_for_test(c.f, PROGRESS_AUTO, 100, 0, 1, 0, 80, fake_clock)
		              : cli_progress_new_for_test(c.f, PROGRESS_QUIET, 100, 0, 1, 1, 80, fake_clock);
		for (int i = 0; i < 200; i++) {
			fake_now = i * 0.1;
			cli_progress_update(p, (uint64_t) i, (uint64_t) i * 100, 1, 0, 0);
		}
		assert_string_equal(capture_take(&c), "");
		cli_progress_message(p, "pgcopyman: target faulted: boom");
		assert_string_equal(capture_take(&c), "pgcopyman: target faulted: boom\n");
		cli_progress_finish(p);
		cli_progress_free(p);
		assert_string_equal(capture_take(&c), "");
		capture_close(&c);
	}
	/* The real constructor on a memory stream: not a terminal, so silent. */
	capture_open(&c);
	p = cli_progress_new(c.f, PROGRESS_AUTO, 0, 0, 1);
	assert_non_null(p);
	cli_progress_update(p, 1, 1, 1, 0, 0);
	assert_false(p->live);
	cli_progress_free(p);
	assert_string_equal(capture_take(&c), "");
	capture_close(&c);
}

/* The live line: "\r", the text, clear-to-eol; at most 4 redraws a second; cleared by finish. */
static void
test_live_line(void **state)
{
	capture c;
	cli_progress *p;
	const char *s;
	int draws = 0;
	(void) state;

	unsetenv("TERM");
	capture_open(&c);
	fake_now = 10;
	p = cli_progress_new_for_test(c.f, PROGRESS_AUTO, 10000000, 0, 3, 1, 200, fake_clock);
	/* Nothing in the first quarter second: a quick copy shows no flicker. */
	fake_now = 10.1;
	cli_progress_update(p, 100, 10000, 3, 0, 0);
	assert_string_equal(capture_take(&c), "");
	fake_now = 10.25;
	cli_progress_update(p, 250000, 25000000, 3, 0, 0);
	s = capture_take(&c);
	assert_string_equal(s, "\r  250k rows  25.0 MB  100.0 MB/s  1.0M rows/s  2%  ETA 0:10  "
	                       "targets: 3 running, 0 faulted, 0 done\033[K");
	/* Updates every 10 ms for 3 s: about 12 redraws, not 300. */
	for (int i = 1; i <= 300; i++) {
		fake_now = 10.25 + i * 0.01;
		cli_progress_update(p, 250000 + (uint64_t) i * 10000, 25000000 + (uint64_t) i * 1000000,
		                    3, 0, 0);
		s = capture_take(&c);
		if (*s) {
			draws++;
			assert_int_equal(s[0], '\r');
			assert_non_null(strstr(s, "\033[K"));
			assert_null(strchr(s, '\n'));
		}
	}
	assert_in_range(draws, 11, 13);
	cli_progress_finish(p);
	assert_string_equal(capture_take(&c), "\r\033[K");
	cli_progress_free(p);
	assert_string_equal(capture_take(&c), "");
	capture_close(&c);
}

/* A message clears the live line, prints the whole line, and redraws. */
static void
test_message_over_live_line(void **state)
{
	capture c;
	cli_progress *p;
	const char *s;
	(void) state;

	unsetenv("TERM");
	capture_open(&c);
	fake_now = 0;
	p = cli_progress_new_for_test(c.f, PROGRESS_AUTO, 0, 0, 2, 1, 200, fake_clock);
	/* Before any live line: just the message. */
	cli_progress_message(p, "early\n");
	assert_string_equal(capture_take(&c), "early\n");
	fake_now = 1;
	cli_progress_update(p, 5000, 500000, 2, 0, 0);
	s = capture_take(&c);
	assert_has(s, "5.0k rows");
	assert_lacks(s, "%");      /* no estimate: no percent */
	assert_lacks(s, "ETA");
	fake_now = 1.1;
	cli_progress_update(p, 6000, 600000, 1, 1, 0);
	cli_progress_message(p, "pgcopyman: target faulted: duplicate key");
	s = capture_take(&c);
	{
		const char *want = "\r\033[Kpgcopyman: target faulted: duplicate key\n\r  6.0k rows";
		if (strncmp(s, want, strlen(want)) != 0)
			fail_msg("got \"%s\"", s);
	}
	assert_has(s, "targets: 1 running, 1 faulted, 0 done\033[K");
	cli_progress_finish(p);
	assert_string_equal(capture_take(&c), "\r\033[K");
	/* After finish a message is just a line. */
	cli_progress_message(p, "later");
	assert_string_equal(capture_take(&c), "later\n");
	cli_progress_free(p);
	capture_close(&c);
}

/* The live line fits in the terminal: parts dropped in order, then cut. */
static void
test_live_width(void **state)
{
	static const int widths[] = {200, 100, 80, 60, 40, 20, 10, 2, 1};
	capture c;
	(void) state;

	unsetenv("TERM");
	for (size_t w = 0; w < sizeof widths / sizeof widths[0]; w++) {
		cli_progress *p;
		const char *s;
		size_t len;

		capture_open(&c);
		fake_now = 0;
		p = cli_progress_new_for_test(c.f, PROGRESS_AUTO, 0, 987654321, 12, 1, widths[w],
		                              fake_clock);
		fake_now = 3;
		cli_progress_update(p, 1234567, 234500000, 10, 1, 1);
		s = capture_take(&c);
		len = strlen(s);
		assert_true(len >= 4);
		assert_int_equal(s[0], '\r');
		assert_string_equal(s + len - 3, "\033[K");
		len -= 4;
		if (len + 1 > (size_t) widths[w] && !(widths[w] <= 1 && len == 0))
			fail_msg("width %d: %zu columns: \"%s\"", widths[w], len, s);
		if (widths[w] >= 120) {
			assert_has(s, "1.2M rows  234.5 MB  78.2 MB/s  412k rows/s  23%  ETA 0:10  "
			              "targets: 10 running, 1 faulted, 1 done");
		}
		if (widths[w] == 60) {
			/* rows/s dropped, then the targets said shortly */
			assert_lacks(s, "rows/s");
			assert_has(s, "23%");
			assert_has(s, "MB/s");
			assert_has(s, "targets: 10/1/1 run/flt/done");
		}
		if (widths[w] == 40) {
			assert_has(s, "  78.2 MB/s  23%  10r/1f/1d\033[K");
			assert_has(s, "23%");
		}
		cli_progress_free(p);
		capture_close(&c);
	}
}

/* Percent: from bytes if known, else rows; 99% at most until every target is done. */
static void
test_percent_and_eta(void **state)
{
	capture c;
	cli_progress *p;
	const char *s;
	(void) state;

	unsetenv("TERM");
	capture_open(&c);
	fake_now = 0;
	p = cli_progress_new_for_test(c.f, PROGRESS_AUTO, 1000, 0, 1, 1, 300, fake_clock);
	fake_now = 1;
	cli_progress_update(p, 500, 99999999, 1, 0, 0);
	s = capture_take(&c);
	assert_has(s, "  50%  ETA 0:01  ");
	/* The estimate was low: 99%, no ETA. */
	fake_now = 2;
	cli_progress_update(p, 5000, 99999999, 1, 0, 0);
	s = capture_take(&c);
	assert_has(s, "  99%  targets");
	assert_lacks(s, "ETA");
	/* All done: 100%. */
	fake_now = 3;
	cli_progress_update(p, 5000, 99999999, 0, 0, 1);
	s = capture_take(&c);
	assert_has(s, "  100%  ETA 0:00  targets: 0 running, 0 faulted, 1 done");
	cli_progress_free(p);
	capture_close(&c);

	/* Bytes win over rows when both are known; long ETAs in h:mm:ss. */
	capture_open(&c);
	fake_now = 0;
	p = cli_progress_new_for_test(c.f, PROGRESS_AUTO, 10, 100000000000ull, 1, 1, 300, fake_clock);
	fake_now = 1;
	cli_progress_update(p, 9, 10000000, 1, 0, 0);
	s = capture_take(&c);
	assert_has(s, "  0%  ETA 2:46:39  ");
	cli_progress_free(p);
	capture_close(&c);
}

/* The rate is measured over the last few seconds: a stalled copy shows 0.0 MB/s. */
static void
test_rate_smoothing(void **state)
{
	capture c;
	cli_progress *p;
	const char *s;
	(void) state;

	unsetenv("TERM");
	capture_open(&c);
	fake_now = 0;
	p = cli_progress_new_for_test(c.f, PROGRESS_AUTO, 0, 0, 1, 1, 300, fake_clock);
	/* 10 MB/s for 10 s */
	for (int i = 1; i <= 100; i++) {
		fake_now = i * 0.1;
		cli_progress_update(p, (uint64_t) i * 1000, (uint64_t) i * 1000000, 1, 0, 0);
	}
	fake_now = 10.5;
	cli_progress_update(p, 105000, 105000000, 1, 0, 0);
	s = last_line(capture_take(&c));
	assert_has(s, "105k rows  105.0 MB  10.0 MB/s  10.0k rows/s");
	/* then 50 MB/s for 10 s: after 5 s the old speed is forgotten */
	for (int i = 1; i <= 100; i++) {
		fake_now = 10.5 + i * 0.1;
		cli_progress_update(p, 105000, 105000000 + (uint64_t) i * 5000000, 1, 0, 0);
	}
	s = last_line(capture_take(&c));
	assert_has(s, "  50.0 MB/s  0 rows/s");
	/* then nothing for 6 s */
	for (int i = 1; i <= 60; i++) {
		fake_now = 20.5 + i * 0.1;
		cli_progress_update(p, 105000, 605000000, 1, 0, 0);
	}
	s = last_line(capture_take(&c));
	assert_has(s, "605.0 MB  0.0 MB/s  0 rows/s");
	cli_progress_free(p);
	capture_close(&c);
}

/* TERM=dumb: no escapes; a shorter line is padded over the longer one. */
static void
test_dumb_terminal(void **state)
{
	capture c;
	cli_progress *p;
	const char *s;
	(void) state;

	setenv("TERM", "dumb", 1);
	capture_open(&c);
	fake_now = 0;
	p = cli_progress_new_for_test(c.f, PROGRESS_AUTO, 0, 0, 1, 1, 300, fake_clock);
	fake_now = 1;
	cli_progress_update(p, 123456789, 987654321, 1, 0, 0);
	s = capture_take(&c);
	assert_lacks(s, "\033");
	fake_now = 1.5;
	cli_progress_finish(p);
	s = capture_take(&c);
	assert_lacks(s, "\033");
	assert_int_equal(s[0], '\r');
	assert_int_equal(s[strlen(s) - 1], '\r');
	assert_true(strlen(s) > 40);
	cli_progress_free(p);
	capture_close(&c);
	unsetenv("TERM");
}

/*
 * A phase after the copy: the live line shows it with its own elapsed time,
 * redrawn as it goes on, over which a message still prints; plain lines print
 * it once per change; quiet shows nothing; NULL ends it.
 */
static void
test_phase(void **state)
{
	capture c;
	cli_progress *p;
	const char *s;
	(void) state;

	unsetenv("TERM");
	capture_open(&c);
	fake_now = 0;
	p = cli_progress_new_for_test(c.f, PROGRESS_AUTO, 1000, 0, 1, 1, 40, fake_clock);
	fake_now = 1;
	cli_progress_update(p, 1000, 100000, 0, 0, 1);
	capture_take(&c);
	fake_now = 2;
	cli_progress_phase(p, "building index t_u, 2 of 3");
	assert_string_equal(capture_take(&c), "\r  building index t_u, 2 of 3  0:00\033[K");
	fake_now = 2.1;
	cli_progress_phase(p, "building index t_u, 2 of 3");
	assert_string_equal(capture_take(&c), "");
	fake_now = 14;
	cli_progress_phase(p, "building index t_u, 2 of 3");
	assert_string_equal(capture_take(&c), "\r  building index t_u, 2 of 3  0:12\033[K");
	cli_progress_message(p, "pgcopyman: target faulted: x");
	assert_string_equal(capture_take(&c), "\r\033[Kpgcopyman: target faulted: x\n"
	                                      "\r  building index t_u, 2 of 3  0:12\033[K");
	/* Cut to the width (40 columns: 39 characters). */
	cli_progress_phase(p, "building index a_rather_long_index_name_here, 3 of 3");
	s = last_line(capture_take(&c));
	assert_string_equal(s, "\r  building index a_rather_long_index_na\033[K");
	cli_progress_phase(p, NULL);
	cli_progress_finish(p);
	assert_string_equal(capture_take(&c), "\r\033[K");
	cli_progress_free(p);

	/* Plain lines: one per change. */
	fake_now = 0;
	p = cli_progress_new_for_test(c.f, PROGRESS_PLAIN, 0, 0, 1, 0, 0, fake_clock);
	fake_now = 65;
	cli_progress_phase(p, "building index t_pkey (primary key), 1 of 2");
	fake_now = 66;
	cli_progress_phase(p, "building index t_pkey (primary key), 1 of 2");
	cli_progress_phase(p, "checking foreign key t_fk, 2 of 2");
	assert_string_equal(capture_take(&c), "pgcopyman: 1:05 elapsed  building index t_pkey (primary key), 1 of 2\n"
	                                      "pgcopyman: 1:06 elapsed  checking foreign key t_fk, 2 of 2\n");
	cli_progress_free(p);

	p = cli_progress_new_for_test(c.f, PROGRESS_QUIET, 0, 0, 1, 1, 0, fake_clock);
	cli_progress_phase(p, "building index t_u, 1 of 1");
	cli_progress_free(p);
	assert_string_equal(capture_take(&c), "");
	cli_progress_phase(NULL, "x");
	capture_close(&c);
}

/* NULL is accepted everywhere. */
static void
test_null(void **state)
{
	(void) state;
	cli_progress_update(NULL, 1, 2, 3, 4, 5);
	cli_progress_finish(NULL);
	cli_progress_free(NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_formatting_helpers),
		cmocka_unit_test(test_plain_lines),
		cmocka_unit_test(test_silent_modes),
		cmocka_unit_test(test_live_line),
		cmocka_unit_test(test_message_over_live_line),
		cmocka_unit_test(test_live_width),
		cmocka_unit_test(test_percent_and_eta),
		cmocka_unit_test(test_rate_smoothing),
		cmocka_unit_test(test_dumb_terminal),
		cmocka_unit_test(test_phase),
		cmocka_unit_test(test_null),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
