/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The ietd authors */
/*
 * Per-thread free lists for the fixed-size objects every command
 * allocates and frees: the iSCSI task, the SCSI command, each response
 * PDU. Through malloc() these cost more than the command itself once
 * hundreds of sessions keep a thousand of them in flight: a task is too
 * large for glibc's thread cache, so each one goes through the arena's
 * bins, and the arena's free space is trimmed back to the kernel and
 * faulted in again with every burst. Here a thread keeps the objects it
 * frees, up to a bound, and empties its lists once it has been idle for
 * a tick, like databuf.
 *
 * Declare one `struct objcache` per object type, statically:
 *     static struct objcache task_cache =
 *         OBJCACHE_INIT(sizeof(struct iscsi_task), 1024);
 */
#ifndef IETD_UTIL_OBJCACHE_H
#define IETD_UTIL_OBJCACHE_H

#include <stdatomic.h>
#include <stddef.h>

/* Object types one process may declare (a fixed per-thread table). */
#define OBJCACHE_TYPES 8

struct objcache {
	size_t size;       /* bytes per object */
	unsigned int keep; /* objects one thread keeps at most */
	atomic_int slot;   /* 1 + its row in the per-thread table; 0 = none */
};

#define OBJCACHE_INIT(size_, keep_)                         \
	{                                                   \
		.size = (size_), .keep = (keep_), .slot = 0 \
	}

/*
 * A zeroed object of oc->size bytes; NULL when memory (or the
 * fault-injection hook, which counts every call) says no. Free it with
 * objcache_free() on any thread.
 */
void *objcache_alloc(struct objcache *oc);
void objcache_free(struct objcache *oc, void *p);

/* Give this thread's cached objects back to the allocator. */
void objcache_trim(void);

/*
 * Call periodically on a thread that allocates: empties its lists when
 * nothing was allocated since the previous call.
 */
void objcache_tick(void);

/* Objects of type oc this thread holds (tests). */
unsigned int objcache_cached(struct objcache *oc);

#endif /* IETD_UTIL_OBJCACHE_H */
