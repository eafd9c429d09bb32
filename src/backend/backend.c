/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The ietd authors */
/*
 * Opening and describing backing stores, and routing submitted I/O to the
 * submitter's io_uring ring or the worker pool. What each store type does per
 * request lives in fileio.c, blockio.c and nullio.c; the threads and completion
 * queues in aio.c.
 */
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/uio.h>
#include <sys/sysmacros.h>
#include <linux/fs.h>
#include <linux/magic.h>

#include <errno.h>
#include <fcntl.h>
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
 * server, and a cached page may be sent as it is (see local_cache).
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
backend_open_fd(struct backend *be, const struct backend_open_params *p,
    char *why, size_t whylen)
{
	int flags = (p->read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC;
	struct stat st;
	int rc;

	if (p->path == NULL || p->path[0] == '\0') {
		snprintf(why, whylen, "no Path given");
		return -EINVAL;
	}
	if (be->type == BACKEND_BLOCKIO)
		flags |= O_DIRECT;
	be->fd = open(p->path, flags);
	if (be->fd < 0 && be->type == BACKEND_BLOCKIO && errno == EINVAL) {
		/* tmpfs and some others refuse O_DIRECT: serve buffered. */
		log_warning("%s: O_DIRECT not supported, using buffered I/O",
		    p->path);
		flags &= ~O_DIRECT;
		be->fd = open(p->path, flags);
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
		 * write-back writes run on the event thread, and large reads
		 * of cached ranges are sent from a mapping, as for such files.
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
	return 0;
}

int
backend_open(const struct backend_open_params *p, struct backend **out,
    char *why, size_t whylen)
{
	struct backend *be;
	int rc;

	*out = NULL;
	be = mem_zalloc(sizeof(*be));
	if (be == NULL) {
		snprintf(why, whylen, "out of memory");
		return -ENOMEM;
	}
	be->type = p->type;
	be->fd = -1;
	pthread_mutex_init(&be->rmw_lock, NULL);
	pthread_mutex_init(&be->map_lock, NULL);
	be->read_only = p->read_only;
	be->write_through = p->write_through;
	switch (p->type) {
	case BACKEND_NULLIO:
		be->null_bytes = p->nullio_bytes;
		be->align = 1;
		be->can_discard = !p->read_only;
		be->discard_zeroes = be->can_discard;
		break;
	case BACKEND_FILEIO:
	case BACKEND_BLOCKIO:
		rc = backend_open_fd(be, p, why, whylen);
		if (rc < 0)
			goto fail;
		be->path = mem_strdup(p->path);
		if (be->path == NULL) {
			snprintf(why, whylen, "out of memory");
			rc = -ENOMEM;
			goto fail;
		}
		break;
	default:
		snprintf(why, whylen, "unknown backend type %d", (int)p->type);
		rc = -EINVAL;
		goto fail;
	}
	*out = be;
	return 0;
fail:
	if (be->fd >= 0)
		close(be->fd);
	pthread_mutex_destroy(&be->rmw_lock);
	pthread_mutex_destroy(&be->map_lock);
	mem_free(be);
	return rc;
}

void
backend_close(struct backend *be)
{
	if (be == NULL)
		return;
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
	mem_free(be->path);
	pthread_mutex_destroy(&be->rmw_lock);
	pthread_mutex_destroy(&be->map_lock);
	mem_free(be);
}

uint64_t
backend_size(struct backend *be)
{
	struct stat st;
	uint64_t sz = 0;

	if (be->type == BACKEND_NULLIO)
		return be->null_bytes;
	if (be->is_blkdev) {
		if (ioctl(be->fd, BLKGETSIZE64, &sz) < 0)
			return 0;
		return sz;
	}
	if (fstat(be->fd, &st) < 0)
		return 0;
	return (uint64_t)st.st_size;
}

bool
backend_can_discard(const struct backend *be)
{
	return be->can_discard;
}

bool
backend_discard_zeroes(const struct backend *be)
{
	return be->discard_zeroes;
}

bool
backend_write_cache(const struct backend *be)
{
	return be->type != BACKEND_NULLIO && !be->write_through;
}

void
backend_submit(struct backend *be, struct backend_io *io)
{
	io->be = be;
	io->result = 0;
	if (be->read_only &&
	    (io->op == BACKEND_OP_WRITE || io->op == BACKEND_OP_DISCARD ||
		io->op == BACKEND_OP_WRITE_ZEROES)) {
		io->result = -EROFS;
		backend_cq_push(io->cq, io);
		return;
	}
	/* nullio never blocks: complete through the queue right away. */
	if (be->type == BACKEND_NULLIO) {
		backend_nullio_exec(be, io);
		backend_cq_push(io->cq, io);
		return;
	}
	if (!backend_submit_inline(be, io))
		backend_submit_offthread(be, io);
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
