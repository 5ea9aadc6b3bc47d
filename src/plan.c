/*
 * plan.c: the copy plan as an object: what the caller sets, the problems and
 * notes the build records, the COPY statements it writes, and the getters.
 * How columns are matched and the format chosen is in plan_build.c; how each
 * type is converted in plan_types.c; the catalog reads in plan_catalog.c.
 */
#include <stdio.h>
#include <string.h>

#include "plan_int.h"

pgcm_plan *
pgcm_plan_new(void)
{
	pgcm_plan *p = pgcm__calloc(1, sizeof *p);

	if (!p)
		return NULL;
	pgcm_format_init(&p->fmt, PGCM_FORMAT_TEXT);
	p->automatic = 1;
	return p;
}

/* replace: *slot = a copy of s (NULL stays NULL). */
static pgcm_status
replace(char **slot, const char *s)
{
	char *copy = NULL;

	if (s && !(copy = pgcm__strdup(s)))
		return PGCM_ERR_NOMEM;
	pgcm__free(*slot);
	*slot = copy;
	return PGCM_OK;
}

/* set_source: one of the three kinds of source, replacing any earlier one. */
static pgcm_status
set_source(pgcm_plan *p, enum pgcm__source_kind kind, PGconn *conn, const char *text)
{
	pgcm_status st;

	if (!p)
		return PGCM_ERR_ARG;
	if (p->built)
		return PGCM_ERR_STATE;
	if (kind != PGCM__SRC_STREAM && (!conn || !text || !*text))
		return PGCM_ERR_ARG;
	if ((st = replace(&p->src_text, text)) != PGCM_OK)
		return st;
	p->src_kind = kind;
	p->src_conn = conn;
	return PGCM_OK;
}

pgcm_status
pgcm_plan_set_source_table(pgcm_plan *p, PGconn *conn, const char *table)
{
	return set_source(p, PGCM__SRC_TABLE, conn, table);
}

pgcm_status
pgcm_plan_set_source_query(pgcm_plan *p, PGconn *conn, const char *query)
{
	return set_source(p, PGCM__SRC_QUERY, conn, query);
}

pgcm_status
pgcm_plan_set_source_stream(pgcm_plan *p)
{
	return set_source(p, PGCM__SRC_STREAM, NULL, NULL);
}

/* add_target: a server target (conn) or a stream target (conn NULL). */
static pgcm_status
add_target(pgcm_plan *p, PGconn *conn, const char *table, size_t *index)
{
	pgcm__target *v, *t;

	if (!p)
		return PGCM_ERR_ARG;
	if (p->built)
		return PGCM_ERR_STATE;
	v = pgcm__realloc(p->targets, (p->ntargets + 1) * sizeof *v);
	if (!v)
		return PGCM_ERR_NOMEM;
	p->targets = v;
	t = &p->targets[p->ntargets];
	memset(t, 0, sizeof *t);
	t->conn = conn;
	if (table && !(t->table = pgcm__strdup(table)))
		return PGCM_ERR_NOMEM;
	if (index)
		*index = p->ntargets;
	p->ntargets++;
	return PGCM_OK;
}

pgcm_status
pgcm_plan_add_target(pgcm_plan *p, PGconn *conn, const char *table, size_t *index)
{
	if (!conn || (table && !*table))
		return PGCM_ERR_ARG;
	return add_target(p, conn, table, index);
}

pgcm_status
pgcm_plan_add_target_stream(pgcm_plan *p, size_t *index)
{
	return add_target(p, NULL, NULL, index);
}

pgcm_status
pgcm_plan_set_columns(pgcm_plan *p, const char *columns)
{
	if (!p)
		return PGCM_ERR_ARG;
	return p->built ? PGCM_ERR_STATE : replace(&p->columns, columns);
}

pgcm_status
pgcm_plan_set_format(pgcm_plan *p, const pgcm_format *fmt, int automatic)
{
	if (!p || !fmt || (automatic && fmt->kind == PGCM_FORMAT_BINARY))
		return PGCM_ERR_ARG;
	if (p->built)
		return PGCM_ERR_STATE;
	p->fmt = *fmt;
	p->automatic = automatic != 0;
	return PGCM_OK;
}

pgcm_status
pgcm_plan_set_null_string(pgcm_plan *p, const char *null_string)
{
	if (!p)
		return PGCM_ERR_ARG;
	return p->built ? PGCM_ERR_STATE : replace(&p->null_string, null_string);
}

pgcm_status
pgcm_plan_set_encoding(pgcm_plan *p, const char *encoding)
{
	if (!p)
		return PGCM_ERR_ARG;
	return p->built ? PGCM_ERR_STATE : replace(&p->encoding, encoding);
}

pgcm_status
pgcm_plan_set_header_line(pgcm_plan *p, const char *line, size_t len)
{
	char *copy;

	if (!p || !line)
		return PGCM_ERR_ARG;
	if (p->built)
		return PGCM_ERR_STATE;
	if (!(copy = pgcm__malloc(len + 1)))
		return PGCM_ERR_NOMEM;
	memcpy(copy, line, len);
	copy[len] = '\0';
	pgcm__free(p->header);
	p->header = copy;
	p->header_len = len;
	p->header_set = 1;
	return PGCM_OK;
}

pgcm_status
pgcm_plan_set_header_match_on_targets(pgcm_plan *p, int on)
{
	if (!p)
		return PGCM_ERR_ARG;
	if (p->built)
		return PGCM_ERR_STATE;
	p->header_match_targets = on != 0;
	return PGCM_OK;
}

/* add_finding: append to a list of problems or notes; marks the plan nomem on failure. */
static void
add_finding(pgcm_plan *p, pgcm__finding **list, size_t *n, long target, const char *table,
            const char *column, const char *fmt, va_list ap)
{
	pgcm__finding *v = pgcm__realloc(*list, (*n + 1) * sizeof *v), *f;

	if (!v) {
		p->nomem = 1;
		return;
	}
	*list = v;
	f = &v[*n];
	memset(f, 0, sizeof *f);
	f->table = pgcm__strdup(table ? table : "");
	f->column = pgcm__strdup(column ? column : "");
	f->message = pgcm__vasprintf(fmt, ap);
	if (!f->table || !f->column || !f->message) {
		pgcm__free(f->table);
		pgcm__free(f->column);
		pgcm__free(f->message);
		p->nomem = 1;
		return;
	}
	f->pub.target = target;
	f->pub.table = f->table;
	f->pub.column = f->column;
	f->pub.message = f->message;
	(*n)++;
}

void
pgcm__plan_problem(pgcm_plan *p, long target, const char *table, const char *column,
                   const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	add_finding(p, &p->problems, &p->nproblems, target, table, column, fmt, ap);
	va_end(ap);
}

void
pgcm__plan_note(pgcm_plan *p, long target, const char *table, const char *column,
                const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	add_finding(p, &p->notes, &p->nnotes, target, table, column, fmt, ap);
	va_end(ap);
}

/* option: ", NAME 'value'" when value differs from the format's default. */
static void
option(pgcm__buf *b, PGconn *conn, const char *name, char value, char dflt)
{
	char s[2] = {value, '\0'};

	if (value == dflt)
		return;
	pgcm__buf_addf(b, ", %s ", name);
	pgcm__buf_add_literal(b, conn, s);
}

/* with_list: the WITH list of one COPY, its literals quoted on conn. */
static char *
with_list(const pgcm_plan *p, PGconn *conn, int target)
{
	static const char *const names[] = {"text", "csv", "binary"};
	pgcm_format d;
	pgcm__buf b = {0};

	pgcm_format_init(&d, p->kind);
	pgcm__buf_addf(&b, "(FORMAT %s", names[p->kind]);
	if (p->kind != PGCM_FORMAT_BINARY) {
		if (p->fmt.header)
			pgcm__buf_add(&b, target && p->header_match_targets ? ", HEADER MATCH" : ", HEADER true");
		option(&b, conn, "DELIMITER", p->fmt.delimiter, d.delimiter);
		if (p->kind == PGCM_FORMAT_CSV) {
			option(&b, conn, "QUOTE", p->fmt.quote, d.quote);
			option(&b, conn, "ESCAPE", p->fmt.escape, p->fmt.quote);
		}
		if (p->null_string) {
			pgcm__buf_add(&b, ", NULL ");
			pgcm__buf_add_literal(&b, conn, p->null_string);
		}
		if (p->encoding) {
			pgcm__buf_add(&b, ", ENCODING ");
			pgcm__buf_add_literal(&b, conn, p->encoding);
		}
	}
	pgcm__buf_add(&b, ")");
	return pgcm__buf_take(&b);
}

/* column_list: "(a, b)" quoted on conn. */
static char *
column_list(const pgcm_plan *p, PGconn *conn)
{
	pgcm__buf b = {0};

	pgcm__buf_add(&b, "(");
	for (size_t i = 0; i < p->ncols; i++) {
		if (i)
			pgcm__buf_add(&b, ", ");
		pgcm__buf_add_ident(&b, conn, p->cols[i].name);
	}
	pgcm__buf_add(&b, ")");
	return pgcm__buf_take(&b);
}

/*
 * source_command: COPY rel (cols) TO STDOUT where COPY can read the table
 * itself (a plain table, every column as it is, none generated: COPY's
 * column list refuses generated columns); COPY (SELECT ...) TO STDOUT
 * otherwise.  A query whose output is the stream exactly is kept as written.
 */
static pgcm_status
source_command(pgcm_plan *p)
{
	int plain = 1;
	pgcm__buf sel = {0}, cmd = {0};
	char *cols;

	for (size_t i = 0; i < p->ncols; i++) {
		const pgcm__column *c = &p->cols[i];
		plain &= !c->expr && !c->src->generated;
		if (i)
			pgcm__buf_add(&sel, ", ");
		if (c->expr)
			pgcm__buf_addf(&sel, "%s AS %s", c->expr, c->qname);
		else
			pgcm__buf_add(&sel, c->qname);
	}
	if (!(p->select_list = pgcm__buf_take(&sel)) || !(p->source_with = with_list(p, p->src_conn, 0)))
		return PGCM_ERR_NOMEM;
	if (p->src_kind == PGCM__SRC_QUERY) {
		int whole = plain && p->ncols == p->src_rel.ncols;
		for (size_t i = 0; whole && i < p->ncols; i++)
			whole = p->cols[i].src == &p->src_rel.cols[i];
		p->from = pgcm__asprintf("(%s) AS pgcm_query", p->src_text);
		if (whole)
			pgcm__buf_addf(&cmd, "COPY (%s) TO STDOUT %s", p->src_text, p->source_with);
		else
			pgcm__buf_addf(&cmd, "COPY (SELECT %s FROM %s) TO STDOUT %s", p->select_list,
			               p->from ? p->from : "", p->source_with);
	} else {
		int table = p->src_rel.relkind == 'r';
		p->from = pgcm__asprintf("%s%s", table || p->src_rel.relkind == 'f' ? "ONLY " : "",
		                         p->src_rel.qualified);
		if (table && plain) {
			if (!(cols = column_list(p, p->src_conn))) {
				pgcm__buf_reset(&cmd);
				return PGCM_ERR_NOMEM;
			}
			pgcm__buf_addf(&cmd, "COPY %s %s TO STDOUT %s", p->src_rel.qualified, cols,
			               p->source_with);
			pgcm__free(cols);
		} else {
			pgcm__buf_addf(&cmd, "COPY (SELECT %s FROM %s) TO STDOUT %s", p->select_list,
			               p->from ? p->from : "", p->source_with);
		}
	}
	p->source_command = pgcm__buf_take(&cmd);
	return p->from && p->source_command ? PGCM_OK : PGCM_ERR_NOMEM;
}

/* pgcm__plan_commands: every statement, once the plan has no problem that prevents it. */
pgcm_status
pgcm__plan_commands(pgcm_plan *p)
{
	pgcm_status st;

	if (p->ncols == 0)
		return PGCM_OK;
	if (p->src_kind != PGCM__SRC_STREAM && p->src_found && (st = source_command(p)) != PGCM_OK)
		return st;
	for (size_t i = 0; i < p->ntargets; i++) {
		pgcm__target *t = &p->targets[i];
		char *cols, *with;

		if (!t->conn || !t->found)
			continue;
		cols = column_list(p, t->conn);
		with = with_list(p, t->conn, 1);
		if (cols && with)
			t->command = pgcm__asprintf("COPY %s %s FROM STDIN %s", t->rel.qualified, cols, with);
		pgcm__free(cols);
		pgcm__free(with);
		if (!t->command)
			return PGCM_ERR_NOMEM;
	}
	return PGCM_OK;
}

pgcm_status
pgcm_plan_build(pgcm_plan *p)
{
	pgcm_status st;

	if (!p)
		return PGCM_ERR_ARG;
	if (p->built) {
		pgcm__set_msg(&p->errmsg, "the plan was built already");
		return PGCM_ERR_STATE;
	}
	if (p->src_kind == PGCM__SRC_NONE || p->ntargets == 0) {
		pgcm__set_msg(&p->errmsg, "a plan needs a source and at least one target");
		return PGCM_ERR_ARG;
	}
	p->built = 1;
	st = pgcm__plan_decide(p);
	if (st == PGCM_OK && p->nomem)
		st = PGCM_ERR_NOMEM;
	if (st != PGCM_OK) {
		pgcm__set_msg(&p->errmsg, "%s", pgcm_strerror(st));
		return st;
	}
	if (p->nproblems) {
		pgcm__set_msg(&p->errmsg, "%zu problem%s; the first: %s", p->nproblems,
		              p->nproblems == 1 ? "" : "s", p->problems[0].message);
		return PGCM_ERR_PLAN;
	}
	return PGCM_OK;
}

size_t
pgcm_plan_problem_count(const pgcm_plan *p)
{
	return p ? p->nproblems : 0;
}

const pgcm_plan_finding *
pgcm_plan_problem(const pgcm_plan *p, size_t i)
{
	return p && i < p->nproblems ? &p->problems[i].pub : NULL;
}

size_t
pgcm_plan_note_count(const pgcm_plan *p)
{
	return p ? p->nnotes : 0;
}

const pgcm_plan_finding *
pgcm_plan_note(const pgcm_plan *p, size_t i)
{
	return p && i < p->nnotes ? &p->notes[i].pub : NULL;
}

size_t
pgcm_plan_column_count(const pgcm_plan *p)
{
	return p && p->built ? p->ncols : 0;
}

pgcm_status
pgcm_plan_column(const pgcm_plan *p, size_t i, size_t t, pgcm_plan_column_info *out)
{
	const pgcm__target *tg;

	if (!p || !out || !p->built || i >= p->ncols || t >= p->ntargets)
		return PGCM_ERR_ARG;
	tg = &p->targets[t];
	memset(out, 0, sizeof *out);
	out->name = p->cols[i].name;
	out->source_type = p->cols[i].src ? p->cols[i].src->display : NULL;
	out->source_expr = p->cols[i].expr;
	if (tg->cells) {
		out->target_type = tg->cols[i] ? tg->cols[i]->display : NULL;
		out->conversion = tg->cells[i].conv;
		out->detail = tg->cells[i].detail ? tg->cells[i].detail : tg->cells[i].problem;
		if (!tg->cols[i])
			out->detail = "the target has no such column";
	} else {
		out->conversion = tg->conn ? PGCM_CONV_REFUSED : p->cols[i].src ? PGCM_CONV_SAME : PGCM_CONV_TEXT;
		out->detail = tg->conn ? "not planned (see the problems)" : "the stream as it is";
		if (tg->conn && tg->found && tg->cols && tg->cols[i])
			out->target_type = tg->cols[i]->display;
	}
	return PGCM_OK;
}

pgcm_status
pgcm_plan_format(const pgcm_plan *p, pgcm_format *fmt)
{
	if (!p || !fmt)
		return PGCM_ERR_ARG;
	if (!p->built)
		return PGCM_ERR_STATE;
	pgcm_format_init(fmt, p->kind);
	if (p->kind != PGCM_FORMAT_BINARY) {
		fmt->header = p->fmt.header;
		fmt->delimiter = p->fmt.delimiter;
		fmt->quote = p->fmt.quote;
		fmt->escape = p->fmt.escape;
	}
	fmt->max_row = p->fmt.max_row ? p->fmt.max_row : fmt->max_row;
	return PGCM_OK;
}

const char *
pgcm_plan_format_reason(const pgcm_plan *p)
{
	return p && p->reason ? p->reason : "";
}

const char *
pgcm_plan_source_command(const pgcm_plan *p)
{
	return p && !p->nproblems ? p->source_command : NULL;
}

char *
pgcm_plan_source_command_range(const pgcm_plan *p, const char *where)
{
	if (!p || !where || p->nproblems || !p->select_list || !p->from
	    || p->src_kind != PGCM__SRC_TABLE)
		return NULL;
	return pgcm__asprintf("COPY (SELECT %s FROM %s WHERE (%s)) TO STDOUT %s", p->select_list,
	                      p->from, where, p->source_with);
}

const char *
pgcm_plan_source_relation(const pgcm_plan *p)
{
	return p && p->src_kind == PGCM__SRC_TABLE && p->src_found ? p->from : NULL;
}

const char *
pgcm_plan_source_table(const pgcm_plan *p)
{
	return p && p->src_kind == PGCM__SRC_TABLE && p->src_found ? p->src_rel.qualified : NULL;
}

char
pgcm_plan_source_relkind(const pgcm_plan *p)
{
	return p && p->src_kind == PGCM__SRC_TABLE && p->src_found ? p->src_rel.relkind : 0;
}

const char *
pgcm_plan_source_name(const pgcm_plan *p)
{
	return p && p->src_found ? p->src_rel.display : NULL;
}

size_t
pgcm_plan_target_count(const pgcm_plan *p)
{
	return p ? p->ntargets : 0;
}

const char *
pgcm_plan_target_command(const pgcm_plan *p, size_t i)
{
	return p && i < p->ntargets && !p->nproblems ? p->targets[i].command : NULL;
}

const char *
pgcm_plan_target_name(const pgcm_plan *p, size_t i)
{
	return p && i < p->ntargets && p->targets[i].found ? p->targets[i].rel.display : NULL;
}

const char *
pgcm_plan_errmsg(const pgcm_plan *p)
{
	return p && p->errmsg ? p->errmsg : "";
}

static void
findings_free(pgcm__finding *f, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		pgcm__free(f[i].table);
		pgcm__free(f[i].column);
		pgcm__free(f[i].message);
	}
	pgcm__free(f);
}

void
pgcm_plan_free(pgcm_plan *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->ntargets; i++) {
		pgcm__target *t = &p->targets[i];
		for (size_t c = 0; t->cells && c < p->ncols; c++)
			pgcm__cell_free(&t->cells[c]);
		pgcm__free(t->cells);
		pgcm__free(t->cols);
		pgcm__free(t->table);
		pgcm__free(t->command);
		pgcm__server_free(&t->server);
		pgcm__rel_free(&t->rel);
	}
	pgcm__free(p->targets);
	for (size_t i = 0; i < p->ncols; i++) {
		pgcm__free(p->cols[i].name);
		pgcm__free(p->cols[i].qname);
	}
	pgcm__free(p->cols);
	pgcm__server_free(&p->src);
	pgcm__rel_free(&p->src_rel);
	findings_free(p->problems, p->nproblems);
	findings_free(p->notes, p->nnotes);
	pgcm__free(p->src_text);
	pgcm__free(p->columns);
	pgcm__free(p->null_string);
	pgcm__free(p->encoding);
	pgcm__free(p->header);
	pgcm__free(p->reason);
	pgcm__free(p->select_list);
	pgcm__free(p->from);
	pgcm__free(p->source_with);
	pgcm__free(p->source_command);
	pgcm__free(p->errmsg);
	pgcm__free(p);
}

void
pgcm_free(void *ptr)
{
	pgcm__free(ptr);
}
