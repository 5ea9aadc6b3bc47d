/*
 * test_completion.c: bash completion (contrib/pgcopyman.bash) knows every
 * option of every subcommand.  The options come from the subcommands' own
 * getopt tables (compiled in, as the command parses them), not from a list
 * kept by hand: an option added to a table and forgotten in the completion
 * script fails here.  For each long and short option the script must offer
 * it after "-", and, when the option takes a value, must not offer options
 * where that value goes.  The test links the command's modules (all but
 * main.o, see the Makefile), so every subcommand's table is the real one.
 * Needs bash; no server.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "cli.h"

#define SCRIPT "contrib/pgcopyman.bash"

/* complete: the completion script's candidates for the words (shell-quoted, the last one being completed). */
static char *
complete(const char *words)
{
	cli_buf cmd, out;
	char chunk[4096];
	size_t n;
	FILE *p;

	cli_buf_init(&cmd);
	cli_buf_addf(&cmd, "bash --norc --noprofile -c 'source \"%s\" || exit 9; COMP_WORDS=(%s); "
	             "COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); _pgcopyman pgcopyman; "
	             "printf \"%%s\\n\" \"${COMPREPLY[@]}\"' 2>&1", SCRIPT, words);
	p = popen(cmd.data, "r");
	assert_non_null(p);
	cli_buf_init(&out);
	cli_buf_add(&out, "\n");
	while ((n = fread(chunk, 1, sizeof chunk, p)) > 0)
		cli_buf_addn(&out, chunk, n);
	assert_int_equal(pclose(p), 0);
	cli_buf_free(&cmd);
	return cli_buf_take(&out);
}

/* offers: the candidate list (one a line, starting with "\n") holds word. */
static int
offers(const char *list, const char *word)
{
	char want[128];

	snprintf(want, sizeof want, "\n%s\n", word);
	return strstr(list, want) != NULL;
}

/* check_command: every option of spec is offered for "pgcopyman cmd -", and takes its value where it should. */
static void
check_command(const char *cmd, const cli_optspec *spec)
{
	char words[256];
	char *all;
	int checked = 0;

	snprintf(words, sizeof words, "pgcopyman %s -", cmd);
	all = complete(words);
	for (const struct option *o = spec->longopts; o->name; o++) {
		char opt[96];

		snprintf(opt, sizeof opt, "--%s", o->name);
		if (!offers(all, opt))
			fail_msg("completion of \"pgcopyman %s -\" does not offer %s:%s", cmd, opt, all);
		if (o->has_arg == required_argument) {
			/* After the option comes its value: no option names there. */
			char *after;
			snprintf(words, sizeof words, "pgcopyman %s %s \"\"", cmd, opt);
			after = complete(words);
			if (offers(after, "--help"))
				fail_msg("completion after \"%s %s\" offers options: the script does not know that %s "
				         "takes a value:%s", cmd, opt, opt, after);
			free(after);
		}
		checked++;
	}
	for (const char *s = spec->shortopts; *s; s++) {
		char opt[3] = {'-', *s, '\0'};
		if (*s == ':')
			continue;
		if (!offers(all, opt))
			fail_msg("completion of \"pgcopyman %s -\" does not offer %s:%s", cmd, opt, all);
		checked++;
	}
	assert_true(checked > 3);
	free(all);
}

static void
test_copy_options(void **state)
{
	(void) state;
	check_command("copy", &cli_copy_optspec);
}

static void
test_listen_options(void **state)
{
	(void) state;
	check_command("listen", &cli_listen_optspec);
}

static void
test_notify_options(void **state)
{
	(void) state;
	check_command("notify", &cli_notify_optspec);
}

static void
test_recover_options(void **state)
{
	(void) state;
	check_command("recover", &cli_recover_optspec);
}

static void
test_compare_options(void **state)
{
	(void) state;
	check_command("compare", &cli_compare_optspec);
}

/* The commands themselves, after "pgcopyman". */
static void
test_commands(void **state)
{
	static const char *const names[] = {"compare", "copy", "listen", "notify", "recover"};
	char *got = complete("pgcopyman \"\"");
	(void) state;

	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		if (!offers(got, names[i]))
			fail_msg("completion of \"pgcopyman \" does not offer %s:%s", names[i], got);
	free(got);
}

/* The values the script offers for the options that take a word from a set. */
static void
test_values(void **state)
{
	char *got;
	(void) state;

	got = complete("pgcopyman copy --progress=j");
	assert_true(offers(got, "--progress=json"));
	free(got);
	got = complete("pgcopyman copy --compress 1");
	assert_true(offers(got, "19"));
	free(got);
	/* --progress takes its value only after "=": a word after it is something else. */
	got = complete("pgcopyman copy --progress --q");
	assert_true(offers(got, "--quiet"));
	free(got);
	/* listen's -j is --json, which takes no value (copy's -j is --jobs). */
	got = complete("pgcopyman listen -j -");
	assert_true(offers(got, "--idle"));
	free(got);
	got = complete("pgcopyman copy -j \"\"");
	assert_false(offers(got, "--help"));
	free(got);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_copy_options),
		cmocka_unit_test(test_listen_options),
		cmocka_unit_test(test_notify_options),
		cmocka_unit_test(test_recover_options),
		cmocka_unit_test(test_compare_options),
		cmocka_unit_test(test_commands),
		cmocka_unit_test(test_values),
	};

	return cmocka_run_group_tests_name("completion", tests, NULL, NULL);
}
