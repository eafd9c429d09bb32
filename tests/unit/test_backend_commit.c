/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The ietd authors */
/*
 * Group commit (src/backend/commit.c): a durable write is answered only
 * by a flush that began after it completed; the writes one round of a
 * thread completes share a flush; once every flush slot is taken, writes
 * (and a FLUSH) wait for the next one, which answers them all; flushes
 * are answered in the order they started; a flush error fails what it
 * covers and what was in flight; every answer runs on its own queue's
 * thread.
 *
 * Writes are completed by hand: backend_commit_submit() sets an io up as
 * backend_submit() would, and calling io->done() is what the ring, the
 * pool or inline.c does when the write itself is done. Most cases also
 * finish the flushes by hand (backend_commit_by_hand), in the order and
 * with the result they need; the others run real ones (fdatasync of a
 * file in build/) on both engines, failing ones with /dev/null under the
 * store's fd (writes succeed, syncs fail with EINVAL).
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#define TEST_IMAGE_STEM "test_commit"
#include "backend_harness.h"

#define TEST_FILE_SIZE (1024 * 1024)
#define TEST_K BACKEND_COMMIT_FLUSHES
/* Writes completed while every flush slot is busy. */
#define TEST_LATE 6

static uint8_t test_buf[4096];

/* What one io's done() saw. */
struct rec {
	int ndone;
	int result;
	pthread_t thread;
};

static void
rec_done(struct backend_io *io)
{
	struct rec *r = io->arg;

	r->ndone++;
	r->result = io->result;
	r->thread = pthread_self();
}


static struct backend *
test_open(const char *type, bool wt)
{
	struct backend_open_params p = {
	    .type = type,
	    .path = test_path,
	    .write_through = wt,
	};
	struct backend *be = NULL;
	char why[256];

	assert_int_equal(backend_open(&p, &be, why, sizeof(why)), 0);
	assert_false(be->in_memory);
	return be;
}

/* A write of 4 KiB at off set up as backend_submit() does; not done. */
static void
test_fake_write(struct backend *be, struct backend_cq *cq,
    struct backend_io *io, struct iovec *iov, struct rec *r, uint64_t off,
    bool fua)
{
	*iov = (struct iovec){.iov_base = test_buf, .iov_len = 4096};
	*io = (struct backend_io){.op = BACKEND_OP_WRITE,
	    .offset = off,
	    .len = 4096,
	    .iov = iov,
	    .iovcnt = 1,
	    .fua = fua,
	    .cq = cq,
	    .done = rec_done,
	    .arg = r,
	    .be = be};
	*r = (struct rec){0};
	assert_false(backend_commit_submit(be, io));
	/* Taken: its completion goes through commit.c first. */
	assert_ptr_equal(io->commit_done, rec_done);
	assert_ptr_not_equal(io->done, rec_done);
}

/* The write is done (into the cache): what the ring or pool would call. */
static void
test_fake_complete(struct backend_io *io)
{
	io->result = 0;
	io->done(io);
}

static int
test_list_len(const struct list_node *head)
{
	const struct list_node *pos;
	int n = 0;

	for (pos = head->next; pos != head; pos = pos->next)
		n++;
	return n;
}

static bool
test_on_list(const struct list_node *head, const struct backend_io *io)
{
	const struct list_node *pos;

	for (pos = head->next; pos != head; pos = pos->next)
		if (pos == &io->node)
			return true;
	return false;
}

/* The busy flush slot whose batch holds io, or NULL. */
static struct backend_commit_flush *
test_flush_of(struct backend *be, const struct backend_io *io)
{
	for (int i = 0; i < TEST_K; i++) {
		struct backend_commit_flush *f = &be->commit.flush[i];

		if (f->busy && test_on_list(&f->covered, io))
			return f;
	}
	return NULL;
}

/* Drain cq until *n reaches want (each drain waits at most 5 s). */
static void
test_drain_until(struct backend_cq *cq, const int *n, int want)
{
	struct pollfd pfd = {.fd = backend_cq_fd(cq), .events = POLLIN};

	while (__atomic_load_n(n, __ATOMIC_ACQUIRE) < want) {
		assert_true(poll(&pfd, 1, 5000) == 1);
		backend_cq_drain(cq);
	}
}

/* Submit io through backend_submit() and drain cq until it is answered. */
static int
test_run(struct backend *be, struct backend_cq *cq, struct backend_io *io)
{
	struct rec r = {0};

	io->cq = cq;
	io->done = rec_done;
	io->arg = &r;
	backend_submit(be, io);
	assert_int_equal(r.ndone, 0);
	test_drain_until(cq, &r.ndone, 1);
	assert_int_equal(r.ndone, 1);
	return r.result;
}

/* The busy flush slot started as number seq, or NULL. */
static struct backend_commit_flush *
test_started(struct backend *be, uint64_t seq)
{
	for (int i = 0; i < TEST_K; i++) {
		struct backend_commit_flush *f = &be->commit.flush[i];

		if (f->busy && f->seq == seq)
			return f;
	}
	return NULL;
}

/* What the ring or the pool does when a flush started by hand is done. */
static void
test_finish(struct backend_commit_flush *f, int rc)
{
	assert_true(f->busy);
	assert_false(f->finished);
	f->io.result = rc;
	f->io.done(&f->io);
}

static int
test_answered(const struct rec *r, int n)
{
	int k = 0;

	for (int i = 0; i < n; i++)
		k += r[i].ndone;
	return k;
}

/* A queue whose owner runs its local work, as an event thread's. */
static struct backend_cq *
test_cq_local(void)
{
	struct backend_cq *cq = backend_cq_new();

	assert_non_null(cq);
	backend_cq_set_local(cq, true);
	return cq;
}

/*
 * Writes completed in one round of the thread share one flush: nothing
 * starts until the round ends (the kick), then one flush over their
 * extent answers all of them, each on its own queue's thread.
 */
static void
test_commit_round(void **state)
{
	struct backend_cq *cq = test_cq_local();
	struct backend *be = test_open("fileio", true);
	static struct backend_io io[5];
	static struct iovec iov[5];
	static struct rec r[5];
	uint64_t flushes = backend_commit_stats.flushes;
	struct backend_commit_flush *f;

	(void)state;
	backend_commit_by_hand = true;
	for (int i = 0; i < 5; i++)
		test_fake_write(be, cq, &io[i], &iov[i], &r[i],
		    65536 + (uint64_t)i * 8192, false);
	for (int i = 0; i < 5; i++)
		test_fake_complete(&io[i]);
	assert_int_equal(backend_commit_stats.flushes, flushes);
	assert_int_equal(test_list_len(&be->commit.waiting), 5);
	assert_true(be->commit.kick_queued);
	/* The end of the round. */
	assert_true(backend_cq_run_local(cq));
	assert_int_equal(backend_commit_stats.flushes, flushes + 1);
	f = test_started(be, 0);
	assert_non_null(f);
	assert_int_equal(test_list_len(&f->covered), 5);
	assert_int_equal(f->io.op, BACKEND_OP_FLUSH);
	assert_int_equal(f->io.offset, 65536);
	assert_int_equal(f->io.len, 4 * 8192 + 4096);
	assert_ptr_equal(f->io.cq, cq);
	assert_int_equal(test_answered(r, 5), 0);
	test_finish(f, 0);
	/* Pushed to their queue: done() runs when its owner gets to it. */
	assert_int_equal(test_answered(r, 5), 0);
	assert_true(backend_cq_run_local(cq));
	for (int i = 0; i < 5; i++) {
		assert_int_equal(r[i].ndone, 1);
		assert_int_equal(r[i].result, 0);
		assert_true(pthread_equal(r[i].thread, pthread_self()));
		/* done() is the submitter's again, for a resubmit. */
		assert_ptr_equal(io[i].done, rec_done);
		assert_null(io[i].commit_done);
	}
	assert_int_equal(backend_commit_stats.flushes, flushes + 1);
	backend_commit_by_hand = false;
	backend_close(be);
	backend_cq_free(cq);
}

/*
 * Once every flush slot is taken, writes (and a FLUSH) that complete wait
 * for the next flush, which starts when the oldest is done and covers
 * them all; flushes are answered in the order they started.
 */
static void
test_commit_waits(void **state)
{
	struct backend_cq *cq = test_cq_local();
	struct backend *be = test_open("fileio", true);
	static struct backend_io io[TEST_K + TEST_LATE], fl;
	static struct iovec iov[TEST_K + TEST_LATE];
	static struct rec r[TEST_K + TEST_LATE], rf;
	const int n = TEST_K + TEST_LATE;
	struct backend_commit_stats s0 = backend_commit_stats;
	struct backend_commit_flush *f;

	(void)state;
	backend_commit_by_hand = true;
	for (int i = 0; i < n; i++)
		test_fake_write(be, cq, &io[i], &iov[i], &r[i],
		    (uint64_t)i * 8192, false);
	/* One round each: a flush each, over that write alone. */
	for (int i = 0; i < TEST_K; i++) {
		test_fake_complete(&io[i]);
		assert_true(backend_cq_run_local(cq));
		f = test_started(be, (uint64_t)i);
		assert_non_null(f);
		assert_int_equal(test_list_len(&f->covered), 1);
		assert_true(test_on_list(&f->covered, &io[i]));
		assert_int_equal(f->io.offset, io[i].offset);
		assert_int_equal(f->io.len, 4096);
	}
	for (int i = TEST_K; i < n; i++)
		test_fake_complete(&io[i]);
	/* A FLUSH joins them: it needs a flush that begins after it. */
	rf = (struct rec){0};
	fl = (struct backend_io){.op = BACKEND_OP_FLUSH,
	    .cq = cq,
	    .done = rec_done,
	    .arg = &rf};
	backend_submit(be, &fl);
	assert_true(backend_cq_run_local(cq));
	assert_int_equal(backend_commit_stats.flushes, s0.flushes + TEST_K);
	assert_int_equal(test_list_len(&be->commit.waiting), TEST_LATE + 1);
	for (int i = TEST_K; i < n; i++)
		assert_null(test_flush_of(be, &io[i]));
	/* The youngest finishing first answers nothing yet. */
	for (int i = TEST_K - 1; i > 0; i--) {
		test_finish(test_started(be, (uint64_t)i), 0);
		backend_cq_run_local(cq);
		assert_int_equal(test_answered(r, n), 0);
	}
	assert_int_equal(backend_commit_stats.flushes, s0.flushes + TEST_K);
	/* The oldest: all of them answered, and one flush for the rest. */
	test_finish(test_started(be, 0), 0);
	assert_true(backend_cq_run_local(cq));
	assert_int_equal(test_answered(r, TEST_K), TEST_K);
	assert_int_equal(test_answered(r + TEST_K, TEST_LATE), 0);
	assert_int_equal(rf.ndone, 0);
	assert_int_equal(backend_commit_stats.flushes, s0.flushes + TEST_K + 1);
	f = test_started(be, TEST_K);
	assert_non_null(f);
	assert_int_equal(test_list_len(&f->covered), TEST_LATE + 1);
	assert_true(test_on_list(&f->covered, &fl));
	/* A FLUSH among them: the whole store. */
	assert_int_equal(f->io.offset, 0);
	assert_int_equal(f->io.len, 0);
	test_finish(f, 0);
	assert_true(backend_cq_run_local(cq));
	for (int i = 0; i < n; i++) {
		assert_int_equal(r[i].ndone, 1);
		assert_int_equal(r[i].result, 0);
	}
	assert_int_equal(rf.ndone, 1);
	assert_int_equal(rf.result, 0);
	assert_int_equal(backend_commit_stats.ios, s0.ios + (uint64_t)n + 1);
	assert_int_equal(backend_commit_stats.failed, s0.failed);
	backend_commit_by_hand = false;
	backend_close(be);
	backend_cq_free(cq);
}

/* A write that fails by itself is answered at once, without a flush. */
static void
test_commit_write_error(void **state)
{
	struct backend_cq *cq = test_cq_local();
	struct backend *be = test_open("fileio", true);
	struct backend_io io;
	struct iovec iov;
	struct rec r;
	uint64_t flushes = backend_commit_stats.flushes;

	(void)state;
	test_fake_write(be, cq, &io, &iov, &r, 0, false);
	io.result = -ENOSPC;
	io.done(&io);
	assert_int_equal(r.ndone, 1);
	assert_int_equal(r.result, -ENOSPC);
	assert_false(backend_cq_run_local(cq));
	assert_int_equal(backend_commit_stats.flushes, flushes);
	backend_close(be);
	backend_cq_free(cq);
}

/*
 * A failed flush fails what it covers; a flush that ran beside it and
 * succeeded, a write that waited meanwhile and a write in flight then
 * fail too (their pages may be what it lost), even though their own
 * flush succeeds. A write submitted after the failure is fine, and so
 * is a FLUSH on a write-through store.
 */
static void
test_commit_error(void **state)
{
	struct backend_cq *cq = test_cq_local();
	struct backend *be = test_open("fileio", true);
	static struct backend_io io[TEST_K], late, x, y, fl;
	static struct iovec iov[TEST_K], liov, xiov, yiov;
	static struct rec r[TEST_K], rl, rx, ry, rf;
	uint64_t failed = backend_commit_stats.failed, flushes;

	(void)state;
	backend_commit_by_hand = true;
	for (int i = 0; i < TEST_K; i++) {
		test_fake_write(be, cq, &io[i], &iov[i], &r[i],
		    (uint64_t)i * 4096, false);
		test_fake_complete(&io[i]);
		backend_cq_run_local(cq);
	}
	test_fake_write(be, cq, &late, &liov, &rl, 65536, false);
	test_fake_complete(&late);
	backend_cq_run_local(cq);
	assert_true(test_on_list(&be->commit.waiting, &late));
	/* In flight (submitted, not complete) when the failure comes. */
	test_fake_write(be, cq, &x, &xiov, &rx, 131072, false);
	for (int i = TEST_K - 1; i > 0; i--)
		test_finish(test_started(be, (uint64_t)i), 0);
	test_finish(test_started(be, 0), -EIO);
	backend_cq_run_local(cq);
	for (int i = 0; i < TEST_K; i++) {
		assert_int_equal(r[i].ndone, 1);
		assert_int_equal(r[i].result, -EIO);
	}
	/* late has its own flush now; it succeeds, and does not save it. */
	assert_int_equal(rl.ndone, 0);
	test_finish(test_started(be, TEST_K), 0);
	backend_cq_run_local(cq);
	assert_int_equal(rl.ndone, 1);
	assert_int_equal(rl.result, -EIO);
	flushes = backend_commit_stats.flushes;
	test_fake_complete(&x);
	assert_int_equal(rx.ndone, 1);
	assert_int_equal(rx.result, -EIO);
	assert_int_equal(backend_commit_stats.flushes, flushes);
	assert_int_equal(backend_commit_stats.failed, failed + TEST_K + 2);

	test_fake_write(be, cq, &y, &yiov, &ry, 0, false);
	test_fake_complete(&y);
	backend_cq_run_local(cq);
	test_finish(test_started(be, TEST_K + 1), 0);
	backend_cq_run_local(cq);
	assert_int_equal(ry.ndone, 1);
	assert_int_equal(ry.result, 0);
	/* Write-through: every loss was reported to its write. */
	rf = (struct rec){0};
	fl = (struct backend_io){.op = BACKEND_OP_FLUSH,
	    .cq = cq,
	    .done = rec_done,
	    .arg = &rf};
	backend_submit(be, &fl);
	backend_cq_run_local(cq);
	test_finish(test_started(be, TEST_K + 2), 0);
	backend_cq_run_local(cq);
	assert_int_equal(rf.ndone, 1);
	assert_int_equal(rf.result, 0);
	backend_commit_by_hand = false;
	backend_close(be);
	backend_cq_free(cq);
}

/* A FLUSH submitted, its flush started and finished with rc by hand. */
static int
test_flush_by_hand(struct backend *be, struct backend_cq *cq, int rc)
{
	struct backend_io fl = {.op = BACKEND_OP_FLUSH};
	struct rec r = {0};
	uint64_t seq = be->commit.started;

	fl.cq = cq;
	fl.done = rec_done;
	fl.arg = &r;
	backend_submit(be, &fl);
	backend_cq_run_local(cq);
	test_finish(test_started(be, seq), rc);
	backend_cq_run_local(cq);
	assert_int_equal(r.ndone, 1);
	return r.result;
}

/*
 * Write-back: a FUA write's failed flush may have dropped plain writes
 * acknowledged earlier, so the next SYNCHRONIZE CACHE reports it, once.
 */
static void
test_commit_error_wb(void **state)
{
	struct backend_cq *cq = test_cq_local();
	struct backend *be = test_open("fileio", false);
	struct backend_io io;
	struct iovec iov;
	struct rec r;

	(void)state;
	backend_commit_by_hand = true;
	/* A plain write-back write is none of group commit's business. */
	io = (struct backend_io){.op = BACKEND_OP_WRITE, .len = 4096};
	assert_false(backend_commit_submit(be, &io));
	assert_null(io.commit_done);
	assert_int_equal(test_flush_by_hand(be, cq, 0), 0);
	test_fake_write(be, cq, &io, &iov, &r, 0, true);
	test_fake_complete(&io);
	backend_cq_run_local(cq);
	test_finish(test_started(be, be->commit.started - 1), -EIO);
	backend_cq_run_local(cq);
	assert_int_equal(r.result, -EIO);
	assert_int_equal(test_flush_by_hand(be, cq, 0), -EIO);
	assert_int_equal(test_flush_by_hand(be, cq, 0), 0);
	/* Its own flush failing: its own error, and reported with it. */
	assert_int_equal(test_flush_by_hand(be, cq, -ENOSPC), -ENOSPC);
	assert_int_equal(test_flush_by_hand(be, cq, 0), 0);
	backend_commit_by_hand = false;
	backend_close(be);
	backend_cq_free(cq);
}

/*
 * Real flushes on either engine: one round's writes and a FLUSH take one
 * flush on the thread's ring (or the pool); a store whose flush fails
 * (/dev/null under it: writes succeed, syncs fail with EINVAL) fails them.
 */
static void
test_commit_real(void **state)
{
	struct backend_cq *cq = test_cq_local();
	struct backend *be = test_open("fileio", true);
	static struct backend_io io[8], fl;
	static struct iovec iov[8];
	static struct rec r[8], rf;
	uint64_t flushes = backend_commit_stats.flushes;
	uint64_t fsyncs = backend_uring_stats.fsyncs;
	int real = dup(be->fd), null = open("/dev/null", O_WRONLY | O_CLOEXEC);

	(void)state;
	assert_true(real >= 0 && null >= 0);
	for (int round = 0; round < 2; round++) {
		int want = round == 0 ? 0 : -EINVAL;

		if (round == 1)
			assert_true(dup2(null, be->fd) == be->fd);
		for (int i = 0; i < 8; i++) {
			test_fake_write(be, cq, &io[i], &iov[i], &r[i],
			    (uint64_t)i * 4096, false);
			test_fake_complete(&io[i]);
		}
		rf = (struct rec){0};
		fl = (struct backend_io){.op = BACKEND_OP_FLUSH,
		    .cq = cq,
		    .done = rec_done,
		    .arg = &rf};
		backend_submit(be, &fl);
		backend_cq_run_local(cq);
		assert_int_equal(backend_commit_stats.flushes,
		    flushes + (uint64_t)round + 1);
		for (int i = 0; i < 8; i++)
			test_drain_until(cq, &r[i].ndone, 1);
		test_drain_until(cq, &rf.ndone, 1);
		for (int i = 0; i < 8; i++) {
			assert_true(pthread_equal(r[i].thread, pthread_self()));
			assert_int_equal(r[i].result, want);
		}
		assert_int_equal(rf.result, want);
	}
	if (backend_cq_uring(cq))
		assert_int_equal(backend_uring_stats.fsyncs, fsyncs + 2);
	assert_true(dup2(real, be->fd) == be->fd);
	close(real);
	close(null);
	backend_close(be);
	backend_cq_free(cq);
}

struct test_other {
	struct backend *be;
	struct backend_io io;
	struct iovec iov;
	struct rec r;
	uint8_t data[4096];
	pthread_t self;
};

/* Another event thread: a real write on its own queue, then drain it. */
static void *
test_other_thread(void *arg)
{
	struct test_other *o = arg;
	struct backend_cq *cq = backend_cq_new();
	struct pollfd pfd;

	if (cq == NULL)
		return NULL;
	o->self = pthread_self();
	o->iov = (struct iovec){.iov_base = o->data, .iov_len = 4096};
	o->io = (struct backend_io){.op = BACKEND_OP_WRITE,
	    .offset = 65536,
	    .len = 4096,
	    .iov = &o->iov,
	    .iovcnt = 1,
	    .cq = cq,
	    .done = rec_done,
	    .arg = &o->r};
	backend_submit(o->be, &o->io);
	pfd = (struct pollfd){.fd = backend_cq_fd(cq), .events = POLLIN};
	while (__atomic_load_n(&o->r.ndone, __ATOMIC_ACQUIRE) == 0) {
		if (poll(&pfd, 1, 10000) != 1)
			break;
		backend_cq_drain(cq);
	}
	backend_cq_free(cq);
	return NULL;
}

/*
 * A write from another thread's queue completes while every flush slot
 * is taken by this thread's flushes (real ones, whose completions wait
 * for this thread's drain): the flush that answers it belongs to its
 * queue, and its done() runs on its own thread.
 */
static void
test_commit_threads(void **state)
{
	struct backend_cq *cq = test_cq_local();
	struct backend *be = test_open("fileio", true);
	static struct backend_io io[TEST_K];
	static struct iovec iov[TEST_K];
	static struct rec r[TEST_K];
	static struct test_other o;
	uint64_t flushes = backend_commit_stats.flushes;
	uint8_t back[4096];
	struct backend_io rd;
	struct iovec rdiov = {.iov_base = back, .iov_len = sizeof(back)};
	pthread_t t;
	bool waiting = false;

	(void)state;
	for (int i = 0; i < TEST_K; i++) {
		test_fake_write(be, cq, &io[i], &iov[i], &r[i],
		    (uint64_t)i * 4096, false);
		test_fake_complete(&io[i]);
		assert_true(backend_cq_run_local(cq));
	}
	assert_int_equal(backend_commit_stats.flushes, flushes + TEST_K);
	memset(&o, 0, sizeof(o));
	o.be = be;
	memset(o.data, 0xa7, sizeof(o.data));
	assert_int_equal(pthread_create(&t, NULL, test_other_thread, &o), 0);
	/* Its write done, it waits: every flush slot is ours. */
	for (int i = 0; i < 5000 && !waiting; i++) {
		pthread_mutex_lock(&be->commit.lock);
		waiting = test_on_list(&be->commit.waiting, &o.io);
		pthread_mutex_unlock(&be->commit.lock);
		if (!waiting)
			usleep(1000);
	}
	assert_true(waiting);
	assert_int_equal(__atomic_load_n(&o.r.ndone, __ATOMIC_ACQUIRE), 0);
	for (int i = 0; i < TEST_K; i++)
		test_drain_until(cq, &r[i].ndone, 1);
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_int_equal(o.r.ndone, 1);
	assert_int_equal(o.r.result, 0);
	assert_true(pthread_equal(o.r.thread, o.self));
	for (int i = 0; i < TEST_K; i++) {
		assert_int_equal(r[i].result, 0);
		assert_true(pthread_equal(r[i].thread, pthread_self()));
	}
	assert_int_equal(backend_commit_stats.flushes, flushes + TEST_K + 1);
	rd = (struct backend_io){.op = BACKEND_OP_READ,
	    .offset = 65536,
	    .len = sizeof(back),
	    .iov = &rdiov,
	    .iovcnt = 1};
	backend_cq_set_local(cq, false);
	assert_int_equal(test_run(be, cq, &rd), 0);
	assert_memory_equal(back, o.data, sizeof(back));
	backend_close(be);
	backend_cq_free(cq);
}

#define TEST_DEPTH 64

/*
 * Real write-through writes at depth through backend_submit(), on an
 * event-thread-like queue: all land, none with RWF_DSYNC, far fewer
 * flushes than writes. Then the same on O_DIRECT (blockio).
 */
static void
test_commit_depth_type(const char *type)
{
	struct backend_cq *cq = backend_cq_new();
	struct backend *be = test_open(type, true);
	static struct backend_io io[TEST_DEPTH];
	static struct iovec iov[TEST_DEPTH];
	static struct rec r[TEST_DEPTH];
	static uint8_t data[TEST_DEPTH][4096] __attribute__((aligned(4096)));
	static uint8_t back[TEST_DEPTH * 4096] __attribute__((aligned(4096)));
	struct backend_commit_stats s0 = backend_commit_stats;
	uint64_t dsync = backend_uring_stats.dsync_writes;
	struct backend_io rd;
	struct iovec rdiov = {.iov_base = back, .iov_len = sizeof(back)};

	backend_cq_set_local(cq, true);
	for (int i = 0; i < TEST_DEPTH; i++) {
		memset(data[i], i + 1, sizeof(data[i]));
		iov[i] = (struct iovec){.iov_base = data[i], .iov_len = 4096};
		io[i] = (struct backend_io){.op = BACKEND_OP_WRITE,
		    .offset = (uint64_t)i * 4096,
		    .len = 4096,
		    .iov = &iov[i],
		    .iovcnt = 1,
		    .cq = cq,
		    .done = rec_done,
		    .arg = &r[i]};
		r[i] = (struct rec){0};
		backend_submit(be, &io[i]);
	}
	for (int i = 0; i < TEST_DEPTH; i++) {
		struct pollfd pfd = {.fd = backend_cq_fd(cq), .events = POLLIN};

		backend_cq_run_local(cq);
		while (r[i].ndone == 0) {
			assert_true(poll(&pfd, 1, 5000) == 1);
			backend_cq_drain(cq);
		}
		assert_int_equal(r[i].result, 0);
	}
	assert_int_equal(backend_commit_stats.ios, s0.ios + TEST_DEPTH);
	assert_true(backend_commit_stats.flushes - s0.flushes < TEST_DEPTH / 2);
	assert_int_equal(backend_uring_stats.dsync_writes, dsync);
	backend_cq_set_local(cq, false);
	rd = (struct backend_io){.op = BACKEND_OP_READ,
	    .len = sizeof(back),
	    .iov = &rdiov,
	    .iovcnt = 1};
	assert_int_equal(test_run(be, cq, &rd), 0);
	for (int i = 0; i < TEST_DEPTH; i++)
		assert_memory_equal(back + i * 4096, data[i], 4096);
	backend_close(be);
	backend_cq_free(cq);
}

static void
test_commit_depth(void **state)
{
	(void)state;
	test_commit_depth_type("fileio");
	test_commit_depth_type("blockio");
}

/* nullio and tmpfs have nothing to flush: group commit stays out. */
static void
test_commit_not_taken(void **state)
{
	struct backend_open_params p = {.type = "nullio",
	    .size = TEST_FILE_SIZE,
	    .write_through = true};
	struct backend *be = NULL;
	struct backend_io io = {.op = BACKEND_OP_WRITE, .len = 4096};
	char why[256], shm[64];
	int fd;

	(void)state;
	assert_int_equal(backend_open(&p, &be, why, sizeof(why)), 0);
	assert_false(backend_commit_submit(be, &io));
	assert_null(io.commit_done);
	io.op = BACKEND_OP_FLUSH;
	assert_false(backend_commit_submit(be, &io));
	backend_close(be);
	snprintf(shm, sizeof(shm), "/dev/shm/ietd-test-commit.%d",
	    (int)getpid());
	fd = open(shm, O_RDWR | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, TEST_FILE_SIZE), 0);
	close(fd);
	p = (struct backend_open_params){.type = "fileio",
	    .path = shm,
	    .write_through = true};
	assert_int_equal(backend_open(&p, &be, why, sizeof(why)), 0);
	assert_true(be->in_memory);
	io.op = BACKEND_OP_WRITE;
	assert_false(backend_commit_submit(be, &io));
	assert_null(io.commit_done);
	backend_close(be);
	unlink(shm);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_commit_round),
	    cmocka_unit_test(test_commit_waits),
	    cmocka_unit_test(test_commit_write_error),
	    cmocka_unit_test(test_commit_error),
	    cmocka_unit_test(test_commit_error_wb),
	    TEST_BOTH(test_commit_real),
	    TEST_BOTH(test_commit_threads),
	    TEST_BOTH(test_commit_depth),
	    cmocka_unit_test(test_commit_not_taken),
	};
	int rc = cmocka_run_group_tests(tests, test_setup, test_teardown);

	backend_workers_stop();
	return rc;
}
