/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The ietd authors */
/*
 * CDB decoding of the SBC-4 block commands ietd serves: READ CAPACITY,
 * READ/WRITE 6/10/12/16, WRITE AND VERIFY, VERIFY, SYNCHRONIZE CACHE,
 * PRE-FETCH, WRITE SAME, UNMAP, GET LBA STATUS, COMPARE AND WRITE,
 * ORWRITE, READ DEFECT DATA, START STOP UNIT: the effect of each valid
 * CDB on the medium, and the exact sense for every refused field, range
 * and block limit, in fixed and descriptor format.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "scsi_harness.h"

/* The block limits VPD 0xB0 advertises (SPC_XFER_MAX / 512 etc.). */
#define MAX_XFER_BLOCKS (SCSI_XFER_MAX / H_BS)
#define MAX_WS_BLOCKS (SCSI_XFER_MAX / H_BS)
#define MAX_UNMAP_LBAS 0x100000u
#define MAX_UNMAP_DESCS 256u
/* A nullio LU big enough that only the block limits refuse. */
#define BIG_BLOCKS (4u * 1024 * 1024)

static uint8_t pat[4 * H_BS];

static void
fill(uint8_t *p, size_t n, uint8_t seed)
{
	size_t i;

	for (i = 0; i < n; i++)
		p[i] = (uint8_t)(seed + i * 7 + (i >> 9));
}

static const uint8_t *
rd(struct scsi_lu *lu, uint64_t lba, uint32_t n)
{
	uint8_t cdb[16] = {0x88};
	struct h_task *t;

	put_be64(cdb + 2, lba);
	put_be32(cdb + 10, n);
	t = h_in(lu, cdb, n * H_BS);
	h_expect_good(t);
	assert_int_equal(t->task.data_in_len, n * H_BS);
	return t->buf;
}

static void
wr(struct scsi_lu *lu, uint64_t lba, uint32_t n, const uint8_t *data)
{
	uint8_t cdb[16] = {0x8a};
	struct h_task *t;

	put_be64(cdb + 2, lba);
	put_be32(cdb + 10, n);
	t = h_out(lu, cdb, data, n * H_BS);
	h_expect_good(t);
}

static bool
all_zero(const uint8_t *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (p[i] != 0)
			return false;
	return true;
}

/* READ CAPACITY (10)/(16) and GET LBA STATUS (SBC-4). */
static void
test_capacity_lba_status(void **state)
{
	struct scsi_lu *lu = h_lu("fileio", false);
	static const uint8_t rc10_want[8] = {0x00, 0x00, 0x07, 0xff, 0x00, 0x00,
	    0x02, 0x00};
	static const uint8_t rc16_want[32] = {0, 0, 0, 0, 0x00, 0x00, 0x07,
	    0xff, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0xc0, 0x00};
	static const uint8_t gls_want[24] = {0x00, 0x00, 0x00, 0x14, 0, 0, 0, 0,
	    0, 0, 0, 0, 0, 0, 0, 100, 0x00, 0x00, 0x07, 0x9c, 0x00};
	static const struct h_case cases[] = {
	    {.name = "SERVICE ACTION IN(16) SA 11h",
		.cdb = {0x9e, 0x11, [13] = 32},
		.len = 32,
		H_INV_CDB(1, 4)},
	    {.name = "SERVICE ACTION IN(16) SA 1Fh",
		.cdb = {0x9e, 0x1f, [13] = 32},
		.len = 32,
		H_INV_CDB(1, 4)},
	    {.name = "GET LBA STATUS at the capacity",
		.cdb = {0x9e, 0x12, 0, 0, 0, 0, 0, 0, 0x08, 0x00, 0, 0, 0, 24},
		.len = 24,
		H_LBA_OOR},
	    {.name = "GET LBA STATUS at LBA 2^64-1",
		.cdb = {0x9e, 0x12, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
		    0xff, 0, 0, 0, 24},
		.len = 24,
		H_LBA_OOR},
	    {.name = "READ CAPACITY(16) NACA",
		.cdb = {0x9e, 0x10, [13] = 32, [15] = 0x04},
		.len = 32,
		H_INV_CDB(15, 2)},
	};
	uint8_t rc10[10] = {0x25};
	uint8_t rc16[16] = {0x9e, 0x10, [13] = 32};
	uint8_t gls[16] = {0x9e, 0x12, [9] = 100, [13] = 24};
	struct h_task *t;

	(void)state;
	t = h_in(lu, rc10, 8);
	h_expect_good(t);
	assert_int_equal(t->task.data_in_len, 8);
	h_expect_bytes(t->buf, rc10_want, 8);
	/* READ CAPACITY(16): LBPME and LBPRZ (fileio punches holes). */
	t = h_in(lu, rc16, 64);
	h_expect_good(t);
	assert_int_equal(t->task.data_in_len, 32);
	h_expect_bytes(t->buf, rc16_want, 32);
	rc16[13] = 12;
	t = h_in(lu, rc16, 64);
	assert_int_equal(t->task.data_in_len, 12);
	assert_int_equal(t->buf[12], 0xcc);
	rc16[13] = 0;
	t = h_in(lu, rc16, 64);
	h_expect_good(t);
	assert_int_equal(t->task.data_in_len, 0);
	/* GET LBA STATUS: one descriptor, mapped, to the last LBA. */
	t = h_in(lu, gls, 64);
	h_expect_good(t);
	assert_int_equal(t->task.data_in_len, 24);
	h_expect_bytes(t->buf, gls_want, 24);
	gls[13] = 8;
	t = h_in(lu, gls, 64);
	assert_int_equal(t->task.data_in_len, 8);
	assert_int_equal(get_be32(t->buf), 20);
	/* Last LBA: one block. */
	put_be64(gls + 2, H_BLOCKS - 1);
	gls[13] = 24;
	t = h_in(lu, gls, 64);
	assert_int_equal(get_be64(t->buf + 8), H_BLOCKS - 1);
	assert_int_equal(get_be32(t->buf + 16), 1);
	h_cases(lu, cases, H_NCASES(cases));
	scsi_lu_put(lu);
}

/* READ and WRITE 6/10/12/16 and WRITE AND VERIFY: data and flags. */
static void
test_read_write(void **state)
{
	struct scsi_lu *lu = h_lu("fileio", false);
	uint8_t w10[10] = {0x2a, 0x18, 0, 0, 0, 10, 0, 0, 2, 0};
	uint8_t r6[6] = {0x08, 0, 0, 10, 2, 0};
	uint8_t r10[10] = {0x28, 0x18, 0, 0, 0, 10, 0, 0, 2, 0};
	uint8_t r12[12] = {0xa8, 0x08, 0, 0, 0, 10, 0, 0, 0, 2, 0, 0};
	uint8_t r16[16] = {0x88, 0x10, [9] = 10, [13] = 2};
	uint8_t w6[6] = {0x0a, 0, 0, 20, 1, 0};
	uint8_t w12[12] = {0xaa, 0x08, 0, 0, 0, 21, 0, 0, 0, 1, 0, 0};
	uint8_t w16[16] = {0x8a, 0x08, [9] = 22, [13] = 1};
	uint8_t wv10[10] = {0x2e, 0x02, 0, 0, 0, 30, 0, 0, 1, 0};
	uint8_t wv12[12] = {0xae, 0x10, 0, 0, 0, 31, 0, 0, 0, 1, 0, 0};
	uint8_t wv16[16] = {0x8e, 0x02, [9] = 32, [13] = 1};
	uint8_t r6_256[6] = {0x08, 0, 0, 0, 0, 0};
	uint8_t r10_0[10] = {0x28, 0, 0, 0, 0x07, 0xff, 0, 0, 0, 0};
	uint8_t r10_last[10] = {0x28, 0, 0, 0, 0x07, 0xff, 0, 0, 1, 0};
	uint8_t buf[4 * H_BS];
	struct h_task *t;

	(void)state;
	fill(pat, sizeof(pat), 1);
	/* WRITE(10) with DPO and FUA: GOOD, the CDB's length in xfer_len. */
	t = h_out(lu, w10, pat, 2 * H_BS);
	h_expect_good(t);
	assert_int_equal(t->task.xfer_len, 2 * H_BS);
	t = h_in(lu, r6, 2 * H_BS);
	h_expect_good(t);
	assert_int_equal(t->task.data_in_len, 2 * H_BS);
	assert_int_equal(t->task.xfer_len, 2 * H_BS);
	assert_memory_equal(t->buf, pat, 2 * H_BS);
	t = h_in(lu, r10, 2 * H_BS);
	assert_memory_equal(t->buf, pat, 2 * H_BS);
	t = h_in(lu, r12, 2 * H_BS);
	assert_memory_equal(t->buf, pat, 2 * H_BS);
	t = h_in(lu, r16, 2 * H_BS);
	assert_memory_equal(t->buf, pat, 2 * H_BS);
	/* WRITE 6, 12 (FUA), 16 (FUA): LBAs 20, 21, 22. */
	fill(buf, sizeof(buf), 9);
	t = h_out(lu, w6, buf, H_BS);
	h_expect_good(t);
	t = h_out(lu, w12, buf + H_BS, H_BS);
	h_expect_good(t);
	t = h_out(lu, w16, buf + 2 * H_BS, H_BS);
	h_expect_good(t);
	assert_memory_equal(rd(lu, 20, 3), buf, 3 * H_BS);
	/* WRITE AND VERIFY 10/12/16 (BYTCHK 0 and 1, DPO) write the data. */
	fill(buf, sizeof(buf), 77);
	t = h_out(lu, wv10, buf, H_BS);
	h_expect_good(t);
	t = h_out(lu, wv12, buf + H_BS, H_BS);
	h_expect_good(t);
	t = h_out(lu, wv16, buf + 2 * H_BS, H_BS);
	h_expect_good(t);
	assert_memory_equal(rd(lu, 30, 3), buf, 3 * H_BS);
	/* READ(6) length 0 means 256 blocks (SBC-4 READ (6)). */
	t = h_in(lu, r6_256, 256 * H_BS);
	h_expect_good(t);
	assert_int_equal(t->task.xfer_len, 256 * H_BS);
	assert_int_equal(t->task.data_in_len, 256 * H_BS);
	assert_memory_equal(t->buf + 10 * H_BS, pat, 2 * H_BS);
	/* READ(10) of 0 blocks at the last LBA: GOOD, nothing moves. */
	t = h_in(lu, r10_0, H_BS);
	h_expect_good(t);
	assert_int_equal(t->task.xfer_len, 0);
	assert_int_equal(t->task.data_in_len, 0);
	t = h_in(lu, r10_last, H_BS);
	h_expect_good(t);
	assert_int_equal(t->task.data_in_len, H_BS);
	/* WRITE(6) of 0 blocks writes 256: LBA 1792..2047 is the end. */
	{
		uint8_t w6_256[6] = {0x0a, 0, 0x07, 0x00, 0, 0};
		static uint8_t big[256 * H_BS];

		fill(big, sizeof(big), 3);
		t = h_out(lu, w6_256, big, sizeof(big));
		h_expect_good(t);
		assert_int_equal(t->task.xfer_len, 256 * H_BS);
		assert_memory_equal(rd(lu, 2047, 1), big + 255 * H_BS, H_BS);
	}
	scsi_lu_put(lu);
}

/* Every refused READ/WRITE/WRITE AND VERIFY/VERIFY field and range. */
static void
test_rw_invalid(void **state)
{
	struct scsi_lu *lu = h_lu("nullio", false);
	static const struct h_case cases[] = {
	    /* LBA out of range (SBC-4 4.5): every CDB size. */
	    {.name = "READ(6) last+1",
		.cdb = {0x08, 0, 0x07, 0xff, 2, 0},
		.len = 2 * H_BS,
		H_LBA_OOR},
	    {.name = "READ(6) 256 blocks past the end",
		.cdb = {0x08, 0, 0x07, 0x01, 0, 0},
		.len = 256 * H_BS,
		H_LBA_OOR},
	    {.name = "READ(6) LBA 1FFFFFh",
		.cdb = {0x08, 0x1f, 0xff, 0xff, 1},
		.len = H_BS,
		H_LBA_OOR},
	    {.name = "READ(10) at the capacity",
		.cdb = {0x28, 0, 0, 0, 0x08, 0x00, 0, 0, 1, 0},
		.len = H_BS,
		H_LBA_OOR},
	    {.name = "READ(10) straddling the end",
		.cdb = {0x28, 0, 0, 0, 0x07, 0xff, 0, 0, 2, 0},
		.len = 2 * H_BS,
		H_LBA_OOR},
	    {.name = "READ(10) LBA FFFFFFFFh",
		.cdb = {0x28, 0, 0xff, 0xff, 0xff, 0xff, 0, 0, 1, 0},
		.len = H_BS,
		H_LBA_OOR},
	    {.name = "READ(10) 0 blocks one past the end",
		.cdb = {0x28, 0, 0, 0, 0x08, 0x01, 0, 0, 0, 0},
		H_LBA_OOR},
	    {.name = "READ(10) 0 blocks at 2^31",
		.cdb = {0x28, 0, 0x80, 0, 0, 0, 0, 0, 0, 0},
		H_LBA_OOR},
	    {.name = "READ(12) straddling the end",
		.cdb = {0xa8, 0, 0, 0, 0x07, 0xff, 0, 0, 0, 2, 0, 0},
		.len = 2 * H_BS,
		H_LBA_OOR},
	    {.name = "READ(12) length FFFFFFFFh",
		.cdb = {0xa8, 0, 0, 0, 0, 1, 0xff, 0xff, 0xff, 0xff, 0, 0},
		.len = H_BS,
		H_LBA_OOR},
	    {.name = "READ(16) LBA 2^64-1",
		.cdb = {0x88, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
		    0, 0, 0, 1},
		.len = H_BS,
		H_LBA_OOR},
	    {.name = "READ(16) 0 blocks at 2^63",
		.cdb = {0x88, 0, 0x80},
		H_LBA_OOR},
	    {.name = "WRITE(6) last+1",
		.cdb = {0x0a, 0, 0x07, 0xff, 2, 0},
		.len = 2 * H_BS,
		.out = true,
		H_LBA_OOR},
	    {.name = "WRITE(10) at the capacity",
		.cdb = {0x2a, 0, 0, 0, 0x08, 0x00, 0, 0, 1, 0},
		.len = H_BS,
		.out = true,
		H_LBA_OOR},
	    {.name = "WRITE(12) straddling",
		.cdb = {0xaa, 0, 0, 0, 0x07, 0xff, 0, 0, 0, 2, 0, 0},
		.len = 2 * H_BS,
		.out = true,
		H_LBA_OOR},
	    {.name = "WRITE(16) LBA 2^64-1",
		.cdb = {0x8a, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
		    0, 0, 0, 1},
		.len = H_BS,
		.out = true,
		H_LBA_OOR},
	    {.name = "WRITE AND VERIFY(10) at the capacity",
		.cdb = {0x2e, 0, 0, 0, 0x08, 0x00, 0, 0, 1, 0},
		.len = H_BS,
		.out = true,
		H_LBA_OOR},
	    {.name = "WRITE AND VERIFY(12) straddling",
		.cdb = {0xae, 0, 0, 0, 0x07, 0xff, 0, 0, 0, 2, 0, 0},
		.len = 2 * H_BS,
		.out = true,
		H_LBA_OOR},
	    {.name = "WRITE AND VERIFY(16) at the capacity",
		.cdb = {0x8e, 0, [8] = 0x08, [13] = 1},
		.len = H_BS,
		.out = true,
		H_LBA_OOR},
	    {.name = "VERIFY(10) at the capacity",
		.cdb = {0x2f, 0, 0, 0, 0x08, 0x00, 0, 0, 1, 0},
		H_LBA_OOR},
	    {.name = "VERIFY(12) straddling",
		.cdb = {0xaf, 0, 0, 0, 0x07, 0xff, 0, 0, 0, 2, 0, 0},
		H_LBA_OOR},
	    {.name = "VERIFY(16) BYTCHK 1 straddling",
		.cdb = {0x8f, 0x02, [8] = 0x07, [9] = 0xff, [13] = 2},
		.len = 2 * H_BS,
		.out = true,
		H_LBA_OOR},
	    /* Protection fields: no protection information here. */
	    {.name = "READ(10) RDPROTECT 001b",
		.cdb = {0x28, 0x20, 0, 0, 0, 0, 0, 0, 1, 0},
		.len = H_BS,
		H_INV_CDB(1, 7)},
	    {.name = "READ(12) RDPROTECT 111b",
		.cdb = {0xa8, 0xe0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0},
		.len = H_BS,
		H_INV_CDB(1, 7)},
	    {.name = "READ(16) RDPROTECT 100b",
		.cdb = {0x88, 0x80, [13] = 1},
		.len = H_BS,
		H_INV_CDB(1, 7)},
	    {.name = "WRITE(10) WRPROTECT 010b",
		.cdb = {0x2a, 0x40, 0, 0, 0, 0, 0, 0, 1, 0},
		.len = H_BS,
		.out = true,
		H_INV_CDB(1, 7)},
	    {.name = "WRITE(12) WRPROTECT 001b",
		.cdb = {0xaa, 0x20, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0},
		.len = H_BS,
		.out = true,
		H_INV_CDB(1, 7)},
	    {.name = "WRITE(16) WRPROTECT 011b",
		.cdb = {0x8a, 0x60, [13] = 1},
		.len = H_BS,
		.out = true,
		H_INV_CDB(1, 7)},
	    {.name = "WRITE AND VERIFY(10) WRPROTECT",
		.cdb = {0x2e, 0x20, 0, 0, 0, 0, 0, 0, 1, 0},
		.len = H_BS,
		.out = true,
		H_INV_CDB(1, 7)},
	    {.name = "VERIFY(10) VRPROTECT",
		.cdb = {0x2f, 0x20, 0, 0, 0, 0, 0, 0, 1, 0},
		H_INV_CDB(1, 7)},
	    {.name = "VERIFY(12) VRPROTECT",
		.cdb = {0xaf, 0xa0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0},
		H_INV_CDB(1, 7)},
	    {.name = "VERIFY(16) VRPROTECT",
		.cdb = {0x8f, 0x40, [13] = 1},
		H_INV_CDB(1, 7)},
	    /* BYTCHK: 10b reserved; 11b reserved for WRITE AND VERIFY. */
	    {.name = "WRITE AND VERIFY(10) BYTCHK 10b",
		.cdb = {0x2e, 0x04, 0, 0, 0, 0, 0, 0, 1, 0},
		.len = H_BS,
		.out = true,
		H_INV_CDB(1, 2)},
	    {.name = "WRITE AND VERIFY(10) BYTCHK 11b",
		.cdb = {0x2e, 0x06, 0, 0, 0, 0, 0, 0, 1, 0},
		.len = H_BS,
		.out = true,
		H_INV_CDB(1, 2)},
	    {.name = "WRITE AND VERIFY(12) BYTCHK 11b",
		.cdb = {0xae, 0x06, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0},
		.len = H_BS,
		.out = true,
		H_INV_CDB(1, 2)},
	    {.name = "WRITE AND VERIFY(16) BYTCHK 10b",
		.cdb = {0x8e, 0x04, [13] = 1},
		.len = H_BS,
		.out = true,
		H_INV_CDB(1, 2)},
	    {.name = "VERIFY(10) BYTCHK 10b",
		.cdb = {0x2f, 0x04, 0, 0, 0, 0, 0, 0, 1, 0},
		.len = H_BS,
		.out = true,
		H_INV_CDB(1, 2)},
	    {.name = "VERIFY(16) BYTCHK 11b (not offered)",
		.cdb = {0x8f, 0x06, [13] = 1},
		.len = H_BS,
		.out = true,
		H_INV_CDB(1, 2)},
	    /* Partial block of data for a WRITE: the IU is wrong. */
	    {.name = "WRITE(10) with half a block",
		.cdb = {0x2a, 0, 0, 0, 0, 0, 0, 0, 1, 0},
		.len = 256,
		.out = true,
		H_SENSE(H_SK_ILLEGAL, 0x0e, 0x03)},
	};

	(void)state;
	h_cases(lu, cases, H_NCASES(cases));
	scsi_lu_put(lu);
}

/* MAXIMUM TRANSFER LENGTH and MAXIMUM WRITE SAME LENGTH (SBC-4 6.6.3). */
static void
test_block_limits(void **state)
{
	struct scsi_lu *lu =
	    h_lu_open("nullio", (uint64_t)BIG_BLOCKS * H_BS, false, false);
	static const struct h_case cases[] = {
	    {.name = "READ(10) MAXIMUM TRANSFER LENGTH + 1",
		.cdb = {0x28, 0, 0, 0, 0, 0, 0, 0x80, 0x01, 0},
		H_INV_CDB(7, -1)},
	    {.name = "READ(12) MAXIMUM TRANSFER LENGTH + 1",
		.cdb = {0xa8, 0, 0, 0, 0, 0, 0, 0, 0x80, 0x01, 0, 0},
		H_INV_CDB(6, -1)},
	    {.name = "READ(16) MAXIMUM TRANSFER LENGTH + 1",
		.cdb = {0x88, 0, [12] = 0x80, [13] = 0x01},
		H_INV_CDB(10, -1)},
	    {.name = "WRITE(10) MAXIMUM TRANSFER LENGTH + 1",
		.cdb = {0x2a, 0, 0, 0, 0, 0, 0, 0x80, 0x01, 0},
		.out = true,
		H_INV_CDB(7, -1)},
	    {.name = "WRITE(12) 2^32-1 blocks",
		.cdb = {0xaa, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0, 0},
		.out = true,
		H_LBA_OOR},
	    {.name = "WRITE(12) MAXIMUM TRANSFER LENGTH + 1",
		.cdb = {0xaa, 0, 0, 0, 0, 0, 0, 0, 0x80, 0x01, 0, 0},
		.out = true,
		H_INV_CDB(6, -1)},
	    {.name = "WRITE(16) MAXIMUM TRANSFER LENGTH + 1",
		.cdb = {0x8a, 0, [12] = 0x80, [13] = 0x01},
		.out = true,
		H_INV_CDB(10, -1)},
	    {.name = "WRITE AND VERIFY(10) MAXIMUM TRANSFER LENGTH + 1",
		.cdb = {0x2e, 0, 0, 0, 0, 0, 0, 0x80, 0x01, 0},
		.out = true,
		H_INV_CDB(7, -1)},
	    {.name = "WRITE AND VERIFY(16) MAXIMUM TRANSFER LENGTH + 1",
		.cdb = {0x8e, 0, [12] = 0x80, [13] = 0x01},
		.out = true,
		H_INV_CDB(10, -1)},
	    {.name = "VERIFY(10) MAXIMUM TRANSFER LENGTH + 1",
		.cdb = {0x2f, 0, 0, 0, 0, 0, 0, 0x80, 0x01, 0},
		H_INV_CDB(7, -1)},
	    {.name = "VERIFY(12) MAXIMUM TRANSFER LENGTH + 1",
		.cdb = {0xaf, 0, 0, 0, 0, 0, 0, 0, 0x80, 0x01, 0, 0},
		H_INV_CDB(6, -1)},
	    {.name = "VERIFY(16) MAXIMUM TRANSFER LENGTH + 1",
		.cdb = {0x8f, 0, [12] = 0x80, [13] = 0x01},
		H_INV_CDB(10, -1)},
	    {.name = "ORWRITE(16) MAXIMUM TRANSFER LENGTH + 1",
		.cdb = {0x8b, 0, [12] = 0x80, [13] = 0x01},
		.out = true,
		H_INV_CDB(10, -1)},
	    {.name = "WRITE SAME(10) MAXIMUM WRITE SAME LENGTH + 1",
		.cdb = {0x41, 0, 0, 0, 0, 0, 0, 0x80, 0x01, 0},
		.len = H_BS,
		.out = true,
		H_INV_CDB(7, -1)},
	    {.name = "WRITE SAME(16) MAXIMUM WRITE SAME LENGTH + 1",
		.cdb = {0x93, 0, [12] = 0x80, [13] = 0x01},
		.len = H_BS,
		.out = true,
		H_INV_CDB(10, -1)},
	    {.name = "WRITE SAME(16) UNMAP past the limit",
		.cdb = {0x93, 0x08, [12] = 0x80, [13] = 0x01},
		.len = H_BS,
		.out = true,
		H_INV_CDB(10, -1)},
	    {.name = "WRITE SAME(16) 0 blocks: to the end, past the limit",
		.cdb = {0x93, 0x01},
		H_INV_CDB(10, -1)},
	    {.name = "WRITE SAME(10) 0 blocks: to the end, past the limit",
		.cdb = {0x41, 0, 0, 0, 0, 0, 0, 0, 0, 0},
		.len = H_BS,
		.out = true,
		H_INV_CDB(7, -1)},
	    {.name = "COMPARE AND WRITE 2 blocks",
		.cdb = {0x89, 0, [13] = 2},
		.len = 4 * H_BS,
		.out = true,
		H_INV_CDB(13, -1)},
	    /* At the limits: GOOD (no data moved for READ into no buffer). */
	    {.name = "READ(16) MAXIMUM TRANSFER LENGTH",
		.cdb = {0x88, 0, [12] = 0x80, [13] = 0x00}},
	    {.name = "VERIFY(16) MAXIMUM TRANSFER LENGTH",
		.cdb = {0x8f, 0, [12] = 0x80, [13] = 0x00}},
	    {.name = "WRITE SAME(16) NDOB MAXIMUM WRITE SAME LENGTH",
		.cdb = {0x93, 0x01, [12] = 0x80, [13] = 0x00}},
	    {.name = "WRITE SAME(16) NDOB 0 blocks from 100 before the end",
		.cdb = {0x93, 0x01, [7] = 0x3f, [8] = 0xff, [9] = 0x9c}},
	};

	(void)state;
	h_cases(lu, cases, H_NCASES(cases));
	scsi_lu_put(lu);
}

/* VERIFY with BYTCHK, and MISCOMPARE with the offset in INFORMATION. */
static void
test_verify(void **state)
{
	struct scsi_lu *lu = h_lu("fileio", false);
	static uint8_t bad1[2 * H_BS], bad2[2 * H_BS];
	static const struct h_case cases[] = {
	    {.name = "VERIFY(10) BYTCHK 1 match",
		.cdb = {0x2f, 0x02, 0, 0, 0, 40, 0, 0, 2, 0},
		.data = pat,
		.dlen = 2 * H_BS,
		.len = 2 * H_BS,
		.out = true},
	    {.name = "VERIFY(12) BYTCHK 1 match, DPO",
		.cdb = {0xaf, 0x12, 0, 0, 0, 40, 0, 0, 0, 2, 0, 0},
		.data = pat,
		.dlen = 2 * H_BS,
		.len = 2 * H_BS,
		.out = true},
	    {.name = "VERIFY(10) BYTCHK 0: medium only, no data",
		.cdb = {0x2f, 0x00, 0, 0, 0, 40, 0, 0, 2, 0}},
	    {.name = "VERIFY(16) 0 blocks", .cdb = {0x8f, 0x02, [9] = 40}},
	    {.name = "VERIFY(10) miscompare at byte 700",
		.cdb = {0x2f, 0x02, 0, 0, 0, 40, 0, 0, 2, 0},
		.data = bad1,
		.dlen = 2 * H_BS,
		.len = 2 * H_BS,
		.out = true,
		H_SENSE(H_SK_MISCOMPARE, 0x1d, 0x00),
		.info = true,
		.infov = 700},
	    {.name = "VERIFY(16) miscompare at byte 0",
		.cdb = {0x8f, 0x02, [9] = 40, [13] = 2},
		.data = bad2,
		.dlen = 2 * H_BS,
		.len = 2 * H_BS,
		.out = true,
		H_SENSE(H_SK_MISCOMPARE, 0x1d, 0x00),
		.info = true,
		.infov = 0},
	    {.name = "VERIFY(12) miscompare, second block only",
		.cdb = {0xaf, 0x02, 0, 0, 0, 41, 0, 0, 0, 1, 0, 0},
		.data = bad1 + H_BS,
		.dlen = H_BS,
		.len = H_BS,
		.out = true,
		H_SENSE(H_SK_MISCOMPARE, 0x1d, 0x00),
		.info = true,
		.infov = 700 - H_BS},
	    {.name = "VERIFY(10) BYTCHK 1 with too little data",
		.cdb = {0x2f, 0x02, 0, 0, 0, 40, 0, 0, 2, 0},
		.data = pat,
		.dlen = H_BS,
		.len = H_BS,
		.out = true,
		H_SENSE(H_SK_ILLEGAL, 0x0e, 0x03)},
	};

	(void)state;
	fill(pat, sizeof(pat), 5);
	memcpy(bad1, pat, sizeof(bad1));
	bad1[700] ^= 0x01;
	memcpy(bad2, pat, sizeof(bad2));
	bad2[0] ^= 0x80;
	wr(lu, 40, 2, pat);
	h_cases(lu, cases, H_NCASES(cases));
	/* A miscompare changed nothing. */
	assert_memory_equal(rd(lu, 40, 2), pat, 2 * H_BS);
	scsi_lu_put(lu);
}

/* SYNCHRONIZE CACHE, PRE-FETCH, START STOP UNIT, READ DEFECT DATA. */
static void
test_sync_prefetch_misc(void **state)
{
	struct scsi_lu *lu = h_lu("fileio", false);
	static const uint8_t rdd10_want[4] = {0x00, 0x18, 0x00, 0x00};
	static const uint8_t rdd12_want[8] = {0x00, 0x0d, 0, 0, 0, 0, 0, 0};
	static const struct h_case cases[] = {
	    {.name = "SYNCHRONIZE CACHE(10) whole medium",
		.cdb = {0x35, 0, 0, 0, 0, 0, 0, 0, 0, 0}},
	    {.name = "SYNCHRONIZE CACHE(10) IMMED, last block",
		.cdb = {0x35, 0x02, 0, 0, 0x07, 0xff, 0, 0, 1, 0}},
	    {.name = "SYNCHRONIZE CACHE(16) range",
		.cdb = {0x91, 0, [9] = 5, [13] = 100}},
	    {.name = "SYNCHRONIZE CACHE(10) at the capacity",
		.cdb = {0x35, 0, 0, 0, 0x08, 0x00, 0, 0, 1, 0},
		H_LBA_OOR},
	    {.name = "SYNCHRONIZE CACHE(16) straddling",
		.cdb = {0x91, 0, [8] = 0x07, [9] = 0xff, [13] = 2},
		H_LBA_OOR},
	    {.name = "SYNCHRONIZE CACHE(16) LBA 2^64-1",
		.cdb = {0x91, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
		    0, 0, 0, 1},
		H_LBA_OOR},
	    {.name = "PRE-FETCH(10)",
		.cdb = {0x34, 0, 0, 0, 0, 0, 0, 0, 16, 0}},
	    {.name = "PRE-FETCH(16) IMMED",
		.cdb = {0x90, 0x02, [9] = 1, [13] = 16}},
	    {.name = "PRE-FETCH(10) straddling",
		.cdb = {0x34, 0, 0, 0, 0x07, 0xf0, 0, 0, 0x11, 0},
		H_LBA_OOR},
	    {.name = "PRE-FETCH(16) at the capacity",
		.cdb = {0x90, 0, [8] = 0x08, [13] = 1},
		H_LBA_OOR},
	    {.name = "START STOP UNIT start", .cdb = {0x1b, 0, 0, 0, 0x01, 0}},
	    {.name = "START STOP UNIT stop, IMMED",
		.cdb = {0x1b, 0x01, 0, 0, 0x00, 0}},
	    {.name = "START STOP UNIT power condition 2",
		.cdb = {0x1b, 0, 0, 0, 0x20, 0}},
	    {.name = "START STOP UNIT NACA",
		.cdb = {0x1b, 0, 0, 0, 0x01, 0x04},
		H_INV_CDB(5, 2)},
	};
	uint8_t rdd10[10] = {0x37, 0, 0x18, 0, 0, 0, 0, 0, 255, 0};
	uint8_t rdd12[12] = {0xb7, 0x0d, 0, 0, 0, 0, 0, 0, 0, 255, 0, 0};
	uint8_t tur[6] = {0};
	struct h_task *t;

	(void)state;
	h_cases(lu, cases, H_NCASES(cases));
	/* A stopped unit still serves commands: no motor to stop. */
	t = h_in(lu, tur, 0);
	h_expect_good(t);
	/* READ DEFECT DATA: an empty list in the requested format. */
	t = h_in(lu, rdd10, 255);
	h_expect_good(t);
	assert_int_equal(t->task.data_in_len, 4);
	h_expect_bytes(t->buf, rdd10_want, 4);
	rdd10[8] = 2;
	t = h_in(lu, rdd10, 255);
	assert_int_equal(t->task.data_in_len, 2);
	t = h_in(lu, rdd12, 255);
	h_expect_good(t);
	assert_int_equal(t->task.data_in_len, 8);
	h_expect_bytes(t->buf, rdd12_want, 8);
	scsi_lu_put(lu);
}

/* WRITE SAME (10)/(16) with the UNMAP and NDOB bits (SBC-4). */
static void
test_write_same(void **state)
{
	struct scsi_lu *lu = h_lu("fileio", false);
	static const struct h_case cases[] = {
	    {.name = "WRITE SAME(10) WRPROTECT",
		.cdb = {0x41, 0x20, 0, 0, 0, 0, 0, 0, 1, 0},
		.len = H_BS,
		.out = true,
		H_INV_CDB(1, 7)},
	    {.name = "WRITE SAME(16) WRPROTECT",
		.cdb = {0x93, 0xe0, [13] = 1},
		.len = H_BS,
		.out = true,
		H_INV_CDB(1, 7)},
	    {.name = "WRITE SAME(10) ANCHOR",
		.cdb = {0x41, 0x10, 0, 0, 0, 0, 0, 0, 1, 0},
		.len = H_BS,
		.out = true,
		H_INV_CDB(1, 4)},
	    {.name = "WRITE SAME(16) ANCHOR with UNMAP",
		.cdb = {0x93, 0x18, [13] = 1},
		.len = H_BS,
		.out = true,
		H_INV_CDB(1, 4)},
	    {.name = "WRITE SAME(10) at the capacity",
		.cdb = {0x41, 0, 0, 0, 0x08, 0x00, 0, 0, 1, 0},
		.len = H_BS,
		.out = true,
		H_LBA_OOR},
	    {.name = "WRITE SAME(16) straddling",
		.cdb = {0x93, 0, [8] = 0x07, [9] = 0xf8, [13] = 9},
		.len = H_BS,
		.out = true,
		H_LBA_OOR},
	    {.name = "WRITE SAME(16) UNMAP LBA 2^64-1",
		.cdb = {0x93, 0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
		    0xff, 0, 0, 0, 1},
		.len = H_BS,
		.out = true,
		H_LBA_OOR},
	    {.name = "WRITE SAME(10) without its block",
		.cdb = {0x41, 0, 0, 0, 0, 0, 0, 0, 1, 0},
		H_SENSE(H_SK_ILLEGAL, 0x0e, 0x03)},
	    {.name = "WRITE SAME(10) UNMAP with half a block",
		.cdb = {0x41, 0x08, 0, 0, 0, 0, 0, 0, 1, 0},
		.len = H_BS / 2,
		.out = true,
		H_SENSE(H_SK_ILLEGAL, 0x0e, 0x03)},
	    {.name = "WRITE SAME(16) UNMAP with two blocks",
		.cdb = {0x93, 0x08, [13] = 1},
		.len = 2 * H_BS,
		.out = true,
		H_SENSE(H_SK_ILLEGAL, 0x0e, 0x03)},
	};
	uint8_t ws10[10] = {0x41, 0, 0, 0, 0, 100, 0, 0, 3, 0};
	uint8_t ws16[16] = {0x93, 0, [9] = 110, [13] = 2};
	uint8_t block[H_BS], zero[H_BS];
	const uint8_t *p;
	struct h_task *t;
	unsigned int i;

	(void)state;
	memset(zero, 0, sizeof(zero));
	fill(block, sizeof(block), 42);
	/* Pattern replicated over LBAs 100..102. */
	t = h_out(lu, ws10, block, H_BS);
	h_expect_good(t);
	assert_int_equal(t->task.xfer_len, H_BS);
	p = rd(lu, 99, 5);
	assert_true(all_zero(p, H_BS));
	for (i = 1; i <= 3; i++)
		assert_memory_equal(p + i * H_BS, block, H_BS);
	assert_true(all_zero(p + 4 * H_BS, H_BS));
	/* WRITE SAME(16) with UNMAP: unmapped, reads zeros (LBPRZ). */
	fill(pat, sizeof(pat), 11);
	wr(lu, 110, 2, pat);
	ws16[1] = 0x08;
	t = h_out(lu, ws16, block, H_BS);
	h_expect_good(t);
	assert_true(all_zero(rd(lu, 110, 2), 2 * H_BS));
	/* NDOB: no Data-Out, zeros written. */
	wr(lu, 110, 2, pat);
	ws16[1] = 0x01;
	t = h_exec(lu, ws16, NULL, 0, 0, true, &h_nx1);
	h_expect_good(t);
	assert_int_equal(t->task.xfer_len, 0);
	assert_true(all_zero(rd(lu, 110, 2), 2 * H_BS));
	/*
	 * NDOB with a block sent anyway: the CDB moves no data (xfer_len 0,
	 * the transport reports the overflow) and the data is not written.
	 */
	wr(lu, 110, 2, pat);
	t = h_out(lu, ws16, block, H_BS);
	h_expect_good(t);
	assert_int_equal(t->task.xfer_len, 0);
	assert_true(all_zero(rd(lu, 110, 2), 2 * H_BS));
	/* NDOB and UNMAP together. */
	wr(lu, 110, 2, pat);
	ws16[1] = 0x09;
	t = h_exec(lu, ws16, NULL, 0, 0, true, &h_nx1);
	h_expect_good(t);
	assert_true(all_zero(rd(lu, 110, 2), 2 * H_BS));
	/* A zero pattern without UNMAP: zeros. */
	wr(lu, 110, 2, pat);
	ws16[1] = 0;
	t = h_out(lu, ws16, zero, H_BS);
	h_expect_good(t);
	assert_true(all_zero(rd(lu, 110, 2), 2 * H_BS));
	/* 0 blocks: from the LBA to the last one (WSNZ 0). */
	ws10[4] = 0x07;
	ws10[5] = 0xfc;
	ws10[8] = 0;
	t = h_out(lu, ws10, block, H_BS);
	h_expect_good(t);
	p = rd(lu, 2043, 5);
	assert_memory_not_equal(p, block, H_BS);
	for (i = 1; i <= 4; i++)
		assert_memory_equal(p + i * H_BS, block, H_BS);
	/* 0 blocks at the capacity itself: nothing to do, GOOD. */
	ws10[4] = 0x08;
	ws10[5] = 0x00;
	t = h_out(lu, ws10, block, H_BS);
	h_expect_good(t);
	h_cases(lu, cases, H_NCASES(cases));
	scsi_lu_put(lu);
}

/* UNMAP parameter lists (SBC-4 5.32). */
static uint8_t um_257[8 + 257 * 16];
static const uint8_t um_oor[24] = {0, 22, 0, 16, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0x08, 0x00, 0, 0, 0, 1};
static const uint8_t um_straddle[24] = {0, 22, 0, 16, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0x07, 0xf8, 0, 0, 0, 9};
static const uint8_t um_too_many_lbas[24] = {0, 22, 0, 16, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0x00, 0x10, 0x00, 0x01};
static const uint8_t um_short[8] = {0, 6, 0, 0};

/* UNMAP on a small LU: every refused parameter list, then the effects. */
static void
test_unmap(void **state)
{
	struct scsi_lu *lu = h_lu("fileio", false);
	static const struct h_case cases[] = {
	    {.name = "UNMAP ANCHOR",
		.cdb = {0x42, 0x01, 0, 0, 0, 0, 0, 0, 24, 0},
		.data = um_oor,
		.dlen = 24,
		.len = 24,
		.out = true,
		H_INV_CDB(1, 0)},
	    {.name = "UNMAP parameter list length 7",
		.cdb = {0x42, 0, 0, 0, 0, 0, 0, 0, 7, 0},
		.data = um_short,
		.dlen = 7,
		.len = 7,
		.out = true,
		H_PLL_ERR},
	    {.name = "UNMAP parameter list length 1",
		.cdb = {0x42, 0, 0, 0, 0, 0, 0, 0, 1, 0},
		.data = um_short,
		.dlen = 1,
		.len = 1,
		.out = true,
		H_PLL_ERR},
	    {.name = "UNMAP descriptor at the capacity",
		.cdb = {0x42, 0, 0, 0, 0, 0, 0, 0, 24, 0},
		.data = um_oor,
		.dlen = 24,
		.len = 24,
		.out = true,
		H_LBA_OOR},
	    {.name = "UNMAP descriptor straddling the end",
		.cdb = {0x42, 0, 0, 0, 0, 0, 0, 0, 24, 0},
		.data = um_straddle,
		.dlen = 24,
		.len = 24,
		.out = true,
		H_LBA_OOR},
	    {.name = "UNMAP more than MAXIMUM UNMAP LBA COUNT",
		.cdb = {0x42, 0, 0, 0, 0, 0, 0, 0, 24, 0},
		.data = um_too_many_lbas,
		.dlen = 24,
		.len = 24,
		.out = true,
		H_INV_PARAM(16, -1)},
	    {.name = "UNMAP 257 descriptors",
		.cdb = {0x42, 0, 0, 0, 0, 0, 0, 0x10, 0x18, 0},
		.data = um_257,
		.dlen = sizeof(um_257),
		.len = sizeof(um_257),
		.out = true,
		H_INV_PARAM(2, -1)},
	    {.name = "UNMAP parameter list length 0",
		.cdb = {0x42, 0, 0, 0, 0, 0, 0, 0, 0, 0}},
	    {.name = "UNMAP header only",
		.cdb = {0x42, 0, 0, 0, 0, 0, 0, 0, 8},
		.data = um_short,
		.dlen = 8,
		.len = 8,
		.out = true},
	    {.name = "UNMAP NACA",
		.cdb = {0x42, 0, 0, 0, 0, 0, 0, 0, 0, 0x04},
		H_INV_CDB(9, 2)},
	};
	uint8_t um[10] = {0x42, 0, 0, 0, 0, 0, 0, 0, 40, 0};
	uint8_t list[40];
	const uint8_t *p;
	struct h_task *t;

	(void)state;
	put_be16(um_257 + 2, 257 * 16);
	h_cases(lu, cases, H_NCASES(cases));
	/* Two descriptors: LBAs 200..201 and 210. */
	fill(pat, sizeof(pat), 21);
	wr(lu, 200, 4, pat);
	wr(lu, 210, 2, pat);
	memset(list, 0, sizeof(list));
	put_be16(list, 38);
	put_be16(list + 2, 32);
	put_be64(list + 8, 200);
	put_be32(list + 16, 2);
	put_be64(list + 24, 210);
	put_be32(list + 32, 1);
	t = h_out(lu, um, list, 40);
	h_expect_good(t);
	assert_int_equal(t->task.xfer_len, 40);
	p = rd(lu, 200, 4);
	assert_true(all_zero(p, 2 * H_BS));
	assert_memory_equal(p + 2 * H_BS, pat + 2 * H_BS, 2 * H_BS);
	p = rd(lu, 210, 2);
	assert_true(all_zero(p, H_BS));
	assert_memory_equal(p + H_BS, pat + H_BS, H_BS);
	/*
	 * BLOCK DESCRIPTOR DATA LENGTH 24: the half descriptor is ignored
	 * (SBC-4 5.32.2), only 202 goes.
	 */
	wr(lu, 200, 4, pat);
	wr(lu, 210, 2, pat);
	put_be16(list + 2, 24);
	put_be64(list + 8, 202);
	put_be32(list + 16, 1);
	t = h_out(lu, um, list, 40);
	h_expect_good(t);
	p = rd(lu, 200, 4);
	assert_memory_equal(p, pat, 2 * H_BS);
	assert_true(all_zero(p + 2 * H_BS, H_BS));
	assert_memory_equal(rd(lu, 210, 1), pat, H_BS);
	/*
	 * A bad second descriptor refuses the command before anything is
	 * unmapped: the first range keeps its data.
	 */
	wr(lu, 200, 4, pat);
	put_be16(list + 2, 32);
	put_be64(list + 8, 200);
	put_be32(list + 16, 2);
	put_be64(list + 24, H_BLOCKS);
	put_be32(list + 32, 1);
	t = h_out(lu, um, list, 40);
	assert_int_equal(t->task.status, H_CHECK);
	assert_int_equal(t->task.sense[12], 0x21);
	assert_memory_equal(rd(lu, 200, 4), pat, 4 * H_BS);
	/* Descriptor data length beyond the list: what fits is used. */
	put_be16(list + 2, 0xfff0);
	put_be64(list + 24, 201);
	put_be32(list + 32, 0);
	um[8] = 24;
	t = h_out(lu, um, list, 24);
	h_expect_good(t);
	assert_true(all_zero(rd(lu, 200, 2), 2 * H_BS));
	scsi_lu_put(lu);
}

/* MAXIMUM UNMAP LBA COUNT is a total over the descriptors. */
static void
test_unmap_limits(void **state)
{
	struct scsi_lu *lu =
	    h_lu_open("nullio", (uint64_t)BIG_BLOCKS * H_BS, false, false);
	static uint8_t two_halves[40], at_max[24], one_over[24];
	static uint8_t max_descs[8 + 256 * 16];
	static const struct h_case cases[] = {
	    {.name = "UNMAP two descriptors summing past the maximum",
		.cdb = {0x42, 0, 0, 0, 0, 0, 0, 0, 40, 0},
		.data = two_halves,
		.dlen = 40,
		.len = 40,
		.out = true,
		H_INV_PARAM(32, -1)},
	    {.name = "UNMAP one descriptor past the maximum",
		.cdb = {0x42, 0, 0, 0, 0, 0, 0, 0, 24, 0},
		.data = one_over,
		.dlen = 24,
		.len = 24,
		.out = true,
		H_INV_PARAM(16, -1)},
	    {.name = "UNMAP exactly MAXIMUM UNMAP LBA COUNT",
		.cdb = {0x42, 0, 0, 0, 0, 0, 0, 0, 24, 0},
		.data = at_max,
		.dlen = 24,
		.len = 24,
		.out = true},
	    {.name = "UNMAP exactly 256 descriptors",
		.cdb = {0x42, 0, 0, 0, 0, 0, 0, 0x10, 0x08, 0},
		.data = max_descs,
		.dlen = sizeof(max_descs),
		.len = sizeof(max_descs),
		.out = true},
	};
	unsigned int i;

	(void)state;
	put_be16(two_halves + 2, 32);
	put_be64(two_halves + 8, 0);
	put_be32(two_halves + 16, MAX_UNMAP_LBAS / 2 + 1);
	put_be64(two_halves + 24, MAX_UNMAP_LBAS);
	put_be32(two_halves + 32, MAX_UNMAP_LBAS / 2);
	put_be16(one_over + 2, 16);
	put_be32(one_over + 16, MAX_UNMAP_LBAS + 1);
	put_be16(at_max + 2, 16);
	put_be64(at_max + 8, BIG_BLOCKS - MAX_UNMAP_LBAS);
	put_be32(at_max + 16, MAX_UNMAP_LBAS);
	put_be16(max_descs + 2, 256 * 16);
	for (i = 0; i < MAX_UNMAP_DESCS; i++) {
		put_be64(max_descs + 8 + 16 * i, 8 * i);
		put_be32(max_descs + 8 + 16 * i + 8, 4);
	}
	h_cases(lu, cases, H_NCASES(cases));
	scsi_lu_put(lu);
}

/* COMPARE AND WRITE and ORWRITE (16) (SBC-4). */
static void
test_caw_orwrite(void **state)
{
	struct scsi_lu *lu = h_lu("fileio", false);
	static uint8_t caw_bad[2 * H_BS];
	static const struct h_case cases[] = {
	    {.name = "COMPARE AND WRITE WRPROTECT",
		.cdb = {0x89, 0x20, [9] = 60, [13] = 1},
		.len = 2 * H_BS,
		.out = true,
		H_INV_CDB(1, 7)},
	    {.name = "COMPARE AND WRITE 255 blocks",
		.cdb = {0x89, 0, [9] = 60, [13] = 255},
		.len = 2 * H_BS,
		.out = true,
		H_INV_CDB(13, -1)},
	    {.name = "COMPARE AND WRITE at the capacity",
		.cdb = {0x89, 0, [8] = 0x08, [13] = 1},
		.len = 2 * H_BS,
		.out = true,
		H_LBA_OOR},
	    {.name = "COMPARE AND WRITE 0 blocks with data",
		.cdb = {0x89, 0, [9] = 60},
		.len = 2 * H_BS,
		.out = true,
		H_INV_CDB(13, -1)},
	    {.name = "COMPARE AND WRITE 0 blocks", .cdb = {0x89, 0, [9] = 60}},
	    {.name = "COMPARE AND WRITE miscompare at byte 5",
		.cdb = {0x89, 0x08, [9] = 60, [13] = 1},
		.data = caw_bad,
		.dlen = 2 * H_BS,
		.len = 2 * H_BS,
		.out = true,
		H_SENSE(H_SK_MISCOMPARE, 0x1d, 0x00),
		.info = true,
		.infov = 5},
	    {.name = "COMPARE AND WRITE with only the compare half",
		.cdb = {0x89, 0, [9] = 60, [13] = 1},
		.data = caw_bad,
		.dlen = H_BS,
		.len = H_BS,
		.out = true,
		H_SENSE(H_SK_ILLEGAL, 0x0e, 0x03)},
	    /* More Data-Out than the CDB's blocks: the CDB is not meant. */
	    {.name = "COMPARE AND WRITE with four blocks of data",
		.cdb = {0x89, 0, [9] = 60, [13] = 1},
		.len = 4 * H_BS,
		.out = true,
		H_SENSE(H_SK_ILLEGAL, 0x0e, 0x03)},
	    {.name = "ORWRITE ORPROTECT",
		.cdb = {0x8b, 0x20, [13] = 1},
		.len = H_BS,
		.out = true,
		H_INV_CDB(1, 7)},
	    {.name = "ORWRITE at the capacity",
		.cdb = {0x8b, 0, [8] = 0x08, [13] = 1},
		.len = H_BS,
		.out = true,
		H_LBA_OOR},
	    {.name = "ORWRITE straddling",
		.cdb = {0x8b, 0, [8] = 0x07, [9] = 0xff, [13] = 2},
		.len = 2 * H_BS,
		.out = true,
		H_LBA_OOR},
	    {.name = "ORWRITE 0 blocks", .cdb = {0x8b, 0, [9] = 60}},
	};
	uint8_t caw[16] = {0x89, 0x08, [9] = 60, [13] = 1};
	uint8_t orw[16] = {0x8b, 0x08, [9] = 70, [13] = 2};
	uint8_t data[2 * H_BS];
	const uint8_t *p;
	struct h_task *t;
	unsigned int i;

	(void)state;
	fill(pat, sizeof(pat), 31);
	wr(lu, 60, 1, pat);
	/* Match: the second half is written. */
	memcpy(data, pat, H_BS);
	fill(data + H_BS, H_BS, 99);
	t = h_out(lu, caw, data, 2 * H_BS);
	h_expect_good(t);
	assert_int_equal(t->task.xfer_len, 2 * H_BS);
	assert_memory_equal(rd(lu, 60, 1), data + H_BS, H_BS);
	/* The table's miscompare is against the new contents. */
	memcpy(caw_bad, data + H_BS, H_BS);
	caw_bad[5] ^= 0xff;
	fill(caw_bad + H_BS, H_BS, 7);
	h_cases(lu, cases, H_NCASES(cases));
	assert_memory_equal(rd(lu, 60, 1), data + H_BS, H_BS);
	/* ORWRITE: medium OR data. */
	memset(data, 0x0f, sizeof(data));
	wr(lu, 70, 2, data);
	for (i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(i & 0xf0);
	t = h_out(lu, orw, data, 2 * H_BS);
	h_expect_good(t);
	assert_int_equal(t->task.xfer_len, 2 * H_BS);
	p = rd(lu, 70, 2);
	for (i = 0; i < 2 * H_BS; i++)
		assert_int_equal(p[i], (uint8_t)((i & 0xf0) | 0x0f));
	scsi_lu_put(lu);
}

/* A read-only LU: every command that writes is WRITE PROTECTED. */
static void
test_read_only(void **state)
{
	struct scsi_lu *lu = h_lu("nullio", true);
	static const uint8_t one[24] = {0, 22, 0, 16, [19] = 1};
	static const struct h_case cases[] = {
	    {.name = "WRITE(6)",
		.cdb = {0x0a, 0, 0, 0, 1, 0},
		.len = H_BS,
		.out = true,
		H_PROTECTED},
	    {.name = "WRITE(10)",
		.cdb = {0x2a, 0, 0, 0, 0, 0, 0, 0, 1, 0},
		.len = H_BS,
		.out = true,
		H_PROTECTED},
	    {.name = "WRITE(12)",
		.cdb = {0xaa, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0},
		.len = H_BS,
		.out = true,
		H_PROTECTED},
	    {.name = "WRITE(16)",
		.cdb = {0x8a, 0, [13] = 1},
		.len = H_BS,
		.out = true,
		H_PROTECTED},
	    {.name = "WRITE AND VERIFY(10)",
		.cdb = {0x2e, 0, 0, 0, 0, 0, 0, 0, 1, 0},
		.len = H_BS,
		.out = true,
		H_PROTECTED},
	    {.name = "WRITE AND VERIFY(12)",
		.cdb = {0xae, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0},
		.len = H_BS,
		.out = true,
		H_PROTECTED},
	    {.name = "WRITE AND VERIFY(16)",
		.cdb = {0x8e, 0, [13] = 1},
		.len = H_BS,
		.out = true,
		H_PROTECTED},
	    {.name = "WRITE SAME(10)",
		.cdb = {0x41, 0, 0, 0, 0, 0, 0, 0, 1, 0},
		.len = H_BS,
		.out = true,
		H_PROTECTED},
	    {.name = "WRITE SAME(16) NDOB",
		.cdb = {0x93, 0x01, [13] = 1},
		H_PROTECTED},
	    {.name = "UNMAP",
		.cdb = {0x42, 0, 0, 0, 0, 0, 0, 0, 24, 0},
		.data = one,
		.dlen = 24,
		.len = 24,
		.out = true,
		H_PROTECTED},
	    {.name = "COMPARE AND WRITE",
		.cdb = {0x89, 0, [13] = 1},
		.len = 2 * H_BS,
		.out = true,
		H_PROTECTED},
	    {.name = "ORWRITE",
		.cdb = {0x8b, 0, [13] = 1},
		.len = H_BS,
		.out = true,
		H_PROTECTED},
	    /* Reads, verify, cache and prefetch still work. */
	    {.name = "READ(10)",
		.cdb = {0x28, 0, 0, 0, 0, 0, 0, 0, 1, 0},
		.len = H_BS},
	    {.name = "VERIFY(10)", .cdb = {0x2f, 0, 0, 0, 0, 0, 0, 0, 1, 0}},
	    {.name = "SYNCHRONIZE CACHE(10)", .cdb = {0x35}},
	    {.name = "PRE-FETCH(10)", .cdb = {0x34, 0, 0, 0, 0, 0, 0, 0, 1, 0}},
	};

	(void)state;
	h_cases(lu, cases, H_NCASES(cases));
	scsi_lu_put(lu);
}

/* A backing store I/O error is MEDIUM ERROR with the LBA (SBC-4 4.18). */
static void
test_medium_error(void **state)
{
	struct scsi_lu *lu = h_lu("fileio", false);
	static const struct h_case cases[] = {
	    {.name = "READ(10) past the shrunk file",
		.cdb = {0x28, 0, 0, 0, 0x07, 0xf0, 0, 0, 16, 0},
		.len = 16 * H_BS,
		H_SENSE(H_SK_MEDIUM, 0x11, 0x00),
		.info = true,
		.infov = 0x7f0},
	    {.name = "VERIFY(16) BYTCHK past the shrunk file",
		.cdb = {0x8f, 0x02, [8] = 0x07, [9] = 0xe0, [13] = 1},
		.len = H_BS,
		.out = true,
		H_SENSE(H_SK_MEDIUM, 0x11, 0x00),
		.info = true,
		.infov = 0x7e0},
	};

	(void)state;
	/* The LU's cached capacity is stale: the range checks pass. */
	assert_int_equal(truncate(h_path, 1024 * H_BS), 0);
	h_cases(lu, cases, H_NCASES(cases));
	assert_int_equal(truncate(h_path, (off_t)H_BLOCKS * H_BS), 0);
	scsi_lu_put(lu);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_capacity_lba_status),
	    cmocka_unit_test(test_read_write),
	    cmocka_unit_test(test_rw_invalid),
	    cmocka_unit_test(test_block_limits),
	    cmocka_unit_test(test_verify),
	    cmocka_unit_test(test_sync_prefetch_misc),
	    cmocka_unit_test(test_write_same),
	    cmocka_unit_test(test_unmap),
	    cmocka_unit_test(test_unmap_limits),
	    cmocka_unit_test(test_caw_orwrite),
	    cmocka_unit_test(test_read_only),
	    cmocka_unit_test(test_medium_error),
	};

	return cmocka_run_group_tests(tests, h_setup, h_teardown);
}
