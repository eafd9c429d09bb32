/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The ietd authors */
/*
 * The per-peer log rate limit: a burst passes, the rest of the window is
 * dropped and counted, and the count is reported with the next line.
 * The stderr line formats: ISO 8601 local time, and JSON lines whose
 * message no byte can break out of.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
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

/* Log one message with stderr on a pipe; returns what was written. */
static size_t
capture(char *out, size_t cap, const char *msg)
{
	int p[2], saved = dup(STDERR_FILENO);
	ssize_t n;

	assert_int_equal(pipe(p), 0);
	assert_true(dup2(p[1], STDERR_FILENO) >= 0);
	log_msg(LOG_WARNING, "peer said %s", msg);
	assert_true(dup2(saved, STDERR_FILENO) >= 0);
	close(saved);
	close(p[1]);
	n = read(p[0], out, cap - 1);
	close(p[0]);
	assert_true(n > 0);
	out[n] = '\0';
	return (size_t)n;
}

static void
test_text_time(void **state)
{
	char out[2048];
	int y, mo, d, h, mi, sec, ms, zh, zm;
	char sign, colon;

	(void)state;
	log_set_format(LOG_FORMAT_TEXT);
	capture(out, sizeof(out), "hi");
	/* 2026-12-07T21:55:03.123+00:00: peer said hi */
	assert_int_equal(sscanf(out, "%4d-%2d-%2dT%2d:%2d:%2d.%3d%c%2d%c%2d",
			     &y, &mo, &d, &h, &mi, &sec, &ms, &sign, &zh,
			     &colon, &zm),
	    11);
	assert_true(sign == '+' || sign == '-');
	assert_int_equal(colon, ':');
	assert_string_equal(out + 29, ": peer said hi\n");
}

static void
test_json_escape(void **state)
{
	/* Quote, backslash, newline, control bytes, DEL, UTF-8, bad bytes. */
	static const char hostile[] = "a\"b\\c\nd\re\x01\x1b[31m\x7f"
				      "\xc3\xa9\xff\xc3(\xed\xa0\x80}";
	char out[2048];
	size_t n;

	(void)state;
	log_set_format(LOG_FORMAT_JSON);
	n = capture(out, sizeof(out), hostile);
	log_set_format(LOG_FORMAT_TEXT);
	/* One line, and it is the whole object. */
	assert_int_equal(out[n - 1], '\n');
	assert_ptr_equal(strchr(out, '\n'), out + n - 1);
	assert_memory_equal(out, "{\"time\":\"", 9);
	assert_non_null(strstr(out, "\",\"level\":\"warning\",\"message\":"));
	assert_non_null(strstr(out,
	    "\"message\":\"peer said a\\\"b\\\\c\\nd\\re\\u0001"
	    "\\u001b[31m\\u007f\xc3\xa9\\u00ff\\u00c3(\\u00ed\\u00a0"
	    "\\u0080}\"}\n"));
	for (size_t i = 0; i < n - 1; i++)
		assert_true((unsigned char)out[i] >= 0x20);
}

static void
test_json_long(void **state)
{
	static char big[4096];
	char out[8192];
	size_t n;

	(void)state;
	/* Every byte escapes to six: the line is cut, never broken. */
	memset(big, '\x01', sizeof(big) - 1);
	log_set_format(LOG_FORMAT_JSON);
	n = capture(out, sizeof(out), big);
	log_set_format(LOG_FORMAT_TEXT);
	assert_ptr_equal(strchr(out, '\n'), out + n - 1);
	assert_memory_equal(out + n - 5, "01\"}", 4);
}

static void
test_json_fields(void **state)
{
	const struct log_field f[] = {
	    {.key = "peer", .str = "10.0.0.1:3260\"}\n"},
	    {.key = "tid", .num = 7},
	};
	int p[2], saved = dup(STDERR_FILENO);
	char out[2048];
	ssize_t n;

	(void)state;
	log_set_format(LOG_FORMAT_JSON);
	assert_int_equal(pipe(p), 0);
	assert_true(dup2(p[1], STDERR_FILENO) >= 0);
	log_fields(LOG_INFO, f, 2, "m %d", 1);
	log_set_format(LOG_FORMAT_TEXT);
	log_fields(LOG_INFO, f, 2, "m %d", 2);
	assert_true(dup2(saved, STDERR_FILENO) >= 0);
	close(saved);
	close(p[1]);
	n = read(p[0], out, sizeof(out) - 1);
	close(p[0]);
	assert_true(n > 0);
	out[n] = '\0';
	/* JSON: the members, escaped; text: the message alone. */
	assert_non_null(strstr(out,
	    "\"message\":\"m 1\",\"peer\":"
	    "\"10.0.0.1:3260\\\"}\\n\",\"tid\":7}\n"));
	assert_non_null(strstr(out, ": m 2\n"));
	assert_null(strstr(out, "m 2\","));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_ratelimit),
	    cmocka_unit_test(test_text_time),
	    cmocka_unit_test(test_json_escape),
	    cmocka_unit_test(test_json_long),
	    cmocka_unit_test(test_json_fields),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
