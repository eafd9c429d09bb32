/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The ietd authors */
/*
 * malloc wrappers with a fail-Nth hook. The counters are atomics so the
 * hook works with several event threads; when injection is off the cost is
 * one relaxed load per allocation.
 */
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"

static atomic_ulong fail_countdown; /* 0 = off */
static atomic_int fail_sticky;
static atomic_ulong fail_hits;
static __thread unsigned int fail_paused;

void
alloc_fail_pause(bool on)
{
	if (on)
		fail_paused++;
	else if (fail_paused > 0)
		fail_paused--;
}

void
alloc_fail_nth(unsigned long n, int sticky)
{
	atomic_store(&fail_sticky, sticky);
	atomic_store(&fail_hits, 0);
	atomic_store(&fail_countdown, n);
}

unsigned long
alloc_fail_hits(void)
{
	return atomic_load(&fail_hits);
}

int
mem_fail_injected(void)
{
	unsigned long c =
	    atomic_load_explicit(&fail_countdown, memory_order_relaxed);

	if (c == 0 || fail_paused > 0)
		return 0;
	if (c == 1) {
		if (!atomic_load(&fail_sticky))
			atomic_store(&fail_countdown, 0);
		atomic_fetch_add(&fail_hits, 1);
		return 1;
	}
	atomic_fetch_sub(&fail_countdown, 1);
	return 0;
}

void *
mem_alloc(size_t size)
{
	if (mem_fail_injected())
		return NULL;
	return malloc(size ? size : 1);
}

void *
mem_zalloc(size_t size)
{
	if (mem_fail_injected())
		return NULL;
	return calloc(1, size ? size : 1);
}

void *
mem_calloc(size_t n, size_t size)
{
	if (size && n > SIZE_MAX / size)
		return NULL;
	return mem_zalloc(n * size);
}

void *
mem_realloc(void *p, size_t size)
{
	if (mem_fail_injected())
		return NULL;
	return realloc(p, size ? size : 1);
}

char *
mem_strndup(const char *s, size_t n)
{
	size_t len = strnlen(s, n);
	char *d = mem_alloc(len + 1);

	if (d) {
		memcpy(d, s, len);
		d[len] = '\0';
	}
	return d;
}

char *
mem_strdup(const char *s)
{
	return mem_strndup(s, SIZE_MAX);
}

void
mem_free(void *p)
{
	free(p);
}
