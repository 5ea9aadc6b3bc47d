/*
 * copy_plan_print.c: the copy plan as --dry-run shows it -- the table, the
 * format and why, every statement, every column with its type on the source
 * and on each target and how it gets there, the notes and the problems --
 * as text or as JSON (--json); and a refused plan's problems on stderr.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "copy.h"

/* target_command: what target i runs, or what it is when it runs nothing. */
static const char *
target_command(const pgcm_plan *plan, const copy_endpoint *dst, int i)
{
	const char *cmd = pgcm_plan_target_command(plan, (size_t) i);

	if (cmd)
		return cmd;
	return dst[i].kind == EP_SERVER ? "(not planned: see the problems)" : "(writes the COPY data)";
}

/* print_findings: notes or problems, one a line, "  target 2: message". */
static void
print_findings(const char *title, size_t n, const pgcm_plan_finding *(*get)(const pgcm_plan *, size_t),
               const pgcm_plan *plan)
{
	if (n == 0)
		return;
	printf("%s:\n", title);
	for (size_t i = 0; i < n; i++)
		printf("  %s\n", get(plan, i)->message);
}

static void
print_text(const pgcm_plan *plan, const copy_opts *o, const copy_endpoint *src, const copy_endpoint *dst,
           char *const *src_cmds)
{
	pgcm_format fmt;
	const char *name = pgcm_plan_source_name(plan);

	printf("plan: %s %s, to %d target%s\n", name ? "table" : o->query ? "query" : "data from",
	       name ? name : o->query ? o->query : src->label, o->nto, o->nto == 1 ? "" : "s");
	if (pgcm_plan_format(plan, &fmt) == PGCM_OK && pgcm_plan_format_reason(plan)[0])
		printf("format: %s (%s)\n", pgcm_format_kind_name(fmt.kind), pgcm_plan_format_reason(plan));
	for (int j = 0; j < o->jobs; j++) {
		const char *cmd = src_cmds && src_cmds[j] ? src_cmds[j] : pgcm_plan_source_command(plan);
		if (o->jobs > 1)
			printf("source %s (stream %d): %s\n", src->label, j + 1, cmd ? cmd : "(not planned)");
		else
			printf("source %s: %s\n", src->label,
			       src->kind != EP_SERVER ? "(reads the COPY data)" : cmd ? cmd : "(not planned: see the problems)");
	}
	for (int i = 0; i < o->nto; i++)
		printf("target %d %s: %s\n", i + 1, dst[i].label, target_command(plan, dst, i));
	if (pgcm_plan_column_count(plan))
		printf("columns:\n");
	for (size_t c = 0; c < pgcm_plan_column_count(plan); c++) {
		pgcm_plan_column_info col;
		pgcm_plan_column(plan, c, 0, &col);
		printf("  %s: %s", col.name, col.source_type ? col.source_type : "(from the data)");
		for (int i = 0; i < o->nto; i++) {
			pgcm_plan_column(plan, c, (size_t) i, &col);
			printf("%s target %d %s (%s)", i ? ";" : " ->", i + 1,
			       col.target_type ? col.target_type : "-", col.detail ? col.detail : "");
		}
		printf("\n");
	}
	print_findings("notes", pgcm_plan_note_count(plan), pgcm_plan_note, plan);
	print_findings("problems", pgcm_plan_problem_count(plan), pgcm_plan_problem, plan);
}

/* json_or_null: a JSON string, or null. */
static void
json_or_null(const char *s)
{
	if (s)
		cli_json_string(stdout, s);
	else
		fputs("null", stdout);
}

static void
json_findings(const char *key, size_t n, const pgcm_plan_finding *(*get)(const pgcm_plan *, size_t),
              const pgcm_plan *plan)
{
	printf(", \"%s\": [", key);
	for (size_t i = 0; i < n; i++) {
		const pgcm_plan_finding *f = get(plan, i);
		printf("%s{\"target\": ", i ? ", " : "");
		if (f->target >= 0)
			printf("%ld", f->target + 1);
		else
			fputs("null", stdout);
		printf(", \"table\": ");
		cli_json_string(stdout, f->table);
		printf(", \"column\": ");
		cli_json_string(stdout, f->column);
		printf(", \"message\": ");
		cli_json_string(stdout, f->message);
		printf("}");
	}
	printf("]");
}

static void
print_json(const pgcm_plan *plan, const copy_opts *o, const copy_endpoint *src, const copy_endpoint *dst,
           char *const *src_cmds)
{
	pgcm_format fmt;
	int built = pgcm_plan_format(plan, &fmt) == PGCM_OK;

	printf("{\"dry_run\": %s, \"ok\": %s, \"table\": ", o->dry_run ? "true" : "false",
	       pgcm_plan_problem_count(plan) ? "false" : "true");
	json_or_null(pgcm_plan_source_name(plan));
	printf(", \"format\": ");
	json_or_null(built ? pgcm_format_kind_name(fmt.kind) : NULL);
	printf(", \"format_reason\": ");
	cli_json_string(stdout, pgcm_plan_format_reason(plan));
	printf(", \"source\": {\"endpoint\": ");
	cli_json_string(stdout, src->label);
	printf(", \"commands\": [");
	for (int j = 0; j < o->jobs; j++) {
		const char *cmd = src_cmds && src_cmds[j] ? src_cmds[j] : pgcm_plan_source_command(plan);
		printf("%s", j ? ", " : "");
		json_or_null(cmd);
	}
	printf("]}, \"targets\": [");
	for (int i = 0; i < o->nto; i++) {
		printf("%s{\"target\": ", i ? ", " : "");
		cli_json_string(stdout, dst[i].label);
		printf(", \"table\": ");
		json_or_null(pgcm_plan_target_name(plan, (size_t) i));
		printf(", \"command\": ");
		json_or_null(pgcm_plan_target_command(plan, (size_t) i));
		printf("}");
	}
	printf("], \"columns\": [");
	for (size_t c = 0; c < pgcm_plan_column_count(plan); c++) {
		pgcm_plan_column_info col;
		pgcm_plan_column(plan, c, 0, &col);
		printf("%s{\"name\": ", c ? ", " : "");
		cli_json_string(stdout, col.name);
		printf(", \"source_type\": ");
		json_or_null(col.source_type);
		printf(", \"source_expr\": ");
		json_or_null(col.source_expr);
		printf(", \"targets\": [");
		for (int i = 0; i < o->nto; i++) {
			pgcm_plan_column(plan, c, (size_t) i, &col);
			printf("%s{\"type\": ", i ? ", " : "");
			json_or_null(col.target_type);
			printf(", \"conversion\": \"%s\", \"detail\": ", pgcm_plan_conversion_name(col.conversion));
			json_or_null(col.detail);
			printf("}");
		}
		printf("]}");
	}
	printf("]");
	json_findings("notes", pgcm_plan_note_count(plan), pgcm_plan_note, plan);
	json_findings("problems", pgcm_plan_problem_count(plan), pgcm_plan_problem, plan);
	printf("}\n");
	fflush(stdout);
}

void
copy_print_plan(const pgcm_plan *plan, const copy_opts *o, const copy_endpoint *src,
                const copy_endpoint *dst, char *const *src_cmds)
{
	if (o->json)
		print_json(plan, o, src, dst, src_cmds);
	else
		print_text(plan, o, src, dst, src_cmds);
}

void
copy_print_problems(const pgcm_plan *plan, int each)
{
	size_t n = pgcm_plan_problem_count(plan);

	const char *hinted = NULL;

	/* The source's problems first: what the targets make of them follows from them. */
	for (int source = 1; source >= 0; source--)
		for (size_t i = 0; each && i < n; i++)
			if ((pgcm_plan_problem(plan, i)->target < 0) == source)
				cli_error("%s", pgcm_plan_problem(plan, i)->message);
	for (size_t i = 0; i < n; i++) {
		const char *table = pgcm_plan_problem(plan, i)->table;
		if (!hinted && copy_name_needs_quotes(table)) {
			hinted = table;
			copy_name_hint(pgcm_plan_problem(plan, i)->target < 0 ? "--table" : "--target-table", table,
			               NULL);
		}
	}
	cli_error("nothing was copied: the plan found %zu problem%s%s", n, n == 1 ? "" : "s",
	          each ? " (--dry-run shows the whole plan)" : "");
}
