/*
 * defer_indexes.h: a replaced table's index work, deferred to the end of its
 * load (defer_indexes.c).  After the TRUNCATE, in the load's transaction, the
 * table's indexes, the constraints that own an index (primary key, unique,
 * exclusion) and the foreign keys that would be checked row by row are read
 * from the catalog as the server itself writes them (pg_get_indexdef,
 * pg_get_constraintdef, obj_description ...), then dropped; after the COPY
 * they are re-created, in the same transaction, and the table's definition
 * is compared with what it was.  Uses libpq and nothing of the command.
 */
#ifndef PGCM_CLI_DEFER_INDEXES_H
#define PGCM_CLI_DEFER_INDEXES_H

#include <stddef.h>

#include <libpq-fe.h>

/* One index, constraint or foreign key the load defers. */
typedef struct defer_object {
	char *name;           /* the index's or the constraint's name (unquoted, as in the catalog) */
	char *kind;           /* "index", "primary key", "unique constraint", "exclusion constraint",
	                         "foreign key" */
	char *drop_sql;       /* drops it */
	char **create_sql;    /* re-create it exactly: tablespace, definition, constraint, CLUSTER ON,
	                         REPLICA IDENTITY, comments, statistics targets; in order */
	size_t ncreate;
	double seconds;       /* how long re-creating it took (set by the caller) */
} defer_object;

/* An index or a foreign key left in place, and why. */
typedef struct defer_kept {
	char *name;
	char *why;
} defer_kept;

/* What the load of one table defers. */
typedef struct deferral {
	char *table;          /* the table, schema-qualified and quoted (the server's format('%I.%I')) */
	int freeze;           /* the table takes COPY FREEZE (a plain table) */
	char *reason;         /* why nothing is deferred, or NULL */
	defer_object *objects;  /* re-created in this order (indexes, then foreign keys), dropped in reverse */
	size_t nobjects;
	defer_kept *kept;
	size_t nkept;
	char *fingerprint;    /* the table's index and constraint definitions, before */
} deferral;

/*
 * defer_inspect: read what the load of table (a quoted name, as regclass
 * reads it) on conn can defer, in conn's transaction, right after the
 * TRUNCATE.  fkeys_to_others: also defer the foreign keys that reference
 * other tables (re-adding one locks the referenced table until the commit);
 * those that reference the table itself always are.  Nothing is deferred, and
 * d->reason says why, for a partitioned table, a table the user does not own,
 * a partition whose indexes belong to its parent's, or an index something else
 * needs.  Returns 1 with *out set (free with defer_free), or 0 with err filled
 * (a query failed: the transaction is aborted).
 */
int defer_inspect(PGconn *conn, const char *table, int fkeys_to_others, deferral **out, char *err,
                  size_t errlen);

/* defer_drop: drop every deferred object (foreign keys first).  1, or 0 with err filled. */
int defer_drop(PGconn *conn, const deferral *d, char *err, size_t errlen);

/*
 * defer_verify: after the re-creation, the table's index and constraint
 * definitions must be what they were before the drop, byte for byte.
 * Returns 1 when they are; 0 with err saying the first difference (or the
 * query's error).
 */
int defer_verify(PGconn *conn, const deferral *d, char *err, size_t errlen);

/* defer_count: how many deferred objects are of kind "foreign key" (fkeys 1) or not (0). */
size_t defer_count(const deferral *d, int fkeys);

/* defer_free: free d (NULL is fine). */
void defer_free(deferral *d);

#endif
