/*
 * bulkload.h: what the copy command does around the COPY of a server target
 * (bulkload.c, rebuild.c, bulkload_report.c):
 *
 *   - a replaced table (--truncate, one session): after the TRUNCATE its index
 *     work is deferred (defer_indexes.c) and its COPY takes FREEZE; at the end
 *     of the load its indexes, constraints and foreign keys are re-created in
 *     the same transaction, on every target at once, and checked;
 *   - every load from a source table: the sequences its copied columns own
 *     are moved forward on the target to the source's, in the same
 *     transaction (sequences.c: transactional, unlike setval()).
 *
 * Two hooks in the transaction flow call it: bulkload_after_truncate() right
 * after the TRUNCATE (copy_commit.c), and bulkload_finish() once the streams
 * are over, before the end phase (copy_settle_targets: the deferred
 * constraints' check, PREPARE, COMMIT).  A target whose work after the COPY
 * fails is marked faulted and reported (e->reported): the end phase rolls it
 * back like any faulted target; with --jobs its sequences move on the first
 * stream's session, prepared and committed with the others.
 */
#ifndef PGCM_CLI_BULKLOAD_H
#define PGCM_CLI_BULKLOAD_H

#include <stdio.h>

#include "pgcopyman.h"
#include "copy.h"
#include "defer_indexes.h"
#include "progress.h"
#include "sequences.h"

/* One server target's work around its COPY, and what it did (for the summaries). */
typedef struct bulkload {
	int replaced;             /* --truncate on a server target */
	deferral *def;            /* what is deferred (NULL: nothing, see not_deferred) */
	char *not_deferred;       /* why the index work is not deferred, or NULL */
	int freeze;               /* its COPY has FREEZE */
	char *work_mem;           /* maintenance_work_mem during the rebuild */
	double t_dropped;         /* when the drops were done (monotonic seconds) */
	double drop_seconds;      /* inspecting the table and dropping */
	double load_seconds;      /* from the drops to the end of the streams */
	double rebuild_seconds;   /* re-creating and checking everything */
	int rebuilt;              /* the rebuild completed and the definitions are the same */
	int seq_checked;          /* the sequences were looked at */
	seq_result *seqs;
	size_t nseqs;
	char *seq_warning;        /* why the sequences could not be looked at, or NULL */
} bulkload;

/*
 * bulkload_after_truncate: the hook right after the TRUNCATE of server target
 * e (in its load's transaction, on e->conns[0]).  With one session and
 * --no-defer-indexes not given, it reads what can be deferred, drops it, sets
 * the rebuild's maintenance_work_mem, and adds FREEZE to e->command;
 * otherwise it only records why not.  Returns 1, or 0 with the error kept on
 * e (e->error, e->sqlstate), not printed: the caller says it once (the
 * transaction may then be failed: the load must not go on).
 */
int bulkload_after_truncate(copy_endpoint *e, const copy_opts *o);

/*
 * bulkload_finish: the hook after the streams ended, before any commit.  On
 * every server target whose streams all completed (none if aborted): the
 * deferred work re-created, on all targets at once, the progress display
 * showing which index each builds; then the definitions checked, then the
 * sequences moved in each one's transaction (unless --no-sequences; src a
 * server and a source table; none under --on-fault abort once a rebuild
 * failed).  A target that fails is marked faulted (status, error, sqlstate,
 * reported) with its error shown.  Returns 1 when no target failed here,
 * else 0.
 */
int bulkload_finish(copy_endpoint *dst, const copy_opts *o, const copy_endpoint *src,
                    const pgcm_plan *plan, int aborted, cli_progress *prog);

/* bulkload_print_json: the members `"bulk_load": {...}` and `"sequences": [...]` of e's object, if any. */
void bulkload_print_json(FILE *f, const copy_endpoint *e);

/* bulkload_print_summary: lines for the human summary about e (deferred, rebuilt, sequences), if any. */
void bulkload_print_summary(FILE *f, const copy_endpoint *e);

/* bulkload_free: free e->bulk (NULL is fine). */
void bulkload_free(copy_endpoint *e);

/* rebuild.c */
/*
 * bulkload_rebuild: re-create what each of targets[0..n) deferred, every
 * target's statements in order and all targets at once (one poll() loop), the
 * phase shown on prog; a signal cancels them.  failed[i] is set (and the
 * target's error) for a target whose statement failed.
 */
void bulkload_rebuild(copy_endpoint **targets, int n, int *failed, cli_progress *prog);

/* bulkload_seconds: a monotonic clock. */
double bulkload_seconds(void);

/* bulkload_fault: mark e faulted with message msg (and sqlstate), shown over the progress display. */
void bulkload_fault(copy_endpoint *e, const char *msg, const char *sqlstate, cli_progress *prog);

#endif
