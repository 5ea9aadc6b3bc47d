/*
 * copy_statements.c: the COPY statement of every endpoint (names and columns
 * quoted by libpq, the WITH list, a stream's range), the data format, and
 * the size estimate the progress display shows.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "copy.h"

/* append_option: ", NAME 'value'" (libpq's escaping) when the option is given. */
static int
append_option(PGconn *conn, cli_buf *buf, const char *name, const char *value)
{
	char *lit;

	if (!value)
		return 1;
	lit = PQescapeLiteral(conn, value, strlen(value));
	if (!lit)
		return 0;
	cli_buf_addf(buf, ", %s %s", name, lit);
	PQfreemem(lit);
	return 1;
}

/*
 * with_list: the WITH list shared by every COPY: the format and the options
 * that apply to it, in a growing buffer (an option may be any length).
 */
static char *
with_list(PGconn *conn, const copy_opts *o, const char *format)
{
	cli_buf buf;

	cli_buf_init(&buf);
	cli_buf_addf(&buf, "(FORMAT %s", format);
	if (o->header)
		cli_buf_add(&buf, ", HEADER true");
	if (!append_option(conn, &buf, "DELIMITER", o->delimiter)
	    || !append_option(conn, &buf, "QUOTE", o->quote)
	    || !append_option(conn, &buf, "ESCAPE", o->escape)
	    || !append_option(conn, &buf, "NULL", o->null_string)
	    || !append_option(conn, &buf, "ENCODING", o->encoding)) {
		cli_buf_free(&buf);
		return NULL;
	}
	cli_buf_add(&buf, ")");
	return cli_buf_take(&buf);
}

/*
 * build_command: COPY name (cols) TO STDOUT / FROM STDIN with the options;
 * a source stream's range (where) makes it COPY (SELECT ... WHERE range).
 */
char *
copy_build_command(PGconn *conn, const copy_opts *o, const char *format, int source, const char *where,
              const char **err)
{
	const char *name = source ? o->table : (o->target_table ? o->target_table : o->table);
	char *qname = NULL, *qcols = NULL, *opts = NULL, *cmd = NULL;
	size_t n;

	opts = with_list(conn, o, format);
	if (!opts) {
		*err = PQerrorMessage(conn);
		goto cleanup;
	}
	if (source && o->query) {
		n = strlen(o->query) + strlen(opts) + 32;
		cmd = malloc(n);
		if (cmd)
			snprintf(cmd, n, "COPY (%s) TO STDOUT %s", o->query, opts);
		goto cleanup;
	}
	qname = cli_quote_name(conn, name, err);
	if (!qname)
		goto cleanup;
	if (o->columns && !(qcols = cli_quote_columns(conn, o->columns, err)))
		goto cleanup;
	n = strlen(qname) + (qcols ? strlen(qcols) : 0) + strlen(opts) + (where ? strlen(where) : 0) + 64;
	cmd = malloc(n);
	if (cmd && where) {
		/* The column list without its parentheses is the select list. */
		int ncols = qcols ? (int) strlen(qcols) - 2 : 1;
		snprintf(cmd, n, "COPY (SELECT %.*s FROM %s WHERE %s) TO STDOUT %s", ncols,
		         qcols ? qcols + 1 : "*", qname, where, opts);
	} else if (cmd) {
		snprintf(cmd, n, "COPY %s%s%s %s %s", qname, qcols ? " " : "", qcols ? qcols : "",
		         source ? "TO STDOUT" : "FROM STDIN", opts);
	}
cleanup:
	free(qname);
	free(qcols);
	free(opts);
	return cmd;
}

/* source_commands: the COPY TO of each stream: the whole table, or its ranges. */
int
copy_source_commands(copy_endpoint *src, const copy_opts *o, const char *format, char **cmds)
{
	char *where[MAX_JOBS] = {0}, *split_err = NULL;
	const char *err = NULL;
	char *qtable = NULL, *qkey = NULL;
	int ok = 0;

	if (o->jobs == 1) {
		cmds[0] = copy_build_command(src->conns[0], o, format, 1, NULL, &err);
		if (!cmds[0])
			cli_error("bad --table or --columns: %s", err ? err : "out of memory");
		return cmds[0] != NULL;
	}
	qtable = cli_quote_name(src->conns[0], o->table, &err);
	if (!qtable || (o->split_key && !(qkey = cli_quote_name(src->conns[0], o->split_key, &err)))) {
		cli_error("bad --table or --split-key: %s", err ? err : "out of memory");
		goto cleanup;
	}
	if (!cli_split_source(src->conns, o->jobs, qtable, qkey, where, &split_err)) {
		cli_error("source %s: %s", src->label, split_err ? split_err : "out of memory");
		goto cleanup;
	}
	for (int j = 0; j < o->jobs; j++)
		if (!(cmds[j] = copy_build_command(src->conns[j], o, format, 1, where[j], &err))) {
			cli_error("bad --table or --columns: %s", err ? err : "out of memory");
			goto cleanup;
		}
	ok = 1;
cleanup:
	for (int j = 0; j < MAX_JOBS; j++)
		free(where[j]);
	free(qtable);
	free(qkey);
	free(split_err);
	return ok;
}

/*
 * choose_format: --format auto picks binary when the source and every target
 * are servers of one major version (binary COPY parses less on the target),
 * and text otherwise; explicit formats are kept.
 */
const char *
copy_choose_format(const copy_opts *o, copy_endpoint *src, copy_endpoint *dst, int ndst, const char **why)
{
	int major;

	if (strcmp(o->format, "auto") != 0) {
		*why = "as requested";
		return o->format;
	}
	if (o->header || o->quote || o->escape) {
		*why = "CSV options given";
		return "csv";
	}
	if (o->delimiter || o->null_string) {
		*why = "text options given";
		return "text";
	}
	if (src->kind != EP_SERVER) {
		*why = "the source is not a server";
		return "text";
	}
	major = PQserverVersion(src->conns[0]) / 10000;
	for (int i = 0; i < ndst; i++) {
		if (dst[i].kind != EP_SERVER) {
			*why = "a target is not a server";
			return "text";
		}
		if (PQserverVersion(dst[i].conns[0]) / 10000 != major) {
			*why = "the servers' major versions differ";
			return "text";
		}
	}
	*why = "every endpoint is a server of the same major version";
	return "binary";
}

/* copy_format: the scanner's and the producer's view of the chosen format. */
void
copy_stream_format(pgcm_format *fmt, const copy_opts *o, const char *format)
{
	pgcm_format_init(fmt, strcmp(format, "csv") == 0 ? PGCM_FORMAT_CSV
	                      : strcmp(format, "binary") == 0 ? PGCM_FORMAT_BINARY : PGCM_FORMAT_TEXT);
	fmt->header = o->header;
	if (o->max_row)
		fmt->max_row = o->max_row;
	if (o->delimiter)
		fmt->delimiter = o->delimiter[0];
	if (o->quote)
		fmt->quote = fmt->escape = o->quote[0];
	if (o->escape)
		fmt->escape = o->escape[0];
}

/*
 * estimate: what the copy will move, for the progress display's percent and
 * ETA.  A table: pg_class.reltuples (rows; -1 before the first VACUUM or
 * ANALYZE, then unknown).  The table's size on disk is not the size of its
 * COPY data, so it is not used.  A regular file: its size in bytes.  A query
 * or a pipe: unknown (0).
 */
void
copy_estimate(const copy_opts *o, const copy_endpoint *src, uint64_t *rows, uint64_t *bytes)
{
	struct stat sb;

	*rows = *bytes = 0;
	if (src->kind == EP_SERVER && o->table && !o->query) {
		const char *err = NULL;
		char *qname = cli_quote_name(src->conns[0], o->table, &err);
		const char *params[1];
		PGresult *res;

		if (!qname)
			return;
		params[0] = qname;
		res = PQexecParams(src->conns[0], "SELECT reltuples::bigint FROM pg_class WHERE oid = $1::regclass",
		                   1, NULL, params, NULL, NULL, 0);
		if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1) {
			long long n = atoll(PQgetvalue(res, 0, 0));
			*rows = n > 0 ? (uint64_t) n : 0;
		}
		PQclear(res);
		free(qname);
	} else if (src->kind == EP_FILE && fstat(src->fd, &sb) == 0 && S_ISREG(sb.st_mode)) {
		*bytes = (uint64_t) sb.st_size;
	}
}
