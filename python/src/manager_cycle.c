/*
 * manager_cycle.c: driving a CopyManager's library copy: start (connections
 * checked, files positioned), cycles without the GIL, abort, finish, the
 * exceptions they end in, exit, and freeing the copy.  A cycle runs without
 * the GIL: the library steps and waits in poll(); Python callbacks take the
 * GIL back.  Between waits the loop looks for signals, so Ctrl-C aborts the
 * copy within a fraction of a second and leaves every connection usable.
 */
#include "pgcm_py.h"

/* ------------------------------------------------------------------------
 * Teardown
 * ------------------------------------------------------------------------ */

/*
 * pgpy_manager_release: free the copy (finishing it first if needed) and leave each
 * receiver its final state.  Callbacks run no Python code from here on.  With
 * unlock, the GIL is released meanwhile (an abort may wait for connections).
 */
void
pgpy_manager_release(pgpy_manager *m, int unlock)
{
	pgpy_producer *p = (pgpy_producer *) m->producer;

	if (!m->copy)
		return;
	m->tearing_down = 1;
	for (Py_ssize_t i = 0; m->receivers && i < PyTuple_GET_SIZE(m->receivers); i++) {
		pgpy_receiver *r = PGPY_RECEIVER_AT(m, i);
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
		pgpy_receiver *r = PGPY_RECEIVER_AT(m, i);
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
		pgpy_receiver *r = PGPY_RECEIVER_AT(m, i);
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

	pgpy_manager_release(m, 1);
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
		pgpy_receiver *r = PGPY_RECEIVER_AT(m, i);
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
		pgpy_receiver *r = PGPY_RECEIVER_AT(m, i);
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

int
pgpy_manager_idle(pgpy_manager *m)
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
 * pgpy_manager_start: every connection checked (and psycopg's transaction begun where
 * psycopg would begin one), files positioned, then every COPY sent.
 */
int
pgpy_manager_start(pgpy_manager *m)
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
		pgpy_receiver *r = PGPY_RECEIVER_AT(m, i);
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
	pgcm_status st;

	if (!m->copy || m->state != PGPY_M_RUNNING)
		return;
	Py_BEGIN_ALLOW_THREADS
	st = pgcm_copy_abort(m->copy, reason);
	Py_END_ALLOW_THREADS
	/* A copy that had just completed is not aborted (PGCM_ERR_STATE): finish settles it. */
	if (st == PGCM_ERR_ABORTED)
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

/* pgpy_restore: raise a kept exception again, with its traceback. */
void
pgpy_restore(PyObject *exc)
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
		pgpy_restore(exc);
		Py_DECREF(exc);
		return NULL;
	}
	(void) finish_copy(m, &failure);
	exc = pgpy_copyfail_new(m, &failure, NULL);
	if (exc) {
		pgpy_restore(exc);
		Py_DECREF(exc);
	}
	return NULL;
}

/* pgpy_manager_interrupted: a signal handler raised during a cycle: abort, then let it go on. */
PyObject *
pgpy_manager_interrupted(pgpy_manager *m)
{
	PyObject *exc = pgpy_capture();

	abort_copy(m, exc && pgpy_is_interrupt(exc) ? "interrupted" : "aborted by a signal handler");
	if (exc) {
		pgpy_restore(exc);
		Py_DECREF(exc);
	}
	return NULL;
}

/*
 * pgpy_manager_next: __next__: (rows, bytes) of one cycle; NULL without an exception
 * at the end (StopIteration); Fault, CopyFail, or what a handler raised.
 */
PyObject *
pgpy_manager_next(pgpy_manager *m)
{
	pgcm_progress progress;
	pgcm_status st;
	int signalled;

	if (pgpy_manager_idle(m) < 0)
		return NULL;
	if (m->state == PGPY_M_NEW && pgpy_manager_start(m) < 0)
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
		return pgpy_manager_interrupted(m);
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
			pgpy_restore(fault);
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
 * pgpy_manager_exit: __exit__.  A completed copy is finished (faults trapped on the
 * way are not errors).  Otherwise the copy is aborted and CopyFail raised
 * (caused by the exception that left the block), except that a Ctrl-C or
 * exit goes on as itself once the copy is aborted.  Returns -1 when an
 * exception was set, 0 otherwise.
 */
int
pgpy_manager_exit(pgpy_manager *m, PyObject *exc)
{
	int interrupt = exc && pgpy_is_interrupt(exc);
	PyObject *fail = NULL;
	pgcm_failure failure;
	pgcm_status st;

	if (pgpy_manager_idle(m) < 0)
		return -1;
	if (m->state == PGPY_M_CLOSED)
		return 0;
	if (m->state == PGPY_M_NEW) {
		pgpy_manager_release(m, 1);
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
		pgpy_restore(fail);
		Py_DECREF(fail);
		return -1;
	}
	return 0;
}

