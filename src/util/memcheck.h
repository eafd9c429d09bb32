/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The ietd authors */
/*
 * Telling the memory checkers about memory a cache keeps for reuse: to
 * AddressSanitizer and valgrind a cached object must look freed, so a use
 * after it was given back is reported just as a use after free() is.
 * The sizes given are at least a pointer wide.
 * Without either tool (or its header) these cost nothing; valgrind's
 * requests are a few instructions when the program runs natively.
 */
#ifndef IETD_UTIL_MEMCHECK_H
#define IETD_UTIL_MEMCHECK_H

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

/*
 * Kept in a cache: any access is an error, except to the first word,
 * which links the object to the next one. That word stays readable
 * because the leak checkers (LeakSanitizer, valgrind's) skip poisoned
 * words when they look for pointers: behind a poisoned link, every cached
 * object but the first would be reported as leaked.
 */
#define MEMCHECK_CACHED(p, n)                                                  \
	do {                                                                   \
		ASAN_POISON_MEMORY_REGION((char *)(p) + sizeof(void *),        \
		    (n) - sizeof(void *));                                     \
		(void)VALGRIND_MAKE_MEM_NOACCESS((char *)(p) + sizeof(void *), \
		    (n) - sizeof(void *));                                     \
	} while (0)
/* Handed out again: may be written; a read before a write is an error. */
#define MEMCHECK_UNDEFINED(p, n)                             \
	do {                                                 \
		ASAN_UNPOISON_MEMORY_REGION((p), (n));       \
		(void)VALGRIND_MAKE_MEM_UNDEFINED((p), (n)); \
	} while (0)

#endif /* IETD_UTIL_MEMCHECK_H */
