/*
 * common.c: helpers shared by the subcommands: connecting, masking secrets,
 * JSON strings, signals.
 */
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

volatile int cli_interrupted;

void
cli_error(const char *fmt, ...)
{
	va_list ap;

	fputs("pgcopyman: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* on_signal: remember the signal; the loops poll the flag and abort cleanly. */
static void
on_signal(int sig)
{
	cli_interrupted = sig;
}

void
cli_catch_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

/* quiet_notice: the CLI reports server notices only through its own messages. */
static void
quiet_notice(void *arg, const char *message)
{
	(void) arg;
	(void) message;
}

/*
 * is_secret: libpq knows which keywords are secret: PQconndefaults() marks
 * them with dispchar "*" (password, sslpassword, ...).
 */
static int
is_secret(const PQconninfoOption *defaults, const char *keyword)
{
	for (const PQconninfoOption *o = defaults; o && o->keyword; o++)
		if (strcmp(o->keyword, keyword) == 0)
			return o->dispchar && strchr(o->dispchar, '*') != NULL;
	return 0;
}

/* append: grow a malloc'd string; returns 0 when out of memory. */
static int
append(char **s, size_t *len, size_t *cap, const char *add)
{
	size_t n = strlen(add);

	if (*len + n + 1 > *cap) {
		size_t ncap = (*cap ? *cap * 2 : 128) + n;
		char *p = realloc(*s, ncap);
		if (!p)
			return 0;
		*s = p;
		*cap = ncap;
	}
	memcpy(*s + *len, add, n + 1);
	*len += n;
	return 1;
}

/*
 * render_conninfo: conninfo parsed by libpq and written back as key=value
 * pairs.  Secret values (password and the other keywords libpq marks
 * secret) are shown as "********" when mask, and left out altogether
 * otherwise, so that the result is still a working connection string.
 */
static char *
render_conninfo(const char *conninfo, int mask)
{
	PQconninfoOption *opts, *defaults;
	char *err = NULL, *out = NULL;
	size_t len = 0, cap = 0;
	int ok = 1;

	opts = PQconninfoParse(conninfo ? conninfo : "", &err);
	if (!opts) {
		/* Unparsable: show nothing of it, it may hold a password. */
		PQfreemem(err);
		return mask ? strdup("(invalid connection string)") : NULL;
	}
	defaults = PQconndefaults();
	for (PQconninfoOption *o = opts; o->keyword && ok; o++) {
		const char *val = o->val;
		int secret = is_secret(defaults, o->keyword) || strcmp(o->keyword, "password") == 0;
		if (!val || !*val || (secret && !mask))
			continue;
		if (len && !append(&out, &len, &cap, " "))
			ok = 0;
		ok = ok && append(&out, &len, &cap, o->keyword) && append(&out, &len, &cap, "=");
		if (secret) {
			ok = ok && append(&out, &len, &cap, "********");
		} else {
			int quote = strpbrk(val, " '\\") != NULL;
			ok = ok && (!quote || append(&out, &len, &cap, "'"));
			for (const char *v = val; *v && ok; v++) {
				char one[3] = {0};
				if (*v == '\'' || *v == '\\')
					one[0] = '\\', one[1] = *v;
				else
					one[0] = *v;
				ok = append(&out, &len, &cap, one);
			}
			ok = ok && (!quote || append(&out, &len, &cap, "'"));
		}
	}
	PQconninfoFree(opts);
	PQconninfoFree(defaults);
	if (!ok) {
		free(out);
		return NULL;
	}
	return out ? out : strdup(mask ? "(defaults)" : "");
}

char *
cli_mask_conninfo(const char *conninfo)
{
	return render_conninfo(conninfo, 1);
}

char *
cli_conninfo_without_secrets(const char *conninfo)
{
	return render_conninfo(conninfo, 0);
}

char *
cli_strdup_printf(const char *fmt, ...)
{
	va_list ap;
	int n;
	char *s;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || !(s = malloc((size_t) n + 1)))
		return NULL;
	va_start(ap, fmt);
	vsnprintf(s, (size_t) n + 1, fmt, ap);
	va_end(ap);
	return s;
}

PGconn *
cli_connect(const char *conninfo)
{
	/*
	 * Defaults come before dbname: with expand_dbname=1 the connection
	 * string or URI in dbname is expanded in its place, and what it sets
	 * overrides them.  Keepalives notice a silently dead peer in about a
	 * minute instead of the system's two hours.
	 */
	const char *keys[] = {"keepalives", "keepalives_idle", "keepalives_interval",
	                      "keepalives_count", "dbname", "fallback_application_name", NULL};
	const char *vals[] = {"1", "30", "10", "3", conninfo ? conninfo : "", "pgcopyman", NULL};
	PGconn *conn;

	conn = PQconnectdbParams(keys, vals, 1);
	if (!conn) {
		cli_error("out of memory");
		return NULL;
	}
	if (PQstatus(conn) != CONNECTION_OK) {
		char *masked = cli_mask_conninfo(conninfo);
		char *msg = strdup(PQerrorMessage(conn));
		size_t n = msg ? strlen(msg) : 0;
		while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == ' '))
			msg[--n] = '\0';
		cli_error("cannot connect to \"%s\": %s", masked ? masked : "?", msg ? msg : "");
		free(msg);
		free(masked);
		PQfinish(conn);
		return NULL;
	}
	PQsetNoticeProcessor(conn, quiet_notice, NULL);
	return conn;
}

void
cli_json_string(FILE *f, const char *s)
{
	fputc('"', f);
	for (const unsigned char *p = (const unsigned char *) (s ? s : ""); *p; p++) {
		switch (*p) {
		case '"': fputs("\\\"", f); break;
		case '\\': fputs("\\\\", f); break;
		case '\n': fputs("\\n", f); break;
		case '\r': fputs("\\r", f); break;
		case '\t': fputs("\\t", f); break;
		case '\b': fputs("\\b", f); break;
		case '\f': fputs("\\f", f); break;
		default:
			if (*p < 0x20)
				fprintf(f, "\\u%04x", *p);
			else
				fputc(*p, f);
		}
	}
	fputc('"', f);
}

/*
 * cli_scrub_argv: the process title (ps, /proc/PID/cmdline) shows argv; a
 * connection string given on the command line may hold a password.  Each
 * value of --from, --to and --conn is copied for the program to use, then
 * overwritten in place with its masked form, so no secret stays visible.
 * Returns the copy of argv (malloc'd, for the rest of the run), or NULL.
 */
char **
cli_scrub_argv(int argc, char **argv)
{
	char **copy = calloc((size_t) argc + 1, sizeof *copy);

	if (!copy)
		return NULL;
	for (int i = 0; i < argc; i++) {
		copy[i] = strdup(argv[i]);
		if (!copy[i]) {
			while (i-- > 0)
				free(copy[i]);
			free(copy);
			return NULL;
		}
	}
	for (int i = 1; i < argc; i++) {
		const char *opts[] = {"--from", "--to", "--conn", NULL};
		char *value = NULL;
		for (int k = 0; opts[k]; k++) {
			size_t n = strlen(opts[k]);
			if (strcmp(argv[i - 1], opts[k]) == 0)
				value = argv[i];
			else if (strncmp(argv[i], opts[k], n) == 0 && argv[i][n] == '=')
				value = argv[i] + n + 1;
		}
		if (value && strcmp(value, "-") != 0 && strncmp(value, "file:", 5) != 0) {
			char *masked = cli_mask_conninfo(value);
			size_t room = strlen(value);
			if (masked && strlen(masked) <= room) {
				memset(value, ' ', room);
				memcpy(value, masked, strlen(masked));
			} else {
				memset(value, '*', room);
			}
			free(masked);
		}
	}
	return copy;
}
