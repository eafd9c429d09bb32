/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The ietd authors */
/*
 * Internals shared by the control socket's files: what one request
 * produced, passed from the operations (ops.c) to the server that frames
 * it (server.c), and the little each asks of the other. Main loop only.
 */
#ifndef IETD_CTL_CTL_INT_H
#define IETD_CTL_CTL_INT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "ctl/ctl.h"
#include "ctl/ctl_proto.h"

#define CTL_WHY_LEN 256

/* What one request produced: a status, a sentence, a body. */
struct ctl_answer {
	int err; /* 0 or -errno */
	char why[CTL_WHY_LEN];
	struct ctl_buf body;
	bool changed;        /* state changed: refresh the status files */
	bool shutdown_after; /* "stop all activity" once answered */
	unsigned long fail_alloc_arm; /* op=debug: arm after answering */
};

/* ops.c */
/*
 * Run one parsed request from a caller with uid (0: root, who sees
 * secrets and may use op=debug) and fill in a, whose body the caller
 * initialised. a->why always says why when a->err is not 0.
 */
void ctl_request_run(const struct ctl_req *req, uid_t uid,
    struct ctl_answer *a);

/* server.c */
/*
 * The live capacity of a LUN for the volume text (a ctl_lun_size_fn):
 * the registry's target_lun_capacity().
 */
bool ctl_lun_size(unsigned int tid, unsigned int lun, uint64_t *blocks,
    unsigned int *block_size);
/* ctl_start() was given a shutdown function ("stop all activity"). */
bool ctl_shutdown_possible(void);

#endif /* IETD_CTL_CTL_INT_H */
