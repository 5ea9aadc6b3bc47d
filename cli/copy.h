/*
 * copy.h: the pieces of `pgcopyman copy`, one concern a file:
 *
 *   cmd_copy.c         the command: connect, plan, load, settle, report
 *   copy_options.c     its options and usage
 *   copy_statements.c  the COPY statements of every endpoint, the format, the estimate
 *   copy_endpoints.c   sources and targets: servers (sessions), files, stdin/stdout
 *   copy_commit_plan.c what the targets' commit needs, checked before any data moves
 *   copy_commit.c      the targets' transactions: begin, truncate, commit (two-phase where
 *                      sessions must agree) or roll back, and the truth about each
 *   copy_run.c         the streams (one pgcm_copy each) stepped in one poll() loop
 *   copy_report.c      the JSON and human summaries
 *
 * Like the rest of the command it uses only the library's public header.
 */
#ifndef PGCM_CLI_COPY_H
#define PGCM_CLI_COPY_H

#include <stdint.h>
#include <stdio.h>

#include "pgcopyman.h"
#include "progress.h"
#include "statedir.h"

#define MAX_TARGETS 64
#define MAX_JOBS 16

enum endpoint_kind { EP_SERVER, EP_FILE, EP_STDIO };

/* A source or a target, as the command line gave it. */
typedef struct copy_endpoint {
	const char *spec;         /* as given */
	enum endpoint_kind kind;
	char *label;              /* masked connection string, or the path */
	PGconn *conns[MAX_JOBS];  /* a server: one session per stream */
	PGconn *delete_conn;      /* --truncate with --jobs: the session deleting the old rows */
	int fd;
	char *path;               /* file: final path */
	char *tmp_path;           /* file target: written here, renamed on success */
	char *command;            /* the COPY command (a target: the same for every stream) */
	pgcm_receiver *receivers[MAX_JOBS];  /* one per stream, borrowed from the copies */
	const char *status;       /* "ok", "faulted", "aborted", "unknown", "partial" */
	int reported;             /* its fault was shown */
	char *error;
	char sqlstate[6];
	char *reason;             /* not loaded without a fault of its own: why (e.g. the abort) */
	char *check;              /* "unknown": what to check, and how to settle it */
	uint64_t rows;            /* committed on it ("unknown": what would be, if committed) */
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
	const char *state_dir;    /* --state-dir: where two-phase runs keep their records */
} copy_opts;

/* How the targets of a copy commit, and what the end phase found (copy_commit*.c). */
typedef struct copy_commit {
	int two_phase;            /* server targets commit with PREPARE TRANSACTION / COMMIT PREPARED */
	char *state_dir;          /* the run record's directory (two-phase only) */
	int lock_fd;              /* the run's lock, held until its transactions are settled; -1 none */
	run_record record;
	char *abort_reason;       /* the end phase aborted the copy (--on-fault abort, a signal) */
	int unsettled;            /* prepared transactions the run could not finish: recover's work */
} copy_commit;

/* copy_options.c */
void copy_usage(FILE *f);
/* 0: parsed; -1: --help was printed; otherwise the exit status of a usage error (printed). */
int copy_parse_options(int argc, char **argv, copy_opts *o);

/* copy_statements.c */
char *copy_build_command(PGconn *conn, const copy_opts *o, const char *format, int source,
                         const char *where, const char **err);
int copy_source_commands(copy_endpoint *src, const copy_opts *o, const char *format, char **cmds);
const char *copy_choose_format(const copy_opts *o, copy_endpoint *src, copy_endpoint *dst, int ndst,
                               const char **why);
void copy_stream_format(pgcm_format *fmt, const copy_opts *o, const char *format);
void copy_estimate(const copy_opts *o, const copy_endpoint *src, uint64_t *rows, uint64_t *bytes);

/* copy_endpoints.c */
void copy_classify(copy_endpoint *e, const char *spec);
int copy_exec_on(copy_endpoint *e, PGconn *conn, const char *sql);
int copy_exec_all(copy_endpoint *e, int n, const char *sql);
PGconn *copy_connect_session(copy_endpoint *e);
int copy_connect_sessions(copy_endpoint *e, int n);
int copy_open_target_file(copy_endpoint *e);
int copy_open_source(copy_endpoint *src, const copy_opts *o);
int copy_open_target(copy_endpoint *e, const copy_opts *o);
void copy_endpoint_close(copy_endpoint *e);

/* copy_commit_plan.c */
/*
 * Before any data moves: warn about a target's leftover prepared transactions;
 * refuse what cannot be all-or-nothing (prepared transactions off where they
 * are needed; --truncate with --jobs on a table with a unique index); for a
 * two-phase run, lock and write its record.  0, or the exit status (printed).
 */
int copy_commit_prepare(copy_commit *cc, copy_endpoint *dst, const copy_opts *o);
/* The run's record removed when nothing is left to settle; the lock released. */
void copy_commit_free(copy_commit *cc);

/* copy_commit.c */
int copy_begin_targets(copy_endpoint *dst, const copy_opts *o);
/*
 * Commit every target whose streams all completed, or roll it back, and set
 * each target's status, rows, error, reason and check to what is true on it.
 * aborted: the copy aborted (why: its reason).
 */
void copy_settle_targets(copy_commit *cc, copy_endpoint *dst, const copy_opts *o, int aborted,
                         const char *why);

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
                        const copy_endpoint *dst, int ndst);

#endif
