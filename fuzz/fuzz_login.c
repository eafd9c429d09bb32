/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The ietd authors */
/*
 * libFuzzer target for login negotiation: the input is the text of a
 * login, one Login Request per segment (a flags byte - T, C, CSG, NSG as
 * in RFC 7143 11.12.1 - then key=value text; segments end at 0xff). The
 * harness frames each segment as a valid PDU and feeds it through the
 * daemon's receive path, so every key reaches the real negotiation
 * (login.c, param.c, chap.c). "CHAP_R=fix" is replaced with the right
 * answer to the target's last challenge, so mutual CHAP and the
 * operational stage behind a CHAP target are reached too.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "iscsi/chap.h"
#include "iscsi/iscsi_proto.h"
#include "iscsi/text.h"
#include "util/be.h"
#include "iscsi_harness.h"

#define FUZZ_SEP 0xff       /* ends a segment */
#define FUZZ_SEGS_MAX 16    /* Login Requests per input */
#define FUZZ_TEXT_MAX 16384 /* one segment's text, after substitution */
#define FUZZ_RX_MAX 65536   /* target output kept per request */
#define FUZZ_SECRET "fuzz-secret-123"
#define FUZZ_FIX "CHAP_R=fix"
#define FUZZ_ITT 0x1234

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool fuzz_debug; /* FUZZ_LOGIN_DEBUG set: print each response */

/* What the target last said, for the next request. */
struct fuzz_state {
	uint32_t exp_statsn;
	uint16_t tsih;
	char text[FUZZ_RX_MAX + 1]; /* login response data, concatenated */
	size_t tlen;
};

static int
fuzz_init(void)
{
	static const char text[] = "Target iqn.2026-11.fuzz:disk\n"
				   "\tLun 0 Sectors=64,Type=nullio\n"
				   "\tInitialR2T No\n"
				   "\tImmediateData Yes\n"
				   "\tMaxOutstandingR2T 4\n"
				   "\tMaxConnections 1\n"
				   "\tHeaderDigest None,CRC32C\n"
				   "\tDataDigest CRC32C,None\n"
				   "Target iqn.2026-11.fuzz:chap\n"
				   "\tLun 0 Sectors=64,Type=nullio\n"
				   "\tIncomingUser fuzz-user " FUZZ_SECRET "\n"
				   "\tOutgoingUser target-out target-secret-4\n"
				   "\tMaxRecvDataSegmentLength 4096\n"
				   "\tFirstBurstLength 4096\n"
				   "\tMaxBurstLength 8192\n";

	fuzz_debug = getenv("FUZZ_LOGIN_DEBUG") != NULL;
	return fuzz_iscsi_init(text);
}

/* The right CHAP_R ("0x...") for the target's last CHAP_I and CHAP_C. */
static bool
fuzz_chap_answer(const struct fuzz_state *st, char *hex, size_t hexlen)
{
	uint8_t chal[CHAP_BINARY_MAX], resp[CHAP_DIGEST_MAX];
	const char *a, *i, *c;
	struct text_list l;
	enum chap_alg alg;
	uint64_t id;
	size_t clen;
	bool ok = false;

	text_list_init(&l);
	if (text_parse(st->text, st->tlen, &l, NULL, 0) == 0 &&
	    (a = text_find(&l, "CHAP_A")) != NULL &&
	    (i = text_find(&l, "CHAP_I")) != NULL &&
	    (c = text_find(&l, "CHAP_C")) != NULL &&
	    chap_select_alg(a, &alg) == 0 &&
	    str_to_u64(i, 0, UINT8_MAX, false, &id) == 0 &&
	    chap_decode(c, chal, sizeof(chal), &clen) == 0 &&
	    chap_digest(alg, (uint8_t)id, FUZZ_SECRET, chal, clen, resp) == 0)
		ok = chap_encode_hex(resp, chap_digest_len(alg), hex, hexlen);
	text_list_free(&l);
	return ok;
}

/* Segment text with every "CHAP_R=fix" answered; returns its length. */
static size_t
fuzz_text(const struct fuzz_state *st, const uint8_t *p, size_t n, uint8_t *out)
{
	char hex[2 + 2 * CHAP_DIGEST_MAX + 1];
	bool have = false;
	size_t o = 0;

	while (n > 0) {
		const uint8_t *f = memmem(p, n, FUZZ_FIX, strlen(FUZZ_FIX));
		size_t k = f != NULL ? (size_t)(f - p) : n;

		if (o + k > FUZZ_TEXT_MAX)
			k = FUZZ_TEXT_MAX - o;
		memcpy(out + o, p, k);
		o += k;
		if (f == NULL || o == FUZZ_TEXT_MAX)
			break;
		if (!have)
			have = fuzz_chap_answer(st, hex, sizeof(hex));
		k = snprintf(NULL, 0, "CHAP_R=%s", have ? hex : "0x00");
		if (o + k > FUZZ_TEXT_MAX)
			break;
		snprintf((char *)out + o, FUZZ_TEXT_MAX - o + 1, "CHAP_R=%s",
		    have ? hex : "0x00");
		o += k;
		n -= (size_t)(f - p) + strlen(FUZZ_FIX);
		p = f + strlen(FUZZ_FIX);
	}
	return o;
}

/* Frame one Login Request (RFC 7143 11.12) around text. */
static size_t
fuzz_pdu(const struct fuzz_state *st, uint8_t flags, const uint8_t *text,
    size_t tlen, uint8_t *out)
{
	static const uint8_t isid[ISCSI_ISID_LEN] = {0x80, 0, 0, 0x01, 0x02,
	    0x03};
	size_t padded = tlen + pdu_pad((uint32_t)tlen);

	memset(out, 0, ISCSI_BHS_LEN);
	out[BHS_OPCODE] = ISCSI_OP_IMMEDIATE | ISCSI_OP_LOGIN_REQ;
	out[BHS_FLAGS] = flags;
	pdu_set_dsl(out, (uint32_t)tlen);
	memcpy(out + LOGIN_ISID, isid, sizeof(isid));
	put_be16(out + LOGIN_TSIH, st->tsih);
	put_be32(out + BHS_ITT, FUZZ_ITT);
	put_be32(out + BHS_CMDSN, 1);
	put_be32(out + BHS_EXP_STATSN, st->exp_statsn);
	memcpy(out + ISCSI_BHS_LEN, text, tlen);
	memset(out + ISCSI_BHS_LEN + tlen, 0, padded - tlen);
	return ISCSI_BHS_LEN + padded;
}

/* Keep the login responses' text and numbers; drop the rest. */
static void
fuzz_read_output(int fd, struct fuzz_state *st)
{
	static uint8_t buf[FUZZ_RX_MAX];
	size_t len = 0, off = 0;
	ssize_t n;

	while (len < sizeof(buf) &&
	    (n = read(fd, buf + len, sizeof(buf) - len)) > 0)
		len += (size_t)n;
	while (len == sizeof(buf) && read(fd, buf, 1) > 0)
		;
	st->tlen = 0;
	while (off + ISCSI_BHS_LEN <= len) {
		const uint8_t *bhs = buf + off;
		uint32_t dlen = pdu_dsl(bhs);
		size_t total = ISCSI_BHS_LEN + bhs[BHS_TOTAL_AHS_LEN] * 4u +
		    dlen + pdu_pad(dlen);

		if (total > len - off)
			break;
		if ((bhs[BHS_OPCODE] & ISCSI_OPCODE_MASK) ==
		    ISCSI_OP_LOGIN_RSP) {
			st->exp_statsn = get_be32(bhs + BHS_STATSN) + 1;
			if (fuzz_debug)
				fprintf(stderr,
				    "login rsp flags %#x status "
				    "%#x/%#x tsih %u\n",
				    bhs[BHS_FLAGS], bhs[LOGIN_STATUS_CLASS],
				    bhs[LOGIN_STATUS_DETAIL],
				    get_be16(bhs + LOGIN_TSIH));
			st->tsih = get_be16(bhs + LOGIN_TSIH);
			if (dlen <= sizeof(st->text) - 1 - st->tlen) {
				memcpy(st->text + st->tlen,
				    bhs + ISCSI_BHS_LEN +
					bhs[BHS_TOTAL_AHS_LEN] * 4u,
				    dlen);
				st->tlen += dlen;
			}
		}
		off += total;
	}
	st->text[st->tlen] = '\0';
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool ready;
	static struct fuzz_state st;
	static uint8_t text[FUZZ_TEXT_MAX + 1];
	static uint8_t pdu[ISCSI_BHS_LEN + FUZZ_TEXT_MAX + 4];
	const uint8_t *p = data, *end = data + size;
	struct fuzz_iscsi fx;
	int rc = 0;

	if (!ready) {
		if (fuzz_init() != 0)
			abort();
		ready = true;
	}
	if (!fuzz_iscsi_open(&fx))
		return 0;
	memset(&st, 0, sizeof(st));
	for (int seg = 0; seg < FUZZ_SEGS_MAX && p < end && rc == 0 &&
	     fx.conn->state == CONN_S_LOGIN;
	     seg++) {
		const uint8_t *sep =
		    memchr(p + 1, FUZZ_SEP, (size_t)(end - p - 1));
		const uint8_t *stop = sep != NULL ? sep : end;
		size_t tlen, plen;

		tlen = fuzz_text(&st, p + 1, (size_t)(stop - p - 1), text);
		plen = fuzz_pdu(&st, p[0], text, tlen, pdu);
		p = sep != NULL ? sep + 1 : end;
		/* A segment fits the socket buffer whole. */
		if (write(fx.peer, pdu, plen) != (ssize_t)plen)
			break;
		rc = fuzz_iscsi_round(&fx);
		fuzz_read_output(fx.peer, &st);
	}
	if (fuzz_debug)
		fprintf(stderr, "end: conn state %d, text: %s\n",
		    (int)fx.conn->state, st.text);
	fuzz_iscsi_close(&fx);
	return 0;
}
