/*
 * copy.h: the pieces of `pgcopyman copy`, one concern a file:
 *
 *   cmd_copy.c         the command: connect, plan, load, settle, report
 *   copy_options.c     its options and usage
 *   copy_statements.c  the copy plan (statements, format), the --jobs ranges
 *   copy_header.c      a file or stdin source's CSV header, read ahead for the plan
 *   copy_plan_print.c  the plan as --dry-run shows it (text or JSON), and its problems
 *   copy_endpoints.c   sources and targets: servers (sessions), files, stdin/stdout
 *   copy_commit.c      the targets' transactions: begin, truncate, commit or roll back
 *   copy_run.c         the streams (one pgcm_copy each) stepped in one poll() loop
 *   copy_report.c      the JSON and human summaries
 *   copy_estimate.c    what the source will send, for the progress display's percent
 *   bulkload.h         around a target's COPY: deferred index work, owned sequences
 *
 * Like the rest of the command it uses only the library's public header.
 */
#ifndef PGCM_CLI_COPY_H
#define PGCM_CLI_COPY_H

#include <stdint.h>
#include <stdio.h>

#include "pgcopyman.h"
#include "progress.h"

#define MAX_TARGETS 64
#define MAX_JOBS 16

enum endpoint_kind { EP_SERVER, EP_FILE, EP_STDIO };

/* A source or a target, as the command line gave it. */
typedef struct copy_endpoint {
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
	struct bulkload *bulk;    /* bulkload.c: the work around its COPY (NULL: none) */
} copy_endpoint;

/* The copy command's options. */
typedef struct copy_opts {
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
	int header_match;         /* compare a file source's CSV header with the columns (default on) */
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
	int no_defer_indexes;     /* --truncate loads the table with its indexes in place */
	int defer_foreign_keys;   /* also defer the foreign keys to other tables */
	int no_sequences;         /* leave the target's sequences alone */
	const char *maintenance_work_mem;  /* for the index rebuild (NULL: 512MB or the server's) */
} copy_opts;

/* copy_options.c */
void copy_usage(FILE *f);
/* 0: parsed; -1: --help was printed; otherwise the exit status of a usage error (printed). */
int copy_parse_options(int argc, char **argv, copy_opts *o);

/* copy_statements.c */
pgcm_plan *copy_make_plan(const copy_opts *o, const copy_endpoint *src, const copy_endpoint *dst);
int copy_source_commands(copy_endpoint *src, const copy_opts *o, const pgcm_plan *plan, char **cmds);

/* copy_estimate.c */
void copy_estimate(const pgcm_plan *plan, const copy_opts *o, const copy_endpoint *src, uint64_t *rows,
                   uint64_t *bytes);

/* copy_header.c */
/* 1 when fd is a regular file that can be read ahead and put back. */
int copy_fd_rewindable(int fd);
int copy_read_header(int fd, char quote, char escape, char **line, size_t *len);

/* copy_plan_print.c */
/* The whole plan: tables, statements, columns with both types per target, notes, problems. */
void copy_print_plan(const pgcm_plan *plan, const copy_opts *o, const copy_endpoint *src,
                     const copy_endpoint *dst, char *const *src_cmds);
/* That nothing was copied, on stderr, after every problem (one line each) when each. */
void copy_print_problems(const pgcm_plan *plan, int each);

/* copy_endpoints.c */
void copy_classify(copy_endpoint *e, const char *spec);
int copy_exec_on(copy_endpoint *e, PGconn *conn, const char *sql);
int copy_exec_all(copy_endpoint *e, int n, const char *sql);
int copy_connect_sessions(copy_endpoint *e, int n);
int copy_open_target_file(copy_endpoint *e);
int copy_open_source(copy_endpoint *src, const copy_opts *o);
int copy_open_target(copy_endpoint *e, const copy_opts *o);
void copy_endpoint_close(copy_endpoint *e);

/* copy_commit.c */
int copy_begin_targets(copy_endpoint *dst, const copy_opts *o);
int copy_settle_target(copy_endpoint *e, const copy_opts *o, int aborted);

/* copy_run.c */
pgcm_copy *copy_new_stream(int j, copy_endpoint *src, char *const *src_cmds, copy_endpoint *dst,
                           const copy_opts *o, const pgcm_format *fmt);
void copy_run_streams(pgcm_copy *const *copies, int jobs, const copy_opts *o, copy_endpoint *dst,
                      cli_progress *prog);
void copy_record_fault(copy_endpoint *dst, int ndst, const pgcm_fault *f, cli_progress *prog);
pgcm_receiver_state copy_target_state(const copy_endpoint *e, int jobs);
pgcm_progress copy_totals(pgcm_copy *const *copies, int jobs);

/* copy_report.c */
void copy_print_json(const copy_opts *o, const char *format, const char *why, double seconds,
                     pgcm_progress total, copy_endpoint *dst, int ndst, int aborted,
                     const char *reason, const char *source_error);
void copy_print_summary(const copy_opts *o, const char *format, double seconds, pgcm_progress total,
                        int loaded, int faulted);

#endif
