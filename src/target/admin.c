/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The ietd authors */
/*
 * ietadm's live changes to the registry (target_admin_*()), made through
 * the control socket. Each change is validated by the ietd.conf parser
 * itself: it is written as a small ietd.conf text and parsed, so a value
 * ietadm accepts is exactly one ietd.conf accepts, with the same message
 * when not. The result then goes through target_update(), the path a
 * reload takes. All of this runs on the main thread, as reloads do.
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/alloc.h"
#include "util/log.h"
#include "util/str.h"
#include "target_int.h"

struct target_admin_err {
	char *why;
	size_t len;
	bool seen;
};

/* Keep the first parser message, without its "ietadm:LINE: " prefix. */
static void
target_admin_report(void *arg, const char *msg)
{
	struct target_admin_err *e = arg;
	const char *p = msg;

	if (e->seen)
		return;
	e->seen = true;
	for (int colons = 0; *p && colons < 2; p++)
		if (*p == ':')
			colons++;
	while (*p == ' ')
		p++;
	snprintf(e->why, e->len, "%s", *p ? p : msg);
}

/* Parse text as ietd.conf; NULL with the first error in why. */
static struct conf *
target_admin_parse(const char *text, char *why, size_t whylen)
{
	struct target_admin_err e = {why, whylen, false};
	struct conf *c = conf_load_buf("ietadm", text, strlen(text),
	    target_admin_report, &e);

	if (c == NULL && !e.seen)
		snprintf(why, whylen, "out of memory");
	return c;
}

/* A live target by tid, referenced; why says so when there is none. */
static struct target *
target_admin_find(unsigned int tid, char *why, size_t whylen)
{
	struct target *t = target_find_by_tid(tid);

	if (t == NULL) {
		log_notice("target %u not found?", tid);
		snprintf(why, whylen, "no target with tid %u", tid);
	}
	return t;
}

/* Copy of t's configuration to edit; NULL (why set) on no memory. */
static struct conf_target *
target_admin_edit(struct target *t, char *why, size_t whylen)
{
	struct conf_target *ct;

	pthread_rwlock_rdlock(&target_registry.lock);
	ct = conf_target_dup(t->ct);
	pthread_rwlock_unlock(&target_registry.lock);
	if (ct == NULL)
		snprintf(why, whylen, "out of memory");
	return ct;
}

/* Apply the edited ct (consumed) to t as one change; 0 or -errno. */
static int
target_admin_commit(struct target *t, struct conf_target *ct, char *why,
    size_t whylen)
{
	int err = target_update(t, ct, why, whylen);

	conf_target_free(ct);
	return err;
}

int
target_admin_add(unsigned int *tid, const char *name, char *why, size_t whylen)
{
	char text[512];
	struct conf *c;
	struct target *t;
	int err;

	if (strchr(name, '\n') || strlen(name) > CONF_NAME_MAX) {
		snprintf(why, whylen, "not a valid iSCSI name");
		return -EINVAL;
	}
	snprintf(text, sizeof(text), "Target %s\n", name);
	if ((c = target_admin_parse(text, why, whylen)) == NULL)
		return -EINVAL;
	const struct conf_target *ct =
	    list_first_entry(&c->targets, struct conf_target, node);

	pthread_rwlock_rdlock(&target_registry.lock);
	bool name_used = target_lookup_name(ct->name) != NULL;
	bool tid_used = *tid != 0 && target_tid_used(*tid);
	pthread_rwlock_unlock(&target_registry.lock);
	if (name_used || tid_used) {
		if (name_used)
			snprintf(why, whylen, "a target named %s exists",
			    ct->name);
		else
			snprintf(why, whylen, "tid %u is in use", *tid);
		conf_free(c);
		return -EEXIST;
	}
	err = target_create(ct, NULL, &t, why, whylen);
	conf_free(c);
	if (err != 0)
		return err;
	pthread_rwlock_wrlock(&target_registry.lock);
	t->tid = *tid ? *tid : 1;
	while (target_tid_used(t->tid))
		t->tid++;
	t->ct->tid = t->tid;
	target_list_insert(t);
	*tid = t->tid;
	pthread_rwlock_unlock(&target_registry.lock);
	/* Offered on every portal group, as a file's target without lines. */
	target_alua_sync(t);
	log_notice("ietadm: target %u (%s) added", t->tid, t->ct->name);
	return 0;
}

int
target_admin_del(unsigned int tid, char *why, size_t whylen)
{
	struct target *t = target_admin_find(tid, why, whylen);
	int err = 0;

	if (t == NULL)
		return -ENOENT;
	pthread_rwlock_wrlock(&target_registry.lock);
	if (t->sessions > 0) {
		snprintf(why, whylen,
		    "target %s has %u session(s); log them "
		    "out first",
		    t->ct->name, t->sessions);
		err = -EBUSY;
	} else {
		__atomic_store_n(&t->removing, true, __ATOMIC_RELAXED);
		target_unlist(t);
	}
	pthread_rwlock_unlock(&target_registry.lock);
	target_put(t);
	return err;
}

int
target_admin_set(unsigned int tid, unsigned int n, const char *const *keys,
    const char *const *values, char *why, size_t whylen)
{
	struct target *t = target_admin_find(tid, why, whylen);
	struct conf_target *ct;
	struct conf *c;
	char *text = NULL;
	size_t len = 0;
	FILE *f;
	int err = 0;

	if (t == NULL)
		return -ENOENT;
	for (unsigned int i = 0; i < n; i++) {
		if (strpbrk(keys[i], "\n\\#") || strpbrk(values[i], "\n\\#")) {
			snprintf(why, whylen,
			    "%s: value holds a line break, "
			    "backslash or #",
			    keys[i]);
			target_put(t);
			return -EINVAL;
		}
		if (conf_key_find(keys[i]) == CONF_KEY_COUNT &&
		    strcasecmp(keys[i], "Alias") != 0) {
			snprintf(why, whylen,
			    "%s cannot be changed with update", keys[i]);
			target_put(t);
			return -EINVAL;
		}
	}
	if ((ct = target_admin_edit(t, why, whylen)) == NULL) {
		target_put(t);
		return -ENOMEM;
	}
	/*
	 * One text with every new value and the target's other explicit
	 * keys, parsed once: checks between keys (FirstBurstLength <=
	 * MaxBurstLength) see them all, and the values are applied together
	 * or not at all.
	 */
	f = open_memstream(&text, &len);
	if (f == NULL) {
		snprintf(why, whylen, "out of memory");
		err = -ENOMEM;
		goto out;
	}
	fprintf(f, "Target %s\n", ct->name);
	for (unsigned int k = 0; k < CONF_KEY_COUNT; k++) {
		bool given = false;

		for (unsigned int i = 0; i < n; i++)
			given |=
			    strcasecmp(conf_key_defs[k].name, keys[i]) == 0;
		if (ct->param_set[k] && !given) {
			char buf[64];

			fprintf(f, "%s %s\n", conf_key_defs[k].name,
			    conf_key_format(k, ct->params[k], buf,
				sizeof(buf)));
		}
	}
	for (unsigned int i = 0; i < n; i++)
		fprintf(f, "%s %s\n", keys[i], values[i]);
	if (fclose(f) != 0 || text == NULL) {
		snprintf(why, whylen, "out of memory");
		err = -ENOMEM;
		goto out;
	}
	if ((c = target_admin_parse(text, why, whylen)) == NULL) {
		err = -EINVAL;
		goto out;
	}
	const struct conf_target *parsed =
	    list_first_entry(&c->targets, struct conf_target, node);
	for (unsigned int i = 0; i < n && err == 0; i++) {
		enum conf_key k = conf_key_find(keys[i]);

		if (k != CONF_KEY_COUNT) {
			ct->params[k] = parsed->params[k];
			ct->param_set[k] = true;
		} else if (parsed->alias != NULL) {
			char *alias = mem_strdup(parsed->alias);
			if (alias == NULL) {
				snprintf(why, whylen, "out of memory");
				err = -ENOMEM;
			} else {
				mem_free(ct->alias);
				ct->alias = alias;
			}
		} else {
			snprintf(why, whylen,
			    "%s cannot be changed with update", keys[i]);
			err = -EINVAL;
		}
	}
	conf_free(c);
	if (err == 0) {
		err = target_admin_commit(t, ct, why, whylen);
		ct = NULL;
		for (unsigned int i = 0; i < n && err == 0; i++)
			log_notice("ietadm: target %u: %s set to %s", tid,
			    keys[i], values[i]);
	}
out:
	free(text);
	conf_target_free(ct);
	target_put(t);
	return err;
}

int
target_admin_lun_add(unsigned int tid, unsigned int lun, const char *params,
    char *why, size_t whylen)
{
	struct target *t = target_admin_find(tid, why, whylen);
	struct conf_target *ct = NULL;
	struct conf *c = NULL;
	char text[4096];
	struct list_node *pos;
	int err = 0;

	if (t == NULL)
		return -ENOENT;
	if (strpbrk(params, "\n\\#") || strlen(params) > 3000) {
		snprintf(why, whylen, "bad LUN parameter list");
		err = -EINVAL;
		goto out;
	}
	struct scsi_lu *existing = target_lu_find(t, lun);
	if (existing != NULL) {
		scsi_lu_put(existing);
		log_notice("lun %u:%u already configured", tid, lun);
		snprintf(why, whylen, "target %u already has lun %u", tid, lun);
		err = -EEXIST;
		goto out;
	}
	snprintf(text, sizeof(text), "Target %s\nLun %u %s\n", target_name(t),
	    lun, params);
	if ((c = target_admin_parse(text, why, whylen)) == NULL) {
		err = -EINVAL;
		goto out;
	}
	if ((ct = target_admin_edit(t, why, whylen)) == NULL) {
		err = -ENOMEM;
		goto out;
	}
	struct conf_target *parsed =
	    list_first_entry(&c->targets, struct conf_target, node);
	struct conf_lun *cl =
	    list_first_entry(&parsed->luns, struct conf_lun, node);
	list_remove(&cl->node);
	/* Keep ct->luns sorted by number, as the parser leaves it. */
	list_for_each(pos, &ct->luns)
		if (list_entry(pos, struct conf_lun, node)->lun > lun)
			break;
	list_insert_between(&cl->node, pos->prev, pos);
	/* A store that cannot be opened leaves the target as it was. */
	err = target_admin_commit(t, ct, why, whylen);
	ct = NULL;
out:
	conf_free(c);
	conf_target_free(ct);
	target_put(t);
	return err;
}

int
target_admin_lun_del(unsigned int tid, unsigned int lun, char *why,
    size_t whylen)
{
	struct target *t = target_admin_find(tid, why, whylen);
	struct conf_target *ct;
	struct list_node *pos;
	bool found = false;
	int err;

	if (t == NULL)
		return -ENOENT;
	if ((ct = target_admin_edit(t, why, whylen)) == NULL) {
		target_put(t);
		return -ENOMEM;
	}
	list_for_each(pos, &ct->luns) {
		struct conf_lun *cl = list_entry(pos, struct conf_lun, node);
		if (cl->lun == lun) {
			list_remove(&cl->node);
			mem_free(cl->path);
			mem_free(cl->scsi_id);
			mem_free(cl->scsi_sn);
			mem_free(cl->ceph_conf);
			mem_free(cl->ceph_user);
			mem_free(cl->ceph_keyring);
			mem_free(cl);
			found = true;
			break;
		}
	}
	if (!found) {
		snprintf(why, whylen, "target %u has no lun %u", tid, lun);
		conf_target_free(ct);
		target_put(t);
		return -ENOENT;
	}
	err = target_admin_commit(t, ct, why, whylen);
	target_put(t);
	return err;
}

/* "Size=" values: bytes, or with a binary K, M, G or T suffix. */
static int
target_admin_bytes(const char *s, uint64_t *out)
{
	static const char units[] = "KMGT";
	char num[32];
	size_t len = strlen(s);
	unsigned int shift = 0;
	const char *u;
	uint64_t v;

	if (len == 0 || len >= sizeof(num))
		return -EINVAL;
	memcpy(num, s, len + 1);
	u = strchr(units, num[len - 1] & ~0x20);
	if (u != NULL && *u != '\0') {
		shift = 10u * (unsigned int)(u - units + 1);
		num[--len] = '\0';
	}
	if (str_to_u64(num, 1, UINT64_MAX >> shift, false, &v) != 0)
		return -EINVAL;
	*out = v << shift;
	return 0;
}

/* Sectors=N for a nullio LUN: checked by the ietd.conf parser itself. */
static int
target_admin_sectors(const struct target *t, unsigned int lun, unsigned int bs,
    const char *value, uint64_t *out, char *why, size_t whylen)
{
	char text[1024];
	struct conf *c;

	if (strpbrk(value, ",\n\\#") != NULL || strlen(value) > 64) {
		snprintf(why, whylen, "Sectors %s is not a block count", value);
		return -EINVAL;
	}
	snprintf(text, sizeof(text),
	    "Target %s\nLun %u Sectors=%s,Type=nullio,BlockSize=%u\n",
	    target_name(t), lun, value, bs);
	if ((c = target_admin_parse(text, why, whylen)) == NULL)
		return -EINVAL;
	const struct conf_target *ct =
	    list_first_entry(&c->targets, struct conf_target, node);
	*out = list_first_entry(&ct->luns, struct conf_lun, node)->sectors;
	conf_free(c);
	return 0;
}

int
target_admin_lun_resize(unsigned int tid, unsigned int lun, const char *params,
    uint64_t *blocks, unsigned int *block_size, char *why, size_t whylen)
{
	struct target *t = target_admin_find(tid, why, whylen);
	struct target_lun *tl;
	struct scsi_lu *lu = NULL;
	enum conf_lun_type type = CONF_LUN_FILEIO;
	char key[16];
	const char *value = NULL, *eq;
	uint64_t sectors = 0, bytes = 0;
	unsigned int bs;
	int err = 0;

	if (t == NULL)
		return -ENOENT;
	pthread_rwlock_rdlock(&target_registry.lock);
	tl = target_lun_lookup(t, lun);
	if (tl != NULL) {
		lu = tl->lu;
		scsi_lu_get(lu);
		type = tl->def->type;
	}
	pthread_rwlock_unlock(&target_registry.lock);
	if (lu == NULL) {
		snprintf(why, whylen, "target %u has no lun %u", tid, lun);
		err = -ENOENT;
		goto out;
	}
	bs = scsi_lu_block_size(lu);

	if (params == NULL || *params == '\0') {
		/* A rescan: READ CAPACITY's own re-read, done now. */
		scsi_lu_blocks(lu);
		goto done;
	}
	eq = strchr(params, '=');
	if (eq == NULL || (size_t)(eq - params) >= sizeof(key) ||
	    strchr(params, ',') != NULL) {
		snprintf(why, whylen,
		    "a LUN update takes one of Sectors=N (nullio) or "
		    "Size=BYTES (fileio)");
		err = -EINVAL;
		goto out;
	}
	memcpy(key, params, (size_t)(eq - params));
	key[eq - params] = '\0';
	value = eq + 1;
	if (strcasecmp(key, "Sectors") == 0) {
		if (type != CONF_LUN_NULLIO) {
			snprintf(why, whylen,
			    "lun %u of target %u is not nullio: Sectors= "
			    "resizes nullio LUNs only (use Size=BYTES, or grow "
			    "the store and run --op update without --params)",
			    lun, tid);
			err = -EINVAL;
			goto out;
		}
		err = target_admin_sectors(t, lun, bs, value, &sectors, why,
		    whylen);
		if (err != 0)
			goto out;
		bytes = sectors * bs;
	} else if (strcasecmp(key, "Size") == 0) {
		if (type == CONF_LUN_NULLIO) {
			snprintf(why, whylen,
			    "lun %u of target %u is nullio: resize it with "
			    "Sectors=N",
			    lun, tid);
			err = -EINVAL;
			goto out;
		}
		if (target_admin_bytes(value, &bytes) != 0) {
			snprintf(why, whylen,
			    "Size %s is not a byte count (a number, optionally "
			    "with K, M, G or T)",
			    value);
			err = -EINVAL;
			goto out;
		}
	} else {
		snprintf(why, whylen,
		    "unknown LUN parameter %s (Sectors=N for nullio, "
		    "Size=BYTES for fileio)",
		    key);
		err = -EINVAL;
		goto out;
	}
	err = scsi_lu_resize(lu, bytes, why, whylen);
	if (err != 0)
		goto out;
	if (type == CONF_LUN_NULLIO) {
		struct list_node *pos;

		/* The running configuration follows (show --dump, reload). */
		pthread_rwlock_wrlock(&target_registry.lock);
		list_for_each(pos, &t->ct->luns) {
			struct conf_lun *cl =
			    list_entry(pos, struct conf_lun, node);

			if (cl->lun == lun)
				cl->sectors = sectors;
		}
		pthread_rwlock_unlock(&target_registry.lock);
	}
done:
	*blocks = scsi_lu_capacity(lu);
	*block_size = bs;
	log_notice("ietadm: target %u lun %u: %llu blocks of %u bytes", tid,
	    lun, (unsigned long long)*blocks, bs);
out:
	scsi_lu_put(lu);
	target_put(t);
	return err;
}

/* The account list to change: a target's, or discovery's (t NULL). */
static int
target_admin_account_apply(struct target *t, bool outgoing, bool add,
    const char *user, const char *secret, char *why, size_t whylen)
{
	struct conf_account *acc = NULL;
	struct conf_target *ct = NULL;
	struct list_node *head;
	struct conf_account **out;
	int err = 0;

	if (add) {
		struct conf_account tmp = {.user = (char *)(uintptr_t)user,
		    .secret = (char *)(uintptr_t)secret};
		if ((acc = target_account_dup(&tmp)) == NULL) {
			snprintf(why, whylen, "out of memory");
			return -ENOMEM;
		}
	}
	if (t != NULL) {
		if ((ct = target_admin_edit(t, why, whylen)) == NULL) {
			target_account_free(acc);
			return -ENOMEM;
		}
		head = &ct->incoming;
		out = &ct->outgoing;
	} else {
		pthread_rwlock_wrlock(&target_registry.lock);
		head = &target_registry.disc_incoming;
		out = &target_registry.disc_outgoing;
	}

	if (outgoing) {
		if (add) {
			target_account_free(*out);
			*out = acc;
			acc = NULL;
		} else if (*out && strcmp((*out)->user, user) == 0) {
			target_account_free(*out);
			*out = NULL;
		} else {
			snprintf(why, whylen, "no OutgoingUser %s", user);
			err = -ENOENT;
		}
	} else {
		struct list_node *pos;
		struct conf_account *found = NULL;
		list_for_each(pos, head) {
			struct conf_account *a =
			    list_entry(pos, struct conf_account, node);
			if (strcmp(a->user, user) == 0)
				found = a;
		}
		if (add && found) {
			snprintf(why, whylen, "IncomingUser %s exists", user);
			err = -EEXIST;
		} else if (add) {
			list_add_tail(head, &acc->node);
			acc = NULL;
		} else if (found) {
			list_remove(&found->node);
			target_account_free(found);
		} else {
			snprintf(why, whylen, "no IncomingUser %s", user);
			err = -ENOENT;
		}
	}

	if (t == NULL)
		pthread_rwlock_unlock(&target_registry.lock);
	else if (err == 0)
		err = target_admin_commit(t, ct, why, whylen);
	else
		conf_target_free(ct);
	target_account_free(acc);
	return err;
}

int
target_admin_account_add(unsigned int tid, bool outgoing, const char *user,
    const char *secret, char *why, size_t whylen)
{
	char text[1024];
	struct conf *c;
	struct target *t = NULL;
	int err;

	if (tid != 0 && (t = target_admin_find(tid, why, whylen)) == NULL)
		return -ENOENT;
	/*
	 * What ietd.conf can hold, no more and no less: a '#' inside a
	 * secret is fine there (only one after a blank starts a comment),
	 * so it is here; one in front would read back as a comment.
	 */
	if (strpbrk(user, "\n\\ \t") || strpbrk(secret, "\n\\ \t")) {
		snprintf(why, whylen,
		    "user names and secrets may not hold "
		    "blanks, line breaks or backslashes");
		target_put(t);
		return -EINVAL;
	}
	if (user[0] == '#' || secret[0] == '#') {
		snprintf(why, whylen,
		    "user names and secrets may not start with # "
		    "(ietd.conf would read a comment)");
		target_put(t);
		return -EINVAL;
	}
	/* The parser checks names and secrets as it does in ietd.conf. */
	snprintf(text, sizeof(text), "%s %s %s\n",
	    outgoing ? "OutgoingUser" : "IncomingUser", user, secret);
	if ((c = target_admin_parse(text, why, whylen)) == NULL) {
		target_put(t);
		return -EINVAL;
	}
	conf_free(c);
	err = target_admin_account_apply(t, outgoing, true, user, secret, why,
	    whylen);
	if (err == 0)
		log_notice("ietadm: %s account %s added to %s",
		    outgoing ? "outgoing" : "incoming", user,
		    t ? target_name(t) : "discovery");
	target_put(t);
	return err;
}

int
target_admin_account_del(unsigned int tid, bool outgoing, const char *user,
    char *why, size_t whylen)
{
	struct target *t = NULL;
	int err;

	if (tid != 0 && (t = target_admin_find(tid, why, whylen)) == NULL)
		return -ENOENT;
	err = target_admin_account_apply(t, outgoing, false, user, NULL, why,
	    whylen);
	if (err == 0)
		log_notice("ietadm: %s account %s removed from %s",
		    outgoing ? "outgoing" : "incoming", user,
		    t ? target_name(t) : "discovery");
	target_put(t);
	return err;
}
