/*
 * rebuild.c: the deferred indexes, constraints and foreign keys of every
 * loaded target re-created at once: each target's statements run one after
 * another on its session (PQsendQuery), all targets in one poll() loop, so
 * that two targets build their indexes side by side, the progress display
 * says which index each is building, and a signal cancels the builds.
 */
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "bulkload.h"

/* One target's place in its statements. */
typedef struct runner {
	copy_endpoint *e;
	deferral *d;
	size_t obj, stmt;       /* the statement being run */
	int busy;               /* a statement was sent and its results are not all read */
	int flushing;           /* PQflush has more to send */
	int failed;
	int cancelled;
	double started;         /* when the current object's first statement was sent */
	PGresult *error;        /* the failed statement's result */
} runner;

/* send_next: send r's next statement, or finish (busy 0).  0 when it could not be sent. */
static int
send_next(runner *r)
{
	PGconn *conn = r->e->conns[0];
	const defer_object *o;
	int fl;

	if (r->obj >= r->d->nobjects) {
		r->busy = 0;
		return 1;
	}
	o = &r->d->objects[r->obj];
	if (r->stmt == 0)
		r->started = bulkload_seconds();
	if (!PQsendQuery(conn, o->create_sql[r->stmt]))
		return 0;
	r->busy = 1;
	fl = PQflush(conn);
	r->flushing = fl == 1;
	return fl != -1;
}

/* advance: r's statement completed: on to the next one (the next object after the last). */
static void
advance(runner *r)
{
	defer_object *o = &r->d->objects[r->obj];

	if (++r->stmt < o->ncreate)
		return;
	o->seconds = bulkload_seconds() - r->started;
	r->stmt = 0;
	r->obj++;
}

/* fail: r's target is faulted, with why, or the statement's error, or the connection's. */
static void
fail(runner *r, const char *why, cli_progress *prog)
{
	const defer_object *o = &r->d->objects[r->obj < r->d->nobjects ? r->obj : r->d->nobjects - 1];
	const PGresult *res = r->error;
	const char *primary = why ? why : res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
	const char *detail = res && !why ? PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL) : NULL;
	const char *conn_msg = PQerrorMessage(r->e->conns[0]);
	size_t n = strlen(o->kind) + strlen(o->name) + strlen(r->d->table) + strlen(conn_msg)
	           + (primary ? strlen(primary) : 0) + (detail ? strlen(detail) : 0) + 96;
	char *msg = malloc(n);

	r->failed = 1;
	r->busy = 0;
	if (msg) {
		snprintf(msg, n, "re-creating %s %s of %s after the COPY: %s%s%s", o->kind, o->name, r->d->table,
		         primary ? primary : conn_msg, detail ? " " : "", detail ? detail : "");
		for (size_t k = strlen(msg); k > 0 && msg[k - 1] == '\n'; k--)
			msg[k - 1] = '\0';
	}
	bulkload_fault(r->e, msg ? msg : "re-creating the indexes failed (out of memory)",
	               res && !why ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL, prog);
	free(msg);
}

/* interrupted: why the rebuild stops after a signal. */
static const char *
interrupted(void)
{
	return cli_interrupted == SIGINT ? "interrupted by SIGINT" : "interrupted by SIGTERM";
}

/* read_results: what r's session has for it; on to the next statement when one ended. */
static void
read_results(runner *r, cli_progress *prog)
{
	PGconn *conn = r->e->conns[0];

	if (!PQconsumeInput(conn)) {
		fail(r, NULL, prog);
		return;
	}
	if (r->flushing) {
		int fl = PQflush(conn);
		if (fl == -1) {
			fail(r, NULL, prog);
			return;
		}
		r->flushing = fl == 1;
	}
	while (r->busy && !PQisBusy(conn)) {
		PGresult *res = PQgetResult(conn);
		ExecStatusType st;

		if (!res) {
			if (r->error) {
				fail(r, r->cancelled ? interrupted() : NULL, prog);
				return;
			}
			advance(r);
			if (cli_interrupted && r->obj < r->d->nobjects) {
				fail(r, interrupted(), prog);
				return;
			}
			if (!send_next(r)) {
				fail(r, NULL, prog);
				return;
			}
			continue;
		}
		st = PQresultStatus(res);
		if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK && !r->error)
			r->error = res;
		else
			PQclear(res);
	}
}

/* phase_of: "building index t_u, 2 of 3" for r's current object, into buf. */
static void
phase_of(const runner *r, char *buf, size_t size)
{
	const defer_object *o = &r->d->objects[r->obj];
	int fkey = strcmp(o->kind, "foreign key") == 0, index = strcmp(o->kind, "index") == 0;

	snprintf(buf, size, "%s %s%s%s%s, %zu of %zu", fkey ? "checking foreign key" : "building index", o->name,
	         fkey || index ? "" : " (", fkey || index ? "" : o->kind, fkey || index ? "" : ")", r->obj + 1,
	         r->d->nobjects);
}

/*
 * show_phase: the phase on the progress display: the one target's, or each
 * busy target's, numbered as on the command line (long lines are cut to the
 * terminal's width by the display).
 */
static void
show_phase(const runner *rs, int n, cli_progress *prog)
{
	char *text = NULL;
	size_t len = 0;

	for (int k = 0; k < n; k++) {
		char one[512];
		char *grown;
		size_t add;

		if (!rs[k].busy)
			continue;
		phase_of(&rs[k], one, sizeof one);
		add = strlen(one) + strlen(rs[k].e->label) + 16;
		if (!(grown = realloc(text, len + add)))
			break;
		text = grown;
		len += (size_t) snprintf(text + len, add, n > 1 ? "%s%s (%s)" : "%s%s", len ? "; " : "", one,
		                         rs[k].e->label);
	}
	if (text)
		cli_progress_phase(prog, text);
	free(text);
}

/* cancel_all: a signal: cancel the statement of every busy target (once); their failure follows. */
static void
cancel_all(runner *rs, int n)
{
	for (int k = 0; k < n; k++) {
		PGcancel *c;
		char errbuf[256];

		if (!rs[k].busy || rs[k].cancelled)
			continue;
		rs[k].cancelled = 1;
		if ((c = PQgetCancel(rs[k].e->conns[0]))) {
			(void) PQcancel(c, errbuf, sizeof errbuf);
			PQfreeCancel(c);
		}
	}
}

void
bulkload_rebuild(copy_endpoint **targets, int n, int *failed, cli_progress *prog)
{
	runner rs[MAX_TARGETS];
	struct pollfd fds[MAX_TARGETS];
	int busy = 0;

	memset(rs, 0, sizeof rs);
	for (int k = 0; k < n; k++) {
		rs[k].e = targets[k];
		rs[k].d = targets[k]->bulk->def;
		if (!send_next(&rs[k]))
			fail(&rs[k], NULL, prog);
	}
	for (;;) {
		int at[MAX_TARGETS], nfds = 0;

		busy = 0;
		for (int k = 0; k < n; k++) {
			at[k] = -1;
			if (!rs[k].busy)
				continue;
			busy++;
			at[k] = nfds;
			fds[nfds].fd = PQsocket(rs[k].e->conns[0]);
			fds[nfds].events = (short) (POLLIN | (rs[k].flushing ? POLLOUT : 0));
			fds[nfds].revents = 0;
			nfds++;
		}
		if (!busy)
			break;
		show_phase(rs, n, prog);
		if (cli_interrupted)
			cancel_all(rs, n);
		if (poll(fds, (nfds_t) nfds, 250) < 0)
			continue;
		for (int k = 0; k < n; k++)
			if (at[k] >= 0 && fds[at[k]].revents)
				read_results(&rs[k], prog);
	}
	cli_progress_phase(prog, NULL);
	for (int k = 0; k < n; k++) {
		failed[k] = rs[k].failed;
		PQclear(rs[k].error);
	}
}
