/*
 * pgcopyman.h: move PostgreSQL COPY data from one producer to many receivers,
 * and manage LISTEN/NOTIFY notifications, on libpq's asynchronous API.
 *
 * This is the library's one public header.  Every handle is opaque; every call
 * that can fail returns a pgcm_status, and the handle keeps a message.
 */
#ifndef PGCOPYMAN_H
#define PGCOPYMAN_H

#include <poll.h>
#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__) || defined(__clang__)
#define PGCM_API __attribute__((visibility("default")))
#else
#define PGCM_API
#endif

/* The version of this header: "major.minor.patch", and major * 10000 + minor * 100 + patch. */
#define PGCM_VERSION "0.1.0"
#define PGCM_VERSION_NUM 100

/*
 * pgcm_version, pgcm_version_num: the version of the library actually
 * loaded (which may differ from the header a program was built with).
 * Static strings; never fail.
 */
PGCM_API const char *pgcm_version(void);
PGCM_API int pgcm_version_num(void);

/* ------------------------------------------------------------------------
 * Status codes
 * ------------------------------------------------------------------------ */
typedef enum pgcm_status {
	PGCM_OK = 0,            /* success; for step/next: progress was made */
	PGCM_DONE,              /* the copy completed: every live receiver ended its COPY;
	                           a notifier: no live connection is left */
	PGCM_AGAIN,             /* step: nothing to do now; wait on the poll descriptors */
	PGCM_FAULT,             /* this cycle took receivers out; see pgcm_copy_faults() */
	PGCM_ERR_ARG,           /* an argument was invalid */
	PGCM_ERR_NOMEM,         /* out of memory */
	PGCM_ERR_STATE,         /* the call is not valid in the handle's current state */
	PGCM_ERR_PRODUCER,      /* the producer failed; the copy was aborted */
	PGCM_ERR_NO_RECEIVERS,  /* no receiver is left; the copy was aborted */
	PGCM_ERR_ABORTED,       /* the caller aborted the copy, or finished it early */
	PGCM_ERR_ROWCOUNT,      /* a server counted other rows than were sent */
	PGCM_ERR_REFUSED,       /* reconcile refused: the receiver's connection or COPY is gone */
	PGCM_ERR_FORMAT,        /* malformed or truncated COPY data */
	PGCM_ERR_IO,            /* a read or write on a file descriptor failed */
	PGCM_ERR_CONNECTION,    /* a connection was lost or is not usable */
	PGCM_ERR_SERVER,        /* the server reported an error */
	PGCM_ERR_TIMEOUT,       /* a peer made no progress for too long */
	PGCM_ERR_CALLBACK,      /* a caller's callback reported failure */
	PGCM_ERR_PLAN           /* the copy plan found problems: see pgcm_plan_problem() */
} pgcm_status;

/* pgcm_strerror: a static, constant description of a status. */
PGCM_API const char *pgcm_strerror(pgcm_status st);

/* ------------------------------------------------------------------------
 * COPY data formats
 * ------------------------------------------------------------------------ */
typedef enum pgcm_format_kind {
	PGCM_FORMAT_TEXT = 0,
	PGCM_FORMAT_CSV,
	PGCM_FORMAT_BINARY
} pgcm_format_kind;

/*
 * pgcm_format: what a stream of COPY data looks like.  Initialise it with
 * pgcm_format_init() and change what differs.  A file or callback producer
 * needs it to find row boundaries; a connection producer needs it only for
 * CSV (binary is recognised from the server's answer): for a header, and to
 * tell where a row longer than 8 KiB ends.  Told text, it may take a piece
 * of such a CSV row (cut after a quoted newline) for a row: the copy then
 * fails (PGCM_ERR_PRODUCER: the server counted fewer rows than arrived)
 * rather than load anything wrong.
 */
typedef struct pgcm_format {
	pgcm_format_kind kind;
	int header;         /* CSV: the first line is a header, not a row */
	char delimiter;     /* text: '\t', CSV: ',' */
	char quote;         /* CSV: '"' */
	char escape;        /* CSV: same as quote */
	size_t max_row;     /* file and callback producers: longest row accepted
	                       (0 = 1 GiB, the server's own limit) */
} pgcm_format;

/* pgcm_format_kind_name: "text", "csv" or "binary" ("unknown" for another value). Static. */
PGCM_API const char *pgcm_format_kind_name(pgcm_format_kind kind);

/* pgcm_format_init: fill *fmt with the server's defaults for kind. */
PGCM_API void pgcm_format_init(pgcm_format *fmt, pgcm_format_kind kind);

/* ------------------------------------------------------------------------
 * Producers: where COPY data comes from
 * ------------------------------------------------------------------------ */
typedef struct pgcm_producer pgcm_producer;

/*
 * pgcm_read_cb: fill buf with up to cap bytes of COPY data.  Return the number
 * of bytes stored, 0 at the end of the data, PGCM_READ_AGAIN when nothing is
 * there yet, or -1 (any other negative value) on failure (the producer fails
 * and the copy is aborted).  Bytes may be cut anywhere: the producer finds
 * row boundaries itself.  After PGCM_READ_AGAIN the step hands on the whole
 * rows it has and returns; the callback is asked again by a later step
 * (pgcm_copy_timeout_ms() is then at most 10 ms, so next and run poll it), and
 * the stall timeout covers a callback that never has anything.
 */
typedef long (*pgcm_read_cb)(void *arg, char *buf, size_t cap);
#define PGCM_READ_AGAIN (-2L)

/*
 * pgcm_producer_pg: a producer that runs copy_to ("COPY ... TO STDOUT") on
 * conn.  conn stays the caller's: it must be idle (or inside the caller's
 * transaction) and is never closed, begun or committed by the library.  The
 * command is copied.  Returns NULL when out of memory or on a NULL argument.
 */
PGCM_API pgcm_producer *pgcm_producer_pg(PGconn *conn, const char *copy_to);

/*
 * pgcm_producer_fd: a producer reading COPY data in format fmt (copied) from
 * fd (a file, a pipe, stdin).  The fd stays the caller's and is not closed.
 * It reads only what is there: a quiet pipe makes the step return PGCM_AGAIN
 * (with fd among the poll descriptors), after handing on every whole row.
 */
PGCM_API pgcm_producer *pgcm_producer_fd(int fd, const pgcm_format *fmt);

/* pgcm_producer_fn: a producer calling read_cb(arg, ...) for data in format fmt. */
PGCM_API pgcm_producer *pgcm_producer_fn(pgcm_read_cb read_cb, void *arg,
                                         const pgcm_format *fmt);

/* pgcm_producer_null: a producer of no rows. */
PGCM_API pgcm_producer *pgcm_producer_null(void);

/*
 * pgcm_producer_set_format: declare the format of a connection producer's
 * COPY (needed only to know that a CSV stream starts with a header line).
 * Returns PGCM_OK, or PGCM_ERR_STATE once the producer belongs to a started copy.
 */
PGCM_API pgcm_status pgcm_producer_set_format(pgcm_producer *p, const pgcm_format *fmt);

/* pgcm_producer_set_label: a name used in messages (copied), e.g. "source". */
PGCM_API pgcm_status pgcm_producer_set_label(pgcm_producer *p, const char *label);

/* pgcm_producer_free: free a producer that was never given to a copy. NULL is fine. */
PGCM_API void pgcm_producer_free(pgcm_producer *p);

/* ------------------------------------------------------------------------
 * Receivers: where COPY data goes
 * ------------------------------------------------------------------------ */
typedef struct pgcm_receiver pgcm_receiver;

/*
 * pgcm_write_cb: consume len bytes of COPY data (whole rows; buf is borrowed
 * for the call only).  Return 0 to go on; non-zero faults this receiver only,
 * and means that nothing of buf was taken: a reconciled receiver gets the same
 * bytes again.
 */
typedef int (*pgcm_write_cb)(void *arg, const char *buf, size_t len);

/*
 * pgcm_receiver_pg: a receiver that runs copy_from ("COPY ... FROM STDIN") on
 * conn.  conn stays the caller's, as for pgcm_producer_pg().
 */
PGCM_API pgcm_receiver *pgcm_receiver_pg(PGconn *conn, const char *copy_from);

/* pgcm_receiver_fd: a receiver writing to fd (a file, a pipe, stdout); not closed. */
PGCM_API pgcm_receiver *pgcm_receiver_fd(int fd);

/* pgcm_receiver_fn: a receiver calling write_cb(arg, ...). */
PGCM_API pgcm_receiver *pgcm_receiver_fn(pgcm_write_cb write_cb, void *arg);

/* pgcm_receiver_null: a receiver that discards everything. */
PGCM_API pgcm_receiver *pgcm_receiver_null(void);

/* pgcm_receiver_set_label: a name used in messages (copied), e.g. a masked connection string. */
PGCM_API pgcm_status pgcm_receiver_set_label(pgcm_receiver *r, const char *label);

/* pgcm_receiver_label: the label, or a generated one ("receiver 2"). Borrowed. */
PGCM_API const char *pgcm_receiver_label(const pgcm_receiver *r);

typedef enum pgcm_receiver_state {
	PGCM_RECEIVER_IDLE = 0,   /* not started */
	PGCM_RECEIVER_ACTIVE,     /* in the receiver set */
	PGCM_RECEIVER_FAULTED,    /* taken out; may be reconciled before the next cycle */
	PGCM_RECEIVER_DROPPED,    /* taken out for good; its COPY was failed (rolled back) */
	PGCM_RECEIVER_DONE,       /* its COPY completed and its row count was checked */
	PGCM_RECEIVER_ABORTED     /* the copy was aborted; its COPY was failed */
} pgcm_receiver_state;

/* pgcm_receiver_state: where the receiver stands. */
PGCM_API pgcm_receiver_state pgcm_receiver_get_state(const pgcm_receiver *r);

/*
 * pgcm_receiver_state_name: "idle", "active", "faulted", "dropped", "done" or
 * "aborted" ("unknown" for another value).  Static.
 */
PGCM_API const char *pgcm_receiver_state_name(pgcm_receiver_state st);

/* pgcm_receiver_rows: rows the receiver's server confirmed (its command tags). */
PGCM_API uint64_t pgcm_receiver_rows(const pgcm_receiver *r);

/* pgcm_receiver_free: free a receiver that was never given to a copy. NULL is fine. */
PGCM_API void pgcm_receiver_free(pgcm_receiver *r);

/* ------------------------------------------------------------------------
 * The copy manager
 * ------------------------------------------------------------------------ */
typedef struct pgcm_copy pgcm_copy;

/* Rows and bytes the producer handed to the receivers. */
typedef struct pgcm_progress {
	uint64_t rows;
	uint64_t bytes;
} pgcm_progress;

/* One receiver fault (the library's ReceiverFault). Strings are borrowed from the copy. */
typedef struct pgcm_fault {
	pgcm_receiver *receiver;  /* valid until pgcm_copy_free() */
	size_t index;             /* 0-based, in the order the receivers were added */
	pgcm_status status;       /* PGCM_ERR_SERVER, _CONNECTION, _TIMEOUT, _IO, _CALLBACK, ... */
	const char *message;      /* "receiver 1 (label): ..." */
	const char *sqlstate;     /* five characters, or "" when the server gave none */
	uint64_t row;             /* 1-based row of the whole stream it failed at, 0 if unknown */
	int reconcilable;         /* 1 when pgcm_copy_reconcile() may put it back */
} pgcm_fault;

/* The final report of a copy that did not complete (the original's CopyFail). */
typedef struct pgcm_failure {
	pgcm_status status;       /* PGCM_ERR_ABORTED, _PRODUCER, _NO_RECEIVERS, ... */
	const char *reason;       /* why the copy ended early */
	const char *producer_error;    /* the producer's fault, or NULL */
	const char *producer_sqlstate; /* "" when none */
	const pgcm_fault *faults;      /* every receiver fault of the copy */
	size_t nfaults;
} pgcm_failure;

/*
 * pgcm_copy_new: a copy from producer p.  The copy owns p from now on (also
 * when this fails: then p is freed).  Returns NULL when out of memory or p is NULL.
 */
PGCM_API pgcm_copy *pgcm_copy_new(pgcm_producer *p);

/*
 * pgcm_copy_add: add receiver r.  The copy owns r from now on (also on failure).
 * Returns PGCM_OK, PGCM_ERR_ARG, PGCM_ERR_NOMEM, or PGCM_ERR_STATE once started.
 */
PGCM_API pgcm_status pgcm_copy_add(pgcm_copy *c, pgcm_receiver *r);

/*
 * Tuning, before pgcm_copy_start().  chunk_bytes: the size a chunk of whole rows
 * is filled to (default 64 KiB); chunks: how many may be in flight (default 16):
 * memory is bounded by their product (a chunk read from a connection keeps 8 KiB
 * of room more, so that most rows are read whole), plus the largest row.
 */
PGCM_API pgcm_status pgcm_copy_set_window(pgcm_copy *c, size_t chunk_bytes, size_t chunks);

/*
 * pgcm_copy_set_segment_bytes: a connection receiver ends its COPY and starts
 * the next one in the same transaction after about this many bytes (default 16
 * MiB; 0 = never).  libpq reports a target's mid-COPY error only when its COPY
 * ends, so segments bound how late a rejected row is noticed; when the server
 * is seen speaking mid-COPY the segment also ends early.  Segments are used
 * only when the receiver's connection is inside a transaction block: outside
 * one, each segment would commit on its own.
 */
PGCM_API pgcm_status pgcm_copy_set_segment_bytes(pgcm_copy *c, uint64_t bytes);

/*
 * pgcm_copy_set_stall_timeout: one rule for every endpoint (default 60000 ms;
 * 0 = never): a receiver that takes nothing, and whose peer does nothing, for
 * ms while data or its end waits for it is faulted (the others go on); a
 * producer whose source sends nothing for ms while the window has room fails,
 * which ends the copy (PGCM_ERR_PRODUCER, "... stall timeout").  A source
 * query that needs longer than ms before its first row needs a longer timeout.
 */
PGCM_API pgcm_status pgcm_copy_set_stall_timeout(pgcm_copy *c, int ms);

/*
 * pgcm_copy_set_drain_timeout: how long an abort gives the connections to
 * settle (default 10000 ms): past it a connection that has not answered is
 * shut down and reported dead.  This bounds every blocking call below.
 */
PGCM_API pgcm_status pgcm_copy_set_drain_timeout(pgcm_copy *c, int ms);

/*
 * pgcm_copy_start: send every COPY command.  Never blocks.  Receivers whose
 * COPY the server refuses are reported as faults by the first cycle.
 * Returns PGCM_OK, PGCM_ERR_STATE (already started), or an error for a
 * producer that cannot start (then pgcm_copy_finish() reports it).
 */
PGCM_API pgcm_status pgcm_copy_start(pgcm_copy *c);

/*
 * pgcm_copy_step: do whatever can be done now without blocking, and add the
 * rows and bytes handed to the receivers to *progress (set to zero first).
 * Never waits for a peer, aborts included: when the copy must end early (the
 * producer failed, no receiver is left, pgcm_copy_abort_start(), an abort
 * from a callback) each step drives the abort a little further (the source's
 * COPY cancelled and drained as its data arrives, each live receiver's COPY
 * failed and its results read, deadlines checked) and returns PGCM_AGAIN
 * until every connection has settled.  The cancel request to a connection
 * producer's server (PQcancel(), synchronous in libpq 15) is sent from a
 * short-lived thread of the library's, and its end is one of the descriptors
 * the step waits on: the source counts as settled only once the server took
 * the request, or is shut down at the drain deadline if it never does.
 * A step given no readiness (this call, or pgcm_copy_step_polled() with no
 * entries) first looks at the copy's descriptors with one zero-timeout poll(),
 * so that no endpoint tries a read or write the kernel would refuse.
 * Returns:
 *   PGCM_OK     progress or a change of state; call again
 *   PGCM_AGAIN  nothing can be done: wait on pgcm_copy_pollfds() for at most
 *               pgcm_copy_timeout_ms(), then step again
 *   PGCM_FAULT  receivers were taken out in this step (pgcm_copy_faults());
 *               they may be reconciled before the next step
 *   PGCM_DONE   the copy completed; call pgcm_copy_finish()
 *   an error    the copy was aborted (producer failed, no receivers left,
 *               aborted) and every connection settled (or was given up at the
 *               drain deadline); pgcm_copy_finish() gives the failure report
 */
PGCM_API pgcm_status pgcm_copy_step(pgcm_copy *c, pgcm_progress *progress);

/*
 * pgcm_copy_step_polled: pgcm_copy_step() after a poll() of the descriptors
 * pgcm_copy_pollfds() gave: fds[0..n) (any order, any subset; entries with a
 * negative fd are skipped) are matched to the copy's endpoints by
 * descriptor, and their revents let the step skip reads and writes the
 * kernel would refuse (fewer system calls).  An endpoint whose descriptor is
 * not in fds makes its system calls as in pgcm_copy_step().  Returns what
 * pgcm_copy_step() returns, or PGCM_ERR_ARG (nothing done; the message says
 * which) when an entry's descriptor is none of the copy's.
 */
PGCM_API pgcm_status pgcm_copy_step_polled(pgcm_copy *c, const struct pollfd *fds, size_t n,
                                           pgcm_progress *progress);

/*
 * pgcm_copy_next: one cycle: step, waiting in poll() as needed, until rows or
 * bytes moved (about one window's worth at most), receivers faulted, or the
 * copy ended.  Returns what pgcm_copy_step() returns, never PGCM_AGAIN; the
 * cycle that moves the last rows returns PGCM_OK, and PGCM_DONE comes with no
 * progress.  A signal that interrupts the wait returns PGCM_OK with what moved
 * so far (possibly nothing), so the caller can look at its flags.  When the
 * last step did all it could without waiting, it waits before stepping.
 * Starts the copy if needed.  Blocks: while peers are silent, up to the stall timeout;
 * while an abort settles, up to the drain timeout.
 */
PGCM_API pgcm_status pgcm_copy_next(pgcm_copy *c, pgcm_progress *progress);

/*
 * pgcm_copy_run: run the copy to its end, leaving faulted receivers out, then
 * finish it.  *total (may be NULL) gets the rows and bytes produced.  Returns
 * PGCM_OK when every receiver completed, PGCM_FAULT when some faulted and the
 * rest completed, or the failure status.  Blocks for the whole copy.
 */
PGCM_API pgcm_status pgcm_copy_run(pgcm_copy *c, pgcm_progress *total);

/*
 * pgcm_copy_faults: the faults of the last step, at most cap of them into out;
 * returns how many there were.  Valid until the next step.
 */
PGCM_API size_t pgcm_copy_faults(const pgcm_copy *c, pgcm_fault *out, size_t cap);

/*
 * pgcm_copy_reconcile: put receiver r, faulted in the last step, back into the
 * receiver set; its pending data is sent first, so it ends with every row
 * exactly once.  Returns PGCM_OK, PGCM_ERR_REFUSED when its connection or COPY
 * is gone (the message says which), or PGCM_ERR_STATE when r is not faulted or
 * a step came in between.
 */
PGCM_API pgcm_status pgcm_copy_reconcile(pgcm_copy *c, pgcm_receiver *r);

/*
 * pgcm_copy_abort: end the copy early with reason (copied; kept short): the
 * producer's COPY is cancelled and drained, every live receiver's COPY is
 * failed with the reason, and every connection is left usable.  Blocks until
 * then: at most the drain timeout (all connections settle together).  Called
 * from a callback, it only marks the copy; the abort begins when the step
 * returns.  Returns PGCM_ERR_ABORTED, or PGCM_ERR_STATE when the copy had
 * already ended, or was already ending (then it waits for that abort).
 */
PGCM_API pgcm_status pgcm_copy_abort(pgcm_copy *c, const char *reason);

/*
 * pgcm_copy_abort_start: pgcm_copy_abort() for a caller's own loop: marks the
 * copy and returns at once; the following steps drive the abort (see
 * pgcm_copy_step()) and the last of them returns PGCM_ERR_ABORTED.  Returns
 * PGCM_ERR_ABORTED, or PGCM_ERR_STATE when the copy had already ended or was
 * already ending.  Never blocks.
 */
PGCM_API pgcm_status pgcm_copy_abort_start(pgcm_copy *c, const char *reason);

/*
 * pgcm_copy_finish: end the copy.  If it completed, returns PGCM_OK (or
 * PGCM_FAULT when receivers were dropped on the way).  Otherwise aborts it
 * ("copy finished before completion") and returns the failure status.
 * *failure (may be NULL) gets the report; its strings live until pgcm_copy_free().
 * Blocks while connections settle (an abort, dropped receivers): at most the
 * drain timeout.
 */
PGCM_API pgcm_status pgcm_copy_finish(pgcm_copy *c, pgcm_failure *failure);

/* pgcm_copy_errmsg: the message of the last failed call or the failure, "" if none. */
PGCM_API const char *pgcm_copy_errmsg(const pgcm_copy *c);

/* pgcm_copy_totals: rows and bytes produced so far. */
PGCM_API pgcm_progress pgcm_copy_totals(const pgcm_copy *c);

/*
 * pgcm_copy_pollfds: the descriptors to wait on before the next step, at most
 * cap of them into fds; returns how many there are (also while an abort
 * settles).  pgcm_copy_timeout_ms(): how long to wait at most (-1 = no limit).
 */
PGCM_API size_t pgcm_copy_pollfds(const pgcm_copy *c, struct pollfd *fds, size_t cap);
PGCM_API int pgcm_copy_timeout_ms(const pgcm_copy *c);

/* pgcm_copy_receiver_count / pgcm_copy_receiver: the receivers, in the order added. */
PGCM_API size_t pgcm_copy_receiver_count(const pgcm_copy *c);
PGCM_API pgcm_receiver *pgcm_copy_receiver(const pgcm_copy *c, size_t i);

/*
 * pgcm_copy_free: free the copy, its producer and receivers (finishing it
 * first if needed: then it blocks as pgcm_copy_finish() does).  The caller's
 * connections stay open.  NULL is fine.  Called from a callback, it only
 * marks the copy; it is freed when the step returns.
 */
PGCM_API void pgcm_copy_free(pgcm_copy *c);

/*
 * pgcm_transfer: copy everything that copy_to produces on src to every
 * connection in dsts[0..n) with copy_from, in one call.  *rows and *bytes (may
 * be NULL) get the totals.  errbuf (may be NULL) gets a message on failure.
 * Returns PGCM_OK only if every target completed.
 */
PGCM_API pgcm_status pgcm_transfer(PGconn *src, const char *copy_to,
                                   PGconn *const *dsts, const char *copy_from, size_t n,
                                   uint64_t *rows, uint64_t *bytes,
                                   char *errbuf, size_t errbuf_size);

/* ------------------------------------------------------------------------
 * Sessions: the settings that shape COPY's text data
 * ------------------------------------------------------------------------ */

/*
 * pgcm_session_pin: pin the settings of conn's session that change what
 * COPY text data says, as pg_dump does, so that a value written as text by
 * one server is read back as the same value by another:
 *   DateStyle ISO (the session's day/month order is kept: it only matters
 *   for files written by hand), IntervalStyle postgres, extra_float_digits 3,
 *   client_encoding encoding (UTF8 when NULL), bytea_output hex, xmloption
 *   content, and row_security off (a source table whose row-level security
 *   would hide rows is then an error, never a silent partial copy).
 * TimeZone, lc_monetary and search_path are left as they are: the copy plan
 * converts time zones itself, compares money formats, and qualifies names.
 * Blocks for one round trip (PQexec).  Returns PGCM_OK, PGCM_ERR_ARG (NULL
 * conn), PGCM_ERR_CONNECTION (conn is not usable) or PGCM_ERR_SERVER (the
 * server refused a setting); errbuf (may be NULL) gets the message.
 */
PGCM_API pgcm_status pgcm_session_pin(PGconn *conn, const char *encoding, char *errbuf,
                                      size_t errlen);

/* ------------------------------------------------------------------------
 * The copy plan: the COPY statements of one table, from both catalogs
 * ------------------------------------------------------------------------ */

/*
 * A plan reads the catalogs of the source and of every target and writes the
 * COPY statement of each, for one table (or one query), so that each target
 * stores exactly what `INSERT INTO target (cols) SELECT cols FROM source`
 * would store if both tables were on the target's server -- or it refuses,
 * before any data moves, with a problem naming the table, the column, both
 * types and the target.
 *
 *   - Columns are matched by name and listed on both sides, in one order (the
 *     source's, or the order of pgcm_plan_set_columns()).  Dropped columns do
 *     not exist.  A source column a target lacks is a problem, unless the
 *     column list leaves it out; a target column the source lacks gets its
 *     default (a note).  A column generated on the targets is left out (they
 *     compute it; a note); generated on some targets only, it is a problem.  A
 *     column generated on the source only is copied (read with SELECT): its
 *     values are data the target keeps.  Identity columns keep the source's
 *     values (COPY writes them even for GENERATED ALWAYS).
 *   - Every target gets the same stream: one column list, one format, one
 *     conversion per column.  A target needing another conversion than the
 *     others is a problem naming it.
 *   - Format: binary only when every copied column has the same built-in type
 *     and type modifier on the source and every target, the servers share a
 *     major version and a client_encoding, and the type has a binary form
 *     (money also needs the same lc_monetary format); otherwise text, with the
 *     reason naming the first column and target that differ.
 *   - Types that differ are converted on the source with the cast INSERT ...
 *     SELECT would use (an assignment or implicit cast in pg_cast, or the
 *     automatic I/O conversion to a string type), written without a type
 *     modifier so that the target's input function applies its own (as the
 *     assignment would).  Explicit-only and missing casts are problems.
 *     timestamptz to timestamp, date or time converts in the targets' TimeZone
 *     (targets that disagree are a problem); timestamp and date to
 *     timestamptz are read by the target in its own TimeZone.  Other
 *     conversions that depend on TimeZone need the same TimeZone on both sides.
 *     Custom types are matched by qualified name: enums need every source label
 *     on the target, composites the same attributes, domains the same base.
 *     reg* columns (regclass, regtype, ...) are copied as qualified names.
 *   - Sources: a table (`COPY t (cols) TO STDOUT`), an inheritance parent (its
 *     own rows: ONLY wherever a query is used), a partitioned table, a view,
 *     a materialised view or a foreign table (`COPY (SELECT cols FROM ...)`),
 *     or a query (its output columns, by name).  Targets: tables, partitioned
 *     tables (PostgreSQL 11 or later) and foreign tables.  Names are read as
 *     SQL reads them (`s.t`, `"Mixed Case"`), resolved with each session's
 *     search_path, written schema-qualified; a name part longer than 63 bytes
 *     is a problem (the server would truncate it silently).
 *   - Text data must mean the same on every session: the plan checks the
 *     settings pgcm_session_pin() sets on every connection it is given, for
 *     the types that depend on them, and reports an unpinned one as a problem.
 *
 * Building a plan runs ordinary synchronous queries (PQexec, PQprepare) on
 * the connections it is given: it blocks, and the connections must be idle
 * (or in the caller's transaction, which a failing query would abort; the
 * plan's own catalog queries do not fail).  Nothing is written.  A plan holds
 * no connection after pgcm_plan_build() returns; its statements are plain
 * strings for pgcm_producer_pg() and pgcm_receiver_pg().
 */
typedef struct pgcm_plan pgcm_plan;

/* pgcm_plan_new: an empty plan (format auto, text as the fallback).  NULL when out of memory. */
PGCM_API pgcm_plan *pgcm_plan_new(void);

/*
 * pgcm_plan_set_source_table / _query / _stream: where the rows come from:
 * a relation named as SQL reads it on conn; the output of query on conn
 * (described with PQprepare on the unnamed statement, not run); or a stream
 * of COPY data (a file, a pipe, a callback) whose columns are the column
 * list, or else the first server target's.  Strings are copied; conn stays
 * the caller's.  Returns PGCM_OK, PGCM_ERR_ARG, PGCM_ERR_NOMEM, or
 * PGCM_ERR_STATE once built.
 */
PGCM_API pgcm_status pgcm_plan_set_source_table(pgcm_plan *p, PGconn *conn, const char *table);
PGCM_API pgcm_status pgcm_plan_set_source_query(pgcm_plan *p, PGconn *conn, const char *query);
PGCM_API pgcm_status pgcm_plan_set_source_stream(pgcm_plan *p);

/*
 * pgcm_plan_add_target / _stream: a target table on conn (table NULL: the
 * source table's name, resolved on the target), or a stream target (a file,
 * stdout, a callback: it receives the stream as it is).  *index (may be
 * NULL) gets its 0-based index, the order of the problems' target field.
 * Returns as the source setters.
 */
PGCM_API pgcm_status pgcm_plan_add_target(pgcm_plan *p, PGconn *conn, const char *table,
                                          size_t *index);
PGCM_API pgcm_status pgcm_plan_add_target_stream(pgcm_plan *p, size_t *index);

/*
 * pgcm_plan_set_columns: copy only these columns, in this order: a comma
 * separated list as SQL reads it ("id, \"Last Name\"").  NULL: every column.
 * Returns as the source setters (a malformed list is a problem of the build).
 */
PGCM_API pgcm_status pgcm_plan_set_columns(pgcm_plan *p, const char *columns);

/*
 * pgcm_plan_set_format: the COPY format and its options (fmt copied; its
 * max_row is not used).  automatic = 1: binary when the plan proves it exact,
 * else fmt (TEXT or CSV); automatic = 0: fmt as given -- BINARY with types
 * that differ is a problem.  The default is automatic text.  Returns PGCM_OK,
 * PGCM_ERR_ARG (automatic with a BINARY fmt), PGCM_ERR_STATE once built.
 */
PGCM_API pgcm_status pgcm_plan_set_format(pgcm_plan *p, const pgcm_format *fmt, int automatic);

/* pgcm_plan_set_null_string / _encoding: COPY's NULL and ENCODING options (copied; NULL: none). */
PGCM_API pgcm_status pgcm_plan_set_null_string(pgcm_plan *p, const char *null_string);
PGCM_API pgcm_status pgcm_plan_set_encoding(pgcm_plan *p, const char *encoding);

/*
 * pgcm_plan_set_header_line: the CSV header line a stream source starts with
 * (len bytes, copied; its line end may be included).  The build compares its
 * names with the column list, exactly and in order, as COPY's HEADER MATCH
 * does, and reports a mismatch as a problem.  The line stays in the stream.
 */
PGCM_API pgcm_status pgcm_plan_set_header_line(pgcm_plan *p, const char *line, size_t len);

/*
 * pgcm_plan_set_header_match_on_targets: on = 1 writes HEADER MATCH into the
 * server targets' COPY, so that each compares the header with its column list
 * as the data arrives (for a header the caller cannot read ahead, such as a
 * pipe).  It needs PostgreSQL 15 targets: an older one is a problem.
 */
PGCM_API pgcm_status pgcm_plan_set_header_match_on_targets(pgcm_plan *p, int on);

/*
 * pgcm_plan_build: read the catalogs and decide everything.  Blocks (see
 * above).  Returns PGCM_OK when the copy can run as planned, PGCM_ERR_PLAN
 * when it would fail or store something else than INSERT ... SELECT would
 * (every problem is listed: pgcm_plan_problem()), PGCM_ERR_ARG (no source or
 * no target), PGCM_ERR_STATE (built already) or PGCM_ERR_NOMEM.  A catalog
 * query that fails is a problem of its endpoint, not a failure of the build.
 */
PGCM_API pgcm_status pgcm_plan_build(pgcm_plan *p);

/*
 * A problem (the copy must not run) or a note (how a column is handled).
 * Strings are borrowed from the plan, valid until pgcm_plan_free().
 */
typedef struct pgcm_plan_finding {
	long target;              /* 0-based target index, or -1: the source or the whole plan */
	const char *table;        /* the table concerned, schema-qualified, or "" */
	const char *column;       /* the column concerned, or "" */
	const char *message;      /* one line naming table, column, types and target */
} pgcm_plan_finding;

/* pgcm_plan_problem_count / pgcm_plan_problem: the problems; NULL past the end. */
PGCM_API size_t pgcm_plan_problem_count(const pgcm_plan *p);
PGCM_API const pgcm_plan_finding *pgcm_plan_problem(const pgcm_plan *p, size_t i);
/* pgcm_plan_note_count / pgcm_plan_note: the notes (left-out columns, defaults, ONLY, ...). */
PGCM_API size_t pgcm_plan_note_count(const pgcm_plan *p);
PGCM_API const pgcm_plan_finding *pgcm_plan_note(const pgcm_plan *p, size_t i);

/* How one column reaches one target. */
typedef enum pgcm_plan_conversion {
	PGCM_CONV_SAME = 0,       /* the same type: the value as it is (binary-safe when built-in) */
	PGCM_CONV_TEXT,           /* through text, read by the target's input function: another
	                             type modifier, a domain, a custom type matched by name,
	                             timestamp read as timestamptz in the target's TimeZone */
	PGCM_CONV_CAST,           /* the source computes the target's type (the assignment cast,
	                             AT TIME ZONE, a qualified name for reg* types) */
	PGCM_CONV_REFUSED         /* it cannot be copied to this target: see the problems */
} pgcm_plan_conversion;

/*
 * pgcm_plan_conversion_name: "same", "text", "cast" or "refused" ("unknown"
 * for another value).  Static.
 */
PGCM_API const char *pgcm_plan_conversion_name(pgcm_plan_conversion conv);

/* One column of the stream as seen by one target.  Strings borrowed from the plan. */
typedef struct pgcm_plan_column_info {
	const char *name;         /* the column's name (exact, unquoted) */
	const char *source_type;  /* e.g. "numeric(10,2)"; NULL for a stream source */
	const char *source_expr;  /* what the source selects, NULL when the column is read as is */
	const char *target_type;  /* NULL for a stream target, or a target lacking the column */
	pgcm_plan_conversion conversion;
	const char *detail;       /* in words, e.g. "cast on the source to double precision" */
} pgcm_plan_column_info;

/* pgcm_plan_column_count: the columns of the stream, in its order. */
PGCM_API size_t pgcm_plan_column_count(const pgcm_plan *p);
/*
 * pgcm_plan_column: column i of the stream as seen by target t.  Returns
 * PGCM_OK, or PGCM_ERR_ARG when i or t is out of range or the plan is not built.
 */
PGCM_API pgcm_status pgcm_plan_column(const pgcm_plan *p, size_t i, size_t t,
                                      pgcm_plan_column_info *out);

/*
 * pgcm_plan_format: the stream's format as chosen, for pgcm_producer_* and
 * pgcm_producer_set_format(); pgcm_plan_format_reason: why, in words, e.g.
 * "column amount: numeric on the source, double precision on target 2".
 * Returns PGCM_OK, or PGCM_ERR_STATE before a build.  The reason is borrowed.
 */
PGCM_API pgcm_status pgcm_plan_format(const pgcm_plan *p, pgcm_format *fmt);
PGCM_API const char *pgcm_plan_format_reason(const pgcm_plan *p);

/*
 * pgcm_plan_source_command: the source's "COPY ... TO STDOUT", or NULL (a
 * stream source, a problem, or not built).  Borrowed.
 */
PGCM_API const char *pgcm_plan_source_command(const pgcm_plan *p);

/*
 * pgcm_plan_source_command_range: the source's COPY restricted to the rows
 * matching where (SQL the caller writes, e.g. a ctid or key range for one of
 * several parallel streams): "COPY (SELECT cols FROM [ONLY] rel WHERE (where))
 * TO STDOUT ...".  Returns a string to free with pgcm_free(), or NULL (out of
 * memory, no relation source, not built).
 */
PGCM_API char *pgcm_plan_source_command_range(const pgcm_plan *p, const char *where);

/*
 * pgcm_plan_source_relation: what a query reads the source relation as:
 * `ONLY "s"."t"` for a table (its own rows, not its inheritance children's),
 * `"s"."t"` for a partitioned table, a view or a foreign table; NULL for a
 * query or a stream source.  pgcm_plan_source_relkind: its pg_class.relkind
 * ('r', 'p', 'v', 'm', 'f'), or 0.  pgcm_plan_source_name: "s.t" for people.
 */
PGCM_API const char *pgcm_plan_source_relation(const pgcm_plan *p);
/* pgcm_plan_source_table: the source relation as `"s"."t"` (for regclass, TRUNCATE ...), or NULL. */
PGCM_API const char *pgcm_plan_source_table(const pgcm_plan *p);
PGCM_API char pgcm_plan_source_relkind(const pgcm_plan *p);
PGCM_API const char *pgcm_plan_source_name(const pgcm_plan *p);

/* pgcm_plan_target_count: the targets, in the order added. */
PGCM_API size_t pgcm_plan_target_count(const pgcm_plan *p);
/* pgcm_plan_target_command: target i's "COPY ... FROM STDIN", or NULL (stream target, problem). */
PGCM_API const char *pgcm_plan_target_command(const pgcm_plan *p, size_t i);
/* pgcm_plan_target_name: target i's table as "s.t" (NULL: a stream target or not found). */
PGCM_API const char *pgcm_plan_target_name(const pgcm_plan *p, size_t i);

/* pgcm_plan_errmsg: why the last call failed (PGCM_ERR_*), or a summary of the problems; "" if none. */
PGCM_API const char *pgcm_plan_errmsg(const pgcm_plan *p);

/* pgcm_plan_free: free the plan.  The connections stay the caller's.  NULL is fine. */
PGCM_API void pgcm_plan_free(pgcm_plan *p);

/* pgcm_free: free memory the library handed out (pgcm_plan_source_command_range()). */
PGCM_API void pgcm_free(void *ptr);

/* ------------------------------------------------------------------------
 * Notification management
 * ------------------------------------------------------------------------ */
typedef struct pgcm_notifier pgcm_notifier;
typedef struct pgcm_listener pgcm_listener;

/* What pgcm_notifier_next() / pgcm_listener_next() returned. */
typedef enum pgcm_notify_kind {
	PGCM_NOTIFY_NONE = 0,     /* no event (the call did not return PGCM_OK) */
	PGCM_NOTIFY_BATCH,        /* notifications from one connection: ev->notifies[0..count) */
	PGCM_NOTIFY_IDLE,         /* nothing arrived for the idle interval */
	PGCM_NOTIFY_POLL_END,     /* poll mode (interval 0): nothing more is pending now */
	PGCM_NOTIFY_FAILED,       /* notifier: ev->conn failed; set aside, reported once */
	PGCM_NOTIFY_DISCONNECTED, /* listener: its connection broke; it is re-connecting */
	PGCM_NOTIFY_RECONNECTED   /* listener: connected and LISTENing again; notifications
	                             sent while it was away were lost: resynchronise */
} pgcm_notify_kind;

/*
 * pgcm_notify_kind_name: "none", "batch", "idle", "poll_end", "failed",
 * "disconnected" or "reconnected" ("unknown" for another value).  Static.
 */
PGCM_API const char *pgcm_notify_kind_name(pgcm_notify_kind kind);

/* One notification.  Strings are borrowed: see pgcm_notify_event. */
typedef struct pgcm_notification {
	const char *channel;
	const char *payload;      /* "" when none was given */
	int pid;                  /* the sending backend's process id */
} pgcm_notification;

/*
 * pgcm_notify_event: one event.  Everything it points to (notifies, their
 * strings, message) belongs to the notifier or listener and stays valid until
 * the next pgcm_*_next(), pgcm_*_step() or pgcm_*_free() on it; copy what you
 * keep.  Notifications come in the order the server sent them.
 */
typedef struct pgcm_notify_event {
	pgcm_notify_kind kind;
	PGconn *conn;             /* BATCH, FAILED: the connection (a listener's is borrowed);
	                             NULL otherwise */
	const pgcm_notification *notifies;  /* BATCH: count notifications; NULL otherwise */
	size_t count;
	const char *message;      /* FAILED, DISCONNECTED: why; NULL otherwise */
} pgcm_notify_event;

/*
 * Notifier: an event loop over connections the caller owns (py-postgresql's
 * NotificationManager).  The caller LISTENs on them; the notifier reads them
 * (PQconsumeInput, PQnotifies) and never sends anything, never closes them.
 * Between calls the caller may use them, add and remove them.  Not thread-safe:
 * one thread drives a notifier and its connections.
 */

/* pgcm_notifier_new: an empty notifier (no idle events).  NULL when out of memory.
 * Free it with pgcm_notifier_free(). */
PGCM_API pgcm_notifier *pgcm_notifier_new(void);

/*
 * pgcm_notifier_add: watch conn (stays the caller's; never PQfinish'ed).
 * Returns PGCM_OK, PGCM_ERR_ARG (NULL, or already watched) or PGCM_ERR_NOMEM.
 * A connection that is already broken is reported as FAILED by the next call.
 */
PGCM_API pgcm_status pgcm_notifier_add(pgcm_notifier *n, PGconn *conn);

/*
 * pgcm_notifier_remove: stop watching conn (also a failed one).  Notifications
 * libpq already read stay queued on conn (PQnotifies).  Returns PGCM_OK, or
 * PGCM_ERR_ARG when conn is not watched.
 */
PGCM_API pgcm_status pgcm_notifier_remove(pgcm_notifier *n, PGconn *conn);

/* pgcm_notifier_count: how many connections are watched, failed ones included. */
PGCM_API size_t pgcm_notifier_count(const pgcm_notifier *n);

/*
 * pgcm_notifier_live: how many watched connections have not failed.  When it
 * is 0, step and next return PGCM_DONE.
 */
PGCM_API size_t pgcm_notifier_live(const pgcm_notifier *n);

/*
 * pgcm_notifier_set_idle_interval: ms > 0: an IDLE event whenever nothing
 * arrived for ms (guaranteed to come while quiet, never while notifications
 * are waiting); 0: poll mode (return what is pending, then POLL_END; never
 * waits); -1 (the default): no idle events.  Returns PGCM_OK or PGCM_ERR_ARG.
 */
PGCM_API pgcm_status pgcm_notifier_set_idle_interval(pgcm_notifier *n, int ms);

/*
 * pgcm_notifier_step: return an event if one is ready now, without blocking.
 * Returns:
 *   PGCM_OK         *ev holds an event
 *   PGCM_AGAIN      none now: wait on pgcm_notifier_pollfds() for at most
 *                   pgcm_notifier_timeout_ms(), then step again
 *   PGCM_DONE       no live connection is left (none was added, or each one
 *                   failed and was reported as FAILED): the iteration is over
 *                   (as py-postgresql's NotificationManager ends it), whatever
 *                   the idle mode; add a connection to go on
 *   PGCM_ERR_NOMEM  out of memory (the notifications stay queued; call again)
 *   PGCM_ERR_ARG    a NULL argument
 * A watched connection that fails is reported once as FAILED (after its last
 * notifications) and is never read again.  Batches rotate over connections.
 */
PGCM_API pgcm_status pgcm_notifier_step(pgcm_notifier *n, pgcm_notify_event *ev);

/*
 * pgcm_notifier_next: wait (one poll() over the sockets) for the next event.
 * Returns what pgcm_notifier_step() returns, except PGCM_AGAIN: a signal
 * interrupted the wait (check your flags, call again); PGCM_ERR_IO: poll() failed.
 */
PGCM_API pgcm_status pgcm_notifier_next(pgcm_notifier *n, pgcm_notify_event *ev);

/*
 * pgcm_notifier_pollfds: the sockets to wait on, at most cap of them into fds;
 * returns how many there are.  pgcm_notifier_timeout_ms(): the longest wait
 * before the next step (-1 = no limit, 0 = step now).
 */
PGCM_API size_t pgcm_notifier_pollfds(const pgcm_notifier *n, struct pollfd *fds, size_t cap);
PGCM_API int pgcm_notifier_timeout_ms(const pgcm_notifier *n);

/* pgcm_notifier_errmsg: the message of the last failed call, "" if none. */
PGCM_API const char *pgcm_notifier_errmsg(const pgcm_notifier *n);

/* pgcm_notifier_free: free the notifier; the connections stay open.  NULL is fine. */
PGCM_API void pgcm_notifier_free(pgcm_notifier *n);

/*
 * Listener: a connection the library owns (psycopg's dedicated notifies
 * connection).  It connects with conninfo, LISTENs to its channels and yields
 * notifications; when the connection breaks it says DISCONNECTED, re-connects
 * with capped exponential back-off, LISTENs again, then says RECONNECTED.  It
 * sets TCP keepalives unless conninfo sets them, and pings the server when the
 * connection has been quiet for the ping interval.
 */

/* Channel names must be 1 to 63 bytes (the server's identifier limit). */
#define PGCM_CHANNEL_MAX 63
/* pg_notify() refuses payloads of 8000 bytes or more. */
#define PGCM_PAYLOAD_MAX 7999

/*
 * pgcm_listener_new: a listener for channels[0..n) (copied; exact names, quoted
 * with PQescapeIdentifier) on conninfo (a connection string or URI, copied; ""
 * = the PG* environment).  It connects on the first step or next.  Returns
 * NULL when out of memory, conninfo is NULL, or a channel name is empty or
 * longer than PGCM_CHANNEL_MAX.  Free it with pgcm_listener_free().
 */
PGCM_API pgcm_listener *pgcm_listener_new(const char *conninfo,
                                          const char *const *channels, size_t n);

/*
 * pgcm_listener_listen / pgcm_listener_unlisten: add or remove a channel, also
 * while running (sent on the next step; pgcm_listener_ready() says when the
 * server has it).  Returns PGCM_OK (also when nothing changes), PGCM_ERR_ARG
 * (bad name) or PGCM_ERR_NOMEM.
 */
PGCM_API pgcm_status pgcm_listener_listen(pgcm_listener *l, const char *channel);
PGCM_API pgcm_status pgcm_listener_unlisten(pgcm_listener *l, const char *channel);

/* pgcm_listener_set_idle_interval: as pgcm_notifier_set_idle_interval(). */
PGCM_API pgcm_status pgcm_listener_set_idle_interval(pgcm_listener *l, int ms);

/*
 * pgcm_listener_set_backoff: wait initial_ms before the second re-connection
 * attempt (the first is immediate), doubling up to max_ms (defaults 250 and
 * 30000).  Returns PGCM_OK or PGCM_ERR_ARG (initial_ms < 1 or max_ms < initial_ms).
 */
PGCM_API pgcm_status pgcm_listener_set_backoff(pgcm_listener *l, int initial_ms, int max_ms);

/*
 * pgcm_listener_set_ping: when nothing came from the server for interval_ms
 * (default 30000; 0 = never), send an empty query; a connection attempt, a
 * LISTEN or a ping not answered within timeout_ms (default 10000) means the
 * connection is dead.  Returns PGCM_OK or PGCM_ERR_ARG.
 */
PGCM_API pgcm_status pgcm_listener_set_ping(pgcm_listener *l, int interval_ms, int timeout_ms);

/*
 * pgcm_listener_step: as pgcm_notifier_step(), for the listener's connection.
 * Returns PGCM_OK (an event in *ev), PGCM_AGAIN (wait on the pollfds), or:
 *   PGCM_ERR_CONNECTION  the first connection failed (calling again retries;
 *                        later breaks are re-connected, never returned)
 *   PGCM_ERR_SERVER      the server refused a LISTEN or UNLISTEN
 *   PGCM_ERR_NOMEM, PGCM_ERR_ARG
 * The message says why (pgcm_listener_errmsg()).
 */
PGCM_API pgcm_status pgcm_listener_step(pgcm_listener *l, pgcm_notify_event *ev);

/* pgcm_listener_next: wait for the next event; returns as pgcm_notifier_next(). */
PGCM_API pgcm_status pgcm_listener_next(pgcm_listener *l, pgcm_notify_event *ev);

/* pgcm_listener_pollfds / pgcm_listener_timeout_ms: as for the notifier (0 or 1 descriptor). */
PGCM_API size_t pgcm_listener_pollfds(const pgcm_listener *l, struct pollfd *fds, size_t cap);
PGCM_API int pgcm_listener_timeout_ms(const pgcm_listener *l);

/*
 * pgcm_listener_ready: 1 when connected and every LISTEN and UNLISTEN asked
 * for is in effect on the server, 0 otherwise.
 */
PGCM_API int pgcm_listener_ready(const pgcm_listener *l);

/*
 * pgcm_listener_conn: the current connection (borrowed; NULL while
 * disconnected; changes on re-connection).  For inspection (PQbackendPID) only:
 * running commands on it confuses the listener.
 */
PGCM_API PGconn *pgcm_listener_conn(const pgcm_listener *l);

/* pgcm_listener_reconnects: how many times the listener has re-connected. */
PGCM_API unsigned long pgcm_listener_reconnects(const pgcm_listener *l);

/* pgcm_listener_errmsg: the message of the last failure, "" if none. */
PGCM_API const char *pgcm_listener_errmsg(const pgcm_listener *l);

/* pgcm_listener_free: close the connection and free the listener.  NULL is fine. */
PGCM_API void pgcm_listener_free(pgcm_listener *l);

#ifdef __cplusplus
}
#endif

#endif /* PGCOPYMAN_H */
