/*
 * plan_int.h: private types of the copy plan (plan*.c), grouped under a
 * comment naming the file that defines them.  Kept out of internal.h so the
 * copy manager's private header does not grow with the plan's.
 */
#ifndef PGCM_PLAN_INT_H
#define PGCM_PLAN_INT_H

#include "internal.h"

/* The server's identifier limit: NAMEDATALEN - 1 bytes. */
#define PGCM__NAME_MAX 63
/* The first OID a user object can get (FirstNormalObjectId): below it, built in. */
#define PGCM__FIRST_USER_OID 16384u

/* Built-in type OIDs the plan treats specially (stable across versions). */
enum {
	PGCM__REGPROC = 24, PGCM__FLOAT4 = 700, PGCM__FLOAT8 = 701, PGCM__MONEY = 790,
	PGCM__BYTEA = 17, PGCM__DATE = 1082, PGCM__TIME = 1083, PGCM__TIMESTAMP = 1114,
	PGCM__TIMESTAMPTZ = 1184, PGCM__INTERVAL = 1186, PGCM__TIMETZ = 1266,
	PGCM__REGPROCEDURE = 2202, PGCM__REGOPER = 2203, PGCM__REGOPERATOR = 2204,
	PGCM__REGCLASS = 2205, PGCM__REGTYPE = 2206, PGCM__REGCONFIG = 3734,
	PGCM__REGDICTIONARY = 3769, PGCM__REGNAMESPACE = 4089, PGCM__REGROLE = 4096,
	PGCM__REGCOLLATION = 4191
};

/* ------------------------------------------------------------------------
 * plan_sql.c: growing strings, quoting, names as SQL reads them, CSV fields
 * ------------------------------------------------------------------------ */

/* A growing string.  Any failed append makes it failed; take() then gives NULL. */
typedef struct pgcm__buf {
	char *data;
	size_t len;
	size_t cap;
	int failed;
} pgcm__buf;

void pgcm__buf_add(pgcm__buf *b, const char *s);
void pgcm__buf_addn(pgcm__buf *b, const char *s, size_t n);
void pgcm__buf_addf(pgcm__buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* name quoted with PQescapeIdentifier / value with PQescapeLiteral on conn. */
void pgcm__buf_add_ident(pgcm__buf *b, PGconn *conn, const char *name);
void pgcm__buf_add_literal(pgcm__buf *b, PGconn *conn, const char *value);
/* The string (the caller frees it), or NULL when an append failed; b is reset. */
char *pgcm__buf_take(pgcm__buf *b);
void pgcm__buf_reset(pgcm__buf *b);

/* A list of names (identifier parts, list items, header fields). */
typedef struct pgcm__names {
	char **v;
	size_t n;
} pgcm__names;

void pgcm__names_free(pgcm__names *names);

/*
 * pgcm__parse_names: text as SQL reads a dotted name (sep '.') or a list
 * (sep ','): unquoted parts fold ASCII letters to lower case, as the server
 * does; quoted parts keep everything ("" is a quote).  At most max parts.
 * Returns NULL, or a static message on bad input, or "out of memory".
 */
const char *pgcm__parse_names(const char *text, char sep, size_t max, pgcm__names *out);

/*
 * pgcm__csv_fields: the fields of one CSV (or text) header line, unquoted as
 * COPY reads them with fmt's delimiter, quote and escape.  Returns NULL or a
 * static message.
 */
const char *pgcm__csv_fields(const char *line, size_t len, const pgcm_format *fmt,
                             pgcm__names *out);

/* ------------------------------------------------------------------------
 * plan_catalog.c: what one server's catalog and settings say
 * ------------------------------------------------------------------------ */

/* A column of a relation, a query's output, or a composite type's attribute. */
typedef struct pgcm__attr {
	char *name;
	unsigned type;
	int typmod;
	char *display;            /* format_type(type, typmod) */
	char generated;           /* pg_attribute.attgenerated: 's' or 0 */
	char identity;            /* pg_attribute.attidentity: 'a', 'd' or 0 */
	int notnull;
	int hasdef;
} pgcm__attr;

/* One pg_type row, with what comparing types needs. */
typedef struct pgcm__type {
	unsigned oid;
	char *nsp;
	char *name;
	char *display;            /* format_type(oid, NULL) */
	char typtype;             /* b c d e m p r */
	char category;            /* typcategory */
	unsigned elem;            /* a true array's element type, else 0 */
	unsigned base;            /* a domain's base type, else 0 */
	int base_typmod;
	unsigned subtype;         /* a range's (or multirange's) subtype, else 0 */
	int has_send;
	int has_recv;
	pgcm__names labels;       /* an enum's labels */
	pgcm__attr *attrs;        /* a composite's attributes */
	size_t nattrs;
} pgcm__type;

/* A server as the plan sees it: its version, settings and the types it loaded. */
typedef struct pgcm__server {
	PGconn *conn;
	int version;              /* server_version_num */
	char *datestyle;
	char *intervalstyle;
	int extra_float_digits;
	char *client_encoding;
	char *timezone;
	char *bytea_output;
	char *lc_monetary;
	char *money_sample;       /* -1234567.891 as money text: the lc_monetary format */
	char *database;
	pgcm__type **types;
	size_t ntypes;
	size_t cap;
	char *error;              /* the last failed query's message */
	int nomem;                /* an allocation failed while loading a type: the build fails */
} pgcm__server;

/* A resolved relation (or a query's output) and its columns. */
typedef struct pgcm__rel {
	char *nsp;
	char *name;
	char *display;            /* nsp.name, for people */
	char *qualified;          /* "nsp"."name", quoted by libpq */
	char relkind;             /* 'r' 'p' 'v' 'm' 'f' (a query: 0) */
	int has_children;         /* an inheritance parent */
	pgcm__attr *cols;
	size_t ncols;
} pgcm__rel;

/*
 * Each reader returns PGCM_OK, PGCM_ERR_NOMEM, or PGCM_ERR_SERVER with the
 * server's message in s->error.
 */
pgcm_status pgcm__server_read(pgcm__server *s, PGconn *conn);
void pgcm__server_free(pgcm__server *s);
/* Resolve a parsed name; *found = 0 when there is no such relation (visible). */
pgcm_status pgcm__rel_resolve(pgcm__server *s, const pgcm__names *name, pgcm__rel *rel, int *found);
pgcm_status pgcm__rel_columns(pgcm__server *s, pgcm__rel *rel, unsigned relid);
/* A query's output columns, described without running it. */
pgcm_status pgcm__query_columns(pgcm__server *s, const char *query, pgcm__rel *rel);
void pgcm__rel_free(pgcm__rel *rel);
/* The type oid (loaded on first use, with what it is made of); *out NULL if no such type. */
pgcm_status pgcm__type_get(pgcm__server *s, unsigned oid, const pgcm__type **out);
/* A type by schema and name; *oid 0 if none. */
pgcm_status pgcm__type_by_name(pgcm__server *s, const char *nsp, const char *name, unsigned *oid);
/* pg_cast's row for src -> dst: *context 'e', 'a', 'i', or 0 when none; *nargs of its function. */
pgcm_status pgcm__cast_find(pgcm__server *s, unsigned src, unsigned dst, char *context, int *nargs);

/* ------------------------------------------------------------------------
 * plan_types.c: how a value of one type on the source reaches a target type
 * ------------------------------------------------------------------------ */

/* One column's decision for one target. */
typedef struct pgcm__cell {
	pgcm_plan_conversion conv;
	char *expr;               /* the source's select expression (NULL: the column as is) */
	char *detail;             /* in words */
	int binary_ok;            /* binary COPY gives the same value */
	char *why_text;           /* when !binary_ok: why text, for the format reason */
	char *problem;            /* when REFUSED: why, naming both types and the target */
	const char *target_type;  /* borrowed from the target's column */
} pgcm__cell;

/* What pgcm__decide() needs to know about the column. */
typedef struct pgcm__column_ref {
	const char *name;         /* exact */
	const char *qname;        /* quoted, as the source's select list names it */
	const pgcm__attr *src;    /* the source column */
	const pgcm__attr *dst;    /* the target column */
	long target;              /* 0-based target index, for messages */
} pgcm__column_ref;

/*
 * pgcm__decide: how column ref reaches target dst from source src.  A
 * refusal is a cell (conv REFUSED, problem set), not an error.  Returns
 * PGCM_OK, PGCM_ERR_NOMEM, or PGCM_ERR_SERVER (a catalog query failed: its
 * server's error says which).
 */
pgcm_status pgcm__decide(pgcm__server *src, pgcm__server *dst, const pgcm__column_ref *ref,
                         pgcm__cell *out);
void pgcm__cell_free(pgcm__cell *c);

/*
 * pgcm__type_depends: 1 when a value of type oid on s (or anything it is made
 * of) is one of oids[0..n): the types whose text depends on a setting.
 */
int pgcm__type_depends(pgcm__server *s, unsigned oid, const unsigned *oids, size_t n);

/* ------------------------------------------------------------------------
 * plan.c (the object, its statements), plan_build.c (matching), plan_format.c
 * ------------------------------------------------------------------------ */

enum pgcm__source_kind { PGCM__SRC_NONE = 0, PGCM__SRC_TABLE, PGCM__SRC_QUERY, PGCM__SRC_STREAM };

/* A target as added, and what the build found for it. */
typedef struct pgcm__target {
	PGconn *conn;             /* NULL: a stream target */
	char *table;              /* as given; NULL: the source's name */
	pgcm__server server;
	int readable;             /* its catalog could be read */
	pgcm__rel rel;
	int found;                /* the relation was resolved */
	const pgcm__attr **cols;  /* per stream column: its column here (NULL: none) */
	pgcm__cell *cells;        /* per stream column: how it gets there */
	char *command;
} pgcm__target;

/* A column of the stream. */
typedef struct pgcm__column {
	char *name;               /* exact */
	char *qname;              /* quoted for the source's select list */
	const pgcm__attr *src;    /* the source's column (NULL: a stream source) */
	const char *expr;         /* the source's expression, shared by every target (NULL: as is) */
} pgcm__column;

/* A problem or a note, with the strings it owns. */
typedef struct pgcm__finding {
	pgcm_plan_finding pub;
	char *table;
	char *column;
	char *message;
} pgcm__finding;

struct pgcm_plan {
	int built;
	int nomem;                /* an allocation failed during the build */
	enum pgcm__source_kind src_kind;
	PGconn *src_conn;
	char *src_text;           /* the table's name or the query, as given */
	pgcm__server src;
	int src_readable;
	pgcm__rel src_rel;
	int src_found;
	char *columns;            /* the column list, as given */
	pgcm_format fmt;
	int automatic;
	char *null_string;
	char *encoding;
	char *header;             /* a stream source's header line */
	size_t header_len;
	int header_set;
	int header_match_targets;
	pgcm__target *targets;
	size_t ntargets;
	/* What the build decided. */
	pgcm__column *cols;
	size_t ncols;
	pgcm_format_kind kind;
	char *reason;
	char *select_list;        /* the source's select list, for a COPY (SELECT ...) */
	char *from;               /* what the source's SELECT reads: ONLY "s"."t", "s"."v", (query) */
	char *source_with;        /* the source's WITH list */
	char *source_command;
	pgcm__finding *problems;
	size_t nproblems;
	pgcm__finding *notes;
	size_t nnotes;
	char *errmsg;
};

/* plan.c: record a problem (or a note) about target (-1: source), table and column. */
void pgcm__plan_problem(pgcm_plan *p, long target, const char *table, const char *column,
                        const char *fmt, ...) __attribute__((format(printf, 5, 6)));
void pgcm__plan_note(pgcm_plan *p, long target, const char *table, const char *column,
                     const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* plan.c: write the COPY statements of the source and of every target. */
pgcm_status pgcm__plan_commands(pgcm_plan *p);
/* plan_build.c: resolve, match, decide; returns PGCM_OK or PGCM_ERR_NOMEM. */
pgcm_status pgcm__plan_decide(pgcm_plan *p);
/* plan_build.c: the table the plan is about ("s.t"), for messages. */
const char *pgcm__plan_table(const pgcm_plan *p);
/* plan_build.c: "source" or "target N" (1-based) for messages, written into buf. */
const char *pgcm__plan_endpoint(long target, char *buf, size_t size);
/* plan_build.c: rel's column of that exact name, or NULL. */
const pgcm__attr *pgcm__rel_find(const pgcm__rel *rel, const char *name);
/* plan_build.c: the first server target whose table was found (it shapes a stream source's columns). */
const pgcm__target *pgcm__plan_first_target(const pgcm_plan *p);
/* plan_format.c: the checks and the format; each returns PGCM_OK or PGCM_ERR_NOMEM. */
pgcm_status pgcm__plan_check_header(pgcm_plan *p);
pgcm_status pgcm__plan_choose_format(pgcm_plan *p);
void pgcm__plan_check_settings(pgcm_plan *p);

#endif /* PGCM_PLAN_INT_H */
