/*
 * compare_shape.h: the SQL a comparison runs on each side of one table and
 * one target (compare_shape.c), as compare.c uses it: the row's text as the
 * target stores it, its hash, and the key the rows are ordered and split by.
 */
#ifndef PGCM_CLI_COMPARE_SHAPE_H
#define PGCM_CLI_COMPARE_SHAPE_H

#include <stddef.h>

#include <libpq-fe.h>

#include "compare.h"

/* A key column of the source table. */
typedef struct cmp_key_col {
	char *name;           /* exact */
	char *type;           /* format_type, usable as a cast on both sides (search_path empty) */
	int collatable;
	int builtin;          /* a built-in base type: its order is the same on every server */
} cmp_key_col;

/* The source table's key: its primary key, else a unique index on NOT NULL columns, else none. */
typedef struct cmp_key_info {
	cmp_key_col *cols;
	size_t n;             /* 0: no key */
	char *desc;           /* for people */
} cmp_key_info;

/* One side's SQL: each is an expression over the rows of `from`. */
typedef struct cmp_side {
	char *from;           /* ONLY "s"."t", or "s"."t" for a partitioned table */
	char *row;            /* the row's text as the target stores it */
	char *hash;           /* a 64-bit hash of row */
	char *key;            /* the order key as a list: k1, k2 (each with COLLATE "C" where collatable) */
	char **keys;          /* the same, one expression each (nkey of them) */
	char *display;        /* the key (or, without one, the row) as text for people */
	char *notnull;        /* "(k1, k2) IS NOT NULL" for a native key, "true" otherwise */
	char **cols;          /* each compared value's text, for naming the columns of a changed row */
} cmp_side;

typedef struct cmp_shape {
	cmp_side src, dst;
	size_t nkey;          /* columns of the order key (1 for a key or row compared as text) */
	char **key_types;     /* the SQL type of each, for literals: the same on both sides */
	int *key_c;           /* each is compared with COLLATE "C" */
	int native;           /* the key is compared in its own order; else as UTF-8 bytes */
	int keyed;            /* a unique key (else whole rows, which may repeat) */
	char *key_label;      /* "id", "(a, b)", or NULL (whole rows) */
	size_t ncols;
	char **col_names;     /* what each of cols compares */
	char *timezone;       /* the target's TimeZone: the source reads in it */
} cmp_shape;

/*
 * cmp_key_load: the key of relation qrel ("s"."t") on the source.  Returns
 * 1, or 0 with *err (malloc'd; NULL when out of memory).
 */
int cmp_key_load(PGconn *src, const char *qrel, cmp_key_info *k, char **err);
void cmp_key_clear(cmp_key_info *k);

/*
 * cmp_shape_build: plan the source table against one target, and write the
 * SQL of both sides.  Both connections are in their reads, search_path
 * empty (names come qualified).  qsrc is the source table, quoted; qdst the
 * target's (quoted, existing); number is the target's, 0-based, as the
 * plan's messages name it.  Returns 1; or 0 with r's status, kind and
 * message set: DIFF_TABLE when the plan finds the target cannot hold the
 * source's rows, an error otherwise.  Free with cmp_shape_clear either way.
 */
int cmp_shape_build(cmp_shape *sh, PGconn *src, PGconn *dst, size_t number, const char *qsrc,
                    const char *qdst, char dst_relkind, const compare_request *req, const cmp_key_info *key,
                    compare_result *r);
void cmp_shape_clear(cmp_shape *sh);

#endif
