/*
 * copy_many_report.c: what a run of many tables prints: the plans of
 * --dry-run in load order, the problems that refuse it, and the summaries,
 * which give per target and per table the status, rows, bytes and seconds.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "copy_many.h"
#include "bulkload.h"

/* format_name: the table's COPY format, as the plan chose it. */
static const char *
format_name(const copy_table *t)
{
	pgcm_format fmt;

	return pgcm_plan_format(t->plan, &fmt) == PGCM_OK ? pgcm_format_kind_name(fmt.kind) : "?";
}

void
copy_many_print_plans(const copy_tables *ct, const copy_opts *o, const copy_endpoint *src,
                      const copy_endpoint *dst)
{
	if (o->json) {
		printf("{\"dry_run\": %s, \"load_order\": [", o->dry_run ? "true" : "false");
		for (size_t k = 0; k < ct->n; k++) {
			printf("%s", k ? ", " : "");
			cli_json_string(stdout, ct->t[k].sel->qualified);
		}
		printf("], \"sessions\": [");
		for (size_t k = 0; k < ct->n; k++)
			printf("%s%d", k ? ", " : "", ct->t[k].lane + 1);
		printf("], \"deferred\": [");
		for (int i = 0; i < o->nto; i++) {
			printf("%s", i ? ", " : "");
			if (ct->deferred[i])
				cli_json_string(stdout, ct->deferred[i]);
			else
				printf("null");
		}
		printf("], \"plans\": [\n");
	} else {
		printf("%zu tables, in load order (a table after those its foreign keys reference):\n", ct->n);
		for (size_t k = 0; k < ct->n; k++) {
			printf("  %zu. %s", k + 1, ct->t[k].sel->qualified);
			if (o->jobs > 1)
				printf(" [session %d]", ct->t[k].lane + 1);
			printf("%s\n", ct->t[k].self_reference ? " (references itself: one COPY statement)" : "");
		}
		for (int i = 0; i < o->nto; i++)
			if (ct->deferred[i])
				printf("target %d %s, after BEGIN: %s\n", i + 1, dst[i].label, ct->deferred[i]);
	}
	for (size_t k = 0; k < ct->n; k++) {
		copy_opts one = *o;

		one.table = ct->t[k].sel->qualified;
		if (o->json)
			printf("%s", k ? ", " : "");
		else
			printf("\n== table %zu of %zu: %s\n", k + 1, ct->n, ct->t[k].sel->qualified);
		copy_print_plan(ct->t[k].plan, &one, src, dst, NULL);
	}
	if (o->json)
		printf("]}\n");
	fflush(stdout);
}

void
copy_many_print_problems(const copy_tables *ct, int each)
{
	size_t n = 0, tables = 0;

	for (size_t k = 0; k < ct->n; k++) {
		size_t p = pgcm_plan_problem_count(ct->t[k].plan);
		for (size_t i = 0; each && i < p; i++)
			cli_error("%s: %s", ct->t[k].sel->qualified, pgcm_plan_problem(ct->t[k].plan, i)->message);
		n += p;
		tables += p > 0;
	}
	cli_error("nothing was copied: the plans of %zu table%s found %zu problem%s%s; leave such a table out (-T) "
	          "and copy it on its own (--table NAME, where --columns applies)", tables, tables == 1 ? "" : "s",
	          n, n == 1 ? "" : "s", each ? " (--dry-run shows the whole plans)" : "");
}

/* received: target i received table t's rows (a table it never loaded moved nothing to it). */
static int
received(const table_outcome *at)
{
	return at->status && strcmp(at->status, "not loaded") != 0 && strcmp(at->status, "aborted") != 0;
}

/* print_table_json: table t's outcome on target i. */
static void
print_table_json(const copy_table *t, int i)
{
	const table_outcome *at = &t->at[i];

	printf("{\"table\": ");
	cli_json_string(stdout, t->sel->qualified);
	printf(", \"status\": ");
	cli_json_string(stdout, at->status ? at->status : "not loaded");
	if (strcmp(at->status ? at->status : "", "unknown") == 0)
		printf(", \"rows\": null, \"rows_if_committed\": %llu", (unsigned long long) at->rows);
	else
		printf(", \"rows\": %llu", (unsigned long long) at->rows);
	printf(", \"bytes\": %llu, \"seconds\": %.3f, \"format\": ", (unsigned long long) (received(at) ? t->bytes : 0),
	       received(at) ? t->seconds : 0.0);
	cli_json_string(stdout, format_name(t));
	if (at->nseqs || at->seq_warning) {
		printf(", \"sequences\": [");
		for (size_t s = 0; s < at->nseqs; s++) {
			printf("%s{\"sequence\": ", s ? ", " : "");
			cli_json_string(stdout, at->seqs[s].sequence);
			printf(", \"column\": ");
			cli_json_string(stdout, at->seqs[s].column);
			printf(", \"moved\": %s", at->seqs[s].next ? "true" : "false");
			printf(", \"%s\": ", at->seqs[s].next ? "next" : "why");
			cli_json_string(stdout, at->seqs[s].next ? at->seqs[s].next : at->seqs[s].why);
			printf("}");
		}
		printf("]");
		if (at->seq_warning) {
			printf(", \"sequences_warning\": ");
			cli_json_string(stdout, at->seq_warning);
		}
	}
	if (at->verify) {
		printf(", \"verify\": {\"status\": ");
		cli_json_string(stdout, at->verify);
		printf(", \"message\": ");
		cli_json_string(stdout, at->verify_message ? at->verify_message : "");
		printf("}");
	}
	printf("}");
}

/* json_member: `, "name": "value"` when value is not NULL. */
static void
json_member(const char *name, const char *value)
{
	if (!value)
		return;
	printf(", \"%s\": ", name);
	cli_json_string(stdout, value);
}

void
copy_many_print_json(const copy_tables *ct, const copy_opts *o, double seconds, const copy_endpoint *dst,
                     int aborted, const char *reason, const char *source_error)
{
	uint64_t rows = 0, bytes = 0;

	for (size_t k = 0; k < ct->n; k++) {
		rows += ct->t[k].rows;
		bytes += ct->t[k].bytes;
	}
	printf("{\"tables\": %zu, \"rows\": %llu, \"bytes\": %llu, \"seconds\": %.3f, \"jobs\": %d, \"targets\": [",
	       ct->n, (unsigned long long) rows, (unsigned long long) bytes, seconds, o->jobs);
	for (int i = 0; i < o->nto; i++) {
		const copy_endpoint *e = &dst[i];
		printf("%s{\"target\": ", i ? ", " : "");
		cli_json_string(stdout, e->label);
		json_member("status", e->status);
		if (strcmp(e->status, "unknown") == 0)
			printf(", \"rows\": null, \"rows_if_committed\": %llu", (unsigned long long) e->rows);
		else
			printf(", \"rows\": %llu", (unsigned long long) e->rows);
		json_member("reason", e->reason);
		json_member("check", e->check);
		json_member("error", e->error);
		json_member("sqlstate", e->sqlstate[0] ? e->sqlstate : NULL);
		if (e->verify) {
			printf(", \"verify\": {\"status\": ");
			cli_json_string(stdout, e->verify);
			json_member("message", e->verify_message ? e->verify_message : "");
			printf("}");
		}
		printf(", \"tables\": [");
		for (size_t k = 0; k < ct->n; k++) {
			printf("%s", k ? ", " : "");
			print_table_json(&ct->t[k], i);
		}
		printf("]}");
	}
	printf("]");
	if (aborted) {
		printf(", \"aborted\": true");
		json_member("reason", reason ? reason : "aborted");
	}
	json_member("source_error", source_error);
	printf("}\n");
	fflush(stdout);
}

void
copy_many_print_summary(const copy_tables *ct, const copy_opts *o, double seconds, const copy_endpoint *dst)
{
	pgcm_progress total = {0, 0};
	char what[64];
	size_t width = 0;

	for (size_t k = 0; k < ct->n; k++) {
		size_t len = strlen(ct->t[k].sel->qualified);
		total.rows += ct->t[k].rows;
		total.bytes += ct->t[k].bytes;
		if (len > width)
			width = len;
	}
	snprintf(what, sizeof what, "%zu tables", ct->n);
	copy_print_summary(o, what, seconds, total, dst, o->nto);
	for (int i = 0; i < o->nto; i++) {
		cli_error("  target %d (%s): %s, %llu rows", i + 1, dst[i].label, dst[i].status,
		          (unsigned long long) dst[i].rows);
		for (size_t k = 0; k < ct->n; k++) {
			const copy_table *t = &ct->t[k];
			const table_outcome *at = &t->at[i];
			size_t moved = 0;
			for (size_t s = 0; s < at->nseqs; s++)
				moved += at->seqs[s].next != NULL;
			cli_error("    %-*s  %-11s %10llu rows %12llu bytes %8.2f s  %s%s%s", (int) width, t->sel->qualified,
			          at->status ? at->status : "not loaded", (unsigned long long) at->rows,
			          (unsigned long long) (received(at) ? t->bytes : 0), received(at) ? t->seconds : 0.0,
			          format_name(t),
			          moved ? ", sequences moved" : "",
			          at->verify && strcmp(at->verify, "same") != 0 ? ", verify: not the same" : "");
		}
	}
}
