/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The ietd authors */
/*
 * Per-thread free lists of fixed-size objects. Each thread has a table
 * with one list per object type; an object freed on another thread than
 * the one that allocated it simply joins that thread's list, so no list
 * is ever touched by two threads and none needs a lock. The lists are
 * freelists (freelist.h): a use after objcache_free() is reported by the
 * memory checkers as a use after free() is.
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "freelist.h"
#include "objcache.h"
#include "thread_exit.h"

struct objcache_thread {
	struct freelist list[OBJCACHE_TYPES];
	unsigned long uses, uses_at_tick;
	bool exit_hooked;
};

static __thread struct objcache_thread objcache_tls;
static pthread_mutex_t objcache_rows_lock = PTHREAD_MUTEX_INITIALIZER;
static int objcache_rows; /* rows handed out so far */
/* Each row's object size; written once, before the row is handed out. */
static size_t objcache_row_size[OBJCACHE_TYPES];

/* Have this thread's lists emptied when it exits (threads come and go). */
static void
objcache_hook_exit(struct objcache_thread *ot)
{
	if (!ot->exit_hooked)
		ot->exit_hooked = thread_at_exit(objcache_trim) == 0;
}

/* oc's row in every thread's table, or -1 when the table is full. */
static int
objcache_row(struct objcache *oc)
{
	int slot = atomic_load_explicit(&oc->slot, memory_order_acquire);

	if (slot > 0)
		return slot - 1;
	if (slot < 0)
		return -1;
	pthread_mutex_lock(&objcache_rows_lock);
	slot = atomic_load_explicit(&oc->slot, memory_order_relaxed);
	if (slot == 0) {
		slot = objcache_rows < OBJCACHE_TYPES ? ++objcache_rows : -1;
		if (slot > 0) /* objects are at least a link wide */
			objcache_row_size[slot - 1] = oc->size < sizeof(void *)
			    ? sizeof(void *)
			    : oc->size;
		atomic_store_explicit(&oc->slot, slot, memory_order_release);
	}
	pthread_mutex_unlock(&objcache_rows_lock);
	return slot > 0 ? slot - 1 : -1;
}

/* Objects on all of this thread's lists. */
static unsigned int
objcache_held(const struct objcache_thread *ot)
{
	unsigned int n = 0;

	for (int row = 0; row < OBJCACHE_TYPES; row++)
		n += ot->list[row].count;
	return n;
}

void *
objcache_alloc(struct objcache *oc)
{
	struct objcache_thread *ot = &objcache_tls;
	int row = objcache_row(oc);
	size_t size = row >= 0 ? objcache_row_size[row] : oc->size;
	void *p;

	if (mem_fail_injected())
		return NULL;
	ot->uses++;
	if (row >= 0 && ot->list[row].count > 0)
		return memset(freelist_pop(&ot->list[row], size), 0, size);
	p = calloc(1, size);
	if (p != NULL || objcache_held(ot) == 0)
		return p;
	/* Out of memory: what this thread caches may be what is missing. */
	objcache_trim();
	return calloc(1, size);
}

void
objcache_free(struct objcache *oc, void *p)
{
	struct objcache_thread *ot = &objcache_tls;
	int row;

	if (p == NULL)
		return;
	row = objcache_row(oc);
	if (row < 0 || ot->list[row].count >= oc->keep) {
		free(p);
		return;
	}
	objcache_hook_exit(ot);
	freelist_push(&ot->list[row], p, objcache_row_size[row]);
}

void
objcache_trim(void)
{
	struct objcache_thread *ot = &objcache_tls;

	for (int row = 0; row < OBJCACHE_TYPES; row++) {
		while (ot->list[row].count > 0)
			free(freelist_pop(&ot->list[row],
			    objcache_row_size[row]));
	}
}

void
objcache_tick(void)
{
	struct objcache_thread *ot = &objcache_tls;

	if (ot->uses == ot->uses_at_tick && objcache_held(ot) > 0)
		objcache_trim();
	ot->uses_at_tick = ot->uses;
}

unsigned int
objcache_cached(struct objcache *oc)
{
	int row = objcache_row(oc);

	return row < 0 ? 0 : objcache_tls.list[row].count;
}
