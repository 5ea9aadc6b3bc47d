/*
 * sqlname.c: names given on the command line (tables, columns) read as SQL
 * reads them, then quoted with libpq's own escaping, so that any name works
 * and nothing a user types becomes SQL.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/*
 * next_part: one identifier of a dotted or comma list starting at *p: a
 * quoted one keeps its case and may hold anything ("" is a quote); an
 * unquoted one folds to lower case, as the server does.  Stops at the
 * separator.  Returns a malloc'd string, or NULL with *err.
 */
static char *
next_part(const char **p, const char **err)
{
	const char *s = *p;
	char *out = malloc(strlen(s) + 1);
	size_t n = 0;

	if (!out) {
		*err = "out of memory";
		return NULL;
	}
	while (*s == ' ' || *s == '\t')
		s++;
	if (*s == '"') {
		s++;
		for (;;) {
			if (!*s) {
				*err = "unterminated quoted identifier";
				free(out);
				return NULL;
			}
			if (*s == '"') {
				if (s[1] != '"')
					break;
				s++;
			}
			out[n++] = *s++;
		}
		s++;
	} else {
		while (*s && *s != '.' && *s != ',' && *s != ' ' && *s != '\t') {
			out[n++] = (char) tolower((unsigned char) *s);
			s++;
		}
	}
	while (*s == ' ' || *s == '\t')
		s++;
	out[n] = '\0';
	if (n == 0) {
		*err = "empty identifier";
		free(out);
		return NULL;
	}
	*p = s;
	return out;
}

/* append_quoted: add PQescapeIdentifier(part) to the growing string. */
static int
append_quoted(PGconn *conn, char **buf, size_t *len, const char *part, const char *sep)
{
	char *q = PQescapeIdentifier(conn, part, strlen(part));
	size_t add;
	char *n;

	if (!q)
		return 0;
	add = strlen(sep) + strlen(q);
	n = realloc(*buf, *len + add + 2);
	if (!n) {
		PQfreemem(q);
		return 0;
	}
	*buf = n;
	memcpy(*buf + *len, sep, strlen(sep));
	memcpy(*buf + *len + strlen(sep), q, strlen(q));
	*len += add;
	(*buf)[*len] = '\0';
	PQfreemem(q);
	return 1;
}

/* quote_list: parts separated by sep_char, each quoted, joined by joiner. */
static char *
quote_list(PGconn *conn, const char *text, char sep_char, const char *joiner, int max_parts,
           const char **err)
{
	const char *p = text;
	char *buf = NULL;
	size_t len = 0;
	int parts = 0;

	*err = NULL;
	for (;;) {
		char *part = next_part(&p, err);
		if (!part)
			goto fail;
		if (++parts > max_parts) {
			*err = "too many dotted parts";
			free(part);
			goto fail;
		}
		if (!append_quoted(conn, &buf, &len, part, parts > 1 ? joiner : "")) {
			*err = PQerrorMessage(conn);
			free(part);
			goto fail;
		}
		free(part);
		if (*p == '\0')
			break;
		if (*p != sep_char) {
			*err = "unexpected character";
			goto fail;
		}
		p++;
	}
	return buf;
fail:
	free(buf);
	return NULL;
}

char *
cli_quote_name(PGconn *conn, const char *name, const char **err)
{
	return quote_list(conn, name, '.', ".", 3, err);
}

char *
cli_quote_columns(PGconn *conn, const char *list, const char **err)
{
	char *inner = quote_list(conn, list, ',', ", ", 1600, err);
	char *out;

	if (!inner)
		return NULL;
	out = malloc(strlen(inner) + 3);
	if (out) {
		out[0] = '(';
		strcpy(out + 1, inner);
		strcat(out, ")");
	} else {
		*err = "out of memory";
	}
	free(inner);
	return out;
}
