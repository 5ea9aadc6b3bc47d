/*
 * notifier.c: Notifier, the notifications of psycopg connections the caller
 * owns (and LISTENs on), as an iterator of Notification and Event.
 */
#include "pgcm_py.h"

typedef struct pgpy_notifier {
	PyObject_HEAD
	pgcm_notifier *n;
	PyObject *watched;   /* dict: PGconn address -> (connection, psycopg PGconn) */
	PyObject *queue;
	Py_ssize_t qpos;
	pollset ps;
	int busy;
	PyObject *weakreflist;
} pgpy_notifier;

static pgcm_status
notifier_step(void *h, pgcm_notify_event *ev)
{
	return pgcm_notifier_step(h, ev);
}

static size_t
notifier_pollfds(const void *h, struct pollfd *fds, size_t cap)
{
	return pgcm_notifier_pollfds(h, fds, cap);
}

static int
notifier_timeout(const void *h)
{
	return pgcm_notifier_timeout_ms(h);
}

static const waiter_ops notifier_ops = {notifier_step, notifier_pollfds, notifier_timeout};

static int
notifier_idle(pgpy_notifier *self)
{
	if (self->busy) {
		PyErr_SetString(pgpy.InterfaceError,
		                "the notifier is waiting in another thread: drive it from one thread");
		return -1;
	}
	return 0;
}

/*
 * notifier_add: watch a psycopg connection; it is kept (it owns the PGconn),
 * keyed by the PGconn's address.
 */
static PyObject *
notifier_add(pgpy_notifier *self, PyObject *conn)
{
	PyObject *res, *key, *entry;
	pgcm_status st;
	int known;

	if (notifier_idle(self) < 0)
		return NULL;
	res = pgpy_adapt_call("pgconn_of", "(O)", conn);
	if (!res)
		return NULL;
	key = PyTuple_GET_ITEM(res, 1);
	known = PyDict_Contains(self->watched, key);
	if (known != 0) {
		if (known > 0)
			PyErr_SetString(PyExc_ValueError, "the connection is already watched");
		Py_DECREF(res);
		return NULL;
	}
	entry = PyTuple_Pack(2, conn, PyTuple_GET_ITEM(res, 0));
	if (!entry || PyDict_SetItem(self->watched, key, entry) < 0) {
		Py_XDECREF(entry);
		Py_DECREF(res);
		return NULL;
	}
	Py_DECREF(entry);
	st = pgcm_notifier_add(self->n, PyLong_AsVoidPtr(key));
	if (st != PGCM_OK) {
		(void) PyDict_DelItem(self->watched, key);
		Py_DECREF(res);
		if (st == PGCM_ERR_NOMEM)
			return PyErr_NoMemory();
		PyErr_SetString(pgpy.Error, pgcm_notifier_errmsg(self->n));
		return NULL;
	}
	Py_DECREF(res);
	Py_RETURN_NONE;
}

/* key_of: the watched-dict key of conn (found by identity), or NULL with an error. */
static PyObject *
key_of(pgpy_notifier *self, PyObject *conn)
{
	PyObject *key, *entry;
	Py_ssize_t pos = 0;

	while (PyDict_Next(self->watched, &pos, &key, &entry))
		if (PyTuple_GET_ITEM(entry, 0) == conn)
			return key;
	PyErr_SetString(PyExc_ValueError, "the connection is not watched");
	return NULL;
}

static PyObject *
notifier_remove(pgpy_notifier *self, PyObject *conn)
{
	PyObject *key;

	if (notifier_idle(self) < 0 || !(key = key_of(self, conn)))
		return NULL;
	(void) pgcm_notifier_remove(self->n, PyLong_AsVoidPtr(key));
	if (PyDict_DelItem(self->watched, key) < 0)
		return NULL;
	Py_RETURN_NONE;
}

/* forget_closed: a connection closed by its owner must not be read again. */
static int
forget_closed(pgpy_notifier *self)
{
	PyObject *key, *entry, *closed = PyList_New(0);
	Py_ssize_t pos = 0;
	int rc = 0;

	if (!closed)
		return -1;
	while (PyDict_Next(self->watched, &pos, &key, &entry)) {
		PyObject *addr = PyObject_GetAttrString(PyTuple_GET_ITEM(entry, 1), "pgconn_ptr");
		int same;
		if (!addr) {
			rc = -1;
			break;
		}
		same = PyObject_RichCompareBool(addr, key, Py_EQ);
		Py_DECREF(addr);
		if (same < 0 || (!same && PyList_Append(closed, key) < 0)) {
			rc = -1;
			break;
		}
	}
	for (Py_ssize_t i = 0; rc == 0 && i < PyList_GET_SIZE(closed); i++) {
		PyObject *k = PyList_GET_ITEM(closed, i);
		(void) pgcm_notifier_remove(self->n, PyLong_AsVoidPtr(k));
		if (PyDict_DelItem(self->watched, k) < 0)
			rc = -1;
	}
	Py_DECREF(closed);
	return rc;
}

/* owner_of: the connection object the caller added for conn (borrowed). */
static PyObject *
owner_of(pgpy_notifier *self, PGconn *conn)
{
	PyObject *key = PyLong_FromVoidPtr(conn), *entry;

	if (!key)
		return NULL;
	entry = PyDict_GetItemWithError(self->watched, key);
	Py_DECREF(key);
	if (!entry) {
		if (!PyErr_Occurred())
			PyErr_SetString(PyExc_SystemError, "an event names an unknown connection");
		return NULL;
	}
	return PyTuple_GET_ITEM(entry, 0);
}

/*
 * notifier_next: the next notification or event.  Connections closed by their
 * owners are forgotten first: the library must not read a freed PGconn.
 */
static PyObject *
notifier_next(pgpy_notifier *self)
{
	pgcm_notify_event ev;
	PyObject *item, *owner;
	int st;

	if ((item = pgpy_pop_queued(self->queue, &self->qpos)) != NULL)
		return item;
	if (notifier_idle(self) < 0 || forget_closed(self) < 0)
		return NULL;
	self->busy = 1;
	st = pgpy_wait_event(&notifier_ops, self->n, &self->ps, &ev);
	self->busy = 0;
	if (st < 0)
		return NULL;
	if (st == PGCM_DONE)
		return NULL; /* no live connection is left: the iteration ends */
	if (st != PGCM_OK)
		return pgpy_notify_error(pgcm_notifier_errmsg(self->n), st);
	switch (ev.kind) {
	case PGCM_NOTIFY_BATCH:
		if (!(owner = owner_of(self, ev.conn)) || pgpy_queue_batch(self->queue, &ev, ev.conn, owner) < 0)
			return NULL;
		return pgpy_pop_queued(self->queue, &self->qpos);
	case PGCM_NOTIFY_IDLE:
		return pgpy_make_event("idle", NULL, NULL);
	case PGCM_NOTIFY_FAILED:
		if (!(owner = owner_of(self, ev.conn)))
			return NULL;
		return pgpy_make_event("failed", ev.message, owner);
	case PGCM_NOTIFY_POLL_END:
	default:
		return NULL;
	}
}

/* notifier_new: Notifier(*connections, idle=None). */
static PyObject *
notifier_new(PyTypeObject *type, PyObject *args, PyObject *kwargs)
{
	static char *kwlist[] = {"idle", NULL};
	PyObject *empty, *idle = NULL;
	pgpy_notifier *self;
	int ms, ok;

	empty = PyTuple_New(0);
	if (!empty)
		return NULL;
	ok = PyArg_ParseTupleAndKeywords(empty, kwargs, "|$O:Notifier", kwlist, &idle);
	Py_DECREF(empty);
	if (!ok || (ms = pgpy_parse_idle(idle)) == -2)
		return NULL;
	self = (pgpy_notifier *) type->tp_alloc(type, 0);
	if (!self)
		return NULL;
	self->n = pgcm_notifier_new();
	self->watched = PyDict_New();
	self->queue = PyList_New(0);
	if (!self->n || !self->watched || !self->queue) {
		Py_DECREF(self);
		return PyErr_Occurred() ? NULL : PyErr_NoMemory();
	}
	(void) pgcm_notifier_set_idle_interval(self->n, ms);
	for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(args); i++) {
		PyObject *r = notifier_add(self, PyTuple_GET_ITEM(args, i));
		if (!r) {
			Py_DECREF(self);
			return NULL;
		}
		Py_DECREF(r);
	}
	return (PyObject *) self;
}

/* notifier_get_connections: the watched connections, as they were added. */
static PyObject *
notifier_get_connections(pgpy_notifier *self, void *closure)
{
	PyObject *out = PyList_New(0), *key, *entry, *t;
	Py_ssize_t pos = 0;

	(void) closure;
	while (out && PyDict_Next(self->watched, &pos, &key, &entry))
		if (PyList_Append(out, PyTuple_GET_ITEM(entry, 0)) < 0)
			Py_CLEAR(out);
	if (!out)
		return NULL;
	t = PyList_AsTuple(out);
	Py_DECREF(out);
	return t;
}

static int
notifier_traverse(pgpy_notifier *self, visitproc visit, void *arg)
{
	Py_VISIT(self->watched);
	Py_VISIT(self->queue);
	return 0;
}

/* notifier_clear: the library forgets the connections before they may go. */
static int
notifier_clear(pgpy_notifier *self)
{
	pgcm_notifier_free(self->n);
	self->n = NULL;
	Py_CLEAR(self->watched);
	Py_CLEAR(self->queue);
	return 0;
}

static void
notifier_dealloc(pgpy_notifier *self)
{
	PyObject_GC_UnTrack(self);
	if (self->weakreflist)
		PyObject_ClearWeakRefs((PyObject *) self);
	notifier_clear(self);
	PyMem_RawFree(self->ps.fds);
	Py_TYPE(self)->tp_free((PyObject *) self);
}

static PyMethodDef notifier_methods[] = {
	{"add", (PyCFunction) notifier_add, METH_O,
	 "add($self, connection, /)\n--\n\n"
	 "Watch a psycopg connection (LISTEN on it yourself).  It stays yours."},
	{"remove", (PyCFunction) notifier_remove, METH_O,
	 "remove($self, connection, /)\n--\n\n"
	 "Stop watching it (also a failed one).  Notifications already\n"
	 "read stay queued in libpq, where psycopg finds them."},
	{NULL, NULL, 0, NULL}
};

static PyGetSetDef notifier_getset[] = {
	{"connections", (getter) notifier_get_connections, NULL,
	 "The watched connections (failed ones included), as added.", NULL},
	{NULL, NULL, NULL, NULL, NULL}
};

PyDoc_STRVAR(notifier_doc,
"Notifier(*connections, idle=None)\n--\n\n"
"Notifications of psycopg connections you own (you LISTEN on them), as an iterator\n"
"(py-postgresql's NotificationManager).  It yields a Notification for each\n"
"notification, in the order the server sent them; Event('idle') when nothing came\n"
"for `idle` seconds; Event('failed', message, connection) once for a connection that\n"
"broke (it is set aside).  idle=0 is poll mode: the iteration yields what is pending\n"
"and stops.  It also stops, whatever `idle` is, once no live connection is left (each\n"
"one failed, or was removed or closed); add() one to go on.  It never sends,\n"
"commits or closes anything; between iterations you may use the connections (psycopg\n"
"then takes the notifications that arrive meanwhile: see add_notify_handler).  The\n"
"wait releases the GIL; Ctrl-C interrupts it.");

PyTypeObject pgpy_NotifierType = {
	PyVarObject_HEAD_INIT(NULL, 0)
	.tp_name = "pgcopyman.Notifier",
	.tp_basicsize = sizeof(pgpy_notifier),
	.tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
	.tp_doc = notifier_doc,
	.tp_new = notifier_new,
	.tp_dealloc = (destructor) notifier_dealloc,
	.tp_traverse = (traverseproc) notifier_traverse,
	.tp_clear = (inquiry) notifier_clear,
	.tp_iter = pgpy_self_iter,
	.tp_iternext = (iternextfunc) notifier_next,
	.tp_methods = notifier_methods,
	.tp_getset = notifier_getset,
	.tp_weaklistoffset = offsetof(pgpy_notifier, weakreflist),
};

