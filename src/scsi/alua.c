/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The ietd authors */
/*
 * Asymmetric logical unit access (SPC-4 5.16): the target port groups of
 * a target, their access states, REPORT and SET TARGET PORT GROUPS, and
 * the commands each state lets through.
 *
 * The target layer makes one set per target when the configuration uses
 * ALUA, and binds each I_T nexus to the group of the portal group it
 * logged in through (nexus->tpg, a reference). Without a set (a plain IET
 * file) nexus->tpg is NULL and nothing here changes what a command sees.
 * Every target port group holds exactly one target port per target (one
 * portal group), so the group id and the relative target port identifier
 * are both the portal group tag.
 *
 * Several gateways (ietd processes, each its own portal groups) may serve
 * one target whose LUs live in a shared store (Type=rbd). A group marked
 * SCSI_ALUA_F_AUTO then has no configured state: the gateway holding the
 * store's exclusive lock is active/optimized, every other one standby
 * (the backend's lock follower tells who holds it, lock_event() below).
 * Standby rather than active/non-optimized: a gateway without the lock
 * must not touch the image (it would take the lock from the holder, and
 * the fencing that keeps a stale holder's writes out would fence the
 * gateway serving I/O). Linux's scsi_dh_alua, activating a standby path,
 * sends SET TARGET PORT GROUPS for its group: that takes the lock here.
 */
#include <errno.h>
#include <string.h>

#include "scsi/scsi_int.h"
#include "scsi/scsi_proto.h"
#include "util/alloc.h"
#include "util/be.h"

#define ALUA_GROUPS_MAX 64
#define RTPG_DESC_LEN 12 /* one descriptor with its one target port */
#define RTPG_FMT_LENGTH 0x0
#define RTPG_FMT_EXTENDED 0x1
#define RTPG_SUP_STATES 0x0f /* U_SUP S_SUP AN_SUP AO_SUP */
#define RTPG_SUP_T 0x80      /* T_SUP: a group following a lock */
#define STPG_HDR_LEN 4
#define STPG_DESC_LEN 4

/* RTPG STATUS CODE (SPC-4 6.37). */
enum alua_status {
	ALUA_STATUS_NONE = 0,
	ALUA_STATUS_BY_STPG = 1,
	ALUA_STATUS_IMPLICIT = 2,
};

struct scsi_tpg {
	struct scsi_tpg_set *set; /* holds a reference on it */
	unsigned int refs;        /* atomic */
	uint16_t tag;
	uint8_t state;  /* atomic: read by every command */
	uint8_t status; /* set->lock */
	uint8_t flags;  /* set->lock: SCSI_ALUA_F_AUTO, SCSI_ALUA_F_REMOTE */
};

struct scsi_tpg_set {
	pthread_mutex_t lock; /* g, n and each group's status */
	unsigned int refs;    /* atomic: the owner's and one per group */
	unsigned int tid;
	unsigned int n;
	struct scsi_tpg *g[ALUA_GROUPS_MAX]; /* sorted by tag */
	struct list_node node;               /* on alua_sets while owned */
	struct backend_lock_view view;       /* set->lock: the LUs' lock */
};

/*
 * The sets their owners hold, so the lock follower's news (per LU, that
 * is per tid) finds the set of its target; and the lock that guards
 * every LU's lock_view.
 */
static pthread_mutex_t alua_sets_lock = PTHREAD_MUTEX_INITIALIZER;
static struct list_node alua_sets = LIST_HEAD_INIT(alua_sets);
static pthread_mutex_t alua_view_lock = PTHREAD_MUTEX_INITIALIZER;

static void
scsi_tpg_set_unref(struct scsi_tpg_set *s)
{
	if (__atomic_sub_fetch(&s->refs, 1, __ATOMIC_ACQ_REL) != 0)
		return;
	pthread_mutex_destroy(&s->lock);
	mem_free(s);
}

struct scsi_tpg_set *
scsi_tpg_set_new(unsigned int tid)
{
	struct scsi_tpg_set *s = mem_zalloc(sizeof(*s));

	if (s == NULL)
		return NULL;
	pthread_mutex_init(&s->lock, NULL);
	s->refs = 1;
	s->tid = tid;
	s->view.state = BACKEND_LOCK_UNKNOWN;
	pthread_mutex_lock(&alua_sets_lock);
	list_add_tail(&alua_sets, &s->node);
	pthread_mutex_unlock(&alua_sets_lock);
	return s;
}

/* The set of target tid with a reference, or NULL. */
static struct scsi_tpg_set *
scsi_tpg_set_of(unsigned int tid)
{
	struct scsi_tpg_set *found = NULL;
	struct list_node *n;

	pthread_mutex_lock(&alua_sets_lock);
	list_for_each(n, &alua_sets) {
		struct scsi_tpg_set *s =
		    list_entry(n, struct scsi_tpg_set, node);

		if (s->tid == tid) {
			found = s;
			__atomic_add_fetch(&s->refs, 1, __ATOMIC_RELAXED);
			break;
		}
	}
	pthread_mutex_unlock(&alua_sets_lock);
	return found;
}

void
scsi_tpg_get(struct scsi_tpg *g)
{
	__atomic_add_fetch(&g->refs, 1, __ATOMIC_RELAXED);
}

void
scsi_tpg_put(struct scsi_tpg *g)
{
	struct scsi_tpg_set *s;

	if (g == NULL || __atomic_sub_fetch(&g->refs, 1, __ATOMIC_ACQ_REL) != 0)
		return;
	s = g->set;
	mem_free(g);
	scsi_tpg_set_unref(s);
}

void
scsi_tpg_set_put(struct scsi_tpg_set *s)
{
	unsigned int n;
	struct scsi_tpg *g[ALUA_GROUPS_MAX];

	if (s == NULL)
		return;
	pthread_mutex_lock(&alua_sets_lock);
	list_remove(&s->node);
	pthread_mutex_unlock(&alua_sets_lock);
	pthread_mutex_lock(&s->lock);
	n = s->n;
	memcpy(g, s->g, n * sizeof(*g));
	s->n = 0;
	pthread_mutex_unlock(&s->lock);
	/*
	 * The target goes (no session is left) or its ALUA does (a reload
	 * dropped the last PortalGroup): sessions still bound keep their
	 * group, now no target's, and may go on as without ALUA.
	 */
	for (unsigned int i = 0; i < n; i++) {
		__atomic_store_n(&g[i]->state, SCSI_ALUA_OPTIMIZED,
		    __ATOMIC_RELEASE);
		scsi_tpg_put(g[i]);
	}
	scsi_tpg_set_unref(s);
}

/* Every I_T nexus of the target's LUs but (when except) one gets the UA. */
static void
scsi_alua_ua(unsigned int tid, uint64_t except_id, bool except)
{
	struct list_node *pos;

	/* SPC-4 5.16.2.5/5.16.2.6: ASYMMETRIC ACCESS STATE CHANGED. */
	scsi_lu_list_lock();
	list_for_each(pos, scsi_lu_list()) {
		struct scsi_lu *lu = list_entry(pos, struct scsi_lu, node);

		if (lu->tid != tid)
			continue;
		pthread_mutex_lock(&lu->lock);
		scsi_lu_ua_all(lu, except_id, except, ASC_ALUA_STATE_CHANGED);
		pthread_mutex_unlock(&lu->lock);
	}
	scsi_lu_list_unlock();
}

static struct scsi_tpg *
scsi_tpg_lookup(struct scsi_tpg_set *s, uint16_t tag)
{
	for (unsigned int i = 0; i < s->n; i++)
		if (s->g[i]->tag == tag)
			return s->g[i];
	return NULL;
}

/*
 * What a group following the lock shows, given who holds the lock;
 * nremote is how many groups of other gateways follow it.
 */
static uint8_t
scsi_alua_auto_state(const struct backend_lock_view *v,
    const struct scsi_tpg *g, unsigned int nremote)
{
	bool remote = (g->flags & SCSI_ALUA_F_REMOTE) != 0;

	switch (v->state) {
	case BACKEND_LOCK_MINE:
		return remote ? SCSI_ALUA_STANDBY : SCSI_ALUA_OPTIMIZED;
	case BACKEND_LOCK_OTHER:
		/* Never a group of ours: we do not hold the lock. */
		for (unsigned int i = 0; remote && i < v->ntags; i++)
			if (v->tags[i] == g->tag)
				return SCSI_ALUA_OPTIMIZED;
		return SCSI_ALUA_STANDBY;
	case BACKEND_LOCK_NONE:
		return SCSI_ALUA_STANDBY;
	case BACKEND_LOCK_FENCED:
		/*
		 * Our client is blocklisted: nothing here may be served,
		 * and RADOS no longer tells us who took over. Another
		 * gateway did: with one other gateway, that one. Linux
		 * takes the states of every group from any path's REPORT
		 * TARGET PORT GROUPS, so a wrong word here would stall the
		 * good path.
		 */
		if (!remote)
			return SCSI_ALUA_UNAVAILABLE;
		return nremote == 1 ? SCSI_ALUA_OPTIMIZED
				    : SCSI_ALUA_TRANSITIONING;
	default:
		return SCSI_ALUA_TRANSITIONING;
	}
}

/* How many groups of other gateways follow the lock; under s->lock. */
static unsigned int
scsi_alua_nremote(const struct scsi_tpg_set *s)
{
	unsigned int n = 0;

	for (unsigned int i = 0; i < s->n; i++)
		if ((s->g[i]->flags &
			(SCSI_ALUA_F_AUTO | SCSI_ALUA_F_REMOTE)) ==
		    (SCSI_ALUA_F_AUTO | SCSI_ALUA_F_REMOTE))
			n++;
	return n;
}

/* Bring the groups that follow the lock to s->view; under s->lock. */
static bool
scsi_alua_view_apply(struct scsi_tpg_set *s, uint8_t status)
{
	unsigned int nremote = scsi_alua_nremote(s);
	bool changed = false;

	for (unsigned int i = 0; i < s->n; i++) {
		struct scsi_tpg *g = s->g[i];
		uint8_t st;

		if (!(g->flags & SCSI_ALUA_F_AUTO))
			continue;
		st = scsi_alua_auto_state(&s->view, g, nremote);
		if (__atomic_load_n(&g->state, __ATOMIC_ACQUIRE) == st)
			continue;
		__atomic_store_n(&g->state, st, __ATOMIC_RELEASE);
		g->status = status;
		changed = true;
	}
	return changed;
}

static const char *
scsi_alua_view_name(enum backend_lock_state st)
{
	switch (st) {
	case BACKEND_LOCK_MINE:
		return "held by this gateway";
	case BACKEND_LOCK_OTHER:
		return "held by another gateway";
	case BACKEND_LOCK_NONE:
		return "held by nobody";
	case BACKEND_LOCK_FENCED:
		return "lost: this gateway was fenced (blocklisted)";
	default:
		return "changing hands";
	}
}

/*
 * The lock of target tid's followed LUs changed: one view for the target
 * (its groups are per target, the locks per LU). Held by us only when we
 * hold every LU's; fenced when any is; else as its lowest LUN says.
 */
static void
scsi_alua_relock(unsigned int tid)
{
	struct backend_lock_view agg = {.state = BACKEND_LOCK_UNKNOWN};
	uint64_t lowest = UINT64_MAX;
	bool any = false, all_mine = true, fenced = false, changed;
	struct scsi_tpg_set *s;
	struct list_node *pos;

	scsi_lu_list_lock();
	pthread_mutex_lock(&alua_view_lock);
	list_for_each(pos, scsi_lu_list()) {
		struct scsi_lu *lu = list_entry(pos, struct scsi_lu, node);

		if (lu->tid != tid || !lu->lock_followed)
			continue;
		any = true;
		fenced |= lu->lock_view.state == BACKEND_LOCK_FENCED;
		all_mine &= lu->lock_view.state == BACKEND_LOCK_MINE;
		if (lu->lun < lowest) {
			lowest = lu->lun;
			agg = lu->lock_view;
		}
	}
	pthread_mutex_unlock(&alua_view_lock);
	scsi_lu_list_unlock();
	if (!any)
		return;
	if (fenced)
		agg.state = BACKEND_LOCK_FENCED;
	else if (all_mine)
		agg.state = BACKEND_LOCK_MINE;
	else if (agg.state == BACKEND_LOCK_MINE)
		agg.state = BACKEND_LOCK_UNKNOWN;
	s = scsi_tpg_set_of(tid);
	if (s == NULL)
		return;
	pthread_mutex_lock(&s->lock);
	if (s->view.state != agg.state)
		log_notice("target %u: the exclusive lock is %s", tid,
		    scsi_alua_view_name(agg.state));
	s->view = agg;
	changed = scsi_alua_view_apply(s, ALUA_STATUS_IMPLICIT);
	pthread_mutex_unlock(&s->lock);
	if (changed)
		scsi_alua_ua(tid, 0, false);
	scsi_tpg_set_unref(s);
}

/* The backend's lock follower (its own thread): news for one LU. */
static void
scsi_alua_lock_event(void *arg, const struct backend_lock_view *v)
{
	struct scsi_lu *lu = arg;

	pthread_mutex_lock(&alua_view_lock);
	lu->lock_view = *v;
	pthread_mutex_unlock(&alua_view_lock);
	scsi_alua_relock(lu->tid);
}

/*
 * s has groups that follow the lock: have every LU of its target that
 * has one followed, our groups among them published as the holder's.
 */
static void
scsi_alua_follow(struct scsi_tpg_set *s)
{
	uint16_t tags[BACKEND_LOCK_TAGS_MAX];
	unsigned int n = 0, followed = 0;
	bool any = false;
	struct list_node *pos;

	pthread_mutex_lock(&s->lock);
	for (unsigned int i = 0; i < s->n; i++) {
		const struct scsi_tpg *g = s->g[i];

		if (!(g->flags & SCSI_ALUA_F_AUTO))
			continue;
		any = true;
		if (!(g->flags & SCSI_ALUA_F_REMOTE) &&
		    n < BACKEND_LOCK_TAGS_MAX)
			tags[n++] = g->tag;
	}
	pthread_mutex_unlock(&s->lock);
	if (!any)
		return;
	scsi_lu_list_lock();
	list_for_each(pos, scsi_lu_list()) {
		struct scsi_lu *lu = list_entry(pos, struct scsi_lu, node);
		int err;

		if (lu->tid != s->tid)
			continue;
		err = backend_lock_follow(lu->be, tags, n, scsi_alua_lock_event,
		    lu);
		if (err == -EOPNOTSUPP)
			continue;
		if (err != 0) {
			log_error("target %u LUN %llu: cannot follow its "
				  "exclusive lock (%s); its groups stay "
				  "transitioning",
			    s->tid, (unsigned long long)lu->lun,
			    strerror(-err));
			continue;
		}
		pthread_mutex_lock(&alua_view_lock);
		lu->lock_followed = true;
		pthread_mutex_unlock(&alua_view_lock);
		followed++;
	}
	scsi_lu_list_unlock();
	if (followed == 0)
		log_warning("target %u: PortalGroup auto, but no LU with an "
			    "exclusive lock (Type=rbd); its groups stay "
			    "transitioning",
		    s->tid);
}

/* Take (or give) the lock of every followed LU of target tid. */
static void
scsi_alua_lock_move(unsigned int tid, bool take)
{
	struct list_node *pos;

	scsi_lu_list_lock();
	list_for_each(pos, scsi_lu_list()) {
		struct scsi_lu *lu = list_entry(pos, struct scsi_lu, node);
		bool f;

		if (lu->tid != tid)
			continue;
		pthread_mutex_lock(&alua_view_lock);
		f = lu->lock_followed;
		pthread_mutex_unlock(&alua_view_lock);
		if (!f)
			continue;
		if (take)
			backend_lock_take(lu->be);
		else
			backend_lock_give(lu->be);
	}
	scsi_lu_list_unlock();
}

/*
 * A request to move our group g (following the lock) to st; under
 * s->lock. Taking shows our groups transitioning at once: Linux reads
 * the states right after its SET TARGET PORT GROUPS, and a standby it
 * saw then would fail the path instead of waiting. Returns whether to
 * take (1), give (-1) or nothing (0) once s->lock is dropped.
 */
static int
scsi_alua_lock_want(struct scsi_tpg_set *s, const struct scsi_tpg *g,
    uint8_t st, bool *changed)
{
	bool take = st == SCSI_ALUA_OPTIMIZED || st == SCSI_ALUA_NONOPTIMIZED;

	if (take) {
		/* Fenced: nothing to take with until it rejoins. */
		if (s->view.state == BACKEND_LOCK_MINE ||
		    s->view.state == BACKEND_LOCK_FENCED)
			return 0;
		s->view.state = BACKEND_LOCK_UNKNOWN;
		*changed |= scsi_alua_view_apply(s, ALUA_STATUS_BY_STPG);
		return 1;
	}
	(void)g;
	return s->view.state == BACKEND_LOCK_MINE ? -1 : 0;
}

int
scsi_tpg_set_lock_request(struct scsi_tpg_set *s, uint16_t tag, uint8_t state)
{
	struct scsi_tpg *g;
	bool changed = false;
	int move = 0;

	pthread_mutex_lock(&s->lock);
	g = scsi_tpg_lookup(s, tag);
	if (g == NULL) {
		pthread_mutex_unlock(&s->lock);
		return -ENOENT;
	}
	if (!(g->flags & SCSI_ALUA_F_AUTO) || (g->flags & SCSI_ALUA_F_REMOTE)) {
		pthread_mutex_unlock(&s->lock);
		return -EINVAL;
	}
	move = scsi_alua_lock_want(s, g, state, &changed);
	pthread_mutex_unlock(&s->lock);
	if (changed)
		scsi_alua_ua(s->tid, 0, false);
	if (move != 0)
		scsi_alua_lock_move(s->tid, move > 0);
	return 0;
}

int
scsi_tpg_set_update(struct scsi_tpg_set *s, const uint16_t *tags,
    const uint8_t *states, unsigned int n)
{
	struct scsi_tpg *keep[ALUA_GROUPS_MAX], *gone[ALUA_GROUPS_MAX];
	unsigned int ngone = 0;
	bool changed = false;

	if (n > ALUA_GROUPS_MAX)
		return -E2BIG;
	pthread_mutex_lock(&s->lock);
	for (unsigned int i = 0; i < n; i++) {
		struct scsi_tpg *g = scsi_tpg_lookup(s, tags[i]);

		if (g == NULL) {
			g = mem_zalloc(sizeof(*g));
			if (g == NULL) {
				while (i-- > 0)
					if (scsi_tpg_lookup(s, tags[i]) !=
					    keep[i])
						scsi_tpg_put(keep[i]);
				pthread_mutex_unlock(&s->lock);
				return -ENOMEM;
			}
			g->set = s;
			g->refs = 1; /* the set's */
			g->tag = tags[i];
			g->flags =
			    states[i] & (SCSI_ALUA_F_AUTO | SCSI_ALUA_F_REMOTE);
			g->state = g->flags & SCSI_ALUA_F_AUTO
			    ? scsi_alua_auto_state(&s->view, g, 0)
			    : states[i] & SCSI_ALUA_STATE_MASK;
			__atomic_add_fetch(&s->refs, 1, __ATOMIC_RELAXED);
		}
		keep[i] = g;
	}
	/* Nothing can fail now. */
	for (unsigned int i = 0; i < n; i++) {
		struct scsi_tpg *g = keep[i];
		uint8_t st = states[i] & SCSI_ALUA_STATE_MASK;

		g->flags = states[i] & (SCSI_ALUA_F_AUTO | SCSI_ALUA_F_REMOTE);
		if (g->flags & SCSI_ALUA_F_AUTO)
			continue; /* below, from the lock */
		if (__atomic_load_n(&g->state, __ATOMIC_ACQUIRE) != st) {
			__atomic_store_n(&g->state, st, __ATOMIC_RELEASE);
			g->status = ALUA_STATUS_IMPLICIT;
			changed = true;
		}
	}
	for (unsigned int j = 0; j < s->n; j++) {
		bool kept = false;

		for (unsigned int i = 0; i < n; i++)
			kept |= keep[i] == s->g[j];
		if (!kept)
			gone[ngone++] = s->g[j];
	}
	/* Sorted by tag, so REPORT TARGET PORT GROUPS lists them in order. */
	for (unsigned int i = 1; i < n; i++)
		for (unsigned int j = i;
		     j > 0 && keep[j - 1]->tag > keep[j]->tag; j--) {
			struct scsi_tpg *t = keep[j];

			keep[j] = keep[j - 1];
			keep[j - 1] = t;
		}
	memcpy(s->g, keep, n * sizeof(*keep));
	s->n = n;
	changed |= scsi_alua_view_apply(s, ALUA_STATUS_IMPLICIT);
	pthread_mutex_unlock(&s->lock);
	for (unsigned int i = 0; i < ngone; i++) {
		/* A portal group that no longer offers the target. */
		__atomic_store_n(&gone[i]->state, SCSI_ALUA_UNAVAILABLE,
		    __ATOMIC_RELEASE);
		scsi_tpg_put(gone[i]);
		changed = true;
	}
	if (changed)
		scsi_alua_ua(s->tid, 0, false);
	scsi_alua_follow(s);
	return 0;
}

struct scsi_tpg *
scsi_tpg_set_find(struct scsi_tpg_set *s, uint16_t tag)
{
	struct scsi_tpg *g;

	pthread_mutex_lock(&s->lock);
	g = scsi_tpg_lookup(s, tag);
	if (g != NULL)
		scsi_tpg_get(g);
	pthread_mutex_unlock(&s->lock);
	return g;
}

int
scsi_tpg_set_state(struct scsi_tpg_set *s, uint16_t tag, uint8_t state)
{
	struct scsi_tpg *g;
	bool changed = false;

	if (state > SCSI_ALUA_UNAVAILABLE)
		return -EINVAL;
	pthread_mutex_lock(&s->lock);
	g = scsi_tpg_lookup(s, tag);
	if (g != NULL &&
	    __atomic_load_n(&g->state, __ATOMIC_ACQUIRE) != state) {
		__atomic_store_n(&g->state, state, __ATOMIC_RELEASE);
		g->status = ALUA_STATUS_IMPLICIT;
		changed = true;
	}
	pthread_mutex_unlock(&s->lock);
	if (g == NULL)
		return -ENOENT;
	if (changed)
		scsi_alua_ua(s->tid, 0, false);
	return 0;
}

int
scsi_tpg_set_read(struct scsi_tpg_set *s, uint16_t tag, uint8_t *state)
{
	struct scsi_tpg *g;

	pthread_mutex_lock(&s->lock);
	g = scsi_tpg_lookup(s, tag);
	if (g != NULL)
		*state = __atomic_load_n(&g->state, __ATOMIC_ACQUIRE);
	pthread_mutex_unlock(&s->lock);
	return g != NULL ? 0 : -ENOENT;
}

uint8_t
scsi_alua_tpgs(const struct scsi_task *task)
{
	/* Implicit and explicit (SPC-4 6.6.2 TPGS 11b). */
	return task->nexus != NULL && task->nexus->tpg != NULL ? 0x30 : 0;
}

uint16_t
scsi_alua_group_id(const struct scsi_nexus *nx)
{
	return nx->tpg != NULL ? nx->tpg->tag : 1;
}

/* The echo buffer modes of READ/WRITE BUFFER (SPC-4 6.18.9, 6.44.10). */
static bool
scsi_alua_echo_buffer(const uint8_t *cdb)
{
	uint8_t mode = cdb[1] & 0x1f;

	if (cdb[0] == SCSI_OP_READ_BUFFER)
		return mode == 0x0a || mode == 0x0b;
	return mode == 0x0a;
}

/* Commands every inaccessible state still serves (SPC-4 5.16.2.4.4-5). */
static bool
scsi_alua_always_ok(const uint8_t *cdb)
{
	switch (cdb[0]) {
	case SCSI_OP_INQUIRY:
	case SCSI_OP_REPORT_LUNS:
	case SCSI_OP_REQUEST_SENSE:
		return true;
	case SCSI_OP_MAINTENANCE_IN:
		return (cdb[1] & 0x1f) == SCSI_MI_REPORT_TARGET_PORT_GROUPS;
	case SCSI_OP_MAINTENANCE_OUT:
		return (cdb[1] & 0x1f) == SCSI_MO_SET_TARGET_PORT_GROUPS;
	case SCSI_OP_READ_BUFFER:
	case SCSI_OP_WRITE_BUFFER:
		return scsi_alua_echo_buffer(cdb);
	default:
		return false;
	}
}

/* What standby adds (SPC-4 5.16.2.4.4). */
static bool
scsi_alua_standby_ok(const uint8_t *cdb)
{
	switch (cdb[0]) {
	case SCSI_OP_LOG_SELECT:
	case SCSI_OP_LOG_SENSE:
	case SCSI_OP_MODE_SELECT_6:
	case SCSI_OP_MODE_SELECT_10:
	case SCSI_OP_MODE_SENSE_6:
	case SCSI_OP_MODE_SENSE_10:
	case SCSI_OP_RECEIVE_DIAGNOSTIC:
	case SCSI_OP_SEND_DIAGNOSTIC:
	case SCSI_OP_PERSISTENT_RESERVE_IN:
	case SCSI_OP_PERSISTENT_RESERVE_OUT:
	/*
	 * Not in SPC-4's list, but no medium access, and Linux sizes each
	 * path's disk with it: a standby path of size 0 cannot join a
	 * dm-multipath table (LIO answers it in standby too).
	 */
	case SCSI_OP_READ_CAPACITY_10:
		return true;
	case SCSI_OP_SERVICE_ACTION_IN_16:
		return (cdb[1] & 0x1f) == SCSI_SAI_READ_CAPACITY_16;
	default:
		return scsi_alua_always_ok(cdb);
	}
}

bool
scsi_alua_refused(struct scsi_task *task)
{
	const struct scsi_nexus *nx = task->nexus;
	uint8_t st;

	if (nx == NULL || nx->tpg == NULL)
		return false;
	st = __atomic_load_n(&nx->tpg->state, __ATOMIC_ACQUIRE);
	switch (st) {
	case SCSI_ALUA_OPTIMIZED:
	case SCSI_ALUA_NONOPTIMIZED:
		return false;
	case SCSI_ALUA_STANDBY:
		if (scsi_alua_standby_ok(task->cdb))
			return false;
		scsi_task_set_sense(task, SK_NOT_READY, ASC_ALUA_STANDBY);
		return true;
	case SCSI_ALUA_TRANSITIONING:
		/* SPC-4 5.16.2.6: the initiator retries after a while. */
		if (scsi_alua_always_ok(task->cdb))
			return false;
		scsi_task_set_sense(task, SK_NOT_READY, ASC_ALUA_TRANSITION);
		return true;
	default:
		if (scsi_alua_always_ok(task->cdb))
			return false;
		scsi_task_set_sense(task, SK_NOT_READY, ASC_ALUA_UNAVAILABLE);
		return true;
	}
}

/* REPORT TARGET PORT GROUPS (SPC-4 6.37). */
void
scsi_alua_report(struct scsi_task *task)
{
	const struct scsi_nexus *nx = task->nexus;
	uint8_t b[8 + ALUA_GROUPS_MAX * RTPG_DESC_LEN];
	uint32_t alloc = get_be32(task->cdb + 6);
	unsigned int fmt = task->cdb[1] >> 5, hdr, off;
	struct scsi_tpg_set *s;

	if (nx == NULL || nx->tpg == NULL) {
		/* No ALUA configured: the command is not there (as before). */
		scsi_task_sense_invalid_field(task, true, 1, 4);
		return;
	}
	if (fmt != RTPG_FMT_LENGTH && fmt != RTPG_FMT_EXTENDED) {
		scsi_task_sense_invalid_field(task, true, 1, 7);
		return;
	}
	hdr = fmt == RTPG_FMT_EXTENDED ? 8 : 4;
	memset(b, 0, sizeof(b));
	off = hdr;
	s = nx->tpg->set;
	pthread_mutex_lock(&s->lock);
	for (unsigned int i = 0; i < s->n; i++) {
		const struct scsi_tpg *g = s->g[i];
		uint8_t *d = b + off;

		d[0] = __atomic_load_n(&g->state, __ATOMIC_ACQUIRE) & 0x0f;
		d[1] = RTPG_SUP_STATES |
		    (g->flags & SCSI_ALUA_F_AUTO ? RTPG_SUP_T : 0);
		put_be16(d + 2, g->tag);
		d[5] = g->status;
		d[7] = 1; /* one target port: this target on the portal group */
		put_be16(d + 10, g->tag);
		off += RTPG_DESC_LEN;
	}
	pthread_mutex_unlock(&s->lock);
	put_be32(b, off - hdr);
	if (fmt == RTPG_FMT_EXTENDED) {
		b[4] = RTPG_FMT_EXTENDED << 4;
		b[5] = 0; /* IMPLICIT TRANSITION TIME: not given */
	}
	scsi_task_data_in(task, b, off, alloc);
}

/* SET TARGET PORT GROUPS (SPC-4 6.45). */
static void
scsi_alua_set(struct scsi_task *task)
{
	uint32_t plen = get_be32(task->cdb + 6);
	uint32_t have = scsi_task_data_out_len(task);
	const struct scsi_nexus *nx = task->nexus;
	struct scsi_tpg_set *s;
	bool changed = false;
	unsigned int nd;
	int move = 0;

	task->xfer_len = plen;
	if (nx == NULL || nx->tpg == NULL) {
		scsi_task_sense_invalid_field(task, true, 1, 4);
		return;
	}
	if (plen == 0)
		return; /* nothing to change (SPC-4 6.45: not an error) */
	if (plen < STPG_HDR_LEN || (plen - STPG_HDR_LEN) % STPG_DESC_LEN != 0) {
		scsi_task_set_sense(task, SK_ILLEGAL_REQUEST,
		    ASC_PARAMETER_LIST_LENGTH_ERROR);
		return;
	}
	if (have < plen) {
		scsi_task_set_sense(task, SK_ILLEGAL_REQUEST,
		    ASC_PARAMETER_LIST_LENGTH_ERROR);
		return;
	}
	nd = (plen - STPG_HDR_LEN) / STPG_DESC_LEN;
	/*
	 * More descriptors than a target has groups can only repeat them:
	 * refused, so 16 MiB of them cannot hold the set's lock for long.
	 */
	if (nd > ALUA_GROUPS_MAX) {
		scsi_task_sense_invalid_field(task, true, 6, -1);
		return;
	}
	s = nx->tpg->set;
	pthread_mutex_lock(&s->lock);
	/* Check every descriptor before any changes: all or nothing. */
	for (unsigned int i = 0; i < nd; i++) {
		const uint8_t *d =
		    task->data + STPG_HDR_LEN + i * STPG_DESC_LEN;
		unsigned int at = STPG_HDR_LEN + i * STPG_DESC_LEN;

		struct scsi_tpg *g;

		if ((d[0] & 0x0f) > SCSI_ALUA_UNAVAILABLE) {
			pthread_mutex_unlock(&s->lock);
			scsi_task_sense_invalid_field(task, false, at, 3);
			return;
		}
		g = scsi_tpg_lookup(s, get_be16(d + 2));
		if (g == NULL) {
			pthread_mutex_unlock(&s->lock);
			scsi_task_sense_invalid_field(task, false, at + 2, -1);
			return;
		}
		/*
		 * Another gateway's group that follows the lock: only
		 * that gateway can take the lock; making it optimized
		 * from here is refused, anything else leaves it be.
		 */
		if ((g->flags & SCSI_ALUA_F_AUTO) &&
		    (g->flags & SCSI_ALUA_F_REMOTE) &&
		    (d[0] & 0x0f) <= SCSI_ALUA_NONOPTIMIZED) {
			pthread_mutex_unlock(&s->lock);
			scsi_task_sense_invalid_field(task, false, at, 3);
			return;
		}
	}
	for (unsigned int i = 0; i < nd; i++) {
		const uint8_t *d =
		    task->data + STPG_HDR_LEN + i * STPG_DESC_LEN;
		struct scsi_tpg *g = scsi_tpg_lookup(s, get_be16(d + 2));
		uint8_t st = d[0] & 0x0f;

		if (g->flags & SCSI_ALUA_F_AUTO) {
			/* The lock decides; ours can ask for it. */
			if (!(g->flags & SCSI_ALUA_F_REMOTE))
				move = scsi_alua_lock_want(s, g, st, &changed);
			continue;
		}
		if (__atomic_load_n(&g->state, __ATOMIC_ACQUIRE) != st)
			changed = true;
		__atomic_store_n(&g->state, st, __ATOMIC_RELEASE);
		g->status = ALUA_STATUS_BY_STPG;
	}
	pthread_mutex_unlock(&s->lock);
	if (move != 0) {
		log_notice("target %u: %s asks this gateway to %s the "
			   "exclusive lock (SET TARGET PORT GROUPS)",
		    s->tid, nx->initiator_port, move > 0 ? "take" : "give up");
		scsi_alua_lock_move(s->tid, move > 0);
	}
	if (changed) {
		log_notice("target %u: ALUA states set by %s (SET TARGET PORT "
			   "GROUPS)",
		    s->tid, nx->initiator_port);
		scsi_alua_ua(s->tid, nx->id, true);
	}
}

void
scsi_alua_maintenance_out(struct scsi_task *task, const uint64_t *luns,
    unsigned int n)
{
	(void)luns;
	(void)n;
	if ((task->cdb[1] & 0x1f) == SCSI_MO_SET_TARGET_PORT_GROUPS)
		scsi_alua_set(task);
	else
		scsi_task_sense_invalid_field(task, true, 1, 4);
}
