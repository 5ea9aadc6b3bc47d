/*
 * copy_tables.h: the tables of a run that copies many (copy_many.c): the
 * selection resolved on the source (tablesel.h), each table's copy plan,
 * and the order every target loads them in.
 *
 * The order comes from the foreign keys among the selected tables on every
 * target (pg_constraint, contype 'f'): a table is loaded after the tables
 * it references, so that each COPY's foreign-key checks find their parent
 * rows already loaded in the same transaction.  A self-reference is
 * satisfied inside the table's one COPY statement (the checks run at its
 * end), so that table's COPY is never cut into segments.  Tables that
 * reference each other in a cycle can be loaded only when every foreign key
 * of the cycle is DEFERRABLE: those are set DEFERRED in the target's
 * transaction and checked before its commit (SET CONSTRAINTS ALL
 * IMMEDIATE).  A cycle with a constraint that is not deferrable is refused
 * before any data moves, naming the tables, the constraint and the target.
 * A foreign key to a table that is not selected is checked as usual.
 */
#ifndef PGCM_CLI_COPY_TABLES_H
#define PGCM_CLI_COPY_TABLES_H

#include <stddef.h>
#include <stdint.h>

#include "copy.h"
#include "sequences.h"

/* One table on one target: what happened to it. */
typedef struct table_outcome {
	const char *status;       /* "ok", "faulted", "rolled back", "not loaded", "aborted"; NULL: not yet */
	uint64_t rows;            /* its COPY's rows (committed only when the target committed) */
	seq_result *seqs;         /* its owned sequences moved (or why not) */
	size_t nseqs;
	char *seq_warning;        /* why they could not be looked at, or NULL */
	const char *verify;       /* --verify: "same", "differs", "error", "skipped"; NULL: not asked */
	char *verify_message;
} table_outcome;

/* One table of the run. */
typedef struct copy_table {
	const tablesel_table *sel;  /* its names on the source (borrowed from the selection) */
	pgcm_plan *plan;
	int self_reference;       /* a foreign key of its own rows: one COPY statement, never segments */
	size_t component;         /* tables linked by foreign keys (on any target) share it */
	int lane;                 /* --jobs: the session (of the source and of each target) that copies it */
	uint64_t estimate;        /* its estimated size (bytes, else rows), to spread the tables */
	int streamed;             /* its stream ran to the end (for some target) */
	uint64_t rows, bytes;     /* what the source sent */
	double seconds;
	table_outcome *at;        /* one per target */
} copy_table;

/* The run's tables, in load order. */
typedef struct copy_tables {
	copy_table *t;
	size_t n;
	int nto;
	size_t ncomponents;
	char *deferred[MAX_TARGETS];  /* "SET CONSTRAINTS ... DEFERRED" a target runs after BEGIN, or NULL */
} copy_tables;

/*
 * copy_tables_select: resolve the selection on src (inside its transaction)
 * and make one entry per table to copy (a partitioned table stands for its
 * partitions).  Warnings are printed.  1, or 0 (printed).
 */
int copy_tables_select(copy_tables *ct, tablesel *sel, PGconn *src, int nto);

/*
 * copy_tables_order: put the tables in an order every target's foreign keys
 * allow (see the top) and note each target's deferred constraints.  1, or
 * 0 when a cycle cannot be loaded or a catalog cannot be read (printed).
 */
int copy_tables_order(copy_tables *ct, copy_endpoint *dst, int nto);

/*
 * copy_tables_plan: each table's copy plan (copy_make_plan with the table
 * as --table).  Returns how many problems the plans found (0: all can be
 * copied), or -1 when one could not be built (printed).
 */
long copy_tables_plan(copy_tables *ct, const copy_opts *o, const copy_endpoint *src, const copy_endpoint *dst);

/*
 * copy_tables_lanes: spread the tables over at most jobs sessions (lanes):
 * every table of a component in one lane (a foreign key cannot see the
 * uncommitted rows of another session), the largest components first,
 * each to the lane with the least so far.  Returns how many lanes have a
 * table (1 .. jobs); the lanes are numbered from 0 without gaps.
 */
int copy_tables_lanes(copy_tables *ct, int jobs);

/* copy_tables_free: free everything (the selection itself stays the caller's). */
void copy_tables_free(copy_tables *ct);

#endif
