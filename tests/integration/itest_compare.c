/*
 * itest_compare.c: `pgcopyman compare` and its table selection, on real
 * servers.  A schema of several tables (mixed-case, dotted and unicode
 * names, a composite key, a unique index instead of a primary key, a table
 * without a key holding duplicate rows, a partitioned table with a
 * partition in another schema, an inheritance tree, a table whose columns
 * the copy converts) is copied to two targets with `pgcopyman copy`; then
 * `compare` must say "same" for all, and locate a changed, a missing and an
 * extra row on one target (the first differing key printed) while the other
 * stays "same".  The selection patterns must pick exactly the tables
 * pg_dump picks for the same patterns (its --schema-only output), and the
 * strict names, exclusions and the snapshot behave as documented.
 *
 * Clusters: 1 is the source; 2 and 3 are targets.  Database "cmp"; the
 * source's TimeZone is UTC, the targets' America/New_York.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util.h"
#include "pgcopyman.h"

#define DB "cmp"
#define ORDERS 50000        /* enough rows for two levels of ranges above the last one */
#define SENTINEL "Pw4CompareSentinel"

typedef struct world {
	PGconn *src, *dst[2];
	char *src_ci, *dst_ci[2];
} world;

/* The schema on every server; %s: the conversion table's target-side column types, or the source's. */
static const char schema_sql[] =
	"CREATE SCHEMA shop; CREATE SCHEMA \"Mixed\"; CREATE SCHEMA other; "
	"CREATE TABLE shop.orders (id bigint PRIMARY KEY, customer int NOT NULL, amount numeric(12,2), note text, "
	" created timestamptz); "
	"CREATE TABLE shop.\"Order Items\" (order_id bigint, line int, sku text, qty int, PRIMARY KEY (order_id, line)); "
	"CREATE TABLE shop.items (id int, label text); "
	"CREATE TABLE \"Mixed\".\"Tbl\" (id int PRIMARY KEY, \"Value\" text); "
	"CREATE TABLE \"Mixed\".\"a.b\" (code text NOT NULL, n int); "
	"CREATE UNIQUE INDEX ab_code ON \"Mixed\".\"a.b\" (code); "
	"CREATE TABLE public.\"\xc3\x9cn\xc3\x8f\" (k text PRIMARY KEY, v int); "
	"CREATE TABLE public.nokey (a int, b text); "
	"CREATE TABLE public.orders (id int PRIMARY KEY); CREATE TABLE other.orders (id int PRIMARY KEY); "
	"CREATE TABLE shop.part (k int NOT NULL, id int NOT NULL, v text, PRIMARY KEY (k, id)) PARTITION BY RANGE (k); "
	"CREATE TABLE shop.part_1 PARTITION OF shop.part FOR VALUES FROM (0) TO (10); "
	"CREATE TABLE other.part_2 PARTITION OF shop.part FOR VALUES FROM (10) TO (20); "
	"CREATE TABLE shop.inh_parent (id int PRIMARY KEY, v text); "
	"CREATE TABLE shop.inh_child (extra int) INHERITS (shop.inh_parent); "
	"CREATE VIEW shop.v AS SELECT id FROM shop.orders; CREATE SEQUENCE shop.seq; "
	"CREATE MATERIALIZED VIEW shop.mv AS SELECT 1 AS one; "
	"CREATE TABLE shop.ext_t (id int); ALTER EXTENSION plpgsql ADD TABLE shop.ext_t; "
	"CREATE TABLE public.conv (%s)";
/* The conversion table: numeric to float8, to a smaller scale, timestamp to timestamptz, varchar(10) to (5). */
static const char conv_source[] =
	"id int PRIMARY KEY, amount numeric(14,4), price numeric(10,3), at timestamp, code varchar(10), "
	"seen timestamptz";
static const char conv_target[] =
	"id bigint PRIMARY KEY, amount float8, price numeric(10,1), at timestamptz, code varchar(5), "
	"seen timestamptz";

/* The source's rows. */
static const char data_sql[] =
	"INSERT INTO shop.orders SELECT g, g %% 97, g * 1.25, CASE WHEN g %% 5 = 0 THEN NULL "
	" ELSE 'note ' || g || E' \\t\\u00e9' END, timestamptz '2024-01-01 00:00+00' + g * interval '1 minute' "
	" FROM generate_series(1, %d) g; "
	"INSERT INTO shop.\"Order Items\" SELECT o, l, 'sku-' || o || '-' || l, l FROM generate_series(1, 1000) o, "
	" generate_series(1, 3) l; "
	"INSERT INTO shop.items SELECT g, 'item ' || g FROM generate_series(1, 50) g; "
	"INSERT INTO \"Mixed\".\"Tbl\" SELECT g, 'V' || g FROM generate_series(1, 500) g; "
	"INSERT INTO \"Mixed\".\"a.b\" SELECT CASE WHEN g %% 2 = 0 THEN 'Code-' ELSE E'\\u00fcber-' END || g, g "
	" FROM generate_series(1, 400) g; "
	"INSERT INTO public.\"\xc3\x9cn\xc3\x8f\" SELECT E'\\u65e5\\u672c-' || g, g FROM generate_series(1, 1000) g; "
	"INSERT INTO public.nokey SELECT g %% 700, 'dup ' || (g %% 700) FROM generate_series(1, 1400) g; "
	"INSERT INTO public.orders SELECT generate_series(1, 10); "
	"INSERT INTO other.orders SELECT generate_series(1, 10); "
	"INSERT INTO shop.part SELECT g %% 20, g, 'p' || g FROM generate_series(1, 1000) g; "
	"INSERT INTO shop.inh_parent SELECT g, 'parent' FROM generate_series(1, 100) g; "
	"INSERT INTO shop.inh_child SELECT g, 'child', g FROM generate_series(101, 150) g; "
	"INSERT INTO public.conv SELECT g, g / 7.0, g / 3.0, timestamp '2024-03-10 01:30' + g * interval '17 minutes', "
	" 'c' || g, timestamptz '2024-03-10 06:00+00' + g * interval '1 hour' FROM generate_series(1, 2000) g";

/* Every table the copy and the comparison cover (the extension's is never selected). */
static const char *const tables[] = {
	"shop.orders", "shop.\"Order Items\"", "shop.items", "\"Mixed\".\"Tbl\"", "\"Mixed\".\"a.b\"",
	"public.\"\xc3\x9cn\xc3\x8f\"", "public.nokey", "public.orders", "other.orders", "shop.part",
	"shop.inh_parent", "shop.inh_child", "public.conv",
};
#define NTABLES (sizeof tables / sizeof tables[0])

/* copy_table: pgcopyman copy of one table to both targets, replacing what they hold. */
static void
copy_table(world *w, const char *table)
{
	it_run r = it_cli("copy", "--from", w->src_ci, "--to", w->dst_ci[0], "--to", w->dst_ci[1], "--table", table,
	                  "--truncate", "--quiet");

	it_expect_status(&r, 0);
	it_run_free(&r);
}

static int
setup(void **state)
{
	world *w = calloc(1, sizeof *w);
	PGconn *admin;

	assert_non_null(w);
	for (int i = 1; i <= 3; i++) {
		it_create_database(i, DB);
		admin = it_connect(i);
		it_exec(admin, "ALTER DATABASE " DB " SET TimeZone = '%s'", i == 1 ? "UTC" : "America/New_York");
		PQfinish(admin);
	}
	w->src = it_connect_db(1, DB);
	w->src_ci = it_conninfo_db(1, DB);
	it_exec(w->src, schema_sql, conv_source);
	it_exec(w->src, data_sql, ORDERS);
	it_exec(w->src, "ANALYZE");
	for (int t = 0; t < 2; t++) {
		w->dst[t] = it_connect_db(t + 2, DB);
		w->dst_ci[t] = it_conninfo_db(t + 2, DB);
		it_exec(w->dst[t], schema_sql, conv_target);
	}
	for (size_t i = 0; i < NTABLES; i++)
		copy_table(w, tables[i]);
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

/* compare_cli: pgcopyman compare from the source to both targets, plus the given arguments. */
#define compare_cli(w, ...) \
	it_cli("compare", "--from", (w)->src_ci, "--to", (w)->dst_ci[0], "--to", (w)->dst_ci[1], __VA_ARGS__)

/* says: stdout or stderr holds text. */
static void
says(const it_run *r, const char *text)
{
	if (strstr(r->out, text) || strstr(r->err, text))
		return;
	fail_msg("the command does not say \"%s\"\nstdout: %.4000s\nstderr: %.2000s", text, r->out, r->err);
}

/* never_says: neither stdout nor stderr holds text. */
static void
never_says(const it_run *r, const char *text)
{
	if (strstr(r->out, text) || strstr(r->err, text))
		fail_msg("the command says \"%s\"\nstdout: %.4000s\nstderr: %.2000s", text, r->out, r->err);
}

/* Right after the copy, every table is the same on both targets; the JSON says so too. */
static void
test_same_after_copy(void **state)
{
	world *w = *state;
	char line[128];
	it_run r = compare_cli(w, "--quiet");

	it_expect_status(&r, 0);
	assert_string_equal(r.out, "");   /* --quiet: only what is not the same */
	it_run_free(&r);

	r = it_cli("compare", "--from", w->src_ci, "--to", w->dst_ci[0], "--to", w->dst_ci[1]);
	it_expect_status(&r, 0);
	for (size_t i = 0; i < NTABLES; i++)
		for (int t = 1; t <= 2; t++) {
			snprintf(line, sizeof line, "%s, target %d: same (", tables[i], t);
			says(&r, line);
		}
	says(&r, "shop.orders, target 1: same (50000 rows)");
	says(&r, "public.nokey, target 2: same (1400 rows) (no unique key: whole rows compared)");
	says(&r, "shop.part, target 1: same (1000 rows) (a partitioned table: all its partitions)\n");
	/* The conversions the copy did are what the targets hold: numeric to float8, rounding, zones. */
	says(&r, "public.conv, target 2: same (2000 rows)");
	says(&r, "compare: 13 tables on 2 targets: 26 same, 0 differ, 0 could not be compared");
	never_says(&r, "shop.ext_t");
	never_says(&r, "part_1");
	it_run_free(&r);

	r = compare_cli(w, "--json", "-t", "shop.orders", "-t", "shop.part");
	it_expect_status(&r, 0);
	says(&r, "{\"same\": true, \"snapshot\": \"");
	says(&r, "{\"table\": \"shop.orders\", \"key\": \"primary key orders_pkey (id)\", \"partitions\": [], "
	         "\"targets\": [{\"target\": 1, \"status\": \"same\", \"source_rows\": 50000, \"target_rows\": 50000, "
	         "\"difference\": null, \"message\": \"same (50000 rows)\"");
	says(&r, "{\"table\": \"shop.part\", \"key\": \"primary key part_pkey (k, id)\", \"partitions\": [], ");
	says(&r, "\"summary\": {\"tables\": 2, \"same\": 4, \"differs\": 0, \"errors\": 0}");
	it_run_free(&r);
}

/* expect_difference: compare one table: target 1 same, target 2 differs, its line holding want. */
static void
expect_difference(world *w, const char *table, const char *want)
{
	char line[512];
	const char *at;
	it_run r = compare_cli(w, "-t", table);

	it_expect_status(&r, 1);
	snprintf(line, sizeof line, "%s, target 1: same (", table);
	says(&r, line);
	snprintf(line, sizeof line, "%s, target 2: differs: ", table);
	says(&r, line);
	at = strstr(r.out, line);
	if (!at || !strstr(at, want) || strchr(at, '\n') < strstr(at, want))
		fail_msg("target 2's line does not say \"%s\":\n%s", want, r.out);
	says(&r, "compare: 1 table on 2 targets: 1 same, 1 differs");
	it_run_free(&r);
}

/* A changed row: located after two levels of ranges, with the column that differs. */
static void
test_changed_row_located(void **state)
{
	world *w = *state;
	it_run r;

	it_exec(w->dst[1], "UPDATE shop.orders SET amount = amount + 0.01 WHERE id = 31337");
	expect_difference(w, "shop.orders", "50000 rows on both, the checksums differ; first difference at id=31337: "
	                                    "changed (amount)");
	/* Two changes: the first in key order is the one reported; NULL against a value counts. */
	it_exec(w->dst[1], "UPDATE shop.orders SET note = NULL, customer = -1 WHERE id = 4242");
	r = compare_cli(w, "-t", "shop.orders", "--json");
	it_expect_status(&r, 1);
	says(&r, "\"difference\": {\"kind\": \"changed\", \"key\": \"id=4242\", \"columns\": \"customer, note\"}");
	says(&r, "\"summary\": {\"tables\": 1, \"same\": 1, \"differs\": 1, \"errors\": 0}");
	it_run_free(&r);
	copy_table(w, "shop.orders");
}

/* A missing row and an extra row, each located; the counts say which side has more. */
static void
test_missing_and_extra_rows_located(void **state)
{
	world *w = *state;

	it_exec(w->dst[1], "DELETE FROM shop.orders WHERE id = 49999");
	expect_difference(w, "shop.orders", "50000 rows on the source, 49999 on the target; first difference at "
	                                    "id=49999: missing on the target");
	/* One missing, one extra: the counts agree, the first in key order is reported. */
	it_exec(w->dst[1], "INSERT INTO shop.orders VALUES (12345678, 1, 1, 'new', now())");
	expect_difference(w, "shop.orders", "50000 rows on both, the checksums differ; first difference at "
	                                    "id=49999: missing on the target");
	copy_table(w, "shop.orders");
	it_exec(w->dst[1], "INSERT INTO shop.orders VALUES (0, 1, 1, 'before all', now())");
	expect_difference(w, "shop.orders", "50000 rows on the source, 50001 on the target; first difference at "
	                                    "id=0: extra on the target");
	copy_table(w, "shop.orders");
}

/* Composite, text (unicode, byte order), unique-index and converted keys; whole rows without a key. */
static void
test_keys_of_every_kind(void **state)
{
	world *w = *state;

	it_exec(w->dst[1], "UPDATE shop.\"Order Items\" SET qty = 0 WHERE order_id = 700 AND line = 2");
	expect_difference(w, "shop.\"Order Items\"", "3000 rows on both, the checksums differ; first difference at "
	                                             "(order_id, line)=(700,2): changed (qty)");
	copy_table(w, "shop.\"Order Items\"");

	it_exec(w->dst[1], "DELETE FROM public.\"\xc3\x9cn\xc3\x8f\" WHERE k = E'\\u65e5\\u672c-512'");
	expect_difference(w, "public.\"\xc3\x9cn\xc3\x8f\"", "1000 rows on the source, 999 on the target; first "
	                                                     "difference at k=\xe6\x97\xa5\xe6\x9c\xac-512: missing");
	copy_table(w, "public.\"\xc3\x9cn\xc3\x8f\"");

	/* The unique index serves as the key; "Code-..." sorts before "über-..." in byte order. */
	it_exec(w->dst[1], "UPDATE \"Mixed\".\"a.b\" SET n = -n WHERE code IN ('Code-398', E'\\u00fcber-3')");
	expect_difference(w, "\"Mixed\".\"a.b\"", "400 rows on both, the checksums differ; first difference at "
	                                          "code=Code-398: changed (n)");
	copy_table(w, "\"Mixed\".\"a.b\"");

	/* A key the copy converts (int to bigint) is compared as text; the message is the same. */
	it_exec(w->dst[1], "DELETE FROM public.conv WHERE id = 1500");
	expect_difference(w, "public.conv", "2000 rows on the source, 1999 on the target; first difference at "
	                                    "id=1500: missing on the target");
	copy_table(w, "public.conv");

	/* No key: whole rows, duplicates counted. */
	it_exec(w->dst[1], "DELETE FROM public.nokey WHERE ctid = (SELECT min(ctid) FROM public.nokey WHERE a = 333)");
	expect_difference(w, "public.nokey", "1400 rows on the source, 1399 on the target; first difference at row "
	                                     "(333,\"dup 333\"): 2 copies of this row on the source, 1 on the target");
	copy_table(w, "public.nokey");

	/* A partition's row, through the partitioned table; an inheritance parent's own rows only. */
	it_exec(w->dst[1], "UPDATE other.part_2 SET v = 'changed' WHERE id = 515");
	expect_difference(w, "shop.part", "1000 rows on both, the checksums differ; first difference at "
	                                  "(k, id)=(15,515): changed (v)");
	copy_table(w, "shop.part");
	it_exec(w->dst[1], "DELETE FROM shop.inh_child WHERE id = 150");
	/* The child has no key of its own (a primary key is not inherited): whole rows. */
	expect_difference(w, "shop.inh_child", "50 rows on the source, 49 on the target; first difference at "
	                                       "row (150,child,150): missing on the target (no unique key: whole "
	                                       "rows compared)");
	{
		it_run r = compare_cli(w, "-t", "shop.inh_parent");
		it_expect_status(&r, 0);   /* the parent's own rows are untouched */
		says(&r, "shop.inh_parent, target 2: same (100 rows)");
		it_run_free(&r);
	}
	copy_table(w, "shop.inh_child");
}

/*
 * "The same" is as the target stores the copy's conversions: a float8 that
 * is not the nearest to the numeric, a rounding that is not the target's,
 * a zone shifted by an hour, and a value too long for varchar(5) that an
 * explicit cast would cut to what the target holds: each differs.
 */
static void
test_conversions_compared_as_stored(void **state)
{
	world *w = *state;

	it_exec(w->dst[1], "UPDATE public.conv SET amount = amount + 1e-12 WHERE id = 100");
	expect_difference(w, "public.conv", "2000 rows on both, the checksums differ; first difference at id=100: "
	                                    "changed (amount)");
	copy_table(w, "public.conv");
	it_exec(w->dst[1], "UPDATE public.conv SET price = price + 0.1 WHERE id = 101");
	expect_difference(w, "public.conv", "first difference at id=101: changed (price)");
	copy_table(w, "public.conv");
	it_exec(w->dst[1], "UPDATE public.conv SET at = at + interval '1 hour' WHERE id = 102");
	expect_difference(w, "public.conv", "first difference at id=102: changed (at)");
	copy_table(w, "public.conv");
	it_exec(w->dst[1], "UPDATE public.conv SET seen = seen + interval '1 second' WHERE id = 103");
	expect_difference(w, "public.conv", "first difference at id=103: changed (seen)");
	copy_table(w, "public.conv");

	/* The source's value does not fit varchar(5): never the same as its first 5 characters. */
	it_exec(w->src, "UPDATE public.conv SET code = 'abcdefgh' WHERE id = 104");
	it_exec(w->dst[0], "UPDATE public.conv SET code = 'abcde' WHERE id = 104");
	it_exec(w->dst[1], "UPDATE public.conv SET code = 'abcde' WHERE id = 104");
	{
		it_run r = compare_cli(w, "-t", "public.conv");
		it_expect_status(&r, 1);
		says(&r, "public.conv, target 1: differs: 2000 rows on both, the checksums differ; first difference at "
		         "id=104: changed (code (whether it fits character varying(5)))");
		it_run_free(&r);
	}
	it_exec(w->src, "UPDATE public.conv SET code = 'c104' WHERE id = 104");
	copy_table(w, "public.conv");
}

/* A table the target lacks differs; so does one whose column it lacks. */
static void
test_table_missing_on_target(void **state)
{
	world *w = *state;
	it_run r;

	it_exec(w->src, "CREATE TABLE shop.only_here (id int PRIMARY KEY); INSERT INTO shop.only_here VALUES (1)");
	it_exec(w->dst[0], "CREATE TABLE shop.only_here (id int PRIMARY KEY, gone int); "
	                   "ALTER TABLE shop.only_here DROP COLUMN gone; INSERT INTO shop.only_here VALUES (1)");
	r = compare_cli(w, "-t", "shop.only_here", "--json");
	it_expect_status(&r, 1);
	says(&r, "{\"target\": 1, \"status\": \"same\"");
	says(&r, "{\"target\": 2, \"status\": \"differs\", \"source_rows\": null, \"target_rows\": null, "
	         "\"difference\": {\"kind\": \"table\", \"key\": null, \"columns\": null}, "
	         "\"message\": \"the target has no table shop.only_here\"");
	it_run_free(&r);
	/* A column the targets lack: each differs, and the plan's message names it by its own number. */
	it_exec(w->src, "ALTER TABLE shop.only_here ADD COLUMN extra text");
	it_exec(w->dst[1], "CREATE TABLE shop.only_here (id int PRIMARY KEY)");
	r = compare_cli(w, "-t", "shop.only_here");
	it_expect_status(&r, 1);
	says(&r, "shop.only_here, target 1: differs: table shop.only_here, column extra: target 1 (shop.only_here) "
	         "has no such column");
	says(&r, "shop.only_here, target 2: differs: table shop.only_here, column extra: target 2 (shop.only_here) "
	         "has no such column");
	it_run_free(&r);
	it_exec(w->src, "DROP TABLE shop.only_here");
	for (int t = 0; t < 2; t++)
		it_exec(w->dst[t], "DROP TABLE shop.only_here");
}

/* Columns only the target has (a default, a generated one) are not compared: a copy leaves them to it. */
static void
test_target_only_columns_not_compared(void **state)
{
	world *w = *state;
	it_run r;

	it_exec(w->src, "CREATE TABLE shop.wide (id int PRIMARY KEY, a int); "
	                "INSERT INTO shop.wide SELECT g, g FROM generate_series(1, 300) g");
	for (int t = 0; t < 2; t++)
		it_exec(w->dst[t], "CREATE TABLE shop.wide (id int PRIMARY KEY, a int, extra text DEFAULT 'x', "
		                   "g int GENERATED ALWAYS AS (a * 2) STORED)");
	copy_table(w, "shop.wide");
	it_exec(w->dst[1], "UPDATE shop.wide SET extra = 'changed' WHERE id = 7");
	r = compare_cli(w, "-t", "shop.wide");
	it_expect_status(&r, 0);
	says(&r, "shop.wide, target 2: same (300 rows)");
	it_run_free(&r);
	it_exec(w->dst[1], "UPDATE shop.wide SET a = 0 WHERE id = 7");
	expect_difference(w, "shop.wide", "first difference at id=7: changed (a)");
	it_exec(w->src, "DROP TABLE shop.wide");
	for (int t = 0; t < 2; t++)
		it_exec(w->dst[t], "DROP TABLE shop.wide");
}

/* A target without the source's key constraint: rows whose key is NULL, and a key held twice. */
static void
test_target_key_null_and_repeated(void **state)
{
	world *w = *state;

	it_exec(w->src, "CREATE TABLE shop.loose (id int PRIMARY KEY, v text); "
	                "INSERT INTO shop.loose SELECT g, 'v' || g FROM generate_series(1, 1000) g");
	for (int t = 0; t < 2; t++)
		it_exec(w->dst[t], "CREATE TABLE shop.loose (id int, v text)");
	copy_table(w, "shop.loose");
	it_exec(w->dst[1], "UPDATE shop.loose SET id = NULL WHERE id = 999");
	expect_difference(w, "shop.loose", "1000 rows on both, the checksums differ; the target has 1 row whose key "
	                                   "id is NULL");
	it_exec(w->dst[1], "UPDATE shop.loose SET id = 998 WHERE id IS NULL");
	expect_difference(w, "shop.loose", "first difference at id=998: 1 row with this key on the source, 2 on the "
	                                   "target");
	it_exec(w->src, "DROP TABLE shop.loose");
	for (int t = 0; t < 2; t++)
		it_exec(w->dst[t], "DROP TABLE shop.loose");
}

/*
 * A target database in another encoding (LATIN1): the servers' text is
 * hashed as UTF-8 (md5), and the key is compared as the bytes of its UTF-8
 * text; the answers are the same.
 */
static void
test_other_encoding(void **state)
{
	world *w = *state;
	PGconn *admin = it_connect(3), *lat;
	char *lat_ci = it_conninfo_db(3, "cmp_latin1");
	it_run r;

	it_exec(admin, "DROP DATABASE IF EXISTS cmp_latin1");
	it_exec(admin, "CREATE DATABASE cmp_latin1 ENCODING 'LATIN1' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0");
	PQfinish(admin);
	lat = it_connect_db(3, "cmp_latin1");
	it_exec(lat, "SET client_encoding = 'UTF8'; CREATE TABLE public.lat (k text PRIMARY KEY, v numeric)");
	it_exec(w->src, "CREATE TABLE public.lat (k text PRIMARY KEY, v numeric); "
	                "INSERT INTO public.lat SELECT E'\\u00e9t\\u00e9-' || g, g / 8.0 "
	                "FROM generate_series(1, 3000) g");
	r = it_cli("copy", "--from", w->src_ci, "--to", lat_ci, "--table", "public.lat", "--quiet");
	it_expect_status(&r, 0);
	it_run_free(&r);
	r = it_cli("compare", "--from", w->src_ci, "--to", lat_ci, "-t", "lat");
	it_expect_status(&r, 0);
	says(&r, "public.lat, target 1: same (3000 rows)");
	it_run_free(&r);
	it_exec(lat, "SET client_encoding = 'UTF8'; UPDATE public.lat SET v = 0 WHERE k = E'\\u00e9t\\u00e9-2345'");
	r = it_cli("compare", "--from", w->src_ci, "--to", lat_ci, "-t", "lat");
	it_expect_status(&r, 1);
	says(&r, "public.lat, target 1: differs: 3000 rows on both, the checksums differ; first difference at "
	         "k=\xc3\xa9t\xc3\xa9-2345: changed (v)");
	it_run_free(&r);
	it_exec(w->src, "DROP TABLE public.lat");
	PQfinish(lat);
	free(lat_ci);
}

/*
 * copy --verify: the same after a plain copy; a target whose trigger
 * changes a row loads, but is not the same (exit 5, with and without
 * --jobs); and the comparison reads the source's snapshot of the copy, so
 * a row deleted on the source during the copy does not count.
 */
static void
test_copy_verify(void **state)
{
	world *w = *state;
	const char *table = "\"Mixed\".\"Tbl\"";
	it_proc p;
	it_run r;

	r = it_cli("copy", "--from", w->src_ci, "--to", w->dst_ci[0], "--to", w->dst_ci[1], "--table", table,
	           "--truncate", "--verify");
	it_expect_status(&r, 0);
	says(&r, "verify: target 1 (");
	says(&r, "): same (500 rows)");
	it_run_free(&r);

	it_exec(w->dst[1], "CREATE FUNCTION \"Mixed\".tweak() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
	                   "IF NEW.id = 250 THEN NEW.\"Value\" := 'tweaked'; END IF; RETURN NEW; END $$; "
	                   "CREATE TRIGGER tweak BEFORE INSERT ON \"Mixed\".\"Tbl\" FOR EACH ROW EXECUTE FUNCTION "
	                   "\"Mixed\".tweak()");
	/* --truncate with --jobs refuses a table with a unique index: the test empties the targets itself. */
	for (int jobs = 1; jobs <= 2; jobs++) {
		for (int t = 0; t < 2; t++)
			it_exec(w->dst[t], "TRUNCATE \"Mixed\".\"Tbl\"");
		r = it_cli("copy", "--from", w->src_ci, "--to", w->dst_ci[0], "--to", w->dst_ci[1], "--table", table,
		           "--verify", "--json", "--jobs", jobs == 1 ? "1" : "2");
		it_expect_status(&r, 5);
		says(&r, "\"status\": \"ok\", \"rows\": 500, \"verify\": {\"status\": \"same\", \"message\": "
		         "\"same (500 rows)\"}");
		says(&r, "\"status\": \"ok\", \"rows\": 500, \"verify\": {\"status\": \"differs\", \"message\": "
		         "\"500 rows on both, the checksums differ; first difference at id=250: changed (Value)\"}");
		says(&r, "--verify: 1 target is not the same as the source");
		it_run_free(&r);
	}
	it_exec(w->dst[1], "DROP TRIGGER tweak ON \"Mixed\".\"Tbl\"; "
	                   "CREATE OR REPLACE FUNCTION \"Mixed\".tweak() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
	                   "IF NEW.id = 1 THEN PERFORM pg_sleep(3); END IF; RETURN NEW; END $$; "
	                   "CREATE TRIGGER tweak BEFORE INSERT ON \"Mixed\".\"Tbl\" FOR EACH ROW EXECUTE FUNCTION "
	                   "\"Mixed\".tweak()");
	for (int jobs = 1; jobs <= 2; jobs++) {
		for (int t = 0; t < 2; t++)
			it_exec(w->dst[t], "TRUNCATE \"Mixed\".\"Tbl\"");
		it_cli_bg(&p, "copy", "--from", w->src_ci, "--to", w->dst_ci[0], "--to", w->dst_ci[1], "--table", table,
		          "--verify", "--jobs", jobs == 1 ? "1" : "2");
		sleep(1);   /* the copy has read the source by now; target 2 waits in its trigger for 3 s */
		it_exec(w->src, "DELETE FROM \"Mixed\".\"Tbl\" WHERE id = 400");
		r = it_cli_wait(&p, NULL);
		it_expect_status(&r, 0);
		says(&r, "): same (500 rows)");
		it_run_free(&r);
		r = compare_cli(w, "-t", table);
		it_expect_status(&r, 1);   /* now the source lacks the row the copy read */
		says(&r, "first difference at id=400: extra on the target");
		it_run_free(&r);
		it_exec(w->src, "INSERT INTO \"Mixed\".\"Tbl\" VALUES (400, 'V400')");
	}
	it_exec(w->dst[1], "DROP TRIGGER tweak ON \"Mixed\".\"Tbl\"; DROP FUNCTION \"Mixed\".tweak()");
	copy_table(w, table);

	/* The copy's --target-table and --columns are what is compared: "Value" stays NULL, unseen. */
	for (int t = 0; t < 2; t++)
		it_exec(w->dst[t], "CREATE TABLE shop.tbl_copy (id int, \"Value\" text)");
	r = it_cli("copy", "--from", w->src_ci, "--to", w->dst_ci[0], "--to", w->dst_ci[1], "--table", table,
	           "--target-table", "shop.tbl_copy", "--columns", "id", "--verify", "--json");
	it_expect_status(&r, 0);
	says(&r, "\"verify\": {\"status\": \"same\", \"message\": \"same (500 rows)\"}");
	it_run_free(&r);
	/* Without --truncate the target keeps its rows: the ids repeat, and the verification says so. */
	r = it_cli("copy", "--from", w->src_ci, "--to", w->dst_ci[0], "--table", table, "--target-table",
	           "shop.tbl_copy", "--columns", "id", "--verify", "--json");
	it_expect_status(&r, 5);
	says(&r, "\"verify\": {\"status\": \"differs\", \"message\": \"500 rows on the source, 1000 on the target; "
	         "first difference at id=1: 1 row with this key on the source, 2 on the target\"}");
	it_run_free(&r);
	for (int t = 0; t < 2; t++)
		it_exec(w->dst[t], "DROP TABLE shop.tbl_copy");

	r = it_cli("copy", "--from", w->src_ci, "--to", w->dst_ci[0], "--query", "SELECT 1 AS id", "--target-table",
	           "x", "--verify");
	it_expect_status(&r, 2);
	says(&r, "--verify needs --table and a server as the source");
	it_run_free(&r);
}

/*
 * A partitioned table is compared through its root: a target that keeps the
 * rows in a plain table is the same.
 */
static void
test_partitioned_against_plain(void **state)
{
	world *w = *state;
	it_run r;

	it_exec(w->src, "CREATE TABLE shop.pp (k int, id int, PRIMARY KEY (k, id)) PARTITION BY LIST (k); "
	                "CREATE TABLE shop.pp_a PARTITION OF shop.pp FOR VALUES IN (1); "
	                "CREATE TABLE shop.pp_b PARTITION OF shop.pp FOR VALUES IN (2); "
	                "INSERT INTO shop.pp SELECT 1 + g %% 2, g FROM generate_series(1, 600) g");
	for (int t = 0; t < 2; t++)
		it_exec(w->dst[t], "CREATE TABLE shop.pp (k int, id int, PRIMARY KEY (k, id))");
	copy_table(w, "shop.pp");
	r = compare_cli(w, "-t", "shop.pp*");
	it_expect_status(&r, 0);
	says(&r, "shop.pp, target 2: same (600 rows) (a partitioned table: all its partitions)\n");
	never_says(&r, "pp_a");
	it_run_free(&r);
	it_exec(w->dst[0], "DELETE FROM shop.pp WHERE k = 2 AND id = 301");
	r = compare_cli(w, "-t", "shop.pp", "--quiet");
	it_expect_status(&r, 1);
	/* --quiet: only the line that is not the same. */
	assert_string_equal(r.out, "shop.pp, target 1: differs: 600 rows on the source, 599 on the target; first "
	                           "difference at (k, id)=(2,301): missing on the target (a partitioned table: all "
	                           "its partitions)\n");
	it_run_free(&r);
	it_exec(w->src, "DROP TABLE shop.pp");
	for (int t = 0; t < 2; t++)
		it_exec(w->dst[t], "DROP TABLE shop.pp");
}

/*
 * A connection lost during the comparison: that target's tables could not
 * be compared (their lines say why), the other target's are; nothing was
 * found different, so the exit status is 3, not 0.
 */
static void
test_lost_connection(void **state)
{
	world *w = *state;
	PGconn *locker = it_connect_db(3, DB);
	char *pid = NULL;
	it_proc p;
	it_run r;

	/* The server ends the lock holder after 30 s, should a failing test leave it open. */
	it_exec(locker, "SET idle_in_transaction_session_timeout = '30s'; "
	                "BEGIN; LOCK TABLE other.orders IN ACCESS EXCLUSIVE MODE");
	it_cli_bg(&p, "compare", "--from", w->src_ci, "--to", w->dst_ci[0], "--to", w->dst_ci[1], "-t",
	          "public.orders", "-t", "other.orders");
	for (int i = 0; i < 200 && !(pid && *pid); i++) {
		usleep(50 * 1000);
		free(pid);
		pid = it_scalar(w->dst[1], "SELECT COALESCE((SELECT pid FROM pg_stat_activity WHERE application_name = "
		                           "'pgcopyman' AND wait_event_type = 'Lock' LIMIT 1)::text, '')");
	}
	assert_true(pid && *pid);
	it_exec(w->dst[1], "SELECT pg_terminate_backend(%s)", pid);
	it_exec(locker, "COMMIT");
	r = it_cli_wait(&p, NULL);
	it_expect_status(&r, 3);
	/* Tables go in order: other.orders waited for the lock, then public.orders found no connection. */
	says(&r, "other.orders, target 1: same (10 rows)");
	says(&r, "other.orders, target 2: error: target: terminating connection due to administrator command");
	says(&r, "public.orders, target 1: same (10 rows)");
	says(&r, "public.orders, target 2: error: target: the connection was lost");
	says(&r, "compare: 2 tables on 2 targets: 2 same, 0 differ, 2 could not be compared");
	it_run_free(&r);
	free(pid);
	PQfinish(locker);
}

/*
 * SIGINT during a comparison cancels the servers' queries at once: the
 * table at hand is an error, the rest is not compared, the exit status 3.
 */
static void
test_interrupted(void **state)
{
	world *w = *state;
	PGconn *locker = it_connect_db(3, DB);
	it_run r;

	it_exec(locker, "SET idle_in_transaction_session_timeout = '30s'; "
	                "BEGIN; LOCK TABLE other.orders IN ACCESS EXCLUSIVE MODE");
	r = it_cli_full(NULL, SIGINT, 1500, (const char *const[]){"compare", "--from", w->src_ci, "--to", w->dst_ci[0],
	                "--to", w->dst_ci[1], "-t", "other.orders", "-t", "public.orders", NULL});
	it_exec(locker, "COMMIT");
	it_expect_status(&r, 3);
	says(&r, "other.orders, target 2: error: target: canceling statement due to user request");
	says(&r, "compare interrupted (signal 2): 1 of 2 tables compared");
	never_says(&r, "public.orders");
	if (r.seconds > 20)
		fail_msg("the interrupted comparison took %.1f s", r.seconds);
	it_run_free(&r);
	PQfinish(locker);
}

/*
 * One snapshot: under --snapshot, the source is read as a transaction saw
 * it, whatever was committed since; without, as it is now.
 */
static void
test_snapshot(void **state)
{
	world *w = *state;
	PGconn *holder = it_connect_db(1, DB);
	char *snap;
	it_run r;

	it_exec(holder, "BEGIN ISOLATION LEVEL REPEATABLE READ");
	snap = it_scalar(holder, "SELECT pg_export_snapshot()");
	it_exec(w->src, "DELETE FROM \"Mixed\".\"Tbl\" WHERE id = 250");
	r = compare_cli(w, "-t", "\"Mixed\".\"Tbl\"", "--snapshot", snap);
	it_expect_status(&r, 0);
	says(&r, "\"Mixed\".\"Tbl\", target 2: same (500 rows)");
	it_run_free(&r);
	r = compare_cli(w, "-t", "\"Mixed\".\"Tbl\"");
	it_expect_status(&r, 1);
	says(&r, "\"Mixed\".\"Tbl\", target 1: differs: 499 rows on the source, 500 on the target; first difference "
	         "at id=250: extra on the target");
	it_run_free(&r);
	it_exec(holder, "COMMIT");
	r = compare_cli(w, "-t", "\"Mixed\".\"Tbl\"", "--snapshot", snap);
	it_expect_status(&r, 3);   /* the snapshot is gone with its transaction */
	says(&r, "cannot begin the read under snapshot");
	it_run_free(&r);
	it_exec(w->src, "INSERT INTO \"Mixed\".\"Tbl\" VALUES (250, 'V250')");
	free(snap);
	PQfinish(holder);
}

/* json_string: the JSON string starting at *p (its opening quote) into buf; *p moves past it. */
static void
json_string(const char **p, char *buf, size_t size)
{
	size_t k = 0;
	const char *s = *p + 1;

	for (; *s && *s != '"'; s++) {
		if (*s == '\\')
			s++;
		if (k < size - 1)
			buf[k++] = *s;
	}
	buf[k] = '\0';
	*p = *s ? s + 1 : s;
}

/* list_add: one more name into a sorted-later list. */
typedef struct name_list {
	char *names[256];
	size_t n;
} name_list;

static void
list_add(name_list *l, const char *name)
{
	assert_true(l->n < 256);
	l->names[l->n] = strdup(name);
	assert_non_null(l->names[l->n]);
	l->n++;
}

static int
by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *) a, *(char *const *) b);
}

/* list_text: the names sorted, one a line (malloc'd); the list is emptied. */
static char *
list_text(name_list *l)
{
	size_t len = 1;
	char *out;

	qsort(l->names, l->n, sizeof *l->names, by_name);
	for (size_t i = 0; i < l->n; i++)
		len += strlen(l->names[i]) + 1;
	out = calloc(1, len);
	assert_non_null(out);
	for (size_t i = 0; i < l->n; i++) {
		strcat(out, l->names[i]);
		strcat(out, "\n");
		free(l->names[i]);
	}
	l->n = 0;
	return out;
}

/* compare_tables: the tables compare's JSON names, with the partitions folded into them. */
static char *
compare_tables(const char *json)
{
	name_list l = {.n = 0};
	char buf[256];
	const char *p = json;

	while ((p = strstr(p, "{\"table\": "))) {
		p += 10;
		json_string(&p, buf, sizeof buf);
		list_add(&l, buf);
		p = strstr(p, "\"partitions\": [");
		assert_non_null(p);
		p += 15;
		while (*p == '"' || (*p == ',' && p[1] == ' ' && p[2] == '"')) {
			p += *p == ',' ? 2 : 0;
			json_string(&p, buf, sizeof buf);
			list_add(&l, buf);
		}
	}
	return list_text(&l);
}

/* shell_quote: s in single quotes for sh, into b. */
static void
shell_quote(char *b, size_t size, const char *s)
{
	size_t k = strlen(b);

	b[k++] = '\'';
	for (; *s && k + 5 < size; s++) {
		if (*s == '\'') {
			memcpy(b + k, "'\\''", 4);
			k += 4;
		} else {
			b[k++] = *s;
		}
	}
	b[k++] = '\'';
	b[k] = '\0';
}

/* pg_dump_tables: the tables `pg_dump --schema-only args` creates, or NULL when it fails. */
static char *
pg_dump_tables(world *w, const char *const *args)
{
	const char *bin = getenv("PGCM_TEST_PGBIN");
	char cmd[4096] = "", line[1024];
	name_list l = {.n = 0};
	FILE *f;
	int st;

	snprintf(cmd, sizeof cmd, "%s/pg_dump --schema-only ", bin ? bin : "/usr/lib/postgresql/15/bin");
	for (int i = 0; args[i]; i++) {
		shell_quote(cmd, sizeof cmd, args[i]);
		strcat(cmd, " ");
	}
	shell_quote(cmd, sizeof cmd, w->src_ci);
	strcat(cmd, " 2>/dev/null");
	f = popen(cmd, "r");
	assert_non_null(f);
	while (fgets(line, sizeof line, f)) {
		const char *prefixes[] = {"CREATE TABLE ", "CREATE UNLOGGED TABLE "};
		for (int i = 0; i < 2; i++) {
			size_t n = strlen(prefixes[i]);
			char *end;
			if (strncmp(line, prefixes[i], n) != 0)
				continue;
			if ((end = strstr(line + n, " (")) || (end = strchr(line + n, '\n')))
				*end = '\0';
			list_add(&l, line + n);
		}
	}
	st = pclose(f);
	if (st != 0) {
		char *ignored = list_text(&l);
		free(ignored);
		return NULL;
	}
	return list_text(&l);
}

/* like_pg_dump: the selection args pick exactly the tables pg_dump picks for them. */
static void
like_pg_dump(world *w, const char *const *args)
{
	const char *argv[32] = {"compare", "--from", w->src_ci, "--to", w->src_ci, "--json"};
	char *mine, *theirs = pg_dump_tables(w, args);
	int n = 6;
	it_run r;

	for (int i = 0; args[i]; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	r = it_cli_full(NULL, 0, 0, argv);
	if (r.status != 0)
		fail_msg("selection %s %s ...: exit %d\n%s", args[0] ? args[0] : "(none)", args[0] ? args[1] : "",
		         r.status, r.err);
	mine = compare_tables(r.out);
	if (!theirs || strcmp(mine, theirs) != 0) {
		char shown[512] = "";
		for (int i = 0; args[i]; i++)
			snprintf(shown + strlen(shown), sizeof shown - strlen(shown), " %s", args[i]);
		fail_msg("selection%s: compare picks\n%s\npg_dump picks\n%s", shown[0] ? shown : " (none)", mine,
		         theirs ? theirs : "(pg_dump failed)\n");
	}
	free(mine);
	free(theirs);
	it_run_free(&r);
}

/* Patterns and exclusions pick what pg_dump picks (the command compares the source with itself). */
static void
test_selection_like_pg_dump(void **state)
{
	world *w = *state;
	static const char *const sets[][8] = {
		{NULL},
		{"-t", "shop.*", NULL},
		{"-n", "shop", NULL},
		{"-n", "shop", "-T", "shop.items", "-T", "shop.inh_*", NULL},
		{"-N", "shop", "-N", "other", NULL},
		{"-t", "\"Mixed\".\"a.b\"", NULL},
		{"-n", "\"Mixed\"", "-T", "\"Mixed\".\"a.b\"", NULL},
		{"-t", "*.orders", NULL},
		{"-t", "shop.[oi]*", NULL},
		{"-t", "\xc3\x9cn\xc3\x8f", NULL},
		{"-t", "SHOP.ORDERS", "-t", "Shop.\"Order Items\"", NULL},
		{"-t", "shop.ord?rs", "-t", "Mixed.*", NULL},
		{"-t", DB ".shop.orders", NULL},
		{"-t", "shop.part*", NULL},
		{"-t", "other.part_2", NULL},
		{"-n", "other", NULL},
		{"-t", "shop.orders", "-n", "other", "-N", "shop", NULL},
		{"-t", "orders", "-t", "nokey", NULL},
		{"-n", "publi?", "-n", "sh*", "-N", "s?op", NULL},
	};

	(void) w;
	for (size_t i = 0; i < sizeof sets / sizeof sets[0]; i++)
		like_pg_dump(w, sets[i]);
}

/* expect_refused: a selection refused before anything is compared (exit 2), saying want. */
static void
expect_refused(world *w, const char *const *args, const char *want)
{
	const char *argv[32] = {"compare", "--from", w->src_ci, "--to", w->dst_ci[0]};
	int n = 5;
	it_run r;

	for (int i = 0; args[i]; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	r = it_cli_full(NULL, 0, 0, argv);
	it_expect_status(&r, 2);
	says(&r, want);
	assert_string_equal(r.out, "");
	it_run_free(&r);
}

/*
 * Strict names: a pattern without wildcards that matches no table is an
 * error saying why; wildcards that match nothing are a warning; an empty
 * selection is an error; so are another database, too many dots, and a
 * partition excluded while its partitioned table is selected.
 */
static void
test_strict_names_and_refusals(void **state)
{
	world *w = *state;
	it_run r;

	expect_refused(w, (const char *const[]){"-t", "nosuch", NULL},
	               "no table matches -t \"nosuch\" in the search_path (give its schema");
	expect_refused(w, (const char *const[]){"-t", "shop.nosuch", "-t", "shop.orders", NULL},
	               "no table matches -t \"shop.nosuch\"");
	expect_refused(w, (const char *const[]){"-t", "shop.v", NULL},
	               "-t \"shop.v\" names shop.v, which is a view, not a table: it holds no rows of its own");
	expect_refused(w, (const char *const[]){"-t", "shop.seq", NULL}, "which is a sequence, not a table");
	expect_refused(w, (const char *const[]){"-t", "shop.mv", NULL}, "which is a materialized view");
	expect_refused(w, (const char *const[]){"-t", "pg_catalog.pg_class", NULL},
	               "names pg_catalog.pg_class, which is in a system schema");
	expect_refused(w, (const char *const[]){"-t", "shop.ext_t", NULL},
	               "names shop.ext_t, which is part of an extension: plpgsql");
	expect_refused(w, (const char *const[]){"-n", "Mixed", NULL}, "no schema matches -n \"Mixed\"");
	expect_refused(w, (const char *const[]){"-n", "information_schema", NULL}, "a system schema");
	expect_refused(w, (const char *const[]){"-t", "nosuch*", NULL}, "no table matches the selection");
	expect_refused(w, (const char *const[]){"-t", "elsewhere.shop.orders", NULL},
	               "cross-database references are not implemented: \"elsewhere.shop.orders\" names database "
	               "\"elsewhere\"");
	expect_refused(w, (const char *const[]){"-t", "a.b.c.d", NULL},
	               "improper qualified name (too many dotted names): a.b.c.d");
	expect_refused(w, (const char *const[]){"-t", "\"open", NULL}, "unterminated quoted name");
	expect_refused(w, (const char *const[]){"-n", "shop", "-N", "other", NULL},
	               "partition other.part_2 is excluded, but its rows are read through its partitioned table "
	               "shop.part, which is selected");
	expect_refused(w, (const char *const[]){"-t", "shop.part", "-T", "shop.part_1", NULL},
	               "partition shop.part_1 is excluded");

	r = compare_cli(w, "-t", "nosuch*", "-t", "shop.items");
	it_expect_status(&r, 0);
	says(&r, "pgcopyman: warning: -t \"nosuch*\" matched nothing");
	says(&r, "shop.items, target 2: same (50 rows)");
	it_run_free(&r);
}

/* Another session's temporary table is never selected: not with the others, not by name. */
static void
test_temporary_table_never_selected(void **state)
{
	world *w = *state;
	PGconn *holder = it_connect_db(1, DB);
	char *schema, pattern[128];
	it_run r;

	it_exec(holder, "CREATE TEMPORARY TABLE tmp_here (id int PRIMARY KEY)");
	schema = it_scalar(holder, "SELECT nspname FROM pg_namespace WHERE oid = pg_my_temp_schema()");
	snprintf(pattern, sizeof pattern, "%s.tmp_here", schema);
	expect_refused(w, (const char *const[]){"-t", pattern, NULL}, "which is a temporary table");
	r = it_cli("compare", "--from", w->src_ci, "--to", w->src_ci, "--json");
	it_expect_status(&r, 0);
	never_says(&r, "tmp_here");
	says(&r, "\"summary\": {\"tables\": 13,");
	it_run_free(&r);
	free(schema);
	PQfinish(holder);
}

/* Usage errors exit 2; --help shows the selection options and the exit statuses. */
static void
test_usage(void **state)
{
	world *w = *state;
	it_run r;

	r = it_cli("compare", "--help");
	it_expect_status(&r, 0);
	says(&r, "-t, --table PATTERN");
	says(&r, "-N, --exclude-schema PATTERN");
	says(&r, "1 some table differs on some target");
	it_run_free(&r);
	r = it_cli("compare", "--from", w->src_ci);
	it_expect_status(&r, 2);
	says(&r, "--to is required");
	it_run_free(&r);
	r = it_cli("compare", "--from", "file:/tmp/x", "--to", w->dst_ci[0]);
	it_expect_status(&r, 2);
	says(&r, "compare reads servers only");
	it_run_free(&r);
	r = it_cli("compare", "--from", w->src_ci, "--to", w->dst_ci[0], "--bogus");
	it_expect_status(&r, 2);
	says(&r, "unknown option \"--bogus\"");
	it_run_free(&r);
	r = it_cli("--help");
	it_expect_status(&r, 0);
	says(&r, "pgcopyman compare --from SOURCE");
	it_run_free(&r);
}

/*
 * Passwords never show: not in the process title while the comparison
 * waits (here on a lock the test holds), not in its output.
 */
static void
test_password_hidden(void **state)
{
	world *w = *state;
	char ci[1024], path[64], title[8192];
	PGconn *locker = it_connect_db(3, DB);
	it_proc p;
	it_run r;
	FILE *f;
	size_t n = 0;

	snprintf(ci, sizeof ci, "%s password=" SENTINEL, w->dst_ci[1]);
	/* The server ends the lock holder after 30 s, should a failing test leave it open. */
	it_exec(locker, "SET idle_in_transaction_session_timeout = '30s'; "
	                "BEGIN; LOCK TABLE public.orders IN ACCESS EXCLUSIVE MODE");
	it_cli_bg(&p, "compare", "--from", w->src_ci, "--to", ci, "-t", "public.orders");
	for (int i = 0; i < 100; i++) {
		usleep(50 * 1000);
		snprintf(path, sizeof path, "/proc/%d/cmdline", (int) p.pid);
		if (!(f = fopen(path, "rb")))
			continue;
		n = fread(title, 1, sizeof title - 1, f);
		fclose(f);
		if (n > 0 && i > 10)
			break;
	}
	for (size_t i = 0; i < n; i++)
		if (title[i] == '\0')
			title[i] = ' ';
	title[n] = '\0';
	it_exec(locker, "COMMIT");
	r = it_cli_wait(&p, NULL);
	it_expect_status(&r, 0);
	if (strstr(title, SENTINEL) || !strstr(title, "password=********") || !strstr(title, "compare"))
		fail_msg("process title: %s", title);
	never_says(&r, SENTINEL);
	it_run_free(&r);
	r = it_cli("compare", "--from", w->src_ci, "--to", ci, "-t", "public.orders", "--json");
	it_expect_status(&r, 0);
	says(&r, "password=********");
	never_says(&r, SENTINEL);
	it_run_free(&r);
	PQfinish(locker);
}

IT_GROUP(compare)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_same_after_copy),
		cmocka_unit_test(test_changed_row_located),
		cmocka_unit_test(test_missing_and_extra_rows_located),
		cmocka_unit_test(test_keys_of_every_kind),
		cmocka_unit_test(test_conversions_compared_as_stored),
		cmocka_unit_test(test_table_missing_on_target),
		cmocka_unit_test(test_target_only_columns_not_compared),
		cmocka_unit_test(test_target_key_null_and_repeated),
		cmocka_unit_test(test_other_encoding),
		cmocka_unit_test(test_copy_verify),
		cmocka_unit_test(test_partitioned_against_plain),
		cmocka_unit_test(test_lost_connection),
		cmocka_unit_test(test_interrupted),
		cmocka_unit_test(test_snapshot),
		cmocka_unit_test(test_selection_like_pg_dump),
		cmocka_unit_test(test_strict_names_and_refusals),
		cmocka_unit_test(test_temporary_table_never_selected),
		cmocka_unit_test(test_usage),
		cmocka_unit_test(test_password_hidden),
	};
	return it_add_group("compare", tests, setup, teardown);
}
