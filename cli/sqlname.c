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

/* append_quoted: add sep and PQescapeIdentifier(part) to the growing string. */
static int
append_quoted(PGconn *conn, cli_buf *buf, const char *part, const char *sep)
{
	char *q = PQescapeIdentifier(conn, part, strlen(part));

	if (!q)
		return 0;
	cli_buf_add(buf, sep);
	cli_buf_add(buf, q);
	PQfreemem(q);
	return !buf->broken;
}

/* quote_list: parts separated by sep_char, each quoted, joined by joiner, between open and close. */
static char *
quote_list(PGconn *conn, const char *text, char sep_char, const char *joiner, int max_parts,
           const char *open, const char *close, const char **err)
{
	const char *p = text;
	cli_buf buf;
	int parts = 0;
	char *out;

	*err = NULL;
	cli_buf_init(&buf);
	cli_buf_add(&buf, open);
	for (;;) {
		char *part = next_part(&p, err);
		if (!part)
			goto fail;
		if (++parts > max_parts) {
			*err = "too many dotted parts";
			free(part);
			goto fail;
		}
		if (!append_quoted(conn, &buf, part, parts > 1 ? joiner : "")) {
			*err = buf.broken ? "out of memory" : PQerrorMessage(conn);
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
	cli_buf_add(&buf, close);
	if (!(out = cli_buf_take(&buf)))
		*err = "out of memory";
	return out;
fail:
	cli_buf_free(&buf);
	return NULL;
}

char *
cli_quote_name(PGconn *conn, const char *name, const char **err)
{
	return quote_list(conn, name, '.', ".", 3, "", "", err);
}

char *
cli_quote_columns(PGconn *conn, const char *list, const char **err)
{
	return quote_list(conn, list, ',', ", ", 1600, "(", ")", err);
}
