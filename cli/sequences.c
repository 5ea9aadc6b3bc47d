/*
 * sequences.c: the sequences a copied table's columns own, moved forward on
 * the target to the source's position, inside the load's transaction (see
 * sequences.h).
 *
 * Serial columns own their sequence with an automatic dependency (deptype
 * 'a'), identity columns with an internal one ('i'): pg_depend finds both,
 * as pg_get_serial_sequence() does, for all columns at once.
 *
 * setval() would be simpler, but it is never rolled back: a load that then
 * failed (or a prepared one rolled back) would leave the sequence moved.
 * ALTER SEQUENCE RESTART is transactional: the sequence moves with the rows.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sequences.h"
#include "strbuf.h"

/*
 * The columns of $1 that own a sequence: name, sequence, may read it, is
 * its owner (only the owner may ALTER it), its increment, and the session's
 * lock_timeout (restored after each move).
 */
static const char owned_sql[] =
	"SELECT a.attname, d.objid::pg_catalog.regclass::pg_catalog.text,"
	"       pg_catalog.has_sequence_privilege(d.objid, 'SELECT'),"
	"       pg_catalog.pg_has_role(s.relowner, 'USAGE'), p.seqincrement,"
	"       pg_catalog.current_setting('lock_timeout')"
	"  FROM pg_catalog.pg_depend d"
	"  JOIN pg_catalog.pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid"
	"  JOIN pg_catalog.pg_class s ON s.oid = d.objid AND s.relkind = 'S'"
	"  JOIN pg_catalog.pg_sequence p ON p.seqrelid = d.objid"
	" WHERE d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass"
	"   AND d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass"
	"   AND d.refobjid = $1::pg_catalog.regclass AND d.deptype IN ('a', 'i') AND NOT a.attisdropped"
	" ORDER BY a.attnum";

/* The source's next value: what its next nextval() returns ($1: its increment; %s: the sequence). */
static const char source_next_sql[] =
	"SELECT CASE WHEN is_called THEN last_value::pg_catalog.numeric + $1::pg_catalog.numeric"
	" ELSE last_value END FROM %s";

/*
 * The target's sequence (%s, locked) against the source's next value $1:
 * whether its bounds hold it, its own next value, and whether $1 is forward.
 */
static const char target_sql[] =
	"SELECT v.inb, v.t, v.inb AND pg_catalog.sign(p.seqincrement) * ($1::pg_catalog.numeric - v.t) > 0"
	"  FROM %s s, pg_catalog.pg_sequence p,"
	"       LATERAL (SELECT $1::pg_catalog.numeric BETWEEN p.seqmin AND p.seqmax AS inb,"
	"                       CASE WHEN s.is_called THEN s.last_value::pg_catalog.numeric + p.seqincrement"
	"                       ELSE s.last_value END AS t) v"
	" WHERE p.seqrelid = $2::pg_catalog.regclass";

#define SAVEPOINT_NAME "pgcopyman_sequence"

/* fail_msg: the failed result's primary message (or the connection's) into err, no trailing newline. */
static void
fail_msg(PGconn *conn, const PGresult *res, const char *what, char *err, size_t errlen)
{
	const char *msg = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;

	snprintf(err, errlen, "%s%s%s", what ? what : "", what ? ": " : "", msg ? msg : PQerrorMessage(conn));
	for (size_t n = strlen(err); n > 0 && err[n - 1] == '\n'; n--)
		err[n - 1] = '\0';
}

/* fail_query: fail_msg, the result cleared; always 0. */
static int
fail_query(PGconn *conn, PGresult *res, const char *what, char *err, size_t errlen)
{
	fail_msg(conn, res, what, err, errlen);
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

/* is_integer: s is an optional minus sign and digits (a value from the server, put into SQL). */
static int
is_integer(const char *s)
{
	size_t digits = strspn(s + (*s == '-'), "0123456789");

	return digits > 0 && s[(*s == '-') + digits] == '\0';
}

/* exec_sql: a command (or several) on conn, the last one's result OK; else 0 with err (what: the prefix). */
static int
exec_sql(PGconn *conn, const char *sql, const char *what, char *err, size_t errlen)
{
	PGresult *res;
	ExecStatusType st;

	if (!sql) {
		snprintf(err, errlen, "out of memory");
		return 0;
	}
	res = PQexec(conn, sql);
	st = PQresultStatus(res);
	if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
		PQclear(res);
		return 1;
	}
	return fail_query(conn, res, what, err, errlen);
}

/* A target sequence to move: its owned_sql row's values on the target, the source's next value. */
typedef struct move {
	const char *sequence, *increment, *lock_timeout;
	const char *source_next;
	int wait_ms;
} move;

/*
 * lock_and_decide: under a new savepoint, lock the target sequence (a no-op
 * ALTER SEQUENCE: its own increment; within wait_ms) and decide.  Returns
 * 1 with *forward (and r->why when not), 0 with why (a message) filled.
 */
static int
lock_and_decide(PGconn *dst, const move *m, seq_result *r, int *forward, char *why, size_t whylen)
{
	char *sql, timeout[32];
	const char *params[2] = {m->source_next, m->sequence};
	PGresult *res;
	int ok;

	*forward = 0;
	snprintf(timeout, sizeof timeout, "%dms", m->wait_ms);
	sql = cli_strdup_printf("SAVEPOINT " SAVEPOINT_NAME "; %s%s%sALTER SEQUENCE %s INCREMENT BY %s",
	                        m->wait_ms ? "SELECT pg_catalog.set_config('lock_timeout', '" : "",
	                        m->wait_ms ? timeout : "", m->wait_ms ? "', true); " : "", m->sequence, m->increment);
	ok = exec_sql(dst, sql, NULL, why, whylen);
	free(sql);
	if (!ok)
		return 0;
	if (!(sql = cli_strdup_printf(target_sql, m->sequence))) {
		snprintf(why, whylen, "out of memory");
		return 0;
	}
	res = PQexecParams(dst, sql, 2, NULL, params, NULL, NULL, 0);
	free(sql);
	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1)
		return fail_query(dst, res, NULL, why, whylen);
	*forward = PQgetvalue(res, 0, 2)[0] == 't';
	if (PQgetvalue(res, 0, 0)[0] != 't')
		r->why = cli_strdup_printf("the source's next value %s is outside its bounds", m->source_next);
	else if (!*forward)
		r->why = cli_strdup_printf("its next value %s is already at or past the source's %s", PQgetvalue(res, 0, 1),
		                           m->source_next);
	PQclear(res);
	if (!*forward && !r->why) {
		snprintf(why, whylen, "out of memory");
		return 0;
	}
	return 1;
}

/*
 * move_one: move one target sequence forward to the source's next value,
 * under a savepoint.  Returns 1 (r says what happened: moved, or why not),
 * 0 with err filled when dst's transaction cannot go on.
 */
static int
move_one(PGconn *dst, const move *m, seq_result *r, char *err, size_t errlen)
{
	char why[512], *sql = NULL, *old = NULL;
	int forward = 0, ok;

	ok = lock_and_decide(dst, m, r, &forward, why, sizeof why);
	if (ok && forward) {
		old = m->wait_ms ? PQescapeLiteral(dst, m->lock_timeout, strlen(m->lock_timeout)) : NULL;
		if ((!m->wait_ms || old) && (r->next = strdup(m->source_next)))
			sql = cli_strdup_printf("ALTER SEQUENCE %s RESTART WITH %s; %s%s%sRELEASE SAVEPOINT " SAVEPOINT_NAME,
			                        m->sequence, m->source_next,
			                        old ? "SELECT pg_catalog.set_config('lock_timeout', " : "", old ? old : "",
			                        old ? ", true); " : "");
		PQfreemem(old);
		ok = exec_sql(dst, sql, NULL, why, sizeof why);
		free(sql);
		if (ok)
			return 1;
		free(r->next);
		r->next = NULL;
	}
	if (!ok && !(r->why = cli_strdup_printf("not moved: %s", why))) {
		snprintf(err, errlen, "out of memory");
		return 0;
	}
	/* Not moved: the savepoint's lock (and lock_timeout) go with it. */
	return exec_sql(dst, "ROLLBACK TO SAVEPOINT " SAVEPOINT_NAME "; RELEASE SAVEPOINT " SAVEPOINT_NAME,
	                "moving the target's sequence", err, errlen);
}

/* source_next: the source sequence's next value (malloc'd); NULL with err. */
static char *
source_next(PGconn *src, const char *seq, const char *increment, char *err, size_t errlen)
{
	char *sql = cli_strdup_printf(source_next_sql, seq), *next;
	const char *params[1] = {increment};
	PGresult *res;

	if (!sql) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	res = PQexecParams(src, sql, 1, NULL, params, NULL, NULL, 0);
	free(sql);
	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
		fail_query(src, res, "reading the source's sequence", err, errlen);
		return NULL;
	}
	next = strdup(PQgetvalue(res, 0, 0));
	PQclear(res);
	if (!next)
		snprintf(err, errlen, "out of memory");
	return next;
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

/* source_row: the row of sres whose column is column, or -1. */
static int
source_row(const PGresult *sres, const char *column)
{
	for (int j = 0; j < PQntuples(sres); j++)
		if (strcmp(PQgetvalue(sres, j, 0), column) == 0)
			return j;
	return -1;
}

/*
 * sync_row: target sequence row i of dres against the source's (sres):
 * moved, or r->why.  Returns 0 with err when a query failed (on src: dst's
 * transaction goes on; on dst outside the savepoint: it does not).
 */
static int
sync_row(PGconn *src, const PGresult *sres, PGconn *dst, const PGresult *dres, int i, int wait_ms,
         seq_result *r, char *err, size_t errlen)
{
	const char *column = PQgetvalue(dres, i, 0);
	int s = source_row(sres, column), ok;
	move m = {PQgetvalue(dres, i, 1), PQgetvalue(dres, i, 4), PQgetvalue(dres, i, 5), NULL, wait_ms};
	char *next;

	if (s < 0)
		r->why = cli_strdup_printf("the source's column %s owns no sequence", column);
	else if (PQgetvalue(sres, s, 2)[0] != 't')
		r->why = cli_strdup_printf("no privilege to read the source's sequence %s", PQgetvalue(sres, s, 1));
	else if (PQgetvalue(dres, i, 2)[0] != 't' || PQgetvalue(dres, i, 3)[0] != 't')
		r->why = strdup("only its owner may move it with the load (ALTER SEQUENCE), and read it");
	else if (!is_integer(m.increment))
		r->why = cli_strdup_printf("its increment %s is not an integer", m.increment);
	else {
		if (!(next = source_next(src, PQgetvalue(sres, s, 1), PQgetvalue(sres, s, 4), err, errlen)))
			return 0;
		m.source_next = next;
		ok = is_integer(next) ? move_one(dst, &m, r, err, errlen)
		     : (r->why = cli_strdup_printf("the source's next value %s is not an integer", next)) != NULL;
		free(next);
		if (!ok)
			return 0;
	}
	if (!r->next && !r->why) {
		snprintf(err, errlen, "out of memory");
		return 0;
	}
	return 1;
}

int
seq_sync_owned(PGconn *src, const char *src_table, PGconn *dst, const char *dst_table,
               const char *const *columns, size_t ncolumns, int wait_ms, seq_result **out, size_t *nout,
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
		seq_result *r = &rs[n];

		if (!wanted(PQgetvalue(dres, i, 0), columns, ncolumns))
			continue;
		n++;
		r->column = strdup(PQgetvalue(dres, i, 0));
		r->sequence = strdup(PQgetvalue(dres, i, 1));
		if (!r->column || !r->sequence) {
			snprintf(err, errlen, "out of memory");
			goto done;
		}
		if (!sync_row(src, sres, dst, dres, i, wait_ms, r, err, errlen))
			goto done;
	}
	ok = 1;
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
		free(r[i].next);
		free(r[i].why);
	}
	free(r);
}
