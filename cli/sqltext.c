/*
 * sqltext.c: a --query as people type it, made fit to be wrapped in
 * COPY (...) TO STDOUT: the ';' psql wants and the comments after it are
 * taken off, so that "SELECT ...;" works as it does in psql.  Only what
 * follows the statement's last token goes: a ';' or "--" inside a string
 * literal, a quoted identifier, a dollar-quoted string or a comment is
 * text, never an end.  A second statement is refused: COPY takes one.
 *
 * Strings are read as a server with standard_conforming_strings on (the
 * default since PostgreSQL 9.1) reads them: a backslash escapes only in
 * E'...' strings.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* ident_char: a character that may continue an identifier (or a parameter: $1). */
static int
ident_char(unsigned char c)
{
	return isalnum(c) || c == '_' || c == '$' || c >= 0x80;
}

/*
 * dollar_tag_len: the length of the dollar-quote opener "$tag$" at s, or 0
 * when s does not start one.  A tag is an identifier without '$'; it cannot
 * start with a digit ($1 is a parameter).
 */
static size_t
dollar_tag_len(const char *s)
{
	size_t n = 1;

	if (s[0] != '$')
		return 0;
	if (isdigit((unsigned char) s[1]))
		return 0;
	while (s[n] && s[n] != '$' && (isalnum((unsigned char) s[n]) || s[n] == '_'
	                               || (unsigned char) s[n] >= 0x80))
		n++;
	return s[n] == '$' ? n + 1 : 0;
}

/*
 * skip_quoted: from the opening quote at q[i], past the closing one.
 * backslash: backslash escapes the next character (E'...').  Returns the
 * index after the closing quote, or 0 when it never closes.
 */
static size_t
skip_quoted(const char *q, size_t i, char quote, int backslash)
{
	for (i++; q[i]; i++) {
		if (backslash && q[i] == '\\' && q[i + 1]) {
			i++;
			continue;
		}
		if (q[i] == quote) {
			if (q[i + 1] != quote)
				return i + 1;
			i++;   /* a doubled quote is one character of the text */
		}
	}
	return 0;
}

/* skip_block_comment: past the comment opened at q[i] ("/ *"; they nest), or 0 when it never closes. */
static size_t
skip_block_comment(const char *q, size_t i)
{
	int depth = 0;

	while (q[i]) {
		if (q[i] == '/' && q[i + 1] == '*') {
			depth++;
			i += 2;
		} else if (q[i] == '*' && q[i + 1] == '/') {
			i += 2;
			if (--depth == 0)
				return i;
		} else {
			i++;
		}
	}
	return 0;
}

char *
cli_query_strip(const char *query, const char **err)
{
	size_t i = 0, end = 0, after_semicolon = 0;
	int open_to_end = 0;   /* a quote or comment never closes: leave the text to the server */
	char *out;

	*err = NULL;
	while (query[i]) {
		unsigned char c = (unsigned char) query[i];
		size_t next = 0, tag;

		if (isspace(c)) {
			i++;
			continue;
		}
		if (c == '-' && query[i + 1] == '-') {
			while (query[i] && query[i] != '\n')
				i++;
			continue;
		}
		if (c == '/' && query[i + 1] == '*') {
			if (!(next = skip_block_comment(query, i))) {
				open_to_end = 1;
				break;
			}
			i = next;
			continue;
		}
		if (c == ';') {
			after_semicolon = 1;
			i++;
			continue;
		}
		/* Anything else is part of a statement: a second one after a ';' is refused. */
		if (after_semicolon) {
			*err = "--query takes one statement, but there is more SQL after a ';'";
			return NULL;
		}
		if (c == '\'' || c == '"') {
			int e_string = c == '\'' && i > 0 && (query[i - 1] == 'E' || query[i - 1] == 'e')
			               && (i == 1 || !ident_char((unsigned char) query[i - 2]));
			next = skip_quoted(query, i, (char) c, e_string);
		} else if (c == '$' && (i == 0 || !ident_char((unsigned char) query[i - 1]))
		           && (tag = dollar_tag_len(query + i)) > 0) {
			const char *close = NULL;

			/* The body ends at the same tag. */
			for (const char *s = query + i + tag; *s; s++)
				if (strncmp(s, query + i, tag) == 0) {
					close = s;
					break;
				}
			next = close ? (size_t) (close - query) + tag : 0;
		} else {
			i++;   /* at least one character: c starts no quote and no comment */
			while (query[i] && !isspace((unsigned char) query[i]) && query[i] != ';'
			       && query[i] != '\'' && query[i] != '"' && !(query[i] == '-' && query[i + 1] == '-')
			       && !(query[i] == '/' && query[i + 1] == '*')
			       && !(query[i] == '$' && i > 0 && !ident_char((unsigned char) query[i - 1])
			            && dollar_tag_len(query + i)))
				i++;
			end = i;
			continue;
		}
		if (!next) {
			open_to_end = 1;
			break;
		}
		i = end = next;
	}
	if (open_to_end)
		end = strlen(query);
	if (end == 0) {
		*err = "--query is empty";
		return NULL;
	}
	out = malloc(end + 1);
	if (!out) {
		*err = "out of memory";
		return NULL;
	}
	memcpy(out, query, end);
	out[end] = '\0';
	return out;
}
