/*
 * itest_multi.c: `pgcopyman copy` over many tables in one run, on real
 * servers.  A schema of twelve tables: a foreign-key chain four deep, a
 * cycle of DEFERRABLE keys, a self-reference, serial and identity columns,
 * a partitioned table, an inheritance parent and its child, mixed-case and
 * dotted names; a table the runs exclude; a schema holding a cycle with a
 * key that is not deferrable.  Copied to two targets, the targets must hold
 * exactly the source's rows (each table's checksum), in one snapshot even
 * when the source changes in the middle of the run, all tables or none on
 * each target, and the report must say what is on the servers.
 *
 * Clusters: 1 is the source; 2 and 3 are targets.  Database "multi".
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util.h"

#define DB "multi"

typedef struct world {
	PGconn *src, *dst[2];
	char *src_ci, *dst_ci[2];
} world;

/* The schema, the same on every server. */
static const char schema_sql[] =
	"CREATE SCHEMA shop; CREATE SCHEMA \"Mixed\"; CREATE SCHEMA cyc; "
	"CREATE TABLE shop.customers (id serial PRIMARY KEY, name text NOT NULL); "
	"CREATE TABLE shop.orders (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, "
	" customer int NOT NULL REFERENCES shop.customers, note text); "
	"CREATE TABLE shop.order_items (order_id bigint REFERENCES shop.orders, line int, qty int, "
	" PRIMARY KEY (order_id, line)); "
	"CREATE TABLE shop.shipments (id int PRIMARY KEY, order_id bigint, line int, "
	" FOREIGN KEY (order_id, line) REFERENCES shop.order_items); "
	"CREATE TABLE shop.employees (id int PRIMARY KEY, boss int REFERENCES shop.employees); "
	"CREATE TABLE shop.depts (id int PRIMARY KEY, head int); "
	"CREATE TABLE shop.staff (id int PRIMARY KEY, dept int NOT NULL REFERENCES shop.depts DEFERRABLE); "
	"ALTER TABLE shop.depts ADD CONSTRAINT depts_head FOREIGN KEY (head) REFERENCES shop.staff "
	" DEFERRABLE INITIALLY IMMEDIATE; "
	"CREATE TABLE shop.events (k int NOT NULL, id int NOT NULL, customer int REFERENCES shop.customers, "
	" PRIMARY KEY (k, id)) PARTITION BY RANGE (k); "
	"CREATE TABLE shop.events_1 PARTITION OF shop.events FOR VALUES FROM (0) TO (10); "
	"CREATE TABLE shop.events_2 PARTITION OF shop.events FOR VALUES FROM (10) TO (20); "
	"CREATE TABLE shop.notes (id int PRIMARY KEY, v text); "
	"CREATE TABLE shop.notes_child (extra int) INHERITS (shop.notes); "
	"CREATE TABLE shop.audit (id int, what text); "
	"CREATE TABLE \"Mixed\".\"Tbl\" (id int PRIMARY KEY, \"Value\" text, cust int REFERENCES shop.customers); "
	"CREATE TABLE \"Mixed\".\"a.b\" (code text PRIMARY KEY, n int); "
	"CREATE TABLE cyc.x (id int PRIMARY KEY, y_id int); "
	"CREATE TABLE cyc.y (id int PRIMARY KEY, x_id int REFERENCES cyc.x); "
	"ALTER TABLE cyc.x ADD FOREIGN KEY (y_id) REFERENCES cyc.y DEFERRABLE";

/* The source's rows (the cycle's rows go in with its keys deferred). */
static const char data_sql[] =
	"INSERT INTO shop.customers (name) SELECT 'customer ' || g FROM generate_series(1, 300) g; "
	"INSERT INTO shop.orders (customer, note) SELECT 1 + g % 300, CASE WHEN g % 7 = 0 THEN NULL "
	" ELSE E'note\\t' || g END FROM generate_series(1, 3000) g; "
	"INSERT INTO shop.order_items SELECT o, l, l FROM generate_series(1, 3000) o, generate_series(1, 3) l; "
	"INSERT INTO shop.shipments SELECT g, 1 + g % 3000, 1 + g % 3 FROM generate_series(1, 2000) g; "
	"INSERT INTO shop.employees VALUES (1, NULL); "
	"INSERT INTO shop.employees SELECT g, g / 2 FROM generate_series(2, 500) g; "
	"BEGIN; SET CONSTRAINTS ALL DEFERRED; "
	"INSERT INTO shop.depts SELECT g, g * 10 FROM generate_series(1, 20) g; "
	"INSERT INTO shop.staff SELECT g, 1 + g % 20 FROM generate_series(1, 400) g; COMMIT; "
	"INSERT INTO shop.events SELECT g % 20, g, 1 + g % 300 FROM generate_series(1, 1000) g; "
	"INSERT INTO shop.notes SELECT g, 'parent ' || g FROM generate_series(1, 100) g; "
	"INSERT INTO shop.notes_child SELECT g, 'child ' || g, g FROM generate_series(101, 150) g; "
	"INSERT INTO shop.audit SELECT g, 'source' FROM generate_series(1, 10) g; "
	"INSERT INTO \"Mixed\".\"Tbl\" SELECT g, 'V' || g, 1 + g % 300 FROM generate_series(1, 200) g; "
	"INSERT INTO \"Mixed\".\"a.b\" SELECT 'code-' || g, g FROM generate_series(1, 100) g; "
	"BEGIN; SET CONSTRAINTS ALL DEFERRED; INSERT INTO cyc.x VALUES (1, 1); INSERT INTO cyc.y VALUES (1, 1); COMMIT";

/* The tables the runs copy (-n shop -n '"Mixed"' -T shop.audit), as SQL reads them; ONLY for the parent. */
static const char *const tables[] = {
	"shop.customers", "shop.orders", "shop.order_items", "shop.shipments", "shop.employees", "shop.depts",
	"shop.staff", "shop.events", "ONLY shop.notes", "shop.notes_child", "\"Mixed\".\"Tbl\"", "\"Mixed\".\"a.b\"",
};
#define NTABLES (sizeof tables / sizeof tables[0])

static int
setup(void **state)
{
	world *w = calloc(1, sizeof *w);

	assert_non_null(w);
	for (int i = 1; i <= 3; i++)
		it_create_database(i, DB);
	w->src = it_connect_db(1, DB);
	w->src_ci = it_conninfo_db(1, DB);
	it_exec(w->src, "%s", schema_sql);
	it_exec(w->src, "%s", data_sql);
	it_exec(w->src, "ANALYZE");
	for (int t = 0; t < 2; t++) {
		w->dst[t] = it_connect_db(t + 2, DB);
		w->dst_ci[t] = it_conninfo_db(t + 2, DB);
		it_exec(w->dst[t], "%s", schema_sql);
		/* The excluded table holds the target's own rows, which no run may touch. */
		it_exec(w->dst[t], "INSERT INTO shop.audit VALUES (%d, 'target')", t + 2);
	}
	*state = w;
	return 0;
}

static int
teardown(void **state)
{
	world *w = *state;

	it_assert_usable(w->src);
	PQfinish(w->src);
	free(w->src_ci);
	for (int t = 0; t < 2; t++) {
		it_assert_usable(w->dst[t]);
		PQfinish(w->dst[t]);
		free(w->dst_ci[t]);
	}
	free(w);
	return 0;
}

/* copy_cli: pgcopyman copy of the schema's tables from the source to both targets, plus arguments. */
#define copy_cli(w, ...) \
	it_cli("copy", "--from", (w)->src_ci, "--to", (w)->dst_ci[0], "--to", (w)->dst_ci[1], "-n", "shop", "-n", \
	       "\"Mixed\"", "-T", "shop.audit", __VA_ARGS__)

/* says: stdout or stderr holds text. */
static void
says(const it_run *r, const char *text)
{
	if (strstr(r->out, text) || strstr(r->err, text))
		return;
	fail_msg("the output does not say \"%s\":\n--- stdout\n%s\n--- stderr\n%s", text, r->out, r->err);
}

/* checksums: every copied table's checksum on conn (malloc'd strings into sums[NTABLES]). */
static void
checksums(PGconn *conn, char **sums)
{
	for (size_t k = 0; k < NTABLES; k++)
		sums[k] = it_table_checksum(conn, tables[k]);
}

static void
free_sums(char **sums)
{
	for (size_t k = 0; k < NTABLES; k++)
		free(sums[k]);
}

/* expect_sums: conn's tables have exactly these checksums. */
static void
expect_sums(PGconn *conn, char **want, const char *who)
{
	char *have[NTABLES];

	checksums(conn, have);
	for (size_t k = 0; k < NTABLES; k++)
		if (strcmp(have[k], want[k]) != 0)
			fail_msg("%s: table %s holds other rows than expected (%s, not %s)", who, tables[k], have[k], want[k]);
	free_sums(have);
}

/* expect_empty: conn holds no row of any copied table. */
static void
expect_empty(PGconn *conn)
{
	for (size_t k = 0; k < NTABLES; k++)
		assert_int_equal(it_count(conn, tables[k]), 0);
}

/* expect_audit_untouched: the excluded table still holds the target's one row. */
static void
expect_audit_untouched(world *w)
{
	for (int t = 0; t < 2; t++) {
		char want[32];
		char *v = it_scalar(w->dst[t], "SELECT string_agg(id || ':' || what, ',') FROM shop.audit");
		snprintf(want, sizeof want, "%d:target", t + 2);
		assert_string_equal(v, want);
		free(v);
	}
}

/* no_prepared: no prepared transaction is left on either target. */
static void
no_prepared(world *w)
{
	for (int t = 0; t < 2; t++)
		it_expect_sql(w->dst[t], "SELECT count(*) FROM pg_prepared_xacts WHERE database = current_database()", "0");
}

/* at: the position of needle in the hay, failing when it is not there. */
static size_t
at(const char *hay, const char *needle)
{
	const char *p = strstr(hay, needle);

	if (!p)
		fail_msg("\"%s\" not found in:\n%s", needle, hay);
	return (size_t) (p - hay);
}

/*
 * test_copy_all: twelve tables to two targets in one run: every table the
 * same as the source's (the inheritance parent its own rows only), the
 * excluded table untouched, the owned sequences moved (serial, identity),
 * --verify "same" for every table, a report per target and table.
 */
static void
copy_all(world *w, const char *jobs)
{
	char *want[NTABLES];
	it_run r = copy_cli(w, "--verify", "--json", "--jobs", jobs);

	it_expect_status(&r, 0);
	checksums(w->src, want);
	for (int t = 0; t < 2; t++) {
		expect_sums(w->dst[t], want, t ? "target 2" : "target 1");
		assert_int_equal(it_count(w->dst[t], "ONLY shop.notes"), 100);
		assert_int_equal(it_count(w->dst[t], "shop.notes"), 150);
		/* The sequences: the target's next value is the source's next. */
		it_expect_sql(w->dst[t], "SELECT nextval('shop.customers_id_seq')", "301");
		it_expect_sql(w->dst[t], "SELECT nextval(pg_get_serial_sequence('shop.orders', 'id'))", "3001");
	}
	expect_audit_untouched(w);
	/* The report: 12 tables, each target ok with every row, each table's rows and verdict. */
	says(&r, "{\"tables\": 12, \"rows\": 16670,");
	says(&r, "\"status\": \"ok\", \"rows\": 16670, \"verify\": {\"status\": \"same\", \"message\": \"12 tables the same\"}");
	says(&r, "{\"table\": \"shop.order_items\", \"status\": \"ok\", \"rows\": 9000,");
	says(&r, "{\"table\": \"\\\"Mixed\\\".\\\"a.b\\\"\", \"status\": \"ok\", \"rows\": 100,");
	says(&r, "{\"table\": \"shop.notes\", \"status\": \"ok\", \"rows\": 100,");
	says(&r, "\"sequence\": \"shop.customers_id_seq\"");
	{
		/* The sessions used per server: the schema's six groups of linked tables fill both. */
		char jobs_member[48];
		snprintf(jobs_member, sizeof jobs_member, "\"jobs\": %s, \"targets\"", jobs);
		says(&r, jobs_member);
	}
	assert_null(strstr(r.out, "\"verify\": {\"status\": \"differs\""));
	assert_null(strstr(r.out, "shop.audit"));
	no_prepared(w);
	free_sums(want);
	it_run_free(&r);
}

static void
test_copy_all(void **state)
{
	copy_all(*state, "1");
}

/*
 * test_copy_all_jobs: the same over two sessions per server (the tables
 * linked by foreign keys in one, the others spread), each target's two
 * sessions committed together (two-phase), nothing left prepared.
 */
static void
test_copy_all_jobs(void **state)
{
	copy_all(*state, "2");
}

/*
 * test_dry_run_order: --dry-run lists the tables parents first (the chain
 * customers, orders, order_items, shipments; the deferrable cycle's keys
 * deferred) with each one's plan, and moves nothing.
 */
static void
test_dry_run_order(void **state)
{
	world *w = *state;
	it_run r = copy_cli(w, "--dry-run");

	it_expect_status(&r, 0);
	assert_true(at(r.out, ". shop.customers") < at(r.out, ". shop.orders"));
	assert_true(at(r.out, ". shop.orders") < at(r.out, ". shop.order_items"));
	assert_true(at(r.out, ". shop.order_items") < at(r.out, ". shop.shipments"));
	assert_true(at(r.out, ". shop.customers") < at(r.out, ". shop.events"));
	assert_true(at(r.out, ". shop.customers") < at(r.out, ". \"Mixed\".\"Tbl\""));
	says(&r, "12 tables, in load order");
	says(&r, "shop.employees (references itself: one COPY statement)");
	says(&r, "SET CONSTRAINTS \"shop\".\"depts_head\", \"shop\".\"staff_dept_fkey\" DEFERRED");
	says(&r, "== table 12 of 12");
	says(&r, "COPY \"shop\".\"events\"");
	assert_null(strstr(r.out, "shop.audit"));
	assert_null(strstr(r.out, "shop.events_1"));
	expect_empty(w->dst[0]);
	expect_empty(w->dst[1]);
	it_run_free(&r);
}

/* session_of: the session --dry-run --jobs gives table (as its list prints it). */
static int
session_of(const char *out, const char *table)
{
	char needle[128];
	const char *p;

	snprintf(needle, sizeof needle, ". %s [session ", table);
	p = strstr(out, needle);
	if (!p)
		fail_msg("%s has no session in:\n%s", table, out);
	return atoi(p + strlen(needle));
}

/*
 * test_dry_run_jobs_sessions: with --jobs 2 the tables linked by foreign
 * keys share one session (the chain, the partitioned table and the
 * mixed-case table that reference the customers; the cycle's two tables),
 * and both sessions have tables.
 */
static void
test_dry_run_jobs_sessions(void **state)
{
	world *w = *state;
	it_run r = copy_cli(w, "--dry-run", "--jobs", "2");
	int chain;

	it_expect_status(&r, 0);
	chain = session_of(r.out, "shop.customers");
	assert_int_equal(session_of(r.out, "shop.orders"), chain);
	assert_int_equal(session_of(r.out, "shop.order_items"), chain);
	assert_int_equal(session_of(r.out, "shop.shipments"), chain);
	assert_int_equal(session_of(r.out, "shop.events"), chain);
	assert_int_equal(session_of(r.out, "\"Mixed\".\"Tbl\""), chain);
	assert_int_equal(session_of(r.out, "shop.depts"), session_of(r.out, "shop.staff"));
	assert_true(strstr(r.out, "[session 1]") != NULL && strstr(r.out, "[session 2]") != NULL);
	it_run_free(&r);
}

/*
 * test_cycle_not_deferrable_refused: a cycle whose key is not deferrable is
 * refused before any data moves, naming both tables, the key and the way out.
 */
static void
test_cycle_not_deferrable_refused(void **state)
{
	world *w = *state;
	it_run r = it_cli("copy", "--from", w->src_ci, "--to", w->dst_ci[0], "--to", w->dst_ci[1], "-n", "cyc");

	it_expect_status(&r, 1);
	says(&r, "tables cyc.x and cyc.y reference each other through foreign keys on target 1");
	says(&r, "the constraint \"y_x_id_fkey\" of cyc.y is not DEFERRABLE");
	says(&r, "ALTER TABLE cyc.y ALTER CONSTRAINT \"y_x_id_fkey\" DEFERRABLE");
	for (int t = 0; t < 2; t++) {
		assert_int_equal(it_count(w->dst[t], "cyc.x"), 0);
		assert_int_equal(it_count(w->dst[t], "cyc.y"), 0);
	}
	it_run_free(&r);
}

/*
 * test_one_snapshot: the source changes (rows inserted, updated, deleted in
 * several tables, committed) after the first table is loaded, while the run
 * waits (its test hook stops it there); the targets hold exactly the state
 * before the change, in every table.
 */
static void
one_snapshot(world *w, const char *jobs)
{
	char *before[NTABLES], *after;
	it_proc p;
	it_run r;
	int st;

	checksums(w->src, before);
	setenv("PGCOPYMAN_TEST_STOP_AFTER_TABLE", "1", 1);
	it_cli_bg(&p, "copy", "--from", w->src_ci, "--to", w->dst_ci[0], "--to", w->dst_ci[1], "-n", "shop", "-n",
	          "\"Mixed\"", "-T", "shop.audit", "--quiet", "--jobs", jobs);
	unsetenv("PGCOPYMAN_TEST_STOP_AFTER_TABLE");
	assert_int_equal(waitpid(p.pid, &st, WUNTRACED), p.pid);
	assert_true(WIFSTOPPED(st));
	/* The first table (customers) is loaded on the targets, uncommitted; the source changes now. */
	it_exec(w->src, "INSERT INTO shop.customers (name) VALUES ('late'); "
	                "UPDATE shop.orders SET note = 'changed' WHERE id <= 100; "
	                "DELETE FROM shop.shipments WHERE id <= 500; "
	                "DELETE FROM shop.order_items WHERE order_id = 2999 AND line = 3; "
	                "INSERT INTO shop.employees VALUES (501, 1); "
	                "UPDATE \"Mixed\".\"a.b\" SET n = -n; "
	                "DELETE FROM ONLY shop.notes WHERE id = 1; "
	                "INSERT INTO shop.events VALUES (5, 1001, 1)");
	after = it_table_checksum(w->src, "shop.orders");
	assert_string_not_equal(after, before[1]);
	kill(p.pid, SIGCONT);
	r = it_cli_wait(&p, NULL);
	it_expect_status(&r, 0);
	expect_sums(w->dst[0], before, "target 1");
	expect_sums(w->dst[1], before, "target 2");
	no_prepared(w);
	free(after);
	free_sums(before);
	it_run_free(&r);
}

static void
test_one_snapshot(void **state)
{
	one_snapshot(*state, "1");
}

/* test_one_snapshot_jobs: the same with two source sessions: the second imports the first's snapshot. */
static void
test_one_snapshot_jobs(void **state)
{
	one_snapshot(*state, "2");
}

/*
 * prefill: both targets get the source's tables as they are now (the "old"
 * contents), then the source changes; the old checksums into old[].
 */
static void
prefill(world *w, char **old)
{
	it_run r = copy_cli(w, "--quiet");

	it_expect_status(&r, 0);
	it_run_free(&r);
	checksums(w->dst[1], old);
	it_exec(w->src, "INSERT INTO shop.customers (name) VALUES ('new'); "
	                "UPDATE shop.order_items SET qty = 5000 WHERE order_id = 1500 AND line = 2; "
	                "UPDATE \"Mixed\".\"a.b\" SET n = n + 1");
}

/*
 * test_fault_one_target_continue: a row of one table that target 2 rejects
 * (a CHECK of its own): target 2 keeps its old contents in every table
 * (--truncate included), target 1 commits every table; exit 3; the report
 * says which table faulted, which were rolled back and which never loaded.
 */
static void
fault_one_target_continue(world *w, const char *jobs)
{
	char *old[NTABLES], *want[NTABLES];
	it_run r;

	prefill(w, old);
	it_exec(w->dst[1], "ALTER TABLE shop.order_items ADD CONSTRAINT small_qty CHECK (qty < 1000)");
	r = copy_cli(w, "--truncate", "--json", "--jobs", jobs);
	it_expect_status(&r, 3);
	checksums(w->src, want);
	expect_sums(w->dst[0], want, "target 1");
	expect_sums(w->dst[1], old, "target 2");
	expect_audit_untouched(w);
	says(&r, "\"status\": \"faulted\", \"rows\": 0");
	says(&r, "{\"table\": \"shop.order_items\", \"status\": \"faulted\", \"rows\": 0,");
	says(&r, "{\"table\": \"shop.orders\", \"status\": \"rolled back\", \"rows\": 0,");
	if (strcmp(jobs, "1") == 0)
		says(&r, "{\"table\": \"shop.shipments\", \"status\": \"not loaded\", \"rows\": 0,");
	says(&r, "small_qty");
	no_prepared(w);
	free_sums(old);
	free_sums(want);
	it_run_free(&r);
}

static void
test_fault_one_target_continue(void **state)
{
	fault_one_target_continue(*state, "1");
}

/*
 * test_fault_one_target_continue_jobs: the same over two sessions: target
 * 2's other session, which loaded other tables without a fault, is rolled
 * back with the one that faulted (their tables keep their old rows too).
 */
static void
test_fault_one_target_continue_jobs(void **state)
{
	fault_one_target_continue(*state, "2");
}

/*
 * test_fault_one_target_abort: the same rejected row under --on-fault
 * abort: no target commits anything (both keep their old contents), no
 * prepared transaction is left; exit 1.
 */
static void
fault_one_target_abort(world *w, const char *jobs)
{
	char *old[NTABLES];
	it_run r;

	prefill(w, old);
	it_exec(w->dst[1], "ALTER TABLE shop.order_items ADD CONSTRAINT small_qty CHECK (qty < 1000)");
	r = copy_cli(w, "--truncate", "--on-fault", "abort", "--json", "--jobs", jobs);
	it_expect_status(&r, 1);
	expect_sums(w->dst[0], old, "target 1");
	expect_sums(w->dst[1], old, "target 2");
	says(&r, "\"aborted\": true");
	assert_null(strstr(r.out, "\"status\": \"ok\""));
	no_prepared(w);
	free_sums(old);
	it_run_free(&r);
}

static void
test_fault_one_target_abort(void **state)
{
	fault_one_target_abort(*state, "1");
}

static void
test_fault_one_target_abort_jobs(void **state)
{
	fault_one_target_abort(*state, "2");
}

/*
 * test_fault_at_commit_abort: a deferred key of the cycle that fails only
 * at the end (target 1 lacks no row, target 2 has a trigger that breaks a
 * staff row's dept after the load): SET CONSTRAINTS ALL IMMEDIATE finds it
 * before any commit; under --on-fault abort neither target commits.
 */
static void
test_fault_at_commit_abort(void **state)
{
	world *w = *state;
	it_run r;

	it_exec(w->dst[1], "CREATE FUNCTION shop.break() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
	                   "IF NEW.id = 400 THEN NEW.dept := 999; END IF; RETURN NEW; END $$; "
	                   "CREATE TRIGGER b BEFORE INSERT ON shop.staff FOR EACH ROW EXECUTE FUNCTION shop.break()");
	r = copy_cli(w, "--on-fault", "abort");
	it_expect_status(&r, 1);
	says(&r, "staff_dept_fkey");
	expect_empty(w->dst[0]);
	expect_empty(w->dst[1]);
	no_prepared(w);
	it_run_free(&r);
}

/*
 * test_fkey_to_unselected_table: orders and order_items selected, their
 * customers not: target 1 lacks the customers, so its load fails (nothing
 * of it stays); target 2 has them and commits both tables; exit 3.
 */
static void
test_fkey_to_unselected_table(void **state)
{
	world *w = *state;
	it_run r;

	it_exec(w->dst[1], "INSERT INTO shop.customers SELECT g, 'x' FROM generate_series(1, 300) g");
	r = it_cli("copy", "--from", w->src_ci, "--to", w->dst_ci[0], "--to", w->dst_ci[1], "-t", "shop.order*",
	           "--json");
	it_expect_status(&r, 3);
	says(&r, "orders_customer_fkey");
	assert_int_equal(it_count(w->dst[0], "shop.orders"), 0);
	assert_int_equal(it_count(w->dst[0], "shop.order_items"), 0);
	assert_int_equal(it_count(w->dst[1], "shop.orders"), 3000);
	assert_int_equal(it_count(w->dst[1], "shop.order_items"), 9000);
	says(&r, "{\"tables\": 2,");
	it_run_free(&r);
}

/*
 * test_truncate_keeps_children: --truncate empties the selected tables
 * only: an inheritance parent is emptied with ONLY, so the rows of its
 * child, not selected, stay on the target.
 */
static void
test_truncate_keeps_children(void **state)
{
	world *w = *state;
	it_run r;

	for (int t = 0; t < 2; t++)
		it_exec(w->dst[t], "INSERT INTO shop.notes VALUES (9000, 'old parent'); "
		                   "INSERT INTO shop.notes_child VALUES (9001, 'old child', 1)");
	r = copy_cli(w, "-T", "shop.notes_child", "--truncate", "--quiet");
	it_expect_status(&r, 0);
	for (int t = 0; t < 2; t++) {
		it_expect_sql(w->dst[t], "SELECT count(*) FROM ONLY shop.notes WHERE id = 9000", "0");
		it_expect_sql(w->dst[t], "SELECT string_agg(id::text, ',') FROM shop.notes_child", "9001");
		assert_int_equal(it_count(w->dst[t], "ONLY shop.notes"), 100);
	}
	it_run_free(&r);
}

/*
 * test_self_reference_one_statement: a self-referencing table larger than
 * --segment-size whose rows reference rows that come later: cut into
 * segments, the first segment's check would fail on the target; it is
 * loaded in one COPY statement and committed.
 */
static void
test_self_reference_one_statement(void **state)
{
	world *w = *state;
	it_run r;

	/* On the source only, the rows are written before the ones they reference. */
	it_exec(w->src, "ALTER TABLE shop.employees DROP CONSTRAINT employees_boss_fkey; "
	                "ALTER TABLE shop.employees ADD COLUMN pad text; "
	                "INSERT INTO shop.employees SELECT g, g + 1, repeat('x', 200) FROM generate_series(1000, 30000) g; "
	                "INSERT INTO shop.employees VALUES (30001, NULL, NULL)");
	for (int t = 0; t < 2; t++)
		it_exec(w->dst[t], "ALTER TABLE shop.employees ADD COLUMN pad text");
	r = it_cli("copy", "--from", w->src_ci, "--to", w->dst_ci[0], "--to", w->dst_ci[1], "-t", "shop.emp*",
	           "--segment-size", "1", "--format", "text");
	it_expect_status(&r, 0);
	for (int t = 0; t < 2; t++)
		assert_int_equal(it_count(w->dst[t], "shop.employees"), 29502);
	it_run_free(&r);
}

/*
 * test_self_reference_single_table: the same in single-table mode (one
 * --table): rows that reference later rows, a stream much larger than
 * --segment-size; the load is one COPY statement and commits.  With --jobs 2
 * it is refused before any data moves, naming the table, the key and the
 * target (a session cannot see the rows another one loads).
 */
static void
test_self_reference_single_table(void **state)
{
	world *w = *state;
	it_run r;

	it_exec(w->src, "CREATE TABLE selfref (id int PRIMARY KEY, boss int, pad text); "
	                "INSERT INTO selfref SELECT g, g + 1, repeat('x', 200) FROM generate_series(1, 30000) g; "
	                "INSERT INTO selfref VALUES (30001, NULL, NULL)");
	for (int t = 0; t < 2; t++)
		it_exec(w->dst[t], "CREATE TABLE selfref (id int PRIMARY KEY, "
		                   "boss int CONSTRAINT selfref_boss REFERENCES selfref, pad text)");
	r = it_cli("copy", "--from", w->src_ci, "--to", w->dst_ci[0], "--to", w->dst_ci[1], "--table", "selfref",
	           "--segment-size", "1", "--format", "text");
	it_expect_status(&r, 0);
	for (int t = 0; t < 2; t++)
		assert_int_equal(it_count(w->dst[t], "selfref"), 30001);
	it_run_free(&r);
	for (int t = 0; t < 2; t++)
		it_exec(w->dst[t], "TRUNCATE selfref");
	r = it_cli("copy", "--from", w->src_ci, "--to", w->dst_ci[0], "--to", w->dst_ci[1], "--table", "selfref",
	           "--jobs", "2");
	it_expect_status(&r, 2);
	if (!strstr(r.err, "target 1 (") || !strstr(r.err, "selfref references itself (foreign key \"selfref_boss\")")
	    || !strstr(r.err, "--jobs 1"))
		fail_msg("want the refusal naming the target, the table and the key: %s", r.err);
	for (int t = 0; t < 2; t++) {
		assert_int_equal(it_count(w->dst[t], "selfref"), 0);
		it_exec(w->dst[t], "DROP TABLE selfref");
	}
	it_exec(w->src, "DROP TABLE selfref");
	it_run_free(&r);
}

/*
 * test_interrupted: SIGINT between two tables (the run stopped there by its
 * test hook): nothing is committed anywhere, --truncate's old rows stay,
 * no prepared transaction is left; exit 1.
 */
static void
test_interrupted(void **state)
{
	world *w = *state;
	char *old[NTABLES];
	it_proc p;
	it_run r;
	int st;

	prefill(w, old);
	setenv("PGCOPYMAN_TEST_STOP_AFTER_TABLE", "3", 1);
	it_cli_bg(&p, "copy", "--from", w->src_ci, "--to", w->dst_ci[0], "--to", w->dst_ci[1], "-n", "shop", "-n",
	          "\"Mixed\"", "-T", "shop.audit", "--truncate", "--jobs", "2", "--json");
	unsetenv("PGCOPYMAN_TEST_STOP_AFTER_TABLE");
	assert_int_equal(waitpid(p.pid, &st, WUNTRACED), p.pid);
	assert_true(WIFSTOPPED(st));
	kill(p.pid, SIGINT);
	kill(p.pid, SIGCONT);
	r = it_cli_wait(&p, NULL);
	it_expect_status(&r, 1);
	says(&r, "interrupted by SIGINT");
	says(&r, "\"aborted\": true");
	expect_sums(w->dst[0], old, "target 1");
	expect_sums(w->dst[1], old, "target 2");
	no_prepared(w);
	free_sums(old);
	it_run_free(&r);
}

/*
 * test_plan_problem_refused: a table a target cannot hold (a column it
 * lacks) refuses the whole run before any data moves, naming the table and
 * the way out; --dry-run --json is one JSON object with every plan.
 */
static void
test_plan_problem_refused(void **state)
{
	world *w = *state;
	it_run r;

	it_exec(w->dst[1], "ALTER TABLE shop.notes_child DROP COLUMN extra");
	r = copy_cli(w, "--quiet");
	it_expect_status(&r, 1);
	says(&r, "shop.notes_child: table shop.notes_child, column extra: target 2");
	says(&r, "nothing was copied: the plans of 1 table found 1 problem");
	says(&r, "leave such a table out (-T)");
	expect_empty(w->dst[0]);
	it_run_free(&r);
	r = copy_cli(w, "--dry-run", "--json");
	it_expect_status(&r, 1);
	says(&r, "{\"dry_run\": true, \"load_order\": [\"\\\"Mixed\\\".\\\"a.b\\\"\", ");
	says(&r, "\"plans\": [\n{\"dry_run\": true, \"ok\": true");
	says(&r, "{\"dry_run\": true, \"ok\": false, \"table\": \"shop.notes_child\"");
	it_run_free(&r);
}

/*
 * test_kill_and_recover: kill -9 of a two-phase run (--jobs 2, --on-fault
 * abort: four prepared transactions) between its PREPAREs, and between its
 * COMMIT PREPAREDs; `pgcopyman recover` then finishes them as the run
 * decided: before the decision every target keeps its old contents in
 * every table, after it every target holds every table of the source.
 */
static void
test_kill_and_recover(void **state)
{
	world *w = *state;
	static const char *const moments[] = {"between-prepares", "between-commits"};
	char *old[NTABLES], *want[NTABLES], dir[] = "/tmp/pgcm-multi-state.XXXXXX";

	assert_non_null(mkdtemp(dir));
	prefill(w, old);
	checksums(w->src, want);
	for (size_t m = 0; m < 2; m++) {
		it_run r;
		setenv("PGCOPYMAN_TEST_KILL_AT", moments[m], 1);
		r = copy_cli(w, "--truncate", "--jobs", "2", "--on-fault", "abort", "--state-dir", dir, "--quiet");
		unsetenv("PGCOPYMAN_TEST_KILL_AT");
		it_expect_status(&r, 128 + SIGKILL);
		it_run_free(&r);
		{
			/* Killed with transactions prepared: 1 (target 1's first) or 3 (all but the committed one). */
			char *a = it_scalar(w->dst[0], "SELECT count(*) FROM pg_prepared_xacts WHERE database = current_database()");
			char *b = it_scalar(w->dst[1], "SELECT count(*) FROM pg_prepared_xacts WHERE database = current_database()");
			assert_int_equal(atoi(a) + atoi(b), m == 0 ? 1 : 3);
			free(a);
			free(b);
		}
		r = it_cli("recover", "--state-dir", dir);
		it_expect_status(&r, 0);
		says(&r, m == 0 ? "rolled back pgcopyman:" : "committed pgcopyman:");
		it_run_free(&r);
		no_prepared(w);
		expect_sums(w->dst[0], m == 0 ? old : want, "target 1");
		expect_sums(w->dst[1], m == 0 ? old : want, "target 2");
	}
	it_system("rm -rf %s", dir);
	free_sums(old);
	free_sums(want);
}

/*
 * test_progress_and_summary: --progress prints the tables done of the
 * total and the current one; the human summary a line per target and table.
 */
static void
test_progress_and_summary(void **state)
{
	world *w = *state;
	it_run r = copy_cli(w, "--progress", "--no-sequences");

	it_expect_status(&r, 0);
	says(&r, "pgcopyman: tables 0/12 \"Mixed\".\"a.b\"");
	says(&r, "pgcopyman: tables 11/12 shop.shipments");
	says(&r, "pgcopyman: tables 12/12\n");
	says(&r, " 12 tables): 2 of 2 targets loaded");
	says(&r, "target 2 (");
	says(&r, "9000 rows");
	/* --no-sequences: the target's sequences stay where they were. */
	it_expect_sql(w->dst[0], "SELECT nextval('shop.customers_id_seq')", "1");
	it_run_free(&r);
}

/*
 * test_usage: what a selection of many tables refuses (before connecting),
 * and that one plain --table stays the single-table copy of before.
 */
static void
test_usage(void **state)
{
	world *w = *state;
	it_run r = copy_cli(w, "--jobs", "2", "--split-key", "id");

	it_expect_status(&r, 2);
	says(&r, "--split-key splits one table");
	it_run_free(&r);
	r = copy_cli(w, "--target-table", "x");
	it_expect_status(&r, 2);
	says(&r, "do not go with a selection of many tables");
	it_run_free(&r);
	r = it_cli("copy", "--from", w->src_ci, "--to", "file:/tmp/x", "-n", "shop");
	it_expect_status(&r, 2);
	says(&r, "from a server to servers only");
	it_run_free(&r);
	r = copy_cli(w, "--truncate", "--defer-foreign-keys");
	it_expect_status(&r, 2);
	says(&r, "--defer-foreign-keys and --maintenance-work-mem apply to one --table");
	it_run_free(&r);
	r = it_cli("copy", "--from", w->src_ci, "--to", w->dst_ci[0], "--to", w->dst_ci[0], "-n", "shop");
	it_expect_status(&r, 2);
	expect_empty(w->dst[0]);
	it_run_free(&r);
	r = it_cli("copy", "--from", w->src_ci, "--to", w->dst_ci[0], "-t", "nosuch");
	it_expect_status(&r, 1);
	it_run_free(&r);
	r = it_cli("copy", "--from", w->src_ci, "--to", w->dst_ci[0], "-t", "no.such*");
	it_expect_status(&r, 1);
	says(&r, "selecting the tables");
	it_run_free(&r);
	/* One plain --table: the single-table copy, its JSON as before (no "tables"). */
	r = it_cli("copy", "--from", w->src_ci, "--to", w->dst_ci[0], "--table", "shop.customers", "--json");
	it_expect_status(&r, 0);
	says(&r, "{\"rows\": 300,");
	assert_null(strstr(r.out, "\"tables\""));
	it_run_free(&r);
}

IT_GROUP(multi)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_copy_all),
		cmocka_unit_test(test_copy_all_jobs),
		cmocka_unit_test(test_dry_run_order),
		cmocka_unit_test(test_dry_run_jobs_sessions),
		cmocka_unit_test(test_cycle_not_deferrable_refused),
		cmocka_unit_test(test_one_snapshot),
		cmocka_unit_test(test_one_snapshot_jobs),
		cmocka_unit_test(test_fault_one_target_continue),
		cmocka_unit_test(test_fault_one_target_continue_jobs),
		cmocka_unit_test(test_fault_one_target_abort),
		cmocka_unit_test(test_fault_one_target_abort_jobs),
		cmocka_unit_test(test_fault_at_commit_abort),
		cmocka_unit_test(test_fkey_to_unselected_table),
		cmocka_unit_test(test_truncate_keeps_children),
		cmocka_unit_test(test_self_reference_one_statement),
		cmocka_unit_test(test_self_reference_single_table),
		cmocka_unit_test(test_interrupted),
		cmocka_unit_test(test_plan_problem_refused),
		cmocka_unit_test(test_kill_and_recover),
		cmocka_unit_test(test_progress_and_summary),
		cmocka_unit_test(test_usage),
	};
	return it_add_group("multi", tests, setup, teardown);
}
