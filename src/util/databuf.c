/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The ietd authors */
/*
 * Per-thread cache of data buffers in power-of-two size classes from 4 KiB
 * to 16 MiB. A buffer freed on one thread and allocated on another simply
 * moves between caches; no lock is needed because each cache is only
 * touched by its own thread. The cache is bounded per thread
 * (DATABUF_PER_CLASS buffers per class, DATABUF_THREAD_BYTES in all) and
 * an event thread empties it once it has been idle for a tick
 * (databuf_tick), so a burst leaves no memory behind; everything beyond
 * the bounds goes straight back to the allocator.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>

#include "alloc.h"
#include "databuf.h"

#define DATABUF_CLASSES 13 /* 4 KiB << 0 .. 4 KiB << 12 = 16 MiB */
/*
 * A connection with 32 commands of 1 MiB in flight allocates them in a
 * burst and frees them in a burst; the cache must hold a burst or it
 * turns back into mmap/munmap per command.
 */
#define DATABUF_PER_CLASS 64
#define DATABUF_THREAD_BYTES (64u * 1024 * 1024)

struct databuf_cache {
	void *slot[DATABUF_CLASSES][DATABUF_PER_CLASS];
	unsigned int count[DATABUF_CLASSES];
	size_t bytes;
	unsigned long uses, uses_at_tick;
	int exit_hooked;
};

static __thread struct databuf_cache databuf_tls;
static pthread_key_t databuf_key;
static pthread_once_t databuf_once = PTHREAD_ONCE_INIT;

/* Class index for len, or -1 when len is above the largest class. */
static int
databuf_class(size_t len)
{
	size_t size = DATABUF_ALIGN;
	int c = 0;

	while (size < len) {
		if (++c == DATABUF_CLASSES)
			return -1;
		size <<= 1;
	}
	return c;
}

static size_t
databuf_class_size(int c)
{
	return (size_t)DATABUF_ALIGN << c;
}

static void
databuf_thread_exit(void *arg)
{
	(void)arg;
	databuf_trim();
}

static void
databuf_key_init(void)
{
	(void)pthread_key_create(&databuf_key, databuf_thread_exit);
}

/* Have the cache emptied when this thread exits (threads come and go). */
static void
databuf_hook_exit(struct databuf_cache *dc)
{
	if (dc->exit_hooked)
		return;
	(void)pthread_once(&databuf_once, databuf_key_init);
	if (pthread_setspecific(databuf_key, dc) == 0)
		dc->exit_hooked = 1;
}

void *
databuf_alloc(size_t len)
{
	struct databuf_cache *dc = &databuf_tls;
	int c = databuf_class(len ? len : 1);
	size_t size;
	void *p;

	if (mem_fail_injected())
		return NULL;
	dc->uses++;
	if (c >= 0 && dc->count[c] > 0) {
		dc->bytes -= databuf_class_size(c);
		return dc->slot[c][--dc->count[c]];
	}
	size = c >= 0 ? databuf_class_size(c) : len;
	if (posix_memalign(&p, DATABUF_ALIGN, size) == 0)
		return p;
	/* Out of memory: what this thread caches may be what is missing. */
	if (dc->bytes == 0)
		return NULL;
	databuf_trim();
	return posix_memalign(&p, DATABUF_ALIGN, size) == 0 ? p : NULL;
}

void
databuf_free(void *p, size_t len)
{
	struct databuf_cache *dc = &databuf_tls;
	int c;

	if (p == NULL)
		return;
	c = databuf_class(len ? len : 1);
	if (c < 0 || dc->count[c] == DATABUF_PER_CLASS ||
	    dc->bytes + databuf_class_size(c) > DATABUF_THREAD_BYTES) {
		free(p);
		return;
	}
	databuf_hook_exit(dc);
	dc->slot[c][dc->count[c]++] = p;
	dc->bytes += databuf_class_size(c);
}

void
databuf_trim(void)
{
	struct databuf_cache *dc = &databuf_tls;

	for (int c = 0; c < DATABUF_CLASSES; c++) {
		while (dc->count[c] > 0)
			free(dc->slot[c][--dc->count[c]]);
	}
	dc->bytes = 0;
}

void
databuf_tick(void)
{
	struct databuf_cache *dc = &databuf_tls;

	if (dc->uses == dc->uses_at_tick && dc->bytes > 0)
		databuf_trim();
	dc->uses_at_tick = dc->uses;
}

size_t
databuf_cached(void)
{
	return databuf_tls.bytes;
}
