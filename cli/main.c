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
	        "compares tables across servers, and listens for and sends notifications.\n"
	        "\n"
	        "Usage:\n"
	        "  pgcopyman copy --from SOURCE --to TARGET [--to TARGET ...] (--table NAME | --query SQL) [options]\n"
	        "  pgcopyman listen [--conn CONNSTR] [--idle SECONDS] [--json] CHANNEL...\n"
	        "  pgcopyman notify [--conn CONNSTR] CHANNEL [PAYLOAD]\n"
	        "  pgcopyman compare --from SOURCE --to TARGET [--to TARGET ...] [-t PATTERN] [-n PATTERN]\n"
	        "                    [-T PATTERN] [-N PATTERN] [--json]\n"
	        "  pgcopyman recover [--to TARGET ...] [--state-dir DIR] [--dry-run]\n"
	        "  pgcopyman --help | --version\n"
	        "\n"
	        "Run `pgcopyman COMMAND --help` for a command's options.\n");
}

static const struct command {
	const char *name;
	int (*run)(int argc, char **argv);
	const cli_optspec *options;
} commands[] = {
	{"copy", cli_copy, &cli_copy_optspec},
	{"listen", cli_listen, &cli_listen_optspec},
	{"notify", cli_notify, &cli_notify_optspec},
	{"recover", cli_recover, &cli_recover_optspec},
	{"compare", cli_compare, &cli_compare_optspec},
};

int
main(int argc, char **argv)
{
	const struct command *cmd = NULL;
	char **args;
	int rc;

	if (argc < 2) {
		cli_error("no command given (copy, compare, listen, notify or recover)");
		return cli_usage_hint(NULL);
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		usage(stdout);
		return 0;
	}
	if (strcmp(argv[1], "--version") == 0) {
		printf("pgcopyman %s (libpq %d)\n", PGCM_VERSION, PQlibVersion());
		return 0;
	}
	for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
		if (strcmp(argv[1], commands[i].name) == 0)
			cmd = &commands[i];
	/*
	 * Before anything else: the process title keeps no password (scrubbed
	 * by the command's own option tables), and every secret given is known
	 * to the printers.
	 */
	cli_secrets_add_environment();
	args = cli_scrub_argv(argc - 1, argv + 1, cmd ? cmd->options : NULL);
	if (!args) {
		cli_error("out of memory");
		cli_secrets_clear();
		return EXIT_FAILED;
	}
	if (cmd) {
		rc = cmd->run(argc - 1, args);
	} else {
		cli_error("unknown command \"%s\" (copy, compare, listen, notify or recover)", args[0]);
		rc = cli_usage_hint(NULL);
	}
	for (int i = 0; i < argc - 1; i++)
		free(args[i]);
	free(args);
	cli_password_forget();
	cli_secrets_clear();
	return rc;
}
