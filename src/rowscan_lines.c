/*
 * rowscan_lines.c: row boundaries in text and CSV COPY streams.
 *
 * A byte-level state machine (line_step, data_byte) driven by a fast loop
 * that uses memchr to jump over every byte that cannot change the state: in
 * text only newline, carriage return and backslash matter; in CSV outside
 * quotes newline, carriage return and the quote; inside quotes the quote and
 * the escape.  Lines are cut as PostgreSQL 15's CopyReadLineText does.
 */
#include <string.h>

#include "rowscan_int.h"

/*
 * line_finish: a text or CSV line ended at absolute offset end.  It is the
 * header when one is due, the end marker when it was "\." alone, and a row
 * otherwise; a text line with data before its "\." is a row (or the header)
 * after which the data ends, as the server takes it.
 */
static pgcm__scan_kind
line_finish(pgcm__rowscan *s, uint64_t end)
{
	pgcm__scan_kind kind;
	int flags = s->flags;
	int marker = flags & F_MARKER;

	if (marker && !(flags & F_DOT_DATA))
		kind = PGCM__SCAN_END;
	else if (flags & F_HEADER)
		kind = PGCM__SCAN_HEADER;
	else
		kind = PGCM__SCAN_ROW;
	kind = pgcm__rowscan_finish(s, kind, end);
	if (kind == PGCM__SCAN_ERROR)
		return kind;
	s->flags = (flags & ~UNIT_FLAGS) | ((flags & F_CSV) ? F_LINE_START : 0);
	s->state = marker ? RS_L_END : RS_L_DATA;
	if (marker)
		s->ended = 1;
	return kind;
}

/*
 * data_byte: one byte of a line in the plain state, in the order the server
 * tests it: CSV quote and escape bookkeeping first, then an unquoted CR or
 * LF (a line end, or an error when it contradicts the first line's ending),
 * then a backslash (anywhere in text, only at a line's start in CSV).  The
 * fast loop calls it only for bytes that can matter.
 */
static int
data_byte(pgcm__rowscan *s, int c, uint64_t at)
{
	int flags = s->flags;
	int line_start = flags & F_LINE_START;
	int csv = flags & F_CSV;

	flags &= ~F_LINE_START;
	if (csv) {
		int esc = (flags & F_HAS_ESC) ? (flags >> ESC_SHIFT) & 0xff : -1;

		if ((flags & F_IN_QUOTE) && c == esc)
			flags ^= F_ESCAPED;
		if (c == (unsigned char) s->fmt.quote && !(flags & F_ESCAPED))
			flags ^= F_IN_QUOTE;
		if (c != esc)
			flags &= ~F_ESCAPED;
	}
	s->flags = flags;
	/* Inside quotes CR and LF are data (but a backslash that opened them still counts). */
	if (c == '\r' && !(flags & F_IN_QUOTE)) {
		if (s->eol == RS_EOL_UNKNOWN || s->eol == RS_EOL_CRNL) {
			s->state = RS_L_CR;     /* CR LF or CR alone: the next byte says */
			return STEP_CONT;
		}
		if (s->eol == RS_EOL_NL)
			return pgcm__rowscan_fail(s, at, csv ? "unquoted carriage return found in data"
			                          : "literal carriage return found in data");
		return STEP_INCL;
	}
	if (c == '\n' && !(flags & F_IN_QUOTE)) {
		if (s->eol == RS_EOL_CR || s->eol == RS_EOL_CRNL)
			return pgcm__rowscan_fail(s, at, csv ? "unquoted newline found in data"
			                          : "literal newline found in data");
		s->eol = RS_EOL_NL;
		return STEP_INCL;
	}
	if (c == '\\' && (!csv || line_start))
		s->state = csv ? RS_L_LS_BS : RS_L_BS;
	return STEP_CONT;
}

static int line_step(pgcm__rowscan *s, int c, uint64_t at);

/*
 * not_marker: in CSV a "\." that is not alone on its line is data.  The
 * server backs up to just after the backslash and reads on; we cannot back
 * up across pieces, but we know the bytes we passed ("." and, with CR LF
 * endings, a CR), so we run them through the plain state before byte c.
 */
static int
not_marker(pgcm__rowscan *s, int c, uint64_t at, int had_cr)
{
	int r;

	s->state = RS_L_DATA;
	r = data_byte(s, '.', at - 1 - (uint64_t) had_cr);
	if (r == STEP_CONT && had_cr)
		r = data_byte(s, '\r', at - 1);
	if (r != STEP_CONT)
		return r;
	return line_step(s, c, at);
}

/*
 * dot_byte: the byte after "\.".  Only the line ending the first line set
 * completes the marker; in text anything else is an error, in CSV it makes
 * the "\." data, except a line ending of the other style, which the server
 * rejects in both modes.
 */
static int
dot_byte(pgcm__rowscan *s, int c, uint64_t at)
{
	int csv = s->flags & F_CSV;

	if (s->eol == RS_EOL_CRNL) {
		if (c == '\r') {
			s->state = RS_L_DOT_CR;
			return STEP_CONT;
		}
		if (!csv)
			return pgcm__rowscan_fail(s, at, c == '\n'
			                          ? "end-of-copy marker does not match previous newline style"
			                          : "end-of-copy marker corrupt");
		return not_marker(s, c, at, 0);
	}
	if (c == '\r' || c == '\n') {
		if (s->eol != RS_EOL_UNKNOWN && (s->eol == RS_EOL_NL) != (c == '\n'))
			return pgcm__rowscan_fail(s, at,
			                          "end-of-copy marker does not match previous newline style");
		s->flags |= F_MARKER;
		if (s->eol == RS_EOL_UNKNOWN && c == '\r') {
			/* The server stops at the CR; take a following LF along. */
			s->state = RS_L_END_CR;
			return STEP_CONT;
		}
		return STEP_INCL;
	}
	if (!csv)
		return pgcm__rowscan_fail(s, at, "end-of-copy marker corrupt");
	return not_marker(s, c, at, 0);
}

/*
 * line_step: one byte of a text or CSV line in any state.  This is the
 * reference behaviour; the fast loop in scan_lines only skips bytes that
 * this function would pass over without a change.
 */
static int
line_step(pgcm__rowscan *s, int c, uint64_t at)
{
	int csv = s->flags & F_CSV;

	switch (s->state) {
	case RS_L_DATA:
		return data_byte(s, c, at);
	case RS_L_BS:
		s->state = RS_L_DATA;
		if (c == '.') {
			if (at - 1 > s->cur_start)
				s->flags |= F_DOT_DATA;
			s->state = RS_L_DOT;
		}
		return STEP_CONT;   /* any other byte is escaped, even CR or LF */
	case RS_L_LS_BS:
		if (c == '.') {
			s->state = RS_L_DOT;
			return STEP_CONT;
		}
		s->state = RS_L_DATA;
		return data_byte(s, c, at);
	case RS_L_DOT:
		return dot_byte(s, c, at);
	case RS_L_DOT_CR:
		if (c == '\n') {
			s->flags |= F_MARKER;
			return STEP_INCL;
		}
		if (c == '\r')
			return pgcm__rowscan_fail(s, at,
			                          "end-of-copy marker does not match previous newline style");
		if (!csv)
			return pgcm__rowscan_fail(s, at, "end-of-copy marker corrupt");
		return not_marker(s, c, at, 1);
	case RS_L_END_CR:
		return c == '\n' ? STEP_INCL : STEP_EXCL;
	case RS_L_CR:
		s->state = RS_L_DATA;
		if (c == '\n') {
			s->eol = RS_EOL_CRNL;
			return STEP_INCL;
		}
		if (s->eol == RS_EOL_CRNL)
			return pgcm__rowscan_fail(s, at - 1, csv ? "unquoted carriage return found in data"
			                          : "literal carriage return found in data");
		s->eol = RS_EOL_CR;
		return STEP_EXCL;
	case RS_L_END:
		return pgcm__rowscan_fail(s, at, "data after the end-of-copy marker");
	default:
		return pgcm__rowscan_fail(s, at, "internal error: scanner state %d", s->state);
	}
}

/* find: the first c in [p, lim), or lim. */
static inline const char *
find(const char *p, const char *lim, int c)
{
	const char *r = memchr(p, c, (size_t) (lim - p));

	return r ? r : lim;
}

/*
 * pgcm__rowscan_lines: text and CSV.  The loop jumps with memchr from one
 * byte that matters to the next.  Each search is bounded by the next line
 * terminator (or, inside CSV quotes, by the closing quote), so that returning
 * one row per call costs time in proportion to the row, not to the
 * buffer.  The search results are remembered for the call (a result at or
 * after p is still true); the others are bounded by t_at, so they are
 * searched again whenever t_at is.
 */
pgcm__scan_kind
pgcm__rowscan_lines(pgcm__rowscan *s, const char *buf, size_t len, size_t *pos)
{
	const char *p = buf + *pos;
	const char *end = buf + len;
	uint64_t base = s->offset - *pos;
	int csv = s->flags & F_CSV;
	int quote = (unsigned char) s->fmt.quote;
	const char *t_at = NULL, *b_at = NULL, *x_at = NULL, *q_at = NULL;
	const char *iq_at = NULL, *ie_at = NULL;
	int r;

	while (p < end) {
		if (s->state != RS_L_DATA || (s->flags & (F_LINE_START | F_ESCAPED))) {
			r = line_step(s, (unsigned char) *p, base + (uint64_t) (p - buf));
		} else {
			int t = s->eol == RS_EOL_CR ? '\r' : '\n';
			int x = t == '\n' ? '\r' : '\n';
			const char *sp;

			if (!csv) {
				if (!t_at || t_at < p)
					t_at = find(p, end, t);
				if (!b_at || b_at < p)
					b_at = find(p, t_at, '\\');
				if (!x_at || x_at < p)
					x_at = find(p, t_at, x);
				sp = x_at < b_at ? x_at : b_at;
				if (sp == end)
					break;
				p = sp;
				/* An escape pair that is not "\.": skip it whole. */
				if (*p == '\\' && p + 1 < end && p[1] != '.') {
					p += 2;
					continue;
				}
			} else if (!(s->flags & F_IN_QUOTE)) {
				if (!t_at || t_at < p)
					t_at = find(p, end, t);
				if (!q_at || q_at < p)
					q_at = find(p, t_at, quote);
				if (!x_at || x_at < p)
					x_at = find(p, t_at, x);
				sp = x_at < q_at ? x_at : q_at;
				if (sp == end)
					break;
				p = sp;
			} else {
				if (!iq_at || iq_at < p)
					iq_at = find(p, end, quote);
				sp = iq_at;
				if (s->flags & F_HAS_ESC) {
					if (!ie_at || ie_at < p)
						ie_at = find(p, iq_at, (s->flags >> ESC_SHIFT) & 0xff);
					sp = ie_at;
				}
				if (sp == end)
					break;
				p = sp;
			}
			r = data_byte(s, (unsigned char) *p, base + (uint64_t) (p - buf));
		}
		switch (r) {
		case STEP_CONT:
			p++;
			continue;
		case STEP_INCL:
			p++;
			/* fall through */
		case STEP_EXCL:
			*pos = (size_t) (p - buf);
			s->offset = base + *pos;
			return line_finish(s, s->offset);
		default:
			*pos = (size_t) (p - buf);
			s->offset = base + *pos;
			s->unit_start = s->cur_start;
			return PGCM__SCAN_ERROR;
		}
	}
	return pgcm__rowscan_more(s, base, len, pos);
}


/*
 * pgcm__rowscan_lines_eof: the end of text or CSV input.  The server reads a
 * pending look-ahead byte as NUL at the end: a "\." then is corrupt in text
 * and data in CSV, a CR after the first line ends it, and a last line without
 * its terminator is a row.  An open quote is an error, except in a header
 * line, which the server discards without parsing it.
 */
pgcm__scan_kind
pgcm__rowscan_lines_eof(pgcm__rowscan *s)
{
	int csv = s->flags & F_CSV;

	for (;;) {
		switch (s->state) {
		case RS_L_DOT:
		case RS_L_DOT_CR:
			if (!csv) {
				pgcm__rowscan_fail(s, s->offset, "end-of-copy marker corrupt");
				return PGCM__SCAN_ERROR;
			}
			if (s->state == RS_L_DOT_CR) {
				s->state = RS_L_DATA;
				data_byte(s, '.', s->offset - 2);
				if (data_byte(s, '\r', s->offset - 1) == STEP_ERROR)
					return PGCM__SCAN_ERROR;
			} else {
				s->state = RS_L_DATA;
				data_byte(s, '.', s->offset - 1);
			}
			continue;
		case RS_L_CR:
			if (s->eol == RS_EOL_CRNL) {
				pgcm__rowscan_fail(s, s->offset - 1,
				                   csv ? "unquoted carriage return found in data"
				                   : "literal carriage return found in data");
				return PGCM__SCAN_ERROR;
			}
			s->eol = RS_EOL_CR;
			s->state = RS_L_DATA;
			return line_finish(s, s->offset);
		case RS_L_END_CR:
			return line_finish(s, s->offset);
		case RS_L_BS:
		case RS_L_LS_BS:
			s->state = RS_L_DATA;  /* a backslash just before the end is data */
			/* fall through */
		case RS_L_DATA:
			/* The server throws a header line away unparsed, open quote or not. */
			if ((s->flags & (F_IN_QUOTE | F_HEADER)) == F_IN_QUOTE) {
				pgcm__rowscan_fail(s, s->offset,
				                   "unterminated quoted CSV field at end of input");
				return PGCM__SCAN_ERROR;
			}
			if (s->offset > s->cur_start)
				return line_finish(s, s->offset);
			return PGCM__SCAN_MORE;
		case RS_L_END:
			return PGCM__SCAN_MORE;
		case RS_ERROR:
			return PGCM__SCAN_ERROR;
		default:
			pgcm__rowscan_fail(s, s->offset, "internal error: scanner state %d", s->state);
			return PGCM__SCAN_ERROR;
		}
	}
}

