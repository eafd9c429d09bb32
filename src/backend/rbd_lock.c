/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The ietd authors */
/*
 * Several gateways, one RBD image: who may write is who holds the image's
 * exclusive lock (librbd's managed lock on the header object). Each
 * followed LU has one thread here that looks once a second (or at once
 * when asked) and tells the SCSI layer (backend_lock_cb) what it found:
 *
 * - This gateway holds the lock: MINE. Taking it with rbd_lock_acquire()
 *   also switches librbd to its manual policy, so another client asking
 *   for the lock is refused (-EROFS) instead of being handed it: a
 *   standby gateway never takes the lock by writing.
 * - Another client holds it: OTHER, with the portal groups that client
 *   published in the omap of the RADOS object "ietd_gw.IMAGE" next to the
 *   image (key "holder", value "ADDRESS TAG[,TAG...]", ADDRESS being the
 *   lock owner string librbd reports). A holder whose address matches no
 *   record yet is UNKNOWN (it is publishing).
 * - Nobody: NONE; this gateway then takes it unless it gave it up itself.
 *
 * Takeover always fences first: rbd_lock_break() blocklists the holder's
 * RADOS client (librbd's rbd_blocklist_on_break_lock, true by default)
 * and waits for the OSD map that says so before the lock is free, so an
 * old holder that wakes up (SIGSTOP, a stalled host) has every request
 * refused by the OSDs (-EBLOCKLISTED) and cannot land a stale write; only
 * then does rbd_lock_acquire() take it. Takeover happens when asked (SET
 * TARGET PORT GROUPS for our group, ietadm) at once, the holder alive or
 * not, and by itself when the holder is dead: its watch on the header
 * object is gone, which the OSD decides after osd_client_watch_timeout
 * (30 s by default) without a ping from it.
 *
 * A gateway that finds itself fenced (its client blocklisted, or the lock
 * gone from under it) says FENCED, then rejoins by itself: it drops the
 * image handle of the fenced client (rbd_lu_drop: every request of that
 * handle already fails as blocklisted, and none is submitted after the
 * drop), connects a fresh RADOS client (a new instance, not on the
 * blocklist), reopens the image and follows the lock again as a standby
 * that never took it (at once when it finds itself fenced, then a look
 * every second). It says FENCED until then; a reconnect that fails is
 * tried again after 1, 2, 4 ... up to RBD_LOCK_REJOIN_MAX_S seconds.
 *
 * The calls here block (bounded by rados_osd_op_timeout); they run on
 * this file's threads only, never on an event thread.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/alloc.h"
#include "util/log.h"
#include "backend/backend.h"
#include "backend/rbd_int.h"

#define RBD_LOCK_POLL_MS 1000
#define RBD_LOCK_OWNERS_MAX 4
#define RBD_LOCK_WATCHERS_MAX 64
#define RBD_LOCK_OID_MAX 512
#define RBD_LOCK_KEY "holder"
#define RBD_LOCK_REJOIN_MAX_S 30 /* longest wait between reconnects */

#ifndef EBLOCKLISTED
#define EBLOCKLISTED ESHUTDOWN /* librados' value for a blocklisted client */
#endif

struct rbd_lock {
	struct list_node node; /* on rbd_locks */
	struct backend *be;
	struct rbd_lu *lu;
	pthread_t thread;
	pthread_mutex_t mu; /* what follows up to the thread's own state */
	pthread_cond_t cv;
	bool stop, take, give;
	uint16_t tags[BACKEND_LOCK_TAGS_MAX];
	unsigned int ntags;
	backend_lock_cb cb;
	void *arg;
	/* The thread's own. */
	struct backend_lock_view told;
	bool told_once;
	bool mine;          /* held at the last look */
	bool passive;       /* gave it up: do not take a free lock by itself */
	bool fenced;        /* blocklisted: rejoining */
	bool dropped;       /* the fenced client's image is closed */
	bool rejoin_logged; /* a failed reconnect was logged */
	unsigned int backoff_s;
	struct timespec fenced_at, next_try;
	char me[128]; /* our lock owner string, once known */
	char oid[RBD_LOCK_OID_MAX];
};

static pthread_mutex_t rbd_locks_mu = PTHREAD_MUTEX_INITIALIZER;
static struct list_node rbd_locks = LIST_HEAD_INIT(rbd_locks);

static bool
rbd_lock_fenced_err(int r)
{
	return r == -EBLOCKLISTED || r == -ESHUTDOWN;
}

static const char *
rbd_lock_name(const struct rbd_lock *l)
{
	return l->lu->name;
}

/* Tell the SCSI layer, unless nothing changed or a request is pending. */
static void
rbd_lock_tell(struct rbd_lock *l, enum backend_lock_state st,
    const uint16_t *tags, unsigned int ntags)
{
	struct backend_lock_view v = {.state = st};
	bool pending;

	v.ntags = ntags < BACKEND_LOCK_TAGS_MAX ? ntags : BACKEND_LOCK_TAGS_MAX;
	if (tags != NULL)
		memcpy(v.tags, tags, v.ntags * sizeof(*tags));
	pthread_mutex_lock(&l->mu);
	/*
	 * A take or give asked while this look ran: what it found is old
	 * news (the SCSI layer already shows our groups transitioning).
	 */
	pending = l->take || l->give || l->stop;
	pthread_mutex_unlock(&l->mu);
	if (pending)
		return;
	if (l->told_once && memcmp(&v, &l->told, sizeof(v)) == 0)
		return;
	l->told = v;
	l->told_once = true;
	l->cb(l->arg, &v);
}

static void
rbd_lock_fence_self(struct rbd_lock *l, const char *why)
{
	if (!l->fenced) {
		log_error("rbd %s: this gateway is fenced (%s): its portal "
			  "groups are unavailable until it rejoins with a "
			  "fresh RADOS client",
		    rbd_lock_name(l), why);
		clock_gettime(CLOCK_MONOTONIC, &l->fenced_at);
		l->next_try = l->fenced_at;
		l->backoff_s = 1;
		l->dropped = false;
		l->rejoin_logged = false;
	}
	l->fenced = true;
	l->mine = false;
	rbd_lock_tell(l, BACKEND_LOCK_FENCED, NULL, 0);
}

/*
 * The current owner into owner (empty: none). 0, or -errno (a fenced
 * client gets -EBLOCKLISTED).
 */
static int
rbd_lock_owner(struct rbd_lock *l, char *owner, size_t len)
{
	char *owners[RBD_LOCK_OWNERS_MAX];
	size_t n = RBD_LOCK_OWNERS_MAX;
	rbd_lock_mode_t mode;
	int r;

	owner[0] = '\0';
	r = rbd_lock_get_owners(l->lu->image, &mode, owners, &n);
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return r;
	if (n > 0)
		snprintf(owner, len, "%s", owners[0]);
	rbd_lock_get_owners_cleanup(owners, n);
	return 0;
}

/* Is addr watching the image header (alive, as the OSD sees it)? */
static int
rbd_lock_alive(struct rbd_lock *l, const char *addr, bool *alive)
{
	rbd_image_watcher_t w[RBD_LOCK_WATCHERS_MAX];
	size_t n = RBD_LOCK_WATCHERS_MAX;
	int r;

	*alive = false;
	r = rbd_watchers_list(l->lu->image, w, &n);
	if (r < 0) {
		/* More watchers than we list: call it alive. */
		*alive = r == -ERANGE;
		return r == -ERANGE ? 0 : r;
	}
	for (size_t i = 0; i < n; i++)
		if (w[i].addr != NULL && strcmp(w[i].addr, addr) == 0)
			*alive = true;
	rbd_watchers_list_cleanup(w, n);
	return 0;
}

/* Write "ADDRESS TAG,TAG" as the holder's record. */
static int
rbd_lock_publish(struct rbd_lock *l)
{
	char val[256], tags[128];
	const char *keys[1] = {RBD_LOCK_KEY};
	const char *vals[1] = {val};
	size_t lens[1];
	rados_write_op_t op;
	size_t off = 0;
	unsigned int nt;
	int r;

	r = rbd_lock_owner(l, l->me, sizeof(l->me));
	if (r < 0)
		return r;
	pthread_mutex_lock(&l->mu);
	nt = l->ntags;
	tags[0] = '\0';
	for (unsigned int i = 0; i < nt && off < sizeof(tags); i++)
		off += (size_t)snprintf(tags + off, sizeof(tags) - off, "%s%u",
		    i ? "," : "", l->tags[i]);
	pthread_mutex_unlock(&l->mu);
	snprintf(val, sizeof(val), "%s %s", l->me, tags);
	lens[0] = strlen(val);
	op = rados_create_write_op();
	if (op == NULL)
		return -ENOMEM;
	rados_write_op_create(op, LIBRADOS_CREATE_IDEMPOTENT, NULL);
	rados_write_op_omap_set(op, keys, vals, lens, 1);
	r = rados_write_op_operate(op, l->lu->ioctx, l->oid, NULL, 0);
	rados_release_write_op(op);
	return r;
}

/*
 * The groups of owner as published: 0 and *ntags (0: no record for that
 * owner yet), or -errno.
 */
static int
rbd_lock_holder_tags(struct rbd_lock *l, const char *owner, uint16_t *tags,
    unsigned int *ntags)
{
	const char *keys[1] = {RBD_LOCK_KEY};
	rados_omap_iter_t it = NULL;
	rados_read_op_t op;
	char *k = NULL, *v = NULL, rec[256], *p;
	size_t vl = 0, ol = strlen(owner);
	int prval = 0, r;

	*ntags = 0;
	op = rados_create_read_op();
	if (op == NULL)
		return -ENOMEM;
	rados_read_op_omap_get_vals_by_keys(op, keys, 1, &it, &prval);
	r = rados_read_op_operate(op, l->lu->ioctx, l->oid, 0);
	if (r == 0 && prval == 0 && it != NULL &&
	    rados_omap_get_next(it, &k, &v, &vl) == 0 && k != NULL &&
	    v != NULL) {
		if (vl >= sizeof(rec))
			vl = sizeof(rec) - 1;
		memcpy(rec, v, vl);
		rec[vl] = '\0';
	} else {
		rec[0] = '\0';
	}
	if (it != NULL)
		rados_omap_get_end(it);
	rados_release_read_op(op);
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return r;
	/* "ADDRESS TAG,TAG": only a record of this very owner counts. */
	if (strncmp(rec, owner, ol) != 0 || rec[ol] != ' ')
		return 0;
	p = rec + ol + 1;
	while (*p != '\0' && *ntags < BACKEND_LOCK_TAGS_MAX) {
		char *end;
		unsigned long t = strtoul(p, &end, 10);

		if (end == p || t == 0 || t > 65535)
			break;
		tags[(*ntags)++] = (uint16_t)t;
		p = *end == ',' ? end + 1 : end;
		if (*end != ',')
			break;
	}
	return 0;
}

/* Ours now: publish and say so. */
static void
rbd_lock_got(struct rbd_lock *l, const char *how)
{
	int r;

	l->mine = true;
	l->passive = false;
	/* Held through this client: what the SCSI layer admits may go. */
	__atomic_store_n(&l->lu->serving, true, __ATOMIC_RELEASE);
	r = rbd_lock_publish(l);
	if (rbd_lock_fenced_err(r)) {
		rbd_lock_fence_self(l, "blocklisted while publishing");
		return;
	}
	if (r < 0)
		log_warning("rbd %s: cannot publish this gateway's portal "
			    "groups in %s (%s); the others report us "
			    "transitioning",
		    rbd_lock_name(l), l->oid, strerror(-r));
	log_notice("rbd %s: this gateway holds the exclusive lock (%s)",
	    rbd_lock_name(l), how);
	rbd_lock_tell(l, BACKEND_LOCK_MINE, NULL, 0);
}

/* Fence owner (if any) and take the lock. */
static void
rbd_lock_takeover(struct rbd_lock *l, const char *owner, const char *why)
{
	int r;

	rbd_lock_tell(l, BACKEND_LOCK_UNKNOWN, NULL, 0);
	if (owner[0] != '\0') {
		char addr[128];

		log_warning("rbd %s: fencing the lock holder %s (%s): "
			    "blocklisting its client, then taking the lock",
		    rbd_lock_name(l), owner, why);
		/*
		 * Blocklist it ourselves first: rbd_lock_break() does so
		 * only while rbd_blocklist_on_break_lock is true, and a
		 * conf file may have turned that off. Without the fence
		 * nothing takes over (a stale write could land after).
		 */
		snprintf(addr, sizeof(addr), "%s", owner);
		r = rados_blocklist_add(l->lu->cluster->rados, addr, 0);
		if (r == 0)
			r = rados_wait_for_latest_osdmap(l->lu->cluster->rados);
		if (rbd_lock_fenced_err(r)) {
			rbd_lock_fence_self(l, "blocklisted");
			return;
		}
		if (r < 0) {
			log_error("rbd %s: cannot blocklist the lock holder "
				  "%s (%s); not taking over",
			    rbd_lock_name(l), owner, strerror(-r));
			rbd_lock_tell(l, BACKEND_LOCK_UNKNOWN, NULL, 0);
			return;
		}
		r = rbd_lock_break(l->lu->image, RBD_LOCK_MODE_EXCLUSIVE,
		    owner);
		if (rbd_lock_fenced_err(r)) {
			rbd_lock_fence_self(l, "blocklisted");
			return;
		}
		/* -ENOENT/-EBUSY: it went, or changed hands meanwhile. */
		if (r < 0 && r != -ENOENT && r != -EBUSY) {
			log_error("rbd %s: cannot break the lock of %s (%s)",
			    rbd_lock_name(l), owner, strerror(-r));
			return;
		}
	}
	r = rbd_lock_acquire(l->lu->image, RBD_LOCK_MODE_EXCLUSIVE);
	if (rbd_lock_fenced_err(r)) {
		rbd_lock_fence_self(l, "blocklisted");
		return;
	}
	if (r < 0) {
		log_warning("rbd %s: cannot take the exclusive lock (%s)",
		    rbd_lock_name(l), strerror(-r));
		return;
	}
	rbd_lock_got(l, why);
}

static double
rbd_lock_since(const struct timespec *t0)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - t0->tv_sec) +
	    (double)(now.tv_nsec - t0->tv_nsec) / 1e9;
}

/*
 * Fenced: drop the blocklisted client's image (once), then reconnect
 * when the back-off allows. True when the LU serves through a fresh
 * client again (a standby: it takes the lock only as at start).
 */
static bool
rbd_lock_rejoin(struct rbd_lock *l)
{
	char why[256];
	int r;

	if (!l->dropped) {
		rbd_lu_drop(l->lu);
		l->dropped = true;
		log_notice("rbd %s: closed the fenced client's image handle; "
			   "reconnecting with a fresh RADOS client",
		    rbd_lock_name(l));
	}
	if (rbd_lock_since(&l->next_try) < 0)
		return false;
	r = rbd_lu_reopen(l->lu, why, sizeof(why));
	if (r < 0) {
		if (!l->rejoin_logged)
			log_warning("rbd %s: cannot rejoin yet (%s); trying "
				    "again with a back-off of up to %d s",
			    rbd_lock_name(l), why, RBD_LOCK_REJOIN_MAX_S);
		l->rejoin_logged = true;
		clock_gettime(CLOCK_MONOTONIC, &l->next_try);
		l->next_try.tv_sec += l->backoff_s;
		l->backoff_s = l->backoff_s * 2 > RBD_LOCK_REJOIN_MAX_S
		    ? RBD_LOCK_REJOIN_MAX_S
		    : l->backoff_s * 2;
		return false;
	}
	log_notice("rbd %s: rejoined with a fresh RADOS client %.1f s after "
		   "the fencing; following the lock as a standby",
	    rbd_lock_name(l), rbd_lock_since(&l->fenced_at));
	l->fenced = false;
	l->dropped = false;
	l->mine = false;
	l->passive = false; /* as at start: a free lock is taken */
	l->me[0] = '\0';
	l->told_once = false;
	return true;
}

/* One look, and what it asks for. */
static void
rbd_lock_step(struct rbd_lock *l, bool take, bool give)
{
	char owner[128];
	uint16_t tags[BACKEND_LOCK_TAGS_MAX];
	unsigned int ntags;
	bool alive;
	int own = 0, r;

	if (l->fenced) {
		rbd_lock_tell(l, BACKEND_LOCK_FENCED, NULL, 0);
		if (!rbd_lock_rejoin(l))
			return;
		/* What was asked while fenced is not done now. */
		take = give = false;
	}
	r = rbd_is_exclusive_lock_owner(l->lu->image, &own);
	if (rbd_lock_fenced_err(r)) {
		rbd_lock_fence_self(l, "its RADOS client is blocklisted");
		return;
	}
	if (r < 0)
		return; /* not known now: say nothing new, look again */
	if (r == 0 && own && l->mine) {
		/*
		 * librbd learns of a lost lock only when its watch fails:
		 * ask the OSD too, so a holder that was stopped and woke up
		 * stops claiming the lock within one look.
		 */
		int r2 = rbd_lock_owner(l, owner, sizeof(owner));

		if (rbd_lock_fenced_err(r2)) {
			rbd_lock_fence_self(l,
			    "its RADOS client is "
			    "blocklisted");
			return;
		}
		if (r2 == 0 && l->me[0] != '\0' && strcmp(owner, l->me) != 0) {
			rbd_lock_fence_self(l, "another client holds the lock");
			return;
		}
		/* Not reachable now: say nothing new, look again. */
		if (r2 < 0)
			return;
	}
	if (r == 0 && !own && l->mine) {
		rbd_lock_fence_self(l,
		    "the lock was broken by another "
		    "gateway");
		return;
	}
	if (r == 0 && own) {
		l->mine = true;
		__atomic_store_n(&l->lu->serving, true, __ATOMIC_RELEASE);
		if (!give) {
			rbd_lock_tell(l, BACKEND_LOCK_MINE, NULL, 0);
			return;
		}
		r = rbd_lock_release(l->lu->image);
		if (rbd_lock_fenced_err(r)) {
			rbd_lock_fence_self(l, "blocklisted");
			return;
		}
		if (r < 0) {
			log_warning("rbd %s: cannot release the exclusive "
				    "lock (%s)",
			    rbd_lock_name(l), strerror(-r));
			return;
		}
		l->mine = false;
		l->passive = true;
		log_notice("rbd %s: this gateway released the exclusive lock",
		    rbd_lock_name(l));
	}
	r = rbd_lock_owner(l, owner, sizeof(owner));
	if (rbd_lock_fenced_err(r)) {
		rbd_lock_fence_self(l, "its RADOS client is blocklisted");
		return;
	}
	if (r < 0) {
		rbd_lock_tell(l, BACKEND_LOCK_UNKNOWN, NULL, 0);
		return;
	}
	if (owner[0] == '\0') {
		if (take || !l->passive) {
			rbd_lock_takeover(l, owner,
			    take ? "asked to" : "nobody held it");
			return;
		}
		rbd_lock_tell(l, BACKEND_LOCK_NONE, NULL, 0);
		return;
	}
	if (take) {
		rbd_lock_takeover(l, owner, "asked to take over");
		return;
	}
	r = rbd_lock_alive(l, owner, &alive);
	if (r == 0 && !alive) {
		rbd_lock_takeover(l, owner, "the holder's watch expired");
		return;
	}
	r = rbd_lock_holder_tags(l, owner, tags, &ntags);
	if (rbd_lock_fenced_err(r)) {
		rbd_lock_fence_self(l, "its RADOS client is blocklisted");
		return;
	}
	if (r < 0 || ntags == 0)
		rbd_lock_tell(l, BACKEND_LOCK_UNKNOWN, NULL, 0);
	else
		rbd_lock_tell(l, BACKEND_LOCK_OTHER, tags, ntags);
}

static void *
rbd_lock_main(void *arg)
{
	struct rbd_lock *l = arg;

	for (;;) {
		struct timespec until;
		bool take, give;

		clock_gettime(CLOCK_MONOTONIC, &until);
		until.tv_sec += RBD_LOCK_POLL_MS / 1000;
		pthread_mutex_lock(&l->mu);
		while (!l->stop && !l->take && !l->give)
			if (pthread_cond_timedwait(&l->cv, &l->mu, &until) ==
			    ETIMEDOUT)
				break;
		if (l->stop) {
			pthread_mutex_unlock(&l->mu);
			break;
		}
		take = l->take;
		give = l->give;
		l->take = l->give = false;
		pthread_mutex_unlock(&l->mu);
		/*
		 * The SCSI layer showed our groups transitioning when it
		 * asked: tell it the outcome even if it is what it last
		 * heard.
		 */
		if (take || give)
			l->told_once = false;
		rbd_lock_step(l, take, give);
		/* Just found fenced: rejoin now, not a look later. */
		if (l->fenced && !l->dropped)
			rbd_lock_step(l, false, false);
	}
	/*
	 * The LU is closing (its last command is done): let the lock go so
	 * another gateway takes it at once, without waiting for our watch
	 * to expire and without fencing us.
	 */
	if (l->mine && !l->fenced) {
		int r = rbd_lock_release(l->lu->image);

		if (r == 0)
			log_notice("rbd %s: exclusive lock released",
			    rbd_lock_name(l));
	}
	return NULL;
}

static struct rbd_lock *
rbd_lock_find(const struct backend *be)
{
	struct list_node *n;

	list_for_each(n, &rbd_locks) {
		struct rbd_lock *l = list_entry(n, struct rbd_lock, node);

		if (l->be == be)
			return l;
	}
	return NULL;
}

int
backend_lock_follow(struct backend *be, const uint16_t *tags,
    unsigned int ntags, backend_lock_cb cb, void *arg)
{
	struct rbd_lu *lu = backend_rbd(be);
	pthread_condattr_t ca;
	struct rbd_lock *l;
	int r;

	if (lu == NULL)
		return -EOPNOTSUPP;
	if (ntags > BACKEND_LOCK_TAGS_MAX)
		ntags = BACKEND_LOCK_TAGS_MAX;
	pthread_mutex_lock(&rbd_locks_mu);
	l = rbd_lock_find(be);
	if (l != NULL) {
		pthread_mutex_lock(&l->mu);
		memcpy(l->tags, tags, ntags * sizeof(*tags));
		l->ntags = ntags;
		pthread_mutex_unlock(&l->mu);
		pthread_mutex_unlock(&rbd_locks_mu);
		return 0;
	}
	l = mem_zalloc(sizeof(*l));
	if (l == NULL) {
		pthread_mutex_unlock(&rbd_locks_mu);
		return -ENOMEM;
	}
	l->be = be;
	l->lu = lu;
	l->cb = cb;
	l->arg = arg;
	memcpy(l->tags, tags, ntags * sizeof(*tags));
	l->ntags = ntags;
	snprintf(l->oid, sizeof(l->oid), "ietd_gw.%s", lu->name);
	pthread_mutex_init(&l->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&l->cv, &ca);
	pthread_condattr_destroy(&ca);
	r = pthread_create(&l->thread, NULL, rbd_lock_main, l);
	if (r != 0) {
		pthread_cond_destroy(&l->cv);
		pthread_mutex_destroy(&l->mu);
		mem_free(l);
		pthread_mutex_unlock(&rbd_locks_mu);
		return -r;
	}
	list_add_tail(&rbd_locks, &l->node);
	pthread_mutex_unlock(&rbd_locks_mu);
	log_notice("rbd %s: following its exclusive lock (holder record in "
		   "%s)",
	    lu->name, l->oid);
	return 0;
}

static void
rbd_lock_ask(struct backend *be, bool take)
{
	struct rbd_lock *l;

	pthread_mutex_lock(&rbd_locks_mu);
	l = rbd_lock_find(be);
	if (l != NULL) {
		pthread_mutex_lock(&l->mu);
		if (take) {
			l->take = true;
			l->give = false;
		} else {
			l->give = true;
			l->take = false;
		}
		pthread_cond_signal(&l->cv);
		pthread_mutex_unlock(&l->mu);
	}
	pthread_mutex_unlock(&rbd_locks_mu);
}

void
backend_lock_take(struct backend *be)
{
	rbd_lock_ask(be, true);
}

void
backend_lock_give(struct backend *be)
{
	rbd_lock_ask(be, false);
}

void
backend_lock_unfollow(struct backend *be)
{
	struct rbd_lock *l;

	pthread_mutex_lock(&rbd_locks_mu);
	l = rbd_lock_find(be);
	if (l != NULL)
		list_remove(&l->node);
	pthread_mutex_unlock(&rbd_locks_mu);
	if (l == NULL)
		return;
	pthread_mutex_lock(&l->mu);
	l->stop = true;
	pthread_cond_signal(&l->cv);
	pthread_mutex_unlock(&l->mu);
	pthread_join(l->thread, NULL);
	pthread_cond_destroy(&l->cv);
	pthread_mutex_destroy(&l->mu);
	mem_free(l);
}
