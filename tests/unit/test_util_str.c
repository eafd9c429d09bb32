/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The ietd authors */
/*
 * iSCSI name checking (what login accepts as InitiatorName and
 * TargetName, and ietd.conf as a Target) and the escaping every output
 * of peer text goes through.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "util/str.h"

static void
test_name_good(void **state)
{
	static const char *const good[] = {
	    "iqn.2007-10.com.github:sahlberg:libiscsi:iscsi-test",
	    "iqn.2008-11.org.linux-kvm:vm-1",
	    "iqn.2026-11.org.ietd.test:linux-vm",
	    "iqn.1993-08.org.debian:01:abc",
	    /* Windows keeps the host name's case: folded, not refused. */
	    "iqn.1991-05.com.microsoft:HOST-01.Example.COM",
	    "IQN.2001-04.com.example",
	    "eui.0123456789ABCDEF",
	    "naa.52004567ba64678d",
	    "naa.60012345678901234567890123456789",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		const char *why = str_iscsi_name_check(good[i]);

		if (why != NULL)
			fail_msg("%s refused: %s", good[i], why);
	}
}

static void
test_name_bad(void **state)
{
	static const char *const bad[] = {
	    "",
	    "iqn.2026-11.org.example:a\nsid:1 initiator:forged",
	    "iqn.2026-11.org.example:a\r",
	    "iqn.2026-11.org.example:a b",
	    "iqn.2026-11.org.example:a_b",
	    "iqn.2026-11.org.example:a\\x",
	    "iqn.2026-11.org.example:\xc3\xa9",
	    "iqn.2026-11.org.example:a\x7f",
	    "iqn.2026-13.org.example:a",
	    "iqn.2026-11:a",
	    "iqn.2026-11.:a",
	    "eui.0123456789abcde",
	    "eui.0123456789abcdefa",
	    "naa.0123",
	    "host.example.com",
	};
	char big[300];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (str_iscsi_name_check(bad[i]) == NULL)
			fail_msg("accepted \"%s\"", bad[i]);
	/* 223 bytes is the limit (RFC 7143 6.1). */
	memset(big, 'a', sizeof(big));
	memcpy(big, "iqn.2026-11.org.example:", 24);
	big[STR_ISCSI_NAME_MAX] = '\0';
	assert_null(str_iscsi_name_check(big));
	big[STR_ISCSI_NAME_MAX] = 'a';
	big[STR_ISCSI_NAME_MAX + 1] = '\0';
	assert_string_equal(str_iscsi_name_check(big), "longer than 223 bytes");
}

static void
test_lower(void **state)
{
	char s[] = "IQN.1991-05.com.Microsoft:HOST";

	(void)state;
	str_lower(s);
	assert_string_equal(s, "iqn.1991-05.com.microsoft:host");
}

static void
test_escape(void **state)
{
	char out[64];
	static const char raw[] = "a\nsid:1\t\"\\\xff";

	(void)state;
	assert_string_equal(str_escape(out, sizeof(out), raw, sizeof(raw) - 1),
	    "a\\x0asid:1\\x09\\\"\\\\\\xff");
	/* Cut short: marked, never a newline, always terminated. */
	assert_string_equal(str_escape(out, 10, "\n\n\n\n\n\n", 6),
	    "\\x0a\\x...");
	assert_null(strchr(out, '\n'));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_name_good),
	    cmocka_unit_test(test_name_bad),
	    cmocka_unit_test(test_lower),
	    cmocka_unit_test(test_escape),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
