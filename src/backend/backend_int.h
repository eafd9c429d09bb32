/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The ietd authors */
/*
 * Internals shared by the backend files: the operations table each store
 * type implements, the backend object, the mechanisms the file-based
 * types share (inline copies, page-cache mappings, the io_uring ring, the
 * worker pool) and the completion-queue push.
 *
 * A store type is one file defining one struct backend_ops (fileio.c,
 * blockio.c, nullio.c) and one line in backend.c's table. A new type
 * (RBD, say) implements open, size and submit, and whatever else it can.
 */
#ifndef IETD_BACKEND_BACKEND_INT_H
#define IETD_BACKEND_BACKEND_INT_H

#include <sys/uio.h>

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "backend/backend.h"

/* Worker threads started on first submit when Wthreads was never set. */
#define BACKEND_WORKERS_DEFAULT 4
#define BACKEND_WORKERS_MAX 256
/* O_DIRECT alignment used for regular files (safe for every fs). */
#define BACKEND_DIRECT_ALIGN_FILE 512
/* Alignment retried when a file system refuses the one above. */
#define BACKEND_DIRECT_ALIGN_MAX 4096

/*
 * inline.c: when a store's writes may run on the submitting thread again
 * after one stalled there. Times are CLOCK_MONOTONIC nanoseconds.
 */
struct backend_stall_guard {
	uint64_t resume_ns;     /* inline writes wait until then */
	uint64_t hold_ns;       /* length of the last hold; 0: never stalled */
	uint64_t last_stall_ns; /* when the last stall ended */
};

struct backend;

struct backend_ops {
	const char *name; /* IET's Type= value */
	/*
	 * Open the store p names into be (be->read_only and write_through
	 * are set): its fd or handle, size and capabilities. 0, or -errno
	 * with one line in why and nothing left to undo; after 0, close()
	 * undoes it.
	 */
	int (*open)(struct backend *be, const struct backend_open_params *p,
	    char *why, size_t whylen);
	void (*close)(struct backend *be); /* optional: nothing to undo */
	uint64_t (*size)(struct backend *be);
	/* Optional (NULL: "cannot be resized online"). */
	int (*resize)(struct backend *be, uint64_t bytes, char *why,
	    size_t whylen);
	/*
	 * Start io (never a write to a read-only store: backend_submit()
	 * refused that). Never blocks; io->done() runs later on io->cq's
	 * thread, never inside this call.
	 */
	void (*submit)(struct backend *be, struct backend_io *io);
	/*
	 * Optional: do io to the end on the calling thread, blocking; sets
	 * io->result. The worker pool runs it when submit() hands io over.
	 */
	void (*exec)(struct backend *be, struct backend_io *io);
	/* Optional: see backend_map() (NULL: the caller reads instead). */
	const void *(*map)(struct backend *be, uint64_t off, uint64_t len,
	    struct backend_map **ref);
	/* Optional: shared state (see backend_state_update()). */
	const struct backend_state_ops *state;
};

extern const struct backend_ops backend_fileio_ops;
extern const struct backend_ops backend_blockio_ops;
extern const struct backend_ops backend_nullio_ops;
extern const struct backend_ops backend_rbd_ops;
/*
 * Data flushes that may run at once for one store (commit.c), each for
 * the writes one round of a thread completed; while they all run, the
 * writes that complete wait for the oldest to finish. Of 1, 2, 4 and 8,
 * 4 did best while other jobs loaded the disk, as well as any on a quiet
 * one (qemu-img bench, 4 KiB writes at depth 32 on a disk file).
 */
#define BACKEND_COMMIT_FLUSHES 4

/* commit.c: one data flush and the ios it answers. */
struct backend_commit_flush {
	struct backend_io io;     /* the FLUSH handed to a ring or the pool */
	struct list_node covered; /* ios that completed before it began */
	uint64_t seq;             /* order of starting */
	int rc;                   /* its result, once finished */
	bool busy;                /* started, its ios not answered yet */
	bool finished;            /* done, waiting for an older one */
};

/*
 * commit.c: group commit of one store. Every field is under lock; gen is
 * also read without it (atomically) when a write is submitted.
 */
struct backend_commit {
	pthread_mutex_t lock;
	struct list_node waiting; /* completed ios for the next flush */
	struct backend_commit_flush flush[BACKEND_COMMIT_FLUSHES];
	uint64_t started;  /* flushes started (the next one's seq) */
	uint64_t gen;      /* flushes finished */
	uint64_t err_gen;  /* gen when the latest failed one finished; 0 */
	int err;           /* its -errno */
	uint64_t told_gen; /* write-back: err_gen a FLUSH last reported */
	/* Queued to start a flush at the end of a thread's round. */
	struct backend_io kick;
	bool kick_queued;
};

struct backend {
	/* The type it was opened as: its name, how it resizes. */
	const struct backend_ops *type;
	/* How I/O runs: type's, or fileio's where O_DIRECT was refused. */
	const struct backend_ops *ops;
	int fd; /* -1 for nullio */
	char *path;
	bool read_only;
	bool write_through;
	bool is_blkdev;
	bool direct;         /* opened with O_DIRECT */
	unsigned int align;  /* O_DIRECT alignment of offsets/buffers */
	uint64_t null_bytes; /* nullio: its size (atomic: resized online) */
	bool can_discard;
	bool discard_zeroes;
	bool volatile_cache;    /* acknowledged writes may sit in a cache */
	bool can_compare_write; /* takes BACKEND_OP_COMPARE_WRITE */
	/*
	 * Buffered file on tmpfs/ramfs: a read or write is a memory copy
	 * that never waits for a disk, so it runs on the submitting thread.
	 */
	bool in_memory;
	/* Buffered file: try reads with RWF_NOWAIT (page-cache hits) first. */
	bool try_nowait;
	/*
	 * Buffered file on a local disk file system, whose page cache is the
	 * file's truth (not a network or FUSE file system, where a write may
	 * wait for a server), or a block device served buffered (fileio):
	 * whole-page write-back writes are copied into
	 * the page cache on the submitting thread under write_guard
	 * (inline.c).
	 */
	bool local_cache;
	struct backend_stall_guard write_guard;
	/* Serializes read-modify-write of partial O_DIRECT blocks. */
	pthread_mutex_t rmw_lock;
	/* map.c: the current mapping of an in_memory store. */
	struct backend_map *map;
	pthread_mutex_t map_lock;
	struct backend_commit commit;
	void *priv; /* the store type's own state (rbd.c: struct rbd_lu) */
	/* Shared state given by backend_state_set_ops() (tests), or NULL. */
	const struct backend_state_ops *state;
};

/*
 * fdstore.c: what fileio and blockio share, a store that is a file or a
 * block device. Open p's path (O_DIRECT with direct; fileio's buffered
 * I/O where the file system refuses it) and describe it; close after a
 * flush; its size; grow a regular file; hand io to the submitting
 * thread's ring, else the worker pool.
 */
int backend_fd_open(struct backend *be, const struct backend_open_params *p,
    bool direct, char *why, size_t whylen);
void backend_fd_close(struct backend *be);
uint64_t backend_fd_size(struct backend *be);
int backend_fd_grow(struct backend *be, uint64_t bytes, char *why,
    size_t whylen);
void backend_submit_offthread(struct backend *be, struct backend_io *io);

/*
 * commit.c: group commit. A write that must be durable (write-through
 * store, or FUA) of a store with a disk under it is done without RWF_DSYNC
 * and answered once a data flush that began after it completed is done;
 * a FLUSH waits for the next such flush. Called by the file and device
 * types' submit() before they route io: true when io was a FLUSH and commit.c
 * took it; false otherwise (a write it took is marked, see
 * backend_write_dsync(), and routed as usual).
 */
bool backend_commit_submit(struct backend *be, struct backend_io *io);
void backend_commit_init(struct backend *be);
void backend_commit_fini(struct backend *be);
/* Counters for tests and debugging; updated atomically. */
struct backend_commit_stats {
	uint64_t flushes; /* flushes started for group commit */
	uint64_t ios;     /* writes and FLUSHes answered by one */
	uint64_t failed;  /* of which answered with a flush's error */
};
extern struct backend_commit_stats backend_commit_stats;
/*
 * Test hook: true leaves every flush commit.c starts to the caller, who
 * finishes it by setting its io.result and calling its io.done().
 */
extern bool backend_commit_by_hand;

/*
 * Must this write be durable by itself (RWF_DSYNC, or a write then a
 * flush) before it completes? Yes for FUA and write-through writes that
 * group commit did not take.
 */
static inline bool
backend_write_dsync(const struct backend *be, const struct backend_io *io)
{
	return (io->fua || be->write_through) && io->commit_done == NULL;
}

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
/* Gather len bytes of an iovec into dst / scatter src into an iovec. */
void backend_iov_to_buf(uint8_t *dst, const struct iovec *iov, int iovcnt,
    uint64_t len);
void backend_buf_to_iov(const struct iovec *iov, int iovcnt, const uint8_t *src,
    uint64_t len);
/* Do offset, length and every buffer meet the O_DIRECT alignment? */
bool backend_blockio_aligned(const struct backend *be, const struct iovec *iov,
    int iovcnt, uint64_t off, uint64_t len);
/* Write through the O_DIRECT path, bouncing what is not aligned. */
int backend_blockio_pwritev(struct backend *be, const struct iovec *iov,
    int iovcnt, uint64_t off, uint64_t len, bool dsync);

/*
 * inline.c: do io on the calling thread when it cannot wait for a disk,
 * now or at the end of the thread's round (see there). true: taken, and
 * its completion is queued or will be; false: use the ring or the pool.
 */
bool backend_submit_inline(struct backend *be, struct backend_io *io);
/*
 * inline.c: do the writes backend_submit_inline() put on deferred (a
 * list of backend_io in submission order), merging adjacent ones, and
 * queue their completions; the list is left empty.
 */
void backend_inline_run_deferred(struct list_node *deferred);
/*
 * aio.c: keep io on cq's deferred list when the caller is cq's owner and
 * runs its local completions before it sleeps; false otherwise.
 */
bool backend_cq_defer(struct backend_cq *cq, struct backend_io *io);
/* May inline writes run at now? */
bool backend_stall_guard_open(const struct backend_stall_guard *g,
    uint64_t now);
/*
 * A write stalled until at: close the guard for a hold, twice the last
 * one when that stall was recent.
 */
void backend_stall_guard_trip(struct backend_stall_guard *g, uint64_t at);
/* Counters for tests and debugging; updated atomically. */
struct backend_inline_stats {
	uint64_t writes; /* buffered disk writes done inline */
	uint64_t stalls; /* of which stalled and closed the guard */
	uint64_t merged; /* page-cache writes done in one call with others */
};
extern struct backend_inline_stats backend_inline_stats;

/* A mapping handed out by backend_map(); backend_map_put() unmaps it. */
struct backend_map {
	uint8_t *base;
	size_t len;
	unsigned int refs; /* atomic; never reaching 0 keeps it for good */
};

/*
 * map.c: backend_map() of a buffered file or block device (in memory, or
 * on a local disk file system), and dropping the backend's own reference
 * to its mapping.
 */
const void *backend_file_map(struct backend *be, uint64_t off, uint64_t len,
    struct backend_map **ref);
void backend_map_close(struct backend *be);

/* aio.c */
void backend_cq_push(struct backend_cq *cq, struct backend_io *io);
/*
 * Hand io to the cq's ring when the io_uring engine runs, cq has a ring
 * and the caller is the cq's owner thread. false: not taken, use the pool.
 */
bool backend_cq_ring_submit(struct backend_cq *cq, struct backend *be,
    struct backend_io *io);
/* Queue io for a worker thread, which calls exec(be, io) then pushes. */
int backend_workers_queue(struct backend *be, struct backend_io *io);

/* uring.c: the io_uring engine, one ring per completion queue. */
struct backend_uring;
/* Can a ring be set up, with every opcode we use? 0, or -errno and why. */
int backend_uring_probe(char *why, size_t whylen);
/* A ring that signals efd on each completion; NULL and why on failure. */
struct backend_uring *backend_uring_new(int efd, char *why, size_t whylen);
/* Waits for (and completes) every request in flight, then frees. */
void backend_uring_free(struct backend_uring *u);
/*
 * Start io on the ring (owner thread only). false: the ring cannot do it
 * as the pool would (block device discard, O_DIRECT bounce, ring full);
 * io is untouched and the caller uses the pool.
 */
bool backend_uring_submit(struct backend_uring *u, struct backend *be,
    struct backend_io *io);
/* Reap completions: continue short transfers, run done() for the rest. */
void backend_uring_reap(struct backend_uring *u);

/* Counters for tests and debugging; updated atomically. */
struct backend_uring_stats {
	uint64_t sqes;         /* SQEs prepared */
	uint64_t dsync_writes; /* writes sent with RWF_DSYNC */
	uint64_t fsyncs;       /* IORING_OP_FSYNC (FLUSH, wt fallocate) */
	uint64_t short_xfers;  /* short reads/writes continued */
	uint64_t fallbacks;    /* requests the ring handed to the pool */
	uint64_t bounced;      /* O_DIRECT through an aligned copy */
};
extern struct backend_uring_stats backend_uring_stats;
/* Tests: cap each read/write SQE at this many bytes (0: no cap). */
extern uint32_t backend_uring_max_xfer;
/* Test hook: true sends every request to the ring or pool (no inline). */
extern bool backend_inline_off;

#endif /* IETD_BACKEND_BACKEND_INT_H */
