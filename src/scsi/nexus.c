/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The ietd authors */
/*
 * I_T nexus registry. The transport registers a nexus per session; when
 * it goes, every LU forgets its unit attentions and its SPC-2
 * reservation (SPC-4 5.13: a reservation ends with its I_T nexus).
 * Nexus ids come from one counter and are never given twice, so a
 * nexus that goes late cannot take a newer one's state with it.
 */
#include <errno.h>
#include <pthread.h>

#include "scsi/scsi_int.h"

static pthread_mutex_t scsi_nexus_lock = PTHREAD_MUTEX_INITIALIZER;
static struct list_node scsi_nexus_list = LIST_HEAD_INIT(scsi_nexus_list);
static uint64_t scsi_nexus_next_id = 1; /* atomic; 2^64 never wraps */

uint64_t
scsi_nexus_id_new(void)
{
	return __atomic_fetch_add(&scsi_nexus_next_id, 1, __ATOMIC_RELAXED);
}

int
scsi_nexus_register(struct scsi_nexus *nx)
{
	struct list_node *pos;

	pthread_mutex_lock(&scsi_nexus_lock);
	list_for_each(pos, &scsi_nexus_list) {
		if (list_entry(pos, struct scsi_nexus, node)->id == nx->id) {
			pthread_mutex_unlock(&scsi_nexus_lock);
			return -EEXIST;
		}
	}
	list_add_tail(&scsi_nexus_list, &nx->node);
	pthread_mutex_unlock(&scsi_nexus_lock);
	/*
	 * A new nexus meets each LU with POWER ON (ua.c makes the I_T_L
	 * state on first contact). Ids from scsi_nexus_id_new() are never
	 * reused, but a caller that picks its own (tests, fuzzers) may
	 * register one again: no stale state of the earlier one leaks in.
	 */
	scsi_lu_list_lock();
	list_for_each(pos, scsi_lu_list()) {
		struct scsi_lu *lu = list_entry(pos, struct scsi_lu, node);

		scsi_lu_nexus_gone(lu, nx->id);
	}
	scsi_lu_list_unlock();
	return 0;
}

void
scsi_nexus_unregister(struct scsi_nexus *nx)
{
	struct list_node *pos;

	pthread_mutex_lock(&scsi_nexus_lock);
	list_remove(&nx->node);
	pthread_mutex_unlock(&scsi_nexus_lock);
	scsi_lu_list_lock();
	list_for_each(pos, scsi_lu_list()) {
		struct scsi_lu *lu = list_entry(pos, struct scsi_lu, node);

		scsi_lu_nexus_gone(lu, nx->id);
	}
	scsi_lu_list_unlock();
	scsi_tpg_put(nx->tpg);
	nx->tpg = NULL;
}

unsigned int
scsi_nexus_find(bool (*match)(const struct scsi_nexus *nx, const void *ctx),
    const void *ctx, uint64_t *ids, unsigned int max)
{
	struct list_node *pos;
	unsigned int n = 0;

	pthread_mutex_lock(&scsi_nexus_lock);
	list_for_each(pos, &scsi_nexus_list) {
		const struct scsi_nexus *nx =
		    list_entry(pos, struct scsi_nexus, node);

		if (n < max && match(nx, ctx))
			ids[n++] = nx->id;
	}
	pthread_mutex_unlock(&scsi_nexus_lock);
	return n;
}
