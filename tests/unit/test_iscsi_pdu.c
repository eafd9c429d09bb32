/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The ietd authors */
/*
 * PDU layer tests over a socketpair: BHS encoding of what we send (lengths,
 * padding, header and data digests), the receive state machine's length
 * checks, digest errors, a discovery login with SendTargets, NOP-Out
 * echo, Reject reasons, and login refusals with their status codes.
 */
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "config/conf.h"
#include "iscsi/iscsi.h"
#include "iscsi/iscsi_int.h"
#include "net/loop.h"
#include "target/target.h"
#include "util/be.h"
#include "util/crc32c.h"

#define TEST_TARGET "iqn.2026-11.test:pdu"
#define TEST_INITIATOR "iqn.2026-11.test:initiator"

static struct loop *test_loop;
static struct iscsi_conn *conn;
static int peer = -1;
static struct conf *test_conf;

static void
report(void *arg, const char *msg)
{
	(void)arg;
	fprintf(stderr, "%s\n", msg);
}

static int
group_setup(void **state)
{
	static const char text[] = "Target " TEST_TARGET "\n"
				   "\tLun 0 Sectors=2048,Type=nullio\n";
	static const struct allow_paths none = {
	    "/nonexistent/initiators.allow",
	    "/nonexistent/initiators.deny",
	    "/nonexistent/targets.allow",
	};
	struct sockaddr_storage ss;
	struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
	char why[256];

	(void)state;
	target_set_allow_paths(&none);
	test_conf = conf_load_buf("test", text, strlen(text), report, NULL);
	if (test_conf == NULL || target_apply(test_conf, why, sizeof(why)))
		return -1;
	memset(&ss, 0, sizeof(ss));
	sin->sin_family = AF_INET;
	sin->sin_port = htons(3260);
	sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	iscsi_set_portals(&ss, 1);
	return 0;
}

static void
stop_loop(void *arg)
{
	loop_stop(arg);
}

static int
group_teardown(void **state)
{
	(void)state;
	target_registry_clear();
	conf_free(test_conf);
	return 0;
}

static int
setup(void **state)
{
	int sv[2];

	(void)state;
	/* A loop per test: a stopped loop does not run again. */
	test_loop = loop_new("test");
	if (test_loop == NULL || iscsi_loop_init(test_loop) != 0)
		return -1;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv) != 0)
		return -1;
	conn = conn_new(loop_data(test_loop), sv[0]);
	if (conn == NULL || login_start(conn) != 0)
		return -1;
	peer = sv[1];
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	conn_close(conn);
	loop_post(test_loop, stop_loop, test_loop);
	loop_run(test_loop);
	close(peer);
	iscsi_loop_fini(test_loop);
	loop_free(test_loop);
	assert_int_equal(iscsi_conn_count(), 0);
	assert_int_equal(iscsi_session_count(), 0);
	return 0;
}

/* Write bytes for the conn to read, then let it read them. */
static int
feed(const void *buf, size_t len)
{
	const uint8_t *p = buf;

	while (len > 0) {
		ssize_t n = write(peer, p, len);

		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return pdu_rx(conn);
}

static int
feed_pdu(const uint8_t *bhs, const void *data, uint32_t dlen, bool hd, bool dd)
{
	uint8_t buf[ISCSI_BHS_LEN + 4 + 16384 + 8];
	size_t off = 0;
	uint32_t pad = pdu_pad(dlen);

	memcpy(buf, bhs, ISCSI_BHS_LEN);
	put_be24(buf + BHS_DSL, dlen);
	off = ISCSI_BHS_LEN;
	if (hd) {
		uint32_t crc = crc32c_final(
		    crc32c_update(CRC32C_INIT, buf, ISCSI_BHS_LEN));

		memcpy(buf + off, &crc, 4);
		off += 4;
	}
	if (dlen > 0) {
		uint32_t crc;

		memcpy(buf + off, data, dlen);
		memset(buf + off + dlen, 0, pad);
		crc = crc32c_final(
		    crc32c_update(CRC32C_INIT, buf + off, dlen + pad));
		off += dlen + pad;
		if (dd) {
			memcpy(buf + off, &crc, 4);
			off += 4;
		}
	}
	return feed(buf, off);
}

/* Flush the conn's output and read one PDU back (no digests). */
static uint32_t
read_pdu(uint8_t *bhs, uint8_t *data, size_t cap)
{
	uint32_t dlen, got = 0, want;
	ssize_t n;

	assert_int_equal(pdu_tx_flush(conn), 0);
	n = read(peer, bhs, ISCSI_BHS_LEN);
	assert_int_equal(n, ISCSI_BHS_LEN);
	dlen = get_be24(bhs + BHS_DSL);
	want = dlen + pdu_pad(dlen);
	assert_true(want <= cap);
	while (got < want) {
		n = read(peer, data + got, want - got);
		assert_true(n > 0);
		got += (uint32_t)n;
	}
	return dlen;
}

static void
login_bhs(uint8_t *bhs, uint8_t flags, uint16_t tsih)
{
	static const uint8_t isid[ISCSI_ISID_LEN] = {0x80, 0, 0, 1, 2, 3};

	memset(bhs, 0, ISCSI_BHS_LEN);
	bhs[BHS_OPCODE] = ISCSI_OP_LOGIN_REQ | ISCSI_OP_IMMEDIATE;
	bhs[BHS_FLAGS] = flags;
	memcpy(bhs + LOGIN_ISID, isid, sizeof(isid));
	put_be16(bhs + LOGIN_TSIH, tsih);
	put_be32(bhs + BHS_ITT, 0x1234);
	put_be32(bhs + BHS_CMDSN, 100);
	put_be32(bhs + BHS_EXP_STATSN, 7);
}

static size_t
keys(char *buf, size_t cap, const char *const *kv)
{
	size_t off = 0;

	for (; *kv != NULL; kv++) {
		size_t n = strlen(*kv) + 1;

		assert_true(off + n <= cap);
		memcpy(buf + off, *kv, n);
		off += n;
	}
	return off;
}

static bool
has_key(const uint8_t *data, uint32_t len, const char *kv)
{
	size_t n = strlen(kv) + 1;

	for (uint32_t off = 0; off + n <= len;) {
		if (memcmp(data + off, kv, n) == 0)
			return true;
		off +=
		    (uint32_t)strnlen((const char *)data + off, len - off) + 1;
	}
	return false;
}

/* Log in to a discovery session in one PDU (security -> FFP). */
static void
discovery_login(void)
{
	static const char *const kv[] = {"InitiatorName=" TEST_INITIATOR,
	    "SessionType=Discovery", "AuthMethod=None",
	    "MaxRecvDataSegmentLength=4096", NULL};
	uint8_t bhs[ISCSI_BHS_LEN], rsp[ISCSI_BHS_LEN], data[16384];
	char text[512];
	size_t len = keys(text, sizeof(text), kv);
	uint32_t dlen;

	login_bhs(bhs, LOGIN_FLAG_TRANSIT | LOGIN_STAGE_FFP, 0);
	assert_int_equal(feed_pdu(bhs, text, (uint32_t)len, false, false), 0);
	dlen = read_pdu(rsp, data, sizeof(data));
	assert_int_equal(rsp[BHS_OPCODE], ISCSI_OP_LOGIN_RSP);
	assert_int_equal(rsp[BHS_FLAGS], LOGIN_FLAG_TRANSIT | LOGIN_STAGE_FFP);
	assert_int_equal(rsp[LOGIN_STATUS_CLASS], 0);
	assert_int_equal(rsp[LOGIN_STATUS_DETAIL], 0);
	assert_int_not_equal(get_be16(rsp + LOGIN_TSIH), 0);
	assert_int_equal(get_be32(rsp + BHS_ITT), 0x1234);
	assert_int_equal(get_be32(rsp + BHS_STATSN), 7);
	assert_int_equal(get_be32(rsp + BHS_EXP_CMDSN), 100);
	assert_memory_equal(rsp + LOGIN_ISID, bhs + LOGIN_ISID, ISCSI_ISID_LEN);
	assert_true(has_key(data, dlen, "AuthMethod=None"));
	assert_int_equal(conn->state, CONN_S_FFP);
	assert_int_equal(conn->max_xmit_dsl, 4096);
	assert_int_equal(iscsi_session_count(), 1);
}

static void
test_lengths(void **state)
{
	uint8_t bhs[ISCSI_BHS_LEN] = {0};
	uint32_t ahs, dlen;

	(void)state;
	bhs[BHS_TOTAL_AHS_LEN] = 3;
	put_be24(bhs + BHS_DSL, 8192);
	assert_int_equal(pdu_check_lengths(bhs, 8192, &ahs, &dlen), 0);
	assert_int_equal(ahs, 12);
	assert_int_equal(dlen, 8192);
	put_be24(bhs + BHS_DSL, 8193);
	assert_int_equal(pdu_check_lengths(bhs, 8192, &ahs, &dlen), -EMSGSIZE);
	put_be24(bhs + BHS_DSL, ISCSI_DSL_MAX);
	assert_int_equal(pdu_dsl(bhs), ISCSI_DSL_MAX);
	assert_int_equal(pdu_pad(0), 0);
	assert_int_equal(pdu_pad(1), 3);
	assert_int_equal(pdu_pad(2), 2);
	assert_int_equal(pdu_pad(3), 1);
	assert_int_equal(pdu_pad(4), 0);
	/* RFC 3720 B.4 style check value of CRC32C. */
	assert_int_equal(crc32c_final(
			     crc32c_update(CRC32C_INIT, "123456789", 9)),
	    0xe3069283u);
}

static void
test_tx_encoding(void **state)
{
	uint8_t bhs[ISCSI_BHS_LEN] = {0}, buf[128];
	uint32_t crc;
	ssize_t n;

	(void)state;
	bhs[BHS_OPCODE] = ISCSI_OP_NOP_IN;
	put_be32(bhs + BHS_ITT, 0xabcdef01);
	assert_int_equal(pdu_tx(conn, bhs, "hello", 5, NULL, NULL), 0);
	assert_int_equal(pdu_tx_flush(conn), 0);
	n = read(peer, buf, sizeof(buf));
	assert_int_equal(n, ISCSI_BHS_LEN + 8);
	assert_int_equal(get_be24(buf + BHS_DSL), 5);
	assert_int_equal(buf[BHS_TOTAL_AHS_LEN], 0);
	assert_int_equal(get_be32(buf + BHS_ITT), 0xabcdef01);
	assert_memory_equal(buf + ISCSI_BHS_LEN, "hello\0\0\0", 8);

	/* With both digests: BHS, CRC, data, pad, CRC. */
	conn->hdigest = conn->ddigest = true;
	assert_int_equal(pdu_tx(conn, bhs, "hello", 5, NULL, NULL), 0);
	assert_int_equal(pdu_tx_flush(conn), 0);
	n = read(peer, buf, sizeof(buf));
	assert_int_equal(n, ISCSI_BHS_LEN + 4 + 8 + 4);
	crc = crc32c_final(crc32c_update(CRC32C_INIT, buf, ISCSI_BHS_LEN));
	assert_memory_equal(buf + ISCSI_BHS_LEN, &crc, 4);
	crc = crc32c_final(
	    crc32c_update(CRC32C_INIT, buf + ISCSI_BHS_LEN + 4, 8));
	assert_memory_equal(buf + ISCSI_BHS_LEN + 12, &crc, 4);
}

static void
test_login_wrong_opcode(void **state)
{
	uint8_t bhs[ISCSI_BHS_LEN] = {0};

	(void)state;
	bhs[BHS_OPCODE] = ISCSI_OP_SCSI_CMD;
	assert_int_equal(feed_pdu(bhs, NULL, 0, false, false), -EPROTO);
}

static void
test_login_too_long(void **state)
{
	uint8_t bhs[ISCSI_BHS_LEN];

	(void)state;
	login_bhs(bhs, 0, 0);
	put_be24(bhs + BHS_DSL, ISCSI_LOGIN_DSL_MAX + 1);
	/* Refused from the header alone, before any data is read. */
	assert_int_equal(feed(bhs, sizeof(bhs)), -EMSGSIZE);
}

static void
expect_login_status(const char *const *kv, uint8_t flags, uint16_t tsih,
    uint16_t status)
{
	uint8_t bhs[ISCSI_BHS_LEN], rsp[ISCSI_BHS_LEN], data[1024];
	char text[1024];
	size_t len = keys(text, sizeof(text), kv);

	login_bhs(bhs, flags, tsih);
	assert_int_equal(feed_pdu(bhs, text, (uint32_t)len, false, false), 0);
	read_pdu(rsp, data, sizeof(data));
	assert_int_equal(rsp[BHS_OPCODE], ISCSI_OP_LOGIN_RSP);
	assert_int_equal(get_be16(rsp + LOGIN_STATUS_CLASS), status);
	assert_true(conn->close_queued || conn->state == CONN_S_CLOSED);
}

static void
test_login_no_initiator(void **state)
{
	static const char *const kv[] = {"SessionType=Discovery", NULL};

	(void)state;
	expect_login_status(kv, LOGIN_FLAG_TRANSIT | LOGIN_STAGE_FFP, 0,
	    LOGIN_ERR_MISSING_PARAMETER);
}

static void
test_login_no_target(void **state)
{
	static const char *const kv[] = {"InitiatorName=" TEST_INITIATOR,
	    "TargetName=iqn.2026-11.test:nothere", NULL};

	(void)state;
	expect_login_status(kv, LOGIN_FLAG_TRANSIT | LOGIN_STAGE_FFP, 0,
	    LOGIN_ERR_TARGET_NOT_FOUND);
}

static void
test_login_duplicate_key(void **state)
{
	static const char *const kv[] = {"InitiatorName=" TEST_INITIATOR,
	    "TargetName=" TEST_TARGET, "MaxBurstLength=4096",
	    "MaxBurstLength=8192", NULL};

	(void)state;
	expect_login_status(kv,
	    LOGIN_FLAG_TRANSIT | (LOGIN_STAGE_OPERATIONAL << LOGIN_CSG_SHIFT) |
		LOGIN_STAGE_FFP,
	    0, LOGIN_ERR_MISSING_PARAMETER);
}

static void
test_login_bad_session(void **state)
{
	static const char *const kv[] = {"InitiatorName=" TEST_INITIATOR,
	    "TargetName=" TEST_TARGET, NULL};

	(void)state;
	expect_login_status(kv, LOGIN_FLAG_TRANSIT | LOGIN_STAGE_FFP, 0x4242,
	    LOGIN_ERR_SESSION_NOT_FOUND);
}

static void
test_login_version(void **state)
{
	static const char *const kv[] = {"InitiatorName=" TEST_INITIATOR, NULL};
	uint8_t bhs[ISCSI_BHS_LEN], rsp[ISCSI_BHS_LEN], data[64];
	char text[128];
	size_t len = keys(text, sizeof(text), kv);

	(void)state;
	login_bhs(bhs, 0, 0);
	bhs[LOGIN_VERSION_MAX] = 2;
	bhs[LOGIN_VERSION_MIN] = 1;
	assert_int_equal(feed_pdu(bhs, text, (uint32_t)len, false, false), 0);
	read_pdu(rsp, data, sizeof(data));
	assert_int_equal(get_be16(rsp + LOGIN_STATUS_CLASS),
	    LOGIN_ERR_UNSUPPORTED_VERSION);
}

static void
test_normal_login_stages(void **state)
{
	static const char *const sec[] = {"InitiatorName=" TEST_INITIATOR,
	    "TargetName=" TEST_TARGET, "AuthMethod=CHAP,None", NULL};
	static const char *const op[] = {"HeaderDigest=None",
	    "MaxRecvDataSegmentLength=262144", "MaxBurstLength=65536",
	    "X-foo=1", NULL};
	uint8_t bhs[ISCSI_BHS_LEN], rsp[ISCSI_BHS_LEN], data[4096];
	char text[1024];
	size_t len;
	uint32_t dlen;

	(void)state;
	len = keys(text, sizeof(text), sec);
	login_bhs(bhs, LOGIN_FLAG_TRANSIT | LOGIN_STAGE_OPERATIONAL, 0);
	assert_int_equal(feed_pdu(bhs, text, (uint32_t)len, false, false), 0);
	dlen = read_pdu(rsp, data, sizeof(data));
	assert_int_equal(rsp[BHS_FLAGS],
	    LOGIN_FLAG_TRANSIT | LOGIN_STAGE_OPERATIONAL);
	assert_int_equal(get_be16(rsp + LOGIN_STATUS_CLASS), LOGIN_OK);
	assert_true(has_key(data, dlen, "AuthMethod=None"));
	assert_true(has_key(data, dlen, "TargetPortalGroupTag=1"));

	len = keys(text, sizeof(text), op);
	login_bhs(bhs,
	    LOGIN_FLAG_TRANSIT | (LOGIN_STAGE_OPERATIONAL << LOGIN_CSG_SHIFT) |
		LOGIN_STAGE_FFP,
	    0);
	assert_int_equal(feed_pdu(bhs, text, (uint32_t)len, false, false), 0);
	dlen = read_pdu(rsp, data, sizeof(data));
	assert_int_equal(get_be16(rsp + LOGIN_STATUS_CLASS), LOGIN_OK);
	assert_int_equal(rsp[BHS_FLAGS],
	    LOGIN_FLAG_TRANSIT | (LOGIN_STAGE_OPERATIONAL << LOGIN_CSG_SHIFT) |
		LOGIN_STAGE_FFP);
	assert_true(has_key(data, dlen, "HeaderDigest=None"));
	assert_true(has_key(data, dlen, "MaxBurstLength=65536"));
	assert_true(has_key(data, dlen, "X-foo=NotUnderstood"));
	assert_true(has_key(data, dlen, "MaxRecvDataSegmentLength=8192"));
	assert_int_equal(conn->state, CONN_S_FFP);
	assert_int_equal(conn->max_xmit_dsl, 8192);
	assert_int_equal(conn->session->exp_cmdsn, 100);
}

static void
test_send_targets(void **state)
{
	static const char st[] = "SendTargets=All";
	uint8_t bhs[ISCSI_BHS_LEN] = {0}, rsp[ISCSI_BHS_LEN], data[4096];
	uint32_t dlen;

	(void)state;
	discovery_login();
	bhs[BHS_OPCODE] = ISCSI_OP_TEXT_REQ | ISCSI_OP_IMMEDIATE;
	bhs[BHS_FLAGS] = ISCSI_FLAG_FINAL;
	put_be32(bhs + BHS_ITT, 5);
	put_be32(bhs + BHS_TTT, ISCSI_RSVD_TAG);
	put_be32(bhs + BHS_CMDSN, 100);
	assert_int_equal(feed_pdu(bhs, st, sizeof(st), false, false), 0);
	dlen = read_pdu(rsp, data, sizeof(data));
	assert_int_equal(rsp[BHS_OPCODE], ISCSI_OP_TEXT_RSP);
	assert_int_equal(rsp[BHS_FLAGS], ISCSI_FLAG_FINAL);
	assert_int_equal(get_be32(rsp + BHS_TTT), ISCSI_RSVD_TAG);
	assert_int_equal(get_be32(rsp + BHS_STATSN), 8);
	assert_true(has_key(data, dlen, "TargetName=" TEST_TARGET));
	assert_true(has_key(data, dlen, "TargetAddress=127.0.0.1:3260,1"));
}

static void
nop_out_bhs(uint8_t *bhs, uint32_t itt)
{
	memset(bhs, 0, ISCSI_BHS_LEN);
	bhs[BHS_OPCODE] = ISCSI_OP_NOP_OUT | ISCSI_OP_IMMEDIATE;
	bhs[BHS_FLAGS] = ISCSI_FLAG_FINAL;
	put_be32(bhs + BHS_ITT, itt);
	put_be32(bhs + NOP_TTT, ISCSI_RSVD_TAG);
	put_be32(bhs + BHS_CMDSN, 100);
}

static void
test_nop_and_digests(void **state)
{
	uint8_t bhs[ISCSI_BHS_LEN], rsp[ISCSI_BHS_LEN], data[4096];
	uint32_t dlen;

	(void)state;
	discovery_login();
	nop_out_bhs(bhs, 9);
	assert_int_equal(feed_pdu(bhs, "ping!", 5, false, false), 0);
	dlen = read_pdu(rsp, data, sizeof(data));
	assert_int_equal(rsp[BHS_OPCODE], ISCSI_OP_NOP_IN);
	assert_int_equal(dlen, 5);
	assert_memory_equal(data, "ping!", 5);
	assert_int_equal(get_be32(rsp + BHS_ITT), 9);
	assert_int_equal(get_be32(rsp + NOP_TTT), ISCSI_RSVD_TAG);

	/* A data digest error: Reject with reason 0x02, conn stays. */
	conn->ddigest = true;
	nop_out_bhs(bhs, 10);
	put_be24(bhs + BHS_DSL, 4);
	{
		uint8_t buf[ISCSI_BHS_LEN + 8];

		memcpy(buf, bhs, ISCSI_BHS_LEN);
		memcpy(buf + ISCSI_BHS_LEN, "abcd\xde\xad\xbe\xef", 8);
		assert_int_equal(feed(buf, sizeof(buf)), 0);
	}
	conn->ddigest = false;
	dlen = read_pdu(rsp, data, sizeof(data));
	assert_int_equal(rsp[BHS_OPCODE], ISCSI_OP_REJECT);
	assert_int_equal(rsp[REJECT_REASON], REJECT_DATA_DIGEST);
	assert_int_equal(dlen, ISCSI_BHS_LEN);
	assert_int_equal(get_be32(data + BHS_ITT), 10);

	/* A good data digest is accepted. */
	conn->ddigest = true;
	nop_out_bhs(bhs, 11);
	assert_int_equal(feed_pdu(bhs, "abcd", 4, false, true), 0);
	conn->ddigest = false;

	/* A header digest error closes the connection. */
	conn->hdigest = true;
	nop_out_bhs(bhs, 12);
	{
		uint8_t buf[ISCSI_BHS_LEN + 4];

		memcpy(buf, bhs, ISCSI_BHS_LEN);
		memset(buf + ISCSI_BHS_LEN, 0x55, 4);
		assert_int_equal(feed(buf, sizeof(buf)), -EPROTO);
	}
}

static void
test_ffp_rejects(void **state)
{
	uint8_t bhs[ISCSI_BHS_LEN] = {0}, rsp[ISCSI_BHS_LEN], data[4096];

	(void)state;
	discovery_login();
	/* SCSI Command in a discovery session: protocol error. */
	bhs[BHS_OPCODE] = ISCSI_OP_SCSI_CMD;
	bhs[BHS_FLAGS] = ISCSI_FLAG_FINAL;
	put_be32(bhs + BHS_CMDSN, 100);
	assert_int_equal(feed_pdu(bhs, NULL, 0, false, false), 0);
	read_pdu(rsp, data, sizeof(data));
	assert_int_equal(rsp[BHS_OPCODE], ISCSI_OP_REJECT);
	assert_int_equal(rsp[REJECT_REASON], REJECT_PROTOCOL_ERROR);
	/* SNACK: not supported at ErrorRecoveryLevel 0. */
	memset(bhs, 0, sizeof(bhs));
	bhs[BHS_OPCODE] = ISCSI_OP_SNACK;
	assert_int_equal(feed_pdu(bhs, NULL, 0, false, false), 0);
	read_pdu(rsp, data, sizeof(data));
	assert_int_equal(rsp[REJECT_REASON], REJECT_CMD_NOT_SUPPORTED);
	/* A data segment over our MaxRecvDataSegmentLength closes. */
	nop_out_bhs(bhs, 1);
	put_be24(bhs + BHS_DSL, conn->max_recv_dsl + 1);
	assert_int_equal(feed(bhs, sizeof(bhs)), -EMSGSIZE);
}

/* Log in to TEST_TARGET in one PDU (security -> FFP), ImmediateData. */
static void
normal_login(void)
{
	static const char *const kv[] = {"InitiatorName=" TEST_INITIATOR,
	    "TargetName=" TEST_TARGET, "AuthMethod=None", "ImmediateData=Yes",
	    NULL};
	uint8_t bhs[ISCSI_BHS_LEN], rsp[ISCSI_BHS_LEN], data[4096];
	char text[512];
	size_t len = keys(text, sizeof(text), kv);

	login_bhs(bhs, LOGIN_FLAG_TRANSIT | LOGIN_STAGE_FFP, 0);
	assert_int_equal(feed_pdu(bhs, text, (uint32_t)len, false, false), 0);
	read_pdu(rsp, data, sizeof(data));
	assert_int_equal(get_be16(rsp + LOGIN_STATUS_CLASS), LOGIN_OK);
	assert_int_equal(conn->state, CONN_S_FFP);
}

/*
 * Send a SCSI Command (W, 512 bytes of immediate data) with the given
 * AHS, but none of its data: the header handler has run and the task,
 * waiting for its data, is in conn->rx.task.
 */
static void
feed_cmd_header(const uint8_t *cdb16, const uint8_t *ahs, size_t ahs_len)
{
	uint8_t buf[ISCSI_BHS_LEN + 64] = {0};

	assert_true(ahs_len % 4 == 0 && ahs_len <= 64);
	buf[BHS_OPCODE] = ISCSI_OP_SCSI_CMD;
	buf[BHS_FLAGS] = ISCSI_FLAG_FINAL | SCSI_CMD_FLAG_WRITE;
	buf[BHS_TOTAL_AHS_LEN] = (uint8_t)(ahs_len / 4);
	put_be24(buf + BHS_DSL, 512);
	put_be32(buf + BHS_ITT, 0x77);
	put_be32(buf + SCSI_CMD_EDTL, 512);
	put_be32(buf + BHS_CMDSN, 100);
	memcpy(buf + SCSI_CMD_CDB, cdb16, SCSI_CMD_CDB_LEN);
	memcpy(buf + ISCSI_BHS_LEN, ahs, ahs_len);
	assert_int_equal(feed(buf, ISCSI_BHS_LEN + ahs_len), 0);
}

/*
 * RFC 7143 11.2.2: AHSLength leaves out AHSLength and AHSType (3 bytes),
 * so an Extended CDB AHS for a CDB of n bytes has AHSLength n - 15 and
 * takes round4(n - 12) bytes; the whole CDB reaches the SCSI layer.
 */
static void
test_ext_cdb_ahs(void **state)
{
	uint8_t cdb[40], ahs[64] = {0};

	(void)state;
	for (unsigned int i = 0; i < sizeof(cdb); i++)
		cdb[i] = (uint8_t)(0xa0 + i);
	cdb[0] = 0x7f;
	normal_login();
	/* 32 bytes: AHSLength 17, 20 bytes (no padding), TotalAHSLength 5. */
	put_be16(ahs, 17);
	ahs[2] = ISCSI_AHS_EXT_CDB;
	memcpy(ahs + 4, cdb + 16, 16);
	feed_cmd_header(cdb, ahs, 20);
	assert_non_null(conn->rx.task);
	assert_int_equal(conn->rx.task->st.cdb_len, 32);
	assert_memory_equal(conn->rx.task->st.cdb, cdb, 32);
}

static void
test_ext_cdb_ahs_then_bidi(void **state)
{
	uint8_t cdb[40], ahs[64] = {0};

	(void)state;
	for (unsigned int i = 0; i < sizeof(cdb); i++)
		cdb[i] = (uint8_t)(0x60 + i);
	normal_login();
	/* The same, then a Bidirectional Read AHS: AHSLength 5, 8 bytes. */
	put_be16(ahs, 17);
	ahs[2] = ISCSI_AHS_EXT_CDB;
	memcpy(ahs + 4, cdb + 16, 16);
	put_be16(ahs + 20, 5);
	ahs[22] = ISCSI_AHS_BIDI_READ_LEN;
	feed_cmd_header(cdb, ahs, 28);
	assert_non_null(conn->rx.task);
	assert_int_equal(conn->rx.task->st.cdb_len, 32);
	assert_memory_equal(conn->rx.task->st.cdb, cdb, 32);
}

static void
test_ext_cdb_ahs_padded(void **state)
{
	uint8_t cdb[40], ahs[64] = {0};

	(void)state;
	for (unsigned int i = 0; i < sizeof(cdb); i++)
		cdb[i] = (uint8_t)(0x10 + i);
	normal_login();
	/* 33 bytes: AHSLength 18, 3 + 18 = 21 bytes, padded to 24. */
	put_be16(ahs, 18);
	ahs[2] = ISCSI_AHS_EXT_CDB;
	memcpy(ahs + 4, cdb + 16, 17);
	feed_cmd_header(cdb, ahs, 24);
	assert_non_null(conn->rx.task);
	assert_int_equal(conn->rx.task->st.cdb_len, 33);
	assert_memory_equal(conn->rx.task->st.cdb, cdb, 33);
}

static void
test_ext_cdb_ahs_malformed(void **state)
{
	uint8_t cdb[16] = {0x7f}, ahs[64] = {0}, rsp[ISCSI_BHS_LEN];
	uint8_t data[4096];

	(void)state;
	normal_login();
	/* AHSLength 21 in a TotalAHSLength of 20 bytes: no task, a Reject. */
	put_be16(ahs, 21);
	ahs[2] = ISCSI_AHS_EXT_CDB;
	feed_cmd_header(cdb, ahs, 20);
	assert_null(conn->rx.task);
	read_pdu(rsp, data, sizeof(data));
	assert_int_equal(rsp[BHS_OPCODE], ISCSI_OP_REJECT);
	assert_int_equal(rsp[REJECT_REASON], REJECT_PROTOCOL_ERROR);
}

static unsigned int
txq_len(void)
{
	unsigned int n = 0;
	struct list_node *pos;

	list_for_each(pos, &conn->txq)
		n++;
	return n;
}

static uint32_t
txq_last_itt(void)
{
	const struct iscsi_tx *tx =
	    list_entry(conn->txq.prev, struct iscsi_tx, node);

	return get_be32(tx->hdr + BHS_ITT);
}

/* In the loop, after the posted receive round of test_tx_backpressure. */
static void
backpressure_check(void *arg)
{
	uint8_t rsp[ISCSI_BHS_LEN], data[64];

	(void)arg;
	assert_int_equal(txq_len(), 1);
	assert_int_equal(read_pdu(rsp, data, sizeof(data)), 8);
	assert_int_equal(rsp[BHS_OPCODE], ISCSI_OP_NOP_IN);
	assert_int_equal(get_be32(rsp + BHS_ITT), 22);
	conn_close(conn);
	conn = NULL;
	/* Freed in the next round, then the loop stops. */
	loop_post(test_loop, stop_loop, test_loop);
}

/* Teardown for a test whose connection was closed in a loop run. */
static int
teardown_closed(void **state)
{
	(void)state;
	close(peer);
	iscsi_loop_fini(test_loop);
	loop_free(test_loop);
	assert_int_equal(iscsi_conn_count(), 0);
	assert_int_equal(iscsi_session_count(), 0);
	return 0;
}

/*
 * Back-pressure: an echo that takes the queue over ISCSI_TX_CONN_MAX
 * stops the receive side, with the next NOP-Out already read ahead; it
 * is answered only once the queue has drained, from the call posted at
 * the resume (no readable event would come for it).
 */
static void
test_tx_backpressure(void **state)
{
	uint8_t bhs[ISCSI_BHS_LEN] = {0}, two[2 * ISCSI_BHS_LEN + 2000 + 8];
	uint8_t sink[65536];
	size_t gap;
	unsigned int n;

	(void)state;
	discovery_login();
	/* Fill the queue to 1000 bytes under the mark with copies. */
	bhs[BHS_OPCODE] = ISCSI_OP_NOP_IN;
	put_be32(bhs + BHS_ITT, ISCSI_RSVD_TAG);
	for (;;) {
		gap = ISCSI_TX_CONN_MAX - conn->tx_queued;
		if (gap <= 1000 + sizeof(struct iscsi_tx))
			break;
		size_t len = gap - 1000 - sizeof(struct iscsi_tx);
		uint8_t *copy;

		if (len > 4096)
			len = 4096;
		copy = calloc(1, len);
		assert_non_null(copy);
		assert_int_equal(pdu_tx(conn, bhs, copy, (uint32_t)len, copy,
				     NULL),
		    0);
	}
	assert_false(conn->rx_paused);
	assert_true(pdu_tx_total() + ISCSI_TX_TOTAL_STEP > conn->tx_queued);
	n = txq_len();
	/* Two NOP-Outs in one write: 2000 bytes of data, then 8. */
	memset(two, 0x5a, sizeof(two));
	nop_out_bhs(two, 21);
	put_be24(two + BHS_DSL, 2000);
	nop_out_bhs(two + ISCSI_BHS_LEN + 2000, 22);
	put_be24(two + ISCSI_BHS_LEN + 2000 + BHS_DSL, 8);
	assert_int_equal(feed(two, sizeof(two)), 0);
	assert_true(conn->rx_paused);
	assert_int_equal(txq_len(), n + 1);
	assert_int_equal(txq_last_itt(), 21);
	assert_true(conn->rx.stage_off < conn->rx.stage_len);
	/* Paused: more reading does nothing. */
	assert_int_equal(pdu_rx(conn), 0);
	assert_int_equal(txq_len(), n + 1);
	/* The peer reads everything: the queue drains, reading resumes. */
	while (!list_empty(&conn->txq)) {
		assert_int_equal(pdu_tx_flush(conn), 0);
		while (read(peer, sink, sizeof(sink)) > 0) {
		}
	}
	assert_false(conn->rx_paused);
	assert_int_equal(conn->tx_queued, 0);
	assert_true(list_empty(&conn->txq));
	/*
	 * The receive round posted at the resume runs in the loop and
	 * answers the NOP-Out read ahead; then the connection closes there
	 * (a stopped loop does not run again: teardown_closed follows).
	 */
	loop_post(test_loop, backpressure_check, NULL);
	loop_run(test_loop);
	assert_null(conn);
}

/* Queue a NOP-In with a copied payload of len bytes on c. */
static void
queue_copy(struct iscsi_conn *c, size_t len)
{
	uint8_t bhs[ISCSI_BHS_LEN] = {0};
	uint8_t *copy = calloc(1, len);

	assert_non_null(copy);
	bhs[BHS_OPCODE] = ISCSI_OP_NOP_IN;
	put_be32(bhs + BHS_ITT, ISCSI_RSVD_TAG);
	assert_int_equal(pdu_tx(c, bhs, copy, (uint32_t)len, copy, NULL), 0);
}

/*
 * The global bound: once all connections together hold more than
 * ISCSI_TX_TOTAL_MAX, one more stops reading at ISCSI_TX_CONN_SHARE, far
 * below its own ISCSI_TX_CONN_MAX.
 */
static void
test_tx_global_bound(void **state)
{
	enum { NCONN = ISCSI_TX_TOTAL_MAX / ISCSI_TX_CONN_MAX + 8 };
	const size_t piece = 16384, charge = piece + sizeof(struct iscsi_tx);
	struct iscsi_conn *c[NCONN];
	int peers[NCONN];
	size_t base = pdu_tx_total();
	int i, n = 0;

	(void)state;
	for (i = 0; i < NCONN; i++) {
		int sv[2];

		assert_int_equal(socketpair(AF_UNIX,
				     SOCK_STREAM | SOCK_NONBLOCK, 0, sv),
		    0);
		c[i] = conn_new(loop_data(test_loop), sv[0]);
		assert_non_null(c[i]);
		peers[i] = sv[1];
	}
	/* Each just under its own mark, until the total is over. */
	while (pdu_tx_total() - base <= ISCSI_TX_TOTAL_MAX) {
		assert_true(n < NCONN - 1);
		while (c[n]->tx_queued + charge <= ISCSI_TX_CONN_MAX &&
		    pdu_tx_total() - base <= ISCSI_TX_TOTAL_MAX)
			queue_copy(c[n], piece);
		/* (The one that took the total over may have stopped.) */
		assert_true(!c[n]->rx_paused ||
		    pdu_tx_total() - base > ISCSI_TX_TOTAL_MAX);
		n++;
	}
	/* Another one: a little is fine, its share is not exceeded... */
	queue_copy(c[n], piece);
	assert_false(c[n]->rx_paused);
	/* ...and past its share it stops reading. */
	while (!c[n]->rx_paused)
		queue_copy(c[n], piece);
	assert_true(c[n]->tx_queued > ISCSI_TX_CONN_SHARE);
	assert_true(c[n]->tx_queued <= ISCSI_TX_CONN_SHARE + charge);
	for (i = 0; i < NCONN; i++) {
		conn_close(c[i]);
		close(peers[i]);
	}
	assert_int_equal(pdu_tx_total(), base);
}

static void
test_lun_decode(void **state)
{
	static const uint8_t peripheral[8] = {0x00, 0x05};
	static const uint8_t flat[8] = {0x41, 0x23};
	static const uint8_t bus[8] = {0x01, 0x05};
	static const uint8_t extended[8] = {0xc0, 0x00};

	(void)state;
	assert_int_equal(ffp_lun_decode(peripheral), 5);
	assert_int_equal(ffp_lun_decode(flat), 0x123);
	assert_true(ffp_lun_decode(bus) > CONF_LUN_MAX);
	assert_true(ffp_lun_decode(extended) > CONF_LUN_MAX);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_lengths),
	    cmocka_unit_test(test_lun_decode),
	    cmocka_unit_test_setup_teardown(test_tx_encoding, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_login_wrong_opcode, setup,
		teardown),
	    cmocka_unit_test_setup_teardown(test_login_too_long, setup,
		teardown),
	    cmocka_unit_test_setup_teardown(test_login_no_initiator, setup,
		teardown),
	    cmocka_unit_test_setup_teardown(test_login_no_target, setup,
		teardown),
	    cmocka_unit_test_setup_teardown(test_login_duplicate_key, setup,
		teardown),
	    cmocka_unit_test_setup_teardown(test_login_bad_session, setup,
		teardown),
	    cmocka_unit_test_setup_teardown(test_login_version, setup,
		teardown),
	    cmocka_unit_test_setup_teardown(test_normal_login_stages, setup,
		teardown),
	    cmocka_unit_test_setup_teardown(test_send_targets, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_nop_and_digests, setup,
		teardown),
	    cmocka_unit_test_setup_teardown(test_ffp_rejects, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_ext_cdb_ahs, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_ext_cdb_ahs_then_bidi, setup,
		teardown),
	    cmocka_unit_test_setup_teardown(test_ext_cdb_ahs_padded, setup,
		teardown),
	    cmocka_unit_test_setup_teardown(test_ext_cdb_ahs_malformed, setup,
		teardown),
	    cmocka_unit_test_setup_teardown(test_tx_backpressure, setup,
		teardown_closed),
	    cmocka_unit_test_setup_teardown(test_tx_global_bound, setup,
		teardown),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
