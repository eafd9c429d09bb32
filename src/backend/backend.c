/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The ietd authors */
/*
 * The store types and the entry points every caller uses. Each entry point
 * does what is the same for every type (the read-only refusal, the
 * bookkeeping of the backend object) and hands the rest to the type's
 * operations table: one routing function per operation, no per-type
 * branches here. What each type does lives in its own file (fileio.c,
 * blockio.c, nullio.c); the completion queues and the worker pool in
 * aio.c.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "backend/backend_int.h"
#include "util/alloc.h"

/* Every store type, by IET's Type= name. */
static const struct backend_ops *const backend_types[] = {
    &backend_fileio_ops,
    &backend_blockio_ops,
    &backend_nullio_ops,
    &backend_rbd_ops,
};

static const struct backend_ops *
backend_ops_find(const char *name)
{
	if (name == NULL)
		return NULL;
	for (size_t i = 0; i < sizeof(backend_types) / sizeof(*backend_types);
	     i++) {
		if (strcasecmp(backend_types[i]->name, name) == 0)
			return backend_types[i];
	}
	return NULL;
}

bool
backend_type_known(const char *type)
{
	return backend_ops_find(type) != NULL;
}

static void
backend_free(struct backend *be)
{
	backend_commit_fini(be);
	mem_free(be->path);
	pthread_mutex_destroy(&be->rmw_lock);
	pthread_mutex_destroy(&be->map_lock);
	mem_free(be);
}

int
backend_open(const struct backend_open_params *p, struct backend **out,
    char *why, size_t whylen)
{
	const struct backend_ops *ops = backend_ops_find(p->type);
	struct backend *be;
	int rc;

	*out = NULL;
	if (ops == NULL) {
		snprintf(why, whylen, "unknown store type %s",
		    p->type != NULL ? p->type : "(none)");
		return -EINVAL;
	}
	be = mem_zalloc(sizeof(*be));
	if (be == NULL) {
		snprintf(why, whylen, "out of memory");
		return -ENOMEM;
	}
	be->type = ops;
	be->ops = ops;
	be->fd = -1;
	pthread_mutex_init(&be->rmw_lock, NULL);
	pthread_mutex_init(&be->map_lock, NULL);
	backend_commit_init(be);
	be->read_only = p->read_only;
	be->write_through = p->write_through;
	rc = ops->open(be, p, why, whylen);
	if (rc < 0) {
		backend_free(be);
		return rc;
	}
	*out = be;
	return 0;
}

void
backend_close(struct backend *be)
{
	if (be == NULL)
		return;
	if (be->ops->close != NULL)
		be->ops->close(be);
	backend_free(be);
}

const char *
backend_type_name(const struct backend *be)
{
	return be->type->name;
}

uint64_t
backend_size(struct backend *be)
{
	return be->ops->size(be);
}

int
backend_resize(struct backend *be, uint64_t bytes, char *why, size_t whylen)
{
	if (be->type->resize == NULL) {
		snprintf(why, whylen, "a %s store cannot be resized online",
		    be->type->name);
		return -EOPNOTSUPP;
	}
	return be->type->resize(be, bytes, why, whylen);
}

bool
backend_can_discard(const struct backend *be)
{
	return be->can_discard;
}

bool
backend_discard_zeroes(const struct backend *be)
{
	return be->discard_zeroes;
}

bool
backend_can_compare_write(const struct backend *be)
{
	return be->can_compare_write;
}

bool
backend_write_cache(const struct backend *be)
{
	return be->volatile_cache;
}

const void *
backend_map(struct backend *be, uint64_t off, uint64_t len,
    struct backend_map **ref)
{
	*ref = NULL;
	if (be->ops->map == NULL || len == 0)
		return NULL;
	return be->ops->map(be, off, len, ref);
}

void
backend_submit(struct backend *be, struct backend_io *io)
{
	io->be = be;
	io->result = 0;
	io->commit_done = NULL; /* commit.c's, set when it takes io */
	if (be->read_only &&
	    (io->op == BACKEND_OP_WRITE || io->op == BACKEND_OP_DISCARD ||
		io->op == BACKEND_OP_WRITE_ZEROES ||
		io->op == BACKEND_OP_COMPARE_WRITE)) {
		io->result = -EROFS;
		backend_cq_push(io->cq, io);
		return;
	}
	if (io->op == BACKEND_OP_COMPARE_WRITE && !be->can_compare_write) {
		io->result = -EOPNOTSUPP;
		backend_cq_push(io->cq, io);
		return;
	}
	be->ops->submit(be, io);
}
