/*
 * strbuf.c: the growing string of strbuf.h.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "strbuf.h"

void
cli_buf_init(cli_buf *b)
{
	b->data = NULL;
	b->len = b->cap = 0;
	b->broken = 0;
}

/* reserve: room for add more bytes and the NUL; doubles, so appends are amortised O(1). */
static int
reserve(cli_buf *b, size_t add)
{
	size_t need, ncap;
	char *p;

	if (b->broken)
		return 0;
	if (add > (size_t) -1 - b->len - 1) {
		b->broken = 1;
		return 0;
	}
	need = b->len + add + 1;
	if (need <= b->cap)
		return 1;
	ncap = b->cap ? b->cap : 64;
	while (ncap < need)
		ncap = ncap > (size_t) -1 / 2 ? need : ncap * 2;
	p = realloc(b->data, ncap);
	if (!p) {
		b->broken = 1;
		return 0;
	}
	b->data = p;
	b->cap = ncap;
	return 1;
}

int
cli_buf_addn(cli_buf *b, const char *s, size_t n)
{
	if (!reserve(b, n))
		return 0;
	memcpy(b->data + b->len, s, n);
	b->len += n;
	b->data[b->len] = '\0';
	return 1;
}

int
cli_buf_add(cli_buf *b, const char *s)
{
	return cli_buf_addn(b, s, strlen(s));
}

int
cli_buf_vaddf(cli_buf *b, const char *fmt, va_list ap)
{
	va_list again;
	int n;

	if (b->broken)
		return 0;
	va_copy(again, ap);
	n = vsnprintf(NULL, 0, fmt, ap);
	if (n < 0 || !reserve(b, (size_t) n)) {
		va_end(again);
		b->broken = 1;
		return 0;
	}
	vsnprintf(b->data + b->len, (size_t) n + 1, fmt, again);
	va_end(again);
	b->len += (size_t) n;
	return 1;
}

int
cli_buf_addf(cli_buf *b, const char *fmt, ...)
{
	va_list ap;
	int ok;

	va_start(ap, fmt);
	ok = cli_buf_vaddf(b, fmt, ap);
	va_end(ap);
	return ok;
}

char *
cli_buf_take(cli_buf *b)
{
	char *s = b->data;

	if (b->broken) {
		free(s);
		s = NULL;
	} else if (!s) {
		s = calloc(1, 1);
	}
	cli_buf_init(b);
	return s;
}

void
cli_buf_free(cli_buf *b)
{
	free(b->data);
	cli_buf_init(b);
}

char *
cli_strdup_vprintf(const char *fmt, va_list ap)
{
	cli_buf b;
	va_list again;
	int n;

	cli_buf_init(&b);
	va_copy(again, ap);
	n = vsnprintf(NULL, 0, fmt, ap);
	if (n < 0 || !reserve(&b, (size_t) n)) {
		va_end(again);
		cli_buf_free(&b);
		return NULL;
	}
	vsnprintf(b.data, (size_t) n + 1, fmt, again);
	va_end(again);
	return b.data;
}

char *
cli_strdup_printf(const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	s = cli_strdup_vprintf(fmt, ap);
	va_end(ap);
	return s;
}
