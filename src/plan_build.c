/*
 * plan_build.c: what a plan decides: the relations its names mean on each
 * server, the columns of the stream (by name), and how each column reaches
 * each target (plan_types.c), then the checks and the format (plan_format.c).
 * Every problem is recorded (not only the first), so a dry run can list them
 * all.
 */
#include <stdio.h>
#include <string.h>

#include "plan_int.h"

const char *
pgcm__plan_table(const pgcm_plan *p)
{
	if (p->src_found)
		return p->src_rel.display;
	for (size_t i = 0; i < p->ntargets; i++)
		if (p->targets[i].found)
			return p->targets[i].rel.display;
	return p->src_kind == PGCM__SRC_QUERY ? "(query)" : "";
}

const char *
pgcm__plan_endpoint(long target, char *buf, size_t size)
{
	/* Always into buf: callers use either the buffer or the return value. */
	if (target < 0)
		snprintf(buf, size, "source");
	else
		snprintf(buf, size, "target %ld", target + 1);
	return buf;
}

/* name_ok: each part of a parsed name fits the server's identifier limit. */
static int
name_ok(pgcm_plan *p, long target, const char *what, const pgcm__names *name)
{
	char who[32];

	for (size_t i = 0; i < name->n; i++) {
		size_t len = strlen(name->v[i]);
		if (len > PGCM__NAME_MAX) {
			pgcm__plan_problem(p, target, "", "", "%s: %s \"%s\" is %zu bytes long: the server "
			                   "would silently use its first %d bytes, another name",
			                   pgcm__plan_endpoint(target, who, sizeof who), what, name->v[i], len,
			                   PGCM__NAME_MAX);
			return 0;
		}
	}
	return 1;
}

static const char *
relkind_name(char relkind)
{
	switch (relkind) {
	case 'r': return "a table";
	case 'p': return "a partitioned table";
	case 'v': return "a view";
	case 'm': return "a materialized view";
	case 'f': return "a foreign table";
	case 'S': return "a sequence";
	case 'i': case 'I': return "an index";
	case 'c': return "a composite type";
	default: return "not a table";
	}
}

/*
 * resolve: what text names on server s, checked: the syntax, the 63-byte
 * limit, the database of a three-part name, existence.  Returns PGCM_OK
 * (*found says whether it exists) or PGCM_ERR_NOMEM.
 */
static pgcm_status
resolve(pgcm_plan *p, long target, pgcm__server *s, const char *text, pgcm__rel *rel, int *found)
{
	pgcm__names name;
	const char *err = pgcm__parse_names(text, '.', 3, &name);
	char who[32];
	pgcm_status st;
	int qualified;

	*found = 0;
	pgcm__plan_endpoint(target, who, sizeof who);
	if (err) {
		if (strcmp(err, "out of memory") == 0)
			return PGCM_ERR_NOMEM;
		pgcm__plan_problem(p, target, text, "", "%s: table name \"%s\": %s", who, text, err);
		return PGCM_OK;
	}
	if (!name_ok(p, target, "table name part", &name)) {
		pgcm__names_free(&name);
		return PGCM_OK;
	}
	if (name.n == 3 && strcmp(name.v[0], s->database) != 0) {
		pgcm__plan_problem(p, target, text, "", "%s: table name \"%s\" names database \"%s\", but "
		                   "the session is connected to \"%s\"", who, text, name.v[0], s->database);
		pgcm__names_free(&name);
		return PGCM_OK;
	}
	qualified = name.n > 1;
	st = pgcm__rel_resolve(s, &name, rel, found);
	pgcm__names_free(&name);
	if (st == PGCM_ERR_SERVER) {
		pgcm__plan_problem(p, target, text, "", "%s: reading the catalog for \"%s\": %s", who, text,
		                   s->error);
		*found = 0;
		return PGCM_OK;
	}
	if (st == PGCM_OK && !*found)
		pgcm__plan_problem(p, target, text, "", "%s: table \"%s\" does not exist%s", who, text,
		                   qualified ? "" : " in the session's search_path");
	return st;
}

/* read_server: a server's settings; a failure is a problem of that endpoint. */
static pgcm_status
read_server(pgcm_plan *p, long target, pgcm__server *s, PGconn *conn, int *readable)
{
	char who[32];
	pgcm_status st = pgcm__server_read(s, conn);

	*readable = st == PGCM_OK;
	if (st == PGCM_ERR_SERVER)
		pgcm__plan_problem(p, target, "", "", "%s: cannot read the server's settings: %s",
		                   pgcm__plan_endpoint(target, who, sizeof who), s->error);
	return st == PGCM_ERR_NOMEM ? st : PGCM_OK;
}

/* resolve_source: the source relation or query, and what a query over it must know. */
static pgcm_status
resolve_source(pgcm_plan *p)
{
	pgcm_status st;

	if (p->src_kind == PGCM__SRC_STREAM)
		return PGCM_OK;
	if ((st = read_server(p, -1, &p->src, p->src_conn, &p->src_readable)) != PGCM_OK
	    || !p->src_readable)
		return st;
	if (p->src_kind == PGCM__SRC_QUERY) {
		st = pgcm__query_columns(&p->src, p->src_text, &p->src_rel);
		if (st == PGCM_ERR_SERVER) {
			pgcm__plan_problem(p, -1, "", "", "source: the query cannot be prepared: %s", p->src.error);
			return PGCM_OK;
		}
		p->src_found = st == PGCM_OK;
		return st;
	}
	if ((st = resolve(p, -1, &p->src, p->src_text, &p->src_rel, &p->src_found)) != PGCM_OK
	    || !p->src_found)
		return st;
	switch (p->src_rel.relkind) {
	case 'r':
		if (p->src_rel.has_children)
			pgcm__plan_note(p, -1, p->src_rel.display, "", "%s has inheritance children: only its "
			                "own rows are copied (ONLY), as COPY %s TO does", p->src_rel.display,
			                p->src_rel.display);
		break;
	case 'p':
		pgcm__plan_note(p, -1, p->src_rel.display, "", "%s is a partitioned table: the rows of "
		                "every partition are read with COPY (SELECT ...)", p->src_rel.display);
		break;
	case 'v': case 'm': case 'f':
		pgcm__plan_note(p, -1, p->src_rel.display, "", "%s is %s: it is read with COPY (SELECT ...)",
		                p->src_rel.display, relkind_name(p->src_rel.relkind));
		break;
	default:
		pgcm__plan_problem(p, -1, p->src_rel.display, "", "source: %s is %s, not a table or view",
		                   p->src_rel.display, relkind_name(p->src_rel.relkind));
		p->src_found = 0;
	}
	return PGCM_OK;
}

/* resolve_target: a server target's table (the source's name unless given), checked. */
static pgcm_status
resolve_target(pgcm_plan *p, size_t i)
{
	pgcm__target *t = &p->targets[i];
	const char *name = t->table ? t->table : p->src_kind == PGCM__SRC_TABLE ? p->src_text : NULL;
	pgcm_status st;

	if (!t->conn)
		return PGCM_OK;
	if ((st = read_server(p, (long) i, &t->server, t->conn, &t->readable)) != PGCM_OK || !t->readable)
		return st;
	if (!name) {
		pgcm__plan_problem(p, (long) i, "", "", "target %zu: no table named (a query or a stream "
		                   "source needs the target's table)", i + 1);
		return PGCM_OK;
	}
	if ((st = resolve(p, (long) i, &t->server, name, &t->rel, &t->found)) != PGCM_OK || !t->found)
		return st;
	if (t->rel.relkind == 'p' && t->server.version < 110000) {
		pgcm__plan_problem(p, (long) i, t->rel.display, "", "target %zu: %s is a partitioned table, "
		                   "which COPY loads only from PostgreSQL 11 (the server runs %d)", i + 1,
		                   t->rel.display, t->server.version);
		t->found = 0;
	} else if (t->rel.relkind != 'r' && t->rel.relkind != 'p' && t->rel.relkind != 'f') {
		pgcm__plan_problem(p, (long) i, t->rel.display, "", "target %zu: %s is %s: COPY loads only "
		                   "tables", i + 1, t->rel.display, relkind_name(t->rel.relkind));
		t->found = 0;
	}
	return PGCM_OK;
}

const pgcm__attr *
pgcm__rel_find(const pgcm__rel *rel, const char *name)
{
	for (size_t i = 0; i < rel->ncols; i++)
		if (strcmp(rel->cols[i].name, name) == 0)
			return &rel->cols[i];
	return NULL;
}

const pgcm__target *
pgcm__plan_first_target(const pgcm_plan *p)
{
	for (size_t i = 0; i < p->ntargets; i++)
		if (p->targets[i].conn && p->targets[i].found)
			return &p->targets[i];
	return NULL;
}

/* push_col: add a stream column. */
static pgcm_status
push_col(pgcm_plan *p, const char *name, const pgcm__attr *src)
{
	pgcm__column *v = pgcm__realloc(p->cols, (p->ncols + 1) * sizeof *v), *c;

	if (!v)
		return PGCM_ERR_NOMEM;
	p->cols = v;
	c = &p->cols[p->ncols];
	memset(c, 0, sizeof *c);
	c->src = src;
	if (!(c->name = pgcm__strdup(name)))
		return PGCM_ERR_NOMEM;
	p->ncols++;
	return PGCM_OK;
}

/*
 * candidates: the columns the stream would carry before the targets are
 * looked at: the column list (each checked), or every source column, or a
 * stream source's first target's non-generated columns.
 */
static pgcm_status
candidates(pgcm_plan *p, pgcm__names *out)
{
	const pgcm__rel *rel = p->src_kind == PGCM__SRC_STREAM ? NULL : &p->src_rel;
	const pgcm__target *first = pgcm__plan_first_target(p);
	pgcm__names list = {0};
	const char *err;

	memset(out, 0, sizeof *out);
	if (p->columns) {
		err = pgcm__parse_names(p->columns, ',', 1600, &list);
		if (err) {
			if (strcmp(err, "out of memory") == 0)
				return PGCM_ERR_NOMEM;
			pgcm__plan_problem(p, -1, pgcm__plan_table(p), "", "column list \"%s\": %s", p->columns, err);
			return PGCM_OK;
		}
		if (!name_ok(p, -1, "column name", &list)) {
			pgcm__names_free(&list);
			return PGCM_OK;
		}
		for (size_t i = 0; i < list.n; i++)
			for (size_t j = 0; j < i; j++)
				if (strcmp(list.v[i], list.v[j]) == 0)
					pgcm__plan_problem(p, -1, pgcm__plan_table(p), list.v[i], "table %s, column %s: "
					                   "listed twice in the column list", pgcm__plan_table(p), list.v[i]);
		for (size_t i = 0; rel && i < list.n; i++)
			if (!pgcm__rel_find(rel, list.v[i]))
				pgcm__plan_problem(p, -1, rel->display ? rel->display : "", list.v[i],
				                   "%s %s has no column %s (the column list names it)",
				                   p->src_kind == PGCM__SRC_QUERY ? "the source query" : "source table",
				                   p->src_kind == PGCM__SRC_QUERY ? "" : rel->display, list.v[i]);
		*out = list;
		return PGCM_OK;
	}
	if (!rel && !first)
		return PGCM_OK;
	for (size_t i = 0; i < (rel ? rel->ncols : first->rel.ncols); i++) {
		const pgcm__attr *a = rel ? &rel->cols[i] : &first->rel.cols[i];
		char **v;
		if (!rel && a->generated)
			continue;
		if (!(v = pgcm__realloc(out->v, (out->n + 1) * sizeof *v)))
			return PGCM_ERR_NOMEM;
		out->v = v;
		if (!(out->v[out->n] = pgcm__strdup(a->name)))
			return PGCM_ERR_NOMEM;
		out->n++;
	}
	return PGCM_OK;
}

/*
 * keep_column: whether candidate name goes into the stream, by what the
 * targets have: a column generated on every target that has it is left out
 * (the targets compute it; a source column list naming it is a problem, as
 * the server would refuse it); generated on some targets only, it is a
 * problem (one stream serves all); missing on a target, it is a problem.
 */
static int
keep_column(pgcm_plan *p, const char *name, int listed)
{
	size_t gen = 0, plain = 0, plain_at = 0;

	for (size_t i = 0; i < p->ntargets; i++) {
		pgcm__target *t = &p->targets[i];
		const pgcm__attr *a;
		if (!t->conn || !t->found)
			continue;
		if (!(a = pgcm__rel_find(&t->rel, name)))
			pgcm__plan_problem(p, (long) i, t->rel.display, name, "table %s, column %s: target %zu "
			                   "(%s) has no such column%s", pgcm__plan_table(p), name, i + 1,
			                   t->rel.display, listed ? "" : "; leave it out with a column list "
			                   "(--columns) to copy the others");
		else if (a->generated)
			gen++;
		else if (!plain++)
			plain_at = i;
	}
	if (!gen)
		return 1;
	for (size_t i = 0; i < p->ntargets; i++) {
		pgcm__target *t = &p->targets[i];
		const pgcm__attr *a = t->conn && t->found ? pgcm__rel_find(&t->rel, name) : NULL;
		if (!a || !a->generated)
			continue;
		if (listed)
			pgcm__plan_problem(p, (long) i, t->rel.display, name, "table %s, column %s: generated on "
			                   "target %zu, which computes it; leave it out of the column list",
			                   pgcm__plan_table(p), name, i + 1);
		else if (plain)
			pgcm__plan_problem(p, (long) i, t->rel.display, name, "table %s, column %s: generated on "
			                   "target %zu but not on target %zu: one stream cannot leave it out for "
			                   "one target only", pgcm__plan_table(p), name, i + 1, plain_at + 1);
	}
	return 0;
}

/* target_extras: what happens on each target to the columns the stream does not carry. */
static void
target_extras(pgcm_plan *p)
{
	for (size_t i = 0; i < p->ntargets; i++) {
		pgcm__target *t = &p->targets[i];
		if (!t->conn || !t->found)
			continue;
		for (size_t k = 0; k < t->rel.ncols; k++) {
			const pgcm__attr *a = &t->rel.cols[k];
			size_t c = 0;
			while (c < p->ncols && strcmp(p->cols[c].name, a->name) != 0)
				c++;
			if (c < p->ncols) {
				if (a->identity)
					pgcm__plan_note(p, (long) i, t->rel.display, a->name, "column %s is an identity "
					                "column on target %zu: the source's values are stored as they are "
					                "(its sequence is not advanced)", a->name, i + 1);
				continue;
			}
			if (a->generated)
				pgcm__plan_note(p, (long) i, t->rel.display, a->name, "column %s is generated on "
				                "target %zu: computed there, not copied", a->name, i + 1);
			else if (a->notnull && !a->hasdef && !a->identity)
				pgcm__plan_problem(p, (long) i, t->rel.display, a->name, "table %s, column %s: NOT "
				                   "NULL without a default on target %zu, and the stream does not "
				                   "carry it", t->rel.display, a->name, i + 1);
			else
				pgcm__plan_note(p, (long) i, t->rel.display, a->name, "column %s of target %zu is "
				                "not copied: it gets its %s", a->name, i + 1,
				                a->identity ? "next identity value" : "default");
		}
	}
}

/* choose_columns: the stream's columns, by name, in the source's (or the list's) order. */
static pgcm_status
choose_columns(pgcm_plan *p)
{
	pgcm__names cand;
	pgcm_status st = candidates(p, &cand);
	const pgcm__rel *rel = p->src_kind == PGCM__SRC_STREAM ? NULL : &p->src_rel;

	if (st != PGCM_OK) {
		pgcm__names_free(&cand);
		return st;
	}
	for (size_t i = 0; i < cand.n && st == PGCM_OK; i++) {
		const pgcm__attr *a = rel ? pgcm__rel_find(rel, cand.v[i]) : NULL;
		size_t twice = 0;
		if (rel && !a)
			continue;  /* reported by candidates() */
		for (size_t k = 0; rel && k < rel->ncols; k++)
			twice += strcmp(rel->cols[k].name, cand.v[i]) == 0;
		if (twice > 1)
			pgcm__plan_problem(p, -1, pgcm__plan_table(p), cand.v[i], "the source query has %zu "
			                   "output columns named %s: name them apart (AS)", twice, cand.v[i]);
		if (!keep_column(p, cand.v[i], p->columns != NULL))
			continue;
		if (a && a->generated)
			pgcm__plan_note(p, -1, rel->display, a->name, "column %s is generated on the source: "
			                "its values are copied (read with SELECT)", a->name);
		st = push_col(p, cand.v[i], a);
	}
	pgcm__names_free(&cand);
	if (st == PGCM_OK)
		target_extras(p);
	if (st == PGCM_OK && p->ncols == 0 && (rel ? p->src_found : pgcm__plan_first_target(p) != NULL))
		pgcm__plan_problem(p, -1, pgcm__plan_table(p), "", "table %s: no column to copy",
		                   pgcm__plan_table(p));
	return st;
}

/* quote_columns: each stream column's name quoted for the source's select list. */
static pgcm_status
quote_columns(pgcm_plan *p)
{
	for (size_t i = 0; i < p->ncols; i++) {
		pgcm__buf b = {0};
		pgcm__buf_add_ident(&b, p->src_conn, p->cols[i].name);
		if (!(p->cols[i].qname = pgcm__buf_take(&b)))
			return PGCM_ERR_NOMEM;
	}
	return PGCM_OK;
}

/*
 * decide_cells: how every stream column reaches every server target, and
 * the one source expression all targets share.  A target needing another
 * expression than the first is refused, naming both.
 */
static pgcm_status
decide_cells(pgcm_plan *p)
{
	pgcm_status st;
	const char *table = pgcm__plan_table(p);

	for (size_t i = 0; i < p->ntargets; i++) {
		pgcm__target *t = &p->targets[i];
		if (!t->conn || !t->found)
			continue;
		t->cols = pgcm__calloc(p->ncols, sizeof *t->cols);
		t->cells = pgcm__calloc(p->ncols, sizeof *t->cells);
		if (!t->cols || !t->cells)
			return PGCM_ERR_NOMEM;
		for (size_t c = 0; c < p->ncols; c++) {
			pgcm__column_ref ref;
			t->cols[c] = pgcm__rel_find(&t->rel, p->cols[c].name);
			if (!t->cols[c]) {
				t->cells[c].conv = PGCM_CONV_REFUSED;
				continue;
			}
			if (!p->cols[c].src) {
				t->cells[c].conv = PGCM_CONV_TEXT;
				t->cells[c].target_type = t->cols[c]->display;
				if (!(t->cells[c].detail = pgcm__strdup("read by the target's input function")))
					return PGCM_ERR_NOMEM;
				continue;
			}
			ref.name = p->cols[c].name;
			ref.qname = p->cols[c].qname;
			ref.src = p->cols[c].src;
			ref.dst = t->cols[c];
			ref.target = (long) i;
			st = pgcm__decide(&p->src, &t->server, &ref, &t->cells[c]);
			if (st == PGCM_ERR_SERVER) {
				pgcm__plan_problem(p, (long) i, table, ref.name, "table %s, column %s: reading the "
				                   "catalogs: %s", table, ref.name,
				                   t->server.error ? t->server.error
				                   : p->src.error ? p->src.error : "a type vanished");
				t->cells[c].conv = PGCM_CONV_REFUSED;
				continue;
			}
			if (st != PGCM_OK)
				return st;
			if (t->cells[c].conv == PGCM_CONV_REFUSED)
				pgcm__plan_problem(p, (long) i, table, ref.name, "table %s, column %s: %s", table,
				                   ref.name, t->cells[c].problem);
		}
	}
	for (size_t c = 0; c < p->ncols; c++) {
		long first = -1;
		for (size_t i = 0; i < p->ntargets; i++) {
			pgcm__cell *cell = p->targets[i].cells ? &p->targets[i].cells[c] : NULL;
			const char *e;
			if (!cell || cell->conv == PGCM_CONV_REFUSED || !p->cols[c].src)
				continue;
			if (first < 0) {
				first = (long) i;
				p->cols[c].expr = cell->expr;
				continue;
			}
			e = p->cols[c].expr;
			if ((!e && !cell->expr) || (e && cell->expr && strcmp(e, cell->expr) == 0))
				continue;
			pgcm__plan_problem(p, (long) i, table, p->cols[c].name, "table %s, column %s: target %zu "
			                   "(%s: %s) and target %ld (%s: %s) need different conversions of the "
			                   "source's %s, but one stream serves both: copy them separately", table,
			                   p->cols[c].name, i + 1, cell->target_type, cell->detail, first + 1,
			                   p->targets[first].cells[c].target_type,
			                   p->targets[first].cells[c].detail, p->cols[c].src->display);
			cell->conv = PGCM_CONV_REFUSED;
		}
	}
	return PGCM_OK;
}

/* pgcm__plan_decide: the whole build, problem by problem. */
pgcm_status
pgcm__plan_decide(pgcm_plan *p)
{
	pgcm_status st;

	if ((st = resolve_source(p)) != PGCM_OK)
		return st;
	for (size_t i = 0; i < p->ntargets; i++)
		if ((st = resolve_target(p, i)) != PGCM_OK)
			return st;
	if (p->src_kind != PGCM__SRC_STREAM && !p->src_found)
		return PGCM_OK;
	if ((st = choose_columns(p)) != PGCM_OK)
		return st;
	if (p->src_kind != PGCM__SRC_STREAM && (st = quote_columns(p)) != PGCM_OK)
		return st;
	if ((st = decide_cells(p)) != PGCM_OK || (st = pgcm__plan_check_header(p)) != PGCM_OK
	    || (st = pgcm__plan_choose_format(p)) != PGCM_OK)
		return st;
	pgcm__plan_check_settings(p);
	if ((st = pgcm__plan_commands(p)) != PGCM_OK)
		return st;
	for (size_t i = 0; i < p->ntargets; i++)
		if (p->targets[i].server.nomem)
			return PGCM_ERR_NOMEM;
	return p->src.nomem ? PGCM_ERR_NOMEM : PGCM_OK;
}
