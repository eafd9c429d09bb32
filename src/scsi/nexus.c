/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The ietd authors */
/*
 * I_T nexus registry. The transport registers a nexus per session; when
 * it goes, every LU forgets its unit attentions and its SPC-2
 * reservation (SPC-4 5.13: a reservation ends with its I_T nexus).
 */
#include <pthread.h>

#include "scsi/scsi_int.h"

static pthread_mutex_t scsi_nexus_lock = PTHREAD_MUTEX_INITIALIZER;
static struct list_node scsi_nexus_list = LIST_HEAD_INIT(scsi_nexus_list);

void
scsi_nexus_register(struct scsi_nexus *nx)
{
	pthread_mutex_lock(&scsi_nexus_lock);
	list_add_tail(&scsi_nexus_list, &nx->node);
	pthread_mutex_unlock(&scsi_nexus_lock);
	/*
	 * A new nexus meets each LU with POWER ON (ua.c makes the I_T_L
	 * state on first contact); stale state of an earlier nexus with
	 * the same id must not leak into it.
	 */
	scsi_lu_list_lock();
	{
		struct list_node *pos;

		list_for_each(pos, scsi_lu_list()) {
			struct scsi_lu *lu =
			    list_entry(pos, struct scsi_lu, node);

			scsi_lu_nexus_gone(lu, nx->id);
		}
	}
	scsi_lu_list_unlock();
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
}
