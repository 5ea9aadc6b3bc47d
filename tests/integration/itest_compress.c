/*
 * itest_compress.c: compressed files (file:NAME.gz, .zst, .lz4) through the
 * command: written compressed, byte for byte what the server's own COPY TO
 * writes once decompressed (by gzip, zstd and lz4 themselves), read back
 * into a server exactly; files the tools wrote (several gzip members too)
 * load; a truncated or corrupt file is an error naming it, and nothing is
 * committed; a compressed target appears only when the copy succeeded; a
 * write error names the file; --compress is checked; memory stays bounded.
 *
 * Clusters: 1 is the source, 2 the target; database "comp17" on both.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util.h"

#define DB "comp17"
#define ROWS 20000

static const struct codec {
	const char *ext;
	const char *decompress;   /* the tool's command that writes the plain data to stdout */
	const char *compress;     /* the tool's command that compresses stdin to stdout */
	const unsigned char magic[4];
} codecs[] = {
	{"gz", "gzip -dc", "gzip -c", {0x1f, 0x8b, 0x08, 0}},
	{"zst", "zstd -qdc", "zstd -qc", {0x28, 0xb5, 0x2f, 0xfd}},
	{"lz4", "lz4 -qdc", "lz4 -qc", {0x04, 0x22, 0x4d, 0x18}},
};
#define NCODECS (sizeof codecs / sizeof codecs[0])

typedef struct world {
	PGconn *src, *dst;
	char *src_ci, *dst_ci;
	char dir[64];
	char *src_sum;
} world;

static int
setup(void **state)
{
	world *w = calloc(1, sizeof *w);

	assert_non_null(w);
	it_create_database(1, DB);
	it_create_database(2, DB);
	w->src = it_connect_pinned(1, DB);
	w->dst = it_connect_db(2, DB);
	w->src_ci = it_conninfo_db(1, DB);
	w->dst_ci = it_conninfo_db(2, DB);
	it_create_mixed_table(w->src, "t");
	it_fill_mixed(w->src, "t", ROWS);
	it_create_mixed_table(w->dst, "t");
	w->src_sum = it_table_checksum(w->src, "t");
	snprintf(w->dir, sizeof w->dir, "/tmp/pgcm-comp.XXXXXX");
	assert_non_null(mkdtemp(w->dir));
	*state = w;
	return 0;
}

static int
teardown(void **state)
{
	world *w = *state;

	it_system("rm -rf '%s'", w->dir);
	PQfinish(w->src);
	PQfinish(w->dst);
	free(w->src_ci);
	free(w->dst_ci);
	free(w->src_sum);
	free(w);
	return 0;
}

/* file_bytes: the whole file at path (malloc'd), its size in *len. */
static char *
file_bytes(const char *path, size_t *len)
{
	struct stat st;
	char *buf;
	int fd = open(path, O_RDONLY);

	assert_true(fd >= 0);
	assert_int_equal(fstat(fd, &st), 0);
	buf = malloc((size_t) st.st_size + 1);
	assert_non_null(buf);
	assert_int_equal(read(fd, buf, (size_t) st.st_size), st.st_size);
	close(fd);
	*len = (size_t) st.st_size;
	return buf;
}

/* expect_equal_bytes: a and b are the same bytes (says where they part). */
static void
expect_equal_bytes(const char *what, const char *a, size_t alen, const char *b, size_t blen)
{
	size_t i = 0;

	while (i < alen && i < blen && a[i] == b[i])
		i++;
	if (i != alen || alen != blen)
		fail_msg("%s: %zu and %zu bytes, different from byte %zu", what, alen, blen, i);
}

/* file_spec: "file:DIR/NAME" (static). */
static const char *
file_spec(const world *w, const char *name)
{
	static char spec[256];

	snprintf(spec, sizeof spec, "file:%s/%s", w->dir, name);
	return spec;
}

/*
 * Server -> .gz / .zst / .lz4 -> server, in text, csv and binary: the file is
 * compressed (its magic number), the tool's own decompression of it is
 * byte for byte the server's COPY TO output, and loading it stores the same
 * rows.
 */
static void
test_round_trip_byte_exact(void **state)
{
	world *w = *state;
	static const char *const formats[] = {"text", "csv", "binary"};

	for (size_t c = 0; c < NCODECS; c++) {
		for (size_t f = 0; f < 3; f++) {
			char name[64], plain[256], sql[128], what[256];
			const char *spec;
			char *want, *got, *sum;
			size_t want_len, got_len;
			it_run r;

			snprintf(name, sizeof name, "t-%s.%s", formats[f], codecs[c].ext);
			spec = file_spec(w, name);
			r = it_cli("copy", "--from", w->src_ci, "--to", spec, "--table", "t", "--format", formats[f]);
			it_expect_status(&r, 0);
			it_run_free(&r);

			got = file_bytes(spec + 5, &got_len);
			if (got_len < 4 || memcmp(got, codecs[c].magic, codecs[c].ext[0] == 'g' ? 3 : 4) != 0)
				fail_msg("%s is not a %s file", spec + 5, codecs[c].ext);
			free(got);
			snprintf(plain, sizeof plain, "%s/%s.plain", w->dir, name);
			assert_int_equal(it_system("%s '%s' > '%s'", codecs[c].decompress, spec + 5, plain), 0);
			got = file_bytes(plain, &got_len);
			snprintf(sql, sizeof sql, "COPY t TO STDOUT (FORMAT %s)", formats[f]);
			want = it_copy_out(w->src, sql, &want_len);
			snprintf(what, sizeof what, "%s decompressed vs the server's %s", name, sql);
			expect_equal_bytes(what, got, got_len, want, want_len);
			free(got);
			free(want);

			r = it_cli("copy", "--from", spec, "--to", w->dst_ci, "--table", "t", "--format", formats[f]);
			it_expect_status(&r, 0);
			it_run_free(&r);
			sum = it_table_checksum(w->dst, "t");
			if (strcmp(sum, w->src_sum) != 0)
				fail_msg("%s loaded into the target differs from the source", name);
			free(sum);
			it_exec(w->dst, "TRUNCATE t");
		}
	}
}

/* --compress: the level reaches the codec (gzip 1 vs 9: both exact, 9 not larger). */
static void
test_compress_level(void **state)
{
	world *w = *state;
	size_t len[2];

	for (int i = 0; i < 2; i++) {
		char name[32];
		const char *spec;
		char *bytes;
		it_run r;

		snprintf(name, sizeof name, "level%d.csv.gz", i ? 9 : 1);
		spec = file_spec(w, name);
		r = it_cli("copy", "--from", w->src_ci, "--to", spec, "--table", "t", "--format", "csv",
		           "--compress", i ? "9" : "1");
		it_expect_status(&r, 0);
		it_run_free(&r);
		bytes = file_bytes(spec + 5, &len[i]);
		/* gzip's header says which: 4 = fastest, 2 = best. */
		assert_int_equal((unsigned char) bytes[8], i ? 2 : 4);
		free(bytes);
	}
	assert_true(len[1] <= len[0]);
}

/* Files the tools wrote load; two gzip members one after the other read as one stream. */
static void
test_reads_the_tools_files(void **state)
{
	world *w = *state;
	char plain[256];
	char *want;
	size_t want_len;
	FILE *f;

	want = it_copy_out(w->src, "COPY t TO STDOUT (FORMAT csv)", &want_len);
	snprintf(plain, sizeof plain, "%s/tools.csv", w->dir);
	f = fopen(plain, "w");
	assert_non_null(f);
	assert_int_equal(fwrite(want, 1, want_len, f), want_len);
	assert_int_equal(fclose(f), 0);
	free(want);
	for (size_t c = 0; c < NCODECS; c++) {
		char path[300];
		char *sum;
		it_run r;

		snprintf(path, sizeof path, "%s/tools.csv.%s", w->dir, codecs[c].ext);
		if (c == 0) {
			/* Two members: the first 1000 lines, then the rest. */
			assert_int_equal(it_system("head -n 1000 '%s' | gzip -c > '%s' && tail -n +1001 '%s' | gzip -c >> '%s'",
			                           plain, path, plain, path), 0);
		} else {
			assert_int_equal(it_system("%s < '%s' > '%s'", codecs[c].compress, plain, path), 0);
		}
		{
			char spec[310];
			snprintf(spec, sizeof spec, "file:%s", path);
			r = it_cli("copy", "--from", spec, "--to", w->dst_ci, "--table", "t", "--format", "csv");
		}
		it_expect_status(&r, 0);
		it_run_free(&r);
		sum = it_table_checksum(w->dst, "t");
		if (strcmp(sum, w->src_sum) != 0)
			fail_msg("%s (written by the tool) loaded differs from the source", path);
		free(sum);
		it_exec(w->dst, "TRUNCATE t");
	}
}

/* damage: copy src to dst, then cut it to len bytes (truncate) or overwrite n bytes at off with 0x5a. */
static void
damage(const char *src, const char *dst, long cut_to, long off, int n)
{
	size_t len;
	char *bytes = file_bytes(src, &len);
	FILE *f = fopen(dst, "w");

	assert_non_null(f);
	if (cut_to >= 0)
		len = (size_t) cut_to;
	if (off < 0)
		off += (long) len;
	for (int i = 0; i < n; i++)
		bytes[off + i] ^= 0x5a;
	assert_int_equal(fwrite(bytes, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
	free(bytes);
}

/*
 * A compressed source cut short, or with a wrong checksum (every row decodes,
 * the check at the end fails), or with a damaged block: exit 1, an error
 * naming the file and what is wrong, first; nothing committed: the target,
 * emptied by --truncate in the same transaction, keeps its rows.
 */
static void
test_truncated_or_corrupt_commits_nothing(void **state)
{
	world *w = *state;

	it_exec(w->dst, "INSERT INTO t (id) VALUES (-1), (-2)");
	for (size_t c = 0; c < NCODECS; c++) {
		char good[256], bad[256], spec[300], name[64];
		struct {
			const char *how;
			long cut_to, off;
			int n;
			const char *says;
		} cases[] = {
			{"cut", 0, 0, 0, "truncated"},
			{"checksum", -1, -1, 1, "corrupt"},
			{"block", -1, 0, 0, "corrupt"},
		};
		size_t len;
		it_run r;

		snprintf(name, sizeof name, "good.csv.%s", codecs[c].ext);
		snprintf(good, sizeof good, "%s", file_spec(w, name) + 5);
		snprintf(spec, sizeof spec, "file:%s", good);
		r = it_cli("copy", "--from", w->src_ci, "--to", spec, "--table", "t", "--format", "csv");
		it_expect_status(&r, 0);
		it_run_free(&r);
		free(file_bytes(good, &len));
		cases[0].cut_to = (long) len / 2;
		/* A damaged block: in the middle (lz4 checks each block; gzip and zstd their structure or checksum). */
		cases[2].off = (long) len / 2;
		cases[2].n = 8;
		for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
			char first[512];
			snprintf(bad, sizeof bad, "%s/bad-%s.csv.%s", w->dir, cases[k].how, codecs[c].ext);
			damage(good, bad, cases[k].cut_to, cases[k].off, cases[k].n);
			snprintf(spec, sizeof spec, "file:%s", bad);
			r = it_cli("copy", "--from", spec, "--to", w->dst_ci, "--table", "t", "--format", "csv",
			           "--truncate");
			it_expect_status(&r, 1);
			snprintf(first, sizeof first, "pgcopyman: copy aborted: file %s: %s", bad, cases[k].says);
			if (strncmp(r.err, first, strlen(first)) != 0 && (k != 2 || !strstr(r.err, first)))
				fail_msg("%s (%s): want \"%s\" first, got:\n%s", bad, cases[k].how, first, r.err);
			assert_int_equal(it_count(w->dst, "t"), 2);
			it_run_free(&r);
		}
	}
}

/*
 * A compressed target appears only when the copy succeeded: with --on-fault
 * abort and another target failing, no file (and an old one is untouched).
 */
static void
test_target_in_place_only_on_success(void **state)
{
	world *w = *state;
	const char *spec = file_spec(w, "abort.csv.zst");
	char *old;
	size_t len;
	FILE *f;
	it_run r;

	it_exec(w->dst, "INSERT INTO t (id) VALUES (500)");   /* target 2 fails on its key */
	r = it_cli("copy", "--from", w->src_ci, "--to", spec, "--to", w->dst_ci, "--table", "t",
	           "--on-fault", "abort", "--segment-size", "1");
	it_expect_status(&r, 1);
	it_run_free(&r);
	assert_int_equal(access(spec + 5, F_OK), -1);

	f = fopen(spec + 5, "w");
	assert_non_null(f);
	fputs("old contents\n", f);
	assert_int_equal(fclose(f), 0);
	r = it_cli("copy", "--from", w->src_ci, "--to", spec, "--to", w->dst_ci, "--table", "t",
	           "--on-fault", "abort", "--segment-size", "1");
	it_expect_status(&r, 1);
	it_run_free(&r);
	old = file_bytes(spec + 5, &len);
	expect_equal_bytes("the old file", old, len, "old contents\n", 13);
	free(old);
}

/* A write error (a link to /dev/full, a device written in place): the fault names the file and why. */
static void
test_write_error_names_file(void **state)
{
	world *w = *state;
	char link_path[256], spec[300];
	it_run r;

	snprintf(link_path, sizeof link_path, "%s/full.csv.gz", w->dir);
	assert_int_equal(symlink("/dev/full", link_path), 0);
	snprintf(spec, sizeof spec, "file:%s", link_path);
	r = it_cli("copy", "--from", w->src_ci, "--to", spec, "--to", w->dst_ci, "--table", "t");
	it_expect_status(&r, 3);
	if (!strstr(r.err, link_path) || !strstr(r.err, "write: No space left on device"))
		fail_msg("the fault should name %s and ENOSPC:\n%s", link_path, r.err);
	assert_int_equal(it_count(w->dst, "t"), ROWS);
	it_run_free(&r);
}

/* --header from a compressed file: read through a decompressor of its own and compared with the columns. */
static void
test_header_of_compressed_source(void **state)
{
	world *w = *state;
	const char *spec = file_spec(w, "header.csv.lz4");
	char from[300];
	it_run r;

	r = it_cli("copy", "--from", w->src_ci, "--to", spec, "--table", "t", "--format", "csv", "--header");
	it_expect_status(&r, 0);
	it_run_free(&r);
	snprintf(from, sizeof from, "%s", spec);
	r = it_cli("copy", "--from", from, "--to", w->dst_ci, "--table", "t", "--format", "csv", "--header");
	it_expect_status(&r, 0);
	assert_int_equal(it_count(w->dst, "t"), ROWS);
	it_run_free(&r);
	it_exec(w->dst, "TRUNCATE t");
	/* Another column order than the header's: refused before any data moves. */
	r = it_cli("copy", "--from", from, "--to", w->dst_ci, "--table", "t", "--format", "csv", "--header",
	           "--columns", "s, id, ts, n, a, j, b, u, by");
	it_expect_status(&r, 1);
	assert_non_null(strstr(r.err, "header"));
	assert_int_equal(it_count(w->dst, "t"), 0);
	it_run_free(&r);
}

/* --compress is checked against each compressed target's codec, before anything connects. */
static void
test_compress_usage(void **state)
{
	world *w = *state;
	static const struct {
		const char *ext, *level, *says;
	} cases[] = {
		{"gz", "10", "gzip takes levels 1 to 9"},
		{"zst", "20", "zstd takes levels 1 to 19"},
		{"lz4", "0", "lz4 takes levels 1 to 12"},
		{"csv", "3", "--compress applies to a compressed file target"},
	};

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char name[32];
		it_run r;

		snprintf(name, sizeof name, "usage.%s", cases[i].ext);
		r = it_cli("copy", "--from", w->src_ci, "--to", file_spec(w, name), "--table", "t", "--compress",
		           cases[i].level);
		it_expect_status(&r, 2);
		if (!strstr(r.err, cases[i].says))
			fail_msg("--compress %s for .%s: want \"%s\":\n%s", cases[i].level, cases[i].ext, cases[i].says, r.err);
		it_run_free(&r);
	}
}

/*
 * Memory stays bounded: 180 MB of COPY data through zstd in a process that
 * grows by far less than that (above what it inherits from this test; under
 * ASan its quarantine is kept small, so that freed memory is not counted).
 */
static void
test_memory_bounded(void **state)
{
	world *w = *state;
	const char *args[] = {"copy", "--from", w->src_ci, "--to", NULL, "--table", "big", "--format", "csv", NULL};
	long rss_kb, base_kb;
	it_proc p;
	it_run r;

	it_exec(w->src, "CREATE TABLE big AS SELECT g AS id, repeat('x', 300) AS v FROM generate_series(1, 600000) g");
	args[4] = file_spec(w, "big.csv.zst");
	setenv("ASAN_OPTIONS", "detect_leaks=1:quarantine_size_mb=16", 1);
	base_kb = it_inherited_maxrss_kb();
	it_cli_spawn(&p, args, -1, 0);
	r = it_cli_wait(&p, &rss_kb);
	it_expect_status(&r, 0);
	it_run_free(&r);
	if (rss_kb > base_kb + 64 * 1024)
		fail_msg("exporting 180 MB to .zst took %ld kB of memory (%ld kB inherited)", rss_kb, base_kb);
	it_exec(w->src, "DROP TABLE big");
}

IT_GROUP(compress)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip_byte_exact),
		cmocka_unit_test(test_compress_level),
		cmocka_unit_test(test_reads_the_tools_files),
		cmocka_unit_test(test_truncated_or_corrupt_commits_nothing),
		cmocka_unit_test(test_target_in_place_only_on_success),
		cmocka_unit_test(test_write_error_names_file),
		cmocka_unit_test(test_header_of_compressed_source),
		cmocka_unit_test(test_compress_usage),
		cmocka_unit_test(test_memory_bounded),
	};
	return it_add_group("compress", tests, setup, teardown);
}
