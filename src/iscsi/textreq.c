/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The ietd authors */
/*
 * Text Request handling in full feature phase (RFC 7143 11.10, 11.11):
 * SendTargets in discovery and normal sessions, requests continued by the
 * initiator with the C bit, and long answers continued by the target with
 * the C bit and a Target Transfer Tag.
 */
#include <errno.h>
#include <string.h>

#include "util/alloc.h"
#include "util/be.h"
#include "iscsi_int.h"
#include "text.h"

static int
textreq_send(struct iscsi_conn *conn, const uint8_t *req)
{
	uint8_t rsp[ISCSI_BHS_LEN] = {0};
	size_t left = conn->text_out_len - conn->text_out_off;
	bool more = left > conn->max_xmit_dsl;
	size_t n = more ? conn->max_xmit_dsl : left;
	uint8_t *copy = NULL;

	rsp[BHS_OPCODE] = ISCSI_OP_TEXT_RSP;
	memcpy(rsp + BHS_ITT, req + BHS_ITT, 4);
	if (more) {
		/* RFC 7143 11.11.1: more follows; the TTT fetches it. */
		rsp[BHS_FLAGS] = TEXT_FLAG_CONTINUE;
		if (conn->ttt_next == ISCSI_RSVD_TAG)
			conn->ttt_next = 1;
		conn->text_ttt = conn->ttt_next++;
		put_be32(rsp + BHS_TTT, conn->text_ttt);
	} else {
		rsp[BHS_FLAGS] = ISCSI_FLAG_FINAL;
		put_be32(rsp + BHS_TTT, ISCSI_RSVD_TAG);
	}
	pdu_fill_sn(conn, rsp, true);
	if (n > 0) {
		copy = mem_alloc(n);
		if (copy == NULL)
			return -ENOMEM;
		memcpy(copy, conn->text_out + conn->text_out_off, n);
	}
	conn->text_out_off += n;
	if (conn->text_out_off == conn->text_out_len) {
		mem_free(conn->text_out);
		conn->text_out = NULL;
		conn->text_out_len = conn->text_out_off = 0;
	}
	return pdu_tx(conn, rsp, copy, (uint32_t)n, copy, NULL);
}

/*
 * RFC 7143 11.11.1, 11.11.4: a Text Request continued with the C bit
 * (F 0) is answered with an empty response that has F 0 too and a
 * Target Transfer Tag, which the initiator's next piece carries.
 */
static int
textreq_ask_more(struct iscsi_conn *conn, const uint8_t *req)
{
	uint8_t rsp[ISCSI_BHS_LEN] = {0};

	rsp[BHS_OPCODE] = ISCSI_OP_TEXT_RSP;
	memcpy(rsp + BHS_ITT, req + BHS_ITT, 4);
	if (conn->ttt_next == ISCSI_RSVD_TAG)
		conn->ttt_next = 1;
	conn->text_ttt = conn->ttt_next++;
	put_be32(rsp + BHS_TTT, conn->text_ttt);
	pdu_fill_sn(conn, rsp, true);
	return pdu_tx(conn, rsp, NULL, 0, NULL, NULL);
}

static void
textreq_reset(struct iscsi_conn *conn)
{
	mem_free(conn->text_out);
	conn->text_out = NULL;
	conn->text_out_len = conn->text_out_off = 0;
	mem_free(conn->text_in);
	conn->text_in = NULL;
	conn->text_in_len = 0;
	conn->text_in_pdus = 0;
}

/*
 * A continued request past its bounds: the exchange ends with a Reject
 * (RFC 7143 11.17.1: no Target Transfer Tag for another piece).
 */
static int
textreq_refuse(struct iscsi_conn *conn, const uint8_t *req, const char *what,
    size_t limit)
{
	conn_log(conn, LOG_WARNING,
	    "Text Request continued over more than %zu %s: rejected", limit,
	    what);
	textreq_reset(conn);
	return pdu_reject(conn, req, REJECT_OUT_OF_RESOURCES);
}

int
textreq_rx(struct iscsi_conn *conn, const uint8_t *data, uint32_t dlen)
{
	const uint8_t *req = conn->rx.bhs;
	uint32_t ttt = get_be32(req + BHS_TTT);
	struct text_list kv;
	struct strbuf sb;
	char why[128];

	log_debug(1, "Text request: %d", conn->state);
	const uint8_t *text = data;
	size_t tlen = dlen;
	char *out;

	if (ffp_cmdsn_consume(conn, req) != 0)
		return 0;
	if (ttt != ISCSI_RSVD_TAG && ttt != conn->text_ttt)
		return pdu_reject(conn, req, REJECT_INVALID_PDU_FIELD);
	if (ttt != ISCSI_RSVD_TAG && conn->text_in == NULL) {
		if (conn->text_out == NULL)
			return pdu_reject(conn, req, REJECT_INVALID_PDU_FIELD);
		return textreq_send(conn, req);
	}
	/*
	 * A new request (reserved TTT) ends any earlier exchange (RFC 7143
	 * 11.10.4), a request still being sent in pieces included: its
	 * pieces are not the start of this one.
	 */
	if (ttt == ISCSI_RSVD_TAG)
		textreq_reset(conn);
	mem_free(conn->text_out);
	conn->text_out = NULL;
	conn->text_out_len = conn->text_out_off = 0;
	if ((req[BHS_FLAGS] & TEXT_FLAG_CONTINUE) != 0 ||
	    conn->text_in != NULL) {
		char *n;

		/*
		 * Both bounds: the bytes, and the pieces (empty ones add
		 * no bytes, but each costs an answer).
		 */
		if (++conn->text_in_pdus > ISCSI_TEXT_PDUS_MAX)
			return textreq_refuse(conn, req, "PDUs",
			    ISCSI_TEXT_PDUS_MAX);
		if (conn->text_in_len + dlen > ISCSI_TEXT_IN_MAX)
			return textreq_refuse(conn, req, "bytes",
			    ISCSI_TEXT_IN_MAX);
		n = mem_realloc(conn->text_in, conn->text_in_len + dlen + 1);
		if (n == NULL) {
			textreq_reset(conn);
			return pdu_reject(conn, req, REJECT_OUT_OF_RESOURCES);
		}
		if (dlen > 0)
			memcpy(n + conn->text_in_len, data, dlen);
		conn->text_in = n;
		conn->text_in_len += dlen;
		if ((req[BHS_FLAGS] & TEXT_FLAG_CONTINUE) != 0)
			return textreq_ask_more(conn, req);
		text = (const uint8_t *)conn->text_in;
		tlen = conn->text_in_len;
	}
	text_list_init(&kv);
	if (tlen > 0 && text_parse(text, tlen, &kv, why, sizeof(why)) != 0) {
		text_list_free(&kv);
		textreq_reset(conn);
		return pdu_reject(conn, req, REJECT_PROTOCOL_ERROR);
	}
	out = mem_alloc(ISCSI_TEXT_OUT_MAX);
	if (out == NULL) {
		text_list_free(&kv);
		textreq_reset(conn);
		return pdu_reject(conn, req, REJECT_OUT_OF_RESOURCES);
	}
	strbuf_init(&sb, out, ISCSI_TEXT_OUT_MAX);
	for (unsigned int i = 0; i < kv.n; i++) {
		const char *k = kv.kv[i].key;

		if (strcmp(k, "SendTargets") == 0)
			(void)discovery_send_targets(conn, kv.kv[i].value, &sb);
		else
			text_put(&sb, k, "NotUnderstood");
	}
	text_list_free(&kv);
	mem_free(conn->text_in);
	conn->text_in = NULL;
	conn->text_in_len = 0;
	conn->text_in_pdus = 0;
	/*
	 * An answer sent in several pieces is kept until the initiator
	 * has fetched them all: keep only what it holds.
	 */
	if (sb.len > conn->max_xmit_dsl) {
		char *fit = mem_realloc(out, sb.len);

		if (fit != NULL)
			out = fit;
	}
	conn->text_out = out;
	conn->text_out_len = sb.len;
	conn->text_out_off = 0;
	return textreq_send(conn, req);
}
