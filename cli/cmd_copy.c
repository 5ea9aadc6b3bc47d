/*
 * cmd_copy.c: `pgcopyman copy`: one source (a server, a file, stdin) to
 * many targets (servers, files, stdout).  Each server target is loaded in its
 * own transaction and committed only if its COPY completed; a file target is
 * written to a temporary file and renamed into place only on success.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "pgcopyman.h"
#include "cli.h"
#include "progress.h"

#define MAX_TARGETS 64
#define MAX_JOBS 16

enum endpoint_kind { EP_SERVER, EP_FILE, EP_STDIO };

typedef struct endpoint {
	const char *spec;         /* as given */
	enum endpoint_kind kind;
	char *label;              /* masked connection string, or the path */
	PGconn *conns[MAX_JOBS];  /* a server: one session per stream */
	int fd;
	char *path;               /* file: final path */
	char *tmp_path;           /* file target: written here, renamed on success */
	char *command;            /* the COPY command (a target: the same for every stream) */
	pgcm_receiver *receivers[MAX_JOBS];  /* one per stream, borrowed from the copies */
	const char *status;       /* "ok", "faulted", "aborted" */
	int reported;             /* its fault was shown */
	char *error;
	char sqlstate[6];
	uint64_t rows;
} endpoint;

typedef struct options {
	const char *from;
	const char *to[MAX_TARGETS];
	int nto;
	const char *table;
	const char *target_table;
	const char *columns;
	const char *query;
	const char *format;       /* text, csv, binary, auto */
	int truncate;
	int json;
	int on_fault_abort;
	double stall_timeout;
	int header;
	const char *delimiter;
	const char *quote;
	const char *escape;
	const char *null_string;
	const char *encoding;
	int dry_run;
	int quiet;
	int progress;
	long segment_mb;
	int jobs;                 /* streams: source sessions, each with its own target sessions */
	const char *split_key;
} options;

static void
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
	        "      --stall-timeout S   a target that accepts no data for S seconds is faulted (default 60)\n"
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

static double
now_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
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
static int
parse_options(int argc, char **argv, options *o)
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

static void
classify(endpoint *e, const char *spec)
{
	e->spec = spec;
	e->fd = -1;
	if (strcmp(spec, "-") == 0)
		e->kind = EP_STDIO;
	else if (strncmp(spec, "file:", 5) == 0)
		e->kind = EP_FILE;
	else
		e->kind = EP_SERVER;
}

/* literal: a quoted SQL literal (libpq's escaping), appended to buf. */
static int
append_option(PGconn *conn, char *buf, size_t size, const char *name, const char *value)
{
	char *lit;
	size_t len = strlen(buf);

	if (!value)
		return 1;
	lit = PQescapeLiteral(conn, value, strlen(value));
	if (!lit)
		return 0;
	snprintf(buf + len, size - len, ", %s %s", name, lit);
	PQfreemem(lit);
	return 1;
}

/*
 * copy_options: the WITH list shared by every COPY: the format and the
 * options that apply to it.
 */
static char *
copy_options(PGconn *conn, const options *o, const char *format)
{
	char buf[2048];

	snprintf(buf, sizeof buf, "(FORMAT %s", format);
	if (o->header)
		strcat(buf, ", HEADER true");
	if (!append_option(conn, buf, sizeof buf, "DELIMITER", o->delimiter)
	    || !append_option(conn, buf, sizeof buf, "QUOTE", o->quote)
	    || !append_option(conn, buf, sizeof buf, "ESCAPE", o->escape)
	    || !append_option(conn, buf, sizeof buf, "NULL", o->null_string)
	    || !append_option(conn, buf, sizeof buf, "ENCODING", o->encoding))
		return NULL;
	strcat(buf, ")");
	return strdup(buf);
}

/*
 * build_command: COPY name (cols) TO STDOUT / FROM STDIN with the options;
 * a source stream's range (where) makes it COPY (SELECT ... WHERE range).
 */
static char *
build_command(PGconn *conn, const options *o, const char *format, int source, const char *where,
              const char **err)
{
	const char *name = source ? o->table : (o->target_table ? o->target_table : o->table);
	char *qname = NULL, *qcols = NULL, *opts = NULL, *cmd = NULL;
	size_t n;

	opts = copy_options(conn, o, format);
	if (!opts) {
		*err = PQerrorMessage(conn);
		goto cleanup;
	}
	if (source && o->query) {
		n = strlen(o->query) + strlen(opts) + 32;
		cmd = malloc(n);
		if (cmd)
			snprintf(cmd, n, "COPY (%s) TO STDOUT %s", o->query, opts);
		goto cleanup;
	}
	qname = cli_quote_name(conn, name, err);
	if (!qname)
		goto cleanup;
	if (o->columns && !(qcols = cli_quote_columns(conn, o->columns, err)))
		goto cleanup;
	n = strlen(qname) + (qcols ? strlen(qcols) : 0) + strlen(opts) + (where ? strlen(where) : 0) + 64;
	cmd = malloc(n);
	if (cmd && where) {
		/* The column list without its parentheses is the select list. */
		int ncols = qcols ? (int) strlen(qcols) - 2 : 1;
		snprintf(cmd, n, "COPY (SELECT %.*s FROM %s WHERE %s) TO STDOUT %s", ncols,
		         qcols ? qcols + 1 : "*", qname, where, opts);
	} else if (cmd) {
		snprintf(cmd, n, "COPY %s%s%s %s %s", qname, qcols ? " " : "", qcols ? qcols : "",
		         source ? "TO STDOUT" : "FROM STDIN", opts);
	}
cleanup:
	free(qname);
	free(qcols);
	free(opts);
	return cmd;
}

/* exec_on: run one statement on one of e's sessions; on failure keep the server's error on e. */
static int
exec_on(endpoint *e, PGconn *conn, const char *sql)
{
	PGresult *res = PQexec(conn, sql);
	int ok = PQresultStatus(res) == PGRES_COMMAND_OK;

	if (!ok) {
		const char *st = PQresultErrorField(res, PG_DIAG_SQLSTATE);
		free(e->error);
		e->error = strdup(PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY)
		                  ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY)
		                  : PQerrorMessage(conn));
		snprintf(e->sqlstate, sizeof e->sqlstate, "%s", st ? st : "");
		if (e->error) {
			size_t len = strlen(e->error);
			while (len && e->error[len - 1] == '\n')
				e->error[--len] = '\0';
		}
	}
	PQclear(res);
	return ok;
}

/* exec_all: run one statement on each of e's first n sessions. */
static int
exec_all(endpoint *e, int n, const char *sql)
{
	for (int j = 0; j < n; j++)
		if (!exec_on(e, e->conns[j], sql))
			return 0;
	return 1;
}

/*
 * connect_sessions: n sessions to a server endpoint.  A copy may run for
 * hours; server-side timeouts meant for interactive sessions must not cut it
 * off half-way.
 */
static int
connect_sessions(endpoint *e, int n)
{
	for (int j = 0; j < n; j++) {
		if (!(e->conns[j] = cli_connect(e->spec)))
			return 0;
		if (!exec_on(e, e->conns[j], "SET statement_timeout = 0; SET lock_timeout = 0; "
		                              "SET idle_in_transaction_session_timeout = 0")) {
			cli_error("%s: cannot set the session's timeouts: %s", e->label, e->error);
			return 0;
		}
	}
	return 1;
}

/*
 * choose_format: --format auto picks binary when the source and every target
 * are servers of one major version (binary COPY parses less on the target),
 * and text otherwise; explicit formats are kept.
 */
static const char *
choose_format(const options *o, endpoint *src, endpoint *dst, int ndst, const char **why)
{
	int major;

	if (strcmp(o->format, "auto") != 0) {
		*why = "as requested";
		return o->format;
	}
	if (o->header || o->quote || o->escape) {
		*why = "CSV options given";
		return "csv";
	}
	if (o->delimiter || o->null_string) {
		*why = "text options given";
		return "text";
	}
	if (src->kind != EP_SERVER) {
		*why = "the source is not a server";
		return "text";
	}
	major = PQserverVersion(src->conns[0]) / 10000;
	for (int i = 0; i < ndst; i++) {
		if (dst[i].kind != EP_SERVER) {
			*why = "a target is not a server";
			return "text";
		}
		if (PQserverVersion(dst[i].conns[0]) / 10000 != major) {
			*why = "the servers' major versions differ";
			return "text";
		}
	}
	*why = "every endpoint is a server of the same major version";
	return "binary";
}

/* open_target_file: a file target is written beside its final path, then renamed. */
static int
open_target_file(endpoint *e)
{
	size_t n;

	e->path = strdup(e->spec + 5);
	if (!e->path || !*e->path) {
		cli_error("file target needs a path: \"%s\"", e->spec);
		return 0;
	}
	n = strlen(e->path) + 32;
	e->tmp_path = malloc(n);
	if (!e->tmp_path)
		return 0;
	snprintf(e->tmp_path, n, "%s.pgcopyman-%ld", e->path, (long) getpid());
	e->fd = open(e->tmp_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
	if (e->fd < 0) {
		cli_error("cannot write \"%s\": %s", e->path, strerror(errno));
		return 0;
	}
	return 1;
}

static void
print_json(const options *o, const char *format, const char *why, double seconds,
           pgcm_progress total, endpoint *dst, int ndst, int aborted, const char *reason,
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
 * record_fault: keep a target's fault for the summary, and say it at once,
 * over the progress line.  A fault is an error: --quiet does not hide it.
 */
static void
record_fault(endpoint *dst, int ndst, const pgcm_fault *f, cli_progress *prog)
{
	for (int i = 0; i < ndst; i++) {
		char line[1024];
		int mine = 0;

		for (int j = 0; j < MAX_JOBS; j++)
			mine |= dst[i].receivers[j] == f->receiver;
		if (!mine || dst[i].reported)
			continue;
		free(dst[i].error);
		dst[i].error = strdup(f->message);
		snprintf(dst[i].sqlstate, sizeof dst[i].sqlstate, "%s", f->sqlstate);
		dst[i].status = "faulted";
		dst[i].reported = 1;
		snprintf(line, sizeof line, "pgcopyman: target faulted: %s%s%s%s", f->message,
		         f->sqlstate[0] ? " (SQLSTATE " : "", f->sqlstate, f->sqlstate[0] ? ")" : "");
		cli_progress_message(prog, line);
	}
}

/*
 * estimate: what the copy will move, for the progress display's percent and
 * ETA.  A table: pg_class.reltuples (rows; -1 before the first VACUUM or
 * ANALYZE, then unknown).  The table's size on disk is not the size of its
 * COPY data, so it is not used.  A regular file: its size in bytes.  A query
 * or a pipe: unknown (0).
 */
static void
estimate(const options *o, const endpoint *src, uint64_t *rows, uint64_t *bytes)
{
	struct stat sb;

	*rows = *bytes = 0;
	if (src->kind == EP_SERVER && o->table && !o->query) {
		const char *err = NULL;
		char *qname = cli_quote_name(src->conns[0], o->table, &err);
		const char *params[1];
		PGresult *res;

		if (!qname)
			return;
		params[0] = qname;
		res = PQexecParams(src->conns[0], "SELECT reltuples::bigint FROM pg_class WHERE oid = $1::regclass",
		                   1, NULL, params, NULL, NULL, 0);
		if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1) {
			long long n = atoll(PQgetvalue(res, 0, 0));
			*rows = n > 0 ? (uint64_t) n : 0;
		}
		PQclear(res);
		free(qname);
	} else if (src->kind == EP_FILE && fstat(src->fd, &sb) == 0 && S_ISREG(sb.st_mode)) {
		*bytes = (uint64_t) sb.st_size;
	}
}

/* target_state: a target of several streams is done when all are, faulted when any is. */
static pgcm_receiver_state
target_state(const endpoint *e, int jobs)
{
	int done = 0;

	for (int j = 0; j < jobs; j++) {
		pgcm_receiver_state st = pgcm_receiver_get_state(e->receivers[j]);
		if (st == PGCM_RECEIVER_FAULTED || st == PGCM_RECEIVER_DROPPED || st == PGCM_RECEIVER_ABORTED)
			return PGCM_RECEIVER_FAULTED;
		done += st == PGCM_RECEIVER_DONE;
	}
	return done == jobs ? PGCM_RECEIVER_DONE : PGCM_RECEIVER_ACTIVE;
}

/* totals: rows and bytes of every stream added up. */
static pgcm_progress
totals(pgcm_copy *const *copies, int jobs)
{
	pgcm_progress t = {0, 0};

	for (int j = 0; j < jobs; j++) {
		pgcm_progress p = pgcm_copy_totals(copies[j]);
		t.rows += p.rows;
		t.bytes += p.bytes;
	}
	return t;
}

/* update_progress: the totals so far and how many targets are running, faulted, done. */
static void
update_progress(cli_progress *prog, pgcm_copy *const *copies, int jobs, const endpoint *dst, int ndst)
{
	pgcm_progress t = totals(copies, jobs);
	int running = 0, faulted = 0, done = 0;

	for (int i = 0; i < ndst; i++) {
		switch (target_state(&dst[i], jobs)) {
		case PGCM_RECEIVER_DONE: done++; break;
		case PGCM_RECEIVER_FAULTED: faulted++; break;
		default: running++; break;
		}
	}
	cli_progress_update(prog, t.rows, t.bytes, running, faulted, done);
}

/* is_over: the copy completed or was aborted; it needs no more steps. */
static int
is_over(pgcm_status st)
{
	return st != PGCM_OK && st != PGCM_AGAIN && st != PGCM_FAULT;
}

/* abort_all: end every stream that is still running, with the same reason. */
static void
abort_all(pgcm_copy *const *copies, const pgcm_status *st, int jobs, const char *reason)
{
	for (int j = 0; j < jobs; j++)
		if (!is_over(st[j]))
			(void) pgcm_copy_abort(copies[j], reason);
}

/*
 * run_copies: step every stream's copy in one loop, waiting in one poll()
 * over all their descriptors for at most a quarter second, so the progress
 * line and the signal flag are looked at even while a target stalls.
 * Faults are reported as they happen; with --on-fault abort the first one
 * aborts every stream; so does a signal, or one stream's failure.
 */
static void
run_copies(pgcm_copy *const *copies, int jobs, const options *o, endpoint *dst, cli_progress *prog)
{
	pgcm_status st[MAX_JOBS];
	struct pollfd fds[MAX_JOBS * (MAX_TARGETS + 1)];
	size_t at[MAX_JOBS + 1] = {0};  /* copy j's descriptors are fds[at[j] .. at[j + 1]) */
	int live = jobs;

	for (int j = 0; j < jobs; j++)
		st[j] = PGCM_OK;
	while (live > 0) {
		int waiting = 1, timeout = 250;

		live = 0;
		for (int j = 0; j < jobs; j++) {
			if (is_over(st[j]))
				continue;
			/* What the last poll() said lets each copy skip endpoints that are not ready. */
			st[j] = pgcm_copy_step_polled(copies[j], fds + at[j], at[j + 1] - at[j], NULL);
			if (st[j] == PGCM_FAULT) {
				pgcm_fault faults[MAX_TARGETS];
				size_t nf = pgcm_copy_faults(copies[j], faults, MAX_TARGETS);
				for (size_t i = 0; i < nf && i < MAX_TARGETS; i++)
					record_fault(dst, o->nto, &faults[i], prog);
				if (o->on_fault_abort) {
					char reason[160];
					snprintf(reason, sizeof reason, "--on-fault abort: target %zu faulted",
					         faults[0].index + 1);
					abort_all(copies, st, jobs, reason);
					return;
				}
			} else if (is_over(st[j]) && st[j] != PGCM_DONE) {
				abort_all(copies, st, jobs, "another stream of the copy failed");
				return;
			}
			if (st[j] != PGCM_AGAIN)
				waiting = 0;
			if (!is_over(st[j]))
				live++;
		}
		update_progress(prog, copies, jobs, dst, o->nto);
		if (cli_interrupted) {
			abort_all(copies, st, jobs, cli_interrupted == SIGINT ? "interrupted by SIGINT"
			                                                      : "interrupted by SIGTERM");
			return;
		}
		memset(at, 0, sizeof at);
		if (!live || !waiting)
			continue;
		for (int j = 0; j < jobs; j++) {
			int t = pgcm_copy_timeout_ms(copies[j]);
			at[j + 1] = at[j];
			if (is_over(st[j]))
				continue;
			at[j + 1] += pgcm_copy_pollfds(copies[j], fds + at[j], sizeof fds / sizeof fds[0] - at[j]);
			if (t >= 0 && t < timeout)
				timeout = t;
		}
		if (poll(fds, (nfds_t) at[jobs], timeout) < 0)
			memset(at, 0, sizeof at);
	}
}

/* source_commands: the COPY TO of each stream: the whole table, or its ranges. */
static int
source_commands(endpoint *src, const options *o, const char *format, char **cmds)
{
	char *where[MAX_JOBS] = {0}, errbuf[512];
	const char *err = NULL;
	char *qtable = NULL, *qkey = NULL;
	int ok = 0;

	if (o->jobs == 1) {
		cmds[0] = build_command(src->conns[0], o, format, 1, NULL, &err);
		if (!cmds[0])
			cli_error("bad --table or --columns: %s", err ? err : "out of memory");
		return cmds[0] != NULL;
	}
	qtable = cli_quote_name(src->conns[0], o->table, &err);
	if (!qtable || (o->split_key && !(qkey = cli_quote_name(src->conns[0], o->split_key, &err)))) {
		cli_error("bad --table or --split-key: %s", err ? err : "out of memory");
		goto cleanup;
	}
	if (!cli_split_source(src->conns, o->jobs, qtable, qkey, where, errbuf, sizeof errbuf)) {
		cli_error("source %s: %s", src->label, errbuf);
		goto cleanup;
	}
	for (int j = 0; j < o->jobs; j++)
		if (!(cmds[j] = build_command(src->conns[j], o, format, 1, where[j], &err))) {
			cli_error("bad --table or --columns: %s", err ? err : "out of memory");
			goto cleanup;
		}
	ok = 1;
cleanup:
	for (int j = 0; j < MAX_JOBS; j++)
		free(where[j]);
	free(qtable);
	free(qkey);
	return ok;
}

/* truncate_target: TRUNCATE the target table on e's first session. */
static int
truncate_target(endpoint *e, const options *o)
{
	const char *err = NULL;
	char *qname = cli_quote_name(e->conns[0], o->target_table ? o->target_table : o->table, &err);
	char *sql = qname ? malloc(strlen(qname) + 16) : NULL;
	int ok;

	if (!sql) {
		cli_error("bad table name: %s", err ? err : "out of memory");
		free(qname);
		return 0;
	}
	sprintf(sql, "TRUNCATE %s", qname);
	ok = exec_on(e, e->conns[0], sql);
	free(sql);
	free(qname);
	if (!ok)
		cli_error("target %s: TRUNCATE failed: %s", e->label, e->error);
	return ok;
}

/*
 * begin_targets: one transaction per target session.  --truncate empties
 * the table in the same transaction; with several streams a TRUNCATE would
 * lock the other sessions out, so there it commits on its own first.
 */
static int
begin_targets(endpoint *dst, const options *o)
{
	int separate = o->jobs > 1;

	for (int i = 0; i < o->nto; i++) {
		endpoint *e = &dst[i];

		if (e->kind != EP_SERVER)
			continue;
		if ((!separate && !exec_all(e, o->jobs, "BEGIN")) || (o->truncate && !truncate_target(e, o))
		    || (separate && !exec_all(e, o->jobs, "BEGIN"))) {
			if (e->error && !strstr(e->error, "TRUNCATE"))
				cli_error("target %s: BEGIN failed: %s", e->label, e->error);
			return 0;
		}
	}
	return 1;
}

/* copy_format: the scanner's and the producer's view of the chosen format. */
static void
copy_format(pgcm_format *fmt, const options *o, const char *format)
{
	pgcm_format_init(fmt, strcmp(format, "csv") == 0 ? PGCM_FORMAT_CSV
	                      : strcmp(format, "binary") == 0 ? PGCM_FORMAT_BINARY : PGCM_FORMAT_TEXT);
	fmt->header = o->header;
	if (o->delimiter)
		fmt->delimiter = o->delimiter[0];
	if (o->quote)
		fmt->quote = fmt->escape = o->quote[0];
	if (o->escape)
		fmt->escape = o->escape[0];
}

/* new_stream: stream j: its source session (or fd) to every target's session j (or fd). */
static pgcm_copy *
new_stream(int j, endpoint *src, char *const *src_cmds, endpoint *dst, const options *o,
           const pgcm_format *fmt)
{
	pgcm_producer *producer;
	pgcm_copy *copy;

	if (src->kind == EP_SERVER) {
		producer = pgcm_producer_pg(src->conns[j], src_cmds[j]);
		if (producer)
			pgcm_producer_set_format(producer, fmt);
	} else {
		producer = pgcm_producer_fd(src->fd, fmt);
	}
	if (producer)
		pgcm_producer_set_label(producer, src->kind == EP_SERVER ? "source" : src->label);
	copy = pgcm_copy_new(producer);
	if (!copy)
		return NULL;
	pgcm_copy_set_stall_timeout(copy, (int) (o->stall_timeout * 1000));
	pgcm_copy_set_segment_bytes(copy, (uint64_t) o->segment_mb << 20);
	for (int i = 0; i < o->nto; i++) {
		endpoint *e = &dst[i];
		pgcm_receiver *r = e->kind == EP_SERVER ? pgcm_receiver_pg(e->conns[j], e->command)
		                                        : pgcm_receiver_fd(e->fd);
		if (r)
			pgcm_receiver_set_label(r, e->label);
		e->receivers[j] = r;
		if (pgcm_copy_add(copy, r) != PGCM_OK) {
			pgcm_copy_free(copy);
			return NULL;
		}
	}
	return copy;
}

/*
 * settle_target: commit a target whose every stream completed (its sessions
 * one after another, right after the last stream ended), or leave it to be
 * rolled back.  A file target is renamed into place.
 */
static int
settle_target(endpoint *e, const options *o, int aborted)
{
	if (target_state(e, o->jobs) != PGCM_RECEIVER_DONE || aborted) {
		e->status = e->reported ? "faulted" : "aborted";
		e->rows = 0;
		return 0;
	}
	if (e->kind == EP_SERVER && !exec_all(e, o->jobs, "COMMIT")) {
		e->status = "faulted";
		cli_error("target %s: COMMIT failed: %s", e->label, e->error);
		return 0;
	}
	if (e->kind == EP_FILE) {
		if (fsync(e->fd) != 0 || rename(e->tmp_path, e->path) != 0) {
			free(e->error);
			e->error = strdup(strerror(errno));
			e->status = "faulted";
			return 0;
		}
		free(e->tmp_path);
		e->tmp_path = NULL;
	}
	e->status = "ok";
	e->rows = 0;
	for (int j = 0; j < o->jobs; j++)
		e->rows += pgcm_receiver_rows(e->receivers[j]);
	return 1;
}

int
cli_copy(int argc, char **argv)
{
	options o;
	endpoint src, dst[MAX_TARGETS];
	pgcm_copy *copies[MAX_JOBS] = {0};
	char *src_cmds[MAX_JOBS] = {0};
	pgcm_failure failure, first_failure = {0};
	pgcm_progress total = {0, 0};
	const char *format, *why;
	double t0;
	int rc, loaded = 0, faulted = 0, aborted = 0;
	pgcm_format fmt;
	cli_progress *prog = NULL;
	uint64_t est_rows, est_bytes;
	enum cli_progress_mode mode;

	rc = parse_options(argc, argv, &o);
	if (rc != 0)
		return rc < 0 ? 0 : rc;
	memset(&src, 0, sizeof src);
	memset(dst, 0, sizeof dst);
	cli_catch_signals();
	t0 = now_seconds();
	rc = EXIT_FAILED;

	/* Connect everything first: a target that cannot be reached fails the run before any load. */
	classify(&src, o.from);
	for (int i = 0; i < o.nto; i++)
		classify(&dst[i], o.to[i]);
	if (o.jobs > 1) {
		int servers = src.kind == EP_SERVER;
		for (int i = 0; i < o.nto; i++)
			servers &= dst[i].kind == EP_SERVER;
		if (!servers) {
			cli_error("--jobs needs a server as the source and as every target");
			rc = EXIT_USAGE;
			goto cleanup;
		}
	}
	if (src.kind == EP_SERVER) {
		src.label = cli_mask_conninfo(o.from);
		if (!connect_sessions(&src, o.jobs))
			goto cleanup;
	} else if (src.kind == EP_FILE) {
		src.label = strdup(o.from);
		src.fd = open(o.from + 5, O_RDONLY | O_CLOEXEC);
		if (src.fd < 0) {
			cli_error("cannot read \"%s\": %s", o.from + 5, strerror(errno));
			goto cleanup;
		}
	} else {
		src.label = strdup("stdin");
		src.fd = STDIN_FILENO;
	}
	for (int i = 0; i < o.nto; i++) {
		endpoint *e = &dst[i];
		e->status = "aborted";
		if (e->kind == EP_SERVER) {
			e->label = cli_mask_conninfo(o.to[i]);
			if (!connect_sessions(e, o.jobs))
				goto cleanup;
		} else if (e->kind == EP_FILE) {
			e->label = strdup(o.to[i]);
			if (!o.dry_run && !open_target_file(e))
				goto cleanup;
		} else {
			e->label = strdup("stdout");
			e->fd = STDOUT_FILENO;
		}
	}
	if ((src.kind != EP_SERVER) && !o.table && !o.target_table) {
		cli_error("loading a file needs --table or --target-table");
		rc = EXIT_USAGE;
		goto cleanup;
	}
	format = choose_format(&o, &src, dst, o.nto, &why);
	estimate(&o, &src, &est_rows, &est_bytes);

	/* The COPY commands, with every name quoted by libpq. */
	if (src.kind == EP_SERVER && !source_commands(&src, &o, format, src_cmds)) {
		rc = EXIT_USAGE;
		goto cleanup;
	}
	for (int i = 0; i < o.nto; i++) {
		const char *err = NULL;
		if (dst[i].kind != EP_SERVER)
			continue;
		if (!(dst[i].command = build_command(dst[i].conns[0], &o, format, 0, NULL, &err))) {
			cli_error("bad table or --columns: %s", err ? err : "out of memory");
			rc = EXIT_USAGE;
			goto cleanup;
		}
	}
	if (o.dry_run) {
		printf("format: %s (%s)\n", format, why);
		for (int j = 0; j < o.jobs; j++)
			printf("source %s: %s\n", src.label, src_cmds[j] ? src_cmds[j] : "(read COPY data)");
		for (int i = 0; i < o.nto; i++)
			printf("target %s: %s\n", dst[i].label,
			       dst[i].command ? dst[i].command : "(write COPY data)");
		rc = EXIT_LOADED;
		goto cleanup;
	}
	if (!begin_targets(dst, &o))
		goto cleanup;

	copy_format(&fmt, &o, format);
	for (int j = 0; j < o.jobs; j++)
		if (!(copies[j] = new_stream(j, &src, src_cmds, dst, &o, &fmt))) {
			cli_error("out of memory");
			goto cleanup;
		}

	/*
	 * Progress on stderr: a live line on a terminal, plain lines with
	 * --progress, nothing with --quiet.  Not on a terminal that stdout, as a
	 * target, writes COPY data to.
	 */
	mode = o.quiet ? PROGRESS_QUIET : o.progress ? PROGRESS_PLAIN : PROGRESS_AUTO;
	for (int i = 0; i < o.nto; i++)
		if (mode == PROGRESS_AUTO && dst[i].kind == EP_STDIO && isatty(STDOUT_FILENO))
			mode = PROGRESS_QUIET;
	prog = cli_progress_new(stderr, mode, est_rows, est_bytes, o.nto);

	run_copies(copies, o.jobs, &o, dst, prog);
	for (int j = 0; j < o.jobs; j++) {
		pgcm_status st = pgcm_copy_finish(copies[j], &failure);
		if (st != PGCM_OK && st != PGCM_FAULT && !aborted) {
			aborted = 1;
			first_failure = failure;
		}
		for (size_t i = 0; i < failure.nfaults; i++)
			record_fault(dst, o.nto, &failure.faults[i], prog);
	}
	cli_progress_finish(prog);
	total = totals(copies, o.jobs);

	/* Commit a target only if all its streams completed and the copy as a whole did not abort. */
	for (int i = 0; i < o.nto; i++) {
		if (settle_target(&dst[i], &o, aborted))
			loaded++;
		else if (strcmp(dst[i].status, "faulted") == 0)
			faulted++;
	}
	if (aborted) {
		const char *reason = first_failure.reason ? first_failure.reason : "aborted";
		const char *perr = first_failure.producer_error;
		int show = perr && !strstr(reason, perr);
		cli_error("copy aborted: %s%s%s", reason, show ? ": " : "", show ? perr : "");
	}
	if (o.json)
		print_json(&o, format, why, now_seconds() - t0, total, dst, o.nto, aborted,
		           first_failure.reason, first_failure.producer_error);
	/* Without --json, a one-line human summary on stderr. */
	if (!o.quiet && !o.json) {
		double secs = now_seconds() - t0;
		fprintf(stderr, "pgcopyman: %llu rows, %llu bytes in %.2f s (%.1f MB/s, %s%s): "
		        "%d of %d targets loaded",
		        (unsigned long long) total.rows, (unsigned long long) total.bytes, secs,
		        secs > 0 ? (double) total.bytes / secs / 1e6 : 0.0, format,
		        o.jobs > 1 ? ", parallel" : "", loaded, o.nto);
		if (faulted)
			fprintf(stderr, ", %d faulted", faulted);
		fputc('\n', stderr);
	}
	rc = loaded == o.nto ? EXIT_LOADED : loaded > 0 ? EXIT_PARTIAL : EXIT_FAILED;

cleanup:
	/* The failure report's strings live in the copies: print before this. */
	for (int j = 0; j < MAX_JOBS; j++) {
		pgcm_copy_free(copies[j]);
		free(src_cmds[j]);
		if (src.conns[j])
			PQfinish(src.conns[j]);
	}
	cli_progress_free(prog);
	if (src.kind == EP_FILE && src.fd >= 0)
		close(src.fd);
	free(src.label);
	for (int i = 0; i < o.nto; i++) {
		endpoint *e = &dst[i];
		/* Closing a connection rolls its open transaction back. */
		for (int j = 0; j < MAX_JOBS; j++)
			if (e->conns[j])
				PQfinish(e->conns[j]);
		if (e->kind == EP_FILE && e->fd >= 0)
			close(e->fd);
		if (e->tmp_path)
			unlink(e->tmp_path);
		free(e->tmp_path);
		free(e->path);
		free(e->label);
		free(e->command);
		free(e->error);
	}
	return rc;
}
