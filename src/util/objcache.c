/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The ietd authors */
/*
 * Per-thread free lists of fixed-size objects. Each thread has a table
 * with one list per object type; an object freed on another thread than
 * the one that allocated it simply joins that thread's list, so no list
 * is ever touched by two threads and none needs a lock. A freed object's
 * first bytes hold the link to the next one.
 *
 * Cached objects stay off limits to the memory checkers: AddressSanitizer
 * sees them poisoned and valgrind sees them inaccessible, so a use after
 * objcache_free() is reported as it would be after free().
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "memcheck.h"
#include "objcache.h"
#include "thread_exit.h"

struct objcache_list {
	void *head;
	unsigned int count;
	size_t size;
};

struct objcache_thread {
	struct objcache_list list[OBJCACHE_TYPES];
	unsigned long uses, uses_at_tick;
	unsigned int held; /* objects on all lists */
	bool exit_hooked;
};

static __thread struct objcache_thread objcache_tls;
static pthread_mutex_t objcache_rows_lock = PTHREAD_MUTEX_INITIALIZER;
static int objcache_rows; /* rows handed out so far */

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
		atomic_store_explicit(&oc->slot, slot, memory_order_release);
	}
	pthread_mutex_unlock(&objcache_rows_lock);
	return slot > 0 ? slot - 1 : -1;
}

/* Objects are at least a link wide. */
static size_t
objcache_size(const struct objcache *oc)
{
	return oc->size < sizeof(void *) ? sizeof(void *) : oc->size;
}

static void *
objcache_pop(struct objcache_list *l)
{
	void *p = l->head;

	memcpy(&l->head, p, sizeof(void *));
	MEMCHECK_UNDEFINED(p, l->size);
	l->count--;
	return p;
}

void *
objcache_alloc(struct objcache *oc)
{
	struct objcache_thread *ot = &objcache_tls;
	size_t size = objcache_size(oc);
	int row = objcache_row(oc);
	void *p;

	if (mem_fail_injected())
		return NULL;
	ot->uses++;
	if (row >= 0 && ot->list[row].count > 0) {
		p = objcache_pop(&ot->list[row]);
		ot->held--;
		return memset(p, 0, size);
	}
	p = calloc(1, size);
	if (p != NULL || ot->held == 0)
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
	struct objcache_list *l;

	if (p == NULL)
		return;
	row = objcache_row(oc);
	if (row < 0 || ot->list[row].count >= oc->keep) {
		free(p);
		return;
	}
	objcache_hook_exit(ot);
	l = &ot->list[row];
	l->size = objcache_size(oc);
	memcpy(p, &l->head, sizeof(void *));
	l->head = p;
	l->count++;
	ot->held++;
	MEMCHECK_CACHED(p, l->size);
}

void
objcache_trim(void)
{
	struct objcache_thread *ot = &objcache_tls;

	for (int row = 0; row < OBJCACHE_TYPES; row++) {
		struct objcache_list *l = &ot->list[row];

		while (l->count > 0)
			free(objcache_pop(l));
	}
	ot->held = 0;
}

void
objcache_tick(void)
{
	struct objcache_thread *ot = &objcache_tls;

	if (ot->uses == ot->uses_at_tick && ot->held > 0)
		objcache_trim();
	ot->uses_at_tick = ot->uses;
}

unsigned int
objcache_cached(struct objcache *oc)
{
	int row = objcache_row(oc);

	return row < 0 ? 0 : objcache_tls.list[row].count;
}
