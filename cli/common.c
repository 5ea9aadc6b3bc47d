/*
 * common.c: helpers shared by the subcommands: messages, connecting, JSON
 * strings, signals.
 */
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pgcopyman.h"
#include "cli.h"

volatile int cli_interrupted;

/* put_line: prefix and the formatted line on f, with every known secret masked. */
static void
put_line(FILE *f, const char *prefix, const char *fmt, va_list ap)
{
	char *msg = cli_strdup_vprintf(fmt, ap), *safe = msg ? cli_scrub_text(msg) : NULL;

	fprintf(f, "%s%s\n", prefix, safe ? safe : "out of memory (while writing a message)");
	fflush(f);
	free(safe);
	free(msg);
}

void
cli_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	put_line(stderr, "pgcopyman: ", fmt, ap);
	va_end(ap);
}

void
cli_out(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	put_line(stdout, "", fmt, ap);
	va_end(ap);
}

double
cli_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

int
cli_usage_hint(const char *command)
{
	fprintf(stderr, "Try \"pgcopyman%s%s --help\" for more information.\n", command ? " " : "",
	        command ? command : "");
	return EXIT_USAGE;
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
 * connect_params: the keyword/value arrays for PQconnectdbParams: our
 * defaults first, then the user's expanded settings, which override them
 * (later entries win).  Keepalives notice a silently dead peer in about a
 * minute instead of the system's two hours.
 */
static int
connect_params(const cli_conninfo *ci, const char ***keys, const char ***vals)
{
	static const char *const dkeys[] = {"keepalives", "keepalives_idle", "keepalives_interval",
	                                    "keepalives_count", "fallback_application_name"};
	static const char *const dvals[] = {"1", "30", "10", "3", "pgcopyman"};
	size_t nd = sizeof dkeys / sizeof dkeys[0], n = nd + ci->n;

	*keys = calloc(n + 1, sizeof **keys);
	*vals = calloc(n + 1, sizeof **vals);
	if (!*keys || !*vals)
		return 0;
	for (size_t i = 0; i < nd; i++) {
		(*keys)[i] = dkeys[i];
		(*vals)[i] = dvals[i];
	}
	for (size_t i = 0; i < ci->n; i++) {
		(*keys)[nd + i] = ci->keys[i];
		(*vals)[nd + i] = ci->vals[i];
	}
	return 1;
}

/* connect_reporting: cli_connect, saying why it failed only when report is 1. */
static PGconn *
connect_reporting(const char *conninfo, int report)
{
	cli_conninfo ci;
	const char **keys = NULL, **vals = NULL, *hint = NULL;
	char *err = NULL, *masked = NULL, *msg = NULL;
	PGconn *conn = NULL;

	if (!cli_conninfo_parse(conninfo, &ci, &err)) {
		if (report)
			cli_error("cannot connect: %s", err ? err : "out of memory");
		goto cleanup;
	}
	if (!connect_params(&ci, &keys, &vals)) {
		if (report)
			cli_error("out of memory");
		goto cleanup;
	}
	/* dbname is expanded already: libpq must not take a second look at it (expand_dbname 0). */
	conn = cli_password_connect(&ci, keys, vals, &hint);
	if (!conn) {
		if (report)
			cli_error("out of memory");
		goto cleanup;
	}
	if (PQstatus(conn) != CONNECTION_OK) {
		size_t n;

		masked = cli_mask_conninfo(conninfo);
		msg = strdup(PQerrorMessage(conn));
		n = msg ? strlen(msg) : 0;
		while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == ' '))
			msg[--n] = '\0';
		if (report)
			cli_error("cannot connect to \"%s\": %s%s%s", masked ? masked : "?", msg ? msg : "",
			          hint ? "; " : "", hint ? hint : "");
		PQfinish(conn);
		conn = NULL;
		goto cleanup;
	}
	PQsetNoticeProcessor(conn, quiet_notice, NULL);
cleanup:
	free(keys);
	free(vals);
	free(err);
	free(masked);
	free(msg);
	cli_conninfo_free(&ci);
	return conn;
}

PGconn *
cli_connect(const char *conninfo)
{
	return connect_reporting(conninfo, 1);
}

PGconn *
cli_connect_quietly(const char *conninfo)
{
	return connect_reporting(conninfo, 0);
}

PGconn *
cli_connect_pinned(const char *conninfo, const char *label)
{
	PGconn *conn = cli_connect(conninfo);
	PGresult *res;
	char err[512];

	if (conn && pgcm_session_pin(conn, "UTF8", err, sizeof err) != PGCM_OK) {
		cli_error("%s: %s", label, err);
		PQfinish(conn);
		return NULL;
	}
	if (!conn)
		return NULL;
	res = PQexec(conn, "SET statement_timeout = 0; SET lock_timeout = 0; "
	                   "SET idle_in_transaction_session_timeout = 0");
	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		const char *msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
		cli_error("%s: cannot set the session's timeouts: %s", label, msg ? msg : PQerrorMessage(conn));
		PQclear(res);
		PQfinish(conn);
		return NULL;
	}
	PQclear(res);
	return conn;
}

void
cli_json_string(FILE *f, const char *s)
{
	char *safe = cli_scrub_text(s);

	fputc('"', f);
	for (const unsigned char *p = (const unsigned char *) (safe ? safe : "(out of memory)"); *p; p++) {
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
	free(safe);
}
