/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The ietd authors */
/*
 * Shared harness for the SCSI CDB tests: run one command against an LU
 * through the public scsi.h API and a real completion queue, and check a
 * table of expected outcomes (status, sense key, ASC/ASCQ, INFORMATION
 * and the SPC-4 4.5.2.4.2 field pointer) in fixed and descriptor format.
 * Header-only (static inline) so each test program includes it once.
 */
#ifndef IETD_TESTS_SCSI_HARNESS_H
#define IETD_TESTS_SCSI_HARNESS_H

#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "backend/backend.h"
#include "scsi/scsi.h"
#include "util/be.h"

#define H_BLOCKS 2048
#define H_BS 512
#define H_BUF (160 * 1024)

/* Status and sense values the tests name (SAM-5, SPC-4 annex D). */
#define H_GOOD 0x00
#define H_CHECK 0x02
#define H_CONFLICT 0x18
#define H_SK_NOT_READY 0x2
#define H_SK_MEDIUM 0x3
#define H_SK_ILLEGAL 0x5
#define H_SK_UA 0x6
#define H_SK_PROTECT 0x7
#define H_SK_MISCOMPARE 0xe

static char h_path[256];
static struct scsi_queue *h_cq;
static struct scsi_nexus h_nx1, h_nx2;
static const uint64_t h_luns[] = {0, 1, 300};

struct h_task {
	struct scsi_task task;
	uint8_t buf[H_BUF];
	int ndone;
};

static struct h_task h_t;

static inline void
h_done(struct scsi_task *task)
{
	struct h_task *t = task->priv;

	t->ndone++;
}

/* CDB length from the group code (SPC-4 4.2.5.1). */
static inline unsigned int
h_cdb_len(uint8_t op)
{
	switch (op >> 5) {
	case 0:
		return 6;
	case 1:
	case 2:
		return 10;
	case 5:
		return 12;
	default:
		return 16;
	}
}

/*
 * Run cdb on lu for nx. For Data-Out the first dlen bytes of data go in
 * the buffer; for Data-In the buffer is filled with 0xcc first so bytes
 * not written by the device server show.
 */
/* Out of line: callers pass CDB arrays shorter than 16 bytes. */
static __attribute__((noinline)) struct h_task *
h_exec(struct scsi_lu *lu, const uint8_t *cdb, const void *data, uint32_t dlen,
    uint32_t len, bool out, struct scsi_nexus *nx)
{
	struct h_task *t = &h_t;
	struct pollfd pfd;

	memset(&t->task, 0, sizeof(t->task));
	if (out) {
		if (data != NULL && dlen > 0)
			memmove(t->buf, data, dlen);
	} else {
		memset(t->buf, 0xcc, sizeof(t->buf));
	}
	memcpy(t->task.cdb, cdb, h_cdb_len(cdb[0]));
	t->task.cdb_len = h_cdb_len(cdb[0]);
	t->task.attr = SCSI_ATTR_SIMPLE;
	t->task.nexus = nx;
	t->task.queue = h_cq;
	t->task.data = t->buf;
	t->task.data_len = len;
	t->task.data_out = out;
	t->task.data_in = !out && len > 0;
	t->task.done = h_done;
	t->task.priv = t;
	t->ndone = 0;
	scsi_task_exec(lu, &t->task, h_luns, 3);
	while (t->ndone == 0) {
		pfd.fd = scsi_queue_fd(h_cq);
		pfd.events = POLLIN;
		assert_int_equal(poll(&pfd, 1, 5000), 1);
		scsi_queue_drain(h_cq);
	}
	assert_int_equal(t->ndone, 1);
	return t;
}

/* Data-In command (or none) from nexus 1. */
static inline struct h_task *
h_in(struct scsi_lu *lu, const uint8_t *cdb, uint32_t len)
{
	return h_exec(lu, cdb, NULL, 0, len, false, &h_nx1);
}

/* Data-Out command from nexus 1. */
static inline struct h_task *
h_out(struct scsi_lu *lu, const uint8_t *cdb, const void *data, uint32_t len)
{
	return h_exec(lu, cdb, data, len, len, true, &h_nx1);
}

/* Take every pending unit attention of nx on lu (TEST UNIT READY). */
static inline void
h_drain_ua(struct scsi_lu *lu, struct scsi_nexus *nx)
{
	static const uint8_t tur[6] = {0x00};
	struct h_task *t;
	int i;

	for (i = 0; i < 16; i++) {
		t = h_exec(lu, tur, NULL, 0, 0, false, nx);
		if (t->task.status != H_CHECK ||
		    (t->task.sense[2] & 0x0f) != H_SK_UA)
			return;
	}
	fail_msg("unit attentions do not drain");
}

static inline void
h_expect_good(const struct h_task *t)
{
	assert_int_equal(t->task.status, H_GOOD);
	assert_int_equal(t->task.sense_len, 0);
}

static inline void
h_expect_bytes(const uint8_t *got, const uint8_t *want, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (got[i] != want[i])
			fail_msg("byte %zu: got 0x%02x, want 0x%02x", i, got[i],
			    want[i]);
	}
}

static inline struct scsi_lu *
h_lu_open(const char *type, uint64_t bytes, bool ro, bool wce)
{
	struct scsi_lu_params p = {
	    .lun = 0,
	    .store = type,
	    .path = h_path,
	    .store_bytes = bytes,
	    .write_through = !wce,
	    .block_size = H_BS,
	    .scsi_id = "ietd-id-1",
	    .scsi_sn = "ietd-sn-1",
	    .target_name = "iqn.2026-01.org.example:disk",
	    .tid = 1,
	    .read_only = ro,
	    .write_cache = wce,
	};
	struct scsi_lu *lu = NULL;
	char why[256];
	static const uint8_t tur[6] = {0x00};
	struct h_task *t;

	assert_int_equal(scsi_lu_new(&p, &lu, why, sizeof(why)), 0);
	/* Consume the power-on UA of both nexuses. */
	t = h_exec(lu, tur, NULL, 0, 0, false, &h_nx1);
	assert_int_equal(t->task.status, H_CHECK);
	t = h_exec(lu, tur, NULL, 0, 0, false, &h_nx2);
	assert_int_equal(t->task.status, H_CHECK);
	return lu;
}

static inline struct scsi_lu *
h_lu(const char *type, bool ro)
{
	return h_lu_open(type, (uint64_t)H_BLOCKS * H_BS, ro, false);
}

/*
 * Set the control mode page's D_SENSE (SPC-4 7.5.8) through MODE SELECT
 * (6) from nexus 1; the page must otherwise equal its current value.
 */
static inline void
h_dsense(struct scsi_lu *lu, bool on)
{
	uint8_t sel[6] = {0x15, 0x10, 0, 0, 16, 0};
	uint8_t p[16];
	struct h_task *t;

	memset(p, 0, sizeof(p));
	p[4] = 0x0a;
	p[5] = 10;
	p[6] = on ? 0x04 : 0x00;
	p[7] = 0x10;
	p[9] = 0x40; /* TAS */
	put_be16(p + 12, 0xffff);
	t = h_out(lu, sel, p, sizeof(p));
	h_expect_good(t);
}

/* One expected outcome. Zero-filled fields mean GOOD with no sense. */
struct h_case {
	const char *name;
	uint8_t cdb[16];
	const uint8_t *data; /* Data-Out bytes, dlen of them */
	uint32_t dlen;
	uint32_t len; /* buffer length (Expected Data Transfer Length) */
	bool out;
	uint8_t status, key, asc, ascq;
	bool sks; /* field pointer expected */
	unsigned int byte;
	int bit; /* -1: BPV clear */
	bool info;
	uint64_t infov;
};

#define H_INV_CDB(b, bt)                                                  \
	.status = H_CHECK, .key = H_SK_ILLEGAL, .asc = 0x24, .sks = true, \
	.byte = (b), .bit = (bt)
#define H_INV_PARAM(b, bt)                                                \
	.status = H_CHECK, .key = H_SK_ILLEGAL, .asc = 0x26, .sks = true, \
	.byte = (b), .bit = (bt)
#define H_SENSE(k, a, q) .status = H_CHECK, .key = (k), .asc = (a), .ascq = (q)
#define H_LBA_OOR H_SENSE(H_SK_ILLEGAL, 0x21, 0x00)
#define H_PLL_ERR H_SENSE(H_SK_ILLEGAL, 0x1a, 0x00)
#define H_BAD_OPCODE H_SENSE(H_SK_ILLEGAL, 0x20, 0x00)
#define H_PROTECTED H_SENSE(H_SK_PROTECT, 0x27, 0x00)

#define H_CHK(c, what, got, want)                                            \
	do {                                                                 \
		unsigned long long g_ = (got), w_ = (want);                  \
		if (g_ != w_)                                                \
			fail_msg("%s: %s is 0x%llx, want 0x%llx", (c)->name, \
			    (what), g_, w_);                                 \
	} while (0)

/* Check the sense of t against c, in the format desc says. */
static inline void
h_check_sense(const struct h_case *c, const struct h_task *t, bool desc)
{
	const uint8_t *s = t->task.sense;
	uint8_t sks0 = 0;
	unsigned int off, i;

	if (c->sks)
		sks0 = (uint8_t)(0x80 | (c->asc == 0x24 ? 0x40 : 0) |
		    (c->bit >= 0 ? 0x08 | c->bit : 0));
	if (!desc) {
		H_CHK(c, "sense length", t->task.sense_len, 18);
		H_CHK(c, "response code", s[0], c->info ? 0xf0 : 0x70);
		H_CHK(c, "byte 1", s[1], 0);
		H_CHK(c, "sense key", s[2], c->key);
		H_CHK(c, "information", get_be32(s + 3),
		    c->info ? c->infov : 0);
		H_CHK(c, "additional length", s[7], 10);
		H_CHK(c, "command-specific", get_be32(s + 8), 0);
		H_CHK(c, "ASC", s[12], c->asc);
		H_CHK(c, "ASCQ", s[13], c->ascq);
		H_CHK(c, "FRU", s[14], 0);
		H_CHK(c, "SKS byte 15", s[15], sks0);
		H_CHK(c, "field pointer", get_be16(s + 16),
		    c->sks ? c->byte : 0);
		return;
	}
	H_CHK(c, "response code", s[0], 0x72);
	H_CHK(c, "sense key", s[1], c->key);
	H_CHK(c, "ASC", s[2], c->asc);
	H_CHK(c, "ASCQ", s[3], c->ascq);
	for (i = 4; i < 7; i++)
		H_CHK(c, "reserved header byte", s[i], 0);
	H_CHK(c, "additional length", s[7],
	    (c->info ? 12 : 0) + (c->sks ? 8 : 0));
	H_CHK(c, "sense length", t->task.sense_len, 8u + s[7]);
	off = 8;
	if (c->info) {
		/* Information descriptor (SPC-4 4.5.2.2). */
		H_CHK(c, "info descriptor type", s[off], 0x00);
		H_CHK(c, "info descriptor length", s[off + 1], 0x0a);
		H_CHK(c, "info VALID", s[off + 2], 0x80);
		H_CHK(c, "info reserved", s[off + 3], 0);
		H_CHK(c, "information", get_be64(s + off + 4), c->infov);
		off += 12;
	}
	if (c->sks) {
		/* Sense key specific descriptor (SPC-4 4.5.2.4). */
		H_CHK(c, "SKS descriptor type", s[off], 0x02);
		H_CHK(c, "SKS descriptor length", s[off + 1], 0x06);
		H_CHK(c, "SKS reserved", get_be16(s + off + 2), 0);
		H_CHK(c, "SKS byte 0", s[off + 4], sks0);
		H_CHK(c, "field pointer", get_be16(s + off + 5), c->byte);
		H_CHK(c, "SKS reserved 7", s[off + 7], 0);
	}
}

static inline void
h_check(struct scsi_lu *lu, const struct h_case *c, bool desc)
{
	const struct h_task *t;

	t = h_exec(lu, c->cdb, c->data, c->dlen, c->len, c->out, &h_nx1);
	H_CHK(c, "status", t->task.status, c->status);
	if (c->status != H_CHECK) {
		H_CHK(c, "sense length", t->task.sense_len, 0);
		return;
	}
	h_check_sense(c, t, desc);
}

/*
 * Run every case with fixed format sense, then again after MODE SELECT
 * sets D_SENSE (descriptor format), and put D_SENSE back.
 */
static inline void
h_cases(struct scsi_lu *lu, const struct h_case *cases, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		h_check(lu, &cases[i], false);
	h_dsense(lu, true);
	for (i = 0; i < n; i++)
		h_check(lu, &cases[i], true);
	h_dsense(lu, false);
}

#define H_NCASES(a) (sizeof(a) / sizeof((a)[0]))

static inline int
h_setup(void **state)
{
	int fd;

	(void)state;
	snprintf(h_path, sizeof(h_path), "build/test_scsi_h.%d.img",
	    (int)getpid());
	fd = open(h_path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || ftruncate(fd, (off_t)H_BLOCKS * H_BS) < 0)
		return -1;
	close(fd);
	/* No APTPL file of a unit test ever reaches a real directory. */
	if (scsi_pr_store_set_dir("/proc/ietd-unit-no-state") != 0)
		return -1;
	h_cq = scsi_queue_new(false);
	h_nx1.id = 101;
	snprintf(h_nx1.initiator_port, sizeof(h_nx1.initiator_port),
	    "iqn.2026-01.org.example:i1,i,0x1");
	snprintf(h_nx1.target_port, sizeof(h_nx1.target_port),
	    "iqn.2026-01.org.example:disk,t,0x0001");
	h_nx1.rel_port_id = 1;
	h_nx2 = h_nx1;
	h_nx2.id = 102;
	snprintf(h_nx2.initiator_port, sizeof(h_nx2.initiator_port),
	    "iqn.2026-01.org.example:i2,i,0x2");
	scsi_nexus_register(&h_nx1);
	scsi_nexus_register(&h_nx2);
	return h_cq == NULL ? -1 : 0;
}

static inline int
h_teardown(void **state)
{
	(void)state;
	scsi_nexus_unregister(&h_nx1);
	scsi_nexus_unregister(&h_nx2);
	scsi_queue_free(h_cq);
	backend_workers_stop();
	unlink(h_path);
	return 0;
}

#endif /* IETD_TESTS_SCSI_HARNESS_H */
