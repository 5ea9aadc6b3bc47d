/*
 * itest_endpoints.c: `pgcopyman copy` endpoints a hostile or careless user
 * gives: file targets (symbolic links planted at every name the tool may
 * create, FIFOs, device nodes and sockets, directories, kill -9 mid-copy),
 * option values of any length, abbreviated options carrying passwords (in
 * the process title, the output and the server logs), rows longer than
 * --max-row-size, and the summary's reasons for faulted targets.
 *
 * Clusters: 1 is the source; 2 and 3 are targets; 4 is stopped (SIGSTOP of
 * its postmaster) while a command connects to it, so that the command is
 * seen running with its arguments.  Run with tests/harness.sh -n 4.
 */
#define _GNU_SOURCE   /* pipe2 */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "util.h"

#define ROWS 5000
#define SENTINEL "Pw4Sentinel9xQ"

/* A postmaster a test stopped: teardown wakes it whatever happened. */
static pid_t stopped_postmaster;

typedef it_world world;

/* A command started in the background (util.h), and what came of it. */
typedef struct proc {
	it_proc run;
	pid_t pid;
	it_run r;
	long maxrss_kb;
} proc;

/* setup: the shared fixture (source, two targets, a directory) with a narrow t of ROWS rows. */
static int
setup(void **state)
{
	world *w;

	it_world_setup(state, 2, 0, 0);
	w = *state;
	it_exec(w->src, "DROP TABLE t; CREATE TABLE t (id int PRIMARY KEY, s text); "
	                "INSERT INTO t SELECT g, 'row ' || g || repeat('x', g %% 50) FROM generate_series(1, %d) g",
	        ROWS);
	for (int i = 0; i < 2; i++)
		it_exec(w->dst[i], "DROP TABLE t; CREATE TABLE t (id int PRIMARY KEY, s text)");
	return 0;
}

/* teardown: wake a postmaster a failed test left stopped, then the shared teardown. */
static int
teardown(void **state)
{
	if (stopped_postmaster) {
		it_signal_backend(stopped_postmaster, SIGCONT);
		stopped_postmaster = 0;
	}
	return it_world_teardown(state);
}

/* source_text: what the source's COPY t TO STDOUT writes (text), malloc'd; its length in *len. */
static char *
source_text(const world *w, size_t *len)
{
	return it_copy_out(w->src, "COPY t TO STDOUT", len);
}

/* proc_start / proc_wait: it_cli_spawn and it_cli_wait on a proc (a gated one is released by the wait). */
static void
proc_start(proc *p, const char *const *args, int in_fd, int gated)
{
	memset(p, 0, sizeof *p);
	it_cli_spawn(&p->run, args, in_fd, gated);
	p->pid = p->run.pid;
}

static void
proc_wait(proc *p)
{
	p->r = it_cli_wait(&p->run, &p->maxrss_kb);
}

/* sanitizer_clean: no sanitizer report and no death by signal in a run. */
static void
sanitizer_clean(const it_run *r, const char *what)
{
	if (r->status >= 128 || strstr(r->err, "Sanitizer") || strstr(r->err, "runtime error")) {
		print_error("%s: exit %d\nstderr: %.3000s\n", what, r->status, r->err);
		fail();
	}
}

/* no_sentinel: the sentinel password is nowhere in s. */
static void
no_sentinel(const char *s, const char *where)
{
	if (strstr(s, SENTINEL)) {
		print_error("the password shows in %s: %.2000s\n", where, s);
		fail();
	}
}

/* entries: the names in dir, sorted, joined with spaces. */
static char *
entries(const char *dir)
{
	struct dirent **list;
	int n = scandir(dir, &list, NULL, alphasort);
	size_t len = 1;
	char *s;

	assert_true(n >= 0);
	for (int i = 0; i < n; i++)
		len += strlen(list[i]->d_name) + 1;
	s = calloc(1, len);
	assert_non_null(s);
	for (int i = 0; i < n; i++) {
		if (strcmp(list[i]->d_name, ".") && strcmp(list[i]->d_name, "..")) {
			if (*s)
				strcat(s, " ");
			strcat(s, list[i]->d_name);
		}
		free(list[i]);
	}
	free(list);
	return s;
}

static void
expect_entries(const char *dir, const char *want)
{
	char *got = entries(dir);

	if (strcmp(got, want) != 0) {
		print_error("%s holds \"%s\", expected \"%s\"\n", dir, got, want);
		fail();
	}
	free(got);
}

static void
expect_file(const char *path, const char *want, size_t want_len)
{
	struct stat st;
	char *got;

	assert_int_equal(lstat(path, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	got = it_slurp(path);
	if ((size_t) st.st_size != want_len || memcmp(got, want, want_len) != 0) {
		print_error("%s: %lld bytes, expected %zu (or different bytes)\n", path, (long long) st.st_size,
		            want_len);
		fail();
	}
	free(got);
}

static void
write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	assert_int_equal(fclose(f), 0);
}

/* expect_link: path is still a symbolic link to target. */
static void
expect_link(const char *path, const char *target)
{
	char buf[512];
	ssize_t n = readlink(path, buf, sizeof buf - 1);

	if (n < 0) {
		print_error("%s is no longer a symbolic link: %s\n", path, strerror(errno));
		fail();
	}
	buf[n] = '\0';
	assert_string_equal(buf, target);
}

/* setting: the value of keyword (e.g. "host") in cluster i's connection string, malloc'd. */
static char *
setting(int i, const char *keyword)
{
	char key[32], *value;
	const char *at;

	snprintf(key, sizeof key, "%s=", keyword);
	at = strstr(it_conninfo(i), key);
	assert_non_null(at);
	value = strdup(at + strlen(key));
	assert_non_null(value);
	value[strcspn(value, " ")] = '\0';
	return value;
}

/* ------------------------------------------------------------------------ */

/*
 * A directory as the target is refused with the reason before the source is
 * read: every byte given on stdin is still in the pipe afterwards, and
 * nothing is created beside it.
 */
static void
test_directory_target_refused_before_reading(void **state)
{
	world *w = *state;
	char sub[128], target[160], buf[512];
	int in[2], queued = 0;
	proc p;
	size_t want_len;
	char *want = source_text(w, &want_len);

	snprintf(sub, sizeof sub, "%s/sub", w->dir);
	assert_int_equal(mkdir(sub, 0755), 0);
	snprintf(target, sizeof target, "file:%s", sub);
	assert_int_equal(pipe2(in, O_CLOEXEC), 0);
	assert_int_equal(write(in[1], want, 4096), 4096);
	close(in[1]);
	proc_start(&p, (const char *const[]){"copy", "--from", "-", "--to", it_conninfo(2), "--to", target,
	                                     "--target-table", "t", "--format", "text", NULL},
	           in[0], 0);
	proc_wait(&p);
	it_expect_status(&p.r, 1);
	assert_non_null(strstr(p.r.err, sub));
	assert_non_null(strstr(p.r.err, "is a directory"));
	/* Not a byte was read: all of them are still in the pipe (its writer is closed: EOF after them). */
	for (ssize_t n; (n = read(in[0], buf, sizeof buf)) > 0;)
		queued += (int) n;
	assert_int_equal(queued, 4096);
	close(in[0]);
	expect_entries(w->dir, "sub");
	expect_entries(sub, "");
	assert_int_equal(it_count(w->dst[0], "t"), 0);
	it_run_free(&p.r);
	free(want);
}

/* temp_name: the temporary name the tool tries for attempt k with PGCM_TEST_TEMP_SEED=seed. */
static void
temp_name(char *buf, size_t size, const char *dir, const char *base, unsigned long long seed, int k)
{
	snprintf(buf, size, "%s/.%s.pgcopyman-%016llx", dir, base, seed + (unsigned long long) k);
}

/*
 * plant: symbolic links to victim files at the names the tool will try
 * (PGCM_TEST_TEMP_SEED makes them predictable) and at the name of older
 * versions (PATH.pgcopyman-PID), before the gated command execs.
 */
static void
plant(const world *w, const char *base, unsigned long long seed, pid_t pid, char victims[4][128],
      char links[4][160])
{
	for (int k = 0; k < 4; k++) {
		snprintf(victims[k], 128, "%s/victim%d", w->dir, k);
		write_file(victims[k], "precious\n");
		if (k < 3)
			temp_name(links[k], 160, w->dir, base, seed, k);
		else
			snprintf(links[k], 160, "%s/%s.pgcopyman-%d", w->dir, base, (int) pid);
		assert_int_equal(symlink(victims[k], links[k]), 0);
	}
}

static void
expect_planted_untouched(char victims[4][128], char links[4][160])
{
	for (int k = 0; k < 4; k++) {
		expect_file(victims[k], "precious\n", 9);
		expect_link(links[k], victims[k]);
		unlink(links[k]);
		unlink(victims[k]);
	}
}

/*
 * A symbolic link at the final path is never followed to a file (someone may
 * have planted it): the target is refused before anything moves, the link
 * and the file it points to untouched.
 */
static void
test_symlink_at_final_path(void **state)
{
	world *w = *state;
	char out[128], target[160], victim[128];
	proc p;

	snprintf(out, sizeof out, "%s/out", w->dir);
	snprintf(target, sizeof target, "file:%s", out);
	snprintf(victim, sizeof victim, "%s/victim", w->dir);
	write_file(victim, "precious\n");
	assert_int_equal(symlink(victim, out), 0);
	proc_start(&p, (const char *const[]){"copy", "--from", it_conninfo(1), "--to", target, "--to",
	                                     it_conninfo(2), "--table", "t", NULL}, -1, 0);
	proc_wait(&p);
	it_expect_status(&p.r, 1);
	assert_non_null(strstr(p.r.err, "is a symbolic link"));
	expect_file(victim, "precious\n", 9);
	expect_link(out, victim);
	expect_entries(w->dir, "out victim");
	assert_int_equal(it_count(w->dst[0], "t"), 0);
	it_run_free(&p.r);
}

/*
 * copy_past_planted_links: copy t (text) to file:DIR/out while links to
 * victim files are planted at every temporary name the command will try
 * (PGCM_TEST_TEMP_SEED=seed) and at older versions' PATH.pgcopyman-PID,
 * then check that it loaded, that no victim or link was touched, and that
 * nothing but the file is left.
 */
static void
copy_past_planted_links(const world *w, unsigned long long seed)
{
	char out[128], target[160], seedtext[32], victims[4][128], links[4][160];
	proc p;
	size_t want_len;
	char *want = source_text(w, &want_len);

	snprintf(out, sizeof out, "%s/out", w->dir);
	snprintf(target, sizeof target, "file:%s", out);
	snprintf(seedtext, sizeof seedtext, "%llu", seed);
	setenv("PGCM_TEST_TEMP_SEED", seedtext, 1);
	proc_start(&p, (const char *const[]){"copy", "--from", it_conninfo(1), "--to", target, "--table", "t",
	                                     "--format", "text", NULL}, -1, 1);
	unsetenv("PGCM_TEST_TEMP_SEED");
	plant(w, "out", seed, p.pid, victims, links);
	proc_wait(&p);
	it_expect_status(&p.r, 0);
	expect_file(out, want, want_len);
	expect_planted_untouched(victims, links);
	expect_entries(w->dir, "out");
	it_run_free(&p.r);
	free(want);
}

/*
 * Where the filesystem has no O_TMPFILE (forced here), the file is written
 * at a temporary name created exclusively: links planted at the names the
 * tool tries (and at older versions' PATH.pgcopyman-PID) are skipped, never
 * followed.  The file gets 0666 less the umask, as a redirection gives.
 */
static void
test_symlinks_at_temporary_names(void **state)
{
	world *w = *state;
	char out[128];
	mode_t old_umask = umask(027);
	struct stat st;

	setenv("PGCM_TEST_NO_TMPFILE", "1", 1);
	copy_past_planted_links(w, 1000);
	unsetenv("PGCM_TEST_NO_TMPFILE");
	umask(old_umask);
	snprintf(out, sizeof out, "%s/out", w->dir);
	assert_int_equal(stat(out, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0640);
}

/*
 * With O_TMPFILE, replacing an existing file links the new one at a
 * temporary name (exclusively: planted links are skipped) and renames it
 * over the old one; nothing but the final file is left.
 */
static void
test_symlinks_when_replacing_a_file(void **state)
{
	world *w = *state;
	char out[128];

	snprintf(out, sizeof out, "%s/out", w->dir);
	write_file(out, "old contents\n");
	copy_past_planted_links(w, 2000);
}

/*
 * reader_start: a process that reads a FIFO at path (listen_fd < 0) or the
 * first connection to the listening socket listen_fd, and copies what it
 * gets to dest; bounded by a timeout.  It exits 0 after the end of the data.
 */
static pid_t
reader_start(const char *path, int listen_fd, const char *dest)
{
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		int in, out;
		char buf[65536];
		ssize_t n;

		alarm(60);
		in = listen_fd >= 0 ? accept(listen_fd, NULL, NULL) : open(path, O_RDONLY);
		out = open(dest, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (in < 0 || out < 0)
			_exit(2);
		while ((n = read(in, buf, sizeof buf)) > 0)
			if (write(out, buf, (size_t) n) != n)
				_exit(3);
		_exit(n < 0 ? 4 : 0);
	}
	return pid;
}

/* wait_bounded: wait for pid at most secs seconds; kill it after.  Returns its exit status or 128+signal. */
static int
wait_bounded(pid_t pid, int secs)
{
	int st;

	for (int i = 0; i < secs * 10; i++) {
		if (waitpid(pid, &st, WNOHANG) == pid)
			return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
		usleep(100 * 1000);
	}
	kill(pid, SIGKILL);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	return 128 + SIGKILL;
}

/*
 * A FIFO given as file: is written in place and stays a FIFO; its reader,
 * who comes a second after the command started, gets the data.
 */
static void
test_fifo_target(void **state)
{
	world *w = *state;
	char fifo[128], got[128], target[160];
	struct stat st;
	pid_t reader;
	proc p;
	size_t want_len;
	char *want = source_text(w, &want_len);

	snprintf(fifo, sizeof fifo, "%s/fifo", w->dir);
	snprintf(got, sizeof got, "%s/got", w->dir);
	snprintf(target, sizeof target, "file:%s", fifo);
	assert_int_equal(mkfifo(fifo, 0600), 0);
	proc_start(&p, (const char *const[]){"copy", "--from", it_conninfo(1), "--to", target, "--to",
	                                     it_conninfo(2), "--table", "t", "--format", "text", NULL}, -1, 0);
	usleep(1000 * 1000);
	reader = reader_start(fifo, -1, got);
	proc_wait(&p);
	assert_int_equal(wait_bounded(reader, 20), 0);
	it_expect_status(&p.r, 0);
	expect_file(got, want, want_len);
	assert_int_equal(lstat(fifo, &st), 0);
	assert_true(S_ISFIFO(st.st_mode));
	assert_int_equal(it_count(w->dst[0], "t"), ROWS);
	it_run_free(&p.r);
	free(want);
}

/*
 * A character device given as file: is written in place, never replaced (as
 * root, --to file:/dev/null stays /dev/null): a private node like /dev/null.
 */
static void
test_device_target(void **state)
{
	world *w = *state;
	char dev[128], link[128], target[160];
	struct stat st;
	proc p;

	if (geteuid() != 0) {
		print_error("this test needs root: it makes a device node with mknod\n");
		fail();
	}
	snprintf(dev, sizeof dev, "%s/null", w->dir);
	snprintf(target, sizeof target, "file:%s", dev);
	assert_int_equal(mknod(dev, S_IFCHR | 0666, makedev(1, 3)), 0);
	proc_start(&p, (const char *const[]){"copy", "--from", it_conninfo(1), "--to", target, "--to",
	                                     it_conninfo(2), "--table", "t", "--json", NULL}, -1, 0);
	proc_wait(&p);
	it_expect_status(&p.r, 0);
	assert_int_equal(lstat(dev, &st), 0);
	assert_true(S_ISCHR(st.st_mode));
	assert_int_equal(major(st.st_rdev), 1);
	assert_int_equal(minor(st.st_rdev), 3);
	assert_int_equal(it_count(w->dst[0], "t"), ROWS);
	it_run_free(&p.r);

	/* A link to a device (as /dev/stdout is) is followed: the device is written, the link stays. */
	snprintf(link, sizeof link, "%s/nulllink", w->dir);
	snprintf(target, sizeof target, "file:%s", link);
	assert_int_equal(symlink(dev, link), 0);
	proc_start(&p, (const char *const[]){"copy", "--from", it_conninfo(1), "--to", target, "--table", "t",
	                                     NULL}, -1, 0);
	proc_wait(&p);
	it_expect_status(&p.r, 0);
	expect_link(link, dev);
	assert_int_equal(lstat(dev, &st), 0);
	assert_true(S_ISCHR(st.st_mode));
	expect_entries(w->dir, "null nulllink");
	it_run_free(&p.r);
}

/* A unix socket given as file: is connected to and written; it stays a socket. */
static void
test_socket_target(void **state)
{
	world *w = *state;
	char got[128], sock[128], target[160];
	struct sockaddr_un sa;
	struct stat st;
	pid_t reader;
	proc p;
	int lfd;
	size_t want_len;
	char *want = source_text(w, &want_len);

	snprintf(got, sizeof got, "%s/got", w->dir);
	snprintf(sock, sizeof sock, "%s/sock", w->dir);
	snprintf(target, sizeof target, "file:%s", sock);
	lfd = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_true(lfd >= 0);
	memset(&sa, 0, sizeof sa);
	sa.sun_family = AF_UNIX;
	strcpy(sa.sun_path, sock);
	assert_int_equal(bind(lfd, (struct sockaddr *) &sa, sizeof sa), 0);
	assert_int_equal(listen(lfd, 1), 0);
	reader = reader_start(NULL, lfd, got);
	close(lfd);
	proc_start(&p, (const char *const[]){"copy", "--from", it_conninfo(1), "--to", target, "--table", "t",
	                                     "--format", "text", NULL}, -1, 0);
	proc_wait(&p);
	assert_int_equal(wait_bounded(reader, 20), 0);
	it_expect_status(&p.r, 0);
	expect_file(got, want, want_len);
	assert_int_equal(lstat(sock, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	it_run_free(&p.r);
	free(want);
}

/* target_size: the size of the file the command pid has open in dir, -1 while it has none. */
static long long
target_size(pid_t pid, const char *dir)
{
	char fds[64], path[512], link[512];
	struct dirent *e;
	long long size = -1;
	DIR *d;

	snprintf(fds, sizeof fds, "/proc/%d/fd", (int) pid);
	d = opendir(fds);
	if (!d)
		return -1;
	while ((e = readdir(d))) {
		struct stat st;
		ssize_t n;

		snprintf(path, sizeof path, "%s/%s", fds, e->d_name);
		n = readlink(path, link, sizeof link - 1);
		if (n <= 0)
			continue;
		link[n] = '\0';
		if (strncmp(link, dir, strlen(dir)) == 0 && link[strlen(dir)] == '/' && stat(path, &st) == 0
		    && S_ISREG(st.st_mode))
			size = st.st_size;
	}
	closedir(d);
	return size;
}

/*
 * kill -9 in the middle of writing a file target leaves nothing behind: no
 * temporary file, and an existing file at the final path as it was.
 */
static void
test_kill9_leaves_no_file(void **state)
{
	world *w = *state;
	char out[128], target[160];
	size_t want_len;
	char *want = source_text(w, &want_len);

	snprintf(out, sizeof out, "%s/out", w->dir);
	snprintf(target, sizeof target, "file:%s", out);
	for (int existing = 0; existing < 2; existing++) {
		int in[2];
		long long size = -1;
		proc p;

		if (existing)
			write_file(out, "old contents\n");
		assert_int_equal(pipe2(in, O_CLOEXEC), 0);
		proc_start(&p, (const char *const[]){"copy", "--from", "-", "--to", target, "--target-table", "t",
		                                     "--format", "text", NULL}, in[0], 0);
		close(in[0]);
		/* Rows until some are written to the file (a few chunks' worth), the pipe kept open. */
		for (int i = 0; i < 200 && size <= 0; i++) {
			assert_true(write(in[1], want, want_len) == (ssize_t) want_len);
			usleep(20 * 1000);
			size = target_size(p.pid, w->dir);
		}
		if (size <= 0) {
			print_error("the command wrote nothing to its file target in time\n");
			fail();
		}
		kill(p.pid, SIGKILL);
		proc_wait(&p);
		close(in[1]);
		assert_int_equal(p.r.status, 128 + SIGKILL);
		if (existing) {
			expect_file(out, "old contents\n", 13);
			expect_entries(w->dir, "out");
			unlink(out);
		} else {
			expect_entries(w->dir, "");
		}
		it_run_free(&p.r);
	}
	free(want);
}

/* The kernel's limit on one argument, its NUL included (MAX_ARG_STRLEN). */
#define ARG_MAX_LEN (128 * 1024)

/* expect_handled: the command did it (0) or said what was wrong (1 or 2); it did not die. */
static void
expect_handled(const it_run *r, const char *opt, size_t len)
{
	if (r->status > 2 || (r->status != 0 && !strstr(r->err, "pgcopyman"))) {
		print_error("%s with %zu bytes: exit %d\nstderr: %.1000s\n", opt, len, r->status, r->err);
		fail();
	}
}

/* repeat: c repeated n times, malloc'd. */
static char *
repeat(char c, size_t n)
{
	char *s = malloc(n + 1);

	assert_non_null(s);
	memset(s, c, n);
	s[n] = '\0';
	return s;
}

/*
 * Every string option takes values of 1 byte up to the kernel's limit on one
 * argument (128 KiB; 1 MB cannot be passed in argv at all) without a crash
 * or a sanitizer report (run this under `make SANITIZE=1`), in both the
 * "--opt value" and "--opt=value" forms; the command either does it or says
 * what is wrong, and the WITH list is never cut (--encoding after a 2030-byte
 * --null was lost).  A 5000-byte --null works end to end.
 */
static void
test_option_values_of_any_length(void **state)
{
	world *w = *state;
	static const char *const copy_opts[] = {
		"--from", "--to", "--table", "--target-table", "--columns", "--query", "--format", "--delimiter",
		"--quote", "--escape", "--null", "--encoding", "--on-fault", "--stall-timeout", "--segment-size",
		"--jobs", "--split-key", "--max-row-size", NULL};
	static const size_t sizes[] = {1, 63, 64, 2030, 2048, 5000, 65536, ARG_MAX_LEN - 1};
	char *null5000, *eq, path[128], target[160];
	it_run r;

	for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
		char *v = repeat('x', sizes[k]), *digits = repeat('9', sizes[k]);

		for (int i = 0; copy_opts[i]; i++) {
			int numeric = strstr("--stall-timeout --segment-size --jobs --max-row-size", copy_opts[i]) != NULL;
			const char *val = numeric ? digits : v;

			r = it_cli("copy", "--from", it_conninfo(1), "--to", it_conninfo(2), "--table", "t",
			           "--dry-run", copy_opts[i], val);
			sanitizer_clean(&r, copy_opts[i]);
			expect_handled(&r, copy_opts[i], sizes[k]);
			it_run_free(&r);
			/* One argument holds at most 128 KiB with its NUL: the value is cut to fit beside the name. */
			eq = malloc(strlen(copy_opts[i]) + sizes[k] + 2);
			assert_non_null(eq);
			sprintf(eq, "%s=%s", copy_opts[i], val);
			eq[strlen(eq) >= ARG_MAX_LEN ? ARG_MAX_LEN - 1 : strlen(eq)] = '\0';
			r = it_cli("copy", "--from", it_conninfo(1), "--to", it_conninfo(2), "--table", "t", "--dry-run", eq);
			sanitizer_clean(&r, copy_opts[i]);
			expect_handled(&r, copy_opts[i], strlen(eq));
			it_run_free(&r);
			free(eq);
		}
		/* listen and notify: the connection string, the channel, the payload. */
		r = it_cli("listen", "--conn", v, "ch");
		sanitizer_clean(&r, "listen --conn");
		assert_true(r.status == 1 || r.status == 2);
		it_run_free(&r);
		r = it_cli("notify", "--conn", it_conninfo(2), v, v);
		sanitizer_clean(&r, "notify");
		assert_true(r.status <= 2);
		it_run_free(&r);
		r = it_cli("notify", "--conn", v, "ch", "payload");
		sanitizer_clean(&r, "notify --conn");
		assert_true(r.status == 1 || r.status == 2);
		it_run_free(&r);

		/* The WITH list keeps every option, whole, whatever their length. */
		if (sizes[k] >= 2) {
			char *lit = malloc(sizes[k] + 64);
			assert_non_null(lit);
			sprintf(lit, "NULL '%s', ENCODING 'UTF8')", v);
			r = it_cli("copy", "--from", it_conninfo(1), "--to", it_conninfo(2), "--table", "t",
			           "--dry-run", "--null", v, "--encoding", "UTF8");
			sanitizer_clean(&r, "--null with --encoding");
			it_expect_status(&r, 0);
			assert_non_null(strstr(r.out, lit));
			it_run_free(&r);
			free(lit);
		}
		free(v);
		free(digits);
	}

	/* A 5000-byte NULL string end to end: server to file and back to another server. */
	null5000 = repeat('N', 5000);
	it_exec(w->src, "UPDATE t SET s = NULL WHERE id %% 10 = 0");
	snprintf(path, sizeof path, "%s/null.txt", w->dir);
	snprintf(target, sizeof target, "file:%s", path);
	r = it_cli("copy", "--from", it_conninfo(1), "--to", target, "--table", "t", "--null", null5000);
	sanitizer_clean(&r, "--null 5000 out");
	it_expect_status(&r, 0);
	it_run_free(&r);
	{
		char *file = it_slurp(path);
		assert_non_null(strstr(file, null5000));
		free(file);
	}
	r = it_cli("copy", "--from", target, "--to", it_conninfo(2), "--table", "t", "--null", null5000);
	sanitizer_clean(&r, "--null 5000 in");
	it_expect_status(&r, 0);
	it_run_free(&r);
	{
		char *a = it_table_checksum(w->src, "t"), *b = it_table_checksum(w->dst[0], "t");
		char *nulls = it_scalar(w->dst[0], "SELECT count(*) FROM t WHERE s IS NULL");
		assert_string_equal(a, b);
		assert_string_equal(nulls, "500");
		free(a);
		free(b);
		free(nulls);
	}
	free(null5000);
}

static const char *after_summary(const it_run *r);

/* postmaster_pid: cluster i's postmaster, from its postmaster.pid. */
static pid_t
postmaster_pid(int i)
{
	char name[64], path[512], *text;
	const char *dir;
	pid_t pid;

	snprintf(name, sizeof name, "PGCM_TEST_DATADIR_%d", i);
	dir = getenv(name);
	assert_non_null(dir);
	snprintf(path, sizeof path, "%s/postmaster.pid", dir);
	text = it_slurp(path);
	pid = (pid_t) atoi(text);
	free(text);
	assert_true(pid > 0);
	return pid;
}

/* cmdline: the process title of pid, NULs as spaces, malloc'd. */
static char *
cmdline(pid_t pid)
{
	char path[64], *buf = malloc(1 << 20);
	size_t n;
	FILE *f;

	assert_non_null(buf);
	snprintf(path, sizeof path, "/proc/%d/cmdline", (int) pid);
	f = fopen(path, "rb");
	assert_non_null(f);
	n = fread(buf, 1, (1 << 20) - 1, f);
	fclose(f);
	for (size_t i = 0; i < n; i++)
		if (buf[i] == '\0')
			buf[i] = ' ';
	buf[n] = '\0';
	return buf;
}

/*
 * title_while_connecting: run args while cluster 4 is stopped (the command
 * hangs connecting to it), and check its process title and output: the
 * password shows nowhere, and the rest of the title still does.
 */
static void
title_while_connecting(const char *const *args, const char *visible)
{
	proc p;
	char *title = NULL;

	proc_start(&p, args, -1, 0);
	/* The title is scrubbed before the command connects: wait until it is connecting. */
	for (int i = 0; i < 100; i++) {
		usleep(30 * 1000);
		free(title);
		title = cmdline(p.pid);
		if (strstr(title, visible) && !strstr(title, SENTINEL) && i > 5)
			break;
	}
	kill(p.pid, SIGKILL);
	proc_wait(&p);
	if (strstr(title, SENTINEL) || !strstr(title, visible)) {
		print_error("process title: %s\n", title);
		fail();
	}
	assert_int_equal(p.r.status, 128 + SIGKILL);
	no_sentinel(p.r.out, "stdout");
	no_sentinel(p.r.err, "stderr");
	free(title);
	it_run_free(&p.r);
}

/*
 * A password in a connection string never shows in the process title while
 * the command runs, whatever the option's spelling (unique abbreviations,
 * --opt=value, short options) and the form (keyword=value, a URI, a URI
 * given as dbname=), in copy, listen, notify and recover alike.
 */
static void
test_passwords_hidden_in_process_title(void **state)
{
	char *ci4 = it_conninfo_password(4, SENTINEL), *ci1 = it_conninfo_password(1, SENTINEL);
	char *host4 = setting(4, "host");
	char uri4[512], dburi4[600], eq[700];
	const char *forms[3];
	pid_t pm = postmaster_pid(4);

	(void) state;

	snprintf(uri4, sizeof uri4, "postgresql://postgres:" SENTINEL "@/postgres?host=%s&port=5432", host4);
	snprintf(dburi4, sizeof dburi4, "dbname=%s", uri4);
	forms[0] = ci4;
	forms[1] = uri4;
	forms[2] = dburi4;
	it_signal_backend(pm, SIGSTOP);
	stopped_postmaster = pm;
	for (int f = 0; f < 3; f++) {
		const char *v = forms[f];
		snprintf(eq, sizeof eq, "--fro=%s", v);
		title_while_connecting((const char *const[]){"copy", "--fro", v, "--to", "-", "-t", "t", NULL}, "--fro");
		title_while_connecting((const char *const[]){"copy", eq, "--to", "-", "-t", "t", NULL}, "--fro=");
		title_while_connecting((const char *const[]){"copy", "-t", "t", "--fr", v, "--to", "-", NULL}, "--fr");
		snprintf(eq, sizeof eq, "--from=%s", v);
		title_while_connecting((const char *const[]){"copy", eq, "--to", "-", "-t", "t", NULL}, "--from=");
		title_while_connecting((const char *const[]){"copy", "--from", ci1, "--to", v, "-t", "t", NULL}, "--to");
		snprintf(eq, sizeof eq, "--to=%s", v);
		title_while_connecting((const char *const[]){"copy", "--from", ci1, eq, "-t", "t", NULL}, "--to=");
		title_while_connecting((const char *const[]){"listen", "--co", v, "ch", NULL}, "--co");
		title_while_connecting((const char *const[]){"listen", "-c", v, "ch", NULL}, "-c");
		snprintf(eq, sizeof eq, "-c%s", v);
		title_while_connecting((const char *const[]){"listen", eq, "ch", NULL}, "listen");
		snprintf(eq, sizeof eq, "--c=%s", v);
		title_while_connecting((const char *const[]){"notify", eq, "ch", "payload", NULL}, "--c=");
		title_while_connecting((const char *const[]){"notify", "--con", v, "ch", NULL}, "--con");
		title_while_connecting((const char *const[]){"recover", "--t", v, "--state-dir", "/tmp/pgcm-no-state", NULL},
		                       "--state-dir /tmp/pgcm-no-state");
		snprintf(eq, sizeof eq, "--to=%s", v);
		title_while_connecting((const char *const[]){"recover", "--dry-run", eq, NULL}, "--to=");
	}
	it_signal_backend(pm, SIGCONT);
	stopped_postmaster = 0;
	free(ci1);
	free(ci4);
	free(host4);
}

/*
 * A password never shows in the command's output (errors, --json, the
 * summary) nor in the servers' logs: abbreviated options, a URI given as
 * dbname= (expanded: libpq would send it to the server as a database name,
 * and the server's error and log would repeat it), PGPASSWORD.
 */
static void
test_passwords_hidden_in_output_and_logs(void **state)
{
	world *w = *state;
	char *ci2 = it_conninfo_password(2, SENTINEL), *ci1 = it_conninfo_password(1, SENTINEL);
	char *host2 = setting(2, "host");
	char eq[700], uri2[512], dburi2[600], bad2[600], env[128];
	it_run r;

	/* Whole runs, abbreviated, with --json and the human summary. */
	r = it_cli("copy", "--fro", ci1, "--t", ci2, "--table", "t", "--json");
	/* "--t" is ambiguous (--to, --table, --target-table, --truncate): a usage error that shows no password. */
	it_expect_status(&r, 2);
	no_sentinel(r.out, "stdout");
	no_sentinel(r.err, "stderr");
	it_run_free(&r);
	snprintf(eq, sizeof eq, "--fro=%s", ci1);
	r = it_cli("copy", eq, "--to", ci2, "--tab", "t", "--json");
	it_expect_status(&r, 0);
	assert_non_null(strstr(r.out, "password=********"));
	no_sentinel(r.out, "--json");
	no_sentinel(r.err, "stderr");
	it_run_free(&r);
	it_exec(w->dst[0], "TRUNCATE t");

	/* A URI given as dbname=: expanded (libpq would send it to the server as a database name). */
	snprintf(uri2, sizeof uri2, "postgresql://postgres:" SENTINEL "@/postgres?host=%s&port=5432", host2);
	snprintf(dburi2, sizeof dburi2, "dbname=%s", uri2);
	r = it_cli("copy", "--from", ci1, "--to", dburi2, "--table", "t", "--json");
	it_expect_status(&r, 0);
	no_sentinel(r.out, "--json");
	no_sentinel(r.err, "stderr");
	assert_int_equal(it_count(w->dst[0], "t"), ROWS);
	it_run_free(&r);
	/* Again: the rows are there, the target faults, and the summary names it masked. */
	r = it_cli("copy", "--from", ci1, "--to", dburi2, "--table", "t");
	it_expect_status(&r, 1);
	assert_non_null(strstr(after_summary(&r), "password=********"));
	assert_non_null(strstr(after_summary(&r), "duplicate key"));
	no_sentinel(r.err, "the summary");
	it_run_free(&r);
	it_exec(w->dst[0], "TRUNCATE t");
	snprintf(bad2, sizeof bad2, "dbname=postgresql://postgres:" SENTINEL "@/nosuchdb?host=%s&port=5432", host2);
	r = it_cli("copy", "--from", ci1, "--to", bad2, "--table", "t", "--json");
	it_expect_status(&r, 1);
	assert_non_null(strstr(r.err, "nosuchdb"));
	no_sentinel(r.out, "stdout");
	no_sentinel(r.err, "stderr");
	it_run_free(&r);
	r = it_cli("copy", "--from", ci1, "--to", bad2, "--table", "t");
	it_expect_status(&r, 1);
	no_sentinel(r.err, "stderr");
	it_run_free(&r);

	/* A bare word is still a database name (the PG* environment gives the rest), as libpq takes it. */
	{
		char *user = setting(2, "user");
		setenv("PGHOST", host2, 1);
		setenv("PGUSER", user, 1);
		r = it_cli("copy", "--from", ci1, "--to", "postgres", "--table", "t");
		unsetenv("PGHOST");
		unsetenv("PGUSER");
		free(user);
	}
	it_expect_status(&r, 0);
	assert_int_equal(it_count(w->dst[0], "t"), ROWS);
	it_run_free(&r);
	it_exec(w->dst[0], "TRUNCATE t");

	/* PGPASSWORD is never printed, whatever fails. */
	snprintf(env, sizeof env, "PGPASSWORD=" SENTINEL);
	putenv(env);
	snprintf(bad2, sizeof bad2, "host=%s dbname=nosuchdb", host2);
	r = it_cli("copy", "--from", it_conninfo(1), "--to", bad2, "--table", "t", "--json");
	it_expect_status(&r, 1);
	no_sentinel(r.out, "stdout");
	no_sentinel(r.err, "stderr");
	it_run_free(&r);
	unsetenv("PGPASSWORD");

	/* The servers never saw the password as anything but a password. */
	for (int i = 1; i <= 4; i++) {
		char name[32];
		char *log;
		snprintf(name, sizeof name, "PGCM_TEST_LOG_%d", i);
		assert_non_null(getenv(name));
		log = it_slurp(getenv(name));
		no_sentinel(log, name);
		free(log);
	}
	free(ci1);
	free(ci2);
	free(host2);
}

/* feeder_start: a process writing total bytes of 'x' (no newline) to fd; it dies of SIGPIPE when the reader leaves. */
static pid_t
feeder_start(int fd, long long total)
{
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		static char buf[1 << 16];
		memset(buf, 'x', sizeof buf);
		alarm(120);
		for (long long done = 0; done < total;) {
			ssize_t n = write(fd, buf, sizeof buf);
			if (n <= 0)
				_exit(1);
			done += n;
		}
		_exit(0);
	}
	return pid;
}

/*
 * A line without a newline longer than --max-row-size is refused with the
 * row and the limit, nothing is committed, and the command's memory stays
 * near the limit whatever the input's size.  Rows under the limit load.
 */
static void
test_max_row_size(void **state)
{
	world *w = *state;
	char *row, path[128], from[160];
	int in[2], st;
	long base_kb;
	pid_t feeder;
	FILE *f;
	proc p;
	it_run r;

	/* 600 MB in one line on stdin, at most 1MB a row. */
	base_kb = it_inherited_maxrss_kb();
	assert_int_equal(pipe2(in, O_CLOEXEC), 0);
	feeder = feeder_start(in[1], 600LL << 20);
	close(in[1]);
	proc_start(&p, (const char *const[]){"copy", "--from", "-", "--to", it_conninfo(2), "--to", it_conninfo(3),
	                                     "--target-table", "t", "--format", "text", "--max-row-size", "1MB",
	                                     NULL}, in[0], 0);
	close(in[0]);
	proc_wait(&p);
	kill(feeder, SIGKILL);
	waitpid(feeder, &st, 0);
	it_expect_status(&p.r, 1);
	assert_non_null(strstr(p.r.err, "row 1"));
	assert_non_null(strstr(p.r.err, "1048576"));
	assert_int_equal(it_count(w->dst[0], "t"), 0);
	assert_int_equal(it_count(w->dst[1], "t"), 0);
	/* Bounded by the limit, not by the 600 MB (generous for sanitizer builds and libpq). */
	if (p.maxrss_kb > base_kb + 128 * 1024) {
		print_error("peak RSS %ld kB (this test's own: %ld kB) with --max-row-size 1MB on a 600 MB line\n",
		            p.maxrss_kb, base_kb);
		fail();
	}
	it_run_free(&p.r);

	/* Rows of 900 kB load under a 1MB limit, from a file. */
	snprintf(path, sizeof path, "%s/big.txt", w->dir);
	snprintf(from, sizeof from, "file:%s", path);
	row = repeat('y', 900 * 1024);
	f = fopen(path, "w");
	assert_non_null(f);
	for (int i = 1; i <= 3; i++)
		fprintf(f, "%d\t%s\n", i, row);
	assert_int_equal(fclose(f), 0);
	free(row);
	r = it_cli("copy", "--from", from, "--to", it_conninfo(2), "--target-table", "t", "--max-row-size", "1MB");
	it_expect_status(&r, 0);
	assert_int_equal(it_count(w->dst[0], "t"), 3);
	it_run_free(&r);
	/* ... and are refused under a 512kB limit, naming the row and the limit. */
	it_exec(w->dst[0], "TRUNCATE t");
	r = it_cli("copy", "--from", from, "--to", it_conninfo(2), "--target-table", "t", "--max-row-size",
	           "512kB", "--json");
	it_expect_status(&r, 1);
	assert_non_null(strstr(r.out, "row 1"));
	assert_non_null(strstr(r.out, "524288"));
	assert_int_equal(it_count(w->dst[0], "t"), 0);
	it_run_free(&r);

	/* Bad sizes, and a server source (it has its own limit), are usage errors. */
	{
		const char *bad[] = {"0", "2GB", "12XB", "-1", "", "1.5MB"};
		for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
			r = it_cli("copy", "--from", from, "--to", it_conninfo(2), "--target-table", "t",
			           "--max-row-size", bad[i]);
			it_expect_status(&r, 2);
			assert_non_null(strstr(r.err, "--max-row-size"));
			it_run_free(&r);
		}
		r = it_cli("copy", "--from", it_conninfo(1), "--to", it_conninfo(2), "--table", "t",
		           "--max-row-size", "1MB");
		it_expect_status(&r, 2);
		it_run_free(&r);
	}
}

/* after_summary: the part of stderr from the summary line on. */
static const char *
after_summary(const it_run *r)
{
	const char *s = strstr(r->err, "targets loaded");

	if (!s) {
		print_error("no summary line in stderr: %s\n", r->err);
		fail();
	}
	return s;
}

/*
 * The human summary gives the reason for each faulted target, a fault in
 * the COPY (a rejected row) as well as one when the file is put in place
 * (its directory removed meanwhile), which was only in --json before.
 */
static void
test_summary_gives_each_reason(void **state)
{
	world *w = *state;
	char sub[128], target[160];
	const char *tail;
	int in[2];
	it_run r;
	proc p;
	size_t want_len;
	char *want = source_text(w, &want_len);

	it_exec(w->dst[1], "ALTER TABLE t ADD CONSTRAINT small CHECK (id < 100)");
	r = it_cli("copy", "--from", it_conninfo(1), "--to", it_conninfo(2), "--to", it_conninfo(3), "--table", "t");
	it_expect_status(&r, 3);
	tail = after_summary(&r);
	assert_non_null(strstr(tail, "faulted: receiver 2 ("));
	assert_non_null(strstr(tail, "violates check constraint \"small\""));
	assert_non_null(strstr(tail, "23514"));
	assert_null(strstr(tail, "receiver 1 ("));
	it_run_free(&r);
	it_exec(w->dst[1], "ALTER TABLE t DROP CONSTRAINT small");

	/* A file target whose directory is gone when it is put in place. */
	snprintf(sub, sizeof sub, "%s/sub", w->dir);
	assert_int_equal(mkdir(sub, 0755), 0);
	snprintf(target, sizeof target, "file:%s/out", sub);
	assert_int_equal(pipe2(in, O_CLOEXEC), 0);
	proc_start(&p, (const char *const[]){"copy", "--from", "-", "--to", target, "--to", it_conninfo(3),
	                                     "--target-table", "t", "--format", "text", NULL}, in[0], 0);
	close(in[0]);
	assert_true(write(in[1], want, want_len) == (ssize_t) want_len);
	usleep(500 * 1000);
	assert_int_equal(it_system("rm -rf %s", sub), 0);
	close(in[1]);
	proc_wait(&p);
	it_expect_status(&p.r, 3);
	tail = after_summary(&p.r);
	assert_non_null(strstr(tail, "faulted: receiver 1 (file:"));
	assert_non_null(strstr(tail, "No such file or directory"));
	assert_int_equal(it_count(w->dst[1], "t"), ROWS);
	it_run_free(&p.r);
	free(want);
}

IT_GROUP(endpoints)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_directory_target_refused_before_reading, setup, teardown),
		cmocka_unit_test_setup_teardown(test_symlink_at_final_path, setup, teardown),
		cmocka_unit_test_setup_teardown(test_symlinks_at_temporary_names, setup, teardown),
		cmocka_unit_test_setup_teardown(test_symlinks_when_replacing_a_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fifo_target, setup, teardown),
		cmocka_unit_test_setup_teardown(test_device_target, setup, teardown),
		cmocka_unit_test_setup_teardown(test_socket_target, setup, teardown),
		cmocka_unit_test_setup_teardown(test_kill9_leaves_no_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_option_values_of_any_length, setup, teardown),
		cmocka_unit_test_setup_teardown(test_passwords_hidden_in_process_title, setup, teardown),
		cmocka_unit_test_setup_teardown(test_passwords_hidden_in_output_and_logs, setup, teardown),
		cmocka_unit_test_setup_teardown(test_max_row_size, setup, teardown),
		cmocka_unit_test_setup_teardown(test_summary_gives_each_reason, setup, teardown),
	};
	return it_add_group("endpoints", tests, NULL, NULL);
}
