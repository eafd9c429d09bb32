/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The ietd authors */
/*
 * The ietadm operations: one function per operation (show, new, delete,
 * update, the account operations, debug) and ctl_request_run(), which
 * picks one for a parsed request. Every change goes through the
 * registry's target_admin_*() calls, the same API start-up and SIGHUP
 * use; the answer is a status, a sentence and a body for server.c to
 * frame.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "target/target.h"
#include "util/alloc.h"
#include "util/list.h"
#include "util/log.h"
#include "util/str.h"
#include "ctl_int.h"

/* A peer or config string escaped: up to 4 bytes for each of 255. */
#define CTL_ESC_MAX (4 * 255 + 1)

static int ctl_fail(struct ctl_answer *a, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
ctl_fail(struct ctl_answer *a, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(a->why, sizeof(a->why), fmt, ap);
	va_end(ap);
	a->err = err;
	return err;
}

/* --tid: a number, or a target's name. */
static int
ctl_tid_resolve(const struct ctl_req *req, struct ctl_answer *a,
    unsigned int *tid)
{
	struct target *t;
	uint64_t v;

	*tid = 0;
	if (!req->has_tid)
		return 0;
	if (str_to_u64(req->tid, 0, UINT32_MAX, false, &v) == 0) {
		*tid = (unsigned int)v;
		return 0;
	}
	t = target_find_by_name(req->tid);
	if (t == NULL)
		return ctl_fail(a, -ENOENT, "no target named %s", req->tid);
	*tid = target_tid(t);
	target_put(t);
	return 0;
}

/* A tid that must name an existing target. */
static int
ctl_tid_existing(const struct ctl_req *req, struct ctl_answer *a,
    unsigned int *tid)
{
	struct target *t;
	int err;

	if (!req->has_tid)
		return ctl_fail(a, -EINVAL, "this operation needs --tid");
	err = ctl_tid_resolve(req, a, tid);
	if (err != 0)
		return err;
	t = target_find_by_tid(*tid);
	if (t == NULL)
		return ctl_fail(a, -ENOENT, "no target with tid %u", *tid);
	target_put(t);
	return 0;
}

static int
ctl_number(const char *s, uint64_t max, const char *what, struct ctl_answer *a,
    uint64_t *out)
{
	if (str_to_u64(s, 0, max, false, out) != 0)
		return ctl_fail(a, -EINVAL, "invalid %s \"%s\"", what, s);
	return 0;
}

/*
 * Split --params "k=v,k=v" in place. A piece without '=' continues the
 * previous value, so "HeaderDigest=None,CRC32C" stays one pair. Returns
 * the number of pairs (at most max) or -EINVAL.
 */
static int
ctl_params_split(char *s, char **keys, char **vals, int max)
{
	int n = 0;
	char *p = s, *comma;

	while (p != NULL && *p != '\0') {
		char *eq;

		comma = strchr(p, ',');
		if (comma != NULL)
			*comma = '\0';
		eq = strchr(p, '=');
		if (eq == NULL) {
			if (n == 0)
				return -EINVAL;
			/* undo the cut: the comma belongs to the value */
			p[-1] = ',';
		} else {
			if (eq == p || n == max)
				return -EINVAL;
			*eq = '\0';
			keys[n] = str_trim(p);
			vals[n] = eq + 1;
			n++;
		}
		p = comma != NULL ? comma + 1 : NULL;
	}
	return n;
}

#define CTL_PARAMS_MAX 32

static struct conf_target *
ctl_conf_target(const struct conf *conf, unsigned int tid)
{
	const struct list_node *n;

	list_for_each(n, &conf->targets) {
		struct conf_target *t = list_entry(n, struct conf_target, node);

		if (t->tid == tid)
			return t;
	}
	return NULL;
}

static struct conf *
ctl_snapshot(struct ctl_answer *a)
{
	struct conf *conf = target_snapshot();

	if (conf == NULL)
		ctl_fail(a, -ENOMEM, "out of memory");
	return conf;
}

/* --op show --tid=N [--sid=0]: the configured parameters. */
static int
ctl_show_target(unsigned int tid, struct ctl_answer *a)
{
	struct conf *conf = ctl_snapshot(a);
	struct conf_target *t;
	char val[64];

	if (conf == NULL)
		return a->err;
	t = ctl_conf_target(conf, tid);
	if (t == NULL) {
		conf_free(conf);
		return ctl_fail(a, -ENOENT, "no target with tid %u", tid);
	}
	for (int k = 0; k < CONF_KEY_COUNT; k++)
		ctl_buf_printf(&a->body, "%s=%s\n", conf_key_defs[k].name,
		    conf_key_format((enum conf_key)k, t->params[k], val,
			sizeof(val)));
	if (t->alias != NULL) {
		char esc[CTL_ESC_MAX];

		ctl_buf_printf(&a->body, "Alias=%s\n",
		    str_escape(esc, sizeof(esc), t->alias, strlen(t->alias)));
	}
	conf_free(conf);
	return 0;
}

/* --op show (nothing else): one "tid:N name:IQN" line per target. */
static int
ctl_show_targets(struct ctl_answer *a)
{
	struct conf *conf = ctl_snapshot(a);
	const struct list_node *n;

	if (conf == NULL)
		return a->err;
	list_for_each(n, &conf->targets) {
		const struct conf_target *t =
		    list_entry(n, const struct conf_target, node);

		ctl_buf_printf(&a->body, "tid:%u name:%s\n", t->tid, t->name);
	}
	conf_free(conf);
	return 0;
}

static int
ctl_show_session(unsigned int tid, uint64_t sid, struct ctl_answer *a)
{
	struct iscsi_session_info *s = NULL;
	unsigned int n = 0;
	int err;

	err = iscsi_admin_sessions(&s, &n);
	if (err != 0)
		return ctl_fail(a, err, "cannot list sessions (%s)",
		    strerror(-err));
	err = ctl_fail(a, -ENOENT, "no session with sid %llu on tid %u",
	    (unsigned long long)sid, tid);
	for (unsigned int i = 0; i < n; i++) {
		if (s[i].tid == tid && s[i].sid == sid) {
			s[i].params[sizeof(s[i].params) - 1] = '\0';
			ctl_buf_printf(&a->body, "%s", s[i].params);
			/* Free text from the peer: one escaped line. */
			if (s[i].alias[0] != '\0') {
				char esc[CTL_ESC_MAX];

				ctl_buf_printf(&a->body, "InitiatorAlias=%s\n",
				    str_escape(esc, sizeof(esc), s[i].alias,
					strnlen(s[i].alias,
					    sizeof(s[i].alias))));
			}
			a->err = err = 0;
			a->why[0] = '\0';
			break;
		}
	}
	mem_free(s);
	return err;
}

static int
ctl_dump(bool secrets, struct ctl_answer *a)
{
	struct conf *conf = ctl_snapshot(a);
	char *text = NULL;
	size_t len = 0;
	FILE *f;

	if (conf == NULL)
		return a->err;
	f = open_memstream(&text, &len);
	if (f == NULL) {
		conf_free(conf);
		return ctl_fail(a, -ENOMEM, "out of memory");
	}
	conf_write(conf, f, secrets);
	if (fclose(f) != 0) {
		free(text);
		conf_free(conf);
		return ctl_fail(a, -ENOMEM, "out of memory");
	}
	ctl_buf_append(&a->body, text, len);
	free(text); /* open_memstream's buffer comes from malloc */
	conf_free(conf);
	return 0;
}

static int
ctl_status_text(const char *which, struct ctl_answer *a)
{
	struct iscsi_session_info *s = NULL;
	unsigned int n = 0;
	struct conf *conf;
	int err = 0;

	if (strcmp(which, "volume") != 0 && strcmp(which, "session") != 0)
		return ctl_fail(a, -EINVAL,
		    "unknown status \"%s\" (volume or session)", which);
	conf = ctl_snapshot(a);
	if (conf == NULL)
		return a->err;
	if (strcmp(which, "volume") == 0)
		ctl_status_volume(conf, ctl_lun_size, &a->body);
	else if ((err = iscsi_admin_sessions(&s, &n)) == 0)
		ctl_status_session(conf, s, n, &a->body);
	else
		ctl_fail(a, err, "cannot list sessions (%s)", strerror(-err));
	mem_free(s);
	conf_free(conf);
	return err;
}

/* Account lines: "IncomingUser=NAME" (root: "IncomingUser=NAME SECRET"). */
static void
ctl_show_account(struct ctl_answer *a, const char *kind,
    const struct conf_account *acc, const char *only, bool secrets)
{
	if (only != NULL && strcmp(only, acc->user) != 0)
		return;
	if (secrets)
		ctl_buf_printf(&a->body, "%s=%s %s\n", kind, acc->user,
		    acc->secret);
	else
		ctl_buf_printf(&a->body, "%s=%s\n", kind, acc->user);
}

/*
 * --user operations. params: IncomingUser=NAME or OutgoingUser=NAME, and
 * Password=PW for new. tid 0 = the discovery accounts.
 */
static int
ctl_user(const struct ctl_req *req, bool secrets, struct ctl_answer *a)
{
	char params[CTL_REQ_VAL_MAX];
	char *keys[CTL_PARAMS_MAX], *vals[CTL_PARAMS_MAX];
	const char *user = NULL, *password = NULL;
	bool outgoing = false;
	unsigned int tid;
	int n, err;

	err = ctl_tid_resolve(req, a, &tid);
	if (err != 0)
		return err;
	if (tid != 0) {
		struct target *t = target_find_by_tid(tid);

		if (t == NULL)
			return ctl_fail(a, -ENOENT, "no target with tid %u",
			    tid);
		target_put(t);
	}
	snprintf(params, sizeof(params), "%s",
	    req->has_params ? req->params : "");
	n = ctl_params_split(params, keys, vals, CTL_PARAMS_MAX);
	if (n < 0)
		return ctl_fail(a, -EINVAL, "malformed --params");
	for (int i = 0; i < n; i++) {
		if (strcasecmp(keys[i], "IncomingUser") == 0 ||
		    strcasecmp(keys[i], "OutgoingUser") == 0) {
			if (user != NULL)
				return ctl_fail(a, -EINVAL,
				    "give one IncomingUser or OutgoingUser");
			outgoing = strcasecmp(keys[i], "OutgoingUser") == 0;
			user = vals[i];
		} else if (strcasecmp(keys[i], "Password") == 0)
			password = vals[i];
		else
			return ctl_fail(a, -EINVAL,
			    "unknown account parameter %s", keys[i]);
	}

	if (strcmp(req->op, CTL_OP_SHOW) == 0) {
		struct conf *conf = ctl_snapshot(a);
		const struct list_node *head;
		const struct conf_account *out;

		if (conf == NULL)
			return a->err;
		if (tid == 0) {
			head = &conf->incoming;
			out = conf->outgoing;
		} else {
			struct conf_target *t = ctl_conf_target(conf, tid);

			if (t == NULL) {
				conf_free(conf);
				return ctl_fail(a, -ENOENT,
				    "no target with tid %u", tid);
			}
			head = &t->incoming;
			out = t->outgoing;
		}
		if (user == NULL || !outgoing) {
			const struct list_node *ln;

			list_for_each(ln, head)
				ctl_show_account(a, "IncomingUser",
				    list_entry(ln, const struct conf_account,
					node),
				    user, secrets);
		}
		if (out != NULL && (user == NULL || outgoing))
			ctl_show_account(a, "OutgoingUser", out, user, secrets);
		conf_free(conf);
		if (user != NULL && a->body.len == 0)
			return ctl_fail(a, -ENOENT, "no account %s", user);
		return 0;
	}
	if (user == NULL || *user == '\0')
		return ctl_fail(a, -EINVAL,
		    "--params needs IncomingUser=NAME or OutgoingUser=NAME");
	if (strcmp(req->op, CTL_OP_NEW) == 0 ||
	    strcmp(req->op, CTL_OP_UPDATE) == 0) {
		if (password == NULL || *password == '\0')
			return ctl_fail(a, -EINVAL,
			    "--params needs Password=SECRET");
		err = target_admin_account_add(tid, outgoing, user, password,
		    a->why, sizeof(a->why));
	} else if (strcmp(req->op, CTL_OP_DELETE) == 0)
		err = target_admin_account_del(tid, outgoing, user, a->why,
		    sizeof(a->why));
	else
		return ctl_fail(a, -EINVAL, "unknown operation %s", req->op);
	a->err = err;
	return err;
}

static int
ctl_op_new(const struct ctl_req *req, struct ctl_answer *a)
{
	char params[CTL_REQ_VAL_MAX];
	char *keys[CTL_PARAMS_MAX], *vals[CTL_PARAMS_MAX];
	const char *name = NULL;
	unsigned int tid;
	uint64_t v;
	int n, err;

	if (req->has_lun) {
		err = ctl_tid_existing(req, a, &tid);
		if (err == 0)
			err =
			    ctl_number(req->lun, CONF_LUN_MAX, "--lun", a, &v);
		if (err != 0)
			return err;
		if (!req->has_params)
			return ctl_fail(a, -EINVAL,
			    "--params needs Path=...,Type=... or "
			    "Sectors=...,Type=nullio");
		err = a->err = target_admin_lun_add(tid, (unsigned int)v,
		    req->params, a->why, sizeof(a->why));
		return err;
	}
	/* A new target: tid must be a number here (0 = lowest free). */
	tid = 0;
	if (req->has_tid &&
	    ctl_number(req->tid, UINT32_MAX, "--tid", a, &v) != 0)
		return a->err;
	if (req->has_tid)
		tid = (unsigned int)v;
	snprintf(params, sizeof(params), "%s",
	    req->has_params ? req->params : "");
	n = ctl_params_split(params, keys, vals, CTL_PARAMS_MAX);
	if (n < 0)
		return ctl_fail(a, -EINVAL, "malformed --params");
	for (int i = 0; i < n; i++) {
		if (strcasecmp(keys[i], "Name") == 0)
			name = vals[i];
		else
			return ctl_fail(a, -EINVAL,
			    "unknown target parameter %s (use --op update "
			    "after creating the target)",
			    keys[i]);
	}
	if (name == NULL || *name == '\0')
		return ctl_fail(a, -EINVAL, "--params needs Name=IQN");
	err = a->err = target_admin_add(&tid, name, a->why, sizeof(a->why));
	if (err == 0)
		ctl_buf_printf(&a->body, "tid=%u\n", tid);
	return err;
}

static int
ctl_op_delete(const struct ctl_req *req, struct ctl_answer *a)
{
	unsigned int tid;
	uint64_t sid, cid, lun;
	struct target *t;
	int err;

	if (!req->has_tid && !req->has_sid && !req->has_cid && !req->has_lun &&
	    !req->has_params) {
		/* "Stop all activity": shut the daemon down like SIGTERM. */
		if (!ctl_shutdown_possible())
			return ctl_fail(a, -ENOTSUP,
			    "this ietd cannot be stopped through ietadm");
		log_notice("ietadm: stop all activity");
		return 0;
	}
	if (req->has_sid || req->has_cid) {
		if (!req->has_sid || !req->has_cid)
			return ctl_fail(a, -EINVAL,
			    "dropping a connection needs --sid and --cid");
		if (ctl_number(req->sid, UINT64_MAX, "--sid", a, &sid) != 0 ||
		    ctl_number(req->cid, UINT16_MAX, "--cid", a, &cid) != 0)
			return a->err;
		if (req->has_tid) {
			struct iscsi_session_info *s = NULL;
			unsigned int n = 0;
			bool found = false;

			err = ctl_tid_existing(req, a, &tid);
			if (err != 0)
				return err;
			if (iscsi_admin_sessions(&s, &n) == 0)
				for (unsigned int i = 0; i < n; i++)
					found |=
					    s[i].tid == tid && s[i].sid == sid;
			mem_free(s);
			if (!found)
				return ctl_fail(a, -ENOENT,
				    "no session with sid %llu on tid %u",
				    (unsigned long long)sid, tid);
		}
		err = iscsi_admin_conn_drop(sid, (uint16_t)cid);
		if (err != 0)
			return ctl_fail(a, err,
			    "no connection %llu in session %llu",
			    (unsigned long long)cid, (unsigned long long)sid);
		log_notice("ietadm: dropped connection %llu of session %llu",
		    (unsigned long long)cid, (unsigned long long)sid);
		a->changed = true;
		return 0;
	}
	err = ctl_tid_existing(req, a, &tid);
	if (err != 0)
		return err;
	if (req->has_lun) {
		if (ctl_number(req->lun, CONF_LUN_MAX, "--lun", a, &lun) != 0)
			return a->err;
		err = a->err = target_admin_lun_del(tid, (unsigned int)lun,
		    a->why, sizeof(a->why));
		return err;
	}
	t = target_find_by_tid(tid);
	if (t != NULL) {
		unsigned int ns = target_session_count(t);
		char name[CONF_NAME_MAX + 1];

		snprintf(name, sizeof(name), "%s", target_name(t));
		target_put(t);
		if (ns > 0)
			return ctl_fail(a, -EBUSY,
			    "target %s has %u session(s); log them out first",
			    name, ns);
	}
	err = a->err = target_admin_del(tid, a->why, sizeof(a->why));
	return err;
}

/*
 * --op update --tid=N --lun=L [--params=Sectors=N|Size=BYTES]: resize a
 * LUN online, or (no --params) re-read its store's size now. The answer
 * is the capacity afterwards.
 */
static int
ctl_op_update_lun(const struct ctl_req *req, unsigned int tid,
    struct ctl_answer *a)
{
	unsigned int bs = 0;
	uint64_t lun, blocks = 0;
	int err;

	if (ctl_number(req->lun, CONF_LUN_MAX, "--lun", a, &lun) != 0)
		return a->err;
	err = a->err = target_admin_lun_resize(tid, (unsigned int)lun,
	    req->has_params ? req->params : NULL, &blocks, &bs, a->why,
	    sizeof(a->why));
	if (err != 0)
		return err;
	ctl_buf_printf(&a->body, "Sectors=%llu\nBlockSize=%u\nSize=%llu\n",
	    (unsigned long long)blocks, bs, (unsigned long long)(blocks * bs));
	return 0;
}

/*
 * --op update --tid=N --params=PortalGroup=TAG,State=STATE: the ALUA
 * state of target N on portal group TAG (ietd.conf's PortalGroup).
 */
static int
ctl_op_update_alua(unsigned int tid, int n, char **keys, char **vals,
    struct ctl_answer *a)
{
	const char *state = NULL;
	unsigned long tag;
	char *end;

	for (int i = 1; i < n; i++) {
		if (strcasecmp(keys[i], "State") != 0 || state != NULL)
			return ctl_fail(a, -EINVAL,
			    "--params PortalGroup=TAG takes only State=STATE");
		state = vals[i];
	}
	if (state == NULL)
		return ctl_fail(a, -EINVAL,
		    "--params PortalGroup=TAG needs State=optimized, "
		    "nonoptimized, standby or unavailable");
	errno = 0;
	tag = strtoul(vals[0], &end, 10);
	if (vals[0][0] < '0' || vals[0][0] > '9' || *end != '\0' ||
	    errno != 0 || tag < 1 || tag > CONF_PG_TAG_MAX)
		return ctl_fail(a, -EINVAL, "PortalGroup: a tag from 1 to %u",
		    CONF_PG_TAG_MAX);
	return a->err = target_admin_alua(tid, (unsigned int)tag, state, a->why,
		   sizeof(a->why));
}

static int
ctl_op_update(const struct ctl_req *req, struct ctl_answer *a)
{
	char params[CTL_REQ_VAL_MAX];
	char *keys[CTL_PARAMS_MAX], *vals[CTL_PARAMS_MAX];
	unsigned int tid;
	int n, err;

	err = ctl_tid_existing(req, a, &tid);
	if (err != 0)
		return err;
	if (req->has_lun)
		return ctl_op_update_lun(req, tid, a);
	if (!req->has_params)
		return ctl_fail(a, -EINVAL, "--params needs Key=Value pairs");
	snprintf(params, sizeof(params), "%s", req->params);
	n = ctl_params_split(params, keys, vals, CTL_PARAMS_MAX);
	if (n <= 0)
		return ctl_fail(a, -EINVAL, "malformed --params");
	if (strcasecmp(keys[0], "PortalGroup") == 0)
		return ctl_op_update_alua(tid, n, keys, vals, a);
	/* Check every key first, so a typo changes nothing. */
	for (int i = 0; i < n; i++)
		if (conf_key_find(keys[i]) == CONF_KEY_COUNT &&
		    strcasecmp(keys[i], "Alias") != 0)
			return ctl_fail(a, -EINVAL,
			    "unknown target parameter %s", keys[i]);
	/* And the values together: a bad one leaves all as they were. */
	err = a->err =
	    target_admin_set(tid, (unsigned int)n, (const char *const *)keys,
		(const char *const *)vals, a->why, sizeof(a->why));
	return err;
}

static int
ctl_op_show(const struct ctl_req *req, bool root, struct ctl_answer *a)
{
	unsigned int tid;
	uint64_t sid;
	int err;

	if (req->dump)
		return ctl_dump(root, a);
	if (req->has_status)
		return ctl_status_text(req->status, a);
	if (!req->has_tid && !req->has_sid)
		return ctl_show_targets(a);
	err = ctl_tid_existing(req, a, &tid);
	if (err != 0)
		return err;
	if (req->has_sid) {
		if (ctl_number(req->sid, UINT64_MAX, "--sid", a, &sid) != 0)
			return a->err;
		if (sid != 0)
			return ctl_show_session(tid, sid, a);
	}
	return ctl_show_target(tid, a);
}

/*
 * op=debug, params=fail-alloc=N: the allocation fault hook, armed once the
 * answer is built (so the answer's own allocations do not count) and
 * counted from there: the test then runs one operation (a login, a
 * command, a reload, another request) and asks again with N=0 to learn
 * whether the failure was hit. Root only; nothing else uses it.
 */
static int
ctl_op_debug(const struct ctl_req *req, bool root, unsigned long *arm,
    struct ctl_answer *a)
{
	static const char key[] = "fail-alloc=";
	uint64_t n;

	if (!root)
		return ctl_fail(a, -EPERM, "debug requests are for root only");
	if (!req->has_params || strncmp(req->params, key, strlen(key)) != 0)
		return ctl_fail(a, -EINVAL,
		    "a debug request needs params=fail-alloc=N");
	if (ctl_number(req->params + strlen(key), UINT32_MAX, "fail-alloc", a,
		&n) != 0)
		return a->err;
	ctl_buf_printf(&a->body, "hits=%lu\n", alloc_fail_hits());
	alloc_fail_nth(0, 0);
	*arm = (unsigned long)n;
	return 0;
}

void
ctl_request_run(const struct ctl_req *req, uid_t uid, struct ctl_answer *a)
{
	bool root = uid == 0;
	bool change = strcmp(req->op, CTL_OP_SHOW) != 0;

	if (req->user)
		ctl_user(req, root, a);
	else if (strcmp(req->op, CTL_OP_DEBUG) == 0) {
		ctl_op_debug(req, root, &a->fail_alloc_arm, a);
		change = false;
	} else if (strcmp(req->op, CTL_OP_SHOW) == 0)
		ctl_op_show(req, root, a);
	else if (strcmp(req->op, CTL_OP_NEW) == 0)
		ctl_op_new(req, a);
	else if (strcmp(req->op, CTL_OP_DELETE) == 0) {
		ctl_op_delete(req, a);
		if (a->err == 0 && !req->has_tid && !req->has_sid &&
		    !req->has_cid && !req->has_lun && !req->has_params)
			a->shutdown_after = true;
	} else if (strcmp(req->op, CTL_OP_UPDATE) == 0)
		ctl_op_update(req, a);
	else
		ctl_fail(a, -EINVAL,
		    "unknown operation \"%s\" (new, delete, show, update)",
		    req->op);
	if (a->err == 0 && change)
		a->changed = true;
	if (a->err != 0 && a->why[0] == '\0')
		snprintf(a->why, sizeof(a->why), "%s", strerror(-a->err));
}
