/*
 * plan_format.c: the checks that decide whether text means the same on both
 * sides -- a stream source's CSV header against the column list, every
 * session's settings against the types that depend on them -- and the
 * format: binary when proven exact, text (or CSV) otherwise, and why.
 */
#include <stdio.h>
#include <string.h>

#include "plan_int.h"

/* The types whose text depends on a session setting (see pgcm__plan_check_settings). */
static const unsigned datetime_types[] = {PGCM__DATE, PGCM__TIME, PGCM__TIMETZ, PGCM__TIMESTAMP,
                                          PGCM__TIMESTAMPTZ};
static const unsigned interval_types[] = {PGCM__INTERVAL};
static const unsigned float_types[] = {PGCM__FLOAT4, PGCM__FLOAT8};

/* plain_name: a name SQL reads as itself unquoted (lower-case ASCII letters, digits, _). */
static int
plain_name(const char *s)
{
	if (!*s || (*s >= '0' && *s <= '9'))
		return 0;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_'))
			return 0;
	return 1;
}

/*
 * pgcm__plan_check_header: a stream source's CSV header against the column list, as
 * HEADER MATCH compares them: the same names, in the same order.  When the
 * header names columns the target has, the message says how to load by it.
 */
pgcm_status
pgcm__plan_check_header(pgcm_plan *p)
{
	pgcm__names f;
	const char *err, *table = pgcm__plan_table(p);
	const pgcm__target *first = pgcm__plan_first_target(p);
	size_t bad = 0;
	int all_known = 1;
	pgcm__buf hint = {0};

	if (p->header_match_targets)
		for (size_t i = 0; i < p->ntargets; i++)
			if (p->targets[i].conn && p->targets[i].readable && p->targets[i].server.version < 150000)
				pgcm__plan_problem(p, (long) i, "", "", "target %zu: HEADER MATCH needs PostgreSQL 15 "
				                   "or later (the server runs %d)", i + 1, p->targets[i].server.version);
	if (!p->header_set || p->ncols == 0)
		return PGCM_OK;
	if ((err = pgcm__csv_fields(p->header, p->header_len, &p->fmt, &f))) {
		if (strcmp(err, "out of memory") == 0)
			return PGCM_ERR_NOMEM;
		pgcm__plan_problem(p, -1, table, "", "table %s: the CSV header: %s", table, err);
		return PGCM_OK;
	}
	while (bad < f.n && bad < p->ncols && strcmp(f.v[bad], p->cols[bad].name) == 0)
		bad++;
	if (bad == f.n && bad == p->ncols) {
		pgcm__names_free(&f);
		return PGCM_OK;
	}
	for (size_t i = 0; first && i < f.n; i++) {
		const pgcm__attr *a = pgcm__rel_find(&first->rel, f.v[i]);
		all_known &= a && !a->generated;
		pgcm__buf_add(&hint, i ? "," : "");
		if (plain_name(f.v[i]))
			pgcm__buf_add(&hint, f.v[i]);
		else
			pgcm__buf_add_ident(&hint, first->conn, f.v[i]);
	}
	if (hint.failed) {
		pgcm__names_free(&f);
		return PGCM_ERR_NOMEM;
	}
	if (bad < f.n && bad < p->ncols)
		pgcm__plan_problem(p, -1, table, p->cols[bad].name, "table %s: the CSV header does not match "
		                   "the columns: field %zu is \"%s\" where column %zu is %s%s%s", table, bad + 1,
		                   f.v[bad], bad + 1, p->cols[bad].name,
		                   all_known && first ? "; to load the data by its header, list the columns "
		                   "in its order: --columns " : "", all_known && first ? hint.data : "");
	else
		pgcm__plan_problem(p, -1, table, "", "table %s: the CSV header has %zu fields, the column "
		                   "list %zu%s%s", table, f.n, p->ncols,
		                   all_known && first ? "; to load the data by its header, list the columns "
		                   "in its order: --columns " : "", all_known && first ? hint.data : "");
	pgcm__buf_reset(&hint);
	pgcm__names_free(&f);
	return PGCM_OK;
}

/* binary_blocker: why binary would not be exact, or NULL; written into *why (static or the plan's). */
static const char *
binary_blocker(const pgcm_plan *p, char *buf, size_t size)
{
	int major = p->src.version / 10000;

	for (size_t i = 0; i < p->ntargets; i++) {
		const pgcm__target *t = &p->targets[i];
		if (!t->conn)
			continue;
		if (!t->found)
			return "a target's table was not found";
		if (t->server.version / 10000 != major) {
			snprintf(buf, size, "the source runs PostgreSQL %d, target %zu PostgreSQL %d", major, i + 1,
			         t->server.version / 10000);
			return buf;
		}
		if (!p->encoding && strcmp(t->server.client_encoding, p->src.client_encoding) != 0) {
			snprintf(buf, size, "client_encoding is %s on the source, %s on target %zu",
			         p->src.client_encoding, t->server.client_encoding, i + 1);
			return buf;
		}
	}
	for (size_t c = 0; c < p->ncols; c++)
		for (size_t i = 0; i < p->ntargets; i++) {
			const pgcm__cell *cell = p->targets[i].cells ? &p->targets[i].cells[c] : NULL;
			if (cell && !cell->binary_ok && cell->conv != PGCM_CONV_REFUSED)
				return cell->why_text ? cell->why_text : "a column cannot be copied";
		}
	return NULL;
}

/* pgcm__plan_choose_format: binary when proven exact and allowed, text (or CSV) otherwise, and why. */
pgcm_status
pgcm__plan_choose_format(pgcm_plan *p)
{
	static const char *const names[] = {"text", "CSV", "binary"};
	char buf[256];
	const char *why = NULL;
	long stream_target = -1;

	for (size_t i = 0; i < p->ntargets && stream_target < 0; i++)
		if (!p->targets[i].conn)
			stream_target = (long) i;
	if (p->src_kind != PGCM__SRC_STREAM && p->src_found)
		why = binary_blocker(p, buf, sizeof buf);
	if (!p->automatic) {
		p->kind = p->fmt.kind;
		if (p->kind == PGCM_FORMAT_BINARY && why && p->src_kind != PGCM__SRC_STREAM && p->src_found)
			pgcm__plan_problem(p, -1, pgcm__plan_table(p), "", "table %s: binary COPY needs the same "
			                   "type on every side, and %s: use the text format (or auto)",
			                   pgcm__plan_table(p), why);
		if (p->kind == PGCM_FORMAT_BINARY && (p->encoding || p->null_string))
			pgcm__plan_problem(p, -1, pgcm__plan_table(p), "", "table %s: ENCODING and NULL do not "
			                   "apply to binary COPY", pgcm__plan_table(p));
		p->reason = pgcm__asprintf("%s, as requested", names[p->kind]);
	} else if (p->src_kind == PGCM__SRC_STREAM) {
		p->kind = p->fmt.kind;
		p->reason = pgcm__asprintf("the source is a stream of COPY data: %s", names[p->kind]);
	} else if (stream_target >= 0) {
		p->kind = p->fmt.kind;
		p->reason = pgcm__asprintf("target %ld is a file or a stream: %s", stream_target + 1,
		                           names[p->kind]);
	} else if (why) {
		p->kind = p->fmt.kind;
		p->reason = pgcm__strdup(why);
	} else {
		p->kind = PGCM_FORMAT_BINARY;
		p->reason = pgcm__asprintf("every column has the same built-in type and type modifier on "
		                           "the source and on every target (PostgreSQL %d): binary is exact",
		                           p->src.version / 10000);
	}
	return p->reason ? PGCM_OK : PGCM_ERR_NOMEM;
}

/* uses: whether any stream column is (or is made of) one of oids, on the source or a target. */
static int
uses(pgcm_plan *p, const unsigned *oids, size_t n)
{
	for (size_t c = 0; c < p->ncols; c++) {
		if (p->cols[c].src && pgcm__type_depends(&p->src, p->cols[c].src->type, oids, n))
			return 1;
		for (size_t i = 0; i < p->ntargets; i++) {
			pgcm__target *t = &p->targets[i];
			if (t->cols && t->cols[c] && pgcm__type_depends(&t->server, t->cols[c]->type, oids, n))
				return 1;
		}
	}
	return 0;
}

/* check_session: one server's settings against what the stream's types need. */
static void
check_session(pgcm_plan *p, long target, const pgcm__server *s, int dates, int intervals, int floats)
{
	char who[32];
	int efd_ok = s->version >= 120000 ? s->extra_float_digits >= 1 : s->extra_float_digits == 3;

	pgcm__plan_endpoint(target, who, sizeof who);
	if (dates && strncmp(s->datestyle, "ISO", 3) != 0)
		pgcm__plan_problem(p, target, "", "", "%s: DateStyle is '%s': dates and times in text COPY "
		                   "data would be written or read in another style; pin the session "
		                   "(pgcm_session_pin, or SET DateStyle = ISO)", who, s->datestyle);
	if (intervals && strcmp(s->intervalstyle, "postgres") != 0)
		pgcm__plan_problem(p, target, "", "", "%s: IntervalStyle is '%s': intervals in text COPY data "
		                   "would be written or read differently; pin the session (pgcm_session_pin, "
		                   "or SET IntervalStyle = postgres)", who, s->intervalstyle);
	if (floats && !efd_ok)
		pgcm__plan_problem(p, target, "", "", "%s: extra_float_digits is %d: floating-point values "
		                   "in text COPY data would be rounded; pin the session (pgcm_session_pin, or "
		                   "SET extra_float_digits = 3)", who, s->extra_float_digits);
}

/*
 * pgcm__plan_check_settings: text COPY data means the same on both sides only when the
 * sessions agree: DateStyle ISO for date and time types, IntervalStyle
 * postgres for intervals, extra_float_digits for floats; and, in any format,
 * one client_encoding (text inside binary data is converted too) unless COPY
 * names its ENCODING.
 */
void
pgcm__plan_check_settings(pgcm_plan *p)
{
	int text = p->kind != PGCM_FORMAT_BINARY;
	int dates = text && uses(p, datetime_types, 5);
	int intervals = text && uses(p, interval_types, 1);
	int floats = text && uses(p, float_types, 2);
	const pgcm__server *ref = p->src_readable ? &p->src : NULL;
	long ref_at = -1;

	if (p->src_readable)
		check_session(p, -1, &p->src, dates, intervals, floats);
	for (size_t i = 0; i < p->ntargets; i++) {
		const pgcm__target *t = &p->targets[i];
		if (!t->conn || !t->readable)
			continue;
		check_session(p, (long) i, &t->server, dates, intervals, floats);
		if (!ref) {
			ref = &t->server;
			ref_at = (long) i;
		} else if (!p->encoding && strcmp(ref->client_encoding, t->server.client_encoding) != 0) {
			char who[32];
			pgcm__plan_problem(p, (long) i, "", "", "target %zu: client_encoding is %s, the %s's is %s: "
			                   "text would be converted differently; pin the sessions to one encoding "
			                   "(pgcm_session_pin)", i + 1, t->server.client_encoding,
			                   pgcm__plan_endpoint(ref_at, who, sizeof who), ref->client_encoding);
		}
	}
}
