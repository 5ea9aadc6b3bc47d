/*
 * test_names.c: every public enum value has a name of its own (and a value
 * outside the enum says "unknown"), and the library knows its version.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "pgcopyman.h"

/* distinct: names[0..n) are set, known, and all different. */
static void
distinct(const char *const *names, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		assert_non_null(names[i]);
		assert_true(strlen(names[i]) > 0);
		assert_string_not_equal(names[i], "unknown");
		for (size_t j = 0; j < i; j++)
			assert_string_not_equal(names[i], names[j]);
	}
}

static void
test_receiver_states(void **state)
{
	const char *names[] = {
		pgcm_receiver_state_name(PGCM_RECEIVER_IDLE),
		pgcm_receiver_state_name(PGCM_RECEIVER_ACTIVE),
		pgcm_receiver_state_name(PGCM_RECEIVER_FAULTED),
		pgcm_receiver_state_name(PGCM_RECEIVER_DROPPED),
		pgcm_receiver_state_name(PGCM_RECEIVER_DONE),
		pgcm_receiver_state_name(PGCM_RECEIVER_ABORTED),
	};

	(void) state;
	distinct(names, sizeof names / sizeof names[0]);
	assert_string_equal(names[2], "faulted");
	assert_string_equal(pgcm_receiver_state_name((pgcm_receiver_state) 99), "unknown");
	/* The getter and the name agree for a receiver that never ran. */
	{
		pgcm_receiver *r = pgcm_receiver_null();
		assert_string_equal(pgcm_receiver_state_name(pgcm_receiver_get_state(r)), "idle");
		pgcm_receiver_free(r);
	}
}

static void
test_notify_kinds(void **state)
{
	const char *names[] = {
		pgcm_notify_kind_name(PGCM_NOTIFY_NONE),
		pgcm_notify_kind_name(PGCM_NOTIFY_BATCH),
		pgcm_notify_kind_name(PGCM_NOTIFY_IDLE),
		pgcm_notify_kind_name(PGCM_NOTIFY_POLL_END),
		pgcm_notify_kind_name(PGCM_NOTIFY_FAILED),
		pgcm_notify_kind_name(PGCM_NOTIFY_DISCONNECTED),
		pgcm_notify_kind_name(PGCM_NOTIFY_RECONNECTED),
	};

	(void) state;
	distinct(names, sizeof names / sizeof names[0]);
	assert_string_equal(names[6], "reconnected");
	assert_string_equal(pgcm_notify_kind_name((pgcm_notify_kind) -1), "unknown");
}

static void
test_formats_and_statuses(void **state)
{
	const char *formats[] = {
		pgcm_format_kind_name(PGCM_FORMAT_TEXT),
		pgcm_format_kind_name(PGCM_FORMAT_CSV),
		pgcm_format_kind_name(PGCM_FORMAT_BINARY),
	};
	/* PGCM_ERR_PLAN is the last status. */
	const char *statuses[PGCM_ERR_PLAN + 1];

	(void) state;
	distinct(formats, 3);
	assert_string_equal(formats[1], "csv");
	assert_string_equal(pgcm_format_kind_name((pgcm_format_kind) 7), "unknown");
	for (int st = PGCM_OK; st <= PGCM_ERR_PLAN; st++)
		statuses[st] = pgcm_strerror((pgcm_status) st);
	for (int i = 0; i <= PGCM_ERR_PLAN; i++) {
		assert_string_not_equal(statuses[i], "unknown status");
		for (int j = 0; j < i; j++)
			assert_string_not_equal(statuses[i], statuses[j]);
	}
	assert_string_equal(pgcm_strerror(PGCM_ERR_PLAN), "the copy plan found problems");
	assert_string_equal(pgcm_strerror((pgcm_status) 1000), "unknown status");
}

static void
test_plan_conversions(void **state)
{
	const char *names[] = {
		pgcm_plan_conversion_name(PGCM_CONV_SAME),
		pgcm_plan_conversion_name(PGCM_CONV_TEXT),
		pgcm_plan_conversion_name(PGCM_CONV_CAST),
		pgcm_plan_conversion_name(PGCM_CONV_REFUSED),
	};

	(void) state;
	distinct(names, sizeof names / sizeof names[0]);
	/* The command's --dry-run --json prints these words: they are part of its output. */
	assert_string_equal(names[0], "same");
	assert_string_equal(names[3], "refused");
	assert_string_equal(pgcm_plan_conversion_name((pgcm_plan_conversion) 42), "unknown");
}

static void
test_version(void **state)
{
	int major = -1, minor = -1, patch = -1;

	(void) state;
	/* The library this test runs with is the one its header describes. */
	assert_string_equal(pgcm_version(), PGCM_VERSION);
	assert_int_equal(pgcm_version_num(), PGCM_VERSION_NUM);
	assert_int_equal(sscanf(pgcm_version(), "%d.%d.%d", &major, &minor, &patch), 3);
	assert_int_equal(major * 10000 + minor * 100 + patch, pgcm_version_num());
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_receiver_states),
		cmocka_unit_test(test_notify_kinds),
		cmocka_unit_test(test_formats_and_statuses),
		cmocka_unit_test(test_plan_conversions),
		cmocka_unit_test(test_version),
	};

	return cmocka_run_group_tests_name("names", tests, NULL, NULL);
}
