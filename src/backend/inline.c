/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The ietd authors */
/*
 * I/O done on the submitting (event) thread. Handing a request to a ring
 * or a worker and its completion back costs more than a small memory copy,
 * so the copies that do not wait for a disk run here:
 *
 * - reads and writes of memory-backed files (tmpfs, ramfs);
 * - buffered reads the page cache already holds: RWF_NOWAIT fails with
 *   EAGAIN rather than wait, and the ring or the pool then reads as usual;
 * - buffered write-back writes of whole pages to a file on a local disk
 *   file system (ext4, XFS, btrfs, f2fs, overlayfs) or to a block device
 *   served buffered (be->local_cache). Most
 *   file systems (ext4 among them) refuse RWF_NOWAIT for buffered writes,
 *   and io_uring then hands every one to a kernel worker thread, which
 *   costs more than the copy into the page cache. Such a write can still
 *   wait: for dirty-page throttling when the disk falls behind, for a page
 *   under writeback, for the journal. So each one is timed, and one that
 *   slept (the thread blocked, as opposed to being preempted by the
 *   scheduler, which a busy machine does to any thread) for a millisecond
 *   or more sends the store's writes to the ring or the pool for a while
 *   (the stall guard below), doubling the while when stalls recur.
 *
 * Write-through and FUA writes are done here too, as write-back ones:
 * group commit (commit.c) then answers them after a data flush. Partial
 * pages (a page the cache lacks is read from disk before it can be
 * changed) always go off-thread.
 *
 * Whole-page write-back writes are not done at once when the submitter
 * is the thread that owns the completion queue (the connection's event
 * thread): they wait on the queue until the thread has read everything
 * its sockets hold and runs its completions (backend_cq_run_local), and
 * then adjacent ones (an initiator writing sequentially with several
 * commands in flight) go to the file in one call. Nothing waits longer
 * for that: their completions would have waited for the same moment.
 *
 * What each wins, measured with bench/ablate.sh (the full build against
 * one without the path, runs alternating, 3 x 2 s, qemu-img bench and
 * iscsi-perf; 2-CPU VM, 2026-12-07), on a 1 GiB file on ext4 / a 1 GiB
 * loop block device:
 * - cached reads (RWF_NOWAIT): 4 KiB depth 1 1.17x / 1.06x, 4 KiB random
 *   depth 32 1.19x / 1.01x, 4 KiB sequential depth 32 1.02x / 0.99x;
 * - inline writes: 4 KiB depth 1 1.11x / 1.03x, 64 KiB depth 1 1.18x /
 *   1.09x, 64 KiB depth 32 1.50x / 1.14x, 4 KiB depth 32 0.99x / 0.99x;
 * - merging, on top of inline writes: 64 KiB depth 32 1.50x / 1.11x,
 *   4 KiB depth 1 1.07x / 1.01x, 4 KiB depth 32 0.97x / 0.92x.
 * (Spreads of 5-50% between runs on this shared machine: the depth-32
 * 64 KiB write rows are the clear ones.)
 */
#include <sys/resource.h>
#include <sys/uio.h>

#include <errno.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "backend/backend_int.h"
#include "util/log.h"

bool backend_inline_off;
struct backend_inline_stats backend_inline_stats;

/*
 * Biggest request done inline: larger copies stay off the event thread,
 * where on another core they overlap with receiving the next command.
 */
#define BACKEND_INLINE_MAX (128u * 1024u)

/*
 * Merging adjacent writes of one round: at most this many requests, iovec
 * pieces and bytes in one call (a copy of 512 KiB into the page cache
 * takes about 100 us, well inside the stall guard's millisecond).
 */
#define BACKEND_MERGE_IOS 64
#define BACKEND_MERGE_IOV 64
#define BACKEND_MERGE_MAX (512u * 1024u)

/*
 * A write into the page cache takes microseconds (about 20 for 128 KiB);
 * one that took this long and slept waited for something.
 */
#define BACKEND_STALL_NS (1000u * 1000u)
/* How long writes stay off-thread after a stall: the first time ... */
#define BACKEND_STALL_HOLD_MIN_NS (1000ull * 1000u * 1000u)
/* ... doubling up to this while stalls keep coming. */
#define BACKEND_STALL_HOLD_MAX_NS (64ull * BACKEND_STALL_HOLD_MIN_NS)
/*
 * A stall this many holds after the previous one is a new episode and
 * starts again from the shortest hold.
 */
#define BACKEND_STALL_EPISODE_HOLDS 4

static uint64_t
backend_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/*
 * The guard is shared by every event thread using the store; its fields
 * are advisory, so relaxed atomics are enough (a race costs at most one
 * more write in the wrong place).
 */
bool
backend_stall_guard_open(const struct backend_stall_guard *g, uint64_t now)
{
	return now >= __atomic_load_n(&g->resume_ns, __ATOMIC_RELAXED);
}

void
backend_stall_guard_trip(struct backend_stall_guard *g, uint64_t at)
{
	uint64_t hold = __atomic_load_n(&g->hold_ns, __ATOMIC_RELAXED);
	uint64_t last = __atomic_load_n(&g->last_stall_ns, __ATOMIC_RELAXED);

	if (hold != 0 && at - last < BACKEND_STALL_EPISODE_HOLDS * hold)
		hold = hold * 2 < BACKEND_STALL_HOLD_MAX_NS
		    ? hold * 2
		    : BACKEND_STALL_HOLD_MAX_NS;
	else
		hold = BACKEND_STALL_HOLD_MIN_NS;
	__atomic_store_n(&g->hold_ns, hold, __ATOMIC_RELAXED);
	__atomic_store_n(&g->last_stall_ns, at, __ATOMIC_RELAXED);
	__atomic_store_n(&g->resume_ns, at + hold, __ATOMIC_RELAXED);
}

/*
 * How often this thread has blocked (voluntary context switches). Being
 * preempted is counted apart, so a rise means the thread waited.
 */
static long
backend_thread_sleeps(void)
{
	struct rusage ru;

	if (getrusage(RUSAGE_THREAD, &ru) != 0)
		return -1;
	return ru.ru_nvcsw;
}

/* Whole pages in write-back mode: a copy into the page cache and no more. */
static bool
backend_inline_write_ok(const struct backend *be, const struct backend_io *io)
{
	uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);

	if (backend_write_dsync(be, io))
		return false;
	return ((io->offset | io->len) & (page - 1)) == 0;
}

/* A write stalled and closed the guard: say so, once per hold. */
static void
backend_inline_stalled(struct backend *be, uint64_t took_ns)
{
	uint64_t hold_ns =
	    __atomic_load_n(&be->write_guard.hold_ns, __ATOMIC_RELAXED);

	__atomic_add_fetch(&backend_inline_stats.stalls, 1, __ATOMIC_RELAXED);
	log_info("%s: a buffered write blocked for %llu ms; writes "
		 "to this file go through the I/O threads for the next %llu s",
	    be->path, (unsigned long long)(took_ns / 1000000u),
	    (unsigned long long)(hold_ns / 1000000000u));
}

/*
 * One write of [off, off+len) from iov into a page-cache file, timed
 * under the stall guard when the file is on a disk. 0 or -errno; -EAGAIN
 * when the guard is shut and nothing was written.
 */
static int
backend_inline_pwrite(struct backend *be, const struct iovec *iov, int iovcnt,
    uint64_t off, uint64_t len)
{
	uint64_t start, end;
	long sleeps;
	int rc;

	if (be->in_memory)
		return backend_file_pwritev_all(be->fd, iov, iovcnt, off, len,
		    false);
	start = backend_now_ns();
	if (!backend_stall_guard_open(&be->write_guard, start))
		return -EAGAIN;
	sleeps = backend_thread_sleeps();
	rc = backend_file_pwritev_all(be->fd, iov, iovcnt, off, len, false);
	end = backend_now_ns();
	if (end - start >= BACKEND_STALL_NS &&
	    backend_thread_sleeps() != sleeps) {
		backend_stall_guard_trip(&be->write_guard, end);
		backend_inline_stalled(be, end - start);
	}
	return rc;
}

/*
 * Do the n writes of run, adjacent in the file and all to one store, in
 * one call when there are several: for a file system that does work per
 * call and per page-cache folio touched (ext4 walks every block of the
 * folio a write lands in), four 4 KiB writes in one folio cost little
 * more than one. iov (iovcnt) is theirs end to end. Should the merged
 * write fail, each is done again alone, so that each gets its own status.
 */
static void
backend_inline_write_run(struct backend_io **run, int n,
    const struct iovec *iov, int iovcnt, uint64_t len)
{
	struct backend *be = run[0]->be;
	int rc;

	rc = backend_inline_pwrite(be, iov, iovcnt, run[0]->offset, len);
	if (rc == -EAGAIN) {
		/* The guard is shut: the I/O threads write them. */
		for (int i = 0; i < n; i++)
			backend_submit_offthread(be, run[i]);
		return;
	}
	if (!be->in_memory)
		__atomic_add_fetch(&backend_inline_stats.writes, (uint64_t)n,
		    __ATOMIC_RELAXED);
	if (n > 1)
		__atomic_add_fetch(&backend_inline_stats.merged, (uint64_t)n,
		    __ATOMIC_RELAXED);
	for (int i = 0; i < n; i++) {
		if (rc == 0 || n == 1)
			run[i]->result = rc;
		else
			backend_fileio_exec(be, run[i]);
		backend_cq_push(run[i]->cq, run[i]);
	}
}

/* May io join run (n requests, len bytes, iovcnt pieces so far)? */
static bool
backend_inline_run_takes(struct backend_io *const *run, int n, uint64_t len,
    int iovcnt, const struct backend_io *io)
{
	return n < BACKEND_MERGE_IOS && io->be == run[0]->be &&
	    io->offset == run[0]->offset + len &&
	    iovcnt + io->iovcnt <= BACKEND_MERGE_IOV &&
	    len + io->len <= BACKEND_MERGE_MAX;
}

void
backend_inline_run_deferred(struct list_node *deferred)
{
	while (!list_empty(deferred)) {
		struct backend_io *run[BACKEND_MERGE_IOS], *io;
		struct iovec iov[BACKEND_MERGE_IOV];
		int n = 0, iovcnt = 0;
		uint64_t len = 0;

		io = list_first_entry(deferred, struct backend_io, node);
		if (io->iovcnt > BACKEND_MERGE_IOV) {
			/* Too many pieces to merge: alone, as it is. */
			list_remove(&io->node);
			backend_inline_write_run(&io, 1, io->iov, io->iovcnt,
			    io->len);
			continue;
		}
		do {
			list_remove(&io->node);
			run[n++] = io;
			memcpy(iov + iovcnt, io->iov,
			    (size_t)io->iovcnt * sizeof(*iov));
			iovcnt += io->iovcnt;
			len += io->len;
			if (list_empty(deferred))
				break;
			io =
			    list_first_entry(deferred, struct backend_io, node);
		} while (backend_inline_run_takes(run, n, len, iovcnt, io));
		backend_inline_write_run(run, n, iov, iovcnt, len);
	}
}

static bool
backend_inline_read(struct backend *be, struct backend_io *io)
{
	ssize_t n;

	n = preadv2(be->fd, io->iov, io->iovcnt, (off_t)io->offset, RWF_NOWAIT);
	if (n >= 0 && (uint64_t)n == io->len) {
		io->result = 0;
		return true;
	}
	/* Not supported by this file system: stop asking. */
	if (n < 0 && errno == EOPNOTSUPP)
		__atomic_store_n(&be->try_nowait, false, __ATOMIC_RELAXED);
	return false;
}

/*
 * Done now, or at the end of the round with its neighbours (see above).
 * The stall guard is looked at when the write is done: a write waiting
 * while the guard shuts goes to the ring or the pool from there.
 */
static bool
backend_inline_write(struct backend *be, struct backend_io *io)
{
	if (!backend_inline_write_ok(be, io)) {
		if (!be->in_memory)
			return false;
		/* Memory has no disk to wait for: at once, as asked. */
		backend_fileio_exec(be, io);
		backend_cq_push(io->cq, io);
		return true;
	}
#ifndef BACKEND_NO_MERGE
	if (backend_cq_defer(io->cq, io))
		return true;
#endif
	backend_inline_write_run(&io, 1, io->iov, io->iovcnt, io->len);
	return true;
}

/* bench/ablate.sh builds each path out (BACKEND_NO_*) to measure it. */
bool
backend_submit_inline(struct backend *be, struct backend_io *io)
{
	if (__atomic_load_n(&backend_inline_off, __ATOMIC_RELAXED))
		return false;
	if (io->len > BACKEND_INLINE_MAX)
		return false;
#ifndef BACKEND_NO_INLINE_WRITE
	if (io->op == BACKEND_OP_WRITE && (be->in_memory || be->local_cache))
		return backend_inline_write(be, io);
#endif
	if (be->in_memory &&
	    (io->op == BACKEND_OP_READ || io->op == BACKEND_OP_FLUSH)) {
		backend_fileio_exec(be, io);
		backend_cq_push(io->cq, io);
		return true;
	}
#ifndef BACKEND_NO_INLINE_READ
	if (io->op == BACKEND_OP_READ &&
	    __atomic_load_n(&be->try_nowait, __ATOMIC_RELAXED) &&
	    backend_inline_read(be, io)) {
		backend_cq_push(io->cq, io);
		return true;
	}
#endif
	return false;
}
