/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The ietd authors */
/*
 * Applying a configuration: target_apply() works out the difference
 * between what runs and a new struct conf and applies only that (ctld's
 * conf_apply), all or nothing: every new or changed backing store is
 * opened, and every configuration copied, before anything running
 * changes. ietadm's changes (admin.c) go through the same plans, one
 * target at a time; ietd -t opens and closes the stores the same way.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "util/alloc.h"
#include "util/log.h"
#include "target_int.h"

static bool
target_str_eq(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return strcmp(a, b) == 0;
}

static bool
target_lun_def_eq(const struct conf_lun *a, const struct conf_lun *b)
{
	return a->type == b->type && a->iomode == b->iomode &&
	    a->block_size == b->block_size &&
	    a->phys_block_size == b->phys_block_size &&
	    a->sectors == b->sectors && target_str_eq(a->path, b->path) &&
	    target_str_eq(a->scsi_id, b->scsi_id) &&
	    target_str_eq(a->scsi_sn, b->scsi_sn) &&
	    target_str_eq(a->ceph_conf, b->ceph_conf) &&
	    target_str_eq(a->ceph_user, b->ceph_user) &&
	    target_str_eq(a->ceph_keyring, b->ceph_keyring);
}

static int
target_lu_open(const struct conf_target *ct, const struct conf_lun *cl,
    struct scsi_lu **out, char *why, size_t whylen)
{
	/* IET's Type= names, which are the store types' names. */
	static const char *const stores[] = {
	    [CONF_LUN_FILEIO] = "fileio",
	    [CONF_LUN_BLOCKIO] = "blockio",
	    [CONF_LUN_NULLIO] = "nullio",
	    [CONF_LUN_RBD] = "rbd",
	};
	struct scsi_lu_params p = {
	    .lun = cl->lun,
	    .store = stores[cl->type],
	    .path = cl->path,
	    .store_bytes = cl->sectors * cl->block_size,
	    .write_through = cl->iomode == CONF_IOMODE_WT,
	    .block_size = cl->block_size,
	    .phys_block_size = cl->phys_block_size,
	    .scsi_id = cl->scsi_id,
	    .scsi_sn = cl->scsi_sn,
	    .ceph_conf = cl->ceph_conf,
	    .ceph_user = cl->ceph_user,
	    .ceph_keyring = cl->ceph_keyring,
	    .target_name = ct->name,
	    .tid = ct->tid,
	    .read_only = cl->iomode == CONF_IOMODE_RO,
	    .write_cache = cl->iomode == CONF_IOMODE_WB,
	};

	return scsi_lu_new(&p, out, why, whylen);
}

/*
 * Build the LUN table for new configuration ct of target old (NULL for a
 * new target): unchanged LUNs keep their LU, changed and new ones are
 * opened. The running table is only read (the main thread is its only
 * writer), and the disk is touched without the registry lock. Every LUN
 * is tried; with file (a reload, start-up, -t) each failure is logged
 * as file:line, and the first one is put in why (ietadm answers with
 * it). Returns how many could not be opened; the table is built either
 * way, for the caller to install or release (NULL: out of memory).
 */
static unsigned int
target_luns_build(const struct target *old, const struct conf_target *ct,
    const char *file, struct target_lun **out, unsigned int *nout, char *why,
    size_t whylen)
{
	unsigned int n = (unsigned int)list_count(&ct->luns), i = 0, bad = 0;
	struct target_lun *tab = mem_calloc(n ? n : 1, sizeof(*tab));
	struct list_node *pos;

	*out = NULL;
	*nout = 0;
	if (tab == NULL) {
		snprintf(why, whylen, "out of memory");
		return n ? n : 1;
	}
	list_for_each(pos, &ct->luns) {
		const struct conf_lun *cl =
		    list_entry(pos, struct conf_lun, node);
		struct target_lun *cur =
		    old ? target_lun_lookup(old, cl->lun) : NULL;
		char reason[256];

		if (cur != NULL && target_lun_def_eq(cur->def, cl)) {
			scsi_lu_get(cur->lu);
			tab[i++] = (struct target_lun){cl->lun, cur->lu, cl};
			continue;
		}
		struct scsi_lu *lu;
		int err = target_lu_open(ct, cl, &lu, reason, sizeof(reason));
		if (err) {
			if (file != NULL)
				log_error("%s:%u: target %s lun %u: %s", file,
				    cl->line, ct->name, cl->lun, reason);
			if (bad++ == 0)
				snprintf(why, whylen, "target %s lun %u: %s",
				    ct->name, cl->lun, reason);
			continue;
		}
		log_debug(1, "attaching %u to %u:%u", cl->lun, ct->tid,
		    cl->lun);
		tab[i++] = (struct target_lun){cl->lun, lu, cl};
	}
	*out = tab;
	*nout = i;
	return bad;
}

static void
target_luns_release(struct target_lun *tab, unsigned int n)
{
	for (unsigned int i = 0; i < n; i++)
		scsi_lu_put(tab[i].lu);
	mem_free(tab);
}

/* Tell every LU of t that the inventory changed (SPC-4 6.33 UA). */
static void
target_luns_changed(struct target *t)
{
	for (unsigned int i = 0; i < t->nluns; i++)
		scsi_lu_ua_luns_changed(t->luns[i].lu);
}

static bool
target_params_differ(const struct conf_target *a, const struct conf_target *b)
{
	if (!target_str_eq(a->alias, b->alias))
		return true;
	return memcmp(a->params, b->params, sizeof(a->params)) != 0;
}

/*
 * Keys ietd accepts for IET's sake but offers only one value of (MC/S,
 * error recovery levels 1 and 2, Data-Out out of order): say so when a
 * target gets another value, so that nobody believes it is in force.
 */
static void
target_params_notice(const struct conf_target *ct,
    const struct conf_target *old)
{
	static const struct {
		enum conf_key key;
		uint32_t offered;
		const char *what;
	} limits[] = {
	    {CONF_KEY_MAX_CONNECTIONS, 1,
		"sessions have one connection each (no MC/S)"},
	    {CONF_KEY_ERROR_RECOVERY_LEVEL, 0,
		"only error recovery level 0 is implemented"},
	    {CONF_KEY_DATA_PDU_IN_ORDER, 1,
		"Data-Out PDUs are taken in order only"},
	    {CONF_KEY_DATA_SEQUENCE_IN_ORDER, 1,
		"Data-Out sequences are taken in order only"},
	};
	char val[32], off[32];

	for (size_t i = 0; i < sizeof(limits) / sizeof(limits[0]); i++) {
		enum conf_key k = limits[i].key;
		uint32_t v = ct->params[k];

		if (v == limits[i].offered ||
		    (old != NULL && old->params[k] == v))
			continue;
		log_notice("target %s: %s %s: %s, so %s is offered", ct->name,
		    conf_key_defs[k].name,
		    conf_key_format(k, v, val, sizeof(val)), limits[i].what,
		    conf_key_format(k, limits[i].offered, off, sizeof(off)));
	}
}

/*
 * A new target in *out, not yet listed, with every LUN open. Returns 0,
 * -EIO when a LUN cannot be opened (logged with file, first in why) or
 * -ENOMEM.
 */
int
target_create(const struct conf_target *src, const char *file,
    struct target **out, char *why, size_t whylen)
{
	struct target *t = mem_zalloc(sizeof(*t));

	*out = NULL;
	if (t == NULL || (t->ct = conf_target_dup(src)) == NULL ||
	    (t->name = mem_strdup(src->name)) == NULL) {
		if (t != NULL)
			conf_target_free(t->ct);
		mem_free(t);
		snprintf(why, whylen, "out of memory creating target %s",
		    src->name);
		return -ENOMEM;
	}
	atomic_init(&t->refs, 1);
	list_init(&t->node);
	if (target_luns_build(NULL, t->ct, file, &t->luns, &t->nluns, why,
		whylen) != 0) {
		int err = t->luns != NULL ? -EIO : -ENOMEM;

		target_free(t);
		return err;
	}
	atomic_init(&t->inv, target_inventory_new(t->luns, t->nluns));
	if (atomic_load(&t->inv) == NULL) {
		snprintf(why, whylen, "out of memory");
		target_free(t);
		return -ENOMEM;
	}
	*out = t;
	return 0;
}

/*
 * One target's part of a change, prepared whole before anything is
 * applied: a reload, or an ietadm change, either happens entirely or not
 * at all (ctld's conf_apply opens everything new first as well).
 */
struct target_plan {
	struct target *t; /* referenced; a new one is not listed yet */
	bool is_new;
	struct conf_target *ct; /* update: the new configuration, owned */
	struct target_lun *tab; /* update: the new LUN table, owned */
	unsigned int n;
	struct lun_inventory *inv; /* update: tab's LUN numbers, owned */
};

/*
 * Prepare target t (referenced; NULL for a new one) for configuration
 * src: copy it and open what is new. Nothing running changes. Returns 0,
 * or -EIO when a LUN cannot be opened (logged, first reason in why) or
 * -ENOMEM; p then holds nothing and t's reference is dropped.
 */
static int
target_plan_prepare(struct target_plan *p, struct target *t,
    const struct conf_target *src, const char *file, char *why, size_t whylen)
{
	unsigned int bad;
	int err = 0;

	memset(p, 0, sizeof(*p));
	if (t == NULL) {
		p->is_new = true;
		return target_create(src, file, &p->t, why, whylen);
	}
	p->t = t;
	if ((p->ct = conf_target_dup(src)) == NULL) {
		snprintf(why, whylen, "out of memory");
		target_put(t);
		p->t = NULL;
		return -ENOMEM;
	}
	bad = target_luns_build(t, p->ct, file, &p->tab, &p->n, why, whylen);
	if (p->tab == NULL)
		err = -ENOMEM;
	else if (bad != 0)
		err = -EIO;
	else if ((p->inv = target_inventory_new(p->tab, p->n)) == NULL) {
		snprintf(why, whylen, "out of memory");
		err = -ENOMEM;
	}
	if (err != 0) {
		if (p->tab != NULL)
			target_luns_release(p->tab, p->n);
		conf_target_free(p->ct);
		target_put(t);
		memset(p, 0, sizeof(*p));
	}
	return err;
}

/* Undo a prepared plan that will not be applied: close what it opened. */
static void
target_plan_release(struct target_plan *p)
{
	if (p->t == NULL)
		return;
	if (!p->is_new) {
		target_luns_release(p->tab, p->n);
		target_inventory_free(p->inv);
		conf_target_free(p->ct);
	}
	target_put(p->t);
	memset(p, 0, sizeof(*p));
}

/* Apply a prepared update to its running target. Cannot fail. */
static void
target_plan_commit_update(struct target_plan *p)
{
	struct target *t = p->t;
	struct conf_target *ct = p->ct, *old_ct;
	struct target_lun *old_tab;
	struct lun_inventory *old_inv;
	unsigned int old_n;
	bool params_changed, luns_changed;

	pthread_rwlock_wrlock(&target_registry.lock);
	if (t->removing) {
		/*
		 * Removed by an earlier reload and back before (or just
		 * after) its last session ended: it keeps running, updated.
		 */
		__atomic_store_n(&t->removing, false, __ATOMIC_RELAXED);
		if (!t->listed) {
			target_get(t); /* the registry's again */
			while (target_tid_used(t->tid))
				t->tid++;
			target_list_insert(t);
		}
	}
	params_changed = target_params_differ(t->ct, ct);
	if (params_changed)
		target_params_notice(ct, t->ct);
	/* Any LU not carried over (removed or reopened) changes the set. */
	luns_changed = p->n != t->nluns;
	for (unsigned int i = 0; i < t->nluns; i++) {
		bool kept = false, renumbered = false;
		for (unsigned int j = 0; j < p->n; j++) {
			kept |= p->tab[j].lu == t->luns[i].lu;
			renumbered |= p->tab[j].lun == t->luns[i].lun;
		}
		luns_changed |= !kept;
		if (!renumbered)
			log_notice("target %s: lun %u removed", ct->name,
			    (unsigned int)t->luns[i].lun);
	}
	for (unsigned int j = 0; j < p->n; j++) {
		const struct target_lun *cur =
		    target_lun_lookup(t, p->tab[j].lun);

		if (cur == NULL)
			log_notice("target %s: lun %u added", ct->name,
			    (unsigned int)p->tab[j].lun);
		else if (cur->lu != p->tab[j].lu)
			log_notice("target %s: lun %u changed, reopened",
			    ct->name, (unsigned int)p->tab[j].lun);
	}
	old_tab = t->luns;
	old_n = t->nluns;
	old_ct = t->ct;
	old_inv = atomic_load(&t->inv);
	t->luns = p->tab;
	t->nluns = p->n;
	t->ct = ct;
	atomic_store(&t->inv, p->inv);
	if (luns_changed)
		target_luns_changed(t);
	pthread_rwlock_unlock(&target_registry.lock);

	if (params_changed)
		log_notice("target %s: parameters changed; they apply to new "
			   "sessions",
		    ct->name);
	target_luns_release(old_tab, old_n);
	target_inventory_retire(old_inv);
	conf_target_free(old_ct);
	target_put(t);
	memset(p, 0, sizeof(*p));
}

/* List a prepared new target under a free tid (from want up). */
static void
target_plan_commit_new(struct target_plan *p, unsigned int want)
{
	struct target *t = p->t;

	pthread_rwlock_wrlock(&target_registry.lock);
	t->tid = want ? want : 1;
	while (target_tid_used(t->tid))
		t->tid++;
	target_list_insert(t);
	pthread_rwlock_unlock(&target_registry.lock);
	target_params_notice(t->ct, NULL);
	/* The registry keeps the creation reference. */
	memset(p, 0, sizeof(*p));
}

/* Update running target t to src as one change; 0 or -errno (why). */
int
target_update(struct target *t, const struct conf_target *src, char *why,
    size_t whylen)
{
	struct target_plan p;
	int err;

	target_get(t);
	err = target_plan_prepare(&p, t, src, NULL, why, whylen);
	if (err == 0)
		target_plan_commit_update(&p);
	return err;
}

int
target_apply(const struct conf *conf, char *why, size_t whylen)
{
	unsigned int n = (unsigned int)list_count(&conf->targets), i = 0;
	unsigned int bad = 0;
	struct target_plan *plans = mem_calloc(n ? n : 1, sizeof(*plans));
	struct conf_account *out = NULL;
	char *isns = NULL;
	struct list_node *pos, *tmp;
	struct list_node acc;
	bool oom = false;

	snprintf(why, whylen, "no error");
	list_init(&acc);
	if (plans == NULL || !target_accounts_copy(&acc, &conf->incoming) ||
	    (conf->outgoing && !(out = target_account_dup(conf->outgoing)))) {
		target_accounts_clear(&acc);
		mem_free(plans);
		snprintf(why, whylen, "out of memory");
		return -ENOMEM;
	}

	/*
	 * First everything that can fail: open every new or changed backing
	 * store, copy every configuration. The running targets are only
	 * read meanwhile (this is the main thread, their only writer).
	 */
	list_for_each(pos, &conf->targets) {
		const struct conf_target *ct =
		    list_entry(pos, struct conf_target, node);
		char reason[256];
		struct target *t;
		int err;

		pthread_rwlock_rdlock(&target_registry.lock);
		t = target_lookup_name(ct->name);
		if (t != NULL)
			target_get(t);
		pthread_rwlock_unlock(&target_registry.lock);
		err = target_plan_prepare(&plans[i], t, ct, conf->path, reason,
		    sizeof(reason));
		if (err == 0)
			i++;
		else if (err == -ENOMEM)
			oom = true;
		else
			bad++;
	}
	/* The iSNS keys are kept for --dump (and whoever registers). */
	if (conf->isns_server != NULL &&
	    (isns = mem_strdup(conf->isns_server)) == NULL)
		oom = true;
	if (bad != 0 || oom) {
		while (i > 0)
			target_plan_release(&plans[--i]);
		mem_free(plans);
		target_accounts_clear(&acc);
		target_account_free(out);
		mem_free(isns);
		if (oom)
			snprintf(why, whylen, "out of memory");
		else
			snprintf(why, whylen,
			    "%s: %u target(s) with a logical unit that cannot "
			    "be opened",
			    conf->path, bad);
		return oom ? -ENOMEM : -EIO;
	}

	/* Then apply it all; nothing below can fail. */
	pthread_rwlock_wrlock(&target_registry.lock);
	target_accounts_clear(&target_registry.disc_incoming);
	target_account_free(target_registry.disc_outgoing);
	list_for_each_safe(pos, tmp, &acc) {
		list_remove(pos);
		list_add_tail(&target_registry.disc_incoming, pos);
	}
	target_registry.disc_outgoing = out;
	mem_free(target_registry.isns_server);
	target_registry.isns_server = isns;
	target_registry.isns_access_control = conf->isns_access_control;

	/* Targets gone from the file: remove now or with their last session. */
	list_for_each_safe(pos, tmp, &target_registry.targets) {
		struct target *t = list_entry(pos, struct target, node);
		if (t->removing || conf_target_find(conf, t->ct->name))
			continue;
		__atomic_store_n(&t->removing, true, __ATOMIC_RELAXED);
		if (t->sessions == 0) {
			log_debug(1, "removing target %u", t->tid);
			target_unlist(t);
		} else {
			log_notice("need to shutdown target %s", t->ct->name);
		}
	}
	pthread_rwlock_unlock(&target_registry.lock);

	for (unsigned int k = 0; k < i; k++) {
		if (!plans[k].is_new) {
			target_plan_commit_update(&plans[k]);
			continue;
		}
		struct target *t = plans[k].t;

		target_plan_commit_new(&plans[k], t->ct->tid);
		log_debug(1, "active target %u: %s", t->tid, t->ct->name);
		if (target_registry.started)
			log_notice("target %u (%s) added", t->tid, t->ct->name);
	}
	mem_free(plans);
	target_alua_apply(conf);
	target_registry.started = true;
	return 0;
}

unsigned int
target_conf_check(const struct conf *conf)
{
	struct list_node *pos;
	unsigned int bad = 0;

	list_for_each(pos, &conf->targets) {
		const struct conf_target *ct =
		    list_entry(pos, struct conf_target, node);
		struct target_lun *tab;
		unsigned int n;
		char why[256];

		bad += target_luns_build(NULL, ct, conf->path, &tab, &n, why,
		    sizeof(why));
		if (tab != NULL)
			target_luns_release(tab, n);
	}
	return bad;
}
