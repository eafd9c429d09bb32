/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The ietd authors */
/*
 * The null store: a fixed size, reads return zeros, writes are dropped.
 * Used for benchmarks of the protocol path and for fuzzing.
 */
#include <errno.h>
#include <string.h>

#include "backend/backend_int.h"

void
backend_nullio_exec(struct backend *be, struct backend_io *io)
{
	io->result = 0;
	if ((io->op == BACKEND_OP_READ || io->op == BACKEND_OP_WRITE ||
		io->op == BACKEND_OP_DISCARD ||
		io->op == BACKEND_OP_WRITE_ZEROES) &&
	    (io->offset > be->null_bytes ||
		io->len > be->null_bytes - io->offset)) {
		io->result = -EIO;
		return;
	}
	if (io->op == BACKEND_OP_READ) {
		for (int i = 0; i < io->iovcnt; i++)
			memset(io->iov[i].iov_base, 0, io->iov[i].iov_len);
	}
}
