/*
 * iterator_to_statement.c: COPY data from an iterator to a statement, the
 * copyman manual's iterator-sourced copy into a `COPY ... FROM STDIN`.
 *
 * The producer is a read callback that walks an in-memory iterator of rows in
 * text COPY format and hands its bytes out in pieces of arbitrary sizes; the
 * receiver is a connection running COPY iter_table FROM STDIN inside the
 * caller's transaction.  To check the load, the table is copied back out
 * (a connection producer to a callable receiver) and compared byte for byte
 * with the iterator's rows: the samples use the escapes the server itself
 * writes, so a faithful round trip gives the same bytes.
 *
 * Usage: iterator_to_statement [CONNINFO]  (a libpq connection string; absent:
 * the PG* environment).  Exits 0 when the check passes.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pgcopyman.h"

#define ROWS 100000ULL

/* Row payloads in text COPY format: escapes, UTF-8, an empty string, NULL. */
static const char *const samples[] = {
	"plain",
	"tab\\there",
	"new\\nline and cr\\r",
	"back\\\\slash",
	"grüße, 日本, 🐘",  /* UTF-8, as this file is */
	"\\N",
	"",
	"a longer payload that makes some rows much wider than others, so that rows straddle the pieces",
};
#define NSAMPLES (sizeof samples / sizeof samples[0])

static size_t
format_row(uint64_t k, char *buf, size_t size)
{
	int n = snprintf(buf, size, "%" PRIu64 "\t%s\n", k, samples[k % NSAMPLES]);

	return n < 0 ? 0 : (size_t) n;
}

typedef struct row_iter {
	uint64_t next;
	char row[256];
	size_t row_len, row_pos;
	uint32_t seed;
	uint64_t pieces, bytes;
} row_iter;

/*
 * read_rows: the producer's read callback: one piece of 1 to 97 bytes per
 * call, cut anywhere; the library reassembles whole rows.  0 at the end.
 */
static long
read_rows(void *arg, char *buf, size_t cap)
{
	row_iter *it = arg;
	size_t want, out = 0;

	it->seed = it->seed * 1103515245u + 12345u;
	want = 1 + (it->seed >> 16) % 97;
	if (want > cap)
		want = cap;
	while (out < want) {
		size_t n;
		if (it->row_pos == it->row_len) {
			if (it->next > ROWS)
				break;
			it->row_len = format_row(it->next++, it->row, sizeof it->row);
			it->row_pos = 0;
		}
		n = it->row_len - it->row_pos;
		if (n > want - out)
			n = want - out;
		memcpy(buf + out, it->row + it->row_pos, n);
		it->row_pos += n;
		out += n;
	}
	if (out) {
		it->pieces++;
		it->bytes += out;
	}
	return (long) out;
}

typedef struct sink {
	char *data;
	size_t len, cap;
} sink;

/* collect: a callable receiver that keeps a copy of what it is given. */
static int
collect(void *arg, const char *buf, size_t len)
{
	sink *s = arg;

	if (s->len + len > s->cap) {
		size_t ncap = s->cap ? s->cap : 65536;
		char *p;
		while (ncap < s->len + len)
			ncap *= 2;
		p = realloc(s->data, ncap);
		if (!p)
			return 1;
		s->data = p;
		s->cap = ncap;
	}
	memcpy(s->data + s->len, buf, len);
	s->len += len;
	return 0;
}

static int
exec_command(PGconn *conn, const char *sql)
{
	PGresult *res = PQexec(conn, sql);
	int ok = PQresultStatus(res) == PGRES_COMMAND_OK;

	if (!ok)
		fprintf(stderr, "iterator_to_statement: %s: %s", sql, PQerrorMessage(conn));
	PQclear(res);
	return ok;
}

/* load: iterator -> COPY iter_table FROM STDIN, in a transaction committed on success. */
static int
load(PGconn *conn, row_iter *it)
{
	pgcm_format fmt;
	pgcm_copy *c = NULL;
	pgcm_progress total = {0, 0};
	pgcm_status st;
	int ok = 0;

	if (!exec_command(conn, "BEGIN"))
		return 0;
	pgcm_format_init(&fmt, PGCM_FORMAT_TEXT);
	c = pgcm_copy_new(pgcm_producer_fn(read_rows, it, &fmt));
	if (!c) {
		fprintf(stderr, "iterator_to_statement: out of memory\n");
		goto cleanup;
	}
	if (pgcm_copy_add(c, pgcm_receiver_pg(conn, "COPY iter_table (id, note) FROM STDIN")) != PGCM_OK) {
		fprintf(stderr, "iterator_to_statement: %s\n", pgcm_copy_errmsg(c));
		goto cleanup;
	}
	st = pgcm_copy_run(c, &total);
	if (st != PGCM_OK) {
		fprintf(stderr, "iterator_to_statement: load failed: %s: %s\n", pgcm_strerror(st),
		        pgcm_copy_errmsg(c));
		goto cleanup;
	}
	printf("loaded %" PRIu64 " rows, %" PRIu64 " bytes from %" PRIu64 " pieces; server counted %" PRIu64 "\n",
	       total.rows, total.bytes, it->pieces, pgcm_receiver_rows(pgcm_copy_receiver(c, 0)));
	ok = total.rows == ROWS && pgcm_receiver_rows(pgcm_copy_receiver(c, 0)) == ROWS;

cleanup:
	pgcm_copy_free(c);
	/* Commit only a complete load; the connection is usable either way. */
	if (!exec_command(conn, ok ? "COMMIT" : "ROLLBACK"))
		ok = 0;
	return ok;
}

/* unload: the table back out, in id order, into s. */
static int
unload(PGconn *conn, sink *s)
{
	pgcm_copy *c = pgcm_copy_new(pgcm_producer_pg(conn, "COPY (SELECT id, note FROM iter_table ORDER BY id) TO STDOUT"));
	pgcm_progress total = {0, 0};
	pgcm_status st;
	int ok = 0;

	if (!c) {
		fprintf(stderr, "iterator_to_statement: out of memory\n");
		return 0;
	}
	if (pgcm_copy_add(c, pgcm_receiver_fn(collect, s)) != PGCM_OK) {
		fprintf(stderr, "iterator_to_statement: %s\n", pgcm_copy_errmsg(c));
		goto cleanup;
	}
	st = pgcm_copy_run(c, &total);
	if (st != PGCM_OK) {
		fprintf(stderr, "iterator_to_statement: unload failed: %s: %s\n", pgcm_strerror(st),
		        pgcm_copy_errmsg(c));
		goto cleanup;
	}
	printf("copied back %" PRIu64 " rows, %" PRIu64 " bytes\n", total.rows, total.bytes);
	ok = 1;
cleanup:
	pgcm_copy_free(c);
	return ok;
}

/* matches_iterator: s holds every row of the iterator, in order, once. */
static int
matches_iterator(const sink *s)
{
	char row[256];
	size_t off = 0;

	for (uint64_t k = 1; k <= ROWS; k++) {
		size_t n = format_row(k, row, sizeof row);
		if (off + n > s->len || memcmp(s->data + off, row, n) != 0) {
			fprintf(stderr, "iterator_to_statement: row %" PRIu64 " differs\n", k);
			return 0;
		}
		off += n;
	}
	if (off != s->len) {
		fprintf(stderr, "iterator_to_statement: %zu bytes too many\n", s->len - off);
		return 0;
	}
	return 1;
}

int
main(int argc, char **argv)
{
	PGconn *conn = PQconnectdb(argc > 1 ? argv[1] : "");
	row_iter it = {.next = 1, .seed = 7};
	sink s = {0};
	int rc = 1;

	if (PQstatus(conn) != CONNECTION_OK) {
		fprintf(stderr, "iterator_to_statement: cannot connect: %s", PQerrorMessage(conn));
		goto cleanup;
	}
	/* UTF8 on the wire, so the samples' bytes reach the table unchanged. */
	if (PQsetClientEncoding(conn, "UTF8") != 0) {
		fprintf(stderr, "iterator_to_statement: client encoding: %s", PQerrorMessage(conn));
		goto cleanup;
	}
	if (!exec_command(conn, "CREATE TEMP TABLE iter_table (id int8 PRIMARY KEY, note text)"))
		goto cleanup;
	if (!load(conn, &it) || !unload(conn, &s))
		goto cleanup;
	if (!matches_iterator(&s)) {
		fprintf(stderr, "iterator_to_statement: the table does not hold the iterator's rows\n");
		goto cleanup;
	}
	printf("round trip: %zu bytes identical\n", s.len);
	printf("iterator_to_statement: OK\n");
	rc = 0;

cleanup:
	free(s.data);
	PQfinish(conn);
	return rc;
}
