/*
 * endpoint_pg_producer.c: the producer on a libpq connection, COPY ... TO
 * STDOUT.
 *
 * Everything here is non-blocking: the command goes out with PQsendQuery,
 * input is read with PQconsumeInput, and results are taken only when
 * PQisBusy says they are complete.  The connection belongs to the caller: we
 * set non-blocking mode for the copy and restore it, and never close, begin
 * or commit.  A dead connection is left alone once seen.
 */
#include <poll.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* The binary COPY signature, and the fixed part of its header. */
static const char binary_signature[11] = "PGCOPY\n\377\r\n";
#define BINARY_HEADER_FIXED 19  /* signature, flags, extension length */

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
			char *msg = pgcm__pq_result_error(pp->conn, res, pp->base.sqlstate);
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
			char *msg = res ? pgcm__pq_result_error(pp->conn, res, p->sqlstate)
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
		pgcm__pq_kill(pp->conn);
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

