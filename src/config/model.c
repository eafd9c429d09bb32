/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The ietd authors */
/*
 * The configuration model's life cycle: constructors, deep copies,
 * lookups and freeing of struct conf and what hangs off it. Reading
 * ietd.conf is parse.c's job and writing it back write.c's.
 */
#include <errno.h>
#include <string.h>
#include <strings.h>

#include "util/alloc.h"
#include "conf.h"
#include "conf_int.h"

static void
conf_account_free(struct conf_account *a)
{
	if (a == NULL)
		return;
	mem_free(a->user);
	mem_free(a->secret);
	mem_free(a);
}

struct conf_account *
conf_account_new(const char *user, const char *secret)
{
	struct conf_account *a = mem_zalloc(sizeof(*a));

	if (a == NULL)
		return NULL;
	list_init(&a->node);
	a->user = mem_strdup(user);
	a->secret = mem_strdup(secret);
	if (a->user == NULL || a->secret == NULL) {
		conf_account_free(a);
		return NULL;
	}
	return a;
}

static void
conf_accounts_free(struct list_node *head)
{
	struct list_node *n, *tmp;

	list_for_each_safe(n, tmp, head) {
		list_remove(n);
		conf_account_free(list_entry(n, struct conf_account, node));
	}
}

void
conf_lun_free(struct conf_lun *l)
{
	if (l == NULL)
		return;
	mem_free(l->path);
	mem_free(l->scsi_id);
	mem_free(l->scsi_sn);
	mem_free(l->ceph_conf);
	mem_free(l->ceph_user);
	mem_free(l->ceph_keyring);
	mem_free(l);
}

struct conf_target *
conf_target_new(void)
{
	struct conf_target *t = mem_zalloc(sizeof(*t));

	if (t == NULL)
		return NULL;
	list_init(&t->node);
	list_init(&t->incoming);
	list_init(&t->luns);
	list_init(&t->tpgs);
	for (int k = 0; k < CONF_KEY_COUNT; k++)
		t->params[k] = conf_key_defs[k].def;
	return t;
}

void
conf_target_free(struct conf_target *t)
{
	struct list_node *n, *tmp;

	if (t == NULL)
		return;
	mem_free(t->name);
	mem_free(t->alias);
	conf_accounts_free(&t->incoming);
	conf_account_free(t->outgoing);
	list_for_each_safe(n, tmp, &t->luns) {
		list_remove(n);
		conf_lun_free(list_entry(n, struct conf_lun, node));
	}
	conf_tpgs_free(&t->tpgs);
	mem_free(t);
}

void
conf_free(struct conf *conf)
{
	struct list_node *n, *tmp;

	if (conf == NULL)
		return;
	mem_free(conf->path);
	conf_accounts_free(&conf->incoming);
	conf_account_free(conf->outgoing);
	mem_free(conf->isns_server);
	list_for_each_safe(n, tmp, &conf->targets) {
		list_remove(n);
		conf_target_free(list_entry(n, struct conf_target, node));
	}
	conf_portal_groups_free(&conf->portal_groups);
	mem_free(conf);
}

struct conf *
conf_new(void)
{
	struct conf *conf = mem_zalloc(sizeof(*conf));

	if (conf == NULL)
		return NULL;
	list_init(&conf->incoming);
	list_init(&conf->targets);
	list_init(&conf->portal_groups);
	return conf;
}

char *
conf_strdup_opt(const char *s, bool *fail)
{
	char *d;

	if (s == NULL)
		return NULL;
	d = mem_strdup(s);
	if (d == NULL)
		*fail = true;
	return d;
}

static int
conf_accounts_dup(struct list_node *dst, const struct list_node *src)
{
	const struct list_node *n;

	list_for_each(n, src) {
		const struct conf_account *a =
		    list_entry(n, const struct conf_account, node);
		struct conf_account *c = conf_account_new(a->user, a->secret);

		if (c == NULL)
			return -ENOMEM;
		list_add_tail(dst, &c->node);
	}
	return 0;
}

struct conf_target *
conf_target_dup(const struct conf_target *t)
{
	struct conf_target *c = conf_target_new();
	const struct list_node *n;
	bool fail = false;

	if (c == NULL)
		return NULL;
	c->tid = t->tid;
	c->line = t->line;
	memcpy(c->params, t->params, sizeof(c->params));
	memcpy(c->param_set, t->param_set, sizeof(c->param_set));
	c->name = conf_strdup_opt(t->name, &fail);
	c->alias = conf_strdup_opt(t->alias, &fail);
	if (fail || conf_accounts_dup(&c->incoming, &t->incoming) != 0)
		goto fail;
	if (t->outgoing != NULL) {
		c->outgoing =
		    conf_account_new(t->outgoing->user, t->outgoing->secret);
		if (c->outgoing == NULL)
			goto fail;
	}
	list_for_each(n, &t->luns) {
		const struct conf_lun *l =
		    list_entry(n, const struct conf_lun, node);
		struct conf_lun *cl = mem_zalloc(sizeof(*cl));

		if (cl == NULL)
			goto fail;
		*cl = *l;
		list_init(&cl->node);
		cl->path = conf_strdup_opt(l->path, &fail);
		cl->scsi_id = conf_strdup_opt(l->scsi_id, &fail);
		cl->scsi_sn = conf_strdup_opt(l->scsi_sn, &fail);
		cl->ceph_conf = conf_strdup_opt(l->ceph_conf, &fail);
		cl->ceph_user = conf_strdup_opt(l->ceph_user, &fail);
		cl->ceph_keyring = conf_strdup_opt(l->ceph_keyring, &fail);
		list_add_tail(&c->luns, &cl->node);
		if (fail)
			goto fail;
	}
	if (conf_tpgs_copy(&c->tpgs, &t->tpgs) != 0)
		goto fail;
	return c;
fail:
	conf_target_free(c);
	return NULL;
}

struct conf_target *
conf_target_find(const struct conf *conf, const char *name)
{
	struct list_node *n;

	if (conf == NULL || name == NULL)
		return NULL;
	list_for_each(n, &conf->targets) {
		struct conf_target *t = list_entry(n, struct conf_target, node);

		/* A stanza whose Target line was bad has no name. */
		if (t->name != NULL && strcasecmp(t->name, name) == 0)
			return t;
	}
	return NULL;
}

struct conf_account *
conf_account_find(struct list_node *head, const char *user)
{
	struct list_node *n;

	list_for_each(n, head) {
		struct conf_account *a =
		    list_entry(n, struct conf_account, node);

		if (strcmp(a->user, user) == 0)
			return a;
	}
	return NULL;
}
