/*
 * endpoint.c: what every producer and receiver has: a label and a name for
 * messages, the getters, the format, free, and the recorders of an
 * endpoint's error.  The fields written here are written nowhere else.
 */
#include <stdarg.h>
#include <stdio.h>

#include "internal.h"

void
pgcm__producer_init(pgcm_producer *p, const pgcm__producer_ops *ops)
{
	p->ops = ops;
	pgcm__wait_on(&p->wait, -1, 0);
}

void
pgcm__receiver_init(pgcm_receiver *r, const pgcm__receiver_ops *ops)
{
	r->ops = ops;
	pgcm__wait_on(&r->wait, -1, 0);
}

void
pgcm__producer_attach(pgcm_producer *p)
{
	p->in_copy = 1;
}

void
pgcm__receiver_attach(pgcm_receiver *r, size_t index)
{
	r->in_copy = 1;
	r->index = index;
}

/*
 * pgcm__receiver_name: the name every message of the copy gives the
 * receiver: its position, which the caller knows, and its label.
 */
pgcm_status
pgcm__receiver_name(pgcm_receiver *r)
{
	char *name = r->label ? pgcm__asprintf("receiver %zu (%s)", r->index + 1, r->label)
	                      : pgcm__asprintf("receiver %zu", r->index + 1);

	if (!name)
		return PGCM_ERR_NOMEM;
	pgcm__free(r->name);
	r->name = name;
	return PGCM_OK;
}

pgcm_status
pgcm__producer_begin(pgcm_producer *p)
{
	p->began = 1;
	return p->ops->begin(p);
}

const char *
pgcm__producer_name(const pgcm_producer *p)
{
	return p->label ? p->label : "producer";
}

void
pgcm__producer_error(pgcm_producer *p, const char *sqlstate, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	pgcm__set_msgv(&p->error, fmt, ap);
	va_end(ap);
	if (sqlstate && sqlstate != p->sqlstate)
		snprintf(p->sqlstate, sizeof p->sqlstate, "%s", sqlstate);
}

void
pgcm__receiver_error(pgcm_receiver *r, pgcm_status st, const char *sqlstate, uint64_t row,
                     const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	pgcm__set_msgv(&r->error, fmt, ap);
	va_end(ap);
	r->fault_status = st;
	r->fault_row = row;
	snprintf(r->sqlstate, sizeof r->sqlstate, "%s", sqlstate ? sqlstate : "");
}

void
pgcm__receiver_clear_error(pgcm_receiver *r)
{
	r->fault_status = PGCM_OK;
	r->fault_row = 0;
}

/* set_label: labels are copied; the copy builds each receiver's name from it. */
static pgcm_status
set_label(char **slot, const char *label)
{
	char *s = label ? pgcm__strdup(label) : NULL;

	if (label && !s)
		return PGCM_ERR_NOMEM;
	pgcm__free(*slot);
	*slot = s;
	return PGCM_OK;
}

pgcm_status
pgcm_producer_set_label(pgcm_producer *p, const char *label)
{
	return p ? set_label(&p->label, label) : PGCM_ERR_ARG;
}

pgcm_status
pgcm_receiver_set_label(pgcm_receiver *r, const char *label)
{
	if (!r)
		return PGCM_ERR_ARG;
	pgcm__free(r->name);
	r->name = NULL;
	return set_label(&r->label, label);
}

const char *
pgcm_receiver_label(const pgcm_receiver *r)
{
	if (!r)
		return "";
	if (r->name)
		return r->name;
	return r->label ? r->label : "receiver";
}

pgcm_receiver_state
pgcm_receiver_get_state(const pgcm_receiver *r)
{
	return r ? r->state : PGCM_RECEIVER_IDLE;
}

uint64_t
pgcm_receiver_rows(const pgcm_receiver *r)
{
	return r ? r->rows_confirmed : 0;
}

pgcm_status
pgcm_producer_set_format(pgcm_producer *p, const pgcm_format *fmt)
{
	if (!p || !fmt)
		return PGCM_ERR_ARG;
	if (p->began)
		return PGCM_ERR_STATE;
	p->fmt = *fmt;
	return PGCM_OK;
}

void
pgcm_producer_free(pgcm_producer *p)
{
	if (!p)
		return;
	p->ops->destroy(p);
	pgcm__free(p->framing.prologue);
	pgcm__free(p->framing.epilogue);
	pgcm__free(p->label);
	pgcm__free(p->error);
	pgcm__free(p);
}

void
pgcm_receiver_free(pgcm_receiver *r)
{
	if (!r)
		return;
	r->ops->destroy(r);
	pgcm__free(r->label);
	pgcm__free(r->name);
	pgcm__free(r->error);
	pgcm__free(r);
}
