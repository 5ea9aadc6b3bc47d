/*
 * itest_partition.c: `pgcopyman listen` with its defaults notices a silent
 * network partition -- no FIN, no RST: every packet dropped -- within 10
 * seconds, re-connects once the network is back, and reports the gap.
 *
 * The test runs in a network namespace of its own (unshare(CLONE_NEWNET)):
 * a PostgreSQL server started there listens on TCP loopback, the listener
 * connects to it over TCP, and the partition is iptables DROP rules on the
 * namespace's loopback for the server's port (both directions), lifted
 * again later.  Sockets are never closed: only packets vanish.  The test
 * talks to the server itself over its unix socket, which the rules do not
 * touch.  It needs root (CI runs it as root) and says so otherwise.
 */
#define _GNU_SOURCE   /* unshare */
#include <errno.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util.h"

#define PORT 54917
#define CHANNEL "part17"
#define DETECT_LIMIT 10.0   /* seconds: what the listener's defaults promise */

typedef struct world {
	char dir[64];             /* the server's data, socket and log */
	char conn_unix[256];      /* the test's way in: the unix socket */
	char conn_tcp[128];       /* the listener's: TCP loopback */
	int started;
} world;

static const char *
as_server(void)
{
	const char *as = getenv("PGCM_TEST_AS_SERVER");

	return as ? as : "";
}

/* partition: drop (on = 1) or let through (0) every packet to and from the server's port. */
static void
partition(int on)
{
	if (on)
		assert_int_equal(it_system("iptables -w -A INPUT -i lo -p tcp --dport %d -j DROP && "
		                           "iptables -w -A INPUT -i lo -p tcp --sport %d -j DROP", PORT, PORT), 0);
	else
		assert_int_equal(it_system("iptables -w -F INPUT"), 0);
}

static int
setup(void **state)
{
	world *w = calloc(1, sizeof *w);
	const char *pgbin = getenv("PGCM_TEST_PGBIN");

	assert_non_null(w);
	if (geteuid() != 0)
		fail_msg("partition/*: the test needs root: it makes a network namespace (unshare -n) and drops "
		         "packets in it with iptables; run it as root (CI does)");
	if (it_system("command -v iptables >/dev/null && command -v ip >/dev/null") != 0)
		fail_msg("partition/*: the test needs iptables and ip: apt-get install -y iptables iproute2");
	if (unshare(CLONE_NEWNET) != 0)
		fail_msg("unshare(CLONE_NEWNET): %s (a container without CAP_SYS_ADMIN cannot run this test)",
		         strerror(errno));
	assert_int_equal(it_system("ip link set lo up"), 0);
	if (it_system("iptables -w -L INPUT >/dev/null") != 0)
		fail_msg("iptables does not work in the network namespace (no netfilter in this kernel?)");

	/* A server in the namespace, listening on TCP loopback (and a socket for the test). */
	snprintf(w->dir, sizeof w->dir, "/tmp/pgcm-part.XXXXXX");
	assert_non_null(mkdtemp(w->dir));
	assert_int_equal(it_system("chmod 755 '%s' && mkdir '%s/sock' && chown -R postgres: '%s' 2>/dev/null; true",
	                           w->dir, w->dir, w->dir), 0);
	assert_int_equal(it_system("%s '%s/initdb' -D '%s/data' -U postgres -A trust >'%s/initdb.log' 2>&1",
	                           as_server(), pgbin ? pgbin : "/usr/lib/postgresql/15/bin", w->dir, w->dir), 0);
	if (it_system("%s '%s/pg_ctl' -D '%s/data' -l '%s/server.log' -w -t 60 -o \"-c listen_addresses=127.0.0.1 "
	              "-c port=%d -c unix_socket_directories='%s/sock' -c fsync=off\" start >/dev/null",
	              as_server(), pgbin ? pgbin : "/usr/lib/postgresql/15/bin", w->dir, w->dir, PORT, w->dir) != 0) {
		it_system("cat '%s/server.log' >&2", w->dir);
		fail_msg("the server in the namespace did not start");
	}
	w->started = 1;
	snprintf(w->conn_unix, sizeof w->conn_unix, "host=%s/sock port=%d dbname=postgres user=postgres", w->dir, PORT);
	snprintf(w->conn_tcp, sizeof w->conn_tcp, "host=127.0.0.1 port=%d dbname=postgres user=postgres", PORT);
	*state = w;
	return 0;
}

static int
teardown(void **state)
{
	world *w = *state;
	const char *pgbin = getenv("PGCM_TEST_PGBIN");

	if (!w)
		return 0;
	it_system("iptables -w -F INPUT 2>/dev/null");
	if (w->started)
		it_system("%s '%s/pg_ctl' -D '%s/data' -m immediate -w stop >/dev/null 2>&1", as_server(),
		          pgbin ? pgbin : "/usr/lib/postgresql/15/bin", w->dir);
	it_system("rm -rf '%s'", w->dir);
	free(w);
	return 0;
}

/* notify: a notification on the unix socket (not partitioned). */
static void
notify(const world *w, const char *payload)
{
	PGconn *c = PQconnectdb(w->conn_unix);

	if (PQstatus(c) != CONNECTION_OK)
		fail_msg("cannot connect over %s: %s", w->conn_unix, PQerrorMessage(c));
	it_exec(c, "SELECT pg_notify('" CHANNEL "', '%s')", payload);
	PQfinish(c);
}

/* wait_for: until file path holds text; returns when (monotonic seconds); fails after seconds. */
static double
wait_for(const char *path, const char *text, double seconds)
{
	free(it_wait_file_text(path, text, (int) (seconds * 1000)));
	return it_now_ms() / 1000;
}

static void
test_listen_notices_silent_partition(void **state)
{
	world *w = *state;
	const char *args[] = {"listen", "--json", "--conn", w->conn_tcp, CHANNEL, NULL};
	double cut, noticed, lifted, back;
	it_proc p;
	it_run r;
	char *out;

	it_cli_spawn(&p, args, -1, 0);
	/* Listening: a notification gets through. */
	for (int i = 0;; i++) {
		char *s;
		notify(w, "before");
		poll(NULL, 0, 200);
		s = it_slurp(p.out);
		if (strstr(s, "\"payload\": \"before\"")) {
			free(s);
			break;
		}
		free(s);
		if (i > 100)
			fail_msg("the listener never got a notification before the partition");
	}

	partition(1);
	cut = it_now_ms() / 1000;
	noticed = wait_for(p.err, "connection lost", 30);
	if (noticed - cut > DETECT_LIMIT)
		fail_msg("the listener noticed the partition after %.1f s (its defaults promise %.0f s)", noticed - cut,
		         DETECT_LIMIT);
	/* Sent while the listener is cut off: lost, by the server's design. */
	notify(w, "during");
	poll(NULL, 0, 3000);

	partition(0);
	lifted = it_now_ms() / 1000;
	back = wait_for(p.out, "{\"event\": \"reconnected\", \"gap_seconds\": ", 30);
	wait_for(p.err, "re-connected after ", 5);
	notify(w, "after");
	wait_for(p.out, "\"payload\": \"after\"", 15);
	kill(p.pid, SIGTERM);
	r = it_cli_wait(&p, NULL);
	it_expect_status(&r, 0);

	/* The gap it reports covers the time it was cut off. */
	out = strstr(r.out, "\"gap_seconds\": ");
	assert_non_null(out);
	{
		double gap = atof(out + strlen("\"gap_seconds\": "));
		if (gap < lifted - noticed - 0.5 || gap > back - noticed + 0.5)
			fail_msg("gap_seconds %.1f, but the connection was lost for %.1f to %.1f s", gap, lifted - noticed,
			         back - noticed);
	}
	assert_null(strstr(r.out, "\"payload\": \"during\""));
	print_message("partition noticed after %.1f s; re-connected %.1f s after it was lifted\n", noticed - cut,
	              back - lifted);
	it_run_free(&r);
}

IT_GROUP(partition)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_listen_notices_silent_partition),
	};
	return it_add_group("partition", tests, setup, teardown);
}
