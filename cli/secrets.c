/*
 * secrets.c: the secrets the command must never show, and the scrubbing of
 * the process title and of printed text (secrets.h).
 *
 * The list of secrets is the one piece of process-wide state in the
 * command: filled once at start-up (main.c), read by every printer.
 */
#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "conninfo.h"
#include "secrets.h"
#include "strbuf.h"

static char **secrets;      /* longest first, so that a longer secret is masked whole */

static size_t nsecrets;

void
cli_secrets_add(const char *secret)
{
	size_t len = secret ? strlen(secret) : 0, at;
	char *copy, **grown;

	if (len < CLI_SECRET_MIN_LEN)
		return;
	for (size_t i = 0; i < nsecrets; i++)
		if (strcmp(secrets[i], secret) == 0)
			return;
	copy = strdup(secret);
	grown = copy ? realloc(secrets, (nsecrets + 1) * sizeof *secrets) : NULL;
	if (!grown) {
		/* Out of memory at start-up: the masked connection strings still hold. */
		free(copy);
		return;
	}
	secrets = grown;
	for (at = 0; at < nsecrets && strlen(secrets[at]) >= len; at++)
		;
	memmove(secrets + at + 1, secrets + at, (nsecrets - at) * sizeof *secrets);
	secrets[at] = copy;
	nsecrets++;
}

/*
 * add_secrets_of: every secret value of s, level by level: a nested dbname
 * that does not parse does not hide the secrets around it (the string is
 * invalid as a whole, but its password is still one).
 */
static void
add_secrets_of(const char *s, int depth)
{
	PQconninfoOption *opts = PQconninfoParse(s, NULL);

	for (PQconninfoOption *o = opts; o && o->keyword; o++) {
		if (!o->val)
			continue;
		if (strcmp(o->keyword, "password") == 0 || (o->dispchar && strchr(o->dispchar, '*')))
			cli_secrets_add(o->val);
		else if (strcmp(o->keyword, "dbname") == 0 && cli_conninfo_like(o->val) && depth < 16)
			add_secrets_of(o->val, depth + 1);
	}
	PQconninfoFree(opts);
}

void
cli_secrets_add_conninfo(const char *conninfo)
{
	add_secrets_of(conninfo ? conninfo : "", 0);
}

void
cli_secrets_add_environment(void)
{
	PQconninfoOption *defaults = PQconndefaults();

	for (PQconninfoOption *o = defaults; o && o->keyword; o++)
		if (o->envvar && ((o->dispchar && strchr(o->dispchar, '*')) || strcmp(o->keyword, "password") == 0))
			cli_secrets_add(getenv(o->envvar));
	PQconninfoFree(defaults);
	cli_secrets_add(getenv("PGPASSWORD"));
}

void
cli_secrets_clear(void)
{
	for (size_t i = 0; i < nsecrets; i++)
		free(secrets[i]);
	free(secrets);
	secrets = NULL;
	nsecrets = 0;
}

char *
cli_scrub_text(const char *text)
{
	cli_buf b;
	const char *p = text ? text : "";

	cli_buf_init(&b);
	while (*p) {
		size_t hit = 0;

		for (size_t i = 0; i < nsecrets && !hit; i++) {
			size_t n = strlen(secrets[i]);
			if (strncmp(p, secrets[i], n) == 0)
				hit = n;
		}
		if (hit) {
			cli_buf_add(&b, "********");
			p += hit;
		} else {
			cli_buf_addn(&b, p, 1);
			p++;
		}
	}
	return cli_buf_take(&b);
}

/* mentions_password: "password" in any case, where a connection string that failed to parse may hold one. */
static int
mentions_password(const char *s)
{
	static const char word[] = "password";

	for (; *s; s++) {
		size_t i = 0;
		while (word[i] && tolower((unsigned char) s[i]) == word[i])
			i++;
		if (!word[i])
			return 1;
	}
	return 0;
}

/* uri_with_password: "scheme://user:secret@..." (a colon in the user part). */
static int
uri_with_password(const char *s)
{
	const char *start = strstr(s, "://"), *at;

	if (!start)
		return 0;
	start += 3;
	at = strchr(start, '@');
	if (!at)
		return 0;
	for (const char *p = start; p < at; p++) {
		if (*p == '/')
			return 0;
		if (*p == ':')
			return 1;
	}
	return 0;
}

/*
 * might_hold_secret: s parses as a connection string with a secret in it,
 * or does not parse but mentions a password or has a URI's
 * user:password part.  Broad on purpose: what it catches is only masked in
 * the process title (the command keeps its copy), so a query that mentions
 * a password column shows as stars in ps, and nothing that may be one shows.
 * What it finds is remembered for the printers.
 */
static int
might_hold_secret(const char *s)
{
	cli_conninfo ci = {0};
	char *err = NULL;
	int found = 0;

	if (cli_conninfo_like(s) && cli_conninfo_parse(s, &ci, &err)) {
		for (size_t i = 0; i < ci.n; i++)
			found |= ci.secret[i];
	} else {
		found = mentions_password(s) || uri_with_password(s);
	}
	if (found)
		cli_secrets_add_conninfo(s);   /* the levels that parse, even when the whole does not */
	free(err);
	cli_conninfo_free(&ci);
	return found;
}

/* overwrite: v (in the process title) replaced by its masked form, padded; '*' when that does not fit. */
static void
overwrite(char *v)
{
	size_t room = strlen(v);
	char *masked = cli_mask_conninfo(v);

	if (masked && strlen(masked) <= room) {
		memset(v, ' ', room);
		memcpy(v, masked, strlen(masked));
	} else {
		memset(v, '*', room);
	}
	free(masked);
}

/* holding: the index of the argument whose string holds p, or -1. */
static int
holding(int argc, char **argv, const char *p)
{
	uintptr_t at = (uintptr_t) p;

	for (int i = 0; i < argc; i++) {
		uintptr_t s = (uintptr_t) argv[i];
		if (at >= s && at <= s + strlen(argv[i]))
			return i;
	}
	return -1;
}

static int
is_conninfo_option(const cli_optspec *spec, int val)
{
	for (const int *v = spec->conninfo_vals; v && *v; v++)
		if (*v == val)
			return 1;
	return 0;
}

/*
 * scrub_options: getopt_long over a copy of the pointer array (GNU getopt
 * permutes it; the strings are the originals), with the command's own
 * tables, so that each connection string is found exactly where the command
 * will find it.  Marks in done[] the arguments it judged.
 */
static int
scrub_options(int argc, char **argv, const cli_optspec *spec, char *done)
{
	char **ptrs = malloc(((size_t) argc + 1) * sizeof *ptrs);
	int ch;

	if (!ptrs)
		return 0;
	memcpy(ptrs, argv, (size_t) argc * sizeof *ptrs);
	ptrs[argc] = NULL;
	opterr = 0;
	optind = 0;   /* glibc: start a fresh scan */
	while ((ch = getopt_long(argc, ptrs, spec->shortopts, spec->longopts, NULL)) != -1) {
		int i;

		if (!optarg || !is_conninfo_option(spec, ch) || (i = holding(argc, argv, optarg)) < 0)
			continue;
		done[i] = 1;
		/* "-" and file:PATH name a stream or a file, not a server. */
		if (strcmp(optarg, "-") == 0 || strncmp(optarg, "file:", 5) == 0)
			continue;
		cli_secrets_add_conninfo(optarg);
		overwrite(optarg);
	}
	optind = 0;
	free(ptrs);
	return 1;
}

char **
cli_scrub_argv(int argc, char **argv, const cli_optspec *spec)
{
	char **copy = calloc((size_t) argc + 1, sizeof *copy);
	char *done = calloc((size_t) argc + 1, 1);

	if (!copy || !done)
		goto fail;
	for (int i = 0; i < argc; i++)
		if (!(copy[i] = strdup(argv[i])))
			goto fail;
	if (spec && !scrub_options(argc, argv, spec, done))
		goto fail;
	/*
	 * Then whatever else may hold a password: an ambiguous option's value, a
	 * stray argument, after "--".  Each candidate is judged (and its secrets
	 * remembered): what follows "--opt=", what follows "-o", else the whole
	 * argument; the widest part that may hold one is masked, and an option's
	 * name stays readable.
	 */
	for (int i = 1; i < argc; i++) {
		char *arg = argv[i], *eq = arg[0] == '-' ? strchr(arg, '=') : NULL;
		char *cut = arg[0] == '-' && arg[1] && arg[1] != '-' ? arg + 2 : NULL;
		char *from = NULL;

		if (done[i])
			continue;
		if (eq && might_hold_secret(eq + 1))
			from = eq + 1;
		if (cut && might_hold_secret(cut) && (!from || cut < from))
			from = cut;
		if (!from && might_hold_secret(arg))
			from = arg;
		if (from)
			overwrite(from);
	}
	free(done);
	return copy;
fail:
	for (int i = 0; copy && i < argc; i++)
		free(copy[i]);
	free(copy);
	free(done);
	return NULL;
}
