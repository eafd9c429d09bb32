/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The ietd authors */
/*
 * Persistent reservations of an LU two gateways export (pr_shared.c),
 * without a cluster: two LUs of one store type whose shared state is a
 * blob in this file (compare-and-set on a version, a change told to the
 * other LU's watcher before the writer's command completes), as the RBD
 * store's RADOS object is. Registration through one gateway, reservation
 * through the other, conflicts, unit attentions and preemption across
 * them, a lost compare-and-set race, and a corrupted state.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "scsi_harness.h"

#include "scsi/scsi_int.h"
#include "util/alloc.h"

/* The shared state: one blob and its version. */
static uint8_t *fk_blob;
static size_t fk_len;
static uint64_t fk_ver;
static unsigned int fk_applies;
static bool fk_race_once; /* the next write loses to another gateway */
static struct {
	struct backend *be;
	backend_state_changed_fn *fn;
	void *arg;
} fk_watch[2];
static unsigned int fk_nwatch;

static int
fk_read(struct backend *be, uint8_t **out, size_t *len, uint64_t *version)
{
	(void)be;
	*version = fk_ver;
	*out = NULL;
	*len = fk_len;
	if (fk_blob == NULL)
		return 0;
	*out = mem_alloc(fk_len);
	memcpy(*out, fk_blob, fk_len);
	return 0;
}

static void
fk_update(struct backend *be, struct backend_state_op *op)
{
	for (;;) {
		uint8_t *out = NULL, *note = NULL;
		size_t outlen = 0, notelen = 0;
		uint64_t ver = fk_ver;
		int rc;

		fk_applies++;
		rc = op->apply(op, fk_blob, fk_len, &out, &outlen, &note,
		    &notelen);
		op->version = ver;
		if (rc != 0) {
			op->io.result = rc < 0 ? rc : 0;
			break;
		}
		if (fk_race_once) {
			fk_race_once = false;
			fk_ver++; /* somebody wrote the same bytes first */
		}
		if (ver != fk_ver) {
			mem_free(out);
			mem_free(note);
			continue;
		}
		mem_free(fk_blob);
		fk_blob = out;
		fk_len = outlen;
		op->version = ++fk_ver;
		for (unsigned int i = 0; i < fk_nwatch; i++)
			if (fk_watch[i].be != be)
				fk_watch[i].fn(fk_watch[i].arg, fk_blob, fk_len,
				    fk_ver, 0, note, notelen);
		mem_free(note);
		op->io.result = 0;
		break;
	}
	if (op->io.cq != NULL)
		backend_cq_post(op->io.cq, &op->io);
	else
		op->io.done(&op->io);
}

static int
fk_watch_add(struct backend *be, backend_state_changed_fn *fn, void *arg)
{
	assert_true(fk_nwatch < 2);
	fk_watch[fk_nwatch].be = be;
	fk_watch[fk_nwatch].fn = fn;
	fk_watch[fk_nwatch].arg = arg;
	fk_nwatch++;
	return 0;
}

static const struct backend_state_ops fk_state = {
    .read = fk_read,
    .update = fk_update,
    .watch = fk_watch_add,
};
/* A gateway's LU: nullio, with the shared state above. */
static struct scsi_lu *
gateway(void)
{
	struct scsi_lu *lu = h_lu("nullio", false);

	backend_state_set_ops(lu->be, &fk_state);
	assert_true(scsi_pr_shared_open(lu));
	return lu;
}

#define IQN "iqn.2026-01.org.example:"
static struct scsi_nexus a1, a3, b1, b2;

static void
nexus(struct scsi_nexus *nx, uint64_t id, const char *ini, unsigned tpgt)
{
	memset(nx, 0, sizeof(*nx));
	nx->id = id;
	snprintf(nx->initiator_port, sizeof(nx->initiator_port), IQN "%s", ini);
	snprintf(nx->target_port, sizeof(nx->target_port), IQN "disk,t,0x%04x",
	    tpgt);
	nx->rel_port_id = (uint16_t)tpgt;
	assert_int_equal(scsi_nexus_register(nx), 0);
}

static struct h_task *
prout(struct scsi_lu *lu, struct scsi_nexus *nx, uint8_t sa, uint8_t type,
    uint64_t key, uint64_t sakey, uint8_t flags)
{
	uint8_t cdb[10] = {0x5f, sa, type, 0, 0, 0, 0, 0, 24, 0}, p[24] = {0};

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

static struct h_task *
prin(struct scsi_lu *lu, struct scsi_nexus *nx, uint8_t sa)
{
	uint8_t cdb[10] = {0x5e, sa, 0, 0, 0, 0, 0, 0, 255, 0};

	return h_exec(lu, cdb, NULL, 0, 255, false, nx);
}

/* The next command of nx on lu meets this unit attention. */
static void
expect_ua(struct scsi_lu *lu, struct scsi_nexus *nx, uint8_t asc, uint8_t ascq)
{
	static const uint8_t tur[6] = {0x00};
	struct h_task *t = h_exec(lu, tur, NULL, 0, 0, false, nx);

	assert_int_equal(t->task.status, H_CHECK);
	assert_int_equal(t->task.sense[2] & 0x0f, H_SK_UA);
	assert_int_equal(t->task.sense[12], asc);
	assert_int_equal(t->task.sense[13], ascq);
}

static void
test_two_gateways(void **state)
{
	struct scsi_lu *a, *b;
	struct h_task *t;
	uint8_t *bad;

	(void)state;
	a = gateway();
	b = gateway();
	/* I1 and I3 through gateway A (tpgt 1), I1 and I2 through B (2). */
	nexus(&a1, 301, "i1,i,0x1", 1);
	nexus(&a3, 303, "i3,i,0x3", 1);
	nexus(&b1, 311, "i1,i,0x1", 2);
	nexus(&b2, 312, "i2,i,0x2", 2);
	h_drain_ua(a, &a1);
	h_drain_ua(a, &a3);
	h_drain_ua(b, &b1);
	h_drain_ua(b, &b2);

	/* Register I1 through A, I2 through B: both see both keys. */
	h_expect_good(prout(a, &a1, 0x00, 0, 0, 0xa1, 0));
	h_expect_good(prout(b, &b2, 0x00, 0, 0, 0xb2, 0));
	t = prin(a, &a1, 0x00);
	h_expect_good(t);
	assert_int_equal(get_be32(t->buf), 2);
	assert_int_equal(get_be32(t->buf + 4), 16);
	assert_int_equal(get_be64(t->buf + 8), 0xa1);
	assert_int_equal(get_be64(t->buf + 16), 0xb2);
	/* I1's registration is through A's port: not B's. */
	assert_int_equal(prout(b, &b1, 0x01, 0x01, 0xa1, 0, 0)->task.status,
	    H_CONFLICT);

	/* I2 reserves (Write Exclusive) through B: A enforces it. */
	h_expect_good(prout(b, &b2, 0x01, 0x01, 0xb2, 0, 0));
	assert_int_equal(write1(a, &a3), H_CONFLICT);
	assert_int_equal(write1(a, &a1), H_CONFLICT);
	assert_int_equal(write1(b, &b2), H_GOOD);
	t = prin(a, &a1, 0x01);
	h_expect_good(t);
	assert_int_equal(get_be32(t->buf + 4), 16);
	assert_int_equal(get_be64(t->buf + 8), 0xb2);
	assert_int_equal(t->buf[21], 0x01);
	/* RESERVE (6) is refused on A too: registrations exist. */
	{
		static const uint8_t rsv[6] = {0x16, 0, 0, 0, 0, 0};

		assert_int_equal(h_exec(a, rsv, NULL, 0, 0, false, &a3)
				     ->task.status,
		    H_CONFLICT);
	}

	/*
	 * I1 preempts I2 through A (PREEMPT AND ABORT), losing one
	 * compare-and-set race on the way: I2's nexus on B learns its
	 * registration is gone, and A now holds.
	 */
	fk_applies = 0;
	fk_race_once = true;
	h_expect_good(prout(a, &a1, 0x05, 0x01, 0xa1, 0xb2, 0));
	assert_int_equal(fk_applies, 2);
	expect_ua(b, &b2, 0x2a, 0x05);
	h_drain_ua(b, &b2);
	assert_int_equal(write1(b, &b2), H_CONFLICT);
	assert_int_equal(write1(a, &a1), H_GOOD);
	t = prin(b, &b2, 0x00);
	assert_int_equal(get_be32(t->buf + 4), 8);
	assert_int_equal(get_be64(t->buf + 8), 0xa1);

	/* A gateway coming later (a restart) finds it all: APTPL in it. */
	fk_nwatch = 1; /* b's LU goes */
	scsi_lu_put(b);
	b = gateway();
	h_drain_ua(b, &b2);
	assert_int_equal(write1(b, &b2), H_CONFLICT);
	t = prin(b, &b2, 0x01);
	assert_int_equal(get_be64(t->buf + 8), 0xa1);

	/*
	 * A corrupted state (a flipped byte): not trusted, nor overwritten;
	 * PERSISTENT RESERVE OUT fails, a new gateway starts without it.
	 */
	bad = fk_blob;
	bad[fk_len - 1] ^= 0x40;
	t = prout(b, &b2, 0x00, 0, 0, 0xb3, 0);
	assert_int_equal(t->task.status, H_CHECK);
	assert_int_equal(t->task.sense[2] & 0x0f, 0x4); /* HARDWARE ERROR */
	assert_int_equal(t->task.sense[12], 0x44);
	assert_ptr_equal(fk_blob, bad);
	/* The gateways keep what they had. */
	assert_int_equal(write1(b, &b2), H_CONFLICT);
	fk_nwatch = 1;
	scsi_lu_put(b);
	b = gateway();
	h_drain_ua(b, &b2);
	assert_int_equal(write1(b, &b2), H_GOOD);
	t = prin(b, &b2, 0x00);
	assert_int_equal(get_be32(t->buf + 4), 0);

	scsi_nexus_unregister(&a1);
	scsi_nexus_unregister(&a3);
	scsi_nexus_unregister(&b1);
	scsi_nexus_unregister(&b2);
	fk_nwatch = 0;
	scsi_lu_put(a);
	scsi_lu_put(b);
	mem_free(fk_blob);
	fk_blob = NULL;
	fk_len = 0;
}

/*
 * SPC-2 RESERVE through one gateway holds off the other; RELEASE, the
 * holder's nexus going away and a LOGICAL UNIT RESET end it for both.
 */
static void
test_spc2(void **state)
{
	static const uint8_t rsv[6] = {0x16, 0, 0, 0, 0, 0};
	static const uint8_t rel[6] = {0x17, 0, 0, 0, 0, 0};
	struct scsi_lu *a, *b;

	(void)state;
	a = gateway();
	b = gateway();
	nexus(&a1, 321, "i1,i,0x1", 1);
	nexus(&a3, 323, "i3,i,0x3", 1);
	nexus(&b2, 322, "i2,i,0x2", 2);
	h_drain_ua(a, &a1);
	h_drain_ua(a, &a3);
	h_drain_ua(b, &b2);

	h_expect_good(h_exec(a, rsv, NULL, 0, 0, false, &a1));
	assert_int_equal(write1(b, &b2), H_CONFLICT);
	assert_int_equal(h_exec(b, rsv, NULL, 0, 0, false, &b2)->task.status,
	    H_CONFLICT);
	assert_int_equal(write1(a, &a3), H_CONFLICT);
	assert_int_equal(write1(a, &a1), H_GOOD);
	/* Another's RELEASE leaves it (SPC-2 7.17); the holder's ends it. */
	h_expect_good(h_exec(b, rel, NULL, 0, 0, false, &b2));
	assert_int_equal(write1(b, &b2), H_CONFLICT);
	h_expect_good(h_exec(a, rel, NULL, 0, 0, false, &a1));
	assert_int_equal(write1(b, &b2), H_GOOD);

	/* B's nexus reserves; A's refuse; its loss on B frees A's. */
	h_expect_good(h_exec(b, rsv, NULL, 0, 0, false, &b2));
	assert_int_equal(write1(a, &a1), H_CONFLICT);
	scsi_nexus_unregister(&b2);
	assert_int_equal(write1(a, &a1), H_GOOD);

	/* A LOGICAL UNIT RESET through A ends one held through B. */
	nexus(&b2, 324, "i2,i,0x2", 2);
	h_drain_ua(b, &b2);
	h_expect_good(h_exec(b, rsv, NULL, 0, 0, false, &b2));
	assert_int_equal(write1(a, &a3), H_CONFLICT);
	scsi_lu_reset(a, &a3);
	h_drain_ua(a, &a1);
	h_drain_ua(a, &a3);
	h_drain_ua(b, &b2);
	assert_int_equal(write1(a, &a3), H_GOOD);
	assert_int_equal(write1(b, &b2), H_GOOD);

	/* No RESERVE while persistent registrations exist, on any gateway. */
	h_expect_good(prout(a, &a1, 0x00, 0, 0, 0xa1, 0));
	assert_int_equal(h_exec(b, rsv, NULL, 0, 0, false, &b2)->task.status,
	    H_CONFLICT);

	scsi_nexus_unregister(&a1);
	scsi_nexus_unregister(&a3);
	scsi_nexus_unregister(&b2);
	fk_nwatch = 0;
	scsi_lu_put(a);
	scsi_lu_put(b);
	mem_free(fk_blob);
	fk_blob = NULL;
	fk_len = 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_two_gateways),
	    cmocka_unit_test(test_spc2),
	};

	return cmocka_run_group_tests(tests, h_setup, h_teardown);
}
