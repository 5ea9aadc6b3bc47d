/*
 * copy_run.c: the streams of a copy (one pgcm_copy each: a source session or
 * file to every target's session or file), stepped together in one poll()
 * loop through the library's external-loop API.
 */
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "copy.h"

/*
 * record_fault: keep a target's fault for the summary, and say it at once,
 * over the progress line.  A fault is an error: --quiet does not hide it.
 */
void
copy_record_fault(copy_endpoint *dst, int ndst, const pgcm_fault *f, cli_progress *prog)
{
	for (int i = 0; i < ndst; i++) {
		char *line, *safe;
		cli_buf b;
		int mine = 0;

		for (int j = 0; j < MAX_JOBS; j++)
			mine |= dst[i].receivers[j] == f->receiver;
		if (!mine || dst[i].reported)
			continue;
		/* A stall that was a lock wait says so. */
		cli_buf_init(&b);
		cli_buf_add(&b, f->message);
		if (codec_writer_error(dst[i].writer)[0])
			cli_buf_addf(&b, ": %s", codec_writer_error(dst[i].writer));
		if (dst[i].lock_note)
			cli_buf_addf(&b, "; it was %s", dst[i].lock_note);
		free(dst[i].error);
		dst[i].error = cli_buf_take(&b);
		snprintf(dst[i].sqlstate, sizeof dst[i].sqlstate, "%s", f->sqlstate);
		dst[i].status = "faulted";
		dst[i].reported = 1;
		cli_buf_addf(&b, "pgcopyman: target faulted: %s%s%s%s", dst[i].error ? dst[i].error : f->message,
		             f->sqlstate[0] ? " (SQLSTATE " : "", f->sqlstate, f->sqlstate[0] ? ")" : "");
		line = cli_buf_take(&b);
		safe = line ? cli_scrub_text(line) : NULL;
		cli_progress_message(prog, safe ? safe : "pgcopyman: target faulted (out of memory)");
		free(safe);
		free(line);
	}
}

/* target_state: a target of several streams is done when all are, faulted when any is. */
pgcm_receiver_state
copy_target_state(const copy_endpoint *e, int jobs)
{
	int done = 0;

	for (int j = 0; j < jobs; j++) {
		pgcm_receiver_state st = pgcm_receiver_get_state(e->receivers[j]);
		if (st == PGCM_RECEIVER_FAULTED || st == PGCM_RECEIVER_DROPPED || st == PGCM_RECEIVER_ABORTED)
			return PGCM_RECEIVER_FAULTED;
		done += st == PGCM_RECEIVER_DONE;
	}
	return done == jobs ? PGCM_RECEIVER_DONE : PGCM_RECEIVER_ACTIVE;
}

/* totals: rows and bytes of every stream added up. */
pgcm_progress
copy_totals(pgcm_copy *const *copies, int jobs)
{
	pgcm_progress t = {0, 0};

	for (int j = 0; j < jobs; j++) {
		pgcm_progress p = pgcm_copy_totals(copies[j]);
		t.rows += p.rows;
		t.bytes += p.bytes;
	}
	return t;
}

/* update_progress: the totals so far and how many targets are running, faulted, done. */
static void
update_progress(cli_progress *prog, pgcm_copy *const *copies, int jobs, const copy_endpoint *dst, int ndst)
{
	pgcm_progress t = copy_totals(copies, jobs);
	int running = 0, faulted = 0, done = 0;

	for (int i = 0; i < ndst; i++) {
		const char *state = "running";
		uint64_t rows = 0;

		switch (copy_target_state(&dst[i], jobs)) {
		case PGCM_RECEIVER_DONE: done++; state = "done"; break;
		case PGCM_RECEIVER_FAULTED: faulted++; state = "faulted"; break;
		default: running++; state = dst[i].lock_note ? "waiting" : "running"; break;
		}
		for (int j = 0; j < jobs; j++)
			rows += pgcm_receiver_rows(dst[i].receivers[j]);
		cli_progress_target(prog, i, state, rows, dst[i].lock_note);
	}
	cli_progress_update(prog, t.rows, t.bytes, running, faulted, done);
}

/*
 * watch_locks: nothing has moved for a while: ask each server target that
 * is still loading whether one of its sessions waits on another session's
 * lock, and say so (once per change) while it waits.  Data moving again
 * means the waits are over.
 */
static void
watch_locks(copy_endpoint *dst, int ndst, int jobs, int moved, cli_progress *prog, int quiet)
{
	for (int i = 0; i < ndst; i++) {
		copy_endpoint *e = &dst[i];

		if (moved) {
			free(e->lock_note);
			e->lock_note = NULL;
			continue;
		}
		if (e->kind != EP_SERVER)
			continue;
		for (int j = 0; j < jobs; j++) {
			pgcm_receiver_state st = pgcm_receiver_get_state(e->receivers[j]);
			if (st != PGCM_RECEIVER_DONE && st != PGCM_RECEIVER_FAULTED && st != PGCM_RECEIVER_DROPPED
			    && st != PGCM_RECEIVER_ABORTED && copy_note_lock_wait(e, e->conns[j], i, prog, !quiet))
				break;
		}
	}
}

/* is_over: the copy completed or was aborted; it needs no more steps. */
static int
is_over(pgcm_status st)
{
	return st != PGCM_OK && st != PGCM_AGAIN && st != PGCM_FAULT;
}

/*
 * abort_all: start ending every stream that is still running, with the same
 * reason; the loop goes on stepping them while their connections settle.
 */
static void
abort_all(pgcm_copy *const *copies, const pgcm_status *st, int jobs, const char *reason)
{
	for (int j = 0; j < jobs; j++)
		if (!is_over(st[j]))
			(void) pgcm_copy_abort_start(copies[j], reason);
}

/*
 * run_copies: step every stream's copy in one loop, waiting in one poll()
 * over all their descriptors for at most a quarter second, so the progress
 * line and the signal flag are looked at even while a target stalls.
 * Faults are reported as they happen; with --on-fault abort the first one
 * aborts every stream; so does a signal, or one stream's failure.  Aborts
 * settle in the same loop, every stream at once, until all are over.
 */
void
copy_run_streams(pgcm_copy *const *copies, int jobs, const copy_opts *o, copy_endpoint *dst, cli_progress *prog)
{
	pgcm_status st[MAX_JOBS];
	struct pollfd fds[MAX_JOBS * (MAX_TARGETS + 1)];
	size_t at[MAX_JOBS + 1] = {0};  /* copy j's descriptors are fds[at[j] .. at[j + 1]) */
	int live = jobs, aborting = 0;
	pgcm_progress seen = {0, 0};
	double last_move = cli_now(), next_lock_check = 0;

	for (int j = 0; j < jobs; j++)
		st[j] = PGCM_OK;
	while (live > 0) {
		int waiting = 1, timeout = 250;

		live = 0;
		for (int j = 0; j < jobs; j++) {
			if (is_over(st[j]))
				continue;
			/* What the last poll() said lets each copy skip endpoints that are not ready. */
			st[j] = pgcm_copy_step_polled(copies[j], fds + at[j], at[j + 1] - at[j], NULL);
			if (st[j] == PGCM_FAULT) {
				pgcm_fault faults[MAX_TARGETS];
				size_t nf = pgcm_copy_faults(copies[j], faults, MAX_TARGETS);
				for (size_t i = 0; i < nf && i < MAX_TARGETS; i++)
					copy_record_fault(dst, o->nto, &faults[i], prog);
				if (o->on_fault_abort && !aborting) {
					char reason[160];
					snprintf(reason, sizeof reason, "--on-fault abort: target %zu faulted",
					         faults[0].index + 1);
					abort_all(copies, st, jobs, reason);
					aborting = 1;
				}
			} else if (is_over(st[j]) && st[j] != PGCM_DONE && !aborting) {
				abort_all(copies, st, jobs, "another stream of the copy failed");
				aborting = 1;
			}
			if (st[j] != PGCM_AGAIN)
				waiting = 0;
			if (!is_over(st[j]))
				live++;
		}
		update_progress(prog, copies, jobs, dst, o->nto);
		{
			pgcm_progress t = copy_totals(copies, jobs);
			double now = cli_now();
			if (t.rows != seen.rows || t.bytes != seen.bytes) {
				if (now - last_move >= LOCK_CHECK_AFTER)
					watch_locks(dst, o->nto, jobs, 1, prog, o->quiet);
				seen = t;
				last_move = now;
			} else if (now - last_move >= LOCK_CHECK_AFTER && now >= next_lock_check) {
				watch_locks(dst, o->nto, jobs, 0, prog, o->quiet);
				next_lock_check = now + 1.0;
			}
		}
		if (cli_interrupted && !aborting) {
			abort_all(copies, st, jobs, cli_interrupted == SIGINT ? "interrupted by SIGINT"
			                                                      : "interrupted by SIGTERM");
			aborting = 1;
		}
		memset(at, 0, sizeof at);
		if (!live || !waiting)
			continue;
		for (int j = 0; j < jobs; j++) {
			int t = pgcm_copy_timeout_ms(copies[j]);
			at[j + 1] = at[j];
			if (is_over(st[j]))
				continue;
			at[j + 1] += pgcm_copy_pollfds(copies[j], fds + at[j], sizeof fds / sizeof fds[0] - at[j]);
			if (t >= 0 && t < timeout)
				timeout = t;
		}
		if (poll(fds, (nfds_t) at[jobs], timeout) < 0)
			memset(at, 0, sizeof at);
	}
}

/* new_stream: stream j: its source session (or fd) to every target's session j (or fd). */
pgcm_copy *
copy_new_stream(int j, copy_endpoint *src, char *const *src_cmds, copy_endpoint *dst, const copy_opts *o,
           const pgcm_format *fmt)
{
	pgcm_producer *producer;
	pgcm_copy *copy;

	if (src->kind == EP_SERVER) {
		producer = pgcm_producer_pg(src->conns[j], src_cmds[j]);
		if (producer)
			pgcm_producer_set_format(producer, fmt);
	} else if (src->reader) {
		producer = pgcm_producer_fn(codec_read, src->reader, fmt);
	} else {
		producer = pgcm_producer_fd(src->fd, fmt);
	}
	if (producer)
		pgcm_producer_set_label(producer, src->kind == EP_SERVER ? "source" : src->label);
	copy = pgcm_copy_new(producer);
	if (!copy)
		return NULL;
	pgcm_copy_set_stall_timeout(copy, (int) (o->stall_timeout * 1000));
	pgcm_copy_set_segment_bytes(copy, (uint64_t) o->segment_mb << 20);
	for (int i = 0; i < o->nto; i++) {
		copy_endpoint *e = &dst[i];
		pgcm_receiver *r = e->kind == EP_SERVER ? pgcm_receiver_pg(e->conns[j], e->command)
		                   : e->writer ? pgcm_receiver_fn(codec_write, e->writer) : pgcm_receiver_fd(e->fd);
		if (r)
			pgcm_receiver_set_label(r, e->label);
		e->receivers[j] = r;
		if (pgcm_copy_add(copy, r) != PGCM_OK) {
			pgcm_copy_free(copy);
			return NULL;
		}
	}
	return copy;
}
