/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The ietd authors */
/*
 * The text of IET's /proc/net/iet/volume and /proc/net/iet/session,
 * built from a configuration snapshot and a session snapshot, and the
 * atomic replacement of the status files that carry it. Monitoring
 * scripts (Pacemaker's iSCSITarget, Proxmox's iet provider) parse these
 * byte for byte, so the format is IET's exactly.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "util/alloc.h"
#include "util/str.h"
#include "ctl.h"

#define CTL_BUF_MIN 4096
#define STATUS_FILE_MODE 0644

void
ctl_buf_init(struct ctl_buf *b, size_t max)
{
	memset(b, 0, sizeof(*b));
	b->max = max;
}

void
ctl_buf_fini(struct ctl_buf *b)
{
	mem_free(b->data);
	memset(b, 0, sizeof(*b));
}

/* Make room for n more bytes plus a NUL, doubling; false past max. */
static bool
ctl_buf_reserve(struct ctl_buf *b, size_t n)
{
	size_t want, cap;
	char *p;

	if (b->failed)
		return false;
	if (n > b->max || b->len > b->max - n) {
		b->failed = true;
		return false;
	}
	want = b->len + n + 1;
	if (want <= b->cap)
		return true;
	cap = b->cap < CTL_BUF_MIN ? CTL_BUF_MIN : b->cap;
	while (cap < want)
		cap *= 2;
	p = mem_realloc(b->data, cap);
	if (p == NULL) {
		b->failed = true;
		return false;
	}
	b->data = p;
	b->cap = cap;
	return true;
}

bool
ctl_buf_append(struct ctl_buf *b, const void *p, size_t n)
{
	if (!ctl_buf_reserve(b, n))
		return false;
	memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
	return true;
}

bool
ctl_buf_printf(struct ctl_buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (b->failed)
		return false;
	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || !ctl_buf_reserve(b, (size_t)n)) {
		b->failed = true;
		return false;
	}
	va_start(ap, fmt);
	vsnprintf(b->data + b->len, b->cap - b->len, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return true;
}

static const char *
ctl_status_iotype(enum conf_lun_type type)
{
	switch (type) {
	case CONF_LUN_FILEIO:
		return "fileio";
	case CONF_LUN_BLOCKIO:
		return "blockio";
	case CONF_LUN_NULLIO:
		return "nullio";
	case CONF_LUN_RBD:
		return "rbd";
	}
	return "unknown";
}

static const char *
ctl_status_iomode(enum conf_iomode mode)
{
	switch (mode) {
	case CONF_IOMODE_WT:
		return "wt";
	case CONF_IOMODE_WB:
		return "wb";
	case CONF_IOMODE_RO:
		return "ro";
	}
	return "wt";
}

/*
 * IET printed each LU as "lun:%u state:%x iotype:%s iomode:%s"; its
 * releases with BlockSize= added " blocks:%llu blocksize:%u". Then the I/O
 * type added " path:%s" (fileio, blockio) or nothing (nullio). state is
 * the LU's internal state word; a live LU always showed 0. Scripts watch
 * blocks to see an online resize take effect.
 */
bool
ctl_status_volume(const struct conf *conf, ctl_lun_size_fn *size,
    struct ctl_buf *b)
{
	const struct list_node *n, *m;

	list_for_each(n, &conf->targets) {
		const struct conf_target *t =
		    list_entry(n, const struct conf_target, node);

		ctl_buf_printf(b, "tid:%u name:%s\n", t->tid, t->name);
		list_for_each(m, &t->luns) {
			const struct conf_lun *l =
			    list_entry(m, const struct conf_lun, node);
			uint64_t blocks;
			unsigned int bs;

			ctl_buf_printf(b,
			    "\tlun:%u state:0 iotype:%s iomode:%s", l->lun,
			    ctl_status_iotype(l->type),
			    ctl_status_iomode(l->iomode));
			if (size != NULL && size(t->tid, l->lun, &blocks, &bs))
				ctl_buf_printf(b, " blocks:%llu blocksize:%u",
				    (unsigned long long)blocks, bs);
			if (l->path != NULL)
				ctl_buf_printf(b, " path:%s", l->path);
			ctl_buf_append(b, "\n", 1);
		}
	}
	if (b->data == NULL)
		ctl_buf_append(b, "", 0); /* an empty file, not NULL */
	return !b->failed;
}

/* IET wrote IPv6 peers in brackets, IPv4 as a dotted quad. */
static void
ctl_status_conn(struct ctl_buf *b, const struct iscsi_conn_info *c)
{
	bool v6 = strchr(c->ip, ':') != NULL;

	ctl_buf_printf(b, "\t\tcid:%u ip:%s%s%s state:%s hd:%s dd:%s\n", c->cid,
	    v6 ? "[" : "", c->ip, v6 ? "]" : "",
	    c->state != NULL ? c->state : "active",
	    c->header_digest ? "crc32c" : "none",
	    c->data_digest ? "crc32c" : "none");
}

bool
ctl_status_session(const struct conf *conf, const struct iscsi_session_info *s,
    unsigned int n, struct ctl_buf *b)
{
	const struct list_node *ln;

	list_for_each(ln, &conf->targets) {
		const struct conf_target *t =
		    list_entry(ln, const struct conf_target, node);

		ctl_buf_printf(b, "tid:%u name:%s\n", t->tid, t->name);
		for (unsigned int i = 0; i < n; i++) {
			unsigned int nc = s[i].nconns;

			if (s[i].tid != t->tid)
				continue;
			/*
			 * Login accepts only valid iSCSI names; escaping
			 * anyway keeps one session to one line whatever
			 * reaches here, as line-based parsers need.
			 */
			char esc[4 * sizeof(s[i].initiator) + 1];

			ctl_buf_printf(b, "\tsid:%llu initiator:%s\n",
			    (unsigned long long)s[i].sid,
			    str_escape(esc, sizeof(esc), s[i].initiator,
				strnlen(s[i].initiator,
				    sizeof(s[i].initiator))));
			if (nc > ISCSI_ADMIN_CONNS_MAX)
				nc = ISCSI_ADMIN_CONNS_MAX;
			for (unsigned int c = 0; c < nc; c++)
				ctl_status_conn(b, &s[i].conns[c]);
		}
	}
	if (b->data == NULL)
		ctl_buf_append(b, "", 0);
	return !b->failed;
}

int
ctl_status_write(const char *dir, const char *name, const char *data,
    size_t len)
{
	char tmp[PATH_MAX], dst[PATH_MAX];
	size_t off = 0;
	int fd, err = 0;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s/.%s.tmp", dir, name) >=
		sizeof(tmp) ||
	    (size_t)snprintf(dst, sizeof(dst), "%s/%s", dir, name) >=
		sizeof(dst))
		return -ENAMETOOLONG;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW,
	    STATUS_FILE_MODE);
	if (fd < 0)
		return -errno;
	/* The umask may have narrowed the mode; readers need 0644. */
	if (fchmod(fd, STATUS_FILE_MODE) != 0)
		err = -errno;
	while (err == 0 && off < len) {
		ssize_t w = write(fd, data + off, len - off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			err = -errno;
		else
			off += (size_t)w;
	}
	if (close(fd) != 0 && err == 0)
		err = -errno;
	if (err == 0 && rename(tmp, dst) != 0)
		err = -errno;
	if (err != 0)
		unlink(tmp);
	return err;
}
