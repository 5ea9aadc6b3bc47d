/*
 * internal.h: private types and prototypes of the pgcopyman library, grouped
 * under a comment naming the file that defines them.
 */
#ifndef PGCM_INTERNAL_H
#define PGCM_INTERNAL_H

#include <poll.h>
#include <stdarg.h>
#include <stdint.h>
#include <stddef.h>

#include "pgcopyman.h"

/* ------------------------------------------------------------------------
 * util.c: allocation (with a test hook), messages, clocks
 * ------------------------------------------------------------------------ */

/*
 * Every allocation of the library goes through these, so that the unit tests
 * can fail the Nth one (pgcm__alloc_fail_after) and check the OOM paths.  The
 * hook is a thread-local test control, not library state.
 */
void *pgcm__malloc(size_t n);
void *pgcm__calloc(size_t n, size_t size);
void *pgcm__realloc(void *p, size_t n);
char *pgcm__strdup(const char *s);
void pgcm__free(void *p);
/* Fail every allocation after the next n (n < 0: never fail).  Tests only. */
void pgcm__alloc_fail_after(long n);

/* A malloc'd printf; NULL when out of memory. */
char *pgcm__asprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
char *pgcm__vasprintf(const char *fmt, va_list ap) __attribute__((format(printf, 1, 0)));
/* Replace *slot (freed) by a formatted message; keeps the old one if out of memory. */
void pgcm__set_msg(char **slot, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void pgcm__set_msgv(char **slot, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));

/* A server message with its trailing newline removed, copied; NULL when out of memory. */
char *pgcm__pq_message(const char *msg);

/* Milliseconds on a monotonic clock. */
int64_t pgcm__now_ms(void);

/* ------------------------------------------------------------------------
 * rowscan.c: row boundaries in text, CSV and binary COPY streams
 * ------------------------------------------------------------------------ */

/* What pgcm__rowscan_next() found. */
typedef enum pgcm__scan_kind {
	PGCM__SCAN_MORE = 0,  /* all given bytes were consumed and no unit ended: feed more */
	PGCM__SCAN_HEADER,    /* a header ended: the binary file header, or a CSV header line */
	PGCM__SCAN_ROW,       /* one data row ended (text/CSV: its line terminator included) */
	PGCM__SCAN_END,       /* the end of the data ended: the binary trailer, or a "\." line */
	PGCM__SCAN_ERROR      /* malformed input; s->error says what, with row and byte offset */
} pgcm__scan_kind;

/* pgcm__rowscan.state: what the scanner waits for (rowscan*.c only) */
enum pgcm__scan_state {
	/* text and CSV */
	RS_L_DATA = 0,     /* inside a line, or at its start (F_LINE_START) */
	RS_L_BS,           /* text: after a backslash; the next byte is escaped */
	RS_L_LS_BS,        /* CSV: after a backslash that started a line */
	RS_L_CR,           /* after an unquoted CR while the line ending may be CR LF */
	RS_L_DOT,          /* after the "\." of an end marker */
	RS_L_DOT_CR,       /* after "\." CR with CR LF line endings: LF must follow */
	RS_L_END_CR,       /* after "\." CR on the first line: one LF may follow */
	RS_L_END,          /* the end marker was seen: nothing may follow */
	/* binary */
	RS_B_SIG,          /* matching the 11-byte signature (acc_len bytes matched) */
	RS_B_FLAGS,        /* gathering the int32 flags */
	RS_B_EXTLEN,       /* gathering the int32 header extension length */
	RS_B_EXT,          /* skipping the header extension (need bytes left) */
	RS_B_COUNT,        /* gathering a tuple's int16 field count */
	RS_B_LEN,          /* gathering a field's int32 length */
	RS_B_DATA,         /* skipping a field's bytes (need bytes left) */
	RS_B_END,          /* the trailer was seen: nothing may follow */
	/* any */
	RS_ERROR           /* an error was reported; it is reported again */
};

/* pgcm__rowscan.eol: the line ending, taken from the first line as the server does. */
enum pgcm__scan_eol { RS_EOL_UNKNOWN = 0, RS_EOL_NL, RS_EOL_CR, RS_EOL_CRNL };

/*
 * The scanner is incremental: it keeps its state between calls, so bytes are
 * fed exactly once, in pieces of any size.  Its memory is fixed: it never
 * allocates.
 */
typedef struct pgcm__rowscan {
	pgcm_format fmt;
	uint64_t rows;         /* data rows completed so far */
	uint64_t offset;       /* bytes consumed so far (absolute stream offset) */
	uint64_t unit_start;   /* absolute offset where the current unit began */
	enum pgcm__scan_state state;  /* private to rowscan*.c */
	enum pgcm__scan_eol eol;      /* text/CSV: line ending of the first line; private */
	int flags;             /* text/CSV: in quote, escaped, line start, header due; private */
	int32_t nfields;       /* binary: fields of the current tuple; private */
	int32_t field;         /* binary: fields of the current tuple done; private */
	int32_t first_nfields; /* binary: field count of the first tuple (-1: none yet); private */
	uint32_t acc;          /* binary: big-endian integer gathered so far; private */
	int acc_len;           /* binary: bytes of acc gathered (or signature bytes matched); private */
	uint64_t need;         /* binary: bytes still to skip (extension, field); private */
	uint64_t cur_start;    /* absolute offset of the unit being scanned; private */
	uint64_t max_row;      /* the row-size cap in effect (fmt.max_row, 0 = 1 GiB); private */
	int ended;             /* the end (trailer or "\.") was seen */
	char error[256];       /* the message after PGCM__SCAN_ERROR */
} pgcm__rowscan;

/* pgcm__rowscan_init: start scanning a stream in format fmt (copied). */
void pgcm__rowscan_init(pgcm__rowscan *s, const pgcm_format *fmt);

/*
 * pgcm__rowscan_next: scan buf[*pos .. len) for the end of the next unit.
 * On PGCM__SCAN_HEADER, _ROW or _END, *pos is just past that unit's last
 * byte; on PGCM__SCAN_MORE, *pos == len.  After _END, any further byte is an
 * error.  A row longer than fmt.max_row is an error.
 */
pgcm__scan_kind pgcm__rowscan_next(pgcm__rowscan *s, const char *buf, size_t len, size_t *pos);

/*
 * pgcm__rowscan_eof: the input ended.  Returns PGCM__SCAN_ROW when a last
 * text or CSV line without its line terminator is a row (as the server takes
 * it), PGCM__SCAN_MORE when the stream ended cleanly at a unit boundary, or
 * PGCM__SCAN_ERROR (an unterminated quoted CSV field, an incomplete binary
 * header or tuple, a binary stream without its header).
 */
pgcm__scan_kind pgcm__rowscan_eof(pgcm__rowscan *s);

/* ------------------------------------------------------------------------
 * chunk.c: the chunk window
 * ------------------------------------------------------------------------ */

/* A run of whole rows, handed to every receiver. */
typedef struct pgcm__chunk {
	char *data;
	size_t len;
	size_t cap;
	uint64_t rows;
	uint64_t first_row;   /* 1-based row number of the chunk's first row */
} pgcm__chunk;

/*
 * The window: a ring of chunks numbered by sequence.  The producer fills the
 * chunk at `head`; receivers read sealed chunks [tail, head) by sequence
 * number; a chunk is reused once every receiver that still counts is past it.
 * Chunk buffers are reused, so the steady state allocates nothing.
 */
typedef struct pgcm__window {
	pgcm__chunk *slots;
	size_t nslots;        /* chunks in flight at most, plus the one being filled */
	size_t target;        /* a chunk is sealed once it holds this many bytes */
	uint64_t head;        /* sequence of the chunk being filled */
	uint64_t tail;        /* oldest sequence still held */
} pgcm__window;

pgcm_status pgcm__window_init(pgcm__window *w, size_t chunk_bytes, size_t chunks);
void pgcm__window_free(pgcm__window *w);
/* The chunk being filled, or NULL when the window is full. */
pgcm__chunk *pgcm__window_open(pgcm__window *w);
/* Seal the chunk being filled (it becomes sequence head; head advances). */
void pgcm__window_seal(pgcm__window *w);
/* The sealed chunk of sequence seq (tail <= seq < head). */
pgcm__chunk *pgcm__window_get(pgcm__window *w, uint64_t seq);
/* Everything before seq is no longer needed. */
void pgcm__window_release(pgcm__window *w, uint64_t seq);
/* Make room for n more bytes in c; PGCM_ERR_NOMEM on failure. */
pgcm_status pgcm__chunk_reserve(pgcm__chunk *c, size_t n);
/* Append a row of n bytes to c. */
pgcm_status pgcm__chunk_append_row(pgcm__chunk *c, const char *row, size_t n);
/*
 * A chunk that a connection producer fills keeps this much room past its
 * target, so that rows shorter than this are read whole in one call
 * (endpoint_pg_producer.c); longer ones are read in pieces and checked.
 */
#define PGCM__ROW_SLACK (8 * 1024)

/* ------------------------------------------------------------------------
 * Endpoints: producers and receivers (endpoint*.c)
 * ------------------------------------------------------------------------ */

/*
 * The framing shared by a stream's segments: the bytes that must start every
 * COPY (the binary file header, the CSV header line) and end it (the binary
 * trailer).  The producer fills it before it produces its first row.
 */
typedef struct pgcm__framing {
	char *prologue;
	size_t prologue_len;
	int prologue_known;
	int prologue_is_line;     /* a CSV header line: the server counts it as line 1 */
	char *epilogue;
	size_t epilogue_len;
} pgcm__framing;

/*
 * What a producer or receiver waits for: one descriptor and its events.  The
 * endpoint writes it (pgcm__wait_on, pgcm__wait_conn); the manager reads it.
 */
typedef struct pgcm__wait {
	int fd;               /* -1: nothing to wait on */
	short events;
} pgcm__wait;

/* pgcm__wait_on: wait for events on fd (-1: nothing to wait on). */
static inline void
pgcm__wait_on(pgcm__wait *w, int fd, short events)
{
	w->fd = fd;
	w->events = events;
}

/*
 * What the copy's own poll() said of an endpoint's descriptor just before
 * this step: an endpoint then skips reads and writes the kernel would refuse.
 * The manager notes it before a step and forgets it after (so a caller's own
 * loop, which hands no readiness, always gets the system calls); the endpoint
 * only takes it: a readiness that led to a read or write is used up, so the
 * next attempt in the same step waits for the next poll().  Only these
 * functions touch it.
 */
typedef struct pgcm__polled {
	int known;
	short revents;
} pgcm__polled;

static inline void
pgcm__polled_note(pgcm__polled *pd, short revents)
{
	pd->known = 1;
	pd->revents |= revents;
}

static inline void
pgcm__polled_forget(pgcm__polled *pd)
{
	pd->known = 0;
	pd->revents = 0;
}

/* pgcm__polled_known: the copy's poll() looked at the descriptor before this step. */
static inline int
pgcm__polled_known(const pgcm__polled *pd)
{
	return pd->known;
}

/* pgcm__polled_has: poll() said the descriptor is ready for what (POLLIN, POLLOUT); not used up. */
static inline int
pgcm__polled_has(const pgcm__polled *pd, short what)
{
	return pd->known && (pd->revents & (what | POLLERR | POLLHUP)) != 0;
}

/* pgcm__polled_spend: use the readiness up without a system call (wait for the next poll). */
static inline void
pgcm__polled_spend(pgcm__polled *pd)
{
	pd->revents = 0;
}

/*
 * pgcm__polled_take: 1 when a read (POLLIN) or write (POLLOUT) may be tried
 * now (nothing is known, or poll() said ready: that readiness is used up),
 * 0 when poll() said the kernel would refuse it.
 */
static inline int
pgcm__polled_take(pgcm__polled *pd, short what)
{
	if (!pd->known)
		return 1;
	if (!(pd->revents & (what | POLLERR | POLLHUP)))
		return 0;
	pd->revents = 0;
	return 1;
}

typedef struct pgcm__producer_ops {
	/* Start producing (send the COPY command).  Never blocks. */
	pgcm_status (*begin)(pgcm_producer *p);
	/*
	 * Append whole rows to c until it holds at least target bytes, or nothing
	 * more is available now.  Returns PGCM_OK (call again), PGCM_AGAIN (it
	 * would block: wait for p->wait, or, when p->wait.fd is -1, try again
	 * soon), PGCM_DONE (the data ended and the COPY completed), or an error
	 * (p->error says what).  Bumps p->activity whenever its source sent
	 * something, whole rows or not.
	 */
	pgcm_status (*produce)(pgcm_producer *p, pgcm__chunk *c, size_t target);
	/*
	 * Abort a producer that began: stop producing and leave the connection
	 * idle (cancel, drain).  Returns PGCM_AGAIN while waiting (for p->wait),
	 * then PGCM_OK.  Past deadline_ms it gives the connection up.
	 */
	pgcm_status (*abort)(pgcm_producer *p, int64_t deadline_ms);
	void (*destroy)(pgcm_producer *p);
} pgcm__producer_ops;

/*
 * A producer.  Written by the endpoint (its own code and endpoint.c): all but
 * the manager's configuration; the manager writes only polled (through the
 * pgcm__polled functions).
 */
struct pgcm_producer {
	const pgcm__producer_ops *ops;
	pgcm_format fmt;
	char *label;
	int in_copy;              /* given to a copy (pgcm__producer_attach) */
	int began;                /* begin() was called (pgcm__producer_begin) */
	uint64_t activity;        /* bumped whenever its source sent something (the stall rule) */
	pgcm__wait wait;
	pgcm__polled polled;
	pgcm__framing framing;
	uint64_t rows;            /* data rows produced */
	uint64_t bytes;           /* bytes produced, framing included */
	char *error;
	char sqlstate[6];
};

typedef struct pgcm__receiver_ops {
	/* Start (send the COPY command, open a segment).  Never blocks. */
	pgcm_status (*begin)(pgcm_receiver *r);
	/*
	 * Move things along: flush, read results, start the next segment.
	 * Returns PGCM_OK (put() may be called now), PGCM_AGAIN (wait for
	 * r->wait), PGCM_DONE (its end completed), or an error: a fault (r->error).
	 */
	pgcm_status (*pump)(pgcm_receiver *r);
	/*
	 * Offer data: whole rows of one chunk, from offset *done.  Advances *done
	 * by what was taken.  Returns PGCM_OK (all taken), PGCM_AGAIN (some left,
	 * wait for r->wait), or an error (a fault).  Called only after pump()
	 * returned PGCM_OK, and pump() comes again before the next put().
	 */
	pgcm_status (*put)(pgcm_receiver *r, const pgcm__chunk *c, size_t *done);
	/* End the stream: epilogue, end of COPY; pump() then reports PGCM_DONE. */
	pgcm_status (*end)(pgcm_receiver *r);
	/*
	 * Fail the COPY with reason so its server rolls it back, and leave the
	 * connection usable.  Returns PGCM_AGAIN while waiting (for r->wait),
	 * PGCM_OK when settled.  Called again until it returns PGCM_OK; past
	 * deadline_ms it gives the connection up.
	 */
	pgcm_status (*fail)(pgcm_receiver *r, const char *reason, int64_t deadline_ms);
	/* 1 when the receiver can take more data after a fault (reconcile). */
	int (*recoverable)(pgcm_receiver *r);
	void (*destroy)(pgcm_receiver *r);
} pgcm__receiver_ops;

/*
 * A receiver.  Each field has one writer: the endpoint (its own code and,
 * for the label, name and error, endpoint.c) or the manager (copy*.c),
 * as marked.
 */
struct pgcm_receiver {
	const pgcm__receiver_ops *ops;
	/* endpoint */
	char *label;
	char *name;               /* "receiver N (label)", built when the copy starts */
	size_t index;             /* in the order added (pgcm__receiver_attach) */
	int in_copy;
	pgcm__wait wait;
	uint64_t activity;        /* bumped whenever its peer took or sent something (the stall rule) */
	uint64_t rows_confirmed;  /* rows the server confirmed */
	pgcm_status fault_status; /* the last error (pgcm__receiver_error) */
	char *error;
	char sqlstate[6];
	uint64_t fault_row;
	/* manager */
	pgcm_receiver_state state;
	pgcm__polled polled;
	const pgcm__framing *framing;   /* the producer's, set when the copy starts */
	uint64_t segment_bytes;         /* 0: one COPY for the whole stream */
	int ready;                      /* pump() said put() may be called (service() only) */
	int ended;                      /* end() was called */
	int settled;                    /* fail() returned PGCM_OK, or the end completed */
	int realigned;                  /* aborted: its partial chunk was completed (or given up) */
	int64_t drain_deadline_ms;      /* a dropped receiver gives up its connection then
	                                   (set once, by pgcm__copy_settle_dropped) */
	uint64_t next_seq;              /* next chunk to take */
	size_t offset;                  /* bytes of chunk next_seq already taken */
	uint64_t rows_sent;             /* rows handed over so far */
	int64_t last_progress_ms;       /* for the stall timeout */
};

/* endpoint.c: the base of every endpoint */
void pgcm__producer_init(pgcm_producer *p, const pgcm__producer_ops *ops);
void pgcm__receiver_init(pgcm_receiver *r, const pgcm__receiver_ops *ops);
/* The producer or receiver now belongs to a copy (as its index-th receiver). */
void pgcm__producer_attach(pgcm_producer *p);
void pgcm__receiver_attach(pgcm_receiver *r, size_t index);
/* pgcm__receiver_name: build "receiver N (label)" for messages; PGCM_ERR_NOMEM. */
pgcm_status pgcm__receiver_name(pgcm_receiver *r);
/* pgcm__producer_begin: begin() once; the format is fixed from now on. */
pgcm_status pgcm__producer_begin(pgcm_producer *p);
/* pgcm__producer_name: the label, or "producer", for messages. */
const char *pgcm__producer_name(const pgcm_producer *p);
/* Record an endpoint's error (row: 1-based row of the stream it failed at, 0 if unknown). */
void pgcm__producer_error(pgcm_producer *p, const char *sqlstate, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void pgcm__receiver_error(pgcm_receiver *r, pgcm_status st, const char *sqlstate, uint64_t row,
                          const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* pgcm__receiver_clear_error: a reconciled receiver starts without an error status. */
void pgcm__receiver_clear_error(pgcm_receiver *r);

/* pgconn.c: libpq helpers of the connection endpoints, the listener and the plan's catalog reads */
/* Wait on conn's socket for events, or say the connection is gone. */
void pgcm__wait_conn(pgcm__wait *w, PGconn *conn, short events);

/* A zero-timeout poll: has the server sent us something? */
int pgcm__pq_readable_now(PGconn *conn);
/* Shut a peer that does not answer down, so that libpq sees it broken (conn stays the caller's). */
void pgcm__pq_kill(PGconn *conn);
/* A failed result's message as one line (DETAIL and HINT appended), malloc'd; sqlstate gets its code. */
char *pgcm__pq_result_error(PGconn *conn, const PGresult *res, char sqlstate[6]);
/* The line of the server's own COPY that failed (its "COPY t, line N" context), 0 if none. */
uint64_t pgcm__pq_context_line(const PGresult *res);

/* Where pgcm__pq_results() stopped. */
typedef enum pgcm__pq_end {
	PGCM__PQ_IDLE = 0,   /* PQgetResult returned NULL: no command is running */
	PGCM__PQ_BUSY,       /* a result is not complete yet: wait for input */
	PGCM__PQ_STOP,       /* on_result asked to stop */
	PGCM__PQ_BROKEN      /* reading failed: the connection is gone */
} pgcm__pq_end;

/*
 * pgcm__pq_results: read conn's results without blocking until PQgetResult
 * returns NULL.  Each result goes to on_result (may be NULL), which must not
 * PQclear it and returns 0 to go on or 1 to stop after it (a COPY state that
 * needs the caller first).
 */
pgcm__pq_end pgcm__pq_results(PGconn *conn, int (*on_result)(void *arg, PGresult *res),
                              void *arg);
/* pgcm__pq_restore: leave a caller's healthy connection in blocking mode if it was. */
void pgcm__pq_restore(PGconn *conn, int was_nonblocking);

/*
 * endpoint_stream.c: the stream producer (file and callback producers: bytes
 * cut at row boundaries by the row scanner) and the stream receiver (file and
 * callback receivers: bytes written in order, framing once).
 */
typedef struct pgcm__scan_producer {
	pgcm_producer base;
	pgcm__rowscan scan;
	char *buf;                /* bytes read, not yet given out (allocated at the first read) */
	size_t len;               /* bytes in buf */
	size_t scanned;           /* bytes of buf already scanned */
	size_t row_start;         /* start of the unit being scanned */
	size_t cap;
	int eof;
	int finished;             /* the data ended and was handed out: PGCM_DONE */
	/* Read up to cap bytes: >0 bytes, 0 end, -1 error (message set), -2 would block (wait set). */
	long (*read)(struct pgcm__scan_producer *sp, char *buf, size_t cap);
} pgcm__scan_producer;

/* A stream producer of size bytes (a struct that starts with pgcm__scan_producer); NULL on OOM. */
pgcm__scan_producer *pgcm__scan_producer_new(size_t size, const pgcm_format *fmt,
                                             long (*read)(pgcm__scan_producer *sp, char *buf,
                                                          size_t cap));

typedef struct pgcm__stream_receiver {
	pgcm_receiver base;
	size_t prologue_done;     /* bytes of the prologue written */
	size_t epilogue_done;
	int data_started;         /* the prologue went out */
	int ending;               /* end() was called: the epilogue is due */
	int finished;             /* the epilogue went out */
	int broken;               /* a failure that a retry cannot mend (closed pipe) */
	/* Write: >=0 bytes taken (0: would block, wait set), -1 failure (error set). */
	long (*write)(struct pgcm__stream_receiver *sr, const char *buf, size_t len);
	void (*close)(struct pgcm__stream_receiver *sr);  /* may be NULL */
} pgcm__stream_receiver;

/* A stream receiver of size bytes (a struct that starts with pgcm__stream_receiver); NULL on OOM. */
pgcm__stream_receiver *pgcm__stream_receiver_new(size_t size,
                                                 long (*write)(pgcm__stream_receiver *sr,
                                                               const char *buf, size_t len),
                                                 void (*close)(pgcm__stream_receiver *sr));

/* ------------------------------------------------------------------------
 * pgcancel.c: a cancel request that does not block the step
 * ------------------------------------------------------------------------ */

typedef struct pgcm__cancel pgcm__cancel;
/*
 * pgcm__cancel_start: send a cancel request for conn's backend from a
 * detached thread (or, when no thread can start, here).  NULL when it could
 * not be started (out of memory, no cancel object, no pipe).
 */
pgcm__cancel *pgcm__cancel_start(PGconn *conn);
/* pgcm__cancel_fd: a descriptor that is readable once the server took the request. */
int pgcm__cancel_fd(const pgcm__cancel *c);
/* pgcm__cancel_done: 1 once the request is done (taken, or failed). */
int pgcm__cancel_done(pgcm__cancel *c);
/* pgcm__cancel_release: forget c without waiting; the thread frees what is left. NULL is fine. */
void pgcm__cancel_release(pgcm__cancel *c);

/* ------------------------------------------------------------------------
 * notify_event.c: what the notifier and the listener share
 * ------------------------------------------------------------------------ */

/* Notifications taken from libpq, handed out until the next call. */
typedef struct pgcm__batch {
	PGnotify **held;          /* what PQnotifies gave us; PQfreemem'd on release */
	pgcm_notification *items; /* the public view of held */
	size_t count;
	size_t cap;
} pgcm__batch;

void pgcm__batch_release(pgcm__batch *b);
void pgcm__batch_free(pgcm__batch *b);
/* A channel filter for pgcm__batch_drain(): 1 keeps the notification. */
typedef int (*pgcm__keep_fn)(const void *arg, const char *channel);
/*
 * Take every notification libpq has parsed on conn (keep, may be NULL, filters
 * by channel).  PGCM_ERR_NOMEM only when nothing could be taken: the rest stay
 * queued in libpq.
 */
pgcm_status pgcm__batch_drain(pgcm__batch *b, PGconn *conn, pgcm__keep_fn keep, const void *arg);
void pgcm__event_clear(pgcm_notify_event *ev);
/* One poll() for the blocking next calls; PGCM_AGAIN on a signal, PGCM_ERR_IO (errmsg set). */
pgcm_status pgcm__notify_wait(struct pollfd *fds, size_t nfds, int timeout, char **errmsg);
/* Milliseconds from now to deadline, at least 0, within int. */
int pgcm__ms_until(int64_t deadline, int64_t now);
/* The shorter of two timeouts where -1 means none. */
int pgcm__min_timeout(int a, int b);

/*
 * The idle clock of a notifier or a listener: ms > 0, an IDLE event when
 * nothing was handed out for ms; 0, poll mode (POLL_END when nothing is
 * pending); -1, neither.
 */
typedef struct pgcm__idle {
	int ms;
	int64_t last;             /* the last event handed out */
} pgcm__idle;

/* pgcm__idle_set: a new interval (the clock starts now); PGCM_ERR_ARG below -1. */
pgcm_status pgcm__idle_set(pgcm__idle *id, int ms);
/* pgcm__idle_reset: an event was handed out at now. */
void pgcm__idle_reset(pgcm__idle *id, int64_t now);
/*
 * pgcm__idle_event: called when nothing real is ready: 1 with *ev set to
 * POLL_END (poll mode) or IDLE (the interval passed), 0 when none is due.
 */
int pgcm__idle_event(pgcm__idle *id, int64_t now, pgcm_notify_event *ev);
/* pgcm__idle_timeout: how long until the idle clock wants a step: -1 never, 0 now. */
int pgcm__idle_timeout(const pgcm__idle *id, int64_t now);

#endif /* PGCM_INTERNAL_H */
