/*
 * progress.c: the copy command's progress display (see progress.h).
 *
 * A live line looks like
 *   "  1.2M rows  234.5 MB  78.1 MB/s  412k rows/s  63%  ETA 0:04  targets: 2 running, 0 faulted, 0 done"
 * and is redrawn in place ("\r", the line, clear-to-end-of-line) at most four
 * times a second; a plain line is the same text, prefixed with
 * "pgcopyman: " and the elapsed time, every five seconds.  Rates are
 * measured over the last few seconds, so that a copy that slows down shows
 * it.  Only libc is used.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "progress.h"

#define LIVE_INTERVAL 0.25   /* seconds between redraws of the live line */
#define LIVE_DELAY 0.25      /* no live line for copies shorter than this */
#define PLAIN_INTERVAL 5.0   /* seconds between plain lines */
#define JSON_INTERVAL 1.0    /* seconds between JSON lines */
#define RATE_WINDOW 5.0      /* rates are measured over this many seconds */
#define SAMPLE_INTERVAL 0.2  /* seconds between rate samples */
#define NSAMPLES 32          /* > RATE_WINDOW / SAMPLE_INTERVAL */
#define LINE_MAX_LEN 512

/* What the JSON lines say of one target. */
typedef struct target_view {
	const char *state;        /* static */
	uint64_t rows;
	char *waiting;            /* malloc'd; NULL: not waiting */
} target_view;

typedef struct sample {
	double t;
	uint64_t rows, bytes;
} sample;

struct cli_progress {
	FILE *out;
	enum cli_progress_mode mode;
	int live;                 /* draw a live line (AUTO on a terminal) */
	int plain;                /* print plain lines */
	int json;                 /* print JSON lines */
	target_view *targets;     /* ntargets of them (JSON) */
	int dumb;                 /* TERM=dumb: clear with spaces, not an escape */
	int width;                /* fixed width (tests), or 0: ask the terminal */
	double (*clock_fn)(void);
	uint64_t est_rows, est_bytes;
	int ntargets;
	double t0;                /* when the display was made */
	double last_draw;         /* when the last line was drawn or printed; < 0: never */
	int shown;                /* a live line is on the screen */
	size_t shown_len;         /* its length (for TERM=dumb) */
	int finished;
	int have;                 /* an update arrived */
	uint64_t rows, bytes;     /* the last update */
	int running, faulted, done;
	char *phase;              /* cli_progress_phase's text, or NULL */
	double phase_t0;          /* when it began */
	sample samples[NSAMPLES]; /* a ring, oldest at first */
	int first, nsamples;
};

/* monotonic_seconds: the default clock; never jumps with the wall clock. */
static double
monotonic_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

/* add_sample: remember (t, rows, bytes) for the rate, dropping the oldest when full. */
static void
add_sample(cli_progress *p, double t, uint64_t rows, uint64_t bytes)
{
	int at;

	if (p->nsamples == NSAMPLES) {
		p->first = (p->first + 1) % NSAMPLES;
		p->nsamples--;
	}
	at = (p->first + p->nsamples) % NSAMPLES;
	p->samples[at].t = t;
	p->samples[at].rows = rows;
	p->samples[at].bytes = bytes;
	p->nsamples++;
}

/*
 * rates: rows and bytes per second between the oldest sample that is at most
 * RATE_WINDOW old and now.  Early in the copy that is its start.
 */
static void
rates(const cli_progress *p, double now, double *rows_s, double *bytes_s)
{
	const sample *base = NULL;

	for (int i = 0; i < p->nsamples; i++) {
		const sample *s = &p->samples[(p->first + i) % NSAMPLES];
		if (now - s->t <= RATE_WINDOW + 1e-9) {
			base = s;
			break;
		}
	}
	*rows_s = *bytes_s = 0;
	if (!base || now - base->t < 1e-3)
		return;
	if (p->rows >= base->rows)
		*rows_s = (double) (p->rows - base->rows) / (now - base->t);
	if (p->bytes >= base->bytes)
		*bytes_s = (double) (p->bytes - base->bytes) / (now - base->t);
}

/* fmt_count: 999, 1.2k, 41.2k, 412k, 1.2M, ...: short and readable. */
static void
fmt_count(char *buf, size_t size, double v)
{
	static const char units[] = "kMGTP";
	int u = -1;

	if (v < 999.5) {
		snprintf(buf, size, "%.0f", v);
		return;
	}
	while (v >= 999.5 && u < (int) sizeof units - 2) {
		v /= 1000;
		u++;
	}
	if (v < 99.95)
		snprintf(buf, size, "%.1f%c", v, units[u]);
	else
		snprintf(buf, size, "%.0f%c", v, units[u]);
}

/* fmt_bytes: 512 B, 12.3 kB, 234.5 MB, ... (decimal units, as the summary's MB/s). */
static void
fmt_bytes(char *buf, size_t size, double v)
{
	static const char *const units[] = {"kB", "MB", "GB", "TB", "PB"};
	int u = -1;

	if (v < 1000) {
		snprintf(buf, size, "%.0f B", v);
		return;
	}
	while (v >= 999.95 && u < 4) {
		v /= 1000;
		u++;
	}
	snprintf(buf, size, "%.1f %s", v, units[u]);
}

/* fmt_duration: m:ss, or h:mm:ss from an hour on. */
static void
fmt_duration(char *buf, size_t size, double secs)
{
	unsigned long s = (unsigned long) (secs + 0.5);

	if (s >= 3600)
		snprintf(buf, size, "%lu:%02lu:%02lu", s / 3600, s / 60 % 60, s % 60);
	else
		snprintf(buf, size, "%lu:%02lu", s / 60, s % 60);
}

/* all_done: every target has finished (loaded or faulted) and at least one loaded. */
static int
all_done(const cli_progress *p)
{
	return p->running == 0 && p->done > 0 && p->done + p->faulted >= p->ntargets;
}

/*
 * estimate: percent done (capped at 99 until every target finished) and
 * the seconds left at the current rate (-1: unknown), from bytes when the
 * expected bytes are known, else from rows.  Returns 0 when the total is not
 * known (then neither is shown).
 */
static int
estimate(const cli_progress *p, double rows_s, double bytes_s, int *pct, double *eta)
{
	uint64_t cur = p->est_bytes ? p->bytes : p->rows;
	uint64_t est = p->est_bytes ? p->est_bytes : p->est_rows;
	double rate = p->est_bytes ? bytes_s : rows_s;

	if (!est)
		return 0;
	*pct = (int) ((double) cur * 100.0 / (double) est);
	if (all_done(p))
		*pct = 100;
	else if (*pct > 99)
		*pct = 99;
	*eta = -1;
	if (all_done(p))
		*eta = 0;
	else if (rate > 0 && cur < est && (double) (est - cur) / rate < 360000)
		*eta = (double) (est - cur) / rate;
	return 1;
}

enum { SEG_ROWS, SEG_BYTES, SEG_RATE, SEG_ROWRATE, SEG_PCT, SEG_ETA, SEG_TARGETS, NSEG };

/*
 * compose: the progress text into buf.  width > 0 makes it fit in width - 1
 * columns (the last column would make some terminals wrap): the least useful
 * parts go first (rows/s, the long targets wording, bytes, rows, ETA, the
 * short targets wording), then the text is cut.  Every part is ASCII, so bytes are columns.
 */
static void
compose(const cli_progress *p, double now, char *buf, size_t size, int width)
{
	char seg[NSEG][96], tshort[2][64];
	double rows_s, bytes_s;
	int use[NSEG];
	int short_targets = 0;
	/* What goes, in order; -1 and -2: the targets said shorter, then shortest. */
	static const int drop[] = {SEG_ROWRATE, -1, SEG_BYTES, SEG_ROWS, SEG_ETA, -2};

	rates(p, now, &rows_s, &bytes_s);
	for (int i = 0; i < NSEG; i++) {
		seg[i][0] = '\0';
		use[i] = 1;
	}
	{
		char n[32];
		fmt_count(n, sizeof n, (double) p->rows);
		snprintf(seg[SEG_ROWS], sizeof seg[SEG_ROWS], "%s rows", n);
		fmt_bytes(seg[SEG_BYTES], sizeof seg[SEG_BYTES], (double) p->bytes);
		snprintf(seg[SEG_RATE], sizeof seg[SEG_RATE], "%.1f MB/s", bytes_s / 1e6);
		fmt_count(n, sizeof n, rows_s);
		snprintf(seg[SEG_ROWRATE], sizeof seg[SEG_ROWRATE], "%s rows/s", n);
	}
	{
		int pct;
		double eta;

		if (estimate(p, rows_s, bytes_s, &pct, &eta)) {
			snprintf(seg[SEG_PCT], sizeof seg[SEG_PCT], "%d%%", pct);
			if (eta >= 0) {
				char d[32];
				fmt_duration(d, sizeof d, eta);
				snprintf(seg[SEG_ETA], sizeof seg[SEG_ETA], "ETA %s", d);
			}
		}
	}
	snprintf(seg[SEG_TARGETS], sizeof seg[SEG_TARGETS], "targets: %d running, %d faulted, %d done",
	         p->running, p->faulted, p->done);
	snprintf(tshort[0], sizeof tshort[0], "targets: %d/%d/%d run/flt/done", p->running,
	         p->faulted, p->done);
	snprintf(tshort[1], sizeof tshort[1], "%dr/%df/%dd", p->running, p->faulted, p->done);

	for (size_t step = 0;; step++) {
		size_t len = 0;

		buf[0] = '\0';
		for (int i = 0; i < NSEG; i++) {
			const char *s = i == SEG_TARGETS && short_targets ? tshort[short_targets - 1] : seg[i];
			if (!use[i] || !*s)
				continue;
			len += (size_t) snprintf(buf + len, len < size ? size - len : 0, "  %s", s);
			if (len >= size)
				len = size - 1;
		}
		if (width <= 0 || len + 1 <= (size_t) width)
			return;
		if (step == sizeof drop / sizeof drop[0]) {
			/* Still too wide: cut it. */
			buf[width > 1 ? width - 1 : 0] = '\0';
			return;
		}
		if (drop[step] < 0)
			short_targets = -drop[step];
		else
			use[drop[step]] = 0;
	}
}

/* term_width: the terminal's columns (TIOCGWINSZ), else $COLUMNS, else 80. */
static int
term_width(const cli_progress *p)
{
	struct winsize ws;
	const char *env;

	if (p->width > 0)
		return p->width;
	if (ioctl(fileno(p->out), TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
		return ws.ws_col;
	env = getenv("COLUMNS");
	if (env && atoi(env) > 0)
		return atoi(env);
	return 80;
}

/* clear_live: take the live line off the screen, leaving the cursor at column 0. */
static void
clear_live(cli_progress *p)
{
	if (!p->shown)
		return;
	if (p->dumb)
		fprintf(p->out, "\r%*s\r", (int) p->shown_len, "");
	else
		fputs("\r\033[K", p->out);
	p->shown = 0;
	p->shown_len = 0;
	fflush(p->out);
}

/* compose_phase: "  building index t_u, 2 of 3  0:12", cut to width - 1 columns. */
static void
compose_phase(const cli_progress *p, double now, char *buf, size_t size, int width)
{
	char d[32];

	fmt_duration(d, sizeof d, now - p->phase_t0);
	snprintf(buf, size, "  %s  %s", p->phase, d);
	if (width > 1 && strlen(buf) >= (size_t) width)
		buf[width - 1] = '\0';
}

/* draw_live: (re)draw the live line in place: the phase, if one is set, else the counters. */
static void
draw_live(cli_progress *p, double now)
{
	char line[LINE_MAX_LEN];
	size_t len;

	if (p->phase)
		compose_phase(p, now, line, sizeof line, term_width(p));
	else
		compose(p, now, line, sizeof line, term_width(p));
	len = strlen(line);
	fputc('\r', p->out);
	fputs(line, p->out);
	if (p->dumb) {
		if (p->shown_len > len)
			fprintf(p->out, "%*s", (int) (p->shown_len - len), "");
	} else {
		fputs("\033[K", p->out);
	}
	fflush(p->out);
	p->shown = 1;
	if (!p->dumb || len > p->shown_len)
		p->shown_len = len;
	p->last_draw = now;
}

/* print_plain: one plain line: "pgcopyman: 0:10 elapsed  1.2M rows  ...". */
static void
print_plain(cli_progress *p, double now)
{
	char line[LINE_MAX_LEN], el[32];

	compose(p, now, line, sizeof line, 0);
	fmt_duration(el, sizeof el, now - p->t0);
	fprintf(p->out, "pgcopyman: %s elapsed%s\n", el, line);
	fflush(p->out);
	p->last_draw = now;
}

/* json_string: len bytes of s as a JSON string (quotes and escapes included). */
static void
json_string(FILE *out, const char *s, size_t len)
{
	fputc('"', out);
	for (const unsigned char *c = (const unsigned char *) s; c < (const unsigned char *) s + len; c++) {
		if (*c == '"' || *c == '\\')
			fprintf(out, "\\%c", *c);
		else if (*c < 0x20)
			fprintf(out, "\\u%04x", *c);
		else
			fputc(*c, out);
	}
	fputc('"', out);
}

/* print_json: one JSON line of the totals, the rates, the estimate and every target's state. */
static void
print_json(cli_progress *p, double now, int final)
{
	double rows_s, bytes_s, eta;
	int pct;

	rates(p, now, &rows_s, &bytes_s);
	fprintf(p->out, "{\"event\": \"progress\", \"elapsed\": %.1f, \"rows\": %llu, \"bytes\": %llu, "
	        "\"rows_per_second\": %.0f, \"bytes_per_second\": %.0f", now - p->t0,
	        (unsigned long long) p->rows, (unsigned long long) p->bytes, rows_s, bytes_s);
	if (estimate(p, rows_s, bytes_s, &pct, &eta)) {
		fprintf(p->out, ", \"percent\": %d", pct);
		if (eta >= 0)
			fprintf(p->out, ", \"eta_seconds\": %.0f", eta);
	}
	if (p->phase) {
		fputs(", \"phase\": ", p->out);
		json_string(p->out, p->phase, strlen(p->phase));
		fprintf(p->out, ", \"phase_seconds\": %.1f", now - p->phase_t0);
	}
	fputs(", \"targets\": [", p->out);
	for (int i = 0; p->targets && i < p->ntargets; i++) {
		fprintf(p->out, "%s{\"target\": %d, \"state\": \"%s\", \"rows\": %llu", i ? ", " : "", i + 1,
		        p->targets[i].state, (unsigned long long) p->targets[i].rows);
		if (p->targets[i].waiting) {
			fputs(", \"waiting_for\": ", p->out);
			json_string(p->out, p->targets[i].waiting, strlen(p->targets[i].waiting));
		}
		fputc('}', p->out);
	}
	fprintf(p->out, "]%s}\n", final ? ", \"final\": true" : "");
	fflush(p->out);
	p->last_draw = now;
}

cli_progress *
cli_progress_new_for_test(FILE *out, enum cli_progress_mode mode, uint64_t est_rows,
                          uint64_t est_bytes, int ntargets, int is_tty, int width,
                          double (*clock_fn)(void))
{
	cli_progress *p = calloc(1, sizeof *p);
	const char *term = getenv("TERM");

	if (!p)
		return NULL;
	p->out = out;
	p->mode = mode;
	p->live = mode == PROGRESS_AUTO && is_tty;
	p->plain = mode == PROGRESS_PLAIN;
	p->json = mode == PROGRESS_JSON;
	if (p->json && ntargets > 0) {
		p->targets = calloc((size_t) ntargets, sizeof *p->targets);
		if (!p->targets) {
			free(p);
			return NULL;
		}
		for (int i = 0; i < ntargets; i++)
			p->targets[i].state = "running";
	}
	p->dumb = term && strcmp(term, "dumb") == 0;
	p->width = width;
	p->clock_fn = clock_fn ? clock_fn : monotonic_seconds;
	p->est_rows = est_rows;
	p->est_bytes = est_bytes;
	p->ntargets = ntargets;
	p->running = ntargets;
	p->t0 = p->clock_fn();
	p->last_draw = -1;
	add_sample(p, p->t0, 0, 0);
	return p;
}

cli_progress *
cli_progress_new(FILE *out, enum cli_progress_mode mode, uint64_t est_rows, uint64_t est_bytes,
                 int ntargets)
{
	int tty = out && isatty(fileno(out));

	return cli_progress_new_for_test(out, mode, est_rows, est_bytes, ntargets, tty, 0, NULL);
}

void
cli_progress_update(cli_progress *p, uint64_t rows, uint64_t bytes, int running, int faulted,
                    int done)
{
	double now;

	if (!p || p->finished || (!p->live && !p->plain && !p->json))
		return;
	now = p->clock_fn();
	p->have = 1;
	p->rows = rows;
	p->bytes = bytes;
	p->running = running;
	p->faulted = faulted;
	p->done = done;
	if (p->nsamples == 0 || now - p->samples[(p->first + p->nsamples - 1) % NSAMPLES].t
	                        >= SAMPLE_INTERVAL)
		add_sample(p, now, rows, bytes);
	if (p->live) {
		if (now - p->t0 >= LIVE_DELAY && (p->last_draw < 0 || now - p->last_draw >= LIVE_INTERVAL))
			draw_live(p, now);
	} else if (p->json) {
		if (now - (p->last_draw < 0 ? p->t0 : p->last_draw) >= JSON_INTERVAL)
			print_json(p, now, 0);
	} else if (now - (p->last_draw < 0 ? p->t0 : p->last_draw) >= PLAIN_INTERVAL) {
		print_plain(p, now);
	}
}

void
cli_progress_target(cli_progress *p, int i, const char *state, uint64_t rows, const char *waiting)
{
	target_view *t;

	if (!p || !p->targets || i < 0 || i >= p->ntargets)
		return;
	t = &p->targets[i];
	t->state = state;
	t->rows = rows;
	if (!waiting || !t->waiting || strcmp(waiting, t->waiting) != 0) {
		free(t->waiting);
		t->waiting = waiting ? strdup(waiting) : NULL;
	}
}

void
cli_progress_message(cli_progress *p, const char *line)
{
	FILE *out = p ? p->out : stderr;
	size_t n = line ? strlen(line) : 0;
	int redraw;

	if (!line)
		return;
	if (p && p->json) {
		fputs("{\"event\": \"message\", \"text\": ", out);
		json_string(out, line, n && line[n - 1] == '\n' ? n - 1 : n);
		fputs("}\n", out);
		fflush(out);
		return;
	}
	redraw = p && p->shown;
	if (p)
		clear_live(p);
	fputs(line, out);
	if (n == 0 || line[n - 1] != '\n')
		fputc('\n', out);
	fflush(out);
	if (redraw && !p->finished)
		draw_live(p, p->clock_fn());
}

void
cli_progress_phase(cli_progress *p, const char *phase)
{
	double now;
	int changed;

	if (!p || p->finished || (!p->live && !p->plain && !p->json))
		return;
	now = p->clock_fn();
	changed = p->phase ? !phase || strcmp(p->phase, phase) != 0 : phase != NULL;
	if (changed) {
		free(p->phase);
		p->phase = phase ? strdup(phase) : NULL;
		p->phase_t0 = now;
	}
	if (p->json) {
		/* A program hears of a phase as it begins and ends, and every second while it lasts. */
		if (changed || now - (p->last_draw < 0 ? p->t0 : p->last_draw) >= JSON_INTERVAL)
			print_json(p, now, 0);
		return;
	}
	if (!p->phase)
		return;
	if (p->plain) {
		if (changed) {
			char el[32];
			fmt_duration(el, sizeof el, now - p->t0);
			fprintf(p->out, "pgcopyman: %s elapsed  %s\n", el, p->phase);
			fflush(p->out);
		}
	} else if (now - p->t0 >= LIVE_DELAY && (changed || p->last_draw < 0 || now - p->last_draw >= LIVE_INTERVAL)) {
		draw_live(p, now);
	}
}

void
cli_progress_finish(cli_progress *p)
{
	if (!p)
		return;
	clear_live(p);
	if (p->json && !p->finished)
		print_json(p, p->clock_fn(), 1);
	p->finished = 1;
}

void
cli_progress_free(cli_progress *p)
{
	if (!p)
		return;
	clear_live(p);
	for (int i = 0; p->targets && i < p->ntargets; i++)
		free(p->targets[i].waiting);
	free(p->targets);
	free(p->phase);
	free(p);
}
