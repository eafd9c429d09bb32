/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The ietd authors */
/*
 * Task management (RFC 7143 11.5, 11.6; RFC 7144 for the query functions
 * when iSCSIProtocolLevel 2 was negotiated) and the Async Message that asks
 * an initiator to log out. The response to an abort waits until the
 * aborted tasks came back from the SCSI layer; they get no response. A
 * reset's response also waits for the tasks of other sessions it aborted,
 * which end with TASK ABORTED status.
 */
#include <string.h>

#include "util/alloc.h"
#include "util/be.h"
#include "target/target.h"
#include "iscsi_int.h"

#define TMF_PROTOCOL_LEVEL_QUERY 2 /* RFC 7144 */

/*
 * One request being answered. waiting counts what its response waits
 * for: the tasks it aborted that are still in the SCSI layer, the other
 * sessions' tasks of each LU it reset (one count per LU), the earlier
 * request it follows (then), and one for tmf_request() itself.
 */
struct iscsi_tmf {
	struct iscsi_conn *conn;
	uint8_t rsp[ISCSI_BHS_LEN];
	unsigned int waiting;
	/*
	 * The next request that found a task this one aborted still there:
	 * it is answered after this one, since only then is that task gone.
	 */
	struct iscsi_tmf *then;
	struct target *cold; /* TARGET COLD RESET of this target */
};

/* On another connection's loop: the cold reset ends its session. */
static void
tmf_cold_close_cb(void *arg)
{
	struct iscsi_conn *conn = arg;

	if (conn->state != CONN_S_CLOSED) {
		conn_log(conn, LOG_INFO,
		    "TARGET COLD RESET by another session: closing");
		conn_close(conn);
	}
	conn_put(conn);
}

/*
 * RFC 7143 11.5.1: once a TARGET COLD RESET is answered, the target
 * closes its TCP connections to all initiators, which ends every
 * session. Every other connection of target t is closed on its own
 * loop; the issuer's goes once its response is out.
 */
static void
tmf_cold_close_all(const struct target *t, const struct iscsi_conn *self)
{
	struct list_node *pos;

	session_table_lock();
	list_for_each(pos, &iscsi_session_table) {
		struct iscsi_session *o =
		    list_entry(pos, struct iscsi_session, node);
		struct iscsi_conn *c = o->conn;

		/* s->conn stays valid under the lock (session_free). */
		if (o->target != t || c == NULL || c == self)
			continue;
		conn_get(c);
		if (loop_post(c->loop, tmf_cold_close_cb, c) != 0)
			__atomic_sub_fetch(&c->refs, 1, __ATOMIC_ACQ_REL);
	}
	session_table_unlock();
}

/*
 * Answer tmf, then each request that followed it and waits for nothing
 * else any more (a loop, not recursion: a peer can chain many).
 */
static void
tmf_send(struct iscsi_tmf *tmf)
{
	while (tmf != NULL) {
		struct iscsi_conn *conn = tmf->conn;
		struct iscsi_tmf *next = tmf->then;

		if (conn->state == CONN_S_FFP) {
			pdu_fill_sn(conn, tmf->rsp, true);
			(void)pdu_tx(conn, tmf->rsp, NULL, 0, NULL, NULL);
		}
		if (tmf->cold != NULL) {
			/* RFC 7143 11.5.1: a cold reset drops them all. */
			if (conn->state != CONN_S_CLOSED)
				conn_close_after_tx(conn);
			tmf_cold_close_all(tmf->cold, conn);
			target_put(tmf->cold);
		}
		conn_put(conn);
		mem_free(tmf);
		tmf = next != NULL && --next->waiting == 0 ? next : NULL;
	}
}

/*
 * tmf must not be answered before first is: it joins the end of the chain
 * of requests following first, unless it is on it already. Requests only
 * ever follow older ones, so the chain has no loops.
 */
static void
tmf_follow(struct iscsi_tmf *first, struct iscsi_tmf *tmf)
{
	struct iscsi_tmf *last = first;

	if (first == tmf)
		return;
	while (last->then != NULL) {
		if (last->then == tmf)
			return;
		last = last->then;
	}
	last->then = tmf;
	tmf->waiting++;
}

void
tmf_task_gone(struct iscsi_task *task)
{
	struct iscsi_tmf *tmf = task->tmf;

	if (tmf == NULL)
		return;
	task->tmf = NULL;
	if (--tmf->waiting == 0)
		tmf_send(tmf);
}

static void
tmf_abort(struct iscsi_tmf *tmf, struct iscsi_task *t)
{
	if (t->state == TASK_S_DONE)
		return;
	if (t->aborted) {
		/*
		 * An earlier request aborted it and waits for it to be gone
		 * (a WRITE still in the store's hands): this one, a reset
		 * after an ABORT TASK say, must not be answered before that,
		 * or the initiator would think the medium settled (SAM-5
		 * 7.7) while the WRITE still runs.
		 */
		if (t->tmf != NULL)
			tmf_follow(t->tmf, tmf);
		return;
	}
	if (t->in_scsi) {
		t->tmf = tmf;
		tmf->waiting++;
	}
	ffp_task_abort(t);
}

/* Abort this connection's tasks on lun (all LUNs when all is set). */
static void
tmf_abort_lun(struct iscsi_tmf *tmf, struct iscsi_conn *conn, uint64_t lun,
    bool all)
{
	struct list_node *pos, *tmp;

	list_for_each_safe(pos, tmp, &conn->tasks) {
		struct iscsi_task *t = list_entry(pos, struct iscsi_task, node);

		if (all || t->st.lun == lun)
			tmf_abort(tmf, t);
	}
}

/* A reset's aborts on one LU's other nexuses are over (our own thread). */
static void
tmf_others_gone(void *arg)
{
	struct iscsi_tmf *tmf = arg;

	if (--tmf->waiting == 0)
		tmf_send(tmf);
}

/*
 * Abort the tasks other sessions have on lu (number l); the response
 * waits for them. Should that fail for want of memory, they run on.
 */
static void
tmf_abort_others(struct iscsi_tmf *tmf, struct scsi_lu *lu, uint64_t l)
{
	struct iscsi_conn *conn = tmf->conn;
	struct iscsi_session *s = conn->session;

	if (conn->il == NULL)
		return;
	if (scsi_lu_abort_others(lu, &s->nexus, conn->il->queue,
		tmf_others_gone, tmf) == 0)
		tmf->waiting++;
	else
		conn_log(conn, LOG_WARNING,
		    "LUN %llu: no memory to abort the other sessions' "
		    "commands for this task management request; they run on",
		    (unsigned long long)l);
}

/*
 * Reset one LU, or all of the target's (all); nexus: only as this nexus
 * sees it (I_T NEXUS RESET). A LU reset also aborts the tasks other
 * nexuses have on it, and the response waits for them to end, so that
 * no command sent before the reset changes the medium after the reply
 * (SAM-5 7.7).
 */
static uint8_t
tmf_reset_lus(struct iscsi_tmf *tmf, struct iscsi_session *s, uint64_t lun,
    bool all, bool nexus)
{
	uint64_t first = all ? 0 : lun, last = all ? CONF_LUN_MAX : lun;

	for (uint64_t l = first; l <= last; l++) {
		struct scsi_lu *lu = target_lu_find(s->target, l);

		if (lu == NULL) {
			if (!all)
				return TMF_RSP_NO_LUN;
			continue;
		}
		if (nexus) {
			scsi_lu_nexus_reset(lu, &s->nexus);
		} else {
			scsi_lu_reset(lu, &s->nexus);
			tmf_abort_others(tmf, lu, l);
		}
		scsi_lu_put(lu);
	}
	return TMF_RSP_COMPLETE;
}

int
tmf_request(struct iscsi_conn *conn)
{
	const uint8_t *req = conn->rx.bhs;
	struct iscsi_session *s = conn->session;
	uint8_t fn = req[BHS_FLAGS] & TMF_FUNC_MASK;
	uint32_t ref = get_be32(req + TMF_REF_TASK_TAG);
	uint32_t refcmdsn = get_be32(req + TMF_REF_CMDSN);
	uint32_t cmdsn = get_be32(req + BHS_CMDSN);
	uint64_t lun = ffp_lun_decode(req + BHS_LUN);
	bool query =
	    s->params.v[PARAM_PROTOCOL_LEVEL] >= TMF_PROTOCOL_LEVEL_QUERY;
	struct iscsi_tmf *tmf;
	struct iscsi_task *t;
	uint8_t resp = TMF_RSP_COMPLETE;

	if (ffp_cmdsn_consume(conn, req) != 0)
		return 0;
	tmf = mem_zalloc(sizeof(*tmf));
	if (tmf == NULL)
		return pdu_reject(conn, req, REJECT_OUT_OF_RESOURCES);
	tmf->conn = conn;
	conn_get(conn);
	tmf->waiting = 1; /* ours, dropped below */
	conn_dbg(conn, 1, "TMF function %u ITT 0x%08x ref 0x%08x", fn,
	    get_be32(req + BHS_ITT), ref);
	switch (fn) {
	case TMF_ABORT_TASK:
		t = task_find(conn, ref);
		if (t != NULL && t->state == TASK_S_DONE && !t->aborted) {
			/*
			 * Its response is already on its way: the initiator
			 * will see the command complete, so the abort must not
			 * claim it too (SAM-5 7.2: the task no longer exists).
			 */
			resp = TMF_RSP_NO_TASK;
		} else if (t != NULL) {
			tmf_abort(tmf, t);
		} else if (!(sn_lt(refcmdsn, cmdsn) &&
			       sn_le(s->exp_cmdsn, refcmdsn))) {
			/*
			 * RFC 7143 11.5.1: an unknown task counts as received
			 * (and "Function complete") only when its RefCmdSN is
			 * in the window, ExpCmdSN on, and below this request's
			 * CmdSN. Below ExpCmdSN it arrived and has completed:
			 * it does not exist any more.
			 */
			resp = TMF_RSP_NO_TASK;
		}
		break;
	case TMF_ABORT_TASK_SET:
		tmf_abort_lun(tmf, conn, lun, false);
		break;
	case TMF_CLEAR_TASK_SET: {
		/*
		 * SAM-5's CLEAR TASK SET: the whole task set, which all
		 * nexuses share (the Control mode page's TST is 0).
		 */
		struct scsi_lu *lu = target_lu_find(s->target, lun);

		tmf_abort_lun(tmf, conn, lun, false);
		if (lu != NULL) {
			tmf_abort_others(tmf, lu, lun);
			scsi_lu_put(lu);
		}
		break;
	}
	case TMF_CLEAR_ACA:
		/* No ACA is ever established (NACA is not supported). */
		break;
	case TMF_LOGICAL_UNIT_RESET:
		tmf_abort_lun(tmf, conn, lun, false);
		resp = tmf_reset_lus(tmf, s, lun, false, false);
		break;
	case TMF_TARGET_WARM_RESET:
	case TMF_TARGET_COLD_RESET:
		tmf_abort_lun(tmf, conn, 0, true);
		(void)tmf_reset_lus(tmf, s, 0, true, false);
		if (fn == TMF_TARGET_COLD_RESET) {
			target_get(s->target);
			tmf->cold = s->target;
		}
		break;
	case TMF_TASK_REASSIGN:
		/* Needs ErrorRecoveryLevel 2 (RFC 7143 11.5.1). */
		resp = TMF_RSP_NO_REASSIGN;
		break;
	case TMF_QUERY_TASK:
		if (!query) {
			resp = TMF_RSP_NOT_SUPPORTED;
			break;
		}
		t = task_find(conn, ref);
		resp = t != NULL && !t->aborted ? TMF_RSP_SUCCEEDED
						: TMF_RSP_COMPLETE;
		break;
	case TMF_QUERY_TASK_SET: {
		struct list_node *pos;

		if (!query) {
			resp = TMF_RSP_NOT_SUPPORTED;
			break;
		}
		list_for_each(pos, &conn->tasks) {
			t = list_entry(pos, struct iscsi_task, node);
			if (t->st.lun == lun && !t->aborted)
				resp = TMF_RSP_SUCCEEDED;
		}
		break;
	}
	case TMF_I_T_NEXUS_RESET:
		if (!query) {
			resp = TMF_RSP_NOT_SUPPORTED;
			break;
		}
		tmf_abort_lun(tmf, conn, 0, true);
		(void)tmf_reset_lus(tmf, s, 0, true, true);
		break;
	case TMF_QUERY_ASYNC_EVENT:
		/* No pending unit attention is reported this way. */
		resp = query ? TMF_RSP_COMPLETE : TMF_RSP_NOT_SUPPORTED;
		break;
	default:
		resp = TMF_RSP_NOT_SUPPORTED;
		break;
	}
	tmf->rsp[BHS_OPCODE] = ISCSI_OP_TMF_RSP;
	tmf->rsp[BHS_FLAGS] = ISCSI_FLAG_FINAL;
	tmf->rsp[TMF_RSP_RESPONSE] = resp;
	memcpy(tmf->rsp + BHS_ITT, req + BHS_ITT, 4);
	if (--tmf->waiting == 0)
		tmf_send(tmf);
	return 0;
}

static void
tmf_logout_timeout(void *arg)
{
	struct iscsi_conn *conn = arg;

	conn_log(conn, LOG_INFO, "no logout after the request, closing");
	conn_close(conn);
}

void
tmf_async_logout(struct iscsi_conn *conn)
{
	uint8_t msg[ISCSI_BHS_LEN] = {0};

	if (conn->logout_requested)
		return;
	conn->logout_requested = true;
	/* RFC 7143 11.9.1: AsyncEvent 1, Parameter3 = seconds to log out. */
	msg[BHS_OPCODE] = ISCSI_OP_ASYNC;
	msg[BHS_FLAGS] = ISCSI_FLAG_FINAL;
	put_be32(msg + BHS_ITT, ISCSI_RSVD_TAG);
	msg[ASYNC_EVENT] = ASYNC_EVENT_LOGOUT_REQUEST;
	put_be16(msg + ASYNC_PARAM3, ISCSI_LOGOUT_WAIT_S);
	pdu_fill_sn(conn, msg, true);
	if (pdu_tx(conn, msg, NULL, 0, NULL, NULL) != 0)
		return;
	(void)pdu_tx_flush(conn);
	if (conn->logout_timer == NULL)
		conn->logout_timer =
		    loop_timer_new(conn->loop, tmf_logout_timeout, conn);
	if (conn->logout_timer != NULL)
		loop_timer_arm(conn->logout_timer,
		    (ISCSI_LOGOUT_WAIT_S + 1) * 1000);
	else
		conn_close(conn);
}
