/*
 * statedir.h: the state directory of the commands' two-phase commits.
 *
 * A copy that commits with prepared transactions keeps one record per run
 * in the state directory: which targets it loads (connection strings without
 * secrets, masked labels) and, once every session is prepared, the decision:
 * the transaction ids (gids) to commit.  The record is replaced atomically
 * and durably (temporary file, fsync, rename, fsync of the directory), so it
 * is either the old one or the new one after a crash.  A run holds an flock
 * on its lock file (DIR/RUN.lock) from before its first PREPARE until every
 * prepared transaction is settled; `pgcopyman recover` leaves a locked run
 * alone.  Files: DIR/RUN.run (the record), DIR/RUN.lock; DIR is mode 0700.
 */
#ifndef PGCM_CLI_STATEDIR_H
#define PGCM_CLI_STATEDIR_H

#include <stddef.h>

#define RUN_ID_LEN 16   /* hex digits of a run id: 64 random bits */

typedef struct run_target {
	int index;          /* the target's 1-based position on the command line (t<index> in gids) */
	char *conninfo;     /* its connection string without secrets */
	char *label;        /* its connection string, secrets masked */
} run_target;

/* A run's record. */
typedef struct run_record {
	char run_id[RUN_ID_LEN + 1];
	long pid;           /* the process that ran it */
	char *started;      /* when, UTC, ISO 8601 */
	char *table;        /* what it loaded (for people reading the record) */
	run_target *targets;
	size_t ntargets;
	char **commit;      /* the decision: gids to commit; none = roll everything back */
	size_t ncommit;
} run_record;

/*
 * statedir_default: $XDG_STATE_HOME/pgcopyman, else ~/.local/state/pgcopyman
 * ($HOME).  malloc'd; NULL when neither variable is set (or out of memory).
 */
char *statedir_default(void);

/* statedir_ensure: create dir (and its parents) as needed, mode 0700.  1, or 0 with *err (malloc'd). */
int statedir_ensure(const char *dir, char **err);

/* run_new_id: a fresh random run id (16 hex digits) from /dev/urandom.  1, or 0 with *err. */
int run_new_id(char id[RUN_ID_LEN + 1], char **err);

/*
 * run_lock: open (creating it) dir/id.lock and take an exclusive flock
 * without waiting.  Returns the descriptor (the lock lasts until it is
 * closed, or the process ends), -1 when another process holds it, -2 on an
 * error (*err, malloc'd).
 */
int run_lock(const char *dir, const char *id, char **err);

/*
 * run_record_write: replace dir/<r->run_id>.run with r, durably.  1 done;
 * 0 not written, the old record stands (*err); 2 in place but the directory
 * could not be synced, so a power cut might bring the old one back (*err).
 */
int run_record_write(const char *dir, const run_record *r, char **err);

/*
 * run_record_read: read dir/id.run into r (cleared first; free with
 * run_record_clear).  1 read; 0 no such record; -1 unreadable or not a
 * complete record (*err).
 */
int run_record_read(const char *dir, const char *id, run_record *r, char **err);

/* run_record_remove: remove dir/id.run, then dir/id.lock, durably.  1, or 0 with *err. */
int run_record_remove(const char *dir, const char *id, char **err);

/*
 * run_record_list: the run ids of every record in dir, in *ids (malloc'd
 * array of malloc'd strings, *n of them; free each and the array).  A
 * missing dir has none.  1, or 0 with *err.
 */
int run_record_list(const char *dir, char ***ids, size_t *n, char **err);

/* run_record_add_target, run_record_add_commit: append (strings copied); 1, or 0 out of memory. */
int run_record_add_target(run_record *r, int index, const char *conninfo, const char *label);
int run_record_add_commit(run_record *r, const char *gid);

/* run_record_commits: whether the record's decision commits gid. */
int run_record_commits(const run_record *r, const char *gid);

/* run_record_clear: free what r holds and zero it. */
void run_record_clear(run_record *r);

#endif
