/*
 * manager.c: CopyManager, py-postgresql's copy manager on libpgcopyman.  A
 * context manager (enter starts every COPY; exit finishes, or aborts and
 * raises CopyFail) and an iterator of cycles ((rows, bytes) each; Fault
 * when receivers failed).  This file is the Python type; manager_cycle.c
 * drives the copy.
 */
#include "pgcm_py.h"

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

/* The keyword options, in the library's units (-1: the library's default). */
typedef struct copy_options {
	Py_ssize_t chunk_size, chunks;
	long long segment_bytes;
	int stall_ms, drain_ms;
} copy_options;

/*
 * parse_options: read and check the options before the copy takes the
 * endpoints, so that a bad option leaves them usable.
 */
static int
parse_options(copy_options *o, PyObject *chunk_size, PyObject *chunks, PyObject *segment_size,
              PyObject *stall, PyObject *drain)
{
	o->chunk_size = 64 * 1024;
	o->chunks = 16;
	o->segment_bytes = -1;
	if (chunk_size && chunk_size != Py_None
	    && (o->chunk_size = PyNumber_AsSsize_t(chunk_size, PyExc_OverflowError)) == -1
	    && PyErr_Occurred())
		return -1;
	if (chunks && chunks != Py_None
	    && (o->chunks = PyNumber_AsSsize_t(chunks, PyExc_OverflowError)) == -1 && PyErr_Occurred())
		return -1;
	if (o->chunk_size < 1 || o->chunk_size > ((Py_ssize_t) 1 << 30) || o->chunks < 2) {
		PyErr_Format(PyExc_ValueError,
		             "chunk_size must be 1 byte to 1 GiB and chunks at least 2 (got %zd, %zd)",
		             o->chunk_size, o->chunks);
		return -1;
	}
	if (segment_size && segment_size != Py_None) {
		o->segment_bytes = PyLong_AsLongLong(segment_size);
		if (o->segment_bytes == -1 && PyErr_Occurred())
			return -1;
		if (o->segment_bytes < 0) {
			PyErr_SetString(PyExc_ValueError, "segment_size cannot be negative (0 = no segments)");
			return -1;
		}
	}
	o->stall_ms = pgpy_seconds_to_ms(stall, "stall_timeout", -1);
	o->drain_ms = pgpy_seconds_to_ms(drain, "drain_timeout", -1);
	return o->stall_ms == -2 || o->drain_ms == -2 ? -1 : 0;
}

/* apply_options: the checked options on the new copy. */
static void
apply_options(pgcm_copy *c, const copy_options *o)
{
	(void) pgcm_copy_set_window(c, (size_t) o->chunk_size, (size_t) o->chunks);
	if (o->segment_bytes >= 0)
		(void) pgcm_copy_set_segment_bytes(c, (uint64_t) o->segment_bytes);
	if (o->stall_ms >= 0)
		(void) pgcm_copy_set_stall_timeout(c, o->stall_ms);
	if (o->drain_ms >= 0)
		(void) pgcm_copy_set_drain_timeout(c, o->drain_ms);
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
	copy_options options;
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
	if (!ok || parse_options(&options, chunk_size, chunks, segment, stall, drain) < 0)
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
	apply_options(m->copy, &options);
	return (PyObject *) m;
}

/* ------------------------------------------------------------------------
 * Python methods
 * ------------------------------------------------------------------------ */

static PyObject *
manager_enter(pgpy_manager *m, PyObject *noargs)
{
	(void) noargs;
	if (pgpy_manager_idle(m) < 0 || pgpy_manager_start(m) < 0)
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
	if (pgpy_manager_exit(m, value == Py_None ? NULL : value) < 0)
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
	if (pgpy_manager_idle(m) < 0)
		return NULL;
	if (m->state == PGPY_M_CLOSED) {
		PyErr_SetString(pgpy.InterfaceError, "this copy manager has already run: a copy runs once");
		return NULL;
	}
	if (own && pgpy_manager_start(m) < 0)
		return NULL;
	while ((cyc = pgpy_manager_next(m)) != NULL) {
		Py_DECREF(cyc);
		if (PyErr_CheckSignals() < 0) {
			(void) pgpy_manager_interrupted(m);
			break;
		}
	}
	if (PyErr_Occurred()) {
		if (own) {
			PyObject *exc = pgpy_capture();
			if (pgpy_manager_exit(m, exc) == 0 && exc)
				pgpy_restore(exc);
			Py_XDECREF(exc);
		}
		return NULL;
	}
	if (own && pgpy_manager_exit(m, NULL) < 0)
		return NULL;
	return totals_tuple(m);
}

/*
 * manager_reconcile: put a receiver faulted in the last cycle back; its Python
 * error is forgotten with its fault.
 */
static PyObject *
manager_reconcile(pgpy_manager *m, PyObject *receiver)
{
	pgpy_receiver *r = (pgpy_receiver *) receiver;
	pgcm_status st;

	if (pgpy_manager_idle(m) < 0)
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

/* manager_get_receivers: the receiver set: the receivers still taking part. */
static PyObject *
manager_get_receivers(pgpy_manager *m, void *closure)
{
	PyObject *set = PySet_New(NULL), *frozen;

	(void) closure;
	for (Py_ssize_t i = 0; set && i < PyTuple_GET_SIZE(m->receivers); i++) {
		pgpy_receiver *r = PGPY_RECEIVER_AT(m, i);
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
	pgpy_manager_release(m, 0);
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
	 "run($self, /)\n--\n\n"
	 "Perform the whole copy; returns (rows, bytes) produced.  Outside a with block,\n"
	 "any fault fails the copy (CopyFail)."},
	{"reconcile", (PyCFunction) manager_reconcile, METH_O,
	 "reconcile($self, receiver, /)\n--\n\n"
	 "Put a receiver that faulted in the last cycle back into the\n"
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
	.tp_iter = pgpy_self_iter,
	.tp_iternext = (iternextfunc) pgpy_manager_next,
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
