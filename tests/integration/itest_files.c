/*
 * itest_files.c: files, pipes and callbacks as producers and receivers.
 * Exported files are byte for byte what the server writes; files load back
 * exactly in every format; input cut into pieces of any size gives the same
 * stream; malformed input is refused with its row and nothing is committed;
 * a full disk faults a file target while a server target completes.
 *
 * Clusters: 1 is the source; 2 and 3 are targets.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util.h"
#include "pgcopyman.h"

#define ROWS 3000

typedef it_world world;

/* The format variants every round trip runs through. */
static const struct variant {
	const char *name;
	const char *with;          /* the COPY options */
	const char *cli[8];        /* the same, as command options */
	pgcm_format_kind kind;
	int header;
	char delimiter;
	char quote;
} variants[] = {
	{"text", "(FORMAT text)", {"--format", "text"}, PGCM_FORMAT_TEXT, 0, '\t', '"'},
	{"text-null", "(FORMAT text, DELIMITER '|', NULL 'NIL')",
	 {"--format", "text", "--delimiter", "|", "--null", "NIL"}, PGCM_FORMAT_TEXT, 0, '|', '"'},
	{"csv", "(FORMAT csv)", {"--format", "csv"}, PGCM_FORMAT_CSV, 0, ',', '"'},
	{"csv-header", "(FORMAT csv, HEADER true, DELIMITER ';', QUOTE '''')",
	 {"--format", "csv", "--header", "--delimiter", ";", "--quote", "'"}, PGCM_FORMAT_CSV, 1, ';', '\''},
	{"binary", "(FORMAT binary)", {"--format", "binary"}, PGCM_FORMAT_BINARY, 0, '\t', '"'},
};
#define NVARIANTS (sizeof variants / sizeof variants[0])

static int
setup(void **state)
{
	world *w;

	it_world_setup(state, 2, ROWS, 0);
	w = *state;
	/* Rows whose text holds CSV's own delimiters, quotes and line breaks. */
	it_exec(w->src, "INSERT INTO t (id, s) VALUES (%d, E'semi;colon ''single'' \"double\"\\r\\nCRLF'), "
	                "(%d, ''), (%d, E'\\\\.'), (%d, NULL)", ROWS + 1, ROWS + 2, ROWS + 3, ROWS + 4);
	return 0;
}

static int
teardown(void **state)
{
	return it_world_teardown(state);
}

/* server_bytes: what the server's COPY t TO STDOUT with these options writes, whole. */
static char *
server_bytes(PGconn *conn, const char *with, size_t *len)
{
	char sql[256];

	snprintf(sql, sizeof sql, "COPY t TO STDOUT %s", with);
	return it_copy_out(conn, sql, len);
}

static char *
file_bytes(const char *path, size_t *len)
{
	struct stat st;
	char *s;

	assert_int_equal(stat(path, &st), 0);
	s = it_slurp(path);
	*len = (size_t) st.st_size;
	return s;
}

/* cli_args: the copy command with a variant's options appended. */
static it_run
cli_with(const struct variant *v, const char *const *first, const char *in_path)
{
	const char *args[32];
	int n = 0;

	for (int i = 0; first[i]; i++)
		args[n++] = first[i];
	for (int i = 0; i < 8 && v->cli[i]; i++)
		args[n++] = v->cli[i];
	args[n] = NULL;
	return it_cli_full(in_path, 0, 0, args);
}

static void
test_export_is_byte_for_byte(void **state)
{
	world *w = *state;

	for (size_t i = 0; i < NVARIANTS; i++) {
		const struct variant *v = &variants[i];
		char target[160], path[128];
		size_t want_len, got_len;
		char *want = server_bytes(w->src, v->with, &want_len), *got;
		it_run r;

		snprintf(path, sizeof path, "%s/%s.out", w->dir, v->name);
		snprintf(target, sizeof target, "file:%s", path);
		r = cli_with(v, (const char *const[]){"copy", "--from", it_conninfo(1), "--to", target,
		                                      "--table", "t", "--json", NULL}, NULL);
		it_expect_status(&r, 0);
		assert_non_null(strstr(r.out, "\"rows\": 3004"));
		/* The file target's own count, too. */
		assert_non_null(strstr(r.out, "\"status\": \"ok\", \"rows\": 3004}"));
		got = file_bytes(path, &got_len);
		if (got_len != want_len || memcmp(got, want, want_len) != 0) {
			print_error("%s: the exported file differs from the server's COPY output (%zu vs %zu bytes)\n",
			            v->name, got_len, want_len);
			fail();
		}
		free(got);
		free(want);
		it_run_free(&r);
	}
}

static void
test_round_trip_file_servers_file(void **state)
{
	world *w = *state;
	char *want_sum = it_table_checksum(w->src, "t");

	for (size_t i = 0; i < NVARIANTS; i++) {
		const struct variant *v = &variants[i];
		char path[128], from[160], back[128], back_target[160];
		size_t a_len, b_len;
		char *a, *b;
		it_run r;

		snprintf(path, sizeof path, "%s/%s.src", w->dir, v->name);
		snprintf(from, sizeof from, "file:%s", path);
		r = cli_with(v, (const char *const[]){"copy", "--from", it_conninfo(1), "--to", from,
		                                      "--table", "t", "--quiet", NULL}, NULL);
		it_expect_status(&r, 0);
		it_run_free(&r);
		/* File to two servers. */
		r = cli_with(v, (const char *const[]){"copy", "--from", from, "--to", it_conninfo(2), "--to",
		                                      it_conninfo(3), "--table", "t", "--truncate", "--json", NULL},
		             NULL);
		it_expect_status(&r, 0);
		assert_non_null(strstr(r.out, "\"rows\": 3004"));
		it_run_free(&r);
		for (int k = 0; k < 2; k++) {
			char *got = it_table_checksum(w->dst[k], "t");
			assert_string_equal(got, want_sum);
			free(got);
		}
		/* And back out to a file: the same bytes. */
		snprintf(back, sizeof back, "%s/%s.back", w->dir, v->name);
		snprintf(back_target, sizeof back_target, "file:%s", back);
		r = cli_with(v, (const char *const[]){"copy", "--from", it_conninfo(2), "--to", back_target,
		                                      "--table", "t", "--quiet", NULL}, NULL);
		it_expect_status(&r, 0);
		it_run_free(&r);
		a = file_bytes(path, &a_len);
		b = file_bytes(back, &b_len);
		assert_int_equal(a_len, b_len);
		assert_memory_equal(a, b, a_len);
		free(a);
		free(b);
	}
	free(want_sum);
}

/* A read callback that hands out a buffer in pieces of a fixed size. */
typedef struct pieces {
	const char *data;
	size_t len;
	size_t pos;
	size_t piece;
} pieces;

static long
read_pieces(void *arg, char *buf, size_t cap)
{
	pieces *p = arg;
	size_t n = p->len - p->pos;

	if (n > p->piece)
		n = p->piece;
	if (n > cap)
		n = cap;
	memcpy(buf, p->data + p->pos, n);
	p->pos += n;
	return (long) n;
}

typedef struct sink {
	char *data;
	size_t len;
	int calls;
} sink;

static int
sink_write(void *arg, const char *buf, size_t len)
{
	sink *s = arg;

	s->data = realloc(s->data, s->len + len + 1);
	assert_non_null(s->data);
	memcpy(s->data + s->len, buf, len);
	s->len += len;
	s->calls++;
	return 0;
}

static void
test_pieces_of_every_size(void **state)
{
	world *w = *state;

	for (size_t i = 0; i < NVARIANTS; i++) {
		const struct variant *v = &variants[i];
		size_t len;
		char *data = server_bytes(w->src, v->with, &len);
		pgcm_format fmt;

		pgcm_format_init(&fmt, v->kind);
		fmt.header = v->header;
		fmt.delimiter = v->delimiter;
		fmt.quote = fmt.escape = v->quote;
		for (size_t piece = 1; piece <= len; piece = piece < 64 ? piece + 1 : piece * 3) {
			pieces p = {data, len, 0, piece};
			sink s = {0};
			pgcm_copy *c = pgcm_copy_new(pgcm_producer_fn(read_pieces, &p, &fmt));
			pgcm_progress total;

			assert_non_null(c);
			pgcm_copy_set_window(c, 4096, 3);
			pgcm_copy_add(c, pgcm_receiver_fn(sink_write, &s));
			assert_int_equal(pgcm_copy_run(c, &total), PGCM_OK);
			assert_int_equal(total.rows, ROWS + 4);
			if (s.len != len || memcmp(s.data, data, len) != 0) {
				print_error("%s in pieces of %zu: %zu bytes out, %zu in\n", v->name, piece, s.len, len);
				fail();
			}
			pgcm_copy_free(c);
			free(s.data);
		}
		free(data);
	}
}

/* write_file: a small file with the given bytes. */
static void
write_file(const char *path, const char *data, size_t len)
{
	FILE *f = fopen(path, "wb");

	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, len, f), len);
	fclose(f);
}

static void
test_malformed_input_commits_nothing(void **state)
{
	world *w = *state;
	size_t blen;
	char *good_binary = server_bytes(w->src, "(FORMAT binary)", &blen);
	struct {
		const char *name;
		const char *format;
		const char *data;
		size_t len;
		const char *says;
	} cases[] = {
		{"text-after-end", "text", "1\tx\n2\ty\n\\.\n3\tz\n", 0, "row 3"},
		{"csv-unterminated", "csv", "1,\"ok\"\n2,\"never closed\n3,x\n", 0, "row 2"},
		{"binary-truncated", "binary", good_binary, blen / 2, "row"},
		{"binary-bad-signature", "binary", "PGCOPY\n\377\r\n\1garbage-garbage", 26, "signature"},
	};

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char path[128], from[160];
		it_run r;

		snprintf(path, sizeof path, "%s/%s", w->dir, cases[i].name);
		snprintf(from, sizeof from, "file:%s", path);
		write_file(path, cases[i].data, cases[i].len ? cases[i].len : strlen(cases[i].data));
		r = it_cli("copy", "--from", from, "--to", it_conninfo(2), "--to", it_conninfo(3),
		           "--target-table", "t", "--columns", "id, s", "--format", cases[i].format, "--json");
		if (strcmp(cases[i].format, "binary") == 0) {
			/* Binary data carries every column. */
			it_run_free(&r);
			r = it_cli("copy", "--from", from, "--to", it_conninfo(2), "--to", it_conninfo(3),
			           "--target-table", "t", "--format", "binary", "--json");
		}
		it_expect_status(&r, 1);
		if (!strstr(r.err, cases[i].says)) {
			print_error("%s: stderr lacks \"%s\": %s\n", cases[i].name, cases[i].says, r.err);
			fail();
		}
		assert_non_null(strstr(r.out, "\"aborted\": true"));
		assert_int_equal(it_count(w->dst[0], "t"), 0);
		assert_int_equal(it_count(w->dst[1], "t"), 0);
		it_run_free(&r);
	}
	free(good_binary);
}

static void
test_csv_header_is_not_a_row(void **state)
{
	world *w = *state;
	char path[128], from[160];
	const char *csv = "id,s\n1,one\n2,\"two\nlines\"\n3,three";
	it_run r;

	snprintf(path, sizeof path, "%s/header.csv", w->dir);
	snprintf(from, sizeof from, "file:%s", path);
	write_file(path, csv, strlen(csv));
	r = it_cli("copy", "--from", from, "--to", it_conninfo(2), "--target-table", "t", "--columns",
	           "id, s", "--format", "csv", "--header", "--json");
	it_expect_status(&r, 0);
	/* Three data rows: not the header, and the last line without its newline counts. */
	assert_non_null(strstr(r.out, "\"rows\": 3,"));
	assert_int_equal(it_count(w->dst[0], "t"), 3);
	{
		char *v = it_scalar(w->dst[0], "SELECT s FROM t WHERE id = 2");
		assert_string_equal(v, "two\nlines");
		free(v);
	}
	it_run_free(&r);
}

static void
test_stdin_and_stdout(void **state)
{
	world *w = *state;
	size_t want_len, got_len;
	char *want = server_bytes(w->src, "(FORMAT csv)", &want_len), *got;
	char path[128];
	it_run r;

	/* To stdout: the server's bytes, nothing else. */
	r = it_cli("copy", "--from", it_conninfo(1), "--to", "-", "--table", "t", "--format", "csv",
	           "--quiet");
	it_expect_status(&r, 0);
	got_len = strlen(r.out);
	assert_int_equal(got_len, want_len);
	assert_memory_equal(r.out, want, want_len);
	/* From stdin, to two servers. */
	snprintf(path, sizeof path, "%s/stdin.csv", w->dir);
	write_file(path, r.out, got_len);
	it_run_free(&r);
	r = it_cli_full(path, 0, 0, (const char *const[]){"copy", "--from", "-", "--to", it_conninfo(2),
	                "--to", it_conninfo(3), "--target-table", "t", "--format", "csv", "--json", NULL});
	it_expect_status(&r, 0);
	assert_non_null(strstr(r.out, "\"rows\": 3004"));
	it_run_free(&r);
	got = it_table_checksum(w->dst[1], "t");
	{
		char *src_sum = it_table_checksum(w->src, "t");
		assert_string_equal(got, src_sum);
		free(src_sum);
	}
	free(got);
	free(want);
}

static void
test_full_disk_faults_the_file_target(void **state)
{
	world *w = *state;
	char mnt[128], target[160];
	it_run r;

	if (geteuid() != 0) {
		print_error("this test mounts a small tmpfs and must run as root (CI does)\n");
		fail();
	}
	snprintf(mnt, sizeof mnt, "%s/small", w->dir);
	assert_int_equal(mkdir(mnt, 0755), 0);
	if (mount("tmpfs", mnt, "tmpfs", 0, "size=64k") != 0) {
		print_error("mount tmpfs on %s: %s\n", mnt, strerror(errno));
		fail();
	}
	snprintf(target, sizeof target, "file:%s/out.copy", mnt);
	r = it_cli("copy", "--from", it_conninfo(1), "--to", target, "--to", it_conninfo(2),
	           "--table", "t", "--json");
	it_expect_status(&r, 3);
	assert_non_null(strstr(r.out, "No space left on device"));
	assert_non_null(strstr(r.out, "\"status\": \"faulted\""));
	assert_int_equal(it_count(w->dst[0], "t"), ROWS + 4);
	/* Nothing half-written is left behind. */
	assert_int_equal(it_system("test -z \"$(ls -A %s)\"", mnt), 0);
	it_run_free(&r);
	assert_int_equal(umount(mnt), 0);
}

IT_GROUP(files)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_export_is_byte_for_byte, setup, teardown),
		cmocka_unit_test_setup_teardown(test_round_trip_file_servers_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pieces_of_every_size, setup, teardown),
		cmocka_unit_test_setup_teardown(test_malformed_input_commits_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_csv_header_is_not_a_row, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stdin_and_stdout, setup, teardown),
		cmocka_unit_test_setup_teardown(test_full_disk_faults_the_file_target, setup, teardown),
	};
	return it_add_group("files", tests, NULL, NULL);
}
