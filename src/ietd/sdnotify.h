/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The ietd authors */
/*
 * systemd's service notification protocol (sd_notify(3)), spoken
 * directly: state lines in one datagram to $NOTIFY_SOCKET, and the
 * watchdog's keep-alive pings from the main loop.
 */
#ifndef IETD_IETD_SDNOTIFY_H
#define IETD_IETD_SDNOTIFY_H

#include <stdbool.h>

#include "net/loop.h"

/*
 * Read NOTIFY_SOCKET (a path, or "@name" for the abstract namespace) and
 * open the socket the messages go from. Without it, or with a value that
 * is not a socket address, every call below does nothing. Call once,
 * before threads start.
 */
void sdnotify_init(void);
/* Is a service manager listening (NOTIFY_SOCKET set and usable)? */
bool sdnotify_enabled(void);

/*
 * Send newline-separated KEY=VALUE lines ("READY=1\nSTATUS=serving"):
 * one datagram, so the manager sees them together. A failure is logged
 * (rate limited) and otherwise ignored: the service keeps serving.
 */
void sdnotify(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * With WATCHDOG_USEC set (and WATCHDOG_PID, when set, naming us), send
 * WATCHDOG=1 every half of that period from a timer on loop: when the
 * loop stops turning the pings stop, and the manager restarts us.
 * Returns the period in ms, or 0 when no watchdog was asked for.
 */
unsigned long sdnotify_watchdog_start(struct loop *loop);
void sdnotify_watchdog_stop(void);

#endif /* IETD_IETD_SDNOTIFY_H */
