/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The ietd authors */
/*
 * Persistent reservations across several target ports, which the iSCSI
 * layer does not offer yet (one portal group): ALL_TG_PT registrations
 * apply through every port, plain ones through their own, and REGISTER
 * AND MOVE reaches another relative target port (SPC-4 5.13.7, 5.13.8).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "scsi_harness.h"

/* Initiators 1 and 2, each through target ports 1 and 2. */
static struct scsi_nexus p1_nx1, p1_nx2, p2_nx1, p2_nx2;
#define I1 "iqn.2026-01.org.example:pr1,i,0x800000000001"
#define I2 "iqn.2026-01.org.example:pr2,i,0x800000000002"

static const uint8_t prout_cdb[10] = {0x5f, 0, 0, 0, 0, 0, 0, 0, 24, 0};

static struct h_task *
prout(struct scsi_lu *lu, struct scsi_nexus *nx, uint8_t sa, uint8_t type,
    uint64_t key, uint64_t sakey, uint8_t flags)
{
	uint8_t cdb[10], p[24] = {0};

	memcpy(cdb, prout_cdb, sizeof(cdb));
	cdb[1] = sa;
	cdb[2] = type;
	put_be64(p, key);
	put_be64(p + 8, sakey);
	p[20] = flags;
	return h_exec(lu, cdb, p, sizeof(p), sizeof(p), true, nx);
}

static uint8_t
write1(struct scsi_lu *lu, struct scsi_nexus *nx)
{
	static const uint8_t w10[10] = {0x2a, 0, 0, 0, 0, 8, 0, 0, 1, 0};
	static uint8_t block[H_BS];

	return h_exec(lu, w10, block, H_BS, H_BS, true, nx)->task.status;
}

static void
nexus(struct scsi_nexus *nx, uint64_t id, const char *iport, unsigned tpgt)
{
	memset(nx, 0, sizeof(*nx));
	nx->id = id;
	snprintf(nx->initiator_port, sizeof(nx->initiator_port), "%s", iport);
	snprintf(nx->target_port, sizeof(nx->target_port),
	    "iqn.2026-01.org.example:disk,t,0x%04x", tpgt);
	nx->rel_port_id = (uint16_t)tpgt;
	assert_int_equal(scsi_nexus_register(nx), 0);
}

static void
test_target_ports(void **state)
{
	struct scsi_lu *lu = h_lu("nullio", false);
	uint8_t keys[10] = {0x5e, 0x00, 0, 0, 0, 0, 0, 0, 255, 0};
	uint8_t rres[10] = {0x5e, 0x01, 0, 0, 0, 0, 0, 0, 255, 0};
	uint8_t full[10] = {0x5e, 0x03, 0, 0, 0, 0, 0, 0, 255, 0};
	uint8_t move[24 + 52] = {0}, cdb[10];
	static const char tid_i2[] = I2;
	struct h_task *t;

	(void)state;
	nexus(&p1_nx1, 201, I1, 1);
	nexus(&p1_nx2, 202, I2, 1);
	nexus(&p2_nx1, 203, I1, 2);
	nexus(&p2_nx2, 204, I2, 2);
	h_drain_ua(lu, &p1_nx1);
	h_drain_ua(lu, &p1_nx2);
	h_drain_ua(lu, &p2_nx1);
	h_drain_ua(lu, &p2_nx2);

	/* Initiator 1 registers through port 1 for all ports ... */
	h_expect_good(prout(lu, &p1_nx1, 0x00, 0, 0, 0x11, 0x04));
	/* ... and reserves through port 2 with that registration. */
	h_expect_good(prout(lu, &p2_nx1, 0x01, 0x01, 0x11, 0, 0));
	t = h_in(lu, full, 255);
	h_expect_good(t);
	assert_int_equal(get_be32(t->buf + 4), 24 + 52);
	assert_int_equal(t->buf[8 + 12], 0x03); /* ALL_TG_PT, R_HOLDER */
	assert_int_equal(get_be16(t->buf + 8 + 18), 0);
	/* The holder writes through either port; initiator 2 cannot. */
	assert_int_equal(write1(lu, &p1_nx1), H_GOOD);
	assert_int_equal(write1(lu, &p2_nx1), H_GOOD);
	assert_int_equal(write1(lu, &p1_nx2), H_CONFLICT);

	/* Initiator 2 registers through port 1 only: not through port 2. */
	h_expect_good(prout(lu, &p1_nx2, 0x00, 0, 0, 0x22, 0));
	t = prout(lu, &p2_nx2, 0x00, 0, 0x22, 0x22, 0);
	assert_int_equal(t->task.status, H_CONFLICT);
	h_expect_good(prout(lu, &p2_nx2, 0x00, 0, 0, 0x23, 0));
	t = h_in(lu, keys, 255);
	assert_int_equal(get_be32(t->buf + 4), 3 * 8);

	/* REGISTER AND MOVE to initiator 2 at relative port 2. */
	put_be64(move, 0x11);
	put_be64(move + 8, 0x99);
	put_be16(move + 18, 9); /* no such port */
	put_be32(move + 20, 52);
	move[24] = 0x45;
	put_be16(move + 26, 48);
	memcpy(move + 28, tid_i2, sizeof(tid_i2));
	memcpy(cdb, prout_cdb, sizeof(cdb));
	cdb[1] = 0x07;
	cdb[8] = sizeof(move);
	t = h_exec(lu, cdb, move, sizeof(move), sizeof(move), true, &p1_nx1);
	assert_int_equal(t->task.status, H_CHECK);
	assert_int_equal(t->task.sense[12], 0x26);
	assert_int_equal(get_be16(t->task.sense + 16), 18);
	put_be16(move + 18, 2);
	t = h_exec(lu, cdb, move, sizeof(move), sizeof(move), true, &p1_nx1);
	h_expect_good(t);
	/* Registered already there: its key stays 0x23, and it holds. */
	t = h_in(lu, rres, 255);
	assert_int_equal(get_be64(t->buf + 8), 0x23);
	assert_int_equal(write1(lu, &p2_nx2), H_GOOD);
	assert_int_equal(write1(lu, &p1_nx2), H_CONFLICT);
	assert_int_equal(write1(lu, &p1_nx1), H_CONFLICT);

	scsi_nexus_unregister(&p1_nx1);
	scsi_nexus_unregister(&p1_nx2);
	scsi_nexus_unregister(&p2_nx1);
	scsi_nexus_unregister(&p2_nx2);
	scsi_lu_put(lu);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_target_ports),
	};

	return cmocka_run_group_tests(tests, h_setup, h_teardown);
}
