/*
 * endpoint_pg_receiver.c: the receiver on a libpq connection, COPY ... FROM
 * STDIN, in segments.
 *
 * Everything here is non-blocking, as for the producer; the connection stays
 * the caller's.  Inside the caller's transaction block the stream is sent as
 * several COPY commands (segments), so that a rejected row is seen early.
 */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* A segment may end early (the server spoke) only after this many bytes. */
#define EARLY_SEGMENT_MIN (256 * 1024)

/* ------------------------------------------------------------------------
 * The receiver: COPY ... FROM STDIN, in segments
 * ------------------------------------------------------------------------ */

enum pg_receiver_phase {
	PR_SENDING,     /* the COPY command is being flushed */
	PR_STARTING,    /* waiting for PGRES_COPY_IN */
	PR_COPYING,     /* taking data */
	PR_ENDING,      /* PQputCopyEnd sent; reading the segment's results */
	PR_FINISHED,    /* the last segment's results were read */
	PR_FAILING,     /* PQputCopyEnd(reason) sent; reading results */
	PR_DEAD         /* the connection is gone: never touched again */
};

typedef struct pg_receiver {
	pgcm_receiver base;
	PGconn *conn;
	char *command;
	enum pg_receiver_phase phase;
	int was_nonblocking;
	int flushing;           /* libpq holds output it could not send yet */
	int prologue_sent;      /* in this segment */
	int final;              /* the segment being ended is the last */
	int seg_ok;             /* the segment's COPY result said success */
	int segmented;          /* inside the caller's transaction block: segments allowed */
	int spoke;              /* the server sent something during this segment's COPY */
	uint64_t seg_bytes;     /* data bytes in this segment */
	uint64_t seg_rows;      /* rows in this segment */
	uint64_t seg_first_row; /* 1-based stream row of the segment's first row */
	uint64_t seg_confirmed; /* rows the server's command tag gave */
	pgcm_status seg_fault;  /* the first failure among the segment's results */
} pg_receiver;

/* rx_conn_fault: the receiver's connection failed. */
static pgcm_status
rx_conn_fault(pg_receiver *pr, const char *what)
{
	char *msg = pgcm__pq_message(PQerrorMessage(pr->conn));
	pgcm_status st = PQstatus(pr->conn) == CONNECTION_BAD ? PGCM_ERR_CONNECTION : PGCM_ERR_SERVER;

	pgcm__receiver_error(&pr->base, st, NULL, 0, "%s: %s", what, msg ? msg : "connection lost");
	pgcm__free(msg);
	if (PQstatus(pr->conn) == CONNECTION_BAD)
		pr->phase = PR_DEAD;
	return st;
}

/* rx_server_fault: a result said the COPY failed; name the row of the whole stream. */
static pgcm_status
rx_server_fault(pg_receiver *pr, const PGresult *res)
{
	char sqlstate[6];
	char *msg = pgcm__pq_result_error(pr->conn, res, sqlstate);
	uint64_t line = pgcm__pq_context_line(res);
	uint64_t row = 0;
	const pgcm__framing *f = pr->base.framing;

	if (line) {
		/* The server counts lines of its own COPY, a CSV header line included. */
		uint64_t header = f && f->prologue_is_line ? 1 : 0;
		if (line > header)
			row = pr->seg_first_row + (line - header) - 1;
	}
	if (row)
		pgcm__receiver_error(&pr->base, PGCM_ERR_SERVER, sqlstate, row, "row %llu: %s",
		                     (unsigned long long) row, msg ? msg : "COPY failed");
	else
		pgcm__receiver_error(&pr->base, PGCM_ERR_SERVER, sqlstate, 0, "%s",
		                     msg ? msg : "COPY failed");
	pgcm__free(msg);
	return PGCM_ERR_SERVER;
}

/* rx_send_command: start a segment's COPY. */
static pgcm_status
rx_send_command(pg_receiver *pr)
{
	if (!PQsendQuery(pr->conn, pr->command))
		return rx_conn_fault(pr, "cannot send the COPY command");
	pr->phase = PR_SENDING;
	pr->prologue_sent = 0;
	pr->spoke = 0;
	pr->seg_bytes = 0;
	pr->seg_rows = 0;
	pr->seg_ok = 0;
	pr->seg_fault = PGCM_OK;
	pr->seg_first_row = pr->base.rows_sent + 1;
	return PGCM_OK;
}

static pgcm_status
pg_receiver_begin(pgcm_receiver *r)
{
	pg_receiver *pr = (pg_receiver *) r;

	if (PQstatus(pr->conn) != CONNECTION_OK) {
		pr->phase = PR_DEAD;
		return rx_conn_fault(pr, "connection not usable");
	}
	if (PQisBusy(pr->conn) || PQtransactionStatus(pr->conn) == PQTRANS_ACTIVE) {
		pgcm__receiver_error(r, PGCM_ERR_STATE, NULL, 0,
		                     "the connection is busy with another command");
		pr->phase = PR_FINISHED;
		return PGCM_ERR_STATE;
	}
	/*
	 * Segments share the caller's transaction.  Outside a transaction block
	 * each would commit on its own, and an abort would leave part of the
	 * stream behind: there the whole stream is one COPY.
	 */
	pr->segmented = PQtransactionStatus(pr->conn) == PQTRANS_INTRANS;
	pr->was_nonblocking = PQisnonblocking(pr->conn);
	if (PQsetnonblocking(pr->conn, 1) != 0)
		return rx_conn_fault(pr, "cannot make the connection non-blocking");
	return rx_send_command(pr);
}

/* rx_flush: push libpq's output; 0 when all is out, 1 to wait, -1 on failure. */
static int
rx_flush(pg_receiver *pr)
{
	int f = PQflush(pr->conn);

	pr->flushing = f > 0;
	if (f > 0)
		pgcm__wait_conn(&pr->base.wait, pr->conn, POLLIN | POLLOUT);
	return f;
}

/*
 * rx_put_bytes: hand bytes to libpq.  In non-blocking mode PQputCopyData
 * grows libpq's buffer rather than refuse data; the manager hands over one
 * chunk at a time and waits for PQflush, which bounds that buffer.
 */
static pgcm_status
rx_put_bytes(pg_receiver *pr, const char *buf, size_t n)
{
	while (n > 0) {
		int part = n > (size_t) 1 << 30 ? 1 << 30 : (int) n;
		int rc = PQputCopyData(pr->conn, buf, part);
		if (rc < 0)
			return rx_conn_fault(pr, "sending COPY data");
		if (rc == 0) {
			pgcm__receiver_error(&pr->base, PGCM_ERR_NOMEM, NULL, 0,
			                     "libpq could not buffer COPY data");
			return PGCM_ERR_NOMEM;
		}
		buf += part;
		n -= (size_t) part;
	}
	return PGCM_OK;
}

/* rx_end_segment: close the current COPY (with the epilogue); results follow. */
static pgcm_status
rx_end_segment(pg_receiver *pr, int final)
{
	const pgcm__framing *f = pr->base.framing;
	pgcm_status st;

	if (!pr->prologue_sent && f && f->prologue_len) {
		st = rx_put_bytes(pr, f->prologue, f->prologue_len);
		if (st != PGCM_OK)
			return st;
		pr->prologue_sent = 1;
	}
	if (f && f->epilogue_len) {
		st = rx_put_bytes(pr, f->epilogue, f->epilogue_len);
		if (st != PGCM_OK)
			return st;
	}
	if (PQputCopyEnd(pr->conn, NULL) < 0)
		return rx_conn_fault(pr, "ending the COPY");
	pr->phase = PR_ENDING;
	pr->final = final;
	if (rx_flush(pr) < 0)
		return rx_conn_fault(pr, "ending the COPY");
	return PGCM_OK;
}

/*
 * pg_receiver_put: send one chunk as one CopyData message.  After enough
 * bytes, or soon after the server spoke mid-COPY (most likely an error, which
 * libpq keeps unparsed until the COPY ends), the segment is ended so that
 * its result, and any error, is read now rather than at the end of the stream.
 * With segments off (0) the stream is one COPY statement, whatever the server
 * says: a table whose rows reference rows later in the stream (a foreign key
 * to itself) is checked only at the end of its statement.
 */
static pgcm_status
pg_receiver_put(pgcm_receiver *r, const pgcm__chunk *c, size_t *done)
{
	pg_receiver *pr = (pg_receiver *) r;
	const pgcm__framing *f = r->framing;
	pgcm_status st;
	int spoke;

	if (!pr->prologue_sent && f && f->prologue_len) {
		st = rx_put_bytes(pr, f->prologue, f->prologue_len);
		if (st != PGCM_OK)
			return st;
	}
	pr->prologue_sent = 1;
	st = rx_put_bytes(pr, c->data + *done, c->len - *done);
	if (st != PGCM_OK)
		return st;
	pr->seg_bytes += c->len - *done;
	pr->seg_rows += c->rows;
	*done = c->len;
	if (pr->segmented && r->segment_bytes) {
		if (!pr->spoke && !pgcm__polled_known(&r->polled) && pgcm__pq_readable_now(pr->conn))
			pr->spoke = 1;
		spoke = pr->spoke && pr->seg_bytes >= EARLY_SEGMENT_MIN;
		if ((r->segment_bytes && pr->seg_bytes >= r->segment_bytes) || spoke)
			return rx_end_segment(pr, 0);
	}
	/*
	 * PQputCopyData has just sent what the socket took; flushing the rest
	 * now would mostly meet a full socket.  When the copy's own poll() runs,
	 * wait for it to say writable; otherwise flush now, as before.
	 */
	if (pgcm__polled_known(&r->polled)) {
		pr->flushing = 1;
		pgcm__polled_spend(&r->polled);
		pgcm__wait_conn(&r->wait, pr->conn, POLLIN | POLLOUT);
		return PGCM_AGAIN;
	}
	if (rx_flush(pr) < 0)
		return rx_conn_fault(pr, "sending COPY data");
	return pr->flushing ? PGCM_AGAIN : PGCM_OK;
}

/*
 * on_segment_result: one result of a segment's end.  A COPY_IN result here
 * means the server is still in the COPY we are ending: that cannot happen
 * after PQputCopyEnd, except after a protocol error.
 */
static int
on_segment_result(void *arg, PGresult *res)
{
	pg_receiver *pr = arg;

	pr->base.activity++;
	if (PQresultStatus(res) == PGRES_COMMAND_OK) {
		pr->seg_ok = 1;
		pr->seg_confirmed = strtoull(PQcmdTuples(res), NULL, 10);
	} else if (PQresultStatus(res) == PGRES_COPY_IN) {
		(void) PQputCopyEnd(pr->conn, "unexpected COPY state");
	} else if (pr->seg_fault == PGCM_OK) {
		/* Reading goes on to NULL so the connection is idle; the fault stays. */
		pr->seg_fault = rx_server_fault(pr, res);
	}
	return 0;
}

/*
 * rx_read_results: read a segment's results without blocking.  A failure is
 * returned as soon as it is read, even while later results are still due:
 * the receiver is then dropped, and its fail() reads the rest.
 */
static pgcm_status
rx_read_results(pg_receiver *pr)
{
	switch (pgcm__pq_results(pr->conn, on_segment_result, pr)) {
	case PGCM__PQ_BROKEN:
		return rx_conn_fault(pr, "reading the COPY's result");
	case PGCM__PQ_BUSY:
		pgcm__wait_conn(&pr->base.wait, pr->conn, POLLIN);
		return pr->seg_fault != PGCM_OK ? pr->seg_fault : PGCM_AGAIN;
	case PGCM__PQ_IDLE:
	case PGCM__PQ_STOP:
		break;
	}
	return pr->seg_fault;
}

/* rx_restore: leave the caller's connection in the blocking mode it had. */
static void
rx_restore(pg_receiver *pr)
{
	if (!pr->flushing)
		pgcm__pq_restore(pr->conn, pr->was_nonblocking);
}

/* rx_started: the answer to a segment's COPY command: PGRES_COPY_IN, or why not. */
static pgcm_status
rx_started(pg_receiver *pr)
{
	pgcm_receiver *r = &pr->base;
	pgcm_status st;
	PGresult *res;

	if (!PQconsumeInput(pr->conn))
		return rx_conn_fault(pr, "starting the COPY");
	if (PQisBusy(pr->conn)) {
		pgcm__wait_conn(&r->wait, pr->conn, POLLIN);
		return PGCM_AGAIN;
	}
	res = PQgetResult(pr->conn);
	if (PQresultStatus(res) == PGRES_COPY_IN) {
		PQclear(res);
		pr->phase = PR_COPYING;
		r->activity++;
		return PGCM_OK;
	}
	if (!res) {
		pgcm__receiver_error(r, PGCM_ERR_SERVER, NULL, 0, "the COPY command returned no result");
		st = PGCM_ERR_SERVER;
	} else if (PQresultStatus(res) == PGRES_FATAL_ERROR) {
		char sqlstate[6];
		char *msg = pgcm__pq_result_error(pr->conn, res, sqlstate);
		pgcm__receiver_error(r, PGCM_ERR_SERVER, sqlstate, 0, "COPY did not start: %s",
		                     msg ? msg : "error");
		pgcm__free(msg);
		st = PGCM_ERR_SERVER;
	} else {
		pgcm__receiver_error(r, PGCM_ERR_ARG, NULL, 0,
		                     "the command is not a COPY ... FROM STDIN (%s)",
		                     PQresStatus(PQresultStatus(res)));
		st = PGCM_ERR_ARG;
	}
	PQclear(res);
	pr->phase = PR_FAILING;
	return st;
}

/*
 * rx_copying: mid-COPY.  The server speaking is most likely an error: note
 * it before libpq takes the bytes, and read them (a NOTICE must not block
 * the server's side).  Then finish a pending flush.
 */
static pgcm_status
rx_copying(pg_receiver *pr)
{
	pgcm_receiver *r = &pr->base;

	if (pgcm__polled_known(&r->polled) ? pgcm__polled_has(&r->polled, POLLIN)
	                                   : pr->flushing && pgcm__pq_readable_now(pr->conn)) {
		pr->spoke = 1;
		if (!PQconsumeInput(pr->conn))
			return rx_conn_fault(pr, "reading from the server");
	}
	if (pr->flushing) {
		int f;
		if (!pgcm__polled_take(&r->polled, POLLOUT))
			return PGCM_AGAIN;
		f = rx_flush(pr);
		if (f < 0)
			return rx_conn_fault(pr, "sending COPY data");
		/* The server took bytes: poll() said it would, or all of them went. */
		if (pgcm__polled_known(&r->polled) || f == 0)
			r->activity++;
		if (f > 0)
			return PGCM_AGAIN;
	}
	if (PQstatus(pr->conn) != CONNECTION_OK)
		return rx_conn_fault(pr, "sending COPY data");
	pgcm__wait_conn(&r->wait, pr->conn, POLLIN);
	return PGCM_OK;
}

/*
 * rx_ending: a segment's end: its results, its row count; then the next
 * segment, or the end of the stream.
 */
static pgcm_status
rx_ending(pg_receiver *pr)
{
	pgcm_receiver *r = &pr->base;
	pgcm_status st;
	int f = rx_flush(pr);

	if (f < 0)
		return rx_conn_fault(pr, "ending the COPY");
	if (f > 0)
		return PGCM_AGAIN;
	st = rx_read_results(pr);
	if (st != PGCM_OK)
		return st;
	if (!pr->seg_ok) {
		pgcm__receiver_error(r, PGCM_ERR_SERVER, NULL, 0, "the COPY ended without a result");
		pr->phase = PR_FINISHED;
		return PGCM_ERR_SERVER;
	}
	if (pr->seg_confirmed != pr->seg_rows) {
		pgcm__receiver_error(r, PGCM_ERR_ROWCOUNT, NULL, 0,
		                     "the server counted %llu rows, %llu were sent",
		                     (unsigned long long) pr->seg_confirmed,
		                     (unsigned long long) pr->seg_rows);
		pr->phase = PR_FINISHED;
		return PGCM_ERR_ROWCOUNT;
	}
	r->rows_confirmed += pr->seg_confirmed;
	if (pr->final) {
		pr->phase = PR_FINISHED;
		rx_restore(pr);
		return PGCM_DONE;
	}
	return rx_send_command(pr);
}

static pgcm_status
pg_receiver_pump(pgcm_receiver *r)
{
	pg_receiver *pr = (pg_receiver *) r;
	pgcm_status st;

	if (pr->phase == PR_ENDING) {
		st = rx_ending(pr);
		if (st != PGCM_OK)
			return st;
		/* The next segment's COPY went out: on to starting it. */
	}
	switch (pr->phase) {
	case PR_DEAD:
		return PGCM_ERR_CONNECTION;
	case PR_SENDING: {
		int f = rx_flush(pr);
		if (f < 0)
			return rx_conn_fault(pr, "sending the COPY command");
		if (f > 0)
			return PGCM_AGAIN;
		pr->phase = PR_STARTING;
	}
		/* fall through */
	case PR_STARTING:
		return rx_started(pr);
	case PR_COPYING:
		return rx_copying(pr);
	case PR_ENDING:
		return PGCM_AGAIN;
	case PR_FINISHED:
		return PGCM_DONE;
	case PR_FAILING:
		return PGCM_AGAIN;
	}
	return PGCM_ERR_STATE;
}

static pgcm_status
pg_receiver_end(pgcm_receiver *r)
{
	pg_receiver *pr = (pg_receiver *) r;

	if (pr->phase == PR_COPYING)
		return rx_end_segment(pr, 1);
	/* A segment is ending or starting: it becomes the last when it ends. */
	pr->final = 1;
	return PGCM_OK;
}

/* What fail() hands its result callback. */
typedef struct failing {
	pg_receiver *pr;
	const char *why;
} failing;

/* on_fail_result: a COPY that is still starting is failed once it has started. */
static int
on_fail_result(void *arg, PGresult *res)
{
	failing *fl = arg;

	if (PQresultStatus(res) != PGRES_COPY_IN)
		return 0;
	if (PQputCopyEnd(fl->pr->conn, fl->why) < 0)
		fl->pr->phase = PR_DEAD;
	return 1;   /* flush the CopyFail before reading on */
}

/*
 * pg_receiver_fail: fail the COPY so that its server rolls it back.
 * PQputCopyEnd with a reason sends CopyFail (PQcancel does nothing to a
 * server waiting for COPY data); then results are read until NULL.
 */
static pgcm_status
pg_receiver_fail(pgcm_receiver *r, const char *reason, int64_t deadline_ms)
{
	pg_receiver *pr = (pg_receiver *) r;
	char why[200];
	failing fl = {pr, why};

	if (pr->phase == PR_DEAD || PQstatus(pr->conn) == CONNECTION_BAD) {
		pr->phase = PR_DEAD;
		return PGCM_OK;
	}
	if (pr->phase == PR_FINISHED) {
		rx_restore(pr);
		return PGCM_OK;
	}
	if (deadline_ms && pgcm__now_ms() >= deadline_ms) {
		pgcm__pq_kill(pr->conn);
		pr->phase = PR_DEAD;
		return PGCM_OK;
	}
	/* A CopyFail message near 10 kB makes the server drop the connection. */
	snprintf(why, sizeof why, "%s", reason && *reason ? reason : "aborted by pgcopyman");
	if (pr->phase == PR_COPYING && PQputCopyEnd(pr->conn, why) < 0) {
		pr->phase = PR_DEAD;
		return PGCM_OK;
	}
	pr->phase = PR_FAILING;
	for (;;) {
		int f = PQflush(pr->conn);

		pr->flushing = f > 0;
		if (f < 0) {
			pr->phase = PR_DEAD;
			return PGCM_OK;
		}
		if (f > 0) {
			pgcm__wait_conn(&r->wait, pr->conn, POLLIN | POLLOUT);
			return PGCM_AGAIN;
		}
		switch (pgcm__pq_results(pr->conn, on_fail_result, &fl)) {
		case PGCM__PQ_STOP:
			if (pr->phase == PR_DEAD)
				return PGCM_OK;
			continue;
		case PGCM__PQ_BUSY:
			pgcm__wait_conn(&r->wait, pr->conn, POLLIN);
			return PGCM_AGAIN;
		case PGCM__PQ_BROKEN:
			pr->phase = PR_DEAD;
			return PGCM_OK;
		case PGCM__PQ_IDLE:
			pr->phase = PR_FINISHED;
			rx_restore(pr);
			return PGCM_OK;
		}
	}
}

static int
pg_receiver_recoverable(pgcm_receiver *r)
{
	pg_receiver *pr = (pg_receiver *) r;

	return PQstatus(pr->conn) == CONNECTION_OK && pr->phase == PR_COPYING;
}

static void
pg_receiver_destroy(pgcm_receiver *r)
{
	pg_receiver *pr = (pg_receiver *) r;

	pgcm__free(pr->command);
}

static const pgcm__receiver_ops pg_receiver_ops = {
	.begin = pg_receiver_begin,
	.pump = pg_receiver_pump,
	.put = pg_receiver_put,
	.end = pg_receiver_end,
	.fail = pg_receiver_fail,
	.recoverable = pg_receiver_recoverable,
	.destroy = pg_receiver_destroy,
};

pgcm_receiver *
pgcm_receiver_pg(PGconn *conn, const char *copy_from)
{
	pg_receiver *pr;

	if (!conn || !copy_from)
		return NULL;
	pr = pgcm__calloc(1, sizeof *pr);
	if (!pr)
		return NULL;
	pgcm__receiver_init(&pr->base, &pg_receiver_ops);
	pr->conn = conn;
	pr->command = pgcm__strdup(copy_from);
	if (!pr->command) {
		pgcm__free(pr);
		return NULL;
	}
	return &pr->base;
}
