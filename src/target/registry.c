/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The ietd authors */
/*
 * The registry of live targets: the targets, their LUN tables and CHAP
 * accounts, lookups, reference counts and session counts, and the reads
 * the transport and ietadm make of them. One rwlock guards the list, each
 * target's configuration and LUN table; targets and LUs are reference
 * counted, so a session keeps using what it holds while a reload swaps
 * the registry's view. apply.c and admin.c make the changes.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "util/alloc.h"
#include "util/epoch.h"
#include "util/log.h"
#include "util/str.h"
#include "target_int.h"

struct target_registry target_registry = {
    .lock = PTHREAD_RWLOCK_INITIALIZER,
    .targets = LIST_HEAD_INIT(target_registry.targets),
    .disc_incoming = LIST_HEAD_INIT(target_registry.disc_incoming),
    /* .allow all NULL: IET's search, /etc/iet/ then /etc/. */
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

void
target_account_free(struct conf_account *a)
{
	if (a == NULL)
		return;
	mem_free(a->user);
	mem_free(a->secret);
	mem_free(a);
}

void
target_accounts_clear(struct list_node *head)
{
	while (!list_empty(head)) {
		struct conf_account *a =
		    list_first_entry(head, struct conf_account, node);
		list_remove(&a->node);
		target_account_free(a);
	}
}

struct conf_account *
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

bool
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

struct lun_inventory *
target_inventory_new(const struct target_lun *tab, unsigned int n)
{
	size_t nums = (n ? n : 1) * sizeof(uint64_t);
	struct lun_inventory *inv =
	    mem_zalloc(sizeof(*inv) + nums + (n ? n : 1) * sizeof(void *));

	if (inv == NULL)
		return NULL;
	inv->n = n;
	inv->lus = (struct scsi_lu **)((uint8_t *)inv->luns + nums);
	for (unsigned int i = 0; i < n; i++) {
		inv->luns[i] = tab[i].lun;
		inv->lus[i] = tab[i].lu;
		scsi_lu_get(tab[i].lu);
	}
	return inv;
}

void
target_inventory_free(void *p)
{
	struct lun_inventory *inv = p;

	if (inv == NULL)
		return;
	for (unsigned int i = 0; i < inv->n; i++)
		scsi_lu_put(inv->lus[i]);
	mem_free(inv);
}

void
target_inventory_retire(struct lun_inventory *inv)
{
	epoch_retire(inv, target_inventory_free);
}

void
target_free(struct target *t)
{
	for (unsigned int i = 0; i < t->nluns; i++)
		scsi_lu_put(t->luns[i].lu);
	mem_free(t->luns);
	/* Sessions hold t: no command of theirs can be reading it now. */
	target_inventory_free(atomic_load(&t->inv));
	conf_target_free(t->ct);
	scsi_tpg_set_put(t->alua);
	mem_free(t->name);
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
struct target *
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
	return t->name;
}

bool
target_alias_copy(const struct target *t, char *buf, size_t len)
{
	bool have;

	pthread_rwlock_rdlock(&target_registry.lock);
	have = t->ct->alias != NULL;
	if (have)
		snprintf(buf, len, "%s", t->ct->alias);
	pthread_rwlock_unlock(&target_registry.lock);
	return have;
}

uint32_t
target_param_max(enum conf_key k)
{
	uint32_t v = 0;
	struct list_node *pos;

	pthread_rwlock_rdlock(&target_registry.lock);
	list_for_each(pos, &target_registry.targets) {
		const struct target *t = list_entry(pos, struct target, node);

		if (!t->removing && t->ct->params[k] > v)
			v = t->ct->params[k];
	}
	pthread_rwlock_unlock(&target_registry.lock);
	return v != 0 ? v : conf_key_defs[k].def;
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
	/* Written under the lock by the main thread, read by logins. */
	return __atomic_load_n(&t->removing, __ATOMIC_RELAXED);
}

/* ---- sessions ---------------------------------------------------------- */

/* Caller holds the write lock. Drops the registry's reference. */
void
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
struct target_lun *
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

/* The LU serving lun in inv (binary search), or NULL. */
static struct scsi_lu *
target_inventory_lu(const struct lun_inventory *inv, uint64_t lun)
{
	unsigned int lo = 0, hi = inv != NULL ? inv->n : 0;

	while (lo < hi) {
		unsigned int mid = lo + (hi - lo) / 2;

		if (inv->luns[mid] == lun)
			return inv->lus[mid];
		if (inv->luns[mid] < lun)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/*
 * Commands find their LU without a lock and without writing anything
 * shared (an epoch section; the inventory is immutable): with hundreds
 * of sessions on several threads, the registry's lock was the one cache
 * line every command wrote.
 */
struct scsi_lu *
target_lu_find(struct target *t, uint64_t lun)
{
	struct scsi_lu *lu;

	epoch_enter();
	lu = target_inventory_lu(atomic_load_explicit(&t->inv,
				     memory_order_acquire),
	    lun);
	if (lu != NULL)
		scsi_lu_get(lu);
	epoch_exit();
	return lu;
}

void
target_task_exec(struct target *t, struct scsi_task *task)
{
	const struct lun_inventory *inv;

	epoch_enter();
	inv = atomic_load_explicit(&t->inv, memory_order_acquire);
	/*
	 * The inventory holds the LU while the call lasts; a command that
	 * outlives it takes its own reference (scsi.h).
	 */
	scsi_task_exec(target_inventory_lu(inv, task->lun), task,
	    inv != NULL ? inv->luns : NULL, inv != NULL ? inv->n : 0);
	epoch_exit();
}

bool
target_tid_used(unsigned int tid)
{
	struct list_node *n;

	list_for_each(n, &target_registry.targets)
		if (list_entry(n, struct target, node)->tid == tid)
			return true;
	return false;
}

/* Insert t keeping the list sorted by tid; lock held. */
void
target_list_insert(struct target *t)
{
	struct list_node *pos;

	list_for_each(pos, &target_registry.targets)
		if (list_entry(pos, struct target, node)->tid > t->tid)
			break;
	list_insert_between(&t->node, pos->prev, pos);
	t->listed = true;
}

void
target_registry_clear(void)
{
	pthread_rwlock_wrlock(&target_registry.lock);
	while (!list_empty(&target_registry.targets)) {
		struct target *t = list_first_entry(&target_registry.targets,
		    struct target, node);
		__atomic_store_n(&t->removing, true, __ATOMIC_RELAXED);
		target_unlist(t);
	}
	target_accounts_clear(&target_registry.disc_incoming);
	target_account_free(target_registry.disc_outgoing);
	target_registry.disc_outgoing = NULL;
	mem_free(target_registry.isns_server);
	target_registry.isns_server = NULL;
	target_registry.isns_access_control = false;
	target_registry.started = false;
	pthread_rwlock_unlock(&target_registry.lock);
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
	list_init(&c->portal_groups);
	pthread_rwlock_rdlock(&target_registry.lock);
	ok = target_accounts_copy(&c->incoming, &target_registry.disc_incoming);
	if (ok && target_registry.disc_outgoing)
		ok = (c->outgoing = target_account_dup(
			  target_registry.disc_outgoing)) != NULL;
	if (ok && target_registry.isns_server != NULL)
		ok = (c->isns_server =
			     mem_strdup(target_registry.isns_server)) != NULL;
	c->isns_access_control = target_registry.isns_access_control;
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
	if (ok && target_alua_snapshot(c) != 0)
		ok = false;
	if (!ok) {
		conf_free(c);
		return NULL;
	}
	return c;
}
