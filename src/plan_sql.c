/*
 * plan_sql.c: the text the copy plan reads and writes: growing strings,
 * identifiers and literals quoted by libpq, names read as the server reads
 * them, and the fields of a CSV header line.
 */
#include <stdio.h>
#include <string.h>

#include "plan_int.h"

/* reserve: room for n more bytes and a terminator; marks b failed when out of memory. */
static int
reserve(pgcm__buf *b, size_t n)
{
	size_t need, cap;
	char *d;

	if (b->failed)
		return 0;
	need = b->len + n + 1;
	if (need <= b->cap)
		return 1;
	cap = b->cap ? b->cap : 128;
	while (cap < need)
		cap *= 2;
	d = pgcm__realloc(b->data, cap);
	if (!d) {
		b->failed = 1;
		return 0;
	}
	b->data = d;
	b->cap = cap;
	return 1;
}

void
pgcm__buf_addn(pgcm__buf *b, const char *s, size_t n)
{
	if (!reserve(b, n))
		return;
	memcpy(b->data + b->len, s, n);
	b->len += n;
	b->data[b->len] = '\0';
}

void
pgcm__buf_add(pgcm__buf *b, const char *s)
{
	pgcm__buf_addn(b, s, strlen(s));
}

void
pgcm__buf_addf(pgcm__buf *b, const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	s = pgcm__vasprintf(fmt, ap);
	va_end(ap);
	if (!s) {
		b->failed = 1;
		return;
	}
	pgcm__buf_add(b, s);
	pgcm__free(s);
}

/* add_escaped: s escaped by libpq's escape (an identifier or a literal) on conn. */
static void
add_escaped(pgcm__buf *b, char *(*escape)(PGconn *, const char *, size_t), PGconn *conn,
            const char *s)
{
	char *q = escape(conn, s, strlen(s));

	if (!q) {
		b->failed = 1;
		return;
	}
	pgcm__buf_add(b, q);
	PQfreemem(q);
}

void
pgcm__buf_add_ident(pgcm__buf *b, PGconn *conn, const char *name)
{
	add_escaped(b, PQescapeIdentifier, conn, name);
}

void
pgcm__buf_add_literal(pgcm__buf *b, PGconn *conn, const char *value)
{
	add_escaped(b, PQescapeLiteral, conn, value);
}

char *
pgcm__buf_take(pgcm__buf *b)
{
	char *s = b->data;
	int failed = b->failed;

	if (failed || !s) {
		pgcm__buf_reset(b);
		return failed ? NULL : pgcm__strdup("");
	}
	memset(b, 0, sizeof *b);
	return s;
}

void
pgcm__buf_reset(pgcm__buf *b)
{
	pgcm__free(b->data);
	memset(b, 0, sizeof *b);
}

void
pgcm__names_free(pgcm__names *names)
{
	for (size_t i = 0; i < names->n; i++)
		pgcm__free(names->v[i]);
	pgcm__free(names->v);
	names->v = NULL;
	names->n = 0;
}

/* push: append a copy of s[0..n) to names; 0 when out of memory. */
static int
push(pgcm__names *names, const char *s, size_t n)
{
	char **v = pgcm__realloc(names->v, (names->n + 1) * sizeof *v);
	char *copy;

	if (!v)
		return 0;
	names->v = v;
	copy = pgcm__malloc(n + 1);
	if (!copy)
		return 0;
	memcpy(copy, s, n);
	copy[n] = '\0';
	names->v[names->n++] = copy;
	return 1;
}

static int
is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/*
 * pgcm__parse_names: one identifier after another.  A quoted identifier
 * keeps its case and may hold anything; an unquoted one ends at the
 * separator or white space and has its ASCII letters folded to lower case
 * (the server folds only ASCII in a multibyte encoding, so "Été" stays
 * "Été" apart from its "t").  The name is not truncated: the plan checks
 * lengths itself, because the server would truncate silently.
 */
const char *
pgcm__parse_names(const char *text, char sep, size_t max, pgcm__names *out)
{
	const char *s = text;
	pgcm__buf part = {0};

	memset(out, 0, sizeof *out);
	for (;;) {
		while (is_space(*s))
			s++;
		if (*s == '"') {
			s++;
			for (;;) {
				if (!*s) {
					pgcm__buf_reset(&part);
					pgcm__names_free(out);
					return "unterminated quoted identifier";
				}
				if (*s == '"') {
					if (s[1] != '"')
						break;
					s++;
				}
				pgcm__buf_addn(&part, s++, 1);
			}
			s++;
			if (part.len == 0 && !part.failed) {
				pgcm__names_free(out);
				return "zero-length quoted identifier";
			}
		} else {
			while (*s && *s != sep && *s != '"' && !is_space(*s)) {
				char c = *s++;
				if (c >= 'A' && c <= 'Z')
					c = (char) (c - 'A' + 'a');
				pgcm__buf_addn(&part, &c, 1);
			}
			if (part.len == 0 && !part.failed) {
				pgcm__names_free(out);
				return "empty identifier";
			}
		}
		if (part.failed || !push(out, part.data, part.len)) {
			pgcm__buf_reset(&part);
			pgcm__names_free(out);
			return "out of memory";
		}
		pgcm__buf_reset(&part);
		if (out->n > max) {
			pgcm__names_free(out);
			return sep == '.' ? "too many dotted parts" : "too many names";
		}
		while (is_space(*s))
			s++;
		if (*s == '\0')
			return NULL;
		if (*s != sep) {
			pgcm__names_free(out);
			return "unexpected character after a name";
		}
		s++;
	}
}

/*
 * pgcm__csv_fields: split a header line as COPY's CSV reader does: a field
 * is quoted when it starts with the quote character; inside, the escape
 * character escapes a quote (or itself), and a doubled quote is a quote.
 * Text format has no quotes: fields are split at the delimiter only.
 */
const char *
pgcm__csv_fields(const char *line, size_t len, const pgcm_format *fmt, pgcm__names *out)
{
	int csv = fmt->kind == PGCM_FORMAT_CSV;
	size_t i = 0;
	pgcm__buf field = {0};

	memset(out, 0, sizeof *out);
	while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
		len--;
	for (;;) {
		if (csv && i < len && line[i] == fmt->quote) {
			i++;
			for (;;) {
				if (i >= len) {
					pgcm__buf_reset(&field);
					pgcm__names_free(out);
					return "unterminated quoted field in the header line";
				}
				if (line[i] == fmt->escape && i + 1 < len
				    && (line[i + 1] == fmt->quote || line[i + 1] == fmt->escape)
				    && !(fmt->escape == fmt->quote && line[i + 1] != fmt->quote)) {
					pgcm__buf_addn(&field, &line[i + 1], 1);
					i += 2;
					continue;
				}
				if (line[i] == fmt->quote) {
					i++;
					break;
				}
				pgcm__buf_addn(&field, &line[i++], 1);
			}
		}
		while (i < len && line[i] != fmt->delimiter)
			pgcm__buf_addn(&field, &line[i++], 1);
		if (field.failed || !push(out, field.data ? field.data : "", field.len)) {
			pgcm__buf_reset(&field);
			pgcm__names_free(out);
			return "out of memory";
		}
		pgcm__buf_reset(&field);
		if (i >= len)
			return NULL;
		i++;  /* the delimiter */
	}
}
