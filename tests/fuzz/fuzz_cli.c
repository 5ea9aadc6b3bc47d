/*
 * fuzz_cli.c: libFuzzer target for the command line and connection strings
 * (cli/secrets.c, cli/conninfo.c, cli/strbuf.c, with the subcommands' own
 * getopt tables).
 *
 * The input drives two things.
 *
 * An argument vector for copy, listen, notify, recover or an unknown command, built
 * from the command's option table: each option spelled exactly, as a unique
 * abbreviation, as --opt=value, --opt value, -ovalue or -o value; the value
 * of an option that takes a connection string is one with a sentinel
 * password in one of its forms (password=, a URI's user:password@, a
 * sslpassword, a URI or a connection string given as dbname=, quoted or
 * not); other values and stray arguments are fuzz bytes (never the
 * sentinel); "--" and connection strings given as stray arguments are mixed
 * in.  After cli_scrub_argv(): the copy it returns is the vector as given;
 * no argument of the original (the process title) holds the sentinel, and
 * each keeps its length; the masked form of every generated connection
 * string, and any text scrubbed after it, do not hold it either.
 *
 * A raw string with the sentinel somewhere in it: masked, and written
 * without its secrets (as the state directory keeps it), it shows the
 * sentinel only if libpq itself (read level by level, dbname expanded)
 * finds it in a value that is not secret; expanded and written back, it
 * parses to the same settings; scrubbed text never shows a known secret.
 *
 * Nothing may crash, leak or read out of bounds.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "cli.h"

#define SENTINEL "Zq8Sentinel3Pw"
#define MAX_ARGS 48

static void
check(int ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "fuzz_cli: invariant failed: %s\n", what);
		abort();
	}
}

/* check_about: check, showing the string the invariant is about. */
static void
check_about(int ok, const char *what, const char *about)
{
	if (!ok)
		fprintf(stderr, "fuzz_cli: about \"%s\"\n", about);
	check(ok, what);
}

/* A tiny reader over the input. */
typedef struct input {
	const uint8_t *d;
	size_t n, at;
} input;

static unsigned
next(input *in)
{
	return in->at < in->n ? in->d[in->at++] : 0;
}

/* fuzz_text: up to max fuzz bytes as a string (no NUL, never the sentinel); malloc'd. */
static char *
fuzz_text(input *in, size_t max)
{
	size_t len = next(in) % (max + 1), i = 0;
	char *s = malloc(len + 1);
	char *hit;

	check(s != NULL, "malloc");
	while (i < len && in->at < in->n) {
		char c = (char) next(in);
		s[i++] = c ? c : ' ';
	}
	s[i] = '\0';
	while ((hit = strstr(s, SENTINEL)))
		hit[0] = '_';
	return s;
}

/* conninfo_with_secret: a connection string holding the sentinel as a secret, in one of several forms. */
static char *
conninfo_with_secret(input *in)
{
	static const char *const forms[] = {
		"host=/tmp port=5432 password=" SENTINEL " dbname=db",
		"password='" SENTINEL "'",
		"user=u password = " SENTINEL,
		"postgresql://u:" SENTINEL "@h:5432/db",
		"postgres://u:" SENTINEL "@/db?host=/tmp",
		"postgresql:///db?password=" SENTINEL "&host=/tmp",
		"sslpassword=" SENTINEL " host=/x",
		"dbname=postgresql://u:" SENTINEL "@/db?host=/tmp",
		"host=/a dbname='password=" SENTINEL " port=1'",
		"dbname='dbname=\\'postgresql://u:" SENTINEL "@/x\\''",
		"postgresql://u@/db?host=/t&dbname=password%3D" SENTINEL,
	};
	const char *form = forms[next(in) % (sizeof forms / sizeof forms[0])];
	char *extra = next(in) % 4 == 0 ? fuzz_text(in, 12) : NULL;
	cli_buf b;
	char *s;

	cli_buf_init(&b);
	cli_buf_add(&b, form);
	/* Sometimes more settings after it (they may break it: then nothing of it may show either). */
	if (extra) {
		cli_buf_add(&b, " ");
		cli_buf_add(&b, extra);
		free(extra);
	}
	s = cli_buf_take(&b);
	check(s != NULL, "malloc");
	return s;
}

/* libpq_finds: the sentinel in a secret value (*secret), or in a shown one (*shown), at any dbname level. */
static void
libpq_finds(const char *s, int depth, int *secret, int *shown)
{
	PQconninfoOption *opts = PQconninfoParse(s, NULL);

	if (!opts)
		return;
	for (PQconninfoOption *o = opts; o->keyword; o++) {
		int is_secret = strcmp(o->keyword, "password") == 0 || (o->dispchar && strchr(o->dispchar, '*'));
		if (!o->val || !strstr(o->val, SENTINEL))
			continue;
		if (strcmp(o->keyword, "dbname") == 0 && cli_conninfo_like(o->val) && depth < 12)
			libpq_finds(o->val, depth + 1, secret, shown);
		else if (is_secret)
			*secret = 1;
		else
			*shown = 1;
	}
	PQconninfoFree(opts);
}

/* same_settings: a and b parse (expanded) to the same keyword=value pairs, in any order. */
static int
same_settings(const char *a, const char *b)
{
	cli_conninfo x, y;
	char *ex = NULL, *ey = NULL;
	int same = cli_conninfo_parse(a, &x, &ex) && cli_conninfo_parse(b, &y, &ey) && x.n == y.n;

	for (size_t i = 0; same && i < x.n; i++) {
		int found = 0;
		for (size_t j = 0; j < y.n && !found; j++)
			found = strcmp(x.keys[i], y.keys[j]) == 0 && strcmp(x.vals[i], y.vals[j]) == 0;
		same = found;
	}
	free(ex);
	free(ey);
	cli_conninfo_free(&x);
	cli_conninfo_free(&y);
	return same;
}

static void
fuzz_raw_conninfo(input *in)
{
	char *head = fuzz_text(in, 40), *tail = fuzz_text(in, 40), *s, *masked, *expanded, *err = NULL;
	int secret = 0, shown = 0;
	cli_buf b;

	cli_buf_init(&b);
	cli_buf_add(&b, head);
	cli_buf_add(&b, SENTINEL);
	cli_buf_add(&b, tail);
	s = cli_buf_take(&b);
	check(s != NULL, "malloc");
	libpq_finds(s, 0, &secret, &shown);
	masked = cli_mask_conninfo(s);
	check(masked != NULL, "mask");
	if (secret && !shown)
		check(strstr(masked, SENTINEL) == NULL, "a secret shows in a masked connection string");
	expanded = cli_expand_conninfo(s, &err);
	if (expanded) {
		check(same_settings(s, expanded), "the expansion written back parses to the same settings");
		PQconninfoOption *opts = PQconninfoParse(expanded, NULL);
		check(opts != NULL, "the expansion written back parses");
		for (PQconninfoOption *o = opts; o->keyword; o++)
			if (o->val && strcmp(o->keyword, "dbname") == 0)
				check(!cli_conninfo_like(o->val), "no connection string is left in dbname for libpq to send");
		PQconninfoFree(opts);
	} else {
		check(err != NULL, "a failed expansion says why");
		check(strstr(err, SENTINEL) == NULL, "an expansion error shows no value");
	}
	/* Written to the state directory: expanded, every secret left out. */
	{
		char *kept, *kerr = NULL;
		kept = cli_conninfo_without_secrets(s, &kerr);
		if (secret && !shown && kept)
			check(strstr(kept, SENTINEL) == NULL, "a secret is kept in a connection string without secrets");
		check(kept || kerr, "a failed expansion says why");
		check(!kerr || !strstr(kerr, SENTINEL), "an expansion error shows no value");
		free(kept);
		free(kerr);
	}
	/* Text scrubbed after the string's secrets were remembered. */
	cli_secrets_add_conninfo(s);
	if (secret && !shown) {
		char *scrubbed = cli_scrub_text(s);
		check(scrubbed != NULL, "scrub");
		check(strstr(scrubbed, SENTINEL) == NULL, "a remembered secret shows in scrubbed text");
		free(scrubbed);
	}
	free(err);
	free(expanded);
	free(masked);
	free(head);
	free(tail);
	free(s);
}

/* add_option: one option of spec, in one of its spellings, with a value when it takes one, to args. */
static int
add_option(input *in, const cli_optspec *spec, char **args, int n, char **conn_values, int *nconn)
{
	const struct option *opt;
	size_t nopts = 0, len, unique;
	int conn = 0, has_short, separate = 0;
	char *value = NULL;
	cli_buf b;

	while (spec->longopts[nopts].name)
		nopts++;
	opt = &spec->longopts[next(in) % nopts];
	for (const int *v = spec->conninfo_vals; *v; v++)
		conn |= *v == opt->val;
	has_short = opt->val < 256 && strchr(spec->shortopts, opt->val) != NULL;
	/* The shortest prefix no other long option shares (getopt takes an exact match first). */
	len = strlen(opt->name);
	for (unique = 1; unique < len; unique++) {
		int clash = 0;
		for (size_t k = 0; k < nopts; k++)
			clash |= &spec->longopts[k] != opt && strncmp(spec->longopts[k].name, opt->name, unique) == 0;
		if (!clash)
			break;
	}
	if (opt->has_arg == required_argument)
		value = conn ? conninfo_with_secret(in) : fuzz_text(in, 24);
	cli_buf_init(&b);
	switch (next(in) % (has_short ? 5 : 3)) {
	case 0: cli_buf_addf(&b, "--%s", opt->name); separate = 1; break;
	case 1: cli_buf_addf(&b, "--%.*s", (int) (unique + next(in) % (len - unique + 1)), opt->name); separate = 1; break;
	case 2: cli_buf_addf(&b, "--%.*s%s%s", (int) (unique + next(in) % (len - unique + 1)), opt->name,
	                     value ? "=" : "", value ? value : ""); break;
	case 3: cli_buf_addf(&b, "-%c", opt->val); separate = 1; break;
	default: cli_buf_addf(&b, "-%c%s", opt->val, value ? value : ""); break;
	}
	args[n++] = cli_buf_take(&b);
	check(args[n - 1] != NULL, "malloc");
	if (value && separate) {
		args[n++] = strdup(value);
		check(args[n - 1] != NULL, "malloc");
	}
	if (value && conn)
		conn_values[(*nconn)++] = value;
	else
		free(value);
	return n;
}

static void
fuzz_argv(input *in)
{
	static const char *const names[] = {"copy", "listen", "notify", "recover", "frobnicate"};
	static const cli_optspec *const specs[] = {&cli_copy_optspec, &cli_listen_optspec, &cli_notify_optspec,
	                                           &cli_recover_optspec, NULL};
	unsigned which = next(in) % 5;
	char *args[MAX_ARGS + 2], *title[MAX_ARGS + 2], **copy;
	char *conn_values[MAX_ARGS];
	int n = 0, nconn = 0;

	args[n++] = strdup(names[which]);
	while (in->at < in->n && n < MAX_ARGS - 2) {
		switch (next(in) % 8) {
		case 0: args[n++] = fuzz_text(in, 30); break;
		case 1: args[n++] = strdup("--"); break;
		case 2: conn_values[nconn] = conninfo_with_secret(in); args[n++] = strdup(conn_values[nconn++]); break;
		default:
			if (specs[which])
				n = add_option(in, specs[which], args, n, conn_values, &nconn);
			else
				args[n++] = conninfo_with_secret(in);
			break;
		}
	}
	for (int i = 0; i < n; i++) {
		title[i] = strdup(args[i]);
		check(title[i] != NULL, "malloc");
	}
	title[n] = NULL;
	if (getenv("FUZZ_CLI_SHOW"))
		for (int i = 0; i < n; i++)
			fprintf(stderr, "fuzz_cli: argv[%d] = \"%s\"\n", i, args[i]);
	copy = cli_scrub_argv(n, title, specs[which]);
	check(copy != NULL, "scrub");
	for (int i = 0; i < n; i++) {
		check(strcmp(copy[i], args[i]) == 0, "the arguments handed to the command are the ones given");
		check(strlen(title[i]) == strlen(args[i]), "the process title keeps each argument's length");
		if (strstr(args[i], SENTINEL))
			check(strstr(title[i], SENTINEL) == NULL, "a password survives in the process title");
		free(copy[i]);
		free(title[i]);
		free(args[i]);
	}
	free(copy);
	for (int i = 0; i < nconn; i++) {
		char *masked = cli_mask_conninfo(conn_values[i]), *scrubbed = cli_scrub_text(conn_values[i]);
		int secret = 0, shown = 0;

		/* The sentinel is the password unless junk after it made the string invalid or set another one. */
		libpq_finds(conn_values[i], 0, &secret, &shown);
		check(masked && !strstr(masked, SENTINEL), "a password survives in a masked connection string");
		check(scrubbed != NULL, "scrub");
		if (secret && !shown)
			check_about(!strstr(scrubbed, SENTINEL), "a password survives in scrubbed text", conn_values[i]);
		free(masked);
		free(scrubbed);
		free(conn_values[i]);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	input in = {data, size, 0};

	if (size < 1)
		return 0;
	if (next(&in) & 1)
		fuzz_raw_conninfo(&in);
	else
		fuzz_argv(&in);
	cli_secrets_clear();
	return 0;
}
