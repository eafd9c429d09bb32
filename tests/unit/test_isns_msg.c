/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The ietd authors */
/*
 * The iSNS wire format (RFC 4171 5): messages we build split into PDUs
 * at attribute boundaries and read back whole; what a server sends is
 * reassembled byte by byte within its bounds, and attributes are walked
 * only as far as their lengths hold.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "isns/isns.h"
#include "isns/isns_int.h"
#include "util/be.h"

static void
hdr(uint8_t *h, uint16_t ver, uint16_t fn, uint16_t len, uint16_t flags,
    uint16_t xid, uint16_t seq)
{
	put_be16(h, ver);
	put_be16(h + 2, fn);
	put_be16(h + 4, len);
	put_be16(h + 6, flags);
	put_be16(h + 8, xid);
	put_be16(h + 10, seq);
}

/* Feed everything; returns the last verdict, *why on error. */
static int
feed_all(struct isns_rx *rx, const uint8_t *p, size_t len, const char **why,
    unsigned int *messages)
{
	size_t off = 0;
	int r = ISNS_RX_MORE;

	*messages = 0;
	while (off < len) {
		size_t used;

		r = isns_rx_feed(rx, p + off, len - off, &used, why);
		off += used;
		if (r == ISNS_RX_ERROR)
			return r;
		if (r == ISNS_RX_MESSAGE) {
			(*messages)++;
			isns_rx_done(rx);
		}
	}
	return r;
}

static void
test_build_split_reassemble(void **state)
{
	struct isns_buf payload = {0}, wire = {0};
	struct isns_rx rx = {0};
	char name[200];
	size_t off = 0;

	(void)state;
	/* 100 names of 200 bytes: about 21 KB, three PDUs or more. */
	for (unsigned int i = 0; i < 100; i++) {
		memset(name, 'a' + (char)(i % 26), sizeof(name) - 1);
		name[sizeof(name) - 1] = '\0';
		isns_buf_str(&payload, ISNS_TAG_ISCSI_NAME, name);
	}
	assert_false(payload.overflow);
	isns_buf_message(&wire, ISNS_FN_DEV_ATTR_REG, ISNS_F_CLIENT, 7,
	    payload.p, payload.len);
	assert_false(wire.overflow);
	/* Each PDU: at most ISNS_PDU_PAYLOAD, whole TLVs, flags right. */
	unsigned int npdu = 0;
	while (off < wire.len) {
		uint16_t len = get_be16(wire.p + off + 4);
		uint16_t flags = get_be16(wire.p + off + 6);

		assert_true(len <= ISNS_PDU_PAYLOAD);
		assert_int_equal(len % 208, 0); /* 8 + 200 per TLV */
		assert_int_equal(get_be16(wire.p + off + 10), npdu);
		assert_int_equal(!!(flags & ISNS_F_FIRST_PDU), npdu == 0);
		off += ISNS_HDR_LEN + len;
		assert_int_equal(!!(flags & ISNS_F_LAST_PDU), off == wire.len);
		npdu++;
	}
	assert_true(npdu >= 3);
	/* Read back one byte at a time. */
	for (size_t i = 0; i < wire.len; i++) {
		const char *why = NULL;
		size_t used;
		int r = isns_rx_feed(&rx, wire.p + i, 1, &used, &why);

		assert_int_equal(used, 1);
		assert_int_equal(r,
		    i + 1 == wire.len ? ISNS_RX_MESSAGE : ISNS_RX_MORE);
	}
	assert_int_equal(rx.msg_len, payload.len);
	assert_memory_equal(rx.msg, payload.p, payload.len);
	assert_int_equal(rx.xid, 7);
	isns_rx_free(&rx);
	isns_buf_free(&payload);
	isns_buf_free(&wire);
}

static void
test_response_status_first(void **state)
{
	struct isns_buf payload = {0}, wire = {0};
	uint8_t status[4] = {0, 0, 0, 0};

	(void)state;
	isns_buf_add(&payload, status, 4);
	isns_buf_str(&payload, ISNS_TAG_EID, "host");
	isns_buf_message(&wire, ISNS_FN_ESI | ISNS_FN_RSP, ISNS_F_CLIENT, 1,
	    payload.p, payload.len);
	assert_int_equal(wire.len, ISNS_HDR_LEN + payload.len);
	assert_int_equal(get_be16(wire.p + 6),
	    ISNS_F_CLIENT | ISNS_F_FIRST_PDU | ISNS_F_LAST_PDU);
	isns_buf_free(&payload);
	isns_buf_free(&wire);
}

static void
test_rx_bounds(void **state)
{
	static uint8_t big[ISNS_HDR_LEN + 65535];
	uint8_t two[2 * (ISNS_HDR_LEN + 8)];
	struct isns_rx rx = {0};
	const char *why = NULL;
	unsigned int n;

	(void)state;
	/* Wrong version. */
	hdr(two, 2, 0x8001, 0, ISNS_F_FIRST_PDU | ISNS_F_LAST_PDU, 1, 0);
	assert_int_equal(feed_all(&rx, two, ISNS_HDR_LEN, &why, &n),
	    ISNS_RX_ERROR);
	assert_string_equal(why, "unsupported iSNSP version");
	isns_rx_free(&rx);
	/* A message starting with PDU 3. */
	hdr(two, 1, 0x8001, 0, ISNS_F_LAST_PDU, 1, 3);
	assert_int_equal(feed_all(&rx, two, ISNS_HDR_LEN, &why, &n),
	    ISNS_RX_ERROR);
	isns_rx_free(&rx);
	/* PDU 0 then PDU 2, or then another transaction. */
	memset(two, 0, sizeof(two));
	hdr(two, 1, 0x8001, 8, ISNS_F_FIRST_PDU, 1, 0);
	hdr(two + ISNS_HDR_LEN + 8, 1, 0x8001, 8, ISNS_F_LAST_PDU, 1, 2);
	assert_int_equal(feed_all(&rx, two, sizeof(two), &why, &n),
	    ISNS_RX_ERROR);
	assert_string_equal(why, "PDU out of sequence in a multi-PDU message");
	isns_rx_free(&rx);
	hdr(two + ISNS_HDR_LEN + 8, 1, 0x8001, 8, ISNS_F_LAST_PDU, 2, 1);
	assert_int_equal(feed_all(&rx, two, sizeof(two), &why, &n),
	    ISNS_RX_ERROR);
	isns_rx_free(&rx);
	/* The same, in order: one message of 16 bytes. */
	hdr(two + ISNS_HDR_LEN + 8, 1, 0x8001, 8, ISNS_F_LAST_PDU, 1, 1);
	assert_int_equal(feed_all(&rx, two, sizeof(two), &why, &n),
	    ISNS_RX_MESSAGE);
	assert_int_equal(n, 1);
	isns_rx_free(&rx);
	/* Full-size PDUs that never end: refused past the cap. */
	int r = ISNS_RX_MORE;
	unsigned int seq;
	for (seq = 0; seq < 10 && r != ISNS_RX_ERROR; seq++) {
		hdr(big, 1, 0x8002, 65535, seq == 0 ? ISNS_F_FIRST_PDU : 0, 9,
		    (uint16_t)seq);
		r = feed_all(&rx, big, sizeof(big), &why, &n);
	}
	assert_int_equal(r, ISNS_RX_ERROR);
	assert_string_equal(why, "message too large");
	assert_true(seq * 65535u > ISNS_RX_MSG_MAX);
	assert_true((seq - 1) * 65535u <= ISNS_RX_MSG_MAX);
	isns_rx_free(&rx);
	/* Many empty PDUs: refused past the PDU count. */
	r = ISNS_RX_MORE;
	for (seq = 0; seq < 100 && r != ISNS_RX_ERROR; seq++) {
		hdr(two, 1, 0x8002, 0, seq == 0 ? ISNS_F_FIRST_PDU : 0, 9,
		    (uint16_t)seq);
		r = feed_all(&rx, two, ISNS_HDR_LEN, &why, &n);
	}
	assert_int_equal(r, ISNS_RX_ERROR);
	assert_string_equal(why, "message of too many PDUs");
	assert_int_equal(seq, ISNS_RX_PDUS_MAX + 1);
	isns_rx_free(&rx);
}

static void
test_tlv_walk(void **state)
{
	uint8_t m[64];
	struct isns_tlv t;
	const char *why = NULL;
	size_t off = 0;
	uint32_t v;

	(void)state;
	memset(m, 0, sizeof(m));
	/* A good string, then one whose length runs past the end. */
	put_be32(m, ISNS_TAG_ISCSI_NAME);
	put_be32(m + 4, 8);
	memcpy(m + 8, "iqn.a\0\0\0", 8);
	put_be32(m + 16, ISNS_TAG_ISCSI_NAME);
	put_be32(m + 20, 0xfffffff0u);
	assert_int_equal(isns_tlv_next(m, 24, &off, &t, &why), 1);
	assert_string_equal(isns_tlv_str(&t, ISNS_NAME_MAX - 1), "iqn.a");
	assert_false(isns_tlv_u32(&t, &v));
	assert_int_equal(isns_tlv_next(m, 24, &off, &t, &why), -1);
	assert_string_equal(why, "attribute length beyond the message");
	/* Unaligned length; a truncated header. */
	off = 0;
	put_be32(m + 4, 5);
	assert_int_equal(isns_tlv_next(m, 24, &off, &t, &why), -1);
	assert_string_equal(why, "attribute length not a multiple of 4");
	off = 0;
	assert_int_equal(isns_tlv_next(m, 7, &off, &t, &why), -1);
	assert_string_equal(why, "truncated attribute header");
	off = 0;
	assert_int_equal(isns_tlv_next(m, 0, &off, &t, &why), 0);
	/* Strings: no NUL, empty, control bytes, too long. */
	t.tag = ISNS_TAG_ISCSI_NAME;
	t.val = (const uint8_t *)"abcd";
	t.len = 4;
	assert_null(isns_tlv_str(&t, 100));
	t.val = (const uint8_t *)"\0\0\0\0";
	assert_null(isns_tlv_str(&t, 100));
	t.val = (const uint8_t *)"a\nb\0";
	assert_null(isns_tlv_str(&t, 100));
	t.val = (const uint8_t *)"abc\0";
	assert_null(isns_tlv_str(&t, 2));
	assert_string_equal(isns_tlv_str(&t, 3), "abc");
}

static void
test_acl(void **state)
{
	const char *names[] = {"iqn.2026-11.x:a", "iqn.2026-11.x:B"};

	(void)state;
	/* Off: everyone. */
	assert_true(isns_allow("iqn.t1", "anyone"));
	isns_acl_set_enabled(true);
	/* No answer yet: the allow files alone decide. */
	assert_true(isns_allow("iqn.t1", "anyone"));
	assert_int_equal(isns_acl_set("iqn.t1", true, names, 2), 0);
	assert_true(isns_allow("iqn.t1", "iqn.2026-11.x:a"));
	assert_true(isns_allow("IQN.T1", "iqn.2026-11.x:b"));
	assert_false(isns_allow("iqn.t1", "iqn.2026-11.x:c"));
	assert_false(isns_allow("iqn.t1", NULL));
	/* An empty answer refuses everyone. */
	assert_int_equal(isns_acl_set("iqn.t2", true, NULL, 0), 0);
	assert_false(isns_allow("iqn.t2", "iqn.2026-11.x:a"));
	/* Pruned targets fall back to unknown. */
	const char *keep[] = {"iqn.t2"};
	isns_acl_prune(keep, 1);
	assert_true(isns_allow("iqn.t1", "iqn.2026-11.x:c"));
	assert_false(isns_allow("iqn.t2", "iqn.2026-11.x:a"));
	isns_acl_clear();
	isns_acl_set_enabled(false);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_build_split_reassemble),
	    cmocka_unit_test(test_response_status_first),
	    cmocka_unit_test(test_rx_bounds),
	    cmocka_unit_test(test_tlv_walk),
	    cmocka_unit_test(test_acl),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
