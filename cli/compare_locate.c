/*
 * compare_locate.c: where a table differs.  The rows are split into
 * BUCKETS ranges of the order key (bounds taken every count/BUCKETS rows of
 * the side that has more), each range counted and summed on both sides at
 * once, and the first range that differs is split again, until it holds at
 * most LEAF_ROWS rows (or cannot be split: one key repeated).  Then both
 * sides' rows of that range are grouped by key, and the source joins the
 * target's to its own: the first key, in order, that is missing, extra,
 * repeated or changed is the answer; for a changed row, the columns that
 * differ are named.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compare_int.h"
#include "strbuf.h"

#define BUCKETS 16
#define LEAF_ROWS 256
#define MAX_LEVELS 64      /* each level shrinks the range ~BUCKETS times: never reached */
#define DISPLAY_MAX 200    /* bytes of a key or row shown */

/* A range of the order key: [lo, hi), each a row literal "(v1, v2)"; NULL: unbounded. */
typedef struct range {
	char *lo, *hi;
} range;

/* where_sql: side s's rows in range r. */
static char *
where_sql(const cmp_side *s, const range *r)
{
	cli_buf b;

	cli_buf_init(&b);
	cli_buf_add(&b, s->notnull);
	if (r->lo)
		cli_buf_addf(&b, " AND (%s) OPERATOR(pg_catalog.>=) %s", s->key, r->lo);
	if (r->hi)
		cli_buf_addf(&b, " AND (%s) OPERATOR(pg_catalog.<) %s", s->key, r->hi);
	return cli_buf_take(&b);
}

/* keys_sql: "e1 AS pgcm_k1, e2 AS pgcm_k2" (aliased) or "pgcm_k1, pgcm_k2" (the aliases). */
static void
keys_sql(cli_buf *b, const cmp_shape *sh, const cmp_side *s, int aliased)
{
	for (size_t k = 0; k < sh->nkey; k++) {
		if (aliased)
			cli_buf_addf(b, "%s%s AS pgcm_k%zu", k ? ", " : "", s->keys[k], k + 1);
		else
			cli_buf_addf(b, "%spgcm_k%zu", k ? ", " : "", k + 1);
	}
}

/*
 * literal_row: "(v1::t1, v2::t2)" from columns first.. of row of res: a
 * bound or a key, the same literal on both sides.
 */
static char *
literal_row(PGconn *conn, const cmp_shape *sh, const PGresult *res, int row, int first)
{
	cli_buf b;

	cli_buf_init(&b);
	cli_buf_add(&b, "(");
	for (size_t k = 0; k < sh->nkey; k++) {
		const char *v = PQgetvalue(res, row, first + (int) k);
		char *lit = PQescapeLiteral(conn, v, strlen(v));
		if (!lit) {
			cli_buf_free(&b);
			return NULL;
		}
		cli_buf_addf(&b, "%s%s::%s", k ? ", " : "", lit, sh->key_types[k]);
		PQfreemem(lit);
	}
	cli_buf_add(&b, ")");
	return cli_buf_take(&b);
}

/* oom: the job fails for want of memory. */
static void
oom(cmp_job *j)
{
	cmp_fail(j, 1, j->src, NULL);
	free(j->r->message);
	j->r->message = strdup("out of memory");
}

/*
 * pick_bounds: up to BUCKETS - 1 keys of range r, every step-th in order, on
 * the source or the target, as row literals without repeats.  Returns how
 * many (0: the range cannot be split), or -1 (the job failed).
 */
static int
pick_bounds(cmp_job *j, const range *r, int on_source, long long rows, char **bounds)
{
	const cmp_side *s = on_source ? &j->sh.src : &j->sh.dst;
	long long step = (rows + BUCKETS - 1) / BUCKETS;
	char *where = where_sql(s, r), *sql;
	PGresult *res;
	cli_buf b;
	int n = 0;

	if (!where) {
		oom(j);
		return -1;
	}
	cli_buf_init(&b);
	cli_buf_add(&b, "SELECT ");
	keys_sql(&b, &j->sh, s, 0);
	cli_buf_add(&b, " FROM (SELECT ");
	keys_sql(&b, &j->sh, s, 0);
	cli_buf_add(&b, ", pg_catalog.row_number() OVER (ORDER BY ");
	keys_sql(&b, &j->sh, s, 0);
	cli_buf_add(&b, ") AS pgcm_rn FROM (SELECT ");
	keys_sql(&b, &j->sh, s, 1);
	cli_buf_addf(&b, " FROM %s WHERE %s) a) b WHERE pgcm_rn OPERATOR(pg_catalog.%%) %lld OPERATOR(pg_catalog.=) 0 "
	             "ORDER BY pgcm_rn LIMIT %d", s->from, where, step < 1 ? 1 : step, BUCKETS - 1);
	free(where);
	if (!(sql = cli_buf_take(&b))) {
		oom(j);
		return -1;
	}
	res = on_source ? cmp_src_query(j, sql, 0, NULL) : cmp_dst_query(j, sql, 0, NULL);
	free(sql);
	if (!res)
		return -1;
	for (int row = 0; row < PQntuples(res); row++) {
		char *lit = literal_row(j->src, &j->sh, res, row, 0);
		if (!lit) {
			oom(j);
			while (n > 0)
				free(bounds[--n]);
			n = -1;
			break;
		}
		if (n > 0 && strcmp(bounds[n - 1], lit) == 0)
			free(lit);
		else
			bounds[n++] = lit;
	}
	PQclear(res);
	return n;
}

/*
 * bucket_sql: per bucket of bounds[0..nb) within r: the rows' count and
 * checksum on side s, one row per bucket that has rows.  The buckets are
 * grouped from a subquery kept whole (OFFSET 0): the planner then expects
 * few groups and hashes them, instead of sorting every row by its bucket.
 */
static char *
bucket_sql(const cmp_side *s, const range *r, char *const *bounds, int nb)
{
	char *where = where_sql(s, r);
	cli_buf b;

	cli_buf_init(&b);
	cli_buf_add(&b, "SELECT pgcm_b, pg_catalog.count(*), pg_catalog.sum(h) FROM (SELECT CASE");
	for (int i = 0; i < nb; i++)
		cli_buf_addf(&b, " WHEN (%s) OPERATOR(pg_catalog.<) %s THEN %d", s->key, bounds[i], i);
	cli_buf_addf(&b, " ELSE %d END AS pgcm_b, %s AS h FROM %s WHERE %s OFFSET 0) a GROUP BY pgcm_b", nb, s->hash,
	             s->from, where ? where : "");
	free(where);
	return where ? cli_buf_take(&b) : (cli_buf_free(&b), NULL);
}

/* bucket_at: the count and checksum of bucket i in res ("0", 0 when it has no rows). */
static const char *
bucket_at(const PGresult *res, int i, long long *count)
{
	for (int row = 0; row < PQntuples(res); row++)
		if (atoi(PQgetvalue(res, row, 0)) == i) {
			*count = atoll(PQgetvalue(res, row, 1));
			return PQgetvalue(res, row, 2);
		}
	*count = 0;
	return "0";
}

/*
 * narrow: split r at bounds[0..nb) and keep the first bucket that differs:
 * r, *cs and *ct become its range and counts.  Returns 1, 0 when no bucket
 * differs, -1 when the job failed.
 */
static int
narrow(cmp_job *j, range *r, char **bounds, int nb, long long *cs, long long *ct)
{
	char *ssql = bucket_sql(&j->sh.src, r, bounds, nb), *dsql = bucket_sql(&j->sh.dst, r, bounds, nb);
	PGresult *s = NULL, *d = NULL;
	int found = -1;

	if (!ssql || !dsql)
		oom(j);
	else if (cmp_pair(j, ssql, dsql, 0, NULL, &s, &d))
		found = 0;
	for (int i = 0; found == 0 && i <= nb; i++) {
		long long a, b;
		const char *sa = bucket_at(s, i, &a), *sb = bucket_at(d, i, &b);
		if (a == b && strcmp(sa, sb) == 0)
			continue;
		found = 1;
		*cs = a;
		*ct = b;
		if (i > 0) {
			free(r->lo);
			r->lo = bounds[i - 1];
			bounds[i - 1] = NULL;
		}
		if (i < nb) {
			free(r->hi);
			r->hi = bounds[i];
			bounds[i] = NULL;
		}
	}
	PQclear(s);
	PQclear(d);
	free(ssql);
	free(dsql);
	return found;
}

/* leaf_rows_sql: side s's rows of r grouped by key: keys, display, count, checksum. */
static char *
leaf_rows_sql(const cmp_shape *sh, const cmp_side *s, const range *r)
{
	char *where = where_sql(s, r);
	cli_buf b;

	cli_buf_init(&b);
	cli_buf_add(&b, "SELECT ");
	keys_sql(&b, sh, s, 0);
	cli_buf_add(&b, ", pgcm_d, pg_catalog.count(*) AS n, pg_catalog.sum(h) AS h FROM (SELECT ");
	keys_sql(&b, sh, s, 1);
	cli_buf_addf(&b, ", %s AS pgcm_d, %s AS h FROM %s WHERE %s) a GROUP BY ", s->display, s->hash, s->from,
	             where ? where : "");
	keys_sql(&b, sh, s, 0);
	cli_buf_add(&b, ", pgcm_d");
	free(where);
	return where ? cli_buf_take(&b) : (cli_buf_free(&b), NULL);
}

/* add_array_elem: v (or NULL) as an element of a text array literal being built in b. */
static void
add_array_elem(cli_buf *b, const char *v, int is_null)
{
	cli_buf_add(b, b->len > 1 ? "," : "");
	if (is_null) {
		cli_buf_add(b, "NULL");
		return;
	}
	cli_buf_add(b, "\"");
	for (const char *p = v; *p; p++) {
		if (*p == '"' || *p == '\\')
			cli_buf_add(b, "\\");
		cli_buf_addn(b, p, 1);
	}
	cli_buf_add(b, "\"");
}

/*
 * leaf_join_sql: the source's rows of r, grouped as the target's, joined
 * with the target's (given as nkey + 3 text arrays: keys, display, count,
 * checksum): the first key, in order, whose count or checksum differs.
 * Output: display, source count, target count, then the key columns.
 */
static char *
leaf_join_sql(const cmp_shape *sh, const range *r)
{
	char *rows = leaf_rows_sql(sh, &sh->src, r);
	cli_buf b;
	size_t k, nk = sh->nkey;

	cli_buf_init(&b);
	cli_buf_add(&b, "WITH t AS (SELECT * FROM ROWS FROM (");
	for (k = 0; k < nk + 3; k++)
		cli_buf_addf(&b, "%spg_catalog.unnest($%zu::pg_catalog.text[])", k ? ", " : "", k + 1);
	cli_buf_add(&b, ") AS t(");
	for (k = 0; k < nk; k++)
		cli_buf_addf(&b, "k%zu, ", k + 1);
	cli_buf_addf(&b, "d, n, h)), s AS (%s) SELECT COALESCE(s.pgcm_d, t.d), s.n, t.n", rows ? rows : "");
	for (k = 0; k < nk; k++)
		cli_buf_addf(&b, ", COALESCE(s.pgcm_k%zu, t.k%zu::%s%s)", k + 1, k + 1, sh->key_types[k],
		             sh->key_c[k] ? " COLLATE pg_catalog.\"C\"" : "");
	cli_buf_add(&b, " FROM s FULL JOIN t ON ");
	for (k = 0; k < nk; k++)
		cli_buf_addf(&b, "%ss.pgcm_k%zu OPERATOR(pg_catalog.=) t.k%zu::%s%s", k ? " AND " : "", k + 1, k + 1,
		             sh->key_types[k], sh->key_c[k] ? " COLLATE pg_catalog.\"C\"" : "");
	cli_buf_add(&b, " WHERE s.n IS DISTINCT FROM t.n::pg_catalog.int8 "
	                "OR s.h IS DISTINCT FROM t.h::pg_catalog.numeric ORDER BY ");
	for (k = 0; k < nk; k++)
		cli_buf_addf(&b, "%s%zu", k ? ", " : "", k + 4);
	cli_buf_add(&b, " LIMIT 1");
	free(rows);
	return rows ? cli_buf_take(&b) : (cli_buf_free(&b), NULL);
}

/* leaf_params: the target's grouped rows as nkey + 3 text array literals (malloc'd into params). */
static int
leaf_params(const PGresult *d, size_t ncols, char **params)
{
	int ok = 1;

	for (size_t c = 0; c < ncols; c++) {
		cli_buf b;
		cli_buf_init(&b);
		cli_buf_add(&b, "{");
		for (int row = 0; row < PQntuples(d); row++)
			add_array_elem(&b, PQgetvalue(d, row, (int) c), PQgetisnull(d, row, (int) c));
		cli_buf_add(&b, "}");
		if (!(params[c] = cli_buf_take(&b)))
			ok = 0;
	}
	return ok;
}

/* show: text for people, at most DISPLAY_MAX bytes (cut on a UTF-8 character boundary). */
static char *
show(const char *label, const char *d, int single)
{
	size_t len = strlen(d), cut = len;

	if (single && len >= 2 && d[0] == '(' && d[len - 1] == ')') {
		d++;
		len -= 2;
		cut = len;
	}
	if (cut > DISPLAY_MAX) {
		cut = DISPLAY_MAX;
		while (cut > 0 && ((unsigned char) d[cut] & 0xC0) == 0x80)
			cut--;
	}
	return label ? cli_strdup_printf("%s=%.*s%s", label, (int) cut, d, cut < len ? "..." : "")
	             : cli_strdup_printf("row %.*s%s", (int) cut, d, cut < len ? "..." : "");
}

/*
 * changed_columns: the key's row on both sides, column by column: the
 * names of those whose text (or NULL) differs.
 */
static void
changed_columns(cmp_job *j, const PGresult *hit)
{
	char *key = literal_row(j->src, &j->sh, hit, 0, 3), *sql[2] = {NULL, NULL};
	const cmp_side *sides[2] = {&j->sh.src, &j->sh.dst};
	PGresult *s = NULL, *d = NULL;
	cli_buf names;

	for (int i = 0; i < 2 && key; i++) {
		cli_buf b;
		cli_buf_init(&b);
		cli_buf_add(&b, "SELECT ");
		for (size_t c = 0; c < j->sh.ncols; c++)
			cli_buf_addf(&b, "%s%s", c ? ", " : "", sides[i]->cols[c]);
		cli_buf_addf(&b, "%sFROM %s WHERE %s AND (%s) OPERATOR(pg_catalog.=) %s LIMIT 1",
		             j->sh.ncols ? " " : "NULL ", sides[i]->from, sides[i]->notnull, sides[i]->key, key);
		sql[i] = cli_buf_take(&b);
	}
	cli_buf_init(&names);
	if (sql[0] && sql[1] && cmp_pair(j, sql[0], sql[1], 0, NULL, &s, &d) && PQntuples(s) == 1
	    && PQntuples(d) == 1) {
		for (size_t c = 0; c < j->sh.ncols; c++) {
			int col = (int) c;
			if (PQgetisnull(s, 0, col) == PQgetisnull(d, 0, col)
			    && strcmp(PQgetvalue(s, 0, col), PQgetvalue(d, 0, col)) == 0)
				continue;
			cli_buf_addf(&names, "%s%s", names.len ? ", " : "", j->sh.col_names[c]);
		}
		j->r->columns = cli_buf_take(&names);
	}
	cli_buf_free(&names);
	PQclear(s);
	PQclear(d);
	free(sql[0]);
	free(sql[1]);
	free(key);
}

/* leaf: compare range r key by key; the first difference goes into the result. */
static void
leaf(cmp_job *j, const range *r)
{
	char *dsql = leaf_rows_sql(&j->sh, &j->sh.dst, r), *ssql = leaf_join_sql(&j->sh, r);
	char *params[35] = {0};
	size_t np = j->sh.nkey + 3;
	PGresult *d = NULL, *hit = NULL;
	compare_result *res = j->r;

	if (!dsql || !ssql) {
		oom(j);
		goto cleanup;
	}
	/* The target's rows first, then the source joins them to its own. */
	if (!(d = cmp_dst_query(j, dsql, 0, NULL)))
		goto cleanup;
	if (!leaf_params(d, np, params)) {
		oom(j);
		goto cleanup;
	}
	if (!(hit = cmp_src_query(j, ssql, (int) np, (const char *const *) params)))
		goto cleanup;
	if (PQntuples(hit) == 0) {
		res->kind = DIFF_UNLOCATED;
		goto cleanup;
	}
	res->key = show(j->sh.key_label, PQgetvalue(hit, 0, 0), j->sh.keyed && !strchr(j->sh.key_label, ','));
	if (PQgetisnull(hit, 0, 1)) {
		res->kind = DIFF_EXTRA;
	} else if (PQgetisnull(hit, 0, 2)) {
		res->kind = DIFF_MISSING;
	} else if (strcmp(PQgetvalue(hit, 0, 1), PQgetvalue(hit, 0, 2)) != 0) {
		res->kind = DIFF_COPIES;
		res->source_copies = atoll(PQgetvalue(hit, 0, 1));
		res->target_copies = atoll(PQgetvalue(hit, 0, 2));
	} else {
		res->kind = DIFF_CHANGED;
		changed_columns(j, hit);
	}
cleanup:
	for (size_t i = 0; i < np && i < sizeof params / sizeof params[0]; i++)
		free(params[i]);
	PQclear(d);
	PQclear(hit);
	free(dsql);
	free(ssql);
}

/* describe: the outcome of a table that differs, in one line. */
static void
describe(cmp_job *j)
{
	compare_result *r = j->r;
	cli_buf b;

	cli_buf_init(&b);
	if (r->source_rows != r->target_rows)
		cli_buf_addf(&b, "%lld row%s on the source, %lld on the target", r->source_rows,
		             r->source_rows == 1 ? "" : "s", r->target_rows);
	else
		cli_buf_addf(&b, "%lld row%s on both, the checksums differ", r->source_rows, r->source_rows == 1 ? "" : "s");
	switch (r->kind) {
	case DIFF_NULL_KEY:
		cli_buf_addf(&b, "; the target has %lld row%s whose key %s is NULL", j->null_keys,
		             j->null_keys == 1 ? "" : "s", j->sh.key_label);
		break;
	case DIFF_MISSING:
		cli_buf_addf(&b, "; first difference at %s: missing on the target", r->key);
		break;
	case DIFF_EXTRA:
		cli_buf_addf(&b, "; first difference at %s: extra on the target", r->key);
		break;
	case DIFF_CHANGED:
		cli_buf_addf(&b, "; first difference at %s: changed%s%s%s", r->key, r->columns ? " (" : "",
		             r->columns ? r->columns : "", r->columns ? ")" : "");
		break;
	case DIFF_COPIES: {
		const char *what = j->sh.keyed ? (r->source_copies == 1 ? "row with this key" : "rows with this key")
		                               : (r->source_copies == 1 ? "copy of this row" : "copies of this row");
		cli_buf_addf(&b, "; first difference at %s: %lld %s on the source, %lld on the target", r->key,
		             r->source_copies, what, r->target_copies);
		break;
	}
	default:
		cli_buf_add(&b, "; no range of the key differs (did the data change during the comparison?)");
		r->kind = DIFF_UNLOCATED;
		break;
	}
	free(r->message);
	if (!(r->message = cli_buf_take(&b)))
		oom(j);
}

void
cmp_locate(cmp_job *j)
{
	range r = {NULL, NULL};
	long long cs = j->r->source_rows, ct = j->r->target_rows, big = -1;
	char *bounds[BUCKETS];
	int stuck;

	if (j->null_keys > 0) {
		j->r->kind = DIFF_NULL_KEY;
		describe(j);
		return;
	}
	for (int level = 0; level < MAX_LEVELS && j->active; level++) {
		int nb, found;
		/* A range that did not shrink holds one key many times: compare it key by key. */
		stuck = level > 0 && (cs > ct ? cs : ct) >= big;
		big = cs > ct ? cs : ct;
		if (big <= LEAF_ROWS || stuck) {
			leaf(j, &r);
			break;
		}
		if ((nb = pick_bounds(j, &r, cs >= ct, big, bounds)) <= 0) {
			if (nb == 0)
				leaf(j, &r);
			break;
		}
		found = narrow(j, &r, bounds, nb, &cs, &ct);
		for (int i = 0; i < nb; i++)
			free(bounds[i]);
		if (found <= 0) {
			if (found == 0)
				j->r->kind = DIFF_UNLOCATED;
			break;
		}
	}
	free(r.lo);
	free(r.hi);
	if (j->r->status == COMPARE_DIFFERS)
		describe(j);
}
