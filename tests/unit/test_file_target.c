/*
 * test_file_target.c: the file: target (cli/file_target.c) on a scratch
 * directory: a new or replaced file appears only at commit, with the mode
 * the umask gives; a discarded one leaves nothing; temporary names are
 * created exclusively (planted links skipped); what must not be written
 * (directories, links to files, block devices, a FIFO nobody reads) is
 * refused at open; a failed commit says why; a kept one stays beside the
 * final path.  file_target.c is a CLI module,
 * compiled into this test directly.
 */
#include "../../cli/file_target.c"
#include "../../cli/strbuf.c"

#include <dirent.h>
#include <setjmp.h>
#include <stddef.h>
#include <sys/sysmacros.h>
#include <cmocka.h>

typedef struct scratch {
	char dir[64];
	char path[128];
} scratch;

static int
setup(void **state)
{
	scratch *s = calloc(1, sizeof *s);

	assert_non_null(s);
	snprintf(s->dir, sizeof s->dir, "/tmp/pgcm-ft.XXXXXX");
	assert_non_null(mkdtemp(s->dir));
	snprintf(s->path, sizeof s->path, "%s/out", s->dir);
	unsetenv("PGCM_TEST_NO_TMPFILE");
	unsetenv("PGCM_TEST_TEMP_SEED");
	*state = s;
	return 0;
}

static int
teardown(void **state)
{
	scratch *s = *state;
	char cmd[128];

	snprintf(cmd, sizeof cmd, "rm -rf %s", s->dir);
	assert_int_equal(system(cmd), 0);
	unsetenv("PGCM_TEST_NO_TMPFILE");
	unsetenv("PGCM_TEST_TEMP_SEED");
	free(s);
	return 0;
}

/* count_entries: how many names dir holds (besides . and ..). */
static int
count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	assert_non_null(d);
	while ((e = readdir(d)))
		n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
	closedir(d);
	return n;
}

static void
put(file_target *t, const char *text)
{
	assert_int_equal(write(file_target_fd(t), text, strlen(text)), (ssize_t) strlen(text));
}

static void
expect_contents(const char *path, const char *want)
{
	char buf[256] = {0};
	int fd = open(path, O_RDONLY);
	ssize_t n;

	assert_true(fd >= 0);
	n = read(fd, buf, sizeof buf - 1);
	close(fd);
	assert_true(n >= 0);
	assert_string_equal(buf, want);
}

/* write_old: the file that was at path before, "old\n". */
static void
write_old(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, "old\n", 4), 4);
	close(fd);
}

/* open_ok: file_target_open that must succeed. */
static file_target *
open_ok(const char *path)
{
	char *err = NULL;
	file_target *t = file_target_open(path, 100, NULL, &err);

	if (!t) {
		print_error("open %s: %s\n", path, err ? err : "(no message)");
		fail();
	}
	return t;
}

/* expect_refused: file_target_open fails, saying why. */
static void
expect_refused(const char *path, int wait_ms, const char *because)
{
	char *err = NULL;
	file_target *t = file_target_open(path, wait_ms, NULL, &err);

	assert_null(t);
	assert_non_null(err);
	if (!strstr(err, because)) {
		print_error("%s: \"%s\" does not say \"%s\"\n", path, err, because);
		fail();
	}
	free(err);
}

static void
commit_ok(file_target *t)
{
	char *err = NULL;

	if (!file_target_commit(t, &err)) {
		print_error("commit: %s\n", err ? err : "(no message)");
		fail();
	}
}

static void
test_new_file_appears_only_at_commit(void **state)
{
	scratch *s = *state;
	for (int fallback = 0; fallback < 2; fallback++) {
		mode_t old = umask(027);
		struct stat st;
		file_target *t;

		if (fallback)
			setenv("PGCM_TEST_NO_TMPFILE", "1", 1);
		t = open_ok(s->path);
		umask(old);
		assert_int_equal(t->kind, fallback ? FILE_TEMP_NAME : FILE_UNSEEN);
		put(t, "1\tone\n");
		/* Nothing at the final path yet; the fallback's temporary name is the only entry. */
		assert_int_equal(access(s->path, F_OK), -1);
		assert_int_equal(count_entries(s->dir), fallback);
		commit_ok(t);
		file_target_discard(t);
		expect_contents(s->path, "1\tone\n");
		assert_int_equal(stat(s->path, &st), 0);
		assert_int_equal(st.st_mode & 0777, 0640);
		assert_int_equal(count_entries(s->dir), 1);
		assert_int_equal(unlink(s->path), 0);
	}
}

static void
test_discard_leaves_nothing_and_the_old_file_whole(void **state)
{
	scratch *s = *state;

	write_old(s->path);
	for (int fallback = 0; fallback < 2; fallback++) {
		file_target *t;

		if (fallback)
			setenv("PGCM_TEST_NO_TMPFILE", "1", 1);
		t = open_ok(s->path);
		put(t, "new, never committed\n");
		file_target_discard(t);
		expect_contents(s->path, "old\n");
		assert_int_equal(count_entries(s->dir), 1);
	}
	/* Committed, it replaces the old file in one step. */
	{
		file_target *t = open_ok(s->path);
		put(t, "new\n");
		expect_contents(s->path, "old\n");
		commit_ok(t);
		file_target_discard(t);
		expect_contents(s->path, "new\n");
		assert_int_equal(count_entries(s->dir), 1);
	}
}

/* Links planted at the temporary names the tool tries are skipped, for both ways of writing. */
static void
test_planted_links_are_skipped(void **state)
{
	scratch *s = *state;
	char victim[128], link[160];

	snprintf(victim, sizeof victim, "%s/victim", s->dir);
	for (int fallback = 0; fallback < 2; fallback++) {
		file_target *t;
		int fd = open(victim, O_WRONLY | O_CREAT | O_TRUNC, 0644);

		assert_true(fd >= 0);
		assert_int_equal(write(fd, "precious\n", 9), 9);
		close(fd);
		/* The O_TMPFILE way needs a temporary name only to replace a file. */
		fd = open(s->path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		assert_true(fd >= 0);
		close(fd);
		setenv("PGCM_TEST_TEMP_SEED", "0x50", 1);
		if (fallback)
			setenv("PGCM_TEST_NO_TMPFILE", "1", 1);
		for (int k = 0; k < 5; k++) {
			snprintf(link, sizeof link, "%s/.out.pgcopyman-%016llx", s->dir, 0x50ULL + (unsigned) k);
			assert_int_equal(symlink(victim, link), 0);
		}
		t = open_ok(s->path);
		put(t, "data\n");
		commit_ok(t);
		file_target_discard(t);
		expect_contents(s->path, "data\n");
		expect_contents(victim, "precious\n");
		/* out, victim and the five links: nothing else, and the links are still links. */
		assert_int_equal(count_entries(s->dir), 7);
		for (int k = 0; k < 5; k++) {
			struct stat st;
			snprintf(link, sizeof link, "%s/.out.pgcopyman-%016llx", s->dir, 0x50ULL + (unsigned) k);
			assert_int_equal(lstat(link, &st), 0);
			assert_true(S_ISLNK(st.st_mode));
			unlink(link);
		}
	}
}

static void
test_what_must_not_be_written_is_refused(void **state)
{
	scratch *s = *state;
	char sub[128], link[128], fifo[128], slashed[140];

	snprintf(sub, sizeof sub, "%s/sub", s->dir);
	assert_int_equal(mkdir(sub, 0755), 0);
	expect_refused(sub, 100, "is a directory");
	snprintf(slashed, sizeof slashed, "%s/", sub);
	expect_refused(slashed, 100, "is a directory");
	expect_refused("", 100, "needs a path");
	snprintf(link, sizeof link, "%s/to-dir", s->dir);
	assert_int_equal(symlink(sub, link), 0);
	expect_refused(link, 100, "symbolic link to a directory");
	snprintf(link, sizeof link, "%s/to-file", s->dir);
	assert_int_equal(symlink("/etc/hostname", link), 0);
	expect_refused(link, 100, "is a symbolic link");
	snprintf(link, sizeof link, "%s/dangling", s->dir);
	assert_int_equal(symlink("/nonexistent/x", link), 0);
	expect_refused(link, 100, "is a symbolic link");
	expect_refused("/nonexistent-dir/out", 100, "cannot open its directory");
	/* A FIFO nobody opens for reading, within the wait. */
	snprintf(fifo, sizeof fifo, "%s/fifo", s->dir);
	assert_int_equal(mkfifo(fifo, 0600), 0);
	expect_refused(fifo, 200, "no process opened for reading");
	if (geteuid() == 0) {
		char blk[128];
		snprintf(blk, sizeof blk, "%s/blk", s->dir);
		assert_int_equal(mknod(blk, S_IFBLK | 0600, makedev(7, 200)), 0);
		expect_refused(blk, 100, "is a block device");
	}
	/* Nothing was created anywhere. */
	assert_int_equal(count_entries(sub), 0);
	assert_int_equal(count_entries(s->dir), geteuid() == 0 ? 6 : 5);
}

/* open_fifo: a FIFO "fifo" in the scratch directory, a reader on it (*rd), and the target opened on it. */
static file_target *
open_fifo(scratch *s, char *fifo, size_t size, int *rd)
{
	snprintf(fifo, size, "%s/fifo", s->dir);
	assert_int_equal(mkfifo(fifo, 0600), 0);
	*rd = open(fifo, O_RDONLY | O_NONBLOCK);
	assert_true(*rd >= 0);
	return open_ok(fifo);
}

/* A FIFO with a reader is written in place and stays a FIFO; commit has nothing to do. */
static void
test_fifo_written_in_place(void **state)
{
	scratch *s = *state;
	char fifo[128], buf[16] = {0};
	struct stat st;
	file_target *t;
	int rd;

	t = open_fifo(s, fifo, sizeof fifo, &rd);
	assert_int_equal(t->kind, FILE_IN_PLACE);
	put(t, "rows\n");
	commit_ok(t);
	file_target_discard(t);
	assert_int_equal(read(rd, buf, sizeof buf - 1), 5);
	assert_string_equal(buf, "rows\n");
	close(rd);
	assert_int_equal(lstat(fifo, &st), 0);
	assert_true(S_ISFIFO(st.st_mode));
	assert_int_equal(count_entries(s->dir), 1);
}

/* A commit that cannot put the file in place says why, and leaves nothing behind. */
static void
test_failed_commit_says_why(void **state)
{
	scratch *s = *state;

	for (int fallback = 0; fallback < 2; fallback++) {
		char sub[128], path[160], cmd[200], *err = NULL;
		file_target *t;

		snprintf(sub, sizeof sub, "%s/sub%d", s->dir, fallback);
		snprintf(path, sizeof path, "%s/out", sub);
		assert_int_equal(mkdir(sub, 0755), 0);
		if (fallback)
			setenv("PGCM_TEST_NO_TMPFILE", "1", 1);
		t = open_ok(path);
		put(t, "data\n");
		snprintf(cmd, sizeof cmd, "rm -rf %s", sub);
		assert_int_equal(system(cmd), 0);
		assert_false(file_target_commit(t, &err));
		assert_non_null(err);
		assert_non_null(strstr(err, "No such file or directory"));
		free(err);
		file_target_discard(t);
		assert_int_equal(count_entries(s->dir), 0);
	}
}

/*
 * Kept instead of committed (its server target's outcome unknown): the data
 * is durable under a name of its own beside the final path, which stays as
 * it was, and discarding the target does not remove it.
 */
static void
test_kept_beside_the_final_path(void **state)
{
	scratch *s = *state;

	write_old(s->path);
	for (int fallback = 0; fallback < 2; fallback++) {
		char *kept = NULL, *err = NULL, *slash;
		file_target *t;

		if (fallback)
			setenv("PGCM_TEST_NO_TMPFILE", "1", 1);
		t = open_ok(s->path);
		put(t, "new\n");
		assert_true(file_target_sync(t, &err));
		assert_true(file_target_keep(t, &kept, &err));
		assert_non_null(kept);
		file_target_discard(t);
		expect_contents(s->path, "old\n");
		expect_contents(kept, "new\n");
		slash = strrchr(kept, '/');
		assert_non_null(slash);
		assert_memory_equal(kept, s->dir, strlen(s->dir));
		assert_int_equal(strncmp(slash, "/.out.pgcopyman-", 16), 0);
		assert_int_equal(count_entries(s->dir), 2);
		unlink(kept);
		free(kept);
	}
	/* A FIFO was written in place: nothing to keep, and nothing left. */
	{
		char fifo[128], *kept = NULL, *err = NULL;
		file_target *t;
		int rd;

		t = open_fifo(s, fifo, sizeof fifo, &rd);
		assert_true(file_target_sync(t, &err));
		assert_true(file_target_keep(t, &kept, &err));
		assert_null(kept);
		file_target_discard(t);
		close(rd);
		assert_int_equal(count_entries(s->dir), 2);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_new_file_appears_only_at_commit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_discard_leaves_nothing_and_the_old_file_whole, setup, teardown),
		cmocka_unit_test_setup_teardown(test_planted_links_are_skipped, setup, teardown),
		cmocka_unit_test_setup_teardown(test_what_must_not_be_written_is_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fifo_written_in_place, setup, teardown),
		cmocka_unit_test_setup_teardown(test_failed_commit_says_why, setup, teardown),
		cmocka_unit_test_setup_teardown(test_kept_beside_the_final_path, setup, teardown),
	};

	return cmocka_run_group_tests_name("file_target", tests, NULL, NULL);
}
