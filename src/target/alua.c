/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The ietd authors */
/*
 * ALUA in the target registry: which portal groups offer each target and
 * in which asymmetric access state (ietd.conf's PortalGroup lines, see
 * config/portal.c), kept in each target's SCSI target port group set
 * (scsi/alua.c), and the binding of a new session's I_T nexus to its
 * group. Without any PortalGroup in the file no target has a set and
 * every session is on portal group 1 as before.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "util/log.h"
#include "target_int.h"

/* The portal groups last applied (a conf holding only those). */
static struct conf *target_alua_pgs;
static bool target_alua_on;

/* The groups ct asks for: tags and states; returns how many. */
static unsigned int
target_alua_desired(const struct conf_target *ct, uint16_t *tags,
    uint8_t *states)
{
	const struct list_node *n;
	unsigned int k = 0;

	if (list_empty(&ct->tpgs)) {
		/* Offered everywhere, active/optimized. */
		tags[k] = 1;
		states[k++] = SCSI_ALUA_OPTIMIZED;
		if (target_alua_pgs == NULL)
			return k;
		list_for_each(n, &target_alua_pgs->portal_groups) {
			const struct conf_portal_group *pg =
			    list_entry(n, const struct conf_portal_group, node);

			if (k == TARGET_ALUA_MAX)
				break;
			/* Another gateway's offers only what it names. */
			if (pg->remote)
				continue;
			tags[k] = (uint16_t)pg->tag;
			states[k++] = SCSI_ALUA_OPTIMIZED;
		}
		return k;
	}
	list_for_each(n, &ct->tpgs) {
		const struct conf_tpg *g =
		    list_entry(n, const struct conf_tpg, node);
		const struct conf_portal_group *pg = target_alua_pgs != NULL
		    ? conf_portal_group_find(target_alua_pgs, g->tag)
		    : NULL;

		if (k == TARGET_ALUA_MAX)
			break;
		tags[k] = (uint16_t)g->tag;
		states[k] = (uint8_t)g->state;
		if (g->follow_lock)
			states[k] |= SCSI_ALUA_F_AUTO;
		if (pg != NULL && pg->remote)
			states[k] |= SCSI_ALUA_F_REMOTE;
		k++;
	}
	return k;
}

void
target_alua_sync(struct target *t)
{
	uint16_t tags[TARGET_ALUA_MAX];
	uint8_t want[TARGET_ALUA_MAX], now[TARGET_ALUA_MAX];
	struct scsi_tpg_set *s = t->alua, *old = NULL;
	unsigned int n;

	if (!target_alua_on) {
		if (s == NULL)
			return;
		/*
		 * Sessions bound to its groups go on as without ALUA: every
		 * port accessible again, which is a state change they hear
		 * of (ASYMMETRIC ACCESS STATE CHANGED where one was not).
		 */
		for (unsigned int i = 0; i < t->alua_n; i++)
			(void)scsi_tpg_set_state(s, t->alua_tags[i],
			    SCSI_ALUA_OPTIMIZED);
		pthread_rwlock_wrlock(&target_registry.lock);
		t->alua = NULL;
		t->alua_n = 0;
		pthread_rwlock_unlock(&target_registry.lock);
		log_notice("target %u: ALUA off (no PortalGroup left)", t->tid);
		scsi_tpg_set_put(s);
		return;
	}
	n = target_alua_desired(t->ct, tags, want);
	if (s == NULL) {
		s = scsi_tpg_set_new(t->tid);
		if (s == NULL) {
			log_error("target %u: out of memory for its ALUA "
				  "target port groups; sessions see no ALUA",
			    t->tid);
			return;
		}
	}
	/*
	 * A group whose configured state did not change keeps the state it
	 * has now: SET TARGET PORT GROUPS may have moved it, and a reload
	 * that does not touch it must not move it back.
	 */
	for (unsigned int i = 0; i < n; i++) {
		now[i] = want[i];
		for (unsigned int j = 0; j < t->alua_n; j++)
			if (t->alua_tags[j] == tags[i] &&
			    t->alua_cfg[j] == want[i])
				(void)scsi_tpg_set_read(s, tags[i], &now[i]);
	}
	if (scsi_tpg_set_update(s, tags, now, n) != 0) {
		log_error("target %u: out of memory for its ALUA target port "
			  "groups; they stay as they were",
		    t->tid);
		if (t->alua == NULL)
			scsi_tpg_set_put(s);
		return;
	}
	for (unsigned int i = 0; i < n; i++) {
		uint8_t was = 0xff;

		for (unsigned int j = 0; j < t->alua_n; j++)
			if (t->alua_tags[j] == tags[i])
				was = t->alua_cfg[j];
		if (was != want[i] && t->alua != NULL)
			log_notice("target %u: portal group %u %s", t->tid,
			    tags[i],
			    now[i] & SCSI_ALUA_F_AUTO
				? "auto (follows the exclusive lock)"
				: conf_alua_state_name((enum conf_alua_state)(
				      now[i] & SCSI_ALUA_STATE_MASK)));
	}
	pthread_rwlock_wrlock(&target_registry.lock);
	if (t->alua != s)
		old = t->alua;
	t->alua = s;
	t->alua_n = n;
	memcpy(t->alua_tags, tags, n * sizeof(*tags));
	memcpy(t->alua_cfg, want, n);
	pthread_rwlock_unlock(&target_registry.lock);
	scsi_tpg_set_put(old);
}

static bool
target_alua_sync_one(struct target *t, void *arg)
{
	(void)arg;
	target_alua_sync(t);
	return true;
}

void
target_alua_apply(const struct conf *conf)
{
	struct conf *pgs = conf_new_empty();

	if (pgs == NULL || conf_portal_groups_copy(pgs, conf) != 0) {
		log_error("out of memory for the portal groups; ALUA stays "
			  "as it was");
		conf_free(pgs);
		return;
	}
	conf_free(target_alua_pgs);
	target_alua_pgs = pgs;
	target_alua_on = conf_alua_enabled(conf);
	target_foreach(target_alua_sync_one, NULL);
}

int
target_alua_snapshot(struct conf *c)
{
	if (target_alua_pgs == NULL)
		return 0;
	return conf_portal_groups_copy(c, target_alua_pgs);
}

int
target_port_bind(struct target *t, unsigned int tag, struct scsi_nexus *nx)
{
	struct scsi_tpg *g = NULL;
	bool ok;

	pthread_rwlock_rdlock(&target_registry.lock);
	if (t->alua != NULL) {
		g = scsi_tpg_set_find(t->alua, (uint16_t)tag);
		ok = g != NULL;
	} else {
		ok = tag == 1;
	}
	pthread_rwlock_unlock(&target_registry.lock);
	if (!ok)
		return -ENOENT;
	nx->tpg = g;
	nx->rel_port_id = (uint16_t)tag;
	return 0;
}

bool
target_port_offered(struct target *t, unsigned int tag)
{
	bool yes;
	uint8_t st;

	pthread_rwlock_rdlock(&target_registry.lock);
	if (t->alua != NULL)
		yes = scsi_tpg_set_read(t->alua, (uint16_t)tag, &st) == 0;
	else
		yes = tag == 1;
	pthread_rwlock_unlock(&target_registry.lock);
	return yes;
}

int
target_admin_alua(unsigned int tid, unsigned int tag, const char *state,
    char *why, size_t whylen)
{
	uint16_t tags[TARGET_ALUA_MAX];
	uint8_t want[TARGET_ALUA_MAX];
	enum conf_alua_state st;
	struct conf_target *ct;
	struct target *t;
	unsigned int n;
	bool follow;
	int err = 0;

	if (conf_alua_state_parse(state, &st) != 0) {
		snprintf(why, whylen,
		    "unknown ALUA state %.32s (optimized, nonoptimized, "
		    "standby or unavailable)",
		    state);
		return -EINVAL;
	}
	t = target_find_by_tid(tid);
	if (t == NULL) {
		snprintf(why, whylen, "no target with tid %u", tid);
		return -ENOENT;
	}
	if (t->alua == NULL) {
		snprintf(why, whylen,
		    "target %u has no ALUA: ietd.conf declares no "
		    "PortalGroup",
		    tid);
		err = -EINVAL;
		goto out;
	}
	if (!target_port_offered(t, tag)) {
		snprintf(why, whylen,
		    "target %u is not offered on portal group %u", tid, tag);
		err = -ENOENT;
		goto out;
	}
	/*
	 * A group that follows the lock keeps doing so: optimized asks this
	 * gateway to take the lock (fencing the holder), standby or
	 * unavailable to let it go.
	 */
	pthread_rwlock_rdlock(&target_registry.lock);
	follow = conf_tpg_find(t->ct, tag) != NULL &&
	    conf_tpg_find(t->ct, tag)->follow_lock;
	pthread_rwlock_unlock(&target_registry.lock);
	if (follow) {
		err = scsi_tpg_set_lock_request(t->alua, (uint16_t)tag,
		    (uint8_t)st);
		if (err == -EINVAL)
			snprintf(why, whylen,
			    "portal group %u is another gateway's: ask that "
			    "gateway to take the lock",
			    tag);
		else if (err != 0)
			snprintf(why, whylen, "no portal group %u", tag);
		else
			log_notice("target %u: portal group %u: ietadm asks "
				   "this gateway to %s the exclusive lock",
			    tid, tag,
			    st <= CONF_ALUA_NONOPTIMIZED ? "take" : "give up");
		goto out;
	}
	/*
	 * Into the running configuration too (ietadm --op show --dump):
	 * a target that named no group gets every group it is on, so
	 * writing one line does not take it off the others.
	 */
	pthread_rwlock_rdlock(&target_registry.lock);
	ct = conf_target_dup(t->ct);
	pthread_rwlock_unlock(&target_registry.lock);
	if (ct == NULL) {
		snprintf(why, whylen, "out of memory");
		err = -ENOMEM;
		goto out;
	}
	if (list_empty(&ct->tpgs)) {
		n = target_alua_desired(ct, tags, want);
		for (unsigned int i = 0; i < n && err == 0; i++)
			err = conf_tpg_set(ct, tags[i],
			    (enum conf_alua_state)want[i]);
	}
	if (err == 0)
		err = conf_tpg_set(ct, tag, st);
	if (err != 0) {
		conf_target_free(ct);
		snprintf(why, whylen, "out of memory");
		goto out;
	}
	err = target_update(t, ct, why, whylen);
	conf_target_free(ct);
	if (err != 0)
		goto out;
	/* The administrator's word wins over SET TARGET PORT GROUPS. */
	for (unsigned int j = 0; j < t->alua_n; j++)
		if (t->alua_tags[j] == tag)
			t->alua_cfg[j] = 0xff;
	target_alua_sync(t);
	log_notice("target %u: portal group %u set %s by ietadm", tid, tag,
	    conf_alua_state_name(st));
out:
	target_put(t);
	return err;
}
