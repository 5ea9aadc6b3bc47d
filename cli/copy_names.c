/*
 * copy_names.c: the table name as the user typed it, checked on the source
 * before the plan, so that the first line of a failure is its cause ("source
 * ...: table "tt" does not exist") rather than what the targets make of it;
 * and a hint for names that SQL folds or refuses unquoted (`--table "Mixed
 * Case"`), saying how to quote them.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "copy.h"

int
copy_name_needs_quotes(const char *name)
{
	int odd = 0;

	if (!name || strchr(name, '"'))
		return 0;   /* quoted already: taken as written */
	for (const unsigned char *p = (const unsigned char *) name; *p; p++)
		odd |= isupper(*p) || isspace(*p) || (*p < 0x80 && !isalnum(*p) && *p != '_' && *p != '.'
		                                      && *p != '$');
	return odd;
}

/*
 * shell_quoted_name: name as a quoted SQL identifier, itself in single quotes
 * for the shell: Mixed Case -> '"Mixed Case"' (a ' in it as '\'').  A dotted
 * name is left whole: the hint cannot know which dots were meant.
 */
static char *
shell_quoted_name(const char *name)
{
	cli_buf b;

	cli_buf_init(&b);
	cli_buf_add(&b, "'\"");
	for (const char *p = name; *p; p++) {
		if (*p == '\'')
			cli_buf_add(&b, "'\\''");
		else if (*p == '"')
			cli_buf_add(&b, "\"\"");
		else
			cli_buf_addn(&b, p, 1);
	}
	cli_buf_add(&b, "\"'");
	return cli_buf_take(&b);
}

void
copy_name_hint(const char *option, const char *name, const char *exists_as)
{
	char *q;

	if (exists_as) {
		q = shell_quoted_name(exists_as);
		cli_error("hint: there is a table named \"%s\": unquoted names are folded to lower case; "
		          "quote it for SQL inside the shell's quotes: %s %s", exists_as, option, q ? q : "");
	} else if (copy_name_needs_quotes(name)) {
		q = shell_quoted_name(name);
		cli_error("hint: names are read as SQL reads them: unquoted, upper case is folded to lower case "
		          "and a space ends the name; to name the table \"%s\" as written, quote it inside the "
		          "shell's quotes: %s %s", name, option, q ? q : "");
	} else {
		return;
	}
	free(q);
}

/*
 * folded_match: a visible relation whose name is name's last part in
 * another case (MyTable for mytable), or NULL.  malloc'd.
 */
static char *
folded_match(PGconn *conn, const char *name)
{
	const char *last = strrchr(name, '.') ? strrchr(name, '.') + 1 : name;
	const char *params[1] = {last};
	char *found = NULL;
	PGresult *res = PQexecParams(conn,
	                             "SELECT c.relname FROM pg_catalog.pg_class c "
	                             "WHERE lower(c.relname) = lower($1) AND c.relname <> lower($1) "
	                             "AND c.relkind IN ('r', 'p', 'v', 'm', 'f') "
	                             "AND pg_catalog.pg_table_is_visible(c.oid) ORDER BY 1 LIMIT 1",
	                             1, NULL, params, NULL, NULL, 0);

	if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1)
		found = strdup(PQgetvalue(res, 0, 0));
	PQclear(res);
	return found;
}

int
copy_check_source_table(const copy_endpoint *src, const char *table)
{
	PGconn *conn = src->conns[0];
	const char *err = NULL;
	char *qname = cli_quote_name(conn, table, &err), *other;
	const char *params[1];
	PGresult *res;
	int ok = 1;

	if (!qname) {
		if (err && strcmp(err, "out of memory") == 0) {
			cli_error("out of memory");
			return 0;
		}
		cli_error("source %s: table name \"%s\": %s", src->label, table, err ? err : "cannot be read");
		copy_name_hint("--table", table, NULL);
		return 0;
	}
	params[0] = qname;
	res = PQexecParams(conn, "SELECT pg_catalog.to_regclass($1) IS NOT NULL, "
	                   "pg_catalog.current_setting('search_path')", 1, NULL, params, NULL, NULL, 0);
	/* Anything unexpected (a three-part name, say) is left to the plan, which explains it. */
	if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1 && PQgetvalue(res, 0, 0)[0] == 'f') {
		int qualified = strchr(qname, '.') != NULL;
		cli_error("source %s: table \"%s\" does not exist%s%s%s", src->label, table,
		          qualified ? "" : " (search_path: ", qualified ? "" : PQgetvalue(res, 0, 1),
		          qualified ? "" : ")");
		other = folded_match(conn, table);
		copy_name_hint("--table", table, other);
		free(other);
		ok = 0;
	}
	PQclear(res);
	free(qname);
	return ok;
}
