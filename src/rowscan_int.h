/*
 * rowscan_int.h: the row scanner's private parts, shared by rowscan.c (the
 * entry points), rowscan_lines.c (text and CSV) and rowscan_binary.c.
 */
#ifndef PGCM_ROWSCAN_INT_H
#define PGCM_ROWSCAN_INT_H

#include "internal.h"

/* The server's own limit on a row (MaxAllocSize is 1 GiB - 1; close enough). */
#define DEFAULT_MAX_ROW ((uint64_t) 1 << 30)

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

/*
 * pgcm__rowscan_fail (rowscan.c): record an error at absolute byte offset at;
 * the scanner reports it from now on.  Returns STEP_ERROR.
 */
int pgcm__rowscan_fail(pgcm__rowscan *s, uint64_t at, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/*
 * pgcm__rowscan_finish: the unit being scanned ends at absolute offset
 * end.  Every unit kind goes through here, so that the row-size cap, the row
 * count and the public offsets are kept in one place.
 */
static inline pgcm__scan_kind
pgcm__rowscan_finish(pgcm__rowscan *s, pgcm__scan_kind kind, uint64_t end)
{
	if (end - s->cur_start > s->max_row) {
		pgcm__rowscan_fail(s, s->cur_start + s->max_row,
		                   "longer than the maximum row size of %llu bytes",
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
 * pgcm__rowscan_more: the piece buf[..len) ended inside a unit (base: the
 * absolute offset of buf[0]).  PGCM__SCAN_MORE, or an error once the unit is
 * already longer than the row-size cap: a producer never has to hold more.
 */
static inline pgcm__scan_kind
pgcm__rowscan_more(pgcm__rowscan *s, uint64_t base, size_t len, size_t *pos)
{
	*pos = len;
	s->offset = base + len;
	s->unit_start = s->cur_start;
	if (s->offset - s->cur_start > s->max_row) {
		pgcm__rowscan_fail(s, s->cur_start + s->max_row,
		                   "longer than the maximum row size of %llu bytes",
		                   (unsigned long long) s->max_row);
		return PGCM__SCAN_ERROR;
	}
	return PGCM__SCAN_MORE;
}

/* rowscan_lines.c: text and CSV */
pgcm__scan_kind pgcm__rowscan_lines(pgcm__rowscan *s, const char *buf, size_t len, size_t *pos);
pgcm__scan_kind pgcm__rowscan_lines_eof(pgcm__rowscan *s);

/* rowscan_binary.c */
pgcm__scan_kind pgcm__rowscan_binary(pgcm__rowscan *s, const char *buf, size_t len, size_t *pos);
pgcm__scan_kind pgcm__rowscan_binary_eof(pgcm__rowscan *s);

#endif /* PGCM_ROWSCAN_INT_H */
