/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The ietd authors */
/*
 * libFuzzer target for the SCSI layer: each input is one command (a flags
 * byte, a 16-byte CDB, then Data-Out bytes) run against a nullio LU or a
 * missing LUN, waiting for its completion on a real queue.
 */
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "scsi/scsi.h"
#include "state_dir.h"

#define FUZZ_LU_BYTES (1024 * 1024)
#define FUZZ_BUF_MAX (256 * 1024)
#define FUZZ_HDR 17

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct scsi_queue *fuzz_cq;
static struct scsi_lu *fuzz_lu;
static struct scsi_nexus fuzz_nx[2];
static const uint64_t fuzz_luns[] = {0, 5, 700};

static void
fuzz_done(struct scsi_task *task)
{
	int *ndone = task->priv;

	if (task->data_in_len > task->data_len ||
	    task->sense_len > SCSI_SENSE_MAX)
		abort();
	(*ndone)++;
}

static int
fuzz_init(void)
{
	struct scsi_lu_params p = {
	    .lun = 0,
	    .store = "nullio",
	    .store_bytes = FUZZ_LU_BYTES,
	    .block_size = 512,
	    .target_name = "iqn.2026-01.org.example:fuzz",
	    .tid = 1,
	};
	char why[128];
	int i;

	if (fuzz_state_dir_init() != 0)
		abort();
	fuzz_cq = scsi_queue_new(false);
	if (fuzz_cq == NULL || scsi_lu_new(&p, &fuzz_lu, why, sizeof(why)) < 0)
		abort();
	for (i = 0; i < 2; i++) {
		fuzz_nx[i].id = (uint64_t)i + 1;
		strcpy(fuzz_nx[i].target_port,
		    "iqn.2026-01.org.example:fuzz,t,0x0001");
		strcpy(fuzz_nx[i].initiator_port, "iqn.fuzz,i,0x1");
		fuzz_nx[i].rel_port_id = 1;
		scsi_nexus_register(&fuzz_nx[i]);
	}
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int inited;
	static struct scsi_task task;
	static uint8_t buf[FUZZ_BUF_MAX];
	struct pollfd pfd;
	uint8_t flags;
	size_t dlen;
	int ndone = 0, rc;

	if (!inited)
		inited = !fuzz_init();
	if (size < FUZZ_HDR)
		return 0;
	flags = data[0];
	memset(&task, 0, sizeof(task));
	memcpy(task.cdb, data + 1, 16);
	task.cdb_len = 16;
	task.attr = (enum scsi_attr)(flags & 0x03);
	task.nexus = &fuzz_nx[(flags >> 2) & 1];
	task.queue = fuzz_cq;
	dlen = size - FUZZ_HDR;
	if (dlen > FUZZ_BUF_MAX)
		dlen = FUZZ_BUF_MAX;
	memcpy(buf, data + FUZZ_HDR, dlen);
	task.data = buf;
	task.data_out = flags & 0x08;
	/* Reads get a buffer of a size the input picks. */
	task.data_len =
	    task.data_out ? (uint32_t)dlen : (uint32_t)((flags >> 4) * 4096u);
	task.data_in = !task.data_out;
	task.done = fuzz_done;
	task.priv = &ndone;
	if (flags == 0xff)
		scsi_lu_reset(fuzz_lu, &fuzz_nx[1]);
	scsi_task_exec((flags & 0xf0) == 0xf0 ? NULL : fuzz_lu, &task,
	    fuzz_luns, 3);
	while (ndone == 0) {
		pfd.fd = scsi_queue_fd(fuzz_cq);
		pfd.events = POLLIN;
		/* poll is never restarted: libFuzzer's -timeout alarm. */
		rc = poll(&pfd, 1, 10000);
		if (rc < 0 && errno == EINTR)
			continue;
		if (rc != 1)
			abort();
		scsi_queue_drain(fuzz_cq);
	}
	if (ndone != 1)
		abort();
	return 0;
}
