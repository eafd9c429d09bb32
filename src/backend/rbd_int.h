/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The ietd authors */
/*
 * Internals of the Type=rbd store (rbd.c) that the other Ceph-facing
 * files of the backend use: the cluster handle shared by every LU that
 * names the same (CephConf, CephUser, CephKeyring), and the pool context
 * and image of one open LU. Gateway code (the image's exclusive lock,
 * ALUA) and the reservation store (a RADOS object next to the image) get
 * them from a struct backend with backend_rbd().
 */
#ifndef IETD_BACKEND_RBD_INT_H
#define IETD_BACKEND_RBD_INT_H

#include <rados/librados.h>
#include <rbd/librbd.h>

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "backend/backend_int.h"
#include "util/list.h"

/*
 * One connected rados_t. librados starts a dozen threads and a monitor
 * session per handle, so LUs of one cluster and identity share it;
 * counted references, the last rbd_cluster_put() shuts it down.
 */
struct rbd_cluster {
	struct list_node node; /* rbd.c's list of connected clusters */
	char *conf;            /* CephConf, or NULL: librados' default */
	char *user;            /* CephUser (client id, "admin" by default) */
	char *keyring;         /* CephKeyring, or NULL: as the conf says */
	unsigned int refs;     /* under rbd.c's lock */
	bool listed;           /* on the list: new LUs may share it */
	/*
	 * The shared state's client (rbd_state.c), never the one images do
	 * I/O through: fencing a gateway blocklists its image client, and
	 * the reservations must outlive that (a standby or rejoined gateway
	 * still serves PERSISTENT RESERVE IN/OUT and must hear the others'
	 * changes). Their updates are compare-and-set, so a late one from a
	 * fenced gateway applies to the current state, as a late command.
	 */
	bool for_state;
	rados_t rados;
};

/* One open image (struct backend's priv for Type=rbd). */
struct rbd_lu {
	struct backend *be;
	/*
	 * cluster, ioctx and image change when a fenced gateway rejoins
	 * (rbd_lu_drop, rbd_lu_reopen): image is NULL in between. Event
	 * threads (submit), the refresher and resize use image under the
	 * read side of swap; the swaps take its write side only to set the
	 * pointers, never across a call into librbd.
	 */
	pthread_rwlock_t swap;
	struct rbd_cluster *cluster;
	rados_ioctx_t ioctx; /* the pool, set to the namespace if given */
	rbd_image_t image;
	bool read_only;
	/*
	 * Atomic. False from a drop until the lock follower holds the lock
	 * again: the SCSI layer admits a command by the port's state when it
	 * arrives, and a WRITE admitted while we held the lock with the
	 * fenced client (waiting for its data) must not go out through the
	 * fresh client, which is not blocklisted; it fails with -ENOTCONN.
	 */
	bool serving;
	char *pool;
	char *ns; /* "" for the default namespace */
	char *name;
	/* Bytes, as last read from the image header (atomic). */
	uint64_t size;
	uint64_t obj_size; /* bytes of each RADOS object of the image */
	/* rbd_update_watch()'s handle; watching when the watch is set. */
	uint64_t watch_handle;
	bool watching;
	/* The refresher's: the header changed, re-read the size. */
	bool stale;
	struct list_node stale_node; /* on the refresher's list while stale */
	/*
	 * The shared reservation state (rbd_state.c), a RADOS object next to
	 * the image: set up at LU creation, torn down before the image closes.
	 */
	void *reservations;
};

/* The rbd_lu of a Type=rbd backend, NULL for any other store. */
struct rbd_lu *backend_rbd(struct backend *be);

/*
 * Connect (or share) the cluster of that conf, id and keyring, as the
 * image client or (for_state) the shared state's; blocks for at most the
 * mount timeout. 0 and *out, or -errno with one line in why.
 */
int rbd_cluster_get(const char *conf, const char *user, const char *keyring,
    bool for_state, struct rbd_cluster **out, char *why, size_t whylen);
void rbd_cluster_put(struct rbd_cluster *c);

/*
 * rbd_state.c: the store's shared state (backend.h), a RADOS object
 * beside the image, kept in the LU's reservations slot once used; close
 * before the image and its pool context.
 */
extern const struct backend_state_ops backend_rbd_state_ops;
void rbd_state_close(struct rbd_lu *rl);

/*
 * The LU's RADOS client was blocklisted (fenced). rbd_lu_drop() closes
 * its image (commands submitted from then on fail with -ENOTCONN, those
 * of the old handle in flight complete first, as blocklisted) and takes
 * its cluster off the shared list, so no LU shares a fenced client again.
 * rbd_lu_reopen() connects a fresh client (or shares one another fenced
 * LU of the same cluster already made), reopens the image and watches it;
 * 0, or -errno with one line in why (the LU stays dropped; call again).
 * Both block (bounded by the Ceph timeouts): the lock follower's thread
 * only.
 */
void rbd_lu_drop(struct rbd_lu *lu);
int rbd_lu_reopen(struct rbd_lu *lu, char *why, size_t whylen);

#endif /* IETD_BACKEND_RBD_INT_H */
