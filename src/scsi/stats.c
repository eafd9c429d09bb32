/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The ietd authors */
/*
 * Per-LU counters for the metrics endpoint. The data path only adds
 * (relaxed atomics); the scrape walks the LU list under its lock and
 * takes each LU's lock just long enough to count its task set.
 */
#include <pthread.h>

#include "util/list.h"
#include "util/metrics.h"
#include "scsi_int.h"

void
scsi_task_count(const struct scsi_task *task, uint64_t rd, uint64_t wr,
    uint64_t lat_us)
{
	if (task->lu == NULL)
		return;
	metrics_io_count(&task->lu->io, task->status,
	    task->status == SCSI_STATUS_CHECK_CONDITION
		? metrics_sense_key(task->sense, task->sense_len)
		: 0,
	    rd, wr, lat_us);
}

void
scsi_lu_stats_foreach(void (*fn)(void *arg, const struct scsi_lu_stats *),
    void *arg)
{
	struct list_node *pos;

	scsi_lu_list_lock();
	list_for_each(pos, scsi_lu_list()) {
		struct scsi_lu *lu = list_entry(pos, struct scsi_lu, node);
		struct scsi_lu_stats st = {
		    .tid = lu->tid,
		    .lun = lu->lun,
		    .target_name = lu->target_name,
		    .io = &lu->io,
		};

		pthread_mutex_lock(&lu->lock);
		st.queue_depth = (unsigned int)(list_count(&lu->tasks) +
		    list_count(&lu->pending));
		pthread_mutex_unlock(&lu->lock);
		fn(arg, &st);
	}
	scsi_lu_list_unlock();
}
