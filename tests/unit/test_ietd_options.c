/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The ietd authors */
/*
 * ietd's command line: defaults, every option in short and long form, and
 * each kind of bad input refused with a message and the usage text.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "ietd/options.h"

/* Parse a NULL-terminated argument list; stderr text goes to err. */
static int
parse(struct ietd_options *o, char *err, size_t errlen, ...)
{
	char *argv[32];
	int argc = 0;
	va_list ap;
	FILE *f = fmemopen(err, errlen, "w");
	int rc;

	argv[argc++] = (char *)(uintptr_t) "ietd";
	va_start(ap, errlen);
	for (char *a; (a = va_arg(ap, char *)) != NULL;)
		argv[argc++] = a;
	va_end(ap);
	argv[argc] = NULL;
	memset(err, 0, errlen);
	rc = options_parse(o, argc, argv, f);
	fclose(f);
	return rc;
}

static void
test_defaults(void **state)
{
	struct ietd_options o;
	char err[4096];

	(void)state;
	assert_int_equal(parse(&o, err, sizeof(err), NULL), 0);
	assert_null(o.config); /* IET's search in main.c */
	assert_string_equal(o.pid_file, "/var/run/ietd.pid");
	assert_int_equal(o.port, 3260);
	assert_int_equal(o.debug, -1);
	assert_null(o.address);
	assert_false(o.foreground);
	assert_false(o.uid_set);
	assert_false(o.gid_set);
	assert_false(o.check_config);
	assert_int_equal(o.threads, 0);
	assert_null(o.initiators_allow); /* /etc/iet/, else /etc/ */
	assert_null(o.initiators_deny);
	assert_null(o.targets_allow);
	assert_string_equal(o.control, "/run/ietd.sock");
	assert_string_equal(o.status_dir, "/run/ietd");
	assert_int_equal(o.io_engine, BACKEND_ENGINE_AUTO);
	assert_string_equal(err, "");
}

static void
test_short_options(void **state)
{
	struct ietd_options o;
	char err[4096];

	(void)state;
	assert_int_equal(parse(&o, err, sizeof(err), "-c", "/tmp/x.conf", "-d",
			     "2", "-f", "-g", "0", "-u", "0", "-a", "::1", "-p",
			     "3261", "-t", "-T", "4", NULL),
	    0);
	assert_string_equal(o.config, "/tmp/x.conf");
	assert_int_equal(o.debug, 2);
	assert_true(o.foreground);
	assert_true(o.gid_set);
	assert_int_equal(o.gid, 0);
	assert_true(o.uid_set);
	assert_int_equal(o.uid, 0);
	assert_string_equal(o.address, "::1");
	assert_int_equal(o.port, 3261);
	assert_true(o.check_config);
	assert_int_equal(o.threads, 4);
}

static void
test_long_options(void **state)
{
	struct ietd_options o;
	char err[4096];

	(void)state;
	assert_int_equal(parse(&o, err, sizeof(err), "--config=/a.conf",
			     "--debug=0", "--foreground", "--gid=root",
			     "--uid=root", "--address=127.0.0.1",
			     "--port=65535", "--pid-file=/tmp/p.pid",
			     "--check-config", "--threads=64",
			     "--initiators-allow=/i.a",
			     "--initiators-deny=/i.d", "--targets-allow=/t.a",
			     "--control=/tmp/c.sock", "--status-dir=/tmp/st",
			     NULL),
	    0);
	assert_string_equal(o.control, "/tmp/c.sock");
	assert_string_equal(o.status_dir, "/tmp/st");
	assert_string_equal(o.config, "/a.conf");
	assert_int_equal(o.debug, 0);
	assert_true(o.foreground);
	assert_int_equal(o.gid, 0);
	assert_int_equal(o.uid, 0);
	assert_string_equal(o.address, "127.0.0.1");
	assert_int_equal(o.port, 65535);
	assert_string_equal(o.pid_file, "/tmp/p.pid");
	assert_true(o.check_config);
	assert_int_equal(o.threads, 64);
	assert_string_equal(o.initiators_allow, "/i.a");
	assert_string_equal(o.initiators_deny, "/i.d");
	assert_string_equal(o.targets_allow, "/t.a");
}

static void
test_help_and_version(void **state)
{
	struct ietd_options o;
	char err[4096];

	(void)state;
	assert_int_equal(parse(&o, err, sizeof(err), "-h", NULL), 0);
	assert_true(o.help);
	assert_int_equal(parse(&o, err, sizeof(err), "--version", NULL), 0);
	assert_true(o.version);
	/* IET's -v. */
	assert_int_equal(parse(&o, err, sizeof(err), "-v", NULL), 0);
	assert_true(o.version);
}

/* -d as IET took it: any integer; above 2 is 2, below 0 is off. */
static void
test_debug_levels(void **state)
{
	struct ietd_options o;
	char err[4096];

	(void)state;
	assert_int_equal(parse(&o, err, sizeof(err), "-d", "9", NULL), 0);
	assert_int_equal(o.debug, 2);
	assert_int_equal(parse(&o, err, sizeof(err), "-d", "0", NULL), 0);
	assert_int_equal(o.debug, 0);
	assert_int_equal(parse(&o, err, sizeof(err), "-d", "-3", NULL), 0);
	assert_int_equal(o.debug, -1);
	assert_int_equal(parse(&o, err, sizeof(err),
			     "--debug=99999999999999999999", NULL),
	    0);
	assert_int_equal(o.debug, 2);
}

/* Each bad command line: refused, with this text and the usage. */
static void
test_bad_input(void **state)
{
	static const struct {
		const char *args[3];
		const char *message;
	} cases[] = {
	    {{"-Z"}, "ietd: unknown option '-Z'"},
	    {{"--bogus"}, "ietd: unknown option '--bogus'"},
	    {{"-p", "0"}, "ietd: --port: 0 is out of range (1 to 65535)"},
	    {{"-p", "65536"}, "out of range (1 to 65535)"},
	    {{"-p", "-1"}, "ietd: --port: '-1' is not a number"},
	    {{"--port= 3260"}, "is not a number"},
	    {{"-d", "1x"}, "ietd: --debug: '1x' is not a number"},
	    {{"-d", "x"}, "ietd: --debug: 'x' is not a number"},
	    {{"-T", "0"}, "ietd: --threads: 0 is out of range (1 to 64)"},
	    {{"-c"}, "ietd: option '-c' needs a value"},
	    {{"-u", "no-such-user-x"}, "ietd: --uid: no such user"},
	    {{"-g", "no-such-group-x"}, "ietd: --gid: no such group"},
	    {{"-a", ""}, "ietd: --address: empty address"},
	    {{"-f", "extra"}, "ietd: unexpected argument 'extra'"},
	    {{"--io-engine=uring"},
		"ietd: --io-engine: 'uring' is not auto, io_uring or "
		"threads"},
	    {{"--io-engine", ""}, "ietd: --io-engine: '' is not"},
	    {{"--io-engine"}, "ietd: option '--io-engine' needs a value"},
	    {{"--max-data-memory=15M"},
		"ietd: --max-data-memory: 15M is out of range (16M to "
		"1024G)"},
	    {{"--max-data-memory=2T"},
		"ietd: --max-data-memory: '2T' is not a size"},
	    {{"--max-data-memory=M"},
		"ietd: --max-data-memory: 'M' is not a size"},
	    {{"--max-data-memory=99999999999999999999G"},
		"ietd: --max-data-memory: '99999999999999999999G' is not "
		"a size"},
	};
	struct ietd_options o;
	char err[4096];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int rc = parse(&o, err, sizeof(err), cases[i].args[0],
		    cases[i].args[1], cases[i].args[2], NULL);
		if (rc != -1 || strstr(err, cases[i].message) == NULL ||
		    strstr(err, "Usage: ietd") == NULL)
			fail_msg("case %zu (%s): rc %d, stderr: %s", i,
			    cases[i].args[0], rc, err);
	}
}

/* --io-engine: each of the three names, in both spellings of the option. */
static void
test_io_engine(void **state)
{
	struct ietd_options o;
	char err[4096];

	(void)state;
	assert_int_equal(parse(&o, err, sizeof(err), "--io-engine=io_uring",
			     NULL),
	    0);
	assert_int_equal(o.io_engine, BACKEND_ENGINE_URING);
	assert_int_equal(parse(&o, err, sizeof(err), "--io-engine", "threads",
			     NULL),
	    0);
	assert_int_equal(o.io_engine, BACKEND_ENGINE_THREADS);
	assert_int_equal(parse(&o, err, sizeof(err), "--io-engine=threads",
			     "--io-engine=auto", NULL),
	    0);
	assert_int_equal(o.io_engine, BACKEND_ENGINE_AUTO);
	assert_string_equal(err, "");
	/* The help text names the option and its three values. */
	{
		char buf[8192];
		FILE *f = fmemopen(buf, sizeof(buf), "w");

		memset(buf, 0, sizeof(buf));
		options_usage(f);
		fclose(f);
		assert_non_null(strstr(buf, "--io-engine=ENGINE"));
		assert_non_null(strstr(buf, "io_uring, threads"));
	}
}

/* --max-data-memory: bytes or K/M/G, binary; 0 (unset) is the default. */
static void
test_max_data_memory(void **state)
{
	struct ietd_options o;
	char err[4096];

	(void)state;
	assert_int_equal(parse(&o, err, sizeof(err), NULL), 0);
	assert_int_equal(o.max_data_memory, 0);
	assert_int_equal(parse(&o, err, sizeof(err), "--max-data-memory=24M",
			     NULL),
	    0);
	assert_int_equal(o.max_data_memory, 24ull << 20);
	assert_int_equal(parse(&o, err, sizeof(err), "--max-data-memory", "2G",
			     NULL),
	    0);
	assert_int_equal(o.max_data_memory, 2ull << 30);
	assert_int_equal(parse(&o, err, sizeof(err),
			     "--max-data-memory=16777216", NULL),
	    0);
	assert_int_equal(o.max_data_memory, 16ull << 20);
	assert_int_equal(parse(&o, err, sizeof(err), "--max-data-memory=16384K",
			     NULL),
	    0);
	assert_int_equal(o.max_data_memory, 16ull << 20);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_defaults),
	    cmocka_unit_test(test_short_options),
	    cmocka_unit_test(test_long_options),
	    cmocka_unit_test(test_help_and_version),
	    cmocka_unit_test(test_debug_levels),
	    cmocka_unit_test(test_bad_input),
	    cmocka_unit_test(test_io_engine),
	    cmocka_unit_test(test_max_data_memory),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
