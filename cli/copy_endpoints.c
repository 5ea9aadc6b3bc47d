/*
 * copy_endpoints.c: the source and the targets as the command line names
 * them: servers (one session per stream), files, stdin and stdout.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "copy.h"

void
copy_classify(copy_endpoint *e, const char *spec)
{
	e->spec = spec;
	e->fd = -1;
	if (strcmp(spec, "-") == 0)
		e->kind = EP_STDIO;
	else if (strncmp(spec, "file:", 5) == 0)
		e->kind = EP_FILE;
	else
		e->kind = EP_SERVER;
	if (e->kind == EP_FILE)
		e->codec = codec_for_path(spec + 5);
}

/* keep_error: the server's error of res (or the connection's) on e. */
static void
keep_error(copy_endpoint *e, PGconn *conn, const PGresult *res)
{
	const char *st = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	const char *primary = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
	const char *detail = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL) : NULL;
	const char *hint = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_HINT) : NULL;
	cli_buf b;

	cli_buf_init(&b);
	cli_buf_add(&b, primary ? primary : PQerrorMessage(conn));
	while (b.len && b.data[b.len - 1] == '\n')
		b.data[--b.len] = '\0';
	/* What the server adds tells the user what to do (a TRUNCATE refused for a foreign key). */
	if (detail)
		cli_buf_addf(&b, "; DETAIL: %s", detail);
	if (hint)
		cli_buf_addf(&b, "; HINT: %s", hint);
	free(e->error);
	e->error = cli_buf_take(&b);
	snprintf(e->sqlstate, sizeof e->sqlstate, "%s", st ? st : "");
}

/*
 * exec_on: run one statement (or several in one string) on one of e's
 * sessions, as PQexec would, but without blocking blind: a statement that
 * waits on another session's lock (a TRUNCATE, a COMMIT) is said to wait,
 * and on what, after a couple of seconds; SIGINT or SIGTERM cancels it.  On
 * failure the server's error (with its DETAIL and HINT) is kept on e.
 */
int
copy_exec_on(copy_endpoint *e, PGconn *conn, const char *sql)
{
	double next_check = cli_now() + LOCK_CHECK_AFTER;
	PGresult *res, *failed = NULL;
	int results = 0, cancelled = 0, ok;

	if (!PQsendQuery(conn, sql)) {
		keep_error(e, conn, NULL);
		return 0;
	}
	for (;;) {
		while (PQflush(conn) == 1 || PQisBusy(conn)) {
			struct pollfd p = {.fd = PQsocket(conn), .events = POLLIN, .revents = 0};

			if (PQflush(conn) == 1)
				p.events |= POLLOUT;
			if (poll(&p, 1, 250) < 0 && errno != EINTR)
				break;
			if (!PQconsumeInput(conn))
				break;
			if (cli_interrupted && !cancelled) {
				char why[256];
				PGcancel *c = PQgetCancel(conn);
				if (c)
					PQcancel(c, why, sizeof why);
				PQfreeCancel(c);
				cancelled = 1;
			}
			if (cli_now() >= next_check && e->kind == EP_SERVER) {
				copy_note_lock_wait(e, conn, -1, NULL, 1);
				next_check = cli_now() + 1.0;
			}
		}
		if (!(res = PQgetResult(conn)))
			break;
		results++;
		if (PQresultStatus(res) != PGRES_COMMAND_OK && PQresultStatus(res) != PGRES_TUPLES_OK && !failed)
			failed = res;
		else
			PQclear(res);
		if (PQstatus(conn) == CONNECTION_BAD && !failed)
			break;
	}
	ok = results > 0 && !failed && PQstatus(conn) == CONNECTION_OK;
	if (!ok)
		keep_error(e, conn, failed);
	PQclear(failed);
	free(e->lock_note);
	e->lock_note = NULL;
	return ok;
}

/* exec_all: run one statement on each of e's first n sessions. */
int
copy_exec_all(copy_endpoint *e, int n, const char *sql)
{
	for (int j = 0; j < n; j++)
		if (!copy_exec_on(e, e->conns[j], sql))
			return 0;
	return 1;
}

/* connect_session: one more session to a server endpoint, pinned (cli_connect_pinned); NULL (printed) on failure. */
PGconn *
copy_connect_session(copy_endpoint *e)
{
	return cli_connect_pinned(e->spec, e->label);
}

/* connect_sessions: n sessions to a server endpoint, one per stream. */
int
copy_connect_sessions(copy_endpoint *e, int n)
{
	for (int j = 0; j < n; j++)
		if (!(e->conns[j] = copy_connect_session(e)))
			return 0;
	return 1;
}

/*
 * open_target_file: a file target is checked and opened before any data
 * moves (file_target.c); a FIFO waits for its reader up to the stall timeout.
 */
int
copy_open_target_file(copy_endpoint *e, const copy_opts *o)
{
	char *err = NULL;

	e->path = strdup(e->spec + 5);
	if (!e->path) {
		cli_error("out of memory");
		return 0;
	}
	/* Past about 24 days (an int of milliseconds) the wait may as well be unbounded (0). */
	e->file = file_target_open(e->path, o->stall_timeout < 2e6 ? (int) (o->stall_timeout * 1000) : 0,
	                           &cli_interrupted, &err);
	if (!e->file) {
		cli_error("target %s: %s", e->label ? e->label : e->spec, err ? err : "out of memory");
		free(err);
		return 0;
	}
	e->fd = file_target_fd(e->file);
	return copy_compress_target(e, o);
}

/*
 * copy_open_source: connect the source's sessions, or open its file; stdin
 * needs nothing.  Prints the error and returns 0 on failure.
 */
int
copy_open_source(copy_endpoint *src, const copy_opts *o)
{
	if (src->kind == EP_SERVER) {
		src->label = cli_mask_conninfo(o->from);
		return copy_connect_sessions(src, o->jobs);
	}
	if (src->kind == EP_FILE) {
		src->label = strdup(o->from);
		src->fd = open(o->from + 5, O_RDONLY | O_CLOEXEC);
		if (src->fd < 0) {
			cli_error("cannot read \"%s\": %s", o->from + 5, strerror(errno));
			return 0;
		}
		return copy_compress_source(src);
	}
	src->label = strdup("stdin");
	src->fd = STDIN_FILENO;
	/* As psql's \copy: someone typing the data needs to know how to end it. */
	if (isatty(STDIN_FILENO) && !o->quiet && !o->dry_run)
		fputs("pgcopyman: reading COPY data from the terminal; end with Ctrl-D\n", stderr);
	return 1;
}

/*
 * copy_open_target: connect a server target's sessions, or open a file
 * target's temporary file (not for --dry-run); stdout needs nothing.
 */
int
copy_open_target(copy_endpoint *e, const copy_opts *o)
{
	e->status = "aborted";
	if (e->kind == EP_SERVER) {
		e->label = cli_mask_conninfo(e->spec);
		return copy_connect_sessions(e, o->jobs);
	}
	if (e->kind == EP_FILE) {
		e->label = strdup(e->spec);
		return o->dry_run || copy_open_target_file(e, o);
	}
	e->label = strdup("stdout");
	e->fd = STDOUT_FILENO;
	return 1;
}

/*
 * copy_endpoint_close: close what the endpoint opened.  Closing a
 * connection rolls its open transaction back; what a file target wrote is
 * discarded unless it was committed.
 */
void
copy_endpoint_close(copy_endpoint *e)
{
	for (int j = 0; j < MAX_JOBS; j++)
		if (e->conns[j])
			PQfinish(e->conns[j]);
	if (e->monitor)
		PQfinish(e->monitor);
	codec_reader_free(e->reader);
	codec_writer_free(e->writer);  /* before the file: it writes to its descriptor */
	free(e->lock_note);
	if (e->delete_conn)
		PQfinish(e->delete_conn);
	if (e->file)
		file_target_discard(e->file);  /* closes e->fd */
	else if (e->kind == EP_FILE && e->fd >= 0)
		close(e->fd);
	free(e->path);
	free(e->label);
	free(e->command);
	free(e->error);
	free(e->reason);
	free(e->check);
	free(e->verify_message);
}
