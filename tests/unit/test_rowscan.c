/*
 * test_rowscan.c: the row scanner (src/rowscan.c) on text, CSV and binary
 * COPY data.  Each case is written as the trace of units the scanner must
 * report ("H19 R27 E29": kind and end offset; "eof:R3": a unit reported by
 * pgcm__rowscan_eof; "*": the data ended with that unit; "ERR[...]": the
 * error), and is checked with the input in one piece and cut into pieces of
 * every size from 1 byte up, fed both as fresh pieces and the way a producer
 * feeds them (the partial row carried over in front of the new bytes).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "internal.h"

#define S(lit) lit, sizeof(lit) - 1

/* append: printf onto the trace. */
static void append(char *out, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void
append(char *out, size_t cap, const char *fmt, ...)
{
	size_t n = strlen(out);
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(out + n, cap - n, fmt, ap);
	va_end(ap);
}

static const char *
kind_name(pgcm__scan_kind k)
{
	switch (k) {
	case PGCM__SCAN_HEADER: return "H";
	case PGCM__SCAN_ROW: return "R";
	case PGCM__SCAN_END: return "E";
	default: return "?";
	}
}

/*
 * trace: scan data cut into pieces of `piece` bytes (0: one piece); with
 * carry, each call gets a buffer that starts where the partial unit starts.
 * Every buffer is an exact-size copy, so ASan catches a read past its end.
 */
static void
trace(const pgcm_format *fmt, const char *data, size_t len, size_t piece, int carry,
      char *out, size_t cap)
{
	pgcm__rowscan s;
	size_t at = 0;
	pgcm__scan_kind k;

	out[0] = '\0';
	pgcm__rowscan_init(&s, fmt);
	if (piece == 0)
		piece = len ? len : 1;
	while (at < len) {
		size_t n = len - at < piece ? len - at : piece;
		size_t from = carry ? (size_t) s.cur_start : at;
		size_t blen = at + n - from;
		char *buf = malloc(blen ? blen : 1);
		size_t pos = at - from;

		assert_non_null(buf);
		memcpy(buf, data + from, blen);
		for (;;) {
			size_t before = pos;

			k = pgcm__rowscan_next(&s, buf, blen, &pos);
			assert_true(pos >= before && pos <= blen);
			if (k == PGCM__SCAN_MORE) {
				assert_int_equal(pos, blen);
				break;
			}
			if (k == PGCM__SCAN_ERROR) {
				append(out, cap, "%sERR[%s]", out[0] ? " " : "", s.error);
				/* Errors are sticky. */
				pos = 0;
				assert_int_equal(pgcm__rowscan_next(&s, buf, blen, &pos), PGCM__SCAN_ERROR);
				free(buf);
				assert_int_equal(pgcm__rowscan_eof(&s), PGCM__SCAN_ERROR);
				return;
			}
			assert_int_equal(s.offset, from + pos);
			append(out, cap, "%s%s%llu%s", out[0] ? " " : "", kind_name(k),
			       (unsigned long long) s.offset,
			       s.ended && k != PGCM__SCAN_END ? "*" : "");
		}
		free(buf);
		at += n;
	}
	k = pgcm__rowscan_eof(&s);
	if (k == PGCM__SCAN_ERROR) {
		append(out, cap, "%sERR[%s]", out[0] ? " " : "", s.error);
		return;
	}
	if (k != PGCM__SCAN_MORE) {
		append(out, cap, "%seof:%s%llu%s", out[0] ? " " : "", kind_name(k),
		       (unsigned long long) s.offset, s.ended && k != PGCM__SCAN_END ? "*" : "");
		assert_int_equal(pgcm__rowscan_eof(&s), PGCM__SCAN_MORE);
	}
}

/* check: the trace of data is `want`, in one piece and in pieces of every size. */
static void
check_fmt(const pgcm_format *fmt, const char *data, size_t len, const char *want)
{
	char got[2048];

	trace(fmt, data, len, 0, 0, got, sizeof got);
	if (strcmp(got, want) != 0) {
		print_error("one piece:\n  got  %s\n  want %s\n", got, want);
		fail();
	}
	for (size_t piece = 1; piece <= len; piece++) {
		for (int carry = 0; carry < 2; carry++) {
			trace(fmt, data, len, piece, carry, got, sizeof got);
			if (strcmp(got, want) != 0) {
				print_error("pieces of %zu bytes%s:\n  got  %s\n  want %s\n", piece,
				            carry ? " (carried over)" : "", got, want);
				fail();
			}
		}
	}
}

static void
check_text(const char *data, size_t len, const char *want)
{
	pgcm_format fmt;

	pgcm_format_init(&fmt, PGCM_FORMAT_TEXT);
	check_fmt(&fmt, data, len, want);
}

static void
check_csv(const char *data, size_t len, const char *want)
{
	pgcm_format fmt;

	pgcm_format_init(&fmt, PGCM_FORMAT_CSV);
	check_fmt(&fmt, data, len, want);
}

/* ---------------------------------------------------------------- text */

static void
test_text_rows(void **state)
{
	(void) state;
	check_text(S(""), "");
	check_text(S("a\tb\n1\t\\N\n"), "R4 R9");
	check_text(S("\n\n"), "R1 R2");
	/* Non-ASCII bytes are data. */
	check_text(S("h\xc3\xa9llo\t\xe2\x82\xac\n\xff\xfe\n"), "R11 R14");
	/* A last line without its newline is a row. */
	check_text(S("a\nb"), "R2 eof:R3");
	check_text(S("only"), "eof:R4");
}

static void
test_text_escapes(void **state)
{
	(void) state;
	/* Backslash-newline does not end the row; an escaped backslash does not escape. */
	check_text(S("a\\\nb\nc\n"), "R5 R7");
	check_text(S("a\\\\\nb\n"), "R4 R6");
	check_text(S("x\\\\\\\ny\n"), "R7");
	check_text(S("a\\\rb\n"), "R5");
	check_text(S("a\\tb\\\\c\\Nd\n"), "R11");
	/* A backslash just before the end is data. */
	check_text(S("a\nb\\"), "R2 eof:R4");
	/* "\\." is an escaped backslash and a dot, not an end marker. */
	check_text(S("\\\\.\nb\n"), "R4 R6");
}

static void
test_text_end_marker(void **state)
{
	(void) state;
	check_text(S("a\n\\.\n"), "R2 E5");
	check_text(S("\\.\n"), "E3");
	check_text(S("a\r\nb\r\n\\.\r\n"), "R3 R6 E10");
	check_text(S("a\rb\r\\.\r"), "R2 R4 E7");
	/* Data before "\." on its line is a last row (the server takes it so). */
	check_text(S("a\nabc\\.\n"), "R2 R8*");
	/* Nothing may follow the end marker. */
	check_text(S("a\n\\.\nb\n"),
	           "R2 E5 ERR[row 2 (byte 5): data after the end-of-copy marker]");
	/* A first line "\." CR takes a following LF along. */
	check_text(S("\\.\r\n"), "E4");
	check_text(S("\\.\r"), "eof:E3");
	check_text(S("\\.\rX"), "E3 ERR[row 1 (byte 3): data after the end-of-copy marker]");
	/* Malformed markers. */
	check_text(S("a\n\\."), "R2 ERR[row 2 (byte 4): end-of-copy marker corrupt]");
	check_text(S("\\.x\n"), "ERR[row 1 (byte 2): end-of-copy marker corrupt]");
	check_text(S("a\n\\.\r\n"),
	           "R2 ERR[row 2 (byte 4): end-of-copy marker does not match previous newline style]");
	check_text(S("a\r\n\\.\n"),
	           "R3 ERR[row 2 (byte 5): end-of-copy marker does not match previous newline style]");
	check_text(S("a\r\n\\.\r\r"),
	           "R3 ERR[row 2 (byte 6): end-of-copy marker does not match previous newline style]");
	check_text(S("a\r\n\\.x"), "R3 ERR[row 2 (byte 5): end-of-copy marker corrupt]");
	check_text(S("a\r\n\\.\r"), "R3 ERR[row 2 (byte 6): end-of-copy marker corrupt]");
	check_text(S("a\r\\.\n"),
	           "R2 ERR[row 2 (byte 4): end-of-copy marker does not match previous newline style]");
}

static void
test_text_line_endings(void **state)
{
	(void) state;
	check_text(S("a\r\nb\r\n"), "R3 R6");
	check_text(S("a\rb\r"), "R2 R4");
	check_text(S("a\rb"), "R2 eof:R3");
	check_text(S("a\r"), "eof:R2");
	/* A different ending after the first line is an error, as the server says. */
	check_text(S("a\r\nb\nc"), "R3 ERR[row 2 (byte 4): literal newline found in data]");
	check_text(S("a\nb\rc\n"), "R2 ERR[row 2 (byte 3): literal carriage return found in data]");
	check_text(S("a\r\nb\rc\r\n"), "R3 ERR[row 2 (byte 4): literal carriage return found in data]");
	check_text(S("a\r\nb\r"), "R3 ERR[row 2 (byte 4): literal carriage return found in data]");
	check_text(S("a\rb\n"), "R2 ERR[row 2 (byte 3): literal newline found in data]");
}

static void
test_text_header(void **state)
{
	pgcm_format fmt;

	(void) state;
	pgcm_format_init(&fmt, PGCM_FORMAT_TEXT);
	fmt.header = 1;
	check_fmt(&fmt, S("h1\th2\nv\tw\n"), "H6 R10");
	check_fmt(&fmt, S("h1\th2"), "eof:H5");
	check_fmt(&fmt, S("\\.\n"), "E3");
	check_fmt(&fmt, S("h\r\nx\r\n"), "H3 R6");
}

/* ---------------------------------------------------------------- CSV */

static void
test_csv_quotes(void **state)
{
	(void) state;
	check_csv(S(""), "");
	check_csv(S("a,\"b\nc\",d\n\"x\"\"y\",z\n"), "R10 R19");
	check_csv(S("\"a,b\",c\n"), "R8");
	check_csv(S("\"\"\"\"\n"), "R5");
	check_csv(S("\"\n\n\r\n\",\"\r\"\n"), "R11");
	/* NULL (unquoted empty) and empty string (quoted). */
	check_csv(S("a,,c\n\"\",b\n"), "R5 R10");
	/* Non-ASCII. */
	check_csv(S("\"\xc3\xa9\n\xe2\x82\xac\",\xf0\x9f\x98\x80\n"), "R14");
	/* Backslashes are data in CSV. */
	check_csv(S("a\\\nb\n"), "R3 R5");
	check_csv(S("a\nb"), "R2 eof:R3");
	check_csv(S("a\n\"b\n"),
	          "R2 ERR[row 2 (byte 5): unterminated quoted CSV field at end of input]");
	check_csv(S("\"a\"\"\n"), "ERR[row 1 (byte 5): unterminated quoted CSV field at end of input]");
}

static void
test_csv_line_endings(void **state)
{
	(void) state;
	check_csv(S("a,\"x\r\ny\"\r\nb\r\n"), "R10 R13");
	check_csv(S("a\rb\r"), "R2 R4");
	check_csv(S("a\r\nb\rc\r\n"), "R3 ERR[row 2 (byte 4): unquoted carriage return found in data]");
	check_csv(S("a\nb\r"), "R2 ERR[row 2 (byte 3): unquoted carriage return found in data]");
	check_csv(S("a\r\nb\n"), "R3 ERR[row 2 (byte 4): unquoted newline found in data]");
}

static void
test_csv_end_marker(void **state)
{
	(void) state;
	check_csv(S("a\n\\.\n"), "R2 E5");
	check_csv(S("a\r\n\\.\r\n"), "R3 E7");
	/* Not alone on its line, or quoted: data. */
	check_csv(S("\\.x\n"), "R4");
	check_csv(S("x\\.\n"), "R4");
	check_csv(S("\"\\.\"\n"), "R5");
	check_csv(S("a\n\\."), "R2 eof:R4");
	check_csv(S("a\n\\"), "R2 eof:R3");
	check_csv(S("a\r\n\\.x\r\n"), "R3 R8");
	/* The other line ending after "\." is an error in CSV too. */
	check_csv(S("a\n\\.\r\n"),
	          "R2 ERR[row 2 (byte 4): end-of-copy marker does not match previous newline style]");
	/* "\." CR then no LF: data again, so that CR is an unquoted one. */
	check_csv(S("a\r\n\\.\rx\r\n"),
	          "R3 ERR[row 2 (byte 5): unquoted carriage return found in data]");
	check_csv(S("a\r\n\\.\r"),
	          "R3 ERR[row 2 (byte 5): unquoted carriage return found in data]");
	check_csv(S("a\n\\.\nb\n"), "R2 E5 ERR[row 2 (byte 5): data after the end-of-copy marker]");
}

static void
test_csv_header(void **state)
{
	pgcm_format fmt;

	(void) state;
	pgcm_format_init(&fmt, PGCM_FORMAT_CSV);
	fmt.header = 1;
	check_fmt(&fmt, S("h1,h2\n1,2\n"), "H6 R10");
	check_fmt(&fmt, S("\"h\n1\",h2\r\n1,2\r\n"), "H10 R15");
	check_fmt(&fmt, S("h1,h2"), "eof:H5");
	check_fmt(&fmt, S("\\.\n"), "E3");
	check_fmt(&fmt, S("h\n\\.\n"), "H2 E5");
	/* The server discards the header unparsed: an open quote there is no error. */
	check_fmt(&fmt, S("\"h\n1,2\n"), "eof:H7");
}

static void
test_csv_custom(void **state)
{
	pgcm_format fmt;

	(void) state;
	/* Delimiter, quote and escape of one's choice. */
	pgcm_format_init(&fmt, PGCM_FORMAT_CSV);
	fmt.delimiter = ';';
	fmt.quote = '\'';
	fmt.escape = '\\';
	check_fmt(&fmt, S("'it\\'s';x\n'a''b';\"\n"), "R10 R19");
	check_fmt(&fmt, S("'a\\\\';b\n"), "R8");
	check_fmt(&fmt, S("'a\\\n\\'\n';b\n"), "R11");
	check_fmt(&fmt, S("'a\\"), "ERR[row 1 (byte 3): unterminated quoted CSV field at end of input]");
	/* The escape means nothing outside quotes: this quote opens a field. */
	check_fmt(&fmt, S("a\\'b\nc'\n"), "R8");

	pgcm_format_init(&fmt, PGCM_FORMAT_CSV);
	fmt.delimiter = '|';
	fmt.quote = '%';
	fmt.escape = '%';
	check_fmt(&fmt, S("%a|\n%%b%|c\n"), "R11");
	/* A backslash quote still starts an end marker at a line's start, as in the server. */
	pgcm_format_init(&fmt, PGCM_FORMAT_CSV);
	fmt.quote = '\\';
	check_fmt(&fmt, S("a\\\\b\r\n\\.\r\n"), "R6 E10");
	check_fmt(&fmt, S("\\x\n\\\n"), "R5");
	/* A quote that is a line ending is refused. */
	fmt.quote = '\n';
	check_fmt(&fmt, S("a\n"),
	          "ERR[row 1 (byte 0): invalid format: the CSV quote cannot be a newline or carriage return]");
}

/* ---------------------------------------------------------------- binary */

/* A small binary stream: header (extension ext bytes), two tuples, trailer. */
static size_t
binary_stream(char *out, int ext, int trailer)
{
	static const char tuple1[] = "\0\2" "\0\0\0\4" "\0\0\0\x2a" "\xff\xff\xff\xff";
	static const char tuple2[] = "\0\2" "\0\0\0\3" "h\xc3\xa9" "\0\0\0\0";
	size_t n = 0;

	memcpy(out, "PGCOPY\n\377\r\n\0", 11);
	n = 11;
	memcpy(out + n, "\0\0\0\0", 4);
	n += 4;
	out[n++] = 0; out[n++] = 0; out[n++] = 0; out[n++] = (char) ext;
	memset(out + n, 'e', (size_t) ext);
	n += (size_t) ext;
	memcpy(out + n, tuple1, sizeof tuple1 - 1);
	n += sizeof tuple1 - 1;
	memcpy(out + n, tuple2, sizeof tuple2 - 1);
	n += sizeof tuple2 - 1;
	if (trailer) {
		memcpy(out + n, "\377\377", 2);
		n += 2;
	}
	return n;
}

static void
check_bin(const char *data, size_t len, const char *want)
{
	pgcm_format fmt;

	pgcm_format_init(&fmt, PGCM_FORMAT_BINARY);
	check_fmt(&fmt, data, len, want);
}

static void
test_binary_stream(void **state)
{
	char b[128];
	size_t n;

	(void) state;
	/* Header 19, tuple 2+8+4=14 (a NULL), tuple 2+7+4=13 (non-ASCII, empty), trailer 2. */
	n = binary_stream(b, 0, 1);
	check_bin(b, n, "H19 R33 R46 E48");
	n = binary_stream(b, 5, 1);
	check_bin(b, n, "H24 R38 R51 E53");
	/* Without the trailer the server takes the data as complete; so do we. */
	n = binary_stream(b, 0, 0);
	check_bin(b, n, "H19 R33 R46");
	/* Nothing may follow the trailer. */
	n = binary_stream(b, 0, 1);
	b[n++] = 0;
	check_bin(b, n, "H19 R33 R46 E48 ERR[row 3 (byte 48): received copy data after EOF marker]");
	/* A tuple of no fields (a table without columns). */
	check_bin(S("PGCOPY\n\377\r\n\0\0\0\0\0\0\0\0\0" "\0\0" "\0\0" "\377\377"), "H19 R21 R23 E25");
	/* Flags that are not critical are ignored. */
	check_bin(S("PGCOPY\n\377\r\n\0\0\0\0\1\0\0\0\0\377\377"), "H19 E21");
}

static void
test_binary_truncated(void **state)
{
	char b[128];
	char got[1024];
	size_t n = binary_stream(b, 3, 1);
	pgcm_format fmt;

	(void) state;
	pgcm_format_init(&fmt, PGCM_FORMAT_BINARY);
	/* Cut anywhere: clean only at a unit boundary after the header. */
	for (size_t cut = 0; cut < n; cut++) {
		int boundary = cut == 22 || cut == 36 || cut == 49;

		trace(&fmt, b, cut, 0, 0, got, sizeof got);
		if (boundary) {
			assert_null(strstr(got, "ERR["));
			continue;
		}
		if (!strstr(got, "ERR[")) {
			print_error("cut at %zu: no error: %s\n", cut, got);
			fail();
		}
		char want[64];

		snprintf(want, sizeof want, "(byte %zu): ", cut);
		assert_non_null(strstr(got, want));
		if (cut < 22)
			assert_non_null(strstr(got, "ERR[header (byte"));
		else
			assert_non_null(strstr(got, "ERR[row "));
	}
	check_bin(S(""), "ERR[header (byte 0): COPY file signature not recognized]");
	check_bin(S("PGCOPY\n\377\r"), "ERR[header (byte 9): COPY file signature not recognized]");
	check_bin(S("PGCOPY\n\377\r\n\0\0\0"),
	          "ERR[header (byte 13): invalid COPY file header (missing flags)]");
	check_bin(S("PGCOPY\n\377\r\n\0\0\0\0\0\0\0\0"),
	          "ERR[header (byte 18): invalid COPY file header (missing length)]");
	check_bin(S("PGCOPY\n\377\r\n\0\0\0\0\0\0\0\0\4ab"),
	          "ERR[header (byte 21): invalid COPY file header (wrong length)]");
	check_bin(S("PGCOPY\n\377\r\n\0\0\0\0\0\0\0\0\0\0"),
	          "H19 ERR[row 1 (byte 20): unexpected EOF in COPY data]");
	check_bin(S("PGCOPY\n\377\r\n\0\0\0\0\0\0\0\0\0\0\1\0\0\0\5ab"),
	          "H19 ERR[row 1 (byte 27): unexpected EOF in COPY data]");
}

static void
test_binary_malformed(void **state)
{
	(void) state;
	check_bin(S("PGCOPY\r\n\377\r\n\0"), "ERR[header (byte 6): COPY file signature not recognized]");
	check_bin(S("a\tb\n"), "ERR[header (byte 0): COPY file signature not recognized]");
	check_bin(S("PGCOPY\n\377\r\n\0\0\1\0\0\0\0\0\0\377\377"),
	          "ERR[header (byte 11): invalid COPY file header (WITH OIDS)]");
	check_bin(S("PGCOPY\n\377\r\n\0\0\2\0\0\0\0\0\0\377\377"),
	          "ERR[header (byte 11): unrecognized critical flags in COPY file header]");
	check_bin(S("PGCOPY\n\377\r\n\0\x80\0\0\0\0\0\0\0\377\377"),
	          "ERR[header (byte 11): unrecognized critical flags in COPY file header]");
	check_bin(S("PGCOPY\n\377\r\n\0\0\0\0\0\xff\xff\xff\xff"),
	          "ERR[header (byte 15): invalid COPY file header (missing length)]");
	check_bin(S("PGCOPY\n\377\r\n\0\0\0\0\0\0\0\0\0\377\376"),
	          "H19 ERR[row 1 (byte 19): invalid field count -2]");
	check_bin(S("PGCOPY\n\377\r\n\0\0\0\0\0\0\0\0\0\0\1\377\377\377\376"),
	          "H19 ERR[row 1 (byte 21): invalid field size -2]");
	check_bin(S("PGCOPY\n\377\r\n\0\0\0\0\0\0\0\0\0\0\1\377\377\377\377\0\2"),
	          "H19 R25 ERR[row 2 (byte 25): row field count is 2, expected 1]");
}

/* ---------------------------------------------------------------- caps */

static void
test_max_row(void **state)
{
	pgcm_format fmt;

	(void) state;
	pgcm_format_init(&fmt, PGCM_FORMAT_TEXT);
	fmt.max_row = 5;
	check_fmt(&fmt, S("abcd\nabcdef\n"),
	          "R5 ERR[row 2 (byte 10): longer than the maximum row size of 5 bytes]");
	check_fmt(&fmt, S("abcd\nabcde"), "R5 eof:R10");
	check_fmt(&fmt, S("abcd\nabcdefgh"),
	          "R5 ERR[row 2 (byte 10): longer than the maximum row size of 5 bytes]");

	pgcm_format_init(&fmt, PGCM_FORMAT_CSV);
	fmt.max_row = 6;
	fmt.header = 1;
	check_fmt(&fmt, S("\"h\n\",x\n"), "ERR[header (byte 6): longer than the maximum row size of 6 bytes]");
	fmt.header = 0;
	check_fmt(&fmt, S("\"a\n\nb\"\n"), "ERR[row 1 (byte 6): longer than the maximum row size of 6 bytes]");

	pgcm_format_init(&fmt, PGCM_FORMAT_BINARY);
	fmt.max_row = 20;
	/* The header is 19 bytes; a field of 100 bytes is refused before its bytes come. */
	check_fmt(&fmt, S("PGCOPY\n\377\r\n\0\0\0\0\0\0\0\0\0\0\1\0\0\0\1x\0\1\0\0\0\x64"),
	          "H19 R26 ERR[row 2 (byte 28): a field of 100 bytes exceeds the maximum row size of 20 bytes]");
	check_fmt(&fmt, S("PGCOPY\n\377\r\n\0\0\0\0\0\0\0\0\2ab"),
	          "ERR[header (byte 15): a header extension of 2 bytes exceeds the maximum row size of 20 bytes]");
	/* The default cap (1 GiB) refuses a declared 2 GiB - 1 field at once. */
	pgcm_format_init(&fmt, PGCM_FORMAT_BINARY);
	fmt.max_row = 0;
	check_fmt(&fmt, S("PGCOPY\n\377\r\n\0\0\0\0\0\0\0\0\0\0\1\x7f\xff\xff\xff"),
	          "H19 ERR[row 1 (byte 21): a field of 2147483647 bytes exceeds the maximum row size of 1073741824 bytes]");
}

/* A large text stream in 64 KiB pieces: the row count and offsets add up. */
static void
test_large_stream(void **state)
{
	size_t n = 3u << 20, at = 0, rows = 0;
	char *data = malloc(n);
	pgcm_format fmt;
	pgcm__rowscan s;

	(void) state;
	assert_non_null(data);
	for (size_t i = 0; i < n; i++)
		data[i] = (char) ('a' + i % 23);
	for (size_t i = 100; i < n; i += 100 + i % 37) {
		data[i] = '\n';
		if (data[i - 1] != '\\' && data[i - 2] != '\\')
			rows++;
		if (i % 7 == 0 && i + 1 < n)
			data[i + 1] = '\\';
	}
	data[n - 1] = '\n';
	pgcm_format_init(&fmt, PGCM_FORMAT_TEXT);
	pgcm__rowscan_init(&s, &fmt);
	while (at < n) {
		size_t len = n - at < 65536 ? n - at : 65536, pos = 0;
		pgcm__scan_kind k;

		while ((k = pgcm__rowscan_next(&s, data + at, len, &pos)) == PGCM__SCAN_ROW)
			;
		assert_int_equal(k, PGCM__SCAN_MORE);
		at += len;
	}
	assert_int_equal(pgcm__rowscan_eof(&s), PGCM__SCAN_MORE);
	assert_int_equal(s.offset, n);
	assert_true(s.rows > 20000);
	free(data);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_text_rows),
		cmocka_unit_test(test_text_escapes),
		cmocka_unit_test(test_text_end_marker),
		cmocka_unit_test(test_text_line_endings),
		cmocka_unit_test(test_text_header),
		cmocka_unit_test(test_csv_quotes),
		cmocka_unit_test(test_csv_line_endings),
		cmocka_unit_test(test_csv_end_marker),
		cmocka_unit_test(test_csv_header),
		cmocka_unit_test(test_csv_custom),
		cmocka_unit_test(test_binary_stream),
		cmocka_unit_test(test_binary_truncated),
		cmocka_unit_test(test_binary_malformed),
		cmocka_unit_test(test_max_row),
		cmocka_unit_test(test_large_stream),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
