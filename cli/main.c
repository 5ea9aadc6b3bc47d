/*
 * main.c: the pgcopyman command: dispatch to a subcommand.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pgcopyman.h"
#include "cli.h"

static void
usage(FILE *f)
{
	fprintf(f,
	        "pgcopyman moves PostgreSQL COPY data from one source to many targets,\n"
	        "and listens for and sends notifications.\n"
	        "\n"
	        "Usage:\n"
	        "  pgcopyman copy --from SOURCE --to TARGET [--to TARGET ...] (--table NAME | --query SQL) [options]\n"
	        "  pgcopyman listen [--conn CONNSTR] [--idle SECONDS] [--json] CHANNEL...\n"
	        "  pgcopyman notify [--conn CONNSTR] CHANNEL [PAYLOAD]\n"
	        "  pgcopyman recover [--to TARGET ...] [--state-dir DIR] [--dry-run]\n"
	        "  pgcopyman --help | --version\n"
	        "\n"
	        "Run `pgcopyman COMMAND --help` for a command's options.\n");
}

int
main(int argc, char **argv)
{
	char **args;
	int rc;

	if (argc < 2) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		usage(stdout);
		return 0;
	}
	if (strcmp(argv[1], "--version") == 0) {
		printf("pgcopyman %s (libpq %d)\n", PGCM_VERSION, PQlibVersion());
		return 0;
	}
	/* The subcommands parse a copy; the original argv keeps no password. */
	args = cli_scrub_argv(argc, argv);
	if (!args) {
		cli_error("out of memory");
		return EXIT_FAILED;
	}
	if (strcmp(args[1], "copy") == 0) {
		rc = cli_copy(argc - 1, args + 1);
	} else if (strcmp(args[1], "listen") == 0) {
		rc = cli_listen(argc - 1, args + 1);
	} else if (strcmp(args[1], "notify") == 0) {
		rc = cli_notify(argc - 1, args + 1);
	} else if (strcmp(args[1], "recover") == 0) {
		rc = cli_recover(argc - 1, args + 1);
	} else {
		cli_error("unknown command \"%s\"", args[1]);
		usage(stderr);
		rc = EXIT_USAGE;
	}
	for (int i = 0; i < argc; i++)
		free(args[i]);
	free(args);
	return rc;
}
