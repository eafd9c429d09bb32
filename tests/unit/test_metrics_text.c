/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The ietd authors */
/*
 * Label values in the exposition text: a peer- or administrator-chosen
 * string can never end the value or the line (backslash, quote and
 * newline escaped, as the text format 0.0.4 says), and the buffer's
 * bound holds.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "metrics/metrics.h"

static void
test_label_escape(void **state)
{
	struct metrics_buf b = {.max = 1024};

	(void)state;
	metrics_buf_printf(&b, "m{initiator=\"");
	metrics_buf_label(&b, "iqn.x:a\"} 1\nforged{x=\"\\");
	metrics_buf_printf(&b, "\"} 1\n");
	assert_false(b.failed);
	assert_string_equal(b.data,
	    "m{initiator=\"iqn.x:a\\\"} 1\\nforged{x=\\\"\\\\\"} 1\n");
	metrics_buf_fini(&b);
}

static void
test_bound(void **state)
{
	struct metrics_buf b = {.max = 100};

	(void)state;
	for (int i = 0; i < 50; i++)
		metrics_buf_printf(&b, "0123456789");
	assert_true(b.failed);
	assert_true(b.len <= 100);
	metrics_buf_fini(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_label_escape),
	    cmocka_unit_test(test_bound),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
