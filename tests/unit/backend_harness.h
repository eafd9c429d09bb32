/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The ietd authors */
/*
 * Shared fixtures of the backend tests: a sparse image of TEST_FILE_SIZE
 * bytes in build/ (not /tmp: tmpfs refuses O_DIRECT and has nothing to
 * flush), named after TEST_IMAGE_STEM, and the per-test choice of engine,
 * so a test listed with TEST_BOTH() runs once on the worker pool and once
 * on io_uring. Header-only (static) so each test program includes it once.
 */
#ifndef IETD_TESTS_BACKEND_HARNESS_H
#define IETD_TESTS_BACKEND_HARNESS_H

#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <unistd.h>

#include <cmocka.h>

#include "backend/backend.h"
#include "backend/backend_int.h"

#define TEST_FILE_SIZE (1024 * 1024)

static char test_path[256];

static int
test_setup(void **state)
{
	int fd;

	(void)state;
	snprintf(test_path, sizeof(test_path), "build/%s.%d.img",
	    TEST_IMAGE_STEM, (int)getpid());
	fd = open(test_path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (fd < 0)
		return -1;
	if (ftruncate(fd, TEST_FILE_SIZE) < 0) {
		close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

static int
test_teardown(void **state)
{
	(void)state;
	unlink(test_path);
	return 0;
}

/* Per-test setup: pick the engine the test's queues will use. */
static int
test_engine_threads(void **state)
{
	char why[256];

	(void)state;
	assert_int_equal(backend_engine_select(BACKEND_ENGINE_THREADS, why,
			     sizeof(why)),
	    0);
	assert_string_equal(why, "thread pool (io_uring not requested)");
	backend_uring_max_xfer = 0;
	return 0;
}

static int
test_engine_uring(void **state)
{
	char why[256];

	(void)state;
	backend_uring_max_xfer = 0;
	if (backend_engine_select(BACKEND_ENGINE_URING, why, sizeof(why)) !=
	    0) {
		/* Not a failure of ours: the kernel or a sysctl said no. */
		print_message("io_uring unavailable here: %s\n", why);
		return -1;
	}
	assert_string_equal(why, "io_uring");
	assert_int_equal(backend_engine_current(), BACKEND_ENGINE_URING);
	return 0;
}

#define TEST_BOTH(f)                                             \
	{#f "/threads", f, test_engine_threads, NULL, NULL},     \
	{                                                        \
#f "/io_uring", f, test_engine_uring, NULL, NULL \
	}

#endif /* IETD_TESTS_BACKEND_HARNESS_H */
