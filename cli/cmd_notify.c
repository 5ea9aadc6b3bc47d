/*
 * cmd_notify.c: `pgcopyman notify`: send one notification with pg_notify(),
 * so that any channel name and payload work without quoting.  The server's
 * limits are checked first, so that the message says what is wrong.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pgcopyman.h"
#include "cli.h"

static void
usage(FILE *f)
{
	fprintf(f,
	        "Usage: pgcopyman notify [--conn CONNSTR] CHANNEL [PAYLOAD]\n"
	        "\n"
	        "Send one notification (pg_notify) on CHANNEL, with PAYLOAD (default: empty).\n"
	        "\n"
	        "  -c, --conn CONNSTR    connection string or URI (default: the PG* environment)\n"
	        "  -W, --password        ask for a password before connecting (on the terminal)\n"
	        "  -w, --no-password     never ask for a password\n"
	        "  -h, --help            show this help\n"
	        "\n"
	        "CHANNEL must be 1 to %d bytes, PAYLOAD at most %d bytes (the server's limits).\n",
	        PGCM_CHANNEL_MAX, PGCM_PAYLOAD_MAX);
}

static const struct option notify_longopts[] = {
	{"conn", required_argument, NULL, 'c'},
	{"password", no_argument, NULL, 'W'},
	{"no-password", no_argument, NULL, 'w'},
	{"help", no_argument, NULL, 'h'},
	{NULL, 0, NULL, 0}
};

/* --conn carries a connection string: main.c scrubs it from the process title with these tables. */
static const int notify_conninfo_vals[] = {'c', 0};
const cli_optspec cli_notify_optspec = {":c:Wwh", notify_longopts, notify_conninfo_vals};

int
cli_notify(int argc, char **argv)
{
	const char *conninfo = "";
	const char *params[2];
	size_t clen, plen;
	PGconn *conn;
	PGresult *res;
	int c, rc = EXIT_FAILED;

	opterr = 0;
	optind = 0;   /* glibc: a fresh scan (main.c's scrub ran getopt before) */
	while ((c = getopt_long(argc, argv, cli_notify_optspec.shortopts, notify_longopts, NULL)) != -1) {
		switch (c) {
		case 'c':
			conninfo = optarg;
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
			cli_error("notify: option \"%s\" needs an argument", argv[optind - 1]);
			return cli_usage_hint("notify");
		default:
			if (optopt)
				cli_error("notify: invalid option \"-%c\"", optopt);
			else
				cli_error("notify: invalid option \"%s\"", argv[optind - 1]);
			return cli_usage_hint("notify");
		}
	}
	if (optind >= argc || argc - optind > 2) {
		cli_error(optind >= argc ? "notify: no CHANNEL given"
		                         : "notify: too many arguments (quote the payload)");
		return cli_usage_hint("notify");
	}
	params[0] = argv[optind];
	params[1] = argc - optind == 2 ? argv[optind + 1] : "";
	clen = strlen(params[0]);
	plen = strlen(params[1]);
	if (clen == 0 || clen > PGCM_CHANNEL_MAX) {
		cli_error("notify: the channel name is %zu bytes; the server accepts 1 to %d bytes",
		          clen, PGCM_CHANNEL_MAX);
		return cli_usage_hint("notify");
	}
	if (plen > PGCM_PAYLOAD_MAX) {
		cli_error("notify: the payload is %zu bytes; the server's limit is %d bytes "
		          "(pg_notify refuses 8000 bytes or more)", plen, PGCM_PAYLOAD_MAX);
		return cli_usage_hint("notify");
	}

	conn = cli_connect(conninfo);
	if (!conn)
		return EXIT_FAILED;
	res = PQexecParams(conn, "SELECT pg_notify($1, $2)", 2, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) == PGRES_TUPLES_OK) {
		rc = EXIT_LOADED;
	} else {
		const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
		const char *msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);

		if (!msg)
			msg = PQerrorMessage(conn);
		if (state && strcmp(state, "22023") == 0)
			/* The payload grew in the server's encoding, or the limit is different. */
			cli_error("notify: the server refused the notification (SQLSTATE 22023): %s "
			          "(payload %zu bytes in the client encoding)", msg, plen);
		else
			cli_error("notify: %s%s%s", msg, state ? " SQLSTATE " : "", state ? state : "");
	}
	PQclear(res);
	PQfinish(conn);
	return rc;
}
