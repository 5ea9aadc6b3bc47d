/*
 * tablesel.c: the table selection of tablesel.h: patterns translated to
 * regular expressions as psql and pg_dump translate them, then matched on
 * the source's catalog, one query per pattern (so that a strict name that
 * matches nothing can be named), and one query for the selection itself.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "strbuf.h"
#include "tablesel.h"

/* Outside quotes, these make a pattern more than a name (psql passes them on to the regex). */
#define WILDCARDS "*?|+()[]{}^\\"
/* Inside quotes they are escaped: every character a POSIX regular expression gives a meaning. */
#define REGEX_SPECIALS "|*+?()[]{}.^$\\"

/* set_err: *err = a formatted message (malloc'd; NULL when out of memory), replacing any earlier one. */
static void set_err(char **err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void
set_err(char **err, const char *fmt, ...)
{
	va_list ap;

	free(*err);
	va_start(ap, fmt);
	*err = cli_strdup_vprintf(fmt, ap);
	va_end(ap);
}

/*
 * translate: split text at unquoted dots into at most 3 parts, each as an
 * anchored regular expression (re[i]) and as a plain name (name[i]: quotes
 * removed, unquoted ASCII folded, for a database part).  Returns the number
 * of parts, or 0 with *err for an unterminated quote or out of memory.
 * Byte by byte: in UTF-8, the only encoding patterns are read in, no byte of
 * a multi-byte character is an ASCII character.
 */
static int
translate(const char *text, cli_buf re[3], cli_buf name[3], int *literal, char **err)
{
	int part = 0, quoted = 0;

	*literal = 1;
	for (int i = 0; i < 3; i++) {
		cli_buf_init(&re[i]);
		cli_buf_init(&name[i]);
	}
	cli_buf_add(&re[0], "^(");
	cli_buf_add(&name[0], "");
	for (const char *p = text; *p; p++) {
		char c = *p;
		if (c == '"') {
			if (quoted && p[1] == '"') {
				cli_buf_add(&re[part], "\"");
				cli_buf_add(&name[part], "\"");
				p++;
			} else {
				quoted = !quoted;
			}
			continue;
		}
		if (!quoted && c >= 'A' && c <= 'Z')
			c = (char) (c - 'A' + 'a');   /* only ASCII folds, as in psql */
		if (!quoted && c == '.') {
			cli_buf_add(&re[part], ")$");
			if (++part == 3)
				return 4;   /* too many parts: the caller says so */
			cli_buf_add(&re[part], "^(");
			cli_buf_add(&name[part], "");
			continue;
		}
		cli_buf_addn(&name[part], &c, 1);
		if (quoted) {
			if (strchr(REGEX_SPECIALS, c))
				cli_buf_add(&re[part], "\\");
			cli_buf_addn(&re[part], &c, 1);
		} else if (c == '*') {
			cli_buf_add(&re[part], ".*");
			*literal = 0;
		} else if (c == '?') {
			cli_buf_add(&re[part], ".");
			*literal = 0;
		} else if (c == '$') {
			cli_buf_add(&re[part], "\\$");   /* legal in names; the anchors make its regex meaning useless */
		} else if (c == '[' && p[1] == ']') {
			cli_buf_add(&re[part], "\\[]");   /* "[]" is an array type's name, never a bracket expression */
			cli_buf_add(&name[part], "]");
			p++;
		} else {
			if (strchr(WILDCARDS, c))
				*literal = 0;
			cli_buf_addn(&re[part], &c, 1);
		}
	}
	cli_buf_add(&re[part], ")$");
	if (quoted) {
		set_err(err, "unterminated quoted name in pattern \"%s\"", text);
		return 0;
	}
	for (int i = 0; i <= part; i++)
		if (re[i].broken || name[i].broken) {
			set_err(err, "out of memory");
			return 0;
		}
	return part + 1;
}

void
tablesel_pattern_clear(tablesel_pattern *p)
{
	free(p->text);
	free(p->database);
	free(p->schema_re);
	free(p->name_re);
	memset(p, 0, sizeof *p);
}

int
tablesel_pattern_parse(enum tablesel_kind kind, const char *text, tablesel_pattern *out, char **err)
{
	int schema_kind = kind == TABLESEL_SCHEMA || kind == TABLESEL_EXCLUDE_SCHEMA;
	int max = schema_kind ? 2 : 3, n, first;
	cli_buf re[3], name[3];

	*err = NULL;
	memset(out, 0, sizeof *out);
	out->kind = kind;
	n = translate(text, re, name, &out->literal, err);
	if (n > max) {
		set_err(err, "improper qualified name (too many dotted names): %s", text);
		n = 0;
	}
	if (n > 0) {
		/* The last part is the name; the one before, the schema (of a table); the one before, the database. */
		first = n == max ? 1 : 0;
		out->text = strdup(text);
		out->name_re = cli_buf_take(&re[n - 1]);
		if (!schema_kind && n >= 2)
			out->schema_re = cli_buf_take(&re[n - 2]);
		if (first)
			out->database = cli_buf_take(&name[0]);
		if (!out->text || !out->name_re || (!schema_kind && n >= 2 && !out->schema_re)
		    || (first && !out->database)) {
			set_err(err, "out of memory");
			n = 0;
		}
	}
	for (int i = 0; i < 3; i++) {
		cli_buf_free(&re[i]);
		cli_buf_free(&name[i]);
	}
	if (n == 0)
		tablesel_pattern_clear(out);
	return n > 0;
}

void
tablesel_init(tablesel *s)
{
	memset(s, 0, sizeof *s);
}

/* clear_results: forget the tables and warnings of an earlier resolve. */
static void
clear_results(tablesel *s)
{
	for (size_t i = 0; i < s->ntables; i++) {
		free(s->tables[i].schema);
		free(s->tables[i].name);
		free(s->tables[i].qualified);
	}
	free(s->tables);
	for (size_t i = 0; i < s->nwarnings; i++)
		free(s->warnings[i]);
	free(s->warnings);
	s->tables = NULL;
	s->warnings = NULL;
	s->ntables = s->nwarnings = 0;
}

void
tablesel_free(tablesel *s)
{
	clear_results(s);
	for (size_t i = 0; i < s->npatterns; i++)
		tablesel_pattern_clear(&s->patterns[i]);
	free(s->patterns);
	tablesel_init(s);
}

int
tablesel_add(tablesel *s, enum tablesel_kind kind, const char *text, char **err)
{
	tablesel_pattern *grown = realloc(s->patterns, (s->npatterns + 1) * sizeof *grown);

	*err = NULL;
	if (!grown) {
		set_err(err, "out of memory");
		return 0;
	}
	s->patterns = grown;
	if (!tablesel_pattern_parse(kind, text, &s->patterns[s->npatterns], err))
		return 0;
	s->npatterns++;
	return 1;
}

size_t
tablesel_units(const tablesel *s)
{
	size_t n = 0;

	for (size_t i = 0; i < s->ntables; i++)
		n += s->tables[i].covered_by < 0;
	return n;
}

/* The sets a resolve collects, as array literals for the final query ("{1,2}"). */
typedef struct oid_sets {
	cli_buf tables, schemas, exclude_tables, exclude_schemas;
	int have_tables, have_schemas;
} oid_sets;

/* add_oid: append oid to the array literal b. */
static void
add_oid(cli_buf *b, const char *oid)
{
	cli_buf_add(b, b->len ? "," : "{");
	cli_buf_add(b, oid);
}

/* close_set: the array literal of b ("{}" when empty); NULL when out of memory. */
static const char *
close_set(cli_buf *b)
{
	cli_buf_add(b, b->len ? "}" : "{}");
	return b->broken ? NULL : b->data;
}

/* query: run sql with params; the result, or NULL with *err naming what. */
static PGresult *
query(PGconn *conn, const char *sql, int n, const char *const *params, const char *what, char **err)
{
	PGresult *res = PQexecParams(conn, sql, n, NULL, params, NULL, NULL, 0);
	const char *msg;

	if (PQresultStatus(res) == PGRES_TUPLES_OK)
		return res;
	msg = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
	set_err(err, "%s: %s", what, msg ? msg : PQerrorMessage(conn));
	PQclear(res);
	return NULL;
}

/* Relations a table pattern matches, of the kinds pg_dump's -t matches, with what makes one unusable. */
static const char relations_sql[] =
	"SELECT c.oid, pg_catalog.quote_ident(n.nspname) OPERATOR(pg_catalog.||) '.' "
	"OPERATOR(pg_catalog.||) pg_catalog.quote_ident(c.relname), c.relkind, "
	"c.relpersistence OPERATOR(pg_catalog.=) 't', "
	"n.nspname OPERATOR(pg_catalog.~) '^pg_' OR n.nspname OPERATOR(pg_catalog.=) 'information_schema', "
	"(SELECT e.extname FROM pg_catalog.pg_depend d JOIN pg_catalog.pg_extension e "
	" ON e.oid OPERATOR(pg_catalog.=) d.refobjid "
	" WHERE d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_class'::pg_catalog.regclass "
	" AND d.objid OPERATOR(pg_catalog.=) c.oid AND d.deptype OPERATOR(pg_catalog.=) 'e' "
	" AND d.refclassid OPERATOR(pg_catalog.=) 'pg_catalog.pg_extension'::pg_catalog.regclass LIMIT 1), "
	"n.nspname "
	"FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace "
	"WHERE c.relkind OPERATOR(pg_catalog.=) ANY (ARRAY['r', 'p', 'v', 'm', 'f', 'S']::pg_catalog.\"char\"[]) "
	"AND c.relname OPERATOR(pg_catalog.~) $1::pg_catalog.text COLLATE pg_catalog.default "
	"AND CASE WHEN $2::pg_catalog.text IS NULL THEN pg_catalog.pg_table_is_visible(c.oid) "
	"ELSE n.nspname OPERATOR(pg_catalog.~) $2::pg_catalog.text COLLATE pg_catalog.default END "
	"ORDER BY 2";

/* Columns of relations_sql. */
enum { R_OID, R_QNAME, R_KIND, R_TEMP, R_SYSTEM, R_EXTENSION, R_SCHEMA };

/* kind_name: a relkind in words. */
static const char *
kind_name(char k)
{
	switch (k) {
	case 'v': return "a view, not a table: it holds no rows of its own";
	case 'm': return "a materialized view, not a table: refresh it on the targets";
	case 'f': return "a foreign table: its rows are on another server";
	case 'S': return "a sequence, not a table";
	default: return "not a table";
	}
}

/*
 * unusable: why row r of relations_sql is not selected (a static string,
 * or the extension's name into *ext), NULL when it is a table to select.
 */
static const char *
unusable(const PGresult *res, int r, const char **ext)
{
	char k = PQgetvalue(res, r, R_KIND)[0];

	*ext = NULL;
	if (PQgetvalue(res, r, R_TEMP)[0] == 't')
		return "a temporary table (its rows are its session's own)";
	if (PQgetvalue(res, r, R_SYSTEM)[0] == 't')
		return "in a system schema (its rows are the server's own)";
	if (k != 'r' && k != 'p')
		return kind_name(k);
	if (!PQgetisnull(res, r, R_EXTENSION)) {
		*ext = PQgetvalue(res, r, R_EXTENSION);
		return "part of an extension";
	}
	return NULL;
}

/* warn: remember a warning (formatted); 0 when out of memory. */
static int
warn(tablesel *s, const char *what, const char *text)
{
	char **grown = realloc(s->warnings, (s->nwarnings + 1) * sizeof *grown);

	if (!grown)
		return 0;
	s->warnings = grown;
	if (!(s->warnings[s->nwarnings] = cli_strdup_printf("%s \"%s\" matched nothing", what, text)))
		return 0;
	s->nwarnings++;
	return 1;
}

/*
 * match_tables: one -t or -T pattern's relations: the tables to select (or
 * every relation, to exclude) go into set.  A strict -t that selects
 * nothing is an error saying why.
 */
static int
match_tables(tablesel *s, const tablesel_pattern *p, PGconn *conn, cli_buf *set, char **err)
{
	const char *params[2] = {p->name_re, p->schema_re};
	const char *why = NULL, *ext, *first = NULL;
	int exclude = p->kind == TABLESEL_EXCLUDE_TABLE, found = 0;
	PGresult *res = query(conn, relations_sql, 2, params, "matching a table pattern", err);

	if (!res)
		return 0;
	for (int r = 0; r < PQntuples(res); r++) {
		const char *reason = unusable(res, r, &ext);
		if (exclude || !reason) {
			add_oid(set, PQgetvalue(res, r, R_OID));
			found = 1;
		} else if (!why) {
			why = reason;
			first = PQgetvalue(res, r, R_QNAME);
		}
	}
	if (!found && !exclude && p->literal) {
		if (why)
			set_err(err, "-t \"%s\" names %s, which is %s%s%s", p->text, first, why,
			        ext ? ": " : "", ext ? ext : "");
		else
			set_err(err, "no table matches -t \"%s\"%s", p->text,
			        p->schema_re ? "" : " in the search_path (give its schema: -t SCHEMA.TABLE)");
	} else if (!found && !exclude && !warn(s, "-t", p->text)) {
		set_err(err, "out of memory");
	}
	PQclear(res);
	return *err == NULL;
}

/* match_schemas: one -n or -N pattern's schemas into set; a strict -n that matches none is an error. */
static int
match_schemas(tablesel *s, const tablesel_pattern *p, PGconn *conn, cli_buf *set, char **err)
{
	static const char sql[] =
		"SELECT n.oid, n.nspname OPERATOR(pg_catalog.~) '^pg_' "
		"OR n.nspname OPERATOR(pg_catalog.=) 'information_schema', n.nspname "
		"FROM pg_catalog.pg_namespace n "
		"WHERE n.nspname OPERATOR(pg_catalog.~) $1::pg_catalog.text COLLATE pg_catalog.default ORDER BY 3";
	const char *params[1] = {p->name_re}, *system = NULL;
	int exclude = p->kind == TABLESEL_EXCLUDE_SCHEMA, found = 0;
	PGresult *res = query(conn, sql, 1, params, "matching a schema pattern", err);

	if (!res)
		return 0;
	for (int r = 0; r < PQntuples(res); r++) {
		if (!exclude && PQgetvalue(res, r, 1)[0] == 't') {
			system = system ? system : PQgetvalue(res, r, 2);
			continue;
		}
		add_oid(set, PQgetvalue(res, r, 0));
		found = 1;
	}
	if (!found && !exclude && p->literal) {
		if (system)
			set_err(err, "-n \"%s\" names %s, a system schema (its rows are the server's own)", p->text,
			        system);
		else
			set_err(err, "no schema matches -n \"%s\"", p->text);
	} else if (!found && !exclude && !warn(s, "-n", p->text)) {
		set_err(err, "out of memory");
	}
	PQclear(res);
	return *err == NULL;
}

/* check_database: a pattern's database part must name the database connected to (as in pg_dump). */
static int
check_database(const tablesel_pattern *p, PGconn *conn, char **err)
{
	const char *db = PQdb(conn);

	if (!p->database || (db && strcmp(db, p->database) == 0))
		return 1;
	set_err(err, "cross-database references are not implemented: \"%s\" names database \"%s\", "
	        "the source is \"%s\"", p->text, p->database, db ? db : "");
	return 0;
}

/* The selection, sorted bytewise, with each partition's ancestors (nearest first). */
static const char select_sql[] =
	"SELECT c.oid, n.nspname, c.relname, pg_catalog.quote_ident(n.nspname) OPERATOR(pg_catalog.||) '.' "
	"OPERATOR(pg_catalog.||) pg_catalog.quote_ident(c.relname), c.relkind, "
	"CASE WHEN %s THEN ARRAY(WITH RECURSIVE a(o, d) AS ("
	"  SELECT i.inhparent, 1 FROM pg_catalog.pg_inherits i WHERE i.inhrelid OPERATOR(pg_catalog.=) c.oid "
	"  UNION ALL SELECT i.inhparent, a.d OPERATOR(pg_catalog.+) 1 FROM pg_catalog.pg_inherits i "
	"  JOIN a ON i.inhrelid OPERATOR(pg_catalog.=) a.o) SELECT o FROM a ORDER BY d) "
	"ELSE '{}'::pg_catalog.oid[] END "
	"FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace "
	"WHERE c.relkind OPERATOR(pg_catalog.=) ANY (ARRAY['r', 'p']::pg_catalog.\"char\"[]) "
	"AND c.relpersistence OPERATOR(pg_catalog.<>) 't' "
	"AND n.nspname OPERATOR(pg_catalog.!~) '^pg_' AND n.nspname OPERATOR(pg_catalog.<>) 'information_schema' "
	"AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d "
	" WHERE d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_class'::pg_catalog.regclass "
	" AND d.objid OPERATOR(pg_catalog.=) c.oid AND d.deptype OPERATOR(pg_catalog.=) 'e') "
	"AND CASE $5::pg_catalog.text WHEN 't' THEN c.oid OPERATOR(pg_catalog.=) ANY ($1::pg_catalog.oid[]) "
	" WHEN 'n' THEN n.oid OPERATOR(pg_catalog.=) ANY ($2::pg_catalog.oid[]) ELSE true END "
	"AND ($5::pg_catalog.text OPERATOR(pg_catalog.=) 't' "
	" OR NOT n.oid OPERATOR(pg_catalog.=) ANY ($3::pg_catalog.oid[])) "
	"AND NOT c.oid OPERATOR(pg_catalog.=) ANY ($4::pg_catalog.oid[]) "
	"ORDER BY n.nspname COLLATE \"C\", c.relname COLLATE \"C\"";

/* An excluded partition (by -T, or by -N outside -t mode) of a selected partitioned table. */
static const char excluded_partition_sql[] =
	"WITH RECURSIVE tree(top, rel) AS ("
	" SELECT t, t FROM pg_catalog.unnest($1::pg_catalog.oid[]) AS t "
	" UNION ALL SELECT tree.top, i.inhrelid FROM tree JOIN pg_catalog.pg_inherits i "
	" ON i.inhparent OPERATOR(pg_catalog.=) tree.rel) "
	"SELECT pg_catalog.quote_ident(tn.nspname) OPERATOR(pg_catalog.||) '.' OPERATOR(pg_catalog.||) "
	"pg_catalog.quote_ident(tc.relname), pg_catalog.quote_ident(n.nspname) OPERATOR(pg_catalog.||) '.' "
	"OPERATOR(pg_catalog.||) pg_catalog.quote_ident(c.relname) "
	"FROM tree JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) tree.rel "
	"JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace "
	"JOIN pg_catalog.pg_class tc ON tc.oid OPERATOR(pg_catalog.=) tree.top "
	"JOIN pg_catalog.pg_namespace tn ON tn.oid OPERATOR(pg_catalog.=) tc.relnamespace "
	"WHERE tree.rel OPERATOR(pg_catalog.<>) tree.top AND (tree.rel OPERATOR(pg_catalog.=) ANY "
	"($2::pg_catalog.oid[]) OR c.relnamespace OPERATOR(pg_catalog.=) ANY ($3::pg_catalog.oid[])) "
	"ORDER BY 1, 2 LIMIT 1";

/*
 * fold_partitions: a selected partition whose partitioned ancestor is
 * selected too is covered by the farthest such ancestor.  Column 5 of row r
 * is its ancestors, "{oid,...}", nearest first; column 0 its own oid.
 */
static void
fold_partitions(tablesel *s, const PGresult *res)
{
	for (int r = 0; r < PQntuples(res); r++) {
		const char *a = PQgetvalue(res, r, 5);
		s->tables[r].covered_by = -1;
		/* Walk the ancestors; the last selected one (the farthest) wins. */
		while (*a && *a != '}') {
			size_t len;
			a += strspn(a, "{,");
			len = strcspn(a, ",}");
			for (int o = 0; o < PQntuples(res); o++)
				if (strlen(PQgetvalue(res, o, 0)) == len && strncmp(PQgetvalue(res, o, 0), a, len) == 0)
					s->tables[r].covered_by = o;
			a += len;
		}
	}
}

/* take_tables: the final query's rows as s->tables. */
static int
take_tables(tablesel *s, const PGresult *res, char **err)
{
	int n = PQntuples(res);

	if (n > 0 && !(s->tables = calloc((size_t) n, sizeof *s->tables))) {
		set_err(err, "out of memory");
		return 0;
	}
	s->ntables = (size_t) n;
	for (int r = 0; r < n; r++) {
		tablesel_table *t = &s->tables[r];
		t->schema = strdup(PQgetvalue(res, r, 1));
		t->name = strdup(PQgetvalue(res, r, 2));
		t->qualified = strdup(PQgetvalue(res, r, 3));
		t->relkind = PQgetvalue(res, r, 4)[0];
		t->oid = (unsigned) strtoul(PQgetvalue(res, r, 0), NULL, 10);
		if (!t->schema || !t->name || !t->qualified) {
			set_err(err, "out of memory");
			return 0;
		}
	}
	fold_partitions(s, res);
	return 1;
}

/*
 * check_excluded_partitions: a partitioned table's rows are read through it,
 * so one of its partitions cannot be left out while it is selected.
 */
static int
check_excluded_partitions(const tablesel *s, PGconn *conn, const char *exclude_tables,
                          const char *exclude_schemas, char **err)
{
	const char *params[3];
	char oid[16];
	cli_buf tops;
	PGresult *res;
	int ok = 1;

	cli_buf_init(&tops);
	for (size_t i = 0; i < s->ntables; i++)
		if (s->tables[i].relkind == 'p' && s->tables[i].covered_by < 0) {
			snprintf(oid, sizeof oid, "%u", s->tables[i].oid);
			add_oid(&tops, oid);
		}
	if (tops.len == 0)
		return 1;
	if (!(params[0] = close_set(&tops))) {
		set_err(err, "out of memory");
		return 0;
	}
	params[1] = exclude_tables;
	params[2] = exclude_schemas;
	if (!(res = query(conn, excluded_partition_sql, 3, params, "checking excluded partitions", err))) {
		ok = 0;
	} else if (PQntuples(res) > 0) {
		set_err(err, "partition %s is excluded, but its rows are read through its partitioned table %s, "
		        "which is selected: exclude %s too, or select its partitions instead",
		        PQgetvalue(res, 0, 1), PQgetvalue(res, 0, 0), PQgetvalue(res, 0, 0));
		ok = 0;
	}
	PQclear(res);
	cli_buf_free(&tops);
	return ok;
}

int
tablesel_resolve(tablesel *s, PGconn *conn, char **err)
{
	oid_sets o;
	const char *params[5], *mode;
	char *sql = NULL;
	PGresult *res = NULL;
	int ok = 0;

	*err = NULL;
	clear_results(s);
	memset(&o, 0, sizeof o);
	for (size_t i = 0; i < s->npatterns; i++) {
		const tablesel_pattern *p = &s->patterns[i];
		if (!check_database(p, conn, err))
			goto cleanup;
		switch (p->kind) {
		case TABLESEL_TABLE:
			o.have_tables = 1;
			if (!match_tables(s, p, conn, &o.tables, err))
				goto cleanup;
			break;
		case TABLESEL_EXCLUDE_TABLE:
			if (!match_tables(s, p, conn, &o.exclude_tables, err))
				goto cleanup;
			break;
		case TABLESEL_SCHEMA:
			o.have_schemas = 1;
			if (!match_schemas(s, p, conn, &o.schemas, err))
				goto cleanup;
			break;
		case TABLESEL_EXCLUDE_SCHEMA:
			if (!match_schemas(s, p, conn, &o.exclude_schemas, err))
				goto cleanup;
			break;
		}
	}
	mode = o.have_tables ? "t" : o.have_schemas ? "n" : "a";
	params[0] = close_set(&o.tables);
	params[1] = close_set(&o.schemas);
	/* As in pg_dump, -N does not apply to the tables -t names. */
	params[2] = o.have_tables ? "{}" : close_set(&o.exclude_schemas);
	params[3] = close_set(&o.exclude_tables);
	params[4] = mode;
	if (!params[0] || !params[1] || !params[2] || !params[3]
	    || !(sql = cli_strdup_printf(select_sql, PQserverVersion(conn) >= 100000 ? "c.relispartition" : "false"))) {
		set_err(err, "out of memory");
		goto cleanup;
	}
	if (!(res = query(conn, sql, 5, params, "selecting the tables", err)) || !take_tables(s, res, err))
		goto cleanup;
	if (!check_excluded_partitions(s, conn, params[3], params[2], err))
		goto cleanup;
	if (s->ntables == 0) {
		set_err(err, "no table matches the selection%s", s->npatterns ? "" : ": the database has no tables");
		goto cleanup;
	}
	ok = 1;
cleanup:
	PQclear(res);
	free(sql);
	cli_buf_free(&o.tables);
	cli_buf_free(&o.schemas);
	cli_buf_free(&o.exclude_tables);
	cli_buf_free(&o.exclude_schemas);
	if (!ok && !*err)
		set_err(err, "out of memory");
	if (!ok)
		clear_results(s);
	return ok;
}
