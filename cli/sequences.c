/*
 * sequences.c: the sequences a copied table's columns own, moved forward on
 * the target to the source's position (see sequences.h).
 *
 * Serial columns own their sequence with an automatic dependency (deptype
 * 'a'), identity columns with an internal one ('i'): pg_depend finds both,
 * as pg_get_serial_sequence() does, for all columns at once.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sequences.h"

/* The columns of $1 that own a sequence: name, sequence, may read it, may update it. */
static const char owned_sql[] =
	"SELECT a.attname, d.objid::pg_catalog.regclass::pg_catalog.text,"
	"       pg_catalog.has_sequence_privilege(d.objid, 'SELECT'),"
	"       pg_catalog.has_sequence_privilege(d.objid, 'UPDATE')"
	"  FROM pg_catalog.pg_depend d"
	"  JOIN pg_catalog.pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid"
	"  JOIN pg_catalog.pg_class s ON s.oid = d.objid AND s.relkind = 'S'"
	" WHERE d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass"
	"   AND d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass"
	"   AND d.refobjid = $1::pg_catalog.regclass AND d.deptype IN ('a', 'i') AND NOT a.attisdropped"
	" ORDER BY a.attnum";

/*
 * The target's sequence (%s: its name as regclass prints it) set to ($2, $3)
 * when that is forward and within its bounds; it cannot fail once the
 * privileges are known.  Returns the new value (NULL: not set), its own
 * last_value and is_called, whether the value is within its bounds.
 */
static const char set_sql[] =
	"SELECT CASE WHEN $2::pg_catalog.int8 BETWEEN p.seqmin AND p.seqmax"
	"   AND pg_catalog.sign(p.seqincrement)"
	"       * ((CASE WHEN $3::pg_catalog.bool THEN $2::pg_catalog.numeric + p.seqincrement"
	"           ELSE $2::pg_catalog.numeric END)"
	"          - (CASE WHEN s.is_called THEN s.last_value::pg_catalog.numeric + p.seqincrement"
	"             ELSE s.last_value END)) > 0"
	"  THEN pg_catalog.setval($1::pg_catalog.regclass, $2::pg_catalog.int8, $3::pg_catalog.bool) END,"
	"  s.last_value, s.is_called, $2::pg_catalog.int8 BETWEEN p.seqmin AND p.seqmax"
	"  FROM %s s, pg_catalog.pg_sequence p WHERE p.seqrelid = $1::pg_catalog.regclass";

/* fail_query: the failed result's message into err; always 0. */
static int
fail_query(PGconn *conn, PGresult *res, const char *what, char *err, size_t errlen)
{
	const char *msg = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;

	snprintf(err, errlen, "%s: %s", what, msg ? msg : PQerrorMessage(conn));
	for (size_t n = strlen(err); n > 0 && err[n - 1] == '\n'; n--)
		err[n - 1] = '\0';
	PQclear(res);
	return 0;
}

/* owned: owned_sql on conn; NULL with err. */
static PGresult *
owned(PGconn *conn, const char *table, const char *side, char *err, size_t errlen)
{
	const char *params[1] = {table};
	PGresult *res = PQexecParams(conn, owned_sql, 1, NULL, params, NULL, NULL, 0);
	char what[64];

	if (PQresultStatus(res) == PGRES_TUPLES_OK)
		return res;
	snprintf(what, sizeof what, "reading the %s's sequences", side);
	fail_query(conn, res, what, err, errlen);
	return NULL;
}

/* with_sequence: sql with the sequence's name (as regclass prints it) in its %s; malloc'd. */
static char *
with_sequence(const char *sql, const char *seq)
{
	size_t n = strlen(sql) + strlen(seq) + 1;
	char *s = malloc(n);

	if (s)
		snprintf(s, n, sql, seq);
	return s;
}

/* set_why: r->why = a formatted reason; 0 when out of memory. */
static int
set_why(seq_result *r, const char *fmt, const char *a, const char *b)
{
	size_t n = strlen(fmt) + strlen(a) + (b ? strlen(b) : 0) + 1;

	if (!(r->why = malloc(n)))
		return 0;
	snprintf(r->why, n, fmt, a, b ? b : "");
	return 1;
}

/*
 * sync_one: move one target sequence forward to where the source's is.
 * Returns 1 (r says what happened), 0 with err filled.
 */
static int
sync_one(PGconn *src, const char *src_seq, PGconn *dst, seq_result *r, char *err, size_t errlen)
{
	static const char read_sql[] = "SELECT last_value, is_called FROM %s";
	char *sql = with_sequence(read_sql, src_seq);
	const char *params[3];
	PGresult *res;
	char last[32];
	int called;

	if (!sql) {
		snprintf(err, errlen, "out of memory");
		return 0;
	}
	res = PQexec(src, sql);
	free(sql);
	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1)
		return fail_query(src, res, "reading the source's sequence", err, errlen);
	snprintf(last, sizeof last, "%s", PQgetvalue(res, 0, 0));
	called = PQgetvalue(res, 0, 1)[0] == 't';
	PQclear(res);

	params[0] = r->sequence;
	params[1] = last;
	params[2] = called ? "true" : "false";
	if (!(sql = with_sequence(set_sql, r->sequence))) {
		snprintf(err, errlen, "out of memory");
		return 0;
	}
	res = PQexecParams(dst, sql, 3, NULL, params, NULL, NULL, 0);
	free(sql);
	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1)
		return fail_query(dst, res, "setting the target's sequence", err, errlen);
	if (!PQgetisnull(res, 0, 0)) {
		r->value = strdup(PQgetvalue(res, 0, 0));
		r->is_called = called;
	} else if (PQgetvalue(res, 0, 3)[0] != 't') {
		set_why(r, "the source's value %s is outside its bounds", last, NULL);
	} else {
		set_why(r, "already at %s, at or past the source's %s", PQgetvalue(res, 0, 1), last);
	}
	PQclear(res);
	if (!r->value && !r->why) {
		snprintf(err, errlen, "out of memory");
		return 0;
	}
	return 1;
}

/* wanted: the column is among columns[0..n) (n 0: every column is). */
static int
wanted(const char *column, const char *const *columns, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(columns[i], column) == 0)
			return 1;
	return n == 0;
}

int
seq_sync_owned(PGconn *src, const char *src_table, PGconn *dst, const char *dst_table,
               const char *const *columns, size_t ncolumns, seq_result **out, size_t *nout,
               char *err, size_t errlen)
{
	PGresult *sres = NULL, *dres = NULL;
	seq_result *rs = NULL;
	size_t n = 0;
	int ok = 0;

	*out = NULL;
	*nout = 0;
	if (!(dres = owned(dst, dst_table, "target", err, errlen)))
		return 0;
	if (PQntuples(dres) == 0) {
		PQclear(dres);
		return 1;
	}
	if (!(sres = owned(src, src_table, "source", err, errlen)))
		goto done;
	if (!(rs = calloc((size_t) PQntuples(dres), sizeof *rs))) {
		snprintf(err, errlen, "out of memory");
		goto done;
	}
	for (int i = 0; i < PQntuples(dres); i++) {
		const char *column = PQgetvalue(dres, i, 0);
		seq_result *r = &rs[n];
		int s = -1;

		if (!wanted(column, columns, ncolumns))
			continue;
		n++;
		r->column = strdup(column);
		r->sequence = strdup(PQgetvalue(dres, i, 1));
		if (!r->column || !r->sequence) {
			snprintf(err, errlen, "out of memory");
			goto done;
		}
		for (int j = 0; j < PQntuples(sres) && s < 0; j++)
			if (strcmp(PQgetvalue(sres, j, 0), column) == 0)
				s = j;
		if (s < 0) {
			if (!set_why(r, "the source's column %s owns no sequence", column, NULL))
				goto oom;
		} else if (PQgetvalue(sres, s, 2)[0] != 't') {
			if (!set_why(r, "no privilege to read the source's sequence %s", PQgetvalue(sres, s, 1), NULL))
				goto oom;
		} else if (PQgetvalue(dres, i, 2)[0] != 't' || PQgetvalue(dres, i, 3)[0] != 't') {
			if (!(r->why = strdup("no privilege to read and update it")))
				goto oom;
		} else if (!sync_one(src, PQgetvalue(sres, s, 1), dst, r, err, errlen)) {
			goto done;
		}
	}
	ok = 1;
	goto done;
oom:
	snprintf(err, errlen, "out of memory");
done:
	PQclear(sres);
	PQclear(dres);
	if (!ok) {
		seq_results_free(rs, n);
		return 0;
	}
	*out = rs;
	*nout = n;
	return 1;
}

void
seq_results_free(seq_result *r, size_t n)
{
	for (size_t i = 0; r && i < n; i++) {
		free(r[i].column);
		free(r[i].sequence);
		free(r[i].value);
		free(r[i].why);
	}
	free(r);
}
