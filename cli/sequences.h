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

/* One target sequence: moved, or why not. */
typedef struct seq_result {
	char *column;         /* the column that owns it (the same name on both sides) */
	char *sequence;       /* the target's sequence, as regclass prints it */
	char *next;           /* moved: the value its next nextval() returns (the source's next), else NULL */
	char *why;            /* NULL when moved; else why not ("its next value ... is already ...", ...) */
} seq_result;

/*
 * seq_sync_owned: for every column of dst_table that owns a sequence and whose
 * namesake on src_table owns one too (only the columns[0..ncolumns) when
 * ncolumns > 0), move the target's sequence so that its next value is the
 * source's next value, with ALTER SEQUENCE ... RESTART inside dst's open
 * transaction (the load's): unlike setval(), it is transactional (PostgreSQL
 * 10 and later), so the sequence moves when the load commits (a prepared
 * load: when it is COMMIT PREPARED) and not at all when it rolls back.  Only
 * forward: a target sequence whose next value is already at or past the
 * source's is left as it is, and so is one whose bounds do not hold it.  The
 * sequence is locked first (a no-op ALTER SEQUENCE), so that no nextval() in
 * another session slips between reading it and moving it; that lock is held
 * until the load ends, and waited for at most wait_ms (0: without limit).
 * Each sequence is moved under a savepoint: one that cannot be (its owner is
 * another role, the lock was not had in time) is reported with why and left
 * as it was, and the transaction goes on.  The tables are names as regclass
 * reads them (quoted, schema-qualified).
 *
 * Returns 1 with *out (seq_results_free) and *nout set (0 results: no such
 * column), or 0 with err filled: a query on src failed (dst's transaction
 * goes on), or one on dst outside the savepoints (dst's transaction is then
 * failed, or its connection lost).
 */
int seq_sync_owned(PGconn *src, const char *src_table, PGconn *dst, const char *dst_table,
                   const char *const *columns, size_t ncolumns, int wait_ms, seq_result **out, size_t *nout,
                   char *err, size_t errlen);

/* seq_results_free: free what seq_sync_owned returned (NULL is fine). */
void seq_results_free(seq_result *r, size_t n);

#endif
