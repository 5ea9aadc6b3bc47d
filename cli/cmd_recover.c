/*
 * cmd_recover.c: `pgcopyman recover`: finish the prepared transactions that
 * a copy left behind when it died (kill -9, a crash, a lost machine) in the
 * middle of its two-phase commit.
 *
 * Each of the tool's prepared transactions names its run (twophase.h); the
 * run's record in the state directory (statedir.h) says whether the run
 * decided to commit it.  Presumed abort: what the record does not list as
 * committed is rolled back.  A run that still holds its lock is alive and is
 * left alone; a prepared transaction whose run has no record in the state
 * directory is left alone too (the run used another state directory, or the
 * record was lost) and the way to settle it by hand is printed.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "statedir.h"
#include "twophase.h"

#define MAX_RECOVER_TARGETS 64

enum run_state {
	RUN_LOCKED,       /* its record is read and its lock is ours: settle by the record */
	RUN_BUSY,         /* another process holds its lock: a copy (or a recover) still running */
	RUN_NO_RECORD,    /* no record in this state directory */
	RUN_FINISHED,     /* its record went away while we looked: the run settled it */
	RUN_BAD           /* a record that cannot be read */
};

/* A run met while recovering. */
typedef struct recover_run {
	char id[RUN_ID_LEN + 1];
	enum run_state state;
	int lock_fd;
	run_record record;
	char *why;        /* RUN_BAD: what is wrong */
} recover_run;

typedef struct recover_ctx {
	const char *dir;
	int dry_run;
	recover_run *runs;
	size_t nruns;
	int committed, rolled_back, skipped, left;
} recover_ctx;

static void
recover_usage(FILE *f)
{
	fprintf(f,
	        "Usage: pgcopyman recover [--to TARGET ...] [--state-dir DIR] [--dry-run] [-W | -w]\n"
	        "\n"
	        "Finish the prepared transactions that a pgcopyman copy left behind when it was killed or\n"
	        "crashed during its two-phase commit: commit those its run's record (in the state directory)\n"
	        "decided to commit, roll back the others (presumed abort).  Runs still going are left alone.\n"
	        "\n"
	        "  --to TARGET          a target to look at (a libpq connection string or URI; repeat it);\n"
	        "                       without --to, every target named by a record in the state directory\n"
	        "                       (records keep no passwords: PGPASSWORD, ~/.pgpass or the prompt\n"
	        "                       supply them), and a record whose run is fully settled is removed\n"
	        "  --state-dir DIR      the runs' records (default $XDG_STATE_HOME/pgcopyman, or\n"
	        "                       ~/.local/state/pgcopyman): the same as the copy's --state-dir\n"
	        "  --dry-run            say what would be done, do nothing\n"
	        "  -W, --password       ask for a password before connecting (on the terminal)\n"
	        "  -w, --no-password    never ask for a password (by default a server that asks for one\n"
	        "                       none was given for gets a prompt on the terminal, once per server)\n"
	        "  -h, --help           show this help\n"
	        "\n"
	        "Exit status: 0 nothing is left to settle; 1 something is left (a target could not be\n"
	        "reached, a server refused, a run has no record here); 2 usage error; 3 only transactions\n"
	        "of runs still running were left (run recover again once they end).\n");
}

/*
 * open_run: the run with this id, looked up once per recover: its record,
 * read under its lock (which is kept until the end, so that no copy or
 * other recover settles it meanwhile).
 */
static recover_run *
open_run(recover_ctx *ctx, const char *id)
{
	recover_run *r, *runs;
	char *path, *err = NULL;
	int rc;

	for (size_t i = 0; i < ctx->nruns; i++)
		if (strcmp(ctx->runs[i].id, id) == 0)
			return &ctx->runs[i];
	if (!(runs = realloc(ctx->runs, (ctx->nruns + 1) * sizeof *runs)))
		return NULL;
	ctx->runs = runs;
	r = &ctx->runs[ctx->nruns++];
	memset(r, 0, sizeof *r);
	snprintf(r->id, sizeof r->id, "%s", id);
	r->lock_fd = -1;
	path = cli_strdup_printf("%s/%s.run", ctx->dir, id);
	if (!path || access(path, F_OK) != 0) {
		r->state = RUN_NO_RECORD;
		free(path);
		return r;
	}
	free(path);
	r->lock_fd = run_lock(ctx->dir, id, &err);
	if (r->lock_fd == -1) {
		r->state = RUN_BUSY;
	} else if (r->lock_fd < 0) {
		r->state = RUN_BAD;
		r->why = err;
		err = NULL;
	} else if ((rc = run_record_read(ctx->dir, id, &r->record, &err)) == 1) {
		r->state = RUN_LOCKED;
	} else if (rc == 0) {
		r->state = RUN_FINISHED;
		(void) run_record_remove(ctx->dir, id, &err);  /* the lock file our lock may have re-created */
	} else {
		r->state = RUN_BAD;
		r->why = err;
		err = NULL;
	}
	free(err);
	return r;
}

/* say: one line of what recover did (or, with --dry-run, would do) with a prepared transaction. */
static void
say(const char *what, const prepared_xact *x, const char *label, const char *why)
{
	cli_out("%s %s on %s%s%s", what, x->gid, label, why ? ": " : "", why ? why : "");
}

/*
 * settle: one prepared transaction x of the tool, seen on conn (label), as
 * its run's record says; or left, or skipped, saying why.
 */
static void
settle(recover_ctx *ctx, PGconn *conn, const char *label, const prepared_xact *x)
{
	char id[RUN_ID_LEN + 1], *why = NULL;
	recover_run *run;
	sql_error err = {0};
	int commit;

	if (!twophase_gid_run(x->gid, id)) {
		say("left", x, label, "not a gid of this version of pgcopyman");
		ctx->left++;
		return;
	}
	if (!x->here) {
		why = cli_strdup_printf("it is in database \"%s\": give --to a connection string with that dbname",
		                        x->database);
		say("left", x, label, why);
		ctx->left++;
		free(why);
		return;
	}
	if (!(run = open_run(ctx, id))) {
		cli_error("out of memory");
		ctx->left++;
		return;
	}
	switch (run->state) {
	case RUN_BUSY:
		say("skipped", x, label, "its run is still going (it holds its lock)");
		ctx->skipped++;
		return;
	case RUN_FINISHED:
		say("skipped", x, label, "its run finished it meanwhile");
		ctx->skipped++;
		return;
	case RUN_NO_RECORD:
		why = cli_strdup_printf("no record of run %s in %s. If the run used another --state-dir, give "
		                        "it; if you know the run never decided to commit, settle it by hand with "
		                        "ROLLBACK PREPARED '%s'", id, ctx->dir, x->gid);
		say("left", x, label, why);
		ctx->left++;
		free(why);
		return;
	case RUN_BAD:
		say("left", x, label, run->why);
		ctx->left++;
		return;
	case RUN_LOCKED:
		break;
	}
	commit = run_record_commits(&run->record, x->gid);
	if (ctx->dry_run || twophase_finish(conn, x->gid, commit, &err)) {
		say(ctx->dry_run ? (commit ? "would be committed" : "would be rolled back")
		                 : (commit ? "committed" : "rolled back"),
		    x, label, commit ? "its run decided to commit" : "its run never decided to commit");
		if (commit)
			ctx->committed++;
		else
			ctx->rolled_back++;
	} else {
		why = cli_strdup_printf("%s PREPARED failed: %s", commit ? "COMMIT" : "ROLLBACK", err.message);
		say("left", x, label, why);
		ctx->left++;
		free(why);
	}
	sql_error_clear(&err);
}

/* settle_target: every prepared transaction with the gid prefix on one target. */
static int
settle_target(recover_ctx *ctx, const char *conninfo, const char *prefix)
{
	char *label = cli_mask_conninfo(conninfo);
	PGconn *conn = cli_connect(conninfo);
	prepared_xact *x = NULL;
	size_t n = 0;
	sql_error err = {0};
	int ok = conn != NULL;

	if (ok && !twophase_list(conn, prefix, &x, &n, &err)) {
		cli_error("%s: cannot list prepared transactions: %s", label ? label : "?", err.message);
		ok = 0;
	}
	for (size_t i = 0; i < n; i++)
		settle(ctx, conn, label ? label : "?", &x[i]);
	if (!ok)
		ctx->left++;
	twophase_list_free(x, n);
	sql_error_clear(&err);
	PQfinish(conn);
	free(label);
	return ok;
}

/*
 * recover_records: without --to: every run in the state directory, each
 * target of its record; a run whose targets were all reached and hold none
 * of its transactions any more has its record removed.
 */
static void
recover_records(recover_ctx *ctx)
{
	char **ids = NULL, *err = NULL;
	size_t n = 0;

	if (!run_record_list(ctx->dir, &ids, &n, &err)) {
		cli_error("%s", err);
		ctx->left++;
	}
	for (size_t i = 0; i < n; i++) {
		recover_run *run = open_run(ctx, ids[i]);
		char prefix[sizeof GID_PREFIX + RUN_ID_LEN + 1];
		int before = ctx->left + ctx->skipped, reached = 1;

		if (!run || run->state == RUN_BUSY || run->state == RUN_BAD) {
			cli_out("skipped run %s: %s", ids[i], !run ? "out of memory" : run->state == RUN_BUSY
			        ? "it is still going (it holds its lock)" : run->why);
			if (run && run->state == RUN_BUSY)
				ctx->skipped++;
			else
				ctx->left++;
			continue;
		}
		if (run->state != RUN_LOCKED)
			continue;
		snprintf(prefix, sizeof prefix, GID_PREFIX "%s:", run->id);
		for (size_t t = 0; t < run->record.ntargets; t++)
			reached &= settle_target(ctx, run->record.targets[t].conninfo, prefix);
		if (!ctx->dry_run && reached && ctx->left + ctx->skipped == before) {
			if (run_record_remove(ctx->dir, run->id, &err))
				cli_out("run %s settled: its record is removed", run->id);
			else
				cli_error("%s", err);
		}
	}
	for (size_t i = 0; i < n; i++)
		free(ids[i]);
	free(ids);
	free(err);
}

static const struct option recover_longopts[] = {
	{"to", required_argument, NULL, 'T'},
	{"state-dir", required_argument, NULL, 'S'},
	{"dry-run", no_argument, NULL, 'n'},
	{"password", no_argument, NULL, 'W'},
	{"no-password", no_argument, NULL, 'w'},
	{"help", no_argument, NULL, 'h'},
	{NULL, 0, NULL, 0}
};

/* --to carries a connection string: main.c scrubs it from the process title with these tables. */
static const int recover_conninfo_vals[] = {'T', 0};
const cli_optspec cli_recover_optspec = {":Wwh", recover_longopts, recover_conninfo_vals};

int
cli_recover(int argc, char **argv)
{
	const char *to[MAX_RECOVER_TARGETS], *state_dir = NULL;
	char *dir = NULL;
	recover_ctx ctx;
	int nto = 0, ch, rc;

	memset(&ctx, 0, sizeof ctx);
	opterr = 0;
	optind = 0;   /* glibc: a fresh scan (main.c's scrub ran getopt before) */
	while ((ch = getopt_long(argc, argv, cli_recover_optspec.shortopts, recover_longopts, NULL)) != -1) {
		switch (ch) {
		case 'T':
			if (nto == MAX_RECOVER_TARGETS) {
				cli_error("recover: too many --to targets (at most %d)", MAX_RECOVER_TARGETS);
				return cli_usage_hint("recover");
			}
			to[nto++] = optarg;
			break;
		case 'S': state_dir = optarg; break;
		case 'n': ctx.dry_run = 1; break;
		case 'W': cli_password_set_mode(CLI_PASSWORD_ALWAYS); break;
		case 'w': cli_password_set_mode(CLI_PASSWORD_NEVER); break;
		case 'h': recover_usage(stdout); return EXIT_LOADED;
		case ':':
			cli_error("recover: option %s needs a value", argv[optind - 1]);
			return cli_usage_hint("recover");
		default:
			cli_error("recover: unknown option \"%s\"", argv[optind - 1]);
			return cli_usage_hint("recover");
		}
	}
	if (optind < argc) {
		cli_error("recover: unexpected argument \"%s\"", argv[optind]);
		return cli_usage_hint("recover");
	}
	dir = state_dir ? strdup(state_dir) : statedir_default();
	if (!dir) {
		cli_error("recover: no state directory: set HOME or XDG_STATE_HOME, or give --state-dir");
		return cli_usage_hint("recover");
	}
	ctx.dir = dir;
	if (nto == 0)
		recover_records(&ctx);
	for (int i = 0; i < nto; i++)
		(void) settle_target(&ctx, to[i], GID_PREFIX);
	for (size_t i = 0; nto > 0 && !ctx.dry_run && i < ctx.nruns; i++)
		if (ctx.runs[i].state == RUN_LOCKED)
			cli_out("run %s: its record stays in %s; `pgcopyman recover --state-dir` that directory, "
			        "without --to, checks every target of the run and then removes it", ctx.runs[i].id, dir);
	cli_out("recover: %d committed, %d rolled back, %d skipped, %d left%s", ctx.committed, ctx.rolled_back,
	        ctx.skipped, ctx.left, ctx.dry_run ? " (dry run: nothing done)" : "");
	/* 1: something is left; 3: only runs still going were skipped; 0: nothing left. */
	rc = ctx.left ? EXIT_FAILED : ctx.skipped ? EXIT_PARTIAL : EXIT_LOADED;
	for (size_t i = 0; i < ctx.nruns; i++) {
		if (ctx.runs[i].lock_fd >= 0)
			close(ctx.runs[i].lock_fd);
		run_record_clear(&ctx.runs[i].record);
		free(ctx.runs[i].why);
	}
	free(ctx.runs);
	free(dir);
	return rc;
}
