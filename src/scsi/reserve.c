/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The ietd authors */
/*
 * SPC-2 RESERVE and RELEASE (6 and 10): one whole-LU reservation held by
 * one I_T nexus. Other nexuses get RESERVATION CONFLICT for commands not
 * allowed by SPC-2 5.5.1. Persistent reservations are not done here.
 * An LU several gateways export (pr_shared.c) keeps it in the shared
 * state, its holder named by its initiator and target port names.
 */
#include <strings.h>

#include "scsi/scsi_int.h"
#include "scsi/scsi_proto.h"

/* START STOP UNIT CDB byte 4 (SBC-4). */
#define SSU_START 0x01
#define SSU_POWER_CONDITION 0xf0

/*
 * A START STOP UNIT that only starts the unit (START 1, POWER CONDITION
 * 0) is allowed under every reservation, SPC-2 or persistent (SPC-2
 * 5.5.1 and SBC-4's persistent reservations table); stopping it or
 * changing its power condition conflicts as a write does.
 */
static bool
scsi_resv_start_only(const struct scsi_task *task)
{
	return task->cdb[0] == SCSI_OP_START_STOP_UNIT &&
	    (task->cdb[4] & SSU_START) &&
	    (task->cdb[4] & SSU_POWER_CONDITION) == 0;
}

/* Is task's I_T nexus the holder of the SPC-2 reservation? */
static bool
scsi_resv_is_holder(const struct scsi_lu *lu, const struct scsi_task *task)
{
	if (!lu->reserve_shared)
		return lu->reserve_holder == scsi_task_nexus_id(task);
	return task->nexus != NULL &&
	    strcasecmp(lu->reserve_iport, task->nexus->initiator_port) == 0 &&
	    strcasecmp(lu->reserve_tport, task->nexus->target_port) == 0;
}

bool
scsi_resv_conflict(struct scsi_lu *lu, const struct scsi_task *task,
    const struct scsi_op *op)
{
	if (op != NULL && scsi_resv_start_only(task))
		return false;
	if ((op == NULL || !(op->flags & SCSI_F_RESV_OK)) && lu->reserved &&
	    !scsi_resv_is_holder(lu, task))
		return true;
	/*
	 * SPC-4 5.13.3: while persistent reservation registrations exist,
	 * RESERVE and RELEASE (6/10) get RESERVATION CONFLICT.
	 */
	if (op != NULL && !list_empty(&lu->pr_regs) &&
	    (task->cdb[0] == SCSI_OP_RESERVE_6 ||
		task->cdb[0] == SCSI_OP_RESERVE_10 ||
		task->cdb[0] == SCSI_OP_RELEASE_6 ||
		task->cdb[0] == SCSI_OP_RELEASE_10))
		return true;
	return op != NULL && scsi_pr_conflict(lu, task, op);
}

void
scsi_spc_reserve(struct scsi_task *task, const uint64_t *luns, unsigned int n)
{
	struct scsi_lu *lu = task->lu;
	uint64_t id = scsi_task_nexus_id(task);

	(void)luns;
	(void)n;
	/* Third-party and extent reservations are obsolete (SPC-2 7.21). */
	if (task->cdb[0] == SCSI_OP_RESERVE_6 && (task->cdb[1] & 0x01)) {
		scsi_task_sense_invalid_field(task, true, 1, 0);
		return;
	}
	if (task->cdb[0] == SCSI_OP_RESERVE_10 && (task->cdb[1] & 0x13)) {
		scsi_task_sense_invalid_field(task, true, 1, -1);
		return;
	}
	if (lu->reserve_shared) {
		scsi_pr_shared_reserve(task, true);
		return;
	}
	pthread_mutex_lock(&lu->lock);
	if (lu->reserved && lu->reserve_holder != id) {
		pthread_mutex_unlock(&lu->lock);
		scsi_task_set_status(task, SCSI_STATUS_RESERVATION_CONFLICT);
		return;
	}
	lu->reserved = true;
	lu->reserve_holder = id;
	pthread_mutex_unlock(&lu->lock);
}

void
scsi_spc_release(struct scsi_task *task, const uint64_t *luns, unsigned int n)
{
	struct scsi_lu *lu = task->lu;

	(void)luns;
	(void)n;
	/*
	 * SPC-2 7.17: a RELEASE from a nexus that holds no reservation is
	 * not an error, and leaves another's reservation alone.
	 */
	if (lu->reserve_shared) {
		scsi_pr_shared_reserve(task, false);
		return;
	}
	pthread_mutex_lock(&lu->lock);
	if (lu->reserved && lu->reserve_holder == scsi_task_nexus_id(task))
		lu->reserved = false;
	pthread_mutex_unlock(&lu->lock);
}
