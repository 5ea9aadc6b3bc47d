/*
 * copy_many.h: the run of many tables: its state (copy_many.c), the loop
 * that loads the tables over one or more sessions (copy_lanes.c), and what
 * it prints (copy_many_report.c): the plans of --dry-run, the problems that
 * refuse the run, and the per-table JSON and human summaries.
 */
#ifndef PGCM_CLI_COPY_MANY_H
#define PGCM_CLI_COPY_MANY_H

#include "copy.h"
#include "copy_tables.h"

/* What one run holds. */
typedef struct many_run {
	copy_opts *o;
	copy_opts common;         /* o as the commit sees it: the lanes as its jobs, the tables' label */
	copy_endpoint src, dst[MAX_TARGETS];
	copy_tables ct;
	copy_commit commit;
	int nlanes;               /* sessions per server that load (1 without --jobs) */
	pgcm_copy **copies;       /* one per table: the receivers' states and faults live in them */
	int in[MAX_TARGETS];      /* still loading */
	long faulted_at[MAX_TARGETS];  /* the table a target faulted on, or -1 */
	cli_progress *prog;
	pgcm_failure failure;     /* the first failure that aborted the copy */
	int aborted;
	char why[160];
	char *label;
} many_run;

/*
 * copy_lanes_run: load every table, each lane's tables one after the other
 * on its own sessions, the lanes at once, in one poll() loop; a target
 * that faults loads nothing more (its receivers drop the data); with
 * --on-fault abort, a signal, or a failed stream every lane is aborted.
 * Sets each table's outcome per target, r->in, r->faulted_at, and
 * r->aborted with r->failure.  Each lane's last receivers of a target
 * that is still in are left in its dst's receivers[] for the end phase.
 */
void copy_lanes_run(many_run *r);

/* copy_many_print_plans: the load order, each target's deferred constraints, each table's plan (text or JSON). */
void copy_many_print_plans(const copy_tables *ct, const copy_opts *o, const copy_endpoint *src,
                           const copy_endpoint *dst);
/* copy_many_print_problems: that nothing was copied, on stderr, after every problem (one a line) when each. */
void copy_many_print_problems(const copy_tables *ct, int each);
/*
 * copy_many_print_json: the JSON summary: totals, per target its outcome and
 * per table its own.  o: the options as the commit saw them ("jobs": the
 * sessions used per server).
 */
void copy_many_print_json(const copy_tables *ct, const copy_opts *o, double seconds, const copy_endpoint *dst,
                          int aborted, const char *reason, const char *source_error);
/* copy_many_print_summary: the human summary (copy_print_summary's), then per target a line per table. */
void copy_many_print_summary(const copy_tables *ct, const copy_opts *o, double seconds, const copy_endpoint *dst);

#endif
