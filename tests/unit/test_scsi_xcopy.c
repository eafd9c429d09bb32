/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The ietd authors */
/*
 * Copy offload (xcopy.c): EXTENDED COPY (LID1) within one LU, checked on
 * the medium, with overlap both ways; the exact sense (and field or
 * segment pointer) for every refused parameter list, in fixed and
 * descriptor format; RECEIVE COPY RESULTS (COPY STATUS, OPERATING
 * PARAMETERS) and the Third-party Copy VPD page.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "scsi_harness.h"

#define H_SK_COPY_ABORTED 0xa
#define HDR 16
#define CSCD 32
#define SEG 28

static uint8_t naa[8];

static void
lu_naa(struct scsi_lu *lu)
{
	static const uint8_t vpd83[6] = {0x12, 0x01, 0x83, 0, 255, 0};
	struct h_task *t = h_in(lu, vpd83, 255);

	h_expect_good(t);
	/* The first designator is the NAA one (spc.c). */
	assert_int_equal(t->buf[5] & 0x0f, 3);
	assert_int_equal(t->buf[7], 8);
	memcpy(naa, t->buf + 8, 8);
}

static unsigned int
put_cscd(uint8_t *d, const uint8_t *id, uint32_t bs)
{
	memset(d, 0, CSCD);
	d[0] = 0xe4;
	d[4] = 0x01;
	d[5] = 0x03;
	d[7] = 8;
	memcpy(d + 8, id, 8);
	d[29] = (uint8_t)(bs >> 16);
	d[30] = (uint8_t)(bs >> 8);
	d[31] = (uint8_t)bs;
	return CSCD;
}

static unsigned int
put_seg(uint8_t *d, uint16_t src, uint16_t dst, uint16_t n, uint64_t slba,
    uint64_t dlba)
{
	memset(d, 0, SEG);
	d[0] = 0x02;
	put_be16(d + 2, SEG - 4);
	put_be16(d + 4, src);
	put_be16(d + 6, dst);
	put_be16(d + 10, n);
	put_be64(d + 12, slba);
	put_be64(d + 20, dlba);
	return SEG;
}

static void
put_hdr(uint8_t *p, uint8_t list_id, uint8_t usage, uint16_t cscd_len,
    uint32_t seg_len)
{
	memset(p, 0, HDR);
	p[0] = list_id;
	p[1] = (uint8_t)(usage << 3);
	put_be16(p + 2, cscd_len);
	put_be32(p + 8, seg_len);
}

/* One CSCD (this LU) and one segment; returns the list length. */
static unsigned int
simple_list(uint8_t *p, uint8_t list_id, uint8_t usage, uint16_t n,
    uint64_t slba, uint64_t dlba)
{
	put_cscd(p + HDR, naa, H_BS);
	put_seg(p + HDR + CSCD, 0, 0, n, slba, dlba);
	put_hdr(p, list_id, usage, CSCD, SEG);
	return HDR + CSCD + SEG;
}

static void
xcopy_cdb(uint8_t *cdb, uint32_t plen)
{
	memset(cdb, 0, 16);
	cdb[0] = 0x83;
	put_be32(cdb + 10, plen);
}

static void
pattern(uint8_t *p, size_t n, uint8_t seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(seed + i * 13 + (i >> 9));
}

static void
write_blocks(struct scsi_lu *lu, uint32_t lba, const uint8_t *data, uint16_t n)
{
	uint8_t cdb[10] = {0x2a};

	put_be32(cdb + 2, lba);
	put_be16(cdb + 7, n);
	h_expect_good(h_out(lu, cdb, data, (uint32_t)n * H_BS));
}

static void
read_blocks(struct scsi_lu *lu, uint32_t lba, uint8_t *out, uint16_t n)
{
	uint8_t cdb[10] = {0x28};
	struct h_task *t;

	put_be32(cdb + 2, lba);
	put_be16(cdb + 7, n);
	t = h_in(lu, cdb, (uint32_t)n * H_BS);
	h_expect_good(t);
	memcpy(out, t->buf, (size_t)n * H_BS);
}

/* A copy of n blocks from slba to dlba behaves as read-all-then-write. */
static void
check_copy(struct scsi_lu *lu, uint32_t slba, uint32_t dlba, uint16_t n)
{
	static uint8_t before[64 * H_BS], want[64 * H_BS], got[64 * H_BS];
	uint8_t list[HDR + CSCD + SEG], cdb[16];
	uint32_t lo = slba < dlba ? slba : dlba;
	unsigned int len;

	pattern(before, sizeof(before), (uint8_t)(slba + dlba));
	write_blocks(lu, lo, before, 64);
	memcpy(want, before, sizeof(want));
	memmove(want + (size_t)(dlba - lo) * H_BS,
	    before + (size_t)(slba - lo) * H_BS, (size_t)n * H_BS);
	len = simple_list(list, 0, 3, n, slba, dlba);
	xcopy_cdb(cdb, len);
	h_expect_good(h_out(lu, cdb, list, len));
	read_blocks(lu, lo, got, 64);
	h_expect_bytes(got, want, sizeof(want));
}

static void
test_copy(void **state)
{
	struct scsi_lu *lu = h_lu("fileio", false);

	(void)state;
	lu_naa(lu);
	check_copy(lu, 0, 40, 16);    /* apart */
	check_copy(lu, 100, 105, 20); /* destination above, overlapping */
	check_copy(lu, 205, 200, 20); /* destination below, overlapping */
	scsi_lu_put(lu);
}

static void
test_status_and_params(void **state)
{
	struct scsi_lu *lu = h_lu("fileio", false);
	uint8_t list[HDR + CSCD + SEG], cdb[16];
	uint8_t rcr[16] = {0x84, 0x00, 5, [13] = 64};
	uint8_t vpd[6] = {0x12, 0x01, 0x8f, 0, 255, 0};
	unsigned int len, off, end;
	struct h_task *t;
	bool general = false;

	(void)state;
	lu_naa(lu);
	/* No copy of list 5 yet: INVALID FIELD IN CDB at the list id. */
	t = h_in(lu, rcr, 64);
	assert_int_equal(t->task.status, H_CHECK);
	assert_int_equal(t->task.sense[12], 0x24);
	assert_int_equal(get_be16(t->task.sense + 16), 2);
	len = simple_list(list, 5, 0, 8, 0, 8);
	xcopy_cdb(cdb, len);
	h_expect_good(h_out(lu, cdb, list, len));
	/* Held: completed, one segment, 4096 bytes; then reported once. */
	t = h_in(lu, rcr, 64);
	h_expect_good(t);
	assert_int_equal(t->task.data_in_len, 12);
	assert_int_equal(get_be32(t->buf), 8);
	assert_int_equal(t->buf[4], 0x01);
	assert_int_equal(get_be16(t->buf + 5), 1);
	assert_int_equal(t->buf[7], 0);
	assert_int_equal(get_be32(t->buf + 8), 8 * H_BS);
	t = h_in(lu, rcr, 64);
	assert_int_equal(t->task.status, H_CHECK);
	/* OPERATING PARAMETERS: the limits xcopy.c enforces. */
	rcr[1] = 0x03;
	rcr[2] = 0;
	t = h_in(lu, rcr, 64);
	h_expect_good(t);
	assert_int_equal(get_be32(t->buf), 42);
	assert_int_equal(get_be16(t->buf + 8), 32);
	assert_int_equal(get_be16(t->buf + 10), 64);
	assert_int_equal(get_be32(t->buf + 12), 4096);
	assert_int_equal(get_be32(t->buf + 16), 64u << 20);
	assert_int_equal(get_be32(t->buf + 20), 0);
	assert_int_equal(t->buf[43], 2);
	assert_int_equal(t->buf[44], 0x02);
	assert_int_equal(t->buf[45], 0xe4);
	/* RECEIVE DATA: nothing is ever held. */
	rcr[1] = 0x01;
	t = h_in(lu, rcr, 64);
	assert_int_equal(t->task.status, H_CHECK);
	/* VPD 0x8F: descriptors padded to 4 bytes, general copy ops. */
	t = h_in(lu, vpd, 255);
	h_expect_good(t);
	end = 4 + get_be16(t->buf + 2);
	assert_int_equal(t->task.data_in_len, end);
	for (off = 4; off + 4 <= end; off += 4 + get_be16(t->buf + off + 2)) {
		assert_int_equal(get_be16(t->buf + off + 2) % 4, 0);
		if (get_be16(t->buf + off) == 0x8001) {
			general = true;
			assert_int_equal(get_be32(t->buf + off + 12),
			    64u << 20);
		}
	}
	assert_int_equal(off, end);
	assert_true(general);
	scsi_lu_put(lu);
}

static void
test_refused(void **state)
{
	struct scsi_lu *lu = h_lu("fileio", false);
	static uint8_t l[40][HDR + 33 * CSCD + 65 * SEG];
	struct h_case c[40];
	unsigned int n = 0, len, i, off;

	(void)state;
	lu_naa(lu);
	memset(c, 0, sizeof(c));
#define CASE(nm, ln, ...)                            \
	do {                                         \
		c[n] = (struct h_case){.name = (nm), \
		    .data = l[n],                    \
		    .dlen = (ln),                    \
		    .len = (ln),                     \
		    .out = true,                     \
		    __VA_ARGS__};                    \
		xcopy_cdb(c[n].cdb, (ln));           \
		n++;                                 \
	} while (0)
	/* Lengths in the header past the list. */
	len = simple_list(l[n], 0, 3, 8, 0, 8);
	put_be16(l[n] + 2, 0xffe0);
	CASE("CSCD list past the parameter list", len, H_PLL_ERR);
	len = simple_list(l[n], 0, 3, 8, 0, 8);
	put_be32(l[n] + 8, 0xfffffff0u);
	CASE("segment list past the parameter list", len, H_PLL_ERR);
	len = simple_list(l[n], 0, 3, 8, 0, 8);
	CASE("list cut inside the segment", len - 1, H_PLL_ERR);
	len = simple_list(l[n], 0, 3, 8, 0, 8);
	CASE("header only", 15, H_PLL_ERR);
	/* Header fields. */
	len = simple_list(l[n], 0, 1, 8, 0, 8);
	CASE("LIST ID USAGE 01b", len, H_INV_PARAM(1, -1));
	len = simple_list(l[n], 9, 3, 8, 0, 8);
	CASE("LIST ID USAGE 11b with a list id", len, H_INV_PARAM(0, -1));
	len = simple_list(l[n], 0, 3, 8, 0, 8);
	put_be32(l[n] + 12, 1);
	memset(l[n] + len, 0, 1);
	CASE("inline data", len + 1, .status = H_CHECK, .key = H_SK_ILLEGAL,
	    .asc = 0x26, .ascq = 0x0b, .sks = true, .byte = 12, .bit = -1);
	/* Counts. */
	for (i = 0, off = HDR; i < 33; i++)
		off += put_cscd(l[n] + off, naa, H_BS);
	off += put_seg(l[n] + off, 0, 0, 8, 0, 8);
	put_hdr(l[n], 0, 3, 33 * CSCD, SEG);
	CASE("33 CSCD descriptors", off, .status = H_CHECK, .key = H_SK_ILLEGAL,
	    .asc = 0x26, .ascq = 0x06, .sks = true, .byte = 2, .bit = -1);
	off = HDR + put_cscd(l[n] + HDR, naa, H_BS);
	for (i = 0; i < 65; i++)
		off += put_seg(l[n] + off, 0, 0, 8, 0, 8);
	put_hdr(l[n], 0, 3, CSCD, 65 * SEG);
	CASE("65 segment descriptors", off, .status = H_CHECK,
	    .key = H_SK_ILLEGAL, .asc = 0x26, .ascq = 0x08, .sks = true,
	    .byte = 8, .bit = -1);
	/* Descriptors. */
	len = simple_list(l[n], 0, 3, 8, 0, 8);
	l[n][HDR] = 0xe0;
	CASE("CSCD type E0h", len, .status = H_CHECK, .key = H_SK_ILLEGAL,
	    .asc = 0x26, .ascq = 0x07, .sks = true, .byte = HDR, .bit = -1);
	len = simple_list(l[n], 0, 3, 8, 0, 8);
	l[n][HDR + CSCD] = 0x0a;
	CASE("segment type 0Ah", len, .status = H_CHECK, .key = H_SK_ILLEGAL,
	    .asc = 0x26, .ascq = 0x09, .sks = true, .byte = HDR + CSCD,
	    .bit = -1);
	len = simple_list(l[n], 0, 3, 8, 0, 8);
	l[n][HDR + 1] = 0x01;
	CASE("CSCD of a tape", len, H_INV_PARAM(HDR + 1, -1));
	len = simple_list(l[n], 0, 3, 8, 0, 8);
	l[n][HDR + 31] = 0x00;
	l[n][HDR + 30] = 0x10;
	CASE("CSCD block length 4096", len, H_INV_PARAM(HDR + 29, -1));
	len = simple_list(l[n], 0, 3, 8, 0, 8);
	l[n][HDR + 8] ^= 0x01;
	CASE("CSCD of an unknown NAA", len, .status = H_CHECK,
	    .key = H_SK_COPY_ABORTED, .asc = 0x08, .ascq = 0x04, .sks = true,
	    .byte = HDR + 8, .bit = -1);
	len = simple_list(l[n], 0, 3, 8, 0, 8);
	l[n][HDR + 5] = 0x01;
	CASE("CSCD naming a T10 id", len, .status = H_CHECK,
	    .key = H_SK_COPY_ABORTED, .asc = 0x08, .ascq = 0x04, .sks = true,
	    .byte = HDR + 4, .bit = -1);
	len = simple_list(l[n], 0, 3, 8, 0, 8);
	put_be16(l[n] + HDR + CSCD + 6, 1);
	CASE("destination index 1 of 1", len, .status = H_CHECK,
	    .key = H_SK_COPY_ABORTED, .asc = 0x0d, .ascq = 0x02, .sks = true,
	    .byte = HDR + CSCD + 6, .bit = -1);
	len = simple_list(l[n], 0, 3, 8, H_BLOCKS - 4, 0);
	CASE("source past the end", len, .status = H_CHECK,
	    .key = H_SK_COPY_ABORTED, .sks = true, .byte = HDR + CSCD + 12,
	    .bit = -1);
	len = simple_list(l[n], 0, 3, 8, 0, UINT64_MAX - 2);
	CASE("destination LBA wrapping", len, .status = H_CHECK,
	    .key = H_SK_COPY_ABORTED, .sks = true, .byte = HDR + CSCD + 20,
	    .bit = -1);
	len = simple_list(l[n], 0, 3, 8, 0, 8);
	put_be16(l[n] + HDR + CSCD + 2, 0x1c);
	CASE("segment descriptor length past the list", len, H_PLL_ERR);
	len = simple_list(l[n], 0, 3, 8, 0, 8);
	put_be16(l[n] + HDR + CSCD + 2, 0x1c);
	put_be32(l[n] + 8, SEG + 4);
	memset(l[n] + len, 0, 4);
	CASE("segment descriptor length 1Ch", len + 4,
	    H_INV_PARAM(HDR + CSCD + 2, -1));
	len = simple_list(l[n], 0, 3, 8, 0, 8);
	CASE("Data-Out shorter than the list", len - 8, .status = H_CHECK,
	    .key = H_SK_ILLEGAL, .asc = 0x0e, .ascq = 0x03);
	put_be32(c[n - 1].cdb + 10, len); /* the CDB claims all of it */
	c[n].cdb[0] = 0x83;
	c[n].cdb[1] = 0x01;
	c[n].name = "EXTENDED COPY(LID4)";
	c[n].status = H_CHECK;
	c[n].key = H_SK_ILLEGAL;
	c[n].asc = 0x24;
	c[n].sks = true;
	c[n].byte = 1;
	c[n].bit = 4;
	n++;
#undef CASE
	h_cases(lu, c, n);
	scsi_lu_put(lu);
}

/* A read-only LU cannot be a destination; a reservation holds too. */
static void
test_protect_and_conflict(void **state)
{
	struct scsi_lu *ro = h_lu("fileio", true);
	struct scsi_lu *lu;
	uint8_t list[HDR + CSCD + SEG], cdb[16];
	uint8_t reserve[6] = {0x16}, release[6] = {0x17};
	unsigned int len;
	struct h_task *t;

	(void)state;
	lu_naa(ro);
	len = simple_list(list, 0, 3, 8, 0, 8);
	xcopy_cdb(cdb, len);
	t = h_out(ro, cdb, list, len);
	assert_int_equal(t->task.status, H_CHECK);
	assert_int_equal(t->task.sense[2], H_SK_PROTECT);
	assert_int_equal(t->task.sense[12], 0x27);
	scsi_lu_put(ro);
	lu = h_lu("fileio", false);
	lu_naa(lu);
	t = h_exec(lu, reserve, NULL, 0, 0, false, &h_nx2);
	h_expect_good(t);
	t = h_out(lu, cdb, list, len);
	assert_int_equal(t->task.status, H_CONFLICT);
	t = h_exec(lu, release, NULL, 0, 0, false, &h_nx2);
	h_expect_good(t);
	h_expect_good(h_out(lu, cdb, list, len));
	scsi_lu_put(lu);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_copy),
	    cmocka_unit_test(test_status_and_params),
	    cmocka_unit_test(test_refused),
	    cmocka_unit_test(test_protect_and_conflict),
	};

	return cmocka_run_group_tests(tests, h_setup, h_teardown);
}
