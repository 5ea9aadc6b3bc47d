/*
 * copy_statements.c: the copy plan of the command line (the library reads
 * both catalogs and writes every COPY statement), and the source's
 * statement of each stream under --jobs.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "copy.h"

/*
 * plan_format: the options as a format for the plan.  --format auto lets the
 * plan choose binary when it proves it exact, unless CSV or text options ask
 * for those formats (then they are kept, as before).
 */
static void
plan_format(const copy_opts *o, pgcm_format *fmt, int *automatic)
{
	int csv_opts = o->header || o->quote || o->escape, text_opts = o->delimiter || o->null_string;
	int is_auto = strcmp(o->format, "auto") == 0;
	pgcm_format_kind kind = strcmp(o->format, "csv") == 0 || (is_auto && csv_opts) ? PGCM_FORMAT_CSV
	                        : strcmp(o->format, "binary") == 0 ? PGCM_FORMAT_BINARY : PGCM_FORMAT_TEXT;

	*automatic = is_auto && !csv_opts && !text_opts;
	pgcm_format_init(fmt, kind);
	fmt->header = o->header;
	if (o->max_row)
		fmt->max_row = o->max_row;
	if (o->delimiter)
		fmt->delimiter = o->delimiter[0];
	if (o->quote)
		fmt->quote = fmt->escape = o->quote[0];
	if (o->escape)
		fmt->escape = o->escape[0];
}

/*
 * plan_header: with --header on a file or stdin source, the header line goes
 * to the plan (read ahead and put back; a pipe only for --dry-run), or, from
 * a pipe, the targets compare it themselves (HEADER MATCH).
 */
static int
plan_header(pgcm_plan *plan, const copy_opts *o, const copy_endpoint *src, const pgcm_format *fmt)
{
	char *line;
	size_t len;
	pgcm_status st;

	if (!o->header || !o->header_match || src->kind == EP_SERVER || fmt->kind != PGCM_FORMAT_CSV)
		return 1;
	if (src->codec != CODEC_NONE) {
		if (!copy_read_header_codec(src->codec, src->spec + 5, fmt->quote, fmt->escape, &line, &len))
			return 0;
	} else if (!copy_fd_rewindable(src->fd) && !o->dry_run) {
		return pgcm_plan_set_header_match_on_targets(plan, 1) == PGCM_OK;
	} else if (!copy_read_header(src->fd, fmt->quote, fmt->escape, &line, &len)) {
		return 0;
	}
	st = pgcm_plan_set_header_line(plan, line, len);
	free(line);
	return st == PGCM_OK;
}

/* plan_endpoints: the source and the targets as the plan sees them. */
static pgcm_status
plan_endpoints(pgcm_plan *plan, const copy_opts *o, const copy_endpoint *src, const copy_endpoint *dst)
{
	const char *target_table = o->target_table ? o->target_table
	                           : src->kind == EP_SERVER ? NULL : o->table;
	pgcm_status st;

	if (src->kind != EP_SERVER)
		st = pgcm_plan_set_source_stream(plan);
	else if (o->query) {
		/* Without the ';' psql wants: the query goes inside COPY (...). */
		const char *err;
		char *query = cli_query_strip(o->query, &err);
		st = query ? pgcm_plan_set_source_query(plan, src->conns[0], query) : PGCM_ERR_NOMEM;
		free(query);
	}
	else
		st = pgcm_plan_set_source_table(plan, src->conns[0], o->table);
	for (int i = 0; st == PGCM_OK && i < o->nto; i++)
		st = dst[i].kind == EP_SERVER ? pgcm_plan_add_target(plan, dst[i].conns[0], target_table, NULL)
		                              : pgcm_plan_add_target_stream(plan, NULL);
	return st;
}

/*
 * copy_make_plan: the plan of this command line, built (catalogs read on the
 * first session of each server).  Returns NULL (error printed) when it
 * cannot be built at all; a plan with problems is returned for the caller
 * to show.
 */
pgcm_plan *
copy_make_plan(const copy_opts *o, const copy_endpoint *src, const copy_endpoint *dst)
{
	pgcm_plan *plan = pgcm_plan_new();
	pgcm_format fmt;
	int automatic;
	pgcm_status st;

	if (!plan) {
		cli_error("out of memory");
		return NULL;
	}
	plan_format(o, &fmt, &automatic);
	st = plan_endpoints(plan, o, src, dst);
	if (st == PGCM_OK)
		st = pgcm_plan_set_format(plan, &fmt, automatic);
	if (st == PGCM_OK && o->columns)
		st = pgcm_plan_set_columns(plan, o->columns);
	if (st == PGCM_OK && o->null_string)
		st = pgcm_plan_set_null_string(plan, o->null_string);
	if (st == PGCM_OK && o->encoding)
		st = pgcm_plan_set_encoding(plan, o->encoding);
	if (st == PGCM_OK && !plan_header(plan, o, src, &fmt)) {
		pgcm_plan_free(plan);
		return NULL;
	}
	if (st == PGCM_OK) {
		st = pgcm_plan_build(plan);
		if (st == PGCM_ERR_PLAN)
			st = PGCM_OK;
	}
	if (st != PGCM_OK) {
		cli_error("planning the copy: %s", pgcm_plan_errmsg(plan)[0] ? pgcm_plan_errmsg(plan)
		                                                                : pgcm_strerror(st));
		pgcm_plan_free(plan);
		return NULL;
	}
	return plan;
}

/*
 * copy_source_commands: the COPY TO of each stream: the plan's, or with
 * --jobs its ranges of the table under one snapshot.  Returns 1, or 0 with
 * the error printed.
 */
int
copy_source_commands(copy_endpoint *src, const copy_opts *o, const pgcm_plan *plan, char **cmds)
{
	char *where[MAX_JOBS] = {0}, *split_err = NULL;
	const char *err = NULL;
	char *qkey = NULL;
	int ok = 0;

	if (o->jobs == 1) {
		if (!(cmds[0] = strdup(pgcm_plan_source_command(plan))))
			cli_error("out of memory");
		return cmds[0] != NULL;
	}
	if (o->split_key && !(qkey = cli_quote_name(src->conns[0], o->split_key, &err))) {
		cli_error("bad --split-key: %s", err ? err : "out of memory");
		goto cleanup;
	}
	if (!cli_split_source(src->conns, o->jobs, pgcm_plan_source_table(plan),
	                      pgcm_plan_source_relation(plan), pgcm_plan_source_relkind(plan), qkey, where,
	                      &split_err)) {
		cli_error("source %s: %s", src->label, split_err ? split_err : "out of memory");
		goto cleanup;
	}
	for (int j = 0; j < o->jobs; j++)
		if (!(cmds[j] = pgcm_plan_source_command_range(plan, where[j]))) {
			cli_error("out of memory");
			goto cleanup;
		}
	ok = 1;
cleanup:
	for (int j = 0; j < MAX_JOBS; j++)
		free(where[j]);
	free(qkey);
	free(split_err);
	return ok;
}
