/*
 * producer.c: where COPY data comes from: a psycopg connection's COPY TO, a
 * file (read through its descriptor, or its read() method), a Python
 * iterable of bytes, or nothing.  A producer serves one copy; the copy
 * manager takes its library handle.
 */
#include "pgcm_py.h"

#include <string.h>

/* ------------------------------------------------------------------------
 * Reading Python objects (the library's read callback)
 * ------------------------------------------------------------------------ */

/* keep_error: the producer failed with the exception being raised. */
static long
keep_error(pgpy_producer *self)
{
	PyObject *exc = pgpy_capture();

	Py_XSETREF(self->error, exc);
	if (pgpy_is_interrupt(exc) && self->manager && !self->manager->interrupt) {
		Py_INCREF(exc);
		self->manager->interrupt = exc;
	}
	return -1;
}

/* take_pending: hand out what is left of the current item. */
static size_t
take_pending(pgpy_producer *self, char *buf, size_t cap)
{
	size_t left = (size_t) (self->pending.len - self->pending_off);
	size_t n = left < cap ? left : cap;

	memcpy(buf, (const char *) self->pending.buf + self->pending_off, n);
	self->pending_off += (Py_ssize_t) n;
	if (self->pending_off == self->pending.len) {
		PyBuffer_Release(&self->pending);
		self->has_pending = 0;
	}
	return n;
}

/*
 * read_items: fill buf from the iterator.  Items are bytes-like and may cut
 * rows anywhere (the library finds row boundaries); an item larger than buf
 * is handed out over several calls.  0 means the iterator is exhausted.
 */
static long
read_items(pgpy_producer *self, char *buf, size_t cap)
{
	size_t out = 0;

	while (out < cap) {
		PyObject *item;

		if (self->has_pending) {
			out += take_pending(self, buf + out, cap - out);
			continue;
		}
		if (self->exhausted || !self->iter)
			break;
		item = PyIter_Next(self->iter);
		if (!item) {
			if (PyErr_Occurred())
				return keep_error(self);
			self->exhausted = 1;
			break;
		}
		self->items++;
		if (PyUnicode_Check(item) || PyObject_GetBuffer(item, &self->pending, PyBUF_SIMPLE) < 0) {
			PyErr_Clear();
			PyErr_Format(PyExc_TypeError,
			             "item %llu of the iterable is %.100s, not bytes: COPY data is bytes "
			             "(encode text in the connection's client encoding)",
			             self->items, Py_TYPE(item)->tp_name);
			Py_DECREF(item);
			return keep_error(self);
		}
		Py_DECREF(item);
		self->has_pending = 1;
		self->pending_off = 0;
	}
	if (!self->iter && !self->exhausted && out == 0) {
		PyErr_SetString(pgpy.InterfaceError, "the producer was cleared");
		return keep_error(self);
	}
	return (long) out;
}

/* read_file: one read(n) of a file object that has no usable descriptor. */
static long
read_file(pgpy_producer *self, char *buf, size_t cap)
{
	PyObject *data;
	Py_buffer view;
	long n;

	if (!self->iter) {
		PyErr_SetString(pgpy.InterfaceError, "the producer was cleared");
		return keep_error(self);
	}
	data = PyObject_CallFunction(self->iter, "n", (Py_ssize_t) cap);
	if (!data)
		return keep_error(self);
	if (data == Py_None) {
		Py_DECREF(data);
		PyErr_SetString(pgpy.InterfaceError,
		                "the file's read() returned None: it is non-blocking and had no data; "
		                "give a blocking file");
		return keep_error(self);
	}
	if (PyObject_GetBuffer(data, &view, PyBUF_SIMPLE) < 0) {
		PyErr_Clear();
		PyErr_Format(PyExc_TypeError, "the file's read() returned %.100s, not bytes",
		             Py_TYPE(data)->tp_name);
		Py_DECREF(data);
		return keep_error(self);
	}
	if ((size_t) view.len > cap) {
		PyErr_Format(PyExc_ValueError, "the file's read(%zu) returned %zd bytes", cap, view.len);
		PyBuffer_Release(&view);
		Py_DECREF(data);
		return keep_error(self);
	}
	memcpy(buf, view.buf, (size_t) view.len);
	n = (long) view.len;
	PyBuffer_Release(&view);
	Py_DECREF(data);
	return n;
}

/*
 * producer_read: the library's read callback.  The copy loop runs without
 * the GIL; take it for the Python code.  A manager being torn down (garbage
 * collected) runs no Python code.
 */
static long
producer_read(void *arg, char *buf, size_t cap)
{
	pgpy_producer *self = arg;
	PyGILState_STATE g;
	long n;

	if (self->manager && self->manager->tearing_down)
		return -1;
	g = PyGILState_Ensure();
	n = self->read_method ? read_file(self, buf, cap) : read_items(self, buf, cap);
	PyGILState_Release(g);
	return n;
}

/* ------------------------------------------------------------------------
 * The type and its kinds
 * ------------------------------------------------------------------------ */

static pgpy_producer *
producer_alloc(PyTypeObject *type, pgpy_kind kind)
{
	pgpy_producer *self = (pgpy_producer *) type->tp_alloc(type, 0);

	if (self) {
		self->kind = kind;
		self->fd = -1;
	}
	return self;
}

/*
 * producer_ready: the constructor's last step: the library producer was made
 * (NULL is out of memory); it gets the caller's label, or def (stolen; NULL
 * when making it failed).
 */
static PyObject *
producer_ready(pgpy_producer *self, PyObject *label, PyObject *def)
{
	const char *s;

	if (def && !self->p) {
		Py_DECREF(def);
		def = PyErr_NoMemory();
	}
	self->label = def ? pgpy_pick_label(label, def) : NULL;
	if (!self->label || !(s = PyUnicode_AsUTF8(self->label))) {
		Py_DECREF(self);
		return NULL;
	}
	if (pgcm_producer_set_label(self->p, s) != PGCM_OK) {
		Py_DECREF(self);
		return PyErr_NoMemory();
	}
	return (PyObject *) self;
}

#define FORMAT_KWLIST "format", "header", "delimiter", "quote", "escape", "max_row", "label"

/* connection_producer_new: ConnectionProducer(connection, copy_to, ...). */
static PyObject *
connection_producer_new(PyTypeObject *type, PyObject *args, PyObject *kwargs)
{
	static char *kwlist[] = {"connection", "copy_to", "format", "header", "label", NULL};
	PyObject *conn, *sql, *format = NULL, *header = NULL, *label = NULL, *command;
	pgpy_producer *self;
	pgcm_format fmt;

	if (!PyArg_ParseTupleAndKeywords(args, kwargs, "OO|$OOO:ConnectionProducer", kwlist, &conn,
	                                 &sql, &format, &header, &label))
		return NULL;
	if (pgpy_parse_format(&fmt, format, header, NULL, NULL, NULL, NULL) < 0)
		return NULL;
	self = producer_alloc(type, PGPY_CONNECTION);
	if (!self)
		return NULL;
	if (pgpy_conn_init(&self->conn, conn) < 0
	    || !(command = pgpy_encode_sql(self->conn.ptr, sql, "copy_to"))) {
		Py_DECREF(self);
		return NULL;
	}
	self->p = pgcm_producer_pg(self->conn.ptr, PyBytes_AS_STRING(command));
	Py_DECREF(command);
	if (self->p && (format || header) && pgcm_producer_set_format(self->p, &fmt) != PGCM_OK) {
		Py_DECREF(self);
		return PyErr_NoMemory();
	}
	return producer_ready(self, label, pgpy_conn_label(&self->conn));
}

/*
 * file_producer_new: FileProducer(file, ...): a descriptor is read by the
 * library; a file object without a usable one through its read().
 */
static PyObject *
file_producer_new(PyTypeObject *type, PyObject *args, PyObject *kwargs)
{
	static char *kwlist[] = {"file", FORMAT_KWLIST, NULL};
	PyObject *file, *format = NULL, *header = NULL, *delim = NULL, *quote = NULL, *esc = NULL;
	PyObject *max_row = NULL, *label = NULL, *def;
	pgpy_producer *self;
	pgcm_format fmt;

	if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O|$OOOOOOO:FileProducer", kwlist, &file,
	                                 &format, &header, &delim, &quote, &esc, &max_row, &label))
		return NULL;
	if (pgpy_parse_format(&fmt, format, header, delim, quote, esc, max_row) < 0)
		return NULL;
	self = producer_alloc(type, PGPY_FD);
	if (!self)
		return NULL;
	Py_INCREF(file);
	self->source = file;
	if (PyLong_Check(file)) {
		self->fd = pgpy_fd_of(file);
		if (self->fd < 0) {
			Py_DECREF(self);
			return NULL;
		}
		def = PyUnicode_FromFormat("fd %d", self->fd);
	} else {
		PyObject *how = pgpy_adapt_call("file_source", "(O)", file);
		PyObject *read;
		if (!how || !PyArg_ParseTuple(how, "iO", &self->fd, &read)) {
			Py_XDECREF(how);
			Py_DECREF(self);
			return NULL;
		}
		self->file_object = self->fd >= 0;
		if (self->fd < 0) {
			self->kind = PGPY_PYTHON;
			self->read_method = 1;
			Py_INCREF(read);
			self->iter = read;
		}
		Py_DECREF(how);
		def = PyObject_Repr(file);
	}
	self->p = self->fd >= 0 ? pgcm_producer_fd(self->fd, &fmt)
	                        : pgcm_producer_fn(producer_read, self, &fmt);
	return producer_ready(self, label, def);
}

/*
 * iterable_producer_new: IterableProducer(iterable, ...); a bytes object is
 * refused, since iterating it yields ints.
 */
static PyObject *
iterable_producer_new(PyTypeObject *type, PyObject *args, PyObject *kwargs)
{
	static char *kwlist[] = {"iterable", FORMAT_KWLIST, NULL};
	PyObject *iterable, *format = NULL, *header = NULL, *delim = NULL, *quote = NULL;
	PyObject *esc = NULL, *max_row = NULL, *label = NULL;
	pgpy_producer *self;
	pgcm_format fmt;

	if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O|$OOOOOOO:IterableProducer", kwlist,
	                                 &iterable, &format, &header, &delim, &quote, &esc, &max_row,
	                                 &label))
		return NULL;
	if (PyBytes_Check(iterable) || PyByteArray_Check(iterable) || PyUnicode_Check(iterable)) {
		PyErr_Format(PyExc_TypeError,
		             "IterableProducer takes an iterable of bytes (e.g. [data]), not %.100s",
		             Py_TYPE(iterable)->tp_name);
		return NULL;
	}
	if (pgpy_parse_format(&fmt, format, header, delim, quote, esc, max_row) < 0)
		return NULL;
	self = producer_alloc(type, PGPY_PYTHON);
	if (!self)
		return NULL;
	Py_INCREF(iterable);
	self->source = iterable;
	self->iter = PyObject_GetIter(iterable);
	if (!self->iter) {
		Py_DECREF(self);
		return NULL;
	}
	self->p = pgcm_producer_fn(producer_read, self, &fmt);
	return producer_ready(self, label,
	                      PyUnicode_FromFormat("%.100s iterable", Py_TYPE(iterable)->tp_name));
}

/* null_producer_new: NullProducer(). */
static PyObject *
null_producer_new(PyTypeObject *type, PyObject *args, PyObject *kwargs)
{
	static char *kwlist[] = {"label", NULL};
	PyObject *label = NULL;
	pgpy_producer *self;

	if (!PyArg_ParseTupleAndKeywords(args, kwargs, "|$O:NullProducer", kwlist, &label))
		return NULL;
	self = producer_alloc(type, PGPY_NULL);
	if (!self)
		return NULL;
	self->p = pgcm_producer_null();
	return producer_ready(self, label, PyUnicode_FromString("null"));
}

static PyObject *
abstract_new(PyTypeObject *type, PyObject *args, PyObject *kwargs)
{
	(void) args;
	(void) kwargs;
	PyErr_Format(PyExc_TypeError,
	             "%.100s cannot be created directly: use ConnectionProducer, FileProducer, "
	             "IterableProducer or NullProducer", type->tp_name);
	return NULL;
}

static int
producer_traverse(pgpy_producer *self, visitproc visit, void *arg)
{
	Py_VISIT(self->conn.conn);
	Py_VISIT(self->conn.pgconn);
	Py_VISIT(self->source);
	Py_VISIT(self->iter);
	Py_VISIT(self->error);
	if (self->has_pending)
		Py_VISIT(self->pending.obj);
	return 0;
}

/*
 * producer_clear: break reference cycles.  While the producer belongs to a
 * live copy its connection (and file) stay: the copy's teardown still uses
 * the PGconn and the descriptor.
 */
static int
producer_clear(pgpy_producer *self)
{
	if (!self->manager) {
		pgpy_conn_clear(&self->conn);
		Py_CLEAR(self->source);
	}
	Py_CLEAR(self->iter);
	Py_CLEAR(self->error);
	if (self->has_pending) {
		PyBuffer_Release(&self->pending);
		self->has_pending = 0;
	}
	return 0;
}

static void
producer_dealloc(pgpy_producer *self)
{
	PyObject_GC_UnTrack(self);
	if (self->weakreflist)
		PyObject_ClearWeakRefs((PyObject *) self);
	if (!self->used)
		pgcm_producer_free(self->p);
	self->p = NULL;
	self->manager = NULL;
	producer_clear(self);
	Py_CLEAR(self->label);
	Py_TYPE(self)->tp_free((PyObject *) self);
}

static PyObject *
producer_repr(pgpy_producer *self)
{
	return PyUnicode_FromFormat("<%s %R>", Py_TYPE(self)->tp_name,
	                            self->label ? self->label : Py_None);
}

static PyObject *
producer_get_label(pgpy_producer *self, void *closure)
{
	(void) closure;
	if (!self->label)
		Py_RETURN_NONE;
	Py_INCREF(self->label);
	return self->label;
}

static PyObject *
producer_get_source(pgpy_producer *self, void *closure)
{
	PyObject *o = self->kind == PGPY_CONNECTION ? self->conn.conn : self->source;

	(void) closure;
	if (!o)
		Py_RETURN_NONE;
	Py_INCREF(o);
	return o;
}

static PyGetSetDef producer_getset[] = {
	{"label", (getter) producer_get_label, NULL,
	 "The name used in messages (a connection's host, port, dbname and user by default).", NULL},
	{"source", (getter) producer_get_source, NULL,
	 "The connection, file or iterable the data comes from (None for NullProducer).", NULL},
	{NULL, NULL, NULL, NULL, NULL}
};

PyDoc_STRVAR(producer_doc,
"Where COPY data comes from.  The kinds are ConnectionProducer, FileProducer,\n"
"IterableProducer and NullProducer.  A producer serves one copy.");

PyTypeObject pgpy_ProducerType = {
	PyVarObject_HEAD_INIT(NULL, 0)
	.tp_name = "pgcopyman.Producer",
	.tp_basicsize = sizeof(pgpy_producer),
	.tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC,
	.tp_doc = producer_doc,
	.tp_new = abstract_new,
	.tp_dealloc = (destructor) producer_dealloc,
	.tp_traverse = (traverseproc) producer_traverse,
	.tp_clear = (inquiry) producer_clear,
	.tp_repr = (reprfunc) producer_repr,
	.tp_getset = producer_getset,
	.tp_weaklistoffset = offsetof(pgpy_producer, weakreflist),
};

#define PRODUCER_KIND(cname, pyname, newfn, doc) \
	PGPY_SUBTYPE(cname, pyname, pgpy_ProducerType, pgpy_producer, newfn, producer_traverse, \
	             producer_clear, doc)

PRODUCER_KIND(pgpy_ConnectionProducerType, "ConnectionProducer", connection_producer_new,
"ConnectionProducer(connection, copy_to, *, format=None, header=None, label=None)\n--\n\n"
"Rows from a psycopg 3 connection's COPY ... TO STDOUT (copy_to).  The connection\n"
"stays yours: pgcopyman never commits, rolls back or closes it.  When it is not in\n"
"autocommit mode and has no transaction open, psycopg's transaction is begun when\n"
"the copy starts, as psycopg itself does before any command.  format='csv' with\n"
"header=True tells that the stream starts with a header line (binary is recognised\n"
"by itself).  Do not use the connection until the copy has ended.");

PRODUCER_KIND(pgpy_FileProducerType, "FileProducer", file_producer_new,
"FileProducer(file, *, format='text', header=None, delimiter=None, quote=None,\n"
"             escape=None, max_row=None, label=None)\n--\n\n"
"COPY data read from a file: a file descriptor (int), a file object opened in\n"
"binary mode ('rb'; read through its descriptor), or any object with read(n)\n"
"returning bytes.  format ('text', 'csv', 'binary') and the CSV options say how to\n"
"find the rows: the data may be cut anywhere.  max_row bounds the longest row\n"
"(default 1 GiB, the server's limit).  The file stays yours and is not closed.");

PRODUCER_KIND(pgpy_IterableProducerType, "IterableProducer", iterable_producer_new,
"IterableProducer(iterable, *, format='text', header=None, delimiter=None,\n"
"                 quote=None, escape=None, max_row=None, label=None)\n--\n\n"
"COPY data from a Python iterable (or iterator, or generator) of bytes-like items\n"
"in the given format.  Items may cut rows anywhere: the rows are found by the\n"
"library.  An exception raised by the iterable fails the copy (CopyFail, with the\n"
"exception as its producer_fault and cause).");

PRODUCER_KIND(pgpy_NullProducerType, "NullProducer", null_producer_new,
"NullProducer(*, label=None)\n--\n\nA producer of no rows.");

/* pgpy_endpoint_types_ready: the endpoint types, bases first, into the module. */
int
pgpy_endpoint_types_ready(PyObject *module)
{
	static const struct {
		PyTypeObject *type;
		const char *name;
	} types[] = {
		{&pgpy_ProducerType, "Producer"},
		{&pgpy_ConnectionProducerType, "ConnectionProducer"},
		{&pgpy_FileProducerType, "FileProducer"},
		{&pgpy_IterableProducerType, "IterableProducer"},
		{&pgpy_NullProducerType, "NullProducer"},
		{&pgpy_ReceiverType, "Receiver"},
		{&pgpy_ConnectionReceiverType, "ConnectionReceiver"},
		{&pgpy_FileReceiverType, "FileReceiver"},
		{&pgpy_CallableReceiverType, "CallableReceiver"},
		{&pgpy_NullReceiverType, "NullReceiver"},
	};

	for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
		if (PyType_Ready(types[i].type) < 0)
			return -1;
		Py_INCREF(types[i].type);
		if (PyModule_AddObject(module, types[i].name, (PyObject *) types[i].type) < 0) {
			Py_DECREF(types[i].type);
			return -1;
		}
	}
	return 0;
}
