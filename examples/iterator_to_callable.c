/*
 * iterator_to_callable.c: COPY data from an iterator to a callable, the
 * copyman manual's "sourced by arbitrary iterators and target arbitrary
 * callables", with no server at all.
 *
 * The producer is a read callback that walks an in-memory iterator of rows in
 * text COPY format and hands its bytes out in pieces of arbitrary sizes, cut
 * anywhere, even inside a row or an escape: the library finds the row
 * boundaries itself.  The receiver is a write callback that collects what it
 * gets; the library promises it whole rows only, and the example checks that
 * and that the bytes arrived exactly as produced.
 *
 * Usage: iterator_to_callable.  Exits 0 when the check passes.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pgcopyman.h"

#define ROWS 200000ULL

/*
 * Row payloads, already in text COPY format: the escapes the server itself
 * writes (\t, \n, \r, \\), UTF-8, and \N for NULL.
 */
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

/* format_row: row k (1-based) of the iterator into buf; returns its length. */
static size_t
format_row(uint64_t k, char *buf, size_t size)
{
	int n = snprintf(buf, size, "%" PRIu64 "\t%s\n", k, samples[k % NSAMPLES]);

	return n < 0 ? 0 : (size_t) n;
}

/* The iterator: the next row to format, and what is left of the current one. */
typedef struct row_iter {
	uint64_t next;        /* 1-based; ROWS + 1 when exhausted */
	char row[256];
	size_t row_len, row_pos;
	uint32_t seed;        /* piece sizes */
	uint64_t pieces, bytes;
} row_iter;

/*
 * read_rows: the producer's read callback.  Each call hands out one piece of
 * 1 to 97 bytes (a small pseudo-random generator picks the size), crossing
 * row boundaries freely; 0 means the iterator is exhausted.
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

/* What the callable receiver collected. */
typedef struct sink {
	char *data;
	size_t len, cap;
	uint64_t calls;
	int torn;             /* a call did not end on a row boundary */
} sink;

/*
 * collect: the receiver's write callback.  buf is borrowed for the call, so
 * it is copied.  Returning non-zero would fault this receiver only.
 */
static int
collect(void *arg, const char *buf, size_t len)
{
	sink *s = arg;

	s->calls++;
	if (len == 0 || buf[len - 1] != '\n')
		s->torn = 1;
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

/* matches_iterator: s holds every row of the iterator, in order, once. */
static int
matches_iterator(const sink *s)
{
	char row[256];
	size_t off = 0;

	for (uint64_t k = 1; k <= ROWS; k++) {
		size_t n = format_row(k, row, sizeof row);
		if (off + n > s->len || memcmp(s->data + off, row, n) != 0) {
			fprintf(stderr, "iterator_to_callable: row %" PRIu64 " differs\n", k);
			return 0;
		}
		off += n;
	}
	if (off != s->len) {
		fprintf(stderr, "iterator_to_callable: %zu bytes too many\n", s->len - off);
		return 0;
	}
	return 1;
}

int
main(void)
{
	row_iter it = {.next = 1, .seed = 42};
	sink s = {0};
	pgcm_format fmt;
	pgcm_copy *c;
	pgcm_progress total = {0, 0};
	pgcm_status st;
	int rc = 1;

	pgcm_format_init(&fmt, PGCM_FORMAT_TEXT);
	c = pgcm_copy_new(pgcm_producer_fn(read_rows, &it, &fmt));
	if (!c) {
		fprintf(stderr, "iterator_to_callable: out of memory\n");
		goto cleanup;
	}
	if (pgcm_copy_add(c, pgcm_receiver_fn(collect, &s)) != PGCM_OK) {
		fprintf(stderr, "iterator_to_callable: %s\n", pgcm_copy_errmsg(c));
		goto cleanup;
	}

	/* CopyManager(producer, receiver).run(): the whole copy in one call. */
	st = pgcm_copy_run(c, &total);
	if (st != PGCM_OK) {
		fprintf(stderr, "iterator_to_callable: copy failed: %s: %s\n", pgcm_strerror(st),
		        pgcm_copy_errmsg(c));
		goto cleanup;
	}
	printf("produced %" PRIu64 " rows, %" PRIu64 " bytes in %" PRIu64 " pieces\n",
	       total.rows, it.bytes, it.pieces);
	printf("received %zu bytes in %" PRIu64 " calls, %s\n", s.len, s.calls,
	       s.torn ? "some calls ended inside a row" : "each call whole rows");
	if (total.rows != ROWS || total.bytes != it.bytes || s.len != it.bytes || s.torn
	    || !matches_iterator(&s)) {
		fprintf(stderr, "iterator_to_callable: the receiver did not get the iterator's rows\n");
		goto cleanup;
	}
	printf("iterator_to_callable: OK\n");
	rc = 0;

cleanup:
	pgcm_copy_free(c);
	free(s.data);
	return rc;
}
