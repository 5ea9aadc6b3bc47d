/*
 * bench_rowscan.c: the row scanner's speed, side by side with the simplest
 * alternative, counting newlines with memchr (what `wc -l` does), which finds
 * no escaped newline, quote or binary length but sets the bar a scanner that
 * does can hope for.
 *
 * For each format it makes about 512 MiB of realistic COPY data in memory
 * (rows of 100-200 bytes: numbers, words, timestamps, NULLs, a few escapes;
 * in CSV some quoted fields with delimiters, doubled quotes and newlines),
 * scans it in 64 KiB pieces the way a file producer does (next() until MORE,
 * the partial row carried over), checks the row count, and prints one line:
 *
 *   rowscan text: N MiB in S s = X MB/s (memchr line count baseline: Y MB/s, ratio Z)
 *
 * MB is 10^6 bytes.  PGCM_BENCH_MIB sets the size (default 512).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "internal.h"

#define PIECE (64 * 1024)

typedef struct gen {
	char *buf;
	size_t len, cap;
	uint64_t rng;
	uint64_t rows;
} gen;

static uint64_t
rnd(gen *g)
{
	/* xorshift64*: fast and good enough for test data */
	g->rng ^= g->rng >> 12;
	g->rng ^= g->rng << 25;
	g->rng ^= g->rng >> 27;
	return g->rng * 2685821657736338717ULL;
}

static void
put(gen *g, const char *s, size_t n)
{
	memcpy(g->buf + g->len, s, n);
	g->len += n;
}

static void
puts_(gen *g, const char *s)
{
	put(g, s, strlen(s));
}

static const char *const words[] = {
	"alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india",
	"juliett", "kilo", "lima", "mike", "november", "oscar", "papa", "quebec", "romeo",
	"sierra", "tango", "uniform", "victor", "whiskey", "xray", "yankee", "zulu",
	"caf\xc3\xa9", "na\xc3\xafve", "\xe2\x82\xac" "100", "stra\xc3\x9f" "e",
};
#define NWORDS (sizeof words / sizeof words[0])

/* A sentence of a few words, with separators chosen by the format (kind -1: spaces only). */
static void
put_words(gen *g, int kind, int nwords)
{
	for (int i = 0; i < nwords; i++) {
		uint64_t r = rnd(g);

		if (i && kind < 0) {
			puts_(g, " ");
		} else if (i) {
			switch (r % 16) {
			case 0:
				/* an escaped tab / newline in text; a comma or a newline (quoted) in CSV */
				puts_(g, kind == PGCM_FORMAT_TEXT ? "\\t" : ", ");
				break;
			case 1:
				puts_(g, kind == PGCM_FORMAT_TEXT ? "\\n" : "\n");
				break;
			case 2:
				puts_(g, kind == PGCM_FORMAT_TEXT ? "\\\\" : "\"\"");
				break;
			default:
				puts_(g, " ");
			}
		}
		puts_(g, words[(r >> 8) % NWORDS]);
	}
}

/* One text or CSV row: id, amount, name, note, created, flag. */
static void
put_line_row(gen *g, int kind)
{
	char num[64];
	char d = kind == PGCM_FORMAT_TEXT ? '\t' : ',';
	uint64_t r = rnd(g);
	int n;

	n = snprintf(num, sizeof num, "%llu%c%lld.%02u%c", (unsigned long long) g->rows + 1, d,
	             (long long) (r % 1000000) - 500000, (unsigned) (r >> 20) % 100, d);
	put(g, num, (size_t) n);
	/* name: plain */
	put_words(g, -1, 2 + (int) (r >> 30) % 2);
	g->buf[g->len++] = d;
	/* note: longer, with escapes (text) or quoted specials (CSV) */
	if ((r >> 40) % 8 == 0) {
		puts_(g, kind == PGCM_FORMAT_TEXT ? "\\N" : "");
	} else {
		if (kind == PGCM_FORMAT_CSV)
			g->buf[g->len++] = '"';
		put_words(g, kind, 8 + (int) ((r >> 44) % 12));
		if (kind == PGCM_FORMAT_CSV)
			g->buf[g->len++] = '"';
	}
	n = snprintf(num, sizeof num, "%c2024-%02u-%02u %02u:%02u:%02u.%06u+00%c%c\n", d,
	             1 + (unsigned) (r >> 8) % 12, 1 + (unsigned) (r >> 12) % 28,
	             (unsigned) (r >> 16) % 24, (unsigned) (r >> 24) % 60, (unsigned) (r >> 32) % 60,
	             (unsigned) (r >> 38) % 1000000, d, (r >> 60) % 2 ? 't' : 'f');
	put(g, num, (size_t) n);
	g->rows++;
}

static void
be(gen *g, uint64_t v, int n)
{
	for (int i = n - 1; i >= 0; i--)
		g->buf[g->len++] = (char) (v >> (8 * i));
}

/* One binary tuple of the same six columns (int8, numeric as text, text, text, timestamptz, bool). */
static void
put_binary_row(gen *g)
{
	uint64_t r = rnd(g);
	size_t at;

	be(g, 6, 2);
	be(g, 8, 4);
	be(g, g->rows + 1, 8);
	be(g, 8, 4);
	be(g, r, 8);
	at = g->len;
	be(g, 0, 4);
	put_words(g, -1, 2 + (int) (r >> 30) % 2);
	g->buf[at] = 0; g->buf[at + 1] = 0;
	g->buf[at + 2] = (char) ((g->len - at - 4) >> 8);
	g->buf[at + 3] = (char) (g->len - at - 4);
	if ((r >> 40) % 8 == 0) {
		be(g, 0xffffffffu, 4);
	} else {
		at = g->len;
		be(g, 0, 4);
		put_words(g, -1, 8 + (int) ((r >> 44) % 12));
		g->buf[at + 2] = (char) ((g->len - at - 4) >> 8);
		g->buf[at + 3] = (char) (g->len - at - 4);
	}
	be(g, 8, 4);
	be(g, r >> 3, 8);
	be(g, 1, 4);
	g->buf[g->len++] = (char) ((r >> 60) & 1);
	g->rows++;
}

static void
generate(gen *g, int kind, size_t size)
{
	g->cap = size + 4096;
	g->buf = malloc(g->cap);
	g->len = 0;
	g->rows = 0;
	g->rng = 0x9e3779b97f4a7c15ULL;
	if (!g->buf) {
		fprintf(stderr, "bench_rowscan: out of memory\n");
		exit(1);
	}
	if (kind == PGCM_FORMAT_BINARY) {
		put(g, "PGCOPY\n\377\r\n\0\0\0\0\0\0\0\0\0", 19);
		while (g->len < size - 1024)
			put_binary_row(g);
		put(g, "\377\377", 2);
	} else {
		if (kind == PGCM_FORMAT_CSV)
			puts_(g, "id,amount,name,note,created,flag\n");
		while (g->len < size - 1024)
			put_line_row(g, kind);
	}
}

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

/*
 * scan: what a file producer does: 64 KiB pieces; after each piece the
 * scanner is called until MORE; rows are counted.  Returns seconds.
 */
static double
scan(const gen *g, const pgcm_format *fmt, uint64_t *rows)
{
	pgcm__rowscan s;
	double t0 = now();

	pgcm__rowscan_init(&s, fmt);
	for (size_t at = 0; at < g->len; at += PIECE) {
		size_t len = g->len - at < PIECE ? g->len - at : PIECE;
		size_t pos = 0;
		pgcm__scan_kind k;

		while ((k = pgcm__rowscan_next(&s, g->buf + at, len, &pos)) != PGCM__SCAN_MORE) {
			if (k == PGCM__SCAN_ERROR) {
				fprintf(stderr, "bench_rowscan: %s\n", s.error);
				exit(1);
			}
		}
	}
	if (pgcm__rowscan_eof(&s) == PGCM__SCAN_ERROR) {
		fprintf(stderr, "bench_rowscan: %s\n", s.error);
		exit(1);
	}
	*rows = s.rows;
	return now() - t0;
}

/* baseline: count newlines with memchr, in the same pieces. */
static double
baseline(const gen *g, uint64_t *lines)
{
	double t0 = now();
	uint64_t n = 0;

	for (size_t at = 0; at < g->len; at += PIECE) {
		size_t len = g->len - at < PIECE ? g->len - at : PIECE;
		const char *p = g->buf + at, *end = p + len;

		while ((p = memchr(p, '\n', (size_t) (end - p))) != NULL) {
			n++;
			p++;
		}
	}
	*lines = n;
	return now() - t0;
}

int
main(void)
{
	static const char *const names[] = { "text", "csv", "binary" };
	const char *env = getenv("PGCM_BENCH_MIB");
	size_t size = (size_t) (env ? atol(env) : 512) << 20;

	for (int kind = PGCM_FORMAT_TEXT; kind <= PGCM_FORMAT_BINARY; kind++) {
		pgcm_format fmt;
		gen g;
		uint64_t rows = 0, lines = 0;
		double ts = 1e9, tb = 1e9, mb;

		generate(&g, kind, size);
		pgcm_format_init(&fmt, (pgcm_format_kind) kind);
		fmt.header = kind == PGCM_FORMAT_CSV;
		/* Best of three, each after a warm-up pass over the same memory. */
		for (int i = 0; i < 3; i++) {
			double t = scan(&g, &fmt, &rows);

			if (t < ts)
				ts = t;
			t = baseline(&g, &lines);
			if (t < tb)
				tb = t;
		}
		if (rows != g.rows) {
			fprintf(stderr, "bench_rowscan: %s: scanned %llu rows, made %llu\n", names[kind],
			        (unsigned long long) rows, (unsigned long long) g.rows);
			return 1;
		}
		mb = (double) g.len / 1e6;
		printf("rowscan %s: %zu MiB in %.3f s = %.0f MB/s (memchr line count baseline: %.0f MB/s, "
		       "ratio %.2f) [%llu rows, %.0f bytes/row]\n",
		       names[kind], g.len >> 20, ts, mb / ts, mb / tb, tb / ts,
		       (unsigned long long) rows, (double) g.len / (double) rows);
		fflush(stdout);
		free(g.buf);
	}
	return 0;
}
