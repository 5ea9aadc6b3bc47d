/*
 * notify_wait.c: what the notifier and the listener share: the wait for the
 * next event (without the GIL, looking for signals between polls, so Ctrl-C
 * interrupts an idle iteration), and the Notification and Event objects made
 * from the library's events.
 */
#include "pgcm_py.h"

#include <string.h>

/*
 * pgpy_wait_event: step until an event (or an error) comes, polling meanwhile with
 * the GIL released.  Returns the step's status; -1 when a signal handler
 * raised (the exception is set) or out of memory.
 */
int
pgpy_wait_event(const waiter_ops *ops, void *h, pollset *ps, pgcm_notify_event *ev)
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

/* pgpy_queue_batch: one Notification per notification of a batch, onto queue. */
int
pgpy_queue_batch(PyObject *queue, const pgcm_notify_event *ev, PGconn *conn, PyObject *owner)
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

/* pgpy_pop_queued: the next queued notification, or NULL (no exception) when none. */
PyObject *
pgpy_pop_queued(PyObject *queue, Py_ssize_t *pos)
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

PyObject *
pgpy_make_event(const char *kind, const char *message, PyObject *conn)
{
	return PyObject_CallFunction(pgpy.Event, "szO", kind, message, conn ? conn : Py_None);
}

/* pgpy_notify_error: raise NotifyError(message, status=...) (MemoryError when out of memory). */
PyObject *
pgpy_notify_error(const char *message, pgcm_status st)
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

/* pgpy_parse_idle: idle=None (no idle events), 0 (poll mode) or seconds. */
int
pgpy_parse_idle(PyObject *idle)
{
	return pgpy_seconds_to_ms(idle, "idle", -1);
}

/* pgpy_self_iter: __iter__ of an iterator. */
PyObject *
pgpy_self_iter(PyObject *self)
{
	Py_INCREF(self);
	return self;
}

