/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The ietd authors */
/*
 * Unit tests for iSCSI key=value text (src/iscsi/text.c): the RFC 7143 6.1
 * limits, NUL handling at the end of a data segment, the bounded builder
 * and out-of-memory behaviour.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "iscsi/text.h"
#include "util/alloc.h"

#define WHY_LEN 128
#define VALUE_MAX 255       /* RFC 7143 6.1, as text.c applies it */
#define LONG_VALUE_MAX 8192 /* CHAP_C and CHAP_R */

/* Parse a C literal that holds its own NULs (sizeof - 1 bytes). */
#define PARSE(lit, l, why) text_parse(lit, sizeof(lit) - 1, l, why, WHY_LEN)

static void
test_parse_basic(void **state)
{
	struct text_list l;
	char why[WHY_LEN];

	(void)state;
	text_list_init(&l);
	assert_int_equal(PARSE("InitiatorName=iqn.1994-05.com.example:a\0"
			       "AuthMethod=CHAP,None\0SessionType=Normal\0",
			     &l, why),
	    0);
	assert_int_equal(l.n, 3);
	assert_string_equal(l.kv[0].key, "InitiatorName");
	assert_string_equal(l.kv[0].value, "iqn.1994-05.com.example:a");
	assert_string_equal(text_find(&l, "AuthMethod"), "CHAP,None");
	assert_string_equal(text_find(&l, "SessionType"), "Normal");
	/* Key names are case-sensitive (RFC 7143 6.1). */
	assert_null(text_find(&l, "sessiontype"));
	assert_null(text_find(&l, "Missing"));
	assert_int_equal(text_count(&l, "AuthMethod"), 1);
	assert_int_equal(text_count(&l, "Missing"), 0);
	text_list_free(&l);
	assert_int_equal(l.n, 0);
	assert_null(l.kv);
}

static void
test_parse_value_forms(void **state)
{
	struct text_list l;
	char why[WHY_LEN];

	(void)state;
	text_list_init(&l);
	/* Only the first '=' splits; an empty value is kept as "". */
	assert_int_equal(PARSE("A=b=c\0Empty=\0", &l, why), 0);
	assert_int_equal(l.n, 2);
	assert_string_equal(text_find(&l, "A"), "b=c");
	assert_string_equal(text_find(&l, "Empty"), "");
	/* Every allowed key character. */
	assert_int_equal(PARSE("X-com.example_a+b@c9=1\0", &l, why), 0);
	assert_string_equal(text_find(&l, "X-com.example_a+b@c9"), "1");
	/* A key given twice is kept twice: the caller decides. */
	assert_int_equal(PARSE("A=x\0", &l, why), 0);
	assert_int_equal(text_count(&l, "A"), 2);
	assert_string_equal(text_find(&l, "A"), "b=c");
	text_list_free(&l);
}

static void
test_parse_nul_handling(void **state)
{
	struct text_list l;
	char why[WHY_LEN];
	char *exact;

	(void)state;
	text_list_init(&l);
	/* The last pair without its NUL, ending exactly at len. */
	assert_int_equal(PARSE("A=1\0B=22", &l, why), 0);
	assert_int_equal(l.n, 2);
	assert_string_equal(text_find(&l, "B"), "22");
	text_list_free(&l);

	/* A heap copy of exactly len bytes: ASan flags any over-read. */
	exact = malloc(3);
	assert_non_null(exact);
	memcpy(exact, "C=3", 3);
	assert_int_equal(text_parse(exact, 3, &l, why, sizeof(why)), 0);
	assert_string_equal(text_find(&l, "C"), "3");
	free(exact);
	text_list_free(&l);

	/* NUL padding after the last pair is ignored. */
	assert_int_equal(PARSE("A=1\0\0\0\0", &l, why), 0);
	assert_int_equal(l.n, 1);
	text_list_free(&l);

	/* Only padding, or nothing at all: no pairs, no error. */
	assert_int_equal(PARSE("\0\0\0", &l, why), 0);
	assert_int_equal(l.n, 0);
	assert_int_equal(text_parse("", 0, &l, why, sizeof(why)), 0);
	assert_int_equal(l.n, 0);

	/* An empty string between pairs is malformed. */
	assert_int_equal(PARSE("A=1\0\0B=2\0", &l, why), -EINVAL);
	assert_int_equal(l.n, 0);
	assert_string_equal(why, "empty key=value string");
	text_list_free(&l);
}

static void
test_parse_bad_keys(void **state)
{
	struct text_list l;
	char why[WHY_LEN];
	char buf[128];

	(void)state;
	text_list_init(&l);
	assert_int_equal(PARSE("NoEquals\0", &l, why), -EINVAL);
	assert_string_equal(why, "text without '=' (NoEquals)");
	assert_int_equal(PARSE("=value\0", &l, why), -EINVAL);
	assert_string_equal(why, "empty key name");
	assert_int_equal(PARSE("Bad Key=1\0", &l, why), -EINVAL);
	assert_string_equal(why, "bad character in key name (Bad Key)");
	assert_int_equal(PARSE("a/b=1\0", &l, why), -EINVAL);
	assert_int_equal(PARSE("a:b=1\0", &l, why), -EINVAL);
	assert_int_equal(PARSE("a\x01=1\0", &l, why), -EINVAL);
	/* The key is escaped before it lands in why. */
	assert_string_equal(why, "bad character in key name (a\\x01)");
	assert_int_equal(PARSE("\xc3\xa9=1\0", &l, why), -EINVAL);
	assert_int_equal(l.n, 0);

	/* 63 bytes is the longest key name (RFC 7143 6.1). */
	memset(buf, 'k', TEXT_KEY_MAX);
	memcpy(buf + TEXT_KEY_MAX, "=v", 3);
	assert_int_equal(text_parse(buf, strlen(buf) + 1, &l, why, sizeof(why)),
	    0);
	assert_int_equal(l.n, 1);
	assert_int_equal(strlen(l.kv[0].key), TEXT_KEY_MAX);
	memset(buf, 'k', TEXT_KEY_MAX + 1);
	memcpy(buf + TEXT_KEY_MAX + 1, "=v", 3);
	assert_int_equal(text_parse(buf, strlen(buf) + 1, &l, why, sizeof(why)),
	    -EINVAL);
	assert_non_null(strstr(why, "key name over 63 bytes"));
	assert_int_equal(l.n, 1);
	text_list_free(&l);
}

/* "key=" followed by vlen 'v' bytes and a NUL, in a malloc'ed buffer. */
static char *
make_pair(const char *key, size_t vlen, size_t *len)
{
	size_t klen = strlen(key);
	char *p = malloc(klen + 1 + vlen + 1);

	assert_non_null(p);
	memcpy(p, key, klen);
	p[klen] = '=';
	memset(p + klen + 1, 'v', vlen);
	p[klen + 1 + vlen] = '\0';
	*len = klen + 1 + vlen + 1;
	return p;
}

static void
test_parse_value_limits(void **state)
{
	static const struct {
		const char *key;
		size_t vlen;
		int rc;
	} cases[] = {
	    {"TargetAlias", VALUE_MAX, 0},
	    {"TargetAlias", VALUE_MAX + 1, -EINVAL},
	    {"CHAP_N", VALUE_MAX + 1, -EINVAL},
	    {"CHAP_C", VALUE_MAX + 1, 0},
	    {"CHAP_C", LONG_VALUE_MAX, 0},
	    {"CHAP_C", LONG_VALUE_MAX + 1, -EINVAL},
	    {"CHAP_R", LONG_VALUE_MAX, 0},
	    {"CHAP_R", LONG_VALUE_MAX + 1, -EINVAL},
	    /* Only the exact key names get the long limit. */
	    {"CHAP_RX", VALUE_MAX + 1, -EINVAL},
	    {"CHAP_", VALUE_MAX + 1, -EINVAL},
	};
	char why[WHY_LEN];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct text_list l;
		size_t len;
		char *p = make_pair(cases[i].key, cases[i].vlen, &len);

		text_list_init(&l);
		assert_int_equal(text_parse(p, len, &l, why, sizeof(why)),
		    cases[i].rc);
		if (cases[i].rc == 0) {
			assert_int_equal(l.n, 1);
			assert_int_equal(strlen(l.kv[0].value), cases[i].vlen);
		} else {
			assert_int_equal(l.n, 0);
			assert_non_null(strstr(why, "value too long"));
		}
		text_list_free(&l);
		free(p);
	}
}

static void
test_parse_too_many_pairs(void **state)
{
	char buf[TEXT_PAIRS_MAX * 8 + 16];
	struct text_list l;
	char why[WHY_LEN];
	size_t len = 0;

	(void)state;
	for (unsigned int i = 0; i < TEXT_PAIRS_MAX; i++)
		len +=
		    (size_t)snprintf(buf + len, sizeof(buf) - len, "K%u=1", i) +
		    1;
	text_list_init(&l);
	assert_int_equal(text_parse(buf, len, &l, why, sizeof(why)), 0);
	assert_int_equal(l.n, TEXT_PAIRS_MAX);
	text_list_free(&l);

	memcpy(buf + len, "X=1", 4);
	len += 4;
	assert_int_equal(text_parse(buf, len, &l, why, sizeof(why)), -E2BIG);
	assert_string_equal(why, "too many keys");
	assert_int_equal(l.n, 0);

	/* The limit counts pairs already in the list. */
	assert_int_equal(text_list_add(&l, "Old", "1"), 0);
	assert_int_equal(text_parse(buf, len - 4, &l, why, sizeof(why)),
	    -E2BIG);
	assert_int_equal(l.n, 1);
	text_list_free(&l);
}

static void
test_parse_error_keeps_list(void **state)
{
	struct text_list l;
	char why[WHY_LEN];

	(void)state;
	text_list_init(&l);
	assert_int_equal(text_list_add(&l, "Kept", "yes"), 0);
	assert_int_equal(PARSE("A=1\0B=2\0bad\0", &l, why), -EINVAL);
	assert_int_equal(l.n, 1);
	assert_string_equal(text_find(&l, "Kept"), "yes");
	assert_null(text_find(&l, "A"));
	/* why may be NULL. */
	assert_int_equal(text_parse("bad", 3, &l, NULL, 0), -EINVAL);
	assert_int_equal(PARSE("C=3\0", &l, why), 0);
	assert_int_equal(l.n, 2);
	assert_string_equal(l.kv[1].key, "C");
	text_list_free(&l);
}

static void
test_list_add_grows(void **state)
{
	struct text_list l;
	char key[16];

	(void)state;
	text_list_init(&l);
	for (unsigned int i = 0; i < 100; i++) {
		(void)snprintf(key, sizeof(key), "K%u", i);
		assert_int_equal(text_list_add(&l, key, key), 0);
	}
	assert_int_equal(l.n, 100);
	assert_true(l.cap >= 100);
	assert_string_equal(text_find(&l, "K99"), "K99");
	assert_string_equal(l.kv[42].value, "K42");
	text_list_free(&l);
}

static void
test_put(void **state)
{
	struct strbuf sb;
	char buf[16];

	(void)state;
	strbuf_init(&sb, buf, sizeof(buf));
	assert_true(text_put(&sb, "A", "1"));
	assert_int_equal(sb.len, 4);
	assert_memory_equal(buf, "A=1\0", 4);
	/* "Key=123456789\0" is 14 bytes; 12 are left. */
	assert_false(text_put(&sb, "Key", "123456789"));
	assert_true(sb.overflow);
	assert_int_equal(sb.len, 4);
	/* Once overflowed it stays so, even for a pair that would fit. */
	assert_false(text_put(&sb, "B", "2"));
	assert_int_equal(sb.len, 4);

	/* A pair filling the buffer to the last byte fits. */
	strbuf_init(&sb, buf, sizeof(buf));
	assert_true(text_put(&sb, "Key", "12345678901"));
	assert_int_equal(sb.len, sizeof(buf));
	assert_memory_equal(buf, "Key=12345678901\0", sizeof(buf));
	assert_false(sb.overflow);
	assert_false(text_put(&sb, "", ""));
}

static void
test_put_parse_round_trip(void **state)
{
	struct text_list l;
	struct strbuf sb;
	char buf[256];
	char why[WHY_LEN];

	(void)state;
	strbuf_init(&sb, buf, sizeof(buf));
	assert_true(text_put(&sb, "HeaderDigest", "None"));
	assert_true(text_put(&sb, "MaxRecvDataSegmentLength", "262144"));
	assert_true(text_put(&sb, "TargetAlias", ""));
	text_list_init(&l);
	assert_int_equal(text_parse(sb.buf, sb.len, &l, why, sizeof(why)), 0);
	assert_int_equal(l.n, 3);
	assert_string_equal(text_find(&l, "MaxRecvDataSegmentLength"),
	    "262144");
	assert_string_equal(text_find(&l, "TargetAlias"), "");
	text_list_free(&l);
}

/* SQLite-style: fail each allocation in turn; nothing may crash or leak. */
static void
test_parse_alloc_fail(void **state)
{
	static const char in[] = "A=1\0B=2\0C=3\0D=4\0E=5\0F=6\0G=7\0H=8\0"
				 "I=9\0J=10\0";
	unsigned long nth;
	bool done = false;

	(void)state;
	for (nth = 1; nth < 100 && !done; nth++) {
		struct text_list l;
		char why[WHY_LEN];
		int rc;

		text_list_init(&l);
		assert_int_equal(text_list_add(&l, "Pre", "x"), 0);
		alloc_fail_nth(nth, 0);
		rc = text_parse(in, sizeof(in) - 1, &l, why, sizeof(why));
		if (alloc_fail_hits() == 0) {
			assert_int_equal(rc, 0);
			assert_int_equal(l.n, 11);
			done = true;
		} else {
			assert_int_equal(rc, -ENOMEM);
			assert_string_equal(why, "out of memory");
			assert_int_equal(l.n, 1);
			assert_string_equal(text_find(&l, "Pre"), "x");
		}
		alloc_fail_nth(0, 0);
		text_list_free(&l);
	}
	assert_true(done);
	/* 10 pairs and two array growths: at least 12 points were failed. */
	assert_true(nth > 12);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse_basic),
	    cmocka_unit_test(test_parse_value_forms),
	    cmocka_unit_test(test_parse_nul_handling),
	    cmocka_unit_test(test_parse_bad_keys),
	    cmocka_unit_test(test_parse_value_limits),
	    cmocka_unit_test(test_parse_too_many_pairs),
	    cmocka_unit_test(test_parse_error_keeps_list),
	    cmocka_unit_test(test_list_add_grows),
	    cmocka_unit_test(test_put),
	    cmocka_unit_test(test_put_parse_round_trip),
	    cmocka_unit_test(test_parse_alloc_fail),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
