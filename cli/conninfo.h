/*
 * conninfo.h: connection strings as the command reads, uses and shows them.
 *
 * libpq expands a connection string or URI given as the dbname of a
 * keyword/value call only at the top level: "dbname=postgresql://u:pw@h/db"
 * reaches the server as a database name, password and all (and the server's
 * "database does not exist" error and log line repeat it).  The command
 * therefore expands a dbname that is itself a connection string or URI in
 * its place, at any depth, before it connects or shows anything: its
 * settings override the ones around it, and its password is a password.
 */
#ifndef PGCM_CLI_CONNINFO_H
#define PGCM_CLI_CONNINFO_H

#include <stddef.h>

/* A connection string parsed and expanded: each keyword once, in first-seen order. */
typedef struct cli_conninfo {
	size_t n;
	char **keys;      /* n keywords, then NULL (the layout PQconnectdbParams takes) */
	char **vals;      /* n values, then NULL */
	int *secret;      /* n flags: libpq marks the keyword secret (password, sslpassword, ...) */
} cli_conninfo;

/*
 * cli_conninfo_parse: parse conninfo ("" or NULL: no settings, the PG*
 * environment applies; a word without '=' that is not a URI: a database
 * name, as libpq takes it) into *ci, expanding dbname.  Returns 1; or 0 with
 * *err (malloc'd, holds no value from conninfo; free it) when conninfo is not
 * a valid connection string or URI, or when out of memory.  Free *ci with
 * cli_conninfo_free() either way.
 */
int cli_conninfo_parse(const char *conninfo, cli_conninfo *ci, char **err);

/* cli_conninfo_free: free what cli_conninfo_parse() filled in; *ci is empty again. */
void cli_conninfo_free(cli_conninfo *ci);

/*
 * cli_conninfo_set: keyword key = val (copied) in ci, replacing an earlier
 * value; secret marks it to be masked.  Returns 1, or 0 when out of memory.
 */
int cli_conninfo_set(cli_conninfo *ci, const char *key, const char *val, int secret);

/* cli_conninfo_get: ci's value of key (borrowed), NULL when unset. */
const char *cli_conninfo_get(const cli_conninfo *ci, const char *key);

/*
 * cli_conninfo_render: ci as one keyword=value connection string, values
 * quoted where needed, secrets included (for an API that takes a string).
 * malloc'd; NULL when out of memory.
 */
char *cli_conninfo_render(const cli_conninfo *ci);

/* cli_conninfo_like: s is meant as a connection string or URI (libpq's own test: a URI prefix or an '='). */
int cli_conninfo_like(const char *s);

/*
 * cli_mask_conninfo: conninfo as the command shows it: expanded, every
 * secret value replaced by "********", values quoted where needed;
 * "(defaults)" when it sets nothing, "(invalid connection string)" when it
 * cannot be parsed (nothing of it is shown: it may hold a password).
 * malloc'd; NULL when out of memory.
 */
char *cli_mask_conninfo(const char *conninfo);

/*
 * cli_expand_conninfo: conninfo expanded (as cli_conninfo_parse) and written
 * back as one keyword=value connection string, secrets included, for an API
 * that takes a string (the listener); "" for no settings.  malloc'd; NULL
 * with *err (malloc'd, holds no value from conninfo) on a malformed string or
 * out of memory.
 */
char *cli_expand_conninfo(const char *conninfo, char **err);

/*
 * cli_conninfo_without_secrets: conninfo expanded (as cli_conninfo_parse)
 * and written back with every secret keyword left out (not masked), at any
 * dbname depth, so that it can be kept on disk (the state directory) and
 * still connects when the secret comes from PGPASSWORD or ~/.pgpass; "" for
 * no settings.  malloc'd; NULL with *err (malloc'd, holds no value from
 * conninfo) on a malformed string or out of memory.
 */
char *cli_conninfo_without_secrets(const char *conninfo, char **err);

#endif
