/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The ietd authors */
/*
 * Shared state of a store (backend.h): routed to the store type's
 * implementation; types without one (files, devices, nullio) say so.
 */
#include <errno.h>

#include "backend/backend_int.h"

bool
backend_state_shared(const struct backend *be)
{
	return be != NULL && be->type->state != NULL;
}

int
backend_state_read(struct backend *be, uint8_t **out, size_t *len)
{
	*out = NULL;
	*len = 0;
	if (!backend_state_shared(be))
		return -EOPNOTSUPP;
	return be->type->state->read(be, out, len);
}

void
backend_state_update(struct backend *be, struct backend_state_op *op)
{
	if (!backend_state_shared(be)) {
		op->io.result = -EOPNOTSUPP;
		backend_cq_post(op->io.cq, &op->io);
		return;
	}
	be->type->state->update(be, op);
}

int
backend_state_watch(struct backend *be, backend_state_changed_fn *fn, void *arg)
{
	if (!backend_state_shared(be))
		return -EOPNOTSUPP;
	return be->type->state->watch(be, fn, arg);
}
