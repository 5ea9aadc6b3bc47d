/*
 * notify.c: the notifier (over psycopg connections the caller owns) and the
 * listener (a connection of its own that re-connects), as iterators of
 * Notification and Event.  The wait runs without the GIL, looking for
 * signals between polls, so Ctrl-C interrupts an idle iteration.
 */
#include "pgcm_py.h"

#include <string.h>

/* ------------------------------------------------------------------------
 * The shared wait loop
 * ------------------------------------------------------------------------ */

/* One of the two notification objects, seen by the wait loop. */
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

/*
 * wait_event: step until an event (or an error) comes, polling meanwhile with
 * the GIL released.  Returns the step's status; -1 when a signal handler
 * raised (the exception is set) or out of memory.
 */
static int
wait_event(const waiter_ops *ops, void *h, pollset *ps, pgcm_notify_event *ev)
{
	PyThreadState *ts = PyEval_SaveThread();
	pgcm_status st;

	for (;;) {
		size_t n;

		st = ops->step(h, ev);
		if (st != PGCM_AGAIN)
			break;
		n = ops->pollfds(h, ps->fds, ps->cap);
		if (n > ps->cap) {
			struct pollfd *fds = PyMem_RawRealloc(ps->fds, n * sizeof *fds);
			if (!fds) {
				PyEval_RestoreThread(ts);
				PyErr_NoMemory();
				return -1;
			}
			ps->fds = fds;
			ps->cap = n;
			n = ops->pollfds(h, ps->fds, ps->cap);
		}
		(void) pgpy_poll(ps->fds, n, ops->timeout_ms(h));
		PyEval_RestoreThread(ts);
		if (PyErr_CheckSignals() < 0)
			return -1;
		ts = PyEval_SaveThread();
	}
	PyEval_RestoreThread(ts);
	return (int) st;
}

/* queue_batch: one Notification per notification of a batch, onto queue. */
static int
queue_batch(PyObject *queue, const pgcm_notify_event *ev, PGconn *conn, PyObject *owner)
{
	for (size_t i = 0; i < ev->count; i++) {
		const pgcm_notification *nt = &ev->notifies[i];
		PyObject *channel = pgpy_decode(conn, nt->channel);
		PyObject *payload = channel ? pgpy_decode(conn, nt->payload) : NULL;
		PyObject *item = payload ? PyObject_CallFunction(pgpy.Notification, "OOiO", channel,
		                                                 payload, nt->pid, owner)
		                         : NULL;
		Py_XDECREF(channel);
		Py_XDECREF(payload);
		if (!item || PyList_Append(queue, item) < 0) {
			Py_XDECREF(item);
			return -1;
		}
		Py_DECREF(item);
	}
	return 0;
}

/* pop_queued: the next queued notification, or NULL (no exception) when none. */
static PyObject *
pop_queued(PyObject *queue, Py_ssize_t *pos)
{
	PyObject *item;

	if (*pos >= PyList_GET_SIZE(queue)) {
		if (*pos > 0 && PyList_SetSlice(queue, 0, PyList_GET_SIZE(queue), NULL) == 0)
			*pos = 0;
		return NULL;
	}
	item = PyList_GET_ITEM(queue, *pos);
	Py_INCREF(item);
	(*pos)++;
	return item;
}

static PyObject *
make_event(const char *kind, const char *message, PyObject *conn)
{
	return PyObject_CallFunction(pgpy.Event, "szO", kind, message, conn ? conn : Py_None);
}

/* notify_error: raise NotifyError(message, status=...) (MemoryError when out of memory). */
static PyObject *
notify_error(const char *message, pgcm_status st)
{
	PyObject *args, *kwargs, *exc = NULL;

	if (st == PGCM_ERR_NOMEM)
		return PyErr_NoMemory();
	args = Py_BuildValue("(s)", message);
	kwargs = Py_BuildValue("{ss}", "status", pgpy_status_name(st));
	if (args && kwargs)
		exc = PyObject_Call(pgpy.NotifyError, args, kwargs);
	Py_XDECREF(args);
	Py_XDECREF(kwargs);
	if (exc) {
		PyErr_SetObject((PyObject *) Py_TYPE(exc), exc);
		Py_DECREF(exc);
	}
	return NULL;
}

/* parse_idle: idle=None (no idle events), 0 (poll mode) or seconds. */
static int
parse_idle(PyObject *idle)
{
	return pgpy_seconds_to_ms(idle, "idle", -1);
}

/* ------------------------------------------------------------------------
 * Notifier
 * ------------------------------------------------------------------------ */

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

static PyObject *
notifier_next(pgpy_notifier *self)
{
	pgcm_notify_event ev;
	PyObject *item, *owner;
	int st;

	if ((item = pop_queued(self->queue, &self->qpos)) != NULL)
		return item;
	if (notifier_idle(self) < 0 || forget_closed(self) < 0)
		return NULL;
	self->busy = 1;
	st = wait_event(&notifier_ops, self->n, &self->ps, &ev);
	self->busy = 0;
	if (st < 0)
		return NULL;
	if (st == PGCM_ERR_STATE)
		return NULL; /* nothing left to wait for: the iteration ends */
	if (st != PGCM_OK)
		return notify_error(pgcm_notifier_errmsg(self->n), st);
	switch (ev.kind) {
	case PGCM_NOTIFY_BATCH:
		if (!(owner = owner_of(self, ev.conn)) || queue_batch(self->queue, &ev, ev.conn, owner) < 0)
			return NULL;
		return pop_queued(self->queue, &self->qpos);
	case PGCM_NOTIFY_IDLE:
		return make_event("idle", NULL, NULL);
	case PGCM_NOTIFY_FAILED:
		if (!(owner = owner_of(self, ev.conn)))
			return NULL;
		return make_event("failed", ev.message, owner);
	case PGCM_NOTIFY_POLL_END:
	default:
		return NULL;
	}
}

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
	if (!ok || (ms = parse_idle(idle)) == -2)
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

static PyObject *
self_iter(PyObject *self)
{
	Py_INCREF(self);
	return self;
}

static PyMethodDef notifier_methods[] = {
	{"add", (PyCFunction) notifier_add, METH_O,
	 "add($self, connection, /)\n--\n\nWatch a psycopg connection (LISTEN on it yourself).  It stays yours."},
	{"remove", (PyCFunction) notifier_remove, METH_O,
	 "remove($self, connection, /)\n--\n\nStop watching it (also a failed one).  Notifications already\n"
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
"and stops.  It also stops when no connection is left to wait for.  It never sends,\n"
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
	.tp_iter = self_iter,
	.tp_iternext = (iternextfunc) notifier_next,
	.tp_methods = notifier_methods,
	.tp_getset = notifier_getset,
	.tp_weaklistoffset = offsetof(pgpy_notifier, weakreflist),
};

/* ------------------------------------------------------------------------
 * Listener
 * ------------------------------------------------------------------------ */

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
		return notify_error(pgcm_listener_errmsg(self->l), st);
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
	if ((ms = parse_idle(idle)) == -2 || !(info = PyUnicode_AsUTF8(conninfo)))
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

static PyObject *
listener_next(pgpy_listener *self)
{
	pgcm_notify_event ev;
	PyObject *item;
	int st;

	if ((item = pop_queued(self->queue, &self->qpos)) != NULL)
		return item;
	if (listener_usable(self) < 0)
		return NULL;
	self->busy = 1;
	st = wait_event(&listener_ops, self->l, &self->ps, &ev);
	self->busy = 0;
	if (st < 0)
		return NULL;
	if (st != PGCM_OK)
		return notify_error(pgcm_listener_errmsg(self->l), st);
	switch (ev.kind) {
	case PGCM_NOTIFY_BATCH:
		if (queue_batch(self->queue, &ev, pgcm_listener_conn(self->l), Py_None) < 0)
			return NULL;
		return pop_queued(self->queue, &self->qpos);
	case PGCM_NOTIFY_IDLE:
		return make_event("idle", NULL, NULL);
	case PGCM_NOTIFY_DISCONNECTED:
		return make_event("disconnected", ev.message, NULL);
	case PGCM_NOTIFY_RECONNECTED:
		return make_event("reconnected", NULL, NULL);
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
	 "close($self, /)\n--\n\nClose the listener's connection.  Iterating afterwards raises InterfaceError."},
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
	.tp_iter = self_iter,
	.tp_iternext = (iternextfunc) listener_next,
	.tp_methods = listener_methods,
	.tp_getset = listener_getset,
	.tp_weaklistoffset = offsetof(pgpy_listener, weakreflist),
};
