/*
 * commit_2pc.c: the statements of a two-phase commit on one session (see
 * twophase.h).  Every gid is the tool's own ASCII, but still goes to the
 * server as a literal quoted by libpq.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "twophase.h"

void
sql_error_clear(sql_error *err)
{
	free(err->message);
	memset(err, 0, sizeof *err);
}

/* trimmed: s without its trailing newlines and spaces, malloc'd. */
static char *
trimmed(const char *s)
{
	char *t = strdup(s ? s : "");
	size_t n = t ? strlen(t) : 0;

	while (n > 0 && (t[n - 1] == '\n' || t[n - 1] == ' '))
		t[--n] = '\0';
	return t;
}

void
sql_error_from(PGconn *conn, const PGresult *res, sql_error *err)
{
	const char *primary = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
	const char *detail = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL) : NULL;
	const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;

	sql_error_clear(err);
	if (primary)
		err->message = detail ? cli_strdup_printf("%s DETAIL: %s", primary, detail) : strdup(primary);
	else
		err->message = trimmed(PQerrorMessage(conn));
	snprintf(err->sqlstate, sizeof err->sqlstate, "%s", state ? state : "");
	err->lost = PQstatus(conn) != CONNECTION_OK;
}

/* exec_expect: run sql (with params) and keep the result when its status is want. */
static PGresult *
exec_expect(PGconn *conn, const char *sql, int nparams, const char *const *params, ExecStatusType want,
            sql_error *err)
{
	PGresult *res = PQexecParams(conn, sql, nparams, NULL, params, NULL, NULL, 0);

	if (PQresultStatus(res) == want)
		return res;
	sql_error_from(conn, res, err);
	PQclear(res);
	return NULL;
}

int
twophase_exec(PGconn *conn, const char *sql, sql_error *err)
{
	PGresult *res = exec_expect(conn, sql, 0, NULL, PGRES_COMMAND_OK, err);

	PQclear(res);
	return res != NULL;
}

char *
twophase_gid(const char *run_id, int target, int stream)
{
	return cli_strdup_printf(GID_PREFIX "%s:t%d:s%d", run_id, target, stream);
}

int
twophase_gid_run(const char *gid, char run_id[RUN_ID_LEN + 1])
{
	size_t p = strlen(GID_PREFIX);

	if (strncmp(gid, GID_PREFIX, p) != 0 || strlen(gid) < p + RUN_ID_LEN + 1 || gid[p + RUN_ID_LEN] != ':')
		return 0;
	for (size_t i = 0; i < RUN_ID_LEN; i++)
		if (!strchr("0123456789abcdef", gid[p + i]))
			return 0;
	memcpy(run_id, gid + p, RUN_ID_LEN);
	run_id[RUN_ID_LEN] = '\0';
	return 1;
}

int
twophase_txid(PGconn *conn, long long *txid, sql_error *err)
{
	PGresult *res = exec_expect(conn, "SELECT txid_current()", 0, NULL, PGRES_TUPLES_OK, err);

	if (!res)
		return 0;
	*txid = atoll(PQgetvalue(res, 0, 0));
	PQclear(res);
	return 1;
}

/* exec_with_gid: run "PREFIX 'gid'" with gid quoted by libpq. */
static int
exec_with_gid(PGconn *conn, const char *prefix, const char *gid, sql_error *err)
{
	char *lit = PQescapeLiteral(conn, gid, strlen(gid));
	char *sql = lit ? cli_strdup_printf("%s %s", prefix, lit) : NULL;
	int ok;

	if (!sql) {
		sql_error_clear(err);
		err->message = strdup("out of memory");
		PQfreemem(lit);
		return 0;
	}
	ok = twophase_exec(conn, sql, err);
	free(sql);
	PQfreemem(lit);
	return ok;
}

int
twophase_prepare(PGconn *conn, const char *gid, sql_error *err)
{
	return exec_with_gid(conn, "PREPARE TRANSACTION", gid, err);
}

int
twophase_finish(PGconn *conn, const char *gid, int commit, sql_error *err)
{
	return exec_with_gid(conn, commit ? "COMMIT PREPARED" : "ROLLBACK PREPARED", gid, err);
}

int
twophase_max_prepared(PGconn *conn, int *max, sql_error *err)
{
	PGresult *res = exec_expect(conn, "SELECT current_setting('max_prepared_transactions')::int", 0, NULL,
	                            PGRES_TUPLES_OK, err);

	if (!res)
		return 0;
	*max = atoi(PQgetvalue(res, 0, 0));
	PQclear(res);
	return 1;
}

int
twophase_list(PGconn *conn, const char *prefix, prepared_xact **out, size_t *n, sql_error *err)
{
	/* LIKE would read _ and % in the prefix as wildcards: compare the start instead. */
	const char *params[1] = {prefix};
	PGresult *res = exec_expect(conn,
	                            "SELECT gid, database, prepared::text, database = current_database() "
	                            "FROM pg_prepared_xacts WHERE left(gid, length($1)) = $1 ORDER BY prepared, gid",
	                            1, params, PGRES_TUPLES_OK, err);
	int rows;

	*out = NULL;
	*n = 0;
	if (!res)
		return 0;
	rows = PQntuples(res);
	if (rows > 0 && !(*out = calloc((size_t) rows, sizeof **out))) {
		PQclear(res);
		sql_error_clear(err);
		err->message = strdup("out of memory");
		return 0;
	}
	for (int i = 0; i < rows; i++) {
		prepared_xact *x = &(*out)[i];
		x->gid = strdup(PQgetvalue(res, i, 0));
		x->database = strdup(PQgetvalue(res, i, 1));
		x->prepared = strdup(PQgetvalue(res, i, 2));
		x->here = strcmp(PQgetvalue(res, i, 3), "t") == 0;
		(*n)++;
		if (!x->gid || !x->database || !x->prepared) {
			twophase_list_free(*out, *n);
			*out = NULL;
			*n = 0;
			PQclear(res);
			sql_error_clear(err);
			err->message = strdup("out of memory");
			return 0;
		}
	}
	PQclear(res);
	return 1;
}

void
twophase_list_free(prepared_xact *x, size_t n)
{
	for (size_t i = 0; x && i < n; i++) {
		free(x[i].gid);
		free(x[i].database);
		free(x[i].prepared);
	}
	free(x);
}

static void
sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
}

/*
 * ask_outcome: one look at txid's status and at gid among the prepared
 * transactions; -1 when the transaction is still running (ask again).
 */
static int
ask_outcome(PGconn *conn, long long txid, const char *gid, char **why)
{
	char txt[32];
	const char *params[2] = {txt, gid ? gid : ""};
	sql_error err = {0};
	PGresult *res;
	const char *status;
	int outcome;

	snprintf(txt, sizeof txt, "%lld", txid);
	res = exec_expect(conn, "SELECT txid_status($1::bigint), EXISTS (SELECT FROM pg_prepared_xacts "
	                        "WHERE gid = $2 AND database = current_database())",
	                  2, params, PGRES_TUPLES_OK, &err);
	if (!res) {
		*why = cli_strdup_printf("cannot ask the server: %s", err.message ? err.message : "?");
		sql_error_clear(&err);
		return XACT_UNKNOWN;
	}
	status = PQgetisnull(res, 0, 0) ? NULL : PQgetvalue(res, 0, 0);
	if (strcmp(PQgetvalue(res, 0, 1), "t") == 0)
		outcome = XACT_PREPARED;
	else if (!status)
		outcome = XACT_UNKNOWN;
	else if (strcmp(status, "committed") == 0)
		outcome = XACT_COMMITTED;
	else if (strcmp(status, "aborted") == 0)
		outcome = XACT_ABORTED;
	else
		outcome = -1;
	if (outcome == XACT_UNKNOWN)
		*why = cli_strdup_printf("the server no longer knows transaction %lld", txid);
	PQclear(res);
	return outcome;
}

enum xact_outcome
twophase_resolve(const char *conninfo, long long txid, const char *gid, PGconn **conn_out, char **why)
{
	PGconn *conn = NULL;
	int outcome = -1;

	*conn_out = NULL;
	*why = NULL;
	for (int attempt = 0; attempt < 3 && !conn; attempt++) {
		if (attempt)
			sleep_ms(1000);
		conn = cli_connect(conninfo);
	}
	if (!conn) {
		*why = strdup("cannot connect to the server again to find out");
		return XACT_UNKNOWN;
	}
	/* A backend whose client vanished may still be finishing the transaction: give it time. */
	for (int tries = 0; tries < 50 && outcome < 0; tries++) {
		if (tries)
			sleep_ms(200);
		outcome = ask_outcome(conn, txid, gid, why);
	}
	if (outcome < 0) {
		*why = cli_strdup_printf("transaction %lld was still in progress after 10 s", txid);
		outcome = XACT_UNKNOWN;
	}
	if (outcome == XACT_PREPARED)
		*conn_out = conn;
	else
		PQfinish(conn);
	return (enum xact_outcome) outcome;
}

/* add_shell_quoted: s in single quotes for a POSIX shell (a ' becomes '\''). */
static void
add_shell_quoted(cli_buf *b, const char *s)
{
	cli_buf_add(b, "'");
	for (const char *p = s; *p; p++) {
		if (*p == '\'')
			cli_buf_add(b, "'\\''");
		else
			cli_buf_addn(b, p, 1);
	}
	cli_buf_add(b, "'");
}

char *
twophase_recover_command(const char *conninfo, const char *state_dir)
{
	char *err = NULL, *clean = cli_conninfo_without_secrets(conninfo, &err);
	cli_buf b;

	cli_buf_init(&b);
	cli_buf_add(&b, "pgcopyman recover");
	if (clean) {
		cli_buf_add(&b, " --to ");
		add_shell_quoted(&b, clean);
	}
	if (state_dir) {
		cli_buf_add(&b, " --state-dir ");
		add_shell_quoted(&b, state_dir);
	}
	free(clean);
	free(err);
	return cli_buf_take(&b);
}
