/*
 * copy_report.c: what the copy command says when it is done: a JSON summary
 * on stdout (--json) or a human summary on stderr (a line of totals, then
 * each target that did not load, with its reason).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "copy.h"
#include "bulkload.h"

void
copy_print_json(const copy_opts *o, const char *format, const char *why, double seconds,
           pgcm_progress total, copy_endpoint *dst, int ndst, int aborted, const char *reason,
           const char *source_error)
{
	printf("{\"rows\": %llu, \"bytes\": %llu, \"seconds\": %.3f, \"jobs\": %d, \"format\": ",
	       (unsigned long long) total.rows, (unsigned long long) total.bytes, seconds, o->jobs);
	cli_json_string(stdout, format);
	printf(", \"format_reason\": ");
	cli_json_string(stdout, why);
	printf(", \"targets\": [");
	for (int i = 0; i < ndst; i++) {
		printf("%s{\"target\": ", i ? ", " : "");
		cli_json_string(stdout, dst[i].label);
		printf(", \"status\": ");
		cli_json_string(stdout, dst[i].status);
		/* Rows committed on it; when that cannot be told, null, and what it would be. */
		if (strcmp(dst[i].status, "unknown") == 0)
			printf(", \"rows\": null, \"rows_if_committed\": %llu", (unsigned long long) dst[i].rows);
		else
			printf(", \"rows\": %llu", (unsigned long long) dst[i].rows);
		if (dst[i].reason) {
			printf(", \"reason\": ");
			cli_json_string(stdout, dst[i].reason);
		}
		if (dst[i].check) {
			printf(", \"check\": ");
			cli_json_string(stdout, dst[i].check);
		}
		if (dst[i].error) {
			printf(", \"error\": ");
			cli_json_string(stdout, dst[i].error);
		}
		if (dst[i].sqlstate[0]) {
			printf(", \"sqlstate\": ");
			cli_json_string(stdout, dst[i].sqlstate);
		}
		if (dst[i].verify) {
			printf(", \"verify\": {\"status\": ");
			cli_json_string(stdout, dst[i].verify);
			printf(", \"message\": ");
			cli_json_string(stdout, dst[i].verify_message ? dst[i].verify_message : "");
			printf("}");
		}
		bulkload_print_json(stdout, &dst[i]);
		printf("}");
	}
	printf("]");
	if (aborted) {
		printf(", \"aborted\": true, \"reason\": ");
		cli_json_string(stdout, reason ? reason : "aborted");
	}
	if (source_error) {
		printf(", \"source_error\": ");
		cli_json_string(stdout, source_error);
	}
	printf("}\n");
	fflush(stdout);
}

/*
 * copy_print_summary: the human summary on stderr: one line of totals, then
 * one line for each target that did not load, with its reason (and, when its
 * outcome is unknown, what to check), so that the reason is at the end of
 * the output whatever scrolled by during the copy.
 */
void
copy_print_summary(const copy_opts *o, const char *format, double seconds, pgcm_progress total,
                   const copy_endpoint *dst, int ndst)
{
	int loaded = 0, faulted = 0, unknown = 0;

	for (int i = 0; i < ndst; i++) {
		loaded += strcmp(dst[i].status, "ok") == 0;
		faulted += strcmp(dst[i].status, "faulted") == 0 || strcmp(dst[i].status, "partial") == 0;
		unknown += strcmp(dst[i].status, "unknown") == 0;
	}
	fprintf(stderr, "pgcopyman: %llu rows, %llu bytes in %.2f s (%.1f MB/s, %s%s): "
	        "%d of %d targets loaded",
	        (unsigned long long) total.rows, (unsigned long long) total.bytes, seconds,
	        seconds > 0 ? (double) total.bytes / seconds / 1e6 : 0.0, format,
	        o->jobs > 1 ? ", parallel" : "", loaded, ndst);
	if (faulted)
		fprintf(stderr, ", %d faulted", faulted);
	if (unknown)
		fprintf(stderr, ", %d unknown", unknown);
	fputc('\n', stderr);
	for (int i = 0; i < ndst; i++) {
		const copy_endpoint *e = &dst[i];
		const char *why = e->error ? e->error : e->reason;
		char *line;
		cli_buf b;

		if (strcmp(e->status, "ok") == 0)
			continue;
		cli_buf_init(&b);
		/* The library's messages name the receiver ("receiver 2 (label): ..."); the others get it here. */
		if (!why || strncmp(why, "receiver ", 9) != 0)
			cli_buf_addf(&b, "receiver %d (%s)", i + 1, e->label ? e->label : e->spec);
		if (strcmp(e->status, "partial") == 0)
			cli_buf_addf(&b, "%s%llu rows committed", b.len ? ", " : "", (unsigned long long) e->rows);
		if (why)
			cli_buf_addf(&b, "%s%s", b.len ? ": " : "", why);
		if (e->sqlstate[0])
			cli_buf_addf(&b, " (SQLSTATE %s)", e->sqlstate);
		if (e->check)
			cli_buf_addf(&b, "; %s", e->check);
		line = cli_buf_take(&b);
		cli_error("  %s: %s", e->status, line ? line : "(out of memory)");
		free(line);
	}
	for (int i = 0; i < ndst; i++) {
		int same;
		if (!dst[i].verify)
			continue;
		same = strcmp(dst[i].verify, "same") == 0;
		cli_error("  verify: target %d (%s): %s%s%s", i + 1, dst[i].label ? dst[i].label : dst[i].spec,
		          same ? "" : dst[i].verify, same ? "" : ": ", dst[i].verify_message ? dst[i].verify_message : "");
	}
}
