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
	int state;             /* private to rowscan.c: what the scanner waits for */
	int eol;               /* text/CSV: line ending of the first line; private */
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

/* What a producer or receiver waits for: one descriptor, events, a deadline. */
typedef struct pgcm__wait {
	int fd;               /* -1: nothing to wait on */
	short events;
	int64_t deadline_ms;  /* 0: none */
	/*
	 * What the copy's own poll() said of fd just before this step (known):
	 * an endpoint then skips reads and writes the kernel would refuse.  An
	 * endpoint that used it clears revents; the step ends with known = 0,
	 * so a caller's own loop (no revents) always gets the syscalls.
	 */
	int known;
	short revents;
} pgcm__wait;

/* pgcm__may: 1 unless the copy's poll() said fd is not ready for what (POLLIN or POLLOUT). */
static inline int
pgcm__may(const pgcm__wait *w, short what)
{
	return !w->known || (w->revents & (what | POLLERR | POLLHUP));
}

typedef struct pgcm__producer_ops {
	/* Start producing (send the COPY command).  Never blocks. */
	pgcm_status (*begin)(pgcm_producer *p);
	/*
	 * Append whole rows to c until it holds at least target bytes, or nothing
	 * more is available now.  Returns PGCM_OK (call again), PGCM_AGAIN (wait
	 * for p->wait), PGCM_DONE (the data ended and the COPY completed), or an
	 * error (p->error says what).
	 */
	pgcm_status (*produce)(pgcm_producer *p, pgcm__chunk *c, size_t target);
	/*
	 * Abort: stop producing and leave the connection idle (cancel, drain).
	 * Returns PGCM_AGAIN while waiting (for p->wait), then PGCM_OK.
	 */
	pgcm_status (*abort)(pgcm_producer *p, int64_t deadline_ms);
	void (*destroy)(pgcm_producer *p);
} pgcm__producer_ops;

enum pgcm__producer_phase {
	PGCM__P_IDLE = 0, PGCM__P_RUNNING, PGCM__P_DONE, PGCM__P_FAILED, PGCM__P_ABORTING,
	PGCM__P_ABORTED
};

struct pgcm_producer {
	const pgcm__producer_ops *ops;
	pgcm_format fmt;
	int fmt_set;
	char *label;
	int phase;                /* enum pgcm__producer_phase */
	int in_copy;              /* owned by copy.c: 1 once given to a copy */
	pgcm__wait wait;
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
	 * Returns PGCM_OK (may accept data now if r->ready), PGCM_AGAIN (wait for
	 * r->wait), PGCM_DONE (its end completed), or an error: a fault (r->error).
	 */
	pgcm_status (*pump)(pgcm_receiver *r);
	/*
	 * Offer data: whole rows of one chunk, from offset *done.  Advances *done
	 * by what was taken.  Returns PGCM_OK (all taken), PGCM_AGAIN (some left,
	 * wait for r->wait), or an error (a fault).  Only called while r->ready.
	 */
	pgcm_status (*put)(pgcm_receiver *r, const pgcm__chunk *c, size_t *done);
	/* End the stream: epilogue, end of COPY; pump() then reports PGCM_DONE. */
	pgcm_status (*end)(pgcm_receiver *r);
	/*
	 * Fail the COPY with reason so its server rolls it back, and leave the
	 * connection usable.  Returns PGCM_AGAIN while waiting (for r->wait),
	 * PGCM_OK when settled.  Called again until it returns PGCM_OK.
	 */
	pgcm_status (*fail)(pgcm_receiver *r, const char *reason, int64_t deadline_ms);
	/* 1 when the receiver can take more data after a fault (reconcile). */
	int (*recoverable)(pgcm_receiver *r);
	void (*destroy)(pgcm_receiver *r);
} pgcm__receiver_ops;

struct pgcm_receiver {
	const pgcm__receiver_ops *ops;
	char *label;
	char *name;               /* "receiver N (label)", set when added to a copy */
	size_t index;
	int in_copy;
	pgcm_receiver_state state;
	int ready;                /* put() may be called */
	int ended;                /* end() was called */
	int settled;              /* fail() returned PGCM_OK, or the end completed */
	pgcm__wait wait;
	const pgcm__framing *framing;   /* the producer's, set by the copy */
	uint64_t segment_bytes;         /* 0: one COPY for the whole stream */
	uint64_t next_seq;              /* next chunk to take */
	size_t offset;                  /* bytes of chunk next_seq already taken */
	uint64_t rows_sent;             /* rows handed over so far */
	uint64_t rows_confirmed;        /* rows the server confirmed */
	int64_t last_progress_ms;       /* for the stall timeout */
	pgcm_status fault_status;
	char *error;
	char sqlstate[6];
	uint64_t fault_row;
};

/* endpoint.c: record a message on an endpoint. */
void pgcm__producer_error(pgcm_producer *p, const char *sqlstate, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void pgcm__receiver_error(pgcm_receiver *r, pgcm_status st, const char *sqlstate,
                          const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* pgconn.c: libpq helpers of the connection endpoints */
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

/*
 * endpoint_stream.c: the stream producer (file and callback producers: bytes
 * cut at row boundaries by the row scanner) and the stream receiver (file and
 * callback receivers: bytes written in order, framing once).
 */
typedef struct pgcm__scan_producer {
	pgcm_producer base;
	pgcm__rowscan scan;
	char *buf;                /* bytes read, not yet given out */
	size_t len;               /* bytes in buf */
	size_t scanned;           /* bytes of buf already scanned */
	size_t row_start;         /* start of the unit being scanned */
	size_t cap;
	int eof;
	int ended;                /* the stream's end marker or trailer was seen */
	/* Read up to cap bytes: >0 bytes, 0 end, -1 error (message set), -2 would block (wait set). */
	long (*read)(struct pgcm__scan_producer *sp, char *buf, size_t cap);
} pgcm__scan_producer;

/* A stream producer of size bytes (a struct that starts with pgcm__scan_producer); NULL on OOM. */
pgcm__scan_producer *pgcm__scan_producer_new(size_t size, const pgcm_format *fmt,
                                             long (*read)(pgcm__scan_producer *sp, char *buf,
                                                          size_t cap));
pgcm_status pgcm__stream_producer_begin(pgcm_producer *p);
pgcm_status pgcm__scan_produce(pgcm_producer *p, pgcm__chunk *c, size_t target);
pgcm_status pgcm__scan_abort(pgcm_producer *p, int64_t deadline_ms);
void pgcm__scan_producer_destroy(pgcm_producer *p);

typedef struct pgcm__stream_receiver {
	pgcm_receiver base;
	size_t prologue_done;     /* bytes of the prologue written */
	size_t epilogue_done;
	int data_started;         /* the prologue went out */
	int finished;             /* the epilogue went out */
	int broken;               /* a failure that a retry cannot mend (closed pipe) */
	/* Write: >=0 bytes taken (0: would block, wait set), -1 failure (error set). */
	long (*write)(struct pgcm__stream_receiver *sr, const char *buf, size_t len);
	void (*close)(struct pgcm__stream_receiver *sr);  /* may be NULL */
} pgcm__stream_receiver;

void pgcm__stream_receiver_init(pgcm__stream_receiver *sr, const pgcm__receiver_ops *ops);
pgcm_status pgcm__stream_begin(pgcm_receiver *r);
pgcm_status pgcm__stream_pump(pgcm_receiver *r);
pgcm_status pgcm__stream_put(pgcm_receiver *r, const pgcm__chunk *c, size_t *done);
pgcm_status pgcm__stream_end(pgcm_receiver *r);
pgcm_status pgcm__stream_fail(pgcm_receiver *r, const char *reason, int64_t deadline_ms);
int pgcm__stream_recoverable(pgcm_receiver *r);
void pgcm__stream_destroy(pgcm_receiver *r);

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

#endif /* PGCM_INTERNAL_H */
