/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The ietd authors */
/*
 * The iSNS access cache: for each target, the initiators the server last
 * said share a discovery domain with it. The main thread writes it when
 * an answer comes; logins and SendTargets on the event threads read it
 * under a mutex held for a lookup only, never across any I/O.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <stdio.h>
#include <strings.h>

#include "util/alloc.h"
#include "util/list.h"
#include "isns.h"
#include "isns_int.h"

struct isns_acl {
	struct list_node node;
	char target[ISNS_NAME_MAX];
	unsigned int n;
	char (*names)[ISNS_NAME_MAX];
};

static struct {
	pthread_mutex_t lock;
	struct list_node list;
	atomic_bool enabled;
} isns_acls = {
    .lock = PTHREAD_MUTEX_INITIALIZER,
    .list = LIST_HEAD_INIT(isns_acls.list),
};

void
isns_acl_set_enabled(bool on)
{
	atomic_store(&isns_acls.enabled, on);
}

static struct isns_acl *
isns_acl_find(const char *target)
{
	struct list_node *n;

	list_for_each(n, &isns_acls.list) {
		struct isns_acl *a = list_entry(n, struct isns_acl, node);

		if (strcasecmp(a->target, target) == 0)
			return a;
	}
	return NULL;
}

static void
isns_acl_free(struct isns_acl *a)
{
	list_remove(&a->node);
	mem_free(a->names);
	mem_free(a);
}

int
isns_acl_set(const char *target, bool known, const char *const *names,
    unsigned int n)
{
	struct isns_acl *a, *old;

	if (!known) {
		pthread_mutex_lock(&isns_acls.lock);
		old = isns_acl_find(target);
		if (old != NULL)
			isns_acl_free(old);
		pthread_mutex_unlock(&isns_acls.lock);
		return 0;
	}
	/* Built outside the lock, swapped in under it. */
	a = mem_zalloc(sizeof(*a));
	if (a == NULL)
		return -1;
	snprintf(a->target, sizeof(a->target), "%s", target);
	if (n > 0) {
		a->names = mem_calloc(n, sizeof(*a->names));
		if (a->names == NULL) {
			mem_free(a);
			return -1;
		}
	}
	for (unsigned int i = 0; i < n; i++)
		snprintf(a->names[i], sizeof(a->names[i]), "%s", names[i]);
	a->n = n;
	pthread_mutex_lock(&isns_acls.lock);
	old = isns_acl_find(target);
	if (old != NULL)
		isns_acl_free(old);
	list_add_tail(&isns_acls.list, &a->node);
	pthread_mutex_unlock(&isns_acls.lock);
	return 0;
}

void
isns_acl_prune(const char *const *keep, unsigned int n)
{
	struct list_node *p, *t;

	pthread_mutex_lock(&isns_acls.lock);
	list_for_each_safe(p, t, &isns_acls.list) {
		struct isns_acl *a = list_entry(p, struct isns_acl, node);
		bool kept = false;

		for (unsigned int i = 0; i < n && !kept; i++)
			kept = strcasecmp(a->target, keep[i]) == 0;
		if (!kept)
			isns_acl_free(a);
	}
	pthread_mutex_unlock(&isns_acls.lock);
}

void
isns_acl_clear(void)
{
	isns_acl_prune(NULL, 0);
}

bool
isns_allow(const char *target, const char *initiator)
{
	const struct isns_acl *a;
	bool ok = true;

	if (!atomic_load(&isns_acls.enabled))
		return true;
	pthread_mutex_lock(&isns_acls.lock);
	a = isns_acl_find(target);
	if (a != NULL) {
		/* RFC 3722: iSCSI names compare case-insensitively. */
		ok = false;
		for (unsigned int i = 0; initiator != NULL && i < a->n && !ok;
		     i++)
			ok = strcasecmp(a->names[i], initiator) == 0;
	}
	pthread_mutex_unlock(&isns_acls.lock);
	return ok;
}
