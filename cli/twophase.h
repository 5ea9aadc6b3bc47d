/*
 * twophase.h: the statements of a two-phase commit on one session, as the
 * copy and recover commands use them: the tool's transaction ids (gids),
 * PREPARE TRANSACTION, COMMIT / ROLLBACK PREPARED, the tool's prepared
 * transactions on a server, and finding out, over a new session, what became
 * of a transaction whose connection was lost.
 *
 * A gid is "pgcopyman:RUN:tI:sJ": the tool, the run id (16 hex digits), the
 * target's position on the command line (from 1) and the stream (from 1;
 * s0 is the session deleting the old rows for --truncate with --jobs); at
 * most 50 bytes, well under the server's 200.
 */
#ifndef PGCM_CLI_TWOPHASE_H
#define PGCM_CLI_TWOPHASE_H

#include <stddef.h>

#include <libpq-fe.h>

#include "statedir.h"

#define GID_PREFIX "pgcopyman:"

/* Why a statement failed. */
typedef struct sql_error {
	char *message;      /* the server's message with its DETAIL, or libpq's; malloc'd */
	char sqlstate[6];   /* "" when the server sent none */
	int lost;           /* the connection is gone: the statement's effect is unknown */
} sql_error;

void sql_error_clear(sql_error *err);

/* sql_error_from: *err (cleared first) from a failed result on conn; res may be NULL. */
void sql_error_from(PGconn *conn, const PGresult *res, sql_error *err);

/* twophase_exec: run one statement that returns no rows.  1, or 0 with *err filled. */
int twophase_exec(PGconn *conn, const char *sql, sql_error *err);

/* twophase_gid: the gid of stream `stream` of target `target` in run run_id; malloc'd. */
char *twophase_gid(const char *run_id, int target, int stream);

/* twophase_gid_run: the run id of one of the tool's gids into run_id; 1, or 0 when gid is not one. */
int twophase_gid_run(const char *gid, char run_id[RUN_ID_LEN + 1]);

/* twophase_txid: the session's transaction id (txid_current(), with epoch).  1, or 0 with *err. */
int twophase_txid(PGconn *conn, long long *txid, sql_error *err);

/* twophase_prepare: PREPARE TRANSACTION gid.  1, or 0 with *err. */
int twophase_prepare(PGconn *conn, const char *gid, sql_error *err);

/* twophase_finish: COMMIT PREPARED gid (commit) or ROLLBACK PREPARED gid.  1, or 0 with *err. */
int twophase_finish(PGconn *conn, const char *gid, int commit, sql_error *err);

/*
 * twophase_max_prepared: the server's max_prepared_transactions (0, the
 * default, means no two-phase commit).  1, or 0 with *err.
 */
int twophase_max_prepared(PGconn *conn, int *max, sql_error *err);

/* One of the tool's prepared transactions on a server. */
typedef struct prepared_xact {
	char *gid;
	char *database;
	char *prepared;     /* when it was prepared */
	int here;           /* in the session's own database: only there can it be finished */
} prepared_xact;

/*
 * twophase_list: the prepared transactions whose gid starts with prefix
 * (GID_PREFIX, or GID_PREFIX "RUN:"), in every database of the server,
 * oldest first.  *out (free with twophase_list_free) holds *n of them.
 * 1, or 0 with *err.
 */
int twophase_list(PGconn *conn, const char *prefix, prepared_xact **out, size_t *n, sql_error *err);
void twophase_list_free(prepared_xact *x, size_t n);

enum xact_outcome {
	XACT_COMMITTED,     /* committed */
	XACT_ABORTED,       /* rolled back (or never got anywhere) */
	XACT_PREPARED,      /* prepared as gid, waiting for COMMIT / ROLLBACK PREPARED */
	XACT_UNKNOWN        /* cannot be told: the server cannot be reached, or forgot the id */
};

/*
 * twophase_resolve: what became of transaction txid (and, when gid is not
 * NULL, of the prepared transaction gid) after the connection that ran it
 * was lost.  Connects anew with conninfo (a few tries over about two
 * seconds) and asks txid_status(); a transaction still in progress (its
 * backend not yet gone) is asked about again for up to ten seconds.  For
 * XACT_PREPARED *conn_out is the new session (the caller finishes gid on it
 * and closes it); otherwise *conn_out is NULL.  For XACT_UNKNOWN *why says
 * why (malloc'd).
 */
enum xact_outcome twophase_resolve(const char *conninfo, long long txid, const char *gid,
                                   PGconn **conn_out, char **why);

/*
 * twophase_recover_command: the command that settles a target's leftovers:
 * "pgcopyman recover --to 'CONNINFO' [--state-dir 'DIR']", quoted for a
 * POSIX shell, the connection string without secrets.  malloc'd.
 */
char *twophase_recover_command(const char *conninfo, const char *state_dir);

#endif
