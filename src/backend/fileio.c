/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The ietd authors */
/*
 * Buffered file I/O (IET's fileio): a regular file or a block device read
 * and written through the page cache. A request that cannot wait for a
 * disk runs on the submitting thread (inline.c); the rest goes to the
 * thread's io_uring ring or to the worker pool, which runs the blocking
 * preadv/pwritev here. Large reads of cached ranges are sent from a
 * mapping (map.c). In wt mode every write is made durable before it
 * completes; in wb mode only FUA writes and FLUSH are.
 */
#include <sys/ioctl.h>
#include <sys/uio.h>
#include <linux/falloc.h>
#include <linux/fs.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backend/backend_int.h"
#include "util/alloc.h"

/* Chunk used when discard or write-zeroes has to write zeros by hand. */
#define FILEIO_ZERO_CHUNK (1024 * 1024)

/*
 * Skip done bytes in a private copy of the iovec after a short transfer.
 * iov is the caller's copy and may be modified.
 */
static int
backend_iov_advance(struct iovec *iov, int iovcnt, size_t done)
{
	int i = 0;

	while (i < iovcnt && done >= iov[i].iov_len) {
		done -= iov[i].iov_len;
		i++;
	}
	if (i < iovcnt) {
		iov[i].iov_base = (char *)iov[i].iov_base + done;
		iov[i].iov_len -= done;
	}
	return i;
}

#define FILEIO_IOV_STACK 64

static struct iovec *
backend_iov_copy(const struct iovec *iov, int iovcnt, struct iovec *stack)
{
	struct iovec *v = stack;

	if (iovcnt > FILEIO_IOV_STACK) {
		v = mem_calloc((size_t)iovcnt, sizeof(*v));
		if (v == NULL)
			return NULL;
	}
	memcpy(v, iov, (size_t)iovcnt * sizeof(*v));
	return v;
}

/*
 * Move all len bytes between the iovec and the file at off, continuing
 * short transfers. A write with RWF_DSYNC falls back to a plain write and
 * one fdatasync on kernels without it. 0 or -errno; a read that meets the
 * end of the store first is -EIO.
 */
static int
backend_file_xfer_all(int fd, const struct iovec *iov, int iovcnt, uint64_t off,
    uint64_t len, bool write, bool dsync)
{
	struct iovec stack[FILEIO_IOV_STACK], *v;
	uint64_t done = 0;
	int first = 0, rc = 0, flags = dsync ? RWF_DSYNC : 0;

	v = backend_iov_copy(iov, iovcnt, stack);
	if (v == NULL)
		return -ENOMEM;
	while (done < len) {
		int cnt = iovcnt - first;
		ssize_t n;

		if (cnt > IOV_MAX)
			cnt = IOV_MAX;
		if (write)
			n = pwritev2(fd, v + first, cnt, (off_t)(off + done),
			    flags);
		else
			n = preadv(fd, v + first, cnt, (off_t)(off + done));
		if (n < 0 && flags != 0 &&
		    (errno == EOPNOTSUPP || errno == EINVAL ||
			errno == ENOSYS)) {
			/* Old kernel: plain write now, fdatasync below. */
			flags = 0;
			continue;
		}
		if (n < 0) {
			if (errno == EINTR)
				continue;
			rc = -errno;
			break;
		}
		if (n == 0) {
			/* The store ended before the request did. */
			rc = -EIO;
			break;
		}
		done += (uint64_t)n;
		first +=
		    backend_iov_advance(v + first, iovcnt - first, (size_t)n);
	}
	if (v != stack)
		mem_free(v);
	if (rc == 0 && dsync && flags == 0 && fdatasync(fd) < 0)
		rc = -errno;
	return rc;
}

int
backend_file_preadv_all(int fd, const struct iovec *iov, int iovcnt,
    uint64_t off, uint64_t len)
{
	return backend_file_xfer_all(fd, iov, iovcnt, off, len, false, false);
}

int
backend_file_pwritev_all(int fd, const struct iovec *iov, int iovcnt,
    uint64_t off, uint64_t len, bool dsync)
{
	return backend_file_xfer_all(fd, iov, iovcnt, off, len, true, dsync);
}

int
backend_file_flush(struct backend *be)
{
	if (fdatasync(be->fd) < 0)
		return -errno;
	return 0;
}

/* Write zeros over [off, off+len) by hand, aligned for O_DIRECT. */
static int
backend_file_zero_fill(struct backend *be, uint64_t off, uint64_t len)
{
	size_t chunk = FILEIO_ZERO_CHUNK;
	void *buf;
	int rc = 0;

	if (posix_memalign(&buf, be->align > 0 ? be->align : 512, chunk) != 0)
		return -ENOMEM;
	memset(buf, 0, chunk);
	while (len > 0 && rc == 0) {
		struct iovec iov;
		size_t n = len < chunk ? (size_t)len : chunk;

		iov.iov_base = buf;
		iov.iov_len = n;
		if (be->direct)
			rc = backend_blockio_pwritev(be, &iov, 1, off, n,
			    be->write_through);
		else
			rc = backend_file_pwritev_all(be->fd, &iov, 1, off, n,
			    be->write_through);
		off += n;
		len -= n;
	}
	free(buf);
	return rc;
}

int
backend_file_discard(struct backend *be, uint64_t off, uint64_t len)
{
	if (len == 0)
		return 0;
	if (be->is_blkdev) {
		uint64_t range[2] = {off, len};

		if (ioctl(be->fd, BLKDISCARD, range) < 0)
			return -errno;
		return 0;
	}
	if (fallocate(be->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
		(off_t)off, (off_t)len) == 0)
		return be->write_through ? backend_file_flush(be) : 0;
	if (errno != EOPNOTSUPP && errno != ENOSYS)
		return -errno;
	/* No hole punching here: keep the promise that it reads zeros. */
	return backend_file_zero_fill(be, off, len);
}

int
backend_file_write_zeroes(struct backend *be, uint64_t off, uint64_t len)
{
	int rc;

	if (len == 0)
		return 0;
	if (be->is_blkdev) {
		uint64_t range[2] = {off, len};

		if (ioctl(be->fd, BLKZEROOUT, range) == 0)
			return 0;
	} else if (fallocate(be->fd, FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE,
		       (off_t)off, (off_t)len) == 0) {
		rc = be->write_through ? backend_file_flush(be) : 0;
		return rc;
	}
	return backend_file_zero_fill(be, off, len);
}

void
backend_fileio_exec(struct backend *be, struct backend_io *io)
{
	switch (io->op) {
	case BACKEND_OP_READ:
		io->result = backend_file_preadv_all(be->fd, io->iov,
		    io->iovcnt, io->offset, io->len);
		break;
	case BACKEND_OP_WRITE:
		io->result =
		    backend_file_pwritev_all(be->fd, io->iov, io->iovcnt,
			io->offset, io->len, backend_write_dsync(be, io));
		break;
	case BACKEND_OP_FLUSH:
		io->result = backend_file_flush(be);
		break;
	case BACKEND_OP_DISCARD:
		io->result = backend_file_discard(be, io->offset, io->len);
		break;
	case BACKEND_OP_WRITE_ZEROES:
		io->result = backend_file_write_zeroes(be, io->offset, io->len);
		break;
	default:
		io->result = -EINVAL;
		break;
	}
}

static int
fileio_open(struct backend *be, const struct backend_open_params *p, char *why,
    size_t whylen)
{
	return backend_fd_open(be, p, false, why, whylen);
}

static int
fileio_resize(struct backend *be, uint64_t bytes, char *why, size_t whylen)
{
	if (be->read_only) {
		snprintf(why, whylen,
		    "%s is exported read-only (IOMode=ro); not resized",
		    be->path);
		return -EROFS;
	}
	return backend_fd_grow(be, bytes, why, whylen);
}

static void
fileio_submit(struct backend *be, struct backend_io *io)
{
	/* Durable writes and FLUSH share flushes (commit.c). */
	if (backend_commit_submit(be, io))
		return;
	if (!backend_submit_inline(be, io))
		backend_submit_offthread(be, io);
}

const struct backend_ops backend_fileio_ops = {
    .name = "fileio",
    .open = fileio_open,
    .close = backend_fd_close,
    .size = backend_fd_size,
    .resize = fileio_resize,
    .submit = fileio_submit,
    .exec = backend_fileio_exec,
#ifndef BACKEND_NO_MAP /* bench/ablate.sh builds it out to measure it */
    .map = backend_file_map,
#endif
};
