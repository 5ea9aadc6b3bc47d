/*
 * listener.c: Listener, a connection of its own that LISTENs, re-connects
 * when it breaks, and yields Notification and Event.
 */
#include "pgcm_py.h"

#include <string.h>

typedef struct pgpy_listener {
	PyObject_HEAD
	pgcm_listener *l;
	PyObject *queue;
	Py_ssize_t qpos;
	pollset ps;
	int busy;
	PyObject *weakreflist;
} pgpy_listener;

static pgcm_status
listener_step(void *h, pgcm_notify_event *ev)
{
	return pgcm_listener_step(h, ev);
}

static size_t
listener_pollfds(const void *h, struct pollfd *fds, size_t cap)
{
	return pgcm_listener_pollfds(h, fds, cap);
}

static int
listener_timeout(const void *h)
{
	return pgcm_listener_timeout_ms(h);
}

static const waiter_ops listener_ops = {listener_step, listener_pollfds, listener_timeout};

static int
listener_usable(pgpy_listener *self)
{
	if (!self->l) {
		PyErr_SetString(pgpy.InterfaceError, "the listener is closed");
		return -1;
	}
	if (self->busy) {
		PyErr_SetString(pgpy.InterfaceError,
		                "the listener is waiting in another thread: drive it from one thread");
		return -1;
	}
	return 0;
}

/* channel_bytes: a channel name as the server gets it (UTF-8), checked. */
static const char *
channel_bytes(PyObject *name)
{
	const char *s;
	Py_ssize_t n;

	if (!PyUnicode_Check(name)) {
		PyErr_Format(PyExc_TypeError, "a channel name must be a str, got %.100s",
		             Py_TYPE(name)->tp_name);
		return NULL;
	}
	s = PyUnicode_AsUTF8AndSize(name, &n);
	if (!s)
		return NULL;
	if (n < 1 || n > PGCM_CHANNEL_MAX || memchr(s, '\0', (size_t) n)) {
		PyErr_Format(PyExc_ValueError,
		             "channel name %R is %zd bytes: it must be 1 to %d bytes, without NUL",
		             name, n, PGCM_CHANNEL_MAX);
		return NULL;
	}
	return s;
}

/* listener_change: listen() and unlisten(); the server gets it on the next wait. */
static PyObject *
listener_change(pgpy_listener *self, PyObject *name, int listen)
{
	const char *s;
	pgcm_status st;

	if (listener_usable(self) < 0 || !(s = channel_bytes(name)))
		return NULL;
	st = listen ? pgcm_listener_listen(self->l, s) : pgcm_listener_unlisten(self->l, s);
	if (st == PGCM_ERR_NOMEM)
		return PyErr_NoMemory();
	if (st != PGCM_OK)
		return pgpy_notify_error(pgcm_listener_errmsg(self->l), st);
	Py_RETURN_NONE;
}

static PyObject *
listener_listen(pgpy_listener *self, PyObject *name)
{
	return listener_change(self, name, 1);
}

static PyObject *
listener_unlisten(pgpy_listener *self, PyObject *name)
{
	return listener_change(self, name, 0);
}

/* pair_ms: (first, second) in seconds to milliseconds, or the defaults when None. */
static int
pair_ms(PyObject *pair, const char *what, int *a, int *b)
{
	PyObject *x, *y;

	if (!pair || pair == Py_None)
		return 0;
	if (!PyArg_ParseTuple(pair, "OO", &x, &y)) {
		PyErr_Format(PyExc_TypeError, "%s must be a pair of seconds", what);
		return -1;
	}
	if ((*a = pgpy_seconds_to_ms(x, what, 0)) == -2 || (*b = pgpy_seconds_to_ms(y, what, 0)) == -2)
		return -1;
	return 1;
}

/*
 * listener_new: Listener(conninfo, channels, ...): every channel name is
 * checked before the library sees it; the connection is made on the first wait.
 */
static PyObject *
listener_new(PyTypeObject *type, PyObject *args, PyObject *kwargs)
{
	static char *kwlist[] = {"conninfo", "channels", "idle", "backoff", "ping", NULL};
	PyObject *conninfo, *channels = NULL, *idle = NULL, *backoff = NULL, *ping = NULL;
	PyObject *seq = NULL;
	const char *info;
	pgpy_listener *self;
	int ms, a = 0, b = 0, has;

	if (!PyArg_ParseTupleAndKeywords(args, kwargs, "U|O$OOO:Listener", kwlist, &conninfo,
	                                 &channels, &idle, &backoff, &ping))
		return NULL;
	if ((ms = pgpy_parse_idle(idle)) == -2 || !(info = PyUnicode_AsUTF8(conninfo)))
		return NULL;
	if (channels && PyUnicode_Check(channels))
		seq = PyTuple_Pack(1, channels);
	else if (channels && channels != Py_None)
		seq = PySequence_Tuple(channels);
	else
		seq = PyTuple_New(0);
	if (!seq)
		return NULL;
	for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(seq); i++)
		if (!channel_bytes(PyTuple_GET_ITEM(seq, i))) {
			Py_DECREF(seq);
			return NULL;
		}
	self = (pgpy_listener *) type->tp_alloc(type, 0);
	if (!self || !(self->queue = PyList_New(0)) || !(self->l = pgcm_listener_new(info, NULL, 0))) {
		Py_XDECREF(self);
		Py_DECREF(seq);
		return PyErr_Occurred() ? NULL : PyErr_NoMemory();
	}
	for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(seq); i++) {
		PyObject *r = listener_listen(self, PyTuple_GET_ITEM(seq, i));
		if (!r) {
			Py_DECREF(seq);
			Py_DECREF(self);
			return NULL;
		}
		Py_DECREF(r);
	}
	Py_DECREF(seq);
	(void) pgcm_listener_set_idle_interval(self->l, ms);
	if ((has = pair_ms(backoff, "backoff", &a, &b)) < 0
	    || (has && pgcm_listener_set_backoff(self->l, a, b) != PGCM_OK)) {
		if (has > 0)
			PyErr_SetString(PyExc_ValueError,
			                "backoff=(initial, max): initial must be at least 0.001 s and "
			                "max at least initial");
		Py_DECREF(self);
		return NULL;
	}
	if ((has = pair_ms(ping, "ping", &a, &b)) < 0
	    || (has && pgcm_listener_set_ping(self->l, a, b) != PGCM_OK)) {
		if (has > 0)
			PyErr_SetString(PyExc_ValueError, "ping=(interval, timeout): invalid values");
		Py_DECREF(self);
		return NULL;
	}
	return (PyObject *) self;
}

/*
 * listener_next: the next notification (a batch is queued and handed out one
 * by one) or event; NotifyError when the first connection or a LISTEN fails.
 */
static PyObject *
listener_next(pgpy_listener *self)
{
	pgcm_notify_event ev;
	PyObject *item;
	int st;

	if ((item = pgpy_pop_queued(self->queue, &self->qpos)) != NULL)
		return item;
	if (listener_usable(self) < 0)
		return NULL;
	self->busy = 1;
	st = pgpy_wait_event(&listener_ops, self->l, &self->ps, &ev);
	self->busy = 0;
	if (st < 0)
		return NULL;
	if (st != PGCM_OK)
		return pgpy_notify_error(pgcm_listener_errmsg(self->l), st);
	switch (ev.kind) {
	case PGCM_NOTIFY_BATCH:
		if (pgpy_queue_batch(self->queue, &ev, pgcm_listener_conn(self->l), Py_None) < 0)
			return NULL;
		return pgpy_pop_queued(self->queue, &self->qpos);
	case PGCM_NOTIFY_IDLE:
		return pgpy_make_event("idle", NULL, NULL);
	case PGCM_NOTIFY_DISCONNECTED:
		return pgpy_make_event("disconnected", ev.message, NULL);
	case PGCM_NOTIFY_RECONNECTED:
		return pgpy_make_event("reconnected", NULL, NULL);
	case PGCM_NOTIFY_POLL_END:
	default:
		return NULL;
	}
}

/* not_waiting: the listener's state may be read (no thread is changing it). */
static int
not_waiting(pgpy_listener *self)
{
	if (self->busy) {
		PyErr_SetString(pgpy.InterfaceError, "the listener is waiting in another thread");
		return -1;
	}
	return 0;
}

static PyObject *
listener_close(pgpy_listener *self, PyObject *noargs)
{
	(void) noargs;
	if (not_waiting(self) < 0)
		return NULL;
	pgcm_listener_free(self->l);
	self->l = NULL;
	Py_RETURN_NONE;
}

static PyObject *
listener_enter(PyObject *self, PyObject *noargs)
{
	(void) noargs;
	Py_INCREF(self);
	return self;
}

static PyObject *
listener_exit(pgpy_listener *self, PyObject *args)
{
	PyObject *r;

	(void) args;
	r = listener_close(self, NULL);
	if (!r)
		return NULL;
	Py_DECREF(r);
	Py_RETURN_FALSE;
}

static PyObject *
listener_get_ready(pgpy_listener *self, void *closure)
{
	(void) closure;
	if (not_waiting(self) < 0)
		return NULL;
	return PyBool_FromLong(self->l && pgcm_listener_ready(self->l));
}

static PyObject *
listener_get_reconnects(pgpy_listener *self, void *closure)
{
	(void) closure;
	if (not_waiting(self) < 0)
		return NULL;
	return PyLong_FromUnsignedLong(self->l ? pgcm_listener_reconnects(self->l) : 0);
}

static PyObject *
listener_get_backend_pid(pgpy_listener *self, void *closure)
{
	PGconn *conn;

	(void) closure;
	if (not_waiting(self) < 0)
		return NULL;
	conn = self->l ? pgcm_listener_conn(self->l) : NULL;
	if (!conn || PQstatus(conn) != CONNECTION_OK)
		Py_RETURN_NONE;
	return PyLong_FromLong(PQbackendPID(conn));
}

static PyObject *
listener_get_closed(pgpy_listener *self, void *closure)
{
	(void) closure;
	return PyBool_FromLong(self->l == NULL);
}

static int
listener_traverse(pgpy_listener *self, visitproc visit, void *arg)
{
	Py_VISIT(self->queue);
	return 0;
}

static int
listener_clear(pgpy_listener *self)
{
	Py_CLEAR(self->queue);
	return 0;
}

static void
listener_dealloc(pgpy_listener *self)
{
	PyObject_GC_UnTrack(self);
	if (self->weakreflist)
		PyObject_ClearWeakRefs((PyObject *) self);
	pgcm_listener_free(self->l);
	listener_clear(self);
	PyMem_RawFree(self->ps.fds);
	Py_TYPE(self)->tp_free((PyObject *) self);
}

static PyMethodDef listener_methods[] = {
	{"listen", (PyCFunction) listener_listen, METH_O,
	 "listen($self, channel, /)\n--\n\nAdd a channel, also while running (sent on the next wait)."},
	{"unlisten", (PyCFunction) listener_unlisten, METH_O,
	 "unlisten($self, channel, /)\n--\n\nRemove a channel, also while running."},
	{"close", (PyCFunction) listener_close, METH_NOARGS,
	 "close($self, /)\n--\n\n"
	 "Close the listener's connection.  Iterating afterwards raises InterfaceError."},
	{"__enter__", listener_enter, METH_NOARGS, "Return the listener."},
	{"__exit__", (PyCFunction) listener_exit, METH_VARARGS, "Close the listener."},
	{NULL, NULL, 0, NULL}
};

static PyGetSetDef listener_getset[] = {
	{"ready", (getter) listener_get_ready, NULL,
	 "True when connected and every LISTEN and UNLISTEN asked for is in effect.", NULL},
	{"reconnects", (getter) listener_get_reconnects, NULL,
	 "How many times the listener re-connected.", NULL},
	{"backend_pid", (getter) listener_get_backend_pid, NULL,
	 "The server process of the current connection, or None while disconnected.", NULL},
	{"closed", (getter) listener_get_closed, NULL, "True once close() was called.", NULL},
	{NULL, NULL, NULL, NULL, NULL}
};

PyDoc_STRVAR(listener_doc,
"Listener(conninfo, channels=(), *, idle=None, backoff=None, ping=None)\n--\n\n"
"A connection of its own (a libpq connection string or URI) that LISTENs to the\n"
"channels and yields a Notification for each notification.  When the connection\n"
"breaks it yields Event('disconnected', message), re-connects with capped\n"
"exponential back-off (backoff: first wait, longest wait, in seconds), LISTENs\n"
"again and yields Event('reconnected'): notifications sent meanwhile were lost, so\n"
"resynchronise there.  idle: Event('idle') after that many quiet seconds (0: poll\n"
"mode, the iteration stops when nothing is pending).  ping: when quiet for interval\n"
"seconds it pings the server; no answer within timeout means the connection is dead\n"
"(defaults: backoff=(0.25, 30), ping=(30, 10)).\n"
"The first connection failing raises NotifyError (iterating again retries).  The wait\n"
"releases the GIL; Ctrl-C interrupts it.  Use it as a context manager, or close() it.");

PyTypeObject pgpy_ListenerType = {
	PyVarObject_HEAD_INIT(NULL, 0)
	.tp_name = "pgcopyman.Listener",
	.tp_basicsize = sizeof(pgpy_listener),
	.tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
	.tp_doc = listener_doc,
	.tp_new = listener_new,
	.tp_dealloc = (destructor) listener_dealloc,
	.tp_traverse = (traverseproc) listener_traverse,
	.tp_clear = (inquiry) listener_clear,
	.tp_iter = pgpy_self_iter,
	.tp_iternext = (iternextfunc) listener_next,
	.tp_methods = listener_methods,
	.tp_getset = listener_getset,
	.tp_weaklistoffset = offsetof(pgpy_listener, weakreflist),
};
