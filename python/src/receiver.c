/*
 * receiver.c: where COPY data goes: a psycopg connection's COPY FROM, a file
 * (its descriptor, or its write() method), a Python callable, or nowhere.  A
 * receiver serves one copy; the copy manager takes its library handle and,
 * when the copy is freed, leaves the receiver its final state and row count.
 */
#include "pgcm_py.h"

/* keep_error: this receiver's call failed with the exception being raised. */
static int
keep_error(pgpy_receiver *self)
{
	PyObject *exc = pgpy_capture();

	Py_XSETREF(self->error, exc);
	/* Ctrl-C or an exit inside a callback ends the whole copy, not one receiver. */
	if (pgpy_is_interrupt(exc) && self->manager) {
		if (!self->manager->interrupt) {
			Py_INCREF(exc);
			self->manager->interrupt = exc;
		}
		if (self->manager->copy)
			(void) pgcm_copy_abort(self->manager->copy, "interrupted");
	}
	return 1;
}

/* write_file: all of buf through a file's write(), which may take part of it. */
static int
write_file(pgpy_receiver *self, const char *buf, size_t len)
{
	size_t done = 0;

	while (done < len) {
		PyObject *data = PyBytes_FromStringAndSize(buf + done, (Py_ssize_t) (len - done));
		PyObject *res;
		Py_ssize_t n;

		if (!data)
			return keep_error(self);
		res = PyObject_CallOneArg(self->call, data);
		Py_DECREF(data);
		if (!res)
			return keep_error(self);
		if (res == Py_None) {
			/* A BufferedWriter returns the count; None is a non-blocking raw file that is full. */
			Py_DECREF(res);
			PyErr_SetString(pgpy.InterfaceError,
			                "the file's write() returned None: it is non-blocking and full; "
			                "give a blocking file");
			return keep_error(self);
		}
		n = PyNumber_AsSsize_t(res, PyExc_OverflowError);
		Py_DECREF(res);
		if (n == -1 && PyErr_Occurred())
			return keep_error(self);
		if (n <= 0 || (size_t) n > len - done) {
			PyErr_Format(PyExc_ValueError, "the file's write() of %zu bytes returned %zd",
			             len - done, n);
			return keep_error(self);
		}
		done += (size_t) n;
	}
	return 0;
}

/*
 * receiver_write: the library's write callback: whole rows, borrowed for the
 * call, so they are copied into a bytes object.  Non-zero faults this
 * receiver, and means nothing was taken: reconciled, it gets the same bytes.
 */
static int
receiver_write(void *arg, const char *buf, size_t len)
{
	pgpy_receiver *self = arg;
	PyGILState_STATE g;
	int rc = 0;

	if (self->manager && self->manager->tearing_down)
		return 1;
	g = PyGILState_Ensure();
	if (!self->call) {
		PyErr_SetString(pgpy.InterfaceError, "the receiver was cleared");
		rc = keep_error(self);
	} else if (self->write_method) {
		rc = write_file(self, buf, len);
	} else {
		PyObject *data = PyBytes_FromStringAndSize(buf, (Py_ssize_t) len);
		PyObject *res = data ? PyObject_CallOneArg(self->call, data) : NULL;
		Py_XDECREF(data);
		if (!res)
			rc = keep_error(self);
		Py_XDECREF(res);
	}
	PyGILState_Release(g);
	return rc;
}

static pgpy_receiver *
receiver_alloc(PyTypeObject *type, pgpy_kind kind)
{
	pgpy_receiver *self = (pgpy_receiver *) type->tp_alloc(type, 0);

	if (self) {
		self->kind = kind;
		self->fd = -1;
		self->final_state = PGCM_RECEIVER_IDLE;
	}
	return self;
}

/* receiver_ready: as producer_ready(): the label (or def, stolen) on the library receiver. */
static PyObject *
receiver_ready(pgpy_receiver *self, PyObject *label, PyObject *def)
{
	const char *s;

	if (def && !self->r) {
		Py_DECREF(def);
		def = PyErr_NoMemory();
	}
	self->label = def ? pgpy_pick_label(label, def) : NULL;
	if (!self->label || !(s = PyUnicode_AsUTF8(self->label))) {
		Py_DECREF(self);
		return NULL;
	}
	if (pgcm_receiver_set_label(self->r, s) != PGCM_OK) {
		Py_DECREF(self);
		return PyErr_NoMemory();
	}
	return (PyObject *) self;
}

/* connection_receiver_new: ConnectionReceiver(connection, copy_from, ...). */
static PyObject *
connection_receiver_new(PyTypeObject *type, PyObject *args, PyObject *kwargs)
{
	static char *kwlist[] = {"connection", "copy_from", "label", NULL};
	PyObject *conn, *sql, *label = NULL, *command;
	pgpy_receiver *self;

	if (!PyArg_ParseTupleAndKeywords(args, kwargs, "OO|$O:ConnectionReceiver", kwlist, &conn,
	                                 &sql, &label))
		return NULL;
	self = receiver_alloc(type, PGPY_CONNECTION);
	if (!self)
		return NULL;
	if (pgpy_conn_init(&self->conn, conn) < 0
	    || !(command = pgpy_encode_sql(self->conn.ptr, sql, "copy_from"))) {
		Py_DECREF(self);
		return NULL;
	}
	self->r = pgcm_receiver_pg(self->conn.ptr, PyBytes_AS_STRING(command));
	Py_DECREF(command);
	return receiver_ready(self, label, pgpy_conn_label(&self->conn));
}

/*
 * file_receiver_new: FileReceiver(file): a descriptor is written by the
 * library; a file object without a usable one through its write().
 */
static PyObject *
file_receiver_new(PyTypeObject *type, PyObject *args, PyObject *kwargs)
{
	static char *kwlist[] = {"file", "label", NULL};
	PyObject *file, *label = NULL, *def;
	pgpy_receiver *self;

	if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O|$O:FileReceiver", kwlist, &file, &label))
		return NULL;
	self = receiver_alloc(type, PGPY_FD);
	if (!self)
		return NULL;
	Py_INCREF(file);
	self->target = file;
	if (PyLong_Check(file)) {
		self->fd = pgpy_fd_of(file);
		if (self->fd < 0) {
			Py_DECREF(self);
			return NULL;
		}
		def = PyUnicode_FromFormat("fd %d", self->fd);
	} else {
		PyObject *how = pgpy_adapt_call("file_sink", "(O)", file);
		PyObject *write;
		if (!how || !PyArg_ParseTuple(how, "iO", &self->fd, &write)) {
			Py_XDECREF(how);
			Py_DECREF(self);
			return NULL;
		}
		self->file_object = self->fd >= 0;
		if (self->fd < 0) {
			self->kind = PGPY_PYTHON;
			self->write_method = 1;
			Py_INCREF(write);
			self->call = write;
		}
		Py_DECREF(how);
		def = PyObject_Repr(file);
	}
	self->r = self->fd >= 0 ? pgcm_receiver_fd(self->fd) : pgcm_receiver_fn(receiver_write, self);
	return receiver_ready(self, label, def);
}

/* callable_receiver_new: CallableReceiver(callable). */
static PyObject *
callable_receiver_new(PyTypeObject *type, PyObject *args, PyObject *kwargs)
{
	static char *kwlist[] = {"callable", "label", NULL};
	PyObject *fn, *label = NULL;
	pgpy_receiver *self;

	if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O|$O:CallableReceiver", kwlist, &fn, &label))
		return NULL;
	if (!PyCallable_Check(fn)) {
		PyErr_Format(PyExc_TypeError, "CallableReceiver needs a callable, got %.100s",
		             Py_TYPE(fn)->tp_name);
		return NULL;
	}
	self = receiver_alloc(type, PGPY_PYTHON);
	if (!self)
		return NULL;
	Py_INCREF(fn);
	self->target = fn;
	Py_INCREF(fn);
	self->call = fn;
	self->r = pgcm_receiver_fn(receiver_write, self);
	return receiver_ready(self, label, PyObject_Repr(fn));
}

/* null_receiver_new: NullReceiver(). */
static PyObject *
null_receiver_new(PyTypeObject *type, PyObject *args, PyObject *kwargs)
{
	static char *kwlist[] = {"label", NULL};
	PyObject *label = NULL;
	pgpy_receiver *self;

	if (!PyArg_ParseTupleAndKeywords(args, kwargs, "|$O:NullReceiver", kwlist, &label))
		return NULL;
	self = receiver_alloc(type, PGPY_NULL);
	if (!self)
		return NULL;
	self->r = pgcm_receiver_null();
	return receiver_ready(self, label, PyUnicode_FromString("null"));
}

static PyObject *
abstract_new(PyTypeObject *type, PyObject *args, PyObject *kwargs)
{
	(void) args;
	(void) kwargs;
	PyErr_Format(PyExc_TypeError,
	             "%.100s cannot be created directly: use ConnectionReceiver, FileReceiver, "
	             "CallableReceiver or NullReceiver", type->tp_name);
	return NULL;
}

static int
receiver_traverse(pgpy_receiver *self, visitproc visit, void *arg)
{
	Py_VISIT(self->conn.conn);
	Py_VISIT(self->conn.pgconn);
	Py_VISIT(self->target);
	Py_VISIT(self->call);
	Py_VISIT(self->error);
	return 0;
}

/* receiver_clear: as producer_clear: a live copy keeps its connection and file. */
static int
receiver_clear(pgpy_receiver *self)
{
	if (!self->manager) {
		pgpy_conn_clear(&self->conn);
		Py_CLEAR(self->target);
	}
	Py_CLEAR(self->call);
	Py_CLEAR(self->error);
	return 0;
}

static void
receiver_dealloc(pgpy_receiver *self)
{
	PyObject_GC_UnTrack(self);
	if (self->weakreflist)
		PyObject_ClearWeakRefs((PyObject *) self);
	if (!self->used)
		pgcm_receiver_free(self->r);
	self->r = NULL;
	self->manager = NULL;
	receiver_clear(self);
	Py_CLEAR(self->label);
	Py_TYPE(self)->tp_free((PyObject *) self);
}

/* pgpy_receiver_state: where it stands, live or as the finished copy left it. */
pgcm_receiver_state
pgpy_receiver_state(const pgpy_receiver *self)
{
	return self->used && self->r ? pgcm_receiver_get_state(self->r) : self->final_state;
}

static PyObject *
receiver_repr(pgpy_receiver *self)
{
	return PyUnicode_FromFormat("<%s %R %s>", Py_TYPE(self)->tp_name,
	                            self->label ? self->label : Py_None,
	                            pgcm_receiver_state_name(pgpy_receiver_state(self)));
}

static PyObject *
receiver_get_state(pgpy_receiver *self, void *closure)
{
	(void) closure;
	return PyUnicode_FromString(pgcm_receiver_state_name(pgpy_receiver_state(self)));
}

static PyObject *
receiver_get_rows(pgpy_receiver *self, void *closure)
{
	(void) closure;
	return PyLong_FromUnsignedLongLong(self->used && self->r ? pgcm_receiver_rows(self->r)
	                                                         : self->final_rows);
}

static PyObject *
receiver_get_label(pgpy_receiver *self, void *closure)
{
	(void) closure;
	if (!self->label)
		Py_RETURN_NONE;
	Py_INCREF(self->label);
	return self->label;
}

static PyObject *
receiver_get_target(pgpy_receiver *self, void *closure)
{
	PyObject *o = self->kind == PGPY_CONNECTION ? self->conn.conn : self->target;

	(void) closure;
	if (!o)
		Py_RETURN_NONE;
	Py_INCREF(o);
	return o;
}

static PyGetSetDef receiver_getset[] = {
	{"state", (getter) receiver_get_state, NULL,
	 "'idle' (not started), 'active' (in the receiver set), 'faulted' (taken out in the\n"
	 "last cycle; may be reconciled), 'dropped' (taken out for good; its COPY was failed),\n"
	 "'done' (its COPY completed and its row count was checked) or 'aborted'.", NULL},
	{"rows", (getter) receiver_get_rows, NULL,
	 "Rows its server confirmed (for a file or callable: rows it took, once done).", NULL},
	{"label", (getter) receiver_get_label, NULL,
	 "The name used in messages (a connection's host, port, dbname and user by default).", NULL},
	{"target", (getter) receiver_get_target, NULL,
	 "The connection, file or callable the data goes to (None for NullReceiver).", NULL},
	{NULL, NULL, NULL, NULL, NULL}
};

PyDoc_STRVAR(receiver_doc,
"Where COPY data goes.  The kinds are ConnectionReceiver, FileReceiver,\n"
"CallableReceiver and NullReceiver.  A receiver serves one copy; it is hashable,\n"
"so it is the key of Fault.faults and CopyFail.receiver_faults.");

PyTypeObject pgpy_ReceiverType = {
	PyVarObject_HEAD_INIT(NULL, 0)
	.tp_name = "pgcopyman.Receiver",
	.tp_basicsize = sizeof(pgpy_receiver),
	.tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC,
	.tp_doc = receiver_doc,
	.tp_new = abstract_new,
	.tp_dealloc = (destructor) receiver_dealloc,
	.tp_traverse = (traverseproc) receiver_traverse,
	.tp_clear = (inquiry) receiver_clear,
	.tp_repr = (reprfunc) receiver_repr,
	.tp_getset = receiver_getset,
	.tp_weaklistoffset = offsetof(pgpy_receiver, weakreflist),
};

#define RECEIVER_KIND(cname, pyname, newfn, doc) \
	PGPY_SUBTYPE(cname, pyname, pgpy_ReceiverType, pgpy_receiver, newfn, receiver_traverse, \
	             receiver_clear, doc)

RECEIVER_KIND(pgpy_ConnectionReceiverType, "ConnectionReceiver", connection_receiver_new,
"ConnectionReceiver(connection, copy_from, *, label=None)\n--\n\n"
"Rows into a psycopg 3 connection's COPY ... FROM STDIN (copy_from).  The connection\n"
"stays yours, as for ConnectionProducer.  Inside a transaction block the COPY is\n"
"ended and restarted every segment (16 MiB by default) so that a rejected row is\n"
"noticed early; outside one it is a single COPY, so a rejected row shows at the end.");

RECEIVER_KIND(pgpy_FileReceiverType, "FileReceiver", file_receiver_new,
"FileReceiver(file, *, label=None)\n--\n\n"
"COPY data written to a file: a file descriptor (int), a file object opened in\n"
"binary mode ('wb'; flushed, then written through its descriptor), or any object\n"
"with write(bytes).  The file stays yours and is not closed; an aborted copy\n"
"leaves it ending on a row boundary.");

RECEIVER_KIND(pgpy_CallableReceiverType, "CallableReceiver", callable_receiver_new,
"CallableReceiver(callable, *, label=None)\n--\n\n"
"Calls callable(data) with bytes holding whole rows (about 64 KiB at a time).  An\n"
"exception faults this receiver only (a Fault whose error has the exception as its\n"
"cause); nothing of that call counts as taken, so a reconciled receiver is called\n"
"again with the same bytes and ends with every row exactly once.  KeyboardInterrupt\n"
"or SystemExit ends the whole copy instead.");

RECEIVER_KIND(pgpy_NullReceiverType, "NullReceiver", null_receiver_new,
"NullReceiver(*, label=None)\n--\n\nA receiver that discards everything.");
