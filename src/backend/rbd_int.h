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
	rados_t rados;
};

/* One open image (struct backend's priv for Type=rbd). */
struct rbd_lu {
	struct backend *be;
	struct rbd_cluster *cluster;
	rados_ioctx_t ioctx; /* the pool, set to the namespace if given */
	rbd_image_t image;
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
	 * Free for the gateway code (the image's exclusive lock, ALUA) and
	 * the reservation store (a RADOS object next to the image): their
	 * own per-LU state, set up after rbd.c opened the image and torn
	 * down before it closes it.
	 */
	void *gateway;
	void *reservations;
};

/* The rbd_lu of a Type=rbd backend, NULL for any other store. */
struct rbd_lu *backend_rbd(struct backend *be);

/*
 * Connect (or share) the cluster of that conf, id and keyring; blocks
 * for at most the mount timeout. 0 and *out, or -errno with one line in
 * why.
 */
int rbd_cluster_get(const char *conf, const char *user, const char *keyring,
    struct rbd_cluster **out, char *why, size_t whylen);
void rbd_cluster_put(struct rbd_cluster *c);

/*
 * rbd_state.c: the store's shared state (backend.h), a RADOS object
 * beside the image, kept in the LU's reservations slot once used; close
 * before the image and its pool context.
 */
extern const struct backend_state_ops backend_rbd_state_ops;
void rbd_state_close(struct rbd_lu *rl);

#endif /* IETD_BACKEND_RBD_INT_H */
