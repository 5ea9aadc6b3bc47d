/*
 * file_target.c: a file: target, written so that no one else's file is ever
 * touched, nothing half-written is ever seen at the final path, and a crash
 * leaves nothing behind where the filesystem allows it.
 *
 * What the final path is decides how it is written:
 *   - absent, or a regular file: a new file is written unseen and put in
 *     place in one step on success (the old file, if any, stays whole until
 *     then): an O_TMPFILE file (no name at all, so `kill -9` leaves nothing)
 *     linked in with linkat(); where the filesystem has no O_TMPFILE, a
 *     temporary file .NAME.pgcopyman-XXXXXXXXXXXXXXXX (random) in the same
 *     directory, created O_EXCL|O_NOFOLLOW and renamed into place.  The mode
 *     is 0666 less the umask, as a `>` redirection gives a new file.
 *   - a character device, a FIFO, a socket (or a symbolic link to one, as
 *     /dev/stdout is): written in place, never replaced; nothing to commit.
 *   - a directory, a block device, or a symbolic link to anything else:
 *     refused before any data moves.  A link at the final path is never
 *     followed to a file: someone else may have planted it.
 * Every name this file creates is created exclusively: a symbolic link
 * planted at it is never followed, the next name is taken instead.
 *
 * For tests only: PGCM_TEST_NO_TMPFILE (set) forces the temporary-name way,
 * and PGCM_TEST_TEMP_SEED=N makes the random part N, N+1, ... so that a test
 * can plant links at the names the tool will try.
 */
#define _GNU_SOURCE   /* O_TMPFILE, AT_EMPTY_PATH */

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "copy.h"
#include "strbuf.h"

#define TEMP_ATTEMPTS 100
#define TEMP_BASE_MAX 200      /* of the final name in a temporary name: it stays under NAME_MAX */
#define READER_POLL_NS 50000000L

enum file_kind {
	FILE_UNSEEN,     /* O_TMPFILE: no name until commit */
	FILE_TEMP_NAME,  /* a temporary name, renamed at commit */
	FILE_IN_PLACE    /* a device, FIFO or socket, written as it is */
};

struct file_target {
	enum file_kind kind;
	int fd;
	int dirfd;               /* the final path's directory (not for FILE_IN_PLACE) */
	char *dir;               /* its path, as given */
	char *base;              /* the final name in dirfd */
	char *temp;              /* FILE_TEMP_NAME: the temporary name in dirfd */
	unsigned long long seed; /* test seed for temporary names */
	int seeded;
	int committed;
	int (*finish)(void *arg, char **err);  /* the last bytes (a compressed stream's end), before commit */
	void *finish_arg;
};

/* fail: *err = a malloc'd message (printf-style, NULL when out of memory); returns 0. */
static int
fail(char **err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int
fail(char **err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	*err = cli_strdup_vprintf(fmt, ap);
	va_end(ap);
	return 0;
}

/* random_u64: an unpredictable number for a temporary name (the test seed when set). */
static unsigned long long
random_u64(file_target *t, int attempt)
{
	unsigned long long v = 0;
	struct timespec ts;

	if (t->seeded)
		return t->seed + (unsigned long long) attempt;
	if (getrandom(&v, sizeof v, GRND_NONBLOCK) == (ssize_t) sizeof v)
		return v;
	/* No entropy yet (early boot): O_EXCL still makes the name safe, only guessable. */
	clock_gettime(CLOCK_REALTIME, &ts);
	return ((unsigned long long) ts.tv_nsec << 20) ^ (unsigned long long) ts.tv_sec
	       ^ ((unsigned long long) getpid() << 40) ^ (unsigned long long) attempt;
}

/* temp_name: .NAME.pgcopyman-<16 hex digits>, NAME cut so that it fits a directory entry. */
static char *
temp_name(file_target *t, int attempt)
{
	cli_buf b;

	cli_buf_init(&b);
	cli_buf_addf(&b, ".%.*s.pgcopyman-%016llx", TEMP_BASE_MAX, t->base, random_u64(t, attempt));
	return cli_buf_take(&b);
}

/* split_path: the directory (opened) and the final name of path; refuses names that are directories. */
static int
split_path(file_target *t, const char *path, char **err)
{
	const char *slash = strrchr(path, '/');

	if (slash) {
		size_t n = slash == path ? 1 : (size_t) (slash - path);
		t->dir = strndup(path, n);
		t->base = strdup(slash + 1);
	} else {
		t->dir = strdup(".");
		t->base = strdup(path);
	}
	if (!t->dir || !t->base)
		return fail(err, "out of memory");
	if (!*t->base || strcmp(t->base, ".") == 0 || strcmp(t->base, "..") == 0)
		return fail(err, "is a directory; name a file in it");
	t->dirfd = open(t->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (t->dirfd < 0)
		return fail(err, "cannot open its directory \"%s\": %s", t->dir, strerror(errno));
	return 1;
}

/*
 * open_in_place: a character device or FIFO opened for writing as it is
 * (no O_CREAT, no O_TRUNC: it can be neither created nor cut here), then
 * checked again on the descriptor, in case the name changed meanwhile.  A
 * FIFO without a reader yet is waited for, up to wait_ms (0: until stop).
 */
static int
open_in_place(file_target *t, int fifo, int wait_ms, const volatile int *stop, char **err)
{
	struct timespec nap = {0, READER_POLL_NS};
	long waited_ms = 0;
	struct stat st;

	for (;;) {
		t->fd = openat(t->dirfd, t->base, O_WRONLY | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
		if (t->fd >= 0 || errno != ENXIO || !fifo)
			break;
		if (stop && *stop)
			return fail(err, "is a FIFO: interrupted while waiting for a process to read it");
		if (wait_ms > 0 && waited_ms >= wait_ms)
			return fail(err, "is a FIFO that no process opened for reading within %.1f s", wait_ms / 1000.0);
		nanosleep(&nap, NULL);
		waited_ms += READER_POLL_NS / 1000000L;
	}
	if (t->fd < 0)
		return fail(err, "cannot open: %s", strerror(errno));
	if (fstat(t->fd, &st) != 0 || !(S_ISCHR(st.st_mode) || S_ISFIFO(st.st_mode)))
		return fail(err, "changed while it was opened; not written");
	t->kind = FILE_IN_PLACE;
	return 1;
}

/* connect_socket: a unix socket at the path is written through a stream connection to it. */
static int
connect_socket(file_target *t, const char *path, char **err)
{
	struct sockaddr_un sa;

	memset(&sa, 0, sizeof sa);
	sa.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof sa.sun_path)
		return fail(err, "is a socket whose path is too long to connect to (%zu bytes, at most %zu)",
		            strlen(path), sizeof sa.sun_path - 1);
	memcpy(sa.sun_path, path, strlen(path));
	t->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (t->fd < 0)
		return fail(err, "socket: %s", strerror(errno));
	if (connect(t->fd, (const struct sockaddr *) &sa, sizeof sa) != 0)
		return fail(err, "is a socket; cannot connect to it: %s", strerror(errno));
	t->kind = FILE_IN_PLACE;
	return 1;
}

/*
 * claim_temp_name: give t->temp the first temporary name that create(t,
 * name) can make: it must create exclusively and fail with EEXIST on
 * anything there already (a planted link included), so that a taken name is
 * skipped, never followed.  Returns 1; or 0 with errno set by create (or
 * EEXIST when every try was taken, ENOMEM out of memory) and t->temp NULL.
 */
static int
claim_temp_name(file_target *t, int (*create)(file_target *t, const char *name))
{
	for (int attempt = 0; attempt < TEMP_ATTEMPTS; attempt++) {
		free(t->temp);
		if (!(t->temp = temp_name(t, attempt))) {
			errno = ENOMEM;
			return 0;
		}
		if (create(t, t->temp) == 0)
			return 1;
		if (errno != EEXIST)
			break;
	}
	{
		int saved = errno;
		free(t->temp);
		t->temp = NULL;
		errno = saved;
	}
	return 0;
}

/* create_temp: a temporary file at name, created exclusively, never through a link. */
static int
create_temp(file_target *t, const char *name)
{
	t->fd = openat(t->dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0666);
	return t->fd >= 0 ? 0 : -1;
}

/*
 * open_unseen: the new contents go to an O_TMPFILE file, or, where the
 * filesystem has none, to a temporary name created exclusively (a planted
 * link or file at it makes the next name be tried).
 */
static int
open_unseen(file_target *t, char **err)
{
#ifdef O_TMPFILE
	if (!getenv("PGCM_TEST_NO_TMPFILE")) {
		t->fd = openat(t->dirfd, ".", O_TMPFILE | O_WRONLY | O_CLOEXEC, 0666);
		if (t->fd >= 0) {
			t->kind = FILE_UNSEEN;
			return 1;
		}
		/* Filesystems and kernels without it say so in one of these ways. */
		if (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL && errno != ENOENT)
			return fail(err, "cannot create a file in its directory: %s", strerror(errno));
	}
#endif
	if (!claim_temp_name(t, create_temp))
		return fail(err, "cannot create a temporary file in its directory: %s",
		            errno == EEXIST ? "every name tried was taken" : strerror(errno));
	t->kind = FILE_TEMP_NAME;
	return 1;
}

file_target *
file_target_open(const char *path, int wait_ms, const volatile int *stop, char **err)
{
	file_target *t = calloc(1, sizeof *t);
	const char *seed = getenv("PGCM_TEST_TEMP_SEED");
	struct stat lst, st;
	int ok = 0;

	*err = NULL;
	if (!t) {
		*err = strdup("out of memory");
		return NULL;
	}
	t->fd = t->dirfd = -1;
	if (seed) {
		t->seeded = 1;
		t->seed = strtoull(seed, NULL, 0);
	}
	if (!path || !*path) {
		fail(err, "needs a path (file:PATH)");
		goto done;
	}
	if (!split_path(t, path, err))
		goto done;
	if (fstatat(t->dirfd, t->base, &lst, AT_SYMLINK_NOFOLLOW) != 0) {
		if (errno == ENOENT)
			ok = open_unseen(t, err);
		else
			fail(err, "%s", strerror(errno));
		goto done;
	}
	if (S_ISLNK(lst.st_mode)) {
		/* Followed only to what is written in place anyway: /dev/stdout, /dev/fd/N. */
		int seen = fstatat(t->dirfd, t->base, &st, 0) == 0;

		if (seen && S_ISDIR(st.st_mode)) {
			fail(err, "is a symbolic link to a directory; name a file in it");
			goto done;
		}
		if (!seen || !(S_ISCHR(st.st_mode) || S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode))) {
			fail(err, "is a symbolic link; it is not followed (it may have been planted): "
			          "name the file itself, or remove the link");
			goto done;
		}
		lst = st;
	}
	if (S_ISDIR(lst.st_mode))
		fail(err, "is a directory; name a file in it");
	else if (S_ISBLK(lst.st_mode))
		fail(err, "is a block device; refusing to write COPY data onto it");
	else if (S_ISCHR(lst.st_mode) || S_ISFIFO(lst.st_mode))
		ok = open_in_place(t, S_ISFIFO(lst.st_mode), wait_ms, stop, err);
	else if (S_ISSOCK(lst.st_mode))
		ok = connect_socket(t, path, err);
	else if (S_ISREG(lst.st_mode))
		ok = open_unseen(t, err);
	else
		fail(err, "is not a regular file, a device, a FIFO or a socket");
done:
	if (!ok) {
		if (!*err)
			fail(err, "out of memory");
		file_target_discard(t);
		return NULL;
	}
	return t;
}

int
file_target_fd(const file_target *t)
{
	return t ? t->fd : -1;
}

/* link_unseen: give the O_TMPFILE file the name `name` in dirfd (never replaces: EEXIST). */
static int
link_unseen(file_target *t, const char *name)
{
	char proc[64];

	snprintf(proc, sizeof proc, "/proc/self/fd/%d", t->fd);
	if (linkat(AT_FDCWD, proc, t->dirfd, name, AT_SYMLINK_FOLLOW) == 0)
		return 0;
#ifdef AT_EMPTY_PATH
	if (errno == ENOENT && access("/proc/self/fd", F_OK) != 0)
		return linkat(t->fd, "", t->dirfd, name, AT_EMPTY_PATH);
#endif
	return -1;
}

/*
 * place_unseen: link the O_TMPFILE file in at the final name.  linkat()
 * never replaces, so when a file is there already the file is linked at a
 * fresh temporary name (exclusively: EEXIST on anything planted there) and
 * renamed over the final name, which replaces it in one step (a link there is
 * replaced, not followed).
 */
static int
place_unseen(file_target *t, char **err)
{
	if (link_unseen(t, t->base) == 0)
		return 1;
	if (errno != EEXIST || !claim_temp_name(t, link_unseen))
		return fail(err, "cannot link the file into place: %s",
		            errno == EEXIST ? "every temporary name tried was taken" : strerror(errno));
	if (renameat(t->dirfd, t->temp, t->dirfd, t->base) != 0) {
		fail(err, "cannot rename the file into place: %s", strerror(errno));
		(void) unlinkat(t->dirfd, t->temp, 0);
		free(t->temp);
		t->temp = NULL;
		return 0;
	}
	free(t->temp);
	t->temp = NULL;
	return 1;
}

int
file_target_sync(file_target *t, char **err)
{
	*err = NULL;
	if (!t)
		return fail(err, "not open");
	if (t->finish && !t->finish(t->finish_arg, err))
		return 0;
	t->finish = NULL;
	if (t->kind != FILE_IN_PLACE && fsync(t->fd) != 0)
		return fail(err, "fsync: %s", strerror(errno));
	return 1;
}

int
file_target_commit(file_target *t, char **err)
{
	if (!file_target_sync(t, err))
		return 0;
	if (t->kind == FILE_IN_PLACE) {
		t->committed = 1;
		return 1;
	}
	if (t->kind == FILE_UNSEEN) {
		if (!place_unseen(t, err))
			return 0;
	} else if (renameat(t->dirfd, t->temp, t->dirfd, t->base) != 0) {
		return fail(err, "cannot rename the file into place: %s", strerror(errno));
	} else {
		free(t->temp);
		t->temp = NULL;
	}
	t->committed = 1;
	/* The new name is durable only once its directory is. */
	if (fsync(t->dirfd) != 0)
		return fail(err, "the file is in place, but its directory could not be synced: %s",
		            strerror(errno));
	return 1;
}

int
file_target_keep(file_target *t, char **kept, char **err)
{
	*kept = NULL;
	if (!file_target_sync(t, err))
		return 0;
	if (t->kind == FILE_IN_PLACE) {
		t->committed = 1;
		return 1;
	}
	if (t->kind == FILE_UNSEEN && !claim_temp_name(t, link_unseen))
		return fail(err, "cannot give the file a name beside its path: %s",
		            errno == EEXIST ? "every temporary name tried was taken" : strerror(errno));
	t->committed = 1;   /* discard leaves it where it is */
	if (fsync(t->dirfd) != 0)
		return fail(err, "the file is kept as %s%s%s, but its directory could not be synced: %s", t->dir,
		            strcmp(t->dir, "/") == 0 ? "" : "/", t->temp, strerror(errno));
	*kept = cli_strdup_printf("%s%s%s", t->dir, strcmp(t->dir, "/") == 0 ? "" : "/", t->temp);
	return *kept ? 1 : fail(err, "out of memory");
}

void
file_target_set_finish(file_target *t, int (*finish)(void *arg, char **err), void *arg)
{
	t->finish = finish;
	t->finish_arg = arg;
}

void
file_target_discard(file_target *t)
{
	if (!t)
		return;
	if (t->kind == FILE_TEMP_NAME && t->temp && !t->committed)
		(void) unlinkat(t->dirfd, t->temp, 0);
	if (t->fd >= 0)
		close(t->fd);
	if (t->dirfd >= 0)
		close(t->dirfd);
	free(t->dir);
	free(t->base);
	free(t->temp);
	free(t);
}
