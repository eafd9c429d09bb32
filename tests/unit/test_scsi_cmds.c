/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The ietd authors */
/*
 * SCSI layer tests: each CDB decoded against a small file-backed or nullio
 * LU through a real completion queue, checking exact status, sense (key,
 * ASC, ASCQ, field pointer) and returned data.
 */
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "backend/backend.h"
#include "scsi/scsi.h"
#include "util/alloc.h"
#include "util/be.h"
#include "util/objcache.h"

#define T_BLOCKS 2048
#define T_BS 512
#define T_BUF (64 * 1024)

static char t_path[256];
static struct scsi_queue *t_cq;
static struct scsi_nexus t_nx1, t_nx2;
static const uint64_t t_luns[] = {0, 1, 300};

struct t_task {
	struct scsi_task task;
	uint8_t buf[T_BUF];
	int ndone;
};

static void
t_done(struct scsi_task *task)
{
	struct t_task *t = task->priv;

	t->ndone++;
}

static void
t_wait(struct t_task *t)
{
	struct pollfd pfd;

	while (t->ndone == 0) {
		pfd.fd = scsi_queue_fd(t_cq);
		pfd.events = POLLIN;
		assert_int_equal(poll(&pfd, 1, 5000), 1);
		scsi_queue_drain(t_cq);
	}
	assert_int_equal(t->ndone, 1);
}

static void
t_prep(struct t_task *t, const uint8_t *cdb, unsigned int cdb_len,
    uint32_t data_len, bool out, struct scsi_nexus *nx)
{
	memset(&t->task, 0, sizeof(t->task));
	memcpy(t->task.cdb, cdb, cdb_len);
	t->task.cdb_len = cdb_len;
	t->task.attr = SCSI_ATTR_SIMPLE;
	t->task.nexus = nx;
	t->task.queue = t_cq;
	t->task.data = t->buf;
	t->task.data_len = data_len;
	t->task.data_out = out;
	t->task.data_in = !out && data_len > 0;
	t->task.done = t_done;
	t->task.priv = t;
	t->ndone = 0;
}

/* Run one command to completion. */
static struct t_task *
t_run(struct scsi_lu *lu, const uint8_t *cdb, unsigned int cdb_len,
    uint32_t data_len, bool out, struct scsi_nexus *nx)
{
	static struct t_task t;

	if (!out)
		memset(t.buf, 0xcc, sizeof(t.buf));
	t_prep(&t, cdb, cdb_len, data_len, out, nx);
	scsi_task_exec(lu, &t.task, t_luns, 3);
	t_wait(&t);
	return &t;
}

/* Run one Data-Out command with the data already in t->buf. */
static struct t_task *
t_run_out_buf(struct t_task *t, struct scsi_lu *lu, const uint8_t *cdb,
    unsigned int cdb_len, uint32_t data_len)
{
	t_prep(t, cdb, cdb_len, data_len, true, &t_nx1);
	scsi_task_exec(lu, &t->task, t_luns, 3);
	t_wait(t);
	return t;
}

static void
t_expect_sense(const struct t_task *t, uint8_t key, uint8_t asc, uint8_t ascq)
{
	assert_int_equal(t->task.status, SCSI_STATUS_CHECK_CONDITION);
	if ((t->task.sense[0] & 0x7f) == 0x72) {
		assert_int_equal(t->task.sense_len, 8u + t->task.sense[7]);
		assert_int_equal(t->task.sense[1], key);
		assert_int_equal(t->task.sense[2], asc);
		assert_int_equal(t->task.sense[3], ascq);
		return;
	}
	assert_int_equal(t->task.sense[0] & 0x7f, 0x70);
	assert_int_equal(t->task.sense_len, 18);
	assert_int_equal(t->task.sense[2] & 0x0f, key);
	assert_int_equal(t->task.sense[12], asc);
	assert_int_equal(t->task.sense[13], ascq);
}

/* INVALID FIELD IN CDB with the field pointer at byte. */
static void
t_expect_invalid_cdb(const struct t_task *t, unsigned int byte)
{
	t_expect_sense(t, 0x05, 0x24, 0x00);
	assert_int_equal(t->task.sense[15] & 0xc0, 0xc0); /* SKSV, C/D */
	assert_int_equal(get_be16(t->task.sense + 16), byte);
}

static struct scsi_lu *
t_lu_new(const char *type, bool ro, bool wce, uint64_t lun)
{
	struct scsi_lu_params p = {
	    .lun = lun,
	    .store = type,
	    .path = t_path,
	    .store_bytes = (uint64_t)T_BLOCKS * T_BS,
	    .write_through = !wce,
	    .block_size = T_BS,
	    .target_name = "iqn.2026-01.org.example:disk",
	    .tid = 1,
	    .read_only = ro,
	    .write_cache = wce,
	};
	struct scsi_lu *lu = NULL;
	char why[256];

	assert_int_equal(scsi_lu_new(&p, &lu, why, sizeof(why)), 0);
	return lu;
}

static const uint8_t cdb_tur[6] = {0x00};

/* Consume the power-on UA of nx on lu. */
static void
t_clear_ua(struct scsi_lu *lu, struct scsi_nexus *nx)
{
	struct t_task *t = t_run(lu, cdb_tur, 6, 0, false, nx);

	t_expect_sense(t, 0x06, 0x29, 0x00);
	t = t_run(lu, cdb_tur, 6, 0, false, nx);
	assert_int_equal(t->task.status, SCSI_STATUS_GOOD);
}

static int
t_setup(void **state)
{
	int fd;

	(void)state;
	snprintf(t_path, sizeof(t_path), "build/test_scsi.%d.img",
	    (int)getpid());
	fd = open(t_path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || ftruncate(fd, (off_t)T_BLOCKS * T_BS) < 0)
		return -1;
	close(fd);
	t_cq = scsi_queue_new(false);
	t_nx1.id = scsi_nexus_id_new();
	snprintf(t_nx1.initiator_port, sizeof(t_nx1.initiator_port),
	    "iqn.i1,i,0x1");
	snprintf(t_nx1.target_port, sizeof(t_nx1.target_port),
	    "iqn.2026-01.org.example:disk,t,0x0001");
	t_nx1.rel_port_id = 1;
	t_nx2 = t_nx1;
	t_nx2.id = scsi_nexus_id_new();
	scsi_nexus_register(&t_nx1);
	scsi_nexus_register(&t_nx2);
	return t_cq == NULL ? -1 : 0;
}

static int
t_teardown(void **state)
{
	(void)state;
	scsi_nexus_unregister(&t_nx1);
	scsi_nexus_unregister(&t_nx2);
	scsi_queue_free(t_cq);
	backend_workers_stop();
	unlink(t_path);
	return 0;
}

static void
test_unit_attention(void **state)
{
	struct scsi_lu *lu = t_lu_new("nullio", false, false, 0);
	uint8_t inq[6] = {0x12, 0, 0, 0, 36, 0};
	uint8_t rs[6] = {0x03, 0, 0, 0, 18, 0};
	struct t_task *t;

	(void)state;
	/* INQUIRY and REPORT LUNS do not see nor clear the UA. */
	t = t_run(lu, inq, 6, 36, false, &t_nx1);
	assert_int_equal(t->task.status, SCSI_STATUS_GOOD);
	t = t_run(lu, cdb_tur, 6, 0, false, &t_nx1);
	t_expect_sense(t, 0x06, 0x29, 0x00);
	t = t_run(lu, cdb_tur, 6, 0, false, &t_nx1);
	assert_int_equal(t->task.status, SCSI_STATUS_GOOD);
	/* The other nexus has its own; REQUEST SENSE reports and clears. */
	t = t_run(lu, rs, 6, 18, false, &t_nx2);
	assert_int_equal(t->task.status, SCSI_STATUS_GOOD);
	assert_int_equal(t->task.data_in_len, 18);
	assert_int_equal(t->buf[0], 0x70);
	assert_int_equal(t->buf[2], 0x06);
	assert_int_equal(t->buf[12], 0x29);
	t = t_run(lu, cdb_tur, 6, 0, false, &t_nx2);
	assert_int_equal(t->task.status, SCSI_STATUS_GOOD);
	t = t_run(lu, rs, 6, 18, false, &t_nx2);
	assert_int_equal(t->buf[2], 0x00);
	assert_int_equal(t->buf[12], 0x00);
	/* LU reset by nexus 1: every nexus sees 29/03. */
	scsi_lu_reset(lu, &t_nx1);
	t = t_run(lu, cdb_tur, 6, 0, false, &t_nx1);
	t_expect_sense(t, 0x06, 0x29, 0x03);
	t = t_run(lu, cdb_tur, 6, 0, false, &t_nx2);
	t_expect_sense(t, 0x06, 0x29, 0x03);
	scsi_lu_ua_luns_changed(lu);
	t = t_run(lu, cdb_tur, 6, 0, false, &t_nx1);
	t_expect_sense(t, 0x06, 0x3f, 0x0e);
	scsi_lu_put(lu);
}

static void
test_inquiry(void **state)
{
	struct scsi_lu *lu = t_lu_new("nullio", false, false, 0);
	uint8_t cdb[6] = {0x12, 0, 0, 0, 255, 0};
	struct t_task *t;

	(void)state;
	t = t_run(lu, cdb, 6, 255, false, &t_nx1);
	assert_int_equal(t->task.status, SCSI_STATUS_GOOD);
	/* Fewer bytes than allocated: the command describes 74. */
	assert_int_equal(t->task.xfer_len, 74);
	assert_int_equal(t->task.data_in_len, t->buf[4] + 5);
	assert_int_equal(t->buf[0], 0x00);
	assert_int_equal(t->buf[2], 0x06);
	assert_memory_equal(t->buf + 8, "IET     ", 8);
	assert_memory_equal(t->buf + 16, "VIRTUAL-DISK    ", 16);
	assert_int_equal(get_be16(t->buf + 58), 0x00a0);
	/* Allocation length honoured. */
	cdb[4] = 5;
	t = t_run(lu, cdb, 6, 255, false, &t_nx1);
	assert_int_equal(t->task.data_in_len, 5);
	/* Page code without EVPD. */
	cdb[2] = 0x80;
	cdb[4] = 255;
	t = t_run(lu, cdb, 6, 255, false, &t_nx1);
	t_expect_invalid_cdb(t, 2);
	/* VPD 0x00. */
	cdb[1] = 1;
	cdb[2] = 0x00;
	t = t_run(lu, cdb, 6, 255, false, &t_nx1);
	assert_int_equal(t->task.status, SCSI_STATUS_GOOD);
	assert_int_equal(t->buf[1], 0x00);
	assert_int_equal(get_be16(t->buf + 2), 7);
	assert_int_equal(t->buf[5], 0x80);
	assert_int_equal(t->buf[7], 0x8f);
	assert_int_equal(t->buf[10], 0xb2);
	/* VPD 0x80: 16 hex digits, stable. */
	cdb[2] = 0x80;
	t = t_run(lu, cdb, 6, 255, false, &t_nx1);
	assert_int_equal(get_be16(t->buf + 2), 16);
	{
		char sn[17];
		struct scsi_lu *lu2 = t_lu_new("nullio", false, false, 0);
		struct scsi_lu *lu3 = t_lu_new("nullio", false, false, 1);

		memcpy(sn, t->buf + 4, 16);
		sn[16] = 0;
		t = t_run(lu2, cdb, 6, 255, false, &t_nx1);
		assert_memory_equal(t->buf + 4, sn, 16);
		t = t_run(lu3, cdb, 6, 255, false, &t_nx1);
		assert_memory_not_equal(t->buf + 4, sn, 16);
		scsi_lu_put(lu2);
		scsi_lu_put(lu3);
	}
	/* VPD 0x83: first designator NAA, locally assigned. */
	cdb[2] = 0x83;
	t = t_run(lu, cdb, 6, 255, false, &t_nx1);
	assert_int_equal(t->task.status, SCSI_STATUS_GOOD);
	assert_int_equal(t->buf[4], 0x01);
	assert_int_equal(t->buf[5] & 0x0f, 0x03);
	assert_int_equal(t->buf[7], 8);
	assert_int_equal(t->buf[8] >> 4, 0x3);
	assert_int_equal(t->buf[16 + 1] & 0x0f, 0x01); /* T10 vendor id */
	assert_memory_equal(t->buf + 20, "IET     ", 8);
	/* VPD 0xb0, 0xb2. */
	cdb[2] = 0xb0;
	t = t_run(lu, cdb, 6, 255, false, &t_nx1);
	assert_int_equal(get_be16(t->buf + 2), 0x3c);
	/* WSNZ clear; OPTIMAL TRANSFER LENGTH 1 MiB; MAXIMUM 16 MiB. */
	assert_int_equal(t->buf[4] & 1, 0);
	assert_int_equal(get_be32(t->buf + 8), 16 * 1024 * 1024 / T_BS);
	assert_int_equal(get_be32(t->buf + 12), 1024 * 1024 / T_BS);
	assert_int_equal(get_be64(t->buf + 36), 16 * 1024 * 1024 / T_BS);
	cdb[2] = 0xb2;
	t = t_run(lu, cdb, 6, 255, false, &t_nx1);
	assert_int_equal(get_be16(t->buf + 2), 4);
	assert_int_equal(t->buf[5] & 0xe4, 0xe4);
	cdb[2] = 0x42;
	t = t_run(lu, cdb, 6, 255, false, &t_nx1);
	t_expect_invalid_cdb(t, 2);
	scsi_lu_put(lu);
}

static void
test_no_lu(void **state)
{
	uint8_t inq[6] = {0x12, 0, 0, 0, 36, 0};
	uint8_t rl[12] = {0xa0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0};
	struct t_task *t;

	(void)state;
	t = t_run(NULL, inq, 6, 36, false, &t_nx1);
	assert_int_equal(t->task.status, SCSI_STATUS_GOOD);
	assert_int_equal(t->buf[0], 0x7f);
	t = t_run(NULL, cdb_tur, 6, 0, false, &t_nx1);
	t_expect_sense(t, 0x05, 0x25, 0x00);
	t = t_run(NULL, rl, 12, 256, false, &t_nx1);
	assert_int_equal(t->task.status, SCSI_STATUS_GOOD);
	assert_int_equal(get_be32(t->buf), 24);
	assert_int_equal(t->task.data_in_len, 32);
	assert_int_equal(t->buf[8 + 1], 0);
	assert_int_equal(t->buf[16 + 1], 1);
	/* 300 in flat space addressing. */
	assert_int_equal(t->buf[24], 0x41);
	assert_int_equal(t->buf[25], 300 & 0xff);
	rl[9] = 0;
	rl[8] = 0;
	rl[6] = 0;
	rl[9] = 8;
	t = t_run(NULL, rl, 12, 256, false, &t_nx1);
	t_expect_invalid_cdb(t, 6);
}

static void
test_capacity(void **state)
{
	struct scsi_lu *lu = t_lu_new("fileio", false, false, 0);
	uint8_t rc10[10] = {0x25};
	uint8_t rc16[16] = {0x9e, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 32};
	struct t_task *t;

	(void)state;
	t_clear_ua(lu, &t_nx1);
	t = t_run(lu, rc10, 10, 8, false, &t_nx1);
	assert_int_equal(t->task.status, SCSI_STATUS_GOOD);
	assert_int_equal(get_be32(t->buf), T_BLOCKS - 1);
	assert_int_equal(get_be32(t->buf + 4), T_BS);
	t = t_run(lu, rc16, 16, 32, false, &t_nx1);
	assert_int_equal(t->task.status, SCSI_STATUS_GOOD);
	assert_int_equal(t->task.data_in_len, 32);
	assert_int_equal(get_be64(t->buf), T_BLOCKS - 1);
	assert_int_equal(t->buf[14] & 0xc0, 0xc0); /* LBPME, LBPRZ */
	assert_int_equal(scsi_lu_blocks(lu), T_BLOCKS);
	assert_string_equal(scsi_lu_iotype(lu), "fileio");
	assert_string_equal(scsi_lu_iomode(lu), "wt");
	scsi_lu_put(lu);
}

/*
 * PhysicalBlockSize (512e): READ CAPACITY (16) byte 13 holds the
 * LOGICAL BLOCKS PER PHYSICAL BLOCK EXPONENT with LOWEST ALIGNED LBA 0,
 * and VPD 0xB0's OPTIMAL TRANSFER LENGTH GRANULARITY is one physical
 * block; unset it is the logical block (exponent 0, granularity 1).
 */
static void
test_physical_block_size(void **state)
{
	static const struct {
		unsigned int bs, pbs;
		int ok;
		unsigned int exp;
	} cases[] = {
	    {512, 0, 1, 0}, {512, 512, 1, 0}, {512, 4096, 1, 3},
	    {4096, 65536, 1, 4}, {512, 32768, 1, 6},
	    {512, 65536, 0, 0},  /* 128 logical blocks per physical */
	    {4096, 2048, 0, 0},  /* smaller than BlockSize */
	    {512, 1536, 0, 0},   /* not a power of two */
	    {4096, 131072, 0, 0} /* above 65536 */
	};
	uint8_t rc16[16] = {0x9e, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 32};
	uint8_t inq[6] = {0x12, 0x01, 0xb0, 0, 255, 0};
	unsigned int i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct scsi_lu_params p = {
		    .store = "nullio",
		    .store_bytes = 1024 * 1024,
		    .block_size = cases[i].bs,
		    .phys_block_size = cases[i].pbs,
		    .target_name = "iqn.2026-01.org.example:pbs",
		};
		struct scsi_lu *lu = NULL;
		struct t_task *t;
		char why[128];
		int rc = scsi_lu_new(&p, &lu, why, sizeof(why));

		if (!cases[i].ok) {
			assert_int_equal(rc, -EINVAL);
			assert_non_null(strstr(why, "physical block size"));
			continue;
		}
		assert_int_equal(rc, 0);
		t_clear_ua(lu, &t_nx1);
		t = t_run(lu, rc16, 16, 32, false, &t_nx1);
		assert_int_equal(t->task.status, SCSI_STATUS_GOOD);
		assert_int_equal(get_be32(t->buf + 8), cases[i].bs);
		assert_int_equal(t->buf[13], cases[i].exp);
		assert_int_equal(t->buf[14] & 0x3f, 0); /* LOWEST ALIGNED */
		assert_int_equal(t->buf[15], 0);
		t = t_run(lu, inq, 6, 255, false, &t_nx1);
		assert_int_equal(t->task.status, SCSI_STATUS_GOOD);
		assert_int_equal(get_be16(t->buf + 6), 1u << cases[i].exp);
		scsi_lu_put(lu);
	}
}

/*
 * A Data-Out CDB whose task the transport did not mark data_out (the
 * iSCSI W bit was clear): the buffer holds another command's bytes, here
 * a stale pattern laid out as a valid parameter list for each command.
 * None of them may reach the medium, the mode pages, the registrations
 * or a comparison; each says its xfer_len counts Data-Out.
 */
static void
test_data_out_without_w(void **state)
{
	struct scsi_lu *lu = t_lu_new("fileio", false, true, 0);
	uint8_t w10[10] = {0x2a, 0, 0, 0, 0, 0, 0, 0, 2, 0};
	uint8_t wv10[10] = {0x2e, 0, 0, 0, 0, 0, 0, 0, 2, 0};
	uint8_t ws10[10] = {0x41, 0, 0, 0, 0, 0, 0, 0, 2, 0};
	uint8_t caw[16] = {0x89, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
	uint8_t orw[16] = {0x8b, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2};
	uint8_t vfy[10] = {0x2f, 0x02, 0, 0, 0, 0, 0, 0, 2, 0};
	uint8_t unmap[10] = {0x42, 0, 0, 0, 0, 0, 0, 0, 24, 0};
	uint8_t wa16[16] = {0x9c, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2};
	uint8_t sanitize[10] = {0x48, 0x01, 0, 0, 0, 0, 0, 0, 8, 0};
	uint8_t msel[6] = {0x15, 0x10, 0, 0, 24, 0};
	uint8_t msense[6] = {0x1a, 0x08, 0x08, 0, 64, 0};
	uint8_t prout[10] = {0x5f, 0x00, 0, 0, 0, 0, 0, 0, 24, 0};
	uint8_t keys[10] = {0x5e, 0x00, 0, 0, 0, 0, 0, 1, 0, 0};
	uint8_t r10[10] = {0x28, 0, 0, 0, 0, 0, 0, 0, 2, 0};
	static struct t_task wt;
	const uint8_t *cdbs[] = {w10, wv10, ws10, caw, orw, unmap, wa16,
	    sanitize};
	const unsigned int lens[] = {10, 10, 10, 16, 16, 10, 16, 10};
	uint8_t medium[2 * T_BS];
	struct t_task *t;
	unsigned int i;

	(void)state;
	t_clear_ua(lu, &t_nx1);
	memset(wt.buf, 0xa1, 2 * T_BS);
	t_run_out_buf(&wt, lu, w10, 10, 2 * T_BS);
	assert_int_equal(wt.task.status, SCSI_STATUS_GOOD);
	memset(medium, 0xa1, sizeof(medium));

	for (i = 0; i < sizeof(cdbs) / sizeof(cdbs[0]); i++) {
		/* Stale bytes: the medium's own bytes for the compare half of
		 * COMPARE AND WRITE, then a pattern; an UNMAP list of LBA 0. */
		memset(wt.buf, 0xa1, T_BS);
		memset(wt.buf + T_BS, 0x5a, sizeof(wt.buf) - T_BS);
		if (cdbs[i] == unmap) {
			memset(wt.buf, 0, 24);
			put_be16(wt.buf, 22);
			put_be16(wt.buf + 2, 16);
			put_be32(wt.buf + 16, 2);
		}
		t_prep(&wt, cdbs[i], lens[i], 2 * T_BS, false, &t_nx1);
		scsi_task_exec(lu, &wt.task, t_luns, 3);
		t_wait(&wt);
		assert_true(wt.task.xfer_out);
		assert_true(wt.task.xfer_len > 0);
		assert_int_equal(wt.task.data_in_len, 0);
		t = t_run(lu, r10, 10, 2 * T_BS, false, &t_nx1);
		assert_int_equal(t->task.status, SCSI_STATUS_GOOD);
		assert_memory_equal(t->buf, medium, sizeof(medium));
	}

	/* VERIFY with BYTCHK: no comparison against stale bytes. */
	memset(wt.buf, 0xa1, sizeof(wt.buf));
	t_prep(&wt, vfy, 10, 2 * T_BS, false, &t_nx1);
	scsi_task_exec(lu, &wt.task, t_luns, 3);
	t_wait(&wt);
	assert_true(wt.task.xfer_out);
	t_expect_sense(&wt, 0x05, 0x0e, 0x03);

	/* MODE SELECT: a stale Caching page turning WCE off is not applied. */
	memset(wt.buf, 0, 24);
	wt.buf[4] = 0x08;
	wt.buf[5] = 0x12;
	t_prep(&wt, msel, 6, 24, false, &t_nx1);
	scsi_task_exec(lu, &wt.task, t_luns, 3);
	t_wait(&wt);
	assert_true(wt.task.xfer_out);
	t_expect_sense(&wt, 0x05, 0x0e, 0x03);
	t = t_run(lu, msense, 6, 64, false, &t_nx1);
	assert_int_equal(t->task.status, SCSI_STATUS_GOOD);
	assert_int_equal(t->buf[4], 0x08);
	assert_int_equal(t->buf[6] & 0x04, 0x04); /* WCE still on */

	/* PERSISTENT RESERVE OUT REGISTER from a stale list: no key. */
	memset(wt.buf, 0, 24);
	put_be64(wt.buf + 8, 0x5a5a);
	t_prep(&wt, prout, 10, 24, false, &t_nx1);
	scsi_task_exec(lu, &wt.task, t_luns, 3);
	t_wait(&wt);
	assert_true(wt.task.xfer_out);
	t_expect_sense(&wt, 0x05, 0x0e, 0x03);
	t = t_run(lu, keys, 10, 256, false, &t_nx1);
	assert_int_equal(t->task.status, SCSI_STATUS_GOOD);
	assert_int_equal(get_be32(t->buf + 4), 0); /* no registration */

	/* The same WRITE with W set does write: the check is not blind. */
	memset(wt.buf, 0x5a, 2 * T_BS);
	t_run_out_buf(&wt, lu, w10, 10, 2 * T_BS);
	assert_int_equal(wt.task.status, SCSI_STATUS_GOOD);
	t = t_run(lu, r10, 10, 2 * T_BS, false, &t_nx1);
	assert_int_equal(t->buf[0], 0x5a);
	scsi_lu_put(lu);
}

static void
test_read_write(void **state)
{
	struct scsi_lu *lu = t_lu_new("fileio", false, false, 0);
	uint8_t w10[10] = {0x2a, 0, 0, 0, 0, 10, 0, 0, 4, 0};
	uint8_t r10[10] = {0x28, 0, 0, 0, 0, 10, 0, 0, 4, 0};
	uint8_t r6[6] = {0x08, 0, 0, 0, 0, 0};
	uint8_t w16[16] = {0x8a, 0x08};
	uint8_t pattern[4 * T_BS];
	struct t_task *t;
	unsigned int i;

	(void)state;
	t_clear_ua(lu, &t_nx1);
	for (i = 0; i < sizeof(pattern); i++)
		pattern[i] = (uint8_t)(i * 13 + 1);
	/*
	 * Less data than the CDB names: no data at all writes nothing and
	 * is GOOD (the transport reports the overflow); a partial block is
	 * refused.
	 */
	t = t_run(lu, w10, 10, 0, true, &t_nx1);
	assert_int_equal(t->task.status, SCSI_STATUS_GOOD);
	assert_int_equal(t->task.xfer_len, 4 * T_BS);
	t = t_run(lu, w10, 10, 200, true, &t_nx1);
	t_expect_sense(t, 0x05, 0x0e, 0x03);
	assert_int_equal(t->task.xfer_len, 4 * T_BS);
	{
		static struct t_task wt;

		memcpy(wt.buf, pattern, sizeof(pattern));
		t_prep(&wt, w10, 10, sizeof(pattern), true, &t_nx1);
		scsi_task_exec(lu, &wt.task, t_luns, 3);
		t_wait(&wt);
		assert_int_equal(wt.task.status, SCSI_STATUS_GOOD);
		assert_int_equal(wt.task.xfer_len, 4 * T_BS);
	}
	t = t_run(lu, r10, 10, 4 * T_BS, false, &t_nx1);
	assert_int_equal(t->task.status, SCSI_STATUS_GOOD);
	assert_int_equal(t->task.data_in_len, 4 * T_BS);
	assert_memory_equal(t->buf, pattern, sizeof(pattern));
	/* Short buffer: filled only as far as it goes. */
	t = t_run(lu, r10, 10, 100, false, &t_nx1);
	assert_int_equal(t->task.data_in_len, 100);
	assert_int_equal(t->task.xfer_len, 4 * T_BS);
	assert_memory_equal(t->buf, pattern, 100);
	assert_int_equal(t->buf[100], 0xcc);
	/* Transfer length 0 is nothing for READ 10. */
	r10[8] = 0;
	t = t_run(lu, r10, 10, 4 * T_BS, false, &t_nx1);
	assert_int_equal(t->task.status, SCSI_STATUS_GOOD);
	assert_int_equal(t->task.data_in_len, 0);
	/* ... and 256 blocks for READ 6. */
	t = t_run(lu, r6, 6, T_BUF, false, &t_nx1);
	assert_int_equal(t->task.status, SCSI_STATUS_GOOD);
	assert_int_equal(t->task.xfer_len, 256 * T_BS);
	/* Past the end. */
	put_be32(r10 + 2, T_BLOCKS - 1);
	r10[8] = 2;
	t = t_run(lu, r10, 10, 4 * T_BS, false, &t_nx1);
	t_expect_sense(t, 0x05, 0x21, 0x00);
	put_be32(r10 + 2, T_BLOCKS + 1);
	r10[8] = 0;
	t = t_run(lu, r10, 10, 0, false, &t_nx1);
	t_expect_sense(t, 0x05, 0x21, 0x00);
	/* RDPROTECT set. */
	r10[1] = 0x20;
	put_be32(r10 + 2, 0);
	t = t_run(lu, r10, 10, 0, false, &t_nx1);
	t_expect_invalid_cdb(t, 1);
	/* WRITE 16 with FUA, one block at the last LBA. */
	put_be64(w16 + 2, T_BLOCKS - 1);
	put_be32(w16 + 10, 1);
	{
		static struct t_task wt;

		memset(wt.buf, 0x5a, T_BS);
		t_prep(&wt, w16, 16, T_BS, true, &t_nx1);
		scsi_task_exec(lu, &wt.task, t_luns, 3);
		t_wait(&wt);
		assert_int_equal(wt.task.status, SCSI_STATUS_GOOD);
	}
	scsi_lu_put(lu);
}

static void
test_ordering(void **state)
{
	struct scsi_lu *lu = t_lu_new("fileio", false, false, 0);
	uint8_t w10[10] = {0x2a, 0, 0, 0, 0, 20, 0, 0, 8, 0};
	uint8_t r10[10] = {0x28, 0, 0, 0, 0, 20, 0, 0, 8, 0};
	static struct t_task ts[16];
	struct pollfd pfd;
	struct t_task *t;
	int i, left;

	(void)state;
	t_clear_ua(lu, &t_nx1);
	/* Sixteen writes to one range: the last one must win. */
	for (i = 0; i < 16; i++) {
		memset(ts[i].buf, i + 1, 8 * T_BS);
		t_prep(&ts[i], w10, 10, 8 * T_BS, true, &t_nx1);
		ts[i].task.attr = i == 7 ? SCSI_ATTR_ORDERED : SCSI_ATTR_SIMPLE;
		scsi_task_exec(lu, &ts[i].task, t_luns, 3);
	}
	for (;;) {
		left = 0;
		for (i = 0; i < 16; i++)
			left += ts[i].ndone == 0;
		if (left == 0)
			break;
		pfd.fd = scsi_queue_fd(t_cq);
		pfd.events = POLLIN;
		assert_int_equal(poll(&pfd, 1, 5000), 1);
		scsi_queue_drain(t_cq);
	}
	for (i = 0; i < 16; i++) {
		assert_int_equal(ts[i].ndone, 1);
		assert_int_equal(ts[i].task.status, SCSI_STATUS_GOOD);
	}
	t = t_run(lu, r10, 10, 8 * T_BS, false, &t_nx1);
	assert_int_equal(t->buf[0], 16);
	assert_int_equal(t->buf[8 * T_BS - 1], 16);
	scsi_lu_put(lu);
}

static void
test_abort_waiting(void **state)
{
	struct scsi_lu *lu = t_lu_new("fileio", false, false, 0);
	uint8_t w10[10] = {0x2a, 0, 0, 0, 0, 40, 0, 0, 1, 0};
	uint8_t r10[10] = {0x28, 0, 0, 0, 0, 40, 0, 0, 1, 0};
	static struct t_task a, b;
	struct t_task *t;

	(void)state;
	t_clear_ua(lu, &t_nx1);
	memset(a.buf, 0x11, T_BS);
	memset(b.buf, 0x22, T_BS);
	t_prep(&a, w10, 10, T_BS, true, &t_nx1);
	t_prep(&b, w10, 10, T_BS, true, &t_nx1);
	scsi_task_exec(lu, &a.task, t_luns, 3);
	scsi_task_exec(lu, &b.task, t_luns, 3);
	/* b overlaps a, so it waits; aborting it keeps it off the disk. */
	scsi_task_abort(&b.task);
	t_wait(&a);
	t_wait(&b);
	assert_true(b.task.aborted);
	t = t_run(lu, r10, 10, T_BS, false, &t_nx1);
	assert_int_equal(t->buf[0], 0x11);
	scsi_lu_put(lu);
}

/* Drain the queue for ms milliseconds (or until nothing comes). */
static void
t_drain_for(int ms)
{
	struct pollfd pfd = {.fd = scsi_queue_fd(t_cq), .events = POLLIN};

	while (poll(&pfd, 1, ms) == 1)
		scsi_queue_drain(t_cq);
}

static void
t_others_gone(void *arg)
{
	(*(int *)arg)++;
}

/* Drain the queue until *gone is set. */
static void
t_wait_gone(const int *gone)
{
	struct pollfd pfd = {.fd = scsi_queue_fd(t_cq), .events = POLLIN};

	while (*gone == 0) {
		assert_int_equal(poll(&pfd, 1, 5000), 1);
		scsi_queue_drain(t_cq);
	}
	assert_int_equal(*gone, 1);
}

/*
 * A reset from nexus 2 aborts nexus 1's tasks (scsi_lu_abort_others): the
 * running one finishes its write, the waiting one never starts, both end
 * with TASK ABORTED, and the reset hears of it once both are gone, never
 * inside the call. Nexus 2's own task is not touched, and nexus 1's next
 * command runs as usual.
 */
static void
test_abort_others(void **state)
{
	/* Write-through: the first WRITE stays in flight until drained. */
	struct scsi_lu *lu = t_lu_new("fileio", false, false, 0);
	uint8_t w48[10] = {0x2a, 0, 0, 0, 0, 48, 0, 0, 1, 0};
	uint8_t w56[10] = {0x2a, 0, 0, 0, 0, 56, 0, 0, 1, 0};
	uint8_t r48[10] = {0x28, 0, 0, 0, 0, 48, 0, 0, 1, 0};
	static struct t_task a, b, c;
	struct t_task *t;
	int gone = 0;

	(void)state;
	t_clear_ua(lu, &t_nx1);
	t_clear_ua(lu, &t_nx2);
	t_prep(&a, w48, 10, T_BS, true, &t_nx1);
	t_prep(&b, w48, 10, T_BS, true, &t_nx1);
	t_prep(&c, w56, 10, T_BS, true, &t_nx2);
	memset(a.buf, 0x11, T_BS);
	memset(b.buf, 0x22, T_BS);
	memset(c.buf, 0x33, T_BS);
	scsi_task_exec(lu, &a.task, t_luns, 3);
	scsi_task_exec(lu, &b.task, t_luns, 3); /* overlaps a: waits */
	scsi_task_exec(lu, &c.task, t_luns, 3);
	assert_int_equal(scsi_lu_abort_others(lu, &t_nx2, t_cq, t_others_gone,
			     &gone),
	    0);
	assert_int_equal(gone, 0);
	t_wait(&a);
	t_wait(&b);
	t_wait(&c);
	t_wait_gone(&gone);
	assert_int_equal(a.task.status, SCSI_STATUS_TASK_ABORTED);
	assert_int_equal(a.task.sense_len, 0);
	assert_int_equal(b.task.status, SCSI_STATUS_TASK_ABORTED);
	assert_int_equal(c.task.status, SCSI_STATUS_GOOD);
	/* a had started, so its data is there; b's never reached the store. */
	t = t_run(lu, r48, 10, T_BS, false, &t_nx1);
	assert_int_equal(t->task.status, SCSI_STATUS_GOOD);
	assert_int_equal(t->buf[0], 0x11);
	assert_int_equal(t->buf[T_BS - 1], 0x11);
	/* Nothing left to abort: the answer still comes through the queue. */
	gone = 0;
	assert_int_equal(scsi_lu_abort_others(lu, &t_nx2, t_cq, t_others_gone,
			     &gone),
	    0);
	assert_int_equal(gone, 0);
	t_wait_gone(&gone);
	scsi_lu_put(lu);
}

/* Start PERSISTENT RESERVE OUT sa (type) from nx, with key and sakey. */
static void
t_prout_start(struct t_task *t, struct scsi_lu *lu, struct scsi_nexus *nx,
    uint8_t sa, uint8_t type, uint64_t key, uint64_t sakey)
{
	uint8_t cdb[10] = {0x5f, sa, type, 0, 0, 0, 0, 0, 24, 0};

	t_prep(t, cdb, 10, 24, true, nx);
	memset(t->buf, 0, 24);
	put_be64(t->buf, key);
	put_be64(t->buf + 8, sakey);
	scsi_task_exec(lu, &t->task, t_luns, 3);
}

/*
 * PREEMPT AND ABORT from nexus 3 removes nexus 1's registration and
 * aborts its tasks: a running WRITE and one waiting behind it both end
 * with TASK ABORTED, the waiting one never reaching the store, and the
 * PREEMPT AND ABORT itself completes (GOOD) only once both are gone.
 */
static void
test_preempt_abort(void **state)
{
	struct scsi_lu *lu = t_lu_new("fileio", false, false, 0);
	uint8_t w64[10] = {0x2a, 0, 0, 0, 0, 64, 0, 0, 1, 0};
	uint8_t r64[10] = {0x28, 0, 0, 0, 0, 64, 0, 0, 1, 0};
	static struct t_task a, b, pr;
	static struct scsi_nexus nx3;
	struct t_task *t;

	(void)state;
	/* Another initiator port: t_nx2 shares t_nx1's, so its I_T nexus. */
	nx3 = t_nx1;
	nx3.id = scsi_nexus_id_new();
	snprintf(nx3.initiator_port, sizeof(nx3.initiator_port),
	    "iqn.i3,i,0x3");
	scsi_nexus_register(&nx3);
	t_clear_ua(lu, &t_nx1);
	t_clear_ua(lu, &nx3);
	t_prout_start(&pr, lu, &t_nx1, 0x00, 0, 0, 0x1111); /* REGISTER */
	t_wait(&pr);
	assert_int_equal(pr.task.status, SCSI_STATUS_GOOD);
	t_prout_start(&pr, lu, &nx3, 0x00, 0, 0, 0x2222);
	t_wait(&pr);
	assert_int_equal(pr.task.status, SCSI_STATUS_GOOD);
	t = t_run(lu, w64, 10, T_BS, true, &t_nx1); /* old data: zeros */
	assert_int_equal(t->task.status, SCSI_STATUS_GOOD);
	t_prep(&a, w64, 10, T_BS, true, &t_nx1);
	t_prep(&b, w64, 10, T_BS, true, &t_nx1);
	memset(a.buf, 0x11, T_BS);
	memset(b.buf, 0x22, T_BS);
	scsi_task_exec(lu, &a.task, t_luns, 3);
	scsi_task_exec(lu, &b.task, t_luns, 3); /* overlaps a: waits */
	t_prout_start(&pr, lu, &nx3, 0x05, 0, 0x2222, 0x1111);
	assert_int_equal(pr.ndone, 0);
	t_wait(&a);
	t_wait(&b);
	t_wait(&pr);
	assert_int_equal(a.task.status, SCSI_STATUS_TASK_ABORTED);
	assert_int_equal(b.task.status, SCSI_STATUS_TASK_ABORTED);
	assert_int_equal(pr.task.status, SCSI_STATUS_GOOD);
	t = t_run(lu, r64, 10, T_BS, false, &nx3);
	assert_int_equal(t->task.status, SCSI_STATUS_GOOD);
	assert_int_equal(t->buf[0], 0x11);
	/* Nexus 1 hears its registration went. */
	t = t_run(lu, cdb_tur, 6, 0, false, &t_nx1);
	t_expect_sense(t, 0x06, 0x2a, 0x05);
	/* Of a key nobody holds now: RESERVATION CONFLICT, at once. */
	t_prout_start(&pr, lu, &nx3, 0x05, 0, 0x2222, 0x1111);
	assert_int_equal(pr.ndone, 1);
	assert_int_equal(pr.task.status, SCSI_STATUS_RESERVATION_CONFLICT);
	scsi_nexus_unregister(&nx3);
	scsi_lu_put(lu);
}

/*
 * A fileio LU on a sparse tmpfs file (so it is mapped), its UAs cleared;
 * t_path is switched to it, its old value kept in saved.
 */
static struct scsi_lu *
t_shm_lu_new(char *saved)
{
	struct scsi_lu *lu;
	int fd;

	memcpy(saved, t_path, sizeof(t_path));
	snprintf(t_path, sizeof(t_path), "/dev/shm/test_scsi.%d.img",
	    (int)getpid());
	fd = open(t_path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, (off_t)T_BLOCKS * T_BS), 0);
	close(fd);
	lu = t_lu_new("fileio", false, true, 0);
	t_clear_ua(lu, &t_nx1);
	t_clear_ua(lu, &t_nx2);
	return lu;
}

static void
t_shm_lu_free(struct scsi_lu *lu, const char *saved)
{
	scsi_lu_put(lu);
	unlink(t_path);
	memcpy(t_path, saved, sizeof(t_path));
}

/*
 * A transport that can send from the store's page cache (lend_ok) gets
 * large reads of a tmpfs file as data_lent, and the read stays in the
 * task set until scsi_task_release(): an overlapping write waits for it,
 * so the bytes being sent never change under the socket.
 */
static void
test_mapped_read(void **state)
{
	struct scsi_lu *lu;
	uint8_t w10[10] = {0x2a, 0, 0, 0, 0, 0, 0, 0, 128, 0};
	uint8_t r10[10] = {0x28, 0, 0, 0, 0, 0, 0, 0, 128, 0};
	static struct t_task rd, wr;
	static uint8_t want[T_BUF];
	char saved[sizeof(t_path)];
	struct t_task *t;
	unsigned int i;

	(void)state;
	if (access("/dev/shm", W_OK) != 0)
		skip();
	lu = t_shm_lu_new(saved);

	/* 64 KiB of a pattern at LBA 0; the rest of the file is a hole. */
	for (i = 0; i < T_BUF; i++)
		want[i] = (uint8_t)(i * 7 + 3);
	memcpy(wr.buf, want, T_BUF);
	t = t_run_out_buf(&wr, lu, w10, 10, T_BUF);
	assert_int_equal(t->task.status, SCSI_STATUS_GOOD);

	memset(rd.buf, 0xcc, T_BUF);
	t_prep(&rd, r10, 10, T_BUF, false, &t_nx1);
	rd.task.lend_ok = true;
	scsi_task_exec(lu, &rd.task, t_luns, 3);
	t_wait(&rd);
	assert_int_equal(rd.task.status, SCSI_STATUS_GOOD);
	assert_int_equal(rd.task.data_in_len, T_BUF);
	assert_non_null(rd.task.data_lent);
	assert_memory_equal(rd.task.data_lent, want, T_BUF);
	assert_int_equal(rd.buf[0], 0xcc); /* never copied */

	/* An overlapping write waits while the read is being "sent"... */
	memset(wr.buf, 0x5a, T_BUF);
	t_prep(&wr, w10, 10, T_BUF, true, &t_nx2);
	scsi_task_exec(lu, &wr.task, t_luns, 3);
	t_drain_for(100);
	assert_int_equal(wr.ndone, 0);
	assert_memory_equal(rd.task.data_lent, want, T_BUF);
	/* ... and runs once the transport lets go of the bytes. */
	scsi_task_release(&rd.task);
	assert_null(rd.task.data_lent);
	t_wait(&wr);
	assert_int_equal(wr.task.status, SCSI_STATUS_GOOD);
	scsi_task_release(&rd.task); /* a second release does nothing */

	/* The next mapped read sees the write. */
	t_prep(&rd, r10, 10, T_BUF, false, &t_nx1);
	rd.task.lend_ok = true;
	scsi_task_exec(lu, &rd.task, t_luns, 3);
	t_wait(&rd);
	assert_non_null(rd.task.data_lent);
	assert_int_equal(rd.task.data_lent[0], 0x5a);
	assert_int_equal(rd.task.data_lent[T_BUF - 1], 0x5a);
	scsi_task_release(&rd.task);

	/* A hole is read into the buffer (mapping it would allocate it). */
	put_be32(r10 + 2, 1024);
	t_prep(&rd, r10, 10, T_BUF, false, &t_nx1);
	rd.task.lend_ok = true;
	scsi_task_exec(lu, &rd.task, t_luns, 3);
	t_wait(&rd);
	assert_null(rd.task.data_lent);
	assert_int_equal(rd.buf[0], 0);
	scsi_task_release(&rd.task);

	/* Small reads are copied, as is anything without lend_ok. */
	put_be32(r10 + 2, 0);
	r10[8] = 8;
	t_prep(&rd, r10, 10, 8 * T_BS, false, &t_nx1);
	rd.task.lend_ok = true;
	scsi_task_exec(lu, &rd.task, t_luns, 3);
	t_wait(&rd);
	assert_null(rd.task.data_lent);
	assert_int_equal(rd.buf[0], 0x5a);
	r10[8] = 128;
	t = t_run(lu, r10, 10, T_BUF, false, &t_nx1);
	assert_null(t->task.data_lent);
	assert_int_equal(t->buf[T_BUF - 1], 0x5a);

	t_shm_lu_free(lu, saved);
}

/*
 * HEAD OF QUEUE overtakes the ordering, not the data: a HEAD OF QUEUE
 * WRITE ATOMIC over blocks a READ is still being sent from (mapped, held
 * in the task set) waits for it, as a SIMPLE one does; before, it ran at
 * once and changed the bytes under the READ (a torn read).
 */
static void
test_hoq_waits_for_overlap(void **state)
{
	struct scsi_lu *lu;
	uint8_t wa16[16] = {0x9c, 0, [13] = 128};
	uint8_t r10[10] = {0x28, 0, 0, 0, 0, 0, 0, 0, 128, 0};
	static struct t_task rd, wr;
	char saved[sizeof(t_path)];
	struct t_task *t;

	(void)state;
	if (access("/dev/shm", W_OK) != 0)
		skip();
	lu = t_shm_lu_new(saved);
	memset(wr.buf, 0x11, T_BUF);
	t = t_run_out_buf(&wr, lu, wa16, 16, T_BUF);
	assert_int_equal(t->task.status, SCSI_STATUS_GOOD);

	t_prep(&rd, r10, 10, T_BUF, false, &t_nx1);
	rd.task.lend_ok = true;
	scsi_task_exec(lu, &rd.task, t_luns, 3);
	t_wait(&rd);
	assert_non_null(rd.task.data_lent);
	assert_int_equal(rd.task.data_lent[0], 0x11);

	memset(wr.buf, 0x22, T_BUF);
	t_prep(&wr, wa16, 16, T_BUF, true, &t_nx2);
	wr.task.attr = SCSI_ATTR_HEAD_OF_QUEUE;
	scsi_task_exec(lu, &wr.task, t_luns, 3);
	t_drain_for(100);
	assert_int_equal(wr.ndone, 0);
	assert_int_equal(rd.task.data_lent[0], 0x11);
	assert_int_equal(rd.task.data_lent[T_BUF - 1], 0x11);
	scsi_task_release(&rd.task);
	t_wait(&wr);
	assert_int_equal(wr.task.status, SCSI_STATUS_GOOD);

	/* A HEAD OF QUEUE READ after it sees all of it. */
	t_prep(&rd, r10, 10, T_BUF, false, &t_nx1);
	rd.task.attr = SCSI_ATTR_HEAD_OF_QUEUE;
	scsi_task_exec(lu, &rd.task, t_luns, 3);
	t_wait(&rd);
	assert_int_equal(rd.buf[0], 0x22);
	assert_int_equal(rd.buf[T_BUF - 1], 0x22);
	t_shm_lu_free(lu, saved);
}

/*
 * Two resets from two other nexuses while nexus 1's WRITE still waits for
 * its data (announced): the first ends it on its own thread (the queue),
 * with TASK ABORTED; the second finds it aborted by the first and is not
 * told before it is gone either. An exec the transport still makes
 * changes nothing, nothing reaches the store, and the blocks are free.
 */
static void
test_abort_others_twice(void **state)
{
	struct scsi_lu *lu = t_lu_new("fileio", false, false, 0);
	uint8_t w10[10] = {0x2a, 0, 0, 0, 0, 80, 0, 0, 1, 0};
	uint8_t r10[10] = {0x28, 0, 0, 0, 0, 80, 0, 0, 1, 0};
	static struct t_task wr, wr2;
	struct scsi_nexus nx3;
	struct t_task *t;
	int gone2 = 0, gone3 = 0;

	(void)state;
	t_clear_ua(lu, &t_nx1);
	t_clear_ua(lu, &t_nx2);
	nx3 = t_nx1;
	nx3.id = scsi_nexus_id_new();

	t_prep(&wr, w10, 10, T_BS, true, &t_nx1);
	memset(wr.buf, 0x22, T_BS);
	assert_int_equal(scsi_task_announce(lu, &wr.task), 0);
	assert_int_equal(scsi_lu_abort_others(lu, &t_nx2, t_cq, t_others_gone,
			     &gone2),
	    0);
	assert_int_equal(scsi_lu_abort_others(lu, &nx3, t_cq, t_others_gone,
			     &gone3),
	    0);
	/* Nothing inside the calls: the task's own thread ends it. */
	assert_int_equal(wr.ndone, 0);
	assert_int_equal(gone2, 0);
	/* The data came in before that end: the exec changes nothing. */
	scsi_task_exec(lu, &wr.task, t_luns, 3);
	t_wait(&wr);
	assert_int_equal(wr.task.status, SCSI_STATUS_TASK_ABORTED);
	t_wait_gone(&gone2);
	t_wait_gone(&gone3);
	t_drain_for(50);
	assert_int_equal(wr.ndone, 1);
	/* Nothing of it reached the store, and the blocks are free. */
	t = t_run(lu, r10, 10, T_BS, false, &t_nx1);
	assert_int_equal(t->buf[0], 0);
	t_prep(&wr2, w10, 10, T_BS, true, &t_nx2);
	memset(wr2.buf, 0x44, T_BS);
	scsi_task_exec(lu, &wr2.task, t_luns, 3);
	t_wait(&wr2);
	assert_int_equal(wr2.task.status, SCSI_STATUS_GOOD);
	t = t_run(lu, r10, 10, T_BS, false, &t_nx1);
	assert_int_equal(t->buf[0], 0x44);
	scsi_lu_put(lu);
}

/*
 * Tasks announced before they may run (scsi_task_announce: the transport
 * waits for their CmdSN turn or their Data-Out). A reset of another nexus
 * ends nexus 1's on the queue with TASK ABORTED, never inside the call,
 * and says so only once they are gone; an exec the transport makes later
 * is a no-op and nothing reaches the store. Nexus 2's own is left alone
 * and runs when executed; one nexus 1 aborts itself ends with aborted
 * set; one executed normally runs as any task.
 */
static void
test_abort_announced(void **state)
{
	struct scsi_lu *lu = t_lu_new("fileio", false, false, 0);
	uint8_t w72[10] = {0x2a, 0, 0, 0, 0, 72, 0, 0, 1, 0};
	uint8_t w73[10] = {0x2a, 0, 0, 0, 0, 73, 0, 0, 1, 0};
	uint8_t r72[10] = {0x28, 0, 0, 0, 0, 72, 0, 0, 2, 0};
	static struct t_task a, b, c, d;
	struct t_task *t;
	int gone = 0;

	(void)state;
	t_clear_ua(lu, &t_nx1);
	t_clear_ua(lu, &t_nx2);
	assert_int_equal(scsi_task_announce(NULL, &a.task), -EINVAL);
	t_prep(&a, w72, 10, T_BS, true, &t_nx1);
	t_prep(&b, w73, 10, T_BS, true, &t_nx2);
	t_prep(&c, cdb_tur, 6, 0, false, &t_nx1);
	memset(a.buf, 0x11, T_BS);
	memset(b.buf, 0x22, T_BS);
	assert_int_equal(scsi_task_announce(lu, &a.task), 0);
	assert_int_equal(scsi_task_announce(lu, &b.task), 0);
	assert_int_equal(scsi_task_announce(lu, &c.task), 0);
	assert_int_equal(scsi_lu_abort_others(lu, &t_nx2, t_cq, t_others_gone,
			     &gone),
	    0);
	assert_int_equal(a.ndone, 0);
	assert_int_equal(c.ndone, 0);
	assert_int_equal(gone, 0);
	/*
	 * The transport had all of a's data before that end came: too late,
	 * its exec is a no-op. b, of the resetting nexus, runs.
	 */
	scsi_task_exec(lu, &a.task, t_luns, 3);
	scsi_task_exec(lu, &b.task, t_luns, 3);
	t_wait(&a);
	t_wait(&b);
	t_wait(&c);
	t_wait_gone(&gone);
	t_drain_for(50);
	assert_int_equal(a.ndone, 1);
	assert_int_equal(a.task.status, SCSI_STATUS_TASK_ABORTED);
	assert_int_equal(c.task.status, SCSI_STATUS_TASK_ABORTED);
	assert_false(a.task.aborted);
	assert_int_equal(b.task.status, SCSI_STATUS_GOOD);
	t = t_run(lu, r72, 10, 2 * T_BS, false, &t_nx1);
	assert_int_equal(t->buf[0], 0);
	assert_int_equal(t->buf[T_BS - 1], 0);
	assert_int_equal(t->buf[T_BS], 0x22);

	/* Aborted by its own nexus: ends on the queue, aborted set. */
	t_prep(&d, w72, 10, T_BS, true, &t_nx1);
	memset(d.buf, 0x33, T_BS);
	assert_int_equal(scsi_task_announce(lu, &d.task), 0);
	scsi_task_abort(&d.task);
	assert_int_equal(d.ndone, 0);
	t_wait(&d);
	assert_true(d.task.aborted);
	/* A reset after that does not wait for it: it is gone. */
	gone = 0;
	assert_int_equal(scsi_lu_abort_others(lu, &t_nx2, t_cq, t_others_gone,
			     &gone),
	    0);
	t_wait_gone(&gone);

	/* Announced, then executed: an ordinary WRITE. */
	t_prep(&a, w72, 10, T_BS, true, &t_nx1);
	memset(a.buf, 0x44, T_BS);
	assert_int_equal(scsi_task_announce(lu, &a.task), 0);
	scsi_task_exec(lu, &a.task, t_luns, 3);
	t_wait(&a);
	assert_int_equal(a.task.status, SCSI_STATUS_GOOD);
	t = t_run(lu, r72, 10, 2 * T_BS, false, &t_nx1);
	assert_int_equal(t->buf[0], 0x44);
	scsi_lu_put(lu);
}

/*
 * An announced task whose execution finds no memory for its nexus's
 * I_T_L (the first command of a session that waited for its Data-Out):
 * BUSY, once, and the command its announcement made is freed, not
 * leaked. Counted with mallinfo2() here; under make SAN=1 LeakSanitizer
 * says so at exit as well.
 */
static void
test_announced_itl_nomem(void **state)
{
	struct scsi_lu *lu = t_lu_new("nullio", false, false, 0);
	uint8_t w8[10] = {0x2a, 0, 0, 0, 0, 8, 0, 0, 1, 0};
	static struct t_task a;
	size_t before;

	(void)state;
	t_prep(&a, w8, 10, T_BS, true, &t_nx1);
	objcache_trim();
	before = mallinfo2().uordblks;
	assert_int_equal(scsi_task_announce(lu, &a.task), 0);
	/* The next allocation is the I_T_L's: t_nx1 is new to this LU. */
	alloc_fail_nth(1, 0);
	scsi_task_exec(lu, &a.task, t_luns, 3);
	assert_int_equal(alloc_fail_hits(), 1);
	alloc_fail_nth(0, 0);
	t_drain_for(20);
	assert_int_equal(a.ndone, 1);
	assert_int_equal(a.task.status, SCSI_STATUS_BUSY);
	objcache_trim();
	assert_int_equal(mallinfo2().uordblks, before);
	scsi_lu_put(lu);
}

/*
 * Persistent reservation registrations are bounded per LU: past
 * SCSI_PR_REGS_MAX (1024) a new I_T nexus's REGISTER gets ILLEGAL
 * REQUEST, INSUFFICIENT REGISTRATION RESOURCES (SPC-4 5.13.7); a
 * registered one may still change its key, and one gone makes room.
 */
static void
test_pr_registration_cap(void **state)
{
	struct scsi_lu *lu = t_lu_new("nullio", false, false, 0);
	static struct t_task pr;
	static struct scsi_nexus nx[1025];
	uint8_t rk[10] = {0x5e, 0x00, 0, 0, 0, 0, 0, 0xff, 0xff, 0};
	struct t_task *t;
	unsigned int i;

	(void)state;
	for (i = 0; i < 1025; i++) {
		nx[i] = t_nx1;
		nx[i].id = 1000 + i;
		snprintf(nx[i].initiator_port, sizeof(nx[i].initiator_port),
		    "iqn.cap,i,0x%u", i);
		t_clear_ua(lu, &nx[i]);
		t_prout_start(&pr, lu, &nx[i], 0x00, 0, 0, 0x100 + i);
		t_wait(&pr);
		if (i < 1024)
			assert_int_equal(pr.task.status, SCSI_STATUS_GOOD);
	}
	t_expect_sense(&pr, 0x05, 0x55, 0x04);
	/* READ KEYS lists all 1024 (8 KiB of keys, beyond the old 8 KiB). */
	t = t_run(lu, rk, 10, T_BUF, false, &nx[0]);
	assert_int_equal(t->task.status, SCSI_STATUS_GOOD);
	assert_int_equal(get_be32(t->buf + 4), 1024 * 8);
	assert_int_equal(t->task.data_in_len, 8 + 1024 * 8);
	assert_int_equal(get_be64(t->buf + 8 + 1023 * 8), 0x100 + 1023);
	/* READ FULL STATUS: the whole length, even past what is sent. */
	rk[1] = 0x03;
	t = t_run(lu, rk, 10, T_BUF, false, &nx[0]);
	assert_int_equal(t->task.status, SCSI_STATUS_GOOD);
	assert_true(get_be32(t->buf + 4) > 1024 * 24);
	assert_true(t->task.data_in_len <= 65535);
	/* One registered may still change its key... */
	t_prout_start(&pr, lu, &nx[1023], 0x00, 0, 0x100 + 1023, 0x7777);
	t_wait(&pr);
	assert_int_equal(pr.task.status, SCSI_STATUS_GOOD);
	/* ... or unregister, which makes room for another. */
	t_prout_start(&pr, lu, &nx[1023], 0x00, 0, 0x7777, 0);
	t_wait(&pr);
	assert_int_equal(pr.task.status, SCSI_STATUS_GOOD);
	t_prout_start(&pr, lu, &nx[1024], 0x00, 0, 0, 0x9999);
	t_wait(&pr);
	assert_int_equal(pr.task.status, SCSI_STATUS_GOOD);
	scsi_lu_put(lu);
}

static void
test_mode(void **state)
{
	struct scsi_lu *lu = t_lu_new("nullio", false, true, 0);
	uint8_t ms6[6] = {0x1a, 0, 0x3f, 0, 255, 0};
	uint8_t ms10[10] = {0x5a, 0x08, 0x08, 0, 0, 0, 0, 0, 255, 0};
	uint8_t sel6[6] = {0x15, 0x10, 0, 0, 0, 0};
	uint8_t r10[10] = {0x28, 0, 0xff, 0, 0, 0, 0, 0, 1, 0};
	struct t_task *t;
	static struct t_task st;
	unsigned int len;

	(void)state;
	t_clear_ua(lu, &t_nx1);
	t_clear_ua(lu, &t_nx2);
	t = t_run(lu, ms6, 6, 255, false, &t_nx1);
	assert_int_equal(t->task.status, SCSI_STATUS_GOOD);
	/* header 4 + block descriptor 8 + 12 + 20 + 12 + 12 */
	assert_int_equal(t->task.data_in_len, 68);
	assert_int_equal(t->buf[0], 67);
	assert_int_equal(t->buf[3], 8);
	assert_int_equal(get_be32(t->buf + 4), T_BLOCKS);
	assert_int_equal(get_be24(t->buf + 9), T_BS);
	assert_int_equal(t->buf[12], 0x01);
	assert_int_equal(t->buf[24], 0x08);
	assert_int_equal(t->buf[26] & 0x04, 0x04); /* WCE */
	/* MODE SENSE 10, caching only, DBD. */
	t = t_run(lu, ms10, 10, 255, false, &t_nx1);
	assert_int_equal(t->task.data_in_len, 28);
	assert_int_equal(get_be16(t->buf + 6), 0);
	assert_int_equal(t->buf[8], 0x08);
	/* Changeable values: only WCE. */
	ms10[2] = 0x48;
	t = t_run(lu, ms10, 10, 255, false, &t_nx1);
	assert_int_equal(t->buf[10], 0x04);
	/* Unknown page. */
	ms6[2] = 0x05;
	t = t_run(lu, ms6, 6, 255, false, &t_nx1);
	t_expect_invalid_cdb(t, 2);
	/* MODE SELECT: turn WCE off, D_SENSE on. */
	len = 4 + 20 + 12;
	memset(st.buf, 0, len);
	st.buf[4] = 0x08;
	st.buf[5] = 18;
	st.buf[24] = 0x0a;
	st.buf[25] = 10;
	st.buf[26] = 0x04;
	st.buf[27] = 0x10;
	st.buf[29] = 0x40; /* TAS, as reported */
	put_be16(st.buf + 32, 0xffff);
	sel6[4] = (uint8_t)len;
	t_prep(&st, sel6, 6, len, true, &t_nx1);
	scsi_task_exec(lu, &st.task, t_luns, 3);
	t_wait(&st);
	assert_int_equal(st.task.status, SCSI_STATUS_GOOD);
	ms6[2] = 0x08;
	t = t_run(lu, ms6, 6, 255, false, &t_nx1);
	assert_int_equal(t->buf[12 + 2] & 0x04, 0);
	/* The other nexus hears of it. */
	t = t_run(lu, cdb_tur, 6, 0, false, &t_nx2);
	t_expect_sense(t, 0x06, 0x2a, 0x01);
	/* Descriptor sense now. */
	t = t_run(lu, r10, 10, T_BS, false, &t_nx1);
	assert_int_equal(t->task.sense[0], 0x72);
	t_expect_sense(t, 0x05, 0x21, 0x00);
	/* A change outside the mask: pointer to the byte. */
	st.buf[24 + 3] = 0x00;
	st.buf[26] = 0x00;
	st.buf[24 + 5] = 0x40;
	t_prep(&st, sel6, 6, len, true, &t_nx1);
	scsi_task_exec(lu, &st.task, t_luns, 3);
	t_wait(&st);
	assert_int_equal(st.task.status, SCSI_STATUS_CHECK_CONDITION);
	assert_int_equal(st.task.sense[0], 0x72);
	assert_int_equal(st.task.sense[2], 0x26);
	/* Sense-key-specific descriptor: SKSV, C/D=0, byte 27 (QAM). */
	assert_int_equal(st.task.sense[7], 8);
	assert_int_equal(st.task.sense[8], 0x02);
	assert_int_equal(st.task.sense[9], 0x06);
	assert_int_equal(st.task.sense[12], 0x80);
	assert_int_equal(get_be16(st.task.sense + 13), 27);
	scsi_lu_put(lu);
}

static void
test_misc(void **state)
{
	struct scsi_lu *lu = t_lu_new("nullio", true, false, 0);
	uint8_t w10[10] = {0x2a, 0, 0, 0, 0, 0, 0, 0, 1, 0};
	uint8_t bad[6] = {0xff};
	uint8_t ss[6] = {0x1b, 0, 0, 0, 1, 0};
	uint8_t sync[10] = {0x35};
	uint8_t rs6[6] = {0x16};
	uint8_t rl6[6] = {0x17};
	uint8_t ms6[6] = {0x1a, 0, 0x3f, 0, 255, 0};
	struct t_task *t;

	(void)state;
	t_clear_ua(lu, &t_nx1);
	t_clear_ua(lu, &t_nx2);
	t = t_run(lu, w10, 10, T_BS, true, &t_nx1);
	t_expect_sense(t, 0x07, 0x27, 0x00);
	t = t_run(lu, ms6, 6, 255, false, &t_nx1);
	assert_int_equal(t->buf[2] & 0x80, 0x80); /* WP */
	t = t_run(lu, bad, 6, 0, false, &t_nx1);
	t_expect_sense(t, 0x05, 0x20, 0x00);
	t = t_run(lu, ss, 6, 0, false, &t_nx1);
	assert_int_equal(t->task.status, SCSI_STATUS_GOOD);
	t = t_run(lu, sync, 10, 0, false, &t_nx1);
	assert_int_equal(t->task.status, SCSI_STATUS_GOOD);
	/* REPORT SUPPORTED OPERATION CODES: one command, with SA rules. */
	{
		uint8_t rsoc[12] = {0xa3, 0x0c, 0x01, 0x28, 0, 0, 0, 0, 1, 0};

		t = t_run(lu, rsoc, 12, 256, false, &t_nx1);
		assert_int_equal(t->task.status, SCSI_STATUS_GOOD);
		assert_int_equal(t->buf[1] & 0x07, 0x03);
		assert_int_equal(get_be16(t->buf + 2), 10);
		assert_int_equal(t->buf[4], 0x28);
		rsoc[3] = 0x9e;
		t = t_run(lu, rsoc, 12, 256, false, &t_nx1);
		t_expect_invalid_cdb(t, 2);
		rsoc[2] = 0x82;
		rsoc[5] = 0x10;
		t = t_run(lu, rsoc, 12, 256, false, &t_nx1);
		assert_int_equal(t->task.status, SCSI_STATUS_GOOD);
		assert_int_equal(t->buf[1], 0x83);
		assert_int_equal(t->task.data_in_len, 4 + 16 + 12);
		rsoc[2] = 0x00;
		rsoc[8] = 0x10;
		t = t_run(lu, rsoc, 12, 4096, false, &t_nx1);
		assert_int_equal(t->task.status, SCSI_STATUS_GOOD);
		assert_int_equal(get_be32(t->buf) % 8, 0);
		assert_int_equal(t->task.data_in_len, get_be32(t->buf) + 4);
	}
	/* SPC-2 reservations. */
	t = t_run(lu, rs6, 6, 0, false, &t_nx1);
	assert_int_equal(t->task.status, SCSI_STATUS_GOOD);
	t = t_run(lu, cdb_tur, 6, 0, false, &t_nx2);
	assert_int_equal(t->task.status, SCSI_STATUS_RESERVATION_CONFLICT);
	t = t_run(lu, rl6, 6, 0, false, &t_nx2);
	assert_int_equal(t->task.status, SCSI_STATUS_GOOD);
	t = t_run(lu, rs6, 6, 0, false, &t_nx2);
	assert_int_equal(t->task.status, SCSI_STATUS_RESERVATION_CONFLICT);
	t = t_run(lu, cdb_tur, 6, 0, false, &t_nx1);
	assert_int_equal(t->task.status, SCSI_STATUS_GOOD);
	/* Losing the nexus drops its reservation. */
	scsi_nexus_unregister(&t_nx1);
	scsi_nexus_register(&t_nx1);
	t = t_run(lu, cdb_tur, 6, 0, false, &t_nx2);
	assert_int_equal(t->task.status, SCSI_STATUS_GOOD);
	scsi_lu_put(lu);
}

/*
 * A reinstated session is a new I_T nexus with a fresh id: the old
 * session's teardown, which runs later on its own thread, must take
 * neither the new nexus's reservation nor its cleared unit attention.
 * (ietd once gave a reinstated connection its old session's id.)
 */
static void
test_nexus_reinstatement(void **state)
{
	struct scsi_lu *lu = t_lu_new("nullio", false, false, 0);
	uint8_t rs6[6] = {0x16};
	uint8_t rl6[6] = {0x17};
	struct scsi_nexus old, fresh, dup;
	struct t_task *t;

	(void)state;
	old = t_nx1;
	old.id = scsi_nexus_id_new();
	fresh = old; /* the same initiator port, the same target port */
	fresh.id = scsi_nexus_id_new();
	assert_true(old.id != 0 && fresh.id != 0 && old.id != fresh.id);
	assert_int_equal(scsi_nexus_register(&old), 0);
	dup = old;
	assert_int_equal(scsi_nexus_register(&dup), -EEXIST);
	assert_int_equal(scsi_nexus_register(&fresh), 0);
	t_clear_ua(lu, &fresh);
	t_clear_ua(lu, &t_nx2);
	t = t_run(lu, rs6, 6, 0, false, &fresh);
	assert_int_equal(t->task.status, SCSI_STATUS_GOOD);
	scsi_nexus_unregister(&old); /* the old session goes, late */
	t = t_run(lu, cdb_tur, 6, 0, false, &fresh);
	assert_int_equal(t->task.status, SCSI_STATUS_GOOD);
	t = t_run(lu, cdb_tur, 6, 0, false, &t_nx2);
	assert_int_equal(t->task.status, SCSI_STATUS_RESERVATION_CONFLICT);
	t = t_run(lu, rl6, 6, 0, false, &fresh);
	assert_int_equal(t->task.status, SCSI_STATUS_GOOD);
	scsi_nexus_unregister(&fresh);
	scsi_lu_put(lu);
}

static void
test_write_same_unmap_verify(void **state)
{
	struct scsi_lu *lu = t_lu_new("fileio", false, false, 0);
	uint8_t ws16[16] = {0x93, 0, 0, 0, 0, 0, 0, 0, 0, 100, 0, 0, 0, 3};
	uint8_t r10[10] = {0x28, 0, 0, 0, 0, 100, 0, 0, 3, 0};
	uint8_t vf10[10] = {0x2f, 0x02, 0, 0, 0, 100, 0, 0, 3, 0};
	uint8_t um[10] = {0x42, 0, 0, 0, 0, 0, 0, 0, 24, 0};
	uint8_t caw[16] = {0x89, 0, 0, 0, 0, 0, 0, 0, 0, 100, 0, 0, 0, 1};
	static struct t_task wt;
	struct t_task *t;
	unsigned int i;

	(void)state;
	t_clear_ua(lu, &t_nx1);
	for (i = 0; i < T_BS; i++)
		wt.buf[i] = (uint8_t)i;
	t_prep(&wt, ws16, 16, T_BS, true, &t_nx1);
	scsi_task_exec(lu, &wt.task, t_luns, 3);
	t_wait(&wt);
	assert_int_equal(wt.task.status, SCSI_STATUS_GOOD);
	t = t_run(lu, r10, 10, 3 * T_BS, false, &t_nx1);
	for (i = 0; i < 3 * T_BS; i++)
		assert_int_equal(t->buf[i], (uint8_t)(i % T_BS));
	/* VERIFY with a miscompare at byte 700. */
	for (i = 0; i < 3 * T_BS; i++)
		wt.buf[i] = (uint8_t)(i % T_BS);
	wt.buf[700] ^= 1;
	t_prep(&wt, vf10, 10, 3 * T_BS, true, &t_nx1);
	scsi_task_exec(lu, &wt.task, t_luns, 3);
	t_wait(&wt);
	t_expect_sense(&wt, 0x0e, 0x1d, 0x00);
	assert_int_equal(get_be32(wt.task.sense + 3), 700);
	wt.buf[700] ^= 1;
	t_prep(&wt, vf10, 10, 3 * T_BS, true, &t_nx1);
	scsi_task_exec(lu, &wt.task, t_luns, 3);
	t_wait(&wt);
	assert_int_equal(wt.task.status, SCSI_STATUS_GOOD);
	/* COMPARE AND WRITE: block 100 as written above, then 0xee. */
	memset(wt.buf + T_BS, 0xee, T_BS);
	t_prep(&wt, caw, 16, 2 * T_BS, true, &t_nx1);
	scsi_task_exec(lu, &wt.task, t_luns, 3);
	t_wait(&wt);
	assert_int_equal(wt.task.status, SCSI_STATUS_GOOD);
	t_prep(&wt, caw, 16, 2 * T_BS, true, &t_nx1);
	scsi_task_exec(lu, &wt.task, t_luns, 3);
	t_wait(&wt);
	t_expect_sense(&wt, 0x0e, 0x1d, 0x00);
	/* UNMAP blocks 100..102: they read back as zeros. */
	memset(wt.buf, 0, 24);
	put_be16(wt.buf, 22);
	put_be16(wt.buf + 2, 16);
	put_be64(wt.buf + 8, 100);
	put_be32(wt.buf + 16, 3);
	t_prep(&wt, um, 10, 24, true, &t_nx1);
	scsi_task_exec(lu, &wt.task, t_luns, 3);
	t_wait(&wt);
	assert_int_equal(wt.task.status, SCSI_STATUS_GOOD);
	t = t_run(lu, r10, 10, 3 * T_BS, false, &t_nx1);
	for (i = 0; i < 3 * T_BS; i++)
		assert_int_equal(t->buf[i], 0);
	scsi_lu_put(lu);
}

/*
 * WRITE SAME with NUMBER OF LOGICAL BLOCKS 0 runs to the last LBA (WSNZ
 * is clear); UNMAP set unmaps whatever the pattern.
 */
static void
test_write_same_to_end(void **state)
{
	struct scsi_lu *lu = t_lu_new("fileio", false, false, 0);
	uint8_t ws10[10] = {0x41, 0, 0, 0, 0x07, 0xfc, 0, 0, 0, 0};
	uint8_t ws16[16] = {0x93};
	uint8_t r16[16] = {0x88};
	static struct t_task wt;
	struct t_task *t;
	unsigned int i;

	(void)state;
	t_clear_ua(lu, &t_nx1);
	/* Blocks 2044..2047 (the last four) get the pattern 0x5a. */
	memset(wt.buf, 0x5a, T_BS);
	t = t_run_out_buf(&wt, lu, ws10, 10, T_BS);
	assert_int_equal(t->task.status, SCSI_STATUS_GOOD);
	assert_int_equal(t->task.xfer_len, T_BS);
	put_be64(r16 + 2, T_BLOCKS - 5);
	put_be32(r16 + 10, 5);
	t = t_run(lu, r16, 16, 5 * T_BS, false, &t_nx1);
	assert_int_equal(t->task.status, SCSI_STATUS_GOOD);
	for (i = 0; i < T_BS; i++)
		assert_int_equal(t->buf[i], 0);
	for (i = T_BS; i < 5 * T_BS; i++)
		assert_int_equal(t->buf[i], 0x5a);
	/* UNMAP with a non-zero pattern: unmapped, so reads zeros. */
	ws10[1] = 0x08;
	t = t_run_out_buf(&wt, lu, ws10, 10, T_BS);
	assert_int_equal(t->task.status, SCSI_STATUS_GOOD);
	t = t_run(lu, r16, 16, 5 * T_BS, false, &t_nx1);
	for (i = 0; i < 5 * T_BS; i++)
		assert_int_equal(t->buf[i], 0);
	/* From the capacity itself: nothing to write, GOOD. */
	put_be64(ws16 + 2, T_BLOCKS);
	t = t_run_out_buf(&wt, lu, ws16, 16, T_BS);
	assert_int_equal(t->task.status, SCSI_STATUS_GOOD);
	assert_int_equal(t->task.xfer_len, T_BS);
	/* One past the capacity: LBA OUT OF RANGE. */
	put_be64(ws16 + 2, T_BLOCKS + 1);
	t = t_run_out_buf(&wt, lu, ws16, 16, T_BS);
	t_expect_sense(t, 0x05, 0x21, 0x00);
	ws10[1] = 0;
	put_be32(ws10 + 2, UINT32_MAX);
	t = t_run_out_buf(&wt, lu, ws10, 10, T_BS);
	t_expect_sense(t, 0x05, 0x21, 0x00);
	scsi_lu_put(lu);
}

/*
 * Control mode page SWP (SPC-4 7.5.8): changeable; once set, writes get
 * DATA PROTECT, WRITE PROTECTED and MODE SENSE reports WP; a LOGICAL UNIT
 * RESET clears it.
 */
static void
test_swp(void **state)
{
	struct scsi_lu *lu = t_lu_new("fileio", false, false, 0);
	uint8_t ms6[6] = {0x1a, 0x08, 0x0a, 0, 255, 0};
	uint8_t sel6[6] = {0x15, 0x10, 0, 0, 16, 0};
	uint8_t w10[10] = {0x2a, 0, 0, 0, 0, 10, 0, 0, 1, 0};
	uint8_t r10[10] = {0x28, 0, 0, 0, 0, 10, 0, 0, 1, 0};
	static struct t_task st;
	struct t_task *t;

	(void)state;
	t_clear_ua(lu, &t_nx1);
	t_clear_ua(lu, &t_nx2);
	/* Changeable values of the control page: D_SENSE and SWP. */
	ms6[2] = 0x4a;
	t = t_run(lu, ms6, 6, 255, false, &t_nx1);
	assert_int_equal(t->task.status, SCSI_STATUS_GOOD);
	assert_int_equal(t->buf[4], 0x0a);
	assert_int_equal(t->buf[4 + 2], 0x04);
	assert_int_equal(t->buf[4 + 4], 0x08);
	/* Current values: SWP off, WP clear. */
	ms6[2] = 0x0a;
	t = t_run(lu, ms6, 6, 255, false, &t_nx1);
	assert_int_equal(t->buf[2] & 0x80, 0);
	assert_int_equal(t->buf[4 + 4] & 0x08, 0);
	/* Turn SWP on: the current page with byte 4 bit 3 set. */
	memcpy(st.buf, t->buf, 16);
	st.buf[0] = 0;
	st.buf[2] = 0;
	st.buf[4 + 4] |= 0x08;
	t_prep(&st, sel6, 6, 16, true, &t_nx1);
	scsi_task_exec(lu, &st.task, t_luns, 3);
	t_wait(&st);
	assert_int_equal(st.task.status, SCSI_STATUS_GOOD);
	t = t_run(lu, ms6, 6, 255, false, &t_nx1);
	assert_int_equal(t->buf[2] & 0x80, 0x80);
	assert_int_equal(t->buf[4 + 4] & 0x08, 0x08);
	t = t_run(lu, cdb_tur, 6, 0, false, &t_nx2);
	t_expect_sense(t, 0x06, 0x2a, 0x01);
	memset(st.buf, 0x33, T_BS);
	t = t_run_out_buf(&st, lu, w10, 10, T_BS);
	t_expect_sense(t, 0x07, 0x27, 0x00);
	/* Reads still work. */
	t = t_run(lu, r10, 10, T_BS, false, &t_nx1);
	assert_int_equal(t->task.status, SCSI_STATUS_GOOD);
	/* LOGICAL UNIT RESET puts SWP back to its default (off). */
	scsi_lu_reset(lu, &t_nx1);
	t = t_run(lu, cdb_tur, 6, 0, false, &t_nx1);
	t_expect_sense(t, 0x06, 0x29, 0x03);
	memset(st.buf, 0x33, T_BS);
	t = t_run_out_buf(&st, lu, w10, 10, T_BS);
	assert_int_equal(t->task.status, SCSI_STATUS_GOOD);
	scsi_lu_put(lu);
}

/* ORWRITE (16): medium OR data, with the usual checks. */
static void
test_orwrite(void **state)
{
	struct scsi_lu *lu = t_lu_new("fileio", false, false, 0);
	struct scsi_lu *ro = t_lu_new("fileio", true, false, 1);
	uint8_t w10[10] = {0x2a, 0, 0, 0, 0, 200, 0, 0, 2, 0};
	uint8_t r10[10] = {0x28, 0, 0, 0, 0, 200, 0, 0, 3, 0};
	uint8_t orw[16] = {0x8b, 0, 0, 0, 0, 0, 0, 0, 0, 200, 0, 0, 0, 2};
	static struct t_task wt;
	struct t_task *t;
	unsigned int i;

	(void)state;
	t_clear_ua(lu, &t_nx1);
	t_clear_ua(ro, &t_nx1);
	/* Blocks 200, 201 hold 0x0f then 0x81; block 202 is left alone. */
	memset(wt.buf, 0x0f, T_BS);
	memset(wt.buf + T_BS, 0x81, T_BS);
	t = t_run_out_buf(&wt, lu, w10, 10, 2 * T_BS);
	assert_int_equal(t->task.status, SCSI_STATUS_GOOD);
	w10[5] = 202;
	w10[8] = 1;
	memset(wt.buf, 0x11, T_BS);
	t = t_run_out_buf(&wt, lu, w10, 10, T_BS);
	assert_int_equal(t->task.status, SCSI_STATUS_GOOD);
	memset(wt.buf, 0xf0, 2 * T_BS);
	orw[1] = 0x08; /* FUA is accepted */
	t = t_run_out_buf(&wt, lu, orw, 16, 2 * T_BS);
	assert_int_equal(t->task.status, SCSI_STATUS_GOOD);
	assert_int_equal(t->task.xfer_len, 2 * T_BS);
	t = t_run(lu, r10, 10, 3 * T_BS, false, &t_nx1);
	for (i = 0; i < T_BS; i++)
		assert_int_equal(t->buf[i], 0xff);
	for (i = T_BS; i < 2 * T_BS; i++)
		assert_int_equal(t->buf[i], 0xf1);
	for (i = 2 * T_BS; i < 3 * T_BS; i++)
		assert_int_equal(t->buf[i], 0x11);
	/* ORPROTECT: no protection information. */
	orw[1] = 0x20;
	t = t_run_out_buf(&wt, lu, orw, 16, 2 * T_BS);
	t_expect_invalid_cdb(t, 1);
	/* Past the end. */
	orw[1] = 0;
	put_be64(orw + 2, T_BLOCKS - 1);
	t = t_run_out_buf(&wt, lu, orw, 16, 2 * T_BS);
	t_expect_sense(t, 0x05, 0x21, 0x00);
	/* Zero blocks: nothing moves, GOOD. */
	put_be64(orw + 2, 0);
	put_be32(orw + 10, 0);
	t = t_run_out_buf(&wt, lu, orw, 16, 0);
	assert_int_equal(t->task.status, SCSI_STATUS_GOOD);
	assert_int_equal(t->task.xfer_len, 0);
	/* Too little data for the blocks named. */
	put_be32(orw + 10, 2);
	t = t_run_out_buf(&wt, lu, orw, 16, T_BS);
	t_expect_sense(t, 0x05, 0x0e, 0x03);
	/* Write-protected LU: DATA PROTECT, WRITE PROTECTED. */
	t = t_run_out_buf(&wt, ro, orw, 16, 2 * T_BS);
	t_expect_sense(t, 0x07, 0x27, 0x00);
	scsi_lu_put(ro);
	scsi_lu_put(lu);
}

/* A backend I/O error becomes MEDIUM ERROR with the LBA. */
static void
test_medium_error(void **state)
{
	struct scsi_lu *lu = t_lu_new("fileio", false, false, 0);
	uint8_t r10[10] = {0x28, 0, 0, 0, 0x07, 0xf0, 0, 0, 16, 0};
	struct t_task *t;

	(void)state;
	t_clear_ua(lu, &t_nx1);
	/* Shrink the file under the LU; its cached capacity is stale. */
	assert_int_equal(truncate(t_path, 1024 * T_BS), 0);
	t = t_run(lu, r10, 10, 16 * T_BS, false, &t_nx1);
	t_expect_sense(t, 0x03, 0x11, 0x00);
	assert_int_equal(get_be32(t->task.sense + 3), 0x7f0);
	assert_int_equal(truncate(t_path, (off_t)T_BLOCKS * T_BS), 0);
	scsi_lu_put(lu);
}

/* Descriptor-format INVALID FIELD carries the pointer in its own descriptor;
 * oversize transfers, nexus reset and capacity changes. */
static void
test_sense_formats(void **state)
{
	struct scsi_lu *lu = t_lu_new("fileio", false, false, 0);
	uint8_t r16[16] = {0x88};
	uint8_t rs[6] = {0x03, 0x01, 0, 0, 252, 0};
	uint8_t rc10[10] = {0x25};
	struct t_task *t;

	(void)state;
	t_clear_ua(lu, &t_nx1);
	t_clear_ua(lu, &t_nx2);
	/* More than SCSI_XFER_MAX: INVALID FIELD at the length (byte 10). */
	{
		struct scsi_lu_params p = {
		    .store = "nullio",
		    .store_bytes = 4ull * SCSI_XFER_MAX,
		    .block_size = T_BS,
		    .target_name = "iqn.2026-01.org.example:big",
		};
		struct scsi_lu *big = NULL;
		char why[128];

		assert_int_equal(scsi_lu_new(&p, &big, why, sizeof(why)), 0);
		t_clear_ua(big, &t_nx1);
		put_be32(r16 + 10, SCSI_XFER_MAX / T_BS + 1);
		t = t_run(big, r16, 16, 0, false, &t_nx1);
		t_expect_invalid_cdb(t, 10);
		assert_int_equal(t->task.sense_len, 18);
		scsi_lu_put(big);
	}
	/* REQUEST SENSE with DESC: descriptor format data. */
	scsi_lu_nexus_reset(lu, &t_nx1);
	t = t_run(lu, rs, 6, 252, false, &t_nx1);
	assert_int_equal(t->task.status, SCSI_STATUS_GOOD);
	assert_int_equal(t->buf[0], 0x72);
	assert_int_equal(t->buf[1], 0x06);
	assert_int_equal(t->buf[2], 0x29);
	assert_int_equal(t->buf[3], 0x00);
	assert_int_equal(t->task.data_in_len, 8);
	/* The other nexus was not reset. */
	t = t_run(lu, cdb_tur, 6, 0, false, &t_nx2);
	assert_int_equal(t->task.status, SCSI_STATUS_GOOD);
	/* The store grows: READ CAPACITY sees it, everyone gets 2A/09. */
	assert_int_equal(truncate(t_path, (off_t)2 * T_BLOCKS * T_BS), 0);
	t = t_run(lu, rc10, 10, 8, false, &t_nx1);
	assert_int_equal(get_be32(t->buf), 2 * T_BLOCKS - 1);
	t = t_run(lu, cdb_tur, 6, 0, false, &t_nx2);
	t_expect_sense(t, 0x06, 0x2a, 0x09);
	assert_int_equal(truncate(t_path, (off_t)T_BLOCKS * T_BS), 0);
	assert_int_equal(scsi_lu_blocks(lu), T_BLOCKS);
	scsi_lu_put(lu);
}

/* PERSISTENT RESERVE OUT/IN: register, reserve WE, conflict, preempt. */
static struct t_task *
t_prout(struct scsi_lu *lu, uint8_t sa, uint8_t type, uint64_t key,
    uint64_t sakey, struct scsi_nexus *nx)
{
	static struct t_task pt;

	t_prout_start(&pt, lu, nx, sa, type, key, sakey);
	t_wait(&pt);
	return &pt;
}

static void
test_persistent_reservations(void **state)
{
	struct scsi_lu *lu = t_lu_new("nullio", false, false, 0);
	uint8_t w10[10] = {0x2a, 0, 0, 0, 0, 0, 0, 0, 1, 0};
	uint8_t r10[10] = {0x28, 0, 0, 0, 0, 0, 0, 0, 1, 0};
	uint8_t keys[10] = {0x5e, 0x00, 0, 0, 0, 0, 0, 1, 0, 0};
	uint8_t resv[10] = {0x5e, 0x01, 0, 0, 0, 0, 0, 1, 0, 0};
	struct t_task *t;

	(void)state;
	t_clear_ua(lu, &t_nx1);
	t_clear_ua(lu, &t_nx2);
	snprintf(t_nx2.initiator_port, sizeof(t_nx2.initiator_port),
	    "iqn.i2,i,0x2");
	/* Wrong key for an unregistered nexus: conflict. */
	t = t_prout(lu, 0x00, 0, 5, 0xaa, &t_nx1);
	assert_int_equal(t->task.status, SCSI_STATUS_RESERVATION_CONFLICT);
	t = t_prout(lu, 0x00, 0, 0, 0xaa, &t_nx1);
	assert_int_equal(t->task.status, SCSI_STATUS_GOOD);
	t = t_prout(lu, 0x00, 0, 0, 0xbb, &t_nx2);
	assert_int_equal(t->task.status, SCSI_STATUS_GOOD);
	t = t_run(lu, keys, 10, 256, false, &t_nx1);
	assert_int_equal(get_be32(t->buf), 2); /* generation */
	assert_int_equal(get_be32(t->buf + 4), 16);
	assert_int_equal(get_be64(t->buf + 8), 0xaa);
	assert_int_equal(get_be64(t->buf + 16), 0xbb);
	/* Write Exclusive by nexus 1: nexus 2 may read, not write. */
	t = t_prout(lu, 0x01, 0x01, 0xaa, 0, &t_nx1);
	assert_int_equal(t->task.status, SCSI_STATUS_GOOD);
	t = t_run(lu, resv, 10, 256, false, &t_nx2);
	assert_int_equal(get_be32(t->buf + 4), 16);
	assert_int_equal(get_be64(t->buf + 8), 0xaa);
	assert_int_equal(t->buf[21], 0x01);
	t = t_run(lu, r10, 10, T_BS, false, &t_nx2);
	assert_int_equal(t->task.status, SCSI_STATUS_GOOD);
	t = t_run(lu, w10, 10, T_BS, true, &t_nx2);
	assert_int_equal(t->task.status, SCSI_STATUS_RESERVATION_CONFLICT);
	t = t_run(lu, w10, 10, T_BS, true, &t_nx1);
	assert_int_equal(t->task.status, SCSI_STATUS_GOOD);
	/* Release with the wrong type. */
	t = t_prout(lu, 0x02, 0x03, 0xaa, 0, &t_nx1);
	t_expect_sense(t, 0x05, 0x26, 0x04);
	/* Nexus 2 preempts: it holds, nexus 1 is unregistered. */
	t = t_prout(lu, 0x04, 0x03, 0xbb, 0xaa, &t_nx2);
	assert_int_equal(t->task.status, SCSI_STATUS_GOOD);
	/* The preempted nexus hears first, then meets the conflict. */
	t = t_run(lu, cdb_tur, 6, 0, false, &t_nx1);
	t_expect_sense(t, 0x06, 0x2a, 0x05);
	t = t_run(lu, r10, 10, T_BS, false, &t_nx1);
	assert_int_equal(t->task.status, SCSI_STATUS_RESERVATION_CONFLICT);
	t = t_prout(lu, 0x03, 0, 0xbb, 0, &t_nx2);
	assert_int_equal(t->task.status, SCSI_STATUS_GOOD);
	t = t_run(lu, r10, 10, T_BS, false, &t_nx1);
	assert_int_equal(t->task.status, SCSI_STATUS_GOOD);
	snprintf(t_nx2.initiator_port, sizeof(t_nx2.initiator_port),
	    "iqn.i1,i,0x1");
	scsi_lu_put(lu);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_unit_attention),
	    cmocka_unit_test(test_inquiry),
	    cmocka_unit_test(test_no_lu),
	    cmocka_unit_test(test_capacity),
	    cmocka_unit_test(test_physical_block_size),
	    cmocka_unit_test(test_read_write),
	    cmocka_unit_test(test_data_out_without_w),
	    cmocka_unit_test(test_ordering),
	    cmocka_unit_test(test_abort_waiting),
	    cmocka_unit_test(test_abort_others),
	    cmocka_unit_test(test_abort_others_twice),
	    cmocka_unit_test(test_abort_announced),
	    cmocka_unit_test(test_announced_itl_nomem),
	    cmocka_unit_test(test_pr_registration_cap),
	    cmocka_unit_test(test_preempt_abort),
	    cmocka_unit_test(test_mapped_read),
	    cmocka_unit_test(test_hoq_waits_for_overlap),
	    cmocka_unit_test(test_mode),
	    cmocka_unit_test(test_misc),
	    cmocka_unit_test(test_nexus_reinstatement),
	    cmocka_unit_test(test_write_same_unmap_verify),
	    cmocka_unit_test(test_write_same_to_end),
	    cmocka_unit_test(test_orwrite),
	    cmocka_unit_test(test_swp),
	    cmocka_unit_test(test_medium_error),
	    cmocka_unit_test(test_sense_formats),
	    cmocka_unit_test(test_persistent_reservations),
	};

	return cmocka_run_group_tests(tests, t_setup, t_teardown);
}
