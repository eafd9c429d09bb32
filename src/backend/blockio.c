/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The ietd authors */
/*
 * Direct I/O (IET's blockio): O_DIRECT reads and writes that bypass the
 * page cache. O_DIRECT wants offsets, lengths and buffers aligned to the
 * logical block size; requests that are not go through an aligned bounce
 * buffer, with read-modify-write for partial blocks at either end.
 */
#include <sys/uio.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backend/backend_int.h"

bool
backend_blockio_aligned(const struct backend *be, const struct iovec *iov,
    int iovcnt, uint64_t off, uint64_t len)
{
	uint64_t a = __atomic_load_n(&be->align, __ATOMIC_RELAXED);
	int i;

	if (off % a != 0 || len % a != 0)
		return false;
	for (i = 0; i < iovcnt; i++) {
		if ((uintptr_t)iov[i].iov_base % a != 0 ||
		    iov[i].iov_len % a != 0)
			return false;
	}
	return true;
}

/*
 * Read [off, off+len) of aligned extent into buf. A short read is fine
 * only past need bytes (the end of a file that is not a whole number of
 * alignment units long).
 */
static int
backend_blockio_read_extent(struct backend *be, uint8_t *buf, uint64_t off,
    uint64_t len, uint64_t need)
{
	uint64_t done = 0;

	while (done < len) {
		ssize_t n = pread(be->fd, buf + done, (size_t)(len - done),
		    (off_t)(off + done));

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			break;
		done += (uint64_t)n;
	}
	if (done < need)
		return -EIO;
	/* Whatever lies past the end reads as zeros. */
	memset(buf + done, 0, (size_t)(len - done));
	return 0;
}

void
backend_iov_to_buf(uint8_t *dst, const struct iovec *iov, int iovcnt,
    uint64_t len)
{
	int i;

	for (i = 0; i < iovcnt && len > 0; i++) {
		size_t n = iov[i].iov_len < len ? iov[i].iov_len : (size_t)len;

		memcpy(dst, iov[i].iov_base, n);
		dst += n;
		len -= n;
	}
}

void
backend_buf_to_iov(const struct iovec *iov, int iovcnt, const uint8_t *src,
    uint64_t len)
{
	int i;

	for (i = 0; i < iovcnt && len > 0; i++) {
		size_t n = iov[i].iov_len < len ? iov[i].iov_len : (size_t)len;

		memcpy(iov[i].iov_base, src, n);
		src += n;
		len -= n;
	}
}

static int
backend_blockio_bounce(struct backend *be, const struct iovec *iov, int iovcnt,
    uint64_t off, uint64_t len, bool write, bool dsync)
{
	uint64_t a = __atomic_load_n(&be->align, __ATOMIC_RELAXED);
	uint64_t start = off - off % a;
	uint64_t end = (off + len + a - 1) / a * a;
	uint64_t blen = end - start;
	bool partial = start != off || end != off + len;
	struct iovec biov;
	void *buf;
	int rc;

	if (posix_memalign(&buf, (size_t)a, (size_t)blen) != 0)
		return -ENOMEM;
	if (!write) {
		rc = backend_blockio_read_extent(be, buf, start, blen,
		    off + len - start);
		if (rc == 0)
			backend_buf_to_iov(iov, iovcnt,
			    (uint8_t *)buf + (off - start), len);
		free(buf);
		return rc;
	}
	/*
	 * Partial blocks: read the old contents first. Two such writes to
	 * one block must not interleave, hence the lock (SCSI commands are
	 * block aligned, so this only happens for odd callers).
	 */
	if (partial) {
		pthread_mutex_lock(&be->rmw_lock);
		rc = backend_blockio_read_extent(be, buf, start, blen, 0);
		if (rc < 0)
			goto out;
	}
	backend_iov_to_buf((uint8_t *)buf + (off - start), iov, iovcnt, len);
	biov.iov_base = buf;
	biov.iov_len = (size_t)blen;
	rc = backend_file_pwritev_all(be->fd, &biov, 1, start, blen, dsync);
out:
	if (partial)
		pthread_mutex_unlock(&be->rmw_lock);
	free(buf);
	return rc;
}

static int
backend_blockio_rw(struct backend *be, const struct iovec *iov, int iovcnt,
    uint64_t off, uint64_t len, bool write, bool dsync)
{
	int rc;

	if (backend_blockio_aligned(be, iov, iovcnt, off, len)) {
		if (write)
			rc = backend_file_pwritev_all(be->fd, iov, iovcnt, off,
			    len, dsync);
		else
			rc = backend_file_preadv_all(be->fd, iov, iovcnt, off,
			    len);
		if (rc != -EINVAL)
			return rc;
	}
	rc = backend_blockio_bounce(be, iov, iovcnt, off, len, write, dsync);
	if (rc == -EINVAL && !be->is_blkdev &&
	    __atomic_load_n(&be->align, __ATOMIC_RELAXED) <
		BACKEND_DIRECT_ALIGN_MAX) {
		/* The file system wants bigger units (4Kn disk under it). */
		__atomic_store_n(&be->align, BACKEND_DIRECT_ALIGN_MAX,
		    __ATOMIC_RELAXED);
		rc = backend_blockio_bounce(be, iov, iovcnt, off, len, write,
		    dsync);
	}
	return rc;
}

int
backend_blockio_pwritev(struct backend *be, const struct iovec *iov, int iovcnt,
    uint64_t off, uint64_t len, bool dsync)
{
	return backend_blockio_rw(be, iov, iovcnt, off, len, true, dsync);
}

void
backend_blockio_exec(struct backend *be, struct backend_io *io)
{
	/*
	 * Only reads and writes differ (O_DIRECT, bounce buffers); flush,
	 * discard and zeroing are the same calls as for fileio. (A store
	 * without O_DIRECT runs with fileio's table, never here.)
	 */
	if (io->op != BACKEND_OP_READ && io->op != BACKEND_OP_WRITE) {
		backend_fileio_exec(be, io);
		return;
	}
	io->result = backend_blockio_rw(be, io->iov, io->iovcnt, io->offset,
	    io->len, io->op == BACKEND_OP_WRITE,
	    io->op == BACKEND_OP_WRITE && backend_write_dsync(be, io));
}

static int
blockio_open(struct backend *be, const struct backend_open_params *p, char *why,
    size_t whylen)
{
	return backend_fd_open(be, p, true, why, whylen);
}

static int
blockio_resize(struct backend *be, uint64_t bytes, char *why, size_t whylen)
{
	(void)bytes;
	snprintf(why, whylen,
	    "%s is a block device: resize it (lvextend, ...), then run "
	    "--op update without --params",
	    be->path);
	return -EOPNOTSUPP;
}

/*
 * O_DIRECT requests wait for the device by nature: always off the event
 * thread, on its ring or the pool; durable writes and FLUSH share the
 * device cache's flushes (commit.c). (Where O_DIRECT was refused the
 * store runs with fileio's table instead: backend_fd_open().)
 */
static void
blockio_submit(struct backend *be, struct backend_io *io)
{
	if (backend_commit_submit(be, io))
		return;
	backend_submit_offthread(be, io);
}

const struct backend_ops backend_blockio_ops = {
    .name = "blockio",
    .open = blockio_open,
    .close = backend_fd_close,
    .size = backend_fd_size,
    .resize = blockio_resize,
    .submit = blockio_submit,
    .exec = backend_blockio_exec,
};
