/*
 * bulkload_report.c: what the work around a target's COPY did, for the
 * summaries: the members of the target's JSON object, and the human lines.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "bulkload.h"

/* json_seconds: `, "key": 1.234`. */
static void
json_seconds(FILE *f, const char *key, double s)
{
	fprintf(f, ", \"%s\": %.3f", key, s);
}

/* print_deferral_json: the "bulk_load" member. */
static void
print_deferral_json(FILE *f, const bulkload *b)
{
	const deferral *d = b->def;

	fprintf(f, ", \"bulk_load\": {\"freeze\": %s", b->freeze ? "true" : "false");
	if (b->not_deferred) {
		fprintf(f, ", \"not_deferred\": ");
		cli_json_string(f, b->not_deferred);
	}
	fprintf(f, ", \"deferred\": [");
	for (size_t i = 0; d && i < d->nobjects; i++) {
		fprintf(f, "%s{\"name\": ", i ? ", " : "");
		cli_json_string(f, d->objects[i].name);
		fprintf(f, ", \"kind\": ");
		cli_json_string(f, d->objects[i].kind);
		json_seconds(f, "seconds", d->objects[i].seconds);
		fputc('}', f);
	}
	fprintf(f, "], \"kept\": [");
	for (size_t i = 0; d && i < d->nkept; i++) {
		fprintf(f, "%s{\"name\": ", i ? ", " : "");
		cli_json_string(f, d->kept[i].name);
		fprintf(f, ", \"why\": ");
		cli_json_string(f, d->kept[i].why);
		fputc('}', f);
	}
	fputc(']', f);
	if (b->work_mem) {
		fprintf(f, ", \"maintenance_work_mem\": ");
		cli_json_string(f, b->work_mem);
	}
	json_seconds(f, "drop_seconds", b->drop_seconds);
	json_seconds(f, "load_seconds", b->load_seconds);
	json_seconds(f, "rebuild_seconds", b->rebuild_seconds);
	fprintf(f, ", \"rebuilt\": %s}", b->rebuilt ? "true" : "false");
}

/* print_sequences_json: the "sequences" member. */
static void
print_sequences_json(FILE *f, const bulkload *b)
{
	fprintf(f, ", \"sequences\": [");
	for (size_t i = 0; i < b->nseqs; i++) {
		const seq_result *s = &b->seqs[i];
		fprintf(f, "%s{\"column\": ", i ? ", " : "");
		cli_json_string(f, s->column);
		fprintf(f, ", \"sequence\": ");
		cli_json_string(f, s->sequence);
		fprintf(f, ", \"set\": %s", s->next ? "true" : "false");
		if (s->next)
			fprintf(f, ", \"next\": %s", s->next);
		else {
			fprintf(f, ", \"why\": ");
			cli_json_string(f, s->why);
		}
		fputc('}', f);
	}
	fputc(']', f);
	if (b->seq_warning) {
		fprintf(f, ", \"sequences_warning\": ");
		cli_json_string(f, b->seq_warning);
	}
}

void
bulkload_print_json(FILE *f, const copy_endpoint *e)
{
	const bulkload *b = e->bulk;

	if (!b)
		return;
	if (b->replaced)
		print_deferral_json(f, b);
	/* The sequences moved in the load's transaction: only a target that committed has them moved. */
	if ((b->seq_checked || b->seq_warning) && e->status && strcmp(e->status, "ok") == 0)
		print_sequences_json(f, b);
}

/* count_words: "3 indexes and 1 foreign key" into buf. */
static void
count_words(const deferral *d, char *buf, size_t size)
{
	size_t ni = defer_count(d, 0), nf = defer_count(d, 1);

	if (ni && nf)
		snprintf(buf, size, "%zu index%s and %zu foreign key%s", ni, ni == 1 ? "" : "es", nf, nf == 1 ? "" : "s");
	else if (nf)
		snprintf(buf, size, "%zu foreign key%s", nf, nf == 1 ? "" : "s");
	else
		snprintf(buf, size, "%zu index%s", ni, ni == 1 ? "" : "es");
}

void
bulkload_print_summary(FILE *f, const copy_endpoint *e)
{
	const bulkload *b = e->bulk;
	const deferral *d = b ? b->def : NULL;

	if (!b || !e->status || strcmp(e->status, "ok") != 0)
		return;
	if (b->not_deferred)
		fprintf(f, "pgcopyman: target %s: indexes not deferred: %s%s\n", e->label, b->not_deferred,
		        b->freeze ? " (COPY FREEZE)" : "");
	else if (d && d->nobjects) {
		char what[96];
		count_words(d, what, sizeof what);
		fprintf(f, "pgcopyman: target %s: %s deferred and re-created in %.2f s (COPY FREEZE%s%s%s)\n",
		        e->label, what, b->rebuild_seconds, b->freeze ? "" : " not possible",
		        b->work_mem ? ", maintenance_work_mem " : "", b->work_mem ? b->work_mem : "");
	} else if (b->replaced && b->freeze)
		fprintf(f, "pgcopyman: target %s: no index to defer (COPY FREEZE)\n", e->label);
	for (size_t i = 0; d && i < d->nkept; i++)
		fprintf(f, "pgcopyman: target %s: %s not deferred: %s\n", e->label, d->kept[i].name, d->kept[i].why);
	for (size_t i = 0; i < b->nseqs; i++) {
		const seq_result *s = &b->seqs[i];
		if (s->next)
			fprintf(f, "pgcopyman: target %s: sequence %s (column %s) moved forward: its next value is %s, "
			        "as on the source\n", e->label, s->sequence, s->column, s->next);
		else
			fprintf(f, "pgcopyman: target %s: sequence %s (column %s) left as it is: %s\n", e->label,
			        s->sequence, s->column, s->why);
	}
	if (b->seq_warning)
		fprintf(f, "pgcopyman: target %s: sequences not moved: %s\n", e->label, b->seq_warning);
}
