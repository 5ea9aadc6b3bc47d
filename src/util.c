/*
 * util.c: allocation with a failure hook for tests, formatted messages, and
 * the monotonic clock.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "internal.h"

/*
 * The allocation failure hook is a test control: thread-local so that the
 * library itself keeps no shared mutable state.  -1 means never fail.
 */
static _Thread_local long alloc_budget = -1;

void
pgcm__alloc_fail_after(long n)
{
	alloc_budget = n;
}

/* alloc_allowed: consume one unit of the test budget; 0 when the allocation must fail. */
static int
alloc_allowed(void)
{
	if (alloc_budget < 0)
		return 1;
	if (alloc_budget == 0)
		return 0;
	alloc_budget--;
	return 1;
}

void *
pgcm__malloc(size_t n)
{
	return alloc_allowed() ? malloc(n ? n : 1) : NULL;
}

void *
pgcm__calloc(size_t n, size_t size)
{
	return alloc_allowed() ? calloc(n ? n : 1, size ? size : 1) : NULL;
}

void *
pgcm__realloc(void *p, size_t n)
{
	return alloc_allowed() ? realloc(p, n ? n : 1) : NULL;
}

char *
pgcm__strdup(const char *s)
{
	size_t n = strlen(s) + 1;
	char *d = pgcm__malloc(n);

	if (d)
		memcpy(d, s, n);
	return d;
}

void
pgcm__free(void *p)
{
	free(p);
}

char *
pgcm__vasprintf(const char *fmt, va_list ap)
{
	va_list ap2;
	int n;
	char *s;

	va_copy(ap2, ap);
	n = vsnprintf(NULL, 0, fmt, ap2);
	va_end(ap2);
	if (n < 0)
		return NULL;
	s = pgcm__malloc((size_t) n + 1);
	if (s)
		vsnprintf(s, (size_t) n + 1, fmt, ap);
	return s;
}

char *
pgcm__asprintf(const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	s = pgcm__vasprintf(fmt, ap);
	va_end(ap);
	return s;
}

void
pgcm__set_msgv(char **slot, const char *fmt, va_list ap)
{
	char *s = pgcm__vasprintf(fmt, ap);

	if (s) {
		pgcm__free(*slot);
		*slot = s;
	}
}

void
pgcm__set_msg(char **slot, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	pgcm__set_msgv(slot, fmt, ap);
	va_end(ap);
}

/*
 * pgcm__pq_message: libpq's messages end in a newline (sometimes several
 * lines); ours are single clauses, so strip trailing white space.
 */
char *
pgcm__pq_message(const char *msg)
{
	char *s;
	size_t n;

	if (!msg || !*msg)
		msg = "unknown error";
	s = pgcm__strdup(msg);
	if (!s)
		return NULL;
	n = strlen(s);
	while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == ' ' || s[n - 1] == '\r'))
		s[--n] = '\0';
	return s;
}

int64_t
pgcm__now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void
pgcm_format_init(pgcm_format *fmt, pgcm_format_kind kind)
{
	memset(fmt, 0, sizeof *fmt);
	fmt->kind = kind;
	fmt->delimiter = kind == PGCM_FORMAT_CSV ? ',' : '\t';
	fmt->quote = '"';
	fmt->escape = '"';
	fmt->max_row = (size_t) 1 << 30;
}
