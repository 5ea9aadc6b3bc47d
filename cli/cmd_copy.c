/*
 * cmd_copy.c: `pgcopyman copy`: one source (a server, a file, stdin) to
 * many targets (servers, files, stdout).  The pieces are listed in copy.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "pgcopyman.h"
#include "cli.h"
#include "copy.h"
#include "progress.h"
#include "bulkload.h"

int
cli_copy(int argc, char **argv)
{
	copy_opts o;
	copy_endpoint src, dst[MAX_TARGETS];
	pgcm_copy *copies[MAX_JOBS] = {0};
	char *src_cmds[MAX_JOBS] = {0};
	pgcm_failure failure, first_failure = {0};
	pgcm_progress total = {0, 0};
	const char *format, *why, *source_error;
	double t0;
	int rc, loaded = 0, unknown = 0, aborted = 0, unverified = 0;
	copy_commit commit = {.lock_fd = -1};
	pgcm_format fmt;
	cli_progress *prog = NULL;
	pgcm_plan *plan = NULL;
	uint64_t est_rows, est_bytes;
	char bulk_reason[96];
	enum cli_progress_mode mode;

	rc = copy_parse_options(argc, argv, &o);
	if (rc != 0)
		return rc < 0 ? 0 : rc;
	memset(&src, 0, sizeof src);
	memset(dst, 0, sizeof dst);
	cli_catch_signals();
	t0 = cli_now();
	rc = EXIT_FAILED;

	/* Connect everything first: a target that cannot be reached fails the run before any load. */
	copy_classify(&src, o.from);
	for (int i = 0; i < o.nto; i++)
		copy_classify(&dst[i], o.to[i]);
	if (!copy_refuse_duplicate_files(dst, o.nto) || !copy_compress_check(&o, dst)) {
		rc = cli_usage_hint("copy");
		goto cleanup;
	}
	if (o.jobs > 1) {
		int servers = src.kind == EP_SERVER;
		for (int i = 0; i < o.nto; i++)
			servers &= dst[i].kind == EP_SERVER;
		if (!servers) {
			cli_error("--jobs needs a server as the source and as every target");
			rc = cli_usage_hint("copy");
			goto cleanup;
		}
	}
	if (!copy_open_source(&src, &o))
		goto cleanup;
	for (int i = 0; i < o.nto; i++)
		if (!copy_open_target(&dst[i], &o))
			goto cleanup;
	if ((src.kind != EP_SERVER) && !o.table && !o.target_table) {
		cli_error("loading a file needs --table or --target-table");
		rc = cli_usage_hint("copy");
		goto cleanup;
	}

	/*
	 * The plan: both catalogs read, every statement written, everything that
	 * can be known refused before any data moves.  A dry run shows it all.
	 */
	if (src.kind == EP_SERVER && o.table && !copy_check_source_table(&src, o.table))
		goto cleanup;
	if (!(plan = copy_make_plan(&o, &src, dst)))
		goto cleanup;
	if (pgcm_plan_problem_count(plan)) {
		if (o.dry_run || o.json)
			copy_print_plan(plan, &o, &src, dst, NULL);
		copy_print_problems(plan, !o.dry_run);
		goto cleanup;
	}
	if (!copy_refuse_duplicate_servers(dst, o.nto, plan)) {
		rc = cli_usage_hint("copy");
		goto cleanup;
	}
	pgcm_plan_format(plan, &fmt);
	format = fmt.kind == PGCM_FORMAT_BINARY ? "binary" : fmt.kind == PGCM_FORMAT_CSV ? "csv" : "text";
	why = pgcm_plan_format_reason(plan);
	if (src.kind == EP_SERVER && !copy_source_commands(&src, &o, plan, src_cmds))
		goto cleanup;
	for (int i = 0; i < o.nto; i++)
		if (dst[i].kind == EP_SERVER && !(dst[i].command = strdup(pgcm_plan_target_command(plan, (size_t) i)))) {
			cli_error("out of memory");
			goto cleanup;
		}
	/*
	 * What the commit needs (prepared transactions, the run's record) is
	 * refused now if missing; a dry run checks it too, and exits as the
	 * copy would.
	 */
	if (o.dry_run) {
		copy_print_plan(plan, &o, &src, dst, src_cmds);
		rc = copy_commit_prepare(&commit, dst, &o);
		goto cleanup;
	}
	if ((rc = copy_commit_prepare(&commit, dst, &o)) != 0)
		goto cleanup;
	rc = EXIT_FAILED;
	copy_estimate(plan, &o, &src, &est_rows, &est_bytes);
	if (!copy_verify_begin(&src, &o))
		goto cleanup;
	if (!copy_begin_targets(&commit, dst, &o)) {
		/* Said once already; a program still gets every target's status and why. */
		if (o.json)
			copy_print_json(&o, format, why, cli_now() - t0, total, dst, o.nto, 1, commit.abort_reason, NULL);
		goto cleanup;
	}

	for (int j = 0; j < o.jobs; j++)
		if (!(copies[j] = copy_new_stream(j, &src, src_cmds, dst, &o, &fmt))) {
			cli_error("out of memory");
			goto cleanup;
		}

	/*
	 * Progress on stderr: a live line on a terminal, plain lines with
	 * --progress, nothing with --quiet.  Not on a terminal that stdout, as a
	 * target, writes COPY data to.
	 */
	mode = o.quiet ? PROGRESS_QUIET : o.progress == 2 ? PROGRESS_JSON : o.progress ? PROGRESS_PLAIN
	                                                                                : PROGRESS_AUTO;
	for (int i = 0; i < o.nto; i++)
		if (mode == PROGRESS_AUTO && dst[i].kind == EP_STDIO && isatty(STDOUT_FILENO))
			mode = PROGRESS_QUIET;
	prog = cli_progress_new(stderr, mode, est_rows, est_bytes, o.nto);

	copy_run_streams(copies, o.jobs, &o, dst, prog);
	for (int j = 0; j < o.jobs; j++) {
		pgcm_status st = pgcm_copy_finish(copies[j], &failure);
		if (st != PGCM_OK && st != PGCM_FAULT && !aborted) {
			aborted = 1;
			first_failure = failure;
		}
		for (size_t i = 0; i < failure.nfaults; i++)
			copy_record_fault(dst, o.nto, &failure.faults[i], prog);
	}
	/*
	 * bulkload.c: on every loaded target, in its transaction, the deferred
	 * index work re-created and the sequences moved, before the end phase.
	 * A target that faults there is rolled back by it; under --on-fault
	 * abort, every target is.
	 */
	if (!bulkload_finish(dst, &o, &src, plan, aborted, prog) && o.on_fault_abort && !aborted) {
		int i = 0;
		while (i < o.nto - 1 && !dst[i].reported)
			i++;
		snprintf(bulk_reason, sizeof bulk_reason, "--on-fault abort: target %d faulted at the end of its load",
		         i + 1);
		aborted = 1;
		first_failure.reason = bulk_reason;
		first_failure.producer_error = NULL;
	}
	cli_progress_finish(prog);
	total = copy_totals(copies, o.jobs);

	/* Commit a target only if all its streams completed and the copy as a whole did not abort. */
	copy_settle_targets(&commit, dst, &o, aborted, aborted ? first_failure.reason : NULL);
	if (!aborted && commit.abort_reason) {
		aborted = 1;
		first_failure.reason = commit.abort_reason;
		first_failure.producer_error = NULL;
	}
	for (int i = 0; i < o.nto; i++) {
		loaded += strcmp(dst[i].status, "ok") == 0;
		unknown += strcmp(dst[i].status, "unknown") == 0;
	}
	if (o.verify && !aborted && (unverified = copy_verify(&o, plan, &src, dst)) > 0)
		cli_error("--verify: %d target%s not the same as the source", unverified, unverified == 1 ? " is" : "s are");
	/* A compressed source's own reason (the file, cut short or corrupt) over the callback's. */
	source_error = codec_reader_error(src.reader)[0] ? codec_reader_error(src.reader)
	               : first_failure.producer_error;
	if (aborted && codec_reader_error(src.reader)[0]) {
		cli_error("copy aborted: %s", source_error);   /* it names the file and what is wrong with it */
	} else if (aborted) {
		const char *reason = first_failure.reason ? first_failure.reason : "aborted";
		int show = source_error && !strstr(reason, source_error);
		cli_error("copy aborted: %s%s%s", reason, show ? ": " : "", show ? source_error : "");
	}
	if (o.json)
		copy_print_json(&o, format, why, cli_now() - t0, total, dst, o.nto, aborted,
		                first_failure.reason, source_error);
	if (!o.quiet && !o.json) {
		copy_print_summary(&o, format, cli_now() - t0, total, dst, o.nto);
		for (int i = 0; i < o.nto; i++)
			bulkload_print_summary(stderr, &dst[i]);
	}
	rc = unknown ? EXIT_UNKNOWN : loaded == o.nto ? EXIT_LOADED : loaded > 0 ? EXIT_PARTIAL : EXIT_FAILED;
	if (rc == EXIT_LOADED && unverified > 0)
		rc = EXIT_VERIFY;

cleanup:
	/* The failure report's strings live in the copies: print before this. */
	for (int j = 0; j < MAX_JOBS; j++) {
		pgcm_copy_free(copies[j]);
		free(src_cmds[j]);
	}
	cli_progress_free(prog);
	pgcm_plan_free(plan);
	copy_endpoint_close(&src);
	for (int i = 0; i < o.nto; i++) {
		bulkload_free(&dst[i]);
		copy_endpoint_close(&dst[i]);
	}
	copy_commit_free(&commit);
	return rc;
}
