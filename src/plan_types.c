/*
 * plan_types.c: how a value of one type on the source reaches a column of
 * another (or the same) type on a target, so that the target stores what
 * `INSERT INTO target SELECT ... FROM source` would store on its own server.
 *
 *   same built-in type and typmod   the value as it is; binary is exact
 *   same type, other typmod         text: the target's input function applies
 *                                   its typmod, exactly as the assignment does
 *   custom types of one name        text, once their definitions agree (enum
 *                                   labels, composite attributes, domain base)
 *   domain on either side           text, when the base types are the same: the
 *                                   target's input checks its own constraints
 *   different types                 the source computes the target's type with
 *                                   the cast INSERT ... SELECT would use, without
 *                                   typmod (an explicit cast to varchar(3) would
 *                                   truncate where the assignment errors); the
 *                                   target's input then applies the typmod
 *   timestamp/date -> timestamptz   text: the target reads it in its TimeZone
 *   timestamptz -> timestamp/date/time   AT TIME ZONE the target's TimeZone
 *   anything else                   refused, naming both types and the target
 *
 * The source's cast is the target's cast for built-in types of the same major
 * version; a custom target type must exist on the source with the same name
 * and definition to be cast to.
 */
#include <stdio.h>
#include <string.h>

#include "plan_int.h"

#define MAX_DEPTH 16

enum path { PATH_OK, PATH_EXPLICIT, PATH_NONE, PATH_TYPMOD };

static int
builtin(unsigned oid)
{
	return oid < PGCM__FIRST_USER_OID;
}

static const unsigned reg_types[] = {
	PGCM__REGPROC, PGCM__REGPROCEDURE, PGCM__REGOPER, PGCM__REGOPERATOR, PGCM__REGCLASS,
	PGCM__REGTYPE, PGCM__REGCONFIG, PGCM__REGDICTIONARY, PGCM__REGNAMESPACE, PGCM__REGROLE,
	PGCM__REGCOLLATION
};
#define NREG (sizeof reg_types / sizeof reg_types[0])

/* reg_catalog: the catalog whose objects a reg* type names (regproc and regoper: none). */
static const char *
reg_catalog(unsigned oid)
{
	switch (oid) {
	case PGCM__REGCLASS: return "pg_class";
	case PGCM__REGTYPE: return "pg_type";
	case PGCM__REGPROCEDURE: return "pg_proc";
	case PGCM__REGOPERATOR: return "pg_operator";
	case PGCM__REGNAMESPACE: return "pg_namespace";
	case PGCM__REGROLE: return "pg_authid";
	case PGCM__REGCONFIG: return "pg_ts_config";
	case PGCM__REGDICTIONARY: return "pg_ts_dict";
	case PGCM__REGCOLLATION: return "pg_collation";
	default: return NULL;
	}
}

/* depends: whether type oid is, or is made of, one of oids (unknown types count as yes). */
static int
depends(pgcm__server *s, unsigned oid, const unsigned *oids, size_t n, int depth)
{
	const pgcm__type *t;

	for (size_t i = 0; i < n; i++)
		if (oid == oids[i])
			return 1;
	if (depth > MAX_DEPTH || pgcm__type_get(s, oid, &t) != PGCM_OK || !t)
		return 1;
	if ((t->elem && depends(s, t->elem, oids, n, depth + 1))
	    || (t->base && depends(s, t->base, oids, n, depth + 1))
	    || (t->subtype && depends(s, t->subtype, oids, n, depth + 1)))
		return 1;
	for (size_t i = 0; i < t->nattrs; i++)
		if (depends(s, t->attrs[i].type, oids, n, depth + 1))
			return 1;
	return 0;
}

int
pgcm__type_depends(pgcm__server *s, unsigned oid, const unsigned *oids, size_t n)
{
	return depends(s, oid, oids, n, 0);
}

/* base_of: a domain's base type (domains over domains followed), with the typmod it applies. */
static unsigned
base_of(pgcm__server *s, unsigned oid, int *typmod)
{
	const pgcm__type *t;

	for (int depth = 0; depth < MAX_DEPTH; depth++) {
		if (pgcm__type_get(s, oid, &t) != PGCM_OK || !t || t->typtype != 'd')
			return oid;
		if (typmod && *typmod == -1)
			*typmod = t->base_typmod;
		oid = t->base;
	}
	return oid;
}

/* refuse: the cell refuses, with a message (NOMEM when it cannot be written). */
static pgcm_status
refuse(pgcm__cell *out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static pgcm_status
refuse(pgcm__cell *out, const char *fmt, ...)
{
	va_list ap;

	out->conv = PGCM_CONV_REFUSED;
	out->binary_ok = 0;
	va_start(ap, fmt);
	out->problem = pgcm__vasprintf(fmt, ap);
	va_end(ap);
	return out->problem ? PGCM_OK : PGCM_ERR_NOMEM;
}

static const char *
kind_name(char typtype)
{
	switch (typtype) {
	case 'e': return "an enum";
	case 'c': return "a composite type";
	case 'd': return "a domain";
	case 'r': return "a range type";
	case 'm': return "a multirange type";
	default: return "a base type";
	}
}

static pgcm_status same_type(pgcm__server *src, unsigned a, pgcm__server *dst, unsigned b,
                             long target, int depth, int *same, char **why);

/* same_enum: every label of the source's enum exists on the target's. */
static pgcm_status
same_enum(const pgcm__type *a, const pgcm__type *b, long target, int *same, char **why)
{
	pgcm__buf missing = {0};

	for (size_t i = 0; i < a->labels.n; i++) {
		size_t j = 0;
		while (j < b->labels.n && strcmp(a->labels.v[i], b->labels.v[j]) != 0)
			j++;
		if (j == b->labels.n)
			pgcm__buf_addf(&missing, "%s'%s'", missing.len ? ", " : "", a->labels.v[i]);
	}
	if (missing.failed)
		return PGCM_ERR_NOMEM;
	*same = missing.len == 0;
	if (!*same) {
		*why = pgcm__asprintf("enum %s.%s on target %ld lacks the source's labels %s", a->nsp,
		                      a->name, target + 1, missing.data);
		pgcm__buf_reset(&missing);
		return *why ? PGCM_OK : PGCM_ERR_NOMEM;
	}
	return PGCM_OK;
}

/* same_composite: the same attributes, by name, type and typmod, in the same order. */
static pgcm_status
same_composite(pgcm__server *src, const pgcm__type *a, pgcm__server *dst, const pgcm__type *b,
               long target, int depth, int *same, char **why)
{
	pgcm_status st;

	*same = 0;
	if (a->nattrs != b->nattrs) {
		*why = pgcm__asprintf("composite type %s.%s has %zu attributes on the source, %zu on target %ld",
		                      a->nsp, a->name, a->nattrs, b->nattrs, target + 1);
		return *why ? PGCM_OK : PGCM_ERR_NOMEM;
	}
	for (size_t i = 0; i < a->nattrs; i++) {
		const pgcm__attr *x = &a->attrs[i], *y = &b->attrs[i];
		int ok = 0;

		if (strcmp(x->name, y->name) == 0 && x->typmod == y->typmod) {
			st = same_type(src, x->type, dst, y->type, target, depth + 1, &ok, why);
			if (st != PGCM_OK || *why)
				return st;
		}
		if (!ok) {
			*why = pgcm__asprintf("composite type %s.%s differs: attribute %zu is %s %s on the source, "
			                      "%s %s on target %ld", a->nsp, a->name, i + 1, x->name, x->display,
			                      y->name, y->display, target + 1);
			return *why ? PGCM_OK : PGCM_ERR_NOMEM;
		}
	}
	*same = 1;
	return PGCM_OK;
}

/*
 * same_type: whether type a on the source and type b on a target are one
 * type: the same built-in type, or custom types of the same qualified name
 * whose definitions agree so that the source's text means the same value on
 * the target.  When they share a name but differ, *why says how.
 */
static pgcm_status
same_type(pgcm__server *src, unsigned a, pgcm__server *dst, unsigned b, long target, int depth,
          int *same, char **why)
{
	const pgcm__type *x, *y;
	pgcm_status st;

	*same = 0;
	if (builtin(a) || builtin(b)) {
		*same = a == b;
		return PGCM_OK;
	}
	if (depth > MAX_DEPTH)
		return PGCM_OK;
	if ((st = pgcm__type_get(src, a, &x)) != PGCM_OK || (st = pgcm__type_get(dst, b, &y)) != PGCM_OK)
		return st;
	if (!x || !y || strcmp(x->nsp, y->nsp) != 0 || strcmp(x->name, y->name) != 0)
		return PGCM_OK;
	if (x->typtype != y->typtype) {
		*why = pgcm__asprintf("type %s.%s is %s on the source and %s on target %ld", x->nsp, x->name,
		                      kind_name(x->typtype), kind_name(y->typtype), target + 1);
		return *why ? PGCM_OK : PGCM_ERR_NOMEM;
	}
	switch (x->typtype) {
	case 'e':
		return same_enum(x, y, target, same, why);
	case 'c':
		return same_composite(src, x, dst, y, target, depth, same, why);
	case 'd':
		if ((st = same_type(src, x->base, dst, y->base, target, depth + 1, same, why)) != PGCM_OK || *why)
			return st;
		if (!*same || x->base_typmod != y->base_typmod) {
			*same = 0;
			*why = pgcm__asprintf("domain %s.%s has another base type on the source than on target %ld",
			                      x->nsp, x->name, target + 1);
			return *why ? PGCM_OK : PGCM_ERR_NOMEM;
		}
		return PGCM_OK;
	case 'r':
	case 'm':
		return same_type(src, x->subtype, dst, y->subtype, target, depth + 1, same, why);
	default:
		if (x->elem || y->elem) {
			if (!x->elem || !y->elem)
				return PGCM_OK;
			return same_type(src, x->elem, dst, y->elem, target, depth + 1, same, why);
		}
		*same = 1;  /* a base type of one name (an extension's): its text is its own */
		return PGCM_OK;
	}
}

/*
 * coercion: whether INSERT ... SELECT would convert a to b, as the server's
 * find_coercion_pathway decides in assignment context: domains stand for
 * their base types; a pg_cast row marked assignment or implicit converts; an
 * explicit one does not; arrays convert when their elements do; anything
 * converts to a string type through its output function; nothing converts
 * from a string type implicitly.  A cast function that takes the typmod
 * (int4 -> bit(n)) would compute something else without it: refused.
 */
static pgcm_status
coercion(pgcm__server *s, unsigned a, unsigned b, int depth, enum path *path)
{
	const pgcm__type *x, *y;
	char context;
	int nargs;
	pgcm_status st;

	a = base_of(s, a, NULL);
	b = base_of(s, b, NULL);
	*path = PATH_OK;
	if (a == b)
		return PGCM_OK;
	if ((st = pgcm__cast_find(s, a, b, &context, &nargs)) != PGCM_OK)
		return st;
	if (context) {
		*path = context == 'e' ? PATH_EXPLICIT : nargs > 1 ? PATH_TYPMOD : PATH_OK;
		return PGCM_OK;
	}
	if ((st = pgcm__type_get(s, a, &x)) != PGCM_OK || (st = pgcm__type_get(s, b, &y)) != PGCM_OK)
		return st;
	*path = PATH_NONE;
	if (!x || !y || depth > MAX_DEPTH)
		return PGCM_OK;
	if (x->elem && y->elem) {
		if ((st = coercion(s, x->elem, y->elem, depth + 1, path)) != PGCM_OK)
			return st;
		if (*path == PATH_TYPMOD)
			*path = PATH_NONE;
		return PGCM_OK;
	}
	if (y->category == 'S')
		*path = PATH_OK;
	else if (x->category == 'S')
		*path = PATH_EXPLICIT;
	return PGCM_OK;
}

/* type_sql: a type named for a CAST on s: "schema"."name", never with a typmod. */
static char *
type_sql(pgcm__server *s, const pgcm__type *t)
{
	pgcm__buf b = {0};

	pgcm__buf_add_ident(&b, s->conn, t->nsp);
	pgcm__buf_add(&b, ".");
	pgcm__buf_add_ident(&b, s->conn, t->name);
	return pgcm__buf_take(&b);
}

/*
 * reg_cell: a reg* value is an object id of its own server: its output
 * names the object relative to the session's search_path.  The source
 * writes the object's schema-qualified identity instead (pg_identify_object),
 * which the target's input resolves to its own object of that name.
 */
static pgcm_status
reg_cell(pgcm__server *src, const pgcm__column_ref *ref, pgcm__cell *out)
{
	const char *cat = reg_catalog(ref->src->type), *q = ref->qname;

	out->conv = PGCM_CONV_CAST;
	out->expr = pgcm__asprintf("CASE WHEN %s IS NULL THEN NULL WHEN %s::pg_catalog.oid = 0 THEN '-' "
	                           "ELSE COALESCE((pg_catalog.pg_identify_object('pg_catalog.%s'::"
	                           "pg_catalog.regclass, %s::pg_catalog.oid, 0)).identity, "
	                           "%s::pg_catalog.oid::pg_catalog.text) END", q, q, cat, q, q);
	out->detail = pgcm__asprintf("written as a schema-qualified name: %s values are object ids of "
	                             "their own server", ref->src->display);
	out->why_text = pgcm__asprintf("column %s: %s values are copied by name", ref->name,
	                               ref->src->display);
	(void) src;
	return out->expr && out->detail && out->why_text ? PGCM_OK : PGCM_ERR_NOMEM;
}

/* identical: the same built-in type and typmod: binary is exact if the type has a binary form. */
static pgcm_status
identical(pgcm__server *src, pgcm__server *dst, const pgcm__column_ref *ref, pgcm__cell *out)
{
	const pgcm__type *x, *y;
	pgcm_status st;

	if ((st = pgcm__type_get(src, ref->src->type, &x)) != PGCM_OK
	    || (st = pgcm__type_get(dst, ref->dst->type, &y)) != PGCM_OK)
		return st;
	out->conv = PGCM_CONV_SAME;
	out->binary_ok = x && y && x->has_send && y->has_recv && x->typtype != 'c';
	if (!(out->detail = pgcm__strdup("same type")))
		return PGCM_ERR_NOMEM;
	if (!out->binary_ok) {
		out->why_text = pgcm__asprintf("column %s: %s has no binary form", ref->name,
		                               ref->src->display);
		return out->why_text ? PGCM_OK : PGCM_ERR_NOMEM;
	}
	return PGCM_OK;
}

/* by_text: the target's input function reads the source's text (one type, or a domain of it). */
static pgcm_status
by_text(const pgcm__column_ref *ref, pgcm__cell *out, const char *detail)
{
	out->conv = PGCM_CONV_TEXT;
	out->detail = pgcm__strdup(detail);
	out->why_text = pgcm__asprintf("column %s: %s on the source, %s on target %ld", ref->name,
	                               ref->src->display, ref->dst->display, ref->target + 1);
	return out->detail && out->why_text ? PGCM_OK : PGCM_ERR_NOMEM;
}

/* source_type: the target's type b (on dst) as it exists on the source, or 0. */
static pgcm_status
source_type(pgcm__server *src, pgcm__server *dst, unsigned b, long target, unsigned *oid,
            char **why)
{
	const pgcm__type *y, *x;
	pgcm_status st;
	int same = 0;

	*oid = 0;
	if (builtin(b)) {
		if ((st = pgcm__type_get(src, b, &x)) != PGCM_OK)
			return st;
		*oid = x ? b : 0;
		return PGCM_OK;
	}
	if ((st = pgcm__type_get(dst, b, &y)) != PGCM_OK || !y)
		return st;
	if ((st = pgcm__type_by_name(src, y->nsp, y->name, oid)) != PGCM_OK || !*oid)
		return st;
	if ((st = same_type(src, *oid, dst, b, target, 0, &same, why)) != PGCM_OK)
		return st;
	if (!same)
		*oid = 0;
	return PGCM_OK;
}

/*
 * convert: different types: the source computes the target's type, the way
 * INSERT ... SELECT on the target would, or the cell refuses.  sb and tb are
 * the base types (domains stripped); tsrc is tb as the source knows it.
 */
static pgcm_status
convert(pgcm__server *src, pgcm__server *dst, const pgcm__column_ref *ref, unsigned sb,
        unsigned tb, pgcm__cell *out)
{
	static const unsigned tz_src[] = {PGCM__TIMESTAMPTZ};
	static const unsigned tz_dst[] = {PGCM__TIMESTAMPTZ, PGCM__TIMETZ};
	static const unsigned bytea[] = {PGCM__BYTEA};
	const char *sd = ref->src->display, *td = ref->dst->display;
	long n = ref->target + 1;
	const pgcm__type *t;
	unsigned tsrc;
	char *why = NULL, *tname;
	enum path path;
	pgcm_status st;

	if ((st = source_type(src, dst, tb, ref->target, &tsrc, &why)) != PGCM_OK)
		return st;
	if (!tsrc) {
		st = why ? refuse(out, "%s on the source, %s on target %ld: %s", sd, td, n, why)
		         : refuse(out, "%s on the source, %s on target %ld: the types differ and the "
		                       "source has no such type to convert to", sd, td, n);
		pgcm__free(why);
		return st;
	}
	if ((st = coercion(src, sb, tsrc, 0, &path)) != PGCM_OK)
		return st;
	if (path == PATH_EXPLICIT)
		return refuse(out, "%s on the source, %s on target %ld: only an explicit cast converts "
		                   "them; INSERT ... SELECT would refuse it too", sd, td, n);
	if (path == PATH_NONE)
		return refuse(out, "%s on the source, %s on target %ld: no cast converts them; "
		                   "INSERT ... SELECT would refuse it too", sd, td, n);
	if (path == PATH_TYPMOD)
		return refuse(out, "%s on the source, %s on target %ld: the cast needs the target's type "
		                   "modifier and cannot run on the source", sd, td, n);
	out->why_text = pgcm__asprintf("column %s: %s on the source, %s on target %ld", ref->name, sd,
	                               td, n);
	if (!out->why_text)
		return PGCM_ERR_NOMEM;
	if ((sb == PGCM__TIMESTAMP || sb == PGCM__DATE) && tb == PGCM__TIMESTAMPTZ) {
		/* timestamptz's input reads a time without zone in the session's TimeZone, as the cast does. */
		out->conv = PGCM_CONV_TEXT;
		out->detail = pgcm__asprintf("read in the target's TimeZone (%s), as its cast would",
		                             dst->timezone);
		return out->detail ? PGCM_OK : PGCM_ERR_NOMEM;
	}
	if (sb == PGCM__TIMESTAMPTZ && (tb == PGCM__TIMESTAMP || tb == PGCM__DATE || tb == PGCM__TIME)) {
		/* The cast takes the local time in the session's TimeZone: the target's, not the source's. */
		pgcm__buf b = {0};
		pgcm__buf_add(&b, tb == PGCM__TIMESTAMP ? "(" : "CAST((");
		pgcm__buf_addf(&b, "%s AT TIME ZONE ", ref->qname);
		pgcm__buf_add_literal(&b, src->conn, dst->timezone);
		pgcm__buf_add(&b, tb == PGCM__TIMESTAMP ? ")" : tb == PGCM__DATE ? ") AS pg_catalog.date)"
		                                                  : ") AS pg_catalog.\"time\")");
		out->conv = PGCM_CONV_CAST;
		out->expr = pgcm__buf_take(&b);
		out->detail = pgcm__asprintf("converted on the source in the target's TimeZone (%s)",
		                             dst->timezone);
		return out->expr && out->detail ? PGCM_OK : PGCM_ERR_NOMEM;
	}
	if ((depends(src, sb, tz_src, 1, 0) || depends(dst, tb, tz_dst, 2, 0))
	    && strcmp(src->timezone, dst->timezone) != 0)
		return refuse(out, "%s on the source, %s on target %ld: the conversion depends on TimeZone, "
		                   "which is '%s' on the source and '%s' on the target", sd, td, n,
		              src->timezone, dst->timezone);
	if (depends(src, sb, bytea, 1, 0) && strcmp(src->bytea_output, dst->bytea_output) != 0)
		return refuse(out, "%s on the source, %s on target %ld: the conversion depends on "
		                   "bytea_output, which is '%s' on the source and '%s' on the target", sd,
		              td, n, src->bytea_output, dst->bytea_output);
	if ((st = pgcm__type_get(src, tsrc, &t)) != PGCM_OK || !t)
		return st != PGCM_OK ? st : PGCM_ERR_SERVER;
	if (!(tname = type_sql(src, t)))
		return PGCM_ERR_NOMEM;
	out->conv = PGCM_CONV_CAST;
	out->expr = pgcm__asprintf("CAST(%s AS %s)", ref->qname, tname);
	out->detail = pgcm__asprintf("cast on the source to %s, as INSERT ... SELECT casts", t->display);
	pgcm__free(tname);
	return out->expr && out->detail ? PGCM_OK : PGCM_ERR_NOMEM;
}

/* pgcm__decide: see plan_int.h and the table at the top of this file. */
pgcm_status
pgcm__decide(pgcm__server *src, pgcm__server *dst, const pgcm__column_ref *ref, pgcm__cell *out)
{
	static const unsigned money[] = {PGCM__MONEY};
	unsigned s = ref->src->type, t = ref->dst->type, sb, tb;
	int sm = ref->src->typmod, tm = ref->dst->typmod, same = 0;
	const char *sd = ref->src->display, *td = ref->dst->display;
	long n = ref->target + 1;
	char *why = NULL;
	pgcm_status st;

	memset(out, 0, sizeof *out);
	out->target_type = td;
	if (reg_catalog(s) && s == t)
		return reg_cell(src, ref, out);
	if (depends(src, s, reg_types, NREG, 0) || depends(dst, t, reg_types, NREG, 0))
		return refuse(out, "%s on the source, %s on target %ld: reg* values name objects of their "
		                   "own server; they are copied only into the same type, and not inside "
		                   "arrays, domains or composites (regproc and regoper: use regprocedure "
		                   "and regoperator)", sd, td, n);
	if ((depends(src, s, money, 1, 0) || depends(dst, t, money, 1, 0))
	    && strcmp(src->money_sample, dst->money_sample) != 0)
		return refuse(out, "%s on the source, %s on target %ld: money depends on lc_monetary: the "
		                   "source writes -1234567.891 as '%s' (lc_monetary '%s'), the target as "
		                   "'%s' ('%s')", sd, td, n, src->money_sample, src->lc_monetary,
		              dst->money_sample, dst->lc_monetary);
	if (builtin(s) && s == t && sm == tm)
		return identical(src, dst, ref, out);
	if ((st = same_type(src, s, dst, t, ref->target, 0, &same, &why)) != PGCM_OK)
		goto done;
	if (same) {
		st = by_text(ref, out, builtin(s) ? "same type: the target's input applies its type modifier"
		                                  : "custom type matched by name, through text");
		goto done;
	}
	if (why) {
		st = refuse(out, "%s on the source, %s on target %ld: %s", sd, td, n, why);
		goto done;
	}
	sb = base_of(src, s, NULL);
	tb = base_of(dst, t, NULL);
	if (sb != s || tb != t) {
		if ((st = same_type(src, sb, dst, tb, ref->target, 0, &same, &why)) != PGCM_OK)
			goto done;
		if (same) {
			st = by_text(ref, out, "a domain over the same type: the target's input checks its "
			                       "constraints");
			goto done;
		}
		if (why) {
			st = refuse(out, "%s on the source, %s on target %ld: %s", sd, td, n, why);
			goto done;
		}
	}
	st = convert(src, dst, ref, sb, tb, out);
done:
	pgcm__free(why);
	return st;
}

void
pgcm__cell_free(pgcm__cell *c)
{
	pgcm__free(c->expr);
	pgcm__free(c->detail);
	pgcm__free(c->why_text);
	pgcm__free(c->problem);
	memset(c, 0, sizeof *c);
}
