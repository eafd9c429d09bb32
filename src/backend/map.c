/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The ietd authors */
/*
 * Read-only mappings of memory-backed files (tmpfs, ramfs), so a large
 * READ is sent to the socket straight from the page cache: one copy (into
 * the socket) instead of two (into a buffer, then into the socket).
 *
 * A mapping covers the file as it was when made; when a request reaches
 * past it (the file grew) a new one replaces it, and the old one lives on
 * until its last reader lets go. Ranges that are not all in memory are
 * refused: reading a hole through a shared tmpfs mapping would allocate
 * pages for it, where read() just copies zeros.
 */
#include <sys/mman.h>
#include <sys/stat.h>

#include <errno.h>
#include <pthread.h>
#include <unistd.h>

#include "backend_int.h"
#include "util/alloc.h"

/* Pages asked of mincore() at a time. */
#define BACKEND_MAP_VEC 256

struct backend_map {
	uint8_t *base;
	size_t len;
	unsigned int refs; /* atomic */
};

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
	struct backend_map *m;
	struct stat st;
	void *base;

	if (fstat(be->fd, &st) < 0 || st.st_size <= 0)
		return NULL;
	m = mem_zalloc(sizeof(*m));
	if (m == NULL)
		return NULL;
	base = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, be->fd, 0);
	if (base == MAP_FAILED) {
		mem_free(m);
		return NULL;
	}
	m->base = base;
	m->len = (size_t)st.st_size;
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

const void *
backend_map(struct backend *be, uint64_t off, uint64_t len,
    struct backend_map **ref)
{
	struct backend_map *m;

	*ref = NULL;
	if (!be->in_memory || be->fd < 0 || len == 0)
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

void
backend_map_close(struct backend *be)
{
	backend_map_put(be->map);
	be->map = NULL;
}
