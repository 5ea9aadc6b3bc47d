/*
 * defer_indexes.c: what a replaced table's load can defer, how to drop it
 * and how to re-create it exactly (see defer_indexes.h).
 *
 * Every statement is written by the server, in SQL, from its own catalog:
 * pg_get_indexdef for an index (columns, expressions, opclasses, collations,
 * INCLUDE, WITH options, the predicate, NULLS NOT DISTINCT), then ALTER TABLE
 * ADD CONSTRAINT ... USING INDEX for a primary key or a unique constraint (with
 * its DEFERRABLE flags), pg_get_constraintdef for an exclusion constraint and
 * a foreign key, SET LOCAL default_tablespace before each (as pg_dump does),
 * CLUSTER ON, REPLICA IDENTITY USING INDEX, the comments on the index and on
 * the constraint, and the statistics targets of an expression index's
 * columns.  Names are quoted by format('%I').  The client only runs them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "defer_indexes.h"

/*
 * The table as a whole: its quoted name, its kind, and why nothing of it can
 * be deferred (NULL when it can).  $1: the table.
 */
static const char table_sql[] =
	"SELECT pg_catalog.format('%I.%I', n.nspname, c.relname), c.relkind, CASE"
	" WHEN c.relkind = 'p' THEN 'a partitioned table: its indexes are trees over its partitions,"
	" and COPY FREEZE refuses it'"
	" WHEN c.relkind <> 'r' THEN 'not a plain table'"
	" WHEN NOT pg_catalog.pg_has_role(c.relowner, 'USAGE')"
	"  THEN 'only the table''s owner may drop and re-create its indexes'"
	" ELSE (SELECT pg_catalog.format('its index %I belongs to the partitioned table''s index %s',"
	"              ic.relname, h.inhparent::pg_catalog.regclass)"
	"         FROM pg_catalog.pg_index i JOIN pg_catalog.pg_inherits h ON h.inhrelid = i.indexrelid"
	"         JOIN pg_catalog.pg_class ic ON ic.oid = i.indexrelid"
	"        WHERE i.indrelid = c.oid ORDER BY ic.relname LIMIT 1) END"
	" FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
	" WHERE c.oid = $1::pg_catalog.regclass";

/*
 * Every index and foreign key of the table, one row per statement that
 * re-creates it: group (1 index, 2 foreign key), name, kind, why it is kept
 * (NULL: deferred), what else needs the index, its DROP, one statement.  $1:
 * the table; $2: defer the foreign keys to other tables too.  In two parts
 * (ISO C compilers need not take a longer string literal): the table and its
 * foreign keys, ...
 */
static const char objects_sql_table[] =
	"WITH t AS ("
	" SELECT c.oid, pg_catalog.format('%I.%I', n.nspname, c.relname) AS qt, n.nspname"
	"   FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
	"  WHERE c.oid = $1::pg_catalog.regclass"
	"), fk AS ("
	" SELECT con.oid, con.conname, CASE"
	"  WHEN NOT con.convalidated THEN 'NOT VALID: its new rows are checked one by one, as before'"
	"  WHEN con.conparentid <> 0 THEN 'inherited from the partitioned table''s foreign key'"
	"  WHEN con.confrelid <> t.oid AND NOT $2::pg_catalog.bool"
	"   THEN pg_catalog.format('references %s: checked row by row (--defer-foreign-keys checks it once,"
	" but locks %s until the commit)', con.confrelid::pg_catalog.regclass, con.confrelid::pg_catalog.regclass)"
	"  WHEN NOT (SELECT pg_catalog.bool_and(pg_catalog.has_column_privilege(con.confrelid, k, 'REFERENCES'))"
	"              FROM pg_catalog.unnest(con.confkey) k)"
	"   THEN pg_catalog.format('no REFERENCES privilege on %s to add it again', con.confrelid::pg_catalog.regclass)"
	"  END AS kept"
	"   FROM pg_catalog.pg_constraint con, t"
	"  WHERE con.conrelid = t.oid AND con.contype = 'f'"
	")";

/* ... the indexes, ... */
static const char objects_sql_indexes[] =
	", obj AS ("
	" SELECT 1 AS grp, i.indexrelid AS ord, ic.relname::text AS name,"
	"  CASE con.contype WHEN 'p' THEN 'primary key' WHEN 'u' THEN 'unique constraint'"
	"   WHEN 'x' THEN 'exclusion constraint' ELSE 'index' END AS kind,"
	"  CASE WHEN NOT (i.indisvalid AND i.indisready)"
	"   THEN 'invalid (a CREATE INDEX CONCURRENTLY that failed?): left as it is' END AS kept,"
	"  (SELECT pg_catalog.string_agg(pg_catalog.pg_describe_object(d.classid, d.objid, d.objsubid), ', ')"
	"     FROM pg_catalog.pg_depend d"
	"    WHERE d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass AND d.refobjid = i.indexrelid"
	"      AND NOT (d.classid = 'pg_catalog.pg_constraint'::pg_catalog.regclass"
	"               AND d.objid IN (SELECT fk.oid FROM fk WHERE fk.kept IS NULL))) AS needed_by,"
	"  CASE WHEN con.oid IS NULL THEN pg_catalog.format('DROP INDEX %I.%I', t.nspname, ic.relname)"
	"   ELSE pg_catalog.format('ALTER TABLE ONLY %s DROP CONSTRAINT %I', t.qt, con.conname) END AS drop_sql,"
	"  pg_catalog.array_remove(ARRAY["
	"   pg_catalog.format('SET LOCAL default_tablespace = %L', coalesce(ts.spcname, '')),"
	"   CASE WHEN con.contype = 'x'"
	"    THEN pg_catalog.format('ALTER TABLE ONLY %s ADD CONSTRAINT %I %s', t.qt, con.conname,"
	"                           pg_catalog.pg_get_constraintdef(con.oid))"
	"    ELSE pg_catalog.pg_get_indexdef(i.indexrelid) END,"
	"   CASE WHEN con.contype IN ('p', 'u')"
	"    THEN pg_catalog.format('ALTER TABLE ONLY %s ADD CONSTRAINT %I %s USING INDEX %I%s%s', t.qt, con.conname,"
	"     CASE con.contype WHEN 'p' THEN 'PRIMARY KEY' ELSE 'UNIQUE' END, ic.relname,"
	"     CASE WHEN con.condeferrable THEN ' DEFERRABLE' ELSE '' END,"
	"     CASE WHEN con.condeferred THEN ' INITIALLY DEFERRED' ELSE '' END) END,"
	"   CASE WHEN i.indisclustered THEN pg_catalog.format('ALTER TABLE ONLY %s CLUSTER ON %I', t.qt, ic.relname) END,"
	"   CASE WHEN i.indisreplident"
	"    THEN pg_catalog.format('ALTER TABLE ONLY %s REPLICA IDENTITY USING INDEX %I', t.qt, ic.relname) END,"
	"   CASE WHEN pg_catalog.obj_description(i.indexrelid, 'pg_class') IS NOT NULL"
	"    THEN pg_catalog.format('COMMENT ON INDEX %I.%I IS %L', t.nspname, ic.relname,"
	"                           pg_catalog.obj_description(i.indexrelid, 'pg_class')) END,"
	"   CASE WHEN pg_catalog.obj_description(con.oid, 'pg_constraint') IS NOT NULL"
	"    THEN pg_catalog.format('COMMENT ON CONSTRAINT %I ON %s IS %L', con.conname, t.qt,"
	"                           pg_catalog.obj_description(con.oid, 'pg_constraint')) END"
	"  ]::text[], NULL) || ARRAY("
	"   SELECT pg_catalog.format('ALTER INDEX %I.%I ALTER COLUMN %s SET STATISTICS %s', t.nspname, ic.relname,"
	"                            a.attnum, a.attstattarget)"
	"     FROM pg_catalog.pg_attribute a WHERE a.attrelid = i.indexrelid AND a.attstattarget >= 0"
	"    ORDER BY a.attnum) AS create_sql"
	"   FROM t JOIN pg_catalog.pg_index i ON i.indrelid = t.oid"
	"   JOIN pg_catalog.pg_class ic ON ic.oid = i.indexrelid"
	"   LEFT JOIN pg_catalog.pg_tablespace ts ON ts.oid = ic.reltablespace"
	"   LEFT JOIN pg_catalog.pg_constraint con ON con.conindid = i.indexrelid AND con.conrelid = t.oid"
	"    AND con.contype IN ('p', 'u', 'x')";

/* ... and the foreign keys, with the final SELECT. */
static const char objects_sql_fkeys[] =
	" UNION ALL"
	" SELECT 2, fk.oid, fk.conname::text, 'foreign key', fk.kept, NULL,"
	"  pg_catalog.format('ALTER TABLE ONLY %s DROP CONSTRAINT %I', t.qt, fk.conname),"
	"  pg_catalog.array_remove(ARRAY["
	"   pg_catalog.format('ALTER TABLE ONLY %s ADD CONSTRAINT %I %s', t.qt, fk.conname,"
	"                     pg_catalog.pg_get_constraintdef(fk.oid)),"
	"   CASE WHEN pg_catalog.obj_description(fk.oid, 'pg_constraint') IS NOT NULL"
	"    THEN pg_catalog.format('COMMENT ON CONSTRAINT %I ON %s IS %L', fk.conname, t.qt,"
	"                           pg_catalog.obj_description(fk.oid, 'pg_constraint')) END"
	"  ]::text[], NULL)"
	"   FROM fk, t"
	")"
	" SELECT o.grp, o.name, o.kind, o.kept, o.needed_by, o.drop_sql, s.stmt"
	"   FROM obj o LEFT JOIN LATERAL pg_catalog.unnest(o.create_sql) WITH ORDINALITY AS s(stmt, n)"
	"     ON o.kept IS NULL"
	"  ORDER BY o.grp, o.ord, s.n";

/*
 * The table's index and constraint definitions as one text, one line per
 * object, sorted: what must be the same before and after.  $1: the table.
 */
static const char fingerprint_sql[] =
	"SELECT pg_catalog.string_agg(x, E'\\n' ORDER BY x) FROM ("
	" SELECT pg_catalog.format('index %I: %s; tablespace %s; clustered %s; replica identity %s; valid %s;"
	" immediate %s; comment %L; statistics %s', ic.relname, pg_catalog.pg_get_indexdef(i.indexrelid),"
	"  coalesce(ts.spcname, '-'), i.indisclustered, i.indisreplident, i.indisvalid, i.indimmediate,"
	"  pg_catalog.obj_description(i.indexrelid, 'pg_class'),"
	"  (SELECT pg_catalog.string_agg(a.attnum || '=' || a.attstattarget, ',' ORDER BY a.attnum)"
	"     FROM pg_catalog.pg_attribute a WHERE a.attrelid = i.indexrelid AND a.attstattarget >= 0))"
	"   FROM pg_catalog.pg_index i JOIN pg_catalog.pg_class ic ON ic.oid = i.indexrelid"
	"   LEFT JOIN pg_catalog.pg_tablespace ts ON ts.oid = ic.reltablespace"
	"  WHERE i.indrelid = $1::pg_catalog.regclass"
	" UNION ALL"
	" SELECT pg_catalog.format('constraint %I: %s; index %s; comment %L; local %s; inherited %s', con.conname,"
	"  pg_catalog.pg_get_constraintdef(con.oid),"
	"  coalesce((SELECT ic.relname::text FROM pg_catalog.pg_class ic WHERE ic.oid = con.conindid), '-'),"
	"  pg_catalog.obj_description(con.oid, 'pg_constraint'), con.conislocal, con.coninhcount)"
	"   FROM pg_catalog.pg_constraint con WHERE con.conrelid = $1::pg_catalog.regclass"
	" UNION ALL"
	" SELECT pg_catalog.format('replica identity %s', c.relreplident)"
	"   FROM pg_catalog.pg_class c WHERE c.oid = $1::pg_catalog.regclass"
	") f(x)";

/* query_error: the failed result's message (primary and detail) into err. */
static void
query_error(PGconn *conn, const PGresult *res, const char *what, char *err, size_t errlen)
{
	const char *primary = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
	const char *detail = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL) : NULL;

	snprintf(err, errlen, "%s: %s%s%s", what, primary ? primary : PQerrorMessage(conn), detail ? ": " : "",
	         detail ? detail : "");
	for (size_t n = strlen(err); n > 0 && err[n - 1] == '\n'; n--)
		err[n - 1] = '\0';
}

/* run_query: one statement with the table (and maybe a flag) as parameters; NULL with err on failure. */
static PGresult *
run_query(PGconn *conn, const char *sql, int nparams, const char *const *params, const char *what,
          char *err, size_t errlen)
{
	PGresult *res = PQexecParams(conn, sql, nparams, NULL, params, NULL, NULL, 0);

	if (PQresultStatus(res) == PGRES_TUPLES_OK || PQresultStatus(res) == PGRES_COMMAND_OK)
		return res;
	query_error(conn, res, what, err, errlen);
	PQclear(res);
	return NULL;
}

/* dup_value: a result value, malloc'd; NULL for SQL NULL (and *oom set when out of memory). */
static char *
dup_value(const PGresult *res, int row, int col, int *oom)
{
	char *s;

	if (PQgetisnull(res, row, col))
		return NULL;
	if (!(s = strdup(PQgetvalue(res, row, col))))
		*oom = 1;
	return s;
}

/* fingerprint: the table's definitions (fingerprint_sql), malloc'd; NULL with err. */
static char *
fingerprint(PGconn *conn, const char *table, char *err, size_t errlen)
{
	const char *params[1] = {table};
	PGresult *res = run_query(conn, fingerprint_sql, 1, params, "reading the table's indexes", err, errlen);
	char *fp;

	if (!res)
		return NULL;
	fp = strdup(PQntuples(res) == 1 ? PQgetvalue(res, 0, 0) : "");
	if (!fp)
		snprintf(err, errlen, "out of memory");
	PQclear(res);
	return fp;
}

/* add_object: a new deferred object from row r of objects_sql; NULL when out of memory. */
static defer_object *
add_object(deferral *d, const PGresult *res, int r)
{
	defer_object *o, *grown = realloc(d->objects, (d->nobjects + 1) * sizeof *d->objects);
	int oom = 0;

	if (!grown)
		return NULL;
	d->objects = grown;
	o = &d->objects[d->nobjects++];
	memset(o, 0, sizeof *o);
	o->name = dup_value(res, r, 1, &oom);
	o->kind = dup_value(res, r, 2, &oom);
	o->drop_sql = dup_value(res, r, 5, &oom);
	return oom ? NULL : o;
}

/* add_kept: an object left in place, and why; 0 when out of memory. */
static int
add_kept(deferral *d, const char *name, const char *why)
{
	defer_kept *grown = realloc(d->kept, (d->nkept + 1) * sizeof *d->kept);

	if (!grown)
		return 0;
	d->kept = grown;
	d->kept[d->nkept].name = strdup(name);
	d->kept[d->nkept].why = strdup(why);
	d->nkept++;
	return d->kept[d->nkept - 1].name && d->kept[d->nkept - 1].why;
}

/* add_statement: one more statement that re-creates o; 0 when out of memory. */
static int
add_statement(defer_object *o, const char *sql)
{
	char **grown = realloc(o->create_sql, (o->ncreate + 1) * sizeof *o->create_sql);

	if (!grown)
		return 0;
	o->create_sql = grown;
	return (o->create_sql[o->ncreate++] = strdup(sql)) != NULL;
}

/* set_reason: nothing is deferred, because of why (a copy is kept). */
static int
set_reason(deferral *d, const char *why)
{
	free(d->reason);
	return (d->reason = strdup(why)) != NULL;
}

/*
 * read_objects: the rows of objects_sql, grouped by object.  An index that
 * something else needs (another table's foreign key, a partition's index)
 * makes the whole table's deferral impossible: d->reason.  Returns 0 when
 * out of memory.
 */
static int
read_objects(deferral *d, const PGresult *res)
{
	defer_object *cur = NULL;
	const char *cur_name = NULL, *cur_grp = NULL;

	for (int r = 0; r < PQntuples(res); r++) {
		const char *grp = PQgetvalue(res, r, 0), *name = PQgetvalue(res, r, 1);
		int same = cur_name && strcmp(cur_name, name) == 0 && strcmp(cur_grp, grp) == 0;

		if (!PQgetisnull(res, r, 3)) {
			if (!add_kept(d, name, PQgetvalue(res, r, 3)))
				return 0;
			cur = NULL;
			cur_name = NULL;
			continue;
		}
		if (!PQgetisnull(res, r, 4) && !d->reason) {
			size_t n = strlen(name) + strlen(PQgetvalue(res, r, 4)) + 32;
			char *why = malloc(n);
			if (!why)
				return 0;
			snprintf(why, n, "index %s is needed by %s", name, PQgetvalue(res, r, 4));
			d->reason = why;
		}
		if (!same) {
			if (!(cur = add_object(d, res, r)))
				return 0;
			cur_name = name;
			cur_grp = grp;
		}
		if (!PQgetisnull(res, r, 6) && !add_statement(cur, PQgetvalue(res, r, 6)))
			return 0;
	}
	return 1;
}

/* clear_objects: nothing is deferred after all. */
static void
clear_objects(deferral *d)
{
	for (size_t i = 0; i < d->nobjects; i++) {
		defer_object *o = &d->objects[i];
		for (size_t s = 0; s < o->ncreate; s++)
			free(o->create_sql[s]);
		free(o->create_sql);
		free(o->name);
		free(o->kind);
		free(o->drop_sql);
	}
	free(d->objects);
	d->objects = NULL;
	d->nobjects = 0;
}

int
defer_inspect(PGconn *conn, const char *table, int fkeys_to_others, deferral **out, char *err, size_t errlen)
{
	const char *params[2] = {table, fkeys_to_others ? "true" : "false"};
	deferral *d = calloc(1, sizeof *d);
	PGresult *res = NULL;
	char *sql;
	int oom = 0;

	*out = NULL;
	if (!d) {
		snprintf(err, errlen, "out of memory");
		return 0;
	}
	if (PQserverVersion(conn) < 110000) {
		d->table = strdup(table);
		if (!d->table || !set_reason(d, "the server is older than PostgreSQL 11"))
			goto oom;
		*out = d;
		return 1;
	}
	if (!(res = run_query(conn, table_sql, 1, params, "reading the table", err, errlen)))
		goto fail;
	if (PQntuples(res) != 1) {
		snprintf(err, errlen, "reading the table: %s not found", table);
		goto fail;
	}
	d->table = dup_value(res, 0, 0, &oom);
	d->freeze = PQgetvalue(res, 0, 1)[0] == 'r';
	d->reason = dup_value(res, 0, 2, &oom);
	PQclear(res);
	res = NULL;
	if (oom)
		goto oom;
	if (d->reason) {
		*out = d;
		return 1;
	}
	if (!(sql = malloc(sizeof objects_sql_table + sizeof objects_sql_indexes + sizeof objects_sql_fkeys)))
		goto oom;
	strcpy(sql, objects_sql_table);
	strcat(sql, objects_sql_indexes);
	strcat(sql, objects_sql_fkeys);
	res = run_query(conn, sql, 2, params, "reading the table's indexes", err, errlen);
	free(sql);
	if (!res)
		goto fail;
	if (!read_objects(d, res))
		goto oom;
	PQclear(res);
	res = NULL;
	if (d->reason)
		clear_objects(d);
	else if (d->nobjects && !(d->fingerprint = fingerprint(conn, d->table, err, errlen)))
		goto fail;
	*out = d;
	return 1;

oom:
	snprintf(err, errlen, "out of memory");
fail:
	PQclear(res);
	defer_free(d);
	return 0;
}

int
defer_drop(PGconn *conn, const deferral *d, char *err, size_t errlen)
{
	for (size_t i = d->nobjects; i-- > 0;) {
		PGresult *res = run_query(conn, d->objects[i].drop_sql, 0, NULL, "dropping the indexes", err, errlen);
		if (!res)
			return 0;
		PQclear(res);
	}
	return 1;
}

/* first_difference: the first line of a that b lacks (or of b that a lacks), into err. */
static void
first_difference(const char *a, const char *b, char *err, size_t errlen)
{
	size_t i = 0;

	while (a[i] && a[i] == b[i])
		i++;
	while (i > 0 && a[i - 1] != '\n')
		i--;
	{
		const char *ea = strchr(a + i, '\n'), *eb = strchr(b + i, '\n');
		int la = ea ? (int) (ea - (a + i)) : (int) strlen(a + i);
		int lb = eb ? (int) (eb - (b + i)) : (int) strlen(b + i);
		snprintf(err, errlen, "the re-created indexes differ from the table's definition: before \"%.*s\", "
		         "after \"%.*s\"", la, a + i, lb, b + i);
	}
}

int
defer_verify(PGconn *conn, const deferral *d, char *err, size_t errlen)
{
	char *now;
	int same;

	if (!d->nobjects)
		return 1;
	if (!(now = fingerprint(conn, d->table, err, errlen)))
		return 0;
	same = strcmp(now, d->fingerprint) == 0;
	if (!same)
		first_difference(d->fingerprint, now, err, errlen);
	free(now);
	return same;
}

size_t
defer_count(const deferral *d, int fkeys)
{
	size_t n = 0;

	for (size_t i = 0; d && i < d->nobjects; i++)
		n += (strcmp(d->objects[i].kind, "foreign key") == 0) == (fkeys != 0);
	return n;
}

void
defer_free(deferral *d)
{
	if (!d)
		return;
	clear_objects(d);
	for (size_t i = 0; i < d->nkept; i++) {
		free(d->kept[i].name);
		free(d->kept[i].why);
	}
	free(d->kept);
	free(d->table);
	free(d->reason);
	free(d->fingerprint);
	free(d);
}
