/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The ietd authors */
/*
 * NOP-Out / NOP-In (RFC 7143 11.18, 11.19): pings from the initiator are
 * answered with their data; with NOPInterval set the target pings an idle
 * initiator itself and drops the connection when no answer (and no other
 * PDU) arrives within NOPTimeout.
 */
#include <string.h>

#include "util/alloc.h"
#include "util/be.h"
#include "target/target.h"
#include "iscsi_int.h"

#define MS_PER_S 1000u

int
nop_out(struct iscsi_conn *conn, const uint8_t *data, uint32_t dlen)
{
	const uint8_t *req = conn->rx.bhs;
	uint32_t itt = get_be32(req + BHS_ITT);
	uint32_t ttt = get_be32(req + NOP_TTT);
	uint8_t rsp[ISCSI_BHS_LEN] = {0};
	uint8_t *copy = NULL;

	if (ffp_cmdsn_consume(conn, req) != 0)
		return 0;
	if (itt == ISCSI_RSVD_TAG) {
		/* An answer to our ping, or a ping that wants no answer. */
		if (ttt != ISCSI_RSVD_TAG && ttt == conn->nop_ttt)
			conn_dbg(conn, 1, "NOP-In 0x%08x answered", ttt);
		return 0;
	}
	/* RFC 7143 11.18.2: the ping data comes back, within our limit. */
	if (dlen > conn->max_xmit_dsl)
		dlen = conn->max_xmit_dsl;
	if (dlen > 0 && data != NULL) {
		copy = mem_alloc(dlen);
		if (copy == NULL)
			return pdu_reject(conn, req, REJECT_OUT_OF_RESOURCES);
		memcpy(copy, data, dlen);
	} else {
		dlen = 0;
	}
	rsp[BHS_OPCODE] = ISCSI_OP_NOP_IN;
	rsp[BHS_FLAGS] = ISCSI_FLAG_FINAL;
	memcpy(rsp + BHS_LUN, req + BHS_LUN, 8);
	put_be32(rsp + BHS_ITT, itt);
	put_be32(rsp + NOP_TTT, ISCSI_RSVD_TAG);
	pdu_fill_sn(conn, rsp, true);
	(void)pdu_tx(conn, rsp, copy, dlen, copy, NULL);
	return 0;
}

static void
nop_timer_fire(void *arg)
{
	struct iscsi_conn *conn = arg;
	uint8_t req[ISCSI_BHS_LEN] = {0};

	if (conn->state != CONN_S_FFP)
		return;
	if (conn->rx_paused) {
		/*
		 * We are not reading (back-pressure): an answer may be
		 * waiting unread, and a ping would only add to the queue.
		 * The send stall timeout judges this peer instead.
		 */
		loop_timer_arm(conn->nop_timer, conn->nop_timeout_ms);
		return;
	}
	if (conn->nop_waiting) {
		conn_log(conn, LOG_WARNING,
		    "no answer to NOP-In within %u ms, dropping connection",
		    conn->nop_timeout_ms);
		conn_close(conn);
		return;
	}
	/*
	 * Pings go to idle connections only (ietd.conf(5); IET reset its
	 * timer on every receive and send): traffic in either direction
	 * within the interval proves the peer alive, so wait the rest.
	 */
	uint64_t now = loop_now_ms();
	uint64_t last = conn->rx_ms > conn->tx_ms ? conn->rx_ms : conn->tx_ms;

	if (last > now) /* stamped by another core's tick */
		last = now;

	if (now - last < conn->nop_interval_ms || !list_empty(&conn->txq)) {
		uint64_t wait = list_empty(&conn->txq)
		    ? conn->nop_interval_ms - (now - last)
		    : conn->nop_interval_ms;

		loop_timer_arm(conn->nop_timer, wait);
		return;
	}
	/* RFC 7143 11.19: a ping of our own: ITT reserved, TTT ours. */
	if (conn->ttt_next == ISCSI_RSVD_TAG)
		conn->ttt_next = 1;
	conn->nop_ttt = conn->ttt_next++;
	req[BHS_OPCODE] = ISCSI_OP_NOP_IN;
	req[BHS_FLAGS] = ISCSI_FLAG_FINAL;
	put_be32(req + BHS_ITT, ISCSI_RSVD_TAG);
	put_be32(req + NOP_TTT, conn->nop_ttt);
	/* Not an answer: StatSN is not advanced (11.19.3). */
	pdu_fill_sn(conn, req, false);
	if (pdu_tx(conn, req, NULL, 0, NULL, NULL) != 0)
		return;
	conn->nop_waiting = true;
	loop_timer_arm(conn->nop_timer, conn->nop_timeout_ms);
}

void
nop_start(struct iscsi_conn *conn)
{
	struct iscsi_session *s = conn->session;
	uint32_t iv, to;

	if (s == NULL || s->target == NULL)
		return;
	iv = target_param(s->target, CONF_KEY_NOP_INTERVAL);
	to = target_param(s->target, CONF_KEY_NOP_TIMEOUT);
	if (iv == 0)
		return;
	/* ietd.conf(5): a timeout of 0 or above the interval is the interval.
	 */
	if (to == 0 || to > iv)
		to = iv;
	conn->nop_interval_ms = iv * MS_PER_S;
	conn->nop_timeout_ms = to * MS_PER_S;
	conn->nop_timer = loop_timer_new(conn->loop, nop_timer_fire, conn);
	if (conn->nop_timer != NULL)
		loop_timer_arm(conn->nop_timer, conn->nop_interval_ms);
}

void
nop_stop(struct iscsi_conn *conn)
{
	if (conn->nop_timer != NULL) {
		loop_timer_free(conn->nop_timer);
		conn->nop_timer = NULL;
	}
}

void
nop_activity(struct iscsi_conn *conn)
{
	/* Any PDU proves the initiator alive; the next ping waits again. */
	if (conn->nop_waiting && conn->nop_timer != NULL) {
		conn->nop_waiting = false;
		loop_timer_arm(conn->nop_timer, conn->nop_interval_ms);
	}
}
