/*
 * cli.h: the pgcopyman command's subcommands and shared helpers.  The
 * command uses only the library's public header.
 */
#ifndef PGCM_CLI_H
#define PGCM_CLI_H

#include <stdio.h>

#include <libpq-fe.h>

#include "conninfo.h"
#include "password.h"
#include "secrets.h"
#include "strbuf.h"

/* Exit statuses (named, as pgcopydb's defaults.h does). */
enum cli_exit {
	EXIT_LOADED = 0,        /* every target loaded */
	EXIT_FAILED = 1,        /* nothing loaded: aborted, source failed, every target faulted */
	EXIT_USAGE = 2,         /* usage error */
	EXIT_PARTIAL = 3,       /* some targets faulted, the others loaded */
	EXIT_UNKNOWN = 4,       /* the outcome on some target is unknown (its report says what to check) */
	EXIT_VERIFY = 5         /* every target loaded, but --verify found one not the same as the source */
};

int cli_copy(int argc, char **argv);
int cli_listen(int argc, char **argv);
int cli_notify(int argc, char **argv);
int cli_recover(int argc, char **argv);
int cli_compare(int argc, char **argv);

/* Each subcommand's getopt tables (copy_options.c, cmd_listen.c, cmd_notify.c, cmd_recover.c, cmd_compare.c). */
extern const cli_optspec cli_copy_optspec;
extern const cli_optspec cli_listen_optspec;
extern const cli_optspec cli_notify_optspec;
extern const cli_optspec cli_recover_optspec;
extern const cli_optspec cli_compare_optspec;

/* Print msg to stderr as "pgcopyman: msg", with every known secret masked (cli_scrub_text). */
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* cli_out: print msg and a newline to stdout (flushed), with every known secret masked. */
void cli_out(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * cli_connect: connect with conninfo (a connection string, a URI, or "" for
 * the PG* environment; a dbname that is itself one is expanded, see
 * conninfo.h), adding application_name=pgcopyman unless set, and asking for
 * a password as password.h says.  On failure returns NULL and prints an
 * error naming the masked target.
 */
PGconn *cli_connect(const char *conninfo);
/* cli_connect_quietly: cli_connect for a helper session (a lock monitor): NULL on failure, nothing printed. */
PGconn *cli_connect_quietly(const char *conninfo);

/*
 * cli_usage_hint: after a usage error, point at the help as psql and pg_dump
 * do: 'Try "pgcopyman COMMAND --help" for more information.' on stderr
 * (command NULL: the top-level help).  Returns EXIT_USAGE.
 */
int cli_usage_hint(const char *command);

/* cli_now: seconds on the monotonic clock (never jumps with the wall clock). */
double cli_now(void);

/*
 * cli_connect_pinned: cli_connect, then the session pinned as pg_dump pins
 * its own (pgcm_session_pin: DateStyle ISO, IntervalStyle postgres,
 * extra_float_digits 3, client_encoding UTF8, ...), so that text data means
 * the same on every side, and the server's timeouts meant for interactive
 * sessions (statement, lock, idle in transaction) off: a copy or a
 * comparison may run for hours.  label names it in errors.  NULL (printed)
 * on failure.
 */
PGconn *cli_connect_pinned(const char *conninfo, const char *label);

/* Write s as a JSON string (quotes and escapes included, known secrets masked) to f. */
void cli_json_string(FILE *f, const char *s);

/* Install SIGINT/SIGTERM handlers that set the flag cli_interrupted. */
void cli_catch_signals(void);
extern volatile int cli_interrupted;  /* the signal number, 0 if none */

/*
 * cli_quote_name: a possibly schema-qualified name ("s.t", "\"My S\".t") as
 * SQL reads it (unquoted parts fold to lower case), each part quoted with
 * PQescapeIdentifier.  malloc'd; NULL with *err set (static) on bad input.
 */
char *cli_quote_name(PGconn *conn, const char *name, const char **err);

/* cli_quote_columns: "a, B ,\"c d\"" as "(\"a\", \"b\", \"c d\")"; malloc'd, NULL on bad input. */
char *cli_quote_columns(PGconn *conn, const char *list, const char **err);

/*
 * cli_split_source: make conns[0..jobs) (connected, idle) read one relation
 * under one snapshot, and give each a range of it: where[j] (malloc'd) is a
 * condition on ctid pages, or on the integer column qkey (quoted) when given.
 * qtable is the relation's quoted name (for its size), qrel what a query
 * reads (ONLY "s"."t" for a table: its own rows), relkind its pg_class.relkind
 * (a view or foreign table has no pages: it needs qkey).  Every row falls in
 * exactly one range.  Returns 1, or 0 with *err (malloc'd, NULL when out of
 * memory; free it).
 */
int cli_split_source(PGconn **conns, int jobs, const char *qtable, const char *qrel, char relkind,
                     const char *qkey, char **where, char **err);

/*
 * cli_query_strip (sqltext.c): query without the ';' and the white space
 * and comments after its last token, for COPY (query) TO STDOUT; a ';' or
 * comment inside a string, quoted name or dollar quote stays.  malloc'd; NULL
 * with *err (static) when the query is empty, holds a second statement, or
 * memory runs out.
 */
char *cli_query_strip(const char *query, const char **err);

#endif
