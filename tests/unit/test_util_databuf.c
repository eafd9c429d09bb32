/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The ietd authors */
/*
 * The data-buffer cache: page-aligned buffers, a freed one handed out
 * again for the same size class, the per-thread bounds, the idle trim,
 * and the fault-injection hook counting every allocation.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "util/alloc.h"
#include "util/databuf.h"

static void
test_align_and_reuse(void **state)
{
	void *a, *b, *c;

	(void)state;
	databuf_trim();
	a = databuf_alloc(1);
	assert_non_null(a);
	assert_int_equal((uintptr_t)a % DATABUF_ALIGN, 0);
	b = databuf_alloc(1024 * 1024);
	assert_non_null(b);
	assert_int_equal((uintptr_t)b % DATABUF_ALIGN, 0);
	databuf_free(b, 1024 * 1024);
	assert_int_equal(databuf_cached(), 1024 * 1024);
	/* Same class (513 KiB .. 1 MiB): the cached buffer comes back. */
	c = databuf_alloc(600 * 1024);
	assert_ptr_equal(c, b);
	assert_int_equal(databuf_cached(), 0);
	databuf_free(c, 600 * 1024);
	databuf_free(a, 1);
	assert_int_equal(databuf_cached(), 1024 * 1024 + DATABUF_ALIGN);
	databuf_trim();
	assert_int_equal(databuf_cached(), 0);
	databuf_free(NULL, 4096); /* nothing */
}

static void
test_bounds(void **state)
{
	enum { N = 80 };
	void *p[N];
	void *big;

	(void)state;
	databuf_trim();
	/* Larger than the largest class: never cached. */
	big = databuf_alloc(DATABUF_MAX_CACHED + 1);
	assert_non_null(big);
	databuf_free(big, DATABUF_MAX_CACHED + 1);
	assert_int_equal(databuf_cached(), 0);
	/* 80 x 1 MiB freed: the thread keeps at most 64 MiB of them. */
	for (int i = 0; i < N; i++)
		assert_non_null(p[i] = databuf_alloc(1024 * 1024));
	for (int i = 0; i < N; i++)
		databuf_free(p[i], 1024 * 1024);
	assert_int_equal(databuf_cached(), 64u * 1024 * 1024);
	databuf_trim();
}

/*
 * Small buffers are kept by the thousand: 256 sessions with 4 commands of
 * 4 KiB in flight free them in bursts, and a bound of 64 sent most of
 * each burst back through malloc's trimming (8 MiB per class, 2048 here).
 */
static void
test_small_burst(void **state)
{
	enum { N = 2100, KEEP = 2048 };
	static void *p[N], *again[KEEP];

	(void)state;
	databuf_trim();
	for (int i = 0; i < N; i++)
		assert_non_null(p[i] = databuf_alloc(4096));
	for (int i = 0; i < N; i++) {
		memset(p[i], 0xa5, 4096);
		databuf_free(p[i], 4096);
	}
	assert_int_equal(databuf_cached(), (size_t)KEEP * 4096);
	/* The first KEEP freed are handed out again, most recent first. */
	for (int i = 0; i < KEEP; i++) {
		again[i] = databuf_alloc(4096);
		assert_ptr_equal(again[i], p[KEEP - 1 - i]);
		memset(again[i], 0x5a, 4096);
	}
	assert_int_equal(databuf_cached(), 0);
	for (int i = 0; i < KEEP; i++)
		databuf_free(again[i], 4096);
	databuf_trim();
}

static void
test_idle_tick(void **state)
{
	void *p;

	(void)state;
	databuf_trim();
	databuf_tick();
	p = databuf_alloc(8192);
	databuf_free(p, 8192);
	/* Used since the last tick: kept. */
	databuf_tick();
	assert_int_equal(databuf_cached(), 8192);
	/* A whole tick without an allocation: let go. */
	databuf_tick();
	assert_int_equal(databuf_cached(), 0);
}

static void
test_fault_injection(void **state)
{
	void *p;

	(void)state;
	databuf_trim();
	p = databuf_alloc(4096);
	databuf_free(p, 4096);
	/* The hook fails the next allocation, cached buffer or not. */
	alloc_fail_nth(1, 0);
	assert_null(databuf_alloc(4096));
	assert_int_equal(alloc_fail_hits(), 1);
	p = databuf_alloc(4096);
	assert_non_null(p);
	databuf_free(p, 4096);
	databuf_trim();
}

/*
 * Left cached when the program exits: under make SAN=1, LeakSanitizer
 * must find every one through the list, or the exit status says "leak".
 */
static void
test_cached_at_exit(void **state)
{
	void *p[3];

	(void)state;
	databuf_trim();
	for (int i = 0; i < 3; i++)
		p[i] = databuf_alloc(8192);
	for (int i = 0; i < 3; i++)
		databuf_free(p[i], 8192);
	assert_int_equal(databuf_cached(), 3 * 8192);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_align_and_reuse),
	    cmocka_unit_test(test_bounds),
	    cmocka_unit_test(test_small_burst),
	    cmocka_unit_test(test_idle_tick),
	    cmocka_unit_test(test_fault_injection),
	    cmocka_unit_test(test_cached_at_exit), /* last */
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
