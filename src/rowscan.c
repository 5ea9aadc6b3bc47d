/*
 * rowscan.c: row boundaries in text, CSV and binary COPY streams: the entry
 * points; text and CSV are in rowscan_lines.c, binary in rowscan_binary.c.
 *
 * A file or callback producer reads COPY data in pieces cut anywhere; it must
 * hand its receivers whole rows only.  This scanner finds where each unit (the
 * header, a row, the end marker) ends, byte for byte as PostgreSQL 15's COPY
 * FROM parser (copyfromparse.c, CopyReadLineText and the binary readers)
 * decides it, so that a stream we cut is a stream the server would cut in the
 * same places.  It never copies or buffers data: its state is a handful of
 * integers, so its memory is fixed whatever the input.
 *
 * Text and CSV are a byte-level state machine (line_step, data_byte) driven by
 * a fast loop that uses memchr to jump over every byte that cannot change the
 * state: in text only newline, carriage return and backslash matter; in CSV
 * outside quotes newline, carriage return and the quote; inside quotes the
 * quote and the escape.  Binary skips field bodies by their lengths.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "rowscan_int.h"

/*
 * pgcm__rowscan_fail: record an error at absolute byte offset at and make the
 * scanner report it from now on.  Messages name the unit (the header, or the
 * 1-based data row being scanned) and the byte, so that a user can find the
 * place in a multi-gigabyte file.  Returns STEP_ERROR for the byte-level
 * callers.
 */
int
pgcm__rowscan_fail(pgcm__rowscan *s, uint64_t at, const char *fmt, ...)
{
	char msg[160];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (s->flags & F_HEADER)
		snprintf(s->error, sizeof s->error, "header (byte %llu): %s",
		         (unsigned long long) at, msg);
	else
		snprintf(s->error, sizeof s->error, "row %llu (byte %llu): %s",
		         (unsigned long long) s->rows + 1, (unsigned long long) at, msg);
	s->state = RS_ERROR;
	return STEP_ERROR;
}

/*
 * pgcm__rowscan_init: start a stream.  A format the scanner cannot honour (a
 * CSV quote that is a line ending, an unknown kind) is reported as an error by
 * the first call, since the signature has no way to refuse it here.
 */
void
pgcm__rowscan_init(pgcm__rowscan *s, const pgcm_format *fmt)
{
	memset(s, 0, sizeof *s);
	s->fmt = *fmt;
	s->max_row = fmt->max_row ? (uint64_t) fmt->max_row : DEFAULT_MAX_ROW;
	s->first_nfields = -1;
	switch (fmt->kind) {
	case PGCM_FORMAT_BINARY:
		s->state = RS_B_SIG;
		s->flags = F_HEADER;
		break;
	case PGCM_FORMAT_CSV:
		s->state = RS_L_DATA;
		s->flags = F_CSV | F_LINE_START | (fmt->header ? F_HEADER : 0);
		/* An escape of 0 means "the same as the quote", the default. */
		if (fmt->escape != '\0' && fmt->escape != fmt->quote)
			s->flags |= F_HAS_ESC | ((unsigned char) fmt->escape << ESC_SHIFT);
		/* A quote that is a line ending would make the quoting rules ambiguous. */
		if (fmt->quote == '\n' || fmt->quote == '\r')
			pgcm__rowscan_fail(s, 0,
			                   "invalid format: the CSV quote cannot be a newline or carriage return");
		break;
	case PGCM_FORMAT_TEXT:
		s->state = RS_L_DATA;
		s->flags = fmt->header ? F_HEADER : 0;
		break;
	default:
		pgcm__rowscan_fail(s, 0, "invalid format: unknown COPY format kind %d", (int) fmt->kind);
		break;
	}
}

/*
 * pgcm__rowscan_next: one unit per call, so that the caller can cut its
 * chunk at each boundary.  Errors are sticky: once malformed, a stream stays
 * so, and every later call says why.
 */
pgcm__scan_kind
pgcm__rowscan_next(pgcm__rowscan *s, const char *buf, size_t len, size_t *pos)
{
	if (s->state == RS_ERROR)
		return PGCM__SCAN_ERROR;
	if (*pos > len) {
		pgcm__rowscan_fail(s, s->offset,
		                   "internal error: scan position %zu past the end %zu", *pos, len);
		return PGCM__SCAN_ERROR;
	}
	if (s->fmt.kind == PGCM_FORMAT_BINARY)
		return pgcm__rowscan_binary(s, buf, len, pos);
	return pgcm__rowscan_lines(s, buf, len, pos);
}

/*
 * pgcm__rowscan_eof: usually MORE (clean), ROW (a last line without its
 * terminator) or ERROR; also HEADER when the input is only a header line
 * without its terminator, and END for a first line "\." CR at the very end.
 * A second call after a unit returns MORE.
 */
pgcm__scan_kind
pgcm__rowscan_eof(pgcm__rowscan *s)
{
	if (s->state == RS_ERROR)
		return PGCM__SCAN_ERROR;
	if (s->fmt.kind == PGCM_FORMAT_BINARY)
		return pgcm__rowscan_binary_eof(s);
	s->unit_start = s->cur_start;
	return pgcm__rowscan_lines_eof(s);
}
