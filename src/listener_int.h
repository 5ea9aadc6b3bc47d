/*
 * listener_int.h: the listener's private state, shared by listener.c (its
 * public calls and state machine) and listener_conn.c (its connection).
 */
#ifndef PGCM_LISTENER_INT_H
#define PGCM_LISTENER_INT_H

#include "internal.h"

enum listener_state {
	L_START = 0,     /* never connected, or the first connection failed: connect now */
	L_WAIT,          /* back-off before the next re-connection attempt */
	L_CONNECTING,    /* PQconnectPoll in progress */
	L_SYNC,          /* connected; the LISTENs of a new connection are in flight */
	L_READY          /* connected and LISTENing */
};

enum listener_cmd { CMD_NONE = 0, CMD_SYNC, CMD_PING };

typedef struct channel {
	char *name;
	int wanted;       /* the caller asked for it */
	int active;       /* the server LISTENs on the current connection */
	int sent;         /* part of the command in flight */
} channel;

struct pgcm_listener {
	char *conninfo;
	channel *ch;
	size_t nch;
	size_t capch;

	PGconn *conn;
	enum listener_state state;
	PostgresPollingStatusType polling;  /* L_CONNECTING: what PQconnectPoll waits for */
	enum listener_cmd cmd;    /* the command in flight */
	int cmd_failed;           /* the command in flight got an error result */
	int want_write;           /* PQflush() had more to send */
	int sync_refused;         /* the server refused a LISTEN: do not retry it by itself */
	int ever_ready;           /* the first connection completed its LISTENs */
	int pending_lost;         /* report DISCONNECTED on the next call */
	unsigned long reconnects;

	pgcm__idle idle;
	int backoff_initial;
	int backoff_max;
	int backoff_cur;          /* the wait after the next failed attempt */
	int ping_interval;
	int ping_timeout;

	int64_t deadline;         /* L_WAIT: next attempt; L_CONNECTING: give up */
	int64_t cmd_deadline;     /* the command in flight must be answered by then */
	int64_t last_rx;          /* last time the server answered or sent something */

	pgcm__batch b;
	char *lost_msg;           /* why the connection broke (DISCONNECTED's message) */
	char *fatal;              /* the server's FATAL notice on this connection, if any */
	char *event_msg;          /* the message handed out with the last event */
	char *errmsg;
	struct pollfd pfd;        /* for pgcm_listener_next() */
};

/* listener.c */
/* pgcm__listener_channel: the channel named name, or NULL. */
channel *pgcm__listener_channel(const pgcm_listener *l, const char *name);

/* listener_conn.c */
/* Close the listener's own connection; nothing is LISTENed any more. */
void pgcm__listener_drop_conn(pgcm_listener *l);
/* A connection attempt failed: PGCM_ERR_CONNECTION for the first one, else back-off (PGCM_AGAIN). */
pgcm_status pgcm__listener_attempt_failed(pgcm_listener *l, const char *why, int64_t now);
/* Begin a connection attempt without blocking. */
pgcm_status pgcm__listener_start_connect(pgcm_listener *l, int64_t now);
/* Drive a connection attempt; *moved: PQconnectPoll was called. */
pgcm_status pgcm__listener_connecting(pgcm_listener *l, int64_t now, int *moved);
/* Everything that happens on a live connection; PGCM_OK with an event in *ev. */
pgcm_status pgcm__listener_connected(pgcm_listener *l, pgcm_notify_event *ev, int64_t now);
/* A LISTEN or UNLISTEN is due. */
int pgcm__listener_needs_sync(const pgcm_listener *l);
/* Hand out the batch taken from conn (NULL: a connection that broke). */
void pgcm__listener_emit_batch(pgcm_listener *l, pgcm_notify_event *ev, PGconn *conn, int64_t now);

#endif /* PGCM_LISTENER_INT_H */
