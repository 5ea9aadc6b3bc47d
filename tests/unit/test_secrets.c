/*
 * test_secrets.c: connection strings parsed, expanded and masked
 * (cli/conninfo.c), the secrets list and the scrubbing of the process title
 * and of printed text (cli/secrets.c), the growing string they are built in
 * (cli/strbuf.c), and --max-row-size's sizes (cli/copy_options.c; cmd_listen.c and
 * cmd_recover.c, with what it needs, for their option tables).  These
 * are CLI modules, compiled into this test directly; no server is needed.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "../../cli/strbuf.c"
#include "../../cli/conninfo.c"
#include "../../cli/secrets.c"
#include "../../cli/password.c"
#include "../../cli/common.c"
#include "../../cli/sqltext.c"
#include "../../cli/copy_options.c"
#include "../../cli/cmd_listen.c"
#include "../../cli/statedir.c"
#include "../../cli/commit_2pc.c"
#include "../../cli/cmd_recover.c"

#define SECRET "Pw4Sentinel9xQ"

static int
teardown(void **state)
{
	(void) state;
	cli_secrets_clear();
	return 0;
}

static void
expect_mask(const char *conninfo, const char *want)
{
	char *got = cli_mask_conninfo(conninfo);

	assert_non_null(got);
	if (strcmp(got, want) != 0) {
		print_error("mask of \"%s\":\n  got  \"%s\"\n  want \"%s\"\n", conninfo, got, want);
		fail();
	}
	free(got);
}

static void
test_buffer_grows_and_takes(void **state)
{
	cli_buf b;
	char *s;

	(void) state;
	cli_buf_init(&b);
	s = cli_buf_take(&b);
	assert_string_equal(s, "");
	free(s);
	for (int i = 0; i < 10000; i++)
		assert_true(cli_buf_addf(&b, "%d,", i % 10));
	assert_int_equal(b.len, 20000);
	assert_true(cli_buf_addn(&b, "abc", 2));
	s = cli_buf_take(&b);
	assert_int_equal(strlen(s), 20002);
	assert_memory_equal(s + 19998, "9,ab", 4);
	free(s);
	assert_null(b.data);
	/* A broken buffer gives nothing, not a cut string. */
	cli_buf_add(&b, "partial");
	b.broken = 1;
	assert_false(cli_buf_add(&b, "more"));
	assert_null(cli_buf_take(&b));
	assert_false(b.broken);
}

static void
test_mask_hides_every_secret(void **state)
{
	(void) state;
	expect_mask("host=/tmp port=5432 password=" SECRET " dbname=db", "password=******** dbname=db host=/tmp port=5432");
	expect_mask("postgresql://u:" SECRET "@h:5433/db?sslpassword=" SECRET,
	            "user=u password=******** dbname=db host=h port=5433 sslpassword=********");
	expect_mask("", "(defaults)");
	expect_mask("mydb", "dbname=mydb");   /* a bare word is a database name, as libpq takes it */
	expect_mask(NULL, "(defaults)");
	expect_mask("host='/a b' application_name='it\\'s'", "host='/a b' application_name='it\\'s'");
	/* Unparsable: nothing of it is shown, it may hold a password. */
	expect_mask("password=my " SECRET "=x", "(invalid connection string)");
	expect_mask("postgresql://u:" SECRET "@h:notaport/db?bogus=1", "(invalid connection string)");
}

static void
test_dbname_is_expanded(void **state)
{
	cli_conninfo ci;
	char *err = NULL, *s;

	(void) state;
	/* A URI in dbname, and a connection string in a URI's dbname in a connection string. */
	expect_mask("host=/outer dbname=postgresql://u:" SECRET "@/inner?host=/h",
	            "host=/h user=u password=******** dbname=inner");
	expect_mask("port=1 dbname='dbname=\\'password=" SECRET " dbname=x port=2\\''",
	            "port=2 password=******** dbname=x");
	assert_true(cli_conninfo_parse("host=/outer dbname=postgresql://u:" SECRET "@/inner?host=/h", &ci, &err));
	assert_int_equal(ci.n, 4);
	for (size_t i = 0; i < ci.n; i++) {
		assert_false(strcmp(ci.keys[i], "dbname") == 0 && strchr(ci.vals[i], '/'));
		assert_int_equal(ci.secret[i], strcmp(ci.keys[i], "password") == 0);
	}
	assert_null(ci.keys[ci.n]);
	cli_conninfo_free(&ci);
	/* The expansion written back parses to the same settings, and to itself. */
	s = cli_expand_conninfo("host=/outer dbname=postgresql://u:" SECRET "@/inner?host=/h", &err);
	assert_non_null(s);
	assert_string_equal(s, "host=/h user=u password=" SECRET " dbname=inner");
	{
		/* Written back in libpq's keyword order: a fixed point from there. */
		char *again = cli_expand_conninfo(s, &err), *third;
		assert_string_equal(again, "user=u password=" SECRET " dbname=inner host=/h");
		third = cli_expand_conninfo(again, &err);
		assert_string_equal(third, again);
		free(again);
		free(third);
	}
	free(s);
	/* Nesting is bounded: 8 levels parse, 10 do not. */
	{
		char *deep = strdup("host=/x");
		for (int level = 1; level <= 10; level++) {
			cli_buf b;
			cli_buf_init(&b);
			cli_buf_add(&b, "dbname='");
			for (const char *p = deep; *p; p++) {
				if (*p == '\'' || *p == '\\')
					cli_buf_add(&b, "\\");
				cli_buf_addn(&b, p, 1);
			}
			cli_buf_add(&b, "'");
			free(deep);
			deep = cli_buf_take(&b);
			assert_non_null(deep);
			if (level == 8) {
				assert_true(cli_conninfo_parse(deep, &ci, &err));
				assert_int_equal(ci.n, 1);
				assert_string_equal(ci.vals[0], "/x");
				cli_conninfo_free(&ci);
			}
		}
		assert_false(cli_conninfo_parse(deep, &ci, &err));
		assert_non_null(strstr(err, "nested too deeply"));
		free(err);
		cli_conninfo_free(&ci);
		free(deep);
	}
}

/*
 * What the state directory keeps of a target (and what recover's command
 * line shows): expanded, every secret left out at every dbname level, still
 * a connection string that parses to the same settings less the secrets.
 */
static void
test_conninfo_without_secrets(void **state)
{
	static const struct { const char *in, *want; } cases[] = {
		{"host=/tmp port=5432 password=" SECRET " dbname=db", "dbname=db host=/tmp port=5432"},
		{"postgresql://u:" SECRET "@h:5433/db?sslpassword=" SECRET, "user=u dbname=db host=h port=5433"},
		{"host=/outer dbname=postgresql://u:" SECRET "@/inner?host=/h", "host=/h user=u dbname=inner"},
		{"port=1 dbname='dbname=\\'password=" SECRET " dbname=x port=2\\''", "port=2 dbname=x"},
		{"mydb", "dbname=mydb"},
		{"", ""},
		{"host='/a b'", "host='/a b'"},
	};
	char *err = NULL, *got;

	(void) state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		got = cli_conninfo_without_secrets(cases[i].in, &err);
		assert_non_null(got);
		if (strcmp(got, cases[i].want) != 0) {
			print_error("without secrets of \"%s\":\n  got  \"%s\"\n  want \"%s\"\n", cases[i].in, got,
			            cases[i].want);
			fail();
		}
		free(got);
	}
	/* Unparsable: nothing, and a reason that quotes nothing of it. */
	assert_null(cli_conninfo_without_secrets("password=my " SECRET "=x", &err));
	assert_non_null(err);
	assert_null(strstr(err, SECRET));
	free(err);
	/* recover's command line, as a copy's messages suggest it. */
	got = twophase_recover_command("dbname=postgresql://u:" SECRET "@/db?host=/h", "/tmp/it's");
	assert_string_equal(got, "pgcopyman recover --to 'user=u dbname=db host=/h' --state-dir '/tmp/it'\\''s'");
	free(got);
}

static void
test_scrub_text_masks_known_secrets(void **state)
{
	char *s;

	(void) state;
	cli_secrets_add_conninfo("host=/x dbname=postgresql://u:" SECRET "@/db");
	cli_secrets_add("abc");                  /* too short to look for */
	cli_secrets_add(SECRET "longer");        /* longer first: masked whole */
	s = cli_scrub_text("FATAL: database \"" SECRET "longer\" and " SECRET ", abc");
	assert_string_equal(s, "FATAL: database \"********\" and ********, abc");
	free(s);
	setenv("PGPASSWORD", "EnvSecret42", 1);
	cli_secrets_add_environment();
	unsetenv("PGPASSWORD");
	s = cli_scrub_text("x EnvSecret42 y");
	assert_string_equal(s, "x ******** y");
	free(s);
	s = cli_scrub_text(NULL);
	assert_string_equal(s, "");
	free(s);
}

/* scrub: copy args into writable strings, scrub them as main.c does; returns the copy for use. */
static char **
scrub(int argc, const char *const *args, char **title, const cli_optspec *spec)
{
	char **copy;

	for (int i = 0; i < argc; i++) {
		title[i] = strdup(args[i]);
		assert_non_null(title[i]);
	}
	copy = cli_scrub_argv(argc, title, spec);
	assert_non_null(copy);
	for (int i = 0; i < argc; i++)
		assert_string_equal(copy[i], args[i]);
	return copy;
}

static void
free_args(int argc, char **a)
{
	for (int i = 0; i < argc; i++)
		free(a[i]);
}

static void
test_scrub_argv_follows_getopt(void **state)
{
	static const char *const cases[][8] = {
		{"copy", "--fro", "host=/x password=" SECRET, "--to", "-", NULL},
		{"copy", "--fr=host=/x password=" SECRET, "--to=file:/tmp/o", NULL},
		{"copy", "-t", "t", "--to", "postgresql://u:" SECRET "@h/db", NULL},
		{"copy", "--from=dbname=postgresql://u:" SECRET "@h/db", "-t", "t", NULL},
		{"copy", "--to", "dbname='password=" SECRET "'", "--json", NULL},
		/* --query takes "--from" as its value: the connection string is loose, and still masked. */
		{"copy", "-q", "--from", "host=/x password=" SECRET, NULL},
		/* After "--" nothing is an option: still masked. */
		{"copy", "--", "--from", "password=" SECRET, NULL},
		/* Ambiguous (--t: --to, --table, ...): masked all the same. */
		{"copy", "--t", "user=u password=" SECRET, NULL},
		/* Unparsable, but it mentions a password. */
		{"copy", "--bogus=password " SECRET, NULL},
		/* Another option's value that mentions one: masked in the title too (the command keeps its copy). */
		{"copy", "--query", "SELECT 'password " SECRET "'", NULL},
	};

	(void) state;
	for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
		char *title[8], **copy;
		int argc = 0;

		while (cases[c][argc])
			argc++;
		copy = scrub(argc, cases[c], title, &cli_copy_optspec);
		for (int i = 0; i < argc; i++) {
			if (strstr(title[i], SECRET)) {
				print_error("case %zu: argument %d still shows the password: %s\n", c, i, title[i]);
				fail();
			}
			assert_int_equal(strlen(title[i]), strlen(cases[c][i]));
			if (cases[c][i][0] == '-') {
				/* Option names stay readable: what comes before a value is kept. */
				size_t keep = strcspn(cases[c][i], "=");
				assert_memory_equal(title[i], cases[c][i], keep);
			}
		}
		free_args(argc, title);
		free_args(argc, copy);
		free(copy);
	}
}

static void
test_scrub_argv_keeps_what_is_not_secret(void **state)
{
	const char *const args[] = {"copy", "--from", "-", "--to", "file:/tmp/password=x", "--query",
	                            "SELECT 1", "--null", "NIL", "-t", "t", NULL};
	const char *const listen[] = {"listen", "-chost=/x password=" SECRET, "--idle", "5", "ch", NULL};
	char *title[12], **copy;

	(void) state;
	copy = scrub(11, args, title, &cli_copy_optspec);
	for (int i = 0; i < 11; i++)
		assert_string_equal(title[i], args[i]);
	free_args(11, title);
	free_args(11, copy);
	free(copy);
	/* listen's short option with its value attached: only the value is masked. */
	copy = scrub(5, listen, title, &cli_listen_optspec);
	assert_int_equal(strncmp(title[1], "-cpassword=******** host=/x", 27), 0);
	assert_null(strstr(title[1], SECRET));
	assert_string_equal(title[4], "ch");
	free_args(5, title);
	free_args(5, copy);
	free(copy);
	/* recover's --to, in any spelling getopt takes; its --state-dir is left as it is. */
	{
		const char *const rec[] = {"recover", "--t", "host=/x password=" SECRET, "--to=postgresql://u:" SECRET "@h/db",
		                           "--state-dir", "/tmp/state", NULL};
		copy = scrub(6, rec, title, &cli_recover_optspec);
		for (int i = 0; i < 6; i++)
			assert_null(strstr(title[i], SECRET));
		assert_int_equal(strncmp(title[3], "--to=", 5), 0);
		assert_string_equal(title[5], "/tmp/state");
		free_args(6, title);
		free_args(6, copy);
		free(copy);
	}
	/* The secrets found are known to the printers. */
	{
		char *s = cli_scrub_text("error " SECRET);
		assert_string_equal(s, "error ********");
		free(s);
	}
}

static void
test_max_row_size_parses(void **state)
{
	static const struct { const char *text; size_t want; } good[] = {
		{"1", 1}, {"100000", 100000}, {"64MB", 64u << 20}, {"64mb", 64u << 20}, {"512kB", 512u << 10},
		{"1GB", 1u << 30}, {"3 M", 3u << 20}, {"1024B", 1024},
	};
	static const char *const bad[] = {"0", "", "x", "-5", "1.5MB", "2GB", "1TB", "1GBx", "99999999999999999999"};

	(void) state;
	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
		size_t got = 0;
		assert_true(parse_size(good[i].text, COPY_MAX_ROW_LIMIT, &got));
		assert_int_equal(got, good[i].want);
	}
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		size_t got = 0;
		if (parse_size(bad[i], COPY_MAX_ROW_LIMIT, &got)) {
			print_error("\"%s\" was taken as %zu\n", bad[i], got);
			fail();
		}
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_buffer_grows_and_takes, teardown),
		cmocka_unit_test_teardown(test_mask_hides_every_secret, teardown),
		cmocka_unit_test_teardown(test_dbname_is_expanded, teardown),
		cmocka_unit_test_teardown(test_conninfo_without_secrets, teardown),
		cmocka_unit_test_teardown(test_scrub_text_masks_known_secrets, teardown),
		cmocka_unit_test_teardown(test_scrub_argv_follows_getopt, teardown),
		cmocka_unit_test_teardown(test_scrub_argv_keeps_what_is_not_secret, teardown),
		cmocka_unit_test_teardown(test_max_row_size_parses, teardown),
	};

	return cmocka_run_group_tests_name("secrets", tests, NULL, NULL);
}
