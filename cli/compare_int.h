/*
 * compare_int.h: the comparison engine's own pieces, shared by compare.c
 * (sessions, one table on every target, the whole-table count and checksum)
 * and compare_locate.c (the ranges that find the first differing key).
 */
#ifndef PGCM_CLI_COMPARE_INT_H
#define PGCM_CLI_COMPARE_INT_H

#include <libpq-fe.h>

#include "compare.h"
#include "compare_shape.h"

/* One table on one target. */
typedef struct cmp_job {
	PGconn *src, *dst;
	cmp_shape sh;
	compare_result *r;
	int active;           /* still being compared (not decided, no error) */
	int dst_savepoint;    /* the target's table savepoint is set */
	long long null_keys;  /* target rows whose native key is NULL */
	const volatile int *stop;  /* the request's */
} cmp_job;

/*
 * cmp_fail: the job becomes an error: "source: msg" or "target: msg", from
 * res (the server's message) or the connection's.
 */
void cmp_fail(cmp_job *j, int on_source, PGconn *conn, const PGresult *res);

/*
 * cmp_src_query: run sql on the source in the target's TimeZone, inside a
 * savepoint of its own (an error fails this job only).  Returns the rows,
 * or NULL with the job failed.
 */
PGresult *cmp_src_query(cmp_job *j, const char *sql, int n, const char *const *params);

/* cmp_dst_query: run sql on the target; its rows, or NULL with the job failed. */
PGresult *cmp_dst_query(cmp_job *j, const char *sql, int n, const char *const *params);

/*
 * cmp_pair: run src_sql on the source and dst_sql on the target at once
 * (same parameters).  Returns 1 with both results (PQclear them), or 0 with
 * the job failed.
 */
int cmp_pair(cmp_job *j, const char *src_sql, const char *dst_sql, int n, const char *const *params,
             PGresult **s, PGresult **d);

/* cmp_locate: the counts or checksums differ: find the first differing key (compare_locate.c). */
void cmp_locate(cmp_job *j);

#endif
