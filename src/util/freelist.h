/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The ietd authors */
/*
 * An intrusive LIFO list of freed memory blocks, the core of the
 * per-thread caches (databuf, objcache): a cached block's first word links
 * it to the next one, so keeping a block costs no memory of its own.
 *
 * To AddressSanitizer and valgrind a cached block looks freed, so a use
 * after it was given back is reported just as a use after free() is.
 * Without either tool (or its header) that costs nothing; valgrind's
 * requests are a few instructions when the program runs natively.
 */
#ifndef IETD_UTIL_FREELIST_H
#define IETD_UTIL_FREELIST_H

#include <stddef.h>
#include <string.h>

#if defined(__has_include)
#if __has_include(<sanitizer/asan_interface.h>)
#include <sanitizer/asan_interface.h>
#endif
#if __has_include(<valgrind/memcheck.h>)
#include <valgrind/memcheck.h>
#endif
#endif

#ifndef ASAN_POISON_MEMORY_REGION
#define ASAN_POISON_MEMORY_REGION(p, n) ((void)(p), (void)(n))
#define ASAN_UNPOISON_MEMORY_REGION(p, n) ((void)(p), (void)(n))
#endif
#ifndef VALGRIND_MAKE_MEM_NOACCESS
#define VALGRIND_MAKE_MEM_NOACCESS(p, n) ((void)(p), (void)(n))
#define VALGRIND_MAKE_MEM_UNDEFINED(p, n) ((void)(p), (void)(n))
#endif

struct freelist {
	void *head;
	unsigned int count;
};

/*
 * Keep p, a block of size bytes (at least a pointer wide). Any access to
 * it is then an error, except to the first word, the link: the leak
 * checkers (LeakSanitizer, valgrind's) skip poisoned words when they look
 * for pointers, and behind a poisoned link every cached block but the
 * first would be reported as leaked.
 */
static inline void
freelist_push(struct freelist *fl, void *p, size_t size)
{
	memcpy(p, &fl->head, sizeof(void *));
	fl->head = p;
	fl->count++;
	ASAN_POISON_MEMORY_REGION((char *)p + sizeof(void *),
	    size - sizeof(void *));
	(void)VALGRIND_MAKE_MEM_NOACCESS((char *)p + sizeof(void *),
	    size - sizeof(void *));
}

/*
 * The block kept last (the list must not be empty), writable again; to
 * the checkers, a read of it before a write is an error.
 */
static inline void *
freelist_pop(struct freelist *fl, size_t size)
{
	void *p = fl->head;

	memcpy(&fl->head, p, sizeof(void *));
	fl->count--;
	ASAN_UNPOISON_MEMORY_REGION(p, size);
	(void)VALGRIND_MAKE_MEM_UNDEFINED(p, size);
	return p;
}

#endif /* IETD_UTIL_FREELIST_H */
