/*
 * chunk.c: the chunk window.  The producer fills one chunk with whole rows;
 * sealed chunks wait in a ring until every receiver that still counts has
 * taken them.  Buffers are reused from turn to turn, so a long copy allocates
 * only while its chunks grow to their working size.
 */
#include <string.h>

#include "internal.h"

/* A buffer grown for an outsized row is given back once it exceeds this many targets. */
#define SHRINK_FACTOR 4

pgcm_status
pgcm__window_init(pgcm__window *w, size_t chunk_bytes, size_t chunks)
{
	memset(w, 0, sizeof *w);
	if (chunk_bytes == 0 || chunks == 0)
		return PGCM_ERR_ARG;
	/* One slot more than the chunks in flight: the one being filled. */
	w->slots = pgcm__calloc(chunks + 1, sizeof *w->slots);
	if (!w->slots)
		return PGCM_ERR_NOMEM;
	w->nslots = chunks + 1;
	w->target = chunk_bytes;
	return PGCM_OK;
}

void
pgcm__window_free(pgcm__window *w)
{
	for (size_t i = 0; w->slots && i < w->nslots; i++)
		pgcm__free(w->slots[i].data);
	pgcm__free(w->slots);
	memset(w, 0, sizeof *w);
}

pgcm__chunk *
pgcm__window_open(pgcm__window *w)
{
	if (w->head - w->tail >= w->nslots - 1)
		return NULL;
	return &w->slots[w->head % w->nslots];
}

void
pgcm__window_seal(pgcm__window *w)
{
	w->head++;
}

pgcm__chunk *
pgcm__window_get(pgcm__window *w, uint64_t seq)
{
	return &w->slots[seq % w->nslots];
}

/*
 * pgcm__window_release: the chunks before seq are free again.  A slot keeps
 * its buffer for the next chunk, unless an outsized row blew it up: then it
 * is given back, so that memory returns to the window's size.
 */
void
pgcm__window_release(pgcm__window *w, uint64_t seq)
{
	while (w->tail < seq && w->tail < w->head) {
		pgcm__chunk *c = &w->slots[w->tail % w->nslots];
		if (c->cap > w->target * SHRINK_FACTOR) {
			pgcm__free(c->data);
			c->data = NULL;
			c->cap = 0;
		}
		c->len = 0;
		c->rows = 0;
		c->first_row = 0;
		w->tail++;
	}
}

pgcm_status
pgcm__chunk_reserve(pgcm__chunk *c, size_t n)
{
	size_t need, ncap;
	char *p;

	if (n > SIZE_MAX - c->len)
		return PGCM_ERR_NOMEM;
	need = c->len + n;
	if (need <= c->cap)
		return PGCM_OK;
	/* A new buffer gets what is asked (a chunk's working size); a full one doubles. */
	if (c->cap == 0)
		ncap = need < 4096 ? 4096 : need;
	else
		for (ncap = c->cap; ncap < need;)
			ncap = ncap > SIZE_MAX / 2 ? need : ncap * 2;
	p = pgcm__realloc(c->data, ncap);
	if (!p)
		return PGCM_ERR_NOMEM;
	c->data = p;
	c->cap = ncap;
	return PGCM_OK;
}

pgcm_status
pgcm__chunk_append_row(pgcm__chunk *c, const char *row, size_t n)
{
	pgcm_status st = pgcm__chunk_reserve(c, n);

	if (st != PGCM_OK)
		return st;
	memcpy(c->data + c->len, row, n);
	c->len += n;
	c->rows++;
	return PGCM_OK;
}
