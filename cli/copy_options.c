/*
 * copy_options.c: the copy command's options, checked for consistency
 * before anything connects, and its usage text.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "copy.h"

void
copy_usage(FILE *f)
{
	fprintf(f,
	        "Usage: pgcopyman copy --from SOURCE --to TARGET [--to TARGET ...] (--table NAME | --query SQL) [options]\n"
	        "\n"
	        "  SOURCE, TARGET          a libpq connection string or URI (PG* environment variables apply),\n"
	        "                          file:PATH, or - (stdin as SOURCE, stdout as TARGET)\n"
	        "  -t, --table NAME        table on the source and on every target (schema-qualified allowed)\n"
	        "      --target-table NAME table on the targets, when it differs (required with --query)\n"
	        "  -c, --columns LIST      comma-separated column list, on both sides\n"
	        "  -q, --query SQL         the source is COPY (SQL) TO STDOUT\n"
	        "  -f, --format FMT        auto | text | csv | binary (default auto: binary between servers\n"
	        "                          of the same major version, text otherwise)\n"
	        "      --header            CSV: the data starts with a header line\n"
	        "      --delimiter C       field delimiter\n"
	        "      --quote C           CSV quote character\n"
	        "      --escape C          CSV escape character\n"
	        "      --null STRING       the string that represents NULL\n"
	        "      --encoding NAME     the encoding of the COPY data\n"
	        "      --truncate          TRUNCATE each target table first, in the same transaction\n"
	        "      --on-fault MODE     continue (default): faulted targets are rolled back and reported,\n"
	        "                          the others commit; abort: the first fault aborts the whole copy\n"
	        "      --stall-timeout S   a target that accepts no data for S seconds is faulted, a source\n"
	        "                          that sends none ends the copy (default 60; 0: never)\n"
	        "      --segment-size MB   end and restart each target's COPY every MB megabytes, in the same\n"
	        "                          transaction, so a rejected row is noticed early (default 16; 0 = never)\n"
	        "  -j, --jobs N            read the table in N ranges over N source sessions sharing one\n"
	        "                          snapshot, each streamed to every target over its own session;\n"
	        "                          a target commits when all its streams finished (servers only;\n"
	        "                          with --truncate, the TRUNCATE commits before the load)\n"
	        "      --split-key COLUMN  with --jobs: split by this integer column instead of by pages\n"
	        "      --json              print a JSON summary on stdout when done\n"
	        "      --dry-run           print the COPY command of each endpoint and exit\n"
	        "      --progress          print a plain progress line every 5 s on stderr, even when it\n"
	        "                          is not a terminal (a terminal shows a live line anyway)\n"
	        "      --quiet             print only errors\n"
	        "  -h, --help              show this help\n"
	        "\n"
	        "Exit status: 0 every target loaded; 3 some targets faulted and the rest loaded;\n"
	        "1 nothing loaded (aborted, source failed, or every target faulted); 2 usage error.\n");
}

/* usage_error: name the bad option, show the usage. */
static int
usage_error(const char *fmt, const char *arg)
{
	fputs("pgcopyman copy: ", stderr);
	fprintf(stderr, fmt, arg);
	fputs("\n\n", stderr);
	copy_usage(stderr);
	return EXIT_USAGE;
}

static int
single_char(const char *opt, const char *v)
{
	if (v && strlen(v) != 1) {
		fprintf(stderr, "pgcopyman copy: %s must be a single character, not \"%s\"\n\n", opt, v);
		copy_usage(stderr);
		return 0;
	}
	return 1;
}

/* parse_options: getopt_long over the copy command's options. */
int
copy_parse_options(int argc, char **argv, copy_opts *o)
{
	enum {
		O_TARGET_TABLE = 256, O_TRUNCATE, O_JSON, O_ON_FAULT, O_STALL, O_HEADER, O_DELIM,
		O_QUOTE, O_ESCAPE, O_NULL, O_ENCODING, O_DRY_RUN, O_QUIET, O_SEGMENT, O_PROGRESS, O_SPLIT_KEY
	};
	static const struct option longopts[] = {
		{"from", required_argument, NULL, 'F'},
		{"to", required_argument, NULL, 'T'},
		{"table", required_argument, NULL, 't'},
		{"target-table", required_argument, NULL, O_TARGET_TABLE},
		{"columns", required_argument, NULL, 'c'},
		{"query", required_argument, NULL, 'q'},
		{"format", required_argument, NULL, 'f'},
		{"truncate", no_argument, NULL, O_TRUNCATE},
		{"json", no_argument, NULL, O_JSON},
		{"on-fault", required_argument, NULL, O_ON_FAULT},
		{"stall-timeout", required_argument, NULL, O_STALL},
		{"segment-size", required_argument, NULL, O_SEGMENT},
		{"header", no_argument, NULL, O_HEADER},
		{"delimiter", required_argument, NULL, O_DELIM},
		{"quote", required_argument, NULL, O_QUOTE},
		{"escape", required_argument, NULL, O_ESCAPE},
		{"null", required_argument, NULL, O_NULL},
		{"encoding", required_argument, NULL, O_ENCODING},
		{"dry-run", no_argument, NULL, O_DRY_RUN},
		{"quiet", no_argument, NULL, O_QUIET},
		{"progress", no_argument, NULL, O_PROGRESS},
		{"jobs", required_argument, NULL, 'j'},
		{"split-key", required_argument, NULL, O_SPLIT_KEY},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0}
	};
	int ch;
	char *end;

	memset(o, 0, sizeof *o);
	o->format = "auto";
	o->stall_timeout = 60;
	o->segment_mb = 16;
	o->jobs = 1;
	opterr = 0;
	optind = 1;
	while ((ch = getopt_long(argc, argv, ":t:c:q:f:j:h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'F': o->from = optarg; break;
		case 'T':
			if (o->nto == MAX_TARGETS)
				return usage_error("too many --to targets (at most %s)", "64");
			o->to[o->nto++] = optarg;
			break;
		case 't': o->table = optarg; break;
		case O_TARGET_TABLE: o->target_table = optarg; break;
		case 'c': o->columns = optarg; break;
		case 'q': o->query = optarg; break;
		case 'f':
			if (strcmp(optarg, "text") && strcmp(optarg, "csv") && strcmp(optarg, "binary")
			    && strcmp(optarg, "auto"))
				return usage_error("--format must be auto, text, csv or binary, not \"%s\"", optarg);
			o->format = optarg;
			break;
		case O_TRUNCATE: o->truncate = 1; break;
		case O_JSON: o->json = 1; break;
		case O_ON_FAULT:
			if (strcmp(optarg, "abort") == 0)
				o->on_fault_abort = 1;
			else if (strcmp(optarg, "continue") != 0)
				return usage_error("--on-fault must be continue or abort, not \"%s\"", optarg);
			break;
		case O_STALL:
			o->stall_timeout = strtod(optarg, &end);
			if (*end || o->stall_timeout < 0)
				return usage_error("--stall-timeout takes seconds (a number >= 0), not \"%s\"", optarg);
			break;
		case O_SEGMENT:
			o->segment_mb = strtol(optarg, &end, 10);
			if (*end || o->segment_mb < 0)
				return usage_error("--segment-size takes megabytes (an integer >= 0), not \"%s\"", optarg);
			break;
		case O_HEADER: o->header = 1; break;
		case O_DELIM: o->delimiter = optarg; break;
		case O_QUOTE: o->quote = optarg; break;
		case O_ESCAPE: o->escape = optarg; break;
		case O_NULL: o->null_string = optarg; break;
		case O_ENCODING: o->encoding = optarg; break;
		case O_DRY_RUN: o->dry_run = 1; break;
		case O_QUIET: o->quiet = 1; break;
		case O_PROGRESS: o->progress = 1; break;
		case 'j':
			o->jobs = (int) strtol(optarg, &end, 10);
			if (*end || o->jobs < 1 || o->jobs > MAX_JOBS)
				return usage_error("--jobs takes a number of streams from 1 to 16, not \"%s\"", optarg);
			break;
		case O_SPLIT_KEY: o->split_key = optarg; break;
		case 'h': copy_usage(stdout); return -1;
		case ':': return usage_error("option %s needs a value", argv[optind - 1]);
		default: return usage_error("unknown option \"%s\"", argv[optind - 1]);
		}
	}
	if (optind < argc)
		return usage_error("unexpected argument \"%s\"", argv[optind]);
	if (!o->from)
		return usage_error("%s is required", "--from");
	if (o->nto == 0)
		return usage_error("%s is required (one or more)", "--to");
	if (!o->table && !o->query) {
		int from_server = strcmp(o->from, "-") != 0 && strncmp(o->from, "file:", 5) != 0;
		if (from_server || !o->target_table)
			return usage_error("%s", "one of --table or --query is required");
	}
	if (o->table && o->query)
		return usage_error("%s", "--table and --query exclude each other");
	if (o->query && !o->target_table) {
		for (int i = 0; i < o->nto; i++)
			if (strcmp(o->to[i], "-") != 0 && strncmp(o->to[i], "file:", 5) != 0)
				return usage_error("%s", "--query needs --target-table for the targets");
	}
	if (!single_char("--delimiter", o->delimiter) || !single_char("--quote", o->quote)
	    || !single_char("--escape", o->escape))
		return EXIT_USAGE;
	if (strcmp(o->format, "binary") == 0
	    && (o->header || o->delimiter || o->quote || o->escape || o->null_string))
		return usage_error("%s", "--header, --delimiter, --quote, --escape and --null do not apply to --format binary");
	if (o->jobs > 1 && (!o->table || o->query))
		return usage_error("%s", "--jobs needs --table (a query cannot be split)");
	if (o->split_key && o->jobs < 2)
		return usage_error("%s", "--split-key goes with --jobs 2 or more");
	if (strcmp(o->format, "text") == 0 && (o->header || o->quote || o->escape))
		return usage_error("%s", "--header, --quote and --escape need --format csv");
	return 0;
}
