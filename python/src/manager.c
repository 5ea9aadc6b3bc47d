/*
 * manager.c: CopyManager, py-postgresql's copy manager on libpgcopyman.  A
 * context manager (enter starts every COPY; exit finishes, or aborts and
 * raises CopyFail) and an iterator of cycles ((rows, bytes) each; Fault
 * when receivers failed).  A cycle runs without the GIL: the library steps
 * and waits in poll(); Python callbacks take the GIL back.  Between waits
 * the loop looks for signals, so Ctrl-C aborts the copy within a fraction of
 * a second and leaves every connection usable.
 */
#include "pgcm_py.h"

#include <errno.h>

/* ------------------------------------------------------------------------
 * Construction
 * ------------------------------------------------------------------------ */

/* endpoints_usable: fresh producer and receivers, no connection used twice. */
static int
endpoints_usable(PyObject *producer, PyObject *receivers)
{
	Py_ssize_t n = PyTuple_GET_SIZE(receivers);
	pgpy_producer *p = (pgpy_producer *) producer;

	if (!pgpy_producer_check(producer)) {
		PyErr_Format(PyExc_TypeError,
		             "the producer must be a pgcopyman Producer (ConnectionProducer, "
		             "FileProducer, IterableProducer, NullProducer), got %.100s",
		             Py_TYPE(producer)->tp_name);
		return -1;
	}
	if (p->used) {
		PyErr_SetString(pgpy.InterfaceError,
		                "the producer already belongs to a copy: a producer serves one copy");
		return -1;
	}
	if (n == 0) {
		PyErr_SetString(PyExc_TypeError, "a copy needs at least one receiver");
		return -1;
	}
	for (Py_ssize_t i = 0; i < n; i++) {
		pgpy_receiver *r = (pgpy_receiver *) PyTuple_GET_ITEM(receivers, i);
		if (!pgpy_receiver_check((PyObject *) r)) {
			PyErr_Format(PyExc_TypeError,
			             "receiver %zd must be a pgcopyman Receiver (ConnectionReceiver, "
			             "FileReceiver, CallableReceiver, NullReceiver), got %.100s",
			             i + 1, Py_TYPE(r)->tp_name);
			return -1;
		}
		if (r->used) {
			PyErr_Format(pgpy.InterfaceError,
			             "receiver %zd already belongs to a copy: a receiver serves one copy",
			             i + 1);
			return -1;
		}
		for (Py_ssize_t j = 0; j < i; j++) {
			pgpy_receiver *o = (pgpy_receiver *) PyTuple_GET_ITEM(receivers, j);
			if (o == r) {
				PyErr_Format(PyExc_ValueError, "receiver %zd is given twice", i + 1);
				return -1;
			}
			if (r->kind == PGPY_CONNECTION && o->kind == PGPY_CONNECTION
			    && r->conn.ptr == o->conn.ptr) {
				PyErr_Format(PyExc_ValueError,
				             "receivers %zd and %zd use the same connection: one COPY at a "
				             "time runs on a connection", j + 1, i + 1);
				return -1;
			}
		}
		if (r->kind == PGPY_CONNECTION && p->kind == PGPY_CONNECTION
		    && r->conn.ptr == p->conn.ptr) {
			PyErr_Format(PyExc_ValueError,
			             "receiver %zd uses the producer's connection: one COPY at a time "
			             "runs on a connection", i + 1);
			return -1;
		}
	}
	return 0;
}

/* set_options: the keyword options, in the library's units. */
static int
set_options(pgcm_copy *c, PyObject *chunk_size, PyObject *chunks, PyObject *segment_size,
            PyObject *stall, PyObject *drain)
{
	Py_ssize_t cb = 64 * 1024, nc = 16;
	int ms;

	if (chunk_size && chunk_size != Py_None
	    && (cb = PyNumber_AsSsize_t(chunk_size, PyExc_OverflowError)) == -1 && PyErr_Occurred())
		return -1;
	if (chunks && chunks != Py_None
	    && (nc = PyNumber_AsSsize_t(chunks, PyExc_OverflowError)) == -1 && PyErr_Occurred())
		return -1;
	if (cb < 1 || nc < 2 || pgcm_copy_set_window(c, (size_t) cb, (size_t) nc) != PGCM_OK) {
		PyErr_Format(PyExc_ValueError,
		             "chunk_size must be 1 byte to 1 GiB and chunks at least 2 (got %zd, %zd)",
		             cb, nc);
		return -1;
	}
	if (segment_size && segment_size != Py_None) {
		unsigned long long sb = PyLong_AsUnsignedLongLong(segment_size);
		if (sb == (unsigned long long) -1 && PyErr_Occurred())
			return -1;
		(void) pgcm_copy_set_segment_bytes(c, sb);
	}
	if ((ms = pgpy_seconds_to_ms(stall, "stall_timeout", 0)) == -2)
		return -1;
	if (stall && stall != Py_None)
		(void) pgcm_copy_set_stall_timeout(c, ms);
	if ((ms = pgpy_seconds_to_ms(drain, "drain_timeout", 0)) == -2)
		return -1;
	if (drain && drain != Py_None)
		(void) pgcm_copy_set_drain_timeout(c, ms);
	return 0;
}

/*
 * manager_new: CopyManager(producer, *receivers, **options).  The library
 * takes the endpoints' handles (also when adding fails: it frees them), so
 * everything is checked first.
 */
static PyObject *
manager_new(PyTypeObject *type, PyObject *args, PyObject *kwargs)
{
	static char *kwlist[] = {"chunk_size", "chunks", "segment_size", "stall_timeout",
	                         "drain_timeout", NULL};
	PyObject *chunk_size = NULL, *chunks = NULL, *segment = NULL, *stall = NULL, *drain = NULL;
	PyObject *empty, *producer, *receivers;
	pgpy_manager *m;
	pgpy_producer *p;
	int ok;

	if (PyTuple_GET_SIZE(args) < 1) {
		PyErr_SetString(PyExc_TypeError, "CopyManager(producer, *receivers): missing the producer");
		return NULL;
	}
	empty = PyTuple_New(0);
	if (!empty)
		return NULL;
	ok = PyArg_ParseTupleAndKeywords(empty, kwargs, "|$OOOOO:CopyManager", kwlist, &chunk_size,
	                                 &chunks, &segment, &stall, &drain);
	Py_DECREF(empty);
	if (!ok)
		return NULL;
	producer = PyTuple_GET_ITEM(args, 0);
	receivers = PyTuple_GetSlice(args, 1, PyTuple_GET_SIZE(args));
	if (!receivers)
		return NULL;
	if (endpoints_usable(producer, receivers) < 0) {
		Py_DECREF(receivers);
		return NULL;
	}
	m = (pgpy_manager *) type->tp_alloc(type, 0);
	if (!m) {
		Py_DECREF(receivers);
		return NULL;
	}
	Py_INCREF(producer);
	m->producer = producer;
	m->receivers = receivers;
	p = (pgpy_producer *) producer;
	m->copy = pgcm_copy_new(p->p);
	p->used = 1;
	p->p = NULL;
	if (!m->copy) {
		Py_DECREF(m);
		return PyErr_NoMemory();
	}
	p->manager = m;
	for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(receivers); i++) {
		pgpy_receiver *r = (pgpy_receiver *) PyTuple_GET_ITEM(receivers, i);
		r->used = 1;
		r->manager = m;
		if (pgcm_copy_add(m->copy, r->r) != PGCM_OK) {
			r->r = NULL;
			Py_DECREF(m);
			return PyErr_NoMemory();
		}
	}
	if (set_options(m->copy, chunk_size, chunks, segment, stall, drain) < 0) {
		Py_DECREF(m);
		return NULL;
	}
	return (PyObject *) m;
}

/* ------------------------------------------------------------------------
 * Teardown
 * ------------------------------------------------------------------------ */

/* RECEIVER_AT: the receiver object the library knows by index i. */
#define RECEIVER_AT(m, i) ((pgpy_receiver *) PyTuple_GET_ITEM((m)->receivers, (i)))

/*
 * release_copy: free the copy (finishing it first if needed) and leave each
 * receiver its final state.  Callbacks run no Python code from here on.  With
 * unlock, the GIL is released meanwhile (an abort may wait for connections).
 */
static void
release_copy(pgpy_manager *m, int unlock)
{
	pgpy_producer *p = (pgpy_producer *) m->producer;

	if (!m->copy)
		return;
	m->tearing_down = 1;
	for (Py_ssize_t i = 0; m->receivers && i < PyTuple_GET_SIZE(m->receivers); i++) {
		pgpy_receiver *r = RECEIVER_AT(m, i);
		r->final_state = r->r ? pgcm_receiver_get_state(r->r) : PGCM_RECEIVER_IDLE;
		r->final_rows = r->r ? pgcm_receiver_rows(r->r) : 0;
	}
	m->totals = pgcm_copy_totals(m->copy);
	if (unlock) {
		Py_BEGIN_ALLOW_THREADS
		pgcm_copy_free(m->copy);
		Py_END_ALLOW_THREADS
	} else {
		pgcm_copy_free(m->copy);
	}
	m->copy = NULL;
	for (Py_ssize_t i = 0; m->receivers && i < PyTuple_GET_SIZE(m->receivers); i++) {
		pgpy_receiver *r = RECEIVER_AT(m, i);
		/* free() finished what was running: an unfinished receiver's COPY was failed. */
		if (r->final_state == PGCM_RECEIVER_ACTIVE || r->final_state == PGCM_RECEIVER_FAULTED)
			r->final_state = PGCM_RECEIVER_ABORTED;
		r->r = NULL;
		r->manager = NULL;
	}
	if (p)
		p->manager = NULL;
	m->state = PGPY_M_CLOSED;
}

/* file_hooks: before the copy (begin) or after it, for file object endpoints. */
static int
file_hooks(pgpy_manager *m, int begin)
{
	pgpy_producer *p = (pgpy_producer *) m->producer;
	int rc = 0;

	if (p->file_object && pgpy_file_hook(p->source, begin, 0) < 0) {
		if (begin)
			return -1;
		PyErr_WriteUnraisable(p->source);
		rc = -1;
	}
	for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(m->receivers); i++) {
		pgpy_receiver *r = RECEIVER_AT(m, i);
		if (r->file_object && pgpy_file_hook(r->target, begin, 1) < 0) {
			if (begin)
				return -1;
			PyErr_WriteUnraisable(r->target);
			rc = -1;
		}
	}
	return rc;
}

/* close_copy: the copy ended (completed or aborted): free it, fix file positions. */
static void
close_copy(pgpy_manager *m)
{
	int had_copy = m->copy != NULL;

	release_copy(m, 1);
	if (had_copy)
		(void) file_hooks(m, 0);
}

/*
 * abandon: a connection was closed under the copy.  Its PGconn is freed, and
 * every library call (even an abort) would touch it: the copy is leaked on
 * purpose, and the other connections are left as they are.
 */
static PyObject *
abandon(pgpy_manager *m, PyObject *label)
{
	m->copy = NULL;
	for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(m->receivers); i++) {
		pgpy_receiver *r = RECEIVER_AT(m, i);
		r->final_state = PGCM_RECEIVER_ABORTED;
		r->r = NULL;
		r->manager = NULL;
	}
	((pgpy_producer *) m->producer)->manager = NULL;
	m->state = PGPY_M_CLOSED;
	PyErr_Format(pgpy.InterfaceError,
	             "the connection %U was closed while the copy was using it: the copy was "
	             "abandoned without touching any of its connections again (the others may "
	             "still be in COPY: close them)", label);
	return NULL;
}

/* connections_open: no endpoint's connection was closed behind the copy's back. */
static int
connections_open(pgpy_manager *m)
{
	pgpy_producer *p = (pgpy_producer *) m->producer;
	int rc;

	if (p->kind == PGPY_CONNECTION) {
		if ((rc = pgpy_conn_open(&p->conn)) <= 0) {
			if (rc == 0)
				abandon(m, p->label);
			return -1;
		}
	}
	for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(m->receivers); i++) {
		pgpy_receiver *r = RECEIVER_AT(m, i);
		if (r->kind != PGPY_CONNECTION || !r->r)
			continue;
		if ((rc = pgpy_conn_open(&r->conn)) <= 0) {
			if (rc == 0)
				abandon(m, r->label);
			return -1;
		}
	}
	return 0;
}

/* ------------------------------------------------------------------------
 * Start, cycles, abort, finish
 * ------------------------------------------------------------------------ */

static int
check_idle(pgpy_manager *m)
{
	if (m->busy) {
		PyErr_SetString(pgpy.InterfaceError,
		                "the copy manager is running: it cannot be used from another thread "
		                "or from one of its own callbacks meanwhile");
		return -1;
	}
	return 0;
}

/*
 * start: every connection checked (and psycopg's transaction begun where
 * psycopg would begin one), files positioned, then every COPY sent.
 */
static int
start(pgpy_manager *m)
{
	pgpy_producer *p = (pgpy_producer *) m->producer;
	pgcm_status st;

	if (m->state != PGPY_M_NEW) {
		PyErr_SetString(pgpy.InterfaceError,
		                "this copy manager has already run: a copy runs once; make a new "
		                "CopyManager with new producer and receivers");
		return -1;
	}
	if (p->kind == PGPY_CONNECTION && pgpy_conn_prepare(&p->conn, p->label) < 0)
		return -1;
	for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(m->receivers); i++) {
		pgpy_receiver *r = RECEIVER_AT(m, i);
		if (r->kind == PGPY_CONNECTION && pgpy_conn_prepare(&r->conn, r->label) < 0)
			return -1;
	}
	if (file_hooks(m, 1) < 0)
		return -1;
	st = pgcm_copy_start(m->copy);
	if (st == PGCM_ERR_NOMEM) {
		PyErr_NoMemory();
		return -1;
	}
	if (st == PGCM_ERR_STATE || st == PGCM_ERR_ARG) {
		PyErr_SetString(pgpy.Error, pgcm_copy_errmsg(m->copy));
		return -1;
	}
	/* Any other error is the producer's: the first cycle reports it. */
	m->state = PGPY_M_RUNNING;
	return 0;
}

/* wait_copy: poll the copy's descriptors once (no GIL held); -1 when out of memory. */
static int
wait_copy(pgpy_manager *m)
{
	size_t n = pgcm_copy_pollfds(m->copy, m->fds, m->fds_cap);
	int rc;

	if (n > m->fds_cap) {
		struct pollfd *fds = PyMem_RawRealloc(m->fds, n * sizeof *fds);
		if (!fds)
			return -1;
		m->fds = fds;
		m->fds_cap = n;
		n = pgcm_copy_pollfds(m->copy, m->fds, m->fds_cap);
	}
	rc = pgpy_poll(m->fds, n, pgcm_copy_timeout_ms(m->copy));
	m->polled = rc >= 0;
	m->nfds = n;
	return 0;
}

/*
 * cycle: one cycle, as pgcm_copy_next(): step, waiting as needed, until rows
 * moved, receivers faulted or the copy ended.  Called and returns with the
 * GIL; releases it meanwhile.  *signalled is set when a signal handler raised
 * (the exception is set): the copy is then still running.
 */
static pgcm_status
cycle(pgpy_manager *m, pgcm_progress *progress, int *signalled)
{
	PyThreadState *ts;
	pgcm_progress step;
	pgcm_status st;

	*signalled = 0;
	progress->rows = progress->bytes = 0;
	ts = PyEval_SaveThread();
	for (;;) {
		if (m->polled)
			st = pgcm_copy_step_polled(m->copy, m->fds, m->nfds, &step);
		else
			st = pgcm_copy_step(m->copy, &step);
		m->polled = 0;
		progress->rows += step.rows;
		progress->bytes += step.bytes;
		if (st == PGCM_AGAIN) {
			if (progress->rows || progress->bytes) {
				st = PGCM_OK;
				break;
			}
			if (wait_copy(m) < 0) {
				st = PGCM_ERR_NOMEM;
				break;
			}
			PyEval_RestoreThread(ts);
			if (PyErr_CheckSignals() < 0) {
				*signalled = 1;
				return PGCM_OK;
			}
			ts = PyEval_SaveThread();
			continue;
		}
		if (st == PGCM_OK && !progress->rows && !progress->bytes)
			continue;
		/* The last rows come as a cycle of their own; DONE follows with none. */
		if (st == PGCM_DONE && (progress->rows || progress->bytes))
			st = PGCM_OK;
		break;
	}
	PyEval_RestoreThread(ts);
	return st;
}

/* abort_copy: end a running copy now (the GIL is released while connections settle). */
static void
abort_copy(pgpy_manager *m, const char *reason)
{
	if (!m->copy || (m->state != PGPY_M_RUNNING && m->state != PGPY_M_COMPLETED))
		return;
	Py_BEGIN_ALLOW_THREADS
	(void) pgcm_copy_abort(m->copy, reason);
	Py_END_ALLOW_THREADS
	m->state = PGPY_M_FAILED;
}

static pgcm_status
finish_copy(pgpy_manager *m, pgcm_failure *failure)
{
	pgcm_status st;

	Py_BEGIN_ALLOW_THREADS
	st = pgcm_copy_finish(m->copy, failure);
	Py_END_ALLOW_THREADS
	return st;
}

/* restore: raise a kept exception again, with its traceback. */
static void
restore(PyObject *exc)
{
	PyObject *tb = PyException_GetTraceback(exc);

	Py_INCREF(exc);
	PyErr_Restore((PyObject *) Py_NewRef(Py_TYPE(exc)), exc, tb);
}

/*
 * raise_failure: the copy was aborted by the library.  A Ctrl-C or exit
 * raised in a callback goes on as itself; anything else is a CopyFail.
 */
static PyObject *
raise_failure(pgpy_manager *m)
{
	pgcm_failure failure;
	PyObject *exc;

	m->state = PGPY_M_FAILED;
	if (m->interrupt) {
		exc = m->interrupt;
		m->interrupt = NULL;
		restore(exc);
		Py_DECREF(exc);
		return NULL;
	}
	(void) finish_copy(m, &failure);
	exc = pgpy_copyfail_new(m, &failure, NULL);
	if (exc) {
		restore(exc);
		Py_DECREF(exc);
	}
	return NULL;
}

/* interrupted: a signal handler raised during a cycle: abort, then let it go on. */
static PyObject *
interrupted(pgpy_manager *m)
{
	PyObject *exc = pgpy_capture();

	abort_copy(m, exc && pgpy_is_interrupt(exc) ? "interrupted" : "aborted by a signal handler");
	if (exc) {
		restore(exc);
		Py_DECREF(exc);
	}
	return NULL;
}

/*
 * next_cycle: __next__: (rows, bytes) of one cycle; NULL without an exception
 * at the end (StopIteration); Fault, CopyFail, or what a handler raised.
 */
static PyObject *
next_cycle(pgpy_manager *m)
{
	pgcm_progress progress;
	pgcm_status st;
	int signalled;

	if (check_idle(m) < 0)
		return NULL;
	if (m->state == PGPY_M_NEW && start(m) < 0)
		return NULL;
	if (m->state == PGPY_M_COMPLETED || m->state == PGPY_M_CLOSED)
		return NULL;
	if (m->state == PGPY_M_FAILED)
		return raise_failure(m);
	if (connections_open(m) < 0)
		return NULL;
	m->busy = 1;
	st = cycle(m, &progress, &signalled);
	m->busy = 0;
	if (signalled)
		return interrupted(m);
	progress.rows += m->carry.rows;
	progress.bytes += m->carry.bytes;
	m->carry.rows = m->carry.bytes = 0;
	switch (st) {
	case PGCM_OK:
		return Py_BuildValue("(KK)", (unsigned long long) progress.rows,
		                     (unsigned long long) progress.bytes);
	case PGCM_DONE:
		m->state = PGPY_M_COMPLETED;
		return NULL;
	case PGCM_FAULT: {
		PyObject *fault = pgpy_fault_new(m);
		/* The rows of a faulted cycle count in the next one. */
		m->carry = progress;
		if (fault) {
			restore(fault);
			Py_DECREF(fault);
		}
		return NULL;
	}
	case PGCM_ERR_NOMEM:
		return PyErr_NoMemory();
	case PGCM_ERR_STATE:
	case PGCM_ERR_ARG:
		PyErr_SetString(pgpy.Error, pgcm_copy_errmsg(m->copy));
		return NULL;
	default:
		return raise_failure(m);
	}
}

/* ------------------------------------------------------------------------
 * Exit
 * ------------------------------------------------------------------------ */

/* own_copyfail: exc is the CopyFail this manager raised. */
static int
own_copyfail(pgpy_manager *m, PyObject *exc)
{
	PyObject *mgr;
	int own;

	if (!exc || !PyObject_TypeCheck(exc, (PyTypeObject *) pgpy.CopyFail))
		return 0;
	mgr = PyObject_GetAttrString(exc, "manager");
	if (!mgr) {
		PyErr_Clear();
		return 0;
	}
	own = mgr == (PyObject *) m;
	Py_DECREF(mgr);
	return own;
}

/*
 * exit_copy: __exit__.  A completed copy is finished (faults trapped on the
 * way are not errors).  Otherwise the copy is aborted and CopyFail raised
 * (caused by the exception that left the block), except that a Ctrl-C or
 * exit goes on as itself once the copy is aborted.  Returns -1 when an
 * exception was set, 0 otherwise.
 */
static int
exit_copy(pgpy_manager *m, PyObject *exc)
{
	int interrupt = exc && pgpy_is_interrupt(exc);
	PyObject *fail = NULL;
	pgcm_failure failure;
	pgcm_status st;

	if (check_idle(m) < 0)
		return -1;
	if (m->state == PGPY_M_CLOSED)
		return 0;
	if (m->state == PGPY_M_NEW) {
		release_copy(m, 1);
		return 0;
	}
	if (m->state == PGPY_M_RUNNING) {
		const char *reason = !exc ? "the copy was left before it completed"
		                     : interrupt ? "interrupted"
		                     : PyObject_TypeCheck(exc, (PyTypeObject *) pgpy.Fault)
		                         ? "a receiver fault was not handled"
		                         : "an exception left the copy's with block";
		abort_copy(m, reason);
	}
	st = finish_copy(m, &failure);
	if (st != PGCM_OK && st != PGCM_FAULT && !interrupt && !own_copyfail(m, exc)) {
		fail = pgpy_copyfail_new(m, &failure, exc);
		if (!fail) {
			close_copy(m);
			return -1;
		}
	}
	Py_CLEAR(m->interrupt);
	close_copy(m);
	if (fail) {
		restore(fail);
		Py_DECREF(fail);
		return -1;
	}
	return 0;
}

/* ------------------------------------------------------------------------
 * Python methods
 * ------------------------------------------------------------------------ */

static PyObject *
manager_enter(pgpy_manager *m, PyObject *noargs)
{
	(void) noargs;
	if (check_idle(m) < 0 || start(m) < 0)
		return NULL;
	Py_INCREF(m);
	return (PyObject *) m;
}

static PyObject *
manager_exit(pgpy_manager *m, PyObject *args)
{
	PyObject *type, *value, *tb;

	if (!PyArg_ParseTuple(args, "OOO:__exit__", &type, &value, &tb))
		return NULL;
	if (exit_copy(m, value == Py_None ? NULL : value) < 0)
		return NULL;
	Py_RETURN_FALSE;
}

static PyObject *
totals_tuple(pgpy_manager *m)
{
	pgcm_progress t = m->copy ? pgcm_copy_totals(m->copy) : m->totals;

	return Py_BuildValue("(KK)", (unsigned long long) t.rows, (unsigned long long) t.bytes);
}

/*
 * manager_run: the whole copy.  Outside a with block it is its own: a fault
 * then fails the copy (CopyFail), as an untrapped fault does.
 */
static PyObject *
manager_run(pgpy_manager *m, PyObject *noargs)
{
	int own = m->state == PGPY_M_NEW;
	PyObject *cyc;

	(void) noargs;
	if (check_idle(m) < 0)
		return NULL;
	if (m->state == PGPY_M_CLOSED) {
		PyErr_SetString(pgpy.InterfaceError, "this copy manager has already run: a copy runs once");
		return NULL;
	}
	if (own && start(m) < 0)
		return NULL;
	while ((cyc = next_cycle(m)) != NULL) {
		Py_DECREF(cyc);
		if (PyErr_CheckSignals() < 0) {
			(void) interrupted(m);
			break;
		}
	}
	if (PyErr_Occurred()) {
		if (own) {
			PyObject *exc = pgpy_capture();
			if (exit_copy(m, exc) == 0 && exc)
				restore(exc);
			Py_XDECREF(exc);
		}
		return NULL;
	}
	if (own && exit_copy(m, NULL) < 0)
		return NULL;
	return totals_tuple(m);
}

static PyObject *
manager_reconcile(pgpy_manager *m, PyObject *receiver)
{
	pgpy_receiver *r = (pgpy_receiver *) receiver;
	pgcm_status st;

	if (check_idle(m) < 0)
		return NULL;
	if (!pgpy_receiver_check(receiver) || r->manager != m || !m->copy) {
		PyErr_SetString(PyExc_ValueError, "reconcile() takes a receiver of this running copy");
		return NULL;
	}
	st = pgcm_copy_reconcile(m->copy, r->r);
	if (st != PGCM_OK) {
		PyErr_SetString(st == PGCM_ERR_REFUSED ? pgpy.Error : pgpy.InterfaceError,
		                pgcm_copy_errmsg(m->copy));
		return NULL;
	}
	Py_CLEAR(r->error);
	Py_RETURN_NONE;
}

static PyObject *
manager_iter(PyObject *self)
{
	Py_INCREF(self);
	return self;
}

static PyObject *
manager_get_receivers(pgpy_manager *m, void *closure)
{
	PyObject *set = PySet_New(NULL), *frozen;

	(void) closure;
	for (Py_ssize_t i = 0; set && i < PyTuple_GET_SIZE(m->receivers); i++) {
		pgpy_receiver *r = RECEIVER_AT(m, i);
		pgcm_receiver_state st = pgpy_receiver_state(r);
		if ((st == PGCM_RECEIVER_IDLE && m->state == PGPY_M_NEW) || st == PGCM_RECEIVER_ACTIVE)
			if (PySet_Add(set, (PyObject *) r) < 0)
				Py_CLEAR(set);
	}
	if (!set)
		return NULL;
	frozen = PyFrozenSet_New(set);
	Py_DECREF(set);
	return frozen;
}

static PyObject *
manager_get_producer(pgpy_manager *m, void *closure)
{
	(void) closure;
	Py_INCREF(m->producer);
	return m->producer;
}

static PyObject *
manager_get_totals(pgpy_manager *m, void *closure)
{
	(void) closure;
	return totals_tuple(m);
}

static PyObject *
manager_get_state(pgpy_manager *m, void *closure)
{
	static const char *const names[] = {"new", "running", "completed", "failed", "closed"};

	(void) closure;
	return PyUnicode_FromString(names[m->state]);
}

static int
manager_traverse(pgpy_manager *m, visitproc visit, void *arg)
{
	Py_VISIT(m->producer);
	Py_VISIT(m->receivers);
	Py_VISIT(m->interrupt);
	return 0;
}

/* manager_clear: the copy goes first: its endpoints must outlive it. */
static int
manager_clear(pgpy_manager *m)
{
	release_copy(m, 0);
	Py_CLEAR(m->producer);
	Py_CLEAR(m->receivers);
	Py_CLEAR(m->interrupt);
	return 0;
}

static void
manager_dealloc(pgpy_manager *m)
{
	PyObject_GC_UnTrack(m);
	if (m->weakreflist)
		PyObject_ClearWeakRefs((PyObject *) m);
	manager_clear(m);
	PyMem_RawFree(m->fds);
	Py_TYPE(m)->tp_free((PyObject *) m);
}

static PyMethodDef manager_methods[] = {
	{"__enter__", (PyCFunction) manager_enter, METH_NOARGS,
	 "Start the copy: check the connections, then send every COPY command.  Do not use\n"
	 "the connections until the with block has ended."},
	{"__exit__", (PyCFunction) manager_exit, METH_VARARGS,
	 "Finish the copy if it completed.  Otherwise abort it (the producer's COPY is\n"
	 "cancelled, every target's COPY failed, every connection left usable) and raise\n"
	 "CopyFail, caused by the exception that left the block; KeyboardInterrupt and\n"
	 "SystemExit go on as themselves."},
	{"run", (PyCFunction) manager_run, METH_NOARGS,
	 "run($self, /)\n--\n\nrun() -> (rows, bytes)\n\nPerform the whole copy.  Outside a with block, any fault\n"
	 "fails the copy (CopyFail).  Returns the rows and bytes produced."},
	{"reconcile", (PyCFunction) manager_reconcile, METH_O,
	 "reconcile($self, receiver, /)\n--\n\nPut a receiver that faulted in the last cycle back into the\n"
	 "receiver set, before the next cycle.  Its pending data goes first, so it ends with\n"
	 "every row exactly once.  Raises Error when its connection or COPY is gone."},
	{NULL, NULL, 0, NULL}
};

static PyGetSetDef manager_getset[] = {
	{"receivers", (getter) manager_get_receivers, NULL,
	 "The receiver set: receivers still taking part (not faulted, dropped or done).  Empty\n"
	 "once the copy completed, so `while copy.receivers:` ends.", NULL},
	{"producer", (getter) manager_get_producer, NULL, "The producer.", NULL},
	{"totals", (getter) manager_get_totals, NULL,
	 "(rows, bytes) produced so far (the whole copy once it ended).", NULL},
	{"state", (getter) manager_get_state, NULL,
	 "'new', 'running', 'completed' (every receiver done; exit finishes it), 'failed'\n"
	 "(aborted) or 'closed' (ended and freed).", NULL},
	{NULL, NULL, NULL, NULL, NULL}
};

PyDoc_STRVAR(manager_doc,
"CopyManager(producer, *receivers, chunk_size=65536, chunks=16, segment_size=16777216,\n"
"            stall_timeout=60.0, drain_timeout=10.0)\n--\n\n"
"Moves COPY data from one producer to every receiver at once, py-postgresql's\n"
"copy manager:\n\n"
"    with src.transaction(), dst.transaction():\n"
"        with CopyManager(producer, receiver) as copy:\n"
"            for rows, nbytes in copy:\n"
"                update_rate(nbytes)\n\n"
"Each cycle yields the rows and bytes it moved.  When receivers fail, __next__\n"
"raises Fault (the others go on); reconcile() puts one back.  Leaving the with block\n"
"early (break, an exception) aborts the copy and raises CopyFail: every target keeps\n"
"no row of it and every connection is usable.  The wait for the servers releases the\n"
"GIL.  Timeouts are in seconds; stall_timeout faults a receiver that takes nothing for\n"
"that long (0 = never), drain_timeout bounds how long an abort waits for a connection.\n"
"Memory is bounded by chunk_size * chunks.");

PyTypeObject pgpy_ManagerType = {
	PyVarObject_HEAD_INIT(NULL, 0)
	.tp_name = "pgcopyman.CopyManager",
	.tp_basicsize = sizeof(pgpy_manager),
	.tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
	.tp_doc = manager_doc,
	.tp_new = manager_new,
	.tp_dealloc = (destructor) manager_dealloc,
	.tp_traverse = (traverseproc) manager_traverse,
	.tp_clear = (inquiry) manager_clear,
	.tp_iter = manager_iter,
	.tp_iternext = (iternextfunc) next_cycle,
	.tp_methods = manager_methods,
	.tp_getset = manager_getset,
	.tp_weaklistoffset = offsetof(pgpy_manager, weakreflist),
};

PyObject *
pgpy_transfer(PyObject *self, PyObject *args, PyObject *kwargs)
{
	PyObject *m, *res;

	(void) self;
	m = PyObject_Call((PyObject *) &pgpy_ManagerType, args, kwargs);
	if (!m)
		return NULL;
	res = manager_run((pgpy_manager *) m, NULL);
	Py_DECREF(m);
	return res;
}
