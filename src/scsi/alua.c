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
};

struct scsi_tpg_set {
	pthread_mutex_t lock; /* g, n and each group's status */
	unsigned int refs;    /* atomic: the owner's and one per group */
	unsigned int tid;
	unsigned int n;
	struct scsi_tpg *g[ALUA_GROUPS_MAX]; /* sorted by tag */
};

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
	return s;
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
			g->state = states[i];
			__atomic_add_fetch(&s->refs, 1, __ATOMIC_RELAXED);
		}
		keep[i] = g;
	}
	/* Nothing can fail now. */
	for (unsigned int i = 0; i < n; i++) {
		struct scsi_tpg *g = keep[i];

		if (__atomic_load_n(&g->state, __ATOMIC_ACQUIRE) != states[i]) {
			__atomic_store_n(&g->state, states[i],
			    __ATOMIC_RELEASE);
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
		return true;
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
		d[1] = RTPG_SUP_STATES;
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

		if ((d[0] & 0x0f) > SCSI_ALUA_UNAVAILABLE) {
			pthread_mutex_unlock(&s->lock);
			scsi_task_sense_invalid_field(task, false, at, 3);
			return;
		}
		if (scsi_tpg_lookup(s, get_be16(d + 2)) == NULL) {
			pthread_mutex_unlock(&s->lock);
			scsi_task_sense_invalid_field(task, false, at + 2, -1);
			return;
		}
	}
	for (unsigned int i = 0; i < nd; i++) {
		const uint8_t *d =
		    task->data + STPG_HDR_LEN + i * STPG_DESC_LEN;
		struct scsi_tpg *g = scsi_tpg_lookup(s, get_be16(d + 2));
		uint8_t st = d[0] & 0x0f;

		if (__atomic_load_n(&g->state, __ATOMIC_ACQUIRE) != st)
			changed = true;
		__atomic_store_n(&g->state, st, __ATOMIC_RELEASE);
		g->status = ALUA_STATUS_BY_STPG;
	}
	pthread_mutex_unlock(&s->lock);
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
