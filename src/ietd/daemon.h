/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The ietd authors */
/*
 * Process duties of the daemon: the locked pid file, going to the
 * background with the start-up verdict passed back to the parent,
 * dropping privileges, and telling systemd we are ready.
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
/* Report start-up success to the waiting parent (and to systemd). */
void daemon_ready(void);
/* Report start-up failure to the waiting parent (if any). */
void daemon_failed(void);

/* setgroups/setgid/setuid, in that order. Returns 0 or -errno (logged). */
int daemon_drop_privileges(bool gid_set, gid_t gid, bool uid_set, uid_t uid);

/* Send a state line to systemd when NOTIFY_SOCKET is set ("READY=1"). */
void daemon_notify(const char *state);

#endif /* IETD_IETD_DAEMON_H */
