/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The ietd authors */
/*
 * The per-peer log rate limit: a burst passes, the rest of the window is
 * dropped and counted, and the count is reported with the next line.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "util/log.h"

static void
test_ratelimit(void **state)
{
	struct log_ratelimit rl = {0};
	unsigned int dropped, i;

	(void)state;
	for (i = 0; i < LOG_RATE_BURST; i++) {
		assert_true(log_ratelimit_pass(&rl, &dropped));
		assert_int_equal(dropped, 0);
	}
	for (i = 0; i < 7; i++)
		assert_false(log_ratelimit_pass(&rl, &dropped));
	/* Move the window into the past: a new one opens. */
	rl.window_start_ms -= LOG_RATE_WINDOW_MS;
	assert_true(log_ratelimit_pass(&rl, &dropped));
	assert_int_equal(dropped, 7);
	assert_true(log_ratelimit_pass(&rl, &dropped));
	assert_int_equal(dropped, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_ratelimit),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
