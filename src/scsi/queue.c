/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The ietd authors */
/*
 * The completion queue of one transport thread, as the transport sees it:
 * an fd to poll, a drain, and the local run before the thread sleeps.
 * Underneath it is the backend's queue of that thread (backend_cq), which
 * also carries the SCSI layer's own posted calls; the transport never
 * names the backend (design: iscsi sees scsi.h and target.h only).
 */
#include "scsi/scsi_int.h"
#include "util/alloc.h"

struct scsi_queue *
scsi_queue_new(bool local)
{
	struct scsi_queue *q = mem_zalloc(sizeof(*q));

	if (q == NULL)
		return NULL;
	q->cq = backend_cq_new();
	if (q->cq == NULL) {
		mem_free(q);
		return NULL;
	}
	backend_cq_set_local(q->cq, local);
	return q;
}

void
scsi_queue_free(struct scsi_queue *q)
{
	if (q == NULL)
		return;
	backend_cq_free(q->cq);
	mem_free(q);
}

int
scsi_queue_fd(const struct scsi_queue *q)
{
	return backend_cq_fd(q->cq);
}

void
scsi_queue_drain(struct scsi_queue *q)
{
	backend_cq_drain(q->cq);
}

bool
scsi_queue_run_local(struct scsi_queue *q)
{
	return backend_cq_run_local(q->cq);
}
