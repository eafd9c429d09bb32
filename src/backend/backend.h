/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The ietd authors */
/*
 * Backing stores behind one small interface. A backend knows offsets,
 * lengths and buffers; nothing of CDBs or PDUs. Each store type (fileio,
 * blockio, nullio; IET's Type=) is one operations table in one file
 * (backend_int.h), found by its name; everything here routes through it.
 * I/O is asynchronous: the submitter names a completion queue (struct
 * backend_cq) that belongs to its own thread, and the done() callback
 * runs on that thread when the owner drains the queue (its fd becomes
 * readable). So an event thread never blocks on disk and a completion
 * never runs on a foreign thread.
 */
#ifndef IETD_BACKEND_BACKEND_H
#define IETD_BACKEND_BACKEND_H

#include <sys/uio.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/list.h"

enum backend_op {
	BACKEND_OP_READ,
	BACKEND_OP_WRITE,
	/*
	 * Make all earlier writes durable; with len > 0 those in [offset,
	 * offset+len) at least (group commit's, commit.c).
	 */
	BACKEND_OP_FLUSH,
	BACKEND_OP_DISCARD, /* punch a hole / discard; reads zeros after */
	BACKEND_OP_WRITE_ZEROES,
	/*
	 * Atomically compare the len bytes at offset with the first half of
	 * iov (2 * len bytes: the compare data, then the write data) and,
	 * only when they are equal, write the second half there. -EILSEQ
	 * when they differ, with the offset of the first differing byte
	 * (from offset) in miscompare_off, or UINT64_MAX when the store
	 * cannot tell. Only for stores that
	 * backend_can_compare_write() (rbd: done by the OSD, so atomic
	 * across every client of the image).
	 */
	BACKEND_OP_COMPARE_WRITE,
};

struct backend_cq;

struct backend_io {
	enum backend_op op;
	uint64_t offset;   /* bytes */
	uint64_t len;      /* bytes; for READ/WRITE the sum of iov */
	struct iovec *iov; /* borrowed until done() */
	int iovcnt;
	bool fua; /* WRITE: durable before done() */
	/*
	 * Set before done(): 0 or -errno. Besides the usual ones: -ENOTCONN
	 * or -ESHUTDOWN, the store lost (or was fenced off) its shared
	 * image; -ENOLCK, another gateway holds the image's lock.
	 */
	int result;
	uint64_t miscompare_off; /* COMPARE_WRITE's -EILSEQ: where */
	void (*done)(struct backend_io *io);
	void *arg;             /* the submitter's */
	struct backend_cq *cq; /* where done() runs; set by submitter */
	struct list_node node; /* owned by the backend while in flight */
	struct backend *be;    /* the backend's: set by backend_submit */
	/* commit.c's: the submitter's done() while the io waits for a flush */
	void (*commit_done)(struct backend_io *io);
	uint64_t commit_gen; /* commit.c's: flushes finished before submit */
};

struct backend_open_params {
	const char *type; /* store type: "fileio", "blockio", "nullio", "rbd" */
	const char *path; /* fileio/blockio: the file or block device; rbd:
			     POOL[/NAMESPACE]/IMAGE */
	uint64_t size;    /* nullio: its size in bytes */
	bool read_only;
	bool write_through; /* every write durable before done() (wt) */
	/* rbd: cluster configuration file, client id, keyring; NULL: default */
	const char *ceph_conf;
	const char *ceph_user;
	const char *ceph_keyring;
};

struct backend;

/* Is there a store type of that name? */
bool backend_type_known(const char *type);
/*
 * Open a backing store. Returns 0 and *out, or -errno with a one-line
 * reason in why ("cannot open /x: No such file or directory").
 */
int backend_open(const struct backend_open_params *p, struct backend **out,
    char *why, size_t whylen);
/* Makes what a write-back store acknowledged durable, then closes it. */
void backend_close(struct backend *be);
/* The store type it was opened as ("fileio", ...), for status output. */
const char *backend_type_name(const struct backend *be);
/* Current size in bytes (re-read each call: files can grow). */
uint64_t backend_size(struct backend *be);
/*
 * Change the size online to bytes, where the store type can: nullio takes
 * it, a fileio file grows (sparse; never shrinks: that would cut off
 * data), a block device is the administrator's to resize. 0, or -errno
 * with one sentence in why. Called on the main thread (ietadm).
 */
int backend_resize(struct backend *be, uint64_t bytes, char *why,
    size_t whylen);
/* Can DISCARD free space, and do discarded ranges read back as zeros? */
bool backend_can_discard(const struct backend *be);
bool backend_discard_zeroes(const struct backend *be);
/* Does the store do BACKEND_OP_COMPARE_WRITE (atomically, itself)? */
bool backend_can_compare_write(const struct backend *be);
/* Is a volatile write cache in front of the medium (wb mode)? */
bool backend_write_cache(const struct backend *be);

/*
 * Buffered files on tmpfs, ramfs or a local disk file system, and block
 * devices served buffered (fileio): the bytes [off, off+len) of the store
 * in a shared mapping of its page cache, to send from instead of reading
 * them into a buffer (for nullio, a window of zeros). NULL when the store is
 * none of those, a page of the range is not in memory (a hole, or not cached),
 * the range lies past the end, or no mapping can be made; the caller then reads
 * as usual. *ref pins the mapping: hand it to backend_map_put() once the bytes
 * are no longer used. The bytes are the live file: the caller must keep writes
 * to the range out while it uses them (the SCSI task set does).
 */
struct backend_map;
const void *backend_map(struct backend *be, uint64_t off, uint64_t len,
    struct backend_map **ref);
void backend_map_put(struct backend_map *m);

/*
 * Queue io; io->done runs later on io->cq's thread, never inside this
 * call. Never blocks the caller on disk.
 */
void backend_submit(struct backend *be, struct backend_io *io);

/*
 * rbd_lock.c: the exclusive lock of a store that several ietd gateways
 * serve at once (Type=rbd: the image's exclusive lock). Whoever holds it
 * is the gateway that may do I/O; the others wait as standby. A gateway
 * that follows the lock learns who holds it, takes it over (fencing the
 * holder first) when asked or when the holder is dead, and hears through
 * cb, on a thread of the backend's, each time that changes.
 */
enum backend_lock_state {
	BACKEND_LOCK_UNKNOWN, /* not known yet, or changing hands */
	BACKEND_LOCK_MINE,    /* this gateway holds it */
	BACKEND_LOCK_OTHER,   /* another gateway: tags are its groups */
	BACKEND_LOCK_NONE,    /* nobody holds it */
	BACKEND_LOCK_FENCED,  /* this gateway's cluster client is fenced */
};
#define BACKEND_LOCK_TAGS_MAX 8
struct backend_lock_view {
	enum backend_lock_state state;
	unsigned int ntags;
	uint16_t tags[BACKEND_LOCK_TAGS_MAX]; /* OTHER: the holder's groups */
};
typedef void (
    *backend_lock_cb)(void *arg, const struct backend_lock_view *view);
/*
 * Follow the lock of be; this gateway's portal groups are tags (at most
 * BACKEND_LOCK_TAGS_MAX; published for the other gateways to read).
 * Again on a followed store: only the tags change. 0, or -EOPNOTSUPP for
 * a store without such a lock, or -errno.
 */
int backend_lock_follow(struct backend *be, const uint16_t *tags,
    unsigned int ntags, backend_lock_cb cb, void *arg);
/* Take the lock, fencing its holder; or let it go. Asynchronous. */
void backend_lock_take(struct backend *be);
void backend_lock_give(struct backend *be);
/* Stop following (no cb after it returns); before backend_close(). */
void backend_lock_unfollow(struct backend *be);

/* aio.c: the completion queue of one thread. */
struct backend_cq *backend_cq_new(void);
void backend_cq_free(struct backend_cq *cq);
/* An fd that becomes readable when completions wait; poll it for reading. */
int backend_cq_fd(const struct backend_cq *cq);
/* Run done() for every waiting completion; call on the cq's thread. */
void backend_cq_drain(struct backend_cq *cq);
/*
 * The owner of cq promises to call backend_cq_run_local() whenever it is
 * about to sleep. Completions its own thread produces (nullio, memory-
 * backed files, page-cache hits, posted completions) then wait on a plain
 * list instead of costing an eventfd write, a wake-up and a read.
 */
void backend_cq_set_local(struct backend_cq *cq, bool on);
/* Run those completions (done() may add more); true when any ran. */
bool backend_cq_run_local(struct backend_cq *cq);
/*
 * Queue io as already completed (io->result as set by the caller): its
 * done() runs at the next drain on cq's thread. Any thread may call it;
 * it lets upper layers defer a completion onto the owner's thread.
 */
void backend_cq_post(struct backend_cq *cq, struct backend_io *io);

/*
 * How file and block I/O is done (ietd --io-engine). The Wthreads pool
 * runs in every case: the io_uring engine hands it whatever a ring cannot
 * do (block device discards, unaligned O_DIRECT, a full ring, a submit
 * from a thread other than the queue's owner).
 */
enum backend_engine {
	BACKEND_ENGINE_AUTO,    /* io_uring if a probe ring works, else pool */
	BACKEND_ENGINE_URING,   /* io_uring, or fail */
	BACKEND_ENGINE_THREADS, /* the worker pool only */
};

/*
 * Choose the engine for completion queues created from now on; call at
 * start-up, before the event threads make theirs. Returns 0 and a one-line
 * description in why ("io_uring", "thread pool (io_uring unavailable:
 * ...)"), or -errno when BACKEND_ENGINE_URING was asked for and io_uring
 * cannot be used, with the reason in why.
 */
int backend_engine_select(enum backend_engine want, char *why, size_t whylen);
/* The engine chosen: BACKEND_ENGINE_URING or BACKEND_ENGINE_THREADS. */
enum backend_engine backend_engine_current(void);
/* Does cq do its I/O through an io_uring ring? */
bool backend_cq_uring(const struct backend_cq *cq);

/* Size the worker pool used for blocking I/O (Wthreads). Call once. */
int backend_workers_start(unsigned int nthreads);
void backend_workers_stop(void);

/*
 * Shared state (state.c): one small blob per store that every gateway
 * serving the same store sees, where the store type has such a place
 * (Type=rbd: a RADOS object beside the image); other types have none.
 * Persistent reservations of a LU several ietd processes export live
 * there. Updates are compare-and-set: apply() gets the current blob,
 * makes the new one, and is called again with the newer blob when
 * another gateway wrote first. Once written, the other gateways are told
 * (their changed() callbacks ran and returned) before done() runs, or
 * the store's notify timeout passed.
 */
struct backend_state_op {
	/*
	 * io.done, io.arg, io.cq: the caller's (io.cq NULL: done() runs on
	 * the store's state thread); io.result: 0 or -errno
	 */
	struct backend_io io;
	/*
	 * On the store's state thread: cur is the current blob (NULL, 0:
	 * there is none yet). Return 0 with a new blob in *out (mem_alloc'd,
	 * taken) and an optional note for the other gateways in *note
	 * (likewise, NULL for none); 1: nothing to write (io.result 0);
	 * -errno: fail with it. Called once per attempt.
	 */
	int (*apply)(struct backend_state_op *op, const uint8_t *cur,
	    size_t curlen, uint8_t **out, size_t *outlen, uint8_t **note,
	    size_t *notelen);
	bool unacked; /* set: written, some gateway did not answer in time */
	/*
	 * Set: the version of the blob the last apply() saw, or of the one
	 * it wrote. Versions of one store's blob only grow.
	 */
	uint64_t version;
};

/*
 * Told on the store's state thread when another gateway changed the
 * blob: cur is the blob now, of that version (NULL: none, or it could
 * not be read: then err is -errno), note what that gateway said (NULL after a
 * lost watch was set up again, when changes may have been missed). The gateway
 * that wrote waits until this returns.
 */
typedef void backend_state_changed_fn(void *arg, const uint8_t *cur,
    size_t curlen, uint64_t version, int err, const uint8_t *note,
    size_t notelen);

/*
 * What a store type with shared state implements (its backend_ops's
 * state, state.c): read() as backend_state_read(); update() starts op
 * and posts op->io to op->io.cq when done; watch() as
 * backend_state_watch().
 */
struct backend_state_ops {
	int (*read)(struct backend *be, uint8_t **out, size_t *len,
	    uint64_t *version);
	void (*update)(struct backend *be, struct backend_state_op *op);
	int (*watch)(struct backend *be, backend_state_changed_fn *fn,
	    void *arg);
};

/* Test hook: give be that shared state in place of its type's. */
void backend_state_set_ops(struct backend *be,
    const struct backend_state_ops *ops);
/* Does the store have shared state? */
bool backend_state_shared(const struct backend *be);
/*
 * Read the blob, blocking (LU creation); 0 with a mem_alloc'd copy in
 * *out (NULL, 0: none) and its version, or -errno.
 */
int backend_state_read(struct backend *be, uint8_t **out, size_t *len,
    uint64_t *version);
/* Start op; op->io.done runs on op->io.cq's thread. */
void backend_state_update(struct backend *be, struct backend_state_op *op);
/* Hear of other gateways' changes until backend_close(); 0 or -errno. */
int backend_state_watch(struct backend *be, backend_state_changed_fn *fn,
    void *arg);

#endif /* IETD_BACKEND_BACKEND_H */
