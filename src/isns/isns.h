/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The ietd authors */
/*
 * iSNS client (RFC 4171), as IET had it: with iSNSServer in ietd.conf the
 * entity, its portals and every target are registered with the server
 * (again after reload, ietadm changes and a server restart, deregistered
 * at exit); the server's Entity Status Inquiries and State Change
 * Notifications are answered on a port of our own; and with
 * iSNSAccessControl Yes the server's discovery domains decide which
 * initiators see and may log in to which target.
 *
 * Everything talking to the server runs on the main loop, non-blocking.
 * A server that is down or answers nonsense never blocks a login: the
 * access check only reads the last answer cached (isns_allow()).
 */
#ifndef IETD_ISNS_ISNS_H
#define IETD_ISNS_ISNS_H

#include <sys/socket.h>

#include <stdbool.h>

#include "net/loop.h"

/*
 * Start the client on loop (main thread) for server ("host", "host:port",
 * "[v6]:port"; default port 3205), or do nothing when server is NULL.
 * portals are the addresses ietd listens on (wildcards are replaced by
 * the address ietd reaches the server from). Resolves the name once,
 * here. Returns 0, or -errno after logging why (ietd still starts).
 */
int isns_start(struct loop *loop, const char *server, bool access_control,
    const struct sockaddr_storage *portals, unsigned int nportals);
/*
 * After a reload: a changed server restarts the client, access control
 * follows the new setting, and the targets are registered again.
 */
void isns_reload(const char *server, bool access_control);
/* The set of targets may have changed (reload, ietadm): register again. */
void isns_targets_changed(void);
/*
 * Exit: deregister the entity (waiting at most about a second for the
 * server) and free everything. Main thread, after the loop stopped.
 */
void isns_stop(void);

/*
 * May initiator see and log in to target as far as iSNS access control
 * goes? True when access control is off, or no answer from the server
 * is known yet for this target (the allow files alone decide then);
 * otherwise whether the server's last answer named the initiator in a
 * discovery domain with the target. Any thread; never waits on the
 * network.
 */
bool isns_allow(const char *target, const char *initiator);

#endif /* IETD_ISNS_ISNS_H */
