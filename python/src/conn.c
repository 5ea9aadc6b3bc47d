/*
 * conn.c: a psycopg 3 connection as an endpoint's connection.  The PGconn is
 * taken through psycopg's pgconn_ptr; the connection object is kept alive
 * (it owns the PGconn) and stays the caller's.  The checks and the
 * transaction psycopg would begin live in pgcopyman._adapt.
 */
#include "pgcm_py.h"

/*
 * pgpy_conn_init: take the PGconn behind conn.  _adapt.pgconn_of() refuses
 * what is not a psycopg 3 connection, a closed one, and a psycopg whose libpq
 * is not the one this module is linked against.
 */
int
pgpy_conn_init(pgpy_conn *c, PyObject *conn)
{
	PyObject *res = pgpy_adapt_call("pgconn_of", "(O)", conn);
	PyObject *pgconn, *addr;
	void *ptr;

	if (!res)
		return -1;
	if (!PyArg_ParseTuple(res, "OO", &pgconn, &addr)) {
		Py_DECREF(res);
		return -1;
	}
	ptr = PyLong_AsVoidPtr(addr);
	if (!ptr) {
		if (!PyErr_Occurred())
			PyErr_SetString(pgpy.InterfaceError, "the connection is closed");
		Py_DECREF(res);
		return -1;
	}
	Py_INCREF(conn);
	Py_INCREF(pgconn);
	c->conn = conn;
	c->pgconn = pgconn;
	c->ptr = ptr;
	Py_DECREF(res);
	return 0;
}

/* pgpy_conn_label: "host=... port=... dbname=... user=..." (never a password). */
PyObject *
pgpy_conn_label(const pgpy_conn *c)
{
	const char *host = PQhost(c->ptr), *port = PQport(c->ptr);
	const char *db = PQdb(c->ptr), *user = PQuser(c->ptr);

	return PyUnicode_FromFormat("host=%s port=%s dbname=%s user=%s", host ? host : "",
	                            port ? port : "", db ? db : "", user ? user : "");
}

/*
 * pgpy_conn_open: psycopg's close() frees the PGconn and forgets its address;
 * a copy must see that before it touches the connection again.
 */
int
pgpy_conn_open(const pgpy_conn *c)
{
	PyObject *addr;
	void *ptr;

	if (!c->pgconn)
		return 0;
	addr = PyObject_GetAttrString(c->pgconn, "pgconn_ptr");
	if (!addr)
		return -1;
	ptr = addr == Py_None ? NULL : PyLong_AsVoidPtr(addr);
	Py_DECREF(addr);
	if (!ptr && PyErr_Occurred())
		return -1;
	return ptr == (void *) c->ptr;
}

int
pgpy_conn_prepare(const pgpy_conn *c, PyObject *label)
{
	PyObject *res = pgpy_adapt_call("prepare_connection", "(OOO)", c->conn, c->pgconn, label);

	if (!res)
		return -1;
	Py_DECREF(res);
	return 0;
}

void
pgpy_conn_clear(pgpy_conn *c)
{
	Py_CLEAR(c->conn);
	Py_CLEAR(c->pgconn);
	c->ptr = NULL;
}

int
pgpy_file_hook(PyObject *file, int begin, int writing)
{
	PyObject *res = begin ? pgpy_adapt_call("file_begin", "(Oi)", file, writing)
	                      : pgpy_adapt_call("file_end", "(O)", file);

	if (!res)
		return -1;
	Py_DECREF(res);
	return 0;
}

/*
 * pgpy_capture: the exception being raised, normalised, with its traceback,
 * taken off the thread (a new reference); NULL when none is set.
 */
PyObject *
pgpy_capture(void)
{
	PyObject *type, *value, *tb;

	PyErr_Fetch(&type, &value, &tb);
	if (!type)
		return NULL;
	PyErr_NormalizeException(&type, &value, &tb);
	if (tb && value)
		PyException_SetTraceback(value, tb);
	Py_XDECREF(type);
	Py_XDECREF(tb);
	return value;
}

/* pgpy_is_interrupt: exc is a BaseException that is not an Exception (Ctrl-C, exit). */
int
pgpy_is_interrupt(PyObject *exc)
{
	return exc && !PyObject_TypeCheck(exc, (PyTypeObject *) PyExc_Exception);
}

/* pgpy_fd_of: an int file descriptor, checked; -1 with an exception. */
int
pgpy_fd_of(PyObject *o)
{
	long fd = PyLong_AsLong(o);

	if (fd == -1 && PyErr_Occurred())
		return -1;
	if (fd < 0 || fd > INT_MAX) {
		PyErr_Format(PyExc_ValueError, "not a file descriptor: %ld", fd);
		return -1;
	}
	return (int) fd;
}

/* pgpy_pick_label: the caller's label (a str) or def; def is stolen.  A new reference or NULL. */
PyObject *
pgpy_pick_label(PyObject *label, PyObject *def)
{
	if (!label || label == Py_None)
		return def;
	Py_DECREF(def);
	if (!PyUnicode_Check(label)) {
		PyErr_Format(PyExc_TypeError, "label must be a str, got %.100s", Py_TYPE(label)->tp_name);
		return NULL;
	}
	Py_INCREF(label);
	return label;
}
