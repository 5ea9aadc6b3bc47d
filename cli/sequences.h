/*
 * sequences.h: the sequences a copied table's columns own (serial and
 * identity columns), moved on the target to where the source's are, so that
 * the target's next INSERT does not collide with a copied row (sequences.c).
 * Uses libpq and nothing of the command.
 */
#ifndef PGCM_CLI_SEQUENCES_H
#define PGCM_CLI_SEQUENCES_H

#include <stddef.h>

#include <libpq-fe.h>

/* One target sequence: set, or why not. */
typedef struct seq_result {
	char *column;         /* the column that owns it (the same name on both sides) */
	char *sequence;       /* the target's sequence, as regclass prints it */
	char *value;          /* the value it was set to (setval's), or NULL */
	int is_called;        /* with value: the next nextval() returns value + increment */
	char *why;            /* NULL when set; else why not ("already at or past ...", ...) */
} seq_result;

/*
 * seq_sync_owned: for every column of dst_table that owns a sequence and whose
 * namesake on src_table owns one too (only the columns[0..ncolumns) when
 * ncolumns > 0), read the source sequence's last_value and is_called and set
 * the target's with setval() to the same, but only forward: a target sequence
 * already at or past that point (in its increment's direction) is left as it
 * is, and so is one whose bounds do not hold the value.  setval is not
 * transactional: moving only forward is what keeps a rolled-back load
 * harmless.  The tables are names as regclass reads them (quoted,
 * schema-qualified).  Every target query is one that cannot fail, so dst may
 * be inside the load's transaction; privileges are checked first (a sequence
 * the user may not read or update is reported, not touched).
 *
 * Returns 1 with *out (seq_results_free) and *nout set (0 results: no such
 * column), or 0 with err filled (a query failed; on dst it aborted dst's
 * transaction, if any).
 */
int seq_sync_owned(PGconn *src, const char *src_table, PGconn *dst, const char *dst_table,
                   const char *const *columns, size_t ncolumns, seq_result **out, size_t *nout,
                   char *err, size_t errlen);

/* seq_results_free: free what seq_sync_owned returned (NULL is fine). */
void seq_results_free(seq_result *r, size_t n);

#endif
