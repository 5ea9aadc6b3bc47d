/*
 * copy_int.h: the copy manager's private state, shared by its files only
 * (copy.c, copy_step.c, copy_loop.c, copy_abort.c).  Endpoints never see it.
 */
#ifndef PGCM_COPY_INT_H
#define PGCM_COPY_INT_H

#include "internal.h"

#define DEFAULT_CHUNK_BYTES (64 * 1024)
#define DEFAULT_CHUNKS 16
#define DEFAULT_SEGMENT_BYTES ((uint64_t) 16 << 20)
#define DEFAULT_STALL_MS 60000
#define DEFAULT_DRAIN_MS 10000
/* A step gives up the CPU after this many rounds, so a caller's loop stays responsive. */
#define STEP_ROUNDS 64
/* A producer that would block without a descriptor (a callback) is asked again this soon. */
#define RETRY_MS 10

enum copy_state {
	COPY_NEW = 0,
	COPY_RUNNING,
	COPY_ABORTING,   /* ending early: each step drives the producer's cancel and drain
	                    and the receivers' fails a little further (copy_abort.c) */
	COPY_DONE,       /* completed; finish() settles the dropped receivers */
	COPY_FAILED      /* aborted, and every connection settled */
};

typedef struct fault_record {
	pgcm_receiver *receiver;
	pgcm_status status;
	char *message;
	char sqlstate[6];
	uint64_t row;
	int reconcilable;
} fault_record;

struct pgcm_copy {
	pgcm_producer *producer;
	pgcm_receiver **rx;
	size_t nrx;
	size_t caprx;
	pgcm__window window;
	size_t chunk_bytes;
	size_t chunks;
	uint64_t segment_bytes;
	int stall_ms;
	int drain_ms;
	enum copy_state state;
	int producer_started;      /* its begin() succeeded: an abort must settle it */
	int producer_done;
	pgcm_status producer_failed;
	char *producer_stalled;    /* the manager's reason when it failed the producer (a stall) */
	int producer_blocked;      /* its last produce() would have blocked */
	int64_t producer_progress_ms;  /* for the stall timeout */
	int producer_settled;      /* COPY_ABORTING: the producer's abort() finished */
	int64_t abort_deadline_ms; /* COPY_ABORTING: connections not settled by then are given up */
	uint64_t rows;
	uint64_t bytes;
	fault_record *faults;      /* every fault of the copy */
	size_t nfaults;
	size_t capfaults;
	size_t cycle_start;        /* faults[cycle_start..] are the last step's */
	pgcm_fault *report;        /* the failure report's view of faults */
	pgcm_status failure;
	char *reason;
	char *errmsg;
	int quiescent;             /* the last step ended with nothing to do until poll() says so */
	int depth;                 /* > 0 inside a step: callbacks may be running */
	int free_pending;
	char *abort_pending;
};

/* copy.c */
/* pgcm__copy_msg: the copy's own message, for the caller; returns st. */
pgcm_status pgcm__copy_msg(pgcm_copy *c, pgcm_status st, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* pgcm__copy_fault: take r out of the receiver set for its own error. */
void pgcm__copy_fault(pgcm_copy *c, pgcm_receiver *r, pgcm_status st);
/* pgcm__copy_fault_msg: the same for a fault the manager found (a stall, a row count). */
void pgcm__copy_fault_msg(pgcm_copy *c, pgcm_receiver *r, pgcm_status st, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* copy_step.c */
/* pgcm__copy_pending_work: the receiver owes us something (data to take, an end to finish). */
int pgcm__copy_pending_work(const pgcm_copy *c, const pgcm_receiver *r);
/* pgcm__copy_drop_faulted: faults not reconciled before this step are final. */
void pgcm__copy_drop_faulted(pgcm_copy *c);
/* pgcm__copy_producer_asked: the producer is running and the window has room for its rows. */
int pgcm__copy_producer_asked(const pgcm_copy *c);
/* pgcm__copy_forget_polled: what poll() said is stale once a step has run. */
void pgcm__copy_forget_polled(pgcm_copy *c);

/* copy_loop.c */
/* pgcm__copy_wait: one poll() over the copy's descriptors; -1 when a signal interrupted it. */
int pgcm__copy_wait(pgcm_copy *c);
/* pgcm__copy_look: when no readiness was handed to this step, a zero-timeout poll() notes it. */
void pgcm__copy_look(pgcm_copy *c);

/* copy_abort.c */
/*
 * pgcm__copy_abort_begin: the copy is to end early (why, reason copied): from
 * now on each step drives the abort further.  Never blocks.
 */
void pgcm__copy_abort_begin(pgcm_copy *c, pgcm_status why, const char *reason);
/* pgcm__copy_abort_drive: one non-blocking round of the abort; 1 when all is settled. */
int pgcm__copy_abort_drive(pgcm_copy *c);
/* pgcm__copy_settle_dropped: fail the COPY of each dropped receiver, without blocking. */
void pgcm__copy_settle_dropped(pgcm_copy *c, int64_t now);
/* pgcm__copy_receiver_open: r still has a connection to settle (its fail() has not finished). */
int pgcm__copy_receiver_open(const pgcm_receiver *r);

#endif /* PGCM_COPY_INT_H */
