/*
 * copy.h: the pieces of `pgcopyman copy`, one concern a file:
 *
 *   cmd_copy.c         the command: connect, plan, load, settle, report
 *   copy_options.c     its options and usage
 *   copy_statements.c  the copy plan (statements, format), the --jobs ranges
 *   copy_header.c      a file or stdin source's CSV header, read ahead for the plan
 *   copy_plan_print.c  the plan as --dry-run shows it (text or JSON), and its problems
 *   copy_names.c       the source table checked before the plan; hints for unquoted names
 *   copy_dupes.c       the same target given twice, however spelled, refused
 *   lockwait.c         a target waiting on another session's lock: which, and who holds it
 *   copy_endpoints.c   sources and targets: servers (sessions), files, stdin/stdout
 *   copy_commit_plan.c what the targets' commit needs, checked before any data moves
 *   copy_commit.c      the targets' transactions: begin, truncate, commit (two-phase where
 *                      sessions must agree) or roll back, and the truth about each
 *   copy_run.c         the streams (one pgcm_copy each) stepped in one poll() loop
 *   copy_report.c      the JSON and human summaries
 *   copy_estimate.c    what the source will send, for the progress display's percent
 *   copy_verify.c      --verify: the copied table compared on each target (compare.h)
 *   file_target.c      a file: target: written unseen and put in place on commit
 *   copy_compress.c    .gz, .zst and .lz4 files: --compress checked, readers and writers (codec.h)
 *   bulkload.h         around a target's COPY: deferred index work, owned sequences
 *
 * Like the rest of the command it uses only the library's public header.
 */
#ifndef PGCM_CLI_COPY_H
#define PGCM_CLI_COPY_H

#include <stdint.h>
#include <stdio.h>

#include "pgcopyman.h"
#include "codec.h"
#include "progress.h"
#include "statedir.h"

#define MAX_TARGETS 64
#define MAX_JOBS 16
#define COPY_MAX_ROW_LIMIT ((size_t) 1 << 30)  /* the server's own limit on a row */
#define LOCK_CHECK_AFTER 2.0  /* seconds without progress before a target is asked what it waits for */

enum endpoint_kind { EP_SERVER, EP_FILE, EP_STDIO };

typedef struct file_target file_target;

/* A source or a target, as the command line gave it. */
typedef struct copy_endpoint {
	const char *spec;         /* as given */
	enum endpoint_kind kind;
	char *label;              /* masked connection string, or the path */
	PGconn *conns[MAX_JOBS];  /* a server: one session per stream */
	PGconn *delete_conn;      /* --truncate with --jobs: the session deleting the old rows */
	int fd;
	char *path;               /* file: final path */
	file_target *file;        /* file target: written through it, committed on success */
	codec_kind codec;         /* a file whose name asks for compression (.gz, .zst, .lz4) */
	codec_reader *reader;     /* a compressed source: the copy reads through it */
	codec_writer *writer;     /* a compressed target: the copy writes through it */
	char *command;            /* the COPY command (a target: the same for every stream) */
	pgcm_receiver *receivers[MAX_JOBS];  /* one per stream, borrowed from the copies */
	const char *status;       /* "ok", "faulted", "aborted", "unknown", "partial" */
	int reported;             /* its fault was shown */
	char *error;
	char sqlstate[6];
	PGconn *monitor;          /* a server target: the session that asks what it waits for (lockwait.c) */
	int no_monitor;           /* the monitor could not be opened: not tried again */
	char *lock_note;          /* what it waits for now, as last said; NULL: not waiting on a lock */
	char *reason;             /* not loaded without a fault of its own: why (e.g. the abort) */
	char *check;              /* "unknown": what to check, and how to settle it */
	uint64_t rows;            /* committed on it ("unknown": what would be, if committed) */
	struct bulkload *bulk;    /* bulkload.c: the work around its COPY (NULL: none) */
	const char *verify;       /* --verify: "same", "differs", "error", "skipped"; NULL: not asked */
	char *verify_message;     /* its outcome in words */
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
	int progress;             /* 0: automatic; 1: plain lines (--progress); 2: JSON lines (--progress=json) */
	long segment_mb;
	int jobs;                 /* streams: source sessions, each with its own target sessions */
	const char *split_key;
	size_t max_row;           /* --max-row-size: longest row a file or stdin source may hold; 0: 1 GiB */
	int compress;             /* --compress was given */
	int compress_level;       /* its level */
	const char *state_dir;    /* --state-dir: where two-phase runs keep their records */
	int no_defer_indexes;     /* --truncate loads the table with its indexes in place */
	int defer_foreign_keys;   /* also defer the foreign keys to other tables */
	int no_sequences;         /* leave the target's sequences alone */
	const char *maintenance_work_mem;  /* for the index rebuild (NULL: 512MB or the server's) */
	int verify;               /* --verify: compare the table on each target with the source afterwards */
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
pgcm_plan *copy_make_plan(const copy_opts *o, const copy_endpoint *src, const copy_endpoint *dst);
int copy_source_commands(copy_endpoint *src, const copy_opts *o, const pgcm_plan *plan, char **cmds);

/* copy_estimate.c */
void copy_estimate(const pgcm_plan *plan, const copy_opts *o, const copy_endpoint *src, uint64_t *rows,
                   uint64_t *bytes);

/* copy_header.c */
/* 1 when fd is a regular file that can be read ahead and put back. */
int copy_fd_rewindable(int fd);
int copy_read_header(int fd, char quote, char escape, char **line, size_t *len);
/* copy_read_header_codec: the same from the start of compressed file path (read on its own). */
int copy_read_header_codec(codec_kind kind, const char *path, char quote, char escape, char **line,
                           size_t *len);

/* copy_plan_print.c */
/* The whole plan: tables, statements, columns with both types per target, notes, problems. */
void copy_print_plan(const pgcm_plan *plan, const copy_opts *o, const copy_endpoint *src,
                     const copy_endpoint *dst, char *const *src_cmds);
/* That nothing was copied, on stderr, after every problem (one line each) when each. */
void copy_print_problems(const pgcm_plan *plan, int each);

/* copy_names.c */
/*
 * copy_check_source_table: the source server's table as typed, before the
 * plan: a name SQL cannot read, or one that does not exist, is printed as the
 * failure's cause (with a hint to quote a mixed-case name) and 0 returned;
 * otherwise 1 (also when it cannot tell: the plan then explains).
 */
int copy_check_source_table(const copy_endpoint *src, const char *table);
/* copy_name_needs_quotes: an unquoted name that SQL would fold or refuse (upper case, spaces, ...). */
int copy_name_needs_quotes(const char *name);
/*
 * copy_name_hint: say how to quote name for option (e.g. --table '"Mixed
 * Case"'); exists_as: a table that exists in another case, or NULL.  Prints
 * nothing when name needs no quotes and exists_as is NULL.
 */
void copy_name_hint(const char *option, const char *name, const char *exists_as);

/* copy_dupes.c */
/* copy_refuse_duplicate_files: before anything is opened: the same file (or stdout) twice.  1, or 0 printed. */
int copy_refuse_duplicate_files(const copy_endpoint *dst, int n);
/*
 * copy_refuse_duplicate_servers: after the plan: the same table of the same
 * database on the same server twice (the plan's resolved names).  1, or 0 printed.
 */
int copy_refuse_duplicate_servers(const copy_endpoint *dst, int n, const pgcm_plan *plan);

/* lockwait.c */
/*
 * copy_lock_wait: when the backend of e's session conn waits for a lock, what
 * it waits for and who holds it ("waiting for a lock on public.t
 * (RowExclusiveLock) held by pid 1234 (psql, idle in transaction, query
 * started ...)"), asked on e's monitoring session (opened on first use).
 * malloc'd; NULL when it waits for no lock, or that cannot be told.
 */
char *copy_lock_wait(copy_endpoint *e, PGconn *conn);
/*
 * copy_note_lock_wait: copy_lock_wait, and, with say, say it (target index +
 * 1, over prog's live line, or on stderr when prog is NULL) when it changed;
 * kept in e->lock_note for the fault message either way.  index < 0: the target is named by
 * its label only.  Returns 1 while it waits on a lock.
 */
int copy_note_lock_wait(copy_endpoint *e, PGconn *conn, int index, cli_progress *prog, int say);

/* copy_compress.c */
/* copy_compress_check: --compress against the compressed targets' levels (none: refused).  1, or 0 printed. */
int copy_compress_check(const copy_opts *o, const copy_endpoint *dst);
/* copy_compress_source / _target: the reader or writer of an opened compressed file.  1, or 0 printed. */
int copy_compress_source(copy_endpoint *src);
int copy_compress_target(copy_endpoint *e, const copy_opts *o);

/* copy_endpoints.c */
void copy_classify(copy_endpoint *e, const char *spec);
int copy_exec_on(copy_endpoint *e, PGconn *conn, const char *sql);
int copy_exec_all(copy_endpoint *e, int n, const char *sql);
PGconn *copy_connect_session(copy_endpoint *e);
int copy_connect_sessions(copy_endpoint *e, int n);
int copy_open_target_file(copy_endpoint *e, const copy_opts *o);
int copy_open_source(copy_endpoint *src, const copy_opts *o);
int copy_open_target(copy_endpoint *e, const copy_opts *o);
void copy_endpoint_close(copy_endpoint *e);

/*
 * file_target.c: a file: target (the rules are at the top of file_target.c).
 *
 * file_target_open: look at path and refuse what must not be written (a
 * directory, a block device, a symbolic link to a file) before any data
 * moves; otherwise open it for writing: a device, FIFO or socket in place (a
 * FIFO without a reader is waited for up to wait_ms, 0: until *stop), a
 * regular or new file unseen.  Returns the target, or NULL with *err (a
 * malloc'd reason, e.g. "is a directory; name a file in it"; NULL when out of
 * memory).  Free with file_target_discard().
 *
 * file_target_fd: the descriptor to write the data to (the target's; not to be closed).
 *
 * file_target_sync: fsync what was written (a device, FIFO or socket: nothing
 * to do), ahead of file_target_commit (which syncs again, cheaply) where the
 * caller wants a failure before it commits anything else.  Returns 1; or 0
 * with *err (malloc'd, NULL when out of memory).
 *
 * file_target_commit: make what was written the file at the final path: fsync
 * it, link or rename it into place in one step, fsync the directory (a device,
 * FIFO or socket: nothing to do).  Returns 1; or 0 with *err (malloc'd, NULL
 * when out of memory), and then the final path is as it was, unless the only
 * failure was syncing the directory (the message says so).
 *
 * file_target_set_finish: have file_target_sync() (and so file_target_commit()
 * and file_target_keep()) call finish(arg, err) first, once, to write the
 * data's last bytes (a compressed stream's end mark); when it returns 0 (with
 * *err malloc'd) nothing is synced, committed or kept.
 *
 * file_target_keep: instead of committing, keep what was written under a
 * temporary name of its own beside the final path (fsync'd, created
 * exclusively), for someone to decide about; the final path is untouched.
 * Returns 1 with *kept (malloc'd, that file's path; NULL for a device, FIFO
 * or socket, written in place as the data came); or 0 with *err (malloc'd,
 * NULL when out of memory).
 *
 * file_target_discard: close and free t (NULL is fine); what was not
 * committed or kept is removed (an O_TMPFILE file leaves nothing at all).
 */
file_target *file_target_open(const char *path, int wait_ms, const volatile int *stop, char **err);
int file_target_fd(const file_target *t);
int file_target_sync(file_target *t, char **err);
int file_target_commit(file_target *t, char **err);
void file_target_set_finish(file_target *t, int (*finish)(void *arg, char **err), void *arg);
int file_target_keep(file_target *t, char **kept, char **err);
void file_target_discard(file_target *t);

/* copy_commit_plan.c */
/*
 * Before any data moves: warn about a target's leftover prepared transactions;
 * refuse what cannot be all-or-nothing (prepared transactions off where they
 * are needed; --truncate with --jobs on a table with a unique index); for a
 * two-phase run that is not a dry run, lock and write its record.  0, or the
 * exit status (printed).
 */
int copy_commit_prepare(copy_commit *cc, copy_endpoint *dst, const copy_opts *o);
/* The run's record removed when nothing is left to settle; the lock released. */
void copy_commit_free(copy_commit *cc);

/* copy_commit.c */
/*
 * copy_begin_targets: BEGIN on every server target's sessions, and with
 * --truncate empty the table in that transaction.  Returns 1; or 0 when a
 * step failed: said once (with the server's SQLSTATE, DETAIL and HINT), that
 * target faulted with it, every other one not loaded, and the reason in
 * cc->abort_reason (malloc'd) for the JSON summary.
 */
int copy_begin_targets(copy_commit *cc, copy_endpoint *dst, const copy_opts *o);
/*
 * Commit every target whose streams all completed and that has no fault
 * reported (one reported after its streams, by bulkload_finish, is rolled
 * back), or roll it back, and set each target's status, rows, error, reason
 * and check to what is true on it.  aborted: the copy aborted (why: its reason).
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

/* copy_verify.c */
int copy_verify_begin(copy_endpoint *src, const copy_opts *o);
int copy_verify(const copy_opts *o, const pgcm_plan *plan, copy_endpoint *src, copy_endpoint *dst);

/* copy_report.c */
void copy_print_json(const copy_opts *o, const char *format, const char *why, double seconds,
                     pgcm_progress total, copy_endpoint *dst, int ndst, int aborted,
                     const char *reason, const char *source_error);
void copy_print_summary(const copy_opts *o, const char *format, double seconds, pgcm_progress total,
                        const copy_endpoint *dst, int ndst);

#endif
