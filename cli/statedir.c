/*
 * statedir.c: run records and run locks in the state directory (see
 * statedir.h).  A record is a small text file, one "key value" line each,
 * values escaped (backslash, newline), ending with the line "end" so that a
 * record cut short is never taken for a whole one.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "statedir.h"

#define RECORD_MAGIC "pgcopyman-run 1"

char *
statedir_default(void)
{
	const char *xdg = getenv("XDG_STATE_HOME"), *home = getenv("HOME");

	if (xdg && *xdg)
		return cli_strdup_printf("%s/pgcopyman", xdg);
	if (home && *home)
		return cli_strdup_printf("%s/.local/state/pgcopyman", home);
	return NULL;
}

/* path_of: dir/id followed by suffix, malloc'd. */
static char *
path_of(const char *dir, const char *id, const char *suffix)
{
	return cli_strdup_printf("%s/%s%s", dir, id, suffix);
}

/* set_err: *err = the message with strerror(errno) added; returns 0 for the caller to return. */
static int
set_err(char **err, const char *what, const char *path)
{
	int e = errno;

	free(*err);
	*err = cli_strdup_printf("%s \"%s\": %s", what, path, strerror(e));
	return 0;
}

int
statedir_ensure(const char *dir, char **err)
{
	char *p = strdup(dir);
	int ok = 1;

	if (!p)
		return set_err(err, "out of memory for", dir);
	/* Each parent in turn, as mkdir -p; only the last one need be ours. */
	for (char *s = p + 1; ok && *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(p, 0700) != 0 && errno != EEXIST)
			ok = set_err(err, "cannot create the state directory", p);
		*s = '/';
	}
	if (ok && mkdir(p, 0700) != 0 && errno != EEXIST)
		ok = set_err(err, "cannot create the state directory", p);
	if (ok && access(p, W_OK | X_OK) != 0)
		ok = set_err(err, "cannot write to the state directory", p);
	free(p);
	return ok;
}

int
run_new_id(char id[RUN_ID_LEN + 1], char **err)
{
	unsigned char raw[RUN_ID_LEN / 2];
	int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
	ssize_t n = fd >= 0 ? read(fd, raw, sizeof raw) : -1;

	if (fd >= 0)
		close(fd);
	if (n != (ssize_t) sizeof raw)
		return set_err(err, "cannot read", "/dev/urandom");
	for (size_t i = 0; i < sizeof raw; i++)
		snprintf(id + 2 * i, 3, "%02x", raw[i]);
	return 1;
}

int
run_lock(const char *dir, const char *id, char **err)
{
	char *path = path_of(dir, id, ".lock");
	int fd;

	if (!path) {
		*err = strdup("out of memory");
		return -2;
	}
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0) {
		set_err(err, "cannot open the lock file", path);
		free(path);
		return -2;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		int busy = errno == EWOULDBLOCK;
		if (!busy)
			set_err(err, "cannot lock", path);
		close(fd);
		free(path);
		return busy ? -1 : -2;
	}
	free(path);
	return fd;
}

/* put_record_value: value with backslash and newline escaped, so that it stays on its line. */
static void
put_record_value(FILE *f, const char *value)
{
	for (const char *v = value ? value : ""; *v; v++) {
		if (*v == '\\')
			fputs("\\\\", f);
		else if (*v == '\n')
			fputs("\\n", f);
		else
			fputc(*v, f);
	}
}

/* fsync_dir: make a rename or unlink in dir durable. */
static int
fsync_dir(const char *dir, char **err)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), ok;

	if (fd < 0)
		return set_err(err, "cannot open the state directory", dir);
	ok = fsync(fd) == 0 || set_err(err, "cannot fsync the state directory", dir);
	close(fd);
	return ok;
}

int
run_record_write(const char *dir, const run_record *r, char **err)
{
	char *path = path_of(dir, r->run_id, ".run"), *tmp = path_of(dir, r->run_id, ".run.tmp");
	FILE *f = NULL;
	int fd = -1, ok = 0;

	if (!path || !tmp) {
		*err = strdup("out of memory");
		goto cleanup;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || !(f = fdopen(fd, "w"))) {
		set_err(err, "cannot write the run record", tmp);
		goto cleanup;
	}
	fd = -1;
	fprintf(f, RECORD_MAGIC "\nrun %s\npid %ld\nstarted ", r->run_id, r->pid);
	put_record_value(f, r->started);
	fputs("\ntable ", f);
	put_record_value(f, r->table);
	fputc('\n', f);
	for (size_t i = 0; i < r->ntargets; i++) {
		fprintf(f, "target %d ", r->targets[i].index);
		put_record_value(f, r->targets[i].conninfo);
		fprintf(f, "\nlabel %d ", r->targets[i].index);
		put_record_value(f, r->targets[i].label);
		fputc('\n', f);
	}
	for (size_t i = 0; i < r->ncommit; i++) {
		fputs("commit ", f);
		put_record_value(f, r->commit[i]);
		fputc('\n', f);
	}
	fputs("end\n", f);
	if (fflush(f) != 0 || fsync(fileno(f)) != 0) {
		set_err(err, "cannot write the run record", tmp);
		goto cleanup;
	}
	if (fclose(f) != 0) {
		f = NULL;
		set_err(err, "cannot write the run record", tmp);
		goto cleanup;
	}
	f = NULL;
	if (rename(tmp, path) != 0) {
		set_err(err, "cannot rename the run record to", path);
		goto cleanup;
	}
	/* Renamed: the new record is the one any reader sees, even if it may not survive a power cut. */
	ok = fsync_dir(dir, err) ? 1 : 2;

cleanup:
	if (f)
		fclose(f);
	if (fd >= 0)
		close(fd);
	if (!ok && tmp)
		unlink(tmp);
	free(path);
	free(tmp);
	return ok;
}

/* unescape: undo put_record_value in place. */
static void
unescape(char *s)
{
	char *out = s;

	for (; *s; s++) {
		if (*s == '\\' && s[1]) {
			s++;
			*out++ = *s == 'n' ? '\n' : *s;
		} else {
			*out++ = *s;
		}
	}
	*out = '\0';
}

/* read_all: the whole file at path, malloc'd; NULL with errno set on failure. */
static char *
read_all(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t len = 0, cap = 0, n;

	if (!f)
		return NULL;
	do {
		if (len + 4096 + 1 > cap) {
			char *p = realloc(buf, cap = cap * 2 + 4096 + 1);
			if (!p) {
				free(buf);
				fclose(f);
				errno = ENOMEM;
				return NULL;
			}
			buf = p;
		}
		n = fread(buf + len, 1, 4096, f);
		len += n;
	} while (n > 0);
	if (ferror(f)) {
		free(buf);
		fclose(f);
		errno = EIO;
		return NULL;
	}
	fclose(f);
	buf[len] = '\0';
	return buf;
}

/* parse_line: one "key value" line of a record into r; 0 when it is not one. */
static int
parse_line(run_record *r, char *line, int *ended)
{
	char *value = strchr(line, ' ');
	int index;
	char *rest;

	if (strcmp(line, "end") == 0)
		return *ended = 1;
	if (!value)
		return 0;
	*value++ = '\0';
	if (strcmp(line, "target") == 0 || strcmp(line, "label") == 0) {
		index = (int) strtol(value, &rest, 10);
		if (*rest != ' ')
			return 0;
		unescape(++rest);
		if (strcmp(line, "target") == 0)
			return run_record_add_target(r, index, rest, NULL);
		for (size_t i = 0; i < r->ntargets; i++)
			if (r->targets[i].index == index) {
				free(r->targets[i].label);
				return (r->targets[i].label = strdup(rest)) != NULL;
			}
		return 0;
	}
	unescape(value);
	if (strcmp(line, "run") == 0)
		return strlen(value) == RUN_ID_LEN && snprintf(r->run_id, sizeof r->run_id, "%s", value) > 0;
	if (strcmp(line, "pid") == 0)
		return (r->pid = strtol(value, NULL, 10)) > 0;
	if (strcmp(line, "started") == 0)
		return (r->started = strdup(value)) != NULL;
	if (strcmp(line, "table") == 0)
		return (r->table = strdup(value)) != NULL;
	if (strcmp(line, "commit") == 0)
		return run_record_add_commit(r, value);
	return 1;  /* a key from a later version: not ours to judge */
}

int
run_record_read(const char *dir, const char *id, run_record *r, char **err)
{
	char *path = path_of(dir, id, ".run"), *text, *line, *save = NULL;
	int ok = 1, ended = 0;

	memset(r, 0, sizeof *r);
	if (!path) {
		*err = strdup("out of memory");
		return -1;
	}
	text = read_all(path);
	if (!text) {
		int missing = errno == ENOENT;
		if (!missing)
			set_err(err, "cannot read the run record", path);
		free(path);
		return missing ? 0 : -1;
	}
	line = strtok_r(text, "\n", &save);
	if (!line || strcmp(line, RECORD_MAGIC) != 0)
		ok = 0;
	while (ok && !ended && (line = strtok_r(NULL, "\n", &save)))
		ok = parse_line(r, line, &ended);
	if (!ok || !ended || strcmp(r->run_id, id) != 0) {
		free(*err);
		*err = cli_strdup_printf("\"%s\" is not a complete pgcopyman run record", path);
		run_record_clear(r);
		ok = 0;
	}
	free(text);
	free(path);
	return ok ? 1 : -1;
}

int
run_record_remove(const char *dir, const char *id, char **err)
{
	char *path = path_of(dir, id, ".run"), *lock = path_of(dir, id, ".lock");
	int ok = path && lock;

	if (!ok)
		*err = strdup("out of memory");
	/* The record first: a lock file without a record is nothing to recover. */
	if (ok && unlink(path) != 0 && errno != ENOENT)
		ok = set_err(err, "cannot remove the run record", path);
	if (ok && unlink(lock) != 0 && errno != ENOENT)
		ok = set_err(err, "cannot remove the lock file", lock);
	ok = ok && fsync_dir(dir, err);
	free(path);
	free(lock);
	return ok;
}

int
run_record_list(const char *dir, char ***ids, size_t *n, char **err)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	size_t cap = 0;

	*ids = NULL;
	*n = 0;
	if (!d)
		return errno == ENOENT ? 1 : set_err(err, "cannot read the state directory", dir);
	while ((de = readdir(d))) {
		size_t len = strlen(de->d_name);
		if (len != RUN_ID_LEN + 4 || strcmp(de->d_name + RUN_ID_LEN, ".run") != 0)
			continue;
		if (*n == cap) {
			char **p = realloc(*ids, (cap = cap * 2 + 8) * sizeof *p);
			if (!p)
				break;
			*ids = p;
		}
		if (!((*ids)[*n] = strndup(de->d_name, RUN_ID_LEN)))
			break;
		(*n)++;
	}
	closedir(d);
	if (de) {
		free(*err);
		*err = strdup("out of memory");
		return 0;
	}
	return 1;
}

int
run_record_add_target(run_record *r, int index, const char *conninfo, const char *label)
{
	run_target *t = realloc(r->targets, (r->ntargets + 1) * sizeof *t);

	if (!t)
		return 0;
	r->targets = t;
	t = &r->targets[r->ntargets];
	t->index = index;
	t->conninfo = strdup(conninfo ? conninfo : "");
	t->label = strdup(label ? label : "");
	if (!t->conninfo || !t->label) {
		free(t->conninfo);
		free(t->label);
		return 0;
	}
	r->ntargets++;
	return 1;
}

int
run_record_add_commit(run_record *r, const char *gid)
{
	char **c = realloc(r->commit, (r->ncommit + 1) * sizeof *c);

	if (!c)
		return 0;
	r->commit = c;
	if (!(c[r->ncommit] = strdup(gid)))
		return 0;
	r->ncommit++;
	return 1;
}

int
run_record_commits(const run_record *r, const char *gid)
{
	for (size_t i = 0; i < r->ncommit; i++)
		if (strcmp(r->commit[i], gid) == 0)
			return 1;
	return 0;
}

void
run_record_clear(run_record *r)
{
	for (size_t i = 0; i < r->ntargets; i++) {
		free(r->targets[i].conninfo);
		free(r->targets[i].label);
	}
	for (size_t i = 0; i < r->ncommit; i++)
		free(r->commit[i]);
	free(r->targets);
	free(r->commit);
	free(r->started);
	free(r->table);
	memset(r, 0, sizeof *r);
}
