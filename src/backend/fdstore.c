/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The ietd authors */
/*
 * Stores that are a file or a block device (fileio and blockio): opening
 * and describing one (what the file system or the device can do, which
 * of fileio's shortcuts it allows), its size, growing a file, closing it
 * after a flush, and starting a request off the event thread: on the
 * submitting thread's io_uring ring, else on the worker pool.
 */
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <linux/fs.h>
#include <linux/magic.h>

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backend/backend_int.h"
#include "util/alloc.h"
#include "util/log.h"

/* Does the block device's queue accept discards? (sysfs attribute) */
static bool
backend_blkdev_discard_max(dev_t rdev)
{
	char path[128], buf[32];
	unsigned long long v = 0;
	FILE *f;

	snprintf(path, sizeof(path),
	    "/sys/dev/block/%u:%u/queue/discard_max_bytes", major(rdev),
	    minor(rdev));
	f = fopen(path, "re");
	if (f == NULL)
		return false;
	if (fgets(buf, sizeof(buf), f) != NULL)
		v = strtoull(buf, NULL, 10);
	fclose(f);
	return v > 0;
}

/*
 * Local disk file systems whose page cache holds the truth for a file
 * only we write: buffered writes land there without a round trip to a
 * server (see local_cache).
 */
static bool
backend_fs_local(long f_type)
{
	switch (f_type) {
	case EXT4_SUPER_MAGIC: /* and ext2, ext3 */
	case XFS_SUPER_MAGIC:
	case BTRFS_SUPER_MAGIC:
	case F2FS_SUPER_MAGIC:
	case OVERLAYFS_SUPER_MAGIC: /* containers: its upper layer is local */
		return true;
	default:
		return false;
	}
}

static int
backend_fd_open_describe(struct backend *be,
    const struct backend_open_params *p, bool direct, char *why, size_t whylen)
{
	int flags = (p->read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC;
	struct stat st;
	int rc;

	if (p->path == NULL || p->path[0] == '\0') {
		snprintf(why, whylen, "no Path given");
		return -EINVAL;
	}
	if (direct)
		flags |= O_DIRECT;
	be->fd = open(p->path, flags);
	if (be->fd < 0 && direct && errno == EINVAL) {
		/* tmpfs and some others refuse O_DIRECT: serve as fileio. */
		log_warning("%s: O_DIRECT not supported, using buffered I/O",
		    p->path);
		flags &= ~O_DIRECT;
		be->fd = open(p->path, flags);
		be->ops = &backend_fileio_ops;
	}
	if (be->fd < 0) {
		rc = -errno;
		snprintf(why, whylen, "cannot open %s: %s", p->path,
		    strerror(errno));
		return rc;
	}
	be->direct = (flags & O_DIRECT) != 0;
	if (fstat(be->fd, &st) < 0) {
		rc = -errno;
		snprintf(why, whylen, "cannot stat %s: %s", p->path,
		    strerror(errno));
		return rc;
	}
	if (S_ISBLK(st.st_mode)) {
		int lbs = 0;

		be->is_blkdev = true;
		if (ioctl(be->fd, BLKSSZGET, &lbs) < 0 || lbs <= 0)
			lbs = 512;
		be->align = (unsigned int)lbs;
		be->can_discard =
		    !p->read_only && backend_blkdev_discard_max(st.st_rdev);
		/* BLKDISCARD's zeroing is not promised; LBPRZ stays off. */
		be->discard_zeroes = false;
		/*
		 * fileio on a disk, partition or logical volume (IET's usual
		 * set-up): the device's own page cache is its truth, as a
		 * local file system's is for a file, since no one else writes
		 * to an exported device. So cached reads and whole-page
		 * write-back writes run on the event thread, as for such
		 * files.
		 */
		if (!be->direct) {
			be->try_nowait = true;
			be->local_cache = true;
		}
	} else if (S_ISREG(st.st_mode)) {
		struct statfs sfs;

		be->align = BACKEND_DIRECT_ALIGN_FILE;
		if (!be->direct) {
			bool known = fstatfs(be->fd, &sfs) == 0;

			be->in_memory = known &&
			    (sfs.f_type == TMPFS_MAGIC ||
				sfs.f_type == RAMFS_MAGIC);
			be->try_nowait = !be->in_memory;
			be->local_cache =
			    known && backend_fs_local((long)sfs.f_type);
		}
		/* Hole punching, falling back to writing zeros (fileio.c). */
		be->can_discard = !p->read_only;
		be->discard_zeroes = be->can_discard;
	} else {
		snprintf(why, whylen,
		    "%s is not a regular file or block device", p->path);
		return -EINVAL;
	}
	be->volatile_cache = !be->write_through;
	be->path = mem_strdup(p->path);
	if (be->path == NULL) {
		snprintf(why, whylen, "out of memory");
		return -ENOMEM;
	}
	return 0;
}

void
backend_fd_close(struct backend *be)
{
	/*
	 * Whatever a write-back LU acknowledged but left in the page cache
	 * reaches the medium before ietd lets go of it (shutdown, LUN
	 * removal, reload): an initiator never loses an acknowledged write
	 * because the target went away cleanly.
	 */
	if (be->fd >= 0 && !be->read_only && fdatasync(be->fd) < 0 &&
	    errno != EINVAL)
		log_error("%s: flushing on close failed (%s)",
		    be->path ? be->path : "backing store", strerror(errno));
	backend_map_close(be);
	if (be->fd >= 0)
		close(be->fd);
	be->fd = -1;
}

int
backend_fd_open(struct backend *be, const struct backend_open_params *p,
    bool direct, char *why, size_t whylen)
{
	int rc = backend_fd_open_describe(be, p, direct, why, whylen);

	if (rc < 0 && be->fd >= 0) {
		close(be->fd);
		be->fd = -1;
	}
	return rc;
}

uint64_t
backend_fd_size(struct backend *be)
{
	struct stat st;
	uint64_t sz = 0;

	if (be->is_blkdev) {
		if (ioctl(be->fd, BLKGETSIZE64, &sz) < 0)
			return 0;
		return sz;
	}
	if (fstat(be->fd, &st) < 0)
		return 0;
	return (uint64_t)st.st_size;
}

/*
 * Grow the file to bytes. It is opened again by its path for writing (a
 * read-only store's descriptor cannot); its size must be the one the
 * store sees, or the path now names another file.
 */
int
backend_fd_grow(struct backend *be, uint64_t bytes, char *why, size_t whylen)
{
	uint64_t cur = backend_fd_size(be);
	struct stat st;
	int fd, err = 0;

	if (bytes < cur) {
		snprintf(why, whylen,
		    "refusing to shrink %s from %llu to %llu bytes: that "
		    "would cut off data (truncate it yourself, then run "
		    "--op update without --params)",
		    be->path, (unsigned long long)cur,
		    (unsigned long long)bytes);
		return -EINVAL;
	}
	if (bytes == cur)
		return 0;
	if (bytes > (uint64_t)INT64_MAX) {
		snprintf(why, whylen, "size %llu is too large",
		    (unsigned long long)bytes);
		return -EFBIG;
	}
	fd = open(be->path, O_WRONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		err = -errno;
		snprintf(why, whylen, "cannot open %s for writing (%s)",
		    be->path, strerror(errno));
		return err;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) ||
	    (uint64_t)st.st_size != cur) {
		snprintf(why, whylen,
		    "%s is no longer the file this LUN serves; not resized",
		    be->path);
		err = -ESTALE;
	} else if (ftruncate(fd, (off_t)bytes) != 0) {
		err = -errno;
		snprintf(why, whylen, "cannot grow %s to %llu bytes (%s)",
		    be->path, (unsigned long long)bytes, strerror(errno));
	}
	close(fd);
	return err;
}

void
backend_submit_offthread(struct backend *be, struct backend_io *io)
{
	int rc;

	/* The submitting thread's ring when it has one, else the pool. */
	if (backend_cq_ring_submit(io->cq, be, io))
		return;
	rc = backend_workers_queue(be, io);
	if (rc < 0) {
		io->result = rc;
		backend_cq_push(io->cq, io);
	}
}
