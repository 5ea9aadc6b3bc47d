/*
 * session.c: pin the session settings that shape COPY's text data, as
 * pg_dump's setup_connection does, so that what one server writes as text
 * another reads back as the same value.
 */
#include <stdio.h>
#include <string.h>

#include "plan_int.h"

/*
 * pgcm_session_pin: one round trip of SETs.  DateStyle is set to ISO alone:
 * the server keeps the session's day/month order, which only matters for
 * files written by hand (ISO dates are read the same in every order).  The
 * encoding is passed as a literal quoted by libpq.  row_security off makes a
 * read that row-level security would cut short an error, as pg_dump does.
 */
pgcm_status
pgcm_session_pin(PGconn *conn, const char *encoding, char *errbuf, size_t errlen)
{
	pgcm__buf sql = {0};
	PGresult *res;
	char *text;
	pgcm_status st = PGCM_OK;

	if (errbuf && errlen)
		errbuf[0] = '\0';
	if (!conn)
		return PGCM_ERR_ARG;
	if (PQstatus(conn) != CONNECTION_OK) {
		if (errbuf && errlen)
			snprintf(errbuf, errlen, "the connection is not usable");
		return PGCM_ERR_CONNECTION;
	}
	pgcm__buf_add(&sql, "SET DateStyle = ISO; SET IntervalStyle = postgres; "
	                    "SET extra_float_digits = 3; SET bytea_output = hex; "
	                    "SET xmloption = content; SET row_security = off; SET client_encoding = ");
	pgcm__buf_add_literal(&sql, conn, encoding ? encoding : "UTF8");
	if (!(text = pgcm__buf_take(&sql)))
		return PGCM_ERR_NOMEM;
	res = PQexec(conn, text);
	pgcm__free(text);
	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		char sqlstate[6], *msg = pgcm__pq_result_error(conn, res, sqlstate);
		st = PQstatus(conn) == CONNECTION_OK ? PGCM_ERR_SERVER : PGCM_ERR_CONNECTION;
		if (errbuf && errlen)
			snprintf(errbuf, errlen, "pinning the session's settings: %s", msg ? msg : "out of memory");
		pgcm__free(msg);
	}
	PQclear(res);
	return st;
}
