/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The ietd authors */
/*
 * One pthread key for the whole process; its value on a thread is that
 * thread's table of functions, which the key's destructor runs.
 */
#include <pthread.h>
#include <stdbool.h>

#include "thread_exit.h"

struct thread_exit_fns {
	void (*fn[THREAD_EXIT_MAX])(void);
	int count;
};

static __thread struct thread_exit_fns thread_exit_tls;
static pthread_key_t thread_exit_key;
static pthread_once_t thread_exit_once = PTHREAD_ONCE_INIT;
static bool thread_exit_key_ok;

static void
thread_exit_run(void *arg)
{
	struct thread_exit_fns *t = arg;

	for (int i = 0; i < t->count; i++)
		t->fn[i]();
	t->count = 0;
}

static void
thread_exit_key_init(void)
{
	thread_exit_key_ok =
	    pthread_key_create(&thread_exit_key, thread_exit_run) == 0;
}

int
thread_at_exit(void (*fn)(void))
{
	struct thread_exit_fns *t = &thread_exit_tls;

	for (int i = 0; i < t->count; i++) {
		if (t->fn[i] == fn)
			return 0;
	}
	if (t->count == THREAD_EXIT_MAX)
		return -1;
	(void)pthread_once(&thread_exit_once, thread_exit_key_init);
	if (!thread_exit_key_ok || pthread_setspecific(thread_exit_key, t) != 0)
		return -1;
	t->fn[t->count++] = fn;
	return 0;
}
