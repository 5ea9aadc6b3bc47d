/*
 * compare.h: is a table on a target the same as on the source?  The engine
 * of `pgcopyman compare` (cmd_compare.c), also meant for `copy --verify`.
 *
 * What "the same" means: the target holds exactly the rows a copy of the
 * source table would hold now.  Columns are matched by name through the copy
 * plan (pgcm_plan_*), and each value is compared as the target stores it:
 * the source computes, for every row, the text of each column as the
 * target's column type prints it -- the plan's own conversion (the cast
 * INSERT ... SELECT uses, AT TIME ZONE, names for reg* values), then the
 * target's type with its type modifier -- and the target prints its column.
 * So a numeric copied to a float8 column is the same when the target holds
 * the float8 nearest the numeric, which is what the copy stores; a
 * numeric(10,3) copied to numeric(10,1) is the same when rounded.  A value
 * too long for the target's varchar(n), char(n), bit(n) or varbit(n), which
 * a copy refuses, is never the same.  Sessions are pinned (pgcm_session_pin)
 * and the source reads in the target's TimeZone, so the text means the same
 * on both sides.  Columns the target has and the source lacks, and columns
 * the target generates, are not compared (a copy leaves them to the target).
 *
 * How: first the row count and a checksum of the whole table, computed on
 * the servers (a sum of a 64-bit hash of each row's text; hashtextextended
 * when both servers agree on it, else the first 64 bits of md5 of the
 * UTF-8 text).  When they differ, the rows are split into ranges of the key
 * (the primary key, else a unique index on NOT NULL columns, else the whole
 * row), each range counted and summed on both sides at once, and the first
 * range that differs is split again, down to a few hundred rows, whose keys
 * are then compared one by one: the first differing key is reported, and
 * for a changed row the columns that differ.  A key of built-in types that
 * the plan copies as they are is compared in its own order (strings in
 * byte order: COLLATE "C"), on the key's index where it has one; any other
 * key, and the whole row, in the byte order of its UTF-8 text.
 *
 * Transactions: the caller begins them (compare_begin_source,
 * compare_begin_target) so that every table is read under one snapshot of
 * the source and one consistent view of each target; each table's work runs
 * inside a savepoint, so that a server error fails that table and target
 * only.  Nothing is written anywhere.
 */
#ifndef PGCM_CLI_COMPARE_H
#define PGCM_CLI_COMPARE_H

#include <stddef.h>

#include <libpq-fe.h>

enum compare_status {
	COMPARE_SAME,
	COMPARE_DIFFERS,
	COMPARE_ERROR             /* it could not be compared (the message says why) */
};

/* Where a target first differs. */
enum compare_kind {
	DIFF_NONE,
	DIFF_TABLE,               /* the target has no such table, or its columns cannot hold the source's */
	DIFF_MISSING,             /* a key of the source is not on the target */
	DIFF_EXTRA,               /* a key of the target is not on the source */
	DIFF_CHANGED,             /* the same key, other values */
	DIFF_COPIES,              /* the same key (or row), another number of rows */
	DIFF_NULL_KEY,            /* the target has rows whose key is NULL */
	DIFF_UNLOCATED            /* the checksums differ, but no range did (the data changed meanwhile?) */
};

/* The outcome for one table on one target. */
typedef struct compare_result {
	enum compare_status status;
	enum compare_kind kind;
	long long source_rows;    /* -1: not counted */
	long long target_rows;
	long long source_copies;  /* DIFF_COPIES: rows with that key on each side */
	long long target_copies;
	char *key;                /* the first differing key, e.g. "id=42", "(a, b)=(1,x)", "row (1,x)"; or NULL */
	char *columns;            /* DIFF_CHANGED: the columns that differ, "amount, note"; or NULL */
	char *message;            /* the whole outcome in one line (also for errors) */
	double seconds;
} compare_result;

/* What is compared: one source table against the same table on each target. */
typedef struct compare_request {
	const char *schema;       /* the source table's exact schema and name */
	const char *name;
	const char *display;      /* the table's name in messages, e.g. "shop.orders" */
	const char *target_table; /* the table on the targets as SQL reads it; NULL: the same schema and name */
	const char *columns;      /* compare only these (a list as pgcm_plan_set_columns reads it); NULL: all */
	const char *qualified;    /* the source table quoted ("s"."t"), instead of schema and name; or NULL */
	const size_t *numbers;    /* dsts[i] is target numbers[i] + 1 in messages; NULL: target i + 1 */
	const volatile int *stop; /* once non-zero (a signal), what remains fails as "interrupted"; or NULL */
} compare_request;

/* Description of the key a table was compared by (compare_table fills it; free with free()). */
typedef struct compare_key {
	char *desc;               /* "primary key (id)", "unique index u_ab (a, b)", "no unique key: whole rows" */
} compare_key;

/*
 * compare_begin_source: begin the source's read on conn (pinned with
 * pgcm_session_pin, idle): REPEATABLE READ, READ ONLY, under snapshot (a
 * pg_export_snapshot() name to import; NULL: its own, exported into
 * *exported, malloc'd, when exported is not NULL).  compare_begin_target:
 * REPEATABLE READ, READ ONLY on a target.  Both return 1, or 0 with *err
 * (malloc'd; NULL when out of memory).  End them with compare_end.
 */
int compare_begin_source(PGconn *conn, const char *snapshot, char **exported, char **err);
int compare_begin_target(PGconn *conn, char **err);
/* compare_end: end a read begun by compare_begin_* (ROLLBACK: nothing was written). */
void compare_end(PGconn *conn);

/*
 * compare_table: compare the request's table on src with it on each of
 * dsts[0..n), all inside the reads begun above (a source connection already
 * inside the caller's own REPEATABLE READ transaction does as well).
 * results[0..n) are filled (clear them with compare_result_clear), and *key
 * (may be NULL).  Returns how many targets are not the same (differ or
 * could not be compared); a lost connection fails what remains on it.
 */
size_t compare_table(PGconn *src, PGconn *const *dsts, size_t n, const compare_request *req,
                     compare_result *results, compare_key *key);

/* compare_result_clear: free what a result holds; it is empty again. */
void compare_result_clear(compare_result *r);

/* compare_status_name: "same", "differs", "error". compare_kind_name: "missing", "extra", ... */
const char *compare_status_name(enum compare_status st);
const char *compare_kind_name(enum compare_kind k);

#endif
