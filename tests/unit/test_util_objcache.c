/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The ietd authors */
/*
 * The per-thread object cache: a freed object comes back zeroed, each
 * type keeps its own list up to its bound, an idle tick and a thread's
 * exit empty the lists, and the fault-injection hook counts every
 * allocation, cached or not.
 */
#include <sys/wait.h>

#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "util/alloc.h"
#include "util/objcache.h"

struct small {
	uint64_t a, b;
};

struct large {
	uint8_t bytes[1152]; /* an iSCSI task's size: above glibc's tcache */
};

static struct objcache small_cache = OBJCACHE_INIT(sizeof(struct small), 4);
static struct objcache large_cache = OBJCACHE_INIT(sizeof(struct large), 16);
static struct objcache tiny_cache = OBJCACHE_INIT(1, 4);

static void
test_reuse_zeroed(void **state)
{
	struct large *a, *b;

	(void)state;
	objcache_trim();
	a = objcache_alloc(&large_cache);
	assert_non_null(a);
	for (size_t i = 0; i < sizeof(a->bytes); i++)
		assert_int_equal(a->bytes[i], 0);
	memset(a, 0xff, sizeof(*a));
	objcache_free(&large_cache, a);
	assert_int_equal(objcache_cached(&large_cache), 1);
	/* The same object, and zeroed again as calloc() would give it. */
	b = objcache_alloc(&large_cache);
	assert_ptr_equal(b, a);
	for (size_t i = 0; i < sizeof(b->bytes); i++)
		assert_int_equal(b->bytes[i], 0);
	assert_int_equal(objcache_cached(&large_cache), 0);
	objcache_free(&large_cache, b);
	objcache_free(&large_cache, NULL); /* nothing */
	assert_int_equal(objcache_cached(&large_cache), 1);
	objcache_trim();
	assert_int_equal(objcache_cached(&large_cache), 0);
}

static void
test_types_apart(void **state)
{
	struct small *s;
	struct large *l;
	void *t;

	(void)state;
	objcache_trim();
	s = objcache_alloc(&small_cache);
	l = objcache_alloc(&large_cache);
	t = objcache_alloc(&tiny_cache); /* rounded up to hold the link */
	assert_non_null(s);
	assert_non_null(l);
	assert_non_null(t);
	objcache_free(&small_cache, s);
	objcache_free(&tiny_cache, t);
	/* A large object is never handed out from the small list. */
	assert_int_equal(objcache_cached(&large_cache), 0);
	objcache_free(&large_cache, l);
	assert_ptr_equal(objcache_alloc(&small_cache), s);
	assert_ptr_equal(objcache_alloc(&large_cache), l);
	assert_ptr_equal(objcache_alloc(&tiny_cache), t);
	objcache_free(&small_cache, s);
	objcache_free(&large_cache, l);
	objcache_free(&tiny_cache, t);
	objcache_trim();
}

static void
test_bound(void **state)
{
	enum { N = 10 };
	struct small *p[N];

	(void)state;
	objcache_trim();
	for (int i = 0; i < N; i++)
		assert_non_null(p[i] = objcache_alloc(&small_cache));
	for (int i = 0; i < N; i++)
		objcache_free(&small_cache, p[i]);
	/* The type's bound is 4; the other six went back to the allocator. */
	assert_int_equal(objcache_cached(&small_cache), 4);
	objcache_trim();
}

static void
test_idle_tick(void **state)
{
	void *p;

	(void)state;
	objcache_trim();
	objcache_tick();
	p = objcache_alloc(&large_cache);
	objcache_free(&large_cache, p);
	/* Used since the last tick: kept. */
	objcache_tick();
	assert_int_equal(objcache_cached(&large_cache), 1);
	/* A whole tick without an allocation: let go. */
	objcache_tick();
	assert_int_equal(objcache_cached(&large_cache), 0);
}

static void *
thread_frees(void *arg)
{
	/* Freed here, the object joins this thread's list... */
	objcache_free(&large_cache, arg);
	return (void *)(uintptr_t)objcache_cached(&large_cache);
}

static void
test_other_thread(void **state)
{
	pthread_t t;
	void *p, *held;

	(void)state;
	objcache_trim();
	p = objcache_alloc(&large_cache);
	assert_int_equal(pthread_create(&t, NULL, thread_frees, p), 0);
	assert_int_equal(pthread_join(t, &held), 0);
	assert_int_equal((uintptr_t)held, 1);
	/* ...and the thread's exit gave it back (valgrind would see a leak). */
	assert_int_equal(objcache_cached(&large_cache), 0);
}

#if defined(__SANITIZE_ADDRESS__)
#define BUILT_WITH_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define BUILT_WITH_ASAN 1
#endif
#endif

/*
 * A cached object is poisoned: touching it after objcache_free() is
 * reported as a use after free is. Only an ASan build (make SAN=1) can
 * show it; the child reads the object and must be stopped.
 */
static void
test_use_after_free_caught(void **state)
{
#ifdef BUILT_WITH_ASAN
	struct large *volatile p;
	char report[8192];
	size_t got = 0;
	ssize_t n;
	int fds[2], status;
	pid_t pid;

	(void)state;
	objcache_trim();
	p = objcache_alloc(&large_cache);
	objcache_free(&large_cache, p);
	assert_int_equal(pipe(fds), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		volatile uint8_t byte;

		(void)dup2(fds[1], STDERR_FILENO);
		byte = p->bytes[100];
		(void)byte;
		_exit(0);
	}
	close(fds[1]);
	while (got < sizeof(report) - 1 &&
	    (n = read(fds[0], report + got, sizeof(report) - 1 - got)) > 0)
		got += (size_t)n;
	report[got] = '\0';
	close(fds[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_false(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	assert_non_null(strstr(report, "use-after-poison"));
	objcache_trim();
#else
	(void)state;
	skip();
#endif
}

static void
test_fault_injection(void **state)
{
	void *p;

	(void)state;
	objcache_trim();
	p = objcache_alloc(&small_cache);
	objcache_free(&small_cache, p);
	/* The hook fails the next allocation, cached object or not. */
	alloc_fail_nth(1, 0);
	assert_null(objcache_alloc(&small_cache));
	assert_int_equal(alloc_fail_hits(), 1);
	p = objcache_alloc(&small_cache);
	assert_non_null(p);
	objcache_free(&small_cache, p);
	objcache_trim();
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
	objcache_trim();
	for (int i = 0; i < 3; i++)
		p[i] = objcache_alloc(&large_cache);
	for (int i = 0; i < 3; i++)
		objcache_free(&large_cache, p[i]);
	assert_int_equal(objcache_cached(&large_cache), 3);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_reuse_zeroed),
	    cmocka_unit_test(test_types_apart),
	    cmocka_unit_test(test_bound),
	    cmocka_unit_test(test_idle_tick),
	    cmocka_unit_test(test_other_thread),
	    cmocka_unit_test(test_use_after_free_caught),
	    cmocka_unit_test(test_fault_injection),
	    cmocka_unit_test(test_cached_at_exit), /* last */
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
