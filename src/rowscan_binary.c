/*
 * rowscan_binary.c: row boundaries in binary COPY streams: the header, then
 * tuples by field count and lengths, then the trailer, as PostgreSQL 15's
 * binary COPY FROM reads them.  Field bodies are skipped by their lengths.
 */
#include <string.h>

#include "rowscan_int.h"

static const unsigned char binary_signature[11] = {
	'P', 'G', 'C', 'O', 'P', 'Y', '\n', 0377, '\r', '\n', 0
};

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
 * pgcm__rowscan_binary: the binary format.  The header and the length words are
 * gathered a byte at a time only when they straddle two pieces; field bodies
 * are skipped by their length, so the cost is per field, not per byte.  A
 * field length that would take its row past the cap is refused before its
 * bytes arrive, so a producer never has to hold them.
 */
pgcm__scan_kind
pgcm__rowscan_binary(pgcm__rowscan *s, const char *buf, size_t len, size_t *pos)
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
		case RS_B_SIG:
			if (b[i] != binary_signature[s->acc_len]) {
				pgcm__rowscan_fail(s, base + i, "COPY file signature not recognized");
				goto error;
			}
			i++;
			if (++s->acc_len == (int) sizeof binary_signature) {
				s->acc_len = 0;
				s->acc = 0;
				s->state = RS_B_FLAGS;
			}
			continue;
		case RS_B_FLAGS:
			if (!take(s, b, &i, len, 4))
				continue;
			v = s->acc;
			if (v & ((uint32_t) 1 << 16)) {
				pgcm__rowscan_fail(s, base + i - 4, "invalid COPY file header (WITH OIDS)");
				goto error;
			}
			if ((v & ~((uint32_t) 1 << 16)) >> 16) {
				pgcm__rowscan_fail(s, base + i - 4,
				                   "unrecognized critical flags in COPY file header");
				goto error;
			}
			s->state = RS_B_EXTLEN;
			continue;
		case RS_B_EXTLEN:
			if (!take(s, b, &i, len, 4))
				continue;
			if ((int32_t) s->acc < 0) {
				pgcm__rowscan_fail(s, base + i - 4,
				                   "invalid COPY file header (missing length)");
				goto error;
			}
			s->need = s->acc;
			if (base + i - s->cur_start + s->need > s->max_row) {
				pgcm__rowscan_fail(s, base + i - 4,
				                   "a header extension of %llu bytes exceeds the maximum "
				                   "row size of %llu bytes", (unsigned long long) s->need,
				                   (unsigned long long) s->max_row);
				goto error;
			}
			s->state = RS_B_EXT;
			/* fall through */
		case RS_B_EXT:
			m = s->need < len - i ? s->need : len - i;
			i += m;
			s->need -= m;
			if (s->need)
				continue;
			s->flags &= ~F_HEADER;
			s->state = RS_B_COUNT;
			kind = PGCM__SCAN_HEADER;
			goto unit;
		case RS_B_COUNT:
			if (s->acc_len == 0 && len - i >= 2) {
				n = (int16_t) (uint16_t) ((unsigned) b[i] << 8 | b[i + 1]);
				i += 2;
			} else {
				if (!take(s, b, &i, len, 2))
					continue;
				n = (int16_t) (uint16_t) s->acc;
			}
			if (n == -1) {
				s->state = RS_B_END;
				s->ended = 1;
				kind = PGCM__SCAN_END;
				goto unit;
			}
			if (n < 0) {
				pgcm__rowscan_fail(s, base + i - 2, "invalid field count %d", (int) n);
				goto error;
			}
			if (s->first_nfields >= 0 && n != s->first_nfields) {
				pgcm__rowscan_fail(s, base + i - 2,
				                   "row field count is %d, expected %d", (int) n,
				                   (int) s->first_nfields);
				goto error;
			}
			s->first_nfields = n;
			s->nfields = n;
			s->field = 0;
			s->state = RS_B_LEN;
			/* fall through */
		case RS_B_LEN:
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
					pgcm__rowscan_fail(s, base + i - 4,
					                   "invalid field size %ld", (long) flen);
					goto error;
				}
				if (flen > 0) {
					if (base + i - s->cur_start + (uint64_t) flen > s->max_row) {
						pgcm__rowscan_fail(s, base + i - 4,
						                   "a field of %ld bytes exceeds the maximum row "
						                   "size of %llu bytes", (long) flen,
						                   (unsigned long long) s->max_row);
						goto error;
					}
					if ((size_t) flen > len - i) {
						s->need = (uint64_t) flen - (len - i);
						i = len;
						s->state = RS_B_DATA;
						goto more;
					}
					i += (size_t) flen;
				}
				s->field++;
			}
			goto row;
		case RS_B_DATA:
			m = s->need < len - i ? s->need : len - i;
			i += m;
			s->need -= m;
			if (s->need)
				continue;
			s->state = RS_B_LEN;
			if (++s->field < s->nfields)
				continue;
			goto row;
		case RS_B_END:
			pgcm__rowscan_fail(s, base + i, "received copy data after EOF marker");
			goto error;
		default:
			pgcm__rowscan_fail(s, base + i, "internal error: scanner state %d", s->state);
			goto error;
		}
	}
more:
	return pgcm__rowscan_more(s, base, len, pos);
row:
	s->state = RS_B_COUNT;
	kind = PGCM__SCAN_ROW;
unit:
	*pos = i;
	return pgcm__rowscan_finish(s, kind, base + i);
error:
	*pos = i;
	s->offset = base + i;
	s->unit_start = s->cur_start;
	return PGCM__SCAN_ERROR;
}

/*
 * pgcm__rowscan_binary_eof: the end of binary input.  The server accepts a
 * stream that stops at a tuple boundary without its trailer, so do we;
 * anything cut short inside the header or a tuple is an error (the server
 * also ignores a lone byte where a field count would start; we call that
 * truncation).
 */
pgcm__scan_kind
pgcm__rowscan_binary_eof(pgcm__rowscan *s)
{
	const char *msg = NULL;

	switch (s->state) {
	case RS_B_SIG:
		msg = "COPY file signature not recognized";
		break;
	case RS_B_FLAGS:
		msg = "invalid COPY file header (missing flags)";
		break;
	case RS_B_EXTLEN:
		msg = "invalid COPY file header (missing length)";
		break;
	case RS_B_EXT:
		msg = "invalid COPY file header (wrong length)";
		break;
	case RS_B_COUNT:
		if (s->acc_len)
			msg = "unexpected EOF in COPY data";
		break;
	case RS_B_LEN:
	case RS_B_DATA:
		msg = "unexpected EOF in COPY data";
		break;
	case RS_B_END:
		break;
	case RS_ERROR:
		return PGCM__SCAN_ERROR;
	default:
		msg = "internal error: bad scanner state";
		break;
	}
	if (msg) {
		pgcm__rowscan_fail(s, s->offset, "%s", msg);
		return PGCM__SCAN_ERROR;
	}
	s->unit_start = s->cur_start;
	return PGCM__SCAN_MORE;
}

