/*
 * copy_dupes.c: the same target given twice, however it is spelled, is
 * refused before any data moves.  Two sessions loading one table wait on each
 * other's locks (a TRUNCATE, a unique key) until the stall timeout, or load
 * the rows twice; one file written twice is one file.
 *
 * A server is known by what it says about itself, not by how it was reached
 * (a socket directory or "localhost", a URI or key=value): its system
 * identifier and the start time of its postmaster (two clones of one base
 * backup share the identifier, never the start time), then the database and
 * the plan's resolved table.  A file is known by its device and inode, or,
 * before it exists, by its directory's real path and its name.
 */
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "copy.h"

/*
 * file_identity: "dev:ino" of what path names (stdout for "-"), or, when it
 * does not exist yet, "path:" and its directory's real path and name.
 * malloc'd; NULL when it cannot be told (the target's own open says why).
 */
static char *
file_identity(const copy_endpoint *e)
{
	struct stat st;
	cli_buf b;
	char *copy, *dir, *real;

	cli_buf_init(&b);
	if (e->kind == EP_STDIO) {
		if (fstat(STDOUT_FILENO, &st) != 0)
			return NULL;
		cli_buf_addf(&b, "%llu:%llu", (unsigned long long) st.st_dev, (unsigned long long) st.st_ino);
		return cli_buf_take(&b);
	}
	if (stat(e->spec + 5, &st) == 0) {
		cli_buf_addf(&b, "%llu:%llu", (unsigned long long) st.st_dev, (unsigned long long) st.st_ino);
		return cli_buf_take(&b);
	}
	if (!(copy = strdup(e->spec + 5)))
		return NULL;
	dir = dirname(copy);
	real = realpath(dir, NULL);
	free(copy);
	if (!real || !(copy = strdup(e->spec + 5))) {
		free(real);
		return NULL;
	}
	cli_buf_addf(&b, "path:%s/%s", real, basename(copy));
	free(real);
	free(copy);
	return cli_buf_take(&b);
}

int
copy_refuse_duplicate_files(const copy_endpoint *dst, int n)
{
	char *id[MAX_TARGETS] = {0};
	int ok = 1;

	for (int i = 0; i < n && ok; i++) {
		if (dst[i].kind == EP_SERVER)
			continue;
		id[i] = file_identity(&dst[i]);
		for (int j = 0; id[i] && j < i && ok; j++)
			if (id[j] && strcmp(id[i], id[j]) == 0) {
				cli_error("target %d (%s) is the same file as target %d (%s): give each target once",
				          i + 1, dst[i].spec, j + 1, dst[j].spec);
				ok = 0;
			}
	}
	for (int i = 0; i < n; i++)
		free(id[i]);
	return ok;
}

/*
 * server_identity: "system identifier/postmaster start/database" of the
 * session's server.  Where the catalog cannot be read, the address libpq
 * connected to stands in.  malloc'd; NULL when out of memory.
 */
static char *
server_identity(PGconn *conn)
{
	PGresult *res = PQexec(conn, "SELECT s.system_identifier, pg_catalog.pg_postmaster_start_time(), "
	                             "pg_catalog.current_database() FROM pg_catalog.pg_control_system() s");
	cli_buf b;

	cli_buf_init(&b);
	if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1)
		cli_buf_addf(&b, "%s/%s/%s", PQgetvalue(res, 0, 0), PQgetvalue(res, 0, 1), PQgetvalue(res, 0, 2));
	else
		cli_buf_addf(&b, "%s:%s/%s", PQhost(conn) ? PQhost(conn) : "", PQport(conn) ? PQport(conn) : "",
		             PQdb(conn) ? PQdb(conn) : "");
	PQclear(res);
	return cli_buf_take(&b);
}

int
copy_refuse_duplicate_servers(const copy_endpoint *dst, int n, const pgcm_plan *plan)
{
	char *id[MAX_TARGETS] = {0};
	int ok = 1;

	for (int i = 0; i < n && ok; i++) {
		const char *table = pgcm_plan_target_name(plan, (size_t) i);

		if (dst[i].kind != EP_SERVER || !table)
			continue;
		if (!(id[i] = server_identity(dst[i].conns[0]))) {
			cli_error("out of memory");
			ok = 0;
			break;
		}
		for (int j = 0; j < i && ok; j++)
			if (id[j] && strcmp(id[i], id[j]) == 0
			    && strcmp(table, pgcm_plan_target_name(plan, (size_t) j)) == 0) {
				cli_error("target %d (%s) is the same table as target %d (%s): %s in database \"%s\" "
				          "on the same server; give each target once", i + 1, dst[i].label, j + 1,
				          dst[j].label, table, PQdb(dst[i].conns[0]));
				ok = 0;
			}
	}
	for (int i = 0; i < n; i++)
		free(id[i]);
	return ok;
}
