/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The ietd authors */
/*
 * Block commands (SBC-4): READ CAPACITY, READ/WRITE 6/10/12/16, VERIFY,
 * WRITE AND VERIFY, PRE-FETCH, SYNCHRONIZE CACHE, WRITE SAME, UNMAP,
 * COMPARE AND WRITE, ORWRITE, GET LBA STATUS, READ DEFECT DATA. Media
 * commands run as chains of backend ios; each step's completion calls
 * the next.
 */
#include <errno.h>
#include <string.h>

#include "scsi/scsi_int.h"
#include "scsi/scsi_proto.h"
#include "util/alloc.h"
#include "util/databuf.h"
#include "util/be.h"

#define SBC_READ6_BLOCKS_ZERO 256  /* SBC-4 5.13: 0 means 256 */
#define SBC_WS_CHUNK (1024 * 1024) /* WRITE SAME pattern buffer */
#define SBC_UNMAP_DESC_LEN 16
/*
 * Reads from this size up are sent from the store's mapping when it has
 * one (backend_map): a second copy costs more than the task-set hold
 * there. Smaller reads are copied; holding a 4 KiB read in the set until
 * it is sent saves less than it costs.
 */
#define SBC_MAP_MIN (64 * 1024)

bool
scsi_sbc_cdb_range(const uint8_t *cdb, uint64_t *lba, uint64_t *n)
{
	switch (cdb[0]) {
	case SCSI_OP_READ_6:
	case SCSI_OP_WRITE_6:
		*lba = get_be24(cdb + 1) & 0x1fffff;
		*n = cdb[4] ? cdb[4] : SBC_READ6_BLOCKS_ZERO;
		return true;
	case SCSI_OP_READ_10:
	case SCSI_OP_WRITE_10:
	case SCSI_OP_WRITE_VERIFY_10:
	case SCSI_OP_VERIFY_10:
	case SCSI_OP_PRE_FETCH_10:
	case SCSI_OP_SYNCHRONIZE_CACHE_10:
	case SCSI_OP_WRITE_SAME_10:
		*lba = get_be32(cdb + 2);
		*n = get_be16(cdb + 7);
		return true;
	case SCSI_OP_READ_12:
	case SCSI_OP_WRITE_12:
	case SCSI_OP_WRITE_VERIFY_12:
	case SCSI_OP_VERIFY_12:
		*lba = get_be32(cdb + 2);
		*n = get_be32(cdb + 6);
		return true;
	case SCSI_OP_READ_16:
	case SCSI_OP_WRITE_16:
	case SCSI_OP_ORWRITE_16:
	case SCSI_OP_WRITE_VERIFY_16:
	case SCSI_OP_VERIFY_16:
	case SCSI_OP_WRITE_SAME_16:
	case SCSI_OP_COMPARE_AND_WRITE:
		*lba = get_be64(cdb + 2);
		*n = cdb[0] == SCSI_OP_COMPARE_AND_WRITE ? cdb[13]
							 : get_be32(cdb + 10);
		return true;
	case SCSI_OP_PRE_FETCH_16:
	case SCSI_OP_SYNCHRONIZE_CACHE_16:
		*lba = get_be64(cdb + 2);
		*n = get_be32(cdb + 10);
		return true;
	case SCSI_OP_WRITE_ATOMIC_16:
		*lba = get_be64(cdb + 2);
		*n = get_be16(cdb + 12);
		return true;
	}
	*lba = 0;
	*n = 0;
	return false;
}

/* Byte offset of the TRANSFER LENGTH field, for the sense pointer. */
static unsigned int
scsi_sbc_len_field(uint8_t opcode)
{
	switch (opcode) {
	case SCSI_OP_READ_6:
	case SCSI_OP_WRITE_6:
		return 4;
	case SCSI_OP_READ_12:
	case SCSI_OP_WRITE_12:
	case SCSI_OP_WRITE_VERIFY_12:
	case SCSI_OP_VERIFY_12:
		return 6;
	case SCSI_OP_READ_16:
	case SCSI_OP_WRITE_16:
	case SCSI_OP_ORWRITE_16:
	case SCSI_OP_WRITE_VERIFY_16:
	case SCSI_OP_VERIFY_16:
	case SCSI_OP_WRITE_SAME_16:
		return 10;
	}
	return 7;
}

/* LBA range check (SBC-4 4.5): lba + n must not pass the capacity. */
bool
scsi_sbc_range_ok(struct scsi_cmd *cmd)
{
	uint64_t blocks = __atomic_load_n(&cmd->lu->blocks, __ATOMIC_RELAXED);

	if (cmd->lba > blocks || cmd->nblocks > blocks - cmd->lba) {
		scsi_task_set_sense(cmd->task, SK_ILLEGAL_REQUEST,
		    ASC_LBA_OUT_OF_RANGE);
		return false;
	}
	return true;
}

/*
 * Range and transfer length of a media command that moves data: false,
 * with the sense set, when the blocks pass the capacity or the bytes pass
 * SCSI_XFER_MAX (the pointer names the CDB's length field); otherwise
 * *bytes is the length in bytes.
 */
static bool
scsi_sbc_xfer_ok(struct scsi_cmd *cmd, uint64_t *bytes)
{
	if (!scsi_sbc_range_ok(cmd))
		return false;
	*bytes = cmd->nblocks << cmd->lu->block_shift;
	if (*bytes > SCSI_XFER_MAX) {
		scsi_task_sense_invalid_field(cmd->task, true,
		    scsi_sbc_len_field(cmd->task->cdb[0]), -1);
		return false;
	}
	return true;
}

static void
scsi_sbc_fail_io(struct scsi_cmd *cmd, bool write)
{
	/*
	 * A store that lost its connection to the shared image (an RBD
	 * gateway that was fenced and is reconnecting) is this port being
	 * unavailable (SPC-4 5.15.2.6), not a medium error; so is one whose
	 * client the cluster refuses (librados' -EBLOCKLISTED is
	 * -ESHUTDOWN: another gateway fenced this one).
	 */
	if (cmd->io.result == -ENOTCONN || cmd->io.result == -ESHUTDOWN) {
		scsi_task_set_sense(cmd->task, SK_NOT_READY,
		    ASC_ALUA_UNAVAILABLE);
		return;
	}
	/*
	 * The store refused because another gateway holds the image's lock
	 * now (-ENOLCK, backend.h): the lock, and with it the optimized port,
	 * is moving. NOT READY, ASYMMETRIC ACCESS STATE TRANSITION is what
	 * an initiator retries (on another path); a MEDIUM ERROR would end
	 * the I/O above the multipath layer.
	 */
	if (cmd->io.result == -ENOLCK) {
		scsi_task_set_sense(cmd->task, SK_NOT_READY,
		    ASC_ALUA_TRANSITION);
		return;
	}
	/* SBC-4 4.18: the first failing LBA goes in INFORMATION. */
	if (write)
		scsi_task_sense_info(cmd->task, SK_MEDIUM_ERROR,
		    ASC_WRITE_ERROR, cmd->lba);
	else
		scsi_task_sense_info(cmd->task, SK_MEDIUM_ERROR,
		    ASC_UNRECOVERED_READ_ERROR, cmd->lba);
}

static void
scsi_sbc_read_done(struct scsi_cmd *cmd)
{
	if (cmd->io.result < 0) {
		cmd->task->data_in_len = 0;
		scsi_sbc_fail_io(cmd, false);
	}
	scsi_cmd_complete(cmd);
}

void
scsi_sbc_write_done(struct scsi_cmd *cmd)
{
	if (cmd->io.result < 0)
		scsi_sbc_fail_io(cmd, true);
	scsi_cmd_complete(cmd);
}

/* Does the write need FUA: its own bit, or the cache switched off. */
bool
scsi_sbc_fua(struct scsi_cmd *cmd, bool bit)
{
	return bit || !__atomic_load_n(&cmd->lu->wce, __ATOMIC_RELAXED);
}

/* READ and WRITE 6/10/12/16 and WRITE AND VERIFY 10/12/16. */
void
scsi_sbc_rw(struct scsi_cmd *cmd)
{
	struct scsi_task *task = cmd->task;
	struct scsi_lu *lu = cmd->lu;
	uint8_t op = task->cdb[0];
	bool write = cmd->writes,
	     six = op == SCSI_OP_READ_6 || op == SCSI_OP_WRITE_6;
	bool verify = op == SCSI_OP_WRITE_VERIFY_10 ||
	    op == SCSI_OP_WRITE_VERIFY_12 || op == SCSI_OP_WRITE_VERIFY_16;
	uint64_t bytes, n;
	uint32_t sent;

	/* RDPROTECT/WRPROTECT: no protection information here. */
	if (!six && (task->cdb[1] & CDB_PROTECT_MASK)) {
		scsi_task_sense_invalid_field(task, true, 1, 7);
		goto done;
	}
	if (verify && (task->cdb[1] & CDB_BYTCHK) >> 1 > 1) {
		/*
		 * SBC-4 WRITE AND VERIFY (10): BYTCHK 10b is reserved as
		 * for VERIFY, and for WRITE AND VERIFY 11b is reserved too.
		 */
		scsi_task_sense_invalid_field(task, true, 1, 2);
		goto done;
	}
	if (!scsi_sbc_xfer_ok(cmd, &bytes))
		goto done;
	task->xfer_len = (uint32_t)bytes;
	if (bytes == 0)
		goto done;
	if (!write) {
		n = bytes < task->data_len ? bytes : task->data_len;
		if (n == 0 || task->data == NULL)
			goto done;
		task->data_in_len = (uint32_t)n;
		if (task->lend_ok && n >= SBC_MAP_MIN) {
			task->data_lent = backend_map(lu->be,
			    cmd->lba << lu->block_shift, n, &cmd->map);
			if (task->data_lent != NULL) {
				cmd->held = true;
				goto done;
			}
		}
		scsi_cmd_submit(cmd, BACKEND_OP_READ,
		    cmd->lba << lu->block_shift, n, task->data, false,
		    scsi_sbc_read_done);
		return;
	}
	/*
	 * Fewer bytes arrived than the CDB describes (the expected data
	 * transfer length is too short; the transport reports the residual
	 * overflow). The whole blocks that did arrive are written, as
	 * initiators expect (libiscsi's iSCSIResiduals: EDTL of one block
	 * for a two-block WRITE writes one block, EDTL 0 writes nothing, both
	 * GOOD); a partial block cannot be written and is refused.
	 */
	sent = scsi_task_data_out_len(task);
	if (sent < bytes) {
		if (sent & ((1u << lu->block_shift) - 1)) {
			scsi_task_set_sense(task, SK_ILLEGAL_REQUEST,
			    ASC_INVALID_FIELD_IN_IU);
			goto done;
		}
		bytes = sent;
		if (bytes == 0)
			goto done;
	}
	scsi_cmd_submit(cmd, BACKEND_OP_WRITE, cmd->lba << lu->block_shift,
	    bytes, task->data,
	    scsi_sbc_fua(cmd, verify || (!six && (task->cdb[1] & CDB_FUA))),
	    scsi_sbc_write_done);
	return;
done:
	scsi_cmd_complete(cmd);
}

static void
scsi_sbc_sync_done(struct scsi_cmd *cmd)
{
	if (cmd->io.result < 0)
		scsi_task_set_sense(cmd->task, SK_MEDIUM_ERROR,
		    ASC_WRITE_ERROR);
	scsi_cmd_complete(cmd);
}

void
scsi_sbc_sync_cache(struct scsi_cmd *cmd)
{
	if (!scsi_sbc_range_ok(cmd)) {
		scsi_cmd_complete(cmd);
		return;
	}
	scsi_cmd_submit(cmd, BACKEND_OP_FLUSH, 0, 0, NULL, false,
	    scsi_sbc_sync_done);
}

void
scsi_sbc_prefetch(struct scsi_cmd *cmd)
{
	/* Nothing to load ahead of time: the page cache does it. */
	scsi_sbc_range_ok(cmd);
	scsi_cmd_complete(cmd);
}

/*
 * First half of VERIFY with BYTCHK, COMPARE AND WRITE and ORWRITE: check
 * that the initiator sent the need bytes these commands consume, then read
 * the command's bytes of medium into a private buffer and continue in
 * done. When it returns false the task already carries its status and
 * the caller completes the command.
 */
static bool
scsi_sbc_read_medium(struct scsi_cmd *cmd, uint64_t bytes, uint64_t need,
    scsi_cmd_fn *done)
{
	struct scsi_task *task = cmd->task;

	if (scsi_task_data_out_short(task, need))
		return false;
	cmd->buf = databuf_alloc((size_t)bytes);
	cmd->buf_len = (size_t)bytes;
	if (cmd->buf == NULL) {
		scsi_task_set_status(task, SCSI_STATUS_BUSY);
		return false;
	}
	cmd->pos = bytes;
	scsi_cmd_submit(cmd, BACKEND_OP_READ, cmd->lba << cmd->lu->block_shift,
	    bytes, cmd->buf, false, done);
	return true;
}

/*
 * The medium just read (cmd->buf) against the first cmd->pos bytes of the
 * Data-Out. A difference is MISCOMPARE with the offset of the first one
 * in INFORMATION (SBC-4 5.30, 5.3); true when they differ.
 */
static bool
scsi_sbc_miscompare(struct scsi_cmd *cmd)
{
	struct scsi_task *task = cmd->task;

	for (uint64_t i = 0; i < cmd->pos; i++) {
		if (cmd->buf[i] != task->data[i]) {
			scsi_task_sense_info(task, SK_MISCOMPARE,
			    ASC_MISCOMPARE_DURING_VERIFY, i);
			return true;
		}
	}
	return false;
}

/* A failed read of the medium ends the command with its error. */
static bool
scsi_sbc_read_failed(struct scsi_cmd *cmd)
{
	if (cmd->io.result >= 0)
		return false;
	scsi_sbc_fail_io(cmd, false);
	scsi_cmd_complete(cmd);
	return true;
}

static void
scsi_sbc_verify_done(struct scsi_cmd *cmd)
{
	if (!scsi_sbc_read_failed(cmd)) {
		(void)scsi_sbc_miscompare(cmd);
		scsi_cmd_complete(cmd);
	}
}

/* VERIFY 10/12/16 (SBC-4 5.28): BYTCHK 0 checks media only, 1 compares. */
void
scsi_sbc_verify(struct scsi_cmd *cmd)
{
	struct scsi_task *task = cmd->task;
	unsigned int bytchk = (task->cdb[1] & CDB_BYTCHK) >> 1;
	uint64_t bytes;

	if (task->cdb[1] & CDB_PROTECT_MASK) {
		scsi_task_sense_invalid_field(task, true, 1, 7);
		goto done;
	}
	if (bytchk > 1) {
		/* 11b would compare one block against all: not offered. */
		scsi_task_sense_invalid_field(task, true, 1, 2);
		goto done;
	}
	if (!scsi_sbc_xfer_ok(cmd, &bytes))
		goto done;
	if (bytchk == 0 || bytes == 0)
		goto done;
	task->xfer_len = (uint32_t)bytes;
	if (scsi_sbc_read_medium(cmd, bytes, bytes, scsi_sbc_verify_done))
		return;
done:
	scsi_cmd_complete(cmd);
}

static void
scsi_sbc_caw_write_done(struct scsi_cmd *cmd)
{
	if (cmd->io.result < 0)
		scsi_sbc_fail_io(cmd, true);
	scsi_cmd_complete(cmd);
}

static void
scsi_sbc_caw_read_done(struct scsi_cmd *cmd)
{
	struct scsi_task *task = cmd->task;
	uint64_t len = cmd->pos;

	if (scsi_sbc_read_failed(cmd))
		return;
	if (scsi_sbc_miscompare(cmd)) {
		scsi_cmd_complete(cmd);
		return;
	}
	scsi_cmd_submit(cmd, BACKEND_OP_WRITE, cmd->lba << cmd->lu->block_shift,
	    len, task->data + len, scsi_sbc_fua(cmd, task->cdb[1] & CDB_FUA),
	    scsi_sbc_caw_write_done);
}

/* The store's own compare-and-write finished (or found a difference). */
static void
scsi_sbc_caw_atomic_done(struct scsi_cmd *cmd)
{
	if (cmd->io.result == -EILSEQ && cmd->io.miscompare_off < cmd->io.len)
		scsi_task_sense_info(cmd->task, SK_MISCOMPARE,
		    ASC_MISCOMPARE_DURING_VERIFY, cmd->io.miscompare_off);
	else if (cmd->io.result == -EILSEQ) /* where is not known */
		scsi_task_set_sense(cmd->task, SK_MISCOMPARE,
		    ASC_MISCOMPARE_DURING_VERIFY);
	else if (cmd->io.result < 0)
		scsi_sbc_fail_io(cmd, true);
	scsi_cmd_complete(cmd);
}

/*
 * COMPARE AND WRITE (SBC-4 5.3): the data holds the compare blocks then
 * the write blocks. Atomic against other commands because the task set
 * never runs overlapping writes side by side; a store shared with other
 * gateways (rbd) compares and writes itself, atomically for all of them.
 */
void
scsi_sbc_compare_write(struct scsi_cmd *cmd)
{
	struct scsi_task *task = cmd->task;
	uint64_t bytes = cmd->nblocks << cmd->lu->block_shift;

	if (task->cdb[1] & CDB_PROTECT_MASK) {
		scsi_task_sense_invalid_field(task, true, 1, 7);
		goto done;
	}
	if (cmd->nblocks > 1) {
		scsi_task_sense_invalid_field(task, true, 13, -1);
		goto done;
	}
	if (!scsi_sbc_range_ok(cmd))
		goto done;
	task->xfer_len = (uint32_t)(2 * bytes);
	if (bytes == 0) {
		/* Data-Out for a command that moves none: the length lies. */
		if (scsi_task_data_out_len(task) > 0)
			scsi_task_sense_invalid_field(task, true, 13, -1);
		goto done;
	}
	/*
	 * The Data-Out holds the compare data and then the write data, and
	 * nothing else: more than that means the CDB's length is not the
	 * one the initiator meant (iscsi-test-cu's
	 * CompareAndWrite.InvalidDataOutSize), so nothing is written.
	 */
	if (scsi_task_data_out_len(task) > 2 * bytes) {
		scsi_task_set_sense(task, SK_ILLEGAL_REQUEST,
		    ASC_INVALID_FIELD_IN_IU);
		goto done;
	}
	if (backend_can_compare_write(cmd->lu->be)) {
		if (scsi_task_data_out_short(task, 2 * bytes))
			goto done;
		scsi_cmd_submit(cmd, BACKEND_OP_COMPARE_WRITE,
		    cmd->lba << cmd->lu->block_shift, bytes, task->data,
		    scsi_sbc_fua(cmd, task->cdb[1] & CDB_FUA),
		    scsi_sbc_caw_atomic_done);
		return;
	}
	if (scsi_sbc_read_medium(cmd, bytes, 2 * bytes, scsi_sbc_caw_read_done))
		return;
done:
	scsi_cmd_complete(cmd);
}

static void
scsi_sbc_orwrite_read_done(struct scsi_cmd *cmd)
{
	struct scsi_task *task = cmd->task;
	uint64_t i, len = cmd->pos;

	if (scsi_sbc_read_failed(cmd))
		return;
	for (i = 0; i < len; i++)
		cmd->buf[i] |= task->data[i];
	scsi_cmd_submit(cmd, BACKEND_OP_WRITE, cmd->lba << cmd->lu->block_shift,
	    len, cmd->buf, scsi_sbc_fua(cmd, task->cdb[1] & CDB_FUA),
	    scsi_sbc_write_done);
}

/*
 * ORWRITE (16) (SBC-4 5.9): each block becomes the bitwise OR of what the
 * medium holds and the data sent. The read, OR and write are atomic
 * against other commands because the task set never lets a command that
 * overlaps a write run beside it.
 */
void
scsi_sbc_orwrite(struct scsi_cmd *cmd)
{
	struct scsi_task *task = cmd->task;
	uint64_t bytes;

	/* ORPROTECT: no protection information here. */
	if (task->cdb[1] & CDB_PROTECT_MASK) {
		scsi_task_sense_invalid_field(task, true, 1, 7);
		goto done;
	}
	if (!scsi_sbc_xfer_ok(cmd, &bytes))
		goto done;
	task->xfer_len = (uint32_t)bytes;
	if (bytes == 0)
		goto done;
	if (scsi_sbc_read_medium(cmd, bytes, bytes, scsi_sbc_orwrite_read_done))
		return;
done:
	scsi_cmd_complete(cmd);
}

/* WRITE SAME with a pattern: write the filled chunk until the end. */
static void
scsi_sbc_ws_step(struct scsi_cmd *cmd)
{
	uint64_t n;

	if (cmd->io.result < 0) {
		scsi_sbc_fail_io(cmd, true);
		scsi_cmd_complete(cmd);
		return;
	}
	if (cmd->pos >= cmd->end) {
		scsi_cmd_complete(cmd);
		return;
	}
	n = cmd->end - cmd->pos;
	if (n > SBC_WS_CHUNK)
		n = SBC_WS_CHUNK;
	cmd->pos += n;
	scsi_cmd_submit(cmd, BACKEND_OP_WRITE, cmd->pos - n, n, cmd->buf,
	    scsi_sbc_fua(cmd, false), scsi_sbc_ws_step);
}

static bool
scsi_sbc_all_zero(const uint8_t *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (p[i] != 0)
			return false;
	return true;
}

/* WRITE SAME 10/16 (SBC-4 5.47), with UNMAP and NDOB. */
void
scsi_sbc_write_same(struct scsi_cmd *cmd)
{
	struct scsi_task *task = cmd->task;
	struct scsi_lu *lu = cmd->lu;
	bool sixteen = task->cdb[0] == SCSI_OP_WRITE_SAME_16;
	bool unmap = task->cdb[1] & CDB_WS_UNMAP;
	bool ndob = sixteen && (task->cdb[1] & CDB_WS_NDOB);
	uint32_t bs = lu->block_size;
	uint64_t i, chunk;

	if (task->cdb[1] & CDB_PROTECT_MASK) {
		scsi_task_sense_invalid_field(task, true, 1, 7);
		goto done;
	}
	if (task->cdb[1] & CDB_WS_ANCHOR) {
		scsi_task_sense_invalid_field(task, true, 1, 4);
		goto done;
	}
	if (unmap && !backend_can_discard(lu->be)) {
		scsi_task_sense_invalid_field(task, true, 1, 3);
		goto done;
	}
	/*
	 * Block limits VPD leaves WSNZ clear: zero blocks in the CDB means
	 * "from the LBA to the last one" (SBC-4 5.48), and that count is
	 * what MAXIMUM WRITE SAME LENGTH bounds. The task set saw the open
	 * range; take the CDB's count again here.
	 */
	scsi_sbc_cdb_range(task->cdb, &cmd->lba, &cmd->nblocks);
	if (!scsi_sbc_range_ok(cmd))
		goto done;
	if (cmd->nblocks == 0)
		cmd->nblocks =
		    __atomic_load_n(&lu->blocks, __ATOMIC_RELAXED) - cmd->lba;
	if (cmd->nblocks > (BL_MAX_WS_BYTES >> lu->block_shift)) {
		scsi_task_sense_invalid_field(task, true, sixteen ? 10 : 7, -1);
		goto done;
	}
	task->xfer_len = ndob ? 0 : bs;
	/*
	 * The Data-Out is one block, no less (nothing to repeat) and no
	 * more: a longer one says the initiator meant another command
	 * (iscsi-test-cu WriteSame10/16.InvalidDataOutSize).
	 */
	if (!ndob && scsi_task_data_out_len(task) != bs) {
		scsi_task_set_sense(task, SK_ILLEGAL_REQUEST,
		    ASC_INVALID_FIELD_IN_IU);
		goto done;
	}
	if (cmd->nblocks == 0)
		goto done; /* LBA is the capacity: nothing left to write */
	cmd->pos = cmd->lba << lu->block_shift;
	cmd->end = cmd->pos + (cmd->nblocks << lu->block_shift);
	if (unmap && backend_discard_zeroes(lu->be)) {
		/*
		 * UNMAP set: the blocks are unmapped whatever the pattern
		 * (SBC-4 5.48, 4.7.3.4) and then read as zeros (LBPRZ).
		 */
		scsi_cmd_submit(cmd, BACKEND_OP_DISCARD, cmd->pos,
		    cmd->end - cmd->pos, NULL, false, scsi_sbc_write_done);
		return;
	}
	if (ndob || scsi_sbc_all_zero(task->data, bs)) {
		/* Zeros: let the store do it without moving data. */
		scsi_cmd_submit(cmd, BACKEND_OP_WRITE_ZEROES, cmd->pos,
		    cmd->end - cmd->pos, NULL, false, scsi_sbc_write_done);
		return;
	}
	chunk = cmd->end - cmd->pos;
	if (chunk > SBC_WS_CHUNK)
		chunk = SBC_WS_CHUNK;
	cmd->buf = databuf_alloc((size_t)chunk);
	cmd->buf_len = (size_t)chunk;
	if (cmd->buf == NULL) {
		scsi_task_set_status(task, SCSI_STATUS_BUSY);
		goto done;
	}
	for (i = 0; i < chunk; i += bs)
		memcpy(cmd->buf + i, task->data, bs);
	cmd->io.result = 0;
	scsi_sbc_ws_step(cmd);
	return;
done:
	scsi_cmd_complete(cmd);
}

/* UNMAP (SBC-4 5.32): discard each descriptor in turn. */
static void
scsi_sbc_unmap_step(struct scsi_cmd *cmd)
{
	struct scsi_task *task = cmd->task;
	struct scsi_lu *lu = cmd->lu;
	uint64_t blocks = __atomic_load_n(&lu->blocks, __ATOMIC_RELAXED);

	if (cmd->io.result < 0) {
		scsi_task_set_sense(task, SK_MEDIUM_ERROR, ASC_WRITE_ERROR);
		scsi_cmd_complete(cmd);
		return;
	}
	while (cmd->pos + SBC_UNMAP_DESC_LEN <= cmd->end) {
		const uint8_t *d = task->data + cmd->pos;
		uint64_t lba = get_be64(d);
		uint32_t n = get_be32(d + 8);

		cmd->pos += SBC_UNMAP_DESC_LEN;
		/* Checked before the first discard; the capacity may shrink. */
		if (lba > blocks || n > blocks - lba) {
			scsi_task_set_sense(task, SK_ILLEGAL_REQUEST,
			    ASC_LBA_OUT_OF_RANGE);
			break;
		}
		if (n == 0)
			continue;
		scsi_cmd_submit(cmd, BACKEND_OP_DISCARD, lba << lu->block_shift,
		    (uint64_t)n << lu->block_shift, NULL, false,
		    scsi_sbc_unmap_step);
		return;
	}
	scsi_cmd_complete(cmd);
}

void
scsi_sbc_unmap(struct scsi_cmd *cmd)
{
	struct scsi_task *task = cmd->task;
	uint32_t plen = get_be16(task->cdb + 7);
	uint32_t dlen, i;
	uint64_t blocks, total = 0;

	if (!backend_can_discard(cmd->lu->be)) {
		scsi_task_set_sense(task, SK_ILLEGAL_REQUEST,
		    ASC_INVALID_OPCODE);
		goto done;
	}
	if (task->cdb[1] & 0x01) {
		/* ANCHOR */
		scsi_task_sense_invalid_field(task, true, 1, 0);
		goto done;
	}
	task->xfer_len = plen;
	if (plen == 0)
		goto done;
	if (scsi_task_data_out_short(task, plen))
		goto done;
	if (plen < 8) {
		scsi_task_set_sense(task, SK_ILLEGAL_REQUEST,
		    ASC_PARAMETER_LIST_LENGTH_ERROR);
		goto done;
	}
	dlen = get_be16(task->data + 2);
	if (dlen + 8 > plen)
		dlen = (plen - 8) / SBC_UNMAP_DESC_LEN * SBC_UNMAP_DESC_LEN;
	if (dlen / SBC_UNMAP_DESC_LEN > BL_MAX_UNMAP_DESCS) {
		/*
		 * SBC-4 5.32.2: more descriptors than VPD 0xB0's MAXIMUM
		 * UNMAP BLOCK DESCRIPTOR COUNT; point at the length saying so.
		 */
		scsi_task_sense_invalid_field(task, false, 2, -1);
		goto done;
	}
	/*
	 * SBC-4 5.32.2: the total over all descriptors is what MAXIMUM
	 * UNMAP LBA COUNT bounds, and every range must lie inside the
	 * medium. Both are checked before anything is unmapped, so a
	 * refused command changes nothing.
	 */
	blocks = __atomic_load_n(&cmd->lu->blocks, __ATOMIC_RELAXED);
	for (i = 8; i + SBC_UNMAP_DESC_LEN <= 8 + dlen;
	     i += SBC_UNMAP_DESC_LEN) {
		uint64_t lba = get_be64(task->data + i);
		uint32_t n = get_be32(task->data + i + 8);

		total += n;
		if (total > BL_MAX_UNMAP_BLOCKS) {
			scsi_task_sense_invalid_field(task, false, i + 8, -1);
			goto done;
		}
		if (lba > blocks || n > blocks - lba) {
			scsi_task_set_sense(task, SK_ILLEGAL_REQUEST,
			    ASC_LBA_OUT_OF_RANGE);
			goto done;
		}
	}
	cmd->pos = 8;
	cmd->end = 8 + dlen;
	cmd->io.result = 0;
	scsi_sbc_unmap_step(cmd);
	return;
done:
	scsi_cmd_complete(cmd);
}

void
scsi_sbc_read_capacity10(struct scsi_task *task, const uint64_t *luns,
    unsigned int n)
{
	uint8_t b[8];
	uint64_t blocks = scsi_lu_refresh_blocks(task->lu);
	uint64_t last = blocks ? blocks - 1 : 0;

	(void)luns;
	(void)n;
	/* SBC-4 5.21: 0xffffffff says "use READ CAPACITY (16)". */
	put_be32(b, last > UINT32_MAX ? UINT32_MAX : (uint32_t)last);
	put_be32(b + 4, task->lu->block_size);
	scsi_task_data_in(task, b, sizeof(b), sizeof(b));
}

static void
scsi_sbc_read_capacity16(struct scsi_task *task)
{
	struct scsi_lu *lu = task->lu;
	uint8_t b[RC16_LEN];
	uint64_t blocks = scsi_lu_refresh_blocks(lu);

	memset(b, 0, sizeof(b));
	put_be64(b, blocks ? blocks - 1 : 0);
	put_be32(b + 8, lu->block_size);
	/*
	 * SBC-4 5.20.2: LOGICAL BLOCKS PER PHYSICAL BLOCK EXPONENT (byte 13
	 * bits 3..0); LOWEST ALIGNED LOGICAL BLOCK ADDRESS stays 0.
	 */
	b[13] = (uint8_t)(lu->lbppb_exp & 0x0f);
	if (backend_can_discard(lu->be)) {
		b[14] = RC16_LBPME;
		if (backend_discard_zeroes(lu->be))
			b[14] |= RC16_LBPRZ;
	}
	scsi_task_data_in(task, b, sizeof(b), get_be32(task->cdb + 10));
}

/* GET LBA STATUS (SBC-4 5.6): everything is reported mapped. */
static void
scsi_sbc_get_lba_status(struct scsi_task *task)
{
	uint8_t b[24];
	uint64_t lba = get_be64(task->cdb + 2);
	uint64_t blocks = __atomic_load_n(&task->lu->blocks, __ATOMIC_RELAXED);
	uint64_t left;

	if (lba >= blocks) {
		scsi_task_set_sense(task, SK_ILLEGAL_REQUEST,
		    ASC_LBA_OUT_OF_RANGE);
		return;
	}
	left = blocks - lba;
	memset(b, 0, sizeof(b));
	put_be32(b, 20);
	put_be64(b + 8, lba);
	put_be32(b + 16, left > UINT32_MAX ? UINT32_MAX : (uint32_t)left);
	/* After a SANITIZE BLOCK ERASE, until a write: deallocated. */
	if (__atomic_load_n(&task->lu->all_unmapped, __ATOMIC_RELAXED))
		b[20] = 1;
	scsi_task_data_in(task, b, sizeof(b), get_be32(task->cdb + 10));
}

void
scsi_sbc_service_action_in(struct scsi_task *task, const uint64_t *luns,
    unsigned int n)
{
	(void)luns;
	(void)n;
	switch (task->cdb[1] & 0x1f) {
	case SCSI_SAI_READ_CAPACITY_16:
		scsi_sbc_read_capacity16(task);
		break;
	case SCSI_SAI_GET_LBA_STATUS:
		scsi_sbc_get_lba_status(task);
		break;
	default:
		scsi_task_sense_invalid_field(task, true, 1, 4);
		break;
	}
}

void
scsi_sbc_start_stop(struct scsi_task *task, const uint64_t *luns,
    unsigned int n)
{
	/* A virtual disk has no motor; the medium is always loaded. */
	(void)task;
	(void)luns;
	(void)n;
}

/* READ DEFECT DATA 10/12 (SBC-4 5.16/5.17): an empty list. */
void
scsi_sbc_read_defect(struct scsi_task *task, const uint64_t *luns,
    unsigned int n)
{
	uint8_t b[8];

	(void)luns;
	(void)n;
	memset(b, 0, sizeof(b));
	if (task->cdb[0] == SCSI_OP_READ_DEFECT_DATA_10) {
		b[1] = task->cdb[2] & 0x1f;
		scsi_task_data_in(task, b, 4, get_be16(task->cdb + 7));
	} else {
		b[1] = task->cdb[1] & 0x1f;
		scsi_task_data_in(task, b, 8, get_be32(task->cdb + 6));
	}
}
