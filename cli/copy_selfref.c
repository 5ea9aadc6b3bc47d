/*
 * copy_selfref.c: a target table with a foreign key to itself (an employee's
 * boss, a category's parent).  The server checks such a key at the end of
 * each COPY statement, and the source may send a row before the row it
 * references: the table is loaded in one COPY statement (segments off), and
 * never over several sessions (--jobs), which cannot see each other's rows
 * before they commit.  Checked on every server target before any data moves.
 */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "copy.h"

/*
 * self_key: the name of a foreign key of table (or of one of its partitions
 * or inheritance children) that references the same tree, malloc'd; "" when
 * there is none; NULL on an error (said).
 */
static char *
self_key(copy_endpoint *e, int index, const char *table)
{
	const char *qerr = NULL;
	char *qname = cli_quote_name(e->conns[0], table, &qerr), *name = NULL;
	const char *params[1] = {qname};
	PGresult *res;

	if (!qname) {
		cli_error("target %d (%s): bad table name: %s", index, e->label, qerr ? qerr : "out of memory");
		return NULL;
	}
	res = PQexecParams(e->conns[0],
	                   "WITH RECURSIVE tree(oid) AS (SELECT $1::regclass::oid UNION "
	                   "SELECT i.inhrelid FROM pg_inherits i JOIN tree ON i.inhparent = tree.oid) "
	                   "SELECT c.conname::text FROM pg_constraint c "
	                   "WHERE c.contype = 'f' AND c.conrelid IN (SELECT oid FROM tree) "
	                   "AND c.confrelid IN (SELECT oid FROM tree) ORDER BY 1 LIMIT 1",
	                   1, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		cli_error("target %d (%s): cannot read the foreign keys of %s: %s", index, e->label, qname,
		          PQresultErrorMessage(res));
	else if (!(name = strdup(PQntuples(res) ? PQgetvalue(res, 0, 0) : "")))
		cli_error("out of memory");
	PQclear(res);
	free(qname);
	return name;
}

int
copy_check_self_reference(copy_endpoint *dst, copy_opts *o)
{
	const char *table = o->target_table ? o->target_table : o->table;

	for (int i = 0; i < o->nto; i++) {
		char *key;

		if (dst[i].kind != EP_SERVER)
			continue;
		if (!(key = self_key(&dst[i], i + 1, table)))
			return EXIT_FAILED;
		if (key[0] && o->jobs > 1) {
			cli_error("target %d (%s): %s references itself (foreign key \"%s\"): with --jobs %d a row could "
			          "reference a row that another session loads, which it cannot see before both commit. "
			          "Run with --jobs 1. Nothing was loaded.",
			          i + 1, dst[i].label, table, key, o->jobs);
			free(key);
			return EXIT_USAGE;
		}
		if (key[0])
			o->segment_mb = 0;   /* one COPY statement: the key is checked once all rows are in */
		free(key);
	}
	return 0;
}
