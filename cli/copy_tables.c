/*
 * copy_tables.c: the tables of a many-table copy, their plans, and the
 * order the targets' foreign keys allow (the rules are in copy_tables.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "copy_tables.h"

int
copy_tables_select(copy_tables *ct, tablesel *sel, PGconn *src, int nto)
{
	char *err = NULL;
	size_t n = 0;

	memset(ct, 0, sizeof *ct);
	ct->nto = nto;
	if (!tablesel_resolve(sel, src, &err)) {
		cli_error("selecting the tables: %s", err ? err : "out of memory");
		free(err);
		return 0;
	}
	for (size_t i = 0; i < sel->nwarnings; i++)
		cli_error("WARNING: %s", sel->warnings[i]);
	if (!(ct->t = calloc(tablesel_units(sel), sizeof *ct->t))) {
		cli_error("out of memory");
		return 0;
	}
	for (size_t i = 0; i < sel->ntables; i++) {
		if (sel->tables[i].covered_by >= 0)
			continue;
		ct->t[n].sel = &sel->tables[i];
		if (!(ct->t[n++].at = calloc((size_t) nto, sizeof(table_outcome)))) {
			ct->n = n;
			cli_error("out of memory");
			return 0;
		}
	}
	ct->n = n;
	return 1;
}

/* A foreign key between two of the run's tables, on one target. */
typedef struct fkey {
	size_t child, parent;     /* indexes into ct->t */
	int deferrable;
	char *schema, *name;      /* the constraint (its table's schema) */
} fkey;

/* find_table: the index of schema.name among the run's tables (a partition: its table's); -1 if none. */
static long
find_table(const copy_tables *ct, const char *schema, const char *name)
{
	for (size_t i = 0; i < ct->n; i++) {
		const tablesel_table *t = ct->t[i].sel;
		if (strcmp(t->schema, schema) == 0 && strcmp(t->name, name) == 0)
			return (long) i;
	}
	return -1;
}

/*
 * read_fkeys: the foreign keys of target conn whose table and referenced
 * table are both in the run, appended to *keys.  Partitions' clones of a
 * partitioned table's key are left out (conparentid): the key itself is on
 * the partitioned table.  1, or 0 with the error printed.
 */
static int
read_fkeys(const copy_tables *ct, PGconn *conn, int target, const char *label, fkey **keys, size_t *nkeys)
{
	PGresult *res = PQexec(conn,
	                       "SELECT n.nspname, r.relname, fn.nspname, f.relname, c.conname, c.condeferrable "
	                       "FROM pg_constraint c JOIN pg_class r ON r.oid = c.conrelid "
	                       "JOIN pg_namespace n ON n.oid = r.relnamespace "
	                       "JOIN pg_class f ON f.oid = c.confrelid JOIN pg_namespace fn ON fn.oid = f.relnamespace "
	                       "WHERE c.contype = 'f' AND c.conparentid = 0 ORDER BY 1, 2, 5");
	int ok = PQresultStatus(res) == PGRES_TUPLES_OK;

	if (!ok)
		cli_error("target %d (%s): cannot read its foreign keys: %s", target, label, PQresultErrorMessage(res));
	for (int r = 0; ok && r < PQntuples(res); r++) {
		long child = find_table(ct, PQgetvalue(res, r, 0), PQgetvalue(res, r, 1));
		long parent = find_table(ct, PQgetvalue(res, r, 2), PQgetvalue(res, r, 3));
		fkey *grown, *k;

		if (child < 0 || parent < 0)
			continue;
		if (!(grown = realloc(*keys, (*nkeys + 1) * sizeof *grown))) {
			ok = 0;
			cli_error("out of memory");
			break;
		}
		*keys = grown;
		k = &grown[(*nkeys)++];
		k->child = (size_t) child;
		k->parent = (size_t) parent;
		k->deferrable = strcmp(PQgetvalue(res, r, 5), "t") == 0;
		k->schema = strdup(PQgetvalue(res, r, 0));
		k->name = strdup(PQgetvalue(res, r, 4));
		if (!k->schema || !k->name) {
			ok = 0;
			cli_error("out of memory");
		}
	}
	PQclear(res);
	return ok;
}

static void
free_fkeys(fkey *keys, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(keys[i].schema);
		free(keys[i].name);
	}
	free(keys);
}

/* Tarjan's strongly connected components over the tables, edges child -> parent. */
typedef struct scc_state {
	const fkey *keys;
	size_t nkeys;
	long *index, *low, *comp;  /* per table; comp: its component */
	size_t *stack;
	int *on_stack;
	size_t sp;
	long next_index, ncomp;
} scc_state;

/* strongconnect: Tarjan's recursion from table v (depth at most the number of tables). */
static void
strongconnect(scc_state *s, size_t v)
{
	s->index[v] = s->low[v] = s->next_index++;
	s->stack[s->sp++] = v;
	s->on_stack[v] = 1;
	for (size_t k = 0; k < s->nkeys; k++) {
		size_t w = s->keys[k].parent;
		if (s->keys[k].child != v)
			continue;
		if (s->index[w] < 0) {
			strongconnect(s, w);
			if (s->low[w] < s->low[v])
				s->low[v] = s->low[w];
		} else if (s->on_stack[w] && s->index[w] < s->low[v]) {
			s->low[v] = s->index[w];
		}
	}
	if (s->low[v] == s->index[v]) {
		size_t w;
		do {
			w = s->stack[--s->sp];
			s->on_stack[w] = 0;
			s->comp[w] = s->ncomp;
		} while (w != v);
		s->ncomp++;
	}
}

/*
 * cycle_tables: the names of the tables of component c, "a, b and c"
 * (malloc'd; NULL when out of memory).
 */
static char *
cycle_tables(const copy_tables *ct, const long *comp, long c)
{
	cli_buf b;
	size_t count = 0, seen = 0;

	for (size_t i = 0; i < ct->n; i++)
		count += comp[i] == c;
	cli_buf_init(&b);
	for (size_t i = 0; i < ct->n; i++) {
		if (comp[i] != c)
			continue;
		seen++;
		cli_buf_addf(&b, "%s%s", seen == 1 ? "" : seen == count ? " and " : ", ", ct->t[i].sel->qualified);
	}
	return cli_buf_take(&b);
}

/*
 * check_cycles: every foreign key inside a cycle of tables must be
 * deferrable (refused otherwise, naming it); those are added to their
 * target's SET CONSTRAINTS ... DEFERRED.  1, or 0 (printed).
 */
static int
check_cycles(copy_tables *ct, const long *comp, fkey *const *keys, const size_t *nkeys, copy_endpoint *dst)
{
	for (int i = 0; i < ct->nto; i++) {
		cli_buf set;
		int any = 0;

		cli_buf_init(&set);
		cli_buf_addf(&set, "SET CONSTRAINTS ");
		for (size_t k = 0; k < nkeys[i]; k++) {
			const fkey *f = &keys[i][k];
			char *qs, *qn, *tables;

			if (f->child == f->parent || comp[f->child] != comp[f->parent])
				continue;
			if (!f->deferrable) {
				tables = cycle_tables(ct, comp, comp[f->child]);
				cli_error("tables %s reference each other through foreign keys on target %d (%s), and the "
				          "constraint \"%s\" of %s is not DEFERRABLE: no load order satisfies it. Make it "
				          "deferrable on the target (ALTER TABLE %s ALTER CONSTRAINT \"%s\" DEFERRABLE), or "
				          "leave one of these tables out (-T) and copy it in a run of its own with the "
				          "constraint dropped and re-created afterwards. Nothing was copied.",
				          tables ? tables : "(out of memory)", i + 1, dst[i].label, f->name,
				          ct->t[f->child].sel->qualified, ct->t[f->child].sel->qualified, f->name);
				free(tables);
				cli_buf_free(&set);
				return 0;
			}
			qs = PQescapeIdentifier(dst[i].conns[0], f->schema, strlen(f->schema));
			qn = PQescapeIdentifier(dst[i].conns[0], f->name, strlen(f->name));
			if (qs && qn)
				cli_buf_addf(&set, "%s%s.%s", any++ ? ", " : "", qs, qn);
			PQfreemem(qs);
			PQfreemem(qn);
			if (!qs || !qn) {
				cli_error("out of memory");
				cli_buf_free(&set);
				return 0;
			}
		}
		cli_buf_addf(&set, " DEFERRED");
		if (any && !(ct->deferred[i] = cli_buf_take(&set))) {
			cli_error("out of memory");
			return 0;
		}
		if (!ct->deferred[i])
			cli_buf_free(&set);
	}
	return 1;
}

/*
 * emit_order: the components in an order where each comes after those its
 * tables reference (Kahn's algorithm on the components, the earliest ready
 * by its first table's place in the selection), each component's tables in
 * selection order; ct->t rearranged so.  1, or 0 when out of memory.
 */
static int
emit_order(copy_tables *ct, const long *comp, long ncomp, fkey *const *keys, const size_t *nkeys)
{
	long *waiting = calloc((size_t) ncomp, sizeof *waiting), *first = malloc((size_t) ncomp * sizeof *first);
	int *done = calloc((size_t) ncomp, sizeof *done);
	copy_table *order = calloc(ct->n, sizeof *order);
	size_t n = 0;
	int ok = waiting && first && done && order;

	for (long c = 0; ok && c < ncomp; c++)
		first[c] = -1;
	for (size_t t = 0; ok && t < ct->n; t++)
		if (first[comp[t]] < 0)
			first[comp[t]] = (long) t;
	for (int i = 0; ok && i < ct->nto; i++)
		for (size_t k = 0; k < nkeys[i]; k++)
			if (comp[keys[i][k].child] != comp[keys[i][k].parent])
				waiting[comp[keys[i][k].child]]++;
	while (ok && n < ct->n) {
		long pick = -1;
		for (long c = 0; c < ncomp; c++)
			if (!done[c] && waiting[c] == 0 && (pick < 0 || first[c] < first[pick]))
				pick = c;
		if (pick < 0) {
			ok = 0;  /* cannot be: the components form no cycle */
			break;
		}
		done[pick] = 1;
		for (size_t t = 0; t < ct->n; t++)
			if (comp[t] == pick)
				order[n++] = ct->t[t];
		for (int i = 0; i < ct->nto; i++)
			for (size_t k = 0; k < nkeys[i]; k++)
				if (comp[keys[i][k].parent] == pick && comp[keys[i][k].child] != pick)
					waiting[comp[keys[i][k].child]]--;
	}
	if (ok)
		memcpy(ct->t, order, ct->n * sizeof *order);
	else
		cli_error("out of memory");
	free(waiting);
	free(first);
	free(done);
	free(order);
	return ok;
}

/* find_root: union-find's root of table t, with the path halved. */
static size_t
find_root(size_t *up, size_t t)
{
	while (up[t] != t) {
		up[t] = up[up[t]];
		t = up[t];
	}
	return t;
}

/*
 * components: number the tables linked by foreign keys (either way, on any
 * target) into ct->t[].component and ct->ncomponents.  1, or 0 when out of memory.
 */
static int
components(copy_tables *ct, const fkey *keys, size_t nkeys)
{
	size_t *up = malloc(ct->n * sizeof *up), *id = malloc(ct->n * sizeof *id);

	if (!up || !id) {
		free(up);
		free(id);
		cli_error("out of memory");
		return 0;
	}
	for (size_t t = 0; t < ct->n; t++) {
		up[t] = t;
		id[t] = (size_t) -1;
	}
	for (size_t k = 0; k < nkeys; k++)
		up[find_root(up, keys[k].child)] = find_root(up, keys[k].parent);
	ct->ncomponents = 0;
	for (size_t t = 0; t < ct->n; t++) {
		size_t root = find_root(up, t);
		if (id[root] == (size_t) -1)
			id[root] = ct->ncomponents++;
		ct->t[t].component = id[root];
	}
	free(up);
	free(id);
	return 1;
}

int
copy_tables_order(copy_tables *ct, copy_endpoint *dst, int nto)
{
	fkey *keys[MAX_TARGETS] = {0}, *all = NULL;
	size_t nkeys[MAX_TARGETS] = {0}, nall = 0;
	scc_state s = {0};
	int ok = 1;

	for (int i = 0; ok && i < nto; i++)
		ok = read_fkeys(ct, dst[i].conns[0], i + 1, dst[i].label, &keys[i], &nkeys[i]);
	/* The components are those of every target's keys together: one order serves all targets. */
	for (int i = 0; ok && i < nto; i++)
		nall += nkeys[i];
	if (ok && nall && !(all = malloc(nall * sizeof *all)))
		ok = 0;
	nall = 0;
	for (int i = 0; ok && i < nto; i++)
		for (size_t k = 0; k < nkeys[i]; k++) {
			all[nall++] = keys[i][k];
			if (keys[i][k].child == keys[i][k].parent)
				ct->t[keys[i][k].child].self_reference = 1;
		}
	s.keys = all;
	s.nkeys = nall;
	s.index = malloc(ct->n * sizeof *s.index);
	s.low = malloc(ct->n * sizeof *s.low);
	s.comp = malloc(ct->n * sizeof *s.comp);
	s.stack = malloc(ct->n * sizeof *s.stack);
	s.on_stack = calloc(ct->n, sizeof *s.on_stack);
	if (ok && (!s.index || !s.low || !s.comp || !s.stack || !s.on_stack)) {
		cli_error("out of memory");
		ok = 0;
	}
	for (size_t t = 0; ok && t < ct->n; t++)
		s.index[t] = -1;
	for (size_t t = 0; ok && t < ct->n; t++)
		if (s.index[t] < 0)
			strongconnect(&s, t);
	ok = ok && components(ct, all, nall) && check_cycles(ct, s.comp, keys, nkeys, dst)
	     && emit_order(ct, s.comp, s.ncomp, keys, nkeys);
	free(s.index);
	free(s.low);
	free(s.comp);
	free(s.stack);
	free(s.on_stack);
	free(all);
	for (int i = 0; i < nto; i++)
		free_fkeys(keys[i], nkeys[i]);
	return ok;
}

long
copy_tables_plan(copy_tables *ct, const copy_opts *o, const copy_endpoint *src, const copy_endpoint *dst)
{
	long problems = 0;

	for (size_t t = 0; t < ct->n; t++) {
		copy_opts one = *o;

		one.table = ct->t[t].sel->qualified;
		if (!(ct->t[t].plan = copy_make_plan(&one, src, dst)))
			return -1;
		problems += (long) pgcm_plan_problem_count(ct->t[t].plan);
	}
	return problems;
}

int
copy_tables_lanes(copy_tables *ct, int jobs)
{
	uint64_t *size = calloc(ct->ncomponents, sizeof *size), load[MAX_JOBS] = {0};
	int *lane = malloc(ct->ncomponents * sizeof *lane), used[MAX_JOBS], nlanes = 0;

	if (!size || !lane) {
		/* Out of memory: one lane, as without --jobs. */
		for (size_t t = 0; t < ct->n; t++)
			ct->t[t].lane = 0;
		free(size);
		free(lane);
		return 1;
	}
	for (size_t t = 0; t < ct->n; t++)
		size[ct->t[t].component] += ct->t[t].estimate + 1;
	for (int j = 0; j < MAX_JOBS; j++)
		used[j] = -1;
	for (size_t done = 0; done < ct->ncomponents; done++) {
		size_t big = 0;
		int to = 0;
		/* The largest component not yet placed (sizes of placed ones are set to 0 below). */
		for (size_t c = 1; c < ct->ncomponents; c++)
			if (size[c] > size[big])
				big = c;
		for (int j = 1; j < jobs; j++)
			if (load[j] < load[to])
				to = j;
		load[to] += size[big];
		size[big] = 0;
		if (used[to] < 0)
			used[to] = nlanes++;
		lane[big] = used[to];
	}
	for (size_t t = 0; t < ct->n; t++)
		ct->t[t].lane = lane[ct->t[t].component];
	free(size);
	free(lane);
	return nlanes > 0 ? nlanes : 1;
}

void
copy_tables_free(copy_tables *ct)
{
	for (size_t t = 0; t < ct->n; t++) {
		pgcm_plan_free(ct->t[t].plan);
		for (int i = 0; ct->t[t].at && i < ct->nto; i++) {
			seq_results_free(ct->t[t].at[i].seqs, ct->t[t].at[i].nseqs);
			free(ct->t[t].at[i].seq_warning);
			free(ct->t[t].at[i].verify_message);
		}
		free(ct->t[t].at);
	}
	free(ct->t);
	for (int i = 0; i < MAX_TARGETS; i++)
		free(ct->deferred[i]);
	memset(ct, 0, sizeof *ct);
}
