/*
 * cmd_compare.c: `pgcopyman compare`: is each selected table (tablesel.h)
 * the same on every target as on the source?  One snapshot of the source
 * (REPEATABLE READ; its own, exported, or one given with --snapshot) and
 * one consistent read of each target serve every table; the engine is
 * compare.h.  Nothing is written anywhere.
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "compare.h"
#include "tablesel.h"

#define MAX_COMPARE_TARGETS 64

/* Exit statuses of compare (its own meanings: compare proves, it does not load). */
enum {
	COMPARE_EXIT_SAME = 0,       /* every table is the same on every target */
	COMPARE_EXIT_DIFFERS = 1,    /* some table differs on some target */
	COMPARE_EXIT_USAGE = 2,      /* usage error, or a selection that names nothing: nothing compared */
	COMPARE_EXIT_UNKNOWN = 3     /* nothing found different, but something could not be compared */
};

typedef struct compare_opts {
	const char *from;
	const char *to[MAX_COMPARE_TARGETS];
	int nto;
	const char *snapshot;
	int json, quiet;
} compare_opts;

/*
 * The sessions' cancel handles, for the signal handler: a comparison spends
 * its time in server queries, which a signal would otherwise wait for.
 * PQcancel is safe in a signal handler; the handles are set up before the
 * handler is installed and freed after it is removed.
 */
static PGcancel *cancels[MAX_COMPARE_TARGETS + 1];
static size_t ncancels;

/* on_signal: remember the signal and cancel whatever the servers are running for us. */
static void
on_signal(int sig)
{
	char errbuf[256];

	cli_interrupted = sig;
	for (size_t i = 0; i < ncancels; i++)
		if (cancels[i])
			(void) PQcancel(cancels[i], errbuf, sizeof errbuf);
}

/* catch_signals: SIGINT and SIGTERM cancel the running queries of src and dst[0..n); n < 0: restore. */
static void
catch_signals(PGconn *src, PGconn *const *dst, int n)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof sa);
	sigemptyset(&sa.sa_mask);
	if (n < 0) {
		sa.sa_handler = SIG_DFL;
		sigaction(SIGINT, &sa, NULL);
		sigaction(SIGTERM, &sa, NULL);
		for (size_t i = 0; i < ncancels; i++)
			PQfreeCancel(cancels[i]);
		ncancels = 0;
		return;
	}
	cancels[ncancels++] = PQgetCancel(src);
	for (int i = 0; i < n; i++)
		cancels[ncancels++] = PQgetCancel(dst[i]);
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}

/* One table's outcome on every target. */
typedef struct table_outcome {
	const tablesel_table *table;
	compare_result *results;     /* one per target */
	compare_key key;
} table_outcome;

static void
compare_usage(FILE *f)
{
	fprintf(f,
	        "Usage: pgcopyman compare --from SOURCE --to TARGET [--to TARGET ...] [selection] [options]\n"
	        "\n"
	        "Compare tables of the source with the same tables on every target: per table and target,\n"
	        "\"same\", or where they first differ (the row count, then a checksum computed on the servers,\n"
	        "then the first differing key, found by splitting the key's range).  Nothing is written.\n"
	        "\n"
	        "  SOURCE, TARGET          a libpq connection string or URI (PG* environment variables apply)\n"
	        "Selection (as pg_dump's; without any, every table of the source):\n"
	        "  -t, --table PATTERN     tables matching PATTERN (repeatable; then -n and -N do not apply)\n"
	        "  -n, --schema PATTERN    every table of the schemas matching PATTERN (repeatable)\n"
	        "  -T, --exclude-table PATTERN   not these tables (repeatable)\n"
	        "  -N, --exclude-schema PATTERN  not the tables of these schemas (repeatable)\n"
	        "                          PATTERN as psql reads it: * and ? are wildcards, \"quotes\" keep case\n"
	        "                          and make * ? . literal, SCHEMA.TABLE; without a schema, tables in\n"
	        "                          the search_path.  A -t or -n without wildcards that matches nothing\n"
	        "                          is an error\n"
	        "Options:\n"
	        "      --snapshot NAME     read the source under this exported snapshot (pg_export_snapshot()\n"
	        "                          of a transaction still open), e.g. the one a copy read\n"
	        "      --json              print the outcome as JSON on stdout\n"
	        "      --quiet             print only the tables that are not the same, and errors\n"
	        "  -W, --password          ask for a password before connecting (on the terminal)\n"
	        "  -w, --no-password       never ask for a password (by default a server that asks for one\n"
	        "                          none was given for gets a prompt on the terminal, once per server)\n"
	        "  -h, --help              show this help\n"
	        "\n"
	        "Values are compared as the target stores them: the source converts each to the target's column\n"
	        "type as the copy would (numeric to float8: the same when the target holds the nearest float8).\n"
	        "Rows are ordered by the primary key, else a unique index on NOT NULL columns, else the whole row.\n"
	        "\n"
	        "Exit status: 0 every table is the same on every target; 1 some table differs on some target;\n"
	        "2 usage error, or a selection that names no table; 3 nothing was found different but something\n"
	        "could not be compared (a connection or a server failed: see the messages).\n");
}

static const struct option compare_longopts[] = {
	{"from", required_argument, NULL, 'F'},
	{"to", required_argument, NULL, 'O'},
	{"table", required_argument, NULL, 't'},
	{"schema", required_argument, NULL, 'n'},
	{"exclude-table", required_argument, NULL, 'T'},
	{"exclude-schema", required_argument, NULL, 'N'},
	{"snapshot", required_argument, NULL, 's'},
	{"json", no_argument, NULL, 'j'},
	{"quiet", no_argument, NULL, 'q'},
	{"password", no_argument, NULL, 'W'},
	{"no-password", no_argument, NULL, 'w'},
	{"help", no_argument, NULL, 'h'},
	{NULL, 0, NULL, 0}
};

/* --from and --to carry connection strings: main.c scrubs them from the process title with these tables. */
static const int compare_conninfo_vals[] = {'F', 'O', 0};
const cli_optspec cli_compare_optspec = {":t:n:T:N:Wwh", compare_longopts, compare_conninfo_vals};

/*
 * usage_error: say what is wrong (known secrets masked, as in every message)
 * and point at --help, as psql does (the whole usage would bury the line).
 */
static int
usage_error(const char *what, const char *arg)
{
	cli_error("compare: %s%s%s%s", what, arg ? " \"" : "", arg ? arg : "", arg ? "\"" : "");
	return cli_usage_hint("compare");
}

/* parse: the options into *o and the patterns into *sel.  0, -1 (--help shown), or an exit status. */
static int
parse(int argc, char **argv, compare_opts *o, tablesel *sel)
{
	int ch;
	char *err = NULL;

	memset(o, 0, sizeof *o);
	opterr = 0;
	optind = 0;   /* glibc: a fresh scan (main.c's scrub ran getopt before) */
	while ((ch = getopt_long(argc, argv, cli_compare_optspec.shortopts, compare_longopts, NULL)) != -1) {
		enum tablesel_kind kind;
		switch (ch) {
		case 'F': o->from = optarg; continue;
		case 'O':
			if (o->nto == MAX_COMPARE_TARGETS)
				return usage_error("too many --to targets (at most 64)", NULL);
			o->to[o->nto++] = optarg;
			continue;
		case 's': o->snapshot = optarg; continue;
		case 'j': o->json = 1; continue;
		case 'q': o->quiet = 1; continue;
		case 'W': cli_password_set_mode(CLI_PASSWORD_ALWAYS); continue;
		case 'w': cli_password_set_mode(CLI_PASSWORD_NEVER); continue;
		case 'h': compare_usage(stdout); return -1;
		case 't': kind = TABLESEL_TABLE; break;
		case 'n': kind = TABLESEL_SCHEMA; break;
		case 'T': kind = TABLESEL_EXCLUDE_TABLE; break;
		case 'N': kind = TABLESEL_EXCLUDE_SCHEMA; break;
		case ':': return usage_error("this option needs a value:", argv[optind - 1]);
		default: return usage_error("unknown option", argv[optind - 1]);
		}
		if (!tablesel_add(sel, kind, optarg, &err)) {
			int rc = usage_error(err ? err : "out of memory", NULL);
			free(err);
			return rc;
		}
	}
	if (optind < argc)
		return usage_error("unexpected argument", argv[optind]);
	if (!o->from)
		return usage_error("--from is required", NULL);
	if (o->nto == 0)
		return usage_error("--to is required (one or more)", NULL);
	for (int i = -1; i < o->nto; i++) {
		const char *spec = i < 0 ? o->from : o->to[i];
		if (strcmp(spec, "-") == 0 || strncmp(spec, "file:", 5) == 0)
			return usage_error("compare reads servers only, not", spec);
	}
	return 0;
}

static double
now_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

/* print_line: one table on one target, for people, with what is worth knowing about how it was compared. */
static void
print_line(const table_outcome *t, int target, const compare_result *r, int quiet)
{
	int whole = t->key.desc && strncmp(t->key.desc, "no unique key", 13) == 0 && r->status != COMPARE_ERROR;
	int part = t->table->relkind == 'p';

	if (quiet && r->status == COMPARE_SAME)
		return;
	cli_out("%s, target %d: %s%s%s%s%s%s%s", t->table->qualified, target + 1,
	        r->status == COMPARE_SAME ? "" : r->status == COMPARE_DIFFERS ? "differs: " : "error: ", r->message,
	        part || whole ? " (" : "", part ? "a partitioned table: all its partitions" : "",
	        part && whole ? "; " : "", whole ? "no unique key: whole rows compared" : "", part || whole ? ")" : "");
}

/* json_number: a count, or null when not counted. */
static void
json_number(long long v)
{
	if (v < 0)
		fputs("null", stdout);
	else
		printf("%lld", v);
}

/* json_table: one table's outcome, as an element of "tables". */
static void
json_table(const tablesel *sel, const table_outcome *t, int nto)
{
	int first = 1;

	printf("{\"table\": ");
	cli_json_string(stdout, t->table->qualified);
	printf(", \"key\": ");
	cli_json_string(stdout, t->key.desc ? t->key.desc : "");
	printf(", \"partitions\": [");
	for (size_t i = 0; i < sel->ntables; i++) {
		if (sel->tables[i].covered_by < 0 || &sel->tables[sel->tables[i].covered_by] != t->table)
			continue;
		printf("%s", first ? "" : ", ");
		cli_json_string(stdout, sel->tables[i].qualified);
		first = 0;
	}
	printf("], \"targets\": [");
	for (int d = 0; d < nto; d++) {
		const compare_result *r = &t->results[d];
		printf("%s{\"target\": %d, \"status\": \"%s\", \"source_rows\": ", d ? ", " : "", d + 1,
		       compare_status_name(r->status));
		json_number(r->source_rows);
		printf(", \"target_rows\": ");
		json_number(r->target_rows);
		printf(", \"difference\": ");
		if (r->status != COMPARE_DIFFERS) {
			printf("null");
		} else {
			printf("{\"kind\": \"%s\", \"key\": ", compare_kind_name(r->kind));
			if (r->key)
				cli_json_string(stdout, r->key);
			else
				printf("null");
			printf(", \"columns\": ");
			if (r->columns)
				cli_json_string(stdout, r->columns);
			else
				printf("null");
			printf("}");
		}
		printf(", \"message\": ");
		cli_json_string(stdout, r->message ? r->message : "");
		printf(", \"seconds\": %.3f}", r->seconds);
	}
	printf("]}");
}

/* print_json: the whole outcome. */
static void
print_json(const compare_opts *o, const tablesel *sel, const table_outcome *out, size_t nout,
           const char *snapshot, double seconds, const int counts[3])
{
	printf("{\"same\": %s, \"snapshot\": ", counts[COMPARE_DIFFERS] + counts[COMPARE_ERROR] ? "false" : "true");
	if (snapshot)
		cli_json_string(stdout, snapshot);
	else
		printf("null");
	printf(", \"targets\": [");
	for (int d = 0; d < o->nto; d++) {
		char *label = cli_mask_conninfo(o->to[d]);
		printf("%s{\"target\": %d, \"label\": ", d ? ", " : "", d + 1);
		cli_json_string(stdout, label ? label : "?");
		printf("}");
		free(label);
	}
	printf("], \"tables\": [");
	for (size_t i = 0; i < nout; i++) {
		printf("%s", i ? ", " : "");
		json_table(sel, &out[i], o->nto);
	}
	printf("], \"summary\": {\"tables\": %zu, \"same\": %d, \"differs\": %d, \"errors\": %d}, "
	       "\"seconds\": %.3f}\n", nout, counts[COMPARE_SAME], counts[COMPARE_DIFFERS], counts[COMPARE_ERROR],
	       seconds);
	fflush(stdout);
}

/*
 * connect_all: the source and every target, pinned; the source's read
 * begun (under --snapshot, or its own exported snapshot) and each
 * target's.  Returns 1, or 0 (printed).
 */
static int
connect_all(const compare_opts *o, PGconn **src, PGconn **dst, char **snapshot)
{
	char *err = NULL, *label = cli_mask_conninfo(o->from);
	int ok = 1;

	if (!(*src = cli_connect_pinned(o->from, label ? label : "source"))) {
		free(label);
		return 0;
	}
	if (!compare_begin_source(*src, o->snapshot, o->snapshot ? NULL : snapshot, &err)) {
		cli_error("source %s: cannot begin the read%s%s: %s", label ? label : "",
		          o->snapshot ? " under snapshot " : "", o->snapshot ? o->snapshot : "", err ? err : "out of memory");
		ok = 0;
	}
	free(label);
	for (int i = 0; ok && i < o->nto; i++) {
		label = cli_mask_conninfo(o->to[i]);
		if (!(dst[i] = cli_connect_pinned(o->to[i], label ? label : "target"))) {
			ok = 0;
		} else if (!compare_begin_target(dst[i], &err)) {
			cli_error("target %d %s: cannot begin the read: %s", i + 1, label ? label : "",
			          err ? err : "out of memory");
			ok = 0;
		}
		free(label);
	}
	free(err);
	return ok;
}

/* compare_all: every selected table (partitions folded into their tables) on every target. */
static size_t
compare_all(const compare_opts *o, const tablesel *sel, PGconn *src, PGconn **dst, table_outcome *out,
            int counts[3])
{
	size_t n = 0;

	for (size_t i = 0; i < sel->ntables; i++) {
		const tablesel_table *tab = &sel->tables[i];
		compare_request req = {.schema = tab->schema, .name = tab->name, .display = tab->qualified,
		                       .stop = &cli_interrupted};
		table_outcome *t = &out[n];
		if (tab->covered_by >= 0)
			continue;
		t->table = tab;
		if (!(t->results = calloc((size_t) o->nto, sizeof *t->results))) {
			cli_error("out of memory");
			break;
		}
		n++;
		(void) compare_table(src, dst, (size_t) o->nto, &req, t->results, &t->key);
		for (int d = 0; d < o->nto; d++) {
			counts[t->results[d].status]++;
			if (!o->json)
				print_line(t, d, &t->results[d], o->quiet);
		}
		if (cli_interrupted) {
			cli_error("compare interrupted (signal %d): %zu of %zu tables compared, the last one cancelled",
			          cli_interrupted, n, tablesel_units(sel));
			break;
		}
	}
	return n;
}

int
cli_compare(int argc, char **argv)
{
	compare_opts o;
	tablesel sel;
	PGconn *src = NULL, *dst[MAX_COMPARE_TARGETS] = {0};
	table_outcome *out = NULL;
	char *snapshot = NULL, *err = NULL;
	int counts[3] = {0, 0, 0}, rc;
	size_t nout = 0;
	double t0 = now_seconds();

	tablesel_init(&sel);
	if ((rc = parse(argc, argv, &o, &sel)) != 0) {
		tablesel_free(&sel);
		return rc < 0 ? COMPARE_EXIT_SAME : rc;
	}
	cli_catch_signals();
	rc = COMPARE_EXIT_UNKNOWN;
	if (!connect_all(&o, &src, dst, &snapshot))
		goto cleanup;
	catch_signals(src, dst, o.nto);
	/* The selection is read inside the source's read: the tables its snapshot sees. */
	if (!tablesel_resolve(&sel, src, &err)) {
		cli_error("compare: %s", err ? err : "out of memory");
		rc = COMPARE_EXIT_USAGE;
		goto cleanup;
	}
	for (size_t i = 0; i < sel.nwarnings; i++)
		cli_error("warning: %s", sel.warnings[i]);
	if (!(out = calloc(tablesel_units(&sel), sizeof *out))) {
		cli_error("out of memory");
		goto cleanup;
	}
	nout = compare_all(&o, &sel, src, dst, out, counts);
	if (o.json)
		print_json(&o, &sel, out, nout, snapshot, now_seconds() - t0, counts);
	else if (!o.quiet)
		cli_out("compare: %zu table%s on %d target%s: %d same, %d differ%s, %d could not be compared (%.2f s)",
		        nout, nout == 1 ? "" : "s", o.nto, o.nto == 1 ? "" : "s", counts[COMPARE_SAME],
		        counts[COMPARE_DIFFERS], counts[COMPARE_DIFFERS] == 1 ? "s" : "", counts[COMPARE_ERROR],
		        now_seconds() - t0);
	rc = counts[COMPARE_DIFFERS] ? COMPARE_EXIT_DIFFERS
	     : counts[COMPARE_ERROR] || nout < tablesel_units(&sel) ? COMPARE_EXIT_UNKNOWN : COMPARE_EXIT_SAME;
cleanup:
	catch_signals(NULL, NULL, -1);
	for (size_t i = 0; i < nout; i++) {
		for (int d = 0; d < o.nto; d++)
			compare_result_clear(&out[i].results[d]);
		free(out[i].results);
		free(out[i].key.desc);
	}
	free(out);
	compare_end(src);
	PQfinish(src);
	for (int d = 0; d < o.nto; d++) {
		compare_end(dst[d]);
		PQfinish(dst[d]);
	}
	tablesel_free(&sel);
	free(snapshot);
	free(err);
	return rc;
}
