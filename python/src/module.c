/*
 * module.c: the module pgcopyman._pgcopyman: its types, the exception and
 * event classes it raises and yields (defined in Python, in
 * pgcopyman._errors and pgcopyman._events), the libpq it is linked against,
 * and the helpers every loop uses to wait without the GIL.
 */
#include "pgcm_py.h"

#include <dlfcn.h>
#include <errno.h>
#include <poll.h>
#include <stdarg.h>

pgpy_classes pgpy;

/* The adapter module, imported on first use (it needs the package loaded). */
static PyObject *adapt_module;

/* pgpy_status_name: the names errors carry in .status ("error" for a newer status). */
const char *
pgpy_status_name(pgcm_status st)
{
	switch (st) {
	case PGCM_OK: return "ok";
	case PGCM_DONE: return "done";
	case PGCM_AGAIN: return "again";
	case PGCM_FAULT: return "fault";
	case PGCM_ERR_ARG: return "arg";
	case PGCM_ERR_NOMEM: return "nomem";
	case PGCM_ERR_STATE: return "state";
	case PGCM_ERR_PRODUCER: return "producer";
	case PGCM_ERR_NO_RECEIVERS: return "no_receivers";
	case PGCM_ERR_ABORTED: return "aborted";
	case PGCM_ERR_ROWCOUNT: return "rowcount";
	case PGCM_ERR_REFUSED: return "refused";
	case PGCM_ERR_FORMAT: return "format";
	case PGCM_ERR_IO: return "io";
	case PGCM_ERR_CONNECTION: return "connection";
	case PGCM_ERR_SERVER: return "server";
	case PGCM_ERR_TIMEOUT: return "timeout";
	case PGCM_ERR_CALLBACK: return "callback";
	default: break; /* a status added to the library after this module */
	}
	return "error";
}

/*
 * pgpy_adapt_call: the psycopg and file glue is Python (pgcopyman._adapt),
 * imported on first use: the package is not loaded yet when this module is.
 */
PyObject *
pgpy_adapt_call(const char *name, const char *format, ...)
{
	PyObject *fn, *args, *res = NULL;
	va_list ap;

	if (!adapt_module) {
		adapt_module = PyImport_ImportModule("pgcopyman._adapt");
		if (!adapt_module)
			return NULL;
	}
	fn = PyObject_GetAttrString(adapt_module, name);
	if (!fn)
		return NULL;
	va_start(ap, format);
	args = Py_VaBuildValue(format, ap);
	va_end(ap);
	if (args && !PyTuple_Check(args)) {
		PyObject *t = PyTuple_Pack(1, args);
		Py_DECREF(args);
		args = t;
	}
	if (args)
		res = PyObject_Call(fn, args, NULL);
	Py_XDECREF(args);
	Py_DECREF(fn);
	return res;
}

/*
 * pgpy_poll: one wait of a loop that runs without the GIL.  The wait is
 * capped, so that a signal delivered to another thread (a Ctrl-C may land on
 * any thread; only the main thread runs Python's handlers) is seen soon: the
 * caller takes the GIL back after each wait and checks for signals.
 */
int
pgpy_poll(struct pollfd *fds, size_t n, int timeout_ms)
{
	if (timeout_ms < 0 || timeout_ms > PGPY_SIGNAL_CHECK_MS)
		timeout_ms = PGPY_SIGNAL_CHECK_MS;
	return poll(fds, (nfds_t) n, timeout_ms);
}

/*
 * pgpy_seconds_to_ms: Python speaks seconds, the library milliseconds.  A
 * positive time never rounds down to 0, which would mean "never" or "poll".
 */
int
pgpy_seconds_to_ms(PyObject *seconds, const char *what, int none_value)
{
	double s;
	int ms;

	if (!seconds || seconds == Py_None)
		return none_value;
	s = PyFloat_AsDouble(seconds);
	if (s == -1.0 && PyErr_Occurred())
		return -2;
	if (!(s >= 0.0) || s > 86400.0 * 24) {
		PyErr_Format(PyExc_ValueError, "%s must be between 0 and 24 days (in seconds), got %R",
		             what, seconds);
		return -2;
	}
	ms = (int) (s * 1000.0 + 0.5);
	return s > 0.0 && ms == 0 ? 1 : ms;
}

PyDoc_STRVAR(libpq_version_doc,
"libpq_version($module, /)\n--\n\n"
"The version of the libpq pgcopyman is linked against (PQlibVersion(): 150018 is 15.18).");

static PyObject *
libpq_version(PyObject *self, PyObject *noargs)
{
	(void) self;
	(void) noargs;
	return PyLong_FromLong(PQlibVersion());
}

/* our_libpq: the address of a libpq function, as the dynamic loader bound it for us. */
static void *
our_libpq(void)
{
	/* ISO C has no cast from a function pointer to void *; a union does it. */
	union {
		int (*fn)(void);
		void *addr;
	} pq = {.fn = PQlibVersion};

	return pq.addr;
}

/* library_path: the file of the shared object that holds addr. */
static PyObject *
library_path(void *addr)
{
	Dl_info info;

	if (!addr || !dladdr(addr, &info) || !info.dli_fname)
		Py_RETURN_NONE;
	return PyUnicode_DecodeFSDefault(info.dli_fname);
}

PyDoc_STRVAR(libpq_path_doc,
"libpq_path($module, /)\n--\n\n"
"The file of the libpq pgcopyman is linked against, as the dynamic loader found it.");

static PyObject *
libpq_path(PyObject *self, PyObject *noargs)
{
	(void) self;
	(void) noargs;
	return library_path(our_libpq());
}

PyDoc_STRVAR(libpq_address_doc,
"_libpq_address() -> int\n\n"
"Where PQlibVersion of pgcopyman's libpq is: another libpq has it elsewhere.");

static PyObject *
libpq_address(PyObject *self, PyObject *noargs)
{
	(void) self;
	(void) noargs;
	return PyLong_FromVoidPtr(our_libpq());
}

PyDoc_STRVAR(library_of_doc,
"_library_of(address) -> str | None\n\n"
"The file of the shared object that holds an address (dladdr).");

static PyObject *
library_of(PyObject *self, PyObject *address)
{
	void *addr = PyLong_AsVoidPtr(address);

	(void) self;
	if (!addr && PyErr_Occurred())
		return NULL;
	return library_path(addr);
}

PyDoc_STRVAR(transfer_doc,
"transfer(producer, *receivers, chunk_size=None, chunks=None, segment_size=None,\n"
"         stall_timeout=None, drain_timeout=None)\n--\n\n"
"Copy everything producer produces to every receiver, in one call:\n"
"CopyManager(producer, *receivers, **options).run().  Any fault fails the whole\n"
"copy (CopyFail): every target gets all rows or none.  Returns the rows and\n"
"bytes produced.");

static PyMethodDef module_methods[] = {
	{"transfer", (PyCFunction) (void (*)(void)) pgpy_transfer, METH_VARARGS | METH_KEYWORDS,
	 transfer_doc},
	{"libpq_version", libpq_version, METH_NOARGS, libpq_version_doc},
	{"libpq_path", libpq_path, METH_NOARGS, libpq_path_doc},
	{"_libpq_address", libpq_address, METH_NOARGS, libpq_address_doc},
	{"_library_of", library_of, METH_O, library_of_doc},
	{NULL, NULL, 0, NULL}
};

PyDoc_STRVAR(module_doc,
"The C core of pgcopyman: the copy manager, its producers and receivers, the\n"
"notifier and the listener, on libpgcopyman.  Import pgcopyman, not this.");

static struct PyModuleDef module_def = {
	PyModuleDef_HEAD_INIT,
	.m_name = "pgcopyman._pgcopyman",
	.m_doc = module_doc,
	.m_size = -1,
	.m_methods = module_methods,
};

/* get_classes: the Python classes the extension raises and yields. */
static int
get_classes(void)
{
	static const struct {
		const char *module, *name;
		PyObject **slot;
	} wanted[] = {
		{"pgcopyman._errors", "Error", &pgpy.Error},
		{"pgcopyman._errors", "InterfaceError", &pgpy.InterfaceError},
		{"pgcopyman._errors", "ProducerError", &pgpy.ProducerError},
		{"pgcopyman._errors", "ReceiverError", &pgpy.ReceiverError},
		{"pgcopyman._errors", "Fault", &pgpy.Fault},
		{"pgcopyman._errors", "CopyFail", &pgpy.CopyFail},
		{"pgcopyman._errors", "NotifyError", &pgpy.NotifyError},
		{"pgcopyman._events", "Notification", &pgpy.Notification},
		{"pgcopyman._events", "Event", &pgpy.Event},
	};

	for (size_t i = 0; i < sizeof wanted / sizeof wanted[0]; i++) {
		PyObject *mod = PyImport_ImportModule(wanted[i].module);
		if (!mod)
			return -1;
		*wanted[i].slot = PyObject_GetAttrString(mod, wanted[i].name);
		Py_DECREF(mod);
		if (!*wanted[i].slot)
			return -1;
	}
	return 0;
}

static int
add_type(PyObject *m, PyTypeObject *t, const char *name)
{
	if (PyType_Ready(t) < 0)
		return -1;
	Py_INCREF(t);
	if (PyModule_AddObject(m, name, (PyObject *) t) < 0) {
		Py_DECREF(t);
		return -1;
	}
	return 0;
}

PyMODINIT_FUNC PyInit__pgcopyman(void);

PyMODINIT_FUNC
PyInit__pgcopyman(void)
{
	PyObject *m;

	if (get_classes() < 0)
		return NULL;
	m = PyModule_Create(&module_def);
	if (!m)
		return NULL;
	if (pgpy_endpoint_types_ready(m) < 0
	    || add_type(m, &pgpy_ManagerType, "CopyManager") < 0
	    || add_type(m, &pgpy_NotifierType, "Notifier") < 0
	    || add_type(m, &pgpy_ListenerType, "Listener") < 0
	    || PyModule_AddStringConstant(m, "__version__", PGCM_VERSION) < 0) {
		Py_DECREF(m);
		return NULL;
	}
	return m;
}
