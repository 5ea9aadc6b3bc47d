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
#include <limits.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* The binary COPY signature, and the fixed part of its header. */
static const char binary_signature[11] = "PGCOPY\n\377\r\n";
#define BINARY_HEADER_FIXED 19  /* signature, flags, extension length */
/* What an abort's drain reads at a time (into a buffer on the stack, discarded). */
#define DRAIN_PIECE 4096

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
	enum pg_producer_phase phase;
	int was_nonblocking;
	int binary;
	int first_seen;          /* the first CopyData message was seen */
	int cancelled;           /* a cancel request was started (or could not be) */
	pgcm__cancel *cancel;    /* the request under way, until the server took it */
	int aborting;            /* abort() was called */
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

/*
 * message_ends: whether the n bytes of a CopyData message read so far are the
 * whole message.  Asked only when PQgetlineAsync filled all the room offered,
 * which is ambiguous (see next_message).  A text row ends with its newline (a
 * newline in a value is escaped); CSV and binary rows are checked by the row
 * scanner, a binary row after the stream's header.  Returns 1 (whole), 0 (a
 * piece: more follows) or -1 (not the format the producer was told).
 */
static int
message_ends(pg_producer *pp, const char *msg, size_t n)
{
	pgcm_producer *p = &pp->base;
	pgcm_format fmt = p->fmt;
	pgcm__rowscan scan;
	size_t pos = 0;

	if (!pp->binary && fmt.kind != PGCM_FORMAT_CSV)
		return msg[n - 1] == '\n';
	if (pp->binary)
		fmt.kind = PGCM_FORMAT_BINARY;
	fmt.header = 0;       /* a CSV header line ends where a row would */
	fmt.max_row = 0;      /* the server's own limit */
	pgcm__rowscan_init(&scan, &fmt);
	if (pp->binary && pp->first_seen
	    && pgcm__rowscan_next(&scan, p->framing.prologue, p->framing.prologue_len, &pos)
	           != PGCM__SCAN_HEADER) {
		pgcm__producer_error(p, NULL, "binary COPY header cannot be scanned: %s", scan.error);
		return -1;
	}
	for (pos = 0;;) {
		switch (pgcm__rowscan_next(&scan, msg, n, &pos)) {
		case PGCM__SCAN_MORE:
			return 0;
		case PGCM__SCAN_HEADER:
			if (pos == n)
				return 1;
			continue;
		case PGCM__SCAN_ROW:
		case PGCM__SCAN_END:
			if (pos == n)
				return 1;
			pgcm__producer_error(p, NULL, "row %llu: one COPY data message holds more than one "
			                     "%s row (is the producer's format the COPY's?)",
			                     (unsigned long long) p->rows + 1, pgcm_format_kind_name(fmt.kind));
			return -1;
		case PGCM__SCAN_ERROR:
			pgcm__producer_error(p, NULL, "%s COPY data (is the producer's format the COPY's?): %s",
			                     pgcm_format_kind_name(fmt.kind), scan.error);
			return -1;
		}
	}
}

/*
 * read_long_message: a message filled all the room next_message offered: a
 * piece of a longer row, or exactly the whole row.  Read on until it is whole
 * (message_ends), doubling the room each time.  *len: its length.
 */
static pgcm_status
read_long_message(pg_producer *pp, pgcm__chunk *c, size_t have, size_t *len)
{
	for (;;) {
		size_t room;
		int offer, n, ends = message_ends(pp, c->data + c->len, have);

		if (ends < 0)
			return PGCM_ERR_FORMAT;
		if (ends)
			break;
		if (pgcm__chunk_reserve(c, 2 * have) != PGCM_OK) {
			pgcm__producer_error(&pp->base, NULL, "out of memory for row %llu (%zu bytes so far)",
			                     (unsigned long long) pp->base.rows + 1, have);
			return PGCM_ERR_NOMEM;
		}
		room = c->cap - c->len - have;
		offer = room > INT_MAX ? INT_MAX : (int) room;
		n = PQgetlineAsync(pp->conn, c->data + c->len + have, offer);
		/*
		 * 0 or -1 after a piece: it was the whole message after all (a
		 * format that misled message_ends), since libpq holds whole messages
		 * and gives the rest of one at once.  -1 comes again next time.
		 */
		if (n <= 0)
			break;
		have += (size_t) n;
		if (n < offer)
			break;
	}
	*len = have;
	return PGCM_OK;
}

/*
 * next_message: copy the next CopyData message from libpq's input buffer
 * into c, just past its whole rows (c->len), without counting it yet.
 * PQgetlineAsync copies a message straight into our buffer; PQgetCopyData
 * would malloc a copy of each row, which we would then copy into the chunk
 * and free (a third of the client's instructions, measured).  It hands over
 * a message longer than the room offered in pieces, and a piece that fills
 * the room exactly may or may not be the end: the chunk keeps PGCM__ROW_SLACK
 * bytes free past its target, so shorter rows always come whole, and only a
 * longer one is read on by read_long_message().  A message is read whole
 * before this returns, so a chunk never holds part of a row.  *len: the
 * message's length, 0 when none is complete yet.  Returns PGCM_OK, PGCM_DONE
 * (the data ended, or failed: the COPY's result says which), or an error.
 */
static inline pgcm_status
next_message(pg_producer *pp, pgcm__chunk *c, size_t target, size_t *len)
{
	size_t room, working = target + PGCM__ROW_SLACK;
	int offer, n;

	if (c->cap < working && pgcm__chunk_reserve(c, working - c->len) != PGCM_OK) {
		pgcm__producer_error(&pp->base, NULL, "out of memory for a chunk of %zu bytes", working);
		return PGCM_ERR_NOMEM;
	}
	room = c->cap - c->len;
	offer = room > INT_MAX ? INT_MAX : (int) room;
	n = PQgetlineAsync(pp->conn, c->data + c->len, offer);
	*len = n > 0 ? (size_t) n : 0;
	if (n < 0)
		return PGCM_DONE;
	if (n == offer)
		return read_long_message(pp, c, (size_t) n, len);
	return PGCM_OK;
}

/*
 * take_message: the message of n bytes just past c's rows: framing (the
 * first message, a binary trailer) to the side, the row counted into the
 * chunk where it already is.
 */
static inline pgcm_status
take_message(pg_producer *pp, pgcm__chunk *c, size_t n)
{
	char *msg = c->data + c->len;
	size_t used = 0;
	pgcm_status st;

	if (!pp->first_seen || (pp->binary && n == 2)) {
		st = take_framing(pp, msg, n, &used);
		if (st == PGCM_ERR_NOMEM)
			pgcm__producer_error(&pp->base, NULL, "out of memory for the COPY's framing");
		if (st != PGCM_OK)
			return st;
		if (used)
			memmove(msg, msg + used, n - used);
	}
	pp->base.bytes += n - used;
	if (n == used)
		return PGCM_OK;
	c->len += n - used;
	c->rows++;
	pp->base.rows++;
	return PGCM_OK;
}

/* on_result: one result of the COPY (or of its abort); the first failure is kept. */
static int
on_result(void *arg, PGresult *res)
{
	pg_producer *pp = arg;

	switch (PQresultStatus(res)) {
	case PGRES_COMMAND_OK:
		pp->ok = 1;
		pp->server_rows = strtoull(PQcmdTuples(res), NULL, 10);
		return 0;
	case PGRES_COPY_OUT:
		/* A COPY OUT still streaming (during an abort): its data is drained first. */
		pp->phase = PP_COPYING;
		return 1;
	case PGRES_COPY_IN:
		/* Not ours to feed: fail it, so the connection comes back idle. */
		(void) PQputCopyEnd(pp->conn, "aborted by pgcopyman");
		return 0;
	default: {
		char *msg;
		/* An aborted COPY fails as asked: that is not the producer's error. */
		if (pp->base.error || pp->aborting)
			return 0;
		msg = pgcm__pq_result_error(pp->conn, res, pp->base.sqlstate);
		pgcm__producer_error(&pp->base, pp->base.sqlstate, "%s", msg ? msg : "error");
		pgcm__free(msg);
		return 0;
	}
	}
}

/*
 * pp_read_results: read the COPY's results without blocking.  Returns
 * PGCM_AGAIN (wait for input), PGCM_OK when they all came (or a COPY OUT
 * reappeared: phase says so), or a connection error.
 */
static pgcm_status
pp_read_results(pg_producer *pp)
{
	switch (pgcm__pq_results(pp->conn, on_result, pp)) {
	case PGCM__PQ_BUSY:
		pgcm__wait_conn(&pp->base.wait, pp->conn, POLLIN);
		return PGCM_AGAIN;
	case PGCM__PQ_BROKEN:
		return producer_conn_error(pp, "reading the COPY's result");
	case PGCM__PQ_IDLE:
	case PGCM__PQ_STOP:
		break;
	}
	return PGCM_OK;
}

/*
 * start_copy: the command's first result: PGRES_COPY_OUT, or why the COPY
 * did not start (the rest of its results are read, so the connection is left
 * idle when it can be).
 */
static pgcm_status
start_copy(pg_producer *pp)
{
	pgcm_producer *p = &pp->base;
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
	PQclear(res);
	pp->phase = PP_COPYING;
	p->activity++;
	return PGCM_OK;
}

/*
 * finish_copy: the data ended: the COPY's results say whether it succeeded
 * and how many rows the server sent.
 */
static pgcm_status
finish_copy(pg_producer *pp)
{
	pgcm_producer *p = &pp->base;
	pgcm_status st = pp_read_results(pp);

	if (st != PGCM_OK || pp->phase == PP_COPYING)
		return st;
	p->activity++;
	pp->phase = PP_FINISHED;
	pgcm__pq_restore(pp->conn, pp->was_nonblocking);
	if (!pp->ok) {
		if (!p->error)
			pgcm__producer_error(p, NULL, "the COPY failed");
		return p->sqlstate[0] ? PGCM_ERR_SERVER : PGCM_ERR_PRODUCER;
	}
	if (pp->server_rows != p->rows) {
		pgcm__producer_error(p, NULL, "the server counted %llu rows, %llu arrived",
		                     (unsigned long long) pp->server_rows, (unsigned long long) p->rows);
		return PGCM_ERR_ROWCOUNT;
	}
	return PGCM_DONE;
}

/*
 * pg_producer_produce: append rows to c, each copied once, from libpq's
 * input buffer straight into the chunk (next_message).  The socket is read
 * once per readiness poll() reported (or once per step in a caller's own
 * loop) before waiting.
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
		st = start_copy(pp);
		if (st != PGCM_OK)
			return st;
	}
	while (pp->phase == PP_COPYING && c->len < target) {
		size_t n;

		st = next_message(pp, c, target, &n);
		if (st == PGCM_OK && n == 0) {
			/* Nothing complete: read what the socket has, once, before waiting. */
			if (!pgcm__polled_take(&p->polled, POLLIN)) {
				pgcm__wait_conn(&p->wait, pp->conn, POLLIN);
				return PGCM_AGAIN;
			}
			/* Bytes arrived, a whole row or not (a long row takes a while). */
			if (pgcm__polled_known(&p->polled) || pgcm__pq_readable_now(pp->conn))
				p->activity++;
			if (!PQconsumeInput(pp->conn))
				return producer_conn_error(pp, "reading COPY data");
			pgcm__polled_spend(&p->polled);
			st = next_message(pp, c, target, &n);
			if (st == PGCM_OK && n == 0) {
				pgcm__wait_conn(&p->wait, pp->conn, POLLIN);
				return PGCM_AGAIN;
			}
		}
		if (st == PGCM_OK) {
			p->activity++;
			st = take_message(pp, c, n);
			if (st != PGCM_OK)
				return st;
			continue;
		}
		if (st != PGCM_DONE)
			return st;
		/* The data ended, or failed: the COPY's result says which. */
		if (!pp->first_seen)
			p->framing.prologue_known = 1;
		pp->phase = PP_RESULTS;
		if (PQstatus(pp->conn) == CONNECTION_BAD)
			return producer_conn_error(pp, "reading COPY data");
	}
	if (pp->phase == PP_RESULTS)
		return finish_copy(pp);
	return PGCM_OK;
}

/*
 * send_cancel: ask the server to stop sending.  The request goes out from a
 * thread of its own (pgcancel.c): libpq 15's PQcancel waits for the server.
 * Sent only while the COPY may still be running, so it never hits the
 * caller's next statement.  Without a cancel we can still drain, just for
 * longer.
 */
static void
send_cancel(pg_producer *pp)
{
	pp->cancelled = 1;
	pp->cancel = pgcm__cancel_start(pp->conn);
}

/*
 * cancel_settled: the cancel request (if any) was taken by the server, so it
 * cannot reach a later statement of the caller's.  Otherwise wait for it.
 */
static int
cancel_settled(pg_producer *pp)
{
	if (!pp->cancel)
		return 1;
	if (!pgcm__cancel_done(pp->cancel)) {
		pgcm__wait_on(&pp->base.wait, pgcm__cancel_fd(pp->cancel), POLLIN);
		return 0;
	}
	pgcm__cancel_release(pp->cancel);
	pp->cancel = NULL;
	return 1;
}

/*
 * drain_copy: read and discard what the server had already sent when it
 * took the cancel, until the COPY ends.  Pieces of a scratch buffer's size
 * are enough to discard (and finish a message next_message left unread when
 * memory ran out).  PGCM_AGAIN: wait for input.
 */
static pgcm_status
drain_copy(pg_producer *pp)
{
	char scratch[DRAIN_PIECE];

	for (int consumed = 0;;) {
		int n = PQgetlineAsync(pp->conn, scratch, (int) sizeof scratch);

		if (n > 0) {
			consumed = 0;
			continue;
		}
		if (n < 0) {
			pp->phase = PP_RESULTS;
			return PGCM_OK;
		}
		/* Read the socket, then ask libpq again before waiting: the last
		 * messages may already be in its buffer. */
		if (consumed) {
			pgcm__wait_conn(&pp->base.wait, pp->conn, POLLIN);
			return PGCM_AGAIN;
		}
		if (!PQconsumeInput(pp->conn))
			return PGCM_ERR_CONNECTION;
		consumed = 1;
	}
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

	pp->aborting = 1;
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
	if (!pp->cancelled && (pp->phase == PP_STARTING || pp->phase == PP_COPYING))
		send_cancel(pp);
	for (;;) {
		if (pp->phase == PP_COPYING) {
			pgcm_status st = drain_copy(pp);
			if (st == PGCM_AGAIN)
				return st;
			if (st != PGCM_OK)
				return PGCM_OK;   /* the connection is gone: nothing to settle */
		}
		switch (pgcm__pq_results(pp->conn, on_result, pp)) {
		case PGCM__PQ_BUSY:
			pgcm__wait_conn(&p->wait, pp->conn, POLLIN);
			return PGCM_AGAIN;
		case PGCM__PQ_STOP:
			continue;   /* a COPY OUT: drain it */
		case PGCM__PQ_BROKEN:
			return PGCM_OK;
		case PGCM__PQ_IDLE:
			if (!cancel_settled(pp))
				return PGCM_AGAIN;
			pp->phase = PP_FINISHED;
			pgcm__pq_restore(pp->conn, pp->was_nonblocking);
			return PGCM_OK;
		}
	}
}

static void
pg_producer_destroy(pgcm_producer *p)
{
	pg_producer *pp = (pg_producer *) p;

	pgcm__cancel_release(pp->cancel);
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
	pgcm__producer_init(&pp->base, &pg_producer_ops);
	pgcm_format_init(&pp->base.fmt, PGCM_FORMAT_TEXT);
	pp->conn = conn;
	pp->command = pgcm__strdup(copy_to);
	if (!pp->command) {
		pgcm__free(pp);
		return NULL;
	}
	return &pp->base;
}

