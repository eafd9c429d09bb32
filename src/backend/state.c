/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The ietd authors */
/*
 * Shared state of a store (backend.h): routed to the store type's
 * implementation; types without one (files, devices, nullio) say so.
 */
#include <errno.h>

#include "backend/backend_int.h"

static const struct backend_state_ops *
backend_state_ops(const struct backend *be)
{
	if (be == NULL)
		return NULL;
	return be->state != NULL ? be->state : be->type->state;
}

void
backend_state_set_ops(struct backend *be, const struct backend_state_ops *ops)
{
	be->state = ops;
}

bool
backend_state_shared(const struct backend *be)
{
	return backend_state_ops(be) != NULL;
}

int
backend_state_read(struct backend *be, uint8_t **out, size_t *len,
    uint64_t *version)
{
	*out = NULL;
	*len = 0;
	*version = 0;
	if (!backend_state_shared(be))
		return -EOPNOTSUPP;
	return backend_state_ops(be)->read(be, out, len, version);
}

void
backend_state_update(struct backend *be, struct backend_state_op *op)
{
	if (!backend_state_shared(be)) {
		op->io.result = -EOPNOTSUPP;
		if (op->io.cq != NULL)
			backend_cq_post(op->io.cq, &op->io);
		else
			op->io.done(&op->io);
		return;
	}
	backend_state_ops(be)->update(be, op);
}

int
backend_state_watch(struct backend *be, backend_state_changed_fn *fn, void *arg)
{
	if (!backend_state_shared(be))
		return -EOPNOTSUPP;
	return backend_state_ops(be)->watch(be, fn, arg);
}
