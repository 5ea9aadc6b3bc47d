/*
 * test_codec.c: compressed files as streams (cli/codec*.c), without a
 * server: what a writer writes, a reader gives back exactly, whatever the
 * sizes of the writes and reads (down to one byte: output the codec holds
 * back at the end of the file is not lost); several streams one after the
 * other read as one; a file cut anywhere, a flipped byte, an empty file or
 * plain text is an error naming the file, never data that ends early.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "../../cli/strbuf.c"
#include "../../cli/codec.c"
#include "../../cli/codec_zlib.c"
#include "../../cli/codec_zstd.c"
#include "../../cli/codec_lz4.c"

static const codec_kind kinds[] = {CODEC_GZIP, CODEC_ZSTD, CODEC_LZ4};

/* sample: n bytes of COPY-like text, compressible but not trivially. */
static char *
sample(size_t n)
{
	char *s = malloc(n);
	uint32_t x = 12345;

	assert_non_null(s);
	for (size_t i = 0; i < n; i++) {
		x = x * 1103515245 + 12345;
		s[i] = i % 61 == 60 ? '\n' : (char) ('a' + (x >> 16) % 7);
	}
	return s;
}

/* compress_to: write data (n bytes) compressed into a new temporary file, in pieces of step bytes; its fd. */
static int
compress_to(codec_kind k, const char *data, size_t n, size_t step, int level)
{
	char path[] = "/tmp/pgcm-codec.XXXXXX";
	int fd = mkstemp(path);
	char *err = NULL;
	codec_writer *w;

	assert_true(fd >= 0);
	unlink(path);
	w = codec_writer_new(k, fd, level, "test.file", &err);
	assert_non_null(w);
	for (size_t at = 0; at < n; at += step)
		assert_int_equal(codec_write(w, data + at, n - at < step ? n - at : step), 0);
	assert_int_equal(codec_writer_finish(w, &err), 1);
	codec_writer_free(w);
	assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
	return fd;
}

/* read_all: everything a reader gives, in reads of cap bytes; NULL on an error (*why: the message). */
static char *
read_all(codec_kind k, int fd, size_t cap, size_t *len, char **why)
{
	codec_reader *r = codec_reader_new(k, fd, "test.file");
	size_t have = 0, size = 1 << 16;
	char *out = malloc(size);
	long n;

	assert_non_null(r);
	assert_non_null(out);
	*why = NULL;
	for (;;) {
		while (size - have < cap) {
			size *= 2;
			out = realloc(out, size);
			assert_non_null(out);
		}
		n = codec_read(r, out + have, cap);
		if (n <= 0)
			break;
		have += (size_t) n;
	}
	if (n < 0) {
		*why = strdup(codec_reader_error(r));
		free(out);
		out = NULL;
	}
	codec_reader_free(r);
	*len = have;
	return out;
}

static void
test_round_trip_any_sizes(void **state)
{
	static const size_t sizes[] = {0, 1, 7, 65536, 300000};
	static const size_t steps[] = {1, 13, 65536, 1 << 20};
	static const size_t caps[] = {1, 3, 4096, 1 << 18};
	(void) state;

	for (size_t k = 0; k < 3; k++)
		for (size_t s = 0; s < 5; s++)
			for (size_t st = 0; st < 4; st++) {
				char *data, *got, *why;
				int min, max, def, fd;
				size_t len;

				/* One-byte writes of the big sample take long and say nothing new. */
				if (steps[st] == 1 && sizes[s] > 65536)
					continue;
				data = sample(sizes[s] ? sizes[s] : 1);
				codec_levels(kinds[k], &min, &max, &def);
				fd = compress_to(kinds[k], data, sizes[s], steps[st], st % 2 ? max : def);
				for (size_t c = 0; c < 4; c++) {
					if (caps[c] < 4 && sizes[s] > 65536)
						continue;
					assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
					got = read_all(kinds[k], fd, caps[c], &len, &why);
					if (!got)
						fail_msg("%s, %zu bytes written by %zu, read by %zu: %s", codec_name(kinds[k]),
						         sizes[s], steps[st], caps[c], why);
					assert_int_equal(len, sizes[s]);
					assert_memory_equal(got, data, len);
					free(got);
				}
				close(fd);
				free(data);
			}
}

/* Two streams in one file (`cat a b`) read as one. */
static void
test_streams_one_after_another(void **state)
{
	(void) state;
	for (size_t k = 0; k < 3; k++) {
		char *a = sample(5000), *got, *why, buf[1 << 16];
		int fa = compress_to(kinds[k], a, 5000, 5000, 1), fb = compress_to(kinds[k], a, 3000, 3000, 1);
		FILE *both = tmpfile();
		size_t n, len;

		assert_non_null(both);
		while ((n = (size_t) read(fa, buf, sizeof buf)) > 0 && n != (size_t) -1)
			fwrite(buf, 1, n, both);
		while ((n = (size_t) read(fb, buf, sizeof buf)) > 0 && n != (size_t) -1)
			fwrite(buf, 1, n, both);
		fflush(both);
		rewind(both);
		got = read_all(kinds[k], fileno(both), 4096, &len, &why);
		if (!got)
			fail_msg("%s, two streams: %s", codec_name(kinds[k]), why);
		assert_int_equal(len, 8000);
		assert_memory_equal(got, a, 5000);
		assert_memory_equal(got + 5000, a, 3000);
		free(got);
		fclose(both);
		close(fa);
		close(fb);
		free(a);
	}
}

/* damaged: the file of fd, cut to cut bytes (or whole: -1) with byte flip (or none: -1) flipped; a new fd. */
static int
damaged(int fd, long cut, long flip)
{
	char buf[1 << 20];
	ssize_t n;
	FILE *f = tmpfile();

	assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
	n = read(fd, buf, sizeof buf);
	assert_true(n > 0);
	if (cut >= 0 && cut < n)
		n = cut;
	if (flip >= 0 && flip < n)
		buf[flip] ^= 0x01;
	assert_non_null(f);
	fwrite(buf, 1, (size_t) n, f);
	fflush(f);
	return dup(fileno(f));   /* tmpfile is removed; the descriptor lives on */
}

/* Cut anywhere, a flipped byte anywhere: an error naming the file, never a short read that looks complete. */
static void
test_cut_or_flipped_is_an_error(void **state)
{
	(void) state;
	for (size_t k = 0; k < 3; k++) {
		char *data = sample(20000), *why;
		int fd = compress_to(kinds[k], data, 20000, 20000, 1);
		off_t size = lseek(fd, 0, SEEK_END);

		for (long at = 0; at < (long) size; at += at < 64 ? 1 : 97) {
			for (int how = 0; how < 2; how++) {
				int bad = damaged(fd, how ? -1 : at, how ? at : -1);
				size_t len;
				char *got = read_all(kinds[k], bad, 4096, &len, &why);

				/*
				 * A flipped bit in a gzip header's optional fields may be harmless (the OS
				 * byte, the time): then the data must still be exact.
				 */
				if (got && (how == 0 || len != 20000 || memcmp(got, data, len) != 0))
					fail_msg("%s %s at byte %ld of %ld read as %zu good-looking bytes", codec_name(kinds[k]),
					         how ? "flipped" : "cut", at, (long) size, len);
				if (!got && !strstr(why, "file test.file: "))
					fail_msg("the error does not name the file: %s", why);
				free(got);
				free(why);
				close(bad);
			}
		}
		close(fd);
		free(data);
	}
}

/* An empty file and a plain file are not compressed data. */
static void
test_not_compressed(void **state)
{
	(void) state;
	for (size_t k = 0; k < 3; k++) {
		FILE *f = tmpfile();
		size_t len;
		char *why, *got;

		assert_non_null(f);
		got = read_all(kinds[k], fileno(f), 4096, &len, &why);
		assert_null(got);
		assert_non_null(strstr(why, "empty"));
		free(why);
		fputs("1\tplain text\n", f);
		fflush(f);
		rewind(f);
		got = read_all(kinds[k], fileno(f), 4096, &len, &why);
		assert_null(got);
		assert_non_null(strstr(why, "test.file"));
		free(why);
		fclose(f);
	}
}

static void
test_names_and_levels(void **state)
{
	int min, max, def;
	(void) state;

	assert_int_equal(codec_for_path("a.csv.gz"), CODEC_GZIP);
	assert_int_equal(codec_for_path("A.CSV.ZST"), CODEC_ZSTD);
	assert_int_equal(codec_for_path("dir.gz/a.lz4"), CODEC_LZ4);
	assert_int_equal(codec_for_path("a.csv"), CODEC_NONE);
	assert_int_equal(codec_for_path(".gz"), CODEC_NONE);
	codec_levels(CODEC_ZSTD, &min, &max, &def);
	assert_int_equal(min, 1);
	assert_int_equal(max, 19);
	assert_int_equal(def, 3);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip_any_sizes),
		cmocka_unit_test(test_streams_one_after_another),
		cmocka_unit_test(test_cut_or_flipped_is_an_error),
		cmocka_unit_test(test_not_compressed),
		cmocka_unit_test(test_names_and_levels),
	};

	return cmocka_run_group_tests_name("codec", tests, NULL, NULL);
}
