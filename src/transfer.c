/*
 * transfer.c: pgcm_transfer, one call that copies from one connection to
 * many, built on the public API only.
 */
#include <stdio.h>

#include "pgcopyman.h"

pgcm_status
pgcm_transfer(PGconn *src, const char *copy_to, PGconn *const *dsts, const char *copy_from,
              size_t n, uint64_t *rows, uint64_t *bytes, char *errbuf, size_t errbuf_size)
{
	pgcm_copy *c;
	pgcm_status st;
	pgcm_progress total = {0, 0};
	pgcm_failure failure;

	if (errbuf && errbuf_size)
		errbuf[0] = '\0';
	if (!src || !copy_to || !dsts || !copy_from || n == 0)
		return PGCM_ERR_ARG;
	c = pgcm_copy_new(pgcm_producer_pg(src, copy_to));
	if (!c)
		return PGCM_ERR_NOMEM;
	for (size_t i = 0; i < n; i++) {
		st = pgcm_copy_add(c, pgcm_receiver_pg(dsts[i], copy_from));
		if (st != PGCM_OK) {
			pgcm_copy_free(c);
			return st;
		}
	}
	do
		st = pgcm_copy_next(c, NULL);
	while (st == PGCM_OK);
	/* Here any fault fails the whole transfer: it promises every target or an error. */
	if (st == PGCM_FAULT)
		(void) pgcm_copy_abort(c, "a target failed");
	st = pgcm_copy_finish(c, &failure);
	total = pgcm_copy_totals(c);
	if (st != PGCM_OK && errbuf && errbuf_size) {
		const char *msg = failure.nfaults ? failure.faults[0].message
		                  : failure.producer_error ? failure.producer_error
		                  : pgcm_copy_errmsg(c);
		snprintf(errbuf, errbuf_size, "%s", msg);
	}
	pgcm_copy_free(c);
	if (rows)
		*rows = total.rows;
	if (bytes)
		*bytes = total.bytes;
	return st;
}
