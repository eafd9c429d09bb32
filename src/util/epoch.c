/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The ietd authors */
/*
 * Epoch-based reclamation (see epoch.h). A global epoch counts
 * retirements; each reader thread owns a slot that holds the epoch it saw
 * when its current section began, or 0 outside sections. An object
 * retired at epoch e may still be seen only by a reader whose slot holds
 * a non-zero value below e; once none does, it is freed.
 *
 * Why it is correct: the writer stores the new pointer, then (seq_cst
 * fence) advances the epoch and reads every slot; a reader stores its
 * slot, then (seq_cst fence) loads the pointer. Of the two fences one
 * comes first in the single total order of seq_cst operations: if the
 * writer's, the reader loads the new pointer; if the reader's, the writer
 * sees the reader's slot and waits for it. A reader that saw the advanced
 * epoch synchronizes with the writer's fence and so loads the new pointer
 * as well, which is why a slot at e or above does not hold e back.
 */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>

#include "util/alloc.h"
#include "util/epoch.h"
#include "util/list.h"

struct epoch_slot {
	_Alignas(64) atomic_uint_fast64_t active; /* 0: outside sections */
	atomic_bool used;
};

struct epoch_retired {
	struct list_node node;
	uint64_t epoch;
	void *p;
	void (*free_fn)(void *p);
};

/* Yields epoch_retire() waits for readers before it defers the free. */
#define EPOCH_RETIRE_SPINS 100

static struct epoch_slot epoch_slots[EPOCH_THREADS_MAX];
static atomic_uint_fast64_t epoch_now = 1;
static __thread int epoch_my_slot = -1;
static __thread unsigned int epoch_depth; /* sections this thread is in */

static pthread_mutex_t epoch_lock = PTHREAD_MUTEX_INITIALIZER;
static struct list_node epoch_list = {&epoch_list, &epoch_list};
static unsigned int epoch_count; /* on epoch_list */

void
epoch_thread_register(void)
{
	while (epoch_my_slot < 0) {
		for (int i = 0; i < EPOCH_THREADS_MAX; i++) {
			bool expect = false;

			if (atomic_compare_exchange_strong(&epoch_slots[i].used,
				&expect, true)) {
				atomic_store(&epoch_slots[i].active, 0);
				epoch_my_slot = i;
				return;
			}
		}
		/* Every slot taken: ietd runs far fewer threads than that. */
		sched_yield();
	}
}

void
epoch_thread_unregister(void)
{
	if (epoch_my_slot < 0)
		return;
	atomic_store(&epoch_slots[epoch_my_slot].active, 0);
	atomic_store(&epoch_slots[epoch_my_slot].used, false);
	epoch_my_slot = -1;
}

void
epoch_enter(void)
{
	if (epoch_depth++ > 0)
		return; /* the outer section's epoch holds */
	if (epoch_my_slot < 0)
		epoch_thread_register();
	atomic_store_explicit(&epoch_slots[epoch_my_slot].active,
	    atomic_load_explicit(&epoch_now, memory_order_relaxed),
	    memory_order_relaxed);
	atomic_thread_fence(memory_order_seq_cst);
}

void
epoch_exit(void)
{
	if (--epoch_depth > 0)
		return;
	atomic_store_explicit(&epoch_slots[epoch_my_slot].active, 0,
	    memory_order_release);
}

/* May a reader still see what was retired at epoch e? */
static bool
epoch_readers_before(uint64_t e)
{
	for (int i = 0; i < EPOCH_THREADS_MAX; i++) {
		uint64_t a;

		if (!atomic_load_explicit(&epoch_slots[i].used,
			memory_order_relaxed))
			continue;
		a = atomic_load_explicit(&epoch_slots[i].active,
		    memory_order_acquire);
		if (a != 0 && a < e)
			return true;
	}
	return false;
}

void
epoch_retire(void *p, void (*free_fn)(void *p))
{
	struct epoch_retired *r;
	uint64_t e;

	if (p == NULL)
		return;
	atomic_thread_fence(memory_order_seq_cst);
	e = atomic_fetch_add(&epoch_now, 1) + 1;
	atomic_thread_fence(memory_order_seq_cst);
	/*
	 * Sections last microseconds: a short wait mostly frees it here,
	 * so what it held (an LU's file) goes when the caller expects.
	 */
	for (int spins = 0; spins < EPOCH_RETIRE_SPINS; spins++) {
		if (!epoch_readers_before(e)) {
			free_fn(p);
			return;
		}
		sched_yield();
	}
	r = mem_zalloc(sizeof(*r));
	if (r == NULL) {
		/* No room to wait for them later: wait now (microseconds). */
		while (epoch_readers_before(e))
			sched_yield();
		free_fn(p);
		return;
	}
	r->epoch = e;
	r->p = p;
	r->free_fn = free_fn;
	pthread_mutex_lock(&epoch_lock);
	list_add_tail(&epoch_list, &r->node);
	epoch_count++;
	pthread_mutex_unlock(&epoch_lock);
}

void
epoch_reclaim(void)
{
	struct list_node done, *pos, *tmp;

	list_init(&done);
	pthread_mutex_lock(&epoch_lock);
	list_for_each_safe(pos, tmp, &epoch_list) {
		struct epoch_retired *r =
		    list_entry(pos, struct epoch_retired, node);

		if (epoch_readers_before(r->epoch))
			continue;
		list_remove(pos);
		list_add_tail(&done, pos);
		epoch_count--;
	}
	pthread_mutex_unlock(&epoch_lock);
	/* Outside the lock: a free_fn may retire more. */
	list_for_each_safe(pos, tmp, &done) {
		struct epoch_retired *r =
		    list_entry(pos, struct epoch_retired, node);

		list_remove(pos);
		r->free_fn(r->p);
		mem_free(r);
	}
}

unsigned int
epoch_pending(void)
{
	unsigned int n;

	pthread_mutex_lock(&epoch_lock);
	n = epoch_count;
	pthread_mutex_unlock(&epoch_lock);
	return n;
}
