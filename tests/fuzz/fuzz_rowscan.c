/*
 * fuzz_rowscan.c: libFuzzer target for the row scanner (src/rowscan.c).
 *
 * The first bytes pick a format (kind, header, quote, escape, row-size cap)
 * and a seed for the piece sizes; the rest is COPY data.  The data is scanned
 * once in one piece and once cut into pieces of varying size, each copied to
 * its own exactly-sized allocation (so that AddressSanitizer sees any read past
 * a piece) and sometimes fed the way a producer does, with the carried-over
 * partial row in front and *pos inside the buffer.  Both runs must report the
 * same units at the same offsets with the same row counts, and the same error;
 * positions must stay in bounds and move forward.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define MAX_EVENTS 4096

typedef struct event {
	int kind;
	uint64_t end;       /* s->offset after the unit */
	uint64_t start;     /* s->unit_start */
	uint64_t rows;
	int ended;
} event;

typedef struct run {
	event ev[MAX_EVENTS];
	size_t n;
	int error;          /* 1: ended in an error */
	char msg[256];
} run;

static run one, many, ref;

static void
check(int ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "fuzz_rowscan: invariant failed: %s\n", what);
		abort();
	}
}

static int
record(run *r, pgcm__rowscan *s, int kind)
{
	if (kind == PGCM__SCAN_ERROR) {
		r->error = 1;
		memcpy(r->msg, s->error, sizeof r->msg);
		check(strlen(s->error) > 0, "an error has a message");
		check(strncmp(s->error, "row ", 4) == 0 || strncmp(s->error, "header ", 7) == 0,
		      "an error names the row or the header");
		check(strstr(s->error, "(byte ") != NULL, "an error names the byte");
		return 0;
	}
	check(kind == PGCM__SCAN_HEADER || kind == PGCM__SCAN_ROW || kind == PGCM__SCAN_END,
	      "a known unit kind");
	check(s->offset > s->unit_start, "a unit is not empty");
	if (r->n)
		check(s->unit_start == r->ev[r->n - 1].end, "units are contiguous");
	if (r->n < MAX_EVENTS) {
		r->ev[r->n].kind = kind;
		r->ev[r->n].end = s->offset;
		r->ev[r->n].start = s->unit_start;
		r->ev[r->n].rows = s->rows;
		r->ev[r->n].ended = s->ended;
	}
	r->n++;
	return 1;
}

/* scan_piece: feed buf[pos..len) until MORE; 0 after an error. */
static int
scan_piece(run *r, pgcm__rowscan *s, const char *buf, size_t len, size_t pos)
{
	for (;;) {
		size_t before = pos;
		uint64_t off = s->offset;
		int kind = pgcm__rowscan_next(s, buf, len, &pos);

		check(pos <= len, "position within the piece");
		check(pos >= before, "position moves forward");
		check(kind == PGCM__SCAN_ERROR || s->offset == off + (pos - before),
		      "offset follows the position");
		if (kind == PGCM__SCAN_MORE) {
			check(pos == len, "MORE consumes the piece");
			return 1;
		}
		if (!record(r, s, kind))
			return 0;
	}
}

static void
finish_run(run *r, pgcm__rowscan *s)
{
	int kind = pgcm__rowscan_eof(s);

	if (kind == PGCM__SCAN_MORE)
		return;
	if (!record(r, s, kind))
		return;
	check(pgcm__rowscan_eof(s) == PGCM__SCAN_MORE, "eof is idempotent after a unit");
}

/*
 * reference: text and CSV line ends computed the simple way, over the whole
 * input with free look-ahead, as the server's CopyReadLineText reads them;
 * it shares no code with the streaming scanner.  Fills r with the units
 * (kinds and ends) and whether it ended in an error.
 */
static void
reference(const pgcm_format *fmt, const unsigned char *d, size_t n, run *r)
{
	int csv = fmt->kind == PGCM_FORMAT_CSV;
	int quotec = (unsigned char) fmt->quote;
	int escapec = (fmt->escape && fmt->escape != fmt->quote) ? (unsigned char) fmt->escape : -1;
	int eol = 0;            /* 0 unknown, 1 NL, 2 CR, 3 CRNL */
	int header_due = fmt->header;
	uint64_t rows = 0;
	size_t i = 0;

	memset(r, 0, sizeof *r);
	if (csv && (fmt->quote == '\n' || fmt->quote == '\r')) {
		r->error = 1;
		return;
	}
	while (i < n) {
		size_t start = i;
		int in_quote = 0, last_esc = 0, first = 1, kind = 0, ended = 0;

		for (;;) {
			int c, c2;
			size_t bs;

			if (i >= n) {
				if (csv && in_quote && !header_due) {
					r->error = 1;
					return;
				}
				kind = header_due ? PGCM__SCAN_HEADER : PGCM__SCAN_ROW;
				break;
			}
			c = d[i++];
			if (csv) {
				if (in_quote && c == escapec)
					last_esc = !last_esc;
				if (c == quotec && !last_esc)
					in_quote = !in_quote;
				if (c != escapec)
					last_esc = 0;
			}
			if (c == '\r' && (!csv || !in_quote)) {
				if (eol == 0 || eol == 3) {
					c2 = i < n ? d[i] : 0;
					if (c2 == '\n') {
						i++;
						eol = 3;
					} else if (eol == 3) {
						r->error = 1;
						return;
					} else {
						eol = 2;
					}
				} else if (eol == 1) {
					r->error = 1;
					return;
				}
				kind = header_due ? PGCM__SCAN_HEADER : PGCM__SCAN_ROW;
				break;
			}
			if (c == '\n' && (!csv || !in_quote)) {
				if (eol == 2 || eol == 3) {
					r->error = 1;
					return;
				}
				eol = 1;
				kind = header_due ? PGCM__SCAN_HEADER : PGCM__SCAN_ROW;
				break;
			}
			if (c == '\\' && (!csv || first) && i < n) {
				bs = i - 1;
				if (d[i] == '.') {
					i++;
					if (eol == 3) {
						c2 = i < n ? d[i++] : 0;
						if (c2 != '\r') {
							if (!csv || c2 == '\n') {
								if (!csv) {
									r->error = 1;
									return;
								}
							}
							goto not_end;
						}
					}
					c2 = i < n ? d[i++] : 0;
					if (c2 != '\r' && c2 != '\n') {
						if (!csv) {
							r->error = 1;
							return;
						}
						goto not_end;
					}
					if ((eol == 1 && c2 != '\n') || (eol == 3 && c2 != '\n') ||
					    (eol == 2 && c2 != '\r')) {
						r->error = 1;
						return;
					}
					/* The marker; a first line's "\." CR takes an LF along. */
					if (eol == 0 && c2 == '\r' && i < n && d[i] == '\n')
						i++;
					ended = 1;
					kind = bs > start ? (header_due ? PGCM__SCAN_HEADER : PGCM__SCAN_ROW)
					                  : PGCM__SCAN_END;
					break;
				not_end:
					i = bs + 1;
				} else if (!csv) {
					i++;
				}
			}
			first = 0;
		}
		if (kind == PGCM__SCAN_ROW)
			rows++;
		if (r->n < MAX_EVENTS) {
			r->ev[r->n].kind = kind;
			r->ev[r->n].end = i;
			r->ev[r->n].start = start;
			r->ev[r->n].rows = rows;
			r->ev[r->n].ended = ended;
		}
		r->n++;
		if (kind == PGCM__SCAN_HEADER)
			header_due = 0;
		if (ended) {
			if (i < n)
				r->error = 1;
			return;
		}
	}
}

static int
is_cap_error(const run *r)
{
	return strstr(r->msg, "maximum row size") != NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char quotes[] = { '"', '\'', '\\', '.', ',', '|', (char) 0xe9, '\t' };
	static const char escapes[] = { 0, '\\', '"', '\'', '.', 'x', '\n', 0 };
	static const size_t caps[] = { 0, 1, 2, 3, 5, 8, 16, 40, 100, 1000, 0, 0, 0, 0, 0, 0 };
	pgcm_format fmt;
	pgcm__rowscan s;
	const char *in;
	size_t n, at;
	uint32_t rng;

	if (size < 4)
		return 0;
	pgcm_format_init(&fmt, (pgcm_format_kind) (data[0] % 3));
	fmt.header = (data[0] >> 2) & 1;
	if (fmt.kind == PGCM_FORMAT_CSV) {
		fmt.quote = quotes[(data[0] >> 3) & 7];
		fmt.escape = escapes[data[1] & 7];
		if (fmt.escape == 0 && (data[1] & 8))
			fmt.escape = fmt.quote;
	}
	fmt.max_row = caps[(data[1] >> 4) & 15];
	rng = (uint32_t) data[2] << 8 | data[3];
	in = (const char *) data + 4;
	n = size - 4;

	/* One piece. */
	memset(&one, 0, sizeof one);
	pgcm__rowscan_init(&s, &fmt);
	if (scan_piece(&one, &s, in, n, 0))
		finish_run(&one, &s);

	/* Many pieces, some fed with the partial unit carried over in front. */
	memset(&many, 0, sizeof many);
	pgcm__rowscan_init(&s, &fmt);
	at = 0;
	for (;;) {
		size_t piece, from, len;
		char *buf;
		int ok;

		rng = rng * 1103515245u + 12345u;
		switch ((rng >> 16) & 3) {
		case 0: piece = 1; break;
		case 1: piece = 1 + ((rng >> 18) & 3); break;
		case 2: piece = 1 + ((rng >> 18) & 31); break;
		default: piece = 1 + ((rng >> 18) & 1023); break;
		}
		if (piece > n - at)
			piece = n - at;
		/* Carry-over mode: the buffer starts where the partial unit starts. */
		check(s.offset == at, "offset counts the bytes fed");
		check(s.cur_start <= at, "the partial unit starts before the next piece");
		from = ((rng >> 28) & 1) ? (size_t) s.cur_start : at;
		len = at + piece - from;
		buf = malloc(len ? len : 1);
		check(buf != NULL, "malloc");
		memcpy(buf, in + from, len);
		ok = scan_piece(&many, &s, buf, len, at - from);
		free(buf);
		if (!ok)
			break;
		at += piece;
		if (at >= n) {
			finish_run(&many, &s);
			break;
		}
	}

	/* Both runs agree. */
	check(one.error == many.error, "both runs fail or neither does");
	check(one.n == many.n, "same number of units");
	for (size_t i = 0; i < one.n && i < MAX_EVENTS; i++) {
		check(one.ev[i].kind == many.ev[i].kind, "same unit kinds");
		check(one.ev[i].end == many.ev[i].end, "same unit ends");
		check(one.ev[i].start == many.ev[i].start, "same unit starts");
		check(one.ev[i].rows == many.ev[i].rows, "same row counts");
		check(one.ev[i].ended == many.ev[i].ended, "same end flags");
	}
	/* Text and CSV: the whole-input reference agrees (the cap is never hit by default). */
	if (fmt.kind != PGCM_FORMAT_BINARY && fmt.max_row == 0) {
		reference(&fmt, (const unsigned char *) in, n, &ref);
		check(one.error == ref.error, "the reference agrees on errors");
		check(one.n == ref.n, "the reference agrees on the number of units");
		for (size_t i = 0; i < one.n && i < MAX_EVENTS; i++) {
			check(one.ev[i].kind == ref.ev[i].kind, "the reference agrees on kinds");
			check(one.ev[i].end == ref.ev[i].end, "the reference agrees on ends");
			check(one.ev[i].rows == ref.ev[i].rows, "the reference agrees on rows");
			check(one.ev[i].ended == ref.ev[i].ended, "the reference agrees on the end");
		}
	}
	if (one.error && !is_cap_error(&one) && !is_cap_error(&many) && strcmp(one.msg, many.msg) != 0) {
		fprintf(stderr, "one: %s\nmany: %s\n", one.msg, many.msg);
		check(0, "same error message");
	}
	return 0;
}
