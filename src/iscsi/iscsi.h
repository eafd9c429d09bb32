/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The ietd authors */
/*
 * The iSCSI protocol engine (RFC 7143) as the rest of the daemon sees it:
 * hand it accepted sockets, and it runs login, discovery and the full
 * feature phase on the loop that owns each connection, calling into the
 * target registry for targets, LUNs and accounts.
 */
#ifndef IETD_ISCSI_ISCSI_H
#define IETD_ISCSI_ISCSI_H

#include <sys/socket.h>

#include <stdbool.h>
#include <stdint.h>

struct loop;

/*
 * Prepare loop for iSCSI connections (per-thread state such as the SCSI
 * completion queue). Call on loop's own thread before the first
 * iscsi_conn_accept() there. Returns 0 or -errno.
 */
int iscsi_loop_init(struct loop *loop);
/* Undo iscsi_loop_init; on loop's thread, after its connections are gone. */
void iscsi_loop_fini(struct loop *loop);

/*
 * The addresses ietd listens on (as bound; wildcard addresses allowed).
 * SendTargets reports these, replacing a wildcard by this host's
 * addresses of that family. Call once before serving; copied.
 */
void iscsi_set_portals(const struct sockaddr_storage *addrs, unsigned int n);
/* The same with the portal group tag of each address (ALUA). */
void iscsi_set_portal_tags(const struct sockaddr_storage *addrs,
    const uint16_t *tags, unsigned int n);

/*
 * Take over an accepted TCP connection on the calling thread's loop
 * (which must have had iscsi_loop_init). fd is owned from now on.
 */
void iscsi_conn_accept(struct loop *loop, int fd);

/*
 * Orderly shutdown: every session is asked to log out (Async Message) and
 * its connections are closed after in-flight tasks completed, then
 * done(arg) runs on the thread that called this. Calls from any thread.
 */
void iscsi_shutdown(void (*done)(void *arg), void *arg);

/* Number of live sessions and connections (all loops). */
unsigned int iscsi_session_count(void);
/*
 * The global cap on memory held by in-flight command data (bytes; 0 means
 * budget_default_data_limit()). Commands over it get TASK SET FULL or
 * BUSY and new sessions "out of resources" until data drains. Call
 * before serving.
 */
void iscsi_set_data_limit(uint64_t bytes);
uint64_t iscsi_data_limit(void);
uint64_t iscsi_data_used(void);
unsigned int iscsi_conn_count(void);

#endif /* IETD_ISCSI_ISCSI_H */
