/*
 * copy_report.c: what the copy command says when it is done: a JSON summary
 * on stdout (--json) or a human summary on stderr (a line of totals, then
 * each faulted target with its reason).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "copy.h"

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
		printf(", \"rows\": %llu", (unsigned long long) dst[i].rows);
		if (dst[i].error) {
			printf(", \"error\": ");
			cli_json_string(stdout, dst[i].error);
		}
		if (dst[i].sqlstate[0]) {
			printf(", \"sqlstate\": ");
			cli_json_string(stdout, dst[i].sqlstate);
		}
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
 * one line for each faulted target with its reason, so that the reason is
 * at the end of the output whatever scrolled by during the copy.
 */
void
copy_print_summary(const copy_opts *o, const char *format, double seconds, pgcm_progress total,
                   const copy_endpoint *dst, int loaded, int faulted)
{
	fprintf(stderr, "pgcopyman: %llu rows, %llu bytes in %.2f s (%.1f MB/s, %s%s): "
	        "%d of %d targets loaded",
	        (unsigned long long) total.rows, (unsigned long long) total.bytes, seconds,
	        seconds > 0 ? (double) total.bytes / seconds / 1e6 : 0.0, format,
	        o->jobs > 1 ? ", parallel" : "", loaded, o->nto);
	if (faulted)
		fprintf(stderr, ", %d faulted", faulted);
	fputc('\n', stderr);
	for (int i = 0; i < o->nto; i++) {
		const char *err = dst[i].error ? dst[i].error : "no reason was given";
		const char *st = dst[i].sqlstate;

		if (!dst[i].status || strcmp(dst[i].status, "faulted") != 0)
			continue;
		/* The library's messages name the receiver ("receiver 2 (label): ..."); the others get it here. */
		if (strncmp(err, "receiver ", 9) == 0)
			cli_error("  faulted: %s%s%s%s", err, st[0] ? " (SQLSTATE " : "", st, st[0] ? ")" : "");
		else
			cli_error("  faulted: receiver %d (%s): %s%s%s%s", i + 1, dst[i].label ? dst[i].label : dst[i].spec,
			          err, st[0] ? " (SQLSTATE " : "", st, st[0] ? ")" : "");
	}
}
