/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The ietd authors */
/*
 * Access file tests: initiators.allow / initiators.deny / targets.allow
 * decisions (names as regular expressions, IPv4/IPv6 networks, mapped
 * addresses, the ALL-line cut-off, missing and empty files) and the
 * syntax check. Each file is a mkstemp() file under /tmp, removed after.
 */
#include <errno.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "config/allow.h"
#include "util/alloc.h"

#define T1 "iqn.2026-01.org.example:t1"
#define T2 "iqn.2026-01.org.example:t2"
#define I1 "iqn.1993-08.org.debian:01:abc"
#define I2 "iqn.2001-04.com.example:host2"
#define NO_FILE "/nonexistent/ietd-allow-test"

/* Temporary files of one test, removed by the teardown. */
struct files {
	char allow[32], deny[32], targets[32];
	struct allow_paths p;
};

static void
file_write(char *path, const char *text)
{
	int fd;

	strcpy(path, "/tmp/ietd-allow-XXXXXX");
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
}

static int
setup(void **state)
{
	struct files *f = calloc(1, sizeof(*f));

	if (f == NULL)
		return -1;
	f->p.initiators_allow = NO_FILE;
	f->p.initiators_deny = NO_FILE;
	f->p.targets_allow = NO_FILE;
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct files *f = *state;

	if (f->allow[0] != '\0')
		unlink(f->allow);
	if (f->deny[0] != '\0')
		unlink(f->deny);
	if (f->targets[0] != '\0')
		unlink(f->targets);
	free(f);
	return 0;
}

static void
set_allow(struct files *f, const char *text)
{
	file_write(f->allow, text);
	f->p.initiators_allow = f->allow;
}

static void
set_deny(struct files *f, const char *text)
{
	file_write(f->deny, text);
	f->p.initiators_deny = f->deny;
}

static void
set_targets(struct files *f, const char *text)
{
	file_write(f->targets, text);
	f->p.targets_allow = f->targets;
}

/* Addresses as the transport would hand them over. */
static struct sockaddr_storage addr_buf[8];
static unsigned int addr_next;

static const struct sockaddr *
v4(const char *s)
{
	struct sockaddr_in *in = (void *)&addr_buf[addr_next++ % 8];

	memset(in, 0, sizeof(*in));
	in->sin_family = AF_INET;
	assert_int_equal(inet_pton(AF_INET, s, &in->sin_addr), 1);
	return (const struct sockaddr *)in;
}

static const struct sockaddr *
v6(const char *s)
{
	struct sockaddr_in6 *in6 = (void *)&addr_buf[addr_next++ % 8];

	memset(in6, 0, sizeof(*in6));
	in6->sin6_family = AF_INET6;
	assert_int_equal(inet_pton(AF_INET6, s, &in6->sin6_addr), 1);
	return (const struct sockaddr *)in6;
}

static void
test_no_files(void **state)
{
	struct files *f = *state;

	assert_true(allow_initiator(&f->p, T1, I1, v4("10.1.2.3")));
	assert_true(allow_initiator(&f->p, T1, NULL, v6("::1")));
	assert_true(allow_target_portal(&f->p, T1, v4("127.0.0.1")));
}

static void
test_empty_allow_refuses(void **state)
{
	struct files *f = *state;

	set_allow(f, "");
	assert_false(allow_initiator(&f->p, T1, I1, v4("10.1.2.3")));
	teardown(state);
	setup(state);
	f = *state;
	set_allow(f, "# only comments\n\n   \n");
	assert_false(allow_initiator(&f->p, T1, I1, v4("10.1.2.3")));
	/* An empty targets.allow hides every target. */
	set_targets(f, "");
	assert_false(allow_target_portal(&f->p, T1, v4("127.0.0.1")));
}

static void
test_regex_names(void **state)
{
	struct files *f = *state;

	set_allow(f,
	    T1 " iqn.1993-08.org.debian:01:.*\n" T2 " " I2
	       ", iqn\\.2001-04\\.com\\.example:host[0-9]\n");
	assert_true(allow_initiator(&f->p, T1, I1, NULL));
	/* Case-insensitive, for the name and the target field. */
	assert_true(allow_initiator(&f->p, "IQN.2026-01.ORG.EXAMPLE:T1",
	    "IQN.1993-08.ORG.DEBIAN:01:XYZ", NULL));
	/* Anchored: a name that only contains the pattern does not match. */
	assert_false(allow_initiator(&f->p, T1, "x" I1, NULL));
	assert_false(allow_initiator(&f->p, T1, I2, NULL));
	assert_true(allow_initiator(&f->p, T2, I2, NULL));
	assert_true(
	    allow_initiator(&f->p, T2, "iqn.2001-04.com.example:host7", NULL));
	assert_false(
	    allow_initiator(&f->p, T2, "iqn.2001-04.com.example:host77", NULL));
	assert_false(allow_initiator(&f->p, T2, I1, NULL));
	/* Name unknown yet: only addresses and ALL can match. */
	assert_false(allow_initiator(&f->p, T1, NULL, v4("10.0.0.1")));
	/* A target with no line at all. */
	assert_false(
	    allow_initiator(&f->p, "iqn.2026-01.org.example:t3", I1, NULL));
}

static void
test_ipv4_networks(void **state)
{
	struct files *f = *state;

	set_allow(f,
	    T1 " 10.0.0.0/8, 192.168.1.7\n" T2 " 172.16.0.0/12,192.168.1.0/25\n"
	       "iqn.2026-01.org.example:any 0.0.0.0/0\n"
	       "iqn.2026-01.org.example:host 1.2.3.4/32\n");
	assert_true(allow_initiator(&f->p, T1, I1, v4("10.255.0.1")));
	assert_true(allow_initiator(&f->p, T1, NULL, v4("192.168.1.7")));
	assert_false(allow_initiator(&f->p, T1, I1, v4("192.168.1.8")));
	assert_false(allow_initiator(&f->p, T1, I1, v4("11.0.0.1")));
	assert_true(allow_initiator(&f->p, T2, I1, v4("172.31.255.255")));
	assert_false(allow_initiator(&f->p, T2, I1, v4("172.32.0.0")));
	assert_true(allow_initiator(&f->p, T2, I1, v4("192.168.1.127")));
	assert_false(allow_initiator(&f->p, T2, I1, v4("192.168.1.128")));
	assert_true(allow_initiator(&f->p, "iqn.2026-01.org.example:any", I1,
	    v4("203.0.113.9")));
	/* /0 of IPv4 does not admit IPv6 peers. */
	assert_false(allow_initiator(&f->p, "iqn.2026-01.org.example:any", I1,
	    v6("2001:db8::1")));
	assert_true(allow_initiator(&f->p, "iqn.2026-01.org.example:host", I1,
	    v4("1.2.3.4")));
	assert_false(allow_initiator(&f->p, "iqn.2026-01.org.example:host", I1,
	    v4("1.2.3.5")));
	/* IPv4-mapped IPv6 peers are matched as IPv4. */
	assert_true(allow_initiator(&f->p, T1, I1, v6("::ffff:10.9.8.7")));
	assert_false(allow_initiator(&f->p, T1, I1, v6("::ffff:11.9.8.7")));
	/* No address and no name: nothing to match. */
	assert_false(allow_initiator(&f->p, T1, NULL, NULL));
}

static void
test_ipv6_networks(void **state)
{
	struct files *f = *state;

	set_allow(f,
	    T1 " [2001:db8::]/32, [fe80::1]\n" T2 " [::]/0\n"
	       "iqn.2026-01.org.example:host [2001:db8::5]/128\n"
	       "iqn.2026-01.org.example:odd [2001:db8:8000::]/33\n");
	assert_true(allow_initiator(&f->p, T1, I1, v6("2001:db8:1:2::3")));
	assert_false(allow_initiator(&f->p, T1, I1, v6("2001:db9::1")));
	assert_true(allow_initiator(&f->p, T1, I1, v6("fe80::1")));
	assert_false(allow_initiator(&f->p, T1, I1, v6("fe80::2")));
	assert_true(allow_initiator(&f->p, T2, I1, v6("::1")));
	/* IPv6 rules do not match IPv4 peers. */
	assert_false(allow_initiator(&f->p, T2, I1, v4("10.0.0.1")));
	assert_true(allow_initiator(&f->p, "iqn.2026-01.org.example:host", I1,
	    v6("2001:db8::5")));
	assert_false(allow_initiator(&f->p, "iqn.2026-01.org.example:host", I1,
	    v6("2001:db8::4")));
	assert_true(allow_initiator(&f->p, "iqn.2026-01.org.example:odd", I1,
	    v6("2001:db8:ffff::1")));
	assert_false(allow_initiator(&f->p, "iqn.2026-01.org.example:odd", I1,
	    v6("2001:db8:7fff::1")));
}

static void
test_all_ordering(void **state)
{
	struct files *f = *state;

	/*
	 * IET 1.4.20: the first line for the target or ALL decides, matched
	 * or not; the ALL line is never reached for T1, the T2 line never.
	 */
	set_allow(f,
	    T1 " " I1 "\n"
	       "ALL 10.0.0.0/8\n" T2 " ALL\n");
	assert_true(allow_initiator(&f->p, T1, I1, v4("192.0.2.1")));
	assert_false(allow_initiator(&f->p, T1, I2, v4("10.1.1.1")));
	assert_false(allow_initiator(&f->p, T1, I2, v4("192.0.2.1")));
	assert_true(allow_initiator(&f->p, T2, I2, v4("10.1.1.1")));
	assert_false(allow_initiator(&f->p, T2, I2, v4("192.0.2.1")));
	teardown(state);
	setup(state);
	f = *state;
	/* "ALL ALL" admits everyone, name or not. */
	set_allow(f, "ALL ALL\n" T1 " 10.0.0.1\n");
	assert_true(allow_initiator(&f->p, T1, NULL, NULL));
	assert_true(allow_initiator(&f->p, T2, I1, v6("::1")));
}

static void
test_deny(void **state)
{
	struct files *f = *state;

	set_deny(f,
	    T1 " 10.0.0.0/8, " I2 "\n"
	       "ALL [2001:db8::]/32\n");
	assert_false(allow_initiator(&f->p, T1, I1, v4("10.0.0.1")));
	assert_false(allow_initiator(&f->p, T1, I2, v4("192.0.2.1")));
	assert_true(allow_initiator(&f->p, T1, I1, v4("192.0.2.1")));
	assert_true(allow_initiator(&f->p, T2, I2, v4("10.0.0.1")));
	assert_false(allow_initiator(&f->p, T2, I1, v6("2001:db8::9")));
	assert_true(allow_initiator(&f->p, T2, I1, v6("2001:db9::9")));
	/*
	 * IET 1.4.20 with both files: refused only when deny matches and
	 * allow does not (no line for the target counts as no match).
	 */
	set_allow(f, T1 " 10.0.0.0/8\n");
	assert_true(allow_initiator(&f->p, T1, I1, v4("10.0.0.1")));
	assert_true(allow_initiator(&f->p, T1, I2, v4("10.0.0.5")));
	assert_false(allow_initiator(&f->p, T1, I2, v4("192.0.2.1")));
	assert_true(allow_initiator(&f->p, T2, I1, v4("192.0.2.1")));
	assert_false(allow_initiator(&f->p, T2, I1, v6("2001:db8::9")));
	/* An empty deny file refuses nobody, whatever allow says. */
	set_deny(f, "");
	assert_true(allow_initiator(&f->p, T2, I1, v4("192.0.2.1")));
	assert_true(allow_initiator(&f->p, T1, I2, v4("192.0.2.1")));
}

static void
test_targets_allow(void **state)
{
	struct files *f = *state;

	set_targets(f,
	    "# portals per target\n" T1 " 192.168.0.1, [::1]\n" T2
	    " 10.0.0.0/24\n"
	    "ALL 127.0.0.1\n");
	assert_true(allow_target_portal(&f->p, T1, v4("192.168.0.1")));
	assert_true(allow_target_portal(&f->p, T1, v6("::1")));
	assert_true(allow_target_portal(&f->p, T1, v6("::ffff:192.168.0.1")));
	/* T1's line decides for T1: the ALL line is not reached. */
	assert_false(allow_target_portal(&f->p, T1, v4("127.0.0.1")));
	assert_false(allow_target_portal(&f->p, T1, v4("10.0.0.1")));
	assert_true(allow_target_portal(&f->p, T2, v4("10.0.0.200")));
	assert_false(allow_target_portal(&f->p, T2, v4("192.168.0.1")));
	assert_true(allow_target_portal(&f->p, "iqn.2026-01.org.example:z",
	    v4("127.0.0.1")));
	assert_false(allow_target_portal(&f->p, "iqn.2026-01.org.example:z",
	    v4("127.0.0.2")));
	assert_false(allow_target_portal(&f->p, T1, NULL));
}

static void
test_unreadable_fails_closed(void **state)
{
	struct files *f = *state;
	struct allow_paths p = {.initiators_allow = "/tmp",
	    .initiators_deny = NO_FILE,
	    .targets_allow = "/tmp"};

	(void)f;
	/* A directory exists but cannot be read as a rule file. */
	assert_false(allow_initiator(&p, T1, I1, v4("10.0.0.1")));
	assert_int_equal(allow_last_errno(), EISDIR);
	assert_false(allow_target_portal(&p, T1, v4("10.0.0.1")));
	assert_int_equal(allow_last_errno(), EISDIR);
	p.initiators_allow = NO_FILE;
	p.initiators_deny = "/tmp";
	assert_false(allow_initiator(&p, T1, I1, v4("10.0.0.1")));
	/* Out of memory while reading refuses too, and says why. */
	set_allow(f, "ALL ALL\n");
	assert_true(allow_initiator(&f->p, T1, I1, NULL));
	assert_int_equal(allow_last_errno(), 0);
	alloc_fail_nth(1, 1);
	assert_false(allow_initiator(&f->p, T1, I1, NULL));
	alloc_fail_nth(0, 0);
	assert_int_equal(allow_last_errno(), ENOMEM);
	/* A rule's refusal is a verdict, not an error. */
	set_allow(f, "ALL 192.0.2.1\n");
	assert_false(allow_initiator(&f->p, T1, I1, v4("10.0.0.1")));
	assert_int_equal(allow_last_errno(), 0);
}

struct msgs {
	char text[4096];
	size_t len;
	unsigned int count;
};

static void
msgs_report(void *arg, const char *msg)
{
	struct msgs *m = arg;
	int n;

	m->count++;
	n = snprintf(m->text + m->len, sizeof(m->text) - m->len, "%s\n", msg);
	if (n > 0 && (size_t)n < sizeof(m->text) - m->len)
		m->len += (size_t)n;
}

static void
test_check_file(void **state)
{
	struct files *f = *state;
	struct msgs m = {.len = 0};
	char want[2048];

	assert_int_equal(allow_check_file(NO_FILE, msgs_report, &m), 0);
	assert_int_equal(m.count, 0);
	set_allow(f,
	    "# good lines\n" T1
	    " 10.0.0.0/8, [2001:db8::]/32, iqn.1993-08.org.debian:.*\n"
	    "ALL ALL # the rest\n"
	    "\n" T2 "\n" T2 " 10.0.0.0/33\n" T2
	    " [2001:db8::]/129, [zz::1], [::1\n" T2 " 300.1.2.3, 1.2.3\n" T2
	    " iqn.[a-\n" T2 " fe80::1\n" T2 " 10.0.0.1,,10.0.0.2\n" T2
	    " 10.0.0.0/x, [::1]/\n");
	assert_int_equal(allow_check_file(f->allow, msgs_report, &m), 12);
	snprintf(want, sizeof(want),
	    "%1$s:5: %2$s has no list of entries\n"
	    "%1$s:6: 10.0.0.0/33: bad IPv4 prefix length (expected /0 to "
	    "/32)\n"
	    "%1$s:7: [2001:db8::]/129: bad IPv6 prefix length (expected /0 "
	    "to /128)\n"
	    "%1$s:7: [zz::1]: bad IPv6 address\n"
	    "%1$s:7: [::1: bad IPv6 address\n"
	    "%1$s:8: 300.1.2.3: bad IPv4 address\n"
	    "%1$s:8: 1.2.3: bad IPv4 address\n"
	    "%1$s:9: iqn.[a-: bad regular expression: Invalid range end\n"
	    "%1$s:10: fe80::1: IPv6 addresses must be in brackets\n"
	    "%1$s:11: empty entry in the list\n"
	    "%1$s:12: 10.0.0.0/x: bad IPv4 prefix length (expected /0 to "
	    "/32)\n"
	    "%1$s:12: [::1]/: bad IPv6 prefix length (expected /0 to /128)\n",
	    f->allow, T2);
	assert_string_equal(m.text, want);
	/* The bad lines never match, the good ones still do. */
	assert_true(allow_initiator(&f->p, T1, I1, NULL));
	assert_true(allow_initiator(&f->p, T2, I2, NULL));
	/* A file that exists but cannot be read is one error. */
	memset(&m, 0, sizeof(m));
	assert_int_equal(allow_check_file("/tmp", msgs_report, &m), 1);
	assert_string_equal(m.text, "/tmp: cannot read: Is a directory\n");
}

/* The files make install ships: clean, and open to everyone. */
static void
test_shipped_files(void **state)
{
	struct allow_paths p = {.initiators_allow = "etc/initiators.allow",
	    .initiators_deny = "etc/initiators.deny",
	    .targets_allow = "etc/targets.allow"};
	struct msgs m = {.len = 0};

	(void)state;
	assert_int_equal(allow_check_file(p.initiators_allow, msgs_report, &m),
	    0);
	assert_int_equal(allow_check_file(p.initiators_deny, msgs_report, &m),
	    0);
	assert_int_equal(allow_check_file(p.targets_allow, msgs_report, &m), 0);
	assert_int_equal(m.count, 0);
	assert_true(allow_initiator(&p, T1, I1, v4("192.0.2.1")));
	assert_true(allow_initiator(&p, T1, NULL, v6("2001:db8::1")));
	assert_true(allow_target_portal(&p, T1, v4("192.0.2.1")));
	/* initiators.deny alone: comments only, so it refuses nobody. */
	p.initiators_allow = NO_FILE;
	assert_true(allow_initiator(&p, T1, I1, v4("192.0.2.1")));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_no_files, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_empty_allow_refuses, setup,
		teardown),
	    cmocka_unit_test_setup_teardown(test_regex_names, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_ipv4_networks, setup,
		teardown),
	    cmocka_unit_test_setup_teardown(test_ipv6_networks, setup,
		teardown),
	    cmocka_unit_test_setup_teardown(test_all_ordering, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_deny, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_targets_allow, setup,
		teardown),
	    cmocka_unit_test_setup_teardown(test_unreadable_fails_closed, setup,
		teardown),
	    cmocka_unit_test_setup_teardown(test_check_file, setup, teardown),
	    cmocka_unit_test(test_shipped_files),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
