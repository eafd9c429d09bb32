/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The ietd authors */
/*
 * ietd's control socket (the server ietadm talks to) and the status files
 * that stand in for IET's /proc/net/iet/volume and /proc/net/iet/session.
 * Everything here runs on the main loop; ctl_status_update() may be called
 * from any thread.
 */
#ifndef IETD_CTL_CTL_H
#define IETD_CTL_CTL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "config/conf.h"
#include "iscsi/iscsi_admin.h"
#include "net/loop.h"

/* Called on the main loop for "ietadm --op delete" (stop all activity). */
typedef void ctl_shutdown_fn(void);

/* server.c */
/*
 * Listen on socket_path (mode 0600; a stale socket nobody answers on is
 * replaced, a live one is an error) and keep the status files in
 * status_dir (created 0755 when missing). Callers whose SO_PEERCRED uid
 * is 0 or allowed_uid are served; others are told "permission denied".
 * When running as root and allowed_uid is not 0, the socket and the
 * status directory are handed to allowed_uid so they outlive the drop of
 * privileges. shutdown may be NULL (then "stop all activity" is refused).
 * Returns 0 or -errno with a sentence in why.
 */
int ctl_start(struct loop *main_loop, const char *socket_path,
    const char *status_dir, uid_t allowed_uid, ctl_shutdown_fn *shutdown,
    char *why, size_t whylen);
/* Close every client, remove the socket; the status files stay. */
void ctl_stop(void);
/*
 * Rebuild the status files now (after a reload, a login, a logout). Any
 * thread; off the main loop the work is posted there. The files are also
 * refreshed once a second when their content changed.
 */
void ctl_status_update(void);

/* status.c */
/* A growable text buffer bounded by max; failed sticks once set. */
struct ctl_buf {
	char *data;
	size_t len;
	size_t cap;
	size_t max;
	bool failed;
};

void ctl_buf_init(struct ctl_buf *b, size_t max);
void ctl_buf_fini(struct ctl_buf *b);
bool ctl_buf_append(struct ctl_buf *b, const void *p, size_t n);
bool ctl_buf_printf(struct ctl_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/*
 * The capacity of LUN lun of target tid for the volume text: true with
 * *blocks and *block_size set, false when unknown.
 */
typedef bool ctl_lun_size_fn(unsigned int tid, unsigned int lun,
    uint64_t *blocks, unsigned int *block_size);

/*
 * IET's /proc/net/iet/volume text for conf (targets in list order), with
 * the "blocks:" and "blocksize:" fields of IET's later releases where
 * size (may be NULL) knows the LUN:
 *   tid:1 name:iqn...
 *   \tlun:0 state:0 iotype:fileio iomode:wt blocks:131072 blocksize:512
 *   path:/srv/disk.img   (one line)
 * False when b failed (out of memory or over its max).
 */
bool ctl_status_volume(const struct conf *conf, ctl_lun_size_fn *size,
    struct ctl_buf *b);
/*
 * IET's /proc/net/iet/session text: every target of conf, each followed
 * by its sessions from s[0..n) (any order) and their connections:
 *   tid:1 name:iqn...
 *   \tsid:562949974196736 initiator:iqn...
 *   \t\tcid:0 ip:192.168.0.5 state:active hd:none dd:none
 */
bool ctl_status_session(const struct conf *conf,
    const struct iscsi_session_info *s, unsigned int n, struct ctl_buf *b);
/*
 * Replace dir/name with data atomically (write dir/.name.tmp, fsync is
 * not needed for a runtime file, rename). Mode 0644. 0 or -errno.
 */
int ctl_status_write(const char *dir, const char *name, const char *data,
    size_t len);

#endif /* IETD_CTL_CTL_H */
