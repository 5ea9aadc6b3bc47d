/*
 * pgcm_py.h: what the files of the CPython extension pgcopyman._pgcopyman
 * share.  The extension uses only the library's public header.
 *
 * The GIL: the copy, notifier and listener loops release it while the library
 * steps and waits in poll(); a callback into Python (an iterable producer, a
 * callable receiver, a file object) takes it back with PyGILState_Ensure().
 */
#ifndef PGCM_PY_H
#define PGCM_PY_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "pgcopyman.h"

/* The longest the loops wait in poll() before looking for a pending signal. */
#define PGPY_SIGNAL_CHECK_MS 100

/* ------------------------------------------------------------------------
 * module.c
 * ------------------------------------------------------------------------ */

/* The Python classes of pgcopyman._errors and pgcopyman._events. */
typedef struct pgpy_classes {
	PyObject *Error;
	PyObject *InterfaceError;
	PyObject *ProducerError;
	PyObject *ReceiverError;
	PyObject *Fault;
	PyObject *CopyFail;
	PyObject *NotifyError;
	PyObject *Notification;
	PyObject *Event;
} pgpy_classes;

extern pgpy_classes pgpy;

/* pgpy_status_name: a short lower-case name of a status ("server", "aborted"). */
const char *pgpy_status_name(pgcm_status st);

/* pgpy_adapt_call: call pgcopyman._adapt.NAME(args...); a new reference or NULL. */
PyObject *pgpy_adapt_call(const char *name, const char *format, ...);

/* pgpy_poll: poll() without the GIL's help: the caller has released it.  Waits
 * at most PGPY_SIGNAL_CHECK_MS; returns poll()'s result (-1 with EINTR on a signal). */
int pgpy_poll(struct pollfd *fds, size_t n, int timeout_ms);

/* ------------------------------------------------------------------------
 * producer.c, receiver.c: the endpoints
 * ------------------------------------------------------------------------ */

struct pgpy_manager;

typedef enum pgpy_kind {
	PGPY_CONNECTION = 0,
	PGPY_FD,          /* a descriptor: an int, or a plain file object's */
	PGPY_PYTHON,      /* Python code: an iterable, a callable, a file object's read/write */
	PGPY_NULL
} pgpy_kind;

/* What a connection endpoint keeps of its psycopg connection. */
typedef struct pgpy_conn {
	PyObject *conn;      /* what the caller gave (kept alive: it owns the PGconn) */
	PyObject *pgconn;    /* psycopg's PGconn object */
	PGconn *ptr;
} pgpy_conn;

typedef struct pgpy_producer {
	PyObject_HEAD
	pgcm_producer *p;            /* owned until given to a manager */
	struct pgpy_manager *manager;  /* borrowed while the manager holds the copy */
	int used;                    /* given to a manager: a producer serves one copy */
	pgpy_kind kind;
	pgpy_conn conn;
	PyObject *source;            /* the iterable or file object the caller gave */
	PyObject *iter;              /* the iterator, or the file's read method */
	int read_method;             /* iter is read(n), not an iterator */
	Py_buffer pending;           /* an item not yet wholly handed out */
	int has_pending;
	Py_ssize_t pending_off;
	int exhausted;
	unsigned long long items;
	int fd;
	int file_object;             /* fd belongs to source, a Python file object */
	PyObject *error;             /* what the Python code raised */
	PyObject *label;             /* str */
	PyObject *weakreflist;
} pgpy_producer;

typedef struct pgpy_receiver {
	PyObject_HEAD
	pgcm_receiver *r;            /* owned until given to a manager; then the copy's */
	struct pgpy_manager *manager;
	int used;
	pgpy_kind kind;
	pgpy_conn conn;
	PyObject *target;            /* the callable or file object the caller gave */
	PyObject *call;              /* what is called with each chunk */
	int write_method;            /* call is a file's write(): partial writes go on */
	int fd;
	int file_object;
	PyObject *error;             /* what the last failed call raised */
	PyObject *label;             /* str */
	pgcm_receiver_state final_state;  /* after the copy was freed */
	uint64_t final_rows;
	PyObject *weakreflist;
} pgpy_receiver;

/* PGPY_SUBTYPE: a concrete kind of an endpoint type: its own constructor and doc. */
#define PGPY_SUBTYPE(cname, pyname, base, object, newfn, traverse, clear, doc)               \
	PyTypeObject cname = {                                                            \
		PyVarObject_HEAD_INIT(NULL, 0)                                            \
		.tp_name = "pgcopyman." pyname,                                           \
		.tp_basicsize = sizeof(object),                                           \
		.tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,                      \
		.tp_doc = doc,                                                            \
		.tp_base = &base,                                                         \
		.tp_new = newfn,                                                          \
		.tp_traverse = (traverseproc) traverse,                                   \
		.tp_clear = (inquiry) clear,                                              \
	}

extern PyTypeObject pgpy_ProducerType;
extern PyTypeObject pgpy_ConnectionProducerType;
extern PyTypeObject pgpy_FileProducerType;
extern PyTypeObject pgpy_IterableProducerType;
extern PyTypeObject pgpy_NullProducerType;
extern PyTypeObject pgpy_ReceiverType;
extern PyTypeObject pgpy_ConnectionReceiverType;
extern PyTypeObject pgpy_FileReceiverType;
extern PyTypeObject pgpy_CallableReceiverType;
extern PyTypeObject pgpy_NullReceiverType;

#define pgpy_producer_check(o) PyObject_TypeCheck((o), &pgpy_ProducerType)
#define pgpy_receiver_check(o) PyObject_TypeCheck((o), &pgpy_ReceiverType)

/* pgpy_endpoint_types_ready: PyType_Ready for every endpoint type; -1 on error. */
int pgpy_endpoint_types_ready(PyObject *module);

/* conn.c: psycopg connections, file hooks, exceptions taken off the thread. */

/* pgpy_conn_init: take the PGconn behind a psycopg connection (checked); -1 on error. */
int pgpy_conn_init(pgpy_conn *c, PyObject *conn);

/* pgpy_conn_label: "host=... port=... dbname=... user=..." of the connection. */
PyObject *pgpy_conn_label(const pgpy_conn *c);

/* pgpy_conn_clear: drop the references. */
void pgpy_conn_clear(pgpy_conn *c);

/* pgpy_capture: the exception being raised (new reference, traceback attached), or NULL. */
PyObject *pgpy_capture(void);

/* pgpy_is_interrupt: a BaseException that is not an Exception (KeyboardInterrupt, SystemExit). */
int pgpy_is_interrupt(PyObject *exc);

/* pgpy_pick_label: the caller's label (a str) or def (stolen); a new reference, NULL on error. */
PyObject *pgpy_pick_label(PyObject *label, PyObject *def);

/* pgpy_fd_of: an int as a file descriptor; -1 with an exception. */
int pgpy_fd_of(PyObject *o);

/* pgpy_receiver_state: a receiver's state, live or as its finished copy left it. */
pgcm_receiver_state pgpy_receiver_state(const pgpy_receiver *self);

/* pgpy_conn_open: the connection was not closed behind the copy's back. 1, 0, or -1 (exception). */
int pgpy_conn_open(const pgpy_conn *c);

/* pgpy_conn_prepare: check the connection and begin psycopg's transaction if psycopg would. */
int pgpy_conn_prepare(const pgpy_conn *c, PyObject *label);

/* pgpy_file_hook: call _adapt.file_begin / file_end for a file object endpoint. */
int pgpy_file_hook(PyObject *file, int begin, int writing);

/* ------------------------------------------------------------------------
 * format.c
 * ------------------------------------------------------------------------ */

/* pgpy_parse_format: fill fmt from the keyword values (NULL = default); -1 on error. */
int pgpy_parse_format(pgcm_format *fmt, PyObject *format, PyObject *header, PyObject *delimiter,
                      PyObject *quote, PyObject *escape, PyObject *max_row);

/* pgpy_decode: bytes from conn in its client encoding to str (never fails on bad bytes). */
PyObject *pgpy_decode(PGconn *conn, const char *s);

/* pgpy_encode_sql: a statement (str or bytes) as bytes in conn's client encoding, no NUL. */
PyObject *pgpy_encode_sql(PGconn *conn, PyObject *sql, const char *what);

/* ------------------------------------------------------------------------
 * manager.c, failure.c
 * ------------------------------------------------------------------------ */

typedef enum pgpy_mstate {
	PGPY_M_NEW = 0,
	PGPY_M_RUNNING,
	PGPY_M_COMPLETED,   /* every live receiver ended its COPY; finish to settle */
	PGPY_M_FAILED,      /* the library aborted the copy */
	PGPY_M_CLOSED       /* finished and freed; the receivers keep their final state */
} pgpy_mstate;

typedef struct pgpy_manager {
	PyObject_HEAD
	pgcm_copy *copy;
	PyObject *producer;          /* pgpy_producer */
	PyObject *receivers;         /* tuple of pgpy_receiver, in the order given */
	pgpy_mstate state;
	int busy;                    /* a thread is driving it (without the GIL) */
	int tearing_down;            /* callbacks must not run Python code */
	PyObject *interrupt;         /* a BaseException a callback raised: re-raised as is */
	pgcm_progress carry;         /* progress of a cycle that ended in a Fault */
	pgcm_progress totals;        /* kept when the copy is freed */
	struct pollfd *fds;
	size_t fds_cap;
	size_t nfds;                 /* fds holds the last poll's results for the next step */
	int polled;
	PyObject *weakreflist;
} pgpy_manager;

extern PyTypeObject pgpy_ManagerType;

/* PGPY_RECEIVER_AT: the receiver object the library knows by index i. */
#define PGPY_RECEIVER_AT(m, i) ((pgpy_receiver *) PyTuple_GET_ITEM((m)->receivers, (i)))

/* manager_cycle.c: driving the copy (each sets an exception when it fails). */
int pgpy_manager_idle(pgpy_manager *m);             /* -1 while a thread drives it */
int pgpy_manager_start(pgpy_manager *m);            /* check, position, send every COPY */
PyObject *pgpy_manager_next(pgpy_manager *m);       /* one cycle: (rows, bytes); NULL at the end */
int pgpy_manager_exit(pgpy_manager *m, PyObject *exc);  /* finish or abort; -1: raised */
PyObject *pgpy_manager_interrupted(pgpy_manager *m);    /* a handler raised: abort, re-raise */
void pgpy_manager_release(pgpy_manager *m, int unlock); /* free the copy, keep final states */
void pgpy_restore(PyObject *exc);                       /* raise a kept exception again */

/* pgpy_transfer: CopyManager(producer, *receivers, **kw).run(), for transfer(). */
PyObject *pgpy_transfer(PyObject *self, PyObject *args, PyObject *kwargs);

/* failure.c: the exceptions a copy raises, built from the library's reports. */
PyObject *pgpy_fault_new(pgpy_manager *m);
PyObject *pgpy_copyfail_new(pgpy_manager *m, const pgcm_failure *failure, PyObject *cause);
PyObject *pgpy_receiver_error_new(pgpy_manager *m, const pgcm_fault *f);
void pgpy_set_cause(PyObject *exc, PyObject *cause);

/* ------------------------------------------------------------------------
 * notify_wait.c, notifier.c, listener.c
 * ------------------------------------------------------------------------ */

extern PyTypeObject pgpy_NotifierType;
extern PyTypeObject pgpy_ListenerType;

/* A notifier or listener, as the wait loop sees it. */
typedef struct waiter_ops {
	pgcm_status (*step)(void *h, pgcm_notify_event *ev);
	size_t (*pollfds)(const void *h, struct pollfd *fds, size_t cap);
	int (*timeout_ms)(const void *h);
} waiter_ops;

/* A growable array of poll descriptors (touched without the GIL). */
typedef struct pollset {
	struct pollfd *fds;
	size_t cap;
} pollset;

/* pgpy_wait_event: step until an event; the step's status, or -1 with an exception. */
int pgpy_wait_event(const waiter_ops *ops, void *h, pollset *ps, pgcm_notify_event *ev);

/* pgpy_queue_batch: one Notification per notification of a batch, appended to queue. */
int pgpy_queue_batch(PyObject *queue, const pgcm_notify_event *ev, PGconn *conn, PyObject *owner);

/* pgpy_pop_queued: the next queued item (new reference), or NULL (no exception) when none. */
PyObject *pgpy_pop_queued(PyObject *queue, Py_ssize_t *pos);

/* pgpy_make_event: Event(kind, message, connection). */
PyObject *pgpy_make_event(const char *kind, const char *message, PyObject *conn);

/* pgpy_notify_error: raise NotifyError(message, status=...); returns NULL. */
PyObject *pgpy_notify_error(const char *message, pgcm_status st);

/* pgpy_parse_idle: idle=None (-1: no idle events), 0 (poll mode) or seconds; -2 on error. */
int pgpy_parse_idle(PyObject *idle);

/* pgpy_self_iter: __iter__ returning the object itself. */
PyObject *pgpy_self_iter(PyObject *self);

/* pgpy_seconds_to_ms: a timeout in seconds (None = none) to ms for the library; -2 on error. */
int pgpy_seconds_to_ms(PyObject *seconds, const char *what, int none_value);

#endif /* PGCM_PY_H */
