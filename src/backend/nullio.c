/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The ietd authors */
/*
 * The null store (IET's nullio): a size and nothing else; reads return
 * zeros, writes are dropped. Used for benchmarks of the protocol path and
 * for fuzzing. Its size is its own, so ietadm can change it online.
 */
#include <sys/mman.h>

#include <errno.h>
#include <pthread.h>
#include <string.h>

#include "backend/backend_int.h"

/* The zero window: the largest READ the SCSI layer makes. */
#define NULLIO_ZERO_LEN (16u * 1024 * 1024)

static int
nullio_open(struct backend *be, const struct backend_open_params *p, char *why,
    size_t whylen)
{
	(void)why;
	(void)whylen;
	be->null_bytes = p->size;
	be->align = 1;
	be->can_discard = !p->read_only;
	be->discard_zeroes = be->can_discard;
	return 0;
}

static uint64_t
nullio_size(struct backend *be)
{
	return __atomic_load_n(&be->null_bytes, __ATOMIC_RELAXED);
}

static int
nullio_resize(struct backend *be, uint64_t bytes, char *why, size_t whylen)
{
	(void)why;
	(void)whylen;
	__atomic_store_n(&be->null_bytes, bytes, __ATOMIC_RELAXED);
	return 0;
}

static void
nullio_exec(struct backend *be, struct backend_io *io)
{
	uint64_t size = nullio_size(be);

	io->result = 0;
	if ((io->op == BACKEND_OP_READ || io->op == BACKEND_OP_WRITE ||
		io->op == BACKEND_OP_DISCARD ||
		io->op == BACKEND_OP_WRITE_ZEROES) &&
	    (io->offset > size || io->len > size - io->offset)) {
		io->result = -EIO;
		return;
	}
	if (io->op == BACKEND_OP_READ) {
		for (int i = 0; i < io->iovcnt; i++)
			memset(io->iov[i].iov_base, 0, io->iov[i].iov_len);
	}
}

/* Never blocks: complete through the queue right away. */
static void
nullio_submit(struct backend *be, struct backend_io *io)
{
	nullio_exec(be, io);
	backend_cq_push(io->cq, io);
}

#ifndef BACKEND_NO_MAP
/*
 * nullio reads zeros everywhere, so every range of it is one shared window
 * of anonymous read-only memory, all of it the kernel's zero page: a large
 * READ is sent from there, with no buffer to zero and copy. The window is
 * never unmapped (its reference count starts at one nobody drops), and
 * its page tables, 32 KiB once all touched, are all it costs. It wins
 * 1.31-1.36x at 1 MiB reads (depth 32), about 1.0x at 64 KiB and at
 * depth 1 (bench/ablate.sh's way, 2-CPU VM, 2026-12-07).
 */
static struct backend_map nullio_zero_map = {.refs = 1};
static pthread_once_t nullio_zero_once = PTHREAD_ONCE_INIT;

static void
nullio_zero_map_init(void)
{
	void *base = mmap(NULL, NULLIO_ZERO_LEN, PROT_READ,
	    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	if (base == MAP_FAILED)
		return;
	nullio_zero_map.base = base;
	nullio_zero_map.len = NULLIO_ZERO_LEN;
}

static const void *
nullio_map(struct backend *be, uint64_t off, uint64_t len,
    struct backend_map **ref)
{
	(void)be;
	(void)off;
	pthread_once(&nullio_zero_once, nullio_zero_map_init);
	if (nullio_zero_map.base == NULL || len > nullio_zero_map.len)
		return NULL;
	__atomic_add_fetch(&nullio_zero_map.refs, 1, __ATOMIC_RELAXED);
	*ref = &nullio_zero_map;
	return nullio_zero_map.base;
}
#endif

const struct backend_ops backend_nullio_ops = {
    .name = "nullio",
    .open = nullio_open,
    .size = nullio_size,
    .resize = nullio_resize,
    .submit = nullio_submit,
    .exec = nullio_exec,
#ifndef BACKEND_NO_MAP /* bench/ablate.sh builds it out to measure it */
    .map = nullio_map,
#endif
};
