/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The ietd authors */
/*
 * Buffers for command data (Data-In, Data-Out, the medium a command reads
 * for itself). They are page aligned, so O_DIRECT block devices take them
 * without a bounce copy, and each thread keeps a few freed ones per size
 * class: a large malloc() is an mmap() whose pages fault in and are zeroed
 * on every command, and that cost as much as the data copy itself.
 */
#ifndef IETD_UTIL_DATABUF_H
#define IETD_UTIL_DATABUF_H

#include <stddef.h>

/* Smallest and largest size class; larger requests are not cached. */
#define DATABUF_ALIGN 4096u
#define DATABUF_MAX_CACHED (16u * 1024 * 1024)

/*
 * A buffer of at least len bytes, aligned to DATABUF_ALIGN, not zeroed;
 * NULL when memory (or the fault-injection hook) says no. Free it with
 * databuf_free() and the same len, from any thread.
 */
void *databuf_alloc(size_t len);
void databuf_free(void *p, size_t len);

/* Give this thread's cached buffers back to the system. */
void databuf_trim(void);

/*
 * Call periodically on a thread that allocates: empties the cache when
 * nothing was allocated since the previous call.
 */
void databuf_tick(void);

/* Bytes this thread holds in its cache (tests). */
size_t databuf_cached(void);

#endif /* IETD_UTIL_DATABUF_H */
