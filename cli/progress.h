/*
 * progress.h: the copy command's progress display.  On a terminal a live
 * line is redrawn in place a few times a second; off a terminal nothing is
 * printed unless a plain line every few seconds is asked for, or a JSON
 * object every second for a program that drives the command:
 *   {"event": "progress", "elapsed": 2.0, "rows": 1200000, "bytes": 234500000,
 *    "rows_per_second": 412000, "bytes_per_second": 78100000, "percent": 63,
 *    "eta_seconds": 4, "targets": [{"target": 1, "state": "running", "rows": 0}, ...]}
 * (percent and eta_seconds only when the total is known).  Uses libc
 * only: no library internals, no libpq.
 */
#ifndef PGCM_CLI_PROGRESS_H
#define PGCM_CLI_PROGRESS_H

#include <stdint.h>
#include <stdio.h>

typedef struct cli_progress cli_progress;

enum cli_progress_mode {
	PROGRESS_AUTO,   /* live line if the stream is a tty, else silent */
	PROGRESS_PLAIN,  /* a plain line every 5 s, tty or not */
	PROGRESS_JSON,   /* a JSON object a line every second, for programs (--progress=json) */
	PROGRESS_QUIET   /* nothing */
};

/*
 * cli_progress_new: a progress display writing to out (normally stderr).
 * est_rows / est_bytes: the expected totals, 0 when unknown (then no percent
 * and no ETA); percent and ETA come from bytes when est_bytes is known, else
 * from rows.  ntargets: how many targets the copy has.  Returns NULL when out
 * of memory (every other call accepts NULL and then does nothing).  Free with
 * cli_progress_free().
 */
cli_progress *cli_progress_new(FILE *out, enum cli_progress_mode mode, uint64_t est_rows,
                               uint64_t est_bytes, int ntargets);

/*
 * cli_progress_update: the copy's totals so far and its targets' states.
 * Cheap enough to call every cycle: it redraws at most about 4 times a second
 * (live line) or every 5 seconds (plain lines).
 */
void cli_progress_update(cli_progress *p, uint64_t rows, uint64_t bytes, int running,
                         int faulted, int done);

/*
 * cli_progress_target: target i's (0-based) state ("running", "waiting",
 * "done", "faulted"; a static string), the rows its server confirmed, and
 * what it waits for (NULL: nothing; copied), for the JSON lines.
 */
void cli_progress_target(cli_progress *p, int i, const char *state, uint64_t rows, const char *waiting);

/*
 * cli_progress_message: print line (a whole line, e.g. a fault; a newline is
 * added if it has none) to the display's stream, whatever the mode: the live
 * line is cleared first and redrawn after it.  With p NULL it goes to stderr.
 * In JSON mode it is a JSON object too: {"event": "message", "text": line}.
 */
void cli_progress_message(cli_progress *p, const char *line);

/*
 * cli_progress_phase: what the command does now that is not moving rows
 * (e.g. "building index t_u, 2 of 3"), or NULL when that is over.  The live
 * line shows it, with the time it has taken so far, instead of the counters;
 * --progress prints it on a plain line each time it changes; --progress=json
 * prints a progress object with "phase" and "phase_seconds" when it begins,
 * every second while it lasts, and once without them when it ends; quiet
 * shows nothing.  Cheap enough to call every cycle (it redraws as updates do).
 */
void cli_progress_phase(cli_progress *p, const char *phase);

/*
 * cli_progress_finish: clear the live line (before the final summary); no
 * more drawing.  In JSON mode the last object, with "final": true.
 */
void cli_progress_finish(cli_progress *p);

/* cli_progress_free: free p (NULL is fine); clears the live line if still shown. */
void cli_progress_free(cli_progress *p);

/*
 * For tests only: as cli_progress_new(out, mode, ...) but with the stream
 * taken to be a terminal (is_tty) of width columns (0: ask the terminal, as
 * usual) and with clock_fn (seconds, monotonic; NULL: the real clock).
 */
cli_progress *cli_progress_new_for_test(FILE *out, enum cli_progress_mode mode, uint64_t est_rows,
                                        uint64_t est_bytes, int ntargets, int is_tty, int width,
                                        double (*clock_fn)(void));

#endif
