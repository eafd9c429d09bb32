/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The ietd authors */
/*
 * Backend tests: round trips through fileio, blockio (aligned and not)
 * and nullio via a real completion queue, discard, write-through/FUA and
 * the error path, each on both engines (thread pool and io_uring); then
 * io_uring's own cases: short transfers continued, FUA as RWF_DSYNC,
 * FLUSH as fsync, and what it hands to the pool.
 */
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#define TEST_IMAGE_STEM "test_backend"
#include "backend_harness.h"


struct test_wait {
	int ndone;
};

static void
test_io_done(struct backend_io *io)
{
	struct test_wait *w = io->arg;

	w->ndone++;
}

/* A queue for this thread, with a ring exactly when io_uring runs. */
static struct backend_cq *
test_cq_new(void)
{
	struct backend_cq *cq = backend_cq_new();

	assert_non_null(cq);
	assert_int_equal(backend_cq_uring(cq),
	    backend_engine_current() == BACKEND_ENGINE_URING);
	return cq;
}

/* Submit io and wait for its completion on cq; return io->result. */
static int
test_run(struct backend *be, struct backend_cq *cq, struct backend_io *io)
{
	struct test_wait w = {0};
	struct pollfd pfd;

	io->cq = cq;
	io->done = test_io_done;
	io->arg = &w;
	io->result = 12345;
	backend_submit(be, io);
	/* Never inline: done() must wait for the drain. */
	assert_int_equal(w.ndone, 0);
	while (w.ndone == 0) {
		pfd.fd = backend_cq_fd(cq);
		pfd.events = POLLIN;
		assert_true(poll(&pfd, 1, 5000) == 1);
		backend_cq_drain(cq);
	}
	assert_int_equal(w.ndone, 1);
	return io->result;
}

static int
test_rw(struct backend *be, struct backend_cq *cq, enum backend_op op,
    void *buf, uint64_t off, uint64_t len, bool fua)
{
	struct iovec iov = {.iov_base = buf, .iov_len = (size_t)len};
	struct backend_io io = {
	    .op = op,
	    .offset = off,
	    .len = len,
	    .iov = &iov,
	    .iovcnt = 1,
	    .fua = fua,
	};

	return test_run(be, cq, &io);
}

static struct backend *
test_open(const char *type, bool wt, bool ro)
{
	struct backend_open_params p = {
	    .type = type,
	    .path = test_path,
	    .size = TEST_FILE_SIZE,
	    .read_only = ro,
	    .write_through = wt,
	};
	struct backend *be = NULL;
	char why[256];

	assert_int_equal(backend_open(&p, &be, why, sizeof(why)), 0);
	assert_non_null(be);
	return be;
}

/* A fileio backend on a new sparse file of TEST_FILE_SIZE on tmpfs. */
static struct backend *
test_shm_open(const char *path)
{
	struct backend_open_params p = {.type = "fileio", .path = path};
	struct backend *be = NULL;
	char why[256];
	int fd;

	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, TEST_FILE_SIZE), 0);
	close(fd);
	assert_int_equal(backend_open(&p, &be, why, sizeof(why)), 0);
	assert_true(be->in_memory);
	return be;
}

static void
test_fill(uint8_t *p, size_t n, unsigned int seed)
{
	size_t i;

	for (i = 0; i < n; i++)
		p[i] = (uint8_t)(i * 7 + seed);
}

static void
test_roundtrip(const char *type, bool wt)
{
	struct backend_cq *cq = test_cq_new();
	struct backend *be = test_open(type, wt, false);
	uint8_t *w = malloc(65536), *r = malloc(65536);

	assert_int_equal(backend_size(be), TEST_FILE_SIZE);
	test_fill(w, 65536, (unsigned int)strlen(type) + (wt ? 7u : 1u));
	assert_int_equal(test_rw(be, cq, BACKEND_OP_WRITE, w, 8192, 65536,
			     false),
	    0);
	memset(r, 0xee, 65536);
	assert_int_equal(test_rw(be, cq, BACKEND_OP_READ, r, 8192, 65536,
			     false),
	    0);
	assert_memory_equal(w, r, 65536);
	/* FUA write then FLUSH. */
	assert_int_equal(test_rw(be, cq, BACKEND_OP_WRITE, w, 0, 4096, true),
	    0);
	assert_int_equal(test_rw(be, cq, BACKEND_OP_FLUSH, NULL, 0, 0, false),
	    0);
	assert_int_equal(backend_write_cache(be), !wt);
	backend_close(be);
	backend_cq_free(cq);
	free(w);
	free(r);
}

static void
test_fileio_wb(void **state)
{
	(void)state;
	test_roundtrip("fileio", false);
}

static void
test_fileio_wt(void **state)
{
	(void)state;
	test_roundtrip("fileio", true);
}

static void
test_blockio_aligned(void **state)
{
	(void)state;
	test_roundtrip("blockio", false);
}

/* Offsets, lengths and buffers off alignment still read back exactly. */
static void
test_blockio_unaligned(void **state)
{
	struct backend_cq *cq = test_cq_new();
	struct backend *be = test_open("blockio", true, false);
	uint8_t *w = malloc(20000), *r = malloc(20000), *all = malloc(16384);
	struct iovec iov[3];
	struct backend_io io;

	(void)state;
	memset(all, 0, 16384);
	assert_int_equal(test_rw(be, cq, BACKEND_OP_WRITE, all, 0, 16384,
			     false),
	    0);
	test_fill(w, 20000, 3);
	/* Odd buffer address, odd offset, odd length. */
	assert_int_equal(test_rw(be, cq, BACKEND_OP_WRITE, w + 1, 1001, 3333,
			     false),
	    0);
	assert_int_equal(test_rw(be, cq, BACKEND_OP_READ, all, 0, 16384, false),
	    0);
	assert_memory_equal(all + 1001, w + 1, 3333);
	assert_int_equal(all[1000], 0);
	assert_int_equal(all[1001 + 3333], 0);
	/* Aligned offset, misaligned buffers spread over three iovecs. */
	iov[0].iov_base = r + 3;
	iov[0].iov_len = 100;
	iov[1].iov_base = r + 200;
	iov[1].iov_len = 412;
	iov[2].iov_base = r + 1000;
	iov[2].iov_len = 512;
	memset(&io, 0, sizeof(io));
	io.op = BACKEND_OP_READ;
	io.offset = 512;
	io.len = 1024;
	io.iov = iov;
	io.iovcnt = 3;
	assert_int_equal(test_run(be, cq, &io), 0);
	assert_memory_equal(r + 3, all + 512, 100);
	assert_memory_equal(r + 200, all + 612, 412);
	assert_memory_equal(r + 1000, all + 1024, 512);
	backend_close(be);
	backend_cq_free(cq);
	free(w);
	free(r);
	free(all);
}

static void
test_discard(void **state)
{
	struct backend_cq *cq = test_cq_new();
	struct backend *be = test_open("fileio", false, false);
	uint8_t *w = malloc(8192), z[8192];
	struct backend_io io = {.op = BACKEND_OP_DISCARD,
	    .offset = 4096,
	    .len = 8192};

	(void)state;
	assert_true(backend_can_discard(be));
	assert_true(backend_discard_zeroes(be));
	memset(w, 0xab, 8192);
	assert_int_equal(test_rw(be, cq, BACKEND_OP_WRITE, w, 4096, 8192,
			     false),
	    0);
	assert_int_equal(test_run(be, cq, &io), 0);
	memset(z, 0, sizeof(z));
	assert_int_equal(test_rw(be, cq, BACKEND_OP_READ, w, 4096, 8192, false),
	    0);
	assert_memory_equal(w, z, 8192);
	memset(w, 0xcd, 8192);
	assert_int_equal(test_rw(be, cq, BACKEND_OP_WRITE, w, 0, 8192, false),
	    0);
	io.op = BACKEND_OP_WRITE_ZEROES;
	io.offset = 0;
	io.len = 4096;
	assert_int_equal(test_run(be, cq, &io), 0);
	assert_int_equal(test_rw(be, cq, BACKEND_OP_READ, w, 0, 8192, false),
	    0);
	assert_memory_equal(w, z, 4096);
	assert_int_equal(w[4096], 0xcd);
	backend_close(be);
	backend_cq_free(cq);
	free(w);
}

/*
 * wt mode: hole punching and zeroing are followed by a data sync (the
 * write's is group commit's, counted apart).
 */
static void
test_discard_wt(void **state)
{
	struct backend_cq *cq = test_cq_new();
	struct backend *be = test_open("fileio", true, false);
	uint8_t *w = malloc(16384), z[16384];
	struct backend_io io = {.op = BACKEND_OP_DISCARD,
	    .offset = 0,
	    .len = 8192};
	uint64_t fsyncs = backend_uring_stats.fsyncs;
	uint64_t commits = backend_commit_stats.flushes;

	(void)state;
	memset(w, 0x5a, 16384);
	assert_int_equal(test_rw(be, cq, BACKEND_OP_WRITE, w, 0, 16384, false),
	    0);
	assert_int_equal(test_run(be, cq, &io), 0);
	io = (struct backend_io){.op = BACKEND_OP_WRITE_ZEROES,
	    .offset = 12288,
	    .len = 4096};
	assert_int_equal(test_run(be, cq, &io), 0);
	/* Zero length is a no-op on either engine. */
	io = (struct backend_io){.op = BACKEND_OP_DISCARD, .offset = 0};
	assert_int_equal(test_run(be, cq, &io), 0);
	assert_int_equal(test_rw(be, cq, BACKEND_OP_READ, w, 0, 16384, false),
	    0);
	memset(z, 0, sizeof(z));
	assert_memory_equal(w, z, 8192);
	assert_int_equal(w[8192], 0x5a);
	assert_int_equal(w[12287], 0x5a);
	assert_memory_equal(w + 12288, z, 4096);
	assert_int_equal(backend_commit_stats.flushes, commits + 1);
	if (backend_cq_uring(cq))
		assert_int_equal(backend_uring_stats.fsyncs, fsyncs + 2 + 1);
	else
		assert_int_equal(backend_uring_stats.fsyncs, fsyncs);
	backend_close(be);
	backend_cq_free(cq);
	free(w);
}

static void
test_nullio(void **state)
{
	struct backend_cq *cq = test_cq_new();
	struct backend *be = test_open("nullio", false, false);
	uint8_t buf[4096], z[4096];

	(void)state;
	assert_int_equal(backend_size(be), TEST_FILE_SIZE);
	memset(buf, 0x55, sizeof(buf));
	assert_int_equal(test_rw(be, cq, BACKEND_OP_WRITE, buf, 0, 4096, false),
	    0);
	assert_int_equal(test_rw(be, cq, BACKEND_OP_READ, buf, 0, 4096, false),
	    0);
	memset(z, 0, sizeof(z));
	assert_memory_equal(buf, z, 4096);
	/* Past the end is an I/O error. */
	assert_int_equal(test_rw(be, cq, BACKEND_OP_READ, buf,
			     TEST_FILE_SIZE - 512, 4096, false),
	    -EIO);
	backend_close(be);
	backend_cq_free(cq);
}

static void
test_errors(void **state)
{
	struct backend_cq *cq = test_cq_new();
	struct backend *be;
	struct backend_open_params p = {.type = "fileio",
	    .path = "/nonexistent/x.img"};
	uint8_t buf[4096];
	char why[256];

	(void)state;
	assert_int_equal(backend_open(&p, &be, why, sizeof(why)), -ENOENT);
	assert_non_null(strstr(why, "/nonexistent/x.img"));
	p.path = "/dev/null";
	assert_int_equal(backend_open(&p, &be, why, sizeof(why)), -EINVAL);
	/* Reading past the end of a file: the store ends early. */
	be = test_open("fileio", false, false);
	assert_int_equal(test_rw(be, cq, BACKEND_OP_READ, buf,
			     TEST_FILE_SIZE - 512, 4096, false),
	    -EIO);
	backend_close(be);
	/* Read-only store refuses writes. */
	be = test_open("fileio", false, true);
	assert_int_equal(test_rw(be, cq, BACKEND_OP_WRITE, buf, 0, 512, false),
	    -EROFS);
	assert_false(backend_can_discard(be));
	backend_close(be);
	backend_cq_free(cq);
}

/* Many in flight on one queue: every done() runs once. */
static void
test_many(void **state)
{
	struct backend_cq *cq = test_cq_new();
	struct backend *be = test_open("fileio", false, false);
	static struct backend_io ios[64];
	static struct iovec iov[64];
	static uint8_t bufs[64][512];
	struct test_wait w = {0};
	struct pollfd pfd;
	int i;

	(void)state;
	assert_int_equal(backend_workers_start(3), 0);
	for (i = 0; i < 64; i++) {
		memset(bufs[i], i, 512);
		iov[i].iov_base = bufs[i];
		iov[i].iov_len = 512;
		ios[i] = (struct backend_io){.op = BACKEND_OP_WRITE,
		    .offset = (uint64_t)i * 512,
		    .len = 512,
		    .iov = &iov[i],
		    .iovcnt = 1,
		    .done = test_io_done,
		    .arg = &w,
		    .cq = cq};
		backend_submit(be, &ios[i]);
	}
	while (w.ndone < 64) {
		pfd.fd = backend_cq_fd(cq);
		pfd.events = POLLIN;
		assert_true(poll(&pfd, 1, 5000) == 1);
		backend_cq_drain(cq);
	}
	assert_int_equal(w.ndone, 64);
	for (i = 0; i < 64; i++)
		assert_int_equal(ios[i].result, 0);
	backend_workers_stop();
	backend_close(be);
	backend_cq_free(cq);
}

#define TEST_URING(f)                                \
	{                                            \
#f, f, test_engine_uring, NULL, NULL \
	}

struct test_thread_arg {
	struct backend *be;
	struct backend_io *io;
};

static void *
test_thread_submit(void *arg)
{
	struct test_thread_arg *a = arg;

	backend_submit(a->be, a->io);
	return NULL;
}

/*
 * A submit from a thread other than the queue's owner (SCSI ordering can
 * start a task from another task's completion): the ring is not touched,
 * the pool does it and done() still runs on the owner's drain.
 */
static void
test_foreign_thread(void **state)
{
	struct backend_cq *cq = test_cq_new();
	struct backend *be = test_open("fileio", false, false);
	uint8_t w[4096], r[4096];
	struct iovec iov = {.iov_base = w, .iov_len = sizeof(w)};
	struct backend_io io = {.op = BACKEND_OP_WRITE,
	    .offset = 4096,
	    .len = sizeof(w),
	    .iov = &iov,
	    .iovcnt = 1};
	struct test_thread_arg a = {.be = be, .io = &io};
	struct test_wait wt = {0};
	uint64_t sqes = backend_uring_stats.sqes;
	struct pollfd pfd;
	pthread_t t;

	(void)state;
	test_fill(w, sizeof(w), 9);
	io.cq = cq;
	io.done = test_io_done;
	io.arg = &wt;
	assert_int_equal(pthread_create(&t, NULL, test_thread_submit, &a), 0);
	assert_int_equal(pthread_join(t, NULL), 0);
	while (wt.ndone == 0) {
		pfd.fd = backend_cq_fd(cq);
		pfd.events = POLLIN;
		assert_true(poll(&pfd, 1, 5000) == 1);
		backend_cq_drain(cq);
	}
	assert_int_equal(io.result, 0);
	assert_int_equal(backend_uring_stats.sqes, sqes);
	assert_int_equal(test_rw(be, cq, BACKEND_OP_READ, r, 4096, sizeof(r),
			     false),
	    0);
	assert_memory_equal(w, r, sizeof(r));
	backend_close(be);
	backend_cq_free(cq);
}

/*
 * Capped SQEs make the kernel return short counts; the engine continues
 * each one (across iovec boundaries) until the whole request is done.
 */
static void
test_uring_short(const char *type, uint32_t cap)
{
	struct backend_cq *cq = test_cq_new();
	struct backend *be = test_open(type, false, false);
	uint8_t *w, *r;
	struct iovec iov[3];
	struct backend_io io;
	uint64_t shorts = backend_uring_stats.short_xfers;
	uint64_t falls = backend_uring_stats.fallbacks;
	void *p = NULL;

	/* Aligned buffers so blockio's O_DIRECT path takes them as is. */
	assert_int_equal(posix_memalign(&p, 4096, 65536), 0);
	w = p;
	assert_int_equal(posix_memalign(&p, 4096, 65536), 0);
	r = p;
	test_fill(w, 65536, 17);
	backend_uring_max_xfer = cap;
	/* The page cache would answer the read inline: make it go to the ring.
	 */
	backend_inline_off = true;
	iov[0] = (struct iovec){.iov_base = w, .iov_len = 8192};
	iov[1] = (struct iovec){.iov_base = w + 8192, .iov_len = 4096};
	iov[2] = (struct iovec){.iov_base = w + 12288, .iov_len = 53248};
	io = (struct backend_io){.op = BACKEND_OP_WRITE,
	    .offset = 131072,
	    .len = 65536,
	    .iov = iov,
	    .iovcnt = 3};
	assert_int_equal(test_run(be, cq, &io), 0);
	/* 65536 bytes in SQEs of at most cap: all but the last are short. */
	assert_int_equal(backend_uring_stats.short_xfers - shorts,
	    (65536 + cap - 1) / cap - 1);
	memset(r, 0xee, 65536);
	iov[0] = (struct iovec){.iov_base = r, .iov_len = 4096};
	iov[1] = (struct iovec){.iov_base = r + 4096, .iov_len = 61440};
	io = (struct backend_io){.op = BACKEND_OP_READ,
	    .offset = 131072,
	    .len = 65536,
	    .iov = iov,
	    .iovcnt = 2};
	assert_int_equal(test_run(be, cq, &io), 0);
	assert_int_equal(backend_uring_stats.short_xfers - shorts,
	    2 * ((65536 + cap - 1) / cap - 1));
	assert_memory_equal(w, r, 65536);
	assert_int_equal(backend_uring_stats.fallbacks, falls);
	backend_uring_max_xfer = 0;
	backend_inline_off = false;
	/* The data really is on the medium, read by the pool's path. */
	backend_close(be);
	be = test_open("fileio", false, false);
	{
		int fd = open(test_path, O_RDONLY);

		assert_true(fd >= 0);
		memset(r, 0, 65536);
		assert_int_equal(pread(fd, r, 65536, 131072), 65536);
		close(fd);
	}
	assert_memory_equal(w, r, 65536);
	backend_close(be);
	backend_cq_free(cq);
	free(w);
	free(r);
}

static void
test_uring_short_fileio(void **state)
{
	(void)state;
	/* Not a multiple of anything: splits land inside iovecs. */
	test_uring_short("fileio", 1000 * 8 + 192);
	test_uring_short("fileio", 3000 + 277);
}

static void
test_uring_short_blockio(void **state)
{
	(void)state;
	test_uring_short("blockio", 4096);
	test_uring_short("blockio", 12288);
}

/* A read that runs past the end: short first, then EOF, then -EIO. */
static void
test_uring_eof(void **state)
{
	struct backend_cq *cq = test_cq_new();
	struct backend *be = test_open("fileio", false, false);
	uint64_t shorts = backend_uring_stats.short_xfers;
	uint8_t buf[8192];

	(void)state;
	assert_int_equal(test_rw(be, cq, BACKEND_OP_READ, buf,
			     TEST_FILE_SIZE - 4096, 8192, false),
	    -EIO);
	assert_int_equal(backend_uring_stats.short_xfers, shorts + 1);
	/* Exactly up to the end is fine. */
	assert_int_equal(test_rw(be, cq, BACKEND_OP_READ, buf,
			     TEST_FILE_SIZE - 8192, 8192, false),
	    0);
	backend_close(be);
	backend_cq_free(cq);
}

/*
 * On a disk, FUA and wt writes are plain writes then a group commit fsync
 * SQE, and FLUSH is one too; on tmpfs (no group commit) a FUA write
 * carries RWF_DSYNC.
 */
static void
test_uring_fua_flush(void **state)
{
	struct backend_cq *cq = test_cq_new();
	struct backend *be = test_open("fileio", false, false);
	/* Aligned, so the blockio write below is O_DIRECT on the ring. */
	static uint8_t buf[4096] __attribute__((aligned(4096)));
	struct backend_uring_stats s0 = backend_uring_stats;
	uint64_t commits = backend_commit_stats.flushes;
	char shm[64];

	(void)state;
	memset(buf, 0x11, sizeof(buf));
	/* Not inline, so that every write reaches the ring. */
	backend_inline_off = true;
	assert_int_equal(test_rw(be, cq, BACKEND_OP_WRITE, buf, 0, 4096, false),
	    0);
	assert_int_equal(backend_uring_stats.fsyncs, s0.fsyncs);
	assert_int_equal(test_rw(be, cq, BACKEND_OP_WRITE, buf, 0, 4096, true),
	    0);
	assert_int_equal(backend_uring_stats.fsyncs, s0.fsyncs + 1);
	assert_int_equal(test_rw(be, cq, BACKEND_OP_FLUSH, NULL, 0, 0, false),
	    0);
	assert_int_equal(backend_uring_stats.fsyncs, s0.fsyncs + 2);
	assert_int_equal(backend_uring_stats.sqes, s0.sqes + 4);
	assert_int_equal(backend_commit_stats.flushes, commits + 2);
	backend_close(be);
	/* Write-through O_DIRECT: the device's cache is flushed after it. */
	be = test_open("blockio", true, false);
	assert_int_equal(test_rw(be, cq, BACKEND_OP_WRITE, buf, 4096, 4096,
			     false),
	    0);
	assert_int_equal(backend_uring_stats.fsyncs, s0.fsyncs + 3);
	assert_int_equal(backend_uring_stats.dsync_writes, s0.dsync_writes);
	assert_int_equal(backend_uring_stats.fallbacks, s0.fallbacks);
	backend_close(be);
	snprintf(shm, sizeof(shm), "/dev/shm/ietd-test-fua.%d", (int)getpid());
	be = test_shm_open(shm);
	assert_int_equal(test_rw(be, cq, BACKEND_OP_WRITE, buf, 0, 4096, true),
	    0);
	assert_int_equal(backend_uring_stats.dsync_writes, s0.dsync_writes + 1);
	assert_int_equal(backend_commit_stats.flushes, commits + 3);
	backend_inline_off = false;
	backend_close(be);
	unlink(shm);
	backend_cq_free(cq);
}

/* What the ring cannot do as the pool does goes to the pool. */
static void
test_uring_fallbacks(void **state)
{
	struct backend_cq *cq = test_cq_new();
	struct backend *be = test_open("blockio", false, false);
	uint64_t sqes = backend_uring_stats.sqes, bounced;
	uint8_t *buf = malloc(8192);

	(void)state;
	/* Unaligned O_DIRECT: blockio's bounce buffer, on the pool. */
	test_fill(buf, 8192, 5);
	assert_int_equal(test_rw(be, cq, BACKEND_OP_WRITE, buf + 1, 513, 1000,
			     false),
	    0);
	assert_int_equal(backend_uring_stats.sqes, sqes);
	memset(buf + 4096, 0, 1000);
	assert_int_equal(test_rw(be, cq, BACKEND_OP_READ, buf + 4096, 513, 1000,
			     false),
	    0);
	assert_memory_equal(buf + 1, buf + 4096, 1000);
	assert_int_equal(backend_uring_stats.sqes, sqes);
	/*
	 * Aligned offset, odd buffers (task buffers from malloc): the ring
	 * does it through its own aligned copy, in both directions.
	 */
	bounced = backend_uring_stats.bounced;
	test_fill(buf, 8192, 6);
	assert_int_equal(test_rw(be, cq, BACKEND_OP_WRITE, buf + 3, 1024, 2048,
			     true),
	    0);
	memset(buf + 4099, 0, 2048);
	assert_int_equal(test_rw(be, cq, BACKEND_OP_READ, buf + 4099, 1024,
			     2048, false),
	    0);
	assert_memory_equal(buf + 3, buf + 4099, 2048);
	assert_int_equal(backend_uring_stats.bounced, bounced + 2);
	/* The write, its group commit flush, the read. */
	assert_int_equal(backend_uring_stats.sqes, sqes + 3);
	backend_close(be);
	/* nullio makes no syscalls at all. */
	be = test_open("nullio", false, false);
	assert_int_equal(test_rw(be, cq, BACKEND_OP_READ, buf, 0, 4096, false),
	    0);
	assert_int_equal(backend_uring_stats.sqes, sqes + 3);
	backend_close(be);
	backend_cq_free(cq);
	free(buf);
}

#define TEST_FULL_N 320

/*
 * More requests than the ring has contexts (256), submitted without a
 * drain: the rest go to the pool, and every one completes exactly once.
 * Then a queue freed with requests in flight completes them all first.
 */
static void
test_uring_full(void **state)
{
	struct backend_cq *cq = test_cq_new();
	struct backend *be = test_open("fileio", false, false);
	static struct backend_io ios[TEST_FULL_N];
	static struct iovec iov[TEST_FULL_N];
	static uint8_t bufs[TEST_FULL_N][512];
	uint64_t sqes = backend_uring_stats.sqes;
	struct test_wait w = {0};
	struct pollfd pfd;
	uint8_t r[512];
	int i;

	(void)state;
	for (i = 0; i < TEST_FULL_N; i++) {
		memset(bufs[i], i + 1, 512);
		iov[i].iov_base = bufs[i];
		iov[i].iov_len = 512;
		ios[i] = (struct backend_io){.op = BACKEND_OP_WRITE,
		    .offset = (uint64_t)i * 512,
		    .len = 512,
		    .iov = &iov[i],
		    .iovcnt = 1,
		    .done = test_io_done,
		    .arg = &w,
		    .cq = cq};
		backend_submit(be, &ios[i]);
	}
	assert_int_equal(backend_uring_stats.sqes - sqes, 256);
	while (w.ndone < TEST_FULL_N) {
		pfd.fd = backend_cq_fd(cq);
		pfd.events = POLLIN;
		assert_true(poll(&pfd, 1, 5000) == 1);
		backend_cq_drain(cq);
	}
	assert_int_equal(w.ndone, TEST_FULL_N);
	for (i = 0; i < TEST_FULL_N; i++) {
		assert_int_equal(ios[i].result, 0);
		assert_int_equal(test_rw(be, cq, BACKEND_OP_READ, r,
				     (uint64_t)i * 512, 512, false),
		    0);
		assert_memory_equal(r, bufs[i], 512);
	}
	/* Free with 16 reads in flight: all 16 done() run inside. */
	w.ndone = 0;
	for (i = 0; i < 16; i++) {
		ios[i].op = BACKEND_OP_READ;
		ios[i].result = 12345;
		backend_submit(be, &ios[i]);
	}
	backend_cq_free(cq);
	assert_int_equal(w.ndone, 16);
	for (i = 0; i < 16; i++)
		assert_int_equal(ios[i].result, 0);
	backend_close(be);
}

static void
test_engine_select(void **state)
{
	char why[256];

	(void)state;
	assert_int_equal(backend_engine_select(BACKEND_ENGINE_AUTO, why,
			     sizeof(why)),
	    0);
	if (backend_engine_current() == BACKEND_ENGINE_URING)
		assert_string_equal(why, "io_uring");
	else
		assert_non_null(
		    strstr(why, "thread pool (io_uring unavailable: "));
	assert_int_equal(backend_engine_select(BACKEND_ENGINE_THREADS, why,
			     sizeof(why)),
	    0);
	assert_int_equal(backend_engine_current(), BACKEND_ENGINE_THREADS);
}

/*
 * Inline writes and disk mappings need build/ on a local disk file
 * system (be->local_cache); elsewhere a test says so and closes be and
 * cq (when given). True when the caller should return.
 */
static bool
test_not_local(struct backend *be, struct backend_cq *cq)
{
	if (be->local_cache)
		return false;
	print_message("build/ is not on a local disk file system: inline "
		      "writes and disk mappings not tested here\n");
	backend_close(be);
	if (cq != NULL)
		backend_cq_free(cq);
	return true;
}

/*
 * Memory-backed files and page-cache hits complete on the submitting
 * thread; with backend_cq_set_local() their done() waits on the local
 * list (never inside backend_submit) and the eventfd stays quiet.
 */
static void
test_inline_local(void **state)
{
	static const char shm[] = "/dev/shm/ietd-test-inline.img";
	struct backend_cq *cq = test_cq_new();
	struct test_wait w = {0};
	struct backend *be = NULL;
	uint8_t buf[4096], back[4096];
	struct iovec iov = {.iov_base = buf, .iov_len = sizeof(buf)};
	struct backend_io io = {.op = BACKEND_OP_WRITE,
	    .offset = 8192,
	    .len = sizeof(buf),
	    .iov = &iov,
	    .iovcnt = 1,
	    .cq = cq,
	    .done = test_io_done,
	    .arg = &w};
	struct pollfd pfd = {.fd = backend_cq_fd(cq), .events = POLLIN};

	(void)state;
	be = test_shm_open(shm);
	backend_cq_set_local(cq, true);
	test_fill(buf, sizeof(buf), 5);
	backend_submit(be, &io);
	assert_int_equal(w.ndone, 0);
	assert_int_equal(poll(&pfd, 1, 0), 0);
	assert_true(backend_cq_run_local(cq));
	assert_int_equal(w.ndone, 1);
	assert_int_equal(io.result, 0);
	assert_false(backend_cq_run_local(cq));
	/* Read it back the same way. */
	iov.iov_base = back;
	io.op = BACKEND_OP_READ;
	io.result = 12345;
	backend_submit(be, &io);
	assert_int_equal(w.ndone, 1);
	assert_true(backend_cq_run_local(cq));
	assert_int_equal(w.ndone, 2);
	assert_int_equal(io.result, 0);
	assert_memory_equal(buf, back, sizeof(buf));
	assert_int_equal(poll(&pfd, 1, 0), 0);
	backend_close(be);
	unlink(shm);
	/*
	 * On the test file (on disk, not tmpfs) a whole-page write-back
	 * write and then a page-cache hit stay local too.
	 */
	be = test_open("fileio", false, false);
	assert_false(be->in_memory);
	assert_true(be->try_nowait);
	if (test_not_local(be, cq))
		return;
	iov.iov_base = buf;
	io.op = BACKEND_OP_WRITE;
	w.ndone = 0;
	backend_submit(be, &io);
	assert_int_equal(w.ndone, 0);
	assert_true(backend_cq_run_local(cq));
	assert_int_equal(w.ndone, 1);
	assert_int_equal(io.result, 0);
	iov.iov_base = back;
	memset(back, 0, sizeof(back));
	io.op = BACKEND_OP_READ;
	backend_submit(be, &io);
	assert_int_equal(w.ndone, 1);
	/* The write above left the page cached: RWF_NOWAIT gets it. */
	assert_true(backend_cq_run_local(cq));
	assert_int_equal(w.ndone, 2);
	assert_memory_equal(buf, back, sizeof(buf));
	assert_int_equal(poll(&pfd, 1, 0), 0);
	backend_close(be);
	backend_cq_free(cq);
}

/* Submits a write of len bytes of buf at off; done() counts into w. */
static void
test_submit_write(struct backend *be, struct backend_cq *cq,
    struct backend_io *io, struct iovec *iov, uint8_t *buf, uint64_t off,
    uint64_t len, struct test_wait *w)
{
	*iov = (struct iovec){.iov_base = buf, .iov_len = (size_t)len};
	*io = (struct backend_io){.op = BACKEND_OP_WRITE,
	    .offset = off,
	    .len = len,
	    .iov = iov,
	    .iovcnt = 1,
	    .cq = cq,
	    .done = test_io_done,
	    .arg = w};
	backend_submit(be, io);
}

/* Runs cq's local work, then waits for n completions in all. */
static void
test_wait_for(struct backend_cq *cq, struct test_wait *w, int n)
{
	struct pollfd pfd = {.fd = backend_cq_fd(cq), .events = POLLIN};

	backend_cq_run_local(cq);
	while (w->ndone < n) {
		assert_true(poll(&pfd, 1, 5000) == 1);
		backend_cq_drain(cq);
	}
	assert_int_equal(w->ndone, n);
}

/*
 * Page-cache writes of one round wait for the end of the round, and the
 * adjacent ones go to the file in one call; the rest alone. With the
 * stall guard shut in between, they go to the I/O threads instead.
 */
static void
test_inline_merge(void **state)
{
	struct backend_cq *cq = test_cq_new();
	struct backend *be = test_open("fileio", false, false);
	static uint8_t buf[6][4096], back[4096];
	static const uint64_t at[6] = {0, 4096, 8192, 12288, 65536, 16384};
	struct backend_io io[6];
	struct iovec iov[6];
	struct test_wait w = {0};
	uint64_t merged = backend_inline_stats.merged;
	int fd;

	(void)state;
	if (test_not_local(be, cq))
		return;
	backend_cq_set_local(cq, true);
	fd = open(test_path, O_RDWR);
	assert_true(fd >= 0);
	memset(back, 0, sizeof(back));
	assert_int_equal(pwrite(fd, back, sizeof(back), 0),
	    (ssize_t)sizeof(back));
	for (int i = 0; i < 6; i++) {
		test_fill(buf[i], sizeof(buf[i]), 40 + i);
		test_submit_write(be, cq, &io[i], &iov[i], buf[i], at[i],
		    sizeof(buf[i]), &w);
	}
	/* Nothing written yet. */
	assert_int_equal(w.ndone, 0);
	assert_int_equal(pread(fd, back, sizeof(back), 0),
	    (ssize_t)sizeof(back));
	assert_int_equal(back[0], 0);
	test_wait_for(cq, &w, 6);
	/* 0..16 KiB in one call; 64 KiB, and 16 KiB after it, alone. */
	assert_int_equal(backend_inline_stats.merged, merged + 4);
	for (int i = 0; i < 6; i++) {
		assert_int_equal(io[i].result, 0);
		assert_int_equal(pread(fd, back, sizeof(back), (off_t)at[i]),
		    (ssize_t)sizeof(back));
		assert_memory_equal(back, buf[i], sizeof(back));
	}
	/* The guard shuts while two writes wait: the I/O threads do them. */
	w.ndone = 0;
	test_submit_write(be, cq, &io[0], &iov[0], buf[1], 0, 4096, &w);
	test_submit_write(be, cq, &io[1], &iov[1], buf[0], 4096, 4096, &w);
	be->write_guard.resume_ns = UINT64_MAX;
	test_wait_for(cq, &w, 2);
	assert_int_equal(backend_inline_stats.merged, merged + 4);
	assert_int_equal(io[0].result, 0);
	assert_int_equal(io[1].result, 0);
	assert_int_equal(pread(fd, back, sizeof(back), 4096),
	    (ssize_t)sizeof(back));
	assert_memory_equal(back, buf[0], sizeof(back));
	close(fd);
	backend_close(be);
	backend_cq_free(cq);
}

/*
 * A merged write that fails is done again request by request, so each
 * gets its own status: here the file size limit lets the first page of
 * two through and refuses the second with EFBIG.
 */
static void
test_inline_merge_error(void **state)
{
	static const char shm[] = "/dev/shm/ietd-test-merge.img";
	struct backend_cq *cq = test_cq_new();
	struct backend *be = NULL;
	static uint8_t buf[2][4096];
	struct backend_io io[2];
	struct iovec iov[2];
	struct test_wait w = {0};
	struct rlimit old, lim;

	(void)state;
	be = test_shm_open(shm);
	backend_cq_set_local(cq, true);
	assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
	lim = old;
	lim.rlim_cur = TEST_FILE_SIZE;
	signal(SIGXFSZ, SIG_IGN);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
	test_fill(buf[0], sizeof(buf[0]), 50);
	test_fill(buf[1], sizeof(buf[1]), 51);
	test_submit_write(be, cq, &io[0], &iov[0], buf[0],
	    TEST_FILE_SIZE - 4096, 4096, &w);
	test_submit_write(be, cq, &io[1], &iov[1], buf[1], TEST_FILE_SIZE, 4096,
	    &w);
	test_wait_for(cq, &w, 2);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
	signal(SIGXFSZ, SIG_DFL);
	assert_int_equal(io[0].result, 0);
	assert_int_equal(io[1].result, -EFBIG);
	backend_close(be);
	backend_cq_free(cq);
	unlink(shm);
}

/*
 * Which disk writes run on the submitting thread: whole pages while the
 * stall guard is open, FUA and write-through ones too (group commit then
 * flushes them); partial pages and a closed guard go to the ring or the
 * pool.
 */
static void
test_inline_disk_writes(void **state)
{
	struct backend_cq *cq = test_cq_new();
	struct backend *be = test_open("fileio", false, false);
	static uint8_t buf[8192], back[8192];
	uint64_t writes = backend_inline_stats.writes, commits;
	struct backend_stall_guard shut = {.resume_ns = UINT64_MAX};

	(void)state;
	if (test_not_local(be, cq))
		return;
	test_fill(buf, sizeof(buf), 21);
	assert_int_equal(test_rw(be, cq, BACKEND_OP_WRITE, buf, 4096, 8192,
			     false),
	    0);
	assert_int_equal(backend_inline_stats.writes, writes + 1);
	/* Durable: inline too, then a flush. */
	commits = backend_commit_stats.flushes;
	assert_int_equal(test_rw(be, cq, BACKEND_OP_WRITE, buf, 4096, 4096,
			     true),
	    0);
	assert_int_equal(backend_inline_stats.writes, writes + 2);
	assert_int_equal(backend_commit_stats.flushes, commits + 1);
	/* Half a page at the start, or a page at an offset of 512. */
	assert_int_equal(test_rw(be, cq, BACKEND_OP_WRITE, buf, 0, 2048, false),
	    0);
	assert_int_equal(test_rw(be, cq, BACKEND_OP_WRITE, buf, 512, 4096,
			     false),
	    0);
	/* The guard closed after a stall. */
	be->write_guard = shut;
	assert_int_equal(test_rw(be, cq, BACKEND_OP_WRITE, buf, 4096, 4096,
			     false),
	    0);
	assert_int_equal(backend_inline_stats.writes, writes + 2);
	/* Every write landed, inline or not. */
	assert_int_equal(test_rw(be, cq, BACKEND_OP_READ, back, 0, 8192, false),
	    0);
	assert_memory_equal(back, buf, 512);
	assert_memory_equal(back + 512, buf, 4096);
	assert_memory_equal(back + 4608, buf + 512, 8192 - 4608);
	backend_close(be);
	/* Write-through: inline, and flushed before it completes. */
	be = test_open("fileio", true, false);
	assert_int_equal(test_rw(be, cq, BACKEND_OP_WRITE, buf, 0, 4096, false),
	    0);
	assert_int_equal(backend_inline_stats.writes, writes + 3);
	assert_int_equal(backend_commit_stats.flushes, commits + 2);
	backend_close(be);
	backend_cq_free(cq);
}

/* Holds the test file's inode lock: one large buffered write. */
struct test_big_write {
	int fd;
	size_t len;
};

static void *
test_big_write_run(void *arg)
{
	struct test_big_write *bw = arg;
	uint8_t *big = malloc(bw->len);
	ssize_t n;

	assert_non_null(big);
	memset(big, 0x77, bw->len);
	n = pwrite(bw->fd, big, bw->len, 64 * TEST_FILE_SIZE);
	assert_int_equal(n, (ssize_t)bw->len);
	free(big);
	return NULL;
}

/*
 * An inline write that blocks (here on the inode lock, held by a large
 * write from another thread, as a write throttled by the kernel would)
 * closes the guard: the next write goes off-thread, and it is logged.
 */
static void
test_inline_disk_stall(void **state)
{
	struct backend_cq *cq = test_cq_new();
	struct backend *be = test_open("fileio", false, false);
	struct test_big_write bw = {.len = 256u << 20};
	uint64_t writes = backend_inline_stats.writes;
	uint64_t stalls = backend_inline_stats.stalls;
	static uint8_t buf[4096];
	pthread_t th;

	(void)state;
	if (test_not_local(be, cq))
		return;
	bw.fd = open(test_path, O_RDWR);
	assert_true(bw.fd >= 0);
	assert_int_equal(pthread_create(&th, NULL, test_big_write_run, &bw), 0);
	/*
	 * Until the large write is under way: the file grows page by page
	 * as it goes, and 256 MiB take 50 ms or more.
	 */
	for (int i = 0; i < 100000; i++) {
		struct stat st;

		assert_int_equal(fstat(bw.fd, &st), 0);
		if (st.st_size > 65 * TEST_FILE_SIZE)
			break;
		usleep(100);
	}
	memset(buf, 0x31, sizeof(buf));
	assert_int_equal(test_rw(be, cq, BACKEND_OP_WRITE, buf, 0, 4096, false),
	    0);
	assert_int_equal(backend_inline_stats.writes, writes + 1);
	assert_int_equal(pthread_join(th, NULL), 0);
	assert_int_equal(backend_inline_stats.stalls, stalls + 1);
	/* Closed: this one goes to the ring or the pool. */
	assert_int_equal(test_rw(be, cq, BACKEND_OP_WRITE, buf, 0, 4096, false),
	    0);
	assert_int_equal(backend_inline_stats.writes, writes + 1);
	assert_int_equal(ftruncate(bw.fd, TEST_FILE_SIZE), 0);
	close(bw.fd);
	backend_close(be);
	backend_cq_free(cq);
}

/*
 * The stall guard: a stall closes it for a second, a stall soon after
 * for twice as long (up to 64 s), and a stall long after starts again
 * from a second.
 */
static void
test_stall_guard(void **state)
{
	const uint64_t s = 1000 * 1000 * 1000;
	struct backend_stall_guard g = {0};
	uint64_t t = 1000 * s;

	(void)state;
	assert_true(backend_stall_guard_open(&g, t));
	backend_stall_guard_trip(&g, t);
	assert_false(backend_stall_guard_open(&g, t + s - 1));
	assert_true(backend_stall_guard_open(&g, t + s));
	/* Stalls again right after the hold: 2 s, then 4 s ... */
	t += s;
	backend_stall_guard_trip(&g, t);
	assert_false(backend_stall_guard_open(&g, t + 2 * s - 1));
	assert_true(backend_stall_guard_open(&g, t + 2 * s));
	for (int i = 0; i < 10; i++) {
		t += g.hold_ns;
		backend_stall_guard_trip(&g, t);
	}
	/* ... capped at 64 s. */
	assert_int_equal(g.hold_ns, 64 * s);
	assert_false(backend_stall_guard_open(&g, t + 64 * s - 1));
	/* Long after the last stall, the next one starts over. */
	t += 1000 * s;
	backend_stall_guard_trip(&g, t);
	assert_int_equal(g.hold_ns, s);
}

/*
 * backend_map: a tmpfs file's written ranges come back as its page cache;
 * holes and ranges past the end do not, nor uncached ranges of a file on
 * disk. When the file
 * grows a new mapping replaces the old, which stays valid for whoever
 * still holds it.
 */
static void
test_map(void **state)
{
	static const char shm[] = "/dev/shm/ietd-test-map.img";
	struct backend_open_params p = {.type = "fileio", .path = shm};
	struct backend_map *r1 = NULL, *r2 = NULL, *r3 = NULL;
	static uint8_t data[65536];
	struct backend *be = NULL;
	const uint8_t *a, *b;
	char why[256];
	int fd;

	(void)state;
	test_fill(data, sizeof(data), 9);
	fd = open(shm, O_RDWR | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, 4 * (off_t)sizeof(data)), 0);
	assert_int_equal(pwrite(fd, data, sizeof(data), 0),
	    (ssize_t)sizeof(data));
	assert_int_equal(backend_open(&p, &be, why, sizeof(why)), 0);

	a = backend_map(be, 512, sizeof(data) - 512, &r1);
	assert_non_null(a);
	assert_non_null(r1);
	assert_memory_equal(a, data + 512, sizeof(data) - 512);
	/* A range reaching into the hole, and one past the end. */
	assert_null(backend_map(be, 4096, sizeof(data), &r2));
	assert_null(r2);
	assert_null(backend_map(be, 4 * sizeof(data) - 512, 1024, &r2));
	/* Grow the file and fill the new part: a new mapping covers it. */
	assert_int_equal(pwrite(fd, data, sizeof(data), 4 * sizeof(data)),
	    (ssize_t)sizeof(data));
	b = backend_map(be, 4 * sizeof(data), sizeof(data), &r2);
	assert_non_null(b);
	assert_ptr_not_equal(r1, r2);
	assert_memory_equal(b, data, sizeof(data));
	/* The old mapping still reads, and sees later writes (it is shared). */
	assert_int_equal(pwrite(fd, "\x42", 1, 512), 1);
	assert_int_equal(a[0], 0x42);
	backend_map_put(r1);
	backend_map_put(r2);
	backend_close(be);
	close(fd);
	unlink(shm);

	/*
	 * A file on disk, even all cached: no mapping (on such stores the
	 * plain read measured 2-4x faster, map.c).
	 */
	p.path = test_path;
	assert_int_equal(backend_open(&p, &be, why, sizeof(why)), 0);
	assert_false(be->in_memory);
	fd = open(test_path, O_RDWR);
	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, data, sizeof(data), 0),
	    (ssize_t)sizeof(data));
	assert_null(backend_map(be, 0, sizeof(data), &r3));
	assert_null(r3);
	close(fd);
	backend_close(be);
}

/*
 * nullio maps every range to one window of zeros, up to the largest READ
 * (16 MiB).
 */
static void
test_map_nullio(void **state)
{
	struct backend *be = test_open("nullio", false, false);
	struct backend_map *r1 = NULL, *r2 = NULL, *r3 = NULL;
	static const uint8_t zero[65536];
	const uint8_t *a, *b;

	(void)state;
	a = backend_map(be, 0, sizeof(zero), &r1);
	b = backend_map(be, 12345 * 512, sizeof(zero), &r2);
	assert_non_null(a);
	assert_ptr_equal(a, b);
	assert_memory_equal(a, zero, sizeof(zero));
	assert_non_null(backend_map(be, 0, 16u << 20, &r3));
	backend_map_put(r3);
	assert_null(backend_map(be, 0, (16u << 20) + 512, &r3));
	assert_null(r3);
	backend_map_put(r1);
	backend_map_put(r2);
	/* Still there for the next user. */
	a = backend_map(be, 0, 512, &r1);
	assert_non_null(a);
	assert_int_equal(a[511], 0);
	backend_map_put(r1);
	backend_close(be);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    TEST_BOTH(test_fileio_wb),
	    TEST_BOTH(test_fileio_wt),
	    TEST_BOTH(test_blockio_aligned),
	    TEST_BOTH(test_blockio_unaligned),
	    TEST_BOTH(test_discard),
	    TEST_BOTH(test_discard_wt),
	    TEST_BOTH(test_nullio),
	    TEST_BOTH(test_errors),
	    TEST_BOTH(test_many),
	    TEST_BOTH(test_foreign_thread),
	    TEST_URING(test_uring_short_fileio),
	    TEST_URING(test_uring_short_blockio),
	    TEST_URING(test_uring_eof),
	    TEST_URING(test_uring_fua_flush),
	    TEST_URING(test_uring_fallbacks),
	    TEST_URING(test_uring_full),
	    cmocka_unit_test(test_engine_select),
	    cmocka_unit_test(test_inline_local),
	    TEST_BOTH(test_inline_disk_writes),
	    TEST_BOTH(test_inline_merge),
	    TEST_BOTH(test_inline_merge_error),
	    cmocka_unit_test(test_inline_disk_stall),
	    cmocka_unit_test(test_stall_guard),
	    cmocka_unit_test(test_map),
	    cmocka_unit_test(test_map_nullio),
	};
	int rc = cmocka_run_group_tests(tests, test_setup, test_teardown);

	backend_workers_stop();
	return rc;
}
