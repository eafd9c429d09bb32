/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The ietd authors */
/*
 * Shared mappings of memory-backed files (tmpfs, ramfs): a READ of 64 KiB
 * or more is sent to the socket straight from the file's pages, one copy
 * instead of two (file to buffer, buffer to socket). (nullio has a window
 * of zeros of its own.)
 *
 * What it wins, measured with bench/ablate.sh (full build against one
 * without it, runs alternating, 3 x 2 s each, 2-CPU VM, 2026-12-07): on a
 * 1 GiB tmpfs file 1.32-1.40x at 1 MiB (qemu-img bench depth 1 and 32,
 * iscsi-perf depth 32) and 1.01-1.12x at 64 KiB. On a file on ext4 and on
 * a loop block device it LOST, 0.26-0.56x on the same workloads (the
 * plain read, inline or on the ring, was 2 to 4 times faster), so stores
 * with a disk under them no longer map: only be->in_memory ones do.
 *
 * Only ranges whose every page is in memory are handed out, which keeps
 * out holes: touching one through a shared mapping would allocate pages
 * for it (and fail with SIGBUS when the file system is full), where
 * read() copies zeros and write() fails with ENOSPC. Nothing is ever
 * written through the mapping.
 *
 * A mapping covers the file as it was when made; when a request reaches
 * past it (the file grew) a new one replaces it, and the old one lives on
 * until its last user lets go.
 *
 * Should the file be cut short behind our back, its pages past the new
 * end vanish from the mapping. The kernel then fails the writev() that
 * sends them with EFAULT; nothing in user space reads the mapping (the
 * transport copies instead when it computes a data digest), because that
 * read would be a SIGBUS.
 */
#include <sys/mman.h>

#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <unistd.h>

#include "backend_int.h"
#include "util/alloc.h"

/* Pages asked of mincore() at a time. */
#define BACKEND_MAP_VEC 256

void
backend_map_put(struct backend_map *m)
{
	if (m == NULL || __atomic_sub_fetch(&m->refs, 1, __ATOMIC_ACQ_REL) != 0)
		return;
	munmap(m->base, m->len);
	mem_free(m);
}

/* A mapping of the whole file as it is now; NULL when none can be made. */
static struct backend_map *
backend_map_new(struct backend *be)
{
	uint64_t size = backend_size(be); /* a block device's too */
	struct backend_map *m;
	void *base;

	if (size == 0 || size > SIZE_MAX)
		return NULL;
	m = mem_zalloc(sizeof(*m));
	if (m == NULL)
		return NULL;
	base = mmap(NULL, (size_t)size, PROT_READ, MAP_SHARED, be->fd, 0);
	if (base == MAP_FAILED) {
		mem_free(m);
		return NULL;
	}
	m->base = base;
	m->len = (size_t)size;
	m->refs = 1; /* the backend's */
	return m;
}

/*
 * Is every page of [off, off+len) in memory? A hole is not (mapping it
 * would allocate it), and neither is a page swapped out (touching it
 * would block the event thread on the swap device). mincore() costs a
 * byte per page; lseek(SEEK_HOLE) would walk the file to its next hole.
 */
static bool
backend_map_resident(const struct backend_map *m, uint64_t off, uint64_t len)
{
	unsigned char vec[BACKEND_MAP_VEC];
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	uint64_t pos = off & ~(uint64_t)(page - 1), end = off + len;

	while (pos < end) {
		size_t pages = (size_t)((end - pos + page - 1) / page);

		if (pages > sizeof(vec))
			pages = sizeof(vec);
		if (mincore(m->base + pos, pages * page, vec) < 0)
			return false;
		for (size_t i = 0; i < pages; i++) {
			if (!(vec[i] & 1))
				return false;
		}
		pos += (uint64_t)pages * page;
	}
	return true;
}

static uint8_t *
backend_map_range(struct backend *be, uint64_t off, uint64_t len,
    struct backend_map **ref)
{
	struct backend_map *m;

	*ref = NULL;
	if (be->fd < 0 || len == 0)
		return NULL;
	pthread_mutex_lock(&be->map_lock);
	m = be->map;
	if (m == NULL || off + len > m->len) {
		struct backend_map *fresh = backend_map_new(be);

		if (fresh != NULL) {
			backend_map_put(m);
			be->map = m = fresh;
		}
	}
	if (m == NULL || off + len > m->len) {
		pthread_mutex_unlock(&be->map_lock);
		return NULL;
	}
	__atomic_add_fetch(&m->refs, 1, __ATOMIC_RELAXED);
	pthread_mutex_unlock(&be->map_lock);
	if (!backend_map_resident(m, off, len)) {
		backend_map_put(m);
		return NULL;
	}
	*ref = m;
	return m->base + off;
}

const void *
backend_file_map(struct backend *be, uint64_t off, uint64_t len,
    struct backend_map **ref)
{
	*ref = NULL;
	if (!be->in_memory)
		return NULL;
	return backend_map_range(be, off, len, ref);
}

void
backend_map_close(struct backend *be)
{
	backend_map_put(be->map);
	be->map = NULL;
}
