/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The ietd authors */
/*
 * Per-thread cache of data buffers in power-of-two size classes from 4 KiB
 * to 16 MiB. A buffer freed on one thread and allocated on another simply
 * moves between caches; no lock is needed because each cache is only
 * touched by its own thread. Each class is a freelist (freelist.h). The
 * cache is bounded per thread (per class, and
 * DATABUF_THREAD_BYTES in all) and an event thread empties it once it has
 * been idle for a tick (databuf_tick), so a burst leaves no memory behind;
 * everything beyond the bounds goes straight back to the allocator.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

#include "alloc.h"
#include "databuf.h"
#include "freelist.h"
#include "thread_exit.h"

#define DATABUF_CLASSES 13 /* 4 KiB << 0 .. 4 KiB << 12 = 16 MiB */
/*
 * How many buffers of a class a thread keeps: enough for a burst of
 * large commands (a connection with 32 commands of 1 MiB in flight
 * allocates them together and frees them together), and enough small
 * ones for every 4 KiB command of 256 sessions with 4 in flight each.
 * Below these bounds a burst turned into malloc() and free() of each
 * buffer; the heap then grew and was trimmed back to the kernel on every
 * burst, which cost more than the commands themselves.
 */
#define DATABUF_CLASS_MIN 64
#define DATABUF_CLASS_BYTES (8u * 1024 * 1024)
#define DATABUF_THREAD_BYTES (64u * 1024 * 1024)

struct databuf_cache {
	struct freelist list[DATABUF_CLASSES];
	size_t bytes;
	unsigned long uses, uses_at_tick;
	bool exit_hooked;
};

static __thread struct databuf_cache databuf_tls;

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

static unsigned int
databuf_class_keep(int c)
{
	size_t n = DATABUF_CLASS_BYTES / databuf_class_size(c);

	return n > DATABUF_CLASS_MIN ? (unsigned int)n : DATABUF_CLASS_MIN;
}

static void *
databuf_pop(struct databuf_cache *dc, int c)
{
	dc->bytes -= databuf_class_size(c);
	return freelist_pop(&dc->list[c], databuf_class_size(c));
}

/* Have the cache emptied when this thread exits (threads come and go). */
static void
databuf_hook_exit(struct databuf_cache *dc)
{
	if (!dc->exit_hooked)
		dc->exit_hooked = thread_at_exit(databuf_trim) == 0;
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
	if (c >= 0 && dc->list[c].count > 0)
		return databuf_pop(dc, c);
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
	if (c < 0 || dc->list[c].count >= databuf_class_keep(c) ||
	    dc->bytes + databuf_class_size(c) > DATABUF_THREAD_BYTES) {
		free(p);
		return;
	}
	databuf_hook_exit(dc);
	freelist_push(&dc->list[c], p, databuf_class_size(c));
	dc->bytes += databuf_class_size(c);
}

void
databuf_trim(void)
{
	struct databuf_cache *dc = &databuf_tls;

	for (int c = 0; c < DATABUF_CLASSES; c++) {
		while (dc->list[c].count > 0)
			free(databuf_pop(dc, c));
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
