/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The ietd authors */
/*
 * What the control socket (ietadm) may ask of the iSCSI engine: a
 * snapshot of the sessions and their connections, dropping a connection,
 * and asking a target's initiators to log out. Callable from any thread;
 * the engine hops to the owning event thread itself.
 */
#ifndef IETD_ISCSI_ISCSI_ADMIN_H
#define IETD_ISCSI_ISCSI_ADMIN_H

#include <stdbool.h>
#include <stdint.h>

#include "util/metrics.h"

#define ISCSI_ADMIN_CONNS_MAX 16

struct iscsi_conn_info {
	uint16_t cid;
	char ip[64];        /* peer address, no port, no brackets */
	const char *state;  /* "active", "closing", ... (static) */
	bool header_digest; /* CRC32C negotiated */
	bool data_digest;
};

struct iscsi_session_info {
	unsigned int tid;    /* 0 for discovery sessions */
	uint64_t sid;        /* IET's sid: ISID << 16 | TSIH */
	char initiator[224]; /* a valid iSCSI name (login checks it) */
	char alias[256];     /* InitiatorAlias as sent, "" if none: escape */
	char params[2048];   /* negotiated "Key=Value\n" lines */
	unsigned int nconns;
	struct iscsi_conn_info conns[ISCSI_ADMIN_CONNS_MAX];
	/* For the metrics endpoint (stats.c). */
	struct metrics_io io;
	unsigned int queue_depth; /* commands in its CmdSN window */
	uint64_t data_bytes;      /* command data held, against its share */
};

/*
 * Snapshot of the normal (non-discovery) sessions, sorted by tid then sid.
 * *out is allocated with mem_calloc (caller mem_free()s it); 0 or -ENOMEM.
 */
int iscsi_admin_sessions(struct iscsi_session_info **out, unsigned int *n);
/* Close connection cid of session sid (the session goes with its last
 * connection). 0, or -ENOENT when there is no such connection. */
int iscsi_admin_conn_drop(uint64_t sid, uint16_t cid);
/* Send every session of tid an Async Message asking it to log out
 * (RFC 7143 11.9.1, AsyncEvent 1); returns how many were asked. */
unsigned int iscsi_admin_target_logout(unsigned int tid);

/* Logins refused, by RFC 7143 11.13.5 status (the last entry: any
 * other status). */
struct iscsi_login_reason {
	uint16_t status;
	const char *name; /* "authentication_failed", ... */
};
#define ISCSI_ADMIN_LOGIN_REASONS 16
extern const struct iscsi_login_reason
    iscsi_admin_login_reasons[ISCSI_ADMIN_LOGIN_REASONS];
uint64_t iscsi_admin_logins_refused(unsigned int reason);
/* The global cap on in-flight command data (--max-data-memory). */
void iscsi_admin_data_budget(uint64_t *used, uint64_t *limit, uint64_t *peak,
    uint64_t *refused);

#endif /* IETD_ISCSI_ISCSI_ADMIN_H */
