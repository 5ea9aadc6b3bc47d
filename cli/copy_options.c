/*
 * copy_options.c: the copy command's options, checked for consistency
 * before anything connects, and its usage text.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli.h"
#include "copy.h"

void
copy_usage(FILE *f)
{
	/* In parts: C compilers need not take a string literal over 4095 bytes. */
	fprintf(f,
	        "Usage: pgcopyman copy --from SOURCE --to TARGET [--to TARGET ...] (--table NAME | --query SQL) [options]\n"
	        "\n"
	        "  SOURCE, TARGET          a libpq connection string or URI (PG* environment variables apply),\n"
	        "                          file:PATH, or - (stdin as SOURCE, stdout as TARGET); a file named\n"
	        "                          .gz, .zst or .lz4 is read and written compressed (gzip, zstd, lz4)\n"
	        "  -t, --table NAME        table (or view) on the source, and its name on the targets;\n"
	        "                          written as SQL reads it (s.t, \"Mixed Case\"), resolved with each\n"
	        "                          session's search_path; a name part over 63 bytes is refused\n"
	        "      --target-table NAME table on the targets, when it differs (required with --query)\n"
	        "  -c, --columns LIST      copy only these columns, in this order (comma-separated)\n"
	        "  -q, --query SQL         the source is COPY (SQL) TO STDOUT; its output columns go by name\n"
	        "  -f, --format FMT        auto | text | csv | binary (default auto: binary when every column\n"
	        "                          has the same built-in type and typmod on every server of one major\n"
	        "                          version, text otherwise; the reason is in --dry-run and --json)\n"
	        "      --header            CSV: the data starts with a header line; from a file it must name\n"
	        "                          the columns in order (as HEADER MATCH), or nothing is copied\n"
	        "      --header-match on|off  off: skip a file's CSV header without comparing it\n"
	        "      --delimiter C       field delimiter\n"
	        "      --quote C           CSV quote character\n"
	        "      --escape C          CSV escape character\n"
	        "      --null STRING       the string that represents NULL\n"
	        "      --encoding NAME     the encoding of the COPY data (sessions use client_encoding UTF8)\n"
	        "      --truncate          empty each target table first, in the load's transaction: the old\n"
	        "                          rows go only if the new ones commit (TRUNCATE; with --jobs, DELETE);\n"
	        "                          with one session the load then defers the table's index work: its\n"
	        "                          indexes, primary key, unique and exclusion constraints (and foreign\n"
	        "                          keys to itself) are dropped after the TRUNCATE, the COPY takes\n"
	        "                          FREEZE, and they are re-created as they were before the commit\n"
	        "      --no-defer-indexes  with --truncate: load with the indexes in place, without FREEZE\n"
	        "      --defer-foreign-keys  with --truncate: also drop the foreign keys to other tables and\n"
	        "                          check each once after the load instead of row by row (this locks\n"
	        "                          the referenced tables until the commit)\n"
	        "      --maintenance-work-mem SIZE  for the index rebuild, e.g. 1GB (default 512MB, or the\n"
	        "                          server's setting when it is larger)\n"
	        "      --no-sequences      leave the target's sequences alone (by default, once a target has\n"
	        "                          committed, those the copied columns own, serial and identity, move\n"
	        "                          forward to the source's)\n");
	fprintf(f,
	        "      --on-fault MODE     continue (default): faulted targets are rolled back and reported,\n"
	        "                          the others commit; abort: the first fault aborts the whole copy and\n"
	        "                          no target commits (several server targets: two-phase commit)\n"
	        "      --stall-timeout S   a target that accepts no data for S seconds is faulted, a source\n"
	        "                          that sends none ends the copy (default 60; 0: never)\n"
	        "      --segment-size MB   end and restart each target's COPY every MB megabytes, in the same\n"
	        "                          transaction, so a rejected row is noticed early (default 16; 0 = never)\n"
	        "  -j, --jobs N            read the table in N ranges over N source sessions sharing one\n"
	        "                          snapshot, each streamed to every target over its own session;\n"
	        "                          a target's sessions commit all together or not at all, with\n"
	        "                          two-phase commit (servers only; they need max_prepared_transactions)\n"
	        "      --split-key COLUMN  with --jobs: split by this integer column instead of by pages\n"
	        "      --max-row-size SIZE a file or stdin source: refuse a row longer than SIZE (e.g. 64MB;\n"
	        "                          kB, MB, GB are units of 1024; default and most 1GB, the server's\n"
	        "                          limit); memory stays bounded by it\n"
	        "      --compress LEVEL    the level of compressed file targets (gzip 1-9, default 6;\n"
	        "                          zstd 1-19, default 3; lz4 1-12, default 1)\n"
	        "      --state-dir DIR     where two-phase commits keep their decision records, for\n"
	        "                          `pgcopyman recover` (default $XDG_STATE_HOME/pgcopyman, or\n"
	        "                          ~/.local/state/pgcopyman)\n");
	fprintf(f,
	        "      --verify            afterwards, compare the table on each server target that loaded\n"
	        "                          with the source, under the snapshot the copy read, as `pgcopyman\n"
	        "                          compare` does; a target that differs makes the exit status 5\n"
	        "      --json              print a JSON summary on stdout when done\n"
	        "      --dry-run           print the whole plan (statements, every column's types on every\n"
	        "                          target and how it is converted, the format) and exit: 0 when the\n"
	        "                          copy can run, 1 with every problem listed, 2 when what the\n"
	        "                          commit needs is missing (as the copy would)\n"
	        "      --progress[=plain]  print a plain progress line every 5 s on stderr, even when it\n"
	        "                          is not a terminal (a terminal shows a live line anyway)\n"
	        "      --progress=json     one JSON object a line on stderr every second, for programs:\n"
	        "                          rows, bytes, rates, percent and eta_seconds when the total is\n"
	        "                          known, each target's state and rows; the last has \"final\": true\n"
	        "      --quiet             print only errors\n"
	        "  -W, --password          ask for a password before connecting (on the terminal)\n"
	        "  -w, --no-password       never ask for a password (by default a server that asks for one\n"
	        "                          none was given for gets a prompt on the terminal, once per server)\n"
	        "  -h, --help              show this help\n");
	fprintf(f,
	        "\n"
	        "Columns are matched by name and listed on both sides.  A source column a target lacks\n"
	        "stops the copy (leave it out with --columns); a target column the source lacks gets its\n"
	        "default; columns the targets generate are left to them.  Where types differ, the source\n"
	        "converts each value with the cast INSERT ... SELECT would use; a pair it would refuse (and\n"
	        "anything that would store another value) stops the copy before any data moves.\n"
	        "\n"
	        "Exit status: 0 every target loaded; 3 some targets faulted and the rest loaded;\n"
	        "1 nothing loaded (the plan refused, aborted, source failed, or every target faulted);\n"
	        "2 usage error, or refused before any data moved for want of what the commit needs;\n"
	        "4 the outcome on some target is unknown (see its report); 5 every target loaded, but\n"
	        "--verify found one that is not the same as the source.\n");
}

/*
 * usage_error: name the bad option and point at --help (the whole usage
 * would bury the one line that matters).  The message may echo an
 * argument: known secrets are masked in it, as in every message.
 */
static int
usage_error(const char *fmt, const char *arg)
{
	cli_buf b;
	char *msg, *safe;

	cli_buf_init(&b);
	cli_buf_addf(&b, fmt, arg);
	msg = cli_buf_take(&b);
	safe = msg ? cli_scrub_text(msg) : NULL;
	fprintf(stderr, "pgcopyman copy: %s\n", safe ? safe : "out of memory");
	free(safe);
	free(msg);
	return cli_usage_hint("copy");
}

static int
single_char(const char *opt, const char *v)
{
	if (v && strlen(v) != 1) {
		cli_buf b;
		char *fmt;

		/* The option's name is ours; the value goes through usage_error's masking. */
		cli_buf_init(&b);
		cli_buf_addf(&b, "%s must be a single character, not \"%%s\"", opt);
		fmt = cli_buf_take(&b);
		usage_error(fmt ? fmt : "a value must be a single character, not \"%s\"", v);
		free(fmt);
		return 0;
	}
	return 1;
}

enum {
	O_TARGET_TABLE = 256, O_TRUNCATE, O_JSON, O_ON_FAULT, O_STALL, O_HEADER, O_DELIM,
	O_QUOTE, O_ESCAPE, O_NULL, O_ENCODING, O_DRY_RUN, O_QUIET, O_SEGMENT, O_PROGRESS, O_SPLIT_KEY,
	O_MAX_ROW, O_HEADER_MATCH, O_COMPRESS, O_STATE_DIR, O_NO_DEFER, O_DEFER_FKEYS, O_NO_SEQUENCES,
	O_WORK_MEM, O_VERIFY
};

static const struct option copy_longopts[] = {
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
	{"header-match", required_argument, NULL, O_HEADER_MATCH},
	{"delimiter", required_argument, NULL, O_DELIM},
	{"quote", required_argument, NULL, O_QUOTE},
	{"escape", required_argument, NULL, O_ESCAPE},
	{"null", required_argument, NULL, O_NULL},
	{"encoding", required_argument, NULL, O_ENCODING},
	{"dry-run", no_argument, NULL, O_DRY_RUN},
	{"quiet", no_argument, NULL, O_QUIET},
	{"progress", optional_argument, NULL, O_PROGRESS},
	{"jobs", required_argument, NULL, 'j'},
	{"split-key", required_argument, NULL, O_SPLIT_KEY},
	{"max-row-size", required_argument, NULL, O_MAX_ROW},
	{"compress", required_argument, NULL, O_COMPRESS},
	{"password", no_argument, NULL, 'W'},
	{"no-password", no_argument, NULL, 'w'},
	{"state-dir", required_argument, NULL, O_STATE_DIR},
	{"no-defer-indexes", no_argument, NULL, O_NO_DEFER},
	{"defer-foreign-keys", no_argument, NULL, O_DEFER_FKEYS},
	{"no-sequences", no_argument, NULL, O_NO_SEQUENCES},
	{"maintenance-work-mem", required_argument, NULL, O_WORK_MEM},
	{"verify", no_argument, NULL, O_VERIFY},
	{"help", no_argument, NULL, 'h'},
	{NULL, 0, NULL, 0}
};

/* --from and --to carry connection strings: main.c scrubs them from the process title with these tables. */
static const int copy_conninfo_vals[] = {'F', 'T', 0};
const cli_optspec cli_copy_optspec = {":t:c:q:f:j:Wwh", copy_longopts, copy_conninfo_vals};

/*
 * parse_size: "64MB", "512kB", "1GB", "100000" (bytes): units of 1024 as
 * PostgreSQL's memory settings, case ignored, B optional.  Returns 0 unless
 * it is a whole number of bytes from 1 to max.
 */
static int
parse_size(const char *s, size_t max, size_t *out)
{
	static const struct { const char *unit; unsigned shift; } units[] = {
		{"", 0}, {"b", 0}, {"k", 10}, {"kb", 10}, {"m", 20}, {"mb", 20}, {"g", 30}, {"gb", 30},
	};
	unsigned long long v;
	char *end;

	if (!s || *s < '0' || *s > '9')
		return 0;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno)
		return 0;
	while (*end == ' ')
		end++;
	for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
		if (strcasecmp(end, units[i].unit) != 0)
			continue;
		if (v == 0 || v > (unsigned long long) max >> units[i].shift)
			return 0;
		*out = (size_t) (v << units[i].shift);
		return 1;
	}
	return 0;
}

/* memory_size: digits, then nothing (kB) or one of the server's memory units. */
static int
memory_size(const char *v)
{
	static const char *const units[] = {"", "kB", "MB", "GB", "TB"};
	size_t digits = strspn(v, "0123456789");

	if (digits == 0 || digits > 12)
		return 0;
	for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
		if (strcmp(v + digits, units[i]) == 0)
			return 1;
	return 0;
}

/* copy_parse_options: getopt_long over the copy command's options. */
int
copy_parse_options(int argc, char **argv, copy_opts *o)
{
	int ch;
	char *end;

	memset(o, 0, sizeof *o);
	o->format = "auto";
	o->stall_timeout = 60;
	o->segment_mb = 16;
	o->jobs = 1;
	o->header_match = 1;
	opterr = 0;
	optind = 0;   /* glibc: a fresh scan (main.c's scrub ran getopt before) */
	while ((ch = getopt_long(argc, argv, cli_copy_optspec.shortopts, copy_longopts, NULL)) != -1) {
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
		case O_HEADER_MATCH:
			if (strcmp(optarg, "on") != 0 && strcmp(optarg, "off") != 0)
				return usage_error("--header-match must be on or off, not \"%s\"", optarg);
			o->header_match = strcmp(optarg, "on") == 0;
			break;
		case O_DELIM: o->delimiter = optarg; break;
		case O_QUOTE: o->quote = optarg; break;
		case O_ESCAPE: o->escape = optarg; break;
		case O_NULL: o->null_string = optarg; break;
		case O_ENCODING: o->encoding = optarg; break;
		case O_DRY_RUN: o->dry_run = 1; break;
		case O_QUIET: o->quiet = 1; break;
		case O_PROGRESS:
			if (optarg && strcmp(optarg, "plain") != 0 && strcmp(optarg, "json") != 0)
				return usage_error("--progress takes plain or json (as --progress=json), not \"%s\"", optarg);
			o->progress = optarg && strcmp(optarg, "json") == 0 ? 2 : 1;
			break;
		case 'j':
			o->jobs = (int) strtol(optarg, &end, 10);
			if (*end || o->jobs < 1 || o->jobs > MAX_JOBS)
				return usage_error("--jobs takes a number of streams from 1 to 16, not \"%s\"", optarg);
			break;
		case O_SPLIT_KEY: o->split_key = optarg; break;
		case O_MAX_ROW:
			if (!parse_size(optarg, COPY_MAX_ROW_LIMIT, &o->max_row))
				return usage_error("--max-row-size takes a size from 1 byte to 1GB (e.g. 64MB), not \"%s\"",
				                   optarg);
			break;
		case O_COMPRESS:
			o->compress_level = (int) strtol(optarg, &end, 10);
			if (*end || !*optarg || o->compress_level < 0 || o->compress_level > 99)
				return usage_error("--compress takes a compression level (a number), not \"%s\"", optarg);
			o->compress = 1;
			break;
		case 'W': cli_password_set_mode(CLI_PASSWORD_ALWAYS); break;
		case 'w': cli_password_set_mode(CLI_PASSWORD_NEVER); break;
		case O_STATE_DIR:
			if (!*optarg)
				return usage_error("%s needs a directory", "--state-dir");
			o->state_dir = optarg;
			break;
		case O_NO_DEFER: o->no_defer_indexes = 1; break;
		case O_DEFER_FKEYS: o->defer_foreign_keys = 1; break;
		case O_NO_SEQUENCES: o->no_sequences = 1; break;
		case O_WORK_MEM:
			if (!memory_size(optarg))
				return usage_error("--maintenance-work-mem takes a size such as 512MB or 2GB, not \"%s\"", optarg);
			o->maintenance_work_mem = optarg;
			break;
		case O_VERIFY: o->verify = 1; break;
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
	if (o->max_row && strcmp(o->from, "-") != 0 && strncmp(o->from, "file:", 5) != 0)
		return usage_error("%s applies to a file or stdin source (a server checks its own rows)",
		                   "--max-row-size");
	if (!o->table && !o->query) {
		int from_server = strcmp(o->from, "-") != 0 && strncmp(o->from, "file:", 5) != 0;
		if (from_server || !o->target_table)
			return usage_error("%s", "one of --table or --query is required");
	}
	if (o->table && o->query)
		return usage_error("%s", "--table and --query exclude each other");
	if (o->query) {
		const char *why;
		char *stripped = cli_query_strip(o->query, &why);
		if (!stripped)
			return usage_error("%s", why);
		free(stripped);   /* the plan strips it again (copy_statements.c) */
	}
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
	if (o->verify && (!o->table || o->query || strcmp(o->from, "-") == 0 || strncmp(o->from, "file:", 5) == 0))
		return usage_error("%s", "--verify needs --table and a server as the source (it reads the table again)");
	if (o->jobs > 1 && (!o->table || o->query))
		return usage_error("%s", "--jobs needs --table (a query cannot be split)");
	if (o->split_key && o->jobs < 2)
		return usage_error("%s", "--split-key goes with --jobs 2 or more");
	if (!o->truncate && (o->no_defer_indexes || o->defer_foreign_keys || o->maintenance_work_mem))
		return usage_error("%s", "--no-defer-indexes, --defer-foreign-keys and --maintenance-work-mem go with --truncate");
	if (o->no_defer_indexes && (o->defer_foreign_keys || o->maintenance_work_mem))
		return usage_error("%s", "--no-defer-indexes excludes --defer-foreign-keys and --maintenance-work-mem");
	if (strcmp(o->format, "text") == 0 && (o->header || o->quote || o->escape))
		return usage_error("%s", "--header, --quote and --escape need --format csv");
	return 0;
}
