/*
 * failure.c: the exceptions a copy raises, built from the library's fault
 * records and failure report: ReceiverError for one receiver, Fault for the
 * receivers of one cycle, CopyFail for a copy that did not complete.  What a
 * Python callable or iterable raised becomes the cause, and its text the
 * message, instead of the library's "the callback failed".
 */
#include "pgcm_py.h"

#include <stdlib.h>

void
pgpy_set_cause(PyObject *exc, PyObject *cause)
{
	if (exc && cause && cause != Py_None) {
		Py_INCREF(cause);
		PyException_SetCause(exc, cause);
	}
}

/* describe: "TypeName: text" of a Python exception. */
static PyObject *
describe(PyObject *exc)
{
	PyObject *s = PyObject_Str(exc);
	PyObject *out;

	if (!s)
		return NULL;
	if (PyUnicode_GetLength(s) > 0)
		out = PyUnicode_FromFormat("%s: %U", Py_TYPE(exc)->tp_name, s);
	else
		out = PyUnicode_FromString(Py_TYPE(exc)->tp_name);
	Py_DECREF(s);
	return out;
}

/* receiver_of: the receiver object at the library's index. */
static pgpy_receiver *
receiver_of(pgpy_manager *m, size_t index)
{
	if (index >= (size_t) PyTuple_GET_SIZE(m->receivers))
		return NULL;
	return (pgpy_receiver *) PyTuple_GET_ITEM(m->receivers, (Py_ssize_t) index);
}

/*
 * pgpy_receiver_error_new: one library fault as a ReceiverError.  For a
 * callable that raised, its exception is the cause and its text the message.
 */
PyObject *
pgpy_receiver_error_new(pgpy_manager *m, const pgcm_fault *f)
{
	pgpy_receiver *rx = receiver_of(m, f->index);
	PyObject *message, *kwargs, *args, *sqlstate, *row, *exc = NULL;

	if (!rx) {
		PyErr_SetString(PyExc_SystemError, "a fault names an unknown receiver");
		return NULL;
	}
	if (rx->error && f->status == PGCM_ERR_CALLBACK) {
		PyObject *what = describe(rx->error);
		message = what ? PyUnicode_FromFormat("%s: %U", pgcm_receiver_label(f->receiver), what)
		               : NULL;
		Py_XDECREF(what);
	} else {
		message = PyUnicode_FromString(f->message);
	}
	if (!message)
		return NULL;
	sqlstate = f->sqlstate[0] ? PyUnicode_FromString(f->sqlstate) : Py_NewRef(Py_None);
	row = f->row ? PyLong_FromUnsignedLongLong(f->row) : Py_NewRef(Py_None);
	kwargs = sqlstate && row
	         ? Py_BuildValue("{sOsssOsOsO}", "receiver", (PyObject *) rx, "status",
	                         pgpy_status_name(f->status), "sqlstate", sqlstate, "row", row,
	                         "reconcilable", f->reconcilable ? Py_True : Py_False)
	         : NULL;
	args = PyTuple_Pack(1, message);
	if (kwargs && args)
		exc = PyObject_Call(pgpy.ReceiverError, args, kwargs);
	Py_XDECREF(args);
	Py_XDECREF(kwargs);
	Py_XDECREF(sqlstate);
	Py_XDECREF(row);
	Py_DECREF(message);
	if (exc && rx->error && f->status == PGCM_ERR_CALLBACK)
		pgpy_set_cause(exc, rx->error);
	return exc;
}

/* fault_dict: receiver -> ReceiverError for faults[0..n); a receiver's last fault wins. */
static PyObject *
fault_dict(pgpy_manager *m, const pgcm_fault *faults, size_t n, int skip_done)
{
	PyObject *d = PyDict_New();

	for (size_t i = 0; d && i < n; i++) {
		pgpy_receiver *rx = receiver_of(m, faults[i].index);
		PyObject *e;

		/* A receiver that was reconciled and then completed has no fault to report. */
		if (skip_done && rx && rx->r && pgcm_receiver_get_state(rx->r) == PGCM_RECEIVER_DONE)
			continue;
		e = pgpy_receiver_error_new(m, &faults[i]);
		if (!e || PyDict_SetItem(d, (PyObject *) rx, e) < 0) {
			Py_XDECREF(e);
			Py_CLEAR(d);
			break;
		}
		Py_DECREF(e);
	}
	return d;
}

/* pgpy_fault_new: the Fault of the last cycle. */
PyObject *
pgpy_fault_new(pgpy_manager *m)
{
	size_t n = pgcm_copy_faults(m->copy, NULL, 0);
	pgcm_fault *faults = PyMem_Calloc(n ? n : 1, sizeof *faults);
	PyObject *d, *exc = NULL;

	if (!faults)
		return PyErr_NoMemory();
	n = pgcm_copy_faults(m->copy, faults, n);
	d = fault_dict(m, faults, n, 0);
	PyMem_Free(faults);
	if (d)
		exc = PyObject_CallFunctionObjArgs(pgpy.Fault, (PyObject *) m, d, NULL);
	Py_XDECREF(d);
	return exc;
}

/*
 * pgpy_copyfail_new: CopyFail for a failed copy.  Its strings come from the
 * report, which lives in the copy: call this before the copy is freed.
 */
PyObject *
pgpy_copyfail_new(pgpy_manager *m, const pgcm_failure *failure, PyObject *cause)
{
	pgpy_producer *p = (pgpy_producer *) m->producer;
	PyObject *reason = NULL, *faults = NULL, *pfault = NULL, *kwargs = NULL, *args = NULL;
	PyObject *exc = NULL;

	if (p->error && failure->status == PGCM_ERR_PRODUCER) {
		PyObject *what = describe(p->error);
		reason = what ? PyUnicode_FromFormat("producer %U failed: %U", p->label, what) : NULL;
		Py_XDECREF(what);
	} else if (cause && cause != Py_None) {
		/* The exception that left the block says more than "aborted". */
		const char *r = failure->reason ? failure->reason : pgcm_strerror(failure->status);
		PyObject *what = describe(cause);
		reason = what ? PyUnicode_FromFormat("%s: %U", r, what) : NULL;
		Py_XDECREF(what);
	} else {
		const char *r = failure->reason ? failure->reason : pgcm_copy_errmsg(m->copy);
		reason = PyUnicode_FromString(r[0] ? r : pgcm_strerror(failure->status));
	}
	if (!reason)
		goto cleanup;
	faults = fault_dict(m, failure->faults, failure->nfaults, 1);
	if (!faults)
		goto cleanup;
	if (p->error) {
		pfault = Py_NewRef(p->error);
	} else if (failure->producer_error && failure->status == PGCM_ERR_PRODUCER) {
		/* (After an abort the producer's error is its cancellation: not a fault.) */
		const char *ss = failure->producer_sqlstate;
		PyObject *sqlstate = ss && ss[0] ? PyUnicode_FromString(ss) : Py_NewRef(Py_None);
		PyObject *kw = sqlstate ? Py_BuildValue("{sssO}", "status",
		                                        pgpy_status_name(failure->status), "sqlstate",
		                                        sqlstate)
		                        : NULL;
		PyObject *a = Py_BuildValue("(s)", failure->producer_error);
		pfault = kw && a ? PyObject_Call(pgpy.ProducerError, a, kw) : NULL;
		Py_XDECREF(kw);
		Py_XDECREF(a);
		Py_XDECREF(sqlstate);
		if (!pfault)
			goto cleanup;
	} else {
		pfault = Py_NewRef(Py_None);
	}
	kwargs = Py_BuildValue("{sssOsO}", "status", pgpy_status_name(failure->status),
	                       "receiver_faults", faults, "producer_fault", pfault);
	args = Py_BuildValue("(OO)", (PyObject *) m, reason);
	if (kwargs && args)
		exc = PyObject_Call(pgpy.CopyFail, args, kwargs);
	if (exc)
		pgpy_set_cause(exc, cause && cause != Py_None ? cause : p->error);
cleanup:
	Py_XDECREF(args);
	Py_XDECREF(kwargs);
	Py_XDECREF(pfault);
	Py_XDECREF(faults);
	Py_XDECREF(reason);
	return exc;
}
