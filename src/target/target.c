/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The ietd authors */
/*
 * The registry of live targets. One rwlock guards the list, each target's
 * configuration and LUN table; targets and LUs are reference counted, so
 * a session keeps using what it holds while a reload swaps the registry's
 * view. target_apply() works out the difference between what runs and a
 * new struct conf and applies only that (ctld's conf_apply).
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/alloc.h"
#include "util/log.h"
#include "util/str.h"
#include "target.h"

/* The LUN numbers of a target, shared read-only with REPORT LUNS. */
struct lun_inventory {
	atomic_int refs;
	unsigned int n;
	uint64_t luns[];
};

struct target_lun {
	uint64_t lun;
	struct scsi_lu *lu;
	const struct conf_lun *def; /* in target->ct, for diffs */
};

struct target {
	struct list_node node; /* target_registry.targets, by tid */
	atomic_int refs;
	unsigned int tid;
	struct conf_target *ct;  /* owned; replaced on reload */
	struct target_lun *luns; /* sorted by number */
	unsigned int nluns;
	struct lun_inventory *inv;
	unsigned int sessions;
	bool removing;
	bool listed; /* still in target_registry.targets */
};

static struct {
	pthread_rwlock_t lock;
	struct list_node targets;
	struct list_node disc_incoming; /* struct conf_account */
	struct conf_account *disc_outgoing;
	struct allow_paths allow;
	bool started; /* a conf was applied before */
} target_registry = {
    .lock = PTHREAD_RWLOCK_INITIALIZER,
    .targets = LIST_HEAD_INIT(target_registry.targets),
    .disc_incoming = LIST_HEAD_INIT(target_registry.disc_incoming),
    .allow =
	{
	    .initiators_allow = "/etc/initiators.allow",
	    .initiators_deny = "/etc/initiators.deny",
	    .targets_allow = "/etc/targets.allow",
	},
};

void
target_set_allow_paths(const struct allow_paths *p)
{
	target_registry.allow = *p;
}

const struct allow_paths *
target_allow_paths(void)
{
	return &target_registry.allow;
}

/* ---- accounts ---------------------------------------------------------- */

static void
target_account_free(struct conf_account *a)
{
	if (a == NULL)
		return;
	mem_free(a->user);
	mem_free(a->secret);
	mem_free(a);
}

static void
target_accounts_clear(struct list_node *head)
{
	while (!list_empty(head)) {
		struct conf_account *a =
		    list_first_entry(head, struct conf_account, node);
		list_remove(&a->node);
		target_account_free(a);
	}
}

static struct conf_account *
target_account_dup(const struct conf_account *a)
{
	struct conf_account *d = mem_zalloc(sizeof(*d));

	if (d == NULL)
		return NULL;
	list_init(&d->node);
	d->user = mem_strdup(a->user);
	d->secret = mem_strdup(a->secret);
	if (d->user == NULL || d->secret == NULL) {
		target_account_free(d);
		return NULL;
	}
	return d;
}

static bool
target_accounts_copy(struct list_node *dst, const struct list_node *src)
{
	const struct list_node *n;

	list_for_each(n, src) {
		struct conf_account *d = target_account_dup(
		    list_entry(n, struct conf_account, node));
		if (d == NULL)
			return false;
		list_add_tail(dst, &d->node);
	}
	return true;
}

static const struct list_node *
target_incoming_list(const struct target *t)
{
	return t ? &t->ct->incoming : &target_registry.disc_incoming;
}

bool
target_needs_chap(const struct target *t)
{
	bool r;

	pthread_rwlock_rdlock(&target_registry.lock);
	r = !list_empty(target_incoming_list(t));
	pthread_rwlock_unlock(&target_registry.lock);
	return r;
}

bool
target_incoming_secret(const struct target *t, const char *user, char *secret,
    size_t len)
{
	const struct list_node *n;
	bool found = false;

	pthread_rwlock_rdlock(&target_registry.lock);
	list_for_each(n, target_incoming_list(t)) {
		const struct conf_account *a =
		    list_entry(n, struct conf_account, node);
		if (strcmp(a->user, user) == 0) {
			snprintf(secret, len, "%s", a->secret);
			found = true;
			break;
		}
	}
	pthread_rwlock_unlock(&target_registry.lock);
	if (!found) {
		char esc[128];
		/* IET's level-0 message; the name comes from the peer. */
		log_info("unknown user %s",
		    str_escape(esc, sizeof(esc), user, strlen(user)));
	}
	return found;
}

bool
target_outgoing_account(const struct target *t, char *user, size_t ulen,
    char *secret, size_t slen)
{
	const struct conf_account *a;
	bool found = false;

	pthread_rwlock_rdlock(&target_registry.lock);
	a = t ? t->ct->outgoing : target_registry.disc_outgoing;
	if (a != NULL) {
		snprintf(user, ulen, "%s", a->user);
		snprintf(secret, slen, "%s", a->secret);
		found = true;
	}
	pthread_rwlock_unlock(&target_registry.lock);
	return found;
}

/* ---- targets ----------------------------------------------------------- */

static void
target_inventory_put(struct lun_inventory *inv)
{
	if (inv != NULL && atomic_fetch_sub(&inv->refs, 1) == 1)
		mem_free(inv);
}

static void
target_free(struct target *t)
{
	for (unsigned int i = 0; i < t->nluns; i++)
		scsi_lu_put(t->luns[i].lu);
	mem_free(t->luns);
	target_inventory_put(t->inv);
	conf_target_free(t->ct);
	mem_free(t);
}

void
target_get(struct target *t)
{
	atomic_fetch_add(&t->refs, 1);
}

void
target_put(struct target *t)
{
	if (t != NULL && atomic_fetch_sub(&t->refs, 1) == 1)
		target_free(t);
}

/* Caller holds the lock. */
static struct target *
target_lookup_name(const char *name)
{
	struct list_node *n;

	list_for_each(n, &target_registry.targets) {
		struct target *t = list_entry(n, struct target, node);
		if (strcasecmp(t->ct->name, name) == 0)
			return t;
	}
	return NULL;
}

struct target *
target_find_by_name(const char *name)
{
	struct target *t;

	pthread_rwlock_rdlock(&target_registry.lock);
	t = target_lookup_name(name);
	if (t != NULL && !t->removing)
		target_get(t);
	else
		t = NULL;
	pthread_rwlock_unlock(&target_registry.lock);
	log_debug(1, "target_find_name: %s", name);
	return t;
}

struct target *
target_find_by_tid(unsigned int tid)
{
	struct list_node *n;
	struct target *found = NULL;

	pthread_rwlock_rdlock(&target_registry.lock);
	list_for_each(n, &target_registry.targets) {
		struct target *t = list_entry(n, struct target, node);
		if (t->tid == tid && !t->removing) {
			target_get(t);
			found = t;
			break;
		}
	}
	pthread_rwlock_unlock(&target_registry.lock);
	log_debug(1, "target_find_id: %u", tid);
	return found;
}

void
target_foreach(bool (*fn)(struct target *t, void *arg), void *arg)
{
	struct target **snap = NULL;
	unsigned int n = 0, cap = 0;

	/* Snapshot, then call without the lock: fn may take it again. */
	pthread_rwlock_rdlock(&target_registry.lock);
	cap = (unsigned int)list_count(&target_registry.targets);
	snap = cap ? mem_calloc(cap, sizeof(*snap)) : NULL;
	if (snap != NULL) {
		struct list_node *pos;

		list_for_each(pos, &target_registry.targets) {
			struct target *t = list_entry(pos, struct target, node);
			if (!t->removing) {
				target_get(t);
				snap[n++] = t;
			}
		}
	} else if (cap) {
		log_warning("target list: out of memory");
	}
	pthread_rwlock_unlock(&target_registry.lock);
	unsigned int i;
	for (i = 0; i < n; i++)
		if (!fn(snap[i], arg))
			break;
	for (i = 0; i < n; i++)
		target_put(snap[i]);
	mem_free(snap);
}

unsigned int
target_removing_tids(unsigned int *tids, unsigned int max)
{
	struct list_node *pos;
	unsigned int n = 0;

	pthread_rwlock_rdlock(&target_registry.lock);
	list_for_each(pos, &target_registry.targets) {
		const struct target *t = list_entry(pos, struct target, node);

		if (t->removing && t->sessions > 0 && n < max)
			tids[n++] = t->tid;
	}
	pthread_rwlock_unlock(&target_registry.lock);
	return n;
}

unsigned int
target_tid(const struct target *t)
{
	return t->tid;
}

const char *
target_name(const struct target *t)
{
	/* The name never changes for a target: a rename is a new target. */
	return t->ct->name;
}

const char *
target_alias(const struct target *t)
{
	return t->ct->alias;
}

uint32_t
target_param(const struct target *t, enum conf_key k)
{
	uint32_t v;

	if (t == NULL)
		return conf_key_defs[k].def;
	pthread_rwlock_rdlock(&target_registry.lock);
	v = t->ct->params[k];
	pthread_rwlock_unlock(&target_registry.lock);
	return v;
}

bool
target_is_removing(const struct target *t)
{
	return t->removing;
}

/* ---- sessions ---------------------------------------------------------- */

/* Caller holds the write lock. Drops the registry's reference. */
static void
target_unlist(struct target *t)
{
	if (!t->listed)
		return;
	list_remove(&t->node);
	t->listed = false;
	log_debug(1, "target_remove: %u,%s", t->tid, t->ct->name);
	log_notice("target %u (%s) removed", t->tid, t->ct->name);
	target_put(t);
}

int
target_session_add(struct target *t)
{
	int err = 0;
	uint32_t max;

	pthread_rwlock_wrlock(&target_registry.lock);
	max = t->ct->params[CONF_KEY_MAX_SESSIONS];
	if (t->removing)
		err = -ENOENT;
	else if (max != 0 && t->sessions >= max)
		err = -EBUSY;
	else
		t->sessions++;
	pthread_rwlock_unlock(&target_registry.lock);
	return err;
}

void
target_session_del(struct target *t)
{
	pthread_rwlock_wrlock(&target_registry.lock);
	if (t->sessions > 0)
		t->sessions--;
	if (t->removing && t->sessions == 0)
		target_unlist(t);
	pthread_rwlock_unlock(&target_registry.lock);
}

unsigned int
target_session_count(const struct target *t)
{
	unsigned int n;

	pthread_rwlock_rdlock(&target_registry.lock);
	n = t->sessions;
	pthread_rwlock_unlock(&target_registry.lock);
	return n;
}

/* ---- LUNs -------------------------------------------------------------- */

/* Caller holds the lock. Binary search in the sorted table. */
static struct target_lun *
target_lun_lookup(const struct target *t, uint64_t lun)
{
	unsigned int lo = 0, hi = t->nluns;

	while (lo < hi) {
		unsigned int mid = lo + (hi - lo) / 2;
		if (t->luns[mid].lun == lun)
			return &t->luns[mid];
		if (t->luns[mid].lun < lun)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

struct scsi_lu *
target_lu_find(struct target *t, uint64_t lun)
{
	struct target_lun *tl;
	struct scsi_lu *lu = NULL;

	pthread_rwlock_rdlock(&target_registry.lock);
	tl = target_lun_lookup(t, lun);
	if (tl != NULL) {
		lu = tl->lu;
		scsi_lu_get(lu);
	}
	pthread_rwlock_unlock(&target_registry.lock);
	return lu;
}

void
target_task_exec(struct target *t, struct scsi_task *task)
{
	struct target_lun *tl;
	struct scsi_lu *lu = NULL;
	struct lun_inventory *inv;

	pthread_rwlock_rdlock(&target_registry.lock);
	tl = target_lun_lookup(t, task->lun);
	if (tl != NULL) {
		lu = tl->lu;
		scsi_lu_get(lu);
	}
	inv = t->inv;
	if (inv != NULL)
		atomic_fetch_add(&inv->refs, 1);
	pthread_rwlock_unlock(&target_registry.lock);

	scsi_task_exec(lu, task, inv ? inv->luns : NULL, inv ? inv->n : 0);

	target_inventory_put(inv);
	/* The task holds its own reference to the LU while it runs. */
	if (lu != NULL)
		scsi_lu_put(lu);
}

/* The LUN numbers of a table, for REPORT LUNS; NULL on no memory. */
static struct lun_inventory *
target_inventory_new(const struct target_lun *tab, unsigned int n)
{
	struct lun_inventory *inv =
	    mem_zalloc(sizeof(*inv) + (n ? n : 1) * sizeof(uint64_t));

	if (inv == NULL)
		return NULL;
	atomic_init(&inv->refs, 1);
	inv->n = n;
	for (unsigned int i = 0; i < n; i++)
		inv->luns[i] = tab[i].lun;
	return inv;
}

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
	    a->block_size == b->block_size && a->sectors == b->sectors &&
	    target_str_eq(a->path, b->path) &&
	    target_str_eq(a->scsi_id, b->scsi_id) &&
	    target_str_eq(a->scsi_sn, b->scsi_sn);
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
	};
	struct scsi_lu_params p = {
	    .lun = cl->lun,
	    .store = stores[cl->type],
	    .path = cl->path,
	    .store_bytes = cl->sectors * cl->block_size,
	    .write_through = cl->iomode == CONF_IOMODE_WT,
	    .block_size = cl->block_size,
	    .scsi_id = cl->scsi_id,
	    .scsi_sn = cl->scsi_sn,
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

static bool
target_tid_used(unsigned int tid)
{
	struct list_node *n;

	list_for_each(n, &target_registry.targets)
		if (list_entry(n, struct target, node)->tid == tid)
			return true;
	return false;
}

/* Insert t keeping the list sorted by tid; lock held. */
static void
target_list_insert(struct target *t)
{
	struct list_node *pos;

	list_for_each(pos, &target_registry.targets)
		if (list_entry(pos, struct target, node)->tid > t->tid)
			break;
	list_insert_between(&t->node, pos->prev, pos);
	t->listed = true;
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
static int
target_create(const struct conf_target *src, const char *file,
    struct target **out, char *why, size_t whylen)
{
	struct target *t = mem_zalloc(sizeof(*t));

	*out = NULL;
	if (t == NULL || (t->ct = conf_target_dup(src)) == NULL) {
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
	if ((t->inv = target_inventory_new(t->luns, t->nluns)) == NULL) {
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
		target_inventory_put(p->inv);
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
		t->removing = false;
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
	old_inv = t->inv;
	t->luns = p->tab;
	t->nluns = p->n;
	t->ct = ct;
	t->inv = p->inv;
	if (luns_changed)
		target_luns_changed(t);
	pthread_rwlock_unlock(&target_registry.lock);

	if (params_changed)
		log_notice("target %s: parameters changed; they apply to new "
			   "sessions",
		    ct->name);
	target_luns_release(old_tab, old_n);
	target_inventory_put(old_inv);
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
static int
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
	if (bad != 0 || oom) {
		while (i > 0)
			target_plan_release(&plans[--i]);
		mem_free(plans);
		target_accounts_clear(&acc);
		target_account_free(out);
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

	/* Targets gone from the file: remove now or with their last session. */
	list_for_each_safe(pos, tmp, &target_registry.targets) {
		struct target *t = list_entry(pos, struct target, node);
		if (t->removing || conf_target_find(conf, t->ct->name))
			continue;
		t->removing = true;
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

void
target_registry_clear(void)
{
	pthread_rwlock_wrlock(&target_registry.lock);
	while (!list_empty(&target_registry.targets)) {
		struct target *t = list_first_entry(&target_registry.targets,
		    struct target, node);
		t->removing = true;
		target_unlist(t);
	}
	target_accounts_clear(&target_registry.disc_incoming);
	target_account_free(target_registry.disc_outgoing);
	target_registry.disc_outgoing = NULL;
	target_registry.started = false;
	pthread_rwlock_unlock(&target_registry.lock);
}

/* ---- administration ------------------------------------------------------
 * ietadm's changes are validated by the ietd.conf parser itself: each one
 * is written as a small ietd.conf text and parsed, so a value ietadm
 * accepts is exactly one ietd.conf accepts, with the same message when
 * not. The result then goes through target_update(), the path a reload
 * takes. All of this runs on the main thread, as reloads do.
 */

struct target_admin_err {
	char *why;
	size_t len;
	bool seen;
};

/* Keep the first parser message, without its "ietadm:LINE: " prefix. */
static void
target_admin_report(void *arg, const char *msg)
{
	struct target_admin_err *e = arg;
	const char *p = msg;

	if (e->seen)
		return;
	e->seen = true;
	for (int colons = 0; *p && colons < 2; p++)
		if (*p == ':')
			colons++;
	while (*p == ' ')
		p++;
	snprintf(e->why, e->len, "%s", *p ? p : msg);
}

/* Parse text as ietd.conf; NULL with the first error in why. */
static struct conf *
target_admin_parse(const char *text, char *why, size_t whylen)
{
	struct target_admin_err e = {why, whylen, false};
	struct conf *c = conf_load_buf("ietadm", text, strlen(text),
	    target_admin_report, &e);

	if (c == NULL && !e.seen)
		snprintf(why, whylen, "out of memory");
	return c;
}

/* A live target by tid, referenced; why says so when there is none. */
static struct target *
target_admin_find(unsigned int tid, char *why, size_t whylen)
{
	struct target *t = target_find_by_tid(tid);

	if (t == NULL) {
		log_notice("target %u not found?", tid);
		snprintf(why, whylen, "no target with tid %u", tid);
	}
	return t;
}

/* Copy of t's configuration to edit; NULL (why set) on no memory. */
static struct conf_target *
target_admin_edit(struct target *t, char *why, size_t whylen)
{
	struct conf_target *ct;

	pthread_rwlock_rdlock(&target_registry.lock);
	ct = conf_target_dup(t->ct);
	pthread_rwlock_unlock(&target_registry.lock);
	if (ct == NULL)
		snprintf(why, whylen, "out of memory");
	return ct;
}

/* Apply the edited ct (consumed) to t as one change; 0 or -errno. */
static int
target_admin_commit(struct target *t, struct conf_target *ct, char *why,
    size_t whylen)
{
	int err = target_update(t, ct, why, whylen);

	conf_target_free(ct);
	return err;
}

int
target_admin_add(unsigned int *tid, const char *name, char *why, size_t whylen)
{
	char text[512];
	struct conf *c;
	struct target *t;
	int err;

	if (strchr(name, '\n') || strlen(name) > CONF_NAME_MAX) {
		snprintf(why, whylen, "not a valid iSCSI name");
		return -EINVAL;
	}
	snprintf(text, sizeof(text), "Target %s\n", name);
	if ((c = target_admin_parse(text, why, whylen)) == NULL)
		return -EINVAL;
	const struct conf_target *ct =
	    list_first_entry(&c->targets, struct conf_target, node);

	pthread_rwlock_rdlock(&target_registry.lock);
	bool name_used = target_lookup_name(ct->name) != NULL;
	bool tid_used = *tid != 0 && target_tid_used(*tid);
	pthread_rwlock_unlock(&target_registry.lock);
	if (name_used || tid_used) {
		if (name_used)
			snprintf(why, whylen, "a target named %s exists",
			    ct->name);
		else
			snprintf(why, whylen, "tid %u is in use", *tid);
		conf_free(c);
		return -EEXIST;
	}
	err = target_create(ct, NULL, &t, why, whylen);
	conf_free(c);
	if (err != 0)
		return err;
	pthread_rwlock_wrlock(&target_registry.lock);
	t->tid = *tid ? *tid : 1;
	while (target_tid_used(t->tid))
		t->tid++;
	t->ct->tid = t->tid;
	target_list_insert(t);
	*tid = t->tid;
	pthread_rwlock_unlock(&target_registry.lock);
	log_notice("ietadm: target %u (%s) added", t->tid, t->ct->name);
	return 0;
}

int
target_admin_del(unsigned int tid, char *why, size_t whylen)
{
	struct target *t = target_admin_find(tid, why, whylen);
	int err = 0;

	if (t == NULL)
		return -ENOENT;
	pthread_rwlock_wrlock(&target_registry.lock);
	if (t->sessions > 0) {
		snprintf(why, whylen,
		    "target %s has %u session(s); log them "
		    "out first",
		    t->ct->name, t->sessions);
		err = -EBUSY;
	} else {
		t->removing = true;
		target_unlist(t);
	}
	pthread_rwlock_unlock(&target_registry.lock);
	target_put(t);
	return err;
}

int
target_admin_set(unsigned int tid, unsigned int n, const char *const *keys,
    const char *const *values, char *why, size_t whylen)
{
	struct target *t = target_admin_find(tid, why, whylen);
	struct conf_target *ct;
	struct conf *c;
	char *text = NULL;
	size_t len = 0;
	FILE *f;
	int err = 0;

	if (t == NULL)
		return -ENOENT;
	for (unsigned int i = 0; i < n; i++) {
		if (strpbrk(keys[i], "\n\\#") || strpbrk(values[i], "\n\\#")) {
			snprintf(why, whylen,
			    "%s: value holds a line break, "
			    "backslash or #",
			    keys[i]);
			target_put(t);
			return -EINVAL;
		}
		if (conf_key_find(keys[i]) == CONF_KEY_COUNT &&
		    strcasecmp(keys[i], "Alias") != 0) {
			snprintf(why, whylen,
			    "%s cannot be changed with update", keys[i]);
			target_put(t);
			return -EINVAL;
		}
	}
	if ((ct = target_admin_edit(t, why, whylen)) == NULL) {
		target_put(t);
		return -ENOMEM;
	}
	/*
	 * One text with every new value and the target's other explicit
	 * keys, parsed once: checks between keys (FirstBurstLength <=
	 * MaxBurstLength) see them all, and the values are applied together
	 * or not at all.
	 */
	f = open_memstream(&text, &len);
	if (f == NULL) {
		snprintf(why, whylen, "out of memory");
		err = -ENOMEM;
		goto out;
	}
	fprintf(f, "Target %s\n", ct->name);
	for (unsigned int k = 0; k < CONF_KEY_COUNT; k++) {
		bool given = false;

		for (unsigned int i = 0; i < n; i++)
			given |=
			    strcasecmp(conf_key_defs[k].name, keys[i]) == 0;
		if (ct->param_set[k] && !given) {
			char buf[64];

			fprintf(f, "%s %s\n", conf_key_defs[k].name,
			    conf_key_format(k, ct->params[k], buf,
				sizeof(buf)));
		}
	}
	for (unsigned int i = 0; i < n; i++)
		fprintf(f, "%s %s\n", keys[i], values[i]);
	if (fclose(f) != 0 || text == NULL) {
		snprintf(why, whylen, "out of memory");
		err = -ENOMEM;
		goto out;
	}
	if ((c = target_admin_parse(text, why, whylen)) == NULL) {
		err = -EINVAL;
		goto out;
	}
	const struct conf_target *parsed =
	    list_first_entry(&c->targets, struct conf_target, node);
	for (unsigned int i = 0; i < n && err == 0; i++) {
		enum conf_key k = conf_key_find(keys[i]);

		if (k != CONF_KEY_COUNT) {
			ct->params[k] = parsed->params[k];
			ct->param_set[k] = true;
		} else if (parsed->alias != NULL) {
			char *alias = mem_strdup(parsed->alias);
			if (alias == NULL) {
				snprintf(why, whylen, "out of memory");
				err = -ENOMEM;
			} else {
				mem_free(ct->alias);
				ct->alias = alias;
			}
		} else {
			snprintf(why, whylen,
			    "%s cannot be changed with update", keys[i]);
			err = -EINVAL;
		}
	}
	conf_free(c);
	if (err == 0) {
		err = target_admin_commit(t, ct, why, whylen);
		ct = NULL;
		for (unsigned int i = 0; i < n && err == 0; i++)
			log_notice("ietadm: target %u: %s set to %s", tid,
			    keys[i], values[i]);
	}
out:
	free(text);
	conf_target_free(ct);
	target_put(t);
	return err;
}

int
target_admin_lun_add(unsigned int tid, unsigned int lun, const char *params,
    char *why, size_t whylen)
{
	struct target *t = target_admin_find(tid, why, whylen);
	struct conf_target *ct = NULL;
	struct conf *c = NULL;
	char text[4096];
	struct list_node *pos;
	int err = 0;

	if (t == NULL)
		return -ENOENT;
	if (strpbrk(params, "\n\\#") || strlen(params) > 3000) {
		snprintf(why, whylen, "bad LUN parameter list");
		err = -EINVAL;
		goto out;
	}
	struct scsi_lu *existing = target_lu_find(t, lun);
	if (existing != NULL) {
		scsi_lu_put(existing);
		log_notice("lun %u:%u already configured", tid, lun);
		snprintf(why, whylen, "target %u already has lun %u", tid, lun);
		err = -EEXIST;
		goto out;
	}
	snprintf(text, sizeof(text), "Target %s\nLun %u %s\n", target_name(t),
	    lun, params);
	if ((c = target_admin_parse(text, why, whylen)) == NULL) {
		err = -EINVAL;
		goto out;
	}
	if ((ct = target_admin_edit(t, why, whylen)) == NULL) {
		err = -ENOMEM;
		goto out;
	}
	struct conf_target *parsed =
	    list_first_entry(&c->targets, struct conf_target, node);
	struct conf_lun *cl =
	    list_first_entry(&parsed->luns, struct conf_lun, node);
	list_remove(&cl->node);
	/* Keep ct->luns sorted by number, as the parser leaves it. */
	list_for_each(pos, &ct->luns)
		if (list_entry(pos, struct conf_lun, node)->lun > lun)
			break;
	list_insert_between(&cl->node, pos->prev, pos);
	/* A store that cannot be opened leaves the target as it was. */
	err = target_admin_commit(t, ct, why, whylen);
	ct = NULL;
out:
	conf_free(c);
	conf_target_free(ct);
	target_put(t);
	return err;
}

int
target_admin_lun_del(unsigned int tid, unsigned int lun, char *why,
    size_t whylen)
{
	struct target *t = target_admin_find(tid, why, whylen);
	struct conf_target *ct;
	struct list_node *pos;
	bool found = false;
	int err;

	if (t == NULL)
		return -ENOENT;
	if ((ct = target_admin_edit(t, why, whylen)) == NULL) {
		target_put(t);
		return -ENOMEM;
	}
	list_for_each(pos, &ct->luns) {
		struct conf_lun *cl = list_entry(pos, struct conf_lun, node);
		if (cl->lun == lun) {
			list_remove(&cl->node);
			mem_free(cl->path);
			mem_free(cl->scsi_id);
			mem_free(cl->scsi_sn);
			mem_free(cl);
			found = true;
			break;
		}
	}
	if (!found) {
		snprintf(why, whylen, "target %u has no lun %u", tid, lun);
		conf_target_free(ct);
		target_put(t);
		return -ENOENT;
	}
	err = target_admin_commit(t, ct, why, whylen);
	target_put(t);
	return err;
}

/* "Size=" values: bytes, or with a binary K, M, G or T suffix. */
static int
target_admin_bytes(const char *s, uint64_t *out)
{
	static const char units[] = "KMGT";
	char num[32];
	size_t len = strlen(s);
	unsigned int shift = 0;
	const char *u;
	uint64_t v;

	if (len == 0 || len >= sizeof(num))
		return -EINVAL;
	memcpy(num, s, len + 1);
	u = strchr(units, num[len - 1] & ~0x20);
	if (u != NULL && *u != '\0') {
		shift = 10u * (unsigned int)(u - units + 1);
		num[--len] = '\0';
	}
	if (str_to_u64(num, 1, UINT64_MAX >> shift, false, &v) != 0)
		return -EINVAL;
	*out = v << shift;
	return 0;
}

/* Sectors=N for a nullio LUN: checked by the ietd.conf parser itself. */
static int
target_admin_sectors(const struct target *t, unsigned int lun, unsigned int bs,
    const char *value, uint64_t *out, char *why, size_t whylen)
{
	char text[1024];
	struct conf *c;

	if (strpbrk(value, ",\n\\#") != NULL || strlen(value) > 64) {
		snprintf(why, whylen, "Sectors %s is not a block count", value);
		return -EINVAL;
	}
	snprintf(text, sizeof(text),
	    "Target %s\nLun %u Sectors=%s,Type=nullio,BlockSize=%u\n",
	    target_name(t), lun, value, bs);
	if ((c = target_admin_parse(text, why, whylen)) == NULL)
		return -EINVAL;
	const struct conf_target *ct =
	    list_first_entry(&c->targets, struct conf_target, node);
	*out = list_first_entry(&ct->luns, struct conf_lun, node)->sectors;
	conf_free(c);
	return 0;
}

int
target_admin_lun_resize(unsigned int tid, unsigned int lun, const char *params,
    uint64_t *blocks, unsigned int *block_size, char *why, size_t whylen)
{
	struct target *t = target_admin_find(tid, why, whylen);
	struct target_lun *tl;
	struct scsi_lu *lu = NULL;
	enum conf_lun_type type = CONF_LUN_FILEIO;
	char key[16];
	const char *value = NULL, *eq;
	uint64_t sectors = 0, bytes = 0;
	unsigned int bs;
	int err = 0;

	if (t == NULL)
		return -ENOENT;
	pthread_rwlock_rdlock(&target_registry.lock);
	tl = target_lun_lookup(t, lun);
	if (tl != NULL) {
		lu = tl->lu;
		scsi_lu_get(lu);
		type = tl->def->type;
	}
	pthread_rwlock_unlock(&target_registry.lock);
	if (lu == NULL) {
		snprintf(why, whylen, "target %u has no lun %u", tid, lun);
		err = -ENOENT;
		goto out;
	}
	bs = scsi_lu_block_size(lu);

	if (params == NULL || *params == '\0') {
		/* A rescan: READ CAPACITY's own re-read, done now. */
		scsi_lu_blocks(lu);
		goto done;
	}
	eq = strchr(params, '=');
	if (eq == NULL || (size_t)(eq - params) >= sizeof(key) ||
	    strchr(params, ',') != NULL) {
		snprintf(why, whylen,
		    "a LUN update takes one of Sectors=N (nullio) or "
		    "Size=BYTES (fileio)");
		err = -EINVAL;
		goto out;
	}
	memcpy(key, params, (size_t)(eq - params));
	key[eq - params] = '\0';
	value = eq + 1;
	if (strcasecmp(key, "Sectors") == 0) {
		if (type != CONF_LUN_NULLIO) {
			snprintf(why, whylen,
			    "lun %u of target %u is not nullio: Sectors= "
			    "resizes nullio LUNs only (use Size=BYTES, or grow "
			    "the store and run --op update without --params)",
			    lun, tid);
			err = -EINVAL;
			goto out;
		}
		err = target_admin_sectors(t, lun, bs, value, &sectors, why,
		    whylen);
		if (err != 0)
			goto out;
		bytes = sectors * bs;
	} else if (strcasecmp(key, "Size") == 0) {
		if (type == CONF_LUN_NULLIO) {
			snprintf(why, whylen,
			    "lun %u of target %u is nullio: resize it with "
			    "Sectors=N",
			    lun, tid);
			err = -EINVAL;
			goto out;
		}
		if (target_admin_bytes(value, &bytes) != 0) {
			snprintf(why, whylen,
			    "Size %s is not a byte count (a number, optionally "
			    "with K, M, G or T)",
			    value);
			err = -EINVAL;
			goto out;
		}
	} else {
		snprintf(why, whylen,
		    "unknown LUN parameter %s (Sectors=N for nullio, "
		    "Size=BYTES for fileio)",
		    key);
		err = -EINVAL;
		goto out;
	}
	err = scsi_lu_resize(lu, bytes, why, whylen);
	if (err != 0)
		goto out;
	if (type == CONF_LUN_NULLIO) {
		struct list_node *pos;

		/* The running configuration follows (show --dump, reload). */
		pthread_rwlock_wrlock(&target_registry.lock);
		list_for_each(pos, &t->ct->luns) {
			struct conf_lun *cl =
			    list_entry(pos, struct conf_lun, node);

			if (cl->lun == lun)
				cl->sectors = sectors;
		}
		pthread_rwlock_unlock(&target_registry.lock);
	}
done:
	*blocks = scsi_lu_capacity(lu);
	*block_size = bs;
	log_notice("ietadm: target %u lun %u: %llu blocks of %u bytes", tid,
	    lun, (unsigned long long)*blocks, bs);
out:
	scsi_lu_put(lu);
	target_put(t);
	return err;
}

int
target_lun_capacity(unsigned int tid, uint64_t lun, uint64_t *blocks,
    unsigned int *block_size)
{
	struct target *t = target_find_by_tid(tid);
	struct scsi_lu *lu;

	if (t == NULL)
		return -ENOENT;
	lu = target_lu_find(t, lun);
	target_put(t);
	if (lu == NULL)
		return -ENOENT;
	*blocks = scsi_lu_capacity(lu);
	*block_size = scsi_lu_block_size(lu);
	scsi_lu_put(lu);
	return 0;
}

/* The account list to change: a target's, or discovery's (t NULL). */
static int
target_admin_account_apply(struct target *t, bool outgoing, bool add,
    const char *user, const char *secret, char *why, size_t whylen)
{
	struct conf_account *acc = NULL;
	struct conf_target *ct = NULL;
	struct list_node *head;
	struct conf_account **out;
	int err = 0;

	if (add) {
		struct conf_account tmp = {.user = (char *)(uintptr_t)user,
		    .secret = (char *)(uintptr_t)secret};
		if ((acc = target_account_dup(&tmp)) == NULL) {
			snprintf(why, whylen, "out of memory");
			return -ENOMEM;
		}
	}
	if (t != NULL) {
		if ((ct = target_admin_edit(t, why, whylen)) == NULL) {
			target_account_free(acc);
			return -ENOMEM;
		}
		head = &ct->incoming;
		out = &ct->outgoing;
	} else {
		pthread_rwlock_wrlock(&target_registry.lock);
		head = &target_registry.disc_incoming;
		out = &target_registry.disc_outgoing;
	}

	if (outgoing) {
		if (add) {
			target_account_free(*out);
			*out = acc;
			acc = NULL;
		} else if (*out && strcmp((*out)->user, user) == 0) {
			target_account_free(*out);
			*out = NULL;
		} else {
			snprintf(why, whylen, "no OutgoingUser %s", user);
			err = -ENOENT;
		}
	} else {
		struct list_node *pos;
		struct conf_account *found = NULL;
		list_for_each(pos, head) {
			struct conf_account *a =
			    list_entry(pos, struct conf_account, node);
			if (strcmp(a->user, user) == 0)
				found = a;
		}
		if (add && found) {
			snprintf(why, whylen, "IncomingUser %s exists", user);
			err = -EEXIST;
		} else if (add) {
			list_add_tail(head, &acc->node);
			acc = NULL;
		} else if (found) {
			list_remove(&found->node);
			target_account_free(found);
		} else {
			snprintf(why, whylen, "no IncomingUser %s", user);
			err = -ENOENT;
		}
	}

	if (t == NULL)
		pthread_rwlock_unlock(&target_registry.lock);
	else if (err == 0)
		err = target_admin_commit(t, ct, why, whylen);
	else
		conf_target_free(ct);
	target_account_free(acc);
	return err;
}

int
target_admin_account_add(unsigned int tid, bool outgoing, const char *user,
    const char *secret, char *why, size_t whylen)
{
	char text[1024];
	struct conf *c;
	struct target *t = NULL;
	int err;

	if (tid != 0 && (t = target_admin_find(tid, why, whylen)) == NULL)
		return -ENOENT;
	if (strpbrk(user, "\n\\# \t") || strpbrk(secret, "\n\\# \t")) {
		snprintf(why, whylen,
		    "user names and secrets may not hold "
		    "blanks, line breaks, backslashes or #");
		target_put(t);
		return -EINVAL;
	}
	/* The parser checks names and secrets as it does in ietd.conf. */
	snprintf(text, sizeof(text), "%s %s %s\n",
	    outgoing ? "OutgoingUser" : "IncomingUser", user, secret);
	if ((c = target_admin_parse(text, why, whylen)) == NULL) {
		target_put(t);
		return -EINVAL;
	}
	conf_free(c);
	err = target_admin_account_apply(t, outgoing, true, user, secret, why,
	    whylen);
	if (err == 0)
		log_notice("ietadm: %s account %s added to %s",
		    outgoing ? "outgoing" : "incoming", user,
		    t ? target_name(t) : "discovery");
	target_put(t);
	return err;
}

int
target_admin_account_del(unsigned int tid, bool outgoing, const char *user,
    char *why, size_t whylen)
{
	struct target *t = NULL;
	int err;

	if (tid != 0 && (t = target_admin_find(tid, why, whylen)) == NULL)
		return -ENOENT;
	err = target_admin_account_apply(t, outgoing, false, user, NULL, why,
	    whylen);
	if (err == 0)
		log_notice("ietadm: %s account %s removed from %s",
		    outgoing ? "outgoing" : "incoming", user,
		    t ? target_name(t) : "discovery");
	target_put(t);
	return err;
}

struct conf *
target_snapshot(void)
{
	struct conf *c = mem_zalloc(sizeof(*c));
	struct list_node *pos;
	bool ok = true;

	if (c == NULL)
		return NULL;
	list_init(&c->incoming);
	list_init(&c->targets);
	pthread_rwlock_rdlock(&target_registry.lock);
	ok = target_accounts_copy(&c->incoming, &target_registry.disc_incoming);
	if (ok && target_registry.disc_outgoing)
		ok = (c->outgoing = target_account_dup(
			  target_registry.disc_outgoing)) != NULL;
	list_for_each(pos, &target_registry.targets) {
		const struct target *t = list_entry(pos, struct target, node);
		struct conf_target *ct;
		if (!ok || t->removing)
			continue;
		if ((ct = conf_target_dup(t->ct)) == NULL) {
			ok = false;
			break;
		}
		ct->tid = t->tid;
		list_add_tail(&c->targets, &ct->node);
	}
	pthread_rwlock_unlock(&target_registry.lock);
	if (!ok) {
		conf_free(c);
		return NULL;
	}
	return c;
}
