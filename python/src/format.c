/*
 * format.c: what Python callers say about COPY data (format="csv",
 * header=True, delimiter=";") turned into a pgcm_format, and text from the
 * server (channel names, payloads) decoded in the connection's encoding.
 */
#include "pgcm_py.h"

#include <string.h>
#include <strings.h>

/* one_char: a one-character ASCII str for a delimiter, quote or escape. */
static int
one_char(PyObject *v, const char *what, char *out)
{
	const char *s;
	Py_ssize_t n;

	if (!v || v == Py_None)
		return 0;
	if (!PyUnicode_Check(v)) {
		PyErr_Format(PyExc_TypeError, "%s must be a one-character str, got %.100s", what,
		             Py_TYPE(v)->tp_name);
		return -1;
	}
	s = PyUnicode_AsUTF8AndSize(v, &n);
	if (!s)
		return -1;
	if (n != 1 || (unsigned char) s[0] >= 0x80 || s[0] == '\n' || s[0] == '\r') {
		PyErr_Format(PyExc_ValueError,
		             "%s must be one ASCII character other than a newline, got %R", what, v);
		return -1;
	}
	*out = s[0];
	return 0;
}

/*
 * pgpy_parse_format: the keywords a file or iterable producer takes; options
 * that mean nothing for the format are refused rather than ignored.
 */
int
pgpy_parse_format(pgcm_format *fmt, PyObject *format, PyObject *header, PyObject *delimiter,
                  PyObject *quote, PyObject *escape, PyObject *max_row)
{
	pgcm_format_kind kind = PGCM_FORMAT_TEXT;

	if (format && format != Py_None) {
		const char *name = PyUnicode_Check(format) ? PyUnicode_AsUTF8(format) : NULL;
		if (!name) {
			if (!PyErr_Occurred())
				PyErr_Format(PyExc_TypeError,
				             "format must be 'text', 'csv' or 'binary', got %.100s",
				             Py_TYPE(format)->tp_name);
			return -1;
		}
		if (strcasecmp(name, "text") == 0)
			kind = PGCM_FORMAT_TEXT;
		else if (strcasecmp(name, "csv") == 0)
			kind = PGCM_FORMAT_CSV;
		else if (strcasecmp(name, "binary") == 0)
			kind = PGCM_FORMAT_BINARY;
		else {
			PyErr_Format(PyExc_ValueError, "format must be 'text', 'csv' or 'binary', got %R",
			             format);
			return -1;
		}
	}
	pgcm_format_init(fmt, kind);
	if (header && header != Py_None) {
		int h = PyObject_IsTrue(header);
		if (h < 0)
			return -1;
		if (h && kind != PGCM_FORMAT_CSV) {
			PyErr_SetString(PyExc_ValueError, "header=True is for format='csv' only");
			return -1;
		}
		fmt->header = h;
	}
	if (kind == PGCM_FORMAT_BINARY
	    && ((delimiter && delimiter != Py_None) || (quote && quote != Py_None)
	        || (escape && escape != Py_None))) {
		PyErr_SetString(PyExc_ValueError, "format='binary' has no delimiter, quote or escape");
		return -1;
	}
	if (kind == PGCM_FORMAT_TEXT
	    && ((quote && quote != Py_None) || (escape && escape != Py_None))) {
		PyErr_SetString(PyExc_ValueError, "quote and escape are for format='csv' only");
		return -1;
	}
	if (one_char(delimiter, "delimiter", &fmt->delimiter) < 0
	    || one_char(quote, "quote", &fmt->quote) < 0)
		return -1;
	fmt->escape = fmt->quote;
	if (one_char(escape, "escape", &fmt->escape) < 0)
		return -1;
	if (max_row && max_row != Py_None) {
		Py_ssize_t n = PyNumber_AsSsize_t(max_row, PyExc_OverflowError);
		if (n == -1 && PyErr_Occurred())
			return -1;
		if (n < 1) {
			PyErr_Format(PyExc_ValueError, "max_row must be at least 1 byte, got %zd", n);
			return -1;
		}
		fmt->max_row = (size_t) n;
	}
	return 0;
}

/* PostgreSQL's client encodings and Python's codecs for them. */
static const struct {
	const char *pg, *py;
} encodings[] = {
	{"UTF8", "utf-8"}, {"SQL_ASCII", "ascii"}, {"LATIN1", "iso8859-1"},
	{"LATIN2", "iso8859-2"}, {"LATIN3", "iso8859-3"}, {"LATIN4", "iso8859-4"},
	{"LATIN5", "iso8859-9"}, {"LATIN6", "iso8859-10"}, {"LATIN7", "iso8859-13"},
	{"LATIN8", "iso8859-14"}, {"LATIN9", "iso8859-15"}, {"LATIN10", "iso8859-16"},
	{"ISO_8859_5", "iso8859-5"}, {"ISO_8859_6", "iso8859-6"}, {"ISO_8859_7", "iso8859-7"},
	{"ISO_8859_8", "iso8859-8"}, {"WIN866", "cp866"}, {"WIN874", "cp874"},
	{"WIN1250", "cp1250"}, {"WIN1251", "cp1251"}, {"WIN1252", "cp1252"},
	{"WIN1253", "cp1253"}, {"WIN1254", "cp1254"}, {"WIN1255", "cp1255"},
	{"WIN1256", "cp1256"}, {"WIN1257", "cp1257"}, {"WIN1258", "cp1258"},
	{"KOI8R", "koi8-r"}, {"KOI8U", "koi8-u"}, {"BIG5", "big5"}, {"EUC_CN", "gb2312"},
	{"EUC_JP", "euc_jp"}, {"EUC_JIS_2004", "euc_jis_2004"}, {"EUC_KR", "euc_kr"},
	{"GB18030", "gb18030"}, {"GBK", "gbk"}, {"JOHAB", "johab"}, {"SJIS", "shift_jis"},
	{"SHIFT_JIS_2004", "shift_jis_2004"}, {"UHC", "cp949"},
};

/* codec_of: the Python codec for conn's client encoding. */
static const char *
codec_of(PGconn *conn)
{
	const char *pg = conn ? PQparameterStatus(conn, "client_encoding") : NULL;

	for (size_t i = 0; pg && i < sizeof encodings / sizeof encodings[0]; i++)
		if (strcmp(pg, encodings[i].pg) == 0)
			return encodings[i].py;
	return "utf-8";
}

/*
 * pgpy_decode: the server sends names and payloads in the connection's
 * client encoding.  Bytes that do not decode are kept as surrogates
 * (surrogateescape), so nothing is lost and iteration never fails on them.
 */
PyObject *
pgpy_decode(PGconn *conn, const char *s)
{
	PyObject *out;

	if (!s)
		s = "";
	out = PyUnicode_Decode(s, (Py_ssize_t) strlen(s), codec_of(conn), "surrogateescape");
	if (!out && PyErr_ExceptionMatches(PyExc_LookupError)) {
		PyErr_Clear();
		out = PyUnicode_DecodeUTF8(s, (Py_ssize_t) strlen(s), "surrogateescape");
	}
	return out;
}

/*
 * pgpy_encode_sql: a statement for conn, as bytes: a str is encoded in the
 * connection's client encoding (what the server reads it as), bytes are
 * taken as they are.  A NUL byte cannot be sent and is refused.
 */
PyObject *
pgpy_encode_sql(PGconn *conn, PyObject *sql, const char *what)
{
	PyObject *b;

	if (PyBytes_Check(sql)) {
		b = sql;
		Py_INCREF(b);
	} else if (PyUnicode_Check(sql)) {
		b = PyUnicode_AsEncodedString(sql, codec_of(conn), "strict");
		if (!b)
			return NULL;
	} else {
		PyErr_Format(PyExc_TypeError, "%s must be a str, got %.100s", what, Py_TYPE(sql)->tp_name);
		return NULL;
	}
	if (memchr(PyBytes_AS_STRING(b), '\0', (size_t) PyBytes_GET_SIZE(b))) {
		Py_DECREF(b);
		PyErr_Format(PyExc_ValueError, "%s contains a NUL character", what);
		return NULL;
	}
	return b;
}
