/*
 * copy_commit.c: the targets' transactions.  Each server target is loaded in
 * its own transaction and committed only if every stream of it completed; a
 * file target is put in place only on success.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "copy.h"

/* truncate_target: TRUNCATE the target table on e's first session. */
static int
truncate_target(copy_endpoint *e, const copy_opts *o)
{
	const char *err = NULL;
	char *qname = cli_quote_name(e->conns[0], o->target_table ? o->target_table : o->table, &err);
	char *sql = qname ? malloc(strlen(qname) + 16) : NULL;
	int ok;

	if (!sql) {
		cli_error("bad table name: %s", err ? err : "out of memory");
		free(qname);
		return 0;
	}
	sprintf(sql, "TRUNCATE %s", qname);
	ok = copy_exec_on(e, e->conns[0], sql);
	free(sql);
	free(qname);
	if (!ok)
		cli_error("target %s: TRUNCATE failed: %s", e->label, e->error);
	return ok;
}

/*
 * begin_targets: one transaction per target session.  --truncate empties
 * the table in the same transaction; with several streams a TRUNCATE would
 * lock the other sessions out, so there it commits on its own first.
 */
int
copy_begin_targets(copy_endpoint *dst, const copy_opts *o)
{
	int separate = o->jobs > 1;

	for (int i = 0; i < o->nto; i++) {
		copy_endpoint *e = &dst[i];

		if (e->kind != EP_SERVER)
			continue;
		if ((!separate && !copy_exec_all(e, o->jobs, "BEGIN")) || (o->truncate && !truncate_target(e, o))
		    || (separate && !copy_exec_all(e, o->jobs, "BEGIN"))) {
			if (e->error && !strstr(e->error, "TRUNCATE"))
				cli_error("target %s: BEGIN failed: %s", e->label, e->error);
			return 0;
		}
	}
	return 1;
}

/*
 * settle_target: commit a target whose every stream completed (its sessions
 * one after another, right after the last stream ended), or leave it to be
 * rolled back.  A file target is committed (file_target.c).
 */
int
copy_settle_target(copy_endpoint *e, const copy_opts *o, int aborted)
{
	if (copy_target_state(e, o->jobs) != PGCM_RECEIVER_DONE || aborted) {
		e->status = e->reported ? "faulted" : "aborted";
		e->rows = 0;
		return 0;
	}
	if (e->kind == EP_SERVER && !copy_exec_all(e, o->jobs, "COMMIT")) {
		e->status = "faulted";
		cli_error("target %s: COMMIT failed: %s", e->label, e->error);
		return 0;
	}
	if (e->kind == EP_FILE) {
		char *err = NULL;
		if (!file_target_commit(e->file, &err)) {
			free(e->error);
			e->error = err ? err : strdup("out of memory");
			e->status = "faulted";
			return 0;
		}
	}
	e->status = "ok";
	e->rows = 0;
	for (int j = 0; j < o->jobs; j++)
		e->rows += pgcm_receiver_rows(e->receivers[j]);
	return 1;
}
