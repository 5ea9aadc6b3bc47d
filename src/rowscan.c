/*
 * rowscan.c: row boundaries in text, CSV and binary COPY streams.
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

#include "internal.h"

/* The server's own limit on a row (MaxAllocSize is 1 GiB - 1; close enough). */
#define DEFAULT_MAX_ROW ((uint64_t) 1 << 30)

/* s->state */
enum {
	/* text and CSV */
	L_DATA = 0,     /* inside a line, or at its start (F_LINE_START) */
	L_BS,           /* text: after a backslash; the next byte is escaped */
	L_LS_BS,        /* CSV: after a backslash that started a line */
	L_CR,           /* after an unquoted CR while the line ending may be CR LF */
	L_DOT,          /* after the "\." of an end marker */
	L_DOT_CR,       /* after "\." CR with CR LF line endings: LF must follow */
	L_END_CR,       /* after "\." CR on the first line: one LF may follow */
	L_END,          /* the end marker was seen: nothing may follow */
	/* binary */
	B_SIG,          /* matching the 11-byte signature (acc_len bytes matched) */
	B_FLAGS,        /* gathering the int32 flags */
	B_EXTLEN,       /* gathering the int32 header extension length */
	B_EXT,          /* skipping the header extension (need bytes left) */
	B_COUNT,        /* gathering a tuple's int16 field count */
	B_LEN,          /* gathering a field's int32 length */
	B_DATA,         /* skipping a field's bytes (need bytes left) */
	B_END,          /* the trailer was seen: nothing may follow */
	/* any */
	S_ERROR         /* an error was reported; it is reported again */
};

/* s->eol: the line ending, taken from the first line as the server does. */
enum { EOL_UNKNOWN = 0, EOL_NL, EOL_CR, EOL_CRNL };

/* s->flags */
#define F_IN_QUOTE    0x01    /* CSV: inside a quoted field */
#define F_ESCAPED     0x02    /* CSV: the last byte was an escape inside quotes */
#define F_LINE_START  0x04    /* CSV: the next byte is the first of a line */
#define F_HEADER      0x08    /* the unit being scanned is the header */
#define F_MARKER      0x10    /* the unit being scanned ends with the end marker */
#define F_DOT_DATA    0x20    /* text: the end marker came after data on its line */
#define F_CSV         0x40    /* the format is CSV */
#define F_HAS_ESC     0x80    /* CSV: an escape distinct from the quote */
#define ESC_SHIFT     8       /* CSV: that escape byte, in bits 8..15 */
#define UNIT_FLAGS    (F_IN_QUOTE | F_ESCAPED | F_HEADER | F_MARKER | F_DOT_DATA)

/* What one byte did to a line (line_step, data_byte). */
enum {
	STEP_CONT = 0,  /* consumed; the unit goes on */
	STEP_INCL,      /* consumed; the unit ends after it */
	STEP_EXCL,      /* not consumed; the unit ended just before it */
	STEP_ERROR      /* malformed; s->error is set */
};

static const unsigned char binary_signature[11] = {
	'P', 'G', 'C', 'O', 'P', 'Y', '\n', 0377, '\r', '\n', 0
};

/*
 * fail: record an error at absolute byte offset at and make the scanner
 * report it from now on.  Messages name the unit (the header, or the 1-based
 * data row being scanned) and the byte, so that a user can find the place in
 * a multi-gigabyte file.  Returns STEP_ERROR for the byte-level callers.
 */
static int fail(pgcm__rowscan *s, uint64_t at, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int
fail(pgcm__rowscan *s, uint64_t at, const char *fmt, ...)
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
	s->state = S_ERROR;
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
		s->state = B_SIG;
		s->flags = F_HEADER;
		break;
	case PGCM_FORMAT_CSV:
		s->state = L_DATA;
		s->flags = F_CSV | F_LINE_START | (fmt->header ? F_HEADER : 0);
		/* An escape of 0 means "the same as the quote", the default. */
		if (fmt->escape != '\0' && fmt->escape != fmt->quote)
			s->flags |= F_HAS_ESC | ((unsigned char) fmt->escape << ESC_SHIFT);
		/* A quote that is a line ending would make the quoting rules ambiguous. */
		if (fmt->quote == '\n' || fmt->quote == '\r')
			fail(s, 0, "invalid format: the CSV quote cannot be a newline or carriage return");
		break;
	case PGCM_FORMAT_TEXT:
		s->state = L_DATA;
		s->flags = fmt->header ? F_HEADER : 0;
		break;
	default:
		fail(s, 0, "invalid format: unknown COPY format kind %d", (int) fmt->kind);
		break;
	}
}

/*
 * finish: the unit being scanned ends at absolute offset end.  Every unit
 * kind goes through here, so that the row-size cap, the row count and the
 * public offsets are kept in one place.
 */
static pgcm__scan_kind
finish(pgcm__rowscan *s, pgcm__scan_kind kind, uint64_t end)
{
	if (end - s->cur_start > s->max_row) {
		fail(s, s->cur_start + s->max_row, "longer than the maximum row size of %llu bytes",
		     (unsigned long long) s->max_row);
		return PGCM__SCAN_ERROR;
	}
	if (kind == PGCM__SCAN_ROW)
		s->rows++;
	s->unit_start = s->cur_start;
	s->cur_start = end;
	s->offset = end;
	return kind;
}

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
	kind = finish(s, kind, end);
	if (kind == PGCM__SCAN_ERROR)
		return kind;
	s->flags = (flags & ~UNIT_FLAGS) | ((flags & F_CSV) ? F_LINE_START : 0);
	s->state = marker ? L_END : L_DATA;
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
		if (s->eol == EOL_UNKNOWN || s->eol == EOL_CRNL) {
			s->state = L_CR;     /* CR LF or CR alone: the next byte says */
			return STEP_CONT;
		}
		if (s->eol == EOL_NL)
			return fail(s, at, csv ? "unquoted carriage return found in data"
			                       : "literal carriage return found in data");
		return STEP_INCL;
	}
	if (c == '\n' && !(flags & F_IN_QUOTE)) {
		if (s->eol == EOL_CR || s->eol == EOL_CRNL)
			return fail(s, at, csv ? "unquoted newline found in data"
			                       : "literal newline found in data");
		s->eol = EOL_NL;
		return STEP_INCL;
	}
	if (c == '\\' && (!csv || line_start))
		s->state = csv ? L_LS_BS : L_BS;
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

	s->state = L_DATA;
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

	if (s->eol == EOL_CRNL) {
		if (c == '\r') {
			s->state = L_DOT_CR;
			return STEP_CONT;
		}
		if (!csv)
			return fail(s, at, c == '\n'
			            ? "end-of-copy marker does not match previous newline style"
			            : "end-of-copy marker corrupt");
		return not_marker(s, c, at, 0);
	}
	if (c == '\r' || c == '\n') {
		if (s->eol != EOL_UNKNOWN && (s->eol == EOL_NL) != (c == '\n'))
			return fail(s, at, "end-of-copy marker does not match previous newline style");
		s->flags |= F_MARKER;
		if (s->eol == EOL_UNKNOWN && c == '\r') {
			/* The server stops at the CR; take a following LF along. */
			s->state = L_END_CR;
			return STEP_CONT;
		}
		return STEP_INCL;
	}
	if (!csv)
		return fail(s, at, "end-of-copy marker corrupt");
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
	case L_DATA:
		return data_byte(s, c, at);
	case L_BS:
		s->state = L_DATA;
		if (c == '.') {
			if (at - 1 > s->cur_start)
				s->flags |= F_DOT_DATA;
			s->state = L_DOT;
		}
		return STEP_CONT;   /* any other byte is escaped, even CR or LF */
	case L_LS_BS:
		if (c == '.') {
			s->state = L_DOT;
			return STEP_CONT;
		}
		s->state = L_DATA;
		return data_byte(s, c, at);
	case L_DOT:
		return dot_byte(s, c, at);
	case L_DOT_CR:
		if (c == '\n') {
			s->flags |= F_MARKER;
			return STEP_INCL;
		}
		if (c == '\r')
			return fail(s, at, "end-of-copy marker does not match previous newline style");
		if (!csv)
			return fail(s, at, "end-of-copy marker corrupt");
		return not_marker(s, c, at, 1);
	case L_END_CR:
		return c == '\n' ? STEP_INCL : STEP_EXCL;
	case L_CR:
		s->state = L_DATA;
		if (c == '\n') {
			s->eol = EOL_CRNL;
			return STEP_INCL;
		}
		if (s->eol == EOL_CRNL)
			return fail(s, at - 1, csv ? "unquoted carriage return found in data"
			                           : "literal carriage return found in data");
		s->eol = EOL_CR;
		return STEP_EXCL;
	case L_END:
		return fail(s, at, "data after the end-of-copy marker");
	default:
		return fail(s, at, "internal error: scanner state %d", s->state);
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
 * scan_lines: text and CSV.  The loop jumps with memchr from one byte that
 * matters to the next.  Each search is bounded by the next line terminator
 * (or, inside CSV quotes, by the closing quote), so that returning one row
 * per call costs time in proportion to the row, not to the buffer.  The
 * search results are remembered for the call (a result at or after p is
 * still true); the others are bounded by t_at, so they are searched again
 * whenever t_at is.
 */
static pgcm__scan_kind
scan_lines(pgcm__rowscan *s, const char *buf, size_t len, size_t *pos)
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
		if (s->state != L_DATA || (s->flags & (F_LINE_START | F_ESCAPED))) {
			r = line_step(s, (unsigned char) *p, base + (uint64_t) (p - buf));
		} else {
			int t = s->eol == EOL_CR ? '\r' : '\n';
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
	*pos = len;
	s->offset = base + len;
	s->unit_start = s->cur_start;
	if (s->offset - s->cur_start > s->max_row) {
		fail(s, s->cur_start + s->max_row, "longer than the maximum row size of %llu bytes",
		     (unsigned long long) s->max_row);
		return PGCM__SCAN_ERROR;
	}
	return PGCM__SCAN_MORE;
}

/*
 * take: gather an n-byte big-endian integer that may arrive in pieces into
 * s->acc.  Returns 1 when it is complete (s->acc holds it, masked to n
 * bytes), 0 when the piece ran out first.
 */
static int
take(pgcm__rowscan *s, const unsigned char *b, size_t *i, size_t len, int n)
{
	while (s->acc_len < n) {
		if (*i >= len)
			return 0;
		s->acc = (s->acc << 8) | b[(*i)++];
		s->acc_len++;
	}
	if (n < 4)
		s->acc &= ((uint32_t) 1 << (8 * n)) - 1;
	s->acc_len = 0;
	return 1;
}

static inline uint32_t
be32(const unsigned char *b)
{
	return (uint32_t) b[0] << 24 | (uint32_t) b[1] << 16 | (uint32_t) b[2] << 8 | b[3];
}

/*
 * scan_binary: the binary format.  The header and the length words are
 * gathered a byte at a time only when they straddle two pieces; field bodies
 * are skipped by their length, so the cost is per field, not per byte.  A
 * field length that would take its row past the cap is refused before its
 * bytes arrive, so a producer never has to hold them.
 */
static pgcm__scan_kind
scan_binary(pgcm__rowscan *s, const char *buf, size_t len, size_t *pos)
{
	const unsigned char *b = (const unsigned char *) buf;
	size_t i = *pos;
	uint64_t base = s->offset - *pos;
	pgcm__scan_kind kind;
	uint64_t m;
	uint32_t v;
	int32_t n;

	while (i < len) {
		switch (s->state) {
		case B_SIG:
			if (b[i] != binary_signature[s->acc_len]) {
				fail(s, base + i, "COPY file signature not recognized");
				goto error;
			}
			i++;
			if (++s->acc_len == (int) sizeof binary_signature) {
				s->acc_len = 0;
				s->acc = 0;
				s->state = B_FLAGS;
			}
			continue;
		case B_FLAGS:
			if (!take(s, b, &i, len, 4))
				continue;
			v = s->acc;
			if (v & ((uint32_t) 1 << 16)) {
				fail(s, base + i - 4, "invalid COPY file header (WITH OIDS)");
				goto error;
			}
			if ((v & ~((uint32_t) 1 << 16)) >> 16) {
				fail(s, base + i - 4, "unrecognized critical flags in COPY file header");
				goto error;
			}
			s->state = B_EXTLEN;
			continue;
		case B_EXTLEN:
			if (!take(s, b, &i, len, 4))
				continue;
			if ((int32_t) s->acc < 0) {
				fail(s, base + i - 4, "invalid COPY file header (missing length)");
				goto error;
			}
			s->need = s->acc;
			if (base + i - s->cur_start + s->need > s->max_row) {
				fail(s, base + i - 4, "a header extension of %llu bytes exceeds the maximum "
				     "row size of %llu bytes", (unsigned long long) s->need,
				     (unsigned long long) s->max_row);
				goto error;
			}
			s->state = B_EXT;
			/* fall through */
		case B_EXT:
			m = s->need < len - i ? s->need : len - i;
			i += m;
			s->need -= m;
			if (s->need)
				continue;
			s->flags &= ~F_HEADER;
			s->state = B_COUNT;
			kind = PGCM__SCAN_HEADER;
			goto unit;
		case B_COUNT:
			if (s->acc_len == 0 && len - i >= 2) {
				n = (int16_t) (uint16_t) ((unsigned) b[i] << 8 | b[i + 1]);
				i += 2;
			} else {
				if (!take(s, b, &i, len, 2))
					continue;
				n = (int16_t) (uint16_t) s->acc;
			}
			if (n == -1) {
				s->state = B_END;
				s->ended = 1;
				kind = PGCM__SCAN_END;
				goto unit;
			}
			if (n < 0) {
				fail(s, base + i - 2, "invalid field count %d", (int) n);
				goto error;
			}
			if (s->first_nfields >= 0 && n != s->first_nfields) {
				fail(s, base + i - 2, "row field count is %d, expected %d", (int) n,
				     (int) s->first_nfields);
				goto error;
			}
			s->first_nfields = n;
			s->nfields = n;
			s->field = 0;
			s->state = B_LEN;
			/* fall through */
		case B_LEN:
			while (s->field < s->nfields) {
				int32_t flen;

				if (s->acc_len == 0 && len - i >= 4) {
					flen = (int32_t) be32(b + i);
					i += 4;
				} else {
					if (!take(s, b, &i, len, 4))
						goto more;
					flen = (int32_t) s->acc;
				}
				if (flen < -1) {
					fail(s, base + i - 4, "invalid field size %ld", (long) flen);
					goto error;
				}
				if (flen > 0) {
					if (base + i - s->cur_start + (uint64_t) flen > s->max_row) {
						fail(s, base + i - 4, "a field of %ld bytes exceeds the maximum row "
						     "size of %llu bytes", (long) flen,
						     (unsigned long long) s->max_row);
						goto error;
					}
					if ((size_t) flen > len - i) {
						s->need = (uint64_t) flen - (len - i);
						i = len;
						s->state = B_DATA;
						goto more;
					}
					i += (size_t) flen;
				}
				s->field++;
			}
			goto row;
		case B_DATA:
			m = s->need < len - i ? s->need : len - i;
			i += m;
			s->need -= m;
			if (s->need)
				continue;
			s->state = B_LEN;
			if (++s->field < s->nfields)
				continue;
			goto row;
		case B_END:
			fail(s, base + i, "received copy data after EOF marker");
			goto error;
		default:
			fail(s, base + i, "internal error: scanner state %d", s->state);
			goto error;
		}
	}
more:
	*pos = len;
	s->offset = base + len;
	s->unit_start = s->cur_start;
	if (s->offset - s->cur_start > s->max_row) {
		fail(s, s->cur_start + s->max_row, "longer than the maximum row size of %llu bytes",
		     (unsigned long long) s->max_row);
		return PGCM__SCAN_ERROR;
	}
	return PGCM__SCAN_MORE;
row:
	s->state = B_COUNT;
	kind = PGCM__SCAN_ROW;
unit:
	*pos = i;
	return finish(s, kind, base + i);
error:
	*pos = i;
	s->offset = base + i;
	s->unit_start = s->cur_start;
	return PGCM__SCAN_ERROR;
}

/*
 * pgcm__rowscan_next: one unit per call, so that the caller can cut its
 * chunk at each boundary.  Errors are sticky: once malformed, a stream stays
 * so, and every later call says why.
 */
pgcm__scan_kind
pgcm__rowscan_next(pgcm__rowscan *s, const char *buf, size_t len, size_t *pos)
{
	if (s->state == S_ERROR)
		return PGCM__SCAN_ERROR;
	if (*pos > len) {
		fail(s, s->offset, "internal error: scan position %zu past the end %zu", *pos, len);
		return PGCM__SCAN_ERROR;
	}
	if (s->fmt.kind == PGCM_FORMAT_BINARY)
		return scan_binary(s, buf, len, pos);
	return scan_lines(s, buf, len, pos);
}

/*
 * eof_lines: the end of text or CSV input.  The server reads a pending
 * look-ahead byte as NUL at the end: a "\." then is corrupt in text and data
 * in CSV, a CR after the first line ends it, and a last line without its
 * terminator is a row.  An open quote is an error, except in a header line,
 * which the server discards without parsing it.
 */
static pgcm__scan_kind
eof_lines(pgcm__rowscan *s)
{
	int csv = s->flags & F_CSV;

	for (;;) {
		switch (s->state) {
		case L_DOT:
		case L_DOT_CR:
			if (!csv) {
				fail(s, s->offset, "end-of-copy marker corrupt");
				return PGCM__SCAN_ERROR;
			}
			if (s->state == L_DOT_CR) {
				s->state = L_DATA;
				data_byte(s, '.', s->offset - 2);
				if (data_byte(s, '\r', s->offset - 1) == STEP_ERROR)
					return PGCM__SCAN_ERROR;
			} else {
				s->state = L_DATA;
				data_byte(s, '.', s->offset - 1);
			}
			continue;
		case L_CR:
			if (s->eol == EOL_CRNL) {
				fail(s, s->offset - 1, csv ? "unquoted carriage return found in data"
				                           : "literal carriage return found in data");
				return PGCM__SCAN_ERROR;
			}
			s->eol = EOL_CR;
			s->state = L_DATA;
			return line_finish(s, s->offset);
		case L_END_CR:
			return line_finish(s, s->offset);
		case L_BS:
		case L_LS_BS:
			s->state = L_DATA;  /* a backslash just before the end is data */
			/* fall through */
		case L_DATA:
			/* The server throws a header line away unparsed, open quote or not. */
			if ((s->flags & (F_IN_QUOTE | F_HEADER)) == F_IN_QUOTE) {
				fail(s, s->offset, "unterminated quoted CSV field at end of input");
				return PGCM__SCAN_ERROR;
			}
			if (s->offset > s->cur_start)
				return line_finish(s, s->offset);
			return PGCM__SCAN_MORE;
		case L_END:
			return PGCM__SCAN_MORE;
		case S_ERROR:
			return PGCM__SCAN_ERROR;
		default:
			fail(s, s->offset, "internal error: scanner state %d", s->state);
			return PGCM__SCAN_ERROR;
		}
	}
}

/*
 * eof_binary: the end of binary input.  The server accepts a stream that
 * stops at a tuple boundary without its trailer, so do we; anything cut
 * short inside the header or a tuple is an error (the server also ignores a
 * lone byte where a field count would start; we call that truncation).
 */
static pgcm__scan_kind
eof_binary(pgcm__rowscan *s)
{
	const char *msg = NULL;

	switch (s->state) {
	case B_SIG:
		msg = "COPY file signature not recognized";
		break;
	case B_FLAGS:
		msg = "invalid COPY file header (missing flags)";
		break;
	case B_EXTLEN:
		msg = "invalid COPY file header (missing length)";
		break;
	case B_EXT:
		msg = "invalid COPY file header (wrong length)";
		break;
	case B_COUNT:
		if (s->acc_len)
			msg = "unexpected EOF in COPY data";
		break;
	case B_LEN:
	case B_DATA:
		msg = "unexpected EOF in COPY data";
		break;
	case B_END:
		break;
	case S_ERROR:
		return PGCM__SCAN_ERROR;
	default:
		msg = "internal error: bad scanner state";
		break;
	}
	if (msg) {
		fail(s, s->offset, "%s", msg);
		return PGCM__SCAN_ERROR;
	}
	s->unit_start = s->cur_start;
	return PGCM__SCAN_MORE;
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
	if (s->state == S_ERROR)
		return PGCM__SCAN_ERROR;
	if (s->fmt.kind == PGCM_FORMAT_BINARY)
		return eof_binary(s);
	s->unit_start = s->cur_start;
	return eof_lines(s);
}
