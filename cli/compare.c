/*
 * compare.c: the comparison engine of compare.h: the reads, one table on
 * every target (savepoints, the copy plan per target, the whole-table
 * count and checksum on the source and all targets at once), and the
 * outcome in words.  compare_locate.c finds where a table differs.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "compare_int.h"
#include "strbuf.h"

static const char *const status_names[] = {"same", "differs", "error"};
static const char *const kind_names[] = {"none", "table", "missing", "extra", "changed", "copies", "null_key",
                                         "unlocated"};

const char *
compare_status_name(enum compare_status st)
{
	return status_names[st];
}

const char *
compare_kind_name(enum compare_kind k)
{
	return kind_names[k];
}

void
compare_result_clear(compare_result *r)
{
	free(r->key);
	free(r->columns);
	free(r->message);
	memset(r, 0, sizeof *r);
}

/* server_message: the server's primary message of res, else the connection's, without its newline. */
static char *
server_message(PGconn *conn, const PGresult *res)
{
	const char *m = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
	char *out;
	size_t len;

	if (!m)
		m = PQstatus(conn) == CONNECTION_BAD ? "the connection was lost" : PQerrorMessage(conn);
	if (!(out = strdup(m)))
		return NULL;
	len = strlen(out);
	while (len > 0 && (out[len - 1] == '\n' || out[len - 1] == ' '))
		out[--len] = '\0';
	return out;
}

void
cmp_fail(cmp_job *j, int on_source, PGconn *conn, const PGresult *res)
{
	char *msg;

	if (j->r->status == COMPARE_ERROR)
		return;   /* the first error is the one that counts */
	msg = server_message(conn, res);
	free(j->r->message);
	j->r->message = cli_strdup_printf("%s: %s", on_source ? "source" : "target", msg ? msg : "out of memory");
	j->r->status = COMPARE_ERROR;
	j->active = 0;
	free(msg);
}

/* command: a statement without rows; 1 when it succeeded. */
static int
command(PGconn *conn, const char *sql)
{
	PGresult *res = PQexec(conn, sql);
	int ok = PQresultStatus(res) == PGRES_COMMAND_OK || PQresultStatus(res) == PGRES_TUPLES_OK;

	PQclear(res);
	return ok;
}

/* set_local: set_config(name, value, true): until the enclosing savepoint is rolled back. */
static int
set_local(PGconn *conn, const char *name, const char *value)
{
	const char *params[2] = {name, value};
	PGresult *res = PQexecParams(conn, "SELECT pg_catalog.set_config($1, $2, true)", 2, NULL, params, NULL,
	                             NULL, 0);
	int ok = PQresultStatus(res) == PGRES_TUPLES_OK;

	PQclear(res);
	return ok;
}

/* interrupted: the caller asked to stop (a signal): the job fails, and says so. */
static int
interrupted(cmp_job *j)
{
	if (!j->stop || !*j->stop)
		return 0;
	if (j->r->status != COMPARE_ERROR) {
		free(j->r->message);
		j->r->message = strdup("interrupted");
		j->r->status = COMPARE_ERROR;
	}
	j->active = 0;
	return 1;
}

PGresult *
cmp_src_query(cmp_job *j, const char *sql, int n, const char *const *params)
{
	PGresult *res;

	if (interrupted(j))
		return NULL;
	if (!command(j->src, "SAVEPOINT pgcm_query")) {
		cmp_fail(j, 1, j->src, NULL);
		return NULL;
	}
	res = set_local(j->src, "TimeZone", j->sh.timezone) ? PQexecParams(j->src, sql, n, NULL, params, NULL, NULL, 0)
	                                                     : NULL;
	if (PQresultStatus(res) == PGRES_TUPLES_OK && command(j->src, "RELEASE SAVEPOINT pgcm_query"))
		return res;
	cmp_fail(j, 1, j->src, res);
	PQclear(res);
	(void) command(j->src, "ROLLBACK TO SAVEPOINT pgcm_query; RELEASE SAVEPOINT pgcm_query");
	return NULL;
}

/* dst_send: start sql on the target without waiting. */
static int
dst_send(cmp_job *j, const char *sql, int n, const char *const *params)
{
	if (interrupted(j))
		return 0;
	if (PQsendQueryParams(j->dst, sql, n, NULL, params, NULL, NULL, 0))
		return 1;
	cmp_fail(j, 0, j->dst, NULL);
	return 0;
}

/* dst_result: the rows of what dst_send started (every result read), or NULL with the job failed. */
static PGresult *
dst_result(cmp_job *j)
{
	PGresult *res, *rows = NULL, *bad = NULL;

	while ((res = PQgetResult(j->dst))) {
		if (PQresultStatus(res) == PGRES_TUPLES_OK && !rows && !bad) {
			rows = res;
			continue;
		}
		if (!bad && PQresultStatus(res) != PGRES_TUPLES_OK)
			bad = res;
		else
			PQclear(res);
	}
	if (rows && !bad)
		return rows;
	cmp_fail(j, 0, j->dst, bad);
	PQclear(rows);
	PQclear(bad);
	return NULL;
}

PGresult *
cmp_dst_query(cmp_job *j, const char *sql, int n, const char *const *params)
{
	return dst_send(j, sql, n, params) ? dst_result(j) : NULL;
}

int
cmp_pair(cmp_job *j, const char *src_sql, const char *dst_sql, int n, const char *const *params,
         PGresult **s, PGresult **d)
{
	int sent = dst_send(j, dst_sql, n, params);

	*s = sent ? cmp_src_query(j, src_sql, n, params) : NULL;
	*d = sent ? dst_result(j) : NULL;
	if (*s && *d)
		return 1;
	PQclear(*s);
	PQclear(*d);
	*s = *d = NULL;
	return 0;
}

/* begin_read: REPEATABLE READ, READ ONLY, or *err. */
static int
begin_read(PGconn *conn, char **err)
{
	PGresult *res = PQexec(conn, "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY");
	int ok = PQresultStatus(res) == PGRES_COMMAND_OK;

	if (!ok)
		*err = server_message(conn, res);
	PQclear(res);
	return ok;
}

int
compare_begin_source(PGconn *conn, const char *snapshot, char **exported, char **err)
{
	PGresult *res;
	char *lit, *sql;

	*err = NULL;
	if (exported)
		*exported = NULL;
	if (!begin_read(conn, err))
		return 0;
	if (snapshot) {
		/* SET TRANSACTION takes no parameter: the name goes in as a literal. */
		if (!(lit = PQescapeLiteral(conn, snapshot, strlen(snapshot)))) {
			*err = server_message(conn, NULL);
			return 0;
		}
		sql = cli_strdup_printf("SET TRANSACTION SNAPSHOT %s", lit);
		PQfreemem(lit);
		res = sql ? PQexec(conn, sql) : NULL;
		free(sql);
		if (PQresultStatus(res) != PGRES_COMMAND_OK) {
			*err = server_message(conn, res);
			PQclear(res);
			return 0;
		}
		PQclear(res);
		return 1;
	}
	if (!exported)
		return 1;
	res = PQexec(conn, "SELECT pg_catalog.pg_export_snapshot()");
	if (PQresultStatus(res) != PGRES_TUPLES_OK || !(*exported = strdup(PQgetvalue(res, 0, 0)))) {
		*err = server_message(conn, res);
		PQclear(res);
		return 0;
	}
	PQclear(res);
	return 1;
}

int
compare_begin_target(PGconn *conn, char **err)
{
	*err = NULL;
	return begin_read(conn, err);
}

void
compare_end(PGconn *conn)
{
	if (conn && PQstatus(conn) == CONNECTION_OK)
		(void) command(conn, "ROLLBACK");
}

static double
now_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

/*
 * open_target: the target's table savepoint, its table found by name (with
 * the session's own search_path), then search_path emptied so that every
 * type name the catalogs give is qualified.  Returns the quoted name and
 * *relkind, or NULL: the job failed, or differs (no such table).
 */
static char *
open_target(cmp_job *j, const char *name, const char *display, char *relkind)
{
	static const char sql[] =
		"SELECT pg_catalog.quote_ident(n.nspname) OPERATOR(pg_catalog.||) '.' OPERATOR(pg_catalog.||) "
		"pg_catalog.quote_ident(c.relname), c.relkind FROM pg_catalog.pg_class c "
		"JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace "
		"WHERE c.oid OPERATOR(pg_catalog.=) pg_catalog.to_regclass($1)";
	const char *params[1] = {name};
	PGresult *res;
	char *q = NULL;

	if (!command(j->dst, "SAVEPOINT pgcm_table")) {
		cmp_fail(j, 0, j->dst, NULL);
		return NULL;
	}
	j->dst_savepoint = 1;
	res = PQexecParams(j->dst, sql, 1, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK || !set_local(j->dst, "search_path", "")) {
		cmp_fail(j, 0, j->dst, res);
	} else if (PQntuples(res) == 0) {
		j->r->status = COMPARE_DIFFERS;
		j->r->kind = DIFF_TABLE;
		j->r->message = cli_strdup_printf("the target has no table %s", display);
		j->active = 0;
	} else if (!(q = strdup(PQgetvalue(res, 0, 0)))) {
		cmp_fail(j, 0, j->dst, NULL);
	} else {
		*relkind = PQgetvalue(res, 0, 1)[0];
	}
	PQclear(res);
	return q;
}

/* close_target: roll the target back to before the table (its settings too). */
static void
close_target(cmp_job *j)
{
	if (j->dst_savepoint && PQstatus(j->dst) == CONNECTION_OK)
		(void) command(j->dst, "ROLLBACK TO SAVEPOINT pgcm_table; RELEASE SAVEPOINT pgcm_table");
	j->dst_savepoint = 0;
}

/* Whole-table count, checksum, and (native key) target rows with a NULL key. */
static char *
level0_sql(const cmp_side *s)
{
	return cli_strdup_printf("SELECT pg_catalog.count(*), COALESCE(pg_catalog.sum(h), 0), "
	                         "pg_catalog.count(*) FILTER (WHERE NOT nn) FROM (SELECT %s AS h, %s AS nn FROM %s) s",
	                         s->hash, s->notnull, s->from);
}

/*
 * decide: the whole-table numbers of both sides: same, or differs (then
 * cmp_locate says where).
 */
static void
decide(cmp_job *j, const PGresult *s, const PGresult *d)
{
	compare_result *r = j->r;

	r->source_rows = atoll(PQgetvalue(s, 0, 0));
	r->target_rows = atoll(PQgetvalue(d, 0, 0));
	j->null_keys = atoll(PQgetvalue(d, 0, 2));
	if (r->source_rows == r->target_rows && strcmp(PQgetvalue(s, 0, 1), PQgetvalue(d, 0, 1)) == 0
	    && j->null_keys == 0) {
		r->status = COMPARE_SAME;
		r->message = cli_strdup_printf("same (%lld row%s)", r->source_rows, r->source_rows == 1 ? "" : "s");
		j->active = 0;
		return;
	}
	r->status = COMPARE_DIFFERS;
}

/* same_source_sql: an earlier job computes the same numbers on the source (same SQL, same TimeZone). */
static long
same_source_sql(cmp_job *jobs, size_t t, char **sqls)
{
	for (size_t u = 0; u < t; u++)
		if (sqls[u] && sqls[t] && strcmp(sqls[u], sqls[t]) == 0
		    && strcmp(jobs[u].sh.timezone, jobs[t].sh.timezone) == 0)
			return (long) u;
	return -1;
}

/*
 * whole_tables: every active target's count and checksum, sent to all
 * targets at once; the source computes each distinct one once meanwhile.
 */
static void
whole_tables(cmp_job *jobs, size_t n)
{
	char **src_sqls = calloc(n, sizeof *src_sqls);
	PGresult **src_res = calloc(n, sizeof *src_res);
	int *sent = calloc(n, sizeof *sent), *owned = calloc(n, sizeof *owned);

	for (size_t t = 0; t < n && src_sqls && src_res && sent && owned; t++) {
		char *sql = jobs[t].active ? level0_sql(&jobs[t].sh.dst) : NULL;
		if (jobs[t].active && (!sql || !(src_sqls[t] = level0_sql(&jobs[t].sh.src))))
			cmp_fail(&jobs[t], 1, jobs[t].src, NULL);
		else if (jobs[t].active)
			sent[t] = dst_send(&jobs[t], sql, 0, NULL);
		free(sql);
	}
	for (size_t t = 0; t < n && src_sqls && src_res && sent; t++) {
		long u;
		if (!sent[t])
			continue;
		if ((u = same_source_sql(jobs, t, src_sqls)) >= 0 && src_res[u]) {
			src_res[t] = src_res[u];
		} else {
			src_res[t] = cmp_src_query(&jobs[t], src_sqls[t], 0, NULL);
			owned[t] = 1;
		}
	}
	for (size_t t = 0; t < n && src_sqls && src_res && sent; t++) {
		PGresult *d;
		if (!sent[t])
			continue;
		d = dst_result(&jobs[t]);   /* read even when the source failed: the target must be idle again */
		if (d && src_res[t] && jobs[t].active)
			decide(&jobs[t], src_res[t], d);
		PQclear(d);
	}
	for (size_t t = 0; t < n && src_sqls && src_res && owned; t++) {
		if (owned[t])
			PQclear(src_res[t]);   /* a shared one is freed by the job that ran it */
		free(src_sqls[t]);
	}
	if (!src_sqls || !src_res || !sent || !owned)
		for (size_t t = 0; t < n; t++)
			if (jobs[t].active)
				cmp_fail(&jobs[t], 1, jobs[t].src, NULL);
	free(src_sqls);
	free(src_res);
	free(sent);
	free(owned);
}

/*
 * prepare_target: the target's table, then the copy plan and the SQL of
 * both sides.  The source's part runs in a savepoint of its own.
 */
static void
prepare_target(cmp_job *j, size_t number, const char *qsrc, const compare_request *req, const cmp_key_info *key)
{
	char relkind = 0;
	char *qdst = open_target(j, req->target_table ? req->target_table : qsrc,
	                         req->target_table ? req->target_table : req->display, &relkind);

	if (!qdst)
		return;
	if (!command(j->src, "SAVEPOINT pgcm_query")) {
		cmp_fail(j, 1, j->src, NULL);
	} else {
		int built = cmp_shape_build(&j->sh, j->src, j->dst, number, qsrc, qdst, relkind, req, key, j->r);
		(void) command(j->src, built ? "RELEASE SAVEPOINT pgcm_query"
		                             : "ROLLBACK TO SAVEPOINT pgcm_query; RELEASE SAVEPOINT pgcm_query");
		if (!built)
			j->active = 0;
	}
	free(qdst);
}

/* open_source: the source's table savepoint, search_path emptied, and the table's key; or *err. */
static char *
open_source(PGconn *src, const compare_request *req, cmp_key_info *key, char **err)
{
	char *qs = req->qualified ? NULL : PQescapeIdentifier(src, req->schema, strlen(req->schema));
	char *qn = req->qualified ? NULL : PQescapeIdentifier(src, req->name, strlen(req->name));
	char *q = req->qualified ? strdup(req->qualified) : qs && qn ? cli_strdup_printf("%s.%s", qs, qn) : NULL;

	PQfreemem(qs);
	PQfreemem(qn);
	*err = NULL;
	if (!q || !command(src, "SAVEPOINT pgcm_table") || !set_local(src, "search_path", "")
	    || !cmp_key_load(src, q, key, err)) {
		if (!*err)
			*err = server_message(src, NULL);
		free(q);
		return NULL;
	}
	return q;
}

size_t
compare_table(PGconn *src, PGconn *const *dsts, size_t n, const compare_request *req,
              compare_result *results, compare_key *key)
{
	cmp_job *jobs = calloc(n ? n : 1, sizeof *jobs);
	cmp_key_info ki;
	char *qsrc, *err = NULL;
	double t0 = now_seconds();
	size_t differ = 0;

	memset(&ki, 0, sizeof ki);
	for (size_t t = 0; t < n; t++) {
		memset(&results[t], 0, sizeof results[t]);
		results[t].source_rows = results[t].target_rows = -1;
		if (jobs)
			jobs[t] = (cmp_job){.src = src, .dst = dsts[t], .r = &results[t], .active = 1, .stop = req->stop};
	}
	qsrc = jobs ? open_source(src, req, &ki, &err) : NULL;
	for (size_t t = 0; t < n; t++) {
		if (!qsrc) {
			results[t].status = COMPARE_ERROR;
			results[t].message = cli_strdup_printf("source: %s", err ? err : "out of memory");
			continue;
		}
		prepare_target(&jobs[t], req->numbers ? req->numbers[t] : t, qsrc, req, &ki);
	}
	if (qsrc) {
		whole_tables(jobs, n);
		for (size_t t = 0; t < n; t++)
			if (jobs[t].active && results[t].status == COMPARE_DIFFERS)
				cmp_locate(&jobs[t]);
	}
	for (size_t t = 0; t < n; t++) {
		if (jobs)
			close_target(&jobs[t]);
		if (jobs)
			cmp_shape_clear(&jobs[t].sh);
		differ += results[t].status != COMPARE_SAME;
		results[t].seconds = now_seconds() - t0;
		if (!results[t].message)
			results[t].message = strdup("out of memory");
	}
	if (qsrc && PQstatus(src) == CONNECTION_OK)
		(void) command(src, "ROLLBACK TO SAVEPOINT pgcm_table; RELEASE SAVEPOINT pgcm_table");
	if (key)
		key->desc = ki.desc ? strdup(ki.desc) : NULL;
	cmp_key_clear(&ki);
	free(qsrc);
	free(err);
	free(jobs);
	return differ;
}
