/*
 * compare_shape.c: what a comparison computes on each side (compare.h says
 * why): the copy plan of the table for one target gives the columns and
 * how each is converted; the source's catalog gives the key; the target's,
 * each column's type to convert to, its TimeZone and whether both servers
 * hash text alike.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pgcopyman.h"
#include "compare_shape.h"
#include "strbuf.h"

/*
 * The key: the primary key, else the unique index with the fewest key
 * columns, all NOT NULL, without expressions or a predicate; one row per
 * key column, in order.  %s: the number of key columns (INCLUDE columns are
 * not part of the key: indnkeyatts, from PostgreSQL 11).
 */
static const char key_sql[] =
	"WITH k AS (SELECT i.indexrelid, i.indisprimary, i.indkey::pg_catalog.int2[] AS cols, %s AS nkey "
	" FROM pg_catalog.pg_index i WHERE i.indrelid OPERATOR(pg_catalog.=) $1::pg_catalog.regclass "
	" AND i.indisunique AND i.indisvalid AND i.indpred IS NULL AND i.indexprs IS NULL "
	" AND NOT EXISTS (SELECT 1 FROM pg_catalog.unnest(i.indkey::pg_catalog.int2[]) WITH ORDINALITY AS u(n, o) "
	"  JOIN pg_catalog.pg_attribute a ON a.attrelid OPERATOR(pg_catalog.=) i.indrelid "
	"  AND a.attnum OPERATOR(pg_catalog.=) u.n WHERE u.o OPERATOR(pg_catalog.<=) %s AND NOT a.attnotnull) "
	" ORDER BY i.indisprimary DESC, 4, (SELECT c.relname FROM pg_catalog.pg_class c "
	"  WHERE c.oid OPERATOR(pg_catalog.=) i.indexrelid) COLLATE pg_catalog.\"C\" LIMIT 1) "
	"SELECT k.indisprimary, c.relname, a.attname, pg_catalog.format_type(a.atttypid, a.atttypmod), "
	"t.typcollation OPERATOR(pg_catalog.<>) 0, "
	"a.atttypid OPERATOR(pg_catalog.<) 16384 AND t.typtype OPERATOR(pg_catalog.=) 'b' "
	"FROM k JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) k.indexrelid "
	"CROSS JOIN pg_catalog.unnest(k.cols) WITH ORDINALITY AS u(n, o) "
	"JOIN pg_catalog.pg_attribute a ON a.attrelid OPERATOR(pg_catalog.=) $1::pg_catalog.regclass "
	" AND a.attnum OPERATOR(pg_catalog.=) u.n "
	"JOIN pg_catalog.pg_type t ON t.oid OPERATOR(pg_catalog.=) a.atttypid "
	"WHERE u.o OPERATOR(pg_catalog.<=) k.nkey ORDER BY u.o";

/* Each target column's type to convert to: a domain's base type (the source may lack the domain). */
static const char target_types_sql[] =
	"SELECT a.attname, pg_catalog.format_type("
	"CASE WHEN t.typtype OPERATOR(pg_catalog.=) 'd' THEN t.typbasetype ELSE a.atttypid END, "
	"CASE WHEN t.typtype OPERATOR(pg_catalog.=) 'd' THEN t.typtypmod ELSE a.atttypmod END) "
	"FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_type t ON t.oid OPERATOR(pg_catalog.=) a.atttypid "
	"WHERE a.attrelid OPERATOR(pg_catalog.=) $1::pg_catalog.regclass AND a.attnum OPERATOR(pg_catalog.>) 0 "
	"AND NOT a.attisdropped";

/* What makes text hash alike: the encoding, and the hash function itself (11 and later). */
static const char settings_sql[] =
	"SELECT pg_catalog.current_setting('TimeZone'), pg_catalog.current_setting('server_encoding')";
static const char probe_sql[] = "SELECT pg_catalog.hashtextextended('pgcopyman hash probe 0123456789', 0)";

/* set_error: the result is an error with this message (formatted). */
static void set_error(compare_result *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void
set_error(compare_result *r, const char *fmt, ...)
{
	va_list ap;

	free(r->message);
	va_start(ap, fmt);
	r->message = cli_strdup_vprintf(fmt, ap);
	va_end(ap);
	r->status = COMPARE_ERROR;
}

/* exec_rows: a query that must return rows; NULL with *msg (the server's, static in the result) otherwise. */
static PGresult *
exec_rows(PGconn *conn, const char *sql, int n, const char *const *params, char **err)
{
	PGresult *res = PQexecParams(conn, sql, n, NULL, params, NULL, NULL, 0);
	const char *msg;

	if (PQresultStatus(res) == PGRES_TUPLES_OK)
		return res;
	msg = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
	free(*err);
	*err = strdup(msg ? msg : PQerrorMessage(conn));
	PQclear(res);
	return NULL;
}

void
cmp_key_clear(cmp_key_info *k)
{
	for (size_t i = 0; i < k->n; i++) {
		free(k->cols[i].name);
		free(k->cols[i].type);
	}
	free(k->cols);
	free(k->desc);
	memset(k, 0, sizeof *k);
}

int
cmp_key_load(PGconn *src, const char *qrel, cmp_key_info *k, char **err)
{
	const char *nkey = PQserverVersion(src) >= 110000 ? "i.indnkeyatts" : "i.indnatts";
	const char *params[1] = {qrel};
	char *sql = cli_strdup_printf(key_sql, nkey, nkey);
	PGresult *res;
	cli_buf desc;
	int rows;

	memset(k, 0, sizeof *k);
	*err = NULL;
	if (!sql)
		return 0;
	res = exec_rows(src, sql, 1, params, err);
	free(sql);
	if (!res)
		return 0;
	rows = PQntuples(res);
	cli_buf_init(&desc);
	if (rows == 0)
		cli_buf_add(&desc, "no unique key: whole rows");
	else
		cli_buf_addf(&desc, "%s %s (", PQgetvalue(res, 0, 0)[0] == 't' ? "primary key" : "unique index",
		             PQgetvalue(res, 0, 1));
	if (rows > 0 && !(k->cols = calloc((size_t) rows, sizeof *k->cols)))
		desc.broken = 1;
	for (int r = 0; r < rows && !desc.broken; r++) {
		cmp_key_col *c = &k->cols[k->n++];
		c->name = strdup(PQgetvalue(res, r, 2));
		c->type = strdup(PQgetvalue(res, r, 3));
		c->collatable = PQgetvalue(res, r, 4)[0] == 't';
		c->builtin = PQgetvalue(res, r, 5)[0] == 't';
		if (!c->name || !c->type)
			desc.broken = 1;
		cli_buf_addf(&desc, "%s%s", r ? ", " : "", PQgetvalue(res, r, 2));
	}
	if (rows > 0)
		cli_buf_add(&desc, ")");
	PQclear(res);
	if (!(k->desc = cli_buf_take(&desc))) {
		cmp_key_clear(k);
		return 0;
	}
	return 1;
}

/* side_clear: free one side's SQL. */
static void
side_clear(cmp_side *s, size_t ncols, size_t nkey)
{
	free(s->from);
	free(s->row);
	free(s->hash);
	free(s->key);
	for (size_t i = 0; s->keys && i < nkey; i++)
		free(s->keys[i]);
	free(s->keys);
	free(s->display);
	free(s->notnull);
	for (size_t i = 0; s->cols && i < ncols; i++)
		free(s->cols[i]);
	free(s->cols);
}

void
cmp_shape_clear(cmp_shape *sh)
{
	side_clear(&sh->src, sh->ncols, sh->nkey);
	side_clear(&sh->dst, sh->ncols, sh->nkey);
	for (size_t i = 0; sh->key_types && i < sh->nkey; i++)
		free(sh->key_types[i]);
	free(sh->key_types);
	free(sh->key_c);
	for (size_t i = 0; sh->col_names && i < sh->ncols; i++)
		free(sh->col_names[i]);
	free(sh->col_names);
	free(sh->key_label);
	free(sh->timezone);
	memset(sh, 0, sizeof *sh);
}

/* quote: PQescapeIdentifier as a malloc'd string. */
static char *
quote(PGconn *conn, const char *name)
{
	char *q = PQescapeIdentifier(conn, name, strlen(name)), *out;

	if (!q)
		return NULL;
	out = strdup(q);
	PQfreemem(q);
	return out;
}

/*
 * length_guard: a type whose explicit cast cuts what its input refuses
 * (character varying(n), character(n), bit(n), bit varying(n)) needs the
 * source to say whether the value fits, as the copy would find out.  The
 * condition on text (the value's text), or NULL when t is no such type.
 */
static char *
length_guard(const char *t, const char *text)
{
	static const struct { const char *prefix; const char *test; } kinds[] = {
		{"character varying(", "pg_catalog.char_length(pg_catalog.rtrim(%s, ' ')) OPERATOR(pg_catalog.<=) %ld"},
		{"character(", "pg_catalog.char_length(pg_catalog.rtrim(%s, ' ')) OPERATOR(pg_catalog.<=) %ld"},
		{"bit varying(", "pg_catalog.length(%s) OPERATOR(pg_catalog.<=) %ld"},
		{"bit(", "pg_catalog.length(%s) OPERATOR(pg_catalog.=) %ld"},
	};
	size_t len = strlen(t);

	if (len == 0 || t[len - 1] != ')')
		return NULL;  /* arrays ("...[]") and unmodified types: no guard */
	for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
		size_t plen = strlen(kinds[i].prefix);
		if (strncmp(t, kinds[i].prefix, plen) == 0) {
			char *guard, *test = cli_strdup_printf(kinds[i].test, text, strtol(t + plen, NULL, 10));
			guard = test ? cli_strdup_printf("COALESCE(%s, true)", test) : NULL;
			free(test);
			return guard;
		}
	}
	return NULL;
}

/* target_cast_type: the target's type of column name, from target_types_sql's rows; NULL if none. */
static const char *
target_cast_type(const PGresult *types, const char *name)
{
	for (int r = 0; r < PQntuples(types); r++)
		if (strcmp(PQgetvalue(types, r, 0), name) == 0)
			return PQgetvalue(types, r, 1);
	return NULL;
}

/* The guards of length_guard, appended as columns of their own after the plan's. */
typedef struct builder {
	char **guards;        /* one per plan column at most */
	char **guard_names;
	size_t nguards;
} builder;

/*
 * add_column: column i of the plan: its expression on each side, and its
 * guard.  Returns 1, or 0 with r set (an error).
 */
static int
add_column(cmp_shape *sh, builder *b, PGconn *src, const pgcm_plan *plan, size_t number, size_t i,
           const PGresult *types, compare_result *r)
{
	pgcm_plan_column_info ci;
	char *q, *base = NULL, *text = NULL, *guard = NULL;
	const char *t;

	if (pgcm_plan_column(plan, i, number, &ci) != PGCM_OK || !(q = quote(src, ci.name))) {
		set_error(r, "out of memory");
		return 0;
	}
	sh->col_names[i] = strdup(ci.name);
	sh->dst.cols[i] = q;
	if (ci.conversion == PGCM_CONV_SAME) {
		sh->src.cols[i] = strdup(ci.source_expr ? ci.source_expr : q);
	} else if (!(t = target_cast_type(types, ci.name))) {
		set_error(r, "column %s: not found on the target", ci.name);
		return 0;
	} else {
		/* The plan's conversion, then the target's type with its modifier, as the target's input applies it. */
		base = ci.source_expr ? strdup(ci.source_expr) : strdup(q);
		text = base ? cli_strdup_printf("CAST(%s AS pg_catalog.text)", base) : NULL;
		sh->src.cols[i] = text ? cli_strdup_printf("CAST(%s AS %s)", text, t) : NULL;
		if (text && (guard = length_guard(t, text))) {
			b->guards[b->nguards] = guard;
			b->guard_names[b->nguards++] = cli_strdup_printf("%s (whether it fits %s)", ci.name, t);
			guard = NULL;
		}
	}
	free(base);
	free(text);
	if (!sh->col_names[i] || !sh->src.cols[i] || (b->nguards && !b->guard_names[b->nguards - 1])) {
		set_error(r, "out of memory");
		return 0;
	}
	return 1;
}

/* add_guards: the guards as compared values: the source's condition, true on the target. */
static int
add_guards(cmp_shape *sh, builder *b)
{
	for (size_t g = 0; g < b->nguards; g++) {
		size_t i = sh->ncols++;
		sh->col_names[i] = b->guard_names[g];
		sh->src.cols[i] = b->guards[g];
		b->guards[g] = b->guard_names[g] = NULL;
		if (!(sh->dst.cols[i] = strdup("true")))
			return 0;
	}
	return 1;
}

/* column_index: the plan's index of column name, or -1. */
static long
column_index(const cmp_shape *sh, const char *name)
{
	for (size_t i = 0; i < sh->ncols; i++)
		if (strcmp(sh->col_names[i], name) == 0)
			return (long) i;
	return -1;
}

/*
 * set_key: the order key.  Native: the key's own columns, when each is a
 * built-in type the plan copies as it is and both servers share an
 * encoding (then strings in byte order mean the same on both).  Otherwise
 * the UTF-8 bytes of the key's text as the target stores it, or of the
 * whole row's without a key.
 */
static int
set_key(cmp_shape *sh, const pgcm_plan *plan, size_t number, const cmp_key_info *key, int same_encoding)
{
	cli_buf sk, dk, names;
	size_t nkey = key->n <= 32 ? key->n : 0;   /* a wider key (the server allows 32): whole rows */
	int native = nkey > 0 && same_encoding, bad;
	long idx[32];

	for (size_t j = 0; j < nkey; j++) {
		pgcm_plan_column_info ci;
		idx[j] = column_index(sh, key->cols[j].name);
		if (idx[j] < 0) {
			nkey = 0;   /* a key column is not compared: whole rows */
			native = 0;
			break;
		}
		if (pgcm_plan_column(plan, (size_t) idx[j], number, &ci) != PGCM_OK || ci.conversion != PGCM_CONV_SAME
		    || ci.source_expr || !key->cols[j].builtin)
			native = 0;
	}
	sh->native = native;
	sh->keyed = nkey > 0;
	sh->nkey = native ? nkey : 1;
	if (!(sh->key_types = calloc(sh->nkey, sizeof *sh->key_types))
	    || !(sh->key_c = calloc(sh->nkey, sizeof *sh->key_c))
	    || !(sh->src.keys = calloc(sh->nkey + 1, sizeof *sh->src.keys))
	    || !(sh->dst.keys = calloc(sh->nkey + 1, sizeof *sh->dst.keys)))
		return 0;
	cli_buf_init(&sk);
	cli_buf_init(&dk);
	cli_buf_init(&names);
	for (size_t j = 0; j < nkey; j++) {
		const char *coll = native && key->cols[j].collatable ? " COLLATE pg_catalog.\"C\"" : "";
		if (native)
			sh->key_c[j] = key->cols[j].collatable;
		cli_buf_addf(&sk, "%s%s%s", j ? ", " : "", sh->src.cols[idx[j]], coll);
		cli_buf_addf(&dk, "%s%s%s", j ? ", " : "", sh->dst.cols[idx[j]], coll);
		cli_buf_addf(&names, "%s%s", j ? ", " : "", key->cols[j].name);
		if (native && (!(sh->key_types[j] = strdup(key->cols[j].type))
		               || !(sh->src.keys[j] = cli_strdup_printf("%s%s", sh->src.cols[idx[j]], coll))
		               || !(sh->dst.keys[j] = cli_strdup_printf("%s%s", sh->dst.cols[idx[j]], coll))))
			sk.broken = 1;
	}
	if (sh->keyed)
		sh->key_label = nkey > 1 ? cli_strdup_printf("(%s)", names.data) : strdup(names.data);
	if (native) {
		sh->src.key = strdup(sk.data ? sk.data : "");
		sh->dst.key = strdup(dk.data ? dk.data : "");
		sh->src.notnull = cli_strdup_printf("ROW(%s) IS NOT NULL", sh->src.key ? sh->src.key : "");
		sh->dst.notnull = cli_strdup_printf("ROW(%s) IS NOT NULL", sh->dst.key ? sh->dst.key : "");
		sh->src.display = cli_strdup_printf("ROW(%s)::pg_catalog.text", sh->src.key ? sh->src.key : "");
		sh->dst.display = cli_strdup_printf("ROW(%s)::pg_catalog.text", sh->dst.key ? sh->dst.key : "");
	} else {
		/* Compared as text: the key's, or without one the row's (set_display, once the row is known). */
		if (sh->keyed) {
			sh->src.display = cli_strdup_printf("ROW(%s)::pg_catalog.text", sk.data ? sk.data : "");
			sh->dst.display = cli_strdup_printf("ROW(%s)::pg_catalog.text", dk.data ? dk.data : "");
			if (!sh->src.display || !sh->dst.display)
				sk.broken = 1;
		}
		sh->key_types[0] = strdup("pg_catalog.bytea");
		sh->src.notnull = strdup("true");
		sh->dst.notnull = strdup("true");
	}
	bad = sk.broken || dk.broken || names.broken;
	cli_buf_free(&sk);
	cli_buf_free(&dk);
	cli_buf_free(&names);
	return !bad && sh->src.notnull && sh->dst.notnull && sh->key_types[0] && (!sh->keyed || sh->key_label)
	       && (!native || (sh->src.key && sh->dst.key && sh->src.display && sh->dst.display));
}

/* set_display: a key compared as text is the UTF-8 bytes of its text, or of the whole row's. */
static int
set_display(cmp_shape *sh)
{
	cmp_side *sides[2] = {&sh->src, &sh->dst};

	if (sh->native)
		return 1;
	for (int i = 0; i < 2; i++) {
		cmp_side *s = sides[i];
		if (!s->display && !(s->display = strdup(s->row)))
			return 0;
		if (!(s->key = cli_strdup_printf("pg_catalog.convert_to(%s, 'UTF8')", s->display))
		    || !(s->keys[0] = strdup(s->key)))
			return 0;
	}
	return 1;
}

/*
 * same_hash: both servers hash text alike with hashtextextended (11 and
 * later, and the function gives both the same value for a probe); else the
 * md5 of the UTF-8 text, which any server computes alike.
 */
static int
same_hash(PGconn *src, PGconn *dst, int same_encoding)
{
	PGresult *a, *b;
	int same;

	if (!same_encoding || PQserverVersion(src) < 110000 || PQserverVersion(dst) < 110000)
		return 0;
	a = PQexec(src, probe_sql);
	b = PQexec(dst, probe_sql);
	same = PQresultStatus(a) == PGRES_TUPLES_OK && PQresultStatus(b) == PGRES_TUPLES_OK
	       && strcmp(PQgetvalue(a, 0, 0), PQgetvalue(b, 0, 0)) == 0;
	PQclear(a);
	PQclear(b);
	return same;
}

/* set_row: one side's row text (every compared value) and its hash. */
static int
set_row(cmp_side *s, size_t ncols, int fast)
{
	cli_buf row;

	cli_buf_init(&row);
	cli_buf_add(&row, "ROW(");
	for (size_t i = 0; i < ncols; i++)
		cli_buf_addf(&row, "%s%s", i ? ", " : "", s->cols[i]);
	cli_buf_add(&row, ")::pg_catalog.text");
	if (!(s->row = cli_buf_take(&row)))
		return 0;
	s->hash = fast ? cli_strdup_printf("pg_catalog.hashtextextended((%s) COLLATE pg_catalog.\"C\", 0)", s->row)
	               : cli_strdup_printf("('x' OPERATOR(pg_catalog.||) pg_catalog.left(pg_catalog.md5("
	                                   "pg_catalog.convert_to(%s, 'UTF8')), 16))::pg_catalog.bit(64)"
	                                   "::pg_catalog.int8", s->row);
	return s->hash != NULL;
}

/* plan_problem: the plan refused: the target's table cannot hold the source's rows, or an error. */
static void
plan_problem(const pgcm_plan *plan, pgcm_status st, compare_result *r)
{
	const pgcm_plan_finding *f = pgcm_plan_problem(plan, 0);
	size_t n = pgcm_plan_problem_count(plan);

	if (st != PGCM_ERR_PLAN || !f) {
		set_error(r, "planning the comparison: %s", pgcm_plan_errmsg(plan)[0] ? pgcm_plan_errmsg(plan)
		                                                                        : pgcm_strerror(st));
		return;
	}
	set_error(r, "%s%s", f->message, n > 1 ? " (and more problems: see `pgcopyman copy --dry-run`)" : "");
	if (f->target >= 0) {
		r->status = COMPARE_DIFFERS;
		r->kind = DIFF_TABLE;
	}
}

/*
 * build_plan: the copy plan of the source table to this one target, or
 * NULL with r set.  Stream targets (which the plan leaves alone) stand in
 * for the targets before it, so that its messages number it as the command
 * line does.
 */
static pgcm_plan *
build_plan(PGconn *src, PGconn *dst, size_t number, const char *qsrc, const char *qdst,
           const compare_request *req, compare_result *r)
{
	pgcm_plan *plan = pgcm_plan_new();
	pgcm_status st;

	if (!plan) {
		set_error(r, "out of memory");
		return NULL;
	}
	st = pgcm_plan_set_source_table(plan, src, qsrc);
	for (size_t i = 0; st == PGCM_OK && i < number; i++)
		st = pgcm_plan_add_target_stream(plan, NULL);
	if (st == PGCM_OK)
		st = pgcm_plan_add_target(plan, dst, qdst, NULL);
	if (st == PGCM_OK && req->columns)
		st = pgcm_plan_set_columns(plan, req->columns);
	if (st == PGCM_OK)
		st = pgcm_plan_build(plan);
	if (st != PGCM_OK) {
		plan_problem(plan, st, r);
		pgcm_plan_free(plan);
		return NULL;
	}
	return plan;
}

int
cmp_shape_build(cmp_shape *sh, PGconn *src, PGconn *dst, size_t number, const char *qsrc,
                const char *qdst, char dst_relkind, const compare_request *req, const cmp_key_info *key,
                compare_result *r)
{
	const char *params[1] = {qdst};
	PGresult *types = NULL, *ss = NULL, *ds = NULL;
	pgcm_plan *plan;
	builder b;
	char *err = NULL;
	int ok = 0, same_encoding, fast;
	size_t nplan;

	memset(sh, 0, sizeof *sh);
	memset(&b, 0, sizeof b);
	if (!(plan = build_plan(src, dst, number, qsrc, qdst, req, r)))
		return 0;
	if (!(types = exec_rows(dst, target_types_sql, 1, params, &err))
	    || !(ds = exec_rows(dst, settings_sql, 0, NULL, &err))) {
		set_error(r, "target: %s", err ? err : "out of memory");
		goto cleanup;
	}
	if (!(ss = exec_rows(src, settings_sql, 0, NULL, &err))) {
		set_error(r, "source: %s", err ? err : "out of memory");
		goto cleanup;
	}
	same_encoding = strcmp(PQgetvalue(ss, 0, 1), PQgetvalue(ds, 0, 1)) == 0;
	nplan = pgcm_plan_column_count(plan);
	sh->timezone = strdup(PQgetvalue(ds, 0, 0));
	sh->src.from = strdup(pgcm_plan_source_relation(plan));
	sh->dst.from = cli_strdup_printf("%s%s", dst_relkind == 'r' ? "ONLY " : "", qdst);
	/* Room for every column and one guard each. */
	sh->col_names = calloc(2 * nplan + 1, sizeof *sh->col_names);
	sh->src.cols = calloc(2 * nplan + 1, sizeof *sh->src.cols);
	sh->dst.cols = calloc(2 * nplan + 1, sizeof *sh->dst.cols);
	b.guards = calloc(nplan + 1, sizeof *b.guards);
	b.guard_names = calloc(nplan + 1, sizeof *b.guard_names);
	if (!sh->timezone || !sh->src.from || !sh->dst.from || !sh->col_names || !sh->src.cols || !sh->dst.cols
	    || !b.guards || !b.guard_names) {
		set_error(r, "out of memory");
		goto cleanup;
	}
	for (size_t i = 0; i < nplan; i++, sh->ncols++)
		if (!add_column(sh, &b, src, plan, number, i, types, r)) {
			sh->ncols++;   /* what add_column set is freed with the rest */
			goto cleanup;
		}
	fast = same_hash(src, dst, same_encoding);
	if (!set_key(sh, plan, number, key, same_encoding) || !add_guards(sh, &b) || !set_row(&sh->src, sh->ncols, fast)
	    || !set_row(&sh->dst, sh->ncols, fast) || !set_display(sh)) {
		set_error(r, "out of memory");
		goto cleanup;
	}
	ok = 1;
cleanup:
	for (size_t g = 0; b.guards && g < b.nguards; g++) {
		free(b.guards[g]);
		free(b.guard_names[g]);
	}
	free(b.guards);
	free(b.guard_names);
	PQclear(types);
	PQclear(ss);
	PQclear(ds);
	free(err);
	pgcm_plan_free(plan);
	return ok;
}
