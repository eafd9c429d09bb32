/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The ietd authors */
/*
 * Internals shared by the backend files: the backend object, the blocking
 * executors each store type provides (run on a worker thread), and the
 * completion-queue push used by the worker pool.
 */
#ifndef IETD_BACKEND_BACKEND_INT_H
#define IETD_BACKEND_BACKEND_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "backend/backend.h"

/* Worker threads started on first submit when Wthreads was never set. */
#define BACKEND_WORKERS_DEFAULT 4
#define BACKEND_WORKERS_MAX 256
/* O_DIRECT alignment used for regular files (safe for every fs). */
#define BACKEND_DIRECT_ALIGN_FILE 512
/* Alignment retried when a file system refuses the one above. */
#define BACKEND_DIRECT_ALIGN_MAX 4096

struct backend {
	enum backend_type type;
	int fd; /* -1 for nullio */
	char *path;
	bool read_only;
	bool write_through;
	bool is_blkdev;
	bool direct;        /* opened with O_DIRECT */
	unsigned int align; /* O_DIRECT alignment of offsets/buffers */
	uint64_t null_bytes;
	bool can_discard;
	bool discard_zeroes;
	/* Serializes read-modify-write of partial O_DIRECT blocks. */
	pthread_mutex_t rmw_lock;
};

/* fileio.c: blocking buffered I/O; sets io->result. */
void backend_fileio_exec(struct backend *be, struct backend_io *io);
/* Flush, discard and write-zeroes shared by fileio and blockio. */
int backend_file_flush(struct backend *be);
int backend_file_discard(struct backend *be, uint64_t off, uint64_t len);
int backend_file_write_zeroes(struct backend *be, uint64_t off, uint64_t len);
/* Write a whole iovec at off, retrying short writes; 0 or -errno. */
int backend_file_pwritev_all(int fd, const struct iovec *iov, int iovcnt,
    uint64_t off, uint64_t len, bool dsync);
int backend_file_preadv_all(int fd, const struct iovec *iov, int iovcnt,
    uint64_t off, uint64_t len);

/* blockio.c: blocking O_DIRECT I/O with bounce buffers. */
void backend_blockio_exec(struct backend *be, struct backend_io *io);
/* Write through the O_DIRECT path, bouncing what is not aligned. */
int backend_blockio_pwritev(struct backend *be, const struct iovec *iov,
    int iovcnt, uint64_t off, uint64_t len, bool dsync);

/* nullio.c: zeros on read, writes dropped. */
void backend_nullio_exec(struct backend *be, struct backend_io *io);

/* aio.c */
void backend_cq_push(struct backend_cq *cq, struct backend_io *io);
/* Queue io for a worker thread, which calls exec(be, io) then pushes. */
int backend_workers_queue(struct backend *be, struct backend_io *io);

#endif /* IETD_BACKEND_BACKEND_INT_H */
