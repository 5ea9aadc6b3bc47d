/*
 * plan_cases.h: the type matrix of the copy plan tests, shared by the
 * library's (itest_plan.c) and the command's (itest_plan_cli.c): source
 * type, target type, values, and what must happen; plus the reference, the
 * rows INSERT INTO t SELECT ... stores on the target server itself.
 * Defined in plan_cases.c.
 */
#ifndef PGCM_TEST_PLAN_CASES_H
#define PGCM_TEST_PLAN_CASES_H

#include <stddef.h>

#include "util.h"

enum expect { EXACT, REFUSED, FAILS };

typedef struct mcase {
	const char *src_type;
	const char *dst_type;
	const char *values[8];    /* the values of column v, SQL literals; NULL-terminated */
	enum expect expect;
	const char *says;         /* REFUSED: in the problem; FAILS: in the error */
	int binary;               /* identical types: binary is exact and auto picks it */
	int stricter;             /* REFUSED although INSERT ... SELECT would run (settings differ) */
	const char *dst_setting;  /* a setting of the target for this case ("lc_monetary = ..."), reset after */
} mcase;

/* The cases, and how many there are. */
extern const mcase plan_cases[];
extern const size_t plan_ncases;
#define NCASES plan_ncases

/* The custom types, on both servers (mood2 and pt2 differ on the target). */
extern const char plan_types_sql[], plan_src_types_sql[], plan_dst_types_sql[];

/*
 * plan_case_prepare: table m<i> (id, v) on both servers with their types, the
 * values on the source; on the target, m<i>_ref holds the same values in the
 * source's type and m<i>_exp what INSERT ... SELECT stores from it.  Returns
 * whether that INSERT ... SELECT ran (if not, err gets its error).
 */
int plan_case_prepare(PGconn *src, PGconn *dst, size_t i, char *err, size_t errlen);
/* plan_case_diff: rows of m<i> that differ from m<i>_exp (compared as the target's text of each value). */
long plan_case_diff(PGconn *dst, size_t i);
/* plan_case_locale: fails the test, saying how to make it, when the de_DE.UTF-8 locale is missing. */
void plan_case_locale(PGconn *conn);

#endif
