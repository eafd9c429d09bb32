/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The ietd authors */
/*
 * WRITE ATOMIC (16) (SBC-4 5.49, 4.29): a write whose blocks are all
 * changed or none, and that no other command sees half done.
 *
 * Against other commands the atomicity comes from the task set (task.c):
 * a command over blocks that a running command writes waits until that
 * one has completed, whatever its task attribute, and a READ answered
 * from the page cache stays in the set until its bytes are sent. So a
 * READ sees all of an atomic write or none of it, and two overlapping
 * writes never interleave. The data goes to the store in one io.
 *
 * Against a crash of the host or a power loss nothing more is promised
 * than the store gives one write of that size: the page cache writes
 * pages back independently, so a power loss can leave part of it on disk
 * (doc/ietd.conf.5 says so). All-or-nothing is kept for every initiator
 * while ietd and the host run, and a refused command changes nothing.
 */
#include "scsi/scsi_int.h"
#include "scsi/scsi_proto.h"
#include "util/be.h"

#define ATOMIC_BOUNDARY_OFF 10 /* ATOMIC BOUNDARY field in the CDB */
#define ATOMIC_LEN_OFF 12      /* TRANSFER LENGTH field in the CDB */

void
scsi_sbc_write_atomic(struct scsi_cmd *cmd)
{
	struct scsi_task *task = cmd->task;
	struct scsi_lu *lu = cmd->lu;
	uint64_t bytes;

	/* WRPROTECT: no protection information here. */
	if (task->cdb[1] & CDB_PROTECT_MASK) {
		scsi_task_sense_invalid_field(task, true, 1, 7);
		goto done;
	}
	/*
	 * MAXIMUM ATOMIC TRANSFER LENGTH WITH ATOMIC BOUNDARY is 0: one
	 * atomic write per command, so a boundary cannot be honoured.
	 */
	if (get_be16(task->cdb + ATOMIC_BOUNDARY_OFF) != 0) {
		scsi_task_sense_invalid_field(task, true, ATOMIC_BOUNDARY_OFF,
		    -1);
		goto done;
	}
	if (!scsi_sbc_range_ok(cmd))
		goto done;
	bytes = cmd->nblocks << lu->block_shift;
	task->xfer_len = (uint32_t)(bytes <= SCSI_XFER_MAX ? bytes : 0);
	/* SBC-4 5.49: longer than MAXIMUM ATOMIC TRANSFER LENGTH. */
	if (bytes > BL_MAX_ATOMIC_BYTES) {
		scsi_task_sense_invalid_field(task, true, ATOMIC_LEN_OFF, -1);
		goto done;
	}
	if (bytes == 0)
		goto done;
	/*
	 * All or nothing: unlike WRITE, a short Data-Out is not written in
	 * part (the transport reports the residual).
	 */
	if (scsi_task_data_out_short(task, bytes))
		goto done;
	scsi_cmd_submit(cmd, BACKEND_OP_WRITE, cmd->lba << lu->block_shift,
	    bytes, task->data, scsi_sbc_fua(cmd, task->cdb[1] & CDB_FUA),
	    scsi_sbc_write_done);
	return;
done:
	scsi_cmd_complete(cmd);
}
