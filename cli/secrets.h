/*
 * secrets.h: passwords kept out of everything the command shows: the process
 * title (ps, /proc/PID/cmdline), messages, the JSON summary.
 *
 * Connection strings are shown masked (conninfo.h).  As a second line of
 * defence every secret the command was given (in a connection string on the
 * command line, or in the environment, e.g. PGPASSWORD) is remembered once
 * at start-up, and text the command prints is passed through
 * cli_scrub_text(), which masks any of them wherever it appears (a server
 * message quoting a value, an error echoing an argument).
 */
#ifndef PGCM_CLI_SECRETS_H
#define PGCM_CLI_SECRETS_H

#include <getopt.h>

/*
 * A subcommand's options, as its getopt_long() call takes them, so that the
 * process title is scrubbed by the same rules the command parses with:
 * abbreviations, --opt=value, --opt value, -ovalue, -o value, "--".
 */
typedef struct cli_optspec {
	const char *shortopts;
	const struct option *longopts;
	const int *conninfo_vals;  /* getopt values whose argument is a connection string; 0 ends */
} cli_optspec;

/* Secrets shorter than this are not searched for in free text (they would mask common words). */
#define CLI_SECRET_MIN_LEN 4

/* cli_secrets_add: remember secret (copied); NULL, "" and short ones are ignored. */
void cli_secrets_add(const char *secret);

/* cli_secrets_add_conninfo: remember every secret value of conninfo, at every dbname level that parses. */
void cli_secrets_add_conninfo(const char *conninfo);

/* cli_secrets_add_environment: remember PGPASSWORD and every other secret libpq reads from the environment. */
void cli_secrets_add_environment(void);

/* cli_secrets_clear: forget every secret (frees the list). */
void cli_secrets_clear(void);

/*
 * cli_scrub_text: text with every remembered secret replaced by "********".
 * malloc'd; NULL when out of memory (then print nothing of text).
 */
char *cli_scrub_text(const char *text);

/*
 * cli_scrub_argv: make the process title safe and return the arguments for
 * the command to use.  argv[0..argc) is the subcommand's argument vector
 * (argv[0] its name).  Returns a malloc'd copy of it (each string malloc'd;
 * free them and the array), or NULL when out of memory.  Then, in the
 * original strings (what ps shows): every argument that getopt_long, run
 * over spec exactly as the command runs it, hands to an option of
 * spec->conninfo_vals is overwritten with its masked form (or with '*' where
 * that does not fit), except "-" and "file:..." endpoints; and any other
 * argument that is, or after "--opt=" holds, a connection string with a
 * secret or anything that looks like a password is masked too (spec NULL:
 * every argument is judged that way).  Every secret found is remembered
 * (cli_secrets_add).
 */
char **cli_scrub_argv(int argc, char **argv, const cli_optspec *spec);

#endif
