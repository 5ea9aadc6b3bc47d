/*
 * copy_verify.c: `copy --verify`: after the targets committed, compare the
 * copied table on every server target that loaded with the source, as
 * `pgcopyman compare` does (compare.h), under the very snapshot the copy
 * read: the source's first session holds it in its transaction (begun here
 * before the copy, or by the --jobs split, which shares it), so rows the
 * source gained or lost meanwhile do not count.
 */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "compare.h"
#include "copy.h"

/*
 * copy_verify_begin: with --verify and one stream, the source's session
 * reads in a REPEATABLE READ transaction, so that the copy and the
 * comparison see one snapshot (--jobs begins its own, shared by every
 * stream).  Returns 1, or 0 (printed).
 */
int
copy_verify_begin(copy_endpoint *src, const copy_opts *o)
{
	char *err = NULL;

	if (!o->verify || o->jobs > 1 || src->kind != EP_SERVER)
		return 1;
	if (compare_begin_source(src->conns[0], NULL, NULL, &err))
		return 1;
	cli_error("source %s: cannot begin the read --verify needs: %s", src->label, err ? err : "out of memory");
	free(err);
	return 0;
}

/* set_verify: a target's verification outcome, in words. */
static void
set_verify(copy_endpoint *e, const char *status, const char *message)
{
	e->verify = status;
	free(e->verify_message);
	e->verify_message = strdup(message ? message : "");
}

/*
 * copy_verify: compare the table on each server target that loaded (its
 * first session, idle after its commit, begins a read) with the source's
 * snapshot.  Sets each target's verify and verify_message; returns how
 * many targets are not proven the same (differ, could not be compared).
 */
int
copy_verify(const copy_opts *o, const pgcm_plan *plan, copy_endpoint *src, copy_endpoint *dst)
{
	PGconn *conns[MAX_TARGETS];
	compare_result results[MAX_TARGETS];
	size_t which[MAX_TARGETS];
	int n = 0, bad = 0;
	compare_request req = {.display = pgcm_plan_source_name(plan),
	                       .target_table = o->target_table ? o->target_table : o->table,
	                       .columns = o->columns, .qualified = pgcm_plan_source_table(plan), .numbers = which,
	                       .stop = &cli_interrupted};
	char *err = NULL;

	for (int i = 0; i < o->nto; i++) {
		if (dst[i].kind != EP_SERVER) {
			set_verify(&dst[i], "skipped", "a file or stdout is not compared");
			continue;
		}
		if (strcmp(dst[i].status, "ok") != 0) {
			set_verify(&dst[i], "skipped", "the target did not load");
			continue;
		}
		if (!compare_begin_target(dst[i].conns[0], &err)) {
			set_verify(&dst[i], "error", err ? err : "out of memory");
			bad++;
			free(err);
			err = NULL;
			continue;
		}
		which[n] = (size_t) i;
		conns[n++] = dst[i].conns[0];
	}
	if (n > 0)
		(void) compare_table(src->conns[0], conns, (size_t) n, &req, results, NULL);
	for (int k = 0; k < n; k++) {
		copy_endpoint *e = &dst[which[k]];
		set_verify(e, compare_status_name(results[k].status), results[k].message);
		bad += results[k].status != COMPARE_SAME;
		compare_result_clear(&results[k]);
		compare_end(e->conns[0]);
	}
	return bad;
}
