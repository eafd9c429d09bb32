/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The ietd authors */
/*
 * Process duties of the daemon: the locked pid file, going to the
 * background with the start-up verdict passed back to the parent,
 * and dropping privileges.
 */
#ifndef IETD_IETD_DAEMON_H
#define IETD_IETD_DAEMON_H

#include <sys/types.h>

#include <stdbool.h>

/*
 * Open and lock path (fcntl write lock, held while the fd stays open).
 * Returns the fd, or -errno after logging "unable to lock pid file" (held
 * by another ietd) or "unable to create pid file".
 */
int daemon_pidfile_lock(const char *path);
/* Write our pid into the locked file. Returns 0 or -errno. */
int daemon_pidfile_write(int fd);

/*
 * Fork into the background. The parent waits until the child calls
 * daemon_ready() or daemon_failed() and exits with 0 or 1 accordingly, so
 * an init script sees start-up errors. Returns in the child only.
 */
void daemon_background(void);
/* Report start-up success to the waiting parent. */
void daemon_ready(void);
/* Report start-up failure to the waiting parent (if any). */
void daemon_failed(void);

/*
 * Once privileges are dropped the pid file's directory (/run, /var/run)
 * is no longer writable, and removing a file takes write permission on
 * its directory, not on the file. So before dropping them, fork a keeper
 * that stays root with nothing open but a pipe and fd, and whose only
 * act is to unlink path when daemon_pidfile_remove() asks (and only if
 * path is still the file fd holds). Returns 0 or -errno (logged).
 */
int daemon_pidfile_keeper(int fd, const char *path);
/*
 * Remove the pid file at shutdown, while its lock is still held: through
 * the keeper when there is one (waiting until it has), else directly.
 * A path that no longer names fd's file (replaced meanwhile) stays.
 */
void daemon_pidfile_remove(int fd, const char *path);

/*
 * setgroups/setgid/setuid, in that order. With uid_set and not gid_set
 * the user's primary group and supplementary groups (initgroups) from the
 * password and group databases; with gid_set only gid. Returns 0 or
 * -errno (logged).
 */
int daemon_drop_privileges(bool gid_set, gid_t gid, bool uid_set, uid_t uid);

#endif /* IETD_IETD_DAEMON_H */
