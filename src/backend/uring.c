/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The ietd authors */
/*
 * The io_uring engine: one ring per completion queue, so per event thread,
 * with the queue's eventfd registered on it. Reads, writes, flushes and
 * file hole punching/zeroing go to the ring; whatever it cannot do (block
 * device discards, O_DIRECT bounce buffers, a full ring) goes to the
 * Wthreads pool in aio.c, which does the same work with the same results.
 */
#include <sys/uio.h>
#include <linux/falloc.h>
#include <linux/fs.h>

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <liburing.h>

#include "backend/backend_int.h"
#include "util/alloc.h"
#include "util/log.h"

/*
 * Submission queue entries per ring. Requests in flight are capped at
 * this too (one context each), which keeps them below the completion
 * queue's size (twice this), so the kernel never has to hold overflowed
 * completions for us.
 */
#define URING_ENTRIES 256
/* Ring used only to find out whether io_uring works at all. */
#define URING_PROBE_ENTRIES 4

/* What a request waits for. */
enum uring_stage {
	URING_STAGE_RW,     /* read or write, perhaps continued */
	URING_STAGE_FALLOC, /* discard / write zeroes on a file */
	URING_STAGE_FSYNC,  /* FLUSH, or the sync after FALLOC in wt mode */
};

struct uring_req {
	struct backend_io *io;
	struct uring_req *next_free;
	enum uring_stage stage;
	uint64_t done; /* bytes moved so far */
	/*
	 * The iovec the kernel sees: io->iov, a private copy made once a
	 * transfer came up short (v_own), or bounce_iov.
	 */
	struct iovec *v;
	int vcnt;
	bool v_own;
	int first; /* first iovec of v not yet fully moved */
	/* Aligned copy of the data for O_DIRECT when io's buffers are not. */
	void *bounce;
	struct iovec bounce_iov;
	/* The test cap clipped v[clip_idx]; its real length is clip_len. */
	int clip_idx;
	size_t clip_len;
	bool dsync;
};

struct backend_uring {
	struct io_uring ring;
	struct uring_req reqs[URING_ENTRIES];
	struct uring_req *free;
	unsigned int inflight;
	int efd;
	bool sq_pending; /* SQEs prepared but io_uring_enter failed */
};

static void backend_uring_flush(struct backend_uring *u);

struct backend_uring_stats backend_uring_stats;
uint32_t backend_uring_max_xfer;

static void
backend_uring_count(uint64_t *c)
{
	__atomic_add_fetch(c, 1, __ATOMIC_RELAXED);
}

int
backend_uring_probe(char *why, size_t whylen)
{
	static const struct {
		int op;
		const char *name;
	} need[] = {
	    {IORING_OP_READ, "READ"},
	    {IORING_OP_WRITE, "WRITE"},
	    {IORING_OP_READV, "READV"},
	    {IORING_OP_WRITEV, "WRITEV"},
	    {IORING_OP_FSYNC, "FSYNC"},
	    {IORING_OP_FALLOCATE, "FALLOCATE"},
	};
	struct io_uring ring;
	struct io_uring_probe *p;
	size_t i;
	int rc;

	rc = io_uring_queue_init(URING_PROBE_ENTRIES, &ring, 0);
	if (rc < 0) {
		snprintf(why, whylen, "io_uring_setup: %s", strerror(-rc));
		return rc;
	}
	p = io_uring_get_probe_ring(&ring);
	if (p == NULL) {
		io_uring_queue_exit(&ring);
		snprintf(why, whylen, "cannot probe io_uring opcodes");
		return -ENOSYS;
	}
	rc = 0;
	for (i = 0; i < sizeof(need) / sizeof(need[0]); i++) {
		if (!io_uring_opcode_supported(p, need[i].op)) {
			snprintf(why, whylen, "kernel lacks io_uring opcode %s",
			    need[i].name);
			rc = -ENOSYS;
			break;
		}
	}
	io_uring_free_probe(p);
	io_uring_queue_exit(&ring);
	return rc;
}

struct backend_uring *
backend_uring_new(int efd, char *why, size_t whylen)
{
	struct backend_uring *u = mem_zalloc(sizeof(*u));
	int i, rc;

	if (u == NULL) {
		snprintf(why, whylen, "out of memory");
		return NULL;
	}
	rc = io_uring_queue_init(URING_ENTRIES, &u->ring, 0);
	if (rc < 0) {
		snprintf(why, whylen, "io_uring_setup: %s", strerror(-rc));
		mem_free(u);
		return NULL;
	}
	/* Completions wake the owner through the queue's own fd. */
	rc = io_uring_register_eventfd(&u->ring, efd);
	if (rc < 0) {
		snprintf(why, whylen, "io_uring_register_eventfd: %s",
		    strerror(-rc));
		io_uring_queue_exit(&u->ring);
		mem_free(u);
		return NULL;
	}
	u->efd = efd;
	for (i = URING_ENTRIES - 1; i >= 0; i--) {
		u->reqs[i].next_free = u->free;
		u->free = &u->reqs[i];
	}
	return u;
}

void
backend_uring_free(struct backend_uring *u)
{
	if (u == NULL)
		return;
	/* The kernel must be done with every buffer before we go. */
	while (u->inflight > 0) {
		struct io_uring_cqe *cqe;
		int rc;

		if (u->sq_pending)
			backend_uring_flush(u);
		rc = io_uring_wait_cqe(&u->ring, &cqe);
		if (rc < 0 && rc != -EINTR && rc != -EAGAIN) {
			/* Cannot happen; exiting the ring cancels the rest. */
			log_error("backend I/O: waiting for %u request(s) on "
				  "io_uring failed (%s)",
			    u->inflight, strerror(-rc));
			break;
		}
		backend_uring_reap(u);
	}
	io_uring_queue_exit(&u->ring);
	mem_free(u);
}

static void
backend_uring_req_put(struct backend_uring *u, struct uring_req *r)
{
	if (r->v_own)
		mem_free(r->v);
	free(r->bounce);
	r->io = NULL;
	r->v = NULL;
	r->v_own = false;
	r->bounce = NULL;
	r->next_free = u->free;
	u->free = r;
}

/* Hand io to the worker pool: it redoes the whole request from scratch. */
static void
backend_uring_to_pool(struct backend *be, struct backend_io *io)
{
	int rc;

	backend_uring_count(&backend_uring_stats.fallbacks);
	io->result = 0;
	rc = backend_workers_queue(be, io);
	if (rc < 0) {
		io->result = rc;
		backend_cq_push(io->cq, io);
	}
}

/* Submit what was prepared; a failed enter is retried at the next drain. */
static void
backend_uring_flush(struct backend_uring *u)
{
	int rc;

	do {
		rc = io_uring_submit(&u->ring);
	} while (rc == -EINTR);
	if (rc >= 0) {
		u->sq_pending = false;
		return;
	}
	/*
	 * The SQEs stay in the ring and the kernel takes them at the next
	 * enter: they must not go to the pool as well. Poke our own fd so
	 * the owner's next drain tries again.
	 */
	u->sq_pending = true;
	{
		uint64_t one = 1;
		ssize_t n;

		do {
			n = write(u->efd, &one, sizeof(one));
		} while (n < 0 && errno == EINTR);
	}
}

static struct io_uring_sqe *
backend_uring_sqe(struct backend_uring *u)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&u->ring);

	if (sqe == NULL) {
		/* SQ full: push it to the kernel and try once more. */
		backend_uring_flush(u);
		sqe = io_uring_get_sqe(&u->ring);
	}
	return sqe;
}

/*
 * Clip the private iovec to the test cap (backend_uring_max_xfer) so the
 * kernel returns a short count; returns the number of iovecs to pass.
 */
static int
backend_uring_clip(struct uring_req *r, int cnt)
{
	uint64_t cap =
	    __atomic_load_n(&backend_uring_max_xfer, __ATOMIC_RELAXED);
	uint64_t sum = 0;
	int i;

	r->clip_idx = -1;
	if (cap == 0)
		return cnt;
	for (i = 0; i < cnt; i++) {
		struct iovec *v = &r->v[r->first + i];

		if (sum + v->iov_len >= cap) {
			r->clip_idx = r->first + i;
			r->clip_len = v->iov_len;
			v->iov_len = (size_t)(cap - sum);
			return i + 1;
		}
		sum += v->iov_len;
	}
	return cnt;
}

static void
backend_uring_unclip(struct uring_req *r)
{
	if (r->clip_idx >= 0) {
		r->v[r->clip_idx].iov_len = r->clip_len;
		r->clip_idx = -1;
	}
}

/* Make r->v a private copy of the iovec so it can be advanced. */
static int
backend_uring_own_iov(struct uring_req *r)
{
	struct iovec *v;

	if (r->v_own || r->bounce != NULL)
		return 0;
	v = mem_calloc((size_t)r->vcnt, sizeof(*v));
	if (v == NULL)
		return -ENOMEM;
	memcpy(v, r->v, (size_t)r->vcnt * sizeof(*v));
	r->v = v;
	r->v_own = true;
	return 0;
}

/* Queue the rest of a read or write: [done, len) from v[first...]. */
static int
backend_uring_prep_rw(struct backend_uring *u, struct uring_req *r)
{
	struct backend_io *io = r->io;
	struct io_uring_sqe *sqe;
	int cnt = r->vcnt - r->first;
	uint64_t off = io->offset + r->done;
	bool write = io->op == BACKEND_OP_WRITE;

	if (cnt > IOV_MAX)
		cnt = IOV_MAX;
	if (__atomic_load_n(&backend_uring_max_xfer, __ATOMIC_RELAXED) != 0) {
		if (backend_uring_own_iov(r) < 0)
			return -ENOMEM;
		cnt = backend_uring_clip(r, cnt);
	}
	sqe = backend_uring_sqe(u);
	if (sqe == NULL) {
		backend_uring_unclip(r);
		return -EBUSY;
	}
	if (cnt == 1 && r->v[r->first].iov_len <= INT_MAX) {
		/* One buffer: the plain opcodes skip the iovec import. */
		if (write)
			io_uring_prep_write(sqe, io->be->fd,
			    r->v[r->first].iov_base,
			    (unsigned int)r->v[r->first].iov_len, off);
		else
			io_uring_prep_read(sqe, io->be->fd,
			    r->v[r->first].iov_base,
			    (unsigned int)r->v[r->first].iov_len, off);
		if (write && r->dsync)
			sqe->rw_flags = RWF_DSYNC;
	} else if (write) {
		io_uring_prep_writev2(sqe, io->be->fd, r->v + r->first,
		    (unsigned int)cnt, off, r->dsync ? RWF_DSYNC : 0);
	} else {
		io_uring_prep_readv(sqe, io->be->fd, r->v + r->first,
		    (unsigned int)cnt, off);
	}
	io_uring_sqe_set_data(sqe, r);
	backend_uring_count(&backend_uring_stats.sqes);
	if (write && r->dsync)
		backend_uring_count(&backend_uring_stats.dsync_writes);
	return 0;
}

static int
backend_uring_prep_fsync(struct backend_uring *u, struct uring_req *r)
{
	struct io_uring_sqe *sqe = backend_uring_sqe(u);

	if (sqe == NULL)
		return -EBUSY;
	/*
	 * fdatasync(2), as the pool's FLUSH does; of [offset, offset+len)
	 * when a length is given (group commit's, commit.c).
	 */
	io_uring_prep_fsync(sqe, r->io->be->fd, IORING_FSYNC_DATASYNC);
	if (r->io->op == BACKEND_OP_FLUSH && r->io->len > 0 &&
	    r->io->len <= UINT32_MAX) {
		sqe->off = r->io->offset;
		sqe->len = (uint32_t)r->io->len;
	}
	io_uring_sqe_set_data(sqe, r);
	r->stage = URING_STAGE_FSYNC;
	backend_uring_count(&backend_uring_stats.sqes);
	backend_uring_count(&backend_uring_stats.fsyncs);
	return 0;
}

static int
backend_uring_prep_falloc(struct backend_uring *u, struct uring_req *r)
{
	struct backend_io *io = r->io;
	struct io_uring_sqe *sqe = backend_uring_sqe(u);
	int mode = FALLOC_FL_KEEP_SIZE;

	if (sqe == NULL)
		return -EBUSY;
	/* A discarded range reads back as zeros (LBPRZ, SBC-4 5.7.1). */
	mode |= io->op == BACKEND_OP_DISCARD ? FALLOC_FL_PUNCH_HOLE
					     : FALLOC_FL_ZERO_RANGE;
	io_uring_prep_fallocate(sqe, io->be->fd, mode, (off_t)io->offset,
	    (off_t)io->len);
	io_uring_sqe_set_data(sqe, r);
	r->stage = URING_STAGE_FALLOC;
	backend_uring_count(&backend_uring_stats.sqes);
	return 0;
}

/* Can the ring do io with exactly the results the pool would give? */
static bool
backend_uring_fits(const struct backend *be, const struct backend_io *io)
{
	switch (io->op) {
	case BACKEND_OP_READ:
	case BACKEND_OP_WRITE:
		if (io->iovcnt <= 0 || io->len == 0)
			return false;
		/*
		 * O_DIRECT: offset and length must be aligned (SCSI's always
		 * are); odd buffers get an aligned bounce buffer here. Odd
		 * offsets need read-modify-write: blockio's path on the pool.
		 */
		return !be->direct ||
		    backend_blockio_aligned(be, NULL, 0, io->offset, io->len);
	case BACKEND_OP_FLUSH:
		return true;
	case BACKEND_OP_DISCARD:
	case BACKEND_OP_WRITE_ZEROES:
		/* Block devices take ioctls (BLKDISCARD, BLKZEROOUT). */
		return !be->is_blkdev && io->len > 0;
	default:
		return false;
	}
}

/* Point r at an aligned copy of io's data (writes copy it in now). */
static int
backend_uring_bounce(const struct backend *be, struct uring_req *r)
{
	struct backend_io *io = r->io;
	size_t a = __atomic_load_n(&be->align, __ATOMIC_RELAXED);

	if (io->len > SIZE_MAX ||
	    posix_memalign(&r->bounce, a, (size_t)io->len) != 0) {
		r->bounce = NULL;
		return -ENOMEM;
	}
	if (io->op == BACKEND_OP_WRITE)
		backend_iov_to_buf(r->bounce, io->iov, io->iovcnt, io->len);
	r->bounce_iov.iov_base = r->bounce;
	r->bounce_iov.iov_len = (size_t)io->len;
	r->v = &r->bounce_iov;
	r->vcnt = 1;
	backend_uring_count(&backend_uring_stats.bounced);
	return 0;
}

bool
backend_uring_submit(struct backend_uring *u, struct backend *be,
    struct backend_io *io)
{
	struct uring_req *r;
	int rc;

	if (be->fd < 0 || !backend_uring_fits(be, io))
		return false;
	r = u->free;
	if (r == NULL)
		return false; /* every context in flight: the pool helps */
	u->free = r->next_free;
	r->io = io;
	r->done = 0;
	r->first = 0;
	r->v = io->iov;
	r->vcnt = io->iovcnt;
	r->clip_idx = -1;
	if (be->direct &&
	    !backend_blockio_aligned(be, io->iov, io->iovcnt, io->offset,
		io->len) &&
	    backend_uring_bounce(be, r) < 0) {
		backend_uring_req_put(u, r);
		return false;
	}
	r->dsync = io->op == BACKEND_OP_WRITE && backend_write_dsync(be, io);
	switch (io->op) {
	case BACKEND_OP_READ:
	case BACKEND_OP_WRITE:
		r->stage = URING_STAGE_RW;
		rc = backend_uring_prep_rw(u, r);
		break;
	case BACKEND_OP_FLUSH:
		rc = backend_uring_prep_fsync(u, r);
		break;
	default:
		rc = backend_uring_prep_falloc(u, r);
		break;
	}
	if (rc < 0) {
		backend_uring_req_put(u, r);
		return false;
	}
	u->inflight++;
	backend_uring_flush(u);
	return true;
}

static void
backend_uring_finish(struct backend_uring *u, struct uring_req *r, int result)
{
	struct backend_io *io = r->io;

	/* A bounced read is copied out to the caller's buffers. */
	if (r->bounce != NULL && io->op == BACKEND_OP_READ && result == 0)
		backend_buf_to_iov(io->iov, io->iovcnt, r->bounce, io->len);
	backend_uring_req_put(u, r);
	io->result = result;
	io->done(io);
}

/* Give up on the ring for this request: the pool starts it over. */
static void
backend_uring_fallback(struct backend_uring *u, struct uring_req *r)
{
	struct backend_io *io = r->io;

	backend_uring_req_put(u, r);
	backend_uring_to_pool(io->be, io);
}

/* Requeue r after its stage's prep; the pool takes it if the ring won't. */
static void
backend_uring_requeue(struct backend_uring *u, struct uring_req *r, int rc)
{
	if (rc < 0) {
		backend_uring_fallback(u, r);
		return;
	}
	u->inflight++;
}

static void
backend_uring_rw_done(struct backend_uring *u, struct uring_req *r, int res)
{
	struct backend_io *io = r->io;

	backend_uring_unclip(r);
	if (res == -EINTR || res == -EAGAIN) {
		backend_uring_requeue(u, r, backend_uring_prep_rw(u, r));
		return;
	}
	/*
	 * EINVAL: O_DIRECT wants bigger alignment, or RWF_DSYNC is refused;
	 * the pool's path knows both answers (bounce, fdatasync).
	 */
	if (res == -EINVAL || res == -EOPNOTSUPP) {
		backend_uring_fallback(u, r);
		return;
	}
	if (res < 0) {
		backend_uring_finish(u, r, res);
		return;
	}
	if (res == 0) {
		/* The store ended before the request did (as the pool). */
		backend_uring_finish(u, r, -EIO);
		return;
	}
	r->done += (uint64_t)res;
	if (r->done >= io->len) {
		backend_uring_finish(u, r, 0);
		return;
	}
	/* Short transfer: continue from where the kernel stopped. */
	backend_uring_count(&backend_uring_stats.short_xfers);
	if (backend_uring_own_iov(r) < 0) {
		backend_uring_fallback(u, r);
		return;
	}
	{
		size_t left = (size_t)res;

		while (r->first < r->vcnt && left >= r->v[r->first].iov_len) {
			left -= r->v[r->first].iov_len;
			r->first++;
		}
		if (r->first < r->vcnt) {
			r->v[r->first].iov_base =
			    (char *)r->v[r->first].iov_base + left;
			r->v[r->first].iov_len -= left;
		}
	}
	if (r->first >= r->vcnt) {
		/* len claimed more than the iovecs hold. */
		backend_uring_finish(u, r, -EINVAL);
		return;
	}
	backend_uring_requeue(u, r, backend_uring_prep_rw(u, r));
}

static void
backend_uring_complete(struct backend_uring *u, struct uring_req *r, int res)
{
	struct backend_io *io = r->io;

	switch (r->stage) {
	case URING_STAGE_RW:
		backend_uring_rw_done(u, r, res);
		break;
	case URING_STAGE_FALLOC:
		/*
		 * No hole punching or zeroing in this file system: the
		 * pool writes zeros by hand. WRITE ZEROES does that on any
		 * failure, as backend_file_write_zeroes() does.
		 */
		if (res == -EINTR || res == -EAGAIN)
			backend_uring_requeue(u, r,
			    backend_uring_prep_falloc(u, r));
		else if (res < 0 &&
		    (io->op == BACKEND_OP_WRITE_ZEROES || res == -EOPNOTSUPP ||
			res == -ENOSYS))
			backend_uring_fallback(u, r);
		else if (res < 0)
			backend_uring_finish(u, r, res);
		else if (io->be->write_through)
			backend_uring_requeue(u, r,
			    backend_uring_prep_fsync(u, r));
		else
			backend_uring_finish(u, r, 0);
		break;
	case URING_STAGE_FSYNC:
		if (res == -EINTR || res == -EAGAIN)
			backend_uring_requeue(u, r,
			    backend_uring_prep_fsync(u, r));
		else
			backend_uring_finish(u, r, res < 0 ? res : 0);
		break;
	}
}

void
backend_uring_reap(struct backend_uring *u)
{
	struct io_uring_cqe *cqe;

	if (u->sq_pending)
		backend_uring_flush(u);
	/*
	 * One CQE at a time, marked seen before its done() runs: done() may
	 * submit new requests (and so reap nothing twice).
	 */
	while (u->inflight > 0 && io_uring_peek_cqe(&u->ring, &cqe) == 0) {
		struct uring_req *r = io_uring_cqe_get_data(cqe);
		int res = cqe->res;

		io_uring_cqe_seen(&u->ring, cqe);
		u->inflight--;
		backend_uring_complete(u, r, res);
	}
	/* Continuations prepared above go out in one enter. */
	if (io_uring_sq_ready(&u->ring) > 0)
		backend_uring_flush(u);
}
