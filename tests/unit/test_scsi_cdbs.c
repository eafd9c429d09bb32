/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The ietd authors */
/*
 * CDB decoding of the SPC-4 commands ietd serves (TEST UNIT READY,
 * INQUIRY and its VPD pages, REPORT LUNS, REQUEST SENSE, MODE SENSE and
 * MODE SELECT, the MAINTENANCE IN reports, RESERVE/RELEASE, PERSISTENT
 * RESERVE IN/OUT) and the sense data built for each refused field, in
 * fixed and in descriptor format.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "scsi_harness.h"
#include "scsi/scsi_int.h"

static bool
all_zero(const uint8_t *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (p[i] != 0)
			return false;
	return true;
}

/* The sense builder itself: fixed and descriptor layouts, byte for byte. */
static void
test_sense_build(void **state)
{
	static const uint8_t fixed_sks[18] = {0x70, 0, 0x05, 0, 0, 0, 0, 10, 0,
	    0, 0, 0, 0x24, 0x00, 0, 0xcb, 0x00, 0x02};
	static const uint8_t fixed_info[18] = {0xf0, 0, 0x0e, 0x00, 0x00, 0x02,
	    0xbc, 10, 0, 0, 0, 0, 0x1d, 0x00, 0, 0, 0, 0};
	static const uint8_t desc_both[28] = {0x72, 0x03, 0x11, 0x00, 0, 0, 0,
	    20, 0x00, 0x0a, 0x80, 0, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00,
	    0x05, 0x02, 0x06, 0, 0, 0x88, 0x01, 0x02, 0};
	static const uint8_t sks[3] = {0xcb, 0x00, 0x02};
	static const uint8_t sks2[3] = {0x88, 0x01, 0x02};
	uint8_t b[SCSI_SENSE_MAX];
	unsigned int len;

	(void)state;
	/* INVALID FIELD IN CDB, byte 2 bit 3. */
	memset(b, 0xee, sizeof(b));
	scsi_sense_build(b, &len, false, 0x05, 0x24, 0x00, false, 0, sks);
	assert_int_equal(len, 18);
	h_expect_bytes(b, fixed_sks, 18);
	/* MISCOMPARE with the offset 700 in INFORMATION, VALID set. */
	scsi_sense_build(b, &len, false, 0x0e, 0x1d, 0x00, true, 700, NULL);
	assert_int_equal(len, 18);
	h_expect_bytes(b, fixed_info, 18);
	/*
	 * An INFORMATION value past 32 bits does not fit fixed format: it
	 * is left out with VALID clear (SPC-4 4.5.3), never truncated.
	 */
	scsi_sense_build(b, &len, false, 0x03, 0x11, 0x00, true, 0x100000005ull,
	    NULL);
	assert_int_equal(b[0], 0x70);
	assert_int_equal(get_be32(b + 3), 0);
	/* Descriptor format carries all 64 bits and the SKS descriptor. */
	scsi_sense_build(b, &len, true, 0x03, 0x11, 0x00, true, 0x100000005ull,
	    sks2);
	assert_int_equal(len, 28);
	h_expect_bytes(b, desc_both, 28);
	/* Neither: the 8-byte header alone. */
	scsi_sense_build(b, &len, true, 0x06, 0x29, 0x00, false, 0, NULL);
	assert_int_equal(len, 8);
	assert_int_equal(b[7], 0);
}

/* TEST UNIT READY, unknown opcodes, NACA and the missing LU. */
static void
test_tur_opcodes_nolu(void **state)
{
	struct scsi_lu *lu = h_lu("nullio", false);
	static const struct h_case cases[] = {
	    {.name = "TUR"},
	    {.name = "TUR NACA",
		.cdb = {0x00, 0, 0, 0, 0, 0x04},
		H_INV_CDB(5, 2)},
	    {.name = "READ(10) NACA",
		.cdb = {0x28, 0, 0, 0, 0, 0, 0, 0, 0, 0x04},
		H_INV_CDB(9, 2)},
	    {.name = "READ(16) NACA",
		.cdb = {0x88, [15] = 0x04},
		H_INV_CDB(15, 2)},
	    {.name = "opcode 0x02", .cdb = {0x02}, H_BAD_OPCODE},
	    {.name = "FORMAT UNIT", .cdb = {0x04}, H_BAD_OPCODE},
	    {.name = "READ LONG", .cdb = {0x3e}, H_BAD_OPCODE},
	    {.name = "EXTENDED COPY(LID4)",
		.cdb = {0x83, 0x01},
		H_INV_CDB(1, 4)},
	    {.name = "READ(32)", .cdb = {0x7f, [7] = 0x18}, H_BAD_OPCODE},
	    {.name = "opcode 0xff", .cdb = {0xff}, H_BAD_OPCODE},
	};
	static const uint8_t ua_desc[8] = {0x72, 0x06, 0x2a, 0x09};
	static const uint8_t ua_fixed[18] = {0x70, 0, 0x06, 0, 0, 0, 0, 10, 0,
	    0, 0, 0, 0x2a, 0x09};
	uint8_t inq[6] = {0x12, 0, 0, 0, 96, 0};
	uint8_t tur[6] = {0x00};
	uint8_t rs[6] = {0x03, 0, 0, 0, 18, 0};
	uint8_t rl[12] = {0xa0, 0, 0, 0, 0, 0, 0, 0, 0, 64, 0, 0};
	struct h_task *t;

	(void)state;
	h_cases(lu, cases, H_NCASES(cases));
	/* A unit attention in descriptor format: the 8-byte header. */
	h_dsense(lu, true);
	scsi_lu_ua_capacity_changed(lu);
	t = h_in(lu, tur, 0);
	assert_int_equal(t->task.status, H_CHECK);
	assert_int_equal(t->task.sense_len, 8);
	h_expect_bytes(t->task.sense, ua_desc, sizeof(ua_desc));
	h_dsense(lu, false);
	scsi_lu_ua_capacity_changed(lu);
	t = h_in(lu, tur, 0);
	assert_int_equal(t->task.sense_len, 18);
	h_expect_bytes(t->task.sense, ua_fixed, sizeof(ua_fixed));
	/* No LU (SPC-4 6.6.2): INQUIRY says qualifier 011b, type 1Fh. */
	t = h_in(NULL, inq, 96);
	h_expect_good(t);
	assert_int_equal(t->buf[0], 0x7f);
	assert_int_equal(t->task.data_in_len, 74);
	/* Anything else is LOGICAL UNIT NOT SUPPORTED. */
	t = h_in(NULL, tur, 0);
	assert_int_equal(t->task.status, H_CHECK);
	assert_int_equal(t->task.sense[2], H_SK_ILLEGAL);
	assert_int_equal(t->task.sense[12], 0x25);
	assert_int_equal(t->task.sense[13], 0x00);
	/* REQUEST SENSE reports it as data, GOOD status. */
	t = h_in(NULL, rs, 18);
	h_expect_good(t);
	assert_int_equal(t->task.data_in_len, 18);
	assert_int_equal(t->buf[0], 0x70);
	assert_int_equal(t->buf[2], H_SK_ILLEGAL);
	assert_int_equal(t->buf[12], 0x25);
	/* INQUIRY EVPD for a missing LU: no page to give. */
	inq[1] = 0x01;
	t = h_in(NULL, inq, 96);
	assert_int_equal(t->task.status, H_CHECK);
	assert_int_equal(t->task.sense[12], 0x25);
	t = h_in(NULL, rl, 64);
	h_expect_good(t);
	assert_int_equal(get_be32(t->buf), 24);
	scsi_lu_put(lu);
}

/* INQUIRY standard data (SPC-4 6.6.2) and allocation lengths. */
static void
test_inquiry_std(void **state)
{
	struct scsi_lu *lu = h_lu("nullio", false);
	static const uint8_t want[74] = {0x00, 0x00, 0x06, 0x12, 69, 0x00, 0x00,
	    0x02, 'I', 'E', 'T', ' ', ' ', ' ', ' ', ' ', 'V', 'I', 'R', 'T',
	    'U', 'A', 'L', '-', 'D', 'I', 'S', 'K', ' ', ' ', ' ', ' ', '0',
	    '0', '0', '1', [58] = 0x00, 0xa0, 0x09, 0x60, 0x04, 0x60, 0x04,
	    0xc0};
	static const struct h_case cases[] = {
	    {.name = "INQUIRY page code without EVPD",
		.cdb = {0x12, 0, 0x80, 0, 255, 0},
		.len = 255,
		H_INV_CDB(2, -1)},
	    {.name = "INQUIRY CMDDT-era page 0x83 without EVPD",
		.cdb = {0x12, 0, 0x83, 0, 255, 0},
		.len = 255,
		H_INV_CDB(2, -1)},
	    {.name = "INQUIRY NACA",
		.cdb = {0x12, 0, 0, 0, 36, 0x04},
		.len = 36,
		H_INV_CDB(5, 2)},
	};
	uint8_t cdb[6] = {0x12, 0, 0, 0, 255, 0};
	struct h_task *t;

	(void)state;
	t = h_in(lu, cdb, 255);
	h_expect_good(t);
	assert_int_equal(t->task.data_in_len, 74);
	assert_int_equal(t->task.xfer_len, 74);
	h_expect_bytes(t->buf, want, sizeof(want));
	assert_int_equal(t->buf[74], 0xcc);
	/* Allocation length 36 truncates: exactly 36 bytes. */
	cdb[4] = 36;
	t = h_in(lu, cdb, 255);
	h_expect_good(t);
	assert_int_equal(t->task.data_in_len, 36);
	assert_int_equal(t->task.xfer_len, 36);
	h_expect_bytes(t->buf, want, 36);
	assert_int_equal(t->buf[36], 0xcc);
	/* A 16-bit allocation length (bytes 3-4): 0x0100 = 256. */
	cdb[3] = 0x01;
	cdb[4] = 0x00;
	t = h_in(lu, cdb, 512);
	assert_int_equal(t->task.data_in_len, 74);
	/* Zero: no data, not an error (SPC-4 4.2.5.6). */
	cdb[3] = 0;
	t = h_in(lu, cdb, 255);
	h_expect_good(t);
	assert_int_equal(t->task.data_in_len, 0);
	assert_int_equal(t->task.xfer_len, 0);
	assert_int_equal(t->buf[0], 0xcc);
	/* The buffer (EDTL) smaller than the allocation length. */
	cdb[4] = 74;
	t = h_in(lu, cdb, 20);
	assert_int_equal(t->task.data_in_len, 20);
	assert_int_equal(t->task.xfer_len, 74);
	assert_int_equal(t->buf[20], 0xcc);
	h_cases(lu, cases, H_NCASES(cases));
	scsi_lu_put(lu);
}

/* VPD pages 00h, 80h, 83h, 8Fh, B0h, B1h, B2h (SPC-4 7.8, SBC-4 6.6). */
static void
test_inquiry_vpd(void **state)
{
	struct scsi_lu *lu = h_lu("nullio", false);
	struct scsi_lu *ro = h_lu("nullio", true);
	static const uint8_t p00[11] = {0x00, 0x00, 0x00, 0x07, 0x00, 0x80,
	    0x83, 0x8f, 0xb0, 0xb1, 0xb2};
	static const uint8_t p80[13] = {0x00, 0x80, 0x00, 0x09, 'i', 'e', 't',
	    'd', '-', 's', 'n', '-', '1'};
	static const uint8_t pb0[64] = {0x00, 0xb0, 0x00, 0x3c, 0x00, 0x01,
	    0x00, 0x01, 0x00, 0x00, 0x80, 0x00, 0x00, 0x00, 0x08, 0x00, 0, 0, 0,
	    0, 0x00, 0x10, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00,
	    0x01, 0, 0, 0, 0, 0, 0, 0, 0, 0x00, 0x00, 0x80, 0x00, 0x00, 0x00,
	    0x08, 0x00};
	/* WABEREQ 01b: nullio discards, and its discarded blocks read 0. */
	static const uint8_t pb1[64] = {0x00, 0xb1, 0x00, 0x3c, 0, 0, 0, 0x40};
	static const uint8_t pb2[8] = {0x00, 0xb2, 0x00, 0x04, 0x00, 0xe4, 0x02,
	    0x00};
	static const uint8_t pb2_ro[8] = {0x00, 0xb2, 0x00, 0x04};
	static const uint8_t t10[21] = {0x02, 0x01, 0x00, 17, 'I', 'E', 'T',
	    ' ', ' ', ' ', ' ', ' ', 'i', 'e', 't', 'd', '-', 'i', 'd', '-',
	    '1'};
	static const uint8_t relport[8] = {0x51, 0x94, 0x00, 0x04, 0, 0, 0x00,
	    0x01};
	static const uint8_t tpg[8] = {0x51, 0x95, 0x00, 0x04, 0, 0, 0x00,
	    0x01};
	static const struct h_case cases[] = {
	    {.name = "VPD 01h",
		.cdb = {0x12, 0x01, 0x01, 0, 255, 0},
		.len = 255,
		H_INV_CDB(2, -1)},
	    {.name = "VPD 86h",
		.cdb = {0x12, 0x01, 0x86, 0, 255, 0},
		.len = 255,
		H_INV_CDB(2, -1)},
	    {.name = "VPD B3h",
		.cdb = {0x12, 0x01, 0xb3, 0, 255, 0},
		.len = 255,
		H_INV_CDB(2, -1)},
	    {.name = "VPD FFh",
		.cdb = {0x12, 0x01, 0xff, 0, 255, 0},
		.len = 255,
		H_INV_CDB(2, -1)},
	};
	uint8_t cdb[6] = {0x12, 0x01, 0x00, 0, 255, 0};
	struct h_task *t;
	unsigned int off, len;
	const char *tp = h_nx1.target_port;

	(void)state;
	t = h_in(lu, cdb, 255);
	h_expect_good(t);
	assert_int_equal(t->task.data_in_len, sizeof(p00));
	h_expect_bytes(t->buf, p00, sizeof(p00));
	cdb[2] = 0x80;
	t = h_in(lu, cdb, 255);
	assert_int_equal(t->task.data_in_len, sizeof(p80));
	h_expect_bytes(t->buf, p80, sizeof(p80));
	/* Device identification: NAA, T10, then port and target names. */
	cdb[2] = 0x83;
	t = h_in(lu, cdb, 255);
	h_expect_good(t);
	len = get_be16(t->buf + 2) + 4u;
	assert_int_equal(t->task.data_in_len, len);
	assert_int_equal(t->buf[0], 0x00);
	assert_int_equal(t->buf[1], 0x83);
	assert_int_equal(t->buf[4], 0x01); /* binary */
	assert_int_equal(t->buf[5], 0x03); /* LU, NAA */
	assert_int_equal(t->buf[7], 8);
	assert_int_equal(t->buf[8] >> 4, 0x3); /* locally assigned */
	h_expect_bytes(t->buf + 16, t10, sizeof(t10));
	off = 16 + sizeof(t10);
	/* SCSI name string, target port, iSCSI, UTF-8, NUL padded to 4. */
	assert_int_equal(t->buf[off], 0x53);
	assert_int_equal(t->buf[off + 1], 0x98);
	assert_int_equal(t->buf[off + 3], (strlen(tp) + 1 + 3) / 4 * 4);
	assert_memory_equal(t->buf + off + 4, tp, strlen(tp) + 1);
	off += 4 + t->buf[off + 3];
	h_expect_bytes(t->buf + off, relport, sizeof(relport));
	off += 8;
	h_expect_bytes(t->buf + off, tpg, sizeof(tpg));
	off += 8;
	/* SCSI target device name. */
	assert_int_equal(t->buf[off], 0x53);
	assert_int_equal(t->buf[off + 1], 0xa8);
	assert_string_equal((const char *)t->buf + off + 4,
	    "iqn.2026-01.org.example:disk");
	off += 4 + t->buf[off + 3];
	assert_int_equal(off, len);
	/* Truncated by the allocation length: still GOOD, header kept. */
	cdb[4] = 6;
	t = h_in(lu, cdb, 255);
	assert_int_equal(t->task.data_in_len, 6);
	assert_int_equal(get_be16(t->buf + 2) + 4u, len);
	assert_int_equal(t->buf[6], 0xcc);
	cdb[4] = 255;
	/* Block limits. */
	cdb[2] = 0xb0;
	t = h_in(lu, cdb, 255);
	assert_int_equal(t->task.data_in_len, 64);
	h_expect_bytes(t->buf, pb0, sizeof(pb0));
	cdb[2] = 0xb1;
	t = h_in(lu, cdb, 255);
	assert_int_equal(t->task.data_in_len, 64);
	h_expect_bytes(t->buf, pb1, sizeof(pb1));
	/* LBPU, LBPWS, LBPWS10, LBPRZ; thin provisioned. */
	cdb[2] = 0xb2;
	t = h_in(lu, cdb, 255);
	assert_int_equal(t->task.data_in_len, 8);
	h_expect_bytes(t->buf, pb2, sizeof(pb2));
	/* A read-only LU can unmap nothing: no LBP bits, no unmap limits. */
	t = h_in(ro, cdb, 255);
	h_expect_bytes(t->buf, pb2_ro, sizeof(pb2_ro));
	cdb[2] = 0xb0;
	t = h_in(ro, cdb, 255);
	assert_int_equal(get_be32(t->buf + 20), 0);
	assert_int_equal(get_be32(t->buf + 24), 0);
	h_cases(lu, cases, H_NCASES(cases));
	scsi_lu_put(ro);
	scsi_lu_put(lu);
}

/* REPORT LUNS (SPC-4 6.33) and REQUEST SENSE (SPC-4 6.39). */
static void
test_report_luns_request_sense(void **state)
{
	struct scsi_lu *lu = h_lu("nullio", false);
	static const uint8_t want[32] = {0, 0, 0, 24, 0, 0, 0, 0, 0x00, 0x00, 0,
	    0, 0, 0, 0, 0, 0x00, 0x01, 0, 0, 0, 0, 0, 0, 0x41, 0x2c};
	static const uint8_t fixed[18] = {0x70, 0, 0, 0, 0, 0, 0, 10};
	static const uint8_t desc[8] = {0x72};
	static const struct h_case cases[] = {
	    {.name = "REPORT LUNS SELECT REPORT 03h",
		.cdb = {0xa0, 0, 0x03, 0, 0, 0, 0, 0, 1, 0, 0, 0},
		.len = 256,
		H_INV_CDB(2, -1)},
	    {.name = "REPORT LUNS SELECT REPORT FFh",
		.cdb = {0xa0, 0, 0xff, 0, 0, 0, 0, 0, 1, 0, 0, 0},
		.len = 256,
		H_INV_CDB(2, -1)},
	    {.name = "REPORT LUNS allocation 15",
		.cdb = {0xa0, 0, 0, 0, 0, 0, 0, 0, 0, 15, 0, 0},
		.len = 256,
		H_INV_CDB(6, -1)},
	    {.name = "REPORT LUNS allocation 0",
		.cdb = {0xa0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0},
		.len = 256,
		H_INV_CDB(6, -1)},
	};
	uint8_t rl[12] = {0xa0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0};
	uint8_t rs[6] = {0x03, 0, 0, 0, 252, 0};
	struct h_task *t;

	(void)state;
	t = h_in(lu, rl, 256);
	h_expect_good(t);
	assert_int_equal(t->task.data_in_len, 32);
	assert_int_equal(t->task.xfer_len, 32);
	h_expect_bytes(t->buf, want, sizeof(want));
	/* 16 bytes: the list length still counts every LUN. */
	rl[8] = 0;
	rl[9] = 16;
	t = h_in(lu, rl, 256);
	h_expect_good(t);
	assert_int_equal(t->task.data_in_len, 16);
	h_expect_bytes(t->buf, want, 16);
	assert_int_equal(t->buf[16], 0xcc);
	/* SELECT REPORT 01h: well known LUs only, of which there are none. */
	rl[2] = 0x01;
	rl[9] = 64;
	t = h_in(lu, rl, 256);
	h_expect_good(t);
	assert_int_equal(t->task.data_in_len, 8);
	assert_int_equal(get_be32(t->buf), 0);
	rl[2] = 0x02;
	t = h_in(lu, rl, 256);
	assert_int_equal(get_be32(t->buf), 24);
	h_cases(lu, cases, H_NCASES(cases));
	/* REQUEST SENSE, nothing pending: NO SENSE, fixed, 18 bytes. */
	t = h_in(lu, rs, 252);
	h_expect_good(t);
	assert_int_equal(t->task.data_in_len, 18);
	h_expect_bytes(t->buf, fixed, sizeof(fixed));
	/* DESC=1: descriptor format, header only. */
	rs[1] = 0x01;
	t = h_in(lu, rs, 252);
	h_expect_good(t);
	assert_int_equal(t->task.data_in_len, 8);
	h_expect_bytes(t->buf, desc, sizeof(desc));
	/* Allocation length truncates; zero transfers nothing. */
	rs[1] = 0;
	rs[4] = 8;
	t = h_in(lu, rs, 252);
	assert_int_equal(t->task.data_in_len, 8);
	assert_int_equal(t->buf[8], 0xcc);
	rs[4] = 0;
	t = h_in(lu, rs, 252);
	h_expect_good(t);
	assert_int_equal(t->task.data_in_len, 0);
	/* A pending UA is returned as data and cleared (SPC-4 6.39). */
	scsi_lu_ua_capacity_changed(lu);
	rs[4] = 18;
	t = h_in(lu, rs, 252);
	h_expect_good(t);
	assert_int_equal(t->buf[2], H_SK_UA);
	assert_int_equal(t->buf[12], 0x2a);
	assert_int_equal(t->buf[13], 0x09);
	t = h_in(lu, rs, 252);
	assert_int_equal(t->buf[2], 0);
	scsi_lu_put(lu);
}

/* MODE SENSE (6)/(10) (SPC-4 6.13, 6.14) data, byte for byte. */
static void
test_mode_sense(void **state)
{
	struct scsi_lu *lu =
	    h_lu_open("nullio", (uint64_t)H_BLOCKS * H_BS, false, true);
	struct scsi_lu *ro = h_lu("nullio", true);
	static const uint8_t rw_rec[12] = {0x01, 10};
	static const uint8_t caching[20] = {0x08, 18, 0x04};
	static const uint8_t control[12] = {0x0a, 10, 0x00, 0x10, 0, 0x40, 0, 0,
	    0xff, 0xff, 0, 0};
	static const uint8_t iec[12] = {0x1c, 10};
	static const uint8_t hdr6[12] = {67, 0x00, 0x10, 8, 0x00, 0x00, 0x08,
	    0x00, 0x00, 0x00, 0x02, 0x00};
	static const uint8_t hdr10_long[24] = {0, 34, 0x00, 0x10, 0x01, 0, 0,
	    16, 0, 0, 0, 0, 0, 0, 0x08, 0x00, 0, 0, 0, 0, 0x00, 0x00, 0x02,
	    0x00};
	static const uint8_t caching_chg[20] = {0x08, 18, 0x04};
	static const uint8_t control_chg[12] = {0x0a, 10, 0x04, 0x00, 0x08};
	static const struct h_case cases[] = {
	    {.name = "MODE SENSE(6) page 05h",
		.cdb = {0x1a, 0, 0x05, 0, 255, 0},
		.len = 255,
		H_INV_CDB(2, 5)},
	    {.name = "MODE SENSE(6) page 3Eh",
		.cdb = {0x1a, 0, 0x3e, 0, 255, 0},
		.len = 255,
		H_INV_CDB(2, 5)},
	    {.name = "MODE SENSE(6) changeable page 02h",
		.cdb = {0x1a, 0, 0x42, 0, 255, 0},
		.len = 255,
		H_INV_CDB(2, 5)},
	    {.name = "MODE SENSE(10) page 00h",
		.cdb = {0x5a, 0, 0x00, 0, 0, 0, 0, 0, 255, 0},
		.len = 255,
		H_INV_CDB(2, 5)},
	    {.name = "MODE SENSE(6) caching subpage 01h",
		.cdb = {0x1a, 0, 0x08, 0x01, 255, 0},
		.len = 255,
		H_INV_CDB(3, -1)},
	    {.name = "MODE SENSE(6) control subpage FFh",
		.cdb = {0x1a, 0, 0x0a, 0xff, 255, 0},
		.len = 255,
		H_INV_CDB(3, -1)},
	    {.name = "MODE SENSE(10) all pages subpage 01h",
		.cdb = {0x5a, 0, 0x3f, 0x01, 0, 0, 0, 0, 255, 0},
		.len = 255,
		H_INV_CDB(3, -1)},
	    {.name = "MODE SENSE(6) saved values",
		.cdb = {0x1a, 0, 0xc8, 0, 255, 0},
		.len = 255,
		H_SENSE(H_SK_ILLEGAL, 0x39, 0x00)},
	    {.name = "MODE SENSE(10) saved values",
		.cdb = {0x5a, 0, 0xff, 0, 0, 0, 0, 0, 255, 0},
		.len = 255,
		H_SENSE(H_SK_ILLEGAL, 0x39, 0x00)},
	};
	uint8_t ms6[6] = {0x1a, 0, 0x3f, 0, 255, 0};
	uint8_t ms10[10] = {0x5a, 0x10, 0x3f, 0, 0, 0, 0, 0, 255, 0};
	struct h_task *t;

	(void)state;
	/* All pages, block descriptor, write cache on. */
	t = h_in(lu, ms6, 255);
	h_expect_good(t);
	assert_int_equal(t->task.data_in_len, 68);
	h_expect_bytes(t->buf, hdr6, sizeof(hdr6));
	h_expect_bytes(t->buf + 12, rw_rec, 12);
	h_expect_bytes(t->buf + 24, caching, 20);
	h_expect_bytes(t->buf + 44, control, 12);
	h_expect_bytes(t->buf + 56, iec, 12);
	/* Subpage FFh with page 3Fh: the same (no subpages here). */
	ms6[3] = 0xff;
	t = h_in(lu, ms6, 255);
	h_expect_good(t);
	assert_int_equal(t->task.data_in_len, 68);
	ms6[3] = 0;
	/* Allocation length 4: the header, whose length counts everything. */
	ms6[4] = 4;
	t = h_in(lu, ms6, 255);
	h_expect_good(t);
	assert_int_equal(t->task.data_in_len, 4);
	assert_int_equal(t->task.xfer_len, 4);
	assert_int_equal(t->buf[0], 67);
	assert_int_equal(t->buf[4], 0xcc);
	ms6[4] = 0;
	t = h_in(lu, ms6, 255);
	h_expect_good(t);
	assert_int_equal(t->task.data_in_len, 0);
	/* MODE SENSE(10), LLBAA: a 16-byte block descriptor, LONGLBA. */
	t = h_in(lu, ms10, 255);
	h_expect_good(t);
	assert_int_equal(t->task.data_in_len, 8 + 16 + 12 + 20 + 12 + 12);
	assert_int_equal(get_be16(t->buf), 8 + 16 + 56 - 2);
	/* hdr10_long's length is for the rw page alone; check bytes 2+ */
	h_expect_bytes(t->buf + 2, hdr10_long + 2, sizeof(hdr10_long) - 2);
	/* DBD, one page: no descriptor. */
	ms10[1] = 0x08;
	ms10[2] = 0x0a;
	t = h_in(lu, ms10, 255);
	assert_int_equal(t->task.data_in_len, 8 + 12);
	assert_int_equal(get_be16(t->buf), 18);
	assert_int_equal(get_be16(t->buf + 6), 0);
	h_expect_bytes(t->buf + 8, control, 12);
	/* Changeable values: WCE; D_SENSE and SWP. */
	ms10[2] = 0x48;
	t = h_in(lu, ms10, 255);
	h_expect_bytes(t->buf + 8, caching_chg, 20);
	ms10[2] = 0x4a;
	t = h_in(lu, ms10, 255);
	h_expect_bytes(t->buf + 8, control_chg, 12);
	/* Default values: the LU's own WCE default; D_SENSE off. */
	ms10[2] = 0x88;
	t = h_in(lu, ms10, 255);
	h_expect_bytes(t->buf + 8, caching, 20);
	/* 10-byte allocation length in bytes 7-8. */
	ms10[2] = 0x3f;
	ms10[7] = 0;
	ms10[8] = 10;
	t = h_in(lu, ms10, 255);
	assert_int_equal(t->task.data_in_len, 10);
	/* Read-only LU: WP in the device-specific parameter, WCE off. */
	ms6[4] = 255;
	ms6[2] = 0x08;
	t = h_in(ro, ms6, 255);
	assert_int_equal(t->buf[2], 0x90);
	assert_int_equal(t->buf[12 + 2], 0x00);
	h_cases(lu, cases, H_NCASES(cases));
	scsi_lu_put(ro);
	scsi_lu_put(lu);
}

/* Mode parameter lists for the MODE SELECT cases. */
static const uint8_t ms_caching6[24] = {0, 0, 0, 0, 0x08, 18, 0x00};
static const uint8_t ms_bad_page6[16] = {0, 0, 0, 0, 0x02, 10};
static const uint8_t ms_bad_len6[14] = {0, 0, 0, 0, 0x0a, 8};
static const uint8_t ms_spf6[16] = {0, 0, 0, 0, 0x4a, 0x00, 0x00, 12};
static const uint8_t ms_rcd6[24] = {0, 0, 0, 0, 0x08, 18, 0x01};
static const uint8_t ms_qam6[16] = {0, 0, 0, 0, 0x0a, 10, 0x00, 0x00, 0, 0x40,
    0, 0, 0xff, 0xff};
static const uint8_t ms_iec6[16] = {0, 0, 0, 0, 0x1c, 10, 0x08};
static const uint8_t ms_rwrec6[16] = {0, 0, 0, 0, 0x01, 10, 0x80};
static const uint8_t ms_bdl6[12] = {0, 0, 0, 16};
static const uint8_t ms_trunc6[20] = {0, 0, 0, 0, 0x08, 18};
static const uint8_t ms_half6[5] = {0, 0, 0, 0, 0x08};
static const uint8_t ms_bd_caching6[32] = {0, 0, 0, 8, 0, 0, 0x08, 0x00, 0, 0,
    0x02, 0x00, 0x08, 18, 0x04};
static const uint8_t ms_bd_4k6[12] = {0, 0, 0, 8, 0, 0, 0x08, 0x00, 0, 0, 0x10,
    0x00};
static const uint8_t ms_bd_4k10[24] = {0, 0, 0, 0, 0x01, 0, 0, 16, 0, 0, 0, 0,
    0, 0, 0x08, 0x00, 0, 0, 0, 0, 0x00, 0x00, 0x10, 0x00};
static const uint8_t ms_bd_512_10[24] = {0, 0, 0, 0, 0x01, 0, 0, 16, 0, 0, 0, 0,
    0, 0, 0x08, 0x00, 0, 0, 0, 0, 0x00, 0x00, 0x02, 0x00};
static const uint8_t ms_caching10[28] = {0, 0, 0, 0, 0, 0, 0, 0, 0x08, 18,
    0x04};
static const uint8_t ms_bad_page10[20] = {0, 0, 0, 0, 0, 0, 0, 0, 0x03, 10};
static const uint8_t ms_chg10[20] = {0, 0, 0, 0, 0, 0, 0, 0, 0x0a, 10, 0x00,
    0x10, 0x80, 0x40, 0, 0, 0xff, 0xff};

/* MODE SELECT (6)/(10) (SPC-4 6.11, 6.12): what may change, and how not. */
static void
test_mode_select(void **state)
{
	struct scsi_lu *lu = h_lu("nullio", false);
	static const struct h_case cases[] = {
	    {.name = "MODE SELECT(6) SP",
		.cdb = {0x15, 0x11, 0, 0, 24, 0},
		.data = ms_caching6,
		.dlen = 24,
		.len = 24,
		.out = true,
		H_INV_CDB(1, 0)},
	    {.name = "MODE SELECT(10) SP",
		.cdb = {0x55, 0x11, 0, 0, 0, 0, 0, 0, 28, 0},
		.data = ms_caching10,
		.dlen = 28,
		.len = 28,
		.out = true,
		H_INV_CDB(1, 0)},
	    {.name = "MODE SELECT(6) list shorter than the header",
		.cdb = {0x15, 0x10, 0, 0, 3, 0},
		.data = ms_caching6,
		.dlen = 3,
		.len = 3,
		.out = true,
		H_PLL_ERR},
	    {.name = "MODE SELECT(10) list shorter than the header",
		.cdb = {0x55, 0x10, 0, 0, 0, 0, 0, 0, 7, 0},
		.data = ms_caching10,
		.dlen = 7,
		.len = 7,
		.out = true,
		H_PLL_ERR},
	    {.name = "MODE SELECT(6) block descriptor past the list",
		.cdb = {0x15, 0x10, 0, 0, 12, 0},
		.data = ms_bdl6,
		.dlen = 12,
		.len = 12,
		.out = true,
		H_PLL_ERR},
	    {.name = "MODE SELECT(6) page truncated",
		.cdb = {0x15, 0x10, 0, 0, 20, 0},
		.data = ms_trunc6,
		.dlen = 20,
		.len = 20,
		.out = true,
		H_PLL_ERR},
	    {.name = "MODE SELECT(6) page header truncated",
		.cdb = {0x15, 0x10, 0, 0, 5, 0},
		.data = ms_half6,
		.dlen = 5,
		.len = 5,
		.out = true,
		H_PLL_ERR},
	    {.name = "MODE SELECT(6) unknown page 02h",
		.cdb = {0x15, 0x10, 0, 0, 16, 0},
		.data = ms_bad_page6,
		.dlen = 16,
		.len = 16,
		.out = true,
		H_INV_PARAM(4, 5)},
	    {.name = "MODE SELECT(10) unknown page 03h",
		.cdb = {0x55, 0x10, 0, 0, 0, 0, 0, 0, 20, 0},
		.data = ms_bad_page10,
		.dlen = 20,
		.len = 20,
		.out = true,
		H_INV_PARAM(8, 5)},
	    {.name = "MODE SELECT(6) control page length 8",
		.cdb = {0x15, 0x10, 0, 0, 14, 0},
		.data = ms_bad_len6,
		.dlen = 14,
		.len = 14,
		.out = true,
		H_INV_PARAM(5, -1)},
	    {.name = "MODE SELECT(6) SPF page format",
		.cdb = {0x15, 0x10, 0, 0, 16, 0},
		.data = ms_spf6,
		.dlen = 16,
		.len = 16,
		.out = true,
		H_INV_PARAM(4, 6)},
	    {.name = "MODE SELECT(6) caching RCD (not changeable)",
		.cdb = {0x15, 0x10, 0, 0, 24, 0},
		.data = ms_rcd6,
		.dlen = 24,
		.len = 24,
		.out = true,
		H_INV_PARAM(6, -1)},
	    {.name = "MODE SELECT(6) control QAM (not changeable)",
		.cdb = {0x15, 0x10, 0, 0, 16, 0},
		.data = ms_qam6,
		.dlen = 16,
		.len = 16,
		.out = true,
		H_INV_PARAM(7, -1)},
	    {.name = "MODE SELECT(6) informational exceptions DEXCPT",
		.cdb = {0x15, 0x10, 0, 0, 16, 0},
		.data = ms_iec6,
		.dlen = 16,
		.len = 16,
		.out = true,
		H_INV_PARAM(6, -1)},
	    {.name = "MODE SELECT(6) r/w error recovery AWRE",
		.cdb = {0x15, 0x10, 0, 0, 16, 0},
		.data = ms_rwrec6,
		.dlen = 16,
		.len = 16,
		.out = true,
		H_INV_PARAM(6, -1)},
	    {.name = "MODE SELECT(10) control ATO (not changeable)",
		.cdb = {0x55, 0x10, 0, 0, 0, 0, 0, 0, 20, 0},
		.data = ms_chg10,
		.dlen = 20,
		.len = 20,
		.out = true,
		H_INV_PARAM(12, -1)},
	    {.name = "MODE SELECT(6) block length 4096",
		.cdb = {0x15, 0x10, 0, 0, 12, 0},
		.data = ms_bd_4k6,
		.dlen = 12,
		.len = 12,
		.out = true,
		H_INV_PARAM(9, -1)},
	    {.name = "MODE SELECT(10) long descriptor block length 4096",
		.cdb = {0x55, 0x10, 0, 0, 0, 0, 0, 0, 24, 0},
		.data = ms_bd_4k10,
		.dlen = 24,
		.len = 24,
		.out = true,
		H_INV_PARAM(20, -1)},
	    {.name = "MODE SELECT(10) long descriptor restating 512",
		.cdb = {0x55, 0x10, 0, 0, 0, 0, 0, 0, 24, 0},
		.data = ms_bd_512_10,
		.dlen = 24,
		.len = 24,
		.out = true},
	    {.name = "MODE SELECT(6) NACA",
		.cdb = {0x15, 0x10, 0, 0, 0, 4},
		H_INV_CDB(5, 2)},
	    {.name = "MODE SELECT(6) zero length", .cdb = {0x15, 0x10}},
	    {.name = "MODE SELECT(6) PF=0, current caching page",
		.cdb = {0x15, 0x00, 0, 0, 24, 0},
		.data = ms_caching6,
		.dlen = 24,
		.len = 24,
		.out = true},
	};
	uint8_t sel6[6] = {0x15, 0x10, 0, 0, 24, 0};
	uint8_t sel10[10] = {0x55, 0x10, 0, 0, 0, 0, 0, 0, 28, 0};
	uint8_t ms6[6] = {0x1a, 0x08, 0x08, 0, 255, 0};
	uint8_t w10[10] = {0x2a, 0, 0, 0, 0, 1, 0, 0, 1, 0};
	uint8_t p[16];
	struct h_task *t;

	(void)state;
	h_cases(lu, cases, H_NCASES(cases));
	/* WCE on through MODE SELECT(10), seen by MODE SENSE. */
	t = h_out(lu, sel10, ms_caching10, 28);
	h_expect_good(t);
	t = h_in(lu, ms6, 255);
	assert_int_equal(t->buf[4 + 2], 0x04);
	/* Nexus 2 learns MODE PARAMETERS CHANGED (SPC-4 7.5.2). */
	{
		uint8_t tur[6] = {0};

		t = h_exec(lu, tur, NULL, 0, 0, false, &h_nx2);
		assert_int_equal(t->task.status, H_CHECK);
		assert_int_equal(t->task.sense[12], 0x2a);
		assert_int_equal(t->task.sense[13], 0x01);
	}
	/* With a matching block descriptor, WCE back off (MODE SELECT 6). */
	sel6[4] = 32;
	{
		uint8_t d[32];

		memcpy(d, ms_bd_caching6, sizeof(d));
		d[14] = 0;
		put_be32(d + 4, H_BLOCKS);
		t = h_out(lu, sel6, d, 32);
		h_expect_good(t);
	}
	t = h_in(lu, ms6, 255);
	assert_int_equal(t->buf[4 + 2], 0x00);
	/* SWP on: writes are WRITE PROTECTED (SPC-4 7.5.8), WP reported. */
	memset(p, 0, sizeof(p));
	p[4] = 0x0a;
	p[5] = 10;
	p[7] = 0x10;
	p[8] = 0x08;
	p[9] = 0x40; /* TAS */
	put_be16(p + 12, 0xffff);
	sel6[4] = 16;
	t = h_out(lu, sel6, p, 16);
	h_expect_good(t);
	t = h_out(lu, w10, NULL, H_BS);
	assert_int_equal(t->task.status, H_CHECK);
	assert_int_equal(t->task.sense[2], H_SK_PROTECT);
	assert_int_equal(t->task.sense[12], 0x27);
	assert_int_equal(t->task.sense[13], 0x00);
	ms6[2] = 0x0a;
	t = h_in(lu, ms6, 255);
	assert_int_equal(t->buf[2], 0x90);
	assert_int_equal(t->buf[4 + 4], 0x08);
	p[8] = 0;
	t = h_out(lu, sel6, p, 16);
	h_expect_good(t);
	t = h_out(lu, w10, NULL, H_BS);
	h_expect_good(t);
	scsi_lu_put(lu);
}

/* MAINTENANCE IN: REPORT SUPPORTED OPERATION CODES / TMFs (SPC-4 6.35-36). */
static void
test_report_opcodes(void **state)
{
	struct scsi_lu *lu = h_lu("nullio", false);
	static const uint8_t one_r10[14] = {0x00, 0x03, 0x00, 0x0a, 0x28, 0xff,
	    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfb};
	static const uint8_t timeouts[12] = {0x00, 0x0a};
	static const uint8_t tmfs[4] = {0xca, 0x00, 0x00, 0x00};
	static const struct {
		uint8_t op;
		uint16_t sa;
		bool servactv;
		uint16_t len;
	} expect[] = {
	    {0x00, 0, false, 6},
	    {0x03, 0, false, 6},
	    {0x08, 0, false, 6},
	    {0x0a, 0, false, 6},
	    {0x12, 0, false, 6},
	    {0x15, 0, false, 6},
	    {0x16, 0, false, 6},
	    {0x17, 0, false, 6},
	    {0x1a, 0, false, 6},
	    {0x1b, 0, false, 6},
	    {0x25, 0, false, 10},
	    {0x28, 0, false, 10},
	    {0x2a, 0, false, 10},
	    {0x2e, 0, false, 10},
	    {0x2f, 0, false, 10},
	    {0x34, 0, false, 10},
	    {0x35, 0, false, 10},
	    {0x37, 0, false, 10},
	    {0x41, 0, false, 10},
	    {0x42, 0, false, 10},
	    {0x55, 0, false, 10},
	    {0x56, 0, false, 10},
	    {0x57, 0, false, 10},
	    {0x5a, 0, false, 10},
	    {0x5e, 0, false, 10},
	    {0x5f, 0, false, 10},
	    {0x88, 0, false, 16},
	    {0x89, 0, false, 16},
	    {0x8a, 0, false, 16},
	    {0x8b, 0, false, 16},
	    {0x8e, 0, false, 16},
	    {0x8f, 0, false, 16},
	    {0x90, 0, false, 16},
	    {0x91, 0, false, 16},
	    {0x93, 0, false, 16},
	    {0x9c, 0, false, 16},
	    {0xa0, 0, false, 12},
	    {0xa8, 0, false, 12},
	    {0xaa, 0, false, 12},
	    {0xae, 0, false, 12},
	    {0xaf, 0, false, 12},
	    {0xb7, 0, false, 12},
	    {0x9e, 0x10, true, 16},
	    {0x9e, 0x12, true, 16},
	    {0xa3, 0x0c, true, 12},
	    {0xa3, 0x0d, true, 12},
	    {0x48, 0x01, true, 10},
	    {0x48, 0x02, true, 10},
	    {0x48, 0x1f, true, 10},
	    {0x83, 0x00, true, 16},
	    {0x84, 0x00, true, 16},
	    {0x84, 0x03, true, 16},
	};
	static const struct h_case cases[] = {
	    {.name = "MAINTENANCE IN service action 0Bh",
		.cdb = {0xa3, 0x0b, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0},
		.len = 256,
		H_INV_CDB(1, 4)},
	    {.name = "MAINTENANCE IN service action 1Fh",
		.cdb = {0xa3, 0x1f, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0},
		.len = 256,
		H_INV_CDB(1, 4)},
	    {.name = "RSOC REPORTING OPTIONS 100b",
		.cdb = {0xa3, 0x0c, 0x04, 0x28, 0, 0, 0, 0, 1, 0, 0, 0},
		.len = 256,
		H_INV_CDB(2, 2)},
	    {.name = "RSOC REPORTING OPTIONS 111b",
		.cdb = {0xa3, 0x0c, 0x07, 0x28, 0, 0, 0, 0, 1, 0, 0, 0},
		.len = 256,
		H_INV_CDB(2, 2)},
	    {.name = "RSOC 001b for an opcode with service actions",
		.cdb = {0xa3, 0x0c, 0x01, 0x9e, 0, 0, 0, 0, 1, 0, 0, 0},
		.len = 256,
		H_INV_CDB(2, 2)},
	    {.name = "RSOC 010b for an opcode without service actions",
		.cdb = {0xa3, 0x0c, 0x02, 0x28, 0, 0x00, 0, 0, 1, 0, 0, 0},
		.len = 256,
		H_INV_CDB(2, 2)},
	};
	uint8_t rsoc[12] = {0xa3, 0x0c, 0x00, 0, 0, 0, 0, 0x10, 0, 0, 0, 0};
	uint8_t rtmf[12] = {0xa3, 0x0d, 0, 0, 0, 0, 0, 0, 0, 16, 0, 0};
	struct h_task *t;
	unsigned int i, off, n;

	(void)state;
	/* All commands: 8-byte descriptors, every table entry once. */
	t = h_in(lu, rsoc, 4096);
	h_expect_good(t);
	n = sizeof(expect) / sizeof(expect[0]);
	assert_int_equal(get_be32(t->buf), 8 * n);
	assert_int_equal(t->task.data_in_len, 4 + 8 * n);
	for (i = 0, off = 4; i < n; i++, off += 8) {
		const uint8_t *d = t->buf + off;

		assert_int_equal(d[0], expect[i].op);
		assert_int_equal(d[1], 0);
		assert_int_equal(get_be16(d + 2), expect[i].sa);
		assert_int_equal(d[4], 0);
		assert_int_equal(d[5], expect[i].servactv ? 0x01 : 0x00);
		assert_int_equal(get_be16(d + 6), expect[i].len);
	}
	/* RCTD: each descriptor has CTDP and a 12-byte timeouts descriptor. */
	rsoc[2] = 0x80;
	t = h_in(lu, rsoc, 4096);
	assert_int_equal(get_be32(t->buf), 20 * n);
	for (i = 0, off = 4; i < n; i++, off += 20) {
		assert_int_equal(t->buf[off], expect[i].op);
		assert_int_equal(t->buf[off + 5] & 0x02, 0x02);
		h_expect_bytes(t->buf + off + 8, timeouts, 12);
	}
	/* Allocation length truncates the list; the length stays whole. */
	rsoc[2] = 0;
	rsoc[7] = 0;
	rsoc[9] = 12;
	t = h_in(lu, rsoc, 4096);
	assert_int_equal(t->task.data_in_len, 12);
	assert_int_equal(get_be32(t->buf), 8 * n);
	/* One command, READ(10): usage map without NACA. */
	rsoc[2] = 0x01;
	rsoc[3] = 0x28;
	rsoc[9] = 255;
	t = h_in(lu, rsoc, 4096);
	h_expect_good(t);
	assert_int_equal(t->task.data_in_len, sizeof(one_r10));
	h_expect_bytes(t->buf, one_r10, sizeof(one_r10));
	/* ...with timeouts. */
	rsoc[2] = 0x81;
	t = h_in(lu, rsoc, 4096);
	assert_int_equal(t->task.data_in_len, sizeof(one_r10) + 12);
	assert_int_equal(t->buf[1], 0x83);
	h_expect_bytes(t->buf + 14, timeouts, 12);
	/* Unsupported opcode: SUPPORT 001b, no CDB. */
	rsoc[2] = 0x01;
	rsoc[3] = 0x04;
	t = h_in(lu, rsoc, 4096);
	h_expect_good(t);
	assert_int_equal(t->task.data_in_len, 4);
	assert_int_equal(t->buf[1], 0x01);
	assert_int_equal(get_be16(t->buf + 2), 0);
	/* Opcode + service action: READ CAPACITY(16), and an unknown SA. */
	rsoc[2] = 0x02;
	rsoc[3] = 0x9e;
	rsoc[5] = 0x10;
	t = h_in(lu, rsoc, 4096);
	assert_int_equal(t->buf[1], 0x03);
	assert_int_equal(get_be16(t->buf + 2), 16);
	assert_int_equal(t->buf[4], 0x9e);
	assert_int_equal(t->buf[5], 0x10);
	assert_int_equal(t->buf[19], 0xfb);
	rsoc[5] = 0x11;
	t = h_in(lu, rsoc, 4096);
	h_expect_good(t);
	assert_int_equal(t->buf[1], 0x01);
	/* 011b: opcode with or without SA. */
	rsoc[2] = 0x03;
	rsoc[3] = 0x2a;
	rsoc[5] = 0;
	t = h_in(lu, rsoc, 4096);
	assert_int_equal(t->buf[1], 0x03);
	assert_int_equal(get_be16(t->buf + 2), 10);
	/* REPORT SUPPORTED TMFs: ATS, ATSS, LURS, TRS. */
	t = h_in(lu, rtmf, 256);
	h_expect_good(t);
	assert_int_equal(t->task.data_in_len, 4);
	h_expect_bytes(t->buf, tmfs, 4);
	rtmf[9] = 1;
	t = h_in(lu, rtmf, 256);
	assert_int_equal(t->task.data_in_len, 1);
	/* REPD: the 16-byte form, additional length 0Ch. */
	rtmf[2] = 0x80;
	rtmf[9] = 255;
	t = h_in(lu, rtmf, 256);
	h_expect_good(t);
	assert_int_equal(t->task.data_in_len, 16);
	h_expect_bytes(t->buf, tmfs, 1);
	assert_int_equal(t->buf[1], 0);
	assert_int_equal(t->buf[3], 0x0c);
	rtmf[2] = 0;
	h_cases(lu, cases, H_NCASES(cases));
	scsi_lu_put(lu);

	/*
	 * A store that cannot discard (read-only here) refuses UNMAP as an
	 * invalid opcode, so RSOC must not list it, nor call it supported;
	 * nor SANITIZE BLOCK ERASE, which is a discard.
	 */
	lu = h_lu("nullio", true);
	rsoc[2] = 0;
	rsoc[3] = 0;
	rsoc[7] = 0x10;
	rsoc[9] = 0;
	t = h_in(lu, rsoc, 4096);
	h_expect_good(t);
	assert_int_equal(get_be32(t->buf), 8 * (n - 2));
	for (off = 4; off < t->task.data_in_len; off += 8)
		assert_int_not_equal(t->buf[off], 0x42);
	rsoc[2] = 0x01;
	rsoc[3] = 0x42;
	rsoc[7] = 0;
	rsoc[9] = 255;
	t = h_in(lu, rsoc, 4096);
	h_expect_good(t);
	assert_int_equal(t->buf[1], 0x01);
	scsi_lu_put(lu);
}

/* RESERVE/RELEASE (6) and (10) (SPC-2 7.21, 7.17). */
static void
test_reserve_release(void **state)
{
	struct scsi_lu *lu = h_lu("nullio", false);
	static const struct h_case cases[] = {
	    {.name = "RESERVE(6) extent", .cdb = {0x16, 0x01}, H_INV_CDB(1, 0)},
	    {.name = "RESERVE(10) third party",
		.cdb = {0x56, 0x10, 0, 0, 0, 0, 0, 0, 0, 0},
		H_INV_CDB(1, -1)},
	    {.name = "RESERVE(10) LONGID",
		.cdb = {0x56, 0x02, 0, 0, 0, 0, 0, 0, 0, 0},
		H_INV_CDB(1, -1)},
	    {.name = "RESERVE(10) extent",
		.cdb = {0x56, 0x01, 0, 0, 0, 0, 0, 0, 0, 0},
		H_INV_CDB(1, -1)},
	};
	uint8_t res6[6] = {0x16}, rel6[6] = {0x17};
	uint8_t res10[10] = {0x56}, rel10[10] = {0x57};
	uint8_t tur[6] = {0}, inq[6] = {0x12, 0, 0, 0, 36, 0};
	uint8_t rc10[10] = {0x25};
	uint8_t r10[10] = {0x28, 0, 0, 0, 0, 0, 0, 0, 1, 0};
	uint8_t ms6[6] = {0x1a, 0, 0x3f, 0, 255, 0};
	uint8_t ssu_start[6] = {0x1b, 0, 0, 0, 0x01, 0};
	uint8_t ssu_stop[6] = {0x1b, 0, 0, 0, 0x00, 0};
	uint8_t ssu_pc[6] = {0x1b, 0, 0, 0, 0x31, 0};
	uint8_t rdd10[10] = {0x37, 0, 0x18, 0, 0, 0, 0, 0, 255, 0};
	struct h_task *t;

	(void)state;
	h_cases(lu, cases, H_NCASES(cases));
	h_drain_ua(lu, &h_nx2);
	t = h_in(lu, res6, 0);
	h_expect_good(t);
	/* Holder may do anything, again RESERVE too. */
	t = h_in(lu, res6, 0);
	h_expect_good(t);
	t = h_in(lu, r10, H_BS);
	h_expect_good(t);
	/* The other nexus: conflict except the SPC-2 5.5.1 exceptions. */
	t = h_exec(lu, tur, NULL, 0, 0, false, &h_nx2);
	assert_int_equal(t->task.status, H_CONFLICT);
	assert_int_equal(t->task.sense_len, 0);
	t = h_exec(lu, r10, NULL, 0, H_BS, false, &h_nx2);
	assert_int_equal(t->task.status, H_CONFLICT);
	t = h_exec(lu, ms6, NULL, 0, 255, false, &h_nx2);
	assert_int_equal(t->task.status, H_CONFLICT);
	t = h_exec(lu, res10, NULL, 0, 0, false, &h_nx2);
	assert_int_equal(t->task.status, H_CONFLICT);
	t = h_exec(lu, inq, NULL, 0, 36, false, &h_nx2);
	h_expect_good(t);
	t = h_exec(lu, rc10, NULL, 0, 8, false, &h_nx2);
	h_expect_good(t);
	/* START STOP UNIT that only starts passes; stopping conflicts. */
	t = h_exec(lu, ssu_start, NULL, 0, 0, false, &h_nx2);
	h_expect_good(t);
	t = h_exec(lu, ssu_stop, NULL, 0, 0, false, &h_nx2);
	assert_int_equal(t->task.status, H_CONFLICT);
	t = h_exec(lu, ssu_pc, NULL, 0, 0, false, &h_nx2);
	assert_int_equal(t->task.status, H_CONFLICT);
	t = h_exec(lu, rdd10, NULL, 0, 255, false, &h_nx2);
	assert_int_equal(t->task.status, H_CONFLICT);
	/* RELEASE by a non-holder: GOOD, and the reservation stays. */
	t = h_exec(lu, rel10, NULL, 0, 0, false, &h_nx2);
	h_expect_good(t);
	t = h_exec(lu, tur, NULL, 0, 0, false, &h_nx2);
	assert_int_equal(t->task.status, H_CONFLICT);
	t = h_in(lu, rel6, 0);
	h_expect_good(t);
	t = h_exec(lu, tur, NULL, 0, 0, false, &h_nx2);
	h_expect_good(t);
	/* RESERVE(10) the same way. */
	t = h_exec(lu, res10, NULL, 0, 0, false, &h_nx2);
	h_expect_good(t);
	t = h_in(lu, tur, 0);
	assert_int_equal(t->task.status, H_CONFLICT);
	t = h_exec(lu, rel10, NULL, 0, 0, false, &h_nx2);
	h_expect_good(t);
	t = h_in(lu, tur, 0);
	h_expect_good(t);
	scsi_lu_put(lu);
}

/* Parameter lists for PERSISTENT RESERVE OUT. */
static const uint8_t pr_reg_aa[24] = {[15] = 0xaa};
static const uint8_t pr_key_aa[24] = {[7] = 0xaa};
static const uint8_t pr_spec_i_pt[24] = {[15] = 0xaa, [20] = 0x08};
static const uint8_t pr_preempt0[24] = {[7] = 0xaa};

/* PERSISTENT RESERVE IN/OUT decoding (SPC-4 6.15, 6.16). */
static void
test_persistent_reserve(void **state)
{
	struct scsi_lu *lu = h_lu("nullio", false);
	/* CRH, SIP_C, ATP_C, PTPL_C; TMV, ALLOW COMMANDS 001b; the types. */
	static const uint8_t caps[8] = {0x00, 0x08, 0x1d, 0x90, 0xea, 0x01, 0,
	    0};
	static const struct h_case cases[] = {
	    {.name = "PR IN service action 04h",
		.cdb = {0x5e, 0x04, 0, 0, 0, 0, 0, 1, 0, 0},
		.len = 256,
		H_INV_CDB(1, 4)},
	    {.name = "PR OUT REGISTER AND MOVE without a TransportID",
		.cdb = {0x5f, 0x07, 0, 0, 0, 0, 0, 0, 24, 0},
		.data = pr_reg_aa,
		.dlen = 24,
		.len = 24,
		.out = true,
		H_PLL_ERR},
	    {.name = "PR OUT service action 08h",
		.cdb = {0x5f, 0x08, 0, 0, 0, 0, 0, 0, 24, 0},
		.data = pr_reg_aa,
		.dlen = 24,
		.len = 24,
		.out = true,
		H_INV_CDB(1, 4)},
	    {.name = "PR OUT SCOPE not LU",
		.cdb = {0x5f, 0x00, 0x10, 0, 0, 0, 0, 0, 24, 0},
		.data = pr_reg_aa,
		.dlen = 24,
		.len = 24,
		.out = true,
		H_INV_CDB(2, 7)},
	    {.name = "PR OUT parameter list length 23",
		.cdb = {0x5f, 0x00, 0, 0, 0, 0, 0, 0, 23, 0},
		.data = pr_reg_aa,
		.dlen = 23,
		.len = 23,
		.out = true,
		H_PLL_ERR},
	    {.name = "PR OUT parameter list length 0",
		.cdb = {0x5f, 0x00, 0, 0, 0, 0, 0, 0, 0, 0},
		H_PLL_ERR},
	    {.name = "PR OUT SPEC_I_PT from a registered nexus",
		.cdb = {0x5f, 0x00, 0, 0, 0, 0, 0, 0, 24, 0},
		.data = pr_spec_i_pt,
		.dlen = 24,
		.len = 24,
		.out = true,
		H_INV_PARAM(20, 3)},
	    {.name = "PR OUT RESERVE type 2 (obsolete)",
		.cdb = {0x5f, 0x01, 0x02, 0, 0, 0, 0, 0, 24, 0},
		.data = pr_key_aa,
		.dlen = 24,
		.len = 24,
		.out = true,
		H_INV_CDB(2, 3)},
	    {.name = "PR OUT RESERVE type 0",
		.cdb = {0x5f, 0x01, 0x00, 0, 0, 0, 0, 0, 24, 0},
		.data = pr_key_aa,
		.dlen = 24,
		.len = 24,
		.out = true,
		H_INV_CDB(2, 3)},
	    {.name = "PR OUT PREEMPT with no reservation, key 0",
		.cdb = {0x5f, 0x04, 0x01, 0, 0, 0, 0, 0, 24, 0},
		.data = pr_preempt0,
		.dlen = 24,
		.len = 24,
		.out = true,
		H_INV_PARAM(8, -1)},
	    {.name = "PR OUT RESERVE with the wrong key",
		.cdb = {0x5f, 0x01, 0x01, 0, 0, 0, 0, 0, 24, 0},
		.data = pr_reg_aa,
		.dlen = 24,
		.len = 24,
		.out = true,
		.status = H_CONFLICT},
	};
	static const uint8_t rres_want[24] = {0, 0, 0, 1, 0, 0, 0, 16, 0, 0, 0,
	    0, 0, 0, 0, 0xaa, 0, 0, 0, 0, 0, 0x01, 0, 0};
	static const uint8_t full_want[8 + 28] = {0, 0, 0, 1, 0, 0, 0, 64, 0, 0,
	    0, 0, 0, 0, 0, 0xaa, 0, 0, 0, 0, 0x01, 0x01, 0, 0, 0, 0, 0x00, 0x01,
	    0, 0, 0, 40, 0x45, 0x00, 0x00, 36};
	uint8_t r10[10] = {0x28, 0, 0, 0, 0, 0, 0, 0, 1, 0};
	uint8_t ssu[6] = {0x1b, 0, 0, 0, 0x01, 0};
	uint8_t rdd12[12] = {0xb7, 0x18, 0, 0, 0, 0, 0, 0, 0, 255, 0, 0};
	uint8_t rres[10] = {0x5e, 0x01, 0, 0, 0, 0, 0, 0, 255, 0};
	uint8_t full[10] = {0x5e, 0x03, 0, 0, 0, 0, 0, 0, 255, 0};
	uint8_t caps_cdb[10] = {0x5e, 0x02, 0, 0, 0, 0, 0, 0, 255, 0};
	uint8_t keys[10] = {0x5e, 0x00, 0, 0, 0, 0, 0, 0, 255, 0};
	uint8_t reg[10] = {0x5f, 0x00, 0, 0, 0, 0, 0, 0, 24, 0};
	uint8_t res6[6] = {0x16};
	struct h_task *t;

	(void)state;
	/* REPORT CAPABILITIES: CRH, TMV, the five types, EX_AC_AR. */
	t = h_in(lu, caps_cdb, 255);
	h_expect_good(t);
	assert_int_equal(t->task.data_in_len, 8);
	h_expect_bytes(t->buf, caps, 8);
	/* READ KEYS, none: generation 0, length 0; allocation 4. */
	t = h_in(lu, keys, 255);
	assert_int_equal(t->task.data_in_len, 8);
	assert_int_equal(get_be32(t->buf), 0);
	assert_int_equal(get_be32(t->buf + 4), 0);
	keys[8] = 4;
	t = h_in(lu, keys, 255);
	assert_int_equal(t->task.data_in_len, 4);
	keys[8] = 255;
	/* Register 0xaa; then the table (RESERVE needs a registration). */
	t = h_out(lu, reg, pr_reg_aa, 24);
	h_expect_good(t);
	t = h_in(lu, keys, 255);
	assert_int_equal(get_be32(t->buf), 1);
	assert_int_equal(get_be32(t->buf + 4), 8);
	assert_int_equal(get_be64(t->buf + 8), 0xaa);
	/* RESERVE Write Exclusive; READ RESERVATION, READ FULL STATUS. */
	reg[1] = 0x01;
	reg[2] = 0x01;
	t = h_out(lu, reg, pr_key_aa, 24);
	h_expect_good(t);
	t = h_in(lu, rres, 255);
	h_expect_good(t);
	assert_int_equal(t->task.data_in_len, sizeof(rres_want));
	h_expect_bytes(t->buf, rres_want, sizeof(rres_want));
	t = h_in(lu, full, 255);
	h_expect_good(t);
	assert_int_equal(t->task.data_in_len, 8 + 24 + 40);
	h_expect_bytes(t->buf, full_want, sizeof(full_want));
	assert_string_equal((const char *)t->buf + 8 + 28,
	    h_nx1.initiator_port);
	assert_true(all_zero(t->buf + 8 + 28 + 33, 40 - 4 - 33));
	/*
	 * Under Write Exclusive an unregistered nexus may read, and start
	 * the unit, but not stop it nor read the defect lists.
	 */
	h_drain_ua(lu, &h_nx2);
	t = h_exec(lu, r10, NULL, 0, H_BS, false, &h_nx2);
	h_expect_good(t);
	t = h_exec(lu, ssu, NULL, 0, 0, false, &h_nx2);
	h_expect_good(t);
	ssu[4] = 0;
	t = h_exec(lu, ssu, NULL, 0, 0, false, &h_nx2);
	assert_int_equal(t->task.status, H_CONFLICT);
	t = h_exec(lu, rdd12, NULL, 0, 255, false, &h_nx2);
	assert_int_equal(t->task.status, H_CONFLICT);
	t = h_in(lu, rdd12, 255);
	h_expect_good(t);
	/* RELEASE with the type held; READ RESERVATION is empty again. */
	reg[1] = 0x02;
	t = h_out(lu, reg, pr_key_aa, 24);
	h_expect_good(t);
	t = h_in(lu, rres, 255);
	assert_int_equal(t->task.data_in_len, 8);
	assert_int_equal(get_be32(t->buf + 4), 0);
	reg[1] = 0x00;
	reg[2] = 0x00;
	/* The case table uses a key 0xaa... except "wrong key" sends 0. */
	h_cases(lu, cases, H_NCASES(cases));
	/* SPC-2 RESERVE while registrations exist: conflict (5.13.3). */
	t = h_in(lu, res6, 0);
	assert_int_equal(t->task.status, H_CONFLICT);
	/* Unregister (service action key 0) and RESERVE works again. */
	t = h_out(lu, reg, pr_key_aa, 24);
	h_expect_good(t);
	t = h_in(lu, res6, 0);
	h_expect_good(t);
	scsi_lu_put(lu);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_sense_build),
	    cmocka_unit_test(test_tur_opcodes_nolu),
	    cmocka_unit_test(test_inquiry_std),
	    cmocka_unit_test(test_inquiry_vpd),
	    cmocka_unit_test(test_report_luns_request_sense),
	    cmocka_unit_test(test_mode_sense),
	    cmocka_unit_test(test_mode_select),
	    cmocka_unit_test(test_report_opcodes),
	    cmocka_unit_test(test_reserve_release),
	    cmocka_unit_test(test_persistent_reserve),
	};

	return cmocka_run_group_tests(tests, h_setup, h_teardown);
}
