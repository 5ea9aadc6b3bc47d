/*
 * strbuf.h: a growing string for everything the command builds from user
 * input (SQL, messages, masked connection strings), after libpq's
 * PQExpBuffer: appends never truncate; running out of memory marks the
 * buffer broken, later appends do nothing, and the caller checks once at the
 * end.  Uses libc only.
 */
#ifndef PGCM_CLI_STRBUF_H
#define PGCM_CLI_STRBUF_H

#include <stdarg.h>
#include <stddef.h>

typedef struct cli_buf {
	char *data;     /* NUL-terminated once anything was added; NULL before */
	size_t len;
	size_t cap;
	int broken;     /* an allocation failed: the contents are incomplete */
} cli_buf;

/* cli_buf_init: an empty buffer (no allocation yet). */
void cli_buf_init(cli_buf *b);

/* cli_buf_add / cli_buf_addn: append s (n bytes of it); 0 when the buffer is broken. */
int cli_buf_add(cli_buf *b, const char *s);
int cli_buf_addn(cli_buf *b, const char *s, size_t n);

/* cli_buf_addf: append printf-style; 0 when the buffer is broken. */
int cli_buf_addf(cli_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* cli_buf_vaddf: cli_buf_addf with a va_list (ap is used up). */
int cli_buf_vaddf(cli_buf *b, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));

/*
 * cli_buf_take: the contents as a malloc'd string ("" when nothing was
 * added), for the caller to free; NULL when the buffer is broken (out of
 * memory).  The buffer is empty again afterwards, either way.
 */
char *cli_buf_take(cli_buf *b);

/* cli_buf_free: release the contents; the buffer is empty again. */
void cli_buf_free(cli_buf *b);

/* cli_strdup_printf / cli_strdup_vprintf: a malloc'd, formatted string; NULL when out of memory. */
char *cli_strdup_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
char *cli_strdup_vprintf(const char *fmt, va_list ap) __attribute__((format(printf, 1, 0)));

#endif
