/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The ietd authors */
/*
 * libFuzzer target for what another gateway puts in the shared
 * reservation state of an LU (pr_shared.c): each input is a flags byte,
 * a 16-bit length, that many bytes of state (as read from the RADOS
 * object) and the rest as the change note of the notification, handed
 * to the LU's watcher callback as the store's thread would. With flag
 * 01h the state's header is made valid first (version, length and
 * CRC32C), so inputs reach the decoder past the checksum. Nexuses with
 * I_T_Ls whose names the seeds use get the unit attentions; a READ KEYS
 * and a WRITE then read the installed state.
 */
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "backend/backend.h"
#include "scsi/scsi_int.h"
#include "state_dir.h"
#include "util/be.h"
#include "util/crc32c.h"

#define FUZZ_HDR 3
#define FUZZ_STATE_HDR 20 /* pr_store.c's file header */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct scsi_queue *fuzz_cq;
static struct scsi_lu *fuzz_lu;
static struct scsi_nexus fuzz_nx[2];
static const uint64_t fuzz_luns[] = {0};
static backend_state_changed_fn *fuzz_fn;
static void *fuzz_arg;
static uint64_t fuzz_version;

static int
fuzz_read(struct backend *be, uint8_t **out, size_t *len, uint64_t *version)
{
	(void)be;
	*out = NULL;
	*len = 0;
	*version = 0;
	return 0;
}

static void
fuzz_update(struct backend *be, struct backend_state_op *op)
{
	(void)be;
	op->io.result = -EIO;
	if (op->io.cq != NULL)
		backend_cq_post(op->io.cq, &op->io);
	else
		op->io.done(&op->io);
}

static int
fuzz_watch(struct backend *be, backend_state_changed_fn *fn, void *arg)
{
	(void)be;
	fuzz_fn = fn;
	fuzz_arg = arg;
	return 0;
}

static const struct backend_state_ops fuzz_state = {
    .read = fuzz_read,
    .update = fuzz_update,
    .watch = fuzz_watch,
};

static void
fuzz_done(struct scsi_task *task)
{
	int *ndone = task->priv;

	(*ndone)++;
}

static void
fuzz_exec(const uint8_t *cdb, unsigned int cdb_len, uint8_t *buf, uint32_t len,
    bool out, struct scsi_nexus *nx)
{
	struct scsi_task task;
	struct pollfd pfd;
	int ndone = 0, rc;

	memset(&task, 0, sizeof(task));
	memcpy(task.cdb, cdb, cdb_len);
	task.cdb_len = cdb_len;
	task.nexus = nx;
	task.queue = fuzz_cq;
	task.data = buf;
	task.data_len = len;
	task.data_out = out;
	task.data_in = !out && len > 0;
	task.done = fuzz_done;
	task.priv = &ndone;
	scsi_task_exec(fuzz_lu, &task, fuzz_luns, 1);
	while (ndone == 0) {
		pfd.fd = scsi_queue_fd(fuzz_cq);
		pfd.events = POLLIN;
		rc = poll(&pfd, 1, 10000);
		if (rc < 0 && errno == EINTR)
			continue;
		if (rc != 1)
			abort();
		scsi_queue_drain(fuzz_cq);
	}
}

static int
fuzz_init(void)
{
	struct scsi_lu_params p = {
	    .lun = 0,
	    .store = "nullio",
	    .store_bytes = 1024 * 1024,
	    .block_size = 512,
	    .scsi_id = "fuzz-pr",
	    .target_name = "iqn.2026-01.org.example:fuzz",
	    .tid = 1,
	};
	static const uint8_t tur[6];
	char why[128];

	if (fuzz_state_dir_init() != 0)
		abort();
	fuzz_cq = scsi_queue_new(false);
	if (fuzz_cq == NULL || scsi_lu_new(&p, &fuzz_lu, why, sizeof(why)) < 0)
		abort();
	backend_state_set_ops(fuzz_lu->be, &fuzz_state);
	if (!scsi_pr_shared_open(fuzz_lu) || fuzz_fn == NULL)
		abort();
	for (int i = 0; i < 2; i++) {
		fuzz_nx[i].id = (uint64_t)i + 1;
		snprintf(fuzz_nx[i].target_port, sizeof(fuzz_nx[i].target_port),
		    "iqn.2026-01.org.example:fuzz,t,0x%04x", i + 1);
		snprintf(fuzz_nx[i].initiator_port,
		    sizeof(fuzz_nx[i].initiator_port), "iqn.fuzz:i%d,i,0x%d",
		    i + 1, i + 1);
		fuzz_nx[i].rel_port_id = (uint16_t)(i + 1);
		scsi_nexus_register(&fuzz_nx[i]);
		fuzz_exec(tur, 6, NULL, 0, false, &fuzz_nx[i]); /* its I_T_L */
	}
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int inited;
	static uint8_t buf[65536];
	static const uint8_t keys[10] = {0x5e, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0};
	static const uint8_t w10[10] = {0x2a, 0, 0, 0, 0, 0, 0, 0, 1, 0};
	uint8_t *state = NULL;
	size_t len;

	if (!inited)
		inited = !fuzz_init();
	if (size < FUZZ_HDR)
		return 0;
	len = get_be16(data + 1);
	if (len > size - FUZZ_HDR)
		len = size - FUZZ_HDR;
	if (len > 0) {
		state = malloc(len);
		if (state == NULL)
			abort();
		memcpy(state, data + FUZZ_HDR, len);
		if ((data[0] & 0x01) && len >= FUZZ_STATE_HDR) {
			put_be32(state + 8, 1);
			put_be32(state + 12, (uint32_t)(len - FUZZ_STATE_HDR));
			put_be32(state + 16,
			    crc32c_final(crc32c_update(CRC32C_INIT,
				state + FUZZ_STATE_HDR, len - FUZZ_STATE_HDR)));
		}
	}
	fuzz_fn(fuzz_arg, state, len, ++fuzz_version, 0, data + FUZZ_HDR + len,
	    size - FUZZ_HDR - len);
	free(state);
	fuzz_exec(keys, 10, buf, sizeof(buf), false, &fuzz_nx[0]);
	fuzz_exec(w10, 10, buf, 512, true, &fuzz_nx[1]);
	return 0;
}
