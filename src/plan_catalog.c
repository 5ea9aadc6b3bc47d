/*
 * plan_catalog.c: what the plan reads from one server: its version and the
 * settings that shape COPY text, a relation and its columns, a query's
 * output columns, the types those columns are made of, and pg_cast.
 *
 * Every read is an ordinary synchronous query (PQexecParams, PQprepare) with
 * its parameters passed separately, so no name is ever spliced into SQL.
 * Names are compared with the catalog's exact bytes: nothing is truncated.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plan_int.h"

/* query: run sql with n text parameters; NULL (message in s->error) unless it returns rows. */
static PGresult *
query(pgcm__server *s, const char *sql, int n, const char *const *params)
{
	PGresult *res = PQexecParams(s->conn, sql, n, NULL, params, NULL, NULL, 0);

	char sqlstate[6], *m;

	if (PQresultStatus(res) == PGRES_TUPLES_OK)
		return res;
	if ((m = pgcm__pq_result_error(s->conn, res, sqlstate)) != NULL) {
		pgcm__free(s->error);
		s->error = m;
	}
	PQclear(res);
	return NULL;
}

/* dup_value: a copy of row r, field f ("" when NULL); NULL when out of memory. */
static char *
dup_value(const PGresult *res, int r, int f)
{
	return pgcm__strdup(PQgetvalue(res, r, f));
}

static unsigned
oid_value(const PGresult *res, int r, int f)
{
	return (unsigned) strtoul(PQgetvalue(res, r, f), NULL, 10);
}

/*
 * pgcm__server_read: the version and the settings that decide what text
 * data means.  The money sample shows lc_monetary's format (symbol,
 * separators, fractional digits) the way money's own output writes it.
 */
pgcm_status
pgcm__server_read(pgcm__server *s, PGconn *conn)
{
	static const char sql[] =
		"SELECT pg_catalog.current_setting('server_version_num'), "
		"pg_catalog.current_setting('DateStyle'), pg_catalog.current_setting('IntervalStyle'), "
		"pg_catalog.current_setting('extra_float_digits'), "
		"pg_catalog.current_setting('client_encoding'), pg_catalog.current_setting('TimeZone'), "
		"pg_catalog.current_setting('bytea_output'), pg_catalog.current_setting('lc_monetary'), "
		"'-1234567.891'::pg_catalog.numeric::pg_catalog.money::pg_catalog.text, "
		"pg_catalog.current_database()";
	PGresult *res;
	char **slots[] = {&s->datestyle, &s->intervalstyle, NULL, &s->client_encoding, &s->timezone,
	                  &s->bytea_output, &s->lc_monetary, &s->money_sample, &s->database};

	s->conn = conn;
	if (PQstatus(conn) != CONNECTION_OK) {
		pgcm__set_msg(&s->error, "the connection is not usable");
		return PGCM_ERR_SERVER;
	}
	if (!(res = query(s, sql, 0, NULL)))
		return PGCM_ERR_SERVER;
	s->version = atoi(PQgetvalue(res, 0, 0));
	s->extra_float_digits = atoi(PQgetvalue(res, 0, 3));
	for (int i = 0; i < 9; i++) {
		if (!slots[i])
			continue;
		if (!(*slots[i] = dup_value(res, 0, i + 1))) {
			PQclear(res);
			return PGCM_ERR_NOMEM;
		}
	}
	PQclear(res);
	return PGCM_OK;
}

static void
attrs_free(pgcm__attr *a, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		pgcm__free(a[i].name);
		pgcm__free(a[i].display);
	}
	pgcm__free(a);
}

static void
type_free(pgcm__type *t)
{
	if (!t)
		return;
	pgcm__free(t->nsp);
	pgcm__free(t->name);
	pgcm__free(t->display);
	pgcm__names_free(&t->labels);
	attrs_free(t->attrs, t->nattrs);
	pgcm__free(t);
}

void
pgcm__server_free(pgcm__server *s)
{
	char *strs[] = {s->datestyle, s->intervalstyle, s->client_encoding, s->timezone,
	                s->bytea_output, s->lc_monetary, s->money_sample, s->database, s->error};

	for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++)
		pgcm__free(strs[i]);
	for (size_t i = 0; i < s->ntypes; i++)
		type_free(s->types[i]);
	pgcm__free(s->types);
	memset(s, 0, sizeof *s);
}

void
pgcm__rel_free(pgcm__rel *rel)
{
	pgcm__free(rel->nsp);
	pgcm__free(rel->name);
	pgcm__free(rel->display);
	pgcm__free(rel->qualified);
	attrs_free(rel->cols, rel->ncols);
	memset(rel, 0, sizeof *rel);
}

/* set_names: the relation's names for people and for SQL. */
static pgcm_status
set_names(pgcm__server *s, pgcm__rel *rel)
{
	pgcm__buf b = {0};

	if (!(rel->display = pgcm__asprintf("%s.%s", rel->nsp, rel->name)))
		return PGCM_ERR_NOMEM;
	pgcm__buf_add_ident(&b, s->conn, rel->nsp);
	pgcm__buf_add(&b, ".");
	pgcm__buf_add_ident(&b, s->conn, rel->name);
	rel->qualified = pgcm__buf_take(&b);
	return rel->qualified ? PGCM_OK : PGCM_ERR_NOMEM;
}

/*
 * pgcm__rel_resolve: the relation a name means on this server.  A qualified
 * name is looked up in its schema; an unqualified one the way the server
 * resolves it, with the session's search_path (pg_table_is_visible: the first
 * schema of the path that has it, pg_temp and pg_catalog included); the
 * schema pg_temp is the session's own temporary schema.  A three-part name
 * must name the current database, as the server requires.
 */
pgcm_status
pgcm__rel_resolve(pgcm__server *s, const pgcm__names *name, pgcm__rel *rel, int *found)
{
	static const char sql[] =
		"SELECT c.oid, n.nspname, c.relname, c.relkind, "
		"EXISTS (SELECT 1 FROM pg_catalog.pg_inherits i WHERE i.inhparent = c.oid) "
		"FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
		"WHERE c.relname = $2::pg_catalog.name AND CASE WHEN $1::pg_catalog.text IS NULL "
		"THEN pg_catalog.pg_table_is_visible(c.oid) ELSE n.nspname = $1::pg_catalog.name "
		"OR ($1 = 'pg_temp' AND n.oid = pg_catalog.pg_my_temp_schema()) END";
	const char *params[2];
	PGresult *res;
	pgcm_status st;
	unsigned relid;

	*found = 0;
	memset(rel, 0, sizeof *rel);
	if (name->n == 3 && strcmp(name->v[0], s->database) != 0)
		return PGCM_OK;
	params[0] = name->n >= 2 ? name->v[name->n - 2] : NULL;
	params[1] = name->v[name->n - 1];
	if (!(res = query(s, sql, 2, params)))
		return PGCM_ERR_SERVER;
	if (PQntuples(res) != 1) {
		PQclear(res);
		return PGCM_OK;
	}
	relid = oid_value(res, 0, 0);
	rel->nsp = dup_value(res, 0, 1);
	rel->name = dup_value(res, 0, 2);
	rel->relkind = PQgetvalue(res, 0, 3)[0];
	rel->has_children = PQgetvalue(res, 0, 4)[0] == 't';
	PQclear(res);
	if (!rel->nsp || !rel->name)
		return PGCM_ERR_NOMEM;
	if ((st = set_names(s, rel)) != PGCM_OK)
		return st;
	*found = 1;
	return pgcm__rel_columns(s, rel, relid);
}

/* read_attrs: rows of (name, type, typmod, display, generated, identity, notnull, hasdef). */
static pgcm_status
read_attrs(const PGresult *res, pgcm__attr **out, size_t *n)
{
	int rows = PQntuples(res);
	pgcm__attr *a = pgcm__calloc((size_t) rows, sizeof *a);

	*out = NULL;
	*n = 0;
	if (!a)
		return PGCM_ERR_NOMEM;
	for (int r = 0; r < rows; r++) {
		a[r].name = dup_value(res, r, 0);
		a[r].type = oid_value(res, r, 1);
		a[r].typmod = atoi(PQgetvalue(res, r, 2));
		a[r].display = dup_value(res, r, 3);
		a[r].generated = PQgetvalue(res, r, 4)[0];
		a[r].identity = PQgetvalue(res, r, 5)[0];
		a[r].notnull = PQgetvalue(res, r, 6)[0] == 't';
		a[r].hasdef = PQgetvalue(res, r, 7)[0] == 't';
		if (!a[r].name || !a[r].display) {
			attrs_free(a, (size_t) r + 1);
			return PGCM_ERR_NOMEM;
		}
	}
	*out = a;
	*n = (size_t) rows;
	return PGCM_OK;
}

/* attrs_of: the live columns of relation relid, in order (attgenerated exists from 12). */
static pgcm_status
attrs_of(pgcm__server *s, unsigned relid, pgcm__attr **out, size_t *n)
{
	char sql[640], oid[16];
	const char *params[1] = {oid};
	PGresult *res;
	pgcm_status st;

	snprintf(oid, sizeof oid, "%u", relid);
	snprintf(sql, sizeof sql,
	         "SELECT a.attname, a.atttypid, a.atttypmod, "
	         "pg_catalog.format_type(a.atttypid, a.atttypmod), %s, %s, a.attnotnull, a.atthasdef "
	         "FROM pg_catalog.pg_attribute a WHERE a.attrelid = $1::pg_catalog.oid "
	         "AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum",
	         s->version >= 120000 ? "a.attgenerated" : "''",
	         s->version >= 100000 ? "a.attidentity" : "''");
	if (!(res = query(s, sql, 1, params)))
		return PGCM_ERR_SERVER;
	st = read_attrs(res, out, n);
	PQclear(res);
	return st;
}

pgcm_status
pgcm__rel_columns(pgcm__server *s, pgcm__rel *rel, unsigned relid)
{
	return attrs_of(s, relid, &rel->cols, &rel->ncols);
}

/*
 * pgcm__query_columns: a query's output columns, from the server's own
 * description of it: PQprepare on the unnamed statement parses and analyses
 * the query without running it.  The type names come from format_type.
 */
pgcm_status
pgcm__query_columns(pgcm__server *s, const char *q, pgcm__rel *rel)
{
	PGresult *res = PQprepare(s->conn, "", q, 0, NULL), *desc;
	pgcm__buf oids = {0}, mods = {0};
	const char *params[2];
	pgcm_status st = PGCM_OK;
	int n;

	memset(rel, 0, sizeof *rel);
	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		char sqlstate[6], *msg = pgcm__pq_result_error(s->conn, res, sqlstate);
		pgcm__set_msg(&s->error, "%s", msg ? msg : "the query cannot be prepared");
		pgcm__free(msg);
		PQclear(res);
		return PGCM_ERR_SERVER;
	}
	PQclear(res);
	desc = PQdescribePrepared(s->conn, "");
	if (PQresultStatus(desc) != PGRES_COMMAND_OK) {
		pgcm__set_msg(&s->error, "describing the query: %s", PQerrorMessage(s->conn));
		PQclear(desc);
		return PGCM_ERR_SERVER;
	}
	n = PQnfields(desc);
	pgcm__buf_add(&oids, "{");
	pgcm__buf_add(&mods, "{");
	for (int i = 0; i < n; i++) {
		pgcm__buf_addf(&oids, "%s%u", i ? "," : "", (unsigned) PQftype(desc, i));
		pgcm__buf_addf(&mods, "%s%d", i ? "," : "", PQfmod(desc, i));
	}
	pgcm__buf_add(&oids, "}");
	pgcm__buf_add(&mods, "}");
	if (oids.failed || mods.failed) {
		st = PGCM_ERR_NOMEM;
		goto cleanup;
	}
	params[0] = oids.data;
	params[1] = mods.data;
	/* The attribute rows of a query: no generated, identity or NOT NULL columns. */
	res = query(s, "SELECT '', u.t, u.m, pg_catalog.format_type(u.t, u.m), '', '', false, false "
	               "FROM ROWS FROM (pg_catalog.unnest($1::pg_catalog.oid[]), "
	               "pg_catalog.unnest($2::pg_catalog.int4[])) WITH ORDINALITY AS u(t, m, o) ORDER BY u.o", 2, params);
	if (!res) {
		st = PGCM_ERR_SERVER;
		goto cleanup;
	}
	st = read_attrs(res, &rel->cols, &rel->ncols);
	PQclear(res);
	for (size_t i = 0; st == PGCM_OK && i < rel->ncols; i++) {
		pgcm__free(rel->cols[i].name);
		if (!(rel->cols[i].name = pgcm__strdup(PQfname(desc, (int) i))))
			st = PGCM_ERR_NOMEM;
	}
cleanup:
	PQclear(desc);
	pgcm__buf_reset(&oids);
	pgcm__buf_reset(&mods);
	return st;
}

/* find_loaded: the type oid if this server's cache has it. */
static const pgcm__type *
find_loaded(const pgcm__server *s, unsigned oid)
{
	for (size_t i = 0; i < s->ntypes; i++)
		if (s->types[i]->oid == oid)
			return s->types[i];
	return NULL;
}

/* keep: add t to the cache (owned from now on, also on failure). */
static pgcm_status
keep(pgcm__server *s, pgcm__type *t)
{
	if (s->ntypes == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 16;
		pgcm__type **v = pgcm__realloc(s->types, cap * sizeof *v);
		if (!v) {
			type_free(t);
			return PGCM_ERR_NOMEM;
		}
		s->types = v;
		s->cap = cap;
	}
	s->types[s->ntypes++] = t;
	return PGCM_OK;
}

/* type_parts: an enum's labels, a composite's attributes. */
static pgcm_status
type_parts(pgcm__server *s, pgcm__type *t, unsigned relid)
{
	char oid[16];
	const char *params[1] = {oid};
	PGresult *res;

	snprintf(oid, sizeof oid, "%u", t->oid);
	if (t->typtype == 'e') {
		if (!(res = query(s, "SELECT enumlabel FROM pg_catalog.pg_enum WHERE enumtypid = "
		                     "$1::pg_catalog.oid ORDER BY enumsortorder", 1, params)))
			return PGCM_ERR_SERVER;
		for (int r = 0; r < PQntuples(res); r++) {
			char **v = pgcm__realloc(t->labels.v, (t->labels.n + 1) * sizeof *v);
			if (v)
				t->labels.v = v;
			if (!v || !(t->labels.v[t->labels.n] = dup_value(res, r, 0))) {
				PQclear(res);
				return PGCM_ERR_NOMEM;
			}
			t->labels.n++;
		}
		PQclear(res);
	}
	if (t->typtype == 'c')
		return attrs_of(s, relid, &t->attrs, &t->nattrs);
	return PGCM_OK;
}

static pgcm_status type_load(pgcm__server *s, unsigned oid, const pgcm__type **out);

/*
 * pgcm__type_get: a type, loaded once per server.  Running out of memory is
 * remembered on the server too, because some callers (type_depends) can
 * only answer yes or no: the build then fails instead of deciding on half
 * the facts.
 */
pgcm_status
pgcm__type_get(pgcm__server *s, unsigned oid, const pgcm__type **out)
{
	pgcm_status st = type_load(s, oid, out);

	if (st == PGCM_ERR_NOMEM)
		s->nomem = 1;
	return st;
}

/*
 * type_load: the pg_type row of oid, with its enum labels or composite
 * attributes.  The types it is made of (element, base, subtype, attributes)
 * are loaded when asked for.
 */
static pgcm_status
type_load(pgcm__server *s, unsigned oid, const pgcm__type **out)
{
	char sql[1280], num[16];
	const char *params[1] = {num};
	PGresult *res;
	pgcm__type *t;
	pgcm_status st;
	unsigned relid;

	if ((*out = find_loaded(s, oid)))
		return PGCM_OK;
	snprintf(num, sizeof num, "%u", oid);
	snprintf(sql, sizeof sql,
	         "SELECT n.nspname, t.typname, pg_catalog.format_type(t.oid, NULL), t.typtype, "
	         "t.typcategory, CASE WHEN t.typlen = -1 AND t.typcategory = 'A' THEN t.typelem ELSE 0 END, "
	         "t.typbasetype, t.typtypmod, t.typrelid, t.typsend <> 0, t.typreceive <> 0, "
	         "(SELECT r.rngsubtype FROM pg_catalog.pg_range r WHERE r.rngtypid = t.oid%s LIMIT 1) "
	         "FROM pg_catalog.pg_type t JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace "
	         "WHERE t.oid = $1::pg_catalog.oid",
	         s->version >= 140000 ? " OR r.rngmultitypid = t.oid" : "");
	if (!(res = query(s, sql, 1, params)))
		return PGCM_ERR_SERVER;
	if (PQntuples(res) != 1) {
		PQclear(res);
		return PGCM_OK;
	}
	if (!(t = pgcm__calloc(1, sizeof *t))) {
		PQclear(res);
		return PGCM_ERR_NOMEM;
	}
	t->oid = oid;
	t->nsp = dup_value(res, 0, 0);
	t->name = dup_value(res, 0, 1);
	t->display = dup_value(res, 0, 2);
	t->typtype = PQgetvalue(res, 0, 3)[0];
	t->category = PQgetvalue(res, 0, 4)[0];
	t->elem = oid_value(res, 0, 5);
	t->base = oid_value(res, 0, 6);
	t->base_typmod = atoi(PQgetvalue(res, 0, 7));
	relid = oid_value(res, 0, 8);
	t->has_send = PQgetvalue(res, 0, 9)[0] == 't';
	t->has_recv = PQgetvalue(res, 0, 10)[0] == 't';
	t->subtype = PQgetisnull(res, 0, 11) ? 0 : oid_value(res, 0, 11);
	PQclear(res);
	if (!t->nsp || !t->name || !t->display) {
		type_free(t);
		return PGCM_ERR_NOMEM;
	}
	if ((st = type_parts(s, t, relid)) != PGCM_OK) {
		type_free(t);
		return st;
	}
	if ((st = keep(s, t)) != PGCM_OK)
		return st;
	*out = t;
	return PGCM_OK;
}

pgcm_status
pgcm__type_by_name(pgcm__server *s, const char *nsp, const char *name, unsigned *oid)
{
	const char *params[2] = {nsp, name};
	PGresult *res = query(s, "SELECT t.oid FROM pg_catalog.pg_type t JOIN pg_catalog.pg_namespace n "
	                         "ON n.oid = t.typnamespace WHERE n.nspname = $1::pg_catalog.name "
	                         "AND t.typname = $2::pg_catalog.name", 2, params);

	*oid = 0;
	if (!res)
		return PGCM_ERR_SERVER;
	if (PQntuples(res) == 1)
		*oid = oid_value(res, 0, 0);
	PQclear(res);
	return PGCM_OK;
}

pgcm_status
pgcm__cast_find(pgcm__server *s, unsigned src, unsigned dst, char *context, int *nargs)
{
	char a[16], b[16];
	const char *params[2] = {a, b};
	PGresult *res;

	snprintf(a, sizeof a, "%u", src);
	snprintf(b, sizeof b, "%u", dst);
	res = query(s, "SELECT c.castcontext, coalesce(p.pronargs, 0) FROM pg_catalog.pg_cast c "
	               "LEFT JOIN pg_catalog.pg_proc p ON p.oid = c.castfunc "
	               "WHERE c.castsource = $1::pg_catalog.oid AND c.casttarget = $2::pg_catalog.oid",
	            2, params);
	*context = 0;
	*nargs = 0;
	if (!res)
		return PGCM_ERR_SERVER;
	if (PQntuples(res) == 1) {
		*context = PQgetvalue(res, 0, 0)[0];
		*nargs = atoi(PQgetvalue(res, 0, 1));
	}
	PQclear(res);
	return PGCM_OK;
}
