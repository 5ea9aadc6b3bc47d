/*
 * password.h: passwords asked for as psql asks: -W prompts before
 * connecting, -w never prompts, and by default a server that asks for a
 * password none was given for gets a prompt on the terminal (/dev/tty, echo
 * off).  One prompt per server -- host, port, user and database, as libpq
 * resolves them -- whose answer every later session to it reuses (--jobs).
 * A password typed is remembered as a secret (secrets.h): it never appears
 * in any output, and never in the process title (it is never an argument).
 */
#ifndef PGCM_CLI_PASSWORD_H
#define PGCM_CLI_PASSWORD_H

#include <libpq-fe.h>

#include "conninfo.h"

enum cli_password_mode {
	CLI_PASSWORD_AUTO,    /* prompt when the server asks and a terminal is there (default) */
	CLI_PASSWORD_ALWAYS,  /* -W, --password: prompt before connecting */
	CLI_PASSWORD_NEVER    /* -w, --no-password: never prompt */
};

/* cli_password_set_mode: how the command's later connections get their passwords. */
void cli_password_set_mode(enum cli_password_mode mode);

/*
 * cli_password_connect: connect with keys/vals (a PQconnectdbParams array,
 * NULL-terminated, expand_dbname off) for ci (the parsed connection string,
 * to know its server and whether it sets a password), prompting as the mode
 * says.  Returns the connection, as PQconnectdbParams does (check
 * PQstatus); NULL when out of memory.  *hint (static, may be NULL) says what
 * to do when the server asked for a password that could not be asked for.
 */
PGconn *cli_password_connect(const cli_conninfo *ci, const char *const *keys, const char *const *vals,
                             const char **hint);

/*
 * cli_password_for: the password to connect to ci's server with (a remembered
 * one, or, with -W or when ask is 1, one typed at a prompt), for a caller that
 * connects by itself (the listener).  NULL when none is known or can be
 * asked for.  Borrowed: valid until cli_password_forget().
 */
const char *cli_password_for(const cli_conninfo *ci, int ask);

/* cli_password_forget: wipe and free every remembered password. */
void cli_password_forget(void);

#endif
