/*
 * copy_many.h: what the run of many tables (copy_many.c) prints
 * (copy_many_report.c): the plans of --dry-run, the problems that refuse
 * the run, and the per-table JSON and human summaries.
 */
#ifndef PGCM_CLI_COPY_MANY_H
#define PGCM_CLI_COPY_MANY_H

#include "copy.h"
#include "copy_tables.h"

/* copy_many_print_plans: the load order, each target's deferred constraints, each table's plan (text or JSON). */
void copy_many_print_plans(const copy_tables *ct, const copy_opts *o, const copy_endpoint *src,
                           const copy_endpoint *dst);
/* copy_many_print_problems: that nothing was copied, on stderr, after every problem (one a line) when each. */
void copy_many_print_problems(const copy_tables *ct, int each);
/* copy_many_print_json: the JSON summary: totals, per target its outcome and per table its own. */
void copy_many_print_json(const copy_tables *ct, const copy_opts *o, double seconds, const copy_endpoint *dst,
                          int aborted, const char *reason, const char *source_error);
/* copy_many_print_summary: the human summary (copy_print_summary's), then per target a line per table. */
void copy_many_print_summary(const copy_tables *ct, const copy_opts *o, double seconds, const copy_endpoint *dst);

#endif
