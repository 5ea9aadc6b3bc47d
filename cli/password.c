/*
 * password.c: passwords asked for on the terminal, once per server (see
 * password.h).  psql's rules: -W asks before connecting, -w never asks, and
 * otherwise the question comes only when the server asked for a password
 * that neither the connection string, PGPASSWORD nor ~/.pgpass gave.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "cli.h"
#include "password.h"

/* A server as libpq resolves it: the connection string's settings, else libpq's defaults. */
enum { K_HOST, K_HOSTADDR, K_PORT, K_USER, K_DBNAME, K_SERVICE, NKEYS };
static const char *const key_names[NKEYS] = {"host", "hostaddr", "port", "user", "dbname", "service"};

typedef struct remembered {
	char *key[NKEYS];
	char *password;
	struct remembered *next;
} remembered;

static enum cli_password_mode password_mode = CLI_PASSWORD_AUTO;
static remembered *known;

void
cli_password_set_mode(enum cli_password_mode mode)
{
	password_mode = mode;
}

/* setting: ci's value for keyword, NULL when unset or empty. */
static const char *
setting(const cli_conninfo *ci, const char *keyword)
{
	const char *v = cli_conninfo_get(ci, keyword);

	return v && v[0] ? v : NULL;
}

/*
 * resolve_server: the key of ci's server into k (each malloc'd, "" for
 * none): ci's setting, else libpq's default (environment, then compiled in);
 * dbname defaults to the user, as libpq's does.  Returns 0 when out of memory.
 */
static int
resolve_server(const cli_conninfo *ci, char **k)
{
	PQconninfoOption *defaults = PQconndefaults();
	int ok = 1;

	for (int i = 0; i < NKEYS; i++) {
		const char *v = setting(ci, key_names[i]);
		for (PQconninfoOption *d = defaults; !v && d && d->keyword; d++)
			if (strcmp(d->keyword, key_names[i]) == 0 && d->val && d->val[0])
				v = d->val;
		if (!v && i == K_DBNAME)
			v = k[K_USER];
		k[i] = strdup(v ? v : "");
		ok &= k[i] != NULL;
	}
	PQconninfoFree(defaults);
	return ok;
}

static void
free_key(char **k)
{
	for (int i = 0; i < NKEYS; i++) {
		free(k[i]);
		k[i] = NULL;
	}
}

/* wipe_free: free a password, overwritten first. */
static void
wipe_free(char *password)
{
	if (password) {
		explicit_bzero(password, strlen(password));
		free(password);
	}
}

static remembered *
lookup(char *const *k)
{
	for (remembered *r = known; r; r = r->next) {
		int same = 1;
		for (int i = 0; i < NKEYS; i++)
			same &= strcmp(r->key[i], k[i]) == 0;
		if (same)
			return r;
	}
	return NULL;
}

/* forget_one: drop r (a password the server refused) from the list. */
static void
forget_one(remembered *r)
{
	for (remembered **at = &known; *at; at = &(*at)->next)
		if (*at == r) {
			*at = r->next;
			free_key(r->key);
			wipe_free(r->password);
			free(r);
			return;
		}
}

void
cli_password_forget(void)
{
	while (known)
		forget_one(known);
}

static volatile sig_atomic_t prompt_signal;

static void
on_prompt_signal(int sig)
{
	prompt_signal = sig;
}

/*
 * read_hidden: prompt, then one line from the terminal fd with echo off, as
 * psql's simple_prompt reads it: echo goes off (discarding type-ahead, so
 * nothing typed before the prompt is taken as the password) before the
 * prompt is shown, so that an answer typed at once is neither lost nor echoed.  A
 * signal (Ctrl-C) ends the prompt: the terminal is put back first, then the
 * signal is delivered as it would have been.  Returns a malloc'd line, or
 * NULL (interrupted, end of input, out of memory).
 */
static char *
read_hidden(int fd, const char *prompt)
{
	static const int sigs[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};
	struct sigaction sa, old[4];
	struct termios t, saved;
	size_t len = 0, cap = 64;
	char *line = malloc(cap), c;
	int echo_off, done = 0;

	if (!line)
		return NULL;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_prompt_signal;   /* no SA_RESTART: read() returns EINTR */
	sigemptyset(&sa.sa_mask);
	prompt_signal = 0;
	for (int i = 0; i < 4; i++)
		sigaction(sigs[i], &sa, &old[i]);
	echo_off = tcgetattr(fd, &saved) == 0;
	if (echo_off) {
		t = saved;
		t.c_lflag &= (tcflag_t) ~ECHO;
		t.c_lflag |= ICANON;
		echo_off = tcsetattr(fd, TCSAFLUSH, &t) == 0;
	}
	if (prompt)
		(void) !write(fd, prompt, strlen(prompt));
	while (!done) {
		ssize_t n = read(fd, &c, 1);
		if (n < 0 && errno == EINTR && !prompt_signal)
			continue;
		if (n <= 0 || c == '\n' || c == '\r') {
			done = n <= 0 ? -1 : 1;
			break;
		}
		if (len + 1 == cap) {
			char *bigger = malloc(cap * 2);
			if (!bigger) {
				done = -1;
				break;
			}
			memcpy(bigger, line, len);
			explicit_bzero(line, cap);
			free(line);
			line = bigger;
			cap *= 2;
		}
		line[len++] = c;
	}
	line[len] = '\0';
	explicit_bzero(&c, sizeof c);
	if (echo_off)
		tcsetattr(fd, TCSAFLUSH, &saved);
	(void) !write(fd, "\n", 1);   /* the Enter the user typed was not echoed */
	for (int i = 0; i < 4; i++)
		sigaction(sigs[i], &old[i], NULL);
	if (prompt_signal)
		raise(prompt_signal);
	if (done < 0 || prompt_signal) {
		explicit_bzero(line, cap);
		free(line);
		return NULL;
	}
	return line;
}

/*
 * ask: "Password for user USER: " on the terminal (/dev/tty: the prompt is
 * never part of the command's output, which may be a pipe).  The answer is
 * remembered for server k (which it takes over) and as a secret.  Returns
 * the entry, or NULL when there is no terminal or the prompt was
 * interrupted (*no_tty says which).
 */
static remembered *
ask(char **k, const char *user, int *no_tty)
{
	int fd = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);
	remembered *r;
	cli_buf prompt;
	char *text, *password;

	*no_tty = fd < 0;
	if (fd < 0)
		return NULL;
	cli_buf_init(&prompt);
	cli_buf_addf(&prompt, "Password for user %s: ", user && *user ? user : k[K_USER]);
	text = cli_buf_take(&prompt);
	password = read_hidden(fd, text);
	free(text);
	close(fd);
	if (!password)
		return NULL;
	r = calloc(1, sizeof *r);
	if (!r) {
		wipe_free(password);
		return NULL;
	}
	memcpy(r->key, k, sizeof r->key);
	memset(k, 0, sizeof r->key);
	r->password = password;
	r->next = known;
	known = r;
	cli_secrets_add(password);
	return r;
}

/* connect_with: PQconnectdbParams over keys/vals, plus password when not NULL (the later entry wins). */
static PGconn *
connect_with(const char *const *keys, const char *const *vals, const char *password)
{
	size_t n = 0;
	const char **k2, **v2;
	PGconn *conn;

	if (!password)
		return PQconnectdbParams(keys, vals, 0);
	while (keys[n])
		n++;
	k2 = calloc(n + 2, sizeof *k2);
	v2 = calloc(n + 2, sizeof *v2);
	if (!k2 || !v2) {
		free(k2);
		free(v2);
		return NULL;
	}
	memcpy(k2, keys, n * sizeof *k2);
	memcpy(v2, vals, n * sizeof *v2);
	k2[n] = "password";
	v2[n] = password;
	conn = PQconnectdbParams(k2, v2, 0);
	free(k2);
	free(v2);
	return conn;
}

PGconn *
cli_password_connect(const cli_conninfo *ci, const char *const *keys, const char *const *vals,
                     const char **hint)
{
	char *k[NKEYS] = {0};
	remembered *r = NULL;
	int asked = 0, no_tty = 0;
	PGconn *conn;

	*hint = NULL;
	if (!resolve_server(ci, k)) {
		free_key(k);
		return NULL;
	}
	if (!setting(ci, "password")) {
		r = lookup(k);
		if (!r && password_mode == CLI_PASSWORD_ALWAYS && (r = ask(k, NULL, &no_tty)))
			asked = 1;
	}
	conn = connect_with(keys, vals, r ? r->password : NULL);
	if (conn && PQstatus(conn) == CONNECTION_BAD && PQconnectionNeedsPassword(conn) && !r) {
		if (password_mode == CLI_PASSWORD_NEVER) {
			*hint = "-w (--no-password) forbids asking: give the password in the connection "
			        "string, PGPASSWORD or ~/.pgpass";
		} else if ((r = ask(k, PQuser(conn), &no_tty))) {
			asked = 1;
			PQfinish(conn);
			conn = connect_with(keys, vals, r->password);
		} else if (no_tty) {
			*hint = "there is no terminal to ask for it on: give the password in the connection "
			        "string, PGPASSWORD or ~/.pgpass";
		}
	}
	/* A typed password the server refused is not offered to it again. */
	if (asked && (!conn || PQstatus(conn) == CONNECTION_BAD))
		forget_one(r);
	free_key(k);
	return conn;
}

const char *
cli_password_for(const cli_conninfo *ci, int ask_now)
{
	char *k[NKEYS] = {0};
	remembered *r = NULL;
	int no_tty;

	if (setting(ci, "password") || !resolve_server(ci, k)) {
		free_key(k);
		return NULL;
	}
	r = lookup(k);
	if (!r && password_mode != CLI_PASSWORD_NEVER && (ask_now || password_mode == CLI_PASSWORD_ALWAYS))
		r = ask(k, NULL, &no_tty);
	free_key(k);
	return r ? r->password : NULL;
}
