/*
 * main.c: the pgcopyman command: dispatch to a subcommand.
 */
#include <stdio.h>
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
	        "  pgcopyman --help | --version\n"
	        "\n"
	        "Run `pgcopyman COMMAND --help` for a command's options.\n");
}

int
main(int argc, char **argv)
{
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
	if (strcmp(argv[1], "copy") == 0)
		return cli_copy(argc - 1, argv + 1);
	if (strcmp(argv[1], "listen") == 0)
		return cli_listen(argc - 1, argv + 1);
	if (strcmp(argv[1], "notify") == 0)
		return cli_notify(argc - 1, argv + 1);
	cli_error("unknown command \"%s\"", argv[1]);
	usage(stderr);
	return EXIT_USAGE;
}
