/*
 * endpoint_pg.c: the producer and the receiver on libpq connections.
 *
 * Everything here is non-blocking: commands go out with PQsendQuery, input is
 * read with PQconsumeInput, and results are taken only when PQisBusy says
 * they are complete.  The connections belong to the caller: we set
 * non-blocking mode for the copy and restore it, and never close, begin or
 * commit.  A dead connection is left alone once seen.
 */
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "internal.h"

/* The binary COPY signature, and the fixed part of its header. */
static const char binary_signature[11] = "PGCOPY\n\377\r\n";
#define BINARY_HEADER_FIXED 19  /* signature, flags, extension length */

/* A segment may end early (the server spoke) only after this many bytes. */
#define EARLY_SEGMENT_MIN (256 * 1024)

void
pgcm__wait_conn(pgcm__wait *w, PGconn *conn, short events)
{
	w->fd = PQstatus(conn) == CONNECTION_BAD ? -1 : PQsocket(conn);
	w->events = events;
}

/* readable_now: a zero-timeout poll: has the server sent us something? */
static int
readable_now(PGconn *conn)
{
	struct pollfd pfd = {.fd = PQsocket(conn), .events = POLLIN};

	return pfd.fd >= 0 && poll(&pfd, 1, 0) > 0 && (pfd.revents & (POLLIN | POLLHUP | POLLERR));
}

/*
 * kill_connection: past a drain deadline the peer is not answering; shut the
 * socket down so that libpq sees the connection as broken.  The PGconn stays
 * the caller's to PQfinish.
 */
static void
kill_connection(PGconn *conn)
{
	int fd = PQsocket(conn);

	if (fd >= 0)
		shutdown(fd, SHUT_RDWR);
	/* Let libpq notice, so PQstatus() says CONNECTION_BAD from now on. */
	(void) PQconsumeInput(conn);
}

/*
 * result_error: a failed result's SQLSTATE, and its message as one line:
 * the primary message, then the server's DETAIL and HINT when it gave them.
 */
static char *
result_error(PGconn *conn, const PGresult *res, char sqlstate[6])
{
	const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	const char *msg = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
	const char *detail = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL) : NULL;
	const char *hint = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_HINT) : NULL;

	snprintf(sqlstate, 6, "%s", state ? state : "");
	if (!msg)
		return pgcm__pq_message(PQerrorMessage(conn));
	if (!detail && !hint)
		return pgcm__pq_message(msg);
	return pgcm__asprintf("%s%s%s%s%s", msg, detail ? " DETAIL: " : "", detail ? detail : "",
	                      hint ? " HINT: " : "", hint ? hint : "");
}

/*
 * context_line: the server's "COPY t, line N" context gives the line of its
 * own COPY that failed; 0 when there is none.
 */
static uint64_t
context_line(const PGresult *res)
{
	const char *ctx = res ? PQresultErrorField(res, PG_DIAG_CONTEXT) : NULL;
	const char *p;

	if (!ctx || !(p = strstr(ctx, ", line ")))
		return 0;
	return strtoull(p + 7, NULL, 10);
}

/* ------------------------------------------------------------------------
 * The producer: COPY ... TO STDOUT
 * ------------------------------------------------------------------------ */

enum pg_producer_phase {
	PP_SENDING,     /* the command is being flushed */
	PP_STARTING,    /* waiting for PGRES_COPY_OUT */
	PP_COPYING,     /* reading rows */
	PP_RESULTS,     /* the data ended; reading the COPY's results */
	PP_FINISHED     /* all results read */
};

typedef struct pg_producer {
	pgcm_producer base;
	PGconn *conn;
	char *command;
	int phase;               /* enum pg_producer_phase */
	int was_nonblocking;
	int binary;
	int first_seen;          /* the first CopyData message was seen */
	int cancelled;
	int ok;                  /* the COPY's result said success */
	uint64_t server_rows;    /* from the command tag */
} pg_producer;

/* producer_conn_error: the producer's connection failed. */
static pgcm_status
producer_conn_error(pg_producer *pp, const char *what)
{
	char *msg = pgcm__pq_message(PQerrorMessage(pp->conn));

	pgcm__producer_error(&pp->base, NULL, "%s: %s", what, msg ? msg : "connection lost");
	pgcm__free(msg);
	return PQstatus(pp->conn) == CONNECTION_BAD ? PGCM_ERR_CONNECTION : PGCM_ERR_PRODUCER;
}

static pgcm_status
pg_producer_begin(pgcm_producer *p)
{
	pg_producer *pp = (pg_producer *) p;

	if (PQstatus(pp->conn) != CONNECTION_OK)
		return producer_conn_error(pp, "connection not usable");
	if (PQisBusy(pp->conn) || PQtransactionStatus(pp->conn) == PQTRANS_ACTIVE) {
		pgcm__producer_error(p, NULL, "the connection is busy with another command");
		return PGCM_ERR_STATE;
	}
	pp->was_nonblocking = PQisnonblocking(pp->conn);
	if (PQsetnonblocking(pp->conn, 1) != 0)
		return producer_conn_error(pp, "cannot make the connection non-blocking");
	if (!PQsendQuery(pp->conn, pp->command))
		return producer_conn_error(pp, "cannot send the COPY command");
	pp->phase = PP_SENDING;
	return PGCM_OK;
}

/*
 * take_framing: the first CopyData message of a binary COPY carries the file
 * header before the first tuple, and a CSV header line is a message of its
 * own.  Both become the stream's prologue, replayed at the start of every
 * receiver segment; the binary trailer becomes its epilogue.  Returns how
 * many bytes of the message were framing.
 */
static pgcm_status
take_framing(pg_producer *pp, const char *msg, size_t n, size_t *used)
{
	pgcm__framing *f = &pp->base.framing;

	*used = 0;
	if (!pp->first_seen) {
		size_t hlen = 0;
		pp->first_seen = 1;
		if (pp->binary) {
			uint32_t ext;
			if (n < BINARY_HEADER_FIXED || memcmp(msg, binary_signature, 11) != 0) {
				pgcm__producer_error(&pp->base, NULL, "binary COPY data has no valid header");
				return PGCM_ERR_FORMAT;
			}
			ext = (uint32_t) (unsigned char) msg[15] << 24 | (uint32_t) (unsigned char) msg[16] << 16
			    | (uint32_t) (unsigned char) msg[17] << 8 | (uint32_t) (unsigned char) msg[18];
			if (ext > n - BINARY_HEADER_FIXED) {
				pgcm__producer_error(&pp->base, NULL, "binary COPY header extension is truncated");
				return PGCM_ERR_FORMAT;
			}
			hlen = BINARY_HEADER_FIXED + ext;
		} else if (pp->base.fmt.kind == PGCM_FORMAT_CSV && pp->base.fmt.header) {
			hlen = n;
			f->prologue_is_line = 1;
		}
		if (hlen) {
			f->prologue = pgcm__malloc(hlen);
			if (!f->prologue)
				return PGCM_ERR_NOMEM;
			memcpy(f->prologue, msg, hlen);
			f->prologue_len = hlen;
		}
		f->prologue_known = 1;
		*used = hlen;
	}
	if (pp->binary && n - *used == 2 && (unsigned char) msg[*used] == 0xff
	    && (unsigned char) msg[*used + 1] == 0xff) {
		f->epilogue = pgcm__malloc(2);
		if (!f->epilogue)
			return PGCM_ERR_NOMEM;
		memcpy(f->epilogue, msg + *used, 2);
		f->epilogue_len = 2;
		*used = n;
	}
	return PGCM_OK;
}

/* take_message: one CopyData message: framing to the side, the row into the chunk. */
static pgcm_status
take_message(pg_producer *pp, pgcm__chunk *c, const char *msg, size_t n)
{
	size_t used = 0;
	pgcm_status st;

	if (!pp->first_seen || pp->binary) {
		st = take_framing(pp, msg, n, &used);
		if (st != PGCM_OK)
			return st;
	}
	pp->base.bytes += n - used;
	if (n == used)
		return PGCM_OK;
	st = pgcm__chunk_append_row(c, msg + used, n - used);
	if (st != PGCM_OK) {
		pgcm__producer_error(&pp->base, NULL, "out of memory for a row of %zu bytes", n - used);
		return st;
	}
	pp->base.rows++;
	return PGCM_OK;
}

/*
 * read_results: read the connection's results until PQgetResult returns NULL,
 * without blocking.  The first failure is recorded; a COPY result that
 * reappears (a COPY OUT still streaming during an abort) is handed back.
 * Returns PGCM_AGAIN (wait for input), PGCM_OK when NULL came.
 */
static pgcm_status
pp_read_results(pg_producer *pp)
{
	PGresult *res;

	for (;;) {
		if (!PQconsumeInput(pp->conn))
			return producer_conn_error(pp, "reading the COPY's result");
		if (PQisBusy(pp->conn)) {
			pgcm__wait_conn(&pp->base.wait, pp->conn, POLLIN);
			return PGCM_AGAIN;
		}
		res = PQgetResult(pp->conn);
		if (!res)
			return PGCM_OK;
		switch (PQresultStatus(res)) {
		case PGRES_COMMAND_OK:
			pp->ok = 1;
			pp->server_rows = strtoull(PQcmdTuples(res), NULL, 10);
			break;
		case PGRES_COPY_OUT:
			/* A stray COPY OUT during an abort: the caller's loop drains it. */
			PQclear(res);
			pp->phase = PP_COPYING;
			return PGCM_OK;
		default: {
			char *msg = result_error(pp->conn, res, pp->base.sqlstate);
			if (!pp->base.error)
				pgcm__producer_error(&pp->base, pp->base.sqlstate, "%s", msg ? msg : "error");
			pgcm__free(msg);
			break;
		}
		}
		PQclear(res);
	}
}

/* pp_restore: leave the caller's connection in the blocking mode it had. */
static void
pp_restore(pg_producer *pp)
{
	if (PQstatus(pp->conn) == CONNECTION_OK && !pp->was_nonblocking)
		(void) PQsetnonblocking(pp->conn, 0);
}

/*
 * pg_producer_produce: append rows from PQgetCopyData to c.  One CopyData
 * message is one row; libpq hands each in a buffer of its own, which we copy
 * into the chunk so that receivers get few large messages.
 */
static pgcm_status
pg_producer_produce(pgcm_producer *p, pgcm__chunk *c, size_t target)
{
	pg_producer *pp = (pg_producer *) p;
	pgcm_status st;

	if (pp->phase == PP_SENDING) {
		int f = PQflush(pp->conn);
		if (f < 0)
			return producer_conn_error(pp, "sending the COPY command");
		if (f > 0) {
			pgcm__wait_conn(&p->wait, pp->conn, POLLIN | POLLOUT);
			return PGCM_AGAIN;
		}
		pp->phase = PP_STARTING;
	}
	if (pp->phase == PP_STARTING) {
		PGresult *res;
		if (!PQconsumeInput(pp->conn))
			return producer_conn_error(pp, "starting the COPY");
		if (PQisBusy(pp->conn)) {
			pgcm__wait_conn(&p->wait, pp->conn, POLLIN);
			return PGCM_AGAIN;
		}
		res = PQgetResult(pp->conn);
		if (PQresultStatus(res) != PGRES_COPY_OUT) {
			char *msg = res ? result_error(pp->conn, res, p->sqlstate)
			                : pgcm__strdup("the command returned no result");
			if (res && PQresultStatus(res) != PGRES_FATAL_ERROR && !p->sqlstate[0])
				pgcm__set_msg(&msg, "the command is not a COPY ... TO STDOUT (%s)",
				              PQresStatus(PQresultStatus(res)));
			pgcm__producer_error(p, p->sqlstate, "COPY did not start: %s", msg ? msg : "error");
			pgcm__free(msg);
			PQclear(res);
			pp->phase = PP_RESULTS;
			(void) pp_read_results(pp);
			return p->sqlstate[0] ? PGCM_ERR_SERVER : PGCM_ERR_PRODUCER;
		}
		pp->binary = PQbinaryTuples(res);
		if (pp->binary)
			p->fmt.kind = PGCM_FORMAT_BINARY;
		PQclear(res);
		pp->phase = PP_COPYING;
	}
	while (pp->phase == PP_COPYING && c->len < target) {
		char *buf = NULL;
		int n = PQgetCopyData(pp->conn, &buf, 1);

		if (n == 0) {
			/* Nothing complete: read what the socket has, once, before waiting. */
			if (!pgcm__may(&p->wait, POLLIN)) {
				pgcm__wait_conn(&p->wait, pp->conn, POLLIN);
				return PGCM_AGAIN;
			}
			if (!PQconsumeInput(pp->conn))
				return producer_conn_error(pp, "reading COPY data");
			p->wait.revents = 0;
			n = PQgetCopyData(pp->conn, &buf, 1);
			if (n == 0) {
				pgcm__wait_conn(&p->wait, pp->conn, POLLIN);
				return PGCM_AGAIN;
			}
		}
		if (n > 0) {
			st = take_message(pp, c, buf, (size_t) n);
			PQfreemem(buf);
			if (st != PGCM_OK)
				return st;
			continue;
		}
		/* -1: the data ended; -2: an error, whose result follows. */
		if (!pp->first_seen)
			p->framing.prologue_known = 1;
		pp->phase = PP_RESULTS;
		if (n == -2 && PQstatus(pp->conn) == CONNECTION_BAD)
			return producer_conn_error(pp, "reading COPY data");
	}
	if (pp->phase == PP_RESULTS) {
		st = pp_read_results(pp);
		if (st != PGCM_OK)
			return st;
		if (pp->phase == PP_COPYING)
			return PGCM_OK;
		pp->phase = PP_FINISHED;
		pp_restore(pp);
		if (!pp->ok) {
			if (!p->error)
				pgcm__producer_error(p, NULL, "the COPY failed");
			return p->sqlstate[0] ? PGCM_ERR_SERVER : PGCM_ERR_PRODUCER;
		}
		if (pp->server_rows != p->rows) {
			pgcm__producer_error(p, NULL, "the server counted %llu rows, %llu arrived",
			                     (unsigned long long) pp->server_rows,
			                     (unsigned long long) p->rows);
			return PGCM_ERR_ROWCOUNT;
		}
		return PGCM_DONE;
	}
	return PGCM_OK;
}

/*
 * pg_producer_abort: stop a COPY TO STDOUT and leave the connection idle.
 * A cancel request makes the server stop sending; we read and discard what is
 * already on its way until the COPY ends, then read results until NULL.  If
 * the COPY had already ended we send no cancel, so none can hit the caller's
 * next statement.  Past the deadline the connection is shut down.
 */
static pgcm_status
pg_producer_abort(pgcm_producer *p, int64_t deadline_ms)
{
	pg_producer *pp = (pg_producer *) p;

	if (PQstatus(pp->conn) == CONNECTION_BAD || pp->phase == PP_FINISHED)
		return PGCM_OK;
	if (deadline_ms && pgcm__now_ms() >= deadline_ms) {
		kill_connection(pp->conn);
		pgcm__producer_error(p, NULL, "did not settle after the abort; its connection was closed");
		return PGCM_OK;
	}
	if (pp->phase == PP_SENDING) {
		int f = PQflush(pp->conn);
		if (f < 0)
			return PGCM_OK;
		if (f > 0) {
			pgcm__wait_conn(&p->wait, pp->conn, POLLIN | POLLOUT);
			return PGCM_AGAIN;
		}
		pp->phase = PP_STARTING;
	}
	if (!pp->cancelled && (pp->phase == PP_STARTING || pp->phase == PP_COPYING)) {
		PGcancel *cancel = PQgetCancel(pp->conn);
		char errbuf[256];

		pp->cancelled = 1;
		if (!cancel || !PQcancel(cancel, errbuf, sizeof errbuf)) {
			/* Without a cancel we can still drain, just for longer. */
		}
		PQfreeCancel(cancel);
	}
	for (int consumed = 0;;) {
		PGresult *res;

		if (PQstatus(pp->conn) == CONNECTION_BAD)
			return PGCM_OK;
		if (pp->phase == PP_COPYING) {
			char *buf = NULL;
			int n = PQgetCopyData(pp->conn, &buf, 1);
			if (n > 0) {
				PQfreemem(buf);
				consumed = 0;
				continue;
			}
			if (n == 0) {
				/* Read the socket, then ask libpq again before waiting: the
				 * last messages may already be in its buffer. */
				if (consumed) {
					pgcm__wait_conn(&p->wait, pp->conn, POLLIN);
					return PGCM_AGAIN;
				}
				if (!PQconsumeInput(pp->conn))
					return PGCM_OK;
				consumed = 1;
				continue;
			}
			pp->phase = PP_RESULTS;
		}
		if (!PQconsumeInput(pp->conn))
			return PGCM_OK;
		if (PQisBusy(pp->conn)) {
			pgcm__wait_conn(&p->wait, pp->conn, POLLIN);
			return PGCM_AGAIN;
		}
		res = PQgetResult(pp->conn);
		if (!res) {
			pp->phase = PP_FINISHED;
			pp_restore(pp);
			return PGCM_OK;
		}
		if (PQresultStatus(res) == PGRES_COPY_OUT)
			pp->phase = PP_COPYING;
		else if (PQresultStatus(res) == PGRES_COPY_IN)
			(void) PQputCopyEnd(pp->conn, "aborted by pgcopyman");
		else
			pp->phase = PP_RESULTS;
		PQclear(res);
	}
}

static void
pg_producer_destroy(pgcm_producer *p)
{
	pg_producer *pp = (pg_producer *) p;

	pgcm__free(pp->command);
}

static const pgcm__producer_ops pg_producer_ops = {
	.begin = pg_producer_begin,
	.produce = pg_producer_produce,
	.abort = pg_producer_abort,
	.destroy = pg_producer_destroy,
};

pgcm_producer *
pgcm_producer_pg(PGconn *conn, const char *copy_to)
{
	pg_producer *pp;

	if (!conn || !copy_to)
		return NULL;
	pp = pgcm__calloc(1, sizeof *pp);
	if (!pp)
		return NULL;
	pp->base.ops = &pg_producer_ops;
	pgcm_format_init(&pp->base.fmt, PGCM_FORMAT_TEXT);
	pp->base.wait.fd = -1;
	pp->conn = conn;
	pp->command = pgcm__strdup(copy_to);
	if (!pp->command) {
		pgcm__free(pp);
		return NULL;
	}
	return &pp->base;
}

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
	int phase;              /* enum pg_receiver_phase */
	int was_nonblocking;
	int flushing;           /* libpq holds output it could not send yet */
	int prologue_sent;      /* in this segment */
	int final;              /* the segment being ended is the last */
	int seg_ok;             /* the segment's COPY result said success */
	int fail_sent;          /* PQputCopyEnd(reason) went out */
	int segmented;          /* inside the caller's transaction block: segments allowed */
	int spoke;              /* the server sent something during this segment's COPY */
	uint64_t seg_bytes;     /* data bytes in this segment */
	uint64_t seg_rows;      /* rows in this segment */
	uint64_t seg_first_row; /* 1-based stream row of the segment's first row */
	uint64_t seg_confirmed; /* rows the server's command tag gave */
	uint64_t segments;
} pg_receiver;

/* rx_conn_fault: the receiver's connection failed. */
static pgcm_status
rx_conn_fault(pg_receiver *pr, const char *what)
{
	char *msg = pgcm__pq_message(PQerrorMessage(pr->conn));
	pgcm_status st = PQstatus(pr->conn) == CONNECTION_BAD ? PGCM_ERR_CONNECTION : PGCM_ERR_SERVER;

	pgcm__receiver_error(&pr->base, st, NULL, "%s: %s", what, msg ? msg : "connection lost");
	pgcm__free(msg);
	if (PQstatus(pr->conn) == CONNECTION_BAD)
		pr->phase = PR_DEAD;
	pr->base.ready = 0;
	return st;
}

/* rx_server_fault: a result said the COPY failed; name the row of the whole stream. */
static pgcm_status
rx_server_fault(pg_receiver *pr, const PGresult *res)
{
	char sqlstate[6];
	char *msg = result_error(pr->conn, res, sqlstate);
	uint64_t line = context_line(res);
	uint64_t row = 0;
	const pgcm__framing *f = pr->base.framing;

	if (line) {
		/* The server counts lines of its own COPY, a CSV header line included. */
		uint64_t header = f && f->prologue_is_line ? 1 : 0;
		if (line > header)
			row = pr->seg_first_row + (line - header) - 1;
	}
	pr->base.fault_row = row;
	if (row)
		pgcm__receiver_error(&pr->base, PGCM_ERR_SERVER, sqlstate, "row %llu: %s",
		                     (unsigned long long) row, msg ? msg : "COPY failed");
	else
		pgcm__receiver_error(&pr->base, PGCM_ERR_SERVER, sqlstate, "%s", msg ? msg : "COPY failed");
	pgcm__free(msg);
	pr->base.ready = 0;
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
	pr->seg_first_row = pr->base.rows_sent + 1;
	pr->segments++;
	pr->base.ready = 0;
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
		pgcm__receiver_error(r, PGCM_ERR_STATE, NULL, "the connection is busy with another command");
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
			pgcm__receiver_error(&pr->base, PGCM_ERR_NOMEM, NULL, "libpq could not buffer COPY data");
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
	pr->base.ready = 0;
	if (rx_flush(pr) < 0)
		return rx_conn_fault(pr, "ending the COPY");
	return PGCM_OK;
}

/*
 * pg_receiver_put: send one chunk as one CopyData message.  After enough
 * bytes, or soon after the server spoke mid-COPY (most likely an error, which
 * libpq keeps unparsed until the COPY ends), the segment is ended so that
 * its result, and any error, is read now rather than at the end of the stream.
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
	if (pr->segmented) {
		if (!pr->spoke && !r->wait.known && readable_now(pr->conn))
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
	if (r->wait.known) {
		pr->flushing = 1;
		r->ready = 0;
		r->wait.revents = 0;
		pgcm__wait_conn(&r->wait, pr->conn, POLLIN | POLLOUT);
		return PGCM_AGAIN;
	}
	if (rx_flush(pr) < 0)
		return rx_conn_fault(pr, "sending COPY data");
	if (pr->flushing)
		r->ready = 0;
	return pr->flushing ? PGCM_AGAIN : PGCM_OK;
}

/*
 * rx_read_results: read a segment's results without blocking.  A COPY_IN
 * result here means the server is still in the COPY we are ending: that
 * cannot happen after PQputCopyEnd, except after a protocol error.
 */
static pgcm_status
rx_read_results(pg_receiver *pr)
{
	PGresult *res;
	pgcm_status fault = PGCM_OK;

	for (;;) {
		if (!PQconsumeInput(pr->conn))
			return rx_conn_fault(pr, "reading the COPY's result");
		if (PQisBusy(pr->conn)) {
			pgcm__wait_conn(&pr->base.wait, pr->conn, POLLIN);
			return fault != PGCM_OK ? fault : PGCM_AGAIN;
		}
		res = PQgetResult(pr->conn);
		if (!res)
			return fault != PGCM_OK ? fault : PGCM_OK;
		if (PQresultStatus(res) == PGRES_COMMAND_OK) {
			pr->seg_ok = 1;
			pr->seg_confirmed = strtoull(PQcmdTuples(res), NULL, 10);
		} else if (PQresultStatus(res) == PGRES_COPY_IN) {
			(void) PQputCopyEnd(pr->conn, "unexpected COPY state");
		} else if (fault == PGCM_OK) {
			fault = rx_server_fault(pr, res);
		}
		PQclear(res);
		if (fault != PGCM_OK) {
			/* Keep reading to NULL so the connection is idle; the fault stays. */
			continue;
		}
	}
}

/* rx_restore: leave the caller's connection in the blocking mode it had. */
static void
rx_restore(pg_receiver *pr)
{
	if (PQstatus(pr->conn) == CONNECTION_OK && !pr->was_nonblocking && !pr->flushing)
		(void) PQsetnonblocking(pr->conn, 0);
}

static pgcm_status
pg_receiver_pump(pgcm_receiver *r)
{
	pg_receiver *pr = (pg_receiver *) r;
	pgcm_status st;
	PGresult *res;

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
		if (!PQconsumeInput(pr->conn))
			return rx_conn_fault(pr, "starting the COPY");
		if (PQisBusy(pr->conn)) {
			pgcm__wait_conn(&r->wait, pr->conn, POLLIN);
			return PGCM_AGAIN;
		}
		res = PQgetResult(pr->conn);
		if (PQresultStatus(res) != PGRES_COPY_IN) {
			if (!res) {
				pgcm__receiver_error(r, PGCM_ERR_SERVER, NULL, "the COPY command returned no result");
				st = PGCM_ERR_SERVER;
			} else if (PQresultStatus(res) == PGRES_FATAL_ERROR) {
				char sqlstate[6];
				char *msg = result_error(pr->conn, res, sqlstate);
				pgcm__receiver_error(r, PGCM_ERR_SERVER, sqlstate, "COPY did not start: %s",
				                     msg ? msg : "error");
				pgcm__free(msg);
				st = PGCM_ERR_SERVER;
			} else {
				pgcm__receiver_error(r, PGCM_ERR_ARG, NULL,
				                     "the command is not a COPY ... FROM STDIN (%s)",
				                     PQresStatus(PQresultStatus(res)));
				st = PGCM_ERR_ARG;
			}
			PQclear(res);
			pr->phase = PR_FAILING;
			pr->fail_sent = 1;
			r->ready = 0;
			return st;
		}
		PQclear(res);
		pr->phase = PR_COPYING;
		r->ready = 1;
		return PGCM_OK;
	case PR_COPYING:
		/*
		 * The server speaking mid-COPY is most likely an error: note it
		 * before libpq takes the bytes, and read them (a NOTICE must not
		 * block the server's side).
		 */
		if (r->wait.known ? (r->wait.revents & (POLLIN | POLLHUP | POLLERR)) != 0
		                  : pr->flushing && readable_now(pr->conn)) {
			pr->spoke = 1;
			if (!PQconsumeInput(pr->conn))
				return rx_conn_fault(pr, "reading from the server");
		}
		if (pr->flushing) {
			int f;
			if (!pgcm__may(&r->wait, POLLOUT))
				return PGCM_AGAIN;
			r->wait.revents = 0;
			f = rx_flush(pr);
			if (f < 0)
				return rx_conn_fault(pr, "sending COPY data");
			if (f > 0)
				return PGCM_AGAIN;
		}
		if (PQstatus(pr->conn) != CONNECTION_OK)
			return rx_conn_fault(pr, "sending COPY data");
		r->ready = 1;
		pgcm__wait_conn(&r->wait, pr->conn, POLLIN);
		return PGCM_OK;
	case PR_ENDING: {
		int f = rx_flush(pr);
		if (f < 0)
			return rx_conn_fault(pr, "ending the COPY");
		if (f > 0)
			return PGCM_AGAIN;
		st = rx_read_results(pr);
		if (st != PGCM_OK)
			return st;
		if (!pr->seg_ok) {
			pgcm__receiver_error(r, PGCM_ERR_SERVER, NULL, "the COPY ended without a result");
			pr->phase = PR_FINISHED;
			return PGCM_ERR_SERVER;
		}
		if (pr->seg_confirmed != pr->seg_rows) {
			pgcm__receiver_error(r, PGCM_ERR_ROWCOUNT, NULL,
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
		st = rx_send_command(pr);
		if (st != PGCM_OK)
			return st;
		return pg_receiver_pump(r);
	}
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

	r->ended = 1;
	if (pr->phase == PR_COPYING)
		return rx_end_segment(pr, 1);
	/* A segment is ending or starting: it becomes the last when it ends. */
	pr->final = 1;
	return PGCM_OK;
}

/*
 * pg_receiver_fail: fail the COPY so that its server rolls it back.
 * PQputCopyEnd with a reason sends CopyFail (PQcancel does nothing to a
 * server waiting for COPY data); then results are read until NULL.  A COPY
 * that is still starting is failed once it has started.
 */
static pgcm_status
pg_receiver_fail(pgcm_receiver *r, const char *reason, int64_t deadline_ms)
{
	pg_receiver *pr = (pg_receiver *) r;
	char why[200];

	r->ready = 0;
	if (pr->phase == PR_DEAD || PQstatus(pr->conn) == CONNECTION_BAD) {
		pr->phase = PR_DEAD;
		return PGCM_OK;
	}
	if (pr->phase == PR_FINISHED) {
		rx_restore(pr);
		return PGCM_OK;
	}
	if (deadline_ms && pgcm__now_ms() >= deadline_ms) {
		kill_connection(pr->conn);
		pr->phase = PR_DEAD;
		return PGCM_OK;
	}
	/* A CopyFail message near 10 kB makes the server drop the connection. */
	snprintf(why, sizeof why, "%s", reason && *reason ? reason : "aborted by pgcopyman");
	if (pr->phase == PR_COPYING) {
		if (PQputCopyEnd(pr->conn, why) < 0) {
			pr->phase = PR_DEAD;
			return PGCM_OK;
		}
		pr->fail_sent = 1;
	}
	pr->phase = PR_FAILING;
	for (;;) {
		PGresult *res;
		int f = PQflush(pr->conn);

		pr->flushing = f > 0;
		if (f < 0 || !PQconsumeInput(pr->conn)) {
			pr->phase = PR_DEAD;
			return PGCM_OK;
		}
		if (f > 0) {
			pgcm__wait_conn(&r->wait, pr->conn, POLLIN | POLLOUT);
			return PGCM_AGAIN;
		}
		if (PQisBusy(pr->conn)) {
			pgcm__wait_conn(&r->wait, pr->conn, POLLIN);
			return PGCM_AGAIN;
		}
		res = PQgetResult(pr->conn);
		if (!res) {
			pr->phase = PR_FINISHED;
			rx_restore(pr);
			return PGCM_OK;
		}
		if (PQresultStatus(res) == PGRES_COPY_IN) {
			if (PQputCopyEnd(pr->conn, why) < 0) {
				PQclear(res);
				pr->phase = PR_DEAD;
				return PGCM_OK;
			}
		}
		PQclear(res);
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
	pr->base.ops = &pg_receiver_ops;
	pr->base.wait.fd = -1;
	pr->conn = conn;
	pr->command = pgcm__strdup(copy_from);
	if (!pr->command) {
		pgcm__free(pr);
		return NULL;
	}
	return &pr->base;
}
