/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The ietd authors */
/*
 * Backend tests: round trips through fileio, blockio (aligned and not)
 * and nullio via a real completion queue, discard, write-through/FUA and
 * the error path.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "backend/backend.h"

#define TEST_FILE_SIZE (1024 * 1024)

static char test_path[256];

struct test_wait {
	int ndone;
};

static void
test_io_done(struct backend_io *io)
{
	struct test_wait *w = io->arg;

	w->ndone++;
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

static int
test_setup(void **state)
{
	int fd;

	(void)state;
	/* Not /tmp: tmpfs refuses O_DIRECT. */
	snprintf(test_path, sizeof(test_path), "build/test_backend.%d.img",
	    (int)getpid());
	fd = open(test_path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (fd < 0)
		return -1;
	if (ftruncate(fd, TEST_FILE_SIZE) < 0) {
		close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

static int
test_teardown(void **state)
{
	(void)state;
	unlink(test_path);
	return 0;
}

static struct backend *
test_open(enum backend_type type, bool wt, bool ro)
{
	struct backend_open_params p = {
	    .type = type,
	    .path = test_path,
	    .nullio_bytes = TEST_FILE_SIZE,
	    .read_only = ro,
	    .write_through = wt,
	};
	struct backend *be = NULL;
	char why[256];

	assert_int_equal(backend_open(&p, &be, why, sizeof(why)), 0);
	assert_non_null(be);
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
test_roundtrip(enum backend_type type, bool wt)
{
	struct backend_cq *cq = backend_cq_new();
	struct backend *be = test_open(type, wt, false);
	uint8_t *w = malloc(65536), *r = malloc(65536);

	assert_int_equal(backend_size(be), TEST_FILE_SIZE);
	test_fill(w, 65536, (unsigned int)type + 1);
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
	test_roundtrip(BACKEND_FILEIO, false);
}

static void
test_fileio_wt(void **state)
{
	(void)state;
	test_roundtrip(BACKEND_FILEIO, true);
}

static void
test_blockio_aligned(void **state)
{
	(void)state;
	test_roundtrip(BACKEND_BLOCKIO, false);
}

/* Offsets, lengths and buffers off alignment still read back exactly. */
static void
test_blockio_unaligned(void **state)
{
	struct backend_cq *cq = backend_cq_new();
	struct backend *be = test_open(BACKEND_BLOCKIO, true, false);
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
	struct backend_cq *cq = backend_cq_new();
	struct backend *be = test_open(BACKEND_FILEIO, false, false);
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

static void
test_nullio(void **state)
{
	struct backend_cq *cq = backend_cq_new();
	struct backend *be = test_open(BACKEND_NULLIO, false, false);
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
	struct backend_cq *cq = backend_cq_new();
	struct backend *be;
	struct backend_open_params p = {.type = BACKEND_FILEIO,
	    .path = "/nonexistent/x.img"};
	uint8_t buf[4096];
	char why[256];

	(void)state;
	assert_int_equal(backend_open(&p, &be, why, sizeof(why)), -ENOENT);
	assert_non_null(strstr(why, "/nonexistent/x.img"));
	p.path = "/dev/null";
	assert_int_equal(backend_open(&p, &be, why, sizeof(why)), -EINVAL);
	/* Reading past the end of a file: the store ends early. */
	be = test_open(BACKEND_FILEIO, false, false);
	assert_int_equal(test_rw(be, cq, BACKEND_OP_READ, buf,
			     TEST_FILE_SIZE - 512, 4096, false),
	    -EIO);
	backend_close(be);
	/* Read-only store refuses writes. */
	be = test_open(BACKEND_FILEIO, false, true);
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
	struct backend_cq *cq = backend_cq_new();
	struct backend *be = test_open(BACKEND_FILEIO, false, false);
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

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_fileio_wb),
	    cmocka_unit_test(test_fileio_wt),
	    cmocka_unit_test(test_blockio_aligned),
	    cmocka_unit_test(test_blockio_unaligned),
	    cmocka_unit_test(test_discard),
	    cmocka_unit_test(test_nullio),
	    cmocka_unit_test(test_errors),
	    cmocka_unit_test(test_many),
	};
	int rc = cmocka_run_group_tests(tests, test_setup, test_teardown);

	backend_workers_stop();
	return rc;
}
