/*
 * conninfo.c: connection strings parsed, expanded and masked (conninfo.h).
 */
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "conninfo.h"
#include "strbuf.h"

/* Deeper nesting than this is refused: no one writes it, and it bounds the work. */
#define MAX_DEPTH 8

int
cli_conninfo_like(const char *s)
{
	return s && (strncmp(s, "postgresql://", 13) == 0 || strncmp(s, "postgres://", 11) == 0
	             || strchr(s, '=') != NULL);
}

/* set: keyword = value in ci, replacing an earlier value of the same keyword. */
static int
set(cli_conninfo *ci, const char *key, const char *val, int secret)
{
	char *v = strdup(val), *k;
	char **nk, **nv;
	int *ns;

	if (!v)
		return 0;
	for (size_t i = 0; i < ci->n; i++) {
		if (strcmp(ci->keys[i], key) == 0) {
			free(ci->vals[i]);
			ci->vals[i] = v;
			ci->secret[i] |= secret;
			return 1;
		}
	}
	k = strdup(key);
	nk = realloc(ci->keys, (ci->n + 2) * sizeof *nk);
	if (nk)
		ci->keys = nk;
	nv = realloc(ci->vals, (ci->n + 2) * sizeof *nv);
	if (nv)
		ci->vals = nv;
	ns = realloc(ci->secret, (ci->n + 1) * sizeof *ns);
	if (ns)
		ci->secret = ns;
	if (!k || !nk || !nv || !ns) {
		free(k);
		free(v);
		return 0;
	}
	ci->keys[ci->n] = k;
	ci->vals[ci->n] = v;
	ci->secret[ci->n] = secret;
	ci->n++;
	ci->keys[ci->n] = NULL;
	ci->vals[ci->n] = NULL;
	return 1;
}

/*
 * expand: add the settings of s to ci.  A dbname that is itself a connection
 * string or URI is expanded after the others, so that its settings override
 * them, as libpq's own expand_dbname does.  Returns 0 with *err on a
 * malformed string (libpq's message is not kept: it may quote the value).
 */
static int
expand(cli_conninfo *ci, const char *s, int depth, char **err)
{
	PQconninfoOption *opts;
	char *perr = NULL;
	const char *nested = NULL;
	int ok = 1;

	if (depth > MAX_DEPTH) {
		*err = strdup("connection strings nested too deeply in dbname");
		return 0;
	}
	opts = PQconninfoParse(s, &perr);
	if (!opts) {
		/*
		 * NULL without a message: out of memory.  libpq's message is not
		 * passed on: it quotes parts of the string, which may be parts of an
		 * unquoted password ("password=my secret=..." fails at "secret").
		 */
		*err = strdup(perr ? "invalid connection string or URI (check its keywords and quoting)"
		                   : "out of memory");
		PQfreemem(perr);
		return 0;
	}
	for (PQconninfoOption *o = opts; o->keyword && ok; o++) {
		int secret;

		/* An empty value sets nothing (PQconnectdbParams ignores it too). */
		if (!o->val || !*o->val)
			continue;
		if (strcmp(o->keyword, "dbname") == 0 && cli_conninfo_like(o->val)) {
			nested = o->val;
			continue;
		}
		secret = strcmp(o->keyword, "password") == 0 || (o->dispchar && strchr(o->dispchar, '*'));
		ok = set(ci, o->keyword, o->val, secret);
		if (!ok)
			*err = strdup("out of memory");
	}
	if (ok && nested)
		ok = expand(ci, nested, depth + 1, err);
	PQconninfoFree(opts);
	return ok;
}

int
cli_conninfo_parse(const char *conninfo, cli_conninfo *ci, char **err)
{
	memset(ci, 0, sizeof *ci);
	*err = NULL;
	if (conninfo && *conninfo && !cli_conninfo_like(conninfo)) {
		/* A bare word is a database name, as libpq's expand_dbname takes it. */
		if (!set(ci, "dbname", conninfo, 0)) {
			*err = strdup("out of memory");
			return 0;
		}
	} else if (!expand(ci, conninfo ? conninfo : "", 0, err)) {
		return 0;
	}
	if (ci->n == 0) {
		/* Still hand out the NULL-terminated arrays a caller may pass on. */
		ci->keys = calloc(1, sizeof *ci->keys);
		ci->vals = calloc(1, sizeof *ci->vals);
		if (!ci->keys || !ci->vals) {
			*err = strdup("out of memory");
			return 0;
		}
	}
	return 1;
}

void
cli_conninfo_free(cli_conninfo *ci)
{
	for (size_t i = 0; i < ci->n; i++) {
		free(ci->keys[i]);
		free(ci->vals[i]);
	}
	free(ci->keys);
	free(ci->vals);
	free(ci->secret);
	memset(ci, 0, sizeof *ci);
}

/* add_value: a value as a connection string writes it: quoted when it must be. */
static void
add_value(cli_buf *b, const char *val)
{
	int quote = !*val || strpbrk(val, " \t\n\r\f\v'\\") != NULL;

	if (quote)
		cli_buf_add(b, "'");
	for (const char *v = val; *v; v++) {
		if (*v == '\'' || *v == '\\')
			cli_buf_add(b, "\\");
		cli_buf_addn(b, v, 1);
	}
	if (quote)
		cli_buf_add(b, "'");
}

enum secrets_as { SECRETS_SHOWN, SECRETS_MASKED, SECRETS_LEFT_OUT };

/* render: ci as a connection string, its secrets shown, masked or left out. */
static char *
render(const cli_conninfo *ci, enum secrets_as secrets)
{
	cli_buf b;

	cli_buf_init(&b);
	for (size_t i = 0; i < ci->n; i++) {
		if (ci->secret[i] && secrets == SECRETS_LEFT_OUT)
			continue;
		if (b.len)
			cli_buf_add(&b, " ");
		cli_buf_add(&b, ci->keys[i]);
		cli_buf_add(&b, "=");
		if (ci->secret[i] && secrets == SECRETS_MASKED)
			cli_buf_add(&b, "********");
		else
			add_value(&b, ci->vals[i]);
	}
	return cli_buf_take(&b);
}

int
cli_conninfo_set(cli_conninfo *ci, const char *key, const char *val, int secret)
{
	return set(ci, key, val, secret);
}

const char *
cli_conninfo_get(const cli_conninfo *ci, const char *key)
{
	for (size_t i = 0; i < ci->n; i++)
		if (strcmp(ci->keys[i], key) == 0)
			return ci->vals[i];
	return NULL;
}

char *
cli_conninfo_render(const cli_conninfo *ci)
{
	return render(ci, 0);
}

char *
cli_mask_conninfo(const char *conninfo)
{
	cli_conninfo ci;
	char *err = NULL, *out;

	if (!cli_conninfo_parse(conninfo, &ci, &err)) {
		int oom = err && strcmp(err, "out of memory") == 0;
		free(err);
		cli_conninfo_free(&ci);
		return oom ? NULL : strdup("(invalid connection string)");
	}
	out = ci.n ? render(&ci, SECRETS_MASKED) : strdup("(defaults)");
	cli_conninfo_free(&ci);
	return out;
}

/* expand_as: conninfo expanded and written back, its secrets as asked; NULL with *err. */
static char *
expand_as(const char *conninfo, enum secrets_as secrets, char **err)
{
	cli_conninfo ci;
	char *out = NULL;

	if (cli_conninfo_parse(conninfo, &ci, err)) {
		out = render(&ci, secrets);
		if (!out)
			*err = strdup("out of memory");
	}
	cli_conninfo_free(&ci);
	return out;
}

char *
cli_expand_conninfo(const char *conninfo, char **err)
{
	return expand_as(conninfo, SECRETS_SHOWN, err);
}

char *
cli_conninfo_without_secrets(const char *conninfo, char **err)
{
	return expand_as(conninfo, SECRETS_LEFT_OUT, err);
}
