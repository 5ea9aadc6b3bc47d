/*
 * copy_commit.c: the targets' transactions, from BEGIN to what is true on
 * each target at the end.
 *
 * Every server target is loaded in transactions of its own (one per stream).
 * At the end each transaction first checks what COMMIT would check (SET
 * CONSTRAINTS ALL IMMEDIATE, which also fires deferred constraint
 * triggers).  A target of one session then commits with COMMIT.  Sessions
 * that must agree (copy_commit_plan.c) end with PREPARE TRANSACTION; once
 * every one is prepared the decision is written to the run's record
 * (durably), and only then is each COMMIT PREPARED; if any could not
 * prepare, every one of its group is rolled back.  A connection lost during
 * a COMMIT is asked about over a new session (txid_status), so a target's
 * report is what is committed on it, or "unknown" with what to check.
 * A file target is put in place (file_target.c) only on success, after the
 * server targets, whose outcome it follows under --on-fault abort.
 *
 * --truncate: with one session, TRUNCATE in the load's transaction.  With
 * --jobs, a TRUNCATE would lock the other sessions out of the table until it
 * commits, so a session of its own (gid stream s0) DELETEs the old rows while
 * the streams load, and is prepared and committed with them: the old rows go
 * when the new ones commit, and not before (copy_commit_plan.c refused the
 * tables where the streams would have to wait for that session).
 *
 * Between the streams' end and this end phase, bulkload_finish() re-creates
 * what a replaced table deferred (bulkload.h); a target it faulted arrives
 * here reported, and is rolled back like any target that faulted.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "copy.h"
#include "bulkload.h"
#include "twophase.h"

enum ses_state {
	SES_OPEN,         /* in its transaction */
	SES_PREPARED,     /* prepared as its gid */
	SES_LOST,         /* its connection was lost during PREPARE: prepared or not, unknown yet */
	SES_COMMITTED,
	SES_ROLLED_BACK,
	SES_UNKNOWN       /* committed or not: cannot be told */
};

/* One target session at the end of the load. */
typedef struct end_session {
	PGconn *conn;
	char *gid;            /* two-phase only */
	long long txid;       /* -1 until asked */
	enum ses_state state;
	uint64_t rows;        /* what its COPY loaded */
} end_session;

/* The end phase of one copy. */
typedef struct end_phase {
	copy_commit *cc;
	copy_endpoint *dst;
	const copy_opts *o;
	end_session ses[MAX_TARGETS][MAX_JOBS + 1];  /* its streams', then the deleting one */
	int nses[MAX_TARGETS];
	int ended[MAX_TARGETS];  /* every stream completed: it reached the end phase */
	int in[MAX_TARGETS];     /* still on its way to commit */
	int prepared;         /* PREPAREs done so far, in the whole run */
} end_phase;

/*
 * kill_point: a test hook, as PostgreSQL's injection points: when
 * PGCOPYMAN_TEST_KILL_AT names this moment of the end phase, the command
 * kills itself (SIGKILL), as a crash or kill -9 would.  It can do nothing
 * else.
 */
static void
kill_point(const char *moment)
{
	const char *at = getenv("PGCOPYMAN_TEST_KILL_AT");

	if (at && strcmp(at, moment) == 0)
		raise(SIGKILL);
}

/*
 * delete_sql: the statement that empties the target table (verb: TRUNCATE or
 * DELETE FROM); malloc'd, or NULL with the reason on e.
 */
static char *
delete_sql(copy_endpoint *e, const copy_opts *o, const char *verb)
{
	const char *err = NULL;
	char *qname = cli_quote_name(e->conns[0], o->target_table ? o->target_table : o->table, &err);
	char *sql = qname ? cli_strdup_printf("%s %s", verb, qname) : NULL;

	if (!sql) {
		free(e->error);
		e->error = cli_strdup_printf("bad table name: %s", err ? err : "out of memory");
	}
	free(qname);
	return sql;
}

/* set_str: replace a malloc'd string. */
static void
set_str(char **field, char *value)
{
	free(*field);
	*field = value;
}

/*
 * begin_failed: target i could not begin its load: what ("BEGIN",
 * "TRUNCATE public.t", ...) failed with e->error (the server's message, with
 * its DETAIL and HINT) and e->sqlstate.  It is said once, here, and kept on
 * the target (faulted) for the JSON summary; every other target is not
 * loaded, for that reason, which is also the copy's (cc->abort_reason): the
 * copy stops before any data moves.
 */
static void
begin_failed(copy_commit *cc, copy_endpoint *dst, const copy_opts *o, int i, const char *what)
{
	copy_endpoint *e = &dst[i];
	char *reason;

	e->status = "faulted";
	e->reported = 1;
	set_str(&e->error, cli_strdup_printf("%s failed: %s", what, e->error ? e->error : "out of memory"));
	cli_error("target %d (%s): %s%s%s%s", i + 1, e->label, e->error ? e->error : "out of memory",
	          e->sqlstate[0] ? " (SQLSTATE " : "", e->sqlstate, e->sqlstate[0] ? ")" : "");
	reason = cli_strdup_printf("target %d could not begin its load (%s failed); nothing was loaded", i + 1, what);
	for (int k = 0; k < o->nto; k++)
		if (k != i)
			set_str(&dst[k].reason, reason ? strdup(reason) : NULL);
	set_str(&cc->abort_reason, reason);
}

/*
 * empty_target: --truncate.  TRUNCATE on the one session; with --jobs, the
 * deleting session's DELETE is only sent: the server runs it while the
 * streams load, and its result is read at the end (collect_delete).  Returns
 * 1, or 0 with *what set to the step that failed (malloc'd) and its error on e.
 */
static int
empty_target(copy_endpoint *e, const copy_opts *o, char **what)
{
	char *sql = delete_sql(e, o, o->jobs > 1 ? "DELETE FROM" : "TRUNCATE");
	int ok = 0;

	if (!sql) {
		*what = strdup("naming the table");
		return 0;
	}
	if (o->jobs == 1 && !copy_exec_on(e, e->conns[0], sql)) {
		*what = strdup(sql);
	} else if (o->jobs > 1 && !(e->delete_conn = copy_connect_session(e))) {
		set_str(&e->error, strdup("cannot connect (see above)"));
		*what = strdup("opening the session that deletes the old rows");
	} else if (o->jobs > 1 && !copy_exec_on(e, e->delete_conn, "BEGIN")) {
		*what = strdup("BEGIN on the session that deletes the old rows");
	} else if (o->jobs > 1 && !PQsendQuery(e->delete_conn, sql)) {
		set_str(&e->error, strdup(PQerrorMessage(e->delete_conn)));
		*what = cli_strdup_printf("sending %s", sql);
	/*
	 * bulkload.c: after the TRUNCATE, a replaced table's index work is
	 * deferred to the end of its load (with --jobs it only notes why not).
	 */
	} else if (!bulkload_after_truncate(e, o)) {
		*what = strdup("deferring the table's index work");
	} else {
		ok = 1;
	}
	free(sql);
	return ok;
}

/*
 * begin_targets: one transaction per target session; --truncate empties the
 * table inside them.  A step that fails is said once (begin_failed), and
 * nothing is loaded.
 */
int
copy_begin_targets(copy_commit *cc, copy_endpoint *dst, const copy_opts *o)
{
	for (int i = 0; i < o->nto; i++) {
		copy_endpoint *e = &dst[i];
		char *what = NULL;

		if (e->kind != EP_SERVER)
			continue;
		if (!copy_exec_all(e, o->jobs, "BEGIN")) {
			begin_failed(cc, dst, o, i, "BEGIN");
			return 0;
		}
		if (o->truncate && !empty_target(e, o, &what)) {
			begin_failed(cc, dst, o, i, what ? what : "--truncate");
			free(what);
			return 0;
		}
	}
	return 1;
}

/* any_in: some target is still on its way to commit. */
static int
any_in(const end_phase *ep)
{
	for (int i = 0; i < ep->o->nto; i++)
		if (ep->in[i])
			return 1;
	return 0;
}

/* abort_all: every target still on its way to commit will not: the copy is aborted, for reason. */
static void
abort_all(end_phase *ep, const char *reason)
{
	for (int i = 0; i < ep->o->nto; i++) {
		if (!ep->in[i])
			continue;
		ep->in[i] = 0;
		ep->dst[i].status = "aborted";
		set_str(&ep->dst[i].reason, strdup(reason));
	}
	if (!ep->cc->abort_reason)
		ep->cc->abort_reason = strdup(reason);
}

/*
 * target_failed: target i cannot commit: what failed, the server's error.
 * It is said at once; under --on-fault abort it takes every target with it.
 */
static void
target_failed(end_phase *ep, int i, const char *what, const sql_error *err)
{
	copy_endpoint *e = &ep->dst[i];
	char *reason;

	ep->in[i] = 0;
	e->status = "faulted";
	e->reported = 1;
	set_str(&e->error, cli_strdup_printf("%s: %s", what, err->message ? err->message : "?"));
	snprintf(e->sqlstate, sizeof e->sqlstate, "%s", err->sqlstate);
	cli_error("target %d (%s) faulted at the end of its load: %s%s%s%s", i + 1, e->label, e->error,
	          e->sqlstate[0] ? " (SQLSTATE " : "", e->sqlstate, e->sqlstate[0] ? ")" : "");
	if (ep->o->on_fault_abort) {
		reason = cli_strdup_printf("--on-fault abort: target %d faulted at the end of its load", i + 1);
		abort_all(ep, reason ? reason : "--on-fault abort");
		free(reason);
	}
}

/*
 * collect_delete: the result of target i's DELETE of its old rows (sent
 * before the load).  A target that will not commit has it cancelled, and
 * is left for its sessions' closing to roll back.
 */
static void
collect_delete(end_phase *ep, int i)
{
	PGconn *conn = ep->dst[i].delete_conn;
	sql_error err = {0};
	PGresult *res;
	int ok = 1;

	if (!ep->in[i]) {
		PGcancel *cancel = PQgetCancel(conn);
		char buf[256];
		if (cancel)
			(void) PQcancel(cancel, buf, sizeof buf);
		PQfreeCancel(cancel);
		return;
	}
	/* Every result, to the end: the session is then idle in its transaction. */
	while ((res = PQgetResult(conn))) {
		if (ok && PQresultStatus(res) != PGRES_COMMAND_OK) {
			sql_error_from(conn, res, &err);
			ok = 0;
		}
		PQclear(res);
	}
	if (!ok)
		target_failed(ep, i, "deleting the old rows (--truncate) failed", &err);
	sql_error_clear(&err);
}

/*
 * check_constraints: what COMMIT would check, checked now, while nothing is
 * committed anywhere; and a file target's data made durable (the step of
 * putting it in place that can fail for want of space), so that under
 * --on-fault abort a file that cannot be written aborts the servers' commit.
 */
static void
check_constraints(end_phase *ep)
{
	for (int i = 0; i < ep->o->nto; i++) {
		char *why = NULL;
		if (ep->in[i] && ep->dst[i].kind == EP_FILE && !file_target_sync(ep->dst[i].file, &why)) {
			sql_error err = {.message = why ? why : strdup("out of memory")};
			target_failed(ep, i, "writing the file failed", &err);
			sql_error_clear(&err);
		}
	}
	for (int i = 0; i < ep->o->nto; i++) {
		for (int j = 0; ep->in[i] && j < ep->nses[i]; j++) {
			sql_error err = {0};
			if (!twophase_exec(ep->ses[i][j].conn, "SET CONSTRAINTS ALL IMMEDIATE", &err))
				target_failed(ep, i, "a deferred constraint or trigger failed", &err);
			sql_error_clear(&err);
		}
	}
}

/*
 * prepare_all: PREPARE TRANSACTION on every session of every target still
 * in.  A target whose session cannot prepare stops there (and, under
 * --on-fault abort, every target with it).  A connection lost during the
 * PREPARE leaves the session SES_LOST: it may have prepared.
 */
static void
prepare_all(end_phase *ep)
{
	for (int i = 0; i < ep->o->nto; i++) {
		for (int j = 0; ep->in[i] && j < ep->nses[i]; j++) {
			end_session *s = &ep->ses[i][j];
			PGconn *conn = s->conn;
			sql_error err = {0};

			/* Streams are s1..sN; the session deleting the old rows is s0. */
			if (!(s->gid = twophase_gid(ep->cc->record.run_id, i + 1, j < ep->o->jobs ? j + 1 : 0))) {
				err.message = strdup("out of memory");
				target_failed(ep, i, "PREPARE TRANSACTION failed", &err);
			} else if (!twophase_txid(conn, &s->txid, &err)) {
				target_failed(ep, i, "PREPARE TRANSACTION failed", &err);
			} else {
				if (ep->prepared == 0)
					kill_point("before-prepare");
				if (twophase_prepare(conn, s->gid, &err)) {
					s->state = SES_PREPARED;
					if (ep->prepared++ == 0)
						kill_point("between-prepares");
				} else {
					/* A refused PREPARE rolls the transaction back; a lost one may have prepared. */
					s->state = err.lost ? SES_LOST : SES_ROLLED_BACK;
					target_failed(ep, i, "PREPARE TRANSACTION failed", &err);
				}
			}
			sql_error_clear(&err);
		}
	}
}

/*
 * write_decision: the commit point of the two-phase targets.  The record
 * lists every gid to commit; once it is durable they will be committed,
 * by this run or by `pgcopyman recover`.  Returns 1 when it was written.
 */
static int
write_decision(end_phase *ep)
{
	copy_commit *cc = ep->cc;
	char *err = NULL;
	int any = 0, rc = 1;

	for (int i = 0; i < ep->o->nto; i++)
		for (int j = 0; ep->in[i] && j < ep->nses[i]; j++) {
			any = 1;
			if (!run_record_add_commit(&cc->record, ep->ses[i][j].gid))
				rc = 0;
		}
	if (!any)
		return 0;
	if (rc)
		rc = run_record_write(cc->state_dir, &cc->record, &err);
	if (rc == 2)
		cli_error("WARNING: the commit decision may not survive a power cut: %s", err);
	if (rc == 0) {
		sql_error serr = {0};
		serr.message = cli_strdup_printf("cannot record the decision to commit in %s: %s", cc->state_dir,
		                                 err ? err : "out of memory");
		for (size_t k = 0; k < cc->record.ncommit; k++)
			free(cc->record.commit[k]);
		cc->record.ncommit = 0;
		for (int i = 0; i < ep->o->nto; i++)
			if (ep->in[i] && ep->dst[i].kind == EP_SERVER)
				target_failed(ep, i, "not committed", &serr);
		sql_error_clear(&serr);
	}
	free(err);
	if (rc)
		kill_point("after-decision");
	return rc != 0;
}

/*
 * finish_lost: settle session s of target e, whose connection was lost, over
 * a new session: find out what became of its transaction and, if it is
 * still prepared, finish it as decided (commit or not).
 */
static void
finish_lost(copy_endpoint *e, end_session *s, int commit, char **why)
{
	PGconn *conn = NULL;
	sql_error err = {0};

	switch (twophase_resolve(e->spec, s->txid, s->gid, &conn, why)) {
	case XACT_COMMITTED: s->state = SES_COMMITTED; break;
	case XACT_ABORTED: s->state = SES_ROLLED_BACK; break;
	case XACT_UNKNOWN: s->state = SES_UNKNOWN; break;
	case XACT_PREPARED:
		if (twophase_finish(conn, s->gid, commit, &err)) {
			s->state = commit ? SES_COMMITTED : SES_ROLLED_BACK;
		} else {
			s->state = SES_UNKNOWN;
			set_str(why, cli_strdup_printf("%s PREPARED failed: %s", commit ? "COMMIT" : "ROLLBACK", err.message));
		}
		sql_error_clear(&err);
		PQfinish(conn);
		break;
	}
}

/*
 * roll_back: the sessions of server target i, which will not commit, rolled
 * back: prepared ones with ROLLBACK PREPARED (over a new session if theirs
 * was lost).  One that cannot be rolled back now is left to `pgcopyman
 * recover` (the record has no decision to commit it), and the target says so.
 */
static void
roll_back(end_phase *ep, int i)
{
	copy_endpoint *e = &ep->dst[i];

	for (int j = 0; j < ep->nses[i]; j++) {
		end_session *s = &ep->ses[i][j];
		sql_error err = {0};
		char *why = NULL;

		if (s->state == SES_OPEN && PQstatus(s->conn) == CONNECTION_OK)
			(void) twophase_exec(s->conn, "ROLLBACK", &err);
		if (s->state == SES_PREPARED && !twophase_finish(s->conn, s->gid, 0, &err))
			s->state = SES_LOST;
		if (s->state == SES_LOST)
			finish_lost(e, s, 0, &why);
		if (s->state == SES_UNKNOWN) {
			ep->cc->unsettled++;
			set_str(&e->check, cli_strdup_printf("its prepared transaction %s could not be rolled back (%s); "
			                                     "nothing of it is committed, but it holds its locks until "
			                                     "`pgcopyman recover` rolls it back", s->gid, why ? why : "?"));
		} else if (s->state != SES_ROLLED_BACK) {
			s->state = SES_ROLLED_BACK;  /* an open transaction: closing its session rolls it back */
		}
		sql_error_clear(&err);
		free(why);
	}
}

/*
 * commit_target: commit server target i: COMMIT (one session) or COMMIT
 * PREPARED each (two-phase, decided).  A failed commit is asked about over
 * a new session; what cannot be told is SES_UNKNOWN, with what to check.
 */
static void
commit_target(end_phase *ep, int i, int two_phase)
{
	copy_endpoint *e = &ep->dst[i];
	char *why = NULL, *cmd;

	for (int j = 0; j < ep->nses[i]; j++) {
		end_session *s = &ep->ses[i][j];
		sql_error err = {0};
		int ok;

		if (two_phase) {
			ok = twophase_finish(s->conn, s->gid, 1, &err);
			if (ok && ep->cc->record.ncommit > 1)
				kill_point("between-commits");
		} else {
			ok = twophase_txid(s->conn, &s->txid, &err) && twophase_exec(s->conn, "COMMIT", &err);
		}
		if (ok) {
			s->state = SES_COMMITTED;
		} else if (s->txid < 0) {
			s->state = SES_ROLLED_BACK;  /* lost before COMMIT was sent: the server rolls it back */
		} else {
			cli_error("target %d (%s): %s failed: %s; asking the server what became of it", i + 1, e->label,
			          two_phase ? "COMMIT PREPARED" : "COMMIT", err.message);
			finish_lost(e, s, 1, &why);
		}
		if (s->state == SES_ROLLED_BACK) {
			set_str(&e->error, cli_strdup_printf("%s failed, and the transaction was rolled back: %s",
			                                     two_phase ? "COMMIT PREPARED" : "COMMIT", err.message));
			snprintf(e->sqlstate, sizeof e->sqlstate, "%s", err.sqlstate);
		}
		if (s->state == SES_UNKNOWN) {
			if (two_phase) {
				ep->cc->unsettled++;
				cmd = twophase_recover_command(e->spec, ep->o->state_dir);
				set_str(&e->check, cli_strdup_printf(
				        "the connection was lost during COMMIT PREPARED and the outcome cannot be told (%s). "
				        "The run decided to commit: `%s` commits what is still prepared (%s), after which "
				        "the target has all %llu rows", why ? why : "?", cmd ? cmd : "pgcopyman recover",
				        s->gid, (unsigned long long) e->rows));
				free(cmd);
			} else {
				set_str(&e->check, cli_strdup_printf(
				        "the connection was lost during COMMIT and the outcome cannot be told (%s). On the "
				        "target, SELECT txid_status(%lld): 'committed' means all %llu rows are there, "
				        "'aborted' that none is", why ? why : "?", s->txid, (unsigned long long) e->rows));
			}
		}
		sql_error_clear(&err);
		free(why);
		why = NULL;
	}
}

/*
 * final_status: what is true on server target i after the end phase, from
 * its sessions' states: all committed, none (the status set when it failed
 * stands), some unknown, or (someone else rolled a prepared one back) part.
 */
static void
final_status(end_phase *ep, int i)
{
	copy_endpoint *e = &ep->dst[i];
	uint64_t committed = 0;
	int ncommitted = 0, nunknown = 0;

	for (int j = 0; j < ep->nses[i]; j++) {
		ncommitted += ep->ses[i][j].state == SES_COMMITTED;
		nunknown += ep->ses[i][j].state == SES_UNKNOWN && ep->in[i];
		if (ep->ses[i][j].state == SES_COMMITTED)
			committed += ep->ses[i][j].rows;
	}
	if (ncommitted == ep->nses[i]) {
		e->status = "ok";
		e->rows = committed;
	} else if (nunknown > 0) {
		e->status = "unknown";  /* e->rows stays what it would be, committed */
	} else if (ncommitted > 0) {
		e->status = "partial";
		e->rows = committed;
		set_str(&e->check, strdup("some of its transactions committed and others were rolled back by "
		                          "someone else: the target holds part of the rows"));
	} else {
		if (ep->in[i])
			e->status = "faulted";
		e->rows = 0;
	}
}

/*
 * settle_file: a file target that completed is put in place (file_target.c).
 * Under --on-fault abort it follows the server targets: when the one server
 * target's outcome is unknown, its data is kept beside its path, for the
 * user to put in place or remove once the server's outcome is known.
 */
static void
settle_file(end_phase *ep, int i, int server_unknown)
{
	copy_endpoint *e = &ep->dst[i];
	char *err = NULL, *kept = NULL;

	if (e->kind == EP_FILE && server_unknown) {
		if (!file_target_keep(e->file, &kept, &err)) {
			e->status = "faulted";
			set_str(&e->error, err ? err : strdup("out of memory"));
			e->rows = 0;
			return;
		}
		e->status = "unknown";
		if (kept)
			set_str(&e->check, cli_strdup_printf("its data is in %s: rename it to %s if the server target "
			                                     "committed, remove it if not", kept, e->path));
		else
			set_str(&e->check, cli_strdup_printf("its data went to %s as it came (it is not a regular "
			                                     "file): it stands whether the server target committed or "
			                                     "not", e->path));
		free(kept);
		return;
	}
	if (e->kind == EP_FILE && !file_target_commit(e->file, &err)) {
		set_str(&e->error, err ? err : strdup("out of memory"));
		e->status = "faulted";
		e->rows = 0;
		return;
	}
	e->status = "ok";
}

/* not_loaded: a target that did not complete its streams, or of an aborted copy. */
static void
not_loaded(copy_endpoint *e, const char *why)
{
	e->status = e->reported ? "faulted" : "aborted";
	if (!e->reported)
		set_str(&e->reason, strdup(why ? why : "the copy was aborted"));
	e->rows = 0;
}

void
copy_settle_targets(copy_commit *cc, copy_endpoint *dst, const copy_opts *o, int aborted, const char *why)
{
	end_phase *ep = calloc(1, sizeof *ep);
	int server_unknown = 0, server_failed = 0, decided = 0;

	if (!ep) {
		cli_error("out of memory: nothing committed");
		for (int i = 0; i < o->nto; i++)
			not_loaded(&dst[i], "out of memory");
		return;
	}
	ep->cc = cc;
	ep->dst = dst;
	ep->o = o;
	for (int i = 0; i < o->nto; i++) {
		ep->ended[i] = !aborted && copy_target_state(&dst[i], o->jobs) == PGCM_RECEIVER_DONE;
		/* A target that faulted after its streams (bulkload_finish: its rebuild) is rolled back. */
		ep->in[i] = ep->ended[i] && !dst[i].reported;
		dst[i].rows = 0;
		ep->nses[i] = dst[i].kind != EP_SERVER ? 0 : o->jobs + (dst[i].delete_conn != NULL);
		for (int j = 0; j < ep->nses[i]; j++) {
			end_session *s = &ep->ses[i][j];
			s->txid = -1;
			s->conn = j < o->jobs ? dst[i].conns[j] : dst[i].delete_conn;
			s->rows = j < o->jobs ? pgcm_receiver_rows(dst[i].receivers[j]) : 0;
			if (ep->in[i])
				dst[i].rows += s->rows;
		}
		/* A file or standard output: what its stream wrote. */
		for (int j = 0; ep->in[i] && dst[i].kind != EP_SERVER && j < o->jobs; j++)
			dst[i].rows += pgcm_receiver_rows(dst[i].receivers[j]);
		if (!ep->in[i])
			not_loaded(&dst[i], why);
	}
	for (int i = 0; i < o->nto; i++)
		if (dst[i].delete_conn)
			collect_delete(ep, i);

	check_constraints(ep);
	if (cc->two_phase)
		prepare_all(ep);
	if (cli_interrupted && any_in(ep)) {
		char *reason = cli_strdup_printf("interrupted by %s before the commit",
		                                 cli_interrupted == SIGINT ? "SIGINT" : "SIGTERM");
		abort_all(ep, reason ? reason : "interrupted");
		free(reason);
	}
	if (cc->two_phase)
		decided = write_decision(ep);

	/*
	 * Only sessions that reached the end phase are spoken to again; those of
	 * a target that faulted during the load may not answer, and closing them
	 * rolls them back.
	 */
	for (int i = 0; i < o->nto; i++) {
		if (dst[i].kind != EP_SERVER || !ep->ended[i])
			continue;
		if (ep->in[i])
			commit_target(ep, i, cc->two_phase && decided);
		else
			roll_back(ep, i);
		final_status(ep, i);
		if (ep->in[i] && (strcmp(dst[i].status, "faulted") == 0 || strcmp(dst[i].status, "partial") == 0))
			server_failed = i + 1;
		server_unknown |= strcmp(dst[i].status, "unknown") == 0 && !decided;
	}
	for (int i = 0; i < o->nto; i++) {
		if (!ep->in[i] || dst[i].kind == EP_SERVER)
			continue;
		if (o->on_fault_abort && server_failed) {
			char *reason = cli_strdup_printf("--on-fault abort: target %d was not committed", server_failed);
			dst[i].status = "aborted";
			set_str(&dst[i].reason, reason);
			if (!cc->abort_reason && reason)
				cc->abort_reason = strdup(reason);
		} else {
			settle_file(ep, i, o->on_fault_abort && server_unknown);
		}
	}
	if (cc->unsettled)
		cli_error("the run's record stays in %s/%s.run until `pgcopyman recover` settles what is left",
		          cc->state_dir, cc->record.run_id);
	for (int i = 0; i < o->nto; i++)
		for (int j = 0; j <= MAX_JOBS; j++)
			free(ep->ses[i][j].gid);
	free(ep);
}
