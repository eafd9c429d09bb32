/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The ietd authors */
/*
 * Epoch-based reclamation: a retired object goes at once when no reader
 * is inside a section, waits for a reader that was (nested sections keep
 * the outer one's hold) and not for one that began after it, and under
 * load no reader ever sees a freed object (the objects are poisoned on
 * free; the sanitizer build also catches any use after free).
 */
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "util/epoch.h"

#define LIVE 0x11111111u
#define DEAD 0xdeaddeadu

struct obj {
	atomic_uint tag;
};

static atomic_int freed;

static void
obj_free(void *p)
{
	struct obj *o = p;

	atomic_store(&o->tag, DEAD);
	atomic_fetch_add(&freed, 1);
	free(o);
}

static struct obj *
obj_new(void)
{
	struct obj *o = malloc(sizeof(*o));

	assert_non_null(o);
	atomic_init(&o->tag, LIVE);
	return o;
}

/* A reader thread that enters, signals, and leaves when told. */
struct holder {
	pthread_t thread;
	atomic_int state; /* 0 start, 1 inside, 2 may leave, 3 left */
	int nest;
};

static void *
holder_main(void *arg)
{
	struct holder *h = arg;

	for (int i = 0; i < h->nest; i++)
		epoch_enter();
	/* The inner sections end; the outer one still holds. */
	for (int i = 1; i < h->nest; i++)
		epoch_exit();
	atomic_store(&h->state, 1);
	while (atomic_load(&h->state) != 2)
		sched_yield();
	epoch_exit();
	epoch_thread_unregister();
	atomic_store(&h->state, 3);
	return NULL;
}

static void
holder_start(struct holder *h, int nest)
{
	atomic_init(&h->state, 0);
	h->nest = nest;
	assert_int_equal(pthread_create(&h->thread, NULL, holder_main, h), 0);
	while (atomic_load(&h->state) != 1)
		sched_yield();
}

static void
holder_stop(struct holder *h)
{
	atomic_store(&h->state, 2);
	pthread_join(h->thread, NULL);
}

static void
test_no_readers_frees_at_once(void **state)
{
	(void)state;
	atomic_store(&freed, 0);
	epoch_retire(obj_new(), obj_free);
	assert_int_equal(atomic_load(&freed), 1);
	assert_int_equal(epoch_pending(), 0);
	epoch_retire(NULL, obj_free); /* nothing */
	assert_int_equal(atomic_load(&freed), 1);
}

static void
test_waits_for_reader(void **state)
{
	struct holder h;

	(void)state;
	for (int nest = 1; nest <= 3; nest++) {
		atomic_store(&freed, 0);
		holder_start(&h, nest);
		epoch_retire(obj_new(), obj_free);
		assert_int_equal(atomic_load(&freed), 0);
		assert_int_equal(epoch_pending(), 1);
		epoch_reclaim(); /* still inside */
		assert_int_equal(atomic_load(&freed), 0);
		holder_stop(&h);
		epoch_reclaim();
		assert_int_equal(atomic_load(&freed), 1);
		assert_int_equal(epoch_pending(), 0);
	}
}

static void
test_later_reader_does_not_hold(void **state)
{
	struct holder early, late;

	(void)state;
	atomic_store(&freed, 0);
	holder_start(&early, 1);
	epoch_retire(obj_new(), obj_free); /* held by early */
	holder_start(&late, 1);
	holder_stop(&early);
	/* late began after the retirement: it cannot see the object. */
	epoch_reclaim();
	assert_int_equal(atomic_load(&freed), 1);
	/* But it holds what is retired now. */
	epoch_retire(obj_new(), obj_free);
	assert_int_equal(atomic_load(&freed), 1);
	holder_stop(&late);
	epoch_reclaim();
	assert_int_equal(atomic_load(&freed), 2);
}

/* Readers that check the object they find is alive, as commands do. */
static struct obj *_Atomic shared;
static atomic_bool stop;
static atomic_long seen_dead;
static atomic_long reads_done;

static void *
reader_main(void *arg)
{
	long reads = 0;

	(void)arg;
	while (!atomic_load(&stop)) {
		struct obj *o;

		epoch_enter();
		o = atomic_load_explicit(&shared, memory_order_acquire);
		if (atomic_load(&o->tag) != LIVE)
			atomic_fetch_add(&seen_dead, 1);
		epoch_exit();
		reads++;
		atomic_fetch_add(&reads_done, 1);
	}
	epoch_thread_unregister();
	return (void *)reads;
}

static void
test_stress(void **state)
{
	pthread_t readers[3];
	long total = 0;

	(void)state;
	atomic_store(&freed, 0);
	atomic_store(&stop, false);
	atomic_store(&seen_dead, 0);
	atomic_store(&reads_done, 0);
	atomic_store(&shared, obj_new());
	for (int i = 0; i < 3; i++)
		assert_int_equal(pthread_create(&readers[i], NULL, reader_main,
				     NULL),
		    0);
	/* On a loaded machine the readers may take a while to run. */
	while (atomic_load(&reads_done) < 100)
		sched_yield();
	for (int i = 0; i < 1000; i++) {
		struct obj *old = atomic_exchange(&shared, obj_new());

		epoch_retire(old, obj_free);
		if (i % 100 == 0)
			epoch_reclaim();
	}
	atomic_store(&stop, true);
	for (int i = 0; i < 3; i++) {
		void *r;

		pthread_join(readers[i], &r);
		total += (long)r;
	}
	epoch_reclaim();
	assert_int_equal(atomic_load(&seen_dead), 0);
	assert_int_equal(epoch_pending(), 0);
	assert_int_equal(atomic_load(&freed), 1000);
	assert_true(total > 0);
	obj_free(atomic_load(&shared));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_no_readers_frees_at_once),
	    cmocka_unit_test(test_waits_for_reader),
	    cmocka_unit_test(test_later_reader_does_not_hold),
	    cmocka_unit_test(test_stress),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
