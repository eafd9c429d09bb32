/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The ietd authors */
/*
 * Allocation wrappers with a fault-injection hook (SQLite style): tests set
 * alloc_fail_nth(n) and the n-th allocation from then on returns NULL, so
 * every out-of-memory path can be walked. All serving-path code allocates
 * through these and handles NULL; nothing here aborts.
 */
#ifndef IETD_UTIL_ALLOC_H
#define IETD_UTIL_ALLOC_H

#include <stdbool.h>
#include <stddef.h>

/* Caller frees with mem_free(). Return NULL on failure (real or injected). */
void *mem_alloc(size_t size);
void *mem_zalloc(size_t size);
void *mem_calloc(size_t n, size_t size); /* overflow-checked */
void *mem_realloc(void *p, size_t size);
char *mem_strdup(const char *s);
char *mem_strndup(const char *s, size_t n);
void mem_free(void *p);

/*
 * Fault injection. n > 0: the n-th allocation counted from this call fails
 * (and, if sticky, every one after it). n == 0 turns injection off.
 * Returns nothing; alloc_fail_hits() says how many allocations were failed.
 */
void alloc_fail_nth(unsigned long n, int sticky);
unsigned long alloc_fail_hits(void);
/*
 * Nestable, per thread: while paused, this thread's allocations neither
 * count nor fail (the control socket's own plumbing, so a test's request
 * to arm or read the hook cannot trip it).
 */
void alloc_fail_pause(bool on);

/*
 * For allocators built on these (databuf.c): counts one allocation and
 * says whether the hook fails it.
 */
int mem_fail_injected(void);

#endif /* IETD_UTIL_ALLOC_H */
