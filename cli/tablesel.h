/*
 * tablesel.h: which tables a command works on, chosen as pg_dump chooses
 * them: -t/--table, -n/--schema, -T/--exclude-table, -N/--exclude-schema,
 * each repeatable, each a pattern as psql and pg_dump read it, resolved on
 * the source server's catalog.
 *
 * Patterns (psql's "Patterns"): unquoted, ASCII letters fold to lower case,
 * `*` matches any sequence of characters and `?` any one character, other
 * regular-expression characters keep their meaning (`[0-9]`), `$` is
 * literal, and an unquoted `.` separates the schema from the name (a third
 * part before them names the database, which must be the one connected to).
 * Inside double quotes everything is literal and keeps its case (`""` is a
 * quote).  Each part must match a whole name.  A table pattern without a
 * schema part matches only tables visible in the session's search_path.
 *
 * What is selected, as pg_dump selects it:
 *   - with -t: the tables that match a -t pattern and no -T pattern (-n and
 *     -N do not apply, as in pg_dump);
 *   - else with -n: the tables of the schemas that match a -n pattern and no
 *     -N pattern, except those matching a -T pattern;
 *   - else every table of every schema not matching -N, except -T.
 * Only ordinary and partitioned tables are selected (views, materialized
 * views, foreign tables and sequences hold no rows of their own here), and,
 * as in pg_dump, never a table that belongs to an extension.  Unlike
 * pg_dump, never a table of a system schema (pg_catalog, information_schema,
 * pg_toast, temporary schemas) even when named, nor a temporary table: their
 * rows are each server's own.  A partitioned table stands for all its
 * partitions (its rows are read through it, and a target may partition them
 * differently): its partitions, if selected too, are folded into it
 * (`covered_by`), and excluding one of them while it is selected is an
 * error.  An inheritance parent and its children are separate tables, each
 * with its own rows.
 *
 * Strict names: a -t or -n pattern without wildcards that matches no table
 * (or schema) is an error naming it, and why when it names something that is
 * not a table (a view, a system catalog, ...); a pattern with wildcards
 * that matches nothing is a warning; an empty selection is an error.
 */
#ifndef PGCM_CLI_TABLESEL_H
#define PGCM_CLI_TABLESEL_H

#include <stddef.h>

#include <libpq-fe.h>

enum tablesel_kind {
	TABLESEL_TABLE,           /* -t: include tables */
	TABLESEL_SCHEMA,          /* -n: include schemas */
	TABLESEL_EXCLUDE_TABLE,   /* -T */
	TABLESEL_EXCLUDE_SCHEMA   /* -N */
};

/* One pattern, translated. */
typedef struct tablesel_pattern {
	enum tablesel_kind kind;
	char *text;         /* as given */
	char *database;     /* the database part, as a name (NULL: none) */
	char *schema_re;    /* the schema part as an anchored regular expression; NULL: a table
	                       pattern without a schema (visible in search_path), or a schema pattern */
	char *name_re;      /* the table (or, for -n/-N, schema) part, anchored: "^(...)$" */
	int literal;        /* no wildcard or regular-expression operator outside quotes */
} tablesel_pattern;

/* One selected table. */
typedef struct tablesel_table {
	char *schema;       /* exact names */
	char *name;
	char *qualified;    /* "s.t" for people, each part quoted only where SQL needs it */
	unsigned oid;       /* pg_class.oid on the source */
	char relkind;       /* 'r' or 'p' */
	long covered_by;    /* -1, or the index of the selected partitioned table whose rows include these */
} tablesel_table;

/* The selection: patterns in, tables out (sorted by schema, then name, bytewise; no duplicates). */
typedef struct tablesel {
	tablesel_pattern *patterns;
	size_t npatterns;
	tablesel_table *tables;
	size_t ntables;
	char **warnings;    /* patterns with wildcards that matched nothing, as messages */
	size_t nwarnings;
} tablesel;

/*
 * tablesel_pattern_parse: text as a pattern of kind (see the top).  Returns
 * 1 with *out filled (free with tablesel_pattern_clear), or 0 with *err
 * (malloc'd; NULL when out of memory) for a name with too many dotted parts
 * or an unterminated quote.
 */
int tablesel_pattern_parse(enum tablesel_kind kind, const char *text, tablesel_pattern *out,
                           char **err);
void tablesel_pattern_clear(tablesel_pattern *p);

/* tablesel_init: an empty selection (every table).  tablesel_free: release it; empty again. */
void tablesel_init(tablesel *s);
void tablesel_free(tablesel *s);

/* tablesel_add: add a pattern (parsed now).  Returns 1, or 0 with *err as tablesel_pattern_parse. */
int tablesel_add(tablesel *s, enum tablesel_kind kind, const char *text, char **err);

/*
 * tablesel_resolve: find the tables on conn (the source; idle or in the
 * caller's transaction; its search_path decides visibility) and fill
 * s->tables and s->warnings (replacing earlier ones).  Runs ordinary
 * blocking queries; writes nothing.  Returns 1; or 0 with *err (malloc'd;
 * NULL when out of memory): a strict name that matched nothing, a pattern
 * naming another database, an excluded partition of a selected partitioned
 * table, an empty selection, or the server's error.
 */
int tablesel_resolve(tablesel *s, PGconn *conn, char **err);

/* tablesel_units: how many selected tables are not covered by another (the ones to work on). */
size_t tablesel_units(const tablesel *s);

#endif
