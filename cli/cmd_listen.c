/*
 * cmd_listen.c: `pgcopyman listen`: print notifications as they arrive, one
 * line each, until SIGINT or SIGTERM.  Built on the library's listener, so a
 * broken connection is re-connected and reported.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "pgcopyman.h"
#include "cli.h"

static void
usage(FILE *f)
{
	fprintf(f,
	        "Usage: pgcopyman listen [--conn CONNSTR] [--idle SECONDS] [--json] CHANNEL...\n"
	        "\n"
	        "Print each notification on the channels as one line, until SIGINT or SIGTERM.\n"
	        "\n"
	        "  -c, --conn CONNSTR    connection string or URI (default: the PG* environment)\n"
	        "  -i, --idle SECONDS    report an idle event after SECONDS without notifications\n"
	        "  -j, --json            one JSON object per line:\n"
	        "                          {\"channel\": \"...\", \"payload\": \"...\", \"pid\": N}\n"
	        "                          {\"event\": \"idle\"}, {\"event\": \"reconnected\"}\n"
	        "  -W, --password        ask for a password before connecting (on the terminal)\n"
	        "  -w, --no-password     never ask for a password\n"
	        "  -h, --help            show this help\n"
	        "\n"
	        "Text lines are CHANNEL<TAB>PID<TAB>PAYLOAD (backslash, tab, newline and\n"
	        "carriage return escaped as \\\\, \\t, \\n, \\r); events are \"# idle\" and\n"
	        "\"# reconnected\".  After \"reconnected\", notifications sent while the\n"
	        "connection was down are lost.  Channel names are exact (case and all).\n");
}

/* put_escaped: a text field on one line, escaped as in COPY's text format. */
static void
put_escaped(FILE *f, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '\\': fputs("\\\\", f); break;
		case '\t': fputs("\\t", f); break;
		case '\n': fputs("\\n", f); break;
		case '\r': fputs("\\r", f); break;
		default: fputc(*s, f);
		}
	}
}

/* What the loop keeps between events. */
typedef struct listen_state {
	int json;
	double lost_at;           /* when the connection was lost (monotonic seconds); < 0: it is up */
	int announced;            /* "listening on ..." was said */
} listen_state;

/*
 * print_event: one event on stdout.  A re-connection also says how long the
 * connection was down (the gap in which notifications were lost), on stdout
 * with --json and on stderr.
 */
static void
print_event(const pgcm_notify_event *ev, listen_state *ls)
{
	int json = ls->json;

	switch (ev->kind) {
	case PGCM_NOTIFY_BATCH:
		for (size_t i = 0; i < ev->count; i++) {
			const pgcm_notification *x = &ev->notifies[i];
			if (json) {
				fputs("{\"channel\": ", stdout);
				cli_json_string(stdout, x->channel);
				fputs(", \"payload\": ", stdout);
				cli_json_string(stdout, x->payload);
				printf(", \"pid\": %d}\n", x->pid);
			} else {
				put_escaped(stdout, x->channel);
				printf("\t%d\t", x->pid);
				put_escaped(stdout, x->payload);
				fputc('\n', stdout);
			}
		}
		break;
	case PGCM_NOTIFY_IDLE:
		fputs(json ? "{\"event\": \"idle\"}\n" : "# idle\n", stdout);
		break;
	case PGCM_NOTIFY_RECONNECTED: {
		double gap = ls->lost_at >= 0 ? cli_now() - ls->lost_at : 0;
		if (json)
			printf("{\"event\": \"reconnected\", \"gap_seconds\": %.1f}\n", gap);
		else
			fputs("# reconnected\n", stdout);
		cli_error("re-connected after %.1f s without a connection; notifications sent meanwhile were lost",
		          gap);
		ls->lost_at = -1;
		break;
	}
	case PGCM_NOTIFY_DISCONNECTED:
		if (ls->lost_at < 0)
			ls->lost_at = cli_now();
		cli_error("connection lost: %s; re-connecting", ev->message ? ev->message : "?");
		break;
	default:
		break;
	}
}

/*
 * The listener exists to be live: with these defaults a silent network
 * partition (no FIN, no RST) is noticed within about 7 s -- an idle
 * connection is pinged after 4 s of quiet and declared dead when the answer
 * takes 3 s (also the limit for a connection attempt); TCP keepalives (3 s
 * idle, then 3 probes 1 s apart) and tcp_user_timeout (6 s for unacknowledged
 * data) catch it in the kernel too.  A keyword the user's connection string
 * sets wins.  Re-connection attempts back off up to 4 s, so that the listener
 * is back within seconds once the network is.
 */
static const char *const liveness_keys[] = {"keepalives", "keepalives_idle", "keepalives_interval",
                                             "keepalives_count", "tcp_user_timeout"};
static const char *const liveness_vals[] = {"1", "3", "1", "3", "6000"};
#define PING_INTERVAL_MS 4000
#define PING_TIMEOUT_MS 3000
#define BACKOFF_MAX_MS 4000

/* copy_settings: every setting of from into to (empty); 0 when out of memory. */
static int
copy_settings(const cli_conninfo *from, cli_conninfo *to)
{
	int ok = 1;

	memset(to, 0, sizeof *to);
	for (size_t i = 0; ok && i < from->n; i++)
		ok = cli_conninfo_set(to, from->keys[i], from->vals[i], from->secret[i]);
	return ok;
}

/*
 * new_listener: a listener on ci (expanded: the listener's libpq would send
 * a connection string given as dbname= to the server as a name), with the
 * liveness defaults where ci sets nothing, and password when not NULL.
 * NULL when out of memory.
 */
static pgcm_listener *
new_listener(const cli_conninfo *ci, const char *password, char *const *channels, size_t n, int idle_ms)
{
	cli_conninfo c;
	char *conninfo;
	pgcm_listener *l = NULL;
	int ok = copy_settings(ci, &c);   /* ci stays as the user gave it */

	for (size_t i = 0; ok && i < sizeof liveness_keys / sizeof liveness_keys[0]; i++)
		if (!cli_conninfo_get(&c, liveness_keys[i]))
			ok = cli_conninfo_set(&c, liveness_keys[i], liveness_vals[i], 0);
	if (ok && password)
		ok = cli_conninfo_set(&c, "password", password, 1);
	conninfo = ok ? cli_conninfo_render(&c) : NULL;
	cli_conninfo_free(&c);
	if (conninfo)
		l = pgcm_listener_new(conninfo, (const char *const *) channels, n);
	if (conninfo) {
		explicit_bzero(conninfo, strlen(conninfo));
		free(conninfo);
	}
	if (!l)
		return NULL;
	if (idle_ms > 0)
		pgcm_listener_set_idle_interval(l, idle_ms);
	pgcm_listener_set_ping(l, PING_INTERVAL_MS, PING_TIMEOUT_MS);
	pgcm_listener_set_backoff(l, 250, BACKOFF_MAX_MS);
	return l;
}

/*
 * password_after_failure: the first connection failed for want of a
 * password (libpq's message says so; the command does not translate
 * libpq's messages): when the server asks for one none was given for, it is
 * asked for on the terminal (as cli_connect does; not with -w), after a
 * probe that says whether the server really wants one (bounded by
 * connect_timeout).  Returns it (borrowed), or NULL with *hint (static, may
 * be NULL) saying what to do.
 */
static const char *
password_after_failure(const cli_conninfo *ci, const char *why, const char **hint)
{
	cli_conninfo probe_ci;
	char *conninfo = NULL;
	PGconn *probe = NULL;
	int needs = 0, ok;
	const char *pw = NULL;

	*hint = NULL;
	if (!strstr(why, "password"))
		return NULL;
	ok = copy_settings(ci, &probe_ci);
	if (ok && !cli_conninfo_get(&probe_ci, "connect_timeout"))
		ok = cli_conninfo_set(&probe_ci, "connect_timeout", "10", 0);
	conninfo = ok ? cli_conninfo_render(&probe_ci) : NULL;
	probe = conninfo ? PQconnectdb(conninfo) : NULL;
	needs = probe && PQstatus(probe) == CONNECTION_BAD && PQconnectionNeedsPassword(probe);
	PQfinish(probe);
	free(conninfo);
	cli_conninfo_free(&probe_ci);
	if (!needs)
		return NULL;
	pw = cli_password_for(ci, 1);
	if (!pw)
		*hint = "the server asks for a password: give it in the connection string, PGPASSWORD or "
		        "~/.pgpass (-w forbids asking; without a terminal there is no one to ask)";
	return pw;
}

/* announce: "listening on a, b (Ctrl-C to stop)" once the server has every LISTEN, for a person watching. */
static void
announce(listen_state *ls, char *const *channels, size_t n)
{
	cli_buf b;
	char *text;

	if (ls->announced || !isatty(STDERR_FILENO))
		return;
	ls->announced = 1;
	cli_buf_init(&b);
	for (size_t i = 0; i < n; i++)
		cli_buf_addf(&b, "%s%s", i ? ", " : "", channels[i]);
	text = cli_buf_take(&b);
	cli_error("listening on %s (Ctrl-C to stop)", text ? text : "the channels");
	free(text);
}

/* parse_seconds: a positive number of seconds (fractions allowed) as milliseconds. */
static int
parse_seconds(const char *s, int *ms)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || *end || !(v > 0) || v > 86400.0 * 365)
		return 0;
	*ms = (int) ceil(v * 1000.0);
	return 1;
}

static const struct option listen_longopts[] = {
	{"conn", required_argument, NULL, 'c'},
	{"idle", required_argument, NULL, 'i'},
	{"json", no_argument, NULL, 'j'},
	{"password", no_argument, NULL, 'W'},
	{"no-password", no_argument, NULL, 'w'},
	{"help", no_argument, NULL, 'h'},
	{NULL, 0, NULL, 0}
};

/* --conn carries a connection string: main.c scrubs it from the process title with these tables. */
static const int listen_conninfo_vals[] = {'c', 0};
const cli_optspec cli_listen_optspec = {":c:i:jWwh", listen_longopts, listen_conninfo_vals};

int
cli_listen(int argc, char **argv)
{
	const char *conninfo = "", *password = NULL, *hint = NULL;
	int idle_ms = -1, c, rc = EXIT_FAILED, retried = 0;
	pgcm_listener *l = NULL;
	char *masked = NULL, *err = NULL;
	cli_conninfo ci = {0};
	listen_state ls = {0, -1, 0};
	char *const *channels;
	size_t nch;

	opterr = 0;
	optind = 0;   /* glibc: a fresh scan (main.c's scrub ran getopt before) */
	while ((c = getopt_long(argc, argv, cli_listen_optspec.shortopts, listen_longopts, NULL)) != -1) {
		switch (c) {
		case 'c':
			conninfo = optarg;
			break;
		case 'i':
			if (!parse_seconds(optarg, &idle_ms)) {
				cli_error("listen: --idle needs a positive number of seconds, not \"%s\"", optarg);
				return cli_usage_hint("listen");
			}
			break;
		case 'j':
			ls.json = 1;
			break;
		case 'W':
			cli_password_set_mode(CLI_PASSWORD_ALWAYS);
			break;
		case 'w':
			cli_password_set_mode(CLI_PASSWORD_NEVER);
			break;
		case 'h':
			usage(stdout);
			return EXIT_LOADED;
		case ':':
			cli_error("listen: option \"%s\" needs an argument", argv[optind - 1]);
			return cli_usage_hint("listen");
		default:
			if (optopt)
				cli_error("listen: invalid option \"-%c\"", optopt);
			else
				cli_error("listen: invalid option \"%s\"", argv[optind - 1]);
			return cli_usage_hint("listen");
		}
	}
	if (optind >= argc) {
		cli_error("listen: no CHANNEL given");
		return cli_usage_hint("listen");
	}
	for (int i = optind; i < argc; i++) {
		size_t len = strlen(argv[i]);
		if (len == 0 || len > PGCM_CHANNEL_MAX) {
			cli_error("listen: channel name \"%s\" is %zu bytes; it must be 1 to %d bytes",
			          argv[i], len, PGCM_CHANNEL_MAX);
			return cli_usage_hint("listen");
		}
	}
	channels = argv + optind;
	nch = (size_t) (argc - optind);

	if (!cli_conninfo_parse(conninfo, &ci, &err)) {
		cli_error("cannot listen: %s", err ? err : "out of memory");
		goto cleanup;
	}
	/* -W: the password is asked for before connecting. */
	password = cli_password_for(&ci, 0);
	if (!(l = new_listener(&ci, password, channels, nch, idle_ms))) {
		cli_error("out of memory");
		goto cleanup;
	}
	cli_catch_signals();

	/*
	 * Our own poll() loop over the listener's descriptor, woken at least every
	 * 200 ms, so that a signal arriving just before the wait is seen soon.
	 */
	while (!cli_interrupted) {
		pgcm_notify_event ev;
		struct pollfd fd;
		size_t nfds;
		int t;
		pgcm_status st = pgcm_listener_step(l, &ev);

		if (st == PGCM_OK) {
			print_event(&ev, &ls);
			if (fflush(stdout) != 0 || ferror(stdout)) {
				if (errno == EPIPE)
					rc = EXIT_LOADED;  /* the reader went away: done */
				else
					cli_error("cannot write: %s", strerror(errno));
				goto cleanup;
			}
			continue;
		}
		if (st == PGCM_ERR_CONNECTION && !retried && !password
		    && (password = password_after_failure(&ci, pgcm_listener_errmsg(l), &hint))) {
			/* Once, with the password typed at the prompt. */
			retried = 1;
			pgcm_listener_free(l);
			if (!(l = new_listener(&ci, password, channels, nch, idle_ms))) {
				cli_error("out of memory");
				goto cleanup;
			}
			continue;
		}
		if (st == PGCM_ERR_CONNECTION) {
			masked = cli_mask_conninfo(conninfo);
			cli_error("cannot listen on \"%s\": %s%s%s", masked ? masked : "?",
			          pgcm_listener_errmsg(l), hint ? "; " : "", hint ? hint : "");
			goto cleanup;
		}
		if (st != PGCM_AGAIN) {
			cli_error("listen: %s: %s", pgcm_strerror(st), pgcm_listener_errmsg(l));
			goto cleanup;
		}
		if (pgcm_listener_ready(l))
			announce(&ls, channels, nch);
		nfds = pgcm_listener_pollfds(l, &fd, 1);
		t = pgcm_listener_timeout_ms(l);
		if (t < 0 || t > 200)
			t = 200;
		if (poll(&fd, nfds, t) < 0 && errno != EINTR) {
			cli_error("poll: %s", strerror(errno));
			goto cleanup;
		}
	}
	rc = EXIT_LOADED;

cleanup:
	free(masked);
	free(err);
	cli_conninfo_free(&ci);
	pgcm_listener_free(l);
	return rc;
}
