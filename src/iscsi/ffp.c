/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The ietd authors */
/*
 * Full feature phase SCSI traffic (RFC 7143 11.3 - 11.8): SCSI Command
 * with immediate data, unsolicited and solicited (R2T) Data-Out, the task
 * handed to the target layer, then Data-In split at the initiator's
 * MaxRecvDataSegmentLength with the status in the last one when there is
 * no sense, or a SCSI Response. Also Logout and the CmdSN of non-SCSI
 * requests. SCSI semantics stay in src/scsi/.
 */
#include <errno.h>
#include <string.h>

#include "util/alloc.h"
#include "util/databuf.h"
#include "util/be.h"
#include "util/log.h"
#include "util/objcache.h"
#include "target/target.h"
#include "iscsi.h"
#include "iscsi_int.h"

#define SENSE_KEY_ILLEGAL_REQUEST 0x05
#define ASC_INVALID_FIELD_IN_CDB 0x24
#define SENSE_LEN_PREFIX 2 /* RFC 7143 11.4.7.2: SenseLength */
#define LUN_NOT_ADDRESSABLE UINT64_MAX
#define LUN_AM_PERIPHERAL 0x00 /* SAM-5 4.7.7 */
#define LUN_AM_FLAT 0x01

uint64_t
ffp_lun_decode(const uint8_t *lun)
{
	unsigned int am = lun[0] >> 6;

	/* SAM-5 4.7: only the first level of the hierarchy is used. */
	if (am == LUN_AM_PERIPHERAL)
		return (lun[0] & 0x3f) == 0 ? lun[1] : LUN_NOT_ADDRESSABLE;
	if (am == LUN_AM_FLAT)
		return (uint64_t)(lun[0] & 0x3f) << 8 | lun[1];
	return LUN_NOT_ADDRESSABLE;
}

/* A response without a task (out of memory for one): BUSY. */
static void
ffp_send_busy(struct iscsi_conn *conn, const uint8_t *cmd)
{
	uint8_t rsp[ISCSI_BHS_LEN] = {0};

	rsp[BHS_OPCODE] = ISCSI_OP_SCSI_RSP;
	rsp[BHS_FLAGS] = ISCSI_FLAG_FINAL;
	rsp[SCSI_RSP_STATUS] = SCSI_STATUS_BUSY;
	memcpy(rsp + BHS_ITT, cmd + BHS_ITT, 4);
	pdu_fill_sn(conn, rsp, true);
	(void)pdu_tx(conn, rsp, NULL, 0, NULL, NULL);
}

static void
ffp_send_response(struct iscsi_task *task)
{
	struct iscsi_conn *conn = task->conn;
	struct scsi_task *st = &task->st;
	uint8_t bhs[ISCSI_BHS_LEN];
	uint32_t resid = 0, sent = 0, total = 0, expect, sd_len = 0;
	uint32_t burst = conn->session->params.v[PARAM_MAX_BURST_LENGTH];
	uint8_t rflags = 0, *sd = NULL;
	bool collapse;
	/* The page cache itself when the SCSI layer lent it. */
	const uint8_t *data = st->data_lent != NULL ? st->data_lent : st->data;

	/*
	 * RFC 7143 11.4.5: residuals against the Expected Data Transfer
	 * Length of the direction the command moved data in. A command
	 * that takes Data-Out but came without W was promised no bytes:
	 * all it describes is overflow (and none of it was written).
	 */
	expect = task->edtl;
	if (st->xfer_out)
		expect = task->write ? task->edtl : 0;
	else if (st->xfer_len > 0)
		expect = task->read ? task->edtl : 0;
	if (st->xfer_len > expect) {
		rflags = SCSI_RSP_FLAG_OVERFLOW;
		resid = st->xfer_len - expect;
	} else if (!st->xfer_out && st->data_in_len < expect) {
		/*
		 * Data-In: what was actually sent counts, so an allocation
		 * length larger than the data (MODE SENSE) is an underflow.
		 */
		rflags = SCSI_RSP_FLAG_UNDERFLOW;
		resid = expect - st->data_in_len;
	} else if (st->xfer_out && st->xfer_len < expect) {
		rflags = SCSI_RSP_FLAG_UNDERFLOW;
		resid = expect - st->xfer_len;
	}
	task_release_window(task);
	if (task->read) {
		total =
		    st->data_in_len < task->edtl ? st->data_in_len : task->edtl;
	}
	stats_task_done(task, total);
	/* RFC 7143 11.7.4: status may ride on the last Data-In without sense.
	 */
	collapse = total > 0 && st->sense_len == 0;
	while (sent < total) {
		uint32_t n = total - sent;
		uint32_t burst_left = burst - sent % burst;
		bool last;

		if (n > conn->max_xmit_dsl)
			n = conn->max_xmit_dsl;
		/*
		 * RFC 7143 13.13: a Data-In sequence carries at most
		 * MaxBurstLength bytes; F ends each sequence (11.7.1).
		 */
		if (n > burst_left)
			n = burst_left;
		last = sent + n == total;
		memset(bhs, 0, sizeof(bhs));
		bhs[BHS_OPCODE] = ISCSI_OP_DATA_IN;
		if (last || n == burst_left)
			bhs[BHS_FLAGS] = ISCSI_FLAG_FINAL;
		memcpy(bhs + BHS_LUN, task->lun_raw, 8);
		put_be32(bhs + BHS_ITT, task->itt);
		put_be32(bhs + BHS_TTT, ISCSI_RSVD_TAG);
		put_be32(bhs + DATA_DATASN, task->datasn++);
		put_be32(bhs + DATA_BUFFER_OFFSET, sent);
		if (last && collapse) {
			bhs[BHS_FLAGS] |= DATA_FLAG_STATUS | rflags;
			bhs[DATA_STATUS] = st->status;
			put_be32(bhs + DATA_RESID, resid);
			pdu_fill_sn(conn, bhs, true);
		} else {
			pdu_fill_sn(conn, bhs, false);
			put_be32(bhs + BHS_STATSN, 0);
		}
		if (pdu_tx(conn, bhs, data + sent, n, NULL, task) != 0)
			return;
		sent += n;
	}
	if (collapse)
		return;
	memset(bhs, 0, sizeof(bhs));
	if (st->sense_len > 0) {
		/*
		 * Before the StatSN is taken. Without memory for it the status
		 * cannot be sent, and at ErrorRecoveryLevel 0 the connection
		 * goes; but later, at the end of this round: our callers still
		 * use the session and the task list (conn_close_after_tx).
		 */
		sd_len = SENSE_LEN_PREFIX + st->sense_len;
		sd = mem_alloc(sd_len);
		if (sd == NULL) {
			conn_log(conn, LOG_WARNING,
			    "out of memory for the sense data of ITT 0x%08x: "
			    "closing the connection",
			    task->itt);
			conn_close_after_tx(conn);
			return;
		}
		put_be16(sd, (uint16_t)st->sense_len);
		memcpy(sd + SENSE_LEN_PREFIX, st->sense, st->sense_len);
	}
	bhs[BHS_OPCODE] = ISCSI_OP_SCSI_RSP;
	bhs[BHS_FLAGS] = ISCSI_FLAG_FINAL | rflags;
	bhs[SCSI_RSP_RESPONSE] = ISCSI_RESPONSE_COMPLETED;
	bhs[SCSI_RSP_STATUS] = st->status;
	put_be32(bhs + BHS_ITT, task->itt);
	pdu_fill_sn(conn, bhs, true);
	/* ExpDataSN: Data-In and R2T PDUs of this command (11.4.6). */
	put_be32(bhs + SCSI_RSP_EXP_DATASN,
	    task->read ? task->datasn : task->r2tsn);
	put_be32(bhs + SCSI_RSP_RESID, resid);
	(void)pdu_tx(conn, bhs, sd, sd_len, sd, NULL);
}

/*
 * A task that ended before it was executed (announced, then aborted by a
 * reset or its own abort while it waited for its CmdSN or its Data-Out):
 * the rest of a Data-Out PDU being read for it goes nowhere (it may have
 * been headed for the store, which is no longer ours to write), later
 * ones find no task, and its held CmdSN stays only as a number.
 */
static void
ffp_task_unfeed(struct iscsi_task *task)
{
	struct iscsi_conn *conn = task->conn;

	if (conn->rx.task == task)
		conn->rx.data = NULL;
	if (task->state == TASK_S_HELD && conn->session != NULL)
		session_drop_held(conn->session, task);
}

static void
ffp_task_done(struct scsi_task *st)
{
	struct iscsi_task *task = st->priv;
	struct iscsi_conn *conn = task->conn;

	task->in_scsi = false;
	if (st->data_lent != NULL && st->data != NULL) {
		/* Sent from the page cache: the buffer serves the next one. */
		databuf_free(st->data, st->data_len);
		st->data = NULL;
		st->data_len = 0;
	}
	if (task->state == TASK_S_HELD || task->state == TASK_S_DATA)
		ffp_task_unfeed(task);
	if (conn->state == CONN_S_CLOSED || task->aborted || st->aborted) {
		/* RFC 7143 11.5.1: an aborted task gets no response. */
		tmf_task_gone(task);
		if (conn->state != CONN_S_CLOSED)
			task_finish(task);
		task_put(task);
		return;
	}
	ffp_send_response(task);
	task_finish(task);
	task_put(task);
}

/* Answered without the SCSI layer: too large, no memory, queue full. */
static bool
ffp_task_refused(const struct iscsi_task *task)
{
	return task->oversize || task->st.status != SCSI_STATUS_GOOD;
}

static void
ffp_task_exec(struct iscsi_task *task)
{
	struct iscsi_conn *conn = task->conn;

	task->state = TASK_S_EXEC;
	if (ffp_task_refused(task)) {
		/* Refused before it reached the SCSI layer. */
		ffp_send_response(task);
		task_finish(task);
		return;
	}
	if (!task->in_scsi) {
		/* An announced one is the SCSI layer's already. */
		task->in_scsi = true;
		task_get(task);
	}
	conn_dbg(conn, 2, "exec ITT 0x%08x CDB 0x%02x LUN %llu", task->itt,
	    task->st.cdb[0], (unsigned long long)task->st.lun);
	target_task_exec(conn->session->target, &task->st);
}

/* Ask for the next part of a write (RFC 7143 11.8). */
static int
ffp_send_r2ts(struct iscsi_task *task)
{
	struct iscsi_conn *conn = task->conn;
	struct iscsi_session *s = conn->session;
	uint32_t maxr2t = s->params.v[PARAM_MAX_OUTSTANDING_R2T];
	uint32_t burst = s->params.v[PARAM_MAX_BURST_LENGTH];

	if (maxr2t > ISCSI_R2T_MAX)
		maxr2t = ISCSI_R2T_MAX;
	while (task->r2t_count < maxr2t && task->r2t_next < task->edtl) {
		struct iscsi_r2t *r = NULL;
		uint8_t bhs[ISCSI_BHS_LEN] = {0};
		uint32_t len = task->edtl - task->r2t_next;

		for (unsigned int i = 0; i < ISCSI_R2T_MAX; i++) {
			if (!task->r2t[i].used) {
				r = &task->r2t[i];
				break;
			}
		}
		if (r == NULL)
			break;
		if (len > burst)
			len = burst;
		if (conn->ttt_next == ISCSI_RSVD_TAG)
			conn->ttt_next = 1;
		r->used = true;
		r->ttt = conn->ttt_next++;
		r->offset = task->r2t_next;
		r->len = len;
		r->got = 0;
		r->datasn = 0;
		task->r2t_count++;
		task->r2t_next += len;
		bhs[BHS_OPCODE] = ISCSI_OP_R2T;
		bhs[BHS_FLAGS] = ISCSI_FLAG_FINAL;
		memcpy(bhs + BHS_LUN, task->lun_raw, 8);
		put_be32(bhs + BHS_ITT, task->itt);
		put_be32(bhs + BHS_TTT, r->ttt);
		pdu_fill_sn(conn, bhs, false);
		put_be32(bhs + R2T_R2TSN, task->r2tsn++);
		put_be32(bhs + R2T_BUFFER_OFFSET, r->offset);
		put_be32(bhs + R2T_DESIRED_LEN, r->len);
		if (pdu_tx(conn, bhs, NULL, 0, NULL, NULL) != 0)
			return -ENOMEM;
	}
	return 0;
}

/*
 * A task that is going to wait (for the commands before it in CmdSN
 * order, or for its Data-Out) is announced to its LU: a LOGICAL UNIT
 * RESET, CLEAR TASK SET, TARGET RESET or PREEMPT AND ABORT of any session,
 * on any thread, then finds it and ends it (scsi_task_announce). From then
 * on it is the SCSI layer's, as if it were executing: done() comes once,
 * and an abort waits for it. A task for no LUN, or one answered here
 * (refused), changes nothing and waits unannounced.
 */
static void
ffp_task_announce(struct iscsi_task *task)
{
	struct iscsi_session *s = task->conn->session;
	struct scsi_lu *lu;
	int rc;

	task->wait_ms = loop_now_ms();
	if (task->in_scsi || task->aborted || ffp_task_refused(task) ||
	    s == NULL || s->target == NULL)
		return;
	lu = target_lu_find(s->target, task->st.lun);
	if (lu == NULL)
		return;
	rc = scsi_task_announce(lu, &task->st);
	if (rc == 0) {
		task->in_scsi = true;
		task_get(task);
	} else if (rc == -ENOMEM) {
		/*
		 * Unannounced, a reset of another session would not find it:
		 * it is answered BUSY instead (SAM-5 5.3.1), in its CmdSN turn
		 * when held, at once when it waits for Data-Out.
		 */
		scsi_task_set_status(&task->st, SCSI_STATUS_BUSY);
	}
	scsi_lu_put(lu);
}

/* Move a delivered task on: more data to ask for, or execute it. */
static void
ffp_task_continue(struct iscsi_task *task)
{
	/* Aborted while it waited: its end comes from the SCSI layer. */
	if (task->state != TASK_S_DATA || task->aborted)
		return;
	if (task->write && !ffp_task_refused(task) &&
	    task->data_got < task->edtl) {
		/* Unsolicited data first (RFC 7143 11.8: R2T after it). */
		if (task->unsol_next >= task->unsol_end)
			(void)ffp_send_r2ts(task);
		ffp_task_announce(task);
		/*
		 * No memory to announce it: refused (BUSY), it would drop
		 * the rest of its data and never run. Answer it now.
		 */
		if (!ffp_task_refused(task))
			return;
	}
	ffp_task_exec(task);
}

void
ffp_task_deliver(struct iscsi_task *task)
{
	if (task->state != TASK_S_HELD)
		return;
	task->state = TASK_S_DATA;
	ffp_task_continue(task);
}

/*
 * Reject a SCSI Command. Its CmdSN still counts as received, or every
 * later command would wait for it forever (RFC 7143 4.2.2.1: the
 * initiator does not reuse a CmdSN that was answered).
 */
static int
ffp_reject_cmd(struct iscsi_conn *conn, const uint8_t *bhs, uint8_t reason)
{
	(void)ffp_cmdsn_consume(conn, bhs);
	return pdu_reject(conn, bhs, reason);
}

/*
 * Walk the AHSs of a SCSI Command (RFC 7143 11.2.2) and find its Extended
 * CDB. "AHSLength: ... the effective length in bytes of the AHS,
 * excluding AHSType and AHSLength and padding" (11.2.2.1): an AHS takes
 * 3 + AHSLength bytes, rounded up to 4. An Extended CDB AHS has a reserved
 * byte, then CDB bytes 16 on (11.2.2.3: AHSLength = CDBLength - 15; it
 * "MUST NOT be used if the CDBLength is less than 17").
 * The AHSs must tile TotalAHSLength; anything else is malformed and the
 * command is rejected rather than run with part of its CDB. Returns 0
 * with *ext (NULL: none) and *ext_len, or -EPROTO.
 */
static int
ffp_ahs_parse(struct iscsi_conn *conn, const uint8_t **ext, uint32_t *ext_len)
{
	const struct iscsi_rx *rx = &conn->rx;
	const char *why = NULL;
	uint32_t off = 0;

	*ext = NULL;
	*ext_len = 0;
	/* TotalAHSLength counts words: whole AHS headers always fit. */
	while (why == NULL && off < rx->ahs_len) {
		const uint8_t *a = rx->ahs + off;
		uint16_t alen = get_be16(a);
		uint32_t span = (ISCSI_AHS_LEN_TYPE + alen + 3u) & ~3u;

		if (span > rx->ahs_len - off) {
			why = "AHSLength past TotalAHSLength";
			break;
		}
		off += span;
		/* Bidirectional Read and others: no command here uses them. */
		if (a[2] != ISCSI_AHS_EXT_CDB)
			continue;
		if (*ext != NULL) {
			why = "two Extended CDB AHSs";
		} else if (alen < 2) {
			/* A CDB of 16 bytes or less: see above. */
			why = "Extended CDB AHS for a CDB under 17 bytes";
		} else if (alen - 1u > SCSI_CDB_MAX - SCSI_CMD_CDB_LEN) {
			why = "CDB over 260 bytes";
		} else {
			*ext = a + ISCSI_AHS_HDR_LEN;
			*ext_len = alen - 1u;
		}
	}
	if (why == NULL)
		return 0;
	conn_log(conn, LOG_INFO, "malformed AHS in SCSI Command ITT 0x%08x: %s",
	    get_be32(rx->bhs + BHS_ITT), why);
	return -EPROTO;
}

/*
 * SCSI Command header (RFC 7143 11.3): check the CmdSN window and the
 * immediate data rules before anything is allocated, then create the
 * task and point the receive state machine at its buffer.
 */
int
ffp_hdr_scsi_cmd(struct iscsi_conn *conn)
{
	struct iscsi_rx *rx = &conn->rx;
	struct iscsi_session *s = conn->session;
	const uint8_t *bhs = rx->bhs;
	uint8_t flags = bhs[BHS_FLAGS];
	bool immediate = (bhs[BHS_OPCODE] & ISCSI_OP_IMMEDIATE) != 0;
	uint32_t cmdsn = get_be32(bhs + BHS_CMDSN);
	uint32_t edtl = get_be32(bhs + SCSI_CMD_EDTL);
	uint32_t itt = get_be32(bhs + BHS_ITT);
	uint32_t fbl = s->params.v[PARAM_FIRST_BURST_LENGTH];
	struct iscsi_task *task;
	const uint8_t *ext_cdb;
	uint32_t ext_cdb_len;

	conn_dbg(conn, 2, "SCSI Command ITT 0x%08x CmdSN %u%s (window %u..%u)",
	    itt, cmdsn, immediate ? " immediate" : "", s->exp_cmdsn,
	    s->max_cmdsn);
	if (!immediate && session_cmdsn_check(s, cmdsn) < 0) {
		conn_dbg(conn, 1, "CmdSN %u outside %u..%u, dropped", cmdsn,
		    s->exp_cmdsn, s->max_cmdsn);
		return 0;
	}
	/* RFC 7143 11.3: immediate data only with W, within its limits. */
	if (rx->dlen > 0 &&
	    ((flags & SCSI_CMD_FLAG_WRITE) == 0 || rx->dlen > edtl ||
		!s->params.v[PARAM_IMMEDIATE_DATA] || rx->dlen > fbl)) {
		conn_log(conn, LOG_INFO, "bad immediate data of %u bytes",
		    rx->dlen);
		return ffp_reject_cmd(conn, bhs, REJECT_PROTOCOL_ERROR);
	}
	if ((flags & ISCSI_FLAG_FINAL) == 0 &&
	    ((flags & SCSI_CMD_FLAG_WRITE) == 0 ||
		s->params.v[PARAM_INITIAL_R2T])) {
		/* Unsolicited Data-Out needs InitialR2T=No (13.10). */
		return ffp_reject_cmd(conn, bhs, REJECT_PROTOCOL_ERROR);
	}
	if (itt == ISCSI_RSVD_TAG || task_find(conn, itt) != NULL)
		return ffp_reject_cmd(conn, bhs, REJECT_TASK_IN_PROGRESS);
	if (ffp_ahs_parse(conn, &ext_cdb, &ext_cdb_len) != 0)
		return ffp_reject_cmd(conn, bhs, REJECT_PROTOCOL_ERROR);
	task = task_new(conn);
	if (task == NULL) {
		/*
		 * Answered, so its CmdSN counts as received (RFC 7143
		 * 4.2.2.1): else every later command waits for it forever.
		 */
		(void)ffp_cmdsn_consume(conn, bhs);
		ffp_send_busy(conn, bhs);
		return 0;
	}
	task->state = TASK_S_HELD;
	task->itt = itt;
	task->cmdsn = cmdsn;
	task->edtl = edtl;
	/* Its immediate data may still be on its way: the clock starts. */
	task->wait_ms = loop_now_ms();
	task->start_ns = stats_now_ns();
	task->immediate = immediate;
	task->read = (flags & SCSI_CMD_FLAG_READ) != 0;
	task->write = (flags & SCSI_CMD_FLAG_WRITE) != 0;
	memcpy(task->lun_raw, bhs + BHS_LUN, 8);
	list_add_tail(&conn->tasks, &task->node);

	memcpy(task->st.cdb, bhs + SCSI_CMD_CDB, SCSI_CMD_CDB_LEN);
	task->st.cdb_len = SCSI_CMD_CDB_LEN;
	/* RFC 7143 11.2.2.3: an Extended CDB AHS carries bytes 16 on. */
	if (ext_cdb != NULL) {
		memcpy(task->st.cdb + SCSI_CMD_CDB_LEN, ext_cdb, ext_cdb_len);
		task->st.cdb_len += ext_cdb_len;
	}
	task->st.lun = ffp_lun_decode(bhs + BHS_LUN);
	task->st.attr = (enum scsi_attr)(flags & SCSI_CMD_ATTR_MASK);
	if (task->st.attr > SCSI_ATTR_ACA)
		task->st.attr = SCSI_ATTR_SIMPLE;
	task->st.nexus = &s->nexus;
	task->st.queue = conn->il != NULL ? conn->il->queue : NULL;
	task->st.data_out = task->write;
	task->st.data_in = task->read;
	/*
	 * Data-In may come straight from a tmpfs file's mapping: writev
	 * copies it into the socket and fails cleanly (EFAULT) should the
	 * file be cut short under it. A data digest would read it here, in
	 * user space, where the same mishap is a SIGBUS: copy then.
	 */
	task->st.lend_ok = task->read && !task->write && !conn->ddigest;
	task->st.done = ffp_task_done;
	task->st.priv = task;
	task->st.status = SCSI_STATUS_GOOD;
	conn->ntasks++;
	if (task->read && task->write) {
		/* XXX: bidirectional commands are not supported. */
		task->oversize = true;
	} else if (conn->ntasks > s->queued + ISCSI_IMMEDIATE_SLACK) {
		/*
		 * Immediate commands sit outside the CmdSN window; bound the
		 * buffers they can pin (SAM-5 5.3: TASK SET FULL).
		 */
		task->st.status = SCSI_STATUS_TASK_SET_FULL;
	} else if (edtl > ISCSI_TASK_DATA_MAX) {
		task->oversize = true;
	} else if (edtl > 0 && (task->read || task->write) &&
	    (task->st.status = task_data_reserve(task, edtl)) ==
		SCSI_STATUS_GOOD) {
		/*
		 * A buffer only for a direction the flags name (RFC 7143
		 * 11.3.1: with neither R nor W the length must be 0). It may
		 * come back from the cache holding an earlier command's bytes:
		 * with W they are all overwritten before the command runs
		 * (ffp_task_continue), without W the SCSI layer does not read
		 * it as Data-Out (scsi.h), and only the Data-In bytes the SCSI
		 * layer placed are ever sent.
		 */
		task->st.data = databuf_alloc(edtl);
		if (task->st.data == NULL)
			task->st.status = SCSI_STATUS_BUSY;
		else
			task->st.data_len = edtl;
	}
	if (task->oversize)
		scsi_task_set_sense(&task->st, SENSE_KEY_ILLEGAL_REQUEST,
		    ASC_INVALID_FIELD_IN_CDB, 0);
	if (rx->dlen > 0)
		rx->data = task->st.data;
	task_get(task);
	rx->task = task;
	return 0;
}

/*
 * SCSI Command with its immediate data in: note how much unsolicited data
 * may follow, then deliver it now (immediate, or its CmdSN's turn) or
 * hold it until the commands before it arrived (RFC 7143 3.2.2.1).
 */
int
ffp_data_scsi_cmd(struct iscsi_conn *conn)
{
	struct iscsi_rx *rx = &conn->rx;
	struct iscsi_session *s = conn->session;
	struct iscsi_task *task = rx->task;
	uint32_t fbl = s->params.v[PARAM_FIRST_BURST_LENGTH];
	int chk;

	if (task == NULL)
		return 0;
	task->data_got = rx->dlen;
	task->unsol_next = rx->dlen;
	task->unsol_end = rx->dlen;
	if ((rx->bhs[BHS_FLAGS] & ISCSI_FLAG_FINAL) == 0 && task->write) {
		/* RFC 7143 13.14: unsolicited data up to FirstBurstLength. */
		task->unsol_end = task->edtl < fbl ? task->edtl : fbl;
		if (task->unsol_end < rx->dlen)
			task->unsol_end = rx->dlen;
	}
	task->r2t_next = task->unsol_end;
	if (task->immediate) {
		ffp_task_deliver(task);
		return 0;
	}
	task->counted = true;
	s->active++;
	chk = session_cmdsn_check(s, task->cmdsn);
	if (chk == 0) {
		/* Deliver in CmdSN order: this one, then any held after it. */
		task_get(task);
		s->exp_cmdsn++;
		ffp_task_deliver(task);
		session_deliver_held(s);
		task_put(task);
		return 0;
	}
	if (chk > 0 && session_hold(s, task->cmdsn, task) == 0) {
		ffp_task_announce(task);
		return 0;
	}
	/* Outside the window or a repeated CmdSN: dropped. */
	task_finish(task);
	return 0;
}

/*
 * Data-Out header (RFC 7143 11.7): unsolicited data continues the
 * command's first burst; solicited data answers one of our R2Ts. Either
 * way DataSN and Buffer Offset must be the next expected ones (we ask for
 * DataPDUInOrder and DataSequenceInOrder) and the length must fit.
 */
int
ffp_hdr_data_out(struct iscsi_conn *conn)
{
	struct iscsi_rx *rx = &conn->rx;
	const uint8_t *bhs = rx->bhs;
	uint32_t itt = get_be32(bhs + BHS_ITT);
	uint32_t ttt = get_be32(bhs + BHS_TTT);
	uint32_t datasn = get_be32(bhs + DATA_DATASN);
	uint32_t off = get_be32(bhs + DATA_BUFFER_OFFSET);
	struct iscsi_task *task = task_find(conn, itt);
	int idx = -1;

	if (task == NULL || ffp_task_refused(task) || !task->write ||
	    task->state > TASK_S_DATA || task->aborted) {
		/* An aborted or refused command: its data is dropped. */
		conn_dbg(conn, 1, "Data-Out for unknown ITT 0x%08x", itt);
		return 0;
	}
	if (ttt == ISCSI_RSVD_TAG) {
		if (off != task->unsol_next ||
		    rx->dlen > task->unsol_end - task->unsol_next ||
		    datasn != task->unsol_datasn)
			goto bad;
	} else {
		for (int i = 0; i < ISCSI_R2T_MAX; i++) {
			if (task->r2t[i].used && task->r2t[i].ttt == ttt) {
				idx = i;
				break;
			}
		}
		if (idx < 0)
			goto bad;
		/* RFC 7143 11.7.5/11.7.6: in order, within the burst. */
		if (off != task->r2t[idx].offset + task->r2t[idx].got ||
		    rx->dlen > task->r2t[idx].len - task->r2t[idx].got ||
		    datasn != task->r2t[idx].datasn)
			goto bad;
	}
	if (rx->dlen == 0) {
		rx->data = NULL;
	} else if (task->st.data != NULL) {
		rx->data = task->st.data + off;
	} else {
		goto bad;
	}
	rx->r2t_idx = idx;
	task_get(task);
	rx->task = task;
	return 0;
bad:
	conn_log(conn, LOG_INFO,
	    "bad Data-Out ITT 0x%08x TTT 0x%08x DataSN %u offset %u len %u",
	    itt, ttt, datasn, off, rx->dlen);
	return pdu_reject(conn, bhs, REJECT_PROTOCOL_ERROR);
}

int
ffp_data_data_out(struct iscsi_conn *conn)
{
	struct iscsi_rx *rx = &conn->rx;
	struct iscsi_task *task = rx->task;

	if (task == NULL)
		return 0;
	task->data_got += rx->dlen;
	if (rx->r2t_idx < 0) {
		task->unsol_next += rx->dlen;
		task->unsol_datasn++;
		/* The F bit ends the unsolicited burst early (11.7.1). */
		if ((rx->bhs[BHS_FLAGS] & ISCSI_FLAG_FINAL) != 0)
			task->unsol_end = task->unsol_next;
	} else {
		struct iscsi_r2t *r = &task->r2t[rx->r2t_idx];

		r->got += rx->dlen;
		r->datasn++;
		if (r->got == r->len) {
			r->used = false;
			task->r2t_count--;
		}
	}
	/* An early final unsolicited PDU: solicit from where it ended. */
	if (rx->r2t_idx < 0 && task->r2tsn == 0 && task->r2t_count == 0)
		task->r2t_next = task->unsol_end;
	ffp_task_continue(task);
	return 0;
}

/* Connection closing: abort what the SCSI layer holds, drop the rest. */
void
ffp_conn_drop_tasks(struct iscsi_conn *conn)
{
	while (!list_empty(&conn->tasks)) {
		struct iscsi_task *t =
		    list_first_entry(&conn->tasks, struct iscsi_task, node);

		list_remove(&t->node);
		t->state = TASK_S_DONE;
		t->counted = false;
		conn->ntasks--;
		if (t->in_scsi) {
			t->aborted = true;
			scsi_task_abort(&t->st);
		}
		task_put(t);
	}
}

bool
ffp_conn_stalled(struct iscsi_conn *conn, uint64_t now)
{
	struct list_node *pos;

	/* Back-pressure: we are the ones not reading its data now. */
	if (conn->rx_paused)
		return false;
	list_for_each(pos, &conn->tasks) {
		struct iscsi_task *t = list_entry(pos, struct iscsi_task, node);

		/*
		 * The PDU being received is the PDU stall check's business
		 * (30 s without a byte): a large one on a slow link takes
		 * longer than 30 s and is still progress.
		 */
		if (t == conn->rx.task && conn_rx_busy(conn))
			continue;
		if (t->aborted ||
		    (t->state != TASK_S_HELD && t->state != TASK_S_DATA) ||
		    now - t->wait_ms < ISCSI_DATA_OUT_TIMEOUT_MS)
			continue;
		/*
		 * RFC 7143 leaves the timeout to the implementation; at
		 * ErrorRecoveryLevel 0 the answer to a lost PDU is a new
		 * connection, and the initiator retries the commands.
		 */
		if (t->state == TASK_S_HELD)
			conn_log(conn, LOG_NOTICE,
			    "command ITT 0x%08x CmdSN %u held %u seconds for "
			    "CmdSN %u, which never came: closing",
			    t->itt, t->cmdsn, ISCSI_DATA_OUT_TIMEOUT_MS / 1000u,
			    conn->session != NULL ? conn->session->exp_cmdsn
						  : 0);
		else
			conn_log(conn, LOG_NOTICE,
			    "WRITE ITT 0x%08x: no Data-Out for %u seconds "
			    "(%u of %u bytes came): closing",
			    t->itt, ISCSI_DATA_OUT_TIMEOUT_MS / 1000u,
			    t->data_got, t->edtl);
		return true;
	}
	return false;
}

void
ffp_task_abort(struct iscsi_task *task)
{
	task->aborted = true;
	if (task->in_scsi) {
		scsi_task_abort(&task->st);
		return;
	}
	if (task->state == TASK_S_HELD && task->conn->session != NULL)
		session_drop_held(task->conn->session, task);
	task_finish(task);
}

int
ffp_cmdsn_consume(struct iscsi_conn *conn, const uint8_t *bhs)
{
	struct iscsi_session *s = conn->session;
	uint32_t cmdsn = get_be32(bhs + BHS_CMDSN);
	int chk;

	if ((bhs[BHS_OPCODE] & ISCSI_OP_IMMEDIATE) != 0 || s == NULL)
		return 0;
	chk = session_cmdsn_check(s, cmdsn);
	if (chk == 0) {
		session_cmdsn_advance(s);
		return 0;
	}
	if (chk > 0 && session_hold(s, cmdsn, NULL) == 0)
		return 0;
	return 1;
}

static void
ffp_logout_timeout(void *arg)
{
	conn_close(arg);
}

int
ffp_logout(struct iscsi_conn *conn)
{
	const uint8_t *req = conn->rx.bhs;
	struct iscsi_session *s = conn->session;
	uint8_t rsp[ISCSI_BHS_LEN] = {0};
	uint8_t reason = req[BHS_FLAGS] & LOGOUT_REASON_MASK;
	uint16_t cid = get_be16(req + LOGOUT_CID);
	uint8_t response = LOGOUT_RSP_SUCCESS;

	if (ffp_cmdsn_consume(conn, req) != 0)
		return 0;
	switch (reason) {
	case LOGOUT_CLOSE_SESSION:
		break;
	case LOGOUT_CLOSE_CONNECTION:
		if (cid != conn->cid)
			response = LOGOUT_RSP_CID_NOT_FOUND;
		break;
	case LOGOUT_REMOVE_FOR_RECOVERY:
		/* RFC 7143 11.15.1: needs ErrorRecoveryLevel 2. */
		response = LOGOUT_RSP_NO_RECOVERY;
		break;
	default:
		return pdu_reject(conn, req, REJECT_INVALID_PDU_FIELD);
	}
	conn_dbg(conn, 1, "logout reason %u response %u", reason, response);
	rsp[BHS_OPCODE] = ISCSI_OP_LOGOUT_RSP;
	rsp[BHS_FLAGS] = ISCSI_FLAG_FINAL;
	rsp[LOGOUT_RSP_RESPONSE] = response;
	memcpy(rsp + BHS_ITT, req + BHS_ITT, 4);
	pdu_fill_sn(conn, rsp, true);
	put_be16(rsp + LOGOUT_RSP_TIME2WAIT,
	    (uint16_t)s->params.v[PARAM_DEFAULT_TIME2WAIT]);
	put_be16(rsp + LOGOUT_RSP_TIME2RETAIN,
	    (uint16_t)s->params.v[PARAM_DEFAULT_TIME2RETAIN]);
	if (pdu_tx(conn, rsp, NULL, 0, NULL, NULL) != 0)
		return 0;
	if (response == LOGOUT_RSP_SUCCESS) {
		conn->state = CONN_S_LOGOUT;
		conn_close_after_tx(conn);
		/* Do not wait forever for a peer that stops reading. */
		if (conn->state != CONN_S_CLOSED &&
		    conn->logout_timer == NULL) {
			conn->logout_timer = loop_timer_new(conn->loop,
			    ffp_logout_timeout, conn);
			if (conn->logout_timer != NULL)
				loop_timer_arm(conn->logout_timer,
				    ISCSI_LOGOUT_WAIT_S * 1000);
		}
	}
	return 0;
}
