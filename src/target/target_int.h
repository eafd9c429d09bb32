/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The ietd authors */
/*
 * Internals shared by the target files: the target and its LUN table,
 * the registry they live in, and the steps registry.c, apply.c and
 * admin.c take on them. Unless a comment says otherwise, these run on the
 * main thread (the registry's only writer), and "lock held" means
 * target_registry.lock.
 */
#ifndef IETD_TARGET_TARGET_INT_H
#define IETD_TARGET_TARGET_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/allow.h"
#include "config/conf.h"
#include "scsi/scsi.h"
#include "util/list.h"
#include "target/target.h"

/*
 * What a command needs of a target's LUN table, immutable once made: the
 * numbers in ascending order (also REPORT LUNS's list) and the LU serving
 * each, with a reference. Every command reads it without a lock, inside
 * an epoch section (util/epoch.h): the main thread publishes a new one in
 * target->inv and retires the old one, which is freed (its LU references
 * dropped) once no event thread can still be reading it.
 */
struct lun_inventory {
	unsigned int n;
	struct scsi_lu **lus; /* lus[i] serves luns[i] */
	uint64_t luns[];
};

struct target_lun {
	uint64_t lun;
	struct scsi_lu *lu;
	const struct conf_lun *def; /* in target->ct, for diffs */
};

#define TARGET_ALUA_MAX 64 /* portal groups one target is offered on */

struct target {
	struct list_node node; /* target_registry.targets, by tid */
	atomic_int refs;
	unsigned int tid;
	char *name;              /* owned; for life, read without a lock */
	struct conf_target *ct;  /* owned; replaced on reload (lock held) */
	struct target_lun *luns; /* sorted by number */
	unsigned int nluns;
	/* What commands read (atomic pointer; see struct lun_inventory). */
	struct lun_inventory *_Atomic inv;
	unsigned int sessions;
	bool removing;
	bool listed; /* still in target_registry.targets */
	/*
	 * ALUA (alua.c): its target port groups, NULL when the configuration
	 * has no PortalGroup (the pointer changes with the lock held), and
	 * the states the configuration last asked for, so a reload changes
	 * only what the file changed.
	 */
	struct scsi_tpg_set *alua;
	unsigned int alua_n;
	uint16_t alua_tags[TARGET_ALUA_MAX];
	uint8_t alua_cfg[TARGET_ALUA_MAX];
	/* Logins to it refused, by reason (atomic; stats.c). */
	uint64_t logins_refused[TARGET_LOGIN_REASONS];
};

/* registry.c */
struct target_registry {
	pthread_rwlock_t lock;
	struct list_node targets;
	struct list_node disc_incoming; /* struct conf_account */
	struct conf_account *disc_outgoing;
	char *isns_server; /* global iSNS keys of the applied conf */
	bool isns_access_control;
	struct allow_paths allow;
	bool started; /* a conf was applied before */
};
extern struct target_registry target_registry;

/*
 * CHAP accounts (struct conf_account, owned by their list). dup returns
 * NULL on no memory; copy appends copies of src to dst and returns false
 * on no memory (dst then holds those copied so far).
 */
void target_account_free(struct conf_account *a);
void target_accounts_clear(struct list_node *head);
struct conf_account *target_account_dup(const struct conf_account *a);
bool target_accounts_copy(struct list_node *dst, const struct list_node *src);

/*
 * A LUN inventory of table tab (n entries), with a reference on each LU;
 * NULL on no memory. Free one no reader can see with
 * target_inventory_free(), one that was published with
 * target_inventory_retire() (NULL is fine for both).
 */
struct lun_inventory *target_inventory_new(const struct target_lun *tab,
    unsigned int n);
void target_inventory_free(void *inv);
void target_inventory_retire(struct lun_inventory *inv);
/* Free t and everything it holds (its last reference is gone). */
void target_free(struct target *t);
/* The listed target named name (any case), removing or not; lock held. */
struct target *target_lookup_name(const char *name);
/*
 * Take t off the list and drop the registry's reference; nothing when it
 * is not listed. Write lock held.
 */
void target_unlist(struct target *t);
/* LUN lun of t's table (binary search), or NULL; lock held. */
struct target_lun *target_lun_lookup(const struct target *t, uint64_t lun);
/* Some listed target has that tid; lock held. */
bool target_tid_used(unsigned int tid);
/* List t (its tid set) keeping the list sorted by tid; write lock held. */
void target_list_insert(struct target *t);

/* apply.c */
/*
 * A new target in *out, not yet listed, with every LUN open. Returns 0,
 * -EIO when a LUN cannot be opened (logged with file, first in why) or
 * -ENOMEM.
 */
int target_create(const struct conf_target *src, const char *file,
    struct target **out, char *why, size_t whylen);
/* Update running target t to src as one change; 0 or -errno (why). */
int target_update(struct target *t, const struct conf_target *src, char *why,
    size_t whylen);

/* alua.c */
/*
 * Bring t's target port groups in line with its configuration (t->ct and
 * the portal groups last applied); main thread.
 */
void target_alua_sync(struct target *t);
/* After target_apply(): the portal groups of conf, then every target. */
void target_alua_apply(const struct conf *conf);

#endif /* IETD_TARGET_TARGET_INT_H */
