/*
 * endpoint.c: what every producer and receiver has: a label, getters, the
 * format, free, and the recorders of an endpoint's error.
 */
#include <stdarg.h>
#include <stdio.h>

#include "internal.h"


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
pgcm__receiver_error(pgcm_receiver *r, pgcm_status st, const char *sqlstate, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	pgcm__set_msgv(&r->error, fmt, ap);
	va_end(ap);
	r->fault_status = st;
	snprintf(r->sqlstate, sizeof r->sqlstate, "%s", sqlstate ? sqlstate : "");
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
	if (p->phase != PGCM__P_IDLE)
		return PGCM_ERR_STATE;
	p->fmt = *fmt;
	p->fmt_set = 1;
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
