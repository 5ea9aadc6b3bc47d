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

static void
print_event(const pgcm_notify_event *ev, int json)
{
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
	case PGCM_NOTIFY_RECONNECTED:
		fputs(json ? "{\"event\": \"reconnected\"}\n" : "# reconnected\n", stdout);
		cli_error("re-connected; notifications sent meanwhile were lost");
		break;
	case PGCM_NOTIFY_DISCONNECTED:
		cli_error("connection lost: %s; re-connecting", ev->message ? ev->message : "?");
		break;
	default:
		break;
	}
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
	{"help", no_argument, NULL, 'h'},
	{NULL, 0, NULL, 0}
};

/* --conn carries a connection string: main.c scrubs it from the process title with these tables. */
static const int listen_conninfo_vals[] = {'c', 0};
const cli_optspec cli_listen_optspec = {":c:i:jh", listen_longopts, listen_conninfo_vals};

int
cli_listen(int argc, char **argv)
{
	const char *conninfo = "";
	int idle_ms = -1, json = 0, c, rc = EXIT_FAILED;
	pgcm_listener *l = NULL;
	char *masked = NULL, *expanded, *err = NULL;

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
			json = 1;
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

	/* The listener's libpq would send a connection string given as dbname= to the server as a name. */
	expanded = cli_expand_conninfo(conninfo, &err);
	if (!expanded) {
		cli_error("cannot listen: %s", err ? err : "out of memory");
		free(err);
		return EXIT_FAILED;
	}
	l = pgcm_listener_new(expanded, (const char *const *) argv + optind, (size_t) (argc - optind));
	free(expanded);
	if (!l) {
		cli_error("out of memory");
		return EXIT_FAILED;
	}
	if (idle_ms > 0)
		pgcm_listener_set_idle_interval(l, idle_ms);
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
			print_event(&ev, json);
			if (fflush(stdout) != 0 || ferror(stdout)) {
				if (errno == EPIPE)
					rc = EXIT_LOADED;  /* the reader went away: done */
				else
					cli_error("cannot write: %s", strerror(errno));
				goto cleanup;
			}
			continue;
		}
		if (st == PGCM_ERR_CONNECTION) {
			masked = cli_mask_conninfo(conninfo);
			cli_error("cannot listen on \"%s\": %s", masked ? masked : "?",
			          pgcm_listener_errmsg(l));
			goto cleanup;
		}
		if (st != PGCM_AGAIN) {
			cli_error("listen: %s: %s", pgcm_strerror(st), pgcm_listener_errmsg(l));
			goto cleanup;
		}
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
	pgcm_listener_free(l);
	return rc;
}
